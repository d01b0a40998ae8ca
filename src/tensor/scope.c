/* Scopes: per-thread stacks recording the references returned while they are open. One flat
 * array holds the recorded tensors of all open scopes; each scope remembers where it starts. */
#include <pthread.h>
#include <stdatomic.h>

#include "minitorch/scope.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "tensor/tensor_impl.h"

typedef struct scope_frame {
    size_t start;    /* first item of the scope */
    unsigned serial; /* the handle's serial */
} scope_frame;

typedef struct scope_stack {
    mt_tensor **items;
    size_t count, capacity;
    scope_frame *frames;
    int depth, depth_capacity;
} scope_stack;

static _Thread_local scope_stack scopes;
/* Serials are unique across threads, so a handle from another thread never matches. */
static atomic_uint next_serial;

/* A thread that exits with scopes open: its scopes end then (a thread-specific key's destructor),
 * so nothing recorded in them leaks. */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void release_all(void)
{
    while (scopes.count > 0) mti_unhold(scopes.items[--scopes.count]);
    mti_free(scopes.items);
    mti_free(scopes.frames);
    scopes = (scope_stack){0};
}

static void end_scopes_at_exit(void *unused)
{
    (void)unused;
    release_all();
}

static void create_exit_key(void) { pthread_key_create(&exit_key, end_scopes_at_exit); }

mt_tensor *mti_track(const char *fn, mt_tensor *t)
{
    if (!t || scopes.depth == 0) return t;
    if (scopes.count == scopes.capacity) {
        size_t capacity = scopes.capacity ? scopes.capacity * 2 : 256;
        mt_tensor **items = mti_realloc(scopes.items, capacity * sizeof *items);
        if (!items) {
            mti_unref(t);
            mti_fail(MT_ERR_NO_MEMORY, fn, "cannot record the result in the open scope (growing it "
                     "to %zu tensors failed)", capacity);
            return NULL;
        }
        scopes.items = items;
        scopes.capacity = capacity;
    }
    mti_adopt(t); /* the scope owns it */
    scopes.items[scopes.count++] = t;
    return t;
}

mt_scope mt_scope_begin(void)
{
    if (scopes.depth == scopes.depth_capacity) {
        int capacity = scopes.depth_capacity ? scopes.depth_capacity * 2 : 16;
        scope_frame *frames = mti_realloc(scopes.frames, (size_t)capacity * sizeof *frames);
        if (!frames) {
            mti_fail(MT_ERR_NO_MEMORY, "mt_scope_begin", "cannot open scope %d", scopes.depth + 1);
            return (mt_scope){-1, 0};
        }
        scopes.frames = frames;
        scopes.depth_capacity = capacity;
    }
    if (scopes.depth == 0) { /* first scope on this thread: end it if the thread exits */
        pthread_once(&exit_key_once, create_exit_key);
        pthread_setspecific(exit_key, &scopes);
    }
    unsigned serial = atomic_fetch_add(&next_serial, 1) + 1;
    scopes.frames[scopes.depth] = (scope_frame){scopes.count, serial};
    return (mt_scope){++scopes.depth, serial};
}

mt_status mt_scope_end(mt_scope scope)
{
    if (scopes.depth == 0)
        return mti_fail(MT_ERR_SCOPE, "mt_scope_end", "no scope is open on this thread");
    if (scope.depth != scopes.depth || scope.serial != scopes.frames[scopes.depth - 1].serial)
        return mti_fail(MT_ERR_SCOPE, "mt_scope_end",
                        "scope %d (serial %u) is not the innermost open scope (%d, serial %u): end "
                        "scopes in reverse order, once each",
                        scope.depth, scope.serial, scopes.depth,
                        scopes.frames[scopes.depth - 1].serial);
    size_t start = scopes.frames[--scopes.depth].start;
    while (scopes.count > start) mti_unhold(scopes.items[--scopes.count]);
    if (scopes.depth == 0) { /* give the arrays back so a finished thread leaves nothing behind */
        release_all();
        pthread_setspecific(exit_key, NULL);
    }
    return MT_OK;
}

int mt_scope_depth(void) { return scopes.depth; }
