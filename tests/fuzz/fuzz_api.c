/* libFuzzer target for the public API.
 *
 * The input bytes are decoded into a sequence of API calls on small tensors (at most 4 dims of
 * sizes 1..4) held in a few slots: creation, layouts through permute/transpose/narrow/expand/
 * view/reshape/contiguous/detach, elementwise ops with broadcasting, ops with a scalar, the
 * kernels into a caller's output, reductions, matmul and the fused linear layer, squeeze/
 * unsqueeze/cat/index_select, autodiff
 * (requires_grad, backward, grad, zero_grad, no-grad mode), scopes, retain/release, and calls
 * that must fail (bad dims, non-permutations, shapes that do not fit, NULL arguments).
 *
 * Every call is checked against an oracle written here, independent of the library:
 *   - views: exact values through index arithmetic on the fuzzer's shadow copy of every slot;
 *   - elementwise: each element against the operation in float/double (NaN matches NaN,
 *     infinities exactly, transcendental functions within a few ulps);
 *   - reductions and matmul: loops in double with a rigorous rounding bound, NaN/inf rules;
 *   - shapes of results and of gradients (a gradient has its leaf's shape), requires_grad and
 *     leaf flags, contiguity flags against the strides;
 *   - every failure returns NULL or the status, records the documented status and a message
 *     "<function>: <description>";
 *   - scopes and no-grad depth as tracked, and at the end of each input every tensor freed.
 * A violated invariant aborts (a libFuzzer crash); sanitizers report the rest, leaks included. */
#include <minitorch/minitorch.h>

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8
#define MAXD 4
#define MAXN 256
#define MAX_SCOPES 6

/* ---- findings ---- */

static const char *current_op = "";

__attribute__((noreturn, format(printf, 1, 2))) static void finding(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "\nfuzz_api finding (op %s): ", current_op);
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n  last error: %s (%s)\n", mt_last_error(), mt_strerror(mt_last_status()));
    va_end(args);
    abort();
}

/* ---- input decoding ---- */

typedef struct reader {
    const uint8_t *p;
    size_t n, i;
} reader;

static unsigned u8(reader *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static int pick(reader *r, int n) { return (int)(u8(r) % (unsigned)n); }
static bool done(const reader *r) { return r->i >= r->n; }

/* Small exact values, sometimes special ones. */
static float value_from(unsigned b, unsigned c)
{
    static const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, FLT_MAX, 1e-45f, 88.5f};
    if (b >= 248) return specials[b - 248];
    return (float)((int)((b << 8 | c) % 257) - 128) / 8.0f; /* [-16, 16] in steps of 1/8 */
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- shapes and indices ---- */

static int64_t numel_of(int nd, const int64_t *s)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

static bool next_index(int nd, const int64_t *s, int64_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < s[d]) return true;
        idx[d] = 0;
    }
    return false;
}

static int64_t ordinal(int nd, const int64_t *s, const int64_t *idx)
{
    int64_t o = 0;
    for (int d = 0; d < nd; d++) o = o * s[d] + idx[d];
    return o;
}

/* Right-aligned broadcast of idx (in big) into small's index. */
static void broadcast_index(int bn, const int64_t *bidx, int sn, const int64_t *ss, int64_t *sidx)
{
    for (int i = 0; i < sn; i++) sidx[i] = ss[i] == 1 ? 0 : bidx[i + bn - sn];
}

static bool broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *n, int64_t *out)
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

/* ---- slots: the tensors and the fuzzer's shadow of them ---- */

typedef struct slot {
    mt_tensor *t; /* NULL: empty */
    int depth;    /* the scope holding it (0: only the fuzzer's own references) */
    int owned;    /* references the fuzzer holds (mt_retain) */
    int ndim;
    int64_t shape[MAXD];
    float vals[MAXN]; /* logical values, row-major */
    bool requires_grad, leaf;
} slot;

static slot slots[SLOTS];
static mt_scope scope_stack[MAX_SCOPES + 1];
static int depth;        /* scopes open (>= 1 while an input runs) */
static int no_grad;      /* no-grad depth */

static int64_t numel(const slot *s) { return numel_of(s->ndim, s->shape); }

static slot *pick_slot(reader *r)
{
    int start = pick(r, SLOTS);
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &slots[(start + i) % SLOTS];
        if (s->t) return s;
    }
    return NULL;
}

/* Drops the fuzzer's own references to a slot's tensor and empties it. */
static void clear_slot(slot *s)
{
    while (s->owned > 0) {
        if (mt_release(s->t) != MT_OK) finding("mt_release of a retained reference failed");
        s->owned--;
    }
    s->t = NULL;
}

static slot *target_slot(reader *r)
{
    slot *s = &slots[pick(r, SLOTS)];
    clear_slot(s);
    return s;
}

/* ---- checks ---- */

static bool close_enough(double got, double want, double atol, double rtol)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want || (fabs(got) >= 1e38 && signbit(got) == signbit(want));
    if (isnan(got)) return false;
    if (isinf(got)) return fabs(want) >= 1e38 && signbit(got) == signbit(want);
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* The call failed: NULL/status returned by the caller, recorded `status`, message "<fn>: ...". */
static void expect_error(const char *fn, mt_status status)
{
    if (mt_last_status() != status)
        finding("%s should fail with %s", fn, mt_strerror(status));
    size_t n = strlen(fn);
    const char *m = mt_last_error();
    if (strncmp(m, fn, n) != 0 || m[n] != ':' || m[n + 1] != ' ' || m[n + 2] == '\0')
        finding("message \"%s\" does not start with \"%s: \"", m, fn);
    mt_clear_error();
}

static void expect_null(const char *fn, mt_status status, mt_tensor *r)
{
    if (r) finding("%s should return NULL with %s", fn, mt_strerror(status));
    expect_error(fn, status);
}

static void expect_ok(const char *fn, mt_status status)
{
    if (status != MT_OK || mt_last_status() != MT_OK) finding("%s failed unexpectedly", fn);
}

/* Contiguity from the strides, as tensor.h defines it. */
static bool contiguous_by_strides(const mt_tensor *t)
{
    int64_t expected = 1;
    for (int i = mt_ndim(t) - 1; i >= 0; i--) {
        if (mt_shape(t)[i] != 1 && mt_strides(t)[i] != expected) return false;
        expected *= mt_shape(t)[i];
    }
    return true;
}

/* Stores a new tensor in `s` with the expected shape and flags; checks shape, flags and, when
 * `want` is given, values (exactly or within tolerance through close_enough). The shadow takes
 * the library's values. */
static void store(slot *s, const char *fn, mt_tensor *t, int nd, const int64_t *shape,
                  const double *want, double atol, double rtol, bool requires_grad, bool leaf)
{
    if (!t) finding("%s returned NULL", fn);
    if (mt_last_status() != MT_OK) finding("%s succeeded but recorded an error", fn);
    if (mt_ndim(t) != nd) finding("%s: ndim %d, expected %d", fn, mt_ndim(t), nd);
    for (int i = 0; i < nd; i++)
        if (mt_shape(t)[i] != shape[i] || mt_size(t, i) != shape[i] || mt_size(t, i - nd) != shape[i])
            finding("%s: dim %d is %lld, expected %lld", fn, i, (long long)mt_shape(t)[i],
                    (long long)shape[i]);
    int64_t n = numel_of(nd, shape);
    if (mt_numel(t) != n) finding("%s: numel %lld, expected %lld", fn, (long long)mt_numel(t), (long long)n);
    if (mt_is_contiguous(t) != contiguous_by_strides(t))
        finding("%s: mt_is_contiguous disagrees with the strides", fn);
    if (mt_requires_grad(t) != requires_grad)
        finding("%s: requires_grad %d, expected %d", fn, mt_requires_grad(t), requires_grad);
    if (mt_is_leaf(t) != leaf) finding("%s: is_leaf %d, expected %d", fn, mt_is_leaf(t), leaf);
    s->t = t;
    s->depth = depth;
    s->owned = 0;
    s->ndim = nd;
    memcpy(s->shape, shape, sizeof(int64_t) * (size_t)nd);
    s->requires_grad = requires_grad;
    s->leaf = leaf;
    float got[MAXN];
    if (mt_copy_to(t, got, MAXN) != MT_OK) finding("%s: mt_copy_to failed", fn);
    if (want)
        for (int64_t i = 0; i < n; i++)
            if (!close_enough(got[i], want[i], atol, rtol))
                finding("%s: element %lld is %.9g, expected %.9g", fn, (long long)i, got[i], want[i]);
    memcpy(s->vals, got, sizeof(float) * (size_t)n);
    /* one element through mt_get, against mt_copy_to */
    int64_t idx[MAXD], o = (int64_t)(mix((uint64_t)n) % (uint64_t)n);
    if (mt_to_index(o, nd, shape, idx) != MT_OK) finding("mt_to_index failed");
    float v;
    if (mt_get(t, idx, &v) != MT_OK || memcmp(&v, &got[o], sizeof v) != 0)
        finding("%s: mt_get disagrees with mt_copy_to at %lld", fn, (long long)o);
}

