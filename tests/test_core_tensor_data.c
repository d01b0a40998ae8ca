/* MiniTorch's tensor_data cases for minitorch-c: layout, index helpers, broadcasting, views,
 * creation, element access and printing. Expected values are computed by hand or by index loops
 * written here (and in tests/support), never by the library itself. */
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- local helpers ---- */

/* Asserts the tensor's values, read with mt_get in row-major order, equal `expected` exactly. */
#define EXPECT_VALUES(what, t, ...) t_expect_exact(what, t, (const float[]){__VA_ARGS__})

static float get_at(const mt_tensor *t, const int64_t *index)
{
    float v = NAN;
    cr_assert_eq(mt_get(t, index, &v), MT_OK, "mt_get: %s", mt_last_error());
    return v;
}

/* Row-major strides computed by the test. */
static void row_major_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

static void random_permutation(t_rng *r, int n, int *order)
{
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = t_rng_int(r, 0, i), s = order[i];
        order[i] = order[j];
        order[j] = s;
    }
}

static void expect_format(const mt_tensor *t, const char *expected)
{
    char buffer[8192];
    memset(buffer, 'X', sizeof buffer);
    int64_t n = mt_format(t, buffer, sizeof buffer);
    cr_assert_eq(n, (int64_t)strlen(expected), "mt_format returned %lld, expected %zu: %s",
                 (long long)n, strlen(expected), n < 0 ? mt_last_error() : buffer);
    cr_assert_str_eq(buffer, expected, "got\n%s\nexpected\n%s", buffer, expected);
}

/* ======================================================================================
 * layout
 * ====================================================================================== */

Test(layout, index_to_position_hand_cases)
{
    cr_assert_eq(mt_index_to_position(2, (const int64_t[]){1, 2}, (const int64_t[]){5, 1}), 7);
    cr_assert_eq(mt_index_to_position(2, (const int64_t[]){1, 2}, (const int64_t[]){1, 5}), 11);
    cr_assert_eq(mt_index_to_position(3, (const int64_t[]){1, 0, 3}, (const int64_t[]){12, 4, 1}),
                 15);
    cr_assert_eq(mt_index_to_position(3, (const int64_t[]){2, 1, 3}, (const int64_t[]){0, 4, 1}), 7);
    cr_assert_eq(mt_index_to_position(1, (const int64_t[]){0}, (const int64_t[]){1}), 0);
    cr_assert_eq(mt_index_to_position(1, (const int64_t[]){4}, (const int64_t[]){3}), 12);
}

Test(layout, contiguous_and_permuted)
{
    mt_tensor *a = t_arange(MT_DIMS(3, 5));
    t_expect_shape(a, MT_DIMS(3, 5));
    t_expect_strides(a, MT_DIMS(5, 1));
    cr_assert_eq(mt_offset(a), 0);
    cr_assert_eq(mt_numel(a), 15);
    cr_assert(mt_is_contiguous(a));

    mt_tensor *b = mt_permute(a, (const int[]){1, 0});
    t_expect_shape(b, MT_DIMS(5, 3));
    t_expect_strides(b, MT_DIMS(1, 5));
    cr_assert_not(mt_is_contiguous(b), "a (5,3) tensor with strides (1,5) is not contiguous");
    cr_assert(mt_is_contiguous(a), "permuting must not change the input");
    cr_assert(mt_shares_storage(a, b));
    /* b[i][j] = a[j][i] = 5j + i */
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 3; j++)
            cr_assert_eq(get_at(b, (const int64_t[]){i, j}), (float)(5 * j + i));
    mt_release(b);
    mt_release(a);
}

Test(layout, size_one_dims_do_not_break_contiguity)
{
    /* (1,3) permuted to (3,1) has strides (1,3): row-major except at a size-1 dim */
    mt_tensor *a = t_arange(MT_DIMS(1, 3));
    mt_tensor *b = mt_permute(a, (const int[]){1, 0});
    t_expect_shape(b, MT_DIMS(3, 1));
    t_expect_strides(b, MT_DIMS(1, 3));
    cr_assert(mt_is_contiguous(b));
    /* a narrowed slice of whole rows is contiguous, a slice of columns is not */
    mt_tensor *c = t_arange(MT_DIMS(3, 5));
    mt_tensor *rows = mt_narrow(c, 0, 1, 2), *cols = mt_narrow(c, 1, 1, 2);
    cr_assert(mt_is_contiguous(rows));
    cr_assert_not(mt_is_contiguous(cols));
    mt_release(rows);
    mt_release(cols);
    mt_release(c);
    mt_release(b);
    mt_release(a);
}

Test(layout, strides_from_shape)
{
    int64_t s[MT_MAX_DIMS];
    cr_assert_eq(mt_strides_from_shape(MT_DIMS(4, 2, 2), s), MT_OK);
    cr_assert(s[0] == 4 && s[1] == 2 && s[2] == 1, "(%lld,%lld,%lld)", (long long)s[0],
              (long long)s[1], (long long)s[2]);
    cr_assert_eq(mt_strides_from_shape(MT_DIMS(5), s), MT_OK);
    cr_assert_eq(s[0], 1);
    cr_assert_eq(mt_strides_from_shape(MT_DIMS(2, 3, 4), s), MT_OK);
    cr_assert(s[0] == 12 && s[1] == 4 && s[2] == 1);
    cr_assert_eq(mt_strides_from_shape(MT_DIMS(3, 1, 2, 1), s), MT_OK);
    cr_assert(s[0] == 2 && s[1] == 2 && s[2] == 1 && s[3] == 1);
    cr_assert_eq(mt_strides_from_shape(MT_DIMS(2, 2, 2, 2, 2, 2, 2, 3), s), MT_OK);
    cr_assert(s[0] == 192 && s[6] == 3 && s[7] == 1);
}

/* ======================================================================================
 * enumeration: mt_to_index
 * ====================================================================================== */

Test(enumeration, to_index_hand_cases)
{
    int64_t idx[MT_MAX_DIMS];
    cr_assert_eq(mt_to_index(4, MT_DIMS(2, 3), idx), MT_OK);
    cr_assert(idx[0] == 1 && idx[1] == 1);
    cr_assert_eq(mt_to_index(5, MT_DIMS(2, 3), idx), MT_OK);
    cr_assert(idx[0] == 1 && idx[1] == 2);
    cr_assert_eq(mt_to_index(7, MT_DIMS(3, 1, 4), idx), MT_OK);
    cr_assert(idx[0] == 1 && idx[1] == 0 && idx[2] == 3);
    cr_assert_eq(mt_to_index(0, MT_DIMS(3, 1, 4), idx), MT_OK);
    cr_assert(idx[0] == 0 && idx[1] == 0 && idx[2] == 0);
    cr_assert_eq(mt_to_index(59, MT_DIMS(5, 4, 3), idx), MT_OK);
    cr_assert(idx[0] == 4 && idx[1] == 3 && idx[2] == 2);
}

