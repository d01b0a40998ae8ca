/* nn module: datasets, Linear, SGD, losses, and short training runs. Expected values come from
 * the test's own formulas (in double) or hand computation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* ---- datasets ---- */

static double rule(mt_dataset_kind kind, double x1, double x2)
{
    switch (kind) {
    case MT_DATASET_SIMPLE: return x1 < 0.5;
    case MT_DATASET_DIAG: return x1 + x2 < 0.5;
    case MT_DATASET_SPLIT: return x1 < 0.2 || x1 > 0.8;
    case MT_DATASET_XOR: return (x1 < 0.5 && x2 > 0.5) || (x1 > 0.5 && x2 < 0.5);
    case MT_DATASET_CIRCLE: return (x1 - 0.5) * (x1 - 0.5) + (x2 - 0.5) * (x2 - 0.5) > 0.1;
    default: return -1;
    }
}

Test(datasets, counts_ranges_and_label_rules)
{
    mt_dataset_kind kinds[] = {MT_DATASET_SIMPLE, MT_DATASET_DIAG, MT_DATASET_SPLIT, MT_DATASET_XOR,
                               MT_DATASET_CIRCLE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        mt_dataset d;
        cr_assert_eq(mt_dataset_make(&d, kinds[k], 1000, 7), MT_OK, "%s", mt_last_error());
        cr_assert_eq(d.n, 1000);
        int64_t ones = 0;
        for (int64_t i = 0; i < d.n; i++) {
            float x1 = d.x[2 * i], x2 = d.x[2 * i + 1];
            cr_assert(x1 >= 0 && x1 < 1 && x2 >= 0 && x2 < 1, "point %lld outside [0,1)^2", (long long)i);
            /* the rule evaluated in float, as the data is float */
            cr_assert_eq(d.y[i], (float)rule(kinds[k], x1, x2), "%s point %lld (%g, %g) label %g",
                         mt_dataset_kind_name(kinds[k]), (long long)i, x1, x2, d.y[i]);
            ones += d.y[i] == 1.0f;
        }
        cr_assert(ones > 0 && ones < d.n, "%s has both classes", mt_dataset_kind_name(kinds[k]));
        mt_dataset_free(&d);
    }
}

Test(datasets, deterministic_from_the_seed)
{
    mt_dataset a, b, c;
    cr_assert_eq(mt_dataset_make(&a, MT_DATASET_XOR, 200, 42), MT_OK);
    cr_assert_eq(mt_dataset_make(&b, MT_DATASET_XOR, 200, 42), MT_OK);
    cr_assert_eq(mt_dataset_make(&c, MT_DATASET_XOR, 200, 43), MT_OK);
    cr_assert(memcmp(a.x, b.x, sizeof(float) * 400) == 0 && memcmp(a.y, b.y, sizeof(float) * 200) == 0);
    cr_assert(memcmp(a.x, c.x, sizeof(float) * 400) != 0, "another seed gives other points");
    mt_dataset_free(&a);
    mt_dataset_free(&b);
    mt_dataset_free(&c);
}

Test(datasets, spiral_is_exact)
{
    for (int64_t n = 2; n <= 101; n += 33) {
        mt_dataset d;
        cr_assert_eq(mt_dataset_make(&d, MT_DATASET_SPIRAL, n, 999), MT_OK);
        int64_t half = n / 2;
        cr_assert_eq(d.n, 2 * half, "spiral keeps 2 * (n / 2) points");
        for (int64_t i = 0; i < half; i++) {
            double t = 10.0 * (double)(i + 5) / (double)half;
            double x0 = t * cos(t) / 20.0 + 0.5, y0 = t * sin(t) / 20.0 + 0.5;
            double x1 = -t * sin(-t) / 20.0 + 0.5, y1 = -t * cos(-t) / 20.0 + 0.5;
            cr_assert_eq(d.x[2 * i], (float)x0);
            cr_assert_eq(d.x[2 * i + 1], (float)y0);
            cr_assert_eq(d.y[i], 0.0f);
            cr_assert_eq(d.x[2 * (half + i)], (float)x1);
            cr_assert_eq(d.x[2 * (half + i) + 1], (float)y1);
            cr_assert_eq(d.y[half + i], 1.0f);
        }
        mt_dataset_free(&d);
    }
}

