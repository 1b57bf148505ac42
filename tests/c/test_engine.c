/* The mlpx engine (csrc/) tested on its own: no Python, no BLAS library.
 *
 * A plain column-major Fortran-ABI sgemm_/dgemm_ below goes into the
 * engine's BLAS table (mlpx_set_blas), and every result of the public API
 * is checked against values computed here:
 *   - hand-computed numbers on networks of a few units;
 *   - a straightforward double-precision reference of the forward pass, the
 *     loss (scikit-learn's: clipped cross-entropy, half squared error, L2
 *     penalty, sample weights) and its gradients, for every hidden and
 *     output activation, in float64 and float32;
 *   - the gradients against central differences of the engine's own loss;
 *   - a few epochs of SGD (momentum, Nesterov) and Adam, shuffled order and
 *     sample weights, against the same reference; the loss must fall;
 *   - with the shared BLAS claiming 4 threads and a one-thread local BLAS,
 *     tiled epochs and blocked forward passes give the same bits as on one
 *     thread (the engine's invariant);
 *   - with a reference GEMV in the table (products with one row or one
 *     column go there), the same bits as through the GEMM: every argument
 *     mapping of blas.c's GEMV path, in both entries.
 * Exit status 0 when every check passes. Built by tests/c/run.sh.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlpx.h"

static int n_checks, n_failed;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        n_checks++;                                                            \
        if (!(cond)) {                                                         \
            n_failed++;                                                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                        \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

/* ---- the reference GEMM: Fortran ABI, column-major, 32-bit integers ---- */

static long gemm_calls, gemv_calls; /* counted from the engine's worker threads too */
#if defined(__GNUC__)
#define COUNT_CALL(n) __atomic_fetch_add(&(n), 1, __ATOMIC_RELAXED)
#else
#define COUNT_CALL(n) ((n)++)
#endif

/* C (m, n) = alpha op(A) op(B) + beta C, column-major; C is not read when
 * beta = 0 (as in the reference BLAS). Sums in double. */
#define REF_GEMM(NAME, T)                                                      \
    static void NAME(const char *ta, const char *tb, const int32_t *m,         \
                     const int32_t *n, const int32_t *k, const T *alpha,       \
                     const T *A, const int32_t *lda, const T *B,               \
                     const int32_t *ldb, const T *beta, T *C,                  \
                     const int32_t *ldc)                                       \
    {                                                                          \
        const int at = *ta == 'T' || *ta == 't', bt = *tb == 'T' || *tb == 't'; \
        COUNT_CALL(gemm_calls);                                                       \
        for (int32_t j = 0; j < *n; j++)                                       \
            for (int32_t i = 0; i < *m; i++) {                                 \
                double s = 0;                                                  \
                for (int32_t l = 0; l < *k; l++) {                             \
                    const double a = at ? A[l + (int64_t)i * *lda]             \
                                        : A[i + (int64_t)l * *lda];            \
                    const double b = bt ? B[j + (int64_t)l * *ldb]             \
                                        : B[l + (int64_t)j * *ldb];            \
                    s += a * b;                                                \
                }                                                              \
                T *c = &C[i + (int64_t)j * *ldc];                              \
                *c = (T)(*alpha * s + (*beta == 0 ? 0 : *beta * *c));          \
            }                                                                  \
    }
REF_GEMM(ref_sgemm, float)
REF_GEMM(ref_dgemm, double)

/* y = alpha op(A) x + beta y, column-major A (m, n); y is not read when
 * beta = 0. Sums in double in the order REF_GEMM does, so a product routed
 * here gives the bits it would through REF_GEMM. */
#define REF_GEMV(NAME, T)                                                      \
    static void NAME(const char *tr, const int32_t *m, const int32_t *n,       \
                     const T *alpha, const T *A, const int32_t *lda,           \
                     const T *x, const int32_t *incx, const T *beta, T *y,     \
                     const int32_t *incy)                                      \
    {                                                                          \
        const int t = *tr == 'T' || *tr == 't';                                \
        const int32_t rows = t ? *n : *m, len = t ? *m : *n;                    \
        COUNT_CALL(gemv_calls);                                                \
        for (int32_t i = 0; i < rows; i++) {                                   \
            double s = 0;                                                      \
            for (int32_t l = 0; l < len; l++) {                                \
                const double a = t ? A[l + (int64_t)i * *lda]                  \
                                   : A[i + (int64_t)l * *lda];                 \
                s += a * x[(int64_t)l * *incx];                                \
            }                                                                  \
            T *c = &y[(int64_t)i * *incy];                                     \
            *c = (T)(*alpha * s + (*beta == 0 ? 0 : *beta * *c));              \
        }                                                                      \
    }
REF_GEMV(ref_sgemv, float)
REF_GEMV(ref_dgemv, double)

static int threads_claimed = 1;
static int shared_threads(void) { return threads_claimed; }
static int one_thread(void) { return 1; }

/* Function pointers to void *: through memcpy, which ISO C allows. */
static void *fn_addr(void (*fn)(void))
{
    void *p;
    memcpy(&p, &fn, sizeof p);
    return p;
}
#define ADDR(f) fn_addr((void (*)(void))(f))

static void use_blas(int threads, int local)
{
    threads_claimed = threads;
    mlpx_set_blas(ADDR(ref_sgemm), ADDR(ref_dgemm), 0, ADDR(shared_threads));
    if (local)
        mlpx_set_blas_local(ADDR(ref_sgemm), ADDR(ref_dgemm), 0, ADDR(one_thread));
    else
        mlpx_set_blas_local(NULL, NULL, 0, NULL);
}

/* use_blas, and the reference GEMV in both entries */
static void use_blas_gemv(int threads, int local)
{
    use_blas(threads, local);
    mlpx_set_gemv(ADDR(ref_sgemv), ADDR(ref_dgemv), 0);
    if (local) mlpx_set_gemv(ADDR(ref_sgemv), ADDR(ref_dgemv), 1);
}

/* ---- data ---- */

static uint64_t rng_state = 88172645463325252u;
static double uniform(double lo, double hi) /* xorshift64 */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

#define MAXL 4
typedef struct {
    mlpx_net net;
    int64_t w[MAXL + 1];
    double *W[MAXL], *b[MAXL]; /* row-major W_i (w_i, w_{i+1}) */
} model;

static void model_init(model *m, int K, const int64_t *widths, int act, int out,
                       double scale)
{
    memset(m, 0, sizeof *m);
    m->net.n_layers = K;
    m->net.widths = m->w;
    m->net.activation = act;
    m->net.out_activation = out;
    for (int i = 0; i <= K; i++) m->w[i] = widths[i];
    for (int i = 0; i < K; i++) {
        m->W[i] = malloc(sizeof(double) * (size_t)(m->w[i] * m->w[i + 1]));
        m->b[i] = malloc(sizeof(double) * (size_t)m->w[i + 1]);
        for (int64_t j = 0; j < m->w[i] * m->w[i + 1]; j++) m->W[i][j] = uniform(-scale, scale);
        for (int64_t j = 0; j < m->w[i + 1]; j++) m->b[i][j] = uniform(-scale, scale);
    }
}

