"""The functional API: a network is a list of coefs and intercepts.

``coefs[i]`` has shape ``(n_i, n_{i+1})`` and ``intercepts[i]`` shape
``(n_{i+1},)`` (scikit-learn's layout). Hidden layers compute
``Z' = f(Z @ W + b)``; the last layer applies ``out_activation``.
"""

from ._backend import impl
from . import _validation as v


def forward(coefs, intercepts, X, *, activation="logistic", out_activation="softmax"):
    """Return the last layer's output, shape ``(n_samples, n_outputs)``.

    Parameters
    ----------
    coefs, intercepts : lists of array-like, one per layer
    X : array-like of shape (n_samples, n_features)
    activation : {"logistic", "tanh", "relu", "identity"}
        Hidden-layer activation.
    out_activation : {"softmax", "logistic", "identity", "exp"}
        Output activation: softmax per row, logistic per column, none, or
        exp (Poisson regression).

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
        In the dtype of the coefs (float32 stays float32).
    """
    v.check_activations(activation, out_activation)
    W, b, dtype = v.check_params(coefs, intercepts)
    # NaN and infinity: found by the forward pass as it reads X (the same
    # ValueError as check_X's, without a pass over X of its own)
    X = v.check_X(X, W[0].shape[0], dtype, finite=False)
    return impl.forward(W, b, X, activation, out_activation, check_finite=True)


def loss_and_grad(coefs, intercepts, X, Y, *, activation="logistic",
                  out_activation="softmax", alpha=0.0, sample_weight=None):
    """Return ``(loss, coef_grads, intercept_grads)`` for one batch.

    ``loss`` is a Python float, the data term averaged over samples (weighted
    by ``sample_weight``) plus ``0.5 * alpha * sum ||W||^2 / s`` with ``s``
    the number of rows or the sum of the sample weights. The data term of
    one sample, summed over the output columns j:

    - logistic: binary cross-entropy, ``-sum_j [y log p + (1 - y) log(1 - p)]``
    - softmax: categorical cross-entropy, ``-sum_j y log p``
    - identity: half the squared error, ``0.5 * sum_j (y - p)^2``
    - exp: half the Poisson deviance, ``sum_j [y log(y / p) - y + p]``
      (Y must be >= 0)

    The gradients are those of this loss, for every output (so the pair
    can go to ``scipy.optimize.minimize(jac=True)`` as is), with the shapes
    and dtype of the parameters: ``dW_i = (Z_i^T D_i + alpha W_i) / s``,
    ``db_i = sum D_i / s``, ``D_K = (P - Y) * sample_weight[:, None]``.

    scikit-learn's ``MLPRegressor`` reports half the squared error averaged
    over the outputs instead of summed (its ``loss_curve_``, with the
    gradient of the sum); mlpx's estimators report that value too, for
    parity, but this function does not.
    """
    v.check_activations(activation, out_activation)
    alpha = v.check_alpha(alpha)
    W, b, dtype = v.check_params(coefs, intercepts)
    X = v.check_X(X, W[0].shape[0], dtype)
    Y = v.check_Y(Y, X.shape[0], W[-1].shape[1], dtype)
    if out_activation == "exp" and (Y < 0).any():
        raise ValueError("Y must be >= 0 for out_activation='exp' (Poisson "
                         f"deviance); its smallest value is {Y.min()!r}")
    sw = v.check_sample_weight(sample_weight, X.shape[0], dtype)
    loss, gW, gb = impl.loss_and_grad(W, b, X, Y, activation, out_activation, alpha, sw)
    return float(loss), list(gW), list(gb)
