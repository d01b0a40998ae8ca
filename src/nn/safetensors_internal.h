/* Internal pieces of the safetensors reader and writer (include/minitorch/safetensors.h): the
 * checked header, byte order, and the limits shared by the reader and the writer. */
#ifndef MTI_NN_SAFETENSORS_INTERNAL_H
#define MTI_NN_SAFETENSORS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "minitorch/safetensors.h"

/* One tensor of the header: a float32 tensor the library can represent. */
typedef struct mti_st_entry {
    char *name;
    int ndim;                    /* >= 1: a 0-dim entry is stored as shape (1,) */
    int64_t shape[MT_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;         /* byte range in the data section; end - begin == numel * 4 */
} mti_st_entry;

typedef struct mti_st_pair {
    char *key, *value;
} mti_st_pair;

/* A header that passed every check. */
typedef struct mti_st_header {
    mti_st_entry *entries;        /* in data order: entries[i].end == entries[i + 1].begin */
    int count;
    const mti_st_entry **by_name; /* the same entries sorted by name (for lookups) */
    mti_st_pair *metadata;        /* sorted by key */
    int metadata_count;
} mti_st_header;

/* Parses the JSON header text (`length` bytes) of a file whose data section has `data_size`
 * bytes, and checks everything the format and the library require (see safetensors.h). On
 * failure records MT_ERR_FORMAT (or MT_ERR_NO_MEMORY) as `fn` and leaves *out zeroed. */
mt_status mti_st_parse_header(const char *fn, const unsigned char *text, size_t length,
                              uint64_t data_size, mti_st_header *out);
void mti_st_header_free(mti_st_header *header);
/* The entry named `name`, or NULL. */
const mti_st_entry *mti_st_find(const mti_st_header *header, const char *name);

/* The 8-byte little-endian header length at p. */
uint64_t mti_st_load_le64(const unsigned char *p);
void mti_st_store_le64(unsigned char *p, uint64_t value);
/* Converts n floats between the host's byte order and little-endian, in place (the same swap
 * both ways); nothing to do on little-endian hosts. */
void mti_st_swap_to_le(float *values, int64_t n);

#endif
