/* Suite "matmul": matrix products in GFLOP/s (2 n k m flops per product), on both backends, each
 * against a direct cblas_sgemm call in the same binary on the same data (the baseline), all at N
 * threads (all cores or --threads).
 *
 * Square n x n x n, n = 64 .. 2048 (--quick: 64, 256, 512):
 *   sgemm NN            direct cblas_sgemm (baseline)
 *   matmul out          mt_matmul_out into a preallocated output (naive, blas)
 *   matmul alloc        mt_matmul, a new result per call, dropped by a scope (naive, blas)
 *   sgemm NT+TN         the backward pair by direct sgemm: dA = dC B^T (NT), dB = A^T dC (TN)
 *   backward pair out   the same through the library: mt_matmul_out(dA, dC, B^T view) and
 *                       mt_matmul_out(dB, A^T view, dC), with mt_transpose views (naive, blas)
 *   unfused mul+sum     MiniTorch's unfused product at n <= 256: a.view(n,k,1) * b.view(1,k,m) to
 *                       an (n,k,m) intermediate, then mt_sum over dim 1 (baseline: the fused naive
 *                       "matmul out")
 * Batched, B x (s x s x s): 256 x 32^3 and 64 x 128^3, plus more sizes for the crossover below
 * (--quick: 64 x 32^3 and 16 x 128^3):
 *   sgemm loop          a serial loop of direct sgemm calls, each on N threads (baseline)
 *   sgemm batch-par     the batch loop split over N threads, each sgemm single-threaded
 *                       (OpenBLAS's OpenMP build runs serially inside a parallel region)
 *   matmul out / alloc, and for the two named sizes the backward pair, as above.
 * The blas backend runs the batch loop in parallel whenever there are at least as many output
 * matrices as threads, and as a serial loop of multi-threaded sgemm otherwise (matmul_blas.c);
 * the notes under the table compare the two direct variants at each size, so the choice can be
 * checked.
 * Outputs of the library are checked against the direct sgemm results. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static const char SUITE[] = "matmul";

/* One problem: batch x (n x n) @ (n x n), batch 0 for plain 2-D tensors. */
typedef struct problem {
    int64_t batch, n;
    char size[32];
    mt_tensor *a, *b, *dc, *out, *da, *db, *at, *bt;
    float *pa, *pb, *pdc, *pc, *pda, *pdb; /* the same data in plain buffers, and direct outputs */
} problem;

typedef enum job_kind {
    J_SGEMM,        /* serial loop of sgemm NN */
    J_SGEMM_PAR,    /* batch-parallel loop of single-threaded sgemm NN */
    J_SGEMM_PAIR,   /* sgemm NT + TN (serial loop over the batch) */
    J_LIB_OUT,      /* mt_matmul_out */
    J_LIB_ALLOC,    /* mt_matmul in a scope */
    J_LIB_PAIR,     /* two mt_matmul_out with transposed views */
    J_UNFUSED       /* broadcast multiply + sum */
} job_kind;

typedef struct job {
    job_kind kind;
    problem *p;
    int threads;
    mt_tensor *av, *bv; /* J_UNFUSED: a viewed (n,k,1), b viewed (1,k,m) */
} job;

