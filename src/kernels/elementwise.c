/* Naive backend: map and zip. Parallel over items of the canonical layout (kernels/layout.h);
 * the operation is chosen by a switch per row segment, so each inner loop below is a plain loop
 * with the scalar function inlined, and the contiguous ones vectorize (transcendentals through
 * libmvec). */
#include <stdio.h>

#include "kernels/kernels.h"
#include "kernels/layout.h"
#include "kernels/scalar_ops.h"
#include "runtime/runtime.h"

/* Below this much work per thread a parallel region costs more than it saves (measured by the
 * elementwise benchmark: a region costs a few microseconds on these machines). */
#define WORK_PER_THREAD 32768
/* exp, log and sigmoid cost about this many simple ops each. */
#define TRANSCENDENTAL_COST 8

#define UNARY_CASES(LOOP)                       \
    case MT_OP_NEG: LOOP(mti_neg_f); break;     \
    case MT_OP_ID: LOOP(mti_id_f); break;       \
    case MT_OP_SIGMOID: LOOP(mti_sigmoid_f); break; \
    case MT_OP_RELU: LOOP(mti_relu_f); break;   \
    case MT_OP_LOG: LOOP(mti_log_f); break;     \
    case MT_OP_EXP: LOOP(mti_exp_f); break;     \
    case MT_OP_INV: LOOP(mti_inv_f); break;     \
    default: break

#define BINARY_CASES(LOOP)                              \
    case MT_OP_ADD: LOOP(mti_add_f); break;             \
    case MT_OP_SUB: LOOP(mti_sub_f); break;             \
    case MT_OP_MUL: LOOP(mti_mul_f); break;             \
    case MT_OP_DIV: LOOP(mti_div_f); break;             \
    case MT_OP_LT: LOOP(mti_lt_f); break;               \
    case MT_OP_GT: LOOP(mti_gt_f); break;               \
    case MT_OP_EQ: LOOP(mti_eq_f); break;               \
    case MT_OP_IS_CLOSE: LOOP(mti_is_close_f); break;   \
    case MT_OP_RELU_BACK: LOOP(mti_relu_back_f); break; \
    case MT_OP_LOG_BACK: LOOP(mti_log_back_f); break;   \
    case MT_OP_INV_BACK: LOOP(mti_inv_back_f); break;   \
    case MT_OP_SIGMOID_BACK: LOOP(mti_sigmoid_back_f); break; \
    default: break

/* ---- inner loops: one row segment of n elements ---- */

static void map_row(mt_unary_op op, float *o, int64_t os, const float *a, int64_t as, int64_t n)
{
    if (os == 1 && as == 1) {
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(a[i])
        switch (op) { UNARY_CASES(LOOP); }
#undef LOOP
    } else {
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i * os] = F(a[i * as])
        switch (op) { UNARY_CASES(LOOP); }
#undef LOOP
    }
}

static void zip_row(mt_binary_op op, float *o, int64_t os, const float *a, int64_t as,
                    const float *b, int64_t bs, int64_t n)
{
    if (os == 1 && as == 1 && bs == 1) {
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(a[i], b[i])
        switch (op) { BINARY_CASES(LOOP); }
#undef LOOP
    } else if (os == 1 && as == 1 && bs == 0) { /* b broadcast along the row */
        const float bv = *b;
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(a[i], bv)
        switch (op) { BINARY_CASES(LOOP); }
#undef LOOP
    } else if (os == 1 && as == 0 && bs == 1) { /* a broadcast along the row */
        const float av = *a;
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(av, b[i])
        switch (op) { BINARY_CASES(LOOP); }
#undef LOOP
    } else {
#define LOOP(F) \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i * os] = F(a[i * as], b[i * bs])
        switch (op) { BINARY_CASES(LOOP); }
#undef LOOP
    }
}

/* ---- drivers ---- */

static const char *path_name(const mti_layout *l, int threads, int64_t work)
{
    bool aligned = l->ndim == 1 && !l->broadcast;
    for (int k = 0; k < l->count && aligned; k++) aligned = l->strides[k][0] == 1;
    bool small = threads == 1 && work < WORK_PER_THREAD * 2;
    if (aligned) return small ? "aligned/serial-small" : "aligned";
    if (l->broadcast) return small ? "broadcast/serial-small" : "broadcast";
    return small ? "strided/serial-small" : "strided";
}

