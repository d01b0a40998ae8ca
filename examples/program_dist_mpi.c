/* The programs' --distributed hooks over libminitorch_mpi (see program_dist.h). The
 * library's own communicator duplicates MPI_COMM_WORLD; the small sums here use
 * MPI_COMM_WORLD itself, whose default error handler ends the job on an MPI failure. */
#include <stdio.h>

#include <minitorch/dist.h>

#include "program_dist.h"

int program_dist_start(const char *program, int *argc, char ***argv)
{
    if (mt_dist_init(argc, argv) == MT_OK) return 0;
    fprintf(stderr, "%s: %s\n", program, mt_last_error());
    return 1;
}

void program_dist_stop(void) { mt_dist_finalize(); }

int program_dist_rank(void) { return mt_dist_rank(); }
int program_dist_size(void) { return mt_dist_size(); }

void program_dist_shard(int64_t n, int64_t *begin, int64_t *end)
{
    if (mt_dist_shard(n, begin, end) != MT_OK) *begin = *end = 0; /* only for n < 0 */
}

mt_status program_dist_broadcast(const mt_params *params) { return mt_dist_broadcast_params(params); }
mt_status program_dist_average_grads(const mt_params *params) { return mt_dist_allreduce_grads(params); }

mt_status program_dist_sum(double *values, int count)
{
    if (MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS)
        return MT_OK;
    return mt_set_error(MT_ERR_DIST, "MPI_Allreduce of a sum failed");
}

mt_status program_dist_sum_counts(int64_t *values, int count)
{
    if (MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS)
        return MT_OK;
    return mt_set_error(MT_ERR_DIST, "MPI_Allreduce of counts failed");
}

bool program_dist_all(bool ok)
{
    int mine = ok, every = 0;
    return MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) == MPI_SUCCESS && every;
}

mt_status program_dist_agree(uint64_t value, bool *same)
{
    uint64_t low = value, high = value;
    if (MPI_Allreduce(&value, &low, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Allreduce(&value, &high, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return mt_set_error(MT_ERR_DIST, "MPI_Allreduce of a checksum failed");
    *same = low == high;
    return MT_OK;
}