Test(enumeration, every_index_exactly_once)
{
    static const int64_t shapes[][MT_MAX_DIMS] = {
        {1}, {7}, {2, 3}, {3, 1, 4}, {2, 2, 2, 2}, {5, 4, 3}, {1, 2, 1, 3, 1, 2, 1, 2}, {4, 1}};
    static const int ndims[] = {1, 1, 2, 3, 4, 3, 8, 2};
    for (size_t s = 0; s < sizeof ndims / sizeof ndims[0]; s++) {
        int ndim = ndims[s];
        const int64_t *shape = shapes[s];
        int64_t n = t_numel(ndim, shape);
        int *seen = calloc((size_t)n, sizeof *seen);
        int *seen_position = calloc((size_t)n, sizeof *seen_position);
        int64_t strides[MT_MAX_DIMS];
        row_major_strides(ndim, shape, strides);
        for (int64_t ordinal = 0; ordinal < n; ordinal++) {
            int64_t idx[MT_MAX_DIMS];
            for (int d = 0; d < MT_MAX_DIMS; d++) idx[d] = -1;
            cr_assert_eq(mt_to_index(ordinal, ndim, shape, idx), MT_OK, "%s", mt_last_error());
            for (int d = 0; d < ndim; d++)
                cr_assert(idx[d] >= 0 && idx[d] < shape[d], "shape %zu ordinal %lld: idx[%d]=%lld",
                          s, (long long)ordinal, d, (long long)idx[d]);
            int64_t o = t_ordinal(ndim, shape, idx);
            cr_assert_eq(o, ordinal, "shape %zu: ordinal %lld gave the index of %lld", s,
                         (long long)ordinal, (long long)o);
            seen[o]++;
            int64_t p = mt_index_to_position(ndim, idx, strides);
            cr_assert(p >= 0 && p < n);
            seen_position[p]++;
        }
        for (int64_t i = 0; i < n; i++) {
            cr_assert_eq(seen[i], 1, "shape %zu: index %lld seen %d times", s, (long long)i, seen[i]);
            cr_assert_eq(seen_position[i], 1);
        }
        free(seen);
        free(seen_position);
    }
}

Test(enumeration, positions_of_a_permuted_layout_are_unique)
{
    /* MiniTorch's layout check: with the strides of a permuted layout, positions still cover
     * 0..n-1 exactly once. Shape (3,4,5) stored in order (2,0,1), i.e. storage shape (5,3,4):
     * strides (4,1,12). */
    const int64_t shape[] = {3, 4, 5}, strides[] = {4, 1, 12};
    int seen[60] = {0};
    for (int64_t ordinal = 0; ordinal < 60; ordinal++) {
        int64_t idx[3];
        cr_assert_eq(mt_to_index(ordinal, 3, shape, idx), MT_OK);
        int64_t p = mt_index_to_position(3, idx, strides);
        cr_assert(p >= 0 && p < 60);
        seen[p]++;
    }
    for (int i = 0; i < 60; i++) cr_assert_eq(seen[i], 1, "position %d seen %d times", i, seen[i]);
}

/* ======================================================================================
 * broadcasting
 * ====================================================================================== */

Test(broadcast, broadcast_index_hand_cases)
{
    const int64_t big_shape[] = {2, 3, 4}, big_index[] = {1, 2, 3};
    int64_t out[MT_MAX_DIMS];
    cr_assert_eq(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(3, 1), out), MT_OK, "%s",
                 mt_last_error());
    cr_assert(out[0] == 2 && out[1] == 0, "(%lld,%lld)", (long long)out[0], (long long)out[1]);
    cr_assert_eq(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(4), out), MT_OK);
    cr_assert_eq(out[0], 3);
    cr_assert_eq(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(1, 1, 4), out), MT_OK);
    cr_assert(out[0] == 0 && out[1] == 0 && out[2] == 3);
    cr_assert_eq(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(2, 1, 4), out), MT_OK);
    cr_assert(out[0] == 1 && out[1] == 0 && out[2] == 3);
    cr_assert_eq(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(2, 3, 4), out), MT_OK);
    cr_assert(out[0] == 1 && out[1] == 2 && out[2] == 3);
    cr_assert_eq(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(1), out), MT_OK);
    cr_assert_eq(out[0], 0);
    /* MiniTorch: (5,5) index (3,4) into shape (1,) and (5,1) */
    cr_assert_eq(mt_broadcast_index(2, (const int64_t[]){3, 4}, (const int64_t[]){5, 5}, MT_DIMS(5, 1),
                                    out),
                 MT_OK);
    cr_assert(out[0] == 3 && out[1] == 0);
}

Test(broadcast, broadcast_index_exhaustive_random)
{
    t_rng r = t_rng_seed(11);
    for (int trial = 0; trial < 60; trial++) {
        int64_t big[MT_MAX_DIMS], small[MT_MAX_DIMS];
        int big_ndim = t_random_shape(&r, 1, 5, 4, big);
        int ndim = t_rng_int(&r, 1, big_ndim);
        for (int i = 0; i < ndim; i++)
            small[i] = t_rng_int(&r, 0, 2) == 0 ? 1 : big[i + big_ndim - ndim];
        int64_t idx[MT_MAX_DIMS] = {0};
        do {
            int64_t got[MT_MAX_DIMS], want[MT_MAX_DIMS];
            cr_assert_eq(mt_broadcast_index(big_ndim, idx, big, ndim, small, got), MT_OK, "%s",
                         mt_last_error());
            t_broadcast_index(big_ndim, idx, ndim, small, want);
            for (int i = 0; i < ndim; i++)
                cr_assert_eq(got[i], want[i], "trial %d dim %d: %lld, expected %lld", trial, i,
                             (long long)got[i], (long long)want[i]);
        } while (t_next_index(big_ndim, big, idx));
    }
}

static void expect_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int n,
                             const int64_t *expected)
{
    for (int swap = 0; swap < 2; swap++) {
        int out_ndim = -1;
        int64_t out[MT_MAX_DIMS];
        mt_status s = swap ? mt_shape_broadcast(nb, b, na, a, &out_ndim, out)
                           : mt_shape_broadcast(na, a, nb, b, &out_ndim, out);
        cr_assert_eq(s, MT_OK, "%s", mt_last_error());
        cr_assert_eq(out_ndim, n, "ndim %d, expected %d", out_ndim, n);
        for (int i = 0; i < n; i++)
            cr_assert_eq(out[i], expected[i], "dim %d: %lld, expected %lld", i, (long long)out[i],
                         (long long)expected[i]);
    }
}

