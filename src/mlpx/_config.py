"""``show_config``: what mlpx runs on."""

import os
import platform
import sys

import numpy as np

from . import _backend, _blas


def config():
    """Return a dict describing versions, the backend and the BLAS in use."""
    from . import __version__

    info = {
        "mlpx": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "backend": _backend.name,
    }
    built = _backend.build_info()
    if built is None:
        info["build"] = "not recorded (source tree)"
    elif built["extension"]:
        info["build"] = "compiled extension"
    else:
        info["build"] = f"NumPy-only install ({built['reason']})"
    if _backend.fallback_reason and (built is None or built["extension"]):
        info["fallback_reason"] = _backend.fallback_reason
    if _backend.name == "native" and _blas.provider is not None:
        p = _blas.provider
        info["blas_library"] = p["library"]
        info["blas_source"] = p["source"]
        info["blas_symbol"] = p["symbol"] + (" (ILP64)" if p["ilp64"] else " (LP64)")
        info["blas_config"] = _blas.config()
        info["blas_threads"] = _blas.threads()
        # the private one-thread instance for GEMMs too big for one thread of
        # the shared BLAS, made at first use: whether made, its library, memory
        info["blas_local"] = _blas.describe_local()
        cpu = os.environ.get("MLPX_CPU", "").strip()
        info["kernels"] = _backend.impl._kernel_path() + (f" (MLPX_CPU={cpu})" if cpu else "")
        info["threads"] = (f"up to {_blas.threads()} (the BLAS limit); results do not "
                           "depend on it")
    else:
        info["blas_library"] = "numpy's own (NumPy backend)"
    return info


def show_config(file=None):
    """Print mlpx and numpy versions, the backend, the BLAS library and its threads."""
    for key, value in config().items():
        print(f"{key + ':':<18}{value}", file=file or sys.stdout)
