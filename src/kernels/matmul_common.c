#include "kernels/matmul_common.h"

#include "kernels/kernels.h"

static mti_strided transposed(const mti_strided *v, bool transpose)
{
    mti_strided t = *v;
    if (transpose) {
        int r = v->ndim - 2, c = v->ndim - 1;
        t.shape[r] = v->shape[c];
        t.shape[c] = v->shape[r];
        t.strides[r] = v->strides[c];
        t.strides[c] = v->strides[r];
    }
    return t;
}

void mti_matmul_plan_init(mti_matmul_plan *p, const mti_strided *out, const mti_strided *a,
                          const mti_strided *b, const mti_strided *bias, bool trans_a,
                          bool trans_b)
{
    p->a = transposed(a, trans_a);
    p->b = transposed(b, trans_b);
    p->out = *out;
    p->has_bias = bias != NULL;
    if (bias) p->bias = *bias;
    int nd = out->ndim;
    p->batch_ndim = nd - 2;
    p->n = p->a.shape[nd - 2];
    p->k = p->a.shape[nd - 1];
    p->m = p->b.shape[nd - 1];
    p->out_batches = p->sum_batches = 1;
    p->kept_count = p->summed_count = 0;
    for (int d = 0; d < nd - 2; d++) {
        if (out->shape[d] == 1) continue;
        if (out->strides[d] == 0) {
            p->summed_dims[p->summed_count++] = d;
            p->sum_batches *= out->shape[d];
        } else {
            p->kept_dims[p->kept_count++] = d;
            p->out_batches *= out->shape[d];
        }
    }
}

static void add_offsets(const mti_matmul_plan *p, const int *dims, int count, int64_t index,
                        mti_batch_offsets *o)
{
    for (int i = count - 1; i >= 0; i--) {
        int d = dims[i];
        int64_t size = p->out.shape[d], at = index % size;
        index /= size;
        o->a += at * p->a.strides[d];
        o->b += at * p->b.strides[d];
        o->out += at * p->out.strides[d];
        if (p->has_bias) o->bias += at * p->bias.strides[d];
    }
}

mti_batch_offsets mti_matmul_offsets(const mti_matmul_plan *p, int64_t ob, int64_t sb)
{
    mti_batch_offsets o = {0, 0, 0, 0};
    add_offsets(p, p->kept_dims, p->kept_count, ob, &o);
    add_offsets(p, p->summed_dims, p->summed_count, sb, &o);
    return o;
}

void mti_matmul_epilogue_rows(const mti_matmul_epilogue *e, const mti_matmul_plan *p,
                              const float *first, int64_t rows, int64_t cols, int64_t row_step,
                              int64_t col_step)
{
    if (!e) return;
    for (int64_t i = 0; i < rows; i++) {
        const float *row = first + i * row_step;
        mti_naive_map_row(e->op, e->params, e->out + (row - p->out.data), col_step, row, col_step, cols);
    }
}
