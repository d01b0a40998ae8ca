/* minitorch-train --distributed: the data-parallel epoch (see train_dist.h). */
#include <stdlib.h>

#include "program_dist.h"
#include "train_dist.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* The same permutation of 0..n-1 on every rank, from (seed, epoch). */
static void shuffle(int64_t *order, int64_t n, uint64_t seed, int64_t epoch)
{
    uint64_t state = splitmix64(seed ^ splitmix64((uint64_t)epoch + 1));
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        state = splitmix64(state);
        int64_t j = (int64_t)(state % (uint64_t)(i + 1)), swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
}

/* Forward and backward on rows order[begin .. end) of the global batch of `count` points; the
 * mean loss is scaled by (end - begin) * size / count so the averaged gradient is the whole
 * batch's. Adds this rank's share of the batch's loss to *loss_share. */
static mt_status local_step(mt_mlp *model, const mt_dataset *data, const int64_t *order,
                            int64_t begin, int64_t end, int64_t count, float *x, float *y,
                            double *loss_share)
{
    const int64_t rows = end - begin;
    if (rows == 0) return MT_OK; /* no rows here: the all-reduce counts this rank's zeros */
    for (int64_t i = 0; i < rows; i++) {
        int64_t row = order[begin + i];
        x[2 * i] = data->x[2 * row];
        x[2 * i + 1] = data->x[2 * row + 1];
        y[i] = data->y[row];
    }
    mt_scope scope = mt_scope_begin();
    mt_tensor *loss = mt_loss_nll_sigmoid(mt_mlp_forward(model, mt_from_data(MT_DIMS(rows, 2), x)),
                                          mt_from_data(MT_DIMS(rows, 1), y));
    const float scale = (float)rows * (float)program_dist_size() / (float)count;
    mt_status status = loss ? mt_backward(mt_mul_scalar(loss, scale)) : mt_last_status();
    if (status == MT_OK) *loss_share += mt_item(loss) * (double)rows / (double)count;
    mt_scope_end(scope);
    return status;
}

mt_status train_dist_epoch(mt_mlp *model, const mt_dataset *data, const mt_train_options *options,
                           int64_t epoch, mt_epoch_result *result)
{
    const int64_t n = data->n;
    const int64_t batch = options->batch <= 0 || options->batch > n ? n : options->batch;
    int64_t *order = malloc(sizeof *order * (size_t)n);
    float *x = malloc(sizeof *x * 2 * (size_t)batch), *y = malloc(sizeof *y * (size_t)batch);
    mt_status status = order && x && y ? MT_OK : MT_ERR_NO_MEMORY;
    double loss_share = 0;
    int64_t steps = 0;
    if (status == MT_OK) shuffle(order, n, options->seed, epoch);
    for (int64_t first = 0; first < n && status == MT_OK; first += batch, steps++) {
        const int64_t count = n - first < batch ? n - first : batch;
        int64_t begin, end;
        program_dist_shard(count, &begin, &end);
        status = local_step(model, data, order + first, begin, end, count, x, y, &loss_share);
        /* a local failure still joins the all-reduce, which then fails on every rank */
        if (program_dist_average_grads(status == MT_OK ? &model->params : NULL) != MT_OK && status == MT_OK)
            status = mt_last_status();
        if (status == MT_OK) status = mt_sgd_step(&model->params, options->rate);
    }
    free(order);
    free(x);
    free(y);
    if (status != MT_OK) return status;
    /* the batches' losses: every rank's shares added */
    if ((status = program_dist_sum(&loss_share, 1)) != MT_OK) return status;
    result->loss = steps ? loss_share / (double)steps : 0;
    result->steps = steps;
    return MT_OK;
}

mt_status train_dist_checksum(const mt_mlp *model, uint64_t *checksum, bool *same)
{
    uint64_t hash = 1469598103934665603u; /* FNV-1a over every parameter's float bits */
    for (int i = 0; i < model->params.count; i++) {
        const mt_tensor *p = model->params.items[i];
        int64_t count = mt_numel(p);
        float *values = malloc(sizeof *values * (size_t)count);
        if (!values) return MT_ERR_NO_MEMORY;
        mt_copy_to(p, values, count);
        const unsigned char *bytes = (const unsigned char *)values;
        for (size_t k = 0; k < sizeof *values * (size_t)count; k++) hash = (hash ^ bytes[k]) * 1099511628211u;
        free(values);
    }
    *checksum = hash;
    return program_dist_agree(hash, same);
}
