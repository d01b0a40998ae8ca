/* Hooks in a record and in a plan (see tensor/hook.h): copies of the description that hold its
 * owner, and the replay call. */
#include <stdio.h>
#include <string.h>

#include "plan/plan_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"

static void hold_owner(const mti_hook *hook)
{
    if (hook->retain) hook->retain(hook->self);
}

static void drop_owner(const mti_hook *hook)
{
    if (hook->release) hook->release(hook->self);
}

mti_rec_hook *mti_rec_hook_new(const mti_hook *hook)
{
    const size_t count = hook->count > 0 ? (size_t)hook->count : 0;
    mti_rec_hook *h = mti_calloc(1, sizeof *h);
    if (!h) return NULL;
    h->view = mti_calloc(count + 1, sizeof *h->view);
    h->access = mti_calloc(count + 1, sizeof *h->access);
    if (!h->view || !h->access) {
        mti_free(h->view);
        mti_free(h->access);
        mti_free(h);
        return NULL;
    }
    h->desc = *hook;
    h->desc.operands = NULL;
    for (size_t k = 0; k < count; k++) h->access[k] = hook->operands[k].access;
    hold_owner(&h->desc);
    return h;
}

void mti_rec_hook_free(mti_rec_hook *h)
{
    if (!h) return;
    drop_owner(&h->desc);
    mti_free(h->view);
    mti_free(h->access);
    mti_free(h);
}

mti_plan_hook *mti_plan_hook_new(const mti_rec_hook *r)
{
    const size_t count = r->desc.count > 0 ? (size_t)r->desc.count : 0;
    mti_plan_hook *h = mti_calloc(1, sizeof *h);
    if (!h) return NULL;
    h->views = mti_calloc(count + 1, sizeof *h->views);
    h->pointers = mti_calloc(count + 1, sizeof *h->pointers);
    if (!h->views || !h->pointers) {
        mti_free(h->views);
        mti_free(h->pointers);
        mti_free(h);
        return NULL;
    }
    h->desc = r->desc;
    hold_owner(&h->desc);
    return h;
}

void mti_plan_hook_free(mti_plan_hook *h)
{
    if (!h) return;
    drop_owner(&h->desc);
    mti_free(h->views);
    mti_free(h->pointers);
    mti_free(h);
}

const char *mti_hook_stale(const mti_hook *hook)
{
    return hook->stale ? hook->stale(hook->self, hook->context) : NULL;
}

mt_status mti_plan_hook_run(const mti_plan_hook *h)
{
    const bool tracing = mti_tracing();
    const double start = tracing ? mti_now_us() : 0;
    mt_status status = h->desc.run(h->desc.self, h->desc.context, h->pointers, h->desc.count);
    if (tracing) {
        char text[32];
        snprintf(text, sizeof text, "operands=%d", h->desc.count);
        mti_trace_record(h->desc.name, "hook", text, 1, mti_now_us() - start);
    }
    return status;
}