Test(datasets, names_and_errors)
{
    mt_dataset_kind kind;
    const char *names[] = {"simple", "diag", "split", "xor", "circle", "spiral"};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(mt_dataset_kind_from_name(names[i], &kind), MT_OK);
        cr_assert_str_eq(mt_dataset_kind_name(kind), names[i]);
    }
    mt_clear_error();
    cr_assert_eq(mt_dataset_kind_from_name("moons", &kind), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_dataset_kind_from_name");
    mt_dataset d;
    mt_clear_error();
    cr_assert_eq(mt_dataset_make(&d, MT_DATASET_SIMPLE, 0, 1), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_dataset_make");
    mt_clear_error();
    cr_assert_eq(mt_dataset_make(&d, (mt_dataset_kind)17, 10, 1), MT_ERR_INVALID_ARG);
    mt_clear_error();
    cr_assert_eq(mt_dataset_make(NULL, MT_DATASET_SIMPLE, 10, 1), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_dataset_make");
}

/* ---- Linear and SGD ---- */

Test(linear, initialisation_follows_minitorch)
{
    mt_params params = {0};
    mt_linear_layer layer;
    cr_assert_eq(mt_linear_layer_init(&layer, 3, 4, 5, &params), MT_OK);
    cr_assert_eq(params.count, 2);
    t_expect_shape(layer.weight, MT_DIMS(3, 4));
    t_expect_shape(layer.bias, MT_DIMS(4));
    cr_assert(mt_requires_grad(layer.weight) && mt_requires_grad(layer.bias));
    double *w = t_values(layer.weight), *b = t_values(layer.bias);
    bool all_equal = true;
    for (int i = 0; i < 12; i++) {
        cr_assert(w[i] >= -0.5 && w[i] < 0.5, "weight %g outside [-0.5, 0.5)", w[i]);
        all_equal &= w[i] == w[0];
    }
    cr_assert(!all_equal);
    for (int i = 0; i < 4; i++) cr_assert_eq(b[i], (double)0.1f);
    free(w);
    free(b);
    mt_linear_layer_free(&layer);
    mt_params_free(&params);
}

/* One SGD step on hand-computed values: y = x W + b, loss = sum(y) -> dW = x^T 1, db = N. */
Test(linear, one_sgd_step_by_hand)
{
    T_BACKENDS_EACH(backend) {
        t_use_backend(backend);
        mt_params params = {0};
        mt_linear_layer layer;
        cr_assert_eq(mt_linear_layer_init(&layer, 2, 2, 1, &params), MT_OK);
        const float w0[] = {0.5f, -1.0f, 2.0f, 0.25f}; /* W = [[0.5, -1], [2, 0.25]] */
        mt_no_grad_begin(); /* writing into a parameter bypasses autodiff: allowed in no-grad */
        for (int i = 0; i < 4; i++)
            cr_assert_eq(mt_set(layer.weight, (int64_t[]){i / 2, i % 2}, w0[i]), MT_OK);
        mt_no_grad_end();
        mt_scope s = mt_scope_begin();
        float xd[] = {1, 2, 3, 4, 5, 6}; /* x (3, 2) */
        mt_tensor *x = mt_from_data(MT_DIMS(3, 2), xd);
        mt_tensor *y = mt_linear_layer_forward(&layer, x);
        /* y = x W + 0.1: row (1,2) -> (4.6, -0.4); (3,4) -> (9.6, -1.9); (5,6) -> (14.6, -3.4) */
        t_expect_close("forward", y, (double[]){4.6, -0.4, 9.6, -1.9, 14.6, -3.4}, 1e-5, 1e-6);
        cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK, "%s", mt_last_error());
        cr_assert_eq(mt_sgd_step(&params, 0.1f), MT_OK);
        mt_scope_end(s);
        /* dW = x^T 1 = [[9, 9], [12, 12]]; db = [3, 3] */
        t_expect_close("W after", layer.weight, (double[]){0.5 - 0.9, -1 - 0.9, 2 - 1.2, 0.25 - 1.2}, 1e-6, 1e-6);
        t_expect_close("b after", layer.bias, (double[]){0.1 - 0.3, 0.1 - 0.3}, 1e-6, 1e-6);
        mt_clear_error();
        cr_assert_null(mt_grad(layer.weight), "SGD zeroes the gradients");
        mt_linear_layer_free(&layer);
        mt_params_free(&params);
    }
}

/* ---- losses ---- */

static double sigmoid_d(double z) { return 1.0 / (1.0 + exp(-z)); }

Test(losses, nll_sigmoid_by_hand)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *p = mt_from_data(MT_DIMS(4, 1), (float[]){0.9f, 0.2f, 0.6f, 1.0f});
    mt_tensor *y = mt_from_data(MT_DIMS(4, 1), (float[]){1, 0, 0, 1});
    mt_tensor *loss = mt_loss_nll_sigmoid(p, y);
    double expected = -(log((double)0.9f + 1e-7) + log(1 - (double)0.2f + 1e-7) +
                        log(1 - (double)0.6f + 1e-7) + log(1 + 1e-7)) / 4;
    t_expect_shape(loss, MT_DIMS(1));
    t_expect_close("nll", loss, &expected, 1e-6, 1e-5);
    /* a saturated wrong prediction stays finite */
    mt_tensor *bad = mt_loss_nll_sigmoid(mt_from_data(MT_DIMS(1), (float[]){0.0f}),
                                         mt_from_data(MT_DIMS(1), (float[]){1.0f}));
    cr_assert(isfinite(mt_item(bad)) && mt_item(bad) > 15, "loss %g", mt_item(bad));
    mt_scope_end(s);
}

