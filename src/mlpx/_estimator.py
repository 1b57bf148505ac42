"""The estimators: scikit-learn's multilayer perceptrons, trained by mlpx's
epoch kernel. ``BaseMultilayerPerceptron`` holds the engine they share (as
scikit-learn's class of that name); ``MLPClassifier`` sits on top.

The algorithm is scikit-learn 1.9.1's estimators' step for step (see
DESIGN.md section 5): the same parameters and validation, the same
initialisation and random-number order (init, early-stopping split, one
shuffle per epoch), the same schedules, stopping rules, warnings and verbose
lines. What differs is who runs an epoch: one ``impl.train_epoch`` call
(native C, or its NumPy twin) does every minibatch of the epoch, forward,
backward and the optimizer step in place. Python only decides between
epochs. ``lbfgs`` hands ``impl.loss_and_grad`` to ``scipy.optimize.minimize``.

Departures from scikit-learn: the default hidden activation is
``"logistic"`` (scikit-learn: ``"relu"``); extra parameters whose defaults
keep scikit-learn's algorithm (``progress_bar``; issue 20's training
controls: ``class_weight``, ``scoring`` and ``fit(..., X_val, y_val,
sample_weight_val)``, ``learning_rate="cosine"``, ``n_warmup_iter``),
scikit-learn's callbacks (``set_callbacks``), and a ``save`` method.

Arrays passed to the backend are C-contiguous and of one float dtype: float32
input trains in float32 end to end, any other input in float64.
"""

import math
import warnings
import weakref
from itertools import chain
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, check_scoring, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._activations import ACTIVATIONS
from ._backend import impl
from ._callbacks import CallbackSupportMixin, FitTasks
from ._validation import c_aligned
from ._progress import EpochProgress
from ._reductions import one_thread_reductions
from ._stochastic_optimizers import StochasticOptimizer
from ._exceptions import DivergenceWarning, InconsistentVersionWarning
from ._version import __version__
from ._io import register, save as _save

try:  # scikit-learn's own switch: scipy >= 1.15 dropped L-BFGS-B's iprint
    from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
except ImportError:  # pragma: no cover - older or newer scikit-learn
    def _get_additional_lbfgs_options_dict(key, value):
        return {}

_STOCHASTIC_SOLVERS = ("sgd", "adam")


_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _plain_input(est, X):
    """True when ``validate_data(est, X, reset=False)`` for prediction would
    hand back X itself, warning about nothing, provided X is finite: a 2-D
    float64 or float32 ndarray (not a subclass) with at least one row, as
    many columns as at fit, and an estimator fitted without feature names.
    Such an X skips ``validate_data`` (its ~60-170 us are most of ``predict``
    on a few rows) and is checked for NaN and infinity by the forward pass
    itself, block by block as its GEMMs read it, instead of in a pass of its
    own. Any other input takes ``validate_data``, which raises or warns
    exactly as scikit-learn does."""
    return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
            and X.shape[0] > 0 and X.shape[1] == getattr(est, "n_features_in_", None)
            and not hasattr(est, "feature_names_in_"))


# Each fitted estimator's forward plan (impl.ForwardPlan): its layers checked
# once, not at every predict. Kept beside the estimator, not in it, so that
# predict leaves the estimator's __dict__ (and its pickle) unchanged.
_PLANS = weakref.WeakKeyDictionary()


def _forward_plan(est, dtype):
    """The forward plan for est's layers in dtype: the cached one while it
    was made of est's very coefs_ and intercepts_ arrays (their values may
    change in place: the plan reads them) and activations, else a new one;
    cached when the layers needed no copy to become dtype."""
    coefs, intercepts = est.coefs_, est.intercepts_
    plan = _PLANS.get(est)
    if (plan is not None and plan.dtype == dtype and plan.activation == est.activation
            and plan.out_activation == est.out_activation_ and plan.matches(coefs, intercepts)):
        return plan
    plan = impl.ForwardPlan([c_aligned(c, dtype) for c in coefs],
                            [c_aligned(b, dtype) for b in intercepts],
                            est.activation, est.out_activation_)
    if plan.matches(coefs, intercepts):
        _PLANS[est] = plan
    return plan


def _check_fitted(est):
    """check_is_fitted(est), which takes ~8 us, skipped when est holds coefs_."""
    if "coefs_" not in est.__dict__:
        check_is_fitted(est)


def _validate_predict(est, X):
    X = validate_data(
        est, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False,
    )
    return X.toarray() if hasattr(X, "toarray") else X