static void sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int n, const float *a, const float *b,
                  float *c)
{
    cblas_sgemm(CblasRowMajor, ta, tb, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
}

static void run_job(void *ctx)
{
    const job *j = ctx;
    const problem *p = j->p;
    const int n = (int)p->n;
    const int64_t count = p->batch ? p->batch : 1, stride = p->n * p->n;
    switch (j->kind) {
    case J_SGEMM:
        for (int64_t i = 0; i < count; i++)
            sgemm(CblasNoTrans, CblasNoTrans, n, p->pa + i * stride, p->pb + i * stride,
                  p->pc + i * stride);
        break;
    case J_SGEMM_PAR:
#pragma omp parallel for num_threads(j->threads) schedule(static)
        for (int64_t i = 0; i < count; i++)
            sgemm(CblasNoTrans, CblasNoTrans, n, p->pa + i * stride, p->pb + i * stride,
                  p->pc + i * stride);
        break;
    case J_SGEMM_PAIR:
        for (int64_t i = 0; i < count; i++) {
            sgemm(CblasNoTrans, CblasTrans, n, p->pdc + i * stride, p->pb + i * stride,
                  p->pda + i * stride);
            sgemm(CblasTrans, CblasNoTrans, n, p->pa + i * stride, p->pdc + i * stride,
                  p->pdb + i * stride);
        }
        break;
    case J_LIB_OUT:
        bench_check(mt_matmul_out(p->out, p->a, p->b) == MT_OK, "mt_matmul_out");
        break;
    case J_LIB_ALLOC: {
        mt_scope scope = mt_scope_begin();
        bench_check(mt_matmul(p->a, p->b) != NULL, "mt_matmul");
        bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");
        break;
    }
    case J_LIB_PAIR:
        bench_check(mt_matmul_out(p->da, p->dc, p->bt) == MT_OK, "mt_matmul_out (dC B^T)");
        bench_check(mt_matmul_out(p->db, p->at, p->dc) == MT_OK, "mt_matmul_out (A^T dC)");
        break;
    case J_UNFUSED: {
        mt_scope scope = mt_scope_begin();
        bench_check(mt_sum(mt_mul(j->av, j->bv), 1) != NULL, "unfused mul + sum");
        bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");
        break;
    }
    }
}

static void problem_init(problem *p, int64_t batch, int64_t n, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->batch = batch;
    p->n = n;
    if (batch) snprintf(p->size, sizeof p->size, "%lldx%lld^3", (long long)batch, (long long)n);
    else snprintf(p->size, sizeof p->size, "%lld^3", (long long)n);
    int64_t shape[3] = {batch, n, n};
    const int nd = batch ? 3 : 2;
    const int64_t *dims = batch ? shape : shape + 1;
    p->a = mt_rand_uniform(nd, dims, -1.0f, 1.0f, seed);
    p->b = mt_rand_uniform(nd, dims, -1.0f, 1.0f, seed + 1);
    p->dc = mt_rand_uniform(nd, dims, -1.0f, 1.0f, seed + 2);
    p->out = mt_zeros(nd, dims);
    p->da = mt_zeros(nd, dims);
    p->db = mt_zeros(nd, dims);
    p->at = mt_transpose(p->a, -2, -1);
    p->bt = mt_transpose(p->b, -2, -1);
    bench_check(p->a && p->b && p->dc && p->out && p->da && p->db && p->at && p->bt,
                "creating the matmul inputs");
    const int64_t count = (batch ? batch : 1) * n * n;
    p->pa = bench_buffer(count, p->a);
    p->pb = bench_buffer(count, p->b);
    p->pdc = bench_buffer(count, p->dc);
    p->pc = bench_buffer(count, NULL);
    p->pda = bench_buffer(count, NULL);
    p->pdb = bench_buffer(count, NULL);
}

static void problem_free(problem *p)
{
    mt_tensor *all[] = {p->a, p->b, p->dc, p->out, p->da, p->db, p->at, p->bt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
    free(p->pa), free(p->pb), free(p->pdc), free(p->pc), free(p->pda), free(p->pdb);
}

static int64_t elements(const problem *p) { return (p->batch ? p->batch : 1) * p->n * p->n; }

static double flops(const problem *p)
{
    return 2.0 * (double)(p->batch ? p->batch : 1) * (double)p->n * (double)p->n * (double)p->n;
}

/* Float sums of n products of values in [-1, 1) in another order. */
static float tolerance(const problem *p) { return 1e-6f * (float)p->n + 1e-5f; }

typedef struct suite_state {
    const bench_config *config;
    int repeats, warmup; /* for the current problem (0: the configured counts) */
    double budget;       /* seconds of timed runs per case (see bench_case) */
} suite_state;

static void time_case(const suite_state *s, problem *p, const char *name, const char *backend,
                      job_kind kind, double work, const char *baseline)
{
    job j = {kind, p, s->config->threads, NULL, NULL};
    bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = backend,
                            .threads = s->config->threads, .size = p->size, .work = work,
                            .unit = BENCH_FLOPS, .baseline = baseline, .repeats = s->repeats,
                            .warmup = s->warmup, .budget = s->budget, .fn = run_job, .ctx = &j});
}

