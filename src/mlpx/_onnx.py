"""ONNX export through skl2onnx, reusing scikit-learn's MLP converter.

mlpx's fitted attributes are scikit-learn's (``coefs_``, ``intercepts_``,
``classes_``, ``n_layers_``, ``activation``, ``out_activation_``,
``_label_binarizer``), so skl2onnx's ``convert_sklearn_mlp_classifier`` builds
the graph; mlpx only registers its class with it (DESIGN.md section 7). After
the first ``export_onnx`` call, ``skl2onnx.to_onnx`` also converts mlpx models
on their own and inside scikit-learn pipelines.

The graph: input ``"X"`` (float32 or float64, the dtype the model was fitted
in, any batch size), outputs ``"label"`` (class labels; a 0/1 int64 matrix for
multilabel) and ``"probabilities"`` (a plain tensor, columns as ``classes_``).

``MLPRegressor`` gets a converter of its own (a few lines below): skl2onnx's
``convert_sklearn_mlp_regressor`` has no ``exp`` output (loss="poisson") and
reshapes every output to one column. Its graph: input ``"X"``, output
``"variable"`` of shape ``(N, n_outputs_)``, as ``predict`` (which ravels one
output to ``(N,)``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from ._activations import ACTIVATIONS

if TYPE_CHECKING:
    import onnx

_EXTRA_HINT = "install it with `pip install mlpx[onnx]` (skl2onnx, onnx; onnxruntime to run)"
_registered = False


def _import_skl2onnx() -> Any:
    try:
        import onnx  # noqa: F401
        import skl2onnx
    except ImportError as exc:
        raise ImportError(
            f"mlpx.export_onnx needs skl2onnx and onnx ({exc}); {_EXTRA_HINT}"
        ) from exc
    return skl2onnx


def _shape_calculator(operator):
    """scikit-learn's classifier shapes; multilabel labels are (N, L), not (N,)."""
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)
    est = operator.raw_operator
    if _is_multilabel(est):
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].set_type(Int64TensorType(shape=[n, len(est.classes_)]))


def _convert(scope, operator, container):
    """scikit-learn's MLP converter; for float64 multilabel, the 0.5 threshold
    becomes ``Greater`` (onnxruntime has no double ``Binarizer`` kernel)."""
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_classifier,
    )
    from skl2onnx.proto import onnx_proto

    first = len(container.nodes)
    convert_sklearn_mlp_classifier(scope, operator, container)
    double = operator.inputs[0].type.to_onnx_type().tensor_type.elem_type == \
        onnx_proto.TensorProto.DOUBLE
    if not (double and _is_multilabel(operator.raw_operator)):
        return
    for node in container.nodes[first:]:
        if node.op_type == "Binarizer":  # rewrite in place: x > 0.5
            half = scope.get_unique_variable_name("half")
            container.add_initializer(half, onnx_proto.TensorProto.DOUBLE, [], [0.5])
            node.op_type, node.domain = "Greater", ""
            del node.attribute[:]
            node.input.append(half)


def _is_multilabel(est) -> bool:
    lb = getattr(est, "_label_binarizer", None)
    if lb is not None:
        return lb.y_type_ == "multilabel-indicator"
    return est.out_activation_ == "logistic" and est.n_outputs_ > 1


_ONNX_OPS = {"identity": "Identity", "logistic": "Sigmoid", "tanh": "Tanh",
             "relu": "Relu", "exp": "Exp"}


def _regressor_shape_calculator(operator):
    """One output, (N, n_outputs_), in the input's float type."""
    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = operator.inputs[0].type.__class__([n, est.n_outputs_])


