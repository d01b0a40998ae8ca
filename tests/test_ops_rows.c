/* Functions of whole lines along a dim: mt_softmax, mt_log_softmax, mt_logsumexp, mt_argmax,
 * mt_argmin, mt_var, mt_std, mt_min, and the losses mt_loss_cross_entropy and mt_loss_mse.
 *
 * Expected values come from the oracle below: the test's own index walking (element j of line
 * (o, i) of a row-major shape sits at o n inner + j inner + i) and the formulas in double. Inputs
 * are contiguous, permuted, narrowed (t_tensor layouts 0-2) or expanded views (zero strides), with
 * random shapes and dims (negative ones too) and a few large shapes that take the kernels'
 * blocked and threaded paths. ctest runs this suite once per backend.
 *
 * Tolerances (u = 2^-24, R the largest |x - max| of a line, n its length), from the float32
 * evaluation of the same formulas:
 *   softmax:     x - m is rounded (relative u, so exp's argument is off by R u), exp is within a
 *                few ulps (4 u budgeted), the sum of n positive terms is within (R + 4 + n) u
 *                relative (Higham's gamma(n)), then one division and one product: relative
 *                (2 R + n + 12) u, doubled for margin.
 *   log_softmax: |x - m| u + the log of the sum (relative error of the sum, plus u |log S|) +
 *                rounding of the result: absolute (|x - m| + R + n + 8 + |log S| + |y|) 2u.
 *   logsumexp:   absolute (R + n + 8 + |log S| + |y|) 2u.
 *   min, argmax, argmin: exact.
 *   var, std:    accumulated in double and rounded once: relative 2u (plus 1e-30 absolute for
 *                lines whose variance is 0 up to double rounding). */
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define U 5.9604644775390625e-8 /* 2^-24 */

typedef enum kind { SOFTMAX, LOG_SOFTMAX, LOGSUMEXP, ARGMAX, ARGMIN, VAR, STD, MIN, KIND_COUNT } kind;
static const char *const kind_names[] = {"softmax", "log_softmax", "logsumexp", "argmax",
                                         "argmin", "var", "std", "min"};

static bool full_width(kind k) { return k == SOFTMAX || k == LOG_SOFTMAX; }

static mt_tensor *run(kind k, mt_tensor *a, int dim, int correction)
{
    switch (k) {
    case SOFTMAX: return mt_softmax(a, dim);
    case LOG_SOFTMAX: return mt_log_softmax(a, dim);
    case LOGSUMEXP: return mt_logsumexp(a, dim);
    case ARGMAX: return mt_argmax(a, dim);
    case ARGMIN: return mt_argmin(a, dim);
    case VAR: return mt_var(a, dim, correction);
    case STD: return mt_std(a, dim, correction);
    case MIN: return mt_min(a, dim);
    case KIND_COUNT: break;
    }
    return NULL;
}

/* One line v[j * step], j < n: results (and error bounds) at out[j * out_step] (full width) or
 * out[0]. NaN is larger than every number for argmax/argmin/min (PyTorch's rule). */
