/* Observing what a step does, for capture into a plan (src/plan). A thread may install one
 * observer; while it is set, the layers report to it every storage allocation and release, every
 * kernel call (from kernels/dispatch.c), every write into tensor data made outside the kernels
 * (fills, parameter updates) and, by name, any write that cannot be replayed. Other threads are
 * unaffected (the observer is thread-local), and without an observer each report is one
 * thread-local load and a branch. */
#ifndef MTI_TENSOR_OBSERVER_H
#define MTI_TENSOR_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "tensor/hook.h"
#include "tensor/tensor_impl.h"
#include "tensor/update.h"

typedef enum mti_event_kind {
    MTI_EVENT_STORAGE_NEW,  /* storage allocated */
    MTI_EVENT_STORAGE_FREE, /* storage about to be released */
    MTI_EVENT_STORAGE_SEEN, /* a kernel view of this storage was made (binds pre-existing storage) */
    MTI_EVENT_MAP,
    MTI_EVENT_ZIP,
    MTI_EVENT_REDUCE,
    MTI_EVENT_MATMUL,
    MTI_EVENT_ZIP3,          /* op (mti_ternary_op) over view[0] = f(view[1], view[2], view[3]) */
    MTI_EVENT_ROWS,          /* op (mti_row_op) of view[1] along `dim` into view[0] */
    MTI_EVENT_ROWS_BACKWARD, /* op's gradient: dx view[0] from y view[1] and g view[2] along dim */
    MTI_EVENT_NLL_SOFTMAX_BACKWARD, /* dx view[0] from logits, lse, labels views[1..3]; its scale
                                       is value * view[4][0] (the incoming gradient, at run time) */
    MTI_EVENT_FILL,   /* every element of view[0] set to `value` */
    MTI_EVENT_UPDATE, /* update(context, ...) over view[0] (target) and view[1] (source or none) */
    MTI_EVENT_OPAQUE, /* a write that cannot be replayed: `what` names it */
    MTI_EVENT_HOOK    /* `hook` ran (tensor/hook.h) over hook_views[0 .. hook->count) */
} mti_event_kind;

#define MTI_UPDATE_CONTEXT_BYTES 32

typedef struct mti_event {
    mti_event_kind kind;
    const mti_storage *storage; /* STORAGE_* */
    int op;                     /* MAP/ZIP/REDUCE op, REDUCE dim in `dim` */
    int dim;
    float params[2];
    int views;                      /* used entries of view[] */
    const mti_strided *view[5];     /* out first; matmul: out, a, b, bias (or NULL) */
    bool trans_a, trans_b, accumulate;
    float value;                    /* FILL */
    mti_update_run update;          /* UPDATE */
    unsigned char context[MTI_UPDATE_CONTEXT_BYTES];
    bool has_source;
    const char *what;               /* OPAQUE */
    const mti_hook *hook;           /* HOOK: valid during the report only */
    const mti_strided *const *hook_views; /* HOOK: per operand, NULL when absent */
} mti_event;

typedef void (*mti_observer_fn)(void *self, const mti_event *event);

/* Installs (or with fn NULL removes) this thread's observer. */
void mti_observer_set(mti_observer_fn fn, void *self);

extern _Thread_local mti_observer_fn mti_observer_current;
extern _Thread_local void *mti_observer_self;

static inline bool mti_observing(void) { return mti_observer_current != NULL; }

static inline void mti_observe(const mti_event *event)
{
    if (mti_observer_current) mti_observer_current(mti_observer_self, event);
}

/* Suspends this thread's observer until mti_observer_resume (what runs in between is not
 * reported: a hook's own writes, which the hook replays itself). */
typedef struct mti_observer_saved {
    mti_observer_fn fn;
    void *self;
} mti_observer_saved;

static inline mti_observer_saved mti_observer_pause(void)
{
    const mti_observer_saved saved = {mti_observer_current, mti_observer_self};
    mti_observer_current = NULL;
    mti_observer_self = NULL;
    return saved;
}

static inline void mti_observer_resume(mti_observer_saved saved)
{
    mti_observer_current = saved.fn;
    mti_observer_self = saved.self;
}

/* Convenience reporters (no-ops without an observer); mti_observe_opaque is declared in
 * tensor_internal.h for the nn layer. */
void mti_observe_storage(mti_event_kind kind, const mti_storage *s);
void mti_observe_fill(const mt_tensor *t, float value);

#endif
