/* Layer norm and embedding against oracles written here: the normalisation in double with the
 * test's own index walking, its gradient by central differences of that double oracle, and the
 * embedding's rows and scatter-added gradient by hand. */
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 3, FEAT = 5 };

/* loss = sum_ij c_ij * layer_norm(x)_ij * w_j + b_j, in double. */
static double oracle_loss(const double *x, const double *w, const double *b, const double *c,
                          double eps, double *y)
{
    double loss = 0;
    for (int i = 0; i < ROWS; i++) {
        double mean = 0, var = 0;
        for (int j = 0; j < FEAT; j++) mean += x[i * FEAT + j];
        mean /= FEAT;
        for (int j = 0; j < FEAT; j++) var += (x[i * FEAT + j] - mean) * (x[i * FEAT + j] - mean);
        var /= FEAT;
        for (int j = 0; j < FEAT; j++) {
            double v = (x[i * FEAT + j] - mean) / sqrt(var + eps) * w[j] + b[j];
            if (y) y[i * FEAT + j] = v;
            loss += c[i * FEAT + j] * v;
        }
    }
    return loss;
}

Test(layer_norm, values_and_gradients_against_double)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        t_rng r = t_rng_seed(31 + (uint64_t)be);
        double *x = t_random_values(&r, ROWS * FEAT, -2, 2), *c = t_random_values(&r, ROWS * FEAT, -1, 1);
        double *w = t_random_values(&r, FEAT, 0.5, 1.5), *b = t_random_values(&r, FEAT, -1, 1);
        for (int i = 0; i < ROWS * FEAT; i++) x[i] = (float)x[i], c[i] = (float)c[i];
        for (int j = 0; j < FEAT; j++) w[j] = (float)w[j], b[j] = (float)b[j];
        const double eps = 1e-5;
        for (int layout = 0; layout < 3; layout++) {
            mt_scope s = mt_scope_begin();
            mt_tensor *tx = t_tensor(&r, 2, (const int64_t[]){ROWS, FEAT}, x, layout);
            mt_tensor *tw = t_tensor(&r, 1, (const int64_t[]){FEAT}, w, 0);
            mt_tensor *tb = t_tensor(&r, 1, (const int64_t[]){FEAT}, b, 0);
            mt_tensor *tc = t_tensor(&r, 2, (const int64_t[]){ROWS, FEAT}, c, 0);
            mt_set_requires_grad(tx, true);
            mt_set_requires_grad(tw, true);
            mt_set_requires_grad(tb, true);
            mt_tensor *y = mt_layer_norm(tx, 1, tw, tb, (float)eps);
            cr_assert_not_null(y, "%s", mt_last_error());
            double want[ROWS * FEAT];
            oracle_loss(x, w, b, c, eps, want);
            /* float arithmetic over 5-term sums and a rsqrt: a few float ulps of the O(1) values */
            t_expect_close("layer_norm", y, want, 1e-5, 1e-5);
            cr_assert_eq(mt_backward(mt_sum_all(mt_mul(y, tc))), MT_OK, "%s", mt_last_error());
            /* central differences of the double oracle (h = 1e-6: truncation ~h^2, rounding
             * ~1e-16/h; the library's float gradient carries ~1e-6 relative error) */
            double *args[3] = {x, w, b};
            mt_tensor *leaves[3] = {tx, tw, tb};
            const int sizes[3] = {ROWS * FEAT, FEAT, FEAT};
            for (int a = 0; a < 3; a++) {
                double *num = malloc(sizeof(double) * (size_t)sizes[a]);
                for (int k = 0; k < sizes[a]; k++) {
                    double keep = args[a][k], h = 1e-6;
                    args[a][k] = keep + h;
                    double up = oracle_loss(x, w, b, c, eps, NULL);
                    args[a][k] = keep - h;
                    double down = oracle_loss(x, w, b, c, eps, NULL);
                    args[a][k] = keep;
                    num[k] = (up - down) / (2 * h);
                }
                t_expect_close("layer_norm gradient", mt_grad(leaves[a]), num, 1e-4, 1e-3);
                free(num);
            }
            mt_scope_end(s);
        }
        free(x), free(c), free(w), free(b);
    }
}

