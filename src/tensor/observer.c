/* The thread's observer (see observer.h). */
#include "tensor/observer.h"

_Thread_local mti_observer_fn mti_observer_current;
_Thread_local void *mti_observer_self;

void mti_observer_set(mti_observer_fn fn, void *self)
{
    mti_observer_current = fn;
    mti_observer_self = fn ? self : NULL;
}

void mti_observe_storage(mti_event_kind kind, const mti_storage *s)
{
    if (!mti_observer_current) return;
    mti_event e = {.kind = kind, .storage = s};
    mti_observer_current(mti_observer_self, &e);
}

void mti_observe_fill(const mt_tensor *t, float value)
{
    if (!mti_observer_current) return;
    mti_strided v = mti_strided_of(t);
    mti_event e = {.kind = MTI_EVENT_FILL, .views = 1, .view = {&v}, .value = value};
    mti_observer_current(mti_observer_self, &e);
}

void mti_observe_opaque(const char *what)
{
    if (!mti_observer_current) return;
    mti_event e = {.kind = MTI_EVENT_OPAQUE, .what = what};
    mti_observer_current(mti_observer_self, &e);
}
