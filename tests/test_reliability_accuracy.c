/* Accuracy of long sums, whatever the layout.
 *
 * A sum of n float terms added one at a time has a worst-case relative error of about n u
 * (u = 2^-24), and in practice loses everything once the running total dwarfs the terms (2^26
 * copies of 0.1f "sum" to 2.1e6 instead of 6.7e6). The kernels sum in blocks: at most
 * SEQ = 128 terms in a row into a fresh accumulator (the 32 interleaved lanes of a 4096-term
 * block of a reduction, plus a 5-level tree over the lanes; the 128-deep k slices of the naive
 * matmul), and the block totals pairwise (log2(n / block) levels). For terms of one sign,
 * Higham's bound for that order is
 *     |error| <= gamma(SEQ + 5 + log2(n / 128) + 1) * sum |x|,  gamma(m) = m u / (1 - m u),
 * i.e. about 156 u = 9.3e-6 relative for n = 2^26: every case below asks for <= 1e-5 relative to a
 * sum in double of the same float terms (all terms are positive, so sum |x| = |sum x|).
 * sgemm (blas backend) is held to the same 1e-5.
 *
 * Cases: (1 x k)(k x 1) products and a (5 x k)(k x 33) product (register tiles and edges) with
 * operands contiguous, strided (a column of a wider tensor), transposed and expanded (stride 0:
 * no memory), on both backends; sums and means of 2^24..2^26 terms contiguous, as a column of a
 * (n, 2) tensor (the blocked path), as a narrowed column (the strided path), permuted, and
 * expanded. Finally the same values reduced in every layout, and with 1..3 threads, give
 * bitwise-identical results (the summation order depends only on the shape). */
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOLERANCE 1e-5 /* gamma(156) = 9.3e-6 < 1e-5, see above */

static const char *backend_name(int which) { return which ? "blas" : "naive"; }

/* Relative error of the float result against `want` (a sum in double). */
static double relative_error(float got, double want) { return fabs((double)got - want) / fabs(want); }

static void expect_accurate(const char *what, const char *backend, float got, double want)
{
    double e = relative_error(got, want);
    cr_log_info("%s (%s): %.9g vs %.9g, relative error %.2e", what, backend, (double)got, want, e);
    cr_expect(e <= TOLERANCE, "%s (%s): got %.9g, want %.9g: relative error %.2e > %.0e", what,
              backend, (double)got, want, e, TOLERANCE);
}

static float *floats_of(const mt_tensor *t)
{
    float *v = t_floats(t);
    cr_assert_not_null(v);
    return v;
}

/* sum_i x[i * xs] * y[i * ys] in double */
static double dot_double(const float *x, int64_t xs, const float *y, int64_t ys, int64_t k)
{
    double s = 0.0;
    for (int64_t i = 0; i < k; i++) s += (double)x[i * xs] * (double)y[i * ys];
    return s;
}

/* ---- matrix products ---- */

#define K_LONG ((int64_t)1 << 24)

Test(accuracy, long_dot_products_every_layout_both_backends, .timeout = 240)
{
    mt_scope scope = mt_scope_begin();
    const int64_t k = K_LONG;
    /* contiguous operands, values in [0, 1) */
    mt_tensor *a = mt_rand_uniform(MT_DIMS(1, k), 0.0f, 1.0f, 11);
    mt_tensor *b = mt_rand_uniform(MT_DIMS(k, 1), 0.0f, 1.0f, 12);
    /* strided: the two columns of one (k, 2) tensor; a is its column 1 transposed into a row */
    mt_tensor *wide = mt_rand_uniform(MT_DIMS(k, 2), 0.0f, 1.0f, 13);
    mt_tensor *a_strided = mt_transpose(mt_narrow(wide, 1, 1, 1), 0, 1);
    mt_tensor *b_strided = mt_narrow(wide, 1, 0, 1);
    /* expanded: every term 0.1f * 1.0f, no memory */
    mt_tensor *a_expanded = mt_expand(mt_full(MT_DIMS(1, 1), 0.1f), MT_DIMS(1, k));
    mt_tensor *b_expanded = mt_expand(mt_full(MT_DIMS(1, 1), 1.0f), MT_DIMS(k, 1));
    cr_assert(a && b && a_strided && b_strided && a_expanded && b_expanded, "%s", mt_last_error());
    cr_assert_eq(mt_strides(a_strided)[1], 2);
    cr_assert_eq(mt_strides(a_expanded)[1], 0);

    float *av = floats_of(a), *bv = floats_of(b), *wv = floats_of(wide);
    const double want_contiguous = dot_double(av, 1, bv, 1, k);
    const double want_strided = dot_double(wv + 1, 2, wv, 2, k);
    const double want_mixed = dot_double(wv + 1, 2, bv, 1, k);
    const double want_expanded = (double)0.1f * (double)k;
    free(av);
    free(bv);
    free(wv);

    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *c = mt_matmul(a, b);
        mt_tensor *s = mt_matmul(a_strided, b_strided);
        mt_tensor *e = mt_matmul(a_expanded, b_expanded);
        mt_tensor *mixed = mt_matmul(a_strided, b);
        cr_assert(c && s && e && mixed, "%s", mt_last_error());
        expect_accurate("contiguous (1 x 2^24)(2^24 x 1)", backend_name(be), mt_item(c), want_contiguous);
        expect_accurate("strided (1 x 2^24)(2^24 x 1)", backend_name(be), mt_item(s), want_strided);
        expect_accurate("expanded (1 x 2^24)(2^24 x 1)", backend_name(be), mt_item(e), want_expanded);
        expect_accurate("strided a, contiguous b", backend_name(be), mt_item(mixed), want_mixed);
    }
    mt_scope_end(scope);
}