static int64_t op_cost(mt_unary_op op)
{
    return (op == MT_OP_SIGMOID || op == MT_OP_LOG || op == MT_OP_EXP) ? TRANSCENDENTAL_COST : 1;
}

static void trace(const char *op, const mti_layout *l, int threads, int64_t work, double start,
                  int count, const mti_strided *const *views)
{
    static const char *const names[] = {"out", "a", "b"};
    char shapes[600];
    mti_trace_shapes(shapes, sizeof shapes, count, views, names);
    mti_trace_emit(op, path_name(l, threads, work), shapes, threads, mti_now_us() - start);
}

typedef struct elementwise_job {
    mti_layout layout;
    int op;
} elementwise_job;

static void map_items(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int64_t os = l->strides[0][l->ndim - 1], as = l->strides[1][l->ndim - 1];
    mti_cursor c;
    mti_cursor_seek(l, &c, item);
    for (; item < end; item++, mti_cursor_next(l, &c))
        map_row((mt_unary_op)job->op, mti_cursor_ptr(l, &c, 0), os, mti_cursor_ptr(l, &c, 1), as,
                mti_cursor_length(l, &c));
}

static void zip_items(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int64_t os = l->strides[0][l->ndim - 1], as = l->strides[1][l->ndim - 1],
                  bs = l->strides[2][l->ndim - 1];
    mti_cursor c;
    mti_cursor_seek(l, &c, item);
    for (; item < end; item++, mti_cursor_next(l, &c))
        zip_row((mt_binary_op)job->op, mti_cursor_ptr(l, &c, 0), os, mti_cursor_ptr(l, &c, 1), as,
                mti_cursor_ptr(l, &c, 2), bs, mti_cursor_length(l, &c));
}

/* Small operands laid out identically and densely: the whole operation is one contiguous row,
 * exactly what the general path would run, without building its layout. */
static bool small_and_dense(int count, const mti_strided *const *views, int64_t *numel)
{
    const mti_strided *out = views[0];
    int64_t n = 1;
    for (int d = 0; d < out->ndim; d++) n *= out->shape[d];
    if (n > MTI_SEGMENT || !mti_is_contiguous_layout(out->ndim, out->shape, out->strides)) return false;
    for (int k = 1; k < count; k++)
        for (int d = 0; d < out->ndim; d++)
            if (views[k]->strides[d] != out->strides[d] && out->shape[d] > 1) return false;
    *numel = n;
    return true;
}

void mti_naive_map(mt_unary_op op, const mti_strided *out, const mti_strided *in)
{
    const mti_strided *views[2] = {out, in};
    bool tracing = mti_tracing();
    int64_t numel;
    if (!tracing && small_and_dense(2, views, &numel)) {
        map_row(op, out->data, 1, in->data, 1, numel);
        return;
    }
    double start = tracing ? mti_now_us() : 0;
    elementwise_job job = {.op = op};
    mti_layout_init(&job.layout, 2, views, MTI_SEGMENT);
    const mti_layout *l = &job.layout;
    int64_t work = l->items / l->segments * l->inner * op_cost(op);
    int threads = mti_threads_for(work, WORK_PER_THREAD);
    if (threads > l->items) threads = (int)l->items;
    mti_parallel_ranges(threads, l->items, map_items, &job);
    if (tracing) trace(mti_unary_op_name(op), l, threads, work, start, 2, views);
}

void mti_naive_zip(mt_binary_op op, const mti_strided *out, const mti_strided *a,
                   const mti_strided *b)
{
    const mti_strided *views[3] = {out, a, b};
    bool tracing = mti_tracing();
    int64_t numel;
    if (!tracing && small_and_dense(3, views, &numel)) {
        zip_row(op, out->data, 1, a->data, 1, b->data, 1, numel);
        return;
    }
    double start = tracing ? mti_now_us() : 0;
    elementwise_job job = {.op = op};
    mti_layout_init(&job.layout, 3, views, MTI_SEGMENT);
    const mti_layout *l = &job.layout;
    int64_t work = l->items / l->segments * l->inner;
    int threads = mti_threads_for(work, WORK_PER_THREAD);
    if (threads > l->items) threads = (int)l->items;
    mti_parallel_ranges(threads, l->items, zip_items, &job);
    if (tracing) trace(mti_binary_op_name(op), l, threads, work, start, 3, views);
}
