/* Matrix multiply: mt_matmul, mt_matmul_out, mt_linear and the matmul gradients, on both backends.
 *
 * Expected values come from the oracle below (a triple loop in double with its own batch
 * broadcasting), never from the library — except the MiniTorch cross-checks (mm2, bmm), which
 * compare two library paths as MiniTorch's own tests do, and the naive-vs-blas agreement test.
 *
 * Tolerances. Inputs are floats in [-1, 1); the oracle sums exact float products in double, so
 * its error is negligible. A float32 result summing k products (in any order, with or without
 * FMA) is within a few k * 2^-24 * sum|a||b| of the exact value; typical errors grow like
 * sqrt(k) ulps of the partial sums. We allow
 *     |got - want| <= MM_ATOL(k) + MM_RTOL(k) * |want|,  MM_ATOL(k) = 2e-6 * k,
 *                                                        MM_RTOL(k) = 1e-5 * sqrt(k),
 * about 50x the typical error for k = 257 and still ~1000x below any indexing mistake (an
 * element off by one product is off by ~0.25 on average). Naive vs blas agree within twice that
 * (each is within the bound of the exact value). Gradients sum over the batch too: k there is
 * the number of products summed into one element. */
#include "testing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define MM_ATOL(k) (2e-6 * (double)(k))
#define MM_RTOL(k) (1e-5 * sqrt((double)(k)))

/* ------------------------------------------------------------------------------------------ */
/* The oracle: thread-safe (no Criterion asserts), plain loops in double.                      */

/* The result's batch shape under right-aligned broadcasting (missing and size-1 dims repeat);
 * false when the batch dims do not broadcast. */
static bool mm_batch_shape(int na, const int64_t *sa, int nb, const int64_t *sb, int *bd,
                           int64_t *bshape)
{
    int ba = na - 2, bb = nb - 2, n = ba > bb ? ba : bb;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - ba), ib = i - (n - bb);
        int64_t x = ia >= 0 ? sa[ia] : 1, y = ib >= 0 ? sb[ib] : 1;
        if (x != y && x != 1 && y != 1) return false;
        bshape[i] = x > y ? x : y;
    }
    *bd = n;
    return true;
}

/* The matrix numbers (row-major over their own batch dims) of a and b used by output matrix
 * number `ob` of the batch shape (bd, bshape). */
static void mm_batch_map(int bd, const int64_t *bshape, int64_t ob, int na, const int64_t *sa,
                         int nb, const int64_t *sb, int64_t *ma, int64_t *mb)
{
    int64_t idx[MT_MAX_DIMS];
    for (int i = bd - 1; i >= 0; i--) {
        idx[i] = ob % bshape[i];
        ob /= bshape[i];
    }
    int ba = na - 2, bb = nb - 2;
    *ma = 0;
    *mb = 0;
    for (int i = 0; i < ba; i++) *ma = *ma * sa[i] + (sa[i] == 1 ? 0 : idx[i + bd - ba]);
    for (int i = 0; i < bb; i++) *mb = *mb * sb[i] + (sb[i] == 1 ? 0 : idx[i + bd - bb]);
}

/* Result shape of (..., n, k) @ (..., k, m); false if the shapes do not fit. */
static bool mm_result_shape(int na, const int64_t *sa, int nb, const int64_t *sb, int *nd,
                            int64_t *shape)
{
    if (na < 2 || nb < 2 || sa[na - 1] != sb[nb - 2]) return false;
    int bd;
    if (!mm_batch_shape(na, sa, nb, sb, &bd, shape)) return false;
    shape[bd] = sa[na - 2];
    shape[bd + 1] = sb[nb - 1];
    *nd = bd + 2;
    return true;
}

static int64_t prod64(int nd, const int64_t *shape)
{
    int64_t p = 1;
    for (int i = 0; i < nd; i++) p *= shape[i];
    return p;
}

/* out (row-major, result shape) = a @ b. The shapes must fit (mm_result_shape). */
static void mm_oracle_into(int na, const int64_t *sa, const double *va, int nb, const int64_t *sb,
                           const double *vb, double *out)
{
    int nd;
    int64_t shape[MT_MAX_DIMS];
    mm_result_shape(na, sa, nb, sb, &nd, shape);
    const int64_t n = sa[na - 2], k = sa[na - 1], m = sb[nb - 1];
    const int64_t batches = prod64(nd - 2, shape);
    for (int64_t ob = 0; ob < batches; ob++) {
        int64_t ma, mb;
        mm_batch_map(nd - 2, shape, ob, na, sa, nb, sb, &ma, &mb);
        const double *A = va + ma * n * k, *B = vb + mb * k * m;
        double *C = out + ob * n * m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < m; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++) s += A[i * k + p] * B[p * m + j];
                C[i * m + j] = s;
            }
    }
}

/* The asserting wrapper: a malloc'd result and its shape. */
static double *oracle_matmul(int na, const int64_t *sa, const double *va, int nb,
                             const int64_t *sb, const double *vb, int *nd, int64_t *shape)
{
    cr_assert(mm_result_shape(na, sa, nb, sb, nd, shape), "oracle: shapes do not fit");
    double *out = malloc(sizeof(double) * (size_t)prod64(*nd, shape));
    cr_assert_not_null(out);
    mm_oracle_into(na, sa, va, nb, sb, vb, out);
    return out;
}

/* Gradients of loss = sum(C * W), C = a @ b: dA = W B^T and dB = A^T W, each summed over the
 * output matrices that used that operand matrix (batch broadcasting). ga/gb are zeroed here. */
static void mm_oracle_grads(int na, const int64_t *sa, const double *va, int nb, const int64_t *sb,
                            const double *vb, const double *w, double *ga, double *gb)
{
    int nd;
    int64_t shape[MT_MAX_DIMS];
    mm_result_shape(na, sa, nb, sb, &nd, shape);
    const int64_t n = sa[na - 2], k = sa[na - 1], m = sb[nb - 1];
    memset(ga, 0, sizeof(double) * (size_t)prod64(na, sa));
    memset(gb, 0, sizeof(double) * (size_t)prod64(nb, sb));
    const int64_t batches = prod64(nd - 2, shape);
    for (int64_t ob = 0; ob < batches; ob++) {
        int64_t ma, mb;
        mm_batch_map(nd - 2, shape, ob, na, sa, nb, sb, &ma, &mb);
        const double *A = va + ma * n * k, *B = vb + mb * k * m, *W = w + ob * n * m;
        double *GA = ga + ma * n * k, *GB = gb + mb * k * m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < k; p++) {
                double s = 0;
                for (int64_t j = 0; j < m; j++) s += W[i * m + j] * B[p * m + j];
                GA[i * k + p] += s;
            }
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < m; j++) {
                double s = 0;
                for (int64_t i = 0; i < n; i++) s += A[i * k + p] * W[i * m + j];
                GB[p * m + j] += s;
            }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Operands.                                                                                  */

typedef struct operand {
    int nd;
    int64_t shape[MT_MAX_DIMS];
    double *v;    /* logical values, row-major */
    mt_tensor *t; /* owned reference */
    int layout;
} operand;

enum { L_CONTIG = 0, L_PERMUTED = 1, L_NARROWED = 2, L_TRANSPOSED = 3, L_COUNT = 4 };

static const char *layout_name(int layout)
{
    static const char *const names[] = {"contiguous", "permuted", "narrowed", "transposed",
                                        "expanded"};
    return layout >= 0 && layout <= 4 ? names[layout] : "?";
}

/* mt_transpose(-2, -1) of a contiguous tensor holding the values with its last two dims
 * swapped: the NT/TN operand of a gradient product. */
static mt_tensor *transposed_tensor(int nd, const int64_t *shape, const double *v)
{
    int64_t st[MT_MAX_DIMS];
    memcpy(st, shape, sizeof(int64_t) * (size_t)nd);
    int64_t r = shape[nd - 2], c = shape[nd - 1];
    st[nd - 2] = c;
    st[nd - 1] = r;
    int64_t total = prod64(nd, shape), mats = total / (r * c);
    float *data = malloc(sizeof(float) * (size_t)total);
    cr_assert_not_null(data);
    for (int64_t b = 0; b < mats; b++)
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < c; j++) data[b * r * c + j * r + i] = (float)v[b * r * c + i * c + j];
    mt_tensor *s = mt_from_data(nd, st, data);
    free(data);
    cr_assert_not_null(s, "mt_from_data: %s", mt_last_error());
    mt_tensor *t = mt_transpose(s, -2, -1);
    cr_assert_not_null(t, "mt_transpose: %s", mt_last_error());
    mt_release(s);
    if (r > 1 && c > 1) cr_assert_eq(mt_stride(t, -1), r, "transposed view has unexpected strides");
    return t;
}

static operand make_operand(t_rng *r, int nd, const int64_t *shape, int layout)
{
    operand o = {.nd = nd, .layout = layout};
    memcpy(o.shape, shape, sizeof(int64_t) * (size_t)nd);
    o.v = t_random_values(r, prod64(nd, shape), -1, 1);
    o.t = layout == L_TRANSPOSED ? transposed_tensor(nd, shape, o.v)
                                 : t_tensor(r, nd, shape, o.v, layout);
    return o;
}

/* An operand of shape `shape` that is mt_expand of a random tensor of shape `base` (zero
 * strides where base has size 1 and shape does not). */
