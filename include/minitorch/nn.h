/* minitorch-c: neural-network pieces — parameters, Linear, SGD, optimisers (SGD with momentum,
 * Adam, AdamW), gradient clipping, learning-rate schedules, initialisation, dropout, losses,
 * MiniTorch's datasets and the Task 3.5 network with its training loop.
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

/** Creates the layer's parameters (owned by the layer; also added to `params` when not NULL),
 *  initialised as MiniTorch does (MT_LINEAR_INIT_MINITORCH below). All or nothing: on failure
 *  neither `layer` nor `params` changes. */
MT_API mt_status mt_linear_layer_init(mt_linear_layer *layer, int64_t in, int64_t out,
                                      uint64_t seed, mt_params *params);

/** How mt_linear_layer_init_with initialises a layer. */
typedef enum mt_linear_init {
    /** As PyTorch's nn.Linear: weight kaiming-uniform with a = sqrt(5) over fan_in = in, which is
     *  U(-1/sqrt(in), 1/sqrt(in)); bias U(-1/sqrt(in), 1/sqrt(in)). */
    MT_LINEAR_INIT_TORCH = 0,
    /** As MiniTorch (and mt_linear_layer_init): weight U[-0.5, 0.5), bias 0.1. */
    MT_LINEAR_INIT_MINITORCH
} mt_linear_init;

/** mt_linear_layer_init with a choice of initialisation. MT_LINEAR_INIT_TORCH draws the weight
 *  and the bias from two streams derived from `seed`; MT_LINEAR_INIT_MINITORCH uses `seed`
 *  exactly as mt_linear_layer_init does (both give the same layer). MT_ERR_SHAPE for in or
 *  out < 1, MT_ERR_INVALID_ARG for an unknown `init`; all or nothing like mt_linear_layer_init. */
MT_API mt_status mt_linear_layer_init_with(mt_linear_layer *layer, int64_t in, int64_t out,
                                           mt_linear_init init, uint64_t seed, mt_params *params);
/** The fused forward pass: mt_linear(x, weight, bias). x is (..., in). */
MT_API mt_tensor *mt_linear_layer_forward(const mt_linear_layer *layer, mt_tensor *x);
/** Releases the layer's parameters. */
MT_API void mt_linear_layer_free(mt_linear_layer *layer);

/* ---- optimiser ---- */

/** Plain SGD: p <- p - rate * grad(p) for every parameter with a gradient, then zero grads.
 *  Runs without recording history, in place, with no allocation. */
MT_API mt_status mt_sgd_step(const mt_params *params, float rate);

/* ---- optimisers (torch.optim) ----
 *
 * An optimiser is an object created over a parameter list: it retains the parameters that list
 * holds at creation (later additions to the list are not seen) and keeps its per-parameter state
 * (momentum or moment buffers, step counts). Semantics and update formulas are PyTorch's
 * (torch.optim.SGD, Adam, AdamW, single-tensor form, maximize = false); the per-step scalars
 * (bias corrections, step size) are computed in double and rounded to float once, the
 * per-element arithmetic and the state are float32, in PyTorch's order of operations.
 *
 * mt_optim_step updates, in place and without recording history, every parameter that has a
 * gradient; a parameter without one is skipped and its state (including its step count) does not
 * advance. Unlike mt_sgd_step it does not clear the gradients: call mt_optim_zero_grad. State
 * buffers are allocated at a parameter's first step that has a gradient, before any parameter is
 * changed, so a step is all or nothing: on failure (MT_ERR_NO_MEMORY) every parameter and every
 * piece of state is as before. Parameters may be strided views (not expanded ones: creation
 * refuses a parameter with a zero stride, as one write would change many elements). An
 * optimiser is not thread-safe: use it from one thread at a time. */

typedef struct mt_optimizer mt_optimizer;

/** Options of torch.optim.SGD. With momentum m > 0 the buffer is b = d on a parameter's first
 *  step and b = m b + (1 - dampening) d after (d = grad + weight_decay * p); the step is
 *  p -= lr * (nesterov ? d + m b : b). Without momentum, p -= lr * d. */
typedef struct mt_sgd_options {
    float lr;           /* >= 0 */
    float momentum;     /* >= 0 */
    float dampening;    /* finite */
    float weight_decay; /* >= 0 (L2 penalty added to the gradient) */
    bool nesterov;      /* needs momentum > 0 and dampening = 0 (as PyTorch) */
} mt_sgd_options;

