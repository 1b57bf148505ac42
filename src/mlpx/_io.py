"""Save and load a fitted ``MLPClassifier`` or ``MLPRegressor`` as one
``.npz`` file, without pickle.

The file is ``numpy.savez`` output read back with ``allow_pickle=False``, so
loading a file from someone else can allocate arrays but never run code. It
holds:

========================  ====================================================
key                       content
========================  ====================================================
``format``                str, ``"mlpx.MLPClassifier"`` or ``"mlpx.MLPRegressor"``
``format_version``        int (``FORMAT_VERSION``); other versions are refused
``mlpx_version``          str, the mlpx that wrote the file (informational)
``params``                str, JSON of ``get_params()``
``attrs``                 str, JSON of the scalar fitted attributes
``coef_<i>``              ``coefs_[i]``, float32 or float64, i = 0..n_layers_-2
``intercept_<i>``         ``intercepts_[i]``
``classes_``              numbers, bools or unicode strings (object dtype is
                          stored as unicode and restored as object);
                          classifiers only
``loss_curve_``           float64, optional (stochastic solvers)
``validation_scores_``    float64, optional (early stopping)
``feature_names_in_``     unicode, optional
========================  ====================================================

``load`` reads the zip itself: every member must be a stored (uncompressed)
``.npy`` whose header agrees with its byte count before any array is
allocated (a forged header cannot make it allocate more than the file
holds), no member may hold objects, and every member is read to its end so
that its CRC is checked. It then checks everything it read (keys, format
version, dtypes, shapes that chain, class count against the output layer,
parameter values) and raises ValueError naming the problem.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from numbers import Integral, Real
from typing import Any, BinaryIO, Callable, Dict, NoReturn, Union

import numpy as np

from ._version import __version__

FORMAT = "mlpx.MLPClassifier"
REGRESSOR_FORMAT = "mlpx.MLPRegressor"
FORMAT_VERSION = 1

# format name -> the estimator class that ``load`` rebuilds; filled by
# ``register`` where the class is defined, so that this module never imports
# the estimators (they import it, to save)
_CLASSES: Dict[str, Callable[[], Any]] = {}


def register(cls: type) -> type:
    """Class decorator: ``load`` rebuilds files of format ``"mlpx.<name>"``
    as instances of ``cls`` (made with no arguments, then ``set_params``)."""
    _CLASSES[f"mlpx.{cls.__name__}"] = cls
    return cls

PathLike = Union[str, "os.PathLike[str]"]

# scalar fitted attributes kept in "attrs" (present when the estimator has them)
_SCALARS = ("n_features_in_", "n_layers_", "n_outputs_", "out_activation_",
            "n_iter_", "t_", "loss_", "best_loss_", "best_validation_score_",
            "_no_improvement_count")
_OPTIONAL_ARRAYS = ("loss_curve_", "validation_scores_", "feature_names_in_")
_Y_TYPES = {"binary", "multiclass", "multilabel-indicator"}
_MAX_MEMBERS = 1024  # far more than any network has layers


def _to_json(value: Any) -> Any:
    """JSON-ready copy of a parameter or scalar attribute (numpy scalars too)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (Integral, np.integer)):
        return int(value)
    if isinstance(value, (Real, np.floating)):
        return float(value)  # inf and nan are written as Infinity / NaN
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_to_json(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot store {type(value).__name__} value {value!r}")


def save(estimator: Any, path: Union[PathLike, BinaryIO]) -> None:
    """Write a fitted ``mlpx.MLPClassifier`` or ``MLPRegressor`` to ``path``
    (one ``.npz`` file, or an open binary file).

    ``numpy.savez`` appends ``.npz`` to a path without it. A ``random_state``
    that is a ``RandomState`` instance cannot be stored and is saved as None,
    and so are a ``class_weight`` dict (or list) and a callable ``scoring``
    (they act on training only; predictions do not depend on them).
    """
    from sklearn.base import is_regressor
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "coefs_")
    regressor = is_regressor(estimator)
    params = estimator.get_params(deep=False)
    if not isinstance(params.get("random_state"), (type(None), Integral, np.integer)):
        params["random_state"] = None
    for name in ("class_weight", "scoring"):  # training only; a dict's keys, a
        if not isinstance(params.get(name), (type(None), str)):  # callable: no JSON
            params[name] = None
    arrays: Dict[str, Any] = {
        "format": np.array(REGRESSOR_FORMAT if regressor else FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "mlpx_version": np.array(__version__),
        "params": np.array(json.dumps({k: _to_json(v) for k, v in params.items()})),
    }
    attrs = {k: _to_json(getattr(estimator, k)) for k in _SCALARS if hasattr(estimator, k)}
    if regressor:
        arrays["attrs"] = np.array(json.dumps(attrs))
    else:
        _save_classes(estimator, attrs, arrays)
    for i, (W, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        arrays[f"coef_{i}"] = np.asarray(W)
        arrays[f"intercept_{i}"] = np.asarray(b)
    for name in _OPTIONAL_ARRAYS:
        value = getattr(estimator, name, None)
        if value is not None:
            value = np.asarray(value)
            arrays[name] = value.astype(str) if value.dtype == object else value
    np.savez(path, **arrays)


def _save_classes(estimator, attrs, arrays):
    """A classifier's classes_, their dtype and target type."""
    classes = np.asarray(estimator.classes_)
    attrs["classes_dtype"] = "object" if classes.dtype == object else classes.dtype.str
    if classes.dtype == object:
        if not all(isinstance(c, str) for c in classes):
            raise TypeError("classes_ of object dtype must all be strings to be saved")
        classes = classes.astype(str)
    attrs["y_type"] = estimator._label_binarizer.y_type_
    arrays["attrs"] = np.array(json.dumps(attrs))
    arrays["classes_"] = classes


def _fail(path: Any, what: str) -> NoReturn:
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else getattr(path, "name", "<file>")
    raise ValueError(f"{name}: not a valid mlpx model file: {what}")


def _archive_size(path: Any) -> int:
    if hasattr(path, "seek"):
        here = path.tell()
        size = path.seek(0, os.SEEK_END)
        path.seek(here)
        return int(size)
    return os.path.getsize(path)


def _member(path: Any, zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int) -> np.ndarray:
    """One ``.npy`` member, its header checked against its size before any
    array is allocated, then read in full (so its CRC is checked)."""
    key = info.filename[:-4]
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        _fail(path, f"member {key!r} is compressed (mlpx writes stored members only)")
    if info.header_offset + info.file_size > size:
        _fail(path, f"member {key!r} claims more bytes than the file has (truncated?)")
    fmt = np.lib.format
    with zf.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:
            _fail(path, f"member {key!r} has .npy version {version}")
        if dtype.hasobject:
            _fail(path, f"member {key!r} holds a pickled (object) array, which is never loaded")
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size - f.tell() != nbytes:
            _fail(path, f"member {key!r} claims shape {shape} of {dtype} ({nbytes} bytes) "
                        f"but holds {info.file_size - f.tell()} bytes")
    with zf.open(info) as f:
        array = fmt.read_array(f, allow_pickle=False)
        f.read()  # reach the end: the CRC is checked there
    return array


def _read_all(path: Any) -> Dict[str, np.ndarray]:
    """Every array of the npz. Headers are checked against the members'
    sizes before anything is allocated; every member is read in full."""
    if hasattr(path, "read"):  # an open binary file
        start = path.tell()
        magic = path.read(4)
        path.seek(start)
    else:
        with open(path, "rb") as f:  # a missing file raises FileNotFoundError
            magic = f.read(4)
    if magic != b"PK\x03\x04":
        _fail(path, "not an .npz (zip) file")
    size = _archive_size(path)
    arrays: Dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > _MAX_MEMBERS:
                _fail(path, f"{len(infos)} members (an mlpx model has at most {_MAX_MEMBERS})")
            for info in infos:
                if not info.filename.endswith(".npy"):
                    _fail(path, f"unexpected member {info.filename!r}")
                key = info.filename[:-4]
                if key in arrays:
                    _fail(path, f"member {key!r} appears twice")
                arrays[key] = _member(path, zf, info, size)
    except ValueError as exc:
        if "not a valid mlpx model file" in str(exc):
            raise
        _fail(path, f"unreadable array ({exc})")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError,
            NotImplementedError, RuntimeError, struct.error, zlib.error) as exc:
        _fail(path, f"truncated or corrupted ({type(exc).__name__}: {exc})")
    return arrays


def _text(path, data, key) -> str:
    a = data[key]
    if a.shape != () or a.dtype.kind != "U":
        _fail(path, f"{key!r} must be a string")
    return str(a)


def _json(path, data, key) -> dict:
    try:
        value = json.loads(_text(path, data, key))
    except json.JSONDecodeError as exc:
        _fail(path, f"{key!r} is not valid JSON ({exc})")
    if not isinstance(value, dict):
        _fail(path, f"{key!r} must hold a JSON object")
    return value


def load(path: Union[PathLike, BinaryIO]) -> Any:
    """Read a model written by ``save``; returns a fitted ``mlpx.MLPClassifier``
    or ``mlpx.MLPRegressor``, as saved.

    Predictions are bitwise equal to the saved estimator's. Raises
    ValueError naming the problem when the file is not an mlpx model,
    has an unknown format version, misses keys, has unexpected keys, or
    holds arrays of the wrong dtype or shape; FileNotFoundError when there
    is no file.
    """

    data = _read_all(path)
    for key in ("format", "format_version", "params", "attrs", "mlpx_version"):
        if key not in data:
            _fail(path, f"missing key {key!r}")
    fmt = _text(path, data, "format")
    if fmt not in (FORMAT, REGRESSOR_FORMAT):
        _fail(path, f"format is {fmt!r}, expected {FORMAT!r} or {REGRESSOR_FORMAT!r}")
    regressor = fmt == REGRESSOR_FORMAT
    if not regressor and "classes_" not in data:
        _fail(path, "missing key 'classes_'")
    version = data["format_version"]
    if version.shape != () or version.dtype.kind not in "iu":
        _fail(path, "'format_version' must be an integer")
    if int(version) != FORMAT_VERSION:
        _fail(path, f"format version {int(version)} is not supported "
                    f"(this mlpx reads version {FORMAT_VERSION})")
    _text(path, data, "mlpx_version")

    params = _json(path, data, "params")
    attrs = _json(path, data, "attrs")
    class_keys = () if regressor else ("classes_dtype", "y_type")
    for key in ("n_features_in_", "n_layers_", "n_outputs_", "out_activation_") + class_keys:
        if key not in attrs:
            _fail(path, f"missing attribute {key!r} in 'attrs'")
    for key in attrs:
        if key not in _SCALARS + class_keys:
            _fail(path, f"unknown attribute {key!r} in 'attrs'")

    est = _CLASSES[fmt]()
    unknown = set(params) - set(est.get_params(deep=False))
    if unknown:
        _fail(path, f"unknown parameters {sorted(unknown)}")
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    est.set_params(**params)
    try:
        est._validate_params()
    except ValueError as exc:
        _fail(path, f"bad parameter value ({exc})")

    n_layers = attrs["n_layers_"]
    if not isinstance(n_layers, int) or n_layers < 2:
        _fail(path, f"n_layers_ must be an integer >= 2, got {n_layers!r}")
    expected = {"format", "format_version", "mlpx_version", "params", "attrs"}
    expected |= set() if regressor else {"classes_"}
    expected |= {f"coef_{i}" for i in range(n_layers - 1)}
    expected |= {f"intercept_{i}" for i in range(n_layers - 1)}
    missing = sorted(expected - set(data), key=lambda k: (len(k), k))
    if missing:
        _fail(path, f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    extra = sorted(set(data) - expected - set(_OPTIONAL_ARRAYS))
    if extra:
        _fail(path, f"unexpected key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}")

    coefs = [data[f"coef_{i}"] for i in range(n_layers - 1)]
    intercepts = [data[f"intercept_{i}"] for i in range(n_layers - 1)]
    dtype = coefs[0].dtype
    if dtype not in (np.float32, np.float64):
        _fail(path, f"coef_0 has dtype {dtype}, expected float32 or float64")
    fan_in = attrs["n_features_in_"]
    if not isinstance(fan_in, int) or fan_in < 1:
        _fail(path, f"n_features_in_ must be a positive integer, got {fan_in!r}")
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        for name, a in ((f"coef_{i}", W), (f"intercept_{i}", b)):
            if a.dtype != dtype:
                _fail(path, f"{name} has dtype {a.dtype}, expected {dtype} like coef_0")
            if not np.isfinite(a).all():
                _fail(path, f"{name} holds non-finite values")
        if W.ndim != 2 or W.shape[0] != fan_in:
            _fail(path, f"coef_{i} has shape {W.shape}, expected ({fan_in}, n)")
        if b.shape != (W.shape[1],):
            _fail(path, f"intercept_{i} has shape {b.shape}, expected ({W.shape[1]},)")
        fan_in = W.shape[1]
    hidden = est.hidden_layer_sizes
    hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
    if [W.shape[1] for W in coefs[:-1]] != hidden:
        _fail(path, f"layer widths {[W.shape[1] for W in coefs[:-1]]} do not match "
                    f"hidden_layer_sizes={est.hidden_layer_sizes}")

    if regressor:
        n_outputs = attrs["n_outputs_"]
        if n_outputs != coefs[-1].shape[1]:
            _fail(path, f"n_outputs_={n_outputs!r}, last layer has {coefs[-1].shape[1]}")
        want_act = "exp" if est.loss == "poisson" else "identity"
        if attrs["out_activation_"] != want_act:
            _fail(path, f"out_activation_ {attrs['out_activation_']!r} does not match "
                        f"loss={est.loss!r} (expected {want_act!r})")
    else:
        _load_classes(path, data, attrs, coefs, est)
    return _finish(path, data, attrs, coefs, intercepts, est)


def _load_classes(path, data, attrs, coefs, est):
    """A classifier's classes_ and label binarizer, checked against its
    output layer."""
    from sklearn.preprocessing import LabelBinarizer

    y_type, n_outputs = attrs["y_type"], attrs["n_outputs_"]
    classes = data["classes_"]
    if y_type not in _Y_TYPES:
        _fail(path, f"y_type {y_type!r} is not one of {sorted(_Y_TYPES)}")
    if classes.ndim != 1 or classes.dtype.kind not in "biufU":
        _fail(path, f"classes_ must be a 1-d array of numbers or strings, got "
                    f"dtype {classes.dtype} and shape {classes.shape}")
    if len(np.unique(classes)) != len(classes):
        _fail(path, "classes_ holds duplicates")
    want_outputs = 1 if y_type == "binary" else len(classes)
    if n_outputs != want_outputs or coefs[-1].shape[1] != n_outputs:
        _fail(path, f"{len(classes)} classes ({y_type}) need {want_outputs} outputs; "
                    f"n_outputs_={n_outputs!r}, last layer has {coefs[-1].shape[1]}")
    want_act = "softmax" if y_type == "multiclass" else "logistic"
    if attrs["out_activation_"] != want_act:
        _fail(path, f"out_activation_ {attrs['out_activation_']!r} does not match "
                    f"a {y_type} target (expected {want_act!r})")
    if attrs["classes_dtype"] == "object":
        if classes.dtype.kind != "U":
            _fail(path, "classes_dtype 'object' needs string classes_")
        classes = classes.astype(object)
    elif attrs["classes_dtype"] != classes.dtype.str:
        _fail(path, f"classes_ has dtype {classes.dtype.str}, 'attrs' says "
                    f"{attrs['classes_dtype']}")
    lb = LabelBinarizer()
    lb.classes_, lb.y_type_, lb.sparse_input_ = classes, y_type, False
    est._label_binarizer = lb
    est.classes_ = classes


def _finish(path, data, attrs, coefs, intercepts, est):
    """The optional curves and names, the weights and scalar attributes."""
    curves = {}
    for name in _OPTIONAL_ARRAYS:
        if name in data:
            a = data[name]
            kind = "U" if name == "feature_names_in_" else "f"
            if a.ndim != 1 or a.dtype.kind != kind:
                _fail(path, f"{name} must be a 1-d {'string' if kind == 'U' else 'float'} array")
            curves[name] = a
    if "feature_names_in_" in curves and len(curves["feature_names_in_"]) != attrs["n_features_in_"]:
        _fail(path, "feature_names_in_ does not have n_features_in_ entries")

    est.coefs_ = [np.ascontiguousarray(W) for W in coefs]
    est.intercepts_ = [np.ascontiguousarray(b) for b in intercepts]
    est._best_coefs = [W.copy() for W in est.coefs_]
    est._best_intercepts = [b.copy() for b in est.intercepts_]
    for key in _SCALARS:
        if key in attrs:
            setattr(est, key, attrs[key])
    if "loss_curve_" in curves:
        est.loss_curve_ = [float(v) for v in curves["loss_curve_"]]
    if "validation_scores_" in curves:
        est.validation_scores_ = [float(v) for v in curves["validation_scores_"]]
    elif "loss_curve_" in curves:
        est.validation_scores_ = None
    if "feature_names_in_" in curves:
        est.feature_names_in_ = curves["feature_names_in_"].astype(object)
    return est
