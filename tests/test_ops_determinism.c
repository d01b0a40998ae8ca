/* Bitwise determinism of the forward elementwise operations and reductions: on large inputs
 * (>= 1M elements; contiguous, permuted, narrowed and broadcast operands), the result computed
 * with mt_set_num_threads(1), (2) and (3), on the naive and on the blas backend (which share these
 * kernels), is the same bit for bit (memcmp of mt_copy_to's output). The trace shows how many
 * threads each run used: never more than requested, and each test must have cases that really ran
 * on several threads, so the comparison is between genuinely different parallel splits. (That
 * every large reduction uses several threads is checked in test_ops_reduce.c.) Correctness of the
 * values is checked in test_ops_elementwise.c and test_ops_reduce.c; here only reproducibility. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

typedef enum det_kind { D_MAP, D_ZIP, D_SCALAR, D_REDUCE, D_ALL } det_kind;

typedef struct det_ctx {
    det_kind kind;
    mt_tensor *(*map)(mt_tensor *);
    mt_tensor *(*zip)(mt_tensor *, mt_tensor *);
    mt_tensor *(*scalar)(mt_tensor *, float);
    mt_tensor *(*reduce)(mt_tensor *, int);
    mt_tensor *(*all)(mt_tensor *);
    mt_tensor *a, *b;
    float s;
    int dim;
} det_ctx;

static mt_tensor *det_compute(const det_ctx *c)
{
    switch (c->kind) {
    case D_MAP: return c->map(c->a);
    case D_ZIP: return c->zip(c->a, c->b);
    case D_SCALAR: return c->scalar(c->a, c->s);
    case D_REDUCE: return c->reduce(c->a, c->dim);
    default: return c->all(c->a);
    }
}

/* Runs the computation on both backends with 1, 2 and 3 threads; every result must equal the
 * first bit for bit. Returns the most threads the `trace_op` kernel used in any run (each test
 * requires that some of its cases really ran multi-threaded; whether every large kernel does is
 * checked in test_ops_reduce.c). */
static int expect_deterministic(const char *what, const char *trace_op, const det_ctx *c)
{
    int most = 0;
    float *ref = NULL;
    int64_t n = 0;
    mt_backend saved = mt_get_backend();
    for (int backend = 0; backend < 2; backend++) {
        t_use_backend(backend);
        for (int threads = 1; threads <= 3; threads++) {
            cr_assert_eq(mt_set_num_threads(threads), MT_OK);
            cr_assert_eq(mt_get_num_threads(), threads);
            t_trace tr;
            t_trace_begin(&tr);
            mt_tensor *out = det_compute(c);
            char *text = t_trace_end(&tr);
            cr_assert_not_null(out, "%s: NULL: %s", what, mt_last_error());
            int used = t_trace_max_threads(text, trace_op);
            free(text);
            cr_assert(used >= 1 && used <= threads,
                      "%s (%s, %d threads): the %s kernel reports %d threads", what,
                      backend ? "blas" : "naive", threads, trace_op, used);
            if (used > most) most = used;
            float *got = t_floats(out);
            if (!ref) {
                ref = got;
                n = mt_numel(out);
            } else {
                cr_assert_eq(mt_numel(out), n);
                if (memcmp(ref, got, sizeof(float) * (size_t)n) != 0) {
                    int64_t i = 0;
                    while (memcmp(&ref[i], &got[i], sizeof(float)) == 0) i++;
                    cr_assert_fail("%s: %s with %d threads differs from naive with 1 thread at "
                                   "element %lld: %.9g vs %.9g",
                                   what, backend ? "blas" : "naive", threads, (long long)i,
                                   (double)got[i], (double)ref[i]);
                }
                free(got);
            }
            mt_release(out);
        }
    }
    free(ref);
    mt_set_backend(saved);
    mt_set_num_threads(0);
    return most;
}

static int imax(int a, int b) { return a > b ? a : b; }

static void expect_some_parallel(const char *name, int most)
{
    cr_assert_geq(most, 2, "%s: no case ran on several threads (max %d)", name, most);
}

/* ---- inputs ---- */

static const int64_t SQUARE[2] = {1024, 1024}; /* 1,048,576 elements */

