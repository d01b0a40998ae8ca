/* Internal tensor representation: storage, strided view, history record, reference counts. */
#ifndef MTI_TENSOR_IMPL_H
#define MTI_TENSOR_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitorch/tensor.h"

typedef struct mti_storage {
    atomic_int refcount;
    float *data;
    size_t capacity; /* bytes reserved by the allocator */
    int64_t numel;   /* floats usable */
} mti_storage;

/* How a tensor was computed (autodiff history). The autodiff layer gives `function` its meaning;
 * this layer only knows which tensors the record holds, so it can free the graph. Saved values
 * are aliases without history, so a result never holds itself (no reference cycles). */
#define MTI_NODE_MAX_INPUTS 3
#define MTI_NODE_MAX_SAVED 3
typedef struct mti_node {
    int function;
    int input_count;
    mt_tensor *inputs[MTI_NODE_MAX_INPUTS];
    int saved_count;
    mt_tensor *saved[MTI_NODE_MAX_SAVED];
    int ndim;                      /* a shape the backward needs (an input's shape) */
    int64_t shape[MT_MAX_DIMS];
    int ints[MT_MAX_DIMS];         /* a dim, a permutation, ... */
    int64_t start;                 /* narrow's start */
} mti_node;

struct mt_tensor {
    atomic_int refcount;       /* all references */
    atomic_int internal_refs;  /* of which held by scopes and graph records */
    mti_storage *storage;
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    int64_t strides[MT_MAX_DIMS];
    int64_t offset;
    int64_t numel;
    /* autodiff */
    bool requires_grad;
    mti_node *node;            /* NULL for leaves */
    mt_tensor *grad;           /* accumulated gradient of a leaf (held) */
    mt_tensor *backward_grad;  /* gradient flowing during one backward pass */
    uint64_t visit_mark;       /* backward's traversal mark */
    mt_tensor *free_next;      /* intrusive list used while freeing a graph */
};

/* A strided view for the kernels: data points at element [0,...,0]. */
typedef struct mti_strided {
    float *data;
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    int64_t strides[MT_MAX_DIMS];
} mti_strided;

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

/* Records the returned reference `t` in the innermost open scope (which then owns it). Returns t,
 * or NULL (t dropped, MT_ERR_NO_MEMORY reported as `fn`) if the scope cannot grow. NULL stays
 * NULL. */
mt_tensor *mti_track(const char *fn, mt_tensor *t);

/* ---- views for kernels ---- */
static inline float *mti_data(const mt_tensor *t) { return t->storage->data + t->offset; }
mti_strided mti_strided_of(const mt_tensor *t);
/* The view of `t` broadcast to (ndim, shape) by zero strides; the shapes must be compatible. */
mti_strided mti_strided_expanded(const mt_tensor *t, int ndim, const int64_t *shape);

#endif
