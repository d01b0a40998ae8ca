/* The small all-reduce every collective starts with, so that no rank enters a big collective
 * that another rank is going to skip (see mti_dist_agree in dist/dist.h). */
#include "dist/dist.h"

#define MAX_VALUES 8

mt_status mti_dist_agree(const char *fn, mt_status local, int count, const int64_t *values,
                         const char *const *names)
{
    /* [failure key, v0, -v0, v1, -v1, ...]: under MPI_MAX the key gives the lowest failing rank
     * (key = size - rank), and max(v) == -max(-v) exactly when v is the same on every rank. */
    int64_t send[1 + 2 * MAX_VALUES], received[1 + 2 * MAX_VALUES];
    if (count > MAX_VALUES) count = MAX_VALUES;
    send[0] = local == MT_OK ? 0 : (int64_t)(mti_dist.size - mti_dist.rank);
    for (int i = 0; i < count; i++) {
        send[1 + 2 * i] = values[i];
        send[2 + 2 * i] = -values[i]; /* values are >= 0, so this cannot overflow */
    }
    int code = MPI_Allreduce(send, received, 1 + 2 * count, MPI_INT64_T, MPI_MAX, mti_dist.comm);
    if (code != MPI_SUCCESS) {
        if (local != MT_OK) return local; /* keep this rank's own message */
        return mti_dist_check(code, fn, "MPI_Allreduce (status check)");
    }
    if (local != MT_OK) return local;
    if (received[0] > 0)
        return mti_dist_fail(MT_ERR_DIST, fn, "rank %lld failed (see its error); no rank went on",
                             (long long)(mti_dist.size - received[0]));
    for (int i = 0; i < count; i++)
        if (received[1 + 2 * i] != -received[2 + 2 * i])
            return mti_dist_fail(MT_ERR_DIST, fn,
                                 "the ranks disagree on the %s (this rank: %lld, range %lld..%lld)",
                                 names[i], (long long)values[i], (long long)-received[2 + 2 * i],
                                 (long long)received[1 + 2 * i]);
    return MT_OK;
}
