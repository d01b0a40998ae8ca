/* Writing safetensors files: the header text, then each tensor's values in row-major order, into
 * a temporary file renamed over the destination once complete. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/safetensors_internal.h"
#include "nn/safetensors_json.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "tensor/tensor_internal.h"

/* ---- the header text ---- */

typedef struct text_buffer {
    char *data;
    size_t length, capacity;
    bool failed; /* an allocation failed; further appends do nothing */
} text_buffer;

static void append(text_buffer *b, const char *bytes, size_t n)
{
    if (b->failed) return;
    if (b->capacity - b->length < n + 1) {
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity - b->length < n + 1) {
            if (capacity > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            capacity *= 2;
        }
        char *grown = mti_realloc(b->data, capacity);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, bytes, n);
    b->length += n;
    b->data[b->length] = '\0';
}

static void append_text(text_buffer *b, const char *text) { append(b, text, strlen(text)); }

/* `text` as a JSON string: quotes, backslashes and control characters escaped (the text has been
 * checked to be valid UTF-8, which JSON carries as is). */
static void append_json_string(text_buffer *b, const char *text)
{
    append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char escaped[8];
        if (*p == '"' || *p == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)*p;
            append(b, escaped, 2);
        } else if (*p < 0x20) {
            snprintf(escaped, sizeof escaped, "\\u%04x", *p);
            append(b, escaped, 6);
        } else
            append(b, (const char *)p, 1);
    }
    append(b, "\"", 1);
}

static void append_uint(text_buffer *b, uint64_t value)
{
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)value);
    append_text(b, digits);
}

/* ---- checking the arguments ---- */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* MT_ERR_INVALID_ARG naming `what` if two of the n strings are equal. */
static mt_status check_unique(const char *fn, const char *what, const char *const *strings, int n)
{
    if (n < 2) return MT_OK;
    const char **sorted = mti_malloc(sizeof *sorted * (size_t)n);
    if (!sorted) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a table");
    memcpy(sorted, strings, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_strings);
    mt_status status = MT_OK;
    for (int i = 1; i < n && status == MT_OK; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            status = mti_fail(MT_ERR_INVALID_ARG, fn, "%s \"%.100s\" appears twice", what, sorted[i]);
    mti_free(sorted);
    return status;
}

static mt_status check_names(const char *fn, int n, const char *const *names,
                             mt_tensor *const *tensors)
{
    if (n < 0) return mti_fail(MT_ERR_INVALID_ARG, fn, "n must be >= 0, got %d", n);
    if (n > 0 && !names) return mti_fail_null(fn, "names");
    if (n > 0 && !tensors) return mti_fail_null(fn, "tensors");
    for (int i = 0; i < n; i++) {
        if (!names[i]) return mti_fail(MT_ERR_NULL, fn, "name %d is NULL", i);
        if (!tensors[i]) return mti_fail(MT_ERR_NULL, fn, "tensor %d (\"%.100s\") is NULL", i, names[i]);
        if (!mti_json_is_utf8(names[i]))
            return mti_fail(MT_ERR_INVALID_ARG, fn, "name %d is not valid UTF-8", i);
        if (strcmp(names[i], "__metadata__") == 0)
            return mti_fail(MT_ERR_INVALID_ARG, fn, "\"__metadata__\" is reserved, not a tensor name");
    }
    return check_unique(fn, "name", names, n);
}

/* Counts the key/value pairs of a NULL-terminated list and checks them. */
static mt_status check_metadata(const char *fn, const char *const *kv, int *pairs)
{
    int n = 0;
    while (kv && kv[2 * n]) {
        if (!kv[2 * n + 1])
            return mti_fail(MT_ERR_INVALID_ARG, fn, "metadata key \"%.100s\" has no value (the "
                            "list is key, value, ..., NULL)", kv[2 * n]);
        if (!mti_json_is_utf8(kv[2 * n]) || !mti_json_is_utf8(kv[2 * n + 1]))
            return mti_fail(MT_ERR_INVALID_ARG, fn, "metadata entry %d is not valid UTF-8", n);
        if (n == (1 << 24)) return mti_fail(MT_ERR_INVALID_ARG, fn, "too many metadata entries");
        n++;
    }
    *pairs = n;
    if (n < 2) return MT_OK;
    const char **keys = mti_malloc(sizeof *keys * (size_t)n);
    if (!keys) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a table");
    for (int i = 0; i < n; i++) keys[i] = kv[2 * i];
    mt_status status = check_unique(fn, "metadata key", keys, n);
    mti_free(keys);
    return status;
}

/* The header JSON, padded with spaces so the data starts 8-byte aligned (as the reference
 * writer does). */
static mt_status build_header(const char *fn, int n, const char *const *names,
                              mt_tensor *const *tensors, const char *const *kv, int pairs,
                              text_buffer *b)
{
    append_text(b, "{");
    if (pairs > 0) {
        append_text(b, "\"__metadata__\":{");
        for (int i = 0; i < pairs; i++) {
            if (i) append_text(b, ",");
            append_json_string(b, kv[2 * i]);
            append_text(b, ":");
            append_json_string(b, kv[2 * i + 1]);
        }
        append_text(b, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const mt_tensor *t = tensors[i];
        uint64_t bytes = (uint64_t)mt_numel(t) * 4; /* numel < 2^60 */
        if (offset > UINT64_MAX / 2 - bytes)
            return mti_fail(MT_ERR_OVERFLOW, fn, "the tensors' total size overflows");
        append_text(b, pairs > 0 || i > 0 ? "," : "");
        append_json_string(b, names[i]);
        append_text(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < mt_ndim(t); d++) {
            if (d) append_text(b, ",");
            append_uint(b, (uint64_t)mt_shape(t)[d]);
        }
        append_text(b, "],\"data_offsets\":[");
        append_uint(b, offset);
        append_text(b, ",");
        append_uint(b, offset + bytes);
        append_text(b, "]}");
        offset += bytes;
    }
    append_text(b, "}");
    while (!b->failed && (8 + b->length) % 8 != 0) append_text(b, " ");
    if (b->failed) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the header text");
    return MT_OK;
}

/* ---- the file ---- */

static mt_status write_exact(const char *fn, int fd, const void *buffer, size_t n)
{
    const unsigned char *p = buffer;
    while (n > 0) {
        ssize_t put = write(fd, p, n);
        if (put < 0 && errno == EINTR) continue;
        if (put < 0) return mti_fail(MT_ERR_IO, fn, "write failed: %s", strerror(errno));
        p += put;
        n -= (size_t)put;
    }
    return MT_OK;
}

/* Floats gathered per write when a tensor's memory cannot be written as it is. */
#define CHUNK 16384

/* Writes t's values in row-major order, little-endian. */
typedef struct chunk_writer {
    const char *fn;
    int fd;
    float *chunk;
    int64_t used;
    mt_status status;
} chunk_writer;

static void flush_chunk(chunk_writer *w)
{
    if (w->used == 0 || w->status != MT_OK) return;
    mti_st_swap_to_le(w->chunk, w->used);
    w->status = write_exact(w->fn, w->fd, w->chunk, sizeof(float) * (size_t)w->used);
    w->used = 0;
}

static void gather_element(float *element, float *unused, void *context)
{
    (void)unused;
    chunk_writer *w = context;
    w->chunk[w->used++] = *element;
    if (w->used == CHUNK) flush_chunk(w);
}

static mt_status write_tensor(const char *fn, int fd, const mt_tensor *t, float *chunk)
{
    bool little_endian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
    if (little_endian && mt_is_contiguous(t))
        return write_exact(fn, fd, mti_tensor_data(t), sizeof(float) * (size_t)mt_numel(t));
    chunk_writer w = {fn, fd, chunk, 0, MT_OK};
    mti_walk_elements(t, NULL, gather_element, &w); /* a failed write stops further writes */
    flush_chunk(&w);
    return w.status;
}

/* Creates "<path>.tmp-<pid>-<k>" exclusively (permissions 0666 less the umask, as a plain
 * create would give); its name goes to *tmp_path (mti_malloc). */
static int create_temporary(const char *fn, const char *path, char **tmp_path)
{
    static atomic_uint counter;
    size_t cap = strlen(path) + 64;
    char *name = mti_malloc(cap);
    if (!name) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a file name"), -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(name, cap, "%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_path = name;
            return fd;
        }
        if (errno != EEXIST) break;
    }
    mti_fail(MT_ERR_IO, fn, "cannot create a temporary file beside \"%.200s\": %s", path,
             strerror(errno));
    mti_free(name);
    return -1;
}

