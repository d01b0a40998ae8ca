/* libminitorch_mpi under mpirun -np 2: batch shards, parameter broadcast, gradient averaging
 * against a single-process oracle computed on rank 0, buckets, missing gradients, error
 * agreement (no hang on a bad argument), and SGD training against a single-process run.
 * Runs on the naive backend, whose kernels sum every output in a fixed order (so a batch's
 * per-row values do not depend on which other rows are in it). */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <minitorch/dist.h>
#include <minitorch/minitorch.h>

#include "check.h"

enum { POINTS = 64, HIDDEN = 16 };
static int rank, size;
static mt_dataset data;

/* Every parameter's values, concatenated. */
static float *flat_values(const mt_params *params, int64_t *total)
{
    int64_t n = 0;
    for (int i = 0; i < params->count; i++) n += mt_numel(params->items[i]);
    float *out = calloc((size_t)n + 1, sizeof *out);
    for (int64_t i = 0, offset = 0; i < params->count; offset += mt_numel(params->items[i]), i++)
        mt_copy_to(params->items[i], out + offset, mt_numel(params->items[i]));
    if (total) *total = n;
    return out;
}

/* Every parameter's gradient, concatenated (zeros where there is none). */
static float *flat_grads(const mt_params *params)
{
    int64_t n = 0;
    for (int i = 0; i < params->count; i++) n += mt_numel(params->items[i]);
    float *out = calloc((size_t)n + 1, sizeof *out);
    mt_scope scope = mt_scope_begin();
    for (int64_t i = 0, offset = 0; i < params->count; offset += mt_numel(params->items[i]), i++) {
        mt_tensor *g = mt_grad(params->items[i]);
        if (g) mt_copy_to(g, out + offset, mt_numel(g));
    }
    mt_scope_end(scope);
    mt_clear_error();
    return out;
}

static int64_t param_total(const mt_params *params)
{
    int64_t n = 0;
    for (int i = 0; i < params->count; i++) n += mt_numel(params->items[i]);
    return n;
}

/* Backward of scale * (mean loss over rows [first, first + rows) of the dataset). */
static mt_status backward_rows(mt_mlp *model, int64_t first, int64_t rows, float scale)
{
    if (rows == 0) return MT_OK;
    mt_scope scope = mt_scope_begin();
    mt_tensor *x = mt_from_data(MT_DIMS(rows, 2), data.x + 2 * first);
    mt_tensor *y = mt_from_data(MT_DIMS(rows, 1), data.y + first);
    mt_tensor *loss = mt_mul_scalar(mt_loss_nll_sigmoid(mt_mlp_forward(model, x), y), scale);
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    mt_scope_end(scope);
    return status;
}

/* The shard formula of dist.h, written out independently: rank r of p gets n/p items, plus one
 * for the first n%p ranks. */
static void shard_of(int64_t n, int r, int p, int64_t *begin, int64_t *end)
{
    *begin = 0;
    for (int q = 0; q < r; q++) *begin += n / p + (q < n % p);
    *end = *begin + n / p + (r < n % p);
}

/* This rank's distributed gradient of the mean loss over the first n points. */
static mt_status distributed_backward(mt_mlp *model, int64_t n)
{
    int64_t begin, end;
    mt_status status = mt_dist_shard(n, &begin, &end);
    if (status != MT_OK) return status;
    return backward_rows(model, begin, end - begin, (float)(end - begin) * (float)size / (float)n);
}

