"""save/load through one .npz without pickle: bitwise round trips, pickle and
joblib still work, and every kind of bad file raises ValueError naming the
problem without running code."""

import io
import json
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from mlpx import _io
from mlpx._estimator import MLPClassifier


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def _fit(X, y, **kw):
    kw.setdefault("max_iter", 15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((12, 7), random_state=0, **kw).fit(X, y)


CASES = {
    "multiclass": lambda y: y,
    "binary": lambda y: y % 2,
    "strings": lambda y: np.array(["cat", "dog", "emu"])[y % 3],
    "object strings": lambda y: np.array(["cat", "dog"], dtype=object)[y % 2],
    "float labels": lambda y: (y % 4).astype(float) - 1.0,
    "bool labels": lambda y: y > 4,
    "multilabel": lambda y: np.c_[y % 2, y % 3 == 0, y > 5].astype(int),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_round_trip_is_bitwise(digits, tmp_path, case, dtype):
    X, y = digits
    X = X.astype(dtype)
    est = _fit(X, CASES[case](y))
    path = tmp_path / "model.npz"
    _io.save(est, path)
    back = _io.load(path)
    assert type(back) is MLPClassifier
    assert back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.classes_.dtype == est.classes_.dtype
    for a, b in zip(back.coefs_ + back.intercepts_, est.coefs_ + est.intercepts_):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert back.predict_proba(X).tobytes() == est.predict_proba(X).tobytes()
    pred, want = back.predict(X), est.predict(X)
    assert pred.dtype == want.dtype
    np.testing.assert_array_equal(pred, want)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_",
                 "n_iter_", "t_", "loss_", "best_loss_", "loss_curve_",
                 "validation_scores_", "best_validation_score_"):
        assert getattr(back, name) == getattr(est, name), name


def test_early_stopping_lbfgs_feature_names_and_refit(digits, tmp_path):
    pd = pytest.importorskip("pandas", reason="feature names need a DataFrame")
    X, y = digits
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    path = tmp_path / "m.npz"
    for kw in ({"early_stopping": True}, {"solver": "lbfgs"}):
        est = _fit(df, y, **kw)
        _io.save(est, path)
        back = _io.load(path)
        np.testing.assert_array_equal(back.feature_names_in_, est.feature_names_in_)
        if kw.get("early_stopping"):
            assert back.validation_scores_ == est.validation_scores_
            assert back.best_validation_score_ == est.best_validation_score_
        else:
            assert not hasattr(back, "loss_curve_") and not hasattr(back, "validation_scores_")
        np.testing.assert_array_equal(back.predict(df), est.predict(df))
        # a loaded model keeps training (warm start and partial_fit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            back.set_params(warm_start=True, max_iter=2).fit(df, y)
    _io.save(_fit(df, y), path)
    back = _io.load(path)
    back.partial_fit(df, y)
    assert back.n_iter_ == 1 and len(back.loss_curve_) == 16


def test_pickle_and_joblib_still_work(digits, tmp_path):
    X, y = digits
    est = _fit(X, y)
    clone = pickle.loads(pickle.dumps(est))
    assert clone.predict_proba(X).tobytes() == est.predict_proba(X).tobytes()
    joblib.dump(est, tmp_path / "m.joblib")
    clone = joblib.load(tmp_path / "m.joblib")
    assert clone.predict_proba(X).tobytes() == est.predict_proba(X).tobytes()


def test_save_appends_npz_and_random_state_instance(digits, tmp_path):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier((5,), max_iter=3, random_state=np.random.RandomState(3)).fit(X, y % 2)
    _io.save(est, tmp_path / "noext")
    back = _io.load(tmp_path / "noext.npz")
    assert back.random_state is None


def test_unfitted_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _io.save(MLPClassifier(), tmp_path / "m.npz")


# ---------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    X, y = digits
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    _io.save(_fit(X, y), path)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return path, arrays


def _rewrite(tmp_path, arrays, **changes):
    new = dict(arrays)
    for k, v in changes.items():
        if v is None:
            new.pop(k)
        else:
            new[k] = v
    path = tmp_path / "bad.npz"
    np.savez(path, **new)
    return path


_DROP = object()


def _attrs(arrays, **changes):
    attrs = json.loads(str(arrays["attrs"]))
    attrs.update(changes)
    attrs = {k: v for k, v in attrs.items() if v is not _DROP}
    return np.array(json.dumps(attrs))


def _params(arrays, **changes):
    params = json.loads(str(arrays["params"]))
    params.update(changes)
    return np.array(json.dumps(params))


BAD = {
    "wrong format version": (dict(format_version=np.array(2)), "format version 2"),
    "missing coef": (dict(coef_1=None), "missing key 'coef_1'"),
    "missing params": (dict(params=None), "missing key 'params'"),
    "missing attribute": (lambda a: dict(attrs=_attrs(a, n_outputs_=_DROP)),
                          "missing attribute 'n_outputs_'"),
    "unexpected key": (dict(coef_9=np.zeros((2, 2))), "unexpected key 'coef_9'"),
    "wrong coef shape": (lambda a: dict(coef_1=np.zeros((11, 7))), r"coef_1 has shape \(11, 7\)"),
    "wrong intercept shape": (lambda a: dict(intercept_0=np.zeros(13)), r"intercept_0 has shape \(13,\)"),
    "wrong dtype": (lambda a: dict(coef_1=a["coef_1"].astype(np.float32)), "coef_1 has dtype float32"),
    "integer weights": (lambda a: dict(coef_0=a["coef_0"].astype(np.int64)), "coef_0 has dtype int64"),
    "non-finite weights": (lambda a: dict(intercept_2=np.full(10, np.nan)), "non-finite"),
    "classes vs outputs": (lambda a: dict(classes_=np.arange(9)), "9 classes"),
    "hidden sizes": (lambda a: dict(params=_params(a, hidden_layer_sizes=[12, 8])), "hidden_layer_sizes"),
    "bad param value": (lambda a: dict(params=_params(a, activation="swish")), "bad parameter value"),
    "unknown param": (lambda a: dict(params=_params(a, evil=1)), "unknown parameters"),
    "bad json": (dict(attrs=np.array("{not json")), "'attrs' is not valid JSON"),
    "not a model": (dict(format=np.array("something.else")), "format is 'something.else'"),
    "bad y_type": (lambda a: dict(attrs=_attrs(a, y_type="continuous")), "y_type 'continuous'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_mismatched_file_raises_value_error(saved, tmp_path, case):
    path, arrays = saved
    changes, message = BAD[case]
    if callable(changes):
        changes = changes(arrays)
    bad = _rewrite(tmp_path, arrays, **changes)
    with pytest.raises(ValueError, match=message) as info:
        _io.load(bad)
    assert "not a valid mlpx model file" in str(info.value)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_raises_value_error(saved, tmp_path, keep):
    path, _ = saved
    data = path.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="not a valid mlpx model file"):
        _io.load(bad)


def test_tampered_bytes_fail_the_crc(saved, tmp_path):
    path, arrays = saved
    data = bytearray(path.read_bytes())
    # flip one byte inside coef_0's data (found by its raw bytes in the zip)
    at = bytes(data).find(arrays["coef_0"].tobytes()[:64])
    assert at > 0
    data[at + 100] ^= 0xFF
    bad = tmp_path / "tampered.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated or corrupted"):
        _io.load(bad)


def test_not_an_npz(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an .npz"):
        _io.load(text)
    with pytest.raises(FileNotFoundError):
        _io.load(tmp_path / "absent.npz")


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_loading_cannot_run_code(saved, tmp_path):
    path, arrays = saved
    target = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(str(target))
    for key in ("classes_", "params", "coef_0"):
        bad = _rewrite(tmp_path, arrays, **{key: evil})
        with pytest.raises(ValueError, match="pickled"):
            _io.load(bad)
        assert not target.exists()
    # a plain pickle renamed to .npz is refused before anything is read
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(_Payload(str(target))))
    with pytest.raises(ValueError, match="not an .npz"):
        _io.load(raw)
    assert not target.exists()


def test_file_object_round_trip(digits):
    X, y = digits
    est = _fit(X, y % 2)
    buf = io.BytesIO()
    _io.save(est, buf)
    buf.seek(0)
    back = _io.load(buf)
    assert back.predict_proba(X).tobytes() == est.predict_proba(X).tobytes()


def test_public_save_and_load(digits, tmp_path):
    """``estimator.save`` and ``mlpx.load``, once the estimator has them."""
    import mlpx

    if not hasattr(MLPClassifier, "save") or not hasattr(mlpx, "load"):
        pytest.skip("MLPClassifier.save / mlpx.load not wired up yet")
    X, y = digits
    est = _fit(X, y)
    est.save(tmp_path / "m.npz")
    back = mlpx.load(tmp_path / "m.npz")
    assert isinstance(back, mlpx.MLPClassifier)
    assert back.predict_proba(X).tobytes() == est.predict_proba(X).tobytes()


def test_random_corruption_is_value_error_or_harmless(digits):
    """Flip, cut or insert bytes anywhere: load raises ValueError, or (when
    only zip metadata such as a timestamp changed) gives the same model."""
    X, y = digits
    est = _fit(X, np.array(["a", "b", "c"])[y % 3], max_iter=3)
    buf = io.BytesIO()
    _io.save(est, buf)
    data = buf.getvalue()
    want = est.predict_proba(X).tobytes()
    rng = np.random.default_rng(0)
    for trial in range(300):
        b = bytearray(data)
        if trial % 3 == 0:
            for _ in range(rng.integers(1, 4)):
                b[rng.integers(len(b))] = rng.integers(256)
        elif trial % 3 == 1:
            b = b[: rng.integers(len(b))]
        else:
            i = rng.integers(len(b))
            b[i:i] = bytes(rng.integers(0, 256, rng.integers(1, 10)).astype(np.uint8))
        try:
            back = _io.load(io.BytesIO(bytes(b)))
        except ValueError:
            continue
        assert back.predict_proba(X).tobytes() == want, trial
        assert back.get_params() == est.get_params(), trial


def test_forged_header_cannot_force_a_huge_allocation(saved, tmp_path):
    import zipfile

    path, arrays = saved
    bad = tmp_path / "huge.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "coef_0.npy":
                head = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    head, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
                data = b"\x93NUMPY\x01\x00" + head.getvalue()[8:] + data[-64:]
            dst.writestr(info.filename, data)
    with pytest.raises(ValueError, match=r"coef_0.*claims shape \(1000000, 1000000\)"):
        _io.load(bad)


def test_compressed_member_is_refused(saved, tmp_path):
    path, arrays = saved
    bad = tmp_path / "compressed.npz"
    np.savez_compressed(bad, **arrays)
    with pytest.raises(ValueError, match="compressed"):
        _io.load(bad)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_regressor_round_trip_is_bitwise(digits, tmp_path, loss, solver, dtype):
    from mlpx import MLPRegressor, load

    X, y = digits
    X = X.astype(dtype)
    Y = np.c_[y % 3, y > 4].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(loss=loss, hidden_layer_sizes=(9,), solver=solver, max_iter=20,
                           early_stopping=solver == "adam", random_state=0).fit(X, Y)
    est.save(tmp_path / "reg.npz")
    back = load(tmp_path / "reg.npz")
    assert type(back) is MLPRegressor and back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    for name in ("loss_curve_", "validation_scores_", "n_iter_", "out_activation_",
                 "n_outputs_"):
        assert getattr(back, name, None) == getattr(est, name, None), name


def test_regressor_file_with_wrong_output_activation_raises(digits, tmp_path):
    from mlpx import MLPRegressor, load

    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    est.out_activation_ = "exp"  # a squared_error model claiming exp outputs
    est.save(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="out_activation_ 'exp' does not match"):
        load(tmp_path / "bad.npz")
