"""Find a BLAS for the native kernels and hand its GEMMs to ``mlpx._core``.

The C engine never links a BLAS: it calls Fortran-ABI ``sgemm``/``dgemm``
through a table of function pointers that this module fills once at import.

Preferred provider: the OpenBLAS that NumPy itself loaded (ILP64,
``scipy_sgemm_64_``). Sharing NumPy's library means one thread pool in the
process (a second OpenBLAS next to NumPy's made alternating calls ~45x slower,
DESIGN.md section 3), and ``threadpoolctl`` limits reach mlpx too.
Fallback: SciPy's ``scipy.linalg.cython_blas`` capsules (LP64).

Beside it, on Linux, the *local* BLAS: a private instance of that same
OpenBLAS kept at one thread (``_local_instance``), which only the engine's
two-thread team calls, each member on its own rows, for networks whose
GEMMs are too large for one thread of the shared library. At one thread it
has no workers to spin, so it does not fight NumPy's pool the way a second
multithreaded OpenBLAS did.
"""

import ctypes
import glob
import os

import numpy as np

# (sgemm, dgemm, ilp64) symbol names tried in every candidate library
_SYMBOLS = (
    ("scipy_sgemm_64_", "scipy_dgemm_64_", True),
    ("sgemm_64_", "dgemm_64_", True),
    ("scipy_sgemm_", "scipy_dgemm_", False),
    ("sgemm_", "dgemm_", False),
)

provider = None  # dict describing the BLAS in use, set by install()
local = None  # the local BLAS (_local_instance), {} when there is none; set by install()


def _loaded_libraries():
    """Paths of shared libraries mapped into this process (Linux), else []."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return []
    return sorted(paths)


def _numpy_blas_candidates():
    """Library files that may hold NumPy's BLAS, most likely first."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    found = [p for p in _loaded_libraries() if "blas" in os.path.basename(p).lower()]
    for pattern in ("numpy.libs/*blas*", "numpy/.dylibs/*blas*", "scipy_openblas64/lib/*blas*"):
        found += sorted(glob.glob(os.path.join(root, pattern)))
    seen, ordered = set(), []
    for p in found:
        if p not in seen and os.path.exists(p):
            seen.add(p)
            ordered.append(p)
    # NumPy's own library first: it is the one already spinning threads
    ordered.sort(key=lambda p: "numpy" not in p)
    return ordered


def _addr(lib, name):
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _openblas_fn(lib, sgemm_symbol, ilp64, name):
    """Address of OpenBLAS's ``openblas_<name>`` under the naming of the
    library whose GEMM is ``sgemm_symbol`` (``scipy_`` prefix, ``64_``
    suffix for ILP64), else unprefixed, else None."""
    prefix = "scipy_" if sgemm_symbol.startswith("scipy_") else ""
    suffix = "64_" if ilp64 else ""
    return _addr(lib, f"{prefix}openblas_{name}{suffix}") or _addr(lib, f"openblas_{name}")


def _from_library(path):
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for s, d, ilp64 in _SYMBOLS:
        sp, dp = _addr(lib, s), _addr(lib, d)
        if sp and dp:
            return {
                "sgemm": sp, "dgemm": dp, "ilp64": ilp64, "library": path,
                "source": "numpy", "symbol": s, "lib": lib,
                "get_threads": _openblas_fn(lib, s, ilp64, "get_num_threads"),
                "get_config": _openblas_fn(lib, s, ilp64, "get_config"),
            }
    return None


def _from_scipy():
    from scipy.linalg import cython_blas

    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype = ctypes.c_char_p
    name.argtypes = [ctypes.py_object]
    caps = cython_blas.__pyx_capi__
    ptrs = [get(caps[k], name(caps[k])) for k in ("sgemm", "dgemm")]
    return {"sgemm": ptrs[0], "dgemm": ptrs[1], "ilp64": False,
            "library": cython_blas.__file__, "source": "scipy.linalg.cython_blas",
            "symbol": "sgemm", "lib": None, "get_threads": None, "get_config": None}


def find_provider():
    """Return the description of the BLAS to use (see module docstring)."""
    for path in _numpy_blas_candidates():
        found = _from_library(path)
        if found is not None:
            return found
    return _from_scipy()


def install(core):
    """Fill ``core``'s GEMM table; idempotent."""
    global provider, local
    if provider is None:
        provider = find_provider()
    core._set_blas(provider["sgemm"], provider["dgemm"], provider["ilp64"],
                   provider.get("get_threads"))
    if local is None:
        local = _local_instance(provider) or {}
    core._set_blas_local(local.get("sgemm"), local.get("dgemm"), local.get("ilp64"),
                         local.get("get_threads"))


def _local_instance(found):
    """A private instance of the provider's OpenBLAS at one thread, for the
    team's two members to call each on its own share (mlpx.h: the local
    BLAS), or None.

    The same library file, copied into an anonymous memory file
    (``memfd_create``, Linux) and loaded from there: the dynamic loader
    takes it for another library, so it gets its own globals, thread
    setting and (idle) worker threads, and the same kernels, so the numbers
    are those of the shared library on one thread. threadpoolctl does not
    list it (it matches library file names) and nothing but mlpx calls it;
    NumPy's library and its thread setting are untouched. Off with
    ``MLPX_LOCAL_BLAS=0`` in the environment (read at import)."""
    if os.environ.get("MLPX_LOCAL_BLAS", "1").strip() in ("0", "false", "no", "off"):
        return None
    if found.get("lib") is None or not hasattr(os, "memfd_create") or not found["get_threads"]:
        return None
    try:
        fd = os.memfd_create("mlpx-local-blas")
    except OSError:
        return None
    try:
        with open(found["library"], "rb") as f:
            size = os.fstat(f.fileno()).st_size
            done = 0
            while done < size:
                n = os.sendfile(fd, f.fileno(), done, size - done)
                if n <= 0:
                    return None
                done += n
        # its own dependencies (libgfortran, ...) are found by name among
        # those the original already loaded
        lib = ctypes.CDLL(f"/proc/self/fd/{fd}", mode=getattr(os, "RTLD_LOCAL", 0))
    except OSError:
        return None
    finally:
        os.close(fd)
    sym, ilp64 = found["symbol"], found["ilp64"]
    s, d = _addr(lib, sym), _addr(lib, sym.replace("sgemm", "dgemm"))
    get = _openblas_fn(lib, sym, ilp64, "get_num_threads")
    set_ = _openblas_fn(lib, sym, ilp64, "set_num_threads")
    if not (s and d and get and set_) or s == found["sgemm"]:
        return None  # not OpenBLAS, or the loader handed back the same instance
    ctypes.CFUNCTYPE(None, ctypes.c_int)(set_)(1)
    if ctypes.CFUNCTYPE(ctypes.c_int)(get)() != 1:
        return None
    return {"sgemm": s, "dgemm": d, "ilp64": ilp64, "get_threads": get,
            "lib": lib, "library": f"private copy of {os.path.basename(found['library'])}"}


def threads():
    """Threads of the BLAS in use, or None when it cannot say."""
    if provider is None or not provider.get("get_threads"):
        return None
    return ctypes.CFUNCTYPE(ctypes.c_int)(provider["get_threads"])()


def config():
    """The BLAS library's own configuration string, or None."""
    if provider is None or not provider.get("get_config"):
        return None
    return ctypes.CFUNCTYPE(ctypes.c_char_p)(provider["get_config"])().decode()
