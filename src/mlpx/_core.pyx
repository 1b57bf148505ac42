# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The compiled backend: a thin bridge from Python to the C engine in csrc/.

Same functions, arguments and results as ``mlpx._numpy_backend`` (the
contract is ``_core.pyi``). Every argument is checked here (dtype float32 or
float64 shared by all arrays, C order, ndim, shapes that chain) and a wrong
call raises TypeError/ValueError naming the argument; finiteness is the
caller's business. The GIL is released around every C call.
"""

from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release,
                             PyObject_GetBuffer)
from libc.stdint cimport int64_t, uintptr_t
from libc.stdlib cimport malloc, free

import operator

import numpy as np

cdef extern from "mlpx.h" nogil:
    enum:
        MLPX_IDENTITY
        MLPX_LOGISTIC
        MLPX_TANH
        MLPX_RELU
        MLPX_SOFTMAX
        MLPX_EXP
        MLPX_SGD
        MLPX_ADAM
        MLPX_OK
        MLPX_ENOMEM
        MLPX_ENOBLAS
        MLPX_ENONFINITE
        MLPX_EOUTPUT
        MLPX_CHECK_X
        MLPX_CHECK_OUTPUT

    ctypedef struct mlpx_net:
        int n_layers
        const int64_t *widths
        int activation
        int out_activation
        int mean_outputs

    ctypedef struct mlpx_optim:
        int solver
        double lr, momentum
        int nesterov
        double beta_1, beta_2, epsilon
        int64_t t

    void mlpx_set_blas(void *sgemm, void *dgemm, int ilp64, void *get_threads)
    int mlpx_has_blas()
    void mlpx_set_blas_local(void *sgemm, void *dgemm, int ilp64, void *get_threads)
    int mlpx_has_blas_local()
    void mlpx_set_gemv(void *sgemv, void *dgemv, int local)
    void mlpx_set_whole_macs(double macs)
    const char *mlpx_kernel_path()
    int mlpx_wants_blas_local(const mlpx_net *net, int64_t N, int64_t batch_size)
    int mlpx_epoch_threads(const mlpx_net *net, int64_t N, int64_t batch_size)
    int mlpx_epoch_whole(const mlpx_net *net, int64_t B)
    int mlpx_forward_threads(const mlpx_net *net, int64_t N)

    int mlpx_forward_f(const mlpx_net *net, const float **coefs,
                       const float **intercepts, const float *X, int64_t N,
                       float *P, int checks)
    int mlpx_forward_d(const mlpx_net *net, const double **coefs,
                       const double **intercepts, const double *X, int64_t N,
                       double *P, int checks)
    int mlpx_all_finite_f(const float *x, int64_t n)
    int mlpx_all_finite_d(const double *x, int64_t n)
    int mlpx_loss_and_grad_f(const mlpx_net *net, const float **coefs,
                             const float **intercepts, const float *X,
                             const float *Y, const float *sw, int64_t N,
                             double alpha, double *loss, float **dW, float **db)
    int mlpx_loss_and_grad_d(const mlpx_net *net, const double **coefs,
                             const double **intercepts, const double *X,
                             const double *Y, const double *sw, int64_t N,
                             double alpha, double *loss, double **dW, double **db)
    int mlpx_train_epoch_f(const mlpx_net *net, float **coefs, float **intercepts,
                           const float *X, const float *Y, const float *sw,
                           const int64_t *order, int64_t N, int64_t batch_size,
                           double alpha, const mlpx_optim *opt, float **state,
                           double *loss)
    int mlpx_train_epoch_d(const mlpx_net *net, double **coefs, double **intercepts,
                           const double *X, const double *Y, const double *sw,
                           const int64_t *order, int64_t N, int64_t batch_size,
                           double alpha, const mlpx_optim *opt, double **state,
                           double *loss)


from ._activations import ACTIVATIONS, OUT_ACTIVATIONS
SOLVERS = ("sgd", "adam")

_ACT_CODE = {"identity": MLPX_IDENTITY, "logistic": MLPX_LOGISTIC,
             "tanh": MLPX_TANH, "relu": MLPX_RELU, "softmax": MLPX_SOFTMAX,
             "exp": MLPX_EXP}


def _set_blas_local(sgemm_ptr, dgemm_ptr, ilp64, threads_ptr):
    """Install the local BLAS (mlpx.h): addresses (ints) into a private
    instance of a BLAS library set to one thread, which takes every GEMM too
    big for one thread of the shared BLAS; all None or 0 removes it."""
    cdef uintptr_t s = operator.index(sgemm_ptr or 0), d = operator.index(dgemm_ptr or 0)
    cdef uintptr_t t = operator.index(threads_ptr or 0)
    if (s == 0) != (d == 0) or (s != 0 and t == 0):
        raise ValueError("_set_blas_local: give sgemm, dgemm and get_threads addresses, or none")
    mlpx_set_blas_local(<void *>s, <void *>d, 1 if ilp64 else 0, <void *>t)


def _set_gemv(sgemv_ptr, dgemv_ptr, local=False):
    """Install Fortran-ABI sgemv/dgemv addresses (ints) of the library whose
    GEMMs the shared (local=False) or the local entry holds, so that products
    with one row or one column go to GEMV; None or 0 removes them. Setting
    that entry's GEMMs again removes them too."""
    cdef uintptr_t s = operator.index(sgemv_ptr or 0), d = operator.index(dgemv_ptr or 0)
    if (s == 0) != (d == 0):
        raise ValueError("_set_gemv: give both sgemv and dgemv addresses, or none")
    mlpx_set_gemv(<void *>s, <void *>d, 1 if local else 0)