Test(losses, bce_with_logits_is_stable_and_correct)
{
    T_BACKENDS_EACH(backend) {
        t_use_backend(backend);
        mt_scope s = mt_scope_begin();
        const float z[] = {-100.0f, -3.0f, -0.5f, 0.0f, 0.7f, 4.0f, 100.0f, 30.0f};
        const float t[] = {1, 0, 1, 0.5f, 0, 1, 0, 1};
        mt_tensor *zt = mt_from_data(MT_DIMS(8), z), *yt = mt_from_data(MT_DIMS(8), t);
        mt_set_requires_grad(zt, true);
        mt_tensor *loss = mt_loss_bce_with_logits(zt, yt);
        double expected = 0;
        double grad[8];
        for (int i = 0; i < 8; i++) {
            double zi = z[i], yi = t[i];
            expected += fmax(zi, 0) - zi * yi + log1p(exp(-fabs(zi)));
            grad[i] = (sigmoid_d(zi) - yi) / 8; /* d/dz of the mean */
        }
        expected /= 8;
        t_expect_close("bce", loss, &expected, 1e-5, 1e-5);
        cr_assert_eq(mt_backward(loss), MT_OK);
        t_expect_close("bce grad", mt_grad(zt), grad, 1e-6, 1e-4);
        mt_scope_end(s);
    }
}

Test(losses, softmax_cross_entropy_is_stable_and_correct)
{
    T_BACKENDS_EACH(backend) {
        t_use_backend(backend);
        mt_scope s = mt_scope_begin();
        /* row 0 ordinary, row 1 huge logits (overflow without the max shift), row 2 soft target */
        const float z[] = {1.0f, 2.0f, 0.5f, 1000.0f, 990.0f, 1001.0f, -3.0f, 0.0f, 3.0f};
        const float t[] = {0, 1, 0, 0, 0, 1, 0.25f, 0.25f, 0.5f};
        mt_tensor *zt = mt_from_data(MT_DIMS(3, 3), z), *tt = mt_from_data(MT_DIMS(3, 3), t);
        mt_set_requires_grad(zt, true);
        mt_tensor *loss = mt_loss_softmax_cross_entropy(zt, tt);
        double expected = 0, grad[9];
        for (int r = 0; r < 3; r++) {
            double m = fmax(fmax(z[3 * r], z[3 * r + 1]), z[3 * r + 2]), sum = 0;
            for (int c = 0; c < 3; c++) sum += exp(z[3 * r + c] - m);
            double lse = m + log(sum);
            for (int c = 0; c < 3; c++) {
                expected -= t[3 * r + c] * (z[3 * r + c] - lse);
                grad[3 * r + c] = (exp(z[3 * r + c] - lse) - t[3 * r + c]) / 3; /* sum(t) = 1 */
            }
        }
        expected /= 3;
        t_expect_close("softmax ce", loss, &expected, 1e-5, 1e-5);
        cr_assert_eq(mt_backward(loss), MT_OK);
        t_expect_close("softmax ce grad", mt_grad(zt), grad, 1e-6, 1e-4);
        mt_tensor *oh = mt_one_hot((int64_t[]){2, 0}, 2, 3);
        t_expect_close("one hot", oh, (double[]){0, 0, 1, 1, 0, 0}, 0, 0);
        mt_clear_error();
        cr_assert_null(mt_one_hot((int64_t[]){3}, 1, 3));
        t_expect_error(MT_ERR_INDEX, "mt_one_hot");
        mt_scope_end(s);
    }
}

/* ---- training ---- */

static double train(mt_dataset_kind kind, int64_t hidden, int64_t epochs, int64_t batch,
                    float rate, double *first_loss, int64_t *correct, float *weights, int64_t count)
{
    mt_dataset data;
    mt_mlp model;
    cr_assert_eq(mt_dataset_make(&data, kind, 50, 3), MT_OK);
    cr_assert_eq(mt_mlp_init(&model, 2, hidden, 11), MT_OK);
    mt_train_options options = {rate, batch, 5, false};
    mt_epoch_result r = {0};
    for (int64_t e = 1; e <= epochs; e++) {
        cr_assert_eq(mt_mlp_train_epoch(&model, &data, &options, e, &r), MT_OK, "%s", mt_last_error());
        if (e == 1 && first_loss) *first_loss = r.loss;
    }
    if (correct) cr_assert_eq(mt_mlp_evaluate(&model, &data, correct), MT_OK);
    if (weights) cr_assert_eq(mt_copy_to(model.layer2.weight, weights, count), MT_OK);
    mt_mlp_free(&model);
    mt_dataset_free(&data);
    return r.loss;
}

