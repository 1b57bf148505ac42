/* The BLAS table: Fortran-ABI sgemm_/dgemm_ reached through raw addresses
 * set at import (the engine links no BLAS), and row-major GEMM wrappers.
 *
 * Fortran GEMM is column-major; a row-major C = op(A) op(B) is the
 * column-major C^T = op(B)^T op(A)^T, i.e. gemm(tb, ta, N, M, K, B, A).
 * No hidden Fortran string-length arguments are passed.
 */
#include "engine.h"

typedef void (*gemm64_s)(const char *, const char *, const int64_t *,
                         const int64_t *, const int64_t *, const float *,
                         const float *, const int64_t *, const float *,
                         const int64_t *, const float *, float *,
                         const int64_t *);
typedef void (*gemm32_s)(const char *, const char *, const int32_t *,
                         const int32_t *, const int32_t *, const float *,
                         const float *, const int32_t *, const float *,
                         const int32_t *, const float *, float *,
                         const int32_t *);
typedef void (*gemm64_d)(const char *, const char *, const int64_t *,
                         const int64_t *, const int64_t *, const double *,
                         const double *, const int64_t *, const double *,
                         const int64_t *, const double *, double *,
                         const int64_t *);
typedef void (*gemm32_d)(const char *, const char *, const int32_t *,
                         const int32_t *, const int32_t *, const double *,
                         const double *, const int32_t *, const double *,
                         const int32_t *, const double *, double *,
                         const int32_t *);

static struct {
    void *sgemm, *dgemm;
    int ilp64;
} blas;

void mlpx_set_blas(void *sgemm, void *dgemm, int ilp64)
{
    blas.sgemm = sgemm;
    blas.dgemm = dgemm;
    blas.ilp64 = ilp64;
}

int mlpx_has_blas(void) { return blas.sgemm != NULL && blas.dgemm != NULL; }

/* Row-major C (M, N) = alpha op(A) op(B) + beta C; op(A) is (M, Kd), op(B)
 * is (Kd, N); lda/ldb/ldc are row strides of A, B, C as stored. */
void mlpx_gemm_f(int ta, int tb, int64_t M, int64_t N, int64_t Kd, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb,
                 float beta, float *C, int64_t ldc)
{
    const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
    if (blas.ilp64) {
        ((gemm64_s)blas.sgemm)(&cb, &ca, &N, &M, &Kd, &alpha, B, &ldb, A, &lda,
                               &beta, C, &ldc);
    } else {
        const int32_t m = (int32_t)M, n = (int32_t)N, k = (int32_t)Kd;
        const int32_t la = (int32_t)lda, lb = (int32_t)ldb, lc = (int32_t)ldc;
        ((gemm32_s)blas.sgemm)(&cb, &ca, &n, &m, &k, &alpha, B, &lb, A, &la,
                               &beta, C, &lc);
    }
}

void mlpx_gemm_d(int ta, int tb, int64_t M, int64_t N, int64_t Kd,
                 double alpha, const double *A, int64_t lda, const double *B,
                 int64_t ldb, double beta, double *C, int64_t ldc)
{
    const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
    if (blas.ilp64) {
        ((gemm64_d)blas.dgemm)(&cb, &ca, &N, &M, &Kd, &alpha, B, &ldb, A, &lda,
                               &beta, C, &ldc);
    } else {
        const int32_t m = (int32_t)M, n = (int32_t)N, k = (int32_t)Kd;
        const int32_t la = (int32_t)lda, lb = (int32_t)ldb, lc = (int32_t)ldc;
        ((gemm32_d)blas.dgemm)(&cb, &ca, &n, &m, &k, &alpha, B, &lb, A, &la,
                               &beta, C, &lc);
    }
}
