"""The commands of ``python -m mlpx`` (also installed as ``mlpx``).

``COMMANDS``: name -> (help, add_arguments(parser), run(args) -> exit
status). ``add_commands(subparsers)`` registers them on any argparse
subparsers object (each sets ``func``); ``main(argv)`` is the entry point.

    mlpx train DATA --target COLUMN [--task auto|classify|regress]
               [--hidden 64,32] [--activation A] [--solver S] [--max-iter N]
               [--out model.npz]
    mlpx predict MODEL DATA [--proba]
    mlpx info
    mlpx demo [--threads N] [--plot FILE]   (mlpx._demo)
    mlpx --version

DATA is a ``.csv`` (or ``.tsv``) file with a header row (every column but
the target must be numeric; the delimiter, comma, semicolon or tab, is read
from the header) or a ``.npz`` file with arrays ``X`` and ``y``. User errors
(a missing file, an unknown column, a missing or non-numeric value, a bad
model file, a bad option) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from typing import Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

import numpy as np

from . import _demo
from ._activations import ACTIVATIONS
from ._version import __version__

USER_ERROR = 2


class CLIError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


# ------------------------------------------------------------------ data


# cells that mean "no value" in CSV files written by common tools
_MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
_DELIMITERS = ",;\t"


def _parse_number(text: str) -> float:
    return float(text)  # ValueError for anything else ("", "abc")


def _delimiter(path: str, header: str) -> str:
    """Tab for ``.tsv``; else the first of comma, semicolon, tab that the
    header row holds (a one-column file: comma)."""
    if path.lower().endswith(".tsv"):
        return "\t"
    return next((d for d in _DELIMITERS if d in header), ",")


def _labels(values: List[str]) -> np.ndarray:
    """Target column as int if every value is an integer, else float, else str."""
    for kind in (int, float):
        try:
            return np.array([kind(v) for v in values])
        except ValueError:
            pass
    return np.array(values)


def read_csv(path: str, target: Optional[str] = None,
             features: Optional[Sequence[str]] = None
             ) -> Tuple[np.ndarray, Optional[np.ndarray], List[str]]:
    """Return ``(X, y, feature_names)`` from a CSV file with a header row.

    ``y`` is the ``target`` column (None when no target is given). The
    features are the columns named in ``features`` (in that order; other
    columns are ignored), by default every column but the target; each must
    be numeric.
    """
    with open(path, newline="") as f:
        first = f.readline()
        f.seek(0)
        rows = list(csv.reader(f, delimiter=_delimiter(path, first)))
    if not rows:
        raise CLIError(f"{path} is empty")
    header = [h.strip() for h in rows[0]]
    # (line number, row) of the data rows; blank lines are skipped
    numbered = [(n, r) for n, r in enumerate(rows[1:], start=2)
                if any(cell.strip() for cell in r)]
    body = [r for _, r in numbered]
    if not body:
        raise CLIError(f"{path} has a header row but no data")
    for i, (line, r) in enumerate(numbered):
        if len(r) != len(header):
            raise CLIError(f"{path} data row {i + 1} (line {line}) has {len(r)} fields, "
                           f"the header has {len(header)}")
    if len(set(header)) != len(header):
        raise CLIError(f"{path} has duplicate column names")
    for name in ([target] if target is not None else []) + list(features or []):
        if name not in header:
            raise CLIError(f"no column {name!r} in {path} (columns: {', '.join(header)})")
    column = {name: j for j, name in enumerate(header)}

    def missing(name: str, i: int, cell: str) -> CLIError:
        return CLIError(f"column {name!r} of {path} has a missing value on data row "
                        f"{i + 1} (line {numbered[i][0]}: {cell!r}); fill or drop that row")

    if target is not None:
        labels = [r[column[target]].strip() for r in body]
        for i, cell in enumerate(labels):
            if cell.lower() in _MISSING:
                raise missing(target, i, cell)
    y = _labels(labels) if target is not None else None
    names = list(features) if features is not None else [h for h in header if h != target]
    if not names:
        raise CLIError(f"{path} has no feature columns besides {target!r}")
    X = np.empty((len(body), len(names)))
    for j, name in enumerate(names):
        for i, r in enumerate(body):
            cell = r[column[name]].strip()
            if cell.lower() in _MISSING:
                raise missing(name, i, cell)
            try:
                X[i, j] = _parse_number(cell)
            except ValueError:
                raise CLIError(
                    f"column {name!r} of {path} is not numeric "
                    f"(data row {i + 1}, line {numbered[i][0]}: {cell!r})") from None
    return X, y, names


def _npz_array(path: str, data, key: str) -> np.ndarray:
    try:
        return data[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        raise CLIError(
            f"{key} in {path} is an object array, which mlpx does not read (loading it "
            f"would need pickle); save it as numbers or strings, e.g. "
            f"np.savez(path, X=X.astype(float), y=y.astype(str))") from None


def read_npz(path: str, need_y: bool) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in (("X", "y") if need_y else ("X",)) if k not in data.files]
            if missing:
                raise CLIError(f"{path} has no array {missing[0]!r} "
                               f"(arrays: {', '.join(data.files) or 'none'})")
            X = _npz_array(path, data, "X")
            y = _npz_array(path, data, "y") if need_y else None
    except CLIError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CLIError(f"cannot read {path} as .npz: {exc}") from None
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise CLIError(f"X in {path} must be a numeric 2-d array, got {X.dtype} {X.shape}")
    return X, y


def read_data(path: str, target: Optional[str], need_y: bool,
              features: Optional[Sequence[str]] = None):
    """``(X, y, feature_names or None)`` from a .csv or .npz file."""
    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
    if path.lower().endswith(".npz"):
        if target is not None:
            raise CLIError(f"--target names a CSV column; {path} is an .npz file, whose "
                           "labels are its array y: drop --target")
        X, y = read_npz(path, need_y)
        return X, y, None
    if path.lower().endswith((".csv", ".tsv")):
        if need_y and target is None:
            raise CLIError(f"--target COLUMN is required for a .csv file ({path})")
        return read_csv(path, target if need_y else None, features)
    raise CLIError(f"{path}: DATA must be a .csv, .tsv or .npz file")


# ----------------------------------------------------------------- train


def _hidden(text: str) -> Tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas (e.g. 64,32), got {text!r}")
    return sizes


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA",
                        help=".csv with a header row, or .npz with arrays X and y")
    parser.add_argument("--target", metavar="COLUMN",
                        help="the label column (required for .csv)")
    parser.add_argument("--hidden", type=_hidden, default=(100,), metavar="SIZES",
                        help="hidden layer sizes, comma separated (default 100)")
    parser.add_argument("--activation", default="logistic",
                        choices=ACTIVATIONS,
                        help="hidden activation (default logistic)")
    parser.add_argument("--solver", default="adam", choices=["adam", "sgd", "lbfgs"],
                        help="optimizer (default adam)")
    parser.add_argument("--max-iter", type=int, default=200, metavar="N",
                        help="maximum epochs (default 200)")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                        help="training precision (default float64)")
    parser.add_argument("--test-size", type=float, default=0.2, metavar="FRACTION",
                        help="held-out fraction for the accuracy (default 0.2)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and the model (default 0)")
    parser.add_argument("--out", metavar="MODEL.npz",
                        help="save the trained model there (mlpx.load reads it)")
    parser.add_argument("--task", default="auto", choices=["auto", "classify", "regress"],
                        help="MLPClassifier or MLPRegressor; auto (default): regress "
                             "for a float target with many distinct values")


def _choose_task(y: np.ndarray, task: str) -> Tuple[str, str]:
    """("classify" or "regress", why). auto regresses a float target with
    more distinct values than max(10, rows / 20): a column of a few
    distinct numbers is labels, a column of measurements is not."""
    if task == "regress" and y.dtype.kind not in "biuf":
        raise CLIError(f"--task regress needs a numeric target, got values like {y.flat[0]!r}")
    if task != "auto":
        return task, "--task"
    distinct = len(np.unique(y))
    limit = max(10, y.shape[0] // 20)
    if y.dtype.kind == "f" and distinct > limit:
        return "regress", f"auto: a float target with {distinct} distinct values"
    return "classify", (f"auto: a {'float' if y.dtype.kind == 'f' else 'label'} target "
                        f"with {distinct} distinct value{'s' if distinct != 1 else ''}")


def _saved_path(out: str) -> str:
    """Where ``save`` writes: numpy.savez appends .npz to a path without it."""
    return out if out.endswith(".npz") else out + ".npz"


def _check_writable(out: str) -> None:
    """Raise CLIError unless ``out`` can be written: checked before training,
    so that a bad path does not cost a fit."""
    path = _saved_path(out)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"--out {out}: is a directory")
    if not os.path.isdir(folder):
        raise CLIError(f"--out {out}: no such directory: {folder}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise CLIError(f"--out {out}: not writable")


def _train(args: argparse.Namespace) -> int:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from . import _io
    from ._estimator import MLPClassifier, MLPRegressor

    if args.max_iter < 1:
        raise CLIError("--max-iter must be at least 1")
    if not 0 < args.test_size < 1:
        raise CLIError("--test-size must be between 0 and 1")
    if args.out:
        _check_writable(args.out)
    X, y, names = read_data(args.data, args.target, need_y=True)
    X = np.ascontiguousarray(X, dtype=args.dtype)
    task, why = _choose_task(y, args.task)
    regress = task == "regress"
    _, counts = np.unique(y, return_counts=True, axis=0)
    stratify = y if y.ndim == 1 and counts.min() >= 2 and not regress else None
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=args.test_size, random_state=args.seed, stratify=stratify)
    except ValueError:  # a test set too small to hold every class
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=args.test_size, random_state=args.seed)
    model = (MLPRegressor if regress else MLPClassifier)(
        hidden_layer_sizes=args.hidden, activation=args.activation, solver=args.solver,
        max_iter=args.max_iter, random_state=args.seed)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    score = model.score(X_test, y_test)  # accuracy, or R² for a regressor
    print(f"task: {task} ({type(model).__name__}; {why})")
    target = (f"{model.n_outputs_} output{'s' if model.n_outputs_ > 1 else ''}" if regress
              else f"{len(model.classes_)} classes")
    print(f"data: {args.data}: {X.shape[0]} rows, {X.shape[1]} features, "
          f"{target}; {len(y_train)} train / {len(y_test)} held out")
    print(f"model: hidden {','.join(map(str, args.hidden))}, {args.activation}, "
          f"{args.solver}, {args.dtype}")
    unit = "iterations" if args.solver == "lbfgs" else "epochs"
    stopped = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    print(f"fit time: {fit_time:.3f} s ({model.n_iter_} {unit}"
          f"{', max_iter reached before convergence' if stopped else ''})")
    print(f"training loss: {model.loss_:.6f}")
    print(f"held-out {'R²' if regress else 'accuracy'}: {score:.4f}")
    if args.out:
        if names is not None:
            model.feature_names_in_ = np.array(names, dtype=object)
        _io.save(model, args.out)
        print(f"saved: {_saved_path(args.out)}")
    else:
        print("not saved: give --out MODEL.npz to keep the model")
    return 0


# --------------------------------------------------------------- predict


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a model saved by `mlpx train --out`")
    parser.add_argument("data", metavar="DATA",
                        help=".csv with a header row (the model's feature columns; "
                             "others are ignored) or .npz with an array X")
    parser.add_argument("--proba", action="store_true",
                        help="also write one probability column per class")


def _check_width(model, X: np.ndarray, path: str) -> None:
    if X.shape[1] != model.n_features_in_:
        raise CLIError(f"{path} has {X.shape[1]} feature columns, the model "
                       f"expects {model.n_features_in_}")


def _cells(row) -> List[str]:
    return [str(v) for v in np.atleast_1d(row)]


def _predict(args: argparse.Namespace) -> int:
    from . import _io

    if not os.path.exists(args.model):
        raise CLIError(f"no such file: {args.model}")
    model = _io.load(args.model)
    names = getattr(model, "feature_names_in_", None)
    X, _, _ = read_data(args.data, None, need_y=False,
                        features=None if names is None else [str(n) for n in names])
    _check_width(model, X, args.data)
    X = np.ascontiguousarray(X, dtype=model.coefs_[0].dtype)
    regressor = not hasattr(model, "classes_")
    if regressor and args.proba:
        raise CLIError(f"--proba: {args.model} is a regressor (no class probabilities)")
    with warnings.catch_warnings():
        # columns were matched by name above; the array itself has no names
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        labels = model.predict(X)
        proba = model.predict_proba(X) if args.proba else None
    multilabel = labels.ndim == 2
    if regressor:  # one column per output
        header = ([f"prediction_{j}" for j in range(labels.shape[1])] if multilabel
                  else ["prediction"])
    else:
        header = ([f"label_{c}" for c in model.classes_] if multilabel else ["label"])
    if proba is not None:
        header += [f"proba_{c}" for c in model.classes_]
    out = csv.writer(sys.stdout, lineterminator="\n")
    try:
        out.writerow(header)
        for i in range(len(X)):
            row = ([repr(float(v)) for v in np.atleast_1d(labels[i])] if regressor
                   else _cells(labels[i]))
            if proba is not None:
                row += _cells(proba[i])
            out.writerow(row)
        sys.stdout.flush()
    except BrokenPipeError:  # `mlpx predict ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


# ------------------------------------------------------------------ info


def _info_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _info(args: argparse.Namespace) -> int:
    from ._config import show_config

    show_config()
    return 0


# ------------------------------------------------------------- plumbing


def _reporting(name: str, run: Callable[[argparse.Namespace], int]
               ) -> Callable[[argparse.Namespace], int]:
    """Wrap ``run`` so that user errors become one stderr line and status 2."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (CLIError, OSError, ValueError) as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            if isinstance(exc, OSError) and getattr(exc, "filename", None) and exc.strerror:
                text = f"{exc.filename}: {exc.strerror}"
            print(f"mlpx {name}: error: {text}", file=sys.stderr)
            return USER_ERROR

    wrapped.__name__ = wrapped.__qualname__ = f"run_{name}"
    return wrapped


