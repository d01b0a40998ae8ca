/* Public elementwise operations: map and zip with autodiff history. */
#include "ops/ops_internal.h"
#include "minitorch/ops.h"

static mt_tensor *unary(const char *fn, mti_unary_op op, mt_tensor *a)
{
    mti_node spec = mti_spec(mti_fn_unary(op), 1, a, NULL, NULL);
    return mti_track(fn, mti_record(fn, mti_map(fn, op, a), &spec,
                                    mti_unary_saves(op) == MTI_SAVES_OUTPUT));
}

/* The public unary operations, one per row of the op table. */
#define UNARY_WRAPPER(E, name, cost, saves) \
    mt_tensor *mt_##name(mt_tensor *a) { return unary("mt_" #name, MTI_UNARY_##E, a); }
MTI_UNARY_OPS(UNARY_WRAPPER)
#undef UNARY_WRAPPER

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

mt_status mt_map_out(mt_tensor *out, mt_unary_op op, const mt_tensor *a)
{
    static const char fn[] = "mt_map_out";
    const mt_tensor *inputs[1] = {a};
    mt_status status = mti_check_out_args(fn, out, 1, inputs, "mt_unary_op", (int)op,
                                          mti_unary_name((mti_unary_op)op) != NULL);
    if (status == MT_OK) status = mti_check_elementwise_out(fn, out, 1, inputs);
    if (status != MT_OK) return status;
    mti_strided o = mti_strided_of(out), va = mti_strided_expanded(a, out->ndim, out->shape);
    mti_run_map((mti_unary_op)op, MTI_NO_PARAMS, &o, &va);
    mti_bump_version(out);
    return MT_OK;
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