static void model_free(model *m)
{
    for (int i = 0; i < m->net.n_layers; i++) {
        free(m->W[i]);
        free(m->b[i]);
    }
}

static double *random_array(int64_t n, double lo, double hi)
{
    double *a = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) a[i] = uniform(lo, hi);
    return a;
}

/* targets matching the output activation: one-hot rows (softmax), 0/1
 * (logistic), reals (identity) */
static double *targets(int64_t N, int64_t O, int out)
{
    double *Y = calloc((size_t)(N * O), sizeof(double));
    for (int64_t n = 0; n < N; n++) {
        if (out == MLPX_SOFTMAX)
            Y[n * O + (int64_t)uniform(0, (double)O - 1e-9)] = 1;
        else
            for (int64_t o = 0; o < O; o++)
                Y[n * O + o] = out == MLPX_LOGISTIC ? (uniform(0, 1) < 0.5)
                               : out == MLPX_EXP    ? (uniform(0, 1) < 0.3 ? 0 : uniform(0, 3))
                                                    : uniform(-1, 1);
    }
    return Y;
}

/* ---- the reference, in double ---- */

static double act_f(double h, int act)
{
    switch (act) {
    case MLPX_LOGISTIC: return 1 / (1 + exp(-h));
    case MLPX_TANH: return tanh(h);
    case MLPX_RELU: return h > 0 ? h : 0;
    case MLPX_EXP: return exp(h);
    default: return h;
    }
}

static double act_deriv(double z, int act) /* from the output z = f(h) */
{
    switch (act) {
    case MLPX_LOGISTIC: return z * (1 - z);
    case MLPX_TANH: return 1 - z * z;
    case MLPX_RELU: return z > 0;
    default: return 1;
    }
}

/* Z[0] = X, Z[i+1] (N, w_{i+1}) = f(Z[i] W_i + b_i); Z[1..K] allocated here */
static void ref_forward(const model *m, const double *X, int64_t N, double **Z)
{
    const int K = m->net.n_layers;
    Z[0] = (double *)X;
    for (int i = 0; i < K; i++) {
        const int64_t F = m->w[i], O = m->w[i + 1];
        const int act = i == K - 1 ? m->net.out_activation : m->net.activation;
        double *H = Z[i + 1] = malloc(sizeof(double) * (size_t)(N * O));
        for (int64_t n = 0; n < N; n++) {
            for (int64_t o = 0; o < O; o++) {
                double s = m->b[i][o];
                for (int64_t f = 0; f < F; f++) s += Z[i][n * F + f] * m->W[i][f * O + o];
                H[n * O + o] = s;
            }
            if (act == MLPX_SOFTMAX) {
                double mx = -INFINITY, sum = 0;
                for (int64_t o = 0; o < O; o++) mx = H[n * O + o] > mx ? H[n * O + o] : mx;
                for (int64_t o = 0; o < O; o++) sum += H[n * O + o] = exp(H[n * O + o] - mx);
                for (int64_t o = 0; o < O; o++) H[n * O + o] /= sum;
            } else {
                for (int64_t o = 0; o < O; o++) H[n * O + o] = act_f(H[n * O + o], act);
            }
        }
    }
}

static void free_Z(double **Z, int K)
{
    for (int i = 1; i <= K; i++) free(Z[i]);
}

/* loss and gradients (dW, db allocated by the caller), as the NumPy twin:
 * D_K = (P - Y) sw, dW_i = (Z_i^T D_i + alpha W_i) / s, db_i = sum D_i / s,
 * D_{i-1} = (D_i W_i^T) f'(Z_i); eps = the precision's machine epsilon */
static double ref_loss_grad(const model *m, const double *X, const double *Y,
                            const double *sw, int64_t N, double alpha, double eps,
                            double **dW, double **db)
{
    const int K = m->net.n_layers, out = m->net.out_activation;
    const int64_t O = m->w[K];
    double *Z[MAXL + 1];
    ref_forward(m, X, N, Z);
    const double *P = Z[K];
    double s = 0, loss = 0;
    for (int64_t n = 0; n < N; n++) s += sw ? sw[n] : 1;
    for (int64_t n = 0; n < N; n++) {
        double row = 0;
        for (int64_t o = 0; o < O; o++) {
            const double y = Y[n * O + o];
            double p = P[n * O + o];
            if (out == MLPX_IDENTITY) {
                row += 0.5 * (y - p) * (y - p);
                continue;
            }
            if (out == MLPX_EXP) { /* half the Poisson deviance */
                row += (y != 0 ? y * log(y / p) : 0) - y + p;
                continue;
            }
            p = p < eps ? eps : p > 1 - eps ? 1 - eps : p;
            if (y != 0) row -= y * log(p);
            if (out == MLPX_LOGISTIC && y != 1) row -= (1 - y) * log(1 - p);
        }
        loss += (sw ? sw[n] : 1) * row;
    }
    loss /= s;
    if (alpha != 0) {
        double sq = 0;
        for (int i = 0; i < K; i++)
            for (int64_t j = 0; j < m->w[i] * m->w[i + 1]; j++) sq += m->W[i][j] * m->W[i][j];
        loss += 0.5 * alpha * sq / s;
    }
    if (dW) {
        double *D = malloc(sizeof(double) * (size_t)(N * O));
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < O; o++)
                D[n * O + o] = (P[n * O + o] - Y[n * O + o]) * (sw ? sw[n] : 1);
        for (int i = K - 1; i >= 0; i--) {
            const int64_t F = m->w[i], Oi = m->w[i + 1];
            for (int64_t f = 0; f < F; f++)
                for (int64_t o = 0; o < Oi; o++) {
                    double g = 0;
                    for (int64_t n = 0; n < N; n++) g += Z[i][n * F + f] * D[n * Oi + o];
                    dW[i][f * Oi + o] = (g + alpha * m->W[i][f * Oi + o]) / s;
                }
            for (int64_t o = 0; o < Oi; o++) {
                double g = 0;
                for (int64_t n = 0; n < N; n++) g += D[n * Oi + o];
                db[i][o] = g / s;
            }
            if (i == 0) break;
            double *Dp = malloc(sizeof(double) * (size_t)(N * F));
            for (int64_t n = 0; n < N; n++)
                for (int64_t f = 0; f < F; f++) {
                    double g = 0;
                    for (int64_t o = 0; o < Oi; o++) g += D[n * Oi + o] * m->W[i][f * Oi + o];
                    Dp[n * F + f] = g * act_deriv(Z[i][n * F + f], m->net.activation);
                }
            free(D);
            D = Dp;
        }
        free(D);
    }
    free_Z(Z, K);
    return loss;
}

