/* Internal: how gradients flow into inputs and add up during one backward pass. */
#ifndef MTI_AUTODIFF_ACCUMULATE_H
#define MTI_AUTODIFF_ACCUMULATE_H

#include "tensor/tensor_impl.h"

/* Adds `contribution` (a reference this consumes; NULL means it failed to compute) to the
 * gradient flowing into `input`, fitting it to input's shape: broadcast up when smaller, summed
 * over broadcast dims when larger. Inputs not requiring grad are skipped. */
mt_status mti_give_grad(const char *fn, mt_tensor *input, mt_tensor *contribution);

/* target += addend in place (same shapes). */
void mti_add_into(mt_tensor *target, const mt_tensor *addend);

#endif
