/* Internal: the state of one backward pass — the tensors it reaches in topological order and the
 * gradient flowing into each — kept in the pass, not in the tensors, so that passes on different
 * threads over graphs that share tensors (a shared leaf, a shared intermediate) never see each
 * other's state. */
#ifndef MTI_AUTODIFF_PASS_H
#define MTI_AUTODIFF_PASS_H

#include <stddef.h>

#include "tensor/tensor_impl.h"

typedef struct mti_pass {
    mt_tensor **order; /* the tensors requiring grad reachable from the root, root first */
    size_t count, capacity;
    mt_tensor **grads; /* grads[i]: gradient flowing into order[i] (a held reference or NULL) */
    mt_tensor **keys;  /* open-addressing map tensor -> post-order index */
    size_t *values;
    size_t map_capacity, map_count;
} mti_pass;

/* Finds every tensor requiring grad reachable from `root` (iteratively: a chain of 10^5
 * operations does not grow the C stack). MT_ERR_NO_MEMORY named `fn` on failure (pass freed). */
mt_status mti_pass_build(const char *fn, mti_pass *pass, mt_tensor *root);

/* The gradient slot of `t` in the pass, or NULL when the pass does not reach it. */
mt_tensor **mti_pass_slot(const mti_pass *pass, const mt_tensor *t);

/* Drops every gradient still held and frees the pass's arrays. */
void mti_pass_free(mti_pass *pass);

/* The pass running on this thread (the gradient formulas hand gradients to it). */
mti_pass *mti_pass_current(void);
void mti_pass_set_current(mti_pass *pass);

#endif
