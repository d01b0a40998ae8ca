/* Captured plans (plan.h). The oracle is the eager step itself, run on the same data: a plan must
 * reproduce it bit for bit (it runs the same per-element loops in the same order; memcmp, no
 * tolerance), on random elementwise chains over permuted and broadcast inputs (forward and
 * backward) with 1, 2 and 3 threads, and on an MLP trained for several steps with new batches.
 * Also: runs allocate nothing, bad use fails cleanly, and a capture survives allocation failures
 * without leaks (ASan). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

/* ---- random elementwise chains ---- */

enum { R = 96, C = 700, LEAVES = 4, MAX_CHAIN = 8 };

typedef struct chain {
    mt_tensor *leaf[LEAVES]; /* (R,C) dense, (R,C) permuted view, (1,C), (R,1) */
    mt_tensor *out;          /* the chain's value (kept by the step) */
    int length;
    int kind[MAX_CHAIN], operand[MAX_CHAIN];
} chain;

static mt_tensor *chain_op(const chain *c, int i, mt_tensor *v)
{
    mt_tensor *x = c->leaf[c->operand[i]];
    switch (c->kind[i]) {
    case 0: return mt_sigmoid(v);
    case 1: return mt_tanh(v);
    case 2: return mt_relu(v);
    case 3: return mt_neg(v);
    case 4: return mt_add(v, x);
    case 5: return mt_sub(x, v);
    default: return mt_mul(v, x);
    }
}

static mt_status chain_step(void *context)
{
    chain *c = context;
    for (int k = 0; k < LEAVES; k++) mt_zero_grad(c->leaf[k]);
    if (c->out) mt_release(c->out);
    c->out = NULL;
    mt_scope s = mt_scope_begin();
    mt_tensor *v = c->leaf[0];
    for (int i = 0; i < c->length; i++) v = chain_op(c, i, v);
    mt_tensor *loss = mt_mean_all(mt_mul(mt_add(mt_add(v, c->leaf[1]), c->leaf[3]), c->leaf[2]));
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) c->out = mt_retain(mt_detach(v));
    mt_scope_end(s);
    return status;
}

static void chain_init(chain *c, t_rng *r)
{
    *c = (chain){0};
    c->leaf[0] = mt_zeros(MT_DIMS(R, C));
    mt_tensor *base = mt_zeros(MT_DIMS(C, R));
    c->leaf[1] = mt_permute(base, (const int[]){1, 0});
    mt_release(base);
    c->leaf[2] = mt_zeros(MT_DIMS(1, C));
    c->leaf[3] = mt_zeros(MT_DIMS(R, 1));
    for (int k = 0; k < LEAVES; k++) {
        cr_assert(c->leaf[k]);
        mt_set_requires_grad(c->leaf[k], true);
        t_fill_uniform(r, c->leaf[k], -2.0, 2.0);
    }
    c->length = t_rng_int(r, 2, MAX_CHAIN);
    for (int i = 0; i < c->length; i++) {
        c->kind[i] = t_rng_int(r, 0, 6);
        c->operand[i] = t_rng_int(r, 0, LEAVES - 1);
    }
}

static void chain_free(chain *c)
{
    for (int k = 0; k < LEAVES; k++) mt_release(c->leaf[k]);
    if (c->out) mt_release(c->out);
}

/* The chain's value and the leaves' gradients, concatenated. */
static float *chain_results(chain *c, int64_t *n)
{
    int64_t total = mt_numel(c->out);
    for (int k = 0; k < LEAVES; k++) total += mt_numel(c->leaf[k]);
    float *all = malloc(sizeof *all * (size_t)total);
    cr_assert(all);
    cr_assert_eq(mt_copy_to(c->out, all, mt_numel(c->out)), MT_OK);
    int64_t used = mt_numel(c->out);
    mt_scope s = mt_scope_begin();
    for (int k = 0; k < LEAVES; k++) {
        mt_tensor *g = mt_grad(c->leaf[k]);
        cr_assert(g, "%s", mt_last_error());
        cr_assert_eq(mt_copy_to(g, all + used, mt_numel(g)), MT_OK);
        used += mt_numel(g);
    }
    mt_scope_end(s);
    *n = total;
    return all;
}

