/* What happens when a rank dies: rank 1 exits (status 3) without MPI_Finalize while rank 0 waits
 * in mt_dist_allreduce_grads. Open MPI's mpirun then kills the remaining ranks and exits non-zero
 * (rank_exit.sh checks that it does so promptly rather than hanging). */
#include <stdio.h>
#include <stdlib.h>

#include <minitorch/dist.h>
#include <minitorch/minitorch.h>

int main(int argc, char **argv)
{
    if (mt_dist_init(&argc, &argv) != MT_OK) return 1;
    mt_tensor *w = mt_ones(MT_DIMS(4));
    mt_set_requires_grad(w, true);
    mt_params params = {0};
    mt_params_add(&params, w);
    if (mt_dist_rank() == 1) exit(3); /* dies before the collective */
    mt_status status = mt_dist_allreduce_grads(&params);
    /* Not reached under mpirun: the job is torn down while rank 0 waits. */
    printf("rank 0: mt_dist_allreduce_grads returned %s: %s\n", mt_strerror(status), mt_last_error());
    mt_params_free(&params);
    mt_release(w);
    mt_dist_finalize();
    return 0;
}
