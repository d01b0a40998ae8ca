/* Batch bookkeeping shared by the two matmul kernels. */
#ifndef MTI_KERNELS_MATMUL_COMMON_H
#define MTI_KERNELS_MATMUL_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor_impl.h"

/* A matrix product split into 2-D problems. Batch dims where the output has a zero stride (and
 * size > 1) are "summed" dims: their products add into one output matrix. */
typedef struct mti_matmul_plan {
    mti_strided a, b, out, bias; /* transposes applied; same ndim */
    bool has_bias;
    int batch_ndim;
    int64_t n, k, m;
    int64_t out_batches; /* distinct output matrices */
    int64_t sum_batches; /* products summed into each */
    int kept_dims[MT_MAX_DIMS], kept_count;
    int summed_dims[MT_MAX_DIMS], summed_count;
} mti_matmul_plan;

void mti_matmul_plan_init(mti_matmul_plan *p, const mti_strided *out, const mti_strided *a,
                          const mti_strided *b, const mti_strided *bias, bool trans_a,
                          bool trans_b);

/* Element offsets of output matrix `ob` / summed product `sb` in a, b, out and bias. */
typedef struct mti_batch_offsets {
    int64_t a, b, out, bias;
} mti_batch_offsets;

mti_batch_offsets mti_matmul_offsets(const mti_matmul_plan *p, int64_t ob, int64_t sb);

struct mti_matmul_epilogue;
/* Runs the epilogue (kernels.h) over `rows` finished rows of `cols` output elements from `first`
 * (a pointer into p->out), rows row_step apart, elements col_step apart. NULL: nothing. */
void mti_matmul_epilogue_rows(const struct mti_matmul_epilogue *e, const mti_matmul_plan *p,
                              const float *first, int64_t rows, int64_t cols, int64_t row_step,
                              int64_t col_step);

#endif
