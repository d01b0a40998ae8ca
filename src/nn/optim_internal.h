/* Internal: the optimiser object shared by optim.c (creation, state, step driver) and the
 * update rules (optim_sgd.c, optim_adam.c). */
#ifndef MTI_NN_OPTIM_INTERNAL_H
#define MTI_NN_OPTIM_INTERNAL_H

#include <stdint.h>

#include "minitorch/nn.h"
#include "tensor/update.h"

typedef enum mti_optim_kind { MTI_OPTIM_SGD, MTI_OPTIM_ADAM, MTI_OPTIM_ADAMW } mti_optim_kind;

#define MTI_OPTIM_MAX_BUFFERS 3

/* One parameter's state: `buffers` float arrays of the parameter's numel, in the row-major order
 * of its shape (allocated at its first step), and the number of steps it has taken. */
typedef struct mti_param_state {
    float *buffer[MTI_OPTIM_MAX_BUFFERS];
    int64_t steps;
} mti_param_state;

struct mt_optimizer {
    mti_optim_kind kind;
    float lr;
    mt_sgd_options sgd;   /* MTI_OPTIM_SGD */
    mt_adam_options adam; /* MTI_OPTIM_ADAM, MTI_OPTIM_ADAMW */
    int buffers;          /* state buffers per parameter (0..MTI_OPTIM_MAX_BUFFERS) */
    int count;
    mt_tensor **params;   /* retained */
    mti_param_state *state;
};

/* Updates parameter p (which has gradient g) with its state, whose `steps` already counts this
 * step. Cannot fail. */
void mti_sgd_update(const mt_optimizer *opt, mt_tensor *p, const mt_tensor *g, mti_param_state *state);
void mti_adam_update(const mt_optimizer *opt, mt_tensor *p, const mt_tensor *g, mti_param_state *state);

#endif
