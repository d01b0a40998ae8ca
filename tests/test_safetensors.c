/* Saving and loading safetensors files (safetensors.h).
 *
 * The oracles here are independent of the library: files to load are laid out byte by byte by
 * the test from the format's description (8-byte little-endian header length, JSON text, raw
 * little-endian floats), and files the library writes are checked by the test's own minimal
 * reader (header length, names and offsets found by string search, floats decoded by shifts).
 * Values survive exactly (a float is stored as its 4 bytes), so comparisons are bitwise.
 * Hostile files must give MT_ERR_FORMAT / MT_ERR_IO with a message naming the function and the
 * problem, leave destinations unchanged, and leak nothing (ASan/LeakSanitizer). */
#include "testing.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- a scratch directory per test ---- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/mt-safetensors-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

/* Number of entries in the scratch directory (to see that no temporary file was left). */
static int dir_entries(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (rmdir(p) != 0) unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

TestSuite(safetensors, .init = make_dir, .fini = remove_dir);

static const char *in_dir(const char *name)
{
    static char paths[4][400];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 400, "%s/%s", dir, name);
    return p;
}

/* ---- the test's own writer and reader ---- */

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static float bits_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* A file image: header length `header_length` (little-endian), `json_length` bytes of json, then
 * `count` floats (little-endian) and `extra` zero bytes. malloc'd; *size receives its size. */
static unsigned char *image_with_length(uint64_t header_length, const char *json, size_t json_length,
                                        const float *values, size_t count, size_t extra, size_t *size)
{
    *size = 8 + json_length + 4 * count + extra;
    unsigned char *b = calloc(1, *size);
    cr_assert_not_null(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(header_length >> (8 * i));
    memcpy(b + 8, json, json_length);
    for (size_t i = 0; i < count; i++) put_le32(b + 8 + json_length + 4 * i, float_bits(values[i]));
    return b;
}

static unsigned char *image(const char *json, const float *values, size_t count, size_t extra,
                            size_t *size)
{
    return image_with_length(strlen(json), json, strlen(json), values, count, extra, size);
}

static void write_bytes(const char *path, const unsigned char *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, size, f), size);
    cr_assert_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *size = (size_t)n;
    return b;
}

/* The test's reader: finds "name" in the header by string search and checks its shape text,
 * offsets and floats. */
static void expect_stored(const unsigned char *file, size_t size, const char *quoted_name,
                          const char *shape_text, const float *values, int64_t count)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | file[i];
    cr_assert_leq(8 + n, size);
    char *json = malloc(n + 1);
    memcpy(json, file + 8, n);
    json[n] = 0;
    const char *at = strstr(json, quoted_name);
    cr_assert_not_null(at, "%s not in header %s", quoted_name, json);
    const char *end_of_entry = strchr(at, '}');
    const char *dtype = strstr(at, "\"dtype\":\"F32\"");
    const char *shape = strstr(at, "\"shape\":");
    const char *offsets = strstr(at, "\"data_offsets\":[");
    cr_assert(dtype && dtype < end_of_entry, "dtype F32 for %s", quoted_name);
    cr_assert(shape && shape < end_of_entry);
    cr_assert_eq(strncmp(shape + 8, shape_text, strlen(shape_text)), 0, "shape of %s: %.20s",
                 quoted_name, shape + 8);
    cr_assert(offsets && offsets < end_of_entry);
    unsigned long long begin, end;
    cr_assert_eq(sscanf(offsets + 16, "%llu,%llu", &begin, &end), 2);
    cr_assert_eq(end - begin, (unsigned long long)count * 4);
    cr_assert_leq(8 + n + end, size);
    for (int64_t i = 0; i < count; i++) {
        uint32_t bits = get_le32(file + 8 + n + begin + 4 * (uint64_t)i);
        cr_assert_eq(bits, float_bits(values[i]), "%s[%lld]: %a, expected %a", quoted_name,
                     (long long)i, (double)bits_float(bits), (double)values[i]);
    }
    free(json);
}

/* ---- helpers on tensors ---- */

static float *logical_floats(const mt_tensor *t)
{
    float *v = t_floats(t);
    cr_assert_not_null(v);
    return v;
}

static void expect_message(mt_status status, const char *fn, const char *fragment)
{
    t_expect_error(status, fn);
    cr_assert_not_null(strstr(mt_last_error(), fragment), "message \"%s\" lacks \"%s\"",
                       mt_last_error(), fragment);
}

/* ---- round trips ---- */

