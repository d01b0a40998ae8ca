/* Public tensor creation: zeros, ones, full, from a buffer, scalars, seeded uniform random. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/random.h"
#include "runtime/runtime.h"
#include "tensor/tensor_impl.h"

static void fill(float *data, int64_t n, float value)
{
    int threads = mti_threads_for(n, (int64_t)1 << 20);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; i++) data[i] = value;
}

mt_tensor *mti_tensor_full(const char *fn, int ndim, const int64_t *shape, float value)
{
    mt_tensor *t = mti_tensor_empty(fn, ndim, shape);
    if (!t) return NULL;
    if (value == 0.0f && !signbit(value))
        memset(t->storage->data, 0, (size_t)t->numel * sizeof(float));
    else
        fill(t->storage->data, t->numel, value);
    return t;
}

static mt_tensor *filled(const char *fn, int ndim, const int64_t *shape, float value)
{
    return mti_track(mti_tensor_full(fn, ndim, shape, value));
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
    return mti_track(t);
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
    float *data = t->storage->data;
    const uint64_t key = mti_random_key(seed); /* element i depends only on (seed, i) */
    const float span = high - low;
    int64_t n = t->numel;
    int threads = mti_threads_for(n, (int64_t)1 << 18);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; i++) {
        float value = low + span * mti_random_unit(key, (uint64_t)i);
        data[i] = value < high ? value : low; /* rounding must not reach `high` */
    }
    return t;
}

mt_tensor *mt_rand_uniform(int ndim, const int64_t *shape, float low, float high, uint64_t seed)
{
    return mti_track(mti_tensor_uniform("mt_rand_uniform", ndim, shape, low, high, seed));
}

mt_tensor *mt_rand(int ndim, const int64_t *shape, uint64_t seed)
{
    return mti_track(mti_tensor_uniform("mt_rand", ndim, shape, 0.0f, 1.0f, seed));
}
