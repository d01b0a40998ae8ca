/* Internal: the optimiser object shared by optim.c (creation, state, step driver) and the
 * update rules (optim_sgd.c, optim_adam.c). */
#ifndef MTI_NN_OPTIM_INTERNAL_H
#define MTI_NN_OPTIM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "minitorch/nn.h"
#include "tensor/hook.h"
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
    mti_hook_operand *operands; /* the step's hook operands: parameter i and its gradient at 2i, 2i+1 */
    /* The object lives while the caller has not freed it or a captured plan holds its step:
     * mt_optim_free drops the contents (state, parameters) at once and marks it freed; the last
     * reference frees the object. */
    atomic_int refs;
    bool freed;
};

/* Updates the parameter viewed by p with gradient (viewed by) g and its state, whose `steps`
 * already counts this step. Cannot fail. */
struct mti_strided;
void mti_sgd_update(const mt_optimizer *opt, const struct mti_strided *p, const struct mti_strided *g,
                    mti_param_state *state);
void mti_adam_update(const mt_optimizer *opt, const struct mti_strided *p, const struct mti_strided *g,
                     mti_param_state *state);

#endif
