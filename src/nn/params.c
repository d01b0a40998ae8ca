/* Parameters, the Linear layer and SGD. */
#include <limits.h>
#include <math.h>

#include "minitorch/autodiff.h"
#include "minitorch/scope.h"
#include "minitorch/nn.h"
#include "minitorch/ops.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/random.h"
#include "runtime/runtime.h"
#include "tensor/tensor_internal.h"
#include "tensor/update.h"

/* Makes room for `extra` more parameters, so that many mt_params_add calls cannot fail. */
static mt_status params_reserve(const char *fn, mt_params *params, int extra)
{
    if (params->count + extra <= params->capacity) return MT_OK;
    if (params->count > INT_MAX / 2 - extra)
        return mti_fail(MT_ERR_OVERFLOW, fn, "the list cannot hold more than %d parameters", INT_MAX / 2);
    int capacity = params->capacity ? params->capacity * 2 : 8;
    if (capacity < params->count + extra) capacity = params->count + extra;
    mt_tensor **items = mti_realloc(params->items, sizeof *items * (size_t)capacity);
    if (!items) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot grow the list");
    params->items = items;
    params->capacity = capacity;
    return MT_OK;
}

mt_status mt_params_add(mt_params *params, mt_tensor *t)
{
    if (!params) return mti_fail_null("mt_params_add", "params");
    if (!t) return mti_fail_null("mt_params_add", "t");
    mt_status status = params_reserve("mt_params_add", params, 1);
    if (status != MT_OK) return status;
    params->items[params->count++] = mti_hold(t);
    return MT_OK;
}

void mt_params_free(mt_params *params)
{
    if (!params) return;
    for (int i = 0; i < params->count; i++) mti_unhold(params->items[i]);
    mti_free(params->items);
    *params = (mt_params){0};
}

mt_status mt_params_zero_grad(const mt_params *params)
{
    if (!params) return mti_fail_null("mt_params_zero_grad", "params");
    for (int i = 0; i < params->count; i++) mt_zero_grad(params->items[i]);
    return MT_OK;
}

/* The weight (in, out) and bias (out) of a layer, initialised as `init` says. */
static mt_status make_linear(const char *fn, int64_t in, int64_t out, mt_linear_init init,
                             uint64_t seed, mt_tensor **weight, mt_tensor **bias)
{
    int64_t wshape[2] = {in, out};
    if (init == MT_LINEAR_INIT_MINITORCH) {
        *weight = mti_tensor_uniform(fn, 2, wshape, -0.5f, 0.5f, seed);
        *bias = *weight ? mti_tensor_full(fn, 1, &wshape[1], 0.1f) : NULL;
    } else { /* PyTorch's nn.Linear.reset_parameters, with fan_in = in (weight is (in, out)) */
        *weight = mti_tensor_empty(fn, 2, wshape);
        *bias = *weight ? mti_tensor_empty(fn, 1, &wshape[1]) : NULL;
        if (*bias) {
            const uint64_t key = mti_random_key(seed);
            const float bound = (float)(1.0 / sqrt((double)in));
            mt_init_kaiming_uniform(*weight, sqrtf(5.0f), MT_FAN_IN, MT_NONLINEARITY_LEAKY_RELU,
                                    mti_random_bits(key, 0));
            mt_init_uniform(*bias, -bound, bound, mti_random_bits(key, 1));
        }
    }
    if (*bias) return MT_OK;
    mti_unref(*weight);
    *weight = NULL;
    return mt_last_status();
}

static mt_status linear_layer_init(const char *fn, mt_linear_layer *layer, int64_t in, int64_t out,
                                   mt_linear_init init, uint64_t seed, mt_params *params)
{
    if (!layer) return mti_fail_null(fn, "layer");
    if (init != MT_LINEAR_INIT_TORCH && init != MT_LINEAR_INIT_MINITORCH)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not an mt_linear_init", (int)init);
    mt_tensor *weight, *bias;
    mt_status status = make_linear(fn, in, out, init, seed, &weight, &bias);
    /* room for both parameters first, so the list gains both or neither */
    if (status == MT_OK && params) status = params_reserve(fn, params, 2);
    if (status != MT_OK) {
        if (weight) {
            mti_unref(weight);
            mti_unref(bias);
        }
        return status;
    }
    mt_set_requires_grad(weight, true);
    mt_set_requires_grad(bias, true);
    if (params) {
        params->items[params->count++] = mti_hold(weight);
        params->items[params->count++] = mti_hold(bias);
    }
    layer->weight = weight;
    layer->bias = bias;
    return MT_OK;
}

mt_status mt_linear_layer_init(mt_linear_layer *layer, int64_t in, int64_t out, uint64_t seed,
                               mt_params *params)
{
    return linear_layer_init("mt_linear_layer_init", layer, in, out, MT_LINEAR_INIT_MINITORCH,
                             seed, params);
}

mt_status mt_linear_layer_init_with(mt_linear_layer *layer, int64_t in, int64_t out,
                                    mt_linear_init init, uint64_t seed, mt_params *params)
{
    return linear_layer_init("mt_linear_layer_init_with", layer, in, out, init, seed, params);
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

/* p -= rate * g over one run of elements (the context is the rate). The same function runs
 * eagerly and in a plan's replay, so both round identically. */
static void sgd_run(void *context, int64_t first, int64_t n, float *restrict p, int64_t ps,
                    const float *restrict g, int64_t gs)
{
    (void)first;
    const float rate = *(const float *)context;
    if (ps == 1 && gs == 1) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) p[i] -= rate * g[i];
    } else {
        for (int64_t i = 0; i < n; i++) p[i * ps] -= rate * g[i * gs];
    }
}

mt_status mt_sgd_step(const mt_params *params, float rate)
{
    static const char fn[] = "mt_sgd_step";
    if (!params) return mti_fail_null(fn, "params");
    if (!isfinite(rate)) return mti_fail(MT_ERR_INVALID_ARG, fn, "rate must be finite, got %g", (double)rate);
    for (int i = 0; i < params->count; i++) {
        mt_tensor *p = params->items[i];
        const mt_tensor *g = mti_tensor_grad(p);
        if (!g) continue;
        mti_update_param_replayable(p, g, sgd_run, &rate, sizeof rate);
        mt_zero_grad(p);
    }
    return MT_OK;
}
