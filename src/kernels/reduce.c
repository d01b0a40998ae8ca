/* Naive backend: reductions over one dim (sum, prod, max), shared by both backends.
 *
 * Determinism: every output is reduced by one fixed sequence of operations that depends only on
 * the shapes and strides, never on the thread count:
 *   - reduced dim contiguous: 32 interleaved partial results (so the loop vectorizes), combined in
 *     a fixed tree (vectors of at most SHORT elements: in order); vectors longer than CHUNK are
 *     cut into CHUNK-element pieces whose results are folded in order;
 *   - outputs contiguous in the input (sum over dim 0 of a row-major matrix): a block of BLOCK
 *     outputs advances together, row by row, so memory is read in order; more than ROW_CHUNK
 *     rows are cut into ROW_CHUNK-row pieces whose results are folded in order;
 *   - otherwise: a plain serial loop over the reduced dim.
 * Work is spread over outputs (each output on one thread); when there are fewer outputs than
 * threads, the pieces of each output are spread instead — the same pieces, folded in the same
 * order, so the result is bitwise the same either way. This is how sum_all of a large tensor, or
 * a sum over the long dim of a (70000, 3) tensor, uses every core. */
#include <math.h>

#include "kernels/kernel_trace.h"
#include "kernels/kernels.h"
#include "kernels/layout.h"
#include "kernels/scalar_ops.h"
#include "runtime/runtime.h"

#define WORK_PER_THREAD 65536 /* terms; measured: 2 threads pay off from ~128K terms */
#define WORK_PER_ITEM 65536   /* terms per work item when spreading outputs over threads */
#define LANES 32
#define CHUNK 65536
#define BLOCK 1024
#define ROW_CHUNK 2048
#define ROUND 8 /* pieces computed in parallel per round (their partials live on the stack) */
#define SHORT 8  /* contiguous vectors this short are summed in order, without lanes */

/* One case per reduction, generated from the op table: LOOP expanded with the op's step. */
#define REDUCE_CASE(E, name, saves) case MTI_REDUCE_##E: LOOP(mti_##name##_step); break;
#define REDUCE_CASES MTI_REDUCE_OPS(REDUCE_CASE) case MTI_REDUCE_COUNT: break

static inline float apply(mti_reduce_op op, float acc, float x)
{
    switch (op) {
#define STEP_CASE(E, name, saves) case MTI_REDUCE_##E: return mti_##name##_step(acc, x);
        MTI_REDUCE_OPS(STEP_CASE)
#undef STEP_CASE
    case MTI_REDUCE_COUNT: break;
    }
    return acc;
}

static float start_value(mti_reduce_op op)
{
    switch (op) {
#define START_CASE(E, name, saves) case MTI_REDUCE_##E: return mti_##name##_start;
        MTI_REDUCE_OPS(START_CASE)
#undef START_CASE
    case MTI_REDUCE_COUNT: break;
    }
    return 0.0f;
}

/* ---- the three per-output algorithms ---- */

/* n contiguous floats with LANES interleaved accumulators, combined as a tree. */
static float reduce_lanes(mti_reduce_op op, const float *a, int64_t n)
{
    float acc[LANES];
    const float init = start_value(op);
    for (int k = 0; k < LANES; k++) acc[k] = init;
    int64_t i = 0;
#define LOOP(F)                                                                \
    for (; i + LANES <= n; i += LANES)                                         \
        _Pragma("omp simd") for (int k = 0; k < LANES; k++) acc[k] = F(acc[k], a[i + k]); \
    for (int k = 0; i + k < n; k++) acc[k] = F(acc[k], a[i + k])
    switch (op) { REDUCE_CASES; }
#undef LOOP
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; k++) acc[k] = apply(op, acc[k], acc[k + width]);
    return acc[0];
}

static float reduce_strided(mti_reduce_op op, const float *a, int64_t n, int64_t stride)
{
    float acc = a[0];
#define LOOP(F) for (int64_t j = 1; j < n; j++) acc = F(acc, a[j * stride])
    switch (op) { REDUCE_CASES; }
#undef LOOP
    return acc;
}

