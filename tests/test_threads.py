"""Threads change nothing but the time.

For the same data, parameters, random_state and dtype, fit and predict_proba
give the same bits whatever the thread limit (threadpoolctl, from 1 up to
more threads than cores), whatever else runs at the same time (other Python
threads calling mlpx, loky workers), and however the threads are scheduled
(csrc/pool.c states the invariant; csrc/threads.c cuts the work by shapes
alone). On the NumPy backend mlpx has no threads of its own (NumPy's matmul
does the work), so the checks that the engine really runs on several
threads are native-only, while the equality checks run on both backends.
"""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl", reason="needs threadpoolctl (mlpx[test])")

import mlpx  # noqa: E402

NATIVE = mlpx.get_backend() == "native"
requires_native = pytest.mark.skipif(not NATIVE, reason="the NumPy backend has no threads of its own")
LIMITS = (1, 2, 3, 4, 8)

# a small network (one hidden layer, batch 32) and a large one
# (784-256-128-10, batch 256)
NETS = {
    "small": dict(n_features=40, hidden=(64,), batch=32, rows=600, classes=4),
    "large": dict(n_features=784, hidden=(256, 128), batch=256, rows=700, classes=10),
}


def _data(name, dtype, seed=0):
    cfg = NETS[name]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(cfg["rows"], cfg["n_features"])).astype(dtype)
    y = rng.integers(0, cfg["classes"], cfg["rows"])
    return X, y


def _model(name, solver, **kw):
    cfg = NETS[name]
    params = dict(hidden_layer_sizes=cfg["hidden"], batch_size=cfg["batch"], solver=solver,
                  max_iter=3 if solver != "lbfgs" else 6, random_state=0, tol=0.0,
                  learning_rate_init=0.01)
    params.update(kw)
    return mlpx.MLPClassifier(**params)


def _fitted(model):
    """Everything a fit leaves that must not depend on threads."""
    return (list(model.coefs_) + list(model.intercepts_), list(getattr(model, "loss_curve_", [model.loss_])),
            model.n_iter_)


def _concurrently(n, fn):
    """fn() in n threads started together; their results (None: not done
    within 300 s)."""
    out = [None] * n
    barrier = threading.Barrier(n)

    def work(k):
        barrier.wait()
        out[k] = fn()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return out


def _same(a, b):
    (pa, la, na), (pb, lb, nb) = a, b
    assert na == nb
    assert la == lb, (la, lb)
    for x, y in zip(pa, pb):
        assert x.dtype == y.dtype and np.array_equal(x, y), np.max(np.abs(x - y))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(NETS))
def test_fit_and_predict_same_bits_for_every_thread_limit(name, dtype, solver):
    if not NATIVE:
        pytest.skip("the NumPy backend's GEMMs are numpy.matmul on NumPy's OpenBLAS, whose "
                    "bits depend on its thread count")
    X, y = _data(name, dtype)
    results, probas = {}, {}
    for limit in LIMITS:
        with threadpoolctl.threadpool_limits(limit):
            model = _model(name, solver).fit(X, y)
            results[limit] = _fitted(model)
            # blocks of rows (600, 700 rows); one block, its GEMMs in tiles
            # on the large network (100 rows); one row
            probas[limit] = [model.predict_proba(X), model.predict_proba(X[:100]),
                             model.predict_proba(X[:1])]
    for limit in LIMITS[1:]:
        _same(results[limit], results[1])
        for got, want in zip(probas[limit], probas[1]):
            assert np.array_equal(got, want)



@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(NETS))
def test_regressor_same_bits_for_every_thread_limit(name, dtype, loss, solver):
    """The regressor's identity and exp outputs (three of them) too."""
    if not NATIVE:
        pytest.skip("the NumPy backend's GEMMs follow NumPy's OpenBLAS threads")
    X, _ = _data(name, dtype)
    rng = np.random.default_rng(1)
    Y = (rng.poisson(1.0, (X.shape[0], 3)) if loss == "poisson"
         else rng.normal(size=(X.shape[0], 3))).astype(dtype)
    cfg = NETS[name]
    results, preds = {}, {}
    for limit in LIMITS:
        with threadpoolctl.threadpool_limits(limit):
            model = mlpx.MLPRegressor(
                loss=loss, hidden_layer_sizes=cfg["hidden"], batch_size=cfg["batch"],
                solver=solver, max_iter=3 if solver != "lbfgs" else 6, random_state=0,
                tol=0.0, learning_rate_init=0.001).fit(X, Y)
            results[limit] = _fitted(model)
            preds[limit] = model.predict(X)
    for limit in LIMITS[1:]:
        _same(results[limit], results[1])
        assert np.array_equal(preds[limit], preds[1])