static void check(const char *what, const char *backend, const problem *p, const mt_tensor *t,
                  const float *want)
{
    char text[128];
    snprintf(text, sizeof text, "%s %s (%s)", what, p->size, backend);
    bench_check_close(text, t, want, elements(p), tolerance(p));
}

/* Forward (out + alloc) and, when `pair`, the backward pair, on every backend. The direct
 * baseline `forward_baseline` must have run (its output is in p->pc). */
static void time_library(const suite_state *s, problem *p, const char *forward_baseline,
                         bool pair)
{
    for (int k = 0; k < s->config->backend_count; k++) {
        const char *backend = s->config->backends[k];
        time_case(s, p, "matmul out", backend, J_LIB_OUT, flops(p), forward_baseline);
        check("matmul out", backend, p, p->out, p->pc);
        time_case(s, p, "matmul alloc", backend, J_LIB_ALLOC, flops(p), forward_baseline);
    }
    if (!pair) return;
    time_case(s, p, p->batch ? "sgemm NT+TN loop" : "sgemm NT+TN", "baseline", J_SGEMM_PAIR,
              2 * flops(p), NULL);
    for (int k = 0; k < s->config->backend_count; k++) {
        const char *backend = s->config->backends[k];
        time_case(s, p, "backward pair out", backend, J_LIB_PAIR, 2 * flops(p),
                  p->batch ? "sgemm NT+TN loop" : "sgemm NT+TN");
        check("dC B^T", backend, p, p->da, p->pda);
        check("A^T dC", backend, p, p->db, p->pdb);
    }
}

/* The unfused product at n; returns the bytes its (n,k,m) intermediate held, measured as the
 * growth of the storage in use while it is alive. */
static int64_t time_unfused(const suite_state *s, problem *p)
{
    job j = {J_UNFUSED, p, s->config->threads, NULL, NULL};
    j.av = mt_view(p->a, MT_DIMS(p->n, p->n, 1));
    j.bv = mt_view(p->b, MT_DIMS(1, p->n, p->n));
    bench_check(j.av && j.bv, "mt_view");

    /* one untimed run, measuring the intermediate and checking the result */
    mt_memory_stats before, after;
    bench_check(mt_set_backend_by_name("naive") == MT_OK, "mt_set_backend_by_name");
    mt_scope scope = mt_scope_begin();
    bench_check(mt_memory_get_stats(&before) == MT_OK, "mt_memory_get_stats");
    mt_tensor *product = mt_mul(j.av, j.bv);
    bench_check(mt_memory_get_stats(&after) == MT_OK, "mt_memory_get_stats");
    mt_tensor *sum = mt_sum(product, 1);
    bench_check(sum != NULL, "mt_sum");
    check("unfused mul+sum", "naive", p, sum, p->pc);
    bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");

    bench_run(&(bench_case){.name = "unfused mul+sum", .suite = SUITE, .backend = "naive",
                            .threads = s->config->threads, .size = p->size, .work = flops(p),
                            .unit = BENCH_FLOPS, .baseline = "matmul out", .repeats = s->repeats,
                            .warmup = s->warmup, .budget = s->budget, .fn = run_job, .ctx = &j});
    mt_release(j.av);
    mt_release(j.bv);
    return after.bytes_in_use - before.bytes_in_use;
}

/* ---- notes: the targets and the crossover ---- */

