/* Tensor objects: creation of the raw object, reference counting, freeing, inspection and
 * element access. */
#include <math.h>
#include <string.h>

#include "minitorch/autodiff.h"
#include "minitorch/scope.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "tensor/observer.h"
#include "tensor/tensor_impl.h"

/* ---- storage ---- */

static mti_storage *storage_new(int64_t numel)
{
    mti_storage *s = mti_malloc(sizeof *s);
    if (!s) return NULL;
    s->data = mti_buffer_alloc((size_t)numel * sizeof(float), &s->capacity);
    if (!s->data) {
        mti_free(s);
        return NULL;
    }
    atomic_init(&s->refcount, 1);
    atomic_init(&s->version, 0);
    s->numel = numel;
    mti_observe_storage(MTI_EVENT_STORAGE_NEW, s);
    return s;
}

static void storage_unref(mti_storage *s)
{
    if (atomic_fetch_sub_explicit(&s->refcount, 1, memory_order_acq_rel) == 1) {
        mti_observe_storage(MTI_EVENT_STORAGE_FREE, s);
        mti_buffer_free(s->data, s->capacity);
        mti_free(s);
    }
}

void mti_storage_retain(mti_storage *s)
{
    atomic_fetch_add_explicit(&s->refcount, 1, memory_order_relaxed);
}

void mti_storage_release(mti_storage *s) { storage_unref(s); }

int mti_storage_refs(const mti_storage *s) { return atomic_load(&s->refcount); }

void mti_storage_bump_version(mti_storage *s)
{
    atomic_fetch_add_explicit(&s->version, 1, memory_order_relaxed);
}

/* ---- tensor objects ---- */

static mt_tensor *tensor_object(const char *fn, mti_storage *storage, int ndim,
                                const int64_t *shape, const int64_t *strides, int64_t offset,
                                int64_t numel)
{
    mt_tensor *t = mti_calloc(1, sizeof *t);
    if (!t) {
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a tensor object");
        return NULL;
    }
    atomic_init(&t->refcount, 1);
    atomic_init(&t->internal_refs, 0);
    t->storage = storage;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(t->strides, strides, (size_t)ndim * sizeof *strides);
    t->offset = offset;
    t->numel = numel;
    mti_count_tensor(1);
    return t;
}

mt_tensor *mti_tensor_empty(const char *fn, int ndim, const int64_t *shape)
{
    int64_t numel;
    if (mti_check_shape(fn, ndim, shape, &numel) != MT_OK) return NULL;
    mti_storage *storage = storage_new(numel);
    if (!storage) {
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %lld floats", (long long)numel);
        return NULL;
    }
    int64_t strides[MT_MAX_DIMS];
    mti_row_major_strides(ndim, shape, strides);
    mt_tensor *t = tensor_object(fn, storage, ndim, shape, strides, 0, numel);
    if (!t) storage_unref(storage);
    return t;
}

mt_tensor *mti_tensor_zeros(const char *fn, int ndim, const int64_t *shape)
{
    mt_tensor *t = mti_tensor_empty(fn, ndim, shape);
    if (t) {
        memset(t->storage->data, 0, (size_t)t->numel * sizeof(float));
        mti_observe_fill(t, 0.0f);
    }
    return t;
}

mt_tensor *mti_tensor_alias(const char *fn, const mt_tensor *base, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset)
{
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    atomic_fetch_add_explicit(&base->storage->refcount, 1, memory_order_relaxed);
    mt_tensor *t = tensor_object(fn, base->storage, ndim, shape, strides, offset, numel);
    if (!t) storage_unref(base->storage);
    return t;
}

mt_tensor *mti_ref(mt_tensor *t)
{
    if (t) atomic_fetch_add_explicit(&t->refcount, 1, memory_order_relaxed);
    return t;
}

mt_tensor *mti_hold(mt_tensor *t)
{
    if (t) {
        atomic_fetch_add_explicit(&t->refcount, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->internal_refs, 1, memory_order_relaxed);
    }
    return t;
}

float *mti_tensor_data(const mt_tensor *t) { return mti_data(t); }

void mti_bump_version(mt_tensor *t)
{
    if (t) atomic_fetch_add_explicit(&t->storage->version, 1, memory_order_relaxed);
}

uint64_t mti_version(const mt_tensor *t)
{
    return atomic_load_explicit(&t->storage->version, memory_order_relaxed);
}

mt_tensor *mti_tensor_grad(const mt_tensor *t) { return t->grad; }