def _set_whole_macs(macs):
    """Training batches with at least ``macs`` multiply-adds run as whole
    GEMMs on the BLAS's own threads (same numbers for the same thread
    count); the others as one-thread tiles (same numbers for every thread
    count). None: the default, never (``MLPX_WHOLE_GEMMS=1`` sets 2**31)."""
    mlpx_set_whole_macs(-1.0 if macs is None else float(macs))


def _has_blas_local():
    """True when a local BLAS is installed and still at one thread."""
    return bool(mlpx_has_blas_local())


def _kernel_path():
    """The elementwise kernels this process runs: "x86-64-v4" (AVX-512),
    "x86-64-v3" (AVX2, FMA), "x86-64" or "generic"; chosen once from the CPU,
    capped by the environment variable MLPX_CPU (csrc/dispatch.c)."""
    return mlpx_kernel_path().decode()


cdef object _local_factory = None


def _set_local_factory(factory):
    """Register ``factory()`` (no arguments, returns True when it installed
    a local BLAS), called with the GIL held before the first engine call that
    wants one (``mlpx_wants_blas_local``); None unregisters it. It is called
    again only while it returns False, and it remembers its own failure."""
    global _local_factory
    if factory is not None and not callable(factory):
        raise TypeError("_set_local_factory: give a callable or None")
    _local_factory = factory


cdef _want_local(_Net net, int64_t N, int64_t batch_size):
    """Make the local BLAS first when this call wants one (mlpx.h)."""
    if _local_factory is not None and not mlpx_has_blas_local() and \
            mlpx_wants_blas_local(&net.net, N, batch_size):
        _local_factory()


def _set_blas(sgemm_ptr, dgemm_ptr, ilp64, threads_ptr=None):
    """Install the Fortran-ABI sgemm/dgemm addresses (ints) the engine calls;
    ilp64: True for 64-bit integer arguments; threads_ptr: address of the
    BLAS's ``int get_num_threads(void)``, or None (the engine then keeps to
    one thread of its own)."""
    cdef uintptr_t s = operator.index(sgemm_ptr), d = operator.index(dgemm_ptr)
    cdef uintptr_t t = 0 if threads_ptr is None else operator.index(threads_ptr)
    if s == 0 or d == 0:
        raise ValueError("_set_blas: sgemm_ptr and dgemm_ptr must be nonzero addresses")
    mlpx_set_blas(<void *>s, <void *>d, 1 if ilp64 else 0, <void *>t)


cdef mlpx_net _shape_net(int64_t[::1] w):
    """A network of widths w (kept alive by the caller) for the policy
    queries, which read its shapes only."""
    cdef mlpx_net net
    net.n_layers = <int>(w.shape[0] - 1)
    net.widths = &w[0]
    net.activation = 0
    net.out_activation = 0
    net.mean_outputs = 0
    return net


