"""Fuzzing the native entry points: random shapes, dtypes, strides and values
(hypothesis). Every call either computes finite results equal to the NumPy
twin or raises ValueError/TypeError; never a crash (CI also runs this under
AddressSanitizer + UBSan, with a bigger budget via MLPX_FUZZ_EXAMPLES)."""

import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import mlpx  # noqa: E402
from mlpx import _numpy_backend  # noqa: E402

EXAMPLES = int(os.environ.get("MLPX_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _native():
    if mlpx.get_backend() != "native":
        pytest.skip("native backend not active (MLPX_BACKEND=numpy or no extension)")
    from mlpx import _core
    return _core


@st.composite
def networks(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    sizes = draw(st.lists(st.integers(1, 9), min_size=2, max_size=5))
    n = draw(st.integers(1, 12))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    coefs = [(rng.normal(size=(a, b)) * scale).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    intercepts = [(rng.normal(size=b) * scale).astype(dtype) for b in sizes[1:]]
    X = (rng.normal(size=(n, sizes[0])) * scale).astype(dtype)
    if draw(st.booleans()):  # a strided, Fortran-ordered, read-only or misaligned view
        kind = draw(st.sampled_from(["strided", "fortran", "readonly", "misaligned"]))
        if kind == "misaligned":  # np.frombuffer at an odd offset
            buf = bytearray(X.nbytes + X.itemsize)
            off = draw(st.integers(1, X.itemsize - 1))
            M = np.frombuffer(buf, X.dtype, X.size, off).reshape(X.shape)
            M[...] = X
            X = M
        elif kind == "strided":
            big = np.zeros((2 * n, 2 * sizes[0]), dtype)
            big[::2, ::2] = X
            X = big[::2, ::2]
        elif kind == "fortran":
            X = np.asfortranarray(X)
        else:
            X.flags.writeable = False
    act = draw(st.sampled_from(["identity", "logistic", "tanh", "relu"]))
    out = draw(st.sampled_from(["identity", "logistic", "softmax"]))
    Y = rng.random((n, sizes[-1])).astype(dtype)
    sw = rng.random(n).astype(dtype) + 0.1 if draw(st.booleans()) else None
    return coefs, intercepts, X, Y, sw, act, out


@FUZZ
@given(networks())
def test_public_api_finite_and_equal_to_numpy(net):
    coefs, intercepts, X, Y, sw, act, out = net
    before = [a.copy() for a in coefs + intercepts + [X, Y]]
    P = mlpx.forward(coefs, intercepts, X, activation=act, out_activation=out)
    loss, gW, gb = mlpx.loss_and_grad(coefs, intercepts, X, Y, activation=act,
                                      out_activation=out, alpha=0.1, sample_weight=sw)
    for a, c in zip(coefs + intercepts + [X, Y], before):
        np.testing.assert_array_equal(a, c)
    with np.errstate(all="ignore"):
        if out != "identity":
            assert np.isfinite(P).all() and (P >= 0).all() and (P <= 1).all()
            assert np.isfinite(loss)
            assert all(np.isfinite(g).all() for g in gW + gb)
    Xc = np.ascontiguousarray(X)
    P_np = _numpy_backend.forward(coefs, intercepts, Xc, act, out)
    loss_np = _numpy_backend.loss_and_grad(coefs, intercepts, Xc, Y, act, out, 0.1, sw)[0]
    tol = 1e-4 if coefs[0].dtype == np.float32 else 1e-10
    np.testing.assert_allclose(P, P_np, rtol=tol, atol=tol)
    np.testing.assert_allclose(loss, loss_np, rtol=tol, atol=tol)


def _valid_args(dtype=np.float64, n=5, sizes=(3, 4, 2)):
    rng = np.random.default_rng(0)
    coefs = [rng.normal(size=(a, b)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    intercepts = [np.zeros(b, dtype) for b in sizes[1:]]
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    return coefs, intercepts, X, Y


@FUZZ
@given(st.data())
def test_native_rejects_malformed_arguments(data):
    core = _native()
    coefs, intercepts, X, Y = _valid_args()
    corruption = data.draw(st.sampled_from([
        "X_f32", "X_fortran", "X_1d", "X_cols", "coef_chain", "intercept_len",
        "Y_rows", "Y_cols", "sw_len", "sw_dtype", "order_range", "order_neg",
        "order_len", "order_dtype", "batch_zero", "activation", "out", "solver",
        "state_len", "state_shape", "layers",
    ]))
    order = np.arange(X.shape[0], dtype=np.int64)
    sw = None
    batch, act, out, solver = 2, "logistic", "softmax", "sgd"
    state = [np.zeros_like(a) for a in coefs + intercepts]
    if corruption == "X_f32":
        X = X.astype(np.float32)
    elif corruption == "X_fortran":
        X = np.asfortranarray(X)  # not C-contiguous
    elif corruption == "X_1d":
        X = X[0].copy()
    elif corruption == "X_cols":
        X = np.ascontiguousarray(X[:, :2])
    elif corruption == "coef_chain":
        coefs = [coefs[0], np.ascontiguousarray(coefs[1][:3])]
    elif corruption == "intercept_len":
        intercepts = [intercepts[0][:3].copy(), intercepts[1]]
    elif corruption == "Y_rows":
        Y = Y[:3].copy()
    elif corruption == "Y_cols":
        Y = np.ascontiguousarray(Y[:, :1])
    elif corruption == "sw_len":
        sw = np.ones(X.shape[0] + 1)
    elif corruption == "sw_dtype":
        sw = np.ones(X.shape[0], np.float32)
    elif corruption == "order_range":
        order[data.draw(st.integers(0, len(order) - 1))] = data.draw(st.integers(X.shape[0], 2**40))
    elif corruption == "order_neg":
        order[0] = -data.draw(st.integers(1, 2**40))
    elif corruption == "order_len":
        order = order[:-1].copy()
    elif corruption == "order_dtype":
        order = order.astype(np.int32)
    elif corruption == "batch_zero":
        batch = data.draw(st.integers(-5, 0))
    elif corruption == "activation":
        act = "swish"
    elif corruption == "out":
        out = "tanh"
    elif corruption == "solver":
        solver = "rmsprop"
    elif corruption == "state_len":
        state = state[:-1]
    elif corruption == "state_shape":
        state[0] = np.zeros((1, 1))
    elif corruption == "layers":
        intercepts = intercepts[:1]
    with pytest.raises((ValueError, TypeError)):
        if corruption in ("X_f32", "X_fortran", "X_1d", "X_cols", "coef_chain",
                          "intercept_len", "activation", "out", "layers"):
            # forward-level corruption: every entry point must refuse it
            try:
                core.forward(coefs, intercepts, X, act, out)
            except (ValueError, TypeError):
                pass
            else:
                raise AssertionError("forward accepted " + corruption)
            try:
                core.loss_and_grad(coefs, intercepts, X, Y, act, out, 0.0, sw)
            except (ValueError, TypeError):
                pass
            else:
                raise AssertionError("loss_and_grad accepted " + corruption)
        core.train_epoch(coefs, intercepts, X, Y, sw, order, batch, act, out, 0.0,
                         solver, state, 0.1, 0.9, True, 0.9, 0.999, 1e-8, 0)


@st.composite
def epochs(draw):
    """A whole train_epoch call: random widths, rows, batch size (also larger
    than the data), visiting order (permutation, repeats, or none), sample
    weights, solver and optimizer settings, Adam step count."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    sizes = draw(st.lists(st.integers(1, 9), min_size=2, max_size=4))
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    coefs = [rng.normal(0, 0.5, (a, b)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    intercepts = [rng.normal(0, 0.5, b).astype(dtype) for b in sizes[1:]]
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    out = draw(st.sampled_from(["identity", "logistic", "softmax"]))
    if out == "softmax":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    else:
        Y = (rng.random((n, sizes[-1])) > 0.5).astype(dtype)
    sw = (rng.random(n) + 0.1).astype(dtype) if draw(st.booleans()) else None
    order_kind = draw(st.sampled_from(["none", "permutation", "repeats"]))
    order = {"none": None,
             "permutation": rng.permutation(n).astype(np.int64),
             "repeats": rng.integers(0, n, n).astype(np.int64)}[order_kind]
    batch = draw(st.one_of(st.integers(1, n), st.integers(n, 3 * n + 5)))
    solver = draw(st.sampled_from(["sgd", "adam"]))
    copies = 1 if solver == "sgd" else 2
    state = [np.zeros_like(p) for _ in range(copies) for p in coefs + intercepts]
    if draw(st.booleans()):  # a later epoch: nonzero state, later Adam step
        state = [(rng.normal(size=s.shape) * 0.01).astype(dtype) for s in state]
        if solver == "adam":
            K2 = len(state) // 2
            state[K2:] = [np.abs(s) for s in state[K2:]]  # second moments >= 0
    kw = dict(
        batch_size=batch, activation=draw(st.sampled_from(["identity", "logistic", "tanh", "relu"])),
        out_activation=out, alpha=draw(st.sampled_from([0.0, 1e-4, 0.5])), solver=solver,
        lr=draw(st.sampled_from([1e-3, 0.05])), momentum=draw(st.sampled_from([0.0, 0.9])),
        nesterov=draw(st.booleans()), beta_1=0.9, beta_2=0.999, epsilon=1e-8,
        t=draw(st.integers(0, 50)) if solver == "adam" else 0,
    )
    return coefs, intercepts, X, Y, sw, order, state, kw


@FUZZ
@given(epochs())
def test_train_epoch_equal_to_numpy(case):
    """The native epoch loop (gather by order, batches, optimizer step in
    place) against the NumPy twin; read-only inputs are never written."""
    core = _native()
    coefs, intercepts, X, Y, sw, order, state, kw = case
    reads = [a for a in (X, Y, sw, order) if a is not None]
    for a in reads:
        a.flags.writeable = False  # the bridge must accept read-only inputs
    twin = ([c.copy() for c in coefs], [b.copy() for b in intercepts],
            [s.copy() for s in state])
    args = lambda c, b, s: (c, b, X, Y, sw, order, kw["batch_size"], kw["activation"],
                            kw["out_activation"], kw["alpha"], kw["solver"], s, kw["lr"],
                            kw["momentum"], kw["nesterov"], kw["beta_1"], kw["beta_2"],
                            kw["epsilon"], kw["t"])
    loss = core.train_epoch(*args(coefs, intercepts, state))
    with np.errstate(all="ignore"):
        loss_np = _numpy_backend.train_epoch(*args(*twin))
    f32 = X.dtype == np.float32
    tol = 2e-3 if f32 else 1e-9
    np.testing.assert_allclose(loss, loss_np, rtol=tol, atol=tol)
    for got, want in zip(coefs + intercepts + state, twin[0] + twin[1] + twin[2]):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@FUZZ
@given(st.data())
def test_native_rejects_bad_layout(data):
    """Arrays that are not C-contiguous, not aligned, read-only where written
    or of another dtype are refused by every entry point (never read)."""
    core = _native()
    coefs, intercepts, X, Y = _valid_args(dtype=data.draw(st.sampled_from([np.float32, np.float64])))
    state = [np.zeros_like(a) for a in coefs + intercepts]
    target = data.draw(st.sampled_from(["X", "Y", "coefs", "intercepts", "state", "sw"]))
    kind = data.draw(st.sampled_from(["misaligned", "strided", "readonly", "byteswapped"]))
    sw = np.ones(X.shape[0], X.dtype)
    pools = {"X": [X], "Y": [Y], "coefs": coefs, "intercepts": intercepts,
             "state": state, "sw": [sw]}
    pool = pools[target]
    i = data.draw(st.integers(0, len(pool) - 1))
    a = pool[i]
    if kind == "misaligned":
        buf = bytearray(a.nbytes + a.itemsize)
        off = data.draw(st.integers(1, a.itemsize - 1))
        bad = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=off).reshape(a.shape)
        bad[...] = a
    elif kind == "strided":
        big = np.zeros((2 * a.size,), a.dtype)
        big[::2] = a.ravel()
        bad = big[::2].reshape(a.shape) if a.ndim == 1 else big[::2].reshape(a.shape)
        if bad.flags.c_contiguous:  # a single element is contiguous whatever the stride
            return
    elif kind == "readonly":
        if target not in ("coefs", "intercepts", "state"):
            return  # read-only is fine for inputs (test_train_epoch_equal_to_numpy)
        bad = a.copy()
        bad.flags.writeable = False
    else:
        bad = a.astype(a.dtype.newbyteorder())
    pool[i] = bad
    X, Y, sw = pools["X"][0], pools["Y"][0], pools["sw"][0]
    with pytest.raises((ValueError, TypeError)):
        core.train_epoch(coefs, intercepts, X, Y, sw, None, 2, "logistic", "softmax",
                         0.0, "sgd", state, 0.1, 0.9, True, 0.9, 0.999, 1e-8, 0)
    if kind != "readonly" and target != "state":
        with pytest.raises((ValueError, TypeError)):
            core.loss_and_grad(coefs, intercepts, X, Y, "logistic", "softmax", 0.0, sw)
        if target in ("X", "coefs", "intercepts"):
            with pytest.raises((ValueError, TypeError)):
                core.forward(coefs, intercepts, X, "logistic", "softmax")
