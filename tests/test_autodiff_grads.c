/* Gradient checks for every differentiable operation of minitorch-c.
 *
 * Each check builds inputs x (float values, as tensors under layout 0 contiguous, 1 permuted
 * storage or 2 a narrowed view; see t_tensor), computes y = op(x) with the library, then
 * L = sum_all(y) (or sum_all(y * w) with a fixed constant w of y's shape, so that a gradient sent
 * to the wrong position shows), runs mt_backward(L) and compares every element of every input's
 * gradient with central differences
 *     dL/dx_i = (F(x + h e_i) - F(x - h e_i)) / 2h,   h = 1e-4 * max(1, |x_i|)
 * where F is the test's own implementation of the same function in double (nothing here calls the
 * library to evaluate F). The forward value y is compared with the double implementation as well,
 * which keeps the reference functions honest.
 *
 * Tolerances: the library works in float32 (unit roundoff 6e-8). Inputs are at most ~10 in
 * magnitude, gradients at most ~50, and a gradient element goes through at most ~20 roundings
 * (k <= 4 products summed, a few broadcast sums), so its float32 error is below ~1e-5 absolute.
 * The double central difference has truncation error ~h^2 |f'''| / 6 <= 1e-7 and rounding error
 * ~1e-16 |F| / h <= 1e-10. We allow |got - expected| <= 1e-4 + 1e-4 |expected| (GC_ATOL, GC_RTOL):
 * ten times the worst float32 error, while any wrong formula (a missing factor, a gradient sent to
 * the wrong element, a missed or doubled accumulation, a broadcast dim not summed) is off by at
 * least ~1e-2. Inputs keep >= KINK_MARGIN (>> h) away from kinks and switching points (relu at 0,
 * comparison thresholds, ties of max), where the numeric derivative would be meaningless.
 *
 * Every check runs on both backends (t_use_backend(0) and (1)), on contiguous, permuted and
 * narrowed inputs (and a mix), with random shapes (1-3 dims, sizes 1-4) from a fixed seed. */
#include "testing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_ATOL 1e-4
#define GC_RTOL 1e-4
/* forward values: same float32 argument as above */
#define FWD_ATOL 1e-4
#define FWD_RTOL 1e-4
#define KINK_MARGIN 0.02
#define ITERS 5
#define LAYOUT_MODES 4 /* 0, 1, 2: every input in that layout; 3: a random layout per input */

/* ------------------------------------------------------------------------------------------ */
/* the check machinery                                                                         */

typedef struct gc_arg {
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    double *v; /* logical values, row-major, float-representable */
} gc_arg;

typedef enum gc_kind {
    K_SUM, K_MEAN, K_PROD, K_MAX, K_SUM_ALL, K_MEAN_ALL, K_SUM_ALL_SQ, K_MEAN_ALL_SQ
} gc_kind;

typedef struct gc_case gc_case;
struct gc_case {
    const char *name;
    int arity;
    gc_arg in[3];
    int res_ndim; /* the shape of y = op(x) */
    int64_t res_shape[MT_MAX_DIMS];
    mt_tensor *(*lib)(const gc_case *c, mt_tensor *const *x);
    void (*ref)(const gc_case *c, const gc_arg *x, double *out); /* y in double */
    bool weighted;
    double *w; /* the constant weight (res shape) when weighted */
    const void *def;
    /* parameters of the operation */
    gc_kind kind;
    int dim, dim_norm, dim1, dim1_norm;
    int order[MT_MAX_DIMS];
    int tgt_ndim;
    int64_t tgt_shape[MT_MAX_DIMS]; /* as passed to the library (view may hold a -1) */
    int64_t start, length;
    bool trans[2];
    int64_t max_checked; /* 0: check every gradient element; else this many sampled elements */
    double atol, rtol;   /* 0: GC_ATOL, GC_RTOL */
};

static uint64_t name_seed(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, ")");
}

static double sum_weighted(const gc_case *c, const gc_arg *x, double *scratch)
{
    c->ref(c, x, scratch);
    int64_t n = t_numel(c->res_ndim, c->res_shape);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += c->weighted ? scratch[i] * c->w[i] : scratch[i];
    return s;
}

/* Central differences of F with respect to the elements idx[0..count-1] of input `which`
 * (every element when idx is NULL). */
static void numeric_grad(const gc_case *c, int which, const int64_t *idx, int64_t count,
                         double *grad)
{
    gc_arg x[3];
    memcpy(x, c->in, sizeof x);
    int64_t n = t_numel(x[which].ndim, x[which].shape);
    double *v = malloc(sizeof(double) * (size_t)n);
    double *scratch = malloc(sizeof(double) * (size_t)t_numel(c->res_ndim, c->res_shape));
    cr_assert(v && scratch);
    memcpy(v, c->in[which].v, sizeof(double) * (size_t)n);
    x[which].v = v;
    for (int64_t e = 0; e < count; e++) {
        int64_t i = idx ? idx[e] : e;
        double xi = v[i], h = 1e-4 * fmax(1.0, fabs(xi));
        double hi = xi + h, lo = xi - h;
        v[i] = hi;
        double fp = sum_weighted(c, x, scratch);
        v[i] = lo;
        double fm = sum_weighted(c, x, scratch);
        v[i] = xi;
        grad[e] = (fp - fm) / (hi - lo);
    }
    free(v);
    free(scratch);
}

static const char *backend_label(void) { return mt_get_backend() == MT_BACKEND_BLAS ? "blas" : "naive"; }

/* Runs one gradient check: builds the inputs under the layout mode, checks y's shape and values,
 * backpropagates sum_all(y [* w]) and checks every input's gradient element by element. */
static void gc_check(gc_case *c, t_rng *r, int layout_mode, int iter)
{
    char ctx[512];
    size_t used = (size_t)snprintf(ctx, sizeof ctx, "%s [backend %s, layout mode %d, iter %d,",
                                   c->name, backend_label(), layout_mode, iter);
    for (int i = 0; i < c->arity && used < sizeof ctx; i++) {
        char s[64];
        fmt_shape(s, sizeof s, c->in[i].ndim, c->in[i].shape);
        used += (size_t)snprintf(ctx + used, sizeof ctx - used, " x%d %s", i, s);
    }
    if (used < sizeof ctx) snprintf(ctx + used, sizeof ctx - used, "]");

    int64_t n_out = t_numel(c->res_ndim, c->res_shape);
    if (c->weighted) {
        c->w = t_random_values(r, n_out, 0.5, 2.0);
    }
    double *y_ref = malloc(sizeof(double) * (size_t)n_out);
    cr_assert_not_null(y_ref);
    c->ref(c, c->in, y_ref);

    mt_tensor *x[3] = {NULL, NULL, NULL};
    for (int i = 0; i < c->arity; i++) {
        int layout = layout_mode < 3 ? layout_mode : t_rng_int(r, 0, 2);
        x[i] = t_tensor(r, c->in[i].ndim, c->in[i].shape, c->in[i].v, layout);
        cr_assert_eq(mt_set_requires_grad(x[i], true), MT_OK, "%s: mt_set_requires_grad: %s", ctx,
                     mt_last_error());
    }
    mt_tensor *w = c->weighted ? t_tensor(r, c->res_ndim, c->res_shape, c->w, 0) : NULL;

    mt_scope scope = mt_scope_begin();
    mt_tensor *y = c->lib(c, x);
    cr_assert_not_null(y, "%s: the operation failed: %s", ctx, mt_last_error());
    t_expect_shape(y, c->res_ndim, c->res_shape);
    char what[600];
    snprintf(what, sizeof what, "%s forward", ctx);
    t_expect_close(what, y, y_ref, FWD_ATOL, FWD_RTOL);
    cr_assert(mt_requires_grad(y), "%s: the result does not require grad", ctx);
    mt_tensor *loss = mt_sum_all(w ? mt_mul(y, w) : y);
    cr_assert_not_null(loss, "%s: loss: %s", ctx, mt_last_error());
    cr_assert_eq(mt_backward(loss), MT_OK, "%s: mt_backward: %s", ctx, mt_last_error());
    for (int i = 0; i < c->arity; i++) {
        mt_tensor *g = mt_grad(x[i]);
        cr_assert_not_null(g, "%s: mt_grad(x%d): %s", ctx, i, mt_last_error());
        t_expect_shape(g, c->in[i].ndim, c->in[i].shape);
        int64_t n = t_numel(c->in[i].ndim, c->in[i].shape);
        double atol = c->atol > 0 ? c->atol : GC_ATOL, rtol = c->rtol > 0 ? c->rtol : GC_RTOL;
        snprintf(what, sizeof what, "%s grad of x%d", ctx, i);
        if (c->max_checked == 0 || n <= c->max_checked) {
            double *expected = malloc(sizeof(double) * (size_t)n);
            cr_assert_not_null(expected);
            numeric_grad(c, i, NULL, n, expected);
            t_expect_close(what, g, expected, atol, rtol);
            free(expected);
        } else {
            /* a large input: the first and last elements and random ones in between */
            int64_t count = c->max_checked, *idx = malloc(sizeof(int64_t) * (size_t)count);
            double *expected = malloc(sizeof(double) * (size_t)count);
            cr_assert(idx && expected);
            idx[0] = 0;
            idx[1] = n - 1;
            for (int64_t e = 2; e < count; e++)
                idx[e] = (int64_t)(t_rng_next(r) % (uint64_t)n);
            numeric_grad(c, i, idx, count, expected);
            double *got = t_values(g);
            for (int64_t e = 0; e < count; e++)
                cr_assert(fabs(got[idx[e]] - expected[e]) <= atol + rtol * fabs(expected[e]),
                          "%s: element %lld is %.9g, expected %.9g (atol %g, rtol %g)", what,
                          (long long)idx[e], got[idx[e]], expected[e], atol, rtol);
            free(got);
            free(idx);
            free(expected);
        }
    }
    cr_assert_eq(mt_scope_end(scope), MT_OK);
    for (int i = 0; i < c->arity; i++) cr_assert_eq(mt_release(x[i]), MT_OK);
    cr_assert_eq(mt_release(w), MT_OK);
    free(y_ref);
    free(c->w);
    c->w = NULL;
}

static void gc_free(gc_case *c)
{
    for (int i = 0; i < 3; i++) {
        free(c->in[i].v);
        c->in[i].v = NULL;
    }
}

/* Row-major index of `ordinal` in shape. */
static void index_of(int64_t ordinal, int ndim, const int64_t *shape, int64_t *index)
{
    for (int d = ndim - 1; d >= 0; d--) {
        index[d] = ordinal % shape[d];
        ordinal /= shape[d];
    }
}

static void set_arg(gc_arg *a, int ndim, const int64_t *shape)
{
    a->ndim = ndim;
    memcpy(a->shape, shape, sizeof(int64_t) * (size_t)ndim);
}

/* ------------------------------------------------------------------------------------------ */
/* elementwise functions of one input (MiniTorch's one_arg table, plus the scalar variants)     */

typedef struct unary_def {
    const char *name;
    mt_tensor *(*lib)(mt_tensor *a);
    double (*ref)(double a);
    double lo, hi;
    int nkinks;
    double kinks[2];
} unary_def;

static double d_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double d_relu(double x) { return x > 0 ? x : 0.0; }

