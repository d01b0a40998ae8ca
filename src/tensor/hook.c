/* Running a hook now and reporting it to a capture (see hook.h). */
#include "tensor/hook.h"

#include <stdint.h>

#include "runtime/alloc.h"
#include "runtime/error.h"
#include "tensor/observer.h"
#include "tensor/tensor_impl.h"
#include "tensor/update.h"

/* Views for this many operands live on the stack (an optimiser over 16 parameters). */
#define STACK_VIEWS 32

mt_status mti_hook_call(const mti_hook *hook)
{
    const int count = hook->count > 0 ? hook->count : 0;
    mti_strided stack_views[STACK_VIEWS], *views = stack_views;
    const mti_strided *stack_pointers[STACK_VIEWS] = {0}, **pointers = stack_pointers;
    if (count > STACK_VIEWS) {
        views = (size_t)count <= SIZE_MAX / sizeof *views ? mti_malloc(sizeof *views * (size_t)count) : NULL;
        pointers = views ? mti_malloc(sizeof *pointers * (size_t)count) : NULL;
        if (!pointers) {
            mti_free(views);
            return mti_fail(MT_ERR_NO_MEMORY, hook->name, "cannot allocate the views of %d operands", count);
        }
    }
    for (int k = 0; k < count; k++) {
        const mt_tensor *t = hook->operands[k].tensor;
        if (t) views[k] = mti_update_view(t); /* what the run functions walk */
        pointers[k] = t ? &views[k] : NULL;
    }
    const bool observing = mti_observing();
    const mti_observer_saved saved = mti_observer_pause();
    mt_status status = hook->run(hook->self, hook->context, pointers, count);
    mti_observer_resume(saved);
    if (status == MT_OK) {
        for (int k = 0; k < count; k++)
            if (hook->operands[k].tensor && (hook->operands[k].access & MTI_HOOK_WRITE))
                mti_bump_version(hook->operands[k].tensor);
        if (observing)
            mti_observe(&(mti_event){.kind = MTI_EVENT_HOOK, .hook = hook, .hook_views = pointers});
    }
    if (views != stack_views) {
        mti_free(views);
        mti_free(pointers);
    }
    return status;
}
