#include "kernels/layout.h"

void mti_layout_init(mti_layout *l, int count, const mti_strided *const *views, int64_t segment)
{
    const mti_strided *out = views[0];
    l->count = count;
    l->broadcast = false;
    for (int k = 0; k < count; k++) l->base[k] = views[k]->data;

    /* Order dims by the output's strides, largest first (stable), skipping size-1 dims. */
    int order[MT_MAX_DIMS], n = 0;
    for (int d = 0; d < out->ndim; d++)
        if (out->shape[d] > 1) order[n++] = d;
    for (int i = 1; i < n; i++) {
        int d = order[i], j = i;
        while (j > 0 && out->strides[order[j - 1]] < out->strides[d]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = d;
    }

    /* Merge dim i into the previous one when every operand steps contiguously across both. */
    int ndim = 0;
    for (int i = 0; i < n; i++) {
        int d = order[i];
        bool merge = ndim > 0;
        for (int k = 0; k < count && merge; k++)
            merge = l->strides[k][ndim - 1] == views[k]->strides[d] * out->shape[d];
        if (merge) {
            l->shape[ndim - 1] *= out->shape[d];
            for (int k = 0; k < count; k++) l->strides[k][ndim - 1] = views[k]->strides[d];
        } else {
            l->shape[ndim] = out->shape[d];
            for (int k = 0; k < count; k++) l->strides[k][ndim] = views[k]->strides[d];
            ndim++;
        }
    }
    if (ndim == 0) { /* a single element */
        l->shape[0] = 1;
        for (int k = 0; k < count; k++) l->strides[k][0] = 1;
        ndim = 1;
    }
    for (int k = 1; k < count; k++)
        for (int d = 0; d < ndim; d++)
            if (l->strides[k][d] == 0) l->broadcast = true;

    l->ndim = ndim;
    l->inner = l->shape[ndim - 1];
    l->segment = segment;
    l->segments = (l->inner + segment - 1) / segment;
    int64_t rows = 1;
    for (int d = 0; d < ndim - 1; d++) rows *= l->shape[d];
    l->items = rows * l->segments;
}

void mti_cursor_seek(const mti_layout *l, mti_cursor *c, int64_t item)
{
    c->segment = item % l->segments;
    int64_t row = item / l->segments;
    for (int k = 0; k < l->count; k++) c->row_offset[k] = 0;
    for (int d = l->ndim - 2; d >= 0; d--) {
        c->index[d] = row % l->shape[d];
        row /= l->shape[d];
        for (int k = 0; k < l->count; k++) c->row_offset[k] += c->index[d] * l->strides[k][d];
    }
}