static double median_of(const char *name, const char *backend, int threads, const char *size)
{
    const bench_result *r = bench_find_sized(SUITE, name, backend, threads, size);
    return r ? r->median : 0.0;
}

/* A case's median and fastest run (0 when it did not run). */
typedef struct timing {
    double median, min;
} timing;

static timing timing_of(const char *name, const char *backend, int threads, const char *size)
{
    const bench_result *r = bench_find_sized(SUITE, name, backend, threads, size);
    return r ? (timing){r->median, r->min} : (timing){0, 0};
}

/* num / den from the medians, and in parentheses from the fastest runs (less disturbed by other
 * work on the machine): "0.97 (0.99)"; "-" when either is missing. */
static const char *ratio_text(char *buffer, size_t capacity, timing num, timing den)
{
    if (num.median > 0 && den.median > 0 && den.min > 0)
        snprintf(buffer, capacity, "%.2f (%.2f)", num.median / den.median, num.min / den.min);
    else snprintf(buffer, capacity, "-");
    return buffer;
}

/* "ok" when the median ratio meets the target, "noisy" when only the fastest runs' ratio does
 * (other work on the machine decided it), "MISSED" when neither does; "" without figures. */
static const char *verdict(timing num, timing den, double limit, bool at_least)
{
    if (!(num.median > 0 && den.median > 0 && den.min > 0)) return "";
    double by_median = num.median / den.median, by_min = num.min / den.min;
    bool median_ok = at_least ? by_median >= limit : by_median <= limit;
    bool min_ok = at_least ? by_min >= limit : by_min <= limit;
    return median_ok ? "ok" : min_ok ? "noisy" : "MISSED";
}

static const char *mib(char *buffer, size_t capacity, double bytes)
{
    if (bytes >= 1 << 20) snprintf(buffer, capacity, "%.1f MiB", bytes / (1 << 20));
    else snprintf(buffer, capacity, "%.0f KiB", bytes / 1024);
    return buffer;
}

static void note_square(const bench_config *config, const int *sizes, int count)
{
    const int N = config->threads;
    bench_note(SUITE, "square products at %d threads; each ratio from the medians, in () from the "
                      "fastest runs; verdict: ok / noisy (only the fastest runs meet it) / MISSED",
               N);
    bench_note(SUITE, "  speed vs sgemm = sgemm time / library time (target: blas >= 0.97 at "
                      "n >= 256, >= 0.90 at n = 64, both out and alloc)");
    bench_note(SUITE, "  bwd/fwd = backward pair time / forward time, same backend (target <= 2.1; "
                      "2.0 = two forward products)");
    bench_note(SUITE, "  %5s  %-13s  %-13s  %-13s  %-6s  %-20s  %-20s  %-13s", "n", "naive out",
               "blas out", "blas alloc", "blas", "bwd/fwd naive", "bwd/fwd blas", "bwd/fwd");
    bench_note(SUITE, "  %5s  %-13s  %-13s  %-13s  %-6s  %-20s  %-20s  %-13s", "", "vs sgemm",
               "vs sgemm", "vs sgemm", "target", "", "", "sgemm");
    for (int i = 0; i < count; i++) {
        char size[32], c1[32], c2[32], c3[32], c4[48], c5[48], c6[32], r[32];
        snprintf(size, sizeof size, "%d^3", sizes[i]);
        timing base = timing_of("sgemm NN", "baseline", N, size);
        timing naive = timing_of("matmul out", "naive", N, size);
        timing blas = timing_of("matmul out", "blas", N, size);
        timing blas_alloc = timing_of("matmul alloc", "blas", N, size);
        timing pair_base = timing_of("sgemm NT+TN", "baseline", N, size);
        timing pair_naive = timing_of("backward pair out", "naive", N, size);
        timing pair_blas = timing_of("backward pair out", "blas", N, size);
        const double target = sizes[i] >= 256 ? 0.97 : sizes[i] <= 64 ? 0.90 : 0.0;
        const char *target_text = "-";
        if (target > 0) {
            const char *v_out = verdict(base, blas, target, true);
            const char *v_alloc = verdict(base, blas_alloc, target, true);
            /* the worse of the two forms */
            target_text = strcmp(v_out, "MISSED") == 0 || strcmp(v_alloc, "MISSED") == 0 ? "MISSED"
                          : strcmp(v_out, "noisy") == 0 || strcmp(v_alloc, "noisy") == 0 ? "noisy"
                                                                                          : v_out;
        }
        snprintf(c4, sizeof c4, "%s %s", ratio_text(r, sizeof r, pair_naive, naive),
                 verdict(pair_naive, naive, 2.1, false));
        snprintf(c5, sizeof c5, "%s %s", ratio_text(r, sizeof r, pair_blas, blas),
                 verdict(pair_blas, blas, 2.1, false));
        bench_note(SUITE, "  %5d  %-13s  %-13s  %-13s  %-6s  %-20s  %-20s  %-13s", sizes[i],
                   ratio_text(c1, sizeof c1, base, naive), ratio_text(c2, sizeof c2, base, blas),
                   ratio_text(c3, sizeof c3, base, blas_alloc), target_text, c4, c5,
                   ratio_text(c6, sizeof c6, pair_base, base));
    }
}

