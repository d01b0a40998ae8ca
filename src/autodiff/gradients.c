/* The gradient formula of every recorded function (g is the gradient of the output). Unary ops
 * share one formula: their gradient kernel (kernels/scalar_ops.h) applied to the saved value.
 *   add (g, g) | sub (g, -g) | mul (g b, g a) | div (g/b, -g a/b^2) | comparisons 0
 *   sum g broadcast back | prod g * (product of the others) | max g to the first maximal element
 *   permute: inverse permute | view: view back | expand: summed back | narrow: placed in zeros
 *   matmul (g B^T, A^T g) | linear (g W^T, x^T g, column sums of g)
 *   cat: narrows of g | squeeze/unsqueeze: g with the size-1 dims put back or taken out
 *   index_select: g scatter-added into zeros at the indices
 *   min g to the first minimal element | softmax y (g - sum(g y)) | log_softmax g - e^y sum(g)
 *   logsumexp g e^(x - y) | var 2 (x - mean) g / (n - c) | std (x - mean) g / ((n - c) y), 0 where
 *   y = 0 | cross_entropy (softmax - onehot) g / N (one fused kernel each for the last three
 *   with "softmax" in them)
 *   pow, maximum, minimum: three-input gradient kernels of (a, b, g) | where: g selected. */
#include <math.h>
#include <string.h>

#include "autodiff/accumulate.h"
#include "autodiff/gradients.h"
#include "kernels/dispatch.h"
#include "runtime/error.h"
#include "tensor/hook.h"
#include "tensor/observer.h"

static bool wants(const mt_tensor *t) { return t && t->requires_grad; }

/* ---- reductions whose gradients need the values along the reduced dim ---- */

/* Walks every output position of a reduction over `dim` of a contiguous tensor `a`:
 * base is the offset of element 0 along dim, step the stride along dim. */
#define FOR_EACH_REDUCED(a, dim, base, step, n, ...)                     \
    do {                                                                  \
        int64_t step = (a)->strides[dim], n = (a)->shape[dim];            \
        int64_t outer = 1, inner = step;                                  \
        for (int d_ = 0; d_ < (dim); d_++) outer *= (a)->shape[d_];       \
        for (int64_t o_ = 0; o_ < outer; o_++)                            \
            for (int64_t i_ = 0; i_ < inner; i_++) {                      \
                int64_t base = o_ * n * inner + i_;                       \
                __VA_ARGS__                                               \
            }                                                             \
    } while (0)

/* The element of `t` (a's shape with the reduced dim of size 1) matching element `ordinal` of
 * the contiguous `a`, whose index along the reduced dim is 0. */
static float reduced_value(const mt_tensor *t, const mt_tensor *a, int64_t ordinal)
{
    int64_t position = t->offset;
    for (int d = a->ndim - 1; d >= 0; d--) {
        position += ordinal % a->shape[d] * t->strides[d];
        ordinal /= a->shape[d];
    }
    return t->storage->data[position];
}

/* d/da_i of prod_j a_j is the product of the others: prefix * suffix, exact with zeros. */
static mt_tensor *prod_gradient(const char *fn, const mt_tensor *a_in, const mt_tensor *g, int dim)
{
    mt_tensor *a = mti_copy(fn, a_in);
    mt_tensor *out = a ? mti_tensor_empty(fn, a->ndim, a->shape) : NULL;
    if (!out) {
        mti_unref(a);
        return NULL;
    }
    mti_observe_opaque("the gradient of mt_prod (computed by a data-dependent loop)");
    const float *av = a->storage->data;
    float *ov = out->storage->data;
    FOR_EACH_REDUCED(a, dim, base, step, n, {
        float gv = reduced_value(g, a, base);
        float prefix = 1.0f;
        for (int64_t j = 0; j < n; j++) {
            ov[base + j * step] = prefix;
            prefix *= av[base + j * step];
        }
        float suffix = 1.0f;
        for (int64_t j = n - 1; j >= 0; j--) {
            ov[base + j * step] *= suffix * gv;
            suffix *= av[base + j * step];
        }
    });
    mti_unref(a);
    return out;
}

