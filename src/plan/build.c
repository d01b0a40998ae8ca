/* From a record to a plan: fusion of elementwise chains, buffers for intermediates by liveness,
 * and every recorded pointer remapped to bound storage or a plan buffer. */
#include <string.h>

#include "minitorch/runtime.h"
#include "plan/plan_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"

/* Elements per item of a fused group: every op of the group runs over one item before the next
 * op starts, so an item's intermediates (a tile buffer each) should stay in L1. */
#define FUSED_TILE_LEN 2048

/* ---- operands ---- */

static bool is_elementwise(const mti_rec_call *c)
{
    return c->kind == MTI_EVENT_MAP || c->kind == MTI_EVENT_ZIP;
}

/* A call's operands: a hook has its own list. */
static int operand_count(const mti_rec_call *c)
{
    return c->hook ? c->hook->desc.count : c->views;
}
static const mti_rec_view *operand(const mti_rec_call *c, int k)
{
    return c->hook ? &c->hook->view[k] : &c->view[k];
}

/* Whether operand k of the call writes (the output; a hook: what it declares) / reads its store. */
static bool writes(const mti_rec_call *c, int k)
{
    if (c->hook) return (c->hook->access[k] & MTI_HOOK_WRITE) != 0;
    return k == 0;
}
static bool reads(const mti_rec_call *c, int k)
{
    if (c->hook) return (c->hook->access[k] & MTI_HOOK_READ) != 0;
    if (k > 0) return true;
    return c->kind == MTI_EVENT_UPDATE || (c->kind == MTI_EVENT_MATMUL && c->accumulate);
}

static bool same_view(const mti_rec_view *a, const mti_rec_view *b)
{
    if (a->store != b->store || a->offset != b->offset || a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d] || a->strides[d] != b->strides[d]) return false;
    return true;
}

static int64_t view_numel(const mti_rec_view *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

static mti_strided dummy_strided(const mti_rec_view *v)
{
    mti_strided s = {.data = NULL, .ndim = v->ndim};
    memcpy(s.shape, v->shape, sizeof s.shape);
    memcpy(s.strides, v->strides, sizeof s.strides);
    return s;
}

/* The iteration over the call's operands, cut into items of `segment` elements. */
static void call_layout(const mti_rec_call *c, mti_layout *l, int64_t segment)
{
    mti_strided v[3];
    const mti_strided *views[3];
    for (int k = 0; k < c->views; k++) {
        v[k] = dummy_strided(&c->view[k]);
        views[k] = &v[k];
    }
    mti_layout_init(l, c->views, views, segment);
}

static bool same_iteration(const mti_layout *a, const mti_layout *b)
{
    if (a->ndim != b->ndim || a->segments != b->segments || a->items != b->items) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d] || a->strides[0][d] != b->strides[0][d]) return false;
    return true;
}

/* ---- fusion: which consecutive elementwise calls run as one pass ---- */

/* Whether the (kernel) call uses the store through any operand. */
static bool touches(const mti_rec_call *c, int store)
{
    for (int k = 0; k < c->views; k++)
        if (c->view[k].store == store) return true;
    return false;
}

/* Whether no call of [first, last) touches the store of view v through a different view while
 * one of the two writes (a tile-by-tile pass would then read an element before it is written, or
 * after it is overwritten). */
static bool no_conflict(const mti_rec_call *calls, int first, int last, const mti_rec_call *c)
{
    for (int k = 0; k < c->views; k++)
        for (int i = first; i < last; i++)
            for (int j = 0; j < calls[i].views; j++) {
                const mti_rec_view *u = &c->view[k], *w = &calls[i].view[j];
                if (u->store == w->store && (writes(c, k) || writes(&calls[i], j)) && !same_view(u, w))
                    return false;
            }
    return true;
}

/* Call `next` may join the group [first, next): same output shape and strides, the same items
 * (so element k of item i is the same element for every call), an output whose rows are
 * contiguous, and no conflicting access (no_conflict). */
