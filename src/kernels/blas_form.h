/* How cblas_sgemm reads one strided matrix operand: the decision, kept apart from the calls so it
 * can be checked on its own (sgemm takes int sizes and leading dimensions). */
#ifndef MTI_KERNELS_BLAS_FORM_H
#define MTI_KERNELS_BLAS_FORM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

/* copied: sgemm cannot read the operand in place; it is gathered into a row-major rows x cols
 * scratch matrix (ld = cols). Else transposed says which sgemm transpose flag reads it, with
 * leading dimension ld. */
typedef struct mti_blas_form {
    bool copied, transposed;
    int64_t ld;
} mti_blas_form;

/* The form of a rows x cols matrix with strides (rs, cs): read in place when one dim is
 * contiguous and the other's stride is a valid leading dimension (at least the contiguous dim's
 * size, at most INT_MAX), else copied. */
static inline mti_blas_form mti_blas_form_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    mti_blas_form f = {true, false, cols > 1 ? cols : 1};
    if ((cols == 1 || cs == 1) && (rows == 1 || rs >= (cols > 1 ? cols : 1))) {
        f = (mti_blas_form){false, false, rows == 1 ? (cols > 1 ? cols : 1) : rs};
    } else if ((rows == 1 || rs == 1) && (cols == 1 || cs >= (rows > 1 ? rows : 1))) {
        f = (mti_blas_form){false, true, cols == 1 ? (rows > 1 ? rows : 1) : cs};
    }
    /* sgemm's leading dimensions are ints: a larger one cannot be passed (cast, it would be
     * negative or wrap to a wrong stride), so such an operand is copied */
    if (f.ld > INT_MAX) f = (mti_blas_form){true, false, cols > 1 ? cols : 1};
    return f;
}

#endif
