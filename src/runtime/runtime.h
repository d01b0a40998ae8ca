/* Internal runtime state: backend selection, thread counts, tracing, clocks. */
#ifndef MTI_RUNTIME_RUNTIME_H
#define MTI_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "minitorch/runtime.h"

/* The current backend; reads MINITORCH_BACKEND on first use. */
mt_backend mti_backend(void);
/* Pins `backend` on this thread (mti_backend returns it whatever another thread sets) until
 * pinned again; (mt_backend)-1 unpins. Returns the previous pin, to restore. An operation made of
 * many kernel calls (a backward pass) pins the backend once, so a switch by another thread cannot
 * change it half-way. */
mt_backend mti_backend_pin(mt_backend backend);

/* Threads for a loop over `work` units when each thread should get at least `min_per_thread`:
 * 1 inside the caller's own parallel region or for small work, else up to mt_get_num_threads(). */
int mti_threads_for(int64_t work, int64_t min_per_thread);

/* Runs body(context, begin, end) over the items [0, items), split into equal contiguous ranges
 * across `threads` threads. With one thread it is a plain call: no OpenMP region is entered
 * (entering one costs microseconds, more than a small operation). */
typedef void (*mti_range_body)(void *context, int64_t begin, int64_t end);
void mti_parallel_ranges(int threads, int64_t items, mti_range_body body, void *context);

/* Tracing: mti_tracing() is a cheap check; mti_trace_emit writes one line. */
bool mti_tracing(void);
void mti_trace_emit(const char *op, const char *path, const char *shapes, int threads, double us);

/* Monotonic clock in microseconds. */
double mti_now_us(void);

#endif
