/* minitorch-bench: the fusion suite's hand-written baselines (see loops_fused.h). */
#include "loops_fused.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* glibc declares its vector expf (libmvec) only under -ffast-math; as in loops.c, this lets GCC
 * call it from the `omp simd` loops (with -fno-math-errno). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
__attribute__((simd("notinbranch"))) float expf(float);
#endif

/* e = exp(-|v|), r = 1 / (1 + e), v >= 0 ? r : e r: the library's stable sigmoid. */
static inline float stable_sigmoid(float v)
{
    const float e = expf(-fabsf(v)), r = 1.0f / (1.0f + e);
    return v >= 0.0f ? r : e * r;
}

void fused_sigmoid_mul_add(float *restrict out, const float *restrict x, const float *restrict y,
                           const float *restrict z, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = stable_sigmoid(x[i]) * y[i] + z[i];
}

void fused_gelu_mul(float *restrict out, const float *restrict x, const float *restrict y,
                    int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i], two_u = 2.0f * 0.7978845608028654f * (v + 0.044715f * v * v * v);
        out[i] = v * stable_sigmoid(two_u) * y[i];
    }
}

void fused_normalize(float *restrict out, const float *restrict x, const float *restrict mean,
                     const float *restrict var, float eps, int64_t rows, int64_t cols, int threads)
{
#pragma omp parallel for num_threads(threads)
    for (int64_t r = 0; r < rows; r++) {
        const float m = mean[r], scale = 1.0f / sqrtf(var[r] + eps);
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) out[r * cols + c] = (x[r * cols + c] - m) * scale;
    }
}

/* ---- the hand-written training step ---- */

static float *floats(int64_t n) { return calloc((size_t)n, sizeof(float)); }

bool hand_mlp_init(hand_mlp *m, int64_t batch, int64_t in, int64_t hidden, uint64_t seed)
{
    const int64_t h = hidden;
    *m = (hand_mlp){.batch = batch, .in = in, .hidden = h};
    float **all[] = {&m->w1, &m->b1, &m->w2, &m->b2, &m->w3, &m->b3, &m->g1, &m->gb1, &m->g2,
                     &m->gb2, &m->g3, &m->gb3, &m->h1, &m->h2, &m->p, &m->d1, &m->d2, &m->d3};
    const int64_t sizes[] = {in * h, h, h * h, h, h, 1, in * h, h, h * h, h, h, 1,
                             batch * h, batch * h, batch, batch * h, batch * h, batch};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        if (!(*all[k] = floats(sizes[k]))) {
            hand_mlp_free(m);
            return false;
        }
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    float *weights[] = {m->w1, m->w2, m->w3};
    const int64_t counts[] = {in * h, h * h, h};
    for (int w = 0; w < 3; w++)
        for (int64_t i = 0; i < counts[w]; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            weights[w][i] = (float)(state >> 40) / (float)(1 << 24) - 0.5f;
        }
    for (int64_t j = 0; j < h; j++) m->b1[j] = m->b2[j] = 0.1f;
    m->b3[0] = 0.1f;
    return true;
}

void hand_mlp_free(hand_mlp *m)
{
    float *all[] = {m->w1, m->b1, m->w2, m->b2, m->w3, m->b3, m->g1, m->gb1, m->g2,
                    m->gb2, m->g3, m->gb3, m->h1, m->h2, m->p, m->d1, m->d2, m->d3};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
    *m = (hand_mlp){0};
}

/* c (rows, cols) = each row `bias`, then c += a b by sgemm (beta 1); with relu, c = max(c, 0). */
static void linear(float *c, const float *a, const float *w, const float *bias, int64_t rows,
                   int64_t k, int64_t cols, bool relu, bool sgemm_only)
{
    if (!sgemm_only)
        for (int64_t r = 0; r < rows; r++) memcpy(c + r * cols, bias, sizeof(float) * (size_t)cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, (int)k, 1.0f, a,
                (int)k, w, (int)cols, 1.0f, c, (int)cols);
    if (relu && !sgemm_only) {
        const int64_t n = rows * cols;
#pragma omp parallel for simd if (n >= 65536)
        for (int64_t i = 0; i < n; i++) c[i] = c[i] > 0.0f ? c[i] : 0.0f;
    }
}

/* The weight gradient g (k, cols) = a^T (rows, k)^T d (rows, cols), the bias gradient the column
 * sums of d, the gradient into the layer's input dx = (d w^T) masked by relu (dx NULL: none). */
static void linear_back(float *g, float *gb, float *dx, const float *a, const float *w,
                        const float *d, const float *activation, int64_t rows, int64_t k,
                        int64_t cols, bool sgemm_only)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)cols, (int)rows, 1.0f, a,
                (int)k, d, (int)cols, 0.0f, g, (int)cols);
    if (!sgemm_only) {
        for (int64_t j = 0; j < cols; j++) gb[j] = 0.0f;
        for (int64_t r = 0; r < rows; r++)
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) gb[j] += d[r * cols + j];
    }
    if (!dx) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)k, (int)cols, 1.0f, d,
                (int)cols, w, (int)cols, 0.0f, dx, (int)k);
    if (!sgemm_only) {
        const int64_t n = rows * k;
#pragma omp parallel for simd if (n >= 65536)
        for (int64_t i = 0; i < n; i++) dx[i] = activation[i] > 0.0f ? dx[i] : 0.0f;
    }
}

static void sgd(float *w, const float *g, int64_t n, float rate)
{
#pragma omp parallel for simd if (n >= 65536)
    for (int64_t i = 0; i < n; i++) w[i] -= rate * g[i];
}

float hand_mlp_step(hand_mlp *m, const float *x, const float *y, float rate, bool sgemm_only)
{
    const int64_t b = m->batch, in = m->in, h = m->hidden;
    linear(m->h1, x, m->w1, m->b1, b, in, h, true, sgemm_only);
    linear(m->h2, m->h1, m->w2, m->b2, b, h, h, true, sgemm_only);
    linear(m->p, m->h2, m->w3, m->b3, b, h, 1, false, sgemm_only);
    /* loss = -mean(log(p_true + 1e-7)), p_true = p y + (1 - p)(1 - y); d3 = dloss/dz */
    double loss = 0.0;
    if (!sgemm_only)
        for (int64_t i = 0; i < b; i++) {
            const float p = stable_sigmoid(m->p[i]);
            const float p_true = p * y[i] + (1.0f - p) * (1.0f - y[i]);
            loss -= log((double)p_true + 1e-7);
            const float dp = -(2.0f * y[i] - 1.0f) / ((float)b * (p_true + 1e-7f));
            m->d3[i] = dp * p * (1.0f - p);
        }
    linear_back(m->g3, m->gb3, m->d2, m->h2, m->w3, m->d3, m->h2, b, h, 1, sgemm_only);
    linear_back(m->g2, m->gb2, m->d1, m->h1, m->w2, m->d2, m->h1, b, h, h, sgemm_only);
    linear_back(m->g1, m->gb1, NULL, x, m->w1, m->d1, NULL, b, in, h, sgemm_only);
    if (!sgemm_only) {
        sgd(m->w1, m->g1, in * h, rate), sgd(m->b1, m->gb1, h, rate);
        sgd(m->w2, m->g2, h * h, rate), sgd(m->b2, m->gb2, h, rate);
        sgd(m->w3, m->g3, h, rate), sgd(m->b3, m->gb3, 1, rate);
    }
    return (float)(loss / (double)b);
}
