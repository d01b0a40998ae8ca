/* Data in and out of existing tensors without allocating: mt_copy_from, mt_data and
 * mt_mark_modified. (In the ops layer because mt_copy_from asks autodiff whether grad mode is
 * on.) Every write into a tensor's values made here goes through write_values. */
#include <string.h>

#include "minitorch/autodiff.h"
#include "runtime/error.h"
#include "tensor/tensor_impl.h"
#include "tensor/update.h"

mt_status mt_mark_modified(mt_tensor *t)
{
    if (!t) return mti_fail_null("mt_mark_modified", "t");
    /* autodiff then refuses a backward pass that would read the changed values */
    mti_bump_version(t);
    return MT_OK;
}

/* Copies one run of source values (row-major ordinals first .. first + n - 1) into the target. */
static void copy_run(void *context, int64_t first, int64_t n, float *target, int64_t target_stride,
                     const float *unused, int64_t unused_stride)
{
    (void)unused, (void)unused_stride;
    const float *source = (const float *)context + first;
    if (target_stride == 1) {
        memcpy(target, source, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t k = 0; k < n; k++) target[k * target_stride] = source[k];
}

/* The one place values are written into `t` from a caller's buffer. */
static mt_status write_values(mt_tensor *t, const float *data)
{
    mti_update_param(t, NULL, copy_run, (void *)data); /* bumps the version */
    return MT_OK;
}

mt_status mt_copy_from(mt_tensor *t, const float *data, int64_t n)
{
    static const char fn[] = "mt_copy_from";
    if (!t) return mti_fail_null(fn, "t");
    if (!data) return mti_fail_null(fn, "data");
    if (n != t->numel) {
        char text[MTI_SHAPE_TEXT];
        return mti_fail(MT_ERR_SHAPE, fn, "n is %lld, the tensor (shape %s) has %lld elements",
                        (long long)n, mti_format_shape(text, sizeof text, t->ndim, t->shape),
                        (long long)t->numel);
    }
    if (!mti_writable_layout(t))
        return mti_fail(MT_ERR_INVALID_ARG, fn,
                        "the tensor is expanded (a stride 0): its elements overlap");
    if (t->requires_grad && mt_grad_enabled())
        return mti_fail(MT_ERR_AUTODIFF, fn,
                        "the tensor requires grad; writing into it would bypass autodiff (use "
                        "no-grad mode)");
    return write_values(t, data);
}

float *mt_data(mt_tensor *t)
{
    static const char fn[] = "mt_data";
    if (!t) return mti_fail_null(fn, "t"), NULL;
    if (!mti_is_contiguous_layout(t->ndim, t->shape, t->strides)) {
        char shape[MTI_SHAPE_TEXT], strides[MTI_SHAPE_TEXT];
        mti_fail(MT_ERR_NOT_CONTIGUOUS, fn,
                 "the tensor (shape %s, strides %s) is not contiguous; call mt_contiguous first",
                 mti_format_shape(shape, sizeof shape, t->ndim, t->shape),
                 mti_format_shape(strides, sizeof strides, t->ndim, t->strides));
        return NULL;
    }
    return mti_data(t);
}
