/* minitorch-dist-bench: one full-batch epoch of MiniTorch's Task 3.5 network (split dataset,
 * 2 -> H -> H -> 1) data-parallel over MPI, timed by phase. Run under mpirun (see
 * dist_bench.sh). Every epoch: barrier, forward + backward on this rank's shard (compute), the
 * gradient all-reduce, the SGD step. Prints the medians over the epochs after the warm-up of the
 * slowest rank's times, and the all-reduced bytes per step.
 *   mpirun -np N minitorch-dist-bench [--pts 5000] [--hidden 256] [--epochs 30] [--warmup 3] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minitorch/dist.h>
#include <minitorch/minitorch.h>

enum { PHASES = 4 }; /* compute, all-reduce, sgd, epoch */

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int fail(const char *what)
{
    fprintf(stderr, "minitorch-dist-bench: %s: %s\n", what, mt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (mt_dist_init(&argc, &argv) != MT_OK) return fail("mt_dist_init");
    int64_t pts = 5000, hidden = 256, epochs = 30, warmup = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        int64_t v = strtoll(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--pts") == 0) pts = v;
        else if (strcmp(argv[i], "--hidden") == 0) hidden = v;
        else if (strcmp(argv[i], "--epochs") == 0) epochs = v;
        else if (strcmp(argv[i], "--warmup") == 0) warmup = v;
    }
    const int rank = mt_dist_rank(), size = mt_dist_size();
    mt_dataset data;
    mt_mlp model;
    if (mt_dataset_make(&data, MT_DATASET_SPLIT, pts, 1) != MT_OK || mt_mlp_init(&model, 2, hidden, 1) != MT_OK)
        return fail("setup");
    if (mt_dist_broadcast_params(&model.params) != MT_OK) return fail("broadcast");
    int64_t begin, end, grad_floats = 0;
    mt_dist_shard(pts, &begin, &end);
    for (int i = 0; i < model.params.count; i++) grad_floats += mt_numel(model.params.items[i]);
    mt_tensor *x = mt_from_data(MT_DIMS(end - begin, 2), data.x + 2 * begin);
    mt_tensor *y = mt_from_data(MT_DIMS(end - begin, 1), data.y + begin);
    const float scale = (float)(end - begin) * (float)size / (float)pts;
    double *times[PHASES];
    for (int p = 0; p < PHASES; p++) times[p] = calloc((size_t)epochs, sizeof(double));
    for (int64_t e = 0; e < warmup + epochs; e++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        mt_scope scope = mt_scope_begin();
        mt_tensor *loss = mt_mul_scalar(mt_loss_nll_sigmoid(mt_mlp_forward(&model, x), y), scale);
        if (!loss || mt_backward(loss) != MT_OK) return fail("backward");
        mt_scope_end(scope);
        double t1 = MPI_Wtime();
        if (mt_dist_allreduce_grads(&model.params) != MT_OK) return fail("allreduce");
        double t2 = MPI_Wtime();
        if (mt_sgd_step(&model.params, 0.05f) != MT_OK) return fail("sgd");
        double t3 = MPI_Wtime();
        double local[PHASES] = {t1 - t0, t2 - t1, t3 - t2, t3 - t0}, slowest[PHASES];
        MPI_Allreduce(local, slowest, PHASES, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        for (int p = 0; e >= warmup && p < PHASES; p++) times[p][e - warmup] = slowest[p];
    }
    if (rank == 0)
        printf("ranks=%d threads=%d backend=%s pts=%lld hidden=%lld epochs=%lld "
               "epoch_ms=%.3f compute_ms=%.3f allreduce_ms=%.3f sgd_ms=%.3f grad_bytes=%lld\n",
               size, mt_get_num_threads(), mt_backend_name(mt_get_backend()), (long long)pts,
               (long long)hidden, (long long)epochs, median(times[3], (int)epochs) * 1e3,
               median(times[0], (int)epochs) * 1e3, median(times[1], (int)epochs) * 1e3,
               median(times[2], (int)epochs) * 1e3, (long long)grad_floats * 4);
    for (int p = 0; p < PHASES; p++) free(times[p]);
    mt_release(x);
    mt_release(y);
    mt_mlp_free(&model);
    mt_dataset_free(&data);
    mt_dist_finalize();
    return 0;
}
