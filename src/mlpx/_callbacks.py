"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) for
mlpx's estimators: one fit task per epoch (per iteration for L-BFGS), as
``LogisticRegression`` has one per L-BFGS iteration.

``CallbackSupportMixin`` is scikit-learn's where it exists; on an older
scikit-learn it is a stand-in whose ``set_callbacks`` raises ImportError,
and ``FitTasks`` does nothing, so mlpx trains as before.

Usage in a fit::

    tasks = FitTasks(est, "fit", max_iter, X, y_labels, sample_weight)
    for epoch in ...:
        task = tasks.begin("epoch", est._fit_state)
        ...                                      # one epoch
        if tasks.end(task, est._fit_state):      # a callback asked to stop
            break
    tasks.finish()
"""

try:
    from sklearn.callback import CallbackSupportMixin
    HAVE_SKLEARN_CALLBACKS = True
except ImportError:  # scikit-learn < 1.9
    HAVE_SKLEARN_CALLBACKS = False

    class CallbackSupportMixin:
        """Stands in for scikit-learn's mixin where ``sklearn.callback`` is
        missing: training works, ``set_callbacks`` says what is needed."""

        def set_callbacks(self, *callbacks):
            import sklearn

            raise ImportError(
                "set_callbacks needs scikit-learn's callback API (sklearn.callback, "
                f"scikit-learn >= 1.9); the installed scikit-learn {sklearn.__version__} "
                "has none. Upgrade scikit-learn, or use progress_bar=True for a "
                "progress bar."
            )


class FitTasks:
    """The callback contexts of one fit: the root task (``task_name``, with
    at most ``max_subtasks`` subtasks) and one subtask per epoch (or L-BFGS
    iteration).

    Does nothing when scikit-learn has no ``sklearn.callback``. The root
    context is made on every fit (a meta-estimator's task tree links to it
    even where this estimator has no callbacks of its own); the subtasks
    only when the estimator holds callbacks (``_skl_callbacks``).

    ``X``, ``y`` (labels, as a scorer compares them) and ``sample_weight``
    (the weights trained with, class weights included) go to every hook;
    ``use_data`` changes them for the subtasks (early stopping trains on
    part of X). A callable ``y`` is called once, when a hook first asks for
    it. ``attributes``, given to ``begin`` and ``end``, is a callable that
    returns the fitted attributes at that point, copied: the estimator a
    hook gets as ``fitted_estimator`` is a copy of the estimator with them.
    """

    def __init__(self, est, task_name, max_subtasks, X, y, sample_weight):
        self.est = est
        self.ctx = None
        self.per_task = False
        if not HAVE_SKLEARN_CALLBACKS:
            return
        self.root_data = self.data = self._data(X, y, sample_weight)
        self.ctx = est._init_callback_context(task_name=task_name,
                                              max_subtasks=max_subtasks)
        self.ctx.call_on_fit_task_begin(estimator=est, **self.root_data)
        self.per_task = bool(getattr(est, "_skl_callbacks", None))

    @staticmethod
    def _data(X, y, sample_weight):
        if callable(y):
            make_y, cache = y, []

            def y():
                if not cache:
                    cache.append(make_y())
                return cache[0]
        return dict(X=X, y=y, metadata=None if sample_weight is None
                    else {"sample_weight": sample_weight})

    def use_data(self, X, y, sample_weight):
        """The data the subtasks' hooks get from now on."""
        if self.ctx is not None:
            self.data = self._data(X, y, sample_weight)

    def begin(self, task_name, attributes):
        """Begin a subtask; None where no callback listens."""
        if not self.per_task:
            return None
        task = self.ctx.subcontext(task_name=task_name)
        task.call_on_fit_task_begin(estimator=self.est, **self.data,
                                    reconstruction_attributes=attributes)
        return task

    def end(self, task, attributes=None):
        """End a subtask; True where a callback asks to stop. Without
        ``attributes``: a task that never ran (its hooks get no data)."""
        if task is None:
            return False
        if attributes is None:
            return task.call_on_fit_task_end(estimator=self.est)
        return task.call_on_fit_task_end(estimator=self.est, **self.data,
                                         reconstruction_attributes=attributes)

    def finish(self):
        """End the root task, the estimator fully fitted."""
        if self.ctx is not None:
            self.ctx.call_on_fit_task_end(estimator=self.est, **self.root_data,
                                          reconstruction_attributes={})
