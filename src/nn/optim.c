/* Optimiser objects: creation and option checks, per-parameter state, and the all-or-nothing
 * step (the update rules are in optim_sgd.c and optim_adam.c). */
#include <math.h>
#include <stdint.h>

#include "minitorch/autodiff.h"
#include "nn/optim_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"

mt_sgd_options mt_sgd_defaults(void)
{
    return (mt_sgd_options){.lr = 1e-3f, .momentum = 0.0f, .dampening = 0.0f,
                            .weight_decay = 0.0f, .nesterov = false};
}

mt_adam_options mt_adam_defaults(void)
{
    return (mt_adam_options){.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                             .weight_decay = 0.0f, .amsgrad = false};
}

mt_adam_options mt_adamw_defaults(void)
{
    mt_adam_options o = mt_adam_defaults();
    o.weight_decay = 1e-2f;
    return o;
}

/* ---- option checks: the message names the function, the option and its value ---- */

static mt_status at_least_zero(const char *fn, const char *name, float value)
{
    if (value >= 0.0f && isfinite(value)) return MT_OK;
    return mti_fail(MT_ERR_INVALID_ARG, fn, "%s must be finite and >= 0, got %g", name, (double)value);
}

static mt_status in_unit_interval(const char *fn, const char *name, float value)
{
    if (value >= 0.0f && value < 1.0f) return MT_OK;
    return mti_fail(MT_ERR_INVALID_ARG, fn, "%s must be in [0, 1), got %g", name, (double)value);
}

static mt_status check_sgd(const char *fn, const mt_sgd_options *o)
{
    mt_status s;
    if ((s = at_least_zero(fn, "lr", o->lr)) != MT_OK) return s;
    if ((s = at_least_zero(fn, "momentum", o->momentum)) != MT_OK) return s;
    if ((s = at_least_zero(fn, "weight_decay", o->weight_decay)) != MT_OK) return s;
    if (!isfinite(o->dampening))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "dampening must be finite, got %g", (double)o->dampening);
    if (o->nesterov && (o->momentum <= 0.0f || o->dampening != 0.0f))
        return mti_fail(MT_ERR_INVALID_ARG, fn,
                        "nesterov needs momentum > 0 and dampening = 0, got momentum %g, dampening %g",
                        (double)o->momentum, (double)o->dampening);
    return MT_OK;
}

static mt_status check_adam(const char *fn, const mt_adam_options *o)
{
    mt_status s;
    if ((s = at_least_zero(fn, "lr", o->lr)) != MT_OK) return s;
    if ((s = at_least_zero(fn, "eps", o->eps)) != MT_OK) return s;
    if ((s = in_unit_interval(fn, "beta1", o->beta1)) != MT_OK) return s;
    if ((s = in_unit_interval(fn, "beta2", o->beta2)) != MT_OK) return s;
    return at_least_zero(fn, "weight_decay", o->weight_decay);
}

/* ---- creation ---- */

static mt_status check_params(const char *fn, const mt_params *params)
{
    if (!params) return mti_fail_null(fn, "params");
    if (params->count < 1 || !params->items)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "the parameter list is empty");
    for (int i = 0; i < params->count; i++) {
        const mt_tensor *p = params->items[i];
        if (!p) return mti_fail(MT_ERR_NULL, fn, "parameter %d is NULL", i);
        if (!mti_writable_layout(p))
            return mti_fail(MT_ERR_INVALID_ARG, fn,
                            "parameter %d is an expanded view (a zero stride): cannot be updated", i);
        for (int j = 0; j < i; j++)
            if (params->items[j] == p)
                return mti_fail(MT_ERR_INVALID_ARG, fn, "parameters %d and %d are the same tensor", j, i);
    }
    return MT_OK;
}

static mt_optimizer *create(const char *fn, const mt_params *params, mti_optim_kind kind,
                            float lr, int buffers)
{
    mt_optimizer *opt = mti_calloc(1, sizeof *opt);
    mt_tensor **items = opt ? mti_calloc((size_t)params->count, sizeof *items) : NULL;
    mti_param_state *state = items ? mti_calloc((size_t)params->count, sizeof *state) : NULL;
    mti_hook_operand *operands = state ? mti_calloc(2 * (size_t)params->count, sizeof *operands) : NULL;
    if (!operands) {
        mti_free(state);
        mti_free(items);
        mti_free(opt);
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate an optimiser over %d parameters", params->count);
        return NULL;
    }
    for (int i = 0; i < params->count; i++) items[i] = mti_hold(params->items[i]);
    *opt = (mt_optimizer){.kind = kind, .lr = lr, .buffers = buffers, .count = params->count,
                          .params = items, .state = state, .operands = operands};
    atomic_init(&opt->refs, 1);
    return opt;
}

mt_optimizer *mt_optim_sgd(const mt_params *params, mt_sgd_options options)
{
    static const char fn[] = "mt_optim_sgd";
    if (check_params(fn, params) != MT_OK || check_sgd(fn, &options) != MT_OK) return NULL;
    mt_optimizer *opt = create(fn, params, MTI_OPTIM_SGD, options.lr, options.momentum != 0.0f);
    if (opt) opt->sgd = options;
    return opt;
}

static mt_optimizer *adam(const char *fn, const mt_params *params, mt_adam_options options,
                          mti_optim_kind kind)
{
    if (check_params(fn, params) != MT_OK || check_adam(fn, &options) != MT_OK) return NULL;
    mt_optimizer *opt = create(fn, params, kind, options.lr, options.amsgrad ? 3 : 2);
    if (opt) opt->adam = options;
    return opt;
}

