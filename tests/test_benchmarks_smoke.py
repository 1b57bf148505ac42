"""Smoke test of the benchmark harness (benchmarks/, issue 5): quick mode,
one configuration, mlpx + the GEMM-only bound. Checks that it runs and
produces finite times and a table; no timing assertions."""

import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import report  # noqa: E402


def test_quick_report_mlpx_and_bound():
    results = report.run(["c"], ["mlpx", "bound"], quick=True, repeats=2,
                         sample_seconds=0.005, sections={"train"})
    entry = results["configs"]["c"]
    assert "errors" not in entry, entry.get("errors")
    bound = entry["train"]["bound"]
    assert math.isfinite(bound["median"]) and bound["median"] > 0
    assert all(math.isfinite(x) and x > 0 for x in entry["infer"]["bound"]["samples"])
    md = report.render_markdown(results)
    assert "## Training: seconds per epoch" in md
    assert "| (c) 64-64-10" in md
    if "mlpx" in results["skipped"]:
        # native backend not built: said loudly, never replaced by NumPy
        assert "mlpx skipped" in md and "native" in md
    else:
        m = entry["train"]["mlpx"]["median"]
        assert math.isfinite(m) and m > 0
        assert results["info"]["mlpx"]["backend"] == "native"
        assert "mlpx backend: native" in md
        assert any(r["target"] == "mlpx / bound" and r["value"] is not None
                   for r in results["targets"])


def test_quick_thread_sweep_and_cpu_paths():
    """--threads 1,2 --cpu-paths auto,x86-64-v3 in quick mode: one run per
    (path, threads) with its own workers and environment, a sweep table, the
    kernel path and OpenBLAS core type named; a file without "runs" (the
    format before sweeps) still renders."""
    import copy

    import pytest
    from benchmarks.machine import x86_64_level

    # the AVX2 path only where the CPU has it (mlpx may refuse it elsewhere)
    paths = ["auto", "x86-64-v3"] if x86_64_level() in ("x86-64-v3", "x86-64-v4") else ["auto"]
    results = report.run(["c"], ["mlpx", "bound"], quick=True, repeats=2, sample_seconds=0.005,
                         sections={"train"}, threads="1,2", cpu_paths=",".join(paths))
    runs = results["runs"]
    assert [(r["cpu_path"], r["threads"]) for r in runs] == [(p, t) for p in paths for t in (1, 2)]
    assert results["meta"]["thread_counts"] == [1, 2]
    for r in runs:
        assert "errors" not in r["configs"]["c"], r["configs"]["c"].get("errors")
        env = r["env"]
        if r["cpu_path"] == "x86-64-v3":
            assert env["mlpx"]["MLPX_CPU"] == "x86-64-v3"
            assert env["bound"]["OPENBLAS_CORETYPE"] == "Haswell"
            assert "MLPX_CPU" not in env["bound"]
        else:
            assert env["mlpx"] == {} and env["bound"] == {}
        for name, info in r["info"].items():      # what the worker really started with
            assert info["threads"] == r["threads"]
            if r["cpu_path"] == "x86-64-v3":
                assert info["env"]["OPENBLAS_CORETYPE"] == "Haswell"
    primary = runs[results["meta"]["primary_run"]]
    assert results["configs"] is primary["configs"] and results["targets"] is primary["targets"]
    md = report.render_markdown(results)
    assert "## Thread sweep: training, seconds per epoch" in md
    assert "| (c) 64-64-10 f32 b32 | auto | 1 |" in md
    assert "## 2 threads, CPU path auto" in md
    for p in paths:
        assert f"- CPU path `{p}`:" in md
    assert "- Machine: " in md and "OpenBLAS core type" in md
    if "mlpx" in primary["skipped"]:
        assert "mlpx skipped" in md
    else:
        assert "mlpx kernel path " in md
        assert all(r["info"]["mlpx"]["kernel_path"] for r in runs)
    if all("bound" in r["skipped"] for r in runs):
        pytest.skip(f"bound not available: {runs[0]['skipped']['bound']['reason']}")
    assert all(x["train"]["bound"]["median"] > 0 for r in runs for x in r["configs"].values())

    old = copy.deepcopy(results)                  # the format before sweeps
    for k in ("runs", "thread_counts", "cpu_paths", "primary_run", "path_env", "format"):
        old.pop(k, None)
        old["meta"].pop(k, None)
    report.evaluate_targets(old)
    md_old = report.render_markdown(old)
    assert "CPU path: not recorded" in md_old and "## Training: seconds per epoch" in md_old
    assert "Thread sweep" not in md_old


def test_threads_and_cpu_paths_options(monkeypatch):
    """--threads takes one count or a comma list, --cpu-paths a comma list;
    both reach run()."""
    seen = {}

    def fake_run(*args, **kwargs):
        seen["threads"], seen["cpu_paths"] = args[6], args[11]
        return {"meta": {}, "systems": [], "configs": {}, "skipped": {}, "info": {}}

    monkeypatch.setattr(report, "run", fake_run)
    monkeypatch.setattr(report, "render_markdown", lambda results: "table")
    argv = ["--quick", "--configs", "c", "--systems", "mlpx", "--no-save"]
    report.main(argv + ["--threads", "1,2,8", "--cpu-paths", "auto,x86-64-v3"])
    assert seen == {"threads": [1, 2, 8], "cpu_paths": ["auto", "x86-64-v3"]}
    report.main(argv + ["--threads", "3"])
    assert seen == {"threads": [3], "cpu_paths": ["auto"]}
    report.main(argv)
    assert seen["threads"] is None
    assert report.thread_counts_of(None) == [report.default_threads()]


