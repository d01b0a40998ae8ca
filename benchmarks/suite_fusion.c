/* Suite "fusion": captured plans (plan.h) against eager calls and hand-written C.
 *
 * Elementwise chains on 16M floats (--quick: 1M), naive backend, 1 and 2 threads:
 *   sigmoid(x)*y+z, gelu(x)*y, (x-mean)*rsqrt(var+eps) (mean and var (rows, 1), broadcast;
 *   4096 rows): eager (separate mt_ calls in a scope), planned (mt_plan_run of the same step),
 *   hand (one `omp parallel for simd` loop with libmvec expf, loops_fused.c: the baseline).
 *   Target: planned >= 0.9x the hand loop's speed.
 * Task 3.5 training steps (an epoch = one pass over the points), both backends, 1 thread:
 *   50 points, hidden 100, batch 10 (5 steps) and 5000 points, hidden 256, full batch (1 step):
 *   eager (forward, mt_backward, mt_sgd_step per batch) vs planned (mt_copy_from of the batch
 *   into bound inputs, then mt_plan_run), with the plan's buffer bytes vs the eager step's peak;
 *   baselines: the same step written by hand (sgemm + plain loops, loops_fused.c) and its eight
 *   cblas_sgemm calls alone (the "sgemm floor"). Targets: 50/100/10 planned on naive <= 0.05 ms
 *   per epoch; on blas <= 1.15x the sgemm floor; 5000/256 planned <= the hand-written step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loops_fused.h"
#include "suites.h"

static const char SUITE[] = "fusion";

typedef enum chain_kind { C_SIGMOID, C_GELU, C_NORM } chain_kind;
static const char *const chain_names[] = {"sigmoid(x)*y+z", "gelu(x)*y", "(x-mean)*rsqrt(var+eps)"};
#define NORM_EPS 1e-5f

typedef struct chain_job {
    chain_kind kind;
    int64_t rows, cols;
    int threads;
    mt_tensor *x, *y, *z, *mean, *var, *out;
    float *px, *py, *pz, *pmean, *pvar, *pout;
    mt_plan *plan;
} chain_job;

static mt_status chain_step(void *context)
{
    chain_job *j = context;
    if (j->out) mt_release(j->out);
    j->out = NULL;
    mt_scope scope = mt_scope_begin();
    mt_tensor *v = j->kind == C_SIGMOID ? mt_add(mt_mul(mt_sigmoid(j->x), j->y), j->z)
                   : j->kind == C_GELU  ? mt_mul(mt_gelu(j->x), j->y)
                                        : mt_mul(mt_sub(j->x, j->mean),
                                                 mt_rsqrt(mt_add_scalar(j->var, NORM_EPS)));
    if (v) j->out = mt_retain(v);
    mt_scope_end(scope);
    return j->out ? MT_OK : mt_last_status();
}

static void chain_eager(void *context) { bench_check(chain_step(context) == MT_OK, "eager chain"); }
static void chain_planned(void *context)
{
    bench_check(mt_plan_run(((chain_job *)context)->plan) == MT_OK, "planned chain");
}

static void chain_hand(void *context)
{
    const chain_job *j = context;
    const int64_t n = j->rows * j->cols;
    if (j->kind == C_SIGMOID) fused_sigmoid_mul_add(j->pout, j->px, j->py, j->pz, n, j->threads);
    else if (j->kind == C_GELU) fused_gelu_mul(j->pout, j->px, j->py, n, j->threads);
    else fused_normalize(j->pout, j->px, j->pmean, j->pvar, NORM_EPS, j->rows, j->cols, j->threads);
}

static mt_tensor *random_tensor(int64_t rows, int64_t cols, float lo, float hi, uint64_t seed)
{
    mt_tensor *t = mt_rand_uniform(MT_DIMS(rows, cols), lo, hi, seed);
    bench_check(t != NULL, "random tensor");
    return t;
}

static double median_of(const char *name, const char *backend, int threads, const char *size)
{
    const bench_result *r = bench_find_sized(SUITE, name, backend, threads, size);
    return r ? r->median : 0.0;
}
static double min_of(const char *name, const char *backend, int threads, const char *size)
{
    const bench_result *r = bench_find_sized(SUITE, name, backend, threads, size);
    return r ? r->min : 0.0;
}

static const char *verdict(double by_median, double by_min, double limit, bool at_least)
{
    if (!(by_median > 0 && by_min > 0)) return "";
    bool median_ok = at_least ? by_median >= limit : by_median <= limit;
    bool min_ok = at_least ? by_min >= limit : by_min <= limit;
    return median_ok ? "ok" : min_ok ? "noisy" : "MISSED";
}

static void run_chain(chain_kind kind, int64_t rows, int64_t cols, int threads, const char *size)
{
    mt_scope keep = mt_scope_begin();
    chain_job j = {.kind = kind, .rows = rows, .cols = cols, .threads = threads};
    j.x = random_tensor(rows, cols, -3, 3, 1);
    j.y = random_tensor(rows, cols, -3, 3, 2);
    j.z = random_tensor(rows, cols, -3, 3, 3);
    j.mean = random_tensor(rows, 1, -1, 1, 4);
    j.var = random_tensor(rows, 1, 0.5f, 2, 5);
    j.px = bench_buffer(rows * cols, j.x);
    j.py = bench_buffer(rows * cols, j.y);
    j.pz = bench_buffer(rows * cols, j.z);
    j.pmean = bench_buffer(rows, j.mean);
    j.pvar = bench_buffer(rows, j.var);
    j.pout = bench_buffer(rows * cols, NULL);
    mt_set_num_threads(threads); /* the plan's tiles are sized for the thread count at capture */
    bench_check(mt_plan_capture(chain_step, &j, &j.plan) == MT_OK, "capture");
    const double bytes = (double)rows * cols * 4 * (kind == C_SIGMOID ? 4 : 3);
    const char *name = chain_names[kind];
    char eager[64], planned[64];
    snprintf(eager, sizeof eager, "%s eager", name);
    snprintf(planned, sizeof planned, "%s planned", name);
    bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = "baseline", .threads = threads,
                            .size = size, .work = bytes, .unit = BENCH_BYTES, .fn = chain_hand,
                            .ctx = &j});
    bench_run(&(bench_case){.name = eager, .suite = SUITE, .backend = "naive", .threads = threads,
                            .size = size, .work = bytes, .unit = BENCH_BYTES, .baseline = name,
                            .fn = chain_eager, .ctx = &j});
    bench_run(&(bench_case){.name = planned, .suite = SUITE, .backend = "naive", .threads = threads,
                            .size = size, .work = bytes, .unit = BENCH_BYTES, .baseline = name,
                            .fn = chain_planned, .ctx = &j});
    /* the hand loop and the library round differently only in expf's last bits */
    bench_check_close(planned, j.out, j.pout, rows * cols, 1e-5f);
    mt_plan_free(j.plan);
    if (j.out) mt_release(j.out);
    free(j.px), free(j.py), free(j.pz), free(j.pmean), free(j.pvar), free(j.pout);
    mt_scope_end(keep);
}

