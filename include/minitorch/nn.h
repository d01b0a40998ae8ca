/* minitorch-c: neural-network pieces — parameters, Linear, SGD, losses, MiniTorch's datasets and
 * the Task 3.5 network with its training loop.
 *
 * Parameters are leaf tensors that require grad. They are owned by the structure that created
 * them (a layer or a model), never by a scope, so they survive the per-step scopes of training.
 */
#ifndef MINITORCH_NN_H
#define MINITORCH_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parameters ---- */

/** A list of parameters (each retained by the list). Zero-initialise, then add. */
typedef struct mt_params {
    mt_tensor **items;
    int count;
    int capacity;
} mt_params;

/** Appends `t` (retained). */
MT_API mt_status mt_params_add(mt_params *params, mt_tensor *t);
/** Releases every parameter and the list's memory. */
MT_API void mt_params_free(mt_params *params);
/** Forgets every parameter's gradient. */
MT_API mt_status mt_params_zero_grad(const mt_params *params);

/* ---- Linear ---- */

/** y = x @ weight + bias, with weight (in, out) uniform in [-0.5, 0.5) and bias (out) = 0.1, as
 *  MiniTorch initialises them, from a seeded generator. */
typedef struct mt_linear_layer {
    mt_tensor *weight;
    mt_tensor *bias;
} mt_linear_layer;

/** Creates the layer's parameters (owned by the layer; also added to `params` when not NULL). */
MT_API mt_status mt_linear_layer_init(mt_linear_layer *layer, int64_t in, int64_t out,
                                      uint64_t seed, mt_params *params);
/** The fused forward pass: mt_linear(x, weight, bias). x is (..., in). */
MT_API mt_tensor *mt_linear_layer_forward(const mt_linear_layer *layer, mt_tensor *x);
/** Releases the layer's parameters. */
MT_API void mt_linear_layer_free(mt_linear_layer *layer);

/* ---- optimiser ---- */

/** Plain SGD: p <- p - rate * grad(p) for every parameter with a gradient, then zero grads.
 *  Runs without recording history, in place, with no allocation. */
MT_API mt_status mt_sgd_step(const mt_params *params, float rate);

/* ---- losses (mean over the batch; shape (1,)) ---- */

/** MiniTorch's loss: -log of the probability given to the true label, from probabilities
 *  `prob` of label 1 (a sigmoid output) and labels `y` in {0, 1} of the same shape:
 *  mean(-log(prob * y + (1 - prob) * (1 - y) + 1e-7)). The 1e-7 keeps a saturated sigmoid's
 *  loss finite, as MiniTorch's log(x + 1e-6) does. */
MT_API mt_tensor *mt_loss_nll_sigmoid(mt_tensor *prob, mt_tensor *y);
/** Binary cross-entropy on logits z with targets y in [0, 1], numerically stable for any z:
 *  mean(max(z, 0) - z * y + log(1 + exp(-|z|))). */
MT_API mt_tensor *mt_loss_bce_with_logits(mt_tensor *logits, mt_tensor *y);
/** Softmax cross-entropy of logits (N, C) against target distributions (N, C) (e.g. one-hot):
 *  mean over rows of -sum(target * log_softmax(logits)), with the max subtracted first so large
 *  logits do not overflow. */
MT_API mt_tensor *mt_loss_softmax_cross_entropy(mt_tensor *logits, mt_tensor *targets);
/** One-hot rows (n, classes) for integer labels in [0, classes). */
MT_API mt_tensor *mt_one_hot(const int64_t *labels, int64_t n, int64_t classes);

/* ---- MiniTorch's 2-D datasets ---- */

typedef enum mt_dataset_kind {
    MT_DATASET_SIMPLE, /* 1 if x1 < 0.5 */
    MT_DATASET_DIAG,   /* 1 if x1 + x2 < 0.5 */
    MT_DATASET_SPLIT,  /* 1 if x1 < 0.2 or x1 > 0.8 */
    MT_DATASET_XOR,    /* 1 if (x1 < .5 and x2 > .5) or (x1 > .5 and x2 < .5) */
    MT_DATASET_CIRCLE, /* 1 if (x1 - .5)^2 + (x2 - .5)^2 > 0.1 */
    MT_DATASET_SPIRAL  /* two deterministic spiral arms, n/2 points each */
} mt_dataset_kind;

/** n points with 2 features and a 0/1 label. */
typedef struct mt_dataset {
    mt_dataset_kind kind;
    int64_t n;
    float *x; /* n x 2, row-major */
    float *y; /* n */
} mt_dataset;

/** Points uniform in the unit square from `seed` (spiral: deterministic, ignores the seed and
 *  has 2 * (n / 2) points). */
MT_API mt_status mt_dataset_make(mt_dataset *data, mt_dataset_kind kind, int64_t n, uint64_t seed);
/** Frees the dataset's arrays (NULL and an emptied dataset are fine). */
MT_API void mt_dataset_free(mt_dataset *data);
/** Parses "simple", "diag", "split", "xor", "circle", "spiral"; MT_ERR_INVALID_ARG otherwise. */
MT_API mt_status mt_dataset_kind_from_name(const char *name, mt_dataset_kind *kind);
/** The name of a dataset kind (static), or NULL for a value that is not one. */
MT_API const char *mt_dataset_kind_name(mt_dataset_kind kind);

/* ---- MiniTorch Task 3.5: network and training loop ---- */

/** in -> hidden -> hidden -> 1 with ReLU, ReLU, sigmoid. */
typedef struct mt_mlp {
    mt_linear_layer layer1, layer2, layer3;
    mt_params params;
} mt_mlp;

/** Creates the three layers (weights uniform in [-0.5, 0.5), biases 0.1) from `seed`; their
 *  parameters are listed in model->params. MT_ERR_SHAPE for in or hidden < 1. */
MT_API mt_status mt_mlp_init(mt_mlp *model, int64_t in, int64_t hidden, uint64_t seed);
/** Probabilities (N, 1) for inputs x (N, in): a new tensor with history (MT_ERR_SHAPE if x is
 *  not (N, in)). */
MT_API mt_tensor *mt_mlp_forward(const mt_mlp *model, mt_tensor *x);
/** Releases the model's parameters. */
MT_API void mt_mlp_free(mt_mlp *model);

typedef struct mt_train_options {
    float rate;     /* SGD learning rate (MiniTorch: 0.05) */
    int64_t batch;  /* points per step; <= 0 means the whole dataset */
    uint64_t seed;  /* shuffling */
} mt_train_options;

typedef struct mt_epoch_result {
    double loss;    /* mean of the epoch's batch losses (MiniTorch prints the last batch's) */
    int64_t steps;  /* SGD steps taken */
} mt_epoch_result;

/** One epoch of shuffled mini-batch SGD on MiniTorch's loss (epoch number `epoch` selects the
 *  shuffle). Each step runs in its own scope: memory use stays flat over any number of epochs.
 *  The same seed gives bitwise the same model on the naive backend for any thread count. */
MT_API mt_status mt_mlp_train_epoch(mt_mlp *model, const mt_dataset *data,
                                    const mt_train_options *options, int64_t epoch,
                                    mt_epoch_result *result);
/** Counts predictions (prob > 0.5) equal to the label on `data` (no history recorded). */
MT_API mt_status mt_mlp_evaluate(const mt_mlp *model, const mt_dataset *data, int64_t *correct);

#ifdef __cplusplus
}
#endif

#endif