def _epoch_threads(widths, n_samples, batch_size=None):
    """Threads that ``train_epoch`` uses for layer widths n_0..n_K,
    ``n_samples`` rows and ``batch_size`` (``mlpx_epoch_threads`` in
    csrc/mlpx.h), or, with batch_size None, that ``forward`` uses
    (``mlpx_forward_threads``): from 1 up to the BLAS's thread limit, by
    the work's size (csrc/threads.c). Results do not depend on it."""
    cdef int64_t[::1] w = np.array(widths, dtype=np.int64).ravel()
    cdef int64_t n = operator.index(n_samples)
    cdef int64_t bs = 1 if batch_size is None else operator.index(batch_size)
    if w.shape[0] < 2 or np.min(w) < 1 or n < 1 or bs < 1:
        raise ValueError("_epoch_threads: need >= 2 positive widths, n_samples >= 1, batch_size >= 1")
    cdef mlpx_net net = _shape_net(w)
    if batch_size is None:
        return mlpx_forward_threads(&net, n)
    return mlpx_epoch_threads(&net, n, bs)


def _epoch_whole(widths, batch_size):
    """True when a training batch of ``batch_size`` rows through layer
    widths n_0..n_K runs as whole GEMMs on the BLAS's own threads (same
    numbers for the same thread count) rather than as one-thread tiles
    (``mlpx_epoch_whole``, csrc/threads.c; ``_set_whole_macs``)."""
    cdef int64_t[::1] w = np.array(widths, dtype=np.int64).ravel()
    cdef int64_t bs = operator.index(batch_size)
    if w.shape[0] < 2 or np.min(w) < 1 or bs < 1:
        raise ValueError("_epoch_whole: need >= 2 positive widths and batch_size >= 1")
    cdef mlpx_net net = _shape_net(w)
    return bool(mlpx_epoch_whole(&net, bs))


# ---------------------------------------------------------------- validation

cdef object _F32 = np.dtype(np.float32)
cdef object _F64 = np.dtype(np.float64)
cdef object _I64 = np.dtype(np.int64)


cdef struct _Arr:
    void *data
    int ndim
    Py_ssize_t shape[2]


cdef int _get(str name, object a, object dtype, int ndim, bint writable,
              _Arr *out) except -1:
    """Check that `a` is an ndarray of `dtype` with `ndim` dimensions, C order,
    aligned (the engine loads whole elements: a misaligned load is undefined
    behaviour) and writable when asked; store its data address and shape in `out`.
    The address stays valid while the caller holds a reference to `a`."""
    cdef Py_buffer view
    cdef int flags = PyBUF_C_CONTIGUOUS | (PyBUF_WRITABLE if writable else 0)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    d = a.dtype
    if d is not dtype and d != dtype:
        if dtype is _I64:
            raise TypeError(f"{name} has dtype {d}, expected int64")
        if d != _F32 and d != _F64:
            raise TypeError(f"{name} must have dtype float32 or float64, got {d}")
        raise TypeError(f"{name} has dtype {d}, expected {dtype} (the dtype of X)")
    try:
        PyObject_GetBuffer(a, &view, flags)
    except (BufferError, ValueError):
        if writable and not a.flags.writeable:
            raise ValueError(f"{name} must be writable (it is updated in place)") from None
        raise ValueError(f"{name} must be C-contiguous") from None
    if (<uintptr_t>view.buf) % <uintptr_t>view.itemsize:
        PyBuffer_Release(&view)
        raise ValueError(f"{name} is not aligned to its {d.itemsize}-byte elements; "
                         "pass an aligned copy: np.require(a, requirements='CA')")
    out.data = view.buf
    out.ndim = view.ndim
    out.shape[0] = view.shape[0] if view.ndim > 0 else 1
    out.shape[1] = view.shape[1] if view.ndim > 1 else 1
    PyBuffer_Release(&view)
    if out.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {a.ndim}-D with shape {a.shape}")
    return 0


cdef void *_vector(str name, object a, object dtype, Py_ssize_t n) except? NULL:
    """Data address of the (n,) array `a`, or NULL when `a` is None."""
    cdef _Arr arr
    if a is None:
        return NULL
    _get(name, a, dtype, 1, False, &arr)
    if arr.shape[0] != n:
        raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
    return arr.data


cdef void *_matrix(str name, object a, object dtype, Py_ssize_t n0, Py_ssize_t n1,
                   bint writable=False) except NULL:
    """Data address of the (n0, n1) array `a`."""
    cdef _Arr arr
    _get(name, a, dtype, 2, writable, &arr)
    if arr.shape[0] != n0 or arr.shape[1] != n1:
        raise ValueError(f"{name} has shape {a.shape}, expected ({n0}, {n1})")
    return arr.data