Test(safetensors, round_trip_of_views_and_metadata)
{
    t_rng r = t_rng_seed(7);
    const int64_t shapes[3][3] = {{3, 4, 5}, {6, 2, 7}, {4, 1, 9}};
    mt_tensor *tensors[3];
    float *expected[3];
    for (int layout = 0; layout < 3; layout++) {
        double *v = t_random_values(&r, t_numel(3, shapes[layout]), -10, 10);
        tensors[layout] = t_tensor(&r, 3, shapes[layout], v, layout); /* contiguous, permuted, narrowed */
        expected[layout] = logical_floats(tensors[layout]);
        free(v);
    }
    cr_assert(!mt_is_contiguous(tensors[1]) && !mt_is_contiguous(tensors[2]));
    const char *names[] = {"layer.weight", "permuted", "narrowed \"quoted\"\\ é"};
    const char *meta[] = {"format", "pt", "note", "line\nbreak \"q\"", NULL};
    const char *path = in_dir("a.safetensors");
    cr_assert_eq(mt_save_safetensors(path, 3, names, tensors, meta), MT_OK, "%s", mt_last_error());
    cr_assert_eq(dir_entries(), 1, "only the file, no temporary");

    mt_safetensors *f = mt_safetensors_open(path);
    cr_assert_not_null(f, "%s", mt_last_error());
    cr_assert_eq(mt_safetensors_count(f), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(mt_safetensors_name(f, i), names[i], "saved order is kept");
        int ndim;
        int64_t shape[MT_MAX_DIMS];
        cr_assert_eq(mt_safetensors_shape(f, names[i], &ndim, shape), MT_OK);
        cr_assert_eq(ndim, 3);
        cr_assert_arr_eq(shape, shapes[i], sizeof(int64_t) * 3);
        mt_tensor *back = mt_safetensors_get(f, names[i]);
        cr_assert_not_null(back, "%s", mt_last_error());
        cr_assert(mt_is_contiguous(back));
        t_expect_shape(back, 3, shapes[i]);
        t_expect_exact(names[i], back, expected[i]);
        mt_release(back);
    }
    cr_assert_str_eq(mt_safetensors_metadata(f, "format"), "pt");
    cr_assert_str_eq(mt_safetensors_metadata(f, "note"), "line\nbreak \"q\"");
    mt_clear_error();
    cr_assert_null(mt_safetensors_metadata(f, "absent"));
    cr_assert_eq(mt_last_status(), MT_OK, "an absent key is not an error");
    cr_assert_eq(mt_safetensors_metadata_count(f), 2);
    cr_assert_str_eq(mt_safetensors_metadata_key(f, 0), "format"); /* keys in byte order */
    cr_assert_str_eq(mt_safetensors_metadata_key(f, 1), "note");

    /* read_into a permuted and a narrowed destination view */
    mt_tensor *base = mt_full(MT_DIMS(5, 4, 3), 99.0f);
    mt_tensor *permuted = mt_permute(base, (const int[]){2, 1, 0}); /* shape (3, 4, 5) */
    cr_assert_eq(mt_safetensors_read_into(f, names[0], permuted), MT_OK, "%s", mt_last_error());
    t_expect_exact("into a permuted view", permuted, expected[0]);
    mt_tensor *wide = mt_full(MT_DIMS(6, 4, 7), 99.0f);
    mt_tensor *window = mt_narrow(wide, 1, 1, 2);
    cr_assert_eq(mt_safetensors_read_into(f, names[1], window), MT_OK, "%s", mt_last_error());
    t_expect_exact("into a narrowed view", window, expected[1]);
    float *all = logical_floats(wide); /* the rest of the buffer is untouched */
    for (int64_t i = 0; i < 6 * 4 * 7; i++) {
        int64_t j = (i / 7) % 4;
        if (j != 1 && j != 2) cr_assert_eq(all[i], 99.0f);
    }
    free(all);
    mt_safetensors_close(f);
    for (int i = 0; i < 3; i++) {
        mt_release(tensors[i]);
        free(expected[i]);
    }
    mt_release(permuted);
    mt_release(base);
    mt_release(window);
    mt_release(wide);
}

/* A transposed tensor larger than the writer's gather buffer, an expanded one, a scalar, an
 * 8-dim one, no metadata; and a file with no tensors at all. */
Test(safetensors, round_trip_of_large_expanded_and_scalar_tensors)
{
    mt_tensor *big = t_arange(MT_DIMS(300, 211));
    mt_tensor *transposed = mt_transpose(big, 0, 1);
    mt_tensor *row = t_arange(MT_DIMS(1, 5));
    mt_tensor *expanded = mt_expand(row, MT_DIMS(3, 5));
    mt_tensor *scalar = mt_scalar(-2.5f);
    mt_tensor *eight = t_arange(MT_DIMS(2, 1, 2, 1, 2, 1, 2, 3));
    mt_tensor *tensors[] = {transposed, expanded, scalar, eight};
    const char *names[] = {"t", "e", "s", "8"};
    const char *path = in_dir("b.safetensors");
    cr_assert_eq(mt_save_safetensors(path, 4, names, tensors, NULL), MT_OK, "%s", mt_last_error());
    mt_safetensors *f = mt_safetensors_open(path);
    cr_assert_not_null(f, "%s", mt_last_error());
    cr_assert_eq(mt_safetensors_metadata_count(f), 0);
    for (int i = 0; i < 4; i++) {
        float *want = logical_floats(tensors[i]);
        mt_tensor *back = mt_safetensors_get(f, names[i]);
        cr_assert_not_null(back, "%s", mt_last_error());
        t_expect_shape(back, mt_ndim(tensors[i]), mt_shape(tensors[i]));
        t_expect_exact(names[i], back, want);
        free(want);
        mt_release(back);
    }
    mt_safetensors_close(f);
    for (int i = 0; i < 4; i++) mt_release(tensors[i]);
    mt_release(big);
    mt_release(row);

    const char *empty_path = in_dir("empty.safetensors");
    cr_assert_eq(mt_save_safetensors(empty_path, 0, NULL, NULL, NULL), MT_OK, "%s", mt_last_error());
    f = mt_safetensors_open(empty_path);
    cr_assert_not_null(f, "%s", mt_last_error());
    cr_assert_eq(mt_safetensors_count(f), 0);
    mt_safetensors_close(f);
}

/* ---- interoperability ---- */

/* A file laid out by the test from the spec: unordered entries, padding spaces, an unknown field,
 * escapes (\", \u00e9, a surrogate pair), a 0-dim scalar, special float values. */
