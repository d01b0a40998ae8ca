/* Autodiff graph behaviour: accumulation over uses and over backward calls, backward with a given
 * gradient, no-grad mode, detach, leaf rules, misuse errors, a 10^5-deep chain, and freeing the
 * graph (live tensor counts back to their start). Expected values are computed by hand or in
 * double by the test itself. Every test runs on both backends. */
#include "testing.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

static int64_t live_tensors(void)
{
    mt_memory_stats st;
    cr_assert_eq(mt_memory_get_stats(&st), MT_OK);
    return st.live_tensors;
}

static mt_tensor *leaf(int ndim, const int64_t *shape, const float *data)
{
    mt_tensor *t = mt_from_data(ndim, shape, data);
    cr_assert_not_null(t, "%s", mt_last_error());
    cr_assert_eq(mt_set_requires_grad(t, true), MT_OK, "%s", mt_last_error());
    return t;
}

/* Asserts t's gradient equals expected (within tol) and has t's shape. */
static void expect_grad(const char *what, const mt_tensor *t, const double *expected, double tol)
{
    mt_tensor *g = mt_grad(t);
    cr_assert_not_null(g, "%s: mt_grad: %s", what, mt_last_error());
    t_expect_shape(g, mt_ndim(t), mt_shape(t));
    t_expect_close(what, g, expected, tol, tol);
    if (mt_scope_depth() == 0) mt_release(g);
}

/* Asserts mt_grad(t) fails with MT_ERR_AUTODIFF. */
static void expect_no_grad(const char *what, const mt_tensor *t)
{
    mt_clear_error();
    mt_tensor *g = mt_grad(t);
    cr_assert_null(g, "%s: expected no gradient", what);
    t_expect_error(MT_ERR_AUTODIFF, "mt_grad");
    mt_clear_error();
}

/* ---- MiniTorch's test_grad_size and the diamonds ---- */

Test(graph, grad_size_broadcast)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a = leaf(MT_DIMS(1), (float[]){2});
        mt_tensor *b = leaf(MT_DIMS(1, 2), (float[]){3, 4});
        mt_scope s = mt_scope_begin();
        mt_tensor *c = mt_mul(a, b);
        t_expect_shape(c, MT_DIMS(1, 2));
        cr_assert_eq(mt_backward(mt_sum_all(c)), MT_OK, "%s", mt_last_error());
        mt_tensor *ga = mt_grad(a), *gb = mt_grad(b);
        t_expect_shape(ga, MT_DIMS(1));
        t_expect_shape(gb, MT_DIMS(1, 2));
        t_expect_close("grad a", ga, (double[]){7}, 0, 0);
        t_expect_close("grad b", gb, (double[]){2, 2}, 0, 0);
        mt_scope_end(s);
        mt_release(a);
        mt_release(b);
    }
}

/* MiniTorch's test_backprop4 with F1(x, y) = x + y + 10:
 * var2 = F1(0, var1); var0 = F1(0, var2); var3 = F1(var0, var2); d_out = 5 -> var1 gets 10. */
Test(graph, diamond_minitorch)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *var1 = leaf(MT_DIMS(1), (float[]){0});
        mt_scope s = mt_scope_begin();
        mt_tensor *zero = mt_scalar(0);
        mt_tensor *var2 = mt_add_scalar(mt_add(zero, var1), 10);
        mt_tensor *var0 = mt_add_scalar(mt_add(zero, var2), 10);
        mt_tensor *var3 = mt_add_scalar(mt_add(var0, var2), 10);
        t_expect_close("var3", var3, (double[]){40}, 0, 0);
        cr_assert_eq(mt_backward_with(var3, mt_scalar(5)), MT_OK, "%s", mt_last_error());
        expect_grad("var1", var1, (double[]){10}, 0);
        mt_scope_end(s);
        mt_release(var1);
    }
}

