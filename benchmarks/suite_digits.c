/* Suite "digits": one training epoch of minitorch-digits (examples/digits_model.c: 64 -> 128 ->
 * 64 -> 10, ReLU, dropout 0.1, Adam lr 1e-3 on softmax cross-entropy, batch 32) on the UCI
 * handwritten digits' 80/20 split (1,437 training images: 45 steps, ~150 MFLOP), on both
 * backends at 1 and N threads. Each timed run is one epoch of the same ongoing training (seed 1),
 * the first is a warm-up; the figure is the median milliseconds per training epoch (evaluation is
 * not timed). The rate is in training images per second. "epoch planned" runs every full batch
 * through a captured plan (digits_trainer.compile, minitorch-digits --compile); "epoch sgemm
 * floor" (1 thread) is the step's eight matrix products alone as direct cblas_sgemm calls, 45
 * steps of 32 rows. Targets: planned <= 1.7 ms on naive, <= 1.15x the sgemm floor on blas.
 *
 * It needs the data file: $MINITORCH_DIGITS_DATA, else ${XDG_CACHE_HOME:-~/.cache}/minitorch/
 * digits.csv.gz (where examples/get-digits.sh puts it), else the build folder's copy the tests
 * fetch. Without one the suite only prints a note saying how to get it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>

#include "digits_model.h"
#include "suites.h"

static const char SUITE[] = "digits";
static const uint64_t SEED = 1;

/* PyTorch 1.13 on the development machine, one thread, the same network and batches: a figure
 * measured elsewhere, quoted as a reference. */
static const double TORCH_MS_PER_EPOCH = 17.0;

typedef struct digits_job {
    digits_model model;
    digits_trainer trainer;
    const digits_set *train;
    int64_t epoch;
    double loss;
} digits_job;

static void run_epoch(void *ctx)
{
    digits_job *j = ctx;
    bench_check(digits_train_epoch(&j->model, &j->trainer, j->train, SEED, ++j->epoch, &j->loss) == MT_OK,
                "digits_train_epoch");
}

/* The step's products (batch 32; 64 -> 128 -> 64 -> 10): three forward, the weight gradients
 * of the three layers, the input gradients of the last two. */
static void sgemm_floor(void *ctx)
{
    enum { B = 32, IN = 64, H1 = 128, H2 = 64, OUT = 10 }; /* (cblas.h defines IN) */
    static float x[B * IN], w1[IN * H1], w2[H1 * H2], w3[H2 * OUT], h1[B * H1], h2[B * H2], z[B * OUT],
        g1[IN * H1], g2[H1 * H2], g3[H2 * OUT], d1[B * H1], d2[B * H2];
    const int64_t steps = (((const digits_job *)ctx)->train->n + B - 1) / B;
    for (int64_t s = 0; s < steps; s++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H1, IN, 1, x, IN, w1, H1, 1, h1, H1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H2, H1, 1, h1, H1, w2, H2, 1, h2, H2);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, OUT, H2, 1, h2, H2, w3, OUT, 1, z, OUT);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H2, OUT, B, 1, h2, H2, z, OUT, 0, g3, OUT);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H2, OUT, 1, z, OUT, w3, OUT, 0, d2, H2);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H1, H2, B, 1, h1, H1, d2, H2, 0, g2, H2);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H1, H2, 1, d2, H2, w2, H2, 0, d1, H1);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IN, H1, B, 1, x, IN, d1, H1, 0, g1, H1);
    }
}

