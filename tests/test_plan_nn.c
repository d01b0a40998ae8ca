/* Captured plans (plan.h) whose step uses the optimisers of mt_optim_* and dropout. The oracle of
 * the training tests is the eager run of the same program from an identical starting model: a
 * plan must reproduce it bit for bit (memcmp, no tolerance) — parameters, losses, optimiser state
 * and the dropout layers' draws — with 1 and 2 threads and the gradients zeroed at either end of
 * the step. Adam is also checked against its formula evaluated in double for a tiny parameter.
 * Misuse: an optimiser freed by the caller or inside the step, a dropout layer switched to eval
 * mode, allocation failures during capture (no leaks: ASan). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* ---- helpers ---- */

static void expect_same_tensor(const char *what, const mt_tensor *planned, const mt_tensor *eager)
{
    cr_assert_eq(mt_numel(planned), mt_numel(eager), "%s", what);
    float *a = t_floats(planned), *b = t_floats(eager);
    t_expect_bitwise(what, a, b, mt_numel(eager));
    free(a);
    free(b);
}

/* ---- a small network with two dropout layers, trained by an optimiser ---- */

enum { IN = 5, HIDDEN = 12, BATCH = 9, STEPS = 5 };
enum { ADAM, ADAMW, SGD_MOMENTUM, KINDS };

static const char *kind_name(int kind)
{
    return kind == ADAM ? "Adam" : kind == ADAMW ? "AdamW" : "SGD with momentum";
}

typedef struct net {
    mt_params params;
    mt_linear_layer l1, l2, l3;
    mt_dropout_layer d1, d2;
    mt_optimizer *opt;
    mt_tensor *x, *y, *loss;
    bool zero_first; /* mt_optim_zero_grad at the start of the step, else at its end */
} net;

static mt_optimizer *make_optimizer(int kind, const mt_params *params)
{
    if (kind == SGD_MOMENTUM) {
        mt_sgd_options o = mt_sgd_defaults();
        o.lr = 0.05f;
        o.momentum = 0.9f;
        o.nesterov = true;
        o.weight_decay = 1e-3f;
        return mt_optim_sgd(params, o);
    }
    mt_adam_options o = kind == ADAM ? mt_adam_defaults() : mt_adamw_defaults();
    o.lr = 0.01f;
    if (kind == ADAM) {
        o.weight_decay = 1e-3f;
        o.amsgrad = true;
    }
    return kind == ADAM ? mt_optim_adam(params, o) : mt_optim_adamw(params, o);
}

static void net_init(net *n, int kind, bool zero_first)
{
    *n = (net){.zero_first = zero_first};
    cr_assert_eq(mt_linear_layer_init(&n->l1, IN, HIDDEN, 1, &n->params), MT_OK);
    cr_assert_eq(mt_linear_layer_init(&n->l2, HIDDEN, HIDDEN, 2, &n->params), MT_OK);
    cr_assert_eq(mt_linear_layer_init(&n->l3, HIDDEN, 1, 3, &n->params), MT_OK);
    cr_assert_eq(mt_dropout_layer_init(&n->d1, 0.25f, 11), MT_OK);
    cr_assert_eq(mt_dropout_layer_init(&n->d2, 0.5f, 12), MT_OK);
    n->opt = make_optimizer(kind, &n->params);
    n->x = mt_zeros(MT_DIMS(BATCH, IN));
    n->y = mt_zeros(MT_DIMS(BATCH, 1));
    cr_assert(n->opt && n->x && n->y, "%s", mt_last_error());
}

static void net_free(net *n)
{
    if (n->opt) mt_optim_free(n->opt);
    mt_linear_layer_free(&n->l1);
    mt_linear_layer_free(&n->l2);
    mt_linear_layer_free(&n->l3);
    mt_params_free(&n->params);
    mt_release(n->x);
    mt_release(n->y);
    if (n->loss) mt_release(n->loss);
}

static mt_status net_step(void *context)
{
    net *n = context;
    if (n->loss) mt_release(n->loss);
    n->loss = NULL;
    if (n->zero_first) mt_optim_zero_grad(n->opt);
    mt_scope s = mt_scope_begin();
    mt_tensor *h = mt_dropout_layer_forward(&n->d1, mt_relu(mt_linear_layer_forward(&n->l1, n->x)));
    h = mt_dropout_layer_forward(&n->d2, mt_tanh(mt_linear_layer_forward(&n->l2, h)));
    mt_tensor *loss = mt_loss_mse(mt_linear_layer_forward(&n->l3, h), n->y);
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) status = mt_optim_step(n->opt);
    if (status == MT_OK) n->loss = mt_retain(mt_detach(loss));
    mt_scope_end(s);
    if (!n->zero_first) mt_optim_zero_grad(n->opt);
    return status;
}

