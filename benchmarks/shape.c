/* minitorch-bench --shape: one operation on the user's shapes (see shape.h). */
#include "shape.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loops.h"

static const char SUITE[] = "shape";

typedef enum op_kind { K_MAP, K_ZIP, K_REDUCE, K_MATMUL } op_kind;

/* The baseline loop of an operation, if it has one. */
typedef enum baseline_kind { B_NONE, B_NEG, B_COPY, B_SIGMOID, B_ADD, B_MUL, B_SUM, B_SGEMM } baseline_kind;

typedef struct op_info {
    const char *name;
    op_kind kind;
    int code;                                        /* mt_unary_op / mt_binary_op / mt_reduce_op */
    mt_tensor *(*unary)(mt_tensor *);                /* K_MAP, allocating form */
    mt_tensor *(*binary)(mt_tensor *, mt_tensor *);  /* K_ZIP and K_MATMUL, allocating form */
    mt_tensor *(*reduce)(mt_tensor *, int);          /* K_REDUCE, allocating form */
    baseline_kind baseline;
    float tolerance;     /* relative, against the baseline's output (see check_output) */
    bool positive_input; /* inputs in [0.25, 4) instead of [-4, 4) (log, inv, div) */
} op_info;

/* Tolerances: neg, copy, add and mul are exact in any order; sigmoid may differ from the loop's
 * vector expf by an ulp or so (1e-6, as the elementwise suite); sums and products are scaled by
 * the reduced length in check_output. */
static const op_info ops[] = {
    {"matmul", K_MATMUL, 0, NULL, mt_matmul, NULL, B_SGEMM, 1e-6f, false},
    {"neg", K_MAP, MT_OP_NEG, mt_neg, NULL, NULL, B_NEG, 0, false},
    {"copy", K_MAP, MT_OP_ID, mt_copy, NULL, NULL, B_COPY, 0, false},
    {"sigmoid", K_MAP, MT_OP_SIGMOID, mt_sigmoid, NULL, NULL, B_SIGMOID, 1e-6f, false},
    {"relu", K_MAP, MT_OP_RELU, mt_relu, NULL, NULL, B_NONE, 0, false},
    {"exp", K_MAP, MT_OP_EXP, mt_exp, NULL, NULL, B_NONE, 0, false},
    {"log", K_MAP, MT_OP_LOG, mt_log, NULL, NULL, B_NONE, 0, true},
    {"inv", K_MAP, MT_OP_INV, mt_inv, NULL, NULL, B_NONE, 0, true},
    {"add", K_ZIP, MT_OP_ADD, NULL, mt_add, NULL, B_ADD, 0, false},
    {"sub", K_ZIP, MT_OP_SUB, NULL, mt_sub, NULL, B_NONE, 0, false},
    {"mul", K_ZIP, MT_OP_MUL, NULL, mt_mul, NULL, B_MUL, 0, false},
    {"div", K_ZIP, MT_OP_DIV, NULL, mt_div, NULL, B_NONE, 0, true},
    {"sum", K_REDUCE, MT_OP_SUM, NULL, NULL, mt_sum, B_SUM, 1e-6f, false},
    {"prod", K_REDUCE, MT_OP_PROD, NULL, NULL, mt_prod, B_NONE, 0, false},
    {"max", K_REDUCE, MT_OP_MAX, NULL, NULL, mt_max, B_NONE, 0, false},
};
enum { OP_COUNT = sizeof ops / sizeof ops[0] };

const char bench_shape_help[] =
    "  --shape SPEC   time one operation on your own shapes instead of the suites (repeatable;\n"
    "                 --suite runs suites as well), every backend vs the in-binary baseline:\n"
    "                   matmul:NxKxM or matmul:BxNxKxM   (N,K)@(K,M), B of them; vs cblas_sgemm\n"
    "                   neg|copy|sigmoid|relu|exp|log|inv:SIZES   e.g. sigmoid:4096x4096\n"
    "                   add|sub|mul|div:SIZES            two operands of that shape\n"
    "                   sum|prod|max:SIZES[:dimD]        over dim D (default: the last)\n"
    "                 SIZES: 1 to 8 sizes joined by 'x'\n";

