/* Internal helpers shared by the public operations. */
#ifndef MTI_API_H
#define MTI_API_H

#include "autodiff/autodiff.h"
#include "kernels/dispatch.h"
#include "runtime/error.h"
#include "tensor/tensor_impl.h"

/* Validates a caller's output tensor for the *_out functions: no expanded dims, shape equal to
 * (ndim, shape), no partial overlap with the inputs, and not a tensor whose gradient is tracked. */
mt_status mti_check_out(const char *fn, const mt_tensor *out, int ndim, const int64_t *shape,
                        int input_count, const mt_tensor *const *inputs);
/* True when two views (of one storage) cannot touch a common element. */
bool mti_views_disjoint(const mt_tensor *a, const mt_tensor *b);
/* The checks every *_out function starts with: out and each input (named a, b) not NULL, and
 * `op_valid` (else "<op> is not an <op_type>"). */
mt_status mti_check_out_args(const char *fn, const mt_tensor *out, int input_count,
                             const mt_tensor *const *inputs, const char *op_type, int op,
                             bool op_valid);
/* mti_check_out for an elementwise result written into out: every input broadcasts to out. */
mt_status mti_check_elementwise_out(const char *fn, const mt_tensor *out, int input_count,
                                    const mt_tensor *const *inputs);

/* Untracked forms of public operations, used to build composite operations (mean, sum_all...)
 * without recording their intermediates in the caller's scope. History is recorded. */
mt_tensor *mti_op_sum(const char *fn, mt_tensor *a, int dim);
mt_tensor *mti_op_view(const char *fn, mt_tensor *t, int ndim, const int64_t *shape);
mt_tensor *mti_op_contiguous(const char *fn, mt_tensor *t);
mt_tensor *mti_op_binary(const char *fn, mti_binary_op op, mt_tensor *a, mt_tensor *b);
mt_tensor *mti_op_scalar(const char *fn, mti_binary_op op, mt_tensor *a, float s, bool scalar_first);
mt_tensor *mti_op_narrow(const char *fn, mt_tensor *t, int dim, int64_t start, int64_t length);
mt_tensor *mti_op_unsqueeze(const char *fn, mt_tensor *t, int dim);
mt_tensor *mti_op_cat(const char *fn, int n, mt_tensor *const *ts, int dim);

#endif
