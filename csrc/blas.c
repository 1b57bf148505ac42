/* The BLAS table: Fortran-ABI sgemm_/dgemm_ (and, optionally, sgemv_/dgemv_)
 * reached through raw addresses set at import (the engine links no BLAS),
 * and row-major GEMM wrappers.
 * Two entries: the shared BLAS (NumPy's own library, with its thread pool)
 * and, optionally, the local one (mlpx_set_blas_local): a private instance
 * kept at one thread, which takes every GEMM too big for one thread of the
 * shared library while that one may use several (mlpx_gemm_one_thread).
 * So every GEMM call runs on one thread: its bits depend on its shape and
 * the CPU, never on a thread count, and mlpx's own threads can each call
 * it on their own tiles. The exception is the whole-GEMM epoch
 * (mlpx_gemm_whole, epoch.c), whose GEMMs run on the shared BLAS's threads.
 *
 * Fortran GEMM is column-major; a row-major C = op(A) op(B) is the
 * column-major C^T = op(B)^T op(A)^T, i.e. gemm(tb, ta, N, M, K, B, A).
 * No hidden Fortran string-length arguments are passed.
 *
 * A product with one row or one column of C (one sample's forward pass, a
 * one-output layer) goes to GEMV when the entry has one: some BLAS kernels
 * (OpenBLAS's Haswell GEMM) run such a product through the full GEMM kernel
 * and its packing, three times slower than their GEMV on one row of a
 * 784-256-128-10 network. The same one-thread rule applies (OpenBLAS threads
 * a GEMV from the same m n as its GEMM forwarding does).
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include "engine.h"

static struct {
    void *sgemm, *dgemm;
    int ilp64;         /* 64-bit integer arguments */
    void *get_threads; /* int (void), e.g. openblas_get_num_threads, or NULL */
    void *sgemv, *dgemv; /* or NULL: GEMV-shaped products go to GEMM */
    /* the local BLAS */
    void *sgemm1, *dgemm1, *get_threads1;
    int ilp64_1;
    void *sgemv1, *dgemv1;
} blas;

void mlpx_set_blas_local(void *sgemm, void *dgemm, int ilp64, void *get_threads)
{
    blas.sgemm1 = sgemm;
    blas.dgemm1 = dgemm;
    blas.ilp64_1 = ilp64;
    blas.get_threads1 = get_threads;
    blas.sgemv1 = blas.dgemv1 = NULL;
}

void mlpx_set_gemv(void *sgemv, void *dgemv, int local)
{
    if (!sgemv || !dgemv) sgemv = dgemv = NULL;
    if (local) {
        blas.sgemv1 = sgemv;
        blas.dgemv1 = dgemv;
    } else {
        blas.sgemv = sgemv;
        blas.dgemv = dgemv;
    }
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
    blas.sgemv = blas.dgemv = NULL;
}

int mlpx_has_blas(void) { return blas.sgemm != NULL && blas.dgemm != NULL; }

int mlpx_blas_threads(void)
{
    const int n = blas.get_threads ? ((int (*)(void))blas.get_threads)() : 1;
    return n > 1 ? n : 1;
}

static MLPX_THREAD_LOCAL int gemm_whole;

void mlpx_gemm_whole(int on) { gemm_whole = on; }

int mlpx_gemm_one_thread(int64_t M, int64_t N, int64_t Kd)
{
    const double mnk = (double)M * (double)N * (double)Kd;
    return M == 1 || N == 1 ? mnk <= 2304.0 * 4 : mnk <= 65536.0 * 4;
}

#define MLPX_TEMPLATE "blas.c"
#include "template.h"
#else

/* Fortran xGEMM(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
 * and xGEMV(trans, m, n, alpha, a, lda, x, incx, beta, y, incy) with INT =
 * int64_t (ILP64) or int32_t (LP64). */
