/* mt_where and mt_masked_fill (the three-input select kernel), the special values of the math
 * functions and activations (sqrt ... pow_scalar, pow, maximum, minimum), their error cases and
 * mt_map_out_with.
 *
 * Expected values: for where / masked_fill the test's own index walk with right-aligned
 * broadcasting (a select is exact, so results must match bit for bit); for special values the
 * results PyTorch documents or computes for float32 (C99 Annex F for sqrt, sin, cos, pow; IEEE
 * for the rest), written out by hand or computed in double from the same float input.
 * Tolerances: 0 for selects, abs, clamp, maximum/minimum, infinities and NaN; 1e-6 relative for
 * libm functions of finite inputs (a few ulp), and 3e-45 absolute (two float denormal steps)
 * where the result is a denormal. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define ITERATIONS 150

/* ---- oracle of a three-input select: out[i] = pick(x[0][i], x[1][i], x[2][i]) ---- */

typedef double (*select_fn)(double, double, double);
static double o_where(double c, double a, double b) { return c != 0.0 ? a : b; }

static double *oracle3(int nd, const int64_t *shape, const int *ns, const int64_t (*ss)[MT_MAX_DIMS],
                       double *const *vals, select_fn f)
{
    int64_t n = t_numel(nd, shape), idx[MT_MAX_DIMS] = {0}, sub[MT_MAX_DIMS];
    double *out = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(out);
    int64_t o = 0;
    do {
        double v[3];
        for (int k = 0; k < 3; k++) {
            t_broadcast_index(nd, idx, ns[k], ss[k], sub);
            v[k] = vals[k][t_ordinal(ns[k], ss[k], sub)];
        }
        out[o++] = f(v[0], v[1], v[2]);
    } while (t_next_index(nd, shape, idx));
    return out;
}

/* Condition values: exact zeros (both signs), ones, other nonzero values and NaN. */
static double *cond_values(t_rng *r, int64_t n)
{
    static const double choices[] = {0.0, -0.0, 1.0, 1.0, -2.5, NAN, 0.0, 3.0};
    double *v = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = choices[t_rng_int(r, 0, 7)];
    return v;
}

/* One where(cond, a, b) with shapes ss[0..2] in layouts lay[0..2], checked exactly. */
static void where_eval(t_rng *r, int nd, const int64_t *shape, const int *ns,
                       const int64_t (*ss)[MT_MAX_DIMS], const int *lay, const char *tag)
{
    double *v[3];
    mt_tensor *t[3];
    for (int k = 0; k < 3; k++) {
        int64_t n = t_numel(ns[k], ss[k]);
        v[k] = k == 0 ? cond_values(r, n) : t_random_values(r, n, -10, 10);
        t[k] = t_tensor(r, ns[k], ss[k], v[k], lay[k]);
    }
    mt_tensor *out = mt_where(t[0], t[1], t[2]);
    char what[256], s0[64], s1[64], s2[64];
    snprintf(what, sizeof what, "where %s cond %s (layout %d) a %s (layout %d) b %s (layout %d)",
             tag, t_shape_text(s0, sizeof s0, ns[0], ss[0]), lay[0],
             t_shape_text(s1, sizeof s1, ns[1], ss[1]), lay[1],
             t_shape_text(s2, sizeof s2, ns[2], ss[2]), lay[2]);
    cr_assert_not_null(out, "%s: %s", what, mt_last_error());
    t_expect_shape(out, nd, shape);
    double *e = oracle3(nd, shape, ns, ss, v, o_where);
    t_expect_close(what, out, e, 0, 0);
    for (int k = 0; k < 3; k++) {
        t_expect_close("input unchanged", t[k], v[k], 0, 0);
        mt_release(t[k]);
        free(v[k]);
    }
    free(e);
    mt_release(out);
}

