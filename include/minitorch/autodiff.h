/* minitorch-c: reverse-mode automatic differentiation.
 *
 * Mark leaves with mt_set_requires_grad(t, true). Every operation on a tensor that requires grad
 * records how its result was made (the operation, its inputs, the values backward needs). Then
 * mt_backward(loss) walks that graph in reverse topological order and adds d loss / d leaf into
 * each leaf's gradient. Gradients accumulate across uses and across backward calls until
 * mt_zero_grad(). A gradient always has its leaf's shape: where a leaf was broadcast, its gradient
 * is summed over the broadcast dims.
 *
 * The graph is kept after backward (saved values are not freed), so backward can run again;
 * it is freed with the last reference to the result (usually when the scope ends).
 */
#ifndef MINITORCH_AUTODIFF_H
#define MINITORCH_AUTODIFF_H

#include <stdbool.h>

#include "error.h"
#include "export.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Makes `t` a leaf whose gradient is wanted (or not). Refused on a tensor that has history. */
MT_API mt_status mt_set_requires_grad(mt_tensor *t, bool requires_grad);
/** True for a leaf marked with mt_set_requires_grad and for any result computed from one. */
MT_API bool mt_requires_grad(const mt_tensor *t);
/** True for a tensor without history (created, not computed from a tensor requiring grad). */
MT_API bool mt_is_leaf(const mt_tensor *t);

/** Backpropagates from a one-element tensor (its gradient is 1). */
MT_API mt_status mt_backward(mt_tensor *t);
/** Backpropagates `grad` (same shape as `t`) from `t`. */
MT_API mt_status mt_backward_with(mt_tensor *t, const mt_tensor *grad);

/** The accumulated gradient of leaf `t` (a new reference), or NULL with MT_ERR_AUTODIFF when it
 *  has none yet. */
MT_API mt_tensor *mt_grad(const mt_tensor *t);
/** Forgets the accumulated gradient of `t`. */
MT_API mt_status mt_zero_grad(mt_tensor *t);
/** A tensor sharing `t`'s storage, with no history and not requiring grad. */
MT_API mt_tensor *mt_detach(mt_tensor *t);

/** Turns no-grad mode on for this thread (nestable): while it is on, operations record no
 *  history and their results do not require grad. */
MT_API void mt_no_grad_begin(void);
/** Ends one mt_no_grad_begin; MT_ERR_AUTODIFF if no-grad mode is not on. */
MT_API mt_status mt_no_grad_end(void);
/** False while no-grad mode is on on this thread. */
MT_API bool mt_grad_enabled(void);

#ifdef __cplusplus
}
#endif

#endif