static bool records(const slot *a, const slot *b)
{
    return no_grad == 0 && (a->requires_grad || (b && b->requires_grad));
}

/* ---- operations ---- */

static void op_create(reader *r)
{
    slot *s = target_slot(r);
    int nd = 1 + pick(r, MAXD);
    int64_t shape[MAXD];
    for (int i = 0; i < nd; i++) shape[i] = 1 + pick(r, 4);
    int64_t n = numel_of(nd, shape);
    double want[MAXN];
    float data[MAXN];
    unsigned kind = u8(r);
    mt_tensor *t;
    if (kind < 160) { /* generated values */
        uint64_t seed = (uint64_t)u8(r) << 8 | u8(r);
        for (int64_t i = 0; i < n; i++) {
            uint64_t x = mix(seed * 1000 + (uint64_t)i);
            data[i] = value_from((x & 7) == 0 ? (unsigned)(x >> 8) & 0xff : (unsigned)(x >> 8) % 248,
                                 (unsigned)(x >> 16) & 0xff);
        }
    } else if (kind < 200) { /* explicit values */
        for (int64_t i = 0; i < n; i++) data[i] = value_from(u8(r), u8(r));
    }
    if (kind < 200) {
        t = mt_from_data(nd, shape, data);
        for (int64_t i = 0; i < n; i++) want[i] = data[i];
        store(s, "mt_from_data", t, nd, shape, want, 0, 0, false, true);
    } else if (kind < 220) {
        float v = value_from(u8(r), u8(r));
        t = mt_full(nd, shape, v);
        for (int64_t i = 0; i < n; i++) want[i] = v;
        store(s, "mt_full", t, nd, shape, want, 0, 0, false, true);
    } else if (kind < 230) {
        t = kind & 1 ? mt_ones(nd, shape) : mt_zeros(nd, shape);
        for (int64_t i = 0; i < n; i++) want[i] = kind & 1 ? 1.0 : 0.0;
        store(s, "mt_ones/mt_zeros", t, nd, shape, want, 0, 0, false, true);
    } else if (kind < 240) {
        float lo = (float)pick(r, 9) - 4.0f, hi = lo + 0.5f + (float)pick(r, 8);
        t = mt_rand_uniform(nd, shape, lo, hi, u8(r));
        store(s, "mt_rand_uniform", t, nd, shape, NULL, 0, 0, false, true);
        for (int64_t i = 0; i < n; i++)
            if (!(s->vals[i] >= lo && s->vals[i] < hi))
                finding("mt_rand_uniform: %g outside [%g, %g)", s->vals[i], lo, hi);
    } else {
        float v = value_from(u8(r), u8(r));
        t = mt_scalar(v);
        want[0] = v;
        store(s, "mt_scalar", t, 1, (const int64_t[]){1}, want, 0, 0, false, true);
    }
}