Test(training, simple_and_xor_reach_95_percent)
{
    struct { mt_dataset_kind kind; int64_t hidden, epochs; } runs[] = {
        {MT_DATASET_SIMPLE, 10, 150}, {MT_DATASET_XOR, 20, 400}};
    for (int i = 0; i < 2; i++) {
        double first;
        int64_t correct;
        double last = train(runs[i].kind, runs[i].hidden, runs[i].epochs, 10, 0.5f, &first, &correct, NULL, 0);
        cr_assert(last < first / 2, "%s: loss %g -> %g did not decrease enough",
                  mt_dataset_kind_name(runs[i].kind), first, last);
        cr_assert(correct >= 48, "%s: %lld/50 correct", mt_dataset_kind_name(runs[i].kind), (long long)correct);
    }
}

Test(training, same_seed_same_model_for_any_thread_count)
{
    enum { H = 16 };
    float w1[H * H], w2[H * H], w3[H * H];
    t_use_backend(0);
    cr_assert_eq(mt_set_num_threads(1), MT_OK);
    double l1 = train(MT_DATASET_SPLIT, H, 40, 10, 0.1f, NULL, NULL, w1, H * H);
    cr_assert_eq(mt_set_num_threads(2), MT_OK);
    double l2 = train(MT_DATASET_SPLIT, H, 40, 10, 0.1f, NULL, NULL, w2, H * H);
    cr_assert(l1 == l2 && memcmp(w1, w2, sizeof w1) == 0, "naive: 1 vs 2 threads differ (%.9g vs %.9g)", l1, l2);
    t_use_backend(1);
    double l3 = train(MT_DATASET_SPLIT, H, 40, 10, 0.1f, NULL, NULL, w3, H * H);
    cr_assert(fabs(l3 - l1) <= 1e-4 * fabs(l1) + 1e-6, "blas loss %.9g vs naive %.9g", l3, l1);
    for (int i = 0; i < H * H; i++) cr_assert(fabsf(w3[i] - w1[i]) < 1e-4f, "weight %d", i);
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
}

Test(training, memory_stays_flat)
{
    mt_dataset data;
    mt_mlp model;
    cr_assert_eq(mt_dataset_make(&data, MT_DATASET_SPLIT, 50, 3), MT_OK);
    cr_assert_eq(mt_mlp_init(&model, 2, 20, 1), MT_OK);
    mt_train_options options = {0.05f, 10, 1, false};
    mt_epoch_result r;
    mt_memory_stats at10 = {0}, at100;
    for (int64_t e = 1; e <= 100; e++) {
        cr_assert_eq(mt_mlp_train_epoch(&model, &data, &options, e, &r), MT_OK);
        if (e == 10) mt_memory_get_stats(&at10);
    }
    mt_memory_get_stats(&at100);
    cr_assert_eq(at100.live_tensors, at10.live_tensors, "tensors alive: %lld at epoch 10, %lld at 100",
                 (long long)at10.live_tensors, (long long)at100.live_tensors);
    cr_assert_eq(at100.bytes_in_use, at10.bytes_in_use);
    cr_assert_eq(at100.peak_bytes_in_use, at10.peak_bytes_in_use, "peak storage grew after epoch 10");
    mt_mlp_free(&model);
    mt_dataset_free(&data);
}

Test(training, errors)
{
    mt_dataset data;
    mt_mlp model;
    mt_epoch_result r;
    mt_scope s = mt_scope_begin();
    cr_assert_eq(mt_dataset_make(&data, MT_DATASET_SPLIT, 20, 3), MT_OK);
    cr_assert_eq(mt_mlp_init(&model, 2, 4, 1), MT_OK);
    mt_train_options bad = {0.0f, 10, 1, false};
    mt_clear_error();
    cr_assert_eq(mt_mlp_train_epoch(&model, &data, &bad, 1, &r), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_mlp_train_epoch");
    mt_clear_error();
    cr_assert_eq(mt_mlp_train_epoch(&model, NULL, &bad, 1, &r), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_mlp_train_epoch");
    mt_clear_error();
    cr_assert_null(mt_loss_nll_sigmoid(mt_zeros(MT_DIMS(2, 1)), mt_zeros(MT_DIMS(3, 1))));
    t_expect_error(MT_ERR_SHAPE, "mt_loss_nll_sigmoid");
    mt_scope_end(s);
    mt_mlp_free(&model);
    mt_dataset_free(&data);
}
