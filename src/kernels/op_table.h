/* The op tables: one row per operation, one table per family. Everything per-op is generated from
 * these rows — the internal enums, the names, the kernels' cases, the cost model, the public
 * wrappers (src/ops) and the autodiff descriptors (src/autodiff) — so a row without its pieces
 * fails to compile instead of silently falling back.
 *
 * Adding a unary op with its gradient: one row in MTI_UNARY_OPS, its scalar function
 * mti_<name>_f and its gradient mti_<name>_grad_f in kernels/scalar_ops.h, and its enum value,
 * declaration and doc comment in include/minitorch/ops.h. New rows go at the end of their table
 * (the public enum values follow the row order and are stable).
 *
 * Columns:
 *   UNARY   X(ENUM, name, cost, saves, params)
 *           forward  y = mti_<name>_f(x, p)
 *           gradient dx = mti_<name>_grad_f(v, g, p), where v is the saved value: the input x
 *                    (saves INPUT) or the output y (saves OUTPUT); p holds the op's parameters.
 *           params   how many of p.p0, p.p1 the op takes (0, 1 or 2). Ops without parameters get
 *                    a generated public wrapper mt_<name>(a); the others a hand-written one in
 *                    ops/elementwise.c (mt_leaky_relu(a, slope), ...), which records the
 *                    parameters in the autodiff node.
 *   BINARY  X(ENUM, name, cost, backward)
 *           forward  mti_<name>_f(a, b, p); gradient formula backward_<backward> in
 *           autodiff/gradients.c (`constant`: gradient zero, as for comparisons).
 *   TERNARY X(ENUM, name, cost)
 *           mti_<name>_f(a, b, c, p) for the three-input kernel: the select behind mt_where, and
 *           the gradients of binary ops that need both inputs and the incoming gradient.
 *           Internal only (no public enum).
 *   REDUCE  X(ENUM, name, saves)
 *           start value mti_<name>_start, step mti_<name>_step(acc, x); gradient formula
 *           backward_<name> in autodiff/gradients.c.
 *   ROW     X(ENUM, name, width, saves, backward)
 *           a function of each whole line along one dim (kernels/rows.c), fused into one kernel:
 *           width LINE writes a line of the input's shape (softmax), ONE writes one value per
 *           line (the dim kept with size 1, like a reduction). Gradient formula
 *           backward_<backward> in autodiff/gradients.c (`none`: not differentiable, the result
 *           has no history); `saves` as above. p0 holds an op's parameter (var's correction).
 *   cost: work per element in units of an add, for the threads-vs-work model (a transcendental
 *         function costs about 4).
 *
 * The public enums in include/minitorch/ops.h list the same ops in the same order; op_table.c
 * asserts at compile time that every row's value matches. */
#ifndef MTI_KERNELS_OP_TABLE_H
#define MTI_KERNELS_OP_TABLE_H

#include "minitorch/ops.h"

#define MTI_UNARY_OPS(X)                      \
    X(NEG, neg, 1, NONE, 0)                   \
    X(ID, copy, 1, NONE, 0)                   \
    X(SIGMOID, sigmoid, 4, OUTPUT, 0)         \
    X(RELU, relu, 1, INPUT, 0)                \
    X(LOG, log, 4, INPUT, 0)                  \
    X(EXP, exp, 4, OUTPUT, 0)                 \
    X(INV, inv, 1, INPUT, 0)                  \
    X(TANH, tanh, 4, OUTPUT, 0)               \
    X(SQRT, sqrt, 2, OUTPUT, 0)               \
    X(RSQRT, rsqrt, 2, OUTPUT, 0)             \
    X(ABS, abs, 1, INPUT, 0)                  \
    X(SIN, sin, 4, INPUT, 0)                  \
    X(COS, cos, 4, INPUT, 0)                  \
    X(SQUARE, square, 1, INPUT, 0)            \
    X(GELU, gelu, 6, INPUT, 0)                \
    X(SILU, silu, 4, INPUT, 0)                \
    X(SOFTPLUS, softplus, 8, INPUT, 0)        \
    X(LEAKY_RELU, leaky_relu, 1, INPUT, 1)    \
    X(CLAMP, clamp, 1, INPUT, 2)              \
    X(POW_SCALAR, pow_scalar, 8, INPUT, 1)

#define MTI_BINARY_OPS(X)                  \
    X(ADD, add, 1, add)                    \
    X(SUB, sub, 1, sub)                    \
    X(MUL, mul, 1, mul)                    \
    X(DIV, div, 1, div)                    \
    X(LT, lt, 1, constant)                 \
    X(GT, gt, 1, constant)                 \
    X(EQ, eq, 1, constant)                 \
    X(IS_CLOSE, is_close, 1, constant)     \
    X(POW, pow, 8, pow)                    \
    X(MAXIMUM, maximum, 1, maximum)        \
    X(MINIMUM, minimum, 1, minimum)

