"""Run every system interleaved and print the benchmark table (issue 5).

    PYTHONPATH=src python -m benchmarks.report            # full run (~10-15 min, 2 cores)
    PYTHONPATH=src python -m benchmarks.report --quick    # tiny sizes, seconds
    python -m benchmarks.report --render benchmarks/results/results.json

Each system runs in its own worker process (``benchmarks.worker``). Per
configuration: every system is set up (data, model, compilation, one
warm-up epoch), k is chosen per system so that one timed sample lasts about
``--sample-seconds``, then ``--repeats`` rounds run the systems in rotating
order, each round taking one sample (k epochs, timed inside the worker,
divided by k) and three inference timings per system. Medians are reported.
Results: ``results.md``, ``results.json`` and ``batch_a.png`` under --out.
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

from .configs import CONFIGS, get_config
from .machine import ForeignLoad, RunDelay, default_threads, machine_info, versions, wait_quiet
from .systems import SYSTEMS, worker_env

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


def snapshot_src(dest):
    """Copy src/mlpx (with its built extension) to dest/src and return it:
    every worker of a run imports the same build, even if the tree is rebuilt
    meanwhile (overwriting a loaded .so crashes the process using it)."""
    import hashlib
    import shutil
    src = os.path.join(dest, "src")
    shutil.copytree(os.path.join(_package_parent(), "mlpx"), os.path.join(src, "mlpx"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    sums = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if f.endswith((".so", ".pyd")):
                with open(os.path.join(dirpath, f), "rb") as fh:
                    sums[f] = hashlib.sha1(fh.read()).hexdigest()[:12]
    return src, sums


class Worker:
    def __init__(self, name, threads, logdir):
        self.name = name
        env = os.environ.copy()
        env.update(worker_env(name, threads))
        env["BENCH_THREADS"] = str(threads)
        paths = [SRC, ROOT]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        self.log_path = os.path.join(logdir, f"worker-{name}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", name], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)

    def call(self, **msg):
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
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


def run_training(workers, keys, quick, repeats, sample_seconds, results, settle, max_wait,
                 noise=0.2, extra_rounds=6):
    skipped = results["skipped"]
    pids = [w.proc.pid for w in workers.values()]
    for key in keys:
        cfg = get_config(key, quick)
        log(f"[{key}] {cfg.label}")
        quiet = wait_quiet(max_wait, log=log) if max_wait > 0 else None
        entry = {"config": cfg.as_dict(), "train": {}, "infer": {}, "k": {}}
        results["configs"][key] = entry
        active, est = [], {}
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


def run_memory(quick, results, systems):
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
            env.update(worker_env(system, default_threads()))
            env["PYTHONPATH"] = os.pathsep.join([SRC, ROOT])
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
    """Every target of issue 5, from paired (same-round) ratios."""
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
        fam = key if key in ("b", "c", "d", "e") else "a"
        lim = {"a32": 1.4, "a256": 1.2, "a2048": 1.2, "b": 1.2, "d": 1.2, "c": 1.5, "e": 1.5}[key]
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
        if key in ("a32", "c", "e"):
            at_least("sklearn / mlpx", key, "sklearn", 3.0 if key == "a32" else 10.0)
        if key in ("c", "e"):
            at_least("mlpx-numpy / mlpx", key, "mlpx-numpy", 3.0)
        for peer in PEERS:
            at_least(f"inference {peer} / mlpx", key, peer, 1.0, what="infer")
    tp = results.get("twopool")
    if tp and "predict" in tp:
        for v in ("predict", "epoch"):
            add("two-pool: alternating / mlpx alone", v, tp[v]["ratio"], "<= 1.5",
                tp[v]["ratio"] <= 1.5, f"interference {tp[v]['interference']:.2f}")
    for row in results.get("memory", []):
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


def render_markdown(results):
    meta, info = results["meta"], results.get("info", {})
    systems = [s for s in results["systems"]
               if any(s in c["train"] for c in results["configs"].values())]
    out = []
    mode = "QUICK (tiny sizes, not the real table)" if meta["quick"] else "full"
    out.append(f"# mlpx benchmark results ({mode})\n")
    mi = info.get("mlpx", {})
    backend = mi.get("backend")
    out.append(f"- **mlpx backend: {backend or 'NOT RUN'}**"
               + (f" (mlpx {mi.get('mlpx')}, commit {meta['machine']['git']}"
                  + (f"; benchmarks from commit {meta['machine']['git_benchmarks']}"
                     if meta["machine"].get("git_benchmarks") else "") + ")" if backend else "")
               + ("" if backend == "native" else
                  f" — native mlpx did not run: {results['skipped'].get('mlpx', {}).get('reason', '?')}"))
    snap = meta.get("snapshot")
    if snap:
        out.append("- mlpx imported from a copy of src/ taken at start; extensions: "
                   + (", ".join(f"`{k}` sha1 {v}" for k, v in snap["extensions_sha1"].items()) or "none"))
    m = meta["machine"]
    level = f"; {m['x86_64_level']}" if m.get("x86_64_level") else ""
    out.append(f"- Machine: {m['cpu']} ({', '.join(m['isa'])}{level}), {m['cores_available']} cores, "
               f"{m['os']}, Python {m['python']}; run {m['date_utc']}; "
               f"load average at start {m['loadavg_start'][0]:.2f}, at end {meta.get('loadavg_end', [0])[0]:.2f}")
    if mi.get("blas_library"):
        out.append(f"- mlpx's BLAS: `{os.path.basename(mi['blas_library'])}` via `{mi.get('blas_symbol')}` "
                   f"({'ILP64' if mi.get('blas_ilp64') else 'LP64'}), threads {mi.get('blas_threads')}")
    b = info.get("bound", {})
    if b.get("bound_library"):
        out.append(f"- Bound: gemm_bound.c (cc -O2) through `{os.path.basename(b['bound_library'])}` "
                   f"`{b.get('bound_symbol')}`" +
                   (f"; bound-mkl through `{os.path.basename(info['bound-mkl']['bound_library'])}` `sgemm_`/`dgemm_`"
                    if info.get("bound-mkl", {}).get("bound_library") else ""))
    out.append("- Scheduling: " + (f"own session, scheduler {meta['autogroup']} "
                                    "(other sessions' processes yield to the benchmark)"
                                    if meta.get("autogroup") else "default (no priority)"))
    pinned = meta["threads"] < m["cores_available"]
    out.append(f"- Threads: {meta['threads']} for every system (threadpoolctl limit in each worker; "
               f"torch.set_num_threads; MKL_NUM_THREADS for bound-mkl; "
               + (f"each worker pinned to {meta['threads']} core(s) with sched_setaffinity, "
                  "which is what limits XLA)" if pinned else "XLA uses the cores)"))
    pools = []
    for name in systems:
        for p in info.get(name, {}).get("blas_pools", []):
            pools.append(f"{name}: {p.get('internal_api')} {p.get('version') or ''} "
                         f"{p.get('architecture') or ''} ({p.get('num_threads')} thr, "
                         f"{os.path.basename(p.get('filepath') or '')})")
    if pools:
        out.append("- Thread pools (threadpoolctl, per worker): " + "; ".join(pools))
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
               "bound: all GEMMs of k epochs in one C call.")
    for name, s in results["skipped"].items():
        out.append(f"- **{name} skipped**: {s['reason']}")
    for key, c in results["configs"].items():
        for name, e in c.get("errors", {}).items():
            out.append(f"- **{name} failed on {key}**: {e.strip().splitlines()[-1][:300]}")
    out.append("")

    keys = list(results["configs"])
    labels = {k: results["configs"][k]["config"]["label"] for k in keys}

    def table(title, value, systems_=systems, fmt=_fmt):
        out.append(f"## {title}\n")
        out.append("| config | " + " | ".join(systems_) + " |")
        out.append("|---|" + "---:|" * len(systems_))
        for k in keys:
            out.append(f"| {labels[k]} | " + " | ".join(fmt(value(k, s)) for s in systems_) + " |")
        out.append("")

    table(f"Training: seconds per epoch (median of {meta['repeats']})",
          lambda k, s: _t(results, k, s))
    parts = []
    for k in keys:
        c = results["configs"][k]
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
          lambda k, s: paired_ratio(results, k, s, REF), fmt=_ratio)
    table("Training: time / GEMM-only bound (through mlpx's BLAS)",
          lambda k, s: paired_ratio(results, k, s, "bound"), fmt=_ratio)
    table("Inference: `predict_proba` on 10,000 rows, milliseconds (median; bound = forward GEMMs)",
          lambda k, s: (None if _t(results, k, s, "infer") is None else 1e3 * _t(results, k, s, "infer")))
    table("Inference: time / mlpx time",
          lambda k, s: paired_ratio(results, k, s, REF, "infer"), fmt=_ratio)

    tp = results.get("twopool")
    out.append("## Two pools: mlpx calls alternating with `numpy.matmul`\n")
    if tp and "predict" in tp:
        out.append(f"mlpx backend {tp['backend']}, BLAS `{os.path.basename(tp.get('mlpx_blas') or '?')}`; "
                   f"numpy.matmul {tp['numpy_matmul']}. Per iteration, medians.\n")
        out.append("| mlpx call | mlpx alone (ms) | matmul alone (ms) | alternating (ms) | alternating / mlpx alone | interference |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for v in ("predict", "epoch"):
            d = tp[v]
            out.append(f"| {d['mlpx_call']} | {1e3 * d['t_mlpx']:.3f} | {1e3 * d['t_numpy']:.3f} | "
                       f"{1e3 * d['t_alt']:.3f} | {d['ratio']:.2f} | {d['interference']:.2f} |")
        out.append("\ninterference = alternating / (mlpx alone + matmul alone); 1.0 means no fight.\n")
    else:
        out.append(f"Not run: {(tp or {}).get('skipped', 'not requested')}\n")

    mem = results.get("memory")
    out.append("## Memory: peak RSS during fit - RSS before fit\n")
    if mem:
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
    else:
        out.append("Not run.\n")

    out.append("## Targets of issue 5\n")
    out.append("| target | config | value | needed | met | note |")
    out.append("|---|---|---:|---|---|---|")
    for r in results.get("targets", []):
        met = {True: "yes", False: "**NO**", None: "n/a"}[r["met"]]
        out.append(f"| {r['target']} | {r['config']} | {_ratio(r['value'])} | {r['need']} | {met} | {r['note']} |")
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
                 f"{results['meta']['threads']} threads", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ----------------------------------------------------------------- main

def run(keys, systems, quick, repeats, sample_seconds, sections, threads=None,
        settle=None, max_wait=None, snapshot=True, autogroup=None):
    threads = threads or default_threads()
    settle = (0.02 if quick else 0.25) if settle is None else settle
    max_wait = (0 if quick else 60) if max_wait is None else max_wait
    os.environ["BENCH_THREADS"] = str(threads)
    results = {
        "meta": {"quick": quick, "repeats": repeats, "sample_seconds": sample_seconds,
                 "settle_seconds": settle, "max_wait_quiet": max_wait, "autogroup": autogroup,
                 "noise": 0.2, "extra_rounds": 0 if quick else 6,
                 "threads": threads, "machine": machine_info(ROOT, _package_parent()),
                 "versions": versions(["numpy", "scipy", "scikit-learn", "threadpoolctl", "torch",
                                       "jax", "jaxlib", "mkl", "matplotlib"])},
        "systems": systems, "configs": {}, "skipped": {}, "info": {},
    }
    logdir = tempfile.mkdtemp(prefix="mlpx-bench-")
    global SRC
    if snapshot:
        SRC, sums = snapshot_src(logdir)
        results["meta"]["snapshot"] = {"src": SRC, "extensions_sha1": sums}
    else:
        SRC = _package_parent()
    t0 = time.time()
    workers = {}
    try:
        for name in systems:
            workers[name] = Worker(name, threads, logdir)
        if "train" in sections:
            run_training(workers, keys, quick, repeats, sample_seconds, results, settle, max_wait)
        for name, w in workers.items():
            if name in results["skipped"]:
                continue
            try:
                results["info"][name] = w.call(cmd="info")["info"]
            except WorkerError as exc:
                results["info"][name] = {"error": str(exc)}
        if "twopool" in sections:
            if "mlpx" in workers and "mlpx" not in results["skipped"]:
                try:
                    results["twopool"] = workers["mlpx"].call(cmd="twopool", quick=quick)["twopool"]
                    tp = results["twopool"]
                    log(f"  two-pool: predict {tp['predict']['ratio']:.2f}, epoch {tp['epoch']['ratio']:.2f}")
                except WorkerError as exc:
                    results["twopool"] = {"skipped": f"failed: {exc}"}
            else:
                results["twopool"] = {"skipped": "mlpx native not available"}
    finally:
        for w in workers.values():
            w.close()
    if "memory" in sections:
        run_memory(quick, results, systems)
    if snapshot:
        import shutil
        shutil.rmtree(SRC, ignore_errors=True)     # the copy of src/; worker logs stay
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["meta"]["wall_seconds"] = time.time() - t0
    results["meta"]["worker_logs"] = logdir
    evaluate_targets(results)
    return results


def timed_anything(results):
    """True when at least one system was timed in at least one configuration
    (a run in which every system was skipped, e.g. from an interpreter
    without the bench extra, has nothing to save)."""
    return any(entry.get("train") for entry in results["configs"].values())


def save(results, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = render_markdown(results)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    plot(results, os.path.join(out_dir, "batch_a.png"))
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
    ap.add_argument("--sections", default="train,twopool,memory")
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
    ap.add_argument("--threads", type=int, default=None, help="threads for every system (default: cores)")
    ap.add_argument("--out", default=None, help=f"results folder (default {RESULTS}, quick: .../quick)")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--render", metavar="JSON", help="re-render a saved results.json and exit")
    a = ap.parse_args(argv)
    if a.render:
        with open(a.render) as f:
            results = json.load(f)
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
    repeats = a.repeats or (3 if a.quick else 7)
    sample = a.sample_seconds or (0.01 if a.quick else 0.25)
    results = run(keys, systems, a.quick, repeats, sample, set(a.sections.split(",")), a.threads,
                  a.settle, a.max_wait_quiet, not a.no_snapshot, autogroup)
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
