/* Recording history, grad mode, and the leaf API (requires_grad, grad, zero_grad, detach). */
#include "autodiff/autodiff.h"
#include "minitorch/autodiff.h"
#include "runtime/alloc.h"
#include "runtime/error.h"


bool mti_should_record(int count, mt_tensor *const *inputs)
{
    if (!mt_grad_enabled()) return false;
    for (int i = 0; i < count; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

mt_tensor *mti_record(const char *fn, mt_tensor *out, const mti_node *spec, bool save_output)
{
    if (!out || !mti_should_record(spec->input_count, spec->inputs)) return out;
    mti_node *node = mti_malloc(sizeof *node);
    if (!node) {
        mti_unref(out);
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot record autodiff history");
        return NULL;
    }
    *node = *spec;
    node->saved_count = 0;
    if (save_output) {
        /* An alias of the output's values: holding `out` itself would be a reference cycle. */
        mt_tensor *alias = mti_tensor_alias(fn, out, out->ndim, out->shape, out->strides,
                                            out->offset);
        if (!alias) {
            mti_free(node);
            mti_unref(out);
            return NULL;
        }
        mti_adopt(alias);
        node->saved[node->saved_count++] = alias;
    }
    for (int i = 0; i < node->input_count; i++) {
        mti_hold(node->inputs[i]);
        node->input_versions[i] = node->inputs[i] ? mti_version(node->inputs[i]) : 0;
    }
    for (int i = 0; i < node->saved_count; i++) node->saved_versions[i] = mti_version(node->saved[i]);
    out->node = node;
    out->requires_grad = true;
    return out;
}

mt_status mt_set_requires_grad(mt_tensor *t, bool requires_grad)
{
    if (!t) return mti_fail_null("mt_set_requires_grad", "t");
    if (t->node)
        return mti_fail(MT_ERR_AUTODIFF, "mt_set_requires_grad",
                        "the tensor was computed by an operation (has history); only leaves can "
                        "be marked — use mt_detach for a new leaf");
    t->requires_grad = requires_grad;
    return MT_OK;
}

bool mt_requires_grad(const mt_tensor *t) { return t && t->requires_grad; }

bool mt_is_leaf(const mt_tensor *t) { return t && !t->node; }

mt_tensor *mt_grad(const mt_tensor *t)
{
    if (!t) return mti_fail_null("mt_grad", "t"), NULL;
    if (!t->grad) {
        mti_fail(MT_ERR_AUTODIFF, "mt_grad",
                 t->requires_grad && !t->node
                     ? "the leaf has no gradient yet (run mt_backward first)"
                     : "only leaves marked with mt_set_requires_grad have gradients");
        return NULL;
    }
    return mti_track("mt_grad", mti_ref(t->grad));
}

mt_status mt_zero_grad(mt_tensor *t)
{
    if (!t) return mti_fail_null("mt_zero_grad", "t");
    mt_tensor *grad = t->grad;
    t->grad = NULL;
    mti_unhold(grad);
    return MT_OK;
}

mt_tensor *mt_detach(mt_tensor *t)
{
    if (!t) return mti_fail_null("mt_detach", "t"), NULL;
    return mti_track("mt_detach", mti_tensor_alias("mt_detach", t, t->ndim, t->shape, t->strides, t->offset));
}
