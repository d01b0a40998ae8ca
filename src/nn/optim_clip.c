/* torch.nn.utils.clip_grad_norm_ (2-norm) over a parameter list. */
#include <math.h>

#include "minitorch/nn.h"
#include "tensor/update.h"
#include "runtime/error.h"

static void add_squares(void *context, int64_t first, int64_t n, float *g, int64_t gs,
                        const float *unused, int64_t unused_stride)
{
    (void)first, (void)unused, (void)unused_stride;
    double *sum = context;
    for (int64_t k = 0; k < n; k++) *sum += (double)g[k * gs] * g[k * gs];
}

static void scale_run(void *context, int64_t first, int64_t n, float *g, int64_t gs,
                      const float *unused, int64_t unused_stride)
{
    (void)first, (void)unused, (void)unused_stride;
    const float coef = *(const float *)context;
    for (int64_t k = 0; k < n; k++) g[k * gs] *= coef;
}

mt_status mt_clip_grad_norm(const mt_params *params, float max_norm, float *total_norm)
{
    static const char fn[] = "mt_clip_grad_norm";
    if (!params) return mti_fail_null(fn, "params");
    if (!(max_norm >= 0.0f))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "max_norm must be >= 0, got %g", (double)max_norm);
    for (int i = 0; i < params->count; i++) {
        const mt_tensor *g = params->items[i] ? mti_tensor_grad(params->items[i]) : NULL;
        if (g && !mti_writable_layout(g)) /* never made by backward; checked before any write */
            return mti_fail(MT_ERR_INVALID_ARG, fn, "the gradient of parameter %d has a zero stride", i);
    }
    /* one sequential sum in double, parameter by parameter in row-major order: the same for any
     * thread count */
    double sum = 0.0;
    for (int i = 0; i < params->count; i++)
        if (params->items[i] && mti_tensor_grad(params->items[i])) mti_read_runs(mti_tensor_grad(params->items[i]), add_squares, &sum);
    const double norm = sqrt(sum);
    const double coef = (double)max_norm / (norm + 1e-6);
    if (!(coef >= 1.0)) { /* below 1, or NaN for a NaN / infinite norm (as PyTorch's clamp) */
        float scale = (float)coef;
        for (int i = 0; i < params->count; i++)
            if (params->items[i] && mti_tensor_grad(params->items[i]))
                mti_update_param(mti_tensor_grad(params->items[i]), NULL, scale_run, &scale);
    }
    if (total_norm) *total_norm = (float)norm;
    return MT_OK;
}
