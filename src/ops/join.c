/* Public joins: cat (along an existing dim) and stack (along a new one).
 *
 * The result is one new tensor; each part is copied into its region by the copy kernel, so parts
 * may have any strides. A record holds at most MTI_NODE_MAX_INPUTS inputs, so the history of a
 * cat of more parts is a tree: the parts are cut into three groups, each group's region of the
 * result becomes a tensor (an alias of the result's storage, no copy) recorded as the cat of
 * that group, and the result as the cat of the three regions. The gradient flows back through
 * narrows of g, one tree level after another. */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"
#include "runtime/alloc.h"
#include "minitorch/ops.h"

/* Records `whole` (the region of the result holding parts[0..n-1] along d) as their cat.
 * Consumes `whole`; returns it, or NULL on failure. */
static mt_tensor *record_parts(const char *fn, mt_tensor *whole, int n, mt_tensor *const *parts,
                               int d)
{
    mti_node spec = mti_spec(MTI_FN_CAT, 0, NULL, NULL, NULL);
    spec.ints[0] = d;
    if (n <= MTI_NODE_MAX_INPUTS) {
        spec.input_count = n;
        for (int i = 0; i < n; i++) spec.inputs[i] = parts[i];
        return mti_record(fn, whole, &spec, false);
    }
    mt_tensor *groups[MTI_NODE_MAX_INPUTS] = {NULL};
    int64_t offset = 0, shape[MT_MAX_DIMS];
    memcpy(shape, whole->shape, sizeof shape);
    for (int g = 0; g < MTI_NODE_MAX_INPUTS; g++) {
        const int lo = n * g / MTI_NODE_MAX_INPUTS, hi = n * (g + 1) / MTI_NODE_MAX_INPUTS;
        shape[d] = 0;
        for (int i = lo; i < hi; i++) shape[d] += parts[i]->shape[d];
        mt_tensor *region = mti_tensor_alias(fn, whole, whole->ndim, shape, whole->strides,
                                             whole->offset + offset * whole->strides[d]);
        groups[g] = region ? record_parts(fn, region, hi - lo, parts + lo, d) : NULL;
        if (!groups[g]) {
            for (int i = 0; i < g; i++) mti_unref(groups[i]);
            mti_unref(whole);
            return NULL;
        }
        offset += shape[d];
    }
    spec.input_count = MTI_NODE_MAX_INPUTS;
    memcpy(spec.inputs, groups, sizeof groups);
    mt_tensor *out = mti_record(fn, whole, &spec, false); /* holds the groups */
    for (int g = 0; g < MTI_NODE_MAX_INPUTS; g++) mti_unref(groups[g]);
    return out;
}

/* The list checks shared by cat and stack: ts and every entry present, n >= 1. */
static mt_status check_list(const char *fn, int n, mt_tensor *const *ts)
{
    if (!ts) return mti_fail_null(fn, "ts");
    if (n < 1) return mti_fail(MT_ERR_INVALID_ARG, fn, "n must be >= 1, got %d", n);
    for (int i = 0; i < n; i++)
        if (!ts[i]) {
            char name[32];
            snprintf(name, sizeof name, "ts[%d]", i);
            return mti_fail_null(fn, name);
        }
    return MT_OK;
}

/* MT_ERR_SHAPE naming part i when its shape differs from ts[0]'s (except at dim `except`, or
 * anywhere when except < 0). */
static mt_status check_alike(const char *fn, int i, const mt_tensor *t, const mt_tensor *first,
                             int except)
{
    bool alike = t->ndim == first->ndim;
    for (int d = 0; alike && d < t->ndim; d++) alike = d == except || t->shape[d] == first->shape[d];
    if (alike) return MT_OK;
    char ts[MTI_SHAPE_TEXT], fs[MTI_SHAPE_TEXT];
    mti_format_shape(ts, sizeof ts, t->ndim, t->shape);
    mti_format_shape(fs, sizeof fs, first->ndim, first->shape);
    if (except < 0)
        return mti_fail(MT_ERR_SHAPE, fn, "ts[%d] has shape %s, ts[0] has shape %s (they must be equal)",
                        i, ts, fs);
    return mti_fail(MT_ERR_SHAPE, fn,
                    "ts[%d] has shape %s, ts[0] has shape %s (they must match except at dim %d)",
                    i, ts, fs, except);
}

mt_tensor *mti_op_cat(const char *fn, int n, mt_tensor *const *ts, int dim)
{
    if (check_list(fn, n, ts) != MT_OK) return NULL;
    const mt_tensor *first = ts[0];
    int d;
    if (mti_check_dim(fn, first->ndim, dim, &d) != MT_OK) return NULL;
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, first->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        if (check_alike(fn, i, ts[i], first, d) != MT_OK) return NULL;
        if (shape[d] > ((int64_t)1 << 60) - ts[i]->shape[d]) {
            mti_fail(MT_ERR_OVERFLOW, fn, "the result's dim %d has more than 2^60 elements", d);
            return NULL;
        }
        shape[d] += ts[i]->shape[d];
    }
    mt_tensor *out = mti_tensor_empty(fn, first->ndim, shape);
    if (!out) return NULL;
    int64_t offset = 0;
    for (int i = 0; i < n; i++) {
        mti_strided region = mti_strided_of(out), part = mti_strided_of(ts[i]);
        region.data += offset * out->strides[d];
        region.shape[d] = ts[i]->shape[d];
        mti_run_map(MTI_UNARY_ID, MTI_NO_PARAMS, &region, &part);
        offset += ts[i]->shape[d];
    }
    return mti_should_record(n, ts) ? record_parts(fn, out, n, ts, d) : out;
}

mt_tensor *mt_cat(int n, mt_tensor *const *ts, int dim)
{
    return mti_track("mt_cat", mti_op_cat("mt_cat", n, ts, dim));
}

mt_tensor *mt_stack(int n, mt_tensor *const *ts, int dim)
{
    static const char fn[] = "mt_stack";
    if (check_list(fn, n, ts) != MT_OK) return NULL;
    for (int i = 1; i < n; i++)
        if (check_alike(fn, i, ts[i], ts[0], -1) != MT_OK) return NULL;
    /* the cat of the parts with a size-1 dim inserted at `dim` (unsqueeze checks dim) */
    mt_tensor **parts = mti_calloc((size_t)n, sizeof *parts);
    if (!parts) {
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a list of %d tensors", n);
        return NULL;
    }
    mt_tensor *out = NULL;
    int made = 0;
    while (made < n && (parts[made] = mti_op_unsqueeze(fn, ts[made], dim))) made++;
    if (made == n) out = mti_op_cat(fn, n, parts, dim < 0 ? dim + ts[0]->ndim + 1 : dim);
    for (int i = 0; i < made; i++) mti_unref(parts[i]);
    mti_free(parts);
    return mti_track(fn, out);
}