/* The operands for the elementwise tests, each of logical shape SQUARE: layout 0, 1, 2 and an
 * expanded (1024,1) column (zero strides). */
typedef struct operands {
    mt_tensor *t[4];
} operands;
static const char *const LAYOUT_NAMES[4] = {"contiguous", "permuted", "narrowed", "expanded"};

static operands make_operands(t_rng *r, double lo, double hi)
{
    operands o;
    double *v = t_random_values(r, t_numel(2, SQUARE), lo, hi);
    for (int layout = 0; layout < 3; layout++) o.t[layout] = t_tensor(r, 2, SQUARE, v, layout);
    free(v);
    const int64_t col[2] = {1024, 1};
    double *cv = t_random_values(r, 1024, lo, hi), *ev;
    o.t[3] = t_expanded_tensor(r, 2, SQUARE, 2, col, cv, 1, &ev);
    free(cv);
    free(ev);
    return o;
}

static void free_operands(operands *o)
{
    for (int i = 0; i < 4; i++) mt_release(o->t[i]);
}

/* ---- map ---- */

static void check_map(const char *name, const char *trace, mt_tensor *(*fn)(mt_tensor *), double lo,
                      double hi, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    operands o = make_operands(&r, lo, hi);
    int most = 0;
    for (int layout = 0; layout < 4; layout++) {
        det_ctx c = {.kind = D_MAP, .map = fn, .a = o.t[layout]};
        char what[96];
        snprintf(what, sizeof what, "%s of a %s 1024x1024", name, LAYOUT_NAMES[layout]);
        most = imax(most, expect_deterministic(what, trace, &c));
    }
    free_operands(&o);
    expect_some_parallel(name, most);
}

Test(determinism, map_neg) { check_map("neg", "neg", mt_neg, -10, 10, 1); }
Test(determinism, map_copy) { check_map("copy", "copy", mt_copy, -10, 10, 2); }
Test(determinism, map_sigmoid) { check_map("sigmoid", "sigmoid", mt_sigmoid, -12, 12, 3); }
Test(determinism, map_tanh) { check_map("tanh", "tanh", mt_tanh, -12, 12, 30); }
Test(determinism, map_relu) { check_map("relu", "relu", mt_relu, -10, 10, 4); }
Test(determinism, map_log) { check_map("log", "log", mt_log, 0.05, 20, 5); }
Test(determinism, map_exp) { check_map("exp", "exp", mt_exp, -10, 10, 6); }
Test(determinism, map_inv) { check_map("inv", "inv", mt_inv, 0.05, 20, 7); }

/* ---- zip ---- */

static void check_zip(const char *name, const char *trace, mt_tensor *(*fn)(mt_tensor *, mt_tensor *),
                      double alo, double ahi, double blo, double bhi, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    operands a = make_operands(&r, alo, ahi), b = make_operands(&r, blo, bhi);
    /* broadcast partners for b: a (1024) row and a (1024,1) column */
    double *rv = t_random_values(&r, 1024, blo, bhi);
    mt_tensor *row = t_tensor(&r, 1, (const int64_t[]){1024}, rv, 2);
    mt_tensor *col = t_tensor(&r, 2, (const int64_t[]){1024, 1}, rv, 0);
    free(rv);
    static const int pairs[][2] = {{0, 0}, {1, 2}, {2, 1}, {1, 1}, {0, 3}, {3, 1}};
    int most = 0;
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        det_ctx c = {.kind = D_ZIP, .zip = fn, .a = a.t[pairs[k][0]], .b = b.t[pairs[k][1]]};
        char what[128];
        snprintf(what, sizeof what, "%s of %s and %s 1024x1024", name, LAYOUT_NAMES[pairs[k][0]],
                 LAYOUT_NAMES[pairs[k][1]]);
        most = imax(most, expect_deterministic(what, trace, &c));
    }
    for (int order = 0; order < 2; order++) {
        mt_tensor *small[2] = {row, col};
        for (int s = 0; s < 2; s++) {
            det_ctx c = {.kind = D_ZIP, .zip = fn};
            /* the broadcast operand second, then first (its values come from b's range) */
            if (order == 0) {
                c.a = a.t[1];
                c.b = small[s];
            } else {
                c.a = s ? col : row;
                c.b = b.t[1];
            }
            char what[128];
            snprintf(what, sizeof what, "%s with a broadcast %s, %s", name, s ? "column" : "row",
                     order ? "first" : "second");
            most = imax(most, expect_deterministic(what, trace, &c));
        }
    }
    mt_release(row);
    mt_release(col);
    free_operands(&a);
    free_operands(&b);
    expect_some_parallel(name, most);
}

