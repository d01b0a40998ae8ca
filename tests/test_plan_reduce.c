/* Captured plans whose elementwise chains end in a reduction (plan.h): the reduction runs in the
 * chain's pass, on values that never reach memory, in the reduce kernel's own order. The oracle
 * is the eager step on the same data: planned results must equal it bit for bit (memcmp), for
 * every reduction, short and long rows (one block, several blocks, a partial last block), a row
 * count that is not a multiple of anything, 3-D inputs, broadcast and permuted operands, and
 * 1, 2 and 3 threads. The plan's statistics show which chains took the reduction in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

typedef enum { RED_SUM, RED_PROD, RED_MAX, RED_MEAN, RED_SUM_ALL } reduction;

typedef struct reduce_case {
    int ndim;
    int64_t shape[3];
    reduction red;
    bool broadcast_y; /* y is (1, ..., n): the chain has a broadcast operand */
    bool permuted_x;  /* x is a transposed view */
    int fused_calls;  /* calls the plan is expected to fuse (the reduction's included when it
                         joins; an op whose iteration differs from the next one's starts anew) */
} reduce_case;

typedef struct job {
    const reduce_case *rc;
    mt_tensor *x, *y, *out;
} job;

static mt_status step(void *context)
{
    job *j = context;
    if (j->out) mt_release(j->out);
    j->out = NULL;
    mt_scope s = mt_scope_begin();
    /* prod over many terms: keep the factors near 1 so the product stays finite */
    mt_tensor *v = j->rc->red == RED_PROD ? mt_add_scalar(mt_mul_scalar(mt_tanh(j->x), 0.01f), 1.0f)
                                          : mt_mul(mt_sigmoid(j->x), j->y);
    const int last = j->rc->ndim - 1;
    mt_tensor *r = j->rc->red == RED_SUM    ? mt_sum(v, last)
                   : j->rc->red == RED_PROD ? mt_prod(v, last)
                   : j->rc->red == RED_MAX  ? mt_max(v, last)
                   : j->rc->red == RED_MEAN ? mt_mean(v, last)
                                            : mt_sum_all(v);
    if (r) j->out = mt_retain(r);
    mt_scope_end(s);
    return j->out ? MT_OK : mt_last_status();
}

static mt_tensor *make_x(const reduce_case *rc)
{
    if (!rc->permuted_x) return mt_zeros(rc->ndim, rc->shape);
    int64_t swapped[3] = {rc->shape[1], rc->shape[0], rc->shape[2]};
    mt_tensor *base = mt_zeros(rc->ndim, swapped);
    const int order[3] = {1, 0, 2};
    mt_tensor *x = mt_permute(base, order);
    mt_release(base);
    return x;
}

static void check_case(const reduce_case *rc, int threads, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    job j = {.rc = rc, .x = make_x(rc)};
    int64_t yshape[3];
    memcpy(yshape, rc->shape, sizeof yshape);
    if (rc->broadcast_y)
        for (int d = 0; d + 1 < rc->ndim; d++) yshape[d] = 1;
    j.y = mt_zeros(rc->ndim, yshape);
    cr_assert(j.x && j.y);
    t_fill_uniform(&r, j.x, -3.0, 3.0);
    t_fill_uniform(&r, j.y, -3.0, 3.0);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(step, &j, &plan), MT_OK, "%s", mt_last_error());
    mt_plan_stats st;
    cr_assert_eq(mt_plan_get_stats(plan, &st), MT_OK);
    cr_assert_eq(st.fused_calls, rc->fused_calls, "shape %lld x %lld: %lld calls fused, not %d",
                 (long long)rc->shape[0], (long long)rc->shape[1], (long long)st.fused_calls,
                 rc->fused_calls);
    /* new data: the plan must not reuse anything computed at capture */
    t_fill_uniform(&r, j.x, -3.0, 3.0);
    t_fill_uniform(&r, j.y, -3.0, 3.0);
    cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
    float *planned = t_floats(j.out);
    const int64_t n = mt_numel(j.out);
    cr_assert_eq(step(&j), MT_OK, "%s", mt_last_error());
    float *eager = t_floats(j.out);
    char what[96];
    snprintf(what, sizeof what, "shape %lldx%lldx%lld reduction %d, %d threads",
             (long long)rc->shape[0], (long long)rc->shape[1], (long long)rc->shape[2], (int)rc->red,
             threads);
    t_expect_bitwise(what, planned, eager, n);
    free(planned);
    free(eager);
    mt_plan_free(plan);
    mt_release(j.x);
    mt_release(j.y);
    mt_release(j.out);
}

/* sigmoid(x) * y then the reduction: 3 calls fused when all join; prod's chain tanh, scale,
 * shift: 4 (the scalars' fills move out of the chain's way). A broadcast y gives mul another
 * iteration than sigmoid (rows kept apart), so sigmoid runs alone and mul starts the group the
 * reduction can end. */
