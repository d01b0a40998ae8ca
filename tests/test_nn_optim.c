/* Optimisers (SGD with momentum / Nesterov / weight decay, Adam, AdamW), gradient clipping and
 * learning-rate schedules. Expected values come from the test's own oracles: PyTorch's update
 * formulas written out below in double (with the state rounded to float where PyTorch keeps
 * float32 tensors), a few steps computed by hand, and closed forms.
 *
 * Gradients are set exactly: backward of sum(p * c) gives grad(p) = c bit for bit. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define U (0x1.0p-24) /* float unit roundoff */

/* grad(p) = c (row-major values of p's shape), replacing any gradient p had. */
static void set_grad(mt_tensor *p, const float *c)
{
    mt_zero_grad(p);
    mt_scope s = mt_scope_begin();
    mt_tensor *ct = mt_from_data(mt_ndim(p), mt_shape(p), c);
    cr_assert_eq(mt_backward(mt_sum_all(mt_mul(p, ct))), MT_OK, "%s", mt_last_error());
    mt_scope_end(s);
}

static mt_tensor *param(int ndim, const int64_t *shape, const float *values)
{
    mt_tensor *p = mt_from_data(ndim, shape, values);
    cr_assert_not_null(p);
    cr_assert_eq(mt_set_requires_grad(p, true), MT_OK);
    return p;
}

/* A (3, 2) parameter that is a strided view: the transpose of a (2, 3) buffer, detached. The
 * logical (row-major) values are `values`. *base receives the buffer (to release). */
static mt_tensor *strided_param(const float *values, mt_tensor **base)
{
    float stored[6]; /* base[j][i] = p[i][j] */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) stored[j * 3 + i] = values[i * 2 + j];
    *base = mt_from_data(MT_DIMS(2, 3), stored);
    mt_tensor *view = mt_transpose(*base, 0, 1);
    mt_tensor *p = mt_detach(view);
    mt_release(view);
    cr_assert_not(mt_is_contiguous(p));
    cr_assert_eq(mt_set_requires_grad(p, true), MT_OK);
    return p;
}

static void expect_values(const char *what, const mt_tensor *t, const double *expected, double atol)
{
    t_expect_close(what, t, expected, atol, 0.0);
}

/* ---- the oracles: PyTorch's formulas in double, float32 state ---- */

typedef struct sgd_oracle {
    double lr, momentum, dampening, weight_decay;
    bool nesterov;
} sgd_oracle;

/* torch.optim.SGD on one parameter; `step` counts from 1 (the buffer starts as d). */
static void oracle_sgd(const sgd_oracle *o, int64_t n, double *p, float *buf, const float *g, int step)
{
    for (int64_t i = 0; i < n; i++) {
        double d = g[i] + o->weight_decay * p[i];
        if (o->momentum != 0) {
            buf[i] = (float)(step == 1 ? d : o->momentum * buf[i] + (1 - o->dampening) * d);
            d = o->nesterov ? d + o->momentum * buf[i] : buf[i];
        }
        p[i] = (float)(p[i] - o->lr * d);
    }
}

typedef struct adam_oracle {
    double lr, beta1, beta2, eps, weight_decay;
    bool decoupled, amsgrad;
} adam_oracle;

/* torch.optim.Adam / AdamW on one parameter at its step t (from 1). */
static void oracle_adam(const adam_oracle *o, int64_t n, double *p, float *m, float *v, float *vmax,
                        const float *g, int t)
{
    const double c1 = 1 - pow(o->beta1, t), c2 = 1 - pow(o->beta2, t);
    for (int64_t i = 0; i < n; i++) {
        double grad = g[i];
        if (o->decoupled)
            p[i] *= 1 - o->lr * o->weight_decay;
        else
            grad += o->weight_decay * p[i];
        m[i] = (float)(o->beta1 * m[i] + (1 - o->beta1) * grad);
        v[i] = (float)(o->beta2 * v[i] + (1 - o->beta2) * grad * grad);
        double second = v[i];
        if (o->amsgrad) {
            vmax[i] = fmaxf(vmax[i], v[i]);
            second = vmax[i];
        }
        p[i] = (float)(p[i] - o->lr / c1 * m[i] / (sqrt(second) / sqrt(c2) + o->eps));
    }
}

/* Tolerance: the library evaluates the same formulas in float32 (as PyTorch does on CPU), so
 * each step rounds a handful of intermediates (gradient plus decay, the moments, the square
 * root, two divisions, the product with the step size): a relative error of at most ~6 U of an
 * update no larger than |p|'s scale here, plus the rounding of p itself. That is within 4 ulp of
 * the largest magnitude involved (|p| <= 4 here) per step, and later steps carry it along:
 * bounded by steps * 4 ulp of 4. */
