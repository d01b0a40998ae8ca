/* torch.optim.SGD's update rule (momentum, dampening, Nesterov, L2 weight decay), in float32 as
 * PyTorch computes it on CPU, so the contiguous loop vectorises. */
#include "nn/optim_internal.h"

typedef struct sgd_rule {
    float lr, momentum, dampening_weight /* 1 - dampening */, weight_decay;
    bool nesterov;
    bool first_step; /* the momentum buffer starts as a copy of d (no dampening), as PyTorch */
    float *buffer;   /* NULL without momentum */
} sgd_rule;

/* One element: d = grad + weight_decay * p; with momentum b = d at the first step, else
 * b = momentum * b + (1 - dampening) * d, and d = nesterov ? d + momentum * b : b;
 * p -= lr * d. */
static inline float sgd_element(const sgd_rule *r, float p, float g, float *buffer)
{
    float d = g + r->weight_decay * p;
    if (buffer) {
        const float b = r->first_step ? d : r->momentum * *buffer + r->dampening_weight * d;
        *buffer = b;
        d = r->nesterov ? d + r->momentum * b : b;
    }
    return p - r->lr * d;
}

static void sgd_run(void *context, int64_t first, int64_t n, float *restrict p, int64_t ps,
                    const float *restrict g, int64_t gs)
{
    const sgd_rule *r = context;
    float *restrict buffer = r->buffer ? r->buffer + first : NULL;
    if (ps == 1 && gs == 1 && buffer) { /* contiguous, vectorised */
#pragma omp simd
        for (int64_t k = 0; k < n; k++) p[k] = sgd_element(r, p[k], g[k], &buffer[k]);
    } else if (ps == 1 && gs == 1) {
#pragma omp simd
        for (int64_t k = 0; k < n; k++) p[k] = sgd_element(r, p[k], g[k], NULL);
    } else {
        for (int64_t k = 0; k < n; k++)
            p[k * ps] = sgd_element(r, p[k * ps], g[k * gs], buffer ? &buffer[k] : NULL);
    }
}

void mti_sgd_update(const mt_optimizer *opt, const struct mti_strided *p, const struct mti_strided *g,
                    mti_param_state *state)
{
    const mt_sgd_options *o = &opt->sgd;
    sgd_rule rule = {
        .lr = opt->lr, .momentum = o->momentum, .dampening_weight = (float)(1.0 - (double)o->dampening),
        .weight_decay = o->weight_decay, .nesterov = o->nesterov,
        .first_step = state->steps == 1, .buffer = o->momentum != 0.0f ? state->buffer[0] : NULL,
    };
    mti_update_views(p, g, sgd_run, &rule);
}
