/* Contract audit of the whole public API: every function of the headers in include/minitorch
 * is called with bad arguments — NULL for each pointer, out-of-range dims, bad enum values, ndim 0 and 9,
 * negative and zero sizes, element-count overflow, non-permutations, views of non-contiguous
 * data, bad backend names, thread counts -1 and 100000, scope misuse, releasing references the
 * caller does not own, mt_no_grad_end without begin — and must return its documented failure
 * value (NULL, the status, -1, NaN, ...) with the documented status recorded and a message
 * "<function>: <description>", never crash (ASan/UBSan), and leave its outputs alone.
 *
 * Cases are organised as tables: families of functions with the same signature (creators, unary,
 * binary, scalar and reduction ops, shape-taking views) crossed with tables of bad arguments.
 * Violations are collected (t_violation) so one run lists every broken contract. The last test
 * parses the public headers and fails if any MT_API function was not audited here. */
#include "testing.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MT_INCLUDE_DIR
#error "MT_INCLUDE_DIR must name include/minitorch (set in tests/CMakeLists.txt)"
#endif

/* Huge allocations must fail with MT_ERR_NO_MEMORY instead of aborting in ASan's allocator, also
 * when this executable is run by hand (ctest sets the same through ASAN_OPTIONS). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- which public functions were audited ---- */

#define MAX_COVERED 256
static const char *covered_names[MAX_COVERED];
static int covered_count;

static void cover(const char *fn)
{
    for (int i = 0; i < covered_count; i++)
        if (strcmp(covered_names[i], fn) == 0) return;
    cr_assert_lt(covered_count, MAX_COVERED);
    covered_names[covered_count++] = fn;
}

/* ---- checking one failing call ---- */

static void check_recorded(const char *call, const char *fn, mt_status status)
{
    cover(fn);
    if (mt_last_status() != status)
        t_violation("%s: recorded %s (\"%s\"), expected %s", call, mt_strerror(mt_last_status()),
                    mt_last_error(), mt_strerror(status));
    else if (!t_error_names(fn))
        t_violation("%s: message \"%s\" does not start with \"%s: \"", call, mt_last_error(), fn);
}

/* A call returning a tensor: NULL and `status`. A tensor returned by mistake is released (tests
 * run without a scope unless they say otherwise). */
static void check_null(const char *call, const char *fn, mt_status status, mt_tensor *r)
{
    if (r) {
        cover(fn);
        t_violation("%s: returned a tensor, expected NULL with %s", call, mt_strerror(status));
        if (mt_scope_depth() == 0) mt_release(r);
        return;
    }
    check_recorded(call, fn, status);
}

static void check_status(const char *call, const char *fn, mt_status status, mt_status r)
{
    if (r != status) {
        cover(fn);
        t_violation("%s: returned %s (\"%s\"), expected %s", call, mt_strerror(r), mt_last_error(),
                    mt_strerror(status));
        return;
    }
    check_recorded(call, fn, status);
}

