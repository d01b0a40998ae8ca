/* Threads. The library's state that the API calls per-thread (errors, scopes, no-grad mode) must
 * really be per thread, and work on separate tensors must run concurrently from several pthreads
 * with the same bitwise results as single-threaded (naive backend). A whole training run must be
 * bitwise reproducible for 1, 2 and 3 kernel threads on the naive backend (nn.h), and equal within
 * a tolerance on the blas backend. */
#include "testing.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- concurrent training steps on separate models ---- */

#define WORKERS 4
#define STEPS 150
#define POINTS 24
#define HIDDEN 8
#define MAX_PARAMS 512

typedef struct worker {
    int id;
    mt_tensor *shared;         /* (POINTS, 2) read by every worker, never requiring grad */
    float losses[STEPS];
    float extra[STEPS];        /* a value from other ops of the step (views, reductions, matmul) */
    float params[MAX_PARAMS];  /* the final parameters, concatenated */
    int64_t param_count;
    int failures;
    char error[256];
} worker;

static void fail(worker *w, const char *what)
{
    if (w->failures++ == 0)
        snprintf(w->error, sizeof w->error, "worker %d: %s: %s (%s)", w->id, what, mt_last_error(),
                 mt_strerror(mt_last_status()));
}

/* Many forward/backward/SGD steps of a small MLP, each in its own scope, on the worker's own
 * model and data plus the shared read-only input. Runs on whatever thread calls it. */
static void *workload(void *arg)
{
    worker *w = arg;
    mt_mlp model;
    if (mt_mlp_init(&model, 2, HIDDEN, 100 + (uint64_t)w->id) != MT_OK) {
        fail(w, "mt_mlp_init");
        return NULL;
    }
    t_rng r = t_rng_seed(7 + (uint64_t)w->id);
    float x[POINTS * 2], y[POINTS];
    for (int i = 0; i < POINTS; i++) {
        x[2 * i] = (float)t_rng_uniform(&r, 0, 1);
        x[2 * i + 1] = (float)t_rng_uniform(&r, 0, 1);
        y[i] = x[2 * i] < 0.2f || x[2 * i] > 0.8f;
    }
    for (int s = 0; s < STEPS && !w->failures; s++) {
        mt_scope scope = mt_scope_begin();
        mt_tensor *xb = mt_from_data(MT_DIMS(POINTS, 2), x);
        mt_tensor *yb = mt_from_data(MT_DIMS(POINTS, 1), y);
        /* mix in the shared tensor: x + 0.01 * shared */
        mt_tensor *input = mt_add(xb, mt_mul_scalar(w->shared, 0.01f));
        mt_tensor *loss = mt_loss_nll_sigmoid(mt_mlp_forward(&model, input), yb);
        if (!loss || mt_backward(loss) != MT_OK) {
            fail(w, "forward/backward");
        } else {
            w->losses[s] = mt_item(loss);
            /* other ops on views of the worker's parameters and the shared input */
            mt_tensor *wt = mt_transpose(model.layer1.weight, 0, 1); /* (H, 2) */
            mt_tensor *rows = mt_narrow(w->shared, 0, s % 8, 8);     /* (8, 2) */
            mt_tensor *prod = mt_matmul(wt, mt_transpose(rows, 0, 1)); /* (H, 8) */
            mt_tensor *e = mt_sum_all(mt_mul(mt_exp(mt_neg(mt_relu(prod))), mt_max(prod, 1)));
            if (!e) fail(w, "extra ops");
            else w->extra[s] = mt_item(e);
            if (mt_sgd_step(&model.params, 0.5f) != MT_OK) fail(w, "mt_sgd_step");
        }
        if (mt_scope_end(scope) != MT_OK) fail(w, "mt_scope_end");
    }
    int64_t n = 0;
    for (int i = 0; i < model.params.count && !w->failures; i++) {
        int64_t k = mt_numel(model.params.items[i]);
        if (n + k > MAX_PARAMS || mt_copy_to(model.params.items[i], w->params + n, k) != MT_OK)
            fail(w, "mt_copy_to");
        n += k;
    }
    w->param_count = n;
    if (mt_scope_depth() != 0) fail(w, "scope left open");
    if (mt_last_status() != MT_OK) fail(w, "an error was recorded");
    mt_mlp_free(&model);
    return NULL;
}

static mt_tensor *shared_input(void)
{
    mt_tensor *t = mt_rand_uniform(MT_DIMS(POINTS, 2), -1, 1, 99);
    cr_assert_not_null(t);
    return t;
}

