"""Kernel paths (csrc/dispatch.c): on x86-64 the elementwise kernels are
compiled once per ISA level (x86-64, x86-64-v3, x86-64-v4) and one level is
chosen per process, the best the CPU supports, capped by the environment
variable MLPX_CPU. Every path this CPU can run trains like the NumPy twin
(tolerances of test_kernels.py), and asking for a level the CPU lacks falls
back to the best one it has. Each case runs in a child process, since the
choice is made once per process.

The child reports the path through ``mlpx._core._kernel_path()`` when the
bridge has it, else through ``mlpx_kernel_path`` read with ctypes from the
extension; without either, only the numbers are checked.
"""

import json
import os
import platform
import subprocess
import sys

import pytest


try:
    from mlpx import _core
except ImportError:  # MLPX_BACKEND=numpy runs without the extension
    _core = None

pytestmark = pytest.mark.skipif(_core is None, reason="compiled mlpx._core unavailable")

LEVELS = ("x86-64", "x86-64-v3", "x86-64-v4")

# The child: a few epochs of small networks through the native engine and the
# NumPy twin, float32 and float64, three optimizers; then logistic and tanh
# over a sweep against SciPy/NumPy. Prints one JSON line.
CHILD = r"""
import ctypes, json, math, sys, zlib
import numpy as np
from scipy.special import expit
from mlpx import _blas, _core, _numpy_backend as ref

_blas.install(_core)

def kernel_path():
    f = getattr(_core, "_kernel_path", None)
    if f is not None:
        return f()
    try:
        c = ctypes.CDLL(_core.__file__).mlpx_kernel_path
    except (OSError, AttributeError):
        return None
    c.restype = ctypes.c_char_p
    return c().decode()

def rel(got, want):
    a = np.concatenate([np.ravel(x).astype(np.float64) for x in got])
    b = np.concatenate([np.ravel(x).astype(np.float64) for x in want])
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

CASES = [  # widths, batch, hidden, output, solver, momentum, nesterov, lr
    ((12, 24, 3), 16, "logistic", "softmax", "sgd", 0.9, False, 0.05),
    ((12, 20, 16, 4), 32, "tanh", "logistic", "adam", 0.0, False, 1e-3),
    ((12, 33, 2), 8, "relu", "identity", "sgd", 0.9, True, 0.01),
    ((30, 32, 1), 64, "logistic", "logistic", "sgd", 0.0, False, 0.1),
]
out = {"path": kernel_path(), "cases": []}
for dtype in (np.float32, np.float64):
    for k, (widths, batch, act, outa, solver, mu, nest, lr) in enumerate(CASES):
        rng = np.random.default_rng(k)
        n = 8 * batch + 5
        coefs = [rng.uniform(-1, 1, (a, b)).astype(dtype) * math.sqrt(6 / (a + b))
                 for a, b in zip(widths[:-1], widths[1:])]
        inter = [rng.uniform(-0.5, 0.5, b).astype(dtype) for b in widths[1:]]
        X = rng.normal(size=(n, widths[0])).astype(dtype)
        if outa == "softmax":
            Y = np.eye(widths[-1], dtype=dtype)[rng.integers(0, widths[-1], n)]
        elif outa == "logistic":
            Y = (rng.uniform(size=(n, widths[-1])) < 0.5).astype(dtype)
        else:
            Y = rng.normal(size=(n, widths[-1])).astype(dtype)
        runs = []
        for backend in (_core, ref):
            c = [a.copy() for a in coefs]
            b = [a.copy() for a in inter]
            state = [np.zeros_like(p) for p in (c + b) * (2 if solver == "adam" else 1)]
            losses = []
            for epoch in range(3):
                order = np.random.default_rng(epoch).permutation(n)
                losses.append(backend.train_epoch(
                    c, b, X, Y, None, order, batch, act, outa, 1e-4, solver, state,
                    lr, mu, nest, 0.9, 0.999, 1e-8, epoch * -(-n // batch)))
            runs.append((losses, c + b, state))
        (ln, pn, sn), (lr_, pr, sr) = runs
        out["cases"].append(dict(
            dtype=np.dtype(dtype).name, case=k, solver=solver,
            loss=max(abs(a - b) / abs(b) for a, b in zip(ln, lr_)),
            params=rel(pn, pr), state=rel(sn, sr)))
    h = np.concatenate([np.linspace(-30, 30, 20001), np.geomspace(1e-8, 1, 2001)]).astype(dtype)
    one, zero = [np.ones((1, 1), dtype)] * 2, [np.zeros(1, dtype)] * 2
    X = h.reshape(-1, 1)
    for act, want in (("logistic", expit(h)), ("tanh", np.tanh(h))):
        got = _core.forward(one, zero, X, act, "identity")[:, 0]
        nz = want != 0
        out[act + "_" + np.dtype(dtype).name] = dict(
            ulp=float(np.max(np.abs(got - want)[nz] / np.abs(want)[nz]) / np.finfo(dtype).eps),
            zeros=bool(np.all(got[~nz] == 0)), crc=zlib.crc32(got.tobytes()))
print(json.dumps(out))
"""