/* d = a * b; e = d + d: de/da = 2b, de/db = 2a. */
Test(graph, diamond_mul_add)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a = leaf(MT_DIMS(2, 2), (float[]){1, -2, 3, 0.5f});
        mt_tensor *b = leaf(MT_DIMS(2, 2), (float[]){4, 5, -6, 7});
        mt_scope s = mt_scope_begin();
        mt_tensor *d = mt_mul(a, b);
        mt_tensor *e = mt_add(d, d);
        cr_assert_eq(mt_backward(mt_sum_all(e)), MT_OK, "%s", mt_last_error());
        expect_grad("a", a, (double[]){8, 10, -12, 14}, 0);
        expect_grad("b", b, (double[]){2, -4, 6, 1}, 0);
        mt_scope_end(s);
        mt_release(a);
        mt_release(b);
    }
}

/* y = x * x + x, x used three times: dy/dx = 2x + 1. */
Test(graph, tensor_used_three_times)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = leaf(MT_DIMS(3), (float[]){1.5f, -2, 0});
        mt_scope s = mt_scope_begin();
        mt_tensor *y = mt_add(mt_mul(x, x), x);
        t_expect_close("y", y, (double[]){3.75, 2, 0}, 0, 0);
        cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK, "%s", mt_last_error());
        expect_grad("x", x, (double[]){4, -3, 1}, 0);
        mt_scope_end(s);
        mt_release(x);
    }
}

/* A leaf broadcast in two different ways in one graph: a (3,1) + b (1,4), then * a again. */
Test(graph, broadcast_leaf_used_twice)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a = leaf(MT_DIMS(3, 1), (float[]){1, 2, 3});
        mt_tensor *b = leaf(MT_DIMS(4), (float[]){1, 0, -1, 2});
        mt_scope s = mt_scope_begin();
        /* L = sum_ij (a_i + b_j) * a_i ; dL/da_i = sum_j (2 a_i + b_j) = 8 a_i + 2 ;
         * dL/db_j = sum_i a_i = 6 */
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul(mt_add(a, b), a))), MT_OK, "%s", mt_last_error());
        expect_grad("a", a, (double[]){10, 18, 26}, 0);
        expect_grad("b", b, (double[]){6, 6, 6, 6}, 0);
        mt_scope_end(s);
        mt_release(a);
        mt_release(b);
    }
}

/* Only inputs marked get gradients; the other input of the same op gets none. */
Test(graph, only_marked_leaves_get_gradients)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a = leaf(MT_DIMS(2), (float[]){3, -1});
        mt_tensor *b = mt_from_data(MT_DIMS(2), (float[]){0.5f, 4});
        mt_scope s = mt_scope_begin();
        mt_tensor *c = mt_mul(a, b);
        cr_assert(mt_requires_grad(c));
        cr_assert(!mt_is_leaf(c));
        cr_assert(mt_is_leaf(a) && mt_is_leaf(b));
        cr_assert(!mt_requires_grad(b));
        cr_assert_eq(mt_backward(mt_sum_all(c)), MT_OK, "%s", mt_last_error());
        expect_grad("a", a, (double[]){0.5, 4}, 0);
        expect_no_grad("b (not marked)", b);
        expect_no_grad("c (not a leaf)", c);
        mt_scope_end(s);
        mt_release(a);
        mt_release(b);
    }
}

/* max sends the gradient to the first maximal element when there are ties. */
Test(graph, max_ties_first_element)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *a = leaf(MT_DIMS(2, 3), (float[]){1, 3, 3, 2, 2, 2});
        mt_scope s = mt_scope_begin();
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul_scalar(mt_max(a, 1), 2))), MT_OK, "%s",
                     mt_last_error());
        expect_grad("max(dim 1)", a, (double[]){0, 2, 0, 2, 0, 0}, 0);
        mt_zero_grad(a);
        cr_assert_eq(mt_backward(mt_sum_all(mt_max(a, 0))), MT_OK, "%s", mt_last_error());
        expect_grad("max(dim 0)", a, (double[]){0, 1, 1, 1, 0, 0}, 0);
        mt_scope_end(s);
        mt_release(a);
    }
}

/* ---- repeated backward, zero_grad ---- */

/* L = sum(exp(x) + x*x + sigmoid(x)): saved outputs (exp, sigmoid) and a shared input; the graph
 * is kept after backward, so a second backward adds the same gradient again. */
