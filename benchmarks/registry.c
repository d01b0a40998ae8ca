/* minitorch-bench: the list of suites (generated from BENCH_SUITES in suites.h). */
#include <stddef.h>

#include "suites.h"

#define BENCH_LIST_ENTRY(NAME) &bench_suite_##NAME,
const bench_suite *const bench_suite_list[] = {BENCH_SUITES(BENCH_LIST_ENTRY) NULL};
#undef BENCH_LIST_ENTRY
