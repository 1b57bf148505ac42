"""The backend switch: the one place that decides native or NumPy.

``MLPX_BACKEND=auto|native|numpy`` (default auto), read once at import.
``native`` raises ImportError when the extension cannot load; ``auto`` falls
back to NumPy with a RuntimeWarning naming the cause. Every other module gets
its kernels from ``impl`` here and never imports a backend directly, and
asks ``blas_config()`` (never ``_blas``) which BLAS the backend runs on.

A NumPy-only install (``MLPX_NO_EXTENSION=1``, or a source build that found
no working compiler) says so in ``mlpx/_build_info.py``, written at build
time: ``auto`` then uses NumPy without a warning (the choice was made, and
reported, when it was installed), ``native`` still raises, naming the cause.
"""

import contextlib
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


WHOLE_GEMM_MACS = 2**31


def _whole_gemms_asked():
    value = os.environ.get("MLPX_WHOLE_GEMMS", "0").strip().lower()
    return value in ("1", "true", "yes", "on")


# MLPX_WHOLE_GEMMS=1, read once, at import: training batches of at least
# 2**31 multiply-adds run as whole GEMMs on the BLAS's own threads, 10-17%
# faster on a machine mlpx has to itself, several times slower when other
# work takes cores, and the same bits only for the same thread count.
WHOLE_GEMMS = _whole_gemms_asked()


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
        if WHOLE_GEMMS:
            _core._set_whole_macs(WHOLE_GEMM_MACS)
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


def blas_config():
    """What the native backend's BLAS is, for ``show_config``: a dict of
    ``blas_*``, ``kernels`` and ``threads`` entries; None on the NumPy
    backend (its matmuls run on NumPy's own BLAS)."""
    from . import _blas

    if name != "native" or _blas.provider is None:
        return None
    p = _blas.provider
    cpu = os.environ.get("MLPX_CPU", "").strip()
    return {
        "blas_library": p["library"],
        "blas_source": p["source"],
        "blas_symbol": p["symbol"] + (" (ILP64)" if p["ilp64"] else " (LP64)"),
        "blas_config": _blas.config(),
        "blas_threads": _blas.threads(),
        # the private one-thread instance for GEMMs too big for one thread of
        # the shared BLAS, made at first use: whether made, its library, memory
        "blas_local": _blas.describe_local(),
        "kernels": impl._kernel_path() + (f" (MLPX_CPU={cpu})" if cpu else ""),
        "threads": f"up to {_blas.threads()} (the BLAS limit); " + (
            "results do not depend on it, except training batches of >= 2**31 "
            "multiply-adds (MLPX_WHOLE_GEMMS=1): the same for the same thread count"
            if WHOLE_GEMMS else "results do not depend on it"),
    }


def blas_provider():
    """The native backend's BLAS as the engine uses it: a copy of the dict
    with ``library``, ``sgemm`` and ``dgemm`` (function addresses), ``ilp64``
    (64-bit integer arguments), ...; None on the NumPy backend."""
    from . import _blas

    if name != "native" or _blas.provider is None:
        return None
    return dict(_blas.provider)


@contextlib.contextmanager
def routed_gemm(sgemm, dgemm):
    """Route the native engine's GEMM calls through other functions while
    the ``with`` block runs, then give the table back to the BLAS it had.

    A diagnostics hook (``benchmarks/dev/gemmcount.py`` counts and times
    every GEMM an epoch makes this way), not for production use. ``sgemm``
    and ``dgemm`` are addresses (ints) of functions with the Fortran
    ``?gemm`` signature and the integer width of the BLAS in use; the
    context yields that BLAS's description (``blas_provider()``), so that
    the wrappers can forward to it. Raises RuntimeError on the NumPy backend.
    """
    from . import _blas

    if name != "native" or _blas.provider is None:
        raise RuntimeError("routed_gemm needs the native backend")
    p = _blas.provider
    impl._set_blas(sgemm, dgemm, p["ilp64"], p.get("get_threads"))
    try:
        yield dict(p)
    finally:
        impl._set_blas(p["sgemm"], p["dgemm"], p["ilp64"], p.get("get_threads"))
        impl._set_gemv(p.get("sgemv"), p.get("dgemv"))
