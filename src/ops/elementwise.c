/* Public elementwise operations: map and zip with autodiff history. */
#include "ops/ops_internal.h"
#include "minitorch/ops.h"

/* A unary op with its parameters, which the record keeps for the gradient. */
static mt_tensor *unary_with(const char *fn, mti_unary_op op, mti_params params, mt_tensor *a)
{
    mti_node spec = mti_spec(mti_fn_unary(op), 1, a, NULL, NULL);
    spec.params[0] = params.p0;
    spec.params[1] = params.p1;
    return mti_track(fn, mti_record(fn, mti_map_with(fn, op, params, a), &spec,
                                    mti_unary_saves(op) == MTI_SAVES_OUTPUT));
}

static mt_tensor *unary(const char *fn, mti_unary_op op, mt_tensor *a)
{
    return unary_with(fn, op, MTI_NO_PARAMS, a);
}

/* The public unary operations, one per row of the op table without parameters; the rows with
 * parameters (the last column) get the hand-written wrappers below. */
#define UNARY_WRAPPER(E, name, cost, saves, params) UNARY_WRAPPER_##params(E, name)
#define UNARY_WRAPPER_0(E, name) \
    mt_tensor *mt_##name(mt_tensor *a) { return unary("mt_" #name, MTI_UNARY_##E, a); }
#define UNARY_WRAPPER_1(E, name)
#define UNARY_WRAPPER_2(E, name)
MTI_UNARY_OPS(UNARY_WRAPPER)
#undef UNARY_WRAPPER
#undef UNARY_WRAPPER_0
#undef UNARY_WRAPPER_1
#undef UNARY_WRAPPER_2

mt_tensor *mt_leaky_relu(mt_tensor *a, float slope)
{
    return unary_with("mt_leaky_relu", MTI_UNARY_LEAKY_RELU, (mti_params){slope, 0.0f}, a);
}

mt_tensor *mt_clamp(mt_tensor *a, float lo, float hi)
{
    return unary_with("mt_clamp", MTI_UNARY_CLAMP, (mti_params){lo, hi}, a);
}

mt_tensor *mt_pow_scalar(mt_tensor *a, float p)
{
    return unary_with("mt_pow_scalar", MTI_UNARY_POW_SCALAR, (mti_params){p, 0.0f}, a);
}

mt_tensor *mti_op_binary(const char *fn, mti_binary_op op, mt_tensor *a, mt_tensor *b)
{
    mti_node spec = mti_spec(mti_fn_binary(op), 2, a, b, NULL);
    return mti_record(fn, mti_zip(fn, (mti_zip_op)op, a, b), &spec, false);
}

/* The public binary operations, one per row of the op table. */
#define BINARY_WRAPPER(E, name, cost, backward)                                     \
    mt_tensor *mt_##name(mt_tensor *a, mt_tensor *b)                                \
    {                                                                               \
        return mti_track("mt_" #name, mti_op_binary("mt_" #name, MTI_BINARY_##E, a, b)); \
    }
MTI_BINARY_OPS(BINARY_WRAPPER)
#undef BINARY_WRAPPER

/* ---- selection: the three-input select kernel ---- */

static mt_tensor *op_where(const char *fn, mt_tensor *cond, mt_tensor *a, mt_tensor *b)
{
    mti_node spec = mti_spec(MTI_FN_WHERE, 3, cond, a, b);
    return mti_record(fn, mti_zip3(fn, MTI_TERNARY_WHERE, cond, a, b), &spec, false);
}

mt_tensor *mt_where(mt_tensor *cond, mt_tensor *a, mt_tensor *b)
{
    static const char fn[] = "mt_where";
    if (!cond) return mti_fail_null(fn, "cond"), NULL;
    if (!a) return mti_fail_null(fn, "a"), NULL;
    if (!b) return mti_fail_null(fn, "b"), NULL;
    return mti_track(fn, op_where(fn, cond, a, b));
}

/* where(mask, value, a) once mask is known to broadcast to a (so the result has a's shape). */
mt_tensor *mt_masked_fill(mt_tensor *a, mt_tensor *mask, float value)
{
    static const char fn[] = "mt_masked_fill";
    if (!a) return mti_fail_null(fn, "a"), NULL;
    if (!mask) return mti_fail_null(fn, "mask"), NULL;
    if (mti_check_broadcasts_to(fn, "mask", mask->ndim, mask->shape, "a", a->ndim, a->shape) != MT_OK)
        return NULL;
    mt_tensor *fill = mti_scalar_tensor(fn, value);
    if (!fill) return NULL;
    mt_tensor *out = op_where(fn, mask, fill, a);
    mti_unref(fill);
    return mti_track(fn, out);
}

/* MiniTorch's backward helpers: a unary op's gradient kernel, without history. */
static mt_tensor *gradient_helper(const char *fn, mti_unary_op op, mt_tensor *a, mt_tensor *d)
{
    return mti_track(fn, mti_zip(fn, mti_unary_grad_op(op), a, d));
}

mt_tensor *mt_relu_back(mt_tensor *a, mt_tensor *d) { return gradient_helper("mt_relu_back", MTI_UNARY_RELU, a, d); }
mt_tensor *mt_log_back(mt_tensor *a, mt_tensor *d) { return gradient_helper("mt_log_back", MTI_UNARY_LOG, a, d); }
mt_tensor *mt_inv_back(mt_tensor *a, mt_tensor *d) { return gradient_helper("mt_inv_back", MTI_UNARY_INV, a, d); }

mt_tensor *mti_op_scalar(const char *fn, mti_binary_op op, mt_tensor *a, float s, bool scalar_first)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    mt_tensor *scalar = mti_scalar_tensor(fn, s);
    if (!scalar) return NULL;
    mt_tensor *out = scalar_first ? mti_op_binary(fn, op, scalar, a) : mti_op_binary(fn, op, a, scalar);
    mti_unref(scalar);
    return out;
}