cdef int _code(str name, object value, tuple allowed) except -1:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return _ACT_CODE[value]


cdef class _Net:
    """A validated network: widths n_0..n_K and the data addresses of the
    coefs and intercepts (whose arrays the caller keeps alive)."""
    cdef mlpx_net net
    cdef int64_t *widths
    cdef void **W
    cdef void **b
    cdef bint f64

    def __dealloc__(self):
        free(self.widths)
        free(self.W)
        free(self.b)

    cdef object dtype(self):
        return _F64 if self.f64 else _F32


cdef _Net _check_net(tuple coefs, tuple intercepts, object X, object activation,
                     object out_activation, bint writable=False):
    """Validate X (N, n_0) and the layers; shapes must chain."""
    cdef _Arr x
    if not isinstance(X, np.ndarray):
        raise TypeError(f"X must be a numpy.ndarray, got {type(X).__name__}")
    dtype = _float_dtype("X", X.dtype)
    _get("X", X, dtype, 2, False, &x)
    if x.shape[1] < 1:
        raise ValueError("X must have at least one column")
    return _net_of(coefs, intercepts, dtype, x.shape[1], activation, out_activation,
                   writable, "X.shape[1]")


cdef object _float_dtype(str name, object dtype):
    """float32 or float64 (the module's dtype objects), else TypeError."""
    if dtype is _F32 or dtype is _F64:
        return dtype
    if dtype == _F32:
        return _F32
    if dtype == _F64:
        return _F64
    raise TypeError(f"{name} must have dtype float32 or float64, got {dtype}")


cdef _Net _net_of(tuple coefs, tuple intercepts, object dtype, Py_ssize_t n0,
                  object activation, object out_activation, bint writable, str n0_name):
    """The layers as a _Net of `dtype` whose input width is n0 (n0_name says
    where n0 came from, for the error); shapes must chain."""
    cdef _Net net = _Net()
    cdef Py_ssize_t K = len(coefs), i
    cdef _Arr arr
    net.f64 = dtype is _F64
    if K < 1:
        raise ValueError("coefs must hold at least one array")
    if len(intercepts) != K:
        raise ValueError(f"intercepts has {len(intercepts)} arrays, coefs has {K}")
    net.net.activation = _code("activation", activation, ACTIVATIONS)
    net.net.out_activation = _code("out_activation", out_activation, OUT_ACTIVATIONS)
    net.widths = <int64_t *>malloc((K + 1) * sizeof(int64_t))
    net.W = <void **>malloc(K * sizeof(void *))
    net.b = <void **>malloc(K * sizeof(void *))
    if net.widths == NULL or net.W == NULL or net.b == NULL:
        raise MemoryError()
    net.widths[0] = n0
    for i in range(K):
        _get(f"coefs[{i}]", coefs[i], dtype, 2, writable, &arr)
        if arr.shape[0] != net.widths[i]:
            raise ValueError(
                f"coefs[{i}] has shape {coefs[i].shape}; its first dimension must be "
                f"{net.widths[i]} ({n0_name if i == 0 else f'coefs[{i - 1}].shape[1]'})")
        if arr.shape[1] < 1:
            raise ValueError(f"coefs[{i}] has shape {coefs[i].shape}; layers need at least one unit")
        net.W[i] = arr.data
        net.widths[i + 1] = arr.shape[1]
        net.b[i] = _vector(f"intercepts[{i}]", intercepts[i], dtype, arr.shape[1])
        if writable and not intercepts[i].flags.writeable:
            raise ValueError(f"intercepts[{i}] must be writable (it is updated in place)")
    net.net.n_layers = <int>K
    net.net.widths = net.widths
    return net


cdef struct _Batch:
    int64_t N
    void *x
    void *y
    void *sw


cdef int _check_batch(_Net net, object X, object Y, object sample_weight,
                      _Batch *out) except -1:
    """A training batch for `net`: X (N, n_0) with N >= 1, Y (N, n_K) and
    sample_weight (N,) or None, all of the net's dtype; their addresses and N
    go in `out` (the caller keeps the arrays alive)."""
    out.N = X.shape[0]
    if out.N < 1:
        raise ValueError("X must have at least one row")
    dtype = net.dtype()
    out.x = _matrix("X", X, dtype, out.N, net.widths[0])
    out.y = _matrix("Y", Y, dtype, out.N, net.widths[net.net.n_layers])
    out.sw = _vector("sample_weight", sample_weight, dtype, out.N)
    return 0


