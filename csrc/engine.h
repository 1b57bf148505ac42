/* Engine internals shared by the csrc/ files: the per-CPU kernel names,
 * a vectorizable exp for float and double, and the kernel declarations.
 *
 * Precision templating: each kernel file is compiled once per REAL through
 * template.h (REAL = float, S(name) = name##_f; REAL = double, name##_d).
 */
#ifndef MLPX_ENGINE_H
#define MLPX_ENGINE_H

#include <stdint.h>
#include <string.h>
#include "mlpx.h"

/* Elementwise kernels get per-CPU variants, compiled once per x86-64 ISA
 * level and chosen at run time (isa.h, dispatch.c; no -march=native
 * needed). The vector exp below is inlined into each. */
#include "isa.h"

#if defined(__GNUC__)
#define MLPX_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define MLPX_INLINE static __forceinline
#else
#define MLPX_INLINE static inline
#endif

/* The data term of the loss as the network reports it, from
 * mlpx_output_loss's value: divided by the number of outputs O = n_K for
 * identity outputs when net->mean_outputs (scikit-learn's convention). */
MLPX_INLINE double mlpx_data_loss(const mlpx_net *net, double loss)
{
    const int64_t O = net->widths[net->n_layers];
    return net->mean_outputs && net->out_activation == MLPX_IDENTITY ? loss / (double)O
                                                                     : loss;
}

/* MSVC outside its C11 mode spells C99's restrict __restrict */
#if defined(_MSC_VER) && !defined(__clang__) && \
    (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L)
#define restrict __restrict
#endif

/* Storage duration of one value per thread. */
#if defined(_MSC_VER)
#define MLPX_THREAD_LOCAL __declspec(thread)
#else
#define MLPX_THREAD_LOCAL __thread
#endif

/* Relaxed loads and stores of an int shared between threads (a flag: no
 * ordering needed): GCC/Clang builtins; elsewhere (MSVC) a volatile access,
 * atomic for an aligned int on every target mlpx builds for. */
#if defined(__GNUC__)
#define MLPX_LOAD_RELAXED(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define MLPX_STORE_RELAXED(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#else
#define MLPX_LOAD_RELAXED(x) (*(volatile int *)&(x))
#define MLPX_STORE_RELAXED(x, v) (*(volatile int *)&(x) = (v))
#endif

/* x clamped to [lo, hi]; NaN stays NaN. Both tests are made before either
 * select: written as x = x < lo ? lo : x, GCC 12 specializes the exp and
 * logistic below for the clamped constant, a second masked division per
 * vector. */
MLPX_INLINE double mlpx_clamp_d(double x, double lo, double hi)
{
    const int below = x < lo, above = x > hi;
    x = below ? lo : x;
    return above ? hi : x;
}

MLPX_INLINE float mlpx_clamp_f(float x, float lo, float hi)
{
    const int below = x < lo, above = x > hi;
    x = below ? lo : x;
    return above ? hi : x;
}

/* q(r) = (exp(r) - 1 - r) / r^2 = 1/2 + r/6 + ... + r^11/13!, the Taylor
 * tail used by exp and expm1 below (truncation < 2e-17 for |r| <= ln2/2). */
MLPX_INLINE double mlpx_exp_tail_d(double r)
{
    double q = 1.0 / 6227020800.0;
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    return q * r + 0.5;
}

/* The same tail for float, to r^5/7! (truncation < 6e-9). */
MLPX_INLINE float mlpx_exp_tail_f(float r)
{
    float q = 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    return q * r + 0.5f;
}

/* exp(x) = 2^k exp(r) for double, vectorizable (no libm call, no branches).
 * Cody-Waite: k = round(x log2 e), r = x - k ln2 (ln2 in two parts), |r| <=
 * ln2/2; exp(r) = 1 + (r + r^2 q(r)), the small tail added before the 1
 * (max error 0.95 ulp, ~90% correctly rounded). Returns exp(r) and sets *t
 * to x log2 e + 1.5 * 2^52, whose low bits hold k. */
MLPX_INLINE double mlpx_exp_core_d(double x, double *t)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    *t = x * 1.44269504088896338700e+00 + shift;
    double kd = *t - shift;
    double r = x - kd * 6.93147180369123816490e-01; /* ln2 high part, exact */
    r = r - kd * 1.90821492927058770002e-10;        /* ln2 low part */
    return 1.0 + (r + (r * r) * mlpx_exp_tail_d(r));
}

/* exp(x) for double: 2^k built from exponent bits in two factors 2^k1 2^k2
 * (k1 + k2 = k) so that subnormal results are rounded once and large x
 * overflows to inf. Input clamped to [-746, 710]: beyond, exp is 0 or inf
 * anyway. */