Test(safetensors, loads_a_file_written_from_the_spec)
{
    const char *json =
        "{\"b\":{\"shape\":[2,2],\"dtype\":\"F32\",\"data_offsets\":[12,28],\"note\":[1,{\"x\":null}]},"
        " \"__metadata__\" : {\"k\\u00e9\":\"v\\ud83d\\ude00\"},\n"
        "\"a\\\"\\u00e9\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[28,32]}}    ";
    const float values[] = {1.5f, -0.0f, INFINITY, 1e-40f, 2, 3, 4, -7.25f};
    size_t size;
    unsigned char *bytes = image(json, values, 8, 0, &size);
    const char *path = in_dir("spec.safetensors");
    write_bytes(path, bytes, size);
    for (int source = 0; source < 2; source++) {
        mt_safetensors *f = source ? mt_safetensors_open_memory(bytes, size) : mt_safetensors_open(path);
        cr_assert_not_null(f, "%s", mt_last_error());
        cr_assert_eq(mt_safetensors_count(f), 3);
        cr_assert_str_eq(mt_safetensors_name(f, 0), "a\"\xc3\xa9", "data order");
        cr_assert_str_eq(mt_safetensors_name(f, 1), "b");
        cr_assert_str_eq(mt_safetensors_metadata(f, "k\xc3\xa9"), "v\xf0\x9f\x98\x80");
        mt_tensor *a = mt_safetensors_get(f, "a\"\xc3\xa9");
        mt_tensor *b = mt_safetensors_get(f, "b");
        mt_tensor *s = mt_safetensors_get(f, "s");
        cr_assert(a && b && s, "%s", mt_last_error());
        t_expect_shape(a, MT_DIMS(3));
        t_expect_shape(b, MT_DIMS(2, 2));
        t_expect_shape(s, MT_DIMS(1)); /* a 0-dim entry is the library's (1,) scalar */
        t_expect_exact("a", a, values);
        t_expect_exact("b", b, values + 3);
        t_expect_exact("s", s, values + 7);
        mt_release(a);
        mt_release(b);
        mt_release(s);
        mt_safetensors_close(f);
    }
    free(bytes);
}

/* JSON forms a valid header may use: any JSON whitespace, a null __metadata__, every escape
 * (upper- and lower-case hex), raw multi-byte UTF-8, unknown fields of every kind, a huge dim
 * product that still fits. */
Test(safetensors, accepts_every_json_form)
{
    const char *json =
        "{\r\n\t\"__metadata__\" :\tnull ,\n"
        " \"\\b\\f\\n\\r\\t\\/\\\\\\u00C9\\u00e9\xe2\x82\xac\xf0\x9f\x98\x80\" : {"
        "\"x\": [true, false, null, 0, -0, 1.5e-3, 2E+2, \"s\", {}, []], "
        "\"data_offsets\" : [ 0 , 8 ] , \"dtype\" : \"F32\" , \"shape\" : [ 2 ] } }\n\r\t ";
    const float values[] = {-1.0f, 0.25f};
    size_t size;
    unsigned char *bytes = image(json, values, 2, 0, &size);
    mt_safetensors *f = mt_safetensors_open_memory(bytes, size);
    cr_assert_not_null(f, "%s", mt_last_error());
    const char *name = "\b\f\n\r\t/\\\xc3\x89\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    cr_assert_str_eq(mt_safetensors_name(f, 0), name);
    cr_assert_eq(mt_safetensors_metadata_count(f), 0);
    mt_tensor *t = mt_safetensors_get(f, name);
    cr_assert_not_null(t, "%s", mt_last_error());
    t_expect_exact("escaped name", t, values);
    mt_release(t);
    mt_safetensors_close(f);
    free(bytes);

    /* the same name, with its control characters, survives the library's own writer */
    mt_tensor *x = mt_from_data(MT_DIMS(2), values);
    const char *path = in_dir("names.safetensors");
    const char *names[] = {name, "\x01\x1f\x7f"};
    mt_tensor *tensors[] = {x, x};
    cr_assert_eq(mt_save_safetensors(path, 2, names, tensors, NULL), MT_OK, "%s", mt_last_error());
    f = mt_safetensors_open(path);
    cr_assert_not_null(f, "%s", mt_last_error());
    cr_assert_str_eq(mt_safetensors_name(f, 0), name);
    cr_assert_str_eq(mt_safetensors_name(f, 1), "\x01\x1f\x7f");
    mt_safetensors_close(f);
    mt_release(x);
}

