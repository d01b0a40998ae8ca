/* Internal: the gradient formulas of the recorded functions. */
#ifndef MTI_AUTODIFF_GRADIENTS_H
#define MTI_AUTODIFF_GRADIENTS_H

#include "autodiff/autodiff.h"

/* Applies t's recorded function's gradient formula to the gradient g of t, handing each input
 * its part (autodiff/accumulate.h). */
mt_status mti_apply_gradient(const char *fn, mt_tensor *t, mt_tensor *g);

#endif