static double tolerance(int steps) { return steps * 4 * U * 4; }

/* Gradients of three steps for a (3, 2) parameter, in row-major order. */
static const float grads3[3][6] = {{0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f},
                                   {-0.25f, 0.5f, 1.0f, -2.0f, 0.125f, 0.0f},
                                   {1.0f, 1.0f, -1.0f, 0.5f, 3.0f, -0.5f}};
static const float start3[6] = {1.0f, -2.0f, 0.5f, 3.0f, -0.125f, 0.0f};

/* Runs `steps` steps of `opt` on a (3, 2) parameter (strided when `strided`) against the oracle
 * `step_oracle(context, p, g, t)`. */
typedef void (*oracle_step)(void *context, double *p, const float *g, int t);

static void run_against_oracle(const char *what, mt_optimizer *(*make)(const mt_params *, void *),
                               void *options, oracle_step step_oracle, void *context, bool strided)
{
    mt_tensor *base = NULL;
    mt_tensor *p = strided ? strided_param(start3, &base) : param(MT_DIMS(3, 2), start3);
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_optimizer *opt = make(&params, options);
    cr_assert_not_null(opt, "%s: %s", what, mt_last_error());
    double expected[6];
    for (int i = 0; i < 6; i++) expected[i] = start3[i];
    for (int t = 1; t <= 3; t++) {
        set_grad(p, grads3[t - 1]);
        cr_assert_eq(mt_optim_step(opt), MT_OK, "%s", mt_last_error());
        step_oracle(context, expected, grads3[t - 1], t);
        expect_values(what, p, expected, tolerance(t));
    }
    /* step does not clear gradients; zero_grad does */
    mt_tensor *g = mt_grad(p);
    cr_assert_not_null(g, "mt_optim_step keeps the gradients");
    mt_release(g);
    cr_assert_eq(mt_optim_zero_grad(opt), MT_OK);
    mt_clear_error();
    cr_assert_null(mt_grad(p));
    if (base) { /* the update went through the view into the buffer: base[j][i] = p[i][j] */
        double transposed[6];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++) transposed[j * 3 + i] = expected[i * 2 + j];
        expect_values("the strided parameter's buffer", base, transposed, tolerance(3));
        mt_release(base);
    }
    mt_optim_free(opt);
    mt_params_free(&params);
    mt_release(p);
}

/* ---- SGD ---- */

typedef struct sgd_case {
    mt_sgd_options options;
    sgd_oracle oracle;
    float buf[6];
} sgd_case;

static mt_optimizer *make_sgd(const mt_params *params, void *o) { return mt_optim_sgd(params, *(mt_sgd_options *)o); }

static void sgd_step_oracle(void *context, double *p, const float *g, int t)
{
    sgd_case *c = context;
    oracle_sgd(&c->oracle, 6, p, c->buf, g, t);
}

Test(optim_sgd, three_steps_against_the_formulas)
{
    const mt_sgd_options cases[] = {
        {.lr = 0.1f},
        {.lr = 0.1f, .momentum = 0.9f},
        {.lr = 0.05f, .momentum = 0.9f, .dampening = 0.3f, .weight_decay = 0.01f},
        {.lr = 0.1f, .momentum = 0.8f, .nesterov = true, .weight_decay = 0.1f},
        {.lr = 0.2f, .weight_decay = 0.5f},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int strided = 0; strided < 2; strided++) {
            const mt_sgd_options *o = &cases[k];
            sgd_case c = {.options = *o,
                          .oracle = {o->lr, o->momentum, o->dampening, o->weight_decay, o->nesterov}};
            char what[64];
            snprintf(what, sizeof what, "SGD case %zu%s", k, strided ? " (strided)" : "");
            run_against_oracle(what, make_sgd, &c.options, sgd_step_oracle, &c, strided);
        }
}

/* Runs steps of an optimiser on a one-element parameter with the given gradients. */
static void one_element_steps(mt_optimizer *(*make)(const mt_params *, void *), void *options,
                              float start, const float *grads, int steps, const double *expected,
                              double atol)
{
    mt_tensor *p = param(MT_DIMS(1), &start);
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_optimizer *opt = make(&params, options);
    cr_assert_not_null(opt, "%s", mt_last_error());
    for (int t = 0; t < steps; t++) {
        set_grad(p, &grads[t]);
        cr_assert_eq(mt_optim_step(opt), MT_OK);
        cr_assert(fabs(mt_item(p) - expected[t]) <= atol, "step %d: %.9g, expected %.9g", t + 1,
                  (double)mt_item(p), expected[t]);
    }
    mt_optim_free(opt);
    mt_params_free(&params);
    mt_release(p);
}

