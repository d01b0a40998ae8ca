#include "kernels/kernel_trace.h"

#include <stdio.h>

#include "runtime/error.h"
#include "runtime/runtime.h"

void mti_kernel_trace(const char *op, const char *path, int count, const mti_strided *const *views,
                      bool reduction, int threads, double start_us)
{
    const double us = mti_now_us() - start_us;
    if (!mti_trace_lines()) { /* summary only: no shapes to format */
        mti_trace_record(op, path, NULL, threads, us);
        return;
    }
    static const char *const operand_names[] = {"out", "a", "b", "c"};
    static const char *const reduction_names[] = {"out", "in"};
    const char *const *names = reduction ? reduction_names : operand_names;
    char shapes[600];
    size_t used = 0;
    shapes[0] = '\0';
    for (int i = 0; i < count && used < sizeof shapes; i++) {
        char shape[MTI_SHAPE_TEXT], strides[MTI_SHAPE_TEXT];
        mti_format_shape(shape, sizeof shape, views[i]->ndim, views[i]->shape);
        mti_format_shape(strides, sizeof strides, views[i]->ndim, views[i]->strides);
        int n = snprintf(shapes + used, sizeof shapes - used, "%s%s=%s/%s", i ? "," : "", names[i],
                         shape, strides);
        if (n < 0) break;
        used += (size_t)n;
    }
    mti_trace_record(op, path, shapes, threads, us);
}
