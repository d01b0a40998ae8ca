/* Error paths of the core: creation, inspection, elements, index helpers, views, printing,
 * scopes, memory and the runtime setters. Every failure must return the failure value, record
 * the documented status with a message "<function>: ...", and leave its inputs unchanged. */
#include "testing.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The call must return NULL and record `status` with a message naming `fn`. The error is cleared
 * first: a NULL argument keeps an error already recorded, by design. */
#define EXPECT_NULL_RESULT(call, status, fn)                                                       \
    do {                                                                                           \
        mt_clear_error();                                                                          \
        const void *result_ = (call);                                                              \
        cr_assert_null(result_, "%s should fail", #call);                                          \
        t_expect_error(status, fn);                                                                \
        cr_assert_gt(strlen(mt_last_error()), strlen(fn) + 2, "message has a description");      \
    } while (0)

/* The call must return `status` and record it with a message naming `fn`. */
#define EXPECT_STATUS(call, status, fn)                                                            \
    do {                                                                                           \
        mt_clear_error();                                                                          \
        mt_status status_ = (call);                                                                \
        cr_assert_eq(status_, status, "%s returned %d (%s): %s", #call, status_,                   \
                     mt_strerror(status_), mt_last_error());                                       \
        t_expect_error(status, fn);                                                                \
        cr_assert_gt(strlen(mt_last_error()), strlen(fn) + 2, "message has a description");      \
    } while (0)

static void expect_layout(const mt_tensor *t, int ndim, const int64_t *shape,
                          const int64_t *strides, int64_t offset)
{
    t_expect_shape(t, ndim, shape);
    t_expect_strides(t, ndim, strides);
    cr_assert_eq(mt_offset(t), offset);
}

static const int64_t nine_dims[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
static const float some_data[16] = {0};

/* ---- creation ---- */

typedef mt_tensor *(*creator)(int ndim, const int64_t *shape);
static mt_tensor *make_zeros(int n, const int64_t *s) { return mt_zeros(n, s); }
static mt_tensor *make_ones(int n, const int64_t *s) { return mt_ones(n, s); }
static mt_tensor *make_full(int n, const int64_t *s) { return mt_full(n, s, 2.0f); }
static mt_tensor *make_from_data(int n, const int64_t *s) { return mt_from_data(n, s, some_data); }
static mt_tensor *make_rand(int n, const int64_t *s) { return mt_rand(n, s, 1); }
static mt_tensor *make_uniform(int n, const int64_t *s) { return mt_rand_uniform(n, s, -1, 1, 1); }

static const struct {
    creator make;
    const char *name;
} creators[] = {{make_zeros, "mt_zeros"},         {make_ones, "mt_ones"},
                {make_full, "mt_full"},           {make_from_data, "mt_from_data"},
                {make_rand, "mt_rand"},           {make_uniform, "mt_rand_uniform"}};

Test(errors_creation, bad_shapes)
{
    mt_clear_error();
    mt_memory_stats before, after;
    cr_assert_eq(mt_memory_get_stats(&before), MT_OK);
    for (size_t i = 0; i < sizeof creators / sizeof creators[0]; i++) {
        creator make = creators[i].make;
        const char *fn = creators[i].name;
        EXPECT_NULL_RESULT(make(2, NULL), MT_ERR_NULL, fn);
        EXPECT_NULL_RESULT(make(0, (const int64_t[]){1}), MT_ERR_SHAPE, fn);
        EXPECT_NULL_RESULT(make(-1, (const int64_t[]){1}), MT_ERR_SHAPE, fn);
        EXPECT_NULL_RESULT(make(9, nine_dims), MT_ERR_SHAPE, fn);
        EXPECT_NULL_RESULT(make(MT_DIMS(2, 0)), MT_ERR_SHAPE, fn);
        EXPECT_NULL_RESULT(make(MT_DIMS(0)), MT_ERR_SHAPE, fn);
        EXPECT_NULL_RESULT(make(MT_DIMS(3, -2)), MT_ERR_SHAPE, fn);
        EXPECT_NULL_RESULT(make(MT_DIMS(-1)), MT_ERR_SHAPE, fn);
        EXPECT_NULL_RESULT(make(MT_DIMS((int64_t)1 << 31, (int64_t)1 << 31, 4)), MT_ERR_OVERFLOW, fn);
        EXPECT_NULL_RESULT(make(MT_DIMS((int64_t)1 << 62, 4)), MT_ERR_OVERFLOW, fn);
        EXPECT_NULL_RESULT(make(MT_DIMS(INT64_MAX, INT64_MAX)), MT_ERR_OVERFLOW, fn);
        /* 8 dims is the maximum: it works */
        mt_tensor *ok = make(8, nine_dims);
        cr_assert_not_null(ok, "%s with 8 dims: %s", fn, mt_last_error());
        mt_release(ok);
    }
    cr_assert_eq(mt_memory_get_stats(&after), MT_OK);
    cr_assert_eq(after.live_tensors, before.live_tensors, "failed creations leave no tensor");
    cr_assert_eq(after.bytes_in_use, before.bytes_in_use, "failed creations leave no storage");
}

Test(errors_creation, null_data_and_bad_ranges)
{
    mt_clear_error();
    EXPECT_NULL_RESULT(mt_from_data(MT_DIMS(2), NULL), MT_ERR_NULL, "mt_from_data");
    EXPECT_NULL_RESULT(mt_rand_uniform(MT_DIMS(2), 1.0f, 1.0f, 0), MT_ERR_INVALID_ARG,
                       "mt_rand_uniform");
    EXPECT_NULL_RESULT(mt_rand_uniform(MT_DIMS(2), 2.0f, 1.0f, 0), MT_ERR_INVALID_ARG,
                       "mt_rand_uniform");
    EXPECT_NULL_RESULT(mt_rand_uniform(MT_DIMS(2), NAN, 1.0f, 0), MT_ERR_INVALID_ARG,
                       "mt_rand_uniform");
    EXPECT_NULL_RESULT(mt_rand_uniform(MT_DIMS(2), 0.0f, INFINITY, 0), MT_ERR_INVALID_ARG,
                       "mt_rand_uniform");
    EXPECT_NULL_RESULT(mt_rand_uniform(MT_DIMS(2), -INFINITY, 0.0f, 0), MT_ERR_INVALID_ARG,
                       "mt_rand_uniform");
}

/* ---- inspection ---- */

Test(errors_inspection, size_and_stride)
{
    mt_clear_error();
    mt_tensor *t = mt_zeros(MT_DIMS(2, 3));
    mt_clear_error();
    cr_assert_eq(mt_size(NULL, 0), -1);
    t_expect_error(MT_ERR_NULL, "mt_size");
    mt_clear_error();
    cr_assert_eq(mt_stride(NULL, 0), -1);
    t_expect_error(MT_ERR_NULL, "mt_stride");
    const int bad_dims[] = {2, 3, -3, 100, -100};
    for (size_t i = 0; i < sizeof bad_dims / sizeof bad_dims[0]; i++) {
        mt_clear_error();
        cr_assert_eq(mt_size(t, bad_dims[i]), -1, "dim %d", bad_dims[i]);
        t_expect_error(MT_ERR_INDEX, "mt_size");
        mt_clear_error();
        cr_assert_eq(mt_stride(t, bad_dims[i]), -1, "dim %d", bad_dims[i]);
        t_expect_error(MT_ERR_INDEX, "mt_stride");
    }
    /* in range, negative dims count from the end */
    cr_assert_eq(mt_size(t, -1), 3);
    cr_assert_eq(mt_size(t, -2), 2);
    cr_assert_eq(mt_stride(t, -2), 3);
    cr_assert_eq(mt_stride(t, 1), 1);
    mt_release(t);
}

Test(errors_inspection, null_tolerant_queries)
{
    mt_clear_error();
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    cr_assert_eq(mt_ndim(NULL), 0);
    cr_assert_null(mt_shape(NULL));
    cr_assert_null(mt_strides(NULL));
    cr_assert_eq(mt_offset(NULL), -1);
    cr_assert_eq(mt_numel(NULL), 0);
    cr_assert_not(mt_is_contiguous(NULL));
    cr_assert_not(mt_shares_storage(NULL, t));
    cr_assert_not(mt_shares_storage(t, NULL));
    cr_assert_not(mt_shares_storage(NULL, NULL));
    mt_release(t);
}

/* ---- elements ---- */

Test(errors_elements, get_and_set)
{
    mt_clear_error();
    mt_tensor *t = t_arange(MT_DIMS(2, 3));
    float v = -99.0f;
    EXPECT_STATUS(mt_get(NULL, (const int64_t[]){0, 0}, &v), MT_ERR_NULL, "mt_get");
    EXPECT_STATUS(mt_get(t, NULL, &v), MT_ERR_NULL, "mt_get");
    EXPECT_STATUS(mt_get(t, (const int64_t[]){0, 0}, NULL), MT_ERR_NULL, "mt_get");
    EXPECT_STATUS(mt_get(t, (const int64_t[]){2, 0}, &v), MT_ERR_INDEX, "mt_get");
    EXPECT_STATUS(mt_get(t, (const int64_t[]){0, 3}, &v), MT_ERR_INDEX, "mt_get");
    EXPECT_STATUS(mt_get(t, (const int64_t[]){-1, 0}, &v), MT_ERR_INDEX, "mt_get");
    EXPECT_STATUS(mt_get(t, (const int64_t[]){0, INT64_MIN}, &v), MT_ERR_INDEX, "mt_get");
    cr_assert_eq(v, -99.0f, "a failed mt_get leaves *value alone");

    EXPECT_STATUS(mt_set(NULL, (const int64_t[]){0, 0}, 1.0f), MT_ERR_NULL, "mt_set");
    EXPECT_STATUS(mt_set(t, NULL, 1.0f), MT_ERR_NULL, "mt_set");
    EXPECT_STATUS(mt_set(t, (const int64_t[]){2, 0}, 1.0f), MT_ERR_INDEX, "mt_set");
    EXPECT_STATUS(mt_set(t, (const int64_t[]){1, -1}, 1.0f), MT_ERR_INDEX, "mt_set");
    EXPECT_STATUS(mt_set(t, (const int64_t[]){0, INT64_MAX}, 1.0f), MT_ERR_INDEX, "mt_set");
    float want[6] = {0, 1, 2, 3, 4, 5};
    t_expect_exact("after failed writes", t, want);

    /* on a permuted view, the range check uses the view's shape */
    mt_tensor *p = mt_transpose(t, 0, 1); /* (3,2) */
    EXPECT_STATUS(mt_get(p, (const int64_t[]){0, 2}, &v), MT_ERR_INDEX, "mt_get");
    cr_assert_eq(mt_get(p, (const int64_t[]){2, 1}, &v), MT_OK);
    cr_assert_eq(v, 5.0f);
    /* a narrowed view must not reach the rest of its storage */
    mt_tensor *n = mt_narrow(t, 1, 1, 1); /* (2,1) */
    EXPECT_STATUS(mt_get(n, (const int64_t[]){0, 1}, &v), MT_ERR_INDEX, "mt_get");
    EXPECT_STATUS(mt_set(n, (const int64_t[]){1, 1}, 7.0f), MT_ERR_INDEX, "mt_set");
    t_expect_exact("after failed writes to a view", t, want);
    mt_release(n);
    mt_release(p);
    mt_release(t);
}

Test(errors_elements, item_and_copy_to)
{
    mt_clear_error();
    mt_clear_error();
    cr_assert(isnan(mt_item(NULL)));
    t_expect_error(MT_ERR_NULL, "mt_item");
    mt_tensor *t = t_arange(MT_DIMS(2, 3));
    mt_clear_error();
    cr_assert(isnan(mt_item(t)));
    t_expect_error(MT_ERR_SHAPE, "mt_item");

    float dst[6] = {-1, -1, -1, -1, -1, -1};
    EXPECT_STATUS(mt_copy_to(NULL, dst, 6), MT_ERR_NULL, "mt_copy_to");
    EXPECT_STATUS(mt_copy_to(t, NULL, 6), MT_ERR_NULL, "mt_copy_to");
    EXPECT_STATUS(mt_copy_to(t, dst, 5), MT_ERR_INVALID_ARG, "mt_copy_to");
    EXPECT_STATUS(mt_copy_to(t, dst, 0), MT_ERR_INVALID_ARG, "mt_copy_to");
    EXPECT_STATUS(mt_copy_to(t, dst, -1), MT_ERR_INVALID_ARG, "mt_copy_to");
    for (int i = 0; i < 6; i++) cr_assert_eq(dst[i], -1.0f, "a failed copy writes nothing");
    mt_release(t);
}

Test(errors_elements, set_on_expanded)
{
    mt_clear_error();
    mt_tensor *s = mt_scalar(1.0f);
    mt_tensor *e = mt_expand(s, MT_DIMS(3));
    EXPECT_STATUS(mt_set(e, (const int64_t[]){0}, 5.0f), MT_ERR_INVALID_ARG, "mt_set");
    cr_assert_eq(mt_item(s), 1.0f);
    mt_release(e);
    mt_release(s);
}

/* ---- printing ---- */

Test(errors_printing, format_and_print)
{
    mt_clear_error();
    char buffer[16] = "untouched";
    mt_clear_error();
    cr_assert_eq(mt_format(NULL, buffer, sizeof buffer), -1);
    t_expect_error(MT_ERR_NULL, "mt_format");
    cr_assert_str_eq(buffer, "untouched");
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    mt_clear_error();
    cr_assert_eq(mt_format(t, NULL, 10), -1);
    t_expect_error(MT_ERR_NULL, "mt_format");

    FILE *f = tmpfile();
    cr_assert_not_null(f);
    EXPECT_STATUS(mt_fprint(NULL, t), MT_ERR_NULL, "mt_fprint");
    EXPECT_STATUS(mt_fprint(f, NULL), MT_ERR_NULL, "mt_fprint");
    EXPECT_STATUS(mt_print(NULL), MT_ERR_NULL, "mt_print");
    char *text = t_read_stream(f);
    cr_assert_str_eq(text, "", "failed prints write nothing");
    free(text);
    fclose(f);

    /* a stream that cannot be written */
    FILE *ro = fopen("/dev/null", "r");
    cr_assert_not_null(ro);
    EXPECT_STATUS(mt_fprint(ro, t), MT_ERR_IO, "mt_fprint");
    fclose(ro);
    mt_release(t);
}

/* ---- index helpers ---- */

Test(errors_index_helpers, strides_from_shape)
{
    mt_clear_error();
    int64_t strides[MT_MAX_DIMS + 1];
    for (int i = 0; i <= MT_MAX_DIMS; i++) strides[i] = 77;
    EXPECT_STATUS(mt_strides_from_shape(MT_DIMS(2, 3), NULL), MT_ERR_NULL, "mt_strides_from_shape");
    EXPECT_STATUS(mt_strides_from_shape(2, NULL, strides), MT_ERR_NULL, "mt_strides_from_shape");
    EXPECT_STATUS(mt_strides_from_shape(0, (const int64_t[]){1}, strides), MT_ERR_SHAPE,
                  "mt_strides_from_shape");
    EXPECT_STATUS(mt_strides_from_shape(9, nine_dims, strides), MT_ERR_SHAPE,
                  "mt_strides_from_shape");
    EXPECT_STATUS(mt_strides_from_shape(MT_DIMS(4, 0), strides), MT_ERR_SHAPE,
                  "mt_strides_from_shape");
    EXPECT_STATUS(mt_strides_from_shape(MT_DIMS(4, -3), strides), MT_ERR_SHAPE,
                  "mt_strides_from_shape");
    EXPECT_STATUS(mt_strides_from_shape(MT_DIMS((int64_t)1 << 31, (int64_t)1 << 31, 4), strides),
                  MT_ERR_OVERFLOW, "mt_strides_from_shape");
    for (int i = 0; i <= MT_MAX_DIMS; i++) cr_assert_eq(strides[i], 77, "strides left alone");
}

Test(errors_index_helpers, to_index)
{
    mt_clear_error();
    int64_t idx[MT_MAX_DIMS] = {5, 5, 5, 5, 5, 5, 5, 5};
    EXPECT_STATUS(mt_to_index(0, MT_DIMS(2, 3), NULL), MT_ERR_NULL, "mt_to_index");
    EXPECT_STATUS(mt_to_index(0, 2, NULL, idx), MT_ERR_NULL, "mt_to_index");
    EXPECT_STATUS(mt_to_index(6, MT_DIMS(2, 3), idx), MT_ERR_INDEX, "mt_to_index");
    EXPECT_STATUS(mt_to_index(-1, MT_DIMS(2, 3), idx), MT_ERR_INDEX, "mt_to_index");
    EXPECT_STATUS(mt_to_index(INT64_MAX, MT_DIMS(2, 3), idx), MT_ERR_INDEX, "mt_to_index");
    EXPECT_STATUS(mt_to_index(0, 0, (const int64_t[]){1}, idx), MT_ERR_SHAPE, "mt_to_index");
    EXPECT_STATUS(mt_to_index(0, 9, nine_dims, idx), MT_ERR_SHAPE, "mt_to_index");
    EXPECT_STATUS(mt_to_index(0, MT_DIMS(2, 0), idx), MT_ERR_SHAPE, "mt_to_index");
    for (int i = 0; i < MT_MAX_DIMS; i++) cr_assert_eq(idx[i], 5, "index left alone");
}

Test(errors_index_helpers, broadcast_index)
{
    mt_clear_error();
    const int64_t big_shape[] = {2, 3, 4}, big_index[] = {1, 2, 3};
    int64_t out[MT_MAX_DIMS] = {9, 9, 9, 9, 9, 9, 9, 9};
    const char *fn = "mt_broadcast_index";
    EXPECT_STATUS(mt_broadcast_index(3, NULL, big_shape, MT_DIMS(3, 4), out), MT_ERR_NULL, fn);
    EXPECT_STATUS(mt_broadcast_index(3, big_index, NULL, MT_DIMS(3, 4), out), MT_ERR_NULL, fn);
    EXPECT_STATUS(mt_broadcast_index(3, big_index, big_shape, 2, NULL, out), MT_ERR_NULL, fn);
    EXPECT_STATUS(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(3, 4), NULL), MT_ERR_NULL, fn);
    /* shapes that do not broadcast to big_shape */
    EXPECT_STATUS(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(5, 4), out), MT_ERR_BROADCAST,
                  fn);
    EXPECT_STATUS(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(2), out), MT_ERR_BROADCAST,
                  fn);
    EXPECT_STATUS(mt_broadcast_index(3, big_index, big_shape, MT_DIMS(1, 2, 3, 4), out),
                  MT_ERR_BROADCAST, fn);
    /* an index outside big_shape */
    EXPECT_STATUS(mt_broadcast_index(3, (const int64_t[]){1, 3, 0}, big_shape, MT_DIMS(3, 4), out),
                  MT_ERR_INDEX, fn);
    EXPECT_STATUS(mt_broadcast_index(3, (const int64_t[]){0, 0, -1}, big_shape, MT_DIMS(4), out),
                  MT_ERR_INDEX, fn);
    /* bad shapes */
    EXPECT_STATUS(mt_broadcast_index(0, big_index, big_shape, MT_DIMS(1), out), MT_ERR_SHAPE, fn);
    EXPECT_STATUS(mt_broadcast_index(3, big_index, big_shape, 0, (const int64_t[]){1}, out),
                  MT_ERR_SHAPE, fn);
    EXPECT_STATUS(mt_broadcast_index(3, big_index, (const int64_t[]){2, 0, 4}, MT_DIMS(4), out),
                  MT_ERR_SHAPE, fn);
    for (int i = 0; i < MT_MAX_DIMS; i++) cr_assert_eq(out[i], 9, "index left alone");
}