static void expect_no_broadcast(int na, const int64_t *a, int nb, const int64_t *b)
{
    for (int swap = 0; swap < 2; swap++) {
        mt_clear_error();
        int out_ndim = -7;
        int64_t out[MT_MAX_DIMS];
        for (int i = 0; i < MT_MAX_DIMS; i++) out[i] = 99;
        mt_status s = swap ? mt_shape_broadcast(nb, b, na, a, &out_ndim, out)
                           : mt_shape_broadcast(na, a, nb, b, &out_ndim, out);
        cr_assert_eq(s, MT_ERR_BROADCAST);
        t_expect_error(MT_ERR_BROADCAST, "mt_shape_broadcast");
        cr_assert_eq(out_ndim, -7, "a failed broadcast must not write out_ndim");
        for (int i = 0; i < MT_MAX_DIMS; i++) cr_assert_eq(out[i], 99);
    }
}

Test(broadcast, shape_broadcast_minitorch_cases)
{
    expect_broadcast(MT_DIMS(1), MT_DIMS(5, 5), 2, (const int64_t[]){5, 5});
    expect_broadcast(MT_DIMS(1, 5, 5), MT_DIMS(5, 5), 3, (const int64_t[]){1, 5, 5});
    expect_broadcast(MT_DIMS(5, 1, 5, 1), MT_DIMS(1, 5, 1, 5), 4, (const int64_t[]){5, 5, 5, 5});
    expect_broadcast(MT_DIMS(2, 5), MT_DIMS(5), 2, (const int64_t[]){2, 5});
    expect_broadcast(MT_DIMS(2, 3, 1), MT_DIMS(7, 2, 1, 5), 4, (const int64_t[]){7, 2, 3, 5});
    expect_broadcast(MT_DIMS(1), MT_DIMS(1), 1, (const int64_t[]){1});
    expect_broadcast(MT_DIMS(3, 4), MT_DIMS(3, 4), 2, (const int64_t[]){3, 4});
    expect_no_broadcast(MT_DIMS(5, 7, 5, 1), MT_DIMS(1, 5, 1, 5));
    expect_no_broadcast(MT_DIMS(5, 2), MT_DIMS(5));
    expect_no_broadcast(MT_DIMS(3), MT_DIMS(4));
}

Test(broadcast, shape_broadcast_random_against_oracle)
{
    t_rng r = t_rng_seed(5);
    int ok_count = 0, fail_count = 0;
    for (int trial = 0; trial < 500; trial++) {
        int64_t a[MT_MAX_DIMS], b[MT_MAX_DIMS], want[MT_MAX_DIMS], got[MT_MAX_DIMS];
        int na = t_random_shape(&r, 1, 5, 3, a), nb = t_random_shape(&r, 1, 5, 3, b);
        int n_want = 0, n_got = 0;
        bool ok = t_broadcast_shapes(na, a, nb, b, &n_want, want);
        mt_clear_error();
        mt_status s = mt_shape_broadcast(na, a, nb, b, &n_got, got);
        cr_assert_eq(s, ok ? MT_OK : MT_ERR_BROADCAST, "trial %d: %s", trial, mt_last_error());
        if (!ok) {
            fail_count++;
            continue;
        }
        ok_count++;
        cr_assert_eq(n_got, n_want);
        for (int i = 0; i < n_want; i++) cr_assert_eq(got[i], want[i]);
    }
    cr_assert(ok_count > 20 && fail_count > 20, "both outcomes exercised (%d ok, %d fail)",
              ok_count, fail_count);
}

/* ======================================================================================
 * views
 * ====================================================================================== */

Test(views, permute_twice_with_inverse_is_identity)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3, 4));
    mt_tensor *p = mt_permute(a, (const int[]){2, 0, 1});
    t_expect_shape(p, MT_DIMS(4, 2, 3));
    t_expect_strides(p, MT_DIMS(1, 12, 4));
    /* p[i][j][k] = a[j][k][i] */
    cr_assert_eq(get_at(p, (const int64_t[]){3, 1, 2}), 12.0f + 8.0f + 3.0f);
    mt_tensor *q = mt_permute(p, (const int[]){1, 2, 0});
    t_expect_shape(q, MT_DIMS(2, 3, 4));
    t_expect_strides(q, MT_DIMS(12, 4, 1));
    cr_assert_eq(mt_offset(q), mt_offset(a));
    cr_assert(mt_is_contiguous(q));
    cr_assert(mt_shares_storage(q, a));
    float expected[24];
    for (int i = 0; i < 24; i++) expected[i] = (float)i;
    t_expect_exact("permute twice", q, expected);
    mt_release(q);
    mt_release(p);
    mt_release(a);
}

Test(views, random_permutations_keep_values)
{
    t_rng r = t_rng_seed(2024);
    for (int trial = 0; trial < 60; trial++) {
        int64_t shape[MT_MAX_DIMS];
        int ndim = t_random_shape(&r, 1, 5, 4, shape);
        int64_t n = t_numel(ndim, shape);
        double *values = t_random_values(&r, n, -10, 10);
        mt_tensor *base = t_tensor(&r, ndim, shape, values, trial % 3);
        int order[MT_MAX_DIMS];
        random_permutation(&r, ndim, order);
        mt_tensor *p = mt_permute(base, order);
        cr_assert_not_null(p, "%s", mt_last_error());
        for (int i = 0; i < ndim; i++) {
            cr_assert_eq(mt_shape(p)[i], shape[order[i]]);
            cr_assert_eq(mt_strides(p)[i], mt_strides(base)[order[i]]);
        }
        cr_assert(mt_shares_storage(p, base));
        int64_t idx[MT_MAX_DIMS] = {0}, base_idx[MT_MAX_DIMS];
        do { /* p[idx] = base[base_idx] with base_idx[order[i]] = idx[i] */
            for (int i = 0; i < ndim; i++) base_idx[order[i]] = idx[i];
            float got = get_at(p, idx);
            float want = (float)values[t_ordinal(ndim, shape, base_idx)];
            cr_assert_eq(got, want, "trial %d: %g, expected %g", trial, (double)got, (double)want);
        } while (t_next_index(ndim, mt_shape(p), idx));
        mt_release(p);
        mt_release(base);
        free(values);
    }
}

Test(views, transpose_values)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    mt_tensor *t = mt_transpose(a, -1, 0);
    t_expect_shape(t, MT_DIMS(3, 2));
    t_expect_strides(t, MT_DIMS(1, 3));
    EXPECT_VALUES("transpose", t, 0, 3, 1, 4, 2, 5);
    mt_release(t);
    mt_release(a);
}

