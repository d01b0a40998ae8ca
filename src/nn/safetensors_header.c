/* The safetensors header: its JSON layout and every rule a header must pass before any tensor
 * data is touched (see include/minitorch/safetensors.h). */
#include <stdlib.h>
#include <string.h>

#include "nn/safetensors_internal.h"
#include "nn/safetensors_json.h"
#include "runtime/alloc.h"
#include "runtime/error.h"

/* element counts stay below 2^60, as everywhere in the library (tensor/shape.c) */
#define MAX_NUMEL ((int64_t)1 << 60)

void mti_st_header_free(mti_st_header *header)
{
    for (int i = 0; i < header->count; i++) mti_free(header->entries[i].name);
    for (int i = 0; i < header->metadata_count; i++) {
        mti_free(header->metadata[i].key);
        mti_free(header->metadata[i].value);
    }
    mti_free(header->entries);
    mti_free(header->by_name);
    mti_free(header->metadata);
    *header = (mti_st_header){0};
}

/* Makes room for one more element in a growing array of `size`-byte elements. */
static mt_status grow(const char *fn, void **items, int count, int *capacity, size_t size)
{
    if (count < *capacity) return MT_OK;
    if (*capacity > (1 << 28)) return mti_fail(MT_ERR_FORMAT, fn, "too many header entries");
    int next = *capacity ? *capacity * 2 : 16;
    void *grown = mti_realloc(*items, size * (size_t)next);
    if (!grown) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot grow the header's tables");
    *items = grown;
    *capacity = next;
    return MT_OK;
}

/* "shape": [d0, d1, ...] into the entry (numel checked). */
static mt_status read_shape(mti_json *j, mti_st_entry *e)
{
    mt_status status = mti_json_expect(j, '[', "to open a shape");
    if (status != MT_OK) return status;
    int ndim = 0;
    int64_t numel = 1;
    if (!mti_json_accept(j, ']')) {
        do {
            if (ndim == MT_MAX_DIMS)
                return mti_json_fail(j, "tensor \"%.60s\" has more than %d dims (the library's limit)",
                                     e->name, MT_MAX_DIMS);
            uint64_t dim;
            status = mti_json_uint(j, "a shape dim", &dim);
            if (status != MT_OK) return status;
            if (dim == 0)
                return mti_json_fail(j, "tensor \"%.60s\" has a dim of size 0 (empty tensors are "
                                        "not supported)", e->name);
            if (dim > (uint64_t)(MAX_NUMEL / numel))
                return mti_json_fail(j, "tensor \"%.60s\" has more than 2^60 elements", e->name);
            numel *= (int64_t)dim;
            e->shape[ndim++] = (int64_t)dim;
        } while (mti_json_accept(j, ','));
        status = mti_json_expect(j, ']', "or ',' in a shape");
        if (status != MT_OK) return status;
    }
    if (ndim == 0) e->shape[ndim++] = 1; /* a 0-dim tensor is the library's shape-(1,) scalar */
    e->ndim = ndim;
    e->numel = numel;
    return MT_OK;
}

/* "data_offsets": [begin, end] into the entry. */
static mt_status read_offsets(mti_json *j, mti_st_entry *e)
{
    mt_status status = mti_json_expect(j, '[', "to open data_offsets");
    if (status == MT_OK) status = mti_json_uint(j, "a data offset", &e->begin);
    if (status == MT_OK) status = mti_json_expect(j, ',', "between the two data_offsets");
    if (status == MT_OK) status = mti_json_uint(j, "a data offset", &e->end);
    if (status == MT_OK) status = mti_json_expect(j, ']', "after the two data_offsets");
    return status;
}

/* "dtype": must be "F32", the library's only element type. */
static mt_status read_dtype(mti_json *j, const mti_st_entry *e)
{
    const unsigned char *at = j->at;
    char *dtype;
    mt_status status = mti_json_string(j, &dtype);
    if (status != MT_OK) return status;
    if (strcmp(dtype, "F32") != 0) {
        j->at = at;
        status = mti_json_fail(j, "tensor \"%.60s\" has dtype \"%.20s\": only F32 (float32) is "
                                  "supported", e->name, dtype);
    }
    mti_free(dtype);
    return status;
}

/* One tensor's object {"dtype": .., "shape": [..], "data_offsets": [..]}; other fields are
 * skipped (checked as JSON), as the reference implementation ignores them. */
