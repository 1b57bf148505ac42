"""The GEMM-only lower bound: ``gemm_bound.c`` compiled at benchmark time and
called through ctypes with the GEMM addresses of a BLAS provider.

Providers:
  "mlpx" -- the BLAS mlpx itself uses, from ``mlpx._blas.find_provider()``
            (NumPy's own OpenBLAS when it exports its Fortran symbols).
  "mkl"  -- ``libmkl_rt`` from PyPI's ``mkl`` package (LP64 ``sgemm_``), if
            installed; an extra column, as issue 5 asks.
"""

import ctypes
import glob
import hashlib
import os
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "gemm_bound.c")
CC_FLAGS = ["-O2", "-shared", "-fPIC"]

_lib = None


def compile_shared(source, extra=()):
    """Compile a C file of this folder into a shared library (once per
    source version and flags, in the temp folder) and load it."""
    flags = [*CC_FLAGS, *extra]
    with open(source, "rb") as f:
        digest = hashlib.sha1(f.read() + " ".join(flags).encode()).hexdigest()[:12]
    name = os.path.splitext(os.path.basename(source))[0].replace("_", "-")
    out = os.path.join(tempfile.gettempdir(), f"mlpx-bench-{name}-{digest}.so")
    if not os.path.exists(out):
        cc = os.environ.get("CC", "cc")
        tmp = out + f".{os.getpid()}.tmp"
        subprocess.run([cc, *CC_FLAGS, source, "-o", tmp, *extra], check=True)
        os.replace(tmp, out)
    return ctypes.CDLL(out)


def compile_bound():
    """Compile gemm_bound.c (once per source version) and load it."""
    global _lib
    if _lib is not None:
        return _lib
    lib = compile_shared(SOURCE)
    i64, vp = ctypes.c_int64, ctypes.c_void_p
    for suffix in ("s32", "s64", "d32", "d64"):
        fn = getattr(lib, f"bound_epochs_{suffix}")
        fn.restype = i64
        fn.argtypes = [vp, i64, vp, i64, i64, vp, vp, vp, vp, vp, i64, ctypes.c_int]
        fn = getattr(lib, f"bound_forward_{suffix}")
        fn.restype = i64
        fn.argtypes = [vp, i64, vp, i64, vp, vp, vp, i64]
    _lib = lib
    return lib


def _mkl_library():
    roots = {sys.prefix, sysconfig.get_config_var("LIBDIR") or "", os.path.dirname(sys.executable)}
    for root in roots:
        for pattern in ("lib/libmkl_rt.so*", "libmkl_rt.so*"):
            hits = sorted(glob.glob(os.path.join(root, pattern)))
            if hits:
                return hits[-1]
    return None


def get_provider(name):
    """Return dict(sgemm, dgemm, ilp64, library, lib, set_threads) or raise
    RuntimeError with a clear reason."""
    if name == "mlpx":
        try:
            from mlpx import _blas
        except ImportError as exc:
            raise RuntimeError(f"cannot import mlpx._blas: {exc}") from exc
        # the provider mlpx installed into its core at import, if it did;
        # else the one it would choose
        p = dict(_blas.provider or _blas.find_provider())
        p["set_threads"] = None   # NumPy's OpenBLAS: threadpoolctl limits it
        return p
    if name == "mkl":
        path = _mkl_library()
        if path is None:
            raise RuntimeError("libmkl_rt not found (pip install mkl to add this bound)")
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        addr = lambda s: ctypes.cast(getattr(lib, s), ctypes.c_void_p).value
        set_threads = getattr(lib, "MKL_Set_Num_Threads", None)
        return {"sgemm": addr("sgemm_"), "dgemm": addr("dgemm_"), "ilp64": False,
                "library": path, "lib": lib, "symbol": "sgemm_",
                "set_threads": set_threads}
    raise ValueError(f"unknown bound provider {name!r}")


def _ptrs(arrays):
    return (ctypes.c_void_p * len(arrays))(*[a.ctypes.data if a is not None else None
                                             for a in arrays])