Test(threads, concurrent_training_matches_serial)
{
    t_use_backend(0);
    mt_clear_error();
    mt_tensor *shared = shared_input();
    static worker serial[WORKERS], parallel[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        serial[i] = (worker){.id = i, .shared = shared};
        parallel[i] = (worker){.id = i, .shared = shared};
    }
    for (int i = 0; i < WORKERS; i++) { /* the reference: one after the other, on this thread */
        workload(&serial[i]);
        cr_assert_eq(serial[i].failures, 0, "%s", serial[i].error);
    }
    const int64_t live = t_live_tensors();
    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, workload, &parallel[i]), 0);
    for (int i = 0; i < WORKERS; i++) cr_assert_eq(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < WORKERS; i++) {
        cr_assert_eq(parallel[i].failures, 0, "%s", parallel[i].error);
        cr_assert_eq(parallel[i].param_count, serial[i].param_count);
        cr_assert(memcmp(parallel[i].losses, serial[i].losses, sizeof serial[i].losses) == 0,
                  "worker %d: losses differ from the serial run", i);
        cr_assert(memcmp(parallel[i].extra, serial[i].extra, sizeof serial[i].extra) == 0,
                  "worker %d: view/reduction/matmul results differ from the serial run", i);
        cr_assert(memcmp(parallel[i].params, serial[i].params,
                         sizeof(float) * (size_t)serial[i].param_count) == 0,
                  "worker %d: final parameters differ from the serial run", i);
        cr_assert(serial[i].losses[STEPS - 1] < serial[i].losses[0], "worker %d trains", i);
    }
    /* different workers really did different work */
    cr_assert(memcmp(serial[0].params, serial[1].params, sizeof(float) * 8) != 0);
    cr_assert_eq(t_live_tensors(), live, "the workers freed everything they made");
    cr_assert_eq(mt_release(shared), MT_OK);
}

/* ---- errors, scopes and no-grad mode are per thread ---- */

typedef struct pair_state {
    pthread_barrier_t barrier;
    mt_tensor *a23, *b43;       /* built by the main thread; do not broadcast together */
    mt_scope a_scope;           /* opened by thread A */
    /* observations, checked by the main thread */
    mt_status b_saw_status;
    char b_saw_message[256];
    int b_saw_depth;
    bool b_saw_grad_enabled;
    bool b_result_requires_grad;
    mt_status b_end_a_scope;    /* B ending A's scope */
    mt_status b_no_grad_end;    /* B ending no-grad mode that A began */
    mt_status a_status_after;   /* A's error after B's errors */
    char a_message_after[256];
    int a_depth_after;
    bool a_grad_enabled_after;
    bool a_result_requires_grad;
    mt_status a_end_scope, a_no_grad_end;
    mt_status b_status_final;
    char b_message_final[256];
} pair_state;

static void *thread_a(void *arg)
{
    pair_state *st = arg;
    mt_clear_error();
    mt_tensor *bad = mt_add(st->a23, st->b43); /* fails: records an error on A */
    (void)bad;
    st->a_scope = mt_scope_begin();
    mt_no_grad_begin();
    pthread_barrier_wait(&st->barrier); /* 1: B looks */
    pthread_barrier_wait(&st->barrier); /* 2: B done */
    st->a_status_after = mt_last_status();
    snprintf(st->a_message_after, sizeof st->a_message_after, "%s", mt_last_error());
    st->a_depth_after = mt_scope_depth();
    st->a_grad_enabled_after = mt_grad_enabled();
    mt_tensor *leaf = mt_ones(MT_DIMS(2));
    mt_set_requires_grad(leaf, true);
    st->a_result_requires_grad = mt_requires_grad(mt_neg(leaf)); /* in no-grad mode: no history */
    st->a_no_grad_end = mt_no_grad_end();
    st->a_end_scope = mt_scope_end(st->a_scope); /* frees leaf and the result */
    pthread_barrier_wait(&st->barrier); /* 3: A done */
    return NULL;
}

static void *thread_b(void *arg)
{
    pair_state *st = arg;
    pthread_barrier_wait(&st->barrier); /* 1 */
    st->b_saw_status = mt_last_status();
    snprintf(st->b_saw_message, sizeof st->b_saw_message, "%s", mt_last_error());
    st->b_saw_depth = mt_scope_depth();
    st->b_saw_grad_enabled = mt_grad_enabled();
    mt_tensor *leaf = mt_ones(MT_DIMS(2)); /* no scope on B: owned here */
    mt_set_requires_grad(leaf, true);
    mt_tensor *r = mt_neg(leaf);
    st->b_result_requires_grad = mt_requires_grad(r);
    mt_release(r);
    mt_release(leaf);
    st->b_end_a_scope = mt_scope_end(st->a_scope); /* A's scope is not B's */
    st->b_no_grad_end = mt_no_grad_end();          /* B never began no-grad mode */
    pthread_barrier_wait(&st->barrier);            /* 2 */
    pthread_barrier_wait(&st->barrier);            /* 3 */
    st->b_status_final = mt_last_status();
    snprintf(st->b_message_final, sizeof st->b_message_final, "%s", mt_last_error());
    return NULL;
}

