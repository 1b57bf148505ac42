"""What the numbers ran on: CPU, BLAS libraries and threads, versions, env."""

import os
import platform
import subprocess
import sys
import time

ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_DEBUG_CPU_TYPE",
            "MKL_ENABLE_INSTRUCTIONS", "XLA_FLAGS", "MLPX_BACKEND", "BENCH_THREADS")


def cpu_model():
    model, flags = platform.processor() or "unknown", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("unknown", "", platform.processor()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1]
    except OSError:
        pass
    isa = [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f" {x} " in f" {flags} "]
    return model, isa


def default_threads():
    env = os.environ.get("BENCH_THREADS")
    if env:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def git_commit(root):
    try:
        out = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src", "csrc"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty(src)" if dirty else "")
    except Exception:  # noqa: BLE001
        return "unknown"


def machine_info(root):
    model, isa = cpu_model()
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": model,
        "isa": isa,
        "cores_available": len(os.sched_getaffinity(0)),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "loadavg_start": os.getloadavg(),
        "git": git_commit(root),
    }


def blas_info():
    """threadpoolctl's view of this process: every BLAS / OpenMP pool loaded."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    out = []
    for d in threadpool_info():
        out.append({k: d.get(k) for k in ("user_api", "internal_api", "prefix", "filepath",
                                          "version", "num_threads", "architecture",
                                          "threading_layer")})
    return out


def versions(names):
    from importlib import metadata
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


# ------------------------------------------- CPU used by other processes

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_jiffies():
    """Busy CPU time of the whole machine (all cores), in clock ticks."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...
    return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)


def _proc_jiffies(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])      # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


class ForeignLoad:
    """Cores used by processes other than ours (this process and `pids`)
    between start() and stop(): busy time of the machine minus our own."""

    def __init__(self, pids=()):
        self.pids = list(pids)

    def _ours(self):
        return _proc_jiffies(os.getpid()) + sum(_proc_jiffies(p) for p in self.pids)

    def start(self):
        self.t0, self.b0, self.o0 = time.time(), _busy_jiffies(), self._ours()
        return self

    def stop(self):
        b1 = _busy_jiffies()
        if b1 is None or self.b0 is None:
            return None
        wall = time.time() - self.t0
        other = (b1 - self.b0) - (self._ours() - self.o0)
        return max(0.0, other / _HZ / max(wall, 1e-3))


def wait_quiet(max_wait, threshold=0.25, interval=1.0, log=None):
    """Wait (at most max_wait s) until other processes use < threshold cores
    over `interval`. Returns the last load seen."""
    t_end = time.time() + max_wait
    while True:
        fl = ForeignLoad().start()
        time.sleep(interval)
        load = fl.stop()
        if load is None or load < threshold or time.time() >= t_end:
            return load
        if log:
            log(f"  waiting for a quiet machine: other processes use {load:.2f} cores")


class RunDelay:
    """How long the threads of process `pid` were runnable but waiting for a
    CPU (Linux schedstat run_delay, summed over threads) per second of wall
    time: 0 on a quiet machine; the direct measure of being slowed by other
    processes (a BLAS thread waiting while its partner runs counts here,
    a core used by others that we did not need does not)."""

    def __init__(self, pid):
        self.pid = pid

    def _read(self):
        total = 0
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return None
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                pass
        return total

    def start(self):
        self.t0, self.d0 = time.time(), self._read()
        return self

    def stop(self):
        d1 = self._read()
        if d1 is None or self.d0 is None:
            return None
        return max(0.0, (d1 - self.d0) * 1e-9 / max(time.time() - self.t0, 1e-6))
