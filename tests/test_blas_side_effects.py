"""Importing mlpx, training with it and making its local BLAS leave every
thread pool of the process as it was (threadpoolctl.threadpool_info():
the same libraries, the same thread counts), with NumPy's bundled OpenBLAS
and with a system OpenBLAS behind Debian's wrapper ``libblas.so.3``; the
local BLAS (a private copy of the OpenBLAS file) is made at first use, once,
never at import.

Each check runs ``PROBE`` in a fresh interpreter, so that "before import"
means it. ``MLPX_SYSTEM_NUMPY_PYTHON`` names a Python whose NumPy is Debian's
``python3-numpy`` over ``libopenblas0-pthread`` (a ``--system-site-packages``
venv with mlpx installed; ``.ci/run`` makes one when it can)."""

import ctypes
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("threadpoolctl", reason="needs threadpoolctl (mlpx[test])")

import mlpx  # noqa: E402
from mlpx import _blas  # noqa: E402

NATIVE = mlpx.get_backend() == "native"
requires_native = pytest.mark.skipif(
    not NATIVE, reason="NumPy backend: mlpx loads no BLAS of its own (numpy.matmul does)")
requires_memfd = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the local BLAS needs memfd_create (Linux)")

# Prints one JSON object: threadpool_info() as (filepath, num_threads) pairs
# at each stage, and what mlpx made. Argument: "time" to also time a
# 2000x2000 matmul before import and at the end.
PROBE = r'''
import json, os, sys, time
import threadpoolctl

def pools():
    return sorted((p["filepath"], p["num_threads"]) for p in threadpoolctl.threadpool_info())

def maps_memfd():
    with open("/proc/self/maps") as f:
        return sorted({l.split()[4] for l in f if "mlpx-local-blas" in l})

def matmul_s():
    import numpy as np
    a = np.random.default_rng(0).random((2000, 2000))
    a @ a
    best = 1e9
    for _ in range(3):
        t = time.perf_counter(); a @ a; best = min(best, time.perf_counter() - t)
    return best

timing = "time" in sys.argv[1:]
out = {"python": sys.executable}
import numpy as np
out["numpy"] = np.__version__
out["bare"] = pools()                  # NumPy alone
if timing:
    out["matmul_before_s"] = matmul_s()
import scipy.linalg, sklearn.datasets  # what import mlpx loads besides (SciPy's
                                       # OpenBLAS too, before mlpx looks for NumPy's)
out["deps"] = pools()
import mlpx
from mlpx import _blas
out["backend"] = mlpx.get_backend()
out["import"] = pools()
out["local_after_import"] = dict(_blas.local)
out["memfd_after_import"] = maps_memfd()
out["show_config_local"] = mlpx._config.config().get("blas_local")
X, y = sklearn.datasets.load_digits(return_X_y=True)
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    mlpx.MLPClassifier(hidden_layer_sizes=(64,), max_iter=2, random_state=0).fit(X / 16, y)
out["fit"] = pools()
if out["backend"] == "native":
    from mlpx import _core
    p = _blas.provider
    out["provider"] = p["library"]
    out["numpy_linked"] = _blas._numpy_linked_blas()
    files = {k: (_blas._dladdr(p[k]) or ("?",))[0] for k in ("sgemm", "get_threads")}
    out["provider_files"] = files
    out["make_local"] = _blas.make_local(_core)
    out["make_local_again"] = _blas.make_local(_core)
    out["has_blas_local"] = _core._has_blas_local()
    out["local"] = {k: v for k, v in _blas.local.items() if k not in ("lib",)}
    out["memfd_after_make"] = maps_memfd()
    out["make"] = pools()
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(300, 2048)), rng.normal(size=(2048, 5))]
    b = [np.zeros(2048), np.zeros(5)]
    for dtype in (np.float64, np.float32):
        P = mlpx.forward([w.astype(dtype) for w in W], [c.astype(dtype) for c in b],
                         rng.normal(size=(2000, 300)).astype(dtype))
        assert np.allclose(P.sum(1), 1, atol=1e-4)
    out["forward"] = pools()
    out["show_config_local_made"] = mlpx._config.config().get("blas_local")
    if files["sgemm"] != files["get_threads"]:
        # a wrapper (its GEMMs in one file, the thread control in another):
        # a copy of the wrapper must be refused and change nothing
        wrapper = _blas._from_library(p["library"])
        real_file, real_owns = _blas._openblas_file, _blas._owns_all
        _blas._openblas_file = lambda found: wrapper
        out["wrapper_copy"] = _blas._local_instance(p)
        out["wrapper_copy_pools"] = pools()
        _blas._owns_all = lambda found: True  # past the address check: the thread check
        out["wrapper_copy_unchecked"] = _blas._local_instance(p)
        out["wrapper_copy_unchecked_pools"] = pools()
        _blas._openblas_file, _blas._owns_all = real_file, real_owns
if timing:
    out["matmul_after_s"] = matmul_s()
print(json.dumps(out))
'''