static bool joins(const mti_rec_call *calls, int first, int next)
{
    const mti_rec_call *c = &calls[next], *head = &calls[first];
    if (!is_elementwise(c)) return false;
    const mti_rec_view *o = &c->view[0], *ho = &head->view[0];
    if (o->ndim != ho->ndim) return false;
    for (int d = 0; d < o->ndim; d++)
        if (o->shape[d] != ho->shape[d] || o->strides[d] != ho->strides[d]) return false;
    mti_layout a, b;
    call_layout(head, &a, FUSED_TILE_LEN);
    call_layout(c, &b, FUSED_TILE_LEN);
    if (!same_iteration(&a, &b) || b.strides[0][b.ndim - 1] != 1) return false;
    return no_conflict(calls, first, next, c);
}

/* Elements per item of a group ending in a reduction of n terms per output: one output's terms
 * (n <= MTI_REDUCE_BLOCK_TERMS), else one block of them, as the reduce kernel cuts them. */
static int64_t reduce_segment(int64_t n)
{
    return n <= MTI_REDUCE_BLOCK_TERMS ? n : MTI_REDUCE_BLOCK_TERMS;
}

/* A reduction (call `next`) may end the elementwise group [first, next) when it reduces the last
 * op's output, as the whole contiguous memory that op wrote, over its last dim (n >= 2 terms per
 * output), and the group's items, cut at reduce_segment(n), fall exactly on its outputs (or
 * their blocks): then each item's values, still in the tile, can be reduced in the pass, in the
 * kernel's own order. Its output must be memory the group does not touch. */
static bool reduction_ends(const mti_rec_call *calls, int first, int next)
{
    const mti_rec_call *c = &calls[next], *last = &calls[next - 1];
    if (c->kind != MTI_EVENT_REDUCE) return false;
    const mti_rec_view *in = &c->view[1], *lo = &last->view[0];
    if (in->store != lo->store || in->offset != lo->offset || view_numel(in) != view_numel(lo) ||
        !mti_is_contiguous_layout(in->ndim, in->shape, in->strides) ||
        !mti_is_contiguous_layout(lo->ndim, lo->shape, lo->strides) || c->dim != in->ndim - 1)
        return false;
    const int64_t n = in->shape[c->dim], numel = view_numel(in);
    if (n < 2) return false;
    for (int i = first; i < next; i++)
        if (touches(&calls[i], c->view[0].store)) return false;
    mti_layout l;
    call_layout(&calls[first], &l, reduce_segment(n));
    const int64_t per_output = (n + reduce_segment(n) - 1) / reduce_segment(n);
    return l.items == numel / n * per_output;
}

/* A matrix product (call `first`) takes the map after it (call first + 1) as its epilogue when
 * the map reads the product's output exactly and writes memory laid out like it (the same shape
 * and strides: the same offsets), that no operand of the product touches. */
static bool epilogue_follows(const mti_rec_call *calls, int count, int first)
{
    if (first + 1 >= count) return false;
    const mti_rec_call *m = &calls[first], *map = &calls[first + 1];
    if (m->kind != MTI_EVENT_MATMUL || map->kind != MTI_EVENT_MAP) return false;
    const mti_rec_view *out = &m->view[0], *in = &map->view[1], *act = &map->view[0];
    if (!same_view(out, in) || act->ndim != out->ndim) return false;
    for (int d = 0; d < out->ndim; d++)
        if (act->shape[d] != out->shape[d] || act->strides[d] != out->strides[d]) return false;
    if (touches(m, act->store)) return false;
    return true;
}

/* ---- building ---- */

typedef struct store_use {
    int first_instr, last_instr;
    int first_call;
    bool first_is_write;
    bool one_group; /* every access inside one fused group */
    int group;      /* that group's instruction */
    bool whole;     /* the first write covers the storage densely from offset 0 */
    int slot;       /* tile slot when kept in tile buffers, else -1 */
    int buffer;     /* plan buffer of a temp in memory, else -1 */
} store_use;

