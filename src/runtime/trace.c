/* MINITORCH_TRACE: one line per kernel call (op, backend, path, shapes, threads, microseconds).
 * Off by default; when off, a kernel pays one relaxed atomic load. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/error.h"
#include "runtime/runtime.h"

static atomic_bool trace_on;
static FILE *trace_stream;
static bool trace_stream_owned;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_environment(void)
{
    const char *value = getenv("MINITORCH_TRACE");
    if (!value || !*value || strcmp(value, "0") == 0) return;
    if (strcmp(value, "1") == 0) {
        trace_stream = stderr;
    } else {
        trace_stream = fopen(value, "a");
        if (!trace_stream) {
            fprintf(stderr, "minitorch: cannot open MINITORCH_TRACE file \"%s\"; tracing off\n",
                    value);
            return;
        }
        trace_stream_owned = true;
    }
    atomic_store(&trace_on, true);
}

bool mti_tracing(void)
{
    pthread_once(&env_once, read_environment);
    return atomic_load_explicit(&trace_on, memory_order_relaxed);
}

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
    atomic_store(&trace_on, false);
    if (trace_stream_owned) fclose(trace_stream);
    trace_stream = enabled ? stream : NULL;
    trace_stream_owned = enabled && path;
    atomic_store(&trace_on, enabled);
    pthread_mutex_unlock(&trace_lock);
    return MT_OK;
}

void mti_trace_emit(const char *op, const char *path, const char *shapes, int threads, double us)
{
    pthread_mutex_lock(&trace_lock);
    if (trace_stream) {
        fprintf(trace_stream, "minitorch-trace op=%s backend=%s path=%s shapes=%s threads=%d us=%.1f\n",
                op, mt_backend_name(mti_backend()), path, shapes, threads, us);
        fflush(trace_stream);
    }
    pthread_mutex_unlock(&trace_lock);
}

double mti_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}