static operand make_expanded(t_rng *r, int nd, const int64_t *base, const int64_t *shape)
{
    operand o = {.nd = nd, .layout = 4};
    memcpy(o.shape, shape, sizeof(int64_t) * (size_t)nd);
    double *bv = t_random_values(r, prod64(nd, base), -1, 1);
    mt_tensor *bt = t_tensor(r, nd, base, bv, L_CONTIG);
    o.t = mt_expand(bt, nd, shape);
    cr_assert_not_null(o.t, "mt_expand: %s", mt_last_error());
    mt_release(bt);
    int64_t n = prod64(nd, shape);
    o.v = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(o.v);
    int64_t idx[MT_MAX_DIMS] = {0}, bidx[MT_MAX_DIMS];
    int64_t i = 0;
    do {
        for (int d = 0; d < nd; d++) bidx[d] = base[d] == 1 ? 0 : idx[d];
        o.v[i++] = bv[t_ordinal(nd, base, bidx)];
    } while (t_next_index(nd, shape, idx));
    free(bv);
    return o;
}

static void operand_free(operand *o)
{
    free(o->v);
    mt_release(o->t);
    o->v = NULL;
    o->t = NULL;
}

static const char *fmt_shape(char *buf, size_t cap, int nd, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < nd && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, ")");
    return buf;
}

static const char *backend_now(void) { return mt_backend_name(mt_get_backend()); }

/* mt_matmul(A, B) on the current backend against the oracle. */
static void check_operands(const char *tag, const operand *A, const operand *B)
{
    int nd;
    int64_t shape[MT_MAX_DIMS];
    double *want = oracle_matmul(A->nd, A->shape, A->v, B->nd, B->shape, B->v, &nd, shape);
    char what[400], s1[96], s2[96];
    snprintf(what, sizeof what, "%s [%s] a%s %s @ b%s %s", tag, backend_now(),
             fmt_shape(s1, sizeof s1, A->nd, A->shape), layout_name(A->layout),
             fmt_shape(s2, sizeof s2, B->nd, B->shape), layout_name(B->layout));
    mt_tensor *c = mt_matmul(A->t, B->t);
    cr_assert_not_null(c, "%s: mt_matmul returned NULL: %s", what, mt_last_error());
    t_expect_shape(c, nd, shape);
    int64_t k = A->shape[A->nd - 1];
    t_expect_close(what, c, want, MM_ATOL(k), MM_RTOL(k));
    mt_release(c);
    free(want);
}

static void check_product(t_rng *r, const char *tag, int na, const int64_t *sa, int la, int nb,
                          const int64_t *sb, int lb)
{
    operand A = make_operand(r, na, sa, la), B = make_operand(r, nb, sb, lb);
    check_operands(tag, &A, &B);
    operand_free(&A);
    operand_free(&B);
}

#define SHAPE(...) MT_DIMS(__VA_ARGS__)

/* ------------------------------------------------------------------------------------------ */
/* 2-D shapes.                                                                                 */

static const int64_t sweep_sizes[] = {1, 2, 3, 7, 13, 31, 32, 33, 64, 67, 70};
#define SWEEP_COUNT ((int)(sizeof sweep_sizes / sizeof sweep_sizes[0]))

Test(matmul, shapes_2d_sweep_contiguous)
{
    t_rng r = t_rng_seed(11);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int i = 0; i < SWEEP_COUNT; i++)
            for (int j = 0; j < SWEEP_COUNT; j++)
                for (int l = 0; l < SWEEP_COUNT; l++) {
                    int64_t n = sweep_sizes[i], k = sweep_sizes[j], m = sweep_sizes[l];
                    check_product(&r, "2-D sweep", SHAPE(n, k), L_CONTIG, SHAPE(k, m), L_CONTIG);
                }
    }
}

/* The same sweep with every operand layout (permuted = transposed storage for 2-D, narrowed
 * views with offsets and row gaps, explicit mt_transpose views), cycling through all pairs. */
Test(matmul, shapes_2d_sweep_strided)
{
    t_rng r = t_rng_seed(12);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        int c = 0;
        for (int i = 0; i < SWEEP_COUNT; i++)
            for (int j = 0; j < SWEEP_COUNT; j++)
                for (int l = 0; l < SWEEP_COUNT; l++, c++) {
                    int64_t n = sweep_sizes[i], k = sweep_sizes[j], m = sweep_sizes[l];
                    int la = 1 + c % 3, lb = 1 + (c / 3) % 3; /* skip contiguous (tested above) */
                    if (c % 9 == 8) lb = L_CONTIG;
                    check_product(&r, "2-D strided sweep", SHAPE(n, k), la, SHAPE(k, m), lb);
                }
    }
}

/* Shapes that cross the naive kernel's tiles (64-row x 128-column tasks, 128-deep k slices,
 * 4 x 32 register tiles) and blas's small/large split, under all layout pairs. */
Test(matmul, shapes_2d_large)
{
    static const int64_t shapes[][3] = {
        {130, 257, 65}, {64, 128, 128}, {65, 129, 129}, {1, 300, 257}, {257, 1, 3},
        {200, 130, 260}, {4, 256, 32}, {127, 33, 129},
    };
    t_rng r = t_rng_seed(13);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int la = 0; la < L_COUNT; la++)
                for (int lb = 0; lb < L_COUNT; lb++) {
                    if ((la + lb + (int)s) % 2 && !(la == 0 && lb == 0)) continue; /* half the pairs */
                    const int64_t *x = shapes[s];
                    check_product(&r, "2-D large", SHAPE(x[0], x[1]), la, SHAPE(x[1], x[2]), lb);
                }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Batches.                                                                                    */

Test(matmul, batched_same_batch)
{
    t_rng r = t_rng_seed(21);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        int c = 0;
        for (int64_t D = 2; D <= 4; D++)
            for (int64_t A = 2; A <= 4; A++)
                for (int64_t B = 2; B <= 4; B++)
                    for (int64_t C = 2; C <= 4; C++, c++)
                        check_product(&r, "(D,A,B)@(D,B,C)", SHAPE(D, A, B), c % L_COUNT,
                                      SHAPE(D, B, C), (c / L_COUNT) % L_COUNT);
        /* larger batched products: blas's non-small path, naive's multi-task path */
        check_product(&r, "batched large", SHAPE(3, 100, 97), L_CONTIG, SHAPE(3, 97, 130), L_CONTIG);
        check_product(&r, "batched large", SHAPE(2, 70, 140), L_TRANSPOSED, SHAPE(2, 140, 33),
                      L_PERMUTED);
        /* many small products: blas runs the batch loop in parallel */
        check_product(&r, "many small", SHAPE(16, 5, 7), L_CONTIG, SHAPE(16, 7, 3), L_CONTIG);
        check_product(&r, "many small", SHAPE(16, 5, 7), L_PERMUTED, SHAPE(16, 7, 3), L_NARROWED);
    }
}

/* MiniTorch's bmm case: (D,A,B) @ (1,B,C), A..D in [2,4]. */
Test(matmul, batched_minitorch_broadcast)
{
    t_rng r = t_rng_seed(22);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        int c = 0;
        for (int64_t D = 2; D <= 4; D++)
            for (int64_t A = 2; A <= 4; A++)
                for (int64_t B = 2; B <= 4; B++)
                    for (int64_t C = 2; C <= 4; C++, c++)
                        check_product(&r, "(D,A,B)@(1,B,C)", SHAPE(D, A, B), c % L_COUNT,
                                      SHAPE(1, B, C), (c / 2) % L_COUNT);
        check_product(&r, "(1,A,B)@(D,B,C)", SHAPE(1, 3, 4), L_CONTIG, SHAPE(4, 4, 2), L_CONTIG);
        check_product(&r, "(D,A,B)@(1,B,C) large", SHAPE(3, 70, 130), L_NARROWED,
                      SHAPE(1, 130, 67), L_TRANSPOSED);
    }
}

/* MiniTorch's test_bmm cross-check: a @ b == (a.view(D,A,B,1) * b.view(1,1,B,C)).sum(2). */
Test(matmul, minitorch_bmm_crosscheck)
{
    const int64_t D = 2, A = 3, B = 4, C = 3;
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_scope s = mt_scope_begin();
        mt_tensor *a = mt_rand(SHAPE(D, A, B), 5 + (uint64_t)be);
        mt_tensor *b = mt_rand(SHAPE(1, B, C), 7 + (uint64_t)be);
        mt_tensor *c = mt_matmul(a, b);
        mt_tensor *c2 = mt_view(mt_sum(mt_mul(mt_view(a, SHAPE(D, A, B, 1)),
                                              mt_view(b, SHAPE(1, 1, B, C))),
                                       2),
                                SHAPE(D, A, C));
        cr_assert_not_null(c2, "broadcast-multiply path failed: %s", mt_last_error());
        t_expect_shape(c, SHAPE(D, A, C));
        double *want = t_values(c2);
        t_expect_close("bmm vs broadcast-multiply-sum", c, want, 1e-5, 1e-5);
        free(want);
        cr_assert_eq(mt_scope_end(s), MT_OK);
    }
}

Test(matmul, mixed_rank_2d_3d)
{
    t_rng r = t_rng_seed(23);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int l = 0; l < L_COUNT; l++) {
            check_product(&r, "2-D @ 3-D", SHAPE(3, 4), l, SHAPE(5, 4, 2), (l + 1) % L_COUNT);
            check_product(&r, "3-D @ 2-D", SHAPE(5, 3, 4), l, SHAPE(4, 2), (l + 2) % L_COUNT);
            check_product(&r, "2-D @ 3-D large", SHAPE(67, 130), l, SHAPE(3, 130, 33), (l + 3) % L_COUNT);
            check_product(&r, "3-D @ 2-D large", SHAPE(3, 67, 130), l, SHAPE(130, 70), (l + 1) % L_COUNT);
            check_product(&r, "2-D @ 4-D", SHAPE(2, 3), l, SHAPE(2, 3, 3, 4), (l + 2) % L_COUNT);
        }
    }
}