/* Register tiles (4 rows x 32 columns), an edge row and an edge column, with a long k; b read
 * both as stored and transposed. */
Test(accuracy, long_k_tiles_both_backends, .timeout = 240)
{
    mt_scope scope = mt_scope_begin();
    const int64_t n = 5, k = (int64_t)1 << 19, m = 33;
    mt_tensor *a = mt_rand_uniform(MT_DIMS(n, k), 0.0f, 1.0f, 21);
    mt_tensor *b = mt_rand_uniform(MT_DIMS(k, m), 0.0f, 1.0f, 22);
    mt_tensor *bt_storage = mt_rand_uniform(MT_DIMS(m, k), 0.0f, 1.0f, 23);
    mt_tensor *bt = mt_transpose(bt_storage, 0, 1); /* (k, m), strides (1, k) */
    cr_assert(a && b && bt, "%s", mt_last_error());
    float *av = floats_of(a), *bv = floats_of(b), *btv = floats_of(bt_storage);
    double *want = malloc(sizeof(double) * (size_t)(n * m));
    double *want_t = malloc(sizeof(double) * (size_t)(n * m));
    cr_assert(want && want_t);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
            want[i * m + j] = dot_double(av + i * k, 1, bv + j, m, k);
            want_t[i * m + j] = dot_double(av + i * k, 1, btv + j * k, 1, k);
        }
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *c = mt_matmul(a, b), *ct = mt_matmul(a, bt);
        cr_assert(c && ct, "%s", mt_last_error());
        float *cv = floats_of(c), *ctv = floats_of(ct);
        double worst = 0.0, worst_t = 0.0;
        for (int64_t i = 0; i < n * m; i++) {
            worst = fmax(worst, relative_error(cv[i], want[i]));
            worst_t = fmax(worst_t, relative_error(ctv[i], want_t[i]));
        }
        cr_log_info("(5 x 2^19)(2^19 x 33) (%s): worst relative error %.2e, b transposed %.2e",
                    backend_name(be), worst, worst_t);
        cr_expect(worst <= TOLERANCE, "(5 x 2^19)(2^19 x 33) (%s): relative error %.2e",
                  backend_name(be), worst);
        cr_expect(worst_t <= TOLERANCE, "(5 x 2^19)(2^19 x 33), b transposed (%s): relative error %.2e",
                  backend_name(be), worst_t);
        free(cv);
        free(ctv);
    }
    free(av);
    free(bv);
    free(btv);
    free(want);
    free(want_t);
    mt_scope_end(scope);
}

/* ---- reductions (shared by both backends: run once per backend by ctest) ---- */