static void op_permute(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    int nd = a->ndim, order[MAXD];
    for (int i = 0; i < nd; i++) order[i] = i;
    for (int i = nd - 1; i > 0; i--) {
        int j = pick(r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    bool transpose = u8(r) & 1;
    bool bad = (u8(r) & 7) == 0;
    int d0 = 0, d1 = 0;
    if (transpose) {
        d0 = pick(r, 2 * nd) - nd, d1 = pick(r, 2 * nd) - nd;
        if (bad) d1 = (u8(r) & 1) ? nd + pick(r, 3) : -nd - 1 - pick(r, 3);
        for (int i = 0; i < nd; i++) order[i] = i;
        if (!bad) {
            int n0 = d0 < 0 ? d0 + nd : d0, n1 = d1 < 0 ? d1 + nd : d1;
            order[n0] = n1;
            order[n1] = n0;
        }
    } else if (bad) { /* not a permutation: out of range, or a duplicate */
        if (nd == 1 || (u8(r) & 1)) order[pick(r, nd)] = (u8(r) & 1) ? nd + pick(r, 3) : -1 - pick(r, 3);
        else order[1] = order[0];
    }
    mt_clear_error();
    mt_tensor *t = transpose ? mt_transpose(a->t, d0, d1) : mt_permute(a->t, order);
    const char *fn = transpose ? "mt_transpose" : "mt_permute";
    if (bad) {
        expect_null(fn, transpose ? MT_ERR_INDEX : MT_ERR_INVALID_ARG, t);
        return;
    }
    int64_t shape[MAXD], idx[MAXD] = {0}, src[MAXD];
    double want[MAXN];
    for (int i = 0; i < nd; i++) shape[i] = a->shape[order[i]];
    do {
        for (int i = 0; i < nd; i++) src[order[i]] = idx[i];
        want[ordinal(nd, shape, idx)] = a->vals[ordinal(nd, a->shape, src)];
    } while (next_index(nd, shape, idx));
    slot tmp = *a;
    slot *s = target_slot(r);
    bool rg = records(&tmp, NULL);
    store(s, fn, t, nd, shape, want, 0, 0, rg, !rg);
}

static void op_narrow(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    int nd = a->ndim, dim = pick(r, 2 * nd) - nd, d = dim < 0 ? dim + nd : dim;
    int64_t size = a->shape[d], start = pick(r, (int)size), length = 1 + pick(r, (int)(size - start));
    bool bad = (u8(r) & 7) == 0;
    if (bad) {
        switch (pick(r, 4)) {
        case 0: dim = nd + pick(r, 2); break;
        case 1: start = size; break;
        case 2: length = size - start + 1; break;
        default: start = -1; break;
        }
    }
    mt_clear_error();
    mt_tensor *t = mt_narrow(a->t, dim, start, length);
    if (bad) {
        expect_null("mt_narrow", MT_ERR_INDEX, t);
        return;
    }
    int64_t shape[MAXD], idx[MAXD] = {0}, src[MAXD];
    memcpy(shape, a->shape, sizeof shape);
    shape[d] = length;
    double want[MAXN];
    do {
        memcpy(src, idx, sizeof src);
        src[d] += start;
        want[ordinal(nd, shape, idx)] = a->vals[ordinal(nd, a->shape, src)];
    } while (next_index(nd, shape, idx));
    slot tmp = *a;
    slot *s = target_slot(r);
    bool rg = records(&tmp, NULL);
    store(s, "mt_narrow", t, nd, shape, want, 0, 0, rg, !rg);
}

static void op_expand(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    int lead = pick(r, MAXD - a->ndim + 1), nd = a->ndim + lead;
    int64_t shape[MAXD];
    for (int i = 0; i < nd; i++) {
        int64_t own = i >= lead ? a->shape[i - lead] : 1;
        shape[i] = own == 1 ? 1 + pick(r, 4) : own;
    }
    if (numel_of(nd, shape) > MAXN) return;
    bool bad = false;
    if ((u8(r) & 7) == 0) {
        for (int i = lead; i < nd; i++)
            if (a->shape[i - lead] > 1) { /* a dim that is not 1 cannot change */
                shape[i] = shape[i] == 4 ? 3 : shape[i] + 1;
                bad = true;
                break;
            }
    }
    mt_clear_error();
    mt_tensor *t = mt_expand(a->t, nd, shape);
    if (bad) {
        expect_null("mt_expand", MT_ERR_BROADCAST, t);
        return;
    }
    int64_t idx[MAXD] = {0}, src[MAXD];
    double want[MAXN];
    do {
        broadcast_index(nd, idx, a->ndim, a->shape, src);
        want[ordinal(nd, shape, idx)] = a->vals[ordinal(a->ndim, a->shape, src)];
    } while (next_index(nd, shape, idx));
    slot tmp = *a;
    slot *s = target_slot(r);
    bool rg = records(&tmp, NULL);
    store(s, "mt_expand", t, nd, shape, want, 0, 0, rg, !rg);
}

/* view / reshape to a random factorisation of numel (or a wrong one), contiguous, detach */
static void op_reshape(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    int64_t n = numel(a), rest = n, shape[MAXD];
    int nd = 0;
    while (nd < MAXD - 1 && rest > 1 && (u8(r) & 3)) {
        int64_t f = 1 + pick(r, 4);
        if (rest % f) continue;
        shape[nd++] = f;
        rest /= f;
    }
    shape[nd++] = rest;
    int infer = (u8(r) & 3) == 0 ? pick(r, nd) : -1;
    bool wrong = (u8(r) & 15) == 0;
    if (wrong) shape[nd - 1] += 1;
    int64_t given[MAXD];
    memcpy(given, shape, sizeof given);
    if (infer >= 0 && !wrong) given[infer] = -1;
    unsigned which = u8(r) % 4;
    bool contiguous = contiguous_by_strides(a->t);
    mt_clear_error();
    slot tmp = *a;
    double want[MAXN];
    for (int64_t i = 0; i < n; i++) want[i] = a->vals[i];
    if (which == 0 || which == 1) {
        const char *fn = which == 0 ? "mt_view" : "mt_reshape";
        mt_tensor *t = which == 0 ? mt_view(a->t, nd, given) : mt_reshape(a->t, nd, given);
        if (wrong) {
            expect_null(fn, MT_ERR_SHAPE, t);
            return;
        }
        if (which == 0 && !contiguous) {
            expect_null(fn, MT_ERR_NOT_CONTIGUOUS, t);
            return;
        }
        slot *s = target_slot(r);
        bool rg = records(&tmp, NULL);
        store(s, fn, t, nd, shape, want, 0, 0, rg, !rg);
    } else if (which == 2) {
        mt_tensor *t = mt_contiguous(a->t);
        if (contiguous && t != a->t) finding("mt_contiguous copied a contiguous tensor");
        if (!contiguous && t && mt_shares_storage(t, a->t)) finding("mt_contiguous did not copy");
        slot *s = target_slot(r); /* may drop a's references: a->t is not used after this */
        bool rg = contiguous ? tmp.requires_grad : records(&tmp, NULL);
        bool leaf = contiguous ? tmp.leaf : !rg;
        store(s, "mt_contiguous", t, tmp.ndim, tmp.shape, want, 0, 0, rg, leaf);
        if (!mt_is_contiguous(t)) finding("mt_contiguous: not contiguous");
    } else {
        mt_tensor *t = mt_detach(a->t);
        if (t && !mt_shares_storage(t, a->t)) finding("mt_detach does not share storage");
        slot *s = target_slot(r);
        store(s, "mt_detach", t, tmp.ndim, tmp.shape, want, 0, 0, false, true);
    }
}

/* ---- elementwise ---- */

static double o_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* In the order of the public mt_unary_op enum; the last three take parameters (below). */
#define UNARY_OPS 20
static const char *const unary_names[UNARY_OPS] = {
    "mt_neg",  "mt_copy", "mt_sigmoid", "mt_relu", "mt_log",  "mt_exp",      "mt_inv",
    "mt_tanh", "mt_sqrt", "mt_rsqrt",   "mt_abs",  "mt_sin",  "mt_cos",      "mt_square",
    "mt_gelu", "mt_silu", "mt_softplus", "mt_leaky_relu", "mt_clamp", "mt_pow_scalar"};
/* the parameters the fuzzer passes: leaky_relu slope, clamp bounds, pow_scalar exponent */
static const float unary_p0[UNARY_OPS] = {[17] = 0.01f, [18] = -1.0f, [19] = 2.5f};
static const float unary_p1[UNARY_OPS] = {[18] = 2.0f};

static double unary_oracle(int op, float x)
{
    const double d = x;
    switch (op) {
    case 0: return -x;
    case 1: return x;
    case 2: return isnan(x) ? NAN : o_sigmoid(x);
    case 3: return x < 0 ? 0.0 : x;
    case 4: return log(d);
    case 5: return exp(d);
    case 6: return (double)(1.0f / x);
    case 7: return tanh(d);
    case 8: return sqrt(d);
    case 9: return 1.0 / sqrt(d);
    case 10: return fabs(d);
    case 11: return sin(d);
    case 12: return cos(d);
    case 13: return d * d;
    case 14: return d / (1.0 + exp(-2.0 * 0.79788456080286535588 * (d + 0.044715 * d * d * d)));
    case 15: return d / (1.0 + exp(-d));
    case 16: return d > 20.0 ? d : log1p(exp(d));
    case 17: return d > 0 ? d : d * (double)unary_p0[17];
    case 18: return isnan(x) ? NAN : d < unary_p0[18] ? unary_p0[18] : d > unary_p1[18] ? unary_p1[18] : d;
    default: return pow(d, (double)unary_p0[19]);
    }
}

/* gelu's float argument 2u carries ~4 roundings: relative error ~4 u |2u| <= 2.5e-5 where the
 * result is not a denormal */
static double unary_rtol(int op) { return op == 14 ? 3e-5 : 4e-6; }

static mt_tensor *unary_call(int op, mt_tensor *a)
{
    mt_tensor *(*const plain[17])(mt_tensor *) = {
        mt_neg, mt_copy, mt_sigmoid, mt_relu, mt_log,    mt_exp,  mt_inv,  mt_tanh,  mt_sqrt,
        mt_rsqrt, mt_abs, mt_sin,    mt_cos,  mt_square, mt_gelu, mt_silu, mt_softplus};
    switch (op) {
    case 17: return mt_leaky_relu(a, unary_p0[17]);
    case 18: return mt_clamp(a, unary_p0[18], unary_p1[18]);
    case 19: return mt_pow_scalar(a, unary_p0[19]);
    default: return plain[op](a);
    }
}

static void op_unary(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    int op = pick(r, UNARY_OPS);
    double want[MAXN];
    for (int64_t i = 0; i < numel(a); i++) want[i] = (double)(float)unary_oracle(op, a->vals[i]);
    mt_clear_error();
    mt_tensor *t = unary_call(op, a->t);
    slot tmp = *a;
    slot *s = target_slot(r);
    bool rg = records(&tmp, NULL);
    store(s, unary_names[op], t, tmp.ndim, tmp.shape, want, 1e-37, unary_rtol(op), rg, !rg);
    if (op == 1 && !mt_is_contiguous(t)) finding("mt_copy: not contiguous");
}

/* 0-7 and 11-13 are the public mt_binary_op values 0-7 and 8-10; 8-10 are MiniTorch's backward
 * helpers (no history) */
#define BINARY_OPS 14
static const char *const binary_names[BINARY_OPS] = {
    "mt_add",       "mt_sub",      "mt_mul",      "mt_div", "mt_lt",      "mt_gt",      "mt_eq",
    "mt_is_close", "mt_relu_back", "mt_log_back", "mt_inv_back", "mt_pow", "mt_maximum", "mt_minimum"};
static bool binary_records(int op) { return op < 8 || op > 10; }
/* the binary op of a public enum value */
static int binary_of_enum(int value) { return value < 8 ? value : value + 3; }

static double binary_oracle(int op, float a, float b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return a < b;
    case 5: return a > b;
    case 6: return a == b;
    case 7: return fabsf(a - b) < 1e-2f;
    case 8: return a > 0.0f ? b : 0.0f;
    case 9: return b / a;
    case 10: return -b / (a * a);
    case 11: return pow((double)a, (double)b);
    case 12: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    default: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    }
}

static mt_tensor *binary_call(int op, mt_tensor *a, mt_tensor *b)
{
    mt_tensor *(*const f[])(mt_tensor *, mt_tensor *) = {
        mt_add, mt_sub, mt_mul, mt_div, mt_lt, mt_gt, mt_eq, mt_is_close,
        mt_relu_back, mt_log_back, mt_inv_back, mt_pow, mt_maximum, mt_minimum};
    return f[op](a, b);
}

/* Values of a slot broadcast to (nd, shape), row-major. */
static void broadcast_values(const slot *a, int nd, const int64_t *shape, float *out)
{
    int64_t idx[MAXD] = {0}, src[MAXD];
    do {
        broadcast_index(nd, idx, a->ndim, a->shape, src);
        out[ordinal(nd, shape, idx)] = a->vals[ordinal(a->ndim, a->shape, src)];
    } while (next_index(nd, shape, idx));
}

static void op_binary(reader *r)
{
    slot *a = pick_slot(r), *b = pick_slot(r);
    if (!a || !b) return;
    int op = pick(r, BINARY_OPS), nd;
    int64_t shape[MAXD];
    bool ok = broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &nd, shape);
    if (ok && numel_of(nd, shape) > MAXN) return; /* views can make dims larger than 4 */
    mt_clear_error();
    mt_tensor *t = binary_call(op, a->t, b->t);
    if (!ok) {
        expect_null(binary_names[op], MT_ERR_BROADCAST, t);
        return;
    }
    float av[MAXN], bv[MAXN];
    double want[MAXN];
    broadcast_values(a, nd, shape, av);
    broadcast_values(b, nd, shape, bv);
    int64_t n = numel_of(nd, shape);
    for (int64_t i = 0; i < n; i++) want[i] = (double)(float)binary_oracle(op, av[i], bv[i]);
    slot ta = *a, tb = *b;
    slot *s = target_slot(r);
    bool rg = binary_records(op) && records(&ta, &tb); /* the backward helpers carry none */
    store(s, binary_names[op], t, nd, shape, want, 0, 1e-6, rg, !rg);
    if (op >= 4 && op <= 7)
        for (int64_t i = 0; i < n; i++)
            if (s->vals[i] != 0.0f && s->vals[i] != 1.0f)
                finding("%s gave %g, not 0 or 1", binary_names[op], s->vals[i]);
}

