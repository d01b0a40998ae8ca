/* Learning-rate schedules as closed forms of the step (PyTorch's StepLR and CosineAnnealingLR). */
#include <math.h>

#include "minitorch/nn.h"
#include "runtime/error.h"

float mt_lr_step(float base, int64_t step, int64_t step_size, float gamma)
{
    static const char fn[] = "mt_lr_step";
    if (step < 0 || step_size < 1)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "need step >= 0 and step_size >= 1, got %lld and %lld",
                        (long long)step, (long long)step_size), NAN;
    if (!isfinite(base) || !isfinite(gamma))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "base and gamma must be finite, got %g and %g",
                        (double)base, (double)gamma), NAN;
    return (float)((double)base * pow((double)gamma, (double)(step / step_size)));
}

float mt_lr_cosine(float base, int64_t step, int64_t total, float min_lr)
{
    static const char fn[] = "mt_lr_cosine";
    if (step < 0 || total < 1)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "need step >= 0 and total >= 1, got %lld and %lld",
                        (long long)step, (long long)total), NAN;
    if (!isfinite(base) || !isfinite(min_lr))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "base and min_lr must be finite, got %g and %g",
                        (double)base, (double)min_lr), NAN;
    const double pi = 3.14159265358979323846;
    return (float)(min_lr + ((double)base - min_lr) * (1.0 + cos(pi * (double)step / (double)total)) / 2.0);
}