/* Hand-computed: tolerance 4 ulp of values <= 1 (a few float roundings). */
Test(optim_sgd, by_hand)
{
    const float ones[3] = {1, 1, 1};
    const double atol = 4 * U;
    /* momentum 0.9, lr 0.1, g = 1: b = 1, 1.9, 2.71; p = 1 - 0.1, - 0.19, - 0.271 */
    mt_sgd_options o = {.lr = 0.1f, .momentum = 0.9f};
    one_element_steps(make_sgd, &o, 1.0f, ones, 3, (double[]){0.9, 0.71, 0.439}, atol);
    /* Nesterov: d = g + 0.9 b: 1.9, then 1 + 0.9 * 1.9 = 2.71 */
    o = (mt_sgd_options){.lr = 0.1f, .momentum = 0.9f, .nesterov = true};
    one_element_steps(make_sgd, &o, 1.0f, ones, 2, (double[]){0.81, 0.539}, atol);
    /* the first buffer is d itself, not (1 - dampening) d: momentum 0.5, dampening 0.5, lr 1:
     * b = 1 (p = -1), then b = 0.5 + 0.5 = 1 (p = -2) */
    o = (mt_sgd_options){.lr = 1.0f, .momentum = 0.5f, .dampening = 0.5f};
    one_element_steps(make_sgd, &o, 0.0f, ones, 2, (double[]){-1.0, -2.0}, 0.0);
    /* L2 weight decay 0.1, lr 0.1: d = 1 + 0.1 = 1.1, p = 0.89 */
    o = (mt_sgd_options){.lr = 0.1f, .weight_decay = 0.1f};
    one_element_steps(make_sgd, &o, 1.0f, ones, 1, (double[]){0.89}, atol);
}

/* ---- Adam, AdamW ---- */

typedef struct adam_case {
    mt_adam_options options;
    bool decoupled;
    adam_oracle oracle;
    float m[6], v[6], vmax[6];
} adam_case;

static mt_optimizer *make_adam(const mt_params *params, void *o) { return mt_optim_adam(params, *(mt_adam_options *)o); }
static mt_optimizer *make_adamw(const mt_params *params, void *o) { return mt_optim_adamw(params, *(mt_adam_options *)o); }

static void adam_step_oracle(void *context, double *p, const float *g, int t)
{
    adam_case *c = context;
    oracle_adam(&c->oracle, 6, p, c->m, c->v, c->vmax, g, t);
}

Test(optim_adam, three_steps_against_the_formulas)
{
    mt_adam_options adam_l2 = mt_adam_defaults(), adamw = mt_adamw_defaults(), ams = mt_adam_defaults();
    adam_l2.lr = 0.1f;
    adam_l2.weight_decay = 0.1f;
    adamw.lr = 0.05f;
    adamw.weight_decay = 0.2f;
    adamw.amsgrad = true;
    ams.lr = 0.02f;
    ams.amsgrad = true;
    ams.beta1 = 0.5f;
    ams.beta2 = 0.75f;
    ams.eps = 1e-3f;
    const struct {
        mt_adam_options o;
        bool decoupled;
    } cases[] = {{mt_adam_defaults(), false}, {adam_l2, false}, {ams, false},
                 {mt_adamw_defaults(), true}, {adamw, true}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int strided = 0; strided < 2; strided++) {
            const mt_adam_options *o = &cases[k].o;
            adam_case c = {.options = *o, .decoupled = cases[k].decoupled,
                           .oracle = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay,
                                      cases[k].decoupled, o->amsgrad}};
            char what[64];
            snprintf(what, sizeof what, "%s case %zu%s", c.decoupled ? "AdamW" : "Adam", k,
                     strided ? " (strided)" : "");
            run_against_oracle(what, c.decoupled ? make_adamw : make_adam, &c.options,
                               adam_step_oracle, &c, strided);
        }
}

Test(optim_adam, defaults_are_pytorchs)
{
    mt_adam_options a = mt_adam_defaults(), w = mt_adamw_defaults();
    cr_assert(a.lr == 1e-3f && a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-8f &&
              a.weight_decay == 0.0f && !a.amsgrad);
    cr_assert(w.lr == 1e-3f && w.beta1 == 0.9f && w.beta2 == 0.999f && w.eps == 1e-8f &&
              w.weight_decay == 1e-2f && !w.amsgrad);
    mt_sgd_options s = mt_sgd_defaults();
    cr_assert(s.lr == 1e-3f && s.momentum == 0 && s.dampening == 0 && s.weight_decay == 0 && !s.nesterov);
}

