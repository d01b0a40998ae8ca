/* Parameters, the Linear layer and SGD. */
#include <math.h>

#include "minitorch/autodiff.h"
#include "minitorch/scope.h"
#include "minitorch/nn.h"
#include "minitorch/ops.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"
#include "tensor/tensor_internal.h"

mt_status mt_params_add(mt_params *params, mt_tensor *t)
{
    if (!params) return mti_fail_null("mt_params_add", "params");
    if (!t) return mti_fail_null("mt_params_add", "t");
    if (params->count == params->capacity) {
        int capacity = params->capacity ? params->capacity * 2 : 8;
        mt_tensor **items = mti_realloc(params->items, sizeof *items * (size_t)capacity);
        if (!items) return mti_fail(MT_ERR_NO_MEMORY, "mt_params_add", "cannot grow the list");
        params->items = items;
        params->capacity = capacity;
    }
    params->items[params->count++] = mti_ref(t);
    return MT_OK;
}

void mt_params_free(mt_params *params)
{
    if (!params) return;
    for (int i = 0; i < params->count; i++) mti_unref(params->items[i]);
    mti_free(params->items);
    *params = (mt_params){0};
}

mt_status mt_params_zero_grad(const mt_params *params)
{
    if (!params) return mti_fail_null("mt_params_zero_grad", "params");
    for (int i = 0; i < params->count; i++) mt_zero_grad(params->items[i]);
    return MT_OK;
}

mt_status mt_linear_layer_init(mt_linear_layer *layer, int64_t in, int64_t out, uint64_t seed,
                               mt_params *params)
{
    static const char fn[] = "mt_linear_layer_init";
    if (!layer) return mti_fail_null(fn, "layer");
    int64_t wshape[2] = {in, out};
    mt_tensor *weight = mti_tensor_uniform(fn, 2, wshape, -0.5f, 0.5f, seed);
    mt_tensor *bias = weight ? mti_tensor_full(fn, 1, &wshape[1], 0.1f) : NULL;
    if (!bias) {
        mti_unref(weight);
        return mt_last_status();
    }
    mt_set_requires_grad(weight, true);
    mt_set_requires_grad(bias, true);
    if (params && (mt_params_add(params, weight) != MT_OK || mt_params_add(params, bias) != MT_OK)) {
        mti_unref(weight);
        mti_unref(bias);
        return mt_last_status();
    }
    layer->weight = weight;
    layer->bias = bias;
    return MT_OK;
}

mt_tensor *mt_linear_layer_forward(const mt_linear_layer *layer, mt_tensor *x)
{
    static const char fn[] = "mt_linear_layer_forward";
    if (!layer) return mti_fail_null(fn, "layer"), NULL;
    if (!x) return mti_fail_null(fn, "x"), NULL;
    if (!layer->weight) return mti_fail(MT_ERR_NULL, fn, "the layer's weight is NULL (not initialised)"), NULL;
    mt_tensor *y = mt_linear(x, layer->weight, layer->bias);
    if (!y) mti_error_context(fn);
    return y;
}

void mt_linear_layer_free(mt_linear_layer *layer)
{
    if (!layer) return;
    mti_unref(layer->weight);
    mti_unref(layer->bias);
    layer->weight = layer->bias = NULL;
}

typedef struct sgd_job {
    float *p;
    const float *g;
    float rate;
} sgd_job;

static void sgd_range(void *context, int64_t begin, int64_t end)
{
    const sgd_job *job = context;
    float *restrict p = job->p;
    const float *restrict g = job->g;
    const float rate = job->rate;
#pragma omp simd
    for (int64_t i = begin; i < end; i++) p[i] -= rate * g[i];
}

/* p -= rate * g over contiguous data, in place. */
static void sgd_update(float *p, const float *g, int64_t n, float rate)
{
    sgd_job job = {p, g, rate};
    mti_parallel_ranges(mti_threads_for(n, 1 << 16), n, sgd_range, &job);
}

/* One element of p -= rate * g for a parameter that is a strided view. */
static void sgd_element(float *p, float *g, void *context) { *p -= *(const float *)context * *g; }

mt_status mt_sgd_step(const mt_params *params, float rate)
{
    static const char fn[] = "mt_sgd_step";
    if (!params) return mti_fail_null(fn, "params");
    if (!isfinite(rate)) return mti_fail(MT_ERR_INVALID_ARG, fn, "rate must be finite, got %g", (double)rate);
    for (int i = 0; i < params->count; i++) {
        mt_tensor *p = params->items[i];
        const mt_tensor *g = mti_tensor_grad(p);
        if (!g) continue;
        if (mt_is_contiguous(p) && mt_is_contiguous(g))
            sgd_update(mti_tensor_data(p), mti_tensor_data(g), mt_numel(p), rate);
        else
            mti_walk_elements(p, g, sgd_element, &rate);
        mt_zero_grad(p);
    }
    return MT_OK;
}