Test(views, view_and_back)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3, 4));
    mt_tensor *v = mt_view(a, MT_DIMS(6, 4));
    t_expect_shape(v, MT_DIMS(6, 4));
    t_expect_strides(v, MT_DIMS(4, 1));
    cr_assert(mt_shares_storage(v, a));
    cr_assert_eq(get_at(v, (const int64_t[]){5, 2}), 22.0f);
    cr_assert_eq(get_at(v, (const int64_t[]){1, 0}), 4.0f);
    mt_tensor *back = mt_view(v, MT_DIMS(2, 3, 4));
    t_expect_shape(back, MT_DIMS(2, 3, 4));
    t_expect_strides(back, MT_DIMS(12, 4, 1));
    float expected[24];
    for (int i = 0; i < 24; i++) expected[i] = (float)i;
    t_expect_exact("view back", back, expected);
    mt_tensor *flat = mt_view(back, MT_DIMS(24));
    t_expect_exact("flat", flat, expected);
    /* writes through one view show in the others */
    cr_assert_eq(mt_set(flat, (const int64_t[]){13}, -1.5f), MT_OK);
    cr_assert_eq(get_at(a, (const int64_t[]){1, 0, 1}), -1.5f);
    cr_assert_eq(get_at(v, (const int64_t[]){3, 1}), -1.5f);
    mt_release(flat);
    mt_release(back);
    mt_release(v);
    mt_release(a);
}

Test(views, view_of_non_contiguous_fails)
{
    mt_clear_error();
    mt_tensor *a = t_arange(MT_DIMS(3, 5));
    mt_tensor *p = mt_permute(a, (const int[]){1, 0});
    cr_assert_null(mt_view(p, MT_DIMS(15)));
    t_expect_error(MT_ERR_NOT_CONTIGUOUS, "mt_view");
    cr_assert_not_null(strstr(mt_last_error(), "contiguous"), "%s", mt_last_error());
    /* a column slice is not contiguous either */
    mt_clear_error();
    mt_tensor *cols = mt_narrow(a, 1, 0, 2);
    cr_assert_null(mt_view(cols, MT_DIMS(6)));
    t_expect_error(MT_ERR_NOT_CONTIGUOUS, "mt_view");
    mt_release(cols);
    mt_release(p);
    mt_release(a);
}

Test(views, view_infers_minus_one)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3, 4));
    mt_tensor *v1 = mt_view(a, MT_DIMS(-1, 4));
    t_expect_shape(v1, MT_DIMS(6, 4));
    mt_tensor *v2 = mt_view(a, MT_DIMS(2, -1));
    t_expect_shape(v2, MT_DIMS(2, 12));
    mt_tensor *v3 = mt_view(a, MT_DIMS(-1));
    t_expect_shape(v3, MT_DIMS(24));
    mt_tensor *v4 = mt_view(a, MT_DIMS(4, -1, 3));
    t_expect_shape(v4, MT_DIMS(4, 2, 3));
    t_expect_strides(v4, MT_DIMS(6, 3, 1));
    cr_assert_eq(get_at(v4, (const int64_t[]){3, 1, 2}), 23.0f);
    mt_tensor *v5 = mt_view(a, MT_DIMS(1, 24, -1));
    t_expect_shape(v5, MT_DIMS(1, 24, 1));
    mt_clear_error();
    cr_assert_null(mt_view(a, MT_DIMS(-1, 5)));
    t_expect_error(MT_ERR_SHAPE, "mt_view");
    mt_release(v5);
    mt_release(v4);
    mt_release(v3);
    mt_release(v2);
    mt_release(v1);
    mt_release(a);
}

Test(views, view_keeps_offset_of_contiguous_slice)
{
    mt_tensor *a = t_arange(MT_DIMS(4, 3));
    mt_tensor *rows = mt_narrow(a, 0, 1, 2); /* elements 3..8 */
    cr_assert_eq(mt_offset(rows), 3);
    mt_tensor *v = mt_view(rows, MT_DIMS(3, 2));
    cr_assert_not_null(v, "%s", mt_last_error());
    cr_assert_eq(mt_offset(v), 3);
    EXPECT_VALUES("view of slice", v, 3, 4, 5, 6, 7, 8);
    mt_release(v);
    mt_release(rows);
    mt_release(a);
}

Test(views, reshape_copies_only_when_needed)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    mt_tensor *same = mt_reshape(a, MT_DIMS(3, 2));
    t_expect_shape(same, MT_DIMS(3, 2));
    cr_assert(mt_shares_storage(same, a), "reshaping a contiguous tensor is a view");
    EXPECT_VALUES("reshape contiguous", same, 0, 1, 2, 3, 4, 5);

    mt_tensor *p = mt_transpose(a, 0, 1); /* (3,2): 0 3 / 1 4 / 2 5 */
    mt_tensor *r = mt_reshape(p, MT_DIMS(6));
    t_expect_shape(r, MT_DIMS(6));
    cr_assert_not(mt_shares_storage(r, a), "reshaping a permuted tensor copies");
    cr_assert(mt_is_contiguous(r));
    EXPECT_VALUES("reshape permuted", r, 0, 3, 1, 4, 2, 5);
    mt_tensor *r2 = mt_reshape(p, MT_DIMS(2, -1));
    t_expect_shape(r2, MT_DIMS(2, 3));
    EXPECT_VALUES("reshape permuted 2x3", r2, 0, 3, 1, 4, 2, 5);
    /* the copy is independent, the input unchanged */
    cr_assert_eq(mt_set(r, (const int64_t[]){1}, 100.0f), MT_OK);
    cr_assert_eq(get_at(a, (const int64_t[]){1, 0}), 3.0f);
    t_expect_shape(p, MT_DIMS(3, 2));
    t_expect_strides(p, MT_DIMS(1, 3));
    mt_release(r2);
    mt_release(r);
    mt_release(p);
    mt_release(same);
    mt_release(a);
}

Test(views, expand_zero_strides_shared_storage)
{
    mt_tensor *a = mt_from_data(MT_DIMS(3, 1), (const float[]){1, 2, 3});
    mt_tensor *e = mt_expand(a, MT_DIMS(2, 3, 4));
    t_expect_shape(e, MT_DIMS(2, 3, 4));
    t_expect_strides(e, MT_DIMS(0, 1, 0));
    cr_assert(mt_shares_storage(e, a));
    cr_assert_not(mt_is_contiguous(e));
    int64_t idx[3] = {0};
    do {
        cr_assert_eq(get_at(e, idx), (float)(idx[1] + 1));
    } while (t_next_index(3, (const int64_t[]){2, 3, 4}, idx));
    /* shares storage: a write into `a` shows everywhere in `e` */
    cr_assert_eq(mt_set(a, (const int64_t[]){1, 0}, 20.0f), MT_OK);
    cr_assert_eq(get_at(e, (const int64_t[]){1, 1, 3}), 20.0f);
    cr_assert_eq(get_at(e, (const int64_t[]){0, 1, 0}), 20.0f);

    mt_tensor *s = mt_scalar(7.0f);
    mt_tensor *es = mt_expand(s, MT_DIMS(2, 2));
    t_expect_shape(es, MT_DIMS(2, 2));
    t_expect_strides(es, MT_DIMS(0, 0));
    EXPECT_VALUES("expanded scalar", es, 7, 7, 7, 7);

    mt_tensor *b = t_arange(MT_DIMS(2, 1, 3));
    mt_tensor *eb = mt_expand(b, MT_DIMS(2, 4, 3));
    t_expect_strides(eb, MT_DIMS(3, 0, 1));
    cr_assert_eq(get_at(eb, (const int64_t[]){1, 3, 2}), 5.0f);
    mt_release(eb);
    mt_release(b);
    mt_release(es);
    mt_release(s);
    mt_release(e);
    mt_release(a);
}

