/* Internal tensor representation: storage, strided view, history record, reference counts. Only
 * the layers below nn see these fields; nn uses tensor/tensor_internal.h. */
#ifndef MTI_TENSOR_IMPL_H
#define MTI_TENSOR_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitorch/tensor.h"
#include "tensor/tensor_internal.h"

typedef struct mti_storage {
    atomic_int refcount;
    atomic_uint_least64_t version; /* bumped by every write into existing data (see
                                      mti_bump_version); autodiff compares it */
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
    float params[2];               /* a parameterised op's parameters */
    int64_t start;                 /* narrow's start */
    /* storage versions of inputs[i] and saved[i] when recorded (see mti_bump_version) */
    uint64_t input_versions[MTI_NODE_MAX_INPUTS];
    uint64_t saved_versions[MTI_NODE_MAX_SAVED];
    int64_t *indices;              /* index_select's indices (owned: freed with the record) */
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
    mt_tensor *free_next;      /* intrusive list used while freeing a graph */
};

/* A strided view for the kernels: data points at element [0,...,0]. */
typedef struct mti_strided {
    float *data;
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    int64_t strides[MT_MAX_DIMS];
} mti_strided;

/* ---- views for kernels ---- */
static inline float *mti_data(const mt_tensor *t) { return t->storage->data + t->offset; }
mti_strided mti_strided_of(const mt_tensor *t);
/* The view of `t` broadcast to (ndim, shape) by zero strides; the shapes must be compatible. */
mti_strided mti_strided_expanded(const mt_tensor *t, int ndim, const int64_t *shape);

/* ---- storage held directly (a captured plan binds storage, not tensor objects) ---- */
void mti_storage_retain(mti_storage *s);
void mti_storage_release(mti_storage *s);
int mti_storage_refs(const mti_storage *s);
void mti_storage_bump_version(mti_storage *s);

#endif
