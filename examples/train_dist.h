/* minitorch-train --distributed: the data-parallel epoch and the final parameter check, on the
 * hooks of program_dist.h (which start and stop MPI, broadcast and average). */
#ifndef MINITORCH_TRAIN_DIST_H
#define MINITORCH_TRAIN_DIST_H

#include <minitorch/minitorch.h>

/* One epoch like mt_mlp_train_epoch, data-parallel: every rank shuffles the same way, takes its
 * part of each global batch, and gradients are averaged before each SGD step. result->loss is
 * the mean over the epoch's steps of the whole global batch's loss. */
mt_status train_dist_epoch(mt_mlp *model, const mt_dataset *data, const mt_train_options *options,
                           int64_t epoch, mt_epoch_result *result);
/* A checksum of the parameters' bits; *same is set to whether every rank has the same one. */
mt_status train_dist_checksum(const mt_mlp *model, uint64_t *checksum, bool *same);

#endif
