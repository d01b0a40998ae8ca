/* torch.optim.SGD's update rule (momentum, dampening, Nesterov, L2 weight decay). */
#include "nn/optim_internal.h"

typedef struct sgd_rule {
    double lr, momentum, dampening, weight_decay;
    bool nesterov;
    bool first_step; /* the momentum buffer starts as a copy of d (no dampening), as PyTorch */
    float *buffer;   /* NULL without momentum */
} sgd_rule;

static void sgd_run(void *context, int64_t first, int64_t n, float *restrict p, int64_t ps,
                    const float *restrict g, int64_t gs)
{
    const sgd_rule *r = context;
    float *restrict buffer = r->buffer ? r->buffer + first : NULL;
    for (int64_t k = 0; k < n; k++) {
        double value = p[k * ps];
        double d = (double)g[k * gs] + r->weight_decay * value;
        if (buffer) {
            double b = r->first_step ? d : r->momentum * buffer[k] + (1.0 - r->dampening) * d;
            buffer[k] = (float)b;
            b = buffer[k]; /* PyTorch's step reads the stored (float) buffer */
            d = r->nesterov ? d + r->momentum * b : b;
        }
        p[k * ps] = (float)(value - r->lr * d);
    }
}

void mti_sgd_update(const mt_optimizer *opt, mt_tensor *p, const mt_tensor *g, mti_param_state *state)
{
    const mt_sgd_options *o = &opt->sgd;
    sgd_rule rule = {
        .lr = opt->lr, .momentum = o->momentum, .dampening = o->dampening,
        .weight_decay = o->weight_decay, .nesterov = o->nesterov,
        .first_step = state->steps == 1, .buffer = o->momentum != 0.0f ? state->buffer[0] : NULL,
    };
    mti_update_param(p, g, sgd_run, &rule);
}