Test(errors_index_helpers, shape_broadcast)
{
    mt_clear_error();
    int n = -3;
    int64_t out[MT_MAX_DIMS] = {9, 9, 9, 9, 9, 9, 9, 9};
    const char *fn = "mt_shape_broadcast";
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(2), MT_DIMS(2), NULL, out), MT_ERR_NULL, fn);
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(2), MT_DIMS(2), &n, NULL), MT_ERR_NULL, fn);
    EXPECT_STATUS(mt_shape_broadcast(1, NULL, MT_DIMS(2), &n, out), MT_ERR_NULL, fn);
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(2), 1, NULL, &n, out), MT_ERR_NULL, fn);
    EXPECT_STATUS(mt_shape_broadcast(0, (const int64_t[]){1}, MT_DIMS(2), &n, out), MT_ERR_SHAPE, fn);
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(2), 9, nine_dims, &n, out), MT_ERR_SHAPE, fn);
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(0), MT_DIMS(2), &n, out), MT_ERR_SHAPE, fn);
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(5, 7, 5, 1), MT_DIMS(1, 5, 1, 5), &n, out),
                  MT_ERR_BROADCAST, fn);
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(5, 2), MT_DIMS(5), &n, out), MT_ERR_BROADCAST, fn);
    EXPECT_STATUS(mt_shape_broadcast(MT_DIMS(2, 4), MT_DIMS(3, 1, 3), &n, out), MT_ERR_BROADCAST, fn);
    cr_assert_eq(n, -3);
    for (int i = 0; i < MT_MAX_DIMS; i++) cr_assert_eq(out[i], 9, "out_shape left alone");
}

