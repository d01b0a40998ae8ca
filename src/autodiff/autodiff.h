/* Internal autodiff: the differentiable functions and history recording. */
#ifndef MTI_AUTODIFF_H
#define MTI_AUTODIFF_H

#include <stdbool.h>

#include "kernels/op_table.h"
#include "tensor/tensor_impl.h"

/* Recorded functions that are neither elementwise nor reductions: X(ENUM, name), with the
 * gradient formula backward_<name> in autodiff/gradients.c. */
#define MTI_STRUCTURAL_FUNCTIONS(X) \
    X(PERMUTE, permute) /* ints: the order */ \
    X(VIEW, view)       /* shape: the input's shape */ \
    X(EXPAND, expand)   \
    X(NARROW, narrow)   /* ints[0]: dim; start */ \
    X(MATMUL, matmul)   \
    X(LINEAR, linear)   /* inputs: x, w, bias (optional) */ \
    X(CAT, cat)         /* ints[0]: dim; inputs: up to 3 parts, in order along dim */ \
    X(SQUEEZE, squeeze) /* squeeze/unsqueeze (size-1 dims removed or inserted); shape: the input's */ \
    X(INDEX_SELECT, index_select) /* ints[0]: dim; shape: the input's; indices */ \
    X(CROSS_ENTROPY, cross_entropy) /* inputs: logits (N, C), labels and lse (N, 1), untracked; params[0]: 1/N */ \
    X(WHERE, where)     /* inputs: cond, a, b */

/* One entry per differentiable function, generated from the op tables: the unary ops, the
 * binary ops, the reductions (ints[0]: dim), the structural functions, then the row ops
 * (ints[0]: dim, ints[1]: var/std's correction). */
typedef enum mti_function {
#define MTI_X(E, ...) MTI_FN_##E,
    MTI_UNARY_OPS(MTI_X)
    MTI_BINARY_OPS(MTI_X)
    MTI_REDUCE_OPS(MTI_X)
    MTI_STRUCTURAL_FUNCTIONS(MTI_X)
    MTI_ROW_OPS(MTI_X)
#undef MTI_X
    MTI_FN_COUNT
} mti_function;

#define MTI_FN_FIRST_UNARY MTI_FN_NEG
#define MTI_FN_FIRST_BINARY MTI_FN_ADD
#define MTI_FN_FIRST_REDUCE MTI_FN_SUM
static inline mti_function mti_fn_unary(mti_unary_op op) { return (mti_function)(MTI_FN_FIRST_UNARY + (int)op); }
static inline mti_function mti_fn_binary(mti_binary_op op) { return (mti_function)(MTI_FN_FIRST_BINARY + (int)op); }
static inline mti_function mti_fn_reduce(mti_reduce_op op) { return (mti_function)(MTI_FN_FIRST_REDUCE + (int)op); }
#define MTI_FN_FIRST_ROW MTI_FN_SOFTMAX
static inline mti_function mti_fn_row(mti_row_op op) { return (mti_function)(MTI_FN_FIRST_ROW + (int)op); }

/* True when an operation on these inputs must record history. */
bool mti_should_record(int count, mt_tensor *const *inputs);

/* Attaches history to `out` when mti_should_record(spec inputs): `spec` gives the function,
 * inputs and parameters; with `save_output`, saved[0] becomes an alias of out's values. Returns
 * out, or NULL (out dropped) on failure. NULL out stays NULL. */
mt_tensor *mti_record(const char *fn, mt_tensor *out, const mti_node *spec, bool save_output);

/* Builds the spec for a function over `count` inputs. */
static inline mti_node mti_spec(mti_function function, int count, mt_tensor *a, mt_tensor *b,
                                mt_tensor *c)
{
    mti_node spec = {0};
    spec.function = function;
    spec.input_count = count;
    spec.inputs[0] = a;
    spec.inputs[1] = b;
    spec.inputs[2] = c;
    return spec;
}

#endif