static mt_tensor *l_neg(mt_tensor *a) { return mt_neg(a); }
static double r_neg(double a) { return -a; }
static mt_tensor *l_add5(mt_tensor *a) { return mt_add_scalar(a, 5.0f); }
static double r_add5(double a) { return a + 5.0; }
static mt_tensor *l_sub5(mt_tensor *a) { return mt_sub_scalar(a, 5.0f); }
static double r_sub5(double a) { return a - 5.0; }
static mt_tensor *l_mul5(mt_tensor *a) { return mt_mul_scalar(a, 5.0f); }
static double r_mul5(double a) { return 5.0 * a; }
static mt_tensor *l_div5(mt_tensor *a) { return mt_div_scalar(a, 5.0f); }
static double r_div5(double a) { return a / 5.0; }
static mt_tensor *l_rsub5(mt_tensor *a) { return mt_rsub_scalar(a, 5.0f); }
static double r_rsub5(double a) { return 5.0 - a; }
static mt_tensor *l_rdiv(mt_tensor *a) { return mt_rdiv_scalar(mt_add_scalar(a, 10.0f), 5.0f); }
static double r_rdiv(double a) { return 5.0 / (a + 10.0); }
static mt_tensor *l_square(mt_tensor *a) { return mt_mul(a, a); }
static double r_square(double a) { return a * a; }
static mt_tensor *l_cube(mt_tensor *a) { return mt_mul(mt_mul(a, a), a); }
static double r_cube(double a) { return a * a * a; }
static mt_tensor *l_inv(mt_tensor *a) { return mt_inv(mt_add_scalar(a, 3.5f)); }
static double r_inv(double a) { return 1.0 / (a + 3.5); }
static mt_tensor *l_sigmoid(mt_tensor *a) { return mt_sigmoid(a); }
static mt_tensor *l_tanh(mt_tensor *a) { return mt_tanh(a); }
static double r_tanh(double a) { return tanh(a); }
static double r_sigmoid(double a) { return d_sigmoid(a); }
static mt_tensor *l_log(mt_tensor *a) { return mt_log(mt_add_scalar(a, 10.0f)); }
static double r_log(double a) { return log(a + 10.0); }
static mt_tensor *l_relu_shift(mt_tensor *a) { return mt_relu(mt_add_scalar(a, 5.5f)); }
static double r_relu_shift(double a) { return d_relu(a + 5.5); }
static mt_tensor *l_relu(mt_tensor *a) { return mt_relu(a); }
static double r_relu(double a) { return d_relu(a); }
static mt_tensor *l_exp(mt_tensor *a) { return mt_exp(mt_sub_scalar(a, 2.0f)); }
static double r_exp(double a) { return exp(a - 2.0); }
static mt_tensor *l_explog(mt_tensor *a)
{
    return mt_add(mt_log(mt_add_scalar(a, 10.0f)), mt_exp(mt_sub_scalar(a, 2.0f)));
}
static double r_explog(double a) { return log(a + 10.0) + exp(a - 2.0); }
/* MiniTorch's complex: log(sigmoid(relu(relu(a * 10 + 7) * 6 + 5) * 10)) / 50 */
static mt_tensor *l_complex(mt_tensor *a)
{
    mt_tensor *inner = mt_add_scalar(mt_mul_scalar(mt_relu(mt_add_scalar(mt_mul_scalar(a, 10.0f), 7.0f)), 6.0f), 5.0f);
    return mt_div_scalar(mt_log(mt_sigmoid(mt_mul_scalar(mt_relu(inner), 10.0f))), 50.0f);
}
static double r_complex(double a)
{
    return log(d_sigmoid(d_relu(d_relu(a * 10.0 + 7.0) * 6.0 + 5.0) * 10.0)) / 50.0;
}
/* The same chain scaled so that sigmoid is not saturated (the original's gradient is ~e^-50). */
static mt_tensor *l_complex_soft(mt_tensor *a)
{
    mt_tensor *inner = mt_add_scalar(mt_mul_scalar(mt_relu(mt_add_scalar(mt_mul_scalar(a, 10.0f), 7.0f)), 6.0f), 5.0f);
    return mt_div_scalar(mt_log(mt_sigmoid(mt_sub_scalar(mt_mul_scalar(mt_relu(inner), 0.05f), 2.0f))), 5.0f);
}
static double r_complex_soft(double a)
{
    return log(d_sigmoid(d_relu(d_relu(a * 10.0 + 7.0) * 6.0 + 5.0) * 0.05 - 2.0)) / 5.0;
}
/* comparisons with a scalar: the gradient is zero */
static mt_tensor *l_lt_scalar(mt_tensor *a) { return mt_lt_scalar(a, 0.5f); }
static double r_lt_scalar(double a) { return a < 0.5 ? 1.0 : 0.0; }
static mt_tensor *l_gt_scalar(mt_tensor *a) { return mt_gt_scalar(a, 0.5f); }
static double r_gt_scalar(double a) { return a > 0.5 ? 1.0 : 0.0; }
static mt_tensor *l_eq_scalar(mt_tensor *a) { return mt_eq_scalar(a, 0.5f); }
static double r_eq_scalar(double a) { return a == 0.5 ? 1.0 : 0.0; }

static void ref_unary(const gc_case *c, const gc_arg *x, double *out)
{
    const unary_def *d = c->def;
    int64_t n = t_numel(x[0].ndim, x[0].shape);
    for (int64_t i = 0; i < n; i++) out[i] = d->ref(x[0].v[i]);
}

static mt_tensor *lib_unary(const gc_case *c, mt_tensor *const *x)
{
    return ((const unary_def *)c->def)->lib(x[0]);
}

static bool near_kink(double v, int nkinks, const double *kinks)
{
    for (int k = 0; k < nkinks; k++)
        if (fabs(v - kinks[k]) < KINK_MARGIN) return true;
    return false;
}

/* Random values in [lo, hi), each at least KINK_MARGIN away from every kink. */
static double *values_avoiding(t_rng *r, int64_t n, double lo, double hi, int nkinks,
                               const double *kinks)
{
    double *v = t_random_values(r, n, lo, hi);
    for (int64_t i = 0; i < n; i++)
        for (int tries = 0; near_kink(v[i], nkinks, kinks); tries++) {
            cr_assert(tries < 1000, "cannot draw a value away from the kinks");
            v[i] = (double)(float)t_rng_uniform(r, lo, hi);
        }
    return v;
}

static void run_unary(const unary_def *d)
{
    t_rng r = t_rng_seed(name_seed(d->name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < ITERS; it++)
            for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                gc_case c = {.name = d->name, .arity = 1, .def = d, .lib = lib_unary, .ref = ref_unary};
                int64_t shape[MT_MAX_DIMS];
                int nd = t_random_shape(&r, 1, 3, 4, shape);
                set_arg(&c.in[0], nd, shape);
                c.in[0].v = values_avoiding(&r, t_numel(nd, shape), d->lo, d->hi, d->nkinks, d->kinks);
                c.res_ndim = nd;
                memcpy(c.res_shape, shape, sizeof shape);
                gc_check(&c, &r, mode, it);
                gc_free(&c);
            }
    }
}