Test(determinism, zip_add) { check_zip("add", "add", mt_add, -10, 10, -10, 10, 11); }
Test(determinism, zip_sub) { check_zip("sub", "sub", mt_sub, -10, 10, -10, 10, 12); }
Test(determinism, zip_mul) { check_zip("mul", "mul", mt_mul, -10, 10, -10, 10, 13); }
Test(determinism, zip_div) { check_zip("div", "div", mt_div, -10, 10, 0.5, 5, 14); }
Test(determinism, zip_lt) { check_zip("lt", "lt", mt_lt, -3, 3, -3, 3, 15); }
Test(determinism, zip_gt) { check_zip("gt", "gt", mt_gt, -3, 3, -3, 3, 16); }
Test(determinism, zip_eq) { check_zip("eq", "eq", mt_eq, -3, 3, -3, 3, 17); }
Test(determinism, zip_is_close) { check_zip("is_close", "is_close", mt_is_close, -0.05, 0.05, -0.05, 0.05, 18); }
Test(determinism, zip_relu_back) { check_zip("relu_back", "relu_grad", mt_relu_back, -5, 5, -5, 5, 19); }
Test(determinism, zip_log_back) { check_zip("log_back", "log_grad", mt_log_back, 0.1, 10, -5, 5, 20); }
Test(determinism, zip_inv_back) { check_zip("inv_back", "inv_grad", mt_inv_back, 0.1, 10, -5, 5, 21); }

/* The math functions and activations (parameterised ones with fixed parameters). */
static mt_tensor *leaky_relu_01(mt_tensor *a) { return mt_leaky_relu(a, 0.1f); }
static mt_tensor *clamp_m1_1(mt_tensor *a) { return mt_clamp(a, -1.0f, 1.0f); }
static mt_tensor *pow_scalar_15(mt_tensor *a) { return mt_pow_scalar(a, 1.5f); }
Test(determinism, map_sqrt) { check_map("sqrt", "sqrt", mt_sqrt, 0, 20, 40); }
Test(determinism, map_rsqrt) { check_map("rsqrt", "rsqrt", mt_rsqrt, 0.05, 20, 41); }
Test(determinism, map_abs) { check_map("abs", "abs", mt_abs, -10, 10, 42); }
Test(determinism, map_sin) { check_map("sin", "sin", mt_sin, -20, 20, 43); }
Test(determinism, map_cos) { check_map("cos", "cos", mt_cos, -20, 20, 44); }
Test(determinism, map_square) { check_map("square", "square", mt_square, -10, 10, 45); }
Test(determinism, map_gelu) { check_map("gelu", "gelu", mt_gelu, -8, 8, 46); }
Test(determinism, map_silu) { check_map("silu", "silu", mt_silu, -12, 12, 47); }
Test(determinism, map_softplus) { check_map("softplus", "softplus", mt_softplus, -30, 30, 48); }
Test(determinism, map_leaky_relu) { check_map("leaky_relu", "leaky_relu", leaky_relu_01, -10, 10, 49); }
Test(determinism, map_clamp) { check_map("clamp", "clamp", clamp_m1_1, -3, 3, 50); }
Test(determinism, map_pow_scalar) { check_map("pow_scalar", "pow_scalar", pow_scalar_15, 0.05, 20, 51); }
Test(determinism, zip_pow) { check_zip("pow", "pow", mt_pow, 0.05, 10, -3, 3, 52); }
Test(determinism, zip_maximum) { check_zip("maximum", "maximum", mt_maximum, -3, 3, -3, 3, 53); }
Test(determinism, zip_minimum) { check_zip("minimum", "minimum", mt_minimum, -3, 3, -3, 3, 54); }

