#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

t_rng t_rng_seed(uint64_t seed) { return (t_rng){seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull}; }

uint64_t t_rng_next(t_rng *r)
{ /* xorshift64* */
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545f4914f6cdd1dull;
}

double t_rng_uniform(t_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(t_rng_next(r) >> 11) * 0x1.0p-53);
}

int t_rng_int(t_rng *r, int lo, int hi) { return lo + (int)(t_rng_next(r) % (uint64_t)(hi - lo + 1)); }

int64_t t_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

bool t_next_index(int ndim, const int64_t *shape, int64_t *index)
{
    for (int d = ndim - 1; d >= 0; d--) {
        if (++index[d] < shape[d]) return true;
        index[d] = 0;
    }
    return false;
}

int64_t t_ordinal(int ndim, const int64_t *shape, const int64_t *index)
{
    int64_t o = 0;
    for (int d = 0; d < ndim; d++) o = o * shape[d] + index[d];
    return o;
}

int t_random_shape(t_rng *r, int min_dims, int max_dims, int64_t max_size, int64_t *shape)
{
    int ndim = t_rng_int(r, min_dims, max_dims);
    for (int i = 0; i < ndim; i++) shape[i] = t_rng_int(r, 1, (int)max_size);
    return ndim;
}

void t_broadcast_index(int big_ndim, const int64_t *big_index, int ndim, const int64_t *shape,
                       int64_t *index)
{
    for (int i = 0; i < ndim; i++) index[i] = shape[i] == 1 ? 0 : big_index[i + big_ndim - ndim];
}

bool t_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *n, int64_t *out)
{
    int nd = na > nb ? na : nb;
    for (int i = 0; i < nd; i++) {
        int64_t x = i - (nd - na) >= 0 ? a[i - (nd - na)] : 1;
        int64_t y = i - (nd - nb) >= 0 ? b[i - (nd - nb)] : 1;
        if (x != y && x != 1 && y != 1) return false;
        out[i] = x > y ? x : y;
    }
    *n = nd;
    return true;
}

double *t_random_values(t_rng *r, int64_t n, double lo, double hi)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = (double)(float)t_rng_uniform(r, lo, hi);
    return v;
}

mt_tensor *t_tensor(t_rng *r, int ndim, const int64_t *shape, const double *values, int layout)
{
    int64_t n = t_numel(ndim, shape);
    if (layout == 0) {
        float *data = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) data[i] = (float)values[i];
        mt_tensor *t = mt_from_data(ndim, shape, data);
        free(data);
        cr_assert_not_null(t, "t_tensor: %s", mt_last_error());
        return t;
    }
    if (layout == 1) {
        /* storage laid out in the order `perm`; the logical view permutes back */
        int perm[MT_MAX_DIMS], inverse[MT_MAX_DIMS];
        for (int i = 0; i < ndim; i++) perm[i] = i;
        for (int i = ndim - 1; i > 0; i--) {
            int j = t_rng_int(r, 0, i), s = perm[i];
            perm[i] = perm[j];
            perm[j] = s;
        }
        if (ndim > 1 && perm[0] == 0) { /* prefer a layout that differs from row-major */
            int s = perm[0];
            perm[0] = perm[ndim - 1];
            perm[ndim - 1] = s;
        }
        int64_t stored_shape[MT_MAX_DIMS];
        for (int i = 0; i < ndim; i++) {
            stored_shape[i] = shape[perm[i]];
            inverse[perm[i]] = i;
        }
        float *data = malloc(sizeof(float) * (size_t)n);
        int64_t idx[MT_MAX_DIMS] = {0}, stored_idx[MT_MAX_DIMS];
        do {
            for (int i = 0; i < ndim; i++) stored_idx[i] = idx[perm[i]];
            data[t_ordinal(ndim, stored_shape, stored_idx)] = (float)values[t_ordinal(ndim, shape, idx)];
        } while (t_next_index(ndim, shape, idx));
        mt_tensor *stored = mt_from_data(ndim, stored_shape, data);
        free(data);
        mt_tensor *t = mt_permute(stored, inverse);
        cr_assert_not_null(t, "t_tensor: %s", mt_last_error());
        mt_release(stored);
        return t;
    }
    /* layout 2: a window (offset 1 in each dim, 2 extra elements) of a larger buffer */
    int64_t big_shape[MT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) big_shape[i] = shape[i] + 2;
    int64_t big_n = t_numel(ndim, big_shape);
    float *data = malloc(sizeof(float) * (size_t)big_n);
    for (int64_t i = 0; i < big_n; i++) data[i] = NAN; /* poison: any stray read shows */
    int64_t idx[MT_MAX_DIMS] = {0}, big_idx[MT_MAX_DIMS];
    do {
        for (int i = 0; i < ndim; i++) big_idx[i] = idx[i] + 1;
        data[t_ordinal(ndim, big_shape, big_idx)] = (float)values[t_ordinal(ndim, shape, idx)];
    } while (t_next_index(ndim, shape, idx));
    mt_tensor *big = mt_from_data(ndim, big_shape, data);
    free(data);
    mt_tensor *t = mt_retain(big);
    for (int i = 0; i < ndim; i++) {
        mt_tensor *next = mt_narrow(t, i, 1, shape[i]);
        cr_assert_not_null(next, "t_tensor: %s", mt_last_error());
        mt_release(t);
        t = next;
    }
    mt_release(big);
    return t;
}

