"""Where the time goes: ``python -m benchmarks.dev.profile SYSTEM CONFIG [EPOCHS]``.

Sets SYSTEM up on CONFIG in a worker process (as the report does), then
attaches ``perf record -e cpu-clock -g`` to that process only while it
trains EPOCHS epochs, and prints the share of samples per library (DSO) and
the top symbols (self time, all threads of the worker). Needs ``perf``
(linux-perf); software clock events are enough (no hardware counters here).

    PYTHONPATH=src python -m benchmarks.dev.profile mlpx c 40
    PYTHONPATH=src python -m benchmarks.dev.profile mlpx a32 3 --quick
    PYTHONPATH=src python -m benchmarks.dev.profile mlpx e 200 --infer   # predict_proba
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

from ..machine import default_threads
from ..report import Worker
from . import run_at_priority, tool_parser


def _group(dso):
    d = dso.lower()
    if "mlpx-local-blas" in d:  # mlpx._blas's private copy, mapped from a memfd
        return "BLAS (mlpx's local one-thread copy)"
    if "openblas" in d or "mkl" in d:
        return "BLAS (" + os.path.basename(dso) + ")"
    if "_core" in d and "mlpx" not in d:
        return "mlpx native (_core)"
    if "_core" in d:
        return "mlpx native (_core)"
    if "python" in d:
        return "CPython interpreter"
    if "numpy" in d or "_multiarray" in d or "_umath" in d:
        return "NumPy"
    if "kernel" in d:
        return "kernel"
    if "libm" in d or "libmvec" in d:
        return "libm"
    if "libc" in d:
        return "libc"
    return os.path.basename(dso)


def profile(system, key, epochs, quick, freq=2000, infer=False):
    perf = shutil.which("perf")
    if perf is None:
        raise SystemExit("perf not found (apt-get install linux-perf)")
    logdir = tempfile.mkdtemp(prefix="mlpx-profile-")
    w = Worker(system, default_threads(), logdir)
    try:
        r = w.call(cmd="setup", config=key, quick=quick)
        if "skip" in r:
            raise SystemExit(f"{system} skipped: {r['skip']}")
        t1 = w.call(cmd="train", k=1)["seconds"]
        data = os.path.join(logdir, "perf.data")
        rec = subprocess.Popen([perf, "record", "-e", "cpu-clock", "-F", str(freq), "-g",
                                "-p", str(w.proc.pid), "-o", data],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        if infer:
            t = sum(w.call(cmd="infer", n=epochs)["seconds"])
        else:
            t = w.call(cmd="train", k=epochs)["seconds"]
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
    finally:
        w.close()
    rep = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children",
                          "--sort", "dso,sym", "-g", "none", "--percent-limit", "0.3"],
                         capture_output=True, text=True)
    by_dso, rows = defaultdict(float), []
    for line in rep.stdout.splitlines():
        # a DSO name may hold a space: "/memfd:mlpx-local-blas (deleted)"
        m = re.match(r"\s*([\d.]+)%\s+(.+?)\s+\[[.kKuU]\]\s+(.*)", line)
        if m:
            pct, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
            by_dso[_group(dso)] += pct
            if "mlpx-local-blas" in dso:  # perf cannot name symbols in a memfd: one row
                local = next((r for r in rows if r[1] == "mlpx-local-blas"), None)
                if local is None:
                    rows.append([pct, "mlpx-local-blas", "(all; perf names no symbols in a memfd)"])
                else:
                    local[0] += pct
                continue
            rows.append([pct, os.path.basename(dso), sym])
    # the shares per library from a report by library alone (the rows above
    # are cut at 0.3% each, and a memfd's samples spread over many addresses)
    rep = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children",
                          "--sort", "dso", "-g", "none", "--percent-limit", "0.1"],
                         capture_output=True, text=True)
    by_dso = defaultdict(float)
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(.+?)\s*$", line)
        if m and not line.lstrip().startswith("#"):
            by_dso[_group(m.group(2))] += float(m.group(1))
    for r in rows:
        if r[1] == "mlpx-local-blas":
            r[0] = by_dso.get("BLAS (mlpx's local one-thread copy)", r[0])
    what = "predict_proba calls (10,000 rows)" if infer else "epochs"
    out = [f"profile: {system} on {key}{' (quick)' if quick else ''}: {epochs} {what} in {t:.3f} s "
           f"({t / epochs:.4g} s each; first training epoch {t1:.4g} s), perf cpu-clock {freq} Hz, "
           "self time, all threads (idle time is not sampled; OpenBLAS threads "
           "spinning between calls are)",
           "", "| share | where |", "|---:|---|"]
    for g, pct in sorted(by_dso.items(), key=lambda x: -x[1]):
        out.append(f"| {pct:.1f}% | {g} |")
    out += ["", "| share | library | symbol |", "|---:|---|---|"]
    for pct, dso, sym in sorted(rows, key=lambda r: -r[0])[:25]:
        out.append(f"| {pct:.1f}% | {dso} | `{sym[:90]}` |")
    return "\n".join(out)


def main(argv=None):
    ap = tool_parser(__doc__, priority=-15)
    ap.add_argument("system")
    ap.add_argument("config")
    ap.add_argument("epochs", type=int, nargs="?", default=5)
    ap.add_argument("--freq", type=int, default=2000)
    ap.add_argument("--infer", action="store_true", help="profile predict_proba calls instead of epochs")
    a = ap.parse_args(argv)
    rc = run_at_priority(a.priority, "benchmarks.dev.profile", argv)
    if rc is not None:
        return rc
    print(profile(a.system, a.config, a.epochs, a.quick, a.freq, a.infer))


if __name__ == "__main__":
    sys.exit(main())
