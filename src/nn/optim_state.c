/* An optimiser's per-parameter state (step count and buffers), read and restored for
 * checkpoints. */
#include <stdint.h>
#include <string.h>

#include "nn/optim_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"

int mt_optim_state_buffers(const mt_optimizer *optimizer)
{
    if (!optimizer) return mti_fail_null("mt_optim_state_buffers", "optimizer"), -1;
    return optimizer->buffers;
}

static mt_status check_index(const char *fn, const mt_optimizer *opt, int i)
{
    if (!opt) return mti_fail_null(fn, "optimizer");
    if (i < 0 || i >= opt->count)
        return mti_fail(MT_ERR_INDEX, fn, "parameter %d is out of range [0, %d)", i, opt->count);
    return MT_OK;
}

mt_status mt_optim_state_get(const mt_optimizer *optimizer, int i, int64_t *steps,
                             float *const *buffers)
{
    static const char fn[] = "mt_optim_state_get";
    mt_status status = check_index(fn, optimizer, i);
    if (status != MT_OK) return status;
    if (!steps) return mti_fail_null(fn, "steps");
    const int n = optimizer->buffers;
    for (int b = 0; buffers && b < n; b++)
        if (!buffers[b]) return mti_fail(MT_ERR_NULL, fn, "buffers[%d] is NULL", b);
    const mti_param_state *state = &optimizer->state[i];
    const size_t numel = (size_t)mt_numel(optimizer->params[i]);
    for (int b = 0; buffers && b < n; b++) {
        if (state->buffer[b])
            memcpy(buffers[b], state->buffer[b], numel * sizeof(float));
        else
            memset(buffers[b], 0, numel * sizeof(float));
    }
    *steps = state->steps;
    return MT_OK;
}

mt_status mt_optim_state_set(mt_optimizer *optimizer, int i, int64_t steps,
                             const float *const *buffers)
{
    static const char fn[] = "mt_optim_state_set";
    mt_status status = check_index(fn, optimizer, i);
    if (status != MT_OK) return status;
    if (steps < 0) return mti_fail(MT_ERR_INVALID_ARG, fn, "steps must be >= 0, got %lld", (long long)steps);
    mti_param_state *state = &optimizer->state[i];
    const int n = optimizer->buffers;
    if (steps == 0) { /* back to a parameter that has not stepped: no state */
        for (int b = 0; b < MTI_OPTIM_MAX_BUFFERS; b++) {
            mti_free(state->buffer[b]);
            state->buffer[b] = NULL;
        }
        state->steps = 0;
        return MT_OK;
    }
    if (n > 0 && !buffers) return mti_fail_null(fn, "buffers");
    for (int b = 0; b < n; b++)
        if (!buffers[b]) return mti_fail(MT_ERR_NULL, fn, "buffers[%d] is NULL", b);
    /* allocate what is missing first, so a failure changes nothing */
    const int64_t numel = mt_numel(optimizer->params[i]);
    float *fresh[MTI_OPTIM_MAX_BUFFERS] = {NULL};
    for (int b = 0; b < n; b++) {
        if (state->buffer[b]) continue;
        fresh[b] = (uint64_t)numel <= SIZE_MAX / sizeof(float) ? mti_malloc((size_t)numel * sizeof(float)) : NULL;
        if (!fresh[b]) {
            for (int k = 0; k < b; k++) mti_free(fresh[k]);
            return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the state of parameter %d", i);
        }
    }
    for (int b = 0; b < n; b++) {
        if (fresh[b]) state->buffer[b] = fresh[b];
        memcpy(state->buffer[b], buffers[b], (size_t)numel * sizeof(float));
    }
    state->steps = steps;
    return MT_OK;
}
