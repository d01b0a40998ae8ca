/* Internal state and helpers of libminitorch_mpi (see include/minitorch/dist.h). */
#ifndef MTI_DIST_H
#define MTI_DIST_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "minitorch/dist.h"

/* The library's communicator and settings (one per process; used from one thread). */
typedef struct mti_dist_state {
    bool active;          /* between init and finalize */
    bool owns_mpi;        /* mt_dist_init called MPI_Init, so finalize calls MPI_Finalize */
    MPI_Comm comm;        /* our duplicate, with MPI_ERRORS_RETURN */
    int rank, size;
    int64_t bucket_bytes;
} mti_dist_state;

extern mti_dist_state mti_dist;

/* Records `status` with "<fn>: <formatted text>" through mt_set_error; returns `status`. */
mt_status mti_dist_fail(mt_status status, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For an MPI call that returned `code`: MT_OK for MPI_SUCCESS, else MT_ERR_DIST with
 * "<fn>: <call> failed: <MPI_Error_string>". */
mt_status mti_dist_check(int code, const char *fn, const char *call);

/* The caller's recorded error, kept across internal calls that record errors of their own
 * (mt_grad on a parameter without a gradient), so that a successful call leaves it as it was. */
typedef struct mti_dist_saved_error {
    mt_status status;
    char message[512];
} mti_dist_saved_error;
void mti_dist_save_error(mti_dist_saved_error *saved);
void mti_dist_restore_error(const mti_dist_saved_error *saved);

/* Frees the buffers kept between collective calls (params.c). */
void mti_dist_release_buffers(void);

/* MT_ERR_DIST unless the library is initialised. */
mt_status mti_dist_require_active(const char *fn);

/* The collective status check every collective starts with. Each rank passes its local status
 * (MT_OK or the failure it has recorded) and `count` values that must be equal on every rank
 * (layout facts: parameter count, sizes, bucket size). One MPI_Allreduce (MPI_MAX) of
 * 1 + 2 * count integers decides, identically on every rank:
 *  - a rank whose own check failed returns its own status (message kept);
 *  - the others return MT_ERR_DIST naming the lowest failing rank;
 *  - if every rank passed but a value differs between ranks, MT_ERR_DIST naming `names[i]`.
 * count <= 8. */
mt_status mti_dist_agree(const char *fn, mt_status local, int count, const int64_t *values,
                         const char *const *names);

#endif
