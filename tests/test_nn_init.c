/* torch.nn.init counterparts and the Linear layer's initialisation choice. Distributions are
 * checked with bounds derived from the sample size: a sample mean is within 5 standard errors of
 * the true mean (and likewise the sample variance), which a correct generator fails with
 * probability below 1e-6 per check; ranges, gains and fans are checked exactly against values
 * computed by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define U (0x1.0p-24)

typedef struct moments {
    double mean, var, min, max;
} moments;

static moments moments_of(const mt_tensor *t)
{
    const int64_t n = mt_numel(t);
    float *v = t_floats(t);
    moments m = {0, 0, INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) {
        m.mean += v[i];
        m.min = fmin(m.min, v[i]);
        m.max = fmax(m.max, v[i]);
    }
    m.mean /= (double)n;
    for (int64_t i = 0; i < n; i++) m.var += (v[i] - m.mean) * (v[i] - m.mean);
    m.var /= (double)(n - 1);
    free(v);
    return m;
}

/* Mean and variance of n draws from a distribution with this mean, variance and 4th central
 * moment, each within 5 standard errors: SE(mean) = sqrt(var / n), SE(variance) =
 * sqrt((mu4 - var^2) / n). */
static void expect_moments(const char *what, const mt_tensor *t, double mean, double var, double mu4)
{
    const double n = (double)mt_numel(t);
    moments m = moments_of(t);
    cr_assert(fabs(m.mean - mean) <= 5 * sqrt(var / n), "%s: mean %g, expected %g", what, m.mean, mean);
    cr_assert(fabs(m.var - var) <= 5 * sqrt((mu4 - var * var) / n), "%s: variance %g, expected %g",
              what, m.var, var);
}

/* Uniform on [-b, b): variance b^2/3, 4th moment b^4/5. Every value in [-b, b) with b rounded
 * to float (the fill draws in float bounds). */
static void expect_uniform(const char *what, const mt_tensor *t, double lo, double hi)
{
    const double half = (hi - lo) / 2;
    expect_moments(what, t, (lo + hi) / 2, half * half / 3, pow(half, 4) / 5);
    moments m = moments_of(t);
    cr_assert(m.min >= (float)lo && m.max < (float)hi, "%s: range [%g, %g] outside [%g, %g)", what,
              m.min, m.max, lo, hi);
}

/* Normal: 4th moment 3 sigma^4; Box-Muller from 32-bit uniforms stays within 6.7 sigma. */
static void expect_normal(const char *what, const mt_tensor *t, double mean, double std)
{
    expect_moments(what, t, mean, std * std, 3 * pow(std, 4));
    moments m = moments_of(t);
    cr_assert(m.min >= mean - 6.7 * std && m.max <= mean + 6.7 * std, "%s: range [%g, %g]", what, m.min, m.max);
}

Test(init, uniform_and_normal_distributions)
{
    mt_tensor *t = mt_zeros(MT_DIMS(400, 500));
    cr_assert_eq(mt_init_uniform(t, -2.0f, 3.0f, 1), MT_OK);
    expect_uniform("uniform", t, -2, 3);
    cr_assert_eq(mt_init_normal(t, 1.5f, 0.5f, 2), MT_OK);
    expect_normal("normal", t, 1.5, 0.5);
    /* fraction within one sigma: 0.682689..., binomial SE sqrt(p (1 - p) / n) */
    float *v = t_floats(t);
    double inside = 0;
    for (int64_t i = 0; i < 200000; i++) inside += fabs(v[i] - 1.5) < 0.5;
    inside /= 200000;
    cr_assert(fabs(inside - 0.682689492) <= 5 * sqrt(0.6827 * 0.3173 / 200000), "within 1 sigma: %g", inside);
    free(v);
    /* std 0 and lo = hi give constants */
    cr_assert_eq(mt_init_normal(t, 4.0f, 0.0f, 3), MT_OK);
    t_expect_filled("std 0", t, 4.0f);
    cr_assert_eq(mt_init_uniform(t, -1.0f, -1.0f, 3), MT_OK);
    t_expect_filled("lo = hi", t, -1.0f);
    mt_release(t);
}

