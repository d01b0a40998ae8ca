/* Suite "elementwise": maps, zips, broadcasts, strided zips and sums on 4096x4096 float32
 * (2048x2048 with --quick), in GB/s of bytes read + written, each against a plain C loop doing the
 * same work in the same run (loops.c).
 *
 * Every library operation is timed in two forms:
 *   "alloc"  as users call it: mt_neg(x) etc., a new result per call, dropped by an mt_scope
 *            around the call (the storage cache hands the buffer back on the next call);
 *   "out"    into a preallocated output: mt_map_out / mt_zip_out / mt_reduce_out.
 * After the "out" form its output is checked against the loop's.
 *
 * tanh and GELU are compared with loops on libmvec's vector tanhf; the same loops on glibc's
 * scalar tanhf are listed next to them.
 * Contiguous maps, zips and the sums run at 1 thread and at N (all cores or --threads); the
 * broadcasts and the transposed zip at N.
 * index_select gathers 4096 random rows of a 65536x256 table (16384x256 with --quick) at 1 and N
 * threads, against a loop of one memcpy per row.
 * Last, the fixed cost of one call: a 2x2 add in each form, as time per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loops.h"
#include "suites.h"

static const char SUITE[] = "elementwise";

/* ---- the timed bodies ---- */

typedef enum lib_kind { LIB_MAP, LIB_ZIP, LIB_SUM, LIB_SUM_ALL, LIB_ROWS } lib_kind;

/* One library call: the allocating form when `out` is NULL, else the _out form. */
typedef struct lib_job {
    lib_kind kind;
    mt_tensor *(*unary)(mt_tensor *);              /* LIB_MAP, allocating form */
    mt_tensor *(*binary)(mt_tensor *, mt_tensor *); /* LIB_ZIP, allocating form */
    mt_tensor *(*rows)(mt_tensor *, int);          /* LIB_ROWS (softmax, ...): allocating only */
    int op;                                        /* mt_unary_op / mt_binary_op, _out form */
    mt_tensor *a, *b;
    int dim;                                       /* LIB_SUM, and the _out form of LIB_SUM_ALL */
    mt_tensor *out;
} lib_job;

static void run_lib(void *p)
{
    const lib_job *j = p;
    if (j->out) {
        mt_status status;
        switch (j->kind) {
        case LIB_MAP: status = mt_map_out(j->out, (mt_unary_op)j->op, j->a); break;
        case LIB_ZIP: status = mt_zip_out(j->out, (mt_binary_op)j->op, j->a, j->b); break;
        default: status = mt_reduce_out(j->out, MT_OP_SUM, j->a, j->dim); break;
        }
        bench_check(status == MT_OK, "an _out kernel");
        return;
    }
    mt_scope scope = mt_scope_begin();
    mt_tensor *r;
    switch (j->kind) {
    case LIB_MAP: r = j->unary(j->a); break;
    case LIB_ZIP: r = j->binary(j->a, j->b); break;
    case LIB_SUM: r = mt_sum(j->a, j->dim); break;
    case LIB_ROWS: r = j->rows(j->a, j->dim); break;
    default: r = mt_sum_all(j->a); break;
    }
    bench_check(r != NULL, "an operation");
    bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");
}

typedef enum loop_kind {
    L_NEG, L_SIGMOID, L_ADD, L_MUL, L_ADD_ROW, L_ADD_COL, L_ADD_T, L_ADD_T_UNTILED, L_SUM_ROWS,
    L_SOFTMAX_ROWS, L_LOG_SOFTMAX_ROWS, L_SOFTMAX_COLS, L_LOG_SOFTMAX_COLS, L_LOGSUMEXP_ROWS,
    L_TANH, L_TANH_MVEC, L_GELU, L_GELU_MVEC
} loop_kind;

typedef struct loop_job {
    loop_kind kind;
    float *out;
    const float *a, *b;
    int64_t side; /* the matrices are side x side */
    int threads;
} loop_job;

