/* Numerics at the edges. NaN and ±Inf (and ±0, FLT_MAX, subnormals) through every operation and
 * its backward must never crash and must follow ops.h:
 *   log(0) = -inf, log(x < 0) = NaN; inv(0) = +inf; sigmoid never overflows (sigmoid(-100) ~
 *   3.7e-44, sigmoid(100) = 1); exp overflows to +inf above ~88.7; comparisons give 1 or 0 (never
 *   NaN); NaN propagates through arithmetic and sums; max treats NaN as the largest value.
 * Degenerate shapes: dims of size 1 everywhere, 8-dim tensors through elementwise, reductions,
 * permute and matmul (6 batch dims), with backward; a 9th dim is refused.
 * Expected values come from double-precision oracles rounded to float (so overflow becomes inf
 * as in float32); NaN must match NaN and infinities must match exactly. Both backends. */
#include "testing.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- comparing (collects violations instead of stopping at the first) ---- */

static bool same_value(double got, double want, double atol, double rtol)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    if (isnan(got) || isinf(got)) return false;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* Compares every element of t with want (row-major doubles, rounded to float first). */
static void check_values(const char *what, const mt_tensor *t, const double *want, double atol,
                         double rtol, const double *inputs_a, const double *inputs_b)
{
    if (!t) {
        t_violation("%s: NULL result: %s", what, mt_last_error());
        return;
    }
    double *got = t_values(t);
    for (int64_t i = 0; i < mt_numel(t); i++) {
        double w = (double)(float)want[i];
        if (!same_value(got[i], w, atol, rtol)) {
            if (inputs_b)
                t_violation("%s: element %lld (a = %g, b = %g) is %.9g, expected %.9g", what,
                            (long long)i, inputs_a[i], inputs_b[i], got[i], w);
            else if (inputs_a)
                t_violation("%s: element %lld (x = %g) is %.9g, expected %.9g", what, (long long)i,
                            inputs_a[i], got[i], w);
            else
                t_violation("%s: element %lld is %.9g, expected %.9g", what, (long long)i, got[i], w);
            break;
        }
    }
    free(got);
}

static const char *backend_name(int which) { return which ? "blas" : "naive"; }

/* ---- the special values ---- */

#define SUBNORMAL 1.4e-45 /* the smallest positive float */
static const double specials[] = {NAN,      INFINITY, -INFINITY, 0.0,   -0.0,  1.0,   -2.5,
                                  FLT_MAX,  -FLT_MAX, SUBNORMAL, 88.0,  89.0,  -100.0, 100.0,
                                  -88.0,    -104.0,   1e-30,    -1e30, 0.5};
#define SPECIALS (sizeof specials / sizeof specials[0])

/* Oracles in double, as ops.h documents each operation. */
static double o_neg(double x) { return -x; }
static double o_id(double x) { return x; }
static double o_sigmoid(double x)
{
    if (isnan(x)) return NAN;
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}
static double o_relu(double x) { return x < 0 ? 0.0 : x; } /* NaN propagates */
static double o_log(double x) { return log(x); }
static double o_exp(double x) { return (double)expf((float)x); } /* overflow point of float */
static double o_inv(double x) { return 1.0 / x; }
static double o_tanh(double x) { return tanh(x); } /* NaN stays NaN, ±inf -> ±1 */

typedef mt_tensor *(*unary_fn)(mt_tensor *);
static const struct {
    const char *fn;
    unary_fn call;
    double (*oracle)(double);
} unaries[] = {
    {"mt_neg", mt_neg, o_neg},   {"mt_copy", mt_copy, o_id}, {"mt_sigmoid", mt_sigmoid, o_sigmoid},
    {"mt_relu", mt_relu, o_relu}, {"mt_log", mt_log, o_log},  {"mt_exp", mt_exp, o_exp},
    {"mt_inv", mt_inv, o_inv},    {"mt_tanh", mt_tanh, o_tanh},
};
#define UNARIES (sizeof unaries / sizeof unaries[0])

/* Backward formulas (gradients.c documents them; ops.h's helpers define relu_back etc.). Computed
 * in float, as the library does, from the float input x and upstream gradient 1. */
static double d_neg(float x) { (void)x; return -1.0; }
static double d_id(float x) { (void)x; return 1.0; }
static double d_sigmoid(float x)
{
    float s = (float)o_sigmoid(x);
    return (double)(s * (1.0f - s));
}
static double d_relu(float x) { return x > 0.0f ? 1.0 : 0.0; }
static double d_log(float x) { return (double)(1.0f / x); }
static double d_exp(float x) { return (double)expf(x); }
static double d_inv(float x) { return (double)(-1.0f / (x * x)); }
static double d_tanh(float x)
{
    float t = tanhf(x);
    return (double)(1.0f - t * t);
}
static double (*const derivatives[UNARIES])(float) = {d_neg, d_id,  d_sigmoid, d_relu,
                                                       d_log, d_exp, d_inv,     d_tanh};

static mt_tensor *specials_tensor(void)
{
    float data[SPECIALS];
    for (size_t i = 0; i < SPECIALS; i++) data[i] = (float)specials[i];
    mt_tensor *t = mt_from_data(MT_DIMS((int64_t)SPECIALS), data);
    cr_assert_not_null(t);
    return t;
}

