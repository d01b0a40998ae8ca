/* MINITORCH_TRACE: per-kernel diagnostics.
 *   =1 or =path   one line per kernel call (op, backend, path, shapes, threads, microseconds)
 *   =summary      one table at exit: per op, backend and path, the calls, time, threads, bytes
 *                 allocated and fresh pages faulted (mt_trace_summary prints it on demand)
 * Both modes feed the summary table. Off by default; when off, a kernel pays one relaxed atomic
 * load. Lines go to a buffered stream (flushed at exit and when tracing changes), so tracing a
 * tiny kernel costs a formatted line, not a write system call. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/runtime.h"

#define STREAM_BUFFER (1 << 16)
#define MAX_ROWS 512
#define PATH_TEXT 96

static atomic_bool trace_on;       /* lines or summary: kernels record */
static atomic_bool lines_on;       /* kernels format a line */
static FILE *trace_stream;
static bool trace_stream_owned;
static char *stream_buffer;        /* our buffer on trace_stream (not stderr) */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* ---- the summary table ---- */

typedef struct row {
    const char *op; /* static names from the op table */
    mt_backend backend;
    char path[PATH_TEXT];
    int64_t calls, bytes, faults;
    double total_us;
    int min_threads, max_threads;
} row;

static row rows[MAX_ROWS];
static int row_count;
static int64_t dropped_calls;  /* calls whose row did not fit */
static long last_faults = -1;  /* process minor faults at the previous sample */
static bool summary_at_exit;
static _Thread_local int64_t pending_bytes; /* allocated on this thread since its last record */
static _Thread_local bool pending_fresh;     /* some of it came fresh from the system */

static long minor_faults(void)
{
    struct rusage usage;
    return getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_minflt : 0;
}

static row *find_row_locked(const char *op, mt_backend backend, const char *path)
{
    for (int i = 0; i < row_count; i++)
        if (rows[i].backend == backend && strcmp(rows[i].op, op) == 0 && strcmp(rows[i].path, path) == 0)
            return &rows[i];
    if (row_count == MAX_ROWS) return NULL;
    row *r = &rows[row_count++];
    memset(r, 0, sizeof *r);
    r->op = op;
    r->backend = backend;
    snprintf(r->path, sizeof r->path, "%s", path);
    return r;
}

static void print_summary_at_exit(void)
{
    mt_trace_summary(stderr);
}

static void flush_at_exit(void)
{
    pthread_mutex_lock(&trace_lock);
    if (trace_stream) fflush(trace_stream);
    pthread_mutex_unlock(&trace_lock);
}

/* Points the line stream at `stream` (NULL: none), closing an owned one. Under trace_lock. */
static void set_stream_locked(FILE *stream, bool owned)
{
    if (trace_stream) fflush(trace_stream);
    if (trace_stream_owned) fclose(trace_stream);
    free(stream_buffer);
    stream_buffer = NULL;
    trace_stream = stream;
    trace_stream_owned = owned;
    if (owned) { /* a file: fully buffered, flushed at exit */
        stream_buffer = malloc(STREAM_BUFFER);
        if (stream_buffer) setvbuf(stream, stream_buffer, _IOFBF, STREAM_BUFFER);
    }
}

static void read_environment(void)
{
    atexit(flush_at_exit);
    const char *value = getenv("MINITORCH_TRACE");
    if (!value || !*value || strcmp(value, "0") == 0) return;
    last_faults = minor_faults();
    if (strcmp(value, "summary") == 0) {
        summary_at_exit = true;
        atexit(print_summary_at_exit);
        atomic_store(&trace_on, true);
        return;
    }
    if (strcmp(value, "1") == 0) {
        set_stream_locked(stderr, false);
    } else {
        FILE *stream = fopen(value, "a");
        if (!stream) {
            fprintf(stderr, "minitorch: cannot open MINITORCH_TRACE file \"%s\"; tracing off\n",
                    value);
            return;
        }
        set_stream_locked(stream, true);
    }
    atomic_store(&lines_on, true);
    atomic_store(&trace_on, true);
}

bool mti_tracing(void)
{
    pthread_once(&env_once, read_environment);
    return atomic_load_explicit(&trace_on, memory_order_relaxed);
}

bool mti_trace_lines(void) { return atomic_load_explicit(&lines_on, memory_order_relaxed); }

bool mt_trace_enabled(void) { return mti_tracing(); }

mt_status mt_set_trace(bool enabled, const char *path)
{
    pthread_once(&env_once, read_environment);
    FILE *stream = stderr;
    if (enabled && path) {
        stream = fopen(path, "a");
        if (!stream)
            return mti_fail(MT_ERR_IO, "mt_set_trace", "cannot open \"%.200s\" for appending",
                            path);
    }
    pthread_mutex_lock(&trace_lock);
    atomic_store(&lines_on, false);
    set_stream_locked(enabled ? stream : NULL, enabled && path);
    atomic_store(&lines_on, enabled);
    if (last_faults < 0) last_faults = minor_faults();
    atomic_store(&trace_on, enabled || summary_at_exit);
    pthread_mutex_unlock(&trace_lock);
    return MT_OK;
}

