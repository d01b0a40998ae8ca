/* Naive backend: functions of whole lines along one dim (the MTI_ROW_OPS table: softmax,
 * log_softmax, logsumexp, argmax, argmin, var, std), their fused backwards, and the fused
 * gradient of softmax cross-entropy. Shared by both backends.
 *
 * A "line" is the 1-D slice of the input along `dim`; every other index names one line. Each
 * line is computed by one thread with one fixed sequence of operations that depends only on the
 * shapes and strides, never on the thread count (bitwise determinism). Three paths:
 *   - contiguous: the lines have unit stride (softmax over dim -1 of a row-major matrix): per
 *     line, a max pass, an exp-and-sum pass with LANES interleaved partial sums (combined in a
 *     fixed tree) and a writing pass, all over a line that stays in cache;
 *   - blocked: neighbouring lines are neighbours in memory (softmax over dim 0 of a row-major
 *     matrix): a block of up to BLOCK lines advances together row by row, so memory is read in
 *     order and every inner loop is a vector loop over the block; each line's sum runs in row
 *     order;
 *   - strided: anything else, one line at a time.
 * softmax, log_softmax and logsumexp have all three; the others (argmax, argmin, var, std, the
 * cross-entropy gradient) walk each line with its stride (one value per line: the reads of the
 * blocked layout still hit lines already in cache for their neighbours).
 *
 * Work is spread over items: BLOCK lines (blocked) or about ITEM_TERMS elements' worth of lines;
 * an item's boundaries never change a line's arithmetic, only which thread computes it. */
#include <math.h>
#include <string.h>

#include "kernels/kernel_trace.h"
#include "kernels/kernels.h"
#include "kernels/scalar_ops.h"
#include "runtime/runtime.h"

#define LANES 16
#define BLOCK 256            /* lines per block in the blocked path (stack arrays of BLOCK floats) */
#define ITEM_TERMS 16384     /* elements per work item in the other paths */
#define WORK_PER_THREAD 32768 /* elements; a second thread pays off from about this much work */
#define MAX_OPERANDS 4

/* ---- one line, unit stride ---- */

/* Maximum of x[0..n) with NaN winning (mti_max_step), LANES at a time. */
static float max_contiguous(const float *x, int64_t n)
{
    float acc[LANES];
    for (int k = 0; k < LANES; k++) acc[k] = -INFINITY;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        _Pragma("omp simd") for (int k = 0; k < LANES; k++) acc[k] = mti_max_step(acc[k], x[i + k]);
    for (int k = 0; i + k < n; k++) acc[k] = mti_max_step(acc[k], x[i + k]);
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; k++) acc[k] = mti_max_step(acc[k], acc[k + width]);
    return acc[0];
}

static float combine_lanes(float *acc)
{
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; k++) acc[k] += acc[k + width];
    return acc[0];
}

/* sum of exp(x - shift); with y not NULL also stores each exp(x - shift) in y. */
static float sum_exp_contiguous(float *y, const float *x, int64_t n, float shift)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    if (y) {
        for (; i + LANES <= n; i += LANES)
            _Pragma("omp simd") for (int k = 0; k < LANES; k++) {
                float e = expf(x[i + k] - shift);
                y[i + k] = e;
                acc[k] += e;
            }
        for (int k = 0; i + k < n; k++) {
            float e = expf(x[i + k] - shift);
            y[i + k] = e;
            acc[k] += e;
        }
    } else {
        for (; i + LANES <= n; i += LANES)
            _Pragma("omp simd") for (int k = 0; k < LANES; k++) acc[k] += expf(x[i + k] - shift);
        for (int k = 0; i + k < n; k++) acc[k] += expf(x[i + k] - shift);
    }
    return combine_lanes(acc);
}

