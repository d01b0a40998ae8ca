#include "kernels/dispatch.h"

#include <string.h>

#include "kernels/kernels.h"
#include "runtime/error.h"

mt_tensor *mti_map(const char *fn, mt_unary_op op, const mt_tensor *a)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    mt_tensor *out = mti_tensor_empty(fn, a->ndim, a->shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out), in = mti_strided_of(a);
    mti_current_kernels()->map(op, &o, &in);
    return out;
}

mt_tensor *mti_copy(const char *fn, const mt_tensor *a) { return mti_map(fn, MT_OP_ID, a); }

mt_tensor *mti_zip(const char *fn, mt_binary_op op, const mt_tensor *a, const mt_tensor *b)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    if (!b) return mti_fail_null(fn, "b"), NULL;
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    const bool same = mti_same_shape(a->ndim, a->shape, b->ndim, b->shape);
    if (!same && mti_shape_broadcast(fn, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape) != MT_OK)
        return NULL;
    mt_tensor *out = same ? mti_tensor_empty(fn, a->ndim, a->shape) : mti_tensor_empty(fn, ndim, shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out);
    mti_strided va = same ? mti_strided_of(a) : mti_strided_expanded(a, ndim, shape);
    mti_strided vb = same ? mti_strided_of(b) : mti_strided_expanded(b, ndim, shape);
    mti_current_kernels()->zip(op, &o, &va, &vb);
    return out;
}

mt_tensor *mti_reduce(const char *fn, mt_reduce_op op, const mt_tensor *a, int dim)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    int d;
    if (mti_check_dim(fn, a->ndim, dim, &d) != MT_OK) return NULL;
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[d] = 1;
    mt_tensor *out = mti_tensor_empty(fn, a->ndim, shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out), in = mti_strided_of(a);
    mti_current_kernels()->reduce(op, &o, &in, d);
    return out;
}

mt_tensor *mti_scalar_tensor(const char *fn, float value)
{
    mt_tensor *t = mti_tensor_empty(fn, 1, (const int64_t[]){1});
    if (t) t->storage->data[0] = value;
    return t;
}

mt_status mti_matmul_shape(const char *fn, const mt_tensor *a, const mt_tensor *b, int *ndim,
                           int64_t *shape)
{
    char ta[MTI_SHAPE_TEXT], tb[MTI_SHAPE_TEXT];
    if (a->ndim < 2 || b->ndim < 2)
        return mti_fail(MT_ERR_SHAPE, fn, "operands need at least 2 dims: a is %s, b is %s",
                        mti_format_shape(ta, sizeof ta, a->ndim, a->shape),
                        mti_format_shape(tb, sizeof tb, b->ndim, b->shape));
    int64_t n = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1];
    int64_t k2 = b->shape[b->ndim - 2], m = b->shape[b->ndim - 1];
    if (k != k2)
        return mti_fail(MT_ERR_SHAPE, fn, "inner dims differ: a is %s, b is %s",
                        mti_format_shape(ta, sizeof ta, a->ndim, a->shape),
                        mti_format_shape(tb, sizeof tb, b->ndim, b->shape));
    int batch = 0;
    if (a->ndim > 2 || b->ndim > 2) {
        /* broadcast the batch dims (a missing batch counts as size 1) */
        int64_t one = 1;
        const int64_t *sa = a->ndim > 2 ? a->shape : &one, *sb = b->ndim > 2 ? b->shape : &one;
        int na = a->ndim > 2 ? a->ndim - 2 : 1, nb = b->ndim > 2 ? b->ndim - 2 : 1;
        if (mti_shape_broadcast(fn, na, sa, nb, sb, &batch, shape) != MT_OK)
            return mti_fail(MT_ERR_BROADCAST, fn, "batch dims do not broadcast: a is %s, b is %s",
                            mti_format_shape(ta, sizeof ta, a->ndim, a->shape),
                            mti_format_shape(tb, sizeof tb, b->ndim, b->shape));
    }
    if (batch + 2 > MT_MAX_DIMS)
        return mti_fail(MT_ERR_SHAPE, fn, "result would have more than %d dims", MT_MAX_DIMS);
    shape[batch] = n;
    shape[batch + 1] = m;
    *ndim = batch + 2;
    return mti_check_shape(fn, *ndim, shape, NULL);
}

mt_status mti_matmul_views(const char *fn, const mti_strided *out, const mti_strided *a,
                           const mti_strided *b, bool trans_a, bool trans_b, bool accumulate)
{
    return mti_current_kernels()->matmul(fn, out, a, b, NULL, trans_a, trans_b, accumulate);
}

/* `t` laid out for the kernel: batch dims broadcast to `ndim` dims (`shape`), its own last two
 * dims kept. */
static mti_strided batch_expanded(const mt_tensor *t, int ndim, const int64_t *batch_shape)
{
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, batch_shape, sizeof(int64_t) * (size_t)(ndim - 2));
    shape[ndim - 2] = t->shape[t->ndim - 2];
    shape[ndim - 1] = t->shape[t->ndim - 1];
    return mti_strided_expanded(t, ndim, shape);
}

mt_tensor *mti_matmul(const char *fn, const mt_tensor *a, const mt_tensor *b,
                      const mt_tensor *bias)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    if (!b) return mti_fail_null(fn, "b"), NULL;
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    if (mti_matmul_shape(fn, a, b, &ndim, shape) != MT_OK) return NULL;
    if (bias && mti_check_broadcasts_to(fn, "bias", bias->ndim, bias->shape, "the result", ndim,
                                        shape) != MT_OK)
        return NULL;
    mt_tensor *out = mti_tensor_empty(fn, ndim, shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out);
    mti_strided va = batch_expanded(a, ndim, shape), vb = batch_expanded(b, ndim, shape);
    mti_strided vbias;
    if (bias) vbias = mti_strided_expanded(bias, ndim, shape);
    if (mti_current_kernels()->matmul(fn, &o, &va, &vb, bias ? &vbias : NULL, false, false, false) !=
        MT_OK) {
        mti_unref(out);
        return NULL;
    }
    return out;
}
