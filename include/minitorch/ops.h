/* minitorch-c: tensor operations (MiniTorch's operation set, float32).
 *
 * Every operation returns a new tensor (a new reference) or NULL on failure, and records autodiff
 * history when an input requires grad (see autodiff.h). Binary operations broadcast their inputs
 * (right-aligned, size-1 and missing dims repeat); the result has the broadcast shape. Inputs may
 * have any strides: permuted, expanded or narrowed views work everywhere.
 *
 * Numerics, by operation:
 *   mt_log      plain natural log: log(0) = -inf, log(x<0) = NaN (not MiniTorch's ln(x + 1e-6)).
 *   mt_inv      1/x: inv(0) = +inf (IEEE).
 *   mt_sigmoid  stable form, never overflows: sigmoid(-100) is ~3.7e-44, sigmoid(100) is 1.
 *   mt_exp      overflows to +inf above ~88.7.
 *   comparisons return 1.0 or 0.0; mt_is_close is |a - b| < 1e-2 (absolute, as MiniTorch).
 *   NaN propagates through arithmetic and sums; mt_max and mt_min return NaN for a line holding
 *   The activations and math functions below follow PyTorch's definitions (torch.sqrt, ...,
 *   F.gelu(approximate="tanh"), F.softplus with beta 1 and threshold 20) and PyTorch's gradient
 *   formulas, including their values at kinks and at 0; each declaration says where a value
 *   differs.
 *   one (mt_argmax and mt_argmin its first index), as PyTorch does.
 */
#ifndef MINITORCH_OPS_H
#define MINITORCH_OPS_H

#include "error.h"
#include "export.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise, one input: a new contiguous tensor of a's shape ---- */
/** -a. */
MT_API mt_tensor *mt_neg(mt_tensor *a);
/** A contiguous copy of `a` (MiniTorch's id/copy); always new storage. */
MT_API mt_tensor *mt_copy(mt_tensor *a);
/** 1 / (1 + e^-a), computed without overflow for any a. */
MT_API mt_tensor *mt_sigmoid(mt_tensor *a);
/** max(a, 0); NaN stays NaN. Gradient 0 at a = 0. */
MT_API mt_tensor *mt_relu(mt_tensor *a);
/** Natural log: log(0) = -inf, log(a < 0) = NaN. */
MT_API mt_tensor *mt_log(mt_tensor *a);
/** e^a: +inf above ~88.7. */
MT_API mt_tensor *mt_exp(mt_tensor *a);
/** 1 / a: inv(0) = +inf, inv(-0) = -inf. */
MT_API mt_tensor *mt_inv(mt_tensor *a);
/** Hyperbolic tangent, in [-1, 1] for any finite a (±1 for |a| > ~9), tanh(-0) = -0, within
 *  ~4 ulp of the exact value. Gradient (1 - tanh(a)^2), computed from the saved output. */
MT_API mt_tensor *mt_tanh(mt_tensor *a);
/** Square root: sqrt(-0) = -0, sqrt(a < 0) = NaN. Gradient g / (2 sqrt(a)), +inf at a = 0. */
MT_API mt_tensor *mt_sqrt(mt_tensor *a);
/** 1 / sqrt(a): rsqrt(0) = +inf, rsqrt(-0) = -inf, rsqrt(a < 0) = NaN. Gradient
 *  -g rsqrt(a)^3 / 2. */
MT_API mt_tensor *mt_rsqrt(mt_tensor *a);
/** |a|. Gradient g sign(a), 0 at a = 0 (as torch.abs). */
MT_API mt_tensor *mt_abs(mt_tensor *a);
/** sin(a) (NaN at +-inf). Gradient g cos(a). */
MT_API mt_tensor *mt_sin(mt_tensor *a);
/** cos(a) (NaN at +-inf). Gradient -g sin(a). */
MT_API mt_tensor *mt_cos(mt_tensor *a);
/** a * a. Gradient 2 a g. */
MT_API mt_tensor *mt_square(mt_tensor *a);
/** GELU, tanh approximation (PyTorch's approximate="tanh"):
 *  0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3))), evaluated as a * sigmoid(2 sqrt(2/pi) (...)),
 *  the same function, accurate in the left tail where 1 + tanh cancels. gelu(+inf) = +inf,
 *  gelu(-inf) = NaN (as PyTorch: -inf * 0). Gradient: the exact derivative of that formula; for
 *  |a| so large that a^3 overflows it is the limit 1 or 0 (PyTorch's formula gives NaN there). */
