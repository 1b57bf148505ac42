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
    """benchmarks.corelat compiles and measures a positive, finite round trip."""
    from benchmarks import corelat

    ns = corelat.roundtrip_ns(2000)
    assert math.isfinite(ns) and 0 < ns < 1e7


def test_cross_core_pass_probe():
    """benchmarks.crosspass times a batch's GEMMs and the one-thread passes
    after them (positive, finite; the passes change the data in place)."""
    import numpy as np
    from benchmarks import crosspass

    a = crosspass._arrays(np.random.default_rng(0))
    H1 = a["H1"]
    gemm, first, again = crosspass.batch(a)
    assert all(math.isfinite(t) and t > 0 for t in (gemm, first, again))
    np.testing.assert_allclose(H1, (a["X"] @ a["W1"]) * np.float32(0.999) * np.float32(1.001),
                               rtol=1e-5, atol=1e-5)
    assert crosspass.batch(a, passes=False)[1:] == (0.0, 0.0)
