/* Public views that change the shape: squeeze, unsqueeze, flatten, and split (a list of narrows).
 * All share storage with their input (flatten copies when the dims cannot be merged) and record
 * history. */
#include <string.h>

#include "ops/ops_internal.h"
#include "runtime/alloc.h"
#include "minitorch/tensor.h"

/* An alias of t with size-1 dims removed or inserted (same elements, same order), recorded so
 * that the gradient goes back through the inverse change (autodiff: SQUEEZE). */
static mt_tensor *unit_dims_alias(const char *fn, mt_tensor *t, int ndim, const int64_t *shape,
                                  const int64_t *strides)
{
    mti_node spec = mti_spec(MTI_FN_SQUEEZE, 1, t, NULL, NULL);
    spec.ndim = t->ndim;
    memcpy(spec.shape, t->shape, sizeof spec.shape);
    return mti_record(fn, mti_tensor_alias(fn, t, ndim, shape, strides, t->offset), &spec, false);
}

mt_tensor *mt_squeeze(mt_tensor *a, int dim)
{
    static const char fn[] = "mt_squeeze";
    if (!a) return mti_fail_null(fn, "a"), NULL;
    int d;
    if (mti_check_dim(fn, a->ndim, dim, &d) != MT_OK) return NULL;
    int64_t shape[MT_MAX_DIMS], strides[MT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    memcpy(strides, a->strides, sizeof strides);
    int ndim = a->ndim;
    /* only a size-1 dim goes, and never the last one: tensors have at least one dim */
    if (a->shape[d] == 1 && a->ndim > 1) {
        memmove(shape + d, shape + d + 1, sizeof(int64_t) * (size_t)(ndim - d - 1));
        memmove(strides + d, strides + d + 1, sizeof(int64_t) * (size_t)(ndim - d - 1));
        ndim--;
    }
    return mti_track(fn, unit_dims_alias(fn, a, ndim, shape, strides));
}

mt_tensor *mti_op_unsqueeze(const char *fn, mt_tensor *t, int dim)
{
    if (!t) return mti_fail_null(fn, "a"), NULL;
    if (dim < -t->ndim - 1 || dim > t->ndim) {
        mti_fail(MT_ERR_INDEX, fn, "dim %d is out of range for inserting into a %d-dim tensor "
                 "(need %d..%d)", dim, t->ndim, -t->ndim - 1, t->ndim);
        return NULL;
    }
    if (t->ndim == MT_MAX_DIMS) {
        mti_fail(MT_ERR_SHAPE, fn, "the tensor already has the most dims (%d)", MT_MAX_DIMS);
        return NULL;
    }
    const int d = dim < 0 ? dim + t->ndim + 1 : dim;
    int64_t shape[MT_MAX_DIMS], strides[MT_MAX_DIMS];
    for (int i = 0, j = 0; i <= t->ndim; i++) {
        if (i == d) {
            shape[i] = 1; /* the stride PyTorch gives it: as if contiguous with the next dim */
            strides[i] = d < t->ndim ? t->shape[d] * t->strides[d] : 1;
        } else {
            shape[i] = t->shape[j];
            strides[i] = t->strides[j++];
        }
    }
    return unit_dims_alias(fn, t, t->ndim + 1, shape, strides);
}

mt_tensor *mt_unsqueeze(mt_tensor *a, int dim)
{
    return mti_track("mt_unsqueeze", mti_op_unsqueeze("mt_unsqueeze", a, dim));
}

/* The stride of dims first..last merged into one, or -1 when their layout cannot be walked as a
 * single dim (ignoring size-1 dims, each dim must step over the whole of the next). */
static int64_t merged_stride(const mt_tensor *t, int first, int last)
{
    int64_t stride = 1, next_span = -1; /* next_span: stride * size of the next kept dim */
    for (int d = last; d >= first; d--) {
        if (t->shape[d] == 1) continue;
        if (next_span < 0)
            stride = t->strides[d];
        else if (t->strides[d] != next_span)
            return -1;
        next_span = t->strides[d] * t->shape[d];
    }
    return stride;
}

mt_tensor *mt_flatten(mt_tensor *a, int start, int end)
{
    static const char fn[] = "mt_flatten";
    if (!a) return mti_fail_null(fn, "a"), NULL;
    int first, last;
    if (mti_check_dim(fn, a->ndim, start, &first) != MT_OK ||
        mti_check_dim(fn, a->ndim, end, &last) != MT_OK)
        return NULL;
    if (first > last) {
        mti_fail(MT_ERR_INVALID_ARG, fn, "start dim %d comes after end dim %d", first, last);
        return NULL;
    }
    if (first == last) return mti_track(fn, mti_ref(a)); /* nothing to merge: a itself */
    int64_t shape[MT_MAX_DIMS], strides[MT_MAX_DIMS], merged = 1;
    for (int d = first; d <= last; d++) merged *= a->shape[d];
    int ndim = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d > first && d <= last) continue;
        shape[ndim] = d == first ? merged : a->shape[d];
        strides[ndim++] = a->strides[d];
    }
    const int64_t stride = merged_stride(a, first, last);
    if (stride < 0) { /* as reshape: a contiguous copy, then a view of it */
        mt_tensor *c = mti_op_contiguous(fn, a);
        mt_tensor *v = c ? mti_op_view(fn, c, ndim, shape) : NULL;
        mti_unref(c);
        return mti_track(fn, v);
    }
    strides[first] = stride;
    mti_node spec = mti_spec(MTI_FN_VIEW, 1, a, NULL, NULL);
    spec.ndim = a->ndim;
    memcpy(spec.shape, a->shape, sizeof spec.shape);
    return mti_track(fn, mti_record(fn, mti_tensor_alias(fn, a, ndim, shape, strides, a->offset),
                                    &spec, false));
}

int mt_split(mt_tensor *a, int64_t size, int dim, mt_tensor **out, int max_out)
{
    static const char fn[] = "mt_split";
    if (!a) return mti_fail_null(fn, "a"), -1;
    if (!out) return mti_fail_null(fn, "out"), -1;
    int d;
    if (mti_check_dim(fn, a->ndim, dim, &d) != MT_OK) return -1;
    if (size < 1) {
        mti_fail(MT_ERR_INVALID_ARG, fn, "size must be >= 1, got %lld", (long long)size);
        return -1;
    }
    const int64_t length = a->shape[d], count = length / size + (length % size != 0);
    if (count > max_out) {
        mti_fail(MT_ERR_INVALID_ARG, fn,
                 "out holds %d tensors; splitting dim %d of size %lld in pieces of %lld makes %lld",
                 max_out, d, (long long)length, (long long)size, (long long)count);
        return -1;
    }
    /* every piece is made before any is handed out, so a failure returns nothing */
    mt_tensor **pieces = mti_calloc((size_t)count, sizeof *pieces);
    if (!pieces) {
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a list of %lld tensors", (long long)count);
        return -1;
    }
    int made = 0;
    for (; made < count; made++) {
        const int64_t start = (int64_t)made * size;
        pieces[made] = mti_op_narrow(fn, a, d, start, length - start < size ? length - start : size);
        if (!pieces[made]) break;
    }
    bool tracked = made == count;
    for (int i = 0; i < made; i++) {
        if (!tracked) {
            mti_unref(pieces[i]);
        } else if (!(pieces[i] = mti_track(fn, pieces[i]))) {
            tracked = false; /* the scope could not grow: drop the rest (those tracked are the
                              * scope's to free) */
        }
    }
    if (tracked) memcpy(out, pieces, sizeof *pieces * (size_t)count);
    mti_free(pieces);
    return tracked ? (int)count : -1;
}