/* The three-input kernel: where (a condition from a comparison, so both sides are chosen) and
 * the gradient kernels of pow, maximum and minimum, through a backward pass on leaf aliases. */
static mt_tensor *where_lt(mt_tensor *a, mt_tensor *b)
{
    mt_tensor *condition = mt_lt(a, b);
    mt_tensor *result = mt_where(condition, a, b);
    mt_release(condition);
    return result;
}

static mt_tensor *grad_of_first(mt_tensor *(*fn)(mt_tensor *, mt_tensor *), mt_tensor *a,
                                mt_tensor *b, bool of_b)
{
    mt_scope scope = mt_scope_begin();
    mt_tensor *x = mt_detach(a), *y = mt_detach(b);
    mt_set_requires_grad(x, true);
    mt_set_requires_grad(y, true);
    mt_tensor *g = NULL;
    if (mt_backward(mt_sum_all(fn(x, y))) == MT_OK) g = mt_retain(mt_grad(of_b ? y : x));
    mt_scope_end(scope);
    return g;
}
static mt_tensor *pow_grad_a(mt_tensor *a, mt_tensor *b) { return grad_of_first(mt_pow, a, b, false); }
static mt_tensor *pow_grad_b(mt_tensor *a, mt_tensor *b) { return grad_of_first(mt_pow, a, b, true); }
static mt_tensor *maximum_grad_b(mt_tensor *a, mt_tensor *b) { return grad_of_first(mt_maximum, a, b, true); }
static mt_tensor *minimum_grad_a(mt_tensor *a, mt_tensor *b) { return grad_of_first(mt_minimum, a, b, false); }
Test(determinism, zip3_where) { check_zip("where", "where", where_lt, -3, 3, -3, 3, 55); }
Test(determinism, zip3_pow_grad_base) { check_zip("pow grad a", "pow_grad_base", pow_grad_a, 0.05, 10, -3, 3, 56); }
Test(determinism, zip3_pow_grad_exponent) { check_zip("pow grad b", "pow_grad_exponent", pow_grad_b, 0.05, 10, -3, 3, 57); }
Test(determinism, zip3_maximum_grad) { check_zip("maximum grad b", "maximum_grad", maximum_grad_b, -3, 3, -3, 3, 58); }
Test(determinism, zip3_minimum_grad) { check_zip("minimum grad a", "minimum_grad", minimum_grad_a, -3, 3, -3, 3, 59); }

/* ---- scalar forms ---- */

static void check_scalar(const char *name, const char *trace, mt_tensor *(*fn)(mt_tensor *, float),
                         double lo, double hi, float s, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    operands o = make_operands(&r, lo, hi);
    int most = 0;
    for (int layout = 0; layout < 4; layout++) {
        det_ctx c = {.kind = D_SCALAR, .scalar = fn, .a = o.t[layout], .s = s};
        char what[96];
        snprintf(what, sizeof what, "%s of a %s 1024x1024", name, LAYOUT_NAMES[layout]);
        most = imax(most, expect_deterministic(what, trace, &c));
    }
    free_operands(&o);
    expect_some_parallel(name, most);
}

Test(determinism, add_scalar) { check_scalar("add_scalar", "add", mt_add_scalar, -10, 10, 0.3f, 31); }
Test(determinism, sub_scalar) { check_scalar("sub_scalar", "sub", mt_sub_scalar, -10, 10, 0.3f, 32); }
Test(determinism, rsub_scalar) { check_scalar("rsub_scalar", "sub", mt_rsub_scalar, -10, 10, 0.3f, 33); }
Test(determinism, mul_scalar) { check_scalar("mul_scalar", "mul", mt_mul_scalar, -10, 10, 0.3f, 34); }
Test(determinism, div_scalar) { check_scalar("div_scalar", "div", mt_div_scalar, -10, 10, 0.3f, 35); }
Test(determinism, rdiv_scalar) { check_scalar("rdiv_scalar", "div", mt_rdiv_scalar, 0.1, 10, 0.3f, 36); }
Test(determinism, lt_scalar) { check_scalar("lt_scalar", "lt", mt_lt_scalar, -3, 3, 0.3f, 37); }
Test(determinism, gt_scalar) { check_scalar("gt_scalar", "gt", mt_gt_scalar, -3, 3, 0.3f, 38); }
Test(determinism, eq_scalar) { check_scalar("eq_scalar", "eq", mt_eq_scalar, -3, 3, 0.5f, 39); }

