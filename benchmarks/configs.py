"""Benchmark configurations (issue 5) and their synthetic data.

Data: X ~ N(0, 1) from a fixed seed; labels from a random "teacher" network
(one tanh hidden layer of 64 units, then argmax over its outputs, or the sign
of a centred logit for the binary task), so the task is learnable; for the
regression configuration (r) the target is the teacher's centred output
itself. Every process that asks for a configuration builds bit-identical data.
"""

from dataclasses import dataclass, field, asdict

import numpy as np

SEED = 20261129
N_INFER = 10_000          # rows for the inference (predict_proba) benchmark
LEARNING_RATE = 0.01


@dataclass(frozen=True)
class Config:
    key: str              # "a32", "a256", "a2048", "b", "c", "d", "e"
    family: str           # "a".."e": the letter
    layers: tuple         # (n_in, hidden..., n_out_units); n_out_units = 1 for binary
    dtype: str            # "float32" | "float64"
    batch: int
    n_rows: int
    n_classes: int        # 2 for the binary task (one logistic output unit); 0: regression
    task: str = "classify"  # or "regress": MLPRegressor, identity output, squared error

    @property
    def hidden(self):
        return tuple(self.layers[1:-1])

    @property
    def label(self):
        shape = "-".join(str(n) for n in self.layers)
        kind = {2: ", binary", 0: ", regression"}.get(self.n_classes, "")
        return (f"({self.family}) {shape}{kind}, {'f32' if self.dtype == 'float32' else 'f64'}, "
                f"batch {self.batch}, {self.n_rows:,} rows")

    @property
    def n_params(self):
        return sum(f * o + o for f, o in zip(self.layers[:-1], self.layers[1:]))

    def as_dict(self):
        d = asdict(self)
        d["label"] = self.label
        return d


def _cfg(key, family, layers, dtype, batch, n_rows, task="classify"):
    n_classes = 0 if task == "regress" else 2 if layers[-1] == 1 else layers[-1]
    return Config(key, family, tuple(layers), dtype, batch, n_rows, n_classes, task)


CONFIGS = {
    c.key: c for c in [
        _cfg("a32", "a", (784, 256, 128, 10), "float32", 32, 20_000),
        _cfg("a256", "a", (784, 256, 128, 10), "float32", 256, 20_000),
        _cfg("a2048", "a", (784, 256, 128, 10), "float32", 2048, 20_000),
        _cfg("b", "b", (784, 256, 128, 10), "float64", 200, 20_000),
        _cfg("c", "c", (64, 64, 10), "float32", 32, 20_000),
        _cfg("d", "d", (1024, 1024, 1024, 10), "float32", 512, 8_192),
        _cfg("e", "e", (30, 32, 1), "float64", 64, 50_000),
        _cfg("r", "r", (20, 64, 64, 1), "float64", 64, 50_000, task="regress"),
    ]
}

# The regression configuration is held to the targets of (e), the other small
# float64 network of 50,000 rows.
TARGETS_AS = {"r": "e"}

# Quick mode: the same shapes of network family, tiny sizes (runs in seconds).
QUICK_CONFIGS = {
    c.key: c for c in [
        _cfg("a32", "a", (78, 25, 12, 10), "float32", 32, 1_000),
        _cfg("a256", "a", (78, 25, 12, 10), "float32", 256, 1_000),
        _cfg("a2048", "a", (78, 25, 12, 10), "float32", 512, 1_000),
        _cfg("b", "b", (78, 25, 12, 10), "float64", 200, 1_000),
        _cfg("c", "c", (64, 64, 10), "float32", 32, 1_000),
        _cfg("d", "d", (128, 128, 128, 10), "float32", 128, 512),
        _cfg("e", "e", (30, 32, 1), "float64", 64, 1_000),
        _cfg("r", "r", (20, 64, 64, 1), "float64", 64, 1_000, task="regress"),
    ]
}


def get_config(key, quick=False):
    return (QUICK_CONFIGS if quick else CONFIGS)[key]


def make_data(cfg, n_infer=N_INFER):
    """Return (X, y, X_infer): X (n_rows, n_in) of cfg.dtype, C-contiguous;
    y int64 labels in 0..n_classes-1 (regression: cfg.dtype values, the
    teacher's output); X_infer (n_infer, n_in) for inference."""
    rng = np.random.default_rng(SEED + cfg.layers[0] * 7 + cfg.n_rows)
    n_in = cfg.layers[0]
    X64 = rng.standard_normal((cfg.n_rows + n_infer, n_in))
    n_out = 1 if cfg.n_classes in (0, 2) else cfg.n_classes  # 0: regression
    W1 = rng.standard_normal((n_in, 64)) / np.sqrt(n_in)
    b1 = rng.standard_normal(64) * 0.1
    W2 = rng.standard_normal((64, n_out)) * 2.0 / np.sqrt(64)
    logits = np.tanh(X64[:cfg.n_rows] @ W1 + b1) @ W2
    logits -= logits.mean(axis=0)          # centre: roughly balanced classes
    if cfg.task == "regress":
        y = np.ascontiguousarray(logits[:, 0], dtype=cfg.dtype)
    elif n_out == 1:
        y = (logits[:, 0] > 0).astype(np.int64)
    else:
        y = logits.argmax(axis=1).astype(np.int64)
    X = np.ascontiguousarray(X64[:cfg.n_rows], dtype=cfg.dtype)
    X_infer = np.ascontiguousarray(X64[cfg.n_rows:], dtype=cfg.dtype)
    return X, y, X_infer
