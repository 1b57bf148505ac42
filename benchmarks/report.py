"""Run every system interleaved and print the benchmark table (issue 5).

    PYTHONPATH=src python -m benchmarks.report            # full run (~10-15 min, 2 cores)
    PYTHONPATH=src python -m benchmarks.report --quick    # tiny sizes, seconds
    PYTHONPATH=src python -m benchmarks.report --threads 1,2,8 --cpu-paths auto,x86-64-v3
    python -m benchmarks.report --render benchmarks/results/results.json

Each system runs in its own worker process (``benchmarks.worker``). Per
configuration: every system is set up (data, model, compilation, one
warm-up epoch), k is chosen per system so that one timed sample lasts about
``--sample-seconds``, then ``--repeats`` rounds run the systems in rotating
order, each round taking one sample (k epochs, timed inside the worker,
divided by k) and three inference timings per system. Medians are reported.
Results: ``results.md``, ``results.json`` and ``batch_a.png`` under --out.

``--threads 1,2,8`` and ``--cpu-paths auto,x86-64-v3`` make one run per
(path, thread count), each with its own workers; results.md then has a
thread-sweep table and every run's tables, results.json a "runs" list (its
top-level keys mirror one run, as files from before sweeps had them).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .configs import CONFIGS, TARGETS_AS, get_config
from .machine import (ForeignLoad, RunDelay, default_threads, machine_info, versions, wait_quiet,
                      x86_64_level)
from .systems import CPU_PATHS, PATH_ENV, PATH_XLA_FLAGS, SYSTEMS, cpu_path_env, worker_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
ALL_SYSTEMS = list(SYSTEMS)
REF = "mlpx"
PEERS = ("torch", "jax")
FAMILY_A = ("a32", "a256", "a2048")
CANARY = "bound"
PEER_GEMM = {"torch": "MKL sgemm/dgemm via aten (torch CPU wheel, BLAS_INFO=mkl)",
             "jax": "XLA:CPU dot (Eigen / oneDNN kernels inside jaxlib)"}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class WorkerError(RuntimeError):
    pass


def _package_parent():
    """The directory holding the mlpx package this process imports: src/
    under PYTHONPATH=src, site-packages after `pip install .` (CI), where
    src/ has no built extension."""
    import importlib.util
    spec = importlib.util.find_spec("mlpx")
    if spec is None or spec.origin is None:
        return os.path.join(ROOT, "src")
    return os.path.dirname(os.path.dirname(spec.origin))


SRC = _package_parent()     # replaced by a snapshot in run()
SNAPSHOT = None             # SRC when it is a snapshot holding the extension


def _extension_files():
    """Paths of the built extension modules beside mlpx._core, wherever the
    install keeps them (an editable install: in its build tree, not in
    src/), or [] when mlpx._core cannot be found (then the workers say why)."""
    import importlib.util
    try:
        spec = importlib.util.find_spec("mlpx._core")   # imports mlpx (an editable one rebuilds)
    except Exception:  # noqa: BLE001
        return []
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return []
    d = os.path.dirname(spec.origin)
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith((".so", ".pyd"))]


def snapshot_src(dest):
    """Copy src/mlpx (with its built extension) to dest/src and return it:
    every worker of a run imports the same build, even if the tree is rebuilt
    meanwhile (overwriting a loaded .so crashes the process using it)."""
    import hashlib
    import shutil
    src = os.path.join(dest, "src")
    pkg = os.path.join(src, "mlpx")
    shutil.copytree(os.path.join(_package_parent(), "mlpx"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in _extension_files():
        if not os.path.exists(os.path.join(pkg, os.path.basename(path))):
            shutil.copy2(path, pkg)
    sums = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if f.endswith((".so", ".pyd")):
                with open(os.path.join(dirpath, f), "rb") as fh:
                    sums[f] = hashlib.sha1(fh.read()).hexdigest()[:12]
    return src, sums


class Worker:
    def __init__(self, name, threads, logdir, cpu_path="auto", tag=""):
        self.name = name
        env = os.environ.copy()
        env.update(cpu_path_env(cpu_path, name, env))
        env.update(worker_env(name, threads, env))
        env["BENCH_THREADS"] = str(threads)
        paths = [SRC, ROOT]
        if SNAPSHOT:
            env["BENCH_SNAPSHOT"] = SNAPSHOT
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        self.log_path = os.path.join(logdir, f"worker-{name}{tag}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", name], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)

    def call(self, **msg):
        self.send(**msg)
        return self.receive()

    def send(self, **msg):
        """Send a command without waiting (receive() gets its answer)."""
        self._msg = msg
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            self._sent = True
        except BrokenPipeError:
            self._sent = False

    def receive(self):
        msg = self._msg
        try:
            line = self.proc.stdout.readline() if self._sent else ""
        except BrokenPipeError:
            line = ""
        if not line:
            try:
                rc = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                rc = "still running"
            raise WorkerError(f"worker {self.name} died (exit {rc}); end of its log:\n{self.tail()}")
        out = json.loads(line)
        if "error" in out:
            raise WorkerError(f"{self.name}: {msg['cmd']} failed:\n{out['error']}")
        return out

    def tail(self, n=2000):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-n:]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()          # EOF: the worker's loop ends
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()                 # busy in a long command
                self.proc.wait()
        # both pipe ends, also when the worker had died: left to the garbage
        # collector they raise ResourceWarning at some later test
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self.log.close()


def _median(xs):
    return float(np.median(xs)) if xs else None


def set_up(workers, key, quick, entry, skipped):
    """Set every worker up for configuration `key`; the names set up, in
    order. A failure goes to entry["errors"], a Skip to `skipped` (and the
    system is not asked again)."""
    ready = []
    for name, w in workers.items():
        if name in skipped and skipped[name].get("permanent"):
            continue
        try:
            r = w.call(cmd="setup", config=key, quick=quick)
        except WorkerError as exc:
            log(f"  {name}: setup FAILED: {exc}")
            entry.setdefault("errors", {})[name] = str(exc)
            continue
        if "skip" in r:
            log(f"  {name}: SKIPPED: {r['skip']}")
            skipped[name] = {"reason": r["skip"], "permanent": True}
            continue
        ready.append(name)
    return ready


def run_training(workers, keys, quick, repeats, sample_seconds, results, settle, max_wait,
                 noise=0.2, extra_rounds=6, pids=None, tag=""):
    """Time every configuration of `keys` on `workers` (one run: one thread
    count, one CPU path) into results["configs"]. pids: every worker process
    of the report (not "other load"); tag: the run, for the log. Systems
    that only serve (SYSTEMS[name].latency_only) are left to run_latency."""
    workers = {n: w for n, w in workers.items() if not SYSTEMS[n].latency_only}
    skipped = results["skipped"]
    pids = [w.proc.pid for w in workers.values()] if pids is None else pids
    for key in keys:
        cfg = get_config(key, quick)
        log(f"[{key}] {cfg.label}{tag}")
        quiet = wait_quiet(max_wait, log=log) if max_wait > 0 else None
        entry = results["configs"].setdefault(key, {})
        entry.update({"config": cfg.as_dict(), "train": {}, "infer": {}, "k": {}})
        active, est = [], {}
        for name in set_up(workers, key, quick, entry, skipped):
            w = workers[name]
            t = w.call(cmd="train", k=1)["seconds"]      # second warm-up, calibrates k
            est[name] = t
            k = max(1, min(200, math.ceil(sample_seconds / max(t, 1e-6))))
            entry["k"][name] = k
            active.append(name)
        rounds = entry["rounds"] = []
        n_extra = 0 if quick else extra_rounds
        def quiet_rounds():
            # A round is quiet when the GEMM-only bound, timed in that same
            # round, is within `noise` of its best time over all rounds: on
            # this shared VM whole minutes run 1.5-3x slower with no other
            # process visible (host-level), and the bound shows it.
            if CANARY not in active:
                return list(rounds)
            best = min((x["times"][CANARY][0] for x in rounds if CANARY in x["times"]), default=None)
            return [x for x in rounds if CANARY in x["times"]
                    and x["times"][CANARY][0] <= (1 + noise) * best]

        while active:
            clean = quiet_rounds()
            if len(clean) >= repeats or len(rounds) >= repeats + n_extra:
                break
            r = len(rounds)
            order = active[r % len(active):] + active[:r % len(active)]
            rnd = {"times": {}, "other": {}, "delay": {}}
            for name in order:
                w, k = workers[name], entry["k"][name]
                time.sleep(settle)       # let the previous system's pool threads stop spinning
                try:
                    if est[name] < 0.05:
                        w.call(cmd="train", k=1)            # cheap per-round warm-up
                    fl, rd = ForeignLoad(pids).start(), RunDelay(w.proc.pid).start()
                    t = w.call(cmd="train", k=k)["seconds"] / k
                    rnd["other"][name] = fl.stop() or 0.0
                    rnd["delay"][name] = rd.stop() or 0.0
                    ti = w.call(cmd="infer", n=3)["seconds"]
                    rnd["times"][name] = (t, float(np.median(ti)), ti)
                except WorkerError as exc:
                    log(f"  {name}: FAILED: {exc}")
                    entry.setdefault("errors", {})[name] = str(exc)
                    active.remove(name)
            rnd["other_max"] = max(rnd["other"].values(), default=0.0)
            rnd["delay_max"] = max(rnd["delay"].values(), default=0.0)
            rounds.append(rnd)
        # the rounds kept: the quiet ones; if too few, the `repeats` rounds
        # whose bound was fastest
        clean = quiet_rounds()
        if len(clean) >= repeats or CANARY not in active:
            used = clean
        else:
            used = sorted(rounds, key=lambda x: x["times"].get(CANARY, (math.inf,))[0])[:repeats]
        for x in rounds:
            x["used"] = any(x is u for u in used)
        entry["rounds_used"], entry["rounds_run"] = len(used), len(rounds)
        entry["rounds_clean"] = len(clean)
        entry["other_load_cores"] = (float(np.mean([v for x in used for v in x["other"].values()]))
                                     if used else None)
        entry["other_load_before"] = quiet
        entry["run_delay"] = (float(np.mean([v for x in used for v in x["delay"].values()]))
                              if used else None)
        for name in {n for x in used for n in x["times"]}:
            s = [x["times"][name][0] for x in used if name in x["times"]]
            inf = [v for x in used if name in x["times"] for v in x["times"][name][2]]
            entry["train"][name] = {"median": _median(s), "min": min(s), "max": max(s),
                                    "iqr": float(np.subtract(*np.percentile(s, [75, 25]))),
                                    "samples": s}
            entry["infer"][name] = {"median": _median(inf), "min": min(inf), "samples": inf}
        entry["train"] = {n: entry["train"][n] for n in workers if n in entry["train"]}
        entry["infer"] = {n: entry["infer"][n] for n in workers if n in entry["infer"]}
        line = "  ".join(f"{n}={entry['train'][n]['median']:.4g}s" for n in entry["train"])
        log(f"  s/epoch: {line}")
        log(f"  rounds: {len(used)} used of {len(rounds)} run ({len(clean)} quiet: bound within "
            f"{noise:.0%} of its best); in the used samples: run delay "
            f"{entry['run_delay'] or 0:.3f}, other processes {entry['other_load_cores'] or 0:.2f} cores")


LATENCY_ROWS = (1, 8, 32, 256)


def run_latency(workers, keys, quick, repeats, results, settle, tag=""):
    """Serving latency per configuration of `keys`: every system's
    latency_fns on LATENCY_ROWS rows, in `repeats` rounds that run the
    systems in rotating order (each round a block of calls per system and
    row count); medians over rounds into results["configs"][key]["latency"]
    (seconds per call), the rounds themselves beside them."""
    skipped = results["skipped"]
    rows = list(LATENCY_ROWS)
    for key in keys:
        cfg = get_config(key, quick)
        entry = results["configs"].setdefault(key, {"config": cfg.as_dict()})
        log(f"[{key}] latency, rows {', '.join(map(str, rows))}{tag}")
        # the bounds have no forward of their own to serve
        serving = {n: w for n, w in workers.items() if not n.startswith("bound")}
        active = set_up(serving, key, quick, entry, skipped)
        rounds = []
        for i in range(repeats):
            order = active[i % len(active):] + active[:i % len(active)] if active else []
            rnd = {}
            for name in order:
                time.sleep(settle)
                try:
                    rnd.update(workers[name].call(cmd="latency", rows=rows,
                                                  seconds=0.005 if quick else 0.02)["latency"])
                except WorkerError as exc:
                    log(f"  {name}: latency FAILED: {exc}")
                    entry.setdefault("errors", {})[name] = str(exc)
                    active.remove(name)
            rounds.append(rnd)
        labels = [lab for lab in dict.fromkeys(l for r in rounds for l in r)]
        entry["latency"] = {lab: {str(n): _median([r[lab][str(n)] for r in rounds if lab in r])
                                  for n in rows} for lab in labels}
        entry["latency_rounds"] = rounds
        for lab in labels:
            log(f"  {lab}: " + "  ".join(f"{n}: {1e6 * entry['latency'][lab][str(n)]:.1f} us"
                                         for n in rows))


def latency_ratio(results, key, num, den, rows):
    """Median over rounds of num's time / den's time on `rows` rows."""
    rounds = results["configs"].get(key, {}).get("latency_rounds") or []
    r = [x[num][str(rows)] / x[den][str(rows)] for x in rounds if num in x and den in x]
    return _median(r)


def run_memory(quick, results, systems, threads=None, cpu_path="auto"):
    plan = [("mlpx", k) for k in CONFIGS] + [("mlpx-numpy", "a256"), ("sklearn", "a256"),
                                            ("mlpx-numpy", "c"), ("sklearn", "c")]
    if quick:
        plan = [("mlpx", "a256"), ("mlpx", "c"), ("sklearn", "c")]
    plan = [(s, k) for s, k in plan if s in systems]
    out = []
    for system, key in plan:
        row = {"system": system, "config": key}
        for epochs in (1, 20):
            env = os.environ.copy()
            env.update(cpu_path_env(cpu_path, system, env))
            env.update(worker_env(system, threads or default_threads(), env))
            env["PYTHONPATH"] = os.pathsep.join([SRC, ROOT])
            if SNAPSHOT:
                env["BENCH_SNAPSHOT"] = SNAPSHOT
            cmd = [sys.executable, "-m", "benchmarks.memory", system, key, str(epochs)]
            if quick:
                cmd.append("--quick")
            p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if p.returncode != 0:
                err = p.stderr.strip().splitlines()
                row["error"] = err[-1] if err else f"exit {p.returncode}"
                break
            row[f"e{epochs}"] = json.loads(p.stdout.strip().splitlines()[-1])
        if "error" in row:
            log(f"  memory {system} {key}: {row['error']}")
        else:
            log(f"  memory {system} {key}: +{row['e1']['delta_mib']:.1f} MiB (1 epoch), "
                f"+{row['e20']['delta_mib']:.1f} MiB (20), limit {row['e1']['limit_mib']:.1f}")
        out.append(row)
    results["memory"] = out


# ----------------------------------------------------------------- targets

def paired_ratio(results, key, num, den, what="train"):
    """Median over rounds of t_num / t_den, both taken in the same round:
    slow drifts of the machine's load (seen here: a whole round 1.5x slower
    when other sessions start a build) cancel in each round's ratio. Falls
    back to the ratio of medians for results without rounds."""
    c = results["configs"].get(key, {})
    i = 0 if what == "train" else 1
    pairs = [r["times"][num][i] / r["times"][den][i] for r in c.get("rounds", [])
             if r.get("used") and num in r["times"] and den in r["times"]]
    if pairs:
        return float(np.median(pairs))
    a, b = _t(results, key, num, what), _t(results, key, den, what)
    return None if a is None or b is None else a / b


def _t(results, key, system, what="train"):
    e = results["configs"].get(key, {}).get(what, {}).get(system)
    return e["median"] if e else None


def bound_for_mlpx(results, key):
    """(name of the bound system mlpx is held to, why): its own BLAS; the
    faster of that and MKL where mlpx itself can use MKL."""
    lib = (results.get("info", {}).get("mlpx", {}) or {}).get("blas_library") or ""
    b, bm = _t(results, key, "bound"), _t(results, key, "bound-mkl")
    if bm is not None and "mkl" in lib.lower() and (b is None or bm < b):
        return "bound-mkl", "MKL bound (faster of the two; mlpx uses MKL)"
    if b is None:
        return None, "bound missing"
    return "bound", "bound through mlpx's BLAS"


def evaluate_targets(results):
    """Every target of issue 5, per run (thread count, CPU path), into each
    run's "targets"; returns (and mirrors at the top level) the primary
    run's."""
    views = run_views(results)
    for i, v in enumerate(views):
        rows = evaluate_run_targets(v)
        if "runs" in results:
            results["runs"][i]["targets"] = rows
    primary = min(results["meta"].get("primary_run", 0), len(views) - 1) if "runs" in results else 0
    results["targets"] = views[primary]["targets"]
    return results["targets"]


