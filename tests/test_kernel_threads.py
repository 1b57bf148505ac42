"""Kernel calls under threads: the GIL is released during a native epoch, and
``forward``'s finiteness check gives the same answer whichever threads scan
X. (Bits that do not depend on the thread count, for fit and predict, are
tests/test_threads.py.)"""

import threading
import time

import numpy as np
import pytest

from kernel_helpers import BACKENDS, make_data, make_net, native, new_state, requires_native


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("widths", [(20, 48, 7), (300, 64, 3)], ids=["small", "wide"])
@pytest.mark.parametrize("limit", [1, 2])
def test_forward_check_finite(backend, dtype, widths, limit):
    """forward(..., check_finite=True) is forward's output, bit for bit, for
    finite X, and ValueError for one NaN, +inf or -inf anywhere in X: first
    or last entry, the tail of a 512-entry scan block, a later row block,
    blocks run by other threads. The pass stops at the first bad block."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(21)
    coefs, intercepts = make_net(widths, dtype, rng)
    n = 3001
    X = rng.normal(size=(n, widths[0])).astype(dtype)
    X_orig = X.copy()
    with threadpoolctl.threadpool_limits(limit):
        ref = backend.forward(coefs, intercepts, X, "logistic", "softmax")
        got = backend.forward(coefs, intercepts, X, "logistic", "softmax", check_finite=True)
        assert got.dtype == dtype and np.array_equal(got, ref)
        flat = [0, X.size - 1, 511, 512, 1023 * widths[0] + 5, X.size // 2, X.size - 513]
        for k, bad in zip(flat, [np.nan, np.inf, -np.inf] * 3):
            Xb = X.copy()
            Xb.flat[k] = bad
            with pytest.raises(ValueError, match="X contains NaN or infinity"):
                backend.forward(coefs, intercepts, Xb, "logistic", "softmax", check_finite=True)
            # unchecked, the value simply flows through
            out = backend.forward(coefs, intercepts, Xb, "logistic", "softmax")
            assert out.shape == ref.shape
    assert np.array_equal(X, X_orig)


@requires_native
def test_gil_released_during_train_epoch():
    """A Python heartbeat thread keeps ticking during one long native call."""
    rng = np.random.default_rng(3)
    widths = (256, 512, 512, 10)
    coefs, intercepts = make_net(widths, np.float64, rng)
    X0, Y0, _ = make_data(512, widths, "softmax", np.float64, rng)
    ticks, done = [0], threading.Event()

    def heartbeat():
        while not done.is_set():
            ticks[0] += 1
            time.sleep(0.01)

    thread = threading.Thread(target=heartbeat)
    thread.start()
    try:
        reps = 1
        while True:  # grow the call until it lasts >= 0.5 s
            X, Y = np.tile(X0, (reps, 1)), np.tile(Y0, (reps, 1))
            state = new_state(coefs, intercepts, "sgd")
            before = ticks[0]
            t0 = time.perf_counter()
            native.train_epoch(coefs, intercepts, X, Y, None, None, 32, "logistic",
                               "softmax", 1e-4, "sgd", state, 1e-3, 0.9, False, 0.9,
                               0.999, 1e-8, 0)
            elapsed = time.perf_counter() - t0
            during = ticks[0] - before
            if elapsed >= 0.5 or reps >= 1024:
                break
            reps *= 2
    finally:
        done.set()
        thread.join()
    assert elapsed >= 0.5, elapsed
    assert during >= 5, (during, elapsed)
