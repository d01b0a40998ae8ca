/* Naive backend: reductions over one dim (sum, prod, max), shared by both backends.
 *
 * Order of operations. Every output reduces its n terms x_0 .. x_{n-1} in one fixed order that
 * depends only on n — not on the layout, the alignment or the thread count — so the same values
 * give the same bits wherever they sit:
 *   - n <= SHORT: in order, ((x_0 op x_1) op x_2) ...;
 *   - otherwise in blocks of BLOCK_TERMS = LANES x DEPTH terms. Term i of a block goes to lane
 *     i % LANES (each lane starts from the op's start value and takes its terms in order); the
 *     lanes are combined by a fixed tree (lane k with lane k + w, for w = 16, 8, 4, 2, 1); the
 *     block results are combined pairwise by a binary counter (two totals of 2^j blocks are
 *     combined as soon as both exist; what is left at the end is combined from the smallest
 *     part up).
 * A sum thus adds at most DEPTH terms in a row into one accumulator, then 5 + log2(n /
 * BLOCK_TERMS) levels of pairs: its error grows like (DEPTH + log2 n) u, not n u (summed one
 * term at a time, 2^26 copies of 0.1f come to 2.1e6 instead of 6.7e6).
 *
 * Paths, all computing that order:
 *   - reduced dim contiguous: the lanes are one vector loop;
 *   - outputs contiguous in the input (a sum over dim 0 of a row-major matrix): a block of up to
 *     BLOCK outputs advances together, lane by lane, each step a vector loop over a row; its lane
 *     and pairwise rows are scratch from the storage cache (not the stack: callers' threads may
 *     have small stacks). Without scratch each output is reduced on its own, as below;
 *   - otherwise: a scalar loop along the reduced dim's stride (any stride, 0 included).
 * Work is spread over outputs (each output on one thread); when there are fewer outputs than
 * threads, the pieces of each output are spread instead. A piece is a power-of-two number of
 * blocks, so combining the pieces' results with the same binary counter gives exactly the
 * blocks' pairwise tree: the result is bitwise the same either way. This is how sum_all of a
 * large tensor, or a sum over the long dim of a (70000, 3) tensor, uses every core. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernel_trace.h"
#include "kernels/kernels.h"
#include "kernels/layout.h"
#include "kernels/scalar_ops.h"
#include "runtime/alloc.h"
#include "runtime/runtime.h"

#define WORK_PER_THREAD 65536 /* terms; measured: 2 threads pay off from ~128K terms */
#define WORK_PER_ITEM 65536   /* terms per work item when spreading outputs over threads */
#define LANES 32
#define DEPTH 128
#define BLOCK_TERMS (LANES * DEPTH)
#define CHUNK (16 * BLOCK_TERMS)  /* a piece of a contiguous vector: 16 blocks */
#define ROW_CHUNK BLOCK_TERMS     /* a piece of a block of outputs: one block of rows */
#define BLOCK 1024                /* outputs advancing together in the blocked path */
#define ROUND 8 /* pieces computed in parallel per round */
#define SHORT 8 /* vectors this short are reduced in order, without lanes */
#define MAX_LEVELS 64

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

static int bit_length(int64_t v)
{
    int bits = 0;
    for (; v > 0; v >>= 1) bits++;
    return bits;
}

/* ---- one output: n terms a[0], a[stride], ... ---- */

static float reduce_in_order(mti_reduce_op op, const float *a, int64_t n, int64_t stride)
{
    float acc = a[0];
#define LOOP(F) for (int64_t j = 1; j < n; j++) acc = F(acc, a[j * stride])
    switch (op) { REDUCE_CASES; }
#undef LOOP
    return acc;
}

/* One block of len (<= BLOCK_TERMS) terms: lanes, then the lane tree. Contiguous terms: the
 * lanes are one vector loop. */
static float reduce_block_contiguous(mti_reduce_op op, const float *a, int64_t len)
{
    float acc[LANES];
    const float init = start_value(op);
    for (int k = 0; k < LANES; k++) acc[k] = init;
    int64_t i = 0;
#define LOOP(F)                                                                                   \
    for (; i + LANES <= len; i += LANES)                                                          \
        _Pragma("omp simd") for (int k = 0; k < LANES; k++) acc[k] = F(acc[k], a[i + k]);         \
    for (int k = 0; i + k < len; k++) acc[k] = F(acc[k], a[i + k]);                               \
    for (int width = LANES / 2; width >= 1; width /= 2)                                           \
        _Pragma("omp simd") for (int k = 0; k < width; k++) acc[k] = F(acc[k], acc[k + width])
    switch (op) { REDUCE_CASES; }
#undef LOOP
    return acc[0];
}