/* Step k's batch and learning rate (a cosine schedule set before the step: a plan's optimiser
 * step must use the rate current at its run). */
static void net_prepare(net *n, int kind, int step)
{
    t_rng r = t_rng_seed(500 + (uint64_t)step);
    t_fill_uniform(&r, n->x, -1.0, 1.0);
    t_fill_uniform(&r, n->y, -0.5, 0.5);
    const float base = kind == SGD_MOMENTUM ? 0.05f : 0.01f;
    cr_assert_eq(mt_optim_set_lr(n->opt, mt_lr_cosine(base, step, 2 * STEPS, 0.0f)), MT_OK);
}

static void expect_same_state(const char *what, const net *planned, const net *eager)
{
    const int buffers = mt_optim_state_buffers(eager->opt);
    cr_assert_eq(mt_optim_state_buffers(planned->opt), buffers);
    for (int i = 0; i < eager->params.count; i++) {
        const int64_t numel = mt_numel(eager->params.items[i]);
        float *pb[3] = {NULL}, *eb[3] = {NULL};
        for (int b = 0; b < buffers; b++) {
            pb[b] = malloc(sizeof(float) * (size_t)numel);
            eb[b] = malloc(sizeof(float) * (size_t)numel);
            cr_assert(pb[b] && eb[b]);
        }
        int64_t ps = -1, es = -2;
        cr_assert_eq(mt_optim_state_get(planned->opt, i, &ps, pb), MT_OK);
        cr_assert_eq(mt_optim_state_get(eager->opt, i, &es, eb), MT_OK);
        cr_assert_eq(ps, es, "%s: parameter %d has taken %lld steps planned, %lld eager", what, i,
                     (long long)ps, (long long)es);
        for (int b = 0; b < buffers; b++) {
            t_expect_bitwise(what, pb[b], eb[b], numel);
            free(pb[b]);
            free(eb[b]);
        }
    }
}

Test(plan_nn, optimisers_with_dropout_bitwise_equal_to_eager_steps)
{
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        for (int kind = 0; kind < KINDS; kind++)
            for (int zero_first = 0; zero_first <= 1; zero_first++) {
                char what[96];
                snprintf(what, sizeof what, "%s, %d thread(s), zero_grad %s", kind_name(kind),
                         threads, zero_first ? "first" : "last");
                net eager, planned;
                net_init(&eager, kind, zero_first);
                net_init(&planned, kind, zero_first);
                mt_plan *plan = NULL;
                for (int step = 0; step < STEPS; step++) {
                    net_prepare(&eager, kind, step);
                    cr_assert_eq(net_step(&eager), MT_OK, "%s", mt_last_error());
                    net_prepare(&planned, kind, step);
                    if (step == 0) {
                        cr_assert_eq(mt_plan_capture(net_step, &planned, &plan), MT_OK, "%s: %s",
                                     what, mt_last_error());
                    } else {
                        mt_memory_stats before, after;
                        mt_memory_get_stats(&before);
                        cr_assert_eq(mt_plan_run(plan), MT_OK, "%s: %s", what, mt_last_error());
                        mt_memory_get_stats(&after);
                        cr_assert_eq(after.live_tensors, before.live_tensors, "a run created tensors");
                        cr_assert_eq(after.bytes_in_use, before.bytes_in_use);
                    }
                    float le = mt_item(eager.loss), lp = mt_item(planned.loss);
                    cr_assert(memcmp(&le, &lp, sizeof le) == 0, "%s, step %d: loss %.9g planned, %.9g eager",
                              what, step, (double)lp, (double)le);
                }
                for (int i = 0; i < eager.params.count; i++)
                    expect_same_tensor(what, planned.params.items[i], eager.params.items[i]);
                expect_same_state(what, &planned, &eager);
                cr_assert_eq(planned.d1.calls, STEPS, "%s: every run draws the layer's next mask", what);
                cr_assert_eq(planned.d2.calls, eager.d2.calls);
                mt_plan_free(plan);
                net_free(&planned);
                net_free(&eager);
            }
    }
    mt_set_num_threads(0);
}

/* ---- Adam against its formula ---- */

