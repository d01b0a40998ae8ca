/* Creation and data access: mt_randn, mt_arange, mt_linspace, mt_eye, mt_zeros_like /
 * mt_ones_like / mt_full_like, mt_copy_from, mt_data, mt_mark_modified.
 *
 * Oracles: arange and linspace against their formulas evaluated here in double and rounded once
 * to float (so the comparison is exact); randn against the statistics of a standard normal with
 * bounds derived from the sample size, and bit for bit across thread counts; the rest against
 * values written by hand or read back with mt_get. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* ---- randn ---- */

/* n = 2^20 draws. For a standard normal the sample mean has standard deviation 1/sqrt(n) ~ 1e-3,
 * the sample variance sqrt(2/n) ~ 1.4e-3 and the fraction within one standard deviation
 * (p = 0.682689) sqrt(p (1 - p) / n) ~ 4.5e-4. Each check allows 6 standard deviations: a correct
 * generator fails one with probability ~2e-9, while a wrong scale, shift or shape is off by far
 * more. */
Test(randn, standard_normal_statistics)
{
    const int64_t n = (int64_t)1 << 20;
    mt_tensor *t = mt_randn(MT_DIMS(1024, 1024), 42);
    cr_assert_not_null(t, "%s", mt_last_error());
    const float *v = mt_data(t);
    double sum = 0, sum_sq = 0;
    int64_t within_one = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(isfinite(v[i]) && fabsf(v[i]) < 7.0f, "value %lld is %g", (long long)i, v[i]);
        sum += v[i];
        within_one += fabsf(v[i]) < 1.0f;
    }
    const double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++) sum_sq += (v[i] - mean) * (v[i] - mean);
    const double variance = sum_sq / (double)(n - 1), sn = sqrt((double)n);
    cr_assert_lt(fabs(mean), 6.0 / sn, "mean %g", mean);
    cr_assert_lt(fabs(variance - 1.0), 6.0 * sqrt(2.0) / sn, "variance %g", variance);
    const double p = 0.6826894921370859, fraction = (double)within_one / (double)n;
    cr_assert_lt(fabs(fraction - p), 6.0 * sqrt(p * (1 - p)) / sn, "P(|z| < 1) = %g", fraction);
    mt_release(t);
}

Test(randn, same_bits_for_any_thread_count_and_as_init_normal)
{
    const int64_t shape[] = {3, 100000};
    float *first = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        mt_tensor *t = mt_randn(2, shape, 7);
        float *bits = t_floats(t);
        if (!first) first = bits;
        else {
            cr_assert(memcmp(bits, first, sizeof(float) * 300000) == 0, "%d threads differ", threads);
            free(bits);
        }
        mt_release(t);
    }
    mt_set_num_threads(0);
    /* the same stream as mt_init_normal(t, 0, 1, seed) */
    mt_tensor *z = mt_zeros(2, shape);
    cr_assert_eq(mt_init_normal(z, 0.0f, 1.0f, 7), MT_OK);
    float *init = t_floats(z);
    cr_assert(memcmp(init, first, sizeof(float) * 300000) == 0);
    /* another seed, another stream */
    mt_tensor *other = mt_randn(2, shape, 8);
    float *o = t_floats(other);
    cr_assert(memcmp(o, first, sizeof(float) * 300000) != 0);
    free(o), free(init), free(first);
    mt_release(other), mt_release(z);
}

/* ---- arange, linspace, eye ---- */

static void expect_arange(float start, float end, float step)
{
    const int64_t n = (int64_t)ceil(((double)end - (double)start) / (double)step);
    float *want = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) want[i] = (float)((double)start + (double)i * (double)step);
    mt_tensor *t = mt_arange(start, end, step);
    cr_assert_not_null(t, "mt_arange(%g, %g, %g): %s", start, end, step, mt_last_error());
    t_expect_shape(t, 1, &n);
    char what[96];
    snprintf(what, sizeof what, "mt_arange(%g, %g, %g)", start, end, step);
    t_expect_exact(what, t, want);
    mt_release(t);
    free(want);
}

