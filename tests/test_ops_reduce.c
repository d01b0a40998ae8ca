/* Forward reductions: sum, prod, max, mean over one dim (the dim kept with size 1, negative dims
 * from the end), sum_all and mean_all (shape (1,)), mt_reduce_out, NaN handling and errors.
 *
 * Expected values come from t_oracle_reduce (the test's own index loops, math in double on the
 * same float inputs). Tolerances:
 *   - random continuous inputs: per output, the rigorous bound for float32 evaluation in any
 *     order (see testing.h): sum gamma(n) * sum|x|, prod gamma(n) * |prod|, max exact (0), mean
 *     the sum's bound / n + 3u |mean|, with n the number of terms and u = 2^-24;
 *   - large inputs also use values that make any summation order exact: small integers (every
 *     partial sum is an integer below 2^24 in magnitude) and products of +-1, +-2, +-0.5 (every
 *     partial product is a power of two within the float range). There the tolerance is 0, so a
 *     dropped, repeated or misplaced term shows; mean then has only its final scaling, <= 2u
 *     relative (we allow 2.5e-7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define RANDOM_ITERATIONS 200
#define LARGE_THREADS 3

typedef struct reduce_case {
    const char *name, *fn_name, *trace;
    mt_tensor *(*fn)(mt_tensor *, int);
    t_reduce_kind kind;
} reduce_case;

static const reduce_case CASES[] = {
    {"sum", "mt_sum", "sum", mt_sum, T_SUM},
    {"prod", "mt_prod", "prod", mt_prod, T_PROD},
    {"max", "mt_max", "max", mt_max, T_MAX},
    {"mean", "mt_mean", "sum", mt_mean, T_MEAN},
};

/* Input values per reduction for the random (continuous) tests: prod stays within [0.5, 2] in
 * magnitude so products of up to 5 terms neither overflow nor underflow. */
static double *random_inputs(t_rng *r, t_reduce_kind kind, int64_t n)
{
    if (kind == T_PROD) return t_random_signed_values(r, n, 0.5, 2);
    return t_random_values(r, n, -10, 10);
}

/* Values for which every evaluation order is exact (see the header comment). For prod: +-1, and
 * with probability 1/4000 each +-2 or +-0.5. */
static double *exact_inputs(t_rng *r, t_reduce_kind kind, int64_t n)
{
    if (kind != T_PROD) return t_grid_values(r, n, -8, 8, 1.0);
    double *v = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = t_rng_next(r) % 4000;
        double m = x == 0 ? 2.0 : x == 1 ? 0.5 : 1.0;
        v[i] = t_rng_next(r) & 1 ? -m : m;
    }
    return v;
}

/* For prod over exact inputs: no row may hold more than 120 twos or halves, so every partial
 * product stays a normal float (2^-120 .. 2^120). */
static void check_prod_exponents(int nd, const int64_t *shape, const double *v, int dim)
{
    int64_t out_shape[MT_MAX_DIMS], idx[MT_MAX_DIMS] = {0}, full[MT_MAX_DIMS];
    for (int i = 0; i < nd; i++) out_shape[i] = shape[i];
    out_shape[dim] = 1;
    do {
        int twos = 0, halves = 0;
        for (int i = 0; i < nd; i++) full[i] = idx[i];
        for (int64_t j = 0; j < shape[dim]; j++) {
            full[dim] = j;
            double x = fabs(v[t_ordinal(nd, shape, full)]);
            twos += x == 2.0;
            halves += x == 0.5;
        }
        cr_assert(twos <= 120 && halves <= 120, "test inputs: %d twos, %d halves", twos, halves);
    } while (t_next_index(nd, out_shape, idx));
}

/* One reduction: `a` (logical values v, shape (nd, shape)) over `dim`. exact: tolerance 0
 * (2.5e-7 relative for mean) instead of the rigorous bound. */
