/* gemm_count.c -- a diagnostic GEMM interposer: forwards every call to the
 * real Fortran-ABI ?gemm_ and records, per distinct call shape
 * (transa, transb, m, n, k, beta), the number of calls and the seconds spent.
 * benchmarks/gemmcount.py installs it in mlpx's GEMM table for one run, to
 * split an epoch into "time in GEMM" (and which GEMMs) and "time outside".
 * Build: cc -O2 -shared -fPIC gemm_count.c -o gemm_count.so (done at run time).
 */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MAX_SHAPES 256

typedef struct {
    char ta, tb, dtype;
    int64_t m, n, k, calls;
    double seconds, beta;
} shape_stat;

static shape_stat stats[MAX_SHAPES];
static int n_stats = 0;
static void *real_s = NULL, *real_d = NULL;
static int ilp64 = 1;

void gc_init(void *s, void *d, int is_ilp64)
{
    real_s = s;
    real_d = d;
    ilp64 = is_ilp64;
    n_stats = 0;
}

int gc_count(void) { return n_stats; }

void gc_get(int i, char *out_t, int64_t *out_mnk, double *out_seconds, double *out_beta)
{
    *out_beta = stats[i].beta;
    out_t[0] = stats[i].ta;
    out_t[1] = stats[i].tb;
    out_t[2] = stats[i].dtype;
    out_mnk[0] = stats[i].m;
    out_mnk[1] = stats[i].n;
    out_mnk[2] = stats[i].k;
    out_mnk[3] = stats[i].calls;
    *out_seconds = stats[i].seconds;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void record(char dtype, const char *ta, const char *tb, const void *m,
                   const void *n, const void *k, const void *beta, double dt)
{
    double b = dtype == 's' ? *(const float *)beta : *(const double *)beta;
    int64_t M = ilp64 ? *(const int64_t *)m : *(const int32_t *)m;
    int64_t N = ilp64 ? *(const int64_t *)n : *(const int32_t *)n;
    int64_t K = ilp64 ? *(const int64_t *)k : *(const int32_t *)k;
    for (int i = 0; i < n_stats; i++) {
        shape_stat *s = &stats[i];
        if (s->dtype == dtype && s->ta == *ta && s->tb == *tb && s->m == M && s->n == N && s->k == K
            && s->beta == b) {
            s->calls++;
            s->seconds += dt;
            return;
        }
    }
    if (n_stats < MAX_SHAPES) {
        shape_stat *s = &stats[n_stats++];
        s->dtype = dtype; s->ta = *ta; s->tb = *tb;
        s->m = M; s->n = N; s->k = K; s->calls = 1; s->seconds = dt; s->beta = b;
    }
}

typedef void (*gemm_any)(const char *, const char *, const void *, const void *,
                         const void *, const void *, const void *, const void *,
                         const void *, const void *, const void *, void *,
                         const void *, size_t, size_t);

#define WRAP(NAME, REAL, DT)                                                           \
void NAME(const char *ta, const char *tb, const void *m, const void *n,               \
          const void *k, const void *alpha, const void *A, const void *lda,          \
          const void *B, const void *ldb, const void *beta, void *C,                 \
          const void *ldc, size_t la, size_t lb)                                     \
{                                                                                    \
    double t0 = now();                                                               \
    ((gemm_any)REAL)(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, la, lb);  \
    record(DT, ta, tb, m, n, k, beta, now() - t0);                                         \
}

WRAP(gc_sgemm, real_s, 's')
WRAP(gc_dgemm, real_d, 'd')
