"""The NumPy backend: the readable specification of every native kernel.

Same functions, same signatures and same results as the compiled ``mlpx._core``
(see ``_core.pyi`` for the contract both follow). Arrays reaching this module
were validated by ``mlpx._validation``: C-contiguous, one float dtype
(float32 or float64), finite, shapes that chain. Nothing here modifies an
input array except the parameters and optimizer state that ``train_epoch``
updates in place, by contract.

The arithmetic follows scikit-learn's ``MLPClassifier`` operation by
operation (so that trajectories agree to rounding): the hidden activation is
applied in place after ``Z @ W + b``; the loss clips probabilities to
``[eps, 1 - eps]``; gradients are ``(Z.T @ D + alpha * W) / s``.
"""

import numpy as np
from scipy.special import expit, xlogy

from ._activations import ACTIVATIONS, OUT_ACTIVATIONS  # noqa: F401  (the backend contract)

SOLVERS = ("sgd", "adam")


def _activate(H, name):
    """Apply activation ``name`` to ``H`` in place: f(H)."""
    if name == "logistic":
        expit(H, out=H)
    elif name == "tanh":
        np.tanh(H, out=H)
    elif name == "relu":
        np.maximum(H, 0, out=H)
    elif name == "exp":
        np.exp(H, out=H)
    elif name == "softmax":
        mx = H.max(axis=1)
        overflowed = np.isinf(mx)  # (a NaN row stays NaN)
        if overflowed.any():  # logits at +-inf: softmax's limit, not NaN
            rows = H[overflowed]
            top = rows == mx[overflowed][:, None]
            H[overflowed] = np.where(top, 0, -np.inf)
        H -= H.max(axis=1)[:, None]
        np.exp(H, out=H)
        H /= H.sum(axis=1)[:, None]
    # identity: nothing


def _derivative(Z, D, name):
    """D *= f'(H), with f' written from the activation's output Z."""
    if name == "logistic":
        D *= Z
        D *= 1 - Z
    elif name == "tanh":
        D *= 1 - Z**2
    elif name == "relu":
        D[Z == 0] = 0


def _forward_all(coefs, intercepts, X, activation, out_activation):
    """Return [Z_0 = X, Z_1, ..., Z_K]: every layer's output."""
    Z = [X]
    last = len(coefs) - 1
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        H = Z[-1] @ W
        H += b
        _activate(H, out_activation if i == last else activation)
        Z.append(H)
    return Z


def _loss(P, Y, out_activation, sample_weight, mean_outputs=False):
    """Data term of the loss (no penalty), averaged over samples.

    logistic: -sum_j mean_n [y log p + (1 - y) log(1 - p)]  (p clipped to [eps, 1-eps])
    softmax:  -sum_j mean_n  y log p                        (p clipped to [eps, 1-eps])
    identity: 0.5 * sum_j mean_n (y - p)^2
              (mean_outputs: mean_j instead of sum_j, scikit-learn's squared_loss)
    exp:      sum_j mean_n [y log(y / p) - y + p]            (half Poisson deviance,
              scikit-learn's poisson_loss)
    Means are weighted by ``sample_weight`` when given.
    """
    if out_activation == "identity":
        per_output = 0.5 * np.average((Y - P) ** 2, weights=sample_weight, axis=0)
        return float(per_output.mean() if mean_outputs else per_output.sum())
    if out_activation == "exp":  # in float64, as the engine: its terms cancel
        Y, P = Y.astype(np.float64, copy=False), P.astype(np.float64, copy=False)
        return float(np.average(xlogy(Y, Y / P) - Y + P, weights=sample_weight,
                                axis=0).sum())
    eps = np.finfo(P.dtype).eps
    P = np.clip(P, eps, 1 - eps)
    if out_activation == "logistic":
        terms = xlogy(Y, P) + xlogy(1 - Y, 1 - P)
    else:
        terms = xlogy(Y, P)
    return float(-np.average(terms, weights=sample_weight, axis=0).sum())


def forward(coefs, intercepts, X, activation, out_activation, check_finite=False,
            check_output=False):
    """Output of the last layer: P = f_K(... f(X @ W_0 + b_0) ... @ W_K + b_K).

    check_finite: ValueError if X holds a NaN or an infinity. check_output:
    FloatingPointError if an output is not finite (the activations overflowed)."""
    if check_finite and not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
    P = _forward_all(coefs, intercepts, X, activation, out_activation)[-1]
    if check_output and not np.isfinite(P).all():
        raise FloatingPointError("the network's output is not finite")
    return P


def all_finite(a):
    """True when no value of the array `a` is NaN or infinite."""
    return bool(np.isfinite(a).all())


