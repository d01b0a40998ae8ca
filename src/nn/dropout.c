/* Inverted dropout as x * mask, with a seeded mask of 0 and 1/(1 - p), and the dropout layer.
 * The mask is drawn by a hook (tensor/hook.h), so a captured plan draws it again on every run:
 * the same mask for mt_dropout's fixed seed, the layer's next mask for a layer. */
#include <math.h>
#include <string.h>

#include "minitorch/nn.h"
#include "minitorch/ops.h"
#include "runtime/error.h"
#include "runtime/random.h"
#include "tensor/hook.h"
#include "tensor/tensor_internal.h"
#include "tensor/update.h"

static mt_status check_p(const char *fn, float p)
{
    if (p >= 0.0f && p <= 1.0f) return MT_OK;
    return mti_fail(MT_ERR_INVALID_ARG, fn, "p must be in [0, 1], got %g", (double)p);
}

/* What draws a mask: probability p, the kept value, and the stream (mt_dropout's; a layer's
 * stream is worked out from the layer at each draw). The hook's context. */
typedef struct mask_rule {
    float p, scale;
    uint64_t key;
} mask_rule;
_Static_assert(sizeof(mask_rule) <= MTI_HOOK_CONTEXT_BYTES, "a mask rule fits a hook's context");

static mask_rule rule_for(float p, uint64_t seed)
{
    return (mask_rule){.p = p, .scale = p == 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p)),
                       .key = mti_random_key(seed)};
}

/* mask[i] = 0 when draw i < p (probability p, to 2^-24), else scale: a function of (seed, i),
 * i the element's row-major position (`first` + k), whatever the run splitting. */
static void mask_run(void *context, int64_t first, int64_t n, float *mask, int64_t stride,
                     const float *source, int64_t source_stride)
{
    (void)source;
    (void)source_stride;
    const mask_rule *r = context;
    for (int64_t k = 0; k < n; k++)
        mask[k * stride] = mti_random_unit(r->key, (uint64_t)(first + k)) < r->p ? 0.0f : r->scale;
}

/* mt_dropout's hook: the mask of its fixed seed. */
static mt_status draw_fixed(void *self, const void *context, const struct mti_strided *const *views,
                            int count)
{
    (void)self;
    (void)count;
    mask_rule rule;
    memcpy(&rule, context, sizeof rule);
    mti_update_views(views[0], NULL, mask_run, &rule);
    return MT_OK;
}

/* Call k's seed: draw k of the layer's own stream. */
static uint64_t layer_seed(const mt_dropout_layer *layer)
{
    return mti_random_bits(mti_random_key(layer->seed), layer->calls);
}

/* The layer's hook: its next mask, advancing the layer. */
static mt_status draw_next(void *self, const void *context, const struct mti_strided *const *views,
                           int count)
{
    (void)count;
    mt_dropout_layer *layer = self;
    mask_rule rule;
    memcpy(&rule, context, sizeof rule);
    rule.key = mti_random_key(layer_seed(layer));
    mti_update_views(views[0], NULL, mask_run, &rule);
    layer->calls++;
    return MT_OK;
}

/* A replay multiplies by a mask of the recorded p: the layer must still be training with it. */
static const char *layer_stale(const void *self, const void *context)
{
    const mt_dropout_layer *layer = self;
    mask_rule rule;
    memcpy(&rule, context, sizeof rule);
    if (!layer->training) return "the dropout layer was switched to eval mode after the capture";
    if (layer->p != rule.p) return "the dropout layer's p changed after the capture";
    return NULL;
}

/* x * mask, the mask written by `hook` (its one operand set here). */
static mt_tensor *apply_mask(const char *fn, mt_tensor *x, mti_hook *hook)
{
    mt_tensor *mask = mti_tensor_empty(fn, mt_ndim(x), mt_shape(x));
    if (!mask) return NULL;
    const mti_hook_operand operand = {mask, MTI_HOOK_WRITE};
    hook->count = 1;
    hook->operands = &operand;
    mt_tensor *y = mti_hook_call(hook) == MT_OK ? mt_mul(x, mask) : NULL; /* gradient: mask * g */
    mti_unref(mask);
    if (!y) mti_error_context(fn);
    return y;
}

mt_tensor *mt_dropout(mt_tensor *x, float p, bool training, uint64_t seed)
{
    static const char fn[] = "mt_dropout";
    if (!x) return mti_fail_null(fn, "x"), NULL;
    if (check_p(fn, p) != MT_OK) return NULL;
    if (!training || p == 0.0f) return mti_track(fn, mti_ref(x));
    mti_hook hook = {.name = fn, .run = draw_fixed};
    const mask_rule rule = rule_for(p, seed);
    memcpy(hook.context, &rule, sizeof rule);
    return apply_mask(fn, x, &hook);
}

mt_status mt_dropout_layer_init(mt_dropout_layer *layer, float p, uint64_t seed)
{
    static const char fn[] = "mt_dropout_layer_init";
    if (!layer) return mti_fail_null(fn, "layer");
    mt_status status = check_p(fn, p);
    if (status != MT_OK) return status;
    *layer = (mt_dropout_layer){.p = p, .training = true, .seed = seed, .calls = 0};
    return MT_OK;
}

mt_status mt_dropout_layer_train(mt_dropout_layer *layer, bool training)
{
    if (!layer) return mti_fail_null("mt_dropout_layer_train", "layer");
    layer->training = training;
    return MT_OK;
}

mt_tensor *mt_dropout_layer_forward(mt_dropout_layer *layer, mt_tensor *x)
{
    static const char fn[] = "mt_dropout_layer_forward";
    if (!layer) return mti_fail_null(fn, "layer"), NULL;
    mt_tensor *y;
    if (!x || !layer->training || !(layer->p > 0.0f && layer->p <= 1.0f)) {
        /* x itself, or mt_dropout's error */
        y = mt_dropout(x, layer->p, layer->training, layer_seed(layer));
    } else {
        mti_hook hook = {.name = fn, .run = draw_next, .self = layer, .stale = layer_stale};
        const mask_rule rule = rule_for(layer->p, 0);
        memcpy(hook.context, &rule, sizeof rule);
        const uint64_t calls = layer->calls;
        y = apply_mask(fn, x, &hook);
        if (!y) layer->calls = calls; /* a failed call draws no mask */
    }
    if (!y) mti_error_context(fn);
    return y;
}
