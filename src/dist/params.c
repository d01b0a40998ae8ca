/* Broadcasting parameters and averaging gradients, packed into buckets (one MPI call each).
 *
 * Values travel through one flat float buffer: packed from the tensors with mt_copy_to, sent
 * bucket by bucket, and written back only after every bucket has arrived, through store() —
 * the one place that writes into parameters and gradients. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "minitorch/autodiff.h"
#include "minitorch/scope.h"
#include "minitorch/ops.h"
#include "minitorch/tensor.h"

/* Per-parameter flags of the gradient exchange, OR-ed over the ranks. */
enum { HAS_GRAD = 1, LACKS_GRAD = 2, CANNOT_TAKE_GRAD = 4 };

/* The flat buffer and the per-parameter arrays, kept between calls (a training step reuses
 * them); freed by mt_dist_finalize. */
static float *buffer;
static int64_t buffer_floats;
static int *flags;
static unsigned char *chosen;
static int64_t flags_count;

static mt_status reserve(const char *fn, int64_t floats, int64_t count)
{
    if ((uint64_t)floats > SIZE_MAX / sizeof(float))
        return mti_dist_fail(MT_ERR_OVERFLOW, fn, "%lld floats do not fit in memory", (long long)floats);
    if (floats > buffer_floats) {
        float *bigger = realloc(buffer, (size_t)floats * sizeof(float));
        if (!bigger) return mti_dist_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %lld floats", (long long)floats);
        buffer = bigger;
        buffer_floats = floats;
    }
    if (count > flags_count) {
        int *more_flags = realloc(flags, (size_t)count * sizeof *flags);
        if (more_flags) flags = more_flags;
        unsigned char *more_chosen = more_flags ? realloc(chosen, (size_t)count) : NULL;
        if (!more_chosen) return mti_dist_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the flags");
        chosen = more_chosen;
        flags_count = count;
    }
    return MT_OK;
}

void mti_dist_release_buffers(void)
{
    free(buffer);
    free(flags);
    free(chosen);
    buffer = NULL;
    flags = NULL;
    chosen = NULL;
    buffer_floats = flags_count = 0;
}

/* What every rank must agree on before exchanging values. */
typedef struct layout {
    int64_t count, total, hash;
} layout;

/* Checks the list (no NULLs, each tensor one MPI message at most) and describes its layout. */
static mt_status check_params(const char *fn, const mt_params *params, layout *out)
{
    *out = (layout){0};
    if (!params) return mti_dist_fail(MT_ERR_NULL, fn, "params is NULL");
    if (params->count < 0)
        return mti_dist_fail(MT_ERR_INVALID_ARG, fn, "params->count is %d", params->count);
    if (params->count > 0 && !params->items)
        return mti_dist_fail(MT_ERR_NULL, fn, "params->items is NULL");
    uint64_t hash = 1469598103934665603u; /* FNV-1a over the element counts */
    for (int i = 0; i < params->count; i++) {
        const mt_tensor *p = params->items[i];
        if (!p) return mti_dist_fail(MT_ERR_NULL, fn, "parameter %d is NULL", i);
        int64_t n = mt_numel(p);
        if (n > INT32_MAX)
            return mti_dist_fail(MT_ERR_OVERFLOW, fn, "parameter %d has %lld elements, above 2^31-1",
                                 i, (long long)n);
        if (out->total > INT64_MAX / 2 - n)
            return mti_dist_fail(MT_ERR_OVERFLOW, fn, "the parameters' element count overflows");
        out->total += n;
        hash = (hash ^ (uint64_t)n) * 1099511628211u;
    }
    out->count = params->count;
    out->hash = (int64_t)(hash >> 2); /* >= 0, as mti_dist_agree needs */
    return MT_OK;
}

/* The collective start of both operations: local checks (after the caller's own, `local`),
 * buffers, then agreement. */
