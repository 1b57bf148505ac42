"""mlpx.MLPClassifier as a scikit-learn estimator: scikit-learn's own
estimator checks, and everyday behaviour (probabilities, labels, pickling,
partial_fit, dtypes, errors)."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mlpx
from mlpx import MLPClassifier

# max_iter=100 is what scikit-learn's own test suite sets for its MLPClassifier.
CHECKED = [
    MLPClassifier(max_iter=100),
    MLPClassifier(solver="lbfgs", max_iter=100),
]

# No expected failures: both instances pass every check, including the
# sample-weight equivalence checks (scikit-learn runs those for its own
# MLPClassifier with solver="lbfgs" only).


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ---------------------------------------------------------------- behaviour

@pytest.fixture(scope="module")
def multiclass():
    return make_classification(n_samples=200, n_features=10, n_informative=6,
                               n_classes=4, random_state=0)


def _fit(X, y, **kw):
    params = dict(hidden_layer_sizes=(16,), max_iter=50, random_state=0,
                  learning_rate_init=0.01)
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(**params).fit(X, y)


def test_default_activation_is_logistic():
    est = MLPClassifier()
    assert est.activation == "logistic"
    assert est.solver == "adam" and est.hidden_layer_sizes == (100,)


def test_exported_from_package():
    assert mlpx.MLPClassifier is MLPClassifier


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_predict_proba_rows_sum_to_one(multiclass, solver):
    X, y = multiclass
    est = _fit(X, y, solver=solver, max_iter=200, learning_rate_init=0.1)
    P = est.predict_proba(X)
    assert P.shape == (X.shape[0], 4)
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(est.classes_[P.argmax(axis=1)], est.predict(X))
    assert_allclose(est.predict_log_proba(X), np.log(P))
    assert est.score(X, y) > 0.7


def test_binary_has_one_output_and_two_probability_columns():
    X, y = make_classification(n_samples=120, n_features=6, random_state=1)
    est = _fit(X, y)
    assert est.n_outputs_ == 1 and est.out_activation_ == "logistic"
    assert est.coefs_[-1].shape == (16, 1)
    P = est.predict_proba(X)
    assert P.shape == (120, 2)
    assert_allclose(P.sum(axis=1), 1.0)
    assert_array_equal(est.predict(X), (P[:, 1] > 0.5).astype(int))


def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(n_samples=150, n_features=8, n_classes=3,
                                          random_state=0)
    est = _fit(X / 4, Y, max_iter=100)
    assert est.out_activation_ == "logistic" and est.n_outputs_ == 3
    assert est.predict(X / 4).shape == Y.shape
    P = est.predict_proba(X / 4)
    assert P.shape == Y.shape and ((P >= 0) & (P <= 1)).all()


def test_string_classes(multiclass):
    X, y = multiclass
    names = np.array(["ant", "bee", "cat", "dog"])
    est = _fit(X, names[y])
    assert_array_equal(est.classes_, names)
    assert set(est.predict(X)) <= set(names)
    assert est.predict(X).dtype == names.dtype


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_pickle_round_trip(multiclass, solver):
    X, y = multiclass
    est = _fit(X, y, solver=solver)
    again = pickle.loads(pickle.dumps(est))
    assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    if solver != "lbfgs":  # the optimizer state travels too: training continues alike
        est.partial_fit(X, y)
        again.partial_fit(X, y)
        assert_array_equal(again.predict_proba(X), est.predict_proba(X))


def test_partial_fit_with_classes(multiclass):
    X, y = multiclass
    est = MLPClassifier(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X[:50], y[:50])
    first = y[:50] != 3  # the first chunk need not hold every class
    est.partial_fit(X[:50][first], y[:50][first], classes=np.arange(4))
    assert_array_equal(est.classes_, np.arange(4))
    assert est.n_iter_ == 1 and est.t_ == first.sum()
    losses = []
    for _ in range(30):
        est.partial_fit(X, y)
        losses.append(est.loss_)
    assert losses[-1] < losses[0]
    assert est.predict_proba(X).shape == (200, 4)
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        est.partial_fit(X[:5], np.array([0, 1, 2, 3, 7]))


def test_partial_fit_unavailable_for_lbfgs():
    est = MLPClassifier(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit"):
        est.partial_fit


def test_partial_fit_rejects_early_stopping(multiclass):
    X, y = multiclass
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.unique(y))


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32_preserved(multiclass, solver):
    X, y = multiclass
    est = _fit(X.astype(np.float32), y, solver=solver)
    assert all(a.dtype == np.float32 for a in est.coefs_ + est.intercepts_)
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert est.predict_proba(X).dtype == np.float64
    est64 = _fit(X, y, solver=solver)
    assert all(a.dtype == np.float64 for a in est64.coefs_ + est64.intercepts_)
    # integers train in float64, like scikit-learn
    est_int = _fit(np.round(X * 10).astype(np.int32), y, solver=solver)
    assert est_int.coefs_[0].dtype == np.float64


def test_sparse_input_gives_dense_result(multiclass):
    import scipy.sparse as sp
    X, y = multiclass
    dense = _fit(X, y)
    sparse = _fit(sp.csr_matrix(X), y)
    assert_allclose(sparse.predict_proba(X), dense.predict_proba(X), rtol=1e-10)


def test_pandas_feature_names(multiclass):
    pd = pytest.importorskip("pandas")
    X, y = multiclass
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = _fit(df, y)
    assert_array_equal(est.feature_names_in_, df.columns)
    assert est.n_features_in_ == 10


def _predict_outcome(est, X):
    """predict_proba's result, or its exception, and its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = ("ok", est.predict_proba(X))
        except Exception as exc:  # noqa: BLE001 - compared below
            out = ("raised", type(exc), str(exc))
    return out, [(w.category, str(w.message)) for w in caught]


