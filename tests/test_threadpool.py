"""The BLAS that the native kernels call is NumPy's own OpenBLAS: it shows in
threadpoolctl.threadpool_info() and obeys threadpool_limits, with no
environment variable set by hand."""

import os

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl", reason="needs threadpoolctl (mlpx[test])")

import mlpx  # noqa: E402
from mlpx import _blas  # noqa: E402

pytestmark = pytest.mark.skipif(
    mlpx.get_backend() != "native",
    reason="NumPy backend: mlpx makes no BLAS calls of its own (numpy.matmul does)",
)


def _mlpx_pool():
    """threadpool_info() entry of the library mlpx's GEMMs come from: the
    provider's file, or behind a wrapper (Debian's libblas.so.3) the file
    that holds its thread control (libopenblas.so.0)."""
    paths = {os.path.realpath(_blas.provider["library"])}
    hit = _blas._dladdr(_blas.provider.get("get_threads"))
    if hit is not None:
        paths.add(os.path.realpath(hit[0]))
    pools = [p for p in threadpoolctl.threadpool_info()
             if os.path.realpath(p["filepath"]) in paths]
    return pools[0] if pools else None


def test_mlpx_blas_is_listed_by_threadpoolctl():
    assert _blas.provider is not None
    pool = _mlpx_pool()
    assert pool is not None, (_blas.provider["library"], threadpoolctl.threadpool_info())
    assert pool["user_api"] == "blas"
    assert pool["num_threads"] == _blas.threads()


def test_mlpx_blas_is_numpys_own():
    """One thread pool: mlpx shares NumPy's library (DESIGN.md section 3)."""
    if _blas.provider["source"] != "numpy":
        pytest.skip(f"BLAS provider is {_blas.provider['source']} (fallback)")
    linked = _blas._numpy_linked_blas()  # what NumPy's extension links
    if linked:
        assert os.path.realpath(_blas.provider["library"]) == linked[0]
        return
    numpy_pools = [p for p in threadpoolctl.threadpool_info()
                   if "numpy" in p["filepath"] and p["user_api"] == "blas"]
    assert any(os.path.realpath(p["filepath"]) == os.path.realpath(_blas.provider["library"])
               for p in numpy_pools)


def test_threadpool_limits_reach_mlpx():
    before = _blas.threads()
    with threadpoolctl.threadpool_limits(1):
        assert _blas.threads() == 1
        assert mlpx._config.config()["blas_threads"] == 1
        # and mlpx still computes under the limit
        rng = np.random.default_rng(0)
        W = [rng.normal(size=(30, 20)), rng.normal(size=(20, 3))]
        b = [np.zeros(20), np.zeros(3)]
        P = mlpx.forward(W, b, rng.normal(size=(50, 30)))
        np.testing.assert_allclose(P.sum(1), 1)
    assert _blas.threads() == before
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert _blas.threads() == 1
    assert _blas.threads() == before


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_threadpool_limits_keep_results():
    """Same weights with 1 thread and with the default (a deterministic fit)."""
    from sklearn.datasets import load_digits

    from mlpx._estimator import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16
    kw = dict(hidden_layer_sizes=(32,), max_iter=3, random_state=0)
    with threadpoolctl.threadpool_limits(1):
        one = MLPClassifier(**kw).fit(X, y[:300])
    many = MLPClassifier(**kw).fit(X, y[:300])
    for a, b in zip(one.coefs_, many.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
