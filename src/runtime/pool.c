/* The library's own worker threads, behind mti_parallel_ranges.
 *
 * Why not an OpenMP region: a region ends with a barrier that waits for every thread of the team,
 * and GCC's OpenMP runtime keeps idle threads spinning for milliseconds (GOMP_SPINCOUNT, read once
 * at start-up) so they burn their share of a core that another process needs. On a machine where
 * another process keeps a core busy, the thread on that core is often descheduled, and every
 * region waits for it: measured, a training epoch ran 20x slower with 2 threads than with 1.
 *
 * Here the work is cut into chunks that the calling thread and the workers claim one at a time
 * from a shared ticket. The caller starts on its chunks at once; a worker that is late (asleep, or
 * its core taken) finds fewer or no chunks left, and the caller never waits for a thread that
 * claimed nothing. It waits only for chunks already running elsewhere. Idle workers spin for a
 * few tens of microseconds (kernels of one training step come back to back), then sleep.
 *
 * When a worker holding a chunk is descheduled, the caller's wait after its own last chunk is much
 * longer than a chunk: such a job "straggled". A second straggle within SUSPECT_US of the first
 * means the other cores are really taken: for a while (doubling at each further straggle, up to
 * half a second, shrinking by a fifth at each clean try) jobs get one thread fewer; then the full
 * count is tried again. A lone straggle (another process woke for a moment: measured here, a
 * background process cost a 1-4 ms wait a few times a minute) costs that one wait and nothing
 * after it: backing off on it made every job of the next tens of milliseconds serial.
 *
 * Which thread computes a chunk never changes the arithmetic of any output (the kernels guarantee
 * that), so results stay bitwise identical for any thread count. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "runtime/runtime.h"

#define MAX_WORKERS 63          /* the caller is slot 0 */
#define CHUNKS_PER_THREAD 16    /* claims per thread: finer limits the wait for a late chunk */
#define WORKER_SPIN_US 60.0     /* an idle worker polls this long before it sleeps */
#define CALLER_SPIN_US 100.0    /* the caller polls this long for others' chunks, then sleeps */
#define STRAGGLE_SLACK_US 1000.0 /* wait beyond 3 chunks' time that counts as a straggle */
#define SUSPECT_US 50000.0      /* a second straggle this soon after one starts the back-off */
#define BACKOFF_FIRST_US 20000.0
#define BACKOFF_MAX_US 500000.0

/* ticket = generation << 32 | next chunk; CLOSED while the next job is being written */
#define INDEX_MASK 0xffffffffull
#define CLOSED INDEX_MASK

static struct {
    pthread_mutex_t lock; /* sleeping and starting workers */
    pthread_cond_t work_ready, job_done;
    int started;          /* workers running */
    /* the current job: written only while `active` is 0 and the ticket is CLOSED */
    mti_range_body body;
    void *context;
    int64_t items, chunks;
    int width;            /* threads asked for, the caller included */
    _Atomic uint64_t ticket;
    atomic_int_fast64_t done;  /* chunks finished */
    atomic_int active;         /* workers looking at the job's fields */
    atomic_int sleepers;       /* workers asleep on work_ready */
    atomic_bool caller_asleep; /* the caller sleeps on job_done */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .work_ready = PTHREAD_COND_INITIALIZER,
          .job_done = PTHREAD_COND_INITIALIZER};

/* One job at a time: a second application thread that finds the pool taken runs serially. */
static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local int slot;       /* 0 on the caller, 1.. on workers */
static _Thread_local bool in_job;    /* inside a chunk (workers always) */

/* Straggle back-off: until `probe_at_us`, at most `limit` threads. */
static atomic_int limit;
static _Atomic double probe_at_us;
static double backoff_us = BACKOFF_FIRST_US; /* under submit_lock */
static double suspect_until_us;              /* under submit_lock: a recent lone straggle */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int mti_thread_slot(void) { return slot; }

bool mti_in_worker(void) { return in_job; }

