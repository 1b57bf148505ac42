"""What the numbers ran on: CPU, BLAS libraries and threads, versions, env."""

import os
import platform
import subprocess
import sys
import time

ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_DEBUG_CPU_TYPE",
            "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "XLA_FLAGS", "MLPX_BACKEND",
            "MLPX_CPU", "BENCH_THREADS")

# /proc/cpuinfo flags worth naming in a report (in this order), and the
# x86-64 micro-architecture levels they make up (psABI; v4 = the AVX-512
# set mlpx's x86-64-v4 kernels need, v3 = AVX2 + FMA and friends)
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "amx_tile")
X86_64_LEVELS = (
    ("x86-64-v4", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
    ("x86-64-v3", ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")),
    ("x86-64-v2", ("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3")),
)


def cpu_model():
    """(model name, [ISA flags of ISA_FLAGS the CPU has])."""
    model, flags = _cpuinfo()
    return model, [x for x in ISA_FLAGS if x in flags]


def x86_64_level(flags=None):
    """The highest x86-64 level (psABI) whose flags /proc/cpuinfo lists all
    of ("x86-64-v4", "x86-64-v3", ...), or None (not x86, or no cpuinfo).
    Each level needs the ones below it too."""
    if flags is None:
        flags = _cpuinfo()[1]
    best = None
    for name, need in reversed(X86_64_LEVELS):
        if not flags or not all(x in flags for x in need):
            break
        best = name
    return best


def _cpuinfo():
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
    return model, set(flags.split())


def prefer_snapshot():
    """In a worker of a report (environment BENCH_SNAPSHOT = the copy of
    src/ the report took at its start, first on PYTHONPATH): make sure mlpx
    is imported from that copy. An editable install (scikit-build-core's)
    puts a finder ahead of sys.path that maps mlpx to the source and build
    trees, and rebuilds the extension on import: each worker would load, and
    first rebuild, whatever the tree holds at that moment. Every finder that
    places mlpx outside the copy is dropped, for this process only. Returns
    the type names of the finders dropped."""
    src = os.environ.get("BENCH_SNAPSHOT")
    if not src:
        return []
    import importlib.machinery
    src = os.path.abspath(src) + os.sep
    dropped = []
    for finder in list(sys.meta_path):
        find = getattr(finder, "find_spec", None)
        if finder is importlib.machinery.PathFinder or find is None:
            continue
        try:
            spec = find("mlpx", None)
        except Exception:  # noqa: BLE001
            continue
        origin = getattr(spec, "origin", None)
        if origin and not os.path.abspath(origin).startswith(src):
            sys.meta_path.remove(finder)
            dropped.append(type(finder).__name__)
    return dropped


def default_threads():
    env = os.environ.get("BENCH_THREADS")
    if env:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def git_commit(root):
    """Short commit of the git tree holding `root` (+dirty(src) when src/ or
    csrc/ have changes), or None when `root` is in no git tree."""
    try:
        top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=10)
        if top.returncode != 0:
            return None
        top = top.stdout.strip()
        out = subprocess.run(["git", "-C", top, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", top, "status", "--porcelain", "--", "src", "csrc"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty(src)" if dirty else "")
    except Exception:  # noqa: BLE001
        return None


def machine_info(root, src=None):
    """`src`: the directory the mlpx package is imported from; its git tree
    names the commit measured when it is not the benchmarks' own (mlpx
    installed editable from another checkout or worktree)."""
    model, isa = cpu_model()
    bench = git_commit(root) or "unknown"
    measured = (git_commit(src) if src else None) or bench
    info = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": model,
        "isa": isa,
        "x86_64_level": x86_64_level(),
        "cores_available": len(os.sched_getaffinity(0)),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "loadavg_start": os.getloadavg(),
        "git": measured,
    }
    if measured != bench:
        info["git_benchmarks"] = bench
    return info


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