static void reduce_eval(const reduce_case *c, mt_tensor *a, int nd, const int64_t *shape,
                        const double *v, int dim, bool exact, const char *tag)
{
    char what[256], st[64];
    snprintf(what, sizeof what, "%s dim %d of %s %s", c->name, dim,
             t_shape_text(st, sizeof st, nd, shape), tag);
    mt_tensor *out = c->fn(a, dim);
    cr_assert_not_null(out, "%s: NULL: %s", what, mt_last_error());
    int d = dim < 0 ? dim + nd : dim;
    int64_t out_shape[MT_MAX_DIMS];
    for (int i = 0; i < nd; i++) out_shape[i] = shape[i];
    out_shape[d] = 1;
    t_expect_shape(out, nd, out_shape);
    cr_assert(!mt_shares_storage(out, a), "%s: the result shares the input's storage", what);
    double *bound;
    double *e = t_oracle_reduce(nd, shape, v, dim, c->kind, &bound);
    int64_t outputs = t_numel(nd, out_shape);
    if (exact) {
        for (int64_t i = 0; i < outputs; i++)
            bound[i] = c->kind == T_MEAN ? 2.5e-7 * fabs(e[i]) : 0.0;
    }
    t_expect_close_each(what, out, e, bound);
    free(e);
    free(bound);
    mt_release(out);
}

/* ---- hand-computed cases ---- */

Test(reduce_hand, minitorch_reduce_case)
{
    /* [[2,3],[4,6],[5,7]] in every layout */
    static const double v[] = {2, 3, 4, 6, 5, 7};
    const int64_t shape[2] = {3, 2};
    t_rng r = t_rng_seed(1);
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *a = t_tensor(&r, 2, shape, v, layout);
        mt_tensor *s0 = mt_sum(a, 0), *s1 = mt_sum(a, 1), *sm2 = mt_sum(a, -2), *sm1 = mt_sum(a, -1);
        t_expect_shape(s0, MT_DIMS(1, 2));
        t_expect_close("sum(0)", s0, (const double[]){11, 16}, 0, 0);
        t_expect_shape(s1, MT_DIMS(3, 1));
        t_expect_close("sum(1)", s1, (const double[]){5, 10, 12}, 0, 0);
        t_expect_shape(sm2, MT_DIMS(1, 2));
        t_expect_close("sum(-2)", sm2, (const double[]){11, 16}, 0, 0);
        t_expect_shape(sm1, MT_DIMS(3, 1));
        t_expect_close("sum(-1)", sm1, (const double[]){5, 10, 12}, 0, 0);
        mt_tensor *p0 = mt_prod(a, 0), *p1 = mt_prod(a, 1), *m0 = mt_max(a, 0), *m1 = mt_max(a, -1);
        t_expect_shape(p0, MT_DIMS(1, 2));
        t_expect_close("prod(0)", p0, (const double[]){40, 126}, 0, 0);
        t_expect_shape(p1, MT_DIMS(3, 1));
        t_expect_close("prod(1)", p1, (const double[]){6, 24, 35}, 0, 0);
        t_expect_shape(m0, MT_DIMS(1, 2));
        t_expect_close("max(0)", m0, (const double[]){5, 7}, 0, 0);
        t_expect_shape(m1, MT_DIMS(3, 1));
        t_expect_close("max(-1)", m1, (const double[]){3, 6, 7}, 0, 0);
        mt_tensor *me0 = mt_mean(a, 0), *me1 = mt_mean(a, 1), *sa = mt_sum_all(a), *ma = mt_mean_all(a);
        t_expect_shape(me0, MT_DIMS(1, 2));
        t_expect_close("mean(0)", me0, (const double[]){11.0 / 3, 16.0 / 3}, 0, 2.5e-7);
        t_expect_shape(me1, MT_DIMS(3, 1));
        t_expect_close("mean(1)", me1, (const double[]){2.5, 5, 6}, 0, 0);
        t_expect_shape(sa, MT_DIMS(1));
        t_expect_close("sum_all", sa, (const double[]){27}, 0, 0);
        t_expect_shape(ma, MT_DIMS(1));
        t_expect_close("mean_all", ma, (const double[]){4.5}, 0, 2.5e-7);
        mt_tensor *all[] = {a, s0, s1, sm2, sm1, p0, p1, m0, m1, me0, me1, sa, ma};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
    }
}