/* Runs the chunks it can claim from generation `gen`; returns how many. */
static int64_t claim_and_run(uint64_t gen)
{
    int64_t ran = 0;
    uint64_t t = atomic_load(&pool.ticket);
    for (;;) {
        if ((t >> 32) != gen || (t & INDEX_MASK) >= (uint64_t)pool.chunks) return ran;
        if (!atomic_compare_exchange_weak(&pool.ticket, &t, t + 1)) continue;
        const int64_t c = (int64_t)(t & INDEX_MASK);
        pool.body(pool.context, pool.items * c / pool.chunks, pool.items * (c + 1) / pool.chunks);
        ran++;
        if (atomic_fetch_add(&pool.done, 1) + 1 == pool.chunks && atomic_load(&pool.caller_asleep)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.job_done);
            pthread_mutex_unlock(&pool.lock);
        }
        t = atomic_load(&pool.ticket);
    }
}

static void *worker_main(void *arg)
{
    slot = (int)(intptr_t)arg;
    in_job = true;
    uint64_t seen = atomic_load(&pool.ticket) >> 32;
    for (;;) {
        /* wait for a new generation: poll a little, then sleep */
        double until = mti_now_us() + WORKER_SPIN_US;
        uint64_t t;
        for (int i = 0;; i++) {
            t = atomic_load(&pool.ticket);
            if ((t >> 32) != seen && (t & INDEX_MASK) != CLOSED) break;
            if ((i & 63) == 63 && mti_now_us() > until) {
                pthread_mutex_lock(&pool.lock);
                atomic_fetch_add(&pool.sleepers, 1);
                for (;;) {
                    t = atomic_load(&pool.ticket);
                    if ((t >> 32) != seen && (t & INDEX_MASK) != CLOSED) break;
                    pthread_cond_wait(&pool.work_ready, &pool.lock);
                }
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.lock);
                break;
            }
            cpu_relax();
        }
        seen = t >> 32;
        atomic_fetch_add(&pool.active, 1);
        /* the fields are those of generation `seen` only if the ticket still says so now */
        t = atomic_load(&pool.ticket);
        if ((t >> 32) == seen && (t & INDEX_MASK) != CLOSED && slot < pool.width) claim_and_run(seen);
        atomic_fetch_sub(&pool.active, 1);
    }
    return NULL;
}

/* Starts workers up to `wanted`; returns how many run. */
static int start_workers(int wanted)
{
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    pthread_mutex_lock(&pool.lock);
    while (pool.started < wanted) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t thread;
        int failed = pthread_create(&thread, &attr, worker_main, (void *)(intptr_t)(pool.started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool.started++;
    }
    int started = pool.started;
    pthread_mutex_unlock(&pool.lock);
    return started;
}

/* After a fork only the forking thread exists in the child: forget the workers. */
static void after_fork_in_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.work_ready, NULL);
    pthread_cond_init(&pool.job_done, NULL);
    pthread_mutex_init(&submit_lock, NULL);
    pool.started = 0;
    atomic_store(&pool.active, 0);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.caller_asleep, false);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void register_fork_handler(void) { pthread_atfork(NULL, NULL, after_fork_in_child); }

/* MINITORCH_ADAPTIVE_THREADS=0 turns the back-off off: every job uses the thread count it asks
 * for (for measurements and for tests that must run multi-threaded on a loaded machine). */
static bool adaptive = true;
static pthread_once_t adaptive_once = PTHREAD_ONCE_INIT;
static void read_adaptive(void)
{
    const char *value = getenv("MINITORCH_ADAPTIVE_THREADS");
    adaptive = !(value && strcmp(value, "0") == 0);
}

int mti_thread_limit(int threads)
{
    pthread_once(&adaptive_once, read_adaptive);
    if (!adaptive) return threads;
    int cap = atomic_load_explicit(&limit, memory_order_relaxed);
    if (cap <= 0 || cap >= threads) return threads;
    if (mti_now_us() >= atomic_load_explicit(&probe_at_us, memory_order_relaxed)) return threads;
    return cap;
}

