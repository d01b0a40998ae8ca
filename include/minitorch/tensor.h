/* minitorch-c: float32 tensors — creation, inspection, index helpers and views.
 *
 * A tensor is a strided view (shape, strides, offset) of a reference-counted storage buffer.
 * Tensors have 1 to MT_MAX_DIMS dimensions, each of size >= 1: empty tensors are not supported,
 * and a scalar is a tensor of shape (1,), as in MiniTorch. Strides are counted in elements.
 *
 * Ownership: every function returning an mt_tensor* returns a new reference, or NULL on failure
 * (see error.h). Drop it with mt_release(), or let the enclosing scope drop it (memory.h).
 *
 * Shapes are passed as (ndim, const int64_t *shape); MT_DIMS(...) writes both from a list:
 *     mt_tensor *x = mt_zeros(MT_DIMS(2, 3));
 */
#ifndef MINITORCH_TENSOR_H
#define MINITORCH_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "export.h"

#define MT_MAX_DIMS 8

#ifndef __cplusplus
/** Expands to `ndim, shape` for the listed sizes: mt_zeros(MT_DIMS(2, 3)). The shape is a
 *  compound literal, which lives until the end of the enclosing block. */
#define MT_DIMS(...) \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
#else
/* C++ has no compound literals. There MT_DIMS builds a temporary holding the sizes, each
 * converted to int64_t as C would (so int, size_t or int64_t variables all work), and passes a
 * pointer into it. A temporary lives until the end of the full-expression that created it, so
 * the pointer is valid for the call it is an argument of — which is all a shape argument needs
 * (every function copies the shape before returning). Do not store it:
 *     const int64_t *bad = mt_dims_cxx(2, 3).sizes;   // dangles at the semicolon */
template <int N>
struct mt_dims_cxx_array {
    int64_t sizes[N];
};
template <typename... Sizes>
inline mt_dims_cxx_array<(int)sizeof...(Sizes)> mt_dims_cxx(Sizes... sizes)
{
    return {{static_cast<int64_t>(sizes)...}};
}
#define MT_DIMS(...) \
    (int)(sizeof(mt_dims_cxx(__VA_ARGS__).sizes) / sizeof(int64_t)), mt_dims_cxx(__VA_ARGS__).sizes
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_tensor mt_tensor;

/* ---- creation (all copy nothing from the caller after they return) ---- */

/** A new contiguous tensor filled with 0. */
MT_API mt_tensor *mt_zeros(int ndim, const int64_t *shape);
/** A new contiguous tensor filled with 1. */
MT_API mt_tensor *mt_ones(int ndim, const int64_t *shape);
/** A new contiguous tensor filled with `value`. */
MT_API mt_tensor *mt_full(int ndim, const int64_t *shape, float value);
/** A new contiguous tensor holding a copy of `data` (row-major, numel(shape) floats). */
MT_API mt_tensor *mt_from_data(int ndim, const int64_t *shape, const float *data);
/** A shape-(1,) tensor holding `value`. */
MT_API mt_tensor *mt_scalar(float value);
/** Uniform random values in [low, high) from a seeded generator: the same seed gives the same
 *  values on every machine and thread count. */
MT_API mt_tensor *mt_rand_uniform(int ndim, const int64_t *shape, float low, float high,
                                  uint64_t seed);
/** mt_rand_uniform in [0, 1). */
MT_API mt_tensor *mt_rand(int ndim, const int64_t *shape, uint64_t seed);

/* ---- inspection ---- */

/** Number of dimensions (1..MT_MAX_DIMS), or 0 if `t` is NULL. */
MT_API int mt_ndim(const mt_tensor *t);
/** Size of dimension `dim` (negative counts from the end), or -1 on error. */
MT_API int64_t mt_size(const mt_tensor *t, int dim);
/** Stride of dimension `dim` in elements (negative counts from the end), or -1 on error. */
MT_API int64_t mt_stride(const mt_tensor *t, int dim);
/** The shape array (mt_ndim(t) entries), valid while `t` lives; NULL if `t` is NULL. */
MT_API const int64_t *mt_shape(const mt_tensor *t);
/** The strides array (mt_ndim(t) entries), valid while `t` lives; NULL if `t` is NULL. */
MT_API const int64_t *mt_strides(const mt_tensor *t);
/** Offset of element [0,...,0] in the storage, in elements; -1 if `t` is NULL. */
MT_API int64_t mt_offset(const mt_tensor *t);
/** Total number of elements, or 0 if `t` is NULL. */
MT_API int64_t mt_numel(const mt_tensor *t);
/** True when the strides are the row-major strides of the shape (dims of size 1 excepted). */
MT_API bool mt_is_contiguous(const mt_tensor *t);
/** True when `a` and `b` view the same storage buffer. */
MT_API bool mt_shares_storage(const mt_tensor *a, const mt_tensor *b);