Test(layer_norm, over_two_dims_without_affine)
{
    mt_scope s = mt_scope_begin();
    /* one row of 4 values 1, 2, 3, 4 seen as (2, 2): mean 2.5, variance 1.25 */
    mt_tensor *x = mt_from_data(MT_DIMS(1, 2, 2), (const float[]){1, 2, 3, 4});
    mt_tensor *y = mt_layer_norm(x, 2, NULL, NULL, 0.0f);
    const double sd = sqrt(1.25);
    t_expect_close("normalised", y, (const double[]){-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd}, 1e-6, 1e-6);
    mt_scope_end(s);
}

Test(layer_norm, errors)
{
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_ones(MT_DIMS(2, 3)), *w = mt_ones(MT_DIMS(4));
    mt_clear_error();
    cr_assert_null(mt_layer_norm(x, 3, NULL, NULL, 1e-5f));
    t_expect_error(MT_ERR_SHAPE, "mt_layer_norm");
    mt_clear_error();
    cr_assert_null(mt_layer_norm(x, 1, w, NULL, 1e-5f));
    t_expect_error(MT_ERR_SHAPE, "mt_layer_norm");
    mt_clear_error();
    cr_assert_null(mt_layer_norm(x, 1, NULL, NULL, -1.0f));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_layer_norm");
    mt_clear_error();
    cr_assert_null(mt_layer_norm(NULL, 1, NULL, NULL, 1e-5f));
    t_expect_error(MT_ERR_NULL, "mt_layer_norm");
    mt_scope_end(s);
}

Test(layer_norm, layer_initialises_as_pytorch_and_trains)
{
    mt_params params = {0};
    mt_layer_norm_layer ln;
    cr_assert_eq(mt_layer_norm_layer_init(&ln, 4, &params), MT_OK);
    cr_assert_eq(params.count, 2);
    t_expect_filled("weight", ln.weight, 1.0f);
    t_expect_filled("bias", ln.bias, 0.0f);
    mt_scope s = mt_scope_begin();
    mt_tensor *x = mt_from_data(MT_DIMS(2, 4), (const float[]){1, 2, 3, 4, -1, 0, 1, 5});
    mt_tensor *y = mt_layer_norm_layer_forward(&ln, x);
    cr_assert_not_null(y);
    /* d(sum y)/d bias = rows = 2 for every feature */
    cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK);
    t_expect_filled("bias gradient", mt_grad(ln.bias), 2.0f);
    mt_scope_end(s);
    mt_layer_norm_layer_free(&ln);
    mt_params_free(&params);
    mt_clear_error();
    cr_assert_eq(mt_layer_norm_layer_init(&ln, 0, NULL), MT_ERR_SHAPE);
}

Test(embedding, rows_and_scatter_added_gradient)
{
    mt_params params = {0};
    mt_embedding_layer emb;
    cr_assert_eq(mt_embedding_layer_init(&emb, 5, 3, 9, &params), MT_OK);
    cr_assert_eq(params.count, 1);
    float table[15];
    cr_assert_eq(mt_copy_to(emb.weight, table, 15), MT_OK);
    mt_scope s = mt_scope_begin();
    const int64_t idx[4] = {4, 0, 4, 2};
    mt_tensor *rows = mt_embedding_layer_forward(&emb, 4, idx);
    cr_assert_not_null(rows, "%s", mt_last_error());
    double want[12];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) want[i * 3 + j] = table[idx[i] * 3 + j];
    t_expect_close("rows", rows, want, 0, 0);
    cr_assert_eq(mt_backward(mt_sum_all(rows)), MT_OK);
    /* row 4 used twice, rows 0 and 2 once, rows 1 and 3 never */
    t_expect_close("gradient", mt_grad(emb.weight),
                   (const double[]){1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2}, 0, 0);
    mt_clear_error();
    cr_assert_null(mt_embedding_layer_forward(&emb, 1, (const int64_t[]){5}));
    cr_assert_eq(mt_last_status(), MT_ERR_INDEX);
    mt_scope_end(s);
    mt_embedding_layer_free(&emb);
    mt_params_free(&params);
}
