/* minitorch-bench: hand-fused C loops and a hand-written training step, the baselines of the
 * fusion suite.
 *
 * The chains are one `omp parallel for simd` each, compiled with -fno-math-errno so expf is
 * glibc's vector expf (libmvec), with the library's own formulas (the stable sigmoid, GELU as
 * x sigmoid(2u)) so both sides compute the same function. */
#ifndef BENCH_LOOPS_FUSED_H
#define BENCH_LOOPS_FUSED_H

#include <stdbool.h>
#include <stdint.h>

/* out = sigmoid(x) * y + z */
void fused_sigmoid_mul_add(float *restrict out, const float *restrict x, const float *restrict y,
                           const float *restrict z, int64_t n, int threads);
/* out = gelu(x) * y */
void fused_gelu_mul(float *restrict out, const float *restrict x, const float *restrict y,
                    int64_t n, int threads);
/* out[r][c] = (x[r][c] - mean[r]) * (1 / sqrtf(var[r] + eps)) */
void fused_normalize(float *restrict out, const float *restrict x, const float *restrict mean,
                     const float *restrict var, float eps, int64_t rows, int64_t cols, int threads);

/* The Task 3.5 network (in -> hidden -> hidden -> 1, ReLU, ReLU, sigmoid, the clamped NLL loss,
 * SGD) written by hand: every product one cblas_sgemm (bias rows copied into the output first,
 * beta = 1), every elementwise step one loop, all buffers allocated once. Weights are (in, out)
 * row-major as the library's linear layers keep them. */
typedef struct hand_mlp {
    int64_t batch, in, hidden;
    float *w1, *b1, *w2, *b2, *w3, *b3;     /* parameters */
    float *g1, *gb1, *g2, *gb2, *g3, *gb3;  /* their gradients */
    float *h1, *h2, *p, *d1, *d2, *d3;      /* activations and the gradients flowing back */
} hand_mlp;

/* Returns false when out of memory. Weights uniform in [-0.5, 0.5), biases 0.1. */
bool hand_mlp_init(hand_mlp *m, int64_t batch, int64_t in, int64_t hidden, uint64_t seed);
void hand_mlp_free(hand_mlp *m);
/* One SGD step on (x (batch, in), y (batch)); with sgemm_only, just its eight cblas_sgemm calls
 * (the floor any implementation of the step pays on the blas backend). Returns the loss. */
float hand_mlp_step(hand_mlp *m, const float *x, const float *y, float rate, bool sgemm_only);

#endif