TOL = {"float64": 1e-12, "float32": 1e-5}


def _run(level, code=CHILD):
    env = dict(os.environ, MLPX_BACKEND="native")
    if level is None:
        env.pop("MLPX_CPU", None)
    else:
        env["MLPX_CPU"] = level
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"MLPX_CPU={level}: {proc.stdout}{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _cpu_flags():
    """The flags of /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def _best_level():
    """The best level this CPU runs: what the engine picks with no cap, else
    (no path reported) what /proc/cpuinfo lists, else None."""
    path = _run(None, "import json\n" + CHILD.split("CASES = [")[0]
                + "print(json.dumps({'path': kernel_path()}))")[0]["path"]
    if path is not None:
        return path
    flags = _cpu_flags()
    if flags is None or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    v3 = {"avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"}
    return "x86-64-v4" if v4 | v3 <= flags else "x86-64-v3" if v3 <= flags else "x86-64"


@pytest.fixture(scope="module")
def best():
    return _best_level()


@pytest.fixture(scope="module")
def runs(best):
    """One child per level this CPU supports (all levels when unknown)."""
    if best == "generic":
        levels = ["x86-64"]
    elif best is None:
        levels = list(LEVELS)
    else:
        levels = list(LEVELS[:LEVELS.index(best) + 1])
    return {level: _run(level)[0] for level in levels}


def test_each_supported_path_trains_like_numpy(runs, best):
    for level, out in runs.items():
        if out["path"] is not None:
            assert out["path"] == ("generic" if best == "generic" else level)
        for case in out["cases"]:
            tol = TOL[case["dtype"]]
            if case["solver"] == "adam" and case["dtype"] == "float32":
                tol *= 3  # as test_kernels.test_train_epoch_matches_numpy
            for key in ("loss", "params", "state"):
                assert case[key] <= tol, (level, case)
        for dtype in ("float32", "float64"):
            for act in ("logistic", "tanh"):
                acc = out[f"{act}_{dtype}"]
                assert acc["ulp"] <= 4 and acc["zeros"], (level, act, dtype, acc)


def test_paths_run_their_own_code(runs, best):
    """The baseline and the v3 path differ in the last bits of a float32
    logistic or tanh (v3 fuses the exp polynomial into FMAs), so the
    variable switches the code that runs, not just the name it reports."""
    if best in (None, "generic", "x86-64") or len(runs) < 2:
        pytest.skip("one path only")
    crcs = {level: tuple(out[k]["crc"] for k in sorted(out) if k.endswith("_float32"))
            for level, out in runs.items()}
    assert crcs["x86-64"] != crcs["x86-64-v3"]


@pytest.mark.parametrize("level", ["x86-64-v4", "x86-64-v2", " X86-64-V3 ", "pentium"])
def test_any_request_runs(level, best):
    """A level above what the CPU has gives the best it has, never a crash;
    x86-64-v2 runs the baseline; case and spaces do not matter; a value not
    understood means auto, with a line on stderr. (Unset: the fixture best.)"""
    code = CHILD.split("CASES = [")[0] + (
        "X = np.ones((4, 3)); Y = np.eye(2)[[0, 1, 0, 1]]\n"
        "c = [np.full((3, 2), 0.1)]; b = [np.zeros(2)]\n"
        "_core.train_epoch(c, b, X, Y, None, None, 2, 'relu', 'softmax', 0.0, 'sgd',\n"
        "                  [np.zeros((3, 2)), np.zeros(2)], 0.1, 0.0, False,\n"
        "                  0.9, 0.999, 1e-8, 0)\n"
        "assert np.all(np.isfinite(c[0]))\n"
        "print(json.dumps({'path': kernel_path()}))\n")
    out, err = _run(level, code)
    if out["path"] is None or best is None:
        return
    if best == "generic":
        assert out["path"] == "generic"
        return
    rank = {"x86-64": 0, "x86-64-v2": 0, "x86-64-v3": 1, "x86-64-v4": 2}
    want = level.strip().lower()
    if want not in rank:
        want = best
        assert ("not understood" in err) == (level.strip() not in ("", "auto")), err
    assert out["path"] == LEVELS[min(rank[want], rank[best])]
