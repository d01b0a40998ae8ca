/* Captured plans over the kernels beyond map/zip/reduce/matmul: three-input kernels (where,
 * masked_fill, the gradients of pow and maximum), row ops (softmax, log_softmax, logsumexp, var,
 * std) with their gradients, and the fused cross-entropy whose labels are a caller's array and
 * whose backward is scaled by the incoming gradient. The oracle is the eager step on the same new
 * data: after new inputs (and new labels written into the same array) a run must give the
 * eager step's loss and gradients bit for bit — a kernel the plan failed to replay would leave
 * the capture's values behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

enum { N = 6, C = 9 };

typedef struct job {
    mt_tensor *x, *w, *mask;
    int64_t labels[N];
    mt_tensor *loss;
} job;

static mt_status step(void *context)
{
    job *j = context;
    mt_zero_grad(j->x);
    mt_zero_grad(j->w);
    if (j->loss) mt_release(j->loss);
    j->loss = NULL;
    mt_scope s = mt_scope_begin();
    mt_tensor *h = mt_mul(j->x, j->w);
    mt_tensor *a = mt_where(j->mask, mt_softmax(h, 1), mt_log_softmax(h, 0));
    mt_tensor *b = mt_maximum(mt_masked_fill(h, j->mask, 0.25f), mt_pow(mt_add_scalar(mt_abs(h), 0.5f), j->w));
    mt_tensor *rows = mt_add(mt_add(mt_logsumexp(a, 1), mt_var(b, 1, 1)), mt_std(h, 1, 0));
    /* cross-entropy scaled by a data-dependent factor: its backward's incoming gradient changes
     * with the data */
    mt_tensor *ce = mt_loss_cross_entropy(mt_add(a, b), N, j->labels);
    mt_tensor *l = mt_add(mt_mul(ce, mt_mean_all(rows)), mt_sum_all(rows));
    mt_status status = l ? mt_backward(l) : mt_last_status();
    if (status == MT_OK) j->loss = mt_retain(mt_detach(l));
    mt_scope_end(s);
    return status;
}

/* a mask of 0 and 1, each with probability 1/2 */
static void fill_mask(t_rng *r, mt_tensor *t)
{
    float v[N * C];
    cr_assert(mt_numel(t) <= N * C);
    for (int64_t i = 0; i < mt_numel(t); i++) v[i] = (float)(t_rng_uniform(r, 0.0, 1.0) < 0.5);
    cr_assert_eq(mt_copy_from(t, v, mt_numel(t)), MT_OK, "%s", mt_last_error());
}

static void new_data(t_rng *r, job *j)
{
    t_fill_uniform(r, j->x, -2.0, 2.0);
    t_fill_uniform(r, j->w, 0.5, 1.5);
    fill_mask(r, j->mask);
    for (int i = 0; i < N; i++) j->labels[i] = t_rng_int(r, 0, C - 1);
}

/* loss, then the gradients of x and w */
static void results(const job *j, float *out)
{
    out[0] = mt_item(j->loss);
    mt_scope s = mt_scope_begin();
    cr_assert_eq(mt_copy_to(mt_grad(j->x), out + 1, N * C), MT_OK);
    cr_assert_eq(mt_copy_to(mt_grad(j->w), out + 1 + N * C, N * C), MT_OK);
    mt_scope_end(s);
}

Test(plan_rows, row_ops_three_input_kernels_and_cross_entropy_replay_bitwise)
{
    T_BACKENDS_EACH(backend) {
        t_use_backend(backend);
        for (int threads = 1; threads <= 2; threads++) {
            cr_assert_eq(mt_set_num_threads(threads), MT_OK);
            t_rng r = t_rng_seed(40u + (unsigned)threads);
            job j = {.x = mt_zeros(MT_DIMS(N, C)), .w = mt_zeros(MT_DIMS(N, C)),
                     .mask = mt_zeros(MT_DIMS(N, C))};
            cr_assert(j.x && j.w && j.mask);
            mt_set_requires_grad(j.x, true);
            mt_set_requires_grad(j.w, true);
            new_data(&r, &j);
            mt_plan *plan = NULL;
            cr_assert_eq(mt_plan_capture(step, &j, &plan), MT_OK, "%s", mt_last_error());
            /* two runs on new data (the second must not depend on the first's leftovers); the
             * eager step then replaces the kept loss, so it comes last */
            for (int run = 0; run < 2; run++) {
                new_data(&r, &j);
                cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
            }
            float planned[1 + 2 * N * C], eager[1 + 2 * N * C];
            results(&j, planned);
            cr_assert_eq(step(&j), MT_OK, "%s", mt_last_error());
            results(&j, eager);
            char what[48];
            snprintf(what, sizeof what, "backend %d, %d threads", backend, threads);
            t_expect_bitwise(what, planned, eager, 1 + 2 * N * C);
            mt_plan_free(plan);
            mt_release(j.x);
            mt_release(j.w);
            mt_release(j.mask);
            mt_release(j.loss);
        }
    }
    mt_set_num_threads(0);
}

/* A label outside the classes written into the array after capture: the run fails clearly. */
Test(plan_rows, a_bad_label_at_run_time_is_an_index_error)
{
    t_rng r = t_rng_seed(3);
    job j = {.x = mt_zeros(MT_DIMS(N, C)), .w = mt_zeros(MT_DIMS(N, C)), .mask = mt_zeros(MT_DIMS(N, C))};
    mt_set_requires_grad(j.x, true);
    mt_set_requires_grad(j.w, true);
    new_data(&r, &j);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(step, &j, &plan), MT_OK, "%s", mt_last_error());
    j.labels[2] = C;
    cr_assert_eq(mt_plan_run(plan), MT_ERR_INDEX);
    cr_assert(strstr(mt_last_error(), "labels[2]"), "%s", mt_last_error());
    mt_plan_free(plan);
    mt_release(j.x);
    mt_release(j.w);
    mt_release(j.mask);
    mt_release(j.loss);
}
