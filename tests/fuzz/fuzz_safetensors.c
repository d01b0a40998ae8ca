/* libFuzzer target for the safetensors reader.
 *
 * The input bytes are a whole file, opened with mt_safetensors_open_memory (the same header
 * checks mt_safetensors_open runs on a file's bytes). An input starting with the byte '#' is
 * framed instead: "#<json>\0<data>" becomes the file <8-byte length of json><json><data>, so
 * mutations of the JSON keep a consistent length prefix and reach the later checks and the
 * data more often. Every file must either be refused with
 * MT_ERR_FORMAT (or MT_ERR_NO_MEMORY) and a message "mt_safetensors_open_memory: ...", or open
 * into a handle whose content satisfies the format's rules, checked here independently:
 *   - names are non-empty-pointer strings, unique, and found by every query;
 *   - shapes have 1..MT_MAX_DIMS dims of size >= 1;
 *   - the tensors' sizes (numel * 4) add up to exactly the data section (the file size minus 8
 *     minus the header length read from the first 8 bytes): the ranges tile it;
 *   - each tensor's values, from mt_safetensors_get, equal (bitwise) some 4 * numel bytes of the
 *     data section decoded as little-endian floats at the offset implied by the tiling order, and
 *     mt_safetensors_read_into a transposed view gives the same values;
 *   - every metadata key is found by lookup;
 *   - at the end of each input every tensor is freed.
 * A violated invariant aborts (a libFuzzer crash); sanitizers report the rest, leaks included. */
#include <minitorch/minitorch.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn, format(printf, 1, 2))) static void finding(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "\nfuzz_safetensors finding: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n  last error: %s (%s)\n", mt_last_error(), mt_strerror(mt_last_status()));
    va_end(args);
    abort();
}

static int64_t live_tensors(void)
{
    mt_memory_stats stats;
    mt_memory_get_stats(&stats);
    return stats.live_tensors;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* The tensor's values against the data bytes starting at `data`. */
static void check_values(const char *name, const mt_tensor *t, const uint8_t *data)
{
    int64_t n = mt_numel(t);
    float *values = malloc(sizeof(float) * (size_t)n);
    if (!values || mt_copy_to(t, values, n) != MT_OK) finding("cannot read back \"%s\"", name);
    for (int64_t i = 0; i < n; i++)
        if (bits_of(values[i]) != le32(data + 4 * i))
            finding("\"%s\"[%lld] is %08x, the file holds %08x", name, (long long)i,
                    bits_of(values[i]), le32(data + 4 * i));
    free(values);
}

static void check_handle(mt_safetensors *f, const uint8_t *bytes, size_t size)
{
    uint64_t header_length = 0;
    for (int i = 7; i >= 0; i--) header_length = header_length << 8 | bytes[i];
    const uint8_t *data = bytes + 8 + header_length;
    uint64_t data_size = size - 8 - header_length;
    int count = mt_safetensors_count(f);
    if (count < 0) finding("count %d", count);
    uint64_t covered = 0;
    for (int i = 0; i < count; i++) {
        const char *name = mt_safetensors_name(f, i);
        if (!name) finding("tensor %d has no name", i);
        for (int k = 0; k < i; k++)
            if (strcmp(mt_safetensors_name(f, k), name) == 0) finding("\"%s\" twice", name);
        int ndim;
        int64_t shape[MT_MAX_DIMS];
        if (mt_safetensors_shape(f, name, &ndim, shape) != MT_OK) finding("no shape for \"%s\"", name);
        if (ndim < 1 || ndim > MT_MAX_DIMS) finding("\"%s\" has %d dims", name, ndim);
        int64_t numel = 1;
        for (int d = 0; d < ndim; d++) {
            if (shape[d] < 1) finding("\"%s\" has dim %d = %lld", name, d, (long long)shape[d]);
            if (numel > (INT64_MAX / 4) / shape[d]) finding("\"%s\" is too large", name);
            numel *= shape[d];
        }
        if ((uint64_t)numel * 4 > data_size - covered)
            finding("\"%s\" runs past the data section", name);
        mt_tensor *t = mt_safetensors_get(f, name);
        if (!t) {
            if (mt_last_status() != MT_ERR_NO_MEMORY) finding("get \"%s\" failed", name);
        } else {
            if (mt_numel(t) != numel) finding("\"%s\": numel differs from its shape", name);
            check_values(name, t, data + covered);
            mt_release(t);
        }
        if (ndim == 2 && numel <= 4096) { /* into a transposed view */
            mt_tensor *base = mt_zeros(2, (const int64_t[]){shape[1], shape[0]});
            mt_tensor *view = base ? mt_transpose(base, 0, 1) : NULL;
            if (view && mt_safetensors_read_into(f, name, view) != MT_OK) finding("read_into \"%s\"", name);
            if (view) check_values(name, view, data + covered);
            mt_release(view);
            mt_release(base);
        }
        covered += (uint64_t)numel * 4;
    }
    if (covered != data_size)
        finding("the tensors cover %llu of %llu data bytes", (unsigned long long)covered,
                (unsigned long long)data_size);
    int pairs = mt_safetensors_metadata_count(f);
    for (int i = 0; i < pairs; i++) {
        const char *key = mt_safetensors_metadata_key(f, i);
        if (!key || !mt_safetensors_metadata(f, key)) finding("metadata key %d not found", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    int64_t live = live_tensors();
    uint8_t *framed = NULL;
    const uint8_t *separator = size > 0 && bytes[0] == '#' ? memchr(bytes, 0, size) : NULL;
    if (separator) {
        size_t json = (size_t)(separator - bytes) - 1, data = size - json - 2;
        framed = malloc(8 + json + data + 1);
        if (!framed) return 0;
        for (int i = 0; i < 8; i++) framed[i] = (uint8_t)((uint64_t)json >> (8 * i));
        memcpy(framed + 8, bytes + 1, json);
        memcpy(framed + 8 + json, separator + 1, data);
        bytes = framed;
        size = 8 + json + data;
    }
    mt_clear_error();
    mt_safetensors *f = mt_safetensors_open_memory(bytes, size);
    if (!f) {
        mt_status s = mt_last_status();
        if (s != MT_ERR_FORMAT && s != MT_ERR_NO_MEMORY) finding("refused with %s", mt_strerror(s));
        if (strncmp(mt_last_error(), "mt_safetensors_open_memory: ", 28) != 0)
            finding("message \"%s\"", mt_last_error());
    } else {
        check_handle(f, bytes, size);
        mt_safetensors_close(f);
    }
    free(framed);
    if (live_tensors() != live) finding("%lld tensors left behind", (long long)(live_tensors() - live));
    return 0;
}