Test(where, random_shapes_layouts_and_broadcasts)
{
    t_rng r = t_rng_seed(501);
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t shape[MT_MAX_DIMS], ss[3][MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, shape), ns[3], lay[3];
        for (int k = 0; k < 3; k++) {
            ns[k] = t_rng_int(&r, 0, 1) ? t_random_shrunk_shape(&r, nd, shape, true, ss[k]) : nd;
            if (ns[k] == nd && t_rng_int(&r, 0, 1)) memcpy(ss[k], shape, sizeof ss[k]);
            else if (ns[k] == nd) ns[k] = t_random_shrunk_shape(&r, nd, shape, false, ss[k]);
            lay[k] = t_rng_int(&r, 0, 2);
        }
        /* the broadcast shape of the three (it may be smaller than `shape`) */
        int no = ns[0], n01;
        int64_t so[MT_MAX_DIMS], s01[MT_MAX_DIMS];
        cr_assert(t_broadcast_shapes(ns[0], ss[0], ns[1], ss[1], &n01, s01));
        cr_assert(t_broadcast_shapes(n01, s01, ns[2], ss[2], &no, so));
        char tag[32];
        snprintf(tag, sizeof tag, "#%d", it);
        where_eval(&r, no, so, ns, (const int64_t(*)[MT_MAX_DIMS])ss, lay, tag);
    }
}

/* Large shapes: several threads, rows longer than one segment, and a transposed operand (the
 * tiled path). */
Test(where, large_threaded_and_transposed)
{
    t_rng r = t_rng_seed(502);
    cr_assert_eq(mt_set_num_threads(3), MT_OK);
    t_trace tr;
    t_trace_begin(&tr);
    static const int64_t shapes[3][2] = {{300, 500}, {3, 70000}, {70000, 3}};
    static const int layouts[4][3] = {{0, 0, 0}, {1, 0, 2}, {2, 1, 0}, {0, 2, 1}};
    for (int s = 0; s < 3; s++) {
        const int64_t *shape = shapes[s];
        for (int l = 0; l < 4; l++) {
            int ns[3] = {2, 2, 2};
            int64_t ss[3][MT_MAX_DIMS] = {{shape[0], shape[1]}, {shape[0], shape[1]}, {shape[0], shape[1]}};
            where_eval(&r, 2, shape, ns, (const int64_t(*)[MT_MAX_DIMS])ss, layouts[l], "large");
        }
        /* a row condition, a column a, a full b */
        int ns[3] = {2, 2, 2};
        int64_t ss[3][MT_MAX_DIMS] = {{1, shape[1]}, {shape[0], 1}, {shape[0], shape[1]}};
        where_eval(&r, 2, shape, ns, (const int64_t(*)[MT_MAX_DIMS])ss, layouts[1], "large bcast");
    }
    int threads = t_trace_end_max_threads(&tr, "where");
    cr_assert_geq(threads, 2, "where never ran on several threads (max %d)", threads);
    mt_set_num_threads(0);
}

Test(where, hand_checked_values_and_nan_condition)
{
    mt_tensor *c = mt_from_data(MT_DIMS(6), (const float[]){1, 0, -0.0f, NAN, -INFINITY, 1e-45f});
    mt_tensor *a = mt_from_data(MT_DIMS(6), (const float[]){1, 2, 3, 4, 5, 6});
    mt_tensor *b = mt_from_data(MT_DIMS(1), (const float[]){-1});
    mt_tensor *w = mt_where(c, a, b);
    /* -0 counts as zero; NaN, -inf and the smallest denormal as nonzero */
    t_expect_close("where", w, (const double[]){1, -1, -1, 4, 5, 6}, 0, 0);
    mt_tensor *inf = mt_full(MT_DIMS(1), INFINITY), *nan = mt_full(MT_DIMS(1), NAN);
    mt_tensor *w2 = mt_where(c, nan, inf);
    t_expect_close("where with NaN / inf sides", w2,
                   (const double[]){NAN, INFINITY, INFINITY, NAN, NAN, NAN}, 0, 0);
    mt_tensor *all[] = {c, a, b, w, inf, nan, w2};
    for (int i = 0; i < 7; i++) mt_release(all[i]);
}

