"""``show_config``: what mlpx runs on."""

import platform
import sys

import numpy as np

from . import _backend
from ._version import __version__


def config():
    """Return a dict describing versions, the backend and the BLAS in use."""
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
    blas = _backend.blas_config()
    if blas is not None:
        info.update(blas)
    else:
        info["blas_library"] = "numpy's own (NumPy backend)"
    return info


def show_config(file=None):
    """Print mlpx and numpy versions, the backend, the BLAS library and its threads."""
    for key, value in config().items():
        print(f"{key + ':':<18}{value}", file=file or sys.stdout)
