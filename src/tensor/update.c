/* In-place elementwise updates of parameters and gradients (see param_update.h). */
#include "tensor/update.h"

#include "tensor/tensor_impl.h"

#include "runtime/runtime.h"

bool mti_writable_layout(const mt_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->strides[d] == 0 && t->shape[d] > 1) return false;
    return true;
}

typedef struct walk {
    const mt_tensor *target;
    const mt_tensor *source; /* or NULL */
    mti_update_run run;
    void *context;
} walk;

/* Flat ranges of a contiguous target and source. */
static void contiguous_range(void *context, int64_t begin, int64_t end)
{
    const walk *w = context;
    const float *source = w->source ? mti_data(w->source) + begin : NULL;
    w->run(w->context, begin, end - begin, mti_data(w->target) + begin, 1, source, 1);
}

/* Rows [begin, end) along the last dim; the first row's position comes from its index, the
 * following ones from an odometer over the outer dims. */
static void strided_rows(void *context, int64_t begin, int64_t end)
{
    const walk *w = context;
    const mt_tensor *t = w->target, *s = w->source;
    const int last = t->ndim - 1;
    const int64_t length = t->shape[last];
    int64_t index[MT_MAX_DIMS] = {0}, tp = 0, sp = 0;
    for (int64_t rest = begin, d = last - 1; d >= 0; d--) {
        index[d] = rest % t->shape[d];
        rest /= t->shape[d];
        tp += index[d] * t->strides[d];
        sp += s ? index[d] * s->strides[d] : 0;
    }
    float *td = mti_data(t);
    const float *sd = s ? mti_data(s) : NULL;
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

static bool contiguous(const mt_tensor *t)
{
    return !t || mti_is_contiguous_layout(t->ndim, t->shape, t->strides);
}

static void walk_all(const mt_tensor *target, const mt_tensor *source, mti_update_run run,
                     void *context, bool parallel)
{
    walk w = {target, source, run, context};
    const int64_t n = target->numel;
    const int threads = parallel ? mti_threads_for(n, (int64_t)1 << 16) : 1;
    if (contiguous(target) && contiguous(source)) {
        mti_parallel_ranges(threads, n, contiguous_range, &w);
    } else {
        const int64_t rows = n / target->shape[target->ndim - 1];
        mti_parallel_ranges(threads < rows ? threads : (int)rows, rows, strided_rows, &w);
    }
}

void mti_update_param(mt_tensor *target, const mt_tensor *source, mti_update_run run,
                      void *context)
{
    walk_all(target, source, run, context, true);
    mti_bump_version(target);
}

void mti_read_runs(const mt_tensor *t, mti_update_run run, void *context)
{
    walk_all(t, NULL, run, context, false);
}