/* sum of a[i] * b[i] (b NULL: sum of a). */
static float dot_contiguous(const float *a, const float *b, int64_t n)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    if (b) {
        for (; i + LANES <= n; i += LANES)
            _Pragma("omp simd") for (int k = 0; k < LANES; k++) acc[k] += a[i + k] * b[i + k];
        for (int k = 0; i + k < n; k++) acc[k] += a[i + k] * b[i + k];
    } else {
        for (; i + LANES <= n; i += LANES)
            _Pragma("omp simd") for (int k = 0; k < LANES; k++) acc[k] += a[i + k];
        for (int k = 0; i + k < n; k++) acc[k] += a[i + k];
    }
    return combine_lanes(acc);
}

/* logsumexp's shift: the maximum, or 0 when it is infinite (so that a line of -inf gives -inf and
 * a line holding +inf gives +inf instead of inf - inf = NaN). */
static inline float lse_shift(float m) { return isinf(m) ? 0.0f : m; }

static void softmax_contiguous(float *y, const float *x, int64_t n)
{
    float m = max_contiguous(x, n);
    float inv = 1.0f / sum_exp_contiguous(y, x, n, m);
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

static void log_softmax_contiguous(float *y, const float *x, int64_t n)
{
    float m = max_contiguous(x, n);
    float log_sum = logf(sum_exp_contiguous(NULL, x, n, m));
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - log_sum;
}

static float logsumexp_contiguous(const float *x, int64_t n)
{
    float shift = lse_shift(max_contiguous(x, n));
    return logf(sum_exp_contiguous(NULL, x, n, shift)) + shift;
}

/* ---- one line, any stride (the same formulas, serial sums) ---- */

static float max_strided(const float *x, int64_t n, int64_t s)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++) m = mti_max_step(m, x[j * s]);
    return m;
}

static void softmax_strided(float *y, int64_t ys, const float *x, int64_t xs, int64_t n)
{
    float m = max_strided(x, n, xs), sum = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        float e = expf(x[j * xs] - m);
        y[j * ys] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; j++) y[j * ys] *= inv;
}

static void log_softmax_strided(float *y, int64_t ys, const float *x, int64_t xs, int64_t n)
{
    float m = max_strided(x, n, xs), sum = 0.0f;
    for (int64_t j = 0; j < n; j++) sum += expf(x[j * xs] - m);
    float log_sum = logf(sum);
    for (int64_t j = 0; j < n; j++) y[j * ys] = (x[j * xs] - m) - log_sum;
}

static float logsumexp_strided(const float *x, int64_t xs, int64_t n)
{
    float shift = lse_shift(max_strided(x, n, xs)), sum = 0.0f;
    for (int64_t j = 0; j < n; j++) sum += expf(x[j * xs] - shift);
    return logf(sum) + shift;
}

/* The first index of the largest (argmax) or smallest value; NaN beats every number. Indices are
 * below 2^24 (checked by the caller), so the float is exact. */
static float arg_extreme_strided(const float *x, int64_t xs, int64_t n, bool largest)
{
    float best = x[0];
    int64_t at = 0;
    for (int64_t j = 1; j < n && best == best; j++) {
        float v = x[j * xs];
        if ((largest ? v > best : v < best) || v != v) {
            best = v;
            at = j;
        }
    }
    return (float)at;
}

/* Sum of squared deviations from the mean divided by `divisor`, in double (two passes). */
static float variance_strided(const float *x, int64_t xs, int64_t n, double divisor, bool root)
{
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) sum += x[j * xs];
    double mean = sum / (double)n, squares = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double d = x[j * xs] - mean;
        squares += d * d;
    }
    double v = squares / divisor;
    return (float)(root ? sqrt(v) : v);
}

/* ---- a block of `count` neighbouring lines (unit stride between lines), row by row ---- */

static void max_block(float *m, const float *x, int64_t xs, int64_t n, int64_t count)
{
    for (int64_t k = 0; k < count; k++) m[k] = x[k];
    for (int64_t j = 1; j < n; j++) {
        const float *row = x + j * xs;
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++) m[k] = mti_max_step(m[k], row[k]);
    }
}

