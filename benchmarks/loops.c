/* minitorch-bench: the plain C baseline loops (see loops.h). */
#include "loops.h"

#include <math.h>
#include <string.h>

/* glibc has vector versions of expf (libmvec) but declares them only under -ffast-math; this
 * declaration lets GCC call them from the `omp simd` loop below (needs -fno-math-errno). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
__attribute__((simd("notinbranch"))) float expf(float);
#endif

void loop_copy(float *restrict out, const float *restrict a, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = a[i];
}

void loop_neg(float *restrict out, const float *restrict a, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = -a[i];
}

void loop_sigmoid(float *restrict out, const float *restrict a, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) {
        float x = a[i];
        float e = expf(-fabsf(x));
        float r = 1.0f / (1.0f + e);
        out[i] = x >= 0.0f ? r : e * r;
    }
}

void loop_add(float *restrict out, const float *restrict a, const float *restrict b, int64_t n,
              int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void loop_mul(float *restrict out, const float *restrict a, const float *restrict b, int64_t n,
              int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

void loop_add_row(float *restrict out, const float *restrict a, const float *restrict row,
                  int64_t rows, int64_t cols, int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < rows; i++) {
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) out[i * cols + j] = a[i * cols + j] + row[j];
    }
}

void loop_add_col(float *restrict out, const float *restrict a, const float *restrict col,
                  int64_t rows, int64_t cols, int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < rows; i++) {
        const float c = col[i];
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) out[i * cols + j] = a[i * cols + j] + c;
    }
}

enum { TILE = 32 };

void loop_add_transposed(float *restrict out, const float *restrict at, const float *restrict b,
                         int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i0 = 0; i0 < n; i0 += TILE) {
        const int64_t i1 = i0 + TILE < n ? i0 + TILE : n;
        for (int64_t j0 = 0; j0 < n; j0 += TILE) {
            const int64_t j1 = j0 + TILE < n ? j0 + TILE : n;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) out[i * n + j] = at[j * n + i] + b[i * n + j];
        }
    }
}

void loop_add_transposed_untiled(float *restrict out, const float *restrict at,
                                 const float *restrict b, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) out[i * n + j] = at[j * n + i] + b[i * n + j];
}

void loop_sum_rows(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                   int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < rows; i++) {
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) s += a[i * cols + j];
        out[i] = s;
    }
}

void loop_sum_inner(float *restrict out, const float *restrict a, int64_t outer, int64_t len,
                    int64_t inner, int threads)
{
    enum { BLOCK = 256 };
    const int64_t blocks = (inner + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(threads) collapse(2)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t blk = 0; blk < blocks; blk++) {
            const int64_t j0 = blk * BLOCK, j1 = j0 + BLOCK < inner ? j0 + BLOCK : inner;
            float *restrict row = out + o * inner;
            for (int64_t j = j0; j < j1; j++) row[j] = 0.0f;
            for (int64_t l = 0; l < len; l++) {
                const float *restrict in = a + (o * len + l) * inner;
#pragma omp simd
                for (int64_t j = j0; j < j1; j++) row[j] += in[j];
            }
        }
}

void loop_chain_sigmoid(float *restrict s, float *restrict dw, float *restrict db,
                        const float *restrict x, const float *restrict w, const float *restrict b,
                        int64_t rows, int64_t cols)
{
    for (int64_t j = 0; j < cols; j++) dw[j] = dw[cols + j] = db[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        float *restrict srow = s + i * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) {
            float z = x0 * w[j] + x1 * w[cols + j] + b[j];
            float e = expf(-fabsf(z));
            float r = 1.0f / (1.0f + e);
            float v = z >= 0.0f ? r : e * r;
            float dz = v * (1.0f - v);
            srow[j] = v;
            dw[j] += x0 * dz;
            dw[cols + j] += x1 * dz;
            db[j] += dz;
        }
    }
}

void loop_gather_rows(float *restrict out, const float *restrict table, const int64_t *index,
                      int64_t n, int64_t cols, int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * cols, table + index[i] * cols, (size_t)cols * sizeof(float));
}

/* ---- functions of whole rows / columns: the usual three passes (max, sum of exp, write) ---- */

void loop_softmax_rows(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                       int log_form, int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < rows; i++) {
        const float *restrict x = a + i * cols;
        float *restrict y = out + i * cols;
        float m = -INFINITY, s = 0.0f;
#pragma omp simd reduction(max : m)
        for (int64_t j = 0; j < cols; j++) m = x[j] > m ? x[j] : m;
        if (log_form) {
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < cols; j++) s += expf(x[j] - m);
            const float shift = m + logf(s);
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) y[j] = x[j] - shift;
        } else {
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < cols; j++) {
                y[j] = expf(x[j] - m);
                s += y[j];
            }
            const float inv = 1.0f / s;
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) y[j] *= inv;
        }
    }
}

void loop_softmax_cols(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                       int log_form, int threads)
{
    enum { BLOCK = 256 };
    const int64_t blocks = (cols + BLOCK - 1) / BLOCK;
#pragma omp parallel for num_threads(threads)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t j0 = blk * BLOCK, w = j0 + BLOCK < cols ? BLOCK : cols - j0;
        float m[BLOCK], s[BLOCK];
        for (int64_t k = 0; k < w; k++) m[k] = -INFINITY, s[k] = 0.0f;
        for (int64_t i = 0; i < rows; i++) {
            const float *restrict x = a + i * cols + j0;
#pragma omp simd
            for (int64_t k = 0; k < w; k++) m[k] = x[k] > m[k] ? x[k] : m[k];
        }
        for (int64_t i = 0; i < rows; i++) {
            const float *restrict x = a + i * cols + j0;
            float *restrict y = out + i * cols + j0;
            if (log_form) {
#pragma omp simd
                for (int64_t k = 0; k < w; k++) s[k] += expf(x[k] - m[k]);
            } else {
#pragma omp simd
                for (int64_t k = 0; k < w; k++) {
                    y[k] = expf(x[k] - m[k]);
                    s[k] += y[k];
                }
            }
        }
        for (int64_t k = 0; k < w; k++) s[k] = log_form ? m[k] + logf(s[k]) : 1.0f / s[k];
        for (int64_t i = 0; i < rows; i++) {
            const float *restrict x = a + i * cols + j0;
            float *restrict y = out + i * cols + j0;
            if (log_form) {
#pragma omp simd
                for (int64_t k = 0; k < w; k++) y[k] = x[k] - s[k];
            } else {
#pragma omp simd
                for (int64_t k = 0; k < w; k++) y[k] *= s[k];
            }
        }
    }
}

void loop_logsumexp_rows(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                         int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < rows; i++) {
        const float *restrict x = a + i * cols;
        float m = -INFINITY, s = 0.0f;
#pragma omp simd reduction(max : m)
        for (int64_t j = 0; j < cols; j++) m = x[j] > m ? x[j] : m;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) s += expf(x[j] - m);
        out[i] = m + logf(s);
    }
}

/* tanhf has no vector declaration here (as in the library), so these loops call the scalar
 * function; loops_libmvec.c has the same loops on libmvec's vector tanhf. */
void loop_tanh(float *restrict out, const float *restrict a, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(a[i]);
}

void loop_gelu(float *restrict out, const float *restrict a, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) {
        float x = a[i];
        float inner = 0.7978845608f * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(inner));
    }
}