Test(numerics, unary_ops_on_special_values)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_scope s = mt_scope_begin();
        mt_tensor *x = specials_tensor();
        mt_set_requires_grad(x, true);
        for (size_t u = 0; u < UNARIES; u++) {
            double want[SPECIALS], grad_want[SPECIALS];
            for (size_t i = 0; i < SPECIALS; i++) {
                want[i] = unaries[u].oracle((double)(float)specials[i]);
                grad_want[i] = derivatives[u]((float)specials[i]);
            }
            char what[96];
            snprintf(what, sizeof what, "%s (%s)", unaries[u].fn, backend_name(be));
            mt_clear_error();
            mt_tensor *y = unaries[u].call(x);
            /* subnormal results (sigmoid(-104)) are allowed one subnormal step of slack */
            check_values(what, y, want, 2e-45, 2e-6, specials, NULL);
            /* backward: gradient of sum(y) is f'(x) */
            mt_zero_grad(x);
            if (y && mt_backward(mt_sum_all(y)) == MT_OK) {
                snprintf(what, sizeof what, "d %s / dx (%s)", unaries[u].fn, backend_name(be));
                check_values(what, mt_grad(x), grad_want, 2e-45, 2e-6, specials, NULL);
            } else {
                t_violation("%s: backward failed: %s", what, mt_last_error());
            }
        }
        /* the documented landmarks, exactly */
        mt_tensor *marks = mt_from_data(MT_DIMS(7), (const float[]){0, -1, -100, 100, 88.0f, 89.0f, -INFINITY});
        float v[7];
        mt_copy_to(mt_log(marks), v, 7);
        cr_assert(v[0] == -INFINITY && isnan(v[1]), "log(0) = -inf, log(-1) = NaN (%g, %g)", v[0], v[1]);
        mt_copy_to(mt_inv(marks), v, 7);
        cr_assert(v[0] == INFINITY, "inv(0) = +inf (%g)", v[0]);
        mt_copy_to(mt_sigmoid(marks), v, 7);
        cr_assert(v[2] > 3.0e-44f && v[2] < 4.5e-44f, "sigmoid(-100) ~ 3.7e-44 (%g)", v[2]);
        cr_assert(v[3] == 1.0f && v[6] == 0.0f, "sigmoid(100) = 1, sigmoid(-inf) = 0");
        mt_copy_to(mt_exp(marks), v, 7);
        cr_assert(isfinite(v[4]) && v[5] == INFINITY, "exp(88) finite, exp(89) = +inf (%g, %g)",
                  v[4], v[5]);
        cr_assert_eq(mt_scope_end(s), MT_OK);
    }
    t_violations_check("unary operations on special values");
}

/* ---- binary operations: every pair of special values ---- */

static double o_add(double a, double b) { return (double)((float)a + (float)b); }
static double o_sub(double a, double b) { return (double)((float)a - (float)b); }
static double o_mul(double a, double b) { return (double)((float)a * (float)b); }
static double o_div(double a, double b) { return (double)((float)a / (float)b); }
static double o_lt(double a, double b) { return a < b ? 1.0 : 0.0; }
static double o_gt(double a, double b) { return a > b ? 1.0 : 0.0; }
static double o_eq(double a, double b) { return a == b ? 1.0 : 0.0; }
static double o_is_close(double a, double b) { return fabs((double)((float)a - (float)b)) < 1e-2 ? 1.0 : 0.0; }
/* "d where a > 0 else 0; d / a; -d / a^2" */
static double o_relu_back(double a, double d) { return a > 0 ? d : 0.0; }
static double o_log_back(double a, double d) { return (double)((float)d / (float)a); }
static double o_inv_back(double a, double d) { return (double)(-(float)d / ((float)a * (float)a)); }

typedef mt_tensor *(*binary_fn)(mt_tensor *, mt_tensor *);
static const struct {
    const char *fn;
    binary_fn call;
    double (*oracle)(double, double);
    bool comparison;
} binaries[] = {
    {"mt_add", mt_add, o_add, false},           {"mt_sub", mt_sub, o_sub, false},
    {"mt_mul", mt_mul, o_mul, false},           {"mt_div", mt_div, o_div, false},
    {"mt_lt", mt_lt, o_lt, true},               {"mt_gt", mt_gt, o_gt, true},
    {"mt_eq", mt_eq, o_eq, true},               {"mt_is_close", mt_is_close, o_is_close, true},
    {"mt_relu_back", mt_relu_back, o_relu_back, false},
    {"mt_log_back", mt_log_back, o_log_back, false},
    {"mt_inv_back", mt_inv_back, o_inv_back, false},
};