Command = Tuple[str, Callable[[argparse.ArgumentParser], None],
                Callable[[argparse.Namespace], int]]

COMMANDS: Dict[str, Command] = {
    "demo": ("train on scikit-learn's digits and compare with scikit-learn",
             _demo.add_arguments, _reporting("demo", _demo.run)),
    "train": ("train an MLPClassifier or MLPRegressor on a .csv or .npz file",
              _train_arguments, _reporting("train", _train)),
    "predict": ("predict with a saved model; CSV on stdout",
                _predict_arguments, _reporting("predict", _predict)),
    "info": ("show versions, backend, BLAS and threads",
             _info_arguments, _reporting("info", _info)),
}


def add_commands(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]",
                 names: Optional[Sequence[str]] = None) -> None:
    """Register ``names`` (default: all of ``COMMANDS``) on an argparse
    subparsers object; each parser gets ``func`` = its run function."""
    for name in names or COMMANDS:
        help_text, add_arguments, run = COMMANDS[name]
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(func=run)


class _Parser(argparse.ArgumentParser):
    """An option error is one line on stderr and status 2, like every other
    user error (argparse's default also prints the whole usage block)."""

    def error(self, message: str) -> "NoReturn":
        self.exit(USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlpx", description="mlpx: a fast multilayer perceptron.")
    parser.add_argument("--version", action="version", version=f"mlpx {__version__}")
    add_commands(parser.add_subparsers(dest="command", metavar="command"))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``mlpx COMMAND ...`` (``python -m mlpx``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error(f"give a command: {', '.join(COMMANDS)}")
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
