/* Dropout: the fraction dropped against a binomial bound, kept values against x / (1 - p), the
 * gradient against the mask and against central differences, thread-count independence, eval
 * mode, argument checks, and the layer's train/eval switch and advancing seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define U (0x1.0p-24)

/* Values k / 8 for k in -64..64 without 0, so a dropped element (0) is told apart from a kept
 * one and x * 2 is exact. */
static float *grid(int64_t n, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int k = t_rng_int(&r, 1, 64);
        v[i] = (float)(t_rng_int(&r, 0, 1) ? k : -k) / 8.0f;
    }
    return v;
}

Test(dropout, fraction_dropped_and_kept_values)
{
    const int64_t n = 200 * 500;
    float *x = grid(n, 1);
    const float ps[] = {0.1f, 0.3f, 0.5f, 0.9f};
    for (int k = 0; k < 4; k++) {
        const double p = ps[k];
        mt_scope s = mt_scope_begin();
        mt_tensor *xt = mt_from_data(MT_DIMS(200, 500), x);
        mt_tensor *y = mt_dropout(xt, ps[k], true, 7);
        cr_assert_not_null(y, "%s", mt_last_error());
        t_expect_shape(y, MT_DIMS(200, 500));
        float *v = t_floats(y);
        const float scale = (float)(1.0 / (1.0 - p)); /* 1/(1 - p) rounded once */
        int64_t zeros = 0;
        for (int64_t i = 0; i < n; i++) {
            if (v[i] == 0.0f) {
                zeros++;
                continue;
            }
            /* exactly x times the float scale; within 2 roundings of the real x / (1 - p) */
            cr_assert_eq(v[i], x[i] * scale, "element %lld", (long long)i);
            const double exact = x[i] / (1.0 - p);
            cr_assert(fabs(v[i] - exact) <= 2 * U * fabs(exact), "element %lld: %g vs %g", (long long)i, v[i], exact);
        }
        /* binomial: zeros / n within 5 standard errors sqrt(p (1 - p) / n) of p */
        const double fraction = (double)zeros / (double)n;
        cr_assert(fabs(fraction - p) <= 5 * sqrt(p * (1 - p) / (double)n), "p = %g: dropped %g", p, fraction);
        free(v);
        mt_scope_end(s);
    }
    free(x);
}

/* loss = sum(w * dropout(x)): d loss / dx = w * mask, mask = 1/(1 - p) where kept, 0 where
 * dropped. With p = 0.5 (scale 2) and grid values everything is exact, including the central
 * differences (f(x + h e_j) - f(x - h e_j)) / 2h in double with h = 1/4. */
Test(dropout, gradient_is_the_mask)
{
    const int64_t shape[2] = {4, 5};
    float *x = grid(20, 2), *w = grid(20, 3);
    const float p = 0.5f;
    mt_scope s = mt_scope_begin();
    mt_tensor *xt = mt_from_data(2, shape, x), *wt = mt_from_data(2, shape, w);
    mt_set_requires_grad(xt, true);
    mt_tensor *y = mt_dropout(xt, p, true, 11);
    cr_assert_eq(mt_backward(mt_sum_all(mt_mul(y, wt))), MT_OK, "%s", mt_last_error());
    float *yv = t_floats(y), *g = t_floats(mt_grad(xt));
    int dropped = 0;
    for (int i = 0; i < 20; i++) {
        const double mask = yv[i] == 0.0f ? 0.0 : 2.0;
        dropped += mask == 0.0;
        cr_assert_eq(g[i], (float)(w[i] * mask), "grad %d: %g, mask %g", i, g[i], mask);
        /* central difference of the library's forward with the same seed */
        double f[2];
        for (int side = 0; side < 2; side++) {
            float xs[20];
            memcpy(xs, x, sizeof xs);
            xs[i] += side ? -0.25f : 0.25f;
            float out[20];
            mt_tensor *yi = mt_dropout(mt_from_data(2, shape, xs), p, true, 11);
            cr_assert_eq(mt_copy_to(yi, out, 20), MT_OK);
            f[side] = 0;
            for (int j = 0; j < 20; j++) f[side] += (double)w[j] * out[j];
        }
        cr_assert_eq((f[0] - f[1]) / 0.5, (double)g[i], "element %d: central difference %g, grad %g", i,
                     (f[0] - f[1]) / 0.5, (double)g[i]);
    }
    cr_assert(dropped > 0 && dropped < 20, "seed 11 should drop some but not all of 20");
    free(yv);
    free(g);
    mt_scope_end(s);
    free(x);
    free(w);
}