#define UNARY_TEST(id, lo_, hi_, ...)                                                          \
    Test(grad_one_arg, id)                                                                      \
    {                                                                                           \
        static const unary_def d = {#id, l_##id, r_##id, lo_, hi_, __VA_ARGS__};                \
        run_unary(&d);                                                                          \
    }

UNARY_TEST(neg, -5, 5, 0, {0})
UNARY_TEST(add5, -5, 5, 0, {0})
UNARY_TEST(sub5, -5, 5, 0, {0})
UNARY_TEST(mul5, -5, 5, 0, {0})
UNARY_TEST(div5, -5, 5, 0, {0})
UNARY_TEST(rsub5, -5, 5, 0, {0})
UNARY_TEST(rdiv, -5, 5, 0, {0})
UNARY_TEST(square, -5, 5, 0, {0})
UNARY_TEST(cube, -3, 3, 0, {0})
UNARY_TEST(inv, -3, 3, 0, {0})
UNARY_TEST(sigmoid, -5, 5, 0, {0})
UNARY_TEST(tanh, -3, 3, 0, {0})
UNARY_TEST(log, -5, 5, 0, {0})
UNARY_TEST(relu_shift, -5, 5, 0, {0})
UNARY_TEST(relu, -5, 5, 1, {0.0})
UNARY_TEST(exp, -5, 5, 0, {0})
UNARY_TEST(explog, -5, 5, 0, {0})
UNARY_TEST(complex, -1, 1, 1, {-0.7})
UNARY_TEST(complex_soft, -1, 1, 1, {-0.7})
UNARY_TEST(lt_scalar, -3, 3, 1, {0.5})
UNARY_TEST(gt_scalar, -3, 3, 1, {0.5})
UNARY_TEST(eq_scalar, -3, 3, 1, {0.5})

/* ------------------------------------------------------------------------------------------ */
/* elementwise functions of two inputs, with MiniTorch's broadcast variants                    */

typedef struct binary_def {
    const char *name;
    mt_tensor *(*lib)(mt_tensor *a, mt_tensor *b);
    double (*ref)(double a, double b);
    double alo, ahi, blo, bhi;
    double b_min_abs;                  /* |b| >= this (division) */
    double (*switch_dist)(double a, double b); /* distance to a switching point, or NULL */
} binary_def;

static mt_tensor *l2_add(mt_tensor *a, mt_tensor *b) { return mt_add(a, b); }
static double r2_add(double a, double b) { return a + b; }
static mt_tensor *l2_sub(mt_tensor *a, mt_tensor *b) { return mt_sub(a, b); }
static double r2_sub(double a, double b) { return a - b; }
static mt_tensor *l2_mul(mt_tensor *a, mt_tensor *b) { return mt_mul(a, b); }
static double r2_mul(double a, double b) { return a * b; }
static mt_tensor *l2_div(mt_tensor *a, mt_tensor *b) { return mt_div(a, b); }
static double r2_div(double a, double b) { return a / b; }
static mt_tensor *l2_div_shift(mt_tensor *a, mt_tensor *b) { return mt_div(a, mt_add_scalar(b, 5.5f)); }
static double r2_div_shift(double a, double b) { return a / (b + 5.5); }
static mt_tensor *l2_gt(mt_tensor *a, mt_tensor *b) { return mt_gt(mt_add_scalar(a, 1.2f), b); }
static double r2_gt(double a, double b) { return a + 1.2 > b ? 1.0 : 0.0; }
static mt_tensor *l2_lt(mt_tensor *a, mt_tensor *b) { return mt_lt(mt_add_scalar(a, 1.2f), b); }
static double r2_lt(double a, double b) { return a + 1.2 < b ? 1.0 : 0.0; }
static double dist_cmp(double a, double b) { return fabs(a + 1.2 - b); }
static mt_tensor *l2_eq(mt_tensor *a, mt_tensor *b) { return mt_eq(a, mt_add_scalar(b, 5.5f)); }
static double r2_eq(double a, double b) { return a == b + 5.5 ? 1.0 : 0.0; }
static double dist_eq(double a, double b) { return fabs(a - b - 5.5); }
static mt_tensor *l2_is_close(mt_tensor *a, mt_tensor *b) { return mt_is_close(a, b); }
static double r2_is_close(double a, double b) { return fabs(a - b) < 1e-2 ? 1.0 : 0.0; }
static double dist_is_close(double a, double b) { return fabs(fabs(a - b) - 1e-2); }
/* a smooth function of both inputs with gradients depending on both: a * b + a / (b + 5.5) */
static mt_tensor *l2_mix(mt_tensor *a, mt_tensor *b)
{
    return mt_add(mt_mul(a, b), mt_div(a, mt_add_scalar(b, 5.5f)));
}
static double r2_mix(double a, double b) { return a * b + a / (b + 5.5); }

static void ref_binary(const gc_case *c, const gc_arg *x, double *out)
{
    const binary_def *d = c->def;
    int64_t idx[MT_MAX_DIMS] = {0}, ia[MT_MAX_DIMS], ib[MT_MAX_DIMS];
    int64_t o = 0;
    do {
        t_broadcast_index(c->res_ndim, idx, x[0].ndim, x[0].shape, ia);
        t_broadcast_index(c->res_ndim, idx, x[1].ndim, x[1].shape, ib);
        out[o++] = d->ref(x[0].v[t_ordinal(x[0].ndim, x[0].shape, ia)],
                          x[1].v[t_ordinal(x[1].ndim, x[1].shape, ib)]);
    } while (t_next_index(c->res_ndim, c->res_shape, idx));
}

static mt_tensor *lib_binary(const gc_case *c, mt_tensor *const *x)
{
    return ((const binary_def *)c->def)->lib(x[0], x[1]);
}

/* Values for a binary case: b away from 0 if asked, every broadcast pair away from switching. */
static void binary_values(t_rng *r, const binary_def *d, gc_case *c)
{
    int64_t na = t_numel(c->in[0].ndim, c->in[0].shape), nb = t_numel(c->in[1].ndim, c->in[1].shape);
    for (int tries = 0;; tries++) {
        cr_assert(tries < 1000, "%s: cannot draw inputs away from switching points", d->name);
        c->in[0].v = t_random_values(r, na, d->alo, d->ahi);
        c->in[1].v = t_random_values(r, nb, d->blo, d->bhi);
        for (int64_t i = 0; i < nb; i++)
            while (fabs(c->in[1].v[i]) < d->b_min_abs) /* away from 0 for division */
                c->in[1].v[i] = (double)(float)t_rng_uniform(r, d->blo, d->bhi);
        bool ok = true;
        if (d->switch_dist) {
            int64_t idx[MT_MAX_DIMS] = {0}, ia[MT_MAX_DIMS], ib[MT_MAX_DIMS];
            do {
                t_broadcast_index(c->res_ndim, idx, c->in[0].ndim, c->in[0].shape, ia);
                t_broadcast_index(c->res_ndim, idx, c->in[1].ndim, c->in[1].shape, ib);
                if (d->switch_dist(c->in[0].v[t_ordinal(c->in[0].ndim, c->in[0].shape, ia)],
                                   c->in[1].v[t_ordinal(c->in[1].ndim, c->in[1].shape, ib)]) <
                    KINK_MARGIN)
                    ok = false;
            } while (ok && t_next_index(c->res_ndim, c->res_shape, idx));
        }
        if (ok) return;
        gc_free(c);
    }
}

/* A shape that broadcasts to `shape`: some leading dims dropped, some dims set to 1. */
static int smaller_shape(t_rng *r, int ndim, const int64_t *shape, int64_t *out)
{
    int drop = t_rng_int(r, 0, ndim - 1);
    int n = ndim - drop;
    for (int i = 0; i < n; i++) out[i] = t_rng_int(r, 0, 1) ? 1 : shape[i + drop];
    return n;
}

static const char *const broadcast_variant_names[] = {
    "same shape", "a.sum(0) shape", "b.sum(0) shape", "b smaller", "a smaller"};

static void run_binary(const binary_def *d)
{
    t_rng r = t_rng_seed(name_seed(d->name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < ITERS; it++)
            for (int variant = 0; variant < 5; variant++)
                for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                    char name[128];
                    snprintf(name, sizeof name, "%s (%s)", d->name, broadcast_variant_names[variant]);
                    gc_case c = {.name = name, .arity = 2, .def = d, .lib = lib_binary,
                                 .ref = ref_binary, .weighted = true};
                    int64_t s[MT_MAX_DIMS], small[MT_MAX_DIMS];
                    int nd = t_random_shape(&r, 1, 3, 4, s);
                    set_arg(&c.in[0], nd, s);
                    set_arg(&c.in[1], nd, s);
                    if (variant == 1) c.in[0].shape[0] = 1;
                    if (variant == 2) c.in[1].shape[0] = 1;
                    if (variant >= 3) {
                        int ns = smaller_shape(&r, nd, s, small);
                        set_arg(&c.in[variant == 3 ? 1 : 0], ns, small);
                    }
                    cr_assert(t_broadcast_shapes(c.in[0].ndim, c.in[0].shape, c.in[1].ndim,
                                                 c.in[1].shape, &c.res_ndim, c.res_shape));
                    binary_values(&r, d, &c);
                    gc_check(&c, &r, mode, it);
                    gc_free(&c);
                }
    }
}

#define BINARY_TEST(id, alo, ahi, blo, bhi, bmin, dist)                                        \
    Test(grad_two_arg, id)                                                                      \
    {                                                                                           \
        static const binary_def d = {#id, l2_##id, r2_##id, alo, ahi, blo, bhi, bmin, dist};    \
        run_binary(&d);                                                                         \
    }

BINARY_TEST(add, -5, 5, -5, 5, 0, NULL)
BINARY_TEST(sub, -5, 5, -5, 5, 0, NULL)
BINARY_TEST(mul, -3, 3, -3, 3, 0, NULL)
BINARY_TEST(div, -3, 3, -3, 3, 0.5, NULL)
BINARY_TEST(div_shift, -3, 3, -3, 3, 0, NULL)
BINARY_TEST(gt, -2, 2, -2, 2, 0, dist_cmp)
BINARY_TEST(lt, -2, 2, -2, 2, 0, dist_cmp)
BINARY_TEST(eq, -3, 3, -3, 3, 0, dist_eq)
BINARY_TEST(is_close, -1, 1, -1, 1, 0, dist_is_close)
BINARY_TEST(mix, -3, 3, -3, 3, 0, NULL)

/* ------------------------------------------------------------------------------------------ */
/* reductions                                                                                   */

static void ref_reduce(const gc_case *c, const gc_arg *x, double *out)
{
    int64_t n = t_numel(x[0].ndim, x[0].shape);
    if (c->kind == K_SUM_ALL || c->kind == K_MEAN_ALL || c->kind == K_SUM_ALL_SQ ||
        c->kind == K_MEAN_ALL_SQ) {
        double s = 0;
        bool sq = c->kind == K_SUM_ALL_SQ || c->kind == K_MEAN_ALL_SQ;
        for (int64_t i = 0; i < n; i++) s += sq ? x[0].v[i] * x[0].v[i] : x[0].v[i];
        out[0] = c->kind == K_MEAN_ALL || c->kind == K_MEAN_ALL_SQ ? s / (double)n : s;
        return;
    }
    /* element j of output o sits at (o / inner) * len * inner + o % inner + j * inner */
    int d = c->dim_norm, nd = x[0].ndim;
    int64_t len = x[0].shape[d], inner = 1;
    for (int i = d + 1; i < nd; i++) inner *= x[0].shape[i];
    int64_t n_out = t_numel(c->res_ndim, c->res_shape);
    for (int64_t o = 0; o < n_out; o++) {
        int64_t base = (o / inner) * len * inner + o % inner;
        double acc = c->kind == K_PROD ? 1.0 : c->kind == K_MAX ? -INFINITY : 0.0;
        for (int64_t j = 0; j < len; j++) {
            double v = x[0].v[base + j * inner];
            if (c->kind == K_PROD) acc *= v;
            else if (c->kind == K_MAX) acc = v > acc ? v : acc;
            else acc += v;
        }
        out[o] = c->kind == K_MEAN ? acc / (double)len : acc;
    }
}

static mt_tensor *lib_reduce(const gc_case *c, mt_tensor *const *x)
{
    switch (c->kind) {
    case K_SUM: return mt_sum(x[0], c->dim);
    case K_MEAN: return mt_mean(x[0], c->dim);
    case K_PROD: return mt_prod(x[0], c->dim);
    case K_MAX: return mt_max(x[0], c->dim);
    case K_SUM_ALL: return mt_sum_all(x[0]);
    case K_MEAN_ALL: return mt_mean_all(x[0]);
    case K_SUM_ALL_SQ: return mt_sum_all(mt_mul(x[0], x[0]));
    case K_MEAN_ALL_SQ: return mt_mean_all(mt_mul(x[0], x[0]));
    }
    return NULL;
}

static void run_reduce(const char *name, gc_kind kind)
{
    t_rng r = t_rng_seed(name_seed(name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < 2 * ITERS; it++)
            for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                gc_case c = {.name = name, .arity = 1, .lib = lib_reduce, .ref = ref_reduce,
                             .kind = kind, .weighted = true};
                int64_t s[MT_MAX_DIMS];
                int nd = t_random_shape(&r, 1, 3, 4, s);
                int64_t n = t_numel(nd, s);
                set_arg(&c.in[0], nd, s);
                c.dim = t_rng_int(&r, -nd, nd - 1);
                c.dim_norm = c.dim < 0 ? c.dim + nd : c.dim;
                if (kind == K_MAX) {
                    /* distinct values, at least 0.1 apart: ranks shuffled, jittered */
                    c.in[0].v = malloc(sizeof(double) * (size_t)n);
                    int64_t perm[64];
                    for (int64_t i = 0; i < n; i++) perm[i] = i;
                    for (int64_t i = n - 1; i > 0; i--) {
                        int64_t j = t_rng_int(&r, 0, (int)i), t = perm[i];
                        perm[i] = perm[j];
                        perm[j] = t;
                    }
                    for (int64_t i = 0; i < n; i++)
                        c.in[0].v[i] = (double)(float)(((double)perm[i] + t_rng_uniform(&r, 0.1, 0.9)) * 0.5 - (double)n * 0.25);
                } else {
                    c.in[0].v = t_random_values(&r, n, -2, 2);
                }
                if (kind == K_PROD) {
                    /* iterations 1, 2 (mod 3) put one or two exact zeros in */
                    for (int z = 0; z < it % 3; z++) c.in[0].v[t_rng_int(&r, 0, (int)n - 1)] = 0.0;
                }
                if (kind >= K_SUM_ALL) {
                    c.res_ndim = 1;
                    c.res_shape[0] = 1;
                } else {
                    c.res_ndim = nd;
                    memcpy(c.res_shape, s, sizeof s);
                    c.res_shape[c.dim_norm] = 1;
                }
                char name2[96];
                snprintf(name2, sizeof name2, "%s (dim %d)", name, c.dim);
                c.name = name2;
                gc_check(&c, &r, mode, it);
                gc_free(&c);
            }
    }
}

Test(grad_reduce, sum) { run_reduce("sum", K_SUM); }
Test(grad_reduce, mean) { run_reduce("mean", K_MEAN); }
Test(grad_reduce, prod_with_zeros) { run_reduce("prod", K_PROD); }
Test(grad_reduce, max_distinct) { run_reduce("max", K_MAX); }
Test(grad_reduce, sum_all) { run_reduce("sum_all", K_SUM_ALL); }
Test(grad_reduce, mean_all) { run_reduce("mean_all", K_MEAN_ALL); }
Test(grad_reduce, sum_all_of_square) { run_reduce("sum_all(x*x)", K_SUM_ALL_SQ); }
Test(grad_reduce, mean_all_of_square) { run_reduce("mean_all(x*x)", K_MEAN_ALL_SQ); }

