/* mt_backward: walks the recorded graph in reverse topological order, applying each function's
 * gradient formula (gradients.c) and accumulating into the leaves. The walk is iterative, so a
 * chain of 10^5 operations does not grow the C stack. */
#include <stdatomic.h>
#include <string.h>

#include "autodiff/gradients.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "minitorch/autodiff.h"
#include "runtime/alloc.h"
#include "runtime/error.h"

static atomic_ullong pass_counter;

/* Marks `t` as owned by the graph (a held reference) without adding one. */
static void adopt(mt_tensor *t) { atomic_fetch_add_explicit(&t->internal_refs, 1, memory_order_relaxed); }

/* Only the library refers to `t`, and it covers its whole storage densely: safe to add into. */
static bool exclusive_dense(const mt_tensor *t)
{
    return atomic_load(&t->refcount) == 1 && atomic_load(&t->storage->refcount) == 1 &&
           t->offset == 0 && t->numel == t->storage->numel &&
           mti_is_contiguous_layout(t->ndim, t->shape, t->strides);
}

/* target += addend in place (same shapes). */
static void add_into(mt_tensor *target, const mt_tensor *addend)
{
    mti_strided o = mti_strided_of(target), a = mti_strided_of(target), b = mti_strided_of(addend);
    mti_current_kernels()->zip(MT_OP_ADD, &o, &a, &b);
}

/* *slot += g (slot holds a held reference or NULL). Consumes the reference `g`. */
static mt_status accumulate(const char *fn, mt_tensor **slot, mt_tensor *g)
{
    mt_tensor *current = *slot;
    if (!current) {
        adopt(g);
        *slot = g;
        return MT_OK;
    }
    /* `current` is held once by the slot: exclusive when that is its only reference */
    if (exclusive_dense(current)) {
        add_into(current, g);
        mti_unref(g);
        return MT_OK;
    }
    mt_tensor *sum = mti_zip(fn, MT_OP_ADD, current, g);
    mti_unref(g);
    if (!sum) return mt_last_status();
    adopt(sum);
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
            fitted = mti_sum_to_shape(fn, g, input->ndim, input->shape);
        }
        mti_unref(g);
        if (!fitted) return mt_last_status();
        g = fitted;
    }
    return accumulate(fn, &input->backward_grad, g);
}

mt_tensor *mti_sum_to_shape(const char *fn, mt_tensor *g, int ndim, const int64_t *shape)
{
    if (mti_same_shape(g->ndim, g->shape, ndim, shape)) return mti_ref(g);
    int lead = g->ndim - ndim;
    mt_tensor *current = mti_ref(g);
    for (int d = 0; d < g->ndim; d++) {
        int64_t target = d < lead ? 1 : shape[d - lead];
        if (current->shape[d] == target) continue;
        mt_tensor *next = mti_reduce(fn, MT_OP_SUM, current, d);
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
        bool allocate = leaf->grad ? !exclusive_dense(leaf->grad) : !exclusive_dense(g);
        if (!allocate) continue;
        prepared[i] = leaf->grad ? mti_zip(fn, MT_OP_ADD, leaf->grad, g) : mti_copy(fn, g);
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
                adopt(prepared[i]);
                leaf->grad = prepared[i];
            } else { /* move g over: it stays held, now by the leaf */
                leaf->grad = g;
                leaf->backward_grad = NULL;
            }
        } else if (prepared[i]) {
            adopt(prepared[i]);
            mti_unhold(leaf->grad);
            leaf->grad = prepared[i];
        } else {
            add_into(leaf->grad, g);
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
    adopt(seed);
    root->backward_grad = seed;
    mt_no_grad_begin(); /* gradient computations record nothing */
    for (size_t i = 0; i < count && status == MT_OK; i++) {
        mt_tensor *t = order[i];
        mt_tensor *g = t->backward_grad;
        if (!g || !t->node) continue; /* leaves are committed after the pass */
        t->backward_grad = NULL;
        atomic_fetch_sub_explicit(&g->internal_refs, 1, memory_order_relaxed); /* now ours */
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