def _convert_regressor(scope, operator, container):
    """Z_{i+1} = f(Z_i W_i + b_i) per layer (MatMul, Add, the activation),
    f = out_activation_ (Identity or Exp) at the last layer."""
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.proto import onnx_proto

    est = operator.raw_operator
    dtype = guess_proto_type(operator.inputs[0].type)
    if dtype != onnx_proto.TensorProto.DOUBLE:
        dtype = onnx_proto.TensorProto.FLOAT
    z = operator.inputs[0].full_name
    last = len(est.coefs_) - 1
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        w_name = scope.get_unique_variable_name("coefficient")
        b_name = scope.get_unique_variable_name("intercepts")
        container.add_initializer(w_name, dtype, W.shape, np.ravel(W))
        container.add_initializer(b_name, dtype, [1, len(b)], np.ravel(b))
        product = scope.get_unique_variable_name("mul_result")
        container.add_node("MatMul", [z, w_name], product,
                           name=scope.get_unique_operator_name("MatMul"))
        summed = scope.get_unique_variable_name("add_result")
        container.add_node("Add", [product, b_name], summed,
                           name=scope.get_unique_operator_name("Add"))
        op = _ONNX_OPS[est.out_activation_ if i == last else est.activation]
        z = (operator.outputs[0].full_name if i == last
             else scope.get_unique_variable_name("activations"))
        container.add_node(op, summed, z, name=scope.get_unique_operator_name(op))


def register() -> None:
    """Register ``mlpx.MLPClassifier`` and ``MLPRegressor`` with skl2onnx
    (idempotent)."""
    global _registered
    if _registered:
        return
    skl2onnx = _import_skl2onnx()
    from ._estimator import MLPClassifier, MLPRegressor

    skl2onnx.update_registered_converter(
        MLPRegressor, "MlpxMLPRegressor", _regressor_shape_calculator, _convert_regressor,
    )
    skl2onnx.update_registered_converter(
        MLPClassifier,
        "MlpxMLPClassifier",
        _shape_calculator,
        _convert,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    _registered = True


def _check_exportable(est) -> None:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est, "coefs_")
    if est.activation not in ACTIVATIONS:
        raise ValueError(f"activation {est.activation!r} has no ONNX mapping")
    if not hasattr(est, "classes_"):  # a regressor
        return
    classes = np.asarray(est.classes_)
    if classes.dtype.kind == "f" and not np.all(classes == np.round(classes)):
        # skl2onnx stores numeric labels as int32: 0.5 would become 0
        raise ValueError(
            f"ONNX export needs integer or string class labels, got {classes!r}"
        )


def export_onnx(estimator: Any, path: Optional[Union[str, "os.PathLike[str]"]] = None,
                *, target_opset: Optional[int] = None) -> "onnx.ModelProto":
    """Convert a fitted ``MLPClassifier`` or ``MLPRegressor``, or a fitted
    scikit-learn ``Pipeline`` that ends in one, to an ``onnx.ModelProto``.

    Parameters
    ----------
    estimator : fitted mlpx.MLPClassifier, mlpx.MLPRegressor or Pipeline
        A scikit-learn ``MLPClassifier`` works too. In a pipeline, every step
        before the last must have an skl2onnx converter (scalers and most
        scikit-learn transformers do).
    path : str or PathLike, optional
        Also write the model there.
    target_opset : int, optional
        ONNX opset; default: the newest skl2onnx supports.

    Returns
    -------
    onnx.ModelProto
        Input ``"X"`` of shape ``(None, n_features_in_)`` in the fitted dtype;
        outputs ``"label"`` and ``"probabilities"`` (no ZipMap) for a
        classifier, ``"variable"`` of shape ``(N, n_outputs_)`` for a
        regressor. Run it with
        ``onnxruntime.InferenceSession(model.SerializeToString())``.
    """
    skl2onnx = _import_skl2onnx()
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    register()
    final = estimator
    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        check_is_fitted(estimator)
    _check_exportable(final)
    dtype = np.asarray(final.coefs_[0]).dtype
    tensor_type = DoubleTensorType if dtype == np.float64 else FloatTensorType
    # a pipeline's input width is its first step's (the MLP's may differ)
    n_features = int(getattr(estimator, "n_features_in_", None) or
                     np.asarray(final.coefs_[0]).shape[0])
    model = skl2onnx.convert_sklearn(
        estimator,
        name=f"mlpx.{type(estimator).__name__}",
        initial_types=[("X", tensor_type([None, n_features]))],
        options={id(final): {"zipmap": False}} if hasattr(final, "classes_") else None,
        target_opset=target_opset,
    )
    if path is not None:
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
    return model