typedef struct buffer {
    int64_t floats;
    int busy_until;
    int64_t offset;
} buffer;

typedef struct builder {
    const char *fn;
    mti_record *r;
    mt_plan *plan;
    int *instr_of_call;  /* instruction index of each call */
    int *group_first;    /* per instruction: its first call */
    int *group_size;     /* per instruction: calls in it */
    store_use *use;
    buffer *buffers;
    int buffer_count;
} builder;

static mt_status no_memory(const char *fn)
{
    return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the plan");
}

/* A scalar operand (mt_add_scalar's constant) is a fill recorded between the chain's calls; it
 * would cut the chain in two (or a product from the activation after it). Each fill moves back
 * before the elementwise calls and products in front of it that do not touch its store: the
 * same writes in the same order for every element. */
static void hoist_fills(mti_record *r)
{
    for (int k = 1; k < r->call_count; k++) {
        if (r->calls[k].kind != MTI_EVENT_FILL) continue;
        const int store = r->calls[k].view[0].store;
        for (int j = k; j > 0; j--) {
            const mti_rec_call *before = &r->calls[j - 1];
            if (!(is_elementwise(before) || before->kind == MTI_EVENT_MATMUL) || touches(before, store)) break;
            const mti_rec_call fill = r->calls[j];
            r->calls[j] = r->calls[j - 1];
            r->calls[j - 1] = fill;
        }
    }
}

static void group_calls(builder *b)
{
    const mti_record *r = b->r;
    int instr = 0;
    for (int i = 0; i < r->call_count;) {
        int end = i + 1;
        if (is_elementwise(&r->calls[i])) {
            while (end < r->call_count && end - i < MTI_PLAN_MAX_FUSED && joins(r->calls, i, end)) end++;
            if (end < r->call_count && reduction_ends(r->calls, i, end)) end++;
        } else if (epilogue_follows(r->calls, r->call_count, i)) {
            end++;
        }
        b->group_first[instr] = i;
        b->group_size[instr] = end - i;
        for (int k = i; k < end; k++) b->instr_of_call[k] = instr;
        instr++;
        i = end;
    }
    b->plan->instr_count = instr;
}

static void find_uses(builder *b)
{
    const mti_record *r = b->r;
    for (int s = 0; s < r->store_count; s++)
        b->use[s] = (store_use){.first_instr = -1, .slot = -1, .buffer = -1, .one_group = true};
    for (int i = 0; i < r->call_count; i++) {
        const mti_rec_call *c = &r->calls[i];
        const int instr = b->instr_of_call[i];
        /* a fused group (a product with its epilogue is not: both write memory) */
        const bool fused = b->group_size[instr] > 1 && is_elementwise(&r->calls[b->group_first[instr]]);
        for (int k = 0; k < operand_count(c); k++) {
            const mti_rec_view *v = operand(c, k);
            if (v->store < 0) continue;
            store_use *u = &b->use[v->store];
            if (u->first_instr < 0) {
                const mti_store *st = &r->stores[v->store];
                u->first_instr = instr;
                u->first_call = i;
                u->first_is_write = writes(c, k) && !reads(c, k);
                u->group = instr;
                u->whole = v->offset == 0 && view_numel(v) == st->numel &&
                           mti_is_contiguous_layout(v->ndim, v->shape, v->strides);
            }
            u->last_instr = instr;
            if (!fused || u->group != instr) u->one_group = false;
            /* a reduction's output is finished in memory after its group's pass, not in a tile */
            if (c->kind == MTI_EVENT_REDUCE && k == 0) u->one_group = false;
        }
    }
}

/* Tile slots for temps used only inside one fused group, written there first as a whole. */
static void assign_slots(builder *b)
{
    int *slots = mti_calloc((size_t)b->plan->instr_count + 1, sizeof *slots);
    for (int s = 0; s < b->r->store_count; s++) {
        store_use *u = &b->use[s];
        if (b->r->stores[s].kind != MTI_STORE_TEMP || u->first_instr < 0) continue;
        if (u->one_group && u->first_is_write && u->whole && slots) {
            u->slot = slots[u->group]++;
            b->plan->stats.tile_values++;
        }
    }
    mti_free(slots);
}

