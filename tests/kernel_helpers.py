"""Shared by the kernel tests (test_kernels.py, test_kernel_threads.py): the
compiled ``mlpx._core`` or the reason it is missing, the backends to
parametrize over, and small networks and data."""

import math
import os

import numpy as np
import pytest

from mlpx import _numpy_backend as numpy_backend

ACTS = ("identity", "logistic", "tanh", "relu")
OUTS = ("identity", "logistic", "softmax", "exp")
BOUNDED_OUTS = ("identity", "logistic", "softmax")  # exp overflows at +-1e4
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def _load_native():
    try:
        from mlpx import _blas, _core
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    _blas.install(_core)
    return _core, None


native, native_error = _load_native()
MODE = os.environ.get("MLPX_BACKEND", "auto").strip().lower()

if native is None and MODE != "numpy":
    raise ImportError(
        f"compiled mlpx._core unavailable ({native_error}) and MLPX_BACKEND={MODE!r}; "
        "only MLPX_BACKEND=numpy may run without it")

requires_native = pytest.mark.skipif(
    native is None,
    reason=f"compiled mlpx._core unavailable under MLPX_BACKEND=numpy ({native_error})")

BACKENDS = [pytest.param(numpy_backend, id="numpy"),
            pytest.param(native, id="native", marks=requires_native)]


# ---------------------------------------------------------------- helpers

def make_net(widths, dtype, rng, scale=1.0):
    """Glorot-uniform coefs and intercepts (scikit-learn's init bound)."""
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        bound = scale * math.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return coefs, intercepts


def make_data(n, widths, out, dtype, rng):
    X = rng.normal(size=(n, widths[0])).astype(dtype)
    k = widths[-1]
    if out == "softmax":
        Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    elif out == "logistic":
        Y = (rng.uniform(size=(n, k)) < 0.5).astype(dtype)
    elif out == "exp":  # counts, zeros included
        Y = rng.poisson(1.5, size=(n, k)).astype(dtype)
    else:
        Y = rng.normal(size=(n, k)).astype(dtype)
    sw = rng.uniform(0.5, 2.0, n).astype(dtype)
    return X, Y, sw


def rel(a, b):
    """max |a - b| / max |b| (both arrays; 0 when both are all zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.max(np.abs(b)) if b.size else 0.0
    diff = np.max(np.abs(a - b)) if b.size else 0.0
    return diff / scale if scale > 0 else diff


def rel_all(got, ref):
    """rel() over the concatenation of two lists of arrays: the relative
    difference of the whole gradient / parameter vector. (Per array, a bias
    gradient that is a float32 sum with cancellation can differ by more than
    1e-5 of itself between two correct summation orders.)"""
    return rel(np.concatenate([np.ravel(a) for a in got]),
               np.concatenate([np.ravel(a) for a in ref]))


def copy_all(arrays):
    return [a.copy() for a in arrays]


def new_state(coefs, intercepts, solver):
    params = list(coefs) + list(intercepts)
    return [np.zeros_like(p) for p in params * (1 if solver == "sgd" else 2)]


def hidden_preactivations(coefs, intercepts, X):
    """Hidden pre-activations H_i of a relu network (float64 NumPy)."""
    out, Z = [], X.astype(np.float64)
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        H = Z @ W + b
        out.append(H)
        Z = np.maximum(H, 0)
    return out


# ---------------------------------------------------------------- gradients
