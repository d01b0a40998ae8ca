/* Backend selection: MINITORCH_BACKEND read once at first use, overridable through the API. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "runtime/runtime.h"

static atomic_int current_backend = MT_BACKEND_BLAS;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static int backend_from_name(const char *name)
{
    if (strcmp(name, "naive") == 0) return MT_BACKEND_NAIVE;
    if (strcmp(name, "blas") == 0) return MT_BACKEND_BLAS;
    return -1;
}

static void read_environment(void)
{
    const char *value = getenv("MINITORCH_BACKEND");
    if (!value || !*value) return;
    int backend = backend_from_name(value);
    if (backend < 0) {
        /* A configuration mistake, not an API error: say it once so the run is not misread. */
        fprintf(stderr,
                "minitorch: MINITORCH_BACKEND=\"%s\" is not a backend (accepted: naive, blas); "
                "using blas\n", value);
        return;
    }
    atomic_store(&current_backend, backend);
}

/* A backend pinned on this thread for the length of a multi-kernel operation (-1: none). */
static _Thread_local int pinned_backend = -1;

mt_backend mti_backend(void)
{
    if (pinned_backend >= 0) return (mt_backend)pinned_backend;
    pthread_once(&env_once, read_environment);
    return (mt_backend)atomic_load_explicit(&current_backend, memory_order_relaxed);
}

mt_backend mti_backend_pin(mt_backend backend)
{
    mt_backend previous = pinned_backend >= 0 ? (mt_backend)pinned_backend : (mt_backend)-1;
    pinned_backend = (int)backend;
    return previous;
}

mt_backend mt_get_backend(void) { return mti_backend(); }

mt_status mt_set_backend(mt_backend backend)
{
    if (backend != MT_BACKEND_NAIVE && backend != MT_BACKEND_BLAS)
        return mti_fail(MT_ERR_BACKEND, "mt_set_backend", "%d is not a backend (0 naive, 1 blas)",
                        (int)backend);
    pthread_once(&env_once, read_environment);
    atomic_store(&current_backend, (int)backend);
    return MT_OK;
}

mt_status mt_set_backend_by_name(const char *name)
{
    if (!name) return mti_fail_null("mt_set_backend_by_name", "name");
    int backend = backend_from_name(name);
    if (backend < 0)
        return mti_fail(MT_ERR_BACKEND, "mt_set_backend_by_name",
                        "\"%.64s\" is not a backend (accepted: naive, blas)", name);
    return mt_set_backend((mt_backend)backend);
}

const char *mt_backend_name(mt_backend backend)
{
    switch (backend) {
    case MT_BACKEND_NAIVE: return "naive";
    case MT_BACKEND_BLAS: return "blas";
    }
    return NULL;
}
