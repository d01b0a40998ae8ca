/* Optimiser state for checkpoints: mt_optim_state_buffers / _get / _set. A state copied into a
 * new optimiser over a copy of the parameters continues bit for bit like the original; after one
 * Adam step from zero state the moments are known in closed form (m = (1 - beta1) g,
 * v = (1 - beta2) g^2); errors leave everything as it was.
 *
 * Gradients are set exactly: backward of sum(p * c) gives grad(p) = c bit for bit. */
#include <math.h>
#include <string.h>

#include "testing.h"

#define U (0x1.0p-24) /* float unit roundoff */

static void set_grad(mt_tensor *p, const float *c)
{
    mt_zero_grad(p);
    mt_scope s = mt_scope_begin();
    mt_tensor *ct = mt_from_data(mt_ndim(p), mt_shape(p), c);
    cr_assert_eq(mt_backward(mt_sum_all(mt_mul(p, ct))), MT_OK, "%s", mt_last_error());
    mt_scope_end(s);
}

static mt_tensor *param(const float *values)
{
    mt_tensor *p = mt_from_data(MT_DIMS(3, 2), values);
    cr_assert_not_null(p);
    cr_assert_eq(mt_set_requires_grad(p, true), MT_OK);
    return p;
}

static const float grads[3][6] = {{0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f},
                                  {-0.25f, 0.5f, 1.0f, -2.0f, 0.125f, 0.0f},
                                  {1.0f, 1.0f, -1.0f, 0.5f, 3.0f, -0.5f}};
static const float start[6] = {1.0f, -2.0f, 0.5f, 3.0f, -0.125f, 0.0f};

static void values(const mt_tensor *t, float *out) { cr_assert_eq(mt_copy_to(t, out, 6), MT_OK); }

Test(optim_state, buffer_counts)
{
    mt_tensor *p = param(start);
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_adam_options ams = mt_adam_defaults();
    ams.amsgrad = true;
    mt_optimizer *opts[] = {mt_optim_sgd(&params, mt_sgd_defaults()),
                            mt_optim_sgd(&params, (mt_sgd_options){.lr = 0.1f, .momentum = 0.9f}),
                            mt_optim_adam(&params, mt_adam_defaults()), mt_optim_adam(&params, ams),
                            mt_optim_adamw(&params, mt_adamw_defaults())};
    const int expected[] = {0, 1, 2, 3, 2};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(mt_optim_state_buffers(opts[i]), expected[i], "optimiser %d", i);
        mt_optim_free(opts[i]);
    }
    cr_assert_eq(mt_optim_state_buffers(NULL), -1);
    t_expect_error(MT_ERR_NULL, "mt_optim_state_buffers");
    mt_params_free(&params);
    mt_release(p);
}

/* Adam with amsgrad (three buffers): one step on p, then its values and state copied into q and a
 * second optimiser over it, then two more steps on both: p and q agree bit for bit, and so do the states. */