static mt_status read_entry(mti_json *j, mti_st_entry *e)
{
    mt_status status = mti_json_expect(j, '{', "to open a tensor's entry");
    if (status != MT_OK) return status;
    bool have_dtype = false, have_shape = false, have_offsets = false;
    if (!mti_json_accept(j, '}')) {
        do {
            const unsigned char *at = j->at;
            char *field;
            status = mti_json_string(j, &field);
            if (status != MT_OK) return status;
            status = mti_json_expect(j, ':', "after a field name");
            bool *seen = strcmp(field, "dtype") == 0          ? &have_dtype
                         : strcmp(field, "shape") == 0        ? &have_shape
                         : strcmp(field, "data_offsets") == 0 ? &have_offsets
                                                              : NULL;
            if (status == MT_OK && seen && *seen) {
                j->at = at;
                status = mti_json_fail(j, "tensor \"%.60s\" has field \"%s\" twice", e->name, field);
            }
            mti_free(field);
            if (status != MT_OK) return status;
            if (seen == &have_dtype) status = read_dtype(j, e);
            else if (seen == &have_shape) status = read_shape(j, e);
            else if (seen == &have_offsets) status = read_offsets(j, e);
            else status = mti_json_skip_value(j);
            if (status != MT_OK) return status;
            if (seen) *seen = true;
        } while (mti_json_accept(j, ','));
        status = mti_json_expect(j, '}', "or ',' in a tensor's entry");
        if (status != MT_OK) return status;
    }
    const char *missing = !have_dtype ? "dtype" : !have_shape ? "shape" : !have_offsets ? "data_offsets" : NULL;
    if (missing) return mti_json_fail(j, "tensor \"%.60s\" has no \"%s\"", e->name, missing);
    if (e->end < e->begin)
        return mti_json_fail(j, "tensor \"%.60s\" has data_offsets [%llu, %llu]: end before begin",
                             e->name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end - e->begin != (uint64_t)e->numel * 4)
        return mti_json_fail(j, "tensor \"%.60s\" has %llu data bytes, its shape needs %lld "
                                "(4 bytes per element)", e->name,
                             (unsigned long long)(e->end - e->begin), (long long)e->numel * 4);
    return MT_OK;
}

/* "__metadata__": {"key": "value", ...} or null. */
static mt_status read_metadata(mti_json *j, mti_st_header *h, int *capacity)
{
    if (mti_json_accept_null(j)) return MT_OK;
    mt_status status = mti_json_expect(j, '{', "to open __metadata__");
    if (status != MT_OK || mti_json_accept(j, '}')) return status;
    do {
        status = grow(j->fn, (void **)&h->metadata, h->metadata_count, capacity, sizeof *h->metadata);
        if (status != MT_OK) return status;
        mti_st_pair *pair = &h->metadata[h->metadata_count];
        *pair = (mti_st_pair){0};
        status = mti_json_string(j, &pair->key);
        if (status != MT_OK) return status;
        h->metadata_count++; /* owned by the header from here on */
        status = mti_json_expect(j, ':', "after a metadata key");
        mti_json_skip_space(j);
        if (status == MT_OK && (j->at >= j->end || *j->at != '"'))
            status = mti_json_fail(j, "metadata value of \"%.60s\" must be a string", pair->key);
        if (status == MT_OK) status = mti_json_string(j, &pair->value);
        if (status != MT_OK) return status;
    } while (mti_json_accept(j, ','));
    return mti_json_expect(j, '}', "or ',' in __metadata__");
}

/* The members of the top-level object: tensors and at most one "__metadata__". */
static mt_status read_members(mti_json *j, mti_st_header *h)
{
    int capacity = 0, metadata_capacity = 0;
    bool have_metadata = false;
    do {
        const unsigned char *at = j->at;
        char *name;
        mt_status status = mti_json_string(j, &name);
        if (status != MT_OK) return status;
        status = mti_json_expect(j, ':', "after a tensor name");
        if (status == MT_OK && strcmp(name, "__metadata__") == 0) {
            mti_free(name);
            if (have_metadata) {
                j->at = at;
                return mti_json_fail(j, "\"__metadata__\" appears twice");
            }
            have_metadata = true;
            status = read_metadata(j, h, &metadata_capacity);
        } else {
            if (status == MT_OK)
                status = grow(j->fn, (void **)&h->entries, h->count, &capacity, sizeof *h->entries);
            if (status != MT_OK) {
                mti_free(name);
                return status;
            }
            mti_st_entry *e = &h->entries[h->count++]; /* owns `name` from here on */
            *e = (mti_st_entry){.name = name};
            status = read_entry(j, e);
        }
        if (status != MT_OK) return status;
    } while (mti_json_accept(j, ','));
    return mti_json_expect(j, '}', "or ',' after a tensor");
}