Test(numerics, binary_ops_on_all_pairs_of_special_values)
{
    enum { N = SPECIALS * SPECIALS };
    static double av[N], bv[N], want[N];
    static float af[N], bf[N];
    for (size_t i = 0; i < SPECIALS; i++)
        for (size_t j = 0; j < SPECIALS; j++) {
            af[i * SPECIALS + j] = (float)specials[i];
            bf[i * SPECIALS + j] = (float)specials[j];
            av[i * SPECIALS + j] = (double)af[i * SPECIALS + j];
            bv[i * SPECIALS + j] = (double)bf[i * SPECIALS + j];
        }
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_scope s = mt_scope_begin();
        mt_tensor *a = mt_from_data(MT_DIMS((int64_t)SPECIALS, (int64_t)SPECIALS), af);
        mt_tensor *b = mt_from_data(MT_DIMS((int64_t)SPECIALS, (int64_t)SPECIALS), bf);
        /* the same pairs again through broadcasting: a column against a row */
        mt_tensor *col = mt_narrow(a, 1, 0, 1), *row = mt_narrow(b, 0, 0, 1);
        for (size_t k = 0; k < sizeof binaries / sizeof binaries[0]; k++) {
            for (int i = 0; i < N; i++) want[i] = binaries[k].oracle(av[i], bv[i]);
            char what[96];
            snprintf(what, sizeof what, "%s (%s)", binaries[k].fn, backend_name(be));
            mt_tensor *r = binaries[k].call(a, b);
            check_values(what, r, want, 0, 2e-7, av, bv);
            snprintf(what, sizeof what, "%s broadcast (%s)", binaries[k].fn, backend_name(be));
            check_values(what, binaries[k].call(col, row), want, 0, 2e-7, av, bv);
            if (binaries[k].comparison && r) { /* 1.0 or 0.0, never NaN */
                float *v = t_floats(r);
                for (int i = 0; i < N; i++)
                    if (v[i] != 0.0f && v[i] != 1.0f) {
                        t_violation("%s gives %g for (%g, %g)", what, v[i], av[i], bv[i]);
                        break;
                    }
                free(v);
            }
        }
        /* tensor-op-scalar with special scalars: same oracles */
        mt_tensor *x = specials_tensor();
        double xs[SPECIALS], w[SPECIALS], sv[SPECIALS];
        for (size_t i = 0; i < SPECIALS; i++) xs[i] = (double)(float)specials[i];
        const float scalars[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, FLT_MAX};
        for (size_t j = 0; j < sizeof scalars / sizeof scalars[0]; j++) {
            double sc = scalars[j];
            for (size_t i = 0; i < SPECIALS; i++) sv[i] = sc;
            const struct {
                const char *fn;
                mt_tensor *r;
                double (*oracle)(double, double);
                bool swapped;
            } cases[] = {
                {"mt_add_scalar", mt_add_scalar(x, scalars[j]), o_add, false},
                {"mt_sub_scalar", mt_sub_scalar(x, scalars[j]), o_sub, false},
                {"mt_rsub_scalar", mt_rsub_scalar(x, scalars[j]), o_sub, true},
                {"mt_mul_scalar", mt_mul_scalar(x, scalars[j]), o_mul, false},
                {"mt_div_scalar", mt_div_scalar(x, scalars[j]), o_div, false},
                {"mt_rdiv_scalar", mt_rdiv_scalar(x, scalars[j]), o_div, true},
                {"mt_lt_scalar", mt_lt_scalar(x, scalars[j]), o_lt, false},
                {"mt_gt_scalar", mt_gt_scalar(x, scalars[j]), o_gt, false},
                {"mt_eq_scalar", mt_eq_scalar(x, scalars[j]), o_eq, false},
            };
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
                for (size_t i = 0; i < SPECIALS; i++)
                    w[i] = cases[c].swapped ? cases[c].oracle(sc, xs[i]) : cases[c].oracle(xs[i], sc);
                char what[96];
                snprintf(what, sizeof what, "%s(x, %g) (%s)", cases[c].fn, sc, backend_name(be));
                check_values(what, cases[c].r, w, 0, 2e-7, xs, sv);
            }
        }
        cr_assert_eq(mt_scope_end(s), MT_OK);
    }
    t_violations_check("binary operations on special values");
}

/* Gradients of the binary operations with special values: no crash, and the documented formulas
 * (add (g, g), sub (g, -g), mul (g b, g a), div (g / b, -g a / b^2)). */