Test(plan, random_chains_bitwise_equal_to_eager_forward_and_backward)
{
    int fused = 0;
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        for (int seed = 0; seed < 12; seed++) {
            t_rng r = t_rng_seed((uint64_t)(100 * threads + seed));
            chain c;
            chain_init(&c, &r);
            mt_plan *plan = NULL;
            cr_assert_eq(mt_plan_capture(chain_step, &c, &plan), MT_OK, "%s", mt_last_error());
            mt_plan_stats stats;
            cr_assert_eq(mt_plan_get_stats(plan, &stats), MT_OK);
            fused += stats.fused_groups > 0;
            /* two runs on new data (the second must not depend on the first's leftovers), then
             * the eager step on the same data as the oracle */
            for (int run = 0; run < 2; run++) {
                for (int k = 0; k < LEAVES; k++) t_fill_uniform(&r, c.leaf[k], -2.0, 2.0);
                cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
            }
            int64_t n, m;
            float *planned = chain_results(&c, &n);
            cr_assert_eq(chain_step(&c), MT_OK, "%s", mt_last_error());
            float *eager = chain_results(&c, &m);
            cr_assert_eq(n, m);
            char what[64];
            snprintf(what, sizeof what, "threads %d chain %d", threads, seed);
            t_expect_bitwise(what, planned, eager, n);
            free(planned);
            free(eager);
            mt_plan_free(plan);
            chain_free(&c);
        }
    }
    cr_assert_gt(fused, 0, "no chain was fused");
    mt_set_num_threads(0);
}

/* ---- an MLP trained step by step ---- */

typedef struct mlp_step {
    mt_mlp model;
    mt_tensor *x, *y, *loss;
    float rate;
} mlp_step;

static mt_status mlp_train_step(void *context)
{
    mlp_step *m = context;
    if (m->loss) mt_release(m->loss);
    m->loss = NULL;
    mt_scope s = mt_scope_begin();
    mt_tensor *loss = mt_loss_nll_sigmoid(mt_mlp_forward(&m->model, m->x), m->y);
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) status = mt_sgd_step(&m->model.params, m->rate);
    if (status == MT_OK) m->loss = mt_retain(mt_detach(loss));
    mt_scope_end(s);
    return status;
}

static mt_status mlp_setup(mlp_step *m, int64_t batch, int64_t hidden)
{
    *m = (mlp_step){.rate = 0.5f};
    mt_status status = mt_mlp_init(&m->model, 2, hidden, 7);
    if (status != MT_OK) return status;
    m->x = mt_zeros(MT_DIMS(batch, 2));
    m->y = mt_zeros(MT_DIMS(batch, 1));
    return m->x && m->y ? MT_OK : mt_last_status();
}

static void mlp_teardown(mlp_step *m)
{
    if (m->x) mt_release(m->x);
    if (m->y) mt_release(m->y);
    if (m->loss) mt_release(m->loss);
    mt_mlp_free(&m->model);
}

static void mlp_batch(mlp_step *m, int step)
{
    t_rng r = t_rng_seed(1000 + (uint64_t)step);
    t_fill_uniform(&r, m->x, -1.0, 1.0);
    int64_t n = mt_numel(m->y);
    float *labels = malloc(sizeof *labels * (size_t)n);
    cr_assert(labels);
    for (int64_t i = 0; i < n; i++) labels[i] = (float)t_rng_int(&r, 0, 1);
    cr_assert_eq(mt_copy_from(m->y, labels, n), MT_OK);
    free(labels);
}

