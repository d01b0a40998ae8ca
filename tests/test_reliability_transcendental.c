/* exp, log, sigmoid and tanh give the same bits for the same input wherever it sits.
 *
 * The vectorized loops compute expf/logf with glibc's vector math library, whose results may
 * differ from the scalar expf/logf by a few ulp; if a loop's remainder (or a peeled head) went
 * through the scalar function, the same value would give different bits depending on its
 * position, its tensor's length, or the layout (a transposed operand is read in 64 x 64 tiles,
 * a broadcast one along a zero stride). Here a set of values is computed once as a contiguous
 * tensor (the reference) and then placed at every offset 0..63 of a longer contiguous tensor,
 * alone in tensors of every length 1..64, in a transposed (tiled) layout whose tiles have a
 * 6-wide remainder, and in two broadcast layouts; every result must have the reference's bits.
 * The reference itself is checked against the double-precision function (within 4 ulp, the
 * documented accuracy of glibc's float functions, scalar or vector). */
#include "testing.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VALUES 256
#define WIDTH 70 /* columns of the tiled and broadcast layouts: a 64-wide tile and a 6-wide one */

typedef mt_tensor *(*unary_fn)(mt_tensor *);
static double o_exp(double x) { return exp(x); }
static double o_log(double x) { return log(x); }
static double o_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double o_tanh(double x) { return tanh(x); }

static const struct {
    const char *name;
    unary_fn call;
    double (*oracle)(double);
    double lo, hi; /* inputs */
} ops[] = {
    {"exp", mt_exp, o_exp, -20.0, 20.0},
    {"log", mt_log, o_log, 1e-3, 1e3},
    {"sigmoid", mt_sigmoid, o_sigmoid, -20.0, 20.0},
    {"tanh", mt_tanh, o_tanh, -5.0, 5.0},
};

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Distance in ulps between two finite floats of the same sign. */
static double ulps(float got, double want)
{
    float w = (float)want;
    float spacing = nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / (double)spacing;
}

typedef struct checker {
    const char *op;
    const float *x, *ref;
    int mismatches;
} checker;

static void expect_same(checker *c, const char *layout, int64_t where, int value, float got)
{
    if (bits_of(got) == bits_of(c->ref[value])) return;
    if (c->mismatches++ < 5)
        cr_expect_fail("%s(%.9g) in %s (position %lld) gave %.9g (0x%08x), the contiguous "
                       "reference %.9g (0x%08x)", c->op, (double)c->x[value], layout,
                       (long long)where, (double)got, bits_of(got), (double)c->ref[value],
                       bits_of(c->ref[value]));
}

static void check_op(int o)
{
    mt_scope scope = mt_scope_begin();
    t_rng rng = t_rng_seed(100 + (uint64_t)o);
    float x[VALUES], ref[VALUES];
    for (int i = 0; i < VALUES; i++) x[i] = (float)t_rng_uniform(&rng, ops[o].lo, ops[o].hi);
    mt_tensor *r = ops[o].call(mt_from_data(MT_DIMS(VALUES), x));
    cr_assert_not_null(r, "%s", mt_last_error());
    cr_assert_eq(mt_copy_to(r, ref, VALUES), MT_OK);
    for (int i = 0; i < VALUES; i++)
        cr_expect(ulps(ref[i], ops[o].oracle(x[i])) <= 4.0, "%s(%.9g) = %.9g, true value %.9g",
                  ops[o].name, (double)x[i], (double)ref[i], ops[o].oracle(x[i]));
    checker c = {ops[o].name, x, ref, 0};

    /* every offset 0..63 of a contiguous tensor, with a ragged length */
    float buffer[64 + VALUES + 64], out[64 + VALUES + 64];
    for (int offset = 0; offset < 64; offset++) {
        int64_t n = offset + VALUES + offset % 13;
        for (int64_t i = 0; i < n; i++) buffer[i] = x[(i + VALUES - offset % VALUES) % VALUES];
        mt_tensor *y = ops[o].call(mt_from_data(MT_DIMS(n), buffer));
        cr_assert_not_null(y);
        cr_assert_eq(mt_copy_to(y, out, n), MT_OK);
        for (int64_t i = 0; i < n; i++) {
            int value = (int)((i + VALUES - offset % VALUES) % VALUES);
            expect_same(&c, "a contiguous tensor at an offset", i, value, out[i]);
        }
    }
    /* alone, in tensors of every length 1..64 */
    for (int n = 1; n <= 64; n++)
        for (int start = 0; start + n <= VALUES; start += 61) {
            mt_tensor *y = ops[o].call(mt_from_data(MT_DIMS(n), x + start));
            cr_assert_not_null(y);
            cr_assert_eq(mt_copy_to(y, out, n), MT_OK);
            for (int i = 0; i < n; i++) expect_same(&c, "a short tensor", i, start + i, out[i]);
        }

    /* transposed: y = f(s^T) with s (WIDTH, ROWS) contiguous, read in tiles */
    enum { ROWS = 40 };
    float *s = malloc(sizeof(float) * WIDTH * ROWS), *ys = malloc(sizeof(float) * WIDTH * ROWS);
    cr_assert(s && ys);
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < WIDTH; j++) s[j * ROWS + i] = x[(i * WIDTH + j) % VALUES];
    mt_tensor *st = mt_transpose(mt_from_data(MT_DIMS(WIDTH, ROWS), s), 0, 1);
    mt_tensor *y = ops[o].call(st);
    cr_assert_not_null(y);
    cr_assert_eq(mt_copy_to(y, ys, WIDTH * ROWS), MT_OK);
    for (int i = 0; i < ROWS * WIDTH; i++) expect_same(&c, "a transposed layout", i, i % VALUES, ys[i]);

    /* broadcast: a (1, WIDTH) row expanded to (3, WIDTH), and a (WIDTH, 1) column to (WIDTH, 9) */
    for (int shift = 0; shift < VALUES; shift += WIDTH) {
        float row[WIDTH];
        for (int j = 0; j < WIDTH; j++) row[j] = x[(shift + j) % VALUES];
        mt_tensor *yr = ops[o].call(mt_expand(mt_from_data(MT_DIMS(1, WIDTH), row), MT_DIMS(3, WIDTH)));
        mt_tensor *yc = ops[o].call(mt_expand(mt_from_data(MT_DIMS(WIDTH, 1), row), MT_DIMS(WIDTH, 9)));
        cr_assert(yr && yc, "%s", mt_last_error());
        cr_assert_eq(mt_copy_to(yr, ys, 3 * WIDTH), MT_OK);
        for (int i = 0; i < 3 * WIDTH; i++)
            expect_same(&c, "a broadcast row", i, (shift + i % WIDTH) % VALUES, ys[i]);
        cr_assert_eq(mt_copy_to(yc, ys, 9 * WIDTH), MT_OK);
        for (int i = 0; i < 9 * WIDTH; i++)
            expect_same(&c, "a broadcast column", i, (shift + i / 9) % VALUES, ys[i]);
    }
    if (c.mismatches) cr_log_error("%s: %d mismatching results", ops[o].name, c.mismatches);
    free(s);
    free(ys);
    mt_scope_end(scope);
}

Test(transcendental, exp_same_bits_everywhere) { check_op(0); }
Test(transcendental, log_same_bits_everywhere) { check_op(1); }
Test(transcendental, sigmoid_same_bits_everywhere) { check_op(2); }
Test(transcendental, tanh_same_bits_everywhere) { check_op(3); }
