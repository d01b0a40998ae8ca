/* Printing tensors as nested brackets:
 *   [[0.0000, 1.0000, 2.0000],
 *    [3.0000, 4.0000, 5.0000]]
 * Large tensors (over 1000 elements) show the first and last 3 entries of each long dim. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/error.h"
#include "tensor/tensor_impl.h"

#define SUMMARY_THRESHOLD 1000
#define EDGE 3

typedef struct writer {
    char *buffer;
    size_t capacity;
    int64_t length; /* what the full text needs, even past capacity */
} writer;

static void put(writer *w, const char *text)
{
    size_t n = strlen(text);
    if (w->buffer && (size_t)w->length < w->capacity) {
        size_t room = w->capacity - (size_t)w->length - 1;
        memcpy(w->buffer + w->length, text, n < room ? n : room);
        w->buffer[w->length + (int64_t)(n < room ? n : room)] = '\0';
    }
    w->length += (int64_t)n;
}

typedef struct layout {
    const mt_tensor *t;
    bool summarize;
    bool scientific;
    int width;
} layout;

/* Whether index i of a dim of `size` is shown, and whether "..." goes before it. */
static bool shown(const layout *l, int64_t size, int64_t i)
{
    return !l->summarize || size <= 2 * EDGE || i < EDGE || i >= size - EDGE;
}

static void format_value(const layout *l, float v, char *out, size_t cap)
{
    snprintf(out, cap, l->scientific ? "%.4e" : "%.4f", (double)v);
}

static void visit_values(layout *l, int dim, int64_t position, double *max_abs, double *min_abs,
                         bool *any)
{
    const mt_tensor *t = l->t;
    for (int64_t i = 0; i < t->shape[dim]; i++) {
        if (!shown(l, t->shape[dim], i)) continue;
        int64_t p = position + i * t->strides[dim];
        if (dim + 1 < t->ndim) {
            visit_values(l, dim + 1, p, max_abs, min_abs, any);
        } else {
            double v = fabs((double)t->storage->data[p]);
            if (!isfinite(v)) continue;
            if (v > *max_abs) *max_abs = v;
            if (v > 0 && v < *min_abs) *min_abs = v;
            *any = true;
        }
    }
}

static void measure_width(layout *l, int dim, int64_t position)
{
    const mt_tensor *t = l->t;
    for (int64_t i = 0; i < t->shape[dim]; i++) {
        if (!shown(l, t->shape[dim], i)) continue;
        int64_t p = position + i * t->strides[dim];
        if (dim + 1 < t->ndim) {
            measure_width(l, dim + 1, p);
        } else {
            char text[64];
            format_value(l, t->storage->data[p], text, sizeof text);
            int n = (int)strlen(text);
            if (n > l->width) l->width = n;
        }
    }
}

static void emit(const layout *l, writer *w, int dim, int64_t position)
{
    const mt_tensor *t = l->t;
    int64_t size = t->shape[dim];
    put(w, "[");
    bool first = true;
    for (int64_t i = 0; i < size; i++) {
        if (!shown(l, size, i)) {
            if (i == EDGE) {
                put(w, dim + 1 < t->ndim ? ",\n" : ", ");
                if (dim + 1 < t->ndim)
                    for (int k = 0; k <= dim; k++) put(w, " ");
                put(w, "...");
            }
            continue;
        }
        if (!first) {
            if (dim + 1 < t->ndim) {
                put(w, ",\n");
                if (dim + 2 < t->ndim) put(w, "\n"); /* a blank line between matrices */
                for (int k = 0; k <= dim; k++) put(w, " ");
            } else {
                put(w, ", ");
            }
        }
        first = false;
        int64_t p = position + i * t->strides[dim];
        if (dim + 1 < t->ndim) {
            emit(l, w, dim + 1, p);
        } else {
            char text[64], padded[80];
            format_value(l, t->storage->data[p], text, sizeof text);
            snprintf(padded, sizeof padded, "%*s", l->width, text);
            put(w, padded);
        }
    }
    put(w, "]");
}

int64_t mt_format(const mt_tensor *t, char *buffer, size_t capacity)
{
    if (!t) return mti_fail_null("mt_format", "t"), -1;
    if (!buffer && capacity > 0) return mti_fail_null("mt_format", "buffer"), -1;
    layout l = {.t = t, .summarize = t->numel > SUMMARY_THRESHOLD};
    double max_abs = 0, min_abs = INFINITY;
    bool any = false;
    visit_values(&l, 0, t->offset, &max_abs, &min_abs, &any);
    l.scientific = any && (max_abs >= 1e5 || (min_abs < 1e-4));
    measure_width(&l, 0, t->offset);
    writer w = {buffer, capacity, 0};
    if (buffer && capacity > 0) buffer[0] = '\0';
    emit(&l, &w, 0, t->offset);
    return w.length;
}

mt_status mt_fprint(FILE *stream, const mt_tensor *t)
{
    if (!stream) return mti_fail_null("mt_fprint", "stream");
    if (!t) return mti_fail_null("mt_fprint", "t");
    int64_t length = mt_format(t, NULL, 0);
    char stack_text[4096];
    char *text = length < (int64_t)sizeof stack_text ? stack_text : malloc((size_t)length + 1);
    if (!text) return mti_fail(MT_ERR_NO_MEMORY, "mt_fprint", "cannot format %lld characters",
                               (long long)length);
    mt_format(t, text, (size_t)length + 1);
    int ok = fputs(text, stream) >= 0 && fputc('\n', stream) != EOF;
    if (text != stack_text) free(text);
    return ok ? MT_OK : mti_fail(MT_ERR_IO, "mt_fprint", "write failed");
}

mt_status mt_print(const mt_tensor *t)
{
    if (!t) return mti_fail_null("mt_print", "t");
    return mt_fprint(stdout, t);
}