#define EXPECT_NULL(status, fn, call)                                                              \
    do {                                                                                           \
        mt_clear_error();                                                                          \
        check_null(#call, fn, status, (call));                                                     \
    } while (0)

#define EXPECT_STATUS(status, fn, call)                                                            \
    do {                                                                                           \
        mt_clear_error();                                                                          \
        check_status(#call, fn, status, (call));                                                   \
    } while (0)

/* A call returning a value with a documented failure value (e.g. -1). */
#define EXPECT_VALUE(status, fn, call, fail_value)                                                 \
    do {                                                                                           \
        mt_clear_error();                                                                          \
        int64_t r_ = (int64_t)(call);                                                              \
        if (r_ != (int64_t)(fail_value)) {                                                         \
            cover(fn);                                                                             \
            t_violation("%s: returned %lld, expected %lld", #call, (long long)r_,                  \
                        (long long)(fail_value));                                                  \
        } else {                                                                                   \
            check_recorded(#call, fn, status);                                                     \
        }                                                                                          \
    } while (0)

/* A call that must succeed (documented as valid, e.g. NULL-tolerant queries). */
#define EXPECT_TRUE(fn, cond)                                                                      \
    do {                                                                                           \
        cover(fn);                                                                                 \
        if (!(cond)) t_violation("%s: expected %s", fn, #cond);                                    \
    } while (0)

/* ---- fixtures ---- */

static mt_tensor *arange(int ndim, const int64_t *shape) { return t_arange(ndim, shape); }

static const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
static const float zeros16[16] = {0};

/* Bad shapes for every function taking (ndim, shape). numel of the valid shapes is irrelevant. */
typedef struct bad_shape {
    const char *what;
    int ndim;
    const int64_t *shape;
    mt_status status;
} bad_shape;

static const bad_shape bad_shapes[] = {
    {"NULL shape", 2, NULL, MT_ERR_NULL},
    {"ndim 0", 0, (const int64_t[]){2}, MT_ERR_SHAPE},
    {"ndim -1", -1, (const int64_t[]){2}, MT_ERR_SHAPE},
    {"ndim 9", 9, nine, MT_ERR_SHAPE},
    {"ndim INT_MAX", INT_MAX, nine, MT_ERR_SHAPE},
    {"ndim INT_MIN", INT_MIN, nine, MT_ERR_SHAPE},
    {"size 0", 2, (const int64_t[]){2, 0}, MT_ERR_SHAPE},
    {"size -1 (not a view)", 2, (const int64_t[]){-2, 3}, MT_ERR_SHAPE},
    {"size INT64_MIN", 1, (const int64_t[]){INT64_MIN}, MT_ERR_SHAPE},
    {"2^64 elements", 3, (const int64_t[]){(int64_t)1 << 31, (int64_t)1 << 31, 4}, MT_ERR_OVERFLOW},
    {"2^64 elements in 8 dims", 8,
     (const int64_t[]){256, 256, 256, 256, 256, 256, 256, 256}, MT_ERR_OVERFLOW},
    {"INT64_MAX^2 elements", 2, (const int64_t[]){INT64_MAX, INT64_MAX}, MT_ERR_OVERFLOW},
    {"2^61 elements", 1, (const int64_t[]){(int64_t)1 << 61}, MT_ERR_OVERFLOW},
};
#define BAD_SHAPES (sizeof bad_shapes / sizeof bad_shapes[0])

static const int bad_dims_for_2d[] = {2, 3, -3, 100, -100, INT_MAX, INT_MIN};
#define BAD_DIMS (sizeof bad_dims_for_2d / sizeof bad_dims_for_2d[0])

/* ==== creation ==== */

typedef mt_tensor *(*creator)(int ndim, const int64_t *shape);
static mt_tensor *make_zeros(int n, const int64_t *s) { return mt_zeros(n, s); }
static mt_tensor *make_ones(int n, const int64_t *s) { return mt_ones(n, s); }
static mt_tensor *make_full(int n, const int64_t *s) { return mt_full(n, s, 2.0f); }
static mt_tensor *make_from_data(int n, const int64_t *s) { return mt_from_data(n, s, zeros16); }
static mt_tensor *make_rand(int n, const int64_t *s) { return mt_rand(n, s, 1); }
static mt_tensor *make_uniform(int n, const int64_t *s) { return mt_rand_uniform(n, s, -1, 1, 1); }
static mt_tensor *make_randn(int n, const int64_t *s) { return mt_randn(n, s, 1); }

static const struct {
    const char *fn;
    creator make;
} creators[] = {{"mt_zeros", make_zeros}, {"mt_ones", make_ones},
                {"mt_full", make_full},   {"mt_from_data", make_from_data},
                {"mt_rand", make_rand},   {"mt_rand_uniform", make_uniform},
                {"mt_randn", make_randn}};

static void audit_creation(void)
{
    for (size_t c = 0; c < sizeof creators / sizeof creators[0]; c++)
        for (size_t s = 0; s < BAD_SHAPES; s++) {
            char call[128];
            snprintf(call, sizeof call, "%s(%s)", creators[c].fn, bad_shapes[s].what);
            mt_clear_error();
            check_null(call, creators[c].fn, bad_shapes[s].status,
                       creators[c].make(bad_shapes[s].ndim, bad_shapes[s].shape));
        }
    /* below the 2^60 limit but far beyond memory: a clean out-of-memory, not an abort */
    for (size_t c = 0; c < sizeof creators / sizeof creators[0]; c++) {
        if (strcmp(creators[c].fn, "mt_from_data") == 0) continue; /* would read 2^59 floats */
        char call[128];
        snprintf(call, sizeof call, "%s(2^59 elements)", creators[c].fn);
        mt_clear_error();
        check_null(call, creators[c].fn, MT_ERR_NO_MEMORY,
                   creators[c].make(2, (const int64_t[]){(int64_t)1 << 30, (int64_t)1 << 29}));
    }
    EXPECT_NULL(MT_ERR_NULL, "mt_from_data", mt_from_data(MT_DIMS(2), NULL));
    const float bounds[][2] = {{1, 1}, {2, 1}, {NAN, 1}, {0, NAN}, {0, INFINITY}, {-INFINITY, 0}};
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_rand_uniform",
                    mt_rand_uniform(MT_DIMS(2), bounds[i][0], bounds[i][1], 0));
    /* ranges and the identity */
    const float bad_ranges[][3] = {{0, 1, 0}, {0, 1, -1}, {1, 0, 1}, {NAN, 1, 1}, {0, INFINITY, 1}};
    for (size_t i = 0; i < sizeof bad_ranges / sizeof bad_ranges[0]; i++)
        EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_arange",
                    mt_arange(bad_ranges[i][0], bad_ranges[i][1], bad_ranges[i][2]));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_arange", mt_arange(1, 1, 1));
    EXPECT_NULL(MT_ERR_OVERFLOW, "mt_arange", mt_arange(0, 1e30f, 1e-30f));
    EXPECT_NULL(MT_ERR_NO_MEMORY, "mt_arange", mt_arange(0, 0x1p59f, 1));
    const int64_t bad_counts[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        EXPECT_NULL(MT_ERR_SHAPE, "mt_linspace", mt_linspace(0, 1, bad_counts[i]));
        EXPECT_NULL(MT_ERR_SHAPE, "mt_eye", mt_eye(bad_counts[i]));
    }
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_linspace", mt_linspace(NAN, 1, 3));
    EXPECT_NULL(MT_ERR_NO_MEMORY, "mt_linspace", mt_linspace(0, 1, (int64_t)1 << 59));
    EXPECT_NULL(MT_ERR_OVERFLOW, "mt_eye", mt_eye(INT64_MAX));
    EXPECT_NULL(MT_ERR_NO_MEMORY, "mt_eye", mt_eye((int64_t)1 << 29));
    EXPECT_NULL(MT_ERR_NULL, "mt_zeros_like", mt_zeros_like(NULL));
    EXPECT_NULL(MT_ERR_NULL, "mt_ones_like", mt_ones_like(NULL));
    EXPECT_NULL(MT_ERR_NULL, "mt_full_like", mt_full_like(NULL, 1.0f));
    /* mt_scalar has no bad argument: any float, NaN included */
    mt_tensor *s = mt_scalar(NAN);
    EXPECT_TRUE("mt_scalar", s && isnan(mt_item(s)));
    mt_release(s);
}

/* ==== inspection, elements, printing ==== */

static void audit_inspection(void)
{
    mt_tensor *t = arange(MT_DIMS(2, 3));
    EXPECT_VALUE(MT_ERR_NULL, "mt_size", mt_size(NULL, 0), -1);
    EXPECT_VALUE(MT_ERR_NULL, "mt_stride", mt_stride(NULL, 0), -1);
    for (size_t i = 0; i < BAD_DIMS; i++) {
        EXPECT_VALUE(MT_ERR_INDEX, "mt_size", mt_size(t, bad_dims_for_2d[i]), -1);
        EXPECT_VALUE(MT_ERR_INDEX, "mt_stride", mt_stride(t, bad_dims_for_2d[i]), -1);
    }
    /* the NULL-tolerant queries document their value for NULL */
    EXPECT_TRUE("mt_ndim", mt_ndim(NULL) == 0);
    EXPECT_TRUE("mt_shape", mt_shape(NULL) == NULL);
    EXPECT_TRUE("mt_strides", mt_strides(NULL) == NULL);
    EXPECT_TRUE("mt_offset", mt_offset(NULL) == -1);
    EXPECT_TRUE("mt_numel", mt_numel(NULL) == 0);
    EXPECT_TRUE("mt_is_contiguous", !mt_is_contiguous(NULL));
    EXPECT_TRUE("mt_shares_storage", !mt_shares_storage(NULL, t) && !mt_shares_storage(t, NULL));

    float v = -7;
    const int64_t ok[2] = {1, 2};
    EXPECT_STATUS(MT_ERR_NULL, "mt_get", mt_get(NULL, ok, &v));
    EXPECT_STATUS(MT_ERR_NULL, "mt_get", mt_get(t, NULL, &v));
    EXPECT_STATUS(MT_ERR_NULL, "mt_get", mt_get(t, ok, NULL));
    const int64_t bad_index[][2] = {{2, 0}, {0, 3}, {-1, 0}, {0, INT64_MIN}, {INT64_MAX, 0}};
    for (size_t i = 0; i < sizeof bad_index / sizeof bad_index[0]; i++) {
        EXPECT_STATUS(MT_ERR_INDEX, "mt_get", mt_get(t, bad_index[i], &v));
        EXPECT_STATUS(MT_ERR_INDEX, "mt_set", mt_set(t, bad_index[i], 1.0f));
    }
    if (v != -7) t_violation("a failed mt_get wrote *value");
    EXPECT_STATUS(MT_ERR_NULL, "mt_set", mt_set(NULL, ok, 1.0f));
    EXPECT_STATUS(MT_ERR_NULL, "mt_set", mt_set(t, NULL, 1.0f));
    mt_tensor *first_row = mt_narrow(t, 0, 0, 1);
    mt_tensor *e = mt_expand(first_row, MT_DIMS(4, 3)); /* stride 0 */
    mt_release(first_row);
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_set", mt_set(e, ok, 1.0f));
    const float want[6] = {0, 1, 2, 3, 4, 5};
    float now[6];
    mt_copy_to(t, now, 6);
    if (memcmp(now, want, sizeof now) != 0) t_violation("failed mt_set calls changed the tensor");

    mt_clear_error();
    float item = mt_item(NULL);
    if (!isnan(item)) t_violation("mt_item(NULL) returned %g, expected NaN", item);
    check_recorded("mt_item(NULL)", "mt_item", MT_ERR_NULL);
    mt_clear_error();
    item = mt_item(t);
    if (!isnan(item)) t_violation("mt_item(6 elements) returned %g, expected NaN", item);
    check_recorded("mt_item(6 elements)", "mt_item", MT_ERR_SHAPE);

    float dst[6] = {-1, -1, -1, -1, -1, -1};
    EXPECT_STATUS(MT_ERR_NULL, "mt_copy_to", mt_copy_to(NULL, dst, 6));
    EXPECT_STATUS(MT_ERR_NULL, "mt_copy_to", mt_copy_to(t, NULL, 6));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_copy_to", mt_copy_to(t, dst, 5));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_copy_to", mt_copy_to(t, dst, -1));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_copy_to", mt_copy_to(t, dst, INT64_MIN));
    if (dst[0] != -1) t_violation("a failed mt_copy_to wrote into dst");

    char buf[8] = "xxxxxxx";
    EXPECT_VALUE(MT_ERR_NULL, "mt_format", mt_format(NULL, buf, sizeof buf), -1);
    EXPECT_VALUE(MT_ERR_NULL, "mt_format", mt_format(t, NULL, 10), -1);
    if (strcmp(buf, "xxxxxxx") != 0) t_violation("a failed mt_format wrote into buffer");
    mt_clear_error();
    int64_t need = mt_format(t, NULL, 0); /* the snprintf idiom: size query */
    EXPECT_TRUE("mt_format", need > 0 && mt_last_status() == MT_OK);
    EXPECT_STATUS(MT_ERR_NULL, "mt_fprint", mt_fprint(NULL, t));
    EXPECT_STATUS(MT_ERR_NULL, "mt_fprint", mt_fprint(stdout, NULL));
    EXPECT_STATUS(MT_ERR_NULL, "mt_print", mt_print(NULL));
    FILE *read_only = fopen("/dev/null", "r");
    cr_assert_not_null(read_only);
    EXPECT_STATUS(MT_ERR_IO, "mt_fprint", mt_fprint(read_only, t));
    fclose(read_only);
    mt_release(e);
    mt_release(t);
}

/* ==== MiniTorch's index helpers ==== */

static void audit_index_helpers(void)
{
    int64_t out[MT_MAX_DIMS + 1];
    for (size_t s = 0; s < BAD_SHAPES; s++) {
        char call[128];
        for (int i = 0; i <= MT_MAX_DIMS; i++) out[i] = -42;
        snprintf(call, sizeof call, "mt_strides_from_shape(%s)", bad_shapes[s].what);
        mt_clear_error();
        check_status(call, "mt_strides_from_shape", bad_shapes[s].status,
                     mt_strides_from_shape(bad_shapes[s].ndim, bad_shapes[s].shape, out));
        snprintf(call, sizeof call, "mt_to_index(%s)", bad_shapes[s].what);
        mt_clear_error();
        check_status(call, "mt_to_index", bad_shapes[s].status,
                     mt_to_index(0, bad_shapes[s].ndim, bad_shapes[s].shape, out));
        int nd = -42;
        snprintf(call, sizeof call, "mt_shape_broadcast(a: %s)", bad_shapes[s].what);
        mt_clear_error();
        check_status(call, "mt_shape_broadcast", bad_shapes[s].status,
                     mt_shape_broadcast(bad_shapes[s].ndim, bad_shapes[s].shape, MT_DIMS(2, 3),
                                        &nd, out));
        snprintf(call, sizeof call, "mt_shape_broadcast(b: %s)", bad_shapes[s].what);
        mt_clear_error();
        check_status(call, "mt_shape_broadcast", bad_shapes[s].status,
                     mt_shape_broadcast(MT_DIMS(2, 3), bad_shapes[s].ndim, bad_shapes[s].shape,
                                        &nd, out));
        snprintf(call, sizeof call, "mt_broadcast_index(big: %s)", bad_shapes[s].what);
        mt_clear_error();
        check_status(call, "mt_broadcast_index", bad_shapes[s].status,
                     mt_broadcast_index(bad_shapes[s].ndim, nine, bad_shapes[s].shape, MT_DIMS(1),
                                        out));
        snprintf(call, sizeof call, "mt_broadcast_index(small: %s)", bad_shapes[s].what);
        mt_clear_error();
        check_status(call, "mt_broadcast_index", bad_shapes[s].status,
                     mt_broadcast_index(1, (const int64_t[]){0}, (const int64_t[]){1},
                                        bad_shapes[s].ndim, bad_shapes[s].shape, out));
        if (nd != -42) t_violation("a failed mt_shape_broadcast wrote *out_ndim");
        for (int i = 0; i <= MT_MAX_DIMS; i++)
            if (out[i] != -42) {
                t_violation("%s: a failed index helper wrote its output", bad_shapes[s].what);
                break;
            }
    }
    EXPECT_STATUS(MT_ERR_NULL, "mt_strides_from_shape", mt_strides_from_shape(MT_DIMS(2, 3), NULL));
    EXPECT_STATUS(MT_ERR_NULL, "mt_to_index", mt_to_index(0, MT_DIMS(2, 3), NULL));
    const int64_t ordinals[] = {-1, 6, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof ordinals / sizeof ordinals[0]; i++)
        EXPECT_STATUS(MT_ERR_INDEX, "mt_to_index", mt_to_index(ordinals[i], MT_DIMS(2, 3), out));
    int nd;
    EXPECT_STATUS(MT_ERR_NULL, "mt_shape_broadcast",
                  mt_shape_broadcast(MT_DIMS(2), MT_DIMS(2), NULL, out));
    EXPECT_STATUS(MT_ERR_NULL, "mt_shape_broadcast",
                  mt_shape_broadcast(MT_DIMS(2), MT_DIMS(2), &nd, NULL));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_shape_broadcast",
                  mt_shape_broadcast(MT_DIMS(2, 3), MT_DIMS(4, 3), &nd, out));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_shape_broadcast",
                  mt_shape_broadcast(MT_DIMS(3), MT_DIMS(2, 4), &nd, out));
    const int64_t big_index[2] = {1, 2};
    EXPECT_STATUS(MT_ERR_NULL, "mt_broadcast_index",
                  mt_broadcast_index(MT_DIMS(2, 3), NULL, MT_DIMS(3), out));
    EXPECT_STATUS(MT_ERR_NULL, "mt_broadcast_index",
                  mt_broadcast_index(2, big_index, (const int64_t[]){2, 3}, MT_DIMS(3), NULL));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_broadcast_index", /* small has more dims than big */
                  mt_broadcast_index(2, big_index, (const int64_t[]){2, 3}, MT_DIMS(1, 2, 3), out));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_broadcast_index", /* 4 does not broadcast to 3 */
                  mt_broadcast_index(2, big_index, (const int64_t[]){2, 3}, MT_DIMS(4), out));
    EXPECT_STATUS(MT_ERR_INDEX, "mt_broadcast_index", /* index 3 outside size 3 */
                  mt_broadcast_index(2, (const int64_t[]){1, 3}, (const int64_t[]){2, 3},
                                     MT_DIMS(3), out));
    EXPECT_STATUS(MT_ERR_INDEX, "mt_broadcast_index",
                  mt_broadcast_index(2, (const int64_t[]){-1, 0}, (const int64_t[]){2, 3},
                                     MT_DIMS(2, 3), out));
    /* mt_index_to_position does no checking by design: only valid arguments */
    EXPECT_TRUE("mt_index_to_position",
                mt_index_to_position(2, big_index, (const int64_t[]){3, 1}) == 5);
}

/* ==== views ==== */

typedef mt_tensor *(*shaper)(mt_tensor *t, int ndim, const int64_t *shape);

static const struct {
    const char *fn;
    shaper call;
} shapers[] = {{"mt_view", mt_view}, {"mt_reshape", mt_reshape}, {"mt_expand", mt_expand}};

