/* Joins, shape views and gathering: mt_cat, mt_stack, mt_split, mt_squeeze, mt_unsqueeze,
 * mt_flatten, mt_index_select — forward values, shapes, storage sharing, determinism of
 * index_select's gradient, and errors.
 *
 * Inputs are random shapes (1-4 dims, sizes 1-4) built in four layouts: contiguous, permuted
 * storage, a narrowed window of a larger buffer (t_tensor's layouts 0-2) and an expanded
 * (zero-stride) tensor. Expected values come from the test's own index arithmetic on the
 * logical (row-major) values. Every op here only moves values, so they must match exactly
 * (tolerance 0). Each suite runs once per backend under ctest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define ITERATIONS 120
#define LAYOUTS 4

typedef struct input {
    mt_tensor *t;
    double *v; /* logical values, row-major */
    int ndim;
    int64_t shape[MT_MAX_DIMS];
} input;

/* A tensor of the given shape in `layout` (0-2: t_tensor's; 3: expanded from a shape with some
 * dims set to 1), holding random values. */
static input make_input(t_rng *r, int ndim, const int64_t *shape, int layout)
{
    input in = {.ndim = ndim};
    memcpy(in.shape, shape, sizeof(int64_t) * (size_t)ndim);
    if (layout < 3) {
        in.v = t_random_values(r, t_numel(ndim, shape), -8, 8);
        in.t = t_tensor(r, ndim, shape, in.v, layout);
        return in;
    }
    int64_t small[MT_MAX_DIMS];
    int ns = t_random_shrunk_shape(r, ndim, shape, false, small);
    double *small_values = t_random_values(r, t_numel(ns, small), -8, 8);
    in.t = t_expanded_tensor(r, ndim, shape, ns, small, small_values, t_rng_int(r, 0, 2), &in.v);
    free(small_values);
    return in;
}

static void drop_input(input *in)
{
    cr_assert_eq(mt_release(in->t), MT_OK);
    free(in->v);
}

/* Asserts t has (ndim, shape), is contiguous and holds `expected` exactly. */
static void expect_values(const char *what, mt_tensor *t, int ndim, const int64_t *shape,
                          const double *expected)
{
    cr_assert_not_null(t, "%s: %s", what, mt_last_error());
    t_expect_shape(t, ndim, shape);
    t_expect_close(what, t, expected, 0, 0);
}

static void remove_dim(int ndim, const int64_t *in, int d, int64_t *out)
{
    for (int i = 0, j = 0; i < ndim; i++)
        if (i != d) out[j++] = in[i];
}

/* ---- cat and stack ---- */

Test(cat, matches_oracle_on_every_layout)
{
    t_rng r = t_rng_seed(101);
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t s[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 4, s);
        int d = t_rng_int(&r, 0, nd - 1), dim = t_rng_int(&r, 0, 1) ? d - nd : d;
        int n = t_rng_int(&r, 1, 7); /* more than 3 parts: the history becomes a tree */
        input parts[7];
        mt_tensor *ts[7];
        int64_t out_shape[MT_MAX_DIMS];
        memcpy(out_shape, s, sizeof s);
        out_shape[d] = 0;
        for (int i = 0; i < n; i++) {
            int64_t ps[MT_MAX_DIMS];
            memcpy(ps, s, sizeof s);
            ps[d] = t_rng_int(&r, 1, 3);
            parts[i] = make_input(&r, nd, ps, t_rng_int(&r, 0, LAYOUTS - 1));
            ts[i] = parts[i].t;
            out_shape[d] += ps[d];
        }
        int64_t total = t_numel(nd, out_shape), idx[MT_MAX_DIMS] = {0};
        double *want = malloc(sizeof(double) * (size_t)total);
        do {
            int64_t src[MT_MAX_DIMS];
            memcpy(src, idx, sizeof src);
            int p = 0;
            while (src[d] >= parts[p].shape[d]) src[d] -= parts[p++].shape[d];
            want[t_ordinal(nd, out_shape, idx)] = parts[p].v[t_ordinal(nd, parts[p].shape, src)];
        } while (t_next_index(nd, out_shape, idx));
        mt_tensor *out = mt_cat(n, ts, dim);
        expect_values("mt_cat", out, nd, out_shape, want);
        cr_assert(mt_is_contiguous(out));
        for (int i = 0; i < n; i++) cr_assert_not(mt_shares_storage(out, ts[i]));
        mt_release(out);
        free(want);
        for (int i = 0; i < n; i++) drop_input(&parts[i]);
    }
}

