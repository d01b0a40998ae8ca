/* Public views: permute, transpose, view, reshape, expand, narrow, contiguous. All share storage
 * with their input (except a copying reshape/contiguous) and record history. */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"
#include "minitorch/tensor.h"

static mt_tensor *permute(const char *fn, mt_tensor *t, const int *order)
{
    if (!t) return mti_fail_null(fn, "t"), NULL;
    if (!order) return mti_fail_null(fn, "order"), NULL;
    bool seen[MT_MAX_DIMS] = {false};
    for (int i = 0; i < t->ndim; i++) {
        if (order[i] < 0 || order[i] >= t->ndim || seen[order[i]]) {
            char text[64] = "";
            size_t used = 0;
            for (int j = 0; j < t->ndim && used < sizeof text; j++)
                used += (size_t)snprintf(text + used, sizeof text - used, j ? ",%d" : "%d", order[j]);
            mti_fail(MT_ERR_INVALID_ARG, fn, "order (%s) is not a permutation of 0..%d", text,
                     t->ndim - 1);
            return NULL;
        }
        seen[order[i]] = true;
    }
    int64_t shape[MT_MAX_DIMS], strides[MT_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) {
        shape[i] = t->shape[order[i]];
        strides[i] = t->strides[order[i]];
    }
    mti_node spec = mti_spec(MTI_FN_PERMUTE, 1, t, NULL, NULL);
    memcpy(spec.ints, order, sizeof(int) * (size_t)t->ndim);
    return mti_record(fn, mti_tensor_alias(fn, t, t->ndim, shape, strides, t->offset), &spec, false);
}

mt_tensor *mt_permute(mt_tensor *t, const int *order) { return mti_track("mt_permute", permute("mt_permute", t, order)); }

mt_tensor *mt_transpose(mt_tensor *t, int dim0, int dim1)
{
    static const char fn[] = "mt_transpose";
    if (!t) return mti_fail_null(fn, "t"), NULL;
    int d0, d1;
    if (mti_check_dim(fn, t->ndim, dim0, &d0) != MT_OK || mti_check_dim(fn, t->ndim, dim1, &d1) != MT_OK)
        return NULL;
    int order[MT_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) order[i] = i;
    order[d0] = d1;
    order[d1] = d0;
    return mti_track(fn, permute(fn, t, order));
}

/* Resolves a -1 entry and checks the element count matches `numel`. */
static mt_status resolve_shape(const char *fn, int ndim, const int64_t *shape, int64_t numel,
                               int64_t *resolved)
{
    if (!shape) return mti_fail_null(fn, "shape");
    if (ndim < 1 || ndim > MT_MAX_DIMS)
        return mti_fail(MT_ERR_SHAPE, fn, "ndim must be 1..%d, got %d", MT_MAX_DIMS, ndim);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        resolved[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
            resolved[i] = 1;
        }
    }
    mt_status status = mti_check_shape(fn, ndim, resolved, &known);
    if (status != MT_OK) return status;
    if (infer >= 0) {
        if (numel % known != 0) {
            char text[MTI_SHAPE_TEXT];
            return mti_fail(MT_ERR_SHAPE, fn, "cannot infer the -1 in %s for %lld elements",
                            mti_format_shape(text, sizeof text, ndim, shape), (long long)numel);
        }
        resolved[infer] = numel / known;
        known = numel;
    }
    if (known != numel) {
        char text[MTI_SHAPE_TEXT];
        return mti_fail(MT_ERR_SHAPE, fn, "shape %s has %lld elements, the tensor has %lld",
                        mti_format_shape(text, sizeof text, ndim, resolved), (long long)known,
                        (long long)numel);
    }
    return MT_OK;
}

