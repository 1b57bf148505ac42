"""A pytest plugin that retargets scikit-learn's own MLP test file
(``sklearn/neural_network/tests/test_mlp.py``, the installed copy) at mlpx:
``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor`` become mlpx's
before the file imports them. Used by ``tests/test_sklearn_test_mlp.py``:

    python -m pytest -p sklearn_mlp_plugin --pyargs sklearn.neural_network.tests.test_mlp

(with this directory on PYTHONPATH). With ``MLPX_SKLEARN_DEFAULTS=1`` the
estimators get scikit-learn's default ``activation="relu"`` (mlpx's is
"logistic"); nothing else changes.

Deselected, with the reason (``DESELECTED``): the tests that read
scikit-learn's private attributes or functions; and, with mlpx's default
activation only, the one test whose premise is the relu default.
"""

import os

import pytest

# test name -> why it cannot run against mlpx's estimators
PRIVATE = {
    "test_gradient": "calls MLPClassifier._loss_grad_lbfgs, scikit-learn's private "
                     "L-BFGS objective with its private work buffers (mlpx's gradient "
                     "is checked by central differences in tests/test_kernels.py)",
}
# only with mlpx's default activation
RELU_PREMISE = {
    "test_nonfinite_params": "fits MLPRegressor() with its default activation on "
                             "X ~ 1e308 and expects the weights to overflow; with "
                             "mlpx's logistic default the hidden layer saturates, its "
                             "gradient is 0 and the weights stay finite (the run with "
                             "MLPX_SKLEARN_DEFAULTS=1 checks the overflow error)",
}
SKLEARN_DEFAULTS = os.environ.get("MLPX_SKLEARN_DEFAULTS") == "1"
DESELECTED = dict(PRIVATE, **({} if SKLEARN_DEFAULTS else RELU_PREMISE))


def _with_relu_default(cls):
    """A subclass of ``cls`` whose ``activation`` defaults to "relu": its
    ``__init__`` is ``cls.__init__`` with that one default changed, so the
    signature (and get_params, clone, repr) stays an estimator's."""
    import inspect
    import types

    init = cls.__init__
    names = list(inspect.signature(init).parameters)[1:]
    positional = [n for n in names
                  if inspect.signature(init).parameters[n].kind
                  is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    defaults = list(init.__defaults__)
    defaults[positional.index("activation") - (len(positional) - len(defaults))] = "relu"
    new_init = types.FunctionType(init.__code__, init.__globals__, init.__name__,
                                  tuple(defaults), init.__closure__)
    new_init.__kwdefaults__ = init.__kwdefaults__
    # kept in this module under the same name, so that it pickles
    sub = type(cls.__name__, (cls,), {"__init__": new_init, "__module__": __name__})
    globals()[cls.__name__] = sub
    return sub


def pytest_configure(config):
    import sklearn.neural_network as nn

    import mlpx

    classes = {"MLPClassifier": mlpx.MLPClassifier, "MLPRegressor": mlpx.MLPRegressor}
    for name, cls in classes.items():
        setattr(nn, name, _with_relu_default(cls) if SKLEARN_DEFAULTS else cls)


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        (drop if item.originalname in DESELECTED else keep).append(item)
    missing = set(DESELECTED) - {item.originalname for item in drop}
    if missing:  # the file changed: the list must be looked at again
        raise pytest.UsageError(f"tests to deselect not found in the file: {sorted(missing)}")
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


def pytest_report_header(config):
    import mlpx

    return (f"sklearn_mlp_plugin: scikit-learn's test_mlp.py against mlpx "
            f"{mlpx.__version__} ({mlpx.get_backend()} backend), activation default "
            f"{'relu (scikit-learn)' if SKLEARN_DEFAULTS else 'logistic (mlpx)'}; "
            f"deselected: {sorted(DESELECTED)}")
