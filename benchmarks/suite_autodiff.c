/* Suite "autodiff": what reverse mode costs on top of the kernels it calls, at N threads.
 *
 * Matmul forward + backward at n = 256, 512, 1024 (--quick: 256, 512), a and b (n x n) requiring
 * grad, on both backends:
 *   sgemm NN+NT+TN         three direct sgemm calls: C = A B, dA = dC B^T, dB = A^T dC (baseline)
 *   matmul fwd+bwd         in a scope: c = mt_matmul(a, b); mt_backward_with(c, ones); then
 *                          mt_zero_grad on a and b (the gradient seed is a preallocated ones tensor,
 *                          so no sum is measured)
 *   sum_all loss fwd+bwd   the same with loss = mt_sum_all(mt_matmul(a, b)); mt_backward(loss)
 * The gradients are checked against the direct sgemm results.
 *
 * Per-call overhead on tiny tensors (time per call):
 *   add2x2 fwd             mt_add of two 2x2 tensors in a scope, no grad (baseline of the next)
 *   add2x2 fwd+bwd         the same on tensors requiring grad, mt_backward_with, zero grads
 *   chain by hand          sigmoid(x w + b) and its gradients for w and b, x 10x2, w 2x100, b 100,
 *                          as one plain vectorized C loop, 1 thread (loops.c; baseline of the
 *                          chains: the arithmetic with no framework around it)
 *   chain fwd              mt_sigmoid(mt_add(mt_matmul(x, w), b)) in a scope, no grad
 *   chain fwd+bwd          the same with w and b requiring grad, mt_backward_with, zero grads
 *   linear chain fwd+bwd   the same through the fused mt_linear(x, w, b) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loops.h"
#include "suites.h"

static const char SUITE[] = "autodiff";

typedef enum job_kind {
    J_SGEMM3, J_MATMUL, J_SUM_LOSS, J_ADD, J_ADD_BWD, J_HAND, J_CHAIN, J_CHAIN_BWD, J_LINEAR_BWD
} job_kind;

typedef struct job {
    job_kind kind;
    int64_t n;
    mt_tensor *a, *b, *seed;                 /* matmul: leaves requiring grad, ones (n x n) */
    const float *pa, *pb, *pones;            /* the same in plain buffers */
    float *pc, *pda, *pdb;                   /* direct outputs */
    mt_tensor *x, *w, *bias, *w0, *bias0;    /* chain: w, bias require grad; w0, bias0 do not */
    mt_tensor *a2, *b2, *ga2, *gb2, *seed2;  /* 2x2 add */
    const float *hx, *hw, *hb;               /* chain by hand: inputs */
    float *hs, *hdw, *hdb;                   /* chain by hand: output, gradients */
} job;

enum { CHAIN_ROWS = 10, CHAIN_IN = 2, CHAIN_OUT = 100 };

static void zero_grads(mt_tensor *a, mt_tensor *b)
{
    bench_check(mt_zero_grad(a) == MT_OK && mt_zero_grad(b) == MT_OK, "mt_zero_grad");
}

static void run_job(void *ctx)
{
    const job *j = ctx;
    const int n = (int)j->n;
    if (j->kind == J_SGEMM3) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, j->pa, n, j->pb, n,
                    0.0f, j->pc, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, j->pones, n, j->pb,
                    n, 0.0f, j->pda, n);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, n, 1.0f, j->pa, n, j->pones,
                    n, 0.0f, j->pdb, n);
        return;
    }
    if (j->kind == J_HAND) {
        loop_chain_sigmoid(j->hs, j->hdw, j->hdb, j->hx, j->hw, j->hb, CHAIN_ROWS, CHAIN_OUT);
        return;
    }
    mt_scope scope = mt_scope_begin();
    switch (j->kind) {
    case J_MATMUL:
        bench_check(mt_backward_with(mt_matmul(j->a, j->b), j->seed) == MT_OK, "matmul backward");
        break;
    case J_SUM_LOSS:
        bench_check(mt_backward(mt_sum_all(mt_matmul(j->a, j->b))) == MT_OK, "sum_all backward");
        break;
    case J_ADD: bench_check(mt_add(j->a2, j->b2) != NULL, "mt_add"); break;
    case J_ADD_BWD:
        bench_check(mt_backward_with(mt_add(j->ga2, j->gb2), j->seed2) == MT_OK, "add backward");
        break;
    case J_CHAIN:
        bench_check(mt_sigmoid(mt_add(mt_matmul(j->x, j->w0), j->bias0)) != NULL, "chain");
        break;
    case J_CHAIN_BWD:
        bench_check(mt_backward_with(mt_sigmoid(mt_add(mt_matmul(j->x, j->w), j->bias)),
                                     j->seed) == MT_OK,
                    "chain backward");
        break;
    case J_LINEAR_BWD:
        bench_check(mt_backward_with(mt_sigmoid(mt_linear(j->x, j->w, j->bias)), j->seed) == MT_OK,
                    "linear chain backward");
        break;
    default: break;
    }
    bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");
    switch (j->kind) {
    case J_MATMUL:
    case J_SUM_LOSS: zero_grads(j->a, j->b); break;
    case J_ADD_BWD: zero_grads(j->ga2, j->gb2); break;
    case J_CHAIN_BWD:
    case J_LINEAR_BWD: zero_grads(j->w, j->bias); break;
    default: break;
    }
}