MT_API mt_tensor *mt_gelu(mt_tensor *a);
/** SiLU (swish): a * sigmoid(a); silu(-inf) = NaN, as PyTorch's a / (1 + e^-a). Gradient
 *  sigmoid(a) (1 + a (1 - sigmoid(a))), with its limits 1 and 0 at +inf and -inf. */
MT_API mt_tensor *mt_silu(mt_tensor *a);
/** Softplus with PyTorch's defaults (beta 1, threshold 20): a where a > 20, else log(1 + e^a).
 *  Gradient g where a > 20, else g e^a / (e^a + 1). */
MT_API mt_tensor *mt_softplus(mt_tensor *a);
/** a where a > 0, else a * slope (F.leaky_relu; PyTorch's default slope is 0.01). NaN stays
 *  NaN. Gradient g where a > 0, else g * slope (slope at a = 0). */
MT_API mt_tensor *mt_leaky_relu(mt_tensor *a, float slope);
/** min(max(a, lo), hi), as torch.clamp: when lo > hi every element becomes hi; a NaN element or
 *  a NaN bound gives NaN; infinite bounds clamp one side only. Gradient g where lo <= a <= hi
 *  (bounds included), 0 elsewhere (so 0 everywhere when lo > hi). */
MT_API mt_tensor *mt_clamp(mt_tensor *a, float lo, float hi);
/** a^p (C's powf: pow(a, 0) = 1 even for NaN a, pow(1, p) = 1, a negative a with a
 *  non-integer p gives NaN, pow(0, p < 0) = +inf). Gradient 0 when p == 0, else g p a^(p-1). */
MT_API mt_tensor *mt_pow_scalar(mt_tensor *a, float p);

/* ---- elementwise, two inputs: a new tensor of the broadcast shape; MT_ERR_BROADCAST when the
 *      shapes do not broadcast ---- */
/** a + b. */
MT_API mt_tensor *mt_add(mt_tensor *a, mt_tensor *b);
/** a - b. */
MT_API mt_tensor *mt_sub(mt_tensor *a, mt_tensor *b);
/** a * b. */
MT_API mt_tensor *mt_mul(mt_tensor *a, mt_tensor *b);
/** a / b (IEEE: x/0 = ±inf, 0/0 = NaN). */
MT_API mt_tensor *mt_div(mt_tensor *a, mt_tensor *b);
/** 1.0 where a < b, else 0.0 (gradient 0). */
MT_API mt_tensor *mt_lt(mt_tensor *a, mt_tensor *b);
/** 1.0 where a > b, else 0.0 (gradient 0). */
MT_API mt_tensor *mt_gt(mt_tensor *a, mt_tensor *b);
/** 1.0 where a == b, else 0.0 (gradient 0). */
MT_API mt_tensor *mt_eq(mt_tensor *a, mt_tensor *b);
/** 1.0 where |a - b| < 1e-2 (float), else 0.0 (gradient 0). */
MT_API mt_tensor *mt_is_close(mt_tensor *a, mt_tensor *b);
/** a^b elementwise (powf, as mt_pow_scalar). Gradients, PyTorch's conventions: for a,
 *  g b a^(b-1), 0 where b == 0; for b, g a^b log(a), 0 where a == 0 and b >= 0 (-inf where
 *  a == 0 and b < 0, NaN where a < 0). */
MT_API mt_tensor *mt_pow(mt_tensor *a, mt_tensor *b);
/** The larger of a and b (torch.maximum): NaN if either is NaN; maximum(-0, +0) = +0. Gradient:
 *  g to the larger input, g / 2 to each on a tie, g to both where either is NaN. */
MT_API mt_tensor *mt_maximum(mt_tensor *a, mt_tensor *b);
/** The smaller of a and b (torch.minimum): NaN if either is NaN; minimum(-0, +0) = -0.
 *  Gradient as mt_maximum's, to the smaller input. */