Test(optim_state, copied_state_continues_bitwise)
{
    mt_tensor *p = param(start);
    mt_params pp = {0}, qp = {0};
    cr_assert_eq(mt_params_add(&pp, p), MT_OK);
    mt_adam_options o = mt_adam_defaults();
    o.lr = 0.1f;
    o.amsgrad = true;
    mt_optimizer *a = mt_optim_adam(&pp, o);
    cr_assert_not_null(a);

    float m[6], v[6], vmax[6];
    float *bufs[] = {m, v, vmax};
    int64_t steps = -1;
    cr_assert_eq(mt_optim_state_get(a, 0, &steps, bufs), MT_OK);
    cr_assert_eq(steps, 0);
    for (int k = 0; k < 6; k++) cr_assert(m[k] == 0 && v[k] == 0 && vmax[k] == 0, "zeros before a step");

    set_grad(p, grads[0]);
    cr_assert_eq(mt_optim_step(a), MT_OK);
    cr_assert_eq(mt_optim_state_get(a, 0, &steps, bufs), MT_OK);
    cr_assert_eq(steps, 1);
    /* first step from zeros: m = (1 - beta1) g, v = vmax = (1 - beta2) g^2 (beta1, beta2 the float
     * options), with 1 - beta rounded to float and each product rounded: within 2 U relative for
     * m, 3 U for v (g^2 rounds once more) */
    for (int k = 0; k < 6; k++) {
        const double g = grads[0][k], em = (1 - (double)o.beta1) * g, ev = (1 - (double)o.beta2) * g * g;
        cr_assert(fabs(m[k] - em) <= 2 * U * fabs(em) + 1e-12, "m[%d] = %.9g, expected %.9g", k, (double)m[k], em);
        cr_assert(fabs(v[k] - ev) <= 3 * U * fabs(ev) + 1e-15, "v[%d] = %.9g, expected %.9g", k, (double)v[k], ev);
        cr_assert_eq(vmax[k], v[k]);
    }

    float pv[6];
    values(p, pv);
    mt_tensor *q = param(pv);
    cr_assert_eq(mt_params_add(&qp, q), MT_OK);
    mt_optimizer *b = mt_optim_adam(&qp, o);
    cr_assert_not_null(b);
    cr_assert_eq(mt_optim_state_set(b, 0, steps, (const float *const *)bufs), MT_OK);
    for (int t = 1; t < 3; t++) {
        set_grad(p, grads[t]);
        set_grad(q, grads[t]);
        cr_assert_eq(mt_optim_step(a), MT_OK);
        cr_assert_eq(mt_optim_step(b), MT_OK);
    }
    float qv[6], m2[6], v2[6], vmax2[6];
    float *bufs2[] = {m2, v2, vmax2};
    values(p, pv);
    values(q, qv);
    cr_assert(memcmp(pv, qv, sizeof pv) == 0, "the resumed parameter differs");
    int64_t steps2 = 0;
    cr_assert_eq(mt_optim_state_get(a, 0, &steps, bufs), MT_OK);
    cr_assert_eq(mt_optim_state_get(b, 0, &steps2, bufs2), MT_OK);
    cr_assert(steps == 3 && steps2 == 3);
    cr_assert(memcmp(m, m2, sizeof m) == 0 && memcmp(v, v2, sizeof v) == 0 &&
              memcmp(vmax, vmax2, sizeof vmax) == 0);

    /* steps = 0 forgets the state */
    cr_assert_eq(mt_optim_state_set(b, 0, 0, NULL), MT_OK);
    cr_assert_eq(mt_optim_state_get(b, 0, &steps2, bufs2), MT_OK);
    cr_assert_eq(steps2, 0);
    for (int k = 0; k < 6; k++) cr_assert(m2[k] == 0 && v2[k] == 0 && vmax2[k] == 0);

    mt_optim_free(a);
    mt_optim_free(b);
    mt_params_free(&pp);
    mt_params_free(&qp);
    mt_release(p);
    mt_release(q);
}

Test(optim_state, errors_change_nothing)
{
    mt_tensor *p = param(start);
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_optimizer *opt = mt_optim_sgd(&params, (mt_sgd_options){.lr = 0.5f, .momentum = 0.5f});
    set_grad(p, grads[0]);
    cr_assert_eq(mt_optim_step(opt), MT_OK);
    float before[6], buf[6], other[6] = {9, 9, 9, 9, 9, 9};
    float *out[] = {buf};
    const float *in[] = {other};
    int64_t steps = 0;
    cr_assert_eq(mt_optim_state_get(opt, 0, &steps, out), MT_OK);
    memcpy(before, buf, sizeof buf);

    cr_assert_eq(mt_optim_state_get(NULL, 0, &steps, out), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_optim_state_get");
    mt_clear_error(); /* a NULL error keeps an earlier one: clear before each */
    cr_assert_eq(mt_optim_state_get(opt, 0, NULL, out), MT_ERR_NULL);
    mt_clear_error();
    cr_assert_eq(mt_optim_state_get(opt, 1, &steps, out), MT_ERR_INDEX);
    t_expect_error(MT_ERR_INDEX, "mt_optim_state_get");
    mt_clear_error();
    cr_assert_eq(mt_optim_state_get(opt, -1, &steps, out), MT_ERR_INDEX);
    mt_clear_error();
    cr_assert_eq(mt_optim_state_get(opt, 0, &steps, (float *const[]){NULL}), MT_ERR_NULL);

    mt_clear_error();
    cr_assert_eq(mt_optim_state_set(NULL, 0, 1, in), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_optim_state_set");
    mt_clear_error();
    cr_assert_eq(mt_optim_state_set(opt, 1, 1, in), MT_ERR_INDEX);
    mt_clear_error();
    cr_assert_eq(mt_optim_state_set(opt, 0, -1, in), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_optim_state_set");
    mt_clear_error();
    cr_assert_eq(mt_optim_state_set(opt, 0, 2, NULL), MT_ERR_NULL);
    mt_clear_error();
    cr_assert_eq(mt_optim_state_set(opt, 0, 2, (const float *const[]){NULL}), MT_ERR_NULL);
    mt_clear_error();

    cr_assert_eq(mt_optim_state_get(opt, 0, &steps, out), MT_OK);
    cr_assert_eq(steps, 1, "a failed set left the step count");
    cr_assert(memcmp(before, buf, sizeof buf) == 0, "a failed set left the buffer");
    mt_optim_free(opt);
    mt_params_free(&params);
    mt_release(p);
}
