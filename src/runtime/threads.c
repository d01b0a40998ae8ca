/* Thread counts. Kernels pass an explicit count to every parallel job: the user's setting (or
 * OpenMP's default), cut down so each thread gets enough work to pay for waking it, and while
 * jobs straggle (a core taken by another process, see pool.c) by one thread. */
#include <omp.h>
#include <stdatomic.h>

#include "runtime/error.h"
#include "runtime/runtime.h"

#define MAX_THREADS 1024

static atomic_int thread_setting; /* 0: OpenMP's default */
static atomic_int default_threads; /* OpenMP's default, captured before we ever change it */

static int openmp_default(void)
{
    int n = atomic_load_explicit(&default_threads, memory_order_relaxed);
    if (n == 0) {
        n = omp_get_max_threads();
        if (n < 1) n = 1;
        int expected = 0;
        atomic_compare_exchange_strong(&default_threads, &expected, n);
        n = atomic_load(&default_threads);
    }
    return n;
}

int mt_get_num_threads(void)
{
    int n = atomic_load_explicit(&thread_setting, memory_order_relaxed);
    return n > 0 ? n : openmp_default();
}

mt_status mt_set_num_threads(int threads)
{
    if (threads < 0 || threads > MAX_THREADS)
        return mti_fail(MT_ERR_INVALID_ARG, "mt_set_num_threads",
                        "threads must be 0 (default) or 1..%d, got %d", MAX_THREADS, threads);
    int fallback = openmp_default();
    atomic_store(&thread_setting, threads);
    /* OpenBLAS's OpenMP build follows omp_get_max_threads() of the calling thread. */
    omp_set_num_threads(threads > 0 ? threads : fallback);
    return MT_OK;
}

int mti_threads_for(int64_t work, int64_t min_per_thread)
{
    if (omp_in_parallel() || mti_in_worker()) return 1;
    int n = mti_thread_limit(mt_get_num_threads());
    if (min_per_thread < 1) min_per_thread = 1;
    int64_t useful = work / min_per_thread;
    if (useful < n) n = useful < 1 ? 1 : (int)useful;
    return n;
}
