/* BLAS backend: every matrix product goes to OpenBLAS cblas_sgemm.
 *
 * A strided matrix maps onto sgemm without copying when one of its dims is contiguous: a view
 * whose last dim is contiguous is NoTrans with its row stride as leading dimension; one whose
 * second-to-last dim is contiguous (a transposed view, as in dC * B^T) is Trans. Only an operand
 * sgemm cannot describe is copied, once, into scratch from the storage cache. An output with
 * contiguous columns is written in place (C^T = B^T A^T when it is column-major).
 *
 * Batches loop over sgemm (OpenBLAS 0.3.21 has no batched call). A product (or batch) with enough
 * work runs on the library's workers: each claims output matrices, or blocks of rows of one
 * product, and runs a single-threaded sgemm on them. Summed batch dims (a batch-broadcast
 * gradient) accumulate with beta = 1 into the same output. */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kernels/blas_form.h"
#include "kernels/kernels.h"
#include "kernels/kernel_trace.h"
#include "kernels/matmul_common.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/runtime.h"

/* Products of at most this many multiply-adds run sgemm on the calling thread only. */
#ifndef SERIAL_SGEMM
#define SERIAL_SGEMM (1 << 21)
#endif

/* Multiply-adds per thread before a product (or batch of products) is spread over threads: the
 * naive kernel's threshold (a sleeping worker takes tens of microseconds to wake). */
#define MACS_PER_THREAD (128 * 128 * 128)
/* Rows in a block when one product is cut into row blocks for the workers. */
#define MIN_BLOCK_ROWS 16

/* How sgemm reads one operand (kernels/blas_form.h): the same for every matrix of the batch
 * (their last two strides are shared), so it is decided once per call. A copied operand is
 * gathered into scratch, row-major. */
typedef struct form {
    bool copied;
    CBLAS_TRANSPOSE trans;
    int64_t ld;
} form;

static form choose_form(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    mti_blas_form f = mti_blas_form_of(rows, cols, rs, cs);
    return (form){f.copied, f.transposed ? CblasTrans : CblasNoTrans, f.ld};
}

static void gather(float *dst, const float *src, int64_t rows, int64_t cols, int64_t rs,
                   int64_t cs)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[i * cols + j] = src[i * rs + j * cs];
}

static int blas_threading; /* openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP */
static pthread_once_t check_once = PTHREAD_ONCE_INIT;

static void check_threading(void)
{
    blas_threading = openblas_get_parallel();
    if (blas_threading == 1)
        fprintf(stderr,
                "minitorch: the loaded OpenBLAS uses pthreads, not OpenMP; its threads will "
                "compete with the library's (link the openblas-openmp build)\n");
}

int mti_blas_threading(void)
{
    pthread_once(&check_once, check_threading);
    return blas_threading;
}

const char *mti_blas_config(void) { return openblas_get_config(); }

typedef struct blas_job {
    const mti_matmul_plan *p;
    form a, b, c; /* c copied: computed in scratch, written back */
    bool accumulate, single_threaded;
    float *scratch;
    size_t per_thread;
    int threads;
    int64_t row_blocks, block_rows; /* work item = (output matrix, block of block_rows rows) */
    const mti_matmul_epilogue *epilogue;
} blas_job;

/* One sgemm per summed product of rows [r0, r1) of output matrix `ob`, into the output (or
 * c_scratch when the output is copied: then the rows are all rows); scratch_a/b receive copied
 * operands. */
