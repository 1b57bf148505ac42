"""ONNX export: onnxruntime reproduces predict_proba and predict for binary,
multiclass (int and string labels) and multilabel models, float32 and float64."""

import sys
import warnings

import numpy as np
import pytest

skl2onnx = pytest.importorskip("skl2onnx", reason="ONNX export needs the mlpx[onnx] extra (skl2onnx)")
onnx = pytest.importorskip("onnx", reason="ONNX export needs the mlpx[onnx] extra (onnx)")
ort = pytest.importorskip("onnxruntime", reason="running exported models needs onnxruntime")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from mlpx._estimator import MLPClassifier  # noqa: E402
from mlpx._onnx import export_onnx  # noqa: E402

TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def _targets(y):
    return {
        "binary": y % 2,
        "multiclass": y,
        "strings": np.array(["zero", "one", "two"])[y % 3],
        "multilabel": np.c_[y % 2, y % 3 == 0, y > 5].astype(int),
    }


def _fit(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((24, 12), max_iter=40, random_state=0, **kw).fit(X, y)


def _run(model, X):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess, sess.run(None, {"X": X})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "strings", "multilabel"])
def test_onnxruntime_matches_estimator(digits, kind, dtype):
    X, y = digits
    X = X.astype(dtype)
    est = _fit(X, _targets(y)[kind], activation="tanh" if kind == "strings" else "logistic")
    model = export_onnx(est)
    onnx.checker.check_model(model)
    sess, (label, proba) = _run(model, X)

    assert [i.name for i in sess.get_inputs()] == ["X"]
    assert sess.get_inputs()[0].type == ("tensor(float)" if dtype == np.float32 else "tensor(double)")
    assert not isinstance(sess.get_inputs()[0].shape[0], int)  # any batch size
    assert [o.name for o in sess.get_outputs()] == ["label", "probabilities"]
    assert isinstance(proba, np.ndarray)  # a plain tensor, no ZipMap
    expected = est.predict_proba(X)
    assert proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, rtol=0, atol=TOL[dtype])
    np.testing.assert_array_equal(label, est.predict(X))


def test_any_batch_size_and_write_to_path(digits, tmp_path):
    X, y = digits
    X = X.astype(np.float32)
    est = _fit(X, y)
    path = tmp_path / "model.onnx"
    model = export_onnx(est, path)
    assert path.read_bytes() == model.SerializeToString()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 7, 600):
        label, proba = sess.run(None, {"X": X[:n]})
        assert proba.shape == (n, 10)
        np.testing.assert_array_equal(label, est.predict(X[:n]))


def test_registered_converter_works_in_pipeline(digits):
    """After registration, skl2onnx converts mlpx inside a scikit-learn Pipeline."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skl2onnx.common.data_types import FloatTensorType

    X, y = digits
    X = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=30, random_state=0))
        pipe.fit(X, y)
    export_onnx(pipe[-1])  # registers the class
    model = skl2onnx.convert_sklearn(
        pipe, initial_types=[("X", FloatTensorType([None, X.shape[1]]))],
        options={id(pipe[-1]): {"zipmap": False}},
    )
    _, (label, proba) = _run(model, X)
    np.testing.assert_allclose(proba, pipe.predict_proba(X), atol=1e-5)
    assert (label == pipe.predict(X)).mean() > 0.99  # float32 scaler may flip a near-tie


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_export_onnx_takes_a_pipeline(digits, dtype):
    """export_onnx(pipeline): the whole pipeline, input in the MLP's dtype."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=30, random_state=0))
        pipe.fit(X, y)
    _, (label, proba) = _run(export_onnx(pipe), X)
    np.testing.assert_allclose(proba, pipe.predict_proba(X), atol=1e-5)
    assert (label == pipe.predict(X)).mean() > 0.99  # float32 scaler may flip a near-tie


def test_unfitted_pipeline_raises():
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(NotFittedError):
        export_onnx(make_pipeline(StandardScaler(), MLPClassifier()))


def test_unfitted_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        export_onnx(MLPClassifier())


def test_missing_skl2onnx_names_the_extra(monkeypatch, digits):
    X, y = digits
    est = _fit(X, y % 2)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r"mlpx\[onnx\]"):
        export_onnx(est)


def test_loaded_model_exports(digits, tmp_path):
    """A model read back by mlpx's load exports like the original."""
    from mlpx import _io

    X, y = digits
    X = X.astype(np.float32)
    est = _fit(X, np.c_[y % 2, y > 4].astype(int))
    _io.save(est, tmp_path / "m.npz")
    back = _io.load(tmp_path / "m.npz")
    assert export_onnx(back).graph.SerializeToString() == export_onnx(est).graph.SerializeToString()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["single", "multi", "poisson"])
def test_regressor_onnxruntime_matches_predict(digits, kind, dtype):
    from mlpx import MLPRegressor

    X, y = digits
    X = X.astype(dtype)
    targets = {"single": y / 9.0, "multi": np.c_[y / 9.0, (y % 3) - 1.0],
               "poisson": (y % 4).astype(float)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(loss="poisson" if kind == "poisson" else "squared_error",
                           hidden_layer_sizes=(24, 12), activation="tanh" if kind == "multi"
                           else "logistic", max_iter=40, random_state=0)
        est.fit(X, targets[kind])
    model = export_onnx(est)
    onnx.checker.check_model(model)
    sess, (pred,) = _run(model, X)
    assert [o.name for o in sess.get_outputs()] == ["variable"]
    expected = est.predict(X).reshape(len(X), -1)
    assert pred.shape == expected.shape and pred.dtype == dtype
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(pred, expected, rtol=0, atol=TOL[dtype] * scale)
