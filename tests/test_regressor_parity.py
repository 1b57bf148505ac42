"""mlpx.MLPRegressor against scikit-learn's MLPRegressor (1.9.1): from the
same settings and random_state, the same initial weights, and after training
the same coefs_, intercepts_, loss_curve_, n_iter_ (and every other fitted
attribute) to rtol 1e-9 in float64, on whichever backend is active; the
classifier's parity tests (test_sklearn_parity.py) explain the tolerances
and why L-BFGS runs are kept short.

Cases: every solver and schedule, one and several outputs, squared error and
Poisson, sample weights, early stopping (R²), partial_fit, warm_start.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_regression
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.exceptions import ConvergenceWarning

import mlpx
from mlpx import MLPRegressor

from test_sklearn_parity import SOLVER_CASES, assert_same_fit

RTOL = 1e-9


# ---------------------------------------------------------------- data

def _single():
    X, y = make_regression(n_samples=150, n_features=8, n_informative=5, noise=5.0,
                           random_state=0)
    return X / 2.0, (y - y.mean()) / y.std()


def _multi():
    X, Y = make_regression(n_samples=160, n_features=10, n_targets=3, noise=5.0,
                           random_state=1)
    return X / 2.0, (Y - Y.mean(axis=0)) / Y.std(axis=0)


def _counts():
    rng = np.random.RandomState(2)
    X = rng.uniform(-1, 1, (150, 6))
    y = rng.poisson(np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1] + 0.3)).astype(float)
    return X, y


def _multi_counts():
    rng = np.random.RandomState(3)
    X = rng.uniform(-1, 1, (150, 6))
    lam = np.exp(np.stack([0.8 * X[:, 0], -0.5 * X[:, 1] + 0.2], axis=1))
    return X, rng.poisson(lam).astype(float)


TARGETS = {
    "single": (_single, "squared_error"),
    "multi": (_multi, "squared_error"),
    "poisson": (_counts, "poisson"),
    "poisson-multi": (_multi_counts, "poisson"),
}


# ---------------------------------------------------------------- helpers

def _fit_both(params, X, y, **fit_kw):
    out = []
    for cls in (SkMLPRegressor, MLPRegressor):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            est = cls(**params).fit(X, y, **fit_kw)
        out.append((est, sorted((w.category.__name__, str(w.message)) for w in rec)))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def assert_same_model(sk, mx, rtol=RTOL, X=None):
    """Every fitted attribute of ``mx`` equals ``sk``'s (floats to ``rtol``)."""
    assert_same_fit(sk, mx, rtol)
    if X is not None:
        assert_allclose(mx.predict(X), sk.predict(X), rtol=rtol, atol=1e-13)


def _params(target, **kw):
    params = dict(hidden_layer_sizes=(12, 6), random_state=0, max_iter=40,
                  activation="logistic", loss=TARGETS[target][1])
    params.update(kw)
    return params


# ---------------------------------------------------------------- training

@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("case", list(SOLVER_CASES))
def test_training_matches_sklearn(case, target):
    X, y = TARGETS[target][0]()
    case_params = dict(SOLVER_CASES[case])
    if case_params["solver"] == "lbfgs":
        # squared error on these problems is better conditioned for L-BFGS
        # than log-loss, so it runs further in few iterations and amplifies
        # rounding sooner: 2e-8 apart at 20 iterations, 5e-9 at 8 (one entry near 0)
        case_params["max_iter"] = 6
    if TARGETS[target][1] == "poisson" and case_params.get("solver") == "sgd":
        # exp outputs take smaller SGD steps (their gradient grows with the output)
        case_params["learning_rate_init"] = case_params["learning_rate_init"] / 10
    sk, mx, sk_warn, mx_warn = _fit_both(_params(target, **case_params), X, y)
    assert_same_model(sk, mx, X=X)
    assert mx_warn == sk_warn


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
@pytest.mark.parametrize("target", ["multi", "poisson"])
def test_initial_weights_equal_sklearn(activation, target):
    X, y = TARGETS[target][0]()
    params = _params(target, hidden_layer_sizes=(7, 5), activation=activation,
                     solver="sgd", momentum=0.0, learning_rate_init=1e-300, max_iter=1,
                     random_state=3)
    sk, mx, _, _ = _fit_both(params, X, y)
    for a, b in zip(mx.coefs_ + mx.intercepts_, sk.coefs_ + sk.intercepts_):
        assert_array_equal(a, b)