static void audit_views(void)
{
    mt_tensor *t = arange(MT_DIMS(2, 3));
    mt_tensor *one = arange(MT_DIMS(1));
    for (size_t v = 0; v < sizeof shapers / sizeof shapers[0]; v++) {
        EXPECT_NULL(MT_ERR_NULL, shapers[v].fn, shapers[v].call(NULL, MT_DIMS(6)));
        for (size_t s = 0; s < BAD_SHAPES; s++) {
            char call[128];
            snprintf(call, sizeof call, "%s(%s)", shapers[v].fn, bad_shapes[s].what);
            mt_clear_error();
            /* a (1,)-tensor: the only failure is the shape itself */
            check_null(call, shapers[v].fn, bad_shapes[s].status,
                       shapers[v].call(one, bad_shapes[s].ndim, bad_shapes[s].shape));
        }
    }
    /* element counts that differ, -1 that cannot be inferred */
    const struct {
        int ndim;
        int64_t shape[3];
    } wrong[] = {{1, {5}}, {2, {4, 2}}, {2, {-1, 4}}, {2, {-1, -1}}, {3, {-1, 0, 2}},
                 {1, {7}}, {2, {-1, 7}}, {2, {-2, 3}}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        EXPECT_NULL(MT_ERR_SHAPE, "mt_view", mt_view(t, wrong[i].ndim, wrong[i].shape));
        EXPECT_NULL(MT_ERR_SHAPE, "mt_reshape", mt_reshape(t, wrong[i].ndim, wrong[i].shape));
    }
    /* mt_view of non-contiguous data: transposed, narrowed along the last dim, expanded */
    mt_tensor *tr = mt_transpose(t, 0, 1);
    mt_tensor *nar = mt_narrow(t, 1, 0, 2);
    mt_tensor *first_row = mt_narrow(t, 0, 0, 1);
    mt_tensor *exp = mt_expand(first_row, MT_DIMS(4, 3));
    mt_release(first_row);
    mt_tensor *cube = arange(MT_DIMS(2, 3, 4));
    mt_tensor *perm3 = mt_permute(cube, (const int[]){1, 0, 2});
    mt_release(cube);
    mt_tensor *noncontiguous[] = {tr, nar, exp, perm3};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_not(mt_is_contiguous(noncontiguous[i]));
        EXPECT_NULL(MT_ERR_NOT_CONTIGUOUS, "mt_view",
                    mt_view(noncontiguous[i], MT_DIMS((int64_t)mt_numel(noncontiguous[i]))));
        EXPECT_NULL(MT_ERR_NOT_CONTIGUOUS, "mt_view", mt_view(noncontiguous[i], MT_DIMS(-1)));
    }
    /* expand: to a shape the tensor does not broadcast to, or with fewer dims */
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_expand", mt_expand(t, MT_DIMS(2, 4)));
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_expand", mt_expand(t, MT_DIMS(3)));
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_expand", mt_expand(t, MT_DIMS(4, 3, 3)));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_expand", mt_expand(t, MT_DIMS(-1, 3)));

    /* permute: NULLs and orders that are not permutations */
    EXPECT_NULL(MT_ERR_NULL, "mt_permute", mt_permute(NULL, (const int[]){0, 1}));
    EXPECT_NULL(MT_ERR_NULL, "mt_permute", mt_permute(t, NULL));
    const int orders[][2] = {{0, 0}, {1, 1}, {0, 2}, {-1, 0}, {2, 1}, {INT_MIN, 1}, {1, INT_MAX}};
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++)
        EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_permute", mt_permute(t, orders[i]));
    EXPECT_NULL(MT_ERR_NULL, "mt_transpose", mt_transpose(NULL, 0, 1));
    for (size_t i = 0; i < BAD_DIMS; i++) {
        EXPECT_NULL(MT_ERR_INDEX, "mt_transpose", mt_transpose(t, bad_dims_for_2d[i], 0));
        EXPECT_NULL(MT_ERR_INDEX, "mt_transpose", mt_transpose(t, 1, bad_dims_for_2d[i]));
        EXPECT_NULL(MT_ERR_INDEX, "mt_narrow", mt_narrow(t, bad_dims_for_2d[i], 0, 1));
    }
    /* narrow: start/length outside the dim, including overflowing start + length */
    EXPECT_NULL(MT_ERR_NULL, "mt_narrow", mt_narrow(NULL, 0, 0, 1));
    const int64_t ranges[][2] = {{-1, 1}, {0, 0},         {0, -1},       {3, 1},
                                 {2, 2},  {0, 4},         {INT64_MAX, 1}, {1, INT64_MAX},
                                 {INT64_MIN, 1}, {0, INT64_MIN}, {INT64_MAX, INT64_MAX}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        EXPECT_NULL(MT_ERR_INDEX, "mt_narrow", mt_narrow(t, 1, ranges[i][0], ranges[i][1]));
    EXPECT_NULL(MT_ERR_NULL, "mt_contiguous", mt_contiguous(NULL));

    /* squeeze, unsqueeze, flatten, split */
    EXPECT_NULL(MT_ERR_NULL, "mt_squeeze", mt_squeeze(NULL, 0));
    EXPECT_NULL(MT_ERR_NULL, "mt_unsqueeze", mt_unsqueeze(NULL, 0));
    EXPECT_NULL(MT_ERR_NULL, "mt_flatten", mt_flatten(NULL, 0, 1));
    for (size_t i = 0; i < BAD_DIMS; i++) {
        EXPECT_NULL(MT_ERR_INDEX, "mt_squeeze", mt_squeeze(t, bad_dims_for_2d[i]));
        EXPECT_NULL(MT_ERR_INDEX, "mt_flatten", mt_flatten(t, bad_dims_for_2d[i], 1));
        EXPECT_NULL(MT_ERR_INDEX, "mt_flatten", mt_flatten(t, 0, bad_dims_for_2d[i]));
    }
    const int bad_new_dims[] = {3, 4, -4, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof bad_new_dims / sizeof bad_new_dims[0]; i++)
        EXPECT_NULL(MT_ERR_INDEX, "mt_unsqueeze", mt_unsqueeze(t, bad_new_dims[i]));
    mt_tensor *eight = arange(8, nine);
    EXPECT_NULL(MT_ERR_SHAPE, "mt_unsqueeze", mt_unsqueeze(eight, 0));
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_flatten", mt_flatten(t, 1, 0));
    mt_tensor *pieces[3] = {NULL, NULL, NULL};
    EXPECT_VALUE(MT_ERR_NULL, "mt_split", mt_split(NULL, 1, 0, pieces, 3), -1);
    EXPECT_VALUE(MT_ERR_NULL, "mt_split", mt_split(t, 1, 0, NULL, 3), -1);
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_split", mt_split(t, 0, 0, pieces, 3), -1);
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_split", mt_split(t, INT64_MIN, 0, pieces, 3), -1);
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_split", mt_split(t, 1, 1, pieces, 2), -1); /* 3 pieces */
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_split", mt_split(t, 1, 1, pieces, -1), -1);
    for (size_t i = 0; i < BAD_DIMS; i++)
        EXPECT_VALUE(MT_ERR_INDEX, "mt_split", mt_split(t, 1, bad_dims_for_2d[i], pieces, 3), -1);
    EXPECT_TRUE("mt_split", pieces[0] == NULL && pieces[1] == NULL && pieces[2] == NULL);
    mt_release(eight);
    mt_tensor *all[] = {tr, nar, exp, perm3, one, t};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
}

/* ==== operations ==== */

typedef mt_tensor *(*unary_fn)(mt_tensor *);
typedef mt_tensor *(*binary_fn)(mt_tensor *, mt_tensor *);
typedef mt_tensor *(*scalar_fn)(mt_tensor *, float);
typedef mt_tensor *(*reduce_fn)(mt_tensor *, int);

#define F(name) {"mt_" #name, mt_##name}
static const struct {
    const char *fn;
    unary_fn call;
} unaries[] = {F(neg), F(copy), F(sigmoid), F(relu), F(log), F(exp), F(inv), F(tanh),
               F(contiguous), F(detach), F(sum_all), F(mean_all),
               F(sqrt), F(rsqrt), F(abs), F(sin), F(cos), F(square), F(gelu), F(silu),
               F(softplus)};
static const struct {
    const char *fn;
    binary_fn call;
} binaries[] = {F(add), F(sub),       F(mul),      F(div),     F(lt),      F(gt),
                F(eq),  F(is_close), F(relu_back), F(log_back), F(inv_back), F(matmul),
                F(pow), F(maximum), F(minimum)};
static const struct {
    const char *fn;
    scalar_fn call;
} scalars[] = {F(add_scalar), F(sub_scalar), F(rsub_scalar), F(mul_scalar), F(div_scalar),
               F(rdiv_scalar), F(lt_scalar), F(gt_scalar),  F(eq_scalar)};
static const struct {
    const char *fn;
    reduce_fn call;
} reductions[] = {F(sum), F(prod), F(max), F(mean), F(min), F(argmax), F(argmin), F(logsumexp),
                  F(softmax), F(log_softmax)};
#undef F