Test(stack, matches_oracle_on_every_layout)
{
    t_rng r = t_rng_seed(102);
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t s[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 3, s);
        int d = t_rng_int(&r, 0, nd), dim = t_rng_int(&r, 0, 1) ? d - nd - 1 : d;
        int n = t_rng_int(&r, 1, 5);
        input parts[5];
        mt_tensor *ts[5];
        for (int i = 0; i < n; i++) {
            parts[i] = make_input(&r, nd, s, t_rng_int(&r, 0, LAYOUTS - 1));
            ts[i] = parts[i].t;
        }
        int64_t out_shape[MT_MAX_DIMS], idx[MT_MAX_DIMS] = {0};
        for (int i = 0, j = 0; i <= nd; i++) out_shape[i] = i == d ? n : s[j++];
        double *want = malloc(sizeof(double) * (size_t)t_numel(nd + 1, out_shape));
        do {
            int64_t src[MT_MAX_DIMS];
            remove_dim(nd + 1, idx, d, src);
            want[t_ordinal(nd + 1, out_shape, idx)] = parts[idx[d]].v[t_ordinal(nd, s, src)];
        } while (t_next_index(nd + 1, out_shape, idx));
        mt_tensor *out = mt_stack(n, ts, dim);
        expect_values("mt_stack", out, nd + 1, out_shape, want);
        mt_release(out);
        free(want);
        for (int i = 0; i < n; i++) drop_input(&parts[i]);
    }
}

Test(cat, errors)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3)), *b = t_arange(MT_DIMS(2, 4)), *c = t_arange(MT_DIMS(3));
    mt_tensor *ab[] = {a, b}, *ac[] = {a, c}, *anull[] = {a, NULL};
    cr_assert_null(mt_cat(2, ab, 0)); /* dim 1 differs: only dim 1 may */
    t_expect_error(MT_ERR_SHAPE, "mt_cat");
    cr_assert(strstr(mt_last_error(), "ts[1] has shape [2,4]"), "%s", mt_last_error());
    mt_tensor *ok = mt_cat(2, ab, 1);
    cr_assert_not_null(ok);
    t_expect_shape(ok, 2, (const int64_t[]){2, 7});
    mt_release(ok);
    cr_assert_null(mt_cat(2, ac, 0)); /* ndim differs */
    t_expect_error(MT_ERR_SHAPE, "mt_cat");
    mt_clear_error();
    cr_assert_null(mt_cat(2, anull, 0));
    t_expect_error(MT_ERR_NULL, "mt_cat");
    cr_assert(strstr(mt_last_error(), "ts[1]"), "%s", mt_last_error());
    cr_assert_null(mt_cat(0, ab, 0));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_cat");
    cr_assert_null(mt_cat(2, ab, 2));
    t_expect_error(MT_ERR_INDEX, "mt_cat");
    mt_tensor *aa[] = {a, a};
    cr_assert_null(mt_stack(2, ab, 0));
    t_expect_error(MT_ERR_SHAPE, "mt_stack");
    cr_assert_null(mt_stack(2, aa, 3));
    t_expect_error(MT_ERR_INDEX, "mt_stack");
    cr_assert_null(mt_stack(2, aa, -4));
    t_expect_error(MT_ERR_INDEX, "mt_stack");
    mt_tensor *s = mt_stack(2, aa, -3);
    cr_assert_not_null(s);
    t_expect_shape(s, 3, (const int64_t[]){2, 2, 3});
    mt_release(s);
    mt_release(a), mt_release(b), mt_release(c);
}

/* ---- split ---- */

