"""Kernel tests: the compiled ``mlpx._core`` and the NumPy twin
``mlpx._numpy_backend`` against central differences, a hand-worked network
and each other (native vs NumPy: max relative difference <= 1e-12 in float64,
<= 1e-5 in float32; "relative" = max |a - b| / max |b| over each array).

Native tests are skipped only when the extension is missing and
MLPX_BACKEND=numpy; otherwise a missing extension is a failure.
"""

import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

import mlpx
from mlpx import _numpy_backend as numpy_backend

from kernel_helpers import (ACTS, BACKENDS, BOUNDED_OUTS, OUTS, TOL, copy_all, hidden_preactivations,
                            make_data, make_net, native, new_state, rel, rel_all,
                            requires_native)


GRAD_SHAPES = [
    (1, (1, 1)),            # one sample, one feature, one output
    (1, (4, 3, 2)),         # one sample
    (5, (3, 7, 2)),         # odd width
    (4, (1, 5, 3, 4)),      # one feature, two hidden layers
    (3, (4, 3, 5, 2, 3)),   # three hidden layers
]


def _objective(backend, coefs, intercepts, X, Y, act, out, alpha, sw):
    """The loss loss_and_grad returns, which is the function whose gradient
    it returns, for every output (no correction for identity outputs)."""
    return backend.loss_and_grad(coefs, intercepts, X, Y, act, out, alpha, sw)[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("use_sw", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("out", OUTS)
@pytest.mark.parametrize("act", ACTS)
def test_gradient_matches_central_differences(backend, act, out, alpha, use_sw):
    # a seed per case that is the same in every process (hash() of a str is
    # salted per process: the drawn networks, and so this test, changed per run)
    rng = np.random.default_rng(zlib.crc32(repr((act, out, alpha, use_sw)).encode()))
    step = 1e-6
    for n, widths in GRAD_SHAPES:
        if out == "softmax" and widths[-1] == 1:
            widths = widths[:-1] + (2,)
        for _ in range(100):  # relu: keep every pre-activation away from the kink
            coefs, intercepts = make_net(widths, np.float64, rng)
            X, Y, sw = make_data(n, widths, out, np.float64, rng)
            H = hidden_preactivations(coefs, intercepts, X)
            if act != "relu" or all(np.min(np.abs(h)) > 1e-3 for h in H):
                break
        sw = sw if use_sw else None
        loss, cg, ig = backend.loss_and_grad(coefs, intercepts, X, Y, act, out, alpha, sw)
        assert np.isfinite(loss)
        params = coefs + intercepts
        analytic = np.concatenate([g.ravel() for g in cg + ig])
        numeric = np.empty_like(analytic)
        k = 0
        for p in params:
            flat = p.reshape(-1)
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old + step
                up = _objective(backend, coefs, intercepts, X, Y, act, out, alpha, sw)
                flat[j] = old - step
                down = _objective(backend, coefs, intercepts, X, Y, act, out, alpha, sw)
                flat[j] = old
                numeric[k] = (up - down) / (2 * step)
                k += 1
        denom = np.maximum(np.abs(analytic), 1e-2 * max(np.max(np.abs(analytic)), 1e-8))
        err = np.max(np.abs(numeric - analytic) / denom)
        assert err <= 1e-6, (n, widths, err)


# ---------------------------------------------------------------- hand-worked

@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_worked_2_2_1_logistic(backend):
    # x = [1, -1];  W0 = [[0.5, -0.25], [0.25, 0.5]];  b0 = [0, 0.25]
    # h1 = x @ W0 + b0 = [1*0.5 - 1*0.25 + 0, 1*(-0.25) - 1*0.5 + 0.25] = [0.25, -0.5]
    # z1 = sigmoid(h1) = [1/(1+e^-0.25), 1/(1+e^0.5)] = [0.5621765008857981, 0.3775406687981454]
    # W1 = [[1], [-1]];  b1 = [0.5]
    # h2 = 0.5621765008857981 - 0.3775406687981454 + 0.5 = 0.6846358320876527
    # p = sigmoid(h2) = 0.6647725804581883;  y = 1
    # loss = -log(p) = 0.408310281089641
    # D2 = p - y = -0.3352274195418117
    # dW1 = z1^T D2 = [0.5621765008857981 * D2, 0.3775406687981454 * D2]
    #     = [-0.1884569777189911, -0.12656198417329206];  db1 = D2
    # D1 = (D2 W1^T) * z1 (1 - z1) = [D2 * 1 * 0.24613408273759835, D2 * (-1) * 0.2350037122015945]
    #    = [-0.08251089341741587, 0.07877968802408708]
    # dW0 = x^T D1 = [[1*D1], [-1*D1]];  db0 = D1
    for dtype in (np.float64, np.float32):
        coefs = [np.array([[0.5, -0.25], [0.25, 0.5]], dtype), np.array([[1.0], [-1.0]], dtype)]
        intercepts = [np.array([0.0, 0.25], dtype), np.array([0.5], dtype)]
        X = np.array([[1.0, -1.0]], dtype)
        Y = np.array([[1.0]], dtype)
        tol = TOL[dtype] * 10
        P = backend.forward(coefs, intercepts, X, "logistic", "logistic")
        assert P.dtype == dtype
        assert rel(P, [[0.6647725804581883]]) <= tol
        loss, cg, ig = backend.loss_and_grad(coefs, intercepts, X, Y, "logistic",
                                             "logistic", 0.0, None)
        assert abs(loss - 0.408310281089641) <= tol
        D1 = [-0.08251089341741587, 0.07877968802408708]
        assert rel(cg[1], [[-0.1884569777189911], [-0.12656198417329206]]) <= tol
        assert rel(ig[1], [-0.3352274195418117]) <= tol
        assert rel(cg[0], [D1, [-d for d in D1]]) <= tol
        assert rel(ig[0], D1) <= tol


# ---------------------------------------------------------------- native vs NumPy

SWEEP_SHAPES = [
    (1, (1, 1)),
    (3, (7, 1, 2)),
    (17, (3, 33, 3)),
    (64, (64, 64, 10)),
    (129, (67, 17, 7, 5)),
    (513, (33, 67, 1)),
    (200, (5, 3, 3, 3, 4)),
]


def _outputs_for(out, widths):
    if out == "softmax" and widths[-1] == 1:
        return widths[:-1] + (2,)
    return widths


@requires_native
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n,widths", SWEEP_SHAPES)
def test_forward_and_grad_match_numpy(n, widths, dtype):
    rng = np.random.default_rng(n * 1000 + len(widths))
    tol = TOL[dtype]
    for act in ACTS:
        for out in OUTS:
            w = _outputs_for(out, widths)
            coefs, intercepts = make_net(w, dtype, rng)
            X, Y, sw = make_data(n, w, out, dtype, rng)
            P = native.forward(coefs, intercepts, X, act, out)
            assert P.dtype == dtype and P.shape == (n, w[-1])
            assert rel(P, numpy_backend.forward(coefs, intercepts, X, act, out)) <= tol
            for alpha, weights in ((0.0, None), (1e-2, sw)):
                got = native.loss_and_grad(coefs, intercepts, X, Y, act, out, alpha, weights)
                ref = numpy_backend.loss_and_grad(coefs, intercepts, X, Y, act, out, alpha,
                                                  weights)
                assert isinstance(got[0], float)
                assert abs(got[0] - ref[0]) <= tol * abs(ref[0]), (act, out)
                for g, r in zip(got[1] + got[2], ref[1] + ref[2]):
                    assert g.dtype == dtype and g.shape == r.shape
                assert rel_all(got[1] + got[2], ref[1] + ref[2]) <= tol, (act, out, alpha)



@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_mean_outputs_is_scikit_learns_squared_loss(backend, dtype):
    """mean_outputs (the estimators' loss_curve_ convention) divides the
    identity data term by the number of outputs, leaves the penalty and the
    gradient alone, and changes nothing for the other outputs."""
    rng = np.random.default_rng(11)
    widths = (4, 6, 3)
    tol = TOL[dtype]
    for out in OUTS:
        coefs, intercepts = make_net(widths, dtype, rng)
        X, Y, sw = make_data(9, widths, out, dtype, rng)
        alpha = 0.3
        summed = backend.loss_and_grad(coefs, intercepts, X, Y, "tanh", out, alpha, sw)
        mean = backend.loss_and_grad(coefs, intercepts, X, Y, "tanh", out, alpha, sw,
                                     mean_outputs=True)
        penalty = 0.5 * alpha * sum(float(np.sum(W.astype(np.float64) ** 2))
                                    for W in coefs) / float(sw.sum())
        want = (summed[0] - penalty) / 3 + penalty if out == "identity" else summed[0]
        assert abs(mean[0] - want) <= 10 * tol * abs(want), out
        for g, r in zip(mean[1] + mean[2], summed[1] + summed[2]):
            np.testing.assert_array_equal(g, r)

EPOCH_SHAPES = [
    # (rows, widths, batch_size)
    (1, (1, 1), 1),
    (7, (3, 1, 2), 3),
    (50, (5, 7, 3), 16),            # last batch of 2
    (100, (17, 33, 4), 32),
    (513, (67, 17, 3), 513),        # one full batch
    (600, (33, 67, 7, 5), 513),     # last batch of 87
    (300, (8, 64, 10), 1),          # batch of one row
    (200, (20, 3, 1), 200),
    # tiled epochs (epoch_tiles.c: a batch's GEMMs cut into tiles of rows or
    # columns, by their shapes): odd tile tails, one output, plain SGD folded
    (3 * 256 + 17, (300, 130, 70, 5), 256),  # columns and rows; last batch of 17
    (2 * 160 + 1, (150, 200, 1), 160),       # one output: rank-one backprop by tiles
    (1100, (90, 520, 12), 1100),             # one batch, wide hidden layer
    # odd batches and tails
    (16 * 16 + 5, (5, 7, 3), 16),   # last batch of 5
    (17 * 33 + 1, (9, 12, 1), 33),  # one output; last batch of 1 row
    (16 * 17 + 3, (40, 48, 6), 16),
    (16 * 18, (6, 1, 3), 16),       # one hidden unit
    (20 * 20, (6, 10, 8, 4), 20),   # three layers
    (17 * 17 + 1, (24, 40, 32, 5), 17),
]


SOLVERS = {
    "sgd": dict(solver="sgd", lr=0.01, momentum=0.0, nesterov=False),
    "momentum": dict(solver="sgd", lr=0.01, momentum=0.9, nesterov=False),
    "nesterov": dict(solver="sgd", lr=0.01, momentum=0.9, nesterov=True),
    "adam": dict(solver="adam", lr=1e-3, momentum=0.0, nesterov=False),
}


def _run_epoch(backend, coefs, intercepts, state, X, Y, sw, order, batch, act, out,
               alpha, opt, t, mean_outputs=False):
    lr = opt["lr"] * min(1.0, batch / 16)  # small batches: smaller steps, no divergence
    if out == "exp":  # exp's gradient grows with its output: with momentum,
        lr *= 0.1     # a step of 0.01 overflows on these random counts
    return backend.train_epoch(coefs, intercepts, X, Y, sw, order, batch, act, out, alpha,
                               opt["solver"], state, lr, opt["momentum"],
                               opt["nesterov"], 0.9, 0.999, 1e-8, t,
                               mean_outputs=mean_outputs)


@requires_native
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n,widths,batch", EPOCH_SHAPES)
def test_train_epoch_matches_numpy(n, widths, batch, dtype, solver):
    rng = np.random.default_rng(n + batch + len(widths))
    tol = TOL[dtype]
    if solver == "adam" and dtype == np.float32:
        # Adam's step m / sqrt(v) turns float32 rounding of a small gradient
        # into a larger change of the parameter. Seen on 40-48-6 (identity,
        # logistic): NumPy's float32 run 1.2e-5 from its float64 run, the
        # native two-thread run 3.5e-6 from it and 1.55e-5 from NumPy's; on
        # the tiled 300-130-70-5 (tanh, identity), NumPy's float32 run 3.9e-5
        # from float64 and the native one 6.8e-5 (float64 runs: 1e-13 apart).
        tol = 10 * tol
    opt = SOLVERS[solver]
    case = 0
    for act in ACTS:
        for out in OUTS:
            w = _outputs_for(out, widths)
            coefs, intercepts = make_net(w, dtype, rng)
            X, Y, sw = make_data(n, w, out, dtype, rng)
            order = rng.permutation(n) if case % 2 else None
            weights = sw if (case // 2) % 2 else None
            alpha = 1e-4 if case % 3 else 0.0
            mean_outputs = case % 5 == 1  # scikit-learn's loss value (identity)
            case += 1
            runs = []
            for backend in (native, numpy_backend):
                c, b = copy_all(coefs), copy_all(intercepts)
                state = new_state(c, b, opt["solver"])
                # two epochs: the second starts from a non-zero state and t
                losses = [_run_epoch(backend, c, b, state, X, Y, weights, order, batch,
                                     act, out, alpha, opt, t, mean_outputs)
                          for t in (0, -(-n // batch))]
                runs.append((losses, c + b, state))
            (l_nat, p_nat, s_nat), (l_np, p_np, s_np) = runs
            for a, r in zip(l_nat, l_np):
                assert abs(a - r) <= tol * abs(r), (act, out, a, r)
            assert all(a.dtype == dtype for a in p_nat + s_nat)
            assert rel_all(p_nat, p_np) <= tol, (act, out, rel_all(p_nat, p_np))
            assert rel_all(s_nat, s_np) <= tol, (act, out, rel_all(s_nat, s_np))



def _labels(kind, n, k, out, dtype, rng):
    """Targets for the output layer: "hard" one-hot (softmax) or 0/1
    (logistic); "soft" probability rows / fractions everywhere; "mixed" hard
    but for one row of soft labels (softmax) or one fractional entry."""
    if out == "softmax":
        Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
        soft = rng.dirichlet(np.ones(k), n).astype(dtype)
    else:
        Y = (rng.uniform(size=(n, k)) < 0.5).astype(dtype)
        soft = rng.uniform(size=(n, k)).astype(dtype)
    if kind == "soft":
        return soft
    if kind == "mixed":
        Y[n // 2] = soft[n // 2]
    return Y


@requires_native
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("out", ["softmax", "logistic"])
@pytest.mark.parametrize("k", [1, 2, 10, 64, 65, 130])
def test_output_layer_chunks_and_labels_match_numpy(k, out, dtype):
    """The output layer runs short rows (k <= 64) in transposed chunks of 16
    rows with one log per row (one-hot / 0-1 labels) or every log (other
    labels), and long rows row by row: every path, full and partial chunks,
    with and without sample weights, and the shuffled epoch that reads Y's
    rows in place, against the NumPy twin."""
    if out == "softmax" and k == 1:
        pytest.skip("softmax needs two classes")
    rng = np.random.default_rng(k * 7 + len(out))
    tol = TOL[dtype]
    widths = (6, 5, k)
    for n in (1, 15, 16, 17, 40):
        coefs, intercepts = make_net(widths, dtype, rng, scale=2.0)
        X = rng.normal(size=(n, widths[0])).astype(dtype)
        sw = rng.uniform(0.5, 2.0, n).astype(dtype)
        for kind in ("hard", "soft", "mixed"):
            Y = _labels(kind, n, k, out, dtype, rng)
            for weights in (None, sw):
                got = native.loss_and_grad(coefs, intercepts, X, Y, "logistic", out, 0.0,
                                           weights)
                ref = numpy_backend.loss_and_grad(coefs, intercepts, X, Y, "logistic", out,
                                                  0.0, weights)
                assert abs(got[0] - ref[0]) <= tol * abs(ref[0]), (n, kind, got[0], ref[0])
                assert rel_all(got[1] + got[2], ref[1] + ref[2]) <= tol, (n, kind)
            order = rng.permutation(n)
            runs = []
            for backend in (native, numpy_backend):
                c, b = copy_all(coefs), copy_all(intercepts)
                state = new_state(c, b, "sgd")
                loss = _run_epoch(backend, c, b, state, X, Y, sw, order, 8, "logistic", out,
                                  0.0, SOLVERS["sgd"], 0)
                runs.append((loss, c + b))
            assert abs(runs[0][0] - runs[1][0]) <= tol * abs(runs[1][0]), (n, kind)
            assert rel_all(runs[0][1], runs[1][1]) <= tol, (n, kind)


@requires_native
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("k", [3, 70])
def test_output_layer_nan_row_stays_nan(k, dtype):
    """A NaN logit makes its own row's probabilities NaN and the loss NaN,
    whichever row of a 16-row chunk it sits in; the other rows are unaffected."""
    rng = np.random.default_rng(k)
    n = 20
    coefs, intercepts = make_net((4, k), dtype, rng)
    X = rng.normal(size=(n, 4)).astype(dtype)
    X[5, 2] = np.nan
    Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    with np.errstate(invalid="ignore"):
        P = native.forward(coefs, intercepts, X, "identity", "softmax")
        ref = numpy_backend.forward(coefs, intercepts, X, "identity", "softmax")
        loss = native.loss_and_grad(coefs, intercepts, X, Y, "identity", "softmax", 0.0,
                                    None)[0]
    assert np.isnan(P[5]).all() and np.isnan(loss)
    keep = np.arange(n) != 5
    assert rel(P[keep], ref[keep]) <= TOL[dtype]


# ---------------------------------------------------------------- numerics

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("out", BOUNDED_OUTS)
@pytest.mark.parametrize("act", ACTS)
def test_extreme_preactivations_stay_finite(backend, act, out, dtype):
    rng = np.random.default_rng(7)
    # first-layer pre-activations spread over [-1e4, 1e4]; the output layer
    # sees +-1e4 as well (identity weights scaled, so no overflow anywhere)
    X = np.linspace(-1.0, 1.0, 40).reshape(20, 2).astype(dtype)
    coefs = [np.array([[1e4, -1e4, 5e3], [-1e4, 1e4, 1.0]], dtype),
             (rng.choice([-1.0, 1.0], size=(3, 3)) * 1.0).astype(dtype)]
    intercepts = [np.zeros(3, dtype), np.zeros(3, dtype)]
    if act in ("identity", "relu"):
        coefs[1] *= dtype(0.5)
    _, Y, sw = make_data(20, (2, 3, 3), out, dtype, rng)
    with np.errstate(all="ignore"):
        P = backend.forward(coefs, intercepts, X, act, out)
        loss, cg, ig = backend.loss_and_grad(coefs, intercepts, X, Y, act, out, 0.1, sw)
    assert np.all(np.isfinite(P))
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for g in cg + ig)
    if out != "identity":
        assert np.all(P >= 0) and np.all(P <= 1)
    if out == "softmax":
        assert np.allclose(P.sum(axis=1), 1, rtol=0, atol=10 * np.finfo(dtype).eps)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_softmax_of_overflowed_logits_is_its_limit(backend, dtype):
    # finite but huge output weights: row 0's logits overflow to
    # [+inf, +inf, -inf] (two columns tie at +inf); row 1's stay finite at
    # +-max. Softmax must give its limit (equal shares of the maxima), not
    # inf - inf = NaN
    big = np.finfo(dtype).max
    X = np.array([[1.0], [-1.0]], dtype)
    coefs = [np.array([[1.0]], dtype), np.array([[big, big, -big]], dtype)]
    intercepts = [np.zeros(1, dtype), np.array([big, big, -big], dtype)]
    Y = np.array([[1, 0, 0], [0, 0, 1]], dtype)
    with np.errstate(all="ignore"):
        P = backend.forward(coefs, intercepts, X, "relu", "softmax")
        loss, cg, ig = backend.loss_and_grad(coefs, intercepts, X, Y, "relu", "softmax", 0.0, None)
    np.testing.assert_array_equal(P[0], [0.5, 0.5, 0.0])
    assert np.isfinite(P).all() and np.allclose(P.sum(axis=1), 1)
    assert np.isfinite(loss)


@requires_native
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_activations_elementwise_accuracy(dtype):
    """logistic, tanh and softmax of the vector exp agree elementwise with NumPy
    (scipy.special.expit, numpy.tanh, numpy.exp) to a few ulp over the whole
    range, underflow to subnormals and 0 included."""
    from scipy.special import expit

    eps = np.finfo(dtype).eps
    hi = 800.0 if dtype == np.float64 else 120.0
    h = np.concatenate([np.linspace(-hi, hi, 20001), np.geomspace(1e-30, 1.0, 3001),
                        -np.geomspace(1e-30, 1.0, 3001), [0.0]]).astype(dtype)
    n = h.size
    one = [np.ones((1, 1), dtype)]
    zero = [np.zeros(1, dtype)]
    X = h.reshape(n, 1)
    tiny = np.finfo(dtype).tiny
    for act, ref in (("logistic", expit(h)), ("tanh", np.tanh(h))):
        got = native.forward(one * 2, zero * 2, X, act, "identity")[:, 0]
        normal = np.abs(ref) >= tiny
        err = np.abs(got - ref)[normal] / np.abs(ref)[normal]
        assert np.max(err) <= 4 * eps, (act, h[normal][np.argmax(err)])
        assert np.max(np.abs(got - ref)[~normal], initial=0) <= 2 * tiny * eps, act
    # softmax over two columns [h, 0] = [expit(h), expit(-h)]
    W = np.array([[1.0, 0.0]], dtype)
    P = native.forward([W], [np.zeros(2, dtype)], X, "identity", "softmax")
    ref = numpy_backend.forward([W], [np.zeros(2, dtype)], X, "identity", "softmax")
    normal = np.abs(ref) >= tiny
    assert np.max(np.abs(P - ref)[normal] / np.abs(ref)[normal]) <= 8 * eps


@requires_native
@pytest.mark.parametrize("target", [0.0, 1.0, 0.3])
def test_loss_log_accuracy(target):
    """The loss's inline log agrees with NumPy's: the per-row binary
    cross-entropy of one-unit networks, p = expit(h) swept over [eps, 1 - eps]
    (and clipped beyond), native vs the NumPy twin, float64, to 8 ulp
    (measured: 3.3 ulp at worst; the two sum the terms in different orders)."""
    dtype = np.float64
    h = np.concatenate([np.linspace(-40, 40, 1201), np.geomspace(1e-12, 30, 400),
                        -np.geomspace(1e-12, 30, 400)])
    one = [np.ones((1, 1), dtype)]
    zero = [np.zeros(1, dtype)]
    worst = 0.0
    for v in h:
        X = np.array([[v]], dtype)
        Y = np.array([[target]], dtype)
        a = native.loss_and_grad(one, zero, X, Y, "identity", "logistic", 0.0, None)[0]
        b = numpy_backend.loss_and_grad(one, zero, X, Y, "identity", "logistic", 0.0, None)[0]
        assert np.isfinite(a) and (a == b or b != 0)
        if b != 0:
            worst = max(worst, abs(a - b) / abs(b))
    assert worst <= 8 * np.finfo(dtype).eps, worst


def test_import_keeps_subnormals():
    """No flush-to-zero / denormals-are-zero after importing mlpx and using it."""
    assert mlpx.get_backend() in ("native", "numpy")
    if native is not None:
        rng = np.random.default_rng(0)
        coefs, intercepts = make_net((3, 4, 2), np.float32, rng)
        native.forward(coefs, intercepts, np.ones((2, 3), np.float32), "logistic", "softmax")
    assert np.float64(5e-324) * 1.0 != 0
    assert np.float32(1e-45) * np.float32(1.0) != 0
    assert np.float64(2.2250738585072014e-308) / 2 != 0


# ---------------------------------------------------------------- validation

@requires_native
def test_bridge_rejects_wrong_calls():
    rng = np.random.default_rng(0)
    coefs, intercepts = make_net((3, 4, 2), np.float64, rng)
    X, Y, sw = make_data(5, (3, 4, 2), "softmax", np.float64, rng)
    f = native.forward
    lg = native.loss_and_grad

    def epoch(**kw):
        args = dict(coefs=copy_all(coefs), intercepts=copy_all(intercepts), X=X, Y=Y,
                    sample_weight=None, order=None, batch_size=2, activation="relu",
                    out_activation="softmax", alpha=0.0, solver="sgd", state=None,
                    lr=0.1, momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                    epsilon=1e-8, t=0)
        args.update(kw)
        if args["state"] is None:
            args["state"] = new_state(args["coefs"], args["intercepts"], args["solver"])
        return native.train_epoch(**args)

    with pytest.raises(TypeError, match="X"):
        f(coefs, intercepts, X.astype(np.int64), "relu", "softmax")
    with pytest.raises(TypeError, match=r"coefs\[1\]"):
        f([coefs[0], coefs[1].astype(np.float32)], intercepts, X, "relu", "softmax")
    with pytest.raises(ValueError, match="C-contiguous"):
        f(coefs, intercepts, np.asfortranarray(np.ones((5, 3))), "relu", "softmax")
    with pytest.raises(ValueError, match=r"coefs\[0\]"):
        f(coefs, intercepts, np.ones((5, 4)), "relu", "softmax")
    with pytest.raises(ValueError, match=r"intercepts\[1\]"):
        f(coefs, [intercepts[0], np.zeros(3)], X, "relu", "softmax")
    with pytest.raises(ValueError, match="activation"):
        f(coefs, intercepts, X, "sigmoid", "softmax")
    with pytest.raises(ValueError, match="out_activation"):
        f(coefs, intercepts, X, "relu", "relu")
    with pytest.raises(ValueError, match="X must be 2-D"):
        f(coefs, intercepts, X[0], "relu", "softmax")
    with pytest.raises(ValueError, match="Y"):
        lg(coefs, intercepts, X, Y[:4], "relu", "softmax", 0.0, None)
    with pytest.raises(ValueError, match="Y"):
        lg(coefs, intercepts, X, Y[:, 0].copy(), "relu", "softmax", 0.0, None)
    with pytest.raises(ValueError, match="sample_weight"):
        lg(coefs, intercepts, X, Y, "relu", "softmax", 0.0, sw[:3])
    with pytest.raises(TypeError, match="sample_weight"):
        lg(coefs, intercepts, X, Y, "relu", "softmax", 0.0, sw.astype(np.float32))
    with pytest.raises(ValueError, match="intercepts"):
        lg(coefs, intercepts[:1], X, Y, "relu", "softmax", 0.0, None)
    with pytest.raises(TypeError, match="order"):
        epoch(order=np.arange(5, dtype=np.int32))
    with pytest.raises(ValueError, match="order"):
        epoch(order=np.arange(4, dtype=np.int64))
    with pytest.raises(ValueError, match="order"):
        epoch(order=np.arange(1, 6, dtype=np.int64))
    with pytest.raises(ValueError, match="batch_size"):
        epoch(batch_size=0)
    with pytest.raises(ValueError, match="solver"):
        epoch(solver="lbfgs", state=[])
    with pytest.raises(ValueError, match="state"):
        epoch(state=[np.zeros_like(coefs[0])])
    with pytest.raises(ValueError, match=r"state\[1\]"):
        epoch(state=[np.zeros_like(coefs[0]), np.zeros((2, 2)),
                     np.zeros(4), np.zeros(2)])
    with pytest.raises(ValueError, match="state"):
        epoch(solver="adam", state=new_state(coefs, intercepts, "sgd"))
    buf = np.zeros(X.size * 8 + 8, np.uint8)
    misaligned = np.frombuffer(buf.data, np.float64, X.size, offset=3).reshape(X.shape)
    with pytest.raises(ValueError, match="aligned"):
        f(coefs, intercepts, misaligned, "relu", "softmax")
    with pytest.raises(TypeError, match="X"):
        f(coefs, intercepts, X.astype(X.dtype.newbyteorder()), "relu", "softmax")
    ro = copy_all(coefs)
    ro[0].flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        epoch(coefs=ro)
    # read-only inputs are fine where nothing is written
    Xr, cr = X.copy(), copy_all(coefs)
    Xr.flags.writeable = False
    for c in cr:
        c.flags.writeable = False
    assert np.all(np.isfinite(f(cr, intercepts, Xr, "relu", "softmax")))
    assert np.isfinite(lg(cr, intercepts, Xr, Y, "relu", "softmax", 0.0, None)[0])
    # zero rows: forward gives an empty output; training needs rows
    assert f(coefs, intercepts, X[:0], "relu", "softmax").shape == (0, 2)
    with pytest.raises(ValueError, match="row"):
        lg(coefs, intercepts, X[:0], Y[:0], "relu", "softmax", 0.0, None)


@requires_native
def test_native_without_blas_raises_runtime_error():
    """Calling the kernels before ``_set_blas`` raises, never crashes."""
    code = (
        "import numpy as np\n"
        "from mlpx import _core\n"
        "c = [np.ones((2, 1))]; b = [np.zeros(1)]; X = np.ones((3, 2)); Y = np.ones((3, 1))\n"
        "for call in (lambda: _core.forward(c, b, X, 'relu', 'logistic'),\n"
        "             lambda: _core.loss_and_grad(c, b, X, Y, 'relu', 'logistic', 0.0, None),\n"
        "             lambda: _core.train_epoch(c, b, X, Y, None, None, 2, 'relu', 'logistic',\n"
        "                 0.0, 'sgd', [np.zeros((2, 1)), np.zeros(1)], 0.1, 0.0, False,\n"
        "                 0.9, 0.999, 1e-8, 0)):\n"
        "    try:\n"
        "        call()\n"
        "    except RuntimeError as exc:\n"
        "        assert '_set_blas' in str(exc)\n"
        "    else:\n"
        "        raise SystemExit('no RuntimeError')\n"
    )
    env = dict(os.environ, MLPX_BACKEND="numpy")  # the switch then leaves _core alone
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_activation_names_listed_once():
    """Both backends take their activation names from mlpx._activations, and
    the compiled bridge maps each of them to an engine code."""
    from mlpx import _activations

    assert numpy_backend.ACTIVATIONS is _activations.ACTIVATIONS
    assert numpy_backend.OUT_ACTIVATIONS is _activations.OUT_ACTIVATIONS
    if native is not None:
        assert native.ACTIVATIONS is _activations.ACTIVATIONS
        assert native.OUT_ACTIVATIONS is _activations.OUT_ACTIVATIONS
        names = set(_activations.ACTIVATIONS) | set(_activations.OUT_ACTIVATIONS)
        assert names <= set(native._ACT_CODE), names - set(native._ACT_CODE)


def _counting_gemms(p):
    """ctypes GEMMs that count their calls and forward them to the BLAS ``p``
    (``_backend.blas_provider()``): their addresses, the counts, and the
    callbacks (keep them alive while the addresses are in use)."""
    import ctypes

    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)
    real = {k: proto(p[k]) for k in ("sgemm", "dgemm")}
    calls = {"sgemm": 0, "dgemm": 0}

    def forwarding(kind):
        def gemm(*args):
            calls[kind] += 1
            real[kind](*args)
        return proto(gemm)

    wrappers = {k: forwarding(k) for k in calls}
    addr = {k: ctypes.cast(w, ctypes.c_void_p).value for k, w in wrappers.items()}
    return addr, calls, (wrappers, real)


@requires_native
def test_routed_gemm_sees_every_gemm_then_gives_the_table_back():
    """_backend.routed_gemm (the diagnostics hook benchmarks/dev/gemmcount.py
    uses) sends the engine's GEMMs through other functions, then restores."""
    from mlpx import _backend

    if _backend.get_backend() != "native":
        with pytest.raises(RuntimeError, match="native backend"):
            with _backend.routed_gemm(1, 1):
                pass
        return
    p = _backend.blas_provider()
    addr, calls, _keep = _counting_gemms(p)
    rng = np.random.default_rng(0)
    coefs, intercepts = make_net((5, 4, 3), np.float64, rng)
    X = rng.normal(size=(7, 5))
    ref = native.forward(coefs, intercepts, X, "logistic", "softmax")
    with _backend.routed_gemm(addr["sgemm"], addr["dgemm"]) as seen:
        assert seen["dgemm"] == p["dgemm"]
        got = native.forward(coefs, intercepts, X, "logistic", "softmax")
    assert calls["dgemm"] >= 2 and calls["sgemm"] == 0, calls
    assert np.array_equal(got, ref)
    before = dict(calls)
    native.forward(coefs, intercepts, X, "logistic", "softmax")
    assert calls == before


@requires_native
def test_one_row_and_one_column_products_agree_through_gemv_and_gemm():
    """Products with one row or one column go to the BLAS's GEMV (blas.c);
    routed_gemm takes them out of the table while it runs, so the same calls
    then go through GEMM: both give the same numbers, up to rounding, and
    the table (GEMV included) is back afterwards."""
    from mlpx import _backend

    if _backend.get_backend() != "native":
        pytest.skip("native backend only")
    p = _backend.blas_provider()
    assert p.get("sgemv") and p.get("dgemv"), "the BLAS in use has no GEMV addresses"
    addr, calls, _keep = _counting_gemms(p)
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        kind = "sgemm" if dtype == np.float32 else "dgemm"
        tol = 1e-6 if dtype == np.float32 else 1e-13
        for sizes, rows in (((40, 30, 10), 1), ((40, 30, 1), 9), ((1, 30, 1), 9)):
            coefs, intercepts = make_net(sizes, dtype, rng)
            X = rng.normal(size=(rows, sizes[0])).astype(dtype)
            Y = rng.integers(0, 2, size=(rows, sizes[-1])).astype(dtype)
            out = "softmax" if sizes[-1] > 1 else "logistic"
            before = dict(calls)
            by_gemv = native.forward(coefs, intercepts, X, "logistic", out)
            lg = native.loss_and_grad(coefs, intercepts, X, Y, "logistic", out, 0.0, None)
            assert calls == before, "a GEMM wrapper was called outside routed_gemm"
            with _backend.routed_gemm(addr["sgemm"], addr["dgemm"]):
                by_gemm = native.forward(coefs, intercepts, X, "logistic", out)
                lg2 = native.loss_and_grad(coefs, intercepts, X, Y, "logistic", out, 0.0, None)
            assert calls[kind] > before[kind]
            np.testing.assert_allclose(by_gemv, by_gemm, rtol=tol, atol=tol)
            np.testing.assert_allclose(lg[0], lg2[0], rtol=tol)
            for a, b in zip(lg[1] + lg[2], lg2[1] + lg2[2]):
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="both"):
        native._set_gemv(p["sgemv"], None)
