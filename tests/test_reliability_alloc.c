/* Allocation-failure sweeps. mt_debug_fail_allocations_after(n) lets n allocations succeed and
 * fails every later one; for n = 0, 1, 2, ... until the work completes:
 *   - every failure surfaces as MT_ERR_NO_MEMORY: the failing call returns NULL or the status,
 *     with a message "<function>: <description>";
 *   - nothing crashes (ASan/UBSan watch every sweep);
 *   - once the hook is reset and the scope ended, the live tensor count is back where it started
 *     (LeakSanitizer checks the rest at exit);
 *   - a failed step does not corrupt the model: parameters are unchanged or equal to a
 *     successful step's values, no partial gradient is left behind, and retrying the step gives
 *     bitwise the reference result (error.h: "Nothing the caller passed in is modified when a
 *     call fails").
 * Contract violations are collected over the whole sweep (t_violation) and reported together at
 * the end, so one run shows every failing allocation point, not just the first. */
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_LIMIT 20000 /* no sweep here needs more than a few hundred allocations */

static void reset_hook(void) { mt_debug_fail_allocations_after(-1); }

/* Records a violation unless the last error is MT_ERR_NO_MEMORY named "<fn>: ..." (fn NULL: any
 * public-looking "mt_<name>: ..."). */
#define RETURNED_NULL ((mt_status)-1) /* for calls returning a tensor */

/* Functions whose allocation failure was reported as "mt_scope: ..." (aggregated). */
static int scope_named;
static char scope_named_list[512];

static void check_no_memory(const char *what, int64_t n, mt_status returned, const char *fn)
{
    bool returned_ok = returned == RETURNED_NULL || returned == MT_ERR_NO_MEMORY;
    if (!returned_ok || mt_last_status() != MT_ERR_NO_MEMORY) {
        t_violation("%s, n=%lld: returned %s, recorded %s: \"%s\" (expected out of memory)", what,
                    (long long)n, returned == RETURNED_NULL ? "NULL" : mt_strerror(returned),
                    mt_strerror(mt_last_status()), mt_last_error());
    } else if (fn && !t_error_names(fn) && strncmp(mt_last_error(), "mt_scope: ", 10) == 0) {
        if (scope_named++ < 12) {
            size_t used = strlen(scope_named_list);
            snprintf(scope_named_list + used, sizeof scope_named_list - used, "%s%s",
                     used ? ", " : "", what);
        }
    } else if (!t_error_names(fn)) {
        t_violation("%s, n=%lld: message \"%s\" does not start with \"%s: \"", what,
                    (long long)n, mt_last_error(), fn ? fn : "mt_<function>");
    }
}

/* ---- parameters: snapshots and gradients ---- */

typedef struct snapshot {
    int count;
    float *values[8];
    int64_t numel[8];
} snapshot;

static snapshot take_snapshot(const mt_params *params)
{
    snapshot s = {.count = params->count};
    cr_assert_leq(params->count, 8);
    for (int i = 0; i < params->count; i++) {
        s.numel[i] = mt_numel(params->items[i]);
        s.values[i] = malloc(sizeof(float) * (size_t)s.numel[i]);
        cr_assert_not_null(s.values[i]);
        cr_assert_eq(mt_copy_to(params->items[i], s.values[i], s.numel[i]), MT_OK);
    }
    return s;
}

static bool snapshot_equal(const snapshot *a, const snapshot *b)
{
    if (a->count != b->count) return false;
    for (int i = 0; i < a->count; i++)
        if (a->numel[i] != b->numel[i] ||
            memcmp(a->values[i], b->values[i], sizeof(float) * (size_t)a->numel[i]) != 0)
            return false;
    return true;
}

static void snapshot_free(snapshot *s)
{
    for (int i = 0; i < s->count; i++) free(s->values[i]);
    s->count = 0;
}

/* How many parameters hold a gradient. */
static int grads_held(const mt_params *params)
{
    int held = 0;
    for (int i = 0; i < params->count; i++) {
        mt_scope s = mt_scope_begin();
        held += mt_grad(params->items[i]) != NULL;
        mt_scope_end(s);
    }
    mt_clear_error();
    return held;
}

/* ---- the models ---- */

#define IN 2
#define HIDDEN 4
#define POINTS 8
#define RATE 0.5f
#define MODEL_SEED 11

static const float xs[POINTS * IN] = {0.1f, 0.9f, 0.3f, 0.2f, 0.8f, 0.7f, 0.5f, 0.4f,
                                      0.05f, 0.6f, 0.95f, 0.15f, 0.35f, 0.85f, 0.65f, 0.25f};
static const float ys[POINTS] = {1, 0, 1, 0, 1, 1, 0, 0};

static void make_model(mt_mlp *model)
{
    cr_assert_eq(mt_mlp_init(model, IN, HIDDEN, MODEL_SEED), MT_OK, "%s", mt_last_error());
}

/* One forward + backward + SGD step of mt_mlp (2 -> 4 -> 4 -> 1) in its own scope. The hook may
 * be armed: returns the first failure's status (MT_OK when the step completed). The hook is
 * reset and the scope ended before returning. */