static mt_status begin_exchange(const char *fn, const mt_params *params, mt_status local,
                                layout *shape)
{
    *shape = (layout){0};
    mt_status status = mti_dist_require_active(fn);
    if (status != MT_OK) return status; /* no communicator: nothing collective is possible */
    status = local != MT_OK ? local : check_params(fn, params, shape);
    if (status == MT_OK) status = reserve(fn, shape->total, shape->count);
    const int64_t values[4] = {shape->count, shape->total, shape->hash, mti_dist.bucket_bytes};
    static const char *const names[4] = {"parameter count", "total element count",
                                         "parameter sizes (hash)", "bucket size in bytes"};
    return mti_dist_agree(fn, status, 4, values, names);
}

/* Writes `values` (a contiguous tensor of the parameter's shape) into the parameter itself, or
 * into its gradient (creating the gradient when it has none). Every write of this library into
 * parameters and gradients goes through here. */
static mt_status store(mt_tensor *param, bool into_grad, mt_tensor *values)
{
    mt_tensor *target = param;
    if (into_grad) {
        target = mt_grad(param);
        if (!target) /* no gradient yet: backward from the leaf itself gives it `values` */
            return mt_backward_with(param, values);
    }
    mt_no_grad_begin();
    mt_status status = mt_map_out(target, MT_OP_ID, values);
    mt_no_grad_end();
    return status;
}

/* Copies the flat buffer back into the chosen parameters (or their gradients): every source
 * tensor is made first, so an allocation failure writes nothing. */
static mt_status unpack(const char *fn, const mt_params *params, const unsigned char *chosen,
                        bool into_grad)
{
    mt_scope scope = mt_scope_begin();
    if (scope.depth < 0) return mti_dist_fail(MT_ERR_NO_MEMORY, fn, "cannot open a scope");
    mt_tensor **sources = calloc((size_t)params->count + 1, sizeof *sources);
    mt_status status = sources ? MT_OK : mti_dist_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate");
    int64_t offset = 0;
    for (int i = 0; i < params->count && status == MT_OK; i++) {
        mt_tensor *p = params->items[i];
        if (!chosen[i]) continue;
        sources[i] = mt_from_data(mt_ndim(p), mt_shape(p), buffer + offset);
        if (!sources[i]) status = mti_dist_fail(mt_last_status(), fn, "cannot unpack: %s", mt_last_error());
        offset += mt_numel(p);
    }
    for (int i = 0; i < params->count && status == MT_OK; i++)
        if (chosen[i] && store(params->items[i], into_grad, sources[i]) != MT_OK)
            status = mti_dist_fail(mt_last_status() ? mt_last_status() : MT_ERR_AUTODIFF, fn,
                                   "cannot write parameter %d: %s", i, mt_last_error());
    free(sources);
    mt_scope_end(scope);
    return status;
}

typedef enum exchange_kind { BROADCAST, ALLREDUCE } exchange_kind;

/* Sends the packed chosen parameters bucket by bucket: consecutive chosen parameters while they
 * fit in the bucket size, a larger one alone. */
static mt_status exchange_buckets(const char *fn, const mt_params *params,
                                  const unsigned char *chosen, exchange_kind kind)
{
    const int64_t bucket_floats = mti_dist.bucket_bytes / (int64_t)sizeof(float);
    int64_t start = 0, filled = 0;
    for (int i = 0; i <= params->count; i++) {
        int64_t n = i < params->count && chosen[i] ? mt_numel(params->items[i]) : 0;
        bool last = i == params->count;
        if (!last && n == 0) continue;
        if (filled > 0 && (last || filled + n > bucket_floats)) {
            int code = kind == BROADCAST
                           ? MPI_Bcast(buffer + start, (int)filled, MPI_FLOAT, 0, mti_dist.comm)
                           : MPI_Allreduce(MPI_IN_PLACE, buffer + start, (int)filled, MPI_FLOAT,
                                           MPI_SUM, mti_dist.comm);
            mt_status status = mti_dist_check(code, fn, kind == BROADCAST ? "MPI_Bcast" : "MPI_Allreduce");
            if (status != MT_OK) return status;
            start += filled;
            filled = 0;
        }
        filled += n;
    }
    return MT_OK;
}

