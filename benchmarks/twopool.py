"""The two-pool case (DESIGN.md section 3): a loop alternating an mlpx call
with ``numpy.matmul``, against the same mlpx calls alone.

A second OpenBLAS next to NumPy's spins its own threads; alternating calls
into the two then cost ~45x. Runs inside the mlpx worker (native backend).

Two mlpx calls are measured, each alternating with
``numpy.matmul((32 x 784) @ (784 x 256))`` float32:
  predict: ``predict_proba`` on 256 rows of a 784-256-128-10 model;
  epoch:   ``partial_fit`` (one epoch) on 2,000 rows of 64-64-10, batch 32.
Reported per iteration (medians of interleaved blocks): t_mlpx (mlpx calls
alone), t_numpy (matmuls alone), t_alt (alternating), and
  ratio = t_alt / t_mlpx           (issue 5 target: <= 1.5)
  interference = t_alt / (t_mlpx + t_numpy)   (1.0 = no fight at all)
"""

import time
import warnings

import numpy as np

from .configs import LEARNING_RATE, get_config, make_data


def _estimator(hidden, batch, max_iter=1):
    import mlpx
    return mlpx.MLPClassifier(hidden_layer_sizes=hidden, activation="logistic",
                              solver="sgd", momentum=0.0, alpha=0.0, batch_size=batch,
                              learning_rate_init=LEARNING_RATE, shuffle=True,
                              max_iter=max_iter, tol=0.0, n_iter_no_change=10**9,
                              random_state=0)


def _time_loops(call_mlpx, call_np, n_iter, blocks):
    def loop_mlpx():
        for _ in range(n_iter):
            call_mlpx()

    def loop_np():
        for _ in range(n_iter):
            call_np()

    def loop_alt():
        for _ in range(n_iter):
            call_mlpx()
            call_np()

    loops = {"mlpx": loop_mlpx, "numpy": loop_np, "alt": loop_alt}
    for f in loops.values():            # warm-up
        f()
    samples = {k: [] for k in loops}
    order = list(loops)
    for r in range(blocks):
        for key in order[r % 3:] + order[:r % 3]:
            t0 = time.perf_counter()
            loops[key]()
            samples[key].append((time.perf_counter() - t0) / n_iter)
    med = {k: float(np.median(v)) for k, v in samples.items()}
    return {
        "t_mlpx": med["mlpx"], "t_numpy": med["numpy"], "t_alt": med["alt"],
        "ratio": med["alt"] / med["mlpx"],
        "interference": med["alt"] / (med["mlpx"] + med["numpy"]),
        "n_iter": n_iter, "blocks": blocks,
        "samples": samples,
    }


def run_twopool(quick, threads):
    import mlpx
    from mlpx import _blas
    rng = np.random.default_rng(0)
    A = rng.standard_normal((32, 784)).astype(np.float32)
    B = rng.standard_normal((784, 256)).astype(np.float32)
    call_np = lambda: np.matmul(A, B)  # noqa: E731
    out = {"backend": mlpx.get_backend(),
           "mlpx_blas": (_blas.provider or {}).get("library"),
           "numpy_matmul": "(32 x 784) @ (784 x 256) float32"}
    n_iter, blocks = (20, 3) if quick else (200, 7)

    cfg = get_config("a256", quick)
    X, y, _ = make_data(cfg, n_infer=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _estimator(cfg.hidden, cfg.batch).fit(X[:2000], y[:2000])
    Xs = np.ascontiguousarray(X[:256])
    out["predict"] = _time_loops(lambda: est.predict_proba(Xs), call_np, n_iter, blocks)
    out["predict"]["mlpx_call"] = f"predict_proba, 256 rows, {'-'.join(map(str, cfg.layers))}"

    cfg = get_config("c", quick)
    X, y, _ = make_data(cfg, n_infer=0)
    Xc, yc = np.ascontiguousarray(X[:2000]), y[:2000]
    est = _estimator(cfg.hidden, cfg.batch)
    classes = np.arange(cfg.n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(Xc, yc, classes=classes)
        out["epoch"] = _time_loops(lambda: est.partial_fit(Xc, yc), call_np,
                                   max(5, n_iter // 10), blocks)
    out["epoch"]["mlpx_call"] = (f"partial_fit, one epoch of {Xc.shape[0]} rows, "
                                 f"{'-'.join(map(str, cfg.layers))}, batch {cfg.batch}")
    return out
