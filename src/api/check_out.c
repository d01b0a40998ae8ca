#include "api/api.h"
#include "minitorch/autodiff.h"

mt_status mti_check_out(const char *fn, const mt_tensor *out, int ndim, const int64_t *shape,
                        int input_count, const mt_tensor *const *inputs)
{
    char to[MTI_SHAPE_TEXT], ts[MTI_SHAPE_TEXT];
    if (!mti_same_shape(out->ndim, out->shape, ndim, shape))
        return mti_fail(MT_ERR_SHAPE, fn, "out has shape %s, the result has shape %s",
                        mti_format_shape(to, sizeof to, out->ndim, out->shape),
                        mti_format_shape(ts, sizeof ts, ndim, shape));
    for (int d = 0; d < out->ndim; d++)
        if (out->strides[d] == 0 && out->shape[d] > 1)
            return mti_fail(MT_ERR_INVALID_ARG, fn,
                            "out is expanded along dim %d (stride 0): its elements overlap", d);
    if (out->requires_grad && mt_grad_enabled())
        return mti_fail(MT_ERR_AUTODIFF, fn,
                        "out requires grad; writing into it would bypass autodiff (use no-grad "
                        "mode)");
    for (int i = 0; i < input_count; i++) {
        const mt_tensor *in = inputs[i];
        if (in->storage != out->storage) continue;
        bool identical = in->offset == out->offset &&
                         mti_same_shape(in->ndim, in->shape, out->ndim, out->shape);
        for (int d = 0; identical && d < out->ndim; d++)
            identical = in->strides[d] == out->strides[d] || out->shape[d] == 1;
        if (!identical)
            return mti_fail(MT_ERR_INVALID_ARG, fn,
                            "out shares storage with input %d without being the same view "
                            "(partial overlap)",
                            i);
    }
    return MT_OK;
}
