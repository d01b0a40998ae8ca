/* Reading safetensors files: opening (from a file or from memory, through one header check),
 * queries, and copying tensor data out (see include/minitorch/safetensors.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/safetensors_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "tensor/tensor_internal.h"

struct mt_safetensors {
    mti_st_header header;
    int fd;                      /* the open file, or -1 when reading from memory */
    const unsigned char *memory; /* the borrowed bytes when reading from memory */
    uint64_t data_start;         /* file position of the data section: 8 + header length */
};

/* Checks the header length against the limit and the file size; returns the data size. */
static mt_status check_lengths(const char *fn, uint64_t file_size, uint64_t header_length,
                               uint64_t *data_size)
{
    if (header_length > MT_SAFETENSORS_MAX_HEADER)
        return mti_fail(MT_ERR_FORMAT, fn, "header length %llu is above the limit of %d bytes",
                        (unsigned long long)header_length, MT_SAFETENSORS_MAX_HEADER);
    if (header_length > file_size - 8)
        return mti_fail(MT_ERR_FORMAT, fn, "header length %llu is larger than the %llu bytes after "
                        "it (truncated file?)", (unsigned long long)header_length,
                        (unsigned long long)(file_size - 8));
    *data_size = file_size - 8 - header_length;
    return MT_OK;
}

/* A handle around a parsed header; takes over the source (fd or memory). */
static mt_safetensors *make_handle(const char *fn, const unsigned char *text, uint64_t length,
                                   uint64_t data_size, int fd, const unsigned char *memory)
{
    mt_safetensors *f = mti_malloc(sizeof *f);
    if (!f) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the handle"), NULL;
    *f = (mt_safetensors){.fd = fd, .memory = memory, .data_start = 8 + length};
    if (mti_st_parse_header(fn, text, (size_t)length, data_size, &f->header) != MT_OK) {
        mti_free(f);
        return NULL;
    }
    return f;
}

mt_safetensors *mt_safetensors_open_memory(const void *bytes, size_t size)
{
    static const char fn[] = "mt_safetensors_open_memory";
    if (!bytes) return mti_fail_null(fn, "bytes"), NULL;
    if (size < 8)
        return mti_fail(MT_ERR_FORMAT, fn, "%zu bytes is too short for a safetensors file (8-byte "
                        "header length first)", size), NULL;
    const unsigned char *p = bytes;
    uint64_t length = mti_st_load_le64(p), data_size = 0;
    if (check_lengths(fn, size, length, &data_size) != MT_OK) return NULL;
    return make_handle(fn, p + 8, length, data_size, -1, p);
}

/* Reads exactly n bytes at `offset` of the file (retrying short reads); MT_ERR_IO otherwise. */
static mt_status read_exact(const char *fn, int fd, uint64_t offset, void *buffer, size_t n)
{
    unsigned char *out = buffer;
    while (n > 0) {
        ssize_t got = pread(fd, out, n, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return mti_fail(MT_ERR_IO, fn, "read failed: %s", strerror(errno));
        if (got == 0)
            return mti_fail(MT_ERR_IO, fn, "the file ends early at byte %llu (changed since it "
                            "was opened?)", (unsigned long long)offset);
        out += got;
        offset += (uint64_t)got;
        n -= (size_t)got;
    }
    return MT_OK;
}

mt_safetensors *mt_safetensors_open(const char *path)
{
    static const char fn[] = "mt_safetensors_open";
    if (!path) return mti_fail_null(fn, "path"), NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mti_fail(MT_ERR_IO, fn, "cannot open \"%.200s\": %s", path, strerror(errno)), NULL;
    struct stat info;
    unsigned char prefix[8];
    unsigned char *text = NULL;
    uint64_t length = 0, data_size = 0;
    mt_status status = MT_OK;
    if (fstat(fd, &info) != 0)
        status = mti_fail(MT_ERR_IO, fn, "cannot stat \"%.200s\": %s", path, strerror(errno));
    else if (!S_ISREG(info.st_mode))
        status = mti_fail(MT_ERR_IO, fn, "\"%.200s\" is not a regular file", path);
    else if (info.st_size < 8)
        status = mti_fail(MT_ERR_FORMAT, fn, "\"%.200s\" has %lld bytes, too short for a "
                          "safetensors file", path, (long long)info.st_size);
    if (status == MT_OK) status = read_exact(fn, fd, 0, prefix, 8);
    if (status == MT_OK) {
        length = mti_st_load_le64(prefix);
        status = check_lengths(fn, (uint64_t)info.st_size, length, &data_size);
    }
    if (status == MT_OK) {
        text = mti_malloc(length ? (size_t)length : 1);
        if (!text) status = mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %llu bytes for the "
                                     "header", (unsigned long long)length);
    }
    if (status == MT_OK) status = read_exact(fn, fd, 8, text, (size_t)length);
    mt_safetensors *f = status == MT_OK ? make_handle(fn, text, length, data_size, fd, NULL) : NULL;
    mti_free(text);
    if (!f) close(fd);
    return f;
}

