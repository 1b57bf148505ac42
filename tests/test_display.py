"""TrainingCurveDisplay on the Agg backend: what is drawn, where, with which
labels; the second y-axis appears only with early stopping."""

import sys
import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="plots need the mlpx[plot] extra (matplotlib)")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from mlpx._display import TrainingCurveDisplay, save_training_curve  # noqa: E402
from mlpx._estimator import MLPClassifier  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _fit(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((8,), max_iter=12, random_state=0, **kw).fit(X, y)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_loss_curve_only(data):
    est = _fit(*data)
    disp = TrainingCurveDisplay.from_estimator(est)
    assert disp.figure_ is disp.ax_.figure
    np.testing.assert_array_equal(disp.loss_curve, est.loss_curve_)
    assert disp.validation_scores is None and disp.val_ax_ is None and disp.val_line_ is None
    x, y = disp.line_.get_data()
    np.testing.assert_array_equal(x, np.arange(1, len(est.loss_curve_) + 1))
    np.testing.assert_array_equal(y, est.loss_curve_)
    assert disp.ax_.get_xlabel() == "epoch"
    assert disp.ax_.get_ylabel() == "training loss"
    assert disp.ax_.get_title() == "MLPClassifier"
    assert len(disp.figure_.axes) == 1


def test_early_stopping_adds_second_axis(data):
    est = _fit(*data, early_stopping=True, n_iter_no_change=50)
    disp = TrainingCurveDisplay.from_estimator(est, name="es")
    assert disp.val_ax_ is not None and len(disp.figure_.axes) == 2
    assert disp.val_ax_.get_shared_x_axes().joined(disp.ax_, disp.val_ax_)
    np.testing.assert_array_equal(disp.val_line_.get_ydata(), est.validation_scores_)
    assert "validation" in disp.val_ax_.get_ylabel()
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend == ["training loss", "validation score"]
    assert disp.ax_.get_title() == "es"


def test_plot_on_given_axes_and_save(data, tmp_path):
    est = _fit(*data)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    disp = TrainingCurveDisplay(loss_curve=est.loss_curve_).plot(ax=ax2)
    assert disp.ax_ is ax2 and disp.figure_ is fig and not ax1.lines
    disp.figure_.savefig(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_training_curve_without_pyplot(data, tmp_path):
    est = _fit(*data, early_stopping=True)
    n_open = len(plt.get_fignums())
    save_training_curve(est, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(plt.get_fignums()) == n_open  # no pyplot figure left open


def test_lbfgs_has_no_curve(data):
    est = _fit(*data, solver="lbfgs")
    with pytest.raises(ValueError, match="no loss_curve_"):
        TrainingCurveDisplay.from_estimator(est)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"mlpx\[plot\]"):
        TrainingCurveDisplay(loss_curve=[1.0, 0.5]).plot()


def test_regressor_validation_axis_is_r2(data):
    from mlpx import MLPRegressor

    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=12, random_state=0, early_stopping=True,
                           n_iter_no_change=50).fit(X, X[:, 0] - X[:, 1])
    disp = TrainingCurveDisplay.from_estimator(est)
    np.testing.assert_array_equal(disp.val_line_.get_ydata(), est.validation_scores_)
    assert disp.val_ax_.get_ylabel() == "validation score (R²)"
    assert disp.ax_.get_title() == "MLPRegressor"
    assert TrainingCurveDisplay.from_estimator(
        _fit(X, y, early_stopping=True)).val_ax_.get_ylabel() == "validation score (accuracy)"


def test_saved_figure_keeps_the_right_axis_label(tmp_path):
    """figure_.savefig(...) of a new figure keeps the second axis' label
    inside the image (a plain figure cut it off at the right edge)."""
    from matplotlib.ticker import FormatStrFormatter

    disp = TrainingCurveDisplay(loss_curve=np.linspace(1.0, 0.1, 20),
                                validation_scores=np.linspace(0.905, 0.975, 20)).plot()
    # wide tick labels, as the digits' scores get (0.975, ...)
    disp.val_ax_.yaxis.set_major_formatter(FormatStrFormatter("%.3f"))
    disp.figure_.savefig(tmp_path / "curve.png")  # lays the figure out, as a user's save does
    renderer = disp.figure_.canvas.get_renderer()
    drawn = disp.figure_.get_tightbbox(renderer)  # inches
    assert drawn.x0 >= 0 and drawn.x1 <= disp.figure_.get_figwidth(), drawn


def test_validation_axis_names_the_scoring(data):
    X, y = data
    est = _fit(X, y, early_stopping=True, scoring="balanced_accuracy")
    disp = TrainingCurveDisplay.from_estimator(est)
    assert disp.val_ax_.get_ylabel() == "validation score (balanced_accuracy)"
