/* minitorch-c: data-parallel training over MPI (libminitorch_mpi, optional).
 *
 * Every rank (process) holds a full copy of the model. Rank 0's parameters are broadcast once;
 * then each rank runs forward and backward on its own contiguous part of every global batch
 * (mt_dist_shard), mt_dist_allreduce_grads averages the gradients over the ranks, and every rank
 * takes the same SGD step, so the parameters stay identical everywhere.
 *
 *     mt_dist_init(&argc, &argv);
 *     mt_dist_broadcast_params(&model.params);
 *     for each global batch of n points:
 *         mt_dist_shard(n, &begin, &end);      // this rank's rows [begin, end)
 *         ... loss on those rows, scaled by (end - begin) * size / n, then mt_backward ...
 *         mt_dist_allreduce_grads(&model.params);
 *         mt_sgd_step(&model.params, rate);
 *     mt_dist_finalize();
 *
 * Scaling each rank's mean loss by (its rows * size / n) makes the averaged gradient exactly the
 * gradient of the mean loss over the whole batch even when n is not a multiple of the size.
 *
 * Link with minitorch::mpi (CMake, find_package(minitorch CONFIG COMPONENTS mpi)) or
 * `pkg-config minitorch-mpi`. This header is not included by minitorch.h: the core library does
 * not depend on MPI. Launch programs with `mpirun -np N program ...`.
 *
 * Collective calls. mt_dist_broadcast_params and mt_dist_allreduce_grads are collective: every
 * rank of the communicator must call them, in the same order, with the same parameter layout
 * (count, element counts, bucket size). Each first checks its arguments locally and agrees on
 * the outcome with one small all-reduce of a few integers (and one of a flag per parameter for
 * the gradients), so a bad argument or a layout mismatch on any rank makes the call fail on
 * every rank (MT_ERR_DIST on the others, naming the rank) instead of leaving ranks waiting in a
 * mismatched collective. A failed call changes no parameter and no gradient on any rank.
 *
 * Errors. Functions return an mt_status; MPI failures give MT_ERR_DIST with MPI's own text
 * (MPI_Error_string) in mt_last_error(). The library's communicator uses MPI_ERRORS_RETURN, so
 * MPI errors on it come back as statuses; the library never aborts or exits. What it cannot
 * change: MPI_Init itself (Open MPI aborts the process if it cannot start), and a rank that dies.
 * Open MPI 4.1 has no fault tolerance: when a process launched by mpirun exits before
 * MPI_Finalize, or is killed, mpirun kills the remaining ranks and reports it ("... exited on
 * signal" / "... did not call MPI_Finalize"), so the survivors do not get a status back; they are
 * terminated. A rank that simply stops calling collectives leaves the others waiting: the
 * library has no timeouts.
 *
 * Threads. Call these functions from one thread (MPI is initialised with MPI_THREAD_FUNNELED);
 * the kernels' OpenMP threads never call MPI.
 *
 * Overlap. mt_dist_allreduce_grads runs after backward has finished; it does not overlap
 * communication with backward.
 *
 * Reproducibility. Gradients are summed with MPI_Allreduce(MPI_SUM) per bucket and then divided
 * by the number of ranks. Open MPI picks its all-reduce algorithm from the communicator size and
 * the message size only, and each algorithm combines the ranks' values in a fixed order and
 * leaves the same combined value on every rank (IEEE addition is commutative, so a+b and b+a
 * agree bitwise). The result is therefore bitwise the same on every rank, and from run to run
 * for the same number of ranks, bucket size and parameter layout. A different number of ranks
 * or bucket size may change the last bits (a different summation order).
 */
#ifndef MINITORCH_DIST_H
#define MINITORCH_DIST_H

#include <mpi.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default bucket size of mt_dist_allreduce_grads and mt_dist_broadcast_params (bytes). */
#define MT_DIST_DEFAULT_BUCKET_BYTES (25 * 1024 * 1024)

/** Initialises MPI (MPI_Init_thread, MPI_THREAD_FUNNELED) unless it already is, and makes the
 *  library's own communicator: a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN. `argc` and
 *  `argv` may be NULL. MT_ERR_DIST if already initialised by the library or if MPI fails. */
MT_API mt_status mt_dist_init(int *argc, char ***argv);

/** For a program that initialised MPI itself: the library duplicates `comm` (it never uses
 *  `comm` directly) and sets MPI_ERRORS_RETURN on the duplicate. Collective over `comm`.
 *  MT_ERR_DIST if MPI is not initialised, comm is MPI_COMM_NULL, or the library is already
 *  initialised. mt_dist_finalize then frees the duplicate but leaves MPI to the caller. */
MT_API mt_status mt_dist_init_comm(MPI_Comm comm);

/** Frees the library's communicator and buffers, and calls MPI_Finalize if mt_dist_init
 *  initialised MPI. Collective. MT_ERR_DIST if the library is not initialised or MPI fails. */
MT_API mt_status mt_dist_finalize(void);

/** This process's rank in the library's communicator (0 .. size-1); 0 when not initialised. */
MT_API int mt_dist_rank(void);
/** The number of ranks; 1 when not initialised. */
MT_API int mt_dist_size(void);

/** Sets the bucket size in bytes (>= 4, at most 2^31 floats; MT_ERR_INVALID_ARG otherwise):
 *  consecutive parameters are packed into buckets of at most this many bytes and each bucket is
 *  one MPI call; a parameter larger than the bucket travels alone. Every rank must use the same
 *  size (the collectives check). Default MT_DIST_DEFAULT_BUCKET_BYTES. */
MT_API mt_status mt_dist_set_bucket_bytes(int64_t bytes);
/** The current bucket size in bytes. */
MT_API int64_t mt_dist_bucket_bytes(void);

/** Copies rank 0's parameter values into every other rank's parameters (in place, by buckets;
 *  rank 0's are not written). Collective. Gradients are untouched. */
MT_API mt_status mt_dist_broadcast_params(const mt_params *params);

/** Replaces every gradient by its average over the ranks: packed into buckets, one MPI_Allreduce
 *  (MPI_SUM) per bucket, divided by the number of ranks, written back in place (a tensor
 *  obtained earlier from mt_grad sees the new values). Collective.
 *  Parameters without a gradient: a parameter that has no gradient on any rank is skipped and
 *  stays without one everywhere (mt_sgd_step skips it). One that has a gradient on some ranks
 *  only counts as zeros on the others, which receive the average as a new gradient; this needs
 *  it to be a leaf that requires grad there (MT_ERR_DIST on every rank otherwise). */
MT_API mt_status mt_dist_allreduce_grads(const mt_params *params);

/** This rank's contiguous part [*begin, *end) of a global batch of n >= 0 items: the first
 *  n % size ranks get n / size + 1 items, the others n / size, in rank order. Deterministic
 *  and local (no communication). Works before mt_dist_init (a single rank gets everything).
 *  A rank may get an empty range (*begin == *end) when n < size. MT_ERR_NULL, or
 *  MT_ERR_INVALID_ARG for n < 0. */
MT_API mt_status mt_dist_shard(int64_t n, int64_t *begin, int64_t *end);

#ifdef __cplusplus
}
#endif

#endif
