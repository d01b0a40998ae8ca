/* Storage cache. A fresh page costs ~11 µs to fault in on these machines, more than most
 * operations spend filling it, so freed buffers are kept in per-size-class free lists and handed
 * out again. Classes are 64-byte steps up to 256 B, then four steps per power of two (at most 25%
 * slack). The cache holds at most `cache_limit` bytes; the rest goes back to the system. */
#define _DEFAULT_SOURCE /* madvise */
#include "runtime/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "minitorch/debug.h"
#include "minitorch/memory.h"
#include "runtime/error.h"
#include "runtime/runtime.h"

#define CLASS_COUNT 224
#define HUGE_THRESHOLD ((size_t)4 << 20)
#define HUGE_ALIGNMENT ((size_t)2 << 20)
#define DEFAULT_CACHE_LIMIT ((int64_t)1 << 30)

typedef struct cached_buffer {
    struct cached_buffer *next;
} cached_buffer;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cached_buffer *free_lists[CLASS_COUNT];
static bool limit_initialised;
static mt_memory_stats stats; /* guarded by cache_lock, except live_tensors */
static atomic_llong live_tensors;
static atomic_llong fail_countdown = -1;

static bool injected_failure(void)
{
    long long left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (left < 0) return false;
    while (left > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) return false;
    }
    return left == 0;
}

void mti_alloc_fail_after(int64_t n) { atomic_store(&fail_countdown, n < 0 ? -1 : n); }

void mt_debug_fail_allocations_after(int64_t successes) { mti_alloc_fail_after(successes); }

/* Rounds `bytes` up to its class size; *index receives the class. */
static size_t size_class(size_t bytes, int *index)
{
    if (bytes <= 256) {
        size_t units = bytes == 0 ? 1 : (bytes + 63) / 64;
        *index = (int)units - 1;
        return units * 64;
    }
    int p = 63 - __builtin_clzll((unsigned long long)(bytes - 1)); /* 2^p < bytes <= 2^(p+1) */
    size_t step = (size_t)1 << (p - 2);
    size_t rounded = (bytes + step - 1) & ~(step - 1);
    int quarter = (int)(rounded >> (p - 2)) - 4; /* 1..4 */
    *index = 4 + (p - 8) * 4 + (quarter - 1);
    return rounded;
}

/* The size of class `index` (the inverse of size_class). */
static size_t class_bytes(int index)
{
    if (index < 4) return (size_t)(index + 1) * 64;
    int p = 8 + (index - 4) / 4;
    int quarter = (index - 4) % 4 + 1;
    return ((size_t)1 << p) + (size_t)quarter * ((size_t)1 << (p - 2));
}

static void init_limit_locked(void)
{
    if (limit_initialised) return;
    limit_initialised = true;
    stats.cache_limit = DEFAULT_CACHE_LIMIT;
    const char *env = getenv("MINITORCH_CACHE_LIMIT_MB");
    if (env && *env) {
        char *end;
        errno = 0;
        long long mb = strtoll(env, &end, 10);
        if (*end == '\0' && errno == 0 && mb >= 0 && mb < ((long long)1 << 40))
            stats.cache_limit = mb << 20;
        else /* a configuration mistake: say it once, like MINITORCH_BACKEND */
            fprintf(stderr,
                    "minitorch: MINITORCH_CACHE_LIMIT_MB=\"%.64s\" is not a size in MiB (0 .. "
                    "2^40 - 1); using the default %lld MiB\n",
                    env, (long long)(DEFAULT_CACHE_LIMIT >> 20));
    }
}

