/* Forward elementwise operations: map (neg ... tanh, and the math functions and activations sqrt ...
 * pow_scalar), zip (add ... inv_back, pow, maximum, minimum),
 * the scalar forms, mt_map_out / mt_zip_out, edge values and errors.
 *
 * Expected values come from the oracles in tests/support (the test's own index loops and
 * broadcasting, math in double on the same float inputs), never from the library. Inputs are
 * built in every layout (0 contiguous, 1 permuted storage, 2 narrowed view with an offset, and
 * for maps an expanded view with zero strides).
 *
 * Tolerances (float32 result against the double oracle of the same float inputs; u = 2^-24):
 *   neg, copy, relu, relu_back, lt, gt, eq, is_close: exact (no rounding happens).
 *   add, sub, mul, div, inv, log_back: one correctly rounded operation, error <= u relative;
 *     we allow 1e-6 relative (~8 ulp).
 *   inv_back (-d / (a*a)): two roundings, <= 2u relative; 1e-6 relative.
 *   exp, log, sigmoid: libm / libmvec float functions are accurate to a few ulp; 1e-6 relative
 *     (~8 ulp), plus 1e-7 absolute for log (results near 0 when x is near 1) and 1e-30 absolute
 *     for sigmoid (tiny results when x is very negative).
 *   sqrt, rsqrt, square, sin, cos, softplus, silu, pow_scalar, pow: one to three roundings plus a
 *     libm function of a few ulp (sinf/cosf reduce their argument exactly, so they stay accurate
 *     relative to the result near their zeros); 1e-6 relative, 1e-30 absolute for tiny results.
 *   abs, clamp, maximum, minimum: exact; leaky_relu: one rounding (x * slope), 1e-7 relative.
 *   gelu = x sigmoid(2u): 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) carries ~4 roundings, an absolute
 *     error of ~4 u |2u| in exp's argument, i.e. a relative error of ~4 u |2u| in the result;
 *     |2u| <= 26 for |x| <= 6 gives ~6e-6, so gelu's inputs are |x| <= 6 and rtol is 1e-5.
 * Input ranges avoid the kinks and near-ties: relu and relu_back see |a| >= 0.05; lt/gt get
 * continuous values (a tie is then exact anyway: the inputs are floats); eq and is_close get
 * values on a grid, so equal values occur deliberately and |a - b| is a multiple of 1/256
 * (0.0078 or 0.0117 around the 0.01 threshold, never near it); log, inv, log_back, inv_back and
 * rdiv get positive inputs away from 0, div a divisor with |b| >= 0.5. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define RANDOM_ITERATIONS 200
#define LARGE_THREADS 3

/* ---- value generators ---- */

typedef enum gen_kind { G_UNIFORM, G_SIGNED, G_GRID } gen_kind;
typedef struct gen {
    gen_kind kind;
    double lo, hi;  /* G_UNIFORM: [lo, hi); G_SIGNED: |x| in [lo, hi), random sign */
    int kmin, kmax; /* G_GRID: k * step, k in [kmin, kmax] */
    double step;
} gen;
#define UNIFORM(lo, hi) {G_UNIFORM, lo, hi, 0, 0, 0}
#define SIGNED(lo, hi) {G_SIGNED, lo, hi, 0, 0, 0}
#define GRID(kmin, kmax, step) {G_GRID, 0, 0, kmin, kmax, step}

static double *gen_values(t_rng *r, int64_t n, const gen *g)
{
    switch (g->kind) {
    case G_UNIFORM: return t_random_values(r, n, g->lo, g->hi);
    case G_SIGNED: return t_random_signed_values(r, n, g->lo, g->hi);
    default: return t_grid_values(r, n, g->kmin, g->kmax, g->step);
    }
}

static double gen_scalar(t_rng *r, const gen *g)
{
    double *v = gen_values(r, 1, g), s = v[0];
    free(v);
    return s;
}

/* ---- oracles, in double ---- */

static double o_neg(double x) { return -x; }
static double o_id(double x) { return x; }
static double o_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double o_relu(double x) { return isnan(x) ? x : x > 0 ? x : 0.0; }
static double o_log(double x) { return log(x); }
static double o_exp(double x) { return exp(x); }
static double o_inv(double x) { return 1.0 / x; }
static double o_tanh(double x) { return tanh(x); }
static double o_sqrt(double x) { return sqrt(x); }
static double o_rsqrt(double x) { return 1.0 / sqrt(x); }
static double o_abs(double x) { return fabs(x); }
static double o_sin(double x) { return sin(x); }
static double o_cos(double x) { return cos(x); }
static double o_square(double x) { return x * x; }
/* 0.5 x (1 + tanh(u)) written as x / (1 + e^-2u), which does not cancel in double either */
static double o_gelu(double x)
{
    const double sqrt_2_over_pi = 0.79788456080286535588;
    return x / (1.0 + exp(-2.0 * sqrt_2_over_pi * (x + 0.044715 * x * x * x)));
}
static double o_silu(double x) { return x * o_sigmoid(x); }
static double o_softplus(double x) { return x > 20.0 ? x : log1p(exp(x)); }
/* the parameterised ops, with the parameters the cases below pass */
#define LEAKY_SLOPE 0.1f
#define CLAMP_LO (-1.0f)
#define CLAMP_HI 2.0f
#define POW_EXPONENT 2.5f
static double o_leaky_relu(double x) { return x > 0 ? x : x * (double)LEAKY_SLOPE; }
static double o_clamp(double x) { return isnan(x) ? x : x < CLAMP_LO ? CLAMP_LO : x > CLAMP_HI ? CLAMP_HI : x; }
static double o_pow_scalar(double x) { return pow(x, (double)POW_EXPONENT); }
static mt_tensor *leaky_relu_case(mt_tensor *a) { return mt_leaky_relu(a, LEAKY_SLOPE); }
static mt_tensor *clamp_case(mt_tensor *a) { return mt_clamp(a, CLAMP_LO, CLAMP_HI); }
static mt_tensor *pow_scalar_case(mt_tensor *a) { return mt_pow_scalar(a, POW_EXPONENT); }

static double o_add(double a, double b) { return a + b; }
static double o_sub(double a, double b) { return a - b; }
static double o_mul(double a, double b) { return a * b; }
static double o_div(double a, double b) { return a / b; }
static double o_lt(double a, double b) { return a < b ? 1.0 : 0.0; }
static double o_gt(double a, double b) { return a > b ? 1.0 : 0.0; }
static double o_eq(double a, double b) { return a == b ? 1.0 : 0.0; }
static double o_is_close(double a, double b) { return fabs(a - b) < 1e-2 ? 1.0 : 0.0; }
static double o_pow(double a, double b) { return pow(a, b); }
static double o_maximum(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }
static double o_minimum(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }
static double o_relu_back(double a, double d) { return a > 0 ? d : 0.0; }
static double o_log_back(double a, double d) { return d / a; }
static double o_inv_back(double a, double d) { return -d / (a * a); }
/* scalar forms: (a, s) */
static double o_rsub(double a, double s) { return s - a; }
static double o_rdiv(double a, double s) { return s / a; }

/* ---- case tables ---- */

typedef struct map_case {
    const char *name, *trace; /* trace: the kernel's op name in trace lines */
    mt_tensor *(*fn)(mt_tensor *);
    mt_unary_op op;
    double (*oracle)(double);
    gen in;
    double atol, rtol;
} map_case;