static bool bitwise_same_on_every_rank(const float *values, int64_t n)
{
    float *root = malloc((size_t)n * sizeof *root + 1);
    memcpy(root, values, (size_t)n * sizeof *root);
    MPI_Bcast(root, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    int same = memcmp(root, values, (size_t)n * sizeof *root) == 0, all = 0;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    free(root);
    return all == 1;
}

static void test_shard(void)
{
    const int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1001};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k], mine[2], all[64];
        CHECK(mt_dist_shard(n, &mine[0], &mine[1]) == MT_OK, "n=%lld", (long long)n);
        MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) {
            int64_t begin, end;
            shard_of(n, r, size, &begin, &end);
            CHECK(all[2 * r] == begin && all[2 * r + 1] == end, "n=%lld rank %d got [%lld,%lld)",
                  (long long)n, r, (long long)all[2 * r], (long long)all[2 * r + 1]);
        }
        CHECK(all[0] == 0 && all[2 * size - 1] == n, "the shards cover [0, %lld)", (long long)n);
    }
    int64_t b, e;
    CHECK(mt_dist_shard(-1, &b, &e) == MT_ERR_INVALID_ARG, "negative n");
    CHECK(mt_dist_shard(5, NULL, &e) == MT_ERR_NULL && strstr(mt_last_error(), "mt_dist_shard"), "NULL");
    CHECK(mt_dist_shard(5, &b, NULL) == MT_ERR_NULL, "NULL end");
}

/* Differently initialised ranks end up with rank 0's values, bitwise; rank 0's are unchanged,
 * gradients are untouched. */
static void test_broadcast(void)
{
    mt_mlp model;
    mt_mlp_init(&model, 2, HIDDEN, 100 + (uint64_t)rank);
    int64_t n;
    float *before = flat_values(&model.params, &n);
    CHECK(backward_rows(&model, 0, 8, 1.0f) == MT_OK, "backward: %s", mt_last_error());
    float *grads_before = flat_grads(&model.params);
    CHECK(!bitwise_same_on_every_rank(before, n), "the ranks start different");
    CHECK(mt_dist_broadcast_params(&model.params) == MT_OK, "broadcast: %s", mt_last_error());
    float *after = flat_values(&model.params, NULL);
    CHECK(bitwise_same_on_every_rank(after, n), "identical after the broadcast");
    if (rank == 0) CHECK(memcmp(before, after, (size_t)n * sizeof *after) == 0, "rank 0 unchanged");
    float *grads_after = flat_grads(&model.params);
    CHECK(memcmp(grads_before, grads_after, (size_t)n * sizeof *after) == 0, "grads untouched");
    free(before);
    free(after);
    free(grads_before);
    free(grads_after);
    mt_mlp_free(&model);
}

/* Tolerance of the averaged gradient against the whole batch's, per element. Both are the same
 * float computation per row (naive kernels: a row's values do not depend on the batch), scaled
 * by powers of two (exact); they differ only in how the N = 64 per-row terms of each gradient
 * element are summed: one sum over 64 rows, or two sums of 32 added. Each ordering is within
 * gamma_N * sum|terms| of the exact sum (gamma_N = N u / (1 - N u), u = 2^-24), so they differ
 * by at most 2 gamma_N * sum|terms|. sum|terms| is measured: the gradients of each single row
 * (scaled by 1/N) added in absolute value. */
static float *gradient_tolerance(int64_t n)
{
    const double u = ldexp(1.0, -24), gamma = POINTS * u / (1 - POINTS * u);
    mt_mlp model;
    mt_mlp_init(&model, 2, HIDDEN, 7);
    float *bound = calloc((size_t)n, sizeof *bound);
    for (int64_t row = 0; row < POINTS; row++) {
        mt_params_zero_grad(&model.params);
        backward_rows(&model, row, 1, 1.0f / POINTS);
        float *g = flat_grads(&model.params);
        for (int64_t i = 0; i < n; i++) bound[i] += fabsf(g[i]);
        free(g);
    }
    for (int64_t i = 0; i < n; i++) bound[i] = (float)(2 * gamma * bound[i]);
    mt_mlp_free(&model);
    return bound;
}

