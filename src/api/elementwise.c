/* Public elementwise operations: map and zip with autodiff history. */
#include "api/api.h"
#include "minitorch/ops.h"

static mt_tensor *unary(const char *fn, mt_unary_op op, mti_function function, bool save_output,
                        mt_tensor *a)
{
    mti_node spec = mti_spec(function, 1, a, NULL, NULL);
    return mti_track(fn, mti_record(fn, mti_map(fn, op, a), &spec, save_output));
}

mt_tensor *mt_neg(mt_tensor *a) { return unary("mt_neg", MT_OP_NEG, MTI_FN_NEG, false, a); }
mt_tensor *mt_copy(mt_tensor *a) { return unary("mt_copy", MT_OP_ID, MTI_FN_COPY, false, a); }
mt_tensor *mt_sigmoid(mt_tensor *a) { return unary("mt_sigmoid", MT_OP_SIGMOID, MTI_FN_SIGMOID, true, a); }
mt_tensor *mt_relu(mt_tensor *a) { return unary("mt_relu", MT_OP_RELU, MTI_FN_RELU, false, a); }
mt_tensor *mt_log(mt_tensor *a) { return unary("mt_log", MT_OP_LOG, MTI_FN_LOG, false, a); }
mt_tensor *mt_exp(mt_tensor *a) { return unary("mt_exp", MT_OP_EXP, MTI_FN_EXP, true, a); }
mt_tensor *mt_inv(mt_tensor *a) { return unary("mt_inv", MT_OP_INV, MTI_FN_INV, false, a); }

/* The autodiff function of a binary kernel; -1 for the backward helpers, which are not
 * themselves differentiable (their results carry no history). */
static int binary_function(mt_binary_op op)
{
    switch (op) {
    case MT_OP_ADD: return MTI_FN_ADD;
    case MT_OP_SUB: return MTI_FN_SUB;
    case MT_OP_MUL: return MTI_FN_MUL;
    case MT_OP_DIV: return MTI_FN_DIV;
    case MT_OP_LT:
    case MT_OP_GT:
    case MT_OP_EQ:
    case MT_OP_IS_CLOSE: return MTI_FN_CONSTANT;
    default: return -1;
    }
}

mt_tensor *mti_op_binary(const char *fn, mt_binary_op op, mt_tensor *a, mt_tensor *b)
{
    mt_tensor *out = mti_zip(fn, op, a, b);
    int function = binary_function(op);
    if (function < 0) return out;
    mti_node spec = mti_spec((mti_function)function, 2, a, b, NULL);
    return mti_record(fn, out, &spec, false);
}

mt_tensor *mt_add(mt_tensor *a, mt_tensor *b) { return mti_track("mt_add", mti_op_binary("mt_add", MT_OP_ADD, a, b)); }
mt_tensor *mt_sub(mt_tensor *a, mt_tensor *b) { return mti_track("mt_sub", mti_op_binary("mt_sub", MT_OP_SUB, a, b)); }
mt_tensor *mt_mul(mt_tensor *a, mt_tensor *b) { return mti_track("mt_mul", mti_op_binary("mt_mul", MT_OP_MUL, a, b)); }
mt_tensor *mt_div(mt_tensor *a, mt_tensor *b) { return mti_track("mt_div", mti_op_binary("mt_div", MT_OP_DIV, a, b)); }
mt_tensor *mt_lt(mt_tensor *a, mt_tensor *b) { return mti_track("mt_lt", mti_op_binary("mt_lt", MT_OP_LT, a, b)); }
mt_tensor *mt_gt(mt_tensor *a, mt_tensor *b) { return mti_track("mt_gt", mti_op_binary("mt_gt", MT_OP_GT, a, b)); }
mt_tensor *mt_eq(mt_tensor *a, mt_tensor *b) { return mti_track("mt_eq", mti_op_binary("mt_eq", MT_OP_EQ, a, b)); }
mt_tensor *mt_is_close(mt_tensor *a, mt_tensor *b) { return mti_track("mt_is_close", mti_op_binary("mt_is_close", MT_OP_IS_CLOSE, a, b)); }
mt_tensor *mt_relu_back(mt_tensor *a, mt_tensor *d) { return mti_track("mt_relu_back", mti_op_binary("mt_relu_back", MT_OP_RELU_BACK, a, d)); }
mt_tensor *mt_log_back(mt_tensor *a, mt_tensor *d) { return mti_track("mt_log_back", mti_op_binary("mt_log_back", MT_OP_LOG_BACK, a, d)); }
mt_tensor *mt_inv_back(mt_tensor *a, mt_tensor *d) { return mti_track("mt_inv_back", mti_op_binary("mt_inv_back", MT_OP_INV_BACK, a, d)); }