def _prediction_inputs(X):
    big = np.full((3, X.shape[1]), 1e308)           # finite values, the sum overflows
    nan, inf = X[:5].copy(), X[:5].copy()
    nan[2, 3], inf[1, 0] = np.nan, -np.inf
    return {
        "f64": X, "f32": X.astype(np.float32), "fortran": np.asfortranarray(X),
        "strided": X[::3], "columns sliced": np.hstack([X, X])[:, ::2],
        "sum overflows": big, "nan": nan, "inf": inf, "one row": X[:1],
        "no rows": X[:0], "wrong width": X[:, :-1], "1-d": X[0], "3-d": X[None],
        "int": (X * 10).astype(np.int64), "float16": X.astype(np.float16),
        "list": X[:4].tolist(), "subclass": X.view(_NdarraySubclass),
    }


class _NdarraySubclass(np.ndarray):
    pass


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_fast_input_path_matches_validate_data(multiclass, monkeypatch, dtype):
    """predict_proba skips scikit-learn's validate_data for a plain 2-D float
    ndarray of the fitted width (its ~60-170 us are most of a prediction on
    a few rows); the forward pass checks it for NaN and infinity, and a bad
    one gets validate_data's own error. Every other input still takes
    validate_data: each input below gives the same result bit for bit, or
    the same exception and message, and the same warnings, with the fast
    path switched off."""
    import mlpx._estimator as mod

    X, y = multiclass
    est = _fit(X.astype(dtype), y, max_iter=5)
    inputs = _prediction_inputs(X)
    fast = {k: _predict_outcome(est, v) for k, v in inputs.items()}
    calls = []
    real = mod.validate_data

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, "validate_data", counting)
    est.predict_proba(X)
    est.predict_proba(X.astype(np.float32))
    est.predict_proba(inputs["sum overflows"])
    assert calls == [], "a plain 2-D float array went through validate_data"
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.predict_proba(inputs["inf"])
    assert calls == [1], "a non-finite X gets validate_data's error"
    monkeypatch.setattr(mod, "_plain_input", lambda est, X: False)
    for name, X_in in inputs.items():
        slow = _predict_outcome(est, X_in)
        (f, fw), (s, sw) = fast[name], slow
        assert f[0] == s[0] and fw == sw, name
        if f[0] == "ok":
            assert f[1].dtype == s[1].dtype, name
            assert_array_equal(f[1], s[1], err_msg=name)
        else:
            assert f[1:] == s[1:], name
    assert fast["sum overflows"][0][0] == "ok" and fast["nan"][0][0] == "raised"


def test_predict_fast_input_path_feature_names(multiclass):
    """Fitted with feature names, a plain array still warns as scikit-learn
    does; assume_finite still lets NaN reach the output check."""
    pd = pytest.importorskip("pandas")
    import sklearn

    X, y = multiclass
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = _fit(df, y, max_iter=5)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict_proba(X)
    est_plain = _fit(X, y, max_iter=5)
    nan = X[:3].copy()
    nan[0, 0] = np.nan
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="output is not finite for 1 of 3"):
            est_plain.predict_proba(nan)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est_plain.predict_proba(nan)


def test_convergence_warning_and_max_iter(multiclass):
    X, y = multiclass
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        est = MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    assert est.t_ == 3 * X.shape[0]