static void test_gradients_match_single_process(void)
{
    mt_mlp model;
    mt_mlp_init(&model, 2, HIDDEN, 7);
    const int64_t n = param_total(&model.params);
    CHECK(distributed_backward(&model, POINTS) == MT_OK, "backward: %s", mt_last_error());
    CHECK(mt_dist_allreduce_grads(&model.params) == MT_OK, "allreduce: %s", mt_last_error());
    float *averaged = flat_grads(&model.params);
    CHECK(bitwise_same_on_every_rank(averaged, n), "every rank has the same averaged gradients");

    /* Other bucket sizes (each parameter alone, a few per bucket) give the same bits. */
    const int64_t buckets[] = {4, 1000, 4096};
    for (int k = 0; k < 3; k++) {
        mt_params_zero_grad(&model.params);
        distributed_backward(&model, POINTS);
        mt_dist_set_bucket_bytes(buckets[k]);
        CHECK(mt_dist_allreduce_grads(&model.params) == MT_OK, "bucket %lld", (long long)buckets[k]);
        float *again = flat_grads(&model.params);
        CHECK(memcmp(again, averaged, (size_t)n * sizeof *again) == 0, "bucket %lld: same bits",
              (long long)buckets[k]);
        free(again);
    }
    mt_dist_set_bucket_bytes(MT_DIST_DEFAULT_BUCKET_BYTES);

    if (rank == 0) {
        /* Oracle 1, exact: each rank's half computed here in one process, added in rank order and
         * divided by the size (two floats: the sum is the same in any order). */
        mt_mlp reference;
        mt_mlp_init(&reference, 2, HIDDEN, 7);
        float *sum = calloc((size_t)n, sizeof *sum);
        for (int r = 0; r < size; r++) {
            int64_t begin, end;
            shard_of(POINTS, r, size, &begin, &end);
            mt_params_zero_grad(&reference.params);
            backward_rows(&reference, begin, end - begin, (float)(end - begin) * (float)size / POINTS);
            float *g = flat_grads(&reference.params);
            for (int64_t i = 0; i < n; i++) sum[i] += g[i];
            free(g);
        }
        int64_t differ = 0;
        for (int64_t i = 0; i < n; i++) differ += sum[i] / (float)size != averaged[i];
        if (size == 2) CHECK(differ == 0, "%lld of %lld elements differ from (g0 + g1) / 2", (long long)differ, (long long)n);

        /* Oracle 2: the whole batch in one process, within the summation-order bound. */
        mt_params_zero_grad(&reference.params);
        backward_rows(&reference, 0, POINTS, 1.0f);
        float *whole = flat_grads(&reference.params), *tolerance = gradient_tolerance(n);
        int64_t outside = 0, worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)whole[i] - averaged[i]);
            if (d > tolerance[i]) outside++;
            if (d > fabs((double)whole[worst] - averaged[worst])) worst = i;
        }
        CHECK(outside == 0, "%lld elements outside the bound; worst %lld: %g vs %g (bound %g)",
              (long long)outside, (long long)worst, (double)averaged[worst], (double)whole[worst],
              (double)tolerance[worst]);
        free(whole);
        free(tolerance);
        free(sum);
        mt_mlp_free(&reference);
    }
    free(averaged);
    mt_mlp_free(&model);
}

/* Rank 0 has gradients, rank 1 none: every rank gets g0 / size (exact for size 2). A parameter
 * with a gradient on no rank stays without one. A successful call keeps the caller's error. */
static void test_missing_gradients(void)
{
    mt_mlp model;
    mt_mlp_init(&model, 2, HIDDEN, 7);
    mt_tensor *unused = mt_zeros(MT_DIMS(3));
    mt_set_requires_grad(unused, true);
    mt_params_add(&model.params, unused);
    const int64_t n = param_total(&model.params);
    if (rank == 0) backward_rows(&model, 0, POINTS, 1.0f);
    float *mine = flat_grads(&model.params);
    mt_set_error(MT_ERR_IO, "earlier: an error the caller has not handled");
    CHECK(mt_dist_allreduce_grads(&model.params) == MT_OK, "allreduce: %s", mt_last_error());
    CHECK(mt_last_status() == MT_ERR_IO && strstr(mt_last_error(), "earlier"), "error kept: %s",
          mt_last_error());
    mt_clear_error();
    float *averaged = flat_grads(&model.params), *expected = mine;
    MPI_Bcast(expected, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++) differ += expected[i] / (float)size != averaged[i];
    CHECK(differ == 0, "%lld elements differ from g0 / size", (long long)differ);
    mt_tensor *g = mt_grad(model.layer3.bias);
    CHECK(g != NULL, "rank %d has a gradient now", rank);
    mt_release(g);
    CHECK(mt_grad(unused) == NULL, "a parameter without gradient anywhere stays without");
    mt_clear_error();
    free(mine);
    free(averaged);
    mt_release(unused);
    mt_mlp_free(&model);
}

