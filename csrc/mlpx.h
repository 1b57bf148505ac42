/* mlpx engine: public C99 API (no Python, no BLAS header).
 *
 * Layout follows scikit-learn: a batch is Z_0 = X of shape (N, n_0), layer i
 * has W_i = coefs[i] of shape (n_i, n_{i+1}) and b_i = intercepts[i] of shape
 * (n_{i+1},), all row-major (C order). Shape letters: N samples, F fan-in,
 * O fan-out. K = number of layers (weight matrices).
 *
 * Every entry point exists for float (suffix _f) and double (suffix _d).
 * The caller allocates every output; work buffers are allocated inside, once
 * per call (never per batch), and a failed allocation returns MLPX_ENOMEM.
 */
#ifndef MLPX_H
#define MLPX_H

#include <stdint.h>

enum mlpx_activation {
    MLPX_IDENTITY = 0,
    MLPX_LOGISTIC = 1,
    MLPX_TANH = 2,
    MLPX_RELU = 3,
    MLPX_SOFTMAX = 4, /* output layer only */
    MLPX_EXP = 5      /* output layer only (Poisson) */
};

enum mlpx_solver { MLPX_SGD = 0, MLPX_ADAM = 1 };

/* MLPX_ENONFINITE: X holds a NaN or an infinity (mlpx_forward with
 * MLPX_CHECK_X); MLPX_EOUTPUT: the output P does (mlpx_forward with
 * MLPX_CHECK_OUTPUT: the activations overflowed) */
enum mlpx_status {
    MLPX_OK = 0, MLPX_ENOMEM = 1, MLPX_ENOBLAS = 2, MLPX_ENONFINITE = 3, MLPX_EOUTPUT = 4
};

/* mlpx_forward's checks, or-ed together. */
enum mlpx_check { MLPX_CHECK_X = 1, MLPX_CHECK_OUTPUT = 2 };

/* The network's shape: widths[0..n_layers] = n_0 .. n_K. */
typedef struct {
    int n_layers;
    const int64_t *widths;
    int activation;     /* hidden layers: identity, logistic, tanh, relu */
    int out_activation; /* identity, logistic, softmax, exp */
    /* identity outputs only: 0 (the default) reports half the squared error
     * summed over the outputs, whose gradient is the one returned; 1 averages
     * it over the outputs too (scikit-learn's loss value, for its
     * estimators' loss_curve_), the gradient unchanged. */
    int mean_outputs;
} mlpx_net;

/* Optimizer settings for one epoch. t = Adam steps taken before the epoch. */
typedef struct {
    int solver;
    double lr, momentum;
    int nesterov;
    double beta_1, beta_2, epsilon;
    int64_t t;
} mlpx_optim;

/* BLAS table: raw addresses of Fortran-ABI sgemm_/dgemm_; ilp64 != 0 means
 * 64-bit integer arguments; get_threads: the address of an `int (void)`
 * returning the threads the BLAS may use now (openblas_get_num_threads), or
 * NULL (then the engine uses one thread). Must be set before any other call. */
void mlpx_set_blas(void *sgemm, void *dgemm, int ilp64, void *get_threads);
int mlpx_has_blas(void);
/* The local BLAS: the same kind of addresses into a private instance of a
 * BLAS library that nothing else calls, set to one thread by its owner
 * (get_threads must return 1; NULLs: none). While the shared BLAS may use
 * several threads, every GEMM too big for one thread of it goes here, so
 * that each GEMM call runs on exactly one thread (no result then depends on
 * a thread count) and mlpx's threads can each call it on their own tiles.
 * mlpx_has_blas_local: set, and still at one thread. */
void mlpx_set_blas_local(void *sgemm, void *dgemm, int ilp64, void *get_threads);
int mlpx_has_blas_local(void);
/* Optional Fortran-ABI sgemv_/dgemv_ addresses of the same library as the
 * shared (local = 0) or the local (local = 1) entry's GEMMs, with its integer
 * width: products with one row or one column then go to GEMV. Setting that
 * entry's GEMMs again removes them; NULLs remove them. */