/** PyTorch's defaults: lr 1e-3, momentum 0, dampening 0, weight_decay 0, nesterov false. */
MT_API mt_sgd_options mt_sgd_defaults(void);

/** Options of torch.optim.Adam and AdamW. Per parameter, at its step t (counted from 1):
 *  m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2, v_max = max(v_max, v) with
 *  amsgrad, p -= lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps).
 *  Adam adds weight_decay * p to g (L2); AdamW instead multiplies p by 1 - lr * weight_decay
 *  first (decoupled decay). */
typedef struct mt_adam_options {
    float lr;           /* >= 0 */
    float beta1, beta2; /* each in [0, 1) */
    float eps;          /* >= 0 */
    float weight_decay; /* >= 0 */
    bool amsgrad;       /* keep the running maximum of v (one more buffer per parameter) */
} mt_adam_options;

/** torch.optim.Adam's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
 *  amsgrad false. */
MT_API mt_adam_options mt_adam_defaults(void);
/** torch.optim.AdamW's defaults: as Adam's but weight_decay 1e-2. */
MT_API mt_adam_options mt_adamw_defaults(void);

/** An SGD optimiser over the parameters in `params` (a new object to free with mt_optim_free),
 *  or NULL: MT_ERR_NULL for NULL params, MT_ERR_INVALID_ARG for an empty or duplicated parameter
 *  list, a parameter with a zero stride, or an option out of range or NaN (the message names the
 *  option and its value), MT_ERR_NO_MEMORY. */
MT_API mt_optimizer *mt_optim_sgd(const mt_params *params, mt_sgd_options options);
/** An Adam optimiser (L2 weight decay), failing as mt_optim_sgd. */
MT_API mt_optimizer *mt_optim_adam(const mt_params *params, mt_adam_options options);
/** An AdamW optimiser (decoupled weight decay), failing as mt_optim_sgd. */
MT_API mt_optimizer *mt_optim_adamw(const mt_params *params, mt_adam_options options);

/** One optimisation step over every parameter that has a gradient (see above): all or nothing,
 *  MT_ERR_NO_MEMORY when a first step's state (or, over more than 16 parameters, the step's small
 *  working array) cannot be allocated. In a captured step (plan.h) every run of the plan steps
 *  this optimiser again, with its live state and the gradients the run computed. */
MT_API mt_status mt_optim_step(mt_optimizer *optimizer);
/** Forgets the gradient of every parameter of the optimiser (PyTorch's zero_grad with
 *  set_to_none = true). */
MT_API mt_status mt_optim_zero_grad(mt_optimizer *optimizer);
/** Sets the learning rate used by the following steps (MT_ERR_INVALID_ARG for lr < 0 or not
 *  finite). Pair it with mt_lr_step / mt_lr_cosine for a schedule. */
MT_API mt_status mt_optim_set_lr(mt_optimizer *optimizer, float lr);
/** The current learning rate, or NaN with MT_ERR_NULL for a NULL optimiser. */
MT_API float mt_optim_get_lr(const mt_optimizer *optimizer);
/** Frees the optimiser and its state and releases its parameters (NULL is fine). A captured plan
 *  whose step calls mt_optim_step on it keeps the object (not its state) until the plan is freed,
 *  and refuses to run from now on (plan.h). */
MT_API void mt_optim_free(mt_optimizer *optimizer);

/* Checkpoints: an optimiser's state is, for each parameter i (in the order of the list it was
 * created over), the number of steps it has taken and mt_optim_state_buffers() float buffers of
 * the parameter's numel, in the row-major order of its shape: SGD with momentum its momentum
 * buffer; Adam and AdamW m and v, then v_max with amsgrad. Restoring the saved parameters and
 * this state into a new optimiser with the same options resumes training exactly where it was
 * (examples/digits.c saves both in one safetensors file). */

/** Number of state buffers per parameter (0 to 3), or -1 with MT_ERR_NULL. */
MT_API int mt_optim_state_buffers(const mt_optimizer *optimizer);
/** Writes parameter i's step count to *steps and, when `buffers` is not NULL, copies its state
 *  buffers to buffers[0 .. mt_optim_state_buffers()) (numel(parameter) floats each; zeros for a
 *  parameter that has not stepped yet). MT_ERR_NULL, MT_ERR_INDEX for i out of range; nothing is
 *  written on failure. */
