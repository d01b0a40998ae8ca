#include "kernels/dispatch.h"

#include <string.h>

#include "kernels/kernels.h"
#include "runtime/error.h"

#include "runtime/runtime.h"
#include "tensor/observer.h"

static const mti_kernels *current(void) { return mti_kernels_of(mti_backend()); }

void mti_run_map(mti_unary_op op, mti_params params, const mti_strided *out, const mti_strided *in)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_MAP, .op = (int)op, .params = {params.p0, params.p1},
                                 .views = 2, .view = {out, in}});
    current()->map(op, params, out, in);
}

void mti_run_zip(mti_zip_op op, mti_params params, const mti_strided *out, const mti_strided *a,
                 const mti_strided *b)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_ZIP, .op = (int)op, .params = {params.p0, params.p1},
                                 .views = 3, .view = {out, a, b}});
    current()->zip(op, params, out, a, b);
}

void mti_run_zip3(mti_ternary_op op, mti_params params, const mti_strided *out,
                  const mti_strided *a, const mti_strided *b, const mti_strided *c)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_ZIP3, .op = (int)op, .params = {params.p0, params.p1},
                                 .views = 4, .view = {out, a, b, c}});
    current()->zip3(op, params, out, a, b, c);
}

void mti_run_reduce(mti_reduce_op op, const mti_strided *out, const mti_strided *in, int dim)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_REDUCE, .op = (int)op, .dim = dim, .views = 2,
                                 .view = {out, in}});
    current()->reduce(op, out, in, dim);
}

mt_status mti_run_matmul(const char *fn, const mti_strided *out, const mti_strided *a,
                         const mti_strided *b, const mti_strided *bias, bool trans_a, bool trans_b,
                         bool accumulate)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_MATMUL, .views = 4, .view = {out, a, b, bias},
                                 .trans_a = trans_a, .trans_b = trans_b, .accumulate = accumulate});
    return current()->matmul(fn, out, a, b, bias, trans_a, trans_b, accumulate, NULL);
}

void mti_run_rows(mti_row_op op, mti_params params, const mti_strided *out, const mti_strided *in,
                  int dim)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_ROWS, .op = (int)op, .params = {params.p0, params.p1},
                                 .dim = dim, .views = 2, .view = {out, in}});
    current()->rows(op, params, out, in, dim);
}

void mti_run_rows_backward(mti_row_op op, const mti_strided *dx, const mti_strided *y,
                           const mti_strided *g, int dim)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_ROWS_BACKWARD, .op = (int)op, .dim = dim,
                                 .views = 3, .view = {dx, y, g}});
    current()->rows_backward(op, dx, y, g, dim);
}

void mti_run_nll_softmax_backward(const mti_strided *dx, const mti_strided *logits,
                                  const mti_strided *lse, const mti_strided *labels,
                                  const mti_strided *g, float factor)
{
    if (mti_observing())
        mti_observe(&(mti_event){.kind = MTI_EVENT_NLL_SOFTMAX_BACKWARD, .value = factor, .views = 5,
                                 .view = {dx, logits, lse, labels, g}});
    current()->nll_softmax_backward(dx, logits, lse, labels, g->data[0] * factor);
}

mt_tensor *mti_map_with(const char *fn, mti_unary_op op, mti_params params, const mt_tensor *a)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    mt_tensor *out = mti_tensor_empty(fn, a->ndim, a->shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out), in = mti_strided_of(a);
    mti_run_map(op, params, &o, &in);
    return out;
}

mt_tensor *mti_map(const char *fn, mti_unary_op op, const mt_tensor *a)
{
    return mti_map_with(fn, op, MTI_NO_PARAMS, a);
}

mt_tensor *mti_copy(const char *fn, const mt_tensor *a) { return mti_map(fn, MTI_UNARY_ID, a); }

mt_tensor *mti_zip(const char *fn, mti_zip_op op, const mt_tensor *a, const mt_tensor *b)
{
    return mti_zip_with(fn, op, MTI_NO_PARAMS, a, b);
}

mt_tensor *mti_zip_with(const char *fn, mti_zip_op op, mti_params params, const mt_tensor *a,
                        const mt_tensor *b)
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
    mti_run_zip(op, params, &o, &va, &vb);
    return out;
}

mt_tensor *mti_zip3(const char *fn, mti_ternary_op op, const mt_tensor *a, const mt_tensor *b,
                    const mt_tensor *c)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    if (!b) return mti_fail_null(fn, "b"), NULL;
    if (!c) return mti_fail_null(fn, "c"), NULL;
    int ab_ndim, ndim;
    int64_t ab_shape[MT_MAX_DIMS], shape[MT_MAX_DIMS];
    if (mti_shape_broadcast(fn, a->ndim, a->shape, b->ndim, b->shape, &ab_ndim, ab_shape) != MT_OK ||
        mti_shape_broadcast(fn, ab_ndim, ab_shape, c->ndim, c->shape, &ndim, shape) != MT_OK)
        return NULL;
    mt_tensor *out = mti_tensor_empty(fn, ndim, shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out);
    mti_strided va = mti_strided_expanded(a, ndim, shape), vb = mti_strided_expanded(b, ndim, shape),
                vc = mti_strided_expanded(c, ndim, shape);
    mti_run_zip3(op, MTI_NO_PARAMS, &o, &va, &vb, &vc);
    return out;
}

mt_tensor *mti_reduce(const char *fn, mti_reduce_op op, const mt_tensor *a, int dim)
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
    mti_run_reduce(op, &o, &in, d);
    return out;
}

mt_tensor *mti_scalar_tensor(const char *fn, float value)
{
    mt_tensor *t = mti_tensor_empty(fn, 1, (const int64_t[]){1});
    if (t) {
        t->storage->data[0] = value;
        mti_observe_fill(t, value);
    }
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
    if (mti_run_matmul(fn, &o, &va, &vb, bias ? &vbias : NULL, false, false, false) != MT_OK) {
        mti_unref(out);
        return NULL;
    }
    return out;
}

mt_tensor *mti_rows(const char *fn, mti_row_op op, mti_params params, const mt_tensor *a, int dim)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    int64_t shape[MT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    if (mti_row_width_of(op) == MTI_ROW_WIDTH_ONE) shape[dim] = 1;
    mt_tensor *out = mti_tensor_empty(fn, a->ndim, shape);
    if (!out) return NULL;
    mti_strided o = mti_strided_of(out), in = mti_strided_of(a);
    mti_run_rows(op, params, &o, &in, dim);
    return out;
}

mt_tensor *mti_rows_backward(const char *fn, mti_row_op op, const mt_tensor *y, const mt_tensor *g,
                             int dim)
{
    mt_tensor *dx = mti_tensor_empty(fn, y->ndim, y->shape);
    if (!dx) return NULL;
    mti_strided d = mti_strided_of(dx), vy = mti_strided_of(y), vg = mti_strided_of(g);
    mti_run_rows_backward(op, &d, &vy, &vg, dim);
    return dx;
}
