/* Internal: the gradient formulas, and how a formula hands a gradient to an input. */
#ifndef MTI_AUTODIFF_GRADIENTS_H
#define MTI_AUTODIFF_GRADIENTS_H

#include "autodiff/autodiff.h"

/* Applies t's recorded function's gradient formula to the gradient g of t. */
mt_status mti_apply_gradient(const char *fn, mt_tensor *t, mt_tensor *g);

/* Adds `contribution` (a reference this consumes; NULL means it failed to compute) to the
 * gradient flowing into `input`, fitting it to input's shape: broadcast up when smaller, summed
 * over broadcast dims when larger. Inputs not requiring grad are skipped. */
mt_status mti_give_grad(const char *fn, mt_tensor *input, mt_tensor *contribution);

#endif