Test(init, uniform_matches_rand_uniform_and_seeds_differ)
{
    mt_tensor *t = mt_zeros(MT_DIMS(7, 9)), *r = mt_rand_uniform(MT_DIMS(7, 9), -0.25f, 0.75f, 42);
    cr_assert_eq(mt_init_uniform(t, -0.25f, 0.75f, 42), MT_OK);
    float *a = t_floats(t), *b = t_floats(r);
    cr_assert(memcmp(a, b, sizeof(float) * 63) == 0, "same generator as mt_rand_uniform");
    free(a);
    free(b);
    for (int normal = 0; normal < 2; normal++) {
        mt_tensor *u = mt_zeros(MT_DIMS(64)), *w = mt_zeros(MT_DIMS(64));
        cr_assert_eq(normal ? mt_init_normal(u, 0, 1, 5) : mt_init_uniform(u, 0, 1, 5), MT_OK);
        cr_assert_eq(normal ? mt_init_normal(w, 0, 1, 6) : mt_init_uniform(w, 0, 1, 6), MT_OK);
        float *x = t_floats(u), *y = t_floats(w);
        int same = 0;
        for (int i = 0; i < 64; i++) same += x[i] == y[i];
        cr_assert_lt(same, 2, "seeds 5 and 6 should give different values");
        free(x);
        free(y);
        mt_release(u);
        mt_release(w);
    }
    mt_release(t);
    mt_release(r);
}

/* In place on views: a transposed view gets the values a contiguous tensor of the same shape
 * gets (positions are row-major in the view's own shape); elements outside a narrowed view are
 * untouched. */
Test(init, fills_strided_views_in_place)
{
    mt_tensor *base = mt_full(MT_DIMS(5, 6), 9.0f);
    mt_tensor *view = mt_transpose(base, 0, 1); /* (6, 5) */
    mt_tensor *plain = mt_zeros(MT_DIMS(6, 5));
    cr_assert_eq(mt_init_normal(view, 0, 1, 11), MT_OK);
    cr_assert_eq(mt_init_normal(plain, 0, 1, 11), MT_OK);
    float *a = t_floats(view), *b = t_floats(plain);
    cr_assert(memcmp(a, b, sizeof(float) * 30) == 0);
    free(a);
    free(b);
    mt_release(view);
    mt_release(plain);
    cr_assert_eq(mt_init_uniform(base, 0, 0, 0), MT_OK); /* zeros */
    mt_tensor *inner = mt_narrow(base, 1, 1, 4);         /* (5, 4), columns 1..4 */
    cr_assert_eq(mt_init_uniform(inner, 1.0f, 2.0f, 3), MT_OK);
    double *v = t_values(base);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++) {
            double x = v[i * 6 + j];
            if (j == 0 || j == 5)
                cr_assert_eq(x, 0.0, "outside the view [%d][%d] changed", i, j);
            else
                cr_assert(x >= 1 && x < 2, "[%d][%d] = %g", i, j, x);
        }
    free(v);
    mt_release(inner);
    mt_release(base);
}

