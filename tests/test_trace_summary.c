/* MINITORCH_TRACE=summary / mt_trace_summary: the table counts every kernel call of a known
 * sequence under its op, with the bytes the allocating ops handed out. (The at-exit table of a
 * whole program is checked by trace_summary.sh.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

typedef struct op_totals {
    long long calls;
    double alloc_mb;
    int rows;
} op_totals;

/* Sums the rows of `op` in a printed summary; *total_calls gets the total row's count. */
static op_totals totals_of(const char *text, const char *op, long long *total_calls)
{
    op_totals t = {0, 0.0, 0};
    const char *line = text;
    while (line && *line) {
        char name[64], backend[16], path[128], threads[24];
        long long calls = 0, faults = 0;
        double total_ms = 0, mean_us = 0, mb = 0;
        if (sscanf(line, "%63s %15s %127s %lld %lf %lf %23s %lf %lld", name, backend, path, &calls,
                   &total_ms, &mean_us, threads, &mb, &faults) == 9 &&
            strcmp(name, op) == 0) {
            t.calls += calls;
            t.alloc_mb += mb;
            t.rows++;
        }
        if (sscanf(line, "total %lld", &calls) == 1 && total_calls) *total_calls = calls;
        line = strchr(line, '\n');
        if (line) line++;
    }
    return t;
}

static char *summary_text(void)
{
    FILE *f = tmpfile();
    cr_assert(f);
    cr_assert_eq(mt_trace_summary(f), MT_OK);
    long size = ftell(f);
    cr_assert_gt(size, 0);
    char *text = calloc((size_t)size + 1, 1);
    rewind(f);
    cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

static void known_sequence(void)
{
    mt_scope scope = mt_scope_begin();
    mt_tensor *a = mt_rand(MT_DIMS(4, 4), 1), *b = mt_rand(MT_DIMS(4, 4), 2);
    mt_tensor *out = mt_zeros(MT_DIMS(4, 4));
    mt_tensor *big_a = mt_zeros(MT_DIMS(512, 512)), *big_b = mt_ones(MT_DIMS(512, 512));
    cr_assert(a && b && out && big_a && big_b);
    mt_trace_summary_reset(); /* count only what follows */
    for (int i = 0; i < 3; i++) cr_assert_eq(mt_zip_out(out, MT_OP_ADD, a, b), MT_OK);
    for (int i = 0; i < 2; i++) cr_assert_eq(mt_matmul_out(out, a, b), MT_OK);
    cr_assert_eq(mt_map_out(out, MT_OP_NEG, a), MT_OK);
    /* allocates its 512 x 512 float result: 1 MiB (the cache may round a size class up) */
    cr_assert(mt_add(big_a, big_b));
    mt_scope_end(scope);
}

static void check_counts(void)
{
    char *text = summary_text();
    long long total = -1;
    op_totals add = totals_of(text, "add", &total), matmul = totals_of(text, "matmul", NULL),
              neg = totals_of(text, "neg", NULL);
    cr_expect_eq(add.calls, 4, "add calls: %lld\n%s", add.calls, text);
    cr_expect_eq(matmul.calls, 2, "matmul calls: %lld\n%s", matmul.calls, text);
    cr_expect_eq(neg.calls, 1, "neg calls: %lld\n%s", neg.calls, text);
    cr_expect_eq(total, 7, "total calls: %lld\n%s", total, text);
    /* the preallocated elementwise calls allocate nothing; the allocating add its 1 MiB result
     * (rounded up to a size class at most 2x) */
    cr_expect_geq(add.alloc_mb, 1.0, "add MB: %f\n%s", add.alloc_mb, text);
    cr_expect_lt(add.alloc_mb, 2.5, "add MB: %f\n%s", add.alloc_mb, text);
    /* the naive matmul takes its tile scratch (80 KiB a thread) from the storage cache */
    cr_expect_lt(matmul.alloc_mb, 1.0, "%s", text);
    cr_expect_eq(neg.alloc_mb, 0.0, "%s", text);
    cr_expect(strstr(text, "op ") && strstr(text, "calls") && strstr(text, "faults"), "%s", text);
    free(text);
}

Test(trace_summary, counts_a_known_sequence)
{
    cr_assert_eq(mt_set_trace_summary(true), MT_OK);
    cr_assert(mt_trace_enabled());
    known_sequence();
    check_counts();
    /* reset empties the table; off stops collecting */
    mt_trace_summary_reset();
    cr_assert_eq(mt_set_trace_summary(false), MT_OK);
    cr_assert_not(mt_trace_enabled());
    known_sequence();
    char *text = summary_text();
    long long total = -1;
    totals_of(text, "add", &total);
    cr_expect_eq(total, 0, "%s", text);
    free(text);
}

/* Per-call lines feed the same table. */
Test(trace_summary, lines_mode_also_counts)
{
    cr_assert_eq(mt_set_trace(true, "/dev/null"), MT_OK);
    known_sequence();
    check_counts();
    cr_assert_eq(mt_set_trace(false, NULL), MT_OK);
}

/* Several threads record at once: no call is lost. */
static void *adds(void *arg)
{
    (void)arg;
    mt_scope scope = mt_scope_begin();
    mt_tensor *a = mt_rand(MT_DIMS(8), 1), *out = mt_zeros(MT_DIMS(8));
    for (int i = 0; i < 500; i++)
        if (mt_zip_out(out, MT_OP_ADD, a, a) != MT_OK) break;
    mt_scope_end(scope);
    return NULL;
}

Test(trace_summary, thread_safe)
{
    cr_assert_eq(mt_set_trace_summary(true), MT_OK);
    mt_trace_summary_reset();
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&threads[i], NULL, adds, NULL), 0);
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_join(threads[i], NULL), 0);
    char *text = summary_text();
    op_totals add = totals_of(text, "add", NULL);
    cr_expect_eq(add.calls, 2000, "%s", text);
    free(text);
    cr_assert_eq(mt_set_trace_summary(false), MT_OK);
}

Test(trace_summary, null_stream)
{
    cr_assert_eq(mt_trace_summary(NULL), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_trace_summary");
}