#define GEMM_TYPE(INT)                                                         \
    void (*)(const char *, const char *, const INT *, const INT *,            \
             const INT *, const REAL *, const REAL *, const INT *,             \
             const REAL *, const INT *, const REAL *, REAL *, const INT *)
#define GEMV_TYPE(INT)                                                         \
    void (*)(const char *, const INT *, const INT *, const REAL *,            \
             const REAL *, const INT *, const REAL *, const INT *,             \
             const REAL *, REAL *, const INT *)

#define GEMV_CALL(INT)                                                         \
    do {                                                                       \
        const INT m_ = (INT)gm, n_ = (INT)gn, la_ = (INT)ldm, ix_ = (INT)incx,  \
                  iy_ = (INT)incy;                                             \
        ((GEMV_TYPE(INT))gemv)(&tr, &m_, &n_, &alpha, mat, &la_, x, &ix_,       \
                               &beta, C, &iy_);                                \
    } while (0)

/* y = alpha op(A) x + beta y for a row-major product with M == 1 or N == 1:
 * the matrix operand seen column-major, and the vector's stride. beta = 0
 * zeroes y first (some GEMVs scale y by beta, which keeps a NaN there). */
static void S(gemv_product)(void *gemv, int ilp64, int ta, int tb, int64_t M, int64_t N,
                            int64_t Kd, REAL alpha, const REAL *A, int64_t lda,
                            const REAL *B, int64_t ldb, REAL beta, REAL *C, int64_t ldc)
{
    const REAL *mat, *x;
    int64_t ldm, gm, gn, incx, incy;
    char tr;
    if (M == 1) { /* c (N) = op(B)^T a: B row-major is B^T column-major */
        mat = B;
        ldm = ldb;
        tr = tb ? 'T' : 'N';
        gm = tb ? Kd : N;
        gn = tb ? N : Kd;
        x = A;
        incx = ta ? lda : 1;
        incy = 1;
    } else { /* N == 1: c (M) = op(A) b, every row of C one entry */
        mat = A;
        ldm = lda;
        tr = ta ? 'N' : 'T';
        gm = ta ? M : Kd;
        gn = ta ? Kd : M;
        x = B;
        incx = tb ? 1 : ldb;
        incy = ldc;
    }
    if (ldm < 1) ldm = 1;
    if (incx < 1) incx = 1;
    if (incy < 1) incy = 1;
    if (beta == 0) {
        const int64_t len = M == 1 ? N : M;
        for (int64_t j = 0; j < len; j++) C[j * incy] = 0;
    }
    if (ilp64)
        GEMV_CALL(int64_t);
    else
        GEMV_CALL(int32_t);
}

/* Row-major C (M, N) = alpha op(A) op(B) + beta C; op(A) is (M, Kd), op(B)
 * is (Kd, N); lda/ldb/ldc are row strides of A, B, C as stored. */
void S(mlpx_gemm)(int ta, int tb, int64_t M, int64_t N, int64_t Kd, REAL alpha,
                  const REAL *A, int64_t lda, const REAL *B, int64_t ldb,
                  REAL beta, REAL *C, int64_t ldc)
{
    const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
    const int f32 = sizeof(REAL) == sizeof(float);
    void *fn = f32 ? blas.sgemm : blas.dgemm, *gemv = f32 ? blas.sgemv : blas.dgemv;
    int ilp64 = blas.ilp64;
    if (blas.sgemm1 && !gemm_whole && !mlpx_gemm_one_thread(M, N, Kd) &&
        mlpx_blas_threads() > 1 && mlpx_has_blas_local()) {
        fn = f32 ? blas.sgemm1 : blas.dgemm1;
        gemv = f32 ? blas.sgemv1 : blas.dgemv1;
        ilp64 = blas.ilp64_1;
    }
    if (gemv && (M == 1 || N == 1) && M > 0 && N > 0) {
        S(gemv_product)(gemv, ilp64, ta, tb, M, N, Kd, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
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
#undef GEMV_TYPE
#undef GEMV_CALL
#endif