void mt_safetensors_close(mt_safetensors *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    mti_st_header_free(&f->header);
    mti_free(f);
}

int mt_safetensors_count(const mt_safetensors *f)
{
    if (!f) return mti_fail_null("mt_safetensors_count", "f"), -1;
    return f->header.count;
}

const char *mt_safetensors_name(const mt_safetensors *f, int i)
{
    static const char fn[] = "mt_safetensors_name";
    if (!f) return mti_fail_null(fn, "f"), NULL;
    if (i < 0 || i >= f->header.count)
        return mti_fail(MT_ERR_INDEX, fn, "index %d is out of range for %d tensors", i,
                        f->header.count), NULL;
    return f->header.entries[i].name;
}

/* The entry named `name` into *out; MT_ERR_NULL / MT_ERR_INVALID_ARG recorded as `fn`. */
static mt_status find(const char *fn, const mt_safetensors *f, const char *name,
                      const mti_st_entry **out)
{
    if (!f) return mti_fail_null(fn, "f");
    if (!name) return mti_fail_null(fn, "name");
    *out = mti_st_find(&f->header, name);
    if (!*out)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "the file has no tensor named \"%.100s\"", name);
    return MT_OK;
}

mt_status mt_safetensors_shape(const mt_safetensors *f, const char *name, int *ndim,
                               int64_t *shape)
{
    static const char fn[] = "mt_safetensors_shape";
    if (!ndim) return mti_fail_null(fn, "ndim");
    if (!shape) return mti_fail_null(fn, "shape");
    const mti_st_entry *e;
    mt_status status = find(fn, f, name, &e);
    if (status != MT_OK) return status;
    *ndim = e->ndim;
    memcpy(shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    return MT_OK;
}

/* The tensor's floats, in host byte order, into `out` (numel floats). */
static mt_status read_values(const char *fn, const mt_safetensors *f, const mti_st_entry *e,
                             float *out)
{
    size_t bytes = (size_t)(e->end - e->begin);
    if (f->memory)
        memcpy(out, f->memory + f->data_start + e->begin, bytes);
    else {
        mt_status status = read_exact(fn, f->fd, f->data_start + e->begin, out, bytes);
        if (status != MT_OK) return status;
    }
    mti_st_swap_to_le(out, e->numel);
    return MT_OK;
}

mt_tensor *mt_safetensors_get(const mt_safetensors *f, const char *name)
{
    static const char fn[] = "mt_safetensors_get";
    const mti_st_entry *e;
    if (find(fn, f, name, &e) != MT_OK) return NULL;
    mt_tensor *t = mti_tensor_empty(fn, e->ndim, e->shape);
    if (!t) return NULL;
    if (read_values(fn, f, e, mti_tensor_data(t)) != MT_OK) {
        mti_unref(t);
        return NULL;
    }
    return mti_track(fn, t);
}

/* THE place where loading writes into a caller's tensor: `values` (row-major) into dst's view.
 * Every write path goes through here, so it is where a write would be recorded (e.g. a version
 * counter bump). dst's shape has been checked, and it has no zero strides. */
static void store_next(float *element, float *unused, void *context)
{
    (void)unused;
    const float **next = context;
    *element = *(*next)++;
}

static void write_into(mt_tensor *dst, const float *values)
{
    if (mt_is_contiguous(dst))
        memcpy(mti_tensor_data(dst), values, sizeof(float) * (size_t)mt_numel(dst));
    else
        mti_walk_elements(dst, NULL, store_next, &values);
    mti_bump_version(dst);
}

/* The checks a destination must pass before anything is read. */
static mt_status check_destination(const char *fn, const mti_st_entry *e, const mt_tensor *dst)
{
    char want[MTI_SHAPE_TEXT], have[MTI_SHAPE_TEXT];
    if (!mti_same_shape(mt_ndim(dst), mt_shape(dst), e->ndim, e->shape))
        return mti_fail(MT_ERR_SHAPE, fn, "tensor \"%.100s\" has shape %s, the destination %s",
                        e->name, mti_format_shape(want, sizeof want, e->ndim, e->shape),
                        mti_format_shape(have, sizeof have, mt_ndim(dst), mt_shape(dst)));
    for (int d = 0; d < mt_ndim(dst); d++)
        if (mt_strides(dst)[d] == 0 && mt_shape(dst)[d] > 1)
            return mti_fail(MT_ERR_INVALID_ARG, fn, "the destination for \"%.100s\" is expanded "
                            "along dim %d (stride 0): its elements overlap", e->name, d);
    return MT_OK;
}

/* Validates every (name, dst), reads every tensor into staging buffers, and only then writes the
 * destinations: all or nothing. */
static mt_status read_all(const char *fn, const mt_safetensors *f, int n,
                          const char *const *names, mt_tensor *const *dsts)
{
    if (!f) return mti_fail_null(fn, "f");
    if (n < 0) return mti_fail(MT_ERR_INVALID_ARG, fn, "n must be >= 0, got %d", n);
    if (n > 0 && !names) return mti_fail_null(fn, "names");
    if (n > 0 && !dsts) return mti_fail_null(fn, "dsts");
    const mti_st_entry **entries = mti_calloc((size_t)(n ? n : 1), sizeof *entries);
    /* staging buffers come from the storage cache: a repeated load reuses them instead of
     * faulting in fresh pages (which costs more than the copy) */
    float **staging = mti_calloc((size_t)(n ? n : 1), sizeof *staging);
    size_t *capacities = mti_calloc((size_t)(n ? n : 1), sizeof *capacities);
    mt_status status = entries && staging && capacities
                           ? MT_OK
                           : mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate a table");
    for (int i = 0; status == MT_OK && i < n; i++) {
        if (!names[i]) status = mti_fail(MT_ERR_NULL, fn, "name %d is NULL", i);
        else if (!dsts[i]) status = mti_fail(MT_ERR_NULL, fn, "destination %d is NULL", i);
        else status = find(fn, f, names[i], &entries[i]);
        if (status == MT_OK) status = check_destination(fn, entries[i], dsts[i]);
    }
    for (int i = 0; status == MT_OK && i < n; i++) {
        staging[i] = mti_buffer_alloc(sizeof(float) * (size_t)entries[i]->numel, &capacities[i]);
        if (!staging[i])
            status = mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %lld floats for \"%.100s\"",
                              (long long)entries[i]->numel, entries[i]->name);
        else
            status = read_values(fn, f, entries[i], staging[i]);
    }
    for (int i = 0; status == MT_OK && i < n; i++) write_into(dsts[i], staging[i]);
    for (int i = 0; staging && capacities && i < n; i++)
        if (staging[i]) mti_buffer_free(staging[i], capacities[i]);
    mti_free(capacities);
    mti_free(staging);
    mti_free(entries);
    return status;
}

