/* Iteration layout shared by the elementwise kernels.
 *
 * Operands (output first) are brought to a canonical form: dims ordered by the output's strides,
 * size-1 dims dropped, and neighbouring dims merged wherever every operand is contiguous across
 * them. Identically laid-out operands (MiniTorch's "stride-aligned" case) become one flat dim.
 * The work is then cut into items: a row of the innermost dim, split into segments of at most
 * `segment` elements (MTI_SEGMENT for the elementwise kernels). Items depend only on the shapes, never on the thread count, so each
 * element is computed by the same instructions however many threads run (bitwise determinism). */
#ifndef MTI_KERNELS_LAYOUT_H
#define MTI_KERNELS_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor_impl.h"

#define MTI_SEGMENT 16384
#define MTI_MAX_OPERANDS 4 /* output and up to three inputs */

typedef struct mti_layout {
    int count; /* operands, output first */
    int ndim;  /* dims after merging (>= 1) */
    int64_t shape[MT_MAX_DIMS];
    int64_t strides[MTI_MAX_OPERANDS][MT_MAX_DIMS];
    float *base[MTI_MAX_OPERANDS];
    int64_t inner;    /* shape[ndim - 1] */
    int64_t segment;  /* elements per item at most */
    int64_t segments; /* segments per row */
    int64_t items;    /* rows * segments */
    bool broadcast;   /* an input has a zero stride */
} mti_layout;

/* Position of one item: its row's outer index and per-operand pointers to its first element. */
typedef struct mti_cursor {
    int64_t index[MT_MAX_DIMS];
    int64_t row_offset[MTI_MAX_OPERANDS];
    int64_t segment;
} mti_cursor;

void mti_layout_init(mti_layout *l, int count, const mti_strided *const *views, int64_t segment);

/* Places the cursor on item number `item` (divisions: once per thread). */
void mti_cursor_seek(const mti_layout *l, mti_cursor *c, int64_t item);

/* Moves to the next item (odometer step, no division). */
static inline void mti_cursor_next(const mti_layout *l, mti_cursor *c)
{
    if (++c->segment < l->segments) return;
    c->segment = 0;
    for (int d = l->ndim - 2; d >= 0; d--) {
        for (int k = 0; k < l->count; k++) c->row_offset[k] += l->strides[k][d];
        if (++c->index[d] < l->shape[d]) return;
        for (int k = 0; k < l->count; k++) c->row_offset[k] -= c->index[d] * l->strides[k][d];
        c->index[d] = 0;
    }
}

/* The current item's first element of operand k, and its length. */
static inline float *mti_cursor_ptr(const mti_layout *l, const mti_cursor *c, int k)
{
    return l->base[k] + c->row_offset[k] + c->segment * l->segment * l->strides[k][l->ndim - 1];
}

static inline int64_t mti_cursor_length(const mti_layout *l, const mti_cursor *c)
{
    int64_t left = l->inner - c->segment * l->segment;
    return left < l->segment ? left : l->segment;
}

#endif