/* one epoch, as the NumPy twin's train_epoch; params and state updated */
static double ref_epoch(model *m, const double *X, const double *Y, const double *sw,
                        const int64_t *order, int64_t N, int64_t B, double alpha,
                        const mlpx_optim *opt, double **state, double eps)
{
    const int K = m->net.n_layers;
    const int64_t F0 = m->w[0], O = m->w[K];
    double *xb = malloc(sizeof(double) * (size_t)(B * F0));
    double *yb = malloc(sizeof(double) * (size_t)(B * O));
    double *swb = malloc(sizeof(double) * (size_t)B);
    double *dW[MAXL], *db[MAXL];
    for (int i = 0; i < K; i++) {
        dW[i] = malloc(sizeof(double) * (size_t)(m->w[i] * m->w[i + 1]));
        db[i] = malloc(sizeof(double) * (size_t)m->w[i + 1]);
    }
    double total = 0;
    int64_t t = opt->t;
    for (int64_t start = 0; start < N; start += B) {
        const int64_t nb = N - start < B ? N - start : B;
        for (int64_t r = 0; r < nb; r++) {
            const int64_t src = order ? order[start + r] : start + r;
            memcpy(xb + r * F0, X + src * F0, sizeof(double) * (size_t)F0);
            memcpy(yb + r * O, Y + src * O, sizeof(double) * (size_t)O);
            if (sw) swb[r] = sw[src];
        }
        total += ref_loss_grad(m, xb, yb, sw ? swb : NULL, nb, alpha, eps, dW, db) * (double)nb;
        t++;
        const double lr_t = opt->lr * sqrt(1 - pow(opt->beta_2, (double)t)) /
                            (1 - pow(opt->beta_1, (double)t));
        for (int q = 0; q < 2 * K; q++) { /* coefs then intercepts */
            const int i = q % K;
            double *p = q < K ? m->W[i] : m->b[i], *g = q < K ? dW[i] : db[i];
            const int64_t n = q < K ? m->w[i] * m->w[i + 1] : m->w[i + 1];
            for (int64_t j = 0; j < n; j++) {
                if (opt->solver == MLPX_SGD) {
                    double *v = &state[q][j];
                    *v = opt->momentum * *v - opt->lr * g[j];
                    p[j] += opt->nesterov ? opt->momentum * *v - opt->lr * g[j] : *v;
                } else {
                    double *mm = &state[q][j], *vv = &state[2 * K + q][j];
                    *mm = opt->beta_1 * *mm + (1 - opt->beta_1) * g[j];
                    *vv = opt->beta_2 * *vv + (1 - opt->beta_2) * g[j] * g[j];
                    p[j] += -lr_t * *mm / (sqrt(*vv) + opt->epsilon);
                }
            }
        }
    }
    for (int i = 0; i < K; i++) {
        free(dW[i]);
        free(db[i]);
    }
    free(xb);
    free(yb);
    free(swb);
    return total / (double)N;
}

/* ---- the engine, in float or double (arrays converted from double) ---- */

/* max |a - b| / max(max |b|, 1e-300) over n values */
static double rel_err_d(const double *a, const double *b, int64_t n)
{
    double e = 0, s = 1e-300;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]);
        e = d > e || d != d ? d : e;
        s = fabs(b[i]) > s ? fabs(b[i]) : s;
    }
    return e / s;
}

#define ENGINE(REAL, S)                                                        \
    static REAL *to_##S(const double *a, int64_t n)                            \
    {                                                                          \
        REAL *r = malloc(sizeof(REAL) * (size_t)(n > 0 ? n : 1));              \
        for (int64_t i = 0; i < n; i++) r[i] = (REAL)a[i];                     \
        return r;                                                              \
    }                                                                          \
    static double *from_##S(const REAL *a, int64_t n)                          \
    {                                                                          \
        double *r = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));          \
        for (int64_t i = 0; i < n; i++) r[i] = (double)a[i];                   \
        return r;                                                              \
    }                                                                          \
    typedef struct {                                                           \
        REAL *W[MAXL], *b[MAXL];                                               \
    } params_##S;                                                              \
    static void params_get_##S(params_##S *p, const model *m)                  \
    {                                                                          \
        for (int i = 0; i < m->net.n_layers; i++) {                            \
            p->W[i] = to_##S(m->W[i], m->w[i] * m->w[i + 1]);                  \
            p->b[i] = to_##S(m->b[i], m->w[i + 1]);                            \
        }                                                                      \
    }                                                                          \
    static void params_free_##S(params_##S *p, int K)                          \
    {                                                                          \
        for (int i = 0; i < K; i++) {                                          \
            free(p->W[i]);                                                     \
            free(p->b[i]);                                                     \
        }                                                                      \
    }                                                                          \
    /* P (N, n_K) as doubles, or NULL with *status set */                      \
    static double *forward_##S(const model *m, const double *X, int64_t N,     \
                               int check, int *status)                         \
    {                                                                          \
        const int K = m->net.n_layers;                                         \
        params_##S p;                                                          \
        params_get_##S(&p, m);                                                 \
        REAL *x = to_##S(X, N * m->w[0]);                                      \
        REAL *P = malloc(sizeof(REAL) * (size_t)(N * m->w[K]));                \
        *status = mlpx_forward_##S(&m->net, (const REAL *const *)p.W,          \
                                   (const REAL *const *)p.b, x, N, P, check);  \
        double *r = *status ? NULL : from_##S(P, N * m->w[K]);                 \
        free(P);                                                               \
        free(x);                                                               \
        params_free_##S(&p, K);                                                \
        return r;                                                              \
    }                                                                          \
    static int loss_grad_##S(const model *m, const double *X, const double *Y, \
                             const double *sw, int64_t N, double alpha,        \
                             double *loss, double **dW, double **db)           \
    {                                                                          \
        const int K = m->net.n_layers;                                         \
        params_##S p, g;                                                       \
        params_get_##S(&p, m);                                                 \
        params_get_##S(&g, m);                                                 \
        REAL *x = to_##S(X, N * m->w[0]), *y = to_##S(Y, N * m->w[K]);         \
        REAL *w = sw ? to_##S(sw, N) : NULL;                                   \
        const int st = mlpx_loss_and_grad_##S(                                 \
            &m->net, (const REAL *const *)p.W, (const REAL *const *)p.b, x, y, \
            w, N, alpha, loss, g.W, g.b);                                      \
        for (int i = 0; dW && i < K; i++) {                                    \
            for (int64_t j = 0; j < m->w[i] * m->w[i + 1]; j++)                \
                dW[i][j] = g.W[i][j];                                          \
            for (int64_t j = 0; j < m->w[i + 1]; j++) db[i][j] = g.b[i][j];    \
        }                                                                      \
        free(x);                                                               \
        free(y);                                                               \
        free(w);                                                               \
        params_free_##S(&p, K);                                                \
        params_free_##S(&g, K);                                                \
        return st;                                                             \
    }                                                                          \
    /* `epochs` epochs in the engine from m's parameters (zero state);       \
     * the trained parameters go to out (doubles), losses to losses */        \
    static int train_##S(const model *m, model *out, const double *X,          \
                         const double *Y, const double *sw,                    \
                         const int64_t *order, int64_t N, int64_t B,           \
                         double alpha, mlpx_optim opt, int epochs,             \
                         double *losses)                                       \
    {                                                                          \
        const int K = m->net.n_layers, ns = opt.solver == MLPX_SGD ? 2 * K : 4 * K; \
        params_##S p;                                                          \
        REAL *state[4 * MAXL];                                                 \
        params_get_##S(&p, m);                                                 \
        for (int q = 0; q < ns; q++) {                                         \
            const int i = q % K;                                               \
            const int64_t n = q % (2 * K) < K ? m->w[i] * m->w[i + 1] : m->w[i + 1]; \
            state[q] = calloc((size_t)n, sizeof(REAL));                        \
        }                                                                      \
        REAL *x = to_##S(X, N * m->w[0]), *y = to_##S(Y, N * m->w[K]);         \
        REAL *w = sw ? to_##S(sw, N) : NULL;                                   \
        int st = 0;                                                            \
        for (int e = 0; e < epochs && !st; e++) {                              \
            st = mlpx_train_epoch_##S(&m->net, p.W, p.b, x, y, w, order, N, B, \
                                      alpha, &opt, state, &losses[e]);         \
            opt.t += (N + B - 1) / B;                                          \
        }                                                                      \
        *out = *m;                                                             \
        out->net.widths = out->w;                                              \
        for (int i = 0; i < K; i++) {                                          \
            out->W[i] = from_##S(p.W[i], m->w[i] * m->w[i + 1]);               \
            out->b[i] = from_##S(p.b[i], m->w[i + 1]);                         \
        }                                                                      \
        for (int q = 0; q < ns; q++) free(state[q]);                           \
        free(x);                                                               \
        free(y);                                                               \
        free(w);                                                               \
        params_free_##S(&p, K);                                                \
        return st;                                                             \
    }
