/* Naive backend: the fused matrix multiply (MiniTorch Task 3.2), written for speed without BLAS.
 *
 * out[i][j] = sum_k a[i][k] * b[k][j], computed straight into the output: no (n, k, m) product
 * tensor, no intermediate. The work is split into tasks of TASK_ROWS x TASK_COLS outputs over every
 * output matrix, so even a single 2-D product uses every core. Inside a task, a MR x NR register
 * tile is updated with one multiply-add per element and k step (the compiler vectorizes the NR
 * columns), over KC-deep slices of k so the slice of b being read stays in L1. Each KC x NR slice
 * of b is first gathered into a small contiguous tile, reading b along its contiguous dim: that
 * makes a transposed b (as in dC * B^T) as fast as a plain one, and a tall task reuses the tile
 * for all its row groups.
 *
 * Accuracy and determinism: each output's products (summed batch, then k) are summed one KC-deep
 * slice at a time into fresh accumulators, and the slice totals pairwise: slice totals are
 * combined as in a binary counter (two totals of 2^j slices as soon as both exist, the rest from
 * the smallest up at the end). A sum of k products thus makes at most KC additions in a row into
 * one accumulator, then log2(k / KC) levels of pairs: its error grows like (KC + log2 k) u, not
 * k u (one term at a time, a (1 x 2^24)(2^24 x 1) product was off by 2.3e-2). The order depends
 * only on the shapes, so the result is the same whatever the tiling, layout and thread count.
 *
 * Memory: the pairwise levels (one tile of TASK_ROWS x TASK_COLS per bit of the number of
 * slices, 64 KB each) and the gathered b slice live in a per-thread scratch from the storage
 * cache — not the stack, since callers' threads may have small stacks; nothing proportional to
 * the operands is allocated.
 */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernel_trace.h"
#include "kernels/matmul_common.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"

#define MR 4
#define NR 32
#define KC 128
#define TASK_ROWS 128
#define TASK_COLS 128
#define FLOPS_PER_THREAD (128 * 128 * 128) /* waking a sleeping worker costs tens of us */

typedef struct task_geometry {
    int64_t row0, rows, col0, cols;
} task_geometry;

/* Writes a finished MR x NR (or smaller) slice total c to the task's pairwise levels: the
 * slice is number `number` (1-based) of the output's sequence of KC-deep slices; as in a binary
 * counter it is first combined with the levels 0 .. carries-1 (carries = trailing zero bits of
 * number: the totals of 1, 2, 4, ... earlier slices), c = level[l] + c, and lands in level
 * `carries`. Levels are TILE_FLOATS apart; `offset` is the tile's place in each. */
#define TILE_FLOATS (TASK_ROWS * TASK_COLS)

static inline void finish_tile(float *levels, int carries, int64_t offset, int64_t ld,
                               const float *c, int c_ld, int rows, int width)
{
    float *dst = levels + (size_t)carries * TILE_FLOATS + offset;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < width; j++) {
            float v = c[r * c_ld + j];
            for (int l = 0; l < carries; l++) v = levels[(size_t)l * TILE_FLOATS + offset + r * ld + j] + v;
            dst[r * ld + j] = v;
        }
}

/* c = a[0..MR)[0..kc) * b[0..kc)[0..NR) from fresh accumulators. Inlined, c stays in vector
 * registers: per k step, MR broadcasts, NR/16 loads, MR*NR/16 FMAs. */
static inline void micro_kernel(float c[MR][NR], const float *restrict a, int64_t a_row,
                                int64_t a_col, const float *restrict b, int64_t ldb, int64_t kc)
{
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r][j] = 0.0f;
    for (int64_t k = 0; k < kc; k++) {
        const float a0 = a[k * a_col], a1 = a[a_row + k * a_col], a2 = a[2 * a_row + k * a_col],
                    a3 = a[3 * a_row + k * a_col];
        const float *brow = b + k * ldb;
#pragma GCC unroll 1
        for (int j = 0; j < NR; j++) {
            float bv = brow[j];
            c[0][j] += a0 * bv;
            c[1][j] += a1 * bv;
            c[2][j] += a2 * bv;
            c[3][j] += a3 * bv;
        }
    }
}

