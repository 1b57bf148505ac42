"""ForwardPlan (both backends) and the estimator's cached plan: the same
bits as ``forward``, the layers' values read at each call, a new plan when
an array is replaced, and predict leaving the estimator as it was."""

import gc
import pickle
import warnings
import weakref

import numpy as np
import pytest

import mlpx
from mlpx import _estimator
from mlpx._backend import impl
from kernel_helpers import BACKENDS, make_net


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3, 255, 257, 600])
def test_plan_equals_forward(backend, dtype, n):
    rng = np.random.default_rng(n)
    widths = (7, 13, 5, 4)
    coefs, intercepts = make_net(widths, dtype, rng)
    X = rng.normal(size=(n, widths[0])).astype(dtype)
    plan = backend.ForwardPlan(coefs, intercepts, "tanh", "softmax")
    want = backend.forward(coefs, intercepts, X, "tanh", "softmax")
    got = plan(X, check_finite=True, check_output=True)
    assert got.dtype == dtype and got.shape == (n, widths[-1])
    np.testing.assert_array_equal(got, want)
    assert plan.dtype == dtype and plan.matches(coefs, intercepts)
    assert not plan.matches([c.copy() for c in coefs], intercepts)
    assert not plan.matches(coefs[:2], intercepts[:2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_plan_reads_the_arrays_at_each_call(backend):
    rng = np.random.default_rng(0)
    coefs, intercepts = make_net((4, 6, 3), np.float64, rng)
    X = rng.normal(size=(5, 4))
    plan = backend.ForwardPlan(coefs, intercepts, "logistic", "identity")
    before = plan(X)
    intercepts[-1] += 1.0                     # in place: the plan sees it
    np.testing.assert_allclose(plan(X), before + 1.0, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_plan_checks(backend):
    rng = np.random.default_rng(1)
    coefs, intercepts = make_net((4, 6, 3), np.float32, rng)
    plan = backend.ForwardPlan(coefs, intercepts, "logistic", "softmax")
    with pytest.raises(TypeError, match="dtype"):
        plan(np.zeros((2, 4)))                # float64 X, float32 plan
    X = np.zeros((2, 4), np.float32)
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        plan(X, check_finite=True)
    big = [c.copy() for c in intercepts]
    big[-1][0] = np.inf
    out = backend.ForwardPlan(coefs, big, "logistic", "identity")
    with pytest.raises(FloatingPointError, match="not finite"):
        out(np.zeros((300, 4), np.float32), check_output=True)
    assert np.isinf(out(np.zeros((3, 4), np.float32))[:, 0]).all()   # unchecked


def test_native_plan_checks_shapes_once():
    if mlpx.get_backend() != "native":
        pytest.skip("the compiled backend is not in use")
    rng = np.random.default_rng(2)
    coefs, intercepts = make_net((4, 6, 3), np.float64, rng)
    with pytest.raises(ValueError, match=r"coefs\[1\]"):
        impl.ForwardPlan([coefs[0], coefs[0]], intercepts, "logistic", "softmax")
    with pytest.raises(ValueError, match="activation"):
        impl.ForwardPlan(coefs, intercepts, "swish", "softmax")
    plan = impl.ForwardPlan(coefs, intercepts, "logistic", "softmax")
    with pytest.raises(ValueError, match="columns"):
        plan(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="C-contiguous"):
        plan(np.zeros((4, 2)).T)
    # a plan pickles as its layers
    again = pickle.loads(pickle.dumps(plan))
    X = rng.normal(size=(3, 4))
    np.testing.assert_array_equal(again(X), plan(X))


def _fitted(dtype=np.float64, **kw):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 5)).astype(dtype)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = mlpx.MLPClassifier((8,), max_iter=5, random_state=0, **kw).fit(X, y)
    return est, X


def _fresh(est, X):
    """predict_proba's answer from the functional API, no plan cached."""
    return mlpx.forward(est.coefs_, est.intercepts_, X, activation=est.activation,
                        out_activation=est.out_activation_)


def test_estimator_plan_follows_the_model():
    est, X = _fitted()
    np.testing.assert_array_equal(est.predict_proba(X), _fresh(est, X))
    before = dict(est.__dict__)
    est.predict_proba(X)
    est.predict(X)
    assert est.__dict__ == before             # predict stores nothing in the estimator
    est.coefs_[0] *= 2.0                      # in place
    np.testing.assert_array_equal(est.predict_proba(X), _fresh(est, X))
    est.coefs_[1] = est.coefs_[1] + 1.0       # a new array
    np.testing.assert_array_equal(est.predict_proba(X), _fresh(est, X))
    est.intercepts_ = [b - 1.0 for b in est.intercepts_]   # a new list
    np.testing.assert_array_equal(est.predict_proba(X), _fresh(est, X))
    est.out_activation_ = "logistic"          # not a user move, but followed
    np.testing.assert_array_equal(est.predict_proba(X), _fresh(est, X))


def test_estimator_plan_not_in_pickle_and_per_dtype():
    est, X = _fitted(np.float32)
    p32 = est.predict_proba(X)
    p64 = est.predict_proba(X.astype(np.float64))    # float64 X: computed in float64
    assert p32.dtype == np.float32 and p64.dtype == np.float64
    np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.predict_proba(X), p32)
    assert est in _estimator._PLANS and clone in _estimator._PLANS
    gone = weakref.ref(clone)
    del clone                                 # the cache does not keep it alive
    gc.collect()
    assert gone() is None


def test_predict_matches_label_binarizer():
    for n_classes in (2, 3):
        rng = np.random.default_rng(n_classes)
        X = rng.normal(size=(80, 4))
        y = np.array(["ant", "bee", "cat"])[rng.integers(0, n_classes, 80)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = mlpx.MLPClassifier((6,), max_iter=30, random_state=0).fit(X, y)
        P = est.predict_proba(X)
        ref = est._label_binarizer.inverse_transform(P[:, 1] if n_classes == 2 else P)
        got = est.predict(X)
        assert got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref)


def test_predict_one_class():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = mlpx.MLPClassifier((4,), max_iter=5, random_state=0).fit(X, np.full(20, 7))
    np.testing.assert_array_equal(est.predict(X), np.full(20, 7))
    assert est.predict_proba(X).shape == (20, 2)
