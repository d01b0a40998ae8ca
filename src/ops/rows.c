/* Public functions of whole lines along a dim (the MTI_ROW_OPS table: softmax, log_softmax,
 * logsumexp, argmax, argmin, var, std) and the fused cross-entropy the nn layer builds on. */
#include <math.h>
#include <string.h>

#include "ops/fused_loss.h"
#include "ops/ops_internal.h"
#include "minitorch/ops.h"
#include "tensor/hook.h"

#define FLOAT_EXACT_INDICES ((int64_t)1 << 24) /* every integer up to 2^24 is a float */

static mt_tensor *row_op(const char *fn, mti_row_op op, mt_tensor *a, int dim, int correction,
                         bool differentiable)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    int d;
    if (mti_check_dim(fn, a->ndim, dim, &d) != MT_OK) return NULL;
    const int64_t n = a->shape[d];
    if ((op == MTI_ROW_ARGMAX || op == MTI_ROW_ARGMIN) && n > FLOAT_EXACT_INDICES)
        return mti_fail(MT_ERR_SHAPE, fn,
                        "dim %d has %lld elements; float32 indices are exact only up to 2^24 "
                        "(16777216)", dim, (long long)n), NULL;
    mti_params params = MTI_NO_PARAMS;
    if (op == MTI_ROW_VAR || op == MTI_ROW_STD) { /* PyTorch's divisor: max(0, n - correction) */
        int64_t dof = n - (int64_t)correction;
        params.p0 = dof > 0 ? (float)dof : 0.0f;
    }
    mt_tensor *out = mti_rows(fn, op, params, a, d);
    if (!differentiable) return out;
    mti_node spec = mti_spec(mti_fn_row(op), 1, a, NULL, NULL);
    spec.ints[0] = d;
    spec.ints[1] = correction;
    return mti_record(fn, out, &spec, mti_row_saves(op) == MTI_SAVES_OUTPUT);
}

mt_tensor *mt_softmax(mt_tensor *a, int dim)
{
    return mti_track("mt_softmax", row_op("mt_softmax", MTI_ROW_SOFTMAX, a, dim, 0, true));
}

mt_tensor *mt_log_softmax(mt_tensor *a, int dim)
{
    return mti_track("mt_log_softmax", row_op("mt_log_softmax", MTI_ROW_LOG_SOFTMAX, a, dim, 0, true));
}

mt_tensor *mt_logsumexp(mt_tensor *a, int dim)
{
    return mti_track("mt_logsumexp", row_op("mt_logsumexp", MTI_ROW_LOGSUMEXP, a, dim, 0, true));
}

mt_tensor *mt_argmax(mt_tensor *a, int dim)
{
    return mti_track("mt_argmax", row_op("mt_argmax", MTI_ROW_ARGMAX, a, dim, 0, false));
}

mt_tensor *mt_argmin(mt_tensor *a, int dim)
{
    return mti_track("mt_argmin", row_op("mt_argmin", MTI_ROW_ARGMIN, a, dim, 0, false));
}

mt_tensor *mt_var(mt_tensor *a, int dim, int correction)
{
    return mti_track("mt_var", row_op("mt_var", MTI_ROW_VAR, a, dim, correction, true));
}

mt_tensor *mt_std(mt_tensor *a, int dim, int correction)
{
    return mti_track("mt_std", row_op("mt_std", MTI_ROW_STD, a, dim, correction, true));
}

/* ---- cross-entropy ---- */

static mt_status check_cross_entropy(const char *fn, const mt_tensor *logits, int64_t n,
                                     const int64_t *labels)
{
    if (!logits) return mti_fail_null(fn, "logits");
    if (!labels) return mti_fail_null(fn, "labels");
    char text[MTI_SHAPE_TEXT];
    if (logits->ndim != 2)
        return mti_fail(MT_ERR_SHAPE, fn, "logits must be (N, C), got %s",
                        mti_format_shape(text, sizeof text, logits->ndim, logits->shape));
    const int64_t batch = logits->shape[0], classes = logits->shape[1];
    if (n != batch)
        return mti_fail(MT_ERR_SHAPE, fn, "%lld labels for logits %s (N = %lld)", (long long)n,
                        mti_format_shape(text, sizeof text, logits->ndim, logits->shape),
                        (long long)batch);
    if (classes > FLOAT_EXACT_INDICES)
        return mti_fail(MT_ERR_SHAPE, fn, "%lld classes; at most 2^24 are supported",
                        (long long)classes);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return mti_fail(MT_ERR_INDEX, fn, "labels[%lld] = %lld is not a class in 0..%lld",
                            (long long)i, (long long)labels[i], (long long)classes - 1);
    return MT_OK;
}

