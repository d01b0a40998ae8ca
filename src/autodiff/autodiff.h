/* Internal autodiff: the differentiable functions and history recording. */
#ifndef MTI_AUTODIFF_H
#define MTI_AUTODIFF_H

#include <stdbool.h>

#include "tensor/tensor_impl.h"

/* One entry per differentiable function; backward.c holds each one's gradient formula. */
typedef enum mti_function {
    MTI_FN_NEG,
    MTI_FN_INV,
    MTI_FN_ADD,
    MTI_FN_SUB,
    MTI_FN_MUL,
    MTI_FN_DIV,
    MTI_FN_SIGMOID, /* saved[0]: the output */
    MTI_FN_RELU,
    MTI_FN_LOG,
    MTI_FN_EXP,     /* saved[0]: the output */
    MTI_FN_SUM,     /* ints[0]: dim */
    MTI_FN_PROD,    /* ints[0]: dim */
    MTI_FN_MAX,     /* ints[0]: dim; saved[0]: the output */
    MTI_FN_CONSTANT, /* comparisons: gradient zero for every input */
    MTI_FN_PERMUTE, /* ints: the order */
    MTI_FN_VIEW,    /* shape: the input's shape */
    MTI_FN_EXPAND,
    MTI_FN_NARROW,  /* ints[0]: dim, start */
    MTI_FN_COPY,
    MTI_FN_MATMUL,
    MTI_FN_LINEAR,  /* inputs: x, w, bias (optional) */
    MTI_FN_COUNT
} mti_function;

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

/* Sums `g` over the dims where it was broadcast from (ndim, shape); a new reference. */
mt_tensor *mti_sum_to_shape(const char *fn, mt_tensor *g, int ndim, const int64_t *shape);

#endif