/* The same for terms `stride` apart (any stride, 0 included). */
static float reduce_block_strided(mti_reduce_op op, const float *a, int64_t len, int64_t stride)
{
    float acc[LANES];
    const float init = start_value(op);
    for (int k = 0; k < LANES; k++) acc[k] = init;
    int64_t i = 0;
#define LOOP(F)                                                                                   \
    for (; i + LANES <= len; i += LANES)                                                          \
        for (int k = 0; k < LANES; k++) acc[k] = F(acc[k], a[(i + k) * stride]);                 \
    for (int k = 0; i + k < len; k++) acc[k] = F(acc[k], a[(i + k) * stride])
    switch (op) { REDUCE_CASES; }
#undef LOOP
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; k++) acc[k] = apply(op, acc[k], acc[k + width]);
    return acc[0];
}

static float reduce_block(mti_reduce_op op, const float *a, int64_t len, int64_t stride)
{
    return stride == 1 ? reduce_block_contiguous(op, a, len) : reduce_block_strided(op, a, len, stride);
}

/* The binary counter over block results, for one output. */
typedef struct pairwise {
    float level[MAX_LEVELS];
    int64_t count;
} pairwise;

static void pairwise_add(mti_reduce_op op, pairwise *s, float v)
{
    int l = 0;
    for (int64_t c = ++s->count; !(c & 1); c >>= 1, l++) v = apply(op, s->level[l], v);
    s->level[l] = v;
}

static float pairwise_total(mti_reduce_op op, const pairwise *s)
{
    float v = 0.0f;
    bool any = false;
    for (int l = 0; (s->count >> l) != 0; l++)
        if ((s->count >> l) & 1) {
            v = any ? apply(op, s->level[l], v) : s->level[l];
            any = true;
        }
    return v;
}

/* n >= 1 terms in blocks (whatever n: also how a piece of a longer vector is reduced). */
static float reduce_blocks(mti_reduce_op op, const float *a, int64_t n, int64_t stride)
{
    if (n <= BLOCK_TERMS) return reduce_block(op, a, n, stride);
    pairwise s = {.count = 0};
    for (int64_t i0 = 0; i0 < n; i0 += BLOCK_TERMS)
        pairwise_add(op, &s, reduce_block(op, a + i0 * stride, n - i0 < BLOCK_TERMS ? n - i0 : BLOCK_TERMS, stride));
    return pairwise_total(op, &s);
}

static float reduce_vector(mti_reduce_op op, const float *a, int64_t n, int64_t stride)
{
    return n <= SHORT ? reduce_in_order(op, a, n, stride) : reduce_blocks(op, a, n, stride);
}

/* ---- the order in pieces (kernels.h) ---- */

_Static_assert(MTI_REDUCE_BLOCK_TERMS == BLOCK_TERMS, "kernels.h describes reduce.c's blocks");

float mti_reduce_terms(mti_reduce_op op, const float *a, int64_t n)
{
    return reduce_vector(op, a, n, 1);
}

float mti_reduce_block(mti_reduce_op op, const float *a, int64_t len)
{
    return reduce_block(op, a, len, 1);
}

float mti_reduce_blocks_total(mti_reduce_op op, const float *results, int64_t count)
{
    pairwise s = {.count = 0};
    for (int64_t i = 0; i < count; i++) pairwise_add(op, &s, results[i]);
    return pairwise_total(op, &s);
}

/* ---- a block of `count` outputs whose inputs are contiguous: rows of the reduced dim ---- */

/* dst[k] = first[k] op second[k] */
static void combine_rows(mti_reduce_op op, float *dst, const float *first, const float *second,
                         int64_t count)
{
#define LOOP(F) _Pragma("omp simd") for (int64_t k = 0; k < count; k++) dst[k] = F(first[k], second[k])
    switch (op) { REDUCE_CASES; }
#undef LOOP
}

/* Rows [j0, j1) (at most BLOCK_TERMS) reduced as one block; the result in lanes[0 .. count).
 * lanes: LANES rows of count floats. Lanes that get no term are left out of the tree: combining
 * with a start value changes nothing (x + 0 = x, as a lane sum is never -0; x * 1 = x;
 * max(x, -inf) = x), so this is the same arithmetic as the single-vector paths. */
