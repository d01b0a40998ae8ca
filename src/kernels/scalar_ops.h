/* The scalar function of every elementwise operation, inlined into the kernels' loops. */
#ifndef MTI_SCALAR_OPS_H
#define MTI_SCALAR_OPS_H

#include <math.h>

/* Tell GCC that glibc's vector math library (libmvec) has SIMD versions of these, so loops
 * marked `omp simd` call the vector functions. glibc declares them only under -ffast-math, which
 * the library does not use (it would break NaN handling). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float logf(float);
#endif

static inline float mti_neg_f(float x) { return -x; }
static inline float mti_id_f(float x) { return x; }
/* Stable sigmoid with one exp: e = exp(-|x|) never overflows. */
static inline float mti_sigmoid_f(float x)
{
    float e = expf(-fabsf(x));
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}
static inline float mti_relu_f(float x) { return x < 0.0f ? 0.0f : x; } /* NaN stays NaN */
static inline float mti_log_f(float x) { return logf(x); }
static inline float mti_exp_f(float x) { return expf(x); }
static inline float mti_inv_f(float x) { return 1.0f / x; }

static inline float mti_add_f(float a, float b) { return a + b; }
static inline float mti_sub_f(float a, float b) { return a - b; }
static inline float mti_mul_f(float a, float b) { return a * b; }
static inline float mti_div_f(float a, float b) { return a / b; }
static inline float mti_lt_f(float a, float b) { return a < b ? 1.0f : 0.0f; }
static inline float mti_gt_f(float a, float b) { return a > b ? 1.0f : 0.0f; }
static inline float mti_eq_f(float a, float b) { return a == b ? 1.0f : 0.0f; }
static inline float mti_is_close_f(float a, float b) { return fabsf(a - b) < 1e-2f ? 1.0f : 0.0f; }
static inline float mti_relu_back_f(float a, float d) { return a > 0.0f ? d : 0.0f; }
static inline float mti_log_back_f(float a, float d) { return d / a; }
static inline float mti_inv_back_f(float a, float d) { return -d / (a * a); }
static inline float mti_sigmoid_back_f(float s, float d) { return s * (1.0f - s) * d; }

/* Reductions: NaN wins in max, so NaN propagates like it does through sums. */
static inline float mti_max_f(float a, float b) { return (a > b || a != a) ? a : b; }

#endif