static void audit_ops(void)
{
    mt_tensor *a = arange(MT_DIMS(2, 3));
    mt_tensor *b = arange(MT_DIMS(4, 3));
    mt_tensor *row = arange(MT_DIMS(3));
    for (size_t i = 0; i < sizeof unaries / sizeof unaries[0]; i++)
        EXPECT_NULL(MT_ERR_NULL, unaries[i].fn, unaries[i].call(NULL));
    for (size_t i = 0; i < sizeof binaries / sizeof binaries[0]; i++) {
        EXPECT_NULL(MT_ERR_NULL, binaries[i].fn, binaries[i].call(NULL, a));
        EXPECT_NULL(MT_ERR_NULL, binaries[i].fn, binaries[i].call(a, NULL));
        EXPECT_NULL(MT_ERR_NULL, binaries[i].fn, binaries[i].call(NULL, NULL));
        if (strcmp(binaries[i].fn, "mt_matmul") == 0) continue;
        /* (2,3) with (4,3) does not broadcast; (3) with (2,3) does, both ways */
        EXPECT_NULL(MT_ERR_BROADCAST, binaries[i].fn, binaries[i].call(a, b));
        EXPECT_NULL(MT_ERR_BROADCAST, binaries[i].fn, binaries[i].call(b, a));
        mt_tensor *ok1 = binaries[i].call(a, row), *ok2 = binaries[i].call(row, a);
        EXPECT_TRUE(binaries[i].fn, ok1 && ok2);
        mt_release(ok1);
        mt_release(ok2);
    }
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        EXPECT_NULL(MT_ERR_NULL, scalars[i].fn, scalars[i].call(NULL, 1.0f));
    for (size_t i = 0; i < sizeof reductions / sizeof reductions[0]; i++) {
        EXPECT_NULL(MT_ERR_NULL, reductions[i].fn, reductions[i].call(NULL, 0));
        for (size_t d = 0; d < BAD_DIMS; d++)
            EXPECT_NULL(MT_ERR_INDEX, reductions[i].fn, reductions[i].call(a, bad_dims_for_2d[d]));
    }
    EXPECT_NULL(MT_ERR_NULL, "mt_var", mt_var(NULL, 0, 1));
    EXPECT_NULL(MT_ERR_NULL, "mt_std", mt_std(NULL, 0, 1));
    for (size_t d = 0; d < BAD_DIMS; d++) {
        EXPECT_NULL(MT_ERR_INDEX, "mt_var", mt_var(a, bad_dims_for_2d[d], 1));
        EXPECT_NULL(MT_ERR_INDEX, "mt_std", mt_std(a, bad_dims_for_2d[d], INT_MIN));
    }
    /* the parameterised unary ops, where, masked_fill (mask must broadcast to a) */
    EXPECT_NULL(MT_ERR_NULL, "mt_leaky_relu", mt_leaky_relu(NULL, 0.01f));
    EXPECT_NULL(MT_ERR_NULL, "mt_clamp", mt_clamp(NULL, 0.0f, 1.0f));
    EXPECT_NULL(MT_ERR_NULL, "mt_pow_scalar", mt_pow_scalar(NULL, 2.0f));
    EXPECT_NULL(MT_ERR_NULL, "mt_where", mt_where(NULL, a, a));
    EXPECT_NULL(MT_ERR_NULL, "mt_where", mt_where(a, NULL, a));
    EXPECT_NULL(MT_ERR_NULL, "mt_where", mt_where(a, a, NULL));
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_where", mt_where(a, b, a));
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_where", mt_where(b, a, row));
    EXPECT_NULL(MT_ERR_NULL, "mt_masked_fill", mt_masked_fill(NULL, a, 0.0f));
    EXPECT_NULL(MT_ERR_NULL, "mt_masked_fill", mt_masked_fill(a, NULL, 0.0f));
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_masked_fill", mt_masked_fill(a, b, 0.0f));
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_masked_fill", mt_masked_fill(row, a, 0.0f)); /* mask larger */
    mt_tensor *filled = mt_masked_fill(a, row, 1.0f), *chosen = mt_where(row, a, row);
    EXPECT_TRUE("mt_masked_fill", filled != NULL && chosen != NULL);
    mt_release(filled);
    mt_release(chosen);
    /* matmul: fewer than 2 dims, inner dims that differ, batch dims that do not broadcast */
    mt_tensor *m34 = arange(MT_DIMS(3, 4)), *b234 = arange(MT_DIMS(2, 3, 4));
    mt_tensor *b334 = arange(MT_DIMS(3, 3, 4)), *b243 = arange(MT_DIMS(2, 4, 3));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_matmul", mt_matmul(row, m34));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_matmul", mt_matmul(m34, row));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_matmul", mt_matmul(a, b));     /* (2,3) @ (4,3) */
    EXPECT_NULL(MT_ERR_SHAPE, "mt_matmul", mt_matmul(b234, m34)); /* inner 4 vs 3 */
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_matmul", mt_matmul(b243, b334)); /* batch 2 vs 3 */
    /* linear: x (..., in) with >= 2 dims, w (in, out), bias (out) or (1, out) */
    mt_tensor *w = arange(MT_DIMS(3, 2)), *bias = arange(MT_DIMS(2)), *bias3 = arange(MT_DIMS(3));
    mt_tensor *bias12 = arange(MT_DIMS(1, 2)), *bias22 = arange(MT_DIMS(2, 2));
    EXPECT_NULL(MT_ERR_NULL, "mt_linear", mt_linear(NULL, w, bias));
    EXPECT_NULL(MT_ERR_NULL, "mt_linear", mt_linear(a, NULL, bias));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_linear", mt_linear(row, w, bias));   /* x 1-D */
    EXPECT_NULL(MT_ERR_SHAPE, "mt_linear", mt_linear(a, b234, NULL));  /* w 3-D */
    EXPECT_NULL(MT_ERR_SHAPE, "mt_linear", mt_linear(a, b, NULL));     /* inner 3 vs 4 */
    EXPECT_NULL(MT_ERR_SHAPE, "mt_linear", mt_linear(a, w, bias3));    /* bias (3) vs out 2 */
    EXPECT_NULL(MT_ERR_SHAPE, "mt_linear", mt_linear(a, w, bias22));   /* bias (2,2) */
    mt_tensor *ok = mt_linear(a, w, bias12);
    EXPECT_TRUE("mt_linear", ok != NULL);
    mt_release(ok);

    /* ---- into a caller's output ---- */
    mt_tensor *out23 = mt_zeros(MT_DIMS(2, 3)), *out22 = mt_zeros(MT_DIMS(2, 2));
    mt_tensor *out13 = mt_zeros(MT_DIMS(1, 3));
    /* one past the last op of each enum, found through the name lookup */
    int unary_count = 0, binary_count = 0, reduce_count = 0;
    while (mt_unary_op_name((mt_unary_op)unary_count)) unary_count++;
    while (mt_binary_op_name((mt_binary_op)binary_count)) binary_count++;
    while (mt_reduce_op_name((mt_reduce_op)reduce_count)) reduce_count++;
    const int bad_unary[] = {-1, unary_count, 1000, INT_MIN};
    EXPECT_TRUE("mt_unary_op_name", unary_count > 0 && mt_unary_op_name((mt_unary_op)-1) == NULL);
    EXPECT_TRUE("mt_binary_op_name", binary_count > 0 && mt_binary_op_name((mt_binary_op)1000) == NULL);
    EXPECT_TRUE("mt_reduce_op_name", reduce_count > 0 && mt_reduce_op_name((mt_reduce_op)INT_MIN) == NULL);
    const int bad_binary[] = {-1, binary_count, 1000, INT_MIN};
    const int bad_reduce[] = {-1, reduce_count, 1000, INT_MIN};
    for (int i = 0; i < 4; i++) {
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_map_out", mt_map_out(out23, (mt_unary_op)bad_unary[i], a));
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_zip_out",
                      mt_zip_out(out23, (mt_binary_op)bad_binary[i], a, a));
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_reduce_out",
                      mt_reduce_out(out13, (mt_reduce_op)bad_reduce[i], a, 0));
    }
    EXPECT_STATUS(MT_ERR_NULL, "mt_map_out", mt_map_out(NULL, MT_OP_NEG, a));
    /* parameterised ops need mt_map_out_with */
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_map_out", mt_map_out(out23, MT_OP_CLAMP, a));
    for (int i = 0; i < 4; i++)
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_map_out_with",
                      mt_map_out_with(out23, (mt_unary_op)bad_unary[i], a, 0.0f, 1.0f));
    EXPECT_STATUS(MT_ERR_NULL, "mt_map_out_with", mt_map_out_with(NULL, MT_OP_CLAMP, a, 0.0f, 1.0f));
    EXPECT_STATUS(MT_ERR_NULL, "mt_map_out_with", mt_map_out_with(out23, MT_OP_CLAMP, NULL, 0.0f, 1.0f));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_map_out_with",
                  mt_map_out_with(out22, MT_OP_CLAMP, a, 0.0f, 1.0f));
    EXPECT_STATUS(MT_ERR_NULL, "mt_map_out", mt_map_out(out23, MT_OP_NEG, NULL));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_map_out", mt_map_out(out22, MT_OP_NEG, a));
    EXPECT_STATUS(MT_ERR_NULL, "mt_zip_out", mt_zip_out(NULL, MT_OP_ADD, a, a));
    EXPECT_STATUS(MT_ERR_NULL, "mt_zip_out", mt_zip_out(out23, MT_OP_ADD, NULL, a));
    EXPECT_STATUS(MT_ERR_NULL, "mt_zip_out", mt_zip_out(out23, MT_OP_ADD, a, NULL));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_zip_out", mt_zip_out(out23, MT_OP_ADD, a, b));
    EXPECT_STATUS(MT_ERR_BROADCAST, "mt_zip_out", mt_zip_out(out22, MT_OP_ADD, a, row));
    EXPECT_STATUS(MT_ERR_NULL, "mt_reduce_out", mt_reduce_out(NULL, MT_OP_SUM, a, 0));
    EXPECT_STATUS(MT_ERR_NULL, "mt_reduce_out", mt_reduce_out(out23, MT_OP_SUM, NULL, 0));
    for (size_t d = 0; d < BAD_DIMS; d++)
        EXPECT_STATUS(MT_ERR_INDEX, "mt_reduce_out",
                      mt_reduce_out(out23, MT_OP_SUM, a, bad_dims_for_2d[d]));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_reduce_out", mt_reduce_out(out23, MT_OP_SUM, a, 0));
    EXPECT_STATUS(MT_ERR_NULL, "mt_matmul_out", mt_matmul_out(NULL, a, w));
    EXPECT_STATUS(MT_ERR_NULL, "mt_matmul_out", mt_matmul_out(out22, NULL, w));
    EXPECT_STATUS(MT_ERR_NULL, "mt_matmul_out", mt_matmul_out(out22, a, NULL));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_matmul_out", mt_matmul_out(out23, a, w)); /* result (2,2) */
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_matmul_out", mt_matmul_out(out22, a, b));
    /* outputs that are expanded, overlap an input, or require grad */
    mt_tensor *expanded = mt_expand(out13, MT_DIMS(2, 3));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_map_out", mt_map_out(expanded, MT_OP_NEG, a));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_zip_out", mt_zip_out(expanded, MT_OP_ADD, a, a));
    mt_tensor *wide = arange(MT_DIMS(2, 4));
    mt_tensor *left = mt_narrow(wide, 1, 0, 3), *right = mt_narrow(wide, 1, 1, 3);
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_map_out", mt_map_out(left, MT_OP_NEG, right));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_zip_out", mt_zip_out(right, MT_OP_ADD, a, left));
    mt_tensor *sq = arange(MT_DIMS(2, 2));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_matmul_out", mt_matmul_out(sq, sq, sq));
    mt_tensor *col = mt_narrow(sq, 1, 0, 1);
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_reduce_out", mt_reduce_out(col, MT_OP_SUM, sq, 1));
    mt_tensor *needs_grad = mt_zeros(MT_DIMS(2, 3));
    mt_set_requires_grad(needs_grad, true);
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_map_out", mt_map_out(needs_grad, MT_OP_NEG, a));
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_zip_out", mt_zip_out(needs_grad, MT_OP_ADD, a, a));
    mt_tensor *all[] = {a,     b,     row,   m34,   b234,  b334,     b243,  w,     bias,
                        bias3, bias12, bias22, out23, out22, expanded, wide,  left,  right,
                        sq,    col,   needs_grad, out13};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
}

/* ==== autodiff ==== */

/* joins and gathering: NULL lists and entries, empty lists, shapes that do not join, bad dims,
 * indices out of range */