static void run_loop(void *p)
{
    const loop_job *j = p;
    const int64_t s = j->side, n = s * s;
    switch (j->kind) {
    case L_NEG: loop_neg(j->out, j->a, n, j->threads); break;
    case L_SIGMOID: loop_sigmoid(j->out, j->a, n, j->threads); break;
    case L_TANH: loop_tanh(j->out, j->a, n, j->threads); break;
    case L_TANH_MVEC: loop_tanh_libmvec(j->out, j->a, n, j->threads); break;
    case L_GELU: loop_gelu(j->out, j->a, n, j->threads); break;
    case L_GELU_MVEC: loop_gelu_libmvec(j->out, j->a, n, j->threads); break;
    case L_ADD: loop_add(j->out, j->a, j->b, n, j->threads); break;
    case L_MUL: loop_mul(j->out, j->a, j->b, n, j->threads); break;
    case L_ADD_ROW: loop_add_row(j->out, j->a, j->b, s, s, j->threads); break;
    case L_ADD_COL: loop_add_col(j->out, j->a, j->b, s, s, j->threads); break;
    case L_ADD_T: loop_add_transposed(j->out, j->a, j->b, s, j->threads); break;
    case L_ADD_T_UNTILED: loop_add_transposed_untiled(j->out, j->a, j->b, s, j->threads); break;
    case L_SUM_ROWS: loop_sum_rows(j->out, j->a, s, s, j->threads); break;
    case L_SOFTMAX_ROWS: loop_softmax_rows(j->out, j->a, s, s, 0, j->threads); break;
    case L_LOG_SOFTMAX_ROWS: loop_softmax_rows(j->out, j->a, s, s, 1, j->threads); break;
    case L_SOFTMAX_COLS: loop_softmax_cols(j->out, j->a, s, s, 0, j->threads); break;
    case L_LOG_SOFTMAX_COLS: loop_softmax_cols(j->out, j->a, s, s, 1, j->threads); break;
    case L_LOGSUMEXP_ROWS: loop_logsumexp_rows(j->out, j->a, s, s, j->threads); break;
    }
}

typedef enum micro_kind { M_OUT, M_ALLOC, M_SCOPE, M_GRAD, M_BACKWARD } micro_kind;

/* One 2x2 add: a, b plain; ga, gb require grad; seed is the gradient for M_BACKWARD. */
typedef struct micro_job {
    micro_kind kind;
    mt_tensor *a, *b, *ga, *gb, *out, *seed;
} micro_job;

static void run_micro(void *p)
{
    const micro_job *j = p;
    switch (j->kind) {
    case M_OUT:
        bench_check(mt_zip_out(j->out, MT_OP_ADD, j->a, j->b) == MT_OK, "mt_zip_out");
        break;
    case M_ALLOC:
    case M_GRAD: {
        mt_tensor *r = j->kind == M_ALLOC ? mt_add(j->a, j->b) : mt_add(j->ga, j->gb);
        bench_check(r != NULL, "mt_add");
        mt_release(r);
        break;
    }
    case M_SCOPE: {
        mt_scope scope = mt_scope_begin();
        bench_check(mt_add(j->a, j->b) != NULL, "mt_add");
        mt_scope_end(scope);
        break;
    }
    case M_BACKWARD: {
        mt_scope scope = mt_scope_begin();
        mt_tensor *r = mt_add(j->ga, j->gb);
        bench_check(mt_backward_with(r, j->seed) == MT_OK, "mt_backward_with");
        mt_scope_end(scope);
        break;
    }
    }
}

/* index_select of rows, in a scope (the result's buffer comes back from the storage cache) */
typedef struct gather_job {
    mt_tensor *table;
    const int64_t *index;
    int64_t n, cols;
    float *out; /* the loop's output */
    int threads;
} gather_job;