Test(reduce_hand, prod_and_max_with_signs_and_zero)
{
    t_rng r = t_rng_seed(2);
    static const double v[] = {-2, 0.5, 3, 1, -1, -4};
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *a = t_tensor(&r, MT_DIMS(2, 3), v, layout);
        mt_tensor *p1 = mt_prod(a, 1), *p0 = mt_prod(a, 0), *m0 = mt_max(a, 0), *m1 = mt_max(a, 1);
        t_expect_close("prod(1)", p1, (const double[]){-3, 4}, 0, 0);
        t_expect_close("prod(0)", p0, (const double[]){-2, -0.5, -12}, 0, 0);
        t_expect_close("max(0)", m0, (const double[]){1, 0.5, 3}, 0, 0);
        t_expect_close("max(1)", m1, (const double[]){3, 1}, 0, 0);
        mt_tensor *all[] = {a, p1, p0, m0, m1};
        for (int i = 0; i < 5; i++) mt_release(all[i]);
    }
    /* a zero makes the product 0; all-negative maxima */
    static const double w[] = {-1, -5, -3, -2, 0, -7, -8, 4}; /* (2,2,2) */
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *a = t_tensor(&r, MT_DIMS(2, 2, 2), w, layout);
        mt_tensor *m0 = mt_max(a, 0), *m1 = mt_max(a, 1), *m2 = mt_max(a, 2), *p0 = mt_prod(a, 0),
                  *p2 = mt_prod(a, -1);
        t_expect_shape(m0, MT_DIMS(1, 2, 2));
        t_expect_close("max(0)", m0, (const double[]){0, -5, -3, 4}, 0, 0);
        t_expect_shape(m1, MT_DIMS(2, 1, 2));
        t_expect_close("max(1)", m1, (const double[]){-1, -2, 0, 4}, 0, 0);
        t_expect_shape(m2, MT_DIMS(2, 2, 1));
        t_expect_close("max(2)", m2, (const double[]){-1, -2, 0, 4}, 0, 0);
        t_expect_close("prod(0)", p0, (const double[]){0, 35, 24, -8}, 0, 0);
        t_expect_close("prod(-1)", p2, (const double[]){5, 6, 0, -32}, 0, 0);
        mt_tensor *all[] = {a, m0, m1, m2, p0, p2};
        for (int i = 0; i < 6; i++) mt_release(all[i]);
    }
}

/* ---- random shapes ---- */

static void check_reduce_random(const reduce_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    for (int it = 0; it < RANDOM_ITERATIONS; it++) {
        int64_t shape[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, shape);
        int layout = it % 4;
        double *v;
        mt_tensor *a;
        if (layout < 3) {
            v = random_inputs(&r, c->kind, t_numel(nd, shape));
            a = t_tensor(&r, nd, shape, v, layout);
        } else { /* expanded input (zero strides), possibly along the reduced dim */
            int64_t small[MT_MAX_DIMS];
            int ns = t_random_shrunk_shape(&r, nd, shape, true, small);
            double *sv = random_inputs(&r, c->kind, t_numel(ns, small));
            a = t_expanded_tensor(&r, nd, shape, ns, small, sv, t_rng_int(&r, 0, 2), &v);
            free(sv);
        }
        for (int dim = -nd; dim < nd; dim++) {
            char tag[48];
            snprintf(tag, sizeof tag, "#%d layout %d", it, layout);
            reduce_eval(c, a, nd, shape, v, dim, false, tag);
        }
        t_expect_close("input unchanged", a, v, 0, 0);
        free(v);
        mt_release(a);
    }
}

Test(reduce_random, sum) { check_reduce_random(&CASES[0], 11); }
Test(reduce_random, prod) { check_reduce_random(&CASES[1], 12); }
Test(reduce_random, max) { check_reduce_random(&CASES[2], 13); }
Test(reduce_random, mean) { check_reduce_random(&CASES[3], 14); }

static void check_all_random(bool mean, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    for (int it = 0; it < RANDOM_ITERATIONS; it++) {
        int64_t shape[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, shape);
        int64_t n = t_numel(nd, shape);
        double *v = t_random_values(&r, n, -10, 10);
        mt_tensor *a = t_tensor(&r, nd, shape, v, it % 3);
        mt_tensor *out = mean ? mt_mean_all(a) : mt_sum_all(a);
        t_expect_shape(out, MT_DIMS(1));
        double *bound, *e = t_oracle_reduce(1, (const int64_t[]){n}, v, 0, mean ? T_MEAN : T_SUM, &bound);
        char what[96], st[64];
        snprintf(what, sizeof what, "%s #%d of %s layout %d", mean ? "mean_all" : "sum_all", it,
                 t_shape_text(st, sizeof st, nd, shape), it % 3);
        t_expect_close_each(what, out, e, bound);
        free(e);
        free(bound);
        free(v);
        mt_release(out);
        mt_release(a);
    }
}

