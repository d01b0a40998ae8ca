/* The scalar function of every elementwise operation and of every unary op's gradient, inlined
 * into the kernels' loops (see kernels/op_table.h for the naming rule). Parameters a function
 * does not use are ignored. */
#ifndef MTI_SCALAR_OPS_H
#define MTI_SCALAR_OPS_H

#include <math.h>

#include "kernels/op_table.h"

/* Tell GCC that glibc's vector math library (libmvec) has SIMD versions of these, so loops
 * marked `omp simd` call the vector functions. glibc declares them only under -ffast-math, which
 * the library does not use (it would break NaN handling). The vector and scalar versions can
 * differ by a few ulp, so an op whose scalar function calls one of them must have a cost of 4 or
 * more in the op table: the elementwise kernels then run all its elements through one fixed-length
 * vector loop (kernels/elementwise.c, "staged"), and a value gets the same bits wherever it sits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float logf(float);
#endif

/* Marks parameters a scalar function does not use. */
#define MTI_IGNORE(p) (void)(p)

/* ---- unary: forward f(x) and gradient f'(v, g), v the saved input or output ---- */

static inline float mti_neg_f(float x, mti_params p) { MTI_IGNORE(p); return -x; }
static inline float mti_neg_grad_f(float x, float g, mti_params p) { MTI_IGNORE(x); MTI_IGNORE(p); return -g; }

static inline float mti_copy_f(float x, mti_params p) { MTI_IGNORE(p); return x; }
static inline float mti_copy_grad_f(float x, float g, mti_params p) { MTI_IGNORE(x); MTI_IGNORE(p); return g; }

/* Stable sigmoid with one exp: e = exp(-|x|) never overflows. */
static inline float mti_sigmoid_f(float x, mti_params p)
{
    MTI_IGNORE(p);
    float e = expf(-fabsf(x));
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}
/* v is the output s: s (1 - s) g. */
static inline float mti_sigmoid_grad_f(float s, float g, mti_params p) { MTI_IGNORE(p); return s * (1.0f - s) * g; }

static inline float mti_relu_f(float x, mti_params p) { MTI_IGNORE(p); return x < 0.0f ? 0.0f : x; } /* NaN stays NaN */
static inline float mti_relu_grad_f(float x, float g, mti_params p) { MTI_IGNORE(p); return x > 0.0f ? g : 0.0f; }

static inline float mti_log_f(float x, mti_params p) { MTI_IGNORE(p); return logf(x); }
static inline float mti_log_grad_f(float x, float g, mti_params p) { MTI_IGNORE(p); return g / x; }

static inline float mti_exp_f(float x, mti_params p) { MTI_IGNORE(p); return expf(x); }
/* v is the output e^x. */
static inline float mti_exp_grad_f(float y, float g, mti_params p) { MTI_IGNORE(p); return y * g; }

static inline float mti_inv_f(float x, mti_params p) { MTI_IGNORE(p); return 1.0f / x; }
static inline float mti_inv_grad_f(float x, float g, mti_params p) { MTI_IGNORE(p); return -g / (x * x); }

static inline float mti_tanh_f(float x, mti_params p) { MTI_IGNORE(p); return tanhf(x); }
/* v is the output t: (1 - t^2) g. */
static inline float mti_tanh_grad_f(float t, float g, mti_params p) { MTI_IGNORE(p); return (1.0f - t * t) * g; }

/* ---- binary ---- */

static inline float mti_add_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a + b; }
static inline float mti_sub_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a - b; }
static inline float mti_mul_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a * b; }
static inline float mti_div_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a / b; }
static inline float mti_lt_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a < b ? 1.0f : 0.0f; }
static inline float mti_gt_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a > b ? 1.0f : 0.0f; }
static inline float mti_eq_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a == b ? 1.0f : 0.0f; }
static inline float mti_is_close_f(float a, float b, mti_params p) { MTI_IGNORE(p); return fabsf(a - b) < 1e-2f ? 1.0f : 0.0f; }

/* ---- reductions: start value and step; NaN wins in max, so NaN propagates like it does
 *      through sums ---- */

#define mti_sum_start 0.0f
static inline float mti_sum_step(float acc, float x) { return acc + x; }
#define mti_prod_start 1.0f
static inline float mti_prod_step(float acc, float x) { return acc * x; }
#define mti_max_start (-INFINITY)
static inline float mti_max_step(float acc, float x) { return (acc > x || acc != acc) ? acc : x; }

#endif
