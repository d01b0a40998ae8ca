/* The --distributed hooks shared by minitorch-train and minitorch-digits. program_dist_mpi.c
 * implements them over libminitorch_mpi when the MPI component is built; program_dist_none.c
 * otherwise: there program_dist_start reports that this build has no MPI, and the other hooks
 * behave as for a single rank (they are never reached by the programs).
 *
 * All but program_dist_rank, program_dist_size and program_dist_shard are collective: every
 * rank calls them in the same order. */
#ifndef MINITORCH_PROGRAM_DIST_H
#define MINITORCH_PROGRAM_DIST_H

#include <minitorch/minitorch.h>

/* Starts MPI. Returns 0, or an exit status for main after printing why, prefixed by `program`
 * (2: this build has no MPI; 1: MPI failed). */
int program_dist_start(const char *program, int *argc, char ***argv);
/* Finalises MPI. */
void program_dist_stop(void);

/* This process's rank and the number of ranks (0 and 1 before start). */
int program_dist_rank(void);
int program_dist_size(void);

/* This rank's contiguous part [*begin, *end) of n items (mt_dist_shard: the first n % size
 * ranks get one more; a rank may get none). */
void program_dist_shard(int64_t n, int64_t *begin, int64_t *end);

/* Rank 0's parameter values to every rank (mt_dist_broadcast_params). */
mt_status program_dist_broadcast(const mt_params *params);
/* Every gradient replaced by its mean over the ranks (mt_dist_allreduce_grads). A rank that
 * failed before the step passes NULL: the call then fails on every rank, so all of them stop
 * at the same step instead of waiting for each other. */
mt_status program_dist_average_grads(const mt_params *params);

/* values[0..count) replaced by their sums over the ranks (in place). */
mt_status program_dist_sum(double *values, int count);
mt_status program_dist_sum_counts(int64_t *values, int count);
/* Whether `ok` holds on every rank. */
bool program_dist_all(bool ok);
/* *same: whether every rank passed the same value. */
mt_status program_dist_agree(uint64_t value, bool *same);

#endif