Test(reduce_random, sum_all) { check_all_random(false, 15); }
Test(reduce_random, mean_all) { check_all_random(true, 16); }

/* ---- large shapes: several threads, long rows cut into chunks ---- */

/* (2, 140000): fewer rows than threads, each longer than two chunks (the split path) */
static const int64_t LARGE_SHAPES[][3] = {{300, 500}, {3, 70000}, {70000, 3}, {4, 250, 300},
                                          {2, 140000}};
static const int LARGE_ND[] = {2, 2, 2, 3, 2};
#define LARGE_SHAPE_COUNT 5

static void check_reduce_large(const reduce_case *c, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    t_trace tr;
    t_trace_begin(&tr);
    for (int s = 0; s < LARGE_SHAPE_COUNT; s++) {
        const int64_t *shape = LARGE_SHAPES[s];
        int nd = LARGE_ND[s];
        int64_t n = t_numel(nd, shape);
        for (int exact = 0; exact < 2; exact++) {
            if (!exact && c->kind == T_PROD) continue; /* long continuous products under/overflow */
            double *v = exact ? exact_inputs(&r, c->kind, n) : random_inputs(&r, c->kind, n);
            if (c->kind == T_PROD)
                for (int d = 0; d < nd; d++) check_prod_exponents(nd, shape, v, d);
            for (int layout = 0; layout < 3; layout++) {
                mt_tensor *a = t_tensor(&r, nd, shape, v, layout);
                char tag[48];
                snprintf(tag, sizeof tag, "layout %d %s", layout, exact ? "exact" : "bounded");
                for (int dim = 0; dim < nd; dim++) reduce_eval(c, a, nd, shape, v, dim, exact, tag);
                if (layout == 1) reduce_eval(c, a, nd, shape, v, -1, exact, tag);
                mt_release(a);
            }
            free(v);
        }
        /* an expanded input: a (1, C...) row repeated along dim 0 */
        int64_t small[3];
        for (int i = 0; i < nd; i++) small[i] = shape[i];
        small[0] = 1;
        double *sv = exact_inputs(&r, c->kind, t_numel(nd, small)), *ev;
        if (c->kind == T_PROD) /* a repeated row: keep its terms at +-1 */
            for (int64_t i = 0; i < t_numel(nd, small); i++) sv[i] = sv[i] < 0 ? -1 : 1;
        mt_tensor *a = t_expanded_tensor(&r, nd, shape, nd, small, sv, 2, &ev);
        for (int dim = 0; dim < nd; dim++) reduce_eval(c, a, nd, shape, ev, dim, true, "expanded");
        mt_release(a);
        free(sv);
        free(ev);
    }
    int threads = t_trace_end_max_threads(&tr, c->trace);
    cr_assert_geq(threads, 2, "%s: the large inputs never ran on several threads (max %d)",
                  c->name, threads);
    mt_set_num_threads(0);
}

Test(reduce_large, sum) { check_reduce_large(&CASES[0], 21); }
Test(reduce_large, prod) { check_reduce_large(&CASES[1], 22); }
Test(reduce_large, max) { check_reduce_large(&CASES[2], 23); }
Test(reduce_large, mean) { check_reduce_large(&CASES[3], 24); }

/* runtime.h: "kernels use OMP_NUM_THREADS threads (or mt_set_num_threads). Small problems run on
 * one thread." None of these is small (>= 210,000 terms, >= 6 per kernel's own 32768-per-thread
 * threshold), so each reduction must report several threads in the trace. The values are also
 * checked (exact integer sums). */