/* ---- views ---- */

Test(errors_views, permute_and_transpose)
{
    mt_clear_error();
    mt_tensor *t = t_arange(MT_DIMS(2, 3, 4));
    EXPECT_NULL_RESULT(mt_permute(NULL, (const int[]){0, 1, 2}), MT_ERR_NULL, "mt_permute");
    EXPECT_NULL_RESULT(mt_permute(t, NULL), MT_ERR_NULL, "mt_permute");
    EXPECT_NULL_RESULT(mt_permute(t, (const int[]){0, 0, 1}), MT_ERR_INVALID_ARG, "mt_permute");
    EXPECT_NULL_RESULT(mt_permute(t, (const int[]){2, 1, 2}), MT_ERR_INVALID_ARG, "mt_permute");
    EXPECT_NULL_RESULT(mt_permute(t, (const int[]){0, 1, 3}), MT_ERR_INVALID_ARG, "mt_permute");
    EXPECT_NULL_RESULT(mt_permute(t, (const int[]){-1, 0, 1}), MT_ERR_INVALID_ARG, "mt_permute");
    EXPECT_NULL_RESULT(mt_permute(t, (const int[]){2147483647, -2147483647 - 1, 0}),
                       MT_ERR_INVALID_ARG, "mt_permute");
    EXPECT_NULL_RESULT(mt_transpose(NULL, 0, 1), MT_ERR_NULL, "mt_transpose");
    EXPECT_NULL_RESULT(mt_transpose(t, 0, 3), MT_ERR_INDEX, "mt_transpose");
    EXPECT_NULL_RESULT(mt_transpose(t, -4, 0), MT_ERR_INDEX, "mt_transpose");
    expect_layout(t, MT_DIMS(2, 3, 4), (const int64_t[]){12, 4, 1}, 0);
    mt_release(t);
}