static const reduce_case cases[] = {
    {2, {7, 5, 1}, RED_SUM, false, false, 3},        /* rows of 5: summed in order */
    {2, {9, 100, 1}, RED_SUM, true, false, 2},       /* one block per row, y broadcast */
    {2, {3, 4096, 1}, RED_MAX, false, false, 3},     /* exactly one block per row */
    {2, {3, 8192, 1}, RED_SUM, false, false, 3},     /* two blocks per row */
    {2, {1, 9000, 1}, RED_SUM, false, false, 3},     /* one row, a partial third block */
    {2, {2, 5000, 1}, RED_SUM, false, false, 2},     /* blocks of rows that do not divide: the
                                                        flat items cannot carry the rows apart */
    {2, {2, 5000, 1}, RED_SUM, true, false, 2},      /* ... but mul's rows can (sigmoid alone) */
    {2, {11, 300, 1}, RED_PROD, false, false, 4},
    {2, {13, 70, 1}, RED_MEAN, false, false, 3},     /* mean: its scaling runs after */
    {3, {4, 6, 300}, RED_SUM, false, false, 3},      /* 3-D, over the last dim */
    {3, {6, 4, 50}, RED_SUM, false, true, 2},        /* x permuted: sigmoid keeps x's rows apart,
                                                        mul does not: mul starts the group */
    {2, {64, 100, 1}, RED_SUM_ALL, false, false, 3}, /* the whole chain to one value */
    {2, {64, 100, 1}, RED_SUM_ALL, true, false, 0},  /* mul's items are rows of 100, the sum's
                                                        terms one run of 6400: nothing joins */
};

Test(plan_reduce, chains_ending_in_a_reduction_equal_eager_bitwise)
{
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            const reduce_case *rc = &cases[k];
            reduce_case c = *rc;
            if (c.ndim == 2) c.shape[2] = 1;
            check_case(&c, threads, 1000u * (unsigned)threads + k);
        }
    }
    mt_set_num_threads(0);
}

/* The loss of a training step: a chain, its mean, and the backward pass through both. */
typedef struct loss_job {
    mt_tensor *x, *w;
    mt_tensor *loss;
    bool keep_loss; /* false: the reduction's value is read by nothing after its group */
} loss_job;

static mt_status loss_step(void *context)
{
    loss_job *j = context;
    mt_zero_grad(j->w);
    if (j->loss) mt_release(j->loss);
    j->loss = NULL;
    mt_scope s = mt_scope_begin();
    mt_tensor *v = mt_log(mt_add_scalar(mt_sigmoid(mt_mul(j->x, j->w)), 1e-7f));
    mt_tensor *l = j->keep_loss ? mt_mean_all(v) : mt_sum_all(v);
    mt_status status = l ? mt_backward(l) : mt_last_status();
    if (status == MT_OK && j->keep_loss) j->loss = mt_retain(mt_detach(l));
    mt_scope_end(s);
    return status;
}

static void check_loss(bool keep_loss)
{
    t_rng r = t_rng_seed(7);
    loss_job j = {.x = mt_zeros(MT_DIMS(50, 130)), .w = mt_zeros(MT_DIMS(50, 130)), .keep_loss = keep_loss};
    cr_assert(j.x && j.w);
    mt_set_requires_grad(j.w, true);
    t_fill_uniform(&r, j.x, -3.0, 3.0);
    t_fill_uniform(&r, j.w, -3.0, 3.0);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(loss_step, &j, &plan), MT_OK, "%s", mt_last_error());
    t_fill_uniform(&r, j.x, -3.0, 3.0);
    cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
    float planned_loss = keep_loss ? mt_item(j.loss) : 0.0f;
    mt_scope s = mt_scope_begin();
    float *planned_grad = t_floats(mt_grad(j.w));
    mt_scope_end(s);
    cr_assert_eq(loss_step(&j), MT_OK, "%s", mt_last_error());
    float eager_loss = keep_loss ? mt_item(j.loss) : 0.0f;
    s = mt_scope_begin();
    float *eager_grad = t_floats(mt_grad(j.w));
    mt_scope_end(s);
    cr_assert_eq(memcmp(&planned_loss, &eager_loss, sizeof(float)), 0, "loss %.9g vs %.9g",
                 (double)planned_loss, (double)eager_loss);
    cr_assert_eq(memcmp(planned_grad, eager_grad, sizeof(float) * 50 * 130), 0);
    free(planned_grad);
    free(eager_grad);
    mt_plan_free(plan);
    mt_release(j.x);
    mt_release(j.w);
    if (j.loss) mt_release(j.loss);
}

Test(plan_reduce, loss_and_gradient_equal_eager_bitwise)
{
    check_loss(true);
    check_loss(false); /* a sum nothing reads: its output lives in the group alone */
}