/* ---- masked_fill ---- */

static double fill_value;
static double o_masked_fill(double a, double mask, double unused)
{
    (void)unused;
    return mask != 0.0 ? fill_value : a;
}

Test(masked_fill, random_shapes_layouts_and_values)
{
    t_rng r = t_rng_seed(503);
    static const double fills[] = {2.5, -0.0, INFINITY, -INFINITY, NAN, 1e-45};
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t shape[MT_MAX_DIMS], ms[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, shape);
        int nm = it % 3 ? t_random_shrunk_shape(&r, nd, shape, true, ms) : nd;
        if (it % 3 == 0) memcpy(ms, shape, sizeof ms);
        double *va = t_random_values(&r, t_numel(nd, shape), -10, 10);
        double *vm = cond_values(&r, t_numel(nm, ms));
        mt_tensor *a = t_tensor(&r, nd, shape, va, t_rng_int(&r, 0, 2));
        mt_tensor *m = t_tensor(&r, nm, ms, vm, t_rng_int(&r, 0, 2));
        fill_value = (double)(float)fills[it % 6];
        mt_tensor *out = mt_masked_fill(a, m, (float)fill_value);
        cr_assert_not_null(out, "masked_fill #%d: %s", it, mt_last_error());
        t_expect_shape(out, nd, shape);
        int ns[3] = {nd, nm, nd};
        int64_t ss[3][MT_MAX_DIMS];
        memcpy(ss[0], shape, sizeof ss[0]);
        memcpy(ss[1], ms, sizeof ss[1]);
        memcpy(ss[2], shape, sizeof ss[2]);
        double *vals[3] = {va, vm, va};
        double *e = oracle3(nd, shape, ns, (const int64_t(*)[MT_MAX_DIMS])ss, vals, o_masked_fill);
        char what[64];
        snprintf(what, sizeof what, "masked_fill #%d", it);
        t_expect_close(what, out, e, 0, 0);
        t_expect_close("a unchanged", a, va, 0, 0);
        free(e);
        free(va);
        free(vm);
        mt_release(a);
        mt_release(m);
        mt_release(out);
    }
}

/* ---- special values of the unary ops: a short vector, and tiled into a large 2-D tensor
 *      (vector loops, several threads) in each layout ---- */

static void check_special(const char *name, mt_tensor *(*fn)(mt_tensor *), const double *values,
                          const double *expected, int count, double atol, double rtol)
{
    char what[128];
    mt_tensor *a = t_tensor(NULL, 1, (const int64_t[]){count}, values, 0);
    mt_tensor *out = fn(a);
    cr_assert_not_null(out, "%s: %s", name, mt_last_error());
    snprintf(what, sizeof what, "%s special values", name);
    t_expect_close(what, out, expected, atol, rtol);
    mt_release(out);
    mt_release(a);

    t_rng r = t_rng_seed(504);
    const int64_t rows = 6000, shape[2] = {rows, count};
    double *tv = malloc(sizeof(double) * (size_t)(rows * count));
    double *te = malloc(sizeof(double) * (size_t)(rows * count));
    cr_assert(tv && te);
    for (int64_t i = 0; i < rows * count; i++) {
        int k = (int)((i + i / count) % count); /* every value in every vector lane */
        tv[i] = values[k];
        te[i] = expected[k];
    }
    cr_assert_eq(mt_set_num_threads(2), MT_OK);
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *big = t_tensor(&r, 2, shape, tv, layout);
        out = fn(big);
        snprintf(what, sizeof what, "%s special values tiled, layout %d", name, layout);
        t_expect_close(what, out, te, atol, rtol);
        mt_release(out);
        mt_release(big);
    }
    mt_set_num_threads(0);
    free(tv);
    free(te);
}

