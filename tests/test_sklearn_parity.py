"""mlpx.MLPClassifier against scikit-learn's MLPClassifier (1.9.1): from the
same settings and random_state, the same initial weights, and after
training the same coefs_, intercepts_, loss_curve_, n_iter_ (and every other
fitted attribute) to rtol 1e-9 in float64, on whichever backend is active.

float64 results are compared with ``rtol=1e-9, atol=0``: every element, even
the ones near zero, must agree to nine significant digits. float32 runs are
compared loosely (scikit-learn mixes in float64 in places there).

L-BFGS runs are kept short (15-20 iterations). Over longer runs on these
small, nearly separable problems L-BFGS amplifies rounding: scikit-learn
against itself with X moved by one ulp differs by 1e-10 to 4e-7 after 40
iterations, and the native backend (whose BLAS sums in another order)
differs from scikit-learn by the same amounts. ``test_lbfgs_cases_are_well_
conditioned`` checks that the cases compared here are not of that kind.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP

from mlpx._estimator import MLPClassifier

RTOL = 1e-9


# ---------------------------------------------------------------- data

def _binary():
    X, y = make_classification(n_samples=150, n_features=8, n_informative=4,
                               random_state=0)
    return X, y


def _multiclass():
    X, y = make_classification(n_samples=200, n_features=10, n_informative=6,
                               n_classes=3, random_state=1)
    return X, y


def _multilabel():
    X, Y = make_multilabel_classification(n_samples=160, n_features=10,
                                          n_classes=3, random_state=2)
    return X / 4.0, Y


TARGETS = {"binary": _binary, "multiclass": _multiclass, "multilabel": _multilabel}


# ---------------------------------------------------------------- helpers

def _fit_both(params, X, y, **fit_kw):
    """Fit scikit-learn's and mlpx's classifier with the same parameters;
    return both and the warnings each raised (as (category, message) lists)."""
    out = []
    for cls in (SkMLP, MLPClassifier):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            est = cls(**params).fit(X, y, **fit_kw)
        out.append((est, sorted((w.category.__name__, str(w.message)) for w in rec)))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def assert_same_fit(sk, mx, rtol=RTOL):
    """The fitted attributes every MLP has (a classifier's and a
    regressor's): ``mx``'s equal ``sk``'s, floats to ``rtol``."""
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_"):
        assert getattr(mx, name) == getattr(sk, name), name
    assert len(mx.coefs_) == len(sk.coefs_)
    for a, b in zip(mx.coefs_ + mx.intercepts_, sk.coefs_ + sk.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert_allclose(a, b, rtol=rtol, atol=0)
    assert_allclose(mx.loss_, sk.loss_, rtol=rtol, atol=0)
    for name in ("loss_curve_", "best_loss_", "validation_scores_",
                 "best_validation_score_"):
        assert hasattr(mx, name) == hasattr(sk, name), name
        if hasattr(sk, name):
            a, b = getattr(mx, name), getattr(sk, name)
            if b is None:
                assert a is None, name
            else:
                assert_allclose(a, b, rtol=rtol, atol=0, err_msg=name)


def assert_same_model(sk, mx, rtol=RTOL, X=None):
    """Every fitted attribute of ``mx`` equals ``sk``'s (floats to ``rtol``)."""
    assert_same_fit(sk, mx, rtol)
    assert_array_equal(mx.classes_, sk.classes_)
    if X is not None:
        assert_allclose(mx.predict_proba(X), sk.predict_proba(X), rtol=rtol, atol=1e-15)
        assert_array_equal(mx.predict(X), sk.predict(X))


# ---------------------------------------------------------------- init

@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_initial_weights_equal_sklearn(activation, target):
    """A step of 1e-300 is far below one ulp of any weight, so after one
    epoch of plain SGD both models still hold their initial weights exactly."""
    X, y = TARGETS[target]()
    params = dict(hidden_layer_sizes=(7, 5), activation=activation, solver="sgd",
                  momentum=0.0, learning_rate_init=1e-300, max_iter=1,
                  random_state=3)
    sk, mx, _, _ = _fit_both(params, X, y)
    for a, b in zip(mx.coefs_ + mx.intercepts_, sk.coefs_ + sk.intercepts_):
        assert_array_equal(a, b)
    # ... and they are the Glorot-uniform draws of DESIGN.md section 5.
    rs = np.random.RandomState(3)
    units = [X.shape[1], 7, 5, mx.n_outputs_]
    factor = 2.0 if activation == "logistic" else 6.0
    for i, (fan_in, fan_out) in enumerate(zip(units[:-1], units[1:])):
        bound = np.sqrt(factor / (fan_in + fan_out))
        assert_array_equal(mx.coefs_[i], rs.uniform(-bound, bound, (fan_in, fan_out)))
        assert_array_equal(mx.intercepts_[i], rs.uniform(-bound, bound, fan_out))


# ---------------------------------------------------------------- solvers

SOLVER_CASES = {
    "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.05),
    "sgd-momentum": dict(solver="sgd", learning_rate_init=0.05, nesterovs_momentum=False),
    "sgd-plain": dict(solver="sgd", learning_rate_init=0.2, momentum=0.0),
    "sgd-invscaling": dict(solver="sgd", learning_rate="invscaling",
                           learning_rate_init=0.5, power_t=0.25),
    "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1,
                         tol=1e-2, n_iter_no_change=2, max_iter=80),
    "sgd-noshuffle": dict(solver="sgd", shuffle=False, learning_rate_init=0.05,
                          batch_size=23),
    "sgd-batch-clipped": dict(solver="sgd", learning_rate_init=0.3, batch_size=1000),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam-no-stop": dict(solver="adam", learning_rate_init=0.05, tol=1.0,
                         n_iter_no_change=np.inf, max_iter=15),
    "adam-alpha0": dict(solver="adam", alpha=0.0, learning_rate_init=0.01),
    "adam-alpha1": dict(solver="adam", alpha=1.0, learning_rate_init=0.01),
    "adam-noshuffle": dict(solver="adam", shuffle=False, batch_size=32,
                           learning_rate_init=0.01),
    "adam-converges": dict(solver="adam", learning_rate_init=0.05, tol=1e-3,
                           n_iter_no_change=3, max_iter=200),
    "adam-betas": dict(solver="adam", beta_1=0.5, beta_2=0.9, epsilon=1e-6,
                       learning_rate_init=0.01, batch_size=50),
    "lbfgs": dict(solver="lbfgs", max_iter=20),
    "lbfgs-alpha0": dict(solver="lbfgs", alpha=0.0, max_iter=15),
    "early-stopping-adam": dict(solver="adam", early_stopping=True,
                                learning_rate_init=0.02, n_iter_no_change=3),
    "early-stopping-sgd": dict(solver="sgd", early_stopping=True, learning_rate_init=0.1,
                               validation_fraction=0.2, n_iter_no_change=4),
}


