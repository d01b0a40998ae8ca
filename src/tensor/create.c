/* Public tensor creation: zeros, ones, full, from a buffer, scalars, seeded uniform and normal
 * random values, and the *_like forms. */
#include <math.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/random.h"
#include "runtime/runtime.h"
#include "tensor/observer.h"
#include "tensor/tensor_impl.h"

typedef struct fill_job {
    float *data;
    float value, low, high;
    double span;
    uint64_t key;
} fill_job;

static void fill_range(void *context, int64_t begin, int64_t end)
{
    const fill_job *job = context;
    for (int64_t i = begin; i < end; i++) job->data[i] = job->value;
}

static void uniform_range(void *context, int64_t begin, int64_t end)
{
    const fill_job *job = context;
    for (int64_t i = begin; i < end; i++) {
        /* element i depends only on (seed, i): the same values for any thread count; double
         * arithmetic keeps a span as wide as [-FLT_MAX, FLT_MAX) from overflowing */
        float value = (float)(job->low + job->span * (double)mti_random_unit(job->key, (uint64_t)i));
        job->data[i] = value < job->high ? value : job->low; /* rounding must not reach high */
    }
}

static void normal_range(void *context, int64_t begin, int64_t end)
{
    const fill_job *job = context;
    for (int64_t i = begin; i < end; i++) /* depends only on (seed, i), like uniform_range */
        job->data[i] = (float)mti_random_normal(job->key, (uint64_t)i);
}

static void fill(float *data, int64_t n, float value)
{
    fill_job job = {.data = data, .value = value};
    mti_parallel_ranges(mti_threads_for(n, (int64_t)1 << 20), n, fill_range, &job);
}

mt_tensor *mti_tensor_full(const char *fn, int ndim, const int64_t *shape, float value)
{
    mt_tensor *t = mti_tensor_empty(fn, ndim, shape);
    if (!t) return NULL;
    if (value == 0.0f && !signbit(value))
        memset(t->storage->data, 0, (size_t)t->numel * sizeof(float));
    else
        fill(t->storage->data, t->numel, value);
    mti_observe_fill(t, value);
    return t;
}

static mt_tensor *filled(const char *fn, int ndim, const int64_t *shape, float value)
{
    return mti_track(fn, mti_tensor_full(fn, ndim, shape, value));
}

mt_tensor *mt_zeros(int ndim, const int64_t *shape) { return filled("mt_zeros", ndim, shape, 0.0f); }
mt_tensor *mt_ones(int ndim, const int64_t *shape) { return filled("mt_ones", ndim, shape, 1.0f); }

mt_tensor *mt_full(int ndim, const int64_t *shape, float value)
{
    return filled("mt_full", ndim, shape, value);
}

mt_tensor *mt_scalar(float value) { return filled("mt_scalar", 1, (const int64_t[]){1}, value); }

mt_tensor *mt_from_data(int ndim, const int64_t *shape, const float *data)
{
    if (!data) return mti_fail_null("mt_from_data", "data"), NULL;
    mt_tensor *t = mti_tensor_empty("mt_from_data", ndim, shape);
    if (!t) return NULL;
    memcpy(t->storage->data, data, (size_t)t->numel * sizeof(float));
    mti_observe_opaque("mt_from_data (create input tensors before capture and write new data into them)");
    return mti_track("mt_from_data", t);
}

mt_tensor *mti_tensor_uniform(const char *fn, int ndim, const int64_t *shape, float low,
                              float high, uint64_t seed)
{
    if (!(low < high) || !isfinite(low) || !isfinite(high)) {
        mti_fail(MT_ERR_INVALID_ARG, fn, "need finite low < high, got [%g, %g)", (double)low,
                 (double)high);
        return NULL;
    }
    mt_tensor *t = mti_tensor_empty(fn, ndim, shape);
    if (!t) return NULL;
    fill_job job = {.data = t->storage->data, .low = low, .high = high,
                    .span = (double)high - (double)low, .key = mti_random_key(seed)};
    mti_parallel_ranges(mti_threads_for(t->numel, (int64_t)1 << 18), t->numel, uniform_range, &job);
    mti_observe_opaque("a random fill (mt_rand / mt_rand_uniform)");
    return t;
}

mt_tensor *mt_rand_uniform(int ndim, const int64_t *shape, float low, float high, uint64_t seed)
{
    return mti_track("mt_rand_uniform", mti_tensor_uniform("mt_rand_uniform", ndim, shape, low, high, seed));
}

mt_tensor *mt_rand(int ndim, const int64_t *shape, uint64_t seed)
{
    return mti_track("mt_rand", mti_tensor_uniform("mt_rand", ndim, shape, 0.0f, 1.0f, seed));
}

mt_tensor *mt_randn(int ndim, const int64_t *shape, uint64_t seed)
{
    static const char fn[] = "mt_randn";
    mt_tensor *t = mti_tensor_empty(fn, ndim, shape);
    if (!t) return NULL;
    fill_job job = {.data = t->storage->data, .key = mti_random_key(seed)};
    mti_parallel_ranges(mti_threads_for(t->numel, (int64_t)1 << 16), t->numel, normal_range, &job);
    return mti_track(fn, t);
}

/* ---- the *_like forms: a's shape, new contiguous storage, no history ---- */

static mt_tensor *filled_like(const char *fn, const mt_tensor *a, float value)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    return filled(fn, a->ndim, a->shape, value);
}

mt_tensor *mt_zeros_like(const mt_tensor *a) { return filled_like("mt_zeros_like", a, 0.0f); }
mt_tensor *mt_ones_like(const mt_tensor *a) { return filled_like("mt_ones_like", a, 1.0f); }

mt_tensor *mt_full_like(const mt_tensor *a, float value)
{
    return filled_like("mt_full_like", a, value);
}
