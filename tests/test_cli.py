"""``python -m mlpx train / predict / info`` in subprocesses, on a small CSV
(and an .npz) written to tmp_path; user errors exit 2 with one stderr line."""

import argparse
import csv
import functools
import os
import subprocess
import sys

import numpy as np
import pytest

import mlpx
from mlpx import _io

SRC = os.path.dirname(os.path.dirname(os.path.abspath(mlpx.__file__)))
FEATURES = ["a", "b", "c"]


def _main_subparsers():
    """``python -m mlpx``'s subcommand parsers, by name."""
    from mlpx.__main__ import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@functools.lru_cache(maxsize=None)
def _entry():
    """``mlpx`` once ``__main__`` has the commands, else ``mlpx._cli``."""
    return "mlpx" if "train" in _main_subparsers() else "mlpx._cli"


def _run(module, *args, cwd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONWARNINGS"] = "ignore::RuntimeWarning"  # backend fallback notice
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def mlpx_cmd(*args, **kw):
    return _run(_entry(), *args, **kw)


def _write_csv(path, X, y, names=FEATURES, target="kind"):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(names) + ([target] if y is not None else []))
        for i in range(len(X)):
            w.writerow([repr(float(v)) for v in X[i]] + ([y[i]] if y is not None else []))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 3))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "yes", "no")
    _write_csv(d / "train.csv", X, y)
    # prediction file: extra column first, features in another order
    with open(d / "new.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "c", "a", "b"])
        for i in range(5):
            w.writerow([i, X[i, 2], X[i, 0], X[i, 1]])
    np.savez(d / "train.npz", X=X, y=(y == "yes").astype(int))
    return d, X, y


def _main():
    """The entry point's ``main(argv)``, for the in-process checks."""
    if _entry() == "mlpx":
        from mlpx.__main__ import main
    else:
        from mlpx._cli import main
    return main


def test_help_on_every_command(capsys):
    for cmd in ("train", "predict", "info"):
        with pytest.raises(SystemExit) as info:
            _main()([cmd, "--help"])
        assert info.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_train_then_predict_csv(data, tmp_path):
    d, X, y = data
    model = tmp_path / "model.npz"
    done = mlpx_cmd("train", d / "train.csv", "--target", "kind", "--hidden", "8,4",
                    "--activation", "tanh", "--solver", "lbfgs", "--max-iter", "300",
                    "--out", model)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for key in ("fit time:", "training loss:", "held-out accuracy:", "saved:"):
        assert key in out
    accuracy = float(out.split("held-out accuracy:")[1].split()[0])
    assert accuracy >= 0.9
    assert "Traceback" not in done.stderr

    est = _io.load(model)
    assert est.hidden_layer_sizes == (8, 4) and est.activation == "tanh"
    assert list(est.feature_names_in_) == FEATURES
    est.feature_names_in_ = None  # compare on plain arrays below
    del est.feature_names_in_

    done = mlpx_cmd("predict", model, d / "new.csv", "--proba")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(done.stdout.splitlines()))
    assert rows[0] == ["label", "proba_no", "proba_yes"] and len(rows) == 6
    assert [r[0] for r in rows[1:]] == list(est.predict(X[:5]))
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_array_equal(P, est.predict_proba(X[:5]))  # shortest repr round-trips


def test_train_npz_and_predict_npz(data, tmp_path):
    d, X, _ = data
    model = tmp_path / "m.npz"
    done = mlpx_cmd("train", d / "train.npz", "--max-iter", "30", "--dtype", "float32",
                    "--out", model)
    assert done.returncode == 0, done.stderr
    assert "max_iter reached" in done.stdout and "Warning" not in done.stderr
    np.savez(tmp_path / "X.npz", X=X[:4])
    done = mlpx_cmd("predict", model, tmp_path / "X.npz", "--proba")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "label,proba_0,proba_1"
    assert len(done.stdout.splitlines()) == 5