MLPX_INLINE double mlpx_exp_d(double x)
{
    const double shift = 6755399441055744.0;
    x = mlpx_clamp_d(x, -746.0, 710.0);
    double t;
    double p = mlpx_exp_core_d(x, &t);
    double kd = t - shift;
    /* k1 = round(k / 2), k2 = k - k1; bits of (shift + m) = bits(shift) + m,
     * and bits(shift) << 52 vanishes, so (bits + 1023) << 52 = 2^m. */
    double z1 = kd * 0.5 + shift;
    double z2 = (kd - (z1 - shift)) + shift;
    uint64_t b1, b2;
    double s1, s2;
    memcpy(&b1, &z1, 8);
    memcpy(&b2, &z2, 8);
    b1 = (b1 + 1023) << 52;
    b2 = (b2 + 1023) << 52;
    memcpy(&s1, &b1, 8);
    memcpy(&s2, &b2, 8);
    return (p * s1) * s2;
}

/* exp(x) for float, same scheme: ln2 split 0.693359375 + -2.12194440e-4;
 * max error 1.0 ulp. */
MLPX_INLINE float mlpx_exp_core_f(float x, float *t)
{
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    *t = x * 1.44269504088896341f + shift;
    float kd = *t - shift;
    float r = x - kd * 0.693359375f;
    r = r - kd * -2.12194440e-4f;
    return 1.0f + (r + (r * r) * mlpx_exp_tail_f(r));
}

/* Input clamped to [-104, 89]. */
MLPX_INLINE float mlpx_exp_f(float x)
{
    const float shift = 12582912.0f;
    x = mlpx_clamp_f(x, -104.0f, 89.0f);
    float t;
    float p = mlpx_exp_core_f(x, &t);
    float kd = t - shift;
    float z1 = kd * 0.5f + shift;
    float z2 = (kd - (z1 - shift)) + shift;
    uint32_t b1, b2;
    float s1, s2;
    memcpy(&b1, &z1, 4);
    memcpy(&b2, &z2, 4);
    b1 = (b1 + 127u) << 23;
    b2 = (b2 + 127u) << 23;
    memcpy(&s1, &b1, 4);
    memcpy(&s2, &b2, 4);
    return (p * s1) * s2;
}

/* logistic(h) = 1 / (1 + e), e = exp(-h): never overflows or gives NaN for
 * finite h (e = inf gives exactly 0, as scipy's expit). e needs no
 * subnormal results (1 + e rounds them to 1), so it takes one scale factor,
 * 2p 2^(k-1), exact while 2^(k-1) is normal: -h clamped below at -707
 * (double) / -86 (float), where 1 + e is already 1. Above, as in exp. Same
 * bits as 1 / (1 + exp(-h)) wherever e is normal. */
MLPX_INLINE double mlpx_logistic_d(double h)
{
    double x = -h;
    x = mlpx_clamp_d(x, -707.0, 710.0);
    double t;
    double p = mlpx_exp_core_d(x, &t);
    uint64_t b;
    double s;
    memcpy(&b, &t, 8);
    b = (b + 1022) << 52;
    memcpy(&s, &b, 8);
    return 1.0 / (1.0 + (p + p) * s);
}

MLPX_INLINE float mlpx_logistic_f(float h)
{
    float x = -h;
    x = mlpx_clamp_f(x, -86.0f, 89.0f);
    float t;
    float p = mlpx_exp_core_f(x, &t);
    uint32_t b;
    float s;
    memcpy(&b, &t, 4);
    b = (b + 126u) << 23;
    memcpy(&s, &b, 4);
    return 1.0f / (1.0f + (p + p) * s);
}

/* log(x) for positive normal double x (the loss takes it of probabilities
 * clipped to [eps, 1 - eps]), inline: fdlibm's e_log.c scheme, as in musl.
 * x = 2^k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2)); s = f / (2 + f);
 * log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), R a degree-7 minimax
 * polynomial; error < 1 ulp. NaN gives NaN (a NaN probability, from NaN
 * weights, must make the loss NaN). Zero, negative, subnormal and inf inputs
 * are not handled (never passed). */
MLPX_INLINE double mlpx_log_d(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01;
    const double Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01;
    const double Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01;
    const double Lg7 = 1.479819860511658591e-01;
    uint64_t ix;
    memcpy(&ix, &x, 8);
    /* shift the mantissa range to [sqrt(2)/2, sqrt(2)): k from the carry */
    ix += 0x3ff0000000000000ULL - 0x3fe6a09e00000000ULL;
    /* k = (ix >> 52) - 1023 as a double without an int64 conversion (none
     * in AVX2): the bits of 2^52 + e are 0x433... | e */
    uint64_t kb = (ix >> 52) | 0x4330000000000000ULL;
    double kd;
    memcpy(&kd, &kb, 8);
    const double k = kd - (4503599627370496.0 + 1023.0);
    ix = (ix & 0x000fffffffffffffULL) + 0x3fe6a09e00000000ULL;
    double m;
    memcpy(&m, &ix, 8);
    const double f = m - 1.0;
    const double hfsq = 0.5 * f * f;
    const double s = f / (2.0 + f);
    const double z = s * s, w = z * z;
    const double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    const double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    const double R = t2 + t1;
    const double r = s * (hfsq + R) + k * ln2_lo - hfsq + f + k * ln2_hi;
    return x == x ? r : x;
}