/* prod over a dim holding exact zeros: hand-computed values, exact (no tolerance) */
Test(grad_reduce, prod_zero_exact)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        /* rows: [2, 0, 3], [0, 0, 5], [1.5, -2, 4] ; prod over dim 1 */
        float data[] = {2, 0, 3, 0, 0, 5, 1.5f, -2, 4};
        mt_tensor *a = mt_from_data(MT_DIMS(3, 3), data);
        cr_assert_eq(mt_set_requires_grad(a, true), MT_OK);
        mt_scope s = mt_scope_begin();
        cr_assert_eq(mt_backward(mt_sum_all(mt_prod(a, 1))), MT_OK, "%s", mt_last_error());
        t_expect_close("prod grad with zeros", mt_grad(a),
                       (double[]){0, 6, 0, 0, 0, 0, -8, 6, -3}, 0, 0);
        mt_scope_end(s);
        mt_release(a);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* views and copies                                                                            */

typedef enum view_kind { V_PERMUTE, V_TRANSPOSE, V_VIEW, V_RESHAPE, V_EXPAND, V_NARROW, V_CONTIGUOUS, V_COPY, V_CHAIN } view_kind;

/* y's value at out ordinal o, for the permute/transpose/narrow/expand family, as the index into
 * the input; views that keep row-major order (view, reshape, contiguous, copy) map o to o. */
static void ref_view(const gc_case *c, const gc_arg *x, double *out)
{
    view_kind k = (view_kind)c->kind;
    int64_t n = t_numel(c->res_ndim, c->res_shape);
    const gc_arg *a = &x[0];
    if (k == V_VIEW || k == V_RESHAPE || k == V_CONTIGUOUS || k == V_COPY) {
        for (int64_t i = 0; i < n; i++) out[i] = a->v[i];
        return;
    }
    int64_t idx[MT_MAX_DIMS], src[MT_MAX_DIMS];
    for (int64_t o = 0; o < n; o++) {
        if (k == V_CHAIN) { /* narrow(permute(x, order), dim, start, len) flattened to (-1) */
            int64_t pshape[MT_MAX_DIMS], pidx[MT_MAX_DIMS];
            for (int i = 0; i < a->ndim; i++) pshape[i] = a->shape[c->order[i]];
            pshape[c->dim_norm] = c->length;
            index_of(o, a->ndim, pshape, pidx);
            pidx[c->dim_norm] += c->start;
            for (int i = 0; i < a->ndim; i++) src[c->order[i]] = pidx[i];
            out[o] = a->v[t_ordinal(a->ndim, a->shape, src)];
            continue;
        }
        index_of(o, c->res_ndim, c->res_shape, idx);
        switch (k) {
        case V_PERMUTE:
        case V_TRANSPOSE:
            for (int i = 0; i < a->ndim; i++) src[c->order[i]] = idx[i];
            break;
        case V_NARROW:
            memcpy(src, idx, sizeof src);
            src[c->dim_norm] += c->start;
            break;
        case V_EXPAND: t_broadcast_index(c->res_ndim, idx, a->ndim, a->shape, src); break;
        default: cr_assert_fail("ref_view: kind %d", (int)k);
        }
        out[o] = a->v[t_ordinal(a->ndim, a->shape, src)];
    }
}

static mt_tensor *lib_view(const gc_case *c, mt_tensor *const *x)
{
    mt_tensor *a = x[0];
    switch ((view_kind)c->kind) {
    case V_PERMUTE: return mt_permute(a, c->order);
    case V_TRANSPOSE: return mt_transpose(a, c->dim, c->dim1);
    case V_VIEW: {
        mt_tensor *src = a;
        if (!mt_is_contiguous(a)) {
            /* mt_view refuses a non-contiguous tensor: go through mt_contiguous */
            cr_assert_null(mt_view(a, c->tgt_ndim, c->tgt_shape));
            t_expect_error(MT_ERR_NOT_CONTIGUOUS, "mt_view");
            mt_clear_error();
            src = mt_contiguous(a);
        }
        return mt_view(src, c->tgt_ndim, c->tgt_shape);
    }
    case V_RESHAPE: return mt_reshape(a, c->tgt_ndim, c->tgt_shape);
    case V_EXPAND: return mt_expand(a, c->tgt_ndim, c->tgt_shape);
    case V_NARROW: return mt_narrow(a, c->dim, c->start, c->length);
    case V_CONTIGUOUS: return mt_contiguous(a);
    case V_COPY: return mt_copy(a);
    case V_CHAIN:
        return mt_reshape(mt_narrow(mt_permute(a, c->order), c->dim, c->start, c->length), 1,
                          (const int64_t[]){-1});
    }
    return NULL;
}

/* A random shape with `numel` elements (1-3 dims). */
static int random_factor_shape(t_rng *r, int64_t numel, int64_t *shape)
{
    int nd = t_rng_int(r, 1, 3);
    for (int i = 0; i < nd; i++) shape[i] = 1;
    int64_t rest = numel;
    for (int64_t p = 2; rest > 1; p++)
        while (rest % p == 0) {
            shape[t_rng_int(r, 0, nd - 1)] *= p;
            rest /= p;
        }
    return nd;
}

static void random_permutation(t_rng *r, int n, int *order)
{
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = t_rng_int(r, 0, i), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void run_view(const char *name, view_kind kind)
{
    t_rng r = t_rng_seed(name_seed(name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < 2 * ITERS; it++)
            for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                gc_case c = {.name = name, .arity = 1, .lib = lib_view, .ref = ref_view,
                             .kind = (gc_kind)kind, .weighted = true};
                int64_t s[MT_MAX_DIMS];
                int nd = t_random_shape(&r, 1, 3, 4, s);
                set_arg(&c.in[0], nd, s);
                c.res_ndim = nd;
                memcpy(c.res_shape, s, sizeof s);
                switch (kind) {
                case V_PERMUTE:
                    random_permutation(&r, nd, c.order);
                    for (int i = 0; i < nd; i++) c.res_shape[i] = s[c.order[i]];
                    break;
                case V_TRANSPOSE:
                    c.dim = t_rng_int(&r, -nd, nd - 1);
                    c.dim1 = t_rng_int(&r, -nd, nd - 1);
                    c.dim_norm = c.dim < 0 ? c.dim + nd : c.dim;
                    c.dim1_norm = c.dim1 < 0 ? c.dim1 + nd : c.dim1;
                    for (int i = 0; i < nd; i++) c.order[i] = i;
                    c.order[c.dim_norm] = c.dim1_norm;
                    c.order[c.dim1_norm] = c.dim_norm;
                    for (int i = 0; i < nd; i++) c.res_shape[i] = s[c.order[i]];
                    break;
                case V_VIEW:
                case V_RESHAPE:
                    c.res_ndim = random_factor_shape(&r, t_numel(nd, s), c.res_shape);
                    c.tgt_ndim = c.res_ndim;
                    memcpy(c.tgt_shape, c.res_shape, sizeof c.tgt_shape);
                    if (t_rng_int(&r, 0, 1)) c.tgt_shape[t_rng_int(&r, 0, c.tgt_ndim - 1)] = -1;
                    break;
                case V_EXPAND: {
                    /* the input has a smaller shape that broadcasts to s */
                    int64_t small[MT_MAX_DIMS];
                    int ns = smaller_shape(&r, nd, s, small);
                    set_arg(&c.in[0], ns, small);
                    c.tgt_ndim = nd;
                    memcpy(c.tgt_shape, s, sizeof c.tgt_shape);
                    break;
                }
                case V_NARROW:
                    c.dim = t_rng_int(&r, -nd, nd - 1);
                    c.dim_norm = c.dim < 0 ? c.dim + nd : c.dim;
                    c.length = t_rng_int(&r, 1, (int)s[c.dim_norm]);
                    c.start = t_rng_int(&r, 0, (int)(s[c.dim_norm] - c.length));
                    c.res_shape[c.dim_norm] = c.length;
                    break;
                case V_CHAIN: {
                    random_permutation(&r, nd, c.order);
                    int64_t p[MT_MAX_DIMS];
                    for (int i = 0; i < nd; i++) p[i] = s[c.order[i]];
                    c.dim = t_rng_int(&r, 0, nd - 1);
                    c.dim_norm = c.dim;
                    c.length = t_rng_int(&r, 1, (int)p[c.dim]);
                    c.start = t_rng_int(&r, 0, (int)(p[c.dim] - c.length));
                    p[c.dim] = c.length;
                    c.res_ndim = 1;
                    c.res_shape[0] = t_numel(nd, p);
                    break;
                }
                default: break;
                }
                c.in[0].v = t_random_values(&r, t_numel(c.in[0].ndim, c.in[0].shape), -3, 3);
                gc_check(&c, &r, mode, it);
                gc_free(&c);
            }
    }
}

Test(grad_view, permute) { run_view("permute", V_PERMUTE); }
Test(grad_view, transpose) { run_view("transpose", V_TRANSPOSE); }
Test(grad_view, view) { run_view("view", V_VIEW); }
Test(grad_view, reshape) { run_view("reshape", V_RESHAPE); }
Test(grad_view, expand) { run_view("expand", V_EXPAND); }
Test(grad_view, narrow) { run_view("narrow", V_NARROW); }
Test(grad_view, contiguous) { run_view("contiguous", V_CONTIGUOUS); }
Test(grad_view, copy) { run_view("copy", V_COPY); }
Test(grad_view, narrow_of_permute_reshaped) { run_view("reshape(narrow(permute))", V_CHAIN); }

/* ------------------------------------------------------------------------------------------ */
/* matrix products and the linear layer                                                         */

/* x[0] is A (or x for linear), x[1] is B (or w), x[2] the bias. trans[i]: the leaf holds the
 * operand with its last two dims swapped and the library transposes it back. */

/* Offset of the matrix of operand t for the output batch index, and its logical row/column
 * strides. */
static int64_t mm_matrix(const gc_arg *t, bool trans, int res_ndim, const int64_t *res_idx,
                         int64_t *rs, int64_t *cs)
{
    int64_t idx[MT_MAX_DIMS] = {0};
    int nbatch = t->ndim - 2;
    if (nbatch > 0) t_broadcast_index(res_ndim - 2, res_idx, nbatch, t->shape, idx);
    int64_t cols = t->shape[t->ndim - 1];
    *rs = trans ? 1 : cols;
    *cs = trans ? cols : 1;
    return t_ordinal(t->ndim, t->shape, idx); /* idx's matrix part is 0: the matrix start */
}

static void ref_matmul(const gc_case *c, const gc_arg *x, double *out)
{
    int nd = c->res_ndim;
    int64_t n = c->res_shape[nd - 2], m = c->res_shape[nd - 1];
    int64_t k = c->trans[0] ? x[0].shape[x[0].ndim - 2] : x[0].shape[x[0].ndim - 1];
    int64_t batches = t_numel(nd - 2, c->res_shape);
    int64_t idx[MT_MAX_DIMS] = {0};
    for (int64_t bt = 0; bt < batches; bt++) {
        index_of(bt, nd - 2, c->res_shape, idx);
        int64_t ars, acs, brs, bcs;
        const double *A = x[0].v + mm_matrix(&x[0], c->trans[0], nd, idx, &ars, &acs);
        const double *B = x[1].v + mm_matrix(&x[1], c->trans[1], nd, idx, &brs, &bcs);
        double *o = out + bt * n * m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < m; j++) {
                double s = 0;
                for (int64_t l = 0; l < k; l++) s += A[i * ars + l * acs] * B[l * brs + j * bcs];
                if (c->arity == 3) s += x[2].v[j]; /* bias (out) or (1, out): element j */
                o[i * m + j] = s;
            }
    }
}