/* The sign of each result, when it is a zero (t_expect_close does not look at it). */
static void check_zero_signs(const char *name, mt_tensor *(*fn)(mt_tensor *), const float *in,
                             const int *negative, int count)
{
    mt_tensor *a = mt_from_data(MT_DIMS(count), in);
    mt_tensor *out = fn(a);
    float got[16];
    cr_assert_eq(mt_copy_to(out, got, count), MT_OK);
    for (int i = 0; i < count; i++)
        cr_assert(got[i] == 0 && (bool)signbit(got[i]) == (bool)negative[i],
                  "%s(%g) = %g, expected %s0", name, (double)in[i], (double)got[i],
                  negative[i] ? "-" : "+");
    mt_release(out);
    mt_release(a);
}

Test(special, sqrt_rsqrt)
{
    static const double v[] = {0.0, -0.0, -1, INFINITY, -INFINITY, NAN, 4, FLT_MAX, FLT_TRUE_MIN};
    const double es[] = {0, 0, NAN, INFINITY, NAN, NAN, 2, sqrt(FLT_MAX), sqrt(FLT_TRUE_MIN)};
    const double er[] = {INFINITY, -INFINITY, NAN, 0, NAN, NAN, 0.5, 1 / sqrt(FLT_MAX),
                         1 / sqrt(FLT_TRUE_MIN)};
    check_special("sqrt", mt_sqrt, v, es, 9, 0, 1e-6);
    check_special("rsqrt", mt_rsqrt, v, er, 9, 0, 1e-6);
    check_zero_signs("sqrt", mt_sqrt, (const float[]){0.0f, -0.0f}, (const int[]){0, 1}, 2);
}

Test(special, abs_square)
{
    static const double v[] = {-0.0, -INFINITY, NAN, -FLT_MAX, FLT_TRUE_MIN, -3, 1e20, 1e-30};
    const double ea[] = {0, INFINITY, NAN, FLT_MAX, FLT_TRUE_MIN, 3, (float)1e20, (float)1e-30};
    /* FLT_MAX^2 and 1e20^2 overflow to inf; (1e-30)^2 and FLT_TRUE_MIN^2 underflow to 0 */
    static const double eq[] = {0, INFINITY, NAN, INFINITY, 0, 9, INFINITY, 0};
    check_special("abs", mt_abs, v, ea, 8, 0, 0);
    check_special("square", mt_square, v, eq, 8, 0, 0);
    check_zero_signs("abs", mt_abs, (const float[]){-0.0f, 0.0f}, (const int[]){0, 0}, 2);
}

Test(special, sin_cos)
{
    static const double v[] = {0.0, INFINITY, -INFINITY, NAN, 1e30, -3.1415927410125732, 1e-30};
    double es[7], ec[7];
    for (int i = 0; i < 7; i++) {
        es[i] = sin((float)v[i]); /* of the float input */
        ec[i] = cos((float)v[i]);
    }
    /* sin(1e30) and sin(float pi) are computed with exact argument reduction: accurate relative
     * to the result, so 1e-6 relative holds (1e-30 absolute for cos(pi/2)-like tiny results) */
    check_special("sin", mt_sin, v, es, 7, 1e-30, 1e-6);
    check_special("cos", mt_cos, v, ec, 7, 1e-30, 1e-6);
    check_zero_signs("sin", mt_sin, (const float[]){0.0f, -0.0f}, (const int[]){0, 1}, 2);
}

/* tanh is computed from exp (|x| >= 0.3) or its odd series (below): both branches near the
 * switch, the extremes, and the signed zero */
Test(special, tanh)
{
    static const double v[] = {0.0, INFINITY, -INFINITY, NAN, 0.29999998, 0.3, -0.3, 1e-40,
                               9.5, 100, -1e30, 1e-3};
    double e[12];
    for (int i = 0; i < 12; i++) e[i] = tanh((float)v[i]);
    /* 3e-45: tanh(1e-40) is the denormal itself */
    check_special("tanh", mt_tanh, v, e, 12, 3e-45, 1e-6);
    check_zero_signs("tanh", mt_tanh, (const float[]){0.0f, -0.0f}, (const int[]){0, 1}, 2);
}