static mt_status mlp_step(void *m)
{
    mt_mlp *model = m;
    mt_scope s = mt_scope_begin();
    if (s.depth < 0) {
        reset_hook();
        return mt_last_status();
    }
    mt_tensor *x = mt_from_data(MT_DIMS(POINTS, IN), xs);
    mt_tensor *y = mt_from_data(MT_DIMS(POINTS, 1), ys);
    mt_tensor *loss = mt_loss_nll_sigmoid(mt_mlp_forward(model, x), y);
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) status = mt_sgd_step(&model->params, RATE);
    reset_hook();
    cr_assert_eq(mt_scope_end(s), MT_OK, "%s", mt_last_error());
    return status;
}

/* The same kind of step from public primitives: mt_linear + mt_relu + mt_sigmoid +
 * mt_loss_nll_sigmoid + mt_backward + mt_sgd_step on parameters of its own. */
typedef struct manual_model {
    mt_tensor *w1, *b1, *w2, *b2;
    mt_params params;
} manual_model;

static void make_manual(void *p)
{
    manual_model *m = p;
    *m = (manual_model){0};
    mt_tensor *all[4] = {mt_rand_uniform(MT_DIMS(IN, HIDDEN), -0.5f, 0.5f, 21),
                         mt_full(MT_DIMS(HIDDEN), 0.1f),
                         mt_rand_uniform(MT_DIMS(HIDDEN, 1), -0.5f, 0.5f, 22),
                         mt_full(MT_DIMS(1), 0.1f)};
    for (int i = 0; i < 4; i++) {
        cr_assert_not_null(all[i], "%s", mt_last_error());
        cr_assert_eq(mt_set_requires_grad(all[i], true), MT_OK);
        cr_assert_eq(mt_params_add(&m->params, all[i]), MT_OK);
        cr_assert_eq(mt_release(all[i]), MT_OK); /* the list keeps them */
    }
    m->w1 = all[0], m->b1 = all[1], m->w2 = all[2], m->b2 = all[3];
}

static mt_status manual_step(void *p)
{
    manual_model *m = p;
    mt_scope s = mt_scope_begin();
    if (s.depth < 0) {
        reset_hook();
        return mt_last_status();
    }
    mt_tensor *x = mt_from_data(MT_DIMS(POINTS, IN), xs);
    mt_tensor *y = mt_from_data(MT_DIMS(POINTS, 1), ys);
    mt_tensor *h = mt_relu(mt_linear(x, m->w1, m->b1));
    mt_tensor *prob = mt_sigmoid(mt_linear(h, m->w2, m->b2));
    mt_tensor *loss = mt_loss_nll_sigmoid(prob, y);
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) status = mt_sgd_step(&m->params, RATE);
    reset_hook();
    cr_assert_eq(mt_scope_end(s), MT_OK, "%s", mt_last_error());
    return status;
}

typedef struct model_ops {
    void (*make)(void *model);
    void (*free_)(void *model);
    mt_status (*step)(void *model);
    const mt_params *(*params)(void *model);
} model_ops;

static void mlp_make(void *m) { make_model(m); }
static void mlp_free(void *m) { mt_mlp_free(m); }
static const mt_params *mlp_params(void *m) { return &((mt_mlp *)m)->params; }
static void manual_free(void *m) { mt_params_free(&((manual_model *)m)->params); }
static const mt_params *manual_params(void *m) { return &((manual_model *)m)->params; }

/* The sweep: for each n, a fresh model, one step with the hook armed after n allocations. */
static int64_t sweep_model(const model_ops *ops, void *model)
{
    const int64_t live_before_model = t_live_tensors();
    ops->make(model);
    snapshot before = take_snapshot(ops->params(model));
    cr_assert_eq(ops->step(model), MT_OK, "reference step: %s", mt_last_error());
    snapshot after = take_snapshot(ops->params(model));
    cr_assert_not(snapshot_equal(&before, &after), "the reference step changes the parameters");
    ops->free_(model);
    cr_assert_eq(t_live_tensors(), live_before_model);

    int64_t n, failures = 0;
    for (n = 0; n < SWEEP_LIMIT; n++) {
        ops->make(model);
        const mt_params *params = ops->params(model);
        const int64_t live = t_live_tensors();
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = ops->step(model); /* resets the hook, ends its scope */
        cr_assert_eq(mt_scope_depth(), 0, "n=%lld: a scope was left open", (long long)n);
        snapshot now = take_snapshot(params);
        if (status == MT_OK) {
            if (!snapshot_equal(&now, &after))
                t_violation("n=%lld: the completed step differs from the reference", (long long)n);
            snapshot_free(&now);
            ops->free_(model);
            break;
        }
        failures++;
        check_no_memory("failed step", n, status, NULL);
        char message[160];
        snprintf(message, sizeof message, "%s", mt_last_error());
        int held = grads_held(params);
        if (t_live_tensors() != live)
            t_violation("n=%lld (\"%s\"): %lld tensors alive after the failed step and its scope, "
                        "%lld before (%d parameter(s) hold a partial gradient)",
                        (long long)n, message, (long long)t_live_tensors(), (long long)live, held);
        else if (held)
            t_violation("n=%lld: %d parameter(s) keep a gradient after the failed step", (long long)n,
                        held);
        bool unchanged = snapshot_equal(&now, &before);
        if (!unchanged && !snapshot_equal(&now, &after))
            t_violation("n=%lld: the failed step left parameters that are neither the old values "
                        "nor the step's result", (long long)n);
        snapshot_free(&now);
        if (unchanged) { /* retrying on the same model (hook off) gives exactly the reference */
            mt_clear_error();
            cr_assert_eq(ops->step(model), MT_OK, "n=%lld: retry: %s", (long long)n,
                         mt_last_error());
            snapshot retried = take_snapshot(params);
            if (!snapshot_equal(&retried, &after))
                t_violation("n=%lld: the step retried after the failure differs from the "
                            "reference step", (long long)n);
            snapshot_free(&retried);
        }
        ops->free_(model);
        if (t_live_tensors() != live_before_model)
            t_violation("n=%lld: the model's tensors outlive it", (long long)n);
    }
    snapshot_free(&before);
    snapshot_free(&after);
    cr_assert_lt(n, SWEEP_LIMIT, "the step completes once enough allocations succeed");
    cr_assert_gt(failures, 10, "a step makes many allocations (%lld)", (long long)failures);
    cr_log_info("%lld clean failure points before the step completed", (long long)failures);
    return failures;
}