Test(matmul, batch_broadcast_4d)
{
    t_rng r = t_rng_seed(24);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int l = 0; l < L_COUNT; l++) {
            check_product(&r, "4-D", SHAPE(2, 1, 3, 4), l, SHAPE(1, 5, 4, 2), (l + 1) % L_COUNT);
            check_product(&r, "4-D", SHAPE(1, 5, 4, 2), l, SHAPE(2, 1, 2, 3), (l + 2) % L_COUNT);
            check_product(&r, "4-D @ 3-D", SHAPE(3, 1, 2, 5), l, SHAPE(4, 5, 3), (l + 3) % L_COUNT);
            check_product(&r, "3-D @ 4-D", SHAPE(4, 2, 5), l, SHAPE(3, 1, 5, 3), l);
            check_product(&r, "5-D", SHAPE(2, 1, 2, 1, 3, 4), l, SHAPE(1, 3, 1, 2, 4, 2), (l + 1) % L_COUNT);
        }
        /* 4-D broadcasting with products big enough for several threads / blas's large path */
        check_product(&r, "4-D large", SHAPE(2, 1, 70, 100), L_TRANSPOSED, SHAPE(1, 3, 100, 99),
                      L_NARROWED);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Strides: transposed (NT / TN), narrowed, expanded operands.                                  */

Test(matmul, transposed_operands_nt_tn)
{
    static const int64_t shapes[][3] = {{67, 130, 45}, {5, 3, 70}, {1, 64, 33}, {33, 1, 1},
                                        {130, 257, 65}, {32, 32, 32}, {2, 200, 1}};
    t_rng r = t_rng_seed(31);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t *x = shapes[s];
            /* NN, NT (as in dC * B^T), TN (as in A^T * dC), TT */
            for (int form = 0; form < 4; form++)
                check_product(&r, "NT/TN", SHAPE(x[0], x[1]), form & 2 ? L_TRANSPOSED : L_CONTIG,
                              SHAPE(x[1], x[2]), form & 1 ? L_TRANSPOSED : L_CONTIG);
        }
        for (int form = 0; form < 4; form++) {
            check_product(&r, "batched NT/TN", SHAPE(3, 20, 30), form & 2 ? L_TRANSPOSED : L_CONTIG,
                          SHAPE(3, 30, 25), form & 1 ? L_TRANSPOSED : L_CONTIG);
            check_product(&r, "broadcast NT/TN", SHAPE(4, 9, 70), form & 2 ? L_TRANSPOSED : L_CONTIG,
                          SHAPE(1, 70, 40), form & 1 ? L_TRANSPOSED : L_CONTIG);
        }
    }
}


/* A tensor with the given logical values whose storage holds dim perm[i] of the logical shape
 * as its dim i (mt_permute of a contiguous tensor back to the logical order). */
static mt_tensor *permuted_tensor(int nd, const int64_t *shape, const double *v, const int *perm)
{
    int64_t st[MT_MAX_DIMS], idx[MT_MAX_DIMS] = {0}, sidx[MT_MAX_DIMS];
    int inverse[MT_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        st[i] = shape[perm[i]];
        inverse[perm[i]] = i;
    }
    float *data = malloc(sizeof(float) * (size_t)prod64(nd, shape));
    cr_assert_not_null(data);
    do {
        for (int i = 0; i < nd; i++) sidx[i] = idx[perm[i]];
        data[t_ordinal(nd, st, sidx)] = (float)v[t_ordinal(nd, shape, idx)];
    } while (t_next_index(nd, shape, idx));
    mt_tensor *s = mt_from_data(nd, st, data);
    free(data);
    mt_tensor *t = mt_permute(s, inverse);
    cr_assert_not_null(t, "mt_permute: %s", mt_last_error());
    mt_release(s);
    return t;
}

/* Operands from explicit mt_narrow / mt_transpose / mt_permute calls. */
Test(matmul, narrowed_and_permuted_views)
{
    t_rng r = t_rng_seed(32);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        const int64_t n = 37, k = 70, m = 45;
        /* a: rows 3..3+n, cols 5..5+k of a (n+9, k+11) matrix */
        double *big_a = t_random_values(&r, (n + 9) * (k + 11), -1, 1);
        mt_tensor *ta = t_tensor(&r, SHAPE(n + 9, k + 11), big_a, L_CONTIG);
        mt_tensor *na = mt_narrow(ta, 0, 3, n);
        operand A = {.nd = 2, .shape = {n, k}, .t = mt_narrow(na, 1, 5, k), .layout = L_NARROWED};
        cr_assert_not_null(A.t, "mt_narrow: %s", mt_last_error());
        cr_assert_gt(mt_offset(A.t), 0);
        A.v = malloc(sizeof(double) * (size_t)(n * k));
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < k; p++) A.v[i * k + p] = big_a[(i + 3) * (k + 11) + p + 5];
        /* b: the transpose of a narrowed block of an (m+2, k+4) matrix (Trans with a leading
         * dimension larger than its rows) */
        double *big_b = t_random_values(&r, (m + 2) * (k + 4), -1, 1);
        mt_tensor *tb = t_tensor(&r, SHAPE(m + 2, k + 4), big_b, L_CONTIG);
        mt_tensor *nb1 = mt_narrow(tb, 0, 1, m), *nb2 = mt_narrow(nb1, 1, 2, k);
        operand B = {.nd = 2, .shape = {k, m}, .t = mt_transpose(nb2, 0, 1), .layout = L_TRANSPOSED};
        cr_assert_not_null(B.t, "views: %s", mt_last_error());
        B.v = malloc(sizeof(double) * (size_t)(k * m));
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < m; j++) B.v[p * m + j] = big_b[(j + 1) * (k + 4) + p + 2];
        check_operands("narrowed @ transposed narrowed", &A, &B);
        free(big_a);
        free(big_b);
        operand_free(&A);
        operand_free(&B);
        mt_release(na);
        mt_release(ta);
        mt_release(nb1);
        mt_release(nb2);
        mt_release(tb);

        /* 3-D permutes: a stored (n, D, k); b stored (k, m, D), so neither of b's matrix dims is
         * contiguous (blas must copy it) */
        const int64_t D = 3;
        operand P = {.nd = 3, .shape = {D, 20, 33}, .layout = L_PERMUTED};
        P.v = t_random_values(&r, D * 20 * 33, -1, 1);
        P.t = permuted_tensor(3, P.shape, P.v, (const int[]){1, 0, 2});
        operand Q = {.nd = 3, .shape = {D, 33, 17}, .layout = L_PERMUTED};
        Q.v = t_random_values(&r, D * 33 * 17, -1, 1);
        Q.t = permuted_tensor(3, Q.shape, Q.v, (const int[]){1, 2, 0});
        cr_assert_eq(mt_stride(Q.t, -1), D);
        cr_assert_eq(mt_stride(Q.t, -2), 17 * D);
        check_operands("permuted 3-D", &P, &Q);
        operand_free(&P);
        operand_free(&Q);
    }
}

/* Zero strides: expanded rows/columns force blas to copy the operand; an expanded batch dim
 * does not. */
