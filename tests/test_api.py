"""The public functional API and the backend switch: argument handling,
bad input, dtype rules, caller arrays left alone."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mlpx


def _net(sizes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    coefs = [rng.normal(0, 0.5, (a, b)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    intercepts = [rng.normal(0, 0.5, b).astype(dtype) for b in sizes[1:]]
    return coefs, intercepts


def _data(n, sizes, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    return X, Y


def test_version_and_backend():
    assert isinstance(mlpx.__version__, str) and mlpx.__version__
    assert mlpx.get_backend() in ("native", "numpy")
    wanted = os.environ.get("MLPX_BACKEND")
    if wanted in ("native", "numpy"):
        assert mlpx.get_backend() == wanted


def test_show_config_prints_versions_backend_blas(capsys):
    mlpx.show_config()
    out = capsys.readouterr().out
    for key in ("mlpx:", "numpy:", "backend:", "blas_library:"):
        assert key in out
    assert mlpx.get_backend() in out
    if mlpx.get_backend() == "native":
        assert "blas_threads:" in out and "blas_local:" in out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    sizes = [5, 7, 3]
    W, b = _net(sizes, dtype)
    X, Y = _data(11, sizes, dtype)
    P = mlpx.forward(W, b, X)
    assert P.dtype == dtype and P.shape == (11, 3)
    loss, gW, gb = mlpx.loss_and_grad(W, b, X, Y, alpha=0.1)
    assert type(loss) is float
    assert [g.dtype for g in gW + gb] == [np.dtype(dtype)] * 4
    assert [g.shape for g in gW] == [w.shape for w in W]
    assert [g.shape for g in gb] == [c.shape for c in b]


def test_lists_fortran_strided_readonly_give_the_same_answer():
    sizes = [4, 6, 3]
    W, b = _net(sizes)
    X, Y = _data(9, sizes)
    ref = mlpx.loss_and_grad(W, b, X, Y, alpha=0.01)
    # lists
    got = mlpx.loss_and_grad([w.tolist() for w in W], [c.tolist() for c in b],
                             X.tolist(), Y.tolist(), alpha=0.01)
    assert got[0] == pytest.approx(ref[0], rel=1e-14)
    # Fortran order, strided views, read-only
    Wf = [np.asfortranarray(w) for w in W]
    big = np.zeros((18, 8))
    big[::2, ::2] = X
    Xs = big[::2, ::2]
    assert not Xs.flags.c_contiguous
    for a in W + b + [X, Y]:
        a.flags.writeable = False
    got = mlpx.loss_and_grad(Wf, b, Xs, Y, alpha=0.01)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-14)
    for g, r in zip(got[1] + got[2], ref[1] + ref[2]):
        np.testing.assert_allclose(g, r, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(mlpx.forward(Wf, b, Xs), mlpx.forward(W, b, X), rtol=1e-14)


def test_integer_X_is_converted():
    W, b = _net([3, 2])
    X = np.array([[1, 2, 3], [0, -1, 4]])
    np.testing.assert_allclose(
        mlpx.forward(W, b, X, out_activation="logistic"),
        mlpx.forward(W, b, X.astype(float), out_activation="logistic"),
    )


@pytest.mark.parametrize("out", ["logistic", "softmax", "identity"])
@pytest.mark.parametrize("act", ["logistic", "tanh", "relu", "identity"])
def test_caller_arrays_are_not_modified(act, out):
    sizes = [4, 5, 3]
    W, b = _net(sizes)
    X, Y = _data(7, sizes)
    sw = np.linspace(0.5, 2, 7)
    before = [a.copy() for a in W + b + [X, Y, sw]]
    mlpx.forward(W, b, X, activation=act, out_activation=out)
    mlpx.loss_and_grad(W, b, X, Y, activation=act, out_activation=out, alpha=0.3,
                       sample_weight=sw)
    for a, c in zip(W + b + [X, Y, sw], before):
        np.testing.assert_array_equal(a, c)


def test_1d_Y_accepted_for_one_output():
    W, b = _net([3, 4, 1])
    X, _ = _data(6, [3, 4, 1])
    y = np.array([0, 1, 1, 0, 1, 0.0])
    a = mlpx.loss_and_grad(W, b, X, y, out_activation="logistic")
    c = mlpx.loss_and_grad(W, b, X, y[:, None], out_activation="logistic")
    assert a[0] == c[0]


def _bad_calls():
    W, b = _net([3, 4, 2])
    X, Y = _data(5, [3, 4, 2])
    Wf32 = [w.astype(np.float32) for w in W]
    nanX = X.copy()
    nanX[2, 1] = np.nan
    infY = Y.copy()
    infY[0, 0] = np.inf
    fwd, lg = mlpx.forward, mlpx.loss_and_grad
    return [
        ("shapes do not chain", ValueError, "coefs[1]", lambda: fwd([W[0], W[1][:3]], b, X)),
        ("intercept length", ValueError, "intercepts[0]", lambda: fwd(W, [b[0][:3], b[1]], X)),
        ("layer count", ValueError, "intercepts", lambda: fwd(W, b[:1], X)),
        ("no layers", ValueError, "coefs", lambda: fwd([], [], X)),
        ("coefs not a list", TypeError, "coefs", lambda: fwd(W[0], b, X)),
        ("1-D coef", ValueError, "coefs[0]", lambda: fwd([W[0].ravel(), W[1]], b, X)),
        ("mixed param dtypes", TypeError, "float32", lambda: fwd([Wf32[0], W[1]], b, X)),
        ("X dtype vs coefs", TypeError, "X", lambda: fwd(Wf32, [c.astype(np.float32) for c in b], X)),
        ("wrong n_features", ValueError, "features", lambda: fwd(W, b, X[:, :2])),
        ("1-D X", ValueError, "2-D", lambda: fwd(W, b, X[0])),
        ("3-D X", ValueError, "2-D", lambda: fwd(W, b, X[None])),
        ("empty X", ValueError, "empty", lambda: fwd(W, b, X[:0])),
        ("NaN in X", ValueError, "NaN", lambda: fwd(W, b, nanX)),
        ("inf in Y", ValueError, "Y", lambda: lg(W, b, X, infY)),
        ("NaN in coefs", ValueError, "coefs[0]", lambda: fwd([np.full_like(W[0], np.nan), W[1]], b, X)),
        ("complex X", TypeError, "X", lambda: fwd(W, b, X.astype(complex))),
        ("object X", TypeError, "X", lambda: fwd(W, b, X.astype(object))),
        ("string X", TypeError, "X", lambda: fwd(W, b, X.astype(str))),
        ("ragged X", ValueError, "X", lambda: fwd(W, b, [[1, 2, 3], [1, 2]])),
        ("float16 X", TypeError, "float16", lambda: fwd(W, b, X.astype(np.float16))),
        ("unknown activation", ValueError, "activation", lambda: fwd(W, b, X, activation="gelu")),
        ("unknown output", ValueError, "out_activation", lambda: fwd(W, b, X, out_activation="gelu")),
        ("exp output, negative Y", ValueError, "Y must be >= 0",
         lambda: lg(W, b, X, -np.abs(Y), out_activation="exp")),
        ("hidden exp", ValueError, "activation", lambda: fwd(W, b, X, activation="exp")),
        ("Y rows", ValueError, "Y", lambda: lg(W, b, X, Y[:4])),
        ("Y columns", ValueError, "Y", lambda: lg(W, b, X, Y[:, :1])),
        ("negative alpha", ValueError, "alpha", lambda: lg(W, b, X, Y, alpha=-1)),
        ("NaN alpha", ValueError, "alpha", lambda: lg(W, b, X, Y, alpha=float("nan"))),
        ("string alpha", TypeError, "alpha", lambda: lg(W, b, X, Y, alpha="0.1")),
        ("sample_weight length", ValueError, "sample_weight", lambda: lg(W, b, X, Y, sample_weight=np.ones(4))),
        ("negative sample_weight", ValueError, "sample_weight", lambda: lg(W, b, X, Y, sample_weight=-np.ones(5))),
        ("zero sample_weight", ValueError, "sample_weight", lambda: lg(W, b, X, Y, sample_weight=np.zeros(5))),
        ("NaN sample_weight", ValueError, "sample_weight", lambda: lg(W, b, X, Y, sample_weight=np.full(5, np.nan))),
    ]


@pytest.mark.parametrize("case", _bad_calls(), ids=lambda c: c[0])
def test_bad_input_raises_a_clear_error(case):
    _, exc, fragment, call = case
    with pytest.raises(exc, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        call()


def _package_copy_without_extension(tmp_path):
    src = os.path.dirname(mlpx.__file__)
    dst = tmp_path / "mlpx"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_core*.so", "_core*.pyd", "__pycache__"))
    return tmp_path


def _run(code, env_extra, path):
    env = {k: v for k, v in os.environ.items() if k != "MLPX_BACKEND"}
    env.update(env_extra)
    env["PYTHONPATH"] = str(path)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, cwd=path, timeout=120)


def test_auto_falls_back_with_a_warning_naming_the_cause(tmp_path):
    path = _package_copy_without_extension(tmp_path)
    r = _run("""
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import mlpx
        print(mlpx.get_backend())
        print([str(x.message) for x in w])
        """, {"MLPX_BACKEND": "auto"}, path)
    assert r.returncode == 0, r.stderr
    backend, messages = r.stdout.splitlines()
    assert backend == "numpy"
    assert "mlpx._core" in messages and "NumPy backend" in messages


def test_native_raises_when_the_extension_is_missing(tmp_path):
    path = _package_copy_without_extension(tmp_path)
    r = _run("import mlpx", {"MLPX_BACKEND": "native"}, path)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "MLPX_BACKEND=native" in r.stderr


def test_numpy_backend_is_silent_and_unknown_backend_is_an_error(tmp_path):
    path = _package_copy_without_extension(tmp_path)
    r = _run("import warnings; warnings.simplefilter('error'); import mlpx; print(mlpx.get_backend())",
             {"MLPX_BACKEND": "numpy"}, path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "numpy"
    r = _run("import mlpx", {"MLPX_BACKEND": "fortran"}, path)
    assert r.returncode != 0 and "MLPX_BACKEND='fortran'" in r.stderr