mt_tensor *mti_op_scalar(const char *fn, mt_binary_op op, mt_tensor *a, float s, bool scalar_first)
{
    if (!a) return mti_fail_null(fn, "a"), NULL;
    mt_tensor *scalar = mti_scalar_tensor(fn, s);
    if (!scalar) return NULL;
    mt_tensor *out = scalar_first ? mti_op_binary(fn, op, scalar, a) : mti_op_binary(fn, op, a, scalar);
    mti_unref(scalar);
    return out;
}

mt_tensor *mt_add_scalar(mt_tensor *a, float s) { return mti_track("mt_add_scalar", mti_op_scalar("mt_add_scalar", MT_OP_ADD, a, s, false)); }
mt_tensor *mt_sub_scalar(mt_tensor *a, float s) { return mti_track("mt_sub_scalar", mti_op_scalar("mt_sub_scalar", MT_OP_SUB, a, s, false)); }
mt_tensor *mt_rsub_scalar(mt_tensor *a, float s) { return mti_track("mt_rsub_scalar", mti_op_scalar("mt_rsub_scalar", MT_OP_SUB, a, s, true)); }
mt_tensor *mt_mul_scalar(mt_tensor *a, float s) { return mti_track("mt_mul_scalar", mti_op_scalar("mt_mul_scalar", MT_OP_MUL, a, s, false)); }
mt_tensor *mt_div_scalar(mt_tensor *a, float s) { return mti_track("mt_div_scalar", mti_op_scalar("mt_div_scalar", MT_OP_DIV, a, s, false)); }
mt_tensor *mt_rdiv_scalar(mt_tensor *a, float s) { return mti_track("mt_rdiv_scalar", mti_op_scalar("mt_rdiv_scalar", MT_OP_DIV, a, s, true)); }
mt_tensor *mt_lt_scalar(mt_tensor *a, float s) { return mti_track("mt_lt_scalar", mti_op_scalar("mt_lt_scalar", MT_OP_LT, a, s, false)); }
mt_tensor *mt_gt_scalar(mt_tensor *a, float s) { return mti_track("mt_gt_scalar", mti_op_scalar("mt_gt_scalar", MT_OP_GT, a, s, false)); }
mt_tensor *mt_eq_scalar(mt_tensor *a, float s) { return mti_track("mt_eq_scalar", mti_op_scalar("mt_eq_scalar", MT_OP_EQ, a, s, false)); }

/* ---- into a caller's output ---- */

mt_status mt_map_out(mt_tensor *out, mt_unary_op op, const mt_tensor *a)
{
    static const char fn[] = "mt_map_out";
    if (!out) return mti_fail_null(fn, "out");
    if (!a) return mti_fail_null(fn, "a");
    if ((unsigned)op >= MT_UNARY_OP_COUNT)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not an mt_unary_op", (int)op);
    const mt_tensor *inputs[1] = {a};
    mt_status status = mti_check_out(fn, out, out->ndim, out->shape, 1, inputs);
    if (status != MT_OK) return status;
    status = mti_check_broadcasts_to(fn, "a", a->ndim, a->shape, "out", out->ndim, out->shape);
    if (status != MT_OK) return status;
    mti_strided o = mti_strided_of(out), va = mti_strided_expanded(a, out->ndim, out->shape);
    mti_current_kernels()->map(op, &o, &va);
    return MT_OK;
}

mt_status mt_zip_out(mt_tensor *out, mt_binary_op op, const mt_tensor *a, const mt_tensor *b)
{
    static const char fn[] = "mt_zip_out";
    if (!out) return mti_fail_null(fn, "out");
    if (!a) return mti_fail_null(fn, "a");
    if (!b) return mti_fail_null(fn, "b");
    if ((unsigned)op >= MT_BINARY_OP_COUNT)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not an mt_binary_op", (int)op);
    const mt_tensor *inputs[2] = {a, b};
    mt_status status = mti_check_out(fn, out, out->ndim, out->shape, 2, inputs);
    if (status != MT_OK) return status;
    status = mti_check_broadcasts_to(fn, "a", a->ndim, a->shape, "out", out->ndim, out->shape);
    if (status == MT_OK)
        status = mti_check_broadcasts_to(fn, "b", b->ndim, b->shape, "out", out->ndim, out->shape);
    if (status != MT_OK) return status;
    mti_strided o = mti_strided_of(out);
    mti_strided va = mti_strided_expanded(a, out->ndim, out->shape);
    mti_strided vb = mti_strided_expanded(b, out->ndim, out->shape);
    mti_current_kernels()->zip(op, &o, &va, &vb);
    return MT_OK;
}