Test(alloc_sweep, mlp_step, .fini = reset_hook)
{
    const int64_t live = t_live_tensors();
    mt_mlp model;
    model_ops ops = {mlp_make, mlp_free, mlp_step, mlp_params};
    sweep_model(&ops, &model);
    cr_assert_eq(t_live_tensors(), live, "every model freed");
    t_violations_check("mt_mlp step under allocation failures");
}

Test(alloc_sweep, manual_step, .fini = reset_hook)
{
    const int64_t live = t_live_tensors();
    manual_model model;
    model_ops ops = {make_manual, manual_free, manual_step, manual_params};
    sweep_model(&ops, &model);
    cr_assert_eq(t_live_tensors(), live, "every model freed");
    t_violations_check("linear/relu/sigmoid step under allocation failures");
}

/* ---- backward alone: the leaves' gradients are untouched by a failed backward ---- */

static void grads_of(mt_tensor *const *leaves, int count, float *out /* count * 12 */)
{
    for (int i = 0; i < count; i++) {
        mt_scope s = mt_scope_begin();
        mt_tensor *g = mt_grad(leaves[i]);
        cr_assert_not_null(g, "%s", mt_last_error());
        cr_assert_eq(mt_copy_to(g, out + 12 * i, 12), MT_OK);
        mt_scope_end(s);
    }
}

static mt_tensor *leaf(mt_tensor *t)
{
    cr_assert_not_null(t, "%s", mt_last_error());
    cr_assert_eq(mt_set_requires_grad(t, true), MT_OK);
    return t;
}

Test(alloc_sweep, backward_keeps_existing_grads, .fini = reset_hook)
{
    enum { LEAVES = 3 };
    mt_tensor *leaves[LEAVES] = {leaf(mt_rand_uniform(MT_DIMS(3, 4), -1, 1, 1)),
                                 leaf(mt_rand_uniform(MT_DIMS(3, 4), -1, 1, 2)),
                                 leaf(mt_rand_uniform(MT_DIMS(3, 4), 0.5f, 2, 3))};
    mt_tensor *a = leaves[0], *b = leaves[1], *pos = leaves[2];
    mt_scope graph = mt_scope_begin();
    /* a graph reaching every leaf through several functions, one of them broadcast */
    mt_tensor *loss = mt_sum_all(mt_add(mt_mul(mt_exp(a), mt_log(pos)), mt_sum(mt_mul(b, a), 0)));
    cr_assert_not_null(loss, "%s", mt_last_error());
    cr_assert_eq(mt_backward(loss), MT_OK);
    float first[LEAVES * 12], twice[LEAVES * 12], now[LEAVES * 12];
    grads_of(leaves, LEAVES, first);
    cr_assert_eq(mt_backward(loss), MT_OK); /* accumulates: 2x */
    grads_of(leaves, LEAVES, twice);

    int64_t n;
    for (n = 0; n < SWEEP_LIMIT; n++) {
        /* gradients present before the call: those of one backward */
        for (int i = 0; i < LEAVES; i++) cr_assert_eq(mt_zero_grad(leaves[i]), MT_OK);
        cr_assert_eq(mt_backward(loss), MT_OK);
        const int64_t live = t_live_tensors();
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_backward(loss);
        reset_hook();
        if (t_live_tensors() != live)
            t_violation("n=%lld: %lld tensors alive, %lld before", (long long)n,
                        (long long)t_live_tensors(), (long long)live);
        grads_of(leaves, LEAVES, now);
        if (status == MT_OK) {
            cr_assert(memcmp(now, twice, sizeof now) == 0, "the completed backward accumulates");
            break;
        }
        check_no_memory("mt_backward", n, status, "mt_backward");
        for (int i = 0; i < LEAVES * 12; i++)
            if (memcmp(&now[i], &first[i], sizeof(float)) != 0) {
                t_violation("n=%lld: the failed mt_backward changed leaf %d's gradient (element "
                            "%d: %g, was %g)", (long long)n, i / 12, i % 12, now[i], first[i]);
                break;
            }
    }
    cr_assert_gt(n, 1);
    cr_assert_eq(mt_scope_end(graph), MT_OK);
    for (int i = 0; i < LEAVES; i++) mt_release(leaves[i]);
    t_violations_check("mt_backward under allocation failures");
}