static void run_chains(const bench_config *config, const char *size)
{
    const int64_t rows = 4096, cols = config->quick ? 256 : 4096;
    mt_set_backend_by_name("naive");
    for (int threads = 1; threads <= 2; threads++)
        for (int k = 0; k < 3; k++) run_chain((chain_kind)k, rows, cols, threads, size);
}

/* ---- training ---- */

typedef struct train_job {
    mt_mlp model;
    mt_dataset data;
    int64_t batch, steps;
    mt_tensor *x, *y, *loss;
    mt_plan *plan;
    hand_mlp hand;
} train_job;

static mt_status train_step(void *context)
{
    train_job *j = context;
    mt_scope s = mt_scope_begin();
    mt_tensor *loss = mt_loss_nll_sigmoid(mt_mlp_forward(&j->model, j->x), j->y);
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) status = mt_sgd_step(&j->model.params, 0.5f);
    mt_scope_end(s);
    return status;
}

static void load_batch(train_job *j, int64_t step)
{
    const int64_t first = step * j->batch;
    bench_check(mt_copy_from(j->x, j->data.x + 2 * first, 2 * j->batch) == MT_OK, "batch x");
    bench_check(mt_copy_from(j->y, j->data.y + first, j->batch) == MT_OK, "batch y");
}

