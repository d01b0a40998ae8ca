/* sgemm's leading dimensions are ints. An operand whose row (or column) stride exceeds INT_MAX
 * cannot be described to sgemm: cast to int it would be negative (OpenBLAS prints "parameter
 * number 10 had an illegal value" and returns, leaving the output untouched, while the call
 * reports success) or wrap to a small value (sgemm silently reads the wrong elements). Such an
 * operand must be copied instead.
 *
 * No public view reaches sgemm with such a stride without at least 8 GiB of storage behind it (a
 * stride above INT_MAX on a dim of size >= 2 needs that many floats; size-1 dims do not matter to
 * sgemm and expanded dims have stride 0, which is copied anyway), so this suite checks the
 * decision itself, kernels/blas_form.h, which the blas matmul uses for every operand and for
 * the output. Oracle: the rules written out by hand for each case. */
#include "testing.h"

#include <limits.h>

#include "kernels/blas_form.h"

static void expect_form(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool copied,
                        bool transposed, int64_t ld)
{
    mti_blas_form f = mti_blas_form_of(rows, cols, rs, cs);
    cr_expect_eq(f.copied, copied, "%lld x %lld, strides (%lld, %lld): copied %d, expected %d",
                 (long long)rows, (long long)cols, (long long)rs, (long long)cs, f.copied, copied);
    if (!copied) {
        cr_expect_eq(f.transposed, transposed, "%lld x %lld, strides (%lld, %lld): transposed %d",
                     (long long)rows, (long long)cols, (long long)rs, (long long)cs, f.transposed);
        cr_expect_eq(f.ld, ld, "%lld x %lld, strides (%lld, %lld): ld %lld, expected %lld",
                     (long long)rows, (long long)cols, (long long)rs, (long long)cs, (long long)f.ld,
                     (long long)ld);
    } else {
        cr_expect_eq(f.ld, cols, "a copied operand is row-major: ld = cols");
    }
    cr_expect(f.ld >= 1 && f.ld <= INT_MAX, "ld %lld does not fit sgemm's int", (long long)f.ld);
}

Test(blas_form, ordinary_operands_are_read_in_place)
{
    expect_form(3, 4, 4, 1, false, false, 4);      /* row-major */
    expect_form(3, 4, 10, 1, false, false, 10);    /* a narrowed row-major view */
    expect_form(3, 4, 1, 3, false, true, 3);       /* a transposed view */
    expect_form(3, 4, 1, 7, false, true, 7);       /* transposed, narrowed */
    expect_form(1, 4, 99, 1, false, false, 4);     /* one row: its stride does not matter */
    expect_form(3, 1, 1, 99, false, false, 1);     /* one column, contiguous */
    expect_form(3, 4, 0, 1, true, false, 4);       /* an expanded dim (stride 0): copied */
    expect_form(3, 4, 2, 2, true, false, 4);       /* neither dim contiguous: copied */
}

Test(blas_form, leading_dimensions_above_INT_MAX_are_copied)
{
    const int64_t big = (int64_t)INT_MAX + 1, wrap = ((int64_t)1 << 32) + 4;
    expect_form(2, 4, big, 1, true, false, 4);       /* row stride 2^31: would be negative */
    expect_form(2, 4, wrap, 1, true, false, 4);      /* 2^32 + 4: would wrap to 4 */
    expect_form(4, 2, 1, big, true, false, 2);       /* transposed, column stride 2^31 */
    expect_form(4, 2, 1, wrap, true, false, 2);
    expect_form(3, 1, big, 1, true, false, 1);       /* one column, rows 2^31 apart */
    expect_form(1, 3, 1, big, true, false, 3);       /* one row, columns 2^31 apart */
    expect_form(2, 4, INT_MAX, 1, false, false, INT_MAX); /* the largest ld sgemm takes */
    expect_form(1, 4, big, 1, false, false, 4);      /* one row: the row stride is not used */
}