static void op_scalar(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    static const float scalars[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 3.25f, INFINITY,
                                    -INFINITY, NAN, 1e30f, -7.0f};
    float c = scalars[pick(r, 12)];
    int op = pick(r, 9);
    static const char *const names[] = {"mt_add_scalar", "mt_sub_scalar", "mt_rsub_scalar",
                                        "mt_mul_scalar", "mt_div_scalar", "mt_rdiv_scalar",
                                        "mt_lt_scalar",  "mt_gt_scalar",  "mt_eq_scalar"};
    mt_tensor *(*const f[])(mt_tensor *, float) = {mt_add_scalar, mt_sub_scalar, mt_rsub_scalar,
                                                   mt_mul_scalar, mt_div_scalar, mt_rdiv_scalar,
                                                   mt_lt_scalar,  mt_gt_scalar,  mt_eq_scalar};
    double want[MAXN];
    for (int64_t i = 0; i < numel(a); i++) {
        float x = a->vals[i];
        switch (op) {
        case 0: want[i] = x + c; break;
        case 1: want[i] = x - c; break;
        case 2: want[i] = c - x; break;
        case 3: want[i] = x * c; break;
        case 4: want[i] = x / c; break;
        case 5: want[i] = c / x; break;
        case 6: want[i] = x < c; break;
        case 7: want[i] = x > c; break;
        default: want[i] = x == c; break;
        }
        want[i] = (double)(float)want[i];
    }
    mt_clear_error();
    mt_tensor *t = f[op](a->t, c);
    slot tmp = *a;
    slot *s = target_slot(r);
    bool rg = records(&tmp, NULL);
    store(s, names[op], t, tmp.ndim, tmp.shape, want, 0, 1e-6, rg, !rg);
}

/* mt_map_out / mt_zip_out into a fresh output (sometimes larger: broadcast), or misuse. */
static void op_out(reader *r)
{
    slot *a = pick_slot(r), *b = pick_slot(r);
    if (!a || !b) return;
    bool zip = u8(r) & 1;
    /* the public enums: 11 binary ops (add .. minimum), 20 unary ops (neg .. pow_scalar; the
     * parameterised ones through mt_map_out_with) */
    int op = zip ? pick(r, 11) : pick(r, UNARY_OPS);
    int nd;
    int64_t shape[MAXD];
    if (zip) {
        if (!broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) return;
        if (numel_of(nd, shape) > MAXN) return;
    } else {
        nd = a->ndim;
        memcpy(shape, a->shape, sizeof shape);
    }
    mt_tensor *out = mt_zeros(nd, shape);
    unsigned misuse = u8(r) % 8;
    /* the unary op through mt_map_out, or mt_map_out_with for the parameterised ones */
#define MAP_OUT()                                                                                 \
    (unary_p0[op] == 0.0f && unary_p1[op] == 0.0f                                                 \
         ? mt_map_out(out, (mt_unary_op)op, a->t)                                                 \
         : mt_map_out_with(out, (mt_unary_op)op, a->t, unary_p0[op], unary_p1[op]))
    const char *out_fn = zip ? "mt_zip_out"
                         : unary_p0[op] == 0.0f && unary_p1[op] == 0.0f ? "mt_map_out"
                                                                          : "mt_map_out_with";
    mt_clear_error();
    if (misuse == 0) { /* out requires grad with grad mode on */
        mt_set_requires_grad(out, true);
        mt_status st = zip ? mt_zip_out(out, (mt_binary_op)op, a->t, b->t) : MAP_OUT();
        if (no_grad == 0) {
            if (st != MT_ERR_AUTODIFF) finding("writing into an out that requires grad");
            expect_error(out_fn, MT_ERR_AUTODIFF);
        } else {
            expect_ok("mt_*_out in no-grad mode", st);
        }
        return;
    }
    if (misuse == 1) { /* bad op */
        mt_status st = zip ? mt_zip_out(out, (mt_binary_op)(11 + pick(r, 3)), a->t, b->t)
                           : mt_map_out(out, (mt_unary_op)(-1 - pick(r, 3)), a->t);
        if (st != MT_ERR_INVALID_ARG) finding("bad op accepted");
        expect_error(zip ? "mt_zip_out" : "mt_map_out", MT_ERR_INVALID_ARG);
        return;
    }
    mt_status st = zip ? mt_zip_out(out, (mt_binary_op)op, a->t, b->t) : MAP_OUT();
#undef MAP_OUT
    expect_ok(out_fn, st);
    float av[MAXN], bv[MAXN];
    double want[MAXN];
    broadcast_values(a, nd, shape, av);
    if (zip) broadcast_values(b, nd, shape, bv);
    int64_t n = numel_of(nd, shape);
    for (int64_t i = 0; i < n; i++) {
        if (!zip) want[i] = (double)(float)unary_oracle(op, av[i]);
        else want[i] = (double)(float)binary_oracle(binary_of_enum(op), av[i], bv[i]);
    }
    slot *s = target_slot(r);
    store(s, out_fn, out, nd, shape, want, 1e-37, zip ? 4e-6 : unary_rtol(op),
          false, true);
}

/* ---- reductions ---- */

/* The expected result of reducing `x` (n values) with kind 0 sum, 1 prod, 2 max, 3 mean; *check
 * false when float rounding could legitimately differ in class (overflow in some order). */
