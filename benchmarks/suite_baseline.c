/* Suite "baseline": the plain references, with no library call in the timed code.
 *   copy, add   plain OpenMP loops over 16M floats (the machine's memory bandwidth)
 *   sgemm       a direct cblas_sgemm, 1024^3, row-major, no transposes (the BLAS ceiling)
 * Other suites time their own baselines next to their cases (same run, same data); these figures
 * tell what the machine itself gives on the day. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "loops.h"
#include "suites.h"

typedef struct stream_job {
    float *out;
    const float *a, *b;
    int64_t n;
    int threads;
} stream_job;

static void run_copy(void *p)
{
    stream_job *j = p;
    loop_copy(j->out, j->a, j->n, j->threads);
}

static void run_add(void *p)
{
    stream_job *j = p;
    loop_add(j->out, j->a, j->b, j->n, j->threads);
}

typedef struct gemm_job {
    const float *a, *b;
    float *c;
    int n;
} gemm_job;

static void run_sgemm(void *p)
{
    gemm_job *j = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->n, j->n, j->n, 1.0f, j->a, j->n,
                j->b, j->n, 0.0f, j->c, j->n);
}

static void run(const bench_config *config)
{
    const int64_t side = config->quick ? 2048 : 4096, n = side * side;
    const int gemm = 1024;
    char stream_size[32], gemm_size[32];
    snprintf(stream_size, sizeof stream_size, "%lldM", (long long)(n >> 20));
    snprintf(gemm_size, sizeof gemm_size, "%d^3", gemm);

    mt_tensor *x = mt_rand_uniform(MT_DIMS(n), -1.0f, 1.0f, 1);
    mt_tensor *y = mt_rand_uniform(MT_DIMS(n), -1.0f, 1.0f, 2);
    mt_tensor *ga = mt_rand_uniform(MT_DIMS(gemm, gemm), -1.0f, 1.0f, 3);
    mt_tensor *gb = mt_rand_uniform(MT_DIMS(gemm, gemm), -1.0f, 1.0f, 4);
    bench_check(x && y && ga && gb, "creating the inputs");
    float *a = bench_buffer(n, x), *b = bench_buffer(n, y), *out = bench_buffer(n, NULL);
    float *gemm_a = bench_buffer((int64_t)gemm * gemm, ga);
    float *gemm_b = bench_buffer((int64_t)gemm * gemm, gb);
    float *gemm_c = bench_buffer((int64_t)gemm * gemm, NULL);

    int counts[2];
    int count = bench_thread_counts(config, counts);
    for (int t = 0; t < count; t++) {
        stream_job job = {out, a, b, n, counts[t]};
        bench_run(&(bench_case){.name = "copy loop", .suite = "baseline", .backend = "baseline",
                                .threads = counts[t], .size = stream_size,
                                .work = 2.0 * 4 * (double)n, .unit = BENCH_BYTES,
                                .fn = run_copy, .ctx = &job});
        bench_run(&(bench_case){.name = "add loop", .suite = "baseline", .backend = "baseline",
                                .threads = counts[t], .size = stream_size,
                                .work = 3.0 * 4 * (double)n, .unit = BENCH_BYTES,
                                .fn = run_add, .ctx = &job});
    }
    for (int t = 0; t < count; t++) {
        gemm_job job = {gemm_a, gemm_b, gemm_c, gemm};
        bench_run(&(bench_case){.name = "cblas_sgemm NN", .suite = "baseline",
                                .backend = "baseline", .threads = counts[t], .size = gemm_size,
                                .work = 2.0 * gemm * gemm * (double)gemm, .unit = BENCH_FLOPS,
                                .fn = run_sgemm, .ctx = &job});
    }

    free(a), free(b), free(out), free(gemm_a), free(gemm_b), free(gemm_c);
    mt_release(x), mt_release(y), mt_release(ga), mt_release(gb);
}

const bench_suite bench_suite_baseline = {
    "baseline", "plain C copy/add loops and a direct cblas_sgemm (the machine's ceilings)", run};