Test(views, narrow_offsets)
{
    mt_tensor *a = t_arange(MT_DIMS(4, 5));
    mt_tensor *n1 = mt_narrow(a, 1, 2, 3);
    t_expect_shape(n1, MT_DIMS(4, 3));
    t_expect_strides(n1, MT_DIMS(5, 1));
    cr_assert_eq(mt_offset(n1), 2);
    cr_assert(mt_shares_storage(n1, a));
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 3; j++)
            cr_assert_eq(get_at(n1, (const int64_t[]){i, j}), (float)(5 * i + 2 + j));
    mt_tensor *n2 = mt_narrow(n1, 0, 1, 2);
    t_expect_shape(n2, MT_DIMS(2, 3));
    cr_assert_eq(mt_offset(n2), 7);
    EXPECT_VALUES("narrow twice", n2, 7, 8, 9, 12, 13, 14);
    mt_tensor *n3 = mt_narrow(a, -1, 4, 1);
    t_expect_shape(n3, MT_DIMS(4, 1));
    cr_assert_eq(mt_offset(n3), 4);
    EXPECT_VALUES("last column", n3, 4, 9, 14, 19);
    /* narrowing a permuted view walks the permuted strides */
    mt_tensor *p = mt_transpose(a, 0, 1);   /* (5,4) strides (1,5) */
    mt_tensor *n4 = mt_narrow(p, 1, 1, 2); /* columns 1..2 of p = rows 1..2 of a */
    cr_assert_eq(mt_offset(n4), 5);
    t_expect_shape(n4, MT_DIMS(5, 2));
    EXPECT_VALUES("narrow of permuted", n4, 5, 10, 6, 11, 7, 12, 8, 13, 9, 14);
    mt_release(n4);
    mt_release(p);
    mt_release(n3);
    mt_release(n2);
    mt_release(n1);
    mt_release(a);
}

Test(views, contiguous_of_permuted_copies)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    mt_tensor *p = mt_permute(a, (const int[]){1, 0});
    mt_tensor *c = mt_contiguous(p);
    t_expect_shape(c, MT_DIMS(3, 2));
    t_expect_strides(c, MT_DIMS(2, 1));
    cr_assert(mt_is_contiguous(c));
    cr_assert_not(mt_shares_storage(c, a));
    cr_assert_eq(mt_offset(c), 0);
    EXPECT_VALUES("contiguous", c, 0, 3, 1, 4, 2, 5);
    cr_assert_eq(mt_set(c, (const int64_t[]){0, 1}, -9.0f), MT_OK);
    cr_assert_eq(get_at(a, (const int64_t[]){1, 0}), 3.0f, "the copy must not write into a");
    /* of an offset, strided slice too */
    mt_tensor *big = t_arange(MT_DIMS(4, 5));
    mt_tensor *rows = mt_narrow(big, 0, 1, 2);
    mt_tensor *slice = mt_narrow(rows, 1, 3, 2);
    mt_tensor *cs = mt_contiguous(slice);
    t_expect_strides(cs, MT_DIMS(2, 1));
    cr_assert_eq(mt_offset(cs), 0);
    EXPECT_VALUES("contiguous slice", cs, 8, 9, 13, 14);
    mt_release(cs);
    mt_release(slice);
    mt_release(rows);
    mt_release(big);
    mt_release(c);
    mt_release(p);
    mt_release(a);
}

Test(views, contiguous_of_expanded_copies)
{
    mt_tensor *a = mt_from_data(MT_DIMS(2), (const float[]){1, 2});
    mt_tensor *e = mt_expand(a, MT_DIMS(3, 2));
    mt_tensor *c = mt_contiguous(e);
    t_expect_shape(c, MT_DIMS(3, 2));
    t_expect_strides(c, MT_DIMS(2, 1));
    cr_assert_not(mt_shares_storage(c, a));
    EXPECT_VALUES("contiguous of expanded", c, 1, 2, 1, 2, 1, 2);
    /* now writable element by element */
    cr_assert_eq(mt_set(c, (const int64_t[]){2, 0}, 5.0f), MT_OK);
    EXPECT_VALUES("after write", c, 1, 2, 1, 2, 5, 2);
    EXPECT_VALUES("input unchanged", a, 1, 2);
    mt_release(c);
    mt_release(e);
    mt_release(a);
}

Test(views, contiguous_of_contiguous_is_the_same_tensor)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    mt_tensor *c = mt_contiguous(a);
    cr_assert_eq(c, a, "a contiguous tensor is returned itself (new reference)");
    cr_assert(mt_shares_storage(c, a));
    mt_release(c);
    /* `a` still alive after dropping the extra reference */
    cr_assert_eq(get_at(a, (const int64_t[]){1, 2}), 5.0f);
    mt_release(a);
}

/* ======================================================================================
 * creation
 * ====================================================================================== */

Test(creation, zeros_ones_full)
{
    mt_tensor *z = mt_zeros(MT_DIMS(2, 3));
    t_expect_shape(z, MT_DIMS(2, 3));
    t_expect_strides(z, MT_DIMS(3, 1));
    cr_assert_eq(mt_offset(z), 0);
    cr_assert(mt_is_contiguous(z));
    EXPECT_VALUES("zeros", z, 0, 0, 0, 0, 0, 0);
    mt_tensor *o = mt_ones(MT_DIMS(4));
    EXPECT_VALUES("ones", o, 1, 1, 1, 1);
    mt_tensor *f = mt_full(MT_DIMS(1, 2, 2), 2.5f);
    t_expect_shape(f, MT_DIMS(1, 2, 2));
    EXPECT_VALUES("full", f, 2.5f, 2.5f, 2.5f, 2.5f);
    mt_tensor *nz = mt_full(MT_DIMS(3), -0.0f);
    EXPECT_VALUES("full(-0)", nz, -0.0f, -0.0f, -0.0f);
    mt_tensor *inf = mt_full(MT_DIMS(2), -INFINITY);
    EXPECT_VALUES("full(-inf)", inf, -INFINITY, -INFINITY);
    /* a large fill (parallel path) */
    mt_tensor *big = mt_full(MT_DIMS(1 << 21), 3.0f);
    float *data = malloc(sizeof(float) << 21);
    cr_assert_eq(mt_copy_to(big, data, 1 << 21), MT_OK);
    for (int i = 0; i < (1 << 21); i++) cr_assert_eq(data[i], 3.0f, "element %d", i);
    free(data);
    mt_release(big);
    mt_release(inf);
    mt_release(nz);
    mt_release(f);
    mt_release(o);
    mt_release(z);
}