static void audit_joins(void)
{
    mt_tensor *a = arange(MT_DIMS(2, 3)), *b = arange(MT_DIMS(2, 4)), *v = arange(MT_DIMS(3));
    mt_tensor *ab[] = {a, b}, *aa[] = {a, a}, *av[] = {a, v}, *anull[] = {a, NULL};
    EXPECT_NULL(MT_ERR_NULL, "mt_cat", mt_cat(2, NULL, 0));
    EXPECT_NULL(MT_ERR_NULL, "mt_cat", mt_cat(2, anull, 0));
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_cat", mt_cat(0, aa, 0));
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_cat", mt_cat(INT_MIN, aa, 0));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_cat", mt_cat(2, ab, 0));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_cat", mt_cat(2, av, 0));
    EXPECT_NULL(MT_ERR_NULL, "mt_stack", mt_stack(2, NULL, 0));
    EXPECT_NULL(MT_ERR_NULL, "mt_stack", mt_stack(2, anull, 0));
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_stack", mt_stack(0, aa, 0));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_stack", mt_stack(2, ab, 0));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_stack", mt_stack(2, av, 0));
    for (size_t i = 0; i < BAD_DIMS; i++)
        EXPECT_NULL(MT_ERR_INDEX, "mt_cat", mt_cat(2, aa, bad_dims_for_2d[i]));
    const int bad_new_dims[] = {3, 4, -4, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof bad_new_dims / sizeof bad_new_dims[0]; i++)
        EXPECT_NULL(MT_ERR_INDEX, "mt_stack", mt_stack(2, aa, bad_new_dims[i]));
    const int64_t fine[] = {0, 1}, bad[][2] = {{0, 2}, {-1, 0}, {INT64_MIN, 0}, {1, INT64_MAX}};
    EXPECT_NULL(MT_ERR_NULL, "mt_index_select", mt_index_select(NULL, 0, 2, fine));
    EXPECT_NULL(MT_ERR_NULL, "mt_index_select", mt_index_select(a, 0, 2, NULL));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_index_select", mt_index_select(a, 0, 0, fine));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_index_select", mt_index_select(a, 0, INT64_MIN, fine));
    for (size_t i = 0; i < BAD_DIMS; i++)
        EXPECT_NULL(MT_ERR_INDEX, "mt_index_select", mt_index_select(a, bad_dims_for_2d[i], 2, fine));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_NULL(MT_ERR_INDEX, "mt_index_select", mt_index_select(a, 0, 2, bad[i]));
    mt_release(a), mt_release(b), mt_release(v);
}

/* data in and out of existing tensors */
static void audit_data(void)
{
    const float data[6] = {1, 2, 3, 4, 5, 6};
    mt_tensor *t = arange(MT_DIMS(2, 3));
    EXPECT_STATUS(MT_ERR_NULL, "mt_copy_from", mt_copy_from(NULL, data, 6));
    EXPECT_STATUS(MT_ERR_NULL, "mt_copy_from", mt_copy_from(t, NULL, 6));
    const int64_t bad_counts[] = {0, 5, 7, -1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++)
        EXPECT_STATUS(MT_ERR_SHAPE, "mt_copy_from", mt_copy_from(t, data, bad_counts[i]));
    mt_tensor *row = mt_narrow(t, 0, 0, 1), *expanded = mt_expand(row, MT_DIMS(2, 3));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_copy_from", mt_copy_from(expanded, data, 6));
    mt_tensor *leaf = arange(MT_DIMS(2, 3));
    mt_set_requires_grad(leaf, true);
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_copy_from", mt_copy_from(leaf, data, 6));
    float before[6];
    mt_copy_to(t, before, 6);
    EXPECT_TRUE("mt_copy_from", memcmp(before, (const float[]){0, 1, 2, 3, 4, 5}, sizeof before) == 0);
    mt_tensor *tr = mt_transpose(t, 0, 1);
    mt_tensor *no_data[] = {NULL, tr, expanded};
    for (size_t i = 0; i < 3; i++) {
        mt_clear_error();
        const float *p = mt_data(no_data[i]);
        if (p) {
            cover("mt_data");
            t_violation("mt_data(no_data[%zu]): returned data, expected NULL", i);
        } else {
            check_recorded("mt_data", "mt_data", i == 0 ? MT_ERR_NULL : MT_ERR_NOT_CONTIGUOUS);
        }
    }
    EXPECT_STATUS(MT_ERR_NULL, "mt_mark_modified", mt_mark_modified(NULL));
    mt_release(tr), mt_release(leaf), mt_release(expanded), mt_release(row), mt_release(t);
}

static void audit_autodiff(void)
{
    mt_tensor *x = arange(MT_DIMS(2, 3));
    mt_tensor *c = arange(MT_DIMS(2, 3)); /* does not require grad */
    EXPECT_STATUS(MT_ERR_NULL, "mt_set_requires_grad", mt_set_requires_grad(NULL, true));
    cr_assert_eq(mt_set_requires_grad(x, true), MT_OK);
    mt_tensor *y = mt_mul(x, x); /* has history */
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_set_requires_grad", mt_set_requires_grad(y, false));
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_set_requires_grad", mt_set_requires_grad(y, true));
    EXPECT_TRUE("mt_requires_grad", !mt_requires_grad(NULL) && mt_requires_grad(y));
    EXPECT_TRUE("mt_is_leaf", !mt_is_leaf(NULL) && !mt_is_leaf(y) && mt_is_leaf(x));

    EXPECT_STATUS(MT_ERR_NULL, "mt_backward", mt_backward(NULL));
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_backward", mt_backward(y)); /* 6 elements */
    mt_tensor *cs = mt_sum_all(c);
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_backward", mt_backward(cs)); /* no grad required */
    mt_tensor *g6 = mt_ones(MT_DIMS(6)), *g23 = mt_ones(MT_DIMS(2, 3));
    EXPECT_STATUS(MT_ERR_NULL, "mt_backward_with", mt_backward_with(NULL, g23));
    EXPECT_STATUS(MT_ERR_NULL, "mt_backward_with", mt_backward_with(y, NULL));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_backward_with", mt_backward_with(y, g6));
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_backward_with", mt_backward_with(c, g23));
    /* no-grad mode: results carry no history, so backward is refused */
    mt_no_grad_begin();
    mt_tensor *xx = mt_mul(x, x);
    mt_tensor *z = mt_sum_all(xx);
    mt_release(xx);
    cr_assert_eq(mt_no_grad_end(), MT_OK);
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_backward", mt_backward(z));
    EXPECT_NULL(MT_ERR_NULL, "mt_grad", mt_grad(NULL));
    EXPECT_NULL(MT_ERR_AUTODIFF, "mt_grad", mt_grad(x)); /* no backward yet */
    EXPECT_NULL(MT_ERR_AUTODIFF, "mt_grad", mt_grad(c)); /* never requires grad */
    EXPECT_NULL(MT_ERR_AUTODIFF, "mt_grad", mt_grad(y)); /* not a leaf */
    EXPECT_STATUS(MT_ERR_NULL, "mt_zero_grad", mt_zero_grad(NULL));
    EXPECT_NULL(MT_ERR_NULL, "mt_detach", mt_detach(NULL));
    /* no-grad mode nests and is balanced */
    EXPECT_TRUE("mt_grad_enabled", mt_grad_enabled());
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_no_grad_end", mt_no_grad_end());
    mt_no_grad_begin();
    cover("mt_no_grad_begin");
    mt_no_grad_begin();
    EXPECT_TRUE("mt_grad_enabled", !mt_grad_enabled());
    cr_assert_eq(mt_no_grad_end(), MT_OK);
    EXPECT_TRUE("mt_grad_enabled", !mt_grad_enabled());
    cr_assert_eq(mt_no_grad_end(), MT_OK);
    EXPECT_STATUS(MT_ERR_AUTODIFF, "mt_no_grad_end", mt_no_grad_end());
    EXPECT_TRUE("mt_grad_enabled", mt_grad_enabled());
    mt_tensor *all[] = {y, z, cs, g6, g23, x, c};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
}

/* ==== memory: references and scopes ==== */

static void audit_memory(void)
{
    EXPECT_TRUE("mt_retain", mt_retain(NULL) == NULL);
    EXPECT_TRUE("mt_release", mt_release(NULL) == MT_OK);
    EXPECT_STATUS(MT_ERR_NULL, "mt_memory_get_stats", mt_memory_get_stats(NULL));
    const int64_t limits[] = {-1, INT64_MIN};
    mt_memory_stats before, after;
    cr_assert_eq(mt_memory_get_stats(&before), MT_OK);
    for (int i = 0; i < 2; i++)
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_memory_set_cache_limit",
                      mt_memory_set_cache_limit(limits[i]));
    cr_assert_eq(mt_memory_get_stats(&after), MT_OK);
    if (after.cache_limit != before.cache_limit) t_violation("a failed limit changed the limit");
    mt_memory_trim();
    cover("mt_memory_trim");
    mt_debug_fail_allocations_after(-5); /* any negative value resets */
    mt_tensor *z = mt_zeros(MT_DIMS(2));
    EXPECT_TRUE("mt_debug_fail_allocations_after", z != NULL);
    mt_release(z);

    /* scope misuse: none open, twice, out of order, stale or forged handles */
    cr_assert_eq(mt_scope_depth(), 0);
    EXPECT_TRUE("mt_scope_depth", mt_scope_depth() == 0);
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end((mt_scope){0}));
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end((mt_scope){1, 1}));
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end((mt_scope){-1, 0}));
    mt_scope s1 = mt_scope_begin();
    cover("mt_scope_begin");
    mt_scope s2 = mt_scope_begin();
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end(s1)); /* out of order */
    EXPECT_TRUE("mt_scope_depth", mt_scope_depth() == 2);
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end((mt_scope){3, s2.serial + 1}));
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end((mt_scope){INT_MAX, 0}));
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end((mt_scope){INT_MIN, 0}));
    /* release of references the caller does not own */
    mt_tensor *scoped = mt_zeros(MT_DIMS(2));
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_release", mt_release(scoped));
    mt_retain(scoped);
    EXPECT_TRUE("mt_release", mt_release(scoped) == MT_OK); /* the retained one */
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_release", mt_release(scoped)); /* the scope's again */
    cr_assert_eq(mt_scope_end(s2), MT_OK);
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end(s2)); /* twice */
    cr_assert_eq(mt_scope_end(s1), MT_OK);
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end(s1));
    mt_scope s3 = mt_scope_begin(); /* same depth as s1: s1 is stale */
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_scope_end", mt_scope_end(s1));
    cr_assert_eq(mt_scope_end(s3), MT_OK);
    cr_assert_eq(mt_scope_depth(), 0);
    /* a reference held only by the autodiff graph */
    mt_tensor *leaf = mt_ones(MT_DIMS(2));
    mt_set_requires_grad(leaf, true);
    mt_tensor *mid = mt_neg(leaf);
    mt_tensor *top = mt_exp(mid); /* the graph holds mid */
    cr_assert_eq(mt_release(mid), MT_OK);
    EXPECT_STATUS(MT_ERR_SCOPE, "mt_release", mt_release(mid)); /* only the graph's left */
    float v;
    cr_assert_eq(mt_get(mid, (const int64_t[]){0}, &v), MT_OK, "still alive through the graph");
    mt_release(top);
    mt_release(leaf);
}

/* ==== runtime ==== */