/* Rows [j0, j1) of `count` (<= BLOCK) neighbouring outputs whose inputs are contiguous. */
static void block_rows(mti_reduce_op op, float *acc, const float *a, int64_t count, int64_t j0,
                       int64_t j1, int64_t stride)
{
    for (int64_t k = 0; k < count; k++) acc[k] = a[j0 * stride + k];
    /* four rows per pass over acc (fewer loads and stores of acc), still added in row order */
    int64_t j;
#define LOOP(F)                                                                         \
    for (j = j0 + 1; j + 4 <= j1; j += 4) {                                                       \
        const float *r0 = a + j * stride, *r1 = r0 + stride, *r2 = r1 + stride, *r3 = r2 + stride; \
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++)                         \
            acc[k] = F(F(F(F(acc[k], r0[k]), r1[k]), r2[k]), r3[k]);                    \
    }                                                                                   \
    for (; j < j1; j++) {                                                               \
        const float *row = a + j * stride;                                              \
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++) acc[k] = F(acc[k], row[k]); \
    }
    switch (op) { REDUCE_CASES; }
#undef LOOP
}

/* ---- pieces: a long reduction is the in-order fold of its pieces ---- */

typedef struct piece_job {
    mti_reduce_op op;
    const float *a;
    int64_t n, stride, count; /* count > 0: a block of outputs (rows of ROW_CHUNK); 0: lanes */
    int64_t first;            /* first piece of this round */
    float (*partial)[BLOCK];
} piece_job;

static void compute_pieces(void *context, int64_t begin, int64_t end)
{
    const piece_job *job = context;
    for (int64_t p = begin; p < end; p++) {
        int64_t piece = job->first + p;
        if (job->count > 0) {
            int64_t j0 = piece * ROW_CHUNK, j1 = j0 + ROW_CHUNK < job->n ? j0 + ROW_CHUNK : job->n;
            block_rows(job->op, job->partial[p], job->a, job->count, j0, j1, job->stride);
        } else {
            int64_t i0 = piece * CHUNK, len = job->n - i0 < CHUNK ? job->n - i0 : CHUNK;
            job->partial[p][0] = reduce_lanes(job->op, job->a + i0, len);
        }
    }
}

/* Reduces one output (count == 0: contiguous vector) or one block of `count` outputs by folding
 * its pieces in order; the pieces of each round run on `threads` threads. */
static void fold_pieces(mti_reduce_op op, float *o, int64_t os, const float *a, int64_t count,
                        int64_t n, int64_t stride, int threads)
{
    const int64_t piece_len = count > 0 ? ROW_CHUNK : CHUNK;
    const int64_t pieces = (n + piece_len - 1) / piece_len;
    const int64_t width = count > 0 ? count : 1;
    float partial[ROUND][BLOCK], acc[BLOCK] = {0};
    piece_job job = {op, a, n, stride, count, 0, partial};
    for (job.first = 0; job.first < pieces; job.first += ROUND) {
        int64_t round = pieces - job.first < ROUND ? pieces - job.first : ROUND;
        mti_parallel_ranges(threads < round ? threads : (int)round, round, compute_pieces, &job);
        for (int64_t p = 0; p < round; p++)
            for (int64_t k = 0; k < width; k++)
                acc[k] = job.first + p == 0 ? partial[0][k] : apply(op, acc[k], partial[p][k]);
    }
    for (int64_t k = 0; k < width; k++) o[k * os] = acc[k];
}

/* ---- driver ---- */

typedef struct reduce_job {
    mti_layout layout;
    mti_reduce_op op;
    int64_t n, stride;
    bool contiguous, blocked;
} reduce_job;