def test_demo_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib", reason="demo --plot needs the mlpx[plot] extra")
    if "--plot" not in _main_subparsers()["demo"]._option_string_actions:
        pytest.skip("mlpx demo has no --plot option yet")
    png = tmp_path / "curve.png"
    done = _run("mlpx", "demo", "--no-sklearn", "--plot", png)
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info_prints_show_config():
    done = mlpx_cmd("info")
    assert done.returncode == 0, done.stderr
    for key in ("mlpx:", "numpy:", "backend:", "blas_library:"):
        assert key in done.stdout


def _bad_files(d, tmp):
    words = tmp / "words.csv"
    words.write_text("a,b,kind\n1.0,2.0,x\n1.5,oops,y\n")
    ragged = tmp / "ragged.csv"
    ragged.write_text("a,b,kind\n1,2,x\n3,y\n")
    empty = tmp / "empty.csv"
    empty.write_text("")
    holes = tmp / "holes.csv"
    holes.write_text("a,b,kind\n1,2,x\n\n3,4,y\n1,2,x\n5,,y\n")
    folder = tmp / "folder.npz"
    folder.mkdir(exist_ok=True)
    obj = tmp / "obj.npz"
    np.savez(obj, X=np.ones((4, 2)), y=np.array(["a", None, "b", "a"], dtype=object))
    return {
        "missing data file": (["train", tmp / "absent.csv", "--target", "kind"], "no such file"),
        "bad column": (["train", d / "train.csv", "--target", "nope"], "no column 'nope'"),
        "non-numeric column": (["train", words, "--target", "kind"], "column 'b'"),
        "no target for csv": (["train", d / "train.csv"], "--target"),
        "ragged csv": (["train", ragged, "--target", "kind"], "data row 2 (line 3)"),
        "empty csv": (["train", empty, "--target", "kind"], "empty"),
        "missing value": (["train", holes, "--target", "kind"],
                          "column 'b' of " + str(holes) + " has a missing value on data row 4 (line 6"),
        "--target with npz": (["train", d / "train.npz", "--target", "kind"], "--target"),
        "object y in npz": (["train", obj], "y in " + str(obj) + " is an object array"),
        "bad --hidden": (["train", d / "train.csv", "--target", "kind", "--hidden", "16,abc"],
                         "--hidden"),
        "unknown option": (["train", d / "train.csv", "--target", "kind", "--nope"], "--nope"),
        "out in a missing folder": (["train", d / "train.csv", "--target", "kind",
                                     "--out", tmp / "absent" / "m.npz"], "no such directory"),
        "out is a folder": (["train", d / "train.csv", "--target", "kind", "--out", folder],
                            "is a directory"),
        "not csv or npz": (["train", tmp / "model.txt", "--target", "kind"], None),
        "npz without y": (["train", tmp / "X.npz"], "no array 'y'"),
        "missing model": (["predict", tmp / "absent.npz", d / "new.csv"], "no such file"),
        "model is not a model": (["predict", d / "train.csv", d / "new.csv"], "not a valid mlpx model"),
        "prediction data lacks a feature": (["predict", tmp / "model.npz", words], "no column 'c'"),
        "missing prediction data": (["predict", tmp / "model.npz", tmp / "absent.csv"], "no such file"),
    }


