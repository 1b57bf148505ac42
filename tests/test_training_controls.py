"""Issue 20's training controls, on whichever backend is active: class
weights, a validation set of the user's with a scorer, scikit-learn's
callbacks (sklearn.callback), the cosine schedule and warm-up
(mlpx.gradcheck: test_gradcheck.py). With these at their defaults the parity tests
(test_sklearn_parity.py, test_regressor_parity.py) hold unchanged."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, r2_score
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from mlpx import MLPClassifier, MLPRegressor
from mlpx import _estimator
from mlpx._callbacks import HAVE_SKLEARN_CALLBACKS


def _multiclass(n=240, seed=0, weights=(0.6, 0.3, 0.1)):
    X, y = make_classification(n_samples=n, n_features=10, n_informative=6, n_classes=3,
                               weights=list(weights), random_state=seed)
    return X, y


def _same_model(a, b):
    for name in ("coefs_", "intercepts_"):
        for u, v in zip(getattr(a, name), getattr(b, name)):
            assert_array_equal(u, v)
    assert a.n_iter_ == b.n_iter_
    assert getattr(a, "loss_curve_", None) == getattr(b, "loss_curve_", None)
    assert getattr(a, "validation_scores_", None) == getattr(b, "validation_scores_", None)


FAST = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)


# ------------------------------------------------------------- class_weight

@pytest.mark.parametrize("solver,extra", [
    ("adam", {}), ("sgd", dict(learning_rate_init=0.05)), ("lbfgs", {}),
    ("adam", dict(early_stopping=True, n_iter_no_change=100)),
])
@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 3.0, 2: 0.25}])
@pytest.mark.parametrize("with_sample_weight", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_class_weight_is_sample_weight_bit_for_bit(solver, extra, class_weight,
                                                   with_sample_weight, dtype):
    X, y = _multiclass()
    X = X.astype(dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y)) if with_sample_weight else None
    expected = compute_sample_weight(class_weight, y)
    if sw is not None:
        expected = expected * sw
    params = dict(FAST, solver=solver, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(class_weight=class_weight, **params).fit(X, y, sample_weight=sw)
        b = MLPClassifier(**params).fit(X, y, sample_weight=expected)
        c = MLPClassifier(**params).fit(X, y, sample_weight=sw)
    _same_model(a, b)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])  # the weights did act


def test_class_weight_string_labels_and_binary():
    X, y = _multiclass()
    labels = np.array(["ant", "bee"])[(y > 0).astype(int)]
    a = MLPClassifier(class_weight={"ant": 2.0, "bee": 1.0}, **FAST)
    b = MLPClassifier(**FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(X, labels)
        b.fit(X, labels, sample_weight=np.where(labels == "ant", 2.0, 1.0))
    _same_model(a, b)


@pytest.mark.parametrize("class_weight", ["balanced", "list"])
def test_class_weight_multilabel(class_weight):
    X, Y = make_multilabel_classification(n_samples=120, n_features=8, n_classes=3,
                                          random_state=2)
    if class_weight == "list":
        class_weight = [{0: 1.0, 1: 2.0}, {0: 1.0, 1: 0.5}, {0: 3.0, 1: 1.0}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(class_weight=class_weight, **FAST).fit(X / 4, Y)
        b = MLPClassifier(**FAST).fit(X / 4, Y,
                                      sample_weight=compute_sample_weight(class_weight, Y))
    _same_model(a, b)


def test_class_weight_partial_fit():
    X, y = _multiclass()
    classes = np.unique(y)
    weights = {0: 1.0, 1: 2.0, 2: 5.0}
    a = MLPClassifier(class_weight=weights, **FAST)
    b = MLPClassifier(**FAST)
    for start in range(0, 240, 60):  # some batches lack a class: weights by classes_
        Xb, yb = X[start:start + 60], y[start:start + 60]
        a.partial_fit(Xb, yb, classes=classes)
        b.partial_fit(Xb, yb, classes=classes,
                      sample_weight=np.array([weights[c] for c in yb]))
    _same_model(a, b)


def test_class_weight_balanced_partial_fit_needs_classes_as_sgd():
    X, y = _multiclass()
    est = MLPClassifier(class_weight="balanced", **FAST)
    with pytest.raises(ValueError, match=r"not supported for partial_fit.*compute_class_weight"):
        est.partial_fit(X, y, classes=np.unique(y))
    # the way out that the message gives
    weights = compute_class_weight("balanced", classes=np.unique(y), y=y)
    est.set_params(class_weight=dict(zip(np.unique(y), weights)))
    est.partial_fit(X, y, classes=np.unique(y))
    assert est.n_iter_ == 1


def test_class_weight_invalid():
    X, y = _multiclass()
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight="uniform", **FAST).fit(X, y)


# ------------------------------------------------------------ validation set

def _split(n_val=60):
    X, y = _multiclass(n=300)
    return X[n_val:], y[n_val:], X[:n_val], y[:n_val]


def test_user_validation_set_makes_no_split():
    X, y, X_val, y_val = _split()
    params = dict(FAST, max_iter=12, n_iter_no_change=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        es = MLPClassifier(early_stopping=True, **params).fit(X, y, X_val=X_val, y_val=y_val)
        plain = MLPClassifier(**params).fit(X, y)
    # every row trained, with the same draws: the same epochs as without early stopping
    assert es.loss_curve_ == plain.loss_curve_
    assert len(es.validation_scores_) == 12
    # validation_scores_ are the accuracy on (X_val, y_val) of each epoch's weights
    best = int(np.argmax(es.validation_scores_))
    assert es.best_validation_score_ == es.validation_scores_[best]
    assert es.score(X_val, y_val) == es.best_validation_score_


class _Record:
    """A FitCallback that keeps each epoch's fitted_estimator."""

    def __init__(self, stop_at=None):
        self.fitted, self.begun, self.ended, self.contexts = [], 0, 0, []
        self.stop_at = stop_at
        self.setups = self.teardowns = 0

    def setup(self, estimator, context):
        self.setups += 1

    def teardown(self, estimator, context):
        self.teardowns += 1

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None,
                          fitted_estimator=None):
        self.begun += 1

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        self.ended += 1
        self.contexts.append((context.task_name, context.task_id))
        if context.parent is not None and fitted_estimator is not None:
            self.fitted.append(fitted_estimator)
            self.last = (X, y, metadata)
            return self.stop_at is not None and len(self.fitted) >= self.stop_at
        return False