/* The gradient of max (min) goes to the first element equal to the maximum (minimum); NaN
 * matches NaN. */
static mt_tensor *extreme_gradient(const char *fn, const mt_tensor *a_in, const mt_tensor *max_in,
                               const mt_tensor *g_in, int dim)
{
    mt_tensor *a = mti_copy(fn, a_in);
    mt_tensor *out = a ? mti_tensor_zeros(fn, a->ndim, a->shape) : NULL;
    if (!out) {
        mti_unref(a);
        return NULL;
    }
    mti_observe_opaque("the gradient of mt_max (the position of the maximum depends on the data)");
    const float *av = a->storage->data;
    float *ov = out->storage->data;
    FOR_EACH_REDUCED(a, dim, base, step, n, {
        float m = reduced_value(max_in, a, base);
        for (int64_t j = 0; j < n; j++) {
            float v = av[base + j * step];
            if (v == m || (isnan(v) && isnan(m))) {
                ov[base + j * step] = reduced_value(g_in, a, base);
                break;
            }
        }
    });
    mti_unref(a);
    return out;
}

/* ---- views ---- */

static mt_tensor *inverse_permute(const char *fn, const mt_tensor *g, const int *order)
{
    int64_t shape[MT_MAX_DIMS], strides[MT_MAX_DIMS];
    for (int i = 0; i < g->ndim; i++) {
        shape[order[i]] = g->shape[i];
        strides[order[i]] = g->strides[i];
    }
    return mti_tensor_alias(fn, g, g->ndim, shape, strides, g->offset);
}

static mt_tensor *view_back(const char *fn, const mt_tensor *g, int ndim, const int64_t *shape)
{
    mt_tensor *c = mti_is_contiguous_layout(g->ndim, g->shape, g->strides) ? mti_ref((mt_tensor *)g)
                                                                           : mti_copy(fn, g);
    if (!c) return NULL;
    int64_t strides[MT_MAX_DIMS];
    mti_row_major_strides(ndim, shape, strides);
    mt_tensor *v = mti_tensor_alias(fn, c, ndim, shape, strides, c->offset);
    mti_unref(c);
    return v;
}

static mt_tensor *narrow_back(const char *fn, const mt_tensor *g, const mti_node *node)
{
    mt_tensor *out = mti_tensor_zeros(fn, node->ndim, node->shape);
    if (!out) return NULL;
    int dim = node->ints[0];
    mti_strided region = mti_strided_of(out), in = mti_strided_of(g);
    region.data += node->start * out->strides[dim];
    region.shape[dim] = g->shape[dim];
    mti_run_map(MTI_UNARY_ID, MTI_NO_PARAMS, &region, &in);
    return out;
}

/* ---- matrix products ---- */

/* `t` as a kernel operand with batch dims broadcast to those of `like` (same ndim). */
static mti_strided as_batched(const mt_tensor *t, const mt_tensor *like)
{
    int64_t shape[MT_MAX_DIMS];
    int nd = like->ndim;
    memcpy(shape, like->shape, sizeof(int64_t) * (size_t)nd);
    shape[nd - 2] = t->shape[t->ndim - 2];
    shape[nd - 1] = t->shape[t->ndim - 1];
    return mti_strided_expanded(t, nd, shape);
}

/* A new gradient for `input` (shape of input) = op(x) @ op(y) summed over the batch dims where
 * input was broadcast: the kernel accumulates those straight into it. */
static mt_tensor *product_gradient(const char *fn, const mt_tensor *input, const mt_tensor *g,
                                   const mti_strided *x, bool trans_x, const mti_strided *y,
                                   bool trans_y)
{
    mt_tensor *grad = mti_tensor_empty(fn, input->ndim, input->shape);
    if (!grad) return NULL;
    mti_strided out = as_batched(grad, g);
    if (mti_run_matmul(fn, &out, x, y, NULL, trans_x, trans_y, false) != MT_OK) {
        mti_unref(grad);
        return NULL;
    }
    return grad;
}