static void run_gather_lib(void *p)
{
    const gather_job *j = p;
    mt_scope scope = mt_scope_begin();
    bench_check(mt_index_select(j->table, 0, j->n, j->index) != NULL, "mt_index_select");
    bench_check(mt_scope_end(scope) == MT_OK, "mt_scope_end");
}

static void run_gather_loop(void *p)
{
    const gather_job *j = p;
    loop_gather_rows(j->out, mt_data(j->table), j->index, j->n, j->cols, j->threads);
}

/* ---- running cases ---- */

typedef struct suite_state {
    const bench_config *config;
    char size[32];
    int64_t side;
} suite_state;

static void time_loop(const suite_state *s, const char *name, loop_job job, double bytes,
                      const char *baseline)
{
    bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = "baseline",
                            .threads = job.threads, .size = s->size, .work = bytes,
                            .unit = BENCH_BYTES, .baseline = baseline, .fn = run_loop,
                            .ctx = &job});
}

/* Times `name alloc` (job) and `name out` (out_job) on every backend at `threads`, compared to
 * `baseline`; then checks the out form's result against `want` (count floats) when given. */
static void time_op(const suite_state *s, const char *name, int threads, double bytes,
                    const char *baseline, lib_job job, lib_job out_job, const float *want,
                    int64_t count, float tol)
{
    char alloc_name[64], out_name[64];
    snprintf(alloc_name, sizeof alloc_name, "%s alloc", name);
    snprintf(out_name, sizeof out_name, "%s out", name);
    for (int k = 0; k < s->config->backend_count; k++) {
        const char *backend = s->config->backends[k];
        bench_run(&(bench_case){.name = alloc_name, .suite = SUITE, .backend = backend,
                                .threads = threads, .size = s->size, .work = bytes,
                                .unit = BENCH_BYTES, .baseline = baseline, .fn = run_lib,
                                .ctx = &job});
        bench_run(&(bench_case){.name = out_name, .suite = SUITE, .backend = backend,
                                .threads = threads, .size = s->size, .work = bytes,
                                .unit = BENCH_BYTES, .baseline = baseline, .fn = run_lib,
                                .ctx = &out_job});
        if (want) {
            char what[128];
            snprintf(what, sizeof what, "%s (%s, %d threads)", out_name, backend, threads);
            bench_check_close(what, out_job.out, want, count, tol);
        }
    }
}

/* Times a function of whole lines (mt_softmax etc., allocating form) on every backend, then
 * checks one result against the loop's `want`. */
static void time_rows(const suite_state *s, const char *name, int threads, double bytes,
                      const char *baseline, lib_job job, const float *want, int64_t count, float tol)
{
    for (int k = 0; k < s->config->backend_count; k++) {
        const char *backend = s->config->backends[k];
        bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = backend,
                                .threads = threads, .size = s->size, .work = bytes,
                                .unit = BENCH_BYTES, .baseline = baseline, .fn = run_lib,
                                .ctx = &job});
        bench_check(mt_set_backend_by_name(backend) == MT_OK, "mt_set_backend_by_name");
        mt_scope scope = mt_scope_begin();
        char what[128];
        snprintf(what, sizeof what, "%s (%s, %d threads)", name, backend, threads);
        bench_check_close(what, job.rows(job.a, job.dim), want, count, tol);
        mt_scope_end(scope);
    }
}

static void time_micro(const suite_state *s, const char *name, micro_job job, const char *baseline)
{
    const int calls = s->config->quick ? 2000 : 20000;
    for (int k = 0; k < s->config->backend_count; k++)
        bench_run(&(bench_case){.name = name, .suite = SUITE, .backend = s->config->backends[k],
                                .threads = s->config->threads, .size = "2x2", .work = 1,
                                .unit = BENCH_CALLS, .baseline = baseline, .calls = calls,
                                .fn = run_micro, .ctx = &job});
}

/* ---- the suite ---- */