Test(init, gains_and_fans_by_hand)
{
    cr_assert_eq(mt_init_calculate_gain(MT_NONLINEARITY_LINEAR, 0), 1.0f);
    cr_assert_eq(mt_init_calculate_gain(MT_NONLINEARITY_SIGMOID, 0), 1.0f);
    cr_assert_eq(mt_init_calculate_gain(MT_NONLINEARITY_TANH, 0), (float)(5.0 / 3.0));
    cr_assert_eq(mt_init_calculate_gain(MT_NONLINEARITY_RELU, 0), (float)1.4142135623730951);
    cr_assert_eq(mt_init_calculate_gain(MT_NONLINEARITY_SELU, 0), 0.75f);
    /* leaky_relu: sqrt(2 / (1 + a^2)); a = 0 is relu's; a = 1 is 1; a = sqrt(5) is sqrt(1/3);
     * a = 0.01 (PyTorch's default) is 1.41414284... */
    cr_assert_eq(mt_init_calculate_gain(MT_NONLINEARITY_LEAKY_RELU, 0), (float)1.4142135623730951);
    cr_assert_eq(mt_init_calculate_gain(MT_NONLINEARITY_LEAKY_RELU, 1), 1.0f);
    cr_assert(fabs(mt_init_calculate_gain(MT_NONLINEARITY_LEAKY_RELU, sqrtf(5)) - 0.5773502691896258) <= U);
    cr_assert(fabs(mt_init_calculate_gain(MT_NONLINEARITY_LEAKY_RELU, 0.01f) - 1.4141428569978354) <= 2 * U);

    const struct {
        int ndim;
        int64_t shape[4];
        int64_t in, out;
    } cases[] = {{2, {3, 4}, 3, 4}, {2, {7, 1}, 7, 1}, {3, {2, 5, 3}, 6, 15}, {4, {3, 4, 5, 2}, 30, 40}};
    for (int k = 0; k < 4; k++) {
        mt_tensor *t = mt_zeros(cases[k].ndim, cases[k].shape);
        int64_t in = -1, out = -1;
        cr_assert_eq(mt_init_fans(t, &in, &out), MT_OK);
        cr_assert(in == cases[k].in && out == cases[k].out, "case %d: fans %lld, %lld", k, (long long)in, (long long)out);
        mt_release(t);
    }
    mt_tensor *v = mt_zeros(MT_DIMS(5));
    int64_t in = -1, out = -1;
    mt_clear_error();
    cr_assert_eq(mt_init_fans(v, &in, &out), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_init_fans");
    cr_assert(in == -1 && out == -1);
    mt_clear_error();
    cr_assert_eq(mt_init_kaiming_uniform(v, 0, MT_FAN_IN, MT_NONLINEARITY_RELU, 1), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_init_kaiming_uniform");
    mt_release(v);
}

/* Kaiming and Xavier on a (in 300, out 200) weight: the range and the variance the formulas
 * give, fans computed by hand (fan_in = 300 = shape[0] here, see nn.h). */
Test(init, kaiming_and_xavier)
{
    mt_tensor *w = mt_zeros(MT_DIMS(300, 200));
    const double in = 300, out = 200;
    /* kaiming_uniform(a = 0, fan_in, relu): bound sqrt(2) sqrt(3 / 300) */
    cr_assert_eq(mt_init_kaiming_uniform(w, 0, MT_FAN_IN, MT_NONLINEARITY_RELU, 1), MT_OK);
    double b = sqrt(2.0) * sqrt(3 / in);
    expect_uniform("kaiming_uniform fan_in", w, -b, b);
    /* fan_out, leaky_relu 0.2 */
    cr_assert_eq(mt_init_kaiming_uniform(w, 0.2f, MT_FAN_OUT, MT_NONLINEARITY_LEAKY_RELU, 2), MT_OK);
    b = sqrt(2 / (1 + 0.2 * 0.2)) * sqrt(3 / out);
    expect_uniform("kaiming_uniform fan_out", w, -b, b);
    /* kaiming_normal(fan_out, tanh): std (5/3) / sqrt(200) */
    cr_assert_eq(mt_init_kaiming_normal(w, 0, MT_FAN_OUT, MT_NONLINEARITY_TANH, 3), MT_OK);
    expect_normal("kaiming_normal", w, 0, 5.0 / 3.0 / sqrt(out));
    /* xavier_uniform(gain 2): bound 2 sqrt(6 / 500) */
    cr_assert_eq(mt_init_xavier_uniform(w, 2.0f, 4), MT_OK);
    b = 2 * sqrt(6 / (in + out));
    expect_uniform("xavier_uniform", w, -b, b);
    /* xavier_normal(gain 1): std sqrt(2 / 500) */
    cr_assert_eq(mt_init_xavier_normal(w, 1.0f, 5), MT_OK);
    expect_normal("xavier_normal", w, 0, sqrt(2 / (in + out)));
    mt_release(w);
}

Test(init, identical_for_1_2_3_threads)
{
    const int before = mt_get_num_threads();
    float *values[3][2];
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        mt_tensor *t = mt_zeros(MT_DIMS(600, 500));
        cr_assert_eq(mt_init_kaiming_uniform(t, sqrtf(5), MT_FAN_IN, MT_NONLINEARITY_LEAKY_RELU, 9), MT_OK);
        values[threads - 1][0] = t_floats(t);
        mt_tensor *view = mt_transpose(t, 0, 1); /* the strided walk too */
        cr_assert_eq(mt_init_xavier_normal(view, 1.0f, 10), MT_OK);
        values[threads - 1][1] = t_floats(t);
        mt_release(view);
        mt_release(t);
    }
    mt_set_num_threads(before);
    for (int k = 1; k < 3; k++)
        for (int j = 0; j < 2; j++)
            cr_assert(memcmp(values[0][j], values[k][j], sizeof(float) * 300000) == 0,
                      "fill %d: %d threads differ from 1", j, k + 1);
    for (int k = 0; k < 3; k++) free(values[k][0]), free(values[k][1]);
}

Test(init, bad_arguments_change_nothing)
{
    mt_tensor *t = mt_full(MT_DIMS(3, 4), 7.0f);
    const struct {
        mt_status status;
        const char *fn;
        mt_status got;
    } cases[] = {
        {MT_ERR_INVALID_ARG, "mt_init_uniform", mt_init_uniform(t, 1.0f, 0.0f, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_uniform", mt_init_uniform(t, NAN, 1.0f, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_uniform", mt_init_uniform(t, 0.0f, INFINITY, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_normal", mt_init_normal(t, 0.0f, -1.0f, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_normal", mt_init_normal(t, NAN, 1.0f, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_kaiming_uniform",
         mt_init_kaiming_uniform(t, 0, (mt_fan_mode)2, MT_NONLINEARITY_RELU, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_kaiming_normal",
         mt_init_kaiming_normal(t, 0, MT_FAN_IN, (mt_nonlinearity)99, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_kaiming_normal",
         mt_init_kaiming_normal(t, NAN, MT_FAN_IN, MT_NONLINEARITY_LEAKY_RELU, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_xavier_uniform", mt_init_xavier_uniform(t, -1.0f, 1)},
        {MT_ERR_INVALID_ARG, "mt_init_xavier_normal", mt_init_xavier_normal(t, NAN, 1)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(cases[i].got, cases[i].status, "case %zu (%s)", i, cases[i].fn);
    mt_clear_error(); /* a NULL after an earlier failure would report that failure */
    cr_assert_eq(mt_init_xavier_normal(NULL, 1.0f, 1), MT_ERR_NULL);
    t_expect_filled("after the refused calls", t, 7.0f);
    /* each message names its function (checked one at a time, the error being per call) */
    mt_clear_error();
    mt_init_xavier_uniform(t, -1.0f, 1);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_init_xavier_uniform");
    mt_clear_error();
    mt_init_kaiming_normal(t, 0, MT_FAN_IN, (mt_nonlinearity)99, 1);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_init_kaiming_normal");
    mt_clear_error();
    cr_assert(isnan(mt_init_calculate_gain((mt_nonlinearity)-1, 0)));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_init_calculate_gain");
    /* an expanded view cannot be filled */
    mt_tensor *row = mt_zeros(MT_DIMS(1, 4)), *wide = mt_expand(row, MT_DIMS(3, 4));
    mt_clear_error();
    cr_assert_eq(mt_init_normal(wide, 0, 1, 1), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_init_normal");
    t_expect_filled("the expanded row", row, 0.0f);
    mt_release(wide);
    mt_release(row);
    mt_release(t);
}

/* ---- Linear's initialisation choice ---- */

Test(linear_init, torch_default_bounds_and_variance)
{
    mt_params params = {0};
    mt_linear_layer layer;
    cr_assert_eq(mt_linear_layer_init_with(&layer, 400, 300, MT_LINEAR_INIT_TORCH, 3, &params), MT_OK);
    cr_assert_eq(params.count, 2);
    t_expect_shape(layer.weight, MT_DIMS(400, 300));
    t_expect_shape(layer.bias, MT_DIMS(300));
    cr_assert(mt_requires_grad(layer.weight) && mt_requires_grad(layer.bias));
    /* kaiming_uniform(a = sqrt 5) over fan_in = in: U(-1/sqrt(in), 1/sqrt(in)), as the bias */
    const double b = 1 / sqrt(400.0);
    moments w = moments_of(layer.weight), bias = moments_of(layer.bias);
    cr_assert(w.min >= -b * (1 + 4 * U) && w.max < b * (1 + 4 * U), "weight range [%g, %g]", w.min, w.max);
    cr_assert(bias.min >= -b * (1 + 4 * U) && bias.max < b * (1 + 4 * U), "bias range [%g, %g]", bias.min, bias.max);
    expect_moments("weight", layer.weight, 0, b * b / 3, pow(b, 4) / 5);
    expect_moments("bias", layer.bias, 0, b * b / 3, pow(b, 4) / 5);
    mt_linear_layer_free(&layer);
    mt_params_free(&params);
}

Test(linear_init, minitorch_choice_is_mt_linear_layer_init)
{
    mt_linear_layer a, b;
    cr_assert_eq(mt_linear_layer_init(&a, 5, 3, 77, NULL), MT_OK);
    cr_assert_eq(mt_linear_layer_init_with(&b, 5, 3, MT_LINEAR_INIT_MINITORCH, 77, NULL), MT_OK);
    float *wa = t_floats(a.weight), *wb = t_floats(b.weight);
    cr_assert(memcmp(wa, wb, sizeof(float) * 15) == 0);
    t_expect_filled("bias", b.bias, 0.1f);
    /* and the old function still draws weight = mt_rand_uniform(-0.5, 0.5, seed) */
    mt_tensor *r = mt_rand_uniform(MT_DIMS(5, 3), -0.5f, 0.5f, 77);
    float *wr = t_floats(r);
    cr_assert(memcmp(wa, wr, sizeof(float) * 15) == 0);
    free(wa);
    free(wb);
    free(wr);
    mt_release(r);
    mt_linear_layer_free(&a);
    mt_linear_layer_free(&b);
    mt_linear_layer layer = {0};
    mt_clear_error();
    cr_assert_eq(mt_linear_layer_init_with(&layer, 2, 2, (mt_linear_init)5, 1, NULL), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_linear_layer_init_with");
    mt_clear_error();
    cr_assert_eq(mt_linear_layer_init_with(&layer, 0, 2, MT_LINEAR_INIT_TORCH, 1, NULL), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_linear_layer_init_with");
    cr_assert_null(layer.weight);
}

static void reset_hook(void) { mt_debug_fail_allocations_after(-1); }

/* A list one short of its capacity: the second parameter needs the list to grow. A failure
 * anywhere leaves the list exactly as it was (count, items) and no tensor behind. */
Test(linear_init, all_or_nothing_into_a_nearly_full_list, .fini = reset_hook)
{
    for (int which = 0; which < 3; which++) {
        int64_t n;
        for (n = 0; n < 100; n++) {
            mt_params list = {0};
            mt_tensor *filler = mt_zeros(MT_DIMS(1));
            for (int i = 0; i < 7; i++) cr_assert_eq(mt_params_add(&list, filler), MT_OK);
            cr_assert_eq(list.capacity, 8);
            const int64_t live = t_live_tensors();
            mt_linear_layer layer = {0};
            mt_clear_error();
            mt_debug_fail_allocations_after(n);
            mt_status status = which == 0   ? mt_linear_layer_init(&layer, 3, 2, 1, &list)
                               : which == 1 ? mt_linear_layer_init_with(&layer, 3, 2, MT_LINEAR_INIT_TORCH, 1, &list)
                                            : mt_linear_layer_init_with(&layer, 3, 2, MT_LINEAR_INIT_MINITORCH, 1, &list);
            reset_hook();
            if (status == MT_OK) {
                cr_assert_eq(list.count, 9);
                cr_assert(list.items[7] == layer.weight && list.items[8] == layer.bias);
                mt_linear_layer_free(&layer);
            } else {
                cr_assert_eq(status, MT_ERR_NO_MEMORY);
                cr_assert_eq(list.count, 7, "n=%lld: the failed init left %d parameters", (long long)n, list.count);
                cr_assert_null(layer.weight);
                cr_assert_eq(t_live_tensors(), live, "n=%lld: tensors left behind", (long long)n);
            }
            mt_params_free(&list);
            mt_release(filler);
            if (status == MT_OK) break;
        }
        cr_assert(n >= 3 && n < 100, "case %d: %lld allocations", which, (long long)n);
    }
}