static double reduce_oracle(int kind, const float *x, int64_t n, double *tol, bool *check)
{
    bool nan = false, pinf = false, ninf = false, zero = false, moderate = true;
    double sum = 0, mag = 0, prod = 1, max = -INFINITY, log_up = 0, log_down = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(v)) nan = true;
        else if (isinf(v)) (v > 0 ? (pinf = true) : (ninf = true));
        else {
            mag += fabs(v);
            if (v == 0) zero = true;
            else if (fabs(v) > 1e6 || fabs(v) < 1e-6) moderate = false;
            else if (fabs(v) > 1) log_up += log(fabs(v));
            else log_down += log(fabs(v));
        }
        sum += v;
        prod *= v;
        if (v > max || isnan(v)) max = isnan(max) ? max : v;
    }
    *check = true;
    *tol = 0;
    if (kind == 2) return nan ? NAN : max;
    if (nan) return NAN;
    if (kind == 1) {
        /* a partial product in float may overflow or underflow (then meet 0 or inf) depending
         * on the order: only products whose factors stay well inside float's range are checked */
        if (!moderate || log_up > 80.0 || log_down < -80.0) *check = false;
        if ((pinf || ninf) && zero) return NAN;
        *tol = 1e-37 + 2e-7 * (double)n * fabs(prod);
        return prod;
    }
    if (mag > 1e37) *check = false;
    if (pinf && ninf) return NAN;
    if (pinf || ninf) return kind == 3 ? sum / (double)n : sum;
    *tol = 1e-37 + (double)n * 1.2e-7 * mag;
    if (kind == 3) {
        *tol = *tol / (double)n + 4e-7 * fabs(sum / (double)n);
        return sum / (double)n;
    }
    return sum;
}

static void op_reduce(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    int kind = pick(r, 4), nd = a->ndim;
    bool all = (u8(r) & 3) == 0 && kind != 1 && kind != 2;
    int dim = pick(r, 2 * nd) - nd;
    bool bad = !all && (u8(r) & 15) == 0;
    if (bad) dim = (u8(r) & 1) ? nd + pick(r, 4) : -nd - 1 - pick(r, 4);
    static const char *const names[] = {"mt_sum", "mt_prod", "mt_max", "mt_mean"};
    mt_tensor *(*const f[])(mt_tensor *, int) = {mt_sum, mt_prod, mt_max, mt_mean};
    bool into = !all && (u8(r) & 3) == 0;
    const char *fn = all ? (kind == 0 ? "mt_sum_all" : "mt_mean_all") : into ? "mt_reduce_out" : names[kind];
    mt_clear_error();
    if (bad) {
        if (into) {
            mt_tensor *out = mt_zeros(nd, a->shape);
            if (mt_reduce_out(out, (mt_reduce_op)(kind == 3 ? 0 : kind), a->t, dim) != MT_ERR_INDEX)
                finding("mt_reduce_out accepted dim %d", dim);
            expect_error(fn, MT_ERR_INDEX);
        } else {
            expect_null(fn, MT_ERR_INDEX, f[kind](a->t, dim));
        }
        return;
    }
    int d = dim < 0 ? dim + nd : dim;
    int64_t shape[MAXD];
    int ond = all ? 1 : nd;
    if (all) shape[0] = 1;
    else {
        memcpy(shape, a->shape, sizeof shape);
        shape[d] = 1;
    }
    double want[MAXN];
    bool check[MAXN];
    double tol[MAXN];
    int64_t idx[MAXD] = {0};
    float line[MAXN];
    if (all) {
        want[0] = reduce_oracle(kind, a->vals, numel(a), &tol[0], &check[0]);
    } else {
        do {
            int64_t src[MAXD];
            memcpy(src, idx, sizeof src);
            for (int64_t j = 0; j < a->shape[d]; j++) {
                src[d] = j;
                line[j] = a->vals[ordinal(nd, a->shape, src)];
            }
            int64_t o = ordinal(nd, shape, idx);
            want[o] = reduce_oracle(into && kind == 3 ? 0 : kind, line, a->shape[d], &tol[o], &check[o]);
        } while (next_index(nd, shape, idx));
    }
    mt_tensor *t;
    slot tmp = *a;
    if (into) {
        t = mt_zeros(nd, shape);
        mt_status st = mt_reduce_out(t, (mt_reduce_op)(kind == 3 ? 0 : kind), a->t, dim);
        expect_ok(fn, st);
    } else {
        t = all ? (kind == 0 ? mt_sum_all(a->t) : mt_mean_all(a->t)) : f[kind](a->t, dim);
    }
    slot *s = target_slot(r);
    bool rg = !into && records(&tmp, NULL);
    store(s, fn, t, ond, shape, NULL, 0, 0, rg, !rg);
    for (int64_t i = 0; i < numel_of(ond, shape); i++)
        if (check[i] && !close_enough(s->vals[i], want[i], tol[i], 1e-6)) {
            /* the values reduced into element i */
            int64_t o[MAXD], src[MAXD];
            char text[512] = "";
            if (all) {
                for (int64_t j = 0; j < numel(&tmp) && strlen(text) < 400; j++)
                    snprintf(text + strlen(text), sizeof text - strlen(text), " %g", tmp.vals[j]);
            } else {
                mt_to_index(i, nd, shape, o);
                memcpy(src, o, sizeof src);
                for (int64_t j = 0; j < tmp.shape[d]; j++) {
                    src[d] = j;
                    snprintf(text + strlen(text), sizeof text - strlen(text), " %g",
                             tmp.vals[ordinal(nd, tmp.shape, src)]);
                }
            }
            finding("%s (kind %d) over dim %d of shape [%lld,%lld,%lld,%lld] (ndim %d): element "
                    "%lld is %.9g, expected %.9g (tolerance %g); inputs:%s",
                    fn, kind, dim, (long long)tmp.shape[0], (long long)(nd > 1 ? tmp.shape[1] : 0),
                    (long long)(nd > 2 ? tmp.shape[2] : 0), (long long)(nd > 3 ? tmp.shape[3] : 0),
                    nd, (long long)i, s->vals[i], want[i], tol[i], text);
        }
}

/* ---- functions of whole lines: min, argmax, argmin, logsumexp, softmax, log_softmax ---- */

/* Line x[0..n) -> want (one value, or n for softmax/log_softmax) with tolerances; lines with
 * non-finite or huge values are checked exactly only for min/argmax/argmin (NaN wins, first
 * index on ties). */
static void rows_oracle(int kind, const float *x, int64_t n, double *want, double *tol, bool *check)
{
    int64_t lo = 0, hi = 0;
    bool moderate = true;
    double m = -INFINITY, s = 0, range = 0;
    for (int64_t j = 0; j < n; j++) {
        if (!isnan(x[lo]) && (x[j] < x[lo] || isnan(x[j]))) lo = j;
        if (!isnan(x[hi]) && (x[j] > x[hi] || isnan(x[j]))) hi = j;
        if (!isfinite(x[j]) || fabs(x[j]) > 1e4) moderate = false;
        m = fmax(m, x[j]);
    }
    for (int64_t j = 0; j < n; j++) {
        s += exp(x[j] - m);
        range = fmax(range, m - x[j]);
    }
    const int64_t width = kind >= 4 ? n : 1;
    for (int64_t j = 0; j < width; j++) check[j] = kind <= 2 || moderate;
    switch (kind) {
    case 0: want[0] = x[lo]; tol[0] = 0; return;
    case 1: want[0] = (double)hi; tol[0] = 0; return;
    case 2: want[0] = (double)lo; tol[0] = 0; return;
    case 3:
        want[0] = m + log(s);
        tol[0] = (range + (double)n + 8 + fabs(log(s)) + fabs(want[0])) * 2.4e-7;
        return;
    default:
        for (int64_t j = 0; j < n; j++) {
            want[j] = kind == 4 ? exp(x[j] - m) / s : x[j] - m - log(s);
            tol[j] = kind == 4 ? 1e-37 + want[j] * (2 * range + (double)n + 12) * 2.4e-7
                               : (fabs(x[j] - m) + range + (double)n + 8 + fabs(log(s)) + fabs(want[j])) * 2.4e-7;
        }
    }
}