ENGINE(float, f)
ENGINE(double, d)

static const char *act_name(int a)
{
    static const char *names[] = {"identity", "logistic", "tanh", "relu", "softmax", "exp"};
    return a >= 0 && a <= 5 ? names[a] : "?";
}

/* ---- the tests ---- */

static void test_hand_values(void)
{
    /* 2 -> 1, identity: W = [1, 2]^T, b = 0.5; X = [[1, 1], [2, -1]], so
     * P = [3.5, 0.5]; Y = [3, 1]: loss = 0.5 mean((P - Y)^2) = 0.125,
     * dW = X^T (P - Y) / 2 = [-0.25, 0.5], db = 0 */
    const int64_t w[] = {2, 1};
    model m;
    model_init(&m, 1, w, MLPX_IDENTITY, MLPX_IDENTITY, 0);
    m.W[0][0] = 1, m.W[0][1] = 2, m.b[0][0] = 0.5;
    const double X[] = {1, 1, 2, -1}, Y[] = {3, 1};
    int st;
    double *P = forward_d(&m, X, 2, 0, &st);
    CHECK(st == MLPX_OK && P[0] == 3.5 && P[1] == 0.5, "hand forward: %g %g", P ? P[0] : 0, P ? P[1] : 0);
    free(P);
    double gw[2], gb[1], *dW[] = {gw}, *db[] = {gb}, loss;
    st = loss_grad_d(&m, X, Y, NULL, 2, 0, &loss, dW, db);
    CHECK(st == MLPX_OK && loss == 0.125 && gw[0] == -0.25 && gw[1] == 0.5 && gb[0] == 0,
          "hand loss/grad: %g [%g %g] %g", loss, gw[0], gw[1], gb[0]);
    /* alpha = 1: loss += 0.5 * (1 + 4) / 2, dW += W / 2 */
    st = loss_grad_d(&m, X, Y, NULL, 2, 1.0, &loss, dW, db);
    CHECK(st == MLPX_OK && loss == 0.125 + 1.25 && gw[0] == 0.25 && gw[1] == 1.5,
          "hand penalty: %g [%g %g]", loss, gw[0], gw[1]);
    /* one SGD step, lr 0.1, no momentum: W -= 0.1 dW */
    mlpx_optim opt = {MLPX_SGD, 0.1, 0, 0, 0.9, 0.999, 1e-8, 0};
    model out;
    double l;
    st = train_d(&m, &out, X, Y, NULL, NULL, 2, 2, 0, opt, 1, &l);
    CHECK(st == MLPX_OK && l == 0.125 && fabs(out.W[0][0] - 1.025) < 1e-15 &&
              fabs(out.W[0][1] - 1.95) < 1e-15 && out.b[0][0] == 0.5,
          "hand SGD step: loss %g W [%.17g %.17g] b %g", l, out.W[0][0], out.W[0][1], out.b[0][0]);
    model_free(&out);
    model_free(&m);

    /* zero weights: logistic hidden units are 1/2, a logistic output is 1/2
     * (loss log 2 per output), a softmax over 3 classes 1/3 (loss log 3) */
    const int64_t w3[] = {3, 4, 3};
    const double X3[] = {1, -2, 3, 0.5, 0, -1};
    for (int out_act = MLPX_LOGISTIC; out_act <= MLPX_SOFTMAX; out_act += 3) {
        model z;
        model_init(&z, 2, w3, MLPX_LOGISTIC, out_act, 0);
        double *Y3 = targets(2, 3, out_act);
        P = forward_d(&z, X3, 2, 0, &st);
        const double p = out_act == MLPX_SOFTMAX ? 1.0 / 3 : 0.5;
        double e = 0;
        for (int i = 0; P && i < 6; i++) e = fabs(P[i] - p) > e ? fabs(P[i] - p) : e;
        CHECK(st == MLPX_OK && e < 1e-16, "zero weights, %s output: P off by %g", act_name(out_act), e);
        st = loss_grad_d(&z, X3, Y3, NULL, 2, 0, &loss, NULL, NULL);
        const double want = out_act == MLPX_SOFTMAX ? log(3.0) : 3 * log(2.0);
        CHECK(st == MLPX_OK && fabs(loss - want) < 1e-15, "zero weights, %s loss %.17g, want %.17g",
              act_name(out_act), loss, want);
        free(P);
        free(Y3);
        model_free(&z);
    }
}