def _check_batch_weights(sample_weight, order, batch_size):
    """Raise if a minibatch (rows of `order` in runs of `batch_size`) has
    sample weights summing to 0: its loss and gradient are divided by that
    sum (scikit-learn raises ZeroDivisionError there)."""
    sums = np.add.reduceat(sample_weight[order], np.arange(0, len(order), batch_size))
    if not sums.all():
        start = int(np.flatnonzero(sums == 0)[0]) * batch_size
        stop = min(start + batch_size, len(order))
        raise ValueError(
            f"sample_weight: the minibatch of rows {start}..{stop - 1} of this epoch's "
            "order has weights summing to 0, so its gradient is undefined. Use a "
            f"larger batch_size (now {batch_size}) or drop the rows whose weight is 0."
        )


def _pack(coefs, intercepts):
    """All coefs then all intercepts, flattened into one vector."""
    return np.hstack([a.ravel() for a in list(coefs) + list(intercepts)])


def _binarize(binarizer, y):
    """``binarizer.transform(y).astype(bool)``, the one-of-K targets, by
    index for the plain case: 1-D y of numbers, strings or booleans whose
    labels are all among the fitted, sorted ``classes_`` (the callers have
    checked that). There, scikit-learn's transform spends ~1-2 ms per call
    (on 20,000 labels) re-deriving the target type, which every warm-start
    fit and every partial_fit pays. Anything else goes to the binarizer."""
    classes = binarizer.classes_
    plain = (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "biufU"
             and binarizer.y_type_ in ("binary", "multiclass")
             and len(classes) >= 2 and classes.dtype.kind == y.dtype.kind
             and not binarizer.sparse_output)
    if plain:
        idx = np.searchsorted(classes, y)
        np.minimum(idx, len(classes) - 1, out=idx)
        if np.array_equal(classes[idx], y):
            if len(classes) == 2:   # one column: the second class
                return (idx == 1).reshape(-1, 1)
            Y = np.zeros((y.shape[0], len(classes)), dtype=bool)
            Y[np.arange(y.shape[0]), idx] = True
            return Y
    return binarizer.transform(y).astype(bool)