Test(numerics, binary_backward_on_special_values)
{
    enum { N = SPECIALS * SPECIALS };
    static float af[N], bf[N];
    static double av[N], bv[N], wa[N], wb[N];
    for (size_t i = 0; i < SPECIALS; i++)
        for (size_t j = 0; j < SPECIALS; j++) {
            af[i * SPECIALS + j] = (float)specials[i];
            bf[i * SPECIALS + j] = (float)specials[j];
            av[i * SPECIALS + j] = af[i * SPECIALS + j];
            bv[i * SPECIALS + j] = bf[i * SPECIALS + j];
        }
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int op = 0; op < 4; op++) {
            mt_scope s = mt_scope_begin();
            mt_tensor *a = mt_from_data(MT_DIMS((int64_t)SPECIALS, (int64_t)SPECIALS), af);
            mt_tensor *b = mt_from_data(MT_DIMS((int64_t)SPECIALS, (int64_t)SPECIALS), bf);
            mt_set_requires_grad(a, true);
            mt_set_requires_grad(b, true);
            binary_fn f = binaries[op].call;
            mt_tensor *y = f(a, b);
            /* backward with upstream gradient 1 everywhere (mt_backward_with: no sum, so one
             * NaN element does not spoil the others) */
            cr_assert_eq(mt_backward_with(y, mt_ones(MT_DIMS((int64_t)SPECIALS, (int64_t)SPECIALS))),
                         MT_OK, "%s", mt_last_error());
            for (int i = 0; i < N; i++) {
                float x = af[i], z = bf[i];
                switch (op) {
                case 0: wa[i] = 1; wb[i] = 1; break;
                case 1: wa[i] = 1; wb[i] = -1; break;
                case 2: wa[i] = z; wb[i] = x; break;
                default: wa[i] = 1.0f / z; wb[i] = -(1.0f * x) / (z * z); break;
                }
            }
            char what[96];
            snprintf(what, sizeof what, "d %s / da (%s)", binaries[op].fn, backend_name(be));
            check_values(what, mt_grad(a), wa, 0, 2e-7, av, bv);
            snprintf(what, sizeof what, "d %s / db (%s)", binaries[op].fn, backend_name(be));
            check_values(what, mt_grad(b), wb, 0, 2e-7, av, bv);
            cr_assert_eq(mt_scope_end(s), MT_OK);
        }
    }
    t_violations_check("binary backward on special values");
}

/* ---- reductions over rows holding NaN and infinities ---- */

Test(numerics, reductions_with_nan_and_inf)
{
    /* each row a case: NaN first/middle/last, +inf, -inf, both infinities, NaN with +inf,
     * FLT_MAX overflow in a product, zeros with inf in a product */
    enum { ROWS = 10, COLS = 4 };
    static const double rows[ROWS][COLS] = {
        {NAN, 1, 2, 3},        {1, NAN, 2, 3},           {1, 2, 3, NAN},
        {1, INFINITY, 2, 3},   {-INFINITY, 1, 2, 3},     {INFINITY, -INFINITY, 1, 2},
        {INFINITY, NAN, 1, 2}, {FLT_MAX, 2, 1, 1},       {0, INFINITY, 1, 1},
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY},
    };
    double flat[ROWS * COLS], flat_t[ROWS * COLS];
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++) {
            flat[i * COLS + j] = rows[i][j];
            flat_t[j * ROWS + i] = rows[i][j];
        }
    const int64_t shape[2] = {ROWS, COLS}, shape_t[2] = {COLS, ROWS};
    const t_reduce_kind kinds[] = {T_SUM, T_PROD, T_MAX, T_MEAN};
    const char *names[] = {"mt_sum", "mt_prod", "mt_max", "mt_mean"};
    mt_tensor *(*const calls[])(mt_tensor *, int) = {mt_sum, mt_prod, mt_max, mt_mean};
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        t_rng r = t_rng_seed(3);
        for (int layout = 0; layout < 3; layout++) {
            mt_scope s = mt_scope_begin();
            mt_tensor *a = t_tensor(&r, 2, shape, flat, layout);
            mt_tensor *at = t_tensor(&r, 2, shape_t, flat_t, layout); /* the rows as columns */
            for (int k = 0; k < 4; k++) {
                double *want = t_oracle_reduce(2, shape, flat, 1, kinds[k], NULL);
                /* the product of FLT_MAX*2 overflows in float whatever the order */
                if (kinds[k] == T_PROD) want[7] = INFINITY;
                if (kinds[k] == T_SUM) want[7] = (double)FLT_MAX + 4;
                if (kinds[k] == T_MEAN) want[7] = ((double)FLT_MAX + 4) / 4;
                char what[96];
                snprintf(what, sizeof what, "%s over rows (layout %d, %s)", names[k], layout,
                         backend_name(be));
                check_values(what, calls[k](a, 1), want, 0, 1e-6, NULL, NULL);
                snprintf(what, sizeof what, "%s over columns (layout %d, %s)", names[k], layout,
                         backend_name(be));
                check_values(what, calls[k](at, 0), want, 0, 1e-6, NULL, NULL);
                free(want);
            }
            /* sum_all / mean_all: any NaN or inf - inf makes NaN */
            double nan1[1] = {NAN};
            check_values("mt_sum_all", mt_sum_all(a), nan1, 0, 0, NULL, NULL);
            check_values("mt_mean_all", mt_mean_all(at), nan1, 0, 0, NULL, NULL);
            /* max's gradient goes to the first maximal element, NaN counting as the largest */
            mt_tensor *leaf = mt_contiguous(a);
            mt_tensor *detached = mt_detach(leaf);
            mt_set_requires_grad(detached, true);
            cr_assert_eq(mt_backward(mt_sum_all(mt_max(detached, 1))), MT_OK);
            float *g = t_floats(mt_grad(detached));
            const int first_max[ROWS] = {0, 1, 3, 1, 3, 0, 1, 0, 1, 0};
            for (int i = 0; i < ROWS; i++)
                for (int j = 0; j < COLS; j++)
                    if (g[i * COLS + j] != (j == first_max[i] ? 1.0f : 0.0f)) {
                        t_violation("max gradient, row %d (layout %d, %s): element %d is %g", i,
                                    layout, backend_name(be), j, g[i * COLS + j]);
                        break;
                    }
            free(g);
            /* sum's gradient is 1 everywhere, whatever the values */
            mt_zero_grad(detached);
            cr_assert_eq(mt_backward(mt_sum_all(mt_sum(detached, 0))), MT_OK);
            g = t_floats(mt_grad(detached));
            for (int i = 0; i < ROWS * COLS; i++)
                if (g[i] != 1.0f) {
                    t_violation("sum gradient element %d is %g (%s)", i, g[i], backend_name(be));
                    break;
                }
            free(g);
            cr_assert_eq(mt_scope_end(s), MT_OK);
        }
    }
    t_violations_check("reductions with NaN and infinities");
}

