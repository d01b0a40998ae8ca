/* minitorch-c: the storage cache.
 *
 * Storage buffers come from a size-class cache: a freed buffer is kept for reuse instead of being
 * returned to the operating system (where a fresh page costs far more than filling it). The cache
 * is thread safe, has a byte limit, and can be emptied with mt_memory_trim().
 */
#ifndef MINITORCH_MEMORY_H
#define MINITORCH_MEMORY_H

#include <stdint.h>

#include "error.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_memory_stats {
    int64_t bytes_in_use;     /* storage handed out and not yet freed */
    int64_t bytes_cached;     /* freed storage kept for reuse */
    int64_t peak_bytes_in_use;
    int64_t cache_limit;      /* cached bytes are kept below this */
    int64_t cache_hits;       /* allocations served from the cache */
    int64_t cache_misses;     /* allocations that went to the system allocator */
    int64_t live_tensors;     /* tensor objects alive */
} mt_memory_stats;

/** Fills *stats with the storage cache's figures. */
MT_API mt_status mt_memory_get_stats(mt_memory_stats *stats);

/** Returns every cached buffer to the system. */
MT_API void mt_memory_trim(void);

/** Sets the cache's byte limit (default 1 GiB, or MINITORCH_CACHE_LIMIT_MB); 0 disables caching.
 *  Cached bytes beyond the new limit are freed at once. */
MT_API mt_status mt_memory_set_cache_limit(int64_t bytes);

#ifdef __cplusplus
}
#endif

#endif