static void audit_runtime(void)
{
    const mt_backend before = mt_get_backend();
    cover("mt_get_backend");
    const int bad_backends[] = {-1, 2, 1000, INT_MIN};
    for (int i = 0; i < 4; i++) {
        EXPECT_STATUS(MT_ERR_BACKEND, "mt_set_backend", mt_set_backend((mt_backend)bad_backends[i]));
        EXPECT_TRUE("mt_backend_name", mt_backend_name((mt_backend)bad_backends[i]) == NULL);
    }
    EXPECT_STATUS(MT_ERR_NULL, "mt_set_backend_by_name", mt_set_backend_by_name(NULL));
    const char *names[] = {"", "BLAS", "Naive", "naive ", " blas", "cuda", "blas\n", "nai"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        EXPECT_STATUS(MT_ERR_BACKEND, "mt_set_backend_by_name", mt_set_backend_by_name(names[i]));
    char long_name[2000];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    EXPECT_STATUS(MT_ERR_BACKEND, "mt_set_backend_by_name", mt_set_backend_by_name(long_name));
    if (mt_get_backend() != before) t_violation("a failed mt_set_backend* changed the backend");

    const int threads_before = mt_get_num_threads();
    cover("mt_get_num_threads");
    const int bad_threads[] = {-1, 100000, INT_MIN, INT_MAX, 1025};
    for (int i = 0; i < 5; i++)
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_set_num_threads", mt_set_num_threads(bad_threads[i]));
    if (mt_get_num_threads() != threads_before)
        t_violation("a failed mt_set_num_threads changed the thread count");

    const bool tracing = mt_trace_enabled();
    cover("mt_trace_enabled");
    EXPECT_STATUS(MT_ERR_IO, "mt_set_trace", mt_set_trace(true, "/nonexistent-dir/sub/trace.txt"));
    EXPECT_STATUS(MT_ERR_IO, "mt_set_trace", mt_set_trace(true, ""));
    if (mt_trace_enabled() != tracing) t_violation("a failed mt_set_trace changed tracing");
    EXPECT_STATUS(MT_ERR_NULL, "mt_trace_summary", mt_trace_summary(NULL));
    EXPECT_TRUE("mt_set_trace_summary", mt_set_trace_summary(false) == MT_OK);
    if (mt_trace_enabled() != tracing) t_violation("mt_set_trace_summary(false) changed tracing");
    mt_trace_summary_reset();
    cover("mt_trace_summary_reset");
    EXPECT_TRUE("mt_config_string", mt_config_string() && strlen(mt_config_string()) > 10);
    EXPECT_TRUE("mt_version", mt_version() == MT_VERSION_NUMBER);
    EXPECT_TRUE("mt_version_string", strcmp(mt_version_string(), MT_VERSION_STRING) == 0);
    /* error.h: out-of-range statuses still get a description */
    EXPECT_TRUE("mt_strerror", mt_strerror((mt_status)-1) && mt_strerror((mt_status)9999) &&
                                   strlen(mt_strerror((mt_status)9999)) > 0);
    mt_clear_error();
    EXPECT_TRUE("mt_last_status", mt_last_status() == MT_OK);
    EXPECT_TRUE("mt_last_error", strcmp(mt_last_error(), "") == 0);
    cover("mt_clear_error");
    EXPECT_STATUS(MT_ERR_NULL, "mt_set_error", mt_set_error(MT_ERR_DIST, NULL));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_set_error", mt_set_error(MT_OK, "x: y"));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_set_error", mt_set_error((mt_status)9999, "x: y"));
    if (mt_set_error(MT_ERR_DIST, "mt_example: peer lost") != MT_ERR_DIST ||
        mt_last_status() != MT_ERR_DIST || strcmp(mt_last_error(), "mt_example: peer lost") != 0)
        t_violation("mt_set_error did not record the given status and message");
    mt_clear_error();
}

/* ==== nn ==== */

static void audit_nn(void)
{
    mt_tensor *t = arange(MT_DIMS(2, 2));
    mt_params params = {0};
    EXPECT_STATUS(MT_ERR_NULL, "mt_params_add", mt_params_add(NULL, t));
    EXPECT_STATUS(MT_ERR_NULL, "mt_params_add", mt_params_add(&params, NULL));
    if (params.count != 0) t_violation("a failed mt_params_add changed the list");
    EXPECT_STATUS(MT_ERR_NULL, "mt_params_zero_grad", mt_params_zero_grad(NULL));
    mt_params_free(NULL);
    cover("mt_params_free");
    EXPECT_STATUS(MT_ERR_NULL, "mt_sgd_step", mt_sgd_step(NULL, 0.1f));

    mt_linear_layer layer = {0};
    EXPECT_STATUS(MT_ERR_NULL, "mt_linear_layer_init", mt_linear_layer_init(NULL, 2, 2, 1, NULL));
    const int64_t sizes[][2] = {{0, 2}, {2, 0}, {-1, 2}, {2, INT64_MIN}};
    for (int i = 0; i < 4; i++)
        EXPECT_STATUS(MT_ERR_SHAPE, "mt_linear_layer_init",
                      mt_linear_layer_init(&layer, sizes[i][0], sizes[i][1], 1, &params));
    EXPECT_STATUS(MT_ERR_OVERFLOW, "mt_linear_layer_init",
                  mt_linear_layer_init(&layer, (int64_t)1 << 40, (int64_t)1 << 40, 1, &params));
    if (layer.weight || params.count) t_violation("a failed mt_linear_layer_init wrote its outputs");
    EXPECT_NULL(MT_ERR_NULL, "mt_linear_layer_forward", mt_linear_layer_forward(NULL, t));
    mt_linear_layer_free(NULL);
    cover("mt_linear_layer_free");

    mt_tensor *p = mt_full(MT_DIMS(2, 2), 0.5f), *y = arange(MT_DIMS(2, 2)), *y3 = arange(MT_DIMS(2, 3));
    mt_tensor *v = arange(MT_DIMS(4)), *v4 = arange(MT_DIMS(4));
    const struct {
        const char *fn;
        binary_fn call;
    } losses[] = {{"mt_loss_nll_sigmoid", mt_loss_nll_sigmoid},
                  {"mt_loss_bce_with_logits", mt_loss_bce_with_logits},
                  {"mt_loss_softmax_cross_entropy", mt_loss_softmax_cross_entropy}};
    for (int i = 0; i < 3; i++) {
        EXPECT_NULL(MT_ERR_NULL, losses[i].fn, losses[i].call(NULL, y));
        EXPECT_NULL(MT_ERR_NULL, losses[i].fn, losses[i].call(p, NULL));
        EXPECT_NULL(MT_ERR_SHAPE, losses[i].fn, losses[i].call(p, y3));
    }
    EXPECT_NULL(MT_ERR_SHAPE, "mt_loss_softmax_cross_entropy", mt_loss_softmax_cross_entropy(v, v4));
    EXPECT_NULL(MT_ERR_NULL, "mt_loss_mse", mt_loss_mse(NULL, y));
    EXPECT_NULL(MT_ERR_NULL, "mt_loss_mse", mt_loss_mse(p, NULL));
    EXPECT_NULL(MT_ERR_BROADCAST, "mt_loss_mse", mt_loss_mse(p, y3));
    const int64_t two_labels[2] = {0, 1};
    EXPECT_NULL(MT_ERR_NULL, "mt_loss_cross_entropy", mt_loss_cross_entropy(NULL, 2, two_labels));
    EXPECT_NULL(MT_ERR_NULL, "mt_loss_cross_entropy", mt_loss_cross_entropy(p, 2, NULL));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_loss_cross_entropy", mt_loss_cross_entropy(v, 2, two_labels));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_loss_cross_entropy", mt_loss_cross_entropy(p, 3, two_labels));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_loss_cross_entropy", mt_loss_cross_entropy(p, -1, two_labels));
    EXPECT_NULL(MT_ERR_INDEX, "mt_loss_cross_entropy",
                mt_loss_cross_entropy(p, 2, (const int64_t[]){0, 2}));
    EXPECT_NULL(MT_ERR_INDEX, "mt_loss_cross_entropy",
                mt_loss_cross_entropy(p, 2, (const int64_t[]){INT64_MIN, 0}));

    const int64_t labels[3] = {0, 1, 2};
    EXPECT_NULL(MT_ERR_NULL, "mt_one_hot", mt_one_hot(NULL, 3, 3));
    EXPECT_NULL(MT_ERR_INDEX, "mt_one_hot", mt_one_hot(labels, 3, 2)); /* label 2 >= 2 */
    EXPECT_NULL(MT_ERR_INDEX, "mt_one_hot", mt_one_hot((const int64_t[]){-1}, 1, 3));
    EXPECT_NULL(MT_ERR_INDEX, "mt_one_hot", mt_one_hot(labels, 1, 0));
    EXPECT_NULL(MT_ERR_INDEX, "mt_one_hot", mt_one_hot(labels, 1, -5));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_one_hot", mt_one_hot(labels, 0, 3));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_one_hot", mt_one_hot(labels, -1, 3));
    EXPECT_NULL(MT_ERR_OVERFLOW, "mt_one_hot", mt_one_hot(labels, 1, (int64_t)1 << 61));

    mt_dataset data = {.n = -7};
    EXPECT_STATUS(MT_ERR_NULL, "mt_dataset_make", mt_dataset_make(NULL, MT_DATASET_XOR, 4, 1));
    const int bad_kinds[] = {-1, MT_DATASET_SPIRAL + 1, 1000, INT_MIN};
    for (int i = 0; i < 4; i++) {
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_dataset_make",
                      mt_dataset_make(&data, (mt_dataset_kind)bad_kinds[i], 4, 1));
        EXPECT_TRUE("mt_dataset_kind_name", mt_dataset_kind_name((mt_dataset_kind)bad_kinds[i]) == NULL);
    }
    const int64_t bad_n[] = {0, -1, INT64_MIN, ((int64_t)1 << 40) + 1, INT64_MAX};
    for (int i = 0; i < 5; i++)
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_dataset_make",
                      mt_dataset_make(&data, MT_DATASET_SIMPLE, bad_n[i], 1));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_dataset_make", mt_dataset_make(&data, MT_DATASET_SPIRAL, 1, 1));
    if (data.n != -7) t_violation("a failed mt_dataset_make wrote *data");
    mt_dataset_free(NULL);
    cover("mt_dataset_free");
    mt_dataset_kind kind = (mt_dataset_kind)77;
    EXPECT_STATUS(MT_ERR_NULL, "mt_dataset_kind_from_name", mt_dataset_kind_from_name(NULL, &kind));
    EXPECT_STATUS(MT_ERR_NULL, "mt_dataset_kind_from_name", mt_dataset_kind_from_name("xor", NULL));
    const char *bad_names[] = {"", "XOR", "xor ", "spirals", "circle\n"};
    for (int i = 0; i < 5; i++)
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_dataset_kind_from_name",
                      mt_dataset_kind_from_name(bad_names[i], &kind));
    if (kind != (mt_dataset_kind)77) t_violation("a failed mt_dataset_kind_from_name wrote *kind");

    mt_mlp model;
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_init", mt_mlp_init(NULL, 2, 4, 1));
    EXPECT_NULL(MT_ERR_NULL, "mt_mlp_forward", mt_mlp_forward(NULL, t));
    mt_mlp_free(NULL);
    cover("mt_mlp_free");
    cr_assert_eq(mt_mlp_init(&model, 2, 3, 1), MT_OK);
    cr_assert_eq(mt_dataset_make(&data, MT_DATASET_XOR, 8, 1), MT_OK);
    mt_train_options options = {.rate = 0.1f, .batch = 4, .seed = 1};
    mt_epoch_result result = {.loss = -3, .steps = -3};
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_train_epoch", mt_mlp_train_epoch(NULL, &data, &options, 0, &result));
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_train_epoch", mt_mlp_train_epoch(&model, NULL, &options, 0, &result));
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_train_epoch", mt_mlp_train_epoch(&model, &data, NULL, 0, &result));
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_train_epoch", mt_mlp_train_epoch(&model, &data, &options, 0, NULL));
    const float bad_rates[] = {0.0f, -0.1f, NAN, -INFINITY};
    for (int i = 0; i < 4; i++) {
        options.rate = bad_rates[i];
        EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_mlp_train_epoch",
                      mt_mlp_train_epoch(&model, &data, &options, 0, &result));
    }
    if (result.steps != -3) t_violation("a failed mt_mlp_train_epoch wrote *result");
    int64_t correct = -3;
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_evaluate", mt_mlp_evaluate(NULL, &data, &correct));
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_evaluate", mt_mlp_evaluate(&model, NULL, &correct));
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_evaluate", mt_mlp_evaluate(&model, &data, NULL));
    if (correct != -3) t_violation("a failed mt_mlp_evaluate wrote *correct");
    mt_mlp_free(&model);
    mt_dataset_free(&data);
    mt_tensor *all[] = {t, p, y, y3, v, v4};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
}

