/* minitorch-bench: the list of suites (generated from BENCH_SUITES in suites.h). */
#include <stddef.h>

#include "suites.h"

#define BENCH_LIST_ENTRY(NAME) &bench_suite_##NAME,
const bench_suite *const bench_suite_list[] = {BENCH_SUITES(BENCH_LIST_ENTRY) NULL};

static const bench_suite *const on_request[] = {BENCH_SUITES_ON_REQUEST(BENCH_LIST_ENTRY) NULL};
#undef BENCH_LIST_ENTRY

bool bench_suite_on_request(const bench_suite *suite)
{
    for (const bench_suite *const *s = on_request; *s; s++)
        if (*s == suite) return true;
    return false;
}