mt_optimizer *mt_optim_adam(const mt_params *params, mt_adam_options options)
{
    return adam("mt_optim_adam", params, options, MTI_OPTIM_ADAM);
}

mt_optimizer *mt_optim_adamw(const mt_params *params, mt_adam_options options)
{
    return adam("mt_optim_adamw", params, options, MTI_OPTIM_ADAMW);
}

static void free_buffers(mti_param_state *state)
{
    for (int b = 0; b < MTI_OPTIM_MAX_BUFFERS; b++) {
        mti_free(state->buffer[b]);
        state->buffer[b] = NULL;
    }
}

/* References to the object (see optim_internal.h): a captured plan holds the step it recorded. */
static void optim_retain(void *self)
{
    mt_optimizer *opt = self;
    atomic_fetch_add_explicit(&opt->refs, 1, memory_order_relaxed);
}

static void optim_release(void *self)
{
    mt_optimizer *opt = self;
    if (atomic_fetch_sub_explicit(&opt->refs, 1, memory_order_acq_rel) == 1) mti_free(opt);
}

void mt_optim_free(mt_optimizer *optimizer)
{
    if (!optimizer) return;
    for (int i = 0; i < optimizer->count; i++) {
        free_buffers(&optimizer->state[i]);
        mti_unhold(optimizer->params[i]);
    }
    mti_free(optimizer->state);
    mti_free(optimizer->params);
    mti_free(optimizer->operands);
    optimizer->count = 0;
    optimizer->params = NULL;
    optimizer->state = NULL;
    optimizer->operands = NULL;
    optimizer->freed = true;
    optim_release(optimizer);
}

/* ---- the step ---- */

/* The step is a hook (tensor/hook.h) over operands 2i (parameter i, read and written) and 2i + 1
 * (its gradient, read), both absent for a parameter without a gradient: eagerly it runs on the
 * tensors, in a captured plan on the plan's views, always on the optimiser's live state (step
 * counts, learning rate, buffers). */

/* Zeroed state buffers for every parameter about to take its first step. On failure the ones
 * made here are freed again, so the state is as before. */
static mt_status allocate_first_state(const char *fn, mt_optimizer *opt,
                                      const struct mti_strided *const *views)
{
    int i;
    for (i = 0; i < opt->count; i++) {
        const mt_tensor *p = opt->params[i];
        mti_param_state *state = &opt->state[i];
        if (!views[2 * i + 1] || state->steps > 0 || opt->buffers == 0) continue;
        for (int b = 0; b < opt->buffers; b++) {
            state->buffer[b] = (uint64_t)mt_numel(p) <= SIZE_MAX / sizeof(float)
                                   ? mti_calloc((size_t)mt_numel(p), sizeof(float))
                                   : NULL;
            if (!state->buffer[b]) goto out_of_memory;
        }
    }
    return MT_OK;
out_of_memory:
    for (int j = 0; j <= i; j++)
        if (views[2 * j + 1] && opt->state[j].steps == 0) free_buffers(&opt->state[j]);
    return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the state of parameter %d", i);
}

static mt_status step_views(void *self, const void *context, const struct mti_strided *const *views,
                            int count)
{
    (void)context;
    (void)count;
    mt_optimizer *opt = self;
    mt_status status = allocate_first_state("mt_optim_step", opt, views);
    if (status != MT_OK) return status;
    for (int i = 0; i < opt->count; i++) {
        if (!views[2 * i + 1]) continue;
        mti_param_state *state = &opt->state[i];
        state->steps++;
        if (opt->kind == MTI_OPTIM_SGD)
            mti_sgd_update(opt, views[2 * i], views[2 * i + 1], state);
        else
            mti_adam_update(opt, views[2 * i], views[2 * i + 1], state);
    }
    return MT_OK;
}

static const char *optim_stale(const void *self, const void *context)
{
    (void)context;
    const mt_optimizer *opt = self;
    return opt->freed ? "the optimiser was freed (mt_optim_free) after the capture" : NULL;
}

mt_status mt_optim_step(mt_optimizer *optimizer)
{
    static const char fn[] = "mt_optim_step";
    if (!optimizer) return mti_fail_null(fn, "optimizer");
    for (int i = 0; i < optimizer->count; i++) {
        mt_tensor *p = optimizer->params[i], *g = mti_tensor_grad(p);
        optimizer->operands[2 * i] = (mti_hook_operand){g ? p : NULL, MTI_HOOK_READ | MTI_HOOK_WRITE};
        optimizer->operands[2 * i + 1] = (mti_hook_operand){g, MTI_HOOK_READ};
    }
    const mti_hook hook = {.name = fn, .run = step_views, .self = optimizer, .retain = optim_retain,
                           .release = optim_release, .stale = optim_stale,
                           .count = 2 * optimizer->count, .operands = optimizer->operands};
    return mti_hook_call(&hook);
}

mt_status mt_optim_zero_grad(mt_optimizer *optimizer)
{
    if (!optimizer) return mti_fail_null("mt_optim_zero_grad", "optimizer");
    for (int i = 0; i < optimizer->count; i++) mt_zero_grad(optimizer->params[i]);
    return MT_OK;
}

mt_status mt_optim_set_lr(mt_optimizer *optimizer, float lr)
{
    static const char fn[] = "mt_optim_set_lr";
    if (!optimizer) return mti_fail_null(fn, "optimizer");
    mt_status status = at_least_zero(fn, "lr", lr);
    if (status == MT_OK) optimizer->lr = lr;
    return status;
}

float mt_optim_get_lr(const mt_optimizer *optimizer)
{
    if (!optimizer) return mti_fail_null("mt_optim_get_lr", "optimizer"), NAN;
    return optimizer->lr;
}