/* ==== nn: optimisers, schedules, init, dropout ==== */

/* Layer norm and embedding: NULLs, bad shapes, uninitialised layers. */
static void audit_nn_layers(void)
{
    mt_tensor *x = arange(MT_DIMS(2, 3));
    EXPECT_NULL(MT_ERR_NULL, "mt_layer_norm", mt_layer_norm(NULL, 1, NULL, NULL, 1e-5f));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_layer_norm", mt_layer_norm(x, 0, NULL, NULL, 1e-5f));
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_layer_norm", mt_layer_norm(x, 1, NULL, NULL, NAN));
    EXPECT_STATUS(MT_ERR_NULL, "mt_layer_norm_layer_init", mt_layer_norm_layer_init(NULL, 3, NULL));
    mt_layer_norm_layer ln = {0};
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_layer_norm_layer_init", mt_layer_norm_layer_init(&ln, -1, NULL));
    EXPECT_NULL(MT_ERR_NULL, "mt_layer_norm_layer_forward", mt_layer_norm_layer_forward(&ln, x));
    mt_layer_norm_layer_free(NULL);
    EXPECT_TRUE("mt_layer_norm_layer_free", ln.weight == NULL);
    mt_embedding_layer emb = {0};
    EXPECT_STATUS(MT_ERR_NULL, "mt_embedding_layer_init", mt_embedding_layer_init(NULL, 3, 2, 1, NULL));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_embedding_layer_init", mt_embedding_layer_init(&emb, 0, 2, 1, NULL));
    EXPECT_NULL(MT_ERR_NULL, "mt_embedding_layer_forward",
                mt_embedding_layer_forward(&emb, 1, (const int64_t[]){0}));
    mt_embedding_layer_free(NULL);
    EXPECT_TRUE("mt_embedding_layer_free", emb.weight == NULL);
    mt_release(x);
    t_violations_check("nn layers");
}

static void audit_nn_training(void)
{
    mt_tensor *t = arange(MT_DIMS(2, 2));
    mt_set_requires_grad(t, true);
    mt_params params = {0}, empty = {0};
    cr_assert_eq(mt_params_add(&params, t), MT_OK);
    EXPECT_TRUE("mt_sgd_defaults", mt_sgd_defaults().lr == 1e-3f);
    EXPECT_TRUE("mt_adam_defaults", mt_adam_defaults().weight_decay == 0.0f);
    EXPECT_TRUE("mt_adamw_defaults", mt_adamw_defaults().weight_decay == 1e-2f);
    mt_sgd_options bad_sgd = {.lr = -1.0f};
    mt_adam_options bad_adam = mt_adam_defaults();
    bad_adam.beta2 = NAN;
    EXPECT_VALUE(MT_ERR_NULL, "mt_optim_sgd", mt_optim_sgd(NULL, mt_sgd_defaults()), 0);
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_optim_sgd", mt_optim_sgd(&empty, mt_sgd_defaults()), 0);
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_optim_sgd", mt_optim_sgd(&params, bad_sgd), 0);
    EXPECT_VALUE(MT_ERR_NULL, "mt_optim_adam", mt_optim_adam(NULL, mt_adam_defaults()), 0);
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_optim_adam", mt_optim_adam(&params, bad_adam), 0);
    EXPECT_VALUE(MT_ERR_NULL, "mt_optim_adamw", mt_optim_adamw(NULL, mt_adamw_defaults()), 0);
    EXPECT_VALUE(MT_ERR_INVALID_ARG, "mt_optim_adamw", mt_optim_adamw(&params, bad_adam), 0);
    EXPECT_STATUS(MT_ERR_NULL, "mt_optim_step", mt_optim_step(NULL));
    EXPECT_STATUS(MT_ERR_NULL, "mt_optim_zero_grad", mt_optim_zero_grad(NULL));
    EXPECT_STATUS(MT_ERR_NULL, "mt_optim_set_lr", mt_optim_set_lr(NULL, 0.1f));
    EXPECT_TRUE("mt_optim_get_lr", isnan(mt_optim_get_lr(NULL)) && mt_last_status() == MT_ERR_NULL);
    mt_optimizer *opt = mt_optim_sgd(&params, mt_sgd_defaults());
    cr_assert_not_null(opt);
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_optim_set_lr", mt_optim_set_lr(opt, NAN));
    int64_t steps = 0;
    EXPECT_VALUE(MT_ERR_NULL, "mt_optim_state_buffers", mt_optim_state_buffers(NULL), -1);
    EXPECT_STATUS(MT_ERR_NULL, "mt_optim_state_get", mt_optim_state_get(NULL, 0, &steps, NULL));
    EXPECT_STATUS(MT_ERR_INDEX, "mt_optim_state_get", mt_optim_state_get(opt, 1, &steps, NULL));
    EXPECT_STATUS(MT_ERR_NULL, "mt_optim_state_set", mt_optim_state_set(NULL, 0, 0, NULL));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_optim_state_set", mt_optim_state_set(opt, 0, -1, NULL));
    mt_optim_free(opt);
    mt_optim_free(NULL);
    cover("mt_optim_free");
    float norm = -1;
    EXPECT_STATUS(MT_ERR_NULL, "mt_clip_grad_norm", mt_clip_grad_norm(NULL, 1.0f, &norm));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_clip_grad_norm", mt_clip_grad_norm(&params, NAN, &norm));
    if (norm != -1) t_violation("a failed mt_clip_grad_norm wrote *total_norm");
    mt_clear_error();
    EXPECT_TRUE("mt_lr_step", isnan(mt_lr_step(0.1f, -1, 1, 0.5f)) && t_error_names("mt_lr_step"));
    mt_clear_error();
    EXPECT_TRUE("mt_lr_cosine", isnan(mt_lr_cosine(0.1f, 0, 0, 0.0f)) && t_error_names("mt_lr_cosine"));

    mt_clear_error();
    EXPECT_TRUE("mt_init_calculate_gain", isnan(mt_init_calculate_gain((mt_nonlinearity)-3, 0)) &&
                                              t_error_names("mt_init_calculate_gain"));
    int64_t fan_in = -1, fan_out = -1;
    mt_tensor *v = arange(MT_DIMS(3));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_fans", mt_init_fans(NULL, &fan_in, &fan_out));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_fans", mt_init_fans(t, NULL, &fan_out));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_fans", mt_init_fans(t, &fan_in, NULL));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_init_fans", mt_init_fans(v, &fan_in, &fan_out));
    if (fan_in != -1 || fan_out != -1) t_violation("a failed mt_init_fans wrote its outputs");
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_uniform", mt_init_uniform(NULL, 0, 1, 1));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_init_uniform", mt_init_uniform(t, 1, 0, 1));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_normal", mt_init_normal(NULL, 0, 1, 1));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_init_normal", mt_init_normal(t, 0, -1, 1));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_kaiming_uniform",
                  mt_init_kaiming_uniform(NULL, 0, MT_FAN_IN, MT_NONLINEARITY_RELU, 1));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_init_kaiming_uniform",
                  mt_init_kaiming_uniform(v, 0, MT_FAN_IN, MT_NONLINEARITY_RELU, 1));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_kaiming_normal",
                  mt_init_kaiming_normal(NULL, 0, MT_FAN_IN, MT_NONLINEARITY_RELU, 1));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_init_kaiming_normal",
                  mt_init_kaiming_normal(t, 0, (mt_fan_mode)7, MT_NONLINEARITY_RELU, 1));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_xavier_uniform", mt_init_xavier_uniform(NULL, 1, 1));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_init_xavier_uniform", mt_init_xavier_uniform(v, 1, 1));
    EXPECT_STATUS(MT_ERR_NULL, "mt_init_xavier_normal", mt_init_xavier_normal(NULL, 1, 1));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_init_xavier_normal", mt_init_xavier_normal(t, -1, 1));
    mt_linear_layer layer = {0};
    EXPECT_STATUS(MT_ERR_NULL, "mt_linear_layer_init_with",
                  mt_linear_layer_init_with(NULL, 2, 2, MT_LINEAR_INIT_TORCH, 1, NULL));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_linear_layer_init_with",
                  mt_linear_layer_init_with(&layer, 2, 0, MT_LINEAR_INIT_TORCH, 1, &empty));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_linear_layer_init_with",
                  mt_linear_layer_init_with(&layer, 2, 2, (mt_linear_init)-1, 1, &empty));
    if (layer.weight || empty.count) t_violation("a failed mt_linear_layer_init_with wrote its outputs");

    EXPECT_NULL(MT_ERR_NULL, "mt_dropout", mt_dropout(NULL, 0.5f, true, 1));
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_dropout", mt_dropout(t, NAN, true, 1));
    EXPECT_NULL(MT_ERR_INVALID_ARG, "mt_dropout", mt_dropout(t, -0.5f, false, 1));
    mt_dropout_layer drop = {.p = 0.25f};
    EXPECT_STATUS(MT_ERR_NULL, "mt_dropout_layer_init", mt_dropout_layer_init(NULL, 0.5f, 1));
    EXPECT_STATUS(MT_ERR_INVALID_ARG, "mt_dropout_layer_init", mt_dropout_layer_init(&drop, 2.0f, 1));
    if (drop.p != 0.25f) t_violation("a failed mt_dropout_layer_init wrote *layer");
    EXPECT_STATUS(MT_ERR_NULL, "mt_dropout_layer_train", mt_dropout_layer_train(NULL, false));
    EXPECT_NULL(MT_ERR_NULL, "mt_dropout_layer_forward", mt_dropout_layer_forward(NULL, t));
    EXPECT_NULL(MT_ERR_NULL, "mt_dropout_layer_forward", mt_dropout_layer_forward(&drop, NULL));
    mt_params_free(&params);
    mt_release(t);
    mt_release(v);
}

/* ==== the tests ==== */

static void run_group(void (*group)(void), const char *name)
{
    const int64_t live = t_live_tensors();
    group();
    cr_assert_eq(mt_scope_depth(), 0, "%s left a scope open", name);
    cr_assert(mt_grad_enabled(), "%s left no-grad mode on", name);
    cr_assert_eq(t_live_tensors(), live, "%s: the failed calls left %lld tensors behind", name,
                 (long long)(t_live_tensors() - live));
    t_violations_check(name);
}

