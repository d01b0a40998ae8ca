/* The two backends' kernel tables, and names for trace lines. */
#include <stdio.h>

#include "kernels/kernels.h"
#include "runtime/error.h"
#include "runtime/runtime.h"

static const mti_kernels naive_kernels = {
    .name = "naive",
    .map = mti_naive_map,
    .zip = mti_naive_zip,
    .reduce = mti_naive_reduce,
    .matmul = mti_naive_matmul,
};

static const mti_kernels blas_kernels = {
    .name = "blas",
    .map = mti_naive_map,
    .zip = mti_naive_zip,
    .reduce = mti_naive_reduce,
    .matmul = mti_blas_matmul,
};

const mti_kernels *mti_current_kernels(void)
{
    return mti_backend() == MT_BACKEND_NAIVE ? &naive_kernels : &blas_kernels;
}

const char *mti_unary_op_name(mt_unary_op op)
{
    static const char *const names[MT_UNARY_OP_COUNT] = {"neg", "id", "sigmoid", "relu",
                                                         "log", "exp", "inv"};
    return (unsigned)op < MT_UNARY_OP_COUNT ? names[op] : "?";
}

const char *mti_binary_op_name(mt_binary_op op)
{
    static const char *const names[MT_BINARY_OP_COUNT] = {
        "add", "sub", "mul", "div", "lt", "gt", "eq", "is_close", "relu_back", "log_back",
        "inv_back", "sigmoid_back"};
    return (unsigned)op < MT_BINARY_OP_COUNT ? names[op] : "?";
}

const char *mti_reduce_op_name(mt_reduce_op op)
{
    static const char *const names[MT_REDUCE_OP_COUNT] = {"sum", "prod", "max"};
    return (unsigned)op < MT_REDUCE_OP_COUNT ? names[op] : "?";
}

void mti_trace_shapes(char *buf, size_t cap, int count, const mti_strided *const *views,
                      const char *const *names)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used < cap; i++) {
        char shape[MTI_SHAPE_TEXT], strides[MTI_SHAPE_TEXT];
        mti_format_shape(shape, sizeof shape, views[i]->ndim, views[i]->shape);
        mti_format_shape(strides, sizeof strides, views[i]->ndim, views[i]->strides);
        int n = snprintf(buf + used, cap - used, "%s%s=%s/%s", i ? "," : "", names[i], shape,
                         strides);
        if (n < 0) break;
        used += (size_t)n;
    }
}