Test(errors_views, view_and_reshape)
{
    mt_clear_error();
    mt_tensor *t = t_arange(MT_DIMS(2, 3, 4));
    mt_tensor *p = mt_transpose(t, 0, 2); /* (4,3,2), not contiguous */
    const char *names[] = {"mt_view", "mt_reshape"};
    for (int k = 0; k < 2; k++) {
        mt_tensor *(*fn)(mt_tensor *, int, const int64_t *) = k ? mt_reshape : mt_view;
        const char *name = names[k];
        EXPECT_NULL_RESULT(fn(NULL, MT_DIMS(24)), MT_ERR_NULL, name);
        EXPECT_NULL_RESULT(fn(t, 1, NULL), MT_ERR_NULL, name);
        EXPECT_NULL_RESULT(fn(t, 0, (const int64_t[]){24}), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, 9, nine_dims), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, MT_DIMS(5, 5)), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, MT_DIMS(25)), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, MT_DIMS(24, 0)), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, MT_DIMS(-1, -1)), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, MT_DIMS(-1, 5)), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, MT_DIMS(-2, -12)), MT_ERR_SHAPE, name);
        EXPECT_NULL_RESULT(fn(t, MT_DIMS(-1, (int64_t)1 << 40, (int64_t)1 << 40)), MT_ERR_OVERFLOW,
                           name);
    }
    EXPECT_NULL_RESULT(mt_view(p, MT_DIMS(24)), MT_ERR_NOT_CONTIGUOUS, "mt_view");
    expect_layout(t, MT_DIMS(2, 3, 4), (const int64_t[]){12, 4, 1}, 0);
    expect_layout(p, MT_DIMS(4, 3, 2), (const int64_t[]){1, 4, 12}, 0);
    mt_release(p);
    mt_release(t);
}