Test(alloc_sweep, backward_with, .fini = reset_hook)
{
    mt_tensor *a = leaf(mt_rand_uniform(MT_DIMS(3, 4), -1, 1, 1));
    mt_tensor *row = leaf(mt_rand_uniform(MT_DIMS(4), -1, 1, 2));
    mt_scope graph = mt_scope_begin();
    /* (4, 3) @ (3, 3) through expand, permute and narrow views */
    mt_tensor *out = mt_matmul(mt_permute(mt_expand(row, MT_DIMS(3, 4)), (const int[]){1, 0}),
                               mt_narrow(a, 1, 0, 3));
    cr_assert_not_null(out, "%s", mt_last_error());
    mt_tensor *seed = mt_ones(MT_DIMS(4, 3));
    int64_t n;
    for (n = 0; n < SWEEP_LIMIT; n++) {
        const int64_t live = t_live_tensors();
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_backward_with(out, seed);
        reset_hook();
        if (status == MT_OK) break;
        check_no_memory("mt_backward_with", n, status, "mt_backward_with");
        mt_tensor *both[2] = {a, row};
        for (int i = 0; i < 2; i++) {
            mt_scope s = mt_scope_begin();
            if (mt_grad(both[i]))
                t_violation("n=%lld: the failed mt_backward_with left a gradient on leaf %d",
                            (long long)n, i);
            mt_scope_end(s);
            mt_zero_grad(both[i]);
        }
        mt_clear_error();
        if (t_live_tensors() != live)
            t_violation("n=%lld: %lld tensors alive, %lld before", (long long)n,
                        (long long)t_live_tensors(), (long long)live);
    }
    cr_assert_gt(n, 1);
    cr_assert_lt(n, SWEEP_LIMIT);
    cr_assert_eq(mt_scope_end(graph), MT_OK);
    mt_release(a);
    mt_release(row);
    t_violations_check("mt_backward_with under allocation failures");
}

/* ---- SGD: a failure must not leave some parameters updated and others not ---- */

/* A parameter that is a strided view (a detached transpose) takes mt_sgd_step's slow path, which
 * allocates a scaled copy of the gradient. */
Test(alloc_sweep, sgd_step_strided_parameter, .fini = reset_hook)
{
    mt_tensor *plain = leaf(mt_rand_uniform(MT_DIMS(3, 2), -1, 1, 1));
    mt_tensor *base = mt_rand_uniform(MT_DIMS(2, 3), -1, 1, 2);
    mt_tensor *view = mt_transpose(base, 0, 1);
    mt_tensor *strided = leaf(mt_detach(view)); /* (3, 2) leaf with strides (1, 3) */
    mt_release(view);
    cr_assert_not(mt_is_contiguous(strided));
    mt_params params = {0};
    cr_assert_eq(mt_params_add(&params, plain), MT_OK);
    cr_assert_eq(mt_params_add(&params, strided), MT_OK);
    snapshot before = take_snapshot(&params);
    int64_t n;
    for (n = 0; n < SWEEP_LIMIT; n++) {
        mt_scope s = mt_scope_begin();
        mt_tensor *sum = mt_add(plain, strided);
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul(sum, sum))), MT_OK, "%s", mt_last_error());
        cr_assert_eq(mt_scope_end(s), MT_OK);
        const int64_t live = t_live_tensors();
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_sgd_step(&params, 0.25f);
        reset_hook();
        if (status == MT_OK) break;
        check_no_memory("mt_sgd_step", n, status, "mt_sgd_step");
        snapshot now = take_snapshot(&params);
        if (!snapshot_equal(&now, &before))
            t_violation("n=%lld: the failed mt_sgd_step updated some parameters", (long long)n);
        snapshot_free(&now);
        if (grads_held(&params) != 2)
            t_violation("n=%lld: the failed mt_sgd_step dropped %d gradient(s)", (long long)n,
                        2 - grads_held(&params));
        else if (t_live_tensors() != live)
            t_violation("n=%lld: tensors left behind", (long long)n);
        mt_params_zero_grad(&params);
        /* start the next round from the same values (parameters: written in no-grad mode) */
        mt_no_grad_begin();
        for (int p = 0; p < 2; p++)
            for (int64_t i = 0; i < 6; i++)
                cr_assert_eq(mt_set(params.items[p], (const int64_t[]){i / 2, i % 2},
                                    before.values[p][i]), MT_OK);
        mt_no_grad_end();
    }
    cr_assert_lt(n, SWEEP_LIMIT);
    snapshot_free(&before);
    mt_params_free(&params);
    mt_release(plain);
    mt_release(strided);
    mt_release(base);
    t_violations_check("mt_sgd_step under allocation failures");
}

/* ---- setup and training functions ---- */

