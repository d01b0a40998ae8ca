/* minitorch-c: reference counting and scopes.
 *
 * Every tensor is reference counted; a function returning a tensor returns a new reference.
 *
 * Scopes make chained expressions leak-free: while a scope is open on the calling thread, each
 * tensor a function returns is recorded in the innermost scope, which owns that reference, and
 * mt_scope_end() drops it. To keep a tensor beyond the scope, mt_retain() it first (then
 * mt_release() it when done). Scopes nest and are per thread.
 *
 *     mt_scope s = mt_scope_begin();
 *     mt_tensor *loss = mt_mean_all(mt_mul(mt_sub(pred, y), mt_sub(pred, y)));
 *     mt_backward(loss);
 *     mt_scope_end(s);              // frees loss, the temporaries and the graph
 */
#ifndef MINITORCH_SCOPE_H
#define MINITORCH_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Adds a reference to `t` and returns `t` (NULL stays NULL). The caller owns the new reference
 *  even inside a scope. */
MT_API mt_tensor *mt_retain(mt_tensor *t);

/** Drops a reference the caller owns; the tensor is freed with its last reference. NULL is a
 *  no-op. Releasing a reference the caller does not own (one held by a scope or by the autodiff
 *  graph) is refused with MT_ERR_SCOPE instead of freeing memory still in use. */
MT_API mt_status mt_release(mt_tensor *t);

/** A scope handle; only compare it or pass it to mt_scope_end. */
typedef struct mt_scope {
    int depth;
    unsigned serial; /* distinguishes a scope from an earlier one at the same depth */
} mt_scope;

/** Opens a scope on this thread. Returns {.depth = -1} with MT_ERR_NO_MEMORY if it cannot. */
MT_API mt_scope mt_scope_begin(void);

/** Closes the innermost scope, dropping the references it recorded. `scope` must be that
 *  innermost scope (MT_ERR_SCOPE otherwise: ending out of order or twice, or a stale handle). */
MT_API mt_status mt_scope_end(mt_scope scope);

/** Number of scopes open on this thread. */
MT_API int mt_scope_depth(void);

#ifdef __cplusplus
}
#endif

#endif