/* Runs `j` once more without zeroing the gradients, compares grad(p) and grad(q) with `want_p`,
 * `want_q`, then zeroes them. */
static void check_grads(job j, job_kind kind, const char *backend, mt_tensor *p, mt_tensor *q,
                        const float *want_p, const float *want_q, float tol)
{
    j.kind = kind;
    bench_check(mt_set_backend_by_name(backend) == MT_OK, "mt_set_backend_by_name");
    mt_scope scope = mt_scope_begin();
    mt_tensor *root = NULL;
    switch (kind) {
    case J_MATMUL: root = mt_matmul(j.a, j.b); break;
    case J_SUM_LOSS: root = mt_sum_all(mt_matmul(j.a, j.b)); break;
    case J_CHAIN_BWD: root = mt_sigmoid(mt_add(mt_matmul(j.x, j.w), j.bias)); break;
    default: root = mt_sigmoid(mt_linear(j.x, j.w, j.bias)); break;
    }
    mt_status status = kind == J_SUM_LOSS ? mt_backward(root) : mt_backward_with(root, j.seed);
    bench_check(status == MT_OK, "backward");
    mt_tensor *gp = mt_grad(p), *gq = mt_grad(q);
    bench_check(gp && gq, "mt_grad");
    const char *names[4] = {"matmul fwd+bwd", "sum_all loss fwd+bwd", "chain fwd+bwd",
                            "linear chain fwd+bwd"};
    const char *name = kind == J_MATMUL     ? names[0]
                       : kind == J_SUM_LOSS ? names[1]
                       : kind == J_CHAIN_BWD ? names[2]
                                             : names[3];
    char what[160];
    snprintf(what, sizeof what, "%s grad 1 (%s, n %lld)", name, backend, (long long)j.n);
    bench_check_close(what, gp, want_p, mt_numel(gp), tol);
    snprintf(what, sizeof what, "%s grad 2 (%s, n %lld)", name, backend, (long long)j.n);
    bench_check_close(what, gq, want_q, mt_numel(gq), tol);
    bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");
    zero_grads(p, q);
}

static void time_case(const bench_config *config, const char *name, const char *backend,
                      const char *size, double work, bench_unit unit, const char *baseline,
                      int calls, int repeats, job *j)
{
    bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = backend,
                            .threads = config->threads, .size = size, .work = work, .unit = unit,
                            .baseline = baseline, .calls = calls, .repeats = repeats,
                            .budget = config->quick ? 0.5 : 3.0, .fn = run_job, .ctx = j});
}

static double median_of(const char *name, const char *backend, int threads, const char *size)
{
    const bench_result *r = bench_find_sized(SUITE, name, backend, threads, size);
    return r ? r->median : 0.0;
}

