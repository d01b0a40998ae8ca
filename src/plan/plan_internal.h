/* Captured steps: the record taken while the step runs (capture.c), the plan built from it
 * (build.c: fusion, buffer assignment, pointer remapping) and its replay (run.c). */
#ifndef MTI_PLAN_INTERNAL_H
#define MTI_PLAN_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/layout.h"
#include "minitorch/plan.h"
#include "tensor/observer.h"

/* ---- the record ---- */

typedef enum { MTI_STORE_BOUND, MTI_STORE_TEMP, MTI_STORE_KEPT } mti_store_kind;

/* A storage the step touched. BOUND: existed before the step (held by the record and the plan).
 * TEMP: allocated and freed by the step. KEPT: allocated by the step and alive after it (held). */
typedef struct mti_store {
    mti_storage *storage;
    float *base;
    int64_t numel;
    mti_store_kind kind;
    bool alive;
    bool written;
} mti_store;

/* An operand: a view of a store (store -1: none). */
typedef struct mti_rec_view {
    int store;
    int64_t offset;
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    int64_t strides[MT_MAX_DIMS];
} mti_rec_view;

/* A recorded hook (tensor/hook.h): its description (operands NULL; the owner held through
 * retain) and one view per operand (store -1: absent), with how the hook uses it. */
typedef struct mti_rec_hook {
    mti_hook desc;
    mti_rec_view *view;
    unsigned char *access;
} mti_rec_hook;

mti_rec_hook *mti_rec_hook_new(const mti_hook *hook);
void mti_rec_hook_free(mti_rec_hook *h);

typedef struct mti_rec_call {
    mti_event_kind kind; /* MAP, ZIP, REDUCE, MATMUL, FILL, UPDATE, HOOK */
    int op, dim;
    mti_params params;
    bool trans_a, trans_b, accumulate;
    float value;
    mti_update_run update;
    unsigned char context[MTI_UPDATE_CONTEXT_BYTES];
    int views;
    mti_rec_view view[5]; /* out first */
    mti_rec_hook *hook;   /* HOOK (its views are hook->view[0 .. desc.count)) */
} mti_rec_call;

typedef struct mti_record {
    mti_store *stores;
    int store_count, store_capacity;
    mti_rec_call *calls;
    int call_count, call_capacity;
    int64_t temp_bytes, temp_peak_bytes;
    mt_status status; /* the first failure while recording */
    char message[256];
} mti_record;

void mti_record_free(mti_record *r);

/* ---- the plan ---- */

typedef enum { MTI_INSTR_KERNEL, MTI_INSTR_FUSED } mti_instr_kind;

/* Elementwise calls in one fused group at most (a longer chain continues in the next group). */
#define MTI_PLAN_MAX_FUSED 32

typedef struct mti_fused_op {
    bool zip;
    int op;
    mti_params params;
    mti_layout layout; /* the op's own iteration, exactly as its kernel would build it */
    int slot[3];       /* per operand: a tile buffer slot, or -1 for memory */
} mti_fused_op;

/* A hook in a plan: its description (owner held) and its operands' views resolved. */
typedef struct mti_plan_hook {
    mti_hook desc;
    mti_strided *views;
    const mti_strided **pointers; /* per operand: &views[k], or NULL when absent */
} mti_plan_hook;

mti_plan_hook *mti_plan_hook_new(const mti_rec_hook *h);
void mti_plan_hook_free(mti_plan_hook *h);
/* Why the hook cannot run now (see mti_hook.stale), or NULL. */
const char *mti_hook_stale(const mti_hook *hook);
/* Calls the hook on its resolved views (one trace line). */
mt_status mti_plan_hook_run(const mti_plan_hook *h);

typedef struct mti_instr {
    mti_instr_kind kind;
    /* KERNEL: one recorded call with resolved views; a matrix product may carry the activation
     * that followed it as its epilogue (the map's output resolved into epilogue.out) */
    mti_rec_call call;
    mti_strided view[5];
    bool has_view[5];
    bool has_epilogue;
    mti_matmul_epilogue epilogue;
    mti_plan_hook *hook; /* a HOOK call (call.hook is NULL in the plan) */
    /* FUSED */
    mti_fused_op *ops;
    int op_count;
    int slots;
    int64_t items, tile_len, work;
    char *name; /* "fused:sigmoid+mul+add" for the trace */
    /* FUSED ending in a reduction over the last dim of the last op's (contiguous) output: each
     * item is one output's n terms, or one block of them (items_per_output > 1); its result
     * lands in results[item], and the outputs are finished from those after the pass */
    bool reduces;
    mti_reduce_op reduce_op;
    int64_t reduce_n, items_per_output;
    mti_strided reduce_out; /* the reduction's output view */
    float *results;
} mti_instr;

struct mt_plan {
    const mti_kernels *kernels; /* the backend at capture */
    mti_instr *instrs;
    int instr_count;
    mti_storage **held; /* bound and kept storage (one reference each) */
    bool *held_written;
    bool *held_checked; /* existed before the step: its release since capture is an error (a
                           kept output released by the caller is not: runs still write it) */
    int held_count;
    float *arena;
    size_t arena_capacity;
    float *tiles;
    size_t tiles_capacity;
    int tile_threads;
    int64_t tile_floats_per_thread;
    atomic_flag running;
    mt_plan_stats stats;
};

/* Builds the plan from a finished record (takes over the record's held storage). */
mt_status mti_plan_build(const char *fn, mti_record *r, mt_plan **out);

#endif
