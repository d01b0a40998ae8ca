#include "ops/ops_internal.h"
#include "minitorch/autodiff.h"

/* The first and last storage element a view can touch. */
static void extent(const mt_tensor *t, int64_t *first, int64_t *last)
{
    *first = *last = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        int64_t span = (t->shape[d] - 1) * t->strides[d];
        if (span < 0) *first += span;
        else *last += span;
    }
}

/* Two views of one storage that cannot touch the same element (e.g. two narrows side by side). */
bool mti_views_disjoint(const mt_tensor *a, const mt_tensor *b)
{
    int64_t a0, a1, b0, b1;
    extent(a, &a0, &a1);
    extent(b, &b0, &b1);
    return a1 < b0 || b1 < a0;
}

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
        if (in->storage != out->storage || mti_views_disjoint(in, out)) continue;
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

mt_status mti_check_out_args(const char *fn, const mt_tensor *out, int input_count,
                             const mt_tensor *const *inputs, const char *op_type, int op,
                             bool op_valid)
{
    static const char *const names[] = {"a", "b"};
    if (!out) return mti_fail_null(fn, "out");
    for (int i = 0; i < input_count; i++)
        if (!inputs[i]) return mti_fail_null(fn, names[i]);
    if (!op_valid) return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not an %s", op, op_type);
    return MT_OK;
}

mt_status mti_check_elementwise_out(const char *fn, const mt_tensor *out, int input_count,
                                    const mt_tensor *const *inputs)
{
    static const char *const names[] = {"a", "b"};
    mt_status status = mti_check_out(fn, out, out->ndim, out->shape, input_count, inputs);
    for (int i = 0; i < input_count && status == MT_OK; i++)
        status = mti_check_broadcasts_to(fn, names[i], inputs[i]->ndim, inputs[i]->shape, "out",
                                         out->ndim, out->shape);
    return status;
}
