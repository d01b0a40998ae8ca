/* Naive backend: map, zip and zip3. Parallel over items of the canonical layout (kernels/layout.h);
 * the operation is chosen by a switch per row segment, so each inner loop below is a plain loop
 * with the scalar function inlined, and the contiguous ones vectorize (transcendentals through
 * libmvec). */
#include <stdio.h>
#include <string.h>

#include "kernels/kernel_trace.h"
#include "kernels/kernels.h"
#include "kernels/layout.h"
#include "kernels/scalar_ops.h"
#include "runtime/alloc.h"
#include "runtime/runtime.h"

/* Below this much work per thread a parallel region costs more than it saves. Measured here (2
 * threads vs 1, into a preallocated output): add breaks even at ~64K elements and is 1.4x
 * faster at 128K; sigmoid breaks even at ~32K elements. */
#define WORK_PER_THREAD 65536

/* The kernels' switch cases, one per op, generated from the op tables: each expands LOOP with the
 * op's scalar function. Every enum value has a case, so a missing one is a compile error. */
#define UNARY_CASE(E, name, cost, saves, params) case MTI_UNARY_##E: LOOP(mti_##name##_f); break;
#define UNARY_CASES MTI_UNARY_OPS(UNARY_CASE) case MTI_UNARY_COUNT: break
#define BINARY_CASE(E, name, cost, backward) case MTI_ZIP_##E: LOOP(mti_##name##_f); break;
#define GRAD_CASE(E, name, cost, saves, params) case MTI_ZIP_##E##_GRAD: LOOP(mti_##name##_grad_f); break;
#define ZIP_CASES MTI_BINARY_OPS(BINARY_CASE) MTI_UNARY_OPS(GRAD_CASE) case MTI_ZIP_COUNT: break
#define TERNARY_CASE(E, name, cost) case MTI_TERNARY_##E: LOOP(mti_##name##_f); break;
#define TERNARY_CASES MTI_TERNARY_OPS(TERNARY_CASE) case MTI_TERNARY_COUNT: break

/* ---- inner loops: one row segment of n elements ---- */

/* Ops that call a vector math function. In an `omp simd` loop, expf and logf are glibc's vector
 * functions (libmvec), but a loop's remainder, a peeled head, or a loop the compiler does not
 * vectorize calls the scalar ones, whose results can differ by a few ulp: the same value would
 * give different bits depending on where it sits (measured: half of 65,536 exp values, up to
 * 3 ulp, between a tiled and an untiled layout). These ops therefore run every element through
 * one loop of fixed length STAGE over a small buffer (the tail padded), so each value goes
 * through the same instructions whatever the layout, length or alignment. The op tables mark
 * them by cost: a transcendental function costs STAGED_COST or more. */
#define STAGE 64
#define STAGED_COST 4

static void map_staged(mti_unary_op op, mti_params p, float *o, int64_t os, const float *a,
                       int64_t as, int64_t n)
{
    float in[STAGE], res[STAGE];
    for (int64_t i0 = 0; i0 < n; i0 += STAGE) {
        const int len = n - i0 < STAGE ? (int)(n - i0) : STAGE;
        /* whole contiguous stages: fixed-size copies the compiler inlines (a loop here became a
         * memmove call per stage) */
        if (as == 1 && len == STAGE) memcpy(in, a + i0, sizeof in);
        else for (int i = 0; i < len; i++) in[i] = a[(i0 + i) * as];
        for (int i = len; i < STAGE; i++) in[i] = 0.0f;
#define LOOP(F) _Pragma("omp simd") for (int i = 0; i < STAGE; i++) res[i] = F(in[i], p)
        switch (op) { UNARY_CASES; }
#undef LOOP
        if (os == 1 && len == STAGE) memcpy(o + i0, res, sizeof res);
        else for (int i = 0; i < len; i++) o[(i0 + i) * os] = res[i];
    }
}

