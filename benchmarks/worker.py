"""One system per process: ``python -m benchmarks.worker SYSTEM``.

Reads one JSON command per line on stdin, answers one JSON line on the
original stdout (the process's fd 1 is redirected to stderr so that library
prints cannot corrupt the protocol). Commands:

    {"cmd": "info"}
    {"cmd": "load"}                                     -> {"ok": true}  (imports only)
    {"cmd": "setup", "config": "a32", "quick": false}   -> {"ok": true} | {"skip": "..."}
    {"cmd": "train", "k": 3}                            -> {"seconds": 0.61}
    {"cmd": "infer", "n": 3}                            -> {"seconds": [..]}
    {"cmd": "latency", "rows": [1, 8], "seconds": 0.02} -> {"latency": {label: {"1": s, ..}}}
    {"cmd": "twopool", "quick": false}                  -> {...}  (mlpx only)
    {"cmd": "quit"}

Running each system in its own process keeps thread pools apart (torch's
OpenMP, XLA's, MKL's, NumPy's OpenBLAS) and lets MLPX_BACKEND pick mlpx's
backend at import, as a user would.
"""

import json
import os
import sys
import traceback


def main():
    name = sys.argv[1]
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    from .machine import default_threads, prefer_snapshot
    dropped = prefer_snapshot()         # before anything imports mlpx
    if dropped:
        print(f"worker {name}: mlpx from the report's copy of src/; dropped import "
              f"finder(s) {', '.join(dropped)}", file=sys.stderr)
    threads = default_threads()
    cores = sorted(os.sched_getaffinity(0))
    if threads < len(cores):
        # fewer threads than cores: pin the worker to `threads` cores, before
        # any library starts its pool. The one limit every system obeys
        # (XLA:CPU keeps 2 threads busy whatever XLA_FLAGS say).
        os.sched_setaffinity(0, cores[:threads])
    import numpy  # noqa: F401  (load NumPy's OpenBLAS, mlpx's BLAS, before limiting)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None

    def limit_threads():
        # applies to the pools loaded so far: called again after every setup,
        # which loads the system's libraries (SciPy's OpenBLAS, torch's OpenMP...)
        if threadpool_limits is not None:
            threadpool_limits(threads)

    limit_threads()
    from .configs import get_config
    from .systems import SYSTEMS, Skip
    from .machine import ENV_VARS, blas_info

    system = SYSTEMS[name]()
    skip_reason = None

    def answer(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "quit":
                answer({"ok": True})
                break
            elif cmd == "load":
                try:
                    system.load()
                except Exception:  # noqa: BLE001  (setup says why)
                    pass
                limit_threads()
                answer({"ok": True})
            elif cmd == "setup":
                try:
                    system.setup(get_config(msg["config"], msg.get("quick", False)), threads)
                    limit_threads()
                    skip_reason = None
                    answer({"ok": True})
                except Skip as exc:
                    skip_reason = str(exc)
                    answer({"skip": skip_reason})
            elif cmd == "train":
                answer({"seconds": system.train(int(msg["k"]))})
            elif cmd == "infer":
                answer({"seconds": [system.infer() for _ in range(int(msg.get("n", 1)))]})
            elif cmd == "latency":
                from .systems import time_latency
                answer({"latency": time_latency(system, [int(r) for r in msg["rows"]],
                                                float(msg.get("seconds", 0.02)))})
            elif cmd == "info":
                info = {"threads": threads}
                try:
                    info.update(system.info())
                except Exception as exc:  # noqa: BLE001
                    info["info_error"] = repr(exc)
                info["blas_pools"] = blas_info()   # under the thread limit
                # the variables this worker started with (CPU path, threads)
                info["env"] = {k: os.environ[k] for k in ENV_VARS if k in os.environ}
                answer({"info": info})
            elif cmd == "twopool":
                from .twopool import run_twopool
                answer({"twopool": run_twopool(msg.get("quick", False), threads)})
            else:
                answer({"error": f"unknown command {cmd!r}"})
        except Exception:  # noqa: BLE001
            answer({"error": traceback.format_exc()})


if __name__ == "__main__":
    main()