Test(matmul, expanded_operands)
{
    t_rng r = t_rng_seed(33);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        struct {
            int nd;
            int64_t base[4], shape[4];
        } const cases[] = {
            {2, {1, 70}, {67, 70}},          /* a row repeated (row stride 0) */
            {2, {70, 1}, {70, 40}},          /* a column repeated (column stride 0) */
            {2, {1, 1}, {33, 129}},          /* one value everywhere */
            {3, {1, 13, 31}, {4, 13, 31}},   /* batch stride 0 only */
            {3, {4, 1, 31}, {4, 13, 31}},    /* batched, row stride 0 */
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const int nd = cases[c].nd;
            const int64_t *shape = cases[c].shape;
            /* expanded as a (.., n, k) and, with a partner of matching inner dim, as b */
            operand E = make_expanded(&r, nd, cases[c].base, shape);
            int64_t bshape[4], ashape[4];
            memcpy(bshape, shape, sizeof bshape);
            memcpy(ashape, shape, sizeof ashape);
            bshape[nd - 2] = shape[nd - 1];
            bshape[nd - 1] = 9;
            ashape[nd - 1] = shape[nd - 2];
            ashape[nd - 2] = 11;
            for (int l = 0; l < L_COUNT; l++) {
                operand B = make_operand(&r, nd, bshape, l);
                check_operands("expanded a", &E, &B);
                operand_free(&B);
                operand A = make_operand(&r, nd, ashape, l);
                check_operands("expanded b", &A, &E);
                operand_free(&A);
            }
            operand_free(&E);
        }
        /* both operands expanded */
        operand A = make_expanded(&r, 2, (const int64_t[]){1, 50}, (const int64_t[]){40, 50});
        operand B = make_expanded(&r, 2, (const int64_t[]){50, 1}, (const int64_t[]){50, 30});
        check_operands("both expanded", &A, &B);
        operand_free(&A);
        operand_free(&B);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* mt_matmul_out into strided outputs.                                                         */

static void expect_matmul_out(const char *what, mt_tensor *out, const operand *A, const operand *B)
{
    int nd;
    int64_t shape[MT_MAX_DIMS];
    double *want = oracle_matmul(A->nd, A->shape, A->v, B->nd, B->shape, B->v, &nd, shape);
    cr_assert_eq(mt_matmul_out(out, A->t, B->t), MT_OK, "%s [%s]: %s", what, backend_now(),
                 mt_last_error());
    t_expect_shape(out, nd, shape);
    char full[300];
    snprintf(full, sizeof full, "%s [%s]", what, backend_now());
    int64_t k = A->shape[A->nd - 1];
    t_expect_close(full, out, want, MM_ATOL(k), MM_RTOL(k));
    free(want);
}

Test(matmul, matmul_out_transposed_output)
{
    t_rng r = t_rng_seed(41);
    static const int64_t shapes[][3] = {{70, 130, 45}, {5, 7, 3}, {1, 13, 33}, {33, 13, 1}};
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t n = shapes[s][0], k = shapes[s][1], m = shapes[s][2];
            for (int l = 0; l < L_COUNT; l++) {
                operand A = make_operand(&r, SHAPE(n, k), l);
                operand B = make_operand(&r, SHAPE(k, m), (l + 1) % L_COUNT);
                /* buf is (m, n), NaN-filled; out = buf^T is the (n, m) result */
                mt_tensor *buf = mt_full(SHAPE(m, n), NAN);
                mt_tensor *out = mt_transpose(buf, 0, 1);
                cr_assert_not_null(out);
                expect_matmul_out("matmul_out into a transposed buffer", out, &A, &B);
                /* the buffer itself now holds the transpose */
                double *want = oracle_matmul(A.nd, A.shape, A.v, B.nd, B.shape, B.v,
                                             &(int){0}, (int64_t[MT_MAX_DIMS]){0});
                double *want_t = malloc(sizeof(double) * (size_t)(n * m));
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < m; j++) want_t[j * n + i] = want[i * m + j];
                t_expect_close("the transposed buffer", buf, want_t, MM_ATOL(k), MM_RTOL(k));
                free(want);
                free(want_t);
                mt_release(out);
                mt_release(buf);
                operand_free(&A);
                operand_free(&B);
            }
        }
    }
}

