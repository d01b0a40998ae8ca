/* minitorch-bench: the suites and what they share.
 *
 * Adding a suite: write suite_NAME.c defining `const bench_suite bench_suite_NAME`, add one line
 * X(NAME) to BENCH_SUITES below, and the file to benchmarks/CMakeLists.txt. */
#ifndef BENCH_SUITES_H
#define BENCH_SUITES_H

#include <stdbool.h>
#include <stdint.h>

#include <minitorch/minitorch.h>

#include "harness.h"

/* The registry, in running order. */
#define BENCH_SUITES(X) \
    X(baseline)         \
    X(elementwise)      \
    X(matmul)           \
    X(autodiff)         \
    X(train)            \
    X(digits)           \
    X(fusion)           \
    X(contention)

/* Suites left out of the default run (they run when named with --suite). */
#define BENCH_SUITES_ON_REQUEST(X) \
    X(contention)

enum { BENCH_MAX_BACKENDS = 2 };

/* What the command line chose, for every suite. */
typedef struct bench_config {
    bool quick;       /* reduced sizes (and repeats) */
    int threads;      /* N: all cores, or --threads */
    int backend_count;
    const char *backends[BENCH_MAX_BACKENDS]; /* "naive", "blas" (or the one in MINITORCH_BACKEND) */
} bench_config;

typedef struct bench_suite {
    const char *name;
    const char *description;
    void (*run)(const bench_config *config);
} bench_suite;

#define BENCH_DECLARE_SUITE(NAME) extern const bench_suite bench_suite_##NAME;
BENCH_SUITES(BENCH_DECLARE_SUITE)
#undef BENCH_DECLARE_SUITE

/* The registered suites, NULL-terminated. */
extern const bench_suite *const bench_suite_list[];
/* True for a suite of BENCH_SUITES_ON_REQUEST. */
bool bench_suite_on_request(const bench_suite *suite);

/* ---- helpers for the suites (util.c) ---- */

/* Thread counts to run a case at: 1 and config->threads (one entry when that is 1). */
int bench_thread_counts(const bench_config *config, int counts[2]);

/* Exits with the library's last error when `ok` is false. */
void bench_check(bool ok, const char *what);

/* A float buffer allocated like the library's storage (2 MiB aligned, transparent huge pages
 * where possible), filled from `t` (or zeroed when `t` is NULL). Free with free(). */
float *bench_buffer(int64_t count, const mt_tensor *t);

/* Compares the `count` elements of `t` (row-major) with `want`: |got - want| <= tol * (1 + |want|)
 * everywhere. A mismatch is reported on stderr and counted; returns true when all agree. */
bool bench_check_close(const char *what, const mt_tensor *t, const float *want, int64_t count,
                       float tol);
/* Outputs checked so far and how many of them disagreed. */
void bench_check_counts(int *checked, int *failed);

#endif