/* expm1(y) = y + y^2 q(y) for |y| <= ln2/2 (used by tanh near 0). */
MLPX_INLINE double mlpx_expm1_small_d(double y)
{
    return y + (y * y) * mlpx_exp_tail_d(y);
}

MLPX_INLINE float mlpx_expm1_small_f(float y)
{
    return y + (y * y) * mlpx_exp_tail_f(y);
}

/* pool.c: a parallel loop over parts fixed in advance. fn(arg, part,
 * worker) runs once for every part in [0, nparts), on the caller (worker 0)
 * and up to threads - 1 helper threads (workers 1 .. threads - 1; worker
 * indexes per-worker scratch, never results); returns when all are done.
 * Parts must write disjoint memory and the caller sums over parts in part
 * order afterwards: then results do not depend on threads or timing. */
#define MLPX_MAX_THREADS 64
#define MLPX_MAX_TILES 64 /* tiles of one GEMM at most */
typedef void (*mlpx_part_fn)(void *arg, int64_t part, int worker);
void mlpx_pool_for(int threads, int64_t nparts, mlpx_part_fn fn, void *arg);

/* blas.c: the threads the shared BLAS may use now (its own setting, so
 * OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and threadpoolctl limits apply),
 * 1 when unknown. */
int mlpx_blas_threads(void);
/* A GEMM of this shape runs on one thread of the shared BLAS whatever its
 * thread setting (OpenBLAS: m n k <= 65536 x 4, interface/gemm.c; a GEMM
 * with m or n = 1 is forwarded to GEMV, one thread up to 2304 x 4 matrix
 * entries). Larger ones go to the local BLAS while the shared one may use
 * several threads, so that no result depends on the thread count. */
int mlpx_gemm_one_thread(int64_t M, int64_t N, int64_t Kd);
/* While on (this thread only), every GEMM goes to the shared BLAS whatever
 * its size, on that library's own threads (the whole-GEMM epoch). */
void mlpx_gemm_whole(int on);

/* threads.c: the thread policy, in one place. */
/* Threads a loop of nparts parts, macs multiply-adds in all, may use: the
 * shared BLAS's limit, at most nparts and MLPX_MAX_THREADS, 1 for work too
 * small to share, and 1 when a GEMM needs the local BLAS that is missing
 * (big_gemms: some GEMM of the loop is not mlpx_gemm_one_thread). */
int mlpx_threads_for(int64_t nparts, double macs, int big_gemms);
/* How a GEMM with output (M, N) and inner size Kd, of elements of `elem`
 * bytes, is cut into tiles: n tiles of `size` rows (by_rows) or columns,
 * the last one shorter. Fixed by the shape alone. */
typedef struct {
    int64_t n, size;
    int by_rows;
} mlpx_tiles;
mlpx_tiles mlpx_gemm_tiles(int64_t M, int64_t N, int64_t Kd, int elem);
/* The tiles of layer i's backward phase on B rows: rows of W_i. */
mlpx_tiles mlpx_backward_tiles(const mlpx_net *net, int i, int64_t B, int elem);
/* Rows per block of mlpx_forward. */
int64_t mlpx_forward_rows(const mlpx_net *net);
/* 1 when mlpx_forward on N rows (elements of elem bytes) is one block
 * whose GEMMs are cut into tiles (a layer has more than one), 0 when it
 * runs in blocks of rows. */
int mlpx_forward_tiled(const mlpx_net *net, int64_t N, int elem);
/* 1 when a training batch of B rows (elements of elem bytes) is cut into
 * more than one part (epoch_tiles.c), 0 for the plain loop (epoch.c). */
int mlpx_epoch_tiled(const mlpx_net *net, int64_t B, int elem);
/* Threads for the tiled epoch (or loss_and_grad) on batches of B rows, by
 * the most parts of any phase (gather_parts: the gather's) and the
 * multiply-adds of a batch. */
int mlpx_tiles_threads(const mlpx_net *net, int64_t B, int elem, int64_t gather_parts);
/* 1 when some GEMM of a call on B rows per batch is not one-thread safe */
int mlpx_has_big_gemms(const mlpx_net *net, int64_t B);