static const map_case MAP_CASES[] = {
    {"neg", "neg", mt_neg, MT_OP_NEG, o_neg, UNIFORM(-10, 10), 0, 0},
    {"copy", "copy", mt_copy, MT_OP_ID, o_id, UNIFORM(-10, 10), 0, 0},
    {"sigmoid", "sigmoid", mt_sigmoid, MT_OP_SIGMOID, o_sigmoid, UNIFORM(-12, 12), 1e-30, 1e-6},
    {"relu", "relu", mt_relu, MT_OP_RELU, o_relu, SIGNED(0.05, 10), 0, 0},
    {"log", "log", mt_log, MT_OP_LOG, o_log, UNIFORM(0.05, 20), 1e-7, 1e-6},
    {"exp", "exp", mt_exp, MT_OP_EXP, o_exp, UNIFORM(-10, 10), 0, 1e-6},
    {"inv", "inv", mt_inv, MT_OP_INV, o_inv, UNIFORM(0.05, 20), 0, 1e-6},
    /* tanhf is within a few ulp of tanh; near 0 it is ~x, so relative 1e-6 holds throughout */
    {"tanh", "tanh", mt_tanh, MT_OP_TANH, o_tanh, UNIFORM(-10, 10), 1e-30, 1e-6},
    {"sqrt", "sqrt", mt_sqrt, MT_OP_SQRT, o_sqrt, UNIFORM(0, 50), 0, 1e-6},
    {"rsqrt", "rsqrt", mt_rsqrt, MT_OP_RSQRT, o_rsqrt, UNIFORM(0.01, 50), 0, 1e-6},
    {"abs", "abs", mt_abs, MT_OP_ABS, o_abs, UNIFORM(-10, 10), 0, 0},
    {"sin", "sin", mt_sin, MT_OP_SIN, o_sin, UNIFORM(-20, 20), 1e-30, 1e-6},
    {"cos", "cos", mt_cos, MT_OP_COS, o_cos, UNIFORM(-20, 20), 1e-30, 1e-6},
    {"square", "square", mt_square, MT_OP_SQUARE, o_square, UNIFORM(-10, 10), 0, 1e-6},
    {"gelu", "gelu", mt_gelu, MT_OP_GELU, o_gelu, UNIFORM(-6, 6), 1e-30, 1e-5},
    {"silu", "silu", mt_silu, MT_OP_SILU, o_silu, UNIFORM(-12, 12), 1e-30, 1e-6},
    {"softplus", "softplus", mt_softplus, MT_OP_SOFTPLUS, o_softplus, UNIFORM(-30, 30), 1e-30, 1e-6},
    {"leaky_relu", "leaky_relu", leaky_relu_case, MT_OP_LEAKY_RELU, o_leaky_relu, SIGNED(0.05, 10), 0, 1e-7},
    {"clamp", "clamp", clamp_case, MT_OP_CLAMP, o_clamp, UNIFORM(-3, 3), 0, 0},
    {"pow_scalar", "pow_scalar", pow_scalar_case, MT_OP_POW_SCALAR, o_pow_scalar, UNIFORM(0.05, 20), 0, 1e-6},
};
#define MAP_CASE_COUNT (int)(sizeof MAP_CASES / sizeof MAP_CASES[0])

typedef struct zip_case {
    const char *name, *trace;
    mt_tensor *(*fn)(mt_tensor *, mt_tensor *);
    mt_binary_op op;
    double (*oracle)(double, double);
    gen a, b;
    double atol, rtol;
    bool comparison; /* 0/1 results: both must occur */
} zip_case;