Test(reduce_threads, large_reductions_use_several_threads)
{
    static const struct {
        int64_t shape[2];
        int dim;
    } cases[] = {
        {{2048, 2048}, 1},  /* contiguous reduced dim, 2048 outputs */
        {{2048, 2048}, 0},  /* strided reduced dim */
        {{3, 70000}, 1},    /* 3 long contiguous rows (shorter than two chunks) */
        {{4, 200000}, 1},   /* 4 long contiguous rows (more rows than threads) */
        {{70000, 3}, 0},    /* 3 outputs, each over 70000 strided terms */
        {{70000, 3}, 1},    /* 70000 short rows */
    };
    t_rng r = t_rng_seed(27);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    char failures[1024] = "";
    size_t used = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int64_t *shape = cases[k].shape;
        double *v = t_grid_values(&r, t_numel(2, shape), -8, 8, 1.0);
        mt_tensor *a = t_tensor(&r, 2, shape, v, 0);
        t_trace tr;
        t_trace_begin(&tr);
        mt_tensor *out = mt_sum(a, cases[k].dim);
        int threads = t_trace_end_max_threads(&tr, "sum");
        double *e = t_oracle_reduce(2, shape, v, cases[k].dim, T_SUM, NULL);
        t_expect_close("sum (exact integers)", out, e, 0, 0);
        if (threads < 2 && used < sizeof failures)
            used += (size_t)snprintf(failures + used, sizeof failures - used,
                                     " sum over dim %d of [%lld,%lld] ran on %d thread(s);",
                                     cases[k].dim, (long long)shape[0], (long long)shape[1], threads);
        free(e);
        free(v);
        mt_release(out);
        mt_release(a);
    }
    mt_set_num_threads(0);
    cr_assert(used == 0, "with mt_set_num_threads(%d):%s", LARGE_THREADS, failures);
}

/* sum_all / mean_all over 3,000,000 elements in each layout. */
static void check_all_large(bool mean, uint64_t seed)
{
    t_rng r = t_rng_seed(seed);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    const int64_t shape[2] = {1000, 3000}, n = 3000000;
    /* integers in [-4, 4]: every partial sum is an integer of magnitude <= 1.2e7 < 2^24, exact */
    double *v = t_grid_values(&r, n, -4, 4, 1.0);
    double *e = t_oracle_reduce(1, &n, v, 0, mean ? T_MEAN : T_SUM, NULL);
    t_trace tr;
    t_trace_begin(&tr);
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *a = t_tensor(&r, 2, shape, v, layout);
        mt_tensor *out = mean ? mt_mean_all(a) : mt_sum_all(a);
        t_expect_shape(out, MT_DIMS(1));
        char what[64];
        snprintf(what, sizeof what, "%s of 3M integers, layout %d", mean ? "mean_all" : "sum_all", layout);
        t_expect_close(what, out, e, 0, mean ? 2.5e-7 : 0);
        mt_release(out);
        mt_release(a);
    }
    int threads = t_trace_end_max_threads(&tr, "sum");
    cr_assert_geq(threads, 2, "the 3M-element sum never ran on several threads (max %d)", threads);
    free(v);
    free(e);

    /* continuous values, with the rigorous bound */
    v = t_random_values(&r, n, -1, 1);
    double *bound;
    e = t_oracle_reduce(1, &n, v, 0, mean ? T_MEAN : T_SUM, &bound);
    mt_tensor *a = t_tensor(&r, 1, &n, v, 0);
    mt_tensor *out = mean ? mt_mean_all(a) : mt_sum_all(a);
    t_expect_close_each(mean ? "mean_all of 3M values" : "sum_all of 3M values", out, e, bound);
    mt_release(out);
    mt_release(a);
    free(v);
    free(e);
    free(bound);
    mt_set_num_threads(0);
}

Test(reduce_large, sum_all_3m) { check_all_large(false, 25); }
Test(reduce_large, mean_all_3m) { check_all_large(true, 26); }

/* ---- NaN and infinities ---- */

/* Rows of `cols` values; NaN or inf placed by the caller; every reduction over both dims is
 * compared with the oracle (NaN expected where the oracle gives NaN). */
static void check_special(const double *v, int64_t rows, int64_t cols, const char *tag)
{
    t_rng r = t_rng_seed(31);
    const int64_t shape[2] = {rows, cols};
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *a = t_tensor(&r, 2, shape, v, layout);
        for (int k = 0; k < 4; k++)
            for (int dim = 0; dim < 2; dim++) {
                char t2[96];
                snprintf(t2, sizeof t2, "%s layout %d", tag, layout);
                reduce_eval(&CASES[k], a, 2, shape, v, dim, false, t2);
            }
        mt_release(a);
    }
}