static void zip_staged(mti_zip_op op, mti_params p, float *o, int64_t os, const float *a,
                       int64_t as, const float *b, int64_t bs, int64_t n)
{
    float in_a[STAGE], in_b[STAGE], res[STAGE];
    for (int64_t i0 = 0; i0 < n; i0 += STAGE) {
        const int len = n - i0 < STAGE ? (int)(n - i0) : STAGE;
        if (as == 1 && bs == 1 && len == STAGE) {
            memcpy(in_a, a + i0, sizeof in_a);
            memcpy(in_b, b + i0, sizeof in_b);
        } else {
            for (int i = 0; i < len; i++) {
                in_a[i] = a[(i0 + i) * as];
                in_b[i] = b[(i0 + i) * bs];
            }
        }
        for (int i = len; i < STAGE; i++) in_a[i] = in_b[i] = 0.0f;
#define LOOP(F) _Pragma("omp simd") for (int i = 0; i < STAGE; i++) res[i] = F(in_a[i], in_b[i], p)
        switch (op) { ZIP_CASES; }
#undef LOOP
        if (os == 1 && len == STAGE) memcpy(o + i0, res, sizeof res);
        else for (int i = 0; i < len; i++) o[(i0 + i) * os] = res[i];
    }
}

static void map_row(mti_unary_op op, mti_params p, float *o, int64_t os, const float *a, int64_t as,
                    int64_t n)
{
    if (mti_unary_cost(op) >= STAGED_COST) {
        map_staged(op, p, o, os, a, as, n);
    } else if (os == 1 && as == 1) {
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(a[i], p)
        switch (op) { UNARY_CASES; }
#undef LOOP
    } else {
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i * os] = F(a[i * as], p)
        switch (op) { UNARY_CASES; }
#undef LOOP
    }
}

static void zip_row(mti_zip_op op, mti_params p, float *o, int64_t os, const float *a, int64_t as,
                    const float *b, int64_t bs, int64_t n)
{
    if (mti_zip_cost(op) >= STAGED_COST) {
        zip_staged(op, p, o, os, a, as, b, bs, n);
    } else if (os == 1 && as == 1 && bs == 1) {
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(a[i], b[i], p)
        switch (op) { ZIP_CASES; }
#undef LOOP
    } else if (os == 1 && as == 1 && bs == 0) { /* b broadcast along the row */
        const float bv = *b;
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(a[i], bv, p)
        switch (op) { ZIP_CASES; }
#undef LOOP
    } else if (os == 1 && as == 0 && bs == 1) { /* a broadcast along the row */
        const float av = *a;
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(av, b[i], p)
        switch (op) { ZIP_CASES; }
#undef LOOP
    } else {
#define LOOP(F) \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i * os] = F(a[i * as], b[i * bs], p)
        switch (op) { ZIP_CASES; }
#undef LOOP
    }
}

static void zip3_row(mti_ternary_op op, mti_params p, float *o, int64_t os, const float *a,
                     int64_t as, const float *b, int64_t bs, const float *c, int64_t cs, int64_t n)
{
    if (os == 1 && as == 1 && bs == 1 && cs == 1) {
#define LOOP(F) _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = F(a[i], b[i], c[i], p)
        switch (op) { TERNARY_CASES; }
#undef LOOP
    } else {
#define LOOP(F)                                           \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) \
        o[i * os] = F(a[i * as], b[i * bs], c[i * cs], p)
        switch (op) { TERNARY_CASES; }
#undef LOOP
    }
}

/* ---- drivers ---- */


/* The trace line's path: tiled / aligned / broadcast / strided, "/serial-small" when the work
 * was too small to split. */
static void trace(const char *op, const mti_layout *l, bool tiled, int threads, int64_t work,
                  double start, int count, const mti_strided *const *views)
{
    bool aligned = l->ndim == 1 && !l->broadcast;
    for (int k = 0; k < l->count && aligned; k++) aligned = l->strides[k][0] == 1;
    char path[64];
    snprintf(path, sizeof path, "%s%s",
             tiled ? "tiled" : aligned ? "aligned" : l->broadcast ? "broadcast" : "strided",
             threads == 1 && work < WORK_PER_THREAD * 2 ? "/serial-small" : "");
    mti_kernel_trace(op, path, count, views, false, threads, start);
}