Test(alloc_sweep, mlp_init_and_dataset, .fini = reset_hook)
{
    const int64_t live = t_live_tensors();
    int64_t n;
    for (n = 0; n < SWEEP_LIMIT; n++) {
        mt_mlp model;
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_mlp_init(&model, IN, HIDDEN, MODEL_SEED);
        reset_hook();
        if (status == MT_OK) {
            cr_assert_eq(model.params.count, 6);
            mt_mlp_free(&model);
            break;
        }
        check_no_memory("mt_mlp_init", n, status, NULL);
        if (t_live_tensors() != live)
            t_violation("n=%lld: the failed mt_mlp_init leaves tensors", (long long)n);
    }
    cr_assert_gt(n, 2);
    for (n = 0; n < SWEEP_LIMIT; n++) {
        mt_dataset data = {0};
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_dataset_make(&data, MT_DATASET_SPLIT, 16, 3);
        reset_hook();
        if (status == MT_OK) {
            mt_dataset_free(&data);
            break;
        }
        check_no_memory("mt_dataset_make", n, status, "mt_dataset_make");
        if (data.x || data.n)
            t_violation("n=%lld: the failed mt_dataset_make changed *data", (long long)n);
    }
    cr_assert_gt(n, 0);
    /* mt_linear_layer_init into a parameter list, and mt_params_add growing the list */
    for (n = 0; n < SWEEP_LIMIT; n++) {
        mt_linear_layer layer = {0};
        mt_params list = {0};
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_linear_layer_init(&layer, 3, 2, 1, &list);
        reset_hook();
        if (status == MT_OK) {
            mt_linear_layer_free(&layer);
            mt_params_free(&list);
            break;
        }
        check_no_memory("mt_linear_layer_init", n, status, NULL);
        if (layer.weight || list.count)
            t_violation("n=%lld: the failed mt_linear_layer_init changed its outputs", (long long)n);
        mt_params_free(&list);
        if (t_live_tensors() != live)
            t_violation("n=%lld: the failed mt_linear_layer_init leaves tensors", (long long)n);
    }
    cr_assert_gt(n, 1);
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    mt_params params = {0};
    mt_clear_error();
    mt_debug_fail_allocations_after(0);
    mt_status status = mt_params_add(&params, t);
    reset_hook();
    check_no_memory("mt_params_add", 0, status, "mt_params_add");
    cr_assert_eq(params.count, 0);
    mt_params_free(&params);
    mt_release(t);
    cr_assert_eq(t_live_tensors(), live);
    t_violations_check("setup functions under allocation failures");
}

/* mt_mlp_train_epoch opens its own scopes (the first one allocates the scope stack). */
Test(alloc_sweep, train_epoch, .fini = reset_hook)
{
    mt_dataset data;
    cr_assert_eq(mt_dataset_make(&data, MT_DATASET_SPLIT, 24, 5), MT_OK);
    const mt_train_options options = {.rate = 0.5f, .batch = 8, .seed = 9};
    mt_mlp model;
    make_model(&model);
    snapshot initial = take_snapshot(&model.params);
    mt_epoch_result result;
    cr_assert_eq(mt_mlp_train_epoch(&model, &data, &options, 0, &result), MT_OK, "%s",
                 mt_last_error());
    cr_assert_eq(result.steps, 3);
    snapshot final = take_snapshot(&model.params);
    mt_mlp_free(&model);

    const int64_t live = t_live_tensors();
    int64_t n, partial = 0;
    for (n = 0; n < SWEEP_LIMIT; n++) {
        make_model(&model);
        mt_epoch_result r = {.loss = -1, .steps = -1};
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_mlp_train_epoch(&model, &data, &options, 0, &r);
        reset_hook();
        cr_assert_eq(mt_scope_depth(), 0);
        snapshot now = take_snapshot(&model.params);
        if (status == MT_OK) {
            cr_assert(snapshot_equal(&now, &final), "n=%lld: completed epoch differs", (long long)n);
            cr_assert_eq(r.steps, 3);
            snapshot_free(&now);
            mt_mlp_free(&model);
            break;
        }
        check_no_memory("mt_mlp_train_epoch", n, status, NULL);
        if (r.steps != -1) t_violation("n=%lld: the failed epoch changed *result", (long long)n);
        if (!snapshot_equal(&now, &initial)) partial++; /* earlier steps completed */
        snapshot_free(&now);
        mt_mlp_free(&model);
        if (t_live_tensors() != live)
            t_violation("n=%lld: tensors left behind", (long long)n);
    }
    cr_assert_lt(n, SWEEP_LIMIT);
    cr_assert_gt(partial, 0, "some failures happen after the first step completed");
    snapshot_free(&initial);
    snapshot_free(&final);
    mt_dataset_free(&data);
    t_violations_check("mt_mlp_train_epoch under allocation failures");
}

Test(alloc_sweep, mlp_evaluate, .fini = reset_hook)
{
    mt_mlp model;
    make_model(&model);
    mt_dataset data;
    cr_assert_eq(mt_dataset_make(&data, MT_DATASET_XOR, 10, 1), MT_OK);
    int64_t reference = -1;
    cr_assert_eq(mt_mlp_evaluate(&model, &data, &reference), MT_OK);
    const int64_t live = t_live_tensors();
    int64_t n;
    for (n = 0; n < SWEEP_LIMIT; n++) {
        int64_t correct = -7;
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_mlp_evaluate(&model, &data, &correct);
        reset_hook();
        cr_assert_eq(mt_scope_depth(), 0);
        if (!mt_grad_enabled()) {
            t_violation("n=%lld: no-grad mode left on", (long long)n);
            while (!mt_grad_enabled()) mt_no_grad_end();
        }
        if (t_live_tensors() != live) t_violation("n=%lld: tensors left behind", (long long)n);
        if (status == MT_OK) {
            cr_assert_eq(correct, reference);
            break;
        }
        check_no_memory("mt_mlp_evaluate", n, status, NULL);
        if (correct != -7) t_violation("n=%lld: the failed call wrote *correct", (long long)n);
    }
    cr_assert_gt(n, 1);
    cr_assert_lt(n, SWEEP_LIMIT);
    mt_dataset_free(&data);
    mt_mlp_free(&model);
    t_violations_check("mt_mlp_evaluate under allocation failures");
}