class ForwardPlan:
    """A network checked once for many forward passes (prediction):
    ``ForwardPlan(coefs, intercepts, activation, out_activation)(X, ...)``
    equals ``forward(coefs, intercepts, X, activation, out_activation, ...)``.
    It holds the arrays themselves (changes to their values are seen);
    ``matches`` tells whether it was made of exactly these array objects."""

    def __init__(self, coefs, intercepts, activation, out_activation):
        if not coefs or len(coefs) != len(intercepts):
            raise ValueError("coefs must hold at least one array, and intercepts as many")
        self.coefs, self.intercepts = tuple(coefs), tuple(intercepts)
        self.dtype = np.dtype(coefs[0].dtype)
        self.activation, self.out_activation = activation, out_activation

    def matches(self, coefs, intercepts):
        """True when coefs and intercepts are the plan's own array objects."""
        return (len(coefs) == len(self.coefs) and len(intercepts) == len(self.intercepts)
                and all(a is b for a, b in zip(coefs, self.coefs))
                and all(a is b for a, b in zip(intercepts, self.intercepts)))

    def __call__(self, X, check_finite=False, check_output=False):
        if X.dtype != self.dtype:
            raise TypeError(f"X has dtype {X.dtype}, expected {self.dtype} (the dtype of the coefs)")
        return forward(self.coefs, self.intercepts, X, self.activation, self.out_activation,
                       check_finite, check_output)


def loss_and_grad(coefs, intercepts, X, Y, activation, out_activation, alpha, sample_weight,
                  mean_outputs=False):
    """Loss and its gradient with respect to every coef and intercept.

    loss = L(P, Y) + 0.5 * alpha * sum_i ||W_i||^2 / s
    (mean_outputs: identity outputs' L averaged over outputs, not summed:
    scikit-learn's value; the gradient is that of the sum either way)
    D_K  = (P - Y) * sample_weight[:, None]
    dW_i = (Z_i^T D_i + alpha * W_i) / s,   db_i = sum_n D_i / s
    D_{i-1} = (D_i @ W_i^T) * f'(Z_i)
    where s = number of rows, or sum(sample_weight).
    """
    Z = _forward_all(coefs, intercepts, X, activation, out_activation)
    loss = _loss(Z[-1], Y, out_activation, sample_weight, mean_outputs)
    s = X.shape[0] if sample_weight is None else sample_weight.sum()
    if alpha != 0:  # as the engine: at alpha = 0 no penalty term (0 * an
        penalty = 0  # overflowed ||W||^2 = inf would make the loss NaN)
        for W in coefs:
            w = W.ravel()
            penalty += np.dot(w, w)
        loss += float((0.5 * alpha) * penalty / s)

    coef_grads = [None] * len(coefs)
    intercept_grads = [None] * len(coefs)
    D = Z[-1] - Y
    if sample_weight is not None:
        D *= sample_weight.reshape(-1, 1)
    for i in range(len(coefs) - 1, -1, -1):
        g = Z[i].T @ D
        g += alpha * coefs[i]
        g /= s
        coef_grads[i] = g
        intercept_grads[i] = np.sum(D, axis=0) / s
        if i > 0:
            D = D @ coefs[i].T
            _derivative(Z[i], D, activation)
    return loss, coef_grads, intercept_grads


def _sgd_step(params, grads, state, lr, momentum, nesterov):
    """v = momentum * v - lr * g;  p += (momentum * v - lr * g) if nesterov else v."""
    for p, g, v in zip(params, grads, state):
        v *= momentum
        v -= lr * g
        if nesterov:
            p += momentum * v - lr * g
        else:
            p += v


def _adam_step(params, grads, state, lr, beta_1, beta_2, epsilon, t):
    """Adam step number t (1-based):
    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
    p -= lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)."""
    n = len(params)
    lr_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    for p, g, m, v in zip(params, grads, state[:n], state[n:]):
        m *= beta_1
        m += (1 - beta_1) * g
        v *= beta_2
        v += (1 - beta_2) * (g**2)
        p += -lr_t * m / (np.sqrt(v) + epsilon)


def train_epoch(coefs, intercepts, X, Y, sample_weight, order, batch_size,
                activation, out_activation, alpha, solver, state,
                lr, momentum, nesterov, beta_1, beta_2, epsilon, t, mean_outputs=False):
    """One epoch of minibatch training; returns the epoch loss.

    Rows are visited in ``order`` (int64 indices; None: 0..n-1) in contiguous
    batches of ``batch_size`` (the last one holds the rest). Per batch: the
    loss and gradients of ``loss_and_grad`` at the current parameters, then
    one optimizer step applied in place to ``coefs``, ``intercepts`` and
    ``state``. ``state`` holds one array per parameter, in the order
    coefs + intercepts: velocities for "sgd"; first moments then second
    moments for "adam" (2x as many). ``t`` is the number of Adam steps taken
    before this epoch. Returns sum_batches(batch_loss * rows) / n (batch losses
    as ``loss_and_grad``'s, with the same ``mean_outputs``).
    """
    n = X.shape[0]
    params = list(coefs) + list(intercepts)
    total = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if order is None:
            xb, yb = X[start:stop], Y[start:stop]
            swb = None if sample_weight is None else sample_weight[start:stop]
        else:
            idx = order[start:stop]
            xb, yb = X[idx], Y[idx]
            swb = None if sample_weight is None else sample_weight[idx]
        loss, cg, ig = loss_and_grad(coefs, intercepts, xb, yb, activation,
                                     out_activation, alpha, swb, mean_outputs)
        total += loss * (stop - start)
        grads = cg + ig
        if solver == "sgd":
            _sgd_step(params, grads, state, lr, momentum, nesterov)
        else:
            t += 1
            _adam_step(params, grads, state, lr, beta_1, beta_2, epsilon, t)
    return total / n