/* s[k] = sum over rows of exp(x - shift[k]); with y not NULL each exp is stored in y. */
static void sum_exp_block(float *s, float *y, int64_t ys, const float *x, int64_t xs,
                          const float *shift, int64_t n, int64_t count)
{
    for (int64_t k = 0; k < count; k++) s[k] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        const float *row = x + j * xs;
        if (y) {
            float *out = y + j * ys;
            _Pragma("omp simd") for (int64_t k = 0; k < count; k++) {
                float e = expf(row[k] - shift[k]);
                out[k] = e;
                s[k] += e;
            }
        } else {
            _Pragma("omp simd") for (int64_t k = 0; k < count; k++) s[k] += expf(row[k] - shift[k]);
        }
    }
}

static void softmax_block(float *y, int64_t ys, const float *x, int64_t xs, int64_t n, int64_t count)
{
    float m[BLOCK], s[BLOCK];
    max_block(m, x, xs, n, count);
    sum_exp_block(s, y, ys, x, xs, m, n, count);
    for (int64_t k = 0; k < count; k++) s[k] = 1.0f / s[k];
    for (int64_t j = 0; j < n; j++) {
        float *out = y + j * ys;
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++) out[k] *= s[k];
    }
}

static void log_softmax_block(float *y, int64_t ys, const float *x, int64_t xs, int64_t n,
                              int64_t count)
{
    float m[BLOCK], s[BLOCK];
    max_block(m, x, xs, n, count);
    sum_exp_block(s, NULL, 0, x, xs, m, n, count);
    for (int64_t k = 0; k < count; k++) s[k] = logf(s[k]);
    for (int64_t j = 0; j < n; j++) {
        const float *row = x + j * xs;
        float *out = y + j * ys;
        _Pragma("omp simd") for (int64_t k = 0; k < count; k++) out[k] = (row[k] - m[k]) - s[k];
    }
}

static void logsumexp_block(float *out, const float *x, int64_t xs, int64_t n, int64_t count)
{
    float m[BLOCK], s[BLOCK];
    max_block(m, x, xs, n, count);
    for (int64_t k = 0; k < count; k++) m[k] = lse_shift(m[k]);
    sum_exp_block(s, NULL, 0, x, xs, m, n, count);
    for (int64_t k = 0; k < count; k++) out[k] = logf(s[k]) + m[k];
}

/* ---- backward, one line or one block: dx from the saved output y and the gradient g ----
 *   softmax:     dx = y (g - sum(g y))
 *   log_softmax: dx = g - exp(y) sum(g) */

static void softmax_back_contiguous(float *dx, const float *y, const float *g, int64_t n)
{
    float dot = dot_contiguous(g, y, n);
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) dx[i] = y[i] * (g[i] - dot);
}

static void log_softmax_back_contiguous(float *dx, const float *y, const float *g, int64_t n)
{
    float sum = dot_contiguous(g, NULL, n);
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) dx[i] = g[i] - expf(y[i]) * sum;
}

static void row_back_strided(bool log, float *dx, int64_t ds, const float *y, int64_t ys,
                             const float *g, int64_t gs, int64_t n)
{
    float sum = 0.0f;
    for (int64_t j = 0; j < n; j++) sum += log ? g[j * gs] : g[j * gs] * y[j * ys];
    for (int64_t j = 0; j < n; j++)
        dx[j * ds] = log ? g[j * gs] - expf(y[j * ys]) * sum : y[j * ys] * (g[j * gs] - sum);
}

static void row_back_block(bool log, float *dx, int64_t ds, const float *y, int64_t ys,
                           const float *g, int64_t gs, int64_t n, int64_t count)
{
    float sum[BLOCK];
    for (int64_t k = 0; k < count; k++) sum[k] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        const float *yr = y + j * ys, *gr = g + j * gs;
        if (log)
            _Pragma("omp simd") for (int64_t k = 0; k < count; k++) sum[k] += gr[k];
        else
            _Pragma("omp simd") for (int64_t k = 0; k < count; k++) sum[k] += gr[k] * yr[k];
    }
    for (int64_t j = 0; j < n; j++) {
        const float *yr = y + j * ys, *gr = g + j * gs;
        float *dr = dx + j * ds;
        if (log)
            _Pragma("omp simd") for (int64_t k = 0; k < count; k++) dr[k] = gr[k] - expf(yr[k]) * sum[k];
        else
            _Pragma("omp simd") for (int64_t k = 0; k < count; k++) dr[k] = yr[k] * (gr[k] - sum[k]);
    }
}

