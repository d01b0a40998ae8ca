/* Naive backend: reductions over one dim (sum, prod, max), shared by both backends.
 *
 * Determinism: every output is reduced by one fixed sequence of operations that depends only on
 * the shapes and strides, never on the thread count:
 *   - reduced dim contiguous: 32 interleaved partial results (so the loop vectorizes), combined in
 *     a fixed tree; vectors longer than CHUNK are cut into CHUNK-element pieces whose results are
 *     folded in order — those pieces may run on different threads (this is how sum_all of a large
 *     tensor uses every core);
 *   - otherwise: a plain serial loop over the reduced dim, in order. When the outputs are
 *     contiguous in the input (sum over dim 0 of a row-major matrix) a block of BLOCK outputs
 *     advances together, row by row, so memory is read in order. */
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/layout.h"
#include "kernels/scalar_ops.h"
#include "runtime/runtime.h"

#define WORK_PER_THREAD 32768
#define LANES 32
#define CHUNK 65536
#define BLOCK 64
#define MAX_PARALLEL_CHUNKS 1024

#define REDUCE_CASES(LOOP)                    \
    case MT_OP_SUM: LOOP(mti_add_f); break;   \
    case MT_OP_PROD: LOOP(mti_mul_f); break;  \
    default: LOOP(mti_max_f); break

static inline float apply(mt_reduce_op op, float acc, float x)
{
    switch (op) {
    case MT_OP_SUM: return acc + x;
    case MT_OP_PROD: return acc * x;
    default: return mti_max_f(acc, x);
    }
}

static float start_value(mt_reduce_op op)
{
    return op == MT_OP_SUM ? 0.0f : op == MT_OP_PROD ? 1.0f : -INFINITY;
}

/* Reduces n contiguous floats with LANES interleaved accumulators, combined as a tree. */
static float reduce_lanes(mt_reduce_op op, const float *a, int64_t n)
{
    float acc[LANES];
    const float init = start_value(op);
    for (int k = 0; k < LANES; k++) acc[k] = init;
    int64_t i = 0;
#define LOOP(F)                                                                \
    for (; i + LANES <= n; i += LANES)                                         \
        _Pragma("omp simd") for (int k = 0; k < LANES; k++) acc[k] = F(acc[k], a[i + k]); \
    for (int k = 0; i + k < n; k++) acc[k] = F(acc[k], a[i + k])
    switch (op) { REDUCE_CASES(LOOP); }
#undef LOOP
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; k++) acc[k] = apply(op, acc[k], acc[k + width]);
    return acc[0];
}

/* A contiguous vector of any length: CHUNK pieces folded in order. */
static float reduce_contiguous(mt_reduce_op op, const float *a, int64_t n)
{
    float acc = reduce_lanes(op, a, n < CHUNK ? n : CHUNK);
    for (int64_t i = CHUNK; i < n; i += CHUNK)
        acc = apply(op, acc, reduce_lanes(op, a + i, n - i < CHUNK ? n - i : CHUNK));
    return acc;
}

/* The same result as reduce_contiguous, with the pieces spread over threads. */
static float reduce_contiguous_parallel(mt_reduce_op op, const float *a, int64_t n, int threads)
{
    float partial[MAX_PARALLEL_CHUNKS];
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
    float acc = 0.0f;
    for (int64_t first = 0; first < chunks; first += MAX_PARALLEL_CHUNKS) {
        int64_t count = chunks - first < MAX_PARALLEL_CHUNKS ? chunks - first : MAX_PARALLEL_CHUNKS;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t c = 0; c < count; c++) {
            int64_t begin = (first + c) * CHUNK;
            partial[c] = reduce_lanes(op, a + begin, n - begin < CHUNK ? n - begin : CHUNK);
        }
        for (int64_t c = 0; c < count; c++) acc = first + c == 0 ? partial[0] : apply(op, acc, partial[c]);
    }
    return acc;
}