MT_API mt_status mt_optim_state_get(const mt_optimizer *optimizer, int i, int64_t *steps,
                                    float *const *buffers);
/** Sets parameter i's state: `steps` >= 0 steps taken and, for steps > 0, the buffers copied
 *  from buffers[0 .. mt_optim_state_buffers()) (`buffers` may be NULL when there are none);
 *  steps = 0 makes it a parameter that has not stepped (buffers ignored). All or nothing:
 *  MT_ERR_NULL, MT_ERR_INDEX, MT_ERR_INVALID_ARG for steps < 0, MT_ERR_NO_MEMORY. */
MT_API mt_status mt_optim_state_set(mt_optimizer *optimizer, int i, int64_t steps,
                                    const float *const *buffers);

/** torch.nn.utils.clip_grad_norm_ (2-norm): the norm of all gradients of `params` taken as one
 *  vector, summed in double in a fixed order (the same for any thread count), is written to
 *  *total_norm (when not NULL). When coef = max_norm / (norm + 1e-6) is below 1 (or NaN, for a
 *  NaN or infinite norm, as PyTorch) every gradient is multiplied by it in place, else they are
 *  left alone. Parameters without a gradient are skipped. MT_ERR_INVALID_ARG for max_norm < 0
 *  or NaN (max_norm = +inf never clips). */
MT_API mt_status mt_clip_grad_norm(const mt_params *params, float max_norm, float *total_norm);

/** StepLR's closed form: base * gamma^floor(step / step_size) (computed in double). NaN with
 *  MT_ERR_INVALID_ARG for step < 0, step_size < 1, or base / gamma not finite. */
MT_API float mt_lr_step(float base, int64_t step, int64_t step_size, float gamma);
/** CosineAnnealingLR's closed form: min_lr + (base - min_lr) (1 + cos(pi step / total)) / 2
 *  (computed in double; past `total` it follows the cosine back up, as PyTorch's closed form).
 *  NaN with MT_ERR_INVALID_ARG for step < 0, total < 1, or base / min_lr not finite. */
MT_API float mt_lr_cosine(float base, int64_t step, int64_t total, float min_lr);

/* ---- initialisation (torch.nn.init) ----
 *
 * Each function fills an existing tensor in place (any strides, e.g. a narrowed or transposed
 * view; not an expanded view: MT_ERR_INVALID_ARG), records no history, and returns MT_OK or an
 * error (MT_ERR_NULL, MT_ERR_INVALID_ARG for arguments out of range or NaN) leaving the tensor
 * untouched. Values are a function of (seed, element's row-major position) only: the same for
 * any thread count and any layout. Uniform draws use mt_rand_uniform's generator (so on a
 * contiguous tensor mt_init_uniform gives exactly mt_rand_uniform's values); normal draws come
 * from the same generator through the Box-Muller transform.
 *
 * Fans: this library's Linear weight is (in, out), the transpose of PyTorch's (out, in). So for a
 * tensor of shape (a, b, k...) with receptive field r = product of k..., fan_in = a * r and
 * fan_out = b * r — dims 0 and 1 swapped relative to PyTorch's rule. Tensors with fewer than
 * 2 dims have no fans (MT_ERR_SHAPE, as PyTorch). */

/** The nonlinearities of torch.nn.init.calculate_gain. */
typedef enum mt_nonlinearity {
    MT_NONLINEARITY_LINEAR,     /* gain 1 (also PyTorch's conv*d names) */
    MT_NONLINEARITY_SIGMOID,    /* 1 */
    MT_NONLINEARITY_TANH,       /* 5/3 */
    MT_NONLINEARITY_RELU,       /* sqrt(2) */
    MT_NONLINEARITY_LEAKY_RELU, /* sqrt(2 / (1 + slope^2)) */
    MT_NONLINEARITY_SELU        /* 3/4 */
} mt_nonlinearity;

/** Which fan the Kaiming functions scale by. */
typedef enum mt_fan_mode { MT_FAN_IN, MT_FAN_OUT } mt_fan_mode;

/** torch.nn.init.calculate_gain. `param` is leaky_relu's negative slope (PyTorch's default for
 *  None is 0.01: pass it explicitly) and is ignored for the others. NaN with MT_ERR_INVALID_ARG
 *  for an unknown nonlinearity or a non-finite slope. */
