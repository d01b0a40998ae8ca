/* minitorch-digits: reading the digits CSV with zlib and splitting it (see digits_data.h). */
#include "digits_data.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define LINE_MAX_BYTES 1024 /* a valid line has at most 65 * 3 characters */

static int fail(char *error, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, size, fmt, args);
    va_end(args);
    return -1;
}

/* Parses one line into pixels[64] and *label; returns NULL or what is wrong. */
static const char *parse_line(const char *line, float *pixels, int64_t *label, int *fields)
{
    static char why[96];
    const char *p = line;
    *fields = 0;
    for (;;) {
        const char *start = p;
        long value = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 9) value = value * 10 + (*p++ - '0'), digits++;
        if (digits == 0 || (*p >= '0' && *p <= '9')) {
            int shown = (int)strcspn(start, ",\r\n");
            snprintf(why, sizeof why, "field %d is not an integer 0..%d: \"%.*s\"", *fields + 1,
                     *fields < DIGITS_PIXELS ? DIGITS_MAX_VALUE : DIGITS_CLASSES - 1,
                     shown < 12 ? shown : 12, start);
            return why;
        }
        if (*fields < DIGITS_PIXELS) {
            if (value > DIGITS_MAX_VALUE) {
                snprintf(why, sizeof why, "pixel %d is %ld, outside 0..%d", *fields + 1, value, DIGITS_MAX_VALUE);
                return why;
            }
            pixels[*fields] = (float)value / DIGITS_MAX_VALUE;
        } else if (*fields == DIGITS_PIXELS) {
            if (value >= DIGITS_CLASSES) {
                snprintf(why, sizeof why, "label is %ld, outside 0..%d", value, DIGITS_CLASSES - 1);
                return why;
            }
            *label = value;
        }
        ++*fields;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\r') p++;
        if (*p == '\n' || *p == '\0') break;
        snprintf(why, sizeof why, "unexpected character '%c' after field %d", *p, *fields);
        return why;
    }
    if (*fields != DIGITS_PIXELS + 1) {
        snprintf(why, sizeof why, "%d fields, expected %d (64 pixels and the label)", *fields, DIGITS_PIXELS + 1);
        return why;
    }
    return NULL;
}

static int grow(digits_set *set, int64_t *capacity)
{
    int64_t wanted = *capacity ? *capacity * 2 : 2048;
    float *x = realloc(set->x, sizeof *x * (size_t)wanted * DIGITS_PIXELS);
    if (x) set->x = x;
    int64_t *y = x ? realloc(set->y, sizeof *y * (size_t)wanted) : NULL;
    if (y) set->y = y;
    if (!x || !y) return -1;
    *capacity = wanted;
    return 0;
}

int digits_read(const char *path, int64_t limit, digits_set *out, char *error, size_t error_size)
{
    errno = 0;
    gzFile in = gzopen(path, "rb");
    if (!in) return fail(error, error_size, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    digits_set set = {0};
    int64_t capacity = 0, line_number = 0;
    char line[LINE_MAX_BYTES];
    int status = 0;
    while ((limit == 0 || set.n < limit) && gzgets(in, line, sizeof line)) {
        line_number++;
        size_t length = strlen(line);
        if (length == sizeof line - 1 && line[length - 1] != '\n') {
            status = fail(error, error_size, "%s: line %lld: longer than %d bytes", path,
                          (long long)line_number, LINE_MAX_BYTES - 2);
            break;
        }
        if (strspn(line, " \t\r\n") == length) continue; /* blank */
        if (set.n == capacity && grow(&set, &capacity) != 0) {
            status = fail(error, error_size, "%s: out of memory at line %lld", path, (long long)line_number);
            break;
        }
        int fields;
        const char *why = parse_line(line, set.x + set.n * DIGITS_PIXELS, &set.y[set.n], &fields);
        if (why) {
            status = fail(error, error_size, "%s: line %lld: %s", path, (long long)line_number, why);
            break;
        }
        set.n++;
    }
    int gz_errnum = Z_OK;
    const char *gz_message = gzerror(in, &gz_errnum);
    if (status == 0 && gz_errnum != Z_OK && gz_errnum != Z_STREAM_END) {
        /* zlib's message starts with the path: drop it, the error starts with it already */
        const size_t length = strlen(path);
        if (strncmp(gz_message, path, length) == 0 && strncmp(gz_message + length, ": ", 2) == 0)
            gz_message += length + 2;
        status = fail(error, error_size, "%s: cannot decompress: %s", path,
                      gz_errnum == Z_ERRNO ? strerror(errno) : gz_message);
    }
    gzclose(in);
    if (status == 0 && set.n < 2)
        status = fail(error, error_size, "%s: %lld images, at least 2 are needed (one to train, one to test)",
                      path, (long long)set.n);
    if (status != 0) {
        digits_free(&set);
        return status;
    }
    *out = set;
    return 0;
}

uint64_t digits_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void digits_permutation(int64_t *order, int64_t n, uint64_t seed)
{
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        /* j uniform in 0..i (the modulo bias is below 2^-40 for these sizes) */
        int64_t j = (int64_t)(digits_random(&state) % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static int take(const digits_set *all, const int64_t *rows, int64_t n, digits_set *out)
{
    out->n = n;
    out->x = malloc(sizeof *out->x * (size_t)n * DIGITS_PIXELS);
    out->y = malloc(sizeof *out->y * (size_t)n);
    if (!out->x || !out->y) return -1;
    for (int64_t i = 0; i < n; i++) {
        memcpy(out->x + i * DIGITS_PIXELS, all->x + rows[i] * DIGITS_PIXELS, sizeof *out->x * DIGITS_PIXELS);
        out->y[i] = all->y[rows[i]];
    }
    return 0;
}

int digits_split(const digits_set *all, uint64_t seed, digits_set *train, digits_set *test)
{
    int64_t *order = malloc(sizeof *order * (size_t)all->n);
    if (!order) return -1;
    digits_permutation(order, all->n, seed);
    int64_t n_test = all->n / 5 > 0 ? all->n / 5 : 1;
    int64_t n_train = all->n - n_test;
    *train = (digits_set){0};
    *test = (digits_set){0};
    int status = take(all, order, n_train, train) || take(all, order + n_train, n_test, test) ? -1 : 0;
    free(order);
    if (status != 0) {
        digits_free(train);
        digits_free(test);
    }
    return status;
}

void digits_free(digits_set *set)
{
    free(set->x);
    free(set->y);
    *set = (digits_set){0};
}