/* ---- matmul with NaN and infinities, against a triple loop in double ---- */

static double *matmul_oracle(int n, int k, int m, const double *a, const double *b)
{
    double *out = malloc(sizeof(double) * (size_t)(n * m));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double acc = 0;
            for (int p = 0; p < k; p++) acc += a[i * k + p] * b[p * m + j];
            out[i * m + j] = acc;
        }
    return out;
}

Test(numerics, matmul_with_nan_and_inf)
{
    enum { N = 5, K = 4, M = 3 };
    const double a[N * K] = {1, NAN, 2, 3,      /* row 0: NaN everywhere in the output row */
                             1, 2, 3, 4,        /* row 1: meets b's infinities */
                             0, 1, 1, 1,        /* row 2: 0 * inf = NaN in column 0 */
                             INFINITY, 0, 0, 0, /* row 3: inf * (b[0][j]) */
                             -1, 1, 0.5, 0.25};
    const double b[K * M] = {INFINITY, 1, 0, /* column 0 has +inf, column 2 a zero at row 0 */
                             1, 2, 3, 1, -INFINITY, 1, 2, 1, 1};
    double *want = matmul_oracle(N, K, M, a, b);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        t_rng r = t_rng_seed(5);
        for (int layout = 0; layout < 3; layout++) {
            mt_scope s = mt_scope_begin();
            mt_tensor *ta = t_tensor(&r, 2, (const int64_t[]){N, K}, a, layout);
            mt_tensor *tb = t_tensor(&r, 2, (const int64_t[]){K, M}, b, layout);
            char what[96];
            snprintf(what, sizeof what, "mt_matmul with NaN/inf (layout %d, %s)", layout,
                     backend_name(be));
            check_values(what, mt_matmul(ta, tb), want, 1e-6, 1e-6, NULL, NULL);
            snprintf(what, sizeof what, "mt_linear with NaN/inf (layout %d, %s)", layout,
                     backend_name(be));
            check_values(what, mt_linear(ta, tb, NULL), want, 1e-6, 1e-6, NULL, NULL);
            /* backward through it: no crash, gradients of the leaves' shapes */
            mt_tensor *la = mt_detach(ta), *lb = mt_detach(tb);
            mt_set_requires_grad(la, true);
            mt_set_requires_grad(lb, true);
            cr_assert_eq(mt_backward(mt_sum_all(mt_matmul(la, lb))), MT_OK, "%s", mt_last_error());
            t_expect_shape(mt_grad(la), 2, (const int64_t[]){N, K});
            t_expect_shape(mt_grad(lb), 2, (const int64_t[]){K, M});
            /* d sum(AB) / dA[i][p] = sum_j B[p][j]: row 0 of b sums to inf */
            double ga[N * K];
            for (int i = 0; i < N; i++)
                for (int p = 0; p < K; p++) ga[i * K + p] = b[p * M] + b[p * M + 1] + b[p * M + 2];
            snprintf(what, sizeof what, "d sum(AB) / dA (layout %d, %s)", layout, backend_name(be));
            check_values(what, mt_grad(la), ga, 1e-6, 1e-6, NULL, NULL);
            cr_assert_eq(mt_scope_end(s), MT_OK);
        }
    }
    free(want);
    t_violations_check("matmul with NaN and infinities");
}

/* ---- losses at the edges: finite where nn.h promises ---- */

