"""EpochProgress: a tqdm bar over epochs with the loss in its postfix; a no-op
when off (tqdm not even imported); a clear ImportError when tqdm is missing."""

import io
import sys
import warnings

import numpy as np
import pytest

from mlpx._progress import EpochProgress


def test_disabled_is_a_no_op_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with EpochProgress(False, total=5) as bar:
        bar.update(0.5)
        bar.update(0.4, 0.9)
    assert not isinstance(bar, EpochProgress)


def test_enabled_without_tqdm_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="tqdm"):
        EpochProgress(True, total=5)


def test_bar_shows_epochs_loss_and_validation_score():
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm (mlpx[progress])")
    out = io.StringIO()
    with EpochProgress(True, total=4, file=out, mininterval=0) as bar:
        bar.update(0.693147)
        bar.update(0.5, 0.8125)
        assert bar.bar.n == 2
    text = out.getvalue()
    assert "loss=0.5" in text and "val=0.8125" in text
    assert "2/4" in text and "epoch" in text


def test_estimator_progress_bar(capsys):
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm (mlpx[progress])")
    from mlpx._estimator import MLPClassifier

    if "progress_bar" not in MLPClassifier().get_params():
        pytest.skip("MLPClassifier has no progress_bar parameter yet")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)
        assert capsys.readouterr().err == ""  # off by default
        MLPClassifier((5,), max_iter=3, random_state=0, progress_bar=True).fit(X, y)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err


def test_regressor_progress_bar(capsys):
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm (mlpx[progress])")
    from mlpx import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0, progress_bar=True,
                     early_stopping=True, n_iter_no_change=10).fit(X, X[:, 0])
    err = capsys.readouterr().err
    assert "MLPRegressor" in err and "3/3" in err and "loss=" in err and "val=" in err