void mlpx_set_gemv(void *sgemv, void *dgemv, int local);
/* Opt-in: training batches with at least `macs` multiply-adds (3 B n_i
 * n_{i+1} summed over layers) run as whole GEMMs on the shared BLAS's own
 * threads, whose numbers are the same for the same thread count, and which
 * slow down several times over when the threads outnumber the free cores;
 * the others are cut into one-thread tiles fixed by the shapes, whose
 * numbers are the same for every thread count. Default and negative:
 * HUGE_VAL (never). Process-wide; set it before training, not during. */
void mlpx_set_whole_macs(double macs);
/* 1 when a training batch of B rows runs as whole GEMMs (the above), 0 when
 * as one-thread tiles or the plain one-thread loop. */
int mlpx_epoch_whole(const mlpx_net *net, int64_t B);
/* 1 when a call on N rows in batches of batch_size (mlpx_forward: 0, for
 * its row blocks; mlpx_loss_and_grad: N) would use the local BLAS: the shared BLAS
 * may use several threads and some GEMM is too big for one of them. The
 * caller can then set one up first (without one, such calls run on the
 * calling thread, their big GEMMs on the shared BLAS's threads, and results
 * then depend on its thread count). */
int mlpx_wants_blas_local(const mlpx_net *net, int64_t N, int64_t batch_size);

/* Threads mlpx_train_epoch uses for this network, N and batch_size, and
 * mlpx_forward for N rows: from 1 up to the shared BLAS's limit (threads.c
 * has the policy; counted for float32, whose tiles double ones may
 * outsize). Results do not depend on it: the work is cut into parts by the
 * shapes alone, and any thread may run any part. */
int mlpx_epoch_threads(const mlpx_net *net, int64_t N, int64_t batch_size);
int mlpx_forward_threads(const mlpx_net *net, int64_t N);

/* The elementwise kernels' code path, chosen once per process: "x86-64-v4"
 * (AVX-512), "x86-64-v3" (AVX2, FMA) or "x86-64" (SSE2): the best the CPU
 * supports, capped by the environment variable MLPX_CPU (x86-64,
 * x86-64-v2, x86-64-v3, x86-64-v4 or auto); "generic" in builds without
 * per-level kernels (not x86-64, or not GCC/Clang). */
const char *mlpx_kernel_path(void);

#define MLPX_DECLARE_API(REAL, S)                                              \
    /* P (N, n_K) = f_K(... f(X W_0 + b_0) ... W_K + b_K). checks            \
     * (enum mlpx_check): MLPX_CHECK_X checks each block of X rows just       \
     * before its GEMMs read it, and a NaN or infinity ends the call with     \
     * MLPX_ENONFINITE (P partly written); MLPX_CHECK_OUTPUT checks each      \
     * block of P rows as it is written: MLPX_EOUTPUT if one is not finite. */ \
    int mlpx_forward_##S(const mlpx_net *net, const REAL *const *coefs,        \
                         const REAL *const *intercepts, const REAL *X,         \
                         int64_t N, REAL *P, int checks);                      \
    /* 1 when the n values at x are all finite (no NaN, no infinity). */      \
    int mlpx_all_finite_##S(const REAL *x, int64_t n);                         \
    /* loss = L(P, Y) + 0.5 alpha sum ||W_i||^2 / s and its gradients          \
     * dW_i (n_i, n_{i+1}), db_i (n_{i+1},); sw (N,) may be NULL. */           \
    int mlpx_loss_and_grad_##S(const mlpx_net *net, const REAL *const *coefs,  \
                               const REAL *const *intercepts, const REAL *X,   \
                               const REAL *Y, const REAL *sw, int64_t N,       \
                               double alpha, double *loss, REAL *const *dW,    \
                               REAL *const *db);                               \
    /* One epoch of minibatch training, parameters and state updated in        \
     * place; order (N,) int64 row indices or NULL; *loss = epoch loss. */     \
    int mlpx_train_epoch_##S(const mlpx_net *net, REAL *const *coefs,          \
                             REAL *const *intercepts, const REAL *X,           \
                             const REAL *Y, const REAL *sw,                    \
                             const int64_t *order, int64_t N,                  \
                             int64_t batch_size, double alpha,                 \
                             const mlpx_optim *opt, REAL *const *state,        \
                             double *loss);

MLPX_DECLARE_API(float, f)
MLPX_DECLARE_API(double, d)

#endif