Test(errors_views, expand_narrow_contiguous)
{
    mt_clear_error();
    mt_tensor *t = t_arange(MT_DIMS(3, 1));
    EXPECT_NULL_RESULT(mt_expand(NULL, MT_DIMS(3, 4)), MT_ERR_NULL, "mt_expand");
    EXPECT_NULL_RESULT(mt_expand(t, 2, NULL), MT_ERR_NULL, "mt_expand");
    EXPECT_NULL_RESULT(mt_expand(t, 0, (const int64_t[]){3}), MT_ERR_SHAPE, "mt_expand");
    EXPECT_NULL_RESULT(mt_expand(t, 9, nine_dims), MT_ERR_SHAPE, "mt_expand");
    EXPECT_NULL_RESULT(mt_expand(t, MT_DIMS(3, 0)), MT_ERR_SHAPE, "mt_expand");
    EXPECT_NULL_RESULT(mt_expand(t, MT_DIMS(4, 4)), MT_ERR_BROADCAST, "mt_expand");
    EXPECT_NULL_RESULT(mt_expand(t, MT_DIMS(4)), MT_ERR_BROADCAST, "mt_expand"); /* fewer dims */
    EXPECT_NULL_RESULT(mt_expand(t, MT_DIMS(3)), MT_ERR_BROADCAST, "mt_expand");
    EXPECT_NULL_RESULT(mt_expand(t, MT_DIMS(2, 6, 4)), MT_ERR_BROADCAST, "mt_expand");

    mt_tensor *m = t_arange(MT_DIMS(4, 5));
    EXPECT_NULL_RESULT(mt_narrow(NULL, 0, 0, 1), MT_ERR_NULL, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 2, 0, 1), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, -3, 0, 1), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 0, -1, 2), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 0, 0, 0), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 0, 0, -1), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 0, 3, 2), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 1, 5, 1), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_contiguous(NULL), MT_ERR_NULL, "mt_contiguous");
    expect_layout(t, MT_DIMS(3, 1), (const int64_t[]){1, 1}, 0);
    expect_layout(m, MT_DIMS(4, 5), (const int64_t[]){5, 1}, 0);
    mt_release(m);
    mt_release(t);
}