static void op_rows(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    static const char *const names[] = {"mt_min", "mt_argmax", "mt_argmin", "mt_logsumexp",
                                        "mt_softmax", "mt_log_softmax"};
    mt_tensor *(*const f[])(mt_tensor *, int) = {mt_min, mt_argmax, mt_argmin, mt_logsumexp,
                                                 mt_softmax, mt_log_softmax};
    int kind = pick(r, 6), nd = a->ndim, dim = pick(r, 2 * nd) - nd;
    const char *fn = names[kind];
    mt_clear_error();
    if ((u8(r) & 15) == 0) {
        dim = (u8(r) & 1) ? nd + pick(r, 4) : -nd - 1 - pick(r, 4);
        expect_null(fn, MT_ERR_INDEX, f[kind](a->t, dim));
        return;
    }
    int d = dim < 0 ? dim + nd : dim;
    const bool full = kind >= 4;
    int64_t shape[MAXD], idx[MAXD] = {0};
    memcpy(shape, a->shape, sizeof shape);
    if (!full) shape[d] = 1;
    double want[MAXN], tol[MAXN], lw[MAXN], lt[MAXN];
    bool check[MAXN], lc[MAXN];
    float line[MAXN];
    int64_t line_shape[MAXD];
    memcpy(line_shape, a->shape, sizeof line_shape);
    line_shape[d] = 1;
    do { /* idx walks the line starts */
        int64_t src[MAXD];
        memcpy(src, idx, sizeof src);
        for (int64_t j = 0; j < a->shape[d]; j++) {
            src[d] = j;
            line[j] = a->vals[ordinal(nd, a->shape, src)];
        }
        rows_oracle(kind, line, a->shape[d], lw, lt, lc);
        for (int64_t j = 0; j < (full ? a->shape[d] : 1); j++) {
            src[d] = j;
            int64_t o = ordinal(nd, shape, full ? src : idx);
            want[o] = lw[j];
            tol[o] = lt[j];
            check[o] = lc[j];
        }
    } while (next_index(nd, line_shape, idx));
    slot tmp = *a;
    mt_tensor *t = f[kind](a->t, dim);
    slot *s = target_slot(r);
    bool rg = kind != 1 && kind != 2 && records(&tmp, NULL);
    store(s, fn, t, nd, shape, NULL, 0, 0, rg, !rg);
    for (int64_t i = 0; i < numel_of(nd, shape); i++)
        if (check[i] && !close_enough(s->vals[i], want[i], tol[i], 1e-6))
            finding("%s over dim %d (ndim %d): element %lld is %.9g, expected %.9g (tolerance %g)",
                    fn, dim, nd, (long long)i, s->vals[i], want[i], tol[i]);
}

/* ---- matrix products ---- */

static void op_matmul(reader *r)
{
    slot *a = pick_slot(r), *b = pick_slot(r);
    if (!a || !b) return;
    unsigned mode = u8(r) % 4; /* 0,1 matmul; 2 linear; 3 matmul_out */
    const char *fn = mode == 2 ? "mt_linear" : mode == 3 ? "mt_matmul_out" : "mt_matmul";
    slot *bias = mode == 2 && (u8(r) & 1) ? pick_slot(r) : NULL;
    mt_clear_error();
    /* the shape rules, written out */
    mt_status expect = MT_OK;
    int nd = 0;
    int64_t shape[MAXD];
    if (a->ndim < 2 || b->ndim < 2 || (mode == 2 && b->ndim != 2)) expect = MT_ERR_SHAPE;
    else if (a->shape[a->ndim - 1] != b->shape[b->ndim - 2]) expect = MT_ERR_SHAPE;
    else {
        int64_t one = 1;
        int na = a->ndim > 2 ? a->ndim - 2 : 1, nb = b->ndim > 2 ? b->ndim - 2 : 1;
        if (!broadcast_shapes(na, a->ndim > 2 ? a->shape : &one, nb, b->ndim > 2 ? b->shape : &one, &nd, shape))
            expect = MT_ERR_BROADCAST;
        else if (a->ndim == 2 && b->ndim == 2) nd = 0;
        if (expect == MT_OK && nd + 2 > MAXD) return; /* results stay within 4 dims here */
    }
    if (expect == MT_OK) {
        shape[nd] = a->shape[a->ndim - 2];
        shape[nd + 1] = b->shape[b->ndim - 1];
        nd += 2;
        if (bias && !((bias->ndim == 1 && bias->shape[0] == shape[nd - 1]) ||
                      (bias->ndim == 2 && bias->shape[0] == 1 && bias->shape[1] == shape[nd - 1])))
            expect = MT_ERR_SHAPE;
    }
    if (expect != MT_OK) {
        if (mode == 3) {
            mt_tensor *out = mt_zeros(MT_DIMS(1, 1));
            if (mt_matmul_out(out, a->t, b->t) != expect) finding("mt_matmul_out status");
            expect_error(fn, expect);
        } else {
            expect_null(fn, expect, mode == 2 ? mt_linear(a->t, b->t, bias ? bias->t : NULL) : mt_matmul(a->t, b->t));
        }
        return;
    }
    if (numel_of(nd, shape) > MAXN) return;
    /* oracle: loops in double over the broadcast batch */
    double want[MAXN], tol[MAXN];
    bool check[MAXN];
    int64_t idx[MAXD] = {0}, ia[MAXD], ib[MAXD], ibias[MAXD];
    int64_t k = a->shape[a->ndim - 1];
    do {
        double acc = 0, mag = 0;
        bool nan = false, pinf = false, ninf = false;
        for (int64_t p = 0; p <= k; p++) {
            double term;
            if (p == k) {
                if (!bias) break;
                broadcast_index(nd, idx, bias->ndim, bias->shape, ibias);
                term = bias->vals[ordinal(bias->ndim, bias->shape, ibias)];
            } else {
                /* a's index: its batch dims broadcast from the output's, then (row, p) */
                int64_t full[MAXD];
                memcpy(full, idx, sizeof full);
                full[nd - 1] = p;
                broadcast_index(nd, full, a->ndim, a->shape, ia);
                ia[a->ndim - 2] = idx[nd - 2];
                ia[a->ndim - 1] = p;
                memcpy(full, idx, sizeof full);
                full[nd - 2] = p;
                broadcast_index(nd, full, b->ndim, b->shape, ib);
                ib[b->ndim - 2] = p;
                ib[b->ndim - 1] = idx[nd - 1];
                term = (double)a->vals[ordinal(a->ndim, a->shape, ia)] *
                       (double)b->vals[ordinal(b->ndim, b->shape, ib)];
            }
            if (isnan(term)) nan = true;
            else if (isinf(term)) (term > 0 ? (pinf = true) : (ninf = true));
            else mag += fabs(term);
            acc += term;
        }
        int64_t o = ordinal(nd, shape, idx);
        check[o] = mag < 1e37;
        want[o] = nan || (pinf && ninf) ? NAN : acc;
        tol[o] = 1e-37 + (double)(k + 2) * 1.2e-7 * mag;
    } while (next_index(nd, shape, idx));
    slot ta = *a, tb = *b;
    mt_tensor *t;
    bool rg;
    if (mode == 3) {
        t = mt_zeros(nd, shape);
        expect_ok(fn, mt_matmul_out(t, a->t, b->t));
        rg = false;
    } else if (mode == 2) {
        t = mt_linear(a->t, b->t, bias ? bias->t : NULL);
        rg = no_grad == 0 && (ta.requires_grad || tb.requires_grad || (bias && bias->requires_grad));
    } else {
        t = mt_matmul(a->t, b->t);
        rg = records(&ta, &tb);
    }
    slot *s = target_slot(r);
    store(s, fn, t, nd, shape, NULL, 0, 0, rg, !rg);
    for (int64_t i = 0; i < numel_of(nd, shape); i++)
        if (check[i] && !close_enough(s->vals[i], want[i], tol[i], 1e-6))
            finding("%s: element %lld is %.9g, expected %.9g (tolerance %g)", fn, (long long)i,
                    s->vals[i], want[i], tol[i]);
}

/* ---- autodiff ---- */