/* The full MR x NR register tile, finished into the levels from registers. */
static void micro_tile(float *levels, int carries, int64_t offset, int64_t ld, const float *a,
                       int64_t a_row, int64_t a_col, const float *b, int64_t ldb, int64_t kc)
{
    float c[MR][NR];
    micro_kernel(c, a, a_row, a_col, b, ldb, kc);
    for (int l = 0; l < carries; l++) {
        const float *level = levels + (size_t)l * TILE_FLOATS + offset;
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) c[r][j] = level[r * ld + j] + c[r][j];
    }
    float *dst = levels + (size_t)carries * TILE_FLOATS + offset;
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) dst[r * ld + j] = c[r][j];
}

/* MR rows of a tile narrower than NR: the register kernel on the zero-padded b tile, then the
 * `width` real columns finished. Same arithmetic per output. */
static void narrow_tile(float *levels, int carries, int64_t offset, int64_t ld, const float *a,
                        int64_t a_row, int64_t a_col, const float *b, int64_t ldb, int64_t kc,
                        int width)
{
    float c[MR][NR];
    micro_kernel(c, a, a_row, a_col, b, ldb, kc);
    finish_tile(levels, carries, offset, ld, &c[0][0], NR, MR, width);
}

/* A partial tile at the matrix edge (rows < MR or width < NR); same arithmetic per output. */
static void edge_tile(float *levels, int carries, int64_t offset, int64_t ld, const float *a,
                      int64_t a_row, int64_t a_col, int rows, const float *b, int64_t ldb,
                      int64_t kc, int width)
{
    float c[MR * NR];
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < width; j++) c[r * NR + j] = 0.0f;
        for (int64_t k = 0; k < kc; k++) {
            const float av = a[r * a_row + k * a_col];
            const float *brow = b + k * ldb;
            for (int j = 0; j < width; j++) c[r * NR + j] += av * brow[j];
        }
    }
    finish_tile(levels, carries, offset, ld, c, NR, rows, width);
}

/* Trailing zero bits of v > 0. */
static int trailing_zeros(int64_t v)
{
    int n = 0;
    for (; !(v & 1); v >>= 1) n++;
    return n;
}

/* Each output's products are summed KC at a time into fresh accumulators (one multiply-add per
 * step), and the slice totals pairwise (levels: bit_length(slices) tiles of TILE_FLOATS);
 * packed: KC x NR. One thread's scratch. */