static void run_matmul(const bench_config *config, int64_t n)
{
    char size[32];
    snprintf(size, sizeof size, "%lld^3", (long long)n);
    job j = {.n = n};
    j.a = mt_rand_uniform(MT_DIMS(n, n), -1.0f, 1.0f, 300 + (uint64_t)n);
    j.b = mt_rand_uniform(MT_DIMS(n, n), -1.0f, 1.0f, 301 + (uint64_t)n);
    j.seed = mt_ones(MT_DIMS(n, n));
    bench_check(j.a && j.b && j.seed, "creating the inputs");
    bench_check(mt_set_requires_grad(j.a, true) == MT_OK &&
                    mt_set_requires_grad(j.b, true) == MT_OK,
                "mt_set_requires_grad");
    float *pa = bench_buffer(n * n, j.a), *pb = bench_buffer(n * n, j.b);
    float *pones = bench_buffer(n * n, j.seed);
    j.pa = pa, j.pb = pb, j.pones = pones;
    j.pc = bench_buffer(n * n, NULL);
    j.pda = bench_buffer(n * n, NULL);
    j.pdb = bench_buffer(n * n, NULL);

    const double work = 3 * 2.0 * (double)n * (double)n * (double)n;
    const int repeats = 0;
    const float tol = 1e-6f * (float)n + 1e-5f;
    j.kind = J_SGEMM3;
    time_case(config, "sgemm NN+NT+TN", "baseline", size, work, BENCH_FLOPS, NULL, 1, repeats, &j);
    for (int k = 0; k < config->backend_count; k++) {
        const char *backend = config->backends[k];
        j.kind = J_MATMUL;
        time_case(config, "matmul fwd+bwd", backend, size, work, BENCH_FLOPS, "sgemm NN+NT+TN", 1,
                  repeats, &j);
        check_grads(j, J_MATMUL, backend, j.a, j.b, j.pda, j.pdb, tol);
        j.kind = J_SUM_LOSS;
        time_case(config, "sum_all loss fwd+bwd", backend, size, work, BENCH_FLOPS,
                  "sgemm NN+NT+TN", 1, repeats, &j);
        check_grads(j, J_SUM_LOSS, backend, j.a, j.b, j.pda, j.pdb, tol);
    }
    mt_release(j.a), mt_release(j.b), mt_release(j.seed);
    free(pa), free(pb), free(pones), free(j.pc), free(j.pda), free(j.pdb);
}

static void run_small(const bench_config *config)
{
    const int calls = config->quick ? 2000 : 20000, chain_calls = config->quick ? 500 : 5000;
    job j = {.n = 0};
    j.a2 = mt_rand(MT_DIMS(2, 2), 31), j.b2 = mt_rand(MT_DIMS(2, 2), 32);
    j.ga2 = mt_rand(MT_DIMS(2, 2), 33), j.gb2 = mt_rand(MT_DIMS(2, 2), 34);
    j.seed2 = mt_ones(MT_DIMS(2, 2));
    j.x = mt_rand_uniform(MT_DIMS(CHAIN_ROWS, CHAIN_IN), -1.0f, 1.0f, 35);
    j.w = mt_rand_uniform(MT_DIMS(CHAIN_IN, CHAIN_OUT), -2.0f, 2.0f, 36);
    j.bias = mt_rand_uniform(MT_DIMS(CHAIN_OUT), -1.0f, 1.0f, 37);
    j.w0 = mt_detach(j.w), j.bias0 = mt_detach(j.bias);
    j.seed = mt_ones(MT_DIMS(CHAIN_ROWS, CHAIN_OUT));
    bench_check(j.a2 && j.b2 && j.ga2 && j.gb2 && j.seed2 && j.x && j.w && j.bias && j.w0 &&
                    j.bias0 && j.seed,
                "creating the small inputs");
    bench_check(mt_set_requires_grad(j.ga2, true) == MT_OK &&
                    mt_set_requires_grad(j.gb2, true) == MT_OK &&
                    mt_set_requires_grad(j.w, true) == MT_OK &&
                    mt_set_requires_grad(j.bias, true) == MT_OK,
                "mt_set_requires_grad");
    float *hx = bench_buffer(CHAIN_ROWS * CHAIN_IN, j.x), *hw = bench_buffer(CHAIN_IN * CHAIN_OUT, j.w);
    float *hb = bench_buffer(CHAIN_OUT, j.bias);
    j.hx = hx, j.hw = hw, j.hb = hb;
    j.hs = bench_buffer(CHAIN_ROWS * CHAIN_OUT, NULL);
    j.hdw = bench_buffer(CHAIN_IN * CHAIN_OUT, NULL);
    j.hdb = bench_buffer(CHAIN_OUT, NULL);

    const char *chain_size = "10x2@2x100";
    for (int k = 0; k < config->backend_count; k++) {
        const char *backend = config->backends[k];
        j.kind = J_ADD;
        time_case(config, "add2x2 fwd", backend, "2x2", 1, BENCH_CALLS, NULL, calls, 0, &j);
        j.kind = J_ADD_BWD;
        time_case(config, "add2x2 fwd+bwd", backend, "2x2", 1, BENCH_CALLS, "add2x2 fwd", calls,
                  0, &j);
    }
    j.kind = J_HAND;
    time_case(config, "chain by hand", "baseline", chain_size, 1, BENCH_CALLS, NULL, chain_calls,
              0, &j);
    for (int k = 0; k < config->backend_count; k++) {
        const char *backend = config->backends[k];
        j.kind = J_CHAIN;
        time_case(config, "chain fwd", backend, chain_size, 1, BENCH_CALLS, "chain by hand",
                  chain_calls, 0, &j);
        j.kind = J_CHAIN_BWD;
        time_case(config, "chain fwd+bwd", backend, chain_size, 1, BENCH_CALLS, "chain by hand",
                  chain_calls, 0, &j);
        check_grads(j, J_CHAIN_BWD, backend, j.w, j.bias, j.hdw, j.hdb, 1e-5f);
        j.kind = J_LINEAR_BWD;
        time_case(config, "linear chain fwd+bwd", backend, chain_size, 1, BENCH_CALLS,
                  "chain by hand", chain_calls, 0, &j);
        check_grads(j, J_LINEAR_BWD, backend, j.w, j.bias, j.hdw, j.hdb, 1e-5f);
    }
    mt_tensor *all[] = {j.a2, j.b2, j.ga2, j.gb2, j.seed2, j.x, j.w, j.bias, j.w0, j.bias0, j.seed};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
    free(hx), free(hw), free(hb), free(j.hs), free(j.hdw), free(j.hdb);
}