/* forward, loss and gradients against the reference for every activation */
static void test_against_reference(void)
{
    const int64_t w[] = {5, 7, 6, 3};
    const int64_t N = 37;
    double worst[2][3] = {{0}};
    for (int out = MLPX_IDENTITY; out <= MLPX_EXP; out++) {
        if (out == MLPX_TANH || out == MLPX_RELU) continue;
        for (int act = MLPX_IDENTITY; act <= MLPX_RELU; act++) {
            model m;
            model_init(&m, 3, w, act, out, 0.8);
            double *X = random_array(N * w[0], -2, 2), *Y = targets(N, w[3], out);
            double *sw = random_array(N, 0.5, 2);
            double *Z[MAXL + 1], *dW[MAXL], *db[MAXL], *gW[MAXL], *gb[MAXL];
            ref_forward(&m, X, N, Z);
            for (int i = 0; i < 3; i++) {
                dW[i] = malloc(sizeof(double) * (size_t)(w[i] * w[i + 1]));
                gW[i] = malloc(sizeof(double) * (size_t)(w[i] * w[i + 1]));
                db[i] = malloc(sizeof(double) * (size_t)w[i + 1]);
                gb[i] = malloc(sizeof(double) * (size_t)w[i + 1]);
            }
            for (int prec = 0; prec < 2; prec++) { /* 0: float64, 1: float32 */
                const double tol[3] = {prec ? 2e-6 : 1e-14, prec ? 2e-6 : 1e-14,
                                       prec ? 2e-5 : 1e-13};
                const double eps = prec ? FLT_EPSILON : DBL_EPSILON;
                int st;
                double *P = prec ? forward_f(&m, X, N, 0, &st) : forward_d(&m, X, N, 0, &st);
                const double ef = P ? rel_err_d(P, Z[3], N * w[3]) : INFINITY;
                CHECK(st == MLPX_OK && ef <= tol[0], "forward %s/%s %s: status %d, rel err %g",
                      act_name(act), act_name(out), prec ? "f32" : "f64", st, ef);
                free(P);
                for (int with_sw = 0; with_sw < 2; with_sw++) {
                    const double alpha = with_sw ? 0.3 : 0;
                    const double *s = with_sw ? sw : NULL;
                    double loss;
                    const double want = ref_loss_grad(&m, X, Y, s, N, alpha, eps, gW, gb);
                    st = prec ? loss_grad_f(&m, X, Y, s, N, alpha, &loss, dW, db)
                              : loss_grad_d(&m, X, Y, s, N, alpha, &loss, dW, db);
                    const double el = fabs(loss - want) / fabs(want);
                    double eg = 0;
                    for (int i = 0; i < 3; i++) {
                        const double a = rel_err_d(dW[i], gW[i], w[i] * w[i + 1]);
                        const double b = rel_err_d(db[i], gb[i], w[i + 1]);
                        eg = a > eg ? a : eg;
                        eg = b > eg ? b : eg;
                    }
                    CHECK(st == MLPX_OK && el <= tol[1] && eg <= tol[2],
                          "loss/grad %s/%s %s sw=%d: status %d, loss %.17g want %.17g (rel %g), grad rel err %g",
                          act_name(act), act_name(out), prec ? "f32" : "f64", with_sw, st, loss,
                          want, el, eg);
                    worst[prec][1] = el > worst[prec][1] ? el : worst[prec][1];
                    worst[prec][2] = eg > worst[prec][2] ? eg : worst[prec][2];
                }
                worst[prec][0] = ef > worst[prec][0] ? ef : worst[prec][0];
            }
            for (int i = 0; i < 3; i++) {
                free(dW[i]);
                free(gW[i]);
                free(db[i]);
                free(gb[i]);
            }
            free_Z(Z, 3);
            free(X);
            free(Y);
            free(sw);
            model_free(&m);
        }
    }
    printf("  reference, worst relative error: f64 forward %.1e loss %.1e grads %.1e; "
           "f32 forward %.1e loss %.1e grads %.1e\n",
           worst[0][0], worst[0][1], worst[0][2], worst[1][0], worst[1][1], worst[1][2]);

    /* check_finite: a NaN or an infinity in X gives MLPX_ENONFINITE */
    model m;
    model_init(&m, 3, w, MLPX_TANH, MLPX_SOFTMAX, 0.5);
    double *X = random_array(N * w[0], -1, 1);
    int st;
    double *P = forward_d(&m, X, N, 1, &st);
    CHECK(st == MLPX_OK, "check_finite on finite X: status %d", st);
    free(P);
    X[N * w[0] - 2] = NAN;
    P = forward_d(&m, X, N, 1, &st);
    CHECK(st == MLPX_ENONFINITE && !P, "check_finite on a NaN (f64): status %d", st);
    X[N * w[0] - 2] = -INFINITY;
    P = forward_f(&m, X, N, 1, &st);
    CHECK(st == MLPX_ENONFINITE && !P, "check_finite on -inf (f32): status %d", st);
    free(X);
    model_free(&m);

    /* MLPX_CHECK_OUTPUT: an output that overflows gives MLPX_EOUTPUT, on
     * every block (N = 600 rows: more than one block of mlpx_forward_rows) */
    const int64_t N2 = 600;
    model_init(&m, 3, w, MLPX_TANH, MLPX_IDENTITY, 0.5);
    X = random_array(N2 * w[0], -1, 1);
    P = forward_d(&m, X, N2, MLPX_CHECK_X | MLPX_CHECK_OUTPUT, &st);
    CHECK(st == MLPX_OK, "check output on a finite output: status %d", st);
    free(P);
    m.b[2][0] = 1e300; /* f32: overflows to inf; f64: finite */
    P = forward_d(&m, X, N2, MLPX_CHECK_OUTPUT, &st);
    CHECK(st == MLPX_OK, "check output (f64, 1e300 finite): status %d", st);
    free(P);
    P = forward_f(&m, X, N2, MLPX_CHECK_OUTPUT, &st);
    CHECK(st == MLPX_EOUTPUT && !P, "check output (f32, 1e300 -> inf): status %d", st);
    P = forward_f(&m, X, N2, 0, &st);
    CHECK(st == MLPX_OK, "no check: status %d", st);
    free(P);
    X[(N2 - 1) * w[0]] = NAN; /* the X check comes first */
    P = forward_f(&m, X, N2, MLPX_CHECK_X | MLPX_CHECK_OUTPUT, &st);
    CHECK(st == MLPX_ENONFINITE && !P, "X and output both bad: status %d", st);
    free(X);
    model_free(&m);
}

/* the engine's gradients against central differences of its own loss */
static void test_central_differences(void)
{
    const int64_t w[] = {4, 6, 5, 3};
    const int64_t N = 11;
    const int outs[] = {MLPX_SOFTMAX, MLPX_LOGISTIC, MLPX_IDENTITY, MLPX_EXP};
    const int acts[] = {MLPX_LOGISTIC, MLPX_TANH, MLPX_RELU, MLPX_LOGISTIC};
    double worst = 0;
    for (int c = 0; c < 4; c++) {
        model m;
        model_init(&m, 3, w, acts[c], outs[c], 0.7);
        double *X = random_array(N * w[0], -1.5, 1.5), *Y = targets(N, w[3], outs[c]);
        double *sw = random_array(N, 0.5, 2);
        double *dW[MAXL], *db[MAXL], loss;
        for (int i = 0; i < 3; i++) {
            dW[i] = malloc(sizeof(double) * (size_t)(w[i] * w[i + 1]));
            db[i] = malloc(sizeof(double) * (size_t)w[i + 1]);
        }
        const double alpha = 0.05;
        CHECK(loss_grad_d(&m, X, Y, sw, N, alpha, &loss, dW, db) == MLPX_OK, "loss_and_grad");
        for (int i = 0; i < 3; i++) {
            for (int which = 0; which < 2; which++) {
                double *p = which ? m.b[i] : m.W[i], *g = which ? db[i] : dW[i];
                const int64_t n = which ? w[i + 1] : w[i] * w[i + 1];
                for (int64_t j = 0; j < n; j++) {
                    const double h = 1e-5, keep = p[j];
                    double lp, lm;
                    p[j] = keep + h;
                    loss_grad_d(&m, X, Y, sw, N, alpha, &lp, NULL, NULL);
                    p[j] = keep - h;
                    loss_grad_d(&m, X, Y, sw, N, alpha, &lm, NULL, NULL);
                    p[j] = keep;
                    const double fd = (lp - lm) / (2 * h);
                    const double err = fabs(fd - g[j]) / (fabs(g[j]) + 1e-3);
                    worst = err > worst ? err : worst;
                    CHECK(err < 1e-6, "central difference, %s/%s layer %d %s[%lld]: %.10g vs %.10g",
                          act_name(acts[c]), act_name(outs[c]), i, which ? "b" : "W",
                          (long long)j, g[j], fd);
                }
            }
        }
        for (int i = 0; i < 3; i++) {
            free(dW[i]);
            free(db[i]);
        }
        free(X);
        free(Y);
        free(sw);
        model_free(&m);
    }
    printf("  central differences: worst relative error %.1e\n", worst);
}

