"""SciPy's L-BFGS-B on one BLAS thread, without leaving a trace.

``lbfgs`` hands the gradient to ``scipy.optimize.minimize``, whose L-BFGS-B
takes dot products of the whole parameter vector with SciPy's BLAS. OpenBLAS
threads a long ``ddot`` and adds the threads' partial sums, so its last bit
depends on the thread count (checked: a 235,146-entry ``ddot`` gave three
different results at 1, 2 and 4 threads). mlpx's own gradient does not
depend on threads, so the fit's bits would depend on them only through
these sums. ``one_thread_reductions()`` keeps SciPy's BLAS at one thread
while any fit in the process is inside it (a count under a lock: nested
and concurrent fits restore the original setting once, when the last one
leaves), and leaves every other library alone. Those dot products are a
small part of an L-BFGS iteration (the gradient's GEMMs are the rest).
"""

import os
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_limiter = None


def _scipy_blas_path(controller):
    """Real path of the BLAS that SciPy's wheels bundle (``scipy.libs``, or
    inside the package), else of the one BLAS in the process, else None."""
    import scipy

    root = os.path.dirname(os.path.realpath(scipy.__file__))
    places = (root + os.sep, root + ".libs" + os.sep)
    blas = [os.path.realpath(lib.filepath) for lib in controller.lib_controllers
            if lib.user_api == "blas"]
    for path in blas:
        if path.startswith(places):
            return path
    return blas[0] if len(set(blas)) == 1 else None


def _limit():
    """Limit SciPy's BLAS to one thread; returns the threadpoolctl limiter
    (to restore) or None when there is nothing to limit."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    controller = ThreadpoolController()
    path = _scipy_blas_path(controller)
    if path is None:
        return None
    libs = [lib for lib in controller.lib_controllers
            if os.path.realpath(lib.filepath) == path and lib.num_threads != 1]
    if not libs:
        return None
    return controller.select(filepath=libs[0].filepath).limit(limits=1)


@contextmanager
def one_thread_reductions():
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = _limit()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
