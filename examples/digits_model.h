/* minitorch-digits: the 64 -> 128 -> 64 -> 10 classifier (ReLU, dropout 0.1 after each hidden
 * layer), its training epoch with Adam on softmax cross-entropy, and its evaluation. Shared by
 * the program (digits.c) and the benchmark suite (benchmarks/suite_digits.c). */
#ifndef MINITORCH_EXAMPLES_DIGITS_MODEL_H
#define MINITORCH_EXAMPLES_DIGITS_MODEL_H

#include <minitorch/minitorch.h>

#include "digits_data.h"

#define DIGITS_HIDDEN1 128
#define DIGITS_HIDDEN2 64
#define DIGITS_DROPOUT 0.1f
#define DIGITS_LAYERS 3
#define DIGITS_PARAMS (2 * DIGITS_LAYERS)

typedef struct digits_model {
    mt_linear_layer layer[DIGITS_LAYERS];
    mt_dropout_layer dropout[DIGITS_LAYERS - 1];
    mt_params params; /* layer[0].weight, layer[0].bias, layer[1].weight, ... */
} digits_model;

/* The parameters' names, in the order of model->params ("fc1.weight", "fc1.bias", ...). */
extern const char *const digits_param_names[DIGITS_PARAMS];

/* Layers initialised as PyTorch's nn.Linear, from `seed`. MT_OK or the library's status. */
mt_status digits_model_init(digits_model *model, uint64_t seed);
void digits_model_free(digits_model *model);

/* Logits (n, 10) for x (n, 64): Linear, ReLU, dropout, Linear, ReLU, dropout, Linear. With
 * masks NULL, the dropout layers draw their next masks (in training mode); otherwise h is
 * multiplied by masks[0] and masks[1] (shaped as h, or broadcastable to it) instead. */
mt_tensor *digits_forward(digits_model *model, mt_tensor *x, mt_tensor *const *masks);

/* The per-epoch scratch of digits_train_epoch: the shuffled order and one batch; with `compile`,
 * the captured step (plan.h) that runs every full batch. */
typedef struct digits_trainer {
    mt_optimizer *optimizer; /* Adam over model->params */
    int64_t batch;
    int64_t *order;
    float *x;
    int64_t *y;
    bool compile;
    mt_plan *plan;          /* captured at the first full batch */
    mt_tensor *x_batch;     /* the plan's bound input (batch, 64); its labels are y */
    mt_tensor *loss;        /* the plan's kept loss, rewritten by every run */
    digits_model *model;    /* the model the plan trains */
} digits_trainer;

/* Adam (lr, PyTorch's other defaults) over the model's parameters, batches of `batch` rows of a
 * training set of n rows. MT_OK or the library's status (MT_ERR_NO_MEMORY for the scratch). */
mt_status digits_trainer_init(digits_trainer *trainer, digits_model *model, float lr, int64_t batch,
                              int64_t n);
void digits_trainer_free(digits_trainer *trainer);

/* One epoch: the rows in the order of a permutation drawn from (seed, epoch), ceil(n / batch)
 * steps, each in its own scope (forward, loss, backward, Adam step, zero grad). *loss receives
 * the mean of the batch losses. With trainer->compile, each full batch is copied into the plan's
 * bound input and the plan runs (captured at the first one); a last, shorter batch runs eagerly.
 * The parameters are bitwise those of the eager epoch. */
mt_status digits_train_epoch(digits_model *model, digits_trainer *trainer, const digits_set *train,
                             uint64_t seed, int64_t epoch, double *loss);

/* The order of the training rows in `epoch` (1, 2, ...): a permutation of 0..n-1 drawn from
 * (seed, epoch) into order[0..n). */
void digits_epoch_order(int64_t *order, int64_t n, uint64_t seed, int64_t epoch);

/* Predictions on `set` in eval mode without history: the number right in *correct, and when
 * `confusion` is not NULL, confusion[true * 10 + predicted] counts (overwritten). */
mt_status digits_evaluate(digits_model *model, const digits_set *set, int64_t *correct,
                          int64_t *confusion);

/* FNV-1a over the parameters' float bits in order: equal checksums mean (in practice) bitwise
 * equal parameters. */
uint64_t digits_checksum(const digits_model *model);

/* A seed for stream `stream` of `seed` (the split, each layer, each epoch's shuffle). */
uint64_t digits_derive_seed(uint64_t seed, uint64_t stream);

#endif
