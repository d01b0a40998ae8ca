/* In-place safety, the concurrency contract and hardening: each case here gave a wrong result, a
 * crash or undefined behaviour before the version counter, per-pass backward state, held
 * parameter references and the size checks. Expected values are hand-computed. */
#include "testing.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float item(mt_tensor *t) { return mt_item(t); }

static float grad_at(mt_tensor *t, int64_t i)
{
    mt_tensor *g = mt_grad(t);
    cr_assert_not_null(g, "%s", mt_last_error());
    float v;
    cr_assert_eq(mt_get(g, (const int64_t[]){i}, &v), MT_OK);
    return v;
}

/* ---- silent wrong gradients are refused ---- */

Test(inplace, set_on_an_input_of_mul_refuses_backward)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_scope s = mt_scope_begin();
        mt_tensor *x = mt_full(MT_DIMS(1), 3.0f), *y = mt_full(MT_DIMS(1), 1.0f);
        mt_set_requires_grad(x, true);
        mt_tensor *z = mt_mul(x, y); /* dz/dx = y = 1 */
        cr_assert_eq(mt_set(y, (const int64_t[]){0}, 100.0f), MT_OK);
        mt_clear_error();
        cr_assert_eq(mt_backward(z), MT_ERR_AUTODIFF);
        t_expect_error(MT_ERR_AUTODIFF, "mt_backward");
        cr_assert(strstr(mt_last_error(), "mul"), "names the operation: %s", mt_last_error());
        cr_assert_null(mt_grad(x), "no gradient was committed");
        mt_scope_end(s);
    }
}

Test(inplace, set_on_a_sigmoid_output_refuses_backward)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_full(MT_DIMS(1), 0.0f);
    mt_set_requires_grad(x, true);
    mt_tensor *y = mt_sigmoid(x); /* saves its output 0.5; gradient 0.25 */
    cr_assert_eq(mt_set(y, (const int64_t[]){0}, 5.0f), MT_OK);
    cr_assert_eq(mt_backward(y), MT_ERR_AUTODIFF);
    cr_assert(strstr(mt_last_error(), "sigmoid"), "%s", mt_last_error());
    mt_scope_end(s);
}

Test(inplace, map_out_in_no_grad_mode_on_a_saved_input_refuses_backward)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_full(MT_DIMS(1), 2.0f);
    mt_set_requires_grad(x, true);
    mt_tensor *a = mt_mul_scalar(x, 1.0f); /* a = 2, not a leaf */
    mt_tensor *y = mt_mul(a, a);           /* dy/da = 2a = 4 */
    mt_no_grad_begin();
    cr_assert_eq(mt_map_out(a, MT_OP_NEG, a), MT_OK); /* a = -2 in place */
    mt_no_grad_end();
    cr_assert_eq(mt_backward(y), MT_ERR_AUTODIFF);
    mt_scope_end(s);
}

Test(inplace, second_backward_after_sgd_step_is_refused)
{
    mt_scope s = mt_scope_begin();
    mt_params params = {0};
    mt_tensor *w = mt_full(MT_DIMS(1), 3.0f);
    mt_set_requires_grad(w, true);
    cr_assert_eq(mt_params_add(&params, w), MT_OK);
    mt_tensor *loss = mt_mul(w, w); /* d/dw = 2w = 6 */
    cr_assert_eq(mt_backward(loss), MT_OK);
    cr_assert_eq(grad_at(w, 0), 6.0f);
    cr_assert_eq(mt_sgd_step(&params, 0.5f), MT_OK); /* w = 0 */
    cr_assert_eq(item(w), 0.0f);
    cr_assert_eq(mt_backward(loss), MT_ERR_AUTODIFF, "the graph saw w = 3, now it is 0");
    mt_params_free(&params);
    mt_scope_end(s);
}