/* ---- elements ---- */

/** Reads the element at `index` (mt_ndim(t) entries) into *value. */
MT_API mt_status mt_get(const mt_tensor *t, const int64_t *index, float *value);
/** Writes `value` at `index`. Writing through a view changes every tensor sharing the storage.
 *  Refused (MT_ERR_INVALID_ARG) on a tensor with expanded (zero-stride) dimensions, since one
 *  write would change many elements. */
MT_API mt_status mt_set(mt_tensor *t, const int64_t *index, float value);
/** The value of a one-element tensor; NaN with an error recorded otherwise. */
MT_API float mt_item(const mt_tensor *t);
/** Copies all elements in row-major order into `dst`, which holds `capacity` floats. */
MT_API mt_status mt_copy_to(const mt_tensor *t, float *dst, int64_t capacity);
/** Overwrites all elements, in row-major order, with `count` floats from `src` (count must equal
 *  the element count: MT_ERR_INVALID_ARG otherwise; MT_ERR_NULL for NULL). The way to give a
 *  captured plan (plan.h) new input data. Refused like mt_set on expanded views and on leaves that
 *  require grad while grad mode is on; nothing is written on failure. */
MT_API mt_status mt_copy_from(mt_tensor *t, const float *src, int64_t count);

/* ---- printing ---- */

/** Writes the tensor as nested brackets, like MiniTorch and PyTorch; tensors with more than 1000
 *  elements show their first and last 3 entries per dimension with "..." between. Returns the
 *  length the full text needs (excluding the terminating NUL), like snprintf, or -1 on error. */
MT_API int64_t mt_format(const mt_tensor *t, char *buffer, size_t capacity);
/** mt_format to a stream, followed by a newline. */
MT_API mt_status mt_fprint(FILE *stream, const mt_tensor *t);
/** mt_fprint(stdout, t). */
MT_API mt_status mt_print(const mt_tensor *t);

/* ---- MiniTorch's index helpers (pure functions of their arguments) ---- */

/** Row-major strides for `shape`: (4,2,2) -> (4,2,1). */
MT_API mt_status mt_strides_from_shape(int ndim, const int64_t *shape, int64_t *strides);
/** Sum of index[i] * strides[i]. Does no checking (it is the hot-path helper). */
MT_API int64_t mt_index_to_position(int ndim, const int64_t *index, const int64_t *strides);
/** The index of element number `ordinal` in row-major order of `shape` (ignores strides). */
MT_API mt_status mt_to_index(int64_t ordinal, int ndim, const int64_t *shape, int64_t *index);
/** Maps an index into the broadcast shape `big_shape` to the index into the smaller `shape`
 *  (right-aligned; size-1 dims map to 0). */
MT_API mt_status mt_broadcast_index(int big_ndim, const int64_t *big_index,
                                    const int64_t *big_shape, int ndim, const int64_t *shape,
                                    int64_t *index);
/** The broadcast of two shapes (right-aligned, missing dims count as 1); writes *out_ndim and
 *  out_shape (MT_MAX_DIMS entries). MT_ERR_BROADCAST if a dim differs and neither side is 1. */
MT_API mt_status mt_shape_broadcast(int ndim_a, const int64_t *shape_a, int ndim_b,
                                    const int64_t *shape_b, int *out_ndim, int64_t *out_shape);

/* ---- views: share storage with their input, record autodiff history ---- */

/** Reorders the dimensions: result dim i is input dim order[i]. `order` is a permutation. */
MT_API mt_tensor *mt_permute(mt_tensor *t, const int *order);
/** Swaps two dimensions (negative dims count from the end). */
MT_API mt_tensor *mt_transpose(mt_tensor *t, int dim0, int dim1);
/** The same elements with a new shape; `t` must be contiguous (else MT_ERR_NOT_CONTIGUOUS).
 *  One entry of `shape` may be -1 and is then inferred. */
MT_API mt_tensor *mt_view(mt_tensor *t, int ndim, const int64_t *shape);
/** Like mt_view, but copies when `t` is not contiguous. */
MT_API mt_tensor *mt_reshape(mt_tensor *t, int ndim, const int64_t *shape);
/** Broadcasts `t` to the larger `shape` by zero strides (MiniTorch/NumPy broadcasting rules). */
MT_API mt_tensor *mt_expand(mt_tensor *t, int ndim, const int64_t *shape);
/** Elements start..start+length-1 of dimension `dim`. */
MT_API mt_tensor *mt_narrow(mt_tensor *t, int dim, int64_t start, int64_t length);
/** `t` itself (a new reference) if contiguous, else a contiguous copy. */
MT_API mt_tensor *mt_contiguous(mt_tensor *t);

#ifdef __cplusplus
}
#endif

#endif