static double stable_gelu(double x)
{
    return x / (1.0 + exp(-2.0 * 0.79788456080286535588 * (x + 0.044715 * x * x * x)));
}

Test(special, gelu)
{
    /* gelu(-inf) is NaN (as PyTorch's 0.5 x (1 + tanh): -inf * 0); huge |x| gives x or -0 */
    static const double v[] = {0.0, INFINITY, -INFINITY, NAN, 1e20, -1e20, 10, -10, -3, 3};
    double e[10] = {0, INFINITY, NAN, NAN, 1e20, 0};
    for (int i = 6; i < 10; i++) e[i] = stable_gelu(v[i]);
    /* gelu(-10) ~ -1.2e-37 and tiny: 2u = -87.3 carries an exp-argument error ~4 u * 87 = 2e-5
     * relative, see test_ops_elementwise.c; 3e-5 relative */
    check_special("gelu", mt_gelu, v, e, 10, 0, 3e-5);
    check_zero_signs("gelu", mt_gelu, (const float[]){0.0f, -0.0f, -1e20f}, (const int[]){0, 1, 1}, 3);
}

Test(special, silu)
{
    static const double v[] = {0.0, INFINITY, -INFINITY, NAN, 100, -100, -20, 1};
    double e[8] = {0, INFINITY, NAN, NAN, 100};
    for (int i = 5; i < 8; i++) e[i] = v[i] / (1.0 + exp(-v[i]));
    /* silu(-100) = -100 sigmoid(-100): sigmoid(-100) = 3.7e-44 is a float denormal, off by up to
     * 2^-150 = 7e-46, which the factor 100 makes 7e-44 (PyTorch's x / (1 + e^-x) gives -0) */
    check_special("silu", mt_silu, v, e, 8, 1e-43, 1e-6);
}

Test(special, softplus)
{
    /* x above the threshold 20 is returned as is; log(1 + e^x) below it */
    static const double v[] = {20, 20.5, 100, INFINITY, -INFINITY, NAN, -100, 0, -20, 5};
    double e[10] = {log1p(exp(20.0)), 20.5, 100, INFINITY, 0, NAN};
    for (int i = 6; i < 10; i++) e[i] = log1p(exp(v[i]));
    /* softplus(-100) = 3.7e-44 is denormal: 3e-45 absolute */
    check_special("softplus", mt_softplus, v, e, 10, 3e-45, 1e-6);
}

static mt_tensor *leaky(mt_tensor *a) { return mt_leaky_relu(a, 0.01f); }
static mt_tensor *clamp_m1_2(mt_tensor *a) { return mt_clamp(a, -1.0f, 2.0f); }
static mt_tensor *clamp_reversed(mt_tensor *a) { return mt_clamp(a, 3.0f, 1.0f); }
static mt_tensor *clamp_nan_lo(mt_tensor *a) { return mt_clamp(a, NAN, 1.0f); }
static mt_tensor *clamp_max_only(mt_tensor *a) { return mt_clamp(a, -INFINITY, 0.0f); }

Test(special, leaky_relu_clamp)
{
    static const double v[] = {-0.0, NAN, -INFINITY, INFINITY, -1, 5, 1.5, -1, 2};
    static const double el[] = {0, NAN, -INFINITY, INFINITY, -0.0099999997764825821, 5, 1.5, -0.0099999997764825821, 2};
    check_special("leaky_relu", leaky, v, el, 9, 0, 1e-7);
    static const double ec[] = {0, NAN, -1, 2, -1, 2, 1.5, -1, 2};
    check_special("clamp", clamp_m1_2, v, ec, 9, 0, 0);
    /* lo > hi: every element is hi, as torch.clamp (NaN stays NaN) */
    static const double er[] = {1, NAN, 1, 1, 1, 1, 1, 1, 1};
    check_special("clamp lo > hi", clamp_reversed, v, er, 9, 0, 0);
    static const double en[] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    check_special("clamp NaN bound", clamp_nan_lo, v, en, 9, 0, 0);
    static const double em[] = {0, NAN, -INFINITY, 0, -1, 0, 0, -1, 0};
    check_special("clamp one side", clamp_max_only, v, em, 9, 0, 0);
    check_zero_signs("leaky_relu", leaky, (const float[]){-0.0f, 0.0f}, (const int[]){1, 0}, 2);
}

