/* Suite "contention" (run on request: --suite contention): how the library behaves when another
 * busy process shares the cores, as on a shared machine.
 *
 * The suite starts its own busy process: a child that spins on one core (pinned with
 * sched_setaffinity to the last core) and cannot outlive the run — alarm() ends it after a hard
 * time limit, it dies with its parent (PR_SET_PDEATHSIG), and the parent kills and reaps it when
 * the suite ends, when minitorch-bench exits on an error (atexit) and on SIGINT / SIGTERM.
 *
 * Representative cases run at N threads (all cores, or --threads) and at 1 thread, first on a
 * quiet machine and then next to the spinner, on each backend:
 *   add out        mt_zip_out add on 2048x2048 (4M floats)
 *   matmul out     mt_matmul_out 64^3 and 512^3
 *   epoch          one Task 3.5 epoch (mt_mlp_train_epoch, split dataset, batch 10): 50 points
 *                  hidden 100, and 5000 points hidden 256
 * Under the table: the ratio (N-thread time) / (1-thread time), quiet and next to the spinner.
 * Next to a busy process N threads should cost at most a little more than one (verdict ok at
 * <= 1.2, else MISSED): a kernel that spreads its work over a core already taken waits for its
 * slowest thread. "Quiet" is only as quiet as the machine is. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"

static const char SUITE[] = "contention";

/* The verdict's limit on (N-thread time) / (1-thread time) next to the spinner. */
static const double OK_RATIO = 1.2;

/* ---- the busy child ---- */

static volatile sig_atomic_t spinner_pid; /* 0: none running */

/* Kills and reaps the spinner if one runs; returns false if it had already ended by itself (its
 * time limit ran out). Only async-signal-safe calls: the signal handler uses it. */
static bool spinner_stop(void)
{
    const pid_t pid = (pid_t)spinner_pid;
    if (pid <= 0) return true;
    spinner_pid = 0;
    const bool alive = waitpid(pid, NULL, WNOHANG) == 0;
    if (alive) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    return alive;
}

static void stop_at_exit(void) { spinner_stop(); }

static void stop_on_signal(int sig)
{
    spinner_stop();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Starts a child spinning on `core` for at most `limit` seconds. */
static void spinner_start(int core, unsigned limit)
{
    static bool registered;
    if (!registered) registered = atexit(stop_at_exit) == 0;
    const pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        perror("minitorch-bench: fork");
        exit(1);
    }
    if (pid == 0) {
        /* the child: default signal actions, dies with its parent, ends itself at `limit` */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(core, &set);
        sched_setaffinity(0, sizeof set, &set);
        alarm(limit); /* SIGALRM's default action ends the process */
        volatile unsigned long spins = 0;
        for (;;) spins++;
    }
    spinner_pid = pid;
    /* let it get going before anything is timed */
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
}

/* ---- the timed bodies ---- */

typedef enum job_kind { J_ADD, J_MATMUL, J_EPOCH } job_kind;

typedef struct job {
    job_kind kind;
    mt_tensor *a, *b, *out;
    mt_mlp model;
    mt_dataset data;
    mt_train_options options;
    int64_t epoch;
} job;

static void run_job(void *ctx)
{
    job *j = ctx;
    switch (j->kind) {
    case J_ADD: bench_check(mt_zip_out(j->out, MT_OP_ADD, j->a, j->b) == MT_OK, "mt_zip_out"); break;
    case J_MATMUL: bench_check(mt_matmul_out(j->out, j->a, j->b) == MT_OK, "mt_matmul_out"); break;
    case J_EPOCH: {
        mt_epoch_result result;
        bench_check(mt_mlp_train_epoch(&j->model, &j->data, &j->options, j->epoch++, &result) ==
                        MT_OK,
                    "mt_mlp_train_epoch");
        break;
    }
    }
}

typedef struct contention_case {
    const char *name, *size;
    job_kind kind;
    int64_t n;              /* J_ADD: side; J_MATMUL: n; J_EPOCH: points */
    int64_t hidden;         /* J_EPOCH */
    double work;
    bench_unit unit;
} contention_case;

static job job_make(const contention_case *c)
{
    job j = {.kind = c->kind};
    if (c->kind == J_EPOCH) {
        j.options = (mt_train_options){.rate = 0.05f, .batch = 10, .seed = 3};
        bench_check(mt_dataset_make(&j.data, MT_DATASET_SPLIT, c->n, 1) == MT_OK, "mt_dataset_make");
        bench_check(mt_mlp_init(&j.model, 2, c->hidden, 2) == MT_OK, "mt_mlp_init");
        return j;
    }
    j.a = mt_rand_uniform(MT_DIMS(c->n, c->n), -1.0f, 1.0f, 41);
    j.b = mt_rand_uniform(MT_DIMS(c->n, c->n), -1.0f, 1.0f, 42);
    j.out = mt_zeros(MT_DIMS(c->n, c->n));
    bench_check(j.a && j.b && j.out, "creating the operands");
    return j;
}

static void job_free(job *j)
{
    if (j->kind == J_EPOCH) {
        mt_mlp_free(&j->model);
        mt_dataset_free(&j->data);
        return;
    }
    mt_release(j->a), mt_release(j->b), mt_release(j->out);
}

