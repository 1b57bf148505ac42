"""Find a BLAS for the native kernels and hand its GEMMs to ``mlpx._core``.

The C engine never links a BLAS: it calls Fortran-ABI ``sgemm``/``dgemm``
through a table of function pointers that this module fills once at import.

Preferred provider: the OpenBLAS that NumPy itself loaded (ILP64,
``scipy_sgemm_64_``). Sharing NumPy's library means one thread pool in the
process (a second OpenBLAS next to NumPy's made alternating calls ~45x slower,
DESIGN.md section 3), and ``threadpoolctl`` limits reach mlpx too.
Fallback: SciPy's ``scipy.linalg.cython_blas`` capsules (LP64).

Beside it, on Linux, the *local* BLAS: a private instance of that same
OpenBLAS kept at one thread (``_local_instance``), which takes every GEMM
too large for one thread of the shared library while that one may use
several (csrc/blas.c), so that each GEMM runs on one thread and its bits
do not depend on a thread count; mlpx's worker threads call it each on
their own tiles. At one thread it
has no workers to spin, so it does not fight NumPy's pool the way a second
multithreaded OpenBLAS did. It is made at first use (``make_local``, which
the engine calls through the factory that ``install`` hands it), never at
import: it costs the size of the library file in shared memory. It is a
copy of the file that defines both the GEMMs and OpenBLAS's thread
control, never of a wrapper such as Debian's ``libblas.so.3`` (whose copy
still calls the shared ``libopenblas.so.0``), and it is kept only after a
check that setting its threads leaves the shared library's setting alone.
"""

import ctypes
import glob
import os
import struct
import sys
import threading

import numpy as np

# (sgemm, dgemm, ilp64) symbol names tried in every candidate library
_SYMBOLS = (
    ("scipy_sgemm_64_", "scipy_dgemm_64_", True),
    ("sgemm_64_", "dgemm_64_", True),
    ("scipy_sgemm_", "scipy_dgemm_", False),
    ("sgemm_", "dgemm_", False),
)

provider = None  # dict describing the BLAS in use, set by install()
# the local BLAS: {} until make_local has run; then {"made": True, ...} (see
# _local_instance) or {"made": False, "reason": ...}
local = {}
_local_lock = threading.Lock()
_held_fds = []  # memfds of loaded copies (see _local_instance)


