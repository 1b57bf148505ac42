"""Lab tools: diagnostics used while tuning mlpx, not the benchmark suite
(benchmarks/dev/README.md says what each one does)."""
