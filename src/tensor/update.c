/* In-place elementwise updates of parameters and gradients (see param_update.h). */
#include "tensor/update.h"

#include <string.h>

#include "tensor/observer.h"
#include "tensor/tensor_impl.h"

#include "runtime/runtime.h"

bool mti_writable_layout(const mt_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->strides[d] == 0 && t->shape[d] > 1) return false;
    return true;
}

typedef struct walk {
    const mti_strided *target;
    const mti_strided *source; /* or NULL */
    mti_update_run run;
    void *context;
} walk;

/* Flat ranges of a contiguous target and source. */
static void contiguous_range(void *context, int64_t begin, int64_t end)
{
    const walk *w = context;
    const float *source = w->source ? w->source->data + begin : NULL;
    w->run(w->context, begin, end - begin, w->target->data + begin, 1, source, 1);
}

/* Rows [begin, end) along the last dim; the first row's position comes from its index, the
 * following ones from an odometer over the outer dims. */
static void strided_rows(void *context, int64_t begin, int64_t end)
{
    const walk *w = context;
    const mti_strided *t = w->target, *s = w->source;
    const int last = t->ndim - 1;
    const int64_t length = t->shape[last];
    int64_t index[MT_MAX_DIMS] = {0}, tp = 0, sp = 0;
    for (int64_t rest = begin, d = last - 1; d >= 0; d--) {
        index[d] = rest % t->shape[d];
        rest /= t->shape[d];
        tp += index[d] * t->strides[d];
        sp += s ? index[d] * s->strides[d] : 0;
    }
    float *td = t->data;
    const float *sd = s ? s->data : NULL;
    for (int64_t row = begin; row < end; row++) {
        w->run(w->context, row * length, length, td + tp, t->strides[last], sd ? sd + sp : NULL,
               s ? s->strides[last] : 0);
        for (int d = last - 1; d >= 0; d--) { /* odometer step over the outer dims */
            tp += t->strides[d];
            sp += s ? s->strides[d] : 0;
            if (++index[d] < t->shape[d]) break;
            tp -= index[d] * t->strides[d];
            sp -= s ? index[d] * s->strides[d] : 0;
            index[d] = 0;
        }
    }
}

static bool contiguous(const mti_strided *v)
{
    return !v || mti_is_contiguous_layout(v->ndim, v->shape, v->strides);
}

static void walk_all(const mti_strided *target, const mti_strided *source, mti_update_run run,
                     void *context, bool parallel)
{
    walk w = {target, source, run, context};
    int64_t n = 1;
    for (int d = 0; d < target->ndim; d++) n *= target->shape[d];
    if (n == 0) return;
    const int threads = parallel ? mti_threads_for(n, (int64_t)1 << 16) : 1;
    if (contiguous(target) && contiguous(source)) {
        mti_parallel_ranges(threads, n, contiguous_range, &w);
    } else {
        const int64_t rows = target->ndim ? n / target->shape[target->ndim - 1] : 1;
        mti_parallel_ranges(threads < rows ? threads : (int)rows, rows, strided_rows, &w);
    }
}

mti_strided mti_update_view(const mt_tensor *t)
{
    mti_strided v = mti_strided_of(t);
    if (v.ndim == 0) {
        v.ndim = 1;
        v.shape[0] = 1;
        v.strides[0] = 1;
    }
    return v;
}

void mti_update_param(mt_tensor *target, const mt_tensor *source, mti_update_run run,
                      void *context)
{
    mti_observe_opaque("an in-place update through an init or gradient clipping function");
    mti_strided t = mti_update_view(target), s = source ? mti_update_view(source) : t;
    walk_all(&t, source ? &s : NULL, run, context, true);
    mti_bump_version(target);
}

void mti_update_param_replayable(mt_tensor *target, const mt_tensor *source, mti_update_run run,
                                 const void *context, size_t context_bytes)
{
    mti_strided t = mti_update_view(target), s = source ? mti_update_view(source) : t;
    if (mti_observing()) {
        mti_event e = {.kind = MTI_EVENT_UPDATE, .views = 2, .view = {&t, source ? &s : NULL},
                       .update = run, .has_source = source != NULL};
        if (context_bytes <= sizeof e.context) memcpy(e.context, context, context_bytes);
        else e.what = "an update whose state is too large to record";
        mti_observe(&e);
    }
    unsigned char copy[MTI_UPDATE_CONTEXT_BYTES];
    memcpy(copy, context, context_bytes < sizeof copy ? context_bytes : sizeof copy);
    walk_all(&t, source ? &s : NULL, run, context_bytes <= sizeof copy ? copy : (void *)context,
             true);
    mti_bump_version(target);
}

void mti_update_views(const mti_strided *target, const mti_strided *source, mti_update_run run,
                      void *context)
{
    walk_all(target, source, run, context, true);
}

void mti_read_runs(const mt_tensor *t, mti_update_run run, void *context)
{
    mti_strided v = mti_update_view(t);
    walk_all(&v, NULL, run, context, false);
}