class Bound:
    """Preallocated arrays for one configuration and the calls that time it."""

    def __init__(self, provider, layers, dtype, batch, X, X_infer):
        self.lib = compile_bound()
        self.provider = provider
        dtype = np.dtype(dtype)
        suffix = ("s" if dtype == np.float32 else "d") + ("64" if provider["ilp64"] else "32")
        self.fn = provider["sgemm" if dtype == np.float32 else "dgemm"]
        self._epochs = getattr(self.lib, f"bound_epochs_{suffix}")
        self._forward = getattr(self.lib, f"bound_forward_{suffix}")
        rng = np.random.default_rng(0)
        L = len(layers) - 1
        self.L = L
        self.sizes = np.asarray(layers, dtype=np.int64)
        self.batch = int(batch)
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.X_infer = np.ascontiguousarray(X_infer, dtype=dtype)
        lim = [np.sqrt(2.0 / (f + o)) for f, o in zip(layers[:-1], layers[1:])]
        self.W = [rng.uniform(-b, b, (f, o)).astype(dtype)
                  for b, f, o in zip(lim, layers[:-1], layers[1:])]
        self.dW = [np.zeros_like(w) for w in self.W]
        self.Z = [None] + [np.zeros((self.batch, o), dtype) for o in layers[1:]]
        self.D = [None] + [np.zeros((self.batch, o), dtype) for o in layers[1:]]
        self.D[L][:] = rng.uniform(-0.1, 0.1, self.D[L].shape)   # an output error
        self.Zi = [None] + [np.zeros((self.X_infer.shape[0], o), dtype) for o in layers[1:]]
        self._args = (_ptrs(self.W), _ptrs(self.Z), _ptrs(self.D), _ptrs(self.dW))
        self._iargs = (_ptrs(self.W), _ptrs(self.Zi))

    def gemms_per_epoch(self):
        n_batches = -(-self.X.shape[0] // self.batch)
        return n_batches * (3 * self.L - 1)

    def epochs(self, reps=1, n_rows=None, into_w=False):
        """reps epochs of GEMMs. into_w (diagnostic, not the bound): the
        weight-gradient GEMM accumulates into W with beta = 1, as an engine
        that folds plain SGD into the GEMM would."""
        n = self.X.shape[0] if n_rows is None else n_rows
        W, Z, D, dW = self._args
        return self._epochs(self.fn, self.L, self.sizes.ctypes.data, n, self.batch,
                            self.X.ctypes.data, W, Z, D, dW, reps, int(into_w))

    def forward(self, reps=1):
        W, Z = self._iargs
        return self._forward(self.fn, self.L, self.sizes.ctypes.data, self.X_infer.shape[0],
                             self.X_infer.ctypes.data, W, Z, reps)

    def selfcheck(self):
        """One batch through the C loop, compared with NumPy: proves the
        column-major mapping and the provider's calling convention."""
        nb = min(self.batch, self.X.shape[0])
        self.D[self.L][:] = np.random.default_rng(1).uniform(-0.1, 0.1, self.D[self.L].shape)
        d_last = self.D[self.L][:nb].copy()
        self.epochs(1, n_rows=nb)
        x = self.X[:nb].astype(np.float64)
        zs = [x]
        for w in self.W:
            zs.append(zs[-1] @ w)
        tol = 1e-3 if self.X.dtype == np.float32 else 1e-10
        ok = np.allclose(self.Z[self.L][:nb], zs[-1], rtol=tol, atol=tol)
        ok &= np.allclose(self.dW[self.L - 1], zs[-2].T @ d_last, rtol=tol, atol=tol)
        if self.L > 1:
            ok &= np.allclose(self.D[self.L - 1][:nb], d_last @ self.W[self.L - 1].T.astype(np.float64),
                              rtol=tol, atol=tol)
        if not ok:
            raise RuntimeError("GEMM bound self-check failed: wrong results from the C loop")
        return True