#define MLPX_DECLARE_KERNELS(REAL, S)                                          \
    /* blas.c: row-major C (M, N) = alpha op(A) op(B) + beta C,                \
     * op(A) (M, Kd), op(B) (Kd, N); ta/tb nonzero = transpose. */             \
    void mlpx_gemm_##S(int ta, int tb, int64_t M, int64_t N, int64_t Kd,       \
                       REAL alpha, const REAL *A, int64_t lda, const REAL *B,  \
                       int64_t ldb, REAL beta, REAL *C, int64_t ldc);          \
    /* activations.c */                                                        \
    void mlpx_bias_act_##S(REAL *H, const REAL *b, int64_t N, int64_t O,       \
                           int act);                                           \
    void mlpx_act_deriv_##S(REAL *D, const REAL *Z, const REAL *G, int64_t N,  \
                            int64_t F, int act);                               \
    void mlpx_outer_deriv_##S(REAL *D, const REAL *Z, const REAL *d,           \
                              const REAL *v, int64_t N, int64_t F, int act);   \
    /* loss.c */                                                               \
    void mlpx_softmax_##S(REAL *H, const REAL *b, int64_t N, int64_t O);       \
    double mlpx_output_loss_##S(REAL *H, const REAL *b, const REAL *Y,         \
                                const int64_t *yrow, const REAL *sw,           \
                                int64_t N, int64_t O, int out_act);            \
    /* forward.c */                                                            \
    void mlpx_forward_batch_##S(const mlpx_net *net, const REAL *const *W,     \
                                const REAL *const *b, const REAL *X,           \
                                int64_t N, REAL *const *Z, int out_pass);      \
    /* Tile p (of t, mlpx_gemm_tiles(N, n_{i+1}, n_i)) of layer i's          \
     * H = Z[i] W_i into Z[i+1] (N, n_{i+1}), then bias + activation on the   \
     * tile for a hidden layer (the output layer's come after all tiles). */  \
    void mlpx_forward_tile_##S(const mlpx_net *net, const REAL *const *W,      \
                               const REAL *const *b, REAL *const *Z,           \
                               int64_t N, int i, mlpx_tiles t, int64_t p);     \
    /* epoch_tiles.c: the tiled epoch and loss_and_grad (same arguments as   \
     * mlpx_train_epoch and mlpx_loss_and_grad, B = rows per batch) */       \
    int mlpx_train_epoch_tiles_##S(                                            \
        const mlpx_net *net, REAL *const *coefs, REAL *const *intercepts,      \
        const REAL *X, const REAL *Y, const REAL *sw, const int64_t *order,    \
        int64_t N, int64_t B, double alpha, const mlpx_optim *opt,             \
        REAL *const *state, double *loss);                                     \
    int mlpx_loss_and_grad_tiles_##S(                                          \
        const mlpx_net *net, const REAL *const *coefs,                         \
        const REAL *const *intercepts, const REAL *X, const REAL *Y,           \
        const REAL *sw, int64_t N, double alpha, double *loss,                 \
        REAL *const *dW, REAL *const *db);                                     \
    /* backward.c */                                                           \
    REAL mlpx_batch_weight_##S(const REAL *sw, int64_t N);                    \
    double mlpx_batch_grad_##S(const mlpx_net *net, const REAL *const *W,      \
                               const REAL *const *b, const REAL *X,            \
                               const REAL *Y, const int64_t *yrow,             \
                               const REAL *sw, int64_t N,                      \
                               double alpha, double sq, int finish,            \
                               REAL *const *Z, REAL *tmp, REAL *const *dW,     \
                               REAL *const *db, REAL *s_out,                   \
                               REAL *const *Wsgd, REAL lr);                    \
    /* grads.c: db (O,) = sum_n D[n, :]; dW (F, O) <- (dW + alpha W) / s,      \
     * db <- db / s */                                                         \
    void mlpx_column_sums_##S(REAL *db, const REAL *D, int64_t N, int64_t O);  \
    void mlpx_finish_grads_##S(REAL *dW, const REAL *W, REAL *db, int64_t F,   \
                               int64_t O, REAL alpha, REAL s);                 \
    /* optim.c */                                                              \
    double mlpx_sum_squares_##S(const REAL *w, int64_t n);                     \
    void mlpx_sgd_##S(REAL *p, const REAL *G, REAL *v, int64_t n, REAL alpha,  \
                      REAL s, REAL lr, REAL mu, int nesterov);                 \
    void mlpx_adam_##S(REAL *p, const REAL *G, REAL *m, REAL *v, int64_t n,    \
                       REAL alpha, REAL s, REAL b1, REAL c1, REAL b2, REAL c2, \
                       double lr_t, REAL eps);

MLPX_DECLARE_KERNELS(float, f)
MLPX_DECLARE_KERNELS(double, d)

#endif
