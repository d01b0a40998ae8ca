/* minitorch-digits: the classifier, its training epoch and evaluation (see digits_model.h). */
#include "digits_model.h"

#include <stdlib.h>
#include <string.h>

const char *const digits_param_names[DIGITS_PARAMS] = {"fc1.weight", "fc1.bias", "fc2.weight",
                                                       "fc2.bias",   "fc3.weight", "fc3.bias"};

/* Seed streams. */
enum { STREAM_LAYER = 1, STREAM_DROPOUT = 16, STREAM_SHUFFLE = 1 << 20 };

uint64_t digits_derive_seed(uint64_t seed, uint64_t stream)
{
    uint64_t state = seed ^ (stream * 0xd1b54a32d192ed03u);
    return digits_random(&state);
}

mt_status digits_model_init(digits_model *model, uint64_t seed)
{
    static const int64_t width[DIGITS_LAYERS + 1] = {DIGITS_PIXELS, DIGITS_HIDDEN1, DIGITS_HIDDEN2,
                                                     DIGITS_CLASSES};
    *model = (digits_model){0};
    mt_status status = MT_OK;
    for (int i = 0; i < DIGITS_LAYERS && status == MT_OK; i++) {
        status = mt_linear_layer_init_with(&model->layer[i], width[i], width[i + 1], MT_LINEAR_INIT_TORCH,
                                           digits_derive_seed(seed, STREAM_LAYER + (uint64_t)i), NULL);
        if (status == MT_OK) status = mt_params_add(&model->params, model->layer[i].weight);
        if (status == MT_OK) status = mt_params_add(&model->params, model->layer[i].bias);
    }
    for (int i = 0; i < DIGITS_LAYERS - 1 && status == MT_OK; i++)
        status = mt_dropout_layer_init(&model->dropout[i], DIGITS_DROPOUT,
                                       digits_derive_seed(seed, STREAM_DROPOUT + (uint64_t)i));
    if (status != MT_OK) digits_model_free(model);
    return status;
}

void digits_model_free(digits_model *model)
{
    for (int i = 0; i < DIGITS_LAYERS; i++) mt_linear_layer_free(&model->layer[i]);
    mt_params_free(&model->params);
}

mt_tensor *digits_forward(digits_model *model, mt_tensor *x, mt_tensor *const *masks)
{
    mt_tensor *h = x;
    for (int i = 0; i < DIGITS_LAYERS - 1; i++) {
        h = mt_relu(mt_linear_layer_forward(&model->layer[i], h));
        /* the dropout layer's own mask, or the given one: the same product h * mask */
        h = masks ? mt_mul(h, masks[i]) : mt_dropout_layer_forward(&model->dropout[i], h);
    }
    return mt_linear_layer_forward(&model->layer[DIGITS_LAYERS - 1], h);
}

/* The loss of a batch: mean softmax cross-entropy of the logits against the labels. */
static mt_tensor *batch_loss(mt_tensor *logits, const int64_t *labels, int64_t n)
{
    return mt_loss_cross_entropy(logits, n, labels); /* fused log-softmax + NLL, class indices */
}

void digits_epoch_order(int64_t *order, int64_t n, uint64_t seed, int64_t epoch)
{
    digits_permutation(order, n, digits_derive_seed(seed, STREAM_SHUFFLE + (uint64_t)epoch));
}

mt_status digits_trainer_init(digits_trainer *trainer, digits_model *model, float lr, int64_t batch,
                              int64_t n)
{
    *trainer = (digits_trainer){0};
    mt_adam_options adam = mt_adam_defaults();
    adam.lr = lr;
    trainer->batch = batch;
    trainer->optimizer = mt_optim_adam(&model->params, adam);
    if (!trainer->optimizer) return mt_last_status();
    trainer->order = malloc(sizeof *trainer->order * (size_t)n);
    trainer->x = malloc(sizeof *trainer->x * (size_t)batch * DIGITS_PIXELS);
    trainer->y = malloc(sizeof *trainer->y * (size_t)batch);
    if (!trainer->order || !trainer->x || !trainer->y) {
        digits_trainer_free(trainer);
        return MT_ERR_NO_MEMORY;
    }
    return MT_OK;
}

void digits_trainer_free(digits_trainer *trainer)
{
    mt_plan_free(trainer->plan);
    if (trainer->x_batch) mt_release(trainer->x_batch);
    if (trainer->loss) mt_release(trainer->loss);
    mt_optim_free(trainer->optimizer);
    free(trainer->order);
    free(trainer->x);
    free(trainer->y);
    *trainer = (digits_trainer){0};
}

/* One step on the batch in x (n rows) and trainer->y: forward, loss, backward, Adam, zero grad;
 * the loss is kept in trainer->loss. */