Test(threads, errors_scopes_and_no_grad_are_per_thread)
{
    pair_state st = {0};
    st.a23 = mt_ones(MT_DIMS(2, 3));
    st.b43 = mt_ones(MT_DIMS(4, 3));
    const int64_t live = t_live_tensors();
    cr_assert_eq(pthread_barrier_init(&st.barrier, NULL, 2), 0);
    pthread_t a, b;
    cr_assert_eq(pthread_create(&a, NULL, thread_a, &st), 0);
    cr_assert_eq(pthread_create(&b, NULL, thread_b, &st), 0);
    cr_assert_eq(pthread_join(a, NULL), 0);
    cr_assert_eq(pthread_join(b, NULL), 0);
    pthread_barrier_destroy(&st.barrier);

    /* B does not see A's error, scope or no-grad mode */
    cr_assert_eq(st.b_saw_status, MT_OK, "B sees A's error: %s", st.b_saw_message);
    cr_assert_str_empty(st.b_saw_message);
    cr_assert_eq(st.b_saw_depth, 0, "B sees A's scope");
    cr_assert(st.b_saw_grad_enabled, "A's no-grad mode turned grad off on B");
    cr_assert(st.b_result_requires_grad, "B recorded no history while A was in no-grad mode");
    cr_assert_eq(st.b_end_a_scope, MT_ERR_SCOPE, "B could end A's scope");
    cr_assert_eq(st.b_no_grad_end, MT_ERR_AUTODIFF, "B could end A's no-grad mode");
    /* A still has its own error, scope and mode after B's failures */
    cr_assert_eq(st.a_status_after, MT_ERR_BROADCAST, "A's error was replaced: %s",
                 st.a_message_after);
    cr_assert(strncmp(st.a_message_after, "mt_add: ", 8) == 0, "%s", st.a_message_after);
    cr_assert_eq(st.a_depth_after, 1);
    cr_assert_not(st.a_grad_enabled_after);
    cr_assert_not(st.a_result_requires_grad, "A recorded history in no-grad mode");
    cr_assert_eq(st.a_no_grad_end, MT_OK);
    cr_assert_eq(st.a_end_scope, MT_OK);
    /* B's last error is its own */
    cr_assert_eq(st.b_status_final, MT_ERR_AUTODIFF, "%s", st.b_message_final);
    cr_assert(strncmp(st.b_message_final, "mt_no_grad_end: ", 16) == 0, "%s", st.b_message_final);
    /* and the main thread saw none of it */
    cr_assert_eq(mt_scope_depth(), 0);
    cr_assert(mt_grad_enabled());
    cr_assert_eq(t_live_tensors(), live, "A's scope freed its tensors, B released its own");
    mt_release(st.a23);
    mt_release(st.b43);
}

/* A tensor made on one thread can be used and released on another (reference counts are
 * atomic), and a thread that exits with an error recorded leaves nothing behind. */
static void *use_and_release(void *arg)
{
    mt_tensor *t = arg;
    for (int i = 0; i < 200; i++) {
        mt_scope s = mt_scope_begin();
        mt_tensor *v = mt_sum_all(mt_mul(mt_transpose(t, 0, 1), mt_transpose(t, 0, 1)));
        if (!v || mt_item(v) != 24.0f) return (void *)1;
        mt_scope_end(s);
    }
    mt_scope s = mt_scope_begin();
    mt_add(t, mt_ones(MT_DIMS(5))); /* the thread exits with an error recorded */
    mt_scope_end(s);
    return mt_release(t) == MT_OK ? NULL : (void *)1;
}

Test(threads, shared_tensors_across_threads)
{
    const int64_t live = t_live_tensors();
    mt_tensor *t = mt_ones(MT_DIMS(4, 6));
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++) mt_retain(t); /* one reference per thread */
    for (int i = 0; i < WORKERS; i++) cr_assert_eq(pthread_create(&th[i], NULL, use_and_release, t), 0);
    for (int i = 0; i < WORKERS; i++) {
        void *r;
        cr_assert_eq(pthread_join(th[i], &r), 0);
        cr_assert_null(r, "thread %d saw a wrong value or could not release its reference", i);
    }
    cr_assert_eq(mt_last_status(), MT_OK, "the threads' errors stay on the threads");
    cr_assert_eq(mt_release(t), MT_OK);
    cr_assert_eq(t_live_tensors(), live);
}