Test(dropout, identical_for_1_2_3_threads_and_any_layout)
{
    const int64_t n = 600 * 500;
    float *x = grid(n, 4), *out[3];
    const int before = mt_get_num_threads();
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        mt_scope s = mt_scope_begin();
        mt_tensor *y = mt_dropout(mt_from_data(MT_DIMS(600, 500), x), 0.25f, true, 5);
        out[threads - 1] = t_floats(y);
        mt_scope_end(s);
    }
    mt_set_num_threads(before);
    for (int k = 1; k < 3; k++)
        cr_assert(memcmp(out[0], out[k], sizeof(float) * (size_t)n) == 0, "%d threads differ", k + 1);
    /* a transposed view drops by position in its own shape, as its contiguous copy does */
    mt_scope s = mt_scope_begin();
    mt_tensor *view = mt_transpose(mt_from_data(MT_DIMS(600, 500), x), 0, 1);
    float *a = t_floats(mt_dropout(view, 0.25f, true, 5));
    float *b = t_floats(mt_dropout(mt_contiguous(view), 0.25f, true, 5));
    cr_assert(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
    /* another seed, another mask */
    float *c = t_floats(mt_dropout(view, 0.25f, true, 6));
    cr_assert(memcmp(a, c, sizeof(float) * (size_t)n) != 0);
    mt_scope_end(s);
    free(a);
    free(b);
    free(c);
    for (int k = 0; k < 3; k++) free(out[k]);
    free(x);
}

Test(dropout, eval_p0_p1_and_bad_p)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_from_data(MT_DIMS(2, 3), (const float[]){1, -2, 3, -4, 5, -6});
    mt_set_requires_grad(x, true);
    /* eval mode and p = 0: x itself */
    cr_assert(mt_dropout(x, 0.5f, false, 1) == x);
    cr_assert(mt_dropout(x, 0.0f, true, 1) == x);
    /* p = 1: zeros, and a zero gradient */
    mt_tensor *y = mt_dropout(x, 1.0f, true, 1);
    t_expect_filled("p = 1", y, 0.0f);
    cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK);
    t_expect_filled("p = 1 gradient", mt_grad(x), 0.0f);
    const float bad[] = {-0.1f, 1.5f, NAN, INFINITY};
    for (int k = 0; k < 4; k++) {
        mt_clear_error();
        cr_assert_null(mt_dropout(x, bad[k], true, 1));
        t_expect_error(MT_ERR_INVALID_ARG, "mt_dropout");
        cr_assert_null(mt_dropout(x, bad[k], false, 1), "p is checked in eval mode too");
    }
    mt_clear_error();
    cr_assert_null(mt_dropout(NULL, 0.5f, true, 1));
    t_expect_error(MT_ERR_NULL, "mt_dropout");
    mt_scope_end(s);
    /* outside a scope the eval result is a reference of the caller's own */
    mt_tensor *z = mt_zeros(MT_DIMS(3));
    mt_tensor *same = mt_dropout(z, 0.5f, false, 1);
    cr_assert(same == z);
    cr_assert_eq(mt_release(same), MT_OK);
    cr_assert_eq(mt_numel(z), 3);
    cr_assert_eq(mt_release(z), MT_OK);
}

Test(dropout_layer, train_eval_and_advancing_seed)
{
    mt_dropout_layer a, b;
    cr_assert_eq(mt_dropout_layer_init(&a, 0.5f, 42), MT_OK);
    cr_assert_eq(mt_dropout_layer_init(&b, 0.5f, 42), MT_OK);
    cr_assert(a.training);
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_ones(MT_DIMS(256));
    float *first = t_floats(mt_dropout_layer_forward(&a, x));
    float *second = t_floats(mt_dropout_layer_forward(&a, x));
    cr_assert(memcmp(first, second, sizeof(float) * 256) != 0, "each training call draws a new mask");
    /* the same seed replays the same sequence */
    float *replay = t_floats(mt_dropout_layer_forward(&b, x));
    cr_assert(memcmp(first, replay, sizeof(float) * 256) == 0);
    /* eval: identity, and the sequence does not advance */
    cr_assert_eq(mt_dropout_layer_train(&a, false), MT_OK);
    cr_assert(mt_dropout_layer_forward(&a, x) == x);
    cr_assert_eq(a.calls, 2u);
    cr_assert_eq(mt_dropout_layer_train(&a, true), MT_OK);
    float *third = t_floats(mt_dropout_layer_forward(&a, x));
    float *b2 = t_floats(mt_dropout_layer_forward(&b, x)), *b3 = t_floats(mt_dropout_layer_forward(&b, x));
    cr_assert(memcmp(second, b2, sizeof(float) * 256) == 0 && memcmp(third, b3, sizeof(float) * 256) == 0);
    /* a failed call does not advance it either */
    mt_clear_error();
    cr_assert_null(mt_dropout_layer_forward(&a, NULL));
    t_expect_error(MT_ERR_NULL, "mt_dropout_layer_forward");
    cr_assert_eq(a.calls, 3u);
    mt_scope_end(s);
    free(first), free(second), free(replay), free(third), free(b2), free(b3);
    mt_dropout_layer c = {.p = 9};
    mt_clear_error();
    cr_assert_eq(mt_dropout_layer_init(&c, 1.01f, 1), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_dropout_layer_init");
    cr_assert_eq(c.p, 9.0f);
    mt_clear_error();
    cr_assert_eq(mt_dropout_layer_train(NULL, true), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_dropout_layer_train");
}