/* ---- one call at a time: every public function returning a tensor ---- */

/* Inputs built before the hook is armed; most require grad, so history is recorded too. */
typedef struct inputs {
    mt_tensor *a;       /* (3, 4) requires grad */
    mt_tensor *b;       /* (3, 4) requires grad */
    mt_tensor *row;     /* (4)    requires grad, broadcasts against a */
    mt_tensor *pos;     /* (3, 4) positive, requires grad */
    mt_tensor *w;       /* (4, 2) requires grad */
    mt_tensor *bias;    /* (2)    requires grad */
    mt_tensor *strided; /* (4, 2, 3): a permuted view sgemm cannot read directly */
    mt_tensor *w3;      /* (3, 2) requires grad */
    mt_tensor *prob;    /* (3, 4) in (0, 1) */
    mt_tensor *label;   /* (3, 4) in {0, 1} */
    mt_tensor *at;      /* transposed (4, 3) view of a */
    mt_tensor *x2;      /* (3, 2) model input */
    mt_tensor *sig;     /* sigmoid(a) */
    mt_mlp model;
} inputs;

static void make_inputs(inputs *in)
{
    in->a = leaf(mt_rand_uniform(MT_DIMS(3, 4), -1, 1, 1));
    in->b = leaf(mt_rand_uniform(MT_DIMS(3, 4), -1, 1, 2));
    in->row = leaf(mt_rand_uniform(MT_DIMS(4), -1, 1, 3));
    in->pos = leaf(mt_rand_uniform(MT_DIMS(3, 4), 0.5f, 2, 4));
    in->w = leaf(mt_rand_uniform(MT_DIMS(4, 2), -1, 1, 5));
    in->bias = leaf(mt_rand_uniform(MT_DIMS(2), -1, 1, 6));
    mt_tensor *base = mt_rand_uniform(MT_DIMS(2, 3, 4), -1, 1, 7);
    in->strided = mt_permute(base, (const int[]){2, 0, 1}); /* strides (1, 12, 4) */
    mt_release(base);
    cr_assert_not(mt_is_contiguous(in->strided));
    in->w3 = leaf(mt_rand_uniform(MT_DIMS(3, 2), -1, 1, 8));
    in->prob = mt_rand_uniform(MT_DIMS(3, 4), 0.1f, 0.9f, 9);
    in->label = mt_gt_scalar(in->prob, 0.5f);
    in->at = mt_transpose(in->a, 0, 1);
    in->x2 = mt_narrow(in->a, 1, 0, 2);
    in->sig = mt_sigmoid(in->a);
    make_model(&in->model);
}

static void free_inputs(inputs *in)
{
    mt_tensor *all[] = {in->a,     in->b,    in->row,   in->pos, in->w,  in->bias, in->strided,
                        in->w3,    in->prob, in->label, in->at,  in->x2, in->sig};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cr_assert_eq(mt_release(all[i]), MT_OK);
    mt_mlp_free(&in->model);
}

typedef mt_tensor *(*tensor_call)(inputs *in);

#define CALL(name, expr)                                                                           \
    static mt_tensor *call_##name(inputs *in)                                                      \
    {                                                                                              \
        (void)in;                                                                                  \
        return expr;                                                                               \
    }