static void block_rows(mti_reduce_op op, float *lanes, const float *a, int64_t count, int64_t j0,
                       int64_t j1, int64_t stride)
{
    const float init = start_value(op);
    const int used = j1 - j0 < LANES ? (int)(j1 - j0) : LANES;
    for (int lane = 0; lane < used; lane++) {
        float *acc = lanes + lane * count;
        for (int64_t k = 0; k < count; k++) acc[k] = init;
        int64_t j = j0 + lane;
        /* four of the lane's rows per pass over acc, still taken in order */
#define LOOP(F)                                                                                   \
    for (; j + 3 * LANES < j1; j += 4 * LANES) {                                                  \
        const float *r0 = a + j * stride, *r1 = r0 + LANES * stride, *r2 = r1 + LANES * stride,   \
                    *r3 = r2 + LANES * stride;                                                    \
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++)                                   \
            acc[k] = F(F(F(F(acc[k], r0[k]), r1[k]), r2[k]), r3[k]);                              \
    }                                                                                             \
    for (; j < j1; j += LANES) {                                                                  \
        const float *row = a + j * stride;                                                        \
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++) acc[k] = F(acc[k], row[k]);       \
    }
        switch (op) { REDUCE_CASES; }
#undef LOOP
    }
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int lane = 0; lane + width < used && lane < width; lane++)
            combine_rows(op, lanes + lane * count, lanes + lane * count,
                         lanes + (lane + width) * count, count);
}

/* The binary counter over rows of `width` results: adds row (overwritten) as result number
 * `number` (1-based). levels: bit_length(total results) rows. */
static void rows_add(mti_reduce_op op, float *levels, int64_t width, int64_t number, float *row)
{
    int l = 0;
    for (int64_t c = number; !(c & 1); c >>= 1, l++) combine_rows(op, row, levels + l * width, row, width);
    memcpy(levels + l * width, row, sizeof(float) * (size_t)width);
}

/* The counter's total after `number` results, into o[k * os]; row is scratch. */
static void rows_total(mti_reduce_op op, float *o, int64_t os, const float *levels, int64_t width,
                       int64_t number, float *row)
{
    bool any = false;
    for (int l = 0; (number >> l) != 0; l++)
        if ((number >> l) & 1) {
            if (any) combine_rows(op, row, levels + l * width, row, width);
            else memcpy(row, levels + l * width, sizeof(float) * (size_t)width);
            any = true;
        }
    for (int64_t k = 0; k < width; k++) o[k * os] = row[k];
}

/* Floats of scratch the blocked path needs for `count` outputs over n rows: the lanes (whose
 * first row also carries results) and the pairwise levels. */
static size_t rows_scratch(int64_t count, int64_t n)
{
    return (size_t)(LANES + bit_length((n + BLOCK_TERMS - 1) / BLOCK_TERMS)) * (size_t)count;
}

/* `count` outputs over n rows, with rows_scratch(count, n) floats of scratch. */
static void reduce_rows(mti_reduce_op op, float *o, int64_t os, const float *a, int64_t count,
                        int64_t n, int64_t stride, float *scratch)
{
    float *lanes = scratch, *levels = scratch + LANES * count;
    if (n <= SHORT) { /* in order */
        memcpy(lanes, a, sizeof(float) * (size_t)count);
        for (int64_t j = 1; j < n; j++) combine_rows(op, lanes, lanes, a + j * stride, count);
        for (int64_t k = 0; k < count; k++) o[k * os] = lanes[k];
        return;
    }
    int64_t blocks = 0;
    for (int64_t j0 = 0; j0 < n; j0 += BLOCK_TERMS) {
        block_rows(op, lanes, a, count, j0, n - j0 < BLOCK_TERMS ? n : j0 + BLOCK_TERMS, stride);
        if (n <= BLOCK_TERMS) break;
        rows_add(op, levels, count, ++blocks, lanes);
    }
    if (n <= BLOCK_TERMS)
        for (int64_t k = 0; k < count; k++) o[k * os] = lanes[k];
    else
        rows_total(op, o, os, levels, count, blocks, lanes);
}

/* ---- pieces: a long reduction split over threads ---- */

