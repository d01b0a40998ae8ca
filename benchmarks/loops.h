/* minitorch-bench: the plain C loops the library is compared against.
 *
 * Written the way a user would write them: one OpenMP `parallel for simd` over the data on
 * `threads` threads, no tricks. Compiled with -fno-math-errno, so the sigmoid loop calls glibc's
 * vector expf (libmvec), as the library's kernels do. */
#ifndef BENCH_LOOPS_H
#define BENCH_LOOPS_H

#include <stdint.h>

void loop_copy(float *restrict out, const float *restrict a, int64_t n, int threads);
void loop_neg(float *restrict out, const float *restrict a, int64_t n, int threads);
/* The same stable formula as the library: e = exp(-|x|); x >= 0 ? 1/(1+e) : e/(1+e). */
void loop_sigmoid(float *restrict out, const float *restrict a, int64_t n, int threads);
/* tanhf(x), and GELU's tanh form 0.5 x (1 + tanhf(sqrt(2/pi) (x + 0.044715 x^3))) as PyTorch
 * writes it; scalar tanhf (loops.c) or libmvec's vector tanhf (loops_libmvec.c). */
void loop_tanh(float *restrict out, const float *restrict a, int64_t n, int threads);
void loop_gelu(float *restrict out, const float *restrict a, int64_t n, int threads);
void loop_tanh_libmvec(float *restrict out, const float *restrict a, int64_t n, int threads);
void loop_gelu_libmvec(float *restrict out, const float *restrict a, int64_t n, int threads);
void loop_add(float *restrict out, const float *restrict a, const float *restrict b, int64_t n,
              int threads);
void loop_mul(float *restrict out, const float *restrict a, const float *restrict b, int64_t n,
              int threads);

/* out[i][j] = a[i][j] + row[j]  (a rows x cols, row cols) */
void loop_add_row(float *restrict out, const float *restrict a, const float *restrict row,
                  int64_t rows, int64_t cols, int threads);
/* out[i][j] = a[i][j] + col[i]  (col rows) */
void loop_add_col(float *restrict out, const float *restrict a, const float *restrict col,
                  int64_t rows, int64_t cols, int threads);
/* out[i][j] = at[j][i] + b[i][j] for n x n matrices, in 32x32 tiles so both reads stay in cache. */
void loop_add_transposed(float *restrict out, const float *restrict at, const float *restrict b,
                         int64_t n, int threads);
/* The same without tiles: the column reads of `at` miss the cache. */
void loop_add_transposed_untiled(float *restrict out, const float *restrict at,
                                 const float *restrict b, int64_t n, int threads);

/* out[i] = sum of row i of a (rows x cols), one `omp simd reduction` per row. */
void loop_sum_rows(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                   int threads);

/* out[o][i] = sum over l of a[o][l][i] for a (outer, len, inner): a sum over a dim that is not
 * the last. Blocks of 256 outputs accumulate together so the reads of `a` stay in order. */
void loop_sum_inner(float *restrict out, const float *restrict a, int64_t outer, int64_t len,
                    int64_t inner, int threads);

/* out row i = table row index[i] (rows of `cols` floats): one memcpy per row, rows split over
 * `threads` threads. */
void loop_gather_rows(float *restrict out, const float *restrict table, const int64_t *index,
                      int64_t n, int64_t cols, int threads);

/* The small chain s = sigmoid(x w + b) for x (rows, 2), w (2, cols), b (cols), with the gradients
 * a ones gradient from above gives: dw = x^T (s (1 - s)) (2, cols), db = column sums of s (1 - s).
 * One thread (it is tiny); vectorized over the columns. */
void loop_chain_sigmoid(float *restrict s, float *restrict dw, float *restrict db,
                        const float *restrict x, const float *restrict w, const float *restrict b,
                        int64_t rows, int64_t cols);

/* Softmax (log_form 0) or log_softmax (1) of each row of a (rows x cols), the usual three passes
 * per row: max, sum of exp(x - max) (softmax stores the exps), then scale (or subtract). */
void loop_softmax_rows(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                       int log_form, int threads);
/* The same down each column (softmax over dim 0): blocks of 256 columns advance row by row, so
 * the reads stay in order, with the three passes over the block. */
void loop_softmax_cols(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                       int log_form, int threads);
/* out[i] = max + log(sum of exp(x - max)) over row i. */
void loop_logsumexp_rows(float *restrict out, const float *restrict a, int64_t rows, int64_t cols,
                         int threads);

#endif
