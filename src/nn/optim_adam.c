/* torch.optim.Adam / AdamW's update rule (bias-corrected moments, optional AMSGrad). */
#include <math.h>

#include "nn/optim_internal.h"

typedef struct adam_rule {
    double beta1, beta2, eps;
    double l2;          /* Adam: weight_decay added to the gradient as weight_decay * p */
    double decay;       /* AdamW: p *= decay (1 - lr * weight_decay) first; 1 otherwise */
    double step_size;   /* lr / (1 - beta1^t) */
    double correction2; /* sqrt(1 - beta2^t) */
    float *m, *v, *v_max; /* v_max NULL without amsgrad */
} adam_rule;

static void adam_run(void *context, int64_t first, int64_t n, float *restrict p, int64_t ps,
                     const float *restrict g, int64_t gs)
{
    const adam_rule *r = context;
    float *restrict m = r->m + first, *restrict v = r->v + first;
    float *restrict v_max = r->v_max ? r->v_max + first : NULL;
    for (int64_t k = 0; k < n; k++) {
        double value = (double)p[k * ps] * r->decay;
        double grad = (double)g[k * gs] + r->l2 * p[k * ps];
        /* m.lerp_(grad, 1 - beta1); v = beta2 v + (1 - beta2) grad^2 */
        m[k] = (float)(m[k] + (1.0 - r->beta1) * (grad - m[k]));
        v[k] = (float)(r->beta2 * v[k] + (1.0 - r->beta2) * grad * grad);
        float second = v[k];
        if (v_max) {
            if (!(second <= v_max[k])) v_max[k] = second; /* NaN propagates, as torch.maximum */
            second = v_max[k];
        }
        double denom = sqrt((double)second) / r->correction2 + r->eps;
        p[k * ps] = (float)(value - r->step_size * m[k] / denom);
    }
}

void mti_adam_update(const mt_optimizer *opt, mt_tensor *p, const mt_tensor *g, mti_param_state *state)
{
    const mt_adam_options *o = &opt->adam;
    const double lr = opt->lr, t = (double)state->steps;
    const bool decoupled = opt->kind == MTI_OPTIM_ADAMW;
    adam_rule rule = {
        .beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps,
        .l2 = decoupled ? 0.0 : o->weight_decay,
        .decay = decoupled ? 1.0 - lr * o->weight_decay : 1.0,
        .step_size = lr / (1.0 - pow(o->beta1, t)),
        .correction2 = sqrt(1.0 - pow(o->beta2, t)),
        .m = state->buffer[0], .v = state->buffer[1], .v_max = o->amsgrad ? state->buffer[2] : NULL,
    };
    mti_update_param(p, g, adam_run, &rule);
}
