/* Recording a step: an observer (tensor/observer.h) that keeps the storages the step touches and
 * its kernel calls and writes, with every data pointer turned into (store, offset). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plan/plan_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"

static void record_failure(mti_record *r, mt_status status, const char *fmt, ...)
{
    if (r->status != MT_OK) return;
    r->status = status;
    va_list args;
    va_start(args, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, args);
    va_end(args);
}

/* The live store of `s`, or -1. Newest first: a freed storage's address can come back. */
static int find_store(const mti_record *r, const mti_storage *s)
{
    for (int i = r->store_count - 1; i >= 0; i--)
        if (r->stores[i].alive && r->stores[i].storage == s) return i;
    return -1;
}

static int add_store(mti_record *r, const mti_storage *s, mti_store_kind kind)
{
    if (r->store_count == r->store_capacity) {
        int capacity = r->store_capacity ? 2 * r->store_capacity : 64;
        mti_store *grown = mti_realloc(r->stores, sizeof *grown * (size_t)capacity);
        if (!grown) {
            record_failure(r, MT_ERR_NO_MEMORY, "cannot grow the record of storages");
            return -1;
        }
        r->stores = grown;
        r->store_capacity = capacity;
    }
    /* the record holds what existed before the step, so it outlives the step */
    if (kind == MTI_STORE_BOUND) mti_storage_retain((mti_storage *)s);
    r->stores[r->store_count] = (mti_store){.storage = (mti_storage *)s, .base = s->data,
                                            .numel = s->numel, .kind = kind, .alive = true};
    return r->store_count++;
}

/* The live store holding `data`: views carry only a data pointer. */
static int store_of_pointer(const mti_record *r, const float *data)
{
    for (int i = r->store_count - 1; i >= 0; i--) {
        const mti_store *st = &r->stores[i];
        if (st->alive && data >= st->base && data < st->base + st->numel) return i;
    }
    for (int i = r->store_count - 1; i >= 0; i--) /* an empty view just past the end */
        if (r->stores[i].alive && data == r->stores[i].base + r->stores[i].numel) return i;
    return -1;
}

static bool record_view(mti_record *r, const mti_strided *v, bool write, mti_rec_view *out)
{
    if (!v) {
        out->store = -1;
        return true;
    }
    int store = store_of_pointer(r, v->data);
    if (store < 0) {
        record_failure(r, MT_ERR_INVALID_ARG,
                       "a kernel used memory that belongs to no tensor the step could see");
        return false;
    }
    out->store = store;
    out->offset = v->data - r->stores[store].base;
    out->ndim = v->ndim;
    memcpy(out->shape, v->shape, sizeof out->shape);
    memcpy(out->strides, v->strides, sizeof out->strides);
    if (write) r->stores[store].written = true;
    return true;
}

static mti_rec_call *new_call(mti_record *r)
{
    if (r->call_count == r->call_capacity) {
        int capacity = r->call_capacity ? 2 * r->call_capacity : 64;
        mti_rec_call *grown = mti_realloc(r->calls, sizeof *grown * (size_t)capacity);
        if (!grown) {
            record_failure(r, MT_ERR_NO_MEMORY, "cannot grow the record of calls");
            return NULL;
        }
        r->calls = grown;
        r->call_capacity = capacity;
    }
    mti_rec_call *c = &r->calls[r->call_count];
    memset(c, 0, sizeof *c);
    return c;
}

/* A hook: one call holding the hook's owner, with a view per operand. */
static void record_hook(mti_record *r, const mti_event *e)
{
    mti_rec_call *c = new_call(r);
    if (!c) return;
    mti_rec_hook *h = mti_rec_hook_new(e->hook);
    if (!h) {
        record_failure(r, MT_ERR_NO_MEMORY, "cannot record %s", e->hook->name);
        return;
    }
    for (int k = 0; k < e->hook->count; k++)
        if (!record_view(r, e->hook_views[k], (h->access[k] & MTI_HOOK_WRITE) != 0, &h->view[k])) {
            mti_rec_hook_free(h);
            return;
        }
    c->kind = MTI_EVENT_HOOK;
    c->hook = h;
    r->call_count++;
}