/* Records whether a job of `width` threads straggled (see the top of the file). */
static void judge(int width, double own_us, int64_t own_chunks, double wait_us)
{
    const double chunk_us = own_chunks > 0 ? own_us / (double)own_chunks : own_us;
    const double now = mti_now_us();
    if (wait_us > 3.0 * chunk_us + STRAGGLE_SLACK_US && now >= suspect_until_us &&
        atomic_load(&limit) == 0) {
        suspect_until_us = now + SUSPECT_US; /* a lone straggle so far */
    } else if (wait_us > 3.0 * chunk_us + STRAGGLE_SLACK_US) {
        int cap = atomic_load(&limit);
        int next = (cap > 0 && cap < width ? cap : width) - 1;
        atomic_store(&limit, next < 1 ? 1 : next);
        atomic_store(&probe_at_us, now + backoff_us);
        backoff_us = backoff_us * 2 < BACKOFF_MAX_US ? backoff_us * 2 : BACKOFF_MAX_US;
    } else if (now >= atomic_load(&probe_at_us)) {
        /* the full count ran cleanly: use it again, and probe sooner after the next straggle
         * (slowly: on a loaded machine clean and straggling probes alternate) */
        backoff_us = backoff_us * 0.8 > BACKOFF_FIRST_US ? backoff_us * 0.8 : BACKOFF_FIRST_US;
        atomic_store(&limit, 0);
    }
}

/* A serial run is slot 0 whatever thread runs it (its scratch was sized for one thread). */
static void run_serially(mti_range_body body, void *context, int64_t items)
{
    const int saved = slot;
    slot = 0;
    body(context, 0, items);
    slot = saved;
}

void mti_parallel_ranges(int threads, int64_t items, mti_range_body body, void *context)
{
    if (items <= 0) return;
    if (threads > items) threads = (int)items;
    if (threads <= 1 || in_job || pthread_mutex_trylock(&submit_lock) != 0) {
        run_serially(body, context, items);
        return;
    }
    pthread_once(&fork_once, register_fork_handler);
    int workers = start_workers(threads - 1);
    if (workers < 1) {
        pthread_mutex_unlock(&submit_lock);
        run_serially(body, context, items);
        return;
    }
    if (threads > workers + 1) threads = workers + 1;

    /* close the ticket, wait until no worker reads the old job, then write the new one */
    const uint64_t gen = (atomic_load(&pool.ticket) >> 32) + 1;
    atomic_store(&pool.ticket, gen << 32 | CLOSED);
    while (atomic_load(&pool.active) > 0) cpu_relax();
    pool.body = body;
    pool.context = context;
    pool.items = items;
    pool.chunks = items < (int64_t)threads * CHUNKS_PER_THREAD ? items : (int64_t)threads * CHUNKS_PER_THREAD;
    pool.width = threads;
    atomic_store(&pool.done, 0);
    atomic_store(&pool.ticket, gen << 32);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.work_ready);
        pthread_mutex_unlock(&pool.lock);
    }

    const double start = mti_now_us();
    in_job = true;
    const int64_t own = claim_and_run(gen);
    in_job = false;
    const double own_end = mti_now_us();
    /* the rest are running elsewhere: poll a little, then sleep until the last one ends */
    for (int i = 0; atomic_load(&pool.done) < pool.chunks; i++) {
        if ((i & 63) == 63 && mti_now_us() - own_end > CALLER_SPIN_US) {
            pthread_mutex_lock(&pool.lock);
            atomic_store(&pool.caller_asleep, true);
            while (atomic_load(&pool.done) < pool.chunks) pthread_cond_wait(&pool.job_done, &pool.lock);
            atomic_store(&pool.caller_asleep, false);
            pthread_mutex_unlock(&pool.lock);
            break;
        }
        cpu_relax();
    }
    judge(threads, own_end - start, own, mti_now_us() - own_end);
    pthread_mutex_unlock(&submit_lock);
}