Test(numerics, losses_stay_finite)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_scope s = mt_scope_begin();
        /* saturated sigmoid: prob exactly 0 or 1 against the wrong label */
        mt_tensor *prob = mt_from_data(MT_DIMS(4, 1), (const float[]){0, 1, 0, 1});
        mt_tensor *y = mt_from_data(MT_DIMS(4, 1), (const float[]){1, 0, 0, 1});
        mt_set_requires_grad(prob, true);
        mt_tensor *nll = mt_loss_nll_sigmoid(prob, y);
        cr_assert(isfinite(mt_item(nll)), "nll with saturated sigmoid: %g", mt_item(nll));
        cr_assert_eq(mt_backward(nll), MT_OK);
        float *g = t_floats(mt_grad(prob));
        for (int i = 0; i < 4; i++) cr_assert(isfinite(g[i]), "nll gradient %d is %g", i, g[i]);
        free(g);
        /* BCE with logits, "numerically stable for any z": one element at a time, against
         * max(z, 0) - z y + log1p(exp(-|z|)) in double */
        const float zs[] = {1e4f, -1e4f, 1e30f, -1e30f, 1e38f, -1e38f, FLT_MAX, -FLT_MAX, 100, -100, 0};
        const float ys[] = {0, 0.5f, 1};
        for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++)
            for (size_t j = 0; j < 3; j++) {
                mt_tensor *z = mt_from_data(MT_DIMS(1), &zs[i]);
                mt_tensor *t = mt_from_data(MT_DIMS(1), &ys[j]);
                mt_set_requires_grad(z, true);
                double zd = zs[i], yd = ys[j];
                double want = (zd > 0 ? zd : 0) - zd * yd + log1p(exp(-fabs(zd)));
                double grad = 1.0 / (1.0 + exp(-zd)) - yd; /* sigmoid(z) - y */
                mt_tensor *bce = mt_loss_bce_with_logits(z, t);
                float got = bce ? mt_item(bce) : NAN;
                if (!same_value(got, (double)(float)want, 1e-6, 1e-6))
                    t_violation("mt_loss_bce_with_logits(z = %g, y = %g) is %g, expected %g (%s)",
                                zd, yd, got, want, backend_name(be));
                if (bce && mt_backward(bce) == MT_OK) {
                    float gz = mt_item(mt_grad(z));
                    if (!same_value(gz, grad, 1e-6, 1e-5))
                        t_violation("d bce / dz at (z = %g, y = %g) is %g, expected %g (%s)", zd,
                                    yd, gz, grad, backend_name(be));
                }
            }
        /* softmax cross-entropy: logits far beyond exp's range */
        mt_tensor *logits = mt_from_data(MT_DIMS(2, 3), (const float[]){1e4f, 0, -1e4f, 3e38f, 3e38f, 0});
        mt_tensor *onehot = mt_one_hot((const int64_t[]){0, 2}, 2, 3);
        mt_set_requires_grad(logits, true);
        mt_tensor *ce = mt_loss_softmax_cross_entropy(logits, onehot);
        cr_assert(isfinite(mt_item(ce)), "softmax CE with huge logits: %g", mt_item(ce));
        cr_assert_eq(mt_backward(ce), MT_OK);
        g = t_floats(mt_grad(logits));
        for (int i = 0; i < 6; i++) cr_assert(isfinite(g[i]), "CE gradient %d is %g", i, g[i]);
        free(g);
        cr_assert_eq(mt_scope_end(s), MT_OK);
    }
    t_violations_check("losses at the edges");
}

/* ---- degenerate shapes ---- */

static const int64_t ones8[8] = {1, 1, 1, 1, 1, 1, 1, 1};

/* Dims of size 1 everywhere: 8-dim single elements through every kind of operation. */
Test(numerics, size_one_dims_everywhere)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_scope s = mt_scope_begin();
        mt_tensor *a = mt_full(8, ones8, 3.0f), *b = mt_full(8, ones8, -2.0f);
        mt_set_requires_grad(a, true);
        mt_set_requires_grad(b, true);
        mt_tensor *y = mt_mul(mt_add(mt_exp(mt_neg(a)), mt_sigmoid(b)), mt_div(a, b));
        cr_assert_not_null(y, "%s", mt_last_error());
        t_expect_shape(y, 8, ones8);
        for (int d = 0; d < 8; d++) {
            y = mt_sum(y, d);
            y = mt_max(y, -1 - d);
            y = mt_mean(mt_prod(y, d), d);
        }
        const int reverse[8] = {7, 6, 5, 4, 3, 2, 1, 0};
        y = mt_permute(y, reverse);
        y = mt_matmul(y, mt_transpose(b, 6, 7)); /* (1,...,1) @ (1,...,1) */
        y = mt_view(mt_contiguous(y), MT_DIMS(1));
        t_expect_shape(y, 1, (const int64_t[]){1});
        double x = 3.0, z = -2.0;
        double value = (exp(-x) + 1.0 / (1.0 + exp(-z))) * (x / z) * z;
        cr_assert(fabs(mt_item(y) - value) <= 1e-5 * fabs(value), "%g vs %g (%s)", mt_item(y),
                  value, backend_name(be));
        cr_assert_eq(mt_backward(y), MT_OK, "%s", mt_last_error());
        t_expect_shape(mt_grad(a), 8, ones8);
        t_expect_shape(mt_grad(b), 8, ones8);
        /* d/dx [(e^-x + sig(z)) * (x/z) * z] = -e^-x * x + (e^-x + sig(z)) */
        double gx = -exp(-x) * x + (exp(-x) + 1.0 / (1.0 + exp(-z)));
        float got;
        mt_get(mt_grad(a), (const int64_t[8]){0}, &got);
        cr_assert(fabs(got - gx) <= 1e-5 * fabs(gx) + 1e-6, "d/da %g vs %g", got, gx);
        /* broadcasting a (1,...,1) against 8-dim shapes, and expand */
        mt_tensor *big = mt_expand(a, MT_DIMS(2, 1, 2, 1, 2, 1, 2, 1));
        t_expect_shape(mt_add(big, b), 8, (const int64_t[]){2, 1, 2, 1, 2, 1, 2, 1});
        cr_assert_eq(mt_scope_end(s), MT_OK);
    }
}