void mti_adopt(mt_tensor *t)
{
    if (t) atomic_fetch_add_explicit(&t->internal_refs, 1, memory_order_relaxed);
}

void mti_disown(mt_tensor *t)
{
    if (t) atomic_fetch_sub_explicit(&t->internal_refs, 1, memory_order_relaxed);
}

bool mti_exclusive_dense(const mt_tensor *t)
{
    return atomic_load(&t->refcount) == 1 && atomic_load(&t->storage->refcount) == 1 &&
           t->offset == 0 && t->numel == t->storage->numel &&
           mti_is_contiguous_layout(t->ndim, t->shape, t->strides);
}

/* Drops one reference; true when it was the last. */
static bool drop(mt_tensor *t, bool held)
{
    if (held) atomic_fetch_sub_explicit(&t->internal_refs, 1, memory_order_relaxed);
    return atomic_fetch_sub_explicit(&t->refcount, 1, memory_order_acq_rel) == 1;
}

/* Frees `t` and everything only it kept alive. Iterative: releasing the end of a chain of 10^5
 * recorded operations must not recurse 10^5 deep. */
static void destroy(mt_tensor *t)
{
    mt_tensor *pending = t;
    t->free_next = NULL;
    while (pending) {
        mt_tensor *current = pending;
        pending = current->free_next;
        mt_tensor *held[MTI_NODE_MAX_INPUTS + MTI_NODE_MAX_SAVED + 1];
        int count = 0;
        if (current->grad) held[count++] = current->grad;
        mti_node *node = current->node;
        if (node) {
            for (int i = 0; i < node->input_count; i++) held[count++] = node->inputs[i];
            for (int i = 0; i < node->saved_count; i++) held[count++] = node->saved[i];
            mti_free(node->indices);
            mti_free(node);
        }
        for (int i = 0; i < count; i++) {
            if (held[i] && drop(held[i], true)) {
                held[i]->free_next = pending;
                pending = held[i];
            }
        }
        storage_unref(current->storage);
        mti_free(current);
        mti_count_tensor(-1);
    }
}

void mti_unref(mt_tensor *t)
{
    if (t && drop(t, false)) destroy(t);
}

void mti_unhold(mt_tensor *t)
{
    if (t && drop(t, true)) destroy(t);
}

mt_tensor *mt_retain(mt_tensor *t) { return mti_ref(t); }

mt_status mt_release(mt_tensor *t)
{
    if (!t) return MT_OK;
    int total = atomic_load(&t->refcount), internal = atomic_load(&t->internal_refs);
    if (total - internal <= 0)
        return mti_fail(MT_ERR_SCOPE, "mt_release",
                        "the caller holds no reference to this tensor (its references belong to "
                        "a scope or the autodiff graph; retain it first to own one)");
    mti_unref(t);
    return MT_OK;
}

/* ---- views for kernels ---- */

mti_strided mti_strided_of(const mt_tensor *t)
{
    mti_strided v;
    mti_observe_storage(MTI_EVENT_STORAGE_SEEN, t->storage);
    v.data = mti_data(t);
    v.ndim = t->ndim;
    memcpy(v.shape, t->shape, sizeof v.shape);
    memcpy(v.strides, t->strides, sizeof v.strides);
    return v;
}

mti_strided mti_strided_expanded(const mt_tensor *t, int ndim, const int64_t *shape)
{
    mti_strided v;
    mti_observe_storage(MTI_EVENT_STORAGE_SEEN, t->storage);
    v.data = mti_data(t);
    v.ndim = ndim;
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        v.shape[i] = shape[i];
        int j = i - lead;
        v.strides[i] = (j >= 0 && t->shape[j] == shape[i]) ? t->strides[j] : 0;
    }
    return v;
}

/* ---- inspection ---- */

int mt_ndim(const mt_tensor *t) { return t ? t->ndim : 0; }

int64_t mt_size(const mt_tensor *t, int dim)
{
    if (!t) return mti_fail_null("mt_size", "t"), -1;
    int d;
    if (mti_check_dim("mt_size", t->ndim, dim, &d) != MT_OK) return -1;
    return t->shape[d];
}

int64_t mt_stride(const mt_tensor *t, int dim)
{
    if (!t) return mti_fail_null("mt_stride", "t"), -1;
    int d;
    if (mti_check_dim("mt_stride", t->ndim, dim, &d) != MT_OK) return -1;
    return t->strides[d];
}