Test(creation, from_data_round_trips_exactly)
{
    float data[8] = {0.1f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f /* denormal */, 3.4028235e38f,
                     -7.25f};
    mt_tensor *t = mt_from_data(MT_DIMS(2, 4), data);
    t_expect_shape(t, MT_DIMS(2, 4));
    t_expect_exact("from_data", t, data);
    float back[8];
    cr_assert_eq(mt_copy_to(t, back, 8), MT_OK);
    cr_assert(memcmp(back, data, sizeof data) == 0, "copy_to must give back the same bits");
    /* the tensor holds a copy: changing the source afterwards does nothing */
    float original0 = data[0];
    data[0] = 123.0f;
    cr_assert_eq(get_at(t, (const int64_t[]){0, 0}), original0);
    mt_release(t);
}

Test(creation, scalar)
{
    mt_tensor *s = mt_scalar(3.5f);
    t_expect_shape(s, MT_DIMS(1));
    cr_assert_eq(mt_numel(s), 1);
    cr_assert_eq(mt_item(s), 3.5f);
    mt_tensor *z = mt_scalar(-0.0f);
    cr_assert(signbit(mt_item(z)), "mt_scalar(-0.0f) keeps the sign");
    mt_release(z);
    mt_release(s);
}

Test(creation, rand_range_and_seeds)
{
    const int64_t n = 10000;
    mt_tensor *a = mt_rand(MT_DIMS(100, 100), 42);
    mt_tensor *b = mt_rand(MT_DIMS(100, 100), 42);
    mt_tensor *c = mt_rand(MT_DIMS(100, 100), 43);
    t_expect_shape(a, MT_DIMS(100, 100));
    float *va = malloc(sizeof(float) * (size_t)n), *vb = malloc(sizeof(float) * (size_t)n),
          *vc = malloc(sizeof(float) * (size_t)n);
    cr_assert_eq(mt_copy_to(a, va, n), MT_OK);
    cr_assert_eq(mt_copy_to(b, vb, n), MT_OK);
    cr_assert_eq(mt_copy_to(c, vc, n), MT_OK);
    cr_assert(memcmp(va, vb, sizeof(float) * (size_t)n) == 0, "same seed, same values");
    int64_t differ = 0;
    double sum = 0, lo = 1, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(va[i] >= 0.0f && va[i] < 1.0f, "element %lld = %.9g outside [0,1)", (long long)i,
                  (double)va[i]);
        cr_assert(vc[i] >= 0.0f && vc[i] < 1.0f);
        differ += va[i] != vc[i];
        sum += va[i];
        lo = va[i] < lo ? va[i] : lo;
        hi = va[i] > hi ? va[i] : hi;
    }
    cr_assert_gt(differ, n * 99 / 100, "another seed gives other values (%lld of %lld differ)",
                 (long long)differ, (long long)n);
    /* a uniform sample: mean 0.5 with std 0.0029 for n = 10^4; extremes near the ends */
    cr_assert(fabs(sum / (double)n - 0.5) < 0.03, "mean %g", sum / (double)n);
    cr_assert(lo < 0.01 && hi > 0.99, "range [%g, %g]", lo, hi);
    free(va);
    free(vb);
    free(vc);
    mt_release(c);
    mt_release(b);
    mt_release(a);
}

Test(creation, rand_uniform_range)
{
    const int64_t n = 5000;
    mt_tensor *a = mt_rand_uniform(MT_DIMS(n), -2.0f, 3.0f, 7);
    float *v = malloc(sizeof(float) * (size_t)n);
    cr_assert_eq(mt_copy_to(a, v, n), MT_OK);
    double lo = 10, hi = -10, sum = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(v[i] >= -2.0f && v[i] < 3.0f, "element %lld = %.9g", (long long)i, (double)v[i]);
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
        sum += v[i];
    }
    cr_assert(lo < -1.9 && hi > 2.9, "range [%g, %g]", lo, hi);
    cr_assert(fabs(sum / (double)n - 0.5) < 0.2, "mean %g", sum / (double)n);
    /* a narrow interval stays inside it */
    mt_tensor *b = mt_rand_uniform(MT_DIMS(1000), 1.0f, 1.0000001f, 3);
    float w[1000];
    cr_assert_eq(mt_copy_to(b, w, 1000), MT_OK);
    for (int i = 0; i < 1000; i++) cr_assert(w[i] >= 1.0f && w[i] < 1.0000001f);
    free(v);
    mt_release(b);
    mt_release(a);
}

Test(creation, rand_uniform_wide_finite_range)
{
    /* low and high are finite and low < high, so the call is valid; high - low overflows float
     * (6e38 > FLT_MAX), which must not collapse every value onto `low`. */
    const int64_t n = 1000;
    mt_tensor *a = mt_rand_uniform(MT_DIMS(n), -3e38f, 3e38f, 17);
    cr_assert_not_null(a, "%s", mt_last_error());
    float v[1000];
    cr_assert_eq(mt_copy_to(a, v, n), MT_OK);
    int64_t negative = 0, positive = 0, at_low = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(v[i] >= -3e38f && v[i] < 3e38f, "element %lld = %g outside [low, high)",
                  (long long)i, (double)v[i]);
        negative += v[i] < 0;
        positive += v[i] > 0;
        at_low += v[i] == -3e38f;
    }
    mt_release(a); /* before the check, so a failure leaves no leak report */
    cr_assert(negative > n / 4 && positive > n / 4,
              "not uniform over [-3e38, 3e38): %lld negative, %lld positive, %lld equal to low",
              (long long)negative, (long long)positive, (long long)at_low);
}

Test(creation, rand_is_independent_of_thread_count)
{
    const int64_t n = (int64_t)1 << 20; /* large enough to be filled in parallel */
    float *one = malloc(sizeof(float) * (size_t)n), *many = malloc(sizeof(float) * (size_t)n);
    cr_assert_eq(mt_set_num_threads(1), MT_OK);
    mt_tensor *a = mt_rand(MT_DIMS(n), 99);
    cr_assert_eq(mt_set_num_threads(4), MT_OK);
    mt_tensor *b = mt_rand(MT_DIMS(n), 99);
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
    cr_assert_eq(mt_copy_to(a, one, n), MT_OK);
    cr_assert_eq(mt_copy_to(b, many, n), MT_OK);
    cr_assert(memcmp(one, many, sizeof(float) * (size_t)n) == 0);
    free(one);
    free(many);
    mt_release(b);
    mt_release(a);
}