/* Elements above this are refused at parsing (2^34 floats = 64 GiB per operand). */
static const int64_t MAX_ELEMENTS = (int64_t)1 << 34;

static bool fail(char *error, size_t capacity, const char *format, const char *text)
{
    snprintf(error, capacity, format, text);
    return false;
}

bool bench_shape_parse(const char *text, bench_shape *shape, char *error, size_t capacity)
{
    memset(shape, 0, sizeof *shape);
    const char *colon = strchr(text, ':');
    if (!colon) return fail(error, capacity, "--shape \"%s\": expected OP:SIZES, e.g. matmul:64x128x256", text);
    shape->op = -1;
    for (int i = 0; i < OP_COUNT; i++)
        if (strlen(ops[i].name) == (size_t)(colon - text) &&
            strncmp(ops[i].name, text, (size_t)(colon - text)) == 0)
            shape->op = i;
    if (shape->op < 0) return fail(error, capacity, "--shape \"%s\": unknown operation (see --help)", text);
    const op_info *op = &ops[shape->op];
    if (strlen(colon + 1) >= sizeof shape->label)
        return fail(error, capacity, "--shape \"%s\": too long", text);
    snprintf(shape->label, sizeof shape->label, "%s", colon + 1);

    /* SIZES: positive decimal numbers joined by 'x' */
    const char *p = colon + 1;
    int64_t elements = 1;
    for (;;) {
        if (*p < '0' || *p > '9')
            return fail(error, capacity, "--shape \"%s\": sizes must be positive numbers joined by 'x'", text);
        if (shape->ndim == MT_MAX_DIMS)
            return fail(error, capacity, "--shape \"%s\": more than 8 sizes", text);
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 1 || v > MAX_ELEMENTS || elements > MAX_ELEMENTS / v)
            return fail(error, capacity, "--shape \"%s\": a size is 0 or the shape is too large", text);
        elements *= v;
        shape->sizes[shape->ndim++] = v;
        p = end;
        if (*p != 'x') break;
        p++;
    }

    shape->dim = shape->ndim - 1;
    if (*p == ':') {
        p++;
        if (op->kind != K_REDUCE)
            return fail(error, capacity, "--shape \"%s\": only sum, prod and max take a :dimD", text);
        if (strncmp(p, "dim", 3) != 0 || p[3] < '0' || p[3] > '9')
            return fail(error, capacity, "--shape \"%s\": expected :dimD with D a dim of the shape", text);
        char *end;
        long d = strtol(p + 3, &end, 10);
        if (*end != '\0' || d >= shape->ndim)
            return fail(error, capacity, "--shape \"%s\": expected :dimD with D a dim of the shape", text);
        shape->dim = (int)d;
        p = end;
    }
    if (*p != '\0') return fail(error, capacity, "--shape \"%s\": unexpected text after the sizes", text);
    if (op->kind == K_MATMUL && shape->ndim != 3 && shape->ndim != 4)
        return fail(error, capacity, "--shape \"%s\": matmul takes NxKxM or BxNxKxM", text);
    /* (sgemm takes int sizes: the product of the sizes is below 2^34, so each operand and the
     * output are too, but one size alone may not fit an int) */
    for (int i = 0; op->kind == K_MATMUL && i < shape->ndim; i++)
        if (shape->sizes[i] > 0x7fffffff)
            return fail(error, capacity, "--shape \"%s\": a size is too large for sgemm", text);
    return true;
}

/* ---- the timed bodies ---- */

typedef struct shape_job {
    const op_info *op;
    const bench_shape *shape;
    mt_tensor *a, *b, *out; /* out: NULL for the allocating form */
    /* the baseline's plain buffers */
    const float *pa, *pb;
    float *pout;
    int threads;
    int64_t batch, n, k, m;          /* matmul */
    int64_t outer, len, inner;       /* reductions */
} shape_job;

