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

#endif