static void check_gradients(void)
{
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &slots[i];
        if (!s->t) continue;
        mt_clear_error();
        mt_tensor *g = mt_grad(s->t);
        if (!g) {
            expect_error("mt_grad", MT_ERR_AUTODIFF);
            continue;
        }
        if (!s->leaf) finding("a tensor with history has a gradient");
        if (mt_ndim(g) != s->ndim) finding("gradient ndim %d, leaf ndim %d", mt_ndim(g), s->ndim);
        for (int d = 0; d < s->ndim; d++)
            if (mt_shape(g)[d] != s->shape[d]) finding("gradient shape differs from its leaf's");
        if (mt_requires_grad(g)) finding("a gradient requires grad");
    }
}

static void op_autodiff(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    switch (u8(r) % 8) {
    case 0:
    case 1: { /* mark a leaf */
        bool flag = u8(r) % 4 != 0;
        mt_clear_error();
        mt_status st = mt_set_requires_grad(a->t, flag);
        if (a->leaf) {
            expect_ok("mt_set_requires_grad", st);
            a->requires_grad = flag;
            /* other slots holding the same tensor see the change */
            for (int i = 0; i < SLOTS; i++)
                if (slots[i].t == a->t) slots[i].requires_grad = flag;
        } else {
            if (st != MT_ERR_AUTODIFF) finding("mt_set_requires_grad on a non-leaf");
            expect_error("mt_set_requires_grad", MT_ERR_AUTODIFF);
        }
        break;
    }
    case 2:
    case 3:
    case 4: { /* backward */
        mt_clear_error();
        if (!a->requires_grad) {
            if (mt_backward(a->t) != MT_ERR_AUTODIFF) finding("backward without grad");
            expect_error("mt_backward", MT_ERR_AUTODIFF);
        } else if (numel(a) == 1) {
            expect_ok("mt_backward", mt_backward(a->t));
        } else if (u8(r) & 1) {
            if (mt_backward(a->t) != MT_ERR_AUTODIFF) finding("backward of a non-scalar");
            expect_error("mt_backward", MT_ERR_AUTODIFF);
        } else {
            mt_tensor *seed = mt_full(a->ndim, a->shape, 0.5f);
            expect_ok("mt_backward_with", mt_backward_with(a->t, seed));
        }
        check_gradients();
        break;
    }
    case 5: { /* gradient values: d sum(c * leaf) / d leaf = c, after zero_grad */
        if (!a->leaf || !a->requires_grad || no_grad) break;
        static const float cs[] = {1.0f, -2.0f, 0.5f, 3.0f};
        float c = cs[pick(r, 4)];
        mt_clear_error();
        expect_ok("mt_zero_grad", mt_zero_grad(a->t));
        expect_ok("mt_backward", mt_backward(mt_sum_all(mt_mul_scalar(a->t, c))));
        mt_tensor *g = mt_grad(a->t);
        float v[MAXN];
        if (!g || mt_copy_to(g, v, MAXN) != MT_OK) finding("no gradient after backward");
        for (int64_t i = 0; i < numel(a); i++)
            if (v[i] != c) finding("d sum(%g x) / dx is %g at %lld", c, v[i], (long long)i);
        break;
    }
    case 6:
        mt_clear_error();
        expect_ok("mt_zero_grad", mt_zero_grad(a->t));
        break;
    default: /* no-grad mode */
        mt_clear_error();
        if (u8(r) & 1 && no_grad < 3) {
            mt_no_grad_begin();
            no_grad++;
        } else if (no_grad > 0) {
            expect_ok("mt_no_grad_end", mt_no_grad_end());
            no_grad--;
        } else {
            if (mt_no_grad_end() != MT_ERR_AUTODIFF) finding("mt_no_grad_end without begin");
            expect_error("mt_no_grad_end", MT_ERR_AUTODIFF);
        }
        break;
    }
}

/* ---- scopes and references ---- */

static void end_scope(void)
{
    if (mt_scope_end(scope_stack[depth]) != MT_OK) finding("mt_scope_end of the innermost scope");
    depth--;
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &slots[i];
        if (!s->t || s->depth <= depth) continue;
        if (s->owned > 0) s->depth = 0; /* kept alive by the fuzzer's references */
        else s->t = NULL;
    }
}

static void op_scope(reader *r)
{
    unsigned what = u8(r) % 6;
    mt_clear_error();
    if (what == 0 && depth < MAX_SCOPES) {
        scope_stack[++depth] = mt_scope_begin();
        if (scope_stack[depth].depth != depth) finding("mt_scope_begin depth");
    } else if (what == 1 && depth > 1) {
        end_scope();
    } else if (what == 2) { /* a handle that is not the innermost */
        mt_scope wrong = depth > 1 && (u8(r) & 1) ? scope_stack[depth - 1]
                                                  : (mt_scope){depth + 1 + pick(r, 3), 0};
        if (mt_scope_end(wrong) != MT_ERR_SCOPE) finding("mt_scope_end of a wrong handle");
        expect_error("mt_scope_end", MT_ERR_SCOPE);
    } else if (what == 3) {
        slot *a = pick_slot(r);
        if (a && a->owned < 3) {
            if (mt_retain(a->t) != a->t) finding("mt_retain");
            a->owned++;
        }
    } else { /* release */
        slot *a = pick_slot(r);
        if (!a) return;
        int total = 0;
        for (int i = 0; i < SLOTS; i++)
            if (slots[i].t == a->t) total += slots[i].owned;
        mt_status st = mt_release(a->t);
        if (total == 0) {
            if (st != MT_ERR_SCOPE) finding("mt_release of a reference the caller does not own");
            expect_error("mt_release", MT_ERR_SCOPE);
            return;
        }
        if (st != MT_OK) finding("mt_release of a retained reference");
        slot *owner = a;
        for (int i = 0; owner->owned == 0 && i < SLOTS; i++)
            if (slots[i].t == a->t && slots[i].owned > 0) owner = &slots[i];
        owner->owned--;
        if (owner->owned == 0 && owner->depth == 0) { /* that was the last reference we had */
            for (int i = 0; i < SLOTS; i++)
                if (slots[i].t == a->t && slots[i].owned == 0 && slots[i].depth == 0) slots[i].t = NULL;
        }
    }
    if (mt_scope_depth() != depth) finding("mt_scope_depth %d, expected %d", mt_scope_depth(), depth);
}

/* ---- calls that must fail ---- */

static void op_errors(reader *r)
{
    slot *a = pick_slot(r);
    mt_tensor *t = a ? a->t : NULL;
    mt_clear_error();
    switch (u8(r) % 10) {
    case 0: {
        int op = pick(r, UNARY_OPS);
        expect_null(unary_names[op], MT_ERR_NULL, unary_call(op, NULL));
        break;
    }
    case 1: {
        int op = pick(r, BINARY_OPS);
        expect_null(binary_names[op], MT_ERR_NULL, (u8(r) & 1) ? binary_call(op, NULL, t) : binary_call(op, t, NULL));
        break;
    }
    case 2: expect_null("mt_matmul", MT_ERR_NULL, mt_matmul(NULL, t)); break;
    case 3: if (t) expect_null("mt_view", MT_ERR_NULL, mt_view(t, 2, NULL)); break;
    case 4: if (t) expect_null("mt_permute", MT_ERR_NULL, mt_permute(t, NULL)); break;
    case 5: { /* shapes that are never valid */
        static const int64_t bad[][2] = {{0, 1}, {-1, 2}, {INT64_MAX, INT64_MAX}};
        int which = pick(r, 3);
        expect_null("mt_zeros", which == 2 ? MT_ERR_OVERFLOW : MT_ERR_SHAPE, mt_zeros(2, bad[which]));
        break;
    }
    case 6: expect_null("mt_zeros", MT_ERR_SHAPE, mt_zeros(9, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1})); break;
    case 7: if (t) {
        float v = 7;
        if (mt_get(t, (const int64_t[]){-1, 0, 0, 0}, &v) != MT_ERR_INDEX || v != 7) finding("mt_get(-1)");
        expect_error("mt_get", MT_ERR_INDEX);
    } break;
    case 8: if (t && mt_numel(t) > 1) {
        if (!isnan(mt_item(t))) finding("mt_item of many elements");
        expect_error("mt_item", MT_ERR_SHAPE);
    } break;
    default: if (t) {
        float dst[MAXN];
        if (mt_copy_to(t, dst, mt_numel(t) - 1) != MT_ERR_INVALID_ARG) finding("mt_copy_to capacity");
        expect_error("mt_copy_to", MT_ERR_INVALID_ARG);
    } break;
    }
}