Test(reduce_special, nan_propagates_small)
{
    /* row 0: NaN first; row 1: NaN in the middle; row 2: NaN last; row 3: none; row 4: only NaN;
     * row 5: NaN with +inf; row 6: NaN with -inf */
    static const double v[] = {
        NAN, 1,   2,   3,        4,   5,   NAN, 6,   7,   8,        9,   1,   2, 3, NAN,
        1,   2,   3,   4,        5,   NAN, NAN, NAN, NAN, NAN,      INFINITY, 1, NAN, 2, 3,
        -INFINITY, NAN, -1, -2, -3};
    check_special(v, 7, 5, "NaN rows");
    /* explicit: max of a row containing NaN is NaN; the other rows keep their values */
    mt_tensor *a = t_tensor(NULL, MT_DIMS(7, 5), v, 0);
    mt_tensor *m = mt_max(a, 1), *s = mt_sum(a, 1), *p = mt_prod(a, 1);
    double *gm = t_values(m), *gs = t_values(s), *gp = t_values(p);
    for (int i = 0; i < 7; i++) {
        if (i == 3) {
            cr_assert(gm[i] == 5 && gs[i] == 15 && gp[i] == 120, "row without NaN: %g %g %g",
                      gm[i], gs[i], gp[i]);
        } else {
            cr_assert(isnan(gm[i]), "max of row %d containing NaN is %g", i, gm[i]);
            cr_assert(isnan(gs[i]), "sum of row %d containing NaN is %g", i, gs[i]);
            cr_assert(isnan(gp[i]), "prod of row %d containing NaN is %g", i, gp[i]);
        }
    }
    free(gm);
    free(gs);
    free(gp);
    mt_release(m);
    mt_release(s);
    mt_release(p);
    mt_release(a);
}

Test(reduce_special, infinities)
{
    /* sum inf + -inf = NaN; max of -inf only = -inf; prod inf * 0 = NaN; prod -inf * -2 = inf */
    static const double v[] = {INFINITY, -INFINITY, 1, -INFINITY, -INFINITY, -INFINITY,
                               INFINITY, 0, 2,        -INFINITY, -2, 1};
    check_special(v, 4, 3, "infinities");
}

Test(reduce_special, nan_in_long_rows_and_sum_all)
{
    /* two rows long enough for the chunked, multi-threaded path; a NaN deep inside row 1, an
     * infinity in row 0 */
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    t_rng r = t_rng_seed(32);
    const int64_t rows = 2, cols = 200000, n = rows * cols;
    double *v = t_random_values(&r, n, 0.999, 1.001);
    v[1 * cols + 150001] = NAN;
    v[0 * cols + 3] = INFINITY;
    const int64_t shape[2] = {rows, cols};
    for (int layout = 0; layout < 3; layout++) {
        mt_tensor *a = t_tensor(&r, 2, shape, v, layout);
        for (int k = 0; k < 4; k++) {
            if (k == 1) continue; /* a product of 200000 terms near 1 is checked below */
            for (int dim = 0; dim < 2; dim++) reduce_eval(&CASES[k], a, 2, shape, v, dim, false, "long rows");
        }
        mt_tensor *p = mt_prod(a, 1);
        double *gp = t_values(p);
        cr_assert(gp[0] == INFINITY && isnan(gp[1]), "prod rows: %g %g", gp[0], gp[1]);
        free(gp);
        mt_release(p);
        mt_tensor *sa = mt_sum_all(a), *ma = mt_mean_all(a);
        cr_assert(isnan(mt_item(sa)), "sum_all with a NaN is %g", (double)mt_item(sa));
        cr_assert(isnan(mt_item(ma)), "mean_all with a NaN is %g", (double)mt_item(ma));
        mt_release(sa);
        mt_release(ma);
        mt_release(a);
    }
    free(v);
    mt_set_num_threads(0);
}

Test(reduce_special, sum_all_nan_small)
{
    mt_tensor *a = mt_from_data(MT_DIMS(2, 2), (const float[]){1, NAN, 2, 3});
    mt_tensor *s = mt_sum_all(a), *m = mt_mean_all(a);
    cr_assert(isnan(mt_item(s)) && isnan(mt_item(m)), "sum_all %g mean_all %g", (double)mt_item(s),
              (double)mt_item(m));
    mt_release(s);
    mt_release(m);
    mt_release(a);
}

