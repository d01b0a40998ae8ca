/* minitorch-train --distributed: the hooks train.c calls. train_dist_mpi.c implements them over
 * libminitorch_mpi when the MPI component is built; train_dist_none.c otherwise (every hook
 * reports that this build has no MPI). */
#ifndef MINITORCH_TRAIN_DIST_H
#define MINITORCH_TRAIN_DIST_H

#include <minitorch/minitorch.h>

/* Starts MPI. Returns 0, or an exit status for main (2: this build has no MPI; 1: MPI failed)
 * after printing why. */
int train_dist_start(int *argc, char ***argv);
/* This process's rank and the number of ranks (0 and 1 before start). */
int train_dist_rank(void);
int train_dist_size(void);
/* Rank 0's initial parameters to every rank. */
mt_status train_dist_broadcast(mt_mlp *model);
/* One epoch like mt_mlp_train_epoch, data-parallel: every rank shuffles the same way, takes its
 * part of each global batch, and gradients are averaged before each SGD step. result->loss is
 * the mean over the epoch's steps of the whole global batch's loss. */
mt_status train_dist_epoch(mt_mlp *model, const mt_dataset *data, const mt_train_options *options,
                           int64_t epoch, mt_epoch_result *result);
/* A checksum of the parameters' bits; *same is set to whether every rank has the same one. */
mt_status train_dist_checksum(const mt_mlp *model, uint64_t *checksum, bool *same);
/* Finalises MPI. */
void train_dist_stop(void);

#endif