/* A bad argument or a layout mismatch on one rank fails the call on every rank, nothing is
 * written, and the next good call works (no rank was left inside a collective). */
static void test_errors_agree(void)
{
    mt_mlp model;
    mt_mlp_init(&model, 2, HIDDEN, 7);
    backward_rows(&model, 0, 4, 1.0f);
    const int64_t n = param_total(&model.params);
    float *grads = flat_grads(&model.params), *values = flat_values(&model.params, NULL);

    mt_status s = mt_dist_allreduce_grads(rank == 1 ? NULL : &model.params);
    if (rank == 1) CHECK(s == MT_ERR_NULL, "own error: %s", mt_last_error());
    else CHECK(s == MT_ERR_DIST && strstr(mt_last_error(), "rank 1 failed"), "peer's: %s", mt_last_error());

    s = mt_dist_broadcast_params(rank == 0 ? NULL : &model.params);
    if (rank == 0) CHECK(s == MT_ERR_NULL, "own error: %s", mt_last_error());
    else CHECK(s == MT_ERR_DIST && strstr(mt_last_error(), "rank 0 failed"), "peer's: %s", mt_last_error());

    mt_tensor *extra = mt_zeros(MT_DIMS(2));
    mt_params longer = {0};
    for (int i = 0; i < model.params.count; i++) mt_params_add(&longer, model.params.items[i]);
    mt_params_add(&longer, extra);
    s = mt_dist_allreduce_grads(rank == 1 ? &longer : &model.params);
    CHECK(s == MT_ERR_DIST && strstr(mt_last_error(), "disagree on the parameter count"), "%s", mt_last_error());

    mt_dist_set_bucket_bytes(rank == 1 ? 64 : 128);
    s = mt_dist_broadcast_params(&model.params);
    CHECK(s == MT_ERR_DIST && strstr(mt_last_error(), "bucket size"), "%s", mt_last_error());
    mt_dist_set_bucket_bytes(MT_DIST_DEFAULT_BUCKET_BYTES);

    /* rank 0's first parameter has a gradient; rank 1's cannot take one */
    mt_params odd = {0};
    mt_tensor *plain = mt_zeros(mt_ndim(model.layer1.weight), mt_shape(model.layer1.weight));
    mt_params_add(&odd, rank == 1 ? plain : model.layer1.weight);
    s = mt_dist_allreduce_grads(&odd);
    CHECK(s == MT_ERR_DIST && strstr(mt_last_error(), "cannot take one"), "%s", mt_last_error());

    float *grads_after = flat_grads(&model.params), *values_after = flat_values(&model.params, NULL);
    CHECK(memcmp(grads, grads_after, (size_t)n * sizeof *grads) == 0, "failed calls wrote no gradient");
    CHECK(memcmp(values, values_after, (size_t)n * sizeof *values) == 0, "nor any parameter");
    CHECK(mt_dist_allreduce_grads(&model.params) == MT_OK, "then a good call works: %s", mt_last_error());

    CHECK(mt_dist_set_bucket_bytes(3) == MT_ERR_INVALID_ARG, "bucket 3");
    CHECK(mt_dist_set_bucket_bytes(INT64_MAX) == MT_ERR_INVALID_ARG, "bucket huge");
    CHECK(mt_dist_bucket_bytes() == MT_DIST_DEFAULT_BUCKET_BYTES, "a refused size changes nothing");
    CHECK(mt_dist_init(NULL, NULL) == MT_ERR_DIST && strstr(mt_last_error(), "already"), "init twice");
    CHECK(mt_dist_init_comm(MPI_COMM_WORLD) == MT_ERR_DIST, "init_comm after init");
    mt_params_free(&odd);
    mt_params_free(&longer);
    mt_release(plain);
    mt_release(extra);
    free(grads);
    free(values);
    free(grads_after);
    free(values_after);
    mt_mlp_free(&model);
}