def test_user_errors_exit_2_with_one_line(data, tmp_path, capsys):
    """Every case in-process through ``main(argv)``, one also as a process."""
    d, X, y = data
    np.savez(tmp_path / "X.npz", X=X)
    (tmp_path / "model.txt").write_text("a,b\n1,2\n")
    model = tmp_path / "model.npz"
    main = _main()
    assert main(["train", str(d / "train.csv"), "--target", "kind", "--max-iter", "5",
                 "--out", str(model)]) == 0
    capsys.readouterr()
    cases = _bad_files(d, tmp_path)
    for case, (args, message) in cases.items():
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
        out, err = capsys.readouterr()
        assert "usage:" not in err and "data:" not in out, (case, out, err)
        assert status == 2, (case, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mlpx"), (case, err)
        if message:
            assert message in lines[0], (case, lines[0])
    for case in ("non-numeric column", "bad --hidden"):
        done = mlpx_cmd(*cases[case][0])
        assert done.returncode == 2, (case, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (case, done.stderr)
        assert "Traceback" not in done.stderr and cases[case][1] in done.stderr


def test_train_regress_auto_then_predict(data, tmp_path):
    d, X, _ = data
    y = 2.0 * X[:, 0] - X[:, 1] + 0.1 * X[:, 2]
    _write_csv(tmp_path / "reg.csv", X, [repr(float(v)) for v in y], target="value")
    model = tmp_path / "reg.npz"
    done = mlpx_cmd("train", tmp_path / "reg.csv", "--target", "value", "--solver", "lbfgs",
                    "--max-iter", "300", "--hidden", "8", "--out", model)
    assert done.returncode == 0, done.stderr
    assert "task: regress (MLPRegressor; auto: a float target with 240 distinct values)" \
        in done.stdout
    r2 = float(done.stdout.split("held-out R²:")[1].split()[0])
    assert r2 > 0.95
    est = _io.load(model)
    assert type(est).__name__ == "MLPRegressor"
    del est.feature_names_in_
    done = mlpx_cmd("predict", model, d / "new.csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(done.stdout.splitlines()))
    assert rows[0] == ["prediction"] and len(rows) == 6
    np.testing.assert_array_equal([float(r[0]) for r in rows[1:]], est.predict(X[:5]))
    done = mlpx_cmd("predict", model, d / "new.csv", "--proba")
    assert done.returncode == 2 and "regressor" in done.stderr


def test_task_auto_classifies_labels_and_explicit_task_wins(data, tmp_path):
    d, X, _ = data
    done = mlpx_cmd("train", d / "train.npz", "--max-iter", "5")
    assert done.returncode == 0, done.stderr
    assert "task: classify (MLPClassifier; auto: a label target with 2 distinct values)" \
        in done.stdout
    done = mlpx_cmd("train", d / "train.npz", "--max-iter", "5", "--task", "regress")
    assert done.returncode == 0, done.stderr
    assert "task: regress (MLPRegressor; --task)" in done.stdout and "held-out R²" in done.stdout
    done = mlpx_cmd("train", d / "train.csv", "--target", "kind", "--task", "regress")
    assert done.returncode == 2 and "numeric target" in done.stderr


def test_no_command_is_one_line_naming_the_commands():
    done = _run("mlpx")
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.strip().splitlines() == [
        "mlpx: error: give a command: demo, train, predict, info (see mlpx --help)"]


def test_version():
    done = _run("mlpx", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"mlpx {mlpx.__version__}"


@pytest.mark.parametrize("name,sep", [("semi.csv", ";"), ("tabs.csv", "\t"), ("data.tsv", "\t")])
def test_train_reads_semicolon_and_tab_files(data, tmp_path, name, sep):
    d, X, y = data
    path = tmp_path / name
    lines = [sep.join(FEATURES + ["kind"])]
    lines += [sep.join([repr(float(v)) for v in X[i]] + [y[i]]) for i in range(len(X))]
    path.write_text("\n".join(lines) + "\n")
    done = mlpx_cmd("train", path, "--target", "kind", "--max-iter", "5")
    assert done.returncode == 0, done.stderr
    assert f"{len(X)} rows, 3 features, 2 classes" in done.stdout


def test_train_without_out_says_the_model_is_not_saved(data):
    d, X, y = data
    done = mlpx_cmd("train", d / "train.csv", "--target", "kind", "--max-iter", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "not saved: give --out MODEL.npz to keep the model"


def test_demo_runs_both_libraries_under_one_thread_limit():
    done = _run("mlpx", "demo", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "threads: BLAS limited to 1 for both libraries (threadpoolctl)" in done.stdout
    assert "scikit-learn / mlpx:" in done.stdout
    assert "test predictions after 10 epochs identical" in done.stdout
