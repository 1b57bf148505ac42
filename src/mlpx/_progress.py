"""A tqdm progress bar over training epochs, for ``MLPClassifier(progress_bar=True)``.

Usage in an epoch loop::

    with EpochProgress(enabled, total=max_iter) as bar:
        for epoch in range(max_iter):
            loss = ...
            bar.update(loss, val_score)   # postfix "loss=0.1234, val=0.9500"

Disabled, ``EpochProgress`` returns a no-op object and never imports tqdm;
enabled without tqdm installed, it raises ImportError naming the package.
"""

from __future__ import annotations

from typing import Any, Optional

_HINT = "progress_bar=True needs tqdm: pip install tqdm (or mlpx[progress])"


class _NoProgress:
    """Stands in for the bar when it is off: every method does nothing."""

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def update(self, loss: float, val_score: Optional[float] = None) -> None:
        return None

    def close(self) -> None:
        return None


class EpochProgress:
    """One tqdm bar, one step per epoch, with the loss (and the validation
    score, when given) in its postfix.

    Parameters
    ----------
    enabled : bool
        False gives a no-op object (``EpochProgress(False, ...)`` is a
        ``_NoProgress``).
    total : int, optional
        Expected number of epochs (``max_iter``); training may stop earlier,
        the bar then closes where it is.
    desc : str
        Text before the bar.
    **tqdm_kwargs
        Passed to ``tqdm.auto.tqdm`` (e.g. ``file=``, ``leave=``, ``disable=``).
    """

    def __new__(cls, enabled: bool = True, *args: Any, **kwargs: Any):
        if not enabled:
            return _NoProgress()
        return super().__new__(cls)

    def __init__(self, enabled: bool = True, total: Optional[int] = None,
                 desc: str = "mlpx", **tqdm_kwargs: Any) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:
            raise ImportError(f"{_HINT} ({exc})") from exc
        tqdm_kwargs.setdefault("unit", "epoch")
        tqdm_kwargs.setdefault("dynamic_ncols", True)
        self.bar = tqdm(total=total, desc=desc, **tqdm_kwargs)

    def __enter__(self) -> "EpochProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, loss: float, val_score: Optional[float] = None) -> None:
        """Show ``loss`` (and ``val_score``) and advance one epoch."""
        postfix = {"loss": f"{loss:.4g}"}
        if val_score is not None:
            postfix["val"] = f"{val_score:.4f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