MT_API float mt_init_calculate_gain(mt_nonlinearity nonlinearity, float param);
/** The fans of `t` (see above): MT_ERR_SHAPE for fewer than 2 dims. */
MT_API mt_status mt_init_fans(const mt_tensor *t, int64_t *fan_in, int64_t *fan_out);

/** Uniform values in [lo, hi) (lo = hi gives lo); lo, hi finite and lo <= hi. */
MT_API mt_status mt_init_uniform(mt_tensor *t, float lo, float hi, uint64_t seed);
/** Normal values N(mean, std^2); mean finite, std finite and >= 0. */
MT_API mt_status mt_init_normal(mt_tensor *t, float mean, float std, uint64_t seed);
/** kaiming_uniform_: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity,
 *  a), fan chosen by `mode`. */
MT_API mt_status mt_init_kaiming_uniform(mt_tensor *t, float a, mt_fan_mode mode,
                                         mt_nonlinearity nonlinearity, uint64_t seed);
/** kaiming_normal_: N(0, std^2) with std = gain / sqrt(fan). */
MT_API mt_status mt_init_kaiming_normal(mt_tensor *t, float a, mt_fan_mode mode,
                                        mt_nonlinearity nonlinearity, uint64_t seed);
/** xavier_uniform_: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)); gain finite, >= 0. */
MT_API mt_status mt_init_xavier_uniform(mt_tensor *t, float gain, uint64_t seed);
/** xavier_normal_: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)). */
MT_API mt_status mt_init_xavier_normal(mt_tensor *t, float gain, uint64_t seed);

/* ---- dropout ---- */

/** Inverted dropout (torch.nn.functional.dropout). In training, each element is zeroed with
 *  probability p and the others are multiplied by 1/(1 - p) (rounded to float): the result is
 *  x * mask with mask a seeded tensor of 0 and 1/(1 - p), so the gradient is mask (0 or
 *  1/(1 - p)) times the incoming gradient. The mask depends only on (seed, element's row-major
 *  position): the same for any thread count. p = 1 gives zeros (gradient 0). In eval mode
 *  (training false), or for p = 0, it returns `x` itself (a new reference, as mt_contiguous on a
 *  contiguous tensor). NULL with MT_ERR_INVALID_ARG for p outside [0, 1] or NaN. */
MT_API mt_tensor *mt_dropout(mt_tensor *x, float p, bool training, uint64_t seed);

/** A dropout layer: probability p, a train/eval switch, and a seed that advances with every
 *  mask drawn, so each training call gets a new mask and a run is reproducible from the seed. */
typedef struct mt_dropout_layer {
    float p;
    bool training; /* true after init (PyTorch modules start in training mode) */
    uint64_t seed;
    uint64_t calls; /* masks drawn so far */
} mt_dropout_layer;

/** Sets up the layer in training mode (MT_ERR_INVALID_ARG for p outside [0, 1] or NaN). */
MT_API mt_status mt_dropout_layer_init(mt_dropout_layer *layer, float p, uint64_t seed);
/** Switches training (true) or eval (false) mode, as PyTorch's train(mode) / eval(). */
MT_API mt_status mt_dropout_layer_train(mt_dropout_layer *layer, bool training);
/** mt_dropout(x, p, training, seed of this call); in training mode a successful call advances
 *  the layer to its next mask. Called in a captured step (plan.h), every run of the plan draws
 *  the layer's next mask and advances it, so the layer must outlive the plan and stay at its
 *  address, in training mode with the same p. */
MT_API mt_tensor *mt_dropout_layer_forward(mt_dropout_layer *layer, mt_tensor *x);

/* ---- layer norm and embedding ---- */

/** PyTorch's F.layer_norm: normalises x over its last `normalized_dims` dims (mean and biased
 *  variance over those elements), y = (x - mean) / sqrt(var + eps), then y * weight + bias when
 *  they are not NULL (each with the shape of those last dims, broadcast over the others).
 *  Differentiable in x, weight and bias (built from differentiable operations). MT_ERR_SHAPE when
 *  normalized_dims is not 1..ndim or weight/bias have another shape; MT_ERR_INVALID_ARG for eps
 *  < 0 or NaN. */
MT_API mt_tensor *mt_layer_norm(mt_tensor *x, int normalized_dims, mt_tensor *weight,
                                mt_tensor *bias, float eps);