static void note_unfused(const bench_config *config, const int *sizes, const int64_t *bytes,
                         int count)
{
    const int N = config->threads;
    bench_note(SUITE, " ");
    bench_note(SUITE, "unfused a.view(n,k,1) * b.view(1,k,m) -> sum(dim 1) vs the fused naive "
                      "kernel (target: naive >= ~10x faster at n = 256)");
    bench_note(SUITE, "  %6s  %12s  %12s  %14s  %18s  %18s", "n", "unfused", "fused naive",
               "naive faster", "extra memory", "n*k*m*4 bytes");
    for (int i = 0; i < count; i++) {
        char size[32], t1[32], t2[32], m1[32], m2[32], factor[32];
        snprintf(size, sizeof size, "%d^3", sizes[i]);
        double unfused = median_of("unfused mul+sum", "naive", N, size);
        double naive = median_of("matmul out", "naive", N, size);
        double n = sizes[i];
        snprintf(t1, sizeof t1, "%.3g ms", unfused * 1e3);
        snprintf(t2, sizeof t2, "%.3g ms", naive * 1e3);
        snprintf(factor, sizeof factor, "%.1fx%s", naive > 0 ? unfused / naive : 0,
                 sizes[i] == 256 ? (naive > 0 && unfused / naive >= 10 ? " ok" : " MISSED") : "");
        bench_note(SUITE, "  %6d  %12s  %12s  %14s  %18s  %18s", sizes[i], t1, t2, factor,
                   mib(m1, sizeof m1, (double)bytes[i]), mib(m2, sizeof m2, n * n * n * 4));
    }
    bench_note(SUITE, "  (extra memory: growth of the storage in use while the intermediate "
                      "lives; the fused kernel allocates nothing beyond its output)");
}

