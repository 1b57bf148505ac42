/* The thread policy and the cut of work into parts, in one place.
 *
 * Parts are cut by the shapes and the element size alone, never by the
 * thread count, so that the numbers do not depend on it (pool.c states the
 * invariant). A part is a tile of a GEMM's output, rows or columns, with
 * at least MLPX_TILE_MACS multiply-adds and 64 to 256 rows or columns
 * (tile_min): each tile is a separate one-thread BLAS call that packs its
 * own copy of the operand it shares with the other tiles (the weights for
 * a tile of rows, the layer input for a tile of columns), so smaller tiles
 * spend more time packing than multiplying. The cut is made across the
 * smaller repack: a GEMM with more rows than columns is cut into tiles of
 * rows.
 *
 * Opt-in (mlpx_set_whole_macs), the largest batches (mlpx_epoch_whole) are
 * not cut: their GEMMs run whole on the shared BLAS's own threads, and only
 * the optimizer step is shared out, in parts fixed by the shapes. Their
 * numbers then follow the BLAS's threaded GEMM: the same for the same
 * thread count (OpenBLAS partitions by the count and the shapes, never by
 * timing). Not the default: OpenBLAS's threads wait for one another by
 * spinning, and with more threads than free cores its GEMMs slow down
 * several times over, where the pool's parts degrade gently.
 *
 * Threads: as many as the shared BLAS may use (its own setting, so
 * OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and threadpoolctl limits apply),
 * at most one per part, one for work too small to pay for a hand-over
 * (MLPX_SHARE_MACS), and one when a GEMM is too big for one thread of the
 * shared BLAS and no local BLAS is set (the shared one then runs it on its
 * own threads).
 */
#include <math.h>
#include "engine.h"

/* Small tiles spread small batches over more threads; a tile repacking a
 * large operand wastes a visible share of its time on the copy. So the
 * minimum grows with the operand each tile repacks: 64 while it fits in
 * MLPX_REPACK_SMALL bytes (in cache, cheap to copy), else 128 along
 * columns and 256 along rows. The measurements behind these numbers are
 * in benchmarks/README.md ("How the tile sizes were chosen"). */
#define MLPX_TILE_MIN 64
#define MLPX_TILE_MIN_COLS 128
#define MLPX_TILE_MIN_ROWS 256
#define MLPX_REPACK_SMALL (256.0 * 1024)
#define MLPX_TILE_MACS (512.0 * 1024)
#define MLPX_SHARE_MACS (1024.0 * 1024)
/* Training batches with at least whole_macs multiply-adds run as whole
 * GEMMs on the shared BLAS's threads; HUGE_VAL (the default): none
 * (docs/performance-notes.md, "Whole GEMMs for the largest batches"). */
static double whole_macs = HUGE_VAL;

void mlpx_set_whole_macs(double macs) { whole_macs = macs >= 0 ? macs : HUGE_VAL; }
/* rows per block of mlpx_forward (a repack of every weight per block) */
#define MLPX_FORWARD_ROWS 256

/* dim cut into tiles of >= tmin and MLPX_TILE_MACS of macs in all, equal,
 * a multiple of 16 wide (whole vectors for the passes on a tile), the last
 * one shorter */
static mlpx_tiles tiles_along(int64_t dim, double macs, int by_rows, int64_t tmin)
{
    int64_t n = (int64_t)(macs / MLPX_TILE_MACS);
    if (n > dim / tmin) n = dim / tmin;
    if (n > MLPX_MAX_TILES) n = MLPX_MAX_TILES;
    if (n < 1) n = 1;
    int64_t size = (dim + n - 1) / n;
    size = (size + 15) / 16 * 16;
    if (size > dim) size = dim;
    if (size < 1) size = 1;
    return (mlpx_tiles){(dim + size - 1) / size, size, by_rows};
}

static int64_t tile_min(double repack_bytes, int by_rows)
{
    if (repack_bytes <= MLPX_REPACK_SMALL) return MLPX_TILE_MIN;
    return by_rows ? MLPX_TILE_MIN_ROWS : MLPX_TILE_MIN_COLS;
}

mlpx_tiles mlpx_gemm_tiles(int64_t M, int64_t N, int64_t Kd, int elem)
{
    const double macs = (double)M * (double)N * (double)Kd;
    /* a tile of rows repacks B (Kd, N), a tile of columns A (M, Kd) */
    if (M > N) return tiles_along(M, macs, 1, tile_min((double)Kd * N * elem, 1));
    return tiles_along(N, macs, 0, tile_min((double)M * Kd * elem, 0));
}

mlpx_tiles mlpx_backward_tiles(const mlpx_net *net, int i, int64_t B, int elem)
{
    const int64_t F = net->widths[i], O = net->widths[i + 1];
    /* both GEMMs of a tile repack D_{i+1} (B, O) */
    return tiles_along(F, (i > 0 ? 2 : 1) * (double)B * F * O, 0,
                       tile_min((double)B * O * elem, 0));
}

