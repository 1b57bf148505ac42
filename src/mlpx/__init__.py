"""mlpx: a fast multilayer perceptron — C kernels over BLAS, a NumPy twin,
and scikit-learn estimators (MLPClassifier, MLPRegressor)."""

from ._version import __version__
from ._backend import get_backend
from ._config import show_config
from ._api import forward, loss_and_grad
from ._estimator import MLPClassifier, MLPRegressor
from ._exceptions import DivergenceWarning, InconsistentVersionWarning
from ._io import load
from ._onnx import export_onnx
from ._display import TrainingCurveDisplay
from ._gradcheck import GradcheckError, GradcheckResult, gradcheck

__all__ = ["__version__", "get_backend", "show_config", "forward", "loss_and_grad",
           "MLPClassifier", "MLPRegressor", "DivergenceWarning", "InconsistentVersionWarning",
           "load", "export_onnx", "TrainingCurveDisplay",
           "gradcheck", "GradcheckResult", "GradcheckError"]