typedef struct elementwise_job {
    mti_layout layout;
    int op;
    mti_params params;
    /* tiled iteration (an input is transposed relative to the output) */
    bool tiled;
    int64_t tiles_i, tiles_j;
} elementwise_job;

/* An input read across rows (a transposed view) touches a new cache line per element; walking
 * TILE x TILE tiles of the last two dims reuses each line TILE times instead of once. */
#define TILE 64

static bool wants_tiles(const mti_layout *l)
{
    if (l->ndim < 2 || l->strides[0][l->ndim - 1] != 1 || l->shape[l->ndim - 2] < TILE / 2) return false;
    for (int k = 1; k < l->count; k++)
        if (l->strides[k][l->ndim - 1] > 16) return true;
    return false;
}

/* Pointers to the first element of tile `item` for each operand, its rows and its width. */
static void tile_origin(const elementwise_job *job, int64_t item, float **ptr, int64_t *rows,
                        int64_t *width)
{
    const mti_layout *l = &job->layout;
    const int nd = l->ndim;
    int64_t tj = item % job->tiles_j, rest = item / job->tiles_j;
    int64_t ti = rest % job->tiles_i, outer = rest / job->tiles_i;
    for (int k = 0; k < l->count; k++)
        ptr[k] = l->base[k] + ti * TILE * l->strides[k][nd - 2] + tj * TILE * l->strides[k][nd - 1];
    for (int d = nd - 3; d >= 0; d--) {
        int64_t index = outer % l->shape[d];
        outer /= l->shape[d];
        for (int k = 0; k < l->count; k++) ptr[k] += index * l->strides[k][d];
    }
    *rows = l->shape[nd - 2] - ti * TILE < TILE ? l->shape[nd - 2] - ti * TILE : TILE;
    *width = l->shape[nd - 1] - tj * TILE < TILE ? l->shape[nd - 1] - tj * TILE : TILE;
}

/* Copies the rows x width tile of operand k into `buffer` (row-major, TILE wide) when it is
 * read across rows, reading it along its contiguous direction; the tile then feeds the
 * contiguous row loops. Returns the pointer and strides to read the tile with. Without a buffer
 * the tile is read in place (slower, same results). */
static const float *tile_input(const mti_layout *l, int k, const float *p, int64_t rows,
                               int64_t width, float *buffer, int64_t *row_stride,
                               int64_t *col_stride)
{
    const int nd = l->ndim;
    const int64_t rs = l->strides[k][nd - 2], cs = l->strides[k][nd - 1];
    if (cs <= 16 || !buffer) {
        *row_stride = rs;
        *col_stride = cs;
        return p;
    }
    for (int64_t c = 0; c < width; c++)
        for (int64_t r = 0; r < rows; r++) buffer[r * TILE + c] = p[r * rs + c * cs];
    *row_stride = TILE;
    *col_stride = 1;
    return buffer;
}

/* The tile buffers come from the storage cache, not the stack (callers' threads may have small
 * stacks); NULL if none can be had. */
static float *tile_buffers(int count, size_t *capacity)
{
    return mti_buffer_alloc(sizeof(float) * TILE * TILE * (size_t)count, capacity);
}

static void map_tiles(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int nd = l->ndim;
    size_t capacity = 0;
    float *buffer = tile_buffers(1, &capacity);
    for (; item < end; item++) {
        float *p[MTI_MAX_OPERANDS];
        int64_t rows, width, ars, acs;
        tile_origin(job, item, p, &rows, &width);
        const float *a = tile_input(l, 1, p[1], rows, width, buffer, &ars, &acs);
        for (int64_t r = 0; r < rows; r++)
            map_row((mti_unary_op)job->op, job->params, p[0] + r * l->strides[0][nd - 2], l->strides[0][nd - 1],
                    a + r * ars, acs, width);
    }
    if (buffer) mti_buffer_free(buffer, capacity);
}