Test(graph, repeated_backward_accumulates_until_zero_grad)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        const float xv[] = {0.5f, -1, 2, 0};
        mt_tensor *x = leaf(MT_DIMS(2, 2), xv);
        double once[4], twice[4];
        for (int i = 0; i < 4; i++) {
            double s = 1.0 / (1.0 + exp(-(double)xv[i]));
            once[i] = exp((double)xv[i]) + 2.0 * xv[i] + s * (1.0 - s);
            twice[i] = 2.0 * once[i];
        }
        mt_scope s = mt_scope_begin();
        mt_tensor *loss = mt_sum_all(mt_add(mt_add(mt_exp(x), mt_mul(x, x)), mt_sigmoid(x)));
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        expect_grad("after one backward", x, once, 1e-5);
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        expect_grad("after two backwards", x, twice, 1e-5);
        cr_assert_eq(mt_zero_grad(x), MT_OK);
        expect_no_grad("after zero_grad", x);
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        expect_grad("after zero_grad and backward", x, once, 1e-5);
        mt_scope_end(s);
        mt_release(x);
    }
}

/* Two different losses over the same leaf accumulate into one gradient. */
Test(graph, two_losses_accumulate)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = leaf(MT_DIMS(3), (float[]){1, 2, 3});
        mt_scope s = mt_scope_begin();
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul_scalar(x, 3))), MT_OK, "%s", mt_last_error());
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul(x, x))), MT_OK, "%s", mt_last_error());
        expect_grad("3 + 2x", x, (double[]){5, 7, 9}, 0);
        mt_scope_end(s);
        mt_release(x);
    }
}

/* ---- backward with a given gradient ---- */

Test(graph, backward_with_non_scalar)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = leaf(MT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
        mt_tensor *c = mt_from_data(MT_DIMS(2, 3), (float[]){2, -1, 0.5f, 3, 1, -2});
        mt_scope s = mt_scope_begin();
        mt_tensor *y = mt_mul(x, c);
        mt_tensor *g = mt_from_data(MT_DIMS(2, 3), (float[]){1, 2, 3, -1, -2, 4});
        cr_assert_eq(mt_backward_with(y, g), MT_OK, "%s", mt_last_error());
        expect_grad("contiguous grad", x, (double[]){2, -2, 1.5, -3, -2, -8}, 0);

        /* a non-contiguous grad: the transpose of a (3, 2) tensor */
        mt_zero_grad(x);
        mt_tensor *gt = mt_transpose(mt_from_data(MT_DIMS(3, 2), (float[]){1, -1, 2, -2, 3, 4}), 0, 1);
        cr_assert(!mt_is_contiguous(gt));
        cr_assert_eq(mt_backward_with(y, gt), MT_OK, "%s", mt_last_error());
        /* gt = [[1, 2, 3], [-1, -2, 4]] */
        expect_grad("transposed grad", x, (double[]){2, -2, 1.5, -3, -2, -8}, 0);

        /* an expanded grad (zero strides): (1, 3) -> (2, 3) */
        mt_zero_grad(x);
        mt_tensor *ge = mt_expand(mt_from_data(MT_DIMS(1, 3), (float[]){1, 10, 100}), MT_DIMS(2, 3));
        cr_assert_eq(mt_backward_with(y, ge), MT_OK, "%s", mt_last_error());
        expect_grad("expanded grad", x, (double[]){2, -10, 50, 3, 10, -200}, 0);
        mt_scope_end(s);
        mt_release(x);
        mt_release(c);
    }
}

/* The gradient passed in is the caller's: backward neither modifies it nor lets the leaf's
 * gradient alias it (when the root is the leaf itself, or reaches it through copy or x + x). */
static void set2(mt_tensor *t, float a, float b)
{
    cr_assert_eq(mt_set(t, (const int64_t[]){0}, a), MT_OK);
    cr_assert_eq(mt_set(t, (const int64_t[]){1}, b), MT_OK);
}