static void observe(void *self, const mti_event *e)
{
    mti_record *r = self;
    if (r->status != MT_OK) return;
    switch (e->kind) {
    case MTI_EVENT_STORAGE_NEW:
        if (add_store(r, e->storage, MTI_STORE_TEMP) >= 0) {
            r->temp_bytes += e->storage->numel * (int64_t)sizeof(float);
            if (r->temp_bytes > r->temp_peak_bytes) r->temp_peak_bytes = r->temp_bytes;
        }
        return;
    case MTI_EVENT_STORAGE_FREE: {
        int i = find_store(r, e->storage);
        if (i < 0) return; /* existed before the step and never used by it */
        r->stores[i].alive = false;
        r->temp_bytes -= r->stores[i].numel * (int64_t)sizeof(float);
        return;
    }
    case MTI_EVENT_STORAGE_SEEN:
        if (find_store(r, e->storage) < 0) add_store(r, e->storage, MTI_STORE_BOUND);
        return;
    case MTI_EVENT_OPAQUE:
        record_failure(r, MT_ERR_INVALID_ARG, "the step uses %s, which a plan cannot replay", e->what);
        return;
    case MTI_EVENT_HOOK:
        record_hook(r, e);
        return;
    case MTI_EVENT_UPDATE:
        if (e->what) {
            record_failure(r, MT_ERR_INVALID_ARG, "the step uses %s, which a plan cannot replay", e->what);
            return;
        }
        break;
    default:
        break;
    }
    mti_rec_call *c = new_call(r);
    if (!c) return;
    c->kind = e->kind;
    c->op = e->op;
    c->dim = e->dim;
    c->params = (mti_params){e->params[0], e->params[1]};
    c->trans_a = e->trans_a;
    c->trans_b = e->trans_b;
    c->accumulate = e->accumulate;
    c->value = e->value;
    c->update = e->update;
    memcpy(c->context, e->context, sizeof c->context);
    c->views = e->views;
    for (int k = 0; k < e->views; k++)
        if (!record_view(r, e->view[k], k == 0, &c->view[k])) return;
    r->call_count++;
}

void mti_record_free(mti_record *r)
{
    for (int i = 0; i < r->call_count; i++) mti_rec_hook_free(r->calls[i].hook);
    for (int i = 0; i < r->store_count; i++)
        if (r->stores[i].kind != MTI_STORE_TEMP) mti_storage_release(r->stores[i].storage);
    mti_free(r->stores);
    mti_free(r->calls);
    *r = (mti_record){0};
}

/* After the step: what it kept becomes bound; what existed before must still be in use; every
 * hook's owner must still be able to run it (e.g. an optimiser the step freed cannot). */
static void settle_stores(mti_record *r)
{
    for (int i = 0; i < r->call_count && r->status == MT_OK; i++) {
        const mti_rec_hook *h = r->calls[i].hook;
        const char *stale = h ? mti_hook_stale(&h->desc) : NULL;
        if (stale) record_failure(r, MT_ERR_INVALID_ARG, "%s cannot be replayed: %s", h->desc.name, stale);
    }
    for (int i = 0; i < r->store_count && r->status == MT_OK; i++) {
        mti_store *st = &r->stores[i];
        if (st->kind == MTI_STORE_TEMP && st->alive) {
            st->kind = MTI_STORE_KEPT;
            mti_storage_retain(st->storage);
        } else if (st->kind == MTI_STORE_BOUND && mti_storage_refs(st->storage) == 1) {
            record_failure(r, MT_ERR_INVALID_ARG,
                           "the step released a tensor that existed before it (e.g. gradients "
                           "left from an earlier backward: zero them before capturing)");
        }
    }
}

mt_status mt_plan_capture(mt_plan_step step, void *context, mt_plan **out)
{
    static const char fn[] = "mt_plan_capture";
    if (!out) return mti_fail_null(fn, "out");
    *out = NULL;
    if (!step) return mti_fail_null(fn, "step");
    if (mti_observing())
        return mti_fail(MT_ERR_INVALID_ARG, fn, "a capture is already running on this thread");
    mti_record record = {0};
    mti_observer_set(observe, &record);
    mt_status status = step(context);
    mti_observer_set(NULL, NULL);
    if (status != MT_OK) {
        mti_record_free(&record);
        mti_error_context(fn);
        return status;
    }
    settle_stores(&record);
    if (record.status != MT_OK) {
        status = mti_fail(record.status, fn, "%s", record.message);
        mti_record_free(&record);
        return status;
    }
    status = mti_plan_build(fn, &record, out);
    mti_record_free(&record);
    return status;
}