/* The loss value (and, for the gradient, the labels as float class indices) from the labels
 * array: a hook, so a captured plan reads the array again at every run (new labels written into
 * the same array take effect) instead of replaying the capture's. Operands: logits, lse (read),
 * loss, classes (written; classes absent without history). */
typedef struct labels_context {
    const int64_t *labels;
    int64_t n;
} labels_context;

static mt_status cross_entropy_run(void *self, const void *context, const mti_strided *const *views,
                                   int count)
{
    (void)self;
    (void)count;
    labels_context c;
    memcpy(&c, context, sizeof c);
    const mti_strided *logits = views[0], *lse = views[1], *loss = views[2], *classes = views[3];
    for (int64_t i = 0; i < c.n; i++) /* checked again: a run may see new labels */
        if (c.labels[i] < 0 || c.labels[i] >= logits->shape[1])
            return mti_fail(MT_ERR_INDEX, "mt_loss_cross_entropy",
                            "labels[%lld] = %lld is not a class in 0..%lld", (long long)i,
                            (long long)c.labels[i], (long long)logits->shape[1] - 1);
    /* mean of lse_i - logits[i, label_i], summed in double in batch order */
    double total = 0.0;
    for (int64_t i = 0; i < c.n; i++)
        total += (double)lse->data[i * lse->strides[0]] -
                 (double)logits->data[i * logits->strides[0] + c.labels[i] * logits->strides[1]];
    loss->data[0] = (float)(total / (double)c.n);
    if (classes) /* exact: C <= 2^24 */
        for (int64_t i = 0; i < c.n; i++) classes->data[i * classes->strides[0]] = (float)c.labels[i];
    return MT_OK;
}

mt_tensor *mti_op_cross_entropy(const char *fn, mt_tensor *logits, int64_t n, const int64_t *labels)
{
    if (check_cross_entropy(fn, logits, n, labels) != MT_OK) return NULL;
    mt_tensor *lse = mti_rows(fn, MTI_ROW_LOGSUMEXP, MTI_NO_PARAMS, logits, 1); /* (N, 1) */
    mt_tensor *loss = lse ? mti_tensor_empty(fn, 1, (const int64_t[]){1}) : NULL;
    const bool record = loss && mti_should_record(1, &logits);
    mt_tensor *classes = record ? mti_tensor_empty(fn, 2, (const int64_t[]){n, 1}) : NULL;
    mt_status status = !loss || (record && !classes) ? mt_last_status() : MT_OK;
    if (status == MT_OK) {
        const mti_hook_operand operands[4] = {{logits, MTI_HOOK_READ}, {lse, MTI_HOOK_READ},
                                              {loss, MTI_HOOK_WRITE}, {classes, MTI_HOOK_WRITE}};
        mti_hook hook = {.name = "mt_loss_cross_entropy", .run = cross_entropy_run, .count = 4,
                         .operands = operands};
        const labels_context context = {labels, n};
        memcpy(hook.context, &context, sizeof context);
        status = mti_hook_call(&hook);
    }
    if (status != MT_OK || !record) {
        mti_unref(lse);
        if (classes) mti_unref(classes);
        if (status != MT_OK && loss) mti_unref(loss);
        return status == MT_OK ? loss : NULL;
    }
    mti_node spec = mti_spec(MTI_FN_CROSS_ENTROPY, 3, logits, classes, lse);
    spec.params[0] = (float)(1.0 / (double)n);
    loss = mti_record(fn, loss, &spec, false);
    mti_unref(classes);
    mti_unref(lse);
    return loss;
}