/* Buffers by liveness: temps in order of first use, each into the smallest free buffer that fits
 * (else the largest free one, grown; else a new one). A buffer is free for a temp when its last
 * occupant's last instruction comes before the temp's first (fused groups are one instruction,
 * so values inside a group never share memory). */
static mt_status assign_buffers(builder *b)
{
    const mti_record *r = b->r;
    b->buffers = mti_calloc((size_t)r->store_count + 1, sizeof *b->buffers);
    if (!b->buffers) return no_memory(b->fn);
    for (int instr = 0; instr < b->plan->instr_count; instr++)
        for (int s = 0; s < r->store_count; s++) {
            store_use *u = &b->use[s];
            if (r->stores[s].kind != MTI_STORE_TEMP || u->first_instr != instr || u->slot >= 0) continue;
            const int64_t need = (r->stores[s].numel + 15) / 16 * 16; /* 64-byte multiples */
            int best = -1, largest = -1;
            for (int k = 0; k < b->buffer_count; k++) {
                buffer *f = &b->buffers[k];
                if (f->busy_until >= instr) continue;
                if (f->floats >= need && (best < 0 || f->floats < b->buffers[best].floats)) best = k;
                if (largest < 0 || f->floats > b->buffers[largest].floats) largest = k;
            }
            if (best < 0) best = largest;
            if (best < 0) best = b->buffer_count++;
            if (b->buffers[best].floats < need) b->buffers[best].floats = need;
            b->buffers[best].busy_until = u->last_instr;
            u->buffer = best;
        }
    int64_t total = 0;
    for (int k = 0; k < b->buffer_count; k++) {
        b->buffers[k].offset = total;
        total += b->buffers[k].floats;
    }
    b->plan->stats.buffer_bytes = total * (int64_t)sizeof(float);
    if (total > 0) {
        b->plan->arena = mti_buffer_alloc((size_t)total * sizeof(float), &b->plan->arena_capacity);
        if (!b->plan->arena) return no_memory(b->fn);
    }
    return MT_OK;
}

static float *resolve(const builder *b, int store, int64_t offset)
{
    const mti_store *st = &b->r->stores[store];
    if (st->kind != MTI_STORE_TEMP) return st->base + offset;
    const store_use *u = &b->use[store];
    return b->plan->arena + b->buffers[u->buffer].offset + offset;
}

static mti_strided resolved_view(const builder *b, const mti_rec_view *v)
{
    mti_strided s = dummy_strided(v);
    s.data = resolve(b, v->store, v->offset);
    return s;
}

/* The reduction that ends a group (the group's last call): its view into the plan's memory and
 * a result per item. */
static mt_status build_reduction(builder *b, mti_instr *in, const mti_rec_call *c)
{
    in->reduces = true;
    in->reduce_op = (mti_reduce_op)c->op;
    in->reduce_n = c->view[1].shape[c->dim];
    in->items_per_output = (in->reduce_n + reduce_segment(in->reduce_n) - 1) / reduce_segment(in->reduce_n);
    in->reduce_out = resolved_view(b, &c->view[0]);
    in->results = mti_malloc(sizeof(float) * (size_t)(in->items + 1));
    if (!in->results) return no_memory(b->fn);
    in->work += in->items * in->tile_len;
    strcat(in->name, "+");
    strncat(in->name, mti_reduce_name(in->reduce_op), 20);
    return MT_OK;
}