static mt_tensor *pow_third(mt_tensor *a) { return mt_pow_scalar(a, 1.0f / 3.0f); }
static mt_tensor *pow_zero(mt_tensor *a) { return mt_pow_scalar(a, 0.0f); }
static mt_tensor *pow_minus_one(mt_tensor *a) { return mt_pow_scalar(a, -1.0f); }
static mt_tensor *pow_three(mt_tensor *a) { return mt_pow_scalar(a, 3.0f); }

Test(special, pow_scalar)
{
    static const double v[] = {-8, 8, 0.0, -0.0, NAN, INFINITY, -INFINITY, 1};
    const double third = (double)(1.0f / 3.0f);
    double e3[8] = {NAN, pow(8, third), 0, 0, NAN, INFINITY, INFINITY, 1};
    check_special("pow 1/3", pow_third, v, e3, 8, 0, 1e-6);
    static const double e0[] = {1, 1, 1, 1, 1, 1, 1, 1}; /* pow(NaN, 0) = 1 */
    check_special("pow 0", pow_zero, v, e0, 8, 0, 0);
    static const double em1[] = {-0.125, 0.125, INFINITY, -INFINITY, NAN, 0, -0.0, 1};
    check_special("pow -1", pow_minus_one, v, em1, 8, 0, 0);
    static const double e_3[] = {-512, 512, 0, -0.0, NAN, INFINITY, -INFINITY, 1};
    check_special("pow 3", pow_three, v, e_3, 8, 0, 0);
}

/* ---- binary special values: explicit pairs, both orders where it matters ---- */

static void check_pairs(const char *name, mt_tensor *(*fn)(mt_tensor *, mt_tensor *),
                        const float *a, const float *b, const double *expected, int count)
{
    mt_tensor *ta = mt_from_data(MT_DIMS(count), a), *tb = mt_from_data(MT_DIMS(count), b);
    mt_tensor *out = fn(ta, tb);
    cr_assert_not_null(out, "%s: %s", name, mt_last_error());
    t_expect_close(name, out, expected, 0, 1e-6);
    mt_release(out);
    mt_release(ta);
    mt_release(tb);
}

Test(special, pow_binary)
{
    static const float a[] = {1, NAN, -2, 0, -0.0f, 2, INFINITY, 0.5f};
    static const float b[] = {NAN, 0, 0.5f, -2, -1, -INFINITY, -1, INFINITY};
    static const double e[] = {1, 1, NAN, INFINITY, -INFINITY, 0, 0, 0};
    check_pairs("pow", mt_pow, a, b, e, 8);
}

Test(special, maximum_minimum)
{
    static const float a[] = {NAN, 1, -0.0f, 0.0f, -INFINITY, 3, 2};
    static const float b[] = {1, NAN, 0.0f, -0.0f, 5, INFINITY, 2};
    static const double emax[] = {NAN, NAN, 0, 0, 5, INFINITY, 2};
    static const double emin[] = {NAN, NAN, 0, 0, -INFINITY, 3, 2};
    check_pairs("maximum", mt_maximum, a, b, emax, 7);
    check_pairs("minimum", mt_minimum, a, b, emin, 7);
    /* signed zeros: maximum is +0 and minimum -0 in either order */
    mt_tensor *ta = mt_from_data(MT_DIMS(2), a + 2), *tb = mt_from_data(MT_DIMS(2), b + 2);
    mt_tensor *mx = mt_maximum(ta, tb), *mn = mt_minimum(ta, tb);
    float gx[2], gn[2];
    cr_assert_eq(mt_copy_to(mx, gx, 2), MT_OK);
    cr_assert_eq(mt_copy_to(mn, gn, 2), MT_OK);
    for (int i = 0; i < 2; i++) {
        cr_assert(!signbit(gx[i]), "maximum of -0 and +0 is -0 (case %d)", i);
        cr_assert(signbit(gn[i]), "minimum of -0 and +0 is +0 (case %d)", i);
    }
    mt_tensor *all[] = {ta, tb, mx, mn};
    for (int i = 0; i < 4; i++) mt_release(all[i]);
}

