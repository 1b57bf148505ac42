"""mlpx benchmark suite (issue 5). Not part of the default test run.

    PYTHONPATH=src python -m benchmarks.report           # the full table
    PYTHONPATH=src python -m pytest benchmarks           # pytest-benchmark, in-process

See benchmarks/README.md.
"""