mt_status mt_set_trace_summary(bool enabled)
{
    pthread_once(&env_once, read_environment);
    pthread_mutex_lock(&trace_lock);
    summary_at_exit = enabled;
    if (last_faults < 0) last_faults = minor_faults();
    atomic_store(&trace_on, enabled || atomic_load(&lines_on));
    pthread_mutex_unlock(&trace_lock);
    return MT_OK;
}

void mt_trace_summary_reset(void)
{
    pthread_mutex_lock(&trace_lock);
    row_count = 0;
    dropped_calls = 0;
    last_faults = minor_faults();
    pthread_mutex_unlock(&trace_lock);
    pending_bytes = 0;
    pending_fresh = false;
}

void mti_trace_note_bytes(size_t bytes, bool fresh)
{
    pending_bytes += (int64_t)bytes;
    pending_fresh |= fresh;
}

void mti_trace_record(const char *op, const char *path, const char *shapes, int threads, double us)
{
    const mt_backend backend = mti_backend();
    /* getrusage is a system call (microseconds here): sampled only when this call's memory came
     * fresh from the system, the only memory whose first touch faults pages in */
    const long faults = pending_fresh ? minor_faults() : -1;
    const int64_t bytes = pending_bytes;
    pending_bytes = 0;
    pending_fresh = false;
    pthread_mutex_lock(&trace_lock);
    row *r = find_row_locked(op, backend, path);
    if (r) {
        r->calls++;
        r->total_us += us;
        r->bytes += bytes;
        if (faults >= 0 && last_faults >= 0 && faults > last_faults) r->faults += faults - last_faults;
        if (r->calls == 1 || threads < r->min_threads) r->min_threads = threads;
        if (threads > r->max_threads) r->max_threads = threads;
    } else {
        dropped_calls++;
    }
    if (faults >= 0) last_faults = faults;
    if (shapes && trace_stream)
        fprintf(trace_stream, "minitorch-trace op=%s backend=%s path=%s shapes=%s threads=%d us=%.1f\n",
                op, mt_backend_name(backend), path, shapes, threads, us);
    pthread_mutex_unlock(&trace_lock);
}

/* Rows by total time, longest first. */
static int by_total(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return (x->total_us < y->total_us) - (x->total_us > y->total_us);
}

mt_status mt_trace_summary(FILE *stream)
{
    if (!stream) return mti_fail(MT_ERR_NULL, "mt_trace_summary", "stream is NULL");
    pthread_mutex_lock(&trace_lock);
    if (trace_stream) fflush(trace_stream);
    const int count = row_count;
    row *sorted = malloc(sizeof(row) * (size_t)(count > 0 ? count : 1));
    if (!sorted) {
        pthread_mutex_unlock(&trace_lock);
        return mti_fail(MT_ERR_NO_MEMORY, "mt_trace_summary", "cannot copy %d rows", count);
    }
    memcpy(sorted, rows, sizeof(row) * (size_t)count);
    const int64_t dropped = dropped_calls;
    pthread_mutex_unlock(&trace_lock);
    qsort(sorted, (size_t)count, sizeof(row), by_total);

    int64_t calls = 0, bytes = 0, faults = 0;
    double total = 0;
    fprintf(stream, "minitorch-trace summary (process %ld)\n", (long)getpid());
    fprintf(stream, "%-12s %-7s %-40s %9s %11s %10s %8s %11s %9s\n", "op", "backend", "path",
            "calls", "total ms", "mean us", "threads", "alloc MB", "faults");
    for (int i = 0; i < count; i++) {
        const row *r = &sorted[i];
        char threads[24];
        if (r->min_threads == r->max_threads)
            snprintf(threads, sizeof threads, "%d", r->min_threads);
        else
            snprintf(threads, sizeof threads, "%d-%d", r->min_threads, r->max_threads);
        fprintf(stream, "%-12s %-7s %-40s %9lld %11.3f %10.2f %8s %11.3f %9lld\n", r->op,
                mt_backend_name(r->backend), r->path, (long long)r->calls, r->total_us / 1000.0,
                r->total_us / (double)r->calls, threads, (double)r->bytes / 1048576.0,
                (long long)r->faults);
        calls += r->calls, bytes += r->bytes, faults += r->faults, total += r->total_us;
    }
    fprintf(stream, "%-12s %-7s %-40s %9lld %11.3f %10s %8s %11.3f %9lld\n", "total", "", "",
            (long long)calls, total / 1000.0, "", "", (double)bytes / 1048576.0, (long long)faults);
    if (dropped > 0)
        fprintf(stream, "(%lld calls of further op/path kinds not tabulated: table full)\n",
                (long long)dropped);
    fflush(stream);
    free(sorted);
    return MT_OK;
}

double mti_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}
