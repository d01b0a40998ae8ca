/* minitorch-bench: the charts (--plot DIR), drawn with gnuplot from the results of the run. */
#ifndef BENCH_PLOT_H
#define BENCH_PLOT_H

#include "harness.h"

/* Writes gnuplot data files and scripts for the run's results into `dir` (created if needed)
 * and runs gnuplot on them to draw PNG charts; `threads` selects the multi-threaded figures.
 * Without gnuplot on PATH it says so and draws nothing (not an error). Returns 0, or -1 with a
 * message on stderr when a file cannot be written or gnuplot fails. */
int bench_plot(const char *dir, int threads);

#endif
