"""``mlpx demo``: train on scikit-learn's bundled digits, then time mlpx and
scikit-learn's ``MLPClassifier`` on the same split, settings and threads.

The comparison is meant to measure the two libraries, not the machine's
load: both run under one ``threadpoolctl`` limit on the BLAS (``--threads``,
default 1, printed), each for the same few epochs, in alternating rounds, and
the ratio is the median of the rounds' ratios. scikit-learn's part is kept
short (``TIMED_EPOCHS`` epochs a round) so that the demo finishes in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

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
TIMED_EPOCHS = 10  # per round and library in the comparison
ROUNDS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and of both models (default 0)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="BLAS thread limit for both libraries, set with "
                             "threadpoolctl (default 1)")
    parser.add_argument("--no-sklearn", action="store_true",
                        help="skip the scikit-learn comparison")
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="also draw mlpx's training curve into FILE (.png, .svg, "
                             ".pdf; needs matplotlib, the mlpx[plot] extra)")


def _timed_fit(model, X, y) -> float:
    from sklearn.exceptions import ConvergenceWarning

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the point
        model.fit(X, y)
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from ._backend import get_backend
    from ._estimator import MLPClassifier
    from ._version import __version__

    if args.threads < 1:
        raise ValueError("--threads must be at least 1")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> [0, 1]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed)
    settings = dict(DEMO_SETTINGS, random_state=args.seed)
    shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())

    print(f"mlpx {__version__} ({get_backend()} backend), numpy {np.__version__}")
    print(f"digits: {X.shape[0]} images of 8x8 pixels, 10 classes; "
          f"stratified split {len(y_train)} train / {len(y_test)} test (seed {args.seed})")
    print(f"settings: {shown}")
    print(f"threads: BLAS limited to {args.threads} for both libraries (threadpoolctl)")
    print()
    with threadpool_limits(limits=args.threads, user_api="blas"):
        print("mlpx.MLPClassifier")
        # progress: a tqdm bar over the epochs, the current loss in its postfix
        model = MLPClassifier(progress_bar=True, **settings)
        fit_time = _timed_fit(model, X_train, y_train)
        accuracy = model.score(X_test, y_test)
        print(f"  epochs {model.n_iter_}, final loss {model.loss_:.6f}")
        print(f"  test accuracy {accuracy:.4f}   fit time {fit_time:.3f} s")
        if args.plot:
            from ._display import save_training_curve

            save_training_curve(model, args.plot)
            print(f"  training curve written to {args.plot}")
        if not args.no_sklearn:
            _compare(settings, X_train, y_train, X_test, args.threads)
    return 0 if accuracy >= 0.96 else 1


def _compare(settings, X_train, y_train, X_test, threads) -> None:
    """Both libraries for TIMED_EPOCHS epochs, ROUNDS alternating rounds."""
    import numpy as np
    from sklearn import __version__ as sklearn_version
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from ._estimator import MLPClassifier

    short = dict(settings, max_iter=TIMED_EPOCHS, n_iter_no_change=TIMED_EPOCHS + 1)
    print()
    print(f"speed: {TIMED_EPOCHS} epochs each of mlpx and scikit-learn {sklearn_version}, "
          f"same settings and split, {threads} BLAS thread(s) each, {ROUNDS} alternating rounds")
    ratios, ours, theirs = [], [], []
    for _ in range(ROUNDS):
        mine, ref = MLPClassifier(**short), SklearnMLP(**short)
        t_mine = _timed_fit(mine, X_train, y_train)
        t_ref = _timed_fit(ref, X_train, y_train)
        ours.append(t_mine)
        theirs.append(t_ref)
        ratios.append(t_ref / t_mine)
    same = np.array_equal(mine.predict(X_test), ref.predict(X_test))
    print(f"  seconds per epoch (median): mlpx {statistics.median(ours) / TIMED_EPOCHS:.5f}, "
          f"scikit-learn {statistics.median(theirs) / TIMED_EPOCHS:.5f}")
    print(f"  scikit-learn / mlpx: {statistics.median(ratios):.1f}x (rounds: "
          f"{', '.join(f'{r:.1f}' for r in ratios)}); test predictions after "
          f"{TIMED_EPOCHS} epochs {'identical' if same else 'differ'}")