static void notes(const bench_config *config, const int64_t *sizes, int count)
{
    const int N = config->threads;
    bench_note(SUITE, "matmul forward + backward vs three direct sgemm calls: speed = sgemm time / "
                      "autodiff time (target >= 0.95),");
    bench_note(SUITE, "from the medians, in () from the fastest runs; ok / noisy (only the fastest "
                      "runs meet it) / MISSED:");
    bench_note(SUITE, "  %6s  %-8s  %-20s  %-20s", "n", "backend", "matmul fwd+bwd",
               "sum_all loss fwd+bwd");
    for (int i = 0; i < count; i++) {
        char size[32];
        snprintf(size, sizeof size, "%lld^3", (long long)sizes[i]);
        const bench_result *base = bench_find_sized(SUITE, "sgemm NN+NT+TN", "baseline", N, size);
        for (int k = 0; k < config->backend_count; k++) {
            const char *backend = config->backends[k];
            const char *names[2] = {"matmul fwd+bwd", "sum_all loss fwd+bwd"};
            char cells[2][48];
            for (int c = 0; c < 2; c++) {
                const bench_result *r = bench_find_sized(SUITE, names[c], backend, N, size);
                if (!r || !base || r->median <= 0 || r->min <= 0) {
                    snprintf(cells[c], sizeof cells[c], "-");
                    continue;
                }
                double by_median = base->median / r->median, by_min = base->min / r->min;
                snprintf(cells[c], sizeof cells[c], "%.2f (%.2f) %s", by_median, by_min,
                         by_median >= 0.95 ? "ok" : by_min >= 0.95 ? "noisy" : "MISSED");
            }
            bench_note(SUITE, "  %6lld  %-8s  %-20s  %-20s", (long long)sizes[i], backend,
                       cells[0], cells[1]);
        }
    }
    bench_note(SUITE, " ");
    bench_note(SUITE, "per-call overhead (PyTorch: ~10 us for an add + backward on tiny tensors):");
    for (int k = 0; k < config->backend_count; k++) {
        const char *backend = config->backends[k];
        double add = median_of("add2x2 fwd", backend, N, "2x2");
        double add_bwd = median_of("add2x2 fwd+bwd", backend, N, "2x2");
        double chain = median_of("chain fwd", backend, N, "10x2@2x100");
        double chain_bwd = median_of("chain fwd+bwd", backend, N, "10x2@2x100");
        double linear_bwd = median_of("linear chain fwd+bwd", backend, N, "10x2@2x100");
        bench_note(SUITE,
                   "  %-6s add2x2: %.2f us fwd, %.2f us fwd+bwd (%s);  sigmoid(x@w+b): %.2f us fwd, "
                   "%.2f us fwd+bwd, %.2f us with mt_linear",
                   backend, add * 1e6, add_bwd * 1e6,
                   add_bwd > 0 && add_bwd < 2e-6 ? "well under 10 us: ok" : "MISSED",
                   chain * 1e6, chain_bwd * 1e6, linear_bwd * 1e6);
    }
    double hand = median_of("chain by hand", "baseline", N, "10x2@2x100");
    bench_note(SUITE, "  the same chain and its gradients as plain C loops: %.2f us", hand * 1e6);
}

static void run(const bench_config *config)
{
    static const int64_t full_sizes[] = {256, 512, 1024}, quick_sizes[] = {256, 512};
    const int64_t *sizes = config->quick ? quick_sizes : full_sizes;
    const int count = config->quick ? 2 : 3;
    for (int i = 0; i < count; i++) run_matmul(config, sizes[i]);
    run_small(config);
    notes(config, sizes, count);
}

const bench_suite bench_suite_autodiff = {
    "autodiff",
    "matmul forward + backward vs three direct sgemm calls; per-call autodiff overhead on tiny "
    "tensors",
    run};
