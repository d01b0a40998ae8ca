/* torch.nn.init: seeded in-place fills (uniform, normal, Kaiming, Xavier), gains and fans. */
#include <math.h>

#include "minitorch/nn.h"
#include "tensor/update.h"
#include "runtime/error.h"
#include "runtime/random.h"

float mt_init_calculate_gain(mt_nonlinearity nonlinearity, float param)
{
    static const char fn[] = "mt_init_calculate_gain";
    switch (nonlinearity) {
    case MT_NONLINEARITY_LINEAR:
    case MT_NONLINEARITY_SIGMOID: return 1.0f;
    case MT_NONLINEARITY_TANH: return 5.0f / 3.0f;
    case MT_NONLINEARITY_RELU: return (float)sqrt(2.0);
    case MT_NONLINEARITY_LEAKY_RELU:
        if (!isfinite(param))
            return mti_fail(MT_ERR_INVALID_ARG, fn, "the negative slope must be finite, got %g",
                            (double)param), NAN;
        return (float)sqrt(2.0 / (1.0 + (double)param * param));
    case MT_NONLINEARITY_SELU: return 0.75f;
    }
    return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not an mt_nonlinearity", (int)nonlinearity), NAN;
}

static mt_status fans(const char *fn, const mt_tensor *t, int64_t *fan_in, int64_t *fan_out)
{
    if (mt_ndim(t) < 2)
        return mti_fail(MT_ERR_SHAPE, fn, "fans need a tensor of 2 or more dims, got %d", mt_ndim(t));
    int64_t receptive = 1;
    for (int d = 2; d < mt_ndim(t); d++) receptive *= mt_shape(t)[d]; /* bounded by numel */
    /* (in, out, k...): dims 0 and 1 are PyTorch's (out, in) swapped, see nn.h */
    *fan_in = mt_shape(t)[0] * receptive;
    *fan_out = mt_shape(t)[1] * receptive;
    return MT_OK;
}

mt_status mt_init_fans(const mt_tensor *t, int64_t *fan_in, int64_t *fan_out)
{
    static const char fn[] = "mt_init_fans";
    if (!t) return mti_fail_null(fn, "t");
    if (!fan_in) return mti_fail_null(fn, "fan_in");
    if (!fan_out) return mti_fail_null(fn, "fan_out");
    int64_t in, out;
    mt_status status = fans(fn, t, &in, &out);
    if (status != MT_OK) return status;
    *fan_in = in;
    *fan_out = out;
    return MT_OK;
}

/* ---- the two fills; element i depends only on (seed, row-major position i) ---- */

typedef struct fill_rule {
    bool normal;
    double low, span, high; /* uniform: low + span * u, kept below high */
    double mean, std;       /* normal */
    uint64_t key;
} fill_rule;

static void fill_run(void *context, int64_t first, int64_t n, float *t, int64_t ts,
                     const float *unused, int64_t unused_stride)
{
    (void)unused, (void)unused_stride;
    const fill_rule *r = context;
    for (int64_t k = 0; k < n; k++) {
        const uint64_t i = (uint64_t)(first + k);
        float value;
        if (r->normal) {
            value = (float)(r->mean + r->std * mti_random_normal(r->key, i));
        } else { /* as mt_rand_uniform: rounding must not reach high */
            value = (float)(r->low + r->span * (double)mti_random_unit(r->key, i));
            if (!((double)value < r->high)) value = (float)r->low;
        }
        t[k * ts] = value;
    }
}

static mt_status check_target(const char *fn, const mt_tensor *t)
{
    if (!t) return mti_fail_null(fn, "t");
    if (!mti_writable_layout(t))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "the tensor is an expanded view (a zero stride)");
    return MT_OK;
}

static mt_status fill_uniform(const char *fn, mt_tensor *t, double lo, double hi, uint64_t seed)
{
    if (!(isfinite(lo) && isfinite(hi) && lo <= hi))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "need finite lo <= hi, got [%g, %g)", lo, hi);
    fill_rule rule = {.low = (float)lo, .span = (double)(float)hi - (double)(float)lo,
                      .high = (float)hi, .key = mti_random_key(seed)};
    mti_update_param(t, NULL, fill_run, &rule);
    return MT_OK;
}

