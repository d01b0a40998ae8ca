/* Internal allocation: a size-class cache for tensor storage, and a hookable malloc for the
 * library's small objects. Both can be told to fail (for the allocation-failure tests). */
#ifndef MTI_RUNTIME_ALLOC_H
#define MTI_RUNTIME_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* A storage buffer of at least `bytes` bytes, 64-byte aligned (2 MiB aligned and advised for
 * transparent huge pages when large). *capacity receives the size actually reserved, which must
 * be passed back to mti_buffer_free. NULL when out of memory. */
void *mti_buffer_alloc(size_t bytes, size_t *capacity);
void mti_buffer_free(void *buffer, size_t capacity);

/* malloc/calloc/realloc/free for the library's own objects, with the failure hook. */
void *mti_malloc(size_t bytes);
void *mti_calloc(size_t count, size_t size);
void *mti_realloc(void *p, size_t bytes);
void mti_free(void *p);

/* Bookkeeping of live tensor objects for the memory statistics. */
void mti_count_tensor(int delta);

/* Failure injection: after `n` more successful allocations, every allocation fails until reset
 * with n < 0. */
void mti_alloc_fail_after(int64_t n);

#endif