def evaluate_run_targets(results):
    """Every target of issue 5 for one run (a run_views view, or a file from
    before thread sweeps), from paired (same-round) ratios."""
    rows = []

    def add(target, key, value, need, ok, note=""):
        rows.append({"target": target, "config": key, "value": value, "need": need,
                     "met": ok, "note": note})

    def at_least(target, key, num, need, note="", what="train"):
        v = paired_ratio(results, key, num, REF, what)
        add(target, key, v, f">= {need:.3g}", None if v is None else v >= need,
            note if v is not None else f"{num} or mlpx missing")

    lib = os.path.basename((results.get("info", {}).get("mlpx", {}) or {}).get("blas_library") or "?")
    for key in results["configs"]:
        if not results["configs"][key].get("train"):
            continue                    # the latency section alone: its targets below
        tkey = TARGETS_AS.get(key, key)  # whose targets this configuration has
        fam = tkey if tkey in ("b", "c", "d", "e") else "a"
        lim = {"a32": 1.4, "a256": 1.2, "a2048": 1.2, "b": 1.2, "d": 1.2, "c": 1.5, "e": 1.5}[tkey]
        bname, why = bound_for_mlpx(results, key)
        v = paired_ratio(results, key, REF, bname) if bname else None
        add("mlpx / bound", key, v, f"<= {lim}", None if v is None else v <= lim, why)
        for peer in PEERS:
            need, note = 1.0, ""
            pb = paired_ratio(results, key, peer, bname) if bname else None
            if pb is not None and pb <= 1.1:
                need = 1 / 1.05
                note = (f"{peer} within 1.1x of the bound ({pb:.2f}x), so mlpx must be within 5% of it; "
                        f"GEMMs: {peer} {PEER_GEMM[peer]}, mlpx {lib}")
            if fam in ("c", "e"):
                need = 1.5 if peer == "jax" else 10.0
            at_least(f"{peer} / mlpx", key, peer, need, note)
        if tkey in ("a32", "c", "e"):
            at_least("sklearn / mlpx", key, "sklearn", 3.0 if tkey == "a32" else 10.0)
        if tkey in ("c", "e"):
            at_least("mlpx-numpy / mlpx", key, "mlpx-numpy", 3.0)
        for peer in PEERS:
            at_least(f"inference {peer} / mlpx", key, peer, 1.0, what="infer")
    for key, c in results["configs"].items():
        lat = c.get("latency") or {}
        if LATENCY_REF not in lat:
            continue
        for call in MLPX_CALLS:
            if call not in lat:
                continue
            r = {n: latency_ratio(results, key, LATENCY_REF, call, n) for n in lat[call]}
            worst = min((x for x in r.values() if x is not None), default=None)
            add(f"latency {LATENCY_REF} / {call}, worst of rows {', '.join(r)}", key, worst,
                ">= 1", None if worst is None else worst >= 1.0,
                ", ".join(f"{n}: {_ratio(x)}" for n, x in r.items()))
    tp = results.get("twopool")
    if tp and "predict" in tp:
        for v in ("predict", "epoch"):
            add("two-pool: alternating / mlpx alone", v, tp[v]["ratio"], "<= 1.5",
                tp[v]["ratio"] <= 1.5, f"interference {tp[v]['interference']:.2f}")
    for row in results.get("memory") or []:
        if row["system"] != REF:
            continue
        if "error" in row:
            add("memory", row["config"], None, "<= limit", None, row["error"])
            continue
        d1, d20, limit = row["e1"]["delta_mib"], row["e20"]["delta_mib"], row["e1"]["limit_mib"]
        worst = max(d1, d20)
        ok = worst <= limit and d20 <= d1 + 1.0
        add("memory: peak - before (MiB), 1 / 20 epochs", row["config"], worst,
            f"<= {limit:.1f}, same for 1 and 20", ok, f"{d1:.1f} / {d20:.1f}")
    results["targets"] = rows
    return rows