static void run_library(void *ctx)
{
    const shape_job *j = ctx;
    const op_info *op = j->op;
    if (j->out) {
        mt_status status = MT_OK;
        switch (op->kind) {
        case K_MAP: status = mt_map_out(j->out, (mt_unary_op)op->code, j->a); break;
        case K_ZIP: status = mt_zip_out(j->out, (mt_binary_op)op->code, j->a, j->b); break;
        case K_REDUCE: status = mt_reduce_out(j->out, (mt_reduce_op)op->code, j->a, j->shape->dim); break;
        case K_MATMUL: status = mt_matmul_out(j->out, j->a, j->b); break;
        }
        bench_check(status == MT_OK, "the operation into an output");
        return;
    }
    mt_scope scope = mt_scope_begin();
    mt_tensor *r = NULL;
    switch (op->kind) {
    case K_MAP: r = op->unary(j->a); break;
    case K_ZIP:
    case K_MATMUL: r = op->binary(j->a, j->b); break;
    case K_REDUCE: r = op->reduce(j->a, j->shape->dim); break;
    }
    bench_check(r != NULL, "the operation");
    bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");
}

static void run_baseline(void *ctx)
{
    const shape_job *j = ctx;
    const int64_t n = j->outer * j->len * j->inner;
    switch (j->op->baseline) {
    case B_NONE: break;
    case B_NEG: loop_neg(j->pout, j->pa, n, j->threads); break;
    case B_COPY: loop_copy(j->pout, j->pa, n, j->threads); break;
    case B_SIGMOID: loop_sigmoid(j->pout, j->pa, n, j->threads); break;
    case B_ADD: loop_add(j->pout, j->pa, j->pb, n, j->threads); break;
    case B_MUL: loop_mul(j->pout, j->pa, j->pb, n, j->threads); break;
    case B_SUM:
        if (j->inner == 1) loop_sum_rows(j->pout, j->pa, j->outer, j->len, j->threads);
        else loop_sum_inner(j->pout, j->pa, j->outer, j->len, j->inner, j->threads);
        break;
    case B_SGEMM:
        for (int64_t i = 0; i < j->batch; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)j->n, (int)j->m, (int)j->k,
                        1.0f, j->pa + i * j->n * j->k, (int)j->k, j->pb + i * j->k * j->m,
                        (int)j->m, 0.0f, j->pout + i * j->n * j->m, (int)j->m);
        break;
    }
}

/* ---- running ---- */

static const char *baseline_name(const op_info *op)
{
    static char name[64];
    if (op->baseline == B_NONE) return NULL;
    if (op->baseline == B_SGEMM) return "sgemm";
    snprintf(name, sizeof name, "%s loop", op->name);
    return name;
}