@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("case", list(SOLVER_CASES))
def test_training_matches_sklearn(case, target):
    X, y = TARGETS[target]()
    params = dict(hidden_layer_sizes=(12, 6), random_state=0, max_iter=40,
                  activation="logistic")
    params.update(SOLVER_CASES[case])
    sk, mx, sk_warn, mx_warn = _fit_both(params, X, y)
    assert_same_model(sk, mx, X=X)
    assert mx_warn == sk_warn


@pytest.mark.parametrize("case", ["lbfgs", "lbfgs-alpha0"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_lbfgs_cases_are_well_conditioned(case, target):
    """scikit-learn against itself, X moved by one ulp: the L-BFGS cases
    above must move far less than the 1e-9 they are compared at, or a
    comparison at 1e-9 would test luck rather than the algorithm."""
    X, y = TARGETS[target]()
    params = dict(hidden_layer_sizes=(12, 6), random_state=0, activation="logistic")
    params.update(SOLVER_CASES[case])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = SkMLP(**params).fit(X, y)
        b = SkMLP(**params).fit(np.nextafter(X, np.inf), y)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_allclose(u, v, rtol=1e-10, atol=0)


@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_other_activations_match_sklearn(activation, solver):
    X, y = _multiclass()
    params = dict(hidden_layer_sizes=(10,), activation=activation, solver=solver,
                  random_state=4, max_iter=25, learning_rate_init=0.01)
    sk, mx, _, _ = _fit_both(params, X, y)
    assert_same_model(sk, mx, X=X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_sample_weight_matches_sklearn(solver, target):
    X, y = TARGETS[target]()
    sw = np.random.RandomState(5).uniform(0.1, 3.0, X.shape[0])
    params = dict(hidden_layer_sizes=(9,), solver=solver, random_state=1,
                  max_iter=20 if solver == "lbfgs" else 30,
                  learning_rate_init=0.02, activation="logistic")
    sk, mx, _, _ = _fit_both(params, X, y, sample_weight=sw)
    assert_same_model(sk, mx, X=X)


def test_sample_weight_with_early_stopping_matches_sklearn():
    X, y = _binary()
    sw = np.random.RandomState(6).uniform(0.5, 2.0, X.shape[0])
    params = dict(hidden_layer_sizes=(9,), solver="adam", early_stopping=True,
                  random_state=2, max_iter=40, learning_rate_init=0.02,
                  activation="logistic")
    sk, mx, _, _ = _fit_both(params, X, y, sample_weight=sw)
    assert_same_model(sk, mx, X=X)


def test_deep_network_and_odd_batch_matches_sklearn():
    X, y = _multiclass()
    params = dict(hidden_layer_sizes=(13, 11, 7), solver="sgd", batch_size=37,
                  random_state=7, max_iter=30, learning_rate_init=0.1,
                  activation="logistic")
    sk, mx, _, _ = _fit_both(params, X, y)
    assert_same_model(sk, mx, X=X)


def test_string_labels_match_sklearn():
    X, y = _multiclass()
    labels = np.array(["cat", "dog", "emu"])[y]
    params = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=20,
                  learning_rate_init=0.01, activation="logistic")
    sk, mx, _, _ = _fit_both(params, X, labels)
    assert_same_model(sk, mx, X=X)


def test_verbose_output_matches_sklearn(capsys):
    X, y = _binary()
    for solver, extra in (("sgd", dict(learning_rate="adaptive", tol=1e-2,
                                       n_iter_no_change=1)),
                          ("adam", dict(early_stopping=True, n_iter_no_change=2))):
        params = dict(hidden_layer_sizes=(6,), solver=solver, random_state=0,
                      max_iter=15, verbose=True, learning_rate_init=0.05,
                      activation="logistic", **extra)
        outs = []
        for cls in (SkMLP, MLPClassifier):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                cls(**params).fit(X, y)
            outs.append(capsys.readouterr().out)
        assert "Iteration 1, loss = " in outs[0]
        # the same lines; the loss digits may differ only in the last place
        sk_lines, mx_lines = outs[0].splitlines(), outs[1].splitlines()
        assert len(sk_lines) == len(mx_lines)
        for a, b in zip(sk_lines, mx_lines):
            if a.startswith("Iteration"):
                assert a.split(" = ")[0] == b.split(" = ")[0]
                assert_allclose(float(b.split(" = ")[1]), float(a.split(" = ")[1]),
                                rtol=1e-7)
            else:
                assert a == b


# ---------------------------------------------------------------- incremental

@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_partial_fit_sequence_matches_sklearn(solver, target):
    X, y = TARGETS[target]()
    params = dict(hidden_layer_sizes=(10,), solver=solver, random_state=3,
                  learning_rate_init=0.05, batch_size=30, activation="logistic")
    if solver == "sgd":
        params["learning_rate"] = "invscaling"
    sk, mx = SkMLP(**params), MLPClassifier(**params)
    classes = np.arange(y.shape[1]) if target == "multilabel" else np.unique(y)
    chunks = np.array_split(np.arange(X.shape[0]), 4)
    for epoch in range(3):
        for idx in chunks:
            sk.partial_fit(X[idx], y[idx], classes=classes)
            mx.partial_fit(X[idx], y[idx], classes=classes)
            assert_same_model(sk, mx)
    assert_same_model(sk, mx, X=X)


def test_partial_fit_with_sample_weight_and_after_fit_matches_sklearn():
    X, y = _multiclass()
    sw = np.random.RandomState(8).uniform(0.2, 2.0, X.shape[0])
    params = dict(hidden_layer_sizes=(10,), solver="adam", random_state=9,
                  max_iter=10, learning_rate_init=0.02, activation="logistic")
    sk, mx, _, _ = _fit_both(params, X, y)
    for _ in range(3):  # partial_fit continues fit's optimizer
        sk.partial_fit(X[:120], y[:120], sample_weight=sw[:120])
        mx.partial_fit(X[:120], y[:120], sample_weight=sw[:120])
    assert_same_model(sk, mx, X=X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_warm_start_matches_sklearn(solver):
    X, y = _multiclass()
    params = dict(hidden_layer_sizes=(10,), solver=solver, random_state=2,
                  max_iter=8, warm_start=True, learning_rate_init=0.05,
                  activation="logistic")
    sk, mx = SkMLP(**params), MLPClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for rows in (slice(None), slice(0, 150), slice(None)):
            sk.fit(X[rows], y[rows])
            mx.fit(X[rows], y[rows])
            assert_same_model(sk, mx)
    assert len(mx.loss_curve_) == 24 if solver != "lbfgs" else True


def test_warm_start_with_early_stopping_matches_sklearn():
    X, y = _binary()
    params = dict(hidden_layer_sizes=(10,), solver="sgd", random_state=2,
                  max_iter=6, warm_start=True, early_stopping=True,
                  learning_rate_init=0.05, activation="logistic")
    sk, mx = SkMLP(**params), MLPClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            sk.fit(X, y)
            mx.fit(X, y)
            assert_same_model(sk, mx, X=X)


# ---------------------------------------------------------------- float32

@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", ["binary", "multiclass"])
def test_float32_trains_in_float32_close_to_sklearn(solver, target):
    X, y = TARGETS[target]()
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(10,), solver=solver, random_state=0,
                  max_iter=20, learning_rate_init=0.02, activation="logistic")
    sk, mx, _, _ = _fit_both(params, X, y)
    for a in mx.coefs_ + mx.intercepts_:
        assert a.dtype == np.float32
    assert mx.predict_proba(X).dtype == np.float32
    assert mx.n_iter_ == sk.n_iter_
    # scikit-learn's L-BFGS hands float64 weights back (its coefs_ turn
    # float64), so that trajectory differs more from a float32 one.
    tol = 1e-2 if solver == "lbfgs" else 1e-3
    for a, b in zip(mx.coefs_ + mx.intercepts_, sk.coefs_ + sk.intercepts_):
        assert_allclose(a, b, rtol=tol, atol=tol / 10)
    if solver != "lbfgs":
        assert_allclose(mx.loss_curve_, sk.loss_curve_, rtol=1e-4)
    assert_allclose(mx.predict_proba(X), sk.predict_proba(X), rtol=tol, atol=tol / 10)


def test_in_place_shuffle_equals_sklearn_shuffle():
    """The estimator shuffles its index in place with RandomState.shuffle;
    that is the order scikit-learn's ``utils.shuffle`` gives, epoch after epoch."""
    from sklearn.utils import shuffle
    a, b = np.random.RandomState(11), np.random.RandomState(11)
    ours = theirs = np.arange(257, dtype=np.int64)
    ours = ours.copy()
    for _ in range(4):
        theirs = shuffle(theirs, random_state=a)
        b.shuffle(ours)
        assert_array_equal(ours, theirs)
