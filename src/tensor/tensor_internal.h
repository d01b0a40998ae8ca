/* Internal functions of the tensor layer that do not need the representation: shape checks,
 * creation, references and scope tracking. The operations of the nn layer use these (with the
 * public API) and never the tensor's fields. */
#ifndef MTI_TENSOR_INTERNAL_H
#define MTI_TENSOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "minitorch/tensor.h"

/* ---- shape checks (set an error naming `fn` on failure) ---- */
mt_status mti_check_shape(const char *fn, int ndim, const int64_t *shape, int64_t *numel);
/* Normalises a possibly negative dim; MT_ERR_INDEX when out of range. */
mt_status mti_check_dim(const char *fn, int ndim, int dim, int *normalized);
/* mt_shape_broadcast reporting errors as `fn`. */
mt_status mti_shape_broadcast(const char *fn, int ndim_a, const int64_t *shape_a, int ndim_b,
                              const int64_t *shape_b, int *out_ndim, int64_t *out_shape);
/* MT_OK when (ndim, shape) broadcasts to exactly (to_ndim, to_shape); otherwise MT_ERR_BROADCAST
 * with "<fn>: <what> [..] does not broadcast to <target> [..]". */
mt_status mti_check_broadcasts_to(const char *fn, const char *what, int ndim, const int64_t *shape,
                                  const char *target, int to_ndim, const int64_t *to_shape);
bool mti_same_shape(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b);
bool mti_is_contiguous_layout(int ndim, const int64_t *shape, const int64_t *strides);
/* The strides of a contiguous (row-major) tensor of `shape`. */
void mti_row_major_strides(int ndim, const int64_t *shape, int64_t *strides);

/* Visits every element of `t` in row-major order, with the element of `u` (same shape, any
 * strides; NULL for none) at the same index. */
typedef void (*mti_element_visit)(float *t_element, float *u_element, void *context);
void mti_walk_elements(const mt_tensor *t, const mt_tensor *u, mti_element_visit visit,
                       void *context);

/* ---- access ---- */
/* The first element of a tensor's data (its strides say how to walk it). */
float *mti_tensor_data(const mt_tensor *t);
/* Every write into an existing tensor's data bumps its storage's version, so autodiff can refuse
 * a backward pass whose saved values were changed after they were recorded (views share the
 * storage and its version). Call after writing. */
void mti_bump_version(mt_tensor *t);
uint64_t mti_version(const mt_tensor *t);
/* The accumulated gradient of a leaf (borrowed; NULL when none). */
mt_tensor *mti_tensor_grad(const mt_tensor *t);

/* ---- creation (no scope tracking) ---- */
/* A new contiguous tensor with uninitialised data. */
mt_tensor *mti_tensor_empty(const char *fn, int ndim, const int64_t *shape);
/* A new contiguous zero-filled tensor. */
mt_tensor *mti_tensor_zeros(const char *fn, int ndim, const int64_t *shape);
/* New contiguous tensors filled with `value` / uniform in [low, high) from `seed`. */
mt_tensor *mti_tensor_full(const char *fn, int ndim, const int64_t *shape, float value);
mt_tensor *mti_tensor_uniform(const char *fn, int ndim, const int64_t *shape, float low,
                              float high, uint64_t seed);
/* A new tensor viewing base's storage with the given layout. */
mt_tensor *mti_tensor_alias(const char *fn, const mt_tensor *base, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset);

/* ---- references ----
 * mti_ref/mti_unref: a reference owned by library code for a while (like a caller's).
 * mti_hold/mti_unhold: a long-lived reference owned by a scope or a graph record; mt_release
 * refuses to drop those. */
mt_tensor *mti_ref(mt_tensor *t);
void mti_unref(mt_tensor *t);
mt_tensor *mti_hold(mt_tensor *t);
void mti_unhold(mt_tensor *t);
/* Turns a reference the caller owns into a held one (mti_unhold drops it), and back. */
void mti_adopt(mt_tensor *t);
void mti_disown(mt_tensor *t);
/* Only one reference to `t` exists and it covers its whole storage densely: safe to update in
 * place. */
bool mti_exclusive_dense(const mt_tensor *t);

/* Records the returned reference `t` in the innermost open scope (which then owns it). Returns t,
 * or NULL (t dropped, MT_ERR_NO_MEMORY reported as `fn`) if the scope cannot grow. NULL stays
 * NULL. */
mt_tensor *mti_track(const char *fn, mt_tensor *t);

/* Reports to a capturing observer (tensor/observer.h) a write into tensor data that a plan
 * cannot replay, named by `what`: the capture then fails with that name. No-op otherwise. */
void mti_observe_opaque(const char *what);

#endif