/* The top-level object. */
static mt_status read_top(mti_json *j, mti_st_header *h)
{
    /* like the reference implementation, the header must start with '{' (no leading space) */
    if (j->at >= j->end || *j->at != '{') return mti_json_fail(j, "the header must start with '{'");
    j->at++;
    if (!mti_json_accept(j, '}')) {
        mt_status status = read_members(j, h);
        if (status != MT_OK) return status;
    }
    mti_json_skip_space(j); /* the header may be padded with spaces */
    if (j->at != j->end) return mti_json_fail(j, "unexpected content after the header's object");
    return MT_OK;
}

static int by_begin(const void *a, const void *b)
{
    const mti_st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const mti_st_entry *const *)a)->name, (*(const mti_st_entry *const *)b)->name);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const mti_st_pair *)a)->key, ((const mti_st_pair *)b)->key);
}

/* Names unique, metadata keys unique, and byte ranges tiling [0, data_size) exactly. */
static mt_status check_tables(const char *fn, mti_st_header *h, uint64_t data_size)
{
    if (h->count > 0) qsort(h->entries, (size_t)h->count, sizeof *h->entries, by_begin);
    h->by_name = mti_malloc(sizeof *h->by_name * (size_t)(h->count ? h->count : 1));
    if (!h->by_name) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the name index");
    for (int i = 0; i < h->count; i++) h->by_name[i] = &h->entries[i];
    if (h->count > 0) qsort(h->by_name, (size_t)h->count, sizeof *h->by_name, by_name);
    for (int i = 1; i < h->count; i++)
        if (strcmp(h->by_name[i - 1]->name, h->by_name[i]->name) == 0)
            return mti_fail(MT_ERR_FORMAT, fn, "tensor \"%.60s\" appears twice", h->by_name[i]->name);
    if (h->metadata_count > 0) qsort(h->metadata, (size_t)h->metadata_count, sizeof *h->metadata, by_key);
    for (int i = 1; i < h->metadata_count; i++)
        if (strcmp(h->metadata[i - 1].key, h->metadata[i].key) == 0)
            return mti_fail(MT_ERR_FORMAT, fn, "metadata key \"%.60s\" appears twice", h->metadata[i].key);
    uint64_t covered = 0; /* the data section up to here is accounted for */
    for (int i = 0; i < h->count; i++) {
        const mti_st_entry *e = &h->entries[i];
        if (e->begin != covered)
            return mti_fail(MT_ERR_FORMAT, fn, "tensor \"%.60s\" starts at data byte %llu, but the "
                            "previous tensor ends at %llu (%s)", e->name,
                            (unsigned long long)e->begin, (unsigned long long)covered,
                            e->begin > covered ? "a gap" : "they overlap");
        if (e->end > data_size)
            return mti_fail(MT_ERR_FORMAT, fn, "tensor \"%.60s\" ends at data byte %llu, past the "
                            "end of the data (%llu bytes)", e->name, (unsigned long long)e->end,
                            (unsigned long long)data_size);
        covered = e->end;
    }
    if (covered != data_size)
        return mti_fail(MT_ERR_FORMAT, fn, "the data section has %llu bytes but the tensors cover "
                        "%llu", (unsigned long long)data_size, (unsigned long long)covered);
    return MT_OK;
}

mt_status mti_st_parse_header(const char *fn, const unsigned char *text, size_t length,
                              uint64_t data_size, mti_st_header *out)
{
    *out = (mti_st_header){0};
    mti_json j = {.begin = text, .at = text, .end = text + length, .fn = fn};
    mt_status status = read_top(&j, out);
    if (status == MT_OK) status = check_tables(fn, out, data_size);
    if (status != MT_OK) mti_st_header_free(out);
    return status;
}

const mti_st_entry *mti_st_find(const mti_st_header *header, const char *name)
{
    mti_st_entry key = {.name = (char *)name};
    const mti_st_entry *key_ptr = &key;
    const mti_st_entry *const *found =
        header->count ? bsearch(&key_ptr, header->by_name, (size_t)header->count,
                                sizeof *header->by_name, by_name)
                      : NULL;
    return found ? *found : NULL;
}

uint64_t mti_st_load_le64(const unsigned char *p)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = value << 8 | p[i];
    return value;
}

void mti_st_store_le64(unsigned char *p, uint64_t value)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(value >> (8 * i));
}

void mti_st_swap_to_le(float *values, int64_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], 4);
        bits = __builtin_bswap32(bits);
        memcpy(&values[i], &bits, 4);
    }
#else
    (void)values;
    (void)n;
#endif
}