/* Hand-computed with PyTorch's formulas. With a constant gradient g the bias-corrected moments
 * are exactly g and g^2 at every step (m_t = (1 - b1^t) g, v_t = (1 - b2^t) g^2), so each step
 * moves p by lr * g / (|g| + eps) = lr * sign(g) to within eps / |g|. Tolerance: 1e-8 / 2 of
 * eps plus 8 float ulps of values <= 1 (the moments are float32). */
Test(optim_adam, by_hand)
{
    const float twos[3] = {2, 2, 2};
    const double atol = 8 * U;
    mt_adam_options o = mt_adam_defaults();
    o.lr = 0.1f;
    one_element_steps(make_adam, &o, 1.0f, twos, 3, (double[]){0.9, 0.8, 0.7}, atol);
    /* AdamW with weight_decay 0.1: p = p (1 - 0.01) - 0.1: 0.89, 0.7811, 0.673289 */
    o.weight_decay = 0.1f;
    one_element_steps(make_adamw, &o, 1.0f, twos, 3, (double[]){0.89, 0.7811, 0.673289}, atol);
    /* Adam with L2 0.5 at p = 1: g = 2 + 0.5 = 2.5, first step moves by lr regardless: 0.9 */
    o.weight_decay = 0.5f;
    one_element_steps(make_adam, &o, 1.0f, twos, 1, (double[]){0.9}, atol);
    /* a gradient changing sign: g = 1 then -1 (lr 0.1, betas 0.9, 0.999):
     * m2 = 0.09 - 0.1 = -0.01, m^2 = -0.01 / 0.19; v2 = 0.000999 + 0.001 = 0.001999,
     * v^2 = 0.001999 / 0.001999 = 1: p = 0.9 + 0.1 * 0.01 / 0.19 = 0.905263... */
    o = mt_adam_defaults();
    o.lr = 0.1f;
    one_element_steps(make_adam, &o, 1.0f, (const float[]){1, -1}, 2,
                      (double[]){0.9, 0.9 + 0.1 * 0.01 / 0.19}, 1e-6);
}

/* ---- parameters without gradients, learning rate ---- */

Test(optim, parameters_without_gradient_are_skipped_and_keep_their_step_count)
{
    mt_tensor *a = param(MT_DIMS(2), (const float[]){1, 1}), *b = param(MT_DIMS(2), (const float[]){1, -1});
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, a), MT_OK);
    cr_assert_eq(mt_params_add(&params, b), MT_OK);
    mt_adam_options o = mt_adam_defaults();
    o.lr = 0.1f;
    mt_optimizer *opt = mt_optim_adam(&params, o);
    cr_assert_not_null(opt);
    for (int t = 0; t < 2; t++) { /* only a has a gradient */
        set_grad(a, (const float[]){2, 2});
        cr_assert_eq(mt_optim_step(opt), MT_OK);
    }
    t_expect_exact("b without a gradient", b, (const float[]){1, -1});
    /* b's first gradient: its own first step (bias correction at t = 1), a moves on too */
    mt_zero_grad(a);
    set_grad(b, (const float[]){3, -3});
    cr_assert_eq(mt_optim_step(opt), MT_OK);
    expect_values("b's first step", b, (double[]){0.9, -0.9}, 8 * U);
    expect_values("a without a gradient now", a, (double[]){0.8, 0.8}, 8 * U);
    mt_optim_free(opt);
    mt_params_free(&params);
    mt_release(a);
    mt_release(b);
}

