/* Public reductions. sum/prod/max/min keep the reduced dim with size 1; sum_all and mean_all give
 * shape (1,) as MiniTorch does (contiguous -> view (numel,) -> sum over dim 0). */
#include <string.h>

#include "ops/ops_internal.h"
#include "minitorch/ops.h"

static mt_tensor *reduction(const char *fn, mti_reduce_op op, mt_tensor *a, int dim)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    int d;
    if (mti_check_dim(fn, a->ndim, dim, &d) != MT_OK) return NULL;
    mti_node spec = mti_spec(mti_fn_reduce(op), 1, a, NULL, NULL);
    spec.ints[0] = d;
    return mti_record(fn, mti_reduce(fn, op, a, d), &spec, mti_reduce_saves(op) == MTI_SAVES_OUTPUT);
}

mt_tensor *mti_op_sum(const char *fn, mt_tensor *a, int dim)
{
    return reduction(fn, MTI_REDUCE_SUM, a, dim);
}

mt_tensor *mt_sum(mt_tensor *a, int dim) { return mti_track("mt_sum", mti_op_sum("mt_sum", a, dim)); }

mt_tensor *mt_prod(mt_tensor *a, int dim)
{
    return mti_track("mt_prod", reduction("mt_prod", MTI_REDUCE_PROD, a, dim));
}

mt_tensor *mt_max(mt_tensor *a, int dim)
{
    return mti_track("mt_max", reduction("mt_max", MTI_REDUCE_MAX, a, dim));
}

mt_tensor *mt_min(mt_tensor *a, int dim)
{
    return mti_track("mt_min", reduction("mt_min", MTI_REDUCE_MIN, a, dim));
}

mt_tensor *mt_mean(mt_tensor *a, int dim)
{
    static const char fn[] = "mt_mean";
    if (!a) return mti_fail_null(fn, "a"), NULL;
    int d;
    if (mti_check_dim(fn, a->ndim, dim, &d) != MT_OK) return NULL;
    mt_tensor *sum = mti_op_sum(fn, a, d);
    if (!sum) return NULL;
    mt_tensor *mean = mti_op_scalar(fn, MTI_BINARY_MUL, sum, 1.0f / (float)a->shape[d], false);
    mti_unref(sum);
    return mti_track(fn, mean);
}

static mt_tensor *sum_all(const char *fn, mt_tensor *a)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    mt_tensor *c = mti_op_contiguous(fn, a);
    if (!c) return NULL;
    mt_tensor *flat = mti_op_view(fn, c, 1, (const int64_t[]){a->numel});
    mti_unref(c);
    if (!flat) return NULL;
    mt_tensor *sum = mti_op_sum(fn, flat, 0);
    mti_unref(flat);
    return sum;
}

mt_tensor *mt_sum_all(mt_tensor *a) { return mti_track("mt_sum_all", sum_all("mt_sum_all", a)); }

mt_tensor *mt_mean_all(mt_tensor *a)
{
    static const char fn[] = "mt_mean_all";
    mt_tensor *sum = sum_all(fn, a);
    if (!sum) return NULL;
    /* 1/n in double, then rounded once: exact for the power-of-two counts */
    mt_tensor *mean = mti_op_scalar(fn, MTI_BINARY_MUL, sum, (float)(1.0 / (double)a->numel), false);
    mti_unref(sum);
    return mti_track(fn, mean);
}

mt_status mt_reduce_out(mt_tensor *out, mt_reduce_op op, const mt_tensor *a, int dim)
{
    static const char fn[] = "mt_reduce_out";
    const mt_tensor *inputs[1] = {a};
    mt_status status = mti_check_out_args(fn, out, 1, inputs, "mt_reduce_op", (int)op,
                                          mti_reduce_name((mti_reduce_op)op) != NULL);
    int d = 0;
    if (status == MT_OK) status = mti_check_dim(fn, a->ndim, dim, &d);
    if (status != MT_OK) return status;
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[d] = 1;
    status = mti_check_out(fn, out, a->ndim, shape, 1, inputs);
    if (status != MT_OK) return status;
    if (out->storage == a->storage && a->shape[d] > 1 && !mti_views_disjoint(out, a))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "out shares storage with a");
    mti_strided o = mti_strided_of(out), in = mti_strided_of(a);
    mti_run_reduce((mti_reduce_op)op, &o, &in, d);
    mti_bump_version(out);
    return MT_OK;
}

const char *mt_reduce_op_name(mt_reduce_op op) { return mti_reduce_name((mti_reduce_op)op); }
