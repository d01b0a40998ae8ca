/* minitorch-digits --distributed: the training epoch and the evaluation, data-parallel over the
 * ranks of program_dist.h.
 *
 * Training. Every rank holds the same data, split and parameters and draws the same epoch order;
 * each global batch of `count` rows (the rows a single process would take) is cut into the ranks'
 * contiguous parts (program_dist_shard). Dropout: every rank draws the masks of the whole global
 * batch from its dropout layers, exactly as a single process does, and multiplies its rows by
 * their rows of those masks; so every row gets the mask element a single process would give it,
 * and the layers' mask counters advance once per step on every rank (also on a rank whose part
 * is empty). Each rank's mean loss is scaled by rows * size / count, the gradients are averaged
 * (program_dist_average_grads) and every rank takes the same Adam step. With one rank this is
 * bitwise the single-process epoch; with more, the sums are grouped differently (the last bits
 * may differ).
 *
 * Evaluation. Each rank predicts its contiguous part of the set; the counts (right, and the
 * confusion matrix) are summed over the ranks. */
#ifndef MINITORCH_EXAMPLES_DIGITS_DIST_H
#define MINITORCH_EXAMPLES_DIGITS_DIST_H

#include "digits_model.h"

/* digits_train_epoch over the ranks (collective). *loss: the mean over the steps of the whole
 * global batch's loss. A failure on one rank makes the call fail on every rank (MT_ERR_DIST on
 * the others). */
mt_status digits_dist_train_epoch(digits_model *model, digits_trainer *trainer, const digits_set *train,
                                  uint64_t seed, int64_t epoch, double *loss);

/* digits_evaluate over the ranks (collective): the totals on every rank. */
mt_status digits_dist_evaluate(digits_model *model, const digits_set *set, int64_t *correct,
                               int64_t *confusion);

#endif
