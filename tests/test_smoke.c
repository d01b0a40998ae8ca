#include "testing.h"

Test(smoke, minitorch_reduce_case)
{
    /* MiniTorch's reduce case: [[2,3],[4,6],[5,7]] */
    float data[] = {2, 3, 4, 6, 5, 7};
    mt_tensor *a = mt_from_data(MT_DIMS(3, 2), data);
    mt_tensor *s0 = mt_sum(a, 0), *s1 = mt_sum(a, 1);
    t_expect_shape(s0, MT_DIMS(1, 2));
    t_expect_close("sum(0)", s0, (double[]){11, 16}, 0, 0);
    t_expect_shape(s1, MT_DIMS(3, 1));
    t_expect_close("sum(1)", s1, (double[]){5, 10, 12}, 0, 0);
    mt_release(s0);
    mt_release(s1);
    mt_release(a);
}