static void oracle_line(kind k, const double *v, int64_t n, int64_t step, int correction,
                        double *out, double *bound, int64_t out_step)
{
    double m = -INFINITY, sum = 0, s = 0, range = 0;
    int64_t arg_hi = 0, arg_lo = 0;
    bool nan = false;
    for (int64_t j = 0; j < n; j++) {
        double x = v[j * step];
        if (isnan(x)) nan = true;
        m = fmax(m, x);
        sum += x;
        double hi = v[arg_hi * step], lo = v[arg_lo * step];
        if (!isnan(hi) && (x > hi || isnan(x))) arg_hi = j;
        if (!isnan(lo) && (x < lo || isnan(x))) arg_lo = j;
    }
    if (nan) m = NAN;
    double shift = k == LOGSUMEXP && isinf(m) ? 0.0 : m;
    for (int64_t j = 0; j < n; j++) {
        s += exp(v[j * step] - shift);
        range = fmax(range, fabs(v[j * step] - shift));
    }
    double log_s = log(s), mean = sum / (double)n, sq = 0;
    for (int64_t j = 0; j < n; j++) sq += (v[j * step] - mean) * (v[j * step] - mean);
    double divisor = fmax(0.0, (double)(n - correction));
    switch (k) {
    case SOFTMAX:
        for (int64_t j = 0; j < n; j++) {
            double y = exp(v[j * step] - m) / s;
            out[j * out_step] = y;
            bound[j * out_step] = fabs(y) * 2 * (2 * range + (double)n + 12) * U + 1e-45;
        }
        return;
    case LOG_SOFTMAX:
        for (int64_t j = 0; j < n; j++) {
            double y = v[j * step] - m - log_s;
            out[j * out_step] = y;
            bound[j * out_step] =
                (fabs(v[j * step] - m) + range + (double)n + 8 + fabs(log_s) + fabs(y)) * 2 * U;
        }
        return;
    case LOGSUMEXP:
        out[0] = log_s + shift;
        bound[0] = (range + (double)n + 8 + fabs(log_s) + fabs(out[0])) * 2 * U;
        return;
    case ARGMAX: out[0] = (double)arg_hi; bound[0] = 0; return;
    case ARGMIN: out[0] = (double)arg_lo; bound[0] = 0; return;
    case MIN: out[0] = v[arg_lo * step]; bound[0] = 0; return;
    case VAR: out[0] = sq / divisor; bound[0] = fabs(out[0]) * 2 * U + 1e-30; return;
    case STD: out[0] = sqrt(sq / divisor); bound[0] = fabs(out[0]) * 2 * U + 1e-30; return;
    case KIND_COUNT: return;
    }
}

/* The oracle over every line of (ndim, shape) along dim (normalised); malloc'd results. */
static double *oracle(kind k, int ndim, const int64_t *shape, const double *v, int dim,
                      int correction, double **bound)
{
    int64_t n = shape[dim], inner = 1, outer = 1;
    for (int i = dim + 1; i < ndim; i++) inner *= shape[i];
    for (int i = 0; i < dim; i++) outer *= shape[i];
    int64_t count = full_width(k) ? outer * n * inner : outer * inner;
    double *out = malloc(sizeof(double) * (size_t)count);
    *bound = malloc(sizeof(double) * (size_t)count);
    cr_assert(out && *bound);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = full_width(k) ? o * n * inner + i : o * inner + i;
            oracle_line(k, v + o * n * inner + i, n, inner, correction, out + at, *bound + at, inner);
        }
    return out;
}

/* Checks op k on a tensor of logical values v (any layout) over `dim`. */
static void check(kind k, mt_tensor *a, int ndim, const int64_t *shape, const double *v, int dim,
                  int correction, const char *context)
{
    int d = dim < 0 ? dim + ndim : dim;
    double *bound;
    double *expected = oracle(k, ndim, shape, v, d, correction, &bound);
    mt_tensor *y = run(k, a, dim, correction);
    cr_assert_not_null(y, "%s: %s", context, mt_last_error());
    int64_t res[MT_MAX_DIMS];
    memcpy(res, shape, sizeof(int64_t) * (size_t)ndim);
    if (!full_width(k)) res[d] = 1;
    t_expect_shape(y, ndim, res);
    char what[256];
    snprintf(what, sizeof what, "%s: %s over dim %d (correction %d)", context, kind_names[k], dim,
             correction);
    t_expect_close_each(what, y, expected, bound);
    mt_release(y);
    free(expected);
    free(bound);
}