# ----------------------------------------------------------------- render

def _fmt(x, digits=4):
    if x is None:
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def _ratio(x):
    return "–" if x is None else f"{x:.2f}"


def run_views(results):
    """One results-like dict per run (meta, systems, configs, skipped, info,
    twopool, targets, cpu_path, threads; memory on the primary run only),
    which paired_ratio, _t, bound_for_mlpx and the tables read. A file from
    before thread sweeps (no "runs") is one run at its meta["threads"], CPU
    path not recorded."""
    meta = results.get("meta", {})
    if "runs" not in results:
        v = dict(results)
        v.setdefault("threads", meta.get("threads"))
        v.setdefault("cpu_path", None)
        return [v]
    primary = meta.get("primary_run", 0)
    views = []
    for i, r in enumerate(results["runs"]):
        v = dict(r)
        v["meta"], v["systems"] = meta, results["systems"]
        v["memory"] = results.get("memory") if i == primary else None
        views.append(v)
    return views


def _primary_view(results):
    views = run_views(results)
    return views[min(results.get("meta", {}).get("primary_run", 0), len(views) - 1)]


def mirror_primary(results):
    """Top-level configs/skipped/info/twopool/targets = the primary run's,
    for readers of results.json from before thread sweeps."""
    if "runs" in results:
        r = results["runs"][results["meta"].get("primary_run", 0)]
        for k in ("configs", "skipped", "info", "twopool", "targets"):
            if k in r:
                results[k] = r[k]