/* ---- determinism of a whole training run for 1, 2 and 3 kernel threads ---- */

#define TRAIN_POINTS 2048
#define TRAIN_HIDDEN 128 /* relu over 1024 x 128: enough elements for the kernels to use 2 threads */
#define TRAIN_EPOCHS 30
#define TRAIN_PARAMS (2 * TRAIN_HIDDEN + TRAIN_HIDDEN + TRAIN_HIDDEN * TRAIN_HIDDEN + TRAIN_HIDDEN + TRAIN_HIDDEN + 1)

typedef struct run {
    float params[TRAIN_PARAMS];
    double last_loss;
    int max_matmul_threads, max_map_threads;
    int64_t correct;
} run;

/* 30 epochs of mt_mlp_train_epoch on the split dataset with `threads` kernel threads. Each epoch is
 * two shuffled batches of 1024 points: 1024 x 64 activations and 1024 x 64 x 64 products are big
 * enough for the kernels to split work across threads; the first epoch is traced to confirm. */
static void train(int threads, run *out)
{
    cr_assert_eq(mt_set_num_threads(threads), MT_OK);
    mt_dataset data;
    cr_assert_eq(mt_dataset_make(&data, MT_DATASET_SPLIT, TRAIN_POINTS, 21), MT_OK);
    mt_mlp model;
    cr_assert_eq(mt_mlp_init(&model, 2, TRAIN_HIDDEN, 5), MT_OK);
    const mt_train_options options = {.rate = 0.5f, .batch = 1024, .seed = 3};
    for (int epoch = 0; epoch < TRAIN_EPOCHS; epoch++) {
        t_trace tr;
        if (epoch == 0) t_trace_begin(&tr);
        mt_epoch_result result;
        cr_assert_eq(mt_mlp_train_epoch(&model, &data, &options, epoch, &result), MT_OK, "%s",
                     mt_last_error());
        cr_assert_eq(result.steps, 2);
        out->last_loss = result.loss;
        if (epoch == 0) {
            char *text = t_trace_end(&tr);
            out->max_matmul_threads = t_trace_max_threads(text, "matmul");
            out->max_map_threads = t_trace_max_threads(text, "relu");
            free(text);
        }
    }
    int64_t n = 0;
    for (int i = 0; i < model.params.count; i++) {
        int64_t k = mt_numel(model.params.items[i]);
        cr_assert_leq(n + k, TRAIN_PARAMS);
        cr_assert_eq(mt_copy_to(model.params.items[i], out->params + n, k), MT_OK);
        n += k;
    }
    cr_assert_eq(n, TRAIN_PARAMS);
    cr_assert_eq(mt_mlp_evaluate(&model, &data, &out->correct), MT_OK);
    mt_mlp_free(&model);
    mt_dataset_free(&data);
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
}

static void reset_threads(void) { mt_set_num_threads(0); }

Test(threads, training_run_bitwise_for_1_2_3_threads_naive, .fini = reset_threads)
{
    t_use_backend(0);
    static run runs[3];
    for (int t = 0; t < 3; t++) train(t + 1, &runs[t]);
    cr_assert_eq(runs[0].max_matmul_threads, 1);
    cr_assert_geq(runs[1].max_matmul_threads, 2, "with 2 threads the matmuls run in parallel");
    cr_assert_geq(runs[2].max_matmul_threads, 2);
    cr_assert_geq(runs[1].max_map_threads, 2, "with 2 threads the elementwise kernels split");
    for (int t = 1; t < 3; t++) {
        for (int i = 0; i < TRAIN_PARAMS; i++)
            cr_assert(memcmp(&runs[t].params[i], &runs[0].params[i], sizeof(float)) == 0,
                      "%d threads: parameter %d is %.9g, with 1 thread %.9g", t + 1, i,
                      runs[t].params[i], runs[0].params[i]);
        cr_assert_eq(runs[t].last_loss, runs[0].last_loss);
        cr_assert_eq(runs[t].correct, runs[0].correct);
    }
    cr_assert_lt(runs[0].last_loss, 0.6, "the model learns something (loss %g)", runs[0].last_loss);
}

/* blas across thread counts: see test_reliability_inplace.c (one step's gradients within the
 * summation-order bound; a whole trajectory amplifies rounding differences without bound). */
