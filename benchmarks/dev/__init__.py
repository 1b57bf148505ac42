"""Lab tools: diagnostics used while tuning mlpx, not the benchmark suite
(benchmarks/dev/README.md says what each one does)."""


def run_at_priority(priority, module, argv):
    """Give this process the benchmark's scheduling, as ``benchmarks.report``
    does: started from the command line (``argv`` None) with a nonzero
    ``priority``, re-run ``module`` in a new session whose autogroup has
    that nice, and return its exit status; otherwise apply the autogroup
    setting here and return None (go on). The one place the lab tools use
    report.py's scheduling helpers."""
    from ..report import _apply_autogroup, _own_autogroup

    if argv is None and priority != 0:
        rc = _own_autogroup(priority, module)
        if rc is not None:
            return rc
    _apply_autogroup()
    return None


def tool_parser(doc, priority):
    """The lab tools' command line: ``--quick`` (the benchmark's tiny sizes)
    and ``--priority`` (the nice of the tool's own autogroup; 0 = off)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the benchmark's tiny sizes")
    ap.add_argument("--priority", type=int, default=priority,
                    help="run in a new session whose autogroup has this nice (0 = off)")
    return ap