Test(graph, backward_with_does_not_alias_the_given_grad)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = leaf(MT_DIMS(2), (float[]){1, 2});
        mt_tensor *g = mt_from_data(MT_DIMS(2), (float[]){3, 4});
        mt_tensor *z = mt_copy(x), *y = mt_add(x, x);

        /* the root is the leaf */
        cr_assert_eq(mt_backward_with(x, g), MT_OK, "%s", mt_last_error());
        set2(g, 100, -50);
        expect_grad("leaf as root, after the caller changed its grad", x, (double[]){3, 4}, 0);
        set2(g, 3, 4);
        cr_assert_eq(mt_backward_with(x, g), MT_OK, "%s", mt_last_error());
        t_expect_close("the given grad after two backwards", g, (double[]){3, 4}, 0, 0);
        expect_grad("leaf as root, twice", x, (double[]){6, 8}, 0);

        /* through a copy, whose gradient formula passes g on unchanged */
        mt_zero_grad(x);
        cr_assert_eq(mt_backward_with(z, g), MT_OK, "%s", mt_last_error());
        set2(g, 100, -50);
        expect_grad("copy, after the caller changed its grad", x, (double[]){3, 4}, 0);
        set2(g, 3, 4);

        /* x + x: both uses receive g */
        cr_assert_eq(mt_backward_with(y, g), MT_OK, "%s", mt_last_error());
        t_expect_close("the given grad after x + x", g, (double[]){3, 4}, 0, 0);
        expect_grad("copy then x + x", x, (double[]){9, 12}, 0);
        mt_zero_grad(x);
        cr_assert_eq(mt_backward_with(y, g), MT_OK, "%s", mt_last_error());
        set2(g, 100, -50);
        expect_grad("x + x, after the caller changed its grad", x, (double[]){6, 8}, 0);
        mt_release(y);
        mt_release(z);
        mt_release(g);
        mt_release(x);
    }
}

/* Backward on a one-element leaf itself gives it gradient 1. */
Test(graph, backward_on_leaf)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = leaf(MT_DIMS(1, 1), (float[]){42});
        cr_assert_eq(mt_backward(x), MT_OK, "%s", mt_last_error());
        expect_grad("leaf", x, (double[]){1}, 0);
        mt_release(x);
    }
}

/* ---- errors ---- */

