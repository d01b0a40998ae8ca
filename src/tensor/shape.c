/* Shapes, strides and MiniTorch's index helpers. */
#include <stdint.h>

#include "runtime/error.h"
#include "tensor/tensor_impl.h"

mt_status mti_check_shape(const char *fn, int ndim, const int64_t *shape, int64_t *numel)
{
    if (!shape) return mti_fail(MT_ERR_NULL, fn, "shape is NULL");
    if (ndim < 1 || ndim > MT_MAX_DIMS)
        return mti_fail(MT_ERR_SHAPE, fn, "ndim must be 1..%d, got %d", MT_MAX_DIMS, ndim);
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) {
            char text[MTI_SHAPE_TEXT];
            return mti_fail(MT_ERR_SHAPE, fn,
                            "dim %d of shape %s is %lld; sizes must be >= 1 (empty tensors are "
                            "not supported)",
                            i, mti_format_shape(text, sizeof text, ndim, shape),
                            (long long)shape[i]);
        }
        /* element counts stay below 2^60 so byte sizes and index arithmetic never overflow */
        if (count > (((int64_t)1 << 60) / shape[i])) {
            char text[MTI_SHAPE_TEXT];
            return mti_fail(MT_ERR_OVERFLOW, fn, "shape %s has too many elements (limit 2^60)",
                            mti_format_shape(text, sizeof text, ndim, shape));
        }
        count *= shape[i];
    }
    if (numel) *numel = count;
    return MT_OK;
}

mt_status mti_check_dim(const char *fn, int ndim, int dim, int *normalized)
{
    if (dim < -ndim || dim >= ndim)
        return mti_fail(MT_ERR_INDEX, fn, "dim %d is out of range for a %d-dim tensor", dim, ndim);
    *normalized = dim < 0 ? dim + ndim : dim;
    return MT_OK;
}

mt_status mti_check_broadcasts_to(const char *fn, const char *what, int ndim, const int64_t *shape,
                                  const char *target, int to_ndim, const int64_t *to_shape)
{
    int bn;
    int64_t bshape[MT_MAX_DIMS];
    bool fits = ndim <= to_ndim &&
                mti_shape_broadcast(fn, ndim, shape, to_ndim, to_shape, &bn, bshape) == MT_OK &&
                mti_same_shape(bn, bshape, to_ndim, to_shape);
    if (fits) return MT_OK;
    char a[MTI_SHAPE_TEXT], b[MTI_SHAPE_TEXT];
    return mti_fail(MT_ERR_BROADCAST, fn, "%s %s does not broadcast to %s %s", what,
                    mti_format_shape(a, sizeof a, ndim, shape), target,
                    mti_format_shape(b, sizeof b, to_ndim, to_shape));
}

bool mti_same_shape(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b)
{
    if (ndim_a != ndim_b) return false;
    for (int i = 0; i < ndim_a; i++)
        if (a[i] != b[i]) return false;
    return true;
}

bool mti_is_contiguous_layout(int ndim, const int64_t *shape, const int64_t *strides)
{
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        if (shape[i] != 1 && strides[i] != expected) return false;
        expected *= shape[i];
    }
    return true;
}

mt_status mt_strides_from_shape(int ndim, const int64_t *shape, int64_t *strides)
{
    if (!strides) return mti_fail_null("mt_strides_from_shape", "strides");
    mt_status status = mti_check_shape("mt_strides_from_shape", ndim, shape, NULL);
    if (status != MT_OK) return status;
    mti_row_major_strides(ndim, shape, strides);
    return MT_OK;
}

void mti_row_major_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= shape[i];
    }
}

int64_t mt_index_to_position(int ndim, const int64_t *index, const int64_t *strides)
{
    int64_t position = 0;
    for (int i = 0; i < ndim; i++) position += index[i] * strides[i];
    return position;
}