const int64_t *mt_shape(const mt_tensor *t) { return t ? t->shape : NULL; }
const int64_t *mt_strides(const mt_tensor *t) { return t ? t->strides : NULL; }
int64_t mt_offset(const mt_tensor *t) { return t ? t->offset : -1; }
int64_t mt_numel(const mt_tensor *t) { return t ? t->numel : 0; }

bool mt_is_contiguous(const mt_tensor *t)
{
    return t && mti_is_contiguous_layout(t->ndim, t->shape, t->strides);
}

bool mt_shares_storage(const mt_tensor *a, const mt_tensor *b)
{
    return a && b && a->storage == b->storage;
}

/* ---- elements ---- */

static mt_status element_position(const char *fn, const mt_tensor *t, const int64_t *index,
                                  int64_t *position)
{
    if (!t) return mti_fail_null(fn, "t");
    if (!index) return mti_fail_null(fn, "index");
    int64_t p = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (index[i] < 0 || index[i] >= t->shape[i]) {
            char text[MTI_SHAPE_TEXT];
            return mti_fail(MT_ERR_INDEX, fn, "index[%d] = %lld is out of range for shape %s", i,
                            (long long)index[i],
                            mti_format_shape(text, sizeof text, t->ndim, t->shape));
        }
        p += index[i] * t->strides[i];
    }
    *position = p;
    return MT_OK;
}

mt_status mt_get(const mt_tensor *t, const int64_t *index, float *value)
{
    if (!value) return mti_fail_null("mt_get", "value");
    int64_t p = 0;
    mt_status status = element_position("mt_get", t, index, &p);
    if (status == MT_OK) *value = t->storage->data[p];
    return status;
}

mt_status mt_set(mt_tensor *t, const int64_t *index, float value)
{
    int64_t p = 0;
    mt_status status = element_position("mt_set", t, index, &p);
    if (status != MT_OK) return status;
    for (int i = 0; i < t->ndim; i++)
        if (t->strides[i] == 0 && t->shape[i] > 1)
            return mti_fail(MT_ERR_INVALID_ARG, "mt_set",
                            "dim %d is expanded (stride 0): one write would change %lld elements",
                            i, (long long)t->shape[i]);
    if (t->requires_grad && !t->node && mt_grad_enabled())
        return mti_fail(MT_ERR_AUTODIFF, "mt_set",
                        "the tensor is a leaf that requires grad; writing into it would bypass "
                        "autodiff (use no-grad mode)");
    t->storage->data[p] = value;
    mti_observe_opaque("mt_set");
    mti_bump_version(t);
    return MT_OK;
}

float mt_item(const mt_tensor *t)
{
    if (!t) return mti_fail_null("mt_item", "t"), NAN;
    if (t->numel != 1) {
        mti_fail(MT_ERR_SHAPE, "mt_item", "tensor has %lld elements, not 1", (long long)t->numel);
        return NAN;
    }
    return t->storage->data[t->offset];
}

/* Appends one element to the buffer at *context. */
static void copy_out(float *element, float *unused, void *context)
{
    (void)unused;
    float **next = context;
    *(*next)++ = *element;
}

mt_status mt_copy_to(const mt_tensor *t, float *dst, int64_t capacity)
{
    static const char fn[] = "mt_copy_to";
    if (!t) return mti_fail_null(fn, "t");
    if (!dst) return mti_fail_null(fn, "dst");
    if (capacity < t->numel)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "capacity %lld is less than the %lld elements",
                        (long long)capacity, (long long)t->numel);
    const float *data = mti_data(t);
    if (mti_is_contiguous_layout(t->ndim, t->shape, t->strides)) {
        memcpy(dst, data, (size_t)t->numel * sizeof(float));
        return MT_OK;
    }
    float *next = dst;
    mti_walk_elements(t, NULL, copy_out, &next);
    return MT_OK;
}

void mti_walk_elements(const mt_tensor *t, const mt_tensor *u, mti_element_visit visit,
                       void *context)
{
    float *td = mti_data(t), *ud = u ? mti_data(u) : NULL;
    int64_t index[MT_MAX_DIMS] = {0}, tp = 0, up = 0;
    for (int64_t n = 0; n < t->numel; n++) {
        visit(td + tp, ud ? ud + up : NULL, context);
        for (int d = t->ndim - 1; d >= 0; d--) { /* odometer step */
            tp += t->strides[d];
            if (u) up += u->strides[d];
            if (++index[d] < t->shape[d]) break;
            tp -= index[d] * t->strides[d];
            if (u) up -= index[d] * u->strides[d];
            index[d] = 0;
        }
    }
}