def _short_label(cfg):
    shape = "-".join(str(n) for n in cfg["layers"])
    return f"({cfg['key']}) {shape} {'f32' if cfg['dtype'] == 'float32' else 'f64'} b{cfg['batch']}"


def render_sweep(results, views, out):
    """The thread sweep: config x path x threads -> mlpx and bound s/epoch,
    mlpx/bound (paired, within the run), mlpx's and the bound's speedup over
    their own time at the fewest threads of that path, and mlpx's time over
    its time on the first path at the same thread count."""
    meta = results["meta"]
    cores = meta["machine"].get("cores_available")
    paths = list(dict.fromkeys(v.get("cpu_path") for v in views))
    counts = sorted({v["threads"] for v in views})
    base_t = counts[0]
    keys = list(dict.fromkeys(k for v in views for k in v["configs"]))
    cols = ["config", "path", "threads", "mlpx s/epoch", "bound s/epoch", "mlpx / bound",
            f"mlpx speedup vs {base_t} thr", f"bound speedup vs {base_t} thr"]
    if len(paths) > 1:
        cols.append(f"mlpx / mlpx on {paths[0]}")
    out.append("## Thread sweep: training, seconds per epoch\n")
    out.append("| " + " | ".join(cols) + " |")
    out.append("|---|---|---:|" + "---:|" * (len(cols) - 3))
    by = {(v.get("cpu_path"), v["threads"]): v for v in views}
    for k in keys:
        for p in paths:
            for t in counts:
                v = by.get((p, t))
                if v is None or k not in v["configs"]:
                    continue
                label = _short_label(v["configs"][k]["config"])
                m, b = _t(v, k, REF), _t(v, k, "bound")
                v1 = by.get((p, base_t))
                m1 = _t(v1, k, REF) if v1 else None
                b1 = _t(v1, k, "bound") if v1 else None
                row = [label, p or "auto?", f"{t}{'*' if cores and t > cores else ''}",
                       _fmt(m), _fmt(b), _ratio(paired_ratio(v, k, REF, "bound")),
                       _ratio(m1 / m if m and m1 else None), _ratio(b1 / b if b and b1 else None)]
                if len(paths) > 1:
                    v0 = by.get((paths[0], t))
                    m0 = _t(v0, k, REF) if v0 else None
                    row.append(_ratio(m / m0 if m and m0 else None))
                out.append("| " + " | ".join(row) + " |")
    notes = [f"speedup = time at {base_t} thread{'s' if base_t != 1 else ''} / time at this count, "
             "same path (> 1: faster with more threads)",
             "mlpx / bound: median of the ratios within each round of that run; speedups and "
             "path ratios: ratios of medians of runs timed one after the other (minutes apart "
             "at most: the runs of one configuration follow each other)"]
    if cores and any(t > cores for t in counts):
        notes.insert(0, f"\\* more threads than the {cores} cores available (oversubscribed"
                        + ("; XLA keeps to the cores whatever the count)"
                           if "jax" in results["systems"] else ")"))
    out.append("\n" + "; ".join(notes) + ".\n")