Test(plan, mlp_training_bitwise_equal_to_eager_and_allocates_nothing)
{
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        mlp_step eager, planned;
        cr_assert_eq(mlp_setup(&eager, 10, 24), MT_OK);
        cr_assert_eq(mlp_setup(&planned, 10, 24), MT_OK);
        mt_plan *plan = NULL;
        for (int step = 0; step < 6; step++) {
            mlp_batch(&eager, step);
            cr_assert_eq(mlp_train_step(&eager), MT_OK, "%s", mt_last_error());
            mlp_batch(&planned, step);
            if (step == 0) {
                cr_assert_eq(mt_plan_capture(mlp_train_step, &planned, &plan), MT_OK, "%s",
                             mt_last_error());
            } else {
                mt_memory_stats before, after;
                mt_memory_get_stats(&before);
                cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
                mt_memory_get_stats(&after);
                /* the naive matmul takes its packing scratch from the cache per call (a kernel's
                 * own scratch, returned at once); the plan itself allocates nothing */
                cr_assert_eq(after.cache_misses, before.cache_misses, "a run allocated storage");
                cr_assert_eq(after.live_tensors, before.live_tensors, "a run created tensors");
                cr_assert_eq(after.bytes_in_use, before.bytes_in_use);
            }
            float le = mt_item(eager.loss), lp = mt_item(planned.loss);
            cr_assert(memcmp(&le, &lp, sizeof le) == 0, "step %d: loss %.9g vs %.9g", step,
                      (double)lp, (double)le);
        }
        for (int i = 0; i < eager.model.params.count; i++) {
            float *a = t_floats(planned.model.params.items[i]);
            float *b = t_floats(eager.model.params.items[i]);
            t_expect_bitwise("parameter", a, b, mt_numel(eager.model.params.items[i]));
            free(a);
            free(b);
        }
        mt_plan_stats stats;
        cr_assert_eq(mt_plan_get_stats(plan, &stats), MT_OK);
        cr_assert_leq(stats.buffer_bytes, stats.eager_peak_bytes + 64 * stats.recorded_calls);
        mt_plan_free(plan);
        mlp_teardown(&eager);
        mlp_teardown(&planned);
    }
    mt_set_num_threads(0);
}

/* ---- misuse ---- */

typedef struct simple {
    mt_tensor *x, *y, *out;
} simple;

static mt_status simple_step(void *context)
{
    simple *s = context;
    if (s->out) mt_release(s->out);
    s->out = NULL;
    mt_scope scope = mt_scope_begin();
    mt_tensor *v = mt_add(mt_mul(mt_sigmoid(s->x), s->y), s->x);
    if (v) s->out = mt_retain(v);
    mt_scope_end(scope);
    return s->out ? MT_OK : mt_last_status();
}

static void simple_init(simple *s, int64_t n)
{
    t_rng r = t_rng_seed(5);
    *s = (simple){mt_zeros(MT_DIMS(n)), mt_zeros(MT_DIMS(n)), NULL};
    t_fill_uniform(&r, s->x, -3.0, 3.0);
    t_fill_uniform(&r, s->y, -3.0, 3.0);
}

Test(plan, released_bound_tensor_is_refused_and_nothing_written)
{
    simple s;
    simple_init(&s, 1000);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(simple_step, &s, &plan), MT_OK, "%s", mt_last_error());
    mt_plan_stats stats;
    mt_plan_get_stats(plan, &stats);
    cr_assert_eq(stats.fused_groups, 1);
    cr_assert_eq(stats.tile_values, 2, "sigmoid and mul stay in tile buffers");
    cr_assert_eq(stats.buffer_bytes, 0);
    mt_memory_stats m0, m1;
    mt_memory_get_stats(&m0);
    cr_assert_eq(mt_plan_run(plan), MT_OK);
    mt_memory_get_stats(&m1);
    cr_assert_eq(m1.cache_hits + m1.cache_misses, m0.cache_hits + m0.cache_misses,
                 "an elementwise plan's run takes no storage at all");
    float *before = t_floats(s.out);
    t_rng r77 = t_rng_seed(77);
    t_fill_uniform(&r77, s.y, -1.0, 1.0); /* a run would change out */
    mt_release(s.x);
    s.x = NULL;
    cr_assert_eq(mt_plan_run(plan), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_plan_run");
    cr_assert(strstr(mt_last_error(), "released"), "%s", mt_last_error());
    float *after = t_floats(s.out);
    t_expect_bitwise("out after a refused run", after, before, 1000);
    free(before);
    free(after);
    mt_plan_free(plan);
    mt_release(s.y);
    mt_release(s.out);
}

typedef struct racer {
    mt_plan *plan;
    int ok, busy, other;
} racer;

static void *race(void *context)
{
    racer *r = context;
    for (int i = 0; i < 40; i++) {
        mt_status status = mt_plan_run(r->plan);
        if (status == MT_OK) r->ok++;
        else if (status == MT_ERR_SCOPE) r->busy++;
        else r->other++;
    }
    return NULL;
}

