/* Public matrix products: matmul, the fused linear layer, and matmul into a caller's output. */
#include "ops/ops_internal.h"
#include "minitorch/ops.h"

mt_tensor *mt_matmul(mt_tensor *a, mt_tensor *b)
{
    static const char fn[] = "mt_matmul";
    mti_node spec = mti_spec(MTI_FN_MATMUL, 2, a, b, NULL);
    return mti_track(fn, mti_record(fn, mti_matmul(fn, a, b, NULL), &spec, false));
}

mt_tensor *mt_linear(mt_tensor *x, mt_tensor *w, mt_tensor *bias)
{
    static const char fn[] = "mt_linear";
    if (!x) return mti_fail_null(fn, "x"), NULL;
    if (!w) return mti_fail_null(fn, "w"), NULL;
    char tx[MTI_SHAPE_TEXT], tw[MTI_SHAPE_TEXT], tb[MTI_SHAPE_TEXT];
    if (x->ndim < 2 || w->ndim != 2) {
        mti_fail(MT_ERR_SHAPE, fn, "need x (..., in) with at least 2 dims and w (in, out): x is %s, w is %s",
                 mti_format_shape(tx, sizeof tx, x->ndim, x->shape),
                 mti_format_shape(tw, sizeof tw, w->ndim, w->shape));
        return NULL;
    }
    if (bias && !(bias->ndim == 1 && bias->shape[0] == w->shape[1]) &&
        !(bias->ndim == 2 && bias->shape[0] == 1 && bias->shape[1] == w->shape[1])) {
        mti_fail(MT_ERR_SHAPE, fn, "bias must have shape (%lld) or (1, %lld): bias is %s",
                 (long long)w->shape[1], (long long)w->shape[1],
                 mti_format_shape(tb, sizeof tb, bias->ndim, bias->shape));
        return NULL;
    }
    mti_node spec = mti_spec(MTI_FN_LINEAR, 3, x, w, bias);
    return mti_track(fn, mti_record(fn, mti_matmul(fn, x, w, bias), &spec, false));
}

mt_status mt_matmul_out(mt_tensor *out, const mt_tensor *a, const mt_tensor *b)
{
    static const char fn[] = "mt_matmul_out";
    if (!out) return mti_fail_null(fn, "out");
    if (!a) return mti_fail_null(fn, "a");
    if (!b) return mti_fail_null(fn, "b");
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    mt_status status = mti_matmul_shape(fn, a, b, &ndim, shape);
    if (status != MT_OK) return status;
    const mt_tensor *inputs[2] = {a, b};
    status = mti_check_out(fn, out, ndim, shape, 2, inputs);
    if (status != MT_OK) return status;
    if ((out->storage == a->storage && !mti_views_disjoint(out, a)) ||
        (out->storage == b->storage && !mti_views_disjoint(out, b)))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "out shares storage with an input");
    int64_t sa[MT_MAX_DIMS], sb[MT_MAX_DIMS];
    for (int i = 0; i < ndim - 2; i++) sa[i] = sb[i] = shape[i];
    sa[ndim - 2] = a->shape[a->ndim - 2];
    sa[ndim - 1] = a->shape[a->ndim - 1];
    sb[ndim - 2] = b->shape[b->ndim - 2];
    sb[ndim - 1] = b->shape[b->ndim - 1];
    mti_strided o = mti_strided_of(out);
    mti_strided va = mti_strided_expanded(a, ndim, sa), vb = mti_strided_expanded(b, ndim, sb);
    status = mti_run_matmul(fn, &o, &va, &vb, NULL, false, false, false);
    if (status == MT_OK) mti_bump_version(out);
    return status;
}
