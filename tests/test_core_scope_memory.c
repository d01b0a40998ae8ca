/* Scopes, reference counting and the storage cache. Criterion runs each test in its own process,
 * but the test helpers may allocate too, so every check compares deltas of mt_memory_get_stats. */
#include "testing.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CACHE_LIMIT ((int64_t)1 << 30)

static mt_memory_stats stats_now(void)
{
    mt_memory_stats s;
    memset(&s, 0xff, sizeof s);
    cr_assert_eq(mt_memory_get_stats(&s), MT_OK, "%s", mt_last_error());
    return s;
}

static int64_t live(void) { return stats_now().live_tensors; }

static void restore_cache_limit(void)
{
    cr_assert_eq(mt_memory_set_cache_limit(DEFAULT_CACHE_LIMIT), MT_OK);
    cr_assert_eq(stats_now().cache_limit, DEFAULT_CACHE_LIMIT);
}

static void setup(void) { mt_clear_error(); }

TestSuite(scope, .init = setup);
TestSuite(memory, .init = setup, .fini = restore_cache_limit);

/* ======================================================================================
 * scopes
 * ====================================================================================== */

Test(scope, nested_scopes_free_their_own_tensors)
{
    const int64_t start = live();
    mt_tensor *outside = mt_ones(MT_DIMS(4));
    cr_assert_eq(live(), start + 1);

    mt_scope s1 = mt_scope_begin();
    cr_assert_eq(mt_scope_depth(), 1);
    mt_tensor *a = mt_zeros(MT_DIMS(2, 2));
    mt_tensor *b = mt_add_scalar(outside, 1.0f);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_eq(live(), start + 3);

    mt_scope s2 = mt_scope_begin();
    cr_assert_eq(mt_scope_depth(), 2);
    mt_tensor *c = mt_mul(b, b);
    mt_tensor *d = mt_view(c, MT_DIMS(2, 2));
    mt_tensor *e = mt_add(a, d);
    cr_assert_not_null(e, "%s", mt_last_error());
    cr_assert_eq(live(), start + 6);
    cr_assert_eq(mt_scope_end(s2), MT_OK);
    cr_assert_eq(mt_scope_depth(), 1);
    cr_assert_eq(live(), start + 3, "the inner scope frees c, d, e only");
    /* the outer scope's tensors are intact */
    t_expect_exact("b", b, (const float[]){2, 2, 2, 2});
    t_expect_exact("a", a, (const float[]){0, 0, 0, 0});

    cr_assert_eq(mt_scope_end(s1), MT_OK);
    cr_assert_eq(mt_scope_depth(), 0);
    cr_assert_eq(live(), start + 1, "the outer scope frees a and b, not `outside`");
    t_expect_exact("outside", outside, (const float[]){1, 1, 1, 1});
    mt_release(outside);
    cr_assert_eq(live(), start);
}

Test(scope, views_and_storage_outlive_the_base_they_view)
{
    /* a view kept beyond the scope keeps its storage alive after its base is freed */
    const int64_t start = live();
    const int64_t in_use = stats_now().bytes_in_use;
    mt_tensor *kept;
    mt_scope s = mt_scope_begin();
    mt_tensor *base = t_arange(MT_DIMS(3, 4));
    kept = mt_retain(mt_narrow(base, 0, 1, 2));
    cr_assert_eq(mt_scope_end(s), MT_OK);
    cr_assert_eq(live(), start + 1);
    cr_assert_gt(stats_now().bytes_in_use, in_use, "the storage is still in use");
    t_expect_exact("kept view", kept, (const float[]){4, 5, 6, 7, 8, 9, 10, 11});
    mt_release(kept);
    cr_assert_eq(live(), start);
    cr_assert_eq(stats_now().bytes_in_use, in_use, "the storage goes with its last view");
}

Test(scope, retained_tensor_survives_its_scope)
{
    const int64_t start = live();
    mt_scope s = mt_scope_begin();
    mt_tensor *t = mt_full(MT_DIMS(3), 4.0f);
    mt_tensor *tmp = mt_mul(t, t);
    cr_assert_eq(mt_retain(tmp), tmp);
    cr_assert_eq(live(), start + 2);
    cr_assert_eq(mt_scope_end(s), MT_OK);
    cr_assert_eq(live(), start + 1, "only the retained tensor survives");
    t_expect_exact("retained", tmp, (const float[]){16, 16, 16});
    cr_assert_eq(mt_release(tmp), MT_OK);
    cr_assert_eq(live(), start);
}