static void run_output_matrix(const blas_job *job, int64_t ob, int64_t r0, int64_t r1,
                              float *c_scratch, float *scratch_a, float *scratch_b,
                              bool accumulate_first)
{
    const mti_matmul_plan *p = job->p;
    const int nd = p->out.ndim;
    const int n = (int)(r1 - r0), k = (int)p->k, m = (int)p->m;
    /* the first row of op(A) and of C: a row step is ld in a NoTrans matrix, 1 in a Trans one */
    const int64_t a_row = job->a.trans == CblasNoTrans ? job->a.ld : 1;
    const int64_t c_row = job->c.trans == CblasNoTrans ? job->c.ld : 1;
    /* OpenBLAS's OpenMP build takes its thread count from omp_get_max_threads() of the calling
     * thread: set it to what this call wants (1 for a small product or a block on a worker, else
     * mt_set_num_threads's setting, whichever thread set it), and restore the caller's value. */
    const bool outermost = !omp_in_parallel();
    const int wanted = job->single_threaded ? 1 : mt_get_num_threads();
    const int saved_threads = outermost ? omp_get_max_threads() : 0;
    if (outermost && saved_threads != wanted) omp_set_num_threads(wanted);
    for (int64_t sb = 0; sb < p->sum_batches; sb++) {
        mti_batch_offsets o = mti_matmul_offsets(p, ob, sb);
        const float *a = p->a.data + o.a + r0 * a_row, *b = p->b.data + o.b;
        if (job->a.copied) {
            gather(scratch_a, a, n, k, p->a.strides[nd - 2], p->a.strides[nd - 1]);
            a = scratch_a;
        }
        if (job->b.copied) {
            gather(scratch_b, b, k, m, p->b.strides[nd - 2], p->b.strides[nd - 1]);
            b = scratch_b;
        }
        float beta = (sb > 0 || accumulate_first) ? 1.0f : 0.0f;
        float *c = job->c.copied ? c_scratch : p->out.data + o.out + r0 * c_row;
        if (job->c.copied || job->c.trans == CblasNoTrans) {
            cblas_sgemm(CblasRowMajor, job->a.trans, job->b.trans, n, m, k, 1.0f, a, (int)job->a.ld,
                        b, (int)job->b.ld, beta, c, (int)job->c.ld);
        } else { /* column-major output: C^T = op(B)^T op(A)^T */
            CBLAS_TRANSPOSE tb = job->b.trans == CblasTrans ? CblasNoTrans : CblasTrans;
            CBLAS_TRANSPOSE ta = job->a.trans == CblasTrans ? CblasNoTrans : CblasTrans;
            cblas_sgemm(CblasRowMajor, tb, ta, m, n, k, 1.0f, b, (int)job->b.ld, a, (int)job->a.ld,
                        beta, c, (int)job->c.ld);
        }
    }
    if (outermost && saved_threads != wanted) omp_set_num_threads(saved_threads);
}

/* Writes bias (and, when accumulating, adds the old contents) so sgemm can use beta = 1. */
static void prepare_output(const mti_matmul_plan *p, int64_t ob, int64_t r0, int64_t r1,
                           float *dst, int64_t rs, int64_t cs, bool accumulate)
{
    const int nd = p->out.ndim;
    mti_batch_offsets o = mti_matmul_offsets(p, ob, 0);
    const float *bias = p->bias.data + o.bias;
    const float *old = p->out.data + o.out;
    const int64_t br = p->bias.strides[nd - 2], bc = p->bias.strides[nd - 1];
    const int64_t orow = p->out.strides[nd - 2], ocol = p->out.strides[nd - 1];
    if (p->has_bias && !accumulate && br == 0 && bc == 1 && cs == 1) { /* a bias row: copies */
        for (int64_t i = r0; i < r1; i++) memcpy(dst + i * rs, bias, sizeof(float) * (size_t)p->m);
        return;
    }
    for (int64_t i = r0; i < r1; i++)
        for (int64_t j = 0; j < p->m; j++) {
            float v = p->has_bias ? bias[i * br + j * bc] : 0.0f;
            if (accumulate) v += old[i * orow + j * ocol];
            dst[i * rs + j * cs] = v;
        }
}

static void write_back(const mti_matmul_plan *p, int64_t ob, const float *src)
{
    const int nd = p->out.ndim;
    mti_batch_offsets o = mti_matmul_offsets(p, ob, 0);
    float *out = p->out.data + o.out;
    const int64_t orow = p->out.strides[nd - 2], ocol = p->out.strides[nd - 1];
    for (int64_t i = 0; i < p->n; i++)
        for (int64_t j = 0; j < p->m; j++) out[i * orow + j * ocol] = src[i * p->m + j];
}