Test(optim, learning_rate_get_set)
{
    mt_tensor *p = param(MT_DIMS(1), (const float[]){1});
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_optimizer *opt = mt_optim_sgd(&params, (mt_sgd_options){.lr = 0.5f});
    cr_assert_eq(mt_optim_get_lr(opt), 0.5f);
    cr_assert_eq(mt_optim_set_lr(opt, 0.25f), MT_OK);
    cr_assert_eq(mt_optim_get_lr(opt), 0.25f);
    set_grad(p, (const float[]){2});
    cr_assert_eq(mt_optim_step(opt), MT_OK);
    cr_assert_eq(mt_item(p), 0.5f, "p = 1 - 0.25 * 2");
    const float bad[] = {-0.1f, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        mt_clear_error();
        cr_assert_eq(mt_optim_set_lr(opt, bad[i]), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_optim_set_lr");
    }
    cr_assert_eq(mt_optim_get_lr(opt), 0.25f, "a refused lr changes nothing");
    mt_clear_error();
    cr_assert(isnan(mt_optim_get_lr(NULL)));
    t_expect_error(MT_ERR_NULL, "mt_optim_get_lr");
    mt_optim_free(opt);
    mt_params_free(&params);
    mt_release(p);
}

/* The optimiser retains its parameters: freeing the list (and the caller's references) first
 * is fine. */
Test(optim, retains_its_parameters)
{
    const int64_t live = t_live_tensors();
    mt_tensor *p = param(MT_DIMS(2), (const float[]){1, 2});
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_optimizer *opt = mt_optim_adamw(&params, mt_adamw_defaults());
    mt_params_free(&params);
    set_grad(p, (const float[]){1, 1});
    mt_release(p);
    cr_assert_eq(mt_optim_step(opt), MT_OK);
    mt_optim_free(opt);
    cr_assert_eq(t_live_tensors(), live);
}

/* ---- bad options ---- */

static void expect_refused(const char *fn, mt_optimizer *opt, const char *value_text)
{
    cr_assert_null(opt, "%s accepted a bad option", fn);
    t_expect_error(MT_ERR_INVALID_ARG, fn);
    cr_assert(strstr(mt_last_error(), value_text), "\"%s\" should mention %s", mt_last_error(), value_text);
}

Test(optim, bad_options_are_refused_with_their_value)
{
    mt_tensor *p = param(MT_DIMS(2), (const float[]){1, 2});
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    const struct {
        mt_sgd_options o;
        const char *text;
    } sgd[] = {
        {{.lr = -0.1f}, "lr must be finite and >= 0, got -0.1"},
        {{.lr = NAN}, "lr"},
        {{.lr = INFINITY}, "lr"},
        {{.lr = 0.1f, .momentum = -0.5f}, "momentum must be finite and >= 0, got -0.5"},
        {{.lr = 0.1f, .weight_decay = -1.0f}, "weight_decay must be finite and >= 0, got -1"},
        {{.lr = 0.1f, .dampening = NAN}, "dampening"},
        {{.lr = 0.1f, .nesterov = true}, "nesterov"},
        {{.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .nesterov = true}, "dampening 0.1"},
    };
    for (size_t i = 0; i < sizeof sgd / sizeof sgd[0]; i++) {
        mt_clear_error();
        expect_refused("mt_optim_sgd", mt_optim_sgd(&params, sgd[i].o), sgd[i].text);
    }
    const struct {
        const char *field;
        float value;
        const char *text;
    } adam[] = {
        {"lr", -1e-3f, "lr must be finite and >= 0, got -0.001"},
        {"beta1", 1.0f, "beta1 must be in [0, 1), got 1"},
        {"beta1", -0.1f, "beta1 must be in [0, 1), got -0.1"},
        {"beta2", 1.5f, "beta2 must be in [0, 1), got 1.5"},
        {"beta2", NAN, "beta2 must be in [0, 1), got nan"},
        {"eps", -1e-8f, "eps must be finite and >= 0, got -1e-08"},
        {"eps", NAN, "eps"},
        {"weight_decay", -0.01f, "weight_decay must be finite and >= 0, got -0.01"},
    };
    for (size_t i = 0; i < sizeof adam / sizeof adam[0]; i++) {
        mt_adam_options o = mt_adam_defaults();
        float *field = strcmp(adam[i].field, "lr") == 0      ? &o.lr
                       : strcmp(adam[i].field, "beta1") == 0 ? &o.beta1
                       : strcmp(adam[i].field, "beta2") == 0 ? &o.beta2
                       : strcmp(adam[i].field, "eps") == 0   ? &o.eps
                                                             : &o.weight_decay;
        *field = adam[i].value;
        mt_clear_error();
        expect_refused("mt_optim_adam", mt_optim_adam(&params, o), adam[i].text);
        mt_clear_error();
        expect_refused("mt_optim_adamw", mt_optim_adamw(&params, o), adam[i].text);
    }
    /* parameter lists: NULL, empty, duplicated, an expanded view */
    mt_clear_error();
    cr_assert_null(mt_optim_sgd(NULL, mt_sgd_defaults()));
    t_expect_error(MT_ERR_NULL, "mt_optim_sgd");
    mt_params empty = {0};
    mt_clear_error();
    expect_refused("mt_optim_adam", mt_optim_adam(&empty, mt_adam_defaults()), "empty");
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_clear_error();
    expect_refused("mt_optim_sgd", mt_optim_sgd(&params, mt_sgd_defaults()), "same tensor");
    mt_params expanded = {0};
    mt_tensor *row = mt_zeros(MT_DIMS(1, 3)), *wide = mt_expand(row, MT_DIMS(4, 3));
    cr_assert_eq(mt_params_add(&expanded, wide), MT_OK);
    mt_clear_error();
    expect_refused("mt_optim_adamw", mt_optim_adamw(&expanded, mt_adamw_defaults()), "zero stride");
    mt_params_free(&expanded);
    mt_release(wide);
    mt_release(row);
    mt_params_free(&params);
    mt_release(p);
}

/* ---- allocation failures: a step is all or nothing ---- */

static mt_optimizer *make_kind(int kind, const mt_params *params)
{
    mt_adam_options ams = mt_adam_defaults();
    ams.amsgrad = true;
    ams.lr = 0.1f;
    switch (kind) {
    case 0: return mt_optim_sgd(params, (mt_sgd_options){.lr = 0.1f, .momentum = 0.9f, .nesterov = true});
    case 1: return mt_optim_adam(params, ams);
    default: return mt_optim_adamw(params, mt_adamw_defaults());
    }
}

/* Three parameters (one strided); two steps. Returns the final values (36 floats). */
typedef struct model3 {
    mt_tensor *p[3], *base;
    mt_params params;
} model3;

static void model3_make(model3 *m)
{
    *m = (model3){0};
    m->p[0] = param(MT_DIMS(3, 2), start3);
    m->p[1] = strided_param(grads3[2], &m->base);
    m->p[2] = param(MT_DIMS(6), grads3[1]);
    for (int i = 0; i < 3; i++) cr_assert_eq(mt_params_add(&m->params, m->p[i]), MT_OK);
}

static void model3_grads(model3 *m, int step)
{
    for (int i = 0; i < 3; i++) set_grad(m->p[i], grads3[(i + step) % 3]);
}

static void model3_values(const model3 *m, float *out)
{
    for (int i = 0; i < 3; i++) cr_assert_eq(mt_copy_to(m->p[i], out + 6 * i, 6), MT_OK);
}

static void model3_free(model3 *m)
{
    mt_params_free(&m->params);
    for (int i = 0; i < 3; i++) mt_release(m->p[i]);
    mt_release(m->base);
}

static void reset_hook(void) { mt_debug_fail_allocations_after(-1); }

static const char *creator_name(int kind)
{
    return kind == 0 ? "mt_optim_sgd" : kind == 1 ? "mt_optim_adam" : "mt_optim_adamw";
}

Test(optim, allocation_failure_sweep_is_all_or_nothing, .fini = reset_hook)
{
    for (int kind = 0; kind < 3; kind++) {
        /* the reference: two steps without failures */
        model3 ref;
        model3_make(&ref);
        mt_optimizer *opt = make_kind(kind, &ref.params);
        float after[2][18];
        for (int step = 0; step < 2; step++) {
            model3_grads(&ref, step);
            cr_assert_eq(mt_optim_step(opt), MT_OK);
            model3_values(&ref, after[step]);
        }
        mt_optim_free(opt);
        model3_free(&ref);
        const int64_t live = t_live_tensors();

        /* creation fails cleanly */
        int64_t n;
        for (n = 0; n < 100; n++) {
            model3 m;
            model3_make(&m);
            mt_clear_error();
            mt_debug_fail_allocations_after(n);
            opt = make_kind(kind, &m.params);
            reset_hook();
            model3_free(&m);
            if (opt) {
                mt_optim_free(opt);
                break;
            }
            t_expect_error(MT_ERR_NO_MEMORY, creator_name(kind));
            cr_assert_eq(t_live_tensors(), live, "a failed %s leaves tensors", creator_name(kind));
        }
        cr_assert(n > 0 && n < 100);

        /* the first step fails at each of its allocations, changing nothing */
        int64_t failures = 0;
        for (n = 0; n < 100; n++) {
            model3 m;
            model3_make(&m);
            opt = make_kind(kind, &m.params);
            cr_assert_not_null(opt);
            model3_grads(&m, 0);
            float before[18], now[18];
            model3_values(&m, before);
            mt_clear_error();
            mt_debug_fail_allocations_after(n);
            mt_status status = mt_optim_step(opt);
            reset_hook();
            if (status != MT_OK) {
                failures++;
                t_expect_error(MT_ERR_NO_MEMORY, "mt_optim_step");
                model3_values(&m, now);
                cr_assert(memcmp(before, now, sizeof now) == 0,
                          "%s n=%lld: a failed step changed parameters", creator_name(kind), (long long)n);
                /* retried: bitwise the reference run, so no state was left half made */
                cr_assert_eq(mt_optim_step(opt), MT_OK);
            }
            model3_values(&m, now);
            cr_assert(memcmp(after[0], now, sizeof now) == 0, "%s n=%lld: first step differs",
                      creator_name(kind), (long long)n);
            model3_grads(&m, 1);
            cr_assert_eq(mt_optim_step(opt), MT_OK);
            model3_values(&m, now);
            cr_assert(memcmp(after[1], now, sizeof now) == 0, "%s n=%lld: second step differs",
                      creator_name(kind), (long long)n);
            mt_optim_free(opt);
            model3_free(&m);
            cr_assert_eq(t_live_tensors(), live);
            if (status == MT_OK) break;
        }
        cr_assert_lt(n, 100);
        /* one allocation per state buffer: SGD with momentum 1 x 3 parameters, Adam with
         * amsgrad 3 x 3, AdamW 2 x 3 */
        cr_assert_eq(failures, kind == 0 ? 3 : kind == 1 ? 9 : 6, "%s: %lld failing steps",
                     creator_name(kind), (long long)failures);
    }
}

/* ---- determinism across thread counts (a parameter big enough to run on several threads) ---- */

Test(optim, bitwise_identical_for_1_2_3_threads)
{
    const int64_t n = 300000;
    float *start = malloc(sizeof(float) * (size_t)n), *g = malloc(sizeof(float) * (size_t)n);
    float *result[3];
    t_rng r = t_rng_seed(5);
    for (int64_t i = 0; i < n; i++) {
        start[i] = (float)t_rng_uniform(&r, -1, 1);
        g[i] = (float)t_rng_uniform(&r, -1, 1);
    }
    const int before = mt_get_num_threads();
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        mt_tensor *p = param(MT_DIMS(n), start);
        mt_params params = {0};
        cr_assert_eq(mt_params_add(&params, p), MT_OK);
        mt_adam_options o = mt_adamw_defaults();
        o.amsgrad = true;
        mt_optimizer *opt = mt_optim_adamw(&params, o);
        for (int t = 0; t < 2; t++) {
            set_grad(p, g);
            cr_assert_eq(mt_optim_step(opt), MT_OK);
        }
        float norm;
        cr_assert_eq(mt_clip_grad_norm(&params, 1.0f, &norm), MT_OK);
        result[threads - 1] = malloc(sizeof(float) * (size_t)(n + 1));
        cr_assert_eq(mt_copy_to(p, result[threads - 1], n), MT_OK);
        result[threads - 1][n] = norm;
        mt_optim_free(opt);
        mt_params_free(&params);
        mt_release(p);
    }
    mt_set_num_threads(before);
    for (int k = 1; k < 3; k++)
        cr_assert(memcmp(result[0], result[k], sizeof(float) * (size_t)(n + 1)) == 0,
                  "%d threads differ from 1", k + 1);
    for (int k = 0; k < 3; k++) free(result[k]);
    free(start);
    free(g);
}