static void epoch_eager(void *context)
{
    train_job *j = context;
    for (int64_t s = 0; s < j->steps; s++) {
        load_batch(j, s);
        bench_check(train_step(j) == MT_OK, "eager step");
    }
}

static void epoch_planned(void *context)
{
    train_job *j = context;
    for (int64_t s = 0; s < j->steps; s++) {
        load_batch(j, s);
        bench_check(mt_plan_run(j->plan) == MT_OK, "planned step");
    }
}

static void epoch_hand(train_job *j, bool sgemm_only)
{
    for (int64_t s = 0; s < j->steps; s++) {
        const int64_t first = s * j->batch;
        hand_mlp_step(&j->hand, j->data.x + 2 * first, j->data.y + first, 0.5f, sgemm_only);
    }
}
static void epoch_hand_full(void *context) { epoch_hand(context, false); }
static void epoch_hand_sgemm(void *context) { epoch_hand(context, true); }

static const struct { int64_t n, hidden, batch; const char *size; } train_sizes[] = {
    {50, 100, 10, "50/100/10"}, {5000, 256, 5000, "5000/256/5000"}};

static void run_training(const bench_config *config)
{
    for (int i = 0; i < 2; i++) {
        train_job j = {.batch = train_sizes[i].batch, .steps = train_sizes[i].n / train_sizes[i].batch};
        const char *size = train_sizes[i].size;
        bench_check(mt_dataset_make(&j.data, MT_DATASET_XOR, train_sizes[i].n, 1) == MT_OK, "data");
        bench_check(hand_mlp_init(&j.hand, j.batch, 2, train_sizes[i].hidden, 1), "hand model");
        const double points = (double)train_sizes[i].n;
        bench_run(&(bench_case){.name = "epoch hand-written", .suite = SUITE, .backend = "baseline",
                                .threads = 1, .size = size, .work = points, .unit = BENCH_ITEMS,
                                .budget = 3, .fn = epoch_hand_full, .ctx = &j});
        bench_run(&(bench_case){.name = "epoch sgemm floor", .suite = SUITE, .backend = "baseline",
                                .threads = 1, .size = size, .work = points, .unit = BENCH_ITEMS,
                                .baseline = "epoch hand-written", .budget = 3,
                                .fn = epoch_hand_sgemm, .ctx = &j});
        hand_mlp_free(&j.hand);
        for (int b = 0; b < config->backend_count; b++) {
            mt_set_backend_by_name(config->backends[b]);
            bench_check(mt_mlp_init(&j.model, 2, train_sizes[i].hidden, 1) == MT_OK, "model");
            j.x = mt_zeros(MT_DIMS(j.batch, 2));
            j.y = mt_zeros(MT_DIMS(j.batch, 1));
            load_batch(&j, 0);
            bench_check(mt_plan_capture(train_step, &j, &j.plan) == MT_OK, "capture");
            mt_plan_stats st;
            mt_plan_get_stats(j.plan, &st);
            bench_note(SUITE, "%s %s: plan buffers %lld bytes (+ %lld tile bytes) vs eager step "
                              "peak %lld bytes; %lld calls -> %lld instructions, %lld fused groups",
                       size, config->backends[b], (long long)st.buffer_bytes,
                       (long long)st.tile_bytes, (long long)st.eager_peak_bytes,
                       (long long)st.recorded_calls, (long long)st.instructions,
                       (long long)st.fused_groups);
            bench_run(&(bench_case){.name = "epoch eager", .suite = SUITE,
                                    .backend = config->backends[b], .threads = 1, .size = size,
                                    .work = points, .unit = BENCH_ITEMS,
                                    .baseline = "epoch hand-written", .budget = 3,
                                    .fn = epoch_eager, .ctx = &j});
            bench_run(&(bench_case){.name = "epoch planned", .suite = SUITE,
                                    .backend = config->backends[b], .threads = 1, .size = size,
                                    .work = points, .unit = BENCH_ITEMS,
                                    .baseline = "epoch hand-written", .budget = 3,
                                    .fn = epoch_planned, .ctx = &j});
            mt_plan_free(j.plan);
            mt_release(j.x);
            mt_release(j.y);
            mt_mlp_free(&j.model);
        }
        mt_dataset_free(&j.data);
    }
}

