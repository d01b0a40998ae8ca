/* Replaying a plan: kernel calls straight to the captured backend's functions (a product with its
 * activation epilogue), hooks on their live owners, fused groups as one tiled pass (each op's own
 * row loop over each piece of an item, intermediates in tile buffers, a final reduction on the
 * item's values). */
#include <stdio.h>
#include <string.h>

#include "plan/plan_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"

/* Below this much work per thread a parallel region costs more than it saves (as the kernels). */
#define WORK_PER_THREAD 65536

typedef struct fused_job {
    const mt_plan *plan;
    const mti_instr *in;
} fused_job;

/* One item: every op over the item's elements, in pieces of PIECE elements (all ops over a piece,
 * then the next piece), so a compute-bound op (sigmoid's exp) and the memory-bound ones after it
 * (reading y and z, writing the result) interleave finely, as in one hand-written loop, instead
 * of taking their times one after the other over the whole item. Each element still goes
 * through the same instructions (PIECE is a multiple of the staged ops' 64-element stage, and
 * the plain ops work element by element), so results do not change. */
#define PIECE 256

static void run_item(const mti_instr *in, float *tiles, int64_t item)
{
    float *p[MTI_PLAN_MAX_FUSED][3];
    int64_t s[MTI_PLAN_MAX_FUSED][3], n = 0;
    for (int i = 0; i < in->op_count; i++) {
        const mti_fused_op *op = &in->ops[i];
        const mti_layout *l = &op->layout;
        mti_cursor c;
        mti_cursor_seek(l, &c, item);
        n = mti_cursor_length(l, &c);
        for (int k = 0; k < (op->zip ? 3 : 2); k++) {
            if (op->slot[k] >= 0) {
                p[i][k] = tiles + op->slot[k] * in->tile_len;
                s[i][k] = 1;
            } else {
                p[i][k] = mti_cursor_ptr(l, &c, k);
                s[i][k] = l->strides[k][l->ndim - 1];
            }
        }
    }
    for (int64_t first = 0; first < n; first += PIECE) {
        const int64_t len = n - first < PIECE ? n - first : PIECE;
        for (int i = 0; i < in->op_count; i++) {
            const mti_fused_op *op = &in->ops[i];
            if (op->zip)
                mti_naive_zip_row((mti_zip_op)op->op, op->params, p[i][0] + first * s[i][0], s[i][0],
                                  p[i][1] + first * s[i][1], s[i][1], p[i][2] + first * s[i][2],
                                  s[i][2], len);
            else
                mti_naive_map_row((mti_unary_op)op->op, op->params, p[i][0] + first * s[i][0],
                                  s[i][0], p[i][1] + first * s[i][1], s[i][1], len);
        }
    }
    if (in->reduces) { /* the item's terms: in the tile or in memory */
        const float *terms = p[in->op_count - 1][0];
        in->results[item] = in->items_per_output == 1 ? mti_reduce_terms(in->reduce_op, terms, n)
                                                      : mti_reduce_block(in->reduce_op, terms, n);
    }
}

/* After the pass: each output of the reduction from its items' results, written to its place
 * (output number r counts the reduced input's rows in row-major order). */
static void finish_reduction(const mti_instr *in)
{
    const mti_strided *out = &in->reduce_out;
    const int64_t outputs = in->items / in->items_per_output;
    for (int64_t r = 0; r < outputs; r++) {
        const float *results = in->results + r * in->items_per_output;
        const float v = in->items_per_output == 1
                            ? results[0]
                            : mti_reduce_blocks_total(in->reduce_op, results, in->items_per_output);
        int64_t offset = 0, rest = r;
        for (int d = out->ndim - 2; d >= 0; d--) {
            offset += rest % out->shape[d] * out->strides[d];
            rest /= out->shape[d];
        }
        out->data[offset] = v;
    }
}

/* Items [begin, end), claimed by whichever thread is free (the pool's chunks), each thread
 * with its own tile buffers. */
static void fused_items(void *context, int64_t begin, int64_t end)
{
    const fused_job *job = context;
    float *tiles = job->plan->tiles + (int64_t)mti_thread_slot() * job->plan->tile_floats_per_thread;
    for (int64_t item = begin; item < end; item++) run_item(job->in, tiles, item);
}

static void run_fused(const mt_plan *plan, const mti_instr *in)
{
    const bool tracing = mti_tracing();
    const double start = tracing ? mti_now_us() : 0;
    int threads = mti_threads_for(in->work, WORK_PER_THREAD);
    if (threads > plan->tile_threads) threads = plan->tile_threads;
    if (threads > in->items) threads = (int)in->items;
    if (threads < 1) threads = 1;
    fused_job job = {plan, in};
    mti_parallel_ranges(threads, in->items, fused_items, &job);
    if (in->reduces) finish_reduction(in);
    if (tracing) {
        char shape[MTI_SHAPE_TEXT], text[MTI_SHAPE_TEXT + 32];
        const mti_layout *l = &in->ops[0].layout;
        mti_format_shape(shape, sizeof shape, l->ndim, l->shape);
        snprintf(text, sizeof text, "items=%lld,layout=%s", (long long)in->items, shape);
        mti_trace_record(in->name, "fused", text, threads, mti_now_us() - start);
    }
}

static void fill_run(void *context, int64_t first, int64_t n, float *target, int64_t ts,
                     const float *source, int64_t ss)
{
    (void)first;
    (void)source;
    (void)ss;
    const float value = *(const float *)context;
    for (int64_t i = 0; i < n; i++) target[i * ts] = value;
}