/* 8-dim tensors (some dims 1, some 2 or 3) through elementwise with broadcasting, every
 * reduction over every dim, permutes, and batched matmul with 6 batch dims, against oracles. */
static double o_mul2(double a, double b) { return a * b; }
static double o_add2(double a, double b) { return a + b; }

Test(numerics, eight_dim_tensors)
{
    const int64_t shape[8] = {2, 1, 3, 2, 1, 2, 3, 2}; /* 144 elements */
    const int64_t n = t_numel(8, shape);
    t_rng r = t_rng_seed(11);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int layout = 0; layout < 3; layout++) {
            mt_scope s = mt_scope_begin();
            double *av = t_random_values(&r, n, -2, 2);
            int nb;
            int64_t sb[8];
            nb = t_random_shrunk_shape(&r, 8, shape, true, sb);
            double *bv = t_random_values(&r, t_numel(nb, sb), -2, 2);
            mt_tensor *a = t_tensor(&r, 8, shape, av, layout);
            mt_tensor *b = t_tensor(&r, nb, sb, bv, (layout + 1) % 3);
            double *want = t_oracle_zip(8, shape, 8, shape, av, nb, sb, bv, o_mul2);
            char what[128], text[64];
            snprintf(what, sizeof what, "8-dim mul with %s (layout %d, %s)",
                     t_shape_text(text, sizeof text, nb, sb), layout, backend_name(be));
            check_values(what, mt_mul(a, b), want, 1e-6, 1e-6, NULL, NULL);
            free(want);
            want = t_oracle_zip(8, shape, nb, sb, bv, 8, shape, av, o_add2);
            snprintf(what, sizeof what, "8-dim add, broadcast first (layout %d, %s)", layout,
                     backend_name(be));
            check_values(what, mt_add(b, a), want, 1e-6, 1e-6, NULL, NULL);
            free(want);
            /* every reduction over every dim (negative dims too) */
            const t_reduce_kind kinds[] = {T_SUM, T_PROD, T_MAX, T_MEAN};
            mt_tensor *(*const calls[])(mt_tensor *, int) = {mt_sum, mt_prod, mt_max, mt_mean};
            for (int d = 0; d < 8; d++)
                for (int k = 0; k < 4; k++) {
                    double *bound;
                    double *w = t_oracle_reduce(8, shape, av, d, kinds[k], &bound);
                    mt_tensor *red = calls[k](a, d - 8 * (k % 2)); /* d or d - 8 */
                    int64_t out_shape[8];
                    memcpy(out_shape, shape, sizeof out_shape);
                    out_shape[d] = 1;
                    snprintf(what, sizeof what, "8-dim reduce %d over dim %d (layout %d, %s)", k,
                             d, layout, backend_name(be));
                    if (!red || mt_ndim(red) != 8 || memcmp(mt_shape(red), out_shape, sizeof out_shape))
                        t_violation("%s: wrong shape", what);
                    else
                        check_values(what, red, w, 1e-5, 1e-5, NULL, NULL);
                    free(w);
                    free(bound);
                }
            /* permute: reversed, and a rotation; values by index */
            const int orders[2][8] = {{7, 6, 5, 4, 3, 2, 1, 0}, {3, 4, 5, 6, 7, 0, 1, 2}};
            for (int o = 0; o < 2; o++) {
                mt_tensor *p = mt_permute(a, orders[o]);
                int64_t ps[8], idx[8] = {0}, src[8];
                for (int i = 0; i < 8; i++) ps[i] = shape[orders[o][i]];
                t_expect_shape(p, 8, ps);
                double *pv = t_values(p);
                do {
                    for (int i = 0; i < 8; i++) src[orders[o][i]] = idx[i];
                    double w = (double)(float)av[t_ordinal(8, shape, src)];
                    if (pv[t_ordinal(8, ps, idx)] != w) {
                        t_violation("8-dim permute %d (layout %d): wrong value", o, layout);
                        break;
                    }
                } while (t_next_index(8, ps, idx));
                free(pv);
                /* and back through contiguous + view + reshape */
                mt_tensor *flat = mt_view(mt_contiguous(p), MT_DIMS(-1));
                mt_tensor *back = mt_reshape(flat, 8, ps);
                if (!back) t_violation("8-dim view/reshape: %s", mt_last_error());
            }
            free(av);
            free(bv);
            cr_assert_eq(mt_scope_end(s), MT_OK);
        }
    }
    t_violations_check("8-dim tensors");
}

/* Batched matmul with 6 batch dims that broadcast, forward against a loop oracle and backward
 * (the gradients keep the leaves' shapes: summed over the broadcast batch dims). */