static void reduce_items(void *context, int64_t item, int64_t end)
{
    const reduce_job *job = context;
    const mti_layout *l = &job->layout;
    const int64_t os = l->strides[0][l->ndim - 1], as = l->strides[1][l->ndim - 1];
    mti_cursor c;
    mti_cursor_seek(l, &c, item);
    for (; item < end; item++, mti_cursor_next(l, &c)) {
        float *o = mti_cursor_ptr(l, &c, 0);
        const float *a = mti_cursor_ptr(l, &c, 1);
        int64_t length = mti_cursor_length(l, &c);
        if (job->blocked && job->n <= ROW_CHUNK) { /* one piece: no fold needed */
            float acc[BLOCK];
            block_rows(job->op, acc, a, length, 0, job->n, job->stride);
            for (int64_t k = 0; k < length; k++) o[k * os] = acc[k];
        } else if (job->blocked) {
            fold_pieces(job->op, o, os, a, length, job->n, job->stride, 1);
        } else if (job->contiguous && job->n <= SHORT) {
            for (int64_t i = 0; i < length; i++) o[i * os] = reduce_strided(job->op, a + i * as, job->n, 1);
        } else if (job->contiguous && job->n <= CHUNK) {
            for (int64_t i = 0; i < length; i++) o[i * os] = reduce_lanes(job->op, a + i * as, job->n);
        } else if (job->contiguous) {
            for (int64_t i = 0; i < length; i++)
                fold_pieces(job->op, o + i * os, os, a + i * as, 0, job->n, 1, 1);
        } else {
            for (int64_t i = 0; i < length; i++)
                o[i * os] = reduce_strided(job->op, a + i * as, job->n, job->stride);
        }
    }
}

void mti_naive_reduce(mti_reduce_op op, const mti_strided *out, const mti_strided *in, int dim)
{
    bool tracing = mti_tracing();
    double start = tracing ? mti_now_us() : 0;
    reduce_job job = {.op = op, .n = in->shape[dim]};
    job.stride = job.n > 1 ? in->strides[dim] : 1;
    job.contiguous = job.stride == 1;

    /* Iterate over the output positions: the input with the reduced dim collapsed to size 1. */
    mti_strided outer_in = *in;
    outer_in.shape[dim] = 1;
    const mti_strided *views[2] = {out, &outer_in};
    mti_layout *l = &job.layout;
    mti_layout_init(l, 2, views, MTI_SEGMENT);
    job.blocked = !job.contiguous && l->strides[1][l->ndim - 1] == 1 && l->inner > 1;
    /* Items: BLOCK outputs in the blocked path, else about WORK_PER_ITEM terms' worth. Item
     * boundaries do not change any output's arithmetic, only which thread computes it. */
    int64_t per_item = job.n >= WORK_PER_ITEM ? 1 : WORK_PER_ITEM / job.n;
    mti_layout_init(l, 2, views, job.blocked ? BLOCK : per_item < MTI_SEGMENT ? per_item : MTI_SEGMENT);

    const int64_t outputs = l->items / l->segments * l->inner, total = outputs * job.n;
    int threads = mti_threads_for(total, WORK_PER_THREAD);
    const int64_t piece_len = job.blocked ? ROW_CHUNK : CHUNK;
    const char *path = job.contiguous ? "contiguous" : job.blocked ? "blocked" : "strided";
    if (!(job.contiguous || job.blocked) || l->items >= threads || job.n < 2 * piece_len) {
        if (threads > l->items) threads = (int)l->items;
        mti_parallel_ranges(threads, l->items, reduce_items, &job);
    } else {
        /* fewer work items than threads, each long: spread each one's pieces instead */
        path = job.contiguous ? "contiguous-split" : "blocked-split";
        const int64_t os = l->strides[0][l->ndim - 1], as = l->strides[1][l->ndim - 1];
        mti_cursor c;
        mti_cursor_seek(l, &c, 0);
        for (int64_t item = 0; item < l->items; item++, mti_cursor_next(l, &c)) {
            float *o = mti_cursor_ptr(l, &c, 0);
            const float *a = mti_cursor_ptr(l, &c, 1);
            int64_t length = mti_cursor_length(l, &c);
            if (job.blocked)
                fold_pieces(op, o, os, a, length, job.n, job.stride, threads);
            else
                for (int64_t i = 0; i < length; i++)
                    fold_pieces(op, o + i * os, os, a + i * as, 0, job.n, 1, threads);
        }
    }
    if (tracing) {
        const mti_strided *shown[2] = {out, in};
        mti_kernel_trace(mti_reduce_name(op), path, 2, shown, true, threads, start);
    }
}