static mt_tensor *lib_matmul(const gc_case *c, mt_tensor *const *x)
{
    mt_tensor *a = c->trans[0] ? mt_transpose(x[0], -1, -2) : x[0];
    mt_tensor *b = c->trans[1] ? mt_transpose(x[1], -2, -1) : x[1];
    if (c->kind == 1) return mt_linear(a, b, c->arity == 3 ? x[2] : NULL);
    return mt_matmul(a, b);
}

typedef struct mm_def {
    const char *name;
    int a_batch, b_batch; /* batch dims of a / b: 0 none; see run_matmul */
    bool ta, tb;
} mm_def;

/* Batch patterns: 0 none, 1 (D), 2 (1) broadcast against (D), 3 (D1,1), 4 (D2). */
static int batch_shape(int pattern, int64_t d1, int64_t d2, int64_t *out)
{
    switch (pattern) {
    case 1: out[0] = d1; return 1;
    case 2: out[0] = 1; return 1;
    case 3: out[0] = d1; out[1] = 1; return 2;
    case 4: out[0] = d2; return 1;
    default: return 0;
    }
}

static void run_matmul(const mm_def *d, bool linear)
{
    t_rng r = t_rng_seed(name_seed(d->name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < 2 * ITERS; it++)
            for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                /* linear: variants 0 no bias, 1 bias (out), 2 bias (1, out) */
                int bias = linear ? it % 3 : 0;
                gc_case c = {.name = d->name, .arity = bias ? 3 : 2, .lib = lib_matmul,
                             .ref = ref_matmul, .kind = linear ? 1 : 0, .weighted = true,
                             .trans = {d->ta, d->tb}};
                int64_t n = t_rng_int(&r, 1, 4), k = t_rng_int(&r, 1, 4), m = t_rng_int(&r, 1, 4);
                int64_t d1 = t_rng_int(&r, 1, 4), d2 = t_rng_int(&r, 1, 4);
                int64_t sa[MT_MAX_DIMS], sb[MT_MAX_DIMS];
                int na = batch_shape(d->a_batch, d1, d2, sa), nb = batch_shape(d->b_batch, d1, d2, sb);
                sa[na] = d->ta ? k : n;
                sa[na + 1] = d->ta ? n : k;
                sb[nb] = d->tb ? m : k;
                sb[nb + 1] = d->tb ? k : m;
                set_arg(&c.in[0], na + 2, sa);
                set_arg(&c.in[1], nb + 2, sb);
                /* result: broadcast batch dims, then (n, m) */
                int64_t ba[MT_MAX_DIMS], bb[MT_MAX_DIMS];
                memcpy(ba, sa, sizeof ba);
                memcpy(bb, sb, sizeof bb);
                int nbatch = 0;
                if (na || nb) {
                    if (!na) ba[na++] = 1;
                    if (!nb) bb[nb++] = 1;
                    cr_assert(t_broadcast_shapes(na, ba, nb, bb, &nbatch, c.res_shape));
                }
                c.res_shape[nbatch] = n;
                c.res_shape[nbatch + 1] = m;
                c.res_ndim = nbatch + 2;
                if (bias == 1) set_arg(&c.in[2], 1, (const int64_t[]){m});
                if (bias == 2) set_arg(&c.in[2], 2, (const int64_t[]){1, m});
                for (int i = 0; i < c.arity; i++)
                    c.in[i].v = t_random_values(&r, t_numel(c.in[i].ndim, c.in[i].shape), -2, 2);
                gc_check(&c, &r, mode, it);
                gc_free(&c);
            }
    }
}

#define MATMUL_TEST(id, ab, bb, ta, tb)                                                        \
    Test(grad_matmul, id)                                                                       \
    {                                                                                           \
        static const mm_def d = {"matmul " #id, ab, bb, ta, tb};                                \
        run_matmul(&d, false);                                                                  \
    }

MATMUL_TEST(mm_2d, 0, 0, false, false)
MATMUL_TEST(bmm_same_batch, 1, 1, false, false)
MATMUL_TEST(bmm_b_batch_1, 1, 2, false, false)     /* (D,n,k) @ (1,k,m) */
MATMUL_TEST(bmm_a_batch_1, 2, 1, false, false)     /* (1,n,k) @ (D,k,m) */
MATMUL_TEST(mm_3d_2d, 1, 0, false, false)          /* (D,n,k) @ (k,m) */
MATMUL_TEST(mm_2d_3d, 0, 1, false, false)          /* (n,k) @ (D,k,m) */
MATMUL_TEST(mm_4d_3d, 3, 4, false, false)          /* (D1,1,n,k) @ (D2,k,m) */
MATMUL_TEST(mm_2d_a_transposed, 0, 0, true, false)
MATMUL_TEST(mm_2d_b_transposed, 0, 0, false, true)
MATMUL_TEST(mm_2d_both_transposed, 0, 0, true, true)
MATMUL_TEST(bmm_both_transposed, 1, 2, true, true) /* (D,k,n)^T @ (1,m,k)^T */
MATMUL_TEST(mm_2d_3d_a_transposed, 0, 1, true, false)

#define LINEAR_TEST(id, xb, tw)                                                                \
    Test(grad_linear, id)                                                                       \
    {                                                                                           \
        static const mm_def d = {"linear " #id, xb, 0, false, tw};                              \
        run_matmul(&d, true);                                                                   \
    }

LINEAR_TEST(x_2d, 0, false)
LINEAR_TEST(x_3d, 1, false)
LINEAR_TEST(x_4d, 3, false)
LINEAR_TEST(x_2d_w_transposed, 0, true)
LINEAR_TEST(x_3d_w_transposed, 1, true)

/* ------------------------------------------------------------------------------------------ */
/* large inputs: the kernels' threaded and tiled paths (4 threads asked for), sampled elements  */

/* Float32 sums here run over up to ~300 terms of magnitude <= 4, so the absolute error of a
 * gradient element stays below ~1e-4 (300 * 4 * 6e-8 * a few); we allow 1e-3 + 1e-4 relative. */
#define BIG_ATOL 1e-3
#define BIG_RTOL 1e-4
#define BIG_SAMPLES 16

static void big_binary(const binary_def *d, int na, const int64_t *sa, int nb, const int64_t *sb)
{
    t_rng r = t_rng_seed(name_seed(d->name) ^ (uint64_t)(na * 31 + nb));
    cr_assert_eq(mt_set_num_threads(4), MT_OK);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int mode = 0; mode < LAYOUT_MODES; mode++) {
            gc_case c = {.name = d->name, .arity = 2, .def = d, .lib = lib_binary,
                         .ref = ref_binary, .weighted = true, .max_checked = BIG_SAMPLES,
                         .atol = BIG_ATOL, .rtol = BIG_RTOL};
            set_arg(&c.in[0], na, sa);
            set_arg(&c.in[1], nb, sb);
            cr_assert(t_broadcast_shapes(na, sa, nb, sb, &c.res_ndim, c.res_shape));
            binary_values(&r, d, &c);
            gc_check(&c, &r, mode, 0);
            gc_free(&c);
        }
    }
    mt_set_num_threads(0);
}

Test(grad_big, mul_broadcast_rows)
{
    static const binary_def d = {"big mul (40,1000) * (1000)", l2_mul, r2_mul, -2, 2, -2, 2, 0, NULL};
    big_binary(&d, 2, (const int64_t[]){40, 1000}, 1, (const int64_t[]){1000});
}

Test(grad_big, div_broadcast_columns)
{
    static const binary_def d = {"big div (1000,1) / (1000,40)", l2_div, r2_div, -2, 2, -2, 2, 0.5, NULL};
    big_binary(&d, 2, (const int64_t[]){1000, 1}, 2, (const int64_t[]){1000, 40});
}

Test(grad_big, reductions)
{
    t_rng r = t_rng_seed(name_seed("big reductions"));
    cr_assert_eq(mt_set_num_threads(4), MT_OK);
    const gc_kind kinds[] = {K_SUM, K_MEAN, K_SUM_ALL_SQ};
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (size_t kk = 0; kk < sizeof kinds / sizeof *kinds; kk++)
            for (int dim = 0; dim < 2; dim++)
                for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                    gc_case c = {.name = "big reduction", .arity = 1, .lib = lib_reduce,
                                 .ref = ref_reduce, .kind = kinds[kk], .weighted = true,
                                 .max_checked = BIG_SAMPLES, .atol = BIG_ATOL, .rtol = BIG_RTOL,
                                 .dim = dim, .dim_norm = dim};
                    set_arg(&c.in[0], 2, (const int64_t[]){300, 400});
                    c.in[0].v = t_random_values(&r, 300 * 400, -2, 2);
                    if (kinds[kk] == K_SUM_ALL_SQ) {
                        c.res_ndim = 1;
                        c.res_shape[0] = 1;
                    } else {
                        c.res_ndim = 2;
                        c.res_shape[0] = dim == 0 ? 1 : 300;
                        c.res_shape[1] = dim == 1 ? 1 : 400;
                    }
                    gc_check(&c, &r, mode, (int)kk);
                    gc_free(&c);
                }
    }
    mt_set_num_threads(0);
}

/* (D, n, k) @ (1, k, m) with n*k*m above the BLAS backend's small-product cutoff and n, m across
 * the naive backend's 64 x 128 tiles; then with both operands transposed views. */
static void big_matmul(bool trans)
{
    t_rng r = t_rng_seed(name_seed("big matmul") + trans);
    cr_assert_eq(mt_set_num_threads(4), MT_OK);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int mode = 0; mode < LAYOUT_MODES; mode++) {
            const int64_t D = 2, n = 100, k = 70, m = 150;
            gc_case c = {.name = trans ? "big matmul, transposed operands" : "big matmul",
                         .arity = 2, .lib = lib_matmul, .ref = ref_matmul, .weighted = true,
                         .max_checked = BIG_SAMPLES, .atol = BIG_ATOL, .rtol = BIG_RTOL,
                         .trans = {trans, trans}};
            set_arg(&c.in[0], 3, trans ? (const int64_t[]){D, k, n} : (const int64_t[]){D, n, k});
            set_arg(&c.in[1], 3, trans ? (const int64_t[]){1, m, k} : (const int64_t[]){1, k, m});
            c.res_ndim = 3;
            memcpy(c.res_shape, (const int64_t[]){D, n, m}, 3 * sizeof(int64_t));
            for (int i = 0; i < 2; i++)
                c.in[i].v = t_random_values(&r, t_numel(3, c.in[i].shape), -2, 2);
            gc_check(&c, &r, mode, 0);
            gc_free(&c);
        }
    }
    mt_set_num_threads(0);
}

Test(grad_big, matmul_batch_broadcast, .timeout = 600) { big_matmul(false); }
Test(grad_big, matmul_batch_broadcast_transposed, .timeout = 600) { big_matmul(true); }

