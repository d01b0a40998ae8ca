/* hello: create tensors, multiply, backpropagate, print. Copy this to start a program. */
#include <minitorch/minitorch.h>
#include <stdio.h>

int main(void)
{
    mt_scope scope = mt_scope_begin(); /* every tensor made below is freed at mt_scope_end */

    float x_data[] = {1, 2, 3, 4, 5, 6};
    mt_tensor *x = mt_from_data(MT_DIMS(2, 3), x_data);
    mt_tensor *w = mt_rand_uniform(MT_DIMS(3, 2), -0.5f, 0.5f, 42);
    mt_set_requires_grad(w, true);

    mt_tensor *y = mt_sigmoid(mt_matmul(x, w));  /* (2, 2) */
    mt_tensor *loss = mt_mean_all(y);
    if (!loss || mt_backward(loss) != MT_OK) {
        fprintf(stderr, "hello: %s\n", mt_last_error());
        return 1;
    }
    printf("backend: %s\n", mt_backend_name(mt_get_backend()));
    printf("y =\n");
    mt_print(y);
    printf("loss = %.6f\n", mt_item(loss));
    printf("d loss / d w =\n");
    mt_print(mt_grad(w));

    mt_scope_end(scope);
    return 0;
}
