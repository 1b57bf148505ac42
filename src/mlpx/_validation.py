"""Input checks for the functional API: every array becomes C-contiguous,
aligned, finite and of one float dtype before it reaches a backend.

Errors name the argument and what was expected. Nothing here writes to a
caller's array: conversions make copies only when the input is not already
usable as is.
"""

import numbers

import numpy as np

from ._activations import ACTIVATIONS, OUT_ACTIVATIONS
from ._backend import impl

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _as_array(value, name):
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers; got dtype {arr.dtype} "
            "(complex, object and string arrays are not accepted)"
        )
    if arr.dtype.kind == "f" and arr.dtype not in _FLOATS:
        raise TypeError(f"{name} has dtype {arr.dtype}; use float32 or float64")
    return arr


def _finite(arr, name):
    if not impl.all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity")


def c_aligned(arr, dtype=None):
    """C-contiguous and aligned (the C kernels load whole elements), of dtype;
    a copy only when needed (np.ascontiguousarray keeps a misaligned buffer,
    e.g. from np.frombuffer with an offset)."""
    if type(arr) is np.ndarray and (dtype is None or arr.dtype == dtype):
        flags = arr.flags
        if flags.c_contiguous and flags.aligned:
            return arr      # np.require would make a new view of an unpickled array
    return np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def _plain_params(coefs, intercepts):
    """(coefs, intercepts, dtype) when every array is already what the
    kernels take (ndarrays of one float dtype, C-contiguous, aligned, finite,
    shapes that chain), else None: then check_params's full checks run and
    name what is wrong. Costs a few microseconds, not NumPy's conversions."""
    if type(coefs) not in (list, tuple) or type(intercepts) not in (list, tuple) \
            or not coefs or len(coefs) != len(intercepts):
        return None
    dtype = getattr(coefs[0], "dtype", None)
    if dtype not in _FLOATS:
        return None
    prev = None
    for w, b in zip(coefs, intercepts):
        if type(w) is not np.ndarray or type(b) is not np.ndarray or w.dtype != dtype \
                or b.dtype != dtype or w.ndim != 2 or b.ndim != 1:
            return None
        n_in, n_out = w.shape
        if n_in == 0 or n_out == 0 or b.shape[0] != n_out or (prev is not None and n_in != prev):
            return None
        fw, fb = w.flags, b.flags
        if not (fw.c_contiguous and fw.aligned and fb.c_contiguous and fb.aligned):
            return None
        if not (impl.all_finite(w) and impl.all_finite(b)):
            return None
        prev = n_out
    return list(coefs), list(intercepts), dtype


def check_params(coefs, intercepts):
    """Return (coefs, intercepts, dtype): lists of contiguous arrays that chain."""
    plain = _plain_params(coefs, intercepts)
    if plain is not None:
        return plain
    for name, seq in (("coefs", coefs), ("intercepts", intercepts)):
        if isinstance(seq, np.ndarray) or not hasattr(seq, "__len__"):
            raise TypeError(f"{name} must be a list of arrays, one per layer")
    if len(coefs) == 0:
        raise ValueError("coefs is empty; a network needs at least one layer")
    if len(coefs) != len(intercepts):
        raise ValueError(
            f"coefs has {len(coefs)} layers but intercepts has {len(intercepts)}"
        )
    W = [_as_array(c, f"coefs[{i}]") for i, c in enumerate(coefs)]
    b = [_as_array(c, f"intercepts[{i}]") for i, c in enumerate(intercepts)]
    floats = {a.dtype for a in W + b if a.dtype.kind == "f"}
    if len(floats) > 1:
        raise TypeError(
            "coefs and intercepts mix float32 and float64; convert them all to one dtype"
        )
    dtype = floats.pop() if floats else np.dtype(np.float64)
    for i, (w, c) in enumerate(zip(W, b)):
        if w.ndim != 2:
            raise ValueError(f"coefs[{i}] must be 2-D (n_in, n_out); got shape {w.shape}")
        if c.ndim != 1:
            raise ValueError(f"intercepts[{i}] must be 1-D (n_out,); got shape {c.shape}")
        if w.shape[0] == 0 or w.shape[1] == 0:
            raise ValueError(f"coefs[{i}] has an empty dimension: shape {w.shape}")
        if c.shape[0] != w.shape[1]:
            raise ValueError(
                f"intercepts[{i}] has {c.shape[0]} entries but coefs[{i}] has "
                f"{w.shape[1]} outputs"
            )
        if i > 0 and w.shape[0] != W[i - 1].shape[1]:
            raise ValueError(
                f"coefs[{i}] expects {w.shape[0]} inputs but layer {i - 1} has "
                f"{W[i - 1].shape[1]} outputs (coefs[{i - 1}] shape {W[i - 1].shape})"
            )
        _finite(w, f"coefs[{i}]")
        _finite(c, f"intercepts[{i}]")
    return [c_aligned(w, dtype) for w in W], [c_aligned(c, dtype) for c in b], dtype


def check_X(X, n_in, dtype, name="X", finite=True):
    """X as a C-contiguous array of dtype, after its checks; finite=False
    leaves NaN and infinity to the caller (forward's check_finite)."""
    X = _as_array(X, name)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {X.ndim}-D with shape "
            f"{X.shape}. Reshape a single sample with X.reshape(1, -1)"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: 0 samples")
    if X.shape[1] != n_in:
        raise ValueError(
            f"{name} has {X.shape[1]} features but coefs[0] expects {n_in}"
        )
    if X.dtype.kind == "f" and X.dtype != dtype:
        raise TypeError(
            f"{name} is {X.dtype} but the coefs are {dtype}; convert one to match"
        )
    if finite:
        _finite(X, name)
    return c_aligned(X, dtype)


def check_Y(Y, n_samples, n_out, dtype):
    Y = _as_array(Y, "Y")
    if Y.ndim == 1 and n_out == 1:
        Y = Y.reshape(-1, 1)
    if Y.ndim != 2 or Y.shape != (n_samples, n_out):
        raise ValueError(
            f"Y must have shape (n_samples, n_outputs) = ({n_samples}, {n_out}); "
            f"got {Y.shape}"
        )
    _finite(Y, "Y")
    return c_aligned(Y, dtype)


def check_sample_weight(sample_weight, n_samples, dtype):
    if sample_weight is None:
        return None
    sw = _as_array(sample_weight, "sample_weight")
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},); got {sw.shape}"
        )
    _finite(sw, "sample_weight")
    if (sw < 0).any():
        raise ValueError("sample_weight has negative entries")
    if sw.sum() <= 0:
        raise ValueError("sample_weight sums to zero; at least one weight must be positive")
    return c_aligned(sw, dtype)


def check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number; got {type(alpha).__name__}")
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be finite and >= 0; got {alpha}")
    return alpha


def check_activations(activation, out_activation):
    check_choice(activation, "activation", ACTIVATIONS)
    check_choice(out_activation, "out_activation", OUT_ACTIVATIONS)