/* ======================================================================================
 * elements
 * ====================================================================================== */

Test(elements, get_set_on_permuted_view)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    mt_tensor *p = mt_transpose(a, 0, 1); /* (3,2) */
    cr_assert_eq(get_at(p, (const int64_t[]){2, 0}), 2.0f);
    cr_assert_eq(get_at(p, (const int64_t[]){0, 1}), 3.0f);
    cr_assert_eq(mt_set(p, (const int64_t[]){2, 1}, 42.0f), MT_OK);
    cr_assert_eq(get_at(a, (const int64_t[]){1, 2}), 42.0f, "the write goes through the view");
    cr_assert_eq(get_at(p, (const int64_t[]){2, 1}), 42.0f);
    cr_assert_eq(mt_set(a, (const int64_t[]){0, 1}, -1.0f), MT_OK);
    cr_assert_eq(get_at(p, (const int64_t[]){1, 0}), -1.0f);
    EXPECT_VALUES("a after writes", a, 0, -1, 2, 3, 4, 42);
    mt_release(p);
    mt_release(a);
}

Test(elements, item)
{
    mt_tensor *a = mt_from_data(MT_DIMS(1, 1, 1), (const float[]){-6.5f});
    cr_assert_eq(mt_item(a), -6.5f);
    mt_tensor *b = t_arange(MT_DIMS(3, 4));
    mt_tensor *row = mt_narrow(b, 0, 2, 1);
    mt_tensor *e = mt_narrow(row, 1, 1, 1); /* element (2,1) = 9 */
    cr_assert_eq(mt_numel(e), 1);
    cr_assert_eq(mt_item(e), 9.0f);
    mt_release(e);
    mt_release(row);
    mt_release(b);
    mt_release(a);
}

Test(elements, copy_to_views)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    mt_tensor *p = mt_transpose(a, 0, 1);
    float out[8];
    for (int i = 0; i < 8; i++) out[i] = -100.0f;
    cr_assert_eq(mt_copy_to(p, out, 8), MT_OK);
    const float want[] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++) cr_assert_eq(out[i], want[i], "element %d: %g", i, (double)out[i]);
    cr_assert(out[6] == -100.0f && out[7] == -100.0f, "writes only numel floats");

    mt_tensor *big = t_arange(MT_DIMS(3, 4, 5));
    mt_tensor *bp = mt_permute(big, (const int[]){2, 0, 1}); /* (5,3,4) */
    mt_tensor *q = mt_narrow(bp, 0, 1, 2);                   /* (2,3,4) */
    float qv[24];
    cr_assert_eq(mt_copy_to(q, qv, 24), MT_OK);
    int k = 0;
    for (int64_t i = 0; i < 2; i++) /* q[i][j][l] = big[j][l][i+1] */
        for (int64_t j = 0; j < 3; j++)
            for (int64_t l = 0; l < 4; l++, k++)
                cr_assert_eq(qv[k], (float)(20 * j + 5 * l + i + 1), "element %d", k);

    mt_tensor *col = mt_narrow(a, 1, 2, 1); /* column (2, 5) */
    mt_tensor *e = mt_expand(col, MT_DIMS(2, 2, 3));
    float ev[12];
    cr_assert_eq(mt_copy_to(e, ev, 12), MT_OK);
    const float ewant[] = {2, 2, 2, 5, 5, 5, 2, 2, 2, 5, 5, 5};
    for (int i = 0; i < 12; i++) cr_assert_eq(ev[i], ewant[i], "element %d: %g", i, (double)ev[i]);
    mt_release(e);
    mt_release(col);
    mt_release(q);
    mt_release(bp);
    mt_release(big);
    mt_release(p);
    mt_release(a);
}

Test(elements, set_on_expanded_is_refused)
{
    mt_clear_error();
    mt_tensor *a = mt_from_data(MT_DIMS(3, 1), (const float[]){1, 2, 3});
    mt_tensor *e = mt_expand(a, MT_DIMS(3, 4));
    cr_assert_eq(mt_set(e, (const int64_t[]){1, 2}, 50.0f), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_set");
    EXPECT_VALUES("input after refused write", a, 1, 2, 3);
    cr_assert_eq(get_at(e, (const int64_t[]){1, 0}), 2.0f);
    mt_release(e);
    mt_release(a);
}

/* ======================================================================================
 * printing
 * ====================================================================================== */

Test(printing, two_by_three)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    expect_format(a, "[[0.0000, 1.0000, 2.0000],\n [3.0000, 4.0000, 5.0000]]");
    mt_release(a);
}

Test(printing, one_dim_and_padding)
{
    mt_tensor *a = mt_from_data(MT_DIMS(3), (const float[]){1, 2.5f, 3});
    expect_format(a, "[1.0000, 2.5000, 3.0000]");
    mt_tensor *b = mt_from_data(MT_DIMS(3), (const float[]){-1, 2, 10});
    expect_format(b, "[-1.0000,  2.0000, 10.0000]");
    mt_tensor *s = mt_scalar(0.25f);
    expect_format(s, "[0.2500]");
    mt_release(s);
    mt_release(b);
    mt_release(a);
}

Test(printing, scientific_for_large_or_tiny)
{
    mt_tensor *a = mt_from_data(MT_DIMS(2), (const float[]){100000.0f, 1.0f});
    expect_format(a, "[1.0000e+05, 1.0000e+00]");
    mt_tensor *b = mt_from_data(MT_DIMS(2), (const float[]){0.5f, 0.0f});
    expect_format(b, "[0.5000, 0.0000]");
    mt_release(b);
    mt_release(a);
}

Test(printing, three_dims)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 2, 2));
    expect_format(a, "[[[0.0000, 1.0000],\n"
                     "  [2.0000, 3.0000]],\n"
                     "\n"
                     " [[4.0000, 5.0000],\n"
                     "  [6.0000, 7.0000]]]");
    mt_release(a);
}

Test(printing, permuted_view)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    mt_tensor *p = mt_transpose(a, 0, 1);
    expect_format(p, "[[0.0000, 3.0000],\n [1.0000, 4.0000],\n [2.0000, 5.0000]]");
    mt_tensor *n = mt_narrow(p, 0, 1, 2);
    expect_format(n, "[[1.0000, 4.0000],\n [2.0000, 5.0000]]");
    mt_release(n);
    mt_release(p);
    mt_release(a);
}

