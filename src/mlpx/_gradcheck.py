"""``mlpx.gradcheck``: the gradients of ``mlpx.loss_and_grad`` against
central differences of its own loss, in float64.

Example::

    import numpy as np, mlpx
    rng = np.random.default_rng(0)
    coefs = [rng.normal(size=(4, 5)), rng.normal(size=(5, 3))]
    intercepts = [rng.normal(size=5), rng.normal(size=3)]
    X = rng.normal(size=(10, 4))
    Y = np.eye(3)[rng.integers(0, 3, 10)]
    result = mlpx.gradcheck(coefs, intercepts, X, Y, activation="tanh",
                            out_activation="softmax", alpha=0.1)
    print(result)          # worst relative error of each parameter array
    result.worst           # ~1e-9; a wrong gradient raises GradcheckError
"""

from dataclasses import dataclass
from typing import List

import numpy as np

from . import _api


class GradcheckError(AssertionError):
    """A gradient of ``loss_and_grad`` disagrees with central differences.
    ``result`` holds the errors of every parameter array."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


@dataclass
class GradcheckResult:
    """The worst relative error of each parameter array's gradient
    (``coefs[i]``, ``intercepts[i]``): ``max |g - d| / max(|g|, |d|, floor)``
    over its elements, ``g`` the analytic and ``d`` the central-difference
    derivative, ``floor`` as in ``gradcheck``."""

    coefs: List[float]
    intercepts: List[float]
    rtol: float

    @property
    def worst(self) -> float:
        return max(self.coefs + self.intercepts)

    @property
    def passed(self) -> bool:
        return self.worst <= self.rtol

    def __str__(self) -> str:
        parts = [f"coefs[{i}] {e:.2e}" for i, e in enumerate(self.coefs)]
        parts += [f"intercepts[{i}] {e:.2e}" for i, e in enumerate(self.intercepts)]
        return (f"gradcheck {'passed' if self.passed else 'FAILED'} (rtol {self.rtol:g}): "
                + ", ".join(parts))


def gradcheck(coefs, intercepts, X, Y, *, activation, out_activation, alpha=0.0,
              sample_weight=None, eps=None, rtol=1e-6):
    """Check ``loss_and_grad``'s gradients by central differences, in float64.

    Every parameter ``w`` is moved by ``h = eps * max(1, |w|)`` both ways
    and ``d = (L(w + h) - L(w - h)) / (2 h)`` is compared with the
    analytic gradient ``g``: the error of one element is
    ``|g - d| / max(|g|, |d|, floor)``, ``floor = 1e-3 * max(1, max |g|)``
    (below it the differences' own rounding, ~1e-10, dominates; so a
    gradient that is wrong only where it is smaller than 1e-3 of the
    largest one goes unseen). It costs two loss evaluations per parameter:
    meant for small networks and a few rows.

    Parameters
    ----------
    coefs, intercepts : lists of array-like, one per layer
    X : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples, n_outputs)
    activation, out_activation, alpha, sample_weight
        As ``mlpx.loss_and_grad``.
    eps : float, default=None
        The relative step; None: ``6e-6`` (about the cube root of float64's
        machine epsilon, where rounding and truncation errors balance).
    rtol : float, default=1e-6
        The largest error that passes.

    Returns
    -------
    result : GradcheckResult
        The worst error of each parameter array (``result.coefs``,
        ``result.intercepts``, ``result.worst``).

    Raises
    ------
    GradcheckError
        Where an error exceeds ``rtol`` (it names the array and the element;
        ``exc.result`` holds all errors).
    """
    eps = 6e-6 if eps is None else float(eps)
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    W = [np.array(c, dtype=np.float64) for c in coefs]
    b = [np.array(v, dtype=np.float64) for v in intercepts]
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    kw = dict(activation=activation, out_activation=out_activation, alpha=alpha,
              sample_weight=sw)

    def loss():
        return _api.loss_and_grad(W, b, X, Y, **kw)[0]

    _, gW, gb = _api.loss_and_grad(W, b, X, Y, **kw)
    grads = [np.asarray(g, dtype=np.float64) for g in list(gW) + list(gb)]
    params = W + b
    floor = 1e-3 * max(1.0, max(float(np.abs(g).max(initial=0.0)) for g in grads))
    errors, worst_at = [], []
    for p, g in zip(params, grads):
        flat, gflat = p.reshape(-1), g.reshape(-1)  # views: p moves in place
        d = np.empty_like(gflat)
        for j in range(flat.size):
            w = flat[j]
            h = eps * max(1.0, abs(w))
            flat[j] = w + h
            up = loss()
            flat[j] = w - h
            down = loss()
            flat[j] = w
            d[j] = (up - down) / (2 * h)
        err = np.abs(gflat - d) / np.maximum(np.maximum(np.abs(gflat), np.abs(d)), floor)
        j = int(np.argmax(err)) if err.size else 0
        errors.append(float(err[j]) if err.size else 0.0)
        worst_at.append((j, float(gflat[j]) if err.size else 0.0,
                         float(d[j]) if err.size else 0.0))
    K = len(W)
    result = GradcheckResult(errors[:K], errors[K:], float(rtol))
    if not result.passed:
        k = int(np.argmax(errors))
        name = f"coefs[{k}]" if k < K else f"intercepts[{k - K}]"
        j, g, d = worst_at[k]
        index = np.unravel_index(j, params[k].shape)
        raise GradcheckError(
            f"loss_and_grad's gradient of {name} disagrees with central differences: "
            f"at {name}[{', '.join(map(str, index))}] the gradient is {g:.10g}, the "
            f"difference quotient {d:.10g} (relative error {errors[k]:.3g} > rtol "
            f"{rtol:g}). {result}",
            result,
        )
    return result
