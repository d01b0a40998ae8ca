/* minitorch-bench: the tanh and GELU loops of loops.c with glibc's vector tanhf (libmvec,
 * glibc >= 2.35) declared, as -ffast-math would: what a plain loop reaches when vector and scalar
 * results may differ. Its own file, so the declaration does not reach loops.c. */
#include "loops.h"

#include <math.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
__attribute__((simd("notinbranch"))) float tanhf(float);
#endif

void loop_tanh_libmvec(float *restrict out, const float *restrict a, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(a[i]);
}

void loop_gelu_libmvec(float *restrict out, const float *restrict a, int64_t n, int threads)
{
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) {
        float x = a[i];
        float inner = 0.7978845608f * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(inner));
    }
}