Test(graph_errors, backward_non_scalar_without_grad)
{
    mt_clear_error();
    mt_tensor *x = leaf(MT_DIMS(2, 2), (float[]){1, 2, 3, 4});
    mt_scope s = mt_scope_begin();
    mt_tensor *y = mt_mul(x, x);
    cr_assert_eq(mt_backward(y), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_backward");
    expect_no_grad("after the failed backward", x);
    mt_scope_end(s);
    mt_release(x);
}

Test(graph_errors, backward_with_wrong_shape)
{
    mt_clear_error();
    mt_tensor *x = leaf(MT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    mt_scope s = mt_scope_begin();
    mt_tensor *y = mt_mul_scalar(x, 2);
    cr_assert_eq(mt_backward_with(y, mt_ones(MT_DIMS(3, 2))), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_backward_with");
    mt_clear_error();
    cr_assert_eq(mt_backward_with(y, mt_ones(MT_DIMS(6))), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_backward_with");
    mt_clear_error();
    cr_assert_eq(mt_backward_with(y, mt_ones(MT_DIMS(1, 3))), MT_ERR_SHAPE); /* no broadcasting */
    t_expect_error(MT_ERR_SHAPE, "mt_backward_with");
    expect_no_grad("after the failed backwards", x);
    mt_clear_error();
    cr_assert_eq(mt_backward_with(y, NULL), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_backward_with");
    mt_scope_end(s);
    mt_release(x);
}

Test(graph_errors, backward_on_tensor_not_requiring_grad)
{
    mt_clear_error();
    mt_tensor *x = mt_from_data(MT_DIMS(2), (float[]){1, 2});
    mt_scope s = mt_scope_begin();
    mt_tensor *loss = mt_sum_all(mt_mul(x, x));
    cr_assert(!mt_requires_grad(loss));
    cr_assert_eq(mt_backward(loss), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_backward");
    mt_clear_error();
    cr_assert_eq(mt_backward_with(x, mt_ones(MT_DIMS(2))), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_backward_with");
    mt_clear_error();
    cr_assert_eq(mt_backward(NULL), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_backward");
    mt_scope_end(s);
    mt_release(x);
}

Test(graph_errors, grad_before_backward)
{
    mt_clear_error();
    mt_tensor *x = leaf(MT_DIMS(2), (float[]){1, 2});
    cr_assert_null(mt_grad(x));
    t_expect_error(MT_ERR_AUTODIFF, "mt_grad");
    mt_clear_error();
    mt_tensor *plain = mt_from_data(MT_DIMS(2), (float[]){1, 2});
    cr_assert_null(mt_grad(plain));
    t_expect_error(MT_ERR_AUTODIFF, "mt_grad");
    mt_clear_error();
    cr_assert_null(mt_grad(NULL));
    t_expect_error(MT_ERR_NULL, "mt_grad");
    mt_release(plain);
    mt_release(x);
}

Test(graph_errors, set_requires_grad_on_non_leaf)
{
    mt_clear_error();
    mt_tensor *x = leaf(MT_DIMS(2), (float[]){1, 2});
    mt_scope s = mt_scope_begin();
    mt_tensor *y = mt_mul(x, x);
    cr_assert_eq(mt_set_requires_grad(y, false), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_set_requires_grad");
    mt_clear_error();
    cr_assert_eq(mt_set_requires_grad(y, true), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_set_requires_grad");
    mt_clear_error();
    /* nothing changed: y still has history and backward still reaches x */
    cr_assert(mt_requires_grad(y) && !mt_is_leaf(y));
    cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK, "%s", mt_last_error());
    expect_grad("x", x, (double[]){2, 4}, 0);
    cr_assert_eq(mt_set_requires_grad(NULL, true), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_set_requires_grad");
    mt_scope_end(s);
    mt_release(x);
}

Test(graph_errors, no_grad_end_without_begin)
{
    mt_clear_error();
    cr_assert(mt_grad_enabled());
    cr_assert_eq(mt_no_grad_end(), MT_ERR_AUTODIFF);
    t_expect_error(MT_ERR_AUTODIFF, "mt_no_grad_end");
    cr_assert(mt_grad_enabled(), "a failed end must not change the mode");
    mt_no_grad_begin();
    cr_assert_eq(mt_no_grad_end(), MT_OK);
    mt_clear_error();
    cr_assert_eq(mt_no_grad_end(), MT_ERR_AUTODIFF, "one end per begin");
    t_expect_error(MT_ERR_AUTODIFF, "mt_no_grad_end");
    cr_assert(mt_grad_enabled());
}

/* ---- no-grad mode ---- */

Test(graph, no_grad_records_nothing)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_clear_error();
        mt_tensor *x = leaf(MT_DIMS(2, 2), (float[]){1, 2, 3, 4});
        mt_scope s = mt_scope_begin();
        mt_no_grad_begin();
        cr_assert(!mt_grad_enabled());
        mt_tensor *ops[] = {mt_mul(x, x), mt_transpose(x, 0, 1), mt_matmul(x, x), mt_sum(x, 0),
                            mt_exp(x), mt_linear(x, x, NULL), mt_sum_all(x)};
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
            cr_assert_not_null(ops[i], "%s", mt_last_error());
            cr_assert(!mt_requires_grad(ops[i]), "op %zu recorded history in no-grad mode", i);
            cr_assert(mt_is_leaf(ops[i]), "op %zu has history in no-grad mode", i);
        }
        cr_assert_eq(mt_backward(ops[6]), MT_ERR_AUTODIFF);
        t_expect_error(MT_ERR_AUTODIFF, "mt_backward");
        mt_clear_error();
        cr_assert_eq(mt_no_grad_end(), MT_OK);
        cr_assert(mt_grad_enabled());
        cr_assert_eq(mt_backward(ops[6]), MT_ERR_AUTODIFF, "still no history after the end");
        t_expect_error(MT_ERR_AUTODIFF, "mt_backward");
        expect_no_grad("x", x);
        mt_scope_end(s);
        mt_release(x);
    }
}

Test(graph, no_grad_nests)
{
    mt_tensor *x = leaf(MT_DIMS(2), (float[]){1, 2});
    mt_scope s = mt_scope_begin();
    mt_no_grad_begin();
    mt_no_grad_begin();
    cr_assert(!mt_requires_grad(mt_neg(x)));
    cr_assert_eq(mt_no_grad_end(), MT_OK);
    cr_assert(!mt_grad_enabled(), "the outer no-grad region is still open");
    cr_assert(!mt_requires_grad(mt_neg(x)));
    cr_assert_eq(mt_no_grad_end(), MT_OK);
    cr_assert(mt_grad_enabled());
    mt_tensor *y = mt_neg(x);
    cr_assert(mt_requires_grad(y) && !mt_is_leaf(y));
    cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK, "%s", mt_last_error());
    expect_grad("x", x, (double[]){-1, -1}, 0);
    mt_scope_end(s);
    mt_release(x);
}

/* A value computed in no-grad mode is a constant: L = sum(x * c), c = 2x computed without
 * history, gives dL/dx = c = 2x (4x if c were tracked). */
Test(graph, no_grad_value_is_a_constant)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = leaf(MT_DIMS(3), (float[]){1, -2, 0.5f});
        mt_scope s = mt_scope_begin();
        mt_no_grad_begin();
        mt_tensor *c = mt_mul_scalar(x, 2);
        cr_assert_eq(mt_no_grad_end(), MT_OK);
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul(x, c))), MT_OK, "%s", mt_last_error());
        expect_grad("x", x, (double[]){2, -4, 1}, 0);
        mt_scope_end(s);
        mt_release(x);
    }
}

/* ---- detach ---- */

/* y = x*x; d = detach(y); L = sum(d * x + y): dL/dx = d + 2x = x^2 + 2x (3x^2 + 2x if the
 * gradient went through d). */
Test(graph, detach_cuts_the_graph)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        mt_tensor *x = leaf(MT_DIMS(3), (float[]){1, -2, 3});
        mt_scope s = mt_scope_begin();
        mt_tensor *y = mt_mul(x, x);
        mt_tensor *d = mt_detach(y);
        cr_assert_not_null(d, "%s", mt_last_error());
        cr_assert(!mt_requires_grad(d));
        cr_assert(mt_is_leaf(d));
        cr_assert(mt_shares_storage(d, y));
        t_expect_close("detached values", d, (double[]){1, 4, 9}, 0, 0);
        cr_assert_eq(mt_backward(mt_sum_all(mt_add(mt_mul(d, x), y))), MT_OK, "%s", mt_last_error());
        expect_grad("x", x, (double[]){3, 0, 15}, 0);

        /* the detached tensor can become a leaf of its own: gradients stop there */
        mt_zero_grad(x);
        cr_assert_eq(mt_set_requires_grad(d, true), MT_OK, "%s", mt_last_error());
        cr_assert_eq(mt_backward(mt_sum_all(mt_mul_scalar(d, 3))), MT_OK, "%s", mt_last_error());
        expect_grad("d", d, (double[]){3, 3, 3}, 0);
        expect_no_grad("x (behind the detach)", x);
        cr_assert(mt_requires_grad(y) && !mt_is_leaf(y), "detach must not change its input");

        /* detaching a leaf that requires grad gives a tensor that does not */
        mt_tensor *xd = mt_detach(x);
        cr_assert(!mt_requires_grad(xd) && mt_requires_grad(x));
        mt_scope_end(s);
        mt_release(x);
    }
}