Test(matmul, matmul_out_views)
{
    t_rng r = t_rng_seed(42);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        /* a window of a larger buffer: the elements around it must stay untouched */
        {
            const int64_t n = 67, k = 33, m = 70;
            operand A = make_operand(&r, SHAPE(n, k), L_CONTIG);
            operand B = make_operand(&r, SHAPE(k, m), L_TRANSPOSED);
            mt_tensor *buf = mt_full(SHAPE(n + 3, m + 5), 1234.0f);
            mt_tensor *w1 = mt_narrow(buf, 0, 2, n), *out = mt_narrow(w1, 1, 4, m);
            expect_matmul_out("matmul_out into a narrowed window", out, &A, &B);
            double *all = t_values(buf);
            for (int64_t i = 0; i < n + 3; i++)
                for (int64_t j = 0; j < m + 5; j++)
                    if (!(i >= 2 && i < 2 + n && j >= 4 && j < 4 + m))
                        cr_assert_eq(all[i * (m + 5) + j], 1234.0,
                                     "[%s] element (%lld,%lld) outside the window was overwritten",
                                     backend_now(), (long long)i, (long long)j);
            free(all);
            mt_release(out);
            mt_release(w1);
            mt_release(buf);
            operand_free(&A);
            operand_free(&B);
        }
        /* a permuted 3-D output (storage (n, m, D)): no matrix dim is contiguous */
        {
            const int64_t D = 3, n = 21, k = 40, m = 19;
            operand A = make_operand(&r, SHAPE(D, n, k), L_CONTIG);
            operand B = make_operand(&r, SHAPE(1, k, m), L_PERMUTED);
            mt_tensor *store = mt_full(SHAPE(n, m, D), NAN);
            mt_tensor *out = mt_permute(store, (const int[]){2, 0, 1});
            cr_assert_not_null(out);
            expect_matmul_out("matmul_out into a permuted output", out, &A, &B);
            mt_release(out);
            mt_release(store);
            operand_free(&A);
            operand_free(&B);
        }
        /* contiguous output with stale NaN contents and a broadcast 2-D @ 3-D */
        {
            operand A = make_operand(&r, SHAPE(13, 64), L_NARROWED);
            operand B = make_operand(&r, SHAPE(4, 64, 35), L_PERMUTED);
            mt_tensor *out = mt_full(SHAPE(4, 13, 35), NAN);
            expect_matmul_out("matmul_out over NaN contents", out, &A, &B);
            /* a second call overwrites (does not accumulate) */
            expect_matmul_out("matmul_out twice", out, &A, &B);
            mt_release(out);
            operand_free(&A);
            operand_free(&B);
        }
        /* a transposed batched output, large enough for blas's non-small path */
        {
            const int64_t D = 2, n = 100, k = 97, m = 110;
            operand A = make_operand(&r, SHAPE(D, n, k), L_TRANSPOSED);
            operand B = make_operand(&r, SHAPE(D, k, m), L_CONTIG);
            mt_tensor *buf = mt_full(SHAPE(D, m, n), NAN);
            mt_tensor *out = mt_transpose(buf, 1, 2);
            expect_matmul_out("matmul_out batched transposed output", out, &A, &B);
            mt_release(out);
            mt_release(buf);
            operand_free(&A);
            operand_free(&B);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Backends agree; MiniTorch's mm2 cross-check.                                                */

static mt_tensor *product_on(int backend, const operand *A, const operand *B)
{
    t_use_backend(backend);
    mt_tensor *c = mt_matmul(A->t, B->t);
    cr_assert_not_null(c, "mt_matmul on %s: %s", backend_now(), mt_last_error());
    return c;
}

Test(matmul, naive_and_blas_agree)
{
    t_rng r = t_rng_seed(51);
    struct {
        int nd;
        int64_t a[4], b[4];
    } const cases[] = {
        {2, {130, 257}, {257, 65}}, {2, {1, 300}, {300, 1}}, {2, {67, 70}, {70, 33}},
        {3, {4, 33, 64}, {1, 64, 31}}, {3, {3, 70, 130}, {3, 130, 70}}, {2, {300, 200}, {200, 190}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int la = 0; la < L_COUNT; la++) {
            int lb = (la + (int)c) % L_COUNT;
            operand A = make_operand(&r, cases[c].nd, cases[c].a, la);
            operand B = make_operand(&r, cases[c].nd, cases[c].b, lb);
            mt_tensor *cn = product_on(0, &A, &B), *cb = product_on(1, &A, &B);
            t_expect_shape(cb, mt_ndim(cn), mt_shape(cn));
            double *naive = t_values(cn);
            int64_t k = A.shape[A.nd - 1];
            char what[200], s1[64], s2[64];
            snprintf(what, sizeof what, "blas vs naive, a%s %s @ b%s %s",
                     fmt_shape(s1, sizeof s1, A.nd, A.shape), layout_name(la),
                     fmt_shape(s2, sizeof s2, B.nd, B.shape), layout_name(lb));
            t_expect_close(what, cb, naive, 2 * MM_ATOL(k), 2 * MM_RTOL(k));
            free(naive);
            mt_release(cn);
            mt_release(cb);
            operand_free(&A);
            operand_free(&B);
        }
}

/* MiniTorch's test_mm2: (2,3)@(3,4) == (a.view(2,3,1) * b.view(1,3,4)).sum(1).view(2,4). */
Test(matmul, minitorch_mm2_crosscheck)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_scope s = mt_scope_begin();
        mt_tensor *a = mt_rand(SHAPE(2, 3), 1 + (uint64_t)be);
        mt_tensor *b = mt_rand(SHAPE(3, 4), 2 + (uint64_t)be);
        mt_tensor *c = mt_matmul(a, b);
        mt_tensor *c2 = mt_view(mt_sum(mt_mul(mt_view(a, SHAPE(2, 3, 1)), mt_view(b, SHAPE(1, 3, 4))), 1),
                                SHAPE(2, 4));
        cr_assert_not_null(c2, "mm2 broadcast path: %s", mt_last_error());
        t_expect_shape(c, SHAPE(2, 4));
        double *want = t_values(c2);
        t_expect_close("mm2", c, want, 1e-5, 1e-5);
        free(want);
        /* and both against the oracle */
        double *va = t_values(a), *vb = t_values(b);
        int nd;
        int64_t shape[MT_MAX_DIMS];
        double *o = oracle_matmul(SHAPE(2, 3), va, SHAPE(3, 4), vb, &nd, shape);
        t_expect_close("mm2 vs oracle", c, o, MM_ATOL(3), MM_RTOL(3));
        t_expect_close("mm2 broadcast path vs oracle", c2, o, MM_ATOL(3), MM_RTOL(3));
        free(o);
        free(va);
        free(vb);
        cr_assert_eq(mt_scope_end(s), MT_OK);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* mt_linear.                                                                                  */

/* bias_kind: 0 none, 1 shape (out), 2 shape (1, out). */
static void check_linear(t_rng *r, int nx, const int64_t *sx, int lx, int64_t out, int lw,
                         int bias_kind)
{
    const int64_t in = sx[nx - 1];
    operand X = make_operand(r, nx, sx, lx);
    operand W = make_operand(r, SHAPE(in, out), lw);
    double *bv = t_random_values(r, out, -1, 1);
    mt_tensor *bias = NULL;
    if (bias_kind == 1) bias = t_tensor(r, SHAPE(out), bv, L_NARROWED);
    if (bias_kind == 2) bias = t_tensor(r, SHAPE(1, out), bv, L_CONTIG);
    int nd;
    int64_t shape[MT_MAX_DIMS];
    double *want = oracle_matmul(X.nd, X.shape, X.v, W.nd, W.shape, W.v, &nd, shape);
    int64_t total = prod64(nd, shape);
    if (bias)
        for (int64_t i = 0; i < total; i++) want[i] += bv[i % out];
    mt_tensor *y = mt_linear(X.t, W.t, bias);
    char what[200], s1[64];
    snprintf(what, sizeof what, "mt_linear [%s] x%s %s, w (%lld,%lld) %s, bias kind %d",
             backend_now(), fmt_shape(s1, sizeof s1, nx, sx), layout_name(lx), (long long)in,
             (long long)out, layout_name(lw), bias_kind);
    cr_assert_not_null(y, "%s: %s", what, mt_last_error());
    t_expect_shape(y, nd, shape);
    t_expect_close(what, y, want, MM_ATOL(in + 1), MM_RTOL(in + 1));
    mt_release(y);
    mt_release(bias);
    free(want);
    free(bv);
    operand_free(&X);
    operand_free(&W);
}

Test(matmul, linear_against_oracle)
{
    t_rng r = t_rng_seed(61);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int bias_kind = 0; bias_kind < 3; bias_kind++)
            for (int l = 0; l < L_COUNT; l++) {
                check_linear(&r, SHAPE(7, 13), l, 5, (l + 1) % L_COUNT, bias_kind);
                check_linear(&r, SHAPE(1, 33), l, 1, (l + 2) % L_COUNT, bias_kind);
                check_linear(&r, SHAPE(3, 5, 31), l, 4, (l + 3) % L_COUNT, bias_kind);
                check_linear(&r, SHAPE(2, 2, 3, 4), l, 6, l, bias_kind);
            }
        check_linear(&r, SHAPE(130, 257), L_CONTIG, 65, L_CONTIG, 1);
        check_linear(&r, SHAPE(3, 70, 130), L_PERMUTED, 67, L_TRANSPOSED, 1);
        check_linear(&r, SHAPE(2, 100, 100), L_CONTIG, 100, L_CONTIG, 0);
    }
}

Test(matmul, linear_errors)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = mt_ones(SHAPE(2, 3)), *w = mt_ones(SHAPE(3, 4)), *bias = mt_ones(SHAPE(4));
        mt_tensor *x1 = mt_ones(SHAPE(3)), *w3 = mt_ones(SHAPE(1, 3, 4)), *w_bad = mt_ones(SHAPE(5, 4));
        mt_tensor *bias_bad = mt_ones(SHAPE(5)), *bias_2d = mt_ones(SHAPE(2, 4));

        mt_clear_error();
        cr_assert_null(mt_linear(NULL, w, bias));
        t_expect_error(MT_ERR_NULL, "mt_linear");
        mt_clear_error();
        cr_assert_null(mt_linear(x, NULL, bias));
        t_expect_error(MT_ERR_NULL, "mt_linear");
        mt_clear_error();
        cr_assert_null(mt_linear(x1, w, bias));
        t_expect_error(MT_ERR_SHAPE, "mt_linear");
        mt_clear_error();
        cr_assert_null(mt_linear(x, w3, bias));
        t_expect_error(MT_ERR_SHAPE, "mt_linear");
        mt_clear_error();
        cr_assert_null(mt_linear(x, w_bad, NULL));
        t_expect_error(MT_ERR_SHAPE, "mt_linear");
        mt_clear_error();
        cr_assert_null(mt_linear(x, w, bias_bad));
        t_expect_error(MT_ERR_SHAPE, "mt_linear");
        mt_clear_error();
        cr_assert_null(mt_linear(x, w, bias_2d));
        t_expect_error(MT_ERR_SHAPE, "mt_linear");
        /* a valid call afterwards works */
        mt_clear_error();
        mt_tensor *y = mt_linear(x, w, bias);
        t_expect_close("linear of ones", y, (double[]){4, 4, 4, 4, 4, 4, 4, 4}, 0, 0);
        mt_release(y);

        mt_release(x);
        mt_release(w);
        mt_release(bias);
        mt_release(x1);
        mt_release(w3);
        mt_release(w_bad);
        mt_release(bias_bad);
        mt_release(bias_2d);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Gradients: the NT (dC B^T) and TN (A^T dC) products, summed over broadcast batch dims.      */

/* loss = sum(a @ b) (weighted = false, dC = ones) or sum((a @ b) * W) with random W. Checks the
 * forward product and the gradients of the operands that require grad against the oracle; with
 * `twice`, backward runs again and the gradients must double. */
static void check_matmul_grads(t_rng *r, const char *tag, int na, const int64_t *sa, int la,
                               bool grad_a, int nb, const int64_t *sb, int lb, bool grad_b,
                               bool weighted, bool twice)
{
    operand A = make_operand(r, na, sa, la), B = make_operand(r, nb, sb, lb);
    if (grad_a) cr_assert_eq(mt_set_requires_grad(A.t, true), MT_OK, "%s", mt_last_error());
    if (grad_b) cr_assert_eq(mt_set_requires_grad(B.t, true), MT_OK, "%s", mt_last_error());
    int nd;
    int64_t shape[MT_MAX_DIMS];
    double *want_c = oracle_matmul(na, sa, A.v, nb, sb, B.v, &nd, shape);
    const int64_t nc = prod64(nd, shape), batches = prod64(nd - 2, shape);
    const int64_t n = sa[na - 2], k = sa[na - 1], m = sb[nb - 1];
    double *w = weighted ? t_random_values(r, nc, -1, 1) : malloc(sizeof(double) * (size_t)nc);
    if (!weighted)
        for (int64_t i = 0; i < nc; i++) w[i] = 1.0;
    char what[300], s1[64], s2[64];
    snprintf(what, sizeof what, "%s [%s] a%s %s%s @ b%s %s%s, %s", tag, backend_now(),
             fmt_shape(s1, sizeof s1, na, sa), layout_name(la), grad_a ? " (grad)" : "",
             fmt_shape(s2, sizeof s2, nb, sb), layout_name(lb), grad_b ? " (grad)" : "",
             weighted ? "loss sum(C*W)" : "loss sum(C)");

    mt_tensor *c = mt_matmul(A.t, B.t);
    cr_assert_not_null(c, "%s: %s", what, mt_last_error());
    t_expect_shape(c, nd, shape);
    t_expect_close(what, c, want_c, MM_ATOL(k), MM_RTOL(k));
    mt_tensor *wt = weighted ? t_tensor(r, nd, shape, w, L_CONTIG) : NULL;
    mt_tensor *prod = weighted ? mt_mul(c, wt) : NULL;
    mt_tensor *loss = mt_sum_all(weighted ? prod : c);
    cr_assert_not_null(loss, "%s: %s", what, mt_last_error());

    double *ga = malloc(sizeof(double) * (size_t)prod64(na, sa));
    double *gb = malloc(sizeof(double) * (size_t)prod64(nb, sb));
    mm_oracle_grads(na, sa, A.v, nb, sb, B.v, w, ga, gb);
    /* products summed into one gradient element */
    const int64_t terms_a = batches * m, terms_b = batches * n;

    for (int pass = 1; pass <= (twice ? 2 : 1); pass++) {
        cr_assert_eq(mt_backward(loss), MT_OK, "%s: backward: %s", what, mt_last_error());
        char label[360];
        if (grad_a) {
            mt_tensor *g = mt_grad(A.t);
            t_expect_shape(g, na, sa);
            snprintf(label, sizeof label, "%s: grad a (pass %d)", what, pass);
            t_expect_close(label, g, ga, MM_ATOL(terms_a) * pass, MM_RTOL(terms_a));
            mt_release(g);
        }
        if (grad_b) {
            mt_tensor *g = mt_grad(B.t);
            t_expect_shape(g, nb, sb);
            snprintf(label, sizeof label, "%s: grad b (pass %d)", what, pass);
            t_expect_close(label, g, gb, MM_ATOL(terms_b) * pass, MM_RTOL(terms_b));
            mt_release(g);
        }
        /* the second pass adds the same gradient again */
        for (int64_t i = 0; i < prod64(na, sa); i++) ga[i] *= (double)(pass + 1) / pass;
        for (int64_t i = 0; i < prod64(nb, sb); i++) gb[i] *= (double)(pass + 1) / pass;
    }
    mt_release(loss);
    mt_release(prod);
    mt_release(wt);
    mt_release(c);
    free(ga);
    free(gb);
    free(w);
    free(want_c);
    operand_free(&A);
    operand_free(&B);
}

/* (D,n,k) @ (1,k,m) and (D,n,k) @ (k,m) with b requiring grad: b's gradient sums A^T dC over
 * the batch (the accumulating TN product). */
Test(matmul, gradient_batch_broadcast_b)
{
    t_rng r = t_rng_seed(71);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int weighted = 0; weighted < 2; weighted++) {
            for (int l = 0; l < L_COUNT; l++) {
                check_matmul_grads(&r, "grad (D,n,k)@(1,k,m)", SHAPE(3, 4, 5), l, true,
                                   SHAPE(1, 5, 2), (l + 1) % L_COUNT, true, weighted, false);
                check_matmul_grads(&r, "grad (D,n,k)@(k,m)", SHAPE(4, 3, 2), l, false,
                                   SHAPE(2, 6), (l + 2) % L_COUNT, true, weighted, false);
            }
            check_matmul_grads(&r, "grad large (D,n,k)@(1,k,m)", SHAPE(3, 70, 130), L_CONTIG,
                               true, SHAPE(1, 130, 67), L_CONTIG, true, weighted, false);
            check_matmul_grads(&r, "grad large (D,n,k)@(k,m)", SHAPE(2, 100, 97), L_PERMUTED,
                               false, SHAPE(97, 110), L_NARROWED, true, weighted, false);
            check_matmul_grads(&r, "grad many small (D,n,k)@(k,m)", SHAPE(16, 5, 7), L_CONTIG,
                               true, SHAPE(7, 3), L_TRANSPOSED, true, weighted, false);
        }
    }
}