static const char *case_name(char *buffer, size_t capacity, const contention_case *c, bool busy)
{
    snprintf(buffer, capacity, "%s, %s", c->name, busy ? "busy core" : "quiet");
    return buffer;
}

/* Times `c` at 1 and N threads on every backend, quiet or next to the spinner. */
static void time_cases(const bench_config *config, const contention_case *cases, int count,
                       bool busy, double budget)
{
    int counts[2];
    const int thread_counts = bench_thread_counts(config, counts);
    for (int i = 0; i < count; i++) {
        const contention_case *c = &cases[i];
        char name[64];
        case_name(name, sizeof name, c, busy);
        for (int k = 0; k < config->backend_count; k++) {
            job j = job_make(c);
            /* an epoch can take seconds when threads fight: 1 warm-up and few timed epochs */
            const bool epoch = c->kind == J_EPOCH;
            for (int t = thread_counts - 1; t >= 0; t--)
                bench_run(&(bench_case){.name = name, .suite = SUITE,
                                        .backend = config->backends[k], .threads = counts[t],
                                        .size = c->size, .work = c->work, .unit = c->unit,
                                        .repeats = epoch ? (config->quick ? 3 : 5) : 0,
                                        .warmup = epoch ? 1 : 0, .budget = budget,
                                        .fn = run_job, .ctx = &j});
            job_free(&j);
        }
    }
}

/* "1.07" for N-thread median / 1-thread median, "-" when either is missing. */
static double thread_ratio(const contention_case *c, const char *backend, int threads, bool busy)
{
    char name[64];
    case_name(name, sizeof name, c, busy);
    const bench_result *one = bench_find_sized(SUITE, name, backend, 1, c->size);
    const bench_result *many = bench_find_sized(SUITE, name, backend, threads, c->size);
    return one && many && one->median > 0 ? many->median / one->median : 0.0;
}

static void run(const bench_config *config)
{
    const int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const int N = config->threads;
    const double budget = config->quick ? 0.3 : 1.0;
    const contention_case cases[] = {
        {"add out", "2048x2048", J_ADD, 2048, 0, 3.0 * sizeof(float) * 2048 * 2048, BENCH_BYTES},
        {"matmul out", "64^3", J_MATMUL, 64, 0, 2.0 * 64 * 64 * 64, BENCH_FLOPS},
        {"matmul out", "512^3", J_MATMUL, 512, 0, 2.0 * 512 * 512 * 512, BENCH_FLOPS},
        {"epoch batch 10", "50 pts h100", J_EPOCH, 50, 100, 50, BENCH_ITEMS},
        {"epoch batch 10", "5000 pts h256", J_EPOCH, 5000, 256, 5000, BENCH_ITEMS},
    };
    const int count = (int)(sizeof cases / sizeof cases[0]);

    time_cases(config, cases, count, false, budget);

    /* the spinner: on the last core, stopped on SIGINT / SIGTERM too */
    struct sigaction stop = {.sa_handler = stop_on_signal}, old_int, old_term;
    sigemptyset(&stop.sa_mask);
    sigaction(SIGINT, &stop, &old_int);
    sigaction(SIGTERM, &stop, &old_term);
    /* a signal the shell told us to ignore (a background job's SIGINT) stays ignored */
    if (old_int.sa_handler == SIG_IGN) sigaction(SIGINT, &old_int, NULL);
    if (old_term.sa_handler == SIG_IGN) sigaction(SIGTERM, &old_term, NULL);
    const int core = cores > 0 ? cores - 1 : 0;
    const unsigned limit = config->quick ? 60 : 300;
    spinner_start(core, limit);
    time_cases(config, cases, count, true, budget);
    const bool lasted = spinner_stop();
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    bench_note(SUITE, "a process spinning on core %d (of %d) during the \"busy core\" cases; "
                      "N/1 = median at N = %d threads / median at 1 thread; verdict ok when the "
                      "busy-core N/1 <= %.1f",
               core, cores, N, OK_RATIO);
    if (!lasted)
        bench_note(SUITE, "WARNING: the spinner reached its %u s limit before the cases ended: "
                          "the last busy-core figures ran without it",
                   limit);
    if (N < 2) {
        bench_note(SUITE, "N = 1: nothing to compare (run with more than one thread)");
        return;
    }
    bench_note(SUITE, "%-16s %-14s %-8s %10s %14s  %s", "case", "size", "backend", "N/1 quiet",
               "N/1 busy core", "verdict");
    for (int i = 0; i < count; i++)
        for (int k = 0; k < config->backend_count; k++) {
            const char *backend = config->backends[k];
            const double quiet = thread_ratio(&cases[i], backend, N, false);
            const double busy = thread_ratio(&cases[i], backend, N, true);
            bench_note(SUITE, "%-16s %-14s %-8s %10.2f %14.2f  %s", cases[i].name, cases[i].size,
                       backend, quiet, busy, busy <= OK_RATIO ? "ok" : "MISSED");
        }
}

const bench_suite bench_suite_contention = {
    "contention",
    "N vs 1 thread next to a busy process the suite pins to one core (run on request: "
    "--suite contention)",
    run};