/* Cross-entropy gradient of one line of logits x: dx = (exp(x - lse) - onehot(label)) * scale. */
static void nll_back_line(float *dx, int64_t ds, const float *x, int64_t xs, int64_t n, float lse,
                          int64_t label, float scale)
{
    if (ds == 1 && xs == 1) {
        _Pragma("omp simd") for (int64_t j = 0; j < n; j++) dx[j] = expf(x[j] - lse) * scale;
    } else {
        for (int64_t j = 0; j < n; j++) dx[j * ds] = expf(x[j * xs] - lse) * scale;
    }
    dx[label * ds] = (expf(x[label * xs] - lse) - 1.0f) * scale;
}

/* ---- the line engine ---- */

typedef enum job_kind { JOB_FORWARD, JOB_BACKWARD, JOB_NLL_BACKWARD } job_kind;
typedef enum job_path { PATH_CONTIGUOUS, PATH_BLOCKED, PATH_STRIDED } job_path;

/* Operands (output first) as lines: `along` is each one's stride along the dim (0 for an operand
 * holding one value per line); the other dims (size-1 dims dropped, neighbours merged where every
 * operand allows) index the lines. */
typedef struct row_job {
    job_kind kind;
    mti_row_op op;
    mti_params params;
    job_path path;
    int count;
    float *base[MAX_OPERANDS];
    int64_t along[MAX_OPERANDS];
    bool full[MAX_OPERANDS]; /* holds whole lines (not one value per line) */
    int64_t n;
    int odims;
    int64_t shape[MT_MAX_DIMS];
    int64_t strides[MAX_OPERANDS][MT_MAX_DIMS];
    int64_t segment, segments, items;
    int64_t spread; /* blocked path with several threads: their count (spread_item) */
} row_job;

static void job_init(row_job *job, int count, const mti_strided *const *views, int dim)
{
    const mti_strided *line = views[1]; /* an operand with the full line */
    job->count = count;
    job->n = line->shape[dim];
    job->odims = 0;
    for (int k = 0; k < count; k++) {
        job->base[k] = views[k]->data;
        job->full[k] = views[k]->shape[dim] > 1;
        job->along[k] = job->full[k] ? views[k]->strides[dim] : 0;
    }
    for (int d = 0; d < line->ndim; d++) {
        if (d == dim || line->shape[d] == 1) continue;
        int o = job->odims;
        bool merge = o > 0;
        for (int k = 0; k < count && merge; k++)
            merge = job->strides[k][o - 1] == views[k]->strides[d] * line->shape[d];
        if (merge) {
            job->shape[o - 1] *= line->shape[d];
            for (int k = 0; k < count; k++) job->strides[k][o - 1] = views[k]->strides[d];
        } else {
            job->shape[o] = line->shape[d];
            for (int k = 0; k < count; k++) job->strides[k][o] = views[k]->strides[d];
            job->odims++;
        }
    }
    if (job->odims == 0) { /* a single line */
        job->odims = 1;
        job->shape[0] = 1;
        for (int k = 0; k < count; k++) job->strides[k][0] = 0;
    }
}

/* The path: contiguous when every full operand has unit stride along the dim (an input expanded
 * along it, stride 0, is not); blocked when the lines themselves sit next to each other in every
 * operand. */