MT_API mt_tensor *mt_minimum(mt_tensor *a, mt_tensor *b);
/** MiniTorch's backward helpers: d where a > 0 else 0. Not differentiable themselves (their
 *  results carry no autodiff history). */
MT_API mt_tensor *mt_relu_back(mt_tensor *a, mt_tensor *d);
/** d / a (the gradient of log). Not differentiable itself. */
MT_API mt_tensor *mt_log_back(mt_tensor *a, mt_tensor *d);
/** -d / a^2 (the gradient of inv). Not differentiable itself. */
MT_API mt_tensor *mt_inv_back(mt_tensor *a, mt_tensor *d);

/* ---- selection ---- */
/** a where cond is nonzero (NaN counts as nonzero), else b (torch.where with a float
 *  condition); cond, a and b broadcast together and the result has their broadcast shape. A
 *  true select: the unchosen side never enters the result, so an infinite or NaN value there
 *  cannot turn it into NaN. Gradient: g to a where cond is nonzero and to b elsewhere (0 on the
 *  other side), summed back to each input's shape; cond gets a zero gradient. NULL with
 *  MT_ERR_NULL for a NULL input, MT_ERR_BROADCAST when the three shapes do not broadcast. */
MT_API mt_tensor *mt_where(mt_tensor *cond, mt_tensor *a, mt_tensor *b);
/** a with `value` wherever mask is nonzero (Tensor.masked_fill): mask broadcasts to a's shape,
 *  and the result has a's shape. Gradient g to a where mask is 0, 0 where it was filled; mask
 *  gets a zero gradient. NULL with MT_ERR_NULL for a NULL input, MT_ERR_BROADCAST when mask
 *  does not broadcast to a (a larger mask is refused, as PyTorch). */
MT_API mt_tensor *mt_masked_fill(mt_tensor *a, mt_tensor *mask, float value);

/* ---- tensor op scalar: the scalar acts as a shape-(1,) tensor (so the result has a's shape) ---- */
/** a + s. */
MT_API mt_tensor *mt_add_scalar(mt_tensor *a, float s);
/** a - s. */
MT_API mt_tensor *mt_sub_scalar(mt_tensor *a, float s);
/** s - a. */
MT_API mt_tensor *mt_rsub_scalar(mt_tensor *a, float s);
/** a * s. */
MT_API mt_tensor *mt_mul_scalar(mt_tensor *a, float s);
/** a / s. */
MT_API mt_tensor *mt_div_scalar(mt_tensor *a, float s);
/** s / a. */
MT_API mt_tensor *mt_rdiv_scalar(mt_tensor *a, float s);
/** 1.0 where a < s. */
MT_API mt_tensor *mt_lt_scalar(mt_tensor *a, float s);
/** 1.0 where a > s. */
MT_API mt_tensor *mt_gt_scalar(mt_tensor *a, float s);
/** 1.0 where a == s. */
MT_API mt_tensor *mt_eq_scalar(mt_tensor *a, float s);

/* ---- reductions over one dim; the dim is kept with size 1 (negative dims count from the end;
 *      MT_ERR_INDEX when out of range). Bitwise identical results for any thread count. ---- */
/** Sum over `dim`. */
MT_API mt_tensor *mt_sum(mt_tensor *a, int dim);
/** Product over `dim` (MiniTorch's `all` is a product of 0/1 values). */
MT_API mt_tensor *mt_prod(mt_tensor *a, int dim);
/** Maximum over `dim`; its gradient goes to the first maximal element. */
MT_API mt_tensor *mt_max(mt_tensor *a, int dim);
/** Mean over `dim` (the sum times 1/size). */
MT_API mt_tensor *mt_mean(mt_tensor *a, int dim);
/** Sum of every element, shape (1,). Deterministic for any thread count. */
MT_API mt_tensor *mt_sum_all(mt_tensor *a);
/** Mean of every element, shape (1,). */
MT_API mt_tensor *mt_mean_all(mt_tensor *a);
/** Minimum over `dim`; its gradient goes to the first minimal element. */
MT_API mt_tensor *mt_min(mt_tensor *a, int dim);
/** Index of the first maximal element along `dim`, as a float (exact: `dim` may hold at most 2^24
 *  elements, else MT_ERR_SHAPE). NaN counts as larger than every number (its first index wins).
 *  Not differentiable: the result has no autodiff history. */