mt_status mt_safetensors_read_into(const mt_safetensors *f, const char *name, mt_tensor *dst)
{
    static const char fn[] = "mt_safetensors_read_into";
    if (!dst) return mti_fail_null(fn, "dst");
    if (!name) return mti_fail_null(fn, "name");
    return read_all(fn, f, 1, &name, &dst);
}

mt_status mt_safetensors_read_many(const mt_safetensors *f, int n, const char *const *names,
                                   mt_tensor *const *dsts)
{
    return read_all("mt_safetensors_read_many", f, n, names, dsts);
}

const char *mt_safetensors_metadata(const mt_safetensors *f, const char *key)
{
    static const char fn[] = "mt_safetensors_metadata";
    if (!f) return mti_fail_null(fn, "f"), NULL;
    if (!key) return mti_fail_null(fn, "key"), NULL;
    int low = 0, high = f->header.metadata_count - 1;
    while (low <= high) { /* keys are sorted */
        int mid = low + (high - low) / 2;
        int order = strcmp(key, f->header.metadata[mid].key);
        if (order == 0) return f->header.metadata[mid].value;
        if (order < 0) high = mid - 1;
        else low = mid + 1;
    }
    return NULL;
}

int mt_safetensors_metadata_count(const mt_safetensors *f)
{
    if (!f) return mti_fail_null("mt_safetensors_metadata_count", "f"), -1;
    return f->header.metadata_count;
}

const char *mt_safetensors_metadata_key(const mt_safetensors *f, int i)
{
    static const char fn[] = "mt_safetensors_metadata_key";
    if (!f) return mti_fail_null(fn, "f"), NULL;
    if (i < 0 || i >= f->header.metadata_count)
        return mti_fail(MT_ERR_INDEX, fn, "index %d is out of range for %d metadata entries", i,
                        f->header.metadata_count), NULL;
    return f->header.metadata[i].key;
}
