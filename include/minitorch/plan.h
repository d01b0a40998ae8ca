/* minitorch-c: captured steps (automatic fusion).
 *
 * mt_plan_capture runs a step (a forward pass, mt_backward and mt_sgd_step, or any function of the
 * library's operations) once, eagerly, while recording every kernel call and every write it makes.
 * The plan built from that record replays the same arithmetic with no per-operation cost: no
 * tensor objects, no allocation, no autodiff history, kernels called directly, chains of
 * elementwise operations fused into one pass over cache-sized tiles whose intermediate values
 * never reach memory (a sum, product, max or min over the last dim of the chain's value runs in
 * the same pass), and the activation after a matrix product applied in the product's output pass.
 * Results are bitwise equal to running the step eagerly.
 *
 * Memory the step found existing and left alive (inputs, parameters, optimiser state) is *bound*:
 * each run reads and writes it in place, so change an input's contents (mt_tensor_data-style
 * writes, mt_set in no-grad mode, or copying into its buffer) between runs and read updated
 * parameters after. Tensors the step created and kept (a loss handed out through the context,
 * gradients left for the caller) are bound too: each run rewrites them. Everything the step
 * created and freed gets a buffer of the plan, shared between values whose lifetimes do not
 * overlap.
 *
 * Optimiser steps and dropout masks are replayed as calls on the live objects, as the eager calls
 * would be made: mt_optim_step(opt) in the step makes every run step `opt` again (its step counts,
 * bias corrections and learning rate are the optimiser's current ones, its gradients the ones the
 * run computed); mt_dropout with its seed draws the same mask every run; mt_dropout_layer_forward
 * draws the layer's next mask every run (advancing its `calls`). The plan holds the optimiser: if
 * the caller frees it with mt_optim_free, the plan can no longer run (mt_plan_run fails, see
 * below) rather than step parameters on behalf of an optimiser that no longer exists. A dropout
 * layer is the caller's struct and cannot be held: it must outlive the plan and stay at the
 * address it had at capture, in training mode with the same p (a run refuses a layer switched to
 * eval mode or given another p). mt_optim_zero_grad in the step is fine for gradients the step
 * created (they become the plan's intermediates); gradients left from before the step and used by
 * it (accumulated into by mt_backward) must not be released by it (see mt_plan_capture).
 * mt_loss_cross_entropy reads its labels array again at every run: keep the array alive and
 * write each batch's labels into it (a label outside the classes makes the run fail with
 * MT_ERR_INDEX).
 *
 * What cannot be captured makes the capture fail with a message naming it: mt_from_data or random
 * tensors created inside the step (create inputs before capturing), mt_arange, mt_linspace and
 * mt_eye inside the step, mt_one_hot, index gathers (mt_index_select, mt_embedding_layer_forward:
 * their index arrays are not reread), mt_set, init functions, gradient clipping, the gradients of
 * mt_max and mt_prod, an optimiser freed within the step. A plan replays the recorded shapes
 * only: a batch of another size needs its own input tensors and its own plan.
 */
#ifndef MINITORCH_PLAN_H
#define MINITORCH_PLAN_H

#include <stdint.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_plan mt_plan;

/** A step to capture: returns MT_OK or the status of its failure. */
typedef mt_status (*mt_plan_step)(void *context);

/** Runs step(context) once eagerly (its effects happen, as an ordinary call) while recording it,
 *  and builds a plan that replays it; *out receives the plan (free with mt_plan_free), NULL on
 *  failure. Fails with the step's own status if it fails, MT_ERR_INVALID_ARG naming the first
 *  operation that cannot be captured, or when a tensor that existed before the step was released
 *  by it (e.g. gradients left from an earlier backward: zero them before capturing); MT_ERR_NULL
 *  for a NULL step or out; MT_ERR_NO_MEMORY. A failed capture still ran the step (partially, if
 *  the step failed). Captures on one thread; kernels run on the usual thread count. */
MT_API mt_status mt_plan_capture(mt_plan_step step, void *context, mt_plan **out);

/** Replays the captured step: MT_OK, or (nothing written) MT_ERR_NULL for NULL,
 *  MT_ERR_INVALID_ARG when a bound tensor's storage has been released since capture (the plan
 *  keeps the memory valid, but the step's data is gone), when the step's optimiser has been freed
 *  with mt_optim_free or its dropout layer switched to eval mode or given another p since capture
 *  (the message names it), MT_ERR_SCOPE when the plan is already running on another thread. Runs
 *  on the backend current at capture. Creates no tensors and allocates no storage for values;
 *  matrix-product kernels still take their own packing scratch per call (from the storage cache),
 *  and an optimiser allocates the state of a parameter whose state was reset to step 0 with
 *  mt_optim_state_set (if either fails: MT_ERR_NO_MEMORY, earlier writes done). A label outside
 *  the classes in mt_loss_cross_entropy's array fails the run there with MT_ERR_INDEX (earlier
 *  writes done; the parameters are not updated by a step whose loss failed). */
MT_API mt_status mt_plan_run(mt_plan *plan);

/** Frees the plan and releases its hold on the bound storage and on the optimisers of its step
 *  (one the caller has freed is then gone). NULL is a no-op. */
MT_API void mt_plan_free(mt_plan *plan);

typedef struct mt_plan_stats {
    int64_t recorded_calls;   /* kernel calls and writes recorded in the step */
    int64_t instructions;     /* what a run executes: fused groups count once */
    int64_t fused_groups;     /* groups of two or more elementwise calls run as one pass */
    int64_t fused_calls;      /* calls inside those groups */
    int64_t tile_values;      /* intermediates kept in tile buffers only (never in memory) */
    int64_t bound_storages;   /* storages read/written in place */
    int64_t buffer_bytes;     /* the plan's buffers for intermediates */
    int64_t tile_bytes;       /* per-thread tile buffers of the fused groups */
    int64_t eager_peak_bytes; /* peak bytes of storage the eager step had allocated at once */
} mt_plan_stats;

/** Fills *stats: MT_OK, MT_ERR_NULL for a NULL argument. */
MT_API mt_status mt_plan_get_stats(const mt_plan *plan, mt_plan_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
