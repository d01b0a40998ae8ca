/* The two backends' kernel tables: they share map, zip, zip3, reduce and the row kernels and
 * differ in matmul. */
#include "kernels/kernels.h"

static const mti_kernels naive_kernels = {
    .name = "naive",
    .map = mti_naive_map,
    .zip = mti_naive_zip,
    .zip3 = mti_naive_zip3,
    .reduce = mti_naive_reduce,
    .matmul = mti_naive_matmul,
    .rows = mti_naive_rows,
    .rows_backward = mti_naive_rows_backward,
    .nll_softmax_backward = mti_naive_nll_softmax_backward,
};

static const mti_kernels blas_kernels = {
    .name = "blas",
    .map = mti_naive_map,
    .zip = mti_naive_zip,
    .zip3 = mti_naive_zip3,
    .reduce = mti_naive_reduce,
    .matmul = mti_blas_matmul,
    .rows = mti_naive_rows,
    .rows_backward = mti_naive_rows_backward,
    .nll_softmax_backward = mti_naive_nll_softmax_backward,
};

const mti_kernels *mti_kernels_of(mt_backend backend)
{
    return backend == MT_BACKEND_NAIVE ? &naive_kernels : &blas_kernels;
}