static void *system_alloc(size_t capacity)
{
    void *p = NULL;
    size_t alignment = capacity >= HUGE_THRESHOLD ? HUGE_ALIGNMENT : 64;
    if (posix_memalign(&p, alignment, capacity) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (capacity >= HUGE_THRESHOLD) madvise(p, capacity, MADV_HUGEPAGE);
#endif
    return p;
}

static void note_in_use_locked(int64_t bytes)
{
    stats.bytes_in_use += bytes;
    if (stats.bytes_in_use > stats.peak_bytes_in_use) stats.peak_bytes_in_use = stats.bytes_in_use;
}

void *mti_buffer_alloc(size_t bytes, size_t *capacity)
{
    if (bytes > ((size_t)1 << 62)) return NULL;
    if (injected_failure()) return NULL;
    int index;
    size_t size = size_class(bytes, &index);
    void *p = NULL;
    pthread_mutex_lock(&cache_lock);
    init_limit_locked();
    if (free_lists[index]) { /* the common case: one lock round trip */
        cached_buffer *b = free_lists[index];
        free_lists[index] = b->next;
        stats.bytes_cached -= (int64_t)size;
        stats.cache_hits++;
        note_in_use_locked((int64_t)size);
        pthread_mutex_unlock(&cache_lock);
        *capacity = size;
        if (mti_tracing()) mti_trace_note_bytes(size, false);
        return b;
    }
    stats.cache_misses++;
    pthread_mutex_unlock(&cache_lock);
    p = system_alloc(size);
    if (!p) return NULL;
    pthread_mutex_lock(&cache_lock);
    note_in_use_locked((int64_t)size);
    pthread_mutex_unlock(&cache_lock);
    *capacity = size;
    if (mti_tracing()) mti_trace_note_bytes(size, true);
    return p;
}

void mti_buffer_free(void *buffer, size_t capacity)
{
    if (!buffer) return;
    int index;
    size_class(capacity, &index);
    bool keep;
    pthread_mutex_lock(&cache_lock);
    init_limit_locked();
    stats.bytes_in_use -= (int64_t)capacity;
    keep = stats.bytes_cached + (int64_t)capacity <= stats.cache_limit;
    if (keep) {
        cached_buffer *b = buffer;
        b->next = free_lists[index];
        free_lists[index] = b;
        stats.bytes_cached += (int64_t)capacity;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!keep) free(buffer);
}

/* Frees cached buffers, largest classes first, until at most `keep_bytes` remain cached. */
static void trim_to(int64_t keep_bytes)
{
    cached_buffer *release = NULL;
    pthread_mutex_lock(&cache_lock);
    for (int c = CLASS_COUNT - 1; c >= 0 && stats.bytes_cached > keep_bytes; c--) {
        while (free_lists[c] && stats.bytes_cached > keep_bytes) {
            cached_buffer *b = free_lists[c];
            free_lists[c] = b->next;
            stats.bytes_cached -= (int64_t)class_bytes(c);
            b->next = release;
            release = b;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    while (release) {
        cached_buffer *next = release->next;
        free(release);
        release = next;
    }
}

void mt_memory_trim(void) { trim_to(0); }

mt_status mt_memory_set_cache_limit(int64_t bytes)
{
    if (bytes < 0)
        return mti_fail(MT_ERR_INVALID_ARG, "mt_memory_set_cache_limit",
                        "limit must be >= 0, got %lld", (long long)bytes);
    pthread_mutex_lock(&cache_lock);
    init_limit_locked();
    stats.cache_limit = bytes;
    pthread_mutex_unlock(&cache_lock);
    trim_to(bytes);
    return MT_OK;
}

mt_status mt_memory_get_stats(mt_memory_stats *out)
{
    if (!out) return mti_fail_null("mt_memory_get_stats", "stats");
    pthread_mutex_lock(&cache_lock);
    init_limit_locked();
    *out = stats;
    pthread_mutex_unlock(&cache_lock);
    out->live_tensors = atomic_load(&live_tensors);
    return MT_OK;
}

void mti_count_tensor(int delta) { atomic_fetch_add_explicit(&live_tensors, delta, memory_order_relaxed); }

void *mti_malloc(size_t bytes) { return injected_failure() ? NULL : malloc(bytes); }
void *mti_calloc(size_t count, size_t size) { return injected_failure() ? NULL : calloc(count, size); }
void *mti_realloc(void *p, size_t bytes) { return injected_failure() ? NULL : realloc(p, bytes); }
void mti_free(void *p) { free(p); }
