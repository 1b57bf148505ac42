"""The systems under test. Each one trains the same network (logistic hidden
units, softmax or one logistic output, or one identity output with half the
squared error for the regression configuration; plain minibatch SGD with
shuffling, no momentum, no penalty) on the same data, and times whole epochs.

Interface (used in-process by the pytest-benchmark suite, and inside one
worker process per system by ``benchmarks.report``):

    s = SYSTEMS[name]()
    s.load()                # optional: import the system's libraries (no data, no timing)
    s.setup(cfg, threads)   # data, model, compilation, one warm-up; raises Skip
    s.train(k) -> seconds   # k whole epochs, timed inside (k >= 1)
    s.infer() -> seconds    # predict_proba / predict (or the peer's forward) on 10,000 rows
    s.latency_fns() -> {label: f}  # f(x): probabilities (or predictions) for an ndarray x of a few rows
    s.info() -> dict        # versions, backend, threads

Systems marked ``latency_only`` (onnxruntime on mlpx's exported model, a
plain NumPy forward) only serve requests: setup fits an mlpx model of one
epoch for its weights; they do not train.

How each system times an epoch:
  estimators (mlpx, mlpx-numpy, sklearn): the model is built and initialized
      once in setup (a first ``fit`` of one epoch, untimed), as the torch and
      JAX models are; each sample is then ``fit`` with warm_start=True,
      max_iter=k, tol=0, n_iter_no_change=10**9 (never stops early): k more
      epochs of the same model, timed whole and divided by k by the caller,
      the fit's input validation included (amortized over k). Before commit
      46ae9b9 each sample was a fresh ``fit``, which also paid
      the weight initialization (2.1M Mersenne-Twister draws on (d), ~16 ms,
      3% of a (d) sample with k = 1) that no peer's sample pays. (Not
      ``partial_fit``: it re-validates the whole data set every epoch, a cost
      no peer here pays.) ``n_iter_`` (counted per fit) is checked to be k.
  torch: k epochs of randperm + per-batch gather + forward/backward/step.
  jax: k calls of one compiled epoch (jit + lax.scan; one gather of the
      permuted data per epoch, then contiguous batches; the tail batch after
      the scan); compiled ahead in setup, never timed; block_until_ready.
  bound / bound-mkl: k epochs of GEMMs in one C call (gemm_bound.c).
"""

import os
import sys
import time
import warnings

import numpy as np

from .configs import LEARNING_RATE, make_data


class Skip(Exception):
    """The system cannot run here (package absent, backend missing): the
    message says why; the report prints it."""


class System:
    name = "?"
    latency_only = False

    def load(self):
        """Import the libraries setup will need (the report lets every worker
        do this at once, before any timing). Errors are setup's to report."""

    def setup(self, cfg, threads):
        raise NotImplementedError

    def train(self, k):
        raise NotImplementedError

    def infer(self):
        raise NotImplementedError

    def latency_fns(self):
        """{label: f}: f(x) gives the class probabilities for x, an ndarray
        of a few rows of the configuration's dtype, as a serving caller
        makes the call (any conversion in and out included)."""
        raise Skip(f"{self.name}: no latency measurement")

    def info(self):
        return {}


# ---------------------------------------------------------------- estimators