class BaseMultilayerPerceptron(CallbackSupportMixin, BaseEstimator):
    """The engine shared by ``MLPClassifier`` and ``MLPRegressor`` (as
    scikit-learn's ``BaseMultilayerPerceptron``): parameters, ``fit``, the
    solvers (epochs of ``impl.train_epoch``; L-BFGS over
    ``impl.loss_and_grad``), early stopping, the forward pass, pickling and
    ``save``.

    A subclass provides ``_validate_input`` (X as a dense C-aligned float
    array, y as the targets the loss compares with: one column per output),
    ``_output_activation``, ``_stratify_by``, ``_validation_target``,
    ``_predict`` and ``_score`` (the early-stopping score).

    Do not instantiate it directly.
    """


    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "cosine"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "progress_bar": ["boolean"],
        "scoring": [str, callable, None],
        "n_warmup_iter": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="logistic",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        progress_bar=False,
        scoring=None,
        n_warmup_iter=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.progress_bar = progress_bar
        self.scoring = scoring
        self.n_warmup_iter = n_warmup_iter

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (sparse input is densified).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: class labels or a label-indicator matrix (classifier),
            values (regressor).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            A validation set of your own for early stopping (as in
            scikit-learn's ``HistGradientBoostingClassifier.fit``): needs
            ``early_stopping=True`` and a stochastic solver. No part of X is
            then held out (``validation_fraction`` is ignored) and
            ``validation_scores_`` are the ``scoring`` values on this set.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            The targets of ``X_val`` (labels among ``classes_`` for the classifier).
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation samples in the score.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                         X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def _fit(self, X, y, sample_weight=None, incremental=False, X_val=None, y_val=None,
             sample_weight_val=None):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if not all(isinstance(s, Integral) and not isinstance(s, (bool, np.bool_))
                   for s in hidden_layer_sizes):
            raise TypeError(
                "hidden_layer_sizes must hold integers (units per hidden layer), "
                "got %r." % (self.hidden_layer_sizes,)
            )
        hidden_layer_sizes = [int(s) for s in hidden_layer_sizes]
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError(
                "hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes
            )
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )

        X, y, labels = self._validate_input(X, y, incremental, reset=first_pass)
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X,
                                                 ensure_non_negative=True)
        # class_weight=w is sample_weight=compute_sample_weight(w, y) * sample_weight
        row_weight = self._class_sample_weight(labels, incremental)
        if row_weight is not None:
            sample_weight = row_weight if sample_weight is None else row_weight * sample_weight
        if sample_weight is not None:
            sample_weight = c_aligned(sample_weight, dtype=X.dtype)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        validation = None
        if X_val is not None or y_val is not None:
            validation = self._check_validation_set(X_val, y_val, sample_weight_val, X.dtype)
        layer_units = [n_features] + hidden_layer_sizes + [self.n_outputs_]

        # One RandomState per call, drawn in scikit-learn's order:
        # initial weights, early-stopping split, one shuffle per epoch.
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype, random_state)
        else:  # warm start / partial_fit: train in this call's dtype
            self.coefs_ = [c_aligned(c, dtype=X.dtype) for c in self.coefs_]
            self.intercepts_ = [
                c_aligned(b, dtype=X.dtype) for b in self.intercepts_
            ]

        # scikit-learn's callbacks: the fit is one task, each epoch (L-BFGS
        # iteration, plus the empty one after the last) a subtask
        stochastic = self.solver in _STOCHASTIC_SOLVERS
        tasks = FitTasks(self, "partial_fit" if incremental else "fit",
                         1 if incremental else self.max_iter + (0 if stochastic else 1),
                         X, labels, sample_weight)
        if stochastic:
            self._fit_stochastic(X, y, sample_weight, random_state, incremental, validation,
                                 tasks)
        else:
            self._fit_lbfgs(X, y, sample_weight, tasks)

        weights = chain(self.coefs_, self.intercepts_)
        if not all(np.isfinite(w).all() for w in weights):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
                + self._divergence_advice()
            )
        loss = getattr(self, "loss_", 0.0)
        if not np.isfinite(loss) and self.early_stopping and self.solver in _STOCHASTIC_SOLVERS:
            warnings.warn(
                f"Training diverged: the loss is {loss} after {self.n_iter_} "
                "iterations; the weights are those of the best validation score."
                + self._divergence_advice(),
                DivergenceWarning,
            )
        elif not np.isfinite(loss):
            raise ValueError(
                f"Training diverged: the loss is {self.loss_} after "
                f"{self.n_iter_} iterations." + self._divergence_advice()
            )
        tasks.finish()
        return self

    def _class_sample_weight(self, y, incremental):
        """Per-row weights from ``class_weight`` (the classifier's); None."""
        return None

    def _check_validation_set(self, X_val, y_val, sample_weight_val, dtype):
        """The user's validation set, checked as HistGradientBoosting's:
        (X_val as a dense C-aligned array of ``dtype``, y_val as ``_score``
        and the scorers compare it with predictions, sample_weight_val)."""
        if y_val is None:
            raise ValueError("X_val is provided, but y_val was not provided.")
        if X_val is None:
            raise ValueError("y_val is provided, but X_val was not provided.")
        if not self.early_stopping:
            raise ValueError(
                "X_val and y_val are passed to fit while at the same time "
                "early_stopping is False. When passing X_val and y_val to fit, "
                "early_stopping should be set to True."
            )
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError(
                "X_val and y_val serve early stopping, which only the stochastic "
                f"solvers ('sgd', 'adam') do; this estimator has solver={self.solver!r}."
            )
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"],
                              dtype=(np.float64, np.float32), reset=False)
        if hasattr(X_val, "toarray"):
            X_val = X_val.toarray()
        y_val = self._check_y_val(y_val)
        check_consistent_length(X_val, y_val)
        if X_val.shape[0] < 1:
            raise ValueError("The validation set X_val is empty.")
        if sample_weight_val is not None:
            sample_weight_val = _check_sample_weight(sample_weight_val, X_val,
                                                     ensure_non_negative=True)
        return c_aligned(X_val, dtype=dtype), y_val, sample_weight_val

    def _validation_score(self, X, y, sample_weight, scorer):
        """The early-stopping score: ``_score`` (accuracy, R²) or ``scorer``
        (from ``scoring``); NaN where the network's output is not finite."""
        if scorer is None:
            return self._score(X, y, sample_weight=sample_weight)
        if not all(np.isfinite(w).all() for w in chain(self.coefs_, self.intercepts_)):
            return np.nan
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        with warnings.catch_warnings():
            # the hold-out cut from a DataFrame is an array
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            try:
                return float(scorer(self, X, y, **kwargs))
            except ValueError as exc:
                if "output is not finite" in str(exc):
                    return np.nan
                raise

    def _divergence_advice(self):
        return (
            " Scale X (e.g. sklearn.preprocessing.StandardScaler)"
            + (f" or lower learning_rate_init (now {self.learning_rate_init!r})"
               if self.solver in _STOCHASTIC_SOLVERS else "")
            + "."
        )

    def _initialize(self, y, layer_units, dtype, random_state):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()

        # Glorot uniform: W then b per layer, drawn in float64, then cast.
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_ = []
        self.intercepts_ = []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(coef.astype(dtype, copy=False))
            self.intercepts_.append(intercept.astype(dtype, copy=False))

        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]

        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit_lbfgs(self, X, y, sample_weight, tasks):
        dtype = X.dtype
        Y = c_aligned(y, dtype=dtype)
        shapes = [c.shape for c in self.coefs_]
        sizes = [c.shape[1] for c in self.coefs_]

        def unpack(packed):
            packed = np.asarray(packed, dtype=dtype)
            coefs, intercepts, start = [], [], 0
            for shape in shapes:
                end = start + shape[0] * shape[1]
                coefs.append(packed[start:end].reshape(shape))
                start = end
            for size in sizes:
                intercepts.append(packed[start:start + size])
                start += size
            return coefs, intercepts

        def loss_grad(packed):
            coefs, intercepts = unpack(packed)
            # scikit-learn's loss value (identity outputs: the squared error
            # averaged over outputs) with the gradient of the sum, as its L-BFGS
            loss, coef_grads, intercept_grads = impl.loss_and_grad(
                coefs, intercepts, X, Y, self.activation, self.out_activation_,
                float(self.alpha), sample_weight, mean_outputs=True,
            )
            return loss, _pack(coef_grads, intercept_grads).astype(np.float64)

        # scikit-learn's callbacks: one task per L-BFGS iteration, as
        # LogisticRegression's (scipy calls `on_iteration` after each); the
        # task begun after the last iteration never runs and ends empty
        n_done = 0
        stopped = False

        def attributes(packed):
            packed = np.array(packed, dtype=np.float64)  # scipy reuses its x
            iteration = n_done

            def fitted():
                coefs, intercepts = unpack(packed)
                return {"coefs_": [np.array(c) for c in coefs],
                        "intercepts_": [np.array(b) for b in intercepts],
                        "n_iter_": iteration}
            return fitted

        task = tasks.begin("lbfgs-iter", attributes(_pack(self.coefs_, self.intercepts_)))

        def on_iteration(xk):
            nonlocal n_done, task, stopped
            n_done += 1
            if tasks.end(task, attributes(xk)):
                task, stopped = None, True
                raise StopIteration  # ends minimize at xk (scipy >= 1.11)
            task = tasks.begin("lbfgs-iter", attributes(xk))

        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        with one_thread_reductions():  # its dot products' bits: see _reductions
            opt_res = scipy.optimize.minimize(
                loss_grad,
                _pack(self.coefs_, self.intercepts_),
                method="L-BFGS-B",
                jac=True,
                options={
                    "maxfun": self.max_fun,
                    "maxiter": self.max_iter,
                    "gtol": self.tol,
                    **_get_additional_lbfgs_options_dict("iprint", iprint),
                },
                callback=on_iteration if tasks.per_task else None,
            )
        tasks.end(task)
        if stopped:  # a callback's request: not a failure to converge
            self.n_iter_ = int(opt_res.nit)
        else:
            self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        self.loss_ = opt_res.fun
        coefs, intercepts = unpack(opt_res.x)
        self.coefs_ = [np.array(c, dtype=dtype) for c in coefs]
        self.intercepts_ = [np.array(b, dtype=dtype) for b in intercepts]

    def _fit_state(self):
        """The fitted attributes now, copied (a callback's ``fitted_estimator``
        is a copy of the estimator with these)."""
        state = {"coefs_": [c.copy() for c in self.coefs_],
                 "intercepts_": [b.copy() for b in self.intercepts_]}
        for name in ("n_iter_", "t_", "loss_", "best_loss_", "best_validation_score_"):
            if hasattr(self, name):
                state[name] = getattr(self, name)
        for name in ("loss_curve_", "validation_scores_"):
            if getattr(self, name, None) is not None:
                state[name] = list(getattr(self, name))
        return state

    def _fit_stochastic(self, X, y, sample_weight, random_state, incremental, validation,
                        tasks):
        dtype = X.dtype
        params = self.coefs_ + self.intercepts_
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = StochasticOptimizer(
                self.solver, params, self.learning_rate_init,
                self.learning_rate, self.power_t, self.max_iter, self.n_warmup_iter,
            )
        else:
            self._optimizer.astype(dtype)
        optimizer = self._optimizer

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping and validation is not None:  # the user's: no split
            X_train, y_train, sample_weight_train = X, y, sample_weight
            X_val, y_val, sample_weight_val = validation
        elif early_stopping:
            stratify = self._stratify_by(y)
            if sample_weight is None:
                X_train, X_val, y_train, y_val = train_test_split(
                    X, y, random_state=random_state,
                    test_size=self.validation_fraction, stratify=stratify,
                )
                sample_weight_train = sample_weight_val = None
            else:
                (X_train, X_val, y_train, y_val,
                 sample_weight_train, sample_weight_val) = train_test_split(
                    X, y, sample_weight, random_state=random_state,
                    test_size=self.validation_fraction, stratify=stratify,
                )
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            y_val = self._validation_target(y_val)
            X_val = np.ascontiguousarray(X_val)
            tasks.use_data(X_train, lambda: self._validation_target(y_train),
                           sample_weight_train)
        else:
            X_train, y_train, sample_weight_train = X, y, sample_weight
            X_val = y_val = sample_weight_val = None
        scorer = (check_scoring(self, self.scoring)
                  if early_stopping and self.scoring is not None else None)

        X_train = np.ascontiguousarray(X_train)
        Y_train = c_aligned(y_train, dtype=dtype)  # a user's y may be unaligned
        if sample_weight_train is not None:
            sample_weight_train = np.ascontiguousarray(sample_weight_train)

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=np.int64)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped"
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        n_batches = math.ceil(n_samples / batch_size)
        zero_weight_rows = (sample_weight_train is not None
                            and not sample_weight_train.all())

        bar = EpochProgress(bool(self.progress_bar) and not incremental,
                            total=self.max_iter, desc=type(self).__name__)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                # scikit-learn's callbacks: one task per epoch
                task = tasks.begin("epoch", self._fit_state)
                if self.shuffle:
                    # scikit-learn: sample_idx = shuffle(sample_idx, random_state)
                    # which is sample_idx[perm] with perm = arange(n) shuffled by
                    # the same draws; Fisher-Yates draws do not depend on the
                    # contents, so shuffling in place gives the same order
                    # (the orders compound across epochs) without the ~1 ms
                    # of validation per epoch.
                    random_state.shuffle(sample_idx)
                if zero_weight_rows:
                    _check_batch_weights(sample_weight_train, sample_idx, batch_size)
                self.loss_ = impl.train_epoch(
                    self.coefs_, self.intercepts_, X_train, Y_train,
                    sample_weight_train,
                    sample_idx if self.shuffle else None,
                    batch_size, self.activation, self.out_activation_,
                    float(self.alpha), self.solver, optimizer.state,
                    optimizer.epoch_learning_rate(), float(self.momentum),
                    bool(self.nesterovs_momentum), float(self.beta_1),
                    float(self.beta_2), float(self.epsilon), optimizer.t,
                    mean_outputs=True,  # loss_curve_ in scikit-learn's convention
                )
                if self.solver == "adam":
                    optimizer.t += n_batches

                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                if not np.isfinite(self.loss_):
                    # diverged: _fit raises, unless early stopping restores
                    # the best (finite) weights; the hold-out's score of the
                    # diverged weights (NaN) is recorded, as scikit-learn
                    if early_stopping:
                        self._update_no_improvement_count(
                            early_stopping, X_val, y_val, sample_weight_val, scorer
                        )
                    tasks.end(task, self._fit_state)
                    break

                self._update_no_improvement_count(
                    early_stopping, X_val, y_val, sample_weight_val, scorer
                )
                bar.update(self.loss_,
                           self.validation_scores_[-1] if early_stopping else None)
                optimizer.iteration_ends(self.t_)

                if tasks.end(task, self._fit_state):
                    if self.verbose:
                        print("A callback asked to stop. Stopping.")
                    break

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            "tol=%f for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f"
                            " for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    if optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break

                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet."
                        % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        finally:
            bar.close()

        # Blown up but still finite (the loss of a classifier is bounded but
        # for the penalty, so a 10x rise means the weights exploded).
        first_loss = self.loss_curve_[0] if self.loss_curve_ else np.inf
        last_loss = getattr(self, "loss_", np.nan)
        if np.isfinite(last_loss) and last_loss > 10 * max(first_loss, 1.0):
            warnings.warn(
                f"Training diverged: the loss rose from {first_loss:.6g} (first "
                f"iteration) to {last_loss:.6g} (iteration {len(self.loss_curve_)})."
                + self._divergence_advice(),
                DivergenceWarning,
            )

        if early_stopping:  # restore the best weights
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight,
                                     scorer=None):
        if early_stopping:
            val_score = self._validation_score(X, y, sample_weight, scorer)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [b.copy() for b in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # -------------------------------------------------------------- predict

    def _forward(self, X, check_input=True):
        """Output-layer activations for X (float32 only if X and model are)."""
        plain = check_input and _plain_input(self, X)
        X_in = X
        if check_input and not plain:
            X = _validate_predict(self, X)
        dtype = np.float32 if (X.dtype == np.float32 and self.coefs_[0].dtype == np.float32) \
            else np.float64
        X = c_aligned(X, dtype)
        check_x = plain and not get_config()["assume_finite"]
        try:
            return _forward_plan(self, dtype)(X, check_finite=check_x, check_output=check_input)
        except ValueError:
            if check_x:
                _validate_predict(self, X_in)  # X is not finite: scikit-learn's error
            raise
        except FloatingPointError:
            # the same forward pass, unchecked, to count the rows that overflowed
            out = _forward_plan(self, dtype)(X)
            bad = int((~np.isfinite(out)).any(axis=1).sum())
            largest = max(float(np.abs(c).max()) for c in self.coefs_)
            raise ValueError(
                f"The network's output is not finite for {bad} of {X.shape[0]} "
                f"samples: activations overflowed {np.dtype(dtype).name}. Either the "
                f"weights are too large (largest |coef| = {largest:.3g}; training "
                "diverged: refit with a lower learning_rate_init or scaled X) or "
                "X is far outside the range of the training data (transform it "
                "as the training data was)."
            ) from None

    def __getstate__(self):
        return dict(super().__getstate__(), _mlpx_version=__version__)

    def __setstate__(self, state):
        state = dict(state)
        pickled = state.pop("_mlpx_version", "unknown")
        if pickled != __version__:
            warnings.warn(
                InconsistentVersionWarning(type(self).__name__, pickled, __version__)
            )
        super().__setstate__(state)

    def save(self, path):
        """Write the fitted model to ``path`` as one ``.npz`` file (no pickle);
        read it back with ``mlpx.load``. See ``mlpx._io.save``.

        Parameters
        ----------
        path : str, path-like or binary file object
        """
        _save(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


@register
class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    """Multi-layer perceptron classifier, trained by mlpx's native epoch loop.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` (same
    parameters, attributes and results: trajectories agree with scikit-learn
    1.9.1 to rounding in float64), except that ``activation`` defaults to
    ``"logistic"``, the library's model (scikit-learn: ``"relu"``).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Number of neurons in each hidden layer.
    activation : {"logistic", "tanh", "relu", "identity"}, default="logistic"
        Hidden-layer activation.
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Weight optimizer.
    alpha : float, default=1e-4
        L2 penalty strength; the penalty is divided by the (weighted) batch size.
    batch_size : int or "auto", default="auto"
        Minibatch size for "sgd"/"adam"; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive", "cosine"}, default="constant"
        Schedule: "invscaling" sets ``lr = learning_rate_init /
        (t_ + 1) ** power_t`` after each epoch; "adaptive" divides it by 5 each
        time ``n_iter_no_change`` epochs fail to improve by ``tol`` (these
        two: "sgd" only, as in scikit-learn). "cosine" (mlpx's; "sgd" and
        "adam"): epoch ``e`` (from 0) steps with ``learning_rate_init * (1 +
        cos(pi * e / max_iter)) / 2``, from ``learning_rate_init`` down to 0
        over ``max_iter`` epochs (after any warm-up: see ``n_warmup_iter``).
        Epochs count from the start of each ``fit`` (a warm-start fit, with
        its fresh optimizer, starts the schedule again); ``partial_fit``
        calls continue it, one epoch each.
    learning_rate_init : float, default=1e-3
        Initial step size ("sgd", "adam").
    power_t : float, default=0.5
        Exponent of "invscaling".
    max_iter : int, default=200
        Maximum epochs ("sgd", "adam") or iterations ("lbfgs").
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the early-stopping split and the shuffles.
    tol : float, default=1e-4
        Improvement threshold for stopping (and L-BFGS's ``gtol``).
    verbose : bool, default=False
        Print one line per epoch.
    warm_start : bool, default=False
        Start ``fit`` from the previous solution (with a fresh optimizer).
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for binary
        targets), stop when its accuracy stops improving, keep the best weights.
    validation_fraction : float, default=0.1
        Size of the early-stopping hold-out.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's denominator offset.
    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations ("lbfgs").
    progress_bar : bool, default=False
        Show a tqdm bar over the epochs of ``fit`` ("sgd", "adam"), with the
        loss and validation score (tqdm, a dependency of mlpx). Not part
        of scikit-learn's estimator. scikit-learn's own
        ``sklearn.callback.ProgressBar`` works too (``set_callbacks``).
    scoring : str, callable or None, default=None
        The early-stopping score (``validation_scores_``), as in
        scikit-learn's ``HistGradientBoostingClassifier``: a scorer name
        (e.g. "balanced_accuracy", "f1_macro", "neg_log_loss") or a callable
        ``scorer(estimator, X, y)``; None: accuracy. Higher is better. Used
        only with ``early_stopping=True``, on the hold-out or on the
        ``X_val``, ``y_val`` given to ``fit``.
    n_warmup_iter : int, default=0
        Linear warm-up ("sgd", "adam"), for every ``learning_rate``: epoch
        ``e < n_warmup_iter`` (from 0) steps with the schedule's rate times
        ``(e + 1) / (n_warmup_iter + 1)``. With "cosine" the decay then runs
        over the remaining ``max_iter - n_warmup_iter`` epochs.
    class_weight : dict, list of dict, "balanced" or None, default=None
        Class weights, scikit-learn's meaning: a fit with ``class_weight=w``
        is the fit with ``sample_weight=compute_sample_weight(w, y)`` (times
        any ``sample_weight`` given), bit for bit, including the early-
        stopping hold-out's weights (a user's ``X_val`` is weighted by
        ``sample_weight_val`` only). "balanced": ``n_samples / (n_classes *
        np.bincount(y))``. Multilabel targets take a list of dicts (one per
        label) or "balanced". ``partial_fit`` weighs each batch by the dict
        and refuses "balanced" (as ``SGDClassifier``: pass
        ``dict(zip(classes, compute_class_weight("balanced", classes=classes,
        y=y)))`` instead).

    Callbacks: ``set_callbacks`` takes scikit-learn's callbacks
    (``sklearn.callback``, scikit-learn >= 1.9: ``ProgressBar``,
    ``ScoringMonitor`` or your own ``FitCallback``). A fit is one task with
    one subtask per epoch (per iteration for "lbfgs"; ``partial_fit``: one),
    whose hooks get the training ``X``, the labels ``y``, the training
    weights as ``metadata`` and a ``fitted_estimator`` that predicts with the
    weights of that point. ``on_fit_task_end`` returning True stops training
    after that epoch, as a converged fit (early stopping still restores its
    best weights). Without ``sklearn.callback``, ``set_callbacks`` raises
    ImportError.

    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_,
    best_validation_score_, t_, coefs_, intercepts_, n_features_in_,
    feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn. ``coefs_[i]`` has shape ``(n_i, n_{i+1})``. As in
        scikit-learn, ``loss_curve_`` and ``best_loss_`` exist only for the
        stochastic solvers.
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, list, None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="logistic",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        progress_bar=False,
        scoring=None,
        n_warmup_iter=0,
        class_weight=None,
    ):
        self.class_weight = class_weight
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, progress_bar=progress_bar, scoring=scoring,
            n_warmup_iter=n_warmup_iter,
        )

    # ------------------------------------------------------------------ fit

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of the whole data set; required on the first call.

        Returns
        -------
        self : MLPClassifier
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        # One class (as scikit-learn): one logistic output trained towards 0,
        # and every prediction is that class.
        labels, y = y, _binarize(self._label_binarizer, y)
        if hasattr(X, "toarray"):  # the kernels are dense
            X = X.toarray()
        return c_aligned(X), y, labels

    def _class_sample_weight(self, y, incremental):
        """``compute_sample_weight(class_weight, y)`` (None without class
        weights). partial_fit weighs by the classes of ``classes_`` (a batch
        may miss some) and refuses "balanced", as SGDClassifier."""
        class_weight = self.class_weight
        if class_weight is None:
            return None
        if not incremental:
            return compute_sample_weight(class_weight, y)
        if isinstance(class_weight, str) and class_weight == "balanced":
            raise ValueError(
                "class_weight '{0}' is not supported for "
                "partial_fit. In order to use 'balanced' weights,"
                " use compute_class_weight('{0}', "
                "classes=classes, y=y). "
                "In place of y you can use a large enough sample "
                "of the full training set target to properly "
                "estimate the class frequency distributions. "
                "Pass the resulting weights as the class_weight "
                "parameter.".format(class_weight)
            )
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return compute_sample_weight(class_weight, y)
        weights = compute_class_weight(class_weight, classes=self.classes_, y=y)
        return weights[np.searchsorted(self.classes_, y)]

    def _check_y_val(self, y_val):
        """The user's validation labels, all among ``classes_``."""
        y_val = np.asarray(y_val) if not hasattr(y_val, "toarray") else y_val.toarray()
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            if y_val.ndim != 2 or y_val.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y_val must be a label-indicator matrix with {len(self.classes_)} "
                    f"columns, as y; got shape {y_val.shape}."
                )
            return y_val
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(
                f"y_val has labels not in y: {unknown.tolist()} (classes_ is "
                f"{self.classes_.tolist()})."
            )
        return y_val

    def _output_activation(self):
        """softmax for multiclass; logistic for binary (one column) and multilabel."""
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _stratify_by(self, y):
        """Early stopping's split is stratified for binary targets (one
        output column) only, as scikit-learn."""
        return y if self.n_outputs_ == 1 else None

    def _validation_target(self, y_val):
        """The hold-out's labels, as ``_score`` compares them with predictions."""
        return self._label_binarizer.inverse_transform(y_val)

    # -------------------------------------------------------------- predict

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        kind = self._label_binarizer.y_type_
        # LabelBinarizer.inverse_transform's own rules (threshold 0.5, first
        # argmax), without its checks of an array made here
        if kind == "binary" and len(self.classes_) == 2:    # (one class: the binarizer's rule)
            return self.classes_[(y_pred.ravel() > 0.5).astype(np.intp)]
        if kind == "multiclass":
            return self.classes_.take(y_pred.argmax(axis=1), mode="clip")
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        """Accuracy without input validation (early stopping)."""
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict class labels (label-indicator matrix for multilabel).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        _check_fitted(self)
        return self._predict(X)

    def predict_proba(self, X):
        """Probability of each class, columns ordered as ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
        """
        _check_fitted(self)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:            # binary: P(classes_[0]), P(classes_[1])
            return np.concatenate([1 - y_pred, y_pred], axis=1)
        return y_pred

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


@register
class MLPRegressor(RegressorMixin, BaseMultilayerPerceptron):
    """Multi-layer perceptron regressor, trained by mlpx's native epoch loop.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor` (same
    parameters, attributes and results: trajectories agree with scikit-learn
    1.9.1 to rounding in float64), except that ``activation`` defaults to
    ``"logistic"``, the library's model (scikit-learn: ``"relu"``).

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        "squared_error": identity outputs, half the squared error (averaged
        over outputs in ``loss_curve_``, as scikit-learn). "poisson": exp
        outputs, half the Poisson deviance; y must be >= 0.
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, \
warm_start, momentum, nesterovs_momentum, early_stopping, \
validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun, \
progress_bar, n_warmup_iter
        As in :class:`MLPClassifier` (callbacks too); early stopping scores
        the hold-out (not stratified) by R².
    scoring : str, callable or None, default=None
        The early-stopping score, as in :class:`MLPClassifier`; None: R²
        (e.g. "neg_mean_squared_error", "neg_mean_poisson_deviance").

    Attributes
    ----------
    loss_, best_loss_, loss_curve_, validation_scores_,
    best_validation_score_, t_, coefs_, intercepts_, n_features_in_,
    feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn (``validation_scores_``: R² on the hold-out).
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="logistic",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        progress_bar=False,
        scoring=None,
        n_warmup_iter=0,
    ):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, progress_bar=progress_bar, scoring=scoring,
            n_warmup_iter=n_warmup_iter,
        )

    # ------------------------------------------------------------------ fit

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (np.asarray(y) < 0).any():
            raise ValueError(
                "loss='poisson' needs y >= 0 (counts or rates); the smallest "
                f"value of y is {np.min(y)!r}"
            )
        if hasattr(X, "toarray"):  # the kernels are dense
            X = X.toarray()
        return c_aligned(X), y, y

    def _check_y_val(self, y_val):
        """The user's validation targets, as many outputs as y."""
        y_val = check_array(y_val, ensure_2d=False, dtype="numeric", input_name="y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        if (1 if y_val.ndim == 1 else y_val.shape[1]) != self.n_outputs_:
            raise ValueError(
                f"y_val has {1 if y_val.ndim == 1 else y_val.shape[1]} outputs, "
                f"y has {self.n_outputs_}."
            )
        return y_val

    def _output_activation(self):
        """identity for squared_error, exp for poisson."""
        return "exp" if self.loss == "poisson" else "identity"

    def _stratify_by(self, y):
        return None

    def _validation_target(self, y_val):
        return y_val

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = self.loss == "poisson"
        # exp outputs on targets of up to ~760 (the estimator checks' data)
        # reach no R² > 0.5 in 100 epochs; neither does scikit-learn's
        # MLPRegressor(loss="poisson") there (R² -8.4)
        tags.regressor_tags.poor_score = self.loss == "poisson"
        return tags

    # -------------------------------------------------------------- predict

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        """R² without input validation (early stopping)."""
        y_pred = self._predict(X, check_input=False)
        if not np.isfinite(y_pred).all():
            return np.nan
        return r2_score(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict with the multi-layer perceptron.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        _check_fitted(self)
        return self._predict(X)