/* Every op over every dim of a tensor built in layout 0-2, or expanded (layout 3). */
static void check_all(t_rng *r, int ndim, const int64_t *shape, double lo, double hi,
                      const char *label)
{
    char shape_text[64], context[160];
    t_shape_text(shape_text, sizeof shape_text, ndim, shape);
    for (int layout = 0; layout < 4; layout++) {
        double *v;
        mt_tensor *a;
        if (layout < 3) {
            v = t_random_values(r, t_numel(ndim, shape), lo, hi);
            for (int64_t i = 0; i < t_numel(ndim, shape); i++) v[i] = (float)v[i];
            a = t_tensor(r, ndim, shape, v, layout);
        } else {
            int64_t small[MT_MAX_DIMS];
            int small_ndim = t_random_shrunk_shape(r, ndim, shape, true, small);
            double *sv = t_random_values(r, t_numel(small_ndim, small), lo, hi);
            for (int64_t i = 0; i < t_numel(small_ndim, small); i++) sv[i] = (float)sv[i];
            a = t_expanded_tensor(r, ndim, shape, small_ndim, small, sv, t_rng_int(r, 0, 2), &v);
            free(sv);
        }
        snprintf(context, sizeof context, "%s %s layout %d", label, shape_text, layout);
        for (int k = 0; k < KIND_COUNT; k++)
            for (int dim = -ndim; dim < ndim; dim++) {
                if (dim < 0 && dim != -1 && t_rng_int(r, 0, 1)) continue; /* sample negative dims */
                int correction = (k == VAR || k == STD) ? t_rng_int(r, 0, 2) : 0;
                check((kind)k, a, ndim, shape, v, dim, correction, context);
            }
        mt_release(a);
        free(v);
    }
}

Test(rows, random_shapes_and_layouts)
{
    t_rng r = t_rng_seed(101);
    for (int it = 0; it < 40; it++) {
        int64_t shape[MT_MAX_DIMS];
        int ndim = t_random_shape(&r, 1, 4, 6, shape);
        check_all(&r, ndim, shape, -20, 20, "random");
    }
}

/* Shapes that take the blocked path (lines next to each other), the contiguous path with long
 * lines, and several threads. */
Test(rows, large_shapes_threaded, .timeout = 300)
{
    t_rng r = t_rng_seed(102);
    cr_assert_eq(mt_set_num_threads(3), MT_OK);
    const int64_t shapes[][3] = {{257, 300, 0}, {3, 90, 101}, {2000, 3, 0}, {2, 5000, 0}};
    const int ndims[] = {2, 3, 2, 2};
    for (int s = 0; s < 4; s++) check_all(&r, ndims[s], shapes[s], -30, 30, "large");
    mt_set_num_threads(0);
}

/* Integer grids: many exact ties (first index wins for argmax/argmin/min). */
Test(rows, ties_on_grids)
{
    t_rng r = t_rng_seed(103);
    for (int it = 0; it < 20; it++) {
        int64_t shape[MT_MAX_DIMS];
        int ndim = t_random_shape(&r, 1, 3, 7, shape);
        double *v = t_grid_values(&r, t_numel(ndim, shape), -2, 2, 1.0);
        mt_tensor *a = t_tensor(&r, ndim, shape, v, t_rng_int(&r, 0, 2));
        for (int dim = 0; dim < ndim; dim++) {
            check(ARGMAX, a, ndim, shape, v, dim, 0, "grid");
            check(ARGMIN, a, ndim, shape, v, dim, 0, "grid");
            check(MIN, a, ndim, shape, v, dim, 0, "grid");
        }
        mt_release(a);
        free(v);
    }
}

/* ---- edge values, hand-computed ---- */

static mt_tensor *row(int n, const float *v) { return mt_from_data(2, (const int64_t[]){1, n}, v); }

static void expect_row(const char *what, mt_tensor *t, int n, const double *expected, double tol)
{
    cr_assert_not_null(t, "%s: %s", what, mt_last_error());
    t_expect_close(what, t, expected, tol, tol);
    (void)n;
}

