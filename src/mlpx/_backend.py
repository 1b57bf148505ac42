"""The backend switch: the one place that decides native or NumPy.

``MLPX_BACKEND=auto|native|numpy`` (default auto), read once at import.
``native`` raises ImportError when the extension cannot load; ``auto`` falls
back to NumPy with a RuntimeWarning naming the cause. Every other module gets
its kernels from ``impl`` here and never imports a backend directly.
"""

import os
import warnings

_CHOICES = ("auto", "native", "numpy")


def _load():
    choice = os.environ.get("MLPX_BACKEND", "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ImportError(
            f"MLPX_BACKEND={choice!r} is not one of {', '.join(_CHOICES)}"
        )
    if choice == "numpy":
        from . import _numpy_backend
        return "numpy", _numpy_backend, None
    try:
        from . import _blas
        from ._core import forward  # noqa: F401  (clear error if missing)
        from . import _core
        try:
            _blas.install(_core)
        except Exception as exc:  # no usable BLAS: the extension cannot run
            raise ImportError(f"no BLAS for the native kernels: {exc!r}") from exc
        return "native", _core, None
    except ImportError as exc:
        if choice == "native":
            raise ImportError(
                f"MLPX_BACKEND=native but the compiled extension cannot load: {exc}"
            ) from exc
        cause = f"{type(exc).__name__}: {exc}"
    from . import _numpy_backend
    warnings.warn(
        f"mlpx: compiled extension unavailable ({cause}); using the NumPy backend. "
        "Set MLPX_BACKEND=numpy to silence this.",
        RuntimeWarning,
        stacklevel=3,
    )
    return "numpy", _numpy_backend, cause


name, impl, fallback_reason = _load()


def get_backend():
    """Return the active backend: "native" or "numpy"."""
    return name
