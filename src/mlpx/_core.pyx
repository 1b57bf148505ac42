# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The compiled backend: a thin bridge from Python to the C engine in csrc/.

Same functions, arguments and results as ``mlpx._numpy_backend`` (the
contract is ``_core.pyi``). Every argument is checked here (dtype float32 or
float64 shared by all arrays, C order, ndim, shapes that chain) and a wrong
call raises TypeError/ValueError naming the argument; finiteness is the
caller's business. The GIL is released around every C call.
"""

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
        MLPX_SGD
        MLPX_ADAM
        MLPX_OK
        MLPX_ENOMEM
        MLPX_ENOBLAS

    ctypedef struct mlpx_net:
        int n_layers
        const int64_t *widths
        int activation
        int out_activation

    ctypedef struct mlpx_optim:
        int solver
        double lr, momentum
        int nesterov
        double beta_1, beta_2, epsilon
        int64_t t

    void mlpx_set_blas(void *sgemm, void *dgemm, int ilp64)
    int mlpx_has_blas()

    int mlpx_forward_f(const mlpx_net *net, const float **coefs,
                       const float **intercepts, const float *X, int64_t N,
                       float *P)
    int mlpx_forward_d(const mlpx_net *net, const double **coefs,
                       const double **intercepts, const double *X, int64_t N,
                       double *P)
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


ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
OUT_ACTIVATIONS = ("identity", "logistic", "softmax")
SOLVERS = ("sgd", "adam")

_ACT_CODE = {"identity": MLPX_IDENTITY, "logistic": MLPX_LOGISTIC,
             "tanh": MLPX_TANH, "relu": MLPX_RELU, "softmax": MLPX_SOFTMAX}


def _set_blas(sgemm_ptr, dgemm_ptr, ilp64):
    """Install the Fortran-ABI sgemm/dgemm addresses (ints) the engine calls;
    ilp64: True for 64-bit integer arguments."""
    cdef uintptr_t s = operator.index(sgemm_ptr), d = operator.index(dgemm_ptr)
    if s == 0 or d == 0:
        raise ValueError("_set_blas: sgemm_ptr and dgemm_ptr must be nonzero addresses")
    mlpx_set_blas(<void *>s, <void *>d, 1 if ilp64 else 0)


# ---------------------------------------------------------------- validation

cdef object _float_dtype(str name, object a):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    return a.dtype


cdef _check(str name, object a, object dtype, tuple shape, bint writable=False):
    """Raise unless `a` is a C-contiguous ndarray of `dtype` and `shape`."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {dtype}"
                        + ("" if name == "order" else " (the dtype of X)"))
    if a.ndim != len(shape):
        raise ValueError(f"{name} must be {len(shape)}-D, got {a.ndim}-D with shape {a.shape}")
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable (it is updated in place)")


cdef int _code(str name, object value, tuple allowed) except -1:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return _ACT_CODE[value]


cdef class _Net:
    """Validated network: dtype, widths n_0..n_K and data pointers of the
    coefs and intercepts (the arrays are kept alive here)."""
    cdef mlpx_net net
    cdef int64_t *widths
    cdef void **W
    cdef void **b
    cdef object dtype
    cdef bint f64
    cdef list keep

    def __dealloc__(self):
        free(self.widths)
        free(self.W)
        free(self.b)


cdef const void *_cptr(object a) except NULL:
    """Address of the data of a validated, non-empty, C-contiguous array
    (read-only arrays accepted)."""
    cdef const float[::1] f
    cdef const double[::1] d
    cdef const int64_t[::1] q
    flat = a.reshape(-1)
    if a.dtype == np.float32:
        f = flat
        return &f[0]
    if a.dtype == np.float64:
        d = flat
        return &d[0]
    q = flat
    return &q[0]