/* Work items [first, end) (row blocks of output matrices) with their summed products, using this
 * thread's scratch. */
static void run_batches(void *context, int64_t first, int64_t end)
{
    const blas_job *job = context;
    const mti_matmul_plan *p = job->p;
    const int nd = p->out.ndim;
    const int64_t n = p->n, k = p->k, m = p->m;
    int slot = mti_thread_slot();
    float *scratch_a = NULL, *scratch_b = NULL, *scratch_c = NULL;
    if (job->scratch) { /* this thread's slot: [a copy][b copy][c], each only when needed */
        scratch_a = job->scratch + job->per_thread * (size_t)slot;
        scratch_b = scratch_a + (job->a.copied ? n * k : 0);
        scratch_c = scratch_b + (job->b.copied ? k * m : 0);
    }
    const bool accumulate_first = job->accumulate || p->has_bias;
    for (int64_t item = first; item < end; item++) {
        const int64_t ob = item / job->row_blocks, r0 = item % job->row_blocks * job->block_rows;
        const int64_t r1 = r0 + job->block_rows < n ? r0 + job->block_rows : n;
        if (accumulate_first) {
            if (job->c.copied) {
                prepare_output(p, ob, 0, n, scratch_c, m, 1, job->accumulate);
            } else if (p->has_bias) {
                mti_batch_offsets o = mti_matmul_offsets(p, ob, 0);
                prepare_output(p, ob, r0, r1, p->out.data + o.out, p->out.strides[nd - 2],
                               p->out.strides[nd - 1], job->accumulate);
            }
        }
        run_output_matrix(job, ob, r0, r1, scratch_c, scratch_a, scratch_b, accumulate_first);
        if (job->c.copied) write_back(p, ob, scratch_c);
        if (job->epilogue) { /* the rows this item just wrote (all of them when copied) */
            const int64_t e0 = job->c.copied ? 0 : r0, e1 = job->c.copied ? n : r1;
            const int64_t orow = p->out.strides[nd - 2], ocol = p->out.strides[nd - 1];
            const float *first_row = p->out.data + mti_matmul_offsets(p, ob, 0).out + e0 * orow;
            mti_matmul_epilogue_rows(job->epilogue, p, first_row, e1 - e0, m, orow, ocol);
        }
    }
}