/** A layer norm over a last dim of `features` elements with learnable weight (ones) and bias
 *  (zeros), as nn.LayerNorm(features) (eps 1e-5); parameters also added to `params` when not
 *  NULL (all or nothing). */
typedef struct mt_layer_norm_layer {
    mt_tensor *weight, *bias;
    float eps;
} mt_layer_norm_layer;
MT_API mt_status mt_layer_norm_layer_init(mt_layer_norm_layer *layer, int64_t features,
                                          mt_params *params);
MT_API mt_tensor *mt_layer_norm_layer_forward(const mt_layer_norm_layer *layer, mt_tensor *x);
MT_API void mt_layer_norm_layer_free(mt_layer_norm_layer *layer);

/** An embedding table (num, dim), initialised N(0, 1) from `seed` as nn.Embedding is; forward
 *  gives the rows of the given indices, (n, dim), through mt_index_select (its gradient
 *  scatter-adds into the table; repeated indices accumulate; MT_ERR_INDEX for an index outside
 *  0..num-1). Parameters also added to `params` when not NULL. */
typedef struct mt_embedding_layer {
    mt_tensor *weight;
} mt_embedding_layer;
MT_API mt_status mt_embedding_layer_init(mt_embedding_layer *layer, int64_t num, int64_t dim,
                                         uint64_t seed, mt_params *params);
MT_API mt_tensor *mt_embedding_layer_forward(const mt_embedding_layer *layer, int64_t n,
                                             const int64_t *indices);
MT_API void mt_embedding_layer_free(mt_embedding_layer *layer);

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
/** PyTorch's mse_loss: mean((pred - target)^2). Like PyTorch, the two shapes broadcast (the mean
 *  is over the broadcast shape; PyTorch warns about a mismatch, this library never prints);
 *  shapes that do not broadcast fail with MT_ERR_BROADCAST. Gradient 2 (pred - target) / numel,
 *  summed back over broadcast dims. */
MT_API mt_tensor *mt_loss_mse(mt_tensor *pred, mt_tensor *target);
/** PyTorch's cross_entropy with class indices: mean over the batch of
 *  logsumexp(logits[i]) - logits[i, labels[i]] for logits (N, C) and `n` labels. Fused: one
 *  log-sum-exp pass over the logits (stable for any finite logits), and one pass for the gradient
 *  (softmax(logits) - onehot(labels)) / N. Fails with MT_ERR_SHAPE when logits is not 2-D, n != N
 *  or C > 2^24, MT_ERR_INDEX for a label outside 0..C-1 (PyTorch's ignore_index is not
 *  supported). */
MT_API mt_tensor *mt_loss_cross_entropy(mt_tensor *logits, int64_t n, const int64_t *labels);
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
typedef struct mt_mlp_compiled mt_mlp_compiled; /* a captured training step (private) */

typedef struct mt_mlp {
    mt_linear_layer layer1, layer2, layer3;
    mt_params params;
    mt_mlp_compiled *compiled; /* set by mt_mlp_train_epoch with options.compile; freed by mt_mlp_free */
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
    bool compile;   /* capture the step once (plan.h) and replay it fused for every full batch;
                       the same parameters as the eager epoch, bitwise on the naive backend */
} mt_train_options;

typedef struct mt_epoch_result {
    double loss;    /* mean of the epoch's batch losses (MiniTorch prints the last batch's) */
    int64_t steps;  /* SGD steps taken */
} mt_epoch_result;

/** One epoch of shuffled mini-batch SGD on MiniTorch's loss (epoch number `epoch` selects the
 *  shuffle). Each step runs in its own scope: memory use stays flat over any number of epochs.
 *  The same seed gives bitwise the same model on the naive backend for any thread count.
 *  Failure is per step: each step (forward, backward, SGD) is all or nothing, and a step that
 *  fails (e.g. MT_ERR_NO_MEMORY) stops the epoch with the steps before it applied and *result
 *  untouched — call it again with the same epoch number to redo the epoch from there. */
MT_API mt_status mt_mlp_train_epoch(mt_mlp *model, const mt_dataset *data,
                                    const mt_train_options *options, int64_t epoch,
                                    mt_epoch_result *result);
/** Counts predictions (prob > 0.5) equal to the label on `data` (no history recorded). */
MT_API mt_status mt_mlp_evaluate(const mt_mlp *model, const mt_dataset *data, int64_t *correct);

#ifdef __cplusplus
}
#endif

#endif