static job_path choose_path(const row_job *job)
{
    bool contiguous = true, blocked = job->shape[job->odims - 1] > 1 && job->n > 1;
    for (int k = 0; k < job->count; k++) {
        if (job->full[k] && job->along[k] != 1) contiguous = false;
        if (job->strides[k][job->odims - 1] != 1) blocked = false;
    }
    if (contiguous) return PATH_CONTIGUOUS;
    return blocked ? PATH_BLOCKED : PATH_STRIDED;
}

static void forward_lines(const row_job *job, float *const *p, const int64_t *step, int64_t count)
{
    const int64_t n = job->n, os = job->along[0], xs = job->along[1];
    float *y = p[0];
    const float *x = p[1];
    const bool contiguous = job->path == PATH_CONTIGUOUS;
    if (job->path == PATH_BLOCKED) {
        switch (job->op) {
        case MTI_ROW_SOFTMAX: softmax_block(y, os, x, xs, n, count); return;
        case MTI_ROW_LOG_SOFTMAX: log_softmax_block(y, os, x, xs, n, count); return;
        case MTI_ROW_LOGSUMEXP: logsumexp_block(y, x, xs, n, count); return;
        default: break; /* the one-value ops walk each line */
        }
    }
    for (int64_t i = 0; i < count; i++, y += step[0], x += step[1]) {
        switch (job->op) {
        case MTI_ROW_SOFTMAX:
            if (contiguous) softmax_contiguous(y, x, n);
            else softmax_strided(y, os, x, xs, n);
            break;
        case MTI_ROW_LOG_SOFTMAX:
            if (contiguous) log_softmax_contiguous(y, x, n);
            else log_softmax_strided(y, os, x, xs, n);
            break;
        case MTI_ROW_LOGSUMEXP: *y = contiguous ? logsumexp_contiguous(x, n) : logsumexp_strided(x, xs, n); break;
        case MTI_ROW_ARGMAX: *y = arg_extreme_strided(x, xs, n, true); break;
        case MTI_ROW_ARGMIN: *y = arg_extreme_strided(x, xs, n, false); break;
        case MTI_ROW_VAR: *y = variance_strided(x, xs, n, job->params.p0, false); break;
        case MTI_ROW_STD: *y = variance_strided(x, xs, n, job->params.p0, true); break;
        case MTI_ROW_COUNT: break;
        }
    }
}

static void backward_lines(const row_job *job, float *const *p, const int64_t *step, int64_t count)
{
    const bool log = job->op == MTI_ROW_LOG_SOFTMAX;
    const int64_t n = job->n;
    float *dx = p[0];
    const float *y = p[1], *g = p[2];
    if (job->path == PATH_BLOCKED) {
        row_back_block(log, dx, job->along[0], y, job->along[1], g, job->along[2], n, count);
        return;
    }
    for (int64_t i = 0; i < count; i++, dx += step[0], y += step[1], g += step[2]) {
        if (job->path == PATH_CONTIGUOUS && log) log_softmax_back_contiguous(dx, y, g, n);
        else if (job->path == PATH_CONTIGUOUS) softmax_back_contiguous(dx, y, g, n);
        else row_back_strided(log, dx, job->along[0], y, job->along[1], g, job->along[2], n);
    }
}

/* operands: dx, logits, lse (one per line), labels (one per line, float class indices) */
static void nll_lines(const row_job *job, float *const *p, const int64_t *step, int64_t count)
{
    float *dx = p[0];
    const float *x = p[1], *lse = p[2], *label = p[3];
    for (int64_t i = 0; i < count; i++, dx += step[0], x += step[1], lse += step[2], label += step[3])
        nll_back_line(dx, job->along[0], x, job->along[1], job->n, *lse, (int64_t)*label,
                      job->params.p0);
}

/* Claim number `claim` -> item, so that blocks claimed one after another (running at the same
 * time on different threads) lie far apart: the first per x spread items (per = items / spread)
 * are read as a per x spread grid column by column, claim k being item (k % spread) * per +
 * k / spread; the rest keep their numbers. Two threads streaming neighbouring column blocks of the
 * same rows ran softmax over dim 0 of 4096^2 at 1.3x one thread, far-apart blocks at 1.8x. A
 * permutation: every item once, and the arithmetic of each is unchanged. */