/* g, or a dense copy of it when its matrices are broadcast (e.g. the gradient of a sum): such
 * an operand is copied by the blas kernel anyway, once per product; copying here does it once. */
static mt_tensor *dense_gradient(const char *fn, const mt_tensor *g)
{
    for (int d = g->ndim - 2; d < g->ndim; d++)
        if (g->strides[d] == 0 && g->shape[d] > 1) return mti_copy(fn, g);
    return mti_ref((mt_tensor *)g);
}

static mt_status matmul_gradient(const char *fn, mt_tensor *a, mt_tensor *b, const mt_tensor *g_in)
{
    mt_tensor *g = dense_gradient(fn, g_in);
    if (!g) return mt_last_status();
    mti_strided vg = mti_strided_of(g), va = as_batched(a, g), vb = as_batched(b, g);
    mt_status status = MT_OK;
    if (wants(a)) /* dA = dC * B^T */
        status = mti_give_grad(fn, a, product_gradient(fn, a, g, &vg, false, &vb, true));
    if (status == MT_OK && wants(b)) /* dB = A^T * dC */
        status = mti_give_grad(fn, b, product_gradient(fn, b, g, &va, true, &vg, false));
    mti_unref(g);
    return status;
}

/* linear: out (..., n, o) = x (..., n, i) @ w (i, o) + bias (o). */
static mt_status linear_gradient(const char *fn, mt_tensor *x, mt_tensor *w, mt_tensor *bias,
                                 const mt_tensor *g_in)
{
    mt_tensor *g = dense_gradient(fn, g_in);
    if (!g) return mt_last_status();
    mt_status status = MT_OK;
    mti_strided vg = mti_strided_of(g), vx = as_batched(x, g), vw = as_batched(w, g);
    if (wants(x))
        status = mti_give_grad(fn, x, product_gradient(fn, x, g, &vg, false, &vw, true));
    if (status == MT_OK && wants(w))
        status = mti_give_grad(fn, w, product_gradient(fn, w, g, &vx, true, &vg, false));
    if (status == MT_OK && wants(bias)) /* column sums; give_grad sums any remaining batch dims */
        status = mti_give_grad(fn, bias, mti_reduce(fn, MTI_REDUCE_SUM, g, g->ndim - 2));
    mti_unref(g);
    return status;
}

/* ---- the formulas, one per recorded function; each gets the record and the output's gradient g
 *      and hands every input its part ---- */

typedef mt_status (*backward_fn)(const char *fn, const mti_node *node, mt_tensor *g);

/* Every unary op: its gradient kernel applied to the saved value and g. */
static mt_status backward_unary(const char *fn, const mti_node *node, mt_tensor *g)
{
    mti_unary_op op = (mti_unary_op)(node->function - MTI_FN_FIRST_UNARY);
    const mt_tensor *saved = mti_unary_saves(op) == MTI_SAVES_OUTPUT ? node->saved[0] : node->inputs[0];
    mti_params params = {node->params[0], node->params[1]};
    return mti_give_grad(fn, node->inputs[0], mti_zip_with(fn, mti_unary_grad_op(op), params, saved, g));
}

static mt_status backward_add(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_status status = mti_give_grad(fn, node->inputs[0], mti_ref(g));
    return status == MT_OK ? mti_give_grad(fn, node->inputs[1], mti_ref(g)) : status;
}

static mt_status backward_sub(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_status status = mti_give_grad(fn, node->inputs[0], mti_ref(g));
    if (status == MT_OK && wants(node->inputs[1]))
        status = mti_give_grad(fn, node->inputs[1], mti_map(fn, MTI_UNARY_NEG, g));
    return status;
}