double *t_values(const mt_tensor *t)
{
    int ndim = mt_ndim(t);
    const int64_t *shape = mt_shape(t);
    int64_t n = mt_numel(t);
    double *v = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(v);
    int64_t idx[MT_MAX_DIMS] = {0};
    int64_t i = 0;
    do {
        float x;
        cr_assert_eq(mt_get(t, idx, &x), MT_OK, "mt_get: %s", mt_last_error());
        v[i++] = x;
    } while (t_next_index(ndim, shape, idx));
    return v;
}

void t_expect_shape(const mt_tensor *t, int ndim, const int64_t *shape)
{
    cr_assert_not_null(t, "expected a tensor, got NULL: %s", mt_last_error());
    cr_assert_eq(mt_ndim(t), ndim, "ndim %d, expected %d", mt_ndim(t), ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(mt_shape(t)[i], shape[i], "dim %d is %lld, expected %lld", i,
                     (long long)mt_shape(t)[i], (long long)shape[i]);
}

void t_expect_close(const char *what, const mt_tensor *t, const double *expected, double atol,
                    double rtol)
{
    cr_assert_not_null(t, "%s: NULL result: %s", what, mt_last_error());
    double *got = t_values(t);
    int64_t n = mt_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], e = expected[i];
        bool ok;
        if (isnan(e)) ok = isnan(g);
        else if (isinf(e)) ok = g == e;
        else ok = fabs(g - e) <= atol + rtol * fabs(e);
        if (!ok) {
            free(got);
            cr_assert_fail("%s: element %lld is %.9g, expected %.9g (atol %g, rtol %g)", what,
                           (long long)i, g, e, atol, rtol);
        }
    }
    free(got);
}

void t_expect_filled(const char *what, const mt_tensor *t, float value)
{
    int64_t n = mt_numel(t);
    double *e = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(e);
    for (int64_t i = 0; i < n; i++) e[i] = value;
    t_expect_close(what, t, e, 0, 0);
    free(e);
}

void t_expect_error(mt_status status, const char *fn)
{
    cr_assert_eq(mt_last_status(), status, "status %d (%s), expected %d (%s); message: %s",
                 mt_last_status(), mt_strerror(mt_last_status()), status, mt_strerror(status),
                 mt_last_error());
    size_t n = strlen(fn);
    cr_assert(strncmp(mt_last_error(), fn, n) == 0 && mt_last_error()[n] == ':',
              "message \"%s\" does not start with \"%s:\"", mt_last_error(), fn);
}

void t_use_backend(int which)
{
    cr_assert_eq(mt_set_backend(which ? MT_BACKEND_BLAS : MT_BACKEND_NAIVE), MT_OK);
}

mt_tensor *t_arange(int ndim, const int64_t *shape)
{
    int64_t n = t_numel(ndim, shape);
    float *data = malloc(sizeof(float) * (size_t)n);
    cr_assert_not_null(data);
    for (int64_t i = 0; i < n; i++) data[i] = (float)i;
    mt_tensor *t = mt_from_data(ndim, shape, data);
    free(data);
    cr_assert_not_null(t, "t_arange: %s", mt_last_error());
    return t;
}

