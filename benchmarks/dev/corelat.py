"""Core-to-core latency of this machine, now: ``python -m benchmarks.dev.corelat
[SECONDS]`` prints the round trip of a cache line between two threads
(``corelat.c``) twice a second.

On the shared 2-vCPU VMs of issue 5 the host keeps the two virtual CPUs
close (60-160 ns) or far apart (320-410 ns) for seconds to minutes at a
time. mlpx's two-thread epoch on (e) and its epochs on (a) at batch 2048
are markedly slower in the far phases (benchmarks/README.md, "Missed"), so
run this beside a benchmark to tell the machine's phase from a change.
"""

import ctypes
import os
import sys
import time

from ..bound import compile_shared

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corelat.c")


def roundtrip_ns(n=200_000):
    """Mean round trip of one cache line between two threads, in ns."""
    lib = compile_shared(SOURCE, ["-pthread"])
    fn = lib.corelat_roundtrip_ns
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_int64]
    ns = fn(n)
    if ns < 0:
        raise RuntimeError("corelat: could not start a thread")
    return ns


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    seconds = float(argv[0]) if argv else 10.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        print(f"{time.strftime('%H:%M:%S')} {roundtrip_ns():6.0f} ns round trip", flush=True)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