mt_status mt_to_index(int64_t ordinal, int ndim, const int64_t *shape, int64_t *index)
{
    static const char fn[] = "mt_to_index";
    if (!index) return mti_fail_null(fn, "index");
    int64_t numel;
    mt_status status = mti_check_shape(fn, ndim, shape, &numel);
    if (status != MT_OK) return status;
    if (ordinal < 0 || ordinal >= numel)
        return mti_fail(MT_ERR_INDEX, fn, "ordinal %lld is out of range 0..%lld",
                        (long long)ordinal, (long long)(numel - 1));
    for (int i = ndim - 1; i >= 0; i--) {
        index[i] = ordinal % shape[i];
        ordinal /= shape[i];
    }
    return MT_OK;
}

mt_status mt_broadcast_index(int big_ndim, const int64_t *big_index, const int64_t *big_shape,
                             int ndim, const int64_t *shape, int64_t *index)
{
    static const char fn[] = "mt_broadcast_index";
    if (!big_index) return mti_fail_null(fn, "big_index");
    if (!index) return mti_fail_null(fn, "index");
    mt_status status = mti_check_shape(fn, big_ndim, big_shape, NULL);
    if (status == MT_OK) status = mti_check_shape(fn, ndim, shape, NULL);
    if (status != MT_OK) return status;
    if (ndim > big_ndim)
        return mti_fail(MT_ERR_BROADCAST, fn, "shape has %d dims, more than the big shape's %d",
                        ndim, big_ndim);
    int lead = big_ndim - ndim;
    for (int i = 0; i < ndim; i++) {
        int64_t size = shape[i], big = big_shape[i + lead];
        if (size != 1 && size != big) {
            char a[MTI_SHAPE_TEXT], b[MTI_SHAPE_TEXT];
            return mti_fail(MT_ERR_BROADCAST, fn, "shape %s does not broadcast to %s",
                            mti_format_shape(a, sizeof a, ndim, shape),
                            mti_format_shape(b, sizeof b, big_ndim, big_shape));
        }
        int64_t value = big_index[i + lead];
        if (value < 0 || value >= big)
            return mti_fail(MT_ERR_INDEX, fn, "big_index[%d] = %lld is out of range 0..%lld",
                            i + lead, (long long)value, (long long)(big - 1));
    }
    for (int i = 0; i < ndim; i++) index[i] = shape[i] > 1 ? big_index[i + lead] : 0;
    return MT_OK;
}

mt_status mt_shape_broadcast(int ndim_a, const int64_t *shape_a, int ndim_b,
                             const int64_t *shape_b, int *out_ndim, int64_t *out_shape)
{
    return mti_shape_broadcast("mt_shape_broadcast", ndim_a, shape_a, ndim_b, shape_b, out_ndim,
                               out_shape);
}

mt_status mti_shape_broadcast(const char *fn, int ndim_a, const int64_t *shape_a, int ndim_b,
                              const int64_t *shape_b, int *out_ndim, int64_t *out_shape)
{
    if (!out_ndim) return mti_fail_null(fn, "out_ndim");
    if (!out_shape) return mti_fail_null(fn, "out_shape");
    mt_status status = mti_check_shape(fn, ndim_a, shape_a, NULL);
    if (status == MT_OK) status = mti_check_shape(fn, ndim_b, shape_b, NULL);
    if (status != MT_OK) return status;
    int ndim = ndim_a > ndim_b ? ndim_a : ndim_b;
    int64_t result[MT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int ia = i - (ndim - ndim_a), ib = i - (ndim - ndim_b);
        int64_t a = ia >= 0 ? shape_a[ia] : 1;
        int64_t b = ib >= 0 ? shape_b[ib] : 1;
        if (a != b && a != 1 && b != 1) {
            char ta[MTI_SHAPE_TEXT], tb[MTI_SHAPE_TEXT];
            return mti_fail(MT_ERR_BROADCAST, fn, "cannot broadcast %s with %s (dim %d: %lld vs %lld)",
                            mti_format_shape(ta, sizeof ta, ndim_a, shape_a),
                            mti_format_shape(tb, sizeof tb, ndim_b, shape_b), i, (long long)a,
                            (long long)b);
        }
        result[i] = a > b ? a : b;
    }
    *out_ndim = ndim;
    for (int i = 0; i < ndim; i++) out_shape[i] = result[i];
    return MT_OK;
}