void t_expect_strides(const mt_tensor *t, int ndim, const int64_t *strides)
{
    cr_assert_not_null(t, "expected a tensor, got NULL: %s", mt_last_error());
    cr_assert_eq(mt_ndim(t), ndim, "ndim %d, expected %d", mt_ndim(t), ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(mt_strides(t)[i], strides[i], "stride %d is %lld, expected %lld", i,
                     (long long)mt_strides(t)[i], (long long)strides[i]);
}

void t_expect_exact(const char *what, const mt_tensor *t, const float *expected)
{
    cr_assert_not_null(t, "%s: NULL result: %s", what, mt_last_error());
    int ndim = mt_ndim(t);
    const int64_t *shape = mt_shape(t);
    int64_t idx[MT_MAX_DIMS] = {0};
    int64_t i = 0;
    do {
        float x;
        cr_assert_eq(mt_get(t, idx, &x), MT_OK, "%s: mt_get: %s", what, mt_last_error());
        cr_assert(memcmp(&x, &expected[i], sizeof x) == 0,
                  "%s: element %lld is %.9g, expected %.9g", what, (long long)i, (double)x,
                  (double)expected[i]);
        i++;
    } while (t_next_index(ndim, shape, idx));
}

char *t_read_stream(FILE *stream)
{
    cr_assert_eq(fflush(stream), 0);
    cr_assert_eq(fseek(stream, 0, SEEK_END), 0);
    long size = ftell(stream);
    cr_assert_geq(size, 0);
    rewind(stream);
    char *text = malloc((size_t)size + 1);
    cr_assert_not_null(text);
    size_t got = fread(text, 1, (size_t)size, stream);
    cr_assert_eq(got, (size_t)size, "read %zu of %ld bytes", got, size);
    text[size] = '\0';
    return text;
}

/* ---- additions for the ops suites ---- */
#include <stdio.h>
#include <unistd.h>

double *t_grid_values(t_rng *r, int64_t n, int kmin, int kmax, double step)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = (double)(float)(t_rng_int(r, kmin, kmax) * step);
    return v;
}

double *t_random_signed_values(t_rng *r, int64_t n, double lo, double hi)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) {
        double x = t_rng_uniform(r, lo, hi);
        v[i] = (double)(float)(t_rng_next(r) & 1 ? -x : x);
    }
    return v;
}