static mt_status build_fused(builder *b, mti_instr *in, int first, int count)
{
    const mti_rec_call *last = &b->r->calls[first + count - 1];
    const bool reduces = last->kind == MTI_EVENT_REDUCE;
    const int elementwise = reduces ? count - 1 : count;
    const int64_t segment = reduces ? reduce_segment(last->view[1].shape[last->dim]) : FUSED_TILE_LEN;
    in->kind = MTI_INSTR_FUSED;
    in->ops = mti_calloc((size_t)elementwise, sizeof *in->ops);
    in->name = mti_malloc((size_t)count * 24 + 8);
    if (!in->ops || !in->name) return no_memory(b->fn);
    in->op_count = elementwise;
    strcpy(in->name, "fused:");
    for (int i = 0; i < elementwise; i++) {
        const mti_rec_call *c = &b->r->calls[first + i];
        mti_fused_op *op = &in->ops[i];
        op->zip = c->kind == MTI_EVENT_ZIP;
        op->op = c->op;
        op->params = c->params;
        mti_strided v[3];
        const mti_strided *views[3];
        for (int k = 0; k < c->views; k++) {
            const store_use *u = &b->use[c->view[k].store];
            op->slot[k] = u->slot;
            if (u->slot >= 0 && u->slot + 1 > in->slots) in->slots = u->slot + 1;
            v[k] = u->slot >= 0 ? dummy_strided(&c->view[k]) : resolved_view(b, &c->view[k]);
            views[k] = &v[k];
        }
        mti_layout_init(&op->layout, c->views, views, segment);
        const int cost = op->zip ? mti_zip_cost((mti_zip_op)c->op) : mti_unary_cost((mti_unary_op)c->op);
        in->work += op->layout.items / op->layout.segments * op->layout.inner * cost;
        const char *name = op->zip ? mti_zip_name((mti_zip_op)c->op) : mti_unary_name((mti_unary_op)c->op);
        strncat(in->name, name, 20);
        if (i + 1 < elementwise) strcat(in->name, "+");
    }
    const mti_layout *l = &in->ops[0].layout;
    in->items = l->items;
    in->tile_len = l->inner < l->segment ? l->inner : l->segment;
    if (reduces) {
        mt_status status = build_reduction(b, in, last);
        if (status != MT_OK) return status;
    }
    const int64_t floats = in->slots * in->tile_len;
    if (floats > b->plan->tile_floats_per_thread) b->plan->tile_floats_per_thread = floats;
    b->plan->stats.fused_groups++;
    b->plan->stats.fused_calls += count;
    return MT_OK;
}

/* A hook: an instruction of its own, its operands resolved like a kernel's. */
static mt_status build_hook(builder *b, mti_instr *in, const mti_rec_hook *h)
{
    in->hook = mti_plan_hook_new(h);
    if (!in->hook) return no_memory(b->fn);
    for (int k = 0; k < h->desc.count; k++) {
        if (h->view[k].store < 0) continue;
        in->hook->views[k] = resolved_view(b, &h->view[k]);
        in->hook->pointers[k] = &in->hook->views[k];
    }
    return MT_OK;
}

static mt_status build_instructions(builder *b)
{
    mt_plan *plan = b->plan;
    plan->instrs = mti_calloc((size_t)plan->instr_count + 1, sizeof *plan->instrs);
    if (!plan->instrs) return no_memory(b->fn);
    for (int instr = 0; instr < plan->instr_count; instr++) {
        mti_instr *in = &plan->instrs[instr];
        const int first = b->group_first[instr], count = b->group_size[instr];
        if (count > 1 && is_elementwise(&b->r->calls[first])) {
            mt_status status = build_fused(b, in, first, count);
            if (status != MT_OK) return status;
            continue;
        }
        in->kind = MTI_INSTR_KERNEL;
        in->call = b->r->calls[first];
        in->call.hook = NULL; /* the record's, freed with it */
        if (b->r->calls[first].hook) {
            mt_status status = build_hook(b, in, b->r->calls[first].hook);
            if (status != MT_OK) return status;
            continue;
        }
        for (int k = 0; k < in->call.views; k++) {
            in->has_view[k] = in->call.view[k].store >= 0;
            if (in->has_view[k]) in->view[k] = resolved_view(b, &in->call.view[k]);
        }
        if (count == 2) { /* a product and its epilogue (epilogue_follows) */
            const mti_rec_call *map = &b->r->calls[first + 1];
            in->has_epilogue = true;
            in->epilogue = (mti_matmul_epilogue){.op = (mti_unary_op)map->op, .params = map->params,
                                                 .out = resolve(b, map->view[0].store, map->view[0].offset)};
            b->plan->stats.fused_groups++;
            b->plan->stats.fused_calls += 2;
        }
    }
    return MT_OK;
}