static void zip_tiles(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int nd = l->ndim;
    size_t capacity = 0;
    float *buffer_a = tile_buffers(2, &capacity), *buffer_b = buffer_a ? buffer_a + TILE * TILE : NULL;
    for (; item < end; item++) {
        float *p[MTI_MAX_OPERANDS];
        int64_t rows, width, ars, acs, brs, bcs;
        tile_origin(job, item, p, &rows, &width);
        const float *a = tile_input(l, 1, p[1], rows, width, buffer_a, &ars, &acs);
        const float *b = tile_input(l, 2, p[2], rows, width, buffer_b, &brs, &bcs);
        for (int64_t r = 0; r < rows; r++)
            zip_row((mti_zip_op)job->op, job->params, p[0] + r * l->strides[0][nd - 2], l->strides[0][nd - 1],
                    a + r * ars, acs, b + r * brs, bcs, width);
    }
    if (buffer_a) mti_buffer_free(buffer_a, capacity);
}

static void zip3_tiles(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int nd = l->ndim;
    size_t capacity;
    float *buffer_a = tile_buffers(3, &capacity);
    float *buffer_b = buffer_a ? buffer_a + TILE * TILE : NULL;
    float *buffer_c = buffer_a ? buffer_a + 2 * TILE * TILE : NULL;
    for (; item < end; item++) {
        float *p[MTI_MAX_OPERANDS];
        int64_t rows, width, ars, acs, brs, bcs, crs, ccs;
        tile_origin(job, item, p, &rows, &width);
        const float *a = tile_input(l, 1, p[1], rows, width, buffer_a, &ars, &acs);
        const float *b = tile_input(l, 2, p[2], rows, width, buffer_b, &brs, &bcs);
        const float *c = tile_input(l, 3, p[3], rows, width, buffer_c, &crs, &ccs);
        for (int64_t r = 0; r < rows; r++)
            zip3_row((mti_ternary_op)job->op, job->params, p[0] + r * l->strides[0][nd - 2],
                     l->strides[0][nd - 1], a + r * ars, acs, b + r * brs, bcs, c + r * crs, ccs,
                     width);
    }
    if (buffer_a) mti_buffer_free(buffer_a, capacity);
}

/* Sets up tiling when it pays; returns the number of work items. */
static int64_t plan_items(elementwise_job *job)
{
    mti_layout *l = &job->layout;
    job->tiled = wants_tiles(l);
    if (!job->tiled) return l->items;
    const int nd = l->ndim;
    job->tiles_i = (l->shape[nd - 2] + TILE - 1) / TILE;
    job->tiles_j = (l->shape[nd - 1] + TILE - 1) / TILE;
    int64_t outer = 1;
    for (int d = 0; d < nd - 2; d++) outer *= l->shape[d];
    return outer * job->tiles_i * job->tiles_j;
}

static void map_items(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int64_t os = l->strides[0][l->ndim - 1], as = l->strides[1][l->ndim - 1];
    mti_cursor c;
    mti_cursor_seek(l, &c, item);
    for (; item < end; item++, mti_cursor_next(l, &c))
        map_row((mti_unary_op)job->op, job->params, mti_cursor_ptr(l, &c, 0), os, mti_cursor_ptr(l, &c, 1), as,
                mti_cursor_length(l, &c));
}

static void zip_items(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int64_t os = l->strides[0][l->ndim - 1], as = l->strides[1][l->ndim - 1],
                  bs = l->strides[2][l->ndim - 1];
    mti_cursor c;
    mti_cursor_seek(l, &c, item);
    for (; item < end; item++, mti_cursor_next(l, &c))
        zip_row((mti_zip_op)job->op, job->params, mti_cursor_ptr(l, &c, 0), os, mti_cursor_ptr(l, &c, 1), as,
                mti_cursor_ptr(l, &c, 2), bs, mti_cursor_length(l, &c));
}

static void zip3_items(void *context, int64_t item, int64_t end)
{
    const elementwise_job *job = context;
    const mti_layout *l = &job->layout;
    const int last = l->ndim - 1;
    const int64_t os = l->strides[0][last], as = l->strides[1][last], bs = l->strides[2][last],
                  cs = l->strides[3][last];
    mti_cursor c;
    mti_cursor_seek(l, &c, item);
    for (; item < end; item++, mti_cursor_next(l, &c))
        zip3_row((mti_ternary_op)job->op, job->params, mti_cursor_ptr(l, &c, 0), os,
                 mti_cursor_ptr(l, &c, 1), as, mti_cursor_ptr(l, &c, 2), bs,
                 mti_cursor_ptr(l, &c, 3), cs, mti_cursor_length(l, &c));
}

