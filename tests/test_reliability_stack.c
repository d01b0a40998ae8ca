/* Kernels keep their scratch off the stack.
 *
 * A program may call the library from threads with small stacks. Here threads created with a
 * 96 KiB stack (OpenBLAS itself takes about 60 KiB of it in sgemm) run, on both backends and
 * with 1 and 2 threads: sum_all of 2^22 elements (a long reduction folded from pieces), a column
 * sum of a 4096 x 2048 tensor (the blocked reduction), a sum over a strided column, an add with
 * a transposed 512 x 512 operand and exp of one (both read in tiles), and matrix products. A
 * kernel that put tens of KB on the stack would overflow it and crash the test. Results are
 * checked against exact values (small integers, exact in float whatever the order).
 *
 * Kernel scratch comes from the storage cache; when it cannot be had, the kernels take a path
 * that needs none. The second test makes every allocation after the first few fail and checks
 * that each call either fails cleanly with MT_ERR_NO_MEMORY or returns the exact result. */
#include "testing.h"

#include <minitorch/debug.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_STACK (96 * 1024)

typedef struct run_result {
    bool ok;
    char message[256];
} run_result;

static bool fail_with(run_result *r, const char *what)
{
    r->ok = false;
    snprintf(r->message, sizeof r->message, "%s: %s", what, mt_last_error());
    return false;
}

/* Every element of t equals want(i) for its row-major position i. */
static bool all_equal(run_result *r, const char *what, mt_tensor *t, float (*want)(int64_t, const mt_tensor *),
                      const mt_tensor *shape_of)
{
    if (!t) return fail_with(r, what);
    int64_t n = mt_numel(t);
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v || mt_copy_to(t, v, n) != MT_OK) {
        free(v);
        return fail_with(r, what);
    }
    for (int64_t i = 0; i < n; i++)
        if (v[i] != want(i, shape_of)) {
            r->ok = false;
            snprintf(r->message, sizeof r->message, "WRONG %s: element %lld is %.9g, expected %.9g", what,
                     (long long)i, (double)v[i], (double)want(i, shape_of));
            free(v);
            return false;
        }
    free(v);
    return true;
}

static float want_sum_all(int64_t i, const mt_tensor *t) { (void)i; (void)t; return 4194304.0f; }
static float want_columns(int64_t i, const mt_tensor *t) { (void)t; return 4096.0f * (float)(i % 7); }
static float want_strided(int64_t i, const mt_tensor *t) { (void)i; (void)t; return 2.0f * 4096.0f; }
/* a[i][j] + a[j][i] for a = arange(512 x 512) */
static float want_add(int64_t i, const mt_tensor *t)
{
    (void)t;
    int64_t r = i / 512, c = i % 512;
    return (float)(r * 512 + c + c * 512 + r);
}
static float want_one(int64_t i, const mt_tensor *t) { (void)i; (void)t; return 1.0f; }
static float want_matmul(int64_t i, const mt_tensor *t) { (void)i; (void)t; return 2.0f * 300.0f; }

/* 0, 1, 2, ... in a 512 x 512 tensor; NULL when it cannot be allocated. */
static mt_tensor *arange_512(void)
{
    static float values[512 * 512];
    for (int i = 0; i < 512 * 512; i++) values[i] = (float)i;
    return mt_from_data(MT_DIMS(512, 512), values);
}

/* The operations, each checked; false (and r->message) at the first wrong or failed one. */
static bool run_operations(run_result *r)
{
    mt_scope scope = mt_scope_begin();
    bool ok = true;
    mt_tensor *ones = mt_ones(MT_DIMS((int64_t)1 << 22));
    ok = ok && all_equal(r, "sum_all of 2^22", mt_sum_all(ones), want_sum_all, NULL);

    /* 4096 x 2048, column j holding j % 7: column sums 4096 * (j % 7) */
    float pattern[2048];
    for (int j = 0; j < 2048; j++) pattern[j] = (float)(j % 7);
    mt_tensor *rows = mt_contiguous(mt_expand(mt_from_data(MT_DIMS(1, 2048), pattern), MT_DIMS(4096, 2048)));
    ok = ok && all_equal(r, "column sum of 4096 x 2048", mt_sum(rows, 0), want_columns, NULL);
    mt_tensor *twos = mt_full(MT_DIMS(4096, 3), 2.0f);
    ok = ok && all_equal(r, "sum of a strided column", mt_sum(mt_narrow(twos, 1, 1, 1), 0), want_strided, NULL);

    mt_tensor *a = arange_512();
    ok = ok && all_equal(r, "add with a transposed 512 x 512", mt_add(a, mt_transpose(a, 0, 1)), want_add, NULL);
    mt_tensor *e = mt_exp(mt_transpose(mt_zeros(MT_DIMS(512, 512)), 0, 1));
    ok = ok && all_equal(r, "exp of a transposed 512 x 512", e, want_one, NULL);

    mt_tensor *x = mt_full(MT_DIMS(64, 300), 1.0f), *w = mt_full(MT_DIMS(300, 96), 2.0f);
    ok = ok && all_equal(r, "matmul 64 x 300 x 96", mt_matmul(x, w), want_matmul, NULL);
    ok = ok && all_equal(r, "matmul with a transposed operand",
                         mt_matmul(x, mt_transpose(mt_full(MT_DIMS(96, 300), 2.0f), 0, 1)), want_matmul, NULL);
    mt_scope_end(scope);
    return ok;
}