typedef struct tiny {
    mt_tensor *w;
    mt_params params;
    mt_optimizer *opt;
} tiny;

enum { TINY = 3 };
static const float tiny_start[TINY] = {0.75f, -1.5f, 0.125f};

static void tiny_init(tiny *t, float lr)
{
    *t = (tiny){mt_from_data(MT_DIMS(TINY), tiny_start), {0}, NULL};
    cr_assert(t->w);
    mt_set_requires_grad(t->w, true);
    cr_assert_eq(mt_params_add(&t->params, t->w), MT_OK);
    mt_adam_options o = mt_adam_defaults();
    o.lr = lr;
    t->opt = mt_optim_adam(&t->params, o);
    cr_assert(t->opt);
}

static void tiny_free(tiny *t)
{
    if (t->opt) mt_optim_free(t->opt);
    mt_params_free(&t->params);
    mt_release(t->w);
}

/* loss = sum(w * w): gradient 2 w. Gradients zeroed first, so the ones of the previous run are
 * released (they are the plan's kept outputs). */
static mt_status tiny_step(void *context)
{
    tiny *t = context;
    mt_optim_zero_grad(t->opt);
    mt_scope s = mt_scope_begin();
    mt_status status = mt_backward(mt_sum_all(mt_mul(t->w, t->w)));
    if (status == MT_OK) status = mt_optim_step(t->opt);
    mt_scope_end(s);
    return status;
}

Test(plan_nn, adam_steps_of_a_plan_follow_the_formula)
{
    const float lr = 0.1f;
    tiny t;
    tiny_init(&t, lr);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(tiny_step, &t, &plan), MT_OK, "%s", mt_last_error()); /* step 1 */
    cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());                   /* step 2 */

    /* the formula in double, with the options as the float values the optimiser holds */
    const double b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, rate = lr;
    double expected[TINY], m[TINY], v[TINY], tol[TINY];
    for (int i = 0; i < TINY; i++) {
        double w = tiny_start[i];
        m[i] = v[i] = 0.0;
        for (int step = 1; step <= 2; step++) {
            const double g = 2.0 * w;
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            const double denom = sqrt(v[i]) / sqrt(1.0 - pow(b2, step)) + eps;
            w -= rate / (1.0 - pow(b1, step)) * m[i] / denom;
        }
        expected[i] = w;
        /* Each step evaluates in float: the gradient (exact: times 2), m and v (3 roundings
         * each), the two bias-correction scalars (rounded from double once each), sqrt, divide,
         * add eps, divide, multiply and subtract: at most 16 roundings of relative size u = 2^-24
         * on an update of size <= lr * |m / denom| (<= lr * 1.2 here: |m| <= sqrt(v) up to the
         * bias corrections), plus the rounding of w itself. Step 2 also inherits step 1's error
         * through its gradient; Adam's direction m / sqrt(v) is invariant to the scale of g and
         * changes by at most ~2 relative units per unit of relative change in g. Bound: two steps
         * of (|w| + 16 * 1.2 lr) u, doubled for that propagation. */
        tol[i] = 2.0 * 2.0 * (fabs(w) + fabs(tiny_start[i]) + 16 * 1.2 * rate) * 0x1p-24;
    }
    t_expect_close_each("w after two Adam steps (capture + one run)", t.w, expected, tol);

    int64_t steps = 0;
    float mb[TINY], vb[TINY];
    float *buffers[2] = {mb, vb};
    cr_assert_eq(mt_optim_state_get(t.opt, 0, &steps, buffers), MT_OK);
    cr_assert_eq(steps, 2, "the run advanced the live optimiser's step count");
    for (int i = 0; i < TINY; i++) {
        /* m and v: two updates of at most 4 roundings each (the rounded weight, the product, the
         * difference or the square, the sum) on values <= |g1| = 2 |w0| and g1^2 (|g2| <= |g1|
         * here): 8 u |g1| and 8 u g1^2; times 4 for step 2's gradient, which carries step 1's
         * error in w (at most 2 tol[i], itself a few u |g1|). */
        const double g1 = 2.0 * fabs(tiny_start[i]);
        cr_assert(fabs(mb[i] - m[i]) <= 4 * 8 * g1 * 0x1p-24, "m[%d] %.9g vs %.9g", i, (double)mb[i], m[i]);
        cr_assert(fabs(vb[i] - v[i]) <= 4 * 8 * g1 * g1 * 0x1p-24, "v[%d] %.9g vs %.9g", i, (double)vb[i], v[i]);
    }
    mt_plan_free(plan);
    tiny_free(&t);
}