mt_tensor *mti_op_view(const char *fn, mt_tensor *t, int ndim, const int64_t *shape)
{
    if (!t) return mti_fail_null(fn, "t"), NULL;
    int64_t resolved[MT_MAX_DIMS], strides[MT_MAX_DIMS];
    if (resolve_shape(fn, ndim, shape, t->numel, resolved) != MT_OK) return NULL;
    if (!mti_is_contiguous_layout(t->ndim, t->shape, t->strides)) {
        char text[MTI_SHAPE_TEXT], st[MTI_SHAPE_TEXT];
        mti_fail(MT_ERR_NOT_CONTIGUOUS, fn,
                 "the tensor (shape %s, strides %s) is not contiguous; call mt_contiguous first "
                 "or use mt_reshape",
                 mti_format_shape(text, sizeof text, t->ndim, t->shape),
                 mti_format_shape(st, sizeof st, t->ndim, t->strides));
        return NULL;
    }
    mti_row_major_strides(ndim, resolved, strides);
    mti_node spec = mti_spec(MTI_FN_VIEW, 1, t, NULL, NULL);
    spec.ndim = t->ndim;
    memcpy(spec.shape, t->shape, sizeof spec.shape);
    return mti_record(fn, mti_tensor_alias(fn, t, ndim, resolved, strides, t->offset), &spec, false);
}

mt_tensor *mt_view(mt_tensor *t, int ndim, const int64_t *shape)
{
    return mti_track("mt_view", mti_op_view("mt_view", t, ndim, shape));
}

mt_tensor *mti_op_contiguous(const char *fn, mt_tensor *t)
{
    if (!t) return mti_fail_null(fn, "t"), NULL;
    if (mti_is_contiguous_layout(t->ndim, t->shape, t->strides)) return mti_ref(t);
    mti_node spec = mti_spec(MTI_FN_ID, 1, t, NULL, NULL);
    return mti_record(fn, mti_copy(fn, t), &spec, false);
}

mt_tensor *mt_contiguous(mt_tensor *t) { return mti_track("mt_contiguous", mti_op_contiguous("mt_contiguous", t)); }

mt_tensor *mt_reshape(mt_tensor *t, int ndim, const int64_t *shape)
{
    static const char fn[] = "mt_reshape";
    if (!t) return mti_fail_null(fn, "t"), NULL;
    int64_t resolved[MT_MAX_DIMS];
    if (resolve_shape(fn, ndim, shape, t->numel, resolved) != MT_OK) return NULL;
    mt_tensor *c = mti_op_contiguous(fn, t);
    if (!c) return NULL;
    mt_tensor *v = mti_op_view(fn, c, ndim, resolved);
    mti_unref(c);
    return mti_track(fn, v);
}

mt_tensor *mt_expand(mt_tensor *t, int ndim, const int64_t *shape)
{
    static const char fn[] = "mt_expand";
    if (!t) return mti_fail_null(fn, "t"), NULL;
    if (mti_check_shape(fn, ndim, shape, NULL) != MT_OK) return NULL;
    if (mti_check_broadcasts_to(fn, "the tensor", t->ndim, t->shape, "the shape", ndim, shape) != MT_OK)
        return NULL;
    mti_strided v = mti_strided_expanded(t, ndim, shape);
    mti_node spec = mti_spec(MTI_FN_EXPAND, 1, t, NULL, NULL);
    return mti_track(fn, mti_record(fn, mti_tensor_alias(fn, t, ndim, shape, v.strides, t->offset), &spec, false));
}

mt_tensor *mti_op_narrow(const char *fn, mt_tensor *t, int dim, int64_t start, int64_t length)
{
    if (!t) return mti_fail_null(fn, "t"), NULL;
    int d;
    if (mti_check_dim(fn, t->ndim, dim, &d) != MT_OK) return NULL;
    if (start < 0 || length < 1 || start > t->shape[d] - length) {
        mti_fail(MT_ERR_INDEX, fn,
                 "start %lld, length %lld is out of range for dim %d of size %lld (need start >= 0, "
                 "length >= 1, start + length <= size)",
                 (long long)start, (long long)length, d, (long long)t->shape[d]);
        return NULL;
    }
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = length;
    mti_node spec = mti_spec(MTI_FN_NARROW, 1, t, NULL, NULL);
    spec.ints[0] = d;
    spec.start = start;
    spec.ndim = t->ndim;
    memcpy(spec.shape, t->shape, sizeof spec.shape);
    mt_tensor *out = mti_tensor_alias(fn, t, t->ndim, shape, t->strides, t->offset + start * t->strides[d]);
    return mti_record(fn, out, &spec, false);
}

mt_tensor *mt_narrow(mt_tensor *t, int dim, int64_t start, int64_t length)
{
    return mti_track("mt_narrow", mti_op_narrow("mt_narrow", t, dim, start, length));
}