static void note_batched(const bench_config *config, const int64_t (*shapes)[2], int count)
{
    const int N = config->threads;
    bench_note(SUITE, " ");
    bench_note(SUITE, "batched products: serial loop of %d-thread sgemm vs batch-parallel loop "
                      "of 1-thread sgemm (direct calls); the blas backend runs batch-parallel "
                      "when there are at least as many matrices as threads, else the loop",
               N);
    bench_note(SUITE, "  (ratios from the medians, in () from the fastest runs; faster: by the "
                      "fastest runs)");
    bench_note(SUITE, "  %-9s  %9s  %9s  %-13s  %-9s  %-10s  %-13s", "size", "loop", "batch-par",
               "loop/par", "faster", "blas picks", "best/blas");
    for (int i = 0; i < count; i++) {
        char size[32], t1[32], t2[32], r1[32], r2[32];
        snprintf(size, sizeof size, "%lldx%lld^3", (long long)shapes[i][0],
                 (long long)shapes[i][1]);
        timing loop = timing_of("sgemm loop", "baseline", N, size);
        timing par = timing_of("sgemm batch-par", "baseline", N, size);
        timing blas = timing_of("matmul out", "blas", N, size);
        const bool picks_par = shapes[i][0] >= N;
        const bool par_faster = par.min < loop.min;
        timing best = par_faster ? par : loop;
        snprintf(t1, sizeof t1, "%.3g ms", loop.median * 1e3);
        snprintf(t2, sizeof t2, "%.3g ms", par.median * 1e3);
        bench_note(SUITE, "  %-9s  %9s  %9s  %-13s  %-9s  %-10s  %-13s", size, t1, t2,
                   ratio_text(r1, sizeof r1, loop, par), par_faster ? "batch-par" : "loop",
                   picks_par ? "batch-par" : "loop", ratio_text(r2, sizeof r2, best, blas));
    }
}

/* ---- the suite ---- */

static bool naive_configured(const bench_config *config)
{
    for (int k = 0; k < config->backend_count; k++)
        if (strcmp(config->backends[k], "naive") == 0) return true;
    return false;
}

static void run(const bench_config *config)
{
    static const int full_sizes[] = {64, 128, 256, 512, 1024, 2048};
    static const int quick_sizes[] = {64, 256, 512};
    const int *sizes = config->quick ? quick_sizes : full_sizes;
    const int size_count = config->quick ? 3 : 6;
    suite_state s = {.config = config, .budget = config->quick ? 0.5 : 3.0};

    /* square products */
    int unfused_sizes[3], unfused_count = 0;
    int64_t unfused_bytes[3];
    for (int i = 0; i < size_count; i++) {
        const int n = sizes[i];
        problem p;
        problem_init(&p, 0, n, 100 + (uint64_t)n);
        /* fewer runs for the long products: their medians are steady anyway */
        s.repeats = config->quick ? 0 : n >= 2048 ? 7 : 0;
        s.warmup = n >= 1024 ? 1 : 0;
        if (config->quick && n >= 512) s.repeats = 3;
        time_case(&s, &p, "sgemm NN", "baseline", J_SGEMM, flops(&p), NULL);
        time_library(&s, &p, "sgemm NN", true);
        if (n <= 256 && naive_configured(config)) {
            unfused_sizes[unfused_count] = n;
            unfused_bytes[unfused_count++] = time_unfused(&s, &p);
        }
        problem_free(&p);
    }

    /* batched products: the two named sizes, then (full runs) more for the crossover */
    static const int64_t full_batched[][2] = {{256, 32}, {64, 128}, {256, 48}, {128, 64},
                                              {64, 96},  {32, 112}, {16, 192}, {8, 256}};
    static const int64_t quick_batched[][2] = {{64, 32}, {16, 128}};
    const int64_t(*batched)[2] = config->quick ? quick_batched : full_batched;
    const int batched_count = config->quick ? 2 : 8;
    s.repeats = 0;
    s.warmup = 0;
    for (int i = 0; i < batched_count; i++) {
        problem p;
        problem_init(&p, batched[i][0], batched[i][1], 200 + (uint64_t)i);
        time_case(&s, &p, "sgemm loop", "baseline", J_SGEMM, flops(&p), NULL);
        time_case(&s, &p, "sgemm batch-par", "baseline", J_SGEMM_PAR, flops(&p), "sgemm loop");
        time_library(&s, &p, "sgemm loop", i < 2);
        problem_free(&p);
    }

    note_square(config, sizes, size_count);
    if (unfused_count) note_unfused(config, unfused_sizes, unfused_bytes, unfused_count);
    note_batched(config, batched, batched_count);
}

const bench_suite bench_suite_matmul = {
    "matmul",
    "square and batched products, the backward pair and the unfused product vs direct sgemm",
    run};
