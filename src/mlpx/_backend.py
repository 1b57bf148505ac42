"""The backend switch: the one place that decides native or NumPy.

``MLPX_BACKEND=auto|native|numpy`` (default auto), read once at import.
``native`` raises ImportError when the extension cannot load; ``auto`` falls
back to NumPy with a RuntimeWarning naming the cause. Every other module gets
its kernels from ``impl`` here and never imports a backend directly.

A NumPy-only install (``MLPX_NO_EXTENSION=1``, or a source build that found
no working compiler) says so in ``mlpx/_build_info.py``, written at build
time: ``auto`` then uses NumPy without a warning (the choice was made, and
reported, when it was installed), ``native`` still raises, naming the cause.
"""

import os
import warnings

_CHOICES = ("auto", "native", "numpy")


def build_info():
    """What the build recorded: ``{"extension": bool, "reason": str}``, or
    None where nothing was recorded (a source tree on ``PYTHONPATH``)."""
    try:
        from . import _build_info
    except ImportError:
        return None
    return {"extension": bool(getattr(_build_info, "extension", True)),
            "reason": str(getattr(_build_info, "reason", ""))}


def _load():
    choice = os.environ.get("MLPX_BACKEND", "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ImportError(
            f"MLPX_BACKEND={choice!r} is not one of {', '.join(_CHOICES)}"
        )
    if choice == "numpy":
        from . import _numpy_backend
        return "numpy", _numpy_backend, None
    info = build_info()
    if info is not None and not info["extension"]:
        cause = f"this mlpx was installed without its compiled extension: {info['reason']}"
        if choice == "native":
            raise ImportError(
                f"MLPX_BACKEND=native but {cause}. Reinstall mlpx from a wheel, or "
                "from source with a C compiler and the Python headers"
            )
        from . import _numpy_backend
        return "numpy", _numpy_backend, cause
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
