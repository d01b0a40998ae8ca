/* Internal: how nn's composite operations (losses, the MLP) run their inner operations in a
 * scope of their own and hand back only the result, with errors named after themselves. */
#ifndef MTI_NN_COMPOSITE_H
#define MTI_NN_COMPOSITE_H

#include <stdbool.h>

#include "minitorch/scope.h"
#include "runtime/error.h"
#include "tensor/tensor_internal.h"

/* Opens the composite's scope; false (MT_ERR_NO_MEMORY named after fn) when it cannot. */
static inline bool mti_composite_begin(const char *fn, mt_scope *scope)
{
    *scope = mt_scope_begin();
    if (scope->depth >= 0) return true;
    mti_fail(MT_ERR_NO_MEMORY, fn, "cannot open a scope for the inner operations");
    return false;
}

/* Keeps `result` (NULL on failure) beyond `scope`, ends the scope, and returns the result to the
 * caller (recorded in the caller's scope if one is open). A failure's message names `fn`. */
static inline mt_tensor *mti_composite_end(const char *fn, mt_scope scope, mt_tensor *result)
{
    if (!result) mti_error_context(fn);
    mti_ref(result);
    mt_scope_end(scope);
    return mti_track(fn, result);
}

#endif