Test(errors_views, narrow_with_huge_start_or_length)
{
    /* Extreme but legal int64 arguments must be refused cleanly (no signed overflow, which
     * UBSan reports as "runtime error"). */
    mt_clear_error();
    mt_tensor *m = t_arange(MT_DIMS(4, 5));
    EXPECT_NULL_RESULT(mt_narrow(m, 1, INT64_MAX, 1), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 1, 1, INT64_MAX), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 1, INT64_MAX, INT64_MAX), MT_ERR_INDEX, "mt_narrow");
    EXPECT_NULL_RESULT(mt_narrow(m, 0, -1, INT64_MIN), MT_ERR_INDEX, "mt_narrow");
    expect_layout(m, MT_DIMS(4, 5), (const int64_t[]){5, 1}, 0);
    mt_release(m);
}

/* ---- scopes and memory ---- */

Test(errors_scopes, end_without_scope_and_release_of_scope_reference)
{
    mt_clear_error();
    EXPECT_STATUS(mt_scope_end((mt_scope){.depth = 1}), MT_ERR_SCOPE, "mt_scope_end");
    EXPECT_STATUS(mt_scope_end((mt_scope){.depth = -1}), MT_ERR_SCOPE, "mt_scope_end");
    mt_scope s = mt_scope_begin();
    cr_assert_eq(mt_scope_depth(), 1);
    EXPECT_STATUS(mt_scope_end((mt_scope){.depth = s.depth + 1}), MT_ERR_SCOPE, "mt_scope_end");
    EXPECT_STATUS(mt_scope_end((mt_scope){.depth = 0}), MT_ERR_SCOPE, "mt_scope_end");
    cr_assert_eq(mt_scope_depth(), 1, "failed ends close nothing");
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    EXPECT_STATUS(mt_release(t), MT_ERR_SCOPE, "mt_release");
    cr_assert_eq(mt_numel(t), 2);
    cr_assert_eq(mt_scope_end(s), MT_OK);
    cr_assert_eq(mt_scope_depth(), 0);
    cr_assert_eq(mt_release(NULL), MT_OK, "releasing NULL is a no-op");
    cr_assert_null(mt_retain(NULL));
}