static mt_status backward_mul(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_tensor *a = node->inputs[0], *b = node->inputs[1];
    mt_status status = MT_OK;
    if (wants(a)) status = mti_give_grad(fn, a, mti_zip(fn, MTI_ZIP_MUL, g, b));
    if (status == MT_OK && wants(b)) status = mti_give_grad(fn, b, mti_zip(fn, MTI_ZIP_MUL, g, a));
    return status;
}

static mt_status backward_div(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_tensor *a = node->inputs[0], *b = node->inputs[1];
    mt_status status = MT_OK;
    if (wants(a)) status = mti_give_grad(fn, a, mti_zip(fn, MTI_ZIP_DIV, g, b));
    if (status == MT_OK && wants(b)) { /* -g a / b^2: inv's gradient at b applied to g a */
        mt_tensor *ga = mti_zip(fn, MTI_ZIP_MUL, g, a);
        status = mti_give_grad(fn, b, ga ? mti_zip(fn, MTI_ZIP_INV_GRAD, b, ga) : NULL);
        mti_unref(ga);
    }
    return status;
}

/* Comparisons: gradient zero for every input. */
static mt_status backward_constant(const char *fn, const mti_node *node, mt_tensor *g)
{
    (void)g;
    mt_status status = MT_OK;
    for (int i = 0; i < node->input_count && status == MT_OK; i++)
        if (wants(node->inputs[i]))
            status = mti_give_grad(fn, node->inputs[i],
                                   mti_tensor_zeros(fn, node->inputs[i]->ndim, node->inputs[i]->shape));
    return status;
}

static mt_status backward_sum(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0], mti_ref(g)); /* broadcast back by give_grad */
}

static mt_status backward_prod(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0], prod_gradient(fn, node->inputs[0], g, node->ints[0]));
}

static mt_status backward_max(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0],
                         extreme_gradient(fn, node->inputs[0], node->saved[0], g, node->ints[0]));
}

static mt_status backward_permute(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0], inverse_permute(fn, g, node->ints));
}

static mt_status backward_view(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0], view_back(fn, g, node->ndim, node->shape));
}

static mt_status backward_expand(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0], mti_ref(g)); /* summed back by give_grad */
}

static mt_status backward_narrow(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0], narrow_back(fn, g, node));
}

static mt_status backward_matmul(const char *fn, const mti_node *node, mt_tensor *g)
{
    return matmul_gradient(fn, node->inputs[0], node->inputs[1], g);
}

static mt_status backward_linear(const char *fn, const mti_node *node, mt_tensor *g)
{
    return linear_gradient(fn, node->inputs[0], node->inputs[1], node->inputs[2], g);
}

/* Which recorded values each formula reads (bit i: input i; OUTPUT: the saved output), so that
 * backward can refuse values changed in place since they were recorded. Named per binary
 * backward / reduction / structural function: a new one without its entry does not compile. */
