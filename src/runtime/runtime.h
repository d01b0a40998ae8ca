/* Internal runtime state: backend selection, thread counts, tracing, clocks. */
#ifndef MTI_RUNTIME_RUNTIME_H
#define MTI_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
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

/* Runs body(context, begin, end) over the items [0, items), cut into contiguous chunks that up
 * to `threads` threads (the caller and the library's workers, pool.c) claim one at a time. With
 * one thread it is a plain call. A body must not depend on which thread runs a chunk, except to
 * pick per-thread scratch by mti_thread_slot(). */
typedef void (*mti_range_body)(void *context, int64_t begin, int64_t end);
void mti_parallel_ranges(int threads, int64_t items, mti_range_body body, void *context);

/* Inside a body: this thread's slot, 0 .. threads-1 of the mti_parallel_ranges call (0 when it
 * runs serially). */
int mti_thread_slot(void);

/* True on the library's worker threads and inside the caller's own chunks: no nested jobs. */
bool mti_in_worker(void);

/* `threads`, or fewer while recent jobs straggled (pool.c). */
int mti_thread_limit(int threads);

/* Tracing: mti_tracing() is a cheap check (lines or summary on); mti_trace_lines() says whether a
 * per-call line is wanted (only then are shapes worth formatting). mti_trace_record adds a call
 * to the summary and, when `shapes` is not NULL and lines are on, writes its line.
 * mti_trace_note_bytes counts storage handed out on this thread (`fresh`: new from the system,
 * not reused from the cache); the next record takes it. */
bool mti_tracing(void);
bool mti_trace_lines(void);
void mti_trace_record(const char *op, const char *path, const char *shapes, int threads, double us);
void mti_trace_note_bytes(size_t bytes, bool fresh);

/* Monotonic clock in microseconds. */
double mti_now_us(void);

#endif
