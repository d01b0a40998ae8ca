/* How gradients flow into inputs during a backward pass: fitted to the input's shape and added
 * up, in place where only the pass holds the running sum. */
#include "autodiff/accumulate.h"

#include "autodiff/pass.h"
#include "kernels/dispatch.h"
#include "runtime/error.h"

/* Sums `g` over the dims where it was broadcast from (ndim, shape); a new reference. */
static mt_tensor *sum_to_shape(const char *fn, mt_tensor *g, int ndim, const int64_t *shape);


void mti_add_into(mt_tensor *target, const mt_tensor *addend)
{
    mti_strided o = mti_strided_of(target), a = mti_strided_of(target), b = mti_strided_of(addend);
    mti_run_zip(MTI_ZIP_ADD, MTI_NO_PARAMS, &o, &a, &b);
    mti_bump_version(target);
}

/* *slot += g (slot holds a held reference or NULL). Consumes the reference `g`. */
static mt_status accumulate(const char *fn, mt_tensor **slot, mt_tensor *g)
{
    mt_tensor *current = *slot;
    if (!current) {
        mti_adopt(g);
        *slot = g;
        return MT_OK;
    }
    /* `current` is held once by the slot: exclusive when that is its only reference */
    if (mti_exclusive_dense(current)) {
        mti_add_into(current, g);
        mti_unref(g);
        return MT_OK;
    }
    mt_tensor *sum = mti_zip(fn, MTI_ZIP_ADD, current, g);
    mti_unref(g);
    if (!sum) return mt_last_status();
    mti_adopt(sum);
    *slot = sum;
    mti_unhold(current);
    return MT_OK;
}

mt_status mti_give_grad(const char *fn, mt_tensor *input, mt_tensor *contribution)
{
    if (!contribution) return mt_last_status() != MT_OK ? mt_last_status() : MT_ERR_NO_MEMORY;
    if (!input || !input->requires_grad) {
        mti_unref(contribution);
        return MT_OK;
    }
    mt_tensor *g = contribution;
    if (!mti_same_shape(g->ndim, g->shape, input->ndim, input->shape)) {
        int ndim;
        int64_t shape[MT_MAX_DIMS];
        mt_status status = mti_shape_broadcast(fn, g->ndim, g->shape, input->ndim, input->shape,
                                               &ndim, shape);
        if (status != MT_OK) {
            mti_unref(g);
            return status;
        }
        mt_tensor *fitted;
        if (mti_same_shape(ndim, shape, input->ndim, input->shape)) {
            /* smaller than the input (e.g. the gradient of a sum): broadcast it up */
            mti_strided v = mti_strided_expanded(g, ndim, shape);
            fitted = mti_tensor_alias(fn, g, ndim, shape, v.strides, g->offset);
        } else {
            /* the input was broadcast in the forward pass: sum over those dims */
            fitted = sum_to_shape(fn, g, input->ndim, input->shape);
        }
        mti_unref(g);
        if (!fitted) return mt_last_status();
        g = fitted;
    }
    mt_tensor **slot = mti_pass_slot(mti_pass_current(), input);
    if (!slot) { /* not reached by this pass: cannot happen for an input requiring grad */
        mti_unref(g);
        return mti_fail(MT_ERR_AUTODIFF, fn, "a gradient reached a tensor outside the pass");
    }
    return accumulate(fn, slot, g);
}

static mt_tensor *sum_to_shape(const char *fn, mt_tensor *g, int ndim, const int64_t *shape)
{
    if (mti_same_shape(g->ndim, g->shape, ndim, shape)) return mti_ref(g);
    int lead = g->ndim - ndim;
    mt_tensor *current = mti_ref(g);
    for (int d = 0; d < g->ndim; d++) {
        int64_t target = d < lead ? 1 : shape[d - lead];
        if (current->shape[d] == target) continue;
        mt_tensor *next = mti_reduce(fn, MTI_REDUCE_SUM, current, d);
        mti_unref(current);
        if (!next) return NULL;
        current = next;
    }
    /* drop the leading size-1 dims */
    mt_tensor *result = mti_tensor_alias(fn, current, ndim, shape, current->strides + lead,
                                         current->offset);
    mti_unref(current);
    return result;
}
