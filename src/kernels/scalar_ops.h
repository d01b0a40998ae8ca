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

/* tanh from one exp, so it vectorizes like sigmoid (glibc's scalar tanhf costs ~20 ns per
 * element): sign(x) (1 - e) / (1 + e) with e = exp(-2|x|), a few ulp once |x| >= 0.3 (where
 * e <= 0.55 keeps 1 - e from cancelling); below that the odd Taylor series to x^11, whose next
 * term is < 1e-9 relative at 0.3. */
static inline float mti_tanh_f(float x, mti_params p)
{
    MTI_IGNORE(p);
    float ax = fabsf(x), x2 = x * x;
    float e = expf(-2.0f * ax);
    float large = copysignf((1.0f - e) / (1.0f + e), x);
    float series = -0.00886323552990219f; /* -1382/155925 */
    series = series * x2 + 0.0218694885361552f; /* 62/2835 */
    series = series * x2 - 0.0539682539682540f; /* -17/315 */
    series = series * x2 + 0.133333333333333f;  /* 2/15 */
    series = series * x2 - 0.333333333333333f;  /* -1/3 */
    float small = copysignf(fabsf(x + x * x2 * series), x); /* tanh(-0) = -0 */
    return ax < 0.3f ? small : large;
}
/* v is the output t: (1 - t^2) g. */
static inline float mti_tanh_grad_f(float t, float g, mti_params p) { MTI_IGNORE(p); return (1.0f - t * t) * g; }

static inline float mti_sqrt_f(float x, mti_params p) { MTI_IGNORE(p); return sqrtf(x); }
/* v is the output y: g / (2 y), +inf at x = 0 (as PyTorch). */
static inline float mti_sqrt_grad_f(float y, float g, mti_params p) { MTI_IGNORE(p); return g / (2.0f * y); }

static inline float mti_rsqrt_f(float x, mti_params p) { MTI_IGNORE(p); return 1.0f / sqrtf(x); }
/* v is the output y: -g y^3 / 2 (PyTorch's -0.5 * grad * result^3). */
static inline float mti_rsqrt_grad_f(float y, float g, mti_params p) { MTI_IGNORE(p); return -0.5f * g * (y * y * y); }

static inline float mti_abs_f(float x, mti_params p) { MTI_IGNORE(p); return fabsf(x); }
/* g * sign(x), sign(0) = sign(NaN) = 0 (torch.sign's comparisons). */
static inline float mti_abs_grad_f(float x, float g, mti_params p)
{
    MTI_IGNORE(p);
    return g * (float)((x > 0.0f) - (x < 0.0f));
}

/* sin and cos call the scalar libm functions (no vector versions declared), so every element
 * gets the same result wherever it sits in a row. */
static inline float mti_sin_f(float x, mti_params p) { MTI_IGNORE(p); return sinf(x); }
static inline float mti_sin_grad_f(float x, float g, mti_params p) { MTI_IGNORE(p); return g * cosf(x); }

static inline float mti_cos_f(float x, mti_params p) { MTI_IGNORE(p); return cosf(x); }
static inline float mti_cos_grad_f(float x, float g, mti_params p) { MTI_IGNORE(p); return g * -sinf(x); }

static inline float mti_square_f(float x, mti_params p) { MTI_IGNORE(p); return x * x; }
static inline float mti_square_grad_f(float x, float g, mti_params p) { MTI_IGNORE(p); return g * (2.0f * x); }

/* The logistic function split for the activations below, from one exp that never overflows:
 * e = exp(-|z|), r = 1 / (1 + e); sigmoid(z) = r or e r, 1 - sigmoid(z) = e r or r, and
 * sigmoid(z) (1 - sigmoid(z)) = e r^2 without cancellation. */
typedef struct mti_logistic {
    float s, one_minus_s, s_times_complement;
} mti_logistic;
static inline mti_logistic mti_logistic_of(float z)
{
    float e = expf(-fabsf(z));
    float r = 1.0f / (1.0f + e);
    mti_logistic l = {z >= 0.0f ? r : e * r, z >= 0.0f ? e * r : r, e * r * r};
    return l;
}

