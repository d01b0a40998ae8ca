/* Public tensors of evenly spaced values: arange, linspace, and the identity matrix eye. */
#include <math.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/runtime.h"
#include "tensor/tensor_impl.h"
#include "tensor/tensor_internal.h"

typedef struct range_job {
    float *data;
    double start, end, step;
    int64_t count;
} range_job;

/* arange: start + i * step in double, rounded once to float (as PyTorch's CPU kernel). */
static void arange_range(void *context, int64_t begin, int64_t end)
{
    const range_job *job = context;
    for (int64_t i = begin; i < end; i++) job->data[i] = (float)(job->start + (double)i * job->step);
}

/* linspace: from the start for the first half, back from the end for the second, so both ends
 * are exact and the values are symmetric (PyTorch's formula), in double rounded once. */
static void linspace_range(void *context, int64_t begin, int64_t end)
{
    const range_job *job = context;
    const int64_t half = job->count / 2;
    for (int64_t i = begin; i < end; i++)
        job->data[i] = (float)(i < half ? job->start + job->step * (double)i
                                        : job->end - job->step * (double)(job->count - 1 - i));
}

static mt_tensor *fill_1d(const char *fn, int64_t count, mti_range_body body, range_job *job)
{
    mt_tensor *t = mti_tensor_empty(fn, 1, (const int64_t[]){count});
    if (!t) return NULL;
    job->data = t->storage->data;
    mti_parallel_ranges(mti_threads_for(count, (int64_t)1 << 16), count, body, job);
    mti_observe_opaque("mt_arange / mt_linspace (create them before capture)");
    return mti_track(fn, t);
}

mt_tensor *mt_arange(float start, float end, float step)
{
    static const char fn[] = "mt_arange";
    if (!isfinite(start) || !isfinite(end) || !isfinite(step)) {
        mti_fail(MT_ERR_INVALID_ARG, fn, "start %g, end %g and step %g must be finite",
                 (double)start, (double)end, (double)step);
        return NULL;
    }
    if (step == 0.0f) {
        mti_fail(MT_ERR_INVALID_ARG, fn, "step must not be 0");
        return NULL;
    }
    if ((step > 0.0f && start > end) || (step < 0.0f && start < end)) {
        mti_fail(MT_ERR_INVALID_ARG, fn,
                 "step %g has the wrong sign to go from %g to %g", (double)step, (double)start,
                 (double)end);
        return NULL;
    }
    /* PyTorch's length, in double: ceil((end - start) / step) */
    const double length = ceil(((double)end - (double)start) / (double)step);
    if (length < 1.0) {
        mti_fail(MT_ERR_SHAPE, fn,
                 "[%g, %g) is empty (empty tensors are not supported)", (double)start,
                 (double)end);
        return NULL;
    }
    if (length > 0x1.0p60) {
        mti_fail(MT_ERR_OVERFLOW, fn, "%.17g elements (limit 2^60)", length);
        return NULL;
    }
    range_job job = {.start = start, .step = step, .count = (int64_t)length};
    return fill_1d(fn, job.count, arange_range, &job);
}

mt_tensor *mt_linspace(float start, float end, int64_t steps)
{
    static const char fn[] = "mt_linspace";
    if (steps < 1) {
        mti_fail(MT_ERR_SHAPE, fn, "steps must be >= 1 (empty tensors are not supported), got %lld",
                 (long long)steps);
        return NULL;
    }
    if (!isfinite(start) || !isfinite(end)) {
        mti_fail(MT_ERR_INVALID_ARG, fn, "start %g and end %g must be finite", (double)start,
                 (double)end);
        return NULL;
    }
    /* one step is [start], as PyTorch */
    range_job job = {.start = start, .end = steps > 1 ? end : start, .count = steps,
                     .step = steps > 1 ? ((double)end - (double)start) / (double)(steps - 1) : 0.0};
    return fill_1d(fn, steps, linspace_range, &job);
}

mt_tensor *mt_eye(int64_t n)
{
    static const char fn[] = "mt_eye";
    if (n < 1) {
        mti_fail(MT_ERR_SHAPE, fn, "n must be >= 1 (empty tensors are not supported), got %lld",
                 (long long)n);
        return NULL;
    }
    mt_tensor *t = mti_tensor_zeros(fn, 2, (const int64_t[]){n, n});
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++) t->storage->data[i * n + i] = 1.0f;
    mti_observe_opaque("mt_eye (create it before capture)");
    return mti_track(fn, t);
}