static mt_status train_step(digits_model *model, digits_trainer *trainer, mt_tensor *x, int64_t n)
{
    if (trainer->loss) mt_release(trainer->loss);
    trainer->loss = NULL;
    mt_scope scope = mt_scope_begin();
    mt_tensor *l = batch_loss(digits_forward(model, x, NULL), trainer->y, n);
    mt_status status = l ? mt_backward(l) : mt_last_status();
    if (status == MT_OK) status = mt_optim_step(trainer->optimizer);
    if (status == MT_OK) status = mt_optim_zero_grad(trainer->optimizer);
    if (status == MT_OK) trainer->loss = mt_retain(mt_detach(l));
    mt_scope_end(scope);
    return status;
}

/* The step a plan captures: the bound input batch. */
static mt_status captured_step(void *context)
{
    digits_trainer *trainer = context;
    return train_step(trainer->model, trainer, trainer->x_batch, trainer->batch);
}

/* One full batch through the plan (captured at the first call). */
static mt_status planned_step(digits_model *model, digits_trainer *trainer)
{
    if (!trainer->x_batch) {
        trainer->x_batch = mt_zeros(MT_DIMS(trainer->batch, DIGITS_PIXELS));
        if (!trainer->x_batch) return mt_last_status();
    }
    mt_status status = mt_copy_from(trainer->x_batch, trainer->x, trainer->batch * DIGITS_PIXELS);
    if (status != MT_OK) return status;
    if (trainer->plan) return mt_plan_run(trainer->plan);
    trainer->model = model;
    return mt_plan_capture(captured_step, trainer, &trainer->plan);
}

mt_status digits_train_epoch(digits_model *model, digits_trainer *trainer, const digits_set *train,
                             uint64_t seed, int64_t epoch, double *loss)
{
    digits_epoch_order(trainer->order, train->n, seed, epoch);
    double loss_sum = 0;
    int64_t steps = 0;
    mt_status status = MT_OK;
    for (int64_t start = 0; start < train->n && status == MT_OK; start += trainer->batch, steps++) {
        const int64_t n = train->n - start < trainer->batch ? train->n - start : trainer->batch;
        for (int64_t i = 0; i < n; i++) {
            const int64_t row = trainer->order[start + i];
            memcpy(trainer->x + i * DIGITS_PIXELS, train->x + row * DIGITS_PIXELS,
                   sizeof *trainer->x * DIGITS_PIXELS);
            trainer->y[i] = train->y[row];
        }
        if (trainer->compile && n == trainer->batch) {
            status = planned_step(model, trainer);
        } else {
            mt_scope scope = mt_scope_begin();
            mt_tensor *x = mt_from_data(MT_DIMS(n, DIGITS_PIXELS), trainer->x);
            status = x ? train_step(model, trainer, x, n) : mt_last_status();
            mt_scope_end(scope);
        }
        if (status == MT_OK) loss_sum += mt_item(trainer->loss);
    }
    if (status == MT_OK) *loss = loss_sum / (double)steps;
    return status;
}

mt_status digits_evaluate(digits_model *model, const digits_set *set, int64_t *correct,
                          int64_t *confusion)
{
    float *logits = malloc(sizeof *logits * (size_t)set->n * DIGITS_CLASSES);
    if (!logits) return MT_ERR_NO_MEMORY;
    for (int i = 0; i < DIGITS_LAYERS - 1; i++) mt_dropout_layer_train(&model->dropout[i], false);
    mt_no_grad_begin();
    mt_scope scope = mt_scope_begin();
    mt_tensor *out = digits_forward(model, mt_from_data(MT_DIMS(set->n, DIGITS_PIXELS), set->x), NULL);
    mt_status status = out ? mt_copy_to(out, logits, set->n * DIGITS_CLASSES) : mt_last_status();
    mt_scope_end(scope);
    mt_no_grad_end();
    for (int i = 0; i < DIGITS_LAYERS - 1; i++) mt_dropout_layer_train(&model->dropout[i], true);
    if (status == MT_OK) {
        if (confusion) memset(confusion, 0, sizeof *confusion * DIGITS_CLASSES * DIGITS_CLASSES);
        int64_t right = 0;
        for (int64_t r = 0; r < set->n; r++) {
            const float *row = logits + r * DIGITS_CLASSES;
            int best = 0;
            for (int c = 1; c < DIGITS_CLASSES; c++)
                if (row[c] > row[best]) best = c;
            right += best == set->y[r];
            if (confusion) confusion[set->y[r] * DIGITS_CLASSES + best]++;
        }
        *correct = right;
    }
    free(logits);
    return status;
}

uint64_t digits_checksum(const digits_model *model)
{
    uint64_t hash = 0xcbf29ce484222325u;
    for (int i = 0; i < model->params.count; i++) {
        const mt_tensor *p = model->params.items[i];
        const int64_t n = mt_numel(p);
        float *values = malloc(sizeof *values * (size_t)n);
        if (!values || mt_copy_to(p, values, n) != MT_OK) {
            free(values);
            return 0;
        }
        const unsigned char *bytes = (const unsigned char *)values;
        for (size_t b = 0; b < sizeof *values * (size_t)n; b++) hash = (hash ^ bytes[b]) * 0x100000001b3u;
        free(values);
    }
    return hash;
}
