/* Names, costs and saved values of the ops, generated from the op tables, and the compile-time
 * checks that the tables and the public enums agree. */
#include "kernels/op_table.h"

/* Every row's public enum value is its table index, and the zip op computing a unary op's
 * gradient sits where mti_unary_grad_op looks for it. */
#define MTI_X(E, name, cost, saves, params)                                                      \
    _Static_assert((int)MT_OP_##E == (int)MTI_UNARY_##E, "mt_unary_op order differs from MTI_UNARY_OPS"); \
    _Static_assert((int)MTI_ZIP_##E##_GRAD == (int)MTI_BINARY_COUNT + (int)MTI_UNARY_##E, "zip layout");
MTI_UNARY_OPS(MTI_X)
#undef MTI_X
#define MTI_X(E, name, cost, backward) \
    _Static_assert((int)MT_OP_##E == (int)MTI_BINARY_##E, "mt_binary_op order differs from MTI_BINARY_OPS");
MTI_BINARY_OPS(MTI_X)
#undef MTI_X
#define MTI_X(E, name, saves) \
    _Static_assert((int)MT_OP_##E == (int)MTI_REDUCE_##E, "mt_reduce_op order differs from MTI_REDUCE_OPS");
MTI_REDUCE_OPS(MTI_X)
#undef MTI_X

#define MTI_X(E, name, cost, saves, params) #name,
static const char *const unary_names[] = {MTI_UNARY_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, cost, backward) #name,
static const char *const zip_names[] = {MTI_BINARY_OPS(MTI_X)
#undef MTI_X
#define MTI_X(E, name, cost, saves, params) #name "_grad",
                                        MTI_UNARY_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, saves) #name,
static const char *const reduce_names[] = {MTI_REDUCE_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, cost) #name,
static const char *const ternary_names[] = {MTI_TERNARY_OPS(MTI_X)};
#undef MTI_X

#define MTI_X(E, name, width, saves, backward) #name,
static const char *const row_names[] = {MTI_ROW_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, width, saves, backward) MTI_SAVES_##saves,
static const mti_saves row_saves[] = {MTI_ROW_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, width, saves, backward) MTI_ROW_WIDTH_##width,
static const mti_row_width row_widths[] = {MTI_ROW_OPS(MTI_X)};
#undef MTI_X

#define MTI_X(E, name, cost, saves, params) cost,
static const int unary_costs[] = {MTI_UNARY_OPS(MTI_X)};
#undef MTI_X
/* A unary op's gradient costs what the op does (it recomputes comparable work). */
#define MTI_X(E, name, cost, backward) cost,
static const int zip_costs[] = {MTI_BINARY_OPS(MTI_X)
#undef MTI_X
#define MTI_X(E, name, cost, saves, params) cost,
                                MTI_UNARY_OPS(MTI_X)};
#undef MTI_X

#define MTI_X(E, name, cost, saves, params) MTI_SAVES_##saves,
static const mti_saves unary_saves[] = {MTI_UNARY_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, cost, saves, params) params,
static const int unary_params[] = {MTI_UNARY_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, cost) cost,
static const int ternary_costs[] = {MTI_TERNARY_OPS(MTI_X)};
#undef MTI_X
#define MTI_X(E, name, saves) MTI_SAVES_##saves,
static const mti_saves reduce_saves[] = {MTI_REDUCE_OPS(MTI_X)};
#undef MTI_X

#define MTI_LENGTH(array) (sizeof(array) / sizeof((array)[0]))
_Static_assert(MTI_LENGTH(unary_params) == MTI_UNARY_COUNT, "unary params");
_Static_assert(MTI_LENGTH(ternary_names) == MTI_TERNARY_COUNT, "ternary names");
_Static_assert(MTI_LENGTH(ternary_costs) == MTI_TERNARY_COUNT, "ternary costs");
_Static_assert(MTI_LENGTH(unary_names) == MTI_UNARY_COUNT, "unary names");
_Static_assert(MTI_LENGTH(zip_names) == MTI_ZIP_COUNT, "zip names");
_Static_assert(MTI_LENGTH(reduce_names) == MTI_REDUCE_COUNT, "reduce names");
_Static_assert(MTI_LENGTH(unary_costs) == MTI_UNARY_COUNT, "unary costs");
_Static_assert(MTI_LENGTH(zip_costs) == MTI_ZIP_COUNT, "zip costs");
_Static_assert(MTI_LENGTH(unary_saves) == MTI_UNARY_COUNT, "unary saves");
_Static_assert(MTI_LENGTH(reduce_saves) == MTI_REDUCE_COUNT, "reduce saves");
_Static_assert(MTI_LENGTH(row_names) == MTI_ROW_COUNT, "row names");
_Static_assert(MTI_LENGTH(row_saves) == MTI_ROW_COUNT, "row saves");
_Static_assert(MTI_LENGTH(row_widths) == MTI_ROW_COUNT, "row widths");

const char *mti_unary_name(mti_unary_op op) { return (unsigned)op < MTI_UNARY_COUNT ? unary_names[op] : NULL; }
const char *mti_zip_name(mti_zip_op op) { return (unsigned)op < MTI_ZIP_COUNT ? zip_names[op] : NULL; }
const char *mti_reduce_name(mti_reduce_op op) { return (unsigned)op < MTI_REDUCE_COUNT ? reduce_names[op] : NULL; }
int mti_unary_cost(mti_unary_op op) { return unary_costs[op]; }
int mti_zip_cost(mti_zip_op op) { return zip_costs[op]; }
mti_saves mti_unary_saves(mti_unary_op op) { return unary_saves[op]; }
mti_saves mti_reduce_saves(mti_reduce_op op) { return reduce_saves[op]; }
const char *mti_row_name(mti_row_op op) { return (unsigned)op < MTI_ROW_COUNT ? row_names[op] : NULL; }
mti_saves mti_row_saves(mti_row_op op) { return row_saves[op]; }
mti_row_width mti_row_width_of(mti_row_op op) { return row_widths[op]; }
const char *mti_ternary_name(mti_ternary_op op) { return (unsigned)op < MTI_TERNARY_COUNT ? ternary_names[op] : NULL; }
int mti_ternary_cost(mti_ternary_op op) { return ternary_costs[op]; }
int mti_unary_params(mti_unary_op op) { return unary_params[op]; }