/* a few epochs of each solver against the reference, and the loss falls */
static void test_training(void)
{
    const int64_t w[] = {6, 8, 4};
    const int64_t N = 90, B = 16;
    double *X = random_array(N * w[0], -1, 1);
    double *Y = calloc((size_t)(N * w[2]), sizeof(double));
    for (int64_t n = 0; n < N; n++) { /* a learnable rule: class of the largest of 4 sums */
        int best = 0;
        double bs = -INFINITY;
        for (int o = 0; o < 4; o++) {
            const double s = X[n * 6 + o] + 0.5 * X[n * 6 + o + 2];
            if (s > bs) bs = s, best = o;
        }
        Y[n * 4 + best] = 1;
    }
    double *sw = random_array(N, 0.5, 1.5);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)N);
    for (int64_t i = 0; i < N; i++) order[i] = i;
    for (int64_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
        const int64_t j = (int64_t)uniform(0, (double)i + 1 - 1e-9), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    const struct {
        const char *name;
        mlpx_optim opt;
        int act, shuffled, weighted;
    } runs[] = {
        {"sgd", {MLPX_SGD, 0.2, 0, 0, 0.9, 0.999, 1e-8, 0}, MLPX_LOGISTIC, 0, 0},
        {"sgd momentum", {MLPX_SGD, 0.1, 0.9, 0, 0.9, 0.999, 1e-8, 0}, MLPX_TANH, 1, 1},
        {"sgd nesterov", {MLPX_SGD, 0.1, 0.9, 1, 0.9, 0.999, 1e-8, 0}, MLPX_RELU, 1, 0},
        {"adam", {MLPX_ADAM, 0.01, 0, 0, 0.9, 0.999, 1e-8, 0}, MLPX_LOGISTIC, 1, 1},
        {"adam t=7", {MLPX_ADAM, 0.01, 0, 0, 0.8, 0.99, 1e-7, 7}, MLPX_TANH, 0, 0},
    };
    enum { EPOCHS = 4 };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        for (int prec = 0; prec < 2; prec++) {
            model m, ref, out;
            rng_state = 12345 + r;
            model_init(&m, 2, w, runs[r].act, MLPX_SOFTMAX, 0.5);
            model_init(&ref, 2, w, runs[r].act, MLPX_SOFTMAX, 0.5);
            for (int i = 0; i < 2; i++) {
                memcpy(ref.W[i], m.W[i], sizeof(double) * (size_t)(w[i] * w[i + 1]));
                memcpy(ref.b[i], m.b[i], sizeof(double) * (size_t)w[i + 1]);
            }
            const mlpx_optim opt = runs[r].opt;
            const double alpha = 1e-3;
            const double *s = runs[r].weighted ? sw : NULL;
            const int64_t *ord = runs[r].shuffled ? order : NULL;
            double losses[EPOCHS], want[EPOCHS];
            const int st = prec ? train_f(&m, &out, X, Y, s, ord, N, B, alpha, opt, EPOCHS, losses)
                                : train_d(&m, &out, X, Y, s, ord, N, B, alpha, opt, EPOCHS, losses);
            double *state[4 * MAXL];
            const int ns = opt.solver == MLPX_SGD ? 4 : 8;
            for (int q = 0; q < ns; q++) {
                const int i = q % 2;
                state[q] = calloc((size_t)(q % 4 < 2 ? w[i] * w[i + 1] : w[i + 1]), sizeof(double));
            }
            mlpx_optim o = opt;
            for (int e = 0; e < EPOCHS; e++) {
                want[e] = ref_epoch(&ref, X, Y, s, ord, N, B, alpha, &o, state,
                                    prec ? FLT_EPSILON : DBL_EPSILON);
                o.t += (N + B - 1) / B;
            }
            double ep = 0, el = 0;
            for (int i = 0; i < 2; i++) {
                const double a = rel_err_d(out.W[i], ref.W[i], w[i] * w[i + 1]);
                const double b = rel_err_d(out.b[i], ref.b[i], w[i + 1]);
                ep = a > ep ? a : ep;
                ep = b > ep ? b : ep;
            }
            for (int e = 0; e < EPOCHS; e++) {
                const double d = fabs(losses[e] - want[e]) / want[e];
                el = d > el ? d : el;
            }
            const double tol = prec ? 1e-4 : 1e-12;
            CHECK(st == MLPX_OK && ep <= tol && el <= tol,
                  "%s %s: status %d, params rel err %g, losses rel err %g", runs[r].name,
                  prec ? "f32" : "f64", st, ep, el);
            CHECK(losses[EPOCHS - 1] < losses[0], "%s %s: loss did not fall: %g -> %g",
                  runs[r].name, prec ? "f32" : "f64", losses[0], losses[EPOCHS - 1]);
            printf("  %-13s %s: loss %.4f -> %.4f, params rel err %.1e, losses %.1e\n",
                   runs[r].name, prec ? "f32" : "f64", losses[0], losses[EPOCHS - 1], ep, el);
            for (int q = 0; q < ns; q++) free(state[q]);
            model_free(&m);
            model_free(&ref);
            model_free(&out);
        }
    }
    free(X);
    free(Y);
    free(sw);
    free(order);
}

/* Threads change nothing but the time: with the shared BLAS at 4 threads
 * and a one-thread local BLAS, the tiled epoch and the blocked forward
 * give the bits of the one-thread run. */