int64_t mlpx_forward_rows(const mlpx_net *net)
{
    (void)net;
    return MLPX_FORWARD_ROWS;
}

/* The most parts of any phase of a batch of B rows: forward tiles, and
 * backward tiles plus `bias` (the tiled epoch's extra part per layer that
 * steps the intercepts). */
static int64_t max_tiles_epoch(const mlpx_net *net, int64_t B, int elem, int bias)
{
    int64_t most = 1;
    for (int i = 0; i < net->n_layers; i++) {
        const int64_t nf = mlpx_gemm_tiles(B, net->widths[i + 1], net->widths[i], elem).n;
        const int64_t nb = mlpx_backward_tiles(net, i, B, elem).n + bias;
        most = nf > most ? nf : most;
        most = nb > most ? nb : most;
    }
    return most;
}

/* Multiply-adds of the forward GEMMs on N rows (a training batch: 3 times
 * that, forward, backprop error and gradient); exact in double. */
static double forward_macs(const mlpx_net *net, int64_t N)
{
    double macs = 0;
    for (int i = 0; i < net->n_layers; i++)
        macs += (double)N * (double)net->widths[i] * (double)net->widths[i + 1];
    return macs;
}

int mlpx_epoch_whole(const mlpx_net *net, int64_t B)
{
    return 3.0 * forward_macs(net, B) >= whole_macs;
}

int mlpx_epoch_tiled(const mlpx_net *net, int64_t B, int elem)
{
    return max_tiles_epoch(net, B, elem, 0) > 1;
}

int mlpx_tiles_threads(const mlpx_net *net, int64_t B, int elem, int64_t gather_parts)
{
    const int64_t most = max_tiles_epoch(net, B, elem, 1);
    return mlpx_threads_for(gather_parts > most ? gather_parts : most,
                            3.0 * forward_macs(net, B), mlpx_has_big_gemms(net, B));
}

int mlpx_has_big_gemms(const mlpx_net *net, int64_t B)
{
    for (int i = 0; i < net->n_layers; i++) {
        const int64_t F = net->widths[i], O = net->widths[i + 1];
        if (!mlpx_gemm_one_thread(B, O, F) || !mlpx_gemm_one_thread(F, O, B) ||
            !mlpx_gemm_one_thread(B, F, O))
            return 1;
    }
    return 0;
}

int mlpx_threads_for(int64_t nparts, double macs, int big_gemms)
{
    if (nparts <= 1 || macs < MLPX_SHARE_MACS) return 1;
    int t = mlpx_blas_threads();
    if (t > 1 && big_gemms && !mlpx_has_blas_local()) return 1;
    if (t > nparts) t = (int)nparts;
    return t > MLPX_MAX_THREADS ? MLPX_MAX_THREADS : t;
}

int mlpx_epoch_threads(const mlpx_net *net, int64_t N, int64_t batch_size)
{
    const int64_t B = batch_size < N ? batch_size : N;
    const int elem = (int)sizeof(float);
    if (mlpx_epoch_whole(net, B)) {
        const int t = mlpx_blas_threads();
        return t > MLPX_MAX_THREADS ? MLPX_MAX_THREADS : t;
    }
    return mlpx_epoch_tiled(net, B, elem) ? mlpx_tiles_threads(net, B, elem, 0) : 1;
}

/* The most tiles of any layer's forward GEMM on N rows. */
static int64_t max_tiles_forward(const mlpx_net *net, int64_t N, int elem)
{
    int64_t most = 1;
    for (int i = 0; i < net->n_layers; i++) {
        const int64_t n = mlpx_gemm_tiles(N, net->widths[i + 1], net->widths[i], elem).n;
        if (n > most) most = n;
    }
    return most;
}

int mlpx_forward_tiled(const mlpx_net *net, int64_t N, int elem)
{
    return N <= mlpx_forward_rows(net) && max_tiles_forward(net, N, elem) > 1;
}

int mlpx_forward_threads(const mlpx_net *net, int64_t N)
{
    const int64_t R = mlpx_forward_rows(net);
    const int elem = (int)sizeof(float);
    const int64_t parts = mlpx_forward_tiled(net, N, elem) ? max_tiles_forward(net, N, elem)
                                                             : (N + R - 1) / R;
    return mlpx_threads_for(parts, forward_macs(net, N), mlpx_has_big_gemms(net, N < R ? N : R));
}

int mlpx_wants_blas_local(const mlpx_net *net, int64_t N, int64_t batch_size)
{
    /* a training epoch of whole GEMMs calls the shared BLAS only */
    if (batch_size > 0 && batch_size < N && mlpx_epoch_whole(net, batch_size)) return 0;
    if (batch_size <= 0) batch_size = mlpx_forward_rows(net);
    const int64_t B = batch_size < N ? batch_size : N;
    return mlpx_blas_threads() > 1 && mlpx_has_big_gemms(net, B);
}