static mt_status fill_normal(const char *fn, mt_tensor *t, double mean, double std, uint64_t seed)
{
    if (!(isfinite(mean) && isfinite(std) && std >= 0.0))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "need a finite mean and a finite std >= 0, got %g and %g",
                        mean, std);
    fill_rule rule = {.normal = true, .mean = mean, .std = std, .key = mti_random_key(seed)};
    mti_update_param(t, NULL, fill_run, &rule);
    return MT_OK;
}

mt_status mt_init_uniform(mt_tensor *t, float lo, float hi, uint64_t seed)
{
    static const char fn[] = "mt_init_uniform";
    mt_status status = check_target(fn, t);
    return status == MT_OK ? fill_uniform(fn, t, lo, hi, seed) : status;
}

mt_status mt_init_normal(mt_tensor *t, float mean, float std, uint64_t seed)
{
    static const char fn[] = "mt_init_normal";
    mt_status status = check_target(fn, t);
    return status == MT_OK ? fill_normal(fn, t, mean, std, seed) : status;
}

/* ---- Kaiming and Xavier ---- */

/* std = gain / sqrt(fan) for Kaiming. */
static mt_status kaiming_std(const char *fn, const mt_tensor *t, float a, mt_fan_mode mode,
                             mt_nonlinearity nonlinearity, double *std)
{
    mt_status status = check_target(fn, t);
    if (status != MT_OK) return status;
    if (mode != MT_FAN_IN && mode != MT_FAN_OUT)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not an mt_fan_mode", (int)mode);
    int64_t fan_in, fan_out;
    if ((status = fans(fn, t, &fan_in, &fan_out)) != MT_OK) return status;
    const float gain = mt_init_calculate_gain(nonlinearity, a);
    if (isnan(gain)) {
        mti_error_context(fn);
        return mt_last_status();
    }
    *std = gain / sqrt((double)(mode == MT_FAN_IN ? fan_in : fan_out));
    return MT_OK;
}

mt_status mt_init_kaiming_uniform(mt_tensor *t, float a, mt_fan_mode mode,
                                  mt_nonlinearity nonlinearity, uint64_t seed)
{
    static const char fn[] = "mt_init_kaiming_uniform";
    double std = 0.0;
    mt_status status = kaiming_std(fn, t, a, mode, nonlinearity, &std);
    if (status != MT_OK) return status;
    const double bound = sqrt(3.0) * std;
    return fill_uniform(fn, t, -bound, bound, seed);
}

mt_status mt_init_kaiming_normal(mt_tensor *t, float a, mt_fan_mode mode,
                                 mt_nonlinearity nonlinearity, uint64_t seed)
{
    static const char fn[] = "mt_init_kaiming_normal";
    double std = 0.0;
    mt_status status = kaiming_std(fn, t, a, mode, nonlinearity, &std);
    return status == MT_OK ? fill_normal(fn, t, 0.0, std, seed) : status;
}

/* std = gain * sqrt(2 / (fan_in + fan_out)) for Xavier. */
static mt_status xavier_std(const char *fn, const mt_tensor *t, float gain, double *std)
{
    mt_status status = check_target(fn, t);
    if (status != MT_OK) return status;
    if (!(isfinite(gain) && gain >= 0.0f))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "gain must be finite and >= 0, got %g", (double)gain);
    int64_t fan_in, fan_out;
    if ((status = fans(fn, t, &fan_in, &fan_out)) != MT_OK) return status;
    *std = gain * sqrt(2.0 / ((double)fan_in + (double)fan_out));
    return MT_OK;
}

mt_status mt_init_xavier_uniform(mt_tensor *t, float gain, uint64_t seed)
{
    static const char fn[] = "mt_init_xavier_uniform";
    double std = 0.0;
    mt_status status = xavier_std(fn, t, gain, &std);
    if (status != MT_OK) return status;
    const double bound = sqrt(3.0) * std;
    return fill_uniform(fn, t, -bound, bound, seed);
}

mt_status mt_init_xavier_normal(mt_tensor *t, float gain, uint64_t seed)
{
    static const char fn[] = "mt_init_xavier_normal";
    double std = 0.0;
    mt_status status = xavier_std(fn, t, gain, &std);
    return status == MT_OK ? fill_normal(fn, t, 0.0, std, seed) : status;
}
