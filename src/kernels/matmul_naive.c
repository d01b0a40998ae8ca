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
 * Memory: the tiles' accumulators and the gathered b slice live in a fixed per-thread scratch
 * (about 80 KB) from the storage cache — not the stack, since callers' threads may have small
 * stacks — and nothing proportional to the problem is ever allocated.
 *
 * Determinism: each output sums its products in the fixed order (summed batch, then k) into a
 * single accumulator, whatever the tiling and thread count. */
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

/* The full MR x NR register tile: acc[0..MR)[0..NR) += a[0..MR)[0..kc) * b[0..kc)[0..NR). The
 * compiler keeps c in vector registers: per k step, MR broadcasts, NR/16 loads, MR*NR/16 FMAs. */
static void micro_tile(float *restrict acc, int64_t acc_ld, const float *restrict a,
                       int64_t a_row, int64_t a_col, const float *restrict b, int64_t ldb,
                       int64_t kc)
{
    float c[MR][NR];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) c[r][j] = acc[r * acc_ld + j];
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
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) acc[r * acc_ld + j] = c[r][j];
}

/* A partial tile at the matrix edge (rows < MR or width < NR); same arithmetic order. */
static void edge_tile(float *acc, int64_t acc_ld, const float *a, int64_t a_row, int64_t a_col,
                      int rows, const float *b, int64_t ldb, int64_t kc, int width)
{
    for (int r = 0; r < rows; r++)
        for (int64_t k = 0; k < kc; k++) {
            const float av = a[r * a_row + k * a_col];
            const float *brow = b + k * ldb;
            for (int j = 0; j < width; j++) acc[r * acc_ld + j] += av * brow[j];
        }
}

/* acc (TASK_ROWS x TASK_COLS) and packed (KC x NR): one thread's scratch. */
static void run_task(const mti_matmul_plan *p, int64_t ob, task_geometry g, bool accumulate,
                     float *acc, float *packed)
{
    const int nd = p->out.ndim;
    const int64_t a_row = p->a.strides[nd - 2], a_col = p->a.strides[nd - 1];
    const int64_t b_row = p->b.strides[nd - 2], b_col = p->b.strides[nd - 1];
    const int64_t acc_ld = g.cols;
    memset(acc, 0, sizeof(float) * (size_t)(g.rows * g.cols));

    mti_batch_offsets first = mti_matmul_offsets(p, ob, 0);
    for (int64_t sb = 0; sb < p->sum_batches; sb++) {
        mti_batch_offsets o = sb == 0 ? first : mti_matmul_offsets(p, ob, sb);
        const float *a = p->a.data + o.a + g.row0 * a_row;
        const float *b = p->b.data + o.b + g.col0 * b_col;
        for (int64_t k0 = 0; k0 < p->k; k0 += KC) {
            int64_t kc = p->k - k0 < KC ? p->k - k0 : KC;
            for (int64_t j0 = 0; j0 < g.cols; j0 += NR) {
                int width = (int)(g.cols - j0 < NR ? g.cols - j0 : NR);
                const float *tile = b + k0 * b_row + j0 * b_col;
                int64_t ldb = b_row;
                if (b_col != 1 || g.rows > MR * 4 || width < NR) {
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
                    for (int64_t k = 0; width < NR && k < kc; k++)
                        for (int j = width; j < NR; j++) packed[k * NR + j] = 0.0f;
                    tile = packed;
                    ldb = NR;
                }
                for (int64_t i0 = 0; i0 < g.rows; i0 += MR) {
                    int rows = (int)(g.rows - i0 < MR ? g.rows - i0 : MR);
                    const float *a_tile = a + i0 * a_row + k0 * a_col;
                    float *acc_tile = acc + i0 * acc_ld + j0;
                    if (width == NR && rows == MR) {
                        micro_tile(acc_tile, acc_ld, a_tile, a_row, a_col, tile, ldb, kc);
                    } else if (rows == MR) { /* partial width: the padded tile, same arithmetic */
                        float c[MR * NR];
                        for (int r = 0; r < MR; r++)
                            for (int j = 0; j < NR; j++) c[r * NR + j] = j < width ? acc_tile[r * acc_ld + j] : 0.0f;
                        micro_tile(c, NR, a_tile, a_row, a_col, tile, ldb, kc);
                        for (int r = 0; r < MR; r++)
                            for (int j = 0; j < width; j++) acc_tile[r * acc_ld + j] = c[r * NR + j];
                    } else {
                        edge_tile(acc_tile, acc_ld, a_tile, a_row, a_col, rows, tile, ldb, kc,
                                  width);
                    }
                }
            }
        }
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
}

#define SCRATCH_PER_THREAD (TASK_ROWS * TASK_COLS + KC * NR)

typedef struct naive_job {
    const mti_matmul_plan *p;
    float *scratch; /* SCRATCH_PER_THREAD floats per thread */
    int threads;
    int64_t task_rows, row_blocks, col_blocks;
    bool accumulate;
} naive_job;

static void run_tasks(void *context, int64_t t, int64_t end)
{
    const naive_job *job = context;
    const mti_matmul_plan *p = job->p;
    float *acc = job->scratch + (size_t)mti_thread_slot() * SCRATCH_PER_THREAD;
    const int64_t per_matrix = job->row_blocks * job->col_blocks;
    for (; t < end; t++) {
        int64_t ob = t / per_matrix, rest = t % per_matrix;
        task_geometry g;
        g.row0 = rest / job->col_blocks * job->task_rows;
        g.col0 = rest % job->col_blocks * TASK_COLS;
        g.rows = p->n - g.row0 < job->task_rows ? p->n - g.row0 : job->task_rows;
        g.cols = p->m - g.col0 < TASK_COLS ? p->m - g.col0 : TASK_COLS;
        run_task(p, ob, g, job->accumulate, acc, acc + TASK_ROWS * TASK_COLS);
    }
}

mt_status mti_naive_matmul(const char *fn, const mti_strided *out, const mti_strided *a, const mti_strided *b,
                           const mti_strided *bias, bool trans_a, bool trans_b, bool accumulate)
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

    /* the tiles' accumulators come from the storage cache, not the stack (callers' threads
     * may have small stacks) */
    size_t capacity;
    float *scratch = mti_buffer_alloc(sizeof(float) * SCRATCH_PER_THREAD * (size_t)threads, &capacity);
    if (!scratch)
        return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %d x %d floats of matmul scratch",
                        threads, SCRATCH_PER_THREAD);
    naive_job job = {&p, scratch, threads, task_rows, row_blocks, col_blocks, accumulate};
    mti_parallel_ranges(threads, tasks, run_tasks, &job);
    mti_buffer_free(scratch, capacity);

    if (tracing) {
        const mti_strided *views[3] = {out, a, b};
        char path[64];
        snprintf(path, sizeof path, "naive-%c%c%s%s", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N',
                 bias ? "+bias" : "", accumulate ? "+acc" : "");
        mti_kernel_trace("matmul", path, 3, views, false, threads, start);
    }
    return MT_OK;
}
