"""The stochastic solvers' state between epochs (and partial_fit calls),
as scikit-learn's ``sklearn/neural_network/_stochastic_optimizers.py``; the
steps themselves run inside ``impl.train_epoch``."""

import numpy as np

from ._validation import c_aligned


class StochasticOptimizer:
    """Optimizer state that lives between epochs (and partial_fit calls).

    ``state`` is what ``impl.train_epoch`` updates in place, one array per
    parameter in the order coefs + intercepts: velocities for "sgd"; first
    moments then second moments for "adam". ``learning_rate`` is the current
    SGD step size (schedules change it between epochs); ``t`` counts Adam
    steps taken so far. Schedules and stopping follow scikit-learn's
    ``SGDOptimizer`` / ``AdamOptimizer`` exactly.
    """

    def __init__(self, solver, params, learning_rate_init, lr_schedule, power_t):
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule if solver == "sgd" else "constant"
        self.power_t = power_t
        self.t = 0
        copies = 1 if solver == "sgd" else 2
        self.state = [np.zeros_like(p) for _ in range(copies) for p in params]

    def astype(self, dtype):
        self.state = [c_aligned(s, dtype=dtype) for s in self.state]

    def iteration_ends(self, time_step):
        """invscaling: lr = lr0 / (time_step + 1) ** power_t (time_step = t_)."""
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