static void run_task(const mti_matmul_plan *p, int64_t ob, task_geometry g, bool accumulate,
                     const mti_matmul_epilogue *epilogue, float *levels, float *packed)
{
    const int nd = p->out.ndim;
    const int64_t a_row = p->a.strides[nd - 2], a_col = p->a.strides[nd - 1];
    const int64_t b_row = p->b.strides[nd - 2], b_col = p->b.strides[nd - 1];
    const int64_t acc_ld = g.cols;
    int64_t slices = 0;

    mti_batch_offsets first = mti_matmul_offsets(p, ob, 0);
    for (int64_t sb = 0; sb < p->sum_batches; sb++) {
        mti_batch_offsets o = sb == 0 ? first : mti_matmul_offsets(p, ob, sb);
        const float *a = p->a.data + o.a + g.row0 * a_row;
        const float *b = p->b.data + o.b + g.col0 * b_col;
        for (int64_t k0 = 0; k0 < p->k; k0 += KC) {
            int64_t kc = p->k - k0 < KC ? p->k - k0 : KC;
            const int carries = trailing_zeros(++slices);
            for (int64_t j0 = 0; j0 < g.cols; j0 += NR) {
                int width = (int)(g.cols - j0 < NR ? g.cols - j0 : NR);
                const float *tile = b + k0 * b_row + j0 * b_col;
                int64_t ldb = b_row;
                const bool padded = width < NR && g.rows >= MR; /* for narrow_tile */
                if (b_col != 1 || g.rows > MR * 4 || padded) {
                    /* gather a contiguous KC x NR tile (reading b along its contiguous dim):
                     * needed when b's columns are strided, faster anyway when many row groups
                     * reuse it, and zero-padded to NR columns for a partial tile so the
                     * register kernel can run on it */
                    if (b_col == 1)
                        for (int64_t k = 0; k < kc; k++)
                            for (int j = 0; j < width; j++) packed[k * NR + j] = tile[k * b_row + j];
                    else
                        for (int j = 0; j < width; j++)
                            for (int64_t k = 0; k < kc; k++)
                                packed[k * NR + j] = tile[k * b_row + j * b_col];
                    for (int64_t k = 0; padded && k < kc; k++)
                        for (int j = width; j < NR; j++) packed[k * NR + j] = 0.0f;
                    tile = packed;
                    ldb = NR;
                }
                for (int64_t i0 = 0; i0 < g.rows; i0 += MR) {
                    int rows = (int)(g.rows - i0 < MR ? g.rows - i0 : MR);
                    const float *a_tile = a + i0 * a_row + k0 * a_col;
                    const int64_t offset = i0 * acc_ld + j0;
                    if (width == NR && rows == MR)
                        micro_tile(levels, carries, offset, acc_ld, a_tile, a_row, a_col, tile, ldb, kc);
                    else if (rows == MR) /* the padded tile */
                        narrow_tile(levels, carries, offset, acc_ld, a_tile, a_row, a_col, tile, ldb,
                                    kc, width);
                    else
                        edge_tile(levels, carries, offset, acc_ld, a_tile, a_row, a_col, rows, tile,
                                  ldb, kc, width);
                }
            }
        }
    }

    /* What the counter holds after the last slice, combined from its lowest level up. */
    int set[64], set_count = 0;
    for (int l = 0; (slices >> l) != 0; l++)
        if ((slices >> l) & 1) set[set_count++] = l;
    float *acc = levels + (size_t)set[0] * TILE_FLOATS;
    for (int s = 1; s < set_count; s++) {
        const float *level = levels + (size_t)set[s] * TILE_FLOATS;
        for (int64_t i = 0; i < g.rows * g.cols; i++) acc[i] = level[i] + acc[i];
    }

    /* Epilogue: bias and accumulation happen here, in the one pass that writes the output. */
    const int64_t o_row = p->out.strides[nd - 2], o_col = p->out.strides[nd - 1];
    float *out = p->out.data + first.out + g.row0 * o_row + g.col0 * o_col;
    const float *bias = NULL;
    int64_t bias_row = 0, bias_col = 0;
    if (p->has_bias) {
        bias_row = p->bias.strides[nd - 2];
        bias_col = p->bias.strides[nd - 1];
        bias = p->bias.data + first.bias + g.row0 * bias_row + g.col0 * bias_col;
    }
    for (int64_t i = 0; i < g.rows; i++) {
        float *row = out + i * o_row;
        const float *accrow = acc + i * acc_ld;
        if (bias) {
            const float *brow = bias + i * bias_row;
            for (int64_t j = 0; j < g.cols; j++) {
                float v = accrow[j] + brow[j * bias_col];
                row[j * o_col] = accumulate ? row[j * o_col] + v : v;
            }
        } else if (accumulate) {
            for (int64_t j = 0; j < g.cols; j++) row[j * o_col] += accrow[j];
        } else {
            for (int64_t j = 0; j < g.cols; j++) row[j * o_col] = accrow[j];
        }
    }
    mti_matmul_epilogue_rows(epilogue, p, out, g.rows, g.cols, o_row, o_col); /* still in cache */
}

typedef struct naive_job {
    const mti_matmul_plan *p;
    float *scratch; /* per_thread floats per thread: the levels, then the packed b slice */
    size_t per_thread;
    int levels;
    int threads;
    int64_t task_rows, row_blocks, col_blocks;
    bool accumulate;
    const mti_matmul_epilogue *epilogue;
} naive_job;

