"""Command line: ``python -m mlpx <command>`` (also installed as ``mlpx``).

Commands live in ``COMMANDS``: name -> (help, add_arguments(parser), run(args)).
``run`` returns the exit status. Add a command by adding an entry.

    demo     train MLPClassifier on scikit-learn's bundled digits, with
             scikit-learn's MLPClassifier on the same split for comparison
    train, predict, info
             from ``mlpx._cli`` (files in and out, mlpx.show_config())
"""

import argparse
import sys
import time
import warnings

from ._cli import COMMANDS as _FILE_COMMANDS

# The demo's model: one hidden layer of 128 sigmoid units, Adam, minibatches
# of 64; it stops by itself (training loss flat for 10 epochs) after ~110
# epochs at test accuracy ~0.98.
DEMO_SETTINGS = dict(
    hidden_layer_sizes=(128,),
    activation="logistic",
    solver="adam",
    learning_rate_init=0.01,
    batch_size=64,
    max_iter=200,
)

def _demo_arguments(parser):
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and of both models (default 0)")
    parser.add_argument("--no-sklearn", action="store_true",
                        help="skip the scikit-learn comparison")
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="also draw mlpx's training curve into FILE (.png, .svg, "
                             ".pdf; needs matplotlib, the mlpx[plot] extra)")


def _demo(args):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    import mlpx

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> [0, 1]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed)
    settings = dict(DEMO_SETTINGS, random_state=args.seed)
    shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())

    print(f"mlpx {mlpx.__version__} ({mlpx.get_backend()} backend), "
          f"numpy {np.__version__}")
    print(f"digits: {X.shape[0]} images of 8x8 pixels, 10 classes; "
          f"stratified split {len(y_train)} train / {len(y_test)} test (seed {args.seed})")
    print(f"settings: {shown}")
    print()
    print("mlpx.MLPClassifier")
    # progress: a tqdm bar over the epochs, the current loss in its postfix
    model = mlpx.MLPClassifier(progress_bar=True, **settings)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    accuracy = model.score(X_test, y_test)
    print(f"  epochs {model.n_iter_}, final loss {model.loss_:.6f}")
    print(f"  test accuracy {accuracy:.4f}   fit time {fit_time:.3f} s")
    if args.plot:
        from ._display import save_training_curve

        save_training_curve(model, args.plot)
        print(f"  training curve written to {args.plot}")

    if args.no_sklearn:
        return 0 if accuracy >= 0.96 else 1
    from sklearn import __version__ as sklearn_version
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    print()
    print(f"scikit-learn {sklearn_version} MLPClassifier, same settings, same split")
    reference = SklearnMLP(**settings)
    start = time.perf_counter()
    reference.fit(X_train, y_train)
    ref_time = time.perf_counter() - start
    ref_accuracy = reference.score(X_test, y_test)
    print(f"  epochs {reference.n_iter_}, final loss {reference.loss_:.6f}")
    print(f"  test accuracy {ref_accuracy:.4f}   fit time {ref_time:.3f} s")
    print()
    same = np.array_equal(model.predict(X_test), reference.predict(X_test))
    print(f"fit time: mlpx {fit_time:.3f} s, scikit-learn {ref_time:.3f} s "
          f"(ratio {ref_time / fit_time:.2f}); test predictions "
          f"{'identical' if same else 'differ'}")
    return 0 if accuracy >= 0.96 else 1


COMMANDS = {
    "demo": ("train on scikit-learn's digits and compare with scikit-learn",
             _demo_arguments, _demo),
    **_FILE_COMMANDS,
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mlpx", description="mlpx: a fast multilayer perceptron.")
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