Test(errors_memory, stats_and_cache_limit)
{
    mt_clear_error();
    EXPECT_STATUS(mt_memory_get_stats(NULL), MT_ERR_NULL, "mt_memory_get_stats");
    mt_memory_stats before, after;
    cr_assert_eq(mt_memory_get_stats(&before), MT_OK);
    EXPECT_STATUS(mt_memory_set_cache_limit(-1), MT_ERR_INVALID_ARG, "mt_memory_set_cache_limit");
    EXPECT_STATUS(mt_memory_set_cache_limit(INT64_MIN), MT_ERR_INVALID_ARG,
                  "mt_memory_set_cache_limit");
    cr_assert_eq(mt_memory_get_stats(&after), MT_OK);
    cr_assert_eq(after.cache_limit, before.cache_limit, "a refused limit changes nothing");
    cr_assert_eq(mt_memory_set_cache_limit((int64_t)1 << 30), MT_OK);
}

/* ---- runtime setters ---- */

Test(errors_runtime, backend)
{
    mt_clear_error();
    mt_backend before = mt_get_backend();
    EXPECT_STATUS(mt_set_backend((mt_backend)2), MT_ERR_BACKEND, "mt_set_backend");
    EXPECT_STATUS(mt_set_backend((mt_backend)-1), MT_ERR_BACKEND, "mt_set_backend");
    cr_assert_eq(mt_get_backend(), before, "a refused backend changes nothing");
    EXPECT_STATUS(mt_set_backend_by_name(NULL), MT_ERR_NULL, "mt_set_backend_by_name");
    EXPECT_STATUS(mt_set_backend_by_name("cuda"), MT_ERR_BACKEND, "mt_set_backend_by_name");
    EXPECT_STATUS(mt_set_backend_by_name(""), MT_ERR_BACKEND, "mt_set_backend_by_name");
    EXPECT_STATUS(mt_set_backend_by_name("naive "), MT_ERR_BACKEND, "mt_set_backend_by_name");
    cr_assert_eq(mt_get_backend(), before);
    cr_assert_null(mt_backend_name((mt_backend)2));
    cr_assert_null(mt_backend_name((mt_backend)-1));
    cr_assert_str_eq(mt_backend_name(MT_BACKEND_NAIVE), "naive");
    cr_assert_str_eq(mt_backend_name(MT_BACKEND_BLAS), "blas");
    /* the valid names work */
    cr_assert_eq(mt_set_backend_by_name("naive"), MT_OK);
    cr_assert_eq(mt_get_backend(), MT_BACKEND_NAIVE);
    cr_assert_eq(mt_set_backend_by_name("blas"), MT_OK);
    cr_assert_eq(mt_get_backend(), MT_BACKEND_BLAS);
    cr_assert_eq(mt_set_backend(before), MT_OK);
}

Test(errors_runtime, threads)
{
    mt_clear_error();
    cr_assert_eq(mt_set_num_threads(3), MT_OK);
    EXPECT_STATUS(mt_set_num_threads(-1), MT_ERR_INVALID_ARG, "mt_set_num_threads");
    EXPECT_STATUS(mt_set_num_threads(-2147483647 - 1), MT_ERR_INVALID_ARG, "mt_set_num_threads");
    EXPECT_STATUS(mt_set_num_threads(1 << 20), MT_ERR_INVALID_ARG, "mt_set_num_threads");
    cr_assert_eq(mt_get_num_threads(), 3, "a refused count changes nothing");
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
    cr_assert_geq(mt_get_num_threads(), 1);
}

Test(errors_runtime, trace_to_unwritable_path)
{
    mt_clear_error();
    bool before = mt_trace_enabled();
    EXPECT_STATUS(mt_set_trace(true, "/nonexistent-minitorch-dir/sub/trace.log"), MT_ERR_IO,
                  "mt_set_trace");
    cr_assert_eq(mt_trace_enabled(), before, "a refused trace changes nothing");
    /* a directory cannot be opened for appending */
    EXPECT_STATUS(mt_set_trace(true, "/"), MT_ERR_IO, "mt_set_trace");
    cr_assert_eq(mt_trace_enabled(), before);
}

Test(errors_runtime, trace_to_a_file_then_off)
{
    mt_clear_error();
    char path[] = "/tmp/minitorch-core-trace-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(mt_set_trace(true, path), MT_OK, "%s", mt_last_error());
    cr_assert(mt_trace_enabled());
    mt_tensor *a = mt_ones(MT_DIMS(4)), *b = mt_add(a, a);
    cr_assert_eq(mt_set_trace(false, NULL), MT_OK);
    cr_assert_not(mt_trace_enabled());
    mt_tensor *c = mt_add(b, b); /* not traced */
    mt_release(c);
    mt_release(b);
    mt_release(a);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char *text = t_read_stream(f);
    fclose(f);
    unlink(path);
    cr_assert_not_null(strstr(text, "minitorch-trace op="), "trace file: \"%s\"", text);
    const char *first = strstr(text, "minitorch-trace");
    cr_assert_null(strstr(first + 1, "minitorch-trace"), "one line for the one traced call: %s",
                   text);
    free(text);
}

/* ---- error state ---- */