static const int64_t labels3[3] = {0, 2, 1};
static const float data12[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

CALL(zeros, mt_zeros(MT_DIMS(3, 4)))
CALL(ones, mt_ones(MT_DIMS(3, 4)))
CALL(full, mt_full(MT_DIMS(3, 4), 2.5f))
CALL(from_data, mt_from_data(MT_DIMS(3, 4), data12))
CALL(scalar, mt_scalar(1.5f))
CALL(rand_uniform, mt_rand_uniform(MT_DIMS(3, 4), -1, 1, 3))
CALL(rand, mt_rand(MT_DIMS(3, 4), 3))
CALL(permute, mt_permute(in->a, (const int[]){1, 0}))
CALL(transpose, mt_transpose(in->a, 0, 1))
CALL(view, mt_view(in->a, MT_DIMS(2, 6)))
CALL(reshape, mt_reshape(in->at, MT_DIMS(12)))
CALL(expand, mt_expand(in->row, MT_DIMS(2, 3, 4)))
CALL(narrow, mt_narrow(in->a, 1, 1, 2))
CALL(contiguous, mt_contiguous(in->at))
CALL(neg, mt_neg(in->a))
CALL(copy, mt_copy(in->at))
CALL(sigmoid, mt_sigmoid(in->a))
CALL(relu, mt_relu(in->a))
CALL(log, mt_log(in->pos))
CALL(exp, mt_exp(in->a))
CALL(inv, mt_inv(in->pos))
CALL(add, mt_add(in->a, in->row))
CALL(sub, mt_sub(in->a, in->b))
CALL(mul, mt_mul(in->a, in->row))
CALL(div, mt_div(in->a, in->pos))
CALL(lt, mt_lt(in->a, in->b))
CALL(gt, mt_gt(in->a, in->row))
CALL(eq, mt_eq(in->a, in->b))
CALL(is_close, mt_is_close(in->a, in->b))
CALL(relu_back, mt_relu_back(in->a, in->b))
CALL(log_back, mt_log_back(in->pos, in->b))
CALL(inv_back, mt_inv_back(in->pos, in->b))
CALL(add_scalar, mt_add_scalar(in->a, 1))
CALL(sub_scalar, mt_sub_scalar(in->a, 1))
CALL(rsub_scalar, mt_rsub_scalar(in->a, 1))
CALL(mul_scalar, mt_mul_scalar(in->a, 2))
CALL(div_scalar, mt_div_scalar(in->a, 2))
CALL(rdiv_scalar, mt_rdiv_scalar(in->pos, 2))
CALL(lt_scalar, mt_lt_scalar(in->a, 0))
CALL(gt_scalar, mt_gt_scalar(in->a, 0))
CALL(eq_scalar, mt_eq_scalar(in->a, 0))
CALL(sum, mt_sum(in->a, 0))
CALL(prod, mt_prod(in->a, 1))
CALL(max, mt_max(in->a, -1))
CALL(mean, mt_mean(in->a, 1))
CALL(sum_all, mt_sum_all(in->at))
CALL(mean_all, mt_mean_all(in->at))
CALL(matmul, mt_matmul(in->a, in->w))
CALL(matmul_strided, mt_matmul(in->strided, in->w3))
CALL(linear, mt_linear(in->a, in->w, in->bias))
CALL(linear_strided, mt_linear(in->strided, in->w3, NULL))
CALL(detach, mt_detach(in->a))
CALL(one_hot, mt_one_hot(labels3, 3, 3))
CALL(loss_nll_sigmoid, mt_loss_nll_sigmoid(in->sig, in->label))
CALL(loss_bce_with_logits, mt_loss_bce_with_logits(in->a, in->label))
CALL(loss_softmax_cross_entropy, mt_loss_softmax_cross_entropy(in->a, in->prob))
CALL(mlp_forward, mt_mlp_forward(&in->model, in->x2))
CALL(linear_layer_forward, mt_linear_layer_forward(&in->model.layer1, in->x2))

typedef struct tensor_case {
    const char *fn;
    tensor_call call;
} tensor_case;

#define CASE(name) {"mt_" #name, call_##name}
#define CASE_AS(name, fn) {fn, call_##name}

static const tensor_case tensor_cases[] = {
    CASE(zeros), CASE(ones), CASE(full), CASE(from_data), CASE(scalar), CASE(rand_uniform),
    CASE(rand), CASE(permute), CASE(transpose), CASE(view), CASE(reshape), CASE(expand),
    CASE(narrow), CASE(contiguous), CASE(neg), CASE(copy), CASE(sigmoid), CASE(relu), CASE(log),
    CASE(exp), CASE(inv), CASE(add), CASE(sub), CASE(mul), CASE(div), CASE(lt), CASE(gt),
    CASE(eq), CASE(is_close), CASE(relu_back), CASE(log_back), CASE(inv_back), CASE(add_scalar),
    CASE(sub_scalar), CASE(rsub_scalar), CASE(mul_scalar), CASE(div_scalar), CASE(rdiv_scalar),
    CASE(lt_scalar), CASE(gt_scalar), CASE(eq_scalar), CASE(sum), CASE(prod), CASE(max),
    CASE(mean), CASE(sum_all), CASE(mean_all), CASE(matmul), CASE_AS(matmul_strided, "mt_matmul"),
    CASE(linear), CASE_AS(linear_strided, "mt_linear"), CASE(detach), CASE(one_hot),
    CASE(loss_nll_sigmoid), CASE(loss_bce_with_logits), CASE(loss_softmax_cross_entropy),
    CASE(mlp_forward), CASE(linear_layer_forward),
};
#define CASE_COUNT (sizeof tensor_cases / sizeof tensor_cases[0])

/* Sweeps one call: inside a scope (`scoped`: recording the result in the scope can fail too) or
 * not (the result is released). `fn` NULL accepts any "mt_<name>: " message. Returns the number
 * of allocations the call makes. */
static int64_t sweep_call(inputs *in, const tensor_case *c, bool scoped, const char *fn)
{
    const char *mode = scoped ? "in a scope" : "no scope";
    int64_t n;
    int reported = t_violation_count();
    for (n = 0; n < SWEEP_LIMIT; n++) {
        const int64_t live = t_live_tensors();
        mt_scope s = {0};
        if (scoped) cr_assert_eq((s = mt_scope_begin()).depth, 1);
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_tensor *r = c->call(in);
        reset_hook();
        if (r) {
            cr_assert_eq(mt_last_status(), MT_OK, "%s succeeded but recorded \"%s\"", c->fn,
                         mt_last_error());
            if (!scoped) cr_assert_eq(mt_release(r), MT_OK);
        } else if (t_violation_count() == reported) { /* first violation per case and mode */
            char what[96];
            snprintf(what, sizeof what, "%s (%s)", c->fn, mode);
            check_no_memory(what, n, RETURNED_NULL, fn);
        }
        if (scoped) cr_assert_eq(mt_scope_end(s), MT_OK);
        if (t_live_tensors() != live && t_violation_count() == reported)
            t_violation("%s (%s), n=%lld: %lld tensors left behind", c->fn, mode, (long long)n,
                        (long long)(t_live_tensors() - live));
        if (r) break;
    }
    cr_assert_lt(n, SWEEP_LIMIT);
    return n;
}

/* Every failure is a clean MT_ERR_NO_MEMORY with an "mt_<name>: " message, and leaves nothing. */
Test(alloc_sweep, every_tensor_function, .fini = reset_hook)
{
    inputs in;
    make_inputs(&in);
    const int64_t live = t_live_tensors();
    for (size_t i = 0; i < CASE_COUNT; i++) {
        int64_t plain = sweep_call(&in, &tensor_cases[i], false, NULL);
        int64_t scoped = sweep_call(&in, &tensor_cases[i], true, NULL);
        cr_assert_gt(plain, 0, "%s allocates", tensor_cases[i].fn);
        cr_assert_gt(scoped, 0, "%s allocates", tensor_cases[i].fn);
    }
    cr_assert_eq(t_live_tensors(), live);
    free_inputs(&in);
    t_violations_check("public functions under allocation failures");
}

/* error.h: the message names the function called, also when the failure is in recording the
 * result in the scope or in a backend's scratch allocation (composites: the public function
 * that failed inside them is named, so only the primitives are checked by name). */
Test(alloc_sweep, messages_name_the_function, .fini = reset_hook)
{
    inputs in;
    make_inputs(&in);
    for (size_t i = 0; i < CASE_COUNT; i++) {
        const char *fn = tensor_cases[i].fn;
        bool composite = strncmp(fn, "mt_loss_", 8) == 0 || strcmp(fn, "mt_mlp_forward") == 0 ||
                         strcmp(fn, "mt_linear_layer_forward") == 0;
        if (composite) continue;
        sweep_call(&in, &tensor_cases[i], false, fn);
        sweep_call(&in, &tensor_cases[i], true, fn);
    }
    free_inputs(&in);
    /* mt_grad's only allocation is recording its reference in the scope */
    mt_tensor *a = leaf(mt_rand(MT_DIMS(3), 1));
    mt_scope outer = mt_scope_begin();
    cr_assert_eq(mt_backward(mt_sum_all(mt_mul(a, a))), MT_OK);
    cr_assert_eq(mt_scope_end(outer), MT_OK);
    const int64_t live = t_live_tensors();
    mt_scope s = mt_scope_begin();
    mt_clear_error();
    mt_debug_fail_allocations_after(0);
    mt_tensor *g = mt_grad(a);
    reset_hook();
    cr_assert_null(g);
    check_no_memory("mt_grad (in a scope)", 0, RETURNED_NULL, "mt_grad");
    cr_assert_eq(mt_scope_end(s), MT_OK);
    cr_assert_eq(t_live_tensors(), live);
    mt_release(a);
    if (scope_named)
        t_violation("%d function(s) report a failure to record their result in the scope as "
                    "\"mt_scope: cannot grow the scope to 256 tensors\" instead of naming "
                    "themselves: %s%s", scope_named, scope_named_list, scope_named > 12 ? ", ..." : "");
    t_violations_check("messages of allocation failures");
}

/* mt_scope_begin allocates its stack for the first scope and every 16 levels; a failure returns
 * depth -1 and opens nothing. */
Test(alloc_sweep, scope_begin, .fini = reset_hook)
{
    cr_assert_eq(mt_scope_depth(), 0);
    mt_clear_error();
    mt_debug_fail_allocations_after(0);
    mt_scope s = mt_scope_begin();
    reset_hook();
    cr_assert_eq(s.depth, -1);
    t_expect_error(MT_ERR_NO_MEMORY, "mt_scope_begin");
    cr_assert_eq(mt_scope_depth(), 0, "a failed mt_scope_begin opens nothing");
    mt_clear_error();
    cr_assert_eq(mt_scope_end(s), MT_ERR_SCOPE, "the failed handle cannot be ended");
    mt_scope stack[40];
    int opened = 0, failed = 0;
    for (int i = 0; i < 40; i++) {
        mt_debug_fail_allocations_after(0);
        stack[opened] = mt_scope_begin();
        reset_hook();
        if (stack[opened].depth < 0) {
            failed++;
            t_expect_error(MT_ERR_NO_MEMORY, "mt_scope_begin");
            cr_assert_eq(mt_scope_depth(), opened);
            stack[opened] = mt_scope_begin(); /* retry with the hook off */
        }
        cr_assert_eq(stack[opened].depth, opened + 1);
        opened++;
    }
    cr_assert_geq(failed, 2, "the stack grows at least at depths 1, 17 and 33");
    while (opened > 0) cr_assert_eq(mt_scope_end(stack[--opened]), MT_OK);
    cr_assert_eq(mt_scope_depth(), 0);
}