/* The mirror case: a 2-D / (1,n,k) a requiring grad, batched b: dA = sum over the batch of
 * dC B^T (the accumulating NT product). */
Test(matmul, gradient_batch_broadcast_a)
{
    t_rng r = t_rng_seed(72);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int l = 0; l < L_COUNT; l++) {
            check_matmul_grads(&r, "grad (n,k)@(D,k,m)", SHAPE(3, 5), l, true, SHAPE(4, 5, 2),
                               (l + 1) % L_COUNT, false, true, false);
            check_matmul_grads(&r, "grad (1,n,k)@(D,k,m)", SHAPE(1, 6, 5), l, true,
                               SHAPE(3, 5, 7), (l + 3) % L_COUNT, true, true, false);
        }
        check_matmul_grads(&r, "grad large (n,k)@(D,k,m)", SHAPE(67, 130), L_TRANSPOSED, true,
                           SHAPE(3, 130, 70), L_CONTIG, false, true, false);
    }
}

/* 2-D gradients of several shapes, 4-D batch broadcasting gradients (kept and summed batch
 * dims in one product), and gradients accumulating over two backward passes. */
Test(matmul, gradient_shapes_and_accumulation)
{
    t_rng r = t_rng_seed(73);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        static const int64_t shapes[][3] = {{1, 1, 1}, {7, 13, 31}, {33, 64, 2}, {130, 257, 65}};
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t *x = shapes[s];
            check_matmul_grads(&r, "grad 2-D", SHAPE(x[0], x[1]), (int)s % L_COUNT, true,
                               SHAPE(x[1], x[2]), (int)(s + 1) % L_COUNT, true, true, false);
        }
        for (int l = 0; l < L_COUNT; l++)
            check_matmul_grads(&r, "grad 4-D", SHAPE(2, 1, 3, 4), l, true, SHAPE(1, 5, 4, 2),
                               (l + 1) % L_COUNT, true, true, false);
        check_matmul_grads(&r, "grad twice", SHAPE(3, 4, 5), L_CONTIG, true, SHAPE(1, 5, 6),
                           L_CONTIG, true, true, true);
        check_matmul_grads(&r, "grad twice 2-D", SHAPE(40, 30), L_NARROWED, true, SHAPE(30, 20),
                           L_TRANSPOSED, true, false, true);
    }
}