static mt_status run_kernel(const mt_plan *plan, const mti_instr *in)
{
    const mti_rec_call *c = &in->call;
    const mti_strided *v = in->view;
    switch (c->kind) {
    case MTI_EVENT_MAP:
        plan->kernels->map((mti_unary_op)c->op, c->params, &v[0], &v[1]);
        return MT_OK;
    case MTI_EVENT_ZIP:
        plan->kernels->zip((mti_zip_op)c->op, c->params, &v[0], &v[1], &v[2]);
        return MT_OK;
    case MTI_EVENT_REDUCE:
        plan->kernels->reduce((mti_reduce_op)c->op, &v[0], &v[1], c->dim);
        return MT_OK;
    case MTI_EVENT_ZIP3:
        plan->kernels->zip3((mti_ternary_op)c->op, c->params, &v[0], &v[1], &v[2], &v[3]);
        return MT_OK;
    case MTI_EVENT_ROWS:
        plan->kernels->rows((mti_row_op)c->op, c->params, &v[0], &v[1], c->dim);
        return MT_OK;
    case MTI_EVENT_ROWS_BACKWARD:
        plan->kernels->rows_backward((mti_row_op)c->op, &v[0], &v[1], &v[2], c->dim);
        return MT_OK;
    case MTI_EVENT_NLL_SOFTMAX_BACKWARD: /* the incoming gradient as it is at this run */
        plan->kernels->nll_softmax_backward(&v[0], &v[1], &v[2], &v[3], v[4].data[0] * c->value);
        return MT_OK;
    case MTI_EVENT_MATMUL:
        return plan->kernels->matmul("mt_plan_run", &v[0], &v[1], &v[2],
                                     in->has_view[3] ? &v[3] : NULL, c->trans_a, c->trans_b,
                                     c->accumulate, in->has_epilogue ? &in->epilogue : NULL);
    case MTI_EVENT_FILL: {
        float value = c->value;
        mti_update_views(&v[0], NULL, fill_run, &value);
        return MT_OK;
    }
    case MTI_EVENT_HOOK:
        return mti_plan_hook_run(in->hook);
    case MTI_EVENT_UPDATE: {
        unsigned char context[MTI_UPDATE_CONTEXT_BYTES];
        memcpy(context, c->context, sizeof context);
        mti_update_views(&v[0], in->has_view[1] ? &v[1] : NULL, c->update, context);
        return MT_OK;
    }
    default:
        return mti_fail(MT_ERR_INVALID_ARG, "mt_plan_run", "unknown instruction %d", (int)c->kind);
    }
}

mt_status mt_plan_run(mt_plan *plan)
{
    static const char fn[] = "mt_plan_run";
    if (!plan) return mti_fail_null(fn, "plan");
    if (atomic_flag_test_and_set(&plan->running))
        return mti_fail(MT_ERR_SCOPE, fn, "the plan is already running on another thread");
    for (int i = 0; i < plan->held_count; i++)
        if (plan->held_checked[i] && mti_storage_refs(plan->held[i]) == 1) {
            atomic_flag_clear(&plan->running);
            return mti_fail(MT_ERR_INVALID_ARG, fn,
                            "a tensor bound at capture (storage %d of %d) has been released since; "
                            "capture again", i + 1, plan->held_count);
        }
    for (int i = 0; i < plan->instr_count; i++) {
        const mti_plan_hook *h = plan->instrs[i].hook;
        const char *stale = h ? mti_hook_stale(&h->desc) : NULL;
        if (stale) {
            atomic_flag_clear(&plan->running);
            return mti_fail(MT_ERR_INVALID_ARG, fn, "the step's %s cannot be replayed: %s; capture again",
                            h->desc.name, stale);
        }
    }
    mt_status status = MT_OK;
    for (int i = 0; i < plan->instr_count && status == MT_OK; i++) {
        const mti_instr *in = &plan->instrs[i];
        if (in->kind == MTI_INSTR_FUSED) run_fused(plan, in);
        else status = run_kernel(plan, in);
    }
    for (int i = 0; i < plan->held_count; i++)
        if (plan->held_written[i]) mti_storage_bump_version(plan->held[i]);
    atomic_flag_clear(&plan->running);
    return status;
}

void mt_plan_free(mt_plan *plan)
{
    if (!plan) return;
    if (plan->instrs)
        for (int i = 0; i < plan->instr_count; i++) {
            mti_free(plan->instrs[i].ops);
            mti_free(plan->instrs[i].name);
            mti_free(plan->instrs[i].results);
            mti_plan_hook_free(plan->instrs[i].hook);
        }
    mti_free(plan->instrs);
    for (int i = 0; i < plan->held_count; i++) mti_storage_release(plan->held[i]);
    mti_free(plan->held);
    mti_free(plan->held_written);
    mti_free(plan->held_checked);
    if (plan->arena) mti_buffer_free(plan->arena, plan->arena_capacity);
    if (plan->tiles) mti_buffer_free(plan->tiles, plan->tiles_capacity);
    mti_free(plan);
}

mt_status mt_plan_get_stats(const mt_plan *plan, mt_plan_stats *stats)
{
    if (!plan) return mti_fail_null("mt_plan_get_stats", "plan");
    if (!stats) return mti_fail_null("mt_plan_get_stats", "stats");
    *stats = plan->stats;
    return MT_OK;
}