Test(rows, huge_and_infinite_values)
{
    mt_scope s = mt_scope_begin();
    const double log2 = 0.69314718055994531;
    /* ±1e30: nothing overflows */
    mt_tensor *a = row(3, (const float[]){1e30f, -1e30f, 0.0f});
    expect_row("softmax ±1e30", mt_softmax(a, 1), 3, (const double[]){1, 0, 0}, 0);
    expect_row("log_softmax ±1e30", mt_log_softmax(a, -1), 3,
               (const double[]){0, (double)(-2e30f), (double)-1e30f}, 1e-7 * 2e30);
    expect_row("logsumexp ±1e30", mt_logsumexp(a, 1), 1, (const double[]){(double)1e30f}, 0);
    mt_tensor *b = row(2, (const float[]){1e30f, 1e30f});
    expect_row("softmax equal 1e30", mt_softmax(b, 1), 2, (const double[]){0.5, 0.5}, 0);
    expect_row("log_softmax equal 1e30", mt_log_softmax(b, 1), 2, (const double[]){-log2, -log2}, 1e-7);
    /* -inf elements: weight 0 (log weight -inf) */
    mt_tensor *c = row(3, (const float[]){-INFINITY, 0.0f, 0.0f});
    expect_row("softmax -inf", mt_softmax(c, 1), 3, (const double[]){0, 0.5, 0.5}, 0);
    expect_row("log_softmax -inf", mt_log_softmax(c, 1), 3, (const double[]){-INFINITY, -log2, -log2}, 1e-7);
    expect_row("logsumexp -inf", mt_logsumexp(c, 1), 1, (const double[]){log2}, 1e-7);
    /* a line of -inf: softmax and log_softmax NaN, logsumexp -inf (PyTorch) */
    mt_tensor *d = row(2, (const float[]){-INFINITY, -INFINITY});
    expect_row("softmax all -inf", mt_softmax(d, 1), 2, (const double[]){NAN, NAN}, 0);
    expect_row("log_softmax all -inf", mt_log_softmax(d, 1), 2, (const double[]){NAN, NAN}, 0);
    expect_row("logsumexp all -inf", mt_logsumexp(d, 1), 1, (const double[]){-INFINITY}, 0);
    /* +inf: logsumexp +inf; softmax NaN (inf - inf) */
    mt_tensor *e = row(2, (const float[]){INFINITY, 1.0f});
    expect_row("logsumexp +inf", mt_logsumexp(e, 1), 1, (const double[]){INFINITY}, 0);
    expect_row("softmax +inf", mt_softmax(e, 1), 2, (const double[]){NAN, NAN}, 0);
    /* NaN: everything NaN; argmax / argmin / min pick the first NaN */
    mt_tensor *f = row(4, (const float[]){1.0f, NAN, 3.0f, NAN});
    expect_row("softmax NaN", mt_softmax(f, 1), 4, (const double[]){NAN, NAN, NAN, NAN}, 0);
    expect_row("logsumexp NaN", mt_logsumexp(f, 1), 1, (const double[]){NAN}, 0);
    expect_row("argmax NaN", mt_argmax(f, 1), 1, (const double[]){1}, 0);
    expect_row("argmin NaN", mt_argmin(f, 1), 1, (const double[]){1}, 0);
    expect_row("min NaN", mt_min(f, 1), 1, (const double[]){NAN}, 0);
    expect_row("var NaN", mt_var(f, 1, 1), 1, (const double[]){NAN}, 0);
    /* the same lines along dim 0 (blocked layout: a (n, 2) tensor) */
    mt_tensor *g = mt_from_data(2, (const int64_t[]){3, 2},
                                (const float[]){1e30f, -INFINITY, -1e30f, -INFINITY, 0.0f, -INFINITY});
    expect_row("softmax dim 0", mt_softmax(g, 0), 6, (const double[]){1, NAN, 0, NAN, 0, NAN}, 0);
    expect_row("logsumexp dim 0", mt_logsumexp(g, 0), 2, (const double[]){(double)1e30f, -INFINITY}, 0);
    cr_assert_eq(mt_scope_end(s), MT_OK);
}