static mt_status hold_bound(builder *b)
{
    const mti_record *r = b->r;
    mt_plan *plan = b->plan;
    plan->held = mti_calloc((size_t)r->store_count + 1, sizeof *plan->held);
    plan->held_written = mti_calloc((size_t)r->store_count + 1, sizeof *plan->held_written);
    plan->held_checked = mti_calloc((size_t)r->store_count + 1, sizeof *plan->held_checked);
    if (!plan->held || !plan->held_written || !plan->held_checked) return no_memory(b->fn);
    for (int s = 0; s < r->store_count; s++) {
        if (r->stores[s].kind == MTI_STORE_TEMP) continue;
        mti_storage_retain(r->stores[s].storage);
        plan->held_written[plan->held_count] = r->stores[s].written;
        plan->held_checked[plan->held_count] = r->stores[s].kind == MTI_STORE_BOUND;
        plan->held[plan->held_count++] = r->stores[s].storage;
    }
    plan->stats.bound_storages = plan->held_count;
    return MT_OK;
}

static mt_status allocate_tiles(builder *b)
{
    mt_plan *plan = b->plan;
    plan->tile_threads = mt_get_num_threads() > 0 ? mt_get_num_threads() : 1;
    const int64_t floats = plan->tile_floats_per_thread * plan->tile_threads;
    plan->stats.tile_bytes = floats * (int64_t)sizeof(float);
    if (floats == 0) return MT_OK;
    plan->tiles = mti_buffer_alloc((size_t)floats * sizeof(float), &plan->tiles_capacity);
    return plan->tiles ? MT_OK : no_memory(b->fn);
}

mt_status mti_plan_build(const char *fn, mti_record *r, mt_plan **out)
{
    mt_plan *plan = mti_calloc(1, sizeof *plan);
    const size_t calls = (size_t)r->call_count + 1, stores = (size_t)r->store_count + 1;
    builder b = {.fn = fn, .r = r, .plan = plan,
                 .instr_of_call = plan ? mti_calloc(calls, sizeof(int)) : NULL,
                 .group_first = plan ? mti_calloc(calls, sizeof(int)) : NULL,
                 .group_size = plan ? mti_calloc(calls, sizeof(int)) : NULL,
                 .use = plan ? mti_calloc(stores, sizeof(store_use)) : NULL};
    mt_status status = MT_OK;
    if (!plan || !b.instr_of_call || !b.group_first || !b.group_size || !b.use) {
        status = no_memory(fn);
    } else {
        atomic_flag_clear(&plan->running);
        plan->kernels = mti_kernels_of(mti_backend());
        hoist_fills(r);
        group_calls(&b);
        find_uses(&b);
        assign_slots(&b);
        status = assign_buffers(&b);
        if (status == MT_OK) status = build_instructions(&b);
        if (status == MT_OK) status = hold_bound(&b);
        if (status == MT_OK) status = allocate_tiles(&b);
        plan->stats.recorded_calls = r->call_count;
        plan->stats.instructions = plan->instr_count;
        plan->stats.eager_peak_bytes = r->temp_peak_bytes;
    }
    mti_free(b.instr_of_call);
    mti_free(b.group_first);
    mti_free(b.group_size);
    mti_free(b.use);
    mti_free(b.buffers);
    if (status != MT_OK) {
        mt_plan_free(plan);
        return status;
    }
    *out = plan;
    return MT_OK;
}