def run_probe(python, *args, env=None, tmp_path=None):
    proc = subprocess.run([python, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_untouched(out):
    """Every stage lists the libraries of ``deps`` with their thread counts,
    and NumPy's own pools keep the counts they had before anything else."""
    stages = ["import", "fit"] + (["make", "forward"] if out["backend"] == "native" else [])
    for stage in stages:
        assert out[stage] == out["deps"], (stage, out["deps"], out[stage])
    bare = dict(map(tuple, out["bare"]))
    for path, threads in out["deps"]:
        if path in bare:
            assert threads == bare[path], (path, bare[path], threads)
    assert not any("/proc/" in p or "memfd" in p for p, _ in out["deps"])


def check_local(out):
    assert out["local_after_import"] == {}
    assert out["memfd_after_import"] == []
    if out["backend"] != "native":
        return
    assert out["show_config_local"].startswith("not made"), out["show_config_local"]
    # the shared BLAS is the one NumPy links, though SciPy's was loaded first
    if out["numpy_linked"]:
        assert os.path.realpath(out["provider"]) == out["numpy_linked"][0], out
    assert out["make_local"] == out["make_local_again"] == out["has_blas_local"]
    if out["make_local"]:
        local = out["local"]
        assert local["made"] and local["bytes"] > 0
        assert len(out["memfd_after_make"]) == 1  # one copy, one inode
        # the copy is of the file with the thread control, never of a wrapper
        assert os.path.basename(local["source"]) == os.path.basename(
            os.path.realpath(out["provider_files"]["get_threads"])), local
        assert "private copy of" in out["show_config_local_made"]
        assert "MiB" in out["show_config_local_made"]
    if "wrapper_copy" in out:
        assert out["wrapper_copy"]["made"] is False, out["wrapper_copy"]
        assert out["wrapper_copy_unchecked"]["made"] is False, out["wrapper_copy_unchecked"]
        assert "not isolated" in out["wrapper_copy_unchecked"]["reason"]
        assert out["wrapper_copy_pools"] == out["deps"]
        assert out["wrapper_copy_unchecked_pools"] == out["deps"]


@requires_memfd
def test_import_fit_and_local_blas_leave_thread_pools_alone(tmp_path):
    out = run_probe(sys.executable, tmp_path=tmp_path)
    check_untouched(out)
    check_local(out)


@requires_native
@requires_memfd
def test_local_blas_turned_off_is_remembered(tmp_path):
    out = run_probe(sys.executable, env={"MLPX_LOCAL_BLAS": "0"}, tmp_path=tmp_path)
    check_untouched(out)
    assert out["make_local"] is False and out["has_blas_local"] is False
    assert out["local"] == {"made": False, "reason": "off (MLPX_LOCAL_BLAS=0)"}
    assert out["memfd_after_make"] == []
    assert out["show_config_local_made"].startswith("none: off")


@requires_native
@requires_memfd
def test_two_threads_asking_at_once_make_one_instance(tmp_path):
    code = r'''
import threading, time, mlpx
from mlpx import _blas, _core
calls, real = [], _blas._local_instance
def slow(found):
    calls.append(1)
    time.sleep(0.2)  # both threads inside make_local at once
    return real(found)
_blas._local_instance = slow
gate = threading.Barrier(4)
got = []
def ask():
    gate.wait()
    got.append(_blas.make_local(_core))
ts = [threading.Thread(target=ask) for _ in range(4)]
[t.start() for t in ts]; [t.join(60) for t in ts]
with open("/proc/self/maps") as f:
    inodes = {l.split()[4] for l in f if "mlpx-local-blas" in l}
print(len(calls), len(set(got)), len(got), got[0], len(inodes))
'''
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    n_calls, n_answers, n_threads, made, n_inodes = proc.stdout.split()
    assert (n_calls, n_answers, n_threads) == ("1", "1", "4")
    assert n_inodes == ("1" if made == "True" else "0")


@requires_native
@requires_memfd
def test_local_blas_computes_like_numpy():
    """The copy's own dgemm/sgemm, called directly, give NumPy's product."""
    from mlpx import _core

    if not _blas.make_local(_core):
        pytest.skip(f"no local BLAS here: {_blas.local.get('reason')}")
    loc = _blas.local
    it = ctypes.c_int64 if loc["ilp64"] else ctypes.c_int32
    rng = np.random.default_rng(3)
    m, n, k = 37, 23, 41
    for dtype, key, ct in ((np.float64, "dgemm", ctypes.c_double),
                           (np.float32, "sgemm", ctypes.c_float)):
        A = np.asfortranarray(rng.normal(size=(m, k)).astype(dtype))
        B = np.asfortranarray(rng.normal(size=(k, n)).astype(dtype))
        C = np.zeros((m, n), dtype=dtype, order="F")
        P = ctypes.POINTER
        gemm = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, P(it), P(it), P(it),
                                P(ct), ctypes.c_void_p, P(it), ctypes.c_void_p, P(it),
                                P(ct), ctypes.c_void_p, P(it))(loc[key])
        ref = lambda v: ctypes.byref(it(v))  # noqa: E731
        gemm(b"N", b"N", ref(m), ref(n), ref(k), ctypes.byref(ct(1.0)), A.ctypes.data,
             ref(m), B.ctypes.data, ref(k), ctypes.byref(ct(0.0)), C.ctypes.data, ref(m))
        np.testing.assert_allclose(C, A @ B, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-4 if dtype == np.float32 else 1e-12)
    get = ctypes.CFUNCTYPE(ctypes.c_int)(loc["get_threads"])
    assert get() == 1


def test_system_numpy_openblas_behind_a_wrapper(tmp_path):
    """Debian's python3-numpy links libblas.so.3, a wrapper with its own
    sgemm_ that calls libopenblas.so.0: mlpx must copy libopenblas.so.0, and
    nothing it does may change NumPy's threads (a copy of the wrapper set
    NumPy's OpenBLAS to one thread: matmuls ~2x slower)."""
    python = os.environ.get("MLPX_SYSTEM_NUMPY_PYTHON")
    if not python:
        pytest.skip("MLPX_SYSTEM_NUMPY_PYTHON is not set (a Python over Debian's python3-numpy "
                    "+ libopenblas0-pthread with mlpx installed; .ci/run makes one as root)")
    out = run_probe(python, "time", env={"MLPX_BACKEND": "native"}, tmp_path=tmp_path)
    print(json.dumps({k: out.get(k) for k in ("python", "numpy", "bare", "make", "provider",
                                              "provider_files", "matmul_before_s",
                                              "matmul_after_s", "show_config_local_made")},
                     indent=1))
    assert out["backend"] == "native"
    files = out["provider_files"]
    assert files["sgemm"] != files["get_threads"], (
        f"expected NumPy's BLAS behind a wrapper here, got {files}")
    check_untouched(out)
    check_local(out)
    assert out["make_local"], out["local"]
    assert "wrapper_copy" in out