Test(arange, pytorch_length_and_values)
{
    expect_arange(0, 10, 1);
    expect_arange(0, 1, 0.1f);     /* 10 values: (1 - 0) / 0.1f rounds to just under 10 */
    expect_arange(1, 2.5f, 0.5f);  /* 3 values: 1, 1.5, 2 */
    expect_arange(10, 0, -1.5f);   /* 7 values down */
    expect_arange(-3.3f, 7.9f, 0.7f);
    expect_arange(0, 1, 1.0f / 3.0f);
    expect_arange(0, 1e6f, 1);     /* large: several threads */
    expect_arange(5, 5.5f, 2);     /* one value */
    mt_tensor *t = mt_arange(0, 1, 0.1f);
    cr_assert_eq(mt_numel(t), 10);
    mt_release(t);
}

Test(arange, errors)
{
    const float bad[][3] = {{0, 1, 0}, {0, 1, -1}, {1, 0, 1}, {NAN, 1, 1}, {0, INFINITY, 1},
                            {0, 1, NAN}, {0, 1, -INFINITY}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_null(mt_arange(bad[i][0], bad[i][1], bad[i][2]));
        t_expect_error(MT_ERR_INVALID_ARG, "mt_arange");
    }
    cr_assert_null(mt_arange(2, 2, 1)); /* empty */
    t_expect_error(MT_ERR_SHAPE, "mt_arange");
    cr_assert_null(mt_arange(0, 1e30f, 1e-30f)); /* 1e60 elements */
    t_expect_error(MT_ERR_OVERFLOW, "mt_arange");
}

static void expect_linspace(float a, float b, int64_t n)
{
    float *want = malloc(sizeof(float) * (size_t)n);
    const double step = n > 1 ? ((double)b - (double)a) / (double)(n - 1) : 0;
    for (int64_t i = 0; i < n; i++)
        want[i] = n == 1 ? a /* PyTorch: one step is [start] */
                         : (float)(i < n / 2 ? (double)a + step * (double)i
                                             : (double)b - step * (double)(n - 1 - i));
    mt_tensor *t = mt_linspace(a, b, n);
    cr_assert_not_null(t, "%s", mt_last_error());
    t_expect_shape(t, 1, &n);
    char what[96];
    snprintf(what, sizeof what, "mt_linspace(%g, %g, %lld)", a, b, (long long)n);
    t_expect_exact(what, t, want);
    float ends[2];
    const float *v = mt_data(t);
    ends[0] = v[0], ends[1] = v[n - 1];
    cr_assert(ends[0] == a && (n == 1 || ends[1] == b), "%s: ends %g %g", what, ends[0], ends[1]);
    mt_release(t);
    free(want);
}

Test(linspace, symmetric_formula_and_exact_ends)
{
    expect_linspace(0, 1, 5);
    expect_linspace(-1, 1, 7);
    expect_linspace(0, 1, 1);
    expect_linspace(3, -2, 11);
    expect_linspace(0.1f, 0.7f, 100);
    expect_linspace(-5, 5, 1000001);
    /* symmetric about 0 for symmetric ends */
    mt_tensor *t = mt_linspace(-0.3f, 0.3f, 10);
    const float *v = mt_data(t);
    for (int i = 0; i < 10; i++) cr_assert_eq(v[i], -v[9 - i]);
    mt_release(t);
    cr_assert_null(mt_linspace(0, 1, 0));
    t_expect_error(MT_ERR_SHAPE, "mt_linspace");
    cr_assert_null(mt_linspace(0, NAN, 3));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_linspace");
}

Test(eye, identity)
{
    for (int64_t n = 1; n <= 5; n++) {
        mt_tensor *t = mt_eye(n);
        t_expect_shape(t, 2, (const int64_t[]){n, n});
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                float v;
                cr_assert_eq(mt_get(t, (const int64_t[]){i, j}, &v), MT_OK);
                cr_assert_eq(v, i == j ? 1.0f : 0.0f);
            }
        mt_release(t);
    }
    cr_assert_null(mt_eye(0));
    t_expect_error(MT_ERR_SHAPE, "mt_eye");
}

Test(like, shape_of_any_layout_contiguous_result)
{
    t_rng r = t_rng_seed(5);
    int64_t s[] = {2, 3, 4};
    double *v = t_random_values(&r, 24, -1, 1);
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *a = t_tensor(&r, 3, s, v, layout);
        mt_set_requires_grad(a, true);
        mt_tensor *z = mt_zeros_like(a), *o = mt_ones_like(a), *f = mt_full_like(a, -2.5f);
        mt_tensor *all[] = {z, o, f};
        const float values[] = {0.0f, 1.0f, -2.5f};
        for (int k = 0; k < 3; k++) {
            t_expect_shape(all[k], 3, s);
            t_expect_strides(all[k], 3, (const int64_t[]){12, 4, 1});
            t_expect_filled("like", all[k], values[k]);
            cr_assert_not(mt_requires_grad(all[k]));
            mt_release(all[k]);
        }
        mt_release(a);
    }
    free(v);
}