const char *t_shape_text(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

double *t_oracle_map(int ndim, const int64_t *shape, int na, const int64_t *sa, const double *a,
                     double (*f)(double))
{
    double *out = malloc(sizeof(double) * (size_t)t_numel(ndim, shape));
    cr_assert_not_null(out);
    int64_t idx[MT_MAX_DIMS] = {0}, ia[MT_MAX_DIMS];
    int64_t i = 0;
    do {
        t_broadcast_index(ndim, idx, na, sa, ia);
        out[i++] = f(a[t_ordinal(na, sa, ia)]);
    } while (t_next_index(ndim, shape, idx));
    return out;
}

double *t_oracle_zip(int ndim, const int64_t *shape, int na, const int64_t *sa, const double *a,
                     int nb, const int64_t *sb, const double *b, double (*f)(double, double))
{
    double *out = malloc(sizeof(double) * (size_t)t_numel(ndim, shape));
    cr_assert_not_null(out);
    int64_t idx[MT_MAX_DIMS] = {0}, ia[MT_MAX_DIMS], ib[MT_MAX_DIMS];
    int64_t i = 0;
    do {
        t_broadcast_index(ndim, idx, na, sa, ia);
        t_broadcast_index(ndim, idx, nb, sb, ib);
        out[i++] = f(a[t_ordinal(na, sa, ia)], b[t_ordinal(nb, sb, ib)]);
    } while (t_next_index(ndim, shape, idx));
    return out;
}

double *t_oracle_reduce(int ndim, const int64_t *shape, const double *a, int dim,
                        t_reduce_kind kind, double **bound)
{
    const double u = 0x1.0p-24;
    int d = dim < 0 ? dim + ndim : dim;
    cr_assert(d >= 0 && d < ndim, "t_oracle_reduce: dim %d", dim);
    int64_t out_shape[MT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) out_shape[i] = shape[i];
    out_shape[d] = 1;
    int64_t n = shape[d], outputs = t_numel(ndim, out_shape);
    double *out = malloc(sizeof(double) * (size_t)outputs);
    double *err = malloc(sizeof(double) * (size_t)outputs);
    cr_assert(out && err);
    const double gamma = (double)n * u / (1.0 - (double)n * u);
    int64_t idx[MT_MAX_DIMS] = {0}, full[MT_MAX_DIMS];
    int64_t o = 0;
    do {
        for (int i = 0; i < ndim; i++) full[i] = idx[i];
        double acc = kind == T_PROD ? 1.0 : kind == T_MAX ? -INFINITY : 0.0, mag = 0.0;
        bool nan = false;
        for (int64_t j = 0; j < n; j++) {
            full[d] = j;
            double x = a[t_ordinal(ndim, shape, full)];
            if (isnan(x)) nan = true;
            mag += fabs(x);
            switch (kind) {
            case T_SUM:
            case T_MEAN: acc += x; break;
            case T_PROD: acc *= x; break;
            case T_MAX: acc = x > acc ? x : acc; break;
            }
        }
        if (kind == T_MAX && nan) acc = NAN;
        if (kind == T_MEAN) acc /= (double)n;
        out[o] = acc;
        switch (kind) {
        case T_SUM: err[o] = gamma * mag; break;
        case T_PROD: err[o] = gamma * fabs(acc); break;
        case T_MAX: err[o] = 0.0; break;
        case T_MEAN: err[o] = gamma * mag / (double)n * (1.0 + 4.0 * u) + 3.0 * u * fabs(acc); break;
        }
        o++;
    } while (t_next_index(ndim, out_shape, idx));
    if (bound) *bound = err;
    else free(err);
    return out;
}

void t_expect_close_each(const char *what, const mt_tensor *t, const double *expected,
                         const double *atol_each)
{
    cr_assert_not_null(t, "%s: NULL result: %s", what, mt_last_error());
    double *got = t_values(t);
    int64_t n = mt_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], e = expected[i];
        bool ok;
        if (isnan(e)) ok = isnan(g);
        else if (isinf(e)) ok = g == e;
        else ok = fabs(g - e) <= atol_each[i];
        if (!ok) {
            free(got);
            cr_assert_fail("%s: element %lld is %.9g, expected %.9g (atol %g)", what,
                           (long long)i, g, e, atol_each[i]);
        }
    }
    free(got);
}

int t_random_shrunk_shape(t_rng *r, int ndim, const int64_t *shape, bool allow_drop,
                          int64_t *small)
{
    int drop = allow_drop ? t_rng_int(r, 0, ndim - 1) : 0;
    int n = ndim - drop;
    for (int i = 0; i < n; i++) small[i] = t_rng_int(r, 0, 1) ? 1 : shape[i + drop];
    return n;
}

void t_random_broadcast_pair(t_rng *r, int ndim, const int64_t *shape, int *na, int64_t *sa,
                             int *nb, int64_t *sb)
{
    int mode = t_rng_int(r, 0, 3);
    *na = *nb = ndim;
    for (int i = 0; i < ndim; i++) sa[i] = sb[i] = shape[i];
    if (mode == 1 || mode == 3) *nb = t_random_shrunk_shape(r, ndim, shape, true, sb);
    if (mode == 2 || mode == 3) *na = t_random_shrunk_shape(r, ndim, shape, true, sa);
}

static double t_identity(double x) { return x; }

mt_tensor *t_expanded_tensor(t_rng *r, int ndim, const int64_t *shape, int small_ndim,
                             const int64_t *small_shape, const double *small_values, int layout,
                             double **values)
{
    mt_tensor *small = t_tensor(r, small_ndim, small_shape, small_values, layout);
    mt_tensor *t = mt_expand(small, ndim, shape);
    cr_assert_not_null(t, "t_expanded_tensor: %s", mt_last_error());
    mt_release(small);
    *values = t_oracle_map(ndim, shape, small_ndim, small_shape, small_values, t_identity);
    return t;
}