static void run_tasks(void *context, int64_t t, int64_t end)
{
    const naive_job *job = context;
    const mti_matmul_plan *p = job->p;
    float *levels = job->scratch + (size_t)mti_thread_slot() * job->per_thread;
    const int64_t per_matrix = job->row_blocks * job->col_blocks;
    for (; t < end; t++) {
        int64_t ob = t / per_matrix, rest = t % per_matrix;
        task_geometry g;
        g.row0 = rest / job->col_blocks * job->task_rows;
        g.col0 = rest % job->col_blocks * TASK_COLS;
        g.rows = p->n - g.row0 < job->task_rows ? p->n - g.row0 : job->task_rows;
        g.cols = p->m - g.col0 < TASK_COLS ? p->m - g.col0 : TASK_COLS;
        run_task(p, ob, g, job->accumulate, job->epilogue, levels,
                 levels + (size_t)job->levels * TILE_FLOATS);
    }
}

mt_status mti_naive_matmul(const char *fn, const mti_strided *out, const mti_strided *a, const mti_strided *b,
                           const mti_strided *bias, bool trans_a, bool trans_b, bool accumulate,
                           const mti_matmul_epilogue *epilogue)
{
    bool tracing = mti_tracing();
    double start = tracing ? mti_now_us() : 0;
    mti_matmul_plan p;
    mti_matmul_plan_init(&p, out, a, b, bias, trans_a, trans_b);

    const double flops = (double)p.out_batches * (double)p.sum_batches * (double)p.n * (double)p.m * (double)p.k;
    int threads = mti_threads_for(flops > 1e15 ? (int64_t)1e15 : (int64_t)flops, FLOPS_PER_THREAD);
    /* Tall tasks reuse each gathered b slice more; shorter ones when that is what it takes to give
     * every thread work. (Tiling never changes an output's arithmetic, only who computes it.) */
    const int64_t col_blocks = (p.m + TASK_COLS - 1) / TASK_COLS;
    int64_t task_rows = TASK_ROWS, row_blocks = (p.n + task_rows - 1) / task_rows;
    while (threads > 1 && task_rows > 4 * MR && p.out_batches * row_blocks * col_blocks < 2 * threads) {
        task_rows /= 2;
        row_blocks = (p.n + task_rows - 1) / task_rows;
    }
    const int64_t tasks = p.out_batches * row_blocks * col_blocks;
    if (threads > tasks) threads = (int)tasks;

    /* the tiles' pairwise levels come from the storage cache, not the stack (callers' threads
     * may have small stacks): one level per bit of the number of KC-deep slices per output */
    const int64_t slices = p.sum_batches * ((p.k + KC - 1) / KC);
    int levels = 0;
    for (int64_t v = slices; v > 0; v >>= 1) levels++;
    const size_t per_thread = (size_t)levels * TILE_FLOATS + KC * NR;
    size_t capacity;
    float *scratch = mti_buffer_alloc(sizeof(float) * per_thread * (size_t)threads, &capacity);
    if (!scratch)
        return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %d x %zu floats of matmul scratch",
                        threads, per_thread);
    naive_job job = {&p, scratch, per_thread, levels, threads, task_rows, row_blocks, col_blocks,
                     accumulate, epilogue};
    mti_parallel_ranges(threads, tasks, run_tasks, &job);
    mti_buffer_free(scratch, capacity);

    if (tracing) {
        const mti_strided *views[3] = {out, a, b};
        char path[64];
        snprintf(path, sizeof path, "naive-%c%c%s%s%s%s", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N',
                 bias ? "+bias" : "", accumulate ? "+acc" : "", epilogue ? "+" : "",
                 epilogue ? mti_unary_name(epilogue->op) : "");
        mti_kernel_trace("matmul", path, 3, views, false, threads, start);
    }
    return MT_OK;
}