static bool readable(const char *path)
{
    struct stat st;
    return path && *path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The data file, or NULL. */
static const char *find_data(char *buffer, size_t capacity)
{
    const char *env = getenv("MINITORCH_DIGITS_DATA");
    if (env && *env) return readable(env) ? env : NULL;
    const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (cache && *cache) snprintf(buffer, capacity, "%s/minitorch/digits.csv.gz", cache);
    else snprintf(buffer, capacity, "%s/.cache/minitorch/digits.csv.gz", home ? home : ".");
    if (readable(buffer)) return buffer;
#ifdef MINITORCH_DIGITS_BUILD_DATA
    if (readable(MINITORCH_DIGITS_BUILD_DATA)) return MINITORCH_DIGITS_BUILD_DATA;
#endif
    return NULL;
}

static void run(const bench_config *config)
{
    char buffer[4096], error[512];
    const char *path = find_data(buffer, sizeof buffer);
    if (!path) {
        bench_note(SUITE, "skipped: no digits data file (set MINITORCH_DIGITS_DATA, or fetch it with "
                          "`sh examples/get-digits.sh`, which writes ~/.cache/minitorch/digits.csv.gz)");
        return;
    }
    digits_set all, train, test;
    if (digits_read(path, 0, &all, error, sizeof error) != 0) {
        bench_note(SUITE, "skipped: %s", error);
        return;
    }
    bench_check(digits_split(&all, SEED, &train, &test) == 0, "digits_split");
    digits_free(&all);

    int counts[2];
    const int thread_counts = bench_thread_counts(config, counts);
    const int epochs = config->quick ? 4 : 31;
    const double budget = config->quick ? 0.5 : 3.0;
    char size[32];
    snprintf(size, sizeof size, "%lld images", (long long)train.n);
    for (int t = 0; t < thread_counts; t++)
        for (int k = 0; k < config->backend_count; k++) {
            digits_job j = {.train = &train};
            bench_check(digits_model_init(&j.model, SEED) == MT_OK, "digits_model_init");
            bench_check(digits_trainer_init(&j.trainer, &j.model, 1e-3f, 32, train.n) == MT_OK,
                        "digits_trainer_init");
            bench_run(&(bench_case){.name = "epoch batch 32", .suite = SUITE,
                                    .backend = config->backends[k], .threads = counts[t],
                                    .size = size, .work = (double)train.n, .unit = BENCH_ITEMS,
                                    .repeats = epochs - 1, .warmup = 1, .budget = budget,
                                    .fn = run_epoch, .ctx = &j});
            j.trainer.compile = true; /* the same training goes on, through a plan */
            bench_run(&(bench_case){.name = "epoch planned", .suite = SUITE,
                                    .backend = config->backends[k], .threads = counts[t],
                                    .size = size, .work = (double)train.n, .unit = BENCH_ITEMS,
                                    .baseline = "epoch batch 32", .repeats = epochs - 1,
                                    .warmup = 1, .budget = budget, .fn = run_epoch, .ctx = &j});
            mt_plan_stats st;
            if (counts[t] == 1 && j.trainer.plan && mt_plan_get_stats(j.trainer.plan, &st) == MT_OK)
                bench_note(SUITE, "%s: the plan's buffers %lld bytes (+ %lld tile bytes) vs the eager "
                                  "step's peak %lld bytes; %lld calls -> %lld instructions, %lld "
                                  "fused groups", config->backends[k], (long long)st.buffer_bytes,
                           (long long)st.tile_bytes, (long long)st.eager_peak_bytes,
                           (long long)st.recorded_calls, (long long)st.instructions,
                           (long long)st.fused_groups);
            if (counts[t] == 1 && k == 0)
                bench_run(&(bench_case){.name = "epoch sgemm floor", .suite = SUITE,
                                        .backend = "baseline", .threads = 1, .size = size,
                                        .work = (double)train.n, .unit = BENCH_ITEMS,
                                        .repeats = epochs - 1, .budget = budget,
                                        .fn = sgemm_floor, .ctx = &j});
            digits_trainer_free(&j.trainer);
            digits_model_free(&j.model);
        }

    bench_note(SUITE, "ms per training epoch (median over the epochs after the first), %lld "
                      "training images, batch 32:", (long long)train.n);
    for (int t = 0; t < thread_counts; t++)
        for (int k = 0; k < config->backend_count; k++) {
            const bench_result *r = bench_find_sized(SUITE, "epoch batch 32", config->backends[k],
                                                     counts[t], size);
            if (r)
                bench_note(SUITE, "  %-5s  %d thread%s  %8.3f ms  (%.1fx PyTorch's %.0f ms)",
                           config->backends[k], counts[t], counts[t] == 1 ? " " : "s", r->median * 1e3,
                           TORCH_MS_PER_EPOCH / (r->median * 1e3), TORCH_MS_PER_EPOCH);
        }
    const bench_result *floor = bench_find_sized(SUITE, "epoch sgemm floor", "baseline", 1, size);
    for (int k = 0; k < config->backend_count; k++) {
        const bench_result *p = bench_find_sized(SUITE, "epoch planned", config->backends[k], 1, size);
        if (!p) continue;
        const bool naive = strcmp(config->backends[k], "naive") == 0;
        const double limit = naive ? 1.7e-3 : floor ? 1.15 * floor->median : 0;
        const double limit_min = naive ? 1.7e-3 : floor ? 1.15 * floor->min : 0;
        if (limit <= 0) continue;
        bench_note(SUITE, "  planned, %s, 1 thread: %.3f ms (fastest %.3f); target <= %s%.3f ms%s: %s",
                   config->backends[k], p->median * 1e3, p->min * 1e3, naive ? "" : "1.15 x ",
                   naive ? 1.7 : (floor ? floor->median * 1e3 : 0), naive ? "" : " (the sgemm floor)",
                   p->median <= limit ? "ok" : p->min <= limit_min ? "noisy" : "MISSED");
    }
    bench_note(SUITE, "reference measured elsewhere (not in this run): PyTorch 1.13, one thread, "
                      "%.0f ms per training epoch (98.9%% test accuracy after 30 epochs)",
               TORCH_MS_PER_EPOCH);
    digits_free(&train);
    digits_free(&test);
}

const bench_suite bench_suite_digits = {
    "digits",
    "ms per training epoch of minitorch-digits (UCI handwritten digits, 64-128-64-10, Adam) on both "
    "backends, when the data file is present",
    run};