#define OUTPUT 8u
enum {
    READS_add = 0, READS_sub = 0, READS_mul = 3, READS_div = 3, READS_constant = 0,
    READS_sum = 0, READS_prod = 1, READS_max = 1 | OUTPUT,
    READS_permute = 0, READS_view = 0, READS_expand = 0, READS_narrow = 0, READS_matmul = 3,
    READS_linear = 3, READS_cat = 0, READS_squeeze = 0, READS_index_select = 0,
    READS_min = 1 | OUTPUT, READS_cross_entropy = 7,
    /* row ops, by their backward column */
    READS_softmax = OUTPUT, READS_log_softmax = OUTPUT, READS_logsumexp = 1 | OUTPUT,
    READS_none = 0, READS_var = 1, READS_std = 1 | OUTPUT, READS_where = 1,
    READS_pow = 3, READS_maximum = 3, READS_minimum = 3
};
static const unsigned reads_of[] = {
#define UNARY_ROW(E, name, cost, saves, params) \
    (MTI_SAVES_##saves == MTI_SAVES_INPUT ? 1u : MTI_SAVES_##saves == MTI_SAVES_OUTPUT ? OUTPUT : 0u),
#define BINARY_ROW(E, name, cost, backward) READS_##backward,
#define REDUCE_ROW(E, name, saves) READS_##name,
#define STRUCTURAL_ROW(E, name) READS_##name,
#define LINE_ROW(E, name, width, saves, backward) READS_##backward,
    MTI_UNARY_OPS(UNARY_ROW) MTI_BINARY_OPS(BINARY_ROW) MTI_REDUCE_OPS(REDUCE_ROW)
    MTI_STRUCTURAL_FUNCTIONS(STRUCTURAL_ROW) MTI_ROW_OPS(LINE_ROW)
#undef UNARY_ROW
#undef BINARY_ROW
#undef REDUCE_ROW
#undef STRUCTURAL_ROW
#undef LINE_ROW
};
_Static_assert(sizeof reads_of / sizeof reads_of[0] == MTI_FN_COUNT, "one entry per function");

static const char *const function_names[] = {
#define NAME4(E, name, c, d) #name,
#define NAME3(E, name, c) #name,
#define NAME2(E, name) #name,
#define NAME5(E, name, c, d, e) #name,
    MTI_UNARY_OPS(NAME5) MTI_BINARY_OPS(NAME4) MTI_REDUCE_OPS(NAME3) MTI_STRUCTURAL_FUNCTIONS(NAME2)
    MTI_ROW_OPS(NAME5)
#undef NAME5
#undef NAME4
#undef NAME3
#undef NAME2
};
_Static_assert(sizeof function_names / sizeof function_names[0] == MTI_FN_COUNT, "names");

static mt_status changed(const char *fn, const mti_node *node, const char *what, uint64_t then,
                         uint64_t now)
{
    return mti_fail(MT_ERR_AUTODIFF, fn,
                    "%s of %s, saved for the backward pass, was modified in place after %s ran "
                    "(storage version %llu, recorded %llu); the gradient would be wrong",
                    what, function_names[node->function], function_names[node->function],
                    (unsigned long long)now, (unsigned long long)then);
}

mt_status mti_check_saved(const char *fn, const mti_node *node)
{
    if ((unsigned)node->function >= MTI_FN_COUNT)
        return mti_fail(MT_ERR_AUTODIFF, fn, "unknown recorded function %d", node->function);
    unsigned reads = reads_of[node->function];
    static const char *const input_names[] = {"input 0", "input 1", "input 2"};
    for (int i = 0; i < node->input_count; i++) {
        const mt_tensor *in = node->inputs[i];
        if ((reads >> i & 1u) && in && mti_version(in) != node->input_versions[i])
            return changed(fn, node, input_names[i], node->input_versions[i], mti_version(in));
    }
    if ((reads & OUTPUT) && node->saved_count > 0 && mti_version(node->saved[0]) != node->saved_versions[0])
        return changed(fn, node, "the output", node->saved_versions[0], mti_version(node->saved[0]));
    return MT_OK;
}
#undef OUTPUT
/* ---- cat, squeeze/unsqueeze, index_select ---- */

static mt_status backward_cat(const char *fn, const mti_node *node, mt_tensor *g)
{
    const int d = node->ints[0];
    int64_t start = 0, shape[MT_MAX_DIMS];
    memcpy(shape, g->shape, sizeof shape);
    mt_status status = MT_OK;
    for (int i = 0; i < node->input_count && status == MT_OK; i++) {
        mt_tensor *part = node->inputs[i];
        shape[d] = part->shape[d];
        if (wants(part))
            status = mti_give_grad(fn, part, mti_tensor_alias(fn, g, g->ndim, shape, g->strides,
                                                              g->offset + start * g->strides[d]));
        start += shape[d];
    }
    return status;
}

/* g seen with the input's shape, which differs from g's only by size-1 dims: the other dims
 * keep their strides, in order. */
static mt_status backward_squeeze(const char *fn, const mti_node *node, mt_tensor *g)
{
    int64_t strides[MT_MAX_DIMS];
    for (int i = 0, j = 0; i < node->ndim; i++) {
        if (node->shape[i] == 1) {
            strides[i] = 1;
            continue;
        }
        while (g->shape[j] == 1) j++;
        strides[i] = g->strides[j++];
    }
    return mti_give_grad(fn, node->inputs[0],
                         mti_tensor_alias(fn, g, node->ndim, node->shape, strides, g->offset));
}

static mt_status backward_index_select(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_tensor *grad = mti_tensor_zeros(fn, node->ndim, node->shape);
    if (!grad) return mt_last_status();
    mti_strided out = mti_strided_of(grad), src = mti_strided_of(g);
    mt_status status = mti_run_index_add(fn, &out, &src, node->ints[0], node->indices);
    if (status != MT_OK) {
        mti_unref(grad);
        return status;
    }
    return mti_give_grad(fn, node->inputs[0], grad);
}

/* ---- functions of whole lines (kernels/rows.c) ---- */

static mt_status backward_min(const char *fn, const mti_node *node, mt_tensor *g)
{
    return mti_give_grad(fn, node->inputs[0],
                         extreme_gradient(fn, node->inputs[0], node->saved[0], g, node->ints[0]));
}

/* g as the row kernels like it: dense (a broadcast g, e.g. from a sum, is copied once). */
static mt_tensor *dense(const char *fn, mt_tensor *g)
{
    return mti_is_contiguous_layout(g->ndim, g->shape, g->strides) ? mti_ref(g) : mti_copy(fn, g);
}

static mt_status backward_rows(const char *fn, const mti_node *node, mt_tensor *g_in)
{
    mti_row_op op = (mti_row_op)(node->function - MTI_FN_FIRST_ROW);
    mt_tensor *g = dense(fn, g_in);
    if (!g) return mt_last_status();
    mt_tensor *dx = mti_rows_backward(fn, op, node->saved[0], g, node->ints[0]);
    mti_unref(g);
    return mti_give_grad(fn, node->inputs[0], dx);
}

static mt_status backward_softmax(const char *fn, const mti_node *node, mt_tensor *g)
{
    return backward_rows(fn, node, g);
}

static mt_status backward_log_softmax(const char *fn, const mti_node *node, mt_tensor *g)
{
    return backward_rows(fn, node, g);
}

/* g e^(x - lse): the softmax of x times g, lse broadcast along the dim. */
static mt_status backward_logsumexp(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_tensor *shifted = mti_zip(fn, MTI_ZIP_SUB, node->inputs[0], node->saved[0]);
    mt_tensor *softmax = shifted ? mti_map(fn, MTI_UNARY_EXP, shifted) : NULL;
    mti_unref(shifted);
    mt_tensor *dx = softmax ? mti_zip(fn, MTI_ZIP_MUL, softmax, g) : NULL;
    mti_unref(softmax);
    return mti_give_grad(fn, node->inputs[0], dx);
}

/* (x - mean(x)) * coefficient, the coefficient one value per line: var's and std's gradient. */
static mt_tensor *deviation_times(const char *fn, mt_tensor *x, const mt_tensor *coefficient, int dim)
{
    mt_tensor *sum = mti_reduce(fn, MTI_REDUCE_SUM, x, dim);
    mt_tensor *scale = sum ? mti_scalar_tensor(fn, (float)(1.0 / (double)x->shape[dim])) : NULL;
    mt_tensor *mean = scale ? mti_zip(fn, MTI_ZIP_MUL, sum, scale) : NULL;
    mt_tensor *deviation = mean ? mti_zip(fn, MTI_ZIP_SUB, x, mean) : NULL;
    mt_tensor *dx = deviation ? mti_zip(fn, MTI_ZIP_MUL, deviation, coefficient) : NULL;
    mti_unref(sum);
    mti_unref(scale);
    mti_unref(mean);
    mti_unref(deviation);
    return dx;
}

/* PyTorch's var/std gradients: 2 g / (n - c) times the deviation for var; for std that with
 * g / (2 std), set to 0 where std is 0 (a constant line). */
/* The coefficient of the variance gradients, in place in c (dense, a copy of the incoming
 * gradient): factor c, or for std factor c / (2 s) (0 where s = 0), in double. A hook, so a
 * captured plan computes it again at every run. Operands: c (read, written), s (read; absent for
 * var). */
typedef struct variance_context {
    double factor;
} variance_context;

static mt_status variance_coefficient_run(void *self, const void *context,
                                          const mti_strided *const *views, int count)
{
    (void)self;
    (void)count;
    variance_context v;
    memcpy(&v, context, sizeof v);
    float *c = views[0]->data;
    const float *s = views[1] ? views[1]->data : NULL;
    int64_t n = 1;
    for (int d = 0; d < views[0]->ndim; d++) n *= views[0]->shape[d];
    for (int64_t i = 0; i < n; i++)
        c[i] = !s ? (float)(v.factor * c[i]) : s[i] == 0.0f ? 0.0f : (float)(v.factor * c[i] / (2.0 * s[i]));
    return MT_OK;
}

static mt_status variance_gradient(const char *fn, const mti_node *node, mt_tensor *g_in, bool root)
{
    mt_tensor *x = node->inputs[0];
    const int dim = node->ints[0];
    const variance_context context = {2.0 / (double)(x->shape[dim] - (int64_t)node->ints[1])};
    mt_tensor *g = mti_copy(fn, g_in); /* dense, and ours to overwrite with the coefficient */
    mt_tensor *std = g && root ? mti_copy(fn, node->saved[0]) : NULL;
    if (!g || (root && !std)) {
        mti_unref(g);
        return mt_last_status();
    }
    const mti_hook_operand operands[2] = {{g, MTI_HOOK_READ | MTI_HOOK_WRITE}, {std, MTI_HOOK_READ}};
    mti_hook hook = {.name = root ? "the gradient of mt_std" : "the gradient of mt_var",
                     .run = variance_coefficient_run, .count = 2, .operands = operands};
    memcpy(hook.context, &context, sizeof context);
    mt_status status = mti_hook_call(&hook);
    if (std) mti_unref(std);
    mt_tensor *dx = status == MT_OK ? deviation_times(fn, x, g, dim) : NULL;
    mti_unref(g);
    return dx ? mti_give_grad(fn, x, dx) : mt_last_status();
}

static mt_status backward_var(const char *fn, const mti_node *node, mt_tensor *g)
{
    return variance_gradient(fn, node, g, false);
}

static mt_status backward_std(const char *fn, const mti_node *node, mt_tensor *g)
{
    return variance_gradient(fn, node, g, true);
}

/* argmax, argmin: never recorded (their results have no history). */
static mt_status backward_none(const char *fn, const mti_node *node, mt_tensor *g)
{
    (void)g;
    return mti_fail(MT_ERR_AUTODIFF, fn, "recorded function %d is not differentiable", node->function);
}

/* dx = (softmax(logits) - onehot(labels)) * g / N in one pass over the logits. */
static mt_status backward_cross_entropy(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_tensor *logits = node->inputs[0];
    if (!wants(logits)) return MT_OK;
    mt_tensor *dx = mti_tensor_empty(fn, logits->ndim, logits->shape);
    if (!dx) return mt_last_status();
    mti_strided d = mti_strided_of(dx), x = mti_strided_of(logits);
    mti_strided labels = mti_strided_of(node->inputs[1]), lse = mti_strided_of(node->inputs[2]);
    mti_strided incoming = mti_strided_of(g);
    mti_run_nll_softmax_backward(&d, &x, &lse, &labels, &incoming, node->params[0]);
    return mti_give_grad(fn, logits, dx);
}

/* pow(a, b): PyTorch's formulas as kernels of (a, b, g) (kernels/scalar_ops.h). */
static mt_status backward_pow(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_tensor *a = node->inputs[0], *b = node->inputs[1];
    mt_status status = MT_OK;
    if (wants(a)) status = mti_give_grad(fn, a, mti_zip3(fn, MTI_TERNARY_POW_GRAD_BASE, a, b, g));
    if (status == MT_OK && wants(b))
        status = mti_give_grad(fn, b, mti_zip3(fn, MTI_TERNARY_POW_GRAD_EXPONENT, a, b, g));
    return status;
}

/* maximum / minimum: one kernel gives the first input's part; swapping the inputs gives the
 * second's (ties split g / 2 each). */
static mt_status extremum_gradient(const char *fn, const mti_node *node, mt_tensor *g,
                                   mti_ternary_op op)
{
    mt_tensor *a = node->inputs[0], *b = node->inputs[1];
    mt_status status = MT_OK;
    if (wants(a)) status = mti_give_grad(fn, a, mti_zip3(fn, op, a, b, g));
    if (status == MT_OK && wants(b)) status = mti_give_grad(fn, b, mti_zip3(fn, op, b, a, g));
    return status;
}

static mt_status backward_maximum(const char *fn, const mti_node *node, mt_tensor *g)
{
    return extremum_gradient(fn, node, g, MTI_TERNARY_MAXIMUM_GRAD);
}

static mt_status backward_minimum(const char *fn, const mti_node *node, mt_tensor *g)
{
    return extremum_gradient(fn, node, g, MTI_TERNARY_MINIMUM_GRAD);
}

/* where(cond, a, b): g selected into a where cond holds and into b elsewhere, with an exact 0
 * on the other side (a select, so an infinite g never meets a 0 factor). */
static mt_status backward_where(const char *fn, const mti_node *node, mt_tensor *g)
{
    mt_tensor *cond = node->inputs[0], *a = node->inputs[1], *b = node->inputs[2];
    mt_status status = MT_OK;
    if (wants(cond)) status = mti_give_grad(fn, cond, mti_tensor_zeros(fn, cond->ndim, cond->shape));
    if (status != MT_OK || (!wants(a) && !wants(b))) return status;
    mt_tensor *zero = mti_scalar_tensor(fn, 0.0f);
    if (!zero) return mt_last_status();
    if (wants(a)) status = mti_give_grad(fn, a, mti_zip3(fn, MTI_TERNARY_WHERE, cond, g, zero));
    if (status == MT_OK && wants(b))
        status = mti_give_grad(fn, b, mti_zip3(fn, MTI_TERNARY_WHERE, cond, zero, g));
    mti_unref(zero);
    return status;
}

/* The descriptor table, generated from the op tables: a row without its formula does not
 * compile. */
static const backward_fn backward_of[] = {
#define UNARY_ROW(E, ...) backward_unary,
#define BINARY_ROW(E, name, cost, backward) backward_##backward,
#define REDUCE_ROW(E, name, saves) backward_##name,
#define STRUCTURAL_ROW(E, name) backward_##name,
#define LINE_ROW(E, name, width, saves, backward) backward_##backward,
    MTI_UNARY_OPS(UNARY_ROW) MTI_BINARY_OPS(BINARY_ROW) MTI_REDUCE_OPS(REDUCE_ROW)
    MTI_STRUCTURAL_FUNCTIONS(STRUCTURAL_ROW)
    MTI_ROW_OPS(LINE_ROW)
#undef LINE_ROW
#undef UNARY_ROW
#undef BINARY_ROW
#undef REDUCE_ROW
#undef STRUCTURAL_ROW
};
_Static_assert(sizeof backward_of / sizeof backward_of[0] == MTI_FN_COUNT,
               "one gradient formula per recorded function");

mt_status mti_apply_gradient(const char *fn, mt_tensor *t, mt_tensor *g)
{
    const mti_node *node = t->node;
    if ((unsigned)node->function >= MTI_FN_COUNT)
        return mti_fail(MT_ERR_AUTODIFF, fn, "unknown recorded function %d", node->function);
    return backward_of[node->function](fn, node, g);
}