float *t_floats(const mt_tensor *t)
{
    cr_assert_not_null(t, "t_floats: NULL tensor: %s", mt_last_error());
    int64_t n = mt_numel(t);
    float *v = malloc(sizeof(float) * (size_t)n);
    cr_assert_not_null(v);
    cr_assert_eq(mt_copy_to(t, v, n), MT_OK, "mt_copy_to: %s", mt_last_error());
    return v;
}

void t_fill_uniform(t_rng *r, mt_tensor *t, double lo, double hi)
{
    const int64_t n = mt_numel(t);
    float *v = malloc(sizeof *v * (size_t)n);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = (float)t_rng_uniform(r, lo, hi);
    mt_no_grad_begin();
    cr_assert_eq(mt_copy_from(t, v, n), MT_OK, "mt_copy_from: %s", mt_last_error());
    mt_no_grad_end();
    free(v);
}

void t_expect_bitwise(const char *what, const float *planned, const float *eager, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&planned[i], &eager[i], sizeof(float)) != 0)
            cr_assert_fail("%s: element %lld differs: planned %.9g, eager %.9g", what, (long long)i,
                           (double)planned[i], (double)eager[i]);
}

void t_trace_begin(t_trace *tr)
{
    snprintf(tr->path, sizeof tr->path, "/tmp/minitorch-trace-XXXXXX");
    int fd = mkstemp(tr->path);
    cr_assert(fd >= 0, "mkstemp failed");
    close(fd);
    cr_assert_eq(mt_set_trace(true, tr->path), MT_OK, "mt_set_trace: %s", mt_last_error());
}

char *t_trace_end(t_trace *tr)
{
    cr_assert_eq(mt_set_trace(false, NULL), MT_OK);
    FILE *f = fopen(tr->path, "rb");
    cr_assert_not_null(f, "cannot reopen %s", tr->path);
    size_t cap = 4096, used = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    for (;;) {
        if (cap - used < 2048) {
            cap *= 2;
            text = realloc(text, cap);
            cr_assert_not_null(text);
        }
        size_t got = fread(text + used, 1, cap - used - 1, f);
        used += got;
        if (got == 0) break;
    }
    text[used] = '\0';
    fclose(f);
    remove(tr->path);
    return text;
}

int t_trace_max_threads(const char *text, const char *op)
{
    char key[64];
    snprintf(key, sizeof key, "op=%s ", op);
    int best = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *k = strstr(line, key);
        if (k && (size_t)(k - line) < len) {
            const char *th = strstr(line, " threads=");
            if (th && (size_t)(th - line) < len) {
                int n = atoi(th + 9);
                if (n > best) best = n;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return best;
}

int t_trace_end_max_threads(t_trace *tr, const char *op)
{
    char *text = t_trace_end(tr);
    int threads = t_trace_max_threads(text, op);
    free(text);
    return threads;
}

/* ---- additions for the reliability suites ---- */

#include <stdarg.h>

#define T_VIOLATION_TEXT 8192
static int t_violations;
static char t_violation_text[T_VIOLATION_TEXT];

void t_violation(const char *fmt, ...)
{
    t_violations++;
    size_t used = strlen(t_violation_text);
    if (t_violations > 25 || used + 2 >= sizeof t_violation_text) return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(t_violation_text + used, sizeof t_violation_text - used - 1, fmt, args);
    va_end(args);
    used = strlen(t_violation_text);
    t_violation_text[used] = '\n';
    t_violation_text[used + 1] = '\0';
}

int t_violation_count(void) { return t_violations; }

void t_violations_check(const char *what)
{
    cr_assert_eq(t_violations, 0, "%s: %d violation(s)%s:\n%s", what, t_violations,
                 t_violations > 25 ? " (first 25)" : "", t_violation_text);
}

int64_t t_live_tensors(void)
{
    mt_memory_stats stats;
    cr_assert_eq(mt_memory_get_stats(&stats), MT_OK);
    return stats.live_tensors;
}

bool t_error_names(const char *fn)
{
    const char *m = mt_last_error();
    size_t n;
    if (fn) {
        n = strlen(fn);
        if (strncmp(m, fn, n) != 0) return false;
    } else {
        if (strncmp(m, "mt_", 3) != 0) return false;
        n = strspn(m, "abcdefghijklmnopqrstuvwxyz_0123456789");
        if (n <= 3) return false;
    }
    return m[n] == ':' && m[n + 1] == ' ' && m[n + 2] != '\0';
}