/* ---- mt_map_out_with ---- */

Test(map_out_with, parameterised_ops_in_place_and_into_out)
{
    mt_tensor *a = mt_from_data(MT_DIMS(2, 3), (const float[]){-3, -0.5f, 0, 0.5f, 2, 9});
    mt_tensor *out = mt_full(MT_DIMS(2, 3), 7.0f);
    cr_assert_eq(mt_map_out_with(out, MT_OP_CLAMP, a, -1.0f, 1.0f), MT_OK, "%s", mt_last_error());
    t_expect_close("clamp into out", out, (const double[]){-1, -0.5, 0, 0.5, 1, 1}, 0, 0);
    cr_assert_eq(mt_map_out_with(out, MT_OP_LEAKY_RELU, a, 0.5f, 0.0f), MT_OK);
    t_expect_close("leaky_relu into out", out, (const double[]){-1.5, -0.25, 0, 0.5, 2, 9}, 0, 0);
    cr_assert_eq(mt_map_out_with(a, MT_OP_POW_SCALAR, a, 2.0f, 0.0f), MT_OK); /* in place */
    t_expect_close("pow_scalar in place", a, (const double[]){9, 0.25, 0, 0.25, 4, 81}, 0, 0);
    /* an op without parameters ignores them */
    cr_assert_eq(mt_map_out_with(out, MT_OP_NEG, a, 123.0f, -5.0f), MT_OK);
    t_expect_close("neg", out, (const double[]){-9, -0.25, 0, -0.25, -4, -81}, 0, 0);
    mt_release(a);
    mt_release(out);
}

/* ---- errors: nothing is returned or written when a call fails ---- */