mt_status mt_dist_broadcast_params(const mt_params *params)
{
    static const char fn[] = "mt_dist_broadcast_params";
    layout shape;
    mt_status status = begin_exchange(fn, params, MT_OK, &shape);
    if (status != MT_OK || shape.total == 0) return status;
    memset(chosen, 1, (size_t)shape.count);
    if (mti_dist.rank == 0) {
        int64_t offset = 0;
        for (int i = 0; i < shape.count; i++) {
            const int64_t n = mt_numel(params->items[i]);
            mt_copy_to(params->items[i], buffer + offset, n);
            offset += n;
        }
    }
    status = exchange_buckets(fn, params, chosen, BROADCAST);
    if (status == MT_OK && mti_dist.rank != 0) status = unpack(fn, params, chosen, false);
    return status;
}

/* This rank's flags for parameter p. */
static int gradient_flags(mt_tensor *p)
{
    /* mt_grad records an error when there is none (the caller restores its own); the reference
     * belongs to the caller's scope */
    if (mt_grad(p)) return HAS_GRAD;
    return LACKS_GRAD | (mt_is_leaf(p) && mt_requires_grad(p) ? 0 : CANNOT_TAKE_GRAD);
}

/* Packs the gradients of the chosen parameters (zeros where this rank has none); mt_grad's
 * references belong to the caller's scope. */
static void pack_gradients(const mt_params *params)
{
    int64_t offset = 0;
    for (int i = 0; i < params->count; i++) {
        if (!chosen[i]) continue;
        mt_tensor *p = params->items[i];
        const int64_t n = mt_numel(p);
        mt_tensor *g = mt_grad(p);
        if (g) {
            mt_copy_to(g, buffer + offset, n);
        } else {
            memset(buffer + offset, 0, (size_t)n * sizeof(float));
        }
        offset += n;
    }
}

/* buffer[0 .. n) /= size. Division (not a multiply by 1/size) keeps a power-of-two size exact
 * and every result correctly rounded. */
static void divide_by_size(int64_t n)
{
    const float size = (float)mti_dist.size;
    for (int64_t i = 0; i < n; i++) buffer[i] /= size;
}

/* The body of mt_dist_allreduce_grads once every rank agreed on the layout. */
static mt_status average_gradients(const char *fn, const mt_params *params, const layout *shape)
{
    /* Which parameters have a gradient where: one OR-reduce of a flag per parameter. */
    for (int i = 0; i < shape->count; i++) flags[i] = gradient_flags(params->items[i]);
    mt_status status = mti_dist_check(MPI_Allreduce(MPI_IN_PLACE, flags, (int)shape->count, MPI_INT,
                                                    MPI_BOR, mti_dist.comm),
                                      fn, "MPI_Allreduce (gradient flags)");
    int64_t floats = 0;
    for (int i = 0; status == MT_OK && i < shape->count; i++) {
        chosen[i] = (flags[i] & HAS_GRAD) != 0;
        if (chosen[i] && (flags[i] & CANNOT_TAKE_GRAD))
            status = mti_dist_fail(MT_ERR_DIST, fn,
                                   "parameter %d has a gradient on some ranks but cannot take one on "
                                   "others (not a leaf that requires grad)", i);
        if (chosen[i]) floats += mt_numel(params->items[i]);
    }
    if (status != MT_OK || floats == 0) return status;
    pack_gradients(params);
    status = exchange_buckets(fn, params, chosen, ALLREDUCE);
    if (status != MT_OK) return status;
    divide_by_size(floats);
    return unpack(fn, params, chosen, true);
}

mt_status mt_dist_allreduce_grads(const mt_params *params)
{
    static const char fn[] = "mt_dist_allreduce_grads";
    mti_dist_saved_error saved;
    mti_dist_save_error(&saved);
    /* The scope owns the references mt_grad returns. */
    mt_scope scope = mt_scope_begin();
    mt_status local = scope.depth < 0 ? mti_dist_fail(MT_ERR_NO_MEMORY, fn, "cannot open a scope") : MT_OK;
    layout shape;
    mt_status status = begin_exchange(fn, params, local, &shape);
    if (status == MT_OK && shape.count > 0) status = average_gradients(fn, params, &shape);
    if (scope.depth >= 0) mt_scope_end(scope);
    if (status == MT_OK) mti_dist_restore_error(&saved); /* mt_grad's "no gradient" records */
    return status;
}