Test(scope, retain_twice_needs_two_releases)
{
    const int64_t start = live();
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    mt_retain(t);
    cr_assert_eq(mt_release(t), MT_OK);
    cr_assert_eq(live(), start + 1);
    cr_assert_eq(mt_numel(t), 2);
    cr_assert_eq(mt_release(t), MT_OK);
    cr_assert_eq(live(), start);
}

Test(scope, end_out_of_order_is_refused)
{
    mt_scope s1 = mt_scope_begin();
    mt_tensor *a = mt_zeros(MT_DIMS(2));
    mt_scope s2 = mt_scope_begin();
    mt_tensor *b = mt_zeros(MT_DIMS(2));
    const int64_t both = live();
    cr_assert_neq(s1.depth, s2.depth);
    cr_assert_eq(mt_scope_end(s1), MT_ERR_SCOPE, "s1 is not the innermost scope");
    t_expect_error(MT_ERR_SCOPE, "mt_scope_end");
    cr_assert_eq(mt_scope_depth(), 2, "nothing closed");
    cr_assert_eq(live(), both, "nothing freed");
    cr_assert_eq(mt_numel(a), 2);
    cr_assert_eq(mt_numel(b), 2);
    mt_clear_error();
    cr_assert_eq(mt_scope_end(s2), MT_OK);
    cr_assert_eq(live(), both - 1);
    cr_assert_eq(mt_scope_end(s1), MT_OK);
    cr_assert_eq(live(), both - 2);
    cr_assert_eq(mt_scope_depth(), 0);
}

Test(scope, end_twice_is_refused)
{
    mt_scope s1 = mt_scope_begin();
    mt_scope s2 = mt_scope_begin();
    mt_tensor *a = mt_zeros(MT_DIMS(2));
    (void)a;
    cr_assert_eq(mt_scope_end(s2), MT_OK);
    const int64_t after_first = live();
    cr_assert_eq(mt_scope_end(s2), MT_ERR_SCOPE, "s2 was already ended");
    t_expect_error(MT_ERR_SCOPE, "mt_scope_end");
    cr_assert_eq(mt_scope_depth(), 1, "s1 must stay open");
    cr_assert_eq(live(), after_first);
    mt_clear_error();
    cr_assert_eq(mt_scope_end(s1), MT_OK);
    cr_assert_eq(mt_scope_end(s1), MT_ERR_SCOPE, "s1 was already ended (no scope open)");
    t_expect_error(MT_ERR_SCOPE, "mt_scope_end");
    cr_assert_eq(mt_scope_depth(), 0);
}

Test(scope, stale_handle_does_not_end_a_newer_scope)
{
    /* memory.h: ending a scope "twice" is MT_ERR_SCOPE. A handle of a scope that was already
     * ended must not close a newer scope that happens to sit at the same depth. */
    mt_scope old = mt_scope_begin();
    cr_assert_eq(mt_scope_end(old), MT_OK);
    mt_scope current = mt_scope_begin();
    mt_tensor *t = mt_zeros(MT_DIMS(2));
    const int64_t before = live();
    mt_status status = mt_scope_end(old);
    int depth = mt_scope_depth();
    int64_t after = live();
    if (status == MT_OK) { /* keep the process consistent before failing */
        cr_assert_fail("ending the already-ended scope (depth %d) again returned MT_OK and closed "
                       "the newer scope: depth now %d, live tensors %lld -> %lld",
                       old.depth, depth, (long long)before, (long long)after);
    }
    cr_assert_eq(status, MT_ERR_SCOPE);
    cr_assert_eq(depth, 1);
    cr_assert_eq(mt_numel(t), 2);
    cr_assert_eq(mt_scope_end(current), MT_OK);
}

Test(scope, release_of_scope_reference_is_refused)
{
    const int64_t start = live();
    mt_scope s = mt_scope_begin();
    mt_tensor *t = mt_full(MT_DIMS(2, 2), 3.0f);
    cr_assert_eq(mt_release(t), MT_ERR_SCOPE);
    t_expect_error(MT_ERR_SCOPE, "mt_release");
    cr_assert_eq(live(), start + 1, "not freed");
    t_expect_exact("still usable", t, (const float[]){3, 3, 3, 3});
    /* after retaining, the caller owns one reference and may release it (once) */
    mt_retain(t);
    mt_clear_error();
    cr_assert_eq(mt_release(t), MT_OK);
    cr_assert_eq(live(), start + 1, "the scope's reference remains");
    cr_assert_eq(mt_release(t), MT_ERR_SCOPE, "the remaining reference is the scope's");
    cr_assert_eq(live(), start + 1);
    cr_assert_eq(mt_scope_end(s), MT_OK);
    cr_assert_eq(live(), start);
}

