"""What a one-thread pass pays for data a threaded GEMM just wrote:
``python -m benchmarks.dev.crosspass [SECONDS]``.

The epoch of (a) at batch 2048 (784-256-128-10, f32) alternates OpenBLAS's
threaded GEMMs with mlpx's one-thread passes (bias + activation, the
activation derivative). A GEMM's output is written half by each BLAS
thread, so the pass after it reads half of its input from the other core.
Each line prints the core-to-core round trip now (``corelat``), then the
median over batches of the four passes of that batch's shapes (here an
in-place scaling, NumPy's one-thread ufunc) run right after their GEMM
(``first``) and once more at once, on data now in this core's cache
(``again``), and the GEMMs' own time with and without those passes between
them. Measured with the script this module packages, at 20:03-20:13 on
2026-11-29 (314 samples, a fresh probe process before each): with near probes the first pass took a median 1.77x the second,
with far ones (>= 280 ns) 3.74x, while the GEMMs kept their time
(0.98-1.01x): the far phases of (a) at batch 2048 are paid in mlpx's
passes, not in the GEMMs (benchmarks/README.md, "Missed").
"""

import sys
import time

import numpy as np

from .corelat import roundtrip_ns

B = 2048


def _arrays(rng):
    f = np.float32
    a = {"X": rng.standard_normal((B, 784), dtype=f)}
    for name, (n, m) in {"W1": (784, 256), "W2": (256, 128), "W3": (128, 10)}.items():
        a[name] = rng.standard_normal((n, m), dtype=f) * f(0.05)
    for name, (n, m) in {"H1": (B, 256), "H2": (B, 128), "H3": (B, 10), "D2": (B, 128),
                         "D1": (B, 256), "G1": (784, 256), "G2": (256, 128),
                         "G3": (128, 10)}.items():
        a[name] = np.empty((n, m), f)
    return a


def batch(a, passes=True):
    """One batch's GEMMs (forward and backward of 784-256-128-10), with a
    one-thread pass after four of them when `passes`. Returns seconds:
    (GEMMs, first passes, passes again)."""
    gemm = first = again = 0.0

    def mm(x, y, out, then_pass):
        nonlocal gemm, first, again
        t = time.perf_counter()
        np.matmul(x, y, out=out)
        gemm += time.perf_counter() - t
        if passes and then_pass:
            t0 = time.perf_counter()
            np.multiply(out, 0.999, out=out)
            t1 = time.perf_counter()
            np.multiply(out, 1.001, out=out)
            first += t1 - t0
            again += time.perf_counter() - t1

    mm(a["X"], a["W1"], a["H1"], True)
    mm(a["H1"], a["W2"], a["H2"], True)
    mm(a["H2"], a["W3"], a["H3"], False)
    mm(a["H2"].T, a["H3"], a["G3"], False)
    mm(a["H3"], a["W3"].T, a["D2"], True)
    mm(a["H1"].T, a["D2"], a["G2"], False)
    mm(a["D2"], a["W2"].T, a["D1"], True)
    mm(a["X"].T, a["D1"], a["G1"], False)
    return gemm, first, again


def sample(a, n=20):
    """Medians over n batches: pass first / again, GEMMs with / without."""
    with_p = [batch(a, True) for _ in range(n)]
    without = [batch(a, False) for _ in range(n)]
    first = np.median([f for _, f, _ in with_p])
    again = np.median([g for _, _, g in with_p])
    g_with = np.median([g for g, _, _ in with_p])
    g_without = np.median([g for g, _, _ in without])
    return first, again, g_with, g_without


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    seconds = float(argv[0]) if argv else 30.0
    a = _arrays(np.random.default_rng(0))
    for _ in range(3):
        batch(a)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.25)  # OpenBLAS's worker spins ~0.1 s after a GEMM: not in the probe
        ns = roundtrip_ns()
        first, again, g_with, g_without = sample(a)
        print(f"{time.strftime('%H:%M:%S')} {ns:5.0f} ns round trip; passes first "
              f"{first * 1e3:.3f} ms, again {again * 1e3:.3f} ms ({first / again:.2f}x); "
              f"GEMMs with passes / without {g_with / g_without:.3f}", flush=True)


if __name__ == "__main__":
    main()
