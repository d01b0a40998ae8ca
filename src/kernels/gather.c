/* Gathering and scattering along one dim: the kernels of index_select and of its gradient. Both
 * backends share them.
 *
 * Both see their operands as rows: a row is one position along `dim` for one index into the
 * dims before it (the "outer" dims), and holds a block of the dims after it (the "inner" dims).
 * Rows are spread over threads; a block that is contiguous in both operands is one memcpy (or
 * one vectorizable add), otherwise it is walked with its strides. */
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/kernel_trace.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"
#include "tensor/observer.h"

/* Elements per thread below which another thread does not pay (as the elementwise kernels). */
#define WORK_PER_THREAD ((int64_t)1 << 16)

typedef struct gather_job {
    const mti_strided *dst, *src;
    int dim;
    int64_t dst_positions;   /* dst->shape[dim]: rows per outer index */
    const int64_t *index;    /* index_select: the source position of each destination position */
    const int64_t *first;    /* index_add: the sources of destination position k are */
    const int64_t *sources;  /* sources[first[k] .. first[k + 1] - 1], in ascending order */
    int64_t block;           /* elements per block */
    bool dense;              /* blocks contiguous in both operands */
} gather_job;

/* Offset of outer index `o` (row-major over dims 0..dim-1) in view v. */
static int64_t outer_offset(const mti_strided *v, int dim, int64_t o)
{
    int64_t p = 0;
    for (int d = dim - 1; d >= 0; d--) {
        p += o % v->shape[d] * v->strides[d];
        o /= v->shape[d];
    }
    return p;
}

/* dst block (+)= src block, walking the inner dims (dim+1 ..) with their strides. */
static void strided_block(const gather_job *job, float *dst, const float *src, bool add)
{
    const mti_strided *d = job->dst, *s = job->src;
    const int first = job->dim + 1, last = d->ndim - 1;
    if (first > last) { /* no inner dims: one element */
        *dst = add ? *dst + *src : *src;
        return;
    }
    const int64_t length = d->shape[last], ds = d->strides[last], ss = s->strides[last];
    int64_t index[MT_MAX_DIMS] = {0};
    for (;;) {
        if (add)
            for (int64_t k = 0; k < length; k++) dst[k * ds] += src[k * ss];
        else
            for (int64_t k = 0; k < length; k++) dst[k * ds] = src[k * ss];
        int dim = last - 1; /* odometer step over the inner dims but the last */
        for (; dim >= first; dim--) {
            dst += d->strides[dim];
            src += s->strides[dim];
            if (++index[dim] < d->shape[dim]) break;
            dst -= index[dim] * d->strides[dim];
            src -= index[dim] * s->strides[dim];
            index[dim] = 0;
        }
        if (dim < first) return;
    }
}

static void copy_block(const gather_job *job, float *dst, const float *src)
{
    if (job->dense)
        memcpy(dst, src, (size_t)job->block * sizeof(float));
    else
        strided_block(job, dst, src, false);
}

static void add_block(const gather_job *job, float *restrict dst, const float *restrict src)
{
    if (!job->dense) {
        strided_block(job, dst, src, true);
        return;
    }
#pragma omp simd
    for (int64_t k = 0; k < job->block; k++) dst[k] += src[k];
}

/* Destination rows [begin, end): row r is outer index r / positions, position r % positions. */
static void select_rows(void *context, int64_t begin, int64_t end)
{
    const gather_job *job = context;
    const mti_strided *d = job->dst, *s = job->src;
    const int dim = job->dim;
    int64_t outer = begin / job->dst_positions, j = begin % job->dst_positions;
    float *dst_outer = d->data + outer_offset(d, dim, outer);
    const float *src_outer = s->data + outer_offset(s, dim, outer);
    for (int64_t r = begin; r < end; r++) {
        copy_block(job, dst_outer + j * d->strides[dim], src_outer + job->index[j] * s->strides[dim]);
        if (++j == job->dst_positions && r + 1 < end) {
            j = 0;
            outer++;
            dst_outer = d->data + outer_offset(d, dim, outer);
            src_outer = s->data + outer_offset(s, dim, outer);
        }
    }
}