/* GELU, tanh approximation: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as
 * x sigmoid(2u) (the same function: 0.5 (1 + tanh(u)) = sigmoid(2u)), which keeps the left tail
 * accurate where 1 + tanh(u) would cancel. */
#define MTI_GELU_SQRT_2_OVER_PI 0.7978845608028654f
#define MTI_GELU_CUBIC 0.044715f
static inline float mti_gelu_f(float x, mti_params p)
{
    MTI_IGNORE(p);
    float two_u = 2.0f * MTI_GELU_SQRT_2_OVER_PI * (x + MTI_GELU_CUBIC * x * x * x);
    return x * mti_logistic_of(two_u).s;
}
/* d/dx x sigmoid(2u) = s + 2 x s (1 - s) u'(x), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2). Where
 * s (1 - s) is 0 the second term is 0 (its limit), also when x^2 overflows. */
static inline float mti_gelu_grad_f(float x, float g, mti_params p)
{
    MTI_IGNORE(p);
    float x2 = x * x;
    float two_u = 2.0f * MTI_GELU_SQRT_2_OVER_PI * (x + MTI_GELU_CUBIC * x2 * x);
    mti_logistic l = mti_logistic_of(two_u);
    float du = MTI_GELU_SQRT_2_OVER_PI * (1.0f + 3.0f * MTI_GELU_CUBIC * x2);
    float slope = l.s_times_complement == 0.0f ? 0.0f : 2.0f * x * l.s_times_complement * du;
    return g * (l.s + slope);
}

/* SiLU: x sigmoid(x) (silu(-inf) is NaN, as PyTorch's x / (1 + e^-x)). */
static inline float mti_silu_f(float x, mti_params p) { MTI_IGNORE(p); return x * mti_logistic_of(x).s; }
/* s (1 + x (1 - s)) = s + x s (1 - s); at +-inf its limits 1 and 0. */
static inline float mti_silu_grad_f(float x, float g, mti_params p)
{
    MTI_IGNORE(p);
    mti_logistic l = mti_logistic_of(x);
    float slope = l.s_times_complement == 0.0f ? 0.0f : x * l.s_times_complement;
    return g * (l.s + slope);
}

/* Softplus with PyTorch's beta = 1, threshold = 20: x above 20, else log(1 + e^x). */
#define MTI_SOFTPLUS_THRESHOLD 20.0f
static inline float mti_softplus_f(float x, mti_params p)
{
    MTI_IGNORE(p);
    return x > MTI_SOFTPLUS_THRESHOLD ? x : log1pf(expf(x));
}
/* PyTorch's: g above the threshold, else g z / (z + 1) with z = e^x. */
static inline float mti_softplus_grad_f(float x, float g, mti_params p)
{
    MTI_IGNORE(p);
    float z = expf(x);
    return x > MTI_SOFTPLUS_THRESHOLD ? g : g * z / (z + 1.0f);
}

/* p0 = negative slope. NaN stays NaN. */
static inline float mti_leaky_relu_f(float x, mti_params p) { return x > 0.0f ? x : x * p.p0; }
static inline float mti_leaky_relu_grad_f(float x, float g, mti_params p) { return x > 0.0f ? g : g * p.p0; }

/* p0 = lo, p1 = hi: min(max(x, lo), hi), so lo > hi gives hi everywhere (as PyTorch); a NaN
 * input or bound gives NaN. */
static inline float mti_clamp_f(float x, mti_params p)
{
    float v = (x < p.p0 || p.p0 != p.p0) ? p.p0 : x;
    return (v > p.p1 || p.p1 != p.p1) ? p.p1 : v;
}
/* g inside [lo, hi] (bounds included), exactly 0 outside (PyTorch's where(mask, g, 0)). */
static inline float mti_clamp_grad_f(float x, float g, mti_params p)
{
    return (x >= p.p0 && x <= p.p1) ? g : 0.0f;
}

/* p0 = the exponent; C's powf (pow(x, 0) = 1 even for NaN, pow(1, y) = 1, a negative base with
 * a non-integer exponent gives NaN). */