Test(errors_state, null_input_keeps_first_error)
{
    mt_clear_error();
    mt_tensor *a = mt_zeros(MT_DIMS(2, 3)), *b = mt_zeros(MT_DIMS(4, 5));
    mt_tensor *x = mt_ones(MT_DIMS(2, 3));
    mt_tensor *m = mt_matmul(a, b);
    cr_assert_null(m);
    t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    char first[512];
    snprintf(first, sizeof first, "%s", mt_last_error());
    cr_assert_null(mt_sigmoid(m));
    cr_assert_null(mt_add(m, x));
    cr_assert_null(mt_add(x, m));
    cr_assert_null(mt_permute(m, (const int[]){1, 0}));
    cr_assert_null(mt_view(m, MT_DIMS(6)));
    cr_assert_null(mt_sum(m, 0));
    cr_assert_null(mt_matmul(m, x));
    float v;
    cr_assert_eq(mt_get(m, (const int64_t[]){0, 0}, &v), MT_ERR_SHAPE, "returns the recorded first failure");
    t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    cr_assert_str_eq(mt_last_error(), first, "the first failure is the one reported");
    mt_release(x);
    mt_release(b);
    mt_release(a);
}

Test(errors_state, chain_reports_first_failure)
{
    mt_clear_error();
    mt_tensor *x = mt_ones(MT_DIMS(2, 3)), *w = mt_ones(MT_DIMS(4, 2)), *bias = mt_ones(MT_DIMS(2));
    mt_scope s = mt_scope_begin();
    cr_assert_null(mt_sigmoid(mt_add(mt_matmul(x, w), bias)));
    t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    cr_assert_eq(mt_scope_end(s), MT_OK);
    mt_release(bias);
    mt_release(w);
    mt_release(x);
}

Test(errors_state, success_keeps_error_and_clear_resets)
{
    mt_clear_error();
    cr_assert_eq(mt_last_status(), MT_OK);
    cr_assert_str_eq(mt_last_error(), "");
    cr_assert_null(mt_zeros(MT_DIMS(0)));
    t_expect_error(MT_ERR_SHAPE, "mt_zeros");
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    cr_assert_not_null(t);
    t_expect_error(MT_ERR_SHAPE, "mt_zeros"); /* like errno: success leaves it */
    mt_clear_error();
    cr_assert_eq(mt_last_status(), MT_OK);
    cr_assert_str_eq(mt_last_error(), "");
    /* a new, non-NULL failure replaces an old one */
    cr_assert_null(mt_zeros(MT_DIMS(0)));
    cr_assert_null(mt_narrow(t, 5, 0, 1));
    t_expect_error(MT_ERR_INDEX, "mt_narrow");
    mt_clear_error();
    cr_assert_eq(mt_last_status(), MT_OK);
    cr_assert_str_eq(mt_last_error(), "");
    mt_release(t);
}

Test(errors_state, binary_op_failure_leaves_inputs_unchanged)
{
    mt_clear_error();
    mt_tensor *a = t_arange(MT_DIMS(2, 3)), *b = t_arange(MT_DIMS(2, 2));
    mt_tensor *pa = mt_transpose(a, 0, 1);
    mt_memory_stats before, after;
    cr_assert_eq(mt_memory_get_stats(&before), MT_OK);
    cr_assert_null(mt_add(pa, b)); /* (3,2) + (2,2) */
    t_expect_error(MT_ERR_BROADCAST, "mt_add");
    cr_assert_null(mt_matmul(a, b));
    t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    cr_assert_eq(mt_memory_get_stats(&after), MT_OK);
    cr_assert_eq(after.live_tensors, before.live_tensors, "a failed op leaves no tensor behind");
    expect_layout(pa, MT_DIMS(3, 2), (const int64_t[]){1, 3}, 0);
    t_expect_exact("a", a, (const float[]){0, 1, 2, 3, 4, 5});
    t_expect_exact("b", b, (const float[]){0, 1, 2, 3});
    mt_release(pa);
    mt_release(b);
    mt_release(a);
}

static void *fail_on_thread(void *arg)
{
    mt_status *seen = arg;
    seen[0] = mt_last_status(); /* the other thread's error is not visible here */
    (void)mt_zeros(MT_DIMS(0));
    seen[1] = mt_last_status();
    return NULL;
}

Test(errors_state, error_state_is_per_thread)
{
    mt_clear_error();
    cr_assert_null(mt_narrow(NULL, 0, 0, 1));
    t_expect_error(MT_ERR_NULL, "mt_narrow");
    mt_status seen[2] = {MT_OK, MT_OK};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, fail_on_thread, seen), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_assert_eq(seen[0], MT_OK, "a new thread starts without an error");
    cr_assert_eq(seen[1], MT_ERR_SHAPE);
    t_expect_error(MT_ERR_NULL, "mt_narrow"); /* this thread's error is untouched */
}

Test(errors_state, strerror_describes_every_status)
{
    const char *seen[MT_ERR_DIST + 1];
    for (int s = MT_OK; s <= MT_ERR_DIST; s++) {
        seen[s] = mt_strerror((mt_status)s);
        cr_assert_not_null(seen[s]);
        cr_assert_gt(strlen(seen[s]), 0u);
        for (int k = 0; k < s; k++)
            cr_assert_str_neq(seen[k], seen[s], "statuses %d and %d share a description", k, s);
    }
}