needs_callbacks = pytest.mark.skipif(not HAVE_SKLEARN_CALLBACKS,
                                     reason="scikit-learn without sklearn.callback")


@needs_callbacks
@pytest.mark.parametrize("scoring", ["balanced_accuracy", None, "callable"])
def test_validation_scores_are_the_scorer_on_the_users_set(scoring):
    X, y, X_val, y_val = _split()
    sw_val = np.random.default_rng(3).uniform(0.5, 2, len(y_val))
    if scoring == "callable":
        scoring = lambda est, X, y, sample_weight=None: -np.mean(  # noqa: E731
            np.abs(est.predict_proba(X)[np.arange(len(y)), y] - 1) * sample_weight)
    rec = _Record()
    est = MLPClassifier(early_stopping=True, n_iter_no_change=100, scoring=scoring,
                        **dict(FAST, max_iter=8)).set_callbacks(rec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    scorer = (get_scorer("accuracy") if scoring is None else
              scoring if callable(scoring) else get_scorer(scoring))
    expected = [scorer(f, X_val, y_val, sample_weight=sw_val) for f in rec.fitted]
    assert_allclose(est.validation_scores_, expected, rtol=1e-12)


def test_scoring_on_the_internal_split():
    X, y = _multiclass(n=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        acc = MLPClassifier(early_stopping=True, **FAST).fit(X, y)
        bal = MLPClassifier(early_stopping=True, scoring="balanced_accuracy", **FAST).fit(X, y)
    assert len(bal.validation_scores_) == bal.n_iter_
    assert bal.validation_scores_ != acc.validation_scores_
    assert all(0 <= s <= 1 for s in bal.validation_scores_)


def test_regressor_validation_set_and_scoring():
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    t = X @ np.arange(6) / 6
    X_tr, t_tr, X_val, t_val = X[50:], t[50:], X[:50], t[:50]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r2 = MLPRegressor(early_stopping=True, n_iter_no_change=100,
                          **FAST).fit(X_tr, t_tr, X_val=X_val, y_val=t_val)
        plain = MLPRegressor(**FAST).fit(X_tr, t_tr)
        mse = MLPRegressor(early_stopping=True, n_iter_no_change=100,
                           scoring="neg_mean_squared_error",
                           **FAST).fit(X_tr, t_tr, X_val=X_val, y_val=t_val)
    assert r2.loss_curve_ == plain.loss_curve_
    assert r2.best_validation_score_ == pytest.approx(r2_score(t_val, r2.predict(X_val)),
                                                      rel=1e-12)
    assert all(s < 0 for s in mse.validation_scores_)
    assert mse.best_validation_score_ == pytest.approx(
        -np.mean((mse.predict(X_val) - t_val) ** 2), rel=1e-12)


def test_validation_set_with_dataframes_keeps_feature_names_quiet():
    pd = pytest.importorskip("pandas")
    X, y, X_val, y_val = _split()
    cols = [f"f{i}" for i in range(X.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(early_stopping=True, scoring="balanced_accuracy", **FAST).fit(
            pd.DataFrame(X, columns=cols), y,
            X_val=pd.DataFrame(X_val, columns=cols), y_val=y_val)
        MLPClassifier(early_stopping=True, scoring="balanced_accuracy", **FAST).fit(
            pd.DataFrame(X, columns=cols), y)


@pytest.mark.parametrize("params,fit_kw,match", [
    ({"early_stopping": True}, dict(X_val="X"), "y_val was not provided"),
    ({"early_stopping": True}, dict(y_val="y"), "X_val was not provided"),
    ({}, dict(X_val="X", y_val="y"), "early_stopping is False"),
    ({"early_stopping": True, "solver": "lbfgs"}, dict(X_val="X", y_val="y"), "lbfgs"),
    ({"early_stopping": True}, dict(X_val="X", y_val="y7"), "labels not in y"),
    ({"early_stopping": True}, dict(X_val="X3", y_val="y"), "features"),
    ({"early_stopping": True}, dict(X_val="X", y_val="y_short"), "inconsistent"),
])
def test_validation_set_errors(params, fit_kw, match):
    X, y, X_val, y_val = _split()
    values = {"X": X_val, "y": y_val, "y7": np.full_like(y_val, 7), "X3": X_val[:, :3],
              "y_short": y_val[:-1]}
    kw = {k: values[v] for k, v in fit_kw.items()}
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params, **FAST).fit(X, y, **kw)


# ----------------------------------------------------------------- callbacks

@needs_callbacks
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_one_task_per_epoch_with_a_fitted_estimator(Est):
    X, y = _multiclass()
    rec = _Record()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Est(**FAST).set_callbacks(rec).fit(X, y)
        three = Est(**dict(FAST, max_iter=3)).fit(X, y)
    assert rec.setups == rec.teardowns == 1
    assert rec.begun == rec.ended == est.n_iter_ + 1          # + the root task
    assert rec.contexts[-1] == ("fit", 0)
    assert [c for c in rec.contexts[:-1]] == [("epoch", i) for i in range(est.n_iter_)]
    # epoch 3's fitted_estimator is the model after three epochs
    _same_model(rec.fitted[2], three)
    assert_array_equal(rec.fitted[2].predict(X), three.predict(X))
    assert_array_equal(rec.fitted[-1].predict(X), est.predict(X))
    X_cb, y_cb, metadata = rec.last
    assert X_cb.shape == X.shape and np.array_equal(np.asarray(y_cb).ravel(), y)
    assert metadata is None


@needs_callbacks
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_callback_stops_after_the_epoch(Est, early_stopping):
    X, y = _multiclass()
    rec = _Record(stop_at=4)
    params = dict(FAST, max_iter=50, early_stopping=early_stopping, n_iter_no_change=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a requested stop: no warning
        est = Est(**params).set_callbacks(rec).fit(X, y)
    assert est.n_iter_ == 4 and len(est.loss_curve_) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        four = Est(**dict(params, max_iter=4)).fit(X, y)
    _same_model(est, four)               # early stopping: the same best weights restored
    assert_array_equal(est.predict(X), four.predict(X))


@needs_callbacks
def test_lbfgs_one_task_per_iteration_and_stop():
    X, y = _multiclass()
    rec = _Record()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(solver="lbfgs", **FAST).set_callbacks(rec).fit(X, y)
    assert len(rec.fitted) == est.n_iter_
    # + the root and the empty task begun after the last iteration
    assert rec.begun == rec.ended == est.n_iter_ + 2
    assert rec.fitted[-1].predict(X).shape == y.shape
    rec = _Record(stop_at=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = MLPClassifier(solver="lbfgs", **dict(FAST, max_iter=100)).set_callbacks(
            rec).fit(X, y)
    assert stopped.n_iter_ == 3 and rec.begun == rec.ended
    for a, b in zip(stopped.coefs_, rec.fitted[-1].coefs_):
        assert_array_equal(a, b)


@needs_callbacks
def test_partial_fit_is_one_task_with_one_epoch():
    X, y = _multiclass()
    rec = _Record()
    est = MLPClassifier(**FAST).set_callbacks(rec)
    est.partial_fit(X, y, classes=np.unique(y))
    est.partial_fit(X, y)
    assert rec.contexts == [("epoch", 0), ("partial_fit", 0)] * 2


@needs_callbacks
def test_class_weights_reach_the_callbacks_as_metadata():
    X, y = _multiclass()
    rec = _Record()
    MLPClassifier(class_weight="balanced", **dict(FAST, max_iter=2, tol=1.0)).set_callbacks(
        rec).fit(X, y)
    assert_array_equal(rec.last[2]["sample_weight"], compute_sample_weight("balanced", y))


@needs_callbacks
@pytest.mark.parametrize("Est,scoring", [(MLPClassifier, "accuracy"),
                                         (MLPRegressor, ["r2", "neg_mean_squared_error"])])
def test_scoring_monitor(Est, scoring):
    from sklearn.callback import ScoringMonitor

    X, y = _multiclass()
    monitor = ScoringMonitor(scoring=scoring)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Est(**FAST).set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert len(epochs) == est.n_iter_
    assert rows[0]["task_name"] == "fit" and rows[0]["estimator_name"] == Est.__name__
    name = "accuracy" if scoring == "accuracy" else "r2"
    assert epochs[-1][name] == pytest.approx(est.score(X, y), rel=1e-12)
    clone(est).fit(X, y)  # a clone shares the callback: a second run is logged
    assert len(monitor.get_logs(select="all")) == 2


@needs_callbacks
def test_progress_bar_callback_and_progress_bar_parameter(capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = _multiclass()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(progress_bar=True, **FAST).set_callbacks(ProgressBar())
        est.fit(X, y)
    out = capsys.readouterr()
    assert "MLPClassifier - fit" in out.out and "100%" in out.out
    assert "15/15" in out.err  # progress_bar=True's tqdm bar, on stderr


def test_set_callbacks_without_sklearn_callback_is_a_clear_error():
    code = """
import sys, warnings
import sklearn.base, sklearn.neural_network
# mlpx imported as on a scikit-learn without sklearn.callback (1.9.1's own
# modules need it, so it is hidden from mlpx's import only)
saved, sys.modules["sklearn.callback"] = sys.modules["sklearn.callback"], None
import numpy as np, mlpx
sys.modules["sklearn.callback"] = saved
assert not mlpx._callbacks.HAVE_SKLEARN_CALLBACKS
X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
warnings.simplefilter("ignore")
est = mlpx.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
assert est.n_iter_ == 5
mlpx.MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, solver="lbfgs").fit(X, X[:, 1])
try:
    est.set_callbacks(object())
except ImportError as exc:
    print("ImportError:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "ImportError: set_callbacks needs scikit-learn's callback API" in out


@needs_callbacks
def test_set_callbacks_rejects_non_callbacks():
    with pytest.raises(TypeError, match="FitCallback protocol"):
        MLPClassifier().set_callbacks(object())


# ----------------------------------------------------------------- schedules

class _LearningRates:
    """Stands in for the backend; records the step size of every epoch."""

    def __init__(self, impl):
        self.impl, self.rates = impl, []

    def __getattr__(self, name):
        return getattr(self.impl, name)

    def train_epoch(self, *args, **kwargs):
        self.rates.append(args[12])
        return self.impl.train_epoch(*args, **kwargs)


def _rates(monkeypatch, est, X, y, calls=1):
    spy = _LearningRates(_estimator.impl)
    monkeypatch.setattr(_estimator, "impl", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if calls == 1:
            est.fit(X, y)
        else:
            for _ in range(calls):
                est.partial_fit(X, y, classes=np.unique(y))
    return spy.rates


SCHEDULE = dict(hidden_layer_sizes=(8,), random_state=0, n_iter_no_change=np.inf,
                learning_rate_init=0.05)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("warmup", [0, 3])
def test_cosine_schedule(monkeypatch, solver, warmup):
    X, y = _multiclass()
    T, lr0 = 12, 0.05
    est = MLPClassifier(solver=solver, learning_rate="cosine", max_iter=T,
                        n_warmup_iter=warmup, **SCHEDULE)
    rates = _rates(monkeypatch, est, X, y)
    expected = [lr0 * (e + 1) / (warmup + 1) if e < warmup else
                lr0 * 0.5 * (1 + math.cos(math.pi * (e - warmup) / (T - warmup)))
                for e in range(T)]
    assert_allclose(rates, expected, rtol=1e-15)
    assert rates[warmup] == lr0 and rates[-1] > 0
    if warmup == 0:
        assert_allclose(rates, [lr0 * (1 + math.cos(math.pi * e / T)) / 2 for e in range(T)],
                        rtol=1e-15)


@pytest.mark.parametrize("schedule,solver", [("constant", "sgd"), ("constant", "adam"),
                                             ("invscaling", "sgd"), ("adaptive", "sgd")])
def test_warmup_for_every_schedule(monkeypatch, schedule, solver):
    X, y = _multiclass()
    W, lr0, n = 4, 0.05, len(y)
    est = MLPClassifier(solver=solver, learning_rate=schedule, max_iter=10, power_t=0.5,
                        n_warmup_iter=W, **SCHEDULE)
    rates = _rates(monkeypatch, est, X, y)
    if schedule == "invscaling":  # scikit-learn's rate, set after each epoch from t_
        base = [lr0] + [lr0 / (e * n + 1) ** 0.5 for e in range(1, 10)]
    else:
        base = [lr0] * 10
    expected = [b * min(1.0, (e + 1) / (W + 1)) for e, b in enumerate(base)]
    assert_allclose(rates, expected, rtol=1e-15)


def test_schedules_at_their_defaults_are_scikit_learns(monkeypatch):
    X, y = _multiclass()
    est = MLPClassifier(solver="sgd", learning_rate="invscaling", max_iter=5, **SCHEDULE)
    rates = _rates(monkeypatch, est, X, y)
    assert rates[0] == 0.05 and rates[1] == 0.05 / (len(y) + 1) ** 0.5
    # adam ignores scikit-learn's SGD schedules, as scikit-learn
    est = MLPClassifier(solver="adam", learning_rate="invscaling", max_iter=5, **SCHEDULE)
    assert _rates(monkeypatch, est, X, y) == [0.05] * 5


def test_cosine_over_partial_fit_calls_and_to_zero(monkeypatch):
    X, y = _multiclass()
    T = 4
    est = MLPClassifier(solver="sgd", learning_rate="cosine", max_iter=T, **SCHEDULE)
    rates = _rates(monkeypatch, est, X, y, calls=6)
    expected = [0.05 * 0.5 * (1 + math.cos(math.pi * min(e, T) / T)) for e in range(6)]
    assert_allclose(rates, expected, rtol=1e-15, atol=1e-18)
    assert rates[4] == rates[5] == pytest.approx(0.0, abs=1e-18)


def test_cosine_trains_and_lbfgs_ignores_schedules():
    X, y = _multiclass()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(solver="adam", learning_rate="cosine", n_warmup_iter=2,
                            **dict(FAST, max_iter=40, learning_rate_init=0.02)).fit(X, y)
        assert est.score(X, y) > 0.7 and est.loss_curve_[-1] < 0.6 * est.loss_curve_[0]
        a = MLPClassifier(solver="lbfgs", learning_rate="cosine", n_warmup_iter=3,
                          **FAST).fit(X, y)
        b = MLPClassifier(solver="lbfgs", **FAST).fit(X, y)
    _same_model(a, b)


def test_n_warmup_iter_is_validated():
    with pytest.raises(ValueError, match="n_warmup_iter"):
        MLPClassifier(n_warmup_iter=-1).fit(*_multiclass())


@needs_callbacks
def test_callbacks_propagate_from_a_pipeline(capsys, monkeypatch):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    monkeypatch.setenv("COLUMNS", "200")
    X, y = _multiclass()
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**FAST))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.set_callbacks(ProgressBar(max_propagation_depth=None)).fit(X, y)
    out = capsys.readouterr().out
    assert "Pipeline - fit-final-estimator | MLPClassifier - fit" in out
    assert not hasattr(pipe[-1], "_skl_callbacks")  # lent for the fit only