/* ------------------------------------------------------------------------------------------ */
/* math functions and activations (one input, some with parameters), pow / maximum / minimum,   */
/* where and masked_fill                                                                        */

static mt_tensor *l_sqrt(mt_tensor *a) { return mt_sqrt(mt_add_scalar(a, 6.0f)); }
static double r_sqrt(double a) { return sqrt(a + 6.0); }
static mt_tensor *l_rsqrt(mt_tensor *a) { return mt_rsqrt(mt_add_scalar(a, 6.0f)); }
static double r_rsqrt(double a) { return 1.0 / sqrt(a + 6.0); }
static mt_tensor *l_abs(mt_tensor *a) { return mt_abs(a); }
static double r_abs(double a) { return fabs(a); }
static mt_tensor *l_sin(mt_tensor *a) { return mt_sin(a); }
static double r_sin(double a) { return sin(a); }
static mt_tensor *l_cos(mt_tensor *a) { return mt_cos(a); }
static double r_cos(double a) { return cos(a); }
static mt_tensor *l_square_op(mt_tensor *a) { return mt_square(a); }
static double r_square_op(double a) { return a * a; }
static mt_tensor *l_gelu(mt_tensor *a) { return mt_gelu(a); }
static double r_gelu(double a)
{
    const double sqrt_2_over_pi = 0.79788456080286535588;
    return 0.5 * a * (1.0 + tanh(sqrt_2_over_pi * (a + 0.044715 * a * a * a)));
}
static mt_tensor *l_silu(mt_tensor *a) { return mt_silu(a); }
static double r_silu(double a) { return a * d_sigmoid(a); }
static mt_tensor *l_softplus(mt_tensor *a) { return mt_softplus(a); }
static double r_softplus(double a) { return a > 20.0 ? a : log1p(exp(a)); }
static mt_tensor *l_leaky_relu(mt_tensor *a) { return mt_leaky_relu(a, 0.1f); }
static double r_leaky_relu(double a) { return a > 0 ? a : a * (double)0.1f; }
static mt_tensor *l_clamp(mt_tensor *a) { return mt_clamp(a, -1.0f, 2.0f); }
static double r_clamp(double a) { return a < -1.0 ? -1.0 : a > 2.0 ? 2.0 : a; }
static mt_tensor *l_pow_scalar(mt_tensor *a) { return mt_pow_scalar(mt_add_scalar(a, 6.0f), 2.5f); }
static double r_pow_scalar(double a) { return pow(a + 6.0, 2.5); }
/* an integer exponent on negative bases */
static mt_tensor *l_pow_scalar_cube(mt_tensor *a) { return mt_pow_scalar(a, 3.0f); }
static double r_pow_scalar_cube(double a) { return a * a * a; }
/* the exponent 0: the value is 1 and the gradient 0 everywhere */
static mt_tensor *l_pow_scalar_zero(mt_tensor *a) { return mt_pow_scalar(a, 0.0f); }
static double r_pow_scalar_zero(double a) { return (void)a, 1.0; }

UNARY_TEST(sqrt, -5, 5, 0, {0})
UNARY_TEST(rsqrt, -5, 5, 0, {0})
UNARY_TEST(abs, -5, 5, 1, {0.0})
UNARY_TEST(sin, -5, 5, 0, {0})
UNARY_TEST(cos, -5, 5, 0, {0})
UNARY_TEST(square_op, -5, 5, 0, {0})
UNARY_TEST(gelu, -6, 6, 0, {0})
UNARY_TEST(silu, -8, 8, 0, {0})
/* threshold 20: the formula switches there */
UNARY_TEST(softplus, -25, 25, 1, {20.0})
UNARY_TEST(leaky_relu, -5, 5, 1, {0.0})
UNARY_TEST(clamp, -3, 4, 2, {-1.0, 2.0})
UNARY_TEST(pow_scalar, -5, 5, 0, {0})
UNARY_TEST(pow_scalar_cube, -3, 3, 0, {0})
UNARY_TEST(pow_scalar_zero, -3, 3, 0, {0})

static mt_tensor *l2_pow(mt_tensor *a, mt_tensor *b) { return mt_pow(a, b); }
static double r2_pow(double a, double b) { return pow(a, b); }
static mt_tensor *l2_maximum(mt_tensor *a, mt_tensor *b) { return mt_maximum(a, b); }
static double r2_maximum(double a, double b) { return a > b ? a : b; }
static mt_tensor *l2_minimum(mt_tensor *a, mt_tensor *b) { return mt_minimum(a, b); }
static double r2_minimum(double a, double b) { return a < b ? a : b; }
static double dist_tie(double a, double b) { return fabs(a - b); }

BINARY_TEST(pow, 0.5, 3, -2, 2, 0, NULL)
BINARY_TEST(maximum, -3, 3, -3, 3, 0, dist_tie)
BINARY_TEST(minimum, -3, 3, -3, 3, 0, dist_tie)

/* a within 0.01 of 0 and |b| >= 0.05: never a tie, both sides win often */
Test(grad_big, maximum_broadcast_columns)
{
    static const binary_def d = {"big maximum (300,1) with (300,400)", l2_maximum, r2_maximum,
                                 -0.01, 0.01, -2, 2, 0.05, NULL};
    big_binary(&d, 2, (const int64_t[]){300, 1}, 2, (const int64_t[]){300, 400});
}

Test(grad_big, pow_broadcast_rows)
{
    static const binary_def d = {"big pow (300,400) ^ (400)", l2_pow, r2_pow, 0.5, 2, -2, 2, 0, NULL};
    big_binary(&d, 2, (const int64_t[]){300, 400}, 1, (const int64_t[]){400});
}

/* Ties of maximum / minimum split the gradient in halves (PyTorch's rule), hand-checked. */
Test(grad_two_arg, maximum_minimum_ties_split)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a = mt_from_data(MT_DIMS(4), (const float[]){1, 2, 3, NAN});
        mt_tensor *b = mt_from_data(MT_DIMS(4), (const float[]){1, 5, -3, 0});
        mt_set_requires_grad(a, true);
        mt_set_requires_grad(b, true);
        mt_scope scope = mt_scope_begin();
        cr_assert_eq(mt_backward(mt_sum_all(mt_maximum(a, b))), MT_OK, "%s", mt_last_error());
        /* NaN pairs: the formula gives g to both inputs */
        t_expect_close("maximum grad a", mt_grad(a), (const double[]){0.5, 0, 1, 1}, 0, 0);
        t_expect_close("maximum grad b", mt_grad(b), (const double[]){0.5, 1, 0, 1}, 0, 0);
        mt_zero_grad(a);
        mt_zero_grad(b);
        cr_assert_eq(mt_backward(mt_sum_all(mt_minimum(a, b))), MT_OK, "%s", mt_last_error());
        t_expect_close("minimum grad a", mt_grad(a), (const double[]){0.5, 1, 0, 1}, 0, 0);
        t_expect_close("minimum grad b", mt_grad(b), (const double[]){0.5, 0, 1, 1}, 0, 0);
        mt_scope_end(scope);
        mt_release(a);
        mt_release(b);
    }
}

/* where(x0 > 0, x1, x2) and masked_fill(x0, x1 > 0, 2.5): three inputs of broadcast shapes. The
 * condition comes from a comparison of a float input kept away from 0, so the numeric derivative
 * never flips the selection; its gradient is 0 (where gives its condition zeros). */
typedef enum select_kind { S_WHERE, S_MASKED_FILL } select_kind;

static void ref_select(const gc_case *c, const gc_arg *x, double *out)
{
    int64_t idx[MT_MAX_DIMS] = {0}, ix[3][MT_MAX_DIMS];
    int64_t o = 0;
    do {
        double v[3];
        for (int k = 0; k < c->arity; k++) {
            t_broadcast_index(c->res_ndim, idx, x[k].ndim, x[k].shape, ix[k]);
            v[k] = x[k].v[t_ordinal(x[k].ndim, x[k].shape, ix[k])];
        }
        out[o++] = c->dim == S_WHERE ? (v[0] > 0 ? v[1] : v[2]) : (v[1] > 0 ? 2.5 : v[0]);
    } while (t_next_index(c->res_ndim, c->res_shape, idx));
}

static mt_tensor *lib_select(const gc_case *c, mt_tensor *const *x)
{
    if (c->dim == S_WHERE) return mt_where(mt_gt_scalar(x[0], 0.0f), x[1], x[2]);
    return mt_masked_fill(x[0], mt_gt_scalar(x[1], 0.0f), 2.5f);
}

static void run_select(const char *name, select_kind kind)
{
    t_rng r = t_rng_seed(name_seed(name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < 2 * ITERS; it++)
            for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                gc_case c = {.name = name, .arity = kind == S_WHERE ? 3 : 2, .lib = lib_select,
                             .ref = ref_select, .weighted = true, .dim = kind};
                int64_t s[MT_MAX_DIMS], small[MT_MAX_DIMS];
                int nd = t_random_shape(&r, 1, 3, 4, s);
                for (int k = 0; k < c.arity; k++) {
                    /* masked_fill: the mask (input 1) broadcasts to a (input 0), never larger */
                    bool shrink = kind == S_WHERE ? t_rng_int(&r, 0, 2) == 0 : k == 1 && it % 2;
                    if (shrink) set_arg(&c.in[k], smaller_shape(&r, nd, s, small), small);
                    else set_arg(&c.in[k], nd, s);
                }
                c.res_ndim = c.in[0].ndim;
                memcpy(c.res_shape, c.in[0].shape, sizeof c.res_shape);
                for (int k = 1; k < c.arity; k++) {
                    int64_t so_far[MT_MAX_DIMS];
                    memcpy(so_far, c.res_shape, sizeof so_far);
                    cr_assert(t_broadcast_shapes(c.res_ndim, so_far, c.in[k].ndim, c.in[k].shape,
                                                 &c.res_ndim, c.res_shape));
                }
                int cond = kind == S_WHERE ? 0 : 1;
                for (int k = 0; k < c.arity; k++) {
                    int64_t n = t_numel(c.in[k].ndim, c.in[k].shape);
                    c.in[k].v = k == cond ? values_avoiding(&r, n, -2, 2, 1, (const double[]){0.0})
                                          : t_random_values(&r, n, -4, 4);
                }
                gc_check(&c, &r, mode, it);
                gc_free(&c);
            }
    }
}

Test(grad_select, where) { run_select("where", S_WHERE); }
Test(grad_select, masked_fill) { run_select("masked_fill", S_MASKED_FILL); }

/* An infinite value on the unchosen side: the result and both gradients stay finite. */
Test(grad_select, where_infinite_unchosen_side)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *c = mt_from_data(MT_DIMS(4), (const float[]){1, 0, 1, 0});
        mt_tensor *a = mt_from_data(MT_DIMS(4), (const float[]){2, INFINITY, -3, NAN});
        mt_tensor *b = mt_from_data(MT_DIMS(4), (const float[]){-INFINITY, 5, NAN, 7});
        mt_set_requires_grad(a, true);
        mt_set_requires_grad(b, true);
        mt_scope scope = mt_scope_begin();
        mt_tensor *y = mt_where(c, a, b);
        t_expect_close("where value", y, (const double[]){2, 5, -3, 7}, 0, 0);
        /* the loss weights y by 3: a gets 3 where c holds, b elsewhere, exact zeros otherwise */
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul_scalar(y, 3.0f))), MT_OK, "%s", mt_last_error());
        t_expect_close("where grad a", mt_grad(a), (const double[]){3, 0, 3, 0}, 0, 0);
        t_expect_close("where grad b", mt_grad(b), (const double[]){0, 3, 0, 3}, 0, 0);
        mt_scope_end(scope);
        mt_release(a);
        mt_release(b);
        mt_release(c);
    }
}

