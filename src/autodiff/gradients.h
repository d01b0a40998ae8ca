/* Internal: the gradient formulas of the recorded functions. */
#ifndef MTI_AUTODIFF_GRADIENTS_H
#define MTI_AUTODIFF_GRADIENTS_H

#include "autodiff/autodiff.h"

/* Applies t's recorded function's gradient formula to the gradient g of t, handing each input
 * its part (autodiff/accumulate.h). */
mt_status mti_apply_gradient(const char *fn, mt_tensor *t, mt_tensor *g);

/* MT_ERR_AUTODIFF naming the function when a value its formula reads (an input or the saved
 * output) was written in place after it was recorded. */
mt_status mti_check_saved(const char *fn, const mti_node *node);

#endif