Test(scope, release_of_graph_reference_is_refused)
{
    /* a tensor held only by the autodiff graph of a result */
    const int64_t start = live();
    mt_tensor *x = mt_full(MT_DIMS(2), 3.0f);
    cr_assert_eq(mt_set_requires_grad(x, true), MT_OK);
    mt_scope s = mt_scope_begin();
    mt_tensor *y = mt_mul(x, x);
    mt_tensor *z = mt_sum_all(y);
    cr_assert_not_null(z, "%s", mt_last_error());
    cr_assert_eq(mt_release(y), MT_ERR_SCOPE, "y belongs to the scope and z's graph");
    cr_assert_eq(mt_numel(y), 2);
    cr_assert_eq(mt_backward(z), MT_OK, "%s", mt_last_error());
    cr_assert_eq(mt_scope_end(s), MT_OK);
    mt_tensor *g = mt_grad(x);
    t_expect_exact("grad 2x", g, (const float[]){6, 6});
    mt_release(g);
    cr_assert_eq(mt_release(x), MT_OK);
    cr_assert_eq(live(), start, "the graph is freed with the scope");
}

Test(scope, many_iterations_do_not_leak)
{
    mt_tensor *x = mt_from_data(MT_DIMS(2, 2), (const float[]){1, 2, 3, 4});
    const int64_t start = live();
    const int64_t in_use = stats_now().bytes_in_use;
    for (int i = 0; i < 100000; i++) {
        mt_scope s = mt_scope_begin();
        mt_tensor *y = mt_add(mt_mul(x, x), x);
        if (!y || i % 25000 == 0) {
            cr_assert_not_null(y, "iteration %d: %s", i, mt_last_error());
            cr_assert_eq(live(), start + 2);
        }
        cr_assert_eq(mt_scope_end(s), MT_OK);
    }
    cr_assert_eq(live(), start, "live tensors back to the start");
    cr_assert_eq(stats_now().bytes_in_use, in_use, "storage back to the start");
    cr_assert_eq(mt_scope_depth(), 0);
    /* the last result is right (x*x + x) */
    mt_scope s = mt_scope_begin();
    t_expect_exact("x*x+x", mt_add(mt_mul(x, x), x), (const float[]){2, 6, 12, 20});
    cr_assert_eq(mt_scope_end(s), MT_OK);
    mt_release(x);
    cr_assert_eq(live(), start - 1);
}

Test(scope, deep_nesting)
{
    const int64_t start = live();
    mt_scope scopes[100];
    for (int i = 0; i < 100; i++) {
        scopes[i] = mt_scope_begin();
        cr_assert_eq(mt_scope_depth(), i + 1);
        cr_assert_not_null(mt_zeros(MT_DIMS(1)));
    }
    cr_assert_eq(live(), start + 100);
    for (int i = 99; i >= 0; i--) {
        cr_assert_eq(mt_scope_end(scopes[i]), MT_OK, "%s", mt_last_error());
        cr_assert_eq(live(), start + i);
    }
    cr_assert_eq(mt_scope_depth(), 0);
}

typedef struct thread_result {
    int depth_seen_at_start;
    int depth_inside;
    int end_status;
    int depth_after;
    int64_t live_delta_inside;
    int64_t live_delta_after;
} thread_result;

static void *scope_thread(void *arg)
{
    thread_result *r = arg;
    r->depth_seen_at_start = mt_scope_depth();
    int64_t start = stats_now().live_tensors;
    mt_scope s = mt_scope_begin();
    r->depth_inside = mt_scope_depth();
    (void)mt_zeros(MT_DIMS(3));
    (void)mt_ones(MT_DIMS(3));
    r->live_delta_inside = stats_now().live_tensors - start;
    r->end_status = (int)mt_scope_end(s);
    r->depth_after = mt_scope_depth();
    r->live_delta_after = stats_now().live_tensors - start;
    return NULL;
}

