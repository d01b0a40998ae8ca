/* minitorch-bench --shape OP:SIZES[:dimD]: times one operation on shapes the user chooses, on
 * every backend, against the in-binary baseline where there is one.
 *
 *   matmul:NxKxM      (N, K) @ (K, M)                  GFLOP/s, baseline: direct cblas_sgemm
 *   matmul:BxNxKxM    B products (B, N, K) @ (B, K, M)  (a loop of sgemm calls)
 *   neg|copy|sigmoid|relu|exp|log|inv:SIZES           GB/s; baseline loop for neg, copy, sigmoid
 *   add|sub|mul|div:SIZES   two operands of that shape  GB/s; baseline loop for add, mul
 *   sum|prod|max:SIZES[:dimD]  over dim D (default: the last)  GB/s; baseline loop for sum
 * SIZES are 1 to 8 sizes joined by 'x', e.g. 4096x4096. */
#ifndef BENCH_SHAPE_H
#define BENCH_SHAPE_H

#include <stddef.h>

#include "suites.h"

typedef struct bench_shape {
    int op;                      /* index into shape.c's operation table */
    int ndim;
    int64_t sizes[MT_MAX_DIMS];
    int dim;                     /* reductions: the dim reduced (>= 0) */
    char label[64];              /* the spec without "OP:", the size column of the table */
} bench_shape;

/* Parses `text`; on failure returns false with a message in `error`. */
bool bench_shape_parse(const char *text, bench_shape *shape, char *error, size_t capacity);

/* Times the shape's cases (library into an output, library allocating, baseline) at
 * config->threads, as suite "shape", and checks the library's outputs against the baseline's. */
void bench_shape_run(const bench_shape *shape, const bench_config *config);

/* One line per accepted form, for --help. */
extern const char bench_shape_help[];

#endif