mt_tensor *mt_add_scalar(mt_tensor *a, float s) { return mti_track("mt_add_scalar", mti_op_scalar("mt_add_scalar", MTI_BINARY_ADD, a, s, false)); }
mt_tensor *mt_sub_scalar(mt_tensor *a, float s) { return mti_track("mt_sub_scalar", mti_op_scalar("mt_sub_scalar", MTI_BINARY_SUB, a, s, false)); }
mt_tensor *mt_rsub_scalar(mt_tensor *a, float s) { return mti_track("mt_rsub_scalar", mti_op_scalar("mt_rsub_scalar", MTI_BINARY_SUB, a, s, true)); }
mt_tensor *mt_mul_scalar(mt_tensor *a, float s) { return mti_track("mt_mul_scalar", mti_op_scalar("mt_mul_scalar", MTI_BINARY_MUL, a, s, false)); }
mt_tensor *mt_div_scalar(mt_tensor *a, float s) { return mti_track("mt_div_scalar", mti_op_scalar("mt_div_scalar", MTI_BINARY_DIV, a, s, false)); }
mt_tensor *mt_rdiv_scalar(mt_tensor *a, float s) { return mti_track("mt_rdiv_scalar", mti_op_scalar("mt_rdiv_scalar", MTI_BINARY_DIV, a, s, true)); }
mt_tensor *mt_lt_scalar(mt_tensor *a, float s) { return mti_track("mt_lt_scalar", mti_op_scalar("mt_lt_scalar", MTI_BINARY_LT, a, s, false)); }
mt_tensor *mt_gt_scalar(mt_tensor *a, float s) { return mti_track("mt_gt_scalar", mti_op_scalar("mt_gt_scalar", MTI_BINARY_GT, a, s, false)); }
mt_tensor *mt_eq_scalar(mt_tensor *a, float s) { return mti_track("mt_eq_scalar", mti_op_scalar("mt_eq_scalar", MTI_BINARY_EQ, a, s, false)); }

/* ---- into a caller's output ---- */

static mt_status map_out(const char *fn, mt_tensor *out, mt_unary_op op, const mt_tensor *a,
                         mti_params params, bool takes_params)
{
    const mt_tensor *inputs[1] = {a};
    mt_status status = mti_check_out_args(fn, out, 1, inputs, "mt_unary_op", (int)op,
                                          mti_unary_name((mti_unary_op)op) != NULL);
    if (status == MT_OK && !takes_params && mti_unary_params((mti_unary_op)op) > 0)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "%s takes parameters; use mt_map_out_with",
                        mti_unary_name((mti_unary_op)op));
    if (status == MT_OK) status = mti_check_elementwise_out(fn, out, 1, inputs);
    if (status != MT_OK) return status;
    mti_strided o = mti_strided_of(out), va = mti_strided_expanded(a, out->ndim, out->shape);
    mti_run_map((mti_unary_op)op, params, &o, &va);
    mti_bump_version(out);
    return MT_OK;
}

mt_status mt_map_out(mt_tensor *out, mt_unary_op op, const mt_tensor *a)
{
    return map_out("mt_map_out", out, op, a, MTI_NO_PARAMS, false);
}

mt_status mt_map_out_with(mt_tensor *out, mt_unary_op op, const mt_tensor *a, float p0, float p1)
{
    return map_out("mt_map_out_with", out, op, a, (mti_params){p0, p1}, true);
}

mt_status mt_zip_out(mt_tensor *out, mt_binary_op op, const mt_tensor *a, const mt_tensor *b)
{
    static const char fn[] = "mt_zip_out";
    const mt_tensor *inputs[2] = {a, b};
    mt_status status = mti_check_out_args(fn, out, 2, inputs, "mt_binary_op", (int)op,
                                          (unsigned)op < MTI_BINARY_COUNT);
    if (status == MT_OK) status = mti_check_elementwise_out(fn, out, 2, inputs);
    if (status != MT_OK) return status;
    mti_strided o = mti_strided_of(out);
    mti_strided va = mti_strided_expanded(a, out->ndim, out->shape);
    mti_strided vb = mti_strided_expanded(b, out->ndim, out->shape);
    mti_run_zip((mti_zip_op)op, MTI_NO_PARAMS, &o, &va, &vb);
    mti_bump_version(out);
    return MT_OK;
}

const char *mt_unary_op_name(mt_unary_op op) { return mti_unary_name((mti_unary_op)op); }
const char *mt_binary_op_name(mt_binary_op op)
{
    return (unsigned)op < MTI_BINARY_COUNT ? mti_zip_name((mti_zip_op)op) : NULL;
}
