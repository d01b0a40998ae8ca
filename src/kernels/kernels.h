/* The backend table. Each backend fills the same struct of kernels; the dispatch entry points
 * (kernels/dispatch.h) call whichever backend is current. Kernels work on strided views, never
 * allocate tensors and know nothing of autodiff.
 *
 * map/zip/zip3: every operand already has the output's shape (inputs broadcast by zero strides).
 * reduce:  out has in's shape with shape[dim] == 1.
 * matmul:  out (+)= op(a) @ op(b) (+ bias), where op() swaps the last two dims when its transpose
 *          flag is set. a, b and out have the same ndim; their batch dims (all but the last two)
 *          have the iteration's batch shape, with zero strides where an operand is broadcast.
 *          Where *out* has a zero stride on a batch dim of size > 1, the products over that dim
 *          are summed into the same output matrix (a batch-broadcast gradient). `bias` (NULL or a
 *          view with out's shape, usually zero strides) is added to every product.
 * rows:    out = op of each line of `in` along `dim` (kernels/rows.c); out has in's shape, or
 *          shape[dim] == 1 for the ops of width ONE.
 * rows_backward: dx of softmax / log_softmax from the saved output y and the gradient g (all of
 *          one shape), along `dim`.
 * nll_softmax_backward: dx (N, C) = (exp(logits - lse) - onehot(labels)) * scale, with lse and
 *          labels (float class indices) of shape (N, 1): softmax cross-entropy's gradient. */
#ifndef MTI_KERNELS_H
#define MTI_KERNELS_H

#include <stdbool.h>

#include "kernels/op_table.h"
#include "minitorch/runtime.h"
#include "tensor/tensor_impl.h"

/* The activation after a matrix product, run in the product's output pass (a captured plan's
 * fusion, plan/build.c): as each part of the output is finished (a task's tile, a thread's block
 * of rows), out[q] = op(output[q]) for its elements q, out being laid out as the product's output
 * (the same offsets from out as from the output's data). The same per-element function as the
 * map kernel, so the same bits as running it after the product. */
typedef struct mti_matmul_epilogue {
    mti_unary_op op;
    mti_params params;
    float *out;
} mti_matmul_epilogue;

typedef struct mti_kernels {
    const char *name;
    void (*map)(mti_unary_op op, mti_params params, const mti_strided *out, const mti_strided *in);
    void (*zip)(mti_zip_op op, mti_params params, const mti_strided *out, const mti_strided *a,
                const mti_strided *b);
    /* three inputs: out = op(a, b, c) (the select behind mt_where and binary-op gradients) */
    void (*zip3)(mti_ternary_op op, mti_params params, const mti_strided *out, const mti_strided *a,
                 const mti_strided *b, const mti_strided *c);
    void (*reduce)(mti_reduce_op op, const mti_strided *out, const mti_strided *in, int dim);
    /* `fn` names the public function in errors (a blas scratch allocation can fail);
     * epilogue: NULL, or an elementwise op applied to each part of the output as it is finished */
    mt_status (*matmul)(const char *fn, const mti_strided *out, const mti_strided *a,
                        const mti_strided *b, const mti_strided *bias, bool trans_a, bool trans_b,
                        bool accumulate, const struct mti_matmul_epilogue *epilogue);
    void (*rows)(mti_row_op op, mti_params params, const mti_strided *out, const mti_strided *in,
                 int dim);
    void (*rows_backward)(mti_row_op op, const mti_strided *dx, const mti_strided *y,
                          const mti_strided *g, int dim);
    void (*nll_softmax_backward)(const mti_strided *dx, const mti_strided *logits,
                                 const mti_strided *lse, const mti_strided *labels, float scale);
} mti_kernels;

/* The kernels of a backend (backend_table.c). */
const mti_kernels *mti_kernels_of(mt_backend backend);

/* The naive (reference) kernels, shared by both backends for map, zip, zip3 and reduce. */
void mti_naive_map(mti_unary_op op, mti_params params, const mti_strided *out, const mti_strided *in);
void mti_naive_zip(mti_zip_op op, mti_params params, const mti_strided *out, const mti_strided *a,
                   const mti_strided *b);
void mti_naive_zip3(mti_ternary_op op, mti_params params, const mti_strided *out,
                    const mti_strided *a, const mti_strided *b, const mti_strided *c);
void mti_naive_reduce(mti_reduce_op op, const mti_strided *out, const mti_strided *in, int dim);
/* One row segment of map / zip: the naive kernels' inner loops (o[i*os] = f(a[i*as], ...)). */
void mti_naive_map_row(mti_unary_op op, mti_params params, float *o, int64_t os, const float *a,
                       int64_t as, int64_t n);
void mti_naive_zip_row(mti_zip_op op, mti_params params, float *o, int64_t os, const float *a,
                       int64_t as, const float *b, int64_t bs, int64_t n);
/* The reduce kernel's order of operations (reduce.c) in pieces, for a pass that produces the
 * terms itself (a plan's fused group ending in a reduction) and must give the kernel's bits:
 * an output of n <= MTI_REDUCE_BLOCK_TERMS contiguous terms is mti_reduce_terms(a, n); a longer
 * one is cut into blocks of MTI_REDUCE_BLOCK_TERMS terms from its start (the last may be
 * shorter), each reduced by mti_reduce_block, and their results combined in order by
 * mti_reduce_blocks_total. */
#define MTI_REDUCE_BLOCK_TERMS 4096
float mti_reduce_terms(mti_reduce_op op, const float *a, int64_t n);
float mti_reduce_block(mti_reduce_op op, const float *a, int64_t len);
float mti_reduce_blocks_total(mti_reduce_op op, const float *results, int64_t count);
mt_status mti_naive_matmul(const char *fn, const mti_strided *out, const mti_strided *a,
                           const mti_strided *b, const mti_strided *bias, bool trans_a,
                           bool trans_b, bool accumulate, const struct mti_matmul_epilogue *epilogue);
mt_status mti_blas_matmul(const char *fn, const mti_strided *out, const mti_strided *a,
                          const mti_strided *b, const mti_strided *bias, bool trans_a,
                          bool trans_b, bool accumulate, const struct mti_matmul_epilogue *epilogue);

void mti_naive_rows(mti_row_op op, mti_params params, const mti_strided *out, const mti_strided *in,
                    int dim);
void mti_naive_rows_backward(mti_row_op op, const mti_strided *dx, const mti_strided *y,
                             const mti_strided *g, int dim);
void mti_naive_nll_softmax_backward(const mti_strided *dx, const mti_strided *logits,
                                    const mti_strided *lse, const mti_strided *labels, float scale);

/* The BLAS library's own description and threading model (0 sequential, 1 pthreads, 2 OpenMP),
 * for mt_config_string. */
const char *mti_blas_config(void);
int mti_blas_threading(void);

#endif