Test(rows, ties_first_index)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *a = row(3, (const float[]){3.0f, 1.0f, 3.0f});
    expect_row("argmax tie", mt_argmax(a, 1), 1, (const double[]){0}, 0);
    mt_tensor *b = row(3, (const float[]){1.0f, 0.0f, 0.0f});
    expect_row("argmin tie", mt_argmin(b, -1), 1, (const double[]){1}, 0);
    /* min's gradient goes to the first minimal element only */
    mt_tensor *c = row(3, (const float[]){2.0f, 1.0f, 1.0f});
    mt_set_requires_grad(c, true);
    cr_assert_eq(mt_backward(mt_sum_all(mt_min(c, 1))), MT_OK, "%s", mt_last_error());
    t_expect_close("min gradient", mt_grad(c), (const double[]){0, 1, 0}, 0, 0);
    cr_assert_eq(mt_scope_end(s), MT_OK);
}

/* PyTorch: divisor max(0, n - correction); gradient 2 (x - mean) / (n - correction) g even when
 * n - correction <= 0; std's gradient 0 on a constant line. */
Test(rows, var_std_corrections)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *a = mt_from_data(1, (const int64_t[]){2}, (const float[]){1.0f, 3.0f});
    expect_row("var c=0", mt_var(a, 0, 0), 1, (const double[]){1}, 0);
    expect_row("var c=1", mt_var(a, 0, 1), 1, (const double[]){2}, 0);
    expect_row("var c=2", mt_var(a, 0, 2), 1, (const double[]){INFINITY}, 0);
    expect_row("var c=3", mt_var(a, 0, 3), 1, (const double[]){INFINITY}, 0);
    expect_row("std c=2", mt_std(a, 0, 2), 1, (const double[]){INFINITY}, 0);
    expect_row("var c=-1", mt_var(a, 0, -1), 1, (const double[]){2.0 / 3.0}, 1e-7);
    mt_tensor *b = mt_from_data(1, (const int64_t[]){2}, (const float[]){5.0f, 5.0f});
    expect_row("var constant c=2", mt_var(b, 0, 2), 1, (const double[]){NAN}, 0);
    mt_tensor *one = mt_from_data(1, (const int64_t[]){1}, (const float[]){5.0f});
    expect_row("var of one c=1", mt_var(one, 0, 1), 1, (const double[]){NAN}, 0);
    expect_row("std of one c=0", mt_std(one, 0, 0), 1, (const double[]){0}, 0);

    const int corrections[] = {3, 2};
    const double grads[][2] = {{2, -2}, {-INFINITY, INFINITY}}; /* 2/(2-c) * (x - mean) */
    for (int i = 0; i < 2; i++) {
        mt_tensor *x = mt_from_data(1, (const int64_t[]){2}, (const float[]){1.0f, 3.0f});
        mt_set_requires_grad(x, true);
        cr_assert_eq(mt_backward(mt_var(x, 0, corrections[i])), MT_OK, "%s", mt_last_error());
        t_expect_close("var gradient, correction >= n", mt_grad(x), grads[i], 1e-6, 1e-6);
        mt_release(x);
    }
    mt_tensor *x = mt_from_data(2, (const int64_t[]){2, 3}, (const float[]){4, 4, 4, 1, 2, 3});
    mt_set_requires_grad(x, true);
    cr_assert_eq(mt_backward(mt_sum_all(mt_std(x, 1, 1))), MT_OK, "%s", mt_last_error());
    t_expect_close("std gradient (constant row: 0)", mt_grad(x),
                   (const double[]){0, 0, 0, -0.5, 0, 0.5}, 1e-6, 1e-6);
    mt_release(x);
    cr_assert_eq(mt_scope_end(s), MT_OK);
}

Test(rows, argmax_has_no_history)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_rand(MT_DIMS(3, 4), 7);
    mt_set_requires_grad(x, true);
    mt_tensor *i = mt_argmax(x, 1), *j = mt_argmin(x, 0);
    cr_assert(i && j);
    cr_assert(!mt_requires_grad(i) && !mt_requires_grad(j));
    cr_assert(mt_requires_grad(mt_softmax(x, 0)));
    cr_assert_eq(mt_scope_end(s), MT_OK);
}