class _EstimatorSystem(System):
    def _estimator_class(self):
        raise NotImplementedError

    def _make(self, k, warm_start=False):
        cfg = self.cfg
        return self.cls(
            hidden_layer_sizes=cfg.hidden, activation="logistic", solver="sgd",
            momentum=0.0, alpha=0.0, batch_size=cfg.batch,
            learning_rate_init=LEARNING_RATE, learning_rate="constant", shuffle=True,
            max_iter=k, tol=0.0, n_iter_no_change=10**9, early_stopping=False,
            random_state=0, warm_start=warm_start)

    def load(self):
        self._estimator_class()

    def setup(self, cfg, threads):
        self.cls = self._estimator_class()
        if cfg.task == "regress":  # the regressor of the classifier's module
            self.cls = getattr(sys.modules[self.cls.__module__], "MLPRegressor")
        self.cfg = cfg
        self.X, self.y, self.X_infer = make_data(cfg)
        # the model, built and initialized once (untimed), like the peers'
        self.est = self._make(1, warm_start=True)
        self._fit(1)
        self.train(1)      # warm-up: first-call imports, BLAS buffers

    def _fit(self, k):
        est = self.est
        est.max_iter = k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # ConvergenceWarning at max_iter
            t0 = time.perf_counter()
            est.fit(self.X, self.y)
            t = time.perf_counter() - t0
        if est.n_iter_ != k:  # (a warm-start fit counts its own epochs)
            raise RuntimeError(f"{self.name}: fit ran {est.n_iter_} epochs, expected {k}")
        if est.coefs_[0].dtype != self.X.dtype:
            raise RuntimeError(f"{self.name}: trained in {est.coefs_[0].dtype}, "
                               f"data is {self.X.dtype}")
        return t

    def train(self, k):
        return self._fit(k)

    def infer(self):
        regress = self.cfg.task == "regress"
        t0 = time.perf_counter()
        P = self.est.predict(self.X_infer) if regress else self.est.predict_proba(self.X_infer)
        t = time.perf_counter() - t0
        assert P.shape == ((self.X_infer.shape[0],) if regress
                           else (self.X_infer.shape[0], self.cfg.n_classes))
        return t

    def latency_fns(self):
        est = self.est
        return {self.name: est.predict if self.cfg.task == "regress" else est.predict_proba}


class MlpxSystem(_EstimatorSystem):
    """mlpx.MLPClassifier with a given backend; the backend is the process's
    (MLPX_BACKEND is read at import), and is checked, never assumed."""

    backend = "native"

    def __init__(self):
        self.name = "mlpx" if self.backend == "native" else f"mlpx-{self.backend}"

    def _estimator_class(self):
        try:
            import mlpx
        except ImportError as exc:
            raise Skip(f"mlpx ({self.backend} backend) cannot import: {exc}") from exc
        active = mlpx.get_backend()
        if active != self.backend:
            raise Skip(f"{self.name}: this process runs mlpx backend {active!r}, not "
                       f"{self.backend!r} (set MLPX_BACKEND={self.backend} for it)")
        if not hasattr(mlpx, "MLPClassifier"):
            raise Skip("mlpx.MLPClassifier is not available yet")
        return mlpx.MLPClassifier

    def info(self):
        import mlpx
        out = {"mlpx": getattr(mlpx, "__version__", "?"), "backend": mlpx.get_backend(),
               "mlpx_file": getattr(mlpx, "__file__", None)}
        try:
            from mlpx import _blas
            p = _blas.provider or _blas.find_provider()
            out["blas_library"] = p.get("library")
            out["blas_symbol"] = p.get("symbol")
            out["blas_ilp64"] = p.get("ilp64")
            if _blas.provider is not None:
                out["blas_threads"] = _blas.threads()
        except Exception as exc:  # noqa: BLE001
            out["blas_error"] = repr(exc)
        out["kernel_path"] = kernel_path() if out["backend"] == "native" else None
        return out

    def latency_fns(self):
        import mlpx
        est = self.est
        fns = super().latency_fns()
        if self.cfg.task != "regress":
            fns[f"{self.name} predict"] = est.predict
        if self.backend == "native":
            out = est.out_activation_

            def forward(x):
                return mlpx.forward(est.coefs_, est.intercepts_, x, activation="logistic",
                                    out_activation=out)
            fns["mlpx.forward"] = forward
        return fns


def kernel_path():
    """The CPU kernel path mlpx's engine runs in this process (its
    ``_core._kernel_path``, a value or a function), or "unknown" when this
    build does not say."""
    try:
        from mlpx import _core
    except ImportError:
        return "unknown"
    kp = getattr(_core, "_kernel_path", None)
    try:
        kp = kp() if callable(kp) else kp
    except Exception as exc:  # noqa: BLE001
        return f"unknown ({exc!r})"
    if isinstance(kp, bytes):
        kp = kp.decode()
    return "unknown" if kp is None else str(kp)


class MlpxNumpySystem(MlpxSystem):
    backend = "numpy"


