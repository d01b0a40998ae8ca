/* torch.optim.Adam / AdamW's update rule (bias-corrected moments, optional AMSGrad), in float32
 * as PyTorch computes it on CPU: the per-step scalars (step size, bias corrections) are worked
 * out in double and rounded to float once, the per-element arithmetic is float so the
 * contiguous loop vectorises. */
#include <math.h>

#include "nn/optim_internal.h"

typedef struct adam_rule {
    float beta1_weight; /* 1 - beta1, the lerp weight of m towards the gradient */
    float beta2, beta2_weight; /* beta2 and 1 - beta2 */
    float eps;
    float l2;          /* Adam: weight_decay added to the gradient as weight_decay * p */
    float decay;       /* AdamW: p *= decay (1 - lr * weight_decay) first; 1 otherwise */
    float step_size;   /* lr / (1 - beta1^t) */
    float correction2; /* sqrt(1 - beta2^t) */
    float *m, *v, *v_max; /* v_max NULL without amsgrad */
} adam_rule;

/* One element, in PyTorch's order of operations: m.lerp_(grad, 1 - beta1);
 * v.mul_(beta2).addcmul_(grad, grad, 1 - beta2); denom = sqrt(v or v_max) / correction2 + eps;
 * p.addcdiv_(m, denom, -step_size). */
static inline float adam_element(const adam_rule *r, float p, float g, float *m, float *v,
                                 float *v_max)
{
    const float grad = g + r->l2 * p;
    *m = *m + r->beta1_weight * (grad - *m);
    *v = *v * r->beta2 + r->beta2_weight * (grad * grad);
    float second = *v;
    if (v_max) {
        if (!(second <= *v_max)) *v_max = second; /* NaN propagates, as torch.maximum */
        second = *v_max;
    }
    const float denom = sqrtf(second) / r->correction2 + r->eps;
    return p * r->decay - r->step_size * (*m / denom);
}

static void adam_run(void *context, int64_t first, int64_t n, float *restrict p, int64_t ps,
                     const float *restrict g, int64_t gs)
{
    const adam_rule *r = context;
    float *restrict m = r->m + first, *restrict v = r->v + first;
    if (r->v_max) {
        float *restrict v_max = r->v_max + first;
        for (int64_t k = 0; k < n; k++)
            p[k * ps] = adam_element(r, p[k * ps], g[k * gs], &m[k], &v[k], &v_max[k]);
    } else if (ps == 1 && gs == 1) { /* the common case: contiguous, vectorised */
#pragma omp simd
        for (int64_t k = 0; k < n; k++) p[k] = adam_element(r, p[k], g[k], &m[k], &v[k], NULL);
    } else {
        for (int64_t k = 0; k < n; k++)
            p[k * ps] = adam_element(r, p[k * ps], g[k * gs], &m[k], &v[k], NULL);
    }
}

void mti_adam_update(const mt_optimizer *opt, const struct mti_strided *p, const struct mti_strided *g,
                     mti_param_state *state)
{
    const mt_adam_options *o = &opt->adam;
    const double lr = opt->lr, t = (double)state->steps;
    const bool decoupled = opt->kind == MTI_OPTIM_ADAMW;
    adam_rule rule = {
        .beta1_weight = (float)(1.0 - (double)o->beta1),
        .beta2 = o->beta2, .beta2_weight = (float)(1.0 - (double)o->beta2), .eps = o->eps,
        .l2 = decoupled ? 0.0f : o->weight_decay,
        .decay = decoupled ? (float)(1.0 - lr * o->weight_decay) : 1.0f,
        .step_size = (float)(lr / (1.0 - pow(o->beta1, t))),
        .correction2 = (float)sqrt(1.0 - pow(o->beta2, t)),
        .m = state->buffer[0], .v = state->buffer[1], .v_max = o->amsgrad ? state->buffer[2] : NULL,
    };
    mti_update_views(p, g, adam_run, &rule);
}