/* ---- mt_reduce_out ---- */

static const mt_reduce_op REDUCE_OPS[3] = {MT_OP_SUM, MT_OP_PROD, MT_OP_MAX};
static const t_reduce_kind REDUCE_KINDS[3] = {T_SUM, T_PROD, T_MAX};

/* out of logical shape (nd, shape) stored with reversed dims. */
static mt_tensor *permuted_full(int nd, const int64_t *shape, float value)
{
    int64_t stored[MT_MAX_DIMS];
    int order[MT_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        stored[i] = shape[nd - 1 - i];
        order[i] = nd - 1 - i;
    }
    mt_tensor *base = mt_full(nd, stored, value);
    mt_tensor *out = mt_permute(base, order);
    cr_assert_not_null(out, "permute: %s", mt_last_error());
    mt_release(base);
    return out;
}

Test(reduce_out, contiguous_and_permuted_out_every_dim)
{
    t_rng r = t_rng_seed(41);
    const int64_t shape[3] = {4, 5, 6};
    for (int k = 0; k < 3; k++) {
        double *v = random_inputs(&r, REDUCE_KINDS[k], 120);
        for (int layout = 0; layout < 3; layout++) {
            mt_tensor *a = t_tensor(&r, 3, shape, v, layout);
            for (int dim = -3; dim < 3; dim++) {
                int d = dim < 0 ? dim + 3 : dim;
                int64_t os[3] = {4, 5, 6};
                os[d] = 1;
                for (int permuted = 0; permuted < 2; permuted++) {
                    mt_tensor *out = permuted ? permuted_full(3, os, 9.0f) : mt_full(3, os, 9.0f);
                    if (permuted && d != 0 && d != 2) cr_assert(!mt_is_contiguous(out));
                    cr_assert_eq(mt_reduce_out(out, REDUCE_OPS[k], a, dim), MT_OK, "%s",
                                 mt_last_error());
                    t_expect_shape(out, 3, os);
                    double *bound, *e = t_oracle_reduce(3, shape, v, dim, REDUCE_KINDS[k], &bound);
                    char what[96];
                    snprintf(what, sizeof what, "mt_reduce_out op %d dim %d layout %d permuted %d",
                             k, dim, layout, permuted);
                    t_expect_close_each(what, out, e, bound);
                    free(e);
                    free(bound);
                    mt_release(out);
                }
            }
            t_expect_close("input unchanged", a, v, 0, 0);
            mt_release(a);
        }
        free(v);
    }
}

Test(reduce_out, large_into_permuted_out)
{
    t_rng r = t_rng_seed(42);
    cr_assert_eq(mt_set_num_threads(LARGE_THREADS), MT_OK);
    const int64_t shape[3] = {3, 200, 350}, os[3] = {3, 1, 350};
    double *v = t_grid_values(&r, t_numel(3, shape), -8, 8, 1.0);
    mt_tensor *a = t_tensor(&r, 3, shape, v, 1);
    mt_tensor *out = permuted_full(3, os, 9.0f);
    cr_assert_eq(mt_reduce_out(out, MT_OP_SUM, a, 1), MT_OK, "%s", mt_last_error());
    double *e = t_oracle_reduce(3, shape, v, 1, T_SUM, NULL);
    t_expect_close("large mt_reduce_out sum (exact integers)", out, e, 0, 0);
    free(e);
    mt_release(out);
    out = permuted_full(3, os, 9.0f);
    cr_assert_eq(mt_reduce_out(out, MT_OP_MAX, a, -2), MT_OK, "%s", mt_last_error());
    e = t_oracle_reduce(3, shape, v, 1, T_MAX, NULL);
    t_expect_close("large mt_reduce_out max", out, e, 0, 0);
    free(e);
    mt_release(out);
    mt_release(a);
    free(v);
    mt_set_num_threads(0);
}

