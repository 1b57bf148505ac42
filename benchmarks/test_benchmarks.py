"""pytest-benchmark view of the suite: every (system, configuration) pair,
in-process, one epoch per round. ``python -m benchmarks.report`` is the main
tool (systems in separate processes, interleaved, ratios and targets); this
file lets pytest-benchmark store, compare and histogram the same timings.

    PYTHONPATH=src python -m pytest benchmarks --benchmark-only
    PYTHONPATH=src MLPX_BACKEND=numpy python -m pytest benchmarks -k mlpx-numpy
    BENCH_QUICK=1 ...                          # tiny sizes

mlpx's backend is the process's (MLPX_BACKEND is read once at import):
"mlpx" runs only when it is native and "mlpx-numpy" only when it is numpy;
the other is skipped with a message saying so.
"""

import os

import pytest

from benchmarks.configs import CONFIGS, get_config
from benchmarks.machine import default_threads
from benchmarks.systems import SYSTEMS, Skip

QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 3 if QUICK else 5
_cache = {}


def _system(name, key):
    if (name, key) not in _cache:
        _cache.clear()                      # one set-up system (and its data) at a time
        s = SYSTEMS[name]()
        try:
            s.setup(get_config(key, QUICK), default_threads())
        except Skip as exc:
            _cache[(name, key)] = exc
        else:
            _cache[(name, key)] = s
    s = _cache[(name, key)]
    if isinstance(s, Skip):
        pytest.skip(str(s))
    return s


@pytest.mark.parametrize("name", list(SYSTEMS))
@pytest.mark.parametrize("key", list(CONFIGS))
def test_train_epoch(benchmark, name, key):
    s = _system(name, key)
    benchmark.group = f"train {key}"
    benchmark.extra_info.update(get_config(key, QUICK).as_dict())
    benchmark.extra_info.update({k: str(v) for k, v in s.info().items()})
    benchmark.pedantic(s.train, args=(1,), rounds=ROUNDS, warmup_rounds=1)


@pytest.mark.parametrize("name", list(SYSTEMS))
@pytest.mark.parametrize("key", list(CONFIGS))
def test_infer(benchmark, name, key):
    s = _system(name, key)
    benchmark.group = f"infer {key}"
    benchmark.pedantic(s.infer, rounds=3 * ROUNDS, warmup_rounds=1)