typedef struct thread_args {
    int threads;
    run_result result;
} thread_args;

static void *small_stack_body(void *p)
{
    thread_args *args = p;
    args->result.ok = true;
    if (mt_set_num_threads(args->threads) != MT_OK) fail_with(&args->result, "mt_set_num_threads");
    else run_operations(&args->result);
    return NULL;
}

Test(stack, kernels_run_on_a_96_KiB_stack, .timeout = 300)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int threads = 1; threads <= 2; threads++) {
            thread_args args = {.threads = threads};
            pthread_attr_t attr;
            pthread_t thread;
            cr_assert_eq(pthread_attr_init(&attr), 0);
            cr_assert_eq(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
            cr_assert_eq(pthread_create(&thread, &attr, small_stack_body, &args), 0);
            cr_assert_eq(pthread_join(thread, NULL), 0);
            pthread_attr_destroy(&attr);
            cr_expect(args.result.ok, "%s backend, %d threads: %s", be ? "blas" : "naive", threads,
                      args.result.message);
        }
    }
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
}

/* Without scratch: each operation runs with every allocation after its first `successes`
 * failing (its output needs a few; the kernel's scratch comes after them), for successes = 0..7.
 * Each call either fails with MT_ERR_NO_MEMORY or gives the exact result. Sizes are chosen to
 * reach the same paths as above: a long vector split over threads, a block of columns (split
 * and not), a tiled transposed operand. */
typedef struct inputs {
    mt_tensor *ones, *rows, *tall, *twos, *square;
} inputs;

static mt_tensor *op_sum_all(const inputs *in) { return mt_sum_all(in->ones); }
static mt_tensor *op_columns(const inputs *in) { return mt_sum(in->rows, 0); }
static mt_tensor *op_tall_columns(const inputs *in) { return mt_sum(in->tall, 0); }
static mt_tensor *op_strided(const inputs *in) { return mt_sum(mt_narrow(in->twos, 1, 1, 1), 0); }
static mt_tensor *op_add(const inputs *in) { return mt_add(in->square, mt_transpose(in->square, 0, 1)); }
static mt_tensor *op_exp(const inputs *in) { return mt_exp(mt_transpose(mt_sub(in->square, in->square), 0, 1)); }

static float want_ones_sum(int64_t i, const mt_tensor *t) { (void)i; (void)t; return 262144.0f; }
static float want_rows(int64_t i, const mt_tensor *t) { (void)t; return 64.0f * (float)(i % 7); }
static float want_tall(int64_t i, const mt_tensor *t) { (void)t; return 9000.0f * (float)(i % 7); }
static float want_add_64(int64_t i, const mt_tensor *t)
{
    (void)t;
    int64_t r = i / 64, c = i % 64;
    return (float)(r * 64 + c + c * 64 + r);
}

Test(stack, kernels_without_scratch_give_the_same_results, .timeout = 300)
{
    float pattern[256], square[64 * 64];
    for (int j = 0; j < 256; j++) pattern[j] = (float)(j % 7);
    for (int i = 0; i < 64 * 64; i++) square[i] = (float)i;
    mt_scope scope = mt_scope_begin();
    inputs in;
    in.ones = mt_ones(MT_DIMS((int64_t)1 << 18));
    in.rows = mt_contiguous(mt_expand(mt_from_data(MT_DIMS(1, 256), pattern), MT_DIMS(64, 256)));
    in.tall = mt_contiguous(mt_expand(mt_from_data(MT_DIMS(1, 256), pattern), MT_DIMS(9000, 256)));
    in.twos = mt_full(MT_DIMS(4096, 3), 2.0f);
    in.square = mt_from_data(MT_DIMS(64, 64), square);
    cr_assert(in.ones && in.rows && in.tall && in.twos && in.square, "%s", mt_last_error());
    static const struct {
        const char *what;
        mt_tensor *(*call)(const inputs *);
        float (*want)(int64_t, const mt_tensor *);
    } ops[] = {
        {"sum_all of 2^18", op_sum_all, want_ones_sum},
        {"column sum of 64 x 256", op_columns, want_rows},
        {"column sum of 9000 x 256", op_tall_columns, want_tall},
        {"sum of a strided column", op_strided, want_strided},
        {"add with a transposed 64 x 64", op_add, want_add_64},
        {"exp of a transposed 64 x 64", op_exp, want_one},
    };
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int threads = 1; threads <= 2; threads++) {
            cr_assert_eq(mt_set_num_threads(threads), MT_OK);
            for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
                int completed = 0;
                for (int64_t successes = 0; successes < 8; successes++) {
                    mt_clear_error();
                    mt_debug_fail_allocations_after(successes);
                    mt_tensor *t = ops[o].call(&in);
                    mt_debug_fail_allocations_after(-1);
                    if (!t) {
                        cr_expect_eq(mt_last_status(), MT_ERR_NO_MEMORY, "%s: %s", ops[o].what,
                                     mt_last_error());
                        continue;
                    }
                    run_result r = {.ok = true};
                    cr_expect(all_equal(&r, ops[o].what, t, ops[o].want, NULL),
                              "%s backend, %d threads, allocations failing after %lld: %s",
                              be ? "blas" : "naive", threads, (long long)successes, r.message);
                    completed++;
                }
                cr_expect(completed > 0, "%s never completed", ops[o].what);
            }
        }
    }
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
    mt_scope_end(scope);
}
