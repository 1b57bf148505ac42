"""Memory during fit: ``python -m benchmarks.memory SYSTEM CONFIG EPOCHS [--quick]``.

In a fresh process: data built, estimator imported and warmed up by a tiny
fit (64 rows, 1 epoch: first-call imports, BLAS buffers and code pages are
one-time costs, not the fit's), free heap pages returned to the OS
(glibc malloc_trim, so that memory freed earlier cannot hide the fit's), then
    before = VmRSS;  reset VmHWM (write "5" to /proc/self/clear_refs);
    fit(X, y) for EPOCHS epochs;  peak = VmHWM
and ``peak - before`` is compared with the issue's limit
    2 x (parameters + optimizer state) + 16 MiB,
optimizer state being SGD's velocities (one array per parameter). Where
VmHWM cannot be reset, ru_maxrss is used and the answer says so.
Prints one JSON line.
"""

import gc
import json
import os
import resource
import sys
import warnings

MiB = 1 << 20


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _malloc_trim():
    """Give free heap pages back to the OS (glibc), so that memory freed
    before the fit (data generation, warm-up) cannot be silently reused by
    the fit without showing in its peak."""
    try:
        import ctypes
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0)) or True
    except (OSError, AttributeError):
        return False


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(system_name, config_key, epochs, quick=False):
    from .configs import get_config, make_data
    from .systems import SYSTEMS

    cfg = get_config(config_key, quick)
    system = SYSTEMS[system_name]()
    system.cfg = cfg
    system.cls = system._estimator_class()
    X, y, _ = make_data(cfg, n_infer=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idx = list(range(0, X.shape[0], max(1, X.shape[0] // 64)))[:64]
        system._make(1).fit(X[idx], y[idx])     # warm-up, 64 rows
        est = system._make(epochs)
        gc.collect()
        trimmed = _malloc_trim()
        before = _status("VmRSS")
        reset = _reset_peak()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        est.fit(X, y)
        peak = _status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    itemsize = X.dtype.itemsize
    params = cfg.n_params * itemsize
    state = cfg.n_params * itemsize          # SGD velocities
    limit = 2 * (params + state) + 16 * MiB
    return {
        "system": system_name, "config": config_key, "epochs": epochs,
        "malloc_trim": trimmed,
        "method": "VmHWM after clear_refs" if reset else
                  f"ru_maxrss (peak before fit was {maxrss_before / MiB:.1f} MiB)",
        "rss_before_mib": before / MiB, "peak_mib": peak / MiB,
        "delta_mib": (peak - before) / MiB, "limit_mib": limit / MiB,
        "params_mib": params / MiB, "data_mib": X.nbytes / MiB,
        "n_iter": int(getattr(est, "n_iter_", -1)),
    }


if __name__ == "__main__":
    from .machine import prefer_snapshot
    prefer_snapshot()                   # before anything imports mlpx
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = measure(args[0], args[1], int(args[2]), quick="--quick" in sys.argv)
    sys.stdout.write(json.dumps(out) + "\n")
