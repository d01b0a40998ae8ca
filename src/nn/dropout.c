/* Inverted dropout as x * mask, with a seeded mask of 0 and 1/(1 - p), and the dropout layer. */
#include <math.h>

#include "minitorch/nn.h"
#include "minitorch/ops.h"
#include "runtime/error.h"
#include "runtime/random.h"
#include "runtime/runtime.h"
#include "tensor/tensor_internal.h"

static mt_status check_p(const char *fn, float p)
{
    if (p >= 0.0f && p <= 1.0f) return MT_OK;
    return mti_fail(MT_ERR_INVALID_ARG, fn, "p must be in [0, 1], got %g", (double)p);
}

typedef struct mask_job {
    float *data;
    float p, scale;
    uint64_t key;
} mask_job;

/* mask[i] = 0 when draw i < p (probability p, to 2^-24), else scale: a function of (seed, i). */
static void mask_range(void *context, int64_t begin, int64_t end)
{
    const mask_job *job = context;
    for (int64_t i = begin; i < end; i++)
        job->data[i] = mti_random_unit(job->key, (uint64_t)i) < job->p ? 0.0f : job->scale;
}

mt_tensor *mt_dropout(mt_tensor *x, float p, bool training, uint64_t seed)
{
    static const char fn[] = "mt_dropout";
    if (!x) return mti_fail_null(fn, "x"), NULL;
    if (check_p(fn, p) != MT_OK) return NULL;
    if (!training || p == 0.0f) return mti_track(fn, mti_ref(x));
    mt_tensor *mask = mti_tensor_empty(fn, mt_ndim(x), mt_shape(x));
    if (!mask) return NULL;
    mask_job job = {.data = mti_tensor_data(mask), .p = p,
                    .scale = p == 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p)),
                    .key = mti_random_key(seed)};
    mti_parallel_ranges(mti_threads_for(mt_numel(mask), (int64_t)1 << 16), mt_numel(mask), mask_range, &job);
    mti_observe_opaque("mt_dropout's random mask");
    mt_tensor *y = mt_mul(x, mask); /* gradient: mask * incoming gradient */
    mti_unref(mask);
    if (!y) mti_error_context(fn);
    return y;
}

mt_status mt_dropout_layer_init(mt_dropout_layer *layer, float p, uint64_t seed)
{
    static const char fn[] = "mt_dropout_layer_init";
    if (!layer) return mti_fail_null(fn, "layer");
    mt_status status = check_p(fn, p);
    if (status != MT_OK) return status;
    *layer = (mt_dropout_layer){.p = p, .training = true, .seed = seed, .calls = 0};
    return MT_OK;
}

mt_status mt_dropout_layer_train(mt_dropout_layer *layer, bool training)
{
    if (!layer) return mti_fail_null("mt_dropout_layer_train", "layer");
    layer->training = training;
    return MT_OK;
}

mt_tensor *mt_dropout_layer_forward(mt_dropout_layer *layer, mt_tensor *x)
{
    static const char fn[] = "mt_dropout_layer_forward";
    if (!layer) return mti_fail_null(fn, "layer"), NULL;
    /* call k's seed: draw k of the layer's own stream */
    const uint64_t seed = mti_random_bits(mti_random_key(layer->seed), layer->calls);
    mt_tensor *y = mt_dropout(x, layer->p, layer->training, seed);
    if (!y) {
        mti_error_context(fn);
        return NULL;
    }
    if (layer->training && layer->p > 0.0f) layer->calls++;
    return y;
}