/* ---- errors ---- */

typedef mt_tensor *(*dim_fn)(mt_tensor *, int);
static mt_tensor *var1(mt_tensor *a, int dim) { return mt_var(a, dim, 1); }
static mt_tensor *std1(mt_tensor *a, int dim) { return mt_std(a, dim, 1); }

Test(rows, errors)
{
    const dim_fn fns[] = {mt_softmax, mt_log_softmax, mt_logsumexp, mt_argmax, mt_argmin, var1,
                          std1, mt_min};
    const char *names[] = {"mt_softmax", "mt_log_softmax", "mt_logsumexp", "mt_argmax",
                           "mt_argmin", "mt_var", "mt_std", "mt_min"};
    mt_tensor *a = mt_rand(MT_DIMS(2, 3), 1);
    for (int i = 0; i < 8; i++) {
        mt_clear_error();
        cr_assert_null(fns[i](NULL, 0));
        t_expect_error(MT_ERR_NULL, names[i]);
        cr_assert_null(fns[i](a, 2));
        t_expect_error(MT_ERR_INDEX, names[i]);
        cr_assert_null(fns[i](a, -3));
        t_expect_error(MT_ERR_INDEX, names[i]);
    }
    /* argmax over more than 2^24 elements: the float index would not be exact */
    mt_tensor *one = mt_zeros(MT_DIMS(1));
    mt_tensor *long_line = mt_expand(one, MT_DIMS(((int64_t)1 << 24) + 1));
    cr_assert_not_null(long_line);
    cr_assert_null(mt_argmax(long_line, 0));
    t_expect_error(MT_ERR_SHAPE, "mt_argmax");
    cr_assert(strstr(mt_last_error(), "2^24"), "%s", mt_last_error());
    cr_assert_null(mt_argmin(long_line, 0));
    t_expect_error(MT_ERR_SHAPE, "mt_argmin");
    mt_release(long_line);
    mt_release(one);
    mt_release(a);
}

/* ---- losses ---- */

Test(losses, cross_entropy_values_and_gradient)
{
    t_rng r = t_rng_seed(104);
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {64, 1000}, {1000, 7}};
    for (int s = 0; s < 4; s++)
        for (int layout = 0; layout < 3; layout++) {
            const int64_t N = shapes[s][0], C = shapes[s][1];
            double *v = t_random_values(&r, N * C, -20, 20);
            for (int64_t i = 0; i < N * C; i++) v[i] = (float)v[i];
            int64_t *labels = malloc(sizeof(int64_t) * (size_t)N);
            for (int64_t i = 0; i < N; i++) labels[i] = t_rng_int(&r, 0, (int)C - 1);
            mt_tensor *x = t_tensor(&r, 2, (const int64_t[]){N, C}, v, layout);
            mt_set_requires_grad(x, true);
            /* oracle: mean of lse_i - x[i, label]; gradient (softmax - onehot) / N */
            double total = 0, *grad = malloc(sizeof(double) * (size_t)(N * C));
            double *bound = malloc(sizeof(double) * (size_t)(N * C)), loss_bound = 0;
            for (int64_t i = 0; i < N; i++) {
                const double *xi = v + i * C;
                double m = -INFINITY, sum = 0, range = 0;
                for (int64_t j = 0; j < C; j++) m = fmax(m, xi[j]);
                for (int64_t j = 0; j < C; j++) {
                    sum += exp(xi[j] - m);
                    range = fmax(range, m - xi[j]);
                }
                double lse = m + log(sum);
                total += lse - xi[labels[i]];
                /* lse's float error (see logsumexp above) then exp(x - lse) */
                double lse_err = (range + (double)C + 8 + fabs(log(sum)) + fabs(lse)) * 2 * U;
                loss_bound += lse_err + (fabs(lse) + fabs(xi[labels[i]])) * U;
                for (int64_t j = 0; j < C; j++) {
                    double p = exp(xi[j] - lse);
                    grad[i * C + j] = (p - (j == labels[i])) / (double)N;
                    bound[i * C + j] =
                        (p * (lse_err + (fabs(xi[j] - lse) + 8) * U) + 4 * U) / (double)N + 1e-45;
                }
            }
            mt_scope scope = mt_scope_begin();
            mt_tensor *loss = mt_loss_cross_entropy(x, N, labels);
            cr_assert_not_null(loss, "%s", mt_last_error());
            t_expect_shape(loss, 1, (const int64_t[]){1});
            double expected = total / (double)N;
            t_expect_close("cross-entropy loss", loss, &expected, loss_bound / (double)N + 2 * U * fabs(expected), 0);
            cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
            t_expect_close_each("cross-entropy gradient", mt_grad(x), grad, bound);
            cr_assert_eq(mt_scope_end(scope), MT_OK);
            mt_release(x);
            free(v);
            free(labels);
            free(grad);
            free(bound);
        }
}

