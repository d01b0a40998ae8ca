/* No-grad mode (per thread). It lives in the tensor layer because writes into tensors consult it
 * (writing into a tensor that requires grad is refused while gradients are recorded). */
#include "minitorch/autodiff.h"
#include "runtime/error.h"

static _Thread_local int no_grad_depth;

void mt_no_grad_begin(void) { no_grad_depth++; }

mt_status mt_no_grad_end(void)
{
    if (no_grad_depth == 0)
        return mti_fail(MT_ERR_AUTODIFF, "mt_no_grad_end", "no-grad mode is not on");
    no_grad_depth--;
    return MT_OK;
}

bool mt_grad_enabled(void) { return no_grad_depth == 0; }
