/* minitorch-train built without the MPI component: --distributed is refused. */
#include <stdio.h>

#include "train_dist.h"

int train_dist_start(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "minitorch-train: --distributed needs the MPI component, and this build has none "
                    "(configure with -DMINITORCH_MPI=ON and Open MPI installed)\n");
    return 2;
}

int train_dist_rank(void) { return 0; }
int train_dist_size(void) { return 1; }
mt_status train_dist_broadcast(mt_mlp *model) { return (void)model, MT_ERR_INVALID_ARG; }

mt_status train_dist_epoch(mt_mlp *model, const mt_dataset *data, const mt_train_options *options,
                           int64_t epoch, mt_epoch_result *result)
{
    (void)model, (void)data, (void)options, (void)epoch, (void)result;
    return MT_ERR_INVALID_ARG;
}

mt_status train_dist_checksum(const mt_mlp *model, uint64_t *checksum, bool *same)
{
    (void)model, (void)checksum, (void)same;
    return MT_ERR_INVALID_ARG;
}

void train_dist_stop(void) {}