def _loaded_libraries():
    """Paths of shared libraries mapped into this process (Linux), else []."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return []
    return sorted(paths)


def _elf_needed(path):
    """The DT_NEEDED names of an ELF shared object, else [] (not ELF, unreadable)."""
    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF":
                return []
            e = "<" if ident[5] == 1 else ">"
            wide = ident[4] == 2  # ELFCLASS64
            hdr = struct.unpack(e + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"),
                                f.read(48 if wide else 36))
            phoff, phentsize, phnum = hdr[4], hdr[8], hdr[9]
            loads, dyn = [], None
            for i in range(phnum):
                f.seek(phoff + i * phentsize)
                if wide:
                    typ, _, off, vaddr, _, filesz = struct.unpack(e + "IIQQQQ", f.read(40))
                else:
                    typ, off, vaddr, _, filesz = struct.unpack(e + "IIIII", f.read(20))
                if typ == 1:  # PT_LOAD
                    loads.append((vaddr, off, filesz))
                elif typ == 2:  # PT_DYNAMIC
                    dyn = (off, filesz)
            if dyn is None:
                return []
            f.seek(dyn[0])
            raw = f.read(dyn[1])
            fmt = e + ("qQ" if wide else "iI")
            step = struct.calcsize(fmt)
            needed, strtab = [], None
            for k in range(0, len(raw) - step + 1, step):
                tag, val = struct.unpack_from(fmt, raw, k)
                if tag == 0:  # DT_NULL
                    break
                if tag == 1:  # DT_NEEDED: an offset into DT_STRTAB
                    needed.append(val)
                elif tag == 5:  # DT_STRTAB, a virtual address
                    strtab = val
            base = next((off + strtab - va for va, off, size in loads
                         if strtab is not None and va <= strtab < va + size), None)
            if base is None:
                return []
            names = []
            for k in needed:
                f.seek(base + k)
                names.append(f.read(256).split(b"\0", 1)[0].decode("utf-8", "replace"))
            return names
    except (OSError, struct.error):
        return []


def _numpy_linked_blas():
    """Paths of the BLAS libraries that NumPy's extension module itself links
    (its DT_NEEDED names, looked up among loaded objects), else []."""
    ext = None
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        ext = getattr(sys.modules.get(name), "__file__", None)
        if ext:
            break
    if not ext or not hasattr(os, "RTLD_NOLOAD"):
        return []
    paths = []
    for needed in _elf_needed(ext):
        if "blas" not in needed.lower():
            continue
        try:  # the object loaded under that name; never a new one
            lib = ctypes.CDLL(needed, mode=os.RTLD_NOLOAD | getattr(os, "RTLD_LOCAL", 0))
        except OSError:
            continue
        for s, _, _ in _SYMBOLS:
            hit = _dladdr(_addr(lib, s))
            if hit is not None:
                paths.append(os.path.realpath(hit[0]))
                break
    return paths


def _numpy_blas_candidates():
    """Library files that may hold NumPy's BLAS, most likely first: those
    NumPy's extension links, then other loaded or bundled BLAS files, NumPy's
    own first, then system ones (a distribution's NumPy) before those other
    packages bundle (SciPy's, loaded when SciPy was imported before mlpx)."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    found = [p for p in _loaded_libraries() if "blas" in os.path.basename(p).lower()]
    for pattern in ("numpy.libs/*blas*", "numpy/.dylibs/*blas*", "scipy_openblas64/lib/*blas*"):
        found += sorted(glob.glob(os.path.join(root, pattern)))

    def rank(p):
        bundled = any(d in p for d in ("site-packages", "dist-packages", ".libs"))
        return ("numpy" not in p, bundled)

    found.sort(key=rank)
    seen, ordered = set(), []
    for p in _numpy_linked_blas() + found:
        if p not in seen and os.path.exists(p):
            seen.add(p)
            ordered.append(p)
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


def _gemv_of(lib, sgemm_symbol):
    """{"sgemv", "dgemv"}: the GEMV addresses named like ``sgemm_symbol``
    in ``lib``, both or neither (None)."""
    sv = _addr(lib, sgemm_symbol.replace("sgemm", "sgemv"))
    dv = _addr(lib, sgemm_symbol.replace("sgemm", "dgemv"))
    return {"sgemv": sv, "dgemv": dv} if sv and dv else {"sgemv": None, "dgemv": None}


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
                **_gemv_of(lib, s),
                "source": "numpy", "symbol": s, "lib": lib,
                "get_threads": _openblas_fn(lib, s, ilp64, "get_num_threads"),
                "set_threads": _openblas_fn(lib, s, ilp64, "set_num_threads"),
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
    ptrs = [get(caps[k], name(caps[k])) for k in ("sgemm", "dgemm", "sgemv", "dgemv")]
    return {"sgemm": ptrs[0], "dgemm": ptrs[1], "sgemv": ptrs[2], "dgemv": ptrs[3],
            "ilp64": False,
            "library": cython_blas.__file__, "source": "scipy.linalg.cython_blas",
            "symbol": "sgemm", "lib": None, "get_threads": None, "set_threads": None,
            "get_config": None}


def find_provider():
    """Return the description of the BLAS to use (see module docstring)."""
    for path in _numpy_blas_candidates():
        found = _from_library(path)
        if found is not None:
            return found
    return _from_scipy()


def install(core):
    """Fill ``core``'s GEMM table with the shared BLAS; idempotent.

    The local BLAS is not made here: when ``core`` takes a factory
    (``_set_local_factory``), it gets one that calls ``make_local(core)``
    when the engine first needs a one-thread BLAS."""
    global provider
    if provider is None:
        provider = find_provider()
    core._set_blas(provider["sgemm"], provider["dgemm"], provider["ilp64"],
                   provider.get("get_threads"))
    if hasattr(core, "_set_gemv"):
        core._set_gemv(provider.get("sgemv"), provider.get("dgemv"))
    if local.get("made"):  # made before this install (a second install)
        _hand_local(core)
    if hasattr(core, "_set_local_factory"):
        core._set_local_factory(lambda: make_local(core))


def _hand_local(core):
    core._set_blas_local(local["sgemm"], local["dgemm"], local["ilp64"], local["get_threads"])
    if hasattr(core, "_set_gemv"):
        core._set_gemv(local.get("sgemv"), local.get("dgemv"), True)


def _off_by_environment():
    return os.environ.get("MLPX_LOCAL_BLAS", "1").strip().lower() in ("0", "false", "no", "off")


def make_local(core):
    """Make the local BLAS (``_local_instance``) on the first call and hand it
    to ``core`` (``_set_blas_local``); True when ``core`` has one.

    Idempotent and thread-safe: concurrent first calls make one instance,
    and a failure (or ``MLPX_LOCAL_BLAS=0``, read at that first call) is
    remembered, so later calls return False at once."""
    global local
    if not local:  # once decided, no lock
        with _local_lock:
            if not local:
                if provider is None:
                    raise RuntimeError("mlpx._blas.make_local: call install(core) first")
                if _off_by_environment():
                    local = {"made": False, "reason": "off (MLPX_LOCAL_BLAS=0)"}
                else:
                    try:
                        found = _local_instance(provider)
                    except Exception as exc:  # never let the engine's first call fail on it
                        found = {"made": False, "reason": f"{type(exc).__name__}: {exc}"}
                    local = found
                if local.get("made"):
                    _hand_local(core)
    return bool(local.get("made"))


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


_dladdr_fn = None


def _dladdr(addr):
    """(file name, load base) of the object that holds address ``addr``, or
    None (no dladdr here, or an address of no loaded object)."""
    global _dladdr_fn
    if _dladdr_fn is None:
        _dladdr_fn = False
        for name in (None, "libdl.so.2"):  # glibc >= 2.34 has it in libc
            try:
                fn = ctypes.CDLL(name).dladdr
            except (OSError, AttributeError):
                continue
            fn.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
            fn.restype = ctypes.c_int
            _dladdr_fn = fn
            break
    if not _dladdr_fn or not addr:
        return None
    info = _DlInfo()
    if not _dladdr_fn(addr, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname), info.dli_fbase


def _base(addr):
    found = _dladdr(addr)
    return None if found is None else found[1]


def _owns_all(found):
    """True when one loaded file defines the GEMMs and the thread control of
    ``found`` (a ``_from_library`` description): not a wrapper whose GEMMs
    or thread functions come from another library."""
    addrs = [found.get(k) for k in ("sgemm", "dgemm", "get_threads", "set_threads")]
    if not all(addrs):
        return False
    bases = {_base(a) for a in addrs}
    return len(bases) == 1 and None not in bases


def _openblas_file(found):
    """Description (``_from_library``) of the loaded library that itself
    defines the shared BLAS's GEMMs and its thread setting, or None.

    With NumPy's wheels that is the provider's own file. With Debian's
    ``libblas.so.3`` (a wrapper with its own ``sgemm_`` that calls into
    ``libopenblas.so.0``) it is ``libopenblas.so.0``: the file that holds
    ``openblas_get_num_threads``. A copy of the wrapper would still use the
    shared library's threads, so it is never a candidate."""
    paths = []
    for key in ("get_threads", "sgemm"):
        hit = _dladdr(found.get(key))
        if hit is not None:
            paths.append(hit[0])
    paths += [p for p in _loaded_libraries() if "openblas" in os.path.basename(p).lower()]
    paths.append(found["library"])
    seen = set()
    for path in paths:
        real = os.path.realpath(path)
        if real in seen or not os.path.exists(real):
            continue
        seen.add(real)
        cand = _from_library(path)
        # the same instance whose thread setting the shared BLAS follows
        if cand is not None and cand["get_threads"] == found["get_threads"] and _owns_all(cand):
            cand["library"] = real
            return cand
    return None


def _mapped_inode(addr):
    """Inode of the file mapped at ``addr`` (/proc/self/maps), else None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split()
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                if lo <= addr < hi:
                    return int(fields[4])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rss_bytes():
    """This process's resident set size in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _local_instance(found):
    """A private instance of the shared OpenBLAS at one thread, for mlpx's
    worker threads to call each on its own tiles (mlpx.h: the local BLAS),
    as {"made": True, ...}, or {"made": False, "reason": ...}.

    The file that defines the GEMMs and the thread control
    (``_openblas_file``), copied into an anonymous memory file
    (``memfd_create``, Linux) and loaded from there: the dynamic loader
    takes it for another library, so it gets its own globals, thread
    setting and (idle) worker threads, and the same kernels, so the numbers
    are those of the shared library on one thread. threadpoolctl does not
    list it (it matches library file names) and nothing but mlpx calls it.

    Kept only when isolated: its four functions lie in the copy (in the
    memory file's own mapping: none in the shared library, a dependency or
    another object the loader took it for), and setting its thread count
    leaves the shared library's alone (checked with a count that differs
    from the shared one). Otherwise the shared setting is put back and the
    copy dropped (it stays mapped: unloading an OpenBLAS whose workers may
    run is not safe)."""
    def no(reason):
        return {"made": False, "reason": reason}

    if found.get("lib") is None or not found.get("get_threads") or not found.get("set_threads"):
        return no(f"the shared BLAS ({found['source']}) is not an OpenBLAS with thread control")
    if not hasattr(os, "memfd_create"):
        return no("needs memfd_create (Linux)")
    real = _openblas_file(found)
    if real is None:
        return no(f"no loaded library defines both the GEMMs and the thread control of "
                  f"{os.path.basename(found['library'])}")
    rss0 = _rss_bytes()
    try:
        fd = os.memfd_create("mlpx-local-blas")
    except OSError as exc:
        return no(f"memfd_create: {exc}")
    try:
        inode = os.fstat(fd).st_ino
        with open(real["library"], "rb") as f:
            size = os.fstat(f.fileno()).st_size
            done = 0
            while done < size:
                n = os.sendfile(fd, f.fileno(), done, size - done)
                if n <= 0:
                    raise OSError("short copy of the library")
                done += n
        # its own dependencies (libgfortran, ...) are found by name among
        # those the original already loaded
        lib = ctypes.CDLL(f"/proc/self/fd/{fd}", mode=getattr(os, "RTLD_LOCAL", 0))
    except OSError as exc:
        os.close(fd)
        return no(f"loading the copy: {exc}")
    # The loader knows the copy by the name "/proc/self/fd/<fd>" and hands
    # that object back to a later dlopen of the same name: the descriptor
    # stays open (close-on-exec) while the copy is mapped, so no later memfd
    # gets its number.
    _held_fds.append(fd)
    sym, ilp64 = real["symbol"], real["ilp64"]
    copy = {"sgemm": _addr(lib, sym), "dgemm": _addr(lib, sym.replace("sgemm", "dgemm")),
            "get_threads": _openblas_fn(lib, sym, ilp64, "get_num_threads"),
            "set_threads": _openblas_fn(lib, sym, ilp64, "set_num_threads")}
    if not _owns_all(copy):
        return no("the copy's GEMMs or thread functions resolve outside it")
    if _mapped_inode(copy["sgemm"]) != inode:
        return no("the loader handed back another object than the copy")
    gemv = _gemv_of(lib, sym)
    if gemv["sgemv"] and {_base(gemv["sgemv"]), _base(gemv["dgemv"])} != {_base(copy["sgemm"])}:
        gemv = {"sgemv": None, "dgemv": None}   # not the copy's own: GEMM instead
    fn_int = ctypes.CFUNCTYPE(ctypes.c_int)
    fn_set = ctypes.CFUNCTYPE(None, ctypes.c_int)
    shared_get, shared_set = fn_int(found["get_threads"]), fn_set(found["set_threads"])
    copy_get, copy_set = fn_int(copy["get_threads"]), fn_set(copy["set_threads"])
    before = shared_get()
    # a count unlike the shared one, so a copy that set the shared library
    # would show; then the one thread the engine needs
    probes = (2, 1) if before == 1 else (1,)
    isolated = True
    for n in probes:
        copy_set(n)
        now = shared_get()
        if now != before:
            isolated = False
            if now in probes:  # our doing, not another thread's limit
                shared_set(before)
            break
    if not isolated or copy_get() != 1:
        return no("setting the copy's threads changed the shared library's (not isolated)")
    rss1 = _rss_bytes()
    name = os.path.basename(real["library"])
    return {"made": True, "sgemm": copy["sgemm"], "dgemm": copy["dgemm"], "ilp64": ilp64,
            **gemv,
            "get_threads": copy["get_threads"], "lib": lib,
            "library": f"private copy of {name}", "source": real["library"],
            "bytes": size, "rss_growth": None if None in (rss0, rss1) else rss1 - rss0}


def describe_local():
    """One line on the local BLAS, for show_config."""
    if not local:
        return "not made (made at first use of a GEMM the shared BLAS would thread)"
    if not local.get("made"):
        return f"none: {local.get('reason', 'unavailable')}"
    text = f"{local['library']} (one thread; {local['bytes'] / 2**20:.1f} MiB file in shared memory"
    if local.get("rss_growth") is not None:
        text += f", RSS +{local['rss_growth'] / 2**20:.1f} MiB when made"
    return text + ")"


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