mt_status mti_blas_matmul(const char *fn, const mti_strided *out, const mti_strided *a, const mti_strided *b,
                          const mti_strided *bias, bool trans_a, bool trans_b, bool accumulate,
                          const mti_matmul_epilogue *epilogue)
{
    bool tracing = mti_tracing();
    double start = tracing ? mti_now_us() : 0;
    mti_blas_threading();
    mti_matmul_plan p;
    mti_matmul_plan_init(&p, out, a, b, bias, trans_a, trans_b);
    const int nd = p.out.ndim;
    const int64_t n = p.n, k = p.k, m = p.m;
    if (n > INT32_MAX || k > INT32_MAX || m > INT32_MAX)
        return mti_fail(MT_ERR_OVERFLOW, fn, "sgemm takes int dims; got %lld x %lld x %lld",
                        (long long)n, (long long)k, (long long)m);

    blas_job job = {.p = &p, .accumulate = accumulate, .epilogue = epilogue};
    job.a = choose_form(n, k, p.a.strides[nd - 2], p.a.strides[nd - 1]);
    job.b = choose_form(k, m, p.b.strides[nd - 2], p.b.strides[nd - 1]);
    job.c = choose_form(n, m, p.out.strides[nd - 2], p.out.strides[nd - 1]);

    /* Threads by the total work, so tiny batched products never run batch-parallel. The library's
     * workers run the products (each sgemm single-threaded), a few work items per thread: whole
     * output matrices when there are enough, else blocks of rows. (OpenBLAS's own threads would
     * split each product statically and wait for the slowest, however busy its core.) An operand
     * copied into scratch keeps whole matrices, and a single one gets OpenBLAS's threads. */
    const double macs = (double)p.out_batches * (double)p.sum_batches * (double)n * (double)m * (double)k;
    int threads = mti_threads_for(macs > 1e15 ? (int64_t)1e15 : (int64_t)macs, MACS_PER_THREAD);
    const bool copies = job.a.copied || job.b.copied || job.c.copied;
    job.row_blocks = 1;
    /* Fewer matrices than threads: one row block per thread (each block packs all of B again,
     * so more, thinner blocks cost more than they balance: 8 blocks of a 256^3 product ran at
     * 0.6-0.7x OpenBLAS's own threads, 2 blocks at 0.9-1.0x). Blocks are claimed, not assigned:
     * a busy partner's block is taken by whoever is free. */
    if (threads > 1 && !copies && p.out_batches < (int64_t)threads) {
        const int64_t wanted = ((int64_t)threads + p.out_batches - 1) / p.out_batches;
        const int64_t most = (n + MIN_BLOCK_ROWS - 1) / MIN_BLOCK_ROWS;
        job.row_blocks = wanted < most ? wanted : most;
    }
    job.block_rows = (n + job.row_blocks - 1) / job.row_blocks;
    job.row_blocks = (n + job.block_rows - 1) / job.block_rows;
    const int64_t items = p.out_batches * job.row_blocks;
    if (threads > items) threads = (int)items;

    /* One scratch set per thread, taken from the storage cache. */
    size_t per_thread = (size_t)((job.a.copied ? n * k : 0) + (job.b.copied ? k * m : 0) +
                                 (job.c.copied ? n * m : 0));
    float *scratch = NULL;
    size_t scratch_capacity = 0;
    if (per_thread > 0) {
        scratch = mti_buffer_alloc(per_thread * (size_t)threads * sizeof(float), &scratch_capacity);
        if (!scratch)
            return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %zu floats of scratch",
                            per_thread * (size_t)threads);
    }

    job.scratch = scratch;
    job.per_thread = per_thread;
    job.threads = threads;
    /* sgemm runs single-threaded on the library's workers, and on the caller too unless a copied
     * operand keeps a large product whole. OpenBLAS goes multi-threaded above 64^3
     * multiply-adds whatever the shape; for products this small (e.g. a 10-row batch through a
     * 256-wide layer) waking a second thread costs more than it saves. Inside the caller's
     * parallel region sgemm is single-threaded anyway. */
    job.single_threaded = (threads > 1 || !copies || (double)n * (double)m * (double)k <= SERIAL_SGEMM) &&
                          !omp_in_parallel() && omp_get_max_threads() > 1;
    mti_parallel_ranges(threads, items, run_batches, &job);
    if (scratch) mti_buffer_free(scratch, scratch_capacity);

    if (tracing) {
        const mti_strided *views[3] = {out, a, b};
        char path[128];
        snprintf(path, sizeof path, "sgemm-%c%c%s%s%s%s%s%s%s%s%s%s%s",
                 job.a.trans == CblasTrans ? 'T' : 'N', job.b.trans == CblasTrans ? 'T' : 'N',
                 p.has_bias ? "+bias" : "", accumulate ? "+acc" : "",
                 !job.c.copied && job.c.trans == CblasTrans ? "+out-transposed" : "",
                 job.a.copied ? "+copied-a" : "", job.b.copied ? "+copied-b" : "",
                 job.c.copied ? "+copied-out" : "", threads > 1 ? "+batched-parallel" : "",
                 p.sum_batches > 1 ? "+batch-summed" : "", job.single_threaded ? "+1-thread" : "",
                 epilogue ? "+" : "", epilogue ? mti_unary_name(epilogue->op) : "");
        mti_kernel_trace("matmul", path, 3, views, false, threads, start);
    }
    return MT_OK;
}