Test(accuracy, long_sums_every_layout, .timeout = 240)
{
    mt_scope scope = mt_scope_begin();
    const int64_t n = (int64_t)1 << 24;
    /* one random storage of 2n floats, seen as (n, 2) and as (2, n) */
    mt_tensor *wide = mt_rand_uniform(MT_DIMS(n, 2), 0.0f, 1.0f, 31);
    mt_tensor *rows = mt_view(wide, MT_DIMS(2, n));
    cr_assert(wide && rows, "%s", mt_last_error());
    float *wv = floats_of(wide);
    double col[2] = {0, 0}, row[2] = {0, 0}, all = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) {
            col[c] += wv[i * 2 + c];
            row[c] += wv[c * n + i];
        }
    all = col[0] + col[1];
    free(wv);

    /* contiguous: sum_all of the (n, 2) tensor, and each row of (2, n) */
    mt_tensor *s_all = mt_sum_all(wide), *m_all = mt_mean_all(wide);
    mt_tensor *s_rows = mt_sum(rows, 1);
    /* blocked: both columns of (n, 2) at once */
    mt_tensor *s_cols = mt_sum(wide, 0), *m_cols = mt_mean(wide, 0);
    /* strided: one column, stride 2 */
    mt_tensor *s_col1 = mt_sum(mt_narrow(wide, 1, 1, 1), 0);
    /* permuted: (2, n) seen as (n, 2); the reduced dim is contiguous in storage */
    mt_tensor *s_perm = mt_sum(mt_transpose(rows, 0, 1), 0);
    cr_assert(s_all && m_all && s_rows && s_cols && m_cols && s_col1 && s_perm, "%s", mt_last_error());
    const char *be = "shared reduction kernel";
    expect_accurate("sum_all of 2^25 (contiguous)", be, mt_item(s_all), all);
    expect_accurate("mean_all of 2^25 (contiguous)", be, mt_item(m_all), all / (double)(2 * n));
    for (int c = 0; c < 2; c++) {
        float v;
        cr_assert_eq(mt_get(s_rows, (const int64_t[]){c, 0}, &v), MT_OK);
        expect_accurate("row sum of 2^24 (contiguous)", be, v, row[c]);
        cr_assert_eq(mt_get(s_cols, (const int64_t[]){0, c}, &v), MT_OK);
        expect_accurate("column sum of 2^24 (blocked)", be, v, col[c]);
        cr_assert_eq(mt_get(m_cols, (const int64_t[]){0, c}, &v), MT_OK);
        expect_accurate("column mean of 2^24 (blocked)", be, v, col[c] / (double)n);
        cr_assert_eq(mt_get(s_perm, (const int64_t[]){0, c}, &v), MT_OK);
        expect_accurate("permuted sum of 2^24", be, v, row[c]);
    }
    expect_accurate("narrowed column sum of 2^24 (strided)", be, mt_item(s_col1), col[1]);
    mt_scope_end(scope);
}

Test(accuracy, long_sums_of_expanded_views, .timeout = 240)
{
    mt_scope scope = mt_scope_begin();
    const int64_t n = (int64_t)1 << 26;
    const double tenth = (double)0.1f;
    mt_tensor *one = mt_full(MT_DIMS(1), 0.1f);
    mt_tensor *pair = mt_from_data(MT_DIMS(1, 2), (const float[]){0.1f, 0.3f});
    cr_assert(one && pair);
    mt_tensor *flat = mt_expand(one, MT_DIMS(n));                 /* stride 0: the strided path */
    mt_tensor *cols = mt_expand(pair, MT_DIMS((int64_t)1 << 24, 2)); /* strides (0, 1): blocked */
    cr_assert(flat && cols, "%s", mt_last_error());
    mt_tensor *s = mt_sum(flat, 0), *m = mt_mean(flat, 0), *sc = mt_sum(cols, 0);
    cr_assert(s && m && sc, "%s", mt_last_error());
    const char *be = "shared reduction kernel";
    expect_accurate("sum of 2^26 x 0.1f (expanded)", be, mt_item(s), tenth * (double)n);
    expect_accurate("mean of 2^26 x 0.1f (expanded)", be, mt_item(m), tenth);
    float v0, v1;
    cr_assert_eq(mt_get(sc, (const int64_t[]){0, 0}, &v0), MT_OK);
    cr_assert_eq(mt_get(sc, (const int64_t[]){0, 1}, &v1), MT_OK);
    expect_accurate("column sum of 2^24 x 0.1f (expanded)", be, v0, tenth * (double)(1 << 24));
    expect_accurate("column sum of 2^24 x 0.3f (expanded)", be, v1, (double)0.3f * (double)(1 << 24));
    mt_scope_end(scope);
}

/* ---- the same values give the same bits in every layout and for every thread count ---- */

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Sums of the n values `v` (and their max and product, scaled to stay finite) reduced as: a
 * contiguous vector, one column of an (n, 3) tensor with all three columns reduced at once
 * (blocked), a narrowed column (strided), a permuted (3, n) storage and a column of an expanded
 * (n, 3) view of an (n, 1) tensor; each with 1, 2 and 3 threads. All must equal the first. */