class SklearnSystem(_EstimatorSystem):
    name = "sklearn"

    def _estimator_class(self):
        try:
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:
            raise Skip(f"scikit-learn not installed: {exc}") from exc
        return MLPClassifier

    def info(self):
        import sklearn
        return {"sklearn": sklearn.__version__}


# --------------------------------------------------------------------- torch

class TorchSystem(System):
    name = "torch"

    def load(self):
        import torch  # noqa: F401

    def setup(self, cfg, threads):
        try:
            import torch
        except ImportError as exc:
            raise Skip("PyTorch not installed (pip install torch==2.13.0, the bench "
                       f"extra): {exc}") from exc
        self.torch = torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        self.cfg = cfg
        X, y, X_infer = make_data(cfg)
        self.X = torch.from_numpy(X)
        self.X_infer = torch.from_numpy(X_infer)
        dtype = self.X.dtype
        layers = []
        sizes = cfg.layers
        for i, (f, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(f, o, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(torch.nn.Sigmoid())
        self.model = torch.nn.Sequential(*layers)
        if cfg.task == "regress":  # half the squared error, as the estimators
            self.y = torch.from_numpy(y)
            mse = torch.nn.MSELoss()
            self.loss_fn = lambda out, yb: 0.5 * mse(out, yb)
        elif cfg.n_classes == 2:
            self.y = torch.from_numpy(y.astype(X.dtype))
            self.loss_fn = torch.nn.BCEWithLogitsLoss()
        else:
            self.y = torch.from_numpy(y)
            self.loss_fn = torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LEARNING_RATE, momentum=0.0)
        self.gen = torch.Generator().manual_seed(0)
        self.train(1)
        self.infer()

    def _epoch(self):
        torch, B = self.torch, self.cfg.batch
        n = self.X.shape[0]
        perm = torch.randperm(n, generator=self.gen)
        total = torch.zeros((), dtype=self.X.dtype)
        binary = self.cfg.n_classes in (0, 2)  # one output column
        for start in range(0, n, B):
            idx = perm[start:start + B]
            xb, yb = self.X[idx], self.y[idx]
            self.opt.zero_grad(set_to_none=True)
            out = self.model(xb)
            loss = self.loss_fn(out[:, 0] if binary else out, yb)
            loss.backward()
            self.opt.step()
            total += loss.detach() * idx.shape[0]
        return float(total) / n

    def train(self, k):
        t0 = time.perf_counter()
        for _ in range(k):
            loss = self._epoch()
        t = time.perf_counter() - t0
        if not np.isfinite(loss):
            raise RuntimeError(f"torch: non-finite loss {loss}")
        return t

    def infer(self):
        torch = self.torch
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model(self.X_infer)
            if self.cfg.task == "regress":
                P = out
            elif self.cfg.n_classes == 2:
                p = torch.sigmoid(out)
                P = torch.cat([1 - p, p], dim=1)
            else:
                P = torch.softmax(out, dim=1)
        t = time.perf_counter() - t0
        assert P.shape[1] == max(self.cfg.n_classes, 1)
        return t

    def latency_fns(self):
        torch, model, binary = self.torch, self.model, self.cfg.n_classes == 2
        regress = self.cfg.task == "regress"

        def proba(x):
            with torch.inference_mode():
                out = model(torch.from_numpy(x))
                if regress:
                    return out.numpy()
                if binary:
                    p = torch.sigmoid(out)
                    return torch.cat([1 - p, p], dim=1).numpy()
                return torch.softmax(out, dim=1).numpy()
        return {"torch": proba}

    def info(self):
        torch = self.torch if hasattr(self, "torch") else __import__("torch")
        return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                "torch_interop_threads": torch.get_num_interop_threads(),
                "torch_blas": "MKL" if torch.backends.mkl.is_available() else "?"}


# ----------------------------------------------------------------------- jax