/* A file the library writes, read back by the test's own reader. */
Test(safetensors, written_file_follows_the_spec)
{
    mt_tensor *w = t_arange(MT_DIMS(2, 3));
    mt_tensor *wt = mt_transpose(w, 0, 1);
    mt_tensor *bias = mt_from_data(MT_DIMS(2), (const float[]){-1.0f, NAN});
    mt_tensor *tensors[] = {wt, bias};
    const char *names[] = {"w.T", "bias"};
    const char *meta[] = {"format", "pt", NULL};
    const char *path = in_dir("w.safetensors");
    cr_assert_eq(mt_save_safetensors(path, 2, names, tensors, meta), MT_OK, "%s", mt_last_error());
    size_t size;
    unsigned char *file = read_bytes(path, &size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | file[i];
    cr_assert_eq((8 + n) % 8, 0, "the data starts 8-byte aligned");
    cr_assert_eq(file[8], '{');
    cr_assert_eq(size, 8 + n + 4 * (6 + 2), "nothing after the data");
    cr_assert_not_null(strstr((const char *)file + 8, "\"__metadata__\":{\"format\":\"pt\"}"));
    const float wt_values[] = {0, 3, 1, 4, 2, 5}; /* the transpose, row-major */
    expect_stored(file, size, "\"w.T\"", "[3,2]", wt_values, 6);
    const float bias_values[] = {-1.0f, NAN};
    expect_stored(file, size, "\"bias\"", "[2]", bias_values, 2);
    free(file);
    mt_release(wt);
    mt_release(w);
    mt_release(bias);
}

/* ---- hostile files ---- */

typedef struct hostile {
    const char *what;
    const char *json;
    size_t data_bytes; /* zero bytes after the header */
    const char *fragment; /* expected in the message */
} hostile;

static const hostile hostile_headers[] = {
    {"empty header", "", 0, "must start with '{'"},
    {"leading space", " {}", 0, "must start with '{'"},
    {"not an object", "[]", 0, "must start with '{'"},
    {"unterminated object", "{", 0, "expected '\"'"},
    {"unterminated string", "{\"a", 0, "unterminated string"},
    {"trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, "expected '\"'"},
    {"missing colon", "{\"a\" {}}", 0, "expected ':'"},
    {"missing comma", "{\"a\":{\"dtype\":\"F32\" \"shape\":[1]}}", 0, "expected '}'"},
    {"junk after the object", "{} x", 0, "unexpected content"},
    {"second object", "{}{}", 0, "unexpected content"},
    {"entry not an object", "{\"a\":5}", 0, "expected '{'"},
    {"bad escape", "{\"a\\x\":{}}", 0, "bad escape"},
    {"truncated \\u", "{\"\\u12\":{}}", 0, "4 hex digits"},
    {"\\u at the end", "{\"\\u", 0, "unterminated string"},
    {"lone low surrogate", "{\"\\udc00\":{}}", 0, "lone low surrogate"},
    {"high surrogate alone", "{\"\\ud800x\":{}}", 0, "not followed by a low one"},
    {"high surrogate + non-low", "{\"\\ud800\\u0041\":{}}", 0, "is followed by"},
    {"\\u0000", "{\"a\\u0000\":{}}", 0, "NUL"},
    {"raw control character", "{\"a\tb\":{}}", 0, "control character"},
    {"invalid UTF-8 byte", "{\"\xff\":{}}", 0, "invalid UTF-8"},
    {"overlong UTF-8", "{\"\xc0\xaf\":{}}", 0, "invalid UTF-8"},
    {"UTF-8 surrogate", "{\"\xed\xa0\x80\":{}}", 0, "invalid UTF-8"},
    {"truncated UTF-8", "{\"\xe2\x82\":{}}", 0, "invalid UTF-8"},
    {"above U+10FFFF", "{\"\xf4\x90\x80\x80\":{}}", 0, "invalid UTF-8"},
    {"non-ASCII outside strings", "{\xc3\xa9}", 0, "expected '\"'"},
    {"deep nesting",
     "{\"a\":{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0, "nested deeper"},
    {"bad literal in a skipped field", "{\"a\":{\"x\":tru}}", 0, "expected a value"},
    {"bad number in a skipped field", "{\"a\":{\"x\":1.}}", 0, "digits after '.'"},
    {"dtype F16", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "\"F16\""},
    {"dtype I64", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "\"I64\""},
    {"dtype not a string", "{\"a\":{\"dtype\":32}}", 0, "expected '\"'"},
    {"no dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no \"dtype\""},
    {"no shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "no \"shape\""},
    {"no offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "no \"data_offsets\""},
    {"field twice", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", 0, "twice"},
    {"name twice",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "appears twice"},
    {"__metadata__ twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "appears twice"},
    {"metadata value a number", "{\"__metadata__\":{\"k\":1}}", 0, "must be a string"},
    {"metadata key twice", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "appears twice"},
    {"metadata not an object", "{\"__metadata__\":[]}", 0, "expected '{'"},
    {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative integer"},
    {"fractional dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "non-negative integer"},
    {"exponent dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4, "non-negative integer"},
    {"leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "leading zeros"},
    {"dim not a number", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "non-negative integer"},
    {"huge dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, "too large"},
    {"numel overflows int64", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "2^60"},
    {"9 dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "more than 8 dims"},
    {"zero dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[0,0]}}", 0, "empty tensors are not supported"},
    {"shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, "expected '['"},
    {"end before begin", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "end before begin"},
    {"size is not numel * 4", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "4 bytes per element"},
    {"offsets past the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2, "past the end"},
    {"huge offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,18446744073709551616]}}", 4, "too large"},
    {"offsets past the end, huge", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551611,18446744073709551615]}}", 4, "starts at data byte"},
    {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "expected ']'"},
    {"one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "expected ','"},
    {"a gap",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "a gap"},
    {"a gap at the start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a gap"},
    {"an overlap",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap"},
    {"the same range twice",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlap"},
    {"trailing data bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 5, "cover"},
    {"data without tensors", "{}", 4, "cover"},
};

/* Every hostile header fails to open, from a file and from memory, with MT_ERR_FORMAT and a
 * message naming the problem. */
Test(safetensors, hostile_headers_are_refused)
{
    const char *path = in_dir("hostile.safetensors");
    for (size_t i = 0; i < sizeof hostile_headers / sizeof hostile_headers[0]; i++) {
        const hostile *h = &hostile_headers[i];
        size_t size;
        unsigned char *bytes = image(h->json, NULL, 0, h->data_bytes, &size);
        write_bytes(path, bytes, size);
        mt_clear_error();
        mt_safetensors *f = mt_safetensors_open(path);
        cr_expect_null(f, "%s: opened", h->what);
        mt_safetensors_close(f);
        cr_expect_eq(mt_last_status(), MT_ERR_FORMAT, "%s: %s", h->what, mt_last_error());
        cr_expect(t_error_names("mt_safetensors_open"), "%s: %s", h->what, mt_last_error());
        cr_expect_not_null(strstr(mt_last_error(), h->fragment), "%s: \"%s\" lacks \"%s\"", h->what,
                           mt_last_error(), h->fragment);
        mt_clear_error();
        f = mt_safetensors_open_memory(bytes, size);
        cr_expect_null(f, "%s: opened from memory", h->what);
        mt_safetensors_close(f);
        cr_expect_eq(mt_last_status(), MT_ERR_FORMAT, "%s (memory): %s", h->what, mt_last_error());
        cr_expect(t_error_names("mt_safetensors_open_memory"), "%s: %s", h->what, mt_last_error());
        free(bytes);
    }
}

/* Nesting up to the limit in a skipped field is fine; one more level is refused. */
Test(safetensors, nesting_limit_is_exact)
{
    for (int depth = 64; depth <= 65; depth++) {
        char json[512];
        int used = snprintf(json, sizeof json, "{\"a\":{\"x\":");
        for (int d = 0; d < depth; d++) json[used++] = '[';
        for (int d = 0; d < depth; d++) json[used++] = ']';
        snprintf(json + used, sizeof json - (size_t)used,
                 ",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
        size_t size;
        const float one = 1.0f;
        unsigned char *bytes = image(json, &one, 1, 0, &size);
        mt_clear_error();
        mt_safetensors *f = mt_safetensors_open_memory(bytes, size);
        if (depth <= 64)
            cr_assert_not_null(f, "depth %d: %s", depth, mt_last_error());
        else
            expect_message(MT_ERR_FORMAT, "mt_safetensors_open_memory", "nested deeper than 64");
        mt_safetensors_close(f);
        free(bytes);
    }
}

/* The 8-byte length field: too short a file, a length past the end, above the limit, 2^64 - 1. */
Test(safetensors, hostile_lengths_are_refused)
{
    const char *path = in_dir("len.safetensors");
    const unsigned char short_file[5] = {2, 0, 0, 0, 0};
    write_bytes(path, short_file, sizeof short_file);
    cr_assert_null(mt_safetensors_open(path));
    expect_message(MT_ERR_FORMAT, "mt_safetensors_open", "too short");
    cr_assert_null(mt_safetensors_open_memory(short_file, sizeof short_file));
    expect_message(MT_ERR_FORMAT, "mt_safetensors_open_memory", "too short");

    const struct {
        uint64_t length;
        const char *fragment;
    } lengths[] = {{3, "larger than the 2 bytes"},
                   {(uint64_t)MT_SAFETENSORS_MAX_HEADER + 1, "above the limit"},
                   {UINT64_MAX, "above the limit"}};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t size;
        unsigned char *bytes = image_with_length(lengths[i].length, "{}", 2, NULL, 0, 0, &size);
        write_bytes(path, bytes, size);
        cr_assert_null(mt_safetensors_open(path));
        expect_message(MT_ERR_FORMAT, "mt_safetensors_open", lengths[i].fragment);
        cr_assert_null(mt_safetensors_open_memory(bytes, size));
        expect_message(MT_ERR_FORMAT, "mt_safetensors_open_memory", lengths[i].fragment);
        free(bytes);
    }
    cr_assert_null(mt_safetensors_open(in_dir("missing.safetensors")));
    expect_message(MT_ERR_IO, "mt_safetensors_open", "cannot open");
    cr_assert_null(mt_safetensors_open(dir));
    expect_message(MT_ERR_IO, "mt_safetensors_open", "not a regular file");
    mt_clear_error();
    cr_assert_null(mt_safetensors_open(NULL));
    t_expect_error(MT_ERR_NULL, "mt_safetensors_open");
    mt_clear_error();
    cr_assert_null(mt_safetensors_open_memory(NULL, 8));
    t_expect_error(MT_ERR_NULL, "mt_safetensors_open_memory");
}

/* ---- destinations stay unchanged on failure ---- */

static const char two_tensors[] =
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}}";
static const float two_values[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

Test(safetensors, failed_reads_leave_destinations_unchanged)
{
    size_t size;
    unsigned char *bytes = image(two_tensors, two_values, 10, 0, &size);
    const char *path = in_dir("two.safetensors");
    write_bytes(path, bytes, size);
    mt_safetensors *f = mt_safetensors_open(path);
    cr_assert_not_null(f, "%s", mt_last_error());
    mt_tensor *a = mt_full(MT_DIMS(2, 3), 7.0f), *b = mt_full(MT_DIMS(4), 7.0f);
    mt_tensor *wrong = mt_full(MT_DIMS(3, 2), 7.0f);
    mt_tensor *row = mt_full(MT_DIMS(1, 3), 7.0f);
    mt_tensor *expanded = mt_expand(row, MT_DIMS(2, 3));

    mt_clear_error();
    cr_assert_eq(mt_safetensors_read_into(f, "a", wrong), MT_ERR_SHAPE);
    expect_message(MT_ERR_SHAPE, "mt_safetensors_read_into", "[2,3]");
    t_expect_filled("wrong shape", wrong, 7.0f);
    mt_clear_error();
    cr_assert_eq(mt_safetensors_read_into(f, "nope", a), MT_ERR_INVALID_ARG);
    expect_message(MT_ERR_INVALID_ARG, "mt_safetensors_read_into", "no tensor named \"nope\"");
    mt_clear_error();
    cr_assert_eq(mt_safetensors_read_into(f, "a", expanded), MT_ERR_INVALID_ARG);
    expect_message(MT_ERR_INVALID_ARG, "mt_safetensors_read_into", "expanded");
    t_expect_filled("expanded", row, 7.0f);
    mt_clear_error();
    cr_assert_null(mt_safetensors_get(f, "nope"));
    t_expect_error(MT_ERR_INVALID_ARG, "mt_safetensors_get");
    int ndim = -5;
    mt_clear_error();
    cr_assert_eq(mt_safetensors_shape(f, "nope", &ndim, (int64_t[MT_MAX_DIMS]){0}), MT_ERR_INVALID_ARG);
    cr_assert_eq(ndim, -5);
    mt_clear_error();
    cr_assert_null(mt_safetensors_name(f, 2));
    t_expect_error(MT_ERR_INDEX, "mt_safetensors_name");

    /* all or nothing: the second destination is wrong, the first must not change */
    const char *names[] = {"a", "b"};
    mt_tensor *bad_pair[] = {a, wrong};
    mt_clear_error();
    cr_assert_eq(mt_safetensors_read_many(f, 2, names, bad_pair), MT_ERR_SHAPE);
    t_expect_filled("first of a failed pair", a, 7.0f);
    const char *missing_second[] = {"a", "c"};
    mt_tensor *pair[] = {a, b};
    mt_clear_error();
    cr_assert_eq(mt_safetensors_read_many(f, 2, missing_second, pair), MT_ERR_INVALID_ARG);
    t_expect_filled("first of a failed pair", a, 7.0f);

    /* the file shrinks after it was opened: reading fails with MT_ERR_IO, nothing changes */
    cr_assert_eq(truncate(path, (off_t)(size - 4)), 0);
    mt_clear_error();
    cr_assert_eq(mt_safetensors_read_many(f, 2, names, pair), MT_ERR_IO);
    expect_message(MT_ERR_IO, "mt_safetensors_read_many", "ends early");
    t_expect_filled("a after a short read", a, 7.0f);
    t_expect_filled("b after a short read", b, 7.0f);
    mt_clear_error();
    cr_assert_null(mt_safetensors_get(f, "b"));
    t_expect_error(MT_ERR_IO, "mt_safetensors_get");
    /* the first tensor is still whole */
    cr_assert_eq(mt_safetensors_read_into(f, "a", a), MT_OK, "%s", mt_last_error());
    t_expect_exact("a", a, two_values);
    mt_safetensors_close(f);

    mt_release(a);
    mt_release(b);
    mt_release(wrong);
    mt_release(expanded);
    mt_release(row);
    free(bytes);
}

/* Loading writes into a tensor that requires grad (a parameter), with no history recorded. */
Test(safetensors, loads_into_a_parameter)
{
    size_t size;
    unsigned char *bytes = image(two_tensors, two_values, 10, 0, &size);
    mt_safetensors *f = mt_safetensors_open_memory(bytes, size);
    cr_assert_not_null(f);
    mt_tensor *p = mt_zeros(MT_DIMS(4));
    mt_set_requires_grad(p, true);
    cr_assert_eq(mt_safetensors_read_into(f, "b", p), MT_OK, "%s", mt_last_error());
    t_expect_exact("b", p, two_values + 6);
    cr_assert(mt_requires_grad(p));
    cr_assert_null(mt_grad(p));
    mt_safetensors_close(f);
    mt_release(p);
    free(bytes);
}

/* ---- saving: bad arguments, and a failed save leaves the old file ---- */

Test(safetensors, failed_saves_leave_the_old_file)
{
    const char *path = in_dir("keep.safetensors");
    const unsigned char old[] = "previous content";
    write_bytes(path, old, sizeof old);
    mt_tensor *t = t_arange(MT_DIMS(2, 2));
    mt_tensor *tensors[] = {t, t};
    const char *dup[] = {"x", "x"};
    const char *reserved[] = {"__metadata__"};
    const char *not_utf8[] = {"\xff"};
    const char *with_null[] = {"x", NULL};
    mt_tensor *null_tensor[] = {t, NULL};
    const char *ok[] = {"x", "y"};
    const char *lonely_key[] = {"k", NULL};
    const char *dup_key[] = {"k", "1", "k", "2", NULL};
    const char *bad_meta[] = {"k", "\xc0\x80", NULL};

    struct {
        mt_status status;
        const char *fragment;
        mt_status got;
    } cases[] = {
        {MT_ERR_INVALID_ARG, "appears twice", mt_save_safetensors(path, 2, dup, tensors, NULL)},
        {MT_ERR_INVALID_ARG, "reserved", mt_save_safetensors(path, 1, reserved, tensors, NULL)},
        {MT_ERR_INVALID_ARG, "UTF-8", mt_save_safetensors(path, 1, not_utf8, tensors, NULL)},
        {MT_ERR_NULL, "name 1", mt_save_safetensors(path, 2, with_null, tensors, NULL)},
        {MT_ERR_NULL, "tensor 1", mt_save_safetensors(path, 2, ok, null_tensor, NULL)},
        {MT_ERR_INVALID_ARG, "n must be", mt_save_safetensors(path, -1, ok, tensors, NULL)},
        {MT_ERR_INVALID_ARG, "no value", mt_save_safetensors(path, 2, ok, tensors, lonely_key)},
        {MT_ERR_INVALID_ARG, "appears twice", mt_save_safetensors(path, 2, ok, tensors, dup_key)},
        {MT_ERR_INVALID_ARG, "UTF-8", mt_save_safetensors(path, 2, ok, tensors, bad_meta)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(cases[i].got, cases[i].status, "case %zu", i);
    /* (the last error is the last case's) */
    expect_message(MT_ERR_INVALID_ARG, "mt_save_safetensors", "UTF-8");
    mt_clear_error();
    cr_assert_eq(mt_save_safetensors(NULL, 2, ok, tensors, NULL), MT_ERR_NULL);
    t_expect_error(MT_ERR_NULL, "mt_save_safetensors");

    /* rename fails: the destination is a directory; no temporary file stays behind */
    cr_assert_eq(mkdir(in_dir("adir"), 0700), 0);
    mt_clear_error();
    cr_assert_eq(mt_save_safetensors(in_dir("adir"), 2, ok, tensors, NULL), MT_ERR_IO);
    expect_message(MT_ERR_IO, "mt_save_safetensors", "rename");
    mt_clear_error();
    cr_assert_eq(mt_save_safetensors(in_dir("no/such/dir.safetensors"), 2, ok, tensors, NULL), MT_ERR_IO);
    expect_message(MT_ERR_IO, "mt_save_safetensors", "temporary file");
    cr_assert_eq(dir_entries(), 2, "only keep.safetensors and adir");

    size_t size;
    unsigned char *now = read_bytes(path, &size);
    cr_assert_eq(size, sizeof old);
    cr_assert_arr_eq(now, old, sizeof old);
    free(now);
    /* a successful save replaces it */
    cr_assert_eq(mt_save_safetensors(path, 2, ok, tensors, NULL), MT_OK, "%s", mt_last_error());
    mt_safetensors *f = mt_safetensors_open(path);
    cr_assert_not_null(f);
    cr_assert_eq(mt_safetensors_count(f), 2);
    mt_safetensors_close(f);
    mt_release(t);
}

Test(safetensors, null_arguments)
{
    size_t size;
    unsigned char *bytes = image(two_tensors, two_values, 10, 0, &size);
    mt_safetensors *f = mt_safetensors_open_memory(bytes, size);
    mt_tensor *a = mt_zeros(MT_DIMS(2, 3));
    int ndim;
    int64_t shape[MT_MAX_DIMS];
#define NULL_CASE(fn, call)                                                                        \
    do {                                                                                           \
        mt_clear_error();                                                                          \
        call;                                                                                      \
        t_expect_error(MT_ERR_NULL, fn);                                                           \
    } while (0)
    NULL_CASE("mt_safetensors_count", cr_assert_eq(mt_safetensors_count(NULL), -1));
    NULL_CASE("mt_safetensors_name", cr_assert_null(mt_safetensors_name(NULL, 0)));
    NULL_CASE("mt_safetensors_shape", (void)mt_safetensors_shape(NULL, "a", &ndim, shape));
    NULL_CASE("mt_safetensors_shape", (void)mt_safetensors_shape(f, NULL, &ndim, shape));
    NULL_CASE("mt_safetensors_shape", (void)mt_safetensors_shape(f, "a", NULL, shape));
    NULL_CASE("mt_safetensors_shape", (void)mt_safetensors_shape(f, "a", &ndim, NULL));
    NULL_CASE("mt_safetensors_get", cr_assert_null(mt_safetensors_get(NULL, "a")));
    NULL_CASE("mt_safetensors_get", cr_assert_null(mt_safetensors_get(f, NULL)));
    NULL_CASE("mt_safetensors_read_into", (void)mt_safetensors_read_into(NULL, "a", a));
    NULL_CASE("mt_safetensors_read_into", (void)mt_safetensors_read_into(f, NULL, a));
    NULL_CASE("mt_safetensors_read_into", (void)mt_safetensors_read_into(f, "a", NULL));
    NULL_CASE("mt_safetensors_read_many", (void)mt_safetensors_read_many(f, 1, NULL, &a));
    NULL_CASE("mt_safetensors_read_many", (void)mt_safetensors_read_many(f, 1, (const char *[]){"a"}, NULL));
    NULL_CASE("mt_safetensors_read_many", (void)mt_safetensors_read_many(f, 1, (const char *[]){NULL}, &a));
    NULL_CASE("mt_safetensors_metadata", cr_assert_null(mt_safetensors_metadata(NULL, "k")));
    NULL_CASE("mt_safetensors_metadata", cr_assert_null(mt_safetensors_metadata(f, NULL)));
    NULL_CASE("mt_safetensors_metadata_count", cr_assert_eq(mt_safetensors_metadata_count(NULL), -1));
    NULL_CASE("mt_safetensors_metadata_key", cr_assert_null(mt_safetensors_metadata_key(NULL, 0)));
    NULL_CASE("mt_params_save", (void)mt_params_save(NULL, &(mt_params){0}, NULL));
    NULL_CASE("mt_params_save", (void)mt_params_save("x", NULL, NULL));
    NULL_CASE("mt_params_load", (void)mt_params_load(NULL, &(mt_params){0}, NULL));
    NULL_CASE("mt_params_load", (void)mt_params_load("x", NULL, NULL));
#undef NULL_CASE
    mt_clear_error();
    cr_assert_null(mt_safetensors_metadata_key(f, 0));
    t_expect_error(MT_ERR_INDEX, "mt_safetensors_metadata_key");
    mt_clear_error();
    cr_assert_eq(mt_safetensors_read_many(f, -1, NULL, NULL), MT_ERR_INVALID_ARG);
    cr_assert_eq(mt_safetensors_read_many(f, 0, NULL, NULL), MT_OK);
    mt_safetensors_close(NULL);
    mt_safetensors_close(f);
    mt_release(a);
    free(bytes);
    cr_assert_neq(strcmp(mt_strerror(MT_ERR_FORMAT), mt_strerror(MT_ERR_IO)), 0);
    cr_assert_neq(strcmp(mt_strerror(MT_ERR_FORMAT), "unknown status"), 0);
}

/* ---- parameters ---- */

static float *param_values(const mt_params *p, int i) { return logical_floats(p->items[i]); }

Test(safetensors, params_round_trip_and_strict_load)
{
    mt_mlp saved, loaded;
    cr_assert_eq(mt_mlp_init(&saved, 2, 5, 1), MT_OK);
    cr_assert_eq(mt_mlp_init(&loaded, 2, 5, 2), MT_OK);
    const char *path = in_dir("mlp.safetensors");
    cr_assert_eq(mt_params_save(path, &saved.params, NULL), MT_OK, "%s", mt_last_error());
    mt_safetensors *f = mt_safetensors_open(path);
    cr_assert_not_null(f);
    cr_assert_eq(mt_safetensors_count(f), 6);
    cr_assert_str_eq(mt_safetensors_name(f, 0), "0");
    cr_assert_str_eq(mt_safetensors_name(f, 5), "5");
    mt_safetensors_close(f);
    cr_assert_eq(mt_params_load(path, &loaded.params, NULL), MT_OK, "%s", mt_last_error());
    for (int i = 0; i < 6; i++) {
        float *want = param_values(&saved.params, i);
        t_expect_exact("loaded parameter", loaded.params.items[i], want);
        free(want);
    }

    /* names; a file with a different model fails and changes nothing */
    const char *names[] = {"l1.w", "l1.b", "l2.w", "l2.b", "l3.w", "l3.b"};
    cr_assert_eq(mt_params_save(path, &saved.params, names), MT_OK, "%s", mt_last_error());
    mt_mlp other;
    cr_assert_eq(mt_mlp_init(&other, 2, 4, 3), MT_OK); /* hidden 4, not 5 */
    float *before[6];
    for (int i = 0; i < 6; i++) before[i] = param_values(&other.params, i);
    mt_clear_error();
    cr_assert_eq(mt_params_load(path, &other.params, names), MT_ERR_SHAPE);
    t_expect_error(MT_ERR_SHAPE, "mt_params_load");
    mt_clear_error();
    cr_assert_eq(mt_params_load(path, &other.params, NULL), MT_ERR_INVALID_ARG); /* names differ */
    expect_message(MT_ERR_INVALID_ARG, "mt_params_load", "not one of the parameters' names");
    mt_params fewer = {0}; /* the file holds more tensors than the list */
    cr_assert_eq(mt_params_add(&fewer, other.params.items[1]), MT_OK);
    mt_clear_error();
    cr_assert_eq(mt_params_load(path, &fewer, (const char *[]){"l1.b"}), MT_ERR_INVALID_ARG);
    expect_message(MT_ERR_INVALID_ARG, "mt_params_load", "not one of");
    mt_clear_error();
    cr_assert_eq(mt_params_load(in_dir("none"), &other.params, names), MT_ERR_IO);
    t_expect_error(MT_ERR_IO, "mt_params_load");
    for (int i = 0; i < 6; i++) {
        t_expect_exact("unchanged parameter", other.params.items[i], before[i]);
        free(before[i]);
    }
    mt_params_free(&fewer);
    mt_mlp_free(&other);
    mt_mlp_free(&saved);
    mt_mlp_free(&loaded);
}

/* ---- allocation failures ---- */

static void check_no_memory(const char *what, int64_t n)
{
    cr_expect_eq(mt_last_status(), MT_ERR_NO_MEMORY, "%s, n=%lld: %s (%s)", what, (long long)n,
                 mt_strerror(mt_last_status()), mt_last_error());
    cr_expect(t_error_names(NULL), "%s, n=%lld: \"%s\"", what, (long long)n, mt_last_error());
}

/* open + get + read_into + read_many with the n-th allocation failing, for every n: a clean
 * MT_ERR_NO_MEMORY each time, no tensor left behind, destinations unchanged. */
Test(safetensors, allocation_failures_open_and_get)
{
    size_t size;
    unsigned char *bytes = image(
        "{\"__metadata__\":{\"k\":\"v\",\"k2\":\"v2\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24],\"x\":[\"s\"]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}}",
        two_values, 10, 0, &size);
    const char *path = in_dir("alloc.safetensors");
    write_bytes(path, bytes, size);
    int64_t live = t_live_tensors();
    mt_tensor *a = mt_full(MT_DIMS(2, 3), 7.0f), *b = mt_full(MT_DIMS(4), 7.0f);
    bool completed = false;
    int64_t n = 0;
    for (; n < 1000 && !completed; n++) {
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_safetensors *f = (n % 2) ? mt_safetensors_open(path) : mt_safetensors_open_memory(bytes, size);
        mt_tensor *got = f ? mt_safetensors_get(f, "a") : NULL;
        mt_status into = got ? mt_safetensors_read_into(f, "b", b) : MT_ERR_NO_MEMORY;
        mt_status many = into == MT_OK ? mt_safetensors_read_many(f, 2, (const char *[]){"a", "b"},
                                                                  (mt_tensor *[]){a, b})
                                       : MT_ERR_NO_MEMORY;
        mt_debug_fail_allocations_after(-1);
        completed = many == MT_OK;
        if (!completed) {
            check_no_memory("open/get/read", n);
            t_expect_filled("a", a, 7.0f);
            if (into != MT_OK) t_expect_filled("b", b, 7.0f);
        }
        mt_release(got);
        mt_safetensors_close(f);
        if (!completed) {
            mt_release(b);
            b = mt_full(MT_DIMS(4), 7.0f);
        }
    }
    cr_assert(completed, "the sequence never completed");
    cr_assert_gt(n, 5, "the sweep covered several allocations");
    t_expect_exact("a", a, two_values);
    t_expect_exact("b", b, two_values + 6);
    mt_release(a);
    mt_release(b);
    cr_assert_eq(t_live_tensors(), live);
    free(bytes);
}

Test(safetensors, allocation_failures_save)
{
    mt_tensor *t = t_arange(MT_DIMS(3, 4));
    mt_tensor *tt = mt_transpose(t, 0, 1);
    mt_tensor *tensors[] = {t, tt};
    const char *names[] = {"t", "tt"};
    const char *meta[] = {"a", "1", "b", "2", NULL};
    const char *path = in_dir("s.safetensors");
    bool completed = false;
    for (int64_t n = 0; n < 1000 && !completed; n++) {
        mt_clear_error();
        mt_debug_fail_allocations_after(n);
        mt_status status = mt_save_safetensors(path, 2, names, tensors, meta);
        mt_debug_fail_allocations_after(-1);
        completed = status == MT_OK;
        if (!completed) {
            check_no_memory("save", n);
            cr_assert_eq(dir_entries(), 0, "n=%lld: a failed save left a file", (long long)n);
        }
    }
    cr_assert(completed);
    cr_assert_eq(dir_entries(), 1);
    mt_release(tt);
    mt_release(t);
}