/* ---- clip_grad_norm ---- */

Test(clip_grad_norm, against_a_double_oracle)
{
    mt_tensor *base;
    mt_tensor *a = param(MT_DIMS(3, 2), start3), *b = strided_param(start3, &base),
              *c = param(MT_DIMS(2), (const float[]){1, 1});
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, a), MT_OK);
    cr_assert_eq(mt_params_add(&params, c), MT_OK); /* no gradient: skipped */
    cr_assert_eq(mt_params_add(&params, b), MT_OK);
    double sum = 0;
    for (int i = 0; i < 6; i++) sum += (double)grads3[0][i] * grads3[0][i] + (double)grads3[2][i] * grads3[2][i];
    const double norm = sqrt(sum); /* ~5.2 */
    const float max_norms[] = {1.0f, 5.0f, 6.0f, INFINITY, 0.0f};
    for (int k = 0; k < 5; k++) {
        set_grad(a, grads3[0]);
        set_grad(b, grads3[2]);
        float total = -1;
        cr_assert_eq(mt_clip_grad_norm(&params, max_norms[k], &total), MT_OK);
        /* the norm: a double sum rounded once to float */
        cr_assert(fabs(total - norm) <= U * norm + 1e-12, "norm %.9g, expected %.9g", (double)total, norm);
        const double coef = fmin(1.0, max_norms[k] / (norm + 1e-6));
        double ga[6], gb[6];
        for (int i = 0; i < 6; i++) {
            ga[i] = grads3[0][i] * (double)(float)coef;
            gb[i] = grads3[2][i] * (double)(float)coef;
        }
        mt_scope s = mt_scope_begin();
        if (coef == 1.0) { /* left alone, bit for bit */
            t_expect_exact("unclipped a", mt_grad(a), grads3[0]);
            t_expect_exact("unclipped b", mt_grad(b), grads3[2]);
        } else { /* g * float(coef), rounded once */
            t_expect_close("clipped a", mt_grad(a), ga, 0, U);
            t_expect_close("clipped b", mt_grad(b), gb, 0, U);
        }
        mt_clear_error();
        cr_assert_null(mt_grad(c));
        mt_scope_end(s);
    }
    /* the NULL norm output is allowed; bad max_norm refused with nothing scaled */
    cr_assert_eq(mt_clip_grad_norm(&params, 100.0f, NULL), MT_OK);
    const float bad[] = {-1.0f, NAN, -INFINITY};
    for (int k = 0; k < 3; k++) {
        float total = -7;
        mt_clear_error();
        cr_assert_eq(mt_clip_grad_norm(&params, bad[k], &total), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_clip_grad_norm");
        cr_assert_eq(total, -7.0f);
    }
    mt_clear_error();
    cr_assert_eq(mt_clip_grad_norm(NULL, 1.0f, NULL), MT_ERR_NULL);
    mt_params_free(&params);
    mt_release(a);
    mt_release(b);
    mt_release(c);
    mt_release(base);
}