/* ---- copy_from, data, mark_modified ---- */

Test(copy_from, fills_any_layout_in_row_major_order)
{
    t_rng r = t_rng_seed(6);
    for (int it = 0; it < 60; it++) {
        int64_t s[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, s);
        int64_t n = t_numel(nd, s);
        double *old = t_random_values(&r, n, -1, 1), *fresh = t_random_values(&r, n, 2, 3);
        float *data = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) data[i] = (float)fresh[i];
        mt_tensor *t = t_tensor(&r, nd, s, old, it % 3);
        cr_assert_eq(mt_copy_from(t, data, n), MT_OK, "%s", mt_last_error());
        t_expect_close("mt_copy_from", t, fresh, 0, 0);
        mt_release(t);
        free(old), free(fresh), free(data);
    }
    /* large: several threads, a narrowed view writes only its window */
    mt_tensor *big = mt_zeros(MT_DIMS(700, 700));
    mt_tensor *window = mt_narrow(big, 1, 100, 500);
    float *data = malloc(sizeof(float) * 700 * 500);
    for (int i = 0; i < 700 * 500; i++) data[i] = (float)i;
    cr_assert_eq(mt_copy_from(window, data, 700 * 500), MT_OK);
    const float *b = mt_data(big);
    for (int i = 0; i < 700; i++)
        for (int j = 0; j < 700; j++)
            cr_assert_eq(b[i * 700 + j], j >= 100 && j < 600 ? (float)(i * 500 + j - 100) : 0.0f);
    free(data);
    mt_release(window), mt_release(big);
}

Test(copy_from, errors_leave_the_tensor_alone)
{
    const float data[6] = {1, 2, 3, 4, 5, 6};
    mt_tensor *t = mt_zeros(MT_DIMS(2, 3));
    cr_assert_eq(mt_copy_from(t, data, 5), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_copy_from");
    mt_clear_error();
    cr_assert_eq(mt_copy_from(t, NULL, 6), MT_ERR_NULL);
    mt_tensor *row = mt_narrow(t, 0, 0, 1), *expanded = mt_expand(row, MT_DIMS(2, 3));
    cr_assert_eq(mt_copy_from(expanded, data, 6), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_copy_from");
    cr_assert_eq(mt_set_requires_grad(t, true), MT_OK);
    cr_assert_eq(mt_copy_from(t, data, 6), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_copy_from");
    t_expect_filled("after failed copies", t, 0.0f);
    mt_no_grad_begin();
    cr_assert_eq(mt_copy_from(t, data, 6), MT_OK);
    mt_no_grad_end();
    t_expect_exact("in no-grad mode", t, data);
    mt_release(expanded), mt_release(row), mt_release(t);
}

Test(data, contiguous_tensors_only)
{
    mt_tensor *t = t_arange(MT_DIMS(3, 4));
    float *p = mt_data(t);
    cr_assert_not_null(p);
    p[5] = -7.0f;
    cr_assert_eq(mt_mark_modified(t), MT_OK);
    float v;
    cr_assert_eq(mt_get(t, (const int64_t[]){1, 1}, &v), MT_OK);
    cr_assert_eq(v, -7.0f);
    /* a contiguous view: its own first element */
    mt_tensor *rows = mt_narrow(t, 0, 1, 2);
    cr_assert_eq(mt_data(rows), p + 4);
    mt_tensor *tr = mt_transpose(t, 0, 1), *cols = mt_narrow(t, 1, 0, 2);
    cr_assert_null(mt_data(tr));
    t_expect_error(MT_ERR_NOT_CONTIGUOUS, "mt_data");
    cr_assert_null(mt_data(cols));
    t_expect_error(MT_ERR_NOT_CONTIGUOUS, "mt_data");
    mt_clear_error();
    cr_assert_null(mt_data(NULL));
    t_expect_error(MT_ERR_NULL, "mt_data");
    mt_clear_error();
    cr_assert_eq(mt_mark_modified(NULL), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_mark_modified");
    mt_release(cols), mt_release(tr), mt_release(rows), mt_release(t);
}