/* mt_linear's gradients: dx = dY W^T, dW = sum over the batch of x^T dY, dbias = column sums. */
Test(matmul, linear_gradients)
{
    t_rng r = t_rng_seed(74);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int l = 0; l < L_COUNT; l++) {
            const int64_t Bt = 3, n = 5, in = 7, out = 4;
            operand X = make_operand(&r, SHAPE(Bt, n, in), l);
            operand W = make_operand(&r, SHAPE(in, out), (l + 1) % L_COUNT);
            double *bv = t_random_values(&r, out, -1, 1);
            mt_tensor *bias = t_tensor(&r, SHAPE(out), bv, L_CONTIG);
            cr_assert_eq(mt_set_requires_grad(X.t, true), MT_OK);
            cr_assert_eq(mt_set_requires_grad(W.t, true), MT_OK);
            cr_assert_eq(mt_set_requires_grad(bias, true), MT_OK);
            double *dy = t_random_values(&r, Bt * n * out, -1, 1);
            mt_tensor *dyt = t_tensor(&r, SHAPE(Bt, n, out), dy, L_CONTIG);
            mt_tensor *y = mt_linear(X.t, W.t, bias), *p = mt_mul(y, dyt), *loss = mt_sum_all(p);
            cr_assert_not_null(loss, "%s", mt_last_error());
            cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
            double *gx = malloc(sizeof(double) * (size_t)(Bt * n * in));
            double *gw = malloc(sizeof(double) * (size_t)(in * out));
            mm_oracle_grads(X.nd, X.shape, X.v, W.nd, W.shape, W.v, dy, gx, gw);
            double gbias[4] = {0};
            for (int64_t i = 0; i < Bt * n; i++)
                for (int64_t j = 0; j < out; j++) gbias[j] += dy[i * out + j];
            mt_tensor *g = mt_grad(X.t);
            t_expect_shape(g, X.nd, X.shape);
            t_expect_close("linear grad x", g, gx, MM_ATOL(out), MM_RTOL(out));
            mt_release(g);
            g = mt_grad(W.t);
            t_expect_shape(g, W.nd, W.shape);
            t_expect_close("linear grad w", g, gw, MM_ATOL(Bt * n), MM_RTOL(Bt * n));
            mt_release(g);
            g = mt_grad(bias);
            t_expect_shape(g, SHAPE(out));
            t_expect_close("linear grad bias", g, gbias, MM_ATOL(Bt * n), MM_RTOL(Bt * n));
            mt_release(g);
            mt_release(loss);
            mt_release(p);
            mt_release(y);
            mt_release(dyt);
            mt_release(bias);
            free(gx);
            free(gw);
            free(dy);
            free(bv);
            operand_free(&X);
            operand_free(&W);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Tracing helpers.                                                                            */

/* A fresh temporary file name (the file exists and is empty). */
static void temp_path(char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/minitorch-test-matmul-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp failed");
    close(fd);
}

typedef struct trace_line {
    char backend[16], path[128];
    int threads;
} trace_line;

/* Reads the op=matmul lines of a trace file; returns how many (at most cap). */
static int read_matmul_trace(const char *file, trace_line *lines, int cap)
{
    FILE *f = fopen(file, "r");
    cr_assert_not_null(f, "cannot read the trace file %s", file);
    char *buf = NULL;
    size_t len = 0;
    int count = 0;
    while (getline(&buf, &len, f) > 0) {
        if (!strstr(buf, "op=matmul")) continue;
        cr_assert_lt(count, cap, "more matmul trace lines than expected");
        trace_line *t = &lines[count++];
        const char *b = strstr(buf, "backend="), *p = strstr(buf, "path="), *th = strstr(buf, "threads=");
        cr_assert(b && p && th, "malformed trace line: %s", buf);
        cr_assert_eq(sscanf(b, "backend=%15s", t->backend), 1);
        cr_assert_eq(sscanf(p, "path=%127s", t->path), 1);
        cr_assert_eq(sscanf(th, "threads=%d", &t->threads), 1);
    }
    free(buf);
    fclose(f);
    return count;
}

/* ------------------------------------------------------------------------------------------ */
/* Determinism of the naive backend across thread counts.                                      */

Test(matmul, naive_deterministic_across_threads)
{
    t_rng r = t_rng_seed(81);
    t_use_backend(0);
    char path[64];
    temp_path(path, sizeof path);
    struct {
        int nd, la, lb;
        int64_t a[3], b[3];
    } const cases[] = {
        {2, L_CONTIG, L_CONTIG, {300, 200}, {200, 190}},
        {2, L_PERMUTED, L_TRANSPOSED, {300, 200}, {200, 190}}, /* gathered b tiles */
        {3, L_CONTIG, L_NARROWED, {3, 130, 140}, {1, 140, 150}},
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    cr_assert_eq(mt_set_trace(true, path), MT_OK, "%s", mt_last_error());
    for (int c = 0; c < ncases; c++) {
        operand A = make_operand(&r, cases[c].nd, cases[c].a, cases[c].la);
        operand B = make_operand(&r, cases[c].nd, cases[c].b, cases[c].lb);
        float *first = NULL;
        int64_t numel = 0;
        for (int threads = 1; threads <= 3; threads++) {
            cr_assert_eq(mt_set_num_threads(threads), MT_OK);
            mt_tensor *out = mt_matmul(A.t, B.t);
            cr_assert_not_null(out, "%s", mt_last_error());
            numel = mt_numel(out);
            float *got = malloc(sizeof(float) * (size_t)numel);
            cr_assert_eq(mt_copy_to(out, got, numel), MT_OK);
            if (threads == 1) {
                first = got;
                int nd;
                int64_t shape[MT_MAX_DIMS];
                double *want = oracle_matmul(A.nd, A.shape, A.v, B.nd, B.shape, B.v, &nd, shape);
                int64_t k = A.shape[A.nd - 1];
                t_expect_close("deterministic case vs oracle", out, want, MM_ATOL(k), MM_RTOL(k));
                free(want);
            } else {
                cr_assert(memcmp(first, got, sizeof(float) * (size_t)numel) == 0,
                          "case %d: result with %d threads differs bitwise from 1 thread", c,
                          threads);
                free(got);
            }
            mt_release(out);
        }
        free(first);
        operand_free(&A);
        operand_free(&B);
    }
    cr_assert_eq(mt_set_trace(false, NULL), MT_OK);
    cr_assert_eq(mt_set_num_threads(0), MT_OK);
    /* the products really ran on 1, then several threads */
    trace_line lines[16];
    int count = read_matmul_trace(path, lines, 16);
    unlink(path);
    cr_assert_eq(count, 3 * ncases, "%d matmul trace lines, expected %d", count, 3 * ncases);
    for (int i = 0; i < count; i++) {
        int threads = i % 3 + 1;
        cr_assert_str_eq(lines[i].backend, "naive");
        if (threads == 1)
            cr_assert_eq(lines[i].threads, 1, "line %d: %d threads with the setting 1", i, lines[i].threads);
        else
            cr_assert_gt(lines[i].threads, 1, "line %d: the setting %d ran on %d thread(s): the "
                         "determinism check did not exercise several threads", i, threads,
                         lines[i].threads);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Called from inside the caller's own OpenMP parallel region.                                 */

#ifdef _OPENMP
#define OMP_TEAM 4

/* One product inside a thread: a (.., n, k) @ b (.., k, m) from plain arrays (b optionally an
 * mt_transpose view, or an mt_expand of (.., k, 1) that blas must copy), checked against the oracle without Criterion asserts. Returns false with
 * a message on failure. All tensors are owned by the thread's scope. */
enum { B_PLAIN, B_TRANSPOSED, B_EXPANDED };

static bool omp_one_product(t_rng *r, int na, const int64_t *sa, int nb, const int64_t *sb,
                            int b_mode, char *msg, size_t cap)
{
    const int64_t an = prod64(na, sa), bn = prod64(nb, sb);
    double *va = malloc(sizeof(double) * (size_t)an), *vb = malloc(sizeof(double) * (size_t)bn);
    float *fa = malloc(sizeof(float) * (size_t)an), *fb = malloc(sizeof(float) * (size_t)bn);
    bool ok = va && vb && fa && fb;
    if (!ok) snprintf(msg, cap, "out of memory");
    for (int64_t i = 0; ok && i < an; i++) fa[i] = (float)(va[i] = (float)t_rng_uniform(r, -1, 1));
    for (int64_t i = 0; ok && i < bn; i++) vb[i] = (float)t_rng_uniform(r, -1, 1);
    if (ok && b_mode == B_EXPANDED) /* every column equals column 0 */
        for (int64_t i = 0; i < bn; i++) vb[i] = vb[i - i % sb[nb - 1]];
    mt_tensor *a = NULL, *b = NULL;
    if (ok) {
        a = mt_from_data(na, sa, fa);
        if (b_mode == B_TRANSPOSED) { /* storage holds b with its last two dims swapped */
            int64_t st[MT_MAX_DIMS];
            memcpy(st, sb, sizeof(int64_t) * (size_t)nb);
            int64_t rr = sb[nb - 2], cc = sb[nb - 1];
            st[nb - 2] = cc;
            st[nb - 1] = rr;
            for (int64_t q = 0; q < bn / (rr * cc); q++)
                for (int64_t i = 0; i < rr; i++)
                    for (int64_t j = 0; j < cc; j++) fb[q * rr * cc + j * rr + i] = (float)vb[q * rr * cc + i * cc + j];
            b = mt_transpose(mt_from_data(nb, st, fb), -2, -1);
        } else if (b_mode == B_EXPANDED) { /* storage holds (.., k, 1) */
            int64_t st[MT_MAX_DIMS];
            memcpy(st, sb, sizeof(int64_t) * (size_t)nb);
            st[nb - 1] = 1;
            for (int64_t i = 0; i < bn / sb[nb - 1]; i++) fb[i] = (float)vb[i * sb[nb - 1]];
            b = mt_expand(mt_from_data(nb, st, fb), nb, sb);
        } else {
            for (int64_t i = 0; i < bn; i++) fb[i] = (float)vb[i];
            b = mt_from_data(nb, sb, fb);
        }
        if (!a || !b) {
            snprintf(msg, cap, "building operands: %s", mt_last_error());
            ok = false;
        }
    }
    int nd = 0;
    int64_t shape[MT_MAX_DIMS];
    if (ok && !mm_result_shape(na, sa, nb, sb, &nd, shape)) {
        snprintf(msg, cap, "bad test shapes");
        ok = false;
    }
    mt_tensor *c = ok ? mt_matmul(a, b) : NULL;
    if (ok && !c) {
        snprintf(msg, cap, "mt_matmul returned NULL: %s", mt_last_error());
        ok = false;
    }
    if (ok && (mt_ndim(c) != nd || memcmp(mt_shape(c), shape, sizeof(int64_t) * (size_t)nd) != 0)) {
        snprintf(msg, cap, "wrong result shape");
        ok = false;
    }
    if (ok) {
        const int64_t cn = prod64(nd, shape), k = sa[na - 1];
        double *want = malloc(sizeof(double) * (size_t)cn);
        float *got = malloc(sizeof(float) * (size_t)cn);
        if (!want || !got || mt_copy_to(c, got, cn) != MT_OK) {
            snprintf(msg, cap, "reading the result failed");
            ok = false;
        } else {
            mm_oracle_into(na, sa, va, nb, sb, vb, want);
            for (int64_t i = 0; i < cn && ok; i++)
                if (!(fabs(got[i] - want[i]) <= MM_ATOL(k) + MM_RTOL(k) * fabs(want[i]))) {
                    snprintf(msg, cap, "element %lld is %.9g, expected %.9g (n=%lld k=%lld m=%lld%s)",
                             (long long)i, got[i], want[i], (long long)sa[na - 2], (long long)k,
                             (long long)sb[nb - 1], b_mode == B_TRANSPOSED ? ", b transposed" : b_mode == B_EXPANDED ? ", b expanded" : "");
                    ok = false;
                }
        }
        free(want);
        free(got);
    }
    free(va);
    free(vb);
    free(fa);
    free(fb);
    return ok;
}

static void omp_region_case(int backend)
{
    t_use_backend(backend);
    char msgs[OMP_TEAM][300];
    int done[OMP_TEAM] = {0}, team = 0;
    memset(msgs, 0, sizeof msgs);
#pragma omp parallel num_threads(OMP_TEAM)
    {
        const int tid = omp_get_thread_num();
        if (tid == 0) team = omp_get_num_threads();
        char *msg = msgs[tid];
        t_rng r = t_rng_seed(900 + (uint64_t)(tid + OMP_TEAM * backend));
        mt_scope s = mt_scope_begin();
        bool ok = s.depth == 1;
        if (!ok) snprintf(msg, 300, "mt_scope_begin failed: %s", mt_last_error());
        for (int it = 0; ok && it < 3; it++) {
            const int64_t n = 1 + (int64_t)t_rng_int(&r, 0, 40), k = 1 + (int64_t)t_rng_int(&r, 0, 40),
                          m = 1 + (int64_t)t_rng_int(&r, 0, 40);
            const int mode = it % 3; /* plain, transposed, expanded (blas copies into scratch) */
            ok = omp_one_product(&r, SHAPE(n, k), SHAPE(k, m), mode, msg, 300) &&
                 /* large enough that outside a region it would use several threads / big sgemm */
                 omp_one_product(&r, SHAPE(150, 130), SHAPE(130, 140), (it + 1) % 3, msg, 300) &&
                 omp_one_product(&r, SHAPE(4, 9, 20), SHAPE(4, 20, 11), (it + 2) % 3, msg, 300) &&
                 omp_one_product(&r, SHAPE(3, 70, 65), SHAPE(1, 65, 33), mode, msg, 300) &&
                 /* many small products: batch-parallel outside a region */
                 omp_one_product(&r, SHAPE(16, 5, 7), SHAPE(7, 3), (it + 1) % 3, msg, 300);
        }
        if (mt_scope_end(s) != MT_OK && ok) snprintf(msg, 300, "mt_scope_end: %s", mt_last_error());
        done[tid] = 1;
    }
    cr_assert_eq(team, OMP_TEAM, "the parallel region ran %d threads", team);
    for (int t = 0; t < OMP_TEAM; t++) {
        cr_assert(done[t], "thread %d did not finish", t);
        cr_assert(msgs[t][0] == '\0', "[%s] thread %d: %s", backend_now(), t, msgs[t]);
    }
}

#endif /* _OPENMP */

Test(matmul, inside_openmp_parallel_region, .timeout = 300)
{
#ifndef _OPENMP
    cr_assert_fail("tests/test_matmul.c was compiled without OpenMP (no -fopenmp): the test executable "
            "does not get OpenMP::OpenMP_C from the minitorch target, so the OpenMP-region test "
            "cannot run. Link OpenMP::OpenMP_C into the tests.");
#else
    omp_region_case(0);
    omp_region_case(1);
#endif
    /* and the library still works normally afterwards */
    t_rng r = t_rng_seed(91);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        check_product(&r, "after the region", SHAPE(150, 130), L_CONTIG, SHAPE(130, 140), L_CONTIG);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Errors.                                                                                     */

Test(matmul, errors)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a23 = mt_ones(SHAPE(2, 3)), *b45 = mt_ones(SHAPE(4, 5)), *b34 = mt_ones(SHAPE(3, 4));
        mt_tensor *v3 = mt_ones(SHAPE(3)), *a234 = mt_ones(SHAPE(2, 3, 4)), *b345 = mt_ones(SHAPE(3, 4, 5));
        mt_tensor *a4 = mt_ones(SHAPE(2, 3, 2, 2)), *b4 = mt_ones(SHAPE(4, 2, 2));

        /* inner dims differ; the message names both shapes */
        mt_clear_error();
        cr_assert_null(mt_matmul(a23, b45));
        t_expect_error(MT_ERR_SHAPE, "mt_matmul");
        cr_assert(strstr(mt_last_error(), "[2,3]") && strstr(mt_last_error(), "[4,5]"),
                  "message does not name the shapes: %s", mt_last_error());
        /* rank < 2 on either side */
        mt_clear_error();
        cr_assert_null(mt_matmul(v3, b34));
        t_expect_error(MT_ERR_SHAPE, "mt_matmul");
        mt_clear_error();
        cr_assert_null(mt_matmul(a23, v3));
        t_expect_error(MT_ERR_SHAPE, "mt_matmul");
        /* batch dims that do not broadcast */
        mt_clear_error();
        cr_assert_null(mt_matmul(a234, b345));
        t_expect_error(MT_ERR_BROADCAST, "mt_matmul");
        mt_clear_error();
        cr_assert_null(mt_matmul(a4, b4));
        t_expect_error(MT_ERR_BROADCAST, "mt_matmul");
        /* NULL operands */
        mt_clear_error();
        cr_assert_null(mt_matmul(NULL, b34));
        t_expect_error(MT_ERR_NULL, "mt_matmul");
        mt_clear_error();
        cr_assert_null(mt_matmul(a23, NULL));
        t_expect_error(MT_ERR_NULL, "mt_matmul");
        /* a NULL from a failed inner call keeps the first error */
        mt_clear_error();
        cr_assert_null(mt_matmul(mt_matmul(a23, b45), b34));
        t_expect_error(MT_ERR_SHAPE, "mt_matmul");
        cr_assert(strstr(mt_last_error(), "[4,5]"), "the first error was replaced: %s", mt_last_error());

        /* mt_matmul_out: wrong output shapes leave the output untouched */
        mt_tensor *out25 = mt_full(SHAPE(2, 5), 7.0f), *out124 = mt_full(SHAPE(1, 2, 4), 7.0f);
        mt_tensor *out24 = mt_full(SHAPE(2, 4), 7.0f);
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(out25, a23, b34), MT_ERR_SHAPE);
        t_expect_error(MT_ERR_SHAPE, "mt_matmul_out");
        t_expect_close("out after a failed mt_matmul_out", out25,
                       (double[]){7, 7, 7, 7, 7, 7, 7, 7, 7, 7}, 0, 0);
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(out124, a23, b34), MT_ERR_SHAPE);
        t_expect_error(MT_ERR_SHAPE, "mt_matmul_out");
        t_expect_close("out after a failed mt_matmul_out", out124, (double[]){7, 7, 7, 7, 7, 7, 7, 7}, 0, 0);
        /* inner dims differ / NULL arguments */
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(out24, a23, b45), MT_ERR_SHAPE);
        t_expect_error(MT_ERR_SHAPE, "mt_matmul_out");
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(NULL, a23, b34), MT_ERR_NULL);
        t_expect_error(MT_ERR_NULL, "mt_matmul_out");
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(out24, NULL, b34), MT_ERR_NULL);
        t_expect_error(MT_ERR_NULL, "mt_matmul_out");
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(out24, a23, NULL), MT_ERR_NULL);
        t_expect_error(MT_ERR_NULL, "mt_matmul_out");
        /* an expanded output (overlapping elements) and an output sharing an input's storage */
        mt_tensor *row = mt_full(SHAPE(1, 4), 7.0f), *expanded = mt_expand(row, SHAPE(2, 4));
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(expanded, a23, b34), MT_ERR_INVALID_ARG);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_matmul_out");
        t_expect_close("row after a refused expanded output", row, (double[]){7, 7, 7, 7}, 0, 0);
        mt_tensor *sq = mt_ones(SHAPE(3, 3));
        mt_clear_error();
        cr_assert_neq(mt_matmul_out(sq, sq, sq), MT_OK);
        t_expect_error(MT_ERR_INVALID_ARG, "mt_matmul_out");
        t_expect_close("aliased out untouched", sq, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 0, 0);
        /* the valid call still works after all that */
        mt_clear_error();
        cr_assert_eq(mt_matmul_out(out24, a23, b34), MT_OK, "%s", mt_last_error());
        t_expect_close("ones(2,3) @ ones(3,4)", out24, (double[]){3, 3, 3, 3, 3, 3, 3, 3}, 0, 0);

        mt_release(sq);
        mt_release(expanded);
        mt_release(row);
        mt_release(out25);
        mt_release(out124);
        mt_release(out24);
        mt_release(a23);
        mt_release(b45);
        mt_release(b34);
        mt_release(v3);
        mt_release(a234);
        mt_release(b345);
        mt_release(a4);
        mt_release(b4);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The trace: which path each product took.                                                    */