MT_API mt_tensor *mt_argmax(mt_tensor *a, int dim);
/** Index of the first minimal element along `dim` (NaN wins, as in mt_argmax). No history. */
MT_API mt_tensor *mt_argmin(mt_tensor *a, int dim);
/** log(sum(exp(a))) over `dim`, computed as m + log(sum(exp(a - m))) with m the line's maximum, so
 *  it neither overflows nor underflows; a line of -inf gives -inf, a line holding +inf gives +inf
 *  (m is replaced by 0 when infinite, as PyTorch does), NaN gives NaN. One fused kernel.
 *  Gradient softmax(a) * g. */
MT_API mt_tensor *mt_logsumexp(mt_tensor *a, int dim);
/** Variance over `dim`: sum((a - mean)^2) / max(0, n - correction), n = size of `dim`
 *  (correction 1: the unbiased estimate, 0: the population variance). correction >= n divides by
 *  0: inf, or NaN when every element equals the mean (PyTorch's rule). Accumulated in double.
 *  Gradient 2 (a - mean) / (n - correction) * g (PyTorch's formula, also for correction >= n). */
MT_API mt_tensor *mt_var(mt_tensor *a, int dim, int correction);
/** Standard deviation sqrt(mt_var(a, dim, correction)). Gradient (a - mean) / ((n - correction)
 *  std) * g, and 0 on a line whose std is 0 (a constant line), as PyTorch's masked formula. */
MT_API mt_tensor *mt_std(mt_tensor *a, int dim, int correction);

/* ---- functions of whole lines along a dim: a new tensor of a's shape (negative dims count from
 *      the end; MT_ERR_INDEX when out of range). One fused, numerically stable kernel each, with
 *      a fused backward; bitwise identical results for any thread count. ---- */
/** exp(a - m) / sum(exp(a - m)) along `dim` (m the line's maximum): no overflow for any finite
 *  input (±1e30 included); -inf elements give 0; a line of -inf, or holding +inf or NaN, gives NaN
 *  (as PyTorch). Gradient y (g - sum(g y)) along the line. */
MT_API mt_tensor *mt_softmax(mt_tensor *a, int dim);
/** (a - m) - log(sum(exp(a - m))) along `dim`: accurate where log(softmax) would round to
 *  -inf; -inf elements give -inf; a line of -inf gives NaN (as PyTorch). Gradient
 *  g - exp(y) sum(g) along the line. */
MT_API mt_tensor *mt_log_softmax(mt_tensor *a, int dim);

/* ---- joining and gathering ---- */

/** The n tensors ts[0..n-1] joined along `dim` (negative counts from the end): their shapes must
 *  be equal except at dim. Any strides; the result is new and contiguous. Gradient: each part
 *  gets its slice of g. MT_ERR_NULL for a NULL list or entry, MT_ERR_INVALID_ARG for n < 1,
 *  MT_ERR_SHAPE when the shapes (or ndims) differ elsewhere, MT_ERR_INDEX for a dim out of
 *  range. */
MT_API mt_tensor *mt_cat(int n, mt_tensor *const *ts, int dim);
/** The n tensors of equal shape joined along a new dim at `dim`, in [-ndim - 1, ndim]: the cat of
 *  their mt_unsqueeze(ts[i], dim). Errors as mt_cat; MT_ERR_SHAPE when the shapes differ. */
MT_API mt_tensor *mt_stack(int n, mt_tensor *const *ts, int dim);
/** The entries index[0..n-1] of `a` along `dim`, in that order (repeats allowed): a new tensor of
 *  a's shape with size n at dim. Gradient: g scatter-added into zeros of a's shape at the
 *  indices, repeated indices accumulating in a fixed order (the same bits for any thread
 *  count). MT_ERR_INDEX for a dim out of range or an index outside [0, size) (the message names
 *  its position and value); MT_ERR_SHAPE for n < 1; MT_ERR_NULL for a NULL `a` or `index`. */
MT_API mt_tensor *mt_index_select(mt_tensor *a, int dim, int64_t n, const int64_t *index);