Test(errors, map_out_refuses_parameterised_ops)
{
    mt_tensor *a = mt_ones(MT_DIMS(2, 2)), *out = mt_full(MT_DIMS(2, 2), 9.0f);
    static const mt_unary_op ops[] = {MT_OP_LEAKY_RELU, MT_OP_CLAMP, MT_OP_POW_SCALAR};
    for (int i = 0; i < 3; i++) {
        mt_clear_error();
        cr_assert_eq(mt_map_out(out, ops[i], a), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_map_out");
        cr_assert(strstr(mt_last_error(), "mt_map_out_with") != NULL, "%s", mt_last_error());
    }
    static const int bad[] = {-1, MT_OP_POW_SCALAR + 1, 1000};
    for (int i = 0; i < 3; i++) {
        mt_clear_error();
        cr_assert_eq(mt_map_out_with(out, (mt_unary_op)bad[i], a, 0, 0), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_map_out_with");
    }
    mt_clear_error();
    cr_assert_eq(mt_map_out_with(NULL, MT_OP_CLAMP, a, 0, 1), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_map_out_with");
    mt_clear_error();
    cr_assert_eq(mt_map_out_with(out, MT_OP_CLAMP, NULL, 0, 1), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_map_out_with");
    mt_clear_error();
    mt_tensor *wide = mt_ones(MT_DIMS(2, 3));
    cr_assert_eq(mt_map_out_with(out, MT_OP_CLAMP, wide, 0, 1), MT_ERR_BROADCAST);
    t_expect_error(MT_ERR_BROADCAST, "mt_map_out_with");
    t_expect_filled("out unchanged after failed calls", out, 9.0f);
    mt_release(wide);
    mt_release(a);
    mt_release(out);
}

Test(errors, null_inputs)
{
    mt_tensor *a = mt_ones(MT_DIMS(2, 2));
    mt_clear_error();
    cr_assert_null(mt_leaky_relu(NULL, 0.1f));
    t_expect_error(MT_ERR_NULL, "mt_leaky_relu");
    mt_clear_error();
    cr_assert_null(mt_clamp(NULL, 0, 1));
    t_expect_error(MT_ERR_NULL, "mt_clamp");
    mt_clear_error();
    cr_assert_null(mt_pow_scalar(NULL, 2));
    t_expect_error(MT_ERR_NULL, "mt_pow_scalar");
    mt_clear_error();
    cr_assert_null(mt_where(NULL, a, a));
    t_expect_error(MT_ERR_NULL, "mt_where");
    cr_assert(strstr(mt_last_error(), "cond") != NULL, "%s", mt_last_error());
    mt_clear_error();
    cr_assert_null(mt_where(a, NULL, a));
    t_expect_error(MT_ERR_NULL, "mt_where");
    mt_clear_error();
    cr_assert_null(mt_where(a, a, NULL));
    t_expect_error(MT_ERR_NULL, "mt_where");
    mt_clear_error();
    cr_assert_null(mt_masked_fill(NULL, a, 1));
    t_expect_error(MT_ERR_NULL, "mt_masked_fill");
    mt_clear_error();
    cr_assert_null(mt_masked_fill(a, NULL, 1));
    t_expect_error(MT_ERR_NULL, "mt_masked_fill");
    cr_assert(strstr(mt_last_error(), "mask") != NULL, "%s", mt_last_error());
    mt_release(a);
}

Test(errors, shapes_that_do_not_broadcast)
{
    mt_tensor *a23 = mt_ones(MT_DIMS(2, 3)), *a4 = mt_ones(MT_DIMS(4)), *a3 = mt_ones(MT_DIMS(3));
    mt_tensor *a13 = mt_ones(MT_DIMS(1, 3)), *a523 = mt_ones(MT_DIMS(5, 2, 3));
    mt_clear_error();
    cr_assert_null(mt_where(a23, a4, a3)); /* a with cond */
    t_expect_error(MT_ERR_BROADCAST, "mt_where");
    mt_clear_error();
    cr_assert_null(mt_where(a23, a3, a4)); /* b with the others */
    t_expect_error(MT_ERR_BROADCAST, "mt_where");
    mt_clear_error();
    cr_assert_null(mt_where(a4, a23, a23)); /* cond */
    t_expect_error(MT_ERR_BROADCAST, "mt_where");
    /* the mask must broadcast to a: not incompatible, not larger */
    mt_clear_error();
    cr_assert_null(mt_masked_fill(a23, a4, 0));
    t_expect_error(MT_ERR_BROADCAST, "mt_masked_fill");
    mt_clear_error();
    cr_assert_null(mt_masked_fill(a13, a23, 0));
    t_expect_error(MT_ERR_BROADCAST, "mt_masked_fill");
    mt_clear_error();
    cr_assert_null(mt_masked_fill(a23, a523, 0));
    t_expect_error(MT_ERR_BROADCAST, "mt_masked_fill");
    static mt_tensor *(*const binary[])(mt_tensor *, mt_tensor *) = {mt_pow, mt_maximum, mt_minimum};
    static const char *const names[] = {"mt_pow", "mt_maximum", "mt_minimum"};
    for (int i = 0; i < 3; i++) {
        mt_clear_error();
        cr_assert_null(binary[i](a23, a4));
        t_expect_error(MT_ERR_BROADCAST, names[i]);
    }
    /* where's result is the broadcast of all three: larger than any input is fine */
    mt_tensor *a21 = mt_ones(MT_DIMS(2, 1));
    mt_tensor *w = mt_where(a13, a21, a3);
    cr_assert_not_null(w, "%s", mt_last_error());
    t_expect_shape(w, MT_DIMS(2, 3));
    mt_release(w);
    mt_release(a21);
    mt_tensor *all[] = {a23, a4, a3, a13, a523};
    for (int i = 0; i < 5; i++) mt_release(all[i]);
}