/* ---- an optimiser freed by the caller, or by the step ---- */

Test(plan_nn, optimiser_freed_by_the_caller_refuses_to_run_and_writes_nothing)
{
    tiny t;
    tiny_init(&t, 0.1f);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(tiny_step, &t, &plan), MT_OK, "%s", mt_last_error());
    cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
    float *w_before = t_floats(t.w);
    mt_scope s = mt_scope_begin();
    float *g_before = t_floats(mt_grad(t.w));
    mt_scope_end(s);

    mt_optim_free(t.opt);
    t.opt = NULL;
    cr_assert_eq(mt_plan_run(plan), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_plan_run");
    cr_assert(strstr(mt_last_error(), "mt_optim_step") && strstr(mt_last_error(), "freed"), "%s",
              mt_last_error());
    float *w_after = t_floats(t.w);
    s = mt_scope_begin();
    float *g_after = t_floats(mt_grad(t.w));
    mt_scope_end(s);
    t_expect_bitwise("parameter after a refused run", w_after, w_before, TINY);
    t_expect_bitwise("gradient after a refused run", g_after, g_before, TINY);
    free(w_before);
    free(w_after);
    free(g_before);
    free(g_after);
    mt_plan_free(plan); /* the last hold on the freed optimiser: ASan reports a leak otherwise */
    tiny_free(&t);
}

static mt_status freeing_step(void *context)
{
    tiny *t = context;
    mt_status status = tiny_step(t);
    mt_optim_free(t->opt);
    t->opt = NULL;
    return status;
}

Test(plan_nn, optimiser_freed_inside_the_step_fails_the_capture)
{
    tiny t;
    tiny_init(&t, 0.1f);
    mt_plan *plan = (mt_plan *)&plan;
    cr_assert_eq(mt_plan_capture(freeing_step, &t, &plan), MT_ERR_INVALID_ARG);
    cr_assert_null(plan);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_plan_capture");
    cr_assert(strstr(mt_last_error(), "freed"), "%s", mt_last_error());
    tiny_free(&t);
}

Test(plan_nn, trace_shows_the_optimiser_step_once)
{
    tiny t;
    tiny_init(&t, 0.1f);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(tiny_step, &t, &plan), MT_OK, "%s", mt_last_error());
    t_trace tr;
    t_trace_begin(&tr);
    cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
    char *text = t_trace_end(&tr);
    int hooks = 0;
    for (const char *p = text; (p = strstr(p, "op=mt_optim_step ")); p++) hooks++;
    cr_assert_eq(hooks, 1, "trace:\n%s", text);
    cr_assert(strstr(text, "path=hook"), "%s", text);
    free(text);
    mt_plan_free(plan);
    tiny_free(&t);
}

static void reset_allocations(void) { mt_debug_fail_allocations_after(-1); }

Test(plan_nn, allocation_failures_while_capturing_an_optimiser_step_fail_cleanly,
     .fini = reset_allocations)
{
    int failures = 0;
    const int64_t live = t_live_tensors();
    for (int64_t budget = 0; budget < 20000; budget++) {
        net n;
        net_init(&n, ADAM, false);
        net_prepare(&n, ADAM, 0);
        mt_plan *plan = NULL;
        mt_debug_fail_allocations_after(budget);
        mt_status status = mt_plan_capture(net_step, &n, &plan);
        reset_allocations();
        if (status == MT_OK) {
            cr_assert(plan);
            cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
            mt_plan_free(plan);
            net_free(&n);
            break;
        }
        failures++;
        cr_assert_null(plan);
        cr_assert(strstr(mt_last_error(), ":"), "%s", mt_last_error());
        net_free(&n);
        cr_assert_eq(t_live_tensors(), live, "budget %lld: a failed capture left tensors", (long long)budget);
    }
    cr_assert_gt(failures, 10);
}

/* ---- an optimiser over many parameters (its step's views no longer fit on the stack) ---- */

enum { MANY = 21 };

typedef struct many {
    mt_tensor *p[MANY];
    mt_params params;
    mt_optimizer *opt;
} many;

