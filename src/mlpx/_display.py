"""``TrainingCurveDisplay``: the loss curve of a fitted estimator, in
scikit-learn's Display style (``from_estimator``, ``plot``, ``figure_``,
``ax_``).

matplotlib is imported only when something is drawn; without it the error
names the ``mlpx[plot]`` extra.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
from sklearn.base import is_regressor

_HINT = "TrainingCurveDisplay needs matplotlib: pip install mlpx[plot] (or matplotlib)"


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(f"{_HINT} ({exc})") from exc
    return plt


def save_training_curve(estimator: Any, path: Any, **savefig_kw: Any) -> None:
    """Draw ``estimator``'s training curve into an image file (PNG, SVG, PDF
    by the suffix) without pyplot, so no GUI backend is touched."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"{_HINT} ({exc})") from exc
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    TrainingCurveDisplay.from_estimator(estimator, ax=fig.subplots())
    fig.savefig(path, **{"dpi": 120, **savefig_kw})


def _score_name(estimator: Any) -> str:
    """What validation_scores_ hold: the ``scoring`` name, else the default
    score (the regressor's R², the classifier's accuracy)."""
    scoring = getattr(estimator, "scoring", None)
    if isinstance(scoring, str):
        return scoring
    if scoring is not None:
        return getattr(scoring, "__name__", "score")
    return "R²" if is_regressor(estimator) else "accuracy"


class TrainingCurveDisplay:
    """Training loss per epoch, and the validation score on a second y-axis
    when the model was fitted with ``early_stopping=True``.

    Build it with :meth:`from_estimator`, or from the arrays and then call
    :meth:`plot`.

    Parameters
    ----------
    loss_curve : sequence of float
        Training loss after each epoch (``estimator.loss_curve_``).
    validation_scores : sequence of float, optional
        Validation score after each epoch (``estimator.validation_scores_``).
    estimator_name : str, optional
        Used as the axes' title.
    score_name : str, default="accuracy"
        What the validation score is (the classifier's accuracy, the
        regressor's "R²"); names the second y-axis.

    Attributes
    ----------
    loss_curve, validation_scores : ndarray or None
        The data drawn.
    line_ : matplotlib Line2D
        The loss curve.
    val_line_ : matplotlib Line2D or None
        The validation-score curve.
    ax_ : matplotlib Axes
        The axes holding the loss curve.
    val_ax_ : matplotlib Axes or None
        The second y-axis (``ax_.twinx()``) holding the validation score.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.
    """

    def __init__(self, *, loss_curve: Sequence[float],
                 validation_scores: Optional[Sequence[float]] = None,
                 estimator_name: Optional[str] = None,
                 score_name: str = "accuracy") -> None:
        self.loss_curve = np.asarray(loss_curve, dtype=float)
        self.validation_scores = (
            None if validation_scores is None or len(validation_scores) == 0
            else np.asarray(validation_scores, dtype=float)
        )
        self.estimator_name = estimator_name
        self.score_name = score_name

    @classmethod
    def from_estimator(cls, estimator: Any, *, ax: Any = None,
                       name: Optional[str] = None) -> "TrainingCurveDisplay":
        """Plot ``estimator.loss_curve_`` (and ``validation_scores_``).

        Parameters
        ----------
        estimator : fitted MLPClassifier or MLPRegressor with a stochastic
            solver ("adam", "sgd")
        ax : matplotlib Axes, optional
            Where to draw; default: a new figure.
        name : str, optional
            Title; default: the estimator's class name.

        Returns
        -------
        TrainingCurveDisplay
        """
        loss_curve = getattr(estimator, "loss_curve_", None)
        if loss_curve is None:
            raise ValueError(
                f"{type(estimator).__name__} has no loss_curve_: it is not fitted, "
                "or its solver ('lbfgs') keeps no per-epoch loss"
            )
        display = cls(
            loss_curve=loss_curve,
            validation_scores=getattr(estimator, "validation_scores_", None),
            estimator_name=name or type(estimator).__name__,
            score_name=_score_name(estimator),
        )
        return display.plot(ax=ax)

    def plot(self, ax: Any = None, *, loss_kw: Optional[Dict[str, Any]] = None,
             val_kw: Optional[Dict[str, Any]] = None) -> "TrainingCurveDisplay":
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Default: a new figure (constrained layout) and axes.
        loss_kw, val_kw : dict, optional
            Keyword arguments for the two ``Axes.plot`` calls.

        Returns
        -------
        self
        """
        plt = _pyplot()
        if ax is None:
            # constrained layout makes room for the second axis' label,
            # which a plain figure cuts off at its right edge when saved
            _, ax = plt.subplots(layout="constrained")
        epochs = np.arange(1, len(self.loss_curve) + 1)
        self.line_, = ax.plot(epochs, self.loss_curve,
                              **{"color": "C0", "label": "training loss", **(loss_kw or {})})
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        self.val_ax_ = self.val_line_ = None
        lines = [self.line_]
        if self.validation_scores is not None:
            self.val_ax_ = ax.twinx()
            v_epochs = np.arange(1, len(self.validation_scores) + 1)
            self.val_line_, = self.val_ax_.plot(
                v_epochs, self.validation_scores,
                **{"color": "C1", "label": "validation score", **(val_kw or {})})
            self.val_ax_.set_ylabel(f"validation score ({self.score_name})")
            lines.append(self.val_line_)
        ax.legend(lines, [line.get_label() for line in lines], loc="center right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
