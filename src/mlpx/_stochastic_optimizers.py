"""The stochastic solvers' state between epochs (and partial_fit calls),
as scikit-learn's ``sklearn/neural_network/_stochastic_optimizers.py``; the
steps themselves run inside ``impl.train_epoch``."""

import math

import numpy as np

from ._validation import c_aligned


class StochasticOptimizer:
    """Optimizer state that lives between epochs (and partial_fit calls).

    ``state`` is what ``impl.train_epoch`` updates in place, one array per
    parameter in the order coefs + intercepts: velocities for "sgd"; first
    moments then second moments for "adam". ``learning_rate`` is the current
    SGD step size of scikit-learn's schedules (they change it between
    epochs); ``t`` counts Adam steps taken so far. Schedules and stopping
    follow scikit-learn's ``SGDOptimizer`` / ``AdamOptimizer`` exactly.

    Two schedules go past scikit-learn, for "sgd" and "adam" alike:
    ``"cosine"`` and the warm-up of ``n_warmup_iter`` epochs.
    ``epoch_learning_rate()`` gives the step size that the next epoch
    (number ``epoch``, counted from 0 over this optimizer's life) hands to
    the native loop; with ``n_warmup_iter=0`` and any of scikit-learn's
    schedules it is ``learning_rate`` itself.
    """

    def __init__(self, solver, params, learning_rate_init, lr_schedule, power_t,
                 max_iter=200, n_warmup_iter=0):
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        # scikit-learn's schedules are SGD's only (Adam ignores them); cosine
        # is mlpx's and serves both
        self.lr_schedule = (lr_schedule if solver == "sgd" or lr_schedule == "cosine"
                            else "constant")
        self.power_t = power_t
        self.max_iter = int(max_iter)
        self.n_warmup_iter = int(n_warmup_iter)
        self.epoch = 0
        self.t = 0
        copies = 1 if solver == "sgd" else 2
        self.state = [np.zeros_like(p) for _ in range(copies) for p in params]

    def astype(self, dtype):
        self.state = [c_aligned(s, dtype=dtype) for s in self.state]

    def epoch_learning_rate(self):
        """The step size of epoch ``e = self.epoch`` (``W = n_warmup_iter``,
        ``T = max_iter``, ``lr0 = learning_rate_init``):

        - warm-up, ``e < W``: the schedule's rate times ``(e + 1) / (W + 1)``
          (a linear ramp that reaches the full rate at epoch ``W``);
        - "cosine": ``lr0 * (1 + cos(pi * p)) / 2`` with
          ``p = min(e - W, T - W) / (T - W)`` after the warm-up (``lr0`` at
          epoch ``W``, 0 from epoch ``T`` on; ``lr0 * (e + 1) / (W + 1)``
          during it);
        - "constant", "invscaling", "adaptive": ``learning_rate`` (which
          scikit-learn's rules set between epochs).
        """
        e, warmup = getattr(self, "epoch", 0), getattr(self, "n_warmup_iter", 0)
        if self.lr_schedule == "cosine":
            if e < warmup:
                return float(self.learning_rate_init) * (e + 1) / (warmup + 1)
            span = max(self.max_iter - warmup, 1)
            progress = min(e - warmup, span) / span
            return float(self.learning_rate_init) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if e < warmup:
            return self.learning_rate * (e + 1) / (warmup + 1)
        return self.learning_rate

    def iteration_ends(self, time_step):
        """invscaling: lr = lr0 / (time_step + 1) ** power_t (time_step = t_)."""
        self.epoch = getattr(self, "epoch", 0) + 1
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        """True to stop; "adaptive" divides the learning rate by 5 instead,
        until it is at most 1e-6."""
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False
