/* Fused operations that the nn layer's losses are built on. They need the row kernels and their
 * own autodiff record, which nn cannot reach through the public API; this header gives nn just the
 * entry point (public types only, no tensor fields). */
#ifndef MTI_OPS_FUSED_LOSS_H
#define MTI_OPS_FUSED_LOSS_H

#include <stdint.h>

#include "minitorch/tensor.h"

/* Mean over the batch of -log_softmax(logits)[i, labels[i]] for logits (N, C) and n == N class
 * indices in [0, C): one log-sum-exp pass over the logits forward, one fused pass for the
 * gradient (softmax - onehot) g / N. Untracked (the caller's scope does not hold the result);
 * errors name `fn`. */
mt_tensor *mti_op_cross_entropy(const char *fn, mt_tensor *logits, int64_t n,
                                const int64_t *labels);

#endif