/* STEPS full-batch SGD steps, distributed, against the same steps in one process on rank 0.
 * Each step's gradients agree within the summation-order bound above (relative ~1e-6 here);
 * a step moves the parameters by rate * g, so after STEPS steps they differ by about
 * STEPS * rate * that bound, grown by at most (1 + rate * L) per step through the gradient's
 * dependence on the parameters (L: its Lipschitz constant, O(1) for this network). Allowing
 * 1e-5 * (1 + |p|) leaves two orders of magnitude for that growth. The ranks are bitwise equal. */
static void test_training_matches(void)
{
    enum { STEPS = 20 };
    const float rate = 0.5f;
    mt_mlp model;
    mt_mlp_init(&model, 2, HIDDEN, 3);
    for (int step = 0; step < STEPS; step++) {
        distributed_backward(&model, POINTS);
        mt_dist_allreduce_grads(&model.params);
        mt_sgd_step(&model.params, rate);
    }
    int64_t n;
    float *trained = flat_values(&model.params, &n);
    CHECK(bitwise_same_on_every_rank(trained, n), "the ranks' parameters are identical");
    if (rank == 0) {
        mt_mlp reference;
        mt_mlp_init(&reference, 2, HIDDEN, 3);
        for (int step = 0; step < STEPS; step++) {
            backward_rows(&reference, 0, POINTS, 1.0f);
            mt_sgd_step(&reference.params, rate);
        }
        float *expected = flat_values(&reference.params, NULL), *initial;
        mt_mlp fresh;
        mt_mlp_init(&fresh, 2, HIDDEN, 3);
        initial = flat_values(&fresh.params, NULL);
        int64_t outside = 0, moved = 0;
        for (int64_t i = 0; i < n; i++) {
            outside += fabsf(trained[i] - expected[i]) > 1e-5f * (1 + fabsf(expected[i]));
            moved += expected[i] != initial[i];
        }
        CHECK(outside == 0, "%lld of %lld parameters differ from the single-process run", (long long)outside, (long long)n);
        CHECK(moved > n / 2, "training moved the parameters (%lld of %lld)", (long long)moved, (long long)n);
        free(expected);
        free(initial);
        mt_mlp_free(&fresh);
        mt_mlp_free(&reference);
    }
    free(trained);
    mt_mlp_free(&model);
}

int main(int argc, char **argv)
{
    mt_set_backend_by_name("naive");
    /* before initialisation: one rank, collectives refused without any MPI call */
    int64_t b, e;
    mt_params empty = {0};
    bool before_ok = mt_dist_rank() == 0 && mt_dist_size() == 1 &&
                     mt_dist_shard(10, &b, &e) == MT_OK && b == 0 && e == 10 &&
                     mt_dist_allreduce_grads(&empty) == MT_ERR_DIST &&
                     strstr(mt_last_error(), "not initialised") != NULL;
    if (mt_dist_init(&argc, &argv) != MT_OK) {
        fprintf(stderr, "mt_dist_init: %s\n", mt_last_error());
        return 1;
    }
    CHECK(before_ok, "before mt_dist_init: rank 0 of 1, whole shard, collectives refused");
    rank = mt_dist_rank();
    size = mt_dist_size();
    CHECK(size >= 2, "run under mpirun -np 2 (size %d)", size);
    mt_dataset_make(&data, MT_DATASET_XOR, POINTS, 11);
    test_shard();
    test_broadcast();
    test_gradients_match_single_process();
    test_missing_gradients();
    test_errors_agree();
    test_training_matches();
    mt_dataset_free(&data);
    mt_memory_stats stats;
    mt_memory_get_stats(&stats); /* LeakSanitizer is off under MPI: see CMakeLists.txt */
    CHECK(stats.bytes_in_use == 0, "%lld bytes of tensor storage not freed", (long long)stats.bytes_in_use);
    int status = dist_check_finish();
    if (mt_dist_finalize() != MT_OK) {
        fprintf(stderr, "mt_dist_finalize: %s\n", mt_last_error());
        status = 1;
    }
    if (mt_dist_finalize() != MT_ERR_DIST || mt_dist_size() != 1) {
        fprintf(stderr, "a second mt_dist_finalize should fail and leave one rank\n");
        status = 1;
    }
    return status;
}