def test_kernel_path_reads_core(monkeypatch):
    """mlpx's kernel path comes from _core._kernel_path, a value or a
    function; "unknown" where the build has none."""
    import pytest
    from benchmarks.systems import kernel_path
    try:
        from mlpx import _core
    except ImportError as exc:
        pytest.skip(f"mlpx._core not built: {exc}")
    monkeypatch.delattr(_core, "_kernel_path", raising=False)
    assert kernel_path() == "unknown"
    monkeypatch.setattr(_core, "_kernel_path", lambda: "x86-64-v3", raising=False)
    assert kernel_path() == "x86-64-v3"
    monkeypatch.setattr(_core, "_kernel_path", b"x86-64-v4")
    assert kernel_path() == "x86-64-v4"


def test_report_that_timed_nothing_saves_nothing(tmp_path, monkeypatch):
    """A run in which every system was skipped (e.g. started from an
    interpreter without numpy's extras) must not overwrite saved results."""
    empty = {"meta": {}, "systems": ["mlpx"], "configs": {"c": {"train": {}, "infer": {}}},
             "skipped": {"mlpx": "cannot import"}, "info": {}, "targets": []}
    assert not report.timed_anything(empty)
    saved = tmp_path / "results.md"
    saved.write_text("the last good run")
    monkeypatch.setattr(report, "run", lambda *args, **kwargs: empty)
    monkeypatch.setattr(report, "render_markdown", lambda results: "table")
    assert report.main(["--configs", "c", "--systems", "mlpx", "--priority", "0",
                        "--out", str(tmp_path)]) == 1
    assert saved.read_text() == "the last good run"
    assert not (tmp_path / "results.json").exists()


def test_bound_selfcheck_all_dtypes():
    from benchmarks.bound import Bound, get_provider
    import numpy as np
    p = get_provider("mlpx")
    for dtype in ("float32", "float64"):
        X = np.random.default_rng(0).standard_normal((70, 9)).astype(dtype)
        b = Bound(p, (9, 7, 5, 3), dtype, 32, X, X[:10])
        assert b.selfcheck()
        assert b.gemms_per_epoch() == 3 * (3 * 3 - 1)


def test_core_latency_probe():
    """benchmarks.dev.corelat compiles and measures a positive, finite round trip."""
    from benchmarks.dev import corelat

    ns = corelat.roundtrip_ns(2000)
    assert math.isfinite(ns) and 0 < ns < 1e7


def test_cross_core_pass_probe():
    """benchmarks.dev.crosspass times a batch's GEMMs and the one-thread passes
    after them (positive, finite; the passes change the data in place)."""
    import numpy as np
    from benchmarks.dev import crosspass

    a = crosspass._arrays(np.random.default_rng(0))
    H1 = a["H1"]
    gemm, first, again = crosspass.batch(a)
    assert all(math.isfinite(t) and t > 0 for t in (gemm, first, again))
    np.testing.assert_allclose(H1, (a["X"] @ a["W1"]) * np.float32(0.999) * np.float32(1.001),
                               rtol=1e-5, atol=1e-5)
    assert crosspass.batch(a, passes=False)[1:] == (0.0, 0.0)


def test_quick_latency_section():
    """--sections latency in quick mode: mlpx's three calls, onnxruntime on
    mlpx's export and the NumPy forward timed per row count, tables and a
    target row per mlpx call; no timing assertions."""
    results = report.run(["c", "e", "r"], ["mlpx", "onnxruntime", "numpy"], quick=True, repeats=2,
                         sample_seconds=0.005, sections={"latency"})
    for key in ("c", "e", "r"):
        entry = results["configs"][key]
        assert "errors" not in entry, entry.get("errors")
        lat = entry["latency"]
        assert {"onnxruntime", "numpy"} <= set(lat)
        if "mlpx" not in results["skipped"]:
            calls = {"mlpx", "mlpx.forward"} | ({"mlpx predict"} if key != "r" else set())
            assert calls <= set(lat)
        for label, per_rows in lat.items():
            assert list(per_rows) == [str(n) for n in report.LATENCY_ROWS]
            assert all(math.isfinite(t) and t > 0 for t in per_rows.values()), label
        assert len(entry["latency_rounds"]) == 2
    md = report.render_markdown(results)
    assert "## Latency: microseconds per call" in md
    if "mlpx" not in results["skipped"]:
        assert "## Latency: onnxruntime time / mlpx time" in md
        rows = [r for r in results["targets"] if r["target"].startswith("latency onnxruntime")]
        assert len(rows) == 8 and all(r["value"] is not None for r in rows)
    # serving-only systems never enter the training tables
    assert "| onnxruntime |" not in md.split("## Latency")[0]


def test_serving_systems_match_mlpx():
    """The NumPy forward and onnxruntime compute what mlpx's predict_proba
    does, on the same weights."""
    import numpy as np
    import pytest
    from benchmarks.configs import get_config, make_data
    from benchmarks.systems import SYSTEMS, Skip

    for key in ("c", "e", "r"):
        cfg = get_config(key, quick=True)
        x = make_data(cfg)[2][:5]
        got = {}
        for name in ("numpy", "onnxruntime"):
            s = SYSTEMS[name]()
            try:
                s.setup(cfg, 1)
            except Skip as exc:
                pytest.skip(str(exc))
            (f,) = s.latency_fns().values()
            got[name] = f(x)
        est = s._fit_mlpx(cfg)
        want = est.predict(x) if cfg.task == "regress" else est.predict_proba(x)
        tol = 1e-5 if cfg.dtype == "float32" else 1e-10
        for name, p in got.items():
            if cfg.task == "regress":   # onnxruntime gives a regressor's output as (n, 1)
                p = np.ravel(p)
            np.testing.assert_allclose(p, want, rtol=tol, atol=tol, err_msg=name)