static void add_rows(void *context, int64_t begin, int64_t end)
{
    const gather_job *job = context;
    const mti_strided *d = job->dst, *s = job->src;
    const int dim = job->dim;
    int64_t outer = begin / job->dst_positions, k = begin % job->dst_positions;
    float *dst_outer = d->data + outer_offset(d, dim, outer);
    const float *src_outer = s->data + outer_offset(s, dim, outer);
    for (int64_t r = begin; r < end; r++) {
        float *dst = dst_outer + k * d->strides[dim];
        for (int64_t e = job->first[k]; e < job->first[k + 1]; e++)
            add_block(job, dst, src_outer + job->sources[e] * s->strides[dim]);
        if (++k == job->dst_positions && r + 1 < end) {
            k = 0;
            outer++;
            dst_outer = d->data + outer_offset(d, dim, outer);
            src_outer = s->data + outer_offset(s, dim, outer);
        }
    }
}

static gather_job job_for(const mti_strided *dst, const mti_strided *src, int dim)
{
    gather_job job = {.dst = dst, .src = src, .dim = dim, .dst_positions = dst->shape[dim],
                      .block = 1};
    const int inner = dst->ndim - dim - 1;
    for (int d = dim + 1; d < dst->ndim; d++) job.block *= dst->shape[d];
    job.dense = mti_is_contiguous_layout(inner, dst->shape + dim + 1, dst->strides + dim + 1) &&
                mti_is_contiguous_layout(inner, src->shape + dim + 1, src->strides + dim + 1);
    return job;
}

static int64_t outer_count(const mti_strided *v, int dim)
{
    int64_t n = 1;
    for (int d = 0; d < dim; d++) n *= v->shape[d];
    return n;
}

static int threads_for_rows(int64_t rows, int64_t elements)
{
    int threads = mti_threads_for(elements, WORK_PER_THREAD);
    return rows < threads ? (int)rows : threads;
}

void mti_run_index_select(const mti_strided *out, const mti_strided *in, int dim,
                          const int64_t *index)
{
    /* the index array is the caller's: a plan would replay the capture's rows */
    mti_observe(&(mti_event){.kind = MTI_EVENT_OPAQUE,
                             .what = "an index gather (mt_index_select, mt_embedding_layer_forward)"});
    const bool tracing = mti_tracing();
    const double start = tracing ? mti_now_us() : 0;
    gather_job job = job_for(out, in, dim);
    job.index = index;
    const int64_t rows = outer_count(out, dim) * out->shape[dim];
    const int threads = threads_for_rows(rows, rows * job.block);
    mti_parallel_ranges(threads, rows, select_rows, &job);
    if (tracing) {
        const mti_strided *shown[2] = {out, in};
        mti_kernel_trace("index_select", job.dense ? "rows" : "strided", 2, shown, false, threads,
                         start);
    }
}

mt_status mti_run_index_add(const char *fn, const mti_strided *out, const mti_strided *src, int dim,
                            const int64_t *index)
{
    mti_observe(&(mti_event){.kind = MTI_EVENT_OPAQUE,
                             .what = "an index scatter (the gradient of mt_index_select, mt_embedding_layer_forward)"});
    const bool tracing = mti_tracing();
    const double start = tracing ? mti_now_us() : 0;
    const int64_t positions = out->shape[dim], n = src->shape[dim];
    /* Counting sort of the source positions by destination, stable: each destination adds its
     * sources in ascending order whichever thread owns it. */
    int64_t *first = mti_calloc((size_t)positions + 1, sizeof *first);
    int64_t *sources = mti_malloc((size_t)n * sizeof *sources);
    if (!first || !sources) {
        mti_free(first);
        mti_free(sources);
        return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the scatter's index of %lld entries",
                        (long long)(positions + n));
    }
    for (int64_t j = 0; j < n; j++) first[index[j] + 1]++;
    for (int64_t k = 0; k < positions; k++) first[k + 1] += first[k];
    for (int64_t j = 0, *next = first; j < n; j++) sources[next[index[j]]++] = j;
    /* `next` advanced each destination's start to its end: shift back by one destination */
    memmove(first + 1, first, (size_t)positions * sizeof *first);
    first[0] = 0;

    gather_job job = job_for(out, src, dim);
    job.first = first;
    job.sources = sources;
    const int64_t rows = outer_count(out, dim) * positions;
    const int threads = threads_for_rows(rows, outer_count(out, dim) * (positions + n) * job.block);
    mti_parallel_ranges(threads, rows, add_rows, &job);
    mti_free(first);
    mti_free(sources);
    if (tracing) {
        const mti_strided *shown[2] = {out, src};
        mti_kernel_trace("index_add", job.dense ? "rows" : "strided", 2, shown, false, threads,
                         start);
    }
    return MT_OK;
}