static void test_threads(void)
{
    const int64_t w[] = {64, 256, 10};
    const int64_t N = 1024, B = 512;
    model m, a, b;
    rng_state = 777;
    model_init(&m, 2, w, MLPX_LOGISTIC, MLPX_SOFTMAX, 0.1);
    double *X = random_array(N * w[0], -1, 1), *Y = targets(N, w[2], MLPX_SOFTMAX);
    const mlpx_optim opt = {MLPX_ADAM, 0.001, 0, 0, 0.9, 0.999, 1e-8, 0};
    double la[2], lb[2];
    int st, sa, sb;

    use_blas(1, 1);
    const int t1 = mlpx_epoch_threads(&m.net, N, B);
    double *P1 = forward_f(&m, X, N, 1, &st);
    sa = train_f(&m, &a, X, Y, NULL, NULL, N, B, 1e-4, opt, 2, la);

    use_blas(4, 1);
    const int t4 = mlpx_epoch_threads(&m.net, N, B), f4 = mlpx_forward_threads(&m.net, N);
    double *P4 = forward_f(&m, X, N, 1, &st);
    sb = train_f(&m, &b, X, Y, NULL, NULL, N, B, 1e-4, opt, 2, lb);
    use_blas(1, 0);

    CHECK(t1 == 1 && t4 > 1 && f4 > 1, "threads: epoch %d at 1, epoch %d forward %d at 4", t1, t4, f4);
    CHECK(P1 && P4 && !memcmp(P1, P4, sizeof(double) * (size_t)(N * w[2])),
          "threads: forward bits differ between 1 and 4 threads");

    /* one block of rows cut into tiles (mlpx_forward_tiled): the same bits
     * at 1 and 4 threads, close to the reference, softmax rows summing to 1 */
    {
        const int64_t wt[] = {300, 512, 10}, Nt = 100;
        model t;
        model_init(&t, 2, wt, MLPX_TANH, MLPX_SOFTMAX, 0.1);
        double *Xt = random_array(Nt * wt[0], -1, 1);
        use_blas(1, 1);
        double *T1 = forward_f(&t, Xt, Nt, MLPX_CHECK_X | MLPX_CHECK_OUTPUT, &st);
        double *D1 = forward_d(&t, Xt, Nt, MLPX_CHECK_X | MLPX_CHECK_OUTPUT, &st);
        use_blas(4, 1);
        const int ft = mlpx_forward_threads(&t.net, Nt);
        double *T4 = forward_f(&t, Xt, Nt, MLPX_CHECK_X | MLPX_CHECK_OUTPUT, &st);
        double *D4 = forward_d(&t, Xt, Nt, MLPX_CHECK_X | MLPX_CHECK_OUTPUT, &st);
        use_blas(1, 0);
        double *Z[3];
        ref_forward(&t, Xt, Nt, Z);
        double worst = 0;
        for (int64_t k = 0; T1 && k < Nt * wt[2]; k++) {
            const double e = fabs(D1[k] - Z[2][k]) + fabs(T1[k] - Z[2][k]) * 1e-8;
            if (e > worst) worst = e;
        }
        CHECK(ft > 1, "tiled forward: %d threads at a claimed 4 (one block of 100 rows: "
              "more than one thread only when its GEMMs are cut into tiles)", ft);
        CHECK(T1 && T4 && D1 && D4 && !memcmp(T1, T4, sizeof(double) * (size_t)(Nt * wt[2])) &&
              !memcmp(D1, D4, sizeof(double) * (size_t)(Nt * wt[2])),
              "tiled forward: bits differ between 1 and 4 threads");
        CHECK(worst < 1e-12, "tiled forward: off the reference by %.2e", worst);
        Xt[5] = NAN;
        double *bad = forward_d(&t, Xt, Nt, MLPX_CHECK_X, &st);
        CHECK(!bad && st == MLPX_ENONFINITE, "tiled forward: NaN in X gave status %d", st);
        free_Z(Z, 2);
        free(T1);
        free(T4);
        free(D1);
        free(D4);
        free(Xt);
        model_free(&t);
    }
    int same = sa == MLPX_OK && sb == MLPX_OK && !memcmp(la, lb, sizeof la);
    for (int i = 0; same && i < 2; i++)
        same = !memcmp(a.W[i], b.W[i], sizeof(double) * (size_t)(w[i] * w[i + 1])) &&
               !memcmp(a.b[i], b.b[i], sizeof(double) * (size_t)w[i + 1]);
    CHECK(same, "threads: trained parameters or losses differ between 1 and 4 threads (%g %g)",
          la[1], lb[1]);
    printf("  threads: %d epoch / %d forward threads at a claimed 4 (1 at 1), "
           "same bits: %s, losses %.6f %.6f\n",
           t4, f4, same ? "yes" : "NO", lb[0], lb[1]);
    free(P1);
    free(P4);
    free(X);
    free(Y);
    model_free(&m);
    model_free(&a);
    model_free(&b);
}

/* The whole-GEMM epoch (mlpx_set_whole_macs(0): every batch): its coef
 * steps in parts of 64Ki values on the pool (two parts for a 300 x 256
 * layer) give the bits of one thread at a claimed 4, and the reference's
 * numbers. */
static void test_whole(void)
{
    const int64_t w[] = {300, 256, 4};
    const int64_t N = 40, B = 16;
    rng_state = 9090;
    double *X = random_array(N * w[0], -1, 1), *Y = targets(N, w[2], MLPX_SOFTMAX);
    const mlpx_optim opts[] = {{MLPX_SGD, 0.1, 0.9, 1, 0.9, 0.999, 1e-8, 0},
                               {MLPX_ADAM, 0.01, 0, 0, 0.9, 0.999, 1e-8, 0},
                               {MLPX_SGD, 0.1, 0, 0, 0.9, 0.999, 1e-8, 0}};
    mlpx_set_whole_macs(0);
    for (int r = 0; r < 3; r++) {
        model m, a, b, ref;
        double la[2], lb[2], want[2];
        model_init(&m, 2, w, MLPX_LOGISTIC, MLPX_SOFTMAX, 0.1);
        model_init(&ref, 2, w, MLPX_LOGISTIC, MLPX_SOFTMAX, 0.1);
        for (int i = 0; i < 2; i++) {
            memcpy(ref.W[i], m.W[i], sizeof(double) * (size_t)(w[i] * w[i + 1]));
            memcpy(ref.b[i], m.b[i], sizeof(double) * (size_t)w[i + 1]);
        }
        use_blas(1, 1);
        CHECK(mlpx_epoch_whole(&m.net, B) && mlpx_epoch_threads(&m.net, N, B) == 1,
              "whole: not chosen at whole_macs 0, or not 1 thread at 1");
        const int sa = train_d(&m, &a, X, Y, NULL, NULL, N, B, 1e-3, opts[r], 2, la);
        use_blas(4, 1);
        CHECK(mlpx_epoch_threads(&m.net, N, B) == 4, "whole: not the BLAS's 4 threads");
        const int sb = train_d(&m, &b, X, Y, NULL, NULL, N, B, 1e-3, opts[r], 2, lb);
        use_blas(1, 0);
        double *state[8];
        for (int q = 0; q < 8; q++) {
            const int i = q % 2;
            state[q] = calloc((size_t)(q % 4 < 2 ? w[i] * w[i + 1] : w[i + 1]), sizeof(double));
        }
        mlpx_optim o = opts[r];
        for (int e = 0; e < 2; e++) {
            want[e] = ref_epoch(&ref, X, Y, NULL, NULL, N, B, 1e-3, &o, state, DBL_EPSILON);
            o.t += (N + B - 1) / B;
        }
        int same = sa == MLPX_OK && sb == MLPX_OK && !memcmp(la, lb, sizeof la);
        double ep = 0;
        for (int i = 0; i < 2; i++) {
            same = same && !memcmp(a.W[i], b.W[i], sizeof(double) * (size_t)(w[i] * w[i + 1])) &&
                   !memcmp(a.b[i], b.b[i], sizeof(double) * (size_t)w[i + 1]);
            const double e1 = rel_err_d(a.W[i], ref.W[i], w[i] * w[i + 1]);
            const double e2 = rel_err_d(a.b[i], ref.b[i], w[i + 1]);
            ep = e1 > ep ? e1 : ep;
            ep = e2 > ep ? e2 : ep;
        }
        const double el = fabs(la[1] - want[1]) / want[1];
        CHECK(same, "whole %d: bits differ between 1 and 4 threads", r);
        CHECK(ep <= 1e-12 && el <= 1e-12, "whole %d: params rel err %g, loss rel err %g", r, ep, el);
        for (int q = 0; q < 8; q++) free(state[q]);
        model_free(&m);
        model_free(&a);
        model_free(&b);
        model_free(&ref);
    }
    mlpx_set_whole_macs(-1);
    {
        model m;
        model_init(&m, 2, w, MLPX_LOGISTIC, MLPX_SOFTMAX, 0.1);
        const int64_t wd[] = {1024, 1024, 1024, 10};
        model d;
        model_init(&d, 3, wd, MLPX_LOGISTIC, MLPX_SOFTMAX, 0.1);
        CHECK(!mlpx_epoch_whole(&m.net, B) && !mlpx_epoch_whole(&d.net, 512),
              "whole: chosen by default");
        mlpx_set_whole_macs(2147483648.0);
        CHECK(mlpx_epoch_whole(&d.net, 512) && !mlpx_epoch_whole(&m.net, B),
              "whole at 2^31: wrong choice");
        mlpx_set_whole_macs(-1);
        model_free(&d);
        model_free(&m);
    }
    free(X);
    free(Y);
}

