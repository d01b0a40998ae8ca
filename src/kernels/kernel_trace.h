/* The trace line every kernel ends with (MINITORCH_TRACE): op, path, operand shapes and strides,
 * threads and the time since `start_us`. */
#ifndef MTI_KERNELS_KERNEL_TRACE_H
#define MTI_KERNELS_KERNEL_TRACE_H

#include "tensor/tensor_impl.h"

/* Operands are named out, a, b, c (or out, in for a reduction: `reduction` true). */
void mti_kernel_trace(const char *op, const char *path, int count, const mti_strided *const *views,
                      bool reduction, int threads, double start_us);

#endif
