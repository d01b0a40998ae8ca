/* minitorch-bench: the measuring harness.
 *
 * A case is a function that does one unit of work (one kernel call, one loop over the data, or
 * `calls` tiny calls). bench_run() applies the case's thread count and backend, runs it `warmup`
 * times untimed, then `repeats` times timed with the monotonic wall clock, and records the median,
 * minimum and maximum seconds per call. Results are kept in memory and printed at the end as one
 * table per suite, with the rate (GB/s, GFLOP/s or calls/s) and the ratio to the case's baseline:
 *
 *     ratio = baseline median / case median   (> 1: faster than the baseline)
 *
 * The baseline is looked up by name in the same suite with the same thread count and size label,
 * preferring the case's own backend and falling back to backend "baseline" (the plain C loops);
 * when no result has the case's size, a result of any size is taken.
 *
 * A suite can add notes (derived figures, target checks, reference values measured elsewhere):
 * they are printed under the suite's table and written into the JSON file.
 */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum bench_unit {
    BENCH_BYTES, /* work = bytes read + written per call -> GB/s */
    BENCH_FLOPS, /* work = floating-point operations per call -> GFLOP/s */
    BENCH_CALLS, /* work = 1 per call -> calls/s, time shown per call */
    BENCH_ITEMS  /* work = items (e.g. training points) per call -> items/s */
} bench_unit;

typedef struct bench_case {
    const char *name;     /* e.g. "add out" */
    const char *suite;    /* e.g. "elementwise" */
    const char *backend;  /* "naive", "blas" or "baseline" */
    int threads;
    const char *size;     /* a label, e.g. "4096x4096" */
    double work;          /* per call, in `unit` */
    bench_unit unit;
    const char *baseline; /* name of the case this one is compared to, or NULL */
    int calls;            /* calls of fn per timed sample (0 counts as 1); times are per call */
    int repeats;          /* timed runs of this case; 0: the configured count (--repeat) */
    int warmup;           /* warm-up runs of this case; 0: the configured count, < 0: none */
    double budget;        /* seconds: stop timing once the timed runs took this long, after at
                           * least 3 runs (keeps slow cases bounded on a loaded machine); 0: none */
    void (*fn)(void *ctx);
    void *ctx;
} bench_case;

typedef struct bench_result {
    char name[64], suite[32], backend[16], size[32], baseline[64];
    int threads;
    double work;
    bench_unit unit;
    int repeats;
    double median, min, max; /* seconds per call */
} bench_result;

/* Machine and configuration lines written into the JSON file (all may be NULL). */
typedef struct bench_machine {
    const char *cpu;
    int cores;
    const char *config;  /* mt_config_string() */
    const char *threads; /* a description of the thread settings */
} bench_machine;

/* Warm-up and timed runs per case; `progress` draws a status line on stderr. */
void bench_init(int warmup, int repeats, bool progress);
int bench_repeats(void);

/* Runs one case and records its result; returns it (valid until the next bench_run). */
const bench_result *bench_run(const bench_case *c);

/* The result of case `name` in `suite` run with `threads` on `backend`, or NULL. */
const bench_result *bench_find(const char *suite, const char *name, const char *backend,
                               int threads);

/* bench_find for results with size label `size` only. */
const bench_result *bench_find_sized(const char *suite, const char *name, const char *backend,
                                     int threads, const char *size);

/* The recorded results, in running order (for the charts). */
size_t bench_result_count(void);
const bench_result *bench_result_at(size_t index);

/* Adds a line of text under `suite`'s table (printf-style; one line, no newline needed). */
void bench_note(const char *suite, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* One table per suite, in the order the suites first appeared, each followed by its notes. */
void bench_print_tables(FILE *out);
/* Returns 0 on success, -1 (with a message on stderr) if the file cannot be written. */
int bench_write_json(const char *path, const bench_machine *machine);
int bench_write_csv(const char *path);

void bench_free(void);

/* Seconds on the monotonic clock. */
double bench_now(void);

#endif