static void many_init(many *m)
{
    *m = (many){0};
    t_rng r = t_rng_seed(31);
    for (int i = 0; i < MANY; i++) {
        m->p[i] = mt_zeros(MT_DIMS(2, 3));
        cr_assert(m->p[i]);
        t_fill_uniform(&r, m->p[i], -1.0, 1.0);
        mt_set_requires_grad(m->p[i], true);
        cr_assert_eq(mt_params_add(&m->params, m->p[i]), MT_OK);
    }
    mt_sgd_options o = mt_sgd_defaults();
    o.lr = 0.1f;
    o.momentum = 0.5f;
    m->opt = mt_optim_sgd(&m->params, o);
    cr_assert(m->opt);
}

static void many_free(many *m)
{
    mt_optim_free(m->opt);
    mt_params_free(&m->params);
    for (int i = 0; i < MANY; i++) mt_release(m->p[i]);
}

/* loss = sum_i sum(p_i^3): every parameter gets a gradient (3 p_i^2). */
static mt_status many_step(void *context)
{
    many *m = context;
    mt_scope s = mt_scope_begin();
    mt_tensor *loss = NULL;
    for (int i = 0; i < MANY; i++) {
        mt_tensor *term = mt_sum_all(mt_mul(mt_mul(m->p[i], m->p[i]), m->p[i]));
        loss = loss ? mt_add(loss, term) : term;
    }
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) status = mt_optim_step(m->opt);
    mt_scope_end(s);
    mt_optim_zero_grad(m->opt);
    return status;
}

Test(plan_nn, optimiser_over_many_parameters_bitwise_equal_and_all_or_nothing, .fini = reset_allocations)
{
    many eager, planned;
    many_init(&eager);
    many_init(&planned);
    mt_plan *plan = NULL;
    for (int step = 0; step < 3; step++) {
        cr_assert_eq(many_step(&eager), MT_OK, "%s", mt_last_error());
        if (step == 0) cr_assert_eq(mt_plan_capture(many_step, &planned, &plan), MT_OK, "%s", mt_last_error());
        else cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
    }
    for (int i = 0; i < MANY; i++) expect_same_tensor("parameter", planned.p[i], eager.p[i]);
    mt_plan_free(plan);

    /* an eager step whose working array cannot be allocated changes nothing */
    mt_scope s = mt_scope_begin();
    mt_tensor *loss = NULL;
    for (int i = 0; i < MANY; i++) {
        mt_tensor *term = mt_sum_all(eager.p[i]);
        loss = loss ? mt_add(loss, term) : term;
    }
    cr_assert_eq(mt_backward(loss), MT_OK);
    mt_scope_end(s);
    float *before[MANY];
    for (int i = 0; i < MANY; i++) before[i] = t_floats(eager.p[i]);
    mt_debug_fail_allocations_after(0);
    mt_status status = mt_optim_step(eager.opt);
    reset_allocations();
    cr_assert_eq(status, MT_ERR_NO_MEMORY);
    t_expect_error(MT_ERR_NO_MEMORY, "mt_optim_step");
    for (int i = 0; i < MANY; i++) {
        float *now = t_floats(eager.p[i]);
        t_expect_bitwise("parameter after a failed step", now, before[i], 6);
        free(now);
        free(before[i]);
    }
    many_free(&planned);
    many_free(&eager);
}

/* ---- dropout ---- */

enum { DROP_N = 1000, DROP_RUNS = 4 };

typedef struct drop {
    mt_dropout_layer layer;
    mt_tensor *x, *out;
    bool fixed; /* mt_dropout with a fixed seed instead of the layer */
} drop;

static mt_status drop_step(void *context)
{
    drop *d = context;
    if (d->out) mt_release(d->out);
    d->out = NULL;
    mt_scope s = mt_scope_begin();
    mt_tensor *y = d->fixed ? mt_dropout(d->x, 0.4f, true, 99) : mt_dropout_layer_forward(&d->layer, d->x);
    if (y) d->out = mt_retain(y);
    mt_scope_end(s);
    return d->out ? MT_OK : mt_last_status();
}

static void drop_init(drop *d, bool fixed)
{
    *d = (drop){.fixed = fixed, .x = mt_zeros(MT_DIMS(DROP_N))};
    cr_assert(d->x);
    cr_assert_eq(mt_dropout_layer_init(&d->layer, 0.4f, 2024), MT_OK);
    t_rng r = t_rng_seed(8);
    t_fill_uniform(&r, d->x, 0.5, 2.0); /* no zeros: a dropped element is told apart by its 0 */
}

static void drop_free(drop *d)
{
    mt_release(d->x);
    if (d->out) mt_release(d->out);
}

