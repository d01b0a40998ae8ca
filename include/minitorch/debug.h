/* minitorch-c: testing hooks. Not for production use: they make the library fail on purpose so
 * that tests can check every failure path. */
#ifndef MINITORCH_DEBUG_H
#define MINITORCH_DEBUG_H

#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Testing hook: after `successes` more successful allocations (storage, tensor objects, graph
 *  records, scratch), every allocation fails with MT_ERR_NO_MEMORY until reset with a negative
 *  value. Lets tests check that each failure is reported cleanly, without leaks. */
MT_API void mt_debug_fail_allocations_after(int64_t successes);

#ifdef __cplusplus
}
#endif

#endif
