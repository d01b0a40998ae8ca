/* Losses, built from differentiable operations (so their gradients come from autodiff). Each
 * runs in its own scope and hands back only the result. */
#include <string.h>

#include "minitorch/autodiff.h"
#include "nn/composite.h"
#include "ops/fused_loss.h"
#include "minitorch/scope.h"
#include "minitorch/nn.h"
#include "minitorch/ops.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "tensor/tensor_internal.h"


static mt_status same_shapes(const char *fn, const mt_tensor *a, const mt_tensor *b)
{
    if (!a) return mti_fail_null(fn, "prediction");
    if (!b) return mti_fail_null(fn, "target");
    if (!mti_same_shape(mt_ndim(a), mt_shape(a), mt_ndim(b), mt_shape(b))) {
        char ta[MTI_SHAPE_TEXT], tb[MTI_SHAPE_TEXT];
        return mti_fail(MT_ERR_SHAPE, fn, "prediction %s and target %s differ in shape",
                        mti_format_shape(ta, sizeof ta, mt_ndim(a), mt_shape(a)),
                        mti_format_shape(tb, sizeof tb, mt_ndim(b), mt_shape(b)));
    }
    return MT_OK;
}

mt_tensor *mt_loss_nll_sigmoid(mt_tensor *prob, mt_tensor *y)
{
    static const char fn[] = "mt_loss_nll_sigmoid";
    mt_scope s;
    if (same_shapes(fn, prob, y) != MT_OK || !mti_composite_begin(fn, &s)) return NULL;
    /* p_true = prob * y + (1 - prob) * (1 - y) */
    mt_tensor *p_true = mt_add(mt_mul(prob, y), mt_mul(mt_rsub_scalar(prob, 1.0f), mt_rsub_scalar(y, 1.0f)));
    mt_tensor *loss = mt_neg(mt_mean_all(mt_log(mt_add_scalar(p_true, 1e-7f))));
    return mti_composite_end(fn, s, loss);
}

mt_tensor *mt_loss_bce_with_logits(mt_tensor *z, mt_tensor *y)
{
    static const char fn[] = "mt_loss_bce_with_logits";
    mt_scope s;
    if (same_shapes(fn, z, y) != MT_OK || !mti_composite_begin(fn, &s)) return NULL;
    /* max(z, 0) - z y + log(1 + exp(-|z|)): exp never sees a positive argument. max(z, 0) is
     * written z/2 + |z|/2 so that at z = 0 the kinks of max and |z| cancel and the gradient is
     * the true sigmoid(0) - y (and halving first cannot overflow near FLT_MAX). */
    mt_tensor *abs_z = mt_add(mt_relu(z), mt_relu(mt_neg(z)));
    mt_tensor *positive = mt_add(mt_mul_scalar(z, 0.5f), mt_mul_scalar(abs_z, 0.5f));
    mt_tensor *softplus = mt_log(mt_add_scalar(mt_exp(mt_neg(abs_z)), 1.0f));
    mt_tensor *loss = mt_mean_all(mt_add(mt_sub(positive, mt_mul(z, y)), softplus));
    return mti_composite_end(fn, s, loss);
}

mt_tensor *mt_loss_softmax_cross_entropy(mt_tensor *logits, mt_tensor *targets)
{
    static const char fn[] = "mt_loss_softmax_cross_entropy";
    if (same_shapes(fn, logits, targets) != MT_OK) return NULL;
    if (mt_ndim(logits) != 2) {
        char text[MTI_SHAPE_TEXT];
        mti_fail(MT_ERR_SHAPE, fn, "logits must be (N, C), got %s",
                 mti_format_shape(text, sizeof text, mt_ndim(logits), mt_shape(logits)));
        return NULL;
    }
    mt_scope s;
    if (!mti_composite_begin(fn, &s)) return NULL;
    /* shifted = z - max(z) (the shift carries no gradient: log-softmax does not depend on it) */
    mt_tensor *shifted = mt_sub(logits, mt_detach(mt_max(logits, 1)));
    mt_tensor *log_sum = mt_log(mt_sum(mt_exp(shifted), 1));           /* (N, 1) */
    /* -sum(t * (shifted - log_sum)) = sum(t) * log_sum - sum(t * shifted) */
    mt_tensor *rows = mt_sub(mt_mul(mt_sum(targets, 1), log_sum), mt_sum(mt_mul(targets, shifted), 1));
    return mti_composite_end(fn, s, mt_mean_all(rows));
}

mt_tensor *mt_loss_mse(mt_tensor *pred, mt_tensor *target)
{
    static const char fn[] = "mt_loss_mse";
    if (!pred) return mti_fail_null(fn, "pred"), NULL;
    if (!target) return mti_fail_null(fn, "target"), NULL;
    mt_scope s;
    if (!mti_composite_begin(fn, &s)) return NULL;
    mt_tensor *difference = mt_sub(pred, target); /* broadcast, as PyTorch */
    return mti_composite_end(fn, s, mt_mean_all(mt_mul(difference, difference)));
}

mt_tensor *mt_loss_cross_entropy(mt_tensor *logits, int64_t n, const int64_t *labels)
{
    static const char fn[] = "mt_loss_cross_entropy";
    return mti_track(fn, mti_op_cross_entropy(fn, logits, n, labels));
}

mt_tensor *mt_one_hot(const int64_t *labels, int64_t n, int64_t classes)
{
    static const char fn[] = "mt_one_hot";
    if (!labels) return mti_fail_null(fn, "labels"), NULL;
    if (classes < 1)
        return mti_fail(MT_ERR_INDEX, fn, "classes is %lld: no label can be a class", (long long)classes),
               NULL;
    if (n < 1) return mti_fail(MT_ERR_SHAPE, fn, "n must be >= 1, got %lld", (long long)n), NULL;
    if (n > INT64_MAX / classes)
        return mti_fail(MT_ERR_OVERFLOW, fn, "n x classes (%lld x %lld) overflows", (long long)n,
                        (long long)classes), NULL;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes) {
            mti_fail(MT_ERR_INDEX, fn, "labels[%lld] = %lld is not a class in 0..%lld",
                     (long long)i, (long long)labels[i], (long long)classes - 1);
            return NULL;
        }
    int64_t shape[2] = {n, classes};
    mt_tensor *t = mti_tensor_zeros(fn, 2, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++) mti_tensor_data(t)[i * classes + labels[i]] = 1.0f;
    mti_observe_opaque("mt_one_hot (build targets before capture)");
    return mti_track(fn, t);
}
