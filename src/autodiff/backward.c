/* mt_backward: walks the recorded graph in reverse topological order, applying each function's
 * gradient formula (gradients.c) and accumulating into the leaves. The walk is iterative, so a
 * chain of 10^5 operations does not grow the C stack. */
#include <pthread.h>
#include <string.h>

#include "autodiff/accumulate.h"
#include "autodiff/gradients.h"
#include "autodiff/pass.h"
#include "kernels/dispatch.h"
#include "minitorch/autodiff.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"
#include "tensor/observer.h"

/* Serialises the commit of leaf gradients: passes on different threads may share a leaf. */
static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;

/* Adds each leaf's gradient of this pass into its accumulated gradient, all or nothing: every
 * allocation is made first; only then are the leaves changed. */
static mt_status commit_leaf_gradients(const char *fn, mti_pass *pass)
{
    mt_tensor **prepared = mti_calloc(pass->count ? pass->count : 1, sizeof *prepared);
    if (!prepared) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the gradient commit");
    mt_status status = MT_OK;
    pthread_mutex_lock(&commit_lock);
    for (size_t i = 0; i < pass->count && status == MT_OK; i++) {
        mt_tensor *leaf = pass->order[i], *g = pass->grads[i];
        if (leaf->node || !g) continue;
        /* No allocation when g can simply move into an empty gradient (only this pass holds
         * it), or be added in place into a gradient only the leaf holds. */
        bool allocate = leaf->grad ? !mti_exclusive_dense(leaf->grad) : !mti_exclusive_dense(g);
        if (!allocate) continue;
        prepared[i] = leaf->grad ? mti_zip(fn, MTI_ZIP_ADD, leaf->grad, g) : mti_copy(fn, g);
        if (!prepared[i]) status = mt_last_status();
    }
    for (size_t i = 0; i < pass->count; i++) {
        mt_tensor *leaf = pass->order[i], *g = pass->grads[i];
        if (leaf->node || !g) continue;
        if (status != MT_OK) {
            mti_unref(prepared[i]);
            continue;
        }
        if (!leaf->grad) {
            if (prepared[i]) {
                mti_adopt(prepared[i]);
                leaf->grad = prepared[i];
            } else { /* move g over: it stays held, now by the leaf */
                leaf->grad = g;
                pass->grads[i] = NULL;
            }
        } else if (prepared[i]) {
            mti_adopt(prepared[i]);
            mti_unhold(leaf->grad);
            leaf->grad = prepared[i];
        } else {
            mti_add_into(leaf->grad, g);
        }
    }
    pthread_mutex_unlock(&commit_lock);
    mti_free(prepared);
    return status;
}

/* Runs backward from root with the gradient `seed` (a reference this function consumes). Leaves
 * collect their gradient of this pass in the pass; it is added to their accumulated gradients
 * only when the whole pass succeeded, so a failure leaves every gradient unchanged. The backend
 * is taken once for the whole pass. */
static mt_status run_backward(const char *fn, mt_tensor *root, mt_tensor *seed)
{
    mti_pass pass;
    mt_status status = mti_pass_build(fn, &pass, root);
    if (status != MT_OK) {
        mti_unref(seed);
        return status;
    }
    mti_adopt(seed);
    pass.grads[0] = seed; /* the root comes first */
    mti_pass *outer = mti_pass_current();
    mti_pass_set_current(&pass);
    mt_backend previous = mti_backend_pin(mti_backend());
    mt_no_grad_begin(); /* gradient computations record nothing */
    for (size_t i = 0; i < pass.count && status == MT_OK; i++) {
        mt_tensor *t = pass.order[i];
        mt_tensor *g = pass.grads[i];
        if (!g || !t->node) continue; /* leaves are committed after the pass */
        pass.grads[i] = NULL;
        mti_disown(g); /* now ours */
        status = mti_check_saved(fn, t->node);
        if (status == MT_OK) status = mti_apply_gradient(fn, t, g);
        mti_unref(g);
    }
    if (status == MT_OK) status = commit_leaf_gradients(fn, &pass);
    mt_no_grad_end();
    mti_backend_pin(previous);
    mti_pass_set_current(outer);
    mti_pass_free(&pass); /* drops what is left: leaves' pass gradients, partials */
    return status;
}

static mt_status check_root(const char *fn, mt_tensor *t)
{
    if (!t) return mti_fail_null(fn, "t");
    if (!t->requires_grad)
        return mti_fail(MT_ERR_AUTODIFF, fn,
                        "the tensor does not require grad (no input was marked with "
                        "mt_set_requires_grad, or it was computed in no-grad mode)");
    return MT_OK;
}

mt_status mt_backward(mt_tensor *t)
{
    static const char fn[] = "mt_backward";
    mt_status status = check_root(fn, t);
    if (status != MT_OK) return status;
    if (t->numel != 1) {
        char text[MTI_SHAPE_TEXT];
        return mti_fail(MT_ERR_AUTODIFF, fn,
                        "the tensor has shape %s; backward without a gradient needs one element "
                        "(use mt_backward_with)",
                        mti_format_shape(text, sizeof text, t->ndim, t->shape));
    }
    mt_tensor *seed = mti_tensor_empty(fn, t->ndim, t->shape);
    if (!seed) return mt_last_status();
    seed->storage->data[0] = 1.0f;
    mti_observe_fill(seed, 1.0f);
    return run_backward(fn, t, seed);
}

mt_status mt_backward_with(mt_tensor *t, const mt_tensor *grad)
{
    static const char fn[] = "mt_backward_with";
    if (!grad) return mti_fail_null(fn, "grad");
    mt_status status = check_root(fn, t);
    if (status != MT_OK) return status;
    if (!mti_same_shape(t->ndim, t->shape, grad->ndim, grad->shape)) {
        char a[MTI_SHAPE_TEXT], b[MTI_SHAPE_TEXT];
        return mti_fail(MT_ERR_SHAPE, fn, "grad has shape %s but the tensor has shape %s",
                        mti_format_shape(a, sizeof a, grad->ndim, grad->shape),
                        mti_format_shape(b, sizeof b, t->ndim, t->shape));
    }
    return run_backward(fn, t, mti_ref((mt_tensor *)grad));
}