Test(losses, cross_entropy_errors)
{
    mt_tensor *x = mt_rand(MT_DIMS(2, 3), 1), *flat = mt_rand(MT_DIMS(6), 1);
    const int64_t good[] = {0, 2}, negative[] = {0, -1}, too_big[] = {3, 0};
    cr_assert_null(mt_loss_cross_entropy(NULL, 2, good));
    t_expect_error(MT_ERR_NULL, "mt_loss_cross_entropy");
    cr_assert_null(mt_loss_cross_entropy(x, 2, NULL));
    t_expect_error(MT_ERR_NULL, "mt_loss_cross_entropy");
    cr_assert_null(mt_loss_cross_entropy(flat, 6, good));
    t_expect_error(MT_ERR_SHAPE, "mt_loss_cross_entropy");
    cr_assert_null(mt_loss_cross_entropy(x, 1, good));
    t_expect_error(MT_ERR_SHAPE, "mt_loss_cross_entropy");
    cr_assert_null(mt_loss_cross_entropy(x, 2, negative));
    t_expect_error(MT_ERR_INDEX, "mt_loss_cross_entropy");
    cr_assert(strstr(mt_last_error(), "labels[1] = -1"), "%s", mt_last_error());
    cr_assert_null(mt_loss_cross_entropy(x, 2, too_big));
    t_expect_error(MT_ERR_INDEX, "mt_loss_cross_entropy");
    mt_release(x);
    mt_release(flat);
}

Test(losses, mse_broadcasts_like_pytorch)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *p = mt_from_data(2, (const int64_t[]){2, 2}, (const float[]){1, 2, 3, 4});
    mt_tensor *t = mt_from_data(1, (const int64_t[]){2}, (const float[]){1, 1});
    mt_set_requires_grad(p, true);
    mt_tensor *loss = mt_loss_mse(p, t); /* ((0)^2 + 1 + 4 + 9) / 4 */
    t_expect_close("mse broadcast", loss, (const double[]){3.5}, 0, 0);
    cr_assert_eq(mt_backward(loss), MT_OK);
    t_expect_close("mse gradient", mt_grad(p), (const double[]){0, 0.5, 1, 1.5}, 0, 0);
    cr_assert_null(mt_loss_mse(NULL, t));
    t_expect_error(MT_ERR_NULL, "mt_loss_mse");
    cr_assert_null(mt_loss_mse(p, NULL));
    t_expect_error(MT_ERR_NULL, "mt_loss_mse");
    cr_assert_null(mt_loss_mse(p, mt_zeros(MT_DIMS(3))));
    t_expect_error(MT_ERR_BROADCAST, "mt_loss_mse");
    cr_assert_eq(mt_scope_end(s), MT_OK);
}

/* ---- determinism: every new kernel gives the same bits on 1, 2 and 3 threads ---- */