Test(split, views_match_oracle)
{
    t_rng r = t_rng_seed(103);
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t s[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 5, s);
        int d = t_rng_int(&r, 0, nd - 1), dim = t_rng_int(&r, 0, 1) ? d - nd : d;
        int64_t size = t_rng_int(&r, 1, (int)s[d] + 1); /* a size above the dim gives one piece */
        input in = make_input(&r, nd, s, t_rng_int(&r, 0, LAYOUTS - 1));
        mt_tensor *pieces[8];
        int count = mt_split(in.t, size, dim, pieces, 8);
        int64_t want_count = (s[d] + size - 1) / size;
        cr_assert_eq(count, want_count, "%s", mt_last_error());
        for (int k = 0; k < count; k++) {
            int64_t ps[MT_MAX_DIMS], idx[MT_MAX_DIMS] = {0};
            memcpy(ps, s, sizeof s);
            ps[d] = s[d] - k * size < size ? s[d] - k * size : size;
            double *want = malloc(sizeof(double) * (size_t)t_numel(nd, ps));
            do {
                int64_t src[MT_MAX_DIMS];
                memcpy(src, idx, sizeof src);
                src[d] += k * size;
                want[t_ordinal(nd, ps, idx)] = in.v[t_ordinal(nd, s, src)];
            } while (t_next_index(nd, ps, idx));
            expect_values("mt_split piece", pieces[k], nd, ps, want);
            cr_assert(mt_shares_storage(pieces[k], in.t));
            mt_release(pieces[k]);
            free(want);
        }
        drop_input(&in);
    }
}

Test(split, errors_return_nothing)
{
    mt_tensor *a = t_arange(MT_DIMS(5, 2));
    mt_tensor *out[2] = {NULL, NULL};
    const int64_t live = t_live_tensors();
    cr_assert_eq(mt_split(a, 2, 0, out, 2), -1); /* 3 pieces */
    t_expect_error(MT_ERR_INVALID_ARG, "mt_split");
    cr_assert(out[0] == NULL && out[1] == NULL);
    cr_assert_eq(t_live_tensors(), live);
    cr_assert_eq(mt_split(a, 0, 0, out, 2), -1);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_split");
    cr_assert_eq(mt_split(a, 1, 2, out, 2), -1);
    t_expect_error(MT_ERR_INDEX, "mt_split");
    cr_assert_eq(mt_split(a, 3, 0, out, 2), 2); /* pieces of 3 and 2 */
    t_expect_shape(out[1], 2, (const int64_t[]){2, 2});
    mt_release(out[0]), mt_release(out[1]);
    mt_release(a);
}

/* ---- squeeze, unsqueeze, flatten ---- */

Test(squeeze, views_with_unit_dims_removed_or_inserted)
{
    t_rng r = t_rng_seed(104);
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t s[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 3, s);
        int d = t_rng_int(&r, 0, nd - 1);
        if (t_rng_int(&r, 0, 2)) s[d] = 1;
        input in = make_input(&r, nd, s, t_rng_int(&r, 0, LAYOUTS - 1));
        /* squeeze: the dim goes when it has size 1 and is not the only one */
        int64_t sq[MT_MAX_DIMS];
        int sq_nd = nd;
        memcpy(sq, s, sizeof s);
        if (s[d] == 1 && nd > 1) remove_dim(nd, s, d, sq), sq_nd--;
        mt_tensor *q = mt_squeeze(in.t, t_rng_int(&r, 0, 1) ? d - nd : d);
        expect_values("mt_squeeze", q, sq_nd, sq, in.v);
        cr_assert(mt_shares_storage(q, in.t));
        mt_release(q);
        /* unsqueeze anywhere in [-nd-1, nd] */
        int u = t_rng_int(&r, 0, nd);
        int64_t us[MT_MAX_DIMS];
        for (int i = 0, j = 0; i <= nd; i++) us[i] = i == u ? 1 : s[j++];
        mt_tensor *e = mt_unsqueeze(in.t, t_rng_int(&r, 0, 1) ? u - nd - 1 : u);
        expect_values("mt_unsqueeze", e, nd + 1, us, in.v);
        cr_assert(mt_shares_storage(e, in.t));
        cr_assert_eq(mt_is_contiguous(e), mt_is_contiguous(in.t));
        mt_release(e);
        drop_input(&in);
    }
    /* (1,) stays (1,): tensors have at least one dim */
    mt_tensor *one = mt_scalar(3.0f), *q = mt_squeeze(one, 0);
    t_expect_shape(q, 1, (const int64_t[]){1});
    cr_assert_eq(mt_item(q), 3.0f);
    mt_release(q), mt_release(one);
}