cdef tuple _layers(str name, object seq):
    """The list of arrays `seq` as a tuple (which keeps them alive while the
    GIL is released)."""
    if not isinstance(seq, (list, tuple)):
        raise TypeError(f"{name} must be a list (or tuple) of arrays, got {type(seq).__name__}")
    return tuple(seq)


cdef _raise_status(int status):
    if status == MLPX_ENOMEM:
        raise MemoryError("mlpx: out of memory for the work buffers")
    if status == MLPX_ENOBLAS:
        raise RuntimeError("mlpx._core: no BLAS installed; call _set_blas first")
    if status != MLPX_OK:
        raise RuntimeError(f"mlpx._core: engine error {status}")


cdef _require_blas():
    if not mlpx_has_blas():
        raise RuntimeError(
            "mlpx._core: no BLAS installed; call _set_blas first (mlpx._blas.install does)")


# ---------------------------------------------------------------- functions

def forward(coefs, intercepts, X, activation, out_activation, check_finite=False,
            check_output=False):
    """Output of the last layer: P = f_K(... f(X @ W_0 + b_0) ... @ W_K + b_K).

    check_finite: X is checked for NaN and infinity on the way (each block of
    rows just before its GEMMs read it: no separate pass over X); ValueError
    if it holds any. check_output: P is checked as it is written;
    FloatingPointError if an output is not finite (the activations overflowed)."""
    coefs, intercepts = _layers("coefs", coefs), _layers("intercepts", intercepts)
    cdef _Net net = _check_net(coefs, intercepts, X, activation, out_activation)
    return _run_forward(net, X, check_finite, check_output)


cdef object _run_forward(_Net net, object X, bint check_finite, bint check_output):
    """P for X (already checked against net: dtype, C order, 2-D, n_0 columns)."""
    _require_blas()
    cdef int64_t N = X.shape[0]
    cdef int K = net.net.n_layers
    P = np.empty((N, net.widths[K]), dtype=net.dtype())
    if N == 0:
        return P
    cdef void *x = _matrix("X", X, net.dtype(), N, net.widths[0])
    cdef void *p = _matrix("P", P, net.dtype(), N, net.widths[K])
    cdef int status
    cdef int checks = (MLPX_CHECK_X if check_finite else 0) | \
        (MLPX_CHECK_OUTPUT if check_output else 0)
    _want_local(net, N, 0)
    with nogil:
        if net.f64:
            status = mlpx_forward_d(&net.net, <const double **>net.W,
                                    <const double **>net.b, <const double *>x, N,
                                    <double *>p, checks)
        else:
            status = mlpx_forward_f(&net.net, <const float **>net.W,
                                    <const float **>net.b, <const float *>x, N,
                                    <float *>p, checks)
    if status == MLPX_ENONFINITE:
        raise ValueError("X contains NaN or infinity")
    if status == MLPX_EOUTPUT:
        raise FloatingPointError("the network's output is not finite")
    _raise_status(status)
    return P