class JaxSystem(System):
    name = "jax"

    def load(self):
        import jax.numpy  # noqa: F401

    def setup(self, cfg, threads):
        try:
            import jax
        except ImportError as exc:
            raise Skip(f"JAX not installed (pip install jax, the bench extra): {exc}") from exc
        import jax.numpy as jnp
        from jax import lax
        jax.config.update("jax_enable_x64", True)   # float64 configs; f32 stays f32
        jax.config.update("jax_platforms", "cpu")
        self.jax, self.cfg = jax, cfg
        X, y, X_infer = make_data(cfg)
        dtype = X.dtype
        regress = cfg.task == "regress"
        binary = cfg.n_classes == 2
        n, B = X.shape[0], cfg.batch
        n_full, tail = n // B, n % B
        lr = LEARNING_RATE

        rng = np.random.default_rng(0)
        params = []
        for f, o in zip(cfg.layers[:-1], cfg.layers[1:]):
            b = np.sqrt(2.0 / (f + o))
            params.append((jnp.asarray(rng.uniform(-b, b, (f, o)).astype(dtype)),
                           jnp.asarray(rng.uniform(-b, b, o).astype(dtype))))

        def logits_of(params, x):
            z = x
            for W, b in params[:-1]:
                z = jax.nn.sigmoid(z @ W + b)
            W, b = params[-1]
            return z @ W + b

        def loss_fn(params, xb, yb):
            out = logits_of(params, xb)
            if regress:  # half the squared error, as the estimators
                return 0.5 * jnp.mean((out[:, 0] - yb) ** 2)
            if binary:
                z = out[:, 0]
                return jnp.mean(jax.nn.softplus(z) - yb * z)
            logp = jax.nn.log_softmax(out, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        grad_fn = jax.value_and_grad(loss_fn)

        def step(params, batch):
            loss, g = grad_fn(params, *batch)
            params = jax.tree_util.tree_map(lambda p, gp: p - lr * gp, params, g)
            return params, loss

        def epoch(params, X, y, key):
            key, sub = jax.random.split(key)
            perm = jax.random.permutation(sub, n)
            Xp, yp = X[perm], y[perm]           # the one gather of the epoch
            m = n_full * B
            xs = Xp[:m].reshape(n_full, B, X.shape[1])
            ys = yp[:m].reshape(n_full, B)
            params, losses = lax.scan(step, params, (xs, ys))
            total = losses.sum() * B
            if tail:
                params, last = step(params, (Xp[m:], yp[m:]))
                total = total + last * tail
            return params, total / n, key

        def proba(params, x):
            out = logits_of(params, x)
            if regress:
                return out
            if binary:
                p = jax.nn.sigmoid(out)
                return jnp.concatenate([1 - p, p], axis=1)
            return jax.nn.softmax(out, axis=1)

        self.X = jnp.asarray(X)
        self.y = jnp.asarray(y.astype(dtype) if binary or regress else y.astype(np.int32))
        self.X_infer = jnp.asarray(X_infer)
        self.key = jax.random.PRNGKey(0)
        self.params = params
        # compile ahead (not timed)
        self.epoch = jax.jit(epoch, donate_argnums=(0,)).lower(
            self.params, self.X, self.y, self.key).compile()
        self.proba = jax.jit(proba).lower(self.params, self.X_infer).compile()
        self.proba_any = jax.jit(proba)     # latency: compiled per row count at warm-up
        self.train(1)
        self.infer()

    def train(self, k):
        t0 = time.perf_counter()
        params, key = self.params, self.key
        for _ in range(k):
            params, loss, key = self.epoch(params, self.X, self.y, key)
        loss = float(loss.block_until_ready())   # waits for the last epoch
        self.jax.block_until_ready(params)
        t = time.perf_counter() - t0
        self.params, self.key = params, key
        if not np.isfinite(loss):
            raise RuntimeError(f"jax: non-finite loss {loss}")
        return t

    def infer(self):
        t0 = time.perf_counter()
        P = self.proba(self.params, self.X_infer).block_until_ready()
        t = time.perf_counter() - t0
        assert P.shape[1] == max(self.cfg.n_classes, 1)
        return t

    def latency_fns(self):
        jnp, proba, params = self.jax.numpy, self.proba_any, self.params

        def f(x):
            return np.asarray(proba(params, jnp.asarray(x)))
        return {"jax": f}

    def info(self):
        import jax
        import jaxlib
        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
                "jax_devices": [str(d) for d in jax.devices()],
                "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}


# --------------------------------------------------------------------- bound

class BoundSystem(System):
    """GEMM-only lower bound through the BLAS mlpx uses."""

    name = "bound"
    provider_name = "mlpx"

    def load(self):
        from .bound import compile_bound, get_provider
        get_provider(self.provider_name)
        compile_bound()

    def setup(self, cfg, threads):
        from .bound import Bound, get_provider
        try:
            p = get_provider(self.provider_name)
        except RuntimeError as exc:
            raise Skip(f"{self.name}: {exc}") from exc
        if p.get("set_threads") is not None:
            p["set_threads"](threads)
        self.provider = p
        self.cfg = cfg
        X, y, X_infer = make_data(cfg)
        self.bound = Bound(p, cfg.layers, cfg.dtype, cfg.batch, X, X_infer)
        self.bound.selfcheck()
        self.train(1)
        self.infer()

    def train(self, k):
        t0 = time.perf_counter()
        self.bound.epochs(k)
        return time.perf_counter() - t0

    def infer(self):
        t0 = time.perf_counter()
        self.bound.forward(1)
        return time.perf_counter() - t0

    def info(self):
        p = getattr(self, "provider", None) or {}
        return {"bound_library": p.get("library"), "bound_symbol": p.get("symbol"),
                "bound_ilp64": p.get("ilp64"),
                "gemm_calls_per_epoch": self.bound.gemms_per_epoch() if hasattr(self, "bound") else None}


class MklBoundSystem(BoundSystem):
    name = "bound-mkl"
    provider_name = "mkl"


# ------------------------------------------------------------ serving only

class _ServingSystem(System):
    """Weights from an mlpx model fitted for one epoch on the configuration's
    data (the values do not matter to the timing; the shapes do)."""

    latency_only = True

    def load(self):
        import mlpx  # noqa: F401

    def _fit_mlpx(self, cfg):
        try:
            import mlpx
        except ImportError as exc:
            raise Skip(f"{self.name}: mlpx cannot import: {exc}") from exc
        self.cfg = cfg
        X, y, _ = make_data(cfg)
        cls = mlpx.MLPRegressor if cfg.task == "regress" else mlpx.MLPClassifier
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # ConvergenceWarning
            return cls(
                hidden_layer_sizes=cfg.hidden, activation="logistic", solver="sgd",
                batch_size=cfg.batch, learning_rate_init=LEARNING_RATE, max_iter=1,
                random_state=0).fit(X, y)

    def train(self, k):
        raise Skip(f"{self.name}: serves requests only")

    def infer(self):
        raise Skip(f"{self.name}: serves requests only")


class OnnxSystem(_ServingSystem):
    """onnxruntime on mlpx's own ONNX export (mlpx.export_onnx), one session
    with the worker's thread count for its intra-op pool."""

    name = "onnxruntime"

    def load(self):
        import onnxruntime  # noqa: F401
        super().load()

    def setup(self, cfg, threads):
        try:
            import onnxruntime as ort
            import mlpx
        except ImportError as exc:
            raise Skip(f"onnxruntime not installed (the onnx extra): {exc}") from exc
        est = self._fit_mlpx(cfg)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(mlpx.export_onnx(est).SerializeToString(), so,
                                         providers=["CPUExecutionProvider"])
        self.input = self.sess.get_inputs()[0].name
        self.ort = ort

    def latency_fns(self):
        sess, name = self.sess, self.input
        # a classifier's model has outputs label and probabilities; a regressor's one
        out = None if self.cfg.task == "regress" else ["probabilities"]
        return {"onnxruntime": lambda x: sess.run(out, {name: x})[0]}

    def info(self):
        ort = self.ort if hasattr(self, "ort") else __import__("onnxruntime")
        return {"onnxruntime": ort.__version__}


class NumpyForwardSystem(_ServingSystem):
    """The forward pass written as a NumPy user would: one matmul per layer
    (NumPy's BLAS), then the sigmoid, softmax on the last."""

    name = "numpy"

    def setup(self, cfg, threads):
        est = self._fit_mlpx(cfg)
        self.layers = list(zip(est.coefs_, est.intercepts_))

    def latency_fns(self):
        layers, binary = self.layers, self.cfg.n_classes == 2
        regress = self.cfg.task == "regress"

        def proba(x):
            z = x
            for W, b in layers[:-1]:
                z = 1 / (1 + np.exp(-(z @ W + b)))
            W, b = layers[-1]
            h = z @ W + b
            if regress:
                return h.ravel()
            if binary:
                p = 1 / (1 + np.exp(-h))
                return np.hstack([1 - p, p])
            h = np.exp(h - h.max(axis=1, keepdims=True))
            return h / h.sum(axis=1, keepdims=True)
        return {"numpy": proba}


def time_latency(system, rows, seconds=0.02):
    """{label: {rows: seconds per call}} for each of system.latency_fns():
    per row count, two warm-up calls (JAX compiles for the shape), one call
    to size the block, then a block of calls lasting about `seconds`."""
    fns = system.latency_fns()
    key, X = getattr(system, "_latency_X", (None, None))
    if key != system.cfg:
        X = make_data(system.cfg)[2]
        system._latency_X = (system.cfg, X)
    out = {}
    for label, f in fns.items():
        out[label] = {}
        for r in rows:
            x = np.ascontiguousarray(X[:r])
            f(x)
            f(x)
            t0 = time.perf_counter()
            f(x)
            one = time.perf_counter() - t0
            n = max(3, min(20000, int(seconds / max(one, 1e-7))))
            t0 = time.perf_counter()
            for _ in range(n):
                f(x)
            out[label][str(r)] = (time.perf_counter() - t0) / n
    return out


SYSTEMS = {
    "mlpx": MlpxSystem,
    "mlpx-numpy": MlpxNumpySystem,
    "sklearn": SklearnSystem,
    "torch": TorchSystem,
    "jax": JaxSystem,
    "bound": BoundSystem,
    "bound-mkl": MklBoundSystem,
    "onnxruntime": OnnxSystem,
    "numpy": NumpyForwardSystem,
}

# CPU kernel paths a report can run (--cpu-paths). "auto": the environment
# as it is, mlpx choosing its kernels. Any other name is given to mlpx as
# MLPX_CPU (its switch forcing a kernel path: x86-64-v3 = AVX2 + FMA,
# x86-64-v4 = AVX-512); names other than these are passed on as they are.
CPU_PATHS = ("auto", "x86-64-v3", "x86-64-v4")

# What the other libraries get on a path, so that every system of that path
# runs kernels of the same ISA: OpenBLAS (NumPy's, SciPy's, mlpx's, the
# bound's) by its core type, MKL (torch, bound-mkl) and oneDNN (torch) by
# their ISA caps, XLA by its own flag. Paths not listed here (auto,
# x86-64-v4) leave these variables as the environment has them.
PATH_ENV = {
    "x86-64-v3": {"OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                  "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
PATH_XLA_FLAGS = {"x86-64-v3": "--xla_cpu_max_isa=AVX2"}


def cpu_path_env(path, name, base=None):
    """Variables a worker of system `name` starts with on CPU path `path`, on
    top of `base` (the inherited environment; default os.environ)."""
    base = os.environ if base is None else base
    env = {}
    if path == "auto":
        return env
    if name.startswith("mlpx"):
        env["MLPX_CPU"] = path
    env.update(PATH_ENV.get(path, {}))
    if name == "jax" and path in PATH_XLA_FLAGS:
        env["XLA_FLAGS"] = (base.get("XLA_FLAGS", "") + " " + PATH_XLA_FLAGS[path]).strip()
    return env


# Environment each system's worker process starts with (read at import by
# the libraries concerned), on top of `base` (default os.environ).
def worker_env(name, threads, base=None):
    base = os.environ if base is None else base
    env = {}
    if name == "mlpx":
        env["MLPX_BACKEND"] = "native"
    elif name == "mlpx-numpy":
        env["MLPX_BACKEND"] = "numpy"
    if name == "bound-mkl":
        env["MKL_NUM_THREADS"] = str(threads)
    if name == "jax":
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        if threads == 1 < cores:   # XLA sizes its pool to the cores; it has no flag for 2 of 4
            flags = base.get("XLA_FLAGS", "")
            env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    return env