Test(inplace, copy_from_and_writes_through_mt_data_refuse_backward)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_full(MT_DIMS(2), 3.0f), *y = mt_full(MT_DIMS(2), 1.0f);
    mt_set_requires_grad(x, true);
    mt_tensor *z = mt_sum_all(mt_mul(x, y));
    cr_assert_eq(mt_copy_from(y, (const float[]){5, 5}, 2), MT_OK);
    cr_assert_eq(mt_backward(z), MT_ERR_AUTODIFF, "mt_copy_from bumped y's version");
    mt_tensor *w = mt_full(MT_DIMS(2), 1.0f);
    mt_tensor *z2 = mt_sum_all(mt_mul(x, w));
    mt_data(w)[0] = 9.0f; /* a raw write: autodiff cannot see it ... */
    cr_assert_eq(mt_mark_modified(w), MT_OK); /* ... until the caller says so */
    cr_assert_eq(mt_backward(z2), MT_ERR_AUTODIFF);
    mt_scope_end(s);
}

Test(inplace, unchanged_values_still_backward_and_add_is_not_refused)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_full(MT_DIMS(1), 3.0f), *y = mt_full(MT_DIMS(1), 1.0f);
    mt_set_requires_grad(x, true);
    mt_tensor *z = mt_add(x, y); /* add's gradient does not read y: writing y is harmless */
    cr_assert_eq(mt_set(y, (const int64_t[]){0}, 100.0f), MT_OK);
    cr_assert_eq(mt_backward(z), MT_OK, "%s", mt_last_error());
    cr_assert_eq(grad_at(x, 0), 1.0f);
    mt_scope_end(s);
}

Test(inplace, set_on_a_leaf_requiring_grad_is_refused_outside_no_grad)
{
    mt_tensor *w = mt_full(MT_DIMS(2), 1.0f);
    mt_set_requires_grad(w, true);
    mt_clear_error();
    cr_assert_eq(mt_set(w, (const int64_t[]){1}, 7.0f), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_set");
    float v;
    mt_get(w, (const int64_t[]){1}, &v);
    cr_assert_eq(v, 1.0f, "unchanged");
    mt_no_grad_begin();
    cr_assert_eq(mt_set(w, (const int64_t[]){1}, 7.0f), MT_OK);
    mt_no_grad_end();
    mt_get(w, (const int64_t[]){1}, &v);
    cr_assert_eq(v, 7.0f);
    mt_release(w);
}

/* ---- concurrency ---- */

#define SHARED_STEPS 200
static mt_tensor *shared_leaf;

static void *backward_many(void *unused)
{
    (void)unused;
    for (int i = 0; i < SHARED_STEPS; i++) {
        mt_scope s = mt_scope_begin();
        mt_tensor *y = mt_sum_all(mt_mul_scalar(shared_leaf, 2.0f)); /* d/dleaf = 2 each */
        if (mt_backward(y) != MT_OK) return (void *)1;
        mt_scope_end(s);
    }
    return NULL;
}

Test(threads_contract, backward_on_graphs_sharing_a_leaf_from_two_threads)
{
    shared_leaf = mt_zeros(MT_DIMS(64, 64));
    mt_set_requires_grad(shared_leaf, true);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, backward_many, NULL);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r, "a backward pass failed");
    }
    /* every element received 2 per pass, from 2 x SHARED_STEPS passes: exact in float */
    mt_tensor *g = mt_grad(shared_leaf);
    cr_assert_not_null(g);
    t_expect_filled("accumulated gradient", g, 4.0f * SHARED_STEPS);
    mt_release(g);
    mt_release(shared_leaf);
}

typedef struct scope_handoff {
    mt_scope scope;
    mt_status status;
} scope_handoff;

static void *end_foreign_scope(void *context)
{
    scope_handoff *h = context;
    mt_scope mine = mt_scope_begin(); /* a scope of this thread at the same depth */
    h->status = mt_scope_end(h->scope);
    mt_scope_end(mine);
    return NULL;
}

Test(threads_contract, a_scope_handle_from_another_thread_is_refused)
{
    scope_handoff h = {.scope = mt_scope_begin()};
    mt_tensor *kept = mt_ones(MT_DIMS(3));
    pthread_t t;
    pthread_create(&t, NULL, end_foreign_scope, &h);
    pthread_join(t, NULL);
    cr_assert_eq(h.status, MT_ERR_SCOPE);
    cr_assert_eq(mt_numel(kept), 3, "the tensor of this thread's scope is still alive");
    cr_assert_eq(mt_scope_end(h.scope), MT_OK);
}