static void run(const bench_config *config)
{
    suite_state s = {.config = config, .side = config->quick ? 2048 : 4096};
    const int64_t side = s.side, n = side * side;
    snprintf(s.size, sizeof s.size, "%lldx%lld", (long long)side, (long long)side);
    const double f = sizeof(float);

    /* inputs in [-4, 4): sigmoid sees both branches */
    mt_tensor *x = mt_rand_uniform(MT_DIMS(side, side), -4.0f, 4.0f, 11);
    mt_tensor *y = mt_rand_uniform(MT_DIMS(side, side), -4.0f, 4.0f, 12);
    mt_tensor *base = mt_rand_uniform(MT_DIMS(side, side), -4.0f, 4.0f, 13);
    mt_tensor *row = mt_rand_uniform(MT_DIMS(side), -4.0f, 4.0f, 14);
    mt_tensor *col = mt_rand_uniform(MT_DIMS(side, 1), -4.0f, 4.0f, 15);
    mt_tensor *xt = mt_transpose(base, 0, 1);
    mt_tensor *flat = mt_view(x, MT_DIMS(n));
    mt_tensor *out = mt_zeros(MT_DIMS(side, side));
    mt_tensor *out_row = mt_zeros(MT_DIMS(1, side)), *out_col = mt_zeros(MT_DIMS(side, 1));
    mt_tensor *out_all = mt_zeros(MT_DIMS(1));
    bench_check(x && y && base && row && col && xt && flat && out && out_row && out_col && out_all,
                "creating the inputs");

    float *bx = bench_buffer(n, x), *by = bench_buffer(n, y), *bbase = bench_buffer(n, base);
    float *brow = bench_buffer(side, row), *bcol = bench_buffer(side, col);
    float *bout = bench_buffer(n, NULL), *bsum = bench_buffer(side, NULL);
    /* references for the sums the loops do not produce: column sums and the total */
    float *col_sums = bench_buffer(side, NULL), total = 0.0f;
    {
        double *acc = calloc((size_t)side, sizeof *acc), all = 0.0;
        bench_check(acc != NULL, "calloc");
        for (int64_t i = 0; i < side; i++)
            for (int64_t j = 0; j < side; j++) acc[j] += bx[i * side + j];
        for (int64_t j = 0; j < side; j++) col_sums[j] = (float)acc[j], all += acc[j];
        total = (float)all;
        free(acc);
    }

    int counts[2];
    const int count = bench_thread_counts(config, counts);
    const int N = config->threads;

    /* contiguous maps and zips, at 1 and N threads */
    for (int t = 0; t < count; t++) {
        const int th = counts[t];
        time_loop(&s, "neg loop", (loop_job){L_NEG, bout, bx, NULL, side, th}, 2 * f * n, NULL);
        time_op(&s, "neg", th, 2 * f * n, "neg loop",
                (lib_job){.kind = LIB_MAP, .unary = mt_neg, .a = x},
                (lib_job){.kind = LIB_MAP, .op = MT_OP_NEG, .a = x, .out = out}, bout, n, 0);
        time_loop(&s, "sigmoid loop", (loop_job){L_SIGMOID, bout, bx, NULL, side, th}, 2 * f * n,
                  NULL);
        time_op(&s, "sigmoid", th, 2 * f * n, "sigmoid loop",
                (lib_job){.kind = LIB_MAP, .unary = mt_sigmoid, .a = x},
                (lib_job){.kind = LIB_MAP, .op = MT_OP_SIGMOID, .a = x, .out = out}, bout, n,
                1e-6f);
        /* tanh and GELU (PyTorch's tanh form) against loops on libmvec's vector tanhf; the same
         * loops on glibc's scalar tanhf are listed against those. The library's results are
         * checked against the scalar loops' (rounding differences: ~1e-7 absolute) */
        time_loop(&s, "tanh loop", (loop_job){L_TANH_MVEC, bout, bx, NULL, side, th}, 2 * f * n,
                  NULL);
        time_loop(&s, "tanh loop scalar", (loop_job){L_TANH, bout, bx, NULL, side, th}, 2 * f * n,
                  "tanh loop");
        time_op(&s, "tanh", th, 2 * f * n, "tanh loop",
                (lib_job){.kind = LIB_MAP, .unary = mt_tanh, .a = x},
                (lib_job){.kind = LIB_MAP, .op = MT_OP_TANH, .a = x, .out = out}, bout, n, 1e-6f);
        time_loop(&s, "gelu loop", (loop_job){L_GELU_MVEC, bout, bx, NULL, side, th}, 2 * f * n,
                  NULL);
        time_loop(&s, "gelu loop scalar", (loop_job){L_GELU, bout, bx, NULL, side, th}, 2 * f * n,
                  "gelu loop");
        time_op(&s, "gelu", th, 2 * f * n, "gelu loop",
                (lib_job){.kind = LIB_MAP, .unary = mt_gelu, .a = x},
                (lib_job){.kind = LIB_MAP, .op = MT_OP_GELU, .a = x, .out = out}, bout, n, 1e-6f);
        time_loop(&s, "add loop", (loop_job){L_ADD, bout, bx, by, side, th}, 3 * f * n, NULL);
        time_op(&s, "add", th, 3 * f * n, "add loop",
                (lib_job){.kind = LIB_ZIP, .binary = mt_add, .a = x, .b = y},
                (lib_job){.kind = LIB_ZIP, .op = MT_OP_ADD, .a = x, .b = y, .out = out}, bout, n,
                0);
        time_loop(&s, "mul loop", (loop_job){L_MUL, bout, bx, by, side, th}, 3 * f * n, NULL);
        time_op(&s, "mul", th, 3 * f * n, "mul loop",
                (lib_job){.kind = LIB_ZIP, .binary = mt_mul, .a = x, .b = y},
                (lib_job){.kind = LIB_ZIP, .op = MT_OP_MUL, .a = x, .b = y, .out = out}, bout, n,
                0);
    }

    /* broadcasts: + a row (side), + a column (side x 1) */
    const double bcast_bytes = f * (2.0 * n + side);
    time_loop(&s, "add row loop", (loop_job){L_ADD_ROW, bout, bx, brow, side, N}, bcast_bytes,
              NULL);
    time_op(&s, "add row", N, bcast_bytes, "add row loop",
            (lib_job){.kind = LIB_ZIP, .binary = mt_add, .a = x, .b = row},
            (lib_job){.kind = LIB_ZIP, .op = MT_OP_ADD, .a = x, .b = row, .out = out}, bout, n, 0);
    time_loop(&s, "add col loop", (loop_job){L_ADD_COL, bout, bx, bcol, side, N}, bcast_bytes,
              NULL);
    time_op(&s, "add col", N, bcast_bytes, "add col loop",
            (lib_job){.kind = LIB_ZIP, .binary = mt_add, .a = x, .b = col},
            (lib_job){.kind = LIB_ZIP, .op = MT_OP_ADD, .a = x, .b = col, .out = out}, bout, n, 0);

    /* a transposed operand: base^T + y */
    time_loop(&s, "add T loop untiled", (loop_job){L_ADD_T_UNTILED, bout, bbase, by, side, N},
              3 * f * n, "add T loop");
    time_loop(&s, "add T loop", (loop_job){L_ADD_T, bout, bbase, by, side, N}, 3 * f * n, NULL);
    time_op(&s, "add T", N, 3 * f * n, "add T loop",
            (lib_job){.kind = LIB_ZIP, .binary = mt_add, .a = xt, .b = y},
            (lib_job){.kind = LIB_ZIP, .op = MT_OP_ADD, .a = xt, .b = y, .out = out}, bout, n, 0);

    /* sums over dim 0 and dim 1, and of everything, at 1 and N threads; the baseline sums each
     * row. Float sums of `side` values in [-4, 4) in another order: allow about 1e-6 * side relative error. */
    const double sum_bytes = f * ((double)n + side);
    const float sum_tol = 1e-6f * (float)side;
    for (int t = 0; t < count; t++) {
        const int th = counts[t];
        time_loop(&s, "sum rows loop", (loop_job){L_SUM_ROWS, bsum, bx, NULL, side, th},
                  sum_bytes, NULL);
        time_op(&s, "sum dim0", th, sum_bytes, "sum rows loop",
                (lib_job){.kind = LIB_SUM, .a = x, .dim = 0},
                (lib_job){.kind = LIB_SUM, .a = x, .dim = 0, .out = out_row}, col_sums, side,
                sum_tol);
        time_op(&s, "sum dim1", th, sum_bytes, "sum rows loop",
                (lib_job){.kind = LIB_SUM, .a = x, .dim = 1},
                (lib_job){.kind = LIB_SUM, .a = x, .dim = 1, .out = out_col}, bsum, side,
                sum_tol);
        time_op(&s, "sum_all", th, f * ((double)n + 1), "sum rows loop",
                (lib_job){.kind = LIB_SUM_ALL, .a = x},
                (lib_job){.kind = LIB_SUM_ALL, .a = flat, .dim = 0, .out = out_all}, &total, 1,
                sum_tol);
    }

    /* index_select: 4096 random rows of a (65536, 256) table (an embedding lookup) */
    {
        const int64_t rows = config->quick ? 16384 : 65536, cols = 256, picks = 4096;
        mt_tensor *table = mt_rand(MT_DIMS(rows, cols), 31);
        int64_t *index = malloc(sizeof *index * (size_t)picks);
        float *gathered = bench_buffer(picks * cols, NULL);
        bench_check(table && index, "creating the table");
        uint64_t state = 12345;
        for (int64_t i = 0; i < picks; i++) { /* xorshift: any fixed spread of rows will do */
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            index[i] = (int64_t)(state % (uint64_t)rows);
        }
        char size[32];
        snprintf(size, sizeof size, "%lldx%lld[%lld]", (long long)rows, (long long)cols,
                 (long long)picks);
        const double bytes = 2.0 * f * (double)(picks * cols);
        for (int t = 0; t < count; t++) {
            gather_job job = {table, index, picks, cols, gathered, counts[t]};
            bench_run(&(bench_case){.name = "gather rows loop", .suite = SUITE,
                                    .backend = "baseline", .threads = counts[t], .size = size,
                                    .work = bytes, .unit = BENCH_BYTES, .fn = run_gather_loop,
                                    .ctx = &job});
            for (int k = 0; k < config->backend_count; k++)
                bench_run(&(bench_case){.name = "index_select alloc", .suite = SUITE,
                                        .backend = config->backends[k], .threads = counts[t],
                                        .size = size, .work = bytes, .unit = BENCH_BYTES,
                                        .baseline = "gather rows loop", .fn = run_gather_lib,
                                        .ctx = &job});
            const bench_result *lib =
                bench_find(SUITE, "index_select alloc", config->backends[0], counts[t]);
            const bench_result *loop = bench_find(SUITE, "gather rows loop", "baseline", counts[t]);
            if (lib && loop)
                bench_note(SUITE, "index_select (%s, %d thread%s): %.2fx the memcpy-per-row loop "
                           "(target >= 0.8x)", config->backends[0], counts[t],
                           counts[t] == 1 ? "" : "s", loop->median / lib->median);
        }
        mt_tensor *check = mt_index_select(table, 0, picks, index);
        bench_check(check != NULL, "mt_index_select");
        bench_check_close("index_select", check, gathered, picks * cols, 0);
        mt_release(check);
        mt_release(table);
        free(index);
        free(gathered);
    }

    /* softmax, log_softmax over rows (dim 1: contiguous lines) and columns (dim 0: the blocked
     * path), and logsumexp over rows, each against the three-pass loop; at 1 and N threads. The
     * loop sums in another order: allow 1e-5 relative. */
    for (int t = 0; t < count; t++) {
        const int th = counts[t];
        const struct {
            const char *name, *loop;
            loop_kind kind;
            mt_tensor *(*fn)(mt_tensor *, int);
            int dim;
        } cases[] = {{"softmax dim1", "softmax rows loop", L_SOFTMAX_ROWS, mt_softmax, 1},
                     {"softmax dim0", "softmax cols loop", L_SOFTMAX_COLS, mt_softmax, 0},
                     {"log_softmax dim1", "log_softmax rows loop", L_LOG_SOFTMAX_ROWS, mt_log_softmax, 1},
                     {"log_softmax dim0", "log_softmax cols loop", L_LOG_SOFTMAX_COLS, mt_log_softmax, 0}};
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            time_loop(&s, cases[c].loop, (loop_job){cases[c].kind, bout, bx, NULL, side, th},
                      2 * f * n, NULL);
            time_rows(&s, cases[c].name, th, 2 * f * n, cases[c].loop,
                      (lib_job){.kind = LIB_ROWS, .rows = cases[c].fn, .a = x, .dim = cases[c].dim},
                      bout, n, 1e-5f);
        }
        time_loop(&s, "logsumexp rows loop", (loop_job){L_LOGSUMEXP_ROWS, bsum, bx, NULL, side, th},
                  sum_bytes, NULL);
        time_rows(&s, "logsumexp dim1", th, sum_bytes, "logsumexp rows loop",
                  (lib_job){.kind = LIB_ROWS, .rows = mt_logsumexp, .a = x, .dim = 1}, bsum, side,
                  1e-5f);
    }

    /* per-call overhead: a 2x2 add */
    mt_tensor *a2 = mt_rand(MT_DIMS(2, 2), 21), *b2 = mt_rand(MT_DIMS(2, 2), 22);
    mt_tensor *ga = mt_rand(MT_DIMS(2, 2), 23), *gb = mt_rand(MT_DIMS(2, 2), 24);
    mt_tensor *o2 = mt_zeros(MT_DIMS(2, 2)), *seed = mt_ones(MT_DIMS(2, 2));
    bench_check(a2 && b2 && ga && gb && o2 && seed, "creating the 2x2 inputs");
    bench_check(mt_set_requires_grad(ga, true) == MT_OK && mt_set_requires_grad(gb, true) == MT_OK,
                "mt_set_requires_grad");
    micro_job micro = {M_OUT, a2, b2, ga, gb, o2, seed};
    time_micro(&s, "add2x2 out", micro, NULL);
    micro.kind = M_ALLOC;
    time_micro(&s, "add2x2 alloc+release", micro, "add2x2 out");
    micro.kind = M_SCOPE;
    time_micro(&s, "add2x2 in scope", micro, "add2x2 out");
    micro.kind = M_GRAD;
    time_micro(&s, "add2x2 requires_grad", micro, "add2x2 out");
    micro.kind = M_BACKWARD;
    time_micro(&s, "add2x2 + backward", micro, "add2x2 out");

    mt_tensor *all[] = {x, y, base, row, col, xt, flat, out, out_row, out_col, out_all,
                        a2, b2, ga, gb, o2, seed};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_release(all[i]);
    free(bx), free(by), free(bbase), free(brow), free(bcol), free(bout), free(bsum), free(col_sums);
}

const bench_suite bench_suite_elementwise = {
    "elementwise",
    "maps (neg, sigmoid, tanh, gelu), zips, broadcasts, a transposed zip and sums on 16M floats "
    "vs plain C loops; "
    "per-call overhead of a 2x2 add",
    run};