static float *results_with_threads(int threads, int which, mt_tensor *x, int dim, int64_t *count)
{
    cr_assert_eq(mt_set_num_threads(threads), MT_OK);
    mt_scope s = mt_scope_begin();
    mt_tensor *out;
    if (which < KIND_COUNT) {
        out = run((kind)which, x, dim, 1);
    } else { /* the backward kernels: softmax, log_softmax, cross-entropy */
        mt_tensor *leaf = mt_detach(x);
        mt_set_requires_grad(leaf, true);
        mt_tensor *w = mt_rand(mt_ndim(x), mt_shape(x), 5);
        mt_tensor *loss;
        if (which == KIND_COUNT) loss = mt_sum_all(mt_mul(mt_softmax(leaf, dim), w));
        else if (which == KIND_COUNT + 1) loss = mt_sum_all(mt_mul(mt_log_softmax(leaf, dim), w));
        else {
            int64_t n = mt_shape(x)[0], *labels = malloc(sizeof(int64_t) * (size_t)n);
            for (int64_t i = 0; i < n; i++) labels[i] = (i * 7) % mt_shape(x)[1];
            loss = mt_loss_cross_entropy(leaf, n, labels);
            free(labels);
        }
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        out = mt_grad(leaf);
        mt_set_requires_grad(leaf, false);
    }
    cr_assert_not_null(out, "%s", mt_last_error());
    float *values = t_floats(out);
    *count = mt_numel(out);
    mt_scope_end(s);
    return values;
}

Test(rows, deterministic_for_any_thread_count, .timeout = 300)
{
    t_use_backend(0);
    mt_scope s = mt_scope_begin();
    mt_tensor *m = mt_rand_uniform(MT_DIMS(300, 280), -20.0f, 20.0f, 9);
    mt_tensor *cube = mt_rand_uniform(MT_DIMS(4, 50, 60), -20.0f, 20.0f, 10);
    mt_tensor *inputs[] = {m, mt_transpose(m, 0, 1), cube, mt_permute(cube, (const int[]){2, 0, 1})};
    for (int in = 0; in < 4; in++)
        for (int which = 0; which < KIND_COUNT + 3; which++)
            for (int dim = 0; dim < mt_ndim(inputs[in]); dim++) {
                if (which == KIND_COUNT + 2 && (mt_ndim(inputs[in]) != 2 || dim != 1)) continue;
                int64_t n1, n;
                float *one = results_with_threads(1, which, inputs[in], dim, &n1);
                for (int threads = 2; threads <= 3; threads++) {
                    float *more = results_with_threads(threads, which, inputs[in], dim, &n);
                    cr_assert_eq(n, n1);
                    cr_assert(memcmp(one, more, sizeof(float) * (size_t)n) == 0,
                              "kernel %d, input %d, dim %d: %d threads differ from 1", which, in,
                              dim, threads);
                    free(more);
                }
                free(one);
            }
    mt_set_num_threads(0);
    cr_assert_eq(mt_scope_end(s), MT_OK);
}

/* mt_reduce_out with MT_OP_MIN: the min kernel into a caller's output (NaN wins). */
Test(rows, reduce_out_min)
{
    mt_tensor *a = mt_from_data(2, (const int64_t[]){2, 3}, (const float[]){3, -1, 2, 5, NAN, -7});
    mt_tensor *out = mt_zeros(MT_DIMS(2, 1)), *out0 = mt_zeros(MT_DIMS(1, 3));
    cr_assert_eq(mt_reduce_out(out, MT_OP_MIN, a, 1), MT_OK, "%s", mt_last_error());
    t_expect_close("min over dim 1", out, (const double[]){-1, NAN}, 0, 0);
    cr_assert_eq(mt_reduce_out(out0, MT_OP_MIN, a, 0), MT_OK, "%s", mt_last_error());
    t_expect_close("min over dim 0", out0, (const double[]){3, NAN, -7}, 0, 0);
    cr_assert_str_eq(mt_reduce_op_name(MT_OP_MIN), "min");
    mt_release(a);
    mt_release(out);
    mt_release(out0);
}