Test(numerics, matmul_with_six_batch_dims)
{
    const int64_t sa[8] = {2, 1, 2, 1, 1, 2, 3, 4};
    const int64_t sb[8] = {1, 2, 1, 1, 2, 1, 4, 2};
    const int64_t so[8] = {2, 2, 2, 1, 2, 2, 3, 2};
    const int64_t na = t_numel(8, sa), nb = t_numel(8, sb), no = t_numel(8, so);
    t_rng r = t_rng_seed(17);
    double *av = t_random_values(&r, na, -1, 1), *bv = t_random_values(&r, nb, -1, 1);
    /* oracles: out, d sum(out) / da, d sum(out) / db */
    double *want = calloc((size_t)no, sizeof(double));
    double *ga = calloc((size_t)na, sizeof(double)), *gb = calloc((size_t)nb, sizeof(double));
    int64_t idx[8] = {0}, ia[8], ib[8];
    do { /* idx walks the output's batch dims and rows/cols */
        t_broadcast_index(8, idx, 8, sa, ia);
        t_broadcast_index(8, idx, 8, sb, ib);
        double acc = 0;
        for (int64_t k = 0; k < 4; k++) {
            ia[6] = idx[6], ia[7] = k, ib[6] = k, ib[7] = idx[7];
            double x = av[t_ordinal(8, sa, ia)], y = bv[t_ordinal(8, sb, ib)];
            acc += x * y;
            ga[t_ordinal(8, sa, ia)] += y;
            gb[t_ordinal(8, sb, ib)] += x;
        }
        want[t_ordinal(8, so, idx)] = acc;
    } while (t_next_index(8, so, idx));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int layout = 0; layout < 3; layout++) {
            mt_scope s = mt_scope_begin();
            mt_tensor *a = t_tensor(&r, 8, sa, av, layout), *b = t_tensor(&r, 8, sb, bv, 2 - layout);
            mt_tensor *la = mt_detach(a), *lb = mt_detach(b);
            mt_set_requires_grad(la, true);
            mt_set_requires_grad(lb, true);
            mt_tensor *out = mt_matmul(la, lb);
            char what[96];
            snprintf(what, sizeof what, "6-batch-dim matmul (layout %d, %s)", layout, backend_name(be));
            if (!out || mt_ndim(out) != 8 || memcmp(mt_shape(out), so, sizeof so) != 0)
                t_violation("%s: wrong result shape (%s)", what, mt_last_error());
            else
                check_values(what, out, want, 1e-5, 1e-5, NULL, NULL);
            if (out && mt_backward(mt_sum_all(out)) == MT_OK) {
                mt_tensor *g = mt_grad(la), *h = mt_grad(lb);
                if (!g || memcmp(mt_shape(g), sa, sizeof sa) || !h || memcmp(mt_shape(h), sb, sizeof sb))
                    t_violation("%s: gradients do not have the leaves' shapes", what);
                snprintf(what, sizeof what, "6-batch-dim d/da (layout %d, %s)", layout, backend_name(be));
                check_values(what, g, ga, 1e-5, 1e-5, NULL, NULL);
                snprintf(what, sizeof what, "6-batch-dim d/db (layout %d, %s)", layout, backend_name(be));
                check_values(what, h, gb, 1e-5, 1e-5, NULL, NULL);
            } else {
                t_violation("%s: backward failed: %s", what, mt_last_error());
            }
            /* an 8-dim batch against a plain matrix, and the fused linear on 8 dims */
            mt_tensor *w = t_tensor(&r, 2, (const int64_t[]){4, 2}, bv, layout);
            mt_tensor *lin = mt_linear(a, w, mt_narrow(mt_view(mt_contiguous(w), MT_DIMS(8)), 0, 0, 2));
            const int64_t sl[8] = {2, 1, 2, 1, 1, 2, 3, 2};
            if (!lin || memcmp(mt_shape(lin), sl, sizeof sl) != 0)
                t_violation("8-dim mt_linear: %s", mt_last_error());
            cr_assert_eq(mt_scope_end(s), MT_OK);
        }
    }
    free(av), free(bv), free(want), free(ga), free(gb);
    t_violations_check("matmul with 6 batch dims");
}

/* The 9th dim is refused everywhere a shape could grow to it, with MT_ERR_SHAPE. */
Test(numerics, ninth_dim_refused)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *t = mt_ones(8, ones8);
    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    mt_clear_error();
    cr_assert_null(mt_view(t, 9, nine));
    t_expect_error(MT_ERR_SHAPE, "mt_view");
    mt_clear_error();
    cr_assert_null(mt_reshape(t, 9, nine));
    t_expect_error(MT_ERR_SHAPE, "mt_reshape");
    mt_clear_error();
    cr_assert_null(mt_expand(t, 9, nine));
    t_expect_error(MT_ERR_SHAPE, "mt_expand");
    mt_clear_error();
    cr_assert_null(mt_zeros(9, nine));
    t_expect_error(MT_ERR_SHAPE, "mt_zeros");
    int nd = -1;
    int64_t out[9];
    mt_clear_error();
    cr_assert_eq(mt_shape_broadcast(9, nine, 8, ones8, &nd, out), MT_ERR_SHAPE);
    cr_assert_eq(nd, -1);
    /* two 8-dim operands broadcast to 8 dims, never more */
    mt_tensor *u = mt_ones(MT_DIMS(2, 1, 1, 1, 1, 1, 1, 1));
    mt_tensor *v = mt_ones(MT_DIMS(2, 1, 1, 1, 1, 1, 1));
    t_expect_shape(mt_add(u, v), 8, (const int64_t[]){2, 2, 1, 1, 1, 1, 1, 1});
    cr_assert_eq(mt_scope_end(s), MT_OK);
}