/* ---- a deep chain and freeing the graph ---- */

#define CHAIN_LENGTH 100000

/* y_0 = x, y_{i+1} = y_i + x: y_N = (N + 1) x and dL/dx = N + 1, exact in float32. */
Test(graph, deep_chain_in_a_scope, .timeout = 600)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        int64_t start = live_tensors();
        mt_tensor *x = leaf(MT_DIMS(2), (float[]){0.5f, -1.25f});
        mt_scope s = mt_scope_begin();
        mt_tensor *y = x;
        for (int i = 0; i < CHAIN_LENGTH; i++) {
            y = mt_add(y, x);
            cr_assert_not_null(y, "step %d: %s", i, mt_last_error());
        }
        t_expect_close("y_N", y, (double[]){0.5 * (CHAIN_LENGTH + 1), -1.25 * (CHAIN_LENGTH + 1)},
                       0, 0);
        cr_assert_eq(mt_backward(mt_sum_all(y)), MT_OK, "%s", mt_last_error());
        expect_grad("x", x, (double[]){CHAIN_LENGTH + 1, CHAIN_LENGTH + 1}, 0);
        cr_assert_eq(mt_scope_end(s), MT_OK);
        /* x and its gradient remain */
        cr_assert_eq(live_tensors(), start + 2, "live tensors %lld, expected %lld",
                     (long long)live_tensors(), (long long)(start + 2));
        mt_release(x);
        cr_assert_eq(live_tensors(), start, "live tensors %lld, expected %lld",
                     (long long)live_tensors(), (long long)start);
    }
}