static void *exit_with_open_scope(void *unused)
{
    (void)unused;
    mt_scope_begin();
    for (int i = 0; i < 10; i++) mt_ones(MT_DIMS(1000));
    return NULL; /* exits without ending the scope */
}

Test(threads_contract, a_thread_exiting_with_a_scope_open_frees_it)
{
    mt_memory_stats before, after;
    mt_memory_get_stats(&before);
    pthread_t t;
    pthread_create(&t, NULL, exit_with_open_scope, NULL);
    pthread_join(t, NULL);
    mt_memory_get_stats(&after);
    cr_assert_eq(after.live_tensors, before.live_tensors, "tensors of the exited thread freed");
    cr_assert_eq(after.bytes_in_use, before.bytes_in_use);
}

Test(threads_contract, params_list_owns_its_reference)
{
    mt_params params = {0};
    mt_tensor *w = mt_ones(MT_DIMS(4));
    mt_set_requires_grad(w, true);
    cr_assert_eq(mt_params_add(&params, w), MT_OK);
    cr_assert_eq(mt_release(w), MT_OK, "the caller's own reference");
    mt_clear_error();
    cr_assert_eq(mt_release(w), MT_ERR_SCOPE, "the list's reference is not the caller's");
    t_expect_error(MT_ERR_SCOPE, "mt_release");
    mt_scope s = mt_scope_begin();
    cr_assert_eq(mt_backward(mt_sum_all(mt_mul(params.items[0], params.items[0]))), MT_OK);
    mt_scope_end(s);
    cr_assert_eq(mt_sgd_step(&params, 0.25f), MT_OK); /* 1 - 0.25 * 2 */
    t_expect_filled("updated parameter", params.items[0], 0.5f);
    mt_params_free(&params);
}

/* ---- status contract ---- */

Test(contract_status, a_failing_call_returns_the_recorded_status)
{
    mt_clear_error();
    mt_tensor *a = mt_ones(MT_DIMS(2, 3));
    mt_tensor *bad = mt_matmul(a, a); /* inner dims differ: MT_ERR_SHAPE */
    cr_assert_null(bad);
    mt_status status = mt_backward(mt_sum_all(bad)); /* the chain's first failure */
    cr_assert_eq(status, mt_last_status());
    cr_assert_eq(status, MT_ERR_SHAPE);
    mt_clear_error();
    status = mt_backward(NULL);
    cr_assert_eq(status, MT_ERR_NULL);
    cr_assert_eq(status, mt_last_status());
    status = mt_zip_out(a, MT_OP_ADD, a, NULL);
    cr_assert_eq(status, mt_last_status(), "NULL after an earlier failure keeps it: both agree");
    mt_release(a);
}

/* ---- hardening ---- */

Test(hardening, mlp_epoch_on_an_absurd_dataset_size_fails_cleanly)
{
    mt_mlp model;
    cr_assert_eq(mt_mlp_init(&model, 2, 4, 1), MT_OK);
    float x[4] = {0}, y[2] = {0};
    mt_dataset data = {MT_DATASET_SIMPLE, (int64_t)1 << 62, x, y};
    mt_train_options options = {.rate = 0.1f, .batch = 2, .seed = 1};
    mt_epoch_result result;
    mt_status status = mt_mlp_train_epoch(&model, &data, &options, 0, &result);
    cr_assert(status == MT_ERR_OVERFLOW || status == MT_ERR_NO_MEMORY, "%s", mt_strerror(status));
    mt_mlp_free(&model);
}

Test(hardening, one_hot_with_extreme_class_counts)
{
    const int64_t labels[2] = {0, 1};
    mt_clear_error();
    cr_assert_null(mt_one_hot(labels, 2, INT64_MIN));
    cr_assert_eq(mt_last_status(), MT_ERR_INDEX);
    cr_assert_null(mt_one_hot(labels, 2, INT64_MAX)); /* 2 x INT64_MAX overflows */
    cr_assert_eq(mt_last_status(), MT_ERR_OVERFLOW);
}