Test(scope, scopes_are_per_thread)
{
    mt_scope outer = mt_scope_begin();
    mt_tensor *mine = mt_zeros(MT_DIMS(2));
    const int64_t before = live();
    thread_result r;
    memset(&r, 0x7f, sizeof r);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, scope_thread, &r), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_assert_eq(r.depth_seen_at_start, 0, "a new thread has no open scope");
    cr_assert_eq(r.depth_inside, 1);
    cr_assert_eq(r.live_delta_inside, 2);
    cr_assert_eq(r.end_status, MT_OK);
    cr_assert_eq(r.depth_after, 0);
    cr_assert_eq(r.live_delta_after, 0, "the thread's scope freed its own tensors");
    cr_assert_eq(mt_scope_depth(), 1, "this thread's scope is untouched");
    cr_assert_eq(live(), before);
    cr_assert_eq(mt_numel(mine), 2);
    cr_assert_eq(mt_scope_end(outer), MT_OK);
    cr_assert_eq(live(), before - 1);
}

/* ======================================================================================
 * the storage cache
 * ====================================================================================== */

Test(memory, freed_buffer_is_reused_from_the_cache)
{
    mt_memory_trim();
    const int64_t bytes = 1000 * (int64_t)sizeof(float);
    mt_memory_stats s0 = stats_now();
    cr_assert_eq(s0.bytes_cached, 0, "trim empties the cache");
    mt_tensor *t = mt_zeros(MT_DIMS(1000));
    mt_memory_stats s1 = stats_now();
    cr_assert_eq(s1.cache_misses, s0.cache_misses + 1, "an empty cache cannot serve it");
    cr_assert_eq(s1.cache_hits, s0.cache_hits);
    const int64_t size = s1.bytes_in_use - s0.bytes_in_use; /* the reserved size */
    cr_assert(size >= bytes && size <= bytes + bytes / 4 + 64, "reserved %lld for %lld bytes",
              (long long)size, (long long)bytes);
    cr_assert_geq(s1.peak_bytes_in_use, s1.bytes_in_use);

    mt_release(t);
    mt_memory_stats s2 = stats_now();
    cr_assert_eq(s2.bytes_in_use, s0.bytes_in_use);
    cr_assert_eq(s2.bytes_cached, s0.bytes_cached + size, "the freed buffer is cached");

    mt_tensor *u = mt_ones(MT_DIMS(1000));
    mt_memory_stats s3 = stats_now();
    cr_assert_eq(s3.cache_hits, s2.cache_hits + 1, "the same size is served from the cache");
    cr_assert_eq(s3.cache_misses, s2.cache_misses);
    cr_assert_eq(s3.bytes_cached, s0.bytes_cached);
    cr_assert_eq(s3.bytes_in_use, s1.bytes_in_use);
    double ones[1000];
    for (int i = 0; i < 1000; i++) ones[i] = 1.0;
    t_expect_close("reused buffer is filled", u, ones, 0, 0);

    /* a slightly different size in the same class is also served from the cache */
    mt_release(u);
    mt_tensor *v = mt_zeros(MT_DIMS(999));
    cr_assert_eq(stats_now().cache_hits, s3.cache_hits + 1);
    mt_release(v);
    restore_cache_limit();
}

Test(memory, reused_buffer_has_fresh_contents)
{
    mt_memory_trim();
    mt_tensor *t = mt_full(MT_DIMS(64), 9.0f);
    mt_release(t);
    mt_tensor *z = mt_zeros(MT_DIMS(64));
    double zeros[64] = {0};
    t_expect_close("zeros after reuse", z, zeros, 0, 0);
    mt_release(z);
    restore_cache_limit();
}

Test(memory, trim_empties_the_cache)
{
    mt_tensor *ts[8];
    for (int i = 0; i < 8; i++) ts[i] = mt_zeros(MT_DIMS(100 * (i + 1)));
    const int64_t cached = stats_now().bytes_cached;
    for (int i = 0; i < 8; i++) mt_release(ts[i]);
    cr_assert_geq(stats_now().bytes_cached, cached + 3600 * (int64_t)sizeof(float));
    mt_memory_trim();
    mt_memory_stats s = stats_now();
    cr_assert_eq(s.bytes_cached, 0);
    /* the next allocation goes to the system */
    mt_tensor *t = mt_zeros(MT_DIMS(100));
    cr_assert_eq(stats_now().cache_misses, s.cache_misses + 1);
    cr_assert_eq(stats_now().cache_hits, s.cache_hits);
    mt_release(t);
    restore_cache_limit();
}