/* The same chain without a scope: each y_i is released at once (only the graph holds it), so
 * releasing the loss frees 10^5 nested records in one cascade. */
Test(graph, deep_chain_released_by_the_loss, .timeout = 600)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        int64_t start = live_tensors();
        mt_tensor *x = leaf(MT_DIMS(1), (float[]){2});
        mt_tensor *y = mt_retain(x);
        for (int i = 0; i < CHAIN_LENGTH; i++) {
            mt_tensor *sum = mt_add(y, x);
            cr_assert_not_null(sum, "step %d: %s", i, mt_last_error());
            mt_tensor *next = mt_mul_scalar(sum, 1.0f); /* two records per step */
            cr_assert_not_null(next, "step %d: %s", i, mt_last_error());
            cr_assert_eq(mt_release(sum), MT_OK);
            cr_assert_eq(mt_release(y), MT_OK);
            y = next;
        }
        mt_tensor *loss = mt_sum_all(y);
        cr_assert_eq(mt_release(y), MT_OK);
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        expect_grad("x", x, (double[]){CHAIN_LENGTH + 1}, 0);
        cr_assert_eq(mt_release(loss), MT_OK);
        mt_release(x);
        cr_assert_eq(live_tensors(), start, "live tensors %lld, expected %lld",
                     (long long)live_tensors(), (long long)start);
    }
}

/* Releasing the loss frees the whole graph, saved values included, even after the caller dropped
 * every intermediate (the graph alone held them), and the graph still worked for a second
 * backward in between. L = sum_j max_k sigmoid(exp(x_jk)) + sum(prod(x, 0)) + sum(x @ w) with
 * x (2, 3), w (3, 2) constant:
 *   dL/dx_jk = [k = argmax_k x_jk] s (1 - s) e^x_jk + x_(1-j)k + sum_m w_km. */