Test(plan, two_threads_running_one_plan_get_a_clear_error_and_no_corruption)
{
    const int64_t n = (int64_t)1 << 21;
    simple s;
    simple_init(&s, n);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(simple_step, &s, &plan), MT_OK, "%s", mt_last_error());
    float *expected = t_floats(s.out); /* the step is a pure function of x and y */
    racer a = {.plan = plan}, b = {.plan = plan};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, &a);
    pthread_create(&tb, NULL, race, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(a.other + b.other, 0);
    cr_assert_gt(a.ok + b.ok, 0);
    cr_log_info("runs: %d ok, %d refused as busy", a.ok + b.ok, a.busy + b.busy);
    float *got = t_floats(s.out);
    t_expect_bitwise("out after concurrent runs", got, expected, n);
    free(expected);
    free(got);
    mt_plan_free(plan);
    mt_release(s.x);
    mt_release(s.y);
    mt_release(s.out);
}

static mt_status from_data_step(void *context)
{
    (void)context;
    mt_scope s = mt_scope_begin();
    mt_tensor *t = mt_from_data(MT_DIMS(2), (const float[]){1.0f, 2.0f});
    mt_tensor *u = mt_exp(t);
    mt_scope_end(s);
    return u ? MT_OK : mt_last_status();
}

/* index arrays and ranges made inside a step: a plan would replay the capture's values */
static mt_status gather_step(void *context)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *u = mt_index_select((mt_tensor *)context, 0, 2, (const int64_t[]){1, 0});
    mt_scope_end(s);
    return u ? MT_OK : mt_last_status();
}

static mt_status range_step(void *context)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *u = mt_add((mt_tensor *)context, mt_arange(0.0f, 3.0f, 1.0f));
    mt_scope_end(s);
    return u ? MT_OK : mt_last_status();
}

typedef struct clip_ctx {
    mt_tensor *w;
    mt_params params;
} clip_ctx;

static mt_status clip_step(void *context)
{
    clip_ctx *o = context;
    mt_scope s = mt_scope_begin();
    mt_status status = mt_backward(mt_sum_all(mt_mul(o->w, o->w)));
    float norm;
    if (status == MT_OK) status = mt_clip_grad_norm(&o->params, 0.5f, &norm);
    mt_params_zero_grad(&o->params);
    mt_scope_end(s);
    return status;
}

Test(plan, what_cannot_be_captured_fails_naming_it)
{
    mt_plan *plan = (mt_plan *)&plan;
    cr_assert_eq(mt_plan_capture(from_data_step, NULL, &plan), MT_ERR_INVALID_ARG);
    cr_assert_null(plan);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_plan_capture");
    cr_assert(strstr(mt_last_error(), "mt_from_data"), "%s", mt_last_error());

    mt_tensor *rows = mt_ones(MT_DIMS(3));
    cr_assert_eq(mt_plan_capture(gather_step, rows, &plan), MT_ERR_INVALID_ARG);
    cr_assert_null(plan);
    cr_assert(strstr(mt_last_error(), "mt_index_select"), "%s", mt_last_error());
    cr_assert_eq(mt_plan_capture(range_step, rows, &plan), MT_ERR_INVALID_ARG);
    cr_assert(strstr(mt_last_error(), "mt_arange"), "%s", mt_last_error());
    mt_release(rows);

    clip_ctx o = {mt_ones(MT_DIMS(3)), {0}};
    mt_set_requires_grad(o.w, true);
    mt_params_add(&o.params, o.w);
    cr_assert_eq(mt_plan_capture(clip_step, &o, &plan), MT_ERR_INVALID_ARG);
    cr_assert(strstr(mt_last_error(), "clipping"), "%s", mt_last_error());
    mt_params_free(&o.params);
    mt_release(o.w);

    /* gradients left from an earlier backward are released by the step's mt_sgd_step */
    mlp_step m;
    cr_assert_eq(mlp_setup(&m, 4, 3), MT_OK);
    mt_scope s = mt_scope_begin();
    cr_assert_eq(mt_backward(mt_loss_nll_sigmoid(mt_mlp_forward(&m.model, m.x), m.y)), MT_OK);
    mt_scope_end(s);
    cr_assert_eq(mt_plan_capture(mlp_train_step, &m, &plan), MT_ERR_INVALID_ARG);
    cr_assert(strstr(mt_last_error(), "released a tensor"), "%s", mt_last_error());
    mlp_teardown(&m);
}