def test_early_stopping_attributes(multiclass):
    X, y = multiclass
    est = _fit(X, y, early_stopping=True, max_iter=200, n_iter_no_change=5)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    est2 = _fit(X, y)
    assert est2.validation_scores_ is None and est2.best_validation_score_ is None
    assert est2.best_loss_ == min(est2.loss_curve_)


def test_non_finite_weights_raise():
    X, y = make_classification(n_samples=100, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPClassifier(solver="sgd", learning_rate_init=1e20, max_iter=5,
                          activation="relu", random_state=0).fit(X * 1e100, y)


def test_bad_parameters_rejected(multiclass):
    X, y = multiclass
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="softplus").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(10, 0)).fit(X, y)
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPClassifier(early_stopping=True, validation_fraction=0.001).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(np.full((4, 2), np.nan), [0, 1, 0, 1])


def test_warm_start_keeps_weights_and_checks_classes(multiclass):
    X, y = multiclass
    est = _fit(X, y, warm_start=True, max_iter=5)
    before = [c.copy() for c in est.coefs_]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert len(est.loss_curve_) == 10
    assert not np.array_equal(before[0], est.coefs_[0])
    with pytest.raises(ValueError, match="warm_start can only be used"):
        est.fit(X[y < 3], y[y < 3])


def test_works_in_pipeline_and_cross_validation(multiclass):
    X, y = multiclass
    pipe = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(16,), max_iter=300, random_state=0, learning_rate_init=0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.6
    assert clone(pipe).get_params()["mlpclassifier__activation"] == "logistic"


def test_demo_command_reaches_accuracy(capsys):
    from mlpx.__main__ import main
    assert main(["demo", "--no-sklearn"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "epoch" in captured.err and "loss=" in captured.err  # the tqdm bar
    accuracy = float(out.split("test accuracy")[1].split()[0])
    assert accuracy >= 0.96


def test_save_method_round_trip(multiclass, tmp_path):
    from mlpx._io import load
    X, y = multiclass
    est = _fit(X, y)
    est.save(tmp_path / "model.npz")
    back = load(tmp_path / "model.npz")
    assert isinstance(back, MLPClassifier)
    assert_array_equal(back.predict_proba(X), est.predict_proba(X))


def test_progress_bar_is_an_extra_parameter_off_by_default():
    params = MLPClassifier().get_params()
    assert params["progress_bar"] is False
    from sklearn.neural_network import MLPClassifier as SkMLP
    # and issue 20's training controls, whose defaults are scikit-learn's behaviour
    extra = {"progress_bar", "class_weight", "scoring", "n_warmup_iter"}
    assert set(params) - set(SkMLP().get_params()) == extra
    assert (params["class_weight"], params["scoring"], params["n_warmup_iter"]) == (None, None, 0)
    assert set(SkMLP().get_params()) - set(params) == set()


@pytest.mark.parametrize("labels,fit_on,fast", [
    (np.array([3, 1, 1, 3, 3]), None, True),                   # binary ints
    (np.array([2, 0, 1, 2, 0, 0]), None, True),                # multiclass
    (np.array([0, 2, 2, 0]), np.array([0, 1, 2]), True),       # batch of 2 of 3 classes
    (np.array([1, 1, 1]), np.array([0, 1]), True),             # batch of 1 of 2 classes
    (np.array(["b", "a", "ccc", "a"]), None, True),            # strings
    (np.array([True, False, True]), None, True),               # booleans
    (np.array([1.0, -0.0, 2.0, 0.0]), None, True),             # float labels, -0 == 0
    (np.array([1.0, 0.0]), np.array([0, 1]), False),           # float y, int classes
    (np.array([4, 0]), np.array([0, 1, 2]), False),            # a label not in classes
    (np.array(["b", "a", "b"], dtype=object), None, False),     # object labels
    (np.array([[0, 1, 1], [1, 0, 0]]), None, False),           # multilabel indicator
])
def test_binarize_equals_label_binarizer(labels, fit_on, fast):
    """The estimator's fast one-of-K path gives exactly LabelBinarizer's
    transform (as bool), and hands every case it does not cover to it."""
    from sklearn.preprocessing import LabelBinarizer

    from mlpx._estimator import _binarize

    binarizer = LabelBinarizer().fit(labels if fit_on is None else fit_on)
    try:
        ref = binarizer.transform(labels).astype(bool)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            _binarize(binarizer, labels)
        return
    calls = []
    transform = binarizer.transform
    binarizer.transform = lambda y: calls.append(1) or transform(y)
    got = _binarize(binarizer, labels)
    assert got.dtype == bool and got.shape == ref.shape
    assert_array_equal(got, ref)
    assert (not calls) == fast