/* pow at a = 0 (PyTorch's conventions): d/db is 0 for b >= 0 and -inf for b < 0; d/da is 0
 * for b = 0. Exponent b = 2 at a = 0: d/da = 2 * 0 = 0. */
Test(grad_two_arg, pow_at_zero_base)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a = mt_from_data(MT_DIMS(4), (const float[]){0, 0, 0, 2});
        mt_tensor *b = mt_from_data(MT_DIMS(4), (const float[]){2, 0, -1, 0});
        mt_set_requires_grad(a, true);
        mt_set_requires_grad(b, true);
        mt_scope scope = mt_scope_begin();
        mt_tensor *y = mt_pow(a, b);
        t_expect_close("pow value", y, (const double[]){0, 1, INFINITY, 1}, 0, 0);
        cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK, "%s", mt_last_error());
        /* d/da: b a^(b-1) = 2*0, 0 (b = 0), -1 * 0^-2 = -inf, 0 (b = 0) */
        t_expect_close("pow grad a", mt_grad(a), (const double[]){0, 0, -INFINITY, 0}, 0, 0);
        /* d/db: 0, 0, -inf (a = 0, b < 0), 2^0 log 2 */
        t_expect_close("pow grad b", mt_grad(b), (const double[]){0, 0, -INFINITY, log(2.0)}, 0,
                       1e-6);
        mt_scope_end(scope);
        mt_release(a);
        mt_release(b);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* joins, shape views and gathering: cat, stack, split, squeeze, unsqueeze, flatten,            */
/* index_select                                                                                 */

typedef enum shape_kind {
    S_CAT, S_CAT_TREE, S_STACK, S_SPLIT, S_SQUEEZE, S_UNSQUEEZE, S_FLATTEN, S_INDEX_SELECT
} shape_kind;

/* The cat parts of a case: S_CAT_TREE joins x0 x1 x2 x0 x1 (five parts: a tree of records, and
 * x0, x1 get two gradient contributions each); the others x0 .. x(arity-1). */
static int cat_parts(const gc_case *c, int *parts)
{
    static const int tree[] = {0, 1, 2, 0, 1};
    int n = (shape_kind)c->kind == S_CAT_TREE ? 5 : c->arity;
    for (int i = 0; i < n; i++) parts[i] = (shape_kind)c->kind == S_CAT_TREE ? tree[i] : i;
    return n;
}

/* The piece of a split of `length` into pieces of `size` that output position `pos` falls in when
 * the pieces are joined in reverse order; *offset receives pos's offset within the input. */
static int64_t reversed_split_source(int64_t length, int64_t size, int64_t pos)
{
    int64_t pieces = (length + size - 1) / size;
    for (int64_t k = pieces - 1; k >= 0; k--) {
        int64_t start = k * size, len = length - start < size ? length - start : size;
        if (pos < len) return start + pos;
        pos -= len;
    }
    cr_assert_fail("reversed_split_source: position out of range");
    return -1;
}

static void ref_shape(const gc_case *c, const gc_arg *x, double *out)
{
    const shape_kind k = (shape_kind)c->kind;
    const int64_t n = t_numel(c->res_ndim, c->res_shape);
    if (k == S_SQUEEZE || k == S_UNSQUEEZE || k == S_FLATTEN) { /* row-major order is kept */
        for (int64_t i = 0; i < n; i++) out[i] = x[0].v[i];
        return;
    }
    const int d = c->dim_norm;
    int64_t idx[MT_MAX_DIMS], src[MT_MAX_DIMS];
    for (int64_t o = 0; o < n; o++) {
        index_of(o, c->res_ndim, c->res_shape, idx);
        const gc_arg *a = &x[0];
        memcpy(src, idx, sizeof src);
        switch (k) {
        case S_CAT:
        case S_CAT_TREE: {
            int parts[8], count = cat_parts(c, parts);
            for (int p = 0; p < count; p++) {
                a = &x[parts[p]];
                if (src[d] < a->shape[d]) break;
                src[d] -= a->shape[d];
            }
            break;
        }
        case S_STACK: /* drop the new dim; it picks the input */
            a = &x[idx[d]];
            for (int i = d; i < a->ndim; i++) src[i] = idx[i + 1];
            break;
        case S_SPLIT: src[d] = reversed_split_source(a->shape[d], c->start, idx[d]); break;
        case S_INDEX_SELECT: src[d] = c->order[idx[d]]; break;
        default: cr_assert_fail("ref_shape: kind %d", (int)k);
        }
        out[o] = a->v[t_ordinal(a->ndim, a->shape, src)];
    }
}

static mt_tensor *lib_shape(const gc_case *c, mt_tensor *const *x)
{
    switch ((shape_kind)c->kind) {
    case S_CAT:
    case S_CAT_TREE: {
        int parts[8], count = cat_parts(c, parts);
        mt_tensor *ts[8];
        for (int i = 0; i < count; i++) ts[i] = x[parts[i]];
        return mt_cat(count, ts, c->dim);
    }
    case S_STACK: return mt_stack(c->arity, x, c->dim);
    case S_SPLIT: {
        mt_tensor *pieces[8], *reversed[8];
        int count = mt_split(x[0], c->start, c->dim, pieces, 8);
        cr_assert_gt(count, 0, "mt_split: %s", mt_last_error());
        for (int i = 0; i < count; i++) reversed[i] = pieces[count - 1 - i];
        return mt_cat(count, reversed, c->dim);
    }
    case S_SQUEEZE: return mt_squeeze(x[0], c->dim);
    case S_UNSQUEEZE: return mt_unsqueeze(x[0], c->dim);
    case S_FLATTEN: return mt_flatten(x[0], c->dim, c->dim1);
    case S_INDEX_SELECT: {
        int64_t index[MT_MAX_DIMS];
        for (int i = 0; i < c->length; i++) index[i] = c->order[i];
        return mt_index_select(x[0], c->dim, c->length, index);
    }
    }
    return NULL;
}

/* A random case of `kind`: shapes of 1-3 dims (cat and stack parts share all but the joined
 * dim), sizes 1-4, dims given negative half the time. */
static void build_shape_case(t_rng *r, shape_kind kind, gc_case *c)
{
    int64_t s[MT_MAX_DIMS];
    int nd = t_random_shape(r, 1, 3, 4, s);
    c->arity = kind == S_CAT || kind == S_STACK ? t_rng_int(r, 2, 3) : kind == S_CAT_TREE ? 3 : 1;
    c->dim_norm = t_rng_int(r, 0, nd - 1);
    c->dim = t_rng_int(r, 0, 1) ? c->dim_norm - nd : c->dim_norm;
    for (int i = 0; i < c->arity; i++) set_arg(&c->in[i], nd, s);
    c->res_ndim = nd;
    memcpy(c->res_shape, s, sizeof s);
    const int d = c->dim_norm;
    switch (kind) {
    case S_CAT:
    case S_CAT_TREE: {
        for (int i = 0; i < c->arity; i++) c->in[i].shape[d] = t_rng_int(r, 1, 3);
        int parts[8], count = cat_parts(c, parts);
        c->res_shape[d] = 0;
        for (int p = 0; p < count; p++) c->res_shape[d] += c->in[parts[p]].shape[d];
        break;
    }
    case S_STACK: /* the new dim goes anywhere in [-nd-1, nd] */
        c->dim_norm = t_rng_int(r, 0, nd);
        c->dim = t_rng_int(r, 0, 1) ? c->dim_norm - nd - 1 : c->dim_norm;
        c->res_ndim = nd + 1;
        for (int i = 0, j = 0; i <= nd; i++) c->res_shape[i] = i == c->dim_norm ? c->arity : s[j++];
        break;
    case S_SPLIT: c->start = t_rng_int(r, 1, (int)s[d]); break; /* the piece size */
    case S_SQUEEZE: /* usually a size-1 dim to remove; sometimes a no-op (size > 1, or 1 dim) */
        if (t_rng_int(r, 0, 3)) c->in[0].shape[d] = c->res_shape[d] = 1;
        if (nd > 1 && c->in[0].shape[d] == 1) {
            c->res_ndim = nd - 1;
            for (int i = 0, j = 0; i < nd; i++)
                if (i != d) c->res_shape[j++] = s[i];
        }
        break;
    case S_UNSQUEEZE:
        c->dim_norm = t_rng_int(r, 0, nd);
        c->dim = t_rng_int(r, 0, 1) ? c->dim_norm - nd - 1 : c->dim_norm;
        c->res_ndim = nd + 1;
        for (int i = 0, j = 0; i <= nd; i++) c->res_shape[i] = i == c->dim_norm ? 1 : s[j++];
        break;
    case S_FLATTEN: {
        int first = t_rng_int(r, 0, nd - 1), last = t_rng_int(r, first, nd - 1);
        c->dim = first;
        c->dim1 = last - nd; /* the end dim counted from the end */
        c->res_ndim = 0;
        for (int i = 0; i < nd; i++) {
            if (i > first && i <= last) c->res_shape[c->res_ndim - 1] *= s[i];
            else c->res_shape[c->res_ndim++] = s[i];
        }
        break;
    }
    case S_INDEX_SELECT: /* 1-6 indices, repeats likely */
        c->length = t_rng_int(r, 1, 6);
        for (int i = 0; i < c->length; i++) c->order[i] = t_rng_int(r, 0, (int)s[d] - 1);
        c->res_shape[d] = c->length;
        break;
    }
}

static void run_shape(const char *name, shape_kind kind)
{
    t_rng r = t_rng_seed(name_seed(name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < 2 * ITERS; it++)
            for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                gc_case c = {.name = name, .lib = lib_shape, .ref = ref_shape,
                             .kind = (gc_kind)kind, .weighted = true};
                build_shape_case(&r, kind, &c);
                for (int i = 0; i < c.arity; i++)
                    c.in[i].v = t_random_values(&r, t_numel(c.in[i].ndim, c.in[i].shape), -3, 3);
                gc_check(&c, &r, mode, it);
                gc_free(&c);
            }
    }
}

Test(grad_shape, cat) { run_shape("cat", S_CAT); }
Test(grad_shape, cat_of_five_parts_reusing_inputs) { run_shape("cat(x0,x1,x2,x0,x1)", S_CAT_TREE); }
Test(grad_shape, stack) { run_shape("stack", S_STACK); }
Test(grad_shape, split_joined_in_reverse) { run_shape("cat(reversed split)", S_SPLIT); }
Test(grad_shape, squeeze) { run_shape("squeeze", S_SQUEEZE); }
Test(grad_shape, unsqueeze) { run_shape("unsqueeze", S_UNSQUEEZE); }
Test(grad_shape, flatten) { run_shape("flatten", S_FLATTEN); }
Test(grad_shape, index_select_with_repeats) { run_shape("index_select", S_INDEX_SELECT); }

/* ------------------------------------------------------------------------------------------ */
/* functions of whole lines (min, softmax, log_softmax, logsumexp, var, std) and the losses     */

