/* minitorch-bench: helpers shared by the suites. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "suites.h"

int bench_thread_counts(const bench_config *config, int counts[2])
{
    counts[0] = 1;
    counts[1] = config->threads;
    return config->threads > 1 ? 2 : 1;
}

void bench_check(bool ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "minitorch-bench: %s failed: %s\n", what, mt_last_error());
    exit(1);
}

float *bench_buffer(int64_t count, const mt_tensor *t)
{
    const size_t huge = (size_t)2 << 20;
    size_t bytes = ((size_t)count * sizeof(float) + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0) {
        fprintf(stderr, "minitorch-bench: cannot allocate %zu bytes\n", bytes);
        exit(1);
    }
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    if (t) bench_check(mt_copy_to(t, p, count) == MT_OK, "mt_copy_to");
    else memset(p, 0, bytes);
    return p;
}

static int checks_done, checks_failed;

bool bench_check_close(const char *what, const mt_tensor *t, const float *want, int64_t count,
                       float tol)
{
    float *got = malloc(sizeof *got * (size_t)count);
    if (!got) {
        fprintf(stderr, "minitorch-bench: out of memory\n");
        exit(1);
    }
    bench_check(mt_copy_to(t, got, count) == MT_OK, "mt_copy_to");
    int64_t bad = -1;
    for (int64_t i = 0; i < count && bad < 0; i++) {
        float diff = got[i] - want[i], limit = tol * (1.0f + (want[i] < 0 ? -want[i] : want[i]));
        if (!(diff <= limit && -diff <= limit)) bad = i;
    }
    checks_done++;
    if (bad >= 0) {
        checks_failed++;
        fprintf(stderr, "minitorch-bench: CHECK FAILED: %s: element %lld is %.9g, expected %.9g\n",
                what, (long long)bad, got[bad], want[bad]);
    }
    free(got);
    return bad < 0;
}

void bench_check_counts(int *checked, int *failed)
{
    *checked = checks_done;
    *failed = checks_failed;
}
