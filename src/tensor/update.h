/* Internal: the one place where the nn layer writes into a parameter's (or a gradient's) values
 * in place — gradient clipping and the init functions go through mti_update_param, mt_sgd_step
 * through mti_update_param_replayable, optimiser steps and dropout masks through hooks
 * (tensor/hook.h) that walk views with mti_update_views — so bookkeeping every in-place write
 * needs is added here once. */
#ifndef MTI_TENSOR_UPDATE_H
#define MTI_TENSOR_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/tensor_internal.h"

/* Updates one run of consecutive elements (in the row-major order of the target's shape):
 * element k of the run is target[k * target_stride] and source[k * source_stride] (source is NULL
 * when there is none); `first` is the row-major ordinal of the run's first element, so state kept
 * in row-major order is indexed state[first + k]. Must only touch those elements (runs may be
 * processed on several threads at once). */
typedef void (*mti_update_run)(void *context, int64_t first, int64_t n, float *target,
                               int64_t target_stride, const float *source, int64_t source_stride);

/* True when `t` can be written element by element: no zero (expanded) strides. */
bool mti_writable_layout(const mt_tensor *t);

/* Calls `run` over every element of `target` (paired with `source`, of the same shape, or NULL),
 * in runs along the last dim (the whole tensor at once when both are contiguous), spread over
 * threads for large tensors. Each element is visited once; the result does not depend on the
 * thread count as long as `run` treats elements independently. `target` must satisfy
 * mti_writable_layout. Allocates nothing and cannot fail. */
void mti_update_param(mt_tensor *target, const mt_tensor *source, mti_update_run run,
                      void *context);

/* mti_update_param for an update that a capture (src/plan) may replay: `context` is plain data
 * of `context_bytes` (at most 32) that `run` only reads, so a copy replays it. */
void mti_update_param_replayable(mt_tensor *target, const mt_tensor *source, mti_update_run run,
                                 const void *context, size_t context_bytes);

/* The walk of mti_update_param over kernel views (source NULL or of the target's shape), without
 * version bookkeeping: the replay of a captured update. */
struct mti_strided;
void mti_update_views(const struct mti_strided *target, const struct mti_strided *source,
                      mti_update_run run, void *context);
/* The view mti_update_views walks for t: its strided view, a 0-dim tensor as one element of a
 * 1-dim view. */
struct mti_strided mti_update_view(const mt_tensor *t);

/* The same walk read-only, on the calling thread, in row-major order (for reductions that must
 * not depend on the thread count). */
void mti_read_runs(const mt_tensor *t, mti_update_run run, void *context);

#endif