/* ---- matrix products ---- */

/** (..., n, k) @ (..., k, m) -> (..., n, m). Batch dims broadcast; 2-D @ 2-D is 2-D. */
MT_API mt_tensor *mt_matmul(mt_tensor *a, mt_tensor *b);
/** The fused linear layer x @ w + bias, with x (..., in), w (in, out), bias (out) or NULL:
 *  the bias is added inside the matrix product, with no separate pass over the output. */
MT_API mt_tensor *mt_linear(mt_tensor *x, mt_tensor *w, mt_tensor *bias);

/* ---- kernels into a caller's output (no autodiff history, no allocation of the result) ---- */

/* The kernels behind the operations above, for the *_out functions. Values are stable within a
 * major version; a value that names no op is refused with MT_ERR_INVALID_ARG. */
/* The parameterised unary ops (MT_OP_LEAKY_RELU: p0 = slope; MT_OP_CLAMP: p0 = lo, p1 = hi;
 * MT_OP_POW_SCALAR: p0 = the exponent) run through mt_map_out_with; mt_map_out, which has no
 * parameter arguments, refuses them. */
typedef enum mt_unary_op {
    MT_OP_NEG, MT_OP_ID, MT_OP_SIGMOID, MT_OP_RELU, MT_OP_LOG, MT_OP_EXP, MT_OP_INV, MT_OP_TANH,
    MT_OP_SQRT, MT_OP_RSQRT, MT_OP_ABS, MT_OP_SIN, MT_OP_COS, MT_OP_SQUARE, MT_OP_GELU,
    MT_OP_SILU, MT_OP_SOFTPLUS, MT_OP_LEAKY_RELU, MT_OP_CLAMP, MT_OP_POW_SCALAR
} mt_unary_op;

typedef enum mt_binary_op {
    MT_OP_ADD, MT_OP_SUB, MT_OP_MUL, MT_OP_DIV, MT_OP_LT, MT_OP_GT, MT_OP_EQ, MT_OP_IS_CLOSE,
    MT_OP_POW, MT_OP_MAXIMUM, MT_OP_MINIMUM
} mt_binary_op;

typedef enum mt_reduce_op {
    MT_OP_SUM, MT_OP_PROD, MT_OP_MAX, MT_OP_MIN
} mt_reduce_op;

/** The op's name ("neg", "add", "sum", ...), or NULL when `op` names no op — so a program can
 *  list every op: `for (int op = 0; mt_unary_op_name(op); op++)`. */
MT_API const char *mt_unary_op_name(mt_unary_op op);
MT_API const char *mt_binary_op_name(mt_binary_op op);
MT_API const char *mt_reduce_op_name(mt_reduce_op op);

/** out = op(a); `a` broadcasts to out's shape. `out` must not have zero strides, nor overlap `a`
 *  except by being exactly `a` (in-place). A parameterised op (leaky_relu, clamp, pow_scalar)
 *  is refused with MT_ERR_INVALID_ARG: use mt_map_out_with. */
MT_API mt_status mt_map_out(mt_tensor *out, mt_unary_op op, const mt_tensor *a);
/** mt_map_out for any unary op, with its parameters p0, p1 (see mt_unary_op; ignored by ops
 *  without parameters): mt_map_out_with(out, MT_OP_CLAMP, a, lo, hi) is out = clamp(a, lo, hi). */
MT_API mt_status mt_map_out_with(mt_tensor *out, mt_unary_op op, const mt_tensor *a, float p0,
                                 float p1);
/** out = op(a, b); both broadcast to out's shape, which must be their broadcast shape or larger. */
MT_API mt_status mt_zip_out(mt_tensor *out, mt_binary_op op, const mt_tensor *a,
                            const mt_tensor *b);
/** out = reduction of `a` over `dim`; out's shape is a's with shape[dim] = 1. */
MT_API mt_status mt_reduce_out(mt_tensor *out, mt_reduce_op op, const mt_tensor *a, int dim);
/** out = a @ b with the shape mt_matmul would give. */
MT_API mt_status mt_matmul_out(mt_tensor *out, const mt_tensor *a, const mt_tensor *b);

#ifdef __cplusplus
}
#endif

#endif