/* Products with one row or one column through GEMV: every (ta, tb) of
 * blas.c's mapping arises here (one input feature, one output unit, a last
 * batch of one row, forward passes of one row), on the shared entry and, at
 * a claimed 4 threads, on the local one. The reference GEMV sums in the
 * reference GEMM's order, so the bits must not change. */
static void test_gemv(void)
{
    static const int64_t shapes[][4] = {{1, 24, 1, 0}, {5, 16, 3, 0}, {300, 512, 1, 0}};
    rng_state = 4242;
    for (int c = 0; c < 3; c++) {
        const int64_t w[] = {shapes[c][0], shapes[c][1], shapes[c][2]};
        const int out = w[2] == 1 ? MLPX_LOGISTIC : MLPX_SOFTMAX;
        const int64_t N = 33, B = 8; /* last batch: one row */
        model m, a, b;
        model_init(&m, 2, w, MLPX_TANH, out, 0.3);
        double *X = random_array(N * w[0], -1, 1), *Y = targets(N, w[2], out);
        int64_t order[33];
        for (int64_t r = 0; r < N; r++) order[r] = (r * 7) % N;
        const mlpx_optim opt = {MLPX_SGD, 0.05, 0.9, 1, 0.9, 0.999, 1e-8, 0};
        for (int threads = 1; threads <= 4; threads += 3) {
            double la[2], lb[2];
            int st, sa, sb, same = 1;
            use_blas(threads, threads > 1);
            double *P0 = forward_f(&m, X, 1, 0, &st), *Q0 = forward_d(&m, X, N, 0, &st);
            sa = train_d(&m, &a, X, Y, NULL, order, N, B, 1e-3, opt, 2, la);
            const long before = gemv_calls;
            use_blas_gemv(threads, threads > 1);
            double *P1 = forward_f(&m, X, 1, 0, &st), *Q1 = forward_d(&m, X, N, 0, &st);
            sb = train_d(&m, &b, X, Y, NULL, order, N, B, 1e-3, opt, 2, lb);
            const long used = gemv_calls - before;
            use_blas(1, 0);
            same = sa == MLPX_OK && sb == MLPX_OK && !memcmp(la, lb, sizeof la) && P0 && P1 &&
                   Q0 && Q1 && !memcmp(P0, P1, sizeof(double) * (size_t)w[2]) &&
                   !memcmp(Q0, Q1, sizeof(double) * (size_t)(N * w[2]));
            for (int i = 0; same && i < 2; i++)
                same = !memcmp(a.W[i], b.W[i], sizeof(double) * (size_t)(w[i] * w[i + 1])) &&
                       !memcmp(a.b[i], b.b[i], sizeof(double) * (size_t)w[i + 1]);
            CHECK(used > 0, "gemv %lld-%lld-%lld at %d threads: GEMV never called",
                  (long long)w[0], (long long)w[1], (long long)w[2], threads);
            CHECK(same, "gemv %lld-%lld-%lld at %d threads: bits differ from the GEMM path",
                  (long long)w[0], (long long)w[1], (long long)w[2], threads);
            free(P0);
            free(P1);
            free(Q0);
            free(Q1);
            model_free(&a);
            model_free(&b);
        }
        free(X);
        free(Y);
        model_free(&m);
    }
    /* setting the GEMMs again takes the GEMVs out */
    use_blas_gemv(1, 0);
    use_blas(1, 0);
    {
        model m;
        const int64_t w[] = {3, 4, 1};
        int st;
        model_init(&m, 2, w, MLPX_LOGISTIC, MLPX_LOGISTIC, 0.3);
        double *X = random_array(3, -1, 1);
        const long before = gemv_calls;
        double *P = forward_d(&m, X, 1, 0, &st);
        CHECK(gemv_calls == before, "mlpx_set_blas left the GEMV in the table");
        free(P);
        free(X);
        model_free(&m);
    }
}

int main(void)
{
    double P[1];
    const double x[1] = {0};
    const int64_t w[] = {1, 1};
    mlpx_net net = {1, w, MLPX_IDENTITY, MLPX_IDENTITY, 0};
    const double W0[1] = {1}, b0[1] = {0};
    const double *Wp[] = {W0}, *bp[] = {b0};
    printf("mlpx engine test: kernel path %s, %d-bit pointers\n", mlpx_kernel_path(),
           (int)(8 * sizeof(void *)));
    CHECK(mlpx_forward_d(&net, Wp, bp, x, 1, P, 0) == MLPX_ENOBLAS, "no BLAS set: not MLPX_ENOBLAS");
    use_blas(1, 0);
    CHECK(mlpx_has_blas(), "mlpx_has_blas after mlpx_set_blas");

    printf("hand-computed values\n");
    test_hand_values();
    printf("forward, loss and gradients against the reference\n");
    test_against_reference();
    printf("gradients against central differences\n");
    test_central_differences();
    printf("training epochs against the reference\n");
    test_training();
    printf("threads\n");
    test_threads();
    printf("whole-GEMM epoch\n");
    test_whole();
    printf("one-row and one-column products through GEMV\n");
    test_gemv();
    CHECK(gemm_calls > 0, "the reference GEMM was never called");
    printf("%d checks, %d failed (%ld GEMM, %ld GEMV calls)\n", n_checks, n_failed, gemm_calls,
           gemv_calls);
    return n_failed ? 1 : 0;
}