Test(matmul, trace_paths)
{
    t_rng r = t_rng_seed(101);
    char path[64];
    temp_path(path, sizeof path);
    operand A = make_operand(&r, SHAPE(20, 30), L_CONTIG), B = make_operand(&r, SHAPE(30, 25), L_CONTIG);
    operand At = make_operand(&r, SHAPE(20, 30), L_TRANSPOSED);
    operand Bt = make_operand(&r, SHAPE(30, 25), L_TRANSPOSED);
    operand Ae = make_expanded(&r, 2, (const int64_t[]){1, 30}, (const int64_t[]){20, 30});
    operand Be = make_expanded(&r, 2, (const int64_t[]){30, 1}, (const int64_t[]){30, 25});
    const operand *pairs[][2] = {{&A, &B}, {&At, &B}, {&A, &Bt}, {&At, &Bt}, {&Ae, &B}, {&A, &Be}};
    const int npairs = (int)(sizeof pairs / sizeof pairs[0]);

    t_use_backend(1);
    cr_assert_eq(mt_set_trace(true, path), MT_OK, "%s", mt_last_error());
    cr_assert(mt_trace_enabled());
    for (int i = 0; i < npairs; i++) check_operands("traced blas", pairs[i][0], pairs[i][1]);
    t_use_backend(0);
    for (int i = 0; i < npairs; i++) check_operands("traced naive", pairs[i][0], pairs[i][1]);
    cr_assert_eq(mt_set_trace(false, NULL), MT_OK);
    cr_assert(!mt_trace_enabled());
    /* nothing more is written once tracing is off */
    check_operands("untraced", &A, &B);

    trace_line lines[32];
    int count = read_matmul_trace(path, lines, 32);
    unlink(path);
    cr_assert_eq(count, 2 * npairs, "%d matmul trace lines, expected %d", count, 2 * npairs);
    for (int i = 0; i < npairs; i++) {
        const char *p = lines[i].path;
        cr_assert_str_eq(lines[i].backend, "blas");
        cr_assert(strncmp(p, "sgemm-", 6) == 0, "blas path \"%s\" does not start with sgemm-", p);
        bool ta = pairs[i][0] == &At || pairs[i][0] == &Bt, tb = pairs[i][1] == &Bt;
        cr_assert_eq(p[6], ta ? 'T' : 'N', "pair %d: path \"%s\", a %s", i, p, ta ? "transposed" : "not transposed");
        cr_assert_eq(p[7], tb ? 'T' : 'N', "pair %d: path \"%s\", b %s", i, p, tb ? "transposed" : "not transposed");
        bool ea = pairs[i][0] == &Ae, eb = pairs[i][1] == &Be;
        cr_assert_eq(strstr(p, "copied-a") != NULL, ea, "pair %d: path \"%s\"", i, p);
        cr_assert_eq(strstr(p, "copied-b") != NULL, eb, "pair %d: path \"%s\"", i, p);
        cr_assert_eq(strstr(p, "copied") != NULL, ea || eb, "pair %d: path \"%s\"", i, p);
    }
    for (int i = npairs; i < 2 * npairs; i++) {
        cr_assert_str_eq(lines[i].backend, "naive");
        cr_assert(strncmp(lines[i].path, "naive-", 6) == 0, "naive path \"%s\"", lines[i].path);
    }
    operand_free(&A);
    operand_free(&B);
    operand_free(&At);
    operand_free(&Bt);
    operand_free(&Ae);
    operand_free(&Be);
}

/* ------------------------------------------------------------------------------------------ */
/* Output buffers reused from the storage cache; NaN propagation.                              */

Test(matmul, reused_buffers_and_nan)
{
    t_rng r = t_rng_seed(111);
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        for (int round = 0; round < 3; round++) {
            /* a freed NaN buffer of the result's size is likely handed to the next product */
            mt_release(mt_full(SHAPE(33, 70), NAN));
            mt_release(mt_full(SHAPE(4, 33, 70), NAN));
            check_product(&r, "over a reused NaN buffer", SHAPE(33, 64), L_CONTIG, SHAPE(64, 70), round % L_COUNT);
            mt_release(mt_full(SHAPE(4, 33, 70), NAN));
            check_product(&r, "batched over a reused NaN buffer", SHAPE(4, 33, 5), round % L_COUNT,
                          SHAPE(1, 5, 70), L_CONTIG);
        }
        /* a NaN in a spreads along its row only; an inf in b along its column */
        operand A = make_operand(&r, SHAPE(5, 40), L_CONTIG), B = make_operand(&r, SHAPE(40, 6), L_CONTIG);
        cr_assert_eq(mt_set(A.t, (const int64_t[]){2, 17}, NAN), MT_OK);
        A.v[2 * 40 + 17] = NAN;
        check_operands("NaN in a", &A, &B);
        operand_free(&A);
        operand_free(&B);
    }
}