@requires_native
def test_large_network_runs_on_the_threads_allowed():
    """The cut into parts leaves work for many threads, and the engine takes
    as many as the BLAS limit allows (here up to 8, above the cores)."""
    from mlpx import _core
    widths = (784, 256, 128, 10)
    for limit in (1, 2, 4, 8):
        with threadpoolctl.threadpool_limits(limit):
            if _core._epoch_threads(widths, 20000, 256) == 1 and limit > 1 \
                    and not _core._has_blas_local():
                mlpx.forward([np.zeros((784, 256)), np.zeros((256, 128)), np.zeros((128, 10))],
                             [np.zeros(256), np.zeros(128), np.zeros(10)],
                             np.zeros((1024, 784)))  # makes the local BLAS
            assert _core._epoch_threads(widths, 20000, 256) == limit
            assert _core._epoch_threads(widths, 10000) == limit  # forward, 40 blocks
            # forward on one block of 100 rows: its GEMMs cut into tiles
            assert _core._epoch_threads(widths, 100) == min(limit, 2)  # 2 tiles of 128 columns
    with threadpoolctl.threadpool_limits(8):
        # a small network uses fewer threads where more do not pay
        assert _core._epoch_threads((64, 64, 10), 20000, 32) == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", list(NETS))
def test_concurrent_predict_proba_same_bits(name):
    if not NATIVE and name == "large":
        pytest.skip("NumPy backend: numpy.matmul's bits follow its BLAS's threads")
    X, y = _data(name, np.float32, seed=1)
    model = _model(name, "adam", max_iter=2).fit(X, y)
    rng = np.random.default_rng(2)
    Xq = rng.normal(size=(3000, X.shape[1])).astype(np.float32)
    ref = model.predict_proba(Xq)
    out = [None] * 16
    barrier = threading.Barrier(16)

    def work(k):
        barrier.wait()
        out[k] = model.predict_proba(Xq)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert all(o is not None and np.array_equal(o, ref) for o in out)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(NETS))
def test_two_concurrent_fits_same_bits(name, dtype):
    X, y = _data(name, dtype, seed=3)
    ref = _fitted(_model(name, "sgd", momentum=0.9).fit(X, y))
    for o in _concurrently(2, lambda: _fitted(_model(name, "sgd", momentum=0.9).fit(X, y))):
        assert o is not None
        _same(o, ref)


@pytest.fixture
def whole_gemms():
    """Every training batch as whole GEMMs on the BLAS's own threads (opt-in,
    MLPX_WHOLE_GEMMS=1, for batches of >= 2**31 multiply-adds: too slow for
    a test)."""
    from mlpx import _core
    _core._set_whole_macs(0)
    try:
        yield
    finally:
        _core._set_whole_macs(None)


@requires_native
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_whole_gemm_epoch_same_bits_for_the_same_thread_count(whole_gemms, dtype, solver):
    """The largest batches run whole GEMMs on the BLAS's threads: the same
    bits for the same thread count, whatever runs beside (a concurrent fit)
    or is scheduled when; across thread counts, the same numbers up to
    rounding; and the tiled epoch's numbers up to rounding."""
    from mlpx import _core
    X, y = _data("large", dtype, seed=4)
    widths = (X.shape[1], *NETS["large"]["hidden"], 10)
    assert _core._epoch_whole(widths, NETS["large"]["batch"])
    kw = dict(momentum=0.9) if solver == "sgd" else {}
    results = {}
    for limit in (1, 2, 4, 8):
        with threadpoolctl.threadpool_limits(limit):
            assert _core._epoch_threads(widths, X.shape[0], NETS["large"]["batch"]) == limit
            first = _fitted(_model("large", solver, **kw).fit(X, y))

            def fit(limit=limit):
                with threadpoolctl.threadpool_limits(limit):
                    return _fitted(_model("large", solver, **kw).fit(X, y))

            for o in _concurrently(2, fit):
                assert o is not None
                _same(o, first)
            results[limit] = first
    _core._set_whole_macs(float("inf"))
    tiled = _fitted(_model("large", solver, **kw).fit(X, y))
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for got in list(results.values()) + [tiled]:
        for a, b in zip(got[0], results[1][0]):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        np.testing.assert_allclose(got[1], results[1][1], rtol=tol)