def render_run(v, out, systems, h="##"):
    """The tables of one run (one thread count, one CPU path)."""
    meta = v["meta"]
    keys = list(v["configs"])
    labels = {k: v["configs"][k]["config"]["label"] for k in keys}

    systems = [s for s in systems if not SYSTEMS[s].latency_only]
    if not any(v["configs"][k].get("train") for k in keys):
        render_latency(v, out, h)          # a run of the latency section alone
        return

    def table(title, value, systems_=systems, fmt=_fmt):
        out.append(f"{h} {title}\n")
        out.append("| config | " + " | ".join(systems_) + " |")
        out.append("|---|" + "---:|" * len(systems_))
        for k in keys:
            out.append(f"| {labels[k]} | " + " | ".join(fmt(value(k, s)) for s in systems_) + " |")
        out.append("")

    table(f"Training: seconds per epoch (median of {meta['repeats']})",
          lambda k, s: _t(v, k, s))
    parts = []
    for k in keys:
        c = v["configs"][k]
        if c.get("rounds_run"):
            parts.append(f"{k}: {c['rounds_used']} of {c['rounds_run']} used ({c['rounds_clean']} quiet), "
                         f"run delay {c.get('run_delay') or 0:.3f} s/s, others {c.get('other_load_cores') or 0:.2f} cores")
    if parts:
        out.append(f"Rounds: a round is quiet when the GEMM-only bound, timed in that round, is within "
                   f"{meta.get('noise', 0.2):.0%} of its best time over all rounds (this shared VM has "
                   "minutes-long slow phases, 1.5-3x, with no other process visible); up to "
                   f"{meta.get('extra_rounds', 0)} extra rounds are run to collect {meta['repeats']} quiet ones, "
                   "else the quietest are used. " + "; ".join(parts) + ".\n")
    out.append("Ratios below are medians over rounds of the ratio within each round "
               "(systems of one round run seconds apart, so load drifts cancel); "
               "they can differ a little from the ratio of the medians above.\n")
    table("Training: time / mlpx time (> 1: mlpx is faster)",
          lambda k, s: paired_ratio(v, k, s, REF), fmt=_ratio)
    table("Training: time / GEMM-only bound (through mlpx's BLAS)",
          lambda k, s: paired_ratio(v, k, s, "bound"), fmt=_ratio)
    table("Inference: `predict_proba` on 10,000 rows, milliseconds (median; bound = forward GEMMs)",
          lambda k, s: (None if _t(v, k, s, "infer") is None else 1e3 * _t(v, k, s, "infer")))
    table("Inference: time / mlpx time",
          lambda k, s: paired_ratio(v, k, s, REF, "infer"), fmt=_ratio)

    render_latency(v, out, h)

    tp = v.get("twopool")
    out.append(f"{h} Two pools: mlpx calls alternating with `numpy.matmul`\n")
    if tp and "predict" in tp:
        out.append(f"mlpx backend {tp['backend']}, BLAS `{os.path.basename(tp.get('mlpx_blas') or '?')}`; "
                   f"numpy.matmul {tp['numpy_matmul']}. Per iteration, medians.\n")
        out.append("| mlpx call | mlpx alone (ms) | matmul alone (ms) | alternating (ms) | alternating / mlpx alone | interference |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for what in ("predict", "epoch"):
            d = tp[what]
            out.append(f"| {d['mlpx_call']} | {1e3 * d['t_mlpx']:.3f} | {1e3 * d['t_numpy']:.3f} | "
                       f"{1e3 * d['t_alt']:.3f} | {d['ratio']:.2f} | {d['interference']:.2f} |")
        out.append("\ninterference = alternating / (mlpx alone + matmul alone); 1.0 means no fight.\n")
    else:
        out.append(f"Not run: {(tp or {}).get('skipped', 'not requested')}\n")


LATENCY_REF = "onnxruntime"
MLPX_CALLS = ("mlpx", "mlpx predict", "mlpx.forward")


def render_latency(v, out, h="##"):
    """The latency tables of one run: microseconds per call, then the
    onnxruntime / mlpx ratios (medians over rounds of same-round ratios)."""
    keys = [k for k in v["configs"] if v["configs"][k].get("latency")]
    if not keys:
        return
    labels = list(dict.fromkeys(lab for k in keys for lab in v["configs"][k]["latency"]))
    rows = [int(n) for n in next(iter(v["configs"][keys[0]]["latency"].values()))]
    out.append(f"{h} Latency: microseconds per call, by rows per call (median of rounds)\n")
    out.append("`mlpx` is `predict_proba`; onnxruntime runs mlpx's own ONNX export; `numpy` is "
               "one matmul per layer with NumPy's BLAS, then the activations; torch under "
               "`inference_mode`, JAX jitted (compiled per row count before timing).\n")
    out.append("| config | rows | " + " | ".join(labels) + " |")
    out.append("|---|---:|" + "---:|" * len(labels))
    for k in keys:
        lat = v["configs"][k]["latency"]
        for n in rows:
            cells = [_fmt(None if lat.get(lab, {}).get(str(n)) is None
                          else 1e6 * lat[lab][str(n)], 3) for lab in labels]
            out.append(f"| {k} | {n} | " + " | ".join(cells) + " |")
    out.append("")
    calls = [c for c in MLPX_CALLS if c in labels]
    if LATENCY_REF in labels and calls:
        out.append(f"{h} Latency: onnxruntime time / mlpx time (> 1: mlpx is faster)\n")
        out.append("| config | rows | " + " | ".join(calls) + " |")
        out.append("|---|---:|" + "---:|" * len(calls))
        for k in keys:
            for n in rows:
                out.append(f"| {k} | {n} | " + " | ".join(
                    _ratio(latency_ratio(v, k, LATENCY_REF, c, n)) for c in calls) + " |")
        out.append("")


def render_markdown(results):
    meta = results["meta"]
    views = run_views(results)
    pv = _primary_view(results)
    info = pv.get("info", {})
    several = len(views) > 1
    systems = [s for s in results["systems"]
               if any(s in c.get("train", {}) for v in views for c in v["configs"].values())]
    out = []
    mode = "QUICK (tiny sizes, not the real table)" if meta["quick"] else "full"
    out.append(f"# mlpx benchmark results ({mode})\n")
    m = meta["machine"]
    mi = info.get("mlpx", {})
    backend = mi.get("backend")
    line = f"- **mlpx backend: {backend or 'NOT RUN'}**"
    if backend:
        line += f" (mlpx {mi.get('mlpx')}, commit {m['git']}"
        if m.get("git_benchmarks"):
            line += f"; benchmarks from commit {m['git_benchmarks']}"
        line += ")"
    if backend != "native":
        s_ = pv.get("skipped", {}).get("mlpx", {})
        line += f" — native mlpx did not run: {s_.get('reason', '?') if isinstance(s_, dict) else s_}"
    out.append(line)
    snap = meta.get("snapshot")
    if snap:
        out.append("- mlpx imported from a copy of src/ taken at start; extensions: "
                   + (", ".join(f"`{k}` sha1 {v}" for k, v in snap["extensions_sha1"].items()) or "none"))
    level = f"; {m['x86_64_level']}" if m.get("x86_64_level") else ""
    out.append(f"- Machine: {m['cpu']} ({', '.join(m['isa'])}{level}), {m['cores_available']} cores, "
               f"{m['os']}, Python {m['python']}; run {m['date_utc']}; "
               f"load average at start {m['loadavg_start'][0]:.2f}, at end {meta.get('loadavg_end', [0])[0]:.2f}")
    # CPU paths: what each path's workers ran with, and what they then used
    path_env = meta.get("path_env")
    if path_env:
        for p, summary in path_env.items():
            out.append(f"- CPU path `{p}`: {_env_words(summary)}")
    else:
        out.append("- CPU path: not recorded (results from before `--cpu-paths`; the environment "
                   "below is what every worker had)")
    if several:
        out.append("- Kernels used, per run (mlpx: its `_core._kernel_path`; OpenBLAS: "
                   "threadpoolctl's core type, per worker):")
        for v in views:
            out.append(f"  - {run_label(v)}: {_kernel_words(v)}")
    else:
        out.append(f"- Kernels used: {_kernel_words(pv)} (mlpx: its `_core._kernel_path`; "
                   "OpenBLAS: threadpoolctl's core type, per worker)")
    if mi.get("blas_library"):
        out.append(f"- mlpx's BLAS: `{os.path.basename(mi['blas_library'])}` via `{mi.get('blas_symbol')}` "
                   f"({'ILP64' if mi.get('blas_ilp64') else 'LP64'}), threads {mi.get('blas_threads')}"
                   + (f" (in the {run_label(pv)} run)" if several else ""))
    b = info.get("bound", {})
    if b.get("bound_library"):
        out.append(f"- Bound: gemm_bound.c (cc -O2) through `{os.path.basename(b['bound_library'])}` "
                   f"`{b.get('bound_symbol')}`" +
                   (f"; bound-mkl through `{os.path.basename(info['bound-mkl']['bound_library'])}` `sgemm_`/`dgemm_`"
                    if info.get("bound-mkl", {}).get("bound_library") else ""))
    out.append("- Scheduling: " + (f"own session, scheduler {meta['autogroup']} "
                                    "(other sessions' processes yield to the benchmark)"
                                    if meta.get("autogroup") else "default (no priority)"))
    counts = meta.get("thread_counts") or [meta["threads"]]
    cores = m["cores_available"]
    how = "threadpoolctl limit in each worker; torch.set_num_threads; MKL_NUM_THREADS for bound-mkl; "
    if len(counts) == 1:
        t = counts[0]
        out.append(f"- Threads: {t} for every system ({how}"
                   + (f"each worker pinned to {t} core(s) with sched_setaffinity, "
                      "which is what limits XLA)" if t < cores else
                      "XLA uses the cores" + (f"; more threads than the {cores} cores: "
                                              "oversubscribed)" if t > cores else ")")))
    else:
        over = [t for t in counts if t > cores]
        out.append(f"- Threads: {', '.join(map(str, counts))} (one run each, every system at that "
                   f"count: {how}at fewer threads than the {cores} cores each worker is pinned "
                   "to that many cores with sched_setaffinity, which is what limits XLA"
                   + (f"; {', '.join(map(str, over))}: more threads than cores, oversubscribed"
                      + (", XLA keeps to the cores" if "jax" in results["systems"] else "")
                      if over else "") + ")")
    pools = []
    for name in systems:
        for p in info.get(name, {}).get("blas_pools", []):
            pools.append(f"{name}: {p.get('internal_api')} {p.get('version') or ''} "
                         f"{p.get('architecture') or ''} ({p.get('num_threads')} thr, "
                         f"{os.path.basename(p.get('filepath') or '')})")
    if pools:
        out.append("- Thread pools (threadpoolctl, per worker"
                   + (f", {run_label(pv)} run" if several else "") + "): " + "; ".join(pools))
    if "torch" in info:
        t = info["torch"]
        out.append(f"- torch {t.get('torch')}: {t.get('torch_threads')} intra-op threads, BLAS {t.get('torch_blas')}")
    if "jax" in info:
        j = info["jax"]
        out.append(f"- jax {j.get('jax')} / jaxlib {j.get('jaxlib')} on {', '.join(j.get('jax_devices', []))}")
    out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    env = m["env"]
    out.append("- Environment: " + (", ".join(f"{k}={v}" for k, v in env.items()) if env else
                                    "no OPENBLAS_*/OMP_*/MKL_*/XLA_* variables set"))
    out.append(f"- Method: {meta['repeats']} interleaved rounds per configuration (rotating order, "
               f"{meta.get('settle_seconds', 0)} s idle before each sample), "
               f"one sample per system per round = k epochs timed in its own process / k "
               f"(k chosen so a sample lasts ~{meta['sample_seconds']} s); medians. "
               "Estimators: model built and initialized once (untimed), then each sample a warm-start `fit(max_iter=k, tol=0, n_iter_no_change=10**9)` (input validation included); "
               "JAX: compiled epoch (jit + lax.scan), compile not timed; "
               "bound: all GEMMs of k epochs in one C call."
               + (" Runs (thread counts, CPU paths) each have their own worker per system; the "
                  "runs of one configuration follow each other." if several else ""))
    skips = {}
    for v in views:
        for name, s_ in v.get("skipped", {}).items():
            reason = s_.get("reason", "?") if isinstance(s_, dict) else str(s_)
            skips.setdefault((name, reason), []).append(run_label(v))
    for (name, reason), where in skips.items():
        only = f" ({'; '.join(where)})" if several and len(where) < len(views) else ""
        out.append(f"- **{name} skipped**{only}: {reason}")
    for v in views:
        for key, c in v["configs"].items():
            for name, e in c.get("errors", {}).items():
                out.append(f"- **{name} failed on {key}**" + (f" ({run_label(v)})" if several else "")
                           + f": {e.strip().splitlines()[-1][:300]}")
    out.append("")

    trained = any(c.get("train") for v in views for c in v["configs"].values())
    if several and trained:
        render_sweep(results, views, out)
    if several:
        for v in views:
            out.append(f"## {run_label(v)}\n")
            render_run(v, out, systems, "###")
    else:
        render_run(views[0], out, systems, "##")

    mem = results.get("memory")
    if trained or mem:
        out.append("## Memory: peak RSS during fit - RSS before fit\n")
    if mem:
        if several:
            out.append(f"Measured in the {run_label(pv)} setting.\n")
        out.append("| system | config | 1 epoch (MiB) | 20 epochs (MiB) | limit (MiB) | data (MiB) | method |")
        out.append("|---|---|---:|---:|---:|---:|---|")
        for row in mem:
            if "error" in row:
                out.append(f"| {row['system']} | {row['config']} | error: {row['error'][:120]} | | | | |")
                continue
            e1, e20 = row["e1"], row["e20"]
            out.append(f"| {row['system']} | {row['config']} | {e1['delta_mib']:.1f} | {e20['delta_mib']:.1f} | "
                       f"{e1['limit_mib']:.1f} | {e1['data_mib']:.1f} | {e1['method']} |")
        out.append("\nlimit = 2 x (parameters + SGD velocities) + 16 MiB; fresh process, "
                   "after a 64-row warm-up fit and malloc_trim.\n")
    elif trained:
        out.append("Not run.\n")

    out.append("## Targets\n")
    if several:
        out.append("| run | target | config | value | needed | met | note |")
        out.append("|---|---|---|---:|---|---|---|")
    else:
        out.append("| target | config | value | needed | met | note |")
        out.append("|---|---|---:|---|---|---|")
    for v in views:
        for r in v.get("targets", []):
            met = {True: "yes", False: "**NO**", None: "n/a"}[r["met"]]
            out.append(("| " + run_label(v) + " " if several else "")
                       + f"| {r['target']} | {r['config']} | {_ratio(r['value'])} | {r['need']} | {met} | {r['note']} |")
    out.append("")
    return "\n".join(out)


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not installed: no plot")
        return None
    results = _primary_view(results)
    keys = [k for k in FAMILY_A if k in results["configs"]]
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in results["systems"]:
        pts = [(results["configs"][k]["config"]["batch"], _t(results, k, s)) for k in keys]
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
            style = "--" if s.startswith("bound") else "-"
            ax.plot(*zip(*pts), style, marker="o", label=s)
    c = results["configs"][keys[0]]["config"]
    ax.set_xscale("log", base=2)
    batches = [results["configs"][k]["config"]["batch"] for k in keys]
    ax.set_xticks(batches)
    ax.set_xticklabels([str(b) for b in batches])
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("seconds per epoch (median)")
    m = results["meta"]["machine"]
    ax.set_title(f"{'-'.join(map(str, c['layers']))} f32, {c['n_rows']:,} rows — {m['cpu']}, "
                 f"{results['threads']} threads"
                 + (f", CPU path {results['cpu_path']}" if results.get("cpu_path") else ""), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ----------------------------------------------------------------- main

def thread_counts_of(threads):
    """--threads / run(threads=): None (the cores available), an int, a
    list, or a comma list "1,2,8" -> list of distinct counts >= 1, in order."""
    if threads is None:
        return [default_threads()]
    if isinstance(threads, str):
        threads = [x for x in threads.replace(" ", "").split(",") if x]
    elif isinstance(threads, int):
        threads = [threads]
    out = []
    for t in threads:
        t = int(t)
        if t < 1:
            raise ValueError(f"thread count {t}: need >= 1")
        if t not in out:
            out.append(t)
    if not out:
        raise ValueError("no thread count given")
    return out


def cpu_paths_of(paths):
    """--cpu-paths / run(cpu_paths=): None ("auto"), a list, or a comma list."""
    if paths is None:
        return ["auto"]
    if isinstance(paths, str):
        paths = paths.replace(" ", "").split(",")
    out = []
    for p in paths:
        if p and p not in out:
            out.append(p)
    return out or ["auto"]


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def primary_index(runs, cores=None):
    """The run that results.json's top-level keys mirror (the format before
    thread sweeps), and that the memory section and the plot use: the first
    CPU path, at the cores available, else the most threads not above them,
    else the fewest."""
    cores = cores or _cores()
    first = [i for i, r in enumerate(runs) if r.get("cpu_path") == runs[0].get("cpu_path")]
    fit = [i for i in first if runs[i]["threads"] <= cores]
    if fit:
        return max(fit, key=lambda i: runs[i]["threads"])
    return min(first, key=lambda i: runs[i]["threads"])


def path_env_summary(path, base=None):
    """What the workers of CPU path `path` run with, for the report:
    {"set": {var: value} set for this path (mlpx workers: MLPX_CPU),
     "inherited": {var: value} left as the environment has it}."""
    base = os.environ if base is None else base
    names = {"MLPX_CPU", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_ENABLE_INSTRUCTIONS",
             "ONEDNN_MAX_CPU_ISA"}
    for e in PATH_ENV.values():
        names.update(e)
    set_ = dict(cpu_path_env(path, "mlpx", base))
    if path in PATH_XLA_FLAGS:
        set_["XLA_FLAGS (jax)"] = "+" + PATH_XLA_FLAGS[path]
    inherited = {k: base[k] for k in sorted(names) if k in base and k not in set_}
    return {"set": set_, "inherited": inherited}


def run_label(run):
    t = run.get("threads")
    path = run.get("cpu_path") or "auto (not recorded)"
    return f"{t} thread{'s' if t != 1 else ''}, CPU path {path}"


def _check_paths(paths, isa_level):
    """Warn (log) about CPU paths this CPU cannot run or mlpx may not know."""
    order = ["x86-64-v2", "x86-64-v3", "x86-64-v4"]
    for p in paths:
        if p not in CPU_PATHS:
            log(f"note: CPU path {p!r} is none of {', '.join(CPU_PATHS)}; passed to mlpx as "
                f"MLPX_CPU={p} (the report prints the kernel path mlpx says it used)")
        elif p in order and isa_level in order and order.index(p) > order.index(isa_level):
            log(f"warning: CPU path {p} needs more than this CPU has ({isa_level}): "
                "mlpx may refuse it or fall back; see the kernel path it reports")
        elif p in order and isa_level is None:
            log(f"warning: CPU path {p}: this CPU's x86-64 level is unknown")
    if "MLPX_CPU" in os.environ and "auto" in paths:
        log(f"note: MLPX_CPU={os.environ['MLPX_CPU']} is set in the environment: the auto path "
            "runs with it")


def run(keys, systems, quick, repeats, sample_seconds, sections, threads=None,
        settle=None, max_wait=None, snapshot=True, autogroup=None, cpu_paths=None):
    """Time `systems` on configurations `keys`, once per thread count of
    `threads` (an int, a list or "1,2,8"; default the cores available) and
    CPU path of `cpu_paths` (default ["auto"]). Each (path, threads) is a run
    with its own worker per system; the runs of one configuration follow each
    other (configuration-major), so runs compared are minutes apart at most.
    Returns results: results["runs"] holds every run; the top-level
    configs/skipped/info/twopool/targets mirror the primary run
    (primary_index), as the format before sweeps had them."""
    counts = thread_counts_of(threads)
    paths = cpu_paths_of(cpu_paths)
    settle = (0.02 if quick else 0.25) if settle is None else settle
    max_wait = (0 if quick else 60) if max_wait is None else max_wait
    runs = [{"cpu_path": p, "threads": t, "configs": {}, "skipped": {}, "info": {},
             "env": {name: cpu_path_env(p, name) for name in systems}}
            for p in paths for t in counts]
    primary = primary_index(runs)
    os.environ["BENCH_THREADS"] = str(runs[primary]["threads"])
    machine = machine_info(ROOT, _package_parent())
    results = {
        "meta": {"format": 2, "quick": quick, "repeats": repeats, "sample_seconds": sample_seconds,
                 "settle_seconds": settle, "max_wait_quiet": max_wait, "autogroup": autogroup,
                 "noise": 0.2, "extra_rounds": 0 if quick else 6,
                 "threads": runs[primary]["threads"], "thread_counts": counts,
                 "cpu_paths": paths, "primary_run": primary,
                 "path_env": {p: path_env_summary(p) for p in paths},
                 "machine": machine,
                 "versions": versions(["numpy", "scipy", "scikit-learn", "threadpoolctl", "torch",
                                       "jax", "jaxlib", "mkl", "matplotlib"])},
        "systems": systems, "runs": runs,
    }
    log(f"CPU: {machine['cpu']} ({', '.join(machine['isa']) or 'no ISA flags read'}"
        f"{'; ' + machine['x86_64_level'] if machine.get('x86_64_level') else ''}), "
        f"{machine['cores_available']} cores; threads {', '.join(map(str, counts))}; "
        f"CPU paths {', '.join(paths)}")
    for p in paths:
        log(f"  path {p}: {_env_words(results['meta']['path_env'][p])}")
    over = [t for t in counts if t > machine["cores_available"]]
    if over:
        log(f"  {', '.join(map(str, over))} threads: more than the {machine['cores_available']} "
            "cores available (oversubscribed)")
    _check_paths(paths, machine.get("x86_64_level"))
    logdir = tempfile.mkdtemp(prefix="mlpx-bench-")
    global SRC, SNAPSHOT
    SNAPSHOT = None
    if snapshot:
        SRC, sums = snapshot_src(logdir)
        results["meta"]["snapshot"] = {"src": SRC, "extensions_sha1": sums}
        # workers import mlpx from the copy (past an editable install's finder)
        # only when it holds a built extension
        SNAPSHOT = SRC if sums else None
    else:
        SRC = _package_parent()
    t0 = time.time()
    workers = [{} for _ in runs]
    several = len(runs) > 1
    try:
        for run_, ws in zip(runs, workers):
            tag = f"-{run_['cpu_path']}-t{run_['threads']}" if several else ""
            for name in systems:
                ws[name] = Worker(name, run_["threads"], logdir, run_["cpu_path"], tag)
        pids = [w.proc.pid for ws in workers for w in ws.values()]
        # every worker imports its libraries at once, before anything is timed
        every = [w for ws in workers for w in ws.values()]
        for w in every:
            w.send(cmd="load")
        for w in every:
            try:
                w.receive()
            except WorkerError as exc:      # its setup will fail and say so
                log(f"  {w.name}: load failed: {exc}")
        for key in keys:
            for run_, ws in zip(runs, workers):
                tag_ = f" — {run_label(run_)}" if several else ""
                if "train" in sections:
                    run_training(ws, [key], quick, repeats, sample_seconds, run_, settle, max_wait,
                                 pids=pids, tag=tag_)
                if "latency" in sections:
                    run_latency(ws, [key], quick, repeats, run_, settle, tag=tag_)
        for run_, ws in zip(runs, workers):
            for name, w in ws.items():
                if name in run_["skipped"]:
                    continue
                try:
                    run_["info"][name] = w.call(cmd="info")["info"]
                except WorkerError as exc:
                    run_["info"][name] = {"error": str(exc)}
            log(f"  {run_label(run_)}: {_kernel_words(run_)}")
            if "twopool" in sections:
                if "mlpx" in ws and "mlpx" not in run_["skipped"]:
                    try:
                        run_["twopool"] = ws["mlpx"].call(cmd="twopool", quick=quick)["twopool"]
                        tp = run_["twopool"]
                        log(f"  two-pool ({run_label(run_)}): predict {tp['predict']['ratio']:.2f}, "
                            f"epoch {tp['epoch']['ratio']:.2f}")
                    except WorkerError as exc:
                        run_["twopool"] = {"skipped": f"failed: {exc}"}
                else:
                    run_["twopool"] = {"skipped": "mlpx native not available"}
    finally:
        for ws in workers:
            for w in ws.values():
                w.close()
    if "memory" in sections:
        run_memory(quick, results, systems, runs[primary]["threads"], runs[primary]["cpu_path"])
    if snapshot:
        import shutil
        shutil.rmtree(SRC, ignore_errors=True)     # the copy of src/; worker logs stay
        SNAPSHOT = None
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["meta"]["wall_seconds"] = time.time() - t0
    results["meta"]["worker_logs"] = logdir
    evaluate_targets(results)
    mirror_primary(results)
    return results


def _env_words(summary):
    """"MLPX_CPU=x86-64-v3, ... (set for this path); ... (from the environment)"."""
    parts = []
    if summary.get("set"):
        parts.append(", ".join(f"{k}={v}" for k, v in summary["set"].items())
                     + " (set for this path)")
    else:
        parts.append("MLPX_CPU unset (mlpx chooses)")
    if summary.get("inherited"):
        parts.append(", ".join(f"{k}={v}" for k, v in summary["inherited"].items())
                     + " (from the environment)")
    return "; ".join(parts)


def openblas_cores(info):
    """{system: OpenBLAS core types its worker loaded (threadpoolctl
    "architecture"), sorted} for the systems that loaded OpenBLAS."""
    out = {}
    for name, i in info.items():
        arch = sorted({p.get("architecture") or "?" for p in (i or {}).get("blas_pools", [])
                       if p.get("internal_api") == "openblas"})
        if arch:
            out[name] = arch
    return out


def _kernel_words(run_):
    """"mlpx kernel path avx2; OpenBLAS core type Haswell (mlpx, bound)"."""
    info = run_.get("info", {})
    mi = info.get("mlpx")
    if mi is None:
        kp = "mlpx not run"
    elif mi.get("backend") == "native" and "kernel_path" not in mi:
        kp = "mlpx kernel path not recorded (results from before it was)"
    elif mi.get("backend") == "native":
        kp = f"mlpx kernel path {mi.get('kernel_path') or 'unknown'}"
    else:
        kp = f"mlpx kernel path n/a (backend {mi.get('backend') or mi.get('error', '?')[:60]})"
    by_arch = {}
    for name, archs in openblas_cores(info).items():
        by_arch.setdefault(", ".join(archs), []).append(name)
    cores = "; ".join(f"{a} ({', '.join(n)})" for a, n in by_arch.items()) or "not loaded"
    return f"{kp}; OpenBLAS core type {cores}"


def timed_anything(results):
    """True when at least one system was timed in at least one configuration
    (a run in which every system was skipped, e.g. from an interpreter
    without the bench extra, has nothing to save)."""
    return any(entry.get("train") or entry.get("latency")
               for v in run_views(results) for entry in v["configs"].values())


def save(results, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = render_markdown(results)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    if any(c.get("train") for v in run_views(results) for c in v["configs"].values()):
        plot(results, os.path.join(out_dir, "batch_a.png"))   # training times of family (a)
    return md


def _sigterm(signum, frame):
    raise SystemExit(128 + signum)     # unwinds run(): workers are closed


def _own_autogroup(nice, module="benchmarks.report"):
    """Run this command again in a new session, whose scheduler autogroup
    gets `nice` (Linux autogroups: nice between sessions is set per group).

    On a shared machine, other sessions' compilers and tests otherwise take
    1-2 of the 2 cores, and multithreaded BLAS under contention degrades by
    10-40x (measured: the bound on (a) at batch 32 took 0.8-22 s per epoch
    instead of 0.17 s). With the benchmark's own autogroup at nice -15 it ran
    at 0.17 s while the others kept ~0.2 core. Returns the child's exit code,
    or None where this cannot be done (then the run goes on as it is)."""
    import signal
    if os.environ.get("BENCH_AUTOGROUP") or not os.path.exists("/proc/self/autogroup"):
        return None
    env = os.environ.copy()
    env["BENCH_AUTOGROUP"] = str(nice)
    child = subprocess.Popen([sys.executable, "-m", module, *sys.argv[1:]],
                             cwd=ROOT, env=env, start_new_session=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: child.send_signal(signal.SIGTERM))
    return child.wait()


def _apply_autogroup():
    nice = os.environ.get("BENCH_AUTOGROUP")
    if not nice:
        return None
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(nice)
        with open("/proc/self/autogroup") as f:
            return f.read().strip()
    except OSError as exc:
        log(f"could not set the autogroup's nice to {nice} ({exc}); running as is")
        return None


def main(argv=None):
    import signal
    signal.signal(signal.SIGTERM, _sigterm)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                    help="tiny sizes (env BENCH_QUICK=1)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of " + ",".join(CONFIGS))
    ap.add_argument("--systems", default=",".join(ALL_SYSTEMS), help="comma list of " + ",".join(ALL_SYSTEMS))
    ap.add_argument("--sections", default="train,latency,twopool,memory")
    ap.add_argument("--repeats", type=int, default=None,
                    help="rounds kept (default 7 full, 3 quick; full runs up to 6 more to find quiet ones)")
    ap.add_argument("--sample-seconds", type=float, default=None,
                    help="target length of one timed sample (default 0.25 full, 0.01 quick)")
    ap.add_argument("--settle", type=float, default=None,
                    help="idle pause before each sample so other pools stop spinning (0.25 s full)")
    ap.add_argument("--max-wait-quiet", type=float, default=None,
                    help="wait up to this many s per config for other processes to go idle (60 full, 0 quick)")
    ap.add_argument("--priority", type=int, default=-20,
                    help="full runs: run in a new session whose autogroup has this nice "
                         "(default -20; 0 = off). Needs root or CAP_SYS_NICE")
    ap.add_argument("--no-snapshot", action="store_true",
                    help="import mlpx from src/ directly instead of a copy taken at start")
    ap.add_argument("--threads", default=None,
                    help="threads for every system, or a comma list (1,2,8) for a sweep: every "
                         "configuration at each count, more than the cores included "
                         "(default: the cores available)")
    ap.add_argument("--cpu-paths", default="auto",
                    help="comma list of CPU kernel paths: auto (the environment as it is), "
                         "x86-64-v3 (mlpx workers get MLPX_CPU=x86-64-v3, every worker "
                         "OPENBLAS_CORETYPE=Haswell and AVX2 caps for MKL/oneDNN/XLA), "
                         "x86-64-v4 (MLPX_CPU=x86-64-v4) (default: auto)")
    ap.add_argument("--out", default=None, help=f"results folder (default {RESULTS}, quick: .../quick)")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--render", metavar="JSON", help="re-render a saved results.json and exit")
    a = ap.parse_args(argv)
    if a.render:
        with open(a.render) as f:
            results = json.load(f)
        if "runs" not in results:
            log(f"{a.render}: results from before thread sweeps and CPU paths (one run at "
                f"{results.get('meta', {}).get('threads')} threads, kernel path not recorded)")
        evaluate_targets(results)
        print(render_markdown(results))
        return 0
    if argv is None and not a.quick and a.priority != 0:
        rc = _own_autogroup(a.priority)
        if rc is not None:
            return rc
    autogroup = _apply_autogroup()
    keys = [k for k in a.configs.split(",") if k]
    systems = [s for s in a.systems.split(",") if s]
    for k in keys:
        if k not in CONFIGS:
            ap.error(f"unknown config {k}")
    for s in systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s}")
    try:
        threads = thread_counts_of(a.threads) if a.threads is not None else None
    except ValueError as exc:
        ap.error(f"--threads {a.threads}: {exc}")
    cpu_paths = cpu_paths_of(a.cpu_paths)
    for p in cpu_paths:
        if not all(c.isalnum() or c in "-_." for c in p):
            ap.error(f"--cpu-paths: bad path name {p!r}")
    repeats = a.repeats or (3 if a.quick else 7)
    sample = a.sample_seconds or (0.01 if a.quick else 0.25)
    results = run(keys, systems, a.quick, repeats, sample, set(a.sections.split(",")), threads,
                  a.settle, a.max_wait_quiet, not a.no_snapshot, autogroup, cpu_paths)
    if a.no_save:
        md = render_markdown(results)
    elif not timed_anything(results):
        print(render_markdown(results))
        log("nothing was timed (every system was skipped, see above): "
            "the saved results are left as they were")
        return 1
    else:
        out = a.out or (os.path.join(RESULTS, "quick") if a.quick else RESULTS)
        md = save(results, out)
        log(f"saved {out}/results.md, results.json, batch_a.png")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