static void check_layouts(int64_t n, t_rng *rng)
{
    float *v = malloc(sizeof(float) * (size_t)n), *wide = malloc(sizeof(float) * (size_t)(3 * n)),
          *perm = malloc(sizeof(float) * (size_t)(3 * n));
    cr_assert(v && wide && perm);
    for (int64_t i = 0; i < n; i++) v[i] = (float)t_rng_uniform(rng, 0.5, 1.5);
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            float x = c == 1 ? v[i] : (float)t_rng_uniform(rng, -1.0, 1.0);
            wide[i * 3 + c] = x;
            perm[c * n + i] = x;
        }
    mt_scope scope = mt_scope_begin();
    mt_tensor *flat = mt_from_data(MT_DIMS(n), v);
    mt_tensor *w = mt_from_data(MT_DIMS(n, 3), wide);
    mt_tensor *p = mt_transpose(mt_from_data(MT_DIMS(3, n), perm), 0, 1);
    mt_tensor *e = mt_expand(mt_from_data(MT_DIMS(n, 1), v), MT_DIMS(n, 3));
    cr_assert(flat && w && p && e, "%s", mt_last_error());
    const mt_reduce_op ops[3] = {MT_OP_SUM, MT_OP_MAX, MT_OP_PROD};
    const char *names[3] = {"sum", "max", "prod"};
    for (int o = 0; o < 3; o++) {
        uint32_t first = 0;
        for (int threads = 1; threads <= 3; threads++) {
            cr_assert_eq(mt_set_num_threads(threads), MT_OK);
            mt_tensor *r[4];
            r[0] = mt_zeros(MT_DIMS(1));
            r[1] = mt_zeros(MT_DIMS(1, 3));
            r[2] = mt_zeros(MT_DIMS(1, 3));
            r[3] = mt_zeros(MT_DIMS(1, 3));
            cr_assert(r[0] && r[1] && r[2] && r[3]);
            /* products of n values in [0.5, 1.5) overflow or underflow: take the product of the
             * first 64 only */
            int64_t len = ops[o] == MT_OP_PROD && n > 64 ? 64 : n;
            cr_assert_eq(mt_reduce_out(r[0], ops[o], mt_narrow(flat, 0, 0, len), 0), MT_OK, "%s", mt_last_error());
            mt_tensor *wn = mt_narrow(w, 0, 0, len), *pn = mt_narrow(p, 0, 0, len), *en = mt_narrow(e, 0, 0, len);
            mt_tensor *r2 = mt_zeros(MT_DIMS(1, 1));
            cr_assert_eq(mt_reduce_out(r[1], ops[o], wn, 0), MT_OK, "%s", mt_last_error());
            cr_assert_eq(mt_reduce_out(r2, ops[o], mt_narrow(wn, 1, 1, 1), 0), MT_OK, "%s", mt_last_error());
            cr_assert_eq(mt_reduce_out(r[2], ops[o], pn, 0), MT_OK, "%s", mt_last_error());
            cr_assert_eq(mt_reduce_out(r[3], ops[o], en, 0), MT_OK, "%s", mt_last_error());
            float got[5];
            got[0] = mt_item(r[0]);
            cr_assert_eq(mt_get(r[1], (const int64_t[]){0, 1}, &got[1]), MT_OK);
            got[2] = mt_item(r2);
            cr_assert_eq(mt_get(r[2], (const int64_t[]){0, 1}, &got[3]), MT_OK);
            cr_assert_eq(mt_get(r[3], (const int64_t[]){0, 2}, &got[4]), MT_OK);
            static const char *layouts[5] = {"contiguous", "blocked column", "strided column",
                                             "permuted", "expanded"};
            if (threads == 1) first = bits_of(got[0]);
            for (int l = 0; l < 5; l++)
                cr_expect_eq(bits_of(got[l]), first,
                             "%s of %lld values, %s layout, %d threads: %.9g, contiguous with 1 "
                             "thread gave %.9g", names[o], (long long)len, layouts[l], threads,
                             (double)got[l], (double)mt_item(r[0]));
        }
    }
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
    mt_scope_end(scope);
    free(v);
    free(wide);
    free(perm);
}

Test(accuracy, same_bits_in_every_layout_and_thread_count, .timeout = 240)
{
    t_rng rng = t_rng_seed(41);
    const int64_t sizes[] = {7, 9, 33, 100, 4095, 4097, 70001, 300007, (int64_t)1 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) check_layouts(sizes[s], &rng);
}