def all_finite(a):
    """True when no value of the array `a` is NaN or infinite (one vectorized
    pass for a C-contiguous float32/float64 array, NumPy's otherwise)."""
    cdef Py_buffer view
    cdef int ok
    if type(a) is np.ndarray and (a.dtype is _F32 or a.dtype is _F64 or a.dtype == _F32
                                  or a.dtype == _F64) and a.flags.c_contiguous \
            and a.flags.aligned:
        PyObject_GetBuffer(a, &view, PyBUF_C_CONTIGUOUS)
        with nogil:
            if view.itemsize == 8:
                ok = mlpx_all_finite_d(<const double *>view.buf, view.len // 8)
            else:
                ok = mlpx_all_finite_f(<const float *>view.buf, view.len // 4)
        PyBuffer_Release(&view)
        return ok != 0
    return bool(np.isfinite(a).all())


cdef class ForwardPlan:
    """A network checked once for many forward passes (prediction).

    ``ForwardPlan(coefs, intercepts, activation, out_activation)(X, ...)``
    equals ``forward(coefs, intercepts, X, activation, out_activation, ...)``;
    the plan checks the layers (dtype, C order, shapes that chain) once, and
    each call checks only X. It holds the arrays themselves, not copies:
    changes to their values are seen; ``matches(coefs, intercepts)`` tells
    whether the plan was made of exactly these array objects."""
    cdef _Net net
    cdef tuple coefs, intercepts
    cdef readonly object dtype, activation, out_activation

    def __init__(self, coefs, intercepts, activation, out_activation):
        coefs, intercepts = _layers("coefs", coefs), _layers("intercepts", intercepts)
        if len(coefs) < 1:
            raise ValueError("coefs must hold at least one array")
        if not isinstance(coefs[0], np.ndarray) or coefs[0].ndim != 2:
            raise TypeError("coefs[0] must be a 2-D numpy.ndarray")
        self.dtype = _float_dtype("coefs[0]", coefs[0].dtype)
        self.net = _net_of(coefs, intercepts, self.dtype, coefs[0].shape[0], activation,
                           out_activation, False, "coefs[0].shape[0]")
        self.coefs, self.intercepts = coefs, intercepts
        self.activation, self.out_activation = activation, out_activation

    def matches(self, coefs, intercepts):
        """True when coefs and intercepts are the plan's own array objects."""
        cdef Py_ssize_t i, K = len(self.coefs)
        if len(coefs) != K or len(intercepts) != K:
            return False
        for i in range(K):
            if coefs[i] is not self.coefs[i] or intercepts[i] is not self.intercepts[i]:
                return False
        return True

    def __call__(self, X, check_finite=False, check_output=False):
        if type(X) is not np.ndarray and not isinstance(X, np.ndarray):
            raise TypeError(f"X must be a numpy.ndarray, got {type(X).__name__}")
        if X.dtype is not self.dtype and X.dtype != self.dtype:
            raise TypeError(f"X has dtype {X.dtype}, expected {self.dtype} (the dtype of the coefs)")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got {X.ndim}-D with shape {X.shape}")
        if X.shape[1] != self.net.widths[0]:
            raise ValueError(f"X has {X.shape[1]} columns; coefs[0].shape[0] is "
                             f"{self.net.widths[0]}")
        return _run_forward(self.net, X, check_finite, check_output)

    def __reduce__(self):
        return (ForwardPlan, (list(self.coefs), list(self.intercepts), self.activation,
                              self.out_activation))


def loss_and_grad(coefs, intercepts, X, Y, activation, out_activation, alpha,
                  sample_weight, mean_outputs=False):
    """Loss and its gradient with respect to every coef and intercept.

    loss = L(P, Y) + 0.5 * alpha * sum_i ||W_i||^2 / s
    (mean_outputs: identity outputs' L averaged over outputs, not summed:
    scikit-learn's value; the gradient is that of the sum either way)
    D_K  = (P - Y) * sample_weight[:, None]
    dW_i = (Z_i^T D_i + alpha * W_i) / s,   db_i = sum_n D_i / s
    D_{i-1} = (D_i @ W_i^T) * f'(Z_i)
    where s = number of rows, or sum(sample_weight).
    """
    coefs, intercepts = _layers("coefs", coefs), _layers("intercepts", intercepts)
    cdef _Net net = _check_net(coefs, intercepts, X, activation, out_activation)
    net.net.mean_outputs = 1 if mean_outputs else 0
    _require_blas()
    cdef int K = net.net.n_layers, i
    cdef _Batch bt
    _check_batch(net, X, Y, sample_weight, &bt)
    cdef int64_t N = bt.N
    dtype = net.dtype()
    cdef double a = float(alpha)
    coef_grads = [np.empty_like(W) for W in coefs]
    intercept_grads = [np.empty_like(b) for b in intercepts]
    cdef void **ptrs = <void **>malloc(2 * K * sizeof(void *))
    if ptrs == NULL:
        raise MemoryError()
    try:
        for i in range(K):
            ptrs[i] = _matrix("dW", coef_grads[i], dtype, net.widths[i], net.widths[i + 1])
            ptrs[K + i] = _vector("db", intercept_grads[i], dtype, net.widths[i + 1])
    except BaseException:
        free(ptrs)
        raise
    cdef double loss = 0
    cdef int status
    try:
        _want_local(net, N, N)
    except BaseException:
        free(ptrs)
        raise
    with nogil:
        if net.f64:
            status = mlpx_loss_and_grad_d(
                &net.net, <const double **>net.W, <const double **>net.b,
                <const double *>bt.x, <const double *>bt.y, <const double *>bt.sw, N, a,
                &loss, <double **>ptrs, <double **>(ptrs + K))
        else:
            status = mlpx_loss_and_grad_f(
                &net.net, <const float **>net.W, <const float **>net.b,
                <const float *>bt.x, <const float *>bt.y, <const float *>bt.sw, N, a,
                &loss, <float **>ptrs, <float **>(ptrs + K))
    free(ptrs)
    _raise_status(status)
    return loss, coef_grads, intercept_grads


def train_epoch(coefs, intercepts, X, Y, sample_weight, order, batch_size,
                activation, out_activation, alpha, solver, state,
                lr, momentum, nesterov, beta_1, beta_2, epsilon, t, mean_outputs=False):
    """One epoch of minibatch training; returns the epoch loss.

    Rows are visited in ``order`` (int64 indices; None: 0..n-1) in contiguous
    batches of ``batch_size`` (the last one holds the rest). Per batch: the
    loss and gradients of ``loss_and_grad`` at the current parameters, then
    one optimizer step applied in place to ``coefs``, ``intercepts`` and
    ``state`` (coefs + intercepts order; SGD velocities, or Adam first then
    second moments). ``t`` = Adam steps taken before this epoch. Returns
    sum_batches(batch_loss * rows) / n (batch losses as ``loss_and_grad``'s,
    with the same ``mean_outputs``).
    """
    coefs, intercepts = _layers("coefs", coefs), _layers("intercepts", intercepts)
    cdef _Net net = _check_net(coefs, intercepts, X, activation, out_activation,
                               writable=True)
    net.net.mean_outputs = 1 if mean_outputs else 0
    _require_blas()
    cdef int K = net.net.n_layers, i, n_state
    cdef _Batch bt
    _check_batch(net, X, Y, sample_weight, &bt)
    cdef int64_t N = bt.N
    dtype = net.dtype()
    cdef void *ordp = _vector("order", order, _I64, N)
    if ordp != NULL and (order.min() < 0 or order.max() >= N):
        raise ValueError(f"order holds indices outside [0, {N})")
    cdef int64_t bs = operator.index(batch_size)
    if bs < 1:
        raise ValueError(f"batch_size must be >= 1, got {bs}")
    cdef mlpx_optim opt
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    opt.solver = MLPX_SGD if solver == "sgd" else MLPX_ADAM
    opt.lr = float(lr)
    opt.momentum = float(momentum)
    opt.nesterov = 1 if nesterov else 0
    opt.beta_1 = float(beta_1)
    opt.beta_2 = float(beta_2)
    opt.epsilon = float(epsilon)
    opt.t = operator.index(t)
    if opt.t < 0:
        raise ValueError(f"t must be >= 0, got {opt.t}")
    cdef double a = float(alpha)

    n_state = 2 * K if opt.solver == MLPX_SGD else 4 * K
    if not isinstance(state, (list, tuple)) or len(state) != n_state:
        raise ValueError(
            f"state must be a list of {n_state} arrays for solver={solver!r} "
            f"and {K} layers, got "
            f"{len(state) if isinstance(state, (list, tuple)) else type(state).__name__}")
    state = tuple(state)
    cdef void **sp = <void **>malloc(n_state * sizeof(void *))
    if sp == NULL:
        raise MemoryError()
    cdef int layer
    try:
        for i in range(n_state):
            layer = i % K
            if i % (2 * K) < K:
                sp[i] = _matrix(f"state[{i}]", state[i], dtype, net.widths[layer],
                                net.widths[layer + 1], True)
            else:
                sp[i] = _vector(f"state[{i}]", state[i], dtype, net.widths[layer + 1])
                if not state[i].flags.writeable:
                    raise ValueError(f"state[{i}] must be writable (it is updated in place)")
    except BaseException:
        free(sp)
        raise
    cdef double loss = 0
    cdef int status
    try:
        _want_local(net, N, bs)
    except BaseException:
        free(sp)
        raise
    with nogil:
        if net.f64:
            status = mlpx_train_epoch_d(
                &net.net, <double **>net.W, <double **>net.b, <const double *>bt.x,
                <const double *>bt.y, <const double *>bt.sw, <const int64_t *>ordp, N,
                bs, a, &opt, <double **>sp, &loss)
        else:
            status = mlpx_train_epoch_f(
                &net.net, <float **>net.W, <float **>net.b, <const float *>bt.x,
                <const float *>bt.y, <const float *>bt.sw, <const int64_t *>ordp, N,
                bs, a, &opt, <float **>sp, &loss)
    free(sp)
    _raise_status(status)
    return loss
