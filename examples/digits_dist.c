/* minitorch-digits --distributed: training epoch and evaluation over the ranks (see
 * digits_dist.h). */
#include "digits_dist.h"

#include <stdio.h>
#include <string.h>

#include "program_dist.h"

static const int64_t mask_width[DIGITS_LAYERS - 1] = {DIGITS_HIDDEN1, DIGITS_HIDDEN2};

/* Rows [begin, end) of the dropout masks of a global batch of `count` rows: each layer draws its
 * next (count, width) mask as a single process would (the mask of ones is the mask itself), and
 * this rank keeps its rows of it. Tensors of the current scope. */
static mt_status draw_masks(digits_model *model, int64_t count, int64_t begin, int64_t end,
                            mt_tensor *masks[DIGITS_LAYERS - 1])
{
    for (int i = 0; i < DIGITS_LAYERS - 1; i++) {
        mt_tensor *whole = mt_dropout_layer_forward(&model->dropout[i], mt_ones(MT_DIMS(count, mask_width[i])));
        if (!whole) return mt_last_status();
        masks[i] = end > begin ? mt_narrow(whole, 0, begin, end - begin) : NULL; /* none: no rows */
        if (end > begin && !masks[i]) return mt_last_status();
    }
    return MT_OK;
}

/* This rank's part of one step on the global batch order[0..count): the masks, then forward and
 * backward on rows [begin, end) with the loss scaled by rows * size / count, so that the average
 * over the ranks is the whole batch's gradient. Adds this rank's share of the batch loss (its
 * mean loss * rows / count) to *loss_share. */
static mt_status local_step(digits_model *model, digits_trainer *trainer, const digits_set *train,
                            const int64_t *order, int64_t count, double *loss_share)
{
    int64_t begin, end;
    program_dist_shard(count, &begin, &end);
    const int64_t rows = end - begin;
    mt_scope scope = mt_scope_begin();
    mt_tensor *masks[DIGITS_LAYERS - 1];
    mt_status status = draw_masks(model, count, begin, end, masks);
    if (status == MT_OK && rows > 0) { /* no rows: the average counts this rank's zeros */
        for (int64_t i = 0; i < rows; i++) {
            const int64_t row = order[begin + i];
            memcpy(trainer->x + i * DIGITS_PIXELS, train->x + row * DIGITS_PIXELS,
                   sizeof *trainer->x * DIGITS_PIXELS);
            trainer->y[i] = train->y[row];
        }
        mt_tensor *x = mt_from_data(MT_DIMS(rows, DIGITS_PIXELS), trainer->x);
        mt_tensor *loss = mt_loss_cross_entropy(digits_forward(model, x, masks), rows, trainer->y);
        const float scale = (float)rows * (float)program_dist_size() / (float)count;
        status = loss ? mt_backward(mt_mul_scalar(loss, scale)) : mt_last_status();
        if (status == MT_OK) *loss_share += mt_item(loss) * (double)rows / (double)count;
    }
    mt_scope_end(scope);
    return status;
}

mt_status digits_dist_train_epoch(digits_model *model, digits_trainer *trainer, const digits_set *train,
                                  uint64_t seed, int64_t epoch, double *loss)
{
    digits_epoch_order(trainer->order, train->n, seed, epoch);
    double totals[2] = {0, 0}; /* this rank's shares of the batch losses; whether it failed */
    int64_t steps = 0;
    mt_status status = MT_OK;
    for (int64_t start = 0; start < train->n; start += trainer->batch, steps++) {
        const int64_t count = train->n - start < trainer->batch ? train->n - start : trainer->batch;
        if (status == MT_OK) status = local_step(model, trainer, train, trainer->order + start, count, &totals[0]);
        /* A rank that failed passes NULL: the average then fails on every rank, and all stop
         * here together; that rank keeps its own error message. */
        char error[256];
        if (status != MT_OK) snprintf(error, sizeof error, "%s", mt_last_error());
        if (program_dist_average_grads(status == MT_OK ? &model->params : NULL) != MT_OK)
            return status == MT_OK ? mt_last_status() : mt_set_error(status, error);
        if (status == MT_OK) status = mt_optim_step(trainer->optimizer);
        if (status == MT_OK) status = mt_optim_zero_grad(trainer->optimizer);
    }
    /* Reached by every rank: an Adam step that failed in the last step is reported here. */
    totals[1] = status != MT_OK;
    mt_status summed = program_dist_sum(totals, 2);
    if (status != MT_OK) return status;
    if (summed != MT_OK) return summed;
    if (totals[1] > 0) return mt_set_error(MT_ERR_DIST, "digits_dist_train_epoch: another rank failed");
    *loss = totals[0] / (double)steps;
    return MT_OK;
}

mt_status digits_dist_evaluate(digits_model *model, const digits_set *set, int64_t *correct,
                               int64_t *confusion)
{
    enum { CELLS = DIGITS_CLASSES * DIGITS_CLASSES };
    int64_t begin, end;
    program_dist_shard(set->n, &begin, &end);
    /* right, the confusion matrix, and whether this rank failed: summed over the ranks */
    int64_t counts[1 + CELLS + 1] = {0};
    mt_status status = MT_OK;
    if (end > begin) {
        const digits_set part = {end - begin, set->x + begin * DIGITS_PIXELS, set->y + begin};
        status = digits_evaluate(model, &part, &counts[0], counts + 1);
    }
    counts[1 + CELLS] = status != MT_OK;
    mt_status summed = program_dist_sum_counts(counts, 1 + CELLS + 1);
    if (status != MT_OK) return status;
    if (summed != MT_OK) return summed;
    if (counts[1 + CELLS] > 0) return mt_set_error(MT_ERR_DIST, "digits_dist_evaluate: another rank failed");
    *correct = counts[0];
    if (confusion) memcpy(confusion, counts + 1, sizeof counts[0] * CELLS);
    return MT_OK;
}
