/* Starting and stopping: the library's communicator, rank and size, settings, batch shards. */
#include "dist/dist.h"

mti_dist_state mti_dist = {.comm = MPI_COMM_NULL, .size = 1,
                           .bucket_bytes = MT_DIST_DEFAULT_BUCKET_BYTES};

/* Duplicates `comm` with MPI_ERRORS_RETURN into the library's state. */
static mt_status adopt_communicator(const char *fn, MPI_Comm comm)
{
    MPI_Comm own = MPI_COMM_NULL;
    mt_status status = mti_dist_check(MPI_Comm_dup(comm, &own), fn, "MPI_Comm_dup");
    if (status == MT_OK)
        status = mti_dist_check(MPI_Comm_set_errhandler(own, MPI_ERRORS_RETURN), fn,
                                "MPI_Comm_set_errhandler");
    int rank = 0, size = 1;
    if (status == MT_OK) status = mti_dist_check(MPI_Comm_rank(own, &rank), fn, "MPI_Comm_rank");
    if (status == MT_OK) status = mti_dist_check(MPI_Comm_size(own, &size), fn, "MPI_Comm_size");
    if (status != MT_OK) {
        if (own != MPI_COMM_NULL) MPI_Comm_free(&own);
        return status;
    }
    mti_dist.comm = own;
    mti_dist.rank = rank;
    mti_dist.size = size;
    mti_dist.active = true;
    return MT_OK;
}

mt_status mt_dist_init(int *argc, char ***argv)
{
    static const char fn[] = "mt_dist_init";
    if (mti_dist.active) return mti_dist_fail(MT_ERR_DIST, fn, "already initialised");
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    if (finalised) return mti_dist_fail(MT_ERR_DIST, fn, "MPI has already been finalised");
    if (!initialised) {
        int provided = 0;
        mt_status status = mti_dist_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided),
                                          fn, "MPI_Init_thread");
        if (status != MT_OK) return status;
        /* MPI_COMM_WORLD aborts on errors by default; our own communicator will not. */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        mti_dist.owns_mpi = true;
    }
    mt_status status = adopt_communicator(fn, MPI_COMM_WORLD);
    if (status != MT_OK && mti_dist.owns_mpi) {
        MPI_Finalize();
        mti_dist.owns_mpi = false;
    }
    return status;
}

mt_status mt_dist_init_comm(MPI_Comm comm)
{
    static const char fn[] = "mt_dist_init_comm";
    if (mti_dist.active) return mti_dist_fail(MT_ERR_DIST, fn, "already initialised");
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    if (!initialised || finalised)
        return mti_dist_fail(MT_ERR_DIST, fn, "MPI is not initialised (call MPI_Init first, or use "
                                              "mt_dist_init)");
    if (comm == MPI_COMM_NULL) return mti_dist_fail(MT_ERR_DIST, fn, "comm is MPI_COMM_NULL");
    mti_dist.owns_mpi = false;
    return adopt_communicator(fn, comm);
}

mt_status mt_dist_finalize(void)
{
    static const char fn[] = "mt_dist_finalize";
    mt_status status = mti_dist_require_active(fn);
    if (status != MT_OK) return status;
    status = mti_dist_check(MPI_Comm_free(&mti_dist.comm), fn, "MPI_Comm_free");
    if (mti_dist.owns_mpi && status == MT_OK)
        status = mti_dist_check(MPI_Finalize(), fn, "MPI_Finalize");
    mti_dist_release_buffers();
    int64_t bucket_bytes = mti_dist.bucket_bytes;
    mti_dist = (mti_dist_state){.comm = MPI_COMM_NULL, .size = 1, .bucket_bytes = bucket_bytes};
    return status;
}

int mt_dist_rank(void) { return mti_dist.active ? mti_dist.rank : 0; }

int mt_dist_size(void) { return mti_dist.active ? mti_dist.size : 1; }

mt_status mt_dist_set_bucket_bytes(int64_t bytes)
{
    if (bytes < (int64_t)sizeof(float) || bytes / (int64_t)sizeof(float) > INT32_MAX)
        return mti_dist_fail(MT_ERR_INVALID_ARG, "mt_dist_set_bucket_bytes",
                             "bytes must be in 4 .. 2^31 * 4, got %lld", (long long)bytes);
    mti_dist.bucket_bytes = bytes;
    return MT_OK;
}

int64_t mt_dist_bucket_bytes(void) { return mti_dist.bucket_bytes; }

mt_status mt_dist_shard(int64_t n, int64_t *begin, int64_t *end)
{
    static const char fn[] = "mt_dist_shard";
    if (!begin) return mti_dist_fail(MT_ERR_NULL, fn, "begin is NULL");
    if (!end) return mti_dist_fail(MT_ERR_NULL, fn, "end is NULL");
    if (n < 0) return mti_dist_fail(MT_ERR_INVALID_ARG, fn, "n must be >= 0, got %lld", (long long)n);
    const int64_t size = mt_dist_size(), rank = mt_dist_rank();
    const int64_t base = n / size, extra = n % size;
    *begin = rank * base + (rank < extra ? rank : extra);
    *end = *begin + base + (rank < extra ? 1 : 0);
    return MT_OK;
}