/* ---- joins, size-1 dims and gathering: squeeze, unsqueeze, cat, index_select ---- */

static void op_shape(reader *r)
{
    slot *a = pick_slot(r);
    if (!a) return;
    const int nd = a->ndim;
    const bool bad = (u8(r) & 7) == 0;
    double want[MAXN];
    int64_t shape[MAXD];
    slot tmp = *a;
    mt_clear_error();
    switch (u8(r) % 4) {
    case 0: { /* squeeze: the dim goes only when it has size 1 and is not the last one left */
        int dim = pick(r, 2 * nd) - nd, d = dim < 0 ? dim + nd : dim, n2 = 0;
        if (bad) dim = nd + pick(r, 3);
        mt_tensor *t = mt_squeeze(a->t, dim);
        if (bad) {
            expect_null("mt_squeeze", MT_ERR_INDEX, t);
            return;
        }
        for (int i = 0; i < nd; i++)
            if (!(i == d && a->shape[d] == 1 && nd > 1)) shape[n2++] = a->shape[i];
        for (int64_t i = 0; i < numel(a); i++) want[i] = a->vals[i];
        bool rg = records(&tmp, NULL);
        store(target_slot(r), "mt_squeeze", t, n2, shape, want, 0, 0, rg, !rg);
        return;
    }
    case 1: { /* unsqueeze anywhere in [-nd-1, nd] (slots hold at most MAXD dims) */
        if (nd == MAXD) return;
        int dim = pick(r, 2 * nd + 2) - nd - 1, d = dim < 0 ? dim + nd + 1 : dim;
        if (bad) dim = (u8(r) & 1) ? nd + 1 + pick(r, 3) : -nd - 2 - pick(r, 3);
        mt_tensor *t = mt_unsqueeze(a->t, dim);
        if (bad) {
            expect_null("mt_unsqueeze", MT_ERR_INDEX, t);
            return;
        }
        for (int i = 0, j = 0; i <= nd; i++) shape[i] = i == d ? 1 : a->shape[j++];
        for (int64_t i = 0; i < numel(a); i++) want[i] = a->vals[i];
        bool rg = records(&tmp, NULL);
        store(target_slot(r), "mt_unsqueeze", t, nd + 1, shape, want, 0, 0, rg, !rg);
        return;
    }
    case 2: { /* cat of a, b (and a again): shapes must match except at dim */
        slot *b = pick_slot(r);
        slot tmp_b = *b;
        int dim = pick(r, 2 * nd) - nd, d = dim < 0 ? dim + nd : dim, count = 2 + (u8(r) & 1);
        bool alike = b->ndim == nd;
        for (int i = 0; alike && i < nd; i++) alike = i == d || b->shape[i] == a->shape[i];
        if (bad && alike) dim = nd + pick(r, 3);
        mt_tensor *parts[3] = {a->t, b->t, a->t};
        const slot *part_slots[3] = {&tmp, &tmp_b, &tmp};
        if (!alike || bad) {
            expect_null("mt_cat", alike ? MT_ERR_INDEX : MT_ERR_SHAPE, mt_cat(count, parts, dim));
            return;
        }
        memcpy(shape, a->shape, sizeof shape);
        shape[d] = (count - 1) * a->shape[d] + b->shape[d];
        if (numel_of(nd, shape) > MAXN) return;
        int64_t idx[MAXD] = {0}, src[MAXD];
        do {
            memcpy(src, idx, sizeof src);
            int p = 0;
            while (src[d] >= part_slots[p]->shape[d]) src[d] -= part_slots[p++]->shape[d];
            want[ordinal(nd, shape, idx)] = part_slots[p]->vals[ordinal(nd, part_slots[p]->shape, src)];
        } while (next_index(nd, shape, idx));
        mt_tensor *t = mt_cat(count, parts, dim);
        bool rg = records(&tmp, &tmp_b);
        store(target_slot(r), "mt_cat", t, nd, shape, want, 0, 0, rg, !rg);
        return;
    }
    default: { /* index_select with repeats; a bad index names itself */
        int dim = pick(r, 2 * nd) - nd, d = dim < 0 ? dim + nd : dim;
        int64_t n = 1 + pick(r, 6), index[6];
        for (int64_t j = 0; j < n; j++) index[j] = pick(r, (int)a->shape[d]);
        if (bad) index[pick(r, (int)n)] = (u8(r) & 1) ? a->shape[d] + pick(r, 3) : -1 - pick(r, 3);
        memcpy(shape, a->shape, sizeof shape);
        shape[d] = n;
        if (numel_of(nd, shape) > MAXN) return;
        mt_tensor *t = mt_index_select(a->t, dim, n, index);
        if (bad) {
            expect_null("mt_index_select", MT_ERR_INDEX, t);
            return;
        }
        int64_t idx[MAXD] = {0}, src[MAXD];
        do {
            memcpy(src, idx, sizeof src);
            src[d] = index[idx[d]];
            want[ordinal(nd, shape, idx)] = a->vals[ordinal(nd, a->shape, src)];
        } while (next_index(nd, shape, idx));
        bool rg = records(&tmp, NULL);
        store(target_slot(r), "mt_index_select", t, nd, shape, want, 0, 0, rg, !rg);
        return;
    }
    }
}

/* ---- the driver ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mt_set_num_threads(1); /* the fuzzer runs one input at a time; keep it cheap and serial */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader in = {data, size, 0};
    mt_memory_stats stats;
    mt_memory_get_stats(&stats);
    const int64_t live = stats.live_tensors;
    memset(slots, 0, sizeof slots);
    no_grad = 0;
    depth = 1;
    mt_clear_error();
    /* the first byte picks the backend */
    mt_set_backend(u8(&in) & 1 ? MT_BACKEND_BLAS : MT_BACKEND_NAIVE);
    scope_stack[1] = mt_scope_begin();
    int ops = 0;
    while (!done(&in) && ops++ < 200) {
        unsigned op = u8(&in) % 18;
        static const char *const names[] = {"create",  "create", "permute", "narrow",
                                            "expand",  "reshape", "unary",  "binary",
                                            "scalar",  "out",    "reduce",  "matmul",
                                            "autodiff", "autodiff", "scope", "errors",
                                            "shape", "rows"};
        current_op = names[op];
        switch (op) {
        case 0:
        case 1: op_create(&in); break;
        case 2: op_permute(&in); break;
        case 3: op_narrow(&in); break;
        case 4: op_expand(&in); break;
        case 5: op_reshape(&in); break;
        case 6: op_unary(&in); break;
        case 7: op_binary(&in); break;
        case 8: op_scalar(&in); break;
        case 9: op_out(&in); break;
        case 10: op_reduce(&in); break;
        case 11: op_matmul(&in); break;
        case 12:
        case 13: op_autodiff(&in); break;
        case 14: op_scope(&in); break;
        case 15: op_errors(&in); break;
        case 16: op_shape(&in); break;
        default: op_rows(&in); break;
        }
        if (mt_scope_depth() != depth) finding("scope depth %d, expected %d", mt_scope_depth(), depth);
        if (mt_grad_enabled() != (no_grad == 0)) finding("grad mode");
    }
    current_op = "cleanup";
    while (depth > 0) end_scope();
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].t) clear_slot(&slots[i]);
    while (no_grad > 0) {
        mt_no_grad_end();
        no_grad--;
    }
    mt_clear_error();
    mt_memory_get_stats(&stats);
    if (stats.live_tensors != live)
        finding("%lld tensors alive after every scope ended and every reference was released",
                (long long)(stats.live_tensors - live));
    return 0;
}