static int64_t spread_item(int64_t items, int64_t spread, int64_t claim)
{
    const int64_t per = items / spread;
    if (per == 0 || claim >= per * spread) return claim;
    return claim % spread * per + claim / spread;
}

static void run_items(void *context, int64_t begin, int64_t end)
{
    const row_job *job = context;
    const int last = job->odims - 1;
    for (int64_t claim = begin; claim < end; claim++) {
        const int64_t item = job->spread > 1 ? spread_item(job->items, job->spread, claim) : claim;
        int64_t row = item / job->segments, first = item % job->segments * job->segment;
        int64_t count = job->shape[last] - first < job->segment ? job->shape[last] - first : job->segment;
        float *p[MAX_OPERANDS];
        int64_t step[MAX_OPERANDS];
        for (int k = 0; k < job->count; k++) {
            int64_t offset = first * job->strides[k][last], rest = row;
            for (int d = last - 1; d >= 0; d--) {
                offset += rest % job->shape[d] * job->strides[k][d];
                rest /= job->shape[d];
            }
            p[k] = job->base[k] + offset;
            step[k] = job->strides[k][last];
        }
        switch (job->kind) {
        case JOB_FORWARD: forward_lines(job, p, step, count); break;
        case JOB_BACKWARD: backward_lines(job, p, step, count); break;
        case JOB_NLL_BACKWARD: nll_lines(job, p, step, count); break;
        }
    }
}

static const char *const path_names[] = {"contiguous", "blocked", "strided"};

static void run(row_job *job, const char *name, int count, const mti_strided *const *views, int dim)
{
    bool tracing = mti_tracing();
    double start = tracing ? mti_now_us() : 0;
    job_init(job, count, views, dim);
    job->path = choose_path(job);
    const int64_t inner = job->shape[job->odims - 1];
    int64_t per_item = ITEM_TERMS / job->n > 0 ? ITEM_TERMS / job->n : 1;
    job->segment = job->path == PATH_BLOCKED ? BLOCK : per_item;
    if (job->segment > inner) job->segment = inner;
    job->segments = (inner + job->segment - 1) / job->segment;
    job->items = job->segments;
    for (int d = 0; d < job->odims - 1; d++) job->items *= job->shape[d];
    int threads = mti_threads_for(job->items * job->segment * job->n, WORK_PER_THREAD);
    if (threads > job->items) threads = (int)job->items;
    job->spread = job->path == PATH_BLOCKED ? threads : 1;
    mti_parallel_ranges(threads, job->items, run_items, job);
    if (tracing) mti_kernel_trace(name, path_names[job->path], count < 3 ? count : 3, views, count == 2,
                                  threads, start);
}

void mti_naive_rows(mti_row_op op, mti_params params, const mti_strided *out, const mti_strided *in,
                    int dim)
{
    row_job job = {.kind = JOB_FORWARD, .op = op, .params = params};
    const mti_strided *views[2] = {out, in};
    run(&job, mti_row_name(op), 2, views, dim);
}

void mti_naive_rows_backward(mti_row_op op, const mti_strided *dx, const mti_strided *y,
                             const mti_strided *g, int dim)
{
    row_job job = {.kind = JOB_BACKWARD, .op = op};
    const mti_strided *views[3] = {dx, y, g};
    run(&job, op == MTI_ROW_LOG_SOFTMAX ? "log_softmax_grad" : "softmax_grad", 3, views, dim);
}

void mti_naive_nll_softmax_backward(const mti_strided *dx, const mti_strided *logits,
                                    const mti_strided *lse, const mti_strided *labels, float scale)
{
    row_job job = {.kind = JOB_NLL_BACKWARD, .params = {scale, 0.0f}};
    const mti_strided *views[4] = {dx, logits, lse, labels};
    run(&job, "cross_entropy_grad", 4, views, dx->ndim - 1);
}