typedef enum line_kind {
    L_MIN, L_SOFTMAX, L_LOG_SOFTMAX, L_LOGSUMEXP, L_VAR, L_STD, L_CROSS_ENTROPY, L_MSE
} line_kind;

typedef struct line_def {
    const char *name;
    line_kind kind;
    int correction; /* var, std */
} line_def;

/* The function of one line v[0..n) at stride `step` in double; ONE-width results in *out. */
static void ref_one_line(const line_def *d, const double *v, int64_t n, int64_t step, double *out,
                         int64_t out_step)
{
    double m = -INFINITY, lo = INFINITY, sum = 0, s = 0;
    for (int64_t j = 0; j < n; j++) {
        m = fmax(m, v[j * step]);
        lo = fmin(lo, v[j * step]);
        sum += v[j * step];
    }
    for (int64_t j = 0; j < n; j++) s += exp(v[j * step] - m);
    double mean = sum / (double)n, sq = 0;
    for (int64_t j = 0; j < n; j++) sq += (v[j * step] - mean) * (v[j * step] - mean);
    double divisor = fmax(0.0, (double)(n - d->correction));
    switch (d->kind) {
    case L_MIN: out[0] = lo; break;
    case L_SOFTMAX:
        for (int64_t j = 0; j < n; j++) out[j * out_step] = exp(v[j * step] - m) / s;
        break;
    case L_LOG_SOFTMAX:
        for (int64_t j = 0; j < n; j++) out[j * out_step] = v[j * step] - m - log(s);
        break;
    case L_LOGSUMEXP: out[0] = m + log(s); break;
    case L_VAR: out[0] = sq / divisor; break;
    case L_STD: out[0] = sqrt(sq / divisor); break;
    default: break;
    }
}

static void ref_line(const gc_case *c, const gc_arg *x, double *out)
{
    const line_def *d = c->def;
    if (d->kind == L_CROSS_ENTROPY) { /* mean of logsumexp(row) - row[label] */
        int64_t rows = x[0].shape[0], classes = x[0].shape[1];
        double total = 0, lse;
        const line_def lse_def = {"lse", L_LOGSUMEXP, 0};
        for (int64_t i = 0; i < rows; i++) {
            ref_one_line(&lse_def, x[0].v + i * classes, classes, 1, &lse, 1);
            total += lse - x[0].v[i * classes + c->order[i]];
        }
        out[0] = total / (double)rows;
        return;
    }
    if (d->kind == L_MSE) { /* over the broadcast shape */
        int64_t idx[MT_MAX_DIMS] = {0}, ia[MT_MAX_DIMS], ib[MT_MAX_DIMS];
        double total = 0;
        int64_t count = 0;
        do {
            t_broadcast_index(c->tgt_ndim, idx, x[0].ndim, x[0].shape, ia);
            t_broadcast_index(c->tgt_ndim, idx, x[1].ndim, x[1].shape, ib);
            double diff = x[0].v[t_ordinal(x[0].ndim, x[0].shape, ia)] -
                          x[1].v[t_ordinal(x[1].ndim, x[1].shape, ib)];
            total += diff * diff;
            count++;
        } while (t_next_index(c->tgt_ndim, c->tgt_shape, idx));
        out[0] = total / (double)count;
        return;
    }
    /* element j of line (o, i) sits at o * n * inner + j * inner + i */
    int dim = c->dim_norm;
    int64_t n = x[0].shape[dim], inner = 1, outer = 1;
    for (int i = dim + 1; i < x[0].ndim; i++) inner *= x[0].shape[i];
    for (int i = 0; i < dim; i++) outer *= x[0].shape[i];
    bool full = d->kind == L_SOFTMAX || d->kind == L_LOG_SOFTMAX;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            ref_one_line(d, x[0].v + o * n * inner + i, n, inner,
                         full ? out + o * n * inner + i : out + o * inner + i, inner);
}

static mt_tensor *lib_line(const gc_case *c, mt_tensor *const *x)
{
    const line_def *d = c->def;
    switch (d->kind) {
    case L_MIN: return mt_min(x[0], c->dim);
    case L_SOFTMAX: return mt_softmax(x[0], c->dim);
    case L_LOG_SOFTMAX: return mt_log_softmax(x[0], c->dim);
    case L_LOGSUMEXP: return mt_logsumexp(x[0], c->dim);
    case L_VAR: return mt_var(x[0], c->dim, d->correction);
    case L_STD: return mt_std(x[0], c->dim, d->correction);
    case L_CROSS_ENTROPY: {
        int64_t labels[MT_MAX_DIMS];
        for (int64_t i = 0; i < c->in[0].shape[0]; i++) labels[i] = c->order[i];
        return mt_loss_cross_entropy(x[0], c->in[0].shape[0], labels);
    }
    case L_MSE: return mt_loss_mse(x[0], x[1]);
    }
    return NULL;
}

/* Distinct values at least 0.1 apart (no ties for min), as floats. */
static double *distinct_values(t_rng *r, int64_t n)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)n);
    cr_assert(v && perm);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = t_rng_int(r, 0, (int)i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int64_t i = 0; i < n; i++)
        v[i] = (double)(float)(((double)perm[i] + t_rng_uniform(r, 0.1, 0.9)) * 0.5 - (double)n * 0.25);
    free(perm);
    return v;
}

static void run_line(const line_def *d)
{
    t_rng r = t_rng_seed(name_seed(d->name));
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int it = 0; it < 2 * ITERS; it++)
            for (int mode = 0; mode < LAYOUT_MODES; mode++) {
                gc_case c = {.name = d->name, .arity = 1, .lib = lib_line, .ref = ref_line,
                             .def = d, .weighted = true};
                int64_t s[MT_MAX_DIMS];
                int nd = t_random_shape(&r, d->kind == L_CROSS_ENTROPY ? 2 : 1,
                                        d->kind == L_CROSS_ENTROPY ? 2 : 3, 4, s);
                c.dim = t_rng_int(&r, -nd, nd - 1);
                c.dim_norm = c.dim < 0 ? c.dim + nd : c.dim;
                if (d->correction > 0 && s[c.dim_norm] <= d->correction) s[c.dim_norm] = d->correction + 1;
                int64_t n = t_numel(nd, s);
                set_arg(&c.in[0], nd, s);
                c.in[0].v = d->kind == L_MIN ? distinct_values(&r, n) : t_random_values(&r, n, -3, 3);
                for (int64_t i = 0; d->kind != L_MIN && i < n; i++) c.in[0].v[i] = (float)c.in[0].v[i];
                c.res_ndim = nd;
                memcpy(c.res_shape, s, sizeof s);
                if (d->kind == L_CROSS_ENTROPY || d->kind == L_MSE) {
                    c.res_ndim = 1;
                    c.res_shape[0] = 1;
                    for (int64_t i = 0; i < s[0]; i++) c.order[i] = t_rng_int(&r, 0, (int)s[1] - 1);
                } else if (d->kind != L_SOFTMAX && d->kind != L_LOG_SOFTMAX) {
                    c.res_shape[c.dim_norm] = 1;
                }
                if (d->kind == L_MSE) { /* a second input, the two broadcast together */
                    c.arity = 2;
                    int na, nb;
                    int64_t sa[MT_MAX_DIMS], sb[MT_MAX_DIMS];
                    t_random_broadcast_pair(&r, nd, s, &na, sa, &nb, sb);
                    set_arg(&c.in[0], na, sa);
                    set_arg(&c.in[1], nb, sb);
                    cr_assert(t_broadcast_shapes(na, sa, nb, sb, &c.tgt_ndim, c.tgt_shape));
                    for (int i = 0; i < 2; i++) {
                        free(c.in[i].v);
                        int64_t count = t_numel(c.in[i].ndim, c.in[i].shape);
                        c.in[i].v = t_random_values(&r, count, -3, 3);
                        for (int64_t e = 0; e < count; e++) c.in[i].v[e] = (float)c.in[i].v[e];
                    }
                }
                char name2[96];
                snprintf(name2, sizeof name2, "%s (dim %d)", d->name, c.dim);
                c.name = name2;
                gc_check(&c, &r, mode, it);
                gc_free(&c);
            }
    }
}

#define LINE_TEST(test, kind, correction)                              \
    Test(grad_line, test)                                              \
    {                                                                  \
        static const line_def d = {#test, kind, correction};           \
        run_line(&d);                                                  \
    }

LINE_TEST(min_distinct, L_MIN, 0)
LINE_TEST(softmax, L_SOFTMAX, 0)
LINE_TEST(log_softmax, L_LOG_SOFTMAX, 0)
LINE_TEST(logsumexp, L_LOGSUMEXP, 0)
LINE_TEST(var_population, L_VAR, 0)
LINE_TEST(var_unbiased, L_VAR, 1)
LINE_TEST(std_population, L_STD, 0)
LINE_TEST(std_unbiased, L_STD, 1)
LINE_TEST(var_correction_2, L_VAR, 2)
LINE_TEST(cross_entropy, L_CROSS_ENTROPY, 0)
LINE_TEST(mse_broadcast, L_MSE, 0)

/* Large lines: the row kernels' contiguous (dim 1) and blocked (dim 0) paths, threaded.
 * Gradients here are small (softmax's ~y ~ 1/300, std's ~1/(n std)), so BIG_ATOL would hide a
 * wrong formula: the float32 error of an element is below ~3e-5 (a 300-term sum of |w| <= 2,
 * relative error <= 300 u, scaled by exp(y) ~ 1/300; std's deviation is off by <= 300 u |x|
 * divided by (n - 1) std ~ 500), so we allow 1e-4 (1e-5 for std) absolute and 1e-3 relative,
 * while a dropped term is off by >= ~1e-3 (1e-4 for std). */
Test(grad_big, softmax_family)
{
    t_rng r = t_rng_seed(name_seed("big softmax"));
    cr_assert_eq(mt_set_num_threads(3), MT_OK);
    static const line_def defs[] = {{"big softmax", L_SOFTMAX, 0},
                                    {"big log_softmax", L_LOG_SOFTMAX, 0},
                                    {"big logsumexp", L_LOGSUMEXP, 0},
                                    {"big std", L_STD, 1}};
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (size_t k = 0; k < sizeof defs / sizeof *defs; k++)
            for (int dim = 0; dim < 2; dim++)
                for (int mode = 0; mode < 3; mode++) {
                    gc_case c = {.name = defs[k].name, .arity = 1, .lib = lib_line,
                                 .ref = ref_line, .def = &defs[k], .weighted = true,
                                 .max_checked = BIG_SAMPLES, .rtol = 1e-3,
                                 .atol = defs[k].kind == L_STD ? 1e-5 : 1e-4,
                                 .dim = dim, .dim_norm = dim};
                    set_arg(&c.in[0], 2, (const int64_t[]){300, 280});
                    c.in[0].v = t_random_values(&r, 300 * 280, -3, 3);
                    for (int64_t i = 0; i < 300 * 280; i++) c.in[0].v[i] = (float)c.in[0].v[i];
                    c.res_ndim = 2;
                    c.res_shape[0] = 300;
                    c.res_shape[1] = 280;
                    if (defs[k].kind != L_SOFTMAX && defs[k].kind != L_LOG_SOFTMAX) c.res_shape[dim] = 1;
                    gc_check(&c, &r, mode, (int)k);
                    gc_free(&c);
                }
    }
    mt_set_num_threads(0);
}
