/* Scopes: per-thread stacks recording the references returned while they are open. One flat
 * array holds the recorded tensors of all open scopes; each scope remembers where it starts. */
#include "minitorch/memory.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "tensor/tensor_impl.h"

typedef struct scope_stack {
    mt_tensor **items;
    size_t count, capacity;
    size_t *starts; /* starts[d]: first item of scope d */
    int depth, depth_capacity;
} scope_stack;

static _Thread_local scope_stack scopes;

mt_tensor *mti_track(mt_tensor *t)
{
    if (!t || scopes.depth == 0) return t;
    if (scopes.count == scopes.capacity) {
        size_t capacity = scopes.capacity ? scopes.capacity * 2 : 256;
        mt_tensor **items = mti_realloc(scopes.items, capacity * sizeof *items);
        if (!items) {
            mti_unref(t);
            mti_fail(MT_ERR_NO_MEMORY, "mt_scope", "cannot grow the scope to %zu tensors", capacity);
            return NULL;
        }
        scopes.items = items;
        scopes.capacity = capacity;
    }
    atomic_fetch_add_explicit(&t->internal_refs, 1, memory_order_relaxed); /* the scope owns it */
    scopes.items[scopes.count++] = t;
    return t;
}

mt_scope mt_scope_begin(void)
{
    if (scopes.depth == scopes.depth_capacity) {
        int capacity = scopes.depth_capacity ? scopes.depth_capacity * 2 : 16;
        size_t *starts = mti_realloc(scopes.starts, (size_t)capacity * sizeof *starts);
        if (!starts) {
            mti_fail(MT_ERR_NO_MEMORY, "mt_scope_begin", "cannot open scope %d", scopes.depth + 1);
            return (mt_scope){-1};
        }
        scopes.starts = starts;
        scopes.depth_capacity = capacity;
    }
    scopes.starts[scopes.depth] = scopes.count;
    return (mt_scope){++scopes.depth};
}

mt_status mt_scope_end(mt_scope scope)
{
    if (scopes.depth == 0)
        return mti_fail(MT_ERR_SCOPE, "mt_scope_end", "no scope is open on this thread");
    if (scope.depth != scopes.depth)
        return mti_fail(MT_ERR_SCOPE, "mt_scope_end",
                        "scope %d is not the innermost open scope (%d): end scopes in reverse "
                        "order, once each",
                        scope.depth, scopes.depth);
    size_t start = scopes.starts[--scopes.depth];
    while (scopes.count > start) mti_unhold(scopes.items[--scopes.count]);
    if (scopes.depth == 0) { /* give the arrays back so a finished thread leaves nothing behind */
        mti_free(scopes.items);
        mti_free(scopes.starts);
        scopes = (scope_stack){0};
    }
    return MT_OK;
}

int mt_scope_depth(void) { return scopes.depth; }
