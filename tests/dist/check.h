/* Assertions for the MPI test programs (Criterion's forked workers do not mix with MPI): each
 * failed check prints the rank, file, line and message and is counted; dist_check_finish()
 * adds the counts of every rank, prints "N passed, N failed" on rank 0 and returns the exit
 * status (0 when every check on every rank passed). */
#ifndef MINITORCH_TEST_DIST_CHECK_H
#define MINITORCH_TEST_DIST_CHECK_H

#include <mpi.h>
#include <stdio.h>

static int dist_checks_passed, dist_checks_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            dist_checks_passed++;                                                                  \
        } else {                                                                                   \
            int rank_;                                                                             \
            MPI_Comm_rank(MPI_COMM_WORLD, &rank_);                                                 \
            dist_checks_failed++;                                                                  \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", rank_, __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

static inline int dist_check_finish(void)
{
    int local[2] = {dist_checks_passed, dist_checks_failed}, total[2] = {0, 0}, rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Allreduce(local, total, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%d passed, %d failed\n", total[0], total[1]);
    return total[1] == 0 ? 0 : 1;
}

#endif
