/* The BLAS table: Fortran-ABI sgemm_/dgemm_ reached through raw addresses
 * set at import (the engine links no BLAS), and row-major GEMM wrappers.
 * Two entries: the shared BLAS (NumPy's own library, with its thread pool)
 * and, optionally, the local one (mlpx_set_blas_local): a private instance
 * kept at one thread, which takes every GEMM too big for one thread of the
 * shared library while that one may use several (mlpx_gemm_one_thread).
 * So every GEMM call runs on one thread: its bits depend on its shape and
 * the CPU, never on a thread count, and mlpx's own threads can each call
 * it on their own tiles.
 *
 * Fortran GEMM is column-major; a row-major C = op(A) op(B) is the
 * column-major C^T = op(B)^T op(A)^T, i.e. gemm(tb, ta, N, M, K, B, A).
 * No hidden Fortran string-length arguments are passed.
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include "engine.h"

static struct {
    void *sgemm, *dgemm;
    int ilp64;         /* 64-bit integer arguments */
    void *get_threads; /* int (void), e.g. openblas_get_num_threads, or NULL */
    /* the local BLAS */
    void *sgemm1, *dgemm1, *get_threads1;
    int ilp64_1;
} blas;

void mlpx_set_blas_local(void *sgemm, void *dgemm, int ilp64, void *get_threads)
{
    blas.sgemm1 = sgemm;
    blas.dgemm1 = dgemm;
    blas.ilp64_1 = ilp64;
    blas.get_threads1 = get_threads;
}

/* Set, and still at one thread. */
int mlpx_has_blas_local(void)
{
    return blas.sgemm1 && blas.dgemm1 && blas.get_threads1 &&
           ((int (*)(void))blas.get_threads1)() == 1;
}

void mlpx_set_blas(void *sgemm, void *dgemm, int ilp64, void *get_threads)
{
    blas.sgemm = sgemm;
    blas.dgemm = dgemm;
    blas.ilp64 = ilp64;
    blas.get_threads = get_threads;
}

int mlpx_has_blas(void) { return blas.sgemm != NULL && blas.dgemm != NULL; }

int mlpx_blas_threads(void)
{
    const int n = blas.get_threads ? ((int (*)(void))blas.get_threads)() : 1;
    return n > 1 ? n : 1;
}

int mlpx_gemm_one_thread(int64_t M, int64_t N, int64_t Kd)
{
    const double mnk = (double)M * (double)N * (double)Kd;
    return M == 1 || N == 1 ? mnk <= 2304.0 * 4 : mnk <= 65536.0 * 4;
}

#define MLPX_TEMPLATE "blas.c"
#include "template.h"
#else

/* Fortran xGEMM(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
 * with INT = int64_t (ILP64) or int32_t (LP64). */
#define GEMM_TYPE(INT)                                                         \
    void (*)(const char *, const char *, const INT *, const INT *,            \
             const INT *, const REAL *, const REAL *, const INT *,             \
             const REAL *, const INT *, const REAL *, REAL *, const INT *)

/* Row-major C (M, N) = alpha op(A) op(B) + beta C; op(A) is (M, Kd), op(B)
 * is (Kd, N); lda/ldb/ldc are row strides of A, B, C as stored. */
void S(mlpx_gemm)(int ta, int tb, int64_t M, int64_t N, int64_t Kd, REAL alpha,
                  const REAL *A, int64_t lda, const REAL *B, int64_t ldb,
                  REAL beta, REAL *C, int64_t ldc)
{
    const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
    void *fn = sizeof(REAL) == sizeof(float) ? blas.sgemm : blas.dgemm;
    int ilp64 = blas.ilp64;
    if (blas.sgemm1 && !mlpx_gemm_one_thread(M, N, Kd) && mlpx_blas_threads() > 1 &&
        mlpx_has_blas_local()) {
        fn = sizeof(REAL) == sizeof(float) ? blas.sgemm1 : blas.dgemm1;
        ilp64 = blas.ilp64_1;
    }
    if (ilp64) {
        ((GEMM_TYPE(int64_t))fn)(&cb, &ca, &N, &M, &Kd, &alpha, B, &ldb, A, &lda,
                                 &beta, C, &ldc);
    } else {
        const int32_t m = (int32_t)M, n = (int32_t)N, k = (int32_t)Kd;
        const int32_t la = (int32_t)lda, lb = (int32_t)ldb, lc = (int32_t)ldc;
        ((GEMM_TYPE(int32_t))fn)(&cb, &ca, &n, &m, &k, &alpha, B, &lb, A, &la,
                                 &beta, C, &lc);
    }
}

#undef GEMM_TYPE
#endif