Test(printing, summarized_large_tensors)
{
    /* 1001 elements: over the 1000 threshold */
    mt_tensor *a = t_arange(MT_DIMS(1001));
    expect_format(a, "[   0.0000,    1.0000,    2.0000, ...,  998.0000,  999.0000, 1000.0000]");
    /* (40, 30) with value 100 r + c */
    float *data = malloc(sizeof(float) * 1200);
    for (int r = 0; r < 40; r++)
        for (int c = 0; c < 30; c++) data[r * 30 + c] = (float)(100 * r + c);
    mt_tensor *m = mt_from_data(MT_DIMS(40, 30), data);
    free(data);
    expect_format(m, "[[   0.0000,    1.0000,    2.0000, ...,   27.0000,   28.0000,   29.0000],\n"
                     " [ 100.0000,  101.0000,  102.0000, ...,  127.0000,  128.0000,  129.0000],\n"
                     " [ 200.0000,  201.0000,  202.0000, ...,  227.0000,  228.0000,  229.0000],\n"
                     " ...,\n"
                     " [3700.0000, 3701.0000, 3702.0000, ..., 3727.0000, 3728.0000, 3729.0000],\n"
                     " [3800.0000, 3801.0000, 3802.0000, ..., 3827.0000, 3828.0000, 3829.0000],\n"
                     " [3900.0000, 3901.0000, 3902.0000, ..., 3927.0000, 3928.0000, 3929.0000]]");
    mt_release(m);
    mt_release(a);
}

Test(printing, summarized_three_dims)
{
    /* (8, 2, 70) = 1120 elements, value 140 i + 70 j + k */
    mt_tensor *a = t_arange(MT_DIMS(8, 2, 70));
    expect_format(a,
                  "[[[   0.0000,    1.0000,    2.0000, ...,   67.0000,   68.0000,   69.0000],\n"
                  "  [  70.0000,   71.0000,   72.0000, ...,  137.0000,  138.0000,  139.0000]],\n"
                  "\n"
                  " [[ 140.0000,  141.0000,  142.0000, ...,  207.0000,  208.0000,  209.0000],\n"
                  "  [ 210.0000,  211.0000,  212.0000, ...,  277.0000,  278.0000,  279.0000]],\n"
                  "\n"
                  " [[ 280.0000,  281.0000,  282.0000, ...,  347.0000,  348.0000,  349.0000],\n"
                  "  [ 350.0000,  351.0000,  352.0000, ...,  417.0000,  418.0000,  419.0000]],\n"
                  " ...,\n"
                  "\n"
                  " [[ 700.0000,  701.0000,  702.0000, ...,  767.0000,  768.0000,  769.0000],\n"
                  "  [ 770.0000,  771.0000,  772.0000, ...,  837.0000,  838.0000,  839.0000]],\n"
                  "\n"
                  " [[ 840.0000,  841.0000,  842.0000, ...,  907.0000,  908.0000,  909.0000],\n"
                  "  [ 910.0000,  911.0000,  912.0000, ...,  977.0000,  978.0000,  979.0000]],\n"
                  "\n"
                  " [[ 980.0000,  981.0000,  982.0000, ..., 1047.0000, 1048.0000, 1049.0000],\n"
                  "  [1050.0000, 1051.0000, 1052.0000, ..., 1117.0000, 1118.0000, 1119.0000]]]");
    mt_release(a);
}

Test(printing, expanded_view_is_summarized_by_numel)
{
    mt_tensor *s = mt_scalar(2.0f);
    mt_tensor *e = mt_expand(s, MT_DIMS(1001));
    expect_format(e, "[2.0000, 2.0000, 2.0000, ..., 2.0000, 2.0000, 2.0000]");
    mt_release(e);
    mt_release(s);
}

Test(printing, thousand_elements_are_not_summarized)
{
    mt_tensor *a = t_arange(MT_DIMS(1000));
    /* "[" + 1000 values of width 8 + 999 ", " + "]" */
    int64_t n = mt_format(a, NULL, 0);
    cr_assert_eq(n, 1 + 1000 * 8 + 999 * 2 + 1, "length %lld", (long long)n);
    char *text = malloc((size_t)n + 1);
    cr_assert_eq(mt_format(a, text, (size_t)n + 1), n);
    cr_assert_null(strstr(text, "..."));
    cr_assert(strncmp(text, "[  0.0000,   1.0000, ", 21) == 0, "%.30s", text);
    cr_assert_str_eq(text + n - 21, ", 998.0000, 999.0000]");
    free(text);
    mt_release(a);
}

Test(printing, snprintf_semantics)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    const char *full = "[[0.0000, 1.0000, 2.0000],\n [3.0000, 4.0000, 5.0000]]";
    const int64_t len = (int64_t)strlen(full);
    cr_assert_eq(mt_format(a, NULL, 0), len, "length query with a NULL buffer");
    char buffer[64];
    memset(buffer, 'X', sizeof buffer);
    cr_assert_eq(mt_format(a, buffer, 10), len, "returns the full length even when truncated");
    cr_assert_eq(memcmp(buffer, full, 9), 0);
    cr_assert_eq(buffer[9], '\0');
    for (int i = 10; i < 64; i++) cr_assert_eq(buffer[i], 'X', "wrote past capacity at %d", i);
    memset(buffer, 'X', sizeof buffer);
    cr_assert_eq(mt_format(a, buffer, 1), len);
    cr_assert_eq(buffer[0], '\0');
    cr_assert_eq(buffer[1], 'X');
    memset(buffer, 'X', sizeof buffer);
    cr_assert_eq(mt_format(a, buffer, 0), len);
    cr_assert_eq(buffer[0], 'X', "capacity 0 writes nothing");
    /* exactly fitting: len + 1 bytes */
    memset(buffer, 'X', sizeof buffer);
    cr_assert_eq(mt_format(a, buffer, (size_t)len + 1), len);
    cr_assert_str_eq(buffer, full);
    cr_assert_eq(buffer[len + 1], 'X');
    /* one byte short: the last character is dropped */
    memset(buffer, 'X', sizeof buffer);
    cr_assert_eq(mt_format(a, buffer, (size_t)len), len);
    cr_assert_eq(strlen(buffer), (size_t)len - 1);
    cr_assert_eq(strncmp(buffer, full, (size_t)len - 1), 0);
    mt_release(a);
}

Test(printing, fprint_to_tmpfile)
{
    mt_tensor *a = t_arange(MT_DIMS(2, 3));
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(mt_fprint(f, a), MT_OK, "%s", mt_last_error());
    char *text = t_read_stream(f);
    cr_assert_str_eq(text, "[[0.0000, 1.0000, 2.0000],\n [3.0000, 4.0000, 5.0000]]\n");
    free(text);
    fclose(f);

    /* a text longer than any small stack buffer */
    mt_tensor *b = t_arange(MT_DIMS(1000));
    f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(mt_fprint(f, b), MT_OK, "%s", mt_last_error());
    text = t_read_stream(f);
    size_t n = strlen(text);
    cr_assert_eq(n, 10001u, "length %zu", n);
    cr_assert(strncmp(text, "[  0.0000,   1.0000, ", 21) == 0);
    cr_assert_str_eq(text + n - 11, " 999.0000]\n");
    free(text);
    fclose(f);
    mt_release(b);
    mt_release(a);
}
