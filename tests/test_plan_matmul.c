/* Captured plans that run the activation after a matrix product as the product's epilogue (in
 * its output pass: per finished tile on naive, per block of rows on blas). The oracle is the eager
 * step on the same new data, bit for bit, forward and backward, on both backends with 1 and 2
 * threads: products with a fused bias, batched products, a transposed operand, sizes that split
 * into several tiles and row blocks, and activations whose input is not the product's output
 * as laid out (a transposed view: not taken as an epilogue, still replayed exactly). */
#include <stdio.h>
#include <stdlib.h>

#include "testing.h"

typedef enum { ACT_RELU, ACT_SIGMOID, ACT_GELU, ACT_TANH } activation;

typedef struct product_case {
    int64_t batch, n, k, m; /* batch 0: a 2-D product */
    bool bias, transposed_w, act_on_transpose;
    activation act;
    int fused_calls; /* 2: the product and its activation as one instruction */
} product_case;

typedef struct job {
    const product_case *pc;
    mt_tensor *x, *w, *b, *out;
    bool forward_only; /* the product and its activation alone: what the plan fuses is exact */
} job;

static mt_tensor *activate(activation a, mt_tensor *v)
{
    return a == ACT_RELU ? mt_relu(v) : a == ACT_SIGMOID ? mt_sigmoid(v) : a == ACT_GELU ? mt_gelu(v) : mt_tanh(v);
}

static mt_status step(void *context)
{
    job *j = context;
    mt_zero_grad(j->x);
    mt_zero_grad(j->w);
    if (j->b) mt_zero_grad(j->b);
    if (j->out) mt_release(j->out);
    j->out = NULL;
    mt_scope s = mt_scope_begin();
    mt_tensor *w = j->pc->transposed_w ? mt_transpose(j->w, 0, 1) : j->w;
    mt_tensor *y = j->b ? mt_linear(j->x, w, j->b) : mt_matmul(j->x, w);
    if (j->pc->act_on_transpose) y = mt_transpose(y, -2, -1);
    mt_tensor *h = activate(j->pc->act, y);
    mt_status status = !h ? mt_last_status() : j->forward_only ? MT_OK : mt_backward(mt_sum_all(mt_mul(h, h)));
    if (status == MT_OK) j->out = mt_retain(mt_detach(h));
    mt_scope_end(s);
    return status;
}

static mt_tensor *leaf(int ndim, const int64_t *shape, t_rng *r)
{
    mt_tensor *t = mt_zeros(ndim, shape);
    cr_assert(t);
    mt_set_requires_grad(t, true);
    t_fill_uniform(r, t, -1.0, 1.0);
    return t;
}

/* the output and the three gradients, concatenated */
static float *results(const job *j, int64_t *count)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *parts[4] = {j->out, mt_grad(j->x), mt_grad(j->w), j->b ? mt_grad(j->b) : NULL};
    int64_t total = 0;
    for (int k = 0; k < 4; k++) total += parts[k] ? mt_numel(parts[k]) : 0;
    float *all = malloc(sizeof *all * (size_t)total);
    cr_assert(all);
    int64_t used = 0;
    for (int k = 0; k < 4; k++)
        if (parts[k]) {
            cr_assert_eq(mt_copy_to(parts[k], all + used, mt_numel(parts[k])), MT_OK);
            used += mt_numel(parts[k]);
        }
    mt_scope_end(s);
    *count = total;
    return all;
}

static void check(const product_case *pc, int backend, int threads)
{
    t_rng r = t_rng_seed((uint64_t)(pc->n * 131 + pc->m * 7 + backend * 3 + threads));
    job j = {.pc = pc};
    if (pc->batch > 0) j.x = leaf(3, (const int64_t[]){pc->batch, pc->n, pc->k}, &r);
    else j.x = leaf(2, (const int64_t[]){pc->n, pc->k}, &r);
    j.w = pc->transposed_w ? leaf(2, (const int64_t[]){pc->m, pc->k}, &r)
                           : leaf(2, (const int64_t[]){pc->k, pc->m}, &r);
    if (pc->bias) j.b = leaf(1, (const int64_t[]){pc->m}, &r);
    mt_plan *plan = NULL;
    mt_no_grad_begin();
    j.forward_only = true;
    cr_assert_eq(mt_plan_capture(step, &j, &plan), MT_OK, "%s", mt_last_error());
    mt_plan_stats st;
    cr_assert_eq(mt_plan_get_stats(plan, &st), MT_OK);
    cr_assert_eq(st.fused_calls, pc->fused_calls, "%lld x %lld x %lld: %lld calls fused, not %d",
                 (long long)pc->n, (long long)pc->k, (long long)pc->m, (long long)st.fused_calls,
                 pc->fused_calls);
    mt_plan_free(plan);
    j.forward_only = false;
    mt_no_grad_end();
    cr_assert_eq(mt_plan_capture(step, &j, &plan), MT_OK, "%s", mt_last_error());
    for (int run = 0; run < 2; run++) {
        t_fill_uniform(&r, j.x, -1.0, 1.0);
        t_fill_uniform(&r, j.w, -1.0, 1.0);
        if (j.b) t_fill_uniform(&r, j.b, -1.0, 1.0);
        cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
    }
    int64_t n, m;
    float *planned = results(&j, &n);
    cr_assert_eq(step(&j), MT_OK, "%s", mt_last_error());
    float *eager = results(&j, &m);
    cr_assert_eq(n, m);
    char what[96];
    snprintf(what, sizeof what, "%lldx%lldx%lld (batch %lld) act %d, backend %d, %d threads",
             (long long)pc->n, (long long)pc->k, (long long)pc->m, (long long)pc->batch, (int)pc->act,
             backend, threads);
    t_expect_bitwise(what, planned, eager, n);
    free(planned);
    free(eager);
    mt_plan_free(plan);
    mt_release(j.x);
    mt_release(j.w);
    if (j.b) mt_release(j.b);
    mt_release(j.out);
}

static const product_case cases[] = {
    {0, 10, 2, 100, true, false, false, ACT_RELU, 2},     /* Task 3.5's first layer */
    {0, 10, 100, 100, true, false, false, ACT_SIGMOID, 2},
    {0, 200, 130, 300, true, false, false, ACT_GELU, 2},  /* several tiles; blas row blocks */
    {0, 257, 64, 129, false, true, false, ACT_TANH, 2},   /* w transposed, odd sizes */
    {3, 17, 20, 33, false, false, false, ACT_RELU, 2},    /* batched */
    {0, 30, 40, 50, true, false, true, ACT_SIGMOID, 0},   /* activation of a transposed view */
};

Test(plan_matmul, activation_epilogues_equal_eager_bitwise)
{
    T_BACKENDS_EACH(backend) {
        t_use_backend(backend);
        for (int threads = 1; threads <= 2; threads++) {
            cr_assert_eq(mt_set_num_threads(threads), MT_OK);
            for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check(&cases[k], backend, threads);
        }
    }
    mt_set_num_threads(0);
}
