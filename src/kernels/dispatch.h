/* Tensor-level entry points to the kernels: check the operands, allocate the result, run the
 * current backend. No autodiff history and no scope tracking: the public operations (src/api)
 * and the backward formulas (src/autodiff) build on these. Each reports errors as `fn`. */
#ifndef MTI_KERNELS_DISPATCH_H
#define MTI_KERNELS_DISPATCH_H

#include <stdbool.h>

#include "kernels/op_table.h"
#include "tensor/tensor_impl.h"

#define MTI_NO_PARAMS ((mti_params){0.0f, 0.0f})

/* ---- view level: the only way to the backend's kernels ---- */
void mti_run_map(mti_unary_op op, mti_params params, const mti_strided *out, const mti_strided *in);
void mti_run_zip(mti_zip_op op, mti_params params, const mti_strided *out, const mti_strided *a,
                 const mti_strided *b);
void mti_run_zip3(mti_ternary_op op, mti_params params, const mti_strided *out,
                  const mti_strided *a, const mti_strided *b, const mti_strided *c);
void mti_run_reduce(mti_reduce_op op, const mti_strided *out, const mti_strided *in, int dim);
/* out (+)= op(a) @ op(b) (+ bias) where out/a/b are already laid out for the kernel (see
 * kernels.h). */
mt_status mti_run_matmul(const char *fn, const mti_strided *out, const mti_strided *a,
                         const mti_strided *b, const mti_strided *bias, bool trans_a, bool trans_b,
                         bool accumulate);
void mti_run_rows(mti_row_op op, mti_params params, const mti_strided *out, const mti_strided *in,
                  int dim);
void mti_run_rows_backward(mti_row_op op, const mti_strided *dx, const mti_strided *y,
                           const mti_strided *g, int dim);
/* scale = g's first element (the incoming gradient of the loss) times factor */
void mti_run_nll_softmax_backward(const mti_strided *dx, const mti_strided *logits,
                                  const mti_strided *lse, const mti_strided *labels,
                                  const mti_strided *g, float factor);

/* ---- tensor level: a new result ---- */
mt_tensor *mti_map(const char *fn, mti_unary_op op, const mt_tensor *a);
mt_tensor *mti_map_with(const char *fn, mti_unary_op op, mti_params params, const mt_tensor *a);
/* a and b broadcast together. */
mt_tensor *mti_zip(const char *fn, mti_zip_op op, const mt_tensor *a, const mt_tensor *b);
mt_tensor *mti_zip_with(const char *fn, mti_zip_op op, mti_params params, const mt_tensor *a,
                        const mt_tensor *b);
/* a, b and c broadcast together. */
mt_tensor *mti_zip3(const char *fn, mti_ternary_op op, const mt_tensor *a, const mt_tensor *b,
                    const mt_tensor *c);
/* `dim` may be negative. */
mt_tensor *mti_reduce(const char *fn, mti_reduce_op op, const mt_tensor *a, int dim);
/* Row op `op` over `dim` (already normalised): a new tensor of a's shape (width LINE) or with
 * shape[dim] == 1 (width ONE). */
mt_tensor *mti_rows(const char *fn, mti_row_op op, mti_params params, const mt_tensor *a, int dim);
/* softmax / log_softmax's gradient from the saved output y and g (y's shape). */
mt_tensor *mti_rows_backward(const char *fn, mti_row_op op, const mt_tensor *y, const mt_tensor *g,
                             int dim);
/* A contiguous copy (always a new storage). */
mt_tensor *mti_copy(const char *fn, const mt_tensor *a);
/* a @ b (with optional bias broadcast onto the result), MiniTorch's shape rules. */
mt_tensor *mti_matmul(const char *fn, const mt_tensor *a, const mt_tensor *b,
                      const mt_tensor *bias);


/* The matmul result shape; MT_OK or an error naming both shapes. */
mt_status mti_matmul_shape(const char *fn, const mt_tensor *a, const mt_tensor *b, int *ndim,
                           int64_t *shape);

/* A shape-(1,) tensor holding `value` (untracked). */
mt_tensor *mti_scalar_tensor(const char *fn, float value);

/* ---- gathering along one dim (kernels/gather.c, shared by both backends) ---- */
/* out[..., j, ...] = in[..., index[j], ...] for every j < out->shape[dim]; out and in have the
 * same shape except at dim, and every index is in [0, in->shape[dim]) (the caller checks). */
void mti_run_index_select(const mti_strided *out, const mti_strided *in, int dim,
                          const int64_t *index);
/* out[..., index[j], ...] += src[..., j, ...] for every j < src->shape[dim]. Each output row adds
 * its sources in ascending j, so the result is the same bits for any thread count. Fails (as
 * `fn`, MT_ERR_NO_MEMORY, out unchanged) only when its scratch index cannot be allocated. */
mt_status mti_run_index_add(const char *fn, const mti_strided *out, const mti_strided *src, int dim,
                            const int64_t *index);

#endif