/* WHERE selects (never multiplies, so an infinite value on the unchosen side stays out of the
 * result); the others are gradient formulas of binary ops: (a, b, g) -> the part for a. */
#define MTI_TERNARY_OPS(X)                        \
    X(WHERE, where, 1)                            \
    X(POW_GRAD_BASE, pow_grad_base, 8)            \
    X(POW_GRAD_EXPONENT, pow_grad_exponent, 12)   \
    X(MAXIMUM_GRAD, maximum_grad, 1)              \
    X(MINIMUM_GRAD, minimum_grad, 1)

#define MTI_REDUCE_OPS(X)    \
    X(SUM, sum, NONE)        \
    X(PROD, prod, NONE)      \
    X(MAX, max, OUTPUT)      \
    X(MIN, min, OUTPUT)

#define MTI_ROW_OPS(X)                                   \
    X(SOFTMAX, softmax, LINE, OUTPUT, softmax)           \
    X(LOG_SOFTMAX, log_softmax, LINE, OUTPUT, log_softmax) \
    X(LOGSUMEXP, logsumexp, ONE, OUTPUT, logsumexp)      \
    X(ARGMAX, argmax, ONE, NONE, none)                   \
    X(ARGMIN, argmin, ONE, NONE, none)                   \
    X(VAR, var, ONE, NONE, var)                          \
    X(STD, std, ONE, OUTPUT, std)

/* What a backward formula needs besides the inputs the record always holds. */
typedef enum mti_saves { MTI_SAVES_NONE, MTI_SAVES_INPUT, MTI_SAVES_OUTPUT } mti_saves;

/* Internal op indices, in table order (equal to the public enum values). */
typedef enum mti_unary_op {
#define MTI_X(E, name, cost, saves, params) MTI_UNARY_##E,
    MTI_UNARY_OPS(MTI_X)
#undef MTI_X
    MTI_UNARY_COUNT
} mti_unary_op;

typedef enum mti_binary_op {
#define MTI_X(E, name, cost, backward) MTI_BINARY_##E,
    MTI_BINARY_OPS(MTI_X)
#undef MTI_X
    MTI_BINARY_COUNT
} mti_binary_op;

typedef enum mti_ternary_op {
#define MTI_X(E, name, cost) MTI_TERNARY_##E,
    MTI_TERNARY_OPS(MTI_X)
#undef MTI_X
    MTI_TERNARY_COUNT
} mti_ternary_op;

typedef enum mti_reduce_op {
#define MTI_X(E, name, saves) MTI_REDUCE_##E,
    MTI_REDUCE_OPS(MTI_X)
#undef MTI_X
    MTI_REDUCE_COUNT
} mti_reduce_op;

typedef enum mti_row_op {
#define MTI_X(E, name, width, saves, backward) MTI_ROW_##E,
    MTI_ROW_OPS(MTI_X)
#undef MTI_X
    MTI_ROW_COUNT
} mti_row_op;

/* What a row op writes per line. */
typedef enum mti_row_width { MTI_ROW_WIDTH_LINE, MTI_ROW_WIDTH_ONE } mti_row_width;

/* The zip kernel's operations: every binary op, then the gradient of every unary op as a
 * function of (saved value, incoming gradient). */
typedef enum mti_zip_op {
#define MTI_X(E, name, cost, backward) MTI_ZIP_##E,
    MTI_BINARY_OPS(MTI_X)
#undef MTI_X
#define MTI_X(E, name, cost, saves, params) MTI_ZIP_##E##_GRAD,
    MTI_UNARY_OPS(MTI_X)
#undef MTI_X
    MTI_ZIP_COUNT
} mti_zip_op;

/* Parameters of a parameterised op (a slope, bounds, an exponent); zero for the others. */
typedef struct mti_params {
    float p0, p1;
} mti_params;

/* The zip op computing unary op `op`'s gradient. */
static inline mti_zip_op mti_unary_grad_op(mti_unary_op op) { return (mti_zip_op)(MTI_BINARY_COUNT + (int)op); }

/* Names for trace lines and messages; NULL for a value that is not an op. */
const char *mti_unary_name(mti_unary_op op);
const char *mti_zip_name(mti_zip_op op);
const char *mti_reduce_name(mti_reduce_op op);
const char *mti_row_name(mti_row_op op);
const char *mti_ternary_name(mti_ternary_op op);
/* Work per element (units of an add). */
int mti_unary_cost(mti_unary_op op);
int mti_zip_cost(mti_zip_op op);
int mti_ternary_cost(mti_ternary_op op);
/* How many parameters (p0, p1) a unary op takes. */
int mti_unary_params(mti_unary_op op);
/* What the op's gradient formula needs saved. */
mti_saves mti_unary_saves(mti_unary_op op);
mti_saves mti_reduce_saves(mti_reduce_op op);
mti_saves mti_row_saves(mti_row_op op);
mti_row_width mti_row_width_of(mti_row_op op);

#endif