/* MiniTorch's backward helpers have no mt_binary_op of their own. */
#define NO_OUT_OP ((mt_binary_op)-1)
static const zip_case ZIP_CASES[] = {
    {"add", "add", mt_add, MT_OP_ADD, o_add, UNIFORM(-10, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"sub", "sub", mt_sub, MT_OP_SUB, o_sub, UNIFORM(-10, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"mul", "mul", mt_mul, MT_OP_MUL, o_mul, UNIFORM(-10, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"div", "div", mt_div, MT_OP_DIV, o_div, UNIFORM(-10, 10), SIGNED(0.5, 5), 0, 1e-6, false},
    {"lt", "lt", mt_lt, MT_OP_LT, o_lt, UNIFORM(-3, 3), UNIFORM(-3, 3), 0, 0, true},
    {"gt", "gt", mt_gt, MT_OP_GT, o_gt, UNIFORM(-3, 3), UNIFORM(-3, 3), 0, 0, true},
    {"eq", "eq", mt_eq, MT_OP_EQ, o_eq, GRID(-3, 3, 0.5), GRID(-3, 3, 0.5), 0, 0, true},
    {"is_close", "is_close", mt_is_close, MT_OP_IS_CLOSE, o_is_close, GRID(-6, 6, 1.0 / 256),
     GRID(-6, 6, 1.0 / 256), 0, 0, true},
    {"relu_back", "relu_grad", mt_relu_back, NO_OUT_OP, o_relu_back, SIGNED(0.05, 5),
     UNIFORM(-5, 5), 0, 0, false},
    {"log_back", "log_grad", mt_log_back, NO_OUT_OP, o_log_back, UNIFORM(0.1, 10),
     UNIFORM(-5, 5), 0, 1e-6, false},
    {"inv_back", "inv_grad", mt_inv_back, NO_OUT_OP, o_inv_back, UNIFORM(0.1, 10),
     UNIFORM(-5, 5), 0, 1e-6, false},
    {"pow", "pow", mt_pow, MT_OP_POW, o_pow, UNIFORM(0.05, 10), UNIFORM(-3, 3), 1e-30, 1e-6, false},
    /* a grid: ties occur (either input is then right) */
    {"maximum", "maximum", mt_maximum, MT_OP_MAXIMUM, o_maximum, GRID(-8, 8, 0.5), GRID(-8, 8, 0.5), 0, 0, false},
    {"minimum", "minimum", mt_minimum, MT_OP_MINIMUM, o_minimum, GRID(-8, 8, 0.5), GRID(-8, 8, 0.5), 0, 0, false},
};
#define ZIP_CASE_COUNT (int)(sizeof ZIP_CASES / sizeof ZIP_CASES[0])

typedef struct scalar_case {
    const char *name, *trace;
    mt_tensor *(*fn)(mt_tensor *, float);
    double (*oracle)(double, double); /* (a, s) */
    gen a, s;
    double atol, rtol;
    bool comparison;
} scalar_case;

static const scalar_case SCALAR_CASES[] = {
    {"add_scalar", "add", mt_add_scalar, o_add, UNIFORM(-10, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"sub_scalar", "sub", mt_sub_scalar, o_sub, UNIFORM(-10, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"rsub_scalar", "sub", mt_rsub_scalar, o_rsub, UNIFORM(-10, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"mul_scalar", "mul", mt_mul_scalar, o_mul, UNIFORM(-10, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"div_scalar", "div", mt_div_scalar, o_div, UNIFORM(-10, 10), SIGNED(0.5, 5), 0, 1e-6, false},
    {"rdiv_scalar", "div", mt_rdiv_scalar, o_rdiv, UNIFORM(0.1, 10), UNIFORM(-10, 10), 0, 1e-6, false},
    {"lt_scalar", "lt", mt_lt_scalar, o_lt, UNIFORM(-3, 3), UNIFORM(-2, 2), 0, 0, true},
    {"gt_scalar", "gt", mt_gt_scalar, o_gt, UNIFORM(-3, 3), UNIFORM(-2, 2), 0, 0, true},
    {"eq_scalar", "eq", mt_eq_scalar, o_eq, GRID(-3, 3, 0.5), GRID(-3, 3, 0.5), 0, 0, true},
};
#define SCALAR_CASE_COUNT (int)(sizeof SCALAR_CASES / sizeof SCALAR_CASES[0])

/* Large shapes: big enough for several threads and (3x70000) rows longer than one segment. */
static const int64_t LARGE_SHAPES[][2] = {{300, 500}, {3, 70000}, {70000, 3}};

static void count_01(const double *e, int64_t n, int64_t *ones, int64_t *zeros)
{
    for (int64_t i = 0; i < n; i++) {
        if (e[i] == 1.0) (*ones)++;
        else if (e[i] == 0.0) (*zeros)++;
    }
}

/* ---- map ---- */

/* One map evaluation: `a` holds the logical values `va` of shape (nd, shape). */
static void map_eval(const map_case *c, mt_tensor *a, int nd, const int64_t *shape,
                     const double *va, const char *tag)
{
    char what[256], st[64];
    snprintf(what, sizeof what, "%s %s %s", c->name, tag, t_shape_text(st, sizeof st, nd, shape));
    mt_tensor *out = c->fn(a);
    cr_assert_not_null(out, "%s: NULL: %s", what, mt_last_error());
    t_expect_shape(out, nd, shape);
    cr_assert(!mt_shares_storage(out, a), "%s: the result shares the input's storage", what);
    if (c->op == MT_OP_ID) cr_assert(mt_is_contiguous(out), "%s: mt_copy is not contiguous", what);
    double *e = t_oracle_map(nd, shape, nd, shape, va, c->oracle);
    t_expect_close(what, out, e, c->atol, c->rtol);
    t_expect_close("input unchanged", a, va, 0, 0);
    free(e);
    mt_release(out);
}

static void check_map_random(const map_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    for (int it = 0; it < RANDOM_ITERATIONS; it++) {
        int64_t shape[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, shape);
        int layout = it % 4;
        char tag[64];
        snprintf(tag, sizeof tag, "#%d layout %d", it, layout);
        if (layout < 3) {
            double *v = gen_values(&r, t_numel(nd, shape), &c->in);
            mt_tensor *a = t_tensor(&r, nd, shape, v, layout);
            map_eval(c, a, nd, shape, v, tag);
            mt_release(a);
            free(v);
        } else { /* an expanded input (zero strides) */
            int64_t small[MT_MAX_DIMS];
            int ns = t_random_shrunk_shape(&r, nd, shape, true, small);
            double *sv = gen_values(&r, t_numel(ns, small), &c->in), *v;
            mt_tensor *a = t_expanded_tensor(&r, nd, shape, ns, small, sv, t_rng_int(&r, 0, 2), &v);
            map_eval(c, a, nd, shape, v, tag);
            mt_release(a);
            free(sv);
            free(v);
        }
    }
}

static void check_map_large(const map_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    t_trace tr;
    t_trace_begin(&tr);
    for (int s = 0; s < 3; s++) {
        const int64_t *shape = LARGE_SHAPES[s];
        double *v = gen_values(&r, t_numel(2, shape), &c->in);
        for (int layout = 0; layout < 3; layout++) {
            char tag[64];
            snprintf(tag, sizeof tag, "large layout %d", layout);
            mt_tensor *a = t_tensor(&r, 2, shape, v, layout);
            map_eval(c, a, 2, shape, v, tag);
            mt_release(a);
        }
        free(v);
        /* expanded along each dim */
        for (int d = 0; d < 2; d++) {
            int64_t small[2] = {shape[0], shape[1]};
            small[d] = 1;
            double *sv = gen_values(&r, t_numel(2, small), &c->in), *ev;
            mt_tensor *a = t_expanded_tensor(&r, 2, shape, 2, small, sv, 1, &ev);
            map_eval(c, a, 2, shape, ev, d ? "large expanded dim 1" : "large expanded dim 0");
            mt_release(a);
            free(sv);
            free(ev);
        }
    }
    int threads = t_trace_end_max_threads(&tr, c->trace);
    cr_assert_geq(threads, 2, "%s: the large inputs never ran on several threads (max %d)",
                  c->name, threads);
    mt_set_num_threads(0);
}

#define MAP_TESTS(i, nm)                                                       \
    Test(map_random, nm) { check_map_random(&MAP_CASES[i], 1000 + i); }       \
    Test(map_large, nm) { check_map_large(&MAP_CASES[i], 2000 + i); }

MAP_TESTS(0, neg)
MAP_TESTS(1, copy)
MAP_TESTS(2, sigmoid)
MAP_TESTS(3, relu)
MAP_TESTS(4, log)
MAP_TESTS(5, exp)
MAP_TESTS(6, inv)
MAP_TESTS(7, tanh)
MAP_TESTS(8, sqrt)
MAP_TESTS(9, rsqrt)
MAP_TESTS(10, abs)
MAP_TESTS(11, sin)
MAP_TESTS(12, cos)
MAP_TESTS(13, square)
MAP_TESTS(14, gelu)
MAP_TESTS(15, silu)
MAP_TESTS(16, softplus)
MAP_TESTS(17, leaky_relu)
MAP_TESTS(18, clamp)
MAP_TESTS(19, pow_scalar)

/* ---- zip ---- */

static void zip_eval(const zip_case *c, t_rng *r, int na, const int64_t *sa, int la, int nb,
                     const int64_t *sb, int lb, const char *tag, int64_t *ones, int64_t *zeros)
{
    int no;
    int64_t so[MT_MAX_DIMS];
    cr_assert(t_broadcast_shapes(na, sa, nb, sb, &no, so));
    double *va = gen_values(r, t_numel(na, sa), &c->a), *vb = gen_values(r, t_numel(nb, sb), &c->b);
    mt_tensor *a = t_tensor(r, na, sa, va, la), *b = t_tensor(r, nb, sb, vb, lb);
    char what[256], ta[64], tb[64];
    snprintf(what, sizeof what, "%s %s a %s (layout %d) b %s (layout %d)", c->name, tag,
             t_shape_text(ta, sizeof ta, na, sa), la, t_shape_text(tb, sizeof tb, nb, sb), lb);
    mt_tensor *out = c->fn(a, b);
    cr_assert_not_null(out, "%s: NULL: %s", what, mt_last_error());
    t_expect_shape(out, no, so);
    cr_assert(!mt_shares_storage(out, a) && !mt_shares_storage(out, b),
              "%s: the result shares an input's storage", what);
    double *e = t_oracle_zip(no, so, na, sa, va, nb, sb, vb, c->oracle);
    t_expect_close(what, out, e, c->atol, c->rtol);
    if (ones) count_01(e, t_numel(no, so), ones, zeros);
    t_expect_close("a unchanged", a, va, 0, 0);
    t_expect_close("b unchanged", b, vb, 0, 0);
    free(e);
    free(va);
    free(vb);
    mt_release(out);
    mt_release(a);
    mt_release(b);
}

static void check_zip_random(const zip_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    int64_t ones = 0, zeros = 0;
    for (int it = 0; it < RANDOM_ITERATIONS; it++) {
        int64_t shape[MT_MAX_DIMS], sa[MT_MAX_DIMS], sb[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, shape), na, nb;
        t_random_broadcast_pair(&r, nd, shape, &na, sa, &nb, sb);
        char tag[32];
        snprintf(tag, sizeof tag, "#%d", it);
        zip_eval(c, &r, na, sa, t_rng_int(&r, 0, 2), nb, sb, t_rng_int(&r, 0, 2), tag, &ones,
                 &zeros);
    }
    if (c->comparison)
        cr_assert(ones > 0 && zeros > 0, "%s: the inputs gave %lld ones and %lld zeros", c->name,
                  (long long)ones, (long long)zeros);
}

static void check_zip_large(const zip_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    t_trace tr;
    t_trace_begin(&tr);
    int64_t ones = 0, zeros = 0;
    static const int layouts[3][2] = {{0, 0}, {1, 2}, {2, 1}};
    for (int s = 0; s < 3; s++) {
        const int64_t *shape = LARGE_SHAPES[s];
        for (int k = 0; k < 3; k++)
            zip_eval(c, &r, 2, shape, layouts[k][0], 2, shape, layouts[k][1], "large", &ones,
                     &zeros);
        /* broadcast partners, in both orders: (C), (1,C), (R,1) */
        int64_t row[2] = {1, shape[1]}, col[2] = {shape[0], 1};
        for (int order = 0; order < 2; order++) {
            int lf = order ? 1 : 2, ls = order ? 0 : 1;
            if (order == 0) {
                zip_eval(c, &r, 2, shape, lf, 1, &shape[1], ls, "large bcast", &ones, &zeros);
                zip_eval(c, &r, 2, shape, lf, 2, row, ls, "large bcast", &ones, &zeros);
                zip_eval(c, &r, 2, shape, lf, 2, col, 2, "large bcast", &ones, &zeros);
            } else {
                zip_eval(c, &r, 1, &shape[1], ls, 2, shape, lf, "large bcast", &ones, &zeros);
                zip_eval(c, &r, 2, row, ls, 2, shape, lf, "large bcast", &ones, &zeros);
                zip_eval(c, &r, 2, col, 2, 2, shape, lf, "large bcast", &ones, &zeros);
            }
        }
        /* both sides broadcast: (R,1) with (1,C) */
        zip_eval(c, &r, 2, col, 1, 2, row, 2, "large outer", &ones, &zeros);
    }
    int threads = t_trace_end_max_threads(&tr, c->trace);
    cr_assert_geq(threads, 2, "%s: the large inputs never ran on several threads (max %d)",
                  c->name, threads);
    if (c->comparison)
        cr_assert(ones > 0 && zeros > 0, "%s: the inputs gave %lld ones and %lld zeros", c->name,
                  (long long)ones, (long long)zeros);
    mt_set_num_threads(0);
}

#define ZIP_TESTS(i, nm)                                                       \
    Test(zip_random, nm) { check_zip_random(&ZIP_CASES[i], 3000 + i); }       \
    Test(zip_large, nm) { check_zip_large(&ZIP_CASES[i], 4000 + i); }

ZIP_TESTS(0, add)
ZIP_TESTS(1, sub)
ZIP_TESTS(2, mul)
ZIP_TESTS(3, div)
ZIP_TESTS(4, lt)
ZIP_TESTS(5, gt)
ZIP_TESTS(6, eq)
ZIP_TESTS(7, is_close)
ZIP_TESTS(8, relu_back)
ZIP_TESTS(9, log_back)
ZIP_TESTS(10, inv_back)
ZIP_TESTS(11, pow)
ZIP_TESTS(12, maximum)
ZIP_TESTS(13, minimum)

/* ---- scalar forms ---- */

static double scalar_value; /* the oracle's second operand (set before each use) */
static double (*scalar_oracle)(double, double);
static double scalar_apply(double a) { return scalar_oracle(a, scalar_value); }

static void scalar_eval(const scalar_case *c, t_rng *r, int nd, const int64_t *shape, int layout,
                        const char *tag, int64_t *ones, int64_t *zeros)
{
    double *va = gen_values(r, t_numel(nd, shape), &c->a);
    float s = (float)gen_scalar(r, &c->s);
    if (c->oracle == o_eq && t_rng_int(r, 0, 1)) {
        /* eq: place the scalar's exact value at a few random positions (lt and gt keep
         * continuous inputs, away from ties) */
        for (int k = 0; k < 3; k++) va[t_rng_int(r, 0, (int)t_numel(nd, shape) - 1)] = s;
    }
    mt_tensor *a = t_tensor(r, nd, shape, va, layout);
    char what[256], st[64];
    snprintf(what, sizeof what, "%s %s a %s (layout %d) s %.9g", c->name, tag,
             t_shape_text(st, sizeof st, nd, shape), layout, (double)s);
    mt_tensor *out = c->fn(a, s);
    cr_assert_not_null(out, "%s: NULL: %s", what, mt_last_error());
    t_expect_shape(out, nd, shape);
    scalar_value = s;
    scalar_oracle = c->oracle;
    double *e = t_oracle_map(nd, shape, nd, shape, va, scalar_apply);
    t_expect_close(what, out, e, c->atol, c->rtol);
    count_01(e, t_numel(nd, shape), ones, zeros);
    t_expect_close("a unchanged", a, va, 0, 0);
    free(e);
    free(va);
    mt_release(out);
    mt_release(a);
}

static void check_scalar_random(const scalar_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    int64_t ones = 0, zeros = 0;
    for (int it = 0; it < RANDOM_ITERATIONS; it++) {
        int64_t shape[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, shape);
        char tag[32];
        snprintf(tag, sizeof tag, "#%d", it);
        scalar_eval(c, &r, nd, shape, it % 3, tag, &ones, &zeros);
    }
    if (c->comparison)
        cr_assert(ones > 0 && zeros > 0, "%s: the inputs gave %lld ones and %lld zeros", c->name,
                  (long long)ones, (long long)zeros);
}

static void check_scalar_large(const scalar_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    t_trace tr;
    t_trace_begin(&tr);
    int64_t ones = 0, zeros = 0;
    for (int s = 0; s < 3; s++)
        for (int layout = 0; layout < 3; layout++)
            scalar_eval(c, &r, 2, LARGE_SHAPES[s], layout, "large", &ones, &zeros);
    int threads = t_trace_end_max_threads(&tr, c->trace);
    cr_assert_geq(threads, 2, "%s: the large inputs never ran on several threads (max %d)",
                  c->name, threads);
    mt_set_num_threads(0);
}

#define SCALAR_TESTS(i, nm)                                                          \
    Test(scalar_random, nm) { check_scalar_random(&SCALAR_CASES[i], 5000 + i); }     \
    Test(scalar_large, nm) { check_scalar_large(&SCALAR_CASES[i], 6000 + i); }

SCALAR_TESTS(0, add_scalar)
SCALAR_TESTS(1, sub_scalar)
SCALAR_TESTS(2, rsub_scalar)
SCALAR_TESTS(3, mul_scalar)
SCALAR_TESTS(4, div_scalar)
SCALAR_TESTS(5, rdiv_scalar)
SCALAR_TESTS(6, lt_scalar)
SCALAR_TESTS(7, gt_scalar)
SCALAR_TESTS(8, eq_scalar)

/* A hand-checked case for the argument order of the scalar forms. */
Test(scalar_hand, argument_order)
{
    mt_tensor *a = mt_from_data(MT_DIMS(3), (const float[]){1, 2, 4});
    mt_tensor *r[6] = {mt_sub_scalar(a, 8), mt_rsub_scalar(a, 8), mt_div_scalar(a, 8),
                       mt_rdiv_scalar(a, 8), mt_lt_scalar(a, 2), mt_gt_scalar(a, 2)};
    static const double expected[6][3] = {
        {-7, -6, -4}, {7, 6, 4}, {0.125, 0.25, 0.5}, {8, 4, 2}, {1, 0, 0}, {0, 0, 1}};
    static const char *const names[6] = {"sub_scalar", "rsub_scalar", "div_scalar",
                                         "rdiv_scalar", "lt_scalar", "gt_scalar"};
    for (int i = 0; i < 6; i++) {
        t_expect_shape(r[i], MT_DIMS(3));
        t_expect_close(names[i], r[i], expected[i], 0, 0);
        mt_release(r[i]);
    }
    mt_tensor *e = mt_eq_scalar(a, 2);
    t_expect_close("eq_scalar", e, (const double[]){0, 1, 0}, 0, 0);
    mt_release(e);
    mt_release(a);
}

/* ---- edge values ---- */

/* Checks fn on `values` (expected `expected`) as a small vector, and tiled into a large 2-D
 * tensor (vectorized and multi-threaded loops) in each layout. */
static void check_edge_map(const char *name, mt_tensor *(*fn)(mt_tensor *), const double *values,
                           const double *expected, int count, double atol, double rtol)
{
    char what[128];
    mt_tensor *a = t_tensor(NULL, 1, (const int64_t[]){count}, values, 0);
    mt_tensor *out = fn(a);
    snprintf(what, sizeof what, "%s edge values", name);
    t_expect_close(what, out, expected, atol, rtol);
    mt_release(out);
    mt_release(a);

    t_rng r = t_rng_seed(77);
    const int64_t rows = 8000, shape[2] = {rows, count};
    double *tv = malloc(sizeof(double) * (size_t)(rows * count));
    double *te = malloc(sizeof(double) * (size_t)(rows * count));
    cr_assert(tv && te);
    for (int64_t i = 0; i < rows * count; i++) {
        /* rotate the values so each lands in every vector lane position */
        int k = (int)((i + i / count) % count);
        tv[i] = values[k];
        te[i] = expected[k];
    }
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *big = t_tensor(&r, 2, shape, tv, layout);
        out = fn(big);
        snprintf(what, sizeof what, "%s edge values tiled, layout %d", name, layout);
        t_expect_close(what, out, te, atol, rtol);
        mt_release(out);
        mt_release(big);
    }
    free(tv);
    free(te);
}

Test(edge, sigmoid_extremes)
{
    static const double v[] = {-1e30, -100, -88, -30, -1, -0.0, 0, 1, 30, 88, 100, 1e30,
                               -INFINITY, INFINITY};
    enum { N = sizeof v / sizeof v[0] };
    double e[N];
    for (int i = 0; i < N; i++) e[i] = o_sigmoid(v[i]);
    /* 3e-45: two float denormal steps (sigmoid(-100) ~ 3.72e-44 and sigmoid(-88) are denormal) */
    check_edge_map("sigmoid", mt_sigmoid, v, e, N, 3e-45, 1e-6);

    mt_tensor *a = t_tensor(NULL, 1, (const int64_t[]){N}, v, 0);
    mt_tensor *s = mt_sigmoid(a);
    double *got = t_values(s);
    for (int i = 0; i < N; i++)
        cr_assert(isfinite(got[i]) && got[i] >= 0 && got[i] <= 1, "sigmoid(%g) = %g", v[i], got[i]);
    cr_assert(got[1] > 3.5e-44 && got[1] < 3.9e-44, "sigmoid(-100) = %g, expected ~3.72e-44", got[1]);
    cr_assert_eq(got[10], 1.0, "sigmoid(100) = %.9g, expected 1", got[10]);
    cr_assert_eq(got[11], 1.0, "sigmoid(1e30) = %.9g", got[11]);
    cr_assert_eq(got[0], 0.0, "sigmoid(-1e30) = %.9g", got[0]);
    cr_assert_eq(got[6], 0.5, "sigmoid(0) = %.9g", got[6]);
    free(got);
    mt_release(s);
    mt_release(a);
}

Test(edge, sigmoid_nan)
{
    static const double v[] = {NAN, 1, -1};
    double e[3] = {NAN, o_sigmoid(1), o_sigmoid(-1)};
    check_edge_map("sigmoid", mt_sigmoid, v, e, 3, 0, 1e-6);
}

Test(edge, log_special)
{
    static const double v[] = {0.0, -0.0, -1, -INFINITY, INFINITY, NAN, 1, FLT_MIN, FLT_TRUE_MIN, 2};
    static const double e[] = {-INFINITY, -INFINITY, NAN, NAN, INFINITY, NAN, 0,
                               -87.33654475055310898657, -103.27892990343185, 0.69314718055994530942};
    check_edge_map("log", mt_log, v, e, (int)(sizeof v / sizeof v[0]), 1e-7, 1e-6);
}

Test(edge, exp_special)
{
    static const double v[] = {100, 89, 88, -100, -110, -INFINITY, INFINITY, NAN, 0, 1};
    static const double e[] = {INFINITY, INFINITY, 1.6516362549940018e38, 3.7200759760208360e-44,
                               0, 0, INFINITY, NAN, 1, 2.71828182845904523536};
    /* 3e-45: exp(-100) is a float denormal (two steps of 2^-149 allowed) */
    check_edge_map("exp", mt_exp, v, e, (int)(sizeof v / sizeof v[0]), 3e-45, 1e-6);
}

Test(edge, inv_special)
{
    static const double v[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e-39, 2, -4};
    static const double e[] = {INFINITY, -INFINITY, 0, 0, NAN, INFINITY, 0.5, -0.25};
    check_edge_map("inv", mt_inv, v, e, (int)(sizeof v / sizeof v[0]), 0, 0);
    /* the sign of inv(-inf) is -0 */
    mt_tensor *a = mt_from_data(MT_DIMS(2), (const float[]){-INFINITY, INFINITY});
    mt_tensor *i = mt_inv(a);
    float got[2];
    cr_assert_eq(mt_copy_to(i, got, 2), MT_OK);
    cr_assert(got[0] == 0 && signbit(got[0]) && got[1] == 0 && !signbit(got[1]),
              "inv(-inf) = %g, inv(inf) = %g", (double)got[0], (double)got[1]);
    mt_release(i);
    mt_release(a);
}

Test(edge, relu_special)
{
    static const double v[] = {NAN, -INFINITY, INFINITY, -1, 1, -1e-30, 1e-30};
    static const double e[] = {NAN, 0, INFINITY, 0, 1, 0, 1e-30};
    check_edge_map("relu", mt_relu, v, e, (int)(sizeof v / sizeof v[0]), 0, 1e-7);
}

Test(edge, neg_copy_special)
{
    static const double v[] = {NAN, -INFINITY, INFINITY, 0.0, FLT_MAX, FLT_TRUE_MIN};
    static const double en[] = {NAN, INFINITY, -INFINITY, 0.0, -FLT_MAX, -FLT_TRUE_MIN};
    check_edge_map("neg", mt_neg, v, en, 6, 0, 0);
    check_edge_map("copy", mt_copy, v, v, 6, 0, 0);
}

/* Zip on explicit pairs, small and tiled large (both operands tiled, and b broadcast as a row). */
static void check_edge_zip(const char *name, mt_tensor *(*fn)(mt_tensor *, mt_tensor *),
                           const double *va, const double *vb, const double *expected, int count)
{
    char what[128];
    const int64_t n1[1] = {count};
    mt_tensor *a = t_tensor(NULL, 1, n1, va, 0), *b = t_tensor(NULL, 1, n1, vb, 0);
    mt_tensor *out = fn(a, b);
    snprintf(what, sizeof what, "%s edge pairs", name);
    t_expect_close(what, out, expected, 0, 0);
    mt_release(out);

    t_rng r = t_rng_seed(78);
    const int64_t rows = 9000, shape[2] = {rows, count};
    double *ta = malloc(sizeof(double) * (size_t)(rows * count));
    double *tb = malloc(sizeof(double) * (size_t)(rows * count));
    double *te = malloc(sizeof(double) * (size_t)(rows * count));
    cr_assert(ta && tb && te);
    for (int64_t i = 0; i < rows * count; i++) {
        ta[i] = va[i % count];
        tb[i] = vb[i % count];
        te[i] = expected[i % count];
    }
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *ba = t_tensor(&r, 2, shape, ta, layout), *bb = t_tensor(&r, 2, shape, tb, 2 - layout);
        out = fn(ba, bb);
        snprintf(what, sizeof what, "%s edge pairs tiled, layout %d", name, layout);
        t_expect_close(what, out, te, 0, 0);
        mt_release(out);
        out = fn(ba, b); /* b broadcast along the rows */
        snprintf(what, sizeof what, "%s edge pairs, b broadcast, layout %d", name, layout);
        t_expect_close(what, out, te, 0, 0);
        mt_release(out);
        mt_release(ba);
        mt_release(bb);
    }
    free(ta);
    free(tb);
    free(te);
    mt_release(a);
    mt_release(b);
}

Test(edge, nan_propagates_add)
{
    static const double a[] = {NAN, 1, NAN, INFINITY, INFINITY, -INFINITY, 0};
    static const double b[] = {1, NAN, NAN, -INFINITY, 1, -INFINITY, NAN};
    static const double e[] = {NAN, NAN, NAN, NAN, INFINITY, -INFINITY, NAN};
    check_edge_zip("add", mt_add, a, b, e, 7);
    static const double es[] = {NAN, NAN, NAN, INFINITY, INFINITY, NAN, NAN};
    check_edge_zip("sub", mt_sub, a, b, es, 7);
}

Test(edge, nan_propagates_mul)
{
    static const double a[] = {NAN, 2, NAN, 0, INFINITY, -INFINITY, 0};
    static const double b[] = {2, NAN, NAN, INFINITY, -2, -3, NAN};
    static const double e[] = {NAN, NAN, NAN, NAN, -INFINITY, INFINITY, NAN};
    check_edge_zip("mul", mt_mul, a, b, e, 7);
}

Test(edge, div_special)
{
    static const double a[] = {1, -1, 1, 0, NAN, INFINITY, 3};
    static const double b[] = {0, 0, -0.0, 0, 1, INFINITY, NAN};
    static const double e[] = {INFINITY, -INFINITY, -INFINITY, NAN, NAN, NAN, NAN};
    check_edge_zip("div", mt_div, a, b, e, 7);
}

Test(edge, comparisons_with_nan_and_signed_zero)
{
    static const double a[] = {NAN, 1, NAN, -0.0, INFINITY, -INFINITY};
    static const double b[] = {1, NAN, NAN, 0.0, INFINITY, 0};
    static const double lt[] = {0, 0, 0, 0, 0, 1};
    static const double gt[] = {0, 0, 0, 0, 0, 0};
    static const double eq[] = {0, 0, 0, 1, 1, 0};
    static const double close[] = {0, 0, 0, 1, 0, 0}; /* inf - inf is NaN: not close */
    check_edge_zip("lt", mt_lt, a, b, lt, 6);
    check_edge_zip("gt", mt_gt, a, b, gt, 6);
    check_edge_zip("eq", mt_eq, a, b, eq, 6);
    check_edge_zip("is_close", mt_is_close, a, b, close, 6);
}

Test(edge, nan_scalar_broadcasts)
{
    t_rng r = t_rng_seed(79);
    const int64_t shape[2] = {300, 500};
    double *v = t_random_values(&r, 150000, -1, 1), *e = malloc(sizeof(double) * 150000);
    cr_assert_not_null(e);
    for (int i = 0; i < 150000; i++) e[i] = NAN;
    mt_tensor *a = t_tensor(&r, 2, shape, v, 1);
    mt_tensor *s = mt_add_scalar(a, NAN), *m = mt_mul_scalar(a, NAN);
    t_expect_close("add_scalar(NaN)", s, e, 0, 0);
    t_expect_close("mul_scalar(NaN)", m, e, 0, 0);
    mt_release(s);
    mt_release(m);
    mt_release(a);
    free(v);
    free(e);
}

/* ---- mt_map_out / mt_zip_out ---- */

/* Every op of the public enums, by name: a test fails when the library lists an op that has no
 * oracle here (a row added to the op table without its test). */
#define N_UNARY 20
#define N_BINARY 11
/* p0, p1: the parameters mt_map_out_with passes (the ones the oracle uses) */
static const struct {
    const char *name;
    double (*oracle)(double);
    double rtol;
    int params;
    float p0, p1;
} UNARY_OPS[N_UNARY] = {
    {"neg", o_neg, 0, 0, 0, 0},           {"copy", o_id, 0, 0, 0, 0},
    {"sigmoid", o_sigmoid, 1e-6, 0, 0, 0}, {"relu", o_relu, 0, 0, 0, 0},
    {"log", o_log, 1e-6, 0, 0, 0},         {"exp", o_exp, 1e-6, 0, 0, 0},
    {"inv", o_inv, 1e-6, 0, 0, 0},         {"tanh", o_tanh, 1e-6, 0, 0, 0},
    {"sqrt", o_sqrt, 1e-6, 0, 0, 0},       {"rsqrt", o_rsqrt, 1e-6, 0, 0, 0},
    {"abs", o_abs, 0, 0, 0, 0},            {"sin", o_sin, 1e-6, 0, 0, 0},
    {"cos", o_cos, 1e-6, 0, 0, 0},         {"square", o_square, 1e-6, 0, 0, 0},
    {"gelu", o_gelu, 1e-5, 0, 0, 0},       {"silu", o_silu, 1e-6, 0, 0, 0},
    {"softplus", o_softplus, 1e-6, 0, 0, 0},
    {"leaky_relu", o_leaky_relu, 1e-7, 1, LEAKY_SLOPE, 0},
    {"clamp", o_clamp, 0, 2, CLAMP_LO, CLAMP_HI},
    {"pow_scalar", o_pow_scalar, 1e-6, 1, POW_EXPONENT, 0},
};
static const struct {
    const char *name;
    double (*oracle)(double, double);
    double rtol;
} BINARY_OPS[N_BINARY] = {{"add", o_add, 1e-6}, {"sub", o_sub, 1e-6}, {"mul", o_mul, 1e-6},
                          {"div", o_div, 1e-6}, {"lt", o_lt, 0},      {"gt", o_gt, 0},
                          {"eq", o_eq, 0},      {"is_close", o_is_close, 0},
                          {"pow", o_pow, 1e-6}, {"maximum", o_maximum, 0},
                          {"minimum", o_minimum, 0}};

/* mt_map_out for the ops without parameters, mt_map_out_with (with the oracle's parameters)
 * for the others. */
static mt_status map_out_op(mt_tensor *out, int op, const mt_tensor *a)
{
    if (UNARY_OPS[op].params == 0) return mt_map_out(out, (mt_unary_op)op, a);
    return mt_map_out_with(out, (mt_unary_op)op, a, UNARY_OPS[op].p0, UNARY_OPS[op].p1);
}

Test(out_ops, every_listed_op_has_an_oracle)
{
    int unary = 0, binary = 0, reduce = 0;
    for (; mt_unary_op_name((mt_unary_op)unary); unary++)
        cr_assert(unary < N_UNARY && strcmp(mt_unary_op_name((mt_unary_op)unary), UNARY_OPS[unary].name) == 0,
                  "unary op %d (%s) has no oracle in this test", unary, mt_unary_op_name((mt_unary_op)unary));
    for (; mt_binary_op_name((mt_binary_op)binary); binary++)
        cr_assert(binary < N_BINARY && strcmp(mt_binary_op_name((mt_binary_op)binary), BINARY_OPS[binary].name) == 0,
                  "binary op %d (%s) has no oracle in this test", binary, mt_binary_op_name((mt_binary_op)binary));
    while (mt_reduce_op_name((mt_reduce_op)reduce)) reduce++;
    cr_assert_eq(unary, N_UNARY);
    cr_assert_eq(binary, N_BINARY);
    cr_assert_eq(reduce, 4); /* sum, prod, max, min */
    cr_assert_null(mt_unary_op_name((mt_unary_op)-1));
    cr_assert_null(mt_binary_op_name((mt_binary_op)N_BINARY));
    cr_assert_null(mt_reduce_op_name((mt_reduce_op)4));
}

/* Inputs valid for every unary op: positive, away from relu's kink, in log's and inv's domain. */
static const gen UNARY_IN = UNIFORM(0.1, 5);
/* a: positive (log_back, inv_back, relu_back kink), in [0.1, 0.9] (a sigmoid output for
 * sigmoid_back); b: divisor in [0.5, 1.5]. Both on a 1/256 grid, so comparisons mix 0 and 1,
 * ties are exact and |a - b| is never near is_close's 0.01. */
static const gen BINARY_A = GRID(26, 230, 1.0 / 256);
static const gen BINARY_B = GRID(128, 384, 1.0 / 256);

/* A zero-filled output of logical shape (nd, shape) stored permuted (reversed dims). */
static mt_tensor *permuted_zeros(int nd, const int64_t *shape)
{
    int64_t stored[MT_MAX_DIMS];
    int order[MT_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        stored[i] = shape[nd - 1 - i];
        order[i] = nd - 1 - i;
    }
    mt_tensor *base = mt_zeros(nd, stored);
    mt_tensor *out = mt_permute(base, order);
    cr_assert_not_null(out, "permute: %s", mt_last_error());
    mt_release(base);
    cr_assert(!mt_is_contiguous(out));
    return out;
}

Test(map_out, all_ops_contiguous_permuted_and_broadcast_input)
{
    t_rng r = t_rng_seed(90);
    const int64_t shape[3] = {4, 3, 5};
    const int64_t small_shapes[3][3] = {{4, 3, 5}, {3, 1}, {5}};
    const int small_nd[3] = {3, 2, 1};
    for (int op = 0; op < N_UNARY; op++) {
        for (int s = 0; s < 3; s++) {
            for (int permuted = 0; permuted < 2; permuted++) {
                const int64_t *ss = small_shapes[s];
                double *v = gen_values(&r, t_numel(small_nd[s], ss), &UNARY_IN);
                mt_tensor *a = t_tensor(&r, small_nd[s], ss, v, t_rng_int(&r, 0, 2));
                mt_tensor *out = permuted ? permuted_zeros(3, shape) : mt_full(MT_DIMS(4, 3, 5), 7.0f);
                cr_assert_eq(map_out_op(out, op, a), MT_OK, "mt_map_out op %d: %s",
                             op, mt_last_error());
                t_expect_shape(out, 3, shape);
                double *e = t_oracle_map(3, shape, small_nd[s], ss, v, UNARY_OPS[op].oracle);
                char what[96];
                snprintf(what, sizeof what, "mt_map_out op %d input %d permuted out %d", op, s,
                         permuted);
                t_expect_close(what, out, e, 1e-7, UNARY_OPS[op].rtol);
                t_expect_close("a unchanged", a, v, 0, 0);
                free(e);
                free(v);
                mt_release(out);
                mt_release(a);
            }
        }
    }
}

Test(map_out, permuted_out_writes_through_to_storage)
{
    /* out is the transpose of `base`: base must then hold the result transposed */
    mt_tensor *base = mt_zeros(MT_DIMS(3, 2));
    mt_tensor *out = mt_transpose(base, 0, 1);
    mt_tensor *a = mt_from_data(MT_DIMS(2, 3), (const float[]){1, 2, 3, 4, 5, 6});
    cr_assert_eq(mt_map_out(out, MT_OP_NEG, a), MT_OK, "%s", mt_last_error());
    t_expect_close("out", out, (const double[]){-1, -2, -3, -4, -5, -6}, 0, 0);
    t_expect_close("base", base, (const double[]){-1, -4, -2, -5, -3, -6}, 0, 0);
    mt_release(a);
    mt_release(out);
    mt_release(base);
}

Test(map_out, in_place_every_op_and_layout)
{
    t_rng r = t_rng_seed(91);
    for (int op = 0; op < N_UNARY; op++) {
        for (int layout = 0; layout < 3; layout++) {
            const int64_t shape[3] = {3, 4, 5};
            double *v = gen_values(&r, 60, &UNARY_IN);
            mt_tensor *a = t_tensor(&r, 3, shape, v, layout);
            cr_assert_eq(map_out_op(a, op, a), MT_OK, "in place op %d: %s", op,
                         mt_last_error());
            double *e = t_oracle_map(3, shape, 3, shape, v, UNARY_OPS[op].oracle);
            t_expect_close("in-place map", a, e, 1e-7, UNARY_OPS[op].rtol);
            free(e);
            free(v);
            mt_release(a);
        }
    }
}

Test(map_out, large_permuted_out_broadcast_input)
{
    t_rng r = t_rng_seed(92);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    const int64_t shape[2] = {3, 70000}, row[1] = {70000};
    double *v = gen_values(&r, 70000, &UNARY_IN);
    mt_tensor *a = t_tensor(&r, 1, row, v, 2);
    for (int op = 0; op < N_UNARY; op++) {
        mt_tensor *out = permuted_zeros(2, shape);
        cr_assert_eq(map_out_op(out, op, a), MT_OK, "%s", mt_last_error());
        double *e = t_oracle_map(2, shape, 1, row, v, UNARY_OPS[op].oracle);
        t_expect_close("large mt_map_out", out, e, 1e-7, UNARY_OPS[op].rtol);
        free(e);
        mt_release(out);
    }
    free(v);
    mt_release(a);
    mt_set_num_threads(0);
}

Test(zip_out, all_ops_contiguous_permuted_and_larger_out)
{
    t_rng r = t_rng_seed(93);
    /* a (4,1,5) with b (3,1) -> (4,3,5); a (3,1) with b (5) into a larger out (2,3,5) */
    const int64_t out_shapes[2][3] = {{4, 3, 5}, {2, 3, 5}};
    const int64_t a_shapes[2][3] = {{4, 1, 5}, {3, 1}}, b_shapes[2][3] = {{3, 1}, {5}};
    const int a_nd[2] = {3, 2}, b_nd[2] = {2, 1};
    for (int op = 0; op < N_BINARY; op++) {
        for (int k = 0; k < 2; k++) {
            for (int permuted = 0; permuted < 2; permuted++) {
                double *va = gen_values(&r, t_numel(a_nd[k], a_shapes[k]), &BINARY_A);
                double *vb = gen_values(&r, t_numel(b_nd[k], b_shapes[k]), &BINARY_B);
                mt_tensor *a = t_tensor(&r, a_nd[k], a_shapes[k], va, t_rng_int(&r, 0, 2));
                mt_tensor *b = t_tensor(&r, b_nd[k], b_shapes[k], vb, t_rng_int(&r, 0, 2));
                mt_tensor *out = permuted ? permuted_zeros(3, out_shapes[k])
                                          : mt_full(3, out_shapes[k], 7.0f);
                cr_assert_eq(mt_zip_out(out, (mt_binary_op)op, a, b), MT_OK,
                             "mt_zip_out op %d case %d: %s", op, k, mt_last_error());
                t_expect_shape(out, 3, out_shapes[k]);
                double *e = t_oracle_zip(3, out_shapes[k], a_nd[k], a_shapes[k], va, b_nd[k],
                                         b_shapes[k], vb, BINARY_OPS[op].oracle);
                char what[96];
                snprintf(what, sizeof what, "mt_zip_out op %d case %d permuted out %d", op, k,
                         permuted);
                t_expect_close(what, out, e, 1e-7, BINARY_OPS[op].rtol);
                free(e);
                free(va);
                free(vb);
                mt_release(out);
                mt_release(a);
                mt_release(b);
            }
        }
    }
}

Test(zip_out, in_place_out_is_a_or_b)
{
    t_rng r = t_rng_seed(94);
    const int64_t shape[3] = {3, 4, 5}, bshape[2] = {4, 1};
    for (int op = 0; op < N_BINARY; op++) {
        for (int layout = 0; layout < 3; layout++) {
            /* out == a, b broadcast */
            double *va = gen_values(&r, 60, &BINARY_A), *vb = gen_values(&r, 4, &BINARY_B);
            mt_tensor *a = t_tensor(&r, 3, shape, va, layout), *b = t_tensor(&r, 2, bshape, vb, 0);
            cr_assert_eq(mt_zip_out(a, (mt_binary_op)op, a, b), MT_OK, "op %d: %s", op,
                         mt_last_error());
            double *e = t_oracle_zip(3, shape, 3, shape, va, 2, bshape, vb, BINARY_OPS[op].oracle);
            t_expect_close("in place (out == a)", a, e, 1e-7, BINARY_OPS[op].rtol);
            t_expect_close("b unchanged", b, vb, 0, 0);
            free(e);
            mt_release(a);
            mt_release(b);
            free(va);
            free(vb);

            /* out == b, a of the same shape */
            va = gen_values(&r, 60, &BINARY_A);
            vb = gen_values(&r, 60, &BINARY_B);
            a = t_tensor(&r, 3, shape, va, (layout + 1) % 3);
            b = t_tensor(&r, 3, shape, vb, layout);
            cr_assert_eq(mt_zip_out(b, (mt_binary_op)op, a, b), MT_OK, "op %d: %s", op,
                         mt_last_error());
            e = t_oracle_zip(3, shape, 3, shape, va, 3, shape, vb, BINARY_OPS[op].oracle);
            t_expect_close("in place (out == b)", b, e, 1e-7, BINARY_OPS[op].rtol);
            free(e);
            mt_release(a);
            mt_release(b);
            free(va);
            free(vb);
        }
    }
}

Test(zip_out, in_place_same_tensor_three_times)
{
    mt_tensor *a = mt_from_data(MT_DIMS(2, 2), (const float[]){1, -2, 3, 0.5f});
    cr_assert_eq(mt_zip_out(a, MT_OP_MUL, a, a), MT_OK, "%s", mt_last_error());
    t_expect_close("a*a in place", a, (const double[]){1, 4, 9, 0.25}, 0, 0);
    mt_release(a);
}

Test(zip_out, large_in_place_permuted)
{
    t_rng r = t_rng_seed(95);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    const int64_t shape[2] = {70000, 3}, bshape[2] = {70000, 1};
    double *va = gen_values(&r, 210000, &BINARY_A), *vb = gen_values(&r, 70000, &BINARY_B);
    mt_tensor *a = t_tensor(&r, 2, shape, va, 1), *b = t_tensor(&r, 2, bshape, vb, 2);
    cr_assert_eq(mt_zip_out(a, MT_OP_DIV, a, b), MT_OK, "%s", mt_last_error());
    double *e = t_oracle_zip(2, shape, 2, shape, va, 2, bshape, vb, o_div);
    t_expect_close("large in-place div", a, e, 0, 1e-6);
    free(e);
    /* into a permuted output, b broadcast from a (3) row, a from a (70000,1) column */
    const int64_t row[1] = {3};
    double *vr = gen_values(&r, 3, &BINARY_B);
    mt_tensor *rt = t_tensor(&r, 1, row, vr, 0);
    mt_tensor *out = permuted_zeros(2, shape);
    cr_assert_eq(mt_zip_out(out, MT_OP_SUB, b, rt), MT_OK, "%s", mt_last_error());
    e = t_oracle_zip(2, shape, 2, bshape, vb, 1, row, vr, o_sub);
    t_expect_close("large permuted-out sub", out, e, 0, 1e-6);
    free(e);
    free(vr);
    mt_release(rt);
    mt_release(out);
    free(va);
    free(vb);
    mt_release(a);
    mt_release(b);
    mt_set_num_threads(0);
}

/* ---- errors of the _out functions (nothing is written when they fail) ---- */

Test(out_errors, shape_mismatch)
{
    mt_clear_error();
    mt_tensor *out = mt_full(MT_DIMS(3, 4), 9.0f);
    mt_tensor *a35 = mt_ones(MT_DIMS(3, 5)), *a234 = mt_ones(MT_DIMS(2, 3, 4)),
              *a4 = mt_ones(MT_DIMS(4)), *a3 = mt_ones(MT_DIMS(3)), *o31 = mt_full(MT_DIMS(3, 1), 9.0f);

    cr_assert_eq(mt_map_out(out, MT_OP_NEG, a35), MT_ERR_BROADCAST);
    t_expect_error(MT_ERR_BROADCAST, "mt_map_out");
    mt_clear_error();
    cr_assert_eq(mt_map_out(out, MT_OP_NEG, a234), MT_ERR_BROADCAST); /* a larger than out */
    t_expect_error(MT_ERR_BROADCAST, "mt_map_out");
    mt_clear_error();
    cr_assert_eq(mt_map_out(o31, MT_OP_NEG, a4), MT_ERR_BROADCAST); /* a (4) -> out (3,1) */
    t_expect_error(MT_ERR_BROADCAST, "mt_map_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a35, a4), MT_ERR_BROADCAST); /* a, b incompatible */
    t_expect_error(MT_ERR_BROADCAST, "mt_zip_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a3, a4), MT_ERR_BROADCAST); /* (3) with (4) */
    t_expect_error(MT_ERR_BROADCAST, "mt_zip_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a234, a4), MT_ERR_BROADCAST); /* out too small */
    t_expect_error(MT_ERR_BROADCAST, "mt_zip_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a35, a35), MT_ERR_BROADCAST); /* (3,5) into (3,4) */
    t_expect_error(MT_ERR_BROADCAST, "mt_zip_out");
    t_expect_filled("out unchanged after a failed call", out, 9.0f);
    t_expect_filled("out unchanged after a failed call", o31, 9.0f);
    mt_tensor *all[] = {out, a35, a234, a4, a3, o31};
    for (int i = 0; i < 6; i++) mt_release(all[i]);
}

Test(out_errors, expanded_out)
{
    mt_clear_error();
    mt_tensor *base = mt_full(MT_DIMS(1, 4), 9.0f);
    mt_tensor *out = mt_expand(base, MT_DIMS(3, 4));
    mt_tensor *a = mt_ones(MT_DIMS(3, 4));
    cr_assert_not_null(out);
    cr_assert_eq(mt_map_out(out, MT_OP_NEG, a), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_map_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a, a), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_zip_out");
    t_expect_filled("out unchanged after a failed call", base, 9.0f);
    mt_release(a);
    mt_release(out);
    mt_release(base);
}

Test(out_errors, partial_overlap)
{
    mt_clear_error();
    mt_tensor *big = mt_full(MT_DIMS(3, 6), 9.0f);
    mt_tensor *out = mt_narrow(big, 1, 0, 4), *a = mt_narrow(big, 1, 2, 4);
    mt_tensor *other = mt_ones(MT_DIMS(3, 4));
    cr_assert_eq(mt_map_out(out, MT_OP_NEG, a), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_map_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, other, a), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_zip_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a, other), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_zip_out");
    t_expect_filled("out unchanged after a failed call", big, 9.0f);

    /* the same storage and offset with other strides (a transposed view) also overlaps */
    mt_clear_error();
    mt_tensor *sq = mt_full(MT_DIMS(4, 4), 9.0f);
    mt_tensor *tr = mt_transpose(sq, 0, 1);
    cr_assert_eq(mt_map_out(tr, MT_OP_NEG, sq), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_map_out");
    t_expect_filled("out unchanged after a failed call", sq, 9.0f);
    mt_tensor *all[] = {big, out, a, other, sq, tr};
    for (int i = 0; i < 6; i++) mt_release(all[i]);
}

Test(out_errors, bad_op_enum)
{
    mt_clear_error();
    mt_tensor *out = mt_full(MT_DIMS(2, 2), 9.0f), *a = mt_ones(MT_DIMS(2, 2));
    const int bad_unary[] = {N_UNARY, 99, -1};
    for (int i = 0; i < 3; i++) {
        mt_clear_error();
        cr_assert_eq(mt_map_out(out, (mt_unary_op)bad_unary[i], a), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_map_out");
    }
    const int bad_binary[] = {N_BINARY, 1000, -1};
    for (int i = 0; i < 3; i++) {
        mt_clear_error();
        cr_assert_eq(mt_zip_out(out, (mt_binary_op)bad_binary[i], a, a), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_zip_out");
    }
    t_expect_filled("out unchanged after a failed call", out, 9.0f);
    mt_release(out);
    mt_release(a);
}

Test(out_errors, null_arguments)
{
    mt_clear_error();
    mt_tensor *out = mt_full(MT_DIMS(2, 2), 9.0f), *a = mt_ones(MT_DIMS(2, 2));
    mt_clear_error();
    cr_assert_eq(mt_map_out(NULL, MT_OP_NEG, a), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_map_out");
    mt_clear_error();
    cr_assert_eq(mt_map_out(out, MT_OP_NEG, NULL), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_map_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(NULL, MT_OP_ADD, a, a), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_zip_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, NULL, a), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_zip_out");
    mt_clear_error();
    cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a, NULL), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_zip_out");
    t_expect_filled("out unchanged after a failed call", out, 9.0f);
    mt_release(out);
    mt_release(a);
}

/* ---- errors of the operations ---- */

Test(errors, zip_incompatible_broadcast)
{
    mt_clear_error();
    mt_tensor *a = mt_ones(MT_DIMS(2, 3)), *b = mt_ones(MT_DIMS(4)), *c = mt_ones(MT_DIMS(3, 2, 2));
    static const char *const fns[] = {"mt_add", "mt_sub", "mt_mul", "mt_div", "mt_lt", "mt_gt",
                                      "mt_eq", "mt_is_close", "mt_relu_back", "mt_log_back",
                                      "mt_inv_back", "mt_pow", "mt_maximum", "mt_minimum"};
    cr_assert_eq(sizeof fns / sizeof fns[0], (size_t)ZIP_CASE_COUNT);
    for (int i = 0; i < ZIP_CASE_COUNT; i++) {
        mt_clear_error();
        cr_assert_null(ZIP_CASES[i].fn(a, b), "%s accepted (2,3) with (4)", fns[i]);
        t_expect_error(MT_ERR_BROADCAST, fns[i]);
        mt_clear_error();
        cr_assert_null(ZIP_CASES[i].fn(b, a), "%s accepted (4) with (2,3)", fns[i]);
        t_expect_error(MT_ERR_BROADCAST, fns[i]);
        mt_clear_error();
        cr_assert_null(ZIP_CASES[i].fn(c, a), "%s accepted (3,2,2) with (2,3)", fns[i]);
        t_expect_error(MT_ERR_BROADCAST, fns[i]);
    }
    mt_release(a);
    mt_release(b);
    mt_release(c);
}

Test(errors, null_operands)
{
    mt_clear_error();
    mt_tensor *a = mt_ones(MT_DIMS(2, 3));
    static const char *const map_fns[] = {
        "mt_neg",  "mt_copy", "mt_sigmoid", "mt_relu", "mt_log",    "mt_exp",        "mt_inv",
        "mt_tanh", "mt_sqrt", "mt_rsqrt",   "mt_abs",  "mt_sin",    "mt_cos",        "mt_square",
        "mt_gelu", "mt_silu", "mt_softplus", "mt_leaky_relu", "mt_clamp", "mt_pow_scalar"};
    cr_assert_eq(sizeof map_fns / sizeof map_fns[0], (size_t)MAP_CASE_COUNT);
    for (int i = 0; i < MAP_CASE_COUNT; i++) {
        mt_clear_error();
        cr_assert_null(MAP_CASES[i].fn(NULL));
        t_expect_error(MT_ERR_NULL, map_fns[i]);
    }
    static const char *const zip_fns[] = {"mt_add", "mt_sub", "mt_mul", "mt_div", "mt_lt", "mt_gt",
                                          "mt_eq", "mt_is_close", "mt_relu_back", "mt_log_back",
                                          "mt_inv_back", "mt_pow", "mt_maximum", "mt_minimum"};
    cr_assert_eq(sizeof zip_fns / sizeof zip_fns[0], (size_t)ZIP_CASE_COUNT);
    for (int i = 0; i < ZIP_CASE_COUNT; i++) {
        mt_clear_error();
        cr_assert_null(ZIP_CASES[i].fn(NULL, a));
        t_expect_error(MT_ERR_NULL, zip_fns[i]);
        mt_clear_error();
        cr_assert_null(ZIP_CASES[i].fn(a, NULL));
        t_expect_error(MT_ERR_NULL, zip_fns[i]);
        mt_clear_error();
        cr_assert_null(ZIP_CASES[i].fn(NULL, NULL));
        t_expect_error(MT_ERR_NULL, zip_fns[i]);
    }
    static const char *const scalar_fns[] = {"mt_add_scalar", "mt_sub_scalar", "mt_rsub_scalar",
                                             "mt_mul_scalar", "mt_div_scalar", "mt_rdiv_scalar",
                                             "mt_lt_scalar",  "mt_gt_scalar",  "mt_eq_scalar"};
    for (int i = 0; i < SCALAR_CASE_COUNT; i++) {
        mt_clear_error();
        cr_assert_null(SCALAR_CASES[i].fn(NULL, 1.0f));
        t_expect_error(MT_ERR_NULL, scalar_fns[i]);
    }
    mt_release(a);
}

Test(errors, first_failure_in_a_chain_is_reported)
{
    mt_clear_error();
    mt_tensor *a = mt_ones(MT_DIMS(2, 3)), *b = mt_ones(MT_DIMS(5));
    cr_assert_null(mt_sigmoid(mt_exp(mt_add(a, b))));
    t_expect_error(MT_ERR_BROADCAST, "mt_add");
    mt_release(a);
    mt_release(b);
}