static mt_status write_file(const char *fn, const char *path, const text_buffer *header, int n,
                            mt_tensor *const *tensors)
{
    float *chunk = mti_malloc(sizeof(float) * CHUNK);
    if (!chunk) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a write buffer");
    char *tmp_path = NULL;
    int fd = create_temporary(fn, path, &tmp_path);
    mt_status status = fd >= 0 ? MT_OK : mt_last_status();
    unsigned char prefix[8];
    mti_st_store_le64(prefix, header->length);
    if (status == MT_OK) status = write_exact(fn, fd, prefix, sizeof prefix);
    if (status == MT_OK) status = write_exact(fn, fd, header->data, header->length);
    for (int i = 0; status == MT_OK && i < n; i++) status = write_tensor(fn, fd, tensors[i], chunk);
    if (status == MT_OK && fsync(fd) != 0)
        status = mti_fail(MT_ERR_IO, fn, "cannot flush \"%.200s\": %s", tmp_path, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && status == MT_OK)
        status = mti_fail(MT_ERR_IO, fn, "cannot close \"%.200s\": %s", tmp_path, strerror(errno));
    if (status == MT_OK && rename(tmp_path, path) != 0)
        status = mti_fail(MT_ERR_IO, fn, "cannot rename the finished file to \"%.200s\": %s", path,
                          strerror(errno));
    if (status != MT_OK && tmp_path) unlink(tmp_path); /* nothing half-written stays behind */
    mti_free(tmp_path);
    mti_free(chunk);
    return status;
}

mt_status mt_save_safetensors(const char *path, int n, const char *const *names,
                              mt_tensor *const *tensors, const char *const *metadata_kv)
{
    static const char fn[] = "mt_save_safetensors";
    if (!path) return mti_fail_null(fn, "path");
    int pairs = 0;
    mt_status status = check_names(fn, n, names, tensors);
    if (status == MT_OK) status = check_metadata(fn, metadata_kv, &pairs);
    if (status != MT_OK) return status;
    text_buffer header = {0};
    status = build_header(fn, n, names, tensors, metadata_kv, pairs, &header);
    if (status == MT_OK) status = write_file(fn, path, &header, n, tensors);
    mti_free(header.data);
    return status;
}