/* ---- reductions over each dim ---- */

static void check_reduce(const char *name, const char *trace, mt_tensor *(*fn)(mt_tensor *, int),
                         double lo, double hi, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    /* 2048x2048 contiguous and permuted; a 3-D (64,128,160) narrowed; an expanded 2048x2048 */
    const int64_t big[2] = {2048, 2048}, cube[3] = {64, 128, 160}, rowshape[2] = {1, 2048};
    double *v = t_random_values(&r, t_numel(2, big), lo, hi);
    mt_tensor *inputs[5];
    inputs[0] = t_tensor(&r, 2, big, v, 0);
    inputs[1] = t_tensor(&r, 2, big, v, 1);
    free(v);
    v = t_random_values(&r, t_numel(3, cube), lo, hi);
    inputs[2] = t_tensor(&r, 3, cube, v, 2);
    free(v);
    double *rv = t_random_values(&r, 2048, lo, hi), *ev;
    inputs[3] = t_expanded_tensor(&r, 2, big, 2, rowshape, rv, 0, &ev);
    free(rv);
    free(ev);
    /* (2, 600000): over dim 1 two long rows, which 3 threads split into chunks and 1 or 2 threads
     * reduce whole (different code paths must give the same bits) */
    const int64_t wide[2] = {2, 600000};
    v = t_random_values(&r, t_numel(2, wide), lo, hi);
    inputs[4] = t_tensor(&r, 2, wide, v, 0);
    free(v);
    static const char *const names[5] = {"contiguous 2048x2048", "permuted 2048x2048",
                                         "narrowed 64x128x160", "expanded 2048x2048",
                                         "contiguous 2x600000"};
    int most = 0;
    for (int k = 0; k < 5; k++) {
        int nd = mt_ndim(inputs[k]);
        for (int dim = -1; dim < nd; dim++) {
            det_ctx c = {.kind = D_REDUCE, .reduce = fn, .a = inputs[k], .dim = dim};
            char what[128];
            snprintf(what, sizeof what, "%s over dim %d of a %s", name, dim, names[k]);
            most = imax(most, expect_deterministic(what, trace, &c));
        }
    }
    for (int k = 0; k < 5; k++) mt_release(inputs[k]);
    expect_some_parallel(name, most);
}

Test(determinism, reduce_sum) { check_reduce("sum", "sum", mt_sum, -10, 10, 41); }
/* values near 1 keep products of 2048 terms finite and non-zero */
Test(determinism, reduce_prod) { check_reduce("prod", "prod", mt_prod, 0.99, 1.01, 42); }
Test(determinism, reduce_max) { check_reduce("max", "max", mt_max, -10, 10, 43); }
Test(determinism, reduce_mean) { check_reduce("mean", "sum", mt_mean, -10, 10, 44); }

/* ---- sum_all / mean_all of 5M elements ---- */

static void check_all(const char *name, mt_tensor *(*fn)(mt_tensor *), uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    const int64_t n = 5000000, shape2[2] = {2000, 2500};
    double *v = t_random_values(&r, n, -1, 1);
    mt_tensor *inputs[3] = {t_tensor(&r, 1, &n, v, 0), t_tensor(&r, 2, shape2, v, 1),
                            t_tensor(&r, 2, shape2, v, 2)};
    free(v);
    static const char *const names[3] = {"contiguous 5M", "permuted 2000x2500", "narrowed 2000x2500"};
    int most = 0;
    for (int k = 0; k < 3; k++) {
        det_ctx c = {.kind = D_ALL, .all = fn, .a = inputs[k]};
        char what[96];
        snprintf(what, sizeof what, "%s of a %s", name, names[k]);
        most = imax(most, expect_deterministic(what, "sum", &c));
    }
    for (int k = 0; k < 3; k++) mt_release(inputs[k]);
    expect_some_parallel(name, most);
}

Test(determinism, sum_all) { check_all("sum_all", mt_sum_all, 51); }
Test(determinism, mean_all) { check_all("mean_all", mt_mean_all, 52); }