Test(flatten, merges_dims_as_a_view_when_strides_allow)
{
    t_rng r = t_rng_seed(105);
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t s[MT_MAX_DIMS];
        int nd = t_random_shape(&r, 1, 4, 4, s);
        int first = t_rng_int(&r, 0, nd - 1), last = t_rng_int(&r, first, nd - 1);
        input in = make_input(&r, nd, s, t_rng_int(&r, 0, LAYOUTS - 1));
        int64_t fs[MT_MAX_DIMS];
        int fnd = 0;
        for (int i = 0; i < nd; i++) {
            if (i > first && i <= last) fs[fnd - 1] *= s[i];
            else fs[fnd++] = s[i];
        }
        mt_tensor *f = mt_flatten(in.t, first, last - nd);
        expect_values("mt_flatten", f, fnd, fs, in.v);
        if (mt_is_contiguous(in.t)) cr_assert(mt_shares_storage(f, in.t));
        mt_release(f);
        drop_input(&in);
    }
    /* a permuted tensor whose merged dims still step evenly: a view; one that does not: a copy */
    mt_tensor *t = t_arange(MT_DIMS(2, 3, 4));
    mt_tensor *p = mt_permute(t, (const int[]){2, 0, 1}); /* (4,2,3), strides (1,12,4) */
    mt_tensor *v = mt_flatten(p, 1, 2), *c = mt_flatten(p, 0, 1);
    t_expect_shape(v, 2, (const int64_t[]){4, 6});
    t_expect_strides(v, 2, (const int64_t[]){1, 4});
    cr_assert(mt_shares_storage(v, t));
    t_expect_shape(c, 2, (const int64_t[]){8, 3});
    cr_assert_not(mt_shares_storage(c, t));
    cr_assert_null(mt_flatten(t, 2, 1));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_flatten");
    cr_assert_null(mt_flatten(t, 0, 3));
    t_expect_error(MT_ERR_INDEX, "mt_flatten");
    mt_tensor *same = mt_flatten(t, 1, 1);
    cr_assert_eq(same, t);
    mt_release(same), mt_release(v), mt_release(c), mt_release(p), mt_release(t);
}

Test(unsqueeze, errors)
{
    mt_tensor *t = t_arange(MT_DIMS(2, 3));
    cr_assert_null(mt_unsqueeze(t, 3));
    t_expect_error(MT_ERR_INDEX, "mt_unsqueeze");
    cr_assert_null(mt_unsqueeze(t, -4));
    t_expect_error(MT_ERR_INDEX, "mt_unsqueeze");
    cr_assert_null(mt_squeeze(t, 2));
    t_expect_error(MT_ERR_INDEX, "mt_squeeze");
    mt_tensor *eight = t_arange(MT_DIMS(1, 1, 1, 1, 1, 1, 1, 2));
    cr_assert_null(mt_unsqueeze(eight, 0));
    t_expect_error(MT_ERR_SHAPE, "mt_unsqueeze");
    mt_release(eight), mt_release(t);
}

/* ---- index_select ---- */

Test(index_select, matches_oracle_on_every_layout)
{
    t_rng r = t_rng_seed(106);
    for (int it = 0; it < ITERATIONS; it++) {
        int64_t s[MT_MAX_DIMS], index[9];
        int nd = t_random_shape(&r, 1, 4, 4, s);
        int d = t_rng_int(&r, 0, nd - 1), dim = t_rng_int(&r, 0, 1) ? d - nd : d;
        int n = t_rng_int(&r, 1, 9);
        for (int j = 0; j < n; j++) index[j] = t_rng_int(&r, 0, (int)s[d] - 1);
        input in = make_input(&r, nd, s, t_rng_int(&r, 0, LAYOUTS - 1));
        int64_t os[MT_MAX_DIMS], idx[MT_MAX_DIMS] = {0};
        memcpy(os, s, sizeof s);
        os[d] = n;
        double *want = malloc(sizeof(double) * (size_t)t_numel(nd, os));
        do {
            int64_t src[MT_MAX_DIMS];
            memcpy(src, idx, sizeof src);
            src[d] = index[idx[d]];
            want[t_ordinal(nd, os, idx)] = in.v[t_ordinal(nd, s, src)];
        } while (t_next_index(nd, os, idx));
        mt_tensor *out = mt_index_select(in.t, dim, n, index);
        expect_values("mt_index_select", out, nd, os, want);
        cr_assert(mt_is_contiguous(out));
        mt_release(out);
        free(want);
        drop_input(&in);
    }
}

/* A table large enough to use several threads (rows of 33 floats, so blocks are not aligned),
 * gathered by 5000 indices with many repeats, forward and backward at 1, 2 and 3 threads:
 *  - with integer gradients every sum is exact in any order, so the gradient must equal the
 *    oracle's sums exactly;
 *  - with random gradients the sums round, and the bits must not depend on the thread count. */