Test(graph, releasing_the_loss_frees_the_graph)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        int64_t start = live_tensors();
        const float xv[] = {0.3f, -0.2f, 0.1f, -0.5f, 0.4f, 0.2f};
        const float wv[] = {1, 2, -1, 0.5f, 3, -2};
        mt_tensor *x = leaf(MT_DIMS(2, 3), xv);
        mt_tensor *w = mt_from_data(MT_DIMS(3, 2), wv);
        double expected[6];
        for (int j = 0; j < 2; j++) {
            int arg = 0;
            for (int k = 1; k < 3; k++)
                if (xv[j * 3 + k] > xv[j * 3 + arg]) arg = k;
            for (int k = 0; k < 3; k++) {
                double e = exp((double)xv[j * 3 + k]), sg = 1.0 / (1.0 + exp(-e));
                expected[j * 3 + k] = (k == arg ? sg * (1.0 - sg) * e : 0.0) +
                                      (double)xv[(1 - j) * 3 + k] + (double)wv[k * 2] +
                                      (double)wv[k * 2 + 1];
            }
        }
        mt_tensor *e = mt_exp(x);
        mt_tensor *sg = mt_sigmoid(e);
        mt_release(e);
        mt_tensor *m = mt_max(sg, 1);
        mt_release(sg);
        mt_tensor *t1 = mt_sum_all(m);
        mt_release(m);
        mt_tensor *p = mt_prod(x, 0);
        mt_tensor *t2 = mt_sum_all(p);
        mt_release(p);
        mt_tensor *mm = mt_matmul(x, w);
        mt_tensor *t3 = mt_sum_all(mm);
        mt_release(mm);
        mt_tensor *t12 = mt_add(t1, t2);
        mt_release(t1);
        mt_release(t2);
        mt_tensor *loss = mt_add(t12, t3);
        mt_release(t12);
        mt_release(t3);
        cr_assert_not_null(loss, "%s", mt_last_error());
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        expect_grad("x", x, expected, 1e-5);
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        double twice[6];
        for (int i = 0; i < 6; i++) twice[i] = 2 * expected[i];
        expect_grad("x after a second backward", x, twice, 1e-5);
        cr_assert_eq(mt_release(loss), MT_OK);
        /* x, its gradient and w remain */
        cr_assert_eq(live_tensors(), start + 3, "live tensors %lld, expected %lld",
                     (long long)live_tensors(), (long long)(start + 3));
        expect_grad("x after the graph is gone", x, twice, 1e-5);
        mt_release(x);
        mt_release(w);
        cr_assert_eq(live_tensors(), start, "live tensors %lld, expected %lld",
                     (long long)live_tensors(), (long long)start);
    }
}

/* The same graph inside a scope: ending the scope frees it all. */
Test(graph, ending_the_scope_frees_the_graph)
{
    T_BACKENDS_EACH(be)
    {
        t_use_backend(be);
        int64_t start = live_tensors();
        mt_tensor *x = leaf(MT_DIMS(2, 3), (float[]){0.3f, -0.2f, 0.1f, -0.5f, 0.4f, 0.2f});
        mt_scope s = mt_scope_begin();
        mt_tensor *w = mt_from_data(MT_DIMS(3, 2), (float[]){1, 2, -1, 0.5f, 3, -2});
        mt_tensor *loss = mt_add(mt_add(mt_sum_all(mt_max(mt_sigmoid(mt_exp(x)), 1)),
                                        mt_sum_all(mt_prod(mt_narrow(x, 1, 1, 2), 0))),
                                 mt_mean_all(mt_linear(mt_transpose(x, 0, 1), mt_transpose(w, 0, 1), NULL)));
        loss = mt_add(loss, mt_sum_all(mt_mul(mt_expand(mt_narrow(x, 0, 0, 1), MT_DIMS(2, 3)), x)));
        cr_assert_not_null(loss, "%s", mt_last_error());
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        cr_assert_eq(mt_backward(loss), MT_OK, "%s", mt_last_error());
        cr_assert_eq(mt_scope_end(s), MT_OK);
        cr_assert_eq(live_tensors(), start + 2, "live tensors %lld, expected %lld (x and its grad)",
                     (long long)live_tensors(), (long long)(start + 2));
        mt_release(x);
        cr_assert_eq(live_tensors(), start, "live tensors %lld, expected %lld",
                     (long long)live_tensors(), (long long)start);
    }
}

/* ---- no-grad mode is per thread ---- */

static void *record_on_another_thread(void *arg)
{
    mt_tensor *x = arg;
    bool enabled = mt_grad_enabled();
    mt_tensor *y = mt_neg(x);
    bool recorded = y && mt_requires_grad(y) && !mt_is_leaf(y);
    mt_release(y);
    return enabled && recorded ? x : NULL;
}

Test(graph, no_grad_is_per_thread)
{
    mt_tensor *x = leaf(MT_DIMS(2), (float[]){1, 2});
    mt_no_grad_begin();
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, record_on_another_thread, x), 0);
    void *result = NULL;
    cr_assert_eq(pthread_join(thread, &result), 0);
    cr_assert_eq(result, x, "another thread saw this thread's no-grad mode");
    mt_tensor *y = mt_neg(x);
    cr_assert(!mt_requires_grad(y), "this thread's no-grad mode was lost");
    cr_assert_eq(mt_no_grad_end(), MT_OK);
    mt_release(y);
    mt_release(x);
}