cdef _Net _check_net(object coefs, object intercepts, object X, object activation,
                     object out_activation, bint writable=False):
    cdef _Net net = _Net()
    cdef Py_ssize_t K, i
    net.dtype = _float_dtype("X", X)
    net.f64 = net.dtype == np.float64
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got {X.ndim}-D with shape {X.shape}")
    if not X.flags.c_contiguous:
        raise ValueError("X must be C-contiguous")
    if not isinstance(coefs, (list, tuple)) or not isinstance(intercepts, (list, tuple)):
        raise TypeError("coefs and intercepts must be lists (or tuples) of arrays")
    K = len(coefs)
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
    net.widths[0] = X.shape[1]
    if X.shape[1] < 1:
        raise ValueError("X must have at least one column")
    for i in range(K):
        W = coefs[i]
        if not isinstance(W, np.ndarray):
            raise TypeError(f"coefs[{i}] must be a numpy.ndarray, got {type(W).__name__}")
        if W.ndim != 2:
            raise ValueError(f"coefs[{i}] must be 2-D, got shape {W.shape}")
        if W.shape[0] != net.widths[i]:
            raise ValueError(
                f"coefs[{i}] has shape {W.shape}; its first dimension must be "
                f"{net.widths[i]} ({'X.shape[1]' if i == 0 else f'coefs[{i - 1}].shape[1]'})")
        if W.shape[1] < 1:
            raise ValueError(f"coefs[{i}] has shape {W.shape}; layers need at least one unit")
        _check(f"coefs[{i}]", W, net.dtype, (W.shape[0], W.shape[1]), writable)
        net.widths[i + 1] = W.shape[1]
        _check(f"intercepts[{i}]", intercepts[i], net.dtype, (W.shape[1],), writable)
        net.W[i] = <void *>_cptr(W)
        net.b[i] = <void *>_cptr(intercepts[i])
    net.net.n_layers = <int>K
    net.net.widths = net.widths
    net.keep = [coefs, intercepts]
    return net


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


cdef const void *_opt_ptr(str name, object a, object dtype, Py_ssize_t N) except? NULL:
    """Pointer to the (N,) array `a` of `dtype`, or NULL when a is None."""
    if a is None:
        return NULL
    _check(name, a, dtype, (N,))
    return _cptr(a)


# ---------------------------------------------------------------- functions

def forward(coefs, intercepts, X, activation, out_activation):
    """Output of the last layer: P = f_K(... f(X @ W_0 + b_0) ... @ W_K + b_K)."""
    cdef _Net net = _check_net(coefs, intercepts, X, activation, out_activation)
    _require_blas()
    cdef int64_t N = X.shape[0]
    cdef int K = net.net.n_layers
    P = np.empty((N, net.widths[K]), dtype=net.dtype)
    if N == 0:
        return P
    cdef const void *x = _cptr(X)
    cdef void *p = <void *>_cptr(P)
    cdef int status
    with nogil:
        if net.f64:
            status = mlpx_forward_d(&net.net, <const double **>net.W,
                                    <const double **>net.b, <const double *>x, N,
                                    <double *>p)
        else:
            status = mlpx_forward_f(&net.net, <const float **>net.W,
                                    <const float **>net.b, <const float *>x, N,
                                    <float *>p)
    _raise_status(status)
    return P


def loss_and_grad(coefs, intercepts, X, Y, activation, out_activation, alpha,
                  sample_weight):
    """Loss and its gradient with respect to every coef and intercept.

    loss = L(P, Y) + 0.5 * alpha * sum_i ||W_i||^2 / s
    D_K  = (P - Y) * sample_weight[:, None]
    dW_i = (Z_i^T D_i + alpha * W_i) / s,   db_i = sum_n D_i / s
    D_{i-1} = (D_i @ W_i^T) * f'(Z_i)
    where s = number of rows, or sum(sample_weight).
    """
    cdef _Net net = _check_net(coefs, intercepts, X, activation, out_activation)
    _require_blas()
    cdef int64_t N = X.shape[0]
    cdef int K = net.net.n_layers, i
    if N < 1:
        raise ValueError("X must have at least one row")
    _check("Y", Y, net.dtype, (N, net.widths[K]))
    cdef double a = float(alpha)
    cdef const void *sw = _opt_ptr("sample_weight", sample_weight, net.dtype, N)
    cdef const void *x = _cptr(X)
    cdef const void *y = _cptr(Y)
    coef_grads = [np.empty_like(W) for W in coefs]
    intercept_grads = [np.empty_like(b) for b in intercepts]
    cdef void **ptrs = <void **>malloc(2 * K * sizeof(void *))
    if ptrs == NULL:
        raise MemoryError()
    for i in range(K):
        ptrs[i] = <void *>_cptr(coef_grads[i])
        ptrs[K + i] = <void *>_cptr(intercept_grads[i])
    cdef double loss = 0
    cdef int status
    with nogil:
        if net.f64:
            status = mlpx_loss_and_grad_d(
                &net.net, <const double **>net.W, <const double **>net.b,
                <const double *>x, <const double *>y, <const double *>sw, N, a,
                &loss, <double **>ptrs, <double **>(ptrs + K))
        else:
            status = mlpx_loss_and_grad_f(
                &net.net, <const float **>net.W, <const float **>net.b,
                <const float *>x, <const float *>y, <const float *>sw, N, a,
                &loss, <float **>ptrs, <float **>(ptrs + K))
    free(ptrs)
    _raise_status(status)
    return loss, coef_grads, intercept_grads