@requires_native
def test_whole_gemms_only_when_asked_and_only_for_the_largest_batches():
    from mlpx import _core
    assert not _core._epoch_whole((1024, 1024, 1024, 10), 512)   # the default: tiles
    assert mlpx._config.config()["threads"].endswith("results do not depend on it")
    code = textwrap.dedent("""
        import mlpx
        from mlpx import _core
        assert _core._epoch_whole((1024, 1024, 1024, 10), 512)      # 3.2e9 multiply-adds
        assert not _core._epoch_whole((784, 256, 128, 10), 2048)   # 1.4e9
        assert not _core._epoch_whole((784, 256, 128, 10), 256)
        assert "MLPX_WHOLE_GEMMS=1" in mlpx._config.config()["threads"]
        print("ok")
    """)
    env = dict(os.environ, MLPX_WHOLE_GEMMS="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_loky_cross_validation_folds_equal_serial_folds():
    from sklearn.model_selection import cross_validate

    X, y = _data("small", np.float64, seed=4)
    model = _model("small", "adam", max_iter=4)
    serial = cross_validate(model, X, y, cv=3, n_jobs=1, return_estimator=True)
    loky = cross_validate(model, X, y, cv=3, n_jobs=2, return_estimator=True)
    assert np.array_equal(serial["test_score"], loky["test_score"])
    for a, b in zip(serial["estimator"], loky["estimator"]):
        _same(_fitted(a), _fitted(b))


@requires_native
def test_more_threads_than_cores_is_correct_and_finishes():
    """Eight threads on this machine's cores (two here): the same bits as one
    thread, within a generous timeout (waiting threads block, not spin)."""
    script = textwrap.dedent("""
        import warnings
        import numpy as np
        import threadpoolctl
        import mlpx
        warnings.simplefilter("ignore")
        rng = np.random.default_rng(0)
        X = rng.normal(size=(1500, 784)).astype(np.float32)
        y = rng.integers(0, 10, 1500)
        fits = []
        for limit in (1, 8):
            with threadpoolctl.threadpool_limits(limit):
                m = mlpx.MLPClassifier((256, 128), batch_size=256, max_iter=3,
                                       random_state=0).fit(X, y)
                fits.append(np.concatenate([c.ravel() for c in m.coefs_]))
        assert np.array_equal(fits[0], fits[1])
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


@requires_native
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_threads_are_named_and_block_signals():
    """The pool's helpers (started by the first shared loop) show as
    mlpx-worker and block every signal, so Ctrl-C reaches Python."""
    X, y = _data("large", np.float32)
    with threadpoolctl.threadpool_limits(2):
        _model("large", "sgd", max_iter=1).fit(X, y)
    workers = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                if f.read().strip() == "mlpx-worker":
                    with open(f"/proc/self/task/{task}/status") as g:
                        workers.append(dict(line.split(":\t", 1) for line in g.read().splitlines()
                                            if ":\t" in line))
        except FileNotFoundError:
            continue
    assert workers, "no mlpx-worker thread after a two-thread fit"
    for w in workers:
        blocked = int(w["SigBlk"].strip(), 16)
        assert blocked & (1 << (2 - 1)), "SIGINT not blocked in a worker"  # signal 2
        assert bin(blocked).count("1") >= 30


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_trains_and_gets_the_parents_numbers():
    """A child forked after the workers started (it has none of its own)
    still trains, and gets the parent's bits."""
    import multiprocessing as mp

    X, y = _data("large", np.float64, seed=5)

    def fit():
        with threadpoolctl.threadpool_limits(2):
            m = _model("large", "sgd", max_iter=1).fit(X, y)
        return np.concatenate([c.ravel() for c in m.coefs_])

    ref = fit()  # starts the workers in this process
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put(fit()))
    child.start()
    try:
        got = queue.get(timeout=300)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert np.array_equal(got, ref)