Test(memory, cache_limit_caps_cached_bytes)
{
    mt_memory_trim();
    const int64_t limit = 64 * 1024;
    cr_assert_eq(mt_memory_set_cache_limit(limit), MT_OK);
    cr_assert_eq(stats_now().cache_limit, limit);
    /* a 4 MiB buffer does not fit under a 64 KiB limit */
    mt_tensor *big = mt_zeros(MT_DIMS(1 << 20));
    mt_memory_stats before = stats_now();
    mt_release(big);
    mt_memory_stats after = stats_now();
    cr_assert_leq(after.bytes_cached, limit, "cached %lld > limit %lld", (long long)after.bytes_cached,
                  (long long)limit);
    cr_assert_eq(after.bytes_cached, before.bytes_cached, "the big buffer went to the system");
    cr_assert_geq(before.bytes_in_use - after.bytes_in_use, (int64_t)4 << 20);
    /* many small ones: the cache fills up to the limit, no further */
    mt_tensor *small[40];
    for (int i = 0; i < 40; i++) small[i] = mt_zeros(MT_DIMS(1024)); /* 4 KiB each */
    for (int i = 0; i < 40; i++) mt_release(small[i]);
    after = stats_now();
    cr_assert_leq(after.bytes_cached, limit);
    cr_assert_geq(after.bytes_cached, limit - 8 * 1024, "the cache fills up to the limit (%lld)",
                  (long long)after.bytes_cached);
    restore_cache_limit();
}

Test(memory, lowering_the_limit_frees_at_once)
{
    mt_memory_trim();
    mt_tensor *ts[16];
    for (int i = 0; i < 16; i++) ts[i] = mt_zeros(MT_DIMS(1024));
    for (int i = 0; i < 16; i++) mt_release(ts[i]);
    cr_assert_geq(stats_now().bytes_cached, 16 * 4096);
    cr_assert_eq(mt_memory_set_cache_limit(10000), MT_OK);
    cr_assert_leq(stats_now().bytes_cached, 10000);
    cr_assert_eq(mt_memory_set_cache_limit(0), MT_OK);
    cr_assert_eq(stats_now().bytes_cached, 0, "limit 0 disables caching");
    mt_tensor *t = mt_zeros(MT_DIMS(1024));
    mt_release(t);
    cr_assert_eq(stats_now().bytes_cached, 0, "nothing is cached with limit 0");
    restore_cache_limit();
    /* caching works again */
    t = mt_zeros(MT_DIMS(1024));
    mt_release(t);
    cr_assert_geq(stats_now().bytes_cached, 4096);
    restore_cache_limit();
}

Test(memory, negative_limit_is_an_error)
{
    const int64_t limit = stats_now().cache_limit;
    cr_assert_eq(mt_memory_set_cache_limit(-1), MT_ERR_INVALID_ARG);
    t_expect_error(MT_ERR_INVALID_ARG, "mt_memory_set_cache_limit");
    cr_assert_eq(stats_now().cache_limit, limit);
    restore_cache_limit();
}

Test(memory, bytes_in_use_and_peak_track_allocations)
{
    mt_memory_stats s0 = stats_now();
    mt_tensor *a = mt_zeros(MT_DIMS(256, 256)); /* 256 KiB */
    mt_tensor *b = mt_zeros(MT_DIMS(256, 256));
    mt_memory_stats s1 = stats_now();
    const int64_t grew = s1.bytes_in_use - s0.bytes_in_use;
    cr_assert(grew >= 2 * 256 * 1024 && grew <= 2 * 320 * 1024, "grew by %lld", (long long)grew);
    cr_assert_geq(s1.peak_bytes_in_use, s1.bytes_in_use);
    /* views share storage: no new bytes */
    mt_tensor *v = mt_transpose(a, 0, 1);
    cr_assert_eq(stats_now().bytes_in_use, s1.bytes_in_use);
    mt_release(v);
    mt_release(a);
    mt_release(b);
    mt_memory_stats s2 = stats_now();
    cr_assert_eq(s2.bytes_in_use, s0.bytes_in_use);
    cr_assert_geq(s2.peak_bytes_in_use, s1.bytes_in_use, "the peak is kept");
    restore_cache_limit();
}
