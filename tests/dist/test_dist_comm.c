/* libminitorch_mpi in a program that initialised MPI itself: mt_dist_init_comm on the world and
 * on a split communicator, MPI left running after mt_dist_finalize. Under mpirun -np 2. */
#include <string.h>

#include <minitorch/dist.h>
#include <minitorch/minitorch.h>

#include "check.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int world_rank, world_size;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);

    CHECK(mt_dist_init_comm(MPI_COMM_NULL) == MT_ERR_DIST && strstr(mt_last_error(), "MPI_COMM_NULL"),
          "%s", mt_last_error());
    CHECK(mt_dist_init_comm(MPI_COMM_WORLD) == MT_OK, "%s", mt_last_error());
    CHECK(mt_dist_rank() == world_rank && mt_dist_size() == world_size, "rank and size");
    CHECK(mt_dist_finalize() == MT_OK, "%s", mt_last_error());
    int initialised = 0, finalised = 1;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    CHECK(initialised && !finalised, "mt_dist_finalize left the caller's MPI running");

    /* every rank alone: a communicator of one, where averaging changes nothing */
    MPI_Comm alone;
    MPI_Comm_split(MPI_COMM_WORLD, world_rank, 0, &alone);
    CHECK(mt_dist_init_comm(alone) == MT_OK, "%s", mt_last_error());
    MPI_Comm_free(&alone); /* the library keeps its own duplicate */
    CHECK(mt_dist_rank() == 0 && mt_dist_size() == 1, "one rank");
    mt_tensor *w = mt_full(MT_DIMS(2, 2), 1.5f);
    mt_set_requires_grad(w, true);
    mt_scope scope = mt_scope_begin();
    mt_backward(mt_sum_all(mt_mul_scalar(w, (float)(world_rank + 2))));
    mt_scope_end(scope);
    mt_params params = {0};
    mt_params_add(&params, w);
    CHECK(mt_dist_allreduce_grads(&params) == MT_OK, "%s", mt_last_error());
    CHECK(mt_dist_broadcast_params(&params) == MT_OK, "%s", mt_last_error());
    float g[4] = {0};
    mt_tensor *grad = mt_grad(w);
    mt_copy_to(grad, g, 4);
    mt_release(grad);
    CHECK(g[0] == (float)(world_rank + 2) && g[3] == (float)(world_rank + 2), "unchanged: %g", (double)g[0]);
    CHECK(mt_dist_finalize() == MT_OK, "%s", mt_last_error());
    mt_params_free(&params);
    mt_release(w);

    mt_memory_stats stats;
    mt_memory_get_stats(&stats); /* LeakSanitizer is off under MPI: see CMakeLists.txt */
    CHECK(stats.bytes_in_use == 0, "%lld bytes of tensor storage not freed", (long long)stats.bytes_in_use);
    int status = dist_check_finish();
    MPI_Finalize();
    return status;
}
