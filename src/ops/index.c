/* Public gathering: index_select (rows picked by a C array of indices along one dim). */
#include <string.h>

#include "ops/ops_internal.h"
#include "runtime/alloc.h"
#include "minitorch/ops.h"

mt_tensor *mt_index_select(mt_tensor *a, int dim, int64_t n, const int64_t *index)
{
    static const char fn[] = "mt_index_select";
    if (!a) return mti_fail_null(fn, "a"), NULL;
    if (!index) return mti_fail_null(fn, "index"), NULL;
    int d;
    if (mti_check_dim(fn, a->ndim, dim, &d) != MT_OK) return NULL;
    if (n < 1) {
        mti_fail(MT_ERR_SHAPE, fn, "n must be >= 1 (empty tensors are not supported), got %lld",
                 (long long)n);
        return NULL;
    }
    for (int64_t j = 0; j < n; j++)
        if (index[j] < 0 || index[j] >= a->shape[d]) {
            mti_fail(MT_ERR_INDEX, fn, "index[%lld] = %lld is out of range for dim %d of size %lld",
                     (long long)j, (long long)index[j], d, (long long)a->shape[d]);
            return NULL;
        }
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[d] = n;
    mt_tensor *out = mti_tensor_empty(fn, a->ndim, shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out), in = mti_strided_of(a);
    mti_run_index_select(&o, &in, d, index);
    if (!mti_should_record(1, &a)) return mti_track(fn, out);

    /* the gradient scatters g back through the same indices: the record keeps a copy */
    mti_node spec = mti_spec(MTI_FN_INDEX_SELECT, 1, a, NULL, NULL);
    spec.ints[0] = d;
    spec.ndim = a->ndim;
    memcpy(spec.shape, a->shape, sizeof spec.shape);
    spec.indices = mti_malloc((size_t)n * sizeof *spec.indices);
    if (!spec.indices) {
        mti_unref(out);
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot record autodiff history");
        return NULL;
    }
    memcpy(spec.indices, index, (size_t)n * sizeof *spec.indices);
    out = mti_record(fn, out, &spec, false);
    if (!out) mti_free(spec.indices); /* no record was made to own them */
    return mti_track(fn, out);
}
