/* gemm_bound.c -- the GEMM-only lower bound of one training epoch.
 *
 * Calls exactly the GEMMs one minibatch SGD epoch of an MLP needs, from a C
 * loop, on preallocated arrays, through a Fortran-ABI ?gemm_ whose address the
 * caller passes in (the same BLAS mlpx uses: mlpx._blas.find_provider()).
 * No elementwise work, no gather, no Python in the loop.
 *
 * Row-major shapes, layer i = 0..L-1 with fan-in F = sizes[i], fan-out
 * O = sizes[i+1], batch rows N (the last batch holds the rest):
 *   forward   Z[i+1] (N x O) = Z[i] (N x F) @ W[i] (F x O)       every layer
 *   weights   dW[i]  (F x O) = Z[i]^T (F x N) @ D[i+1] (N x O)   every layer
 *   backprop  D[i]   (N x F) = D[i+1] (N x O) @ W[i]^T (O x F)   layers i >= 1
 * Z[0] is the batch's rows of X, read in place (contiguous batches).
 * Fortran GEMM is column-major, so row-major C = A @ B is
 * gemm('N','N', O, N, F, 1, B, O, A, F, 0, C, O).
 *
 * Build: cc -O2 -shared -fPIC gemm_bound.c -o gemm_bound.so (done by bound.py).
 */
#include <stddef.h>
#include <stdint.h>

#define DEFINE_BOUND(SUFFIX, T, IDX)                                                  \
typedef void (*gemm_##SUFFIX##_t)(const char *, const char *, const IDX *,            \
        const IDX *, const IDX *, const T *, const T *, const IDX *, const T *,       \
        const IDX *, const T *, T *, const IDX *, size_t, size_t);                    \
                                                                                      \
static void gemm_##SUFFIX(gemm_##SUFFIX##_t f, char ta, char tb, int64_t m,           \
                          int64_t n, int64_t k, const T *A, int64_t lda,              \
                          const T *B, int64_t ldb, T *C, int64_t ldc)                 \
{                                                                                     \
    const T one = 1, zero = 0;                                                        \
    const IDX M = (IDX)m, N = (IDX)n, K = (IDX)k;                                     \
    const IDX LDA = (IDX)lda, LDB = (IDX)ldb, LDC = (IDX)ldc;                         \
    f(&ta, &tb, &M, &N, &K, &one, A, &LDA, B, &LDB, &zero, C, &LDC, 1, 1);            \
}                                                                                     \
                                                                                      \
/* C += alpha * op(A) op(B): the weight-gradient GEMM written straight into W. */     \
static void gemm_acc_##SUFFIX(gemm_##SUFFIX##_t f, char ta, char tb, int64_t m,       \
                          int64_t n, int64_t k, T alpha, const T *A, int64_t lda,     \
                          const T *B, int64_t ldb, T *C, int64_t ldc)                 \
{                                                                                     \
    const T one = 1;                                                                  \
    const IDX M = (IDX)m, N = (IDX)n, K = (IDX)k;                                     \
    const IDX LDA = (IDX)lda, LDB = (IDX)ldb, LDC = (IDX)ldc;                         \
    f(&ta, &tb, &M, &N, &K, &alpha, A, &LDA, B, &LDB, &one, C, &LDC, 1, 1);           \
}                                                                                     \
                                                                                      \
/* reps epochs of n_rows rows in batches of `batch`; returns GEMM calls made.         \
   into_w: diagnostic variant, the weight GEMM accumulates into W (beta = 1,           \
   alpha = -1e-6) instead of writing dW (beta = 0); the bound uses into_w = 0. */      \
int64_t bound_epochs_##SUFFIX(void *fn, int64_t n_layers, const int64_t *sizes,       \
        int64_t n_rows, int64_t batch, const T *X, T *const *W, T *const *Z,          \
        T *const *D, T *const *dW, int64_t reps, int into_w)                          \
{                                                                                     \
    gemm_##SUFFIX##_t f = (gemm_##SUFFIX##_t)fn;                                      \
    int64_t calls = 0;                                                                \
    for (int64_t r = 0; r < reps; r++) {                                              \
        for (int64_t start = 0; start < n_rows; start += batch) {                     \
            int64_t nb = n_rows - start < batch ? n_rows - start : batch;             \
            const T *xb = X + start * sizes[0];                                       \
            const T *in = xb;                                                         \
            for (int64_t i = 0; i < n_layers; i++) {                                  \
                int64_t F = sizes[i], O = sizes[i + 1];                               \
                gemm_##SUFFIX(f, 'N', 'N', O, nb, F, W[i], O, in, F, Z[i + 1], O);    \
                in = Z[i + 1];                                                        \
                calls++;                                                              \
            }                                                                         \
            for (int64_t i = n_layers - 1; i >= 0; i--) {                             \
                int64_t F = sizes[i], O = sizes[i + 1];                               \
                const T *zi = i == 0 ? xb : Z[i];                                     \
                if (into_w)                                                           \
                    gemm_acc_##SUFFIX(f, 'N', 'T', O, F, nb, (T)-1e-6, D[i + 1], O,   \
                                      zi, F, W[i], O);                                \
                else                                                                  \
                    gemm_##SUFFIX(f, 'N', 'T', O, F, nb, D[i + 1], O, zi, F, dW[i], O); \
                calls++;                                                              \
                if (i > 0) {                                                          \
                    gemm_##SUFFIX(f, 'T', 'N', F, nb, O, W[i], O, D[i + 1], O,        \
                                  D[i], F);                                           \
                    calls++;                                                          \
                }                                                                     \
            }                                                                         \
        }                                                                             \
    }                                                                                 \
    return calls;                                                                     \
}                                                                                     \
                                                                                      \
/* Forward GEMMs only, n_rows rows in one batch (inference bound). */                 \
int64_t bound_forward_##SUFFIX(void *fn, int64_t n_layers, const int64_t *sizes,      \
        int64_t n_rows, const T *X, T *const *W, T *const *Z, int64_t reps)           \
{                                                                                     \
    gemm_##SUFFIX##_t f = (gemm_##SUFFIX##_t)fn;                                      \
    for (int64_t r = 0; r < reps; r++) {                                              \
        const T *in = X;                                                              \
        for (int64_t i = 0; i < n_layers; i++) {                                      \
            int64_t F = sizes[i], O = sizes[i + 1];                                   \
            gemm_##SUFFIX(f, 'N', 'N', O, n_rows, F, W[i], O, in, F, Z[i + 1], O);    \
            in = Z[i + 1];                                                            \
        }                                                                             \
    }                                                                                 \
    return reps * n_layers;                                                           \
}

DEFINE_BOUND(s32, float, int32_t)
DEFINE_BOUND(s64, float, int64_t)
DEFINE_BOUND(d32, double, int32_t)
DEFINE_BOUND(d64, double, int64_t)
