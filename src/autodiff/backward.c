/* mt_backward: walks the recorded graph in reverse topological order, applying each function's
 * gradient formula (gradients.c) and accumulating into the leaves. The walk is iterative, so a
 * chain of 10^5 operations does not grow the C stack. */
#include <stdatomic.h>
#include <string.h>

#include "autodiff/accumulate.h"
#include "autodiff/gradients.h"
#include "kernels/dispatch.h"
#include "minitorch/autodiff.h"
#include "runtime/alloc.h"
#include "runtime/error.h"

static atomic_ullong pass_counter;

/* Topological order of the tensors requiring grad reachable from root (root first). */
static mt_status topological_order(const char *fn, mt_tensor *root, mt_tensor ***order_out,
                                   size_t *count_out)
{
    typedef struct frame {
        mt_tensor *t;
        int next;
    } frame;
    uint64_t mark = atomic_fetch_add(&pass_counter, 1) + 1;
    size_t stack_cap = 64, order_cap = 64, depth = 0, count = 0;
    frame *stack = mti_malloc(stack_cap * sizeof *stack);
    mt_tensor **order = mti_malloc(order_cap * sizeof *order);
    if (!stack || !order) goto out_of_memory;
    root->visit_mark = mark;
    stack[depth++] = (frame){root, 0};
    while (depth > 0) {
        frame *top = &stack[depth - 1];
        mti_node *node = top->t->node;
        if (node && top->next < node->input_count) {
            mt_tensor *child = node->inputs[top->next++];
            if (!child || !child->requires_grad || child->visit_mark == mark) continue;
            child->visit_mark = mark;
            if (depth == stack_cap) {
                frame *bigger = mti_realloc(stack, 2 * stack_cap * sizeof *stack);
                if (!bigger) goto out_of_memory;
                stack = bigger;
                stack_cap *= 2;
            }
            stack[depth++] = (frame){child, 0};
            continue;
        }
        if (count == order_cap) {
            mt_tensor **bigger = mti_realloc(order, 2 * order_cap * sizeof *order);
            if (!bigger) goto out_of_memory;
            order = bigger;
            order_cap *= 2;
        }
        order[count++] = top->t; /* post-order: every input after... reversed below */
        depth--;
    }
    mti_free(stack);
    for (size_t i = 0; i < count / 2; i++) { /* reverse post-order = topological order */
        mt_tensor *swap = order[i];
        order[i] = order[count - 1 - i];
        order[count - 1 - i] = swap;
    }
    *order_out = order;
    *count_out = count;
    return MT_OK;
out_of_memory:
    mti_free(stack);
    mti_free(order);
    return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the graph traversal");
}

/* Adds each leaf's gradient of this pass (its backward_grad) into its accumulated gradient, all
 * or nothing: every allocation is made first; only then are the leaves changed. */
static mt_status commit_leaf_gradients(const char *fn, mt_tensor **order, size_t count)
{
    mt_tensor **prepared = mti_calloc(count, sizeof *prepared);
    if (!prepared) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the gradient commit");
    mt_status status = MT_OK;
    for (size_t i = 0; i < count && status == MT_OK; i++) {
        mt_tensor *leaf = order[i], *g = leaf->backward_grad;
        if (leaf->node || !g) continue;
        /* No allocation when g can simply move into an empty gradient (only this pass holds
         * it), or be added in place into a gradient only the leaf holds. */
        bool allocate = leaf->grad ? !mti_exclusive_dense(leaf->grad) : !mti_exclusive_dense(g);
        if (!allocate) continue;
        prepared[i] = leaf->grad ? mti_zip(fn, MTI_ZIP_ADD, leaf->grad, g) : mti_copy(fn, g);
        if (!prepared[i]) status = mt_last_status();
    }
    for (size_t i = 0; i < count; i++) {
        mt_tensor *leaf = order[i], *g = leaf->backward_grad;
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
                leaf->backward_grad = NULL;
            }
        } else if (prepared[i]) {
            mti_adopt(prepared[i]);
            mti_unhold(leaf->grad);
            leaf->grad = prepared[i];
        } else {
            mti_add_into(leaf->grad, g);
        }
    }
    mti_free(prepared);
    return status;
}

/* Runs backward from root with the gradient `seed` (a reference this function consumes). Leaves
 * collect their gradient of this pass in backward_grad; it is added to their accumulated
 * gradients only when the whole pass succeeded, so a failure leaves every gradient unchanged. */
static mt_status run_backward(const char *fn, mt_tensor *root, mt_tensor *seed)
{
    mt_tensor **order = NULL;
    size_t count = 0;
    mt_status status = topological_order(fn, root, &order, &count);
    if (status != MT_OK) {
        mti_unref(seed);
        return status;
    }
    mti_adopt(seed);
    root->backward_grad = seed;
    mt_no_grad_begin(); /* gradient computations record nothing */
    for (size_t i = 0; i < count && status == MT_OK; i++) {
        mt_tensor *t = order[i];
        mt_tensor *g = t->backward_grad;
        if (!g || !t->node) continue; /* leaves are committed after the pass */
        t->backward_grad = NULL;
        mti_disown(g); /* now ours */
        status = mti_apply_gradient(fn, t, g);
        mti_unref(g);
    }
    if (status == MT_OK) status = commit_leaf_gradients(fn, order, count);
    mt_no_grad_end();
    for (size_t i = 0; i < count; i++) { /* drop what is left: leaves' pass gradients, partials */
        mt_tensor *g = order[i]->backward_grad;
        order[i]->backward_grad = NULL;
        mti_unhold(g);
    }
    mti_free(order);
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