Test(hardening, non_overlapping_narrows_of_one_storage_as_out_and_input)
{
    mt_tensor *base = mt_from_data(MT_DIMS(2, 3), (const float[]){1, 2, 3, 4, 5, 6});
    mt_tensor *top = mt_narrow(base, 0, 0, 1), *bottom = mt_narrow(base, 0, 1, 1);
    cr_assert_eq(mt_zip_out(top, MT_OP_ADD, bottom, bottom), MT_OK, "%s", mt_last_error());
    t_expect_close("top = 2 * bottom", top, (const double[]){8, 10, 12}, 0, 0);
    t_expect_close("bottom unchanged", bottom, (const double[]){4, 5, 6}, 0, 0);
    /* overlapping views are still refused */
    mt_tensor *left = mt_narrow(base, 1, 0, 2), *right = mt_narrow(base, 1, 1, 2);
    cr_assert_eq(mt_map_out(left, MT_OP_NEG, right), MT_ERR_INVALID_ARG);
    mt_release(left);
    mt_release(right);
    mt_release(top);
    mt_release(bottom);
    mt_release(base);
}

Test(hardening, bad_cache_limit_variable_is_reported_once)
{
    /* each test runs in its own process: the variable is read at the first allocation here */
    setenv("MINITORCH_CACHE_LIMIT_MB", "lots", 1);
    char path[] = "/tmp/minitorch-stderr-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    mt_tensor *t = mt_ones(MT_DIMS(4));
    mt_release(mt_ones(MT_DIMS(4)));
    mt_memory_stats stats;
    mt_memory_get_stats(&stats);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    mt_release(t);
    FILE *f = fdopen(fd, "r");
    rewind(f);
    char *text = t_read_stream(f);
    fclose(f);
    unlink(path);
    int lines = 0;
    for (const char *p = strstr(text, "MINITORCH_CACHE_LIMIT_MB"); p; p = strstr(p + 1, "MINITORCH_CACHE_LIMIT_MB")) lines++;
    cr_assert_eq(lines, 1, "one message, got: %s", text);
    cr_assert(strstr(text, "\"lots\""), "%s", text);
    cr_assert_eq(stats.cache_limit, (int64_t)1024 << 20, "the default limit is used");
    free(text);
}

/* ---- thread counts on blas: one step's gradients differ only by sgemm's summation order ---- */

/* gamma_n = n u / (1 - n u): the bound on the relative error of an n-term float sum in any order. */
static double gamma_n(int64_t n)
{
    const double u = ldexp(1.0, -24);
    return (double)n * u / (1.0 - (double)n * u);
}

Test(threads_contract, blas_gradients_for_1_2_3_threads_within_the_summation_bound)
{
    enum { N = 384, K = 256, M = 320 };
    t_use_backend(1);
    t_rng r = t_rng_seed(12);
    double *va = t_random_values(&r, N * K, -1, 1), *vb = t_random_values(&r, K * M, -1, 1);
    float grads[3][K * M];
    for (int t = 0; t < 3; t++) {
        cr_assert_eq(mt_set_num_threads(t + 1), MT_OK);
        mt_scope s = mt_scope_begin();
        mt_tensor *a = t_tensor(&r, 2, (const int64_t[]){N, K}, va, 0);
        mt_tensor *b = t_tensor(&r, 2, (const int64_t[]){K, M}, vb, 0);
        mt_set_requires_grad(b, true);
        cr_assert_eq(mt_backward(mt_sum_all(mt_matmul(a, b))), MT_OK);
        cr_assert_eq(mt_copy_to(mt_grad(b), grads[t], K * M), MT_OK);
        mt_scope_end(s);
    }
    mt_set_num_threads(0);
    /* dB[k][m] = sum_n A[n][k] (times the ones gradient): two float sums of the same N terms
     * differ by at most 2 gamma_N sum_n |A[n][k]| */
    for (int k = 0; k < K; k++) {
        double abs_sum = 0;
        for (int n = 0; n < N; n++) abs_sum += fabs((double)(float)va[n * K + k]);
        double bound = 2 * gamma_n(N) * abs_sum;
        for (int t = 1; t < 3; t++)
            for (int m = 0; m < M; m++)
                cr_assert_leq(fabs((double)grads[t][k * M + m] - grads[0][k * M + m]), bound,
                              "%d threads, dB[%d][%d]", t + 1, k, m);
    }
    free(va);
    free(vb);
}