/* ---- schedules ---- */

Test(lr_schedule, step_and_cosine_closed_forms)
{
    /* StepLR(base 0.1, step_size 3, gamma 0.5) by hand */
    const double factor[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25}; /* 0.1f times a power of 2: exact */
    for (int s = 0; s < 8; s++) cr_assert_eq(mt_lr_step(0.1f, s, 3, 0.5f), (float)((double)0.1f * factor[s]));
    /* CosineAnnealingLR(base 1, T 10, min 0.1): start, middle and end by hand */
    cr_assert_eq(mt_lr_cosine(1.0f, 0, 10, 0.1f), 1.0f);
    cr_assert_eq(mt_lr_cosine(1.0f, 5, 10, 0.1f), 0.55f);
    cr_assert(fabsf(mt_lr_cosine(1.0f, 10, 10, 0.1f) - 0.1f) <= 2 * U);
    /* the formulas at every step (double, rounded once to float) */
    const double pi = 3.14159265358979323846;
    for (int64_t s = 0; s <= 40; s++) {
        double cosine = (double)0.01f + ((double)0.3f - (double)0.01f) * (1 + cos(pi * (double)s / 17)) / 2;
        double step = (double)0.3f * pow((double)0.7f, (double)(s / 4));
        cr_assert(fabs(mt_lr_cosine(0.3f, s, 17, 0.01f) - cosine) <= U * 0.3, "cosine step %lld", (long long)s);
        cr_assert(fabs(mt_lr_step(0.3f, s, 4, 0.7f) - step) <= U * step, "step %lld", (long long)s);
    }
    const struct {
        float value;
        const char *fn;
    } bad[] = {{mt_lr_step(0.1f, -1, 3, 0.5f), "mt_lr_step"},
               {mt_lr_step(0.1f, 1, 0, 0.5f), "mt_lr_step"},
               {mt_lr_step(NAN, 1, 3, 0.5f), "mt_lr_step"},
               {mt_lr_step(0.1f, 1, 3, INFINITY), "mt_lr_step"},
               {mt_lr_cosine(0.1f, -1, 3, 0.0f), "mt_lr_cosine"},
               {mt_lr_cosine(0.1f, 1, 0, 0.0f), "mt_lr_cosine"},
               {mt_lr_cosine(0.1f, 1, 3, NAN), "mt_lr_cosine"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) cr_assert(isnan(bad[i].value), "case %zu", i);
    mt_clear_error();
    cr_assert(isnan(mt_lr_cosine(0.1f, 1, -5, 0.0f)));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_lr_cosine");
    mt_clear_error();
    cr_assert(isnan(mt_lr_step(0.1f, 1, -5, 0.5f)));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_lr_step");
}

/* A schedule driving an optimiser: set_lr each step, SGD moves by the scheduled rate. */
Test(lr_schedule, drives_an_optimizer)
{
    mt_tensor *p = param(MT_DIMS(1), (const float[]){0});
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, p), MT_OK);
    mt_optimizer *opt = mt_optim_sgd(&params, (mt_sgd_options){.lr = 1.0f});
    double expected = 0;
    for (int64_t s = 0; s < 6; s++) {
        float lr = mt_lr_step(1.0f, s, 2, 0.5f);
        cr_assert_eq(mt_optim_set_lr(opt, lr), MT_OK);
        set_grad(p, (const float[]){1});
        cr_assert_eq(mt_optim_step(opt), MT_OK);
        expected -= lr;
        cr_assert_eq(mt_item(p), (float)expected); /* sums of powers of 2: exact */
    }
    mt_optim_free(opt);
    mt_params_free(&params);
    mt_release(p);
}