Test(plan, trace_shows_each_fused_group_once)
{
    char path[] = "/tmp/minitorch-plan-trace-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    simple s;
    simple_init(&s, 5000);
    mt_plan *plan = NULL;
    cr_assert_eq(mt_plan_capture(simple_step, &s, &plan), MT_OK, "%s", mt_last_error());
    cr_assert_eq(mt_set_trace(true, path), MT_OK);
    cr_assert_eq(mt_plan_run(plan), MT_OK);
    mt_set_trace(false, NULL);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char line[1024];
    int fused = 0, lines = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        fused += strstr(line, "fused:sigmoid+mul+add") != NULL;
    }
    fclose(f);
    unlink(path);
    cr_assert_eq(fused, 1, "%d trace lines, %d fused", lines, fused);
    cr_assert_eq(lines, 1, "the fused group is the plan's only instruction");
    mt_plan_free(plan);
    mt_release(s.x);
    mt_release(s.y);
    mt_release(s.out);
}

Test(plan, allocation_failures_during_capture_fail_cleanly)
{
    int failures = 0;
    for (int64_t budget = 0; budget < 5000; budget++) {
        mlp_step m;
        cr_assert_eq(mlp_setup(&m, 5, 4), MT_OK);
        mlp_batch(&m, 0);
        mt_plan *plan = NULL;
        mt_debug_fail_allocations_after(budget);
        mt_status status = mt_plan_capture(mlp_train_step, &m, &plan);
        mt_debug_fail_allocations_after(-1);
        if (status == MT_OK) {
            cr_assert(plan);
            cr_assert_eq(mt_plan_run(plan), MT_OK, "%s", mt_last_error());
            mt_plan_free(plan);
            mlp_teardown(&m);
            break;
        }
        failures++;
        cr_assert_null(plan);
        cr_assert(strlen(mt_last_error()) > 0);
        cr_assert(strstr(mt_last_error(), ":"), "%s", mt_last_error());
        mlp_teardown(&m);
    }
    cr_assert_gt(failures, 10);
}

/* mt_mlp_train_epoch with options.compile: the captured step replayed for every full batch (the
 * last, partial one eager) gives bitwise the parameters and losses of the eager epochs. */
static void train_mlp(bool compile, int epochs, float *params, double *losses)
{
    mt_dataset data;
    cr_assert_eq(mt_dataset_make(&data, MT_DATASET_XOR, 53, 4), MT_OK);
    mt_mlp model;
    cr_assert_eq(mt_mlp_init(&model, 2, 16, 7), MT_OK);
    mt_train_options options = {.rate = 0.1f, .batch = 10, .seed = 2, .compile = compile};
    for (int e = 0; e < epochs; e++) {
        mt_epoch_result result;
        cr_assert_eq(mt_mlp_train_epoch(&model, &data, &options, e, &result), MT_OK, "%s",
                     mt_last_error());
        cr_assert_eq(result.steps, 6);
        losses[e] = result.loss;
    }
    int64_t n = 0;
    for (int i = 0; i < model.params.count; i++) {
        int64_t k = mt_numel(model.params.items[i]);
        cr_assert_eq(mt_copy_to(model.params.items[i], params + n, k), MT_OK);
        n += k;
    }
    cr_assert_eq(n, 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1);
    mt_mlp_free(&model);
    mt_dataset_free(&data);
}

Test(plan, compiled_mlp_epochs_match_eager_bitwise)
{
    enum { EPOCHS = 4, PARAMS = 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1 };
    t_use_backend(0);
    float eager[PARAMS], compiled[PARAMS];
    double eager_loss[EPOCHS], compiled_loss[EPOCHS];
    train_mlp(false, EPOCHS, eager, eager_loss);
    train_mlp(true, EPOCHS, compiled, compiled_loss);
    cr_assert(memcmp(eager, compiled, sizeof eager) == 0, "parameters differ");
    for (int e = 0; e < EPOCHS; e++) cr_assert_eq(eager_loss[e], compiled_loss[e], "epoch %d", e);
}
