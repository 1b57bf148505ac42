"""Which GEMMs mlpx calls and how much of an epoch they take:
``python -m benchmarks.dev.gemmcount CONFIG [EPOCHS] [--quick]``.

Diagnostic only (not part of the timed benchmark): in this process, mlpx's
GEMM table is pointed at ``gemm_count.c``'s wrappers (through
``mlpx._backend.routed_gemm``, the documented hook for this), which forward to the same BLAS and time each
call; then ``fit`` runs EPOCHS epochs. Prints per call shape the calls and
seconds per epoch, next to the GEMM list of the bound (``gemm_bound.c``) and
the bound's own time, so the gap mlpx/bound splits into
"extra or slower GEMMs" and "time outside GEMM".
"""

import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import warnings

from . import run_at_priority, tool_parser

HERE = os.path.dirname(os.path.abspath(__file__))


def _compile():
    src = os.path.join(HERE, "gemm_count.c")
    with open(src, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()[:12]
    out = os.path.join(tempfile.gettempdir(), f"mlpx-bench-gemm-count-{digest}.so")
    if not os.path.exists(out):
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", src, "-o", out + ".tmp"],
                       check=True)
        os.replace(out + ".tmp", out)
    lib = ctypes.CDLL(out)
    lib.gc_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.gc_get.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64),
                           ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)]
    return lib


def bound_shapes(cfg):
    """(dtype, ta, tb, m, n, k) -> calls per epoch of the bound, in its
    Fortran (column-major) form, as gemm_bound.c issues them."""
    dt = "s" if cfg.dtype == "float32" else "d"
    out = {}
    n, B, sizes = cfg.n_rows, cfg.batch, cfg.layers
    for start in range(0, n, B):
        nb = min(B, n - start)
        for i in range(len(sizes) - 1):
            F, O = sizes[i], sizes[i + 1]
            for key in [(dt, "N", "N", O, nb, F), (dt, "N", "T", O, F, nb)] + \
                       ([(dt, "T", "N", F, nb, O)] if i > 0 else []):
                out[key] = out.get(key, 0) + 1
    return out


def run(key, epochs, quick):
    import threadpoolctl
    threadpoolctl.threadpool_limits(int(os.environ.get("BENCH_THREADS", "0")) or None)
    import mlpx
    from mlpx import _backend
    from ..bound import Bound, get_provider
    from ..configs import get_config, make_data
    from ..systems import MlpxSystem

    if mlpx.get_backend() != "native":
        raise SystemExit(f"mlpx backend is {mlpx.get_backend()!r}: nothing to count")
    p = _backend.blas_provider()
    lib = _compile()
    cfg = get_config(key, quick)
    s = MlpxSystem()
    s.setup(cfg, 0)
    t_plain = min(s.train(epochs) for _ in range(2)) / epochs
    lib.gc_init(p["sgemm"], p["dgemm"], int(p["ilp64"]))
    addr = lambda name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value  # noqa: E731
    with _backend.routed_gemm(addr("gc_sgemm"), addr("gc_dgemm")):
        s.train(1)                       # warm-up through the wrappers
        lib.gc_init(p["sgemm"], p["dgemm"], int(p["ilp64"]))
        t_counted = s.train(epochs) / epochs
    rows = []
    t = ctypes.create_string_buffer(3)
    mnk = (ctypes.c_int64 * 4)()
    sec, beta = ctypes.c_double(), ctypes.c_double()
    row_betas = []
    for i in range(lib.gc_count()):
        lib.gc_get(i, t, mnk, ctypes.byref(sec), ctypes.byref(beta))
        ta, tb, dt = (chr(c) for c in t.raw[:3])
        shape = (dt, ta, tb, mnk[0], mnk[1], mnk[2])
        rows.append((shape, mnk[3] / epochs, sec.value / epochs))
        row_betas.append(beta.value)
    X, y, Xi = make_data(cfg, n_infer=1)
    bound = Bound(get_provider("mlpx"), cfg.layers, cfg.dtype, cfg.batch, X, Xi)
    bound.epochs(1)
    t0 = time.perf_counter()
    bound.epochs(epochs)
    t_bound = (time.perf_counter() - t0) / epochs
    # the bound again, through the counting wrappers: per-shape times
    wrapped = dict(get_provider("mlpx"), sgemm=addr("gc_sgemm"), dgemm=addr("gc_dgemm"))
    bound = Bound(wrapped, cfg.layers, cfg.dtype, cfg.batch, X, Xi)
    bound.epochs(1)
    lib.gc_init(p["sgemm"], p["dgemm"], int(p["ilp64"]))
    bound.epochs(epochs)
    btimes = {}
    for i in range(lib.gc_count()):
        lib.gc_get(i, t, mnk, ctypes.byref(sec), ctypes.byref(beta))
        ta, tb, dt = (chr(c) for c in t.raw[:3])
        key = (dt, ta, tb, mnk[0], mnk[1], mnk[2])
        btimes[key] = btimes.get(key, 0.0) + sec.value / epochs
    rows = [(shape, c, s_, [b]) for (shape, c, s_), b in zip(rows, row_betas)]
    return cfg, t_plain, t_counted, rows, bound_shapes(cfg), t_bound, btimes


def render(cfg, t_plain, t_counted, rows, bshapes, t_bound, btimes):
    gemm = sum(r[2] for r in rows)
    calls = sum(r[1] for r in rows)
    rows = [(r[0], r[1], r[2]) + tuple(r[3:]) for r in rows]
    out = [f"GEMMs of mlpx on {cfg.label}, per epoch",
           f"- epoch: {t_plain:.4g} s without the counter, {t_counted:.4g} s with it",
           f"- in GEMM: {gemm:.4g} s ({100 * gemm / t_counted:.0f}%), {calls:.0f} calls; "
           f"outside GEMM: {t_counted - gemm:.4g} s",
           f"- bound (gemm_bound.c, same BLAS): {t_bound:.4g} s, {sum(bshapes.values())} calls",
           f"- bound's GEMMs timed one by one: {sum(btimes.values()):.4g} s",
           "", "| dtype op m n k (Fortran, column-major) | mlpx beta | mlpx calls/epoch | mlpx s/epoch | us/call "
           "| bound calls/epoch (beta 0) | bound s/epoch |",
           "|---|---|---:|---:|---:|---:|---:|"]
    seen = set()
    for shape, c, sec, betas in sorted(rows, key=lambda r: -r[2]):
        if c < 1 and sec < 1e-4:
            continue
        seen.add(shape)
        dt, ta, tb, m, n, k = shape
        out.append(f"| {dt}gemm {ta}{tb} {m} {n} {k} | {','.join(f'{b:g}' for b in betas)} | {c:.0f} | {sec:.4g} | {1e6 * sec / max(c, 1):.1f} | "
                   f"{bshapes.get(shape, 0)} | {btimes.get(shape, 0):.4g} |")
    for shape, c in bshapes.items():
        if shape not in seen:
            dt, ta, tb, m, n, k = shape
            out.append(f"| {dt}gemm {ta}{tb} {m} {n} {k} | – | 0 | 0 | – | {c} | {btimes.get(shape, 0):.4g} |")
    return "\n".join(out)


def main(argv=None):
    ap = tool_parser(__doc__, priority=-20)
    ap.add_argument("config")
    ap.add_argument("epochs", type=int, nargs="?", default=3)
    a = ap.parse_args(argv)
    rc = run_at_priority(a.priority, "benchmarks.dev.gemmcount", argv)
    if rc is not None:
        return rc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        print(render(*run(a.config, a.epochs, a.quick)))


if __name__ == "__main__":
    sys.exit(main())