static inline float mti_pow_scalar_f(float x, mti_params p) { return powf(x, p.p0); }
/* PyTorch's: 0 for the exponent 0, else g (p x^(p - 1)). */
static inline float mti_pow_scalar_grad_f(float x, float g, mti_params p)
{
    return p.p0 == 0.0f ? 0.0f : g * (p.p0 * powf(x, p.p0 - 1.0f));
}

/* ---- binary ---- */

static inline float mti_add_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a + b; }
static inline float mti_sub_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a - b; }
static inline float mti_mul_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a * b; }
static inline float mti_div_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a / b; }
static inline float mti_lt_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a < b ? 1.0f : 0.0f; }
static inline float mti_gt_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a > b ? 1.0f : 0.0f; }
static inline float mti_eq_f(float a, float b, mti_params p) { MTI_IGNORE(p); return a == b ? 1.0f : 0.0f; }
static inline float mti_is_close_f(float a, float b, mti_params p) { MTI_IGNORE(p); return fabsf(a - b) < 1e-2f ? 1.0f : 0.0f; }

static inline float mti_pow_f(float a, float b, mti_params p) { MTI_IGNORE(p); return powf(a, b); }
/* NaN in either input gives NaN (torch.maximum); of -0 and +0, maximum is +0 and minimum -0
 * whatever the order (IEEE 754-2019 maximum / minimum). */
static inline float mti_maximum_f(float a, float b, mti_params p)
{
    MTI_IGNORE(p);
    return (a > b || a != a) ? a : (b > a || b != b) ? b : signbit(a) ? b : a;
}
static inline float mti_minimum_f(float a, float b, mti_params p)
{
    MTI_IGNORE(p);
    return (a < b || a != a) ? a : (b < a || b != b) ? b : signbit(a) ? a : b;
}

/* ---- three inputs (a, b, c) ---- */

/* c nonzero (NaN counts as nonzero) selects a, else b: a select, never c a + (1 - c) b. */
static inline float mti_where_f(float c, float a, float b, mti_params p) { MTI_IGNORE(p); return c != 0.0f ? a : b; }
/* The gradients of pow(a, b) for (a, b, g), PyTorch's conventions: d/da is 0 where b == 0,
 * else g (b a^(b-1)); d/db is g * 0 where a == 0 and b >= 0, else g (a^b log a) (-inf at
 * a = 0, b < 0). */
static inline float mti_pow_grad_base_f(float a, float b, float g, mti_params p)
{
    MTI_IGNORE(p);
    return b == 0.0f ? 0.0f : g * (b * powf(a, b - 1.0f));
}
static inline float mti_pow_grad_exponent_f(float a, float b, float g, mti_params p)
{
    MTI_IGNORE(p);
    return g * ((a == 0.0f && b >= 0.0f) ? 0.0f : powf(a, b) * logf(a));
}
/* The part of maximum(a, b)'s gradient g for a: g where a > b (or either is NaN), g / 2 on a
 * tie, 0 where a < b; for b, swap the inputs. minimum mirrors it. (torch.maximum's formula.) */
static inline float mti_maximum_grad_f(float a, float b, float g, mti_params p)
{
    MTI_IGNORE(p);
    return a == b ? g / 2.0f : a < b ? 0.0f : g;
}
static inline float mti_minimum_grad_f(float a, float b, float g, mti_params p)
{
    MTI_IGNORE(p);
    return a == b ? g / 2.0f : a > b ? 0.0f : g;
}

/* ---- reductions: start value and step; NaN wins in max and min, so NaN propagates like it does
 *      through sums ---- */

#define mti_sum_start 0.0f
static inline float mti_sum_step(float acc, float x) { return acc + x; }
#define mti_prod_start 1.0f
static inline float mti_prod_step(float acc, float x) { return acc * x; }
#define mti_max_start (-INFINITY)
static inline float mti_max_step(float acc, float x) { return (acc > x || acc != acc) ? acc : x; }
#define mti_min_start INFINITY
static inline float mti_min_step(float acc, float x) { return (acc < x || acc != acc) ? acc : x; }

#endif