def train_epoch(coefs, intercepts, X, Y, sample_weight, order, batch_size,
                activation, out_activation, alpha, solver, state,
                lr, momentum, nesterov, beta_1, beta_2, epsilon, t):
    """One epoch of minibatch training; returns the epoch loss.

    Rows are visited in ``order`` (int64 indices; None: 0..n-1) in contiguous
    batches of ``batch_size`` (the last one holds the rest). Per batch: the
    loss and gradients of ``loss_and_grad`` at the current parameters, then
    one optimizer step applied in place to ``coefs``, ``intercepts`` and
    ``state`` (coefs + intercepts order; SGD velocities, or Adam first then
    second moments). ``t`` = Adam steps taken before this epoch. Returns
    sum_batches(batch_loss * rows) / n.
    """
    cdef _Net net = _check_net(coefs, intercepts, X, activation, out_activation,
                               writable=True)
    _require_blas()
    cdef int64_t N = X.shape[0]
    cdef int K = net.net.n_layers, i, n_state
    if N < 1:
        raise ValueError("X must have at least one row")
    _check("Y", Y, net.dtype, (N, net.widths[K]))
    cdef const void *sw = _opt_ptr("sample_weight", sample_weight, net.dtype, N)
    cdef const void *ordp = NULL
    if order is not None:
        _check("order", order, np.dtype(np.int64), (N,))
        if order.min() < 0 or order.max() >= N:
            raise ValueError(f"order holds indices outside [0, {N})")
        ordp = _cptr(order)
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

    params = list(coefs) + list(intercepts)
    n_state = 2 * K if opt.solver == MLPX_SGD else 4 * K
    if not isinstance(state, (list, tuple)) or len(state) != n_state:
        raise ValueError(
            f"state must be a list of {n_state} arrays for solver={solver!r} "
            f"and {K} layers, got "
            f"{len(state) if isinstance(state, (list, tuple)) else type(state).__name__}")
    cdef void **sp = <void **>malloc(n_state * sizeof(void *))
    if sp == NULL:
        raise MemoryError()
    try:
        for i in range(n_state):
            _check(f"state[{i}]", state[i], net.dtype, params[i % (2 * K)].shape,
                   writable=True)
            sp[i] = <void *>_cptr(state[i])
    except BaseException:
        free(sp)
        raise
    cdef const void *x = _cptr(X)
    cdef const void *y = _cptr(Y)
    cdef double loss = 0
    cdef int status
    with nogil:
        if net.f64:
            status = mlpx_train_epoch_d(
                &net.net, <double **>net.W, <double **>net.b, <const double *>x,
                <const double *>y, <const double *>sw, <const int64_t *>ordp, N,
                bs, a, &opt, <double **>sp, &loss)
        else:
            status = mlpx_train_epoch_f(
                &net.net, <float **>net.W, <float **>net.b, <const float *>x,
                <const float *>y, <const float *>sw, <const int64_t *>ordp, N,
                bs, a, &opt, <float **>sp, &loss)
    free(sp)
    _raise_status(status)
    return loss
