/* The programs built without the MPI component: --distributed is refused (program_dist_start);
 * the other hooks act as for a single rank. */
#include <stdio.h>

#include "program_dist.h"

int program_dist_start(const char *program, int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "%s: --distributed needs the MPI component, and this build has none "
                    "(configure with -DMINITORCH_MPI=ON and Open MPI installed)\n", program);
    return 2;
}

void program_dist_stop(void) {}

int program_dist_rank(void) { return 0; }
int program_dist_size(void) { return 1; }

void program_dist_shard(int64_t n, int64_t *begin, int64_t *end)
{
    *begin = 0;
    *end = n > 0 ? n : 0;
}

mt_status program_dist_broadcast(const mt_params *params)
{
    return params ? MT_OK : mt_set_error(MT_ERR_NULL, "program_dist_broadcast: params is NULL");
}

mt_status program_dist_average_grads(const mt_params *params)
{
    return params ? MT_OK : mt_set_error(MT_ERR_NULL, "program_dist_average_grads: params is NULL");
}

mt_status program_dist_sum(double *values, int count) { return (void)values, (void)count, MT_OK; }
mt_status program_dist_sum_counts(int64_t *values, int count) { return (void)values, (void)count, MT_OK; }
bool program_dist_all(bool ok) { return ok; }

mt_status program_dist_agree(uint64_t value, bool *same)
{
    (void)value;
    *same = true;
    return MT_OK;
}
