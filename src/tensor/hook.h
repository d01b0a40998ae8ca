/* Hooks: a call back into a higher layer (an optimiser step, a dropout mask) that a captured plan
 * (src/plan) replays at run time on the live state of its owner, where recording what the call
 * wrote would freeze it (an optimiser's step count, a dropout layer's next mask).
 *
 * The caller describes the call: a run function, its owner (`self`), a little plain data, and the
 * tensors it reads or writes. mti_hook_call runs it now over views of those tensors; while a
 * capture is observing, it is also recorded with those views, and the plan calls the same run
 * function on every replay with the views resolved to the plan's memory (so eager and replayed
 * arithmetic are the same code). The run function sees the tensors only through the views it is
 * given (walk them with mti_update_views, tensor/update.h), may change its owner's own state, and
 * must not create or release tensors: nothing it does is observed. */
#ifndef MTI_TENSOR_HOOK_H
#define MTI_TENSOR_HOOK_H

#include <stdint.h>

#include "minitorch/error.h"
#include "tensor/tensor_internal.h"

struct mti_strided;

/* How a hook uses an operand. */
enum { MTI_HOOK_READ = 1, MTI_HOOK_WRITE = 2 };

#define MTI_HOOK_CONTEXT_BYTES 32

/* views[k] is operand k's view, NULL when that operand is absent; count is the hook's operand
 * count. Returns MT_OK, or a failure set with mti_fail (having written nothing, if it can). */
typedef mt_status (*mti_hook_run)(void *self, const void *context,
                                  const struct mti_strided *const *views, int count);

typedef struct mti_hook_operand {
    mt_tensor *tensor; /* NULL: absent (its view is NULL) */
    unsigned char access; /* MTI_HOOK_READ and/or MTI_HOOK_WRITE */
} mti_hook_operand;

typedef struct mti_hook {
    const char *name;  /* the public function it stands for, in traces and errors (static) */
    mti_hook_run run;
    void *self;        /* the owner, passed to run (may be NULL) */
    /* A plan holds the owner while it keeps the hook: retain/release (NULL when the owner cannot
     * be held: it must then outlive the plan). */
    void (*retain)(void *self);
    void (*release)(void *self);
    /* Why the hook cannot run now (its owner was freed, or changed so that the recorded call no
     * longer matches it), or NULL when it can; NULL function: always can. */
    const char *(*stale)(const void *self, const void *context);
    unsigned char context[MTI_HOOK_CONTEXT_BYTES]; /* plain data, copied with the hook */
    int count;
    const mti_hook_operand *operands; /* count entries */
} mti_hook;

/* Runs the hook now (unobserved), bumps the version of every written operand on success, and
 * reports it to a capturing observer. Returns run's status, or MT_ERR_NO_MEMORY (named as the
 * hook) when more than a few dozen operands need a view array and it cannot be allocated. */
mt_status mti_hook_call(const mti_hook *hook);

#endif