@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_other_activations_match_sklearn(activation, solver):
    X, y = _multi()
    params = _params("multi", activation=activation, solver=solver, max_iter=15,
                     learning_rate_init=0.01)
    sk, mx, _, _ = _fit_both(params, X, y)
    assert_same_model(sk, mx, X=X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_sample_weight_matches_sklearn(solver, target):
    X, y = TARGETS[target][0]()
    sw = np.random.RandomState(5).uniform(0.2, 3.0, X.shape[0])
    params = _params(target, solver=solver, max_iter=15, learning_rate_init=0.005)
    sk, mx, _, _ = _fit_both(params, X, y, sample_weight=sw)
    assert_same_model(sk, mx, X=X)


@pytest.mark.parametrize("target", list(TARGETS))
def test_early_stopping_with_sample_weight_matches_sklearn(target):
    X, y = TARGETS[target][0]()
    sw = np.random.RandomState(6).uniform(0.2, 3.0, X.shape[0])
    params = _params(target, solver="adam", early_stopping=True, learning_rate_init=0.01,
                     n_iter_no_change=3)
    sk, mx, _, _ = _fit_both(params, X, y, sample_weight=sw)
    assert_same_model(sk, mx, X=X)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_partial_fit_sequence_matches_sklearn(solver, target):
    X, y = TARGETS[target][0]()
    params = _params(target, solver=solver, learning_rate_init=0.005)
    sk, mx = SkMLPRegressor(**params), MLPRegressor(**params)
    for est in (sk, mx):
        for start in range(0, X.shape[0], 50):
            est.partial_fit(X[start:start + 50], y[start:start + 50])
        est.fit(X, y)  # a fit after partial_fit starts afresh
        for _ in range(3):
            est.partial_fit(X, y)
    assert_same_model(sk, mx, X=X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", ["single", "poisson"])
def test_warm_start_matches_sklearn(solver, target):
    X, y = TARGETS[target][0]()
    params = _params(target, solver=solver, warm_start=True, max_iter=5,
                     learning_rate_init=0.005)
    sk, mx = SkMLPRegressor(**params), MLPRegressor(**params)
    for est in (sk, mx):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
            est.fit(X[:100], y[:100])
    assert_same_model(sk, mx, X=X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32_trains_in_float32_close_to_sklearn(solver):
    X, y = _single()
    params = _params("single", solver=solver, max_iter=10, learning_rate_init=0.01)
    sk, mx, _, _ = _fit_both(params, X.astype(np.float32), y.astype(np.float32))
    assert all(c.dtype == np.float32 for c in mx.coefs_ + mx.intercepts_)
    assert mx.n_iter_ == sk.n_iter_
    X32 = X.astype(np.float32)
    assert_allclose(mx.predict(X32), sk.predict(X32), rtol=0, atol=2e-3)


# ---------------------------------------------------------------- behaviour

def test_exported_and_default_activation_is_logistic():
    assert mlpx.MLPRegressor is MLPRegressor
    assert MLPRegressor().activation == "logistic"
    assert MLPRegressor().loss == "squared_error"


def test_poisson_rejects_negative_targets():
    X, y = _counts()
    with pytest.raises(ValueError, match="y >= 0"):
        MLPRegressor(loss="poisson", max_iter=2).fit(X, y - 1)


def test_loss_curve_is_scikit_learns_convention_but_loss_and_grad_is_consistent():
    """loss_curve_ averages the squared error over outputs (scikit-learn);
    mlpx.loss_and_grad sums it, so its gradient is the returned one's."""
    X, Y = _multi()
    est = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=5, alpha=0.0,
                       random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    loss = mlpx.loss_and_grad(est.coefs_, est.intercepts_, X, Y, activation="logistic",
                              out_activation="identity")[0]
    assert_allclose(loss, 0.5 * ((Y - est.predict(X)) ** 2).mean(axis=0).sum(), rtol=1e-10)
    assert_allclose(est.loss_ * Y.shape[1], loss, rtol=1e-6)


CHECKED = [
    MLPRegressor(max_iter=100),
    MLPRegressor(solver="lbfgs", max_iter=100),
    MLPRegressor(loss="poisson", max_iter=100),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
