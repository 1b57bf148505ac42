"""The contract shared by the compiled bridge ``mlpx._core`` and its NumPy
twin ``mlpx._numpy_backend``: same names, same arguments, same results.

Callers (``mlpx._api``, ``mlpx._estimator``) pass arrays already validated by
``mlpx._validation``: one float dtype (float32 or float64) for every array,
C-contiguous, finite, shapes that chain. The bridge checks dtype, contiguity
and shapes again (a mistake must raise, not crash) but not finiteness.
Outputs are new arrays of the input dtype, except ``train_epoch``, which
updates ``coefs``, ``intercepts`` and ``state`` in place.
"""

from typing import Optional, Sequence, Tuple, List
import numpy as np

ACTIVATIONS: Tuple[str, ...]       # mlpx._activations.ACTIVATIONS
OUT_ACTIVATIONS: Tuple[str, ...]   # mlpx._activations.OUT_ACTIVATIONS
SOLVERS: Tuple[str, ...]           # ("sgd", "adam")

def forward(coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray],
            X: np.ndarray, activation: str, out_activation: str,
            check_finite: bool = False, check_output: bool = False) -> np.ndarray: ...

def all_finite(a: np.ndarray) -> bool: ...

class ForwardPlan:
    """forward with the layers checked once; holds the arrays, not copies."""
    dtype: np.dtype
    activation: str
    out_activation: str
    def __init__(self, coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray],
                 activation: str, out_activation: str) -> None: ...
    def matches(self, coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray]) -> bool: ...
    def __call__(self, X: np.ndarray, check_finite: bool = False,
                 check_output: bool = False) -> np.ndarray: ...

def loss_and_grad(coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray],
                  X: np.ndarray, Y: np.ndarray, activation: str, out_activation: str,
                  alpha: float, sample_weight: Optional[np.ndarray],
                  mean_outputs: bool = False
                  ) -> Tuple[float, List[np.ndarray], List[np.ndarray]]: ...

def train_epoch(coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray],
                X: np.ndarray, Y: np.ndarray, sample_weight: Optional[np.ndarray],
                order: Optional[np.ndarray], batch_size: int,
                activation: str, out_activation: str, alpha: float,
                solver: str, state: Sequence[np.ndarray],
                lr: float, momentum: float, nesterov: bool,
                beta_1: float, beta_2: float, epsilon: float, t: int,
                mean_outputs: bool = False) -> float: ...