Test(contract, creation) { run_group(audit_creation, "creation"); }
Test(contract, inspection_elements_printing) { run_group(audit_inspection, "inspection"); }
Test(contract, index_helpers) { run_group(audit_index_helpers, "index helpers"); }
Test(contract, views) { run_group(audit_views, "views"); }
Test(contract, operations) { run_group(audit_ops, "operations"); }
Test(contract, joins_and_gathering) { run_group(audit_joins, "joins and gathering"); }
Test(contract, data_in_and_out) { run_group(audit_data, "data in and out"); }
Test(contract, autodiff) { run_group(audit_autodiff, "autodiff"); }
Test(contract, memory_and_scopes) { run_group(audit_memory, "memory and scopes"); }
Test(contract, runtime) { run_group(audit_runtime, "runtime"); }
Test(contract, nn) { run_group(audit_nn, "nn"); }
Test(contract, nn_training) { run_group(audit_nn_training, "nn training"); }
static void audit_plan(void);
Test(contract, plan) { run_group(audit_plan, "plan"); }

/* An operation given a NULL tensor keeps the error already recorded (the chain rule of error.h),
 * and successful calls leave a recorded error alone. */
Test(contract, null_keeps_the_first_error)
{
    mt_tensor *a = arange(MT_DIMS(2, 3));
    mt_clear_error();
    mt_tensor *r = mt_sigmoid(mt_add(mt_matmul(a, a), a)); /* matmul fails: (2,3) @ (2,3) */
    cr_assert_null(r);
    t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    for (size_t i = 0; i < sizeof unaries / sizeof unaries[0]; i++) {
        cr_assert_null(unaries[i].call(NULL));
        t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    }
    for (size_t i = 0; i < sizeof binaries / sizeof binaries[0]; i++) {
        cr_assert_null(binaries[i].call(NULL, a));
        t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    }
    for (size_t i = 0; i < sizeof reductions / sizeof reductions[0]; i++) {
        cr_assert_null(reductions[i].call(NULL, 0));
        t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    }
    mt_tensor *ok = mt_neg(a);
    cr_assert_not_null(ok);
    t_expect_error(MT_ERR_SHAPE, "mt_matmul");
    mt_release(ok);
    mt_release(a);
}

/* Composite functions (built from other public functions) report their bad arguments under
 * their own name too: bad sizes, a bad input, a model that was never initialised (zeroed). */
Test(contract, composites_name_themselves)
{
    mt_mlp model;
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_mlp_init", mt_mlp_init(&model, 0, 4, 1));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_mlp_init", mt_mlp_init(&model, 2, -4, 1));
    mt_tensor *x = arange(MT_DIMS(4, 2));
    mt_mlp zero_model = {0};
    EXPECT_NULL(MT_ERR_NULL, "mt_mlp_forward", mt_mlp_forward(&zero_model, x));
    mt_linear_layer zero_layer = {0};
    EXPECT_NULL(MT_ERR_NULL, "mt_linear_layer_forward", mt_linear_layer_forward(&zero_layer, x));
    mt_release(x);
    cr_assert_eq(mt_mlp_init(&model, 2, 3, 1), MT_OK);
    mt_tensor *x3 = arange(MT_DIMS(4, 3)), *x1 = arange(MT_DIMS(4));
    EXPECT_NULL(MT_ERR_NULL, "mt_mlp_forward", mt_mlp_forward(&model, NULL));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_mlp_forward", mt_mlp_forward(&model, x3)); /* 3 features, not 2 */
    EXPECT_NULL(MT_ERR_SHAPE, "mt_mlp_forward", mt_mlp_forward(&model, x1));
    EXPECT_NULL(MT_ERR_NULL, "mt_linear_layer_forward", mt_linear_layer_forward(&model.layer1, NULL));
    EXPECT_NULL(MT_ERR_SHAPE, "mt_linear_layer_forward", mt_linear_layer_forward(&model.layer1, x3));
    mt_release(x3);
    mt_release(x1);
    mt_mlp_free(&model);
    t_violations_check("composites");
}

/* A hand-made dataset (its fields are public) whose arrays are missing is a bad argument like any
 * other: an error, not a crash. */
Test(contract, dataset_without_arrays)
{
    mt_mlp model;
    cr_assert_eq(mt_mlp_init(&model, 2, 3, 1), MT_OK);
    mt_dataset hollow = {.kind = MT_DATASET_XOR, .n = 4, .x = NULL, .y = NULL};
    mt_train_options options = {.rate = 0.1f, .batch = 2, .seed = 1};
    mt_epoch_result result;
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_train_epoch",
                  mt_mlp_train_epoch(&model, &hollow, &options, 0, &result));
    int64_t correct;
    EXPECT_STATUS(MT_ERR_NULL, "mt_mlp_evaluate", mt_mlp_evaluate(&model, &hollow, &correct));
    mt_mlp_free(&model);
    t_violations_check("dataset without arrays");
}

/* safetensors.h: NULL handles and arguments (hostile files are covered by test_safetensors). */
static void audit_safetensors(void)
{
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    const char *names[] = {"x"};
    mt_tensor *tensors[] = {t};
    EXPECT_STATUS(MT_ERR_NULL, "mt_save_safetensors", mt_save_safetensors(NULL, 1, names, tensors, NULL));
    EXPECT_TRUE("mt_safetensors_open", mt_safetensors_open(NULL) == NULL && mt_last_status() == MT_ERR_NULL);
    mt_clear_error();
    EXPECT_TRUE("mt_safetensors_open_memory",
                mt_safetensors_open_memory(NULL, 8) == NULL && mt_last_status() == MT_ERR_NULL);
    mt_clear_error();
    mt_safetensors_close(NULL);
    EXPECT_TRUE("mt_safetensors_close", mt_last_status() == MT_OK);
    EXPECT_TRUE("mt_safetensors_count", mt_safetensors_count(NULL) < 0 || mt_last_status() == MT_ERR_NULL);
    EXPECT_TRUE("mt_safetensors_name", mt_safetensors_name(NULL, 0) == NULL);
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    EXPECT_STATUS(MT_ERR_NULL, "mt_safetensors_shape", mt_safetensors_shape(NULL, "x", &ndim, shape));
    EXPECT_NULL(MT_ERR_NULL, "mt_safetensors_get", mt_safetensors_get(NULL, "x"));
    EXPECT_STATUS(MT_ERR_NULL, "mt_safetensors_read_into", mt_safetensors_read_into(NULL, "x", t));
    EXPECT_STATUS(MT_ERR_NULL, "mt_safetensors_read_many", mt_safetensors_read_many(NULL, 1, names, tensors));
    EXPECT_TRUE("mt_safetensors_metadata", mt_safetensors_metadata(NULL, "k") == NULL);
    EXPECT_TRUE("mt_safetensors_metadata_count", mt_safetensors_metadata_count(NULL) <= 0);
    EXPECT_TRUE("mt_safetensors_metadata_key", mt_safetensors_metadata_key(NULL, 0) == NULL);
    EXPECT_STATUS(MT_ERR_NULL, "mt_params_save", mt_params_save(NULL, NULL, NULL));
    EXPECT_STATUS(MT_ERR_NULL, "mt_params_load", mt_params_load(NULL, NULL, NULL));
    mt_release(t);
    t_violations_check("safetensors");
}

/* plan.h: NULL arguments; a step that fails hands back its own status and no plan. */
static mt_status plan_failing_step(void *context)
{
    (void)context;
    return mt_backward(NULL);
}

static void audit_plan(void)
{
    mt_plan *plan = (mt_plan *)&plan; /* must be overwritten with NULL */
    EXPECT_STATUS(MT_ERR_NULL, "mt_plan_capture", mt_plan_capture(NULL, NULL, &plan));
    EXPECT_TRUE("mt_plan_capture", plan == NULL);
    EXPECT_STATUS(MT_ERR_NULL, "mt_plan_capture", mt_plan_capture(plan_failing_step, NULL, NULL));
    EXPECT_STATUS(MT_ERR_NULL, "mt_plan_capture", mt_plan_capture(plan_failing_step, NULL, &plan));
    EXPECT_TRUE("mt_plan_capture", plan == NULL);
    EXPECT_STATUS(MT_ERR_NULL, "mt_plan_run", mt_plan_run(NULL));
    mt_plan_stats stats;
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    const float two[2] = {1.0f, 2.0f};
    EXPECT_STATUS(MT_ERR_NULL, "mt_copy_from", mt_copy_from(NULL, two, 2));
    EXPECT_STATUS(MT_ERR_NULL, "mt_copy_from", mt_copy_from(t, NULL, 2));
    EXPECT_STATUS(MT_ERR_SHAPE, "mt_copy_from", mt_copy_from(t, two, 3));
    float kept = -1.0f;
    mt_get(t, (const int64_t[]){1}, &kept);
    EXPECT_TRUE("mt_copy_from", kept == 0.0f);
    mt_release(t);
    EXPECT_STATUS(MT_ERR_NULL, "mt_plan_get_stats", mt_plan_get_stats(NULL, &stats));
    mt_clear_error();
    mt_plan_free(NULL);
    EXPECT_TRUE("mt_plan_free", mt_last_status() == MT_OK);
    t_violations_check("plan");
}

/* Every MT_API function of the public headers is audited above. */
Test(contract, every_public_function_is_audited)
{
    void (*groups[])(void) = {audit_creation, audit_inspection, audit_index_helpers, audit_views,
                              audit_ops,      audit_autodiff,   audit_memory,        audit_runtime,
                              audit_nn,       audit_nn_training, audit_safetensors,
                              audit_joins,    audit_data,        audit_plan,
                              audit_nn_layers};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) groups[i]();
    /* every header of the core library (dist.h belongs to the separate MPI library, audited by
     * its own tests) */
    DIR *dir = opendir(MT_INCLUDE_DIR);
    cr_assert_not_null(dir, "cannot list %s", MT_INCLUDE_DIR);
    int declared = 0, missing = 0, headers = 0;
    char missing_list[2048] = "";
    for (struct dirent *entry; (entry = readdir(dir));) {
        size_t length = strlen(entry->d_name);
        if (length < 3 || strcmp(entry->d_name + length - 2, ".h") != 0 ||
            strcmp(entry->d_name, "dist.h") == 0 || strcmp(entry->d_name, "export.h") == 0)
            continue;
        headers++;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", MT_INCLUDE_DIR, entry->d_name);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "cannot open %s", path);
        char *text = t_read_stream(f);
        fclose(f);
        for (const char *p = strstr(text, "MT_API "); p; p = strstr(p + 1, "MT_API ")) {
            const char *paren = strchr(p, '(');
            cr_assert_not_null(paren);
            const char *end = paren, *start = paren;
            while (start > p && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                                 (start[-1] >= '0' && start[-1] <= '9')))
                start--;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
            declared++;
            bool found = false;
            for (int i = 0; i < covered_count && !found; i++) found = strcmp(covered_names[i], name) == 0;
            if (!found) {
                missing++;
                size_t used = strlen(missing_list);
                snprintf(missing_list + used, sizeof missing_list - used, " %s", name);
            }
        }
        free(text);
    }
    closedir(dir);
    cr_assert_geq(headers, 8, "found %d headers in %s", headers, MT_INCLUDE_DIR);
    cr_assert_gt(declared, 100, "the headers declare the API (%d functions found)", declared);
    cr_assert_eq(missing, 0, "%d of %d public functions are not audited:%s", missing, declared,
                 missing_list);
    cr_log_info("%d public functions audited", declared);
}