/* Each output element is 0 or x * (1 / (1 - p)) rounded to float: one float product. */
static void expect_mask_values(const char *what, const drop *d, const float *out)
{
    const float scale = (float)(1.0 / (1.0 - (double)0.4f));
    float *x = t_floats(d->x);
    for (int i = 0; i < DROP_N; i++)
        cr_assert(out[i] == 0.0f || out[i] == x[i] * scale, "%s: element %d is %.9g for x %.9g", what,
                  i, (double)out[i], (double)x[i]);
    free(x);
}

Test(plan_nn, dropout_layer_draws_its_next_mask_every_run_as_eager_calls_do)
{
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        drop eager, planned;
        drop_init(&eager, false);
        drop_init(&planned, false);
        float *outs[DROP_RUNS];
        mt_plan *plan = NULL;
        for (int k = 0; k < DROP_RUNS; k++) {
            cr_assert_eq(drop_step(&eager), MT_OK, "%s", mt_last_error());
            if (k == 0) cr_assert_eq(mt_plan_capture(drop_step, &planned, &plan), MT_OK, "%s", mt_last_error());
            else cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
            outs[k] = t_floats(planned.out);
            float *e = t_floats(eager.out);
            t_expect_bitwise("layer output", outs[k], e, DROP_N);
            expect_mask_values("layer output", &planned, outs[k]);
            free(e);
        }
        cr_assert_eq(planned.layer.calls, DROP_RUNS);
        cr_assert_eq(eager.layer.calls, DROP_RUNS);
        for (int a = 0; a < DROP_RUNS; a++)
            for (int b = a + 1; b < DROP_RUNS; b++)
                cr_assert(memcmp(outs[a], outs[b], sizeof(float) * DROP_N) != 0,
                          "runs %d and %d drew the same mask", a, b);
        for (int k = 0; k < DROP_RUNS; k++) free(outs[k]);
        mt_plan_free(plan);
        drop_free(&planned);
        drop_free(&eager);
    }
    mt_set_num_threads(0);
}

Test(plan_nn, dropout_with_a_fixed_seed_draws_the_same_mask_every_run)
{
    drop eager, planned;
    drop_init(&eager, true);
    drop_init(&planned, true);
    cr_assert_eq(drop_step(&eager), MT_OK, "%s", mt_last_error());
    float *e = t_floats(eager.out);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(drop_step, &planned, &plan), MT_OK, "%s", mt_last_error());
    for (int k = 0; k < 3; k++) {
        if (k > 0) {
            /* clobber the output so a run that wrote nothing would be seen */
            cr_assert_eq(mt_copy_from(planned.out, (float[DROP_N]){0}, DROP_N), MT_OK);
            cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
        }
        float *p = t_floats(planned.out);
        t_expect_bitwise("fixed-seed output", p, e, DROP_N);
        free(p);
    }
    expect_mask_values("fixed-seed output", &planned, e);
    cr_assert_eq(planned.layer.calls, 0);
    free(e);
    mt_plan_free(plan);
    drop_free(&planned);
    drop_free(&eager);
}

Test(plan_nn, dropout_layer_in_eval_mode_or_with_another_p_refuses_to_run)
{
    drop d;
    drop_init(&d, false);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(drop_step, &d, &plan), MT_OK, "%s", mt_last_error());
    float *before = t_floats(d.out);
    cr_assert_eq(mt_dropout_layer_train(&d.layer, false), MT_OK);
    cr_assert_eq(mt_plan_run(plan), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_plan_run");
    cr_assert(strstr(mt_last_error(), "mt_dropout_layer_forward") && strstr(mt_last_error(), "eval"),
              "%s", mt_last_error());
    cr_assert_eq(d.layer.calls, 1, "a refused run draws no mask");
    float *after = t_floats(d.out);
    t_expect_bitwise("output after a refused run", after, before, DROP_N);
    free(after);

    d.layer.p = 0.5f;
    cr_assert_eq(mt_dropout_layer_train(&d.layer, true), MT_OK);
    cr_assert_eq(mt_plan_run(plan), MT_ERR_INVALID_ARG);
    cr_assert(strstr(mt_last_error(), "p changed"), "%s", mt_last_error());

    d.layer.p = 0.4f; /* as captured: runs again, with the layer's next mask */
    cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
    cr_assert_eq(d.layer.calls, 2);
    after = t_floats(d.out);
    cr_assert(memcmp(after, before, sizeof(float) * DROP_N) != 0);
    free(after);
    free(before);
    mt_plan_free(plan);
    drop_free(&d);
}