Test(reduce_out, errors)
{
    mt_clear_error();
    mt_tensor *a = mt_ones(MT_DIMS(4, 5));
    mt_tensor *out = mt_full(MT_DIMS(4, 1), 9.0f);

    mt_clear_error(); /* shape mismatch: (1,5) is the result of dim 0, not dim 1 */
    mt_tensor *wrong = mt_full(MT_DIMS(1, 5), 9.0f), *wrong2 = mt_full(MT_DIMS(4), 9.0f);
    cr_assert_eq(mt_reduce_out(wrong, MT_OP_SUM, a, 1), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_reduce_out");
    mt_clear_error(); /* the reduced dim dropped instead of kept */
    cr_assert_eq(mt_reduce_out(wrong2, MT_OP_SUM, a, 1), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_reduce_out");
    t_expect_filled("unchanged after a failed call", wrong, 9.0f);
    t_expect_filled("unchanged after a failed call", wrong2, 9.0f);

    mt_clear_error(); /* out expanded with a zero stride */
    mt_tensor *base = mt_full(MT_DIMS(1, 1), 9.0f);
    mt_tensor *expanded = mt_expand(base, MT_DIMS(4, 1));
    cr_assert_eq(mt_reduce_out(expanded, MT_OP_SUM, a, 1), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_reduce_out");
    t_expect_filled("unchanged after a failed call", base, 9.0f);

    mt_clear_error(); /* out is a column of a itself (overlaps a) */
    mt_tensor *big = mt_full(MT_DIMS(4, 6), 9.0f);
    mt_tensor *in = mt_narrow(big, 1, 0, 5), *col = mt_narrow(big, 1, 2, 1);
    cr_assert_eq(mt_reduce_out(col, MT_OP_SUM, in, 1), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_reduce_out");
    t_expect_filled("unchanged after a failed call", big, 9.0f);

    const int bad_ops[] = {4, 7, -1}; /* 4: one past MT_OP_MIN */
    for (int i = 0; i < 3; i++) {
        mt_clear_error();
        cr_assert_eq(mt_reduce_out(out, (mt_reduce_op)bad_ops[i], a, 1), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_reduce_out");
    }
    const int bad_dims[] = {2, -3, 100, -100};
    for (int i = 0; i < 4; i++) {
        mt_clear_error();
        cr_assert_eq(mt_reduce_out(out, MT_OP_SUM, a, bad_dims[i]), MT_ERR_INDEX);
        t_expect_error(MT_ERR_INDEX, "mt_reduce_out");
    }
    mt_clear_error();
    cr_assert_eq(mt_reduce_out(NULL, MT_OP_SUM, a, 1), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_reduce_out");
    mt_clear_error();
    cr_assert_eq(mt_reduce_out(out, MT_OP_SUM, NULL, 1), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_reduce_out");
    t_expect_filled("unchanged after a failed call", out, 9.0f);

    mt_tensor *all[] = {a, out, wrong, wrong2, base, expanded, big, in, col};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
}

/* ---- errors of the operations ---- */

Test(reduce_errors, dim_out_of_range)
{
    mt_clear_error();
    mt_tensor *a = mt_ones(MT_DIMS(2, 3));
    const int bad_dims[] = {2, -3, 100, -100};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++) {
            mt_clear_error();
            cr_assert_null(CASES[k].fn(a, bad_dims[i]), "%s accepted dim %d", CASES[k].fn_name,
                           bad_dims[i]);
            t_expect_error(MT_ERR_INDEX, CASES[k].fn_name);
        }
    mt_tensor *v = mt_ones(MT_DIMS(7)); /* 1-D: dims 0 and -1 only */
    for (int k = 0; k < 4; k++) {
        mt_clear_error();
        cr_assert_null(CASES[k].fn(v, 1));
        t_expect_error(MT_ERR_INDEX, CASES[k].fn_name);
        mt_clear_error();
        cr_assert_null(CASES[k].fn(v, -2));
        t_expect_error(MT_ERR_INDEX, CASES[k].fn_name);
    }
    mt_release(v);
    mt_release(a);
}

Test(reduce_errors, null_operands)
{
    for (int k = 0; k < 4; k++) {
        mt_clear_error();
        cr_assert_null(CASES[k].fn(NULL, 0));
        t_expect_error(MT_ERR_NULL, CASES[k].fn_name);
    }
    mt_clear_error();
    cr_assert_null(mt_sum_all(NULL));
    t_expect_error(MT_ERR_NULL, "mt_sum_all");
    mt_clear_error();
    cr_assert_null(mt_mean_all(NULL));
    t_expect_error(MT_ERR_NULL, "mt_mean_all");
}
