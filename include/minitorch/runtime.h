/* minitorch-c: backends, threads, tracing and build configuration.
 *
 * Backends: "naive" runs every kernel on the library's own OpenMP loops (the reference path);
 * "blas" runs the same elementwise and reduction kernels but sends every matrix product — forward
 * and both gradient products dC*B^T and A^T*dC — to OpenBLAS cblas_sgemm. The environment variable
 * MINITORCH_BACKEND=naive|blas chooses at first use (default blas); an unknown value is reported
 * once on stderr and the default is used. The backend is process-wide: mt_set_backend changes it
 * for every thread.
 *
 * Threads: kernels use OMP_NUM_THREADS threads (or mt_set_num_threads). Small problems run on one
 * thread. Called from inside the caller's own `omp parallel` region, the library runs serially
 * rather than oversubscribe the cores.
 *
 * Threads behave on a busy machine: the kernels run on the library's own workers, which claim
 * chunks of work one at a time and sleep when idle, so a thread whose core another process takes
 * delays an operation by at most the chunk it holds; while that keeps happening, operations use
 * one thread fewer for a while (up to half a second), then try all threads again.
 *
 * Tracing: MINITORCH_TRACE=1 writes one line per kernel call to stderr (MINITORCH_TRACE=path
 * appends to that file, buffered and flushed at exit): op, backend, path taken, shapes, threads,
 * microseconds. MINITORCH_TRACE=summary prints one table to stderr at exit instead: per op,
 * backend and path, the calls, total and mean microseconds, threads, bytes allocated and fresh
 * pages faulted (see mt_trace_summary).
 */
#ifndef MINITORCH_RUNTIME_H
#define MINITORCH_RUNTIME_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_backend {
    MT_BACKEND_NAIVE = 0,
    MT_BACKEND_BLAS = 1
} mt_backend;

/** The current backend. */
MT_API mt_backend mt_get_backend(void);
/** Selects the backend for all threads. */
MT_API mt_status mt_set_backend(mt_backend backend);
/** Selects the backend by name ("naive" or "blas"). */
MT_API mt_status mt_set_backend_by_name(const char *name);
/** "naive" or "blas"; NULL for a value that is not a backend. */
MT_API const char *mt_backend_name(mt_backend backend);

/** Threads the kernels may use (>= 1). */
MT_API int mt_get_num_threads(void);
/** Sets the threads the kernels and BLAS may use; 0 restores the default (OMP_NUM_THREADS or
 *  the number of cores). */
MT_API mt_status mt_set_num_threads(int threads);

/** Turns per-kernel tracing on (to `path`, or stderr when `path` is NULL) or off. */
MT_API mt_status mt_set_trace(bool enabled, const char *path);
/** True while tracing is on (per-call lines or the summary). */
MT_API bool mt_trace_enabled(void);
/** Starts (or stops) collecting the per-op summary without per-call lines, as
 *  MINITORCH_TRACE=summary does; when enabled the table is also printed to stderr at exit.
 *  Collecting costs two clock reads and a lock per kernel call. Returns MT_OK. */
MT_API mt_status mt_set_trace_summary(bool enabled);
/** Writes the summary collected so far to `stream`: one row per op, backend and kernel path
 *  (longest total first) with calls, total ms, mean µs, threads used (min-max), MB of tensor
 *  storage and scratch handed out, and minor page faults (fresh pages touched), then a total row.
 *  Bytes are charged to the next traced kernel call on the same thread (an op allocates its output
 *  just before its kernel runs). Faults are counted for the whole process and sampled only after
 *  a call whose memory came fresh from the system (reused storage is already paged in): such a
 *  call is charged the faults since the previous sample. Collected while tracing is
 *  on in either form. Fails with MT_ERR_NULL for a NULL stream (MT_ERR_NO_MEMORY if the copy of
 *  the table cannot be allocated); thread-safe. */
MT_API mt_status mt_trace_summary(FILE *stream);
/** Empties the summary table (e.g. before the step to be measured) and forgets the calling
 *  thread's allocations not yet charged to a call. */
MT_API void mt_trace_summary_reset(void);

/** A static, one-line description of the build and run-time configuration: version, backends,
 *  BLAS library and its threading model, OpenMP version, compiler flags of note. */
MT_API const char *mt_config_string(void);

#ifdef __cplusplus
}
#endif

#endif
