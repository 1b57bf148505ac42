"""The activation names mlpx knows, listed once.

Both backends, the argument checks, the estimator's parameter constraints,
the ONNX export and the command line take them from here. The compiled
bridge maps each name to the engine's C enum (``_ACT_CODE`` in _core.pyx);
tests/test_kernels.py checks that it maps every name listed here.
"""

ACTIVATIONS = ("identity", "logistic", "tanh", "relu")  # hidden layers
OUT_ACTIVATIONS = ("identity", "logistic", "softmax", "exp")   # the output layer