static float reduce_strided(mt_reduce_op op, const float *a, int64_t n, int64_t stride)
{
    float acc = a[0];
#define LOOP(F) for (int64_t j = 1; j < n; j++) acc = F(acc, a[j * stride])
    switch (op) { REDUCE_CASES(LOOP); }
#undef LOOP
    return acc;
}

/* `count` (<= BLOCK) neighbouring outputs whose inputs are contiguous, reduced row by row. */
static void reduce_block(mt_reduce_op op, float *o, int64_t os, const float *a, int64_t count,
                         int64_t n, int64_t stride)
{
    float acc[BLOCK];
    for (int64_t k = 0; k < count; k++) acc[k] = a[k];
#define LOOP(F)                                                                 \
    for (int64_t j = 1; j < n; j++) {                                           \
        const float *row = a + j * stride;                                      \
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++) acc[k] = F(acc[k], row[k]); \
    }
    switch (op) { REDUCE_CASES(LOOP); }
#undef LOOP
    for (int64_t k = 0; k < count; k++) o[k * os] = acc[k];
}

typedef struct reduce_job {
    mti_layout layout;
    mt_reduce_op op;
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
        if (job->blocked) {
            reduce_block(job->op, o, os, a, length, job->n, job->stride);
        } else if (job->contiguous) {
            for (int64_t i = 0; i < length; i++) o[i * os] = reduce_contiguous(job->op, a + i * as, job->n);
        } else {
            for (int64_t i = 0; i < length; i++)
                o[i * os] = reduce_strided(job->op, a + i * as, job->n, job->stride);
        }
    }
}

void mti_naive_reduce(mt_reduce_op op, const mti_strided *out, const mti_strided *in, int dim)
{
    bool tracing = mti_tracing();
    double start = tracing ? mti_now_us() : 0;
    reduce_job job = {.op = op, .n = in->shape[dim]};
    job.stride = job.n > 1 ? in->strides[dim] : 1;

    /* Iterate over the output positions: the input with the reduced dim collapsed to size 1. */
    mti_strided outer_in = *in;
    outer_in.shape[dim] = 1;
    const mti_strided *views[2] = {out, &outer_in};
    mti_layout *l = &job.layout;
    mti_layout_init(l, 2, views, MTI_SEGMENT);
    job.contiguous = job.stride == 1;
    job.blocked = !job.contiguous && l->strides[1][l->ndim - 1] == 1 && l->inner > 1;
    if (job.blocked) mti_layout_init(l, 2, views, BLOCK);

    const int64_t outputs = l->items / l->segments * l->inner, total = outputs * job.n;
    int threads = mti_threads_for(total, WORK_PER_THREAD);
    const char *path;
    if (job.contiguous && outputs < threads && job.n >= 2 * CHUNK) {
        /* Few long outputs (sum_all): split each one's pieces across the threads. */
        path = "contiguous-split";
        mti_cursor c;
        mti_cursor_seek(l, &c, 0);
        for (int64_t item = 0; item < l->items; item++, mti_cursor_next(l, &c)) {
            float *o = mti_cursor_ptr(l, &c, 0);
            const float *a = mti_cursor_ptr(l, &c, 1);
            for (int64_t i = 0; i < mti_cursor_length(l, &c); i++)
                o[i * l->strides[0][l->ndim - 1]] = reduce_contiguous_parallel(
                    op, a + i * l->strides[1][l->ndim - 1], job.n, threads);
        }
    } else {
        path = job.contiguous ? "contiguous" : job.blocked ? "blocked" : "strided";
        if (threads > l->items) threads = (int)l->items;
        mti_parallel_ranges(threads, l->items, reduce_items, &job);
    }
    if (tracing) {
        static const char *const names[] = {"out", "in"};
        const mti_strided *shown[2] = {out, in};
        char shapes[400];
        mti_trace_shapes(shapes, sizeof shapes, 2, shown, names);
        mti_trace_emit(mti_reduce_op_name(op), path, shapes, threads, mti_now_us() - start);
    }
}