/* Small operands laid out identically and densely: the whole operation is one contiguous row,
 * exactly what the general path would run, without building its layout. */
static bool small_and_dense(int count, const mti_strided *const *views, int64_t *numel)
{
    const mti_strided *out = views[0];
    int64_t n = 1;
    for (int d = 0; d < out->ndim; d++) n *= out->shape[d];
    if (n > MTI_SEGMENT || !mti_is_contiguous_layout(out->ndim, out->shape, out->strides)) return false;
    for (int k = 1; k < count; k++)
        for (int d = 0; d < out->ndim; d++)
            if (views[k]->strides[d] != out->strides[d] && out->shape[d] > 1) return false;
    *numel = n;
    return true;
}

/* The part map and zip share: layout, work items, threads, the parallel run, the trace line. */
static void run_job(int op, mti_params params, int64_t cost, const char *name, int count,
                    const mti_strided *const *views, mti_range_body rows, mti_range_body tiles,
                    bool tracing)
{
    double start = tracing ? mti_now_us() : 0;
    elementwise_job job = {.op = op, .params = params};
    mti_layout_init(&job.layout, count, views, MTI_SEGMENT);
    const mti_layout *l = &job.layout;
    int64_t work = l->items / l->segments * l->inner * cost, items = plan_items(&job);
    int threads = mti_threads_for(work, WORK_PER_THREAD);
    if (threads > items) threads = (int)items;
    mti_parallel_ranges(threads, items, job.tiled ? tiles : rows, &job);
    if (tracing) trace(name, l, job.tiled, threads, work, start, count, views);
}

void mti_naive_map(mti_unary_op op, mti_params params, const mti_strided *out, const mti_strided *in)
{
    const mti_strided *views[2] = {out, in};
    bool tracing = mti_tracing();
    int64_t numel;
    if (!tracing && small_and_dense(2, views, &numel))
        map_row(op, params, out->data, 1, in->data, 1, numel);
    else
        run_job(op, params, mti_unary_cost(op), mti_unary_name(op), 2, views, map_items, map_tiles,
                tracing);
}

void mti_naive_zip(mti_zip_op op, mti_params params, const mti_strided *out, const mti_strided *a,
                   const mti_strided *b)
{
    const mti_strided *views[3] = {out, a, b};
    bool tracing = mti_tracing();
    int64_t numel;
    if (!tracing && small_and_dense(3, views, &numel))
        zip_row(op, params, out->data, 1, a->data, 1, b->data, 1, numel);
    else
        run_job(op, params, mti_zip_cost(op), mti_zip_name(op), 3, views, zip_items, zip_tiles,
                tracing);
}

void mti_naive_zip3(mti_ternary_op op, mti_params params, const mti_strided *out,
                    const mti_strided *a, const mti_strided *b, const mti_strided *c)
{
    const mti_strided *views[4] = {out, a, b, c};
    bool tracing = mti_tracing();
    int64_t numel;
    if (!tracing && small_and_dense(4, views, &numel))
        zip3_row(op, params, out->data, 1, a->data, 1, b->data, 1, c->data, 1, numel);
    else
        run_job(op, params, mti_ternary_cost(op), mti_ternary_name(op), 4, views, zip3_items,
                zip3_tiles, tracing);
}

/* The inner loops themselves, for a plan's fused pass (src/plan): running the very same loops on
 * the same row segments is what makes a fused pass bitwise equal to the separate kernels. */
void mti_naive_map_row(mti_unary_op op, mti_params params, float *o, int64_t os, const float *a,
                       int64_t as, int64_t n)
{
    map_row(op, params, o, os, a, as, n);
}

void mti_naive_zip_row(mti_zip_op op, mti_params params, float *o, int64_t os, const float *a,
                       int64_t as, const float *b, int64_t bs, int64_t n)
{
    zip_row(op, params, o, os, a, as, b, bs, n);
}