void bench_shape_run(const bench_shape *shape, const bench_config *config)
{
    const op_info *op = &ops[shape->op];
    shape_job job = {.op = op, .shape = shape, .threads = config->threads, .batch = 1};
    const float low = op->positive_input ? 0.25f : -4.0f;
    const double f = sizeof(float);
    int64_t out_shape[MT_MAX_DIMS];
    int out_ndim = shape->ndim;
    memcpy(out_shape, shape->sizes, sizeof out_shape);
    double work;
    int64_t in_count = 1, b_count = 0, out_count;
    float tolerance = op->tolerance;

    if (op->kind == K_MATMUL) {
        const int64_t *s = shape->sizes + (shape->ndim - 3);
        job.batch = shape->ndim == 4 ? shape->sizes[0] : 1;
        job.n = s[0], job.k = s[1], job.m = s[2];
        int64_t a_shape[3] = {job.batch, job.n, job.k}, b_shape[3] = {job.batch, job.k, job.m};
        out_ndim = shape->ndim - 1;
        int64_t o_shape[3] = {job.batch, job.n, job.m};
        const int skip = shape->ndim == 4 ? 0 : 1; /* 2-D operands without a batch */
        memcpy(out_shape, o_shape + skip, sizeof(int64_t) * (size_t)out_ndim);
        job.a = mt_rand_uniform(out_ndim, a_shape + skip, -1.0f, 1.0f, 31);
        job.b = mt_rand_uniform(out_ndim, b_shape + skip, -1.0f, 1.0f, 32);
        in_count = job.batch * job.n * job.k;
        b_count = job.batch * job.k * job.m;
        out_count = job.batch * job.n * job.m;
        work = 2.0 * (double)job.batch * (double)job.n * (double)job.k * (double)job.m;
        /* float sums of k products of values in [-1, 1) in another order */
        tolerance = 1e-6f * (float)job.k + 1e-5f;
    } else {
        for (int d = 0; d < shape->ndim; d++) in_count *= shape->sizes[d];
        job.a = mt_rand_uniform(shape->ndim, shape->sizes, low, 4.0f, 31);
        if (op->kind == K_ZIP) {
            job.b = mt_rand_uniform(shape->ndim, shape->sizes, low, 4.0f, 32);
            b_count = in_count;
        }
        job.outer = 1, job.len = 1, job.inner = 1;
        for (int d = 0; d < shape->ndim; d++) {
            if (op->kind == K_REDUCE && d < shape->dim) job.outer *= shape->sizes[d];
            else if (op->kind == K_REDUCE && d > shape->dim) job.inner *= shape->sizes[d];
            else job.len *= shape->sizes[d];
        }
        if (op->kind == K_REDUCE) {
            out_shape[shape->dim] = 1;
            tolerance *= (float)job.len; /* float sums of len values in another order */
        }
        out_count = in_count / (op->kind == K_REDUCE ? job.len : 1);
        work = f * (double)(in_count + b_count + out_count);
    }
    job.out = mt_zeros(out_ndim, out_shape);
    bench_check(job.a && (job.b || !b_count) && job.out, "creating the operands");

    const bench_unit unit = op->kind == K_MATMUL ? BENCH_FLOPS : BENCH_BYTES;
    const double budget = config->quick ? 0.5 : 2.0; /* seconds of timed runs per case */
    char name[64];
    const char *baseline = baseline_name(op);

    float *pa = NULL, *pb = NULL;
    if (baseline) {
        pa = bench_buffer(in_count, job.a);
        pb = b_count ? bench_buffer(b_count, job.b) : NULL;
        job.pa = pa, job.pb = pb;
        job.pout = bench_buffer(out_count, NULL);
        bench_run(&(bench_case){.name = baseline, .suite = SUITE, .backend = "baseline",
                                .threads = config->threads, .size = shape->label, .work = work,
                                .unit = unit, .budget = budget, .fn = run_baseline, .ctx = &job});
    }
    for (int k = 0; k < config->backend_count; k++) {
        const char *backend = config->backends[k];
        snprintf(name, sizeof name, "%s out", op->name);
        bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = backend,
                                .threads = config->threads, .size = shape->label, .work = work,
                                .unit = unit, .baseline = baseline, .budget = budget,
                                .fn = run_library, .ctx = &job});
        if (baseline) {
            char what[160];
            snprintf(what, sizeof what, "%s %s (%s)", name, shape->label, backend);
            bench_check_close(what, job.out, job.pout, out_count, tolerance);
        }
        shape_job alloc = job;
        alloc.out = NULL;
        snprintf(name, sizeof name, "%s alloc", op->name);
        bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = backend,
                                .threads = config->threads, .size = shape->label, .work = work,
                                .unit = unit, .baseline = baseline, .budget = budget,
                                .fn = run_library, .ctx = &alloc});
    }
    mt_release(job.a);
    mt_release(job.b);
    mt_release(job.out);
    free(pa), free(pb), free(job.pout);
}