typedef struct piece_job {
    mti_reduce_op op;
    const float *a;
    int64_t n, stride, count; /* count > 0: a block of outputs (pieces of ROW_CHUNK rows); 0: one
                                 contiguous vector (pieces of CHUNK terms) */
    int64_t first;            /* first piece of this round */
    float *partial;           /* ROUND results (rows of count when count > 0) */
    float *lanes;             /* count > 0: LANES x count floats per thread */
    int threads;
} piece_job;

static void compute_pieces(void *context, int64_t begin, int64_t end)
{
    const piece_job *job = context;
    for (int64_t p = begin; p < end; p++) {
        int64_t piece = job->first + p;
        if (job->count > 0) {
            float *lanes = job->lanes + (size_t)mti_thread_slot() * LANES * (size_t)job->count;
            int64_t j0 = piece * ROW_CHUNK, j1 = j0 + ROW_CHUNK < job->n ? j0 + ROW_CHUNK : job->n;
            block_rows(job->op, lanes, job->a, job->count, j0, j1, job->stride);
            memcpy(job->partial + p * job->count, lanes, sizeof(float) * (size_t)job->count);
        } else {
            int64_t i0 = piece * CHUNK, len = job->n - i0 < CHUNK ? job->n - i0 : CHUNK;
            job->partial[p] = reduce_blocks(job->op, job->a + i0, len, 1);
        }
    }
}

/* One contiguous vector (count == 0) or one block of `count` outputs, its pieces computed on
 * `threads` threads a round at a time and combined by the binary counter. n > 2 pieces. */
static void fold_pieces(mti_reduce_op op, float *o, int64_t os, const float *a, int64_t count,
                        int64_t n, int64_t stride, int threads)
{
    const int64_t piece_len = count > 0 ? ROW_CHUNK : CHUNK;
    const int64_t pieces = (n + piece_len - 1) / piece_len;
    piece_job job = {op, a, n, stride, count, 0, NULL, NULL, threads};
    float partial[ROUND] = {0}, levels[MAX_LEVELS] = {0}, row[1] = {0};
    float *scratch = NULL, *rows_levels = levels, *carry = row;
    size_t capacity = 0;
    const int64_t width = count > 0 ? count : 1;
    if (count > 0) { /* partial rows, per-thread lanes, levels and a carry row */
        size_t floats = (size_t)count * (ROUND + (size_t)threads * LANES + (size_t)bit_length(pieces) + 1);
        scratch = mti_buffer_alloc(sizeof(float) * floats, &capacity);
        if (!scratch) { /* each output on its own: the same order, no scratch */
            for (int64_t k = 0; k < count; k++) o[k * os] = reduce_vector(op, a + k, n, stride);
            return;
        }
        job.partial = scratch;
        job.lanes = scratch + ROUND * count;
        rows_levels = job.lanes + (size_t)threads * LANES * (size_t)count;
        carry = rows_levels + bit_length(pieces) * count;
    } else {
        job.partial = partial;
    }
    for (job.first = 0; job.first < pieces; job.first += ROUND) {
        int64_t round = pieces - job.first < ROUND ? pieces - job.first : ROUND;
        mti_parallel_ranges(threads < round ? threads : (int)round, round, compute_pieces, &job);
        for (int64_t p = 0; p < round; p++) {
            memcpy(carry, job.partial + p * width, sizeof(float) * (size_t)width);
            rows_add(op, rows_levels, width, job.first + p + 1, carry);
        }
    }
    rows_total(op, o, os, rows_levels, width, pieces, carry);
    if (scratch) mti_buffer_free(scratch, capacity);
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
    float *scratch = NULL;
    size_t capacity = 0;
    if (job->blocked) scratch = mti_buffer_alloc(sizeof(float) * rows_scratch(BLOCK, job->n), &capacity);
    mti_cursor c;
    mti_cursor_seek(l, &c, item);
    for (; item < end; item++, mti_cursor_next(l, &c)) {
        float *o = mti_cursor_ptr(l, &c, 0);
        const float *a = mti_cursor_ptr(l, &c, 1);
        int64_t length = mti_cursor_length(l, &c);
        if (job->blocked && scratch)
            reduce_rows(job->op, o, os, a, length, job->n, job->stride, scratch);
        else /* one output at a time (the blocked path without scratch: same order) */
            for (int64_t i = 0; i < length; i++)
                o[i * os] = reduce_vector(job->op, a + i * as, job->n, job->stride);
    }
    if (scratch) mti_buffer_free(scratch, capacity);
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
