/* Layer norm and embedding, built from differentiable operations (their gradients come from
 * autodiff). */
#include <math.h>

#include "minitorch/autodiff.h"
#include "minitorch/nn.h"
#include "minitorch/ops.h"
#include "minitorch/scope.h"
#include "nn/composite.h"
#include "runtime/error.h"
#include "tensor/tensor_internal.h"

static bool has_shape(const mt_tensor *t, int ndim, const int64_t *shape)
{
    return t && mti_same_shape(mt_ndim(t), mt_shape(t), ndim, shape);
}

mt_tensor *mt_layer_norm(mt_tensor *x, int normalized_dims, mt_tensor *weight, mt_tensor *bias,
                         float eps)
{
    static const char fn[] = "mt_layer_norm";
    if (!x) return mti_fail_null(fn, "x"), NULL;
    const int nd = mt_ndim(x);
    const int64_t *shape = mt_shape(x);
    if (normalized_dims < 1 || normalized_dims > nd)
        return mti_fail(MT_ERR_SHAPE, fn, "normalized_dims must be 1..%d, got %d", nd,
                        normalized_dims), NULL;
    if (!(eps >= 0.0f)) return mti_fail(MT_ERR_INVALID_ARG, fn, "eps must be >= 0, got %g", (double)eps), NULL;
    const int lead = nd - normalized_dims;
    char text[MTI_SHAPE_TEXT];
    if ((weight && !has_shape(weight, normalized_dims, shape + lead)) ||
        (bias && !has_shape(bias, normalized_dims, shape + lead)))
        return mti_fail(MT_ERR_SHAPE, fn, "weight and bias must have the normalised shape %s",
                        mti_format_shape(text, sizeof text, normalized_dims, shape + lead)), NULL;
    int64_t rows = 1, features = 1;
    for (int d = 0; d < lead; d++) rows *= shape[d];
    for (int d = lead; d < nd; d++) features *= shape[d];
    mt_scope s;
    if (!mti_composite_begin(fn, &s)) return NULL;
    /* (rows, features): mean and biased variance of every row */
    mt_tensor *flat = mt_reshape(x, MT_DIMS(rows, features));
    mt_tensor *centered = mt_sub(flat, mt_mean(flat, 1));
    mt_tensor *var = mt_mean(mt_mul(centered, centered), 1);
    mt_tensor *y = mt_mul(centered, mt_rsqrt(mt_add_scalar(var, eps)));
    y = mt_reshape(y, nd, shape);
    if (weight) y = mt_mul(y, weight);
    if (bias) y = mt_add(y, bias);
    return mti_composite_end(fn, s, y);
}

mt_status mt_layer_norm_layer_init(mt_layer_norm_layer *layer, int64_t features, mt_params *params)
{
    static const char fn[] = "mt_layer_norm_layer_init";
    if (!layer) return mti_fail_null(fn, "layer");
    if (features < 1) return mti_fail(MT_ERR_SHAPE, fn, "features must be >= 1, got %lld", (long long)features);
    mt_tensor *weight = mti_tensor_full(fn, 1, &features, 1.0f);
    mt_tensor *bias = weight ? mti_tensor_full(fn, 1, &features, 0.0f) : NULL;
    mt_status status = bias ? MT_OK : mt_last_status();
    if (status == MT_OK) {
        mt_set_requires_grad(weight, true);
        mt_set_requires_grad(bias, true);
    }
    if (status == MT_OK && params) {
        status = mt_params_add(params, weight);
        if (status == MT_OK) {
            status = mt_params_add(params, bias);
            if (status != MT_OK) { /* all or nothing: take the weight back out */
                params->count--;
                mti_unhold(params->items[params->count]);
            }
        }
    }
    if (status != MT_OK) {
        mti_unref(weight);
        mti_unref(bias);
        return status;
    }
    *layer = (mt_layer_norm_layer){weight, bias, 1e-5f};
    return MT_OK;
}

mt_tensor *mt_layer_norm_layer_forward(const mt_layer_norm_layer *layer, mt_tensor *x)
{
    static const char fn[] = "mt_layer_norm_layer_forward";
    if (!layer) return mti_fail_null(fn, "layer"), NULL;
    if (!layer->weight) return mti_fail(MT_ERR_NULL, fn, "the layer is not initialised"), NULL;
    mt_tensor *y = mt_layer_norm(x, 1, layer->weight, layer->bias, layer->eps);
    if (!y) mti_error_context(fn);
    return y;
}

void mt_layer_norm_layer_free(mt_layer_norm_layer *layer)
{
    if (!layer) return;
    mti_unref(layer->weight);
    mti_unref(layer->bias);
    layer->weight = layer->bias = NULL;
}

mt_status mt_embedding_layer_init(mt_embedding_layer *layer, int64_t num, int64_t dim,
                                  uint64_t seed, mt_params *params)
{
    static const char fn[] = "mt_embedding_layer_init";
    if (!layer) return mti_fail_null(fn, "layer");
    if (num < 1 || dim < 1)
        return mti_fail(MT_ERR_SHAPE, fn, "num and dim must be >= 1, got %lld and %lld",
                        (long long)num, (long long)dim);
    /* drawn in a scope of its own, keeping one reference: the layer owns the table, never a
     * scope the caller may have open */
    mt_scope s;
    if (!mti_composite_begin(fn, &s)) return mt_last_status();
    mt_tensor *weight = mt_retain(mt_randn(MT_DIMS(num, dim), seed));
    mt_scope_end(s);
    if (!weight) {
        mti_error_context(fn);
        return mt_last_status();
    }
    mt_set_requires_grad(weight, true);
    if (params) {
        mt_status status = mt_params_add(params, weight);
        if (status != MT_OK) {
            mt_release(weight);
            return status;
        }
    }
    layer->weight = weight;
    return MT_OK;
}

mt_tensor *mt_embedding_layer_forward(const mt_embedding_layer *layer, int64_t n,
                                      const int64_t *indices)
{
    static const char fn[] = "mt_embedding_layer_forward";
    if (!layer) return mti_fail_null(fn, "layer"), NULL;
    if (!layer->weight) return mti_fail(MT_ERR_NULL, fn, "the layer is not initialised"), NULL;
    mt_tensor *rows = mt_index_select(layer->weight, 0, n, indices);
    if (!rows) mti_error_context(fn);
    return rows;
}

void mt_embedding_layer_free(mt_embedding_layer *layer)
{
    if (!layer) return;
    mti_unref(layer->weight);
    layer->weight = NULL;
}