Test(index_select, large_gather_and_deterministic_scatter_add, .timeout = 300)
{
    enum { ROWS = 2000, COLS = 33, N = 5000 };
    t_rng r = t_rng_seed(107);
    double *table = t_random_values(&r, (int64_t)ROWS * COLS, -4, 4);
    int64_t *index = malloc(sizeof(int64_t) * N);
    for (int j = 0; j < N; j++) index[j] = t_rng_int(&r, 0, ROWS / 4); /* ~10 repeats each */
    double *g_int = t_grid_values(&r, (int64_t)N * COLS, -16, 16, 1.0);
    double *g_rand = t_random_values(&r, (int64_t)N * COLS, -1, 1);
    double *want_grad = calloc((size_t)ROWS * COLS, sizeof(double));
    for (int j = 0; j < N; j++)
        for (int c = 0; c < COLS; c++) want_grad[index[j] * COLS + c] += g_int[(int64_t)j * COLS + c];
    double *want = malloc(sizeof(double) * (size_t)N * COLS);
    for (int j = 0; j < N; j++)
        for (int c = 0; c < COLS; c++) want[(int64_t)j * COLS + c] = table[index[j] * COLS + c];
    float *first_bits = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(mt_set_num_threads(threads), MT_OK);
        for (int layout = 0; layout < 2; layout++) {
            mt_tensor *x = t_tensor(&r, 2, (const int64_t[]){ROWS, COLS}, table, layout);
            mt_set_requires_grad(x, true);
            mt_tensor *gi = t_tensor(&r, 2, (const int64_t[]){N, COLS}, g_int, layout);
            mt_tensor *gr = t_tensor(&r, 2, (const int64_t[]){N, COLS}, g_rand, 0);
            mt_scope scope = mt_scope_begin();
            mt_tensor *y = mt_index_select(x, 0, N, index);
            expect_values("large mt_index_select", y, 2, (const int64_t[]){N, COLS}, want);
            cr_assert_eq(mt_backward_with(y, gi), MT_OK, "%s", mt_last_error());
            t_expect_close("scatter-add of integer gradients", mt_grad(x), want_grad, 0, 0);
            mt_zero_grad(x);
            mt_tensor *y2 = mt_index_select(x, 0, N, index);
            cr_assert_eq(mt_backward_with(y2, gr), MT_OK, "%s", mt_last_error());
            float *bits = t_floats(mt_grad(x));
            if (!first_bits) first_bits = bits;
            else {
                cr_assert(memcmp(bits, first_bits, sizeof(float) * ROWS * COLS) == 0,
                          "the gradient's bits differ at %d threads (layout %d)", threads, layout);
                free(bits);
            }
            mt_scope_end(scope);
            mt_release(x), mt_release(gi), mt_release(gr);
        }
    }
    mt_set_num_threads(0);
    free(first_bits), free(table), free(index), free(g_int), free(g_rand), free(want_grad), free(want);
}

Test(index_select, errors_name_the_index)
{
    mt_tensor *t = t_arange(MT_DIMS(3, 4));
    const int64_t bad_high[] = {0, 2, 4}, bad_negative[] = {-1}, fine[] = {3, 3};
    cr_assert_null(mt_index_select(t, 1, 3, bad_high));
    t_expect_error(MT_ERR_INDEX, "mt_index_select");
    cr_assert(strstr(mt_last_error(), "index[2] = 4") && strstr(mt_last_error(), "size 4"), "%s",
              mt_last_error());
    cr_assert_null(mt_index_select(t, 0, 1, bad_negative));
    t_expect_error(MT_ERR_INDEX, "mt_index_select");
    cr_assert(strstr(mt_last_error(), "index[0] = -1"), "%s", mt_last_error());
    cr_assert_null(mt_index_select(t, 0, 3, bad_high)); /* 4 is out of range for dim 0 too */
    t_expect_error(MT_ERR_INDEX, "mt_index_select");
    cr_assert_null(mt_index_select(t, 0, 0, fine));
    t_expect_error(MT_ERR_SHAPE, "mt_index_select");
    cr_assert_null(mt_index_select(t, 2, 2, fine));
    t_expect_error(MT_ERR_INDEX, "mt_index_select");
    mt_clear_error();
    cr_assert_null(mt_index_select(t, 0, 2, NULL));
    t_expect_error(MT_ERR_NULL, "mt_index_select");
    mt_release(t);
}