/* The planned blas epoch of `size` as a multiple of a baseline case measured in the same run. */
static void note_against_baseline(const char *size, const char *baseline, const char *label,
                                  double limit)
{
    const double base = median_of(baseline, "baseline", 1, size),
                 base_min = min_of(baseline, "baseline", 1, size),
                 planned = median_of("epoch planned", "blas", 1, size),
                 planned_min = min_of("epoch planned", "blas", 1, size);
    const double ratio = base > 0 ? planned / base : 0, ratio_min = base_min > 0 ? planned_min / base_min : 0;
    bench_note(SUITE, "%s planned epoch on blas: %.4f ms = %.2fx %s (%.4f ms; fastest runs %.2fx); "
                      "target <= %.2fx: %s",
               size, planned * 1e3, ratio, label, base * 1e3, ratio_min, limit,
               verdict(ratio, ratio_min, limit, false));
}

static void note_training(void)
{
    const char *s50 = train_sizes[0].size, *s5000 = train_sizes[1].size;
    const double t50 = median_of("epoch planned", "naive", 1, s50),
                 t50min = min_of("epoch planned", "naive", 1, s50);
    bench_note(SUITE, "%s planned epoch on naive: %.4f ms (fastest %.4f ms); target <= 0.05 ms: %s",
               s50, t50 * 1e3, t50min * 1e3,
               verdict(t50 > 0 ? 0.05e-3 / t50 : 0, t50min > 0 ? 0.05e-3 / t50min : 0, 1.0, true));
    note_against_baseline(s50, "epoch sgemm floor", "its 40 sgemm calls alone", 1.15);
    note_against_baseline(s5000, "epoch hand-written", "the hand-written step", 1.0);
}

static void run(const bench_config *config)
{
    const int saved = mt_get_num_threads();
    char size[32];
    snprintf(size, sizeof size, "4096x%lld", (long long)(config->quick ? 256 : 4096));
    run_chains(config, size);
    mt_set_num_threads(1);
    run_training(config);
    mt_set_num_threads(saved);
    bench_note(SUITE, "chains: speed vs the hand-fused loop = hand time / planned time (target >= "
                      "0.90); from medians, in () from the fastest runs");
    for (int threads = 1; threads <= 2; threads++)
        for (int k = 0; k < 3; k++) {
            char eager[64], planned[64];
            snprintf(eager, sizeof eager, "%s eager", chain_names[k]);
            snprintf(planned, sizeof planned, "%s planned", chain_names[k]);
            double hand = median_of(chain_names[k], "baseline", threads, size),
                   hmin = min_of(chain_names[k], "baseline", threads, size);
            double p = median_of(planned, "naive", threads, size), pmin = min_of(planned, "naive", threads, size);
            double e = median_of(eager, "naive", threads, size);
            bench_note(SUITE, "  %-24s %d thread%s: eager %.2fx  planned %.2fx (%.2fx)  %s",
                       chain_names[k], threads, threads > 1 ? "s" : " ", e > 0 ? hand / e : 0,
                       p > 0 ? hand / p : 0, pmin > 0 ? hmin / pmin : 0,
                       verdict(p > 0 ? hand / p : 0, pmin > 0 ? hmin / pmin : 0, 0.9, true));
        }
    note_training();
}

const bench_suite bench_suite_fusion = {
    .name = "fusion",
    .description = "captured plans vs eager vs hand-fused loops; planned Task 3.5 epochs",
    .run = run,
};
