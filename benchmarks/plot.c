/* minitorch-bench --plot DIR: writes gnuplot data files (*.dat) and scripts (*.gp) for the
 * results of the run into DIR, then runs gnuplot on each script to draw PNG charts:
 *
 *   matmul_gflops.png     square matmul GFLOP/s vs n: naive, blas (out, alloc), direct sgemm
 *   matmul_backward.png   forward vs the backward pair (GFLOP/s) and the pair's time / forward time
 *   matmul_batched.png    batched products: serial loop of N-thread sgemm vs batch-parallel
 *                         1-thread sgemm vs the backends, by product size (the crossover)
 *   elementwise.png       GB/s of each elementwise op (out and alloc forms) vs its plain loop
 *   train.png             seconds per epoch of each training configuration on each backend
 *
 * A chart whose suite did not run is skipped. The scripts use the pngcairo terminal when gnuplot
 * has it, else png. Without gnuplot on PATH the data and scripts are still written and a message
 * says how to install it; that is not an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "plot.h"

/* ---- files ---- */

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buffer[4096];
    if (snprintf(buffer, sizeof buffer, "%s", path) >= (int)sizeof buffer) return -1;
    for (char *p = buffer + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buffer, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buffer, 0777) != 0 && errno != EEXIST) return -1;
    struct stat st;
    return stat(buffer, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t capacity)
{
    snprintf(path, capacity, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "minitorch-bench: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static int close_checked(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "minitorch-bench: error writing %s\n", path);
        return -1;
    }
    return 0;
}

/* The shell word 'text' (single quotes, with embedded quotes escaped). */
static void shell_quote(char *out, size_t capacity, const char *text)
{
    size_t at = 0;
    if (capacity < 3) {
        if (capacity) out[0] = '\0';
        return;
    }
    out[at++] = '\'';
    for (; *text && at + 6 < capacity; text++) {
        if (*text == '\'') {
            memcpy(out + at, "'\\''", 4);
            at += 4;
        } else {
            out[at++] = *text;
        }
    }
    out[at++] = '\'';
    out[at] = '\0';
}

/* ---- looking up results ---- */

static double gflops(const bench_result *r)
{
    return r && r->median > 0 ? r->work / r->median / 1e9 : -1.0;
}

/* A value or gnuplot's missing-data mark "?". */
static void put(FILE *f, double value)
{
    if (value > 0) fprintf(f, " %.6g", value);
    else fprintf(f, " ?");
}

static bool suite_ran(const char *suite)
{
    for (size_t i = 0; i < bench_result_count(); i++)
        if (strcmp(bench_result_at(i)->suite, suite) == 0) return true;
    return false;
}

/* The common head of every script: terminal (pngcairo if there, else png), fonts, grid. */
static void script_head(FILE *f, const char *png, int width, int height)
{
    fprintf(f,
            "# written by minitorch-bench --plot; run: gnuplot %.*s.gp\n"
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "    set terminal pngcairo size %d,%d noenhanced font 'DejaVu Sans,11'\n"
            "} else {\n"
            "    set terminal png size %d,%d font 'DejaVuSans,10' noenhanced\n"
            "}\n"
            "set output '%s'\n"
            "set datafile missing '?'\n"
            "set grid ytics lc rgb '#dddddd' lw 1\n"
            "set border 3\n"
            "set tics nomirror\n"
            "set key top left box opaque\n",
            (int)(strlen(png) - 4), png, width, height, width, height, png);
}

/* ---- the charts ---- */

typedef struct plot_state {
    const char *dir;
    int threads;
    char scripts[8][64];
    int script_count;
    int failed;
} plot_state;

/* Creates DIR/name for writing; a failure marks the run failed and gives NULL. */
static FILE *create(plot_state *s, const char *name, char *path, size_t capacity)
{
    FILE *f = open_in(s->dir, name, path, capacity);
    if (!f) s->failed = 1;
    return f;
}

/* Closes a written file; a failure marks the run failed. */
static void finish(plot_state *s, FILE *f, const char *path)
{
    if (close_checked(f, path) != 0) s->failed = 1;
}

/* Creates the gnuplot script NAME.gp drawing NAME.png (width x height). */
static FILE *begin_script(plot_state *s, const char *name, int width, int height, char *path,
                          size_t capacity)
{
    char file[64], png[64];
    snprintf(file, sizeof file, "%s.gp", name);
    snprintf(png, sizeof png, "%s.png", name);
    FILE *f = create(s, file, path, capacity);
    if (f) script_head(f, png, width, height);
    return f;
}

/* Closes script NAME.gp and queues it for gnuplot. */
static void end_script(plot_state *s, FILE *f, const char *path, const char *name)
{
    finish(s, f, path);
    if (s->script_count < 8) snprintf(s->scripts[s->script_count++], 64, "%s.gp", name);
}

/* Square sizes of the matmul suite, in running order ("256^3" -> 256). */
static int square_sizes(int *sizes, int capacity)
{
    int count = 0;
    for (size_t i = 0; i < bench_result_count(); i++) {
        const bench_result *r = bench_result_at(i);
        int n;
        char tail;
        if (strcmp(r->suite, "matmul") != 0 || strcmp(r->name, "sgemm NN") != 0) continue;
        if (sscanf(r->size, "%d^3%c", &n, &tail) != 1) continue;
        bool seen = false;
        for (int k = 0; k < count; k++) seen |= sizes[k] == n;
        if (!seen && count < capacity) sizes[count++] = n;
    }
    return count;
}

static const bench_result *mm(const char *name, const char *backend, int threads,
                              const char *size)
{
    return bench_find_sized("matmul", name, backend, threads, size);
}

static void plot_matmul(plot_state *s)
{
    int sizes[16];
    const int count = square_sizes(sizes, 16);
    if (count == 0) return;
    const int N = s->threads;
    char path[4096];

    FILE *f = create(s, "matmul.dat", path, sizeof path);
    if (!f) return;
    fprintf(f, "# square matmul at %d threads, GFLOP/s (2 n^3 flops per product; the pair: 4 n^3)\n"
               "# n  naive_out  blas_out  blas_alloc  sgemm  pair_naive  pair_blas  pair_sgemm"
               "  ratio_naive  ratio_blas  ratio_sgemm  unfused\n",
            N);
    for (int i = 0; i < count; i++) {
        char size[32];
        snprintf(size, sizeof size, "%d^3", sizes[i]);
        const bench_result *naive = mm("matmul out", "naive", N, size);
        const bench_result *blas = mm("matmul out", "blas", N, size);
        const bench_result *sgemm = mm("sgemm NN", "baseline", N, size);
        const bench_result *pn = mm("backward pair out", "naive", N, size);
        const bench_result *pb = mm("backward pair out", "blas", N, size);
        const bench_result *ps = mm("sgemm NT+TN", "baseline", N, size);
        fprintf(f, "%d", sizes[i]);
        put(f, gflops(naive));
        put(f, gflops(blas));
        put(f, gflops(mm("matmul alloc", "blas", N, size)));
        put(f, gflops(sgemm));
        put(f, gflops(pn));
        put(f, gflops(pb));
        put(f, gflops(ps));
        put(f, pn && naive ? pn->median / naive->median : -1);
        put(f, pb && blas ? pb->median / blas->median : -1);
        put(f, ps && sgemm ? ps->median / sgemm->median : -1);
        put(f, gflops(mm("unfused mul+sum", "naive", N, size)));
        fputc('\n', f);
    }
    finish(s, f, path);

    f = begin_script(s, "matmul_gflops", 1100, 680, path, sizeof path);
    if (!f) return;
    fprintf(f,
            "set title 'Square matmul n x n x n: GFLOP/s by n, %d threads (median; higher is "
            "better)'\n"
            "set ylabel 'GFLOP/s'\n"
            "set logscale x 2\n"
            "set xrange [48:2800]\n"
            "set yrange [0:*]\n"
            "set xtics (64, 128, 256, 512, 1024, 2048)\n"
            "set key outside below center horizontal maxrows 2 box\n"
            "plot 'matmul.dat' using 1:5 with linespoints lw 3 pt 7 ps 1.3 lc rgb '#222222' "
            "title 'direct cblas_sgemm (baseline)', \\\n"
            "     '' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#1f77b4' "
            "title 'blas backend, mt_matmul_out', \\\n"
            "     '' using 1:4 with linespoints lw 2 dt 2 pt 4 ps 1.2 lc rgb '#1f77b4' "
            "title 'blas backend, mt_matmul (allocating)', \\\n"
            "     '' using 1:2 with linespoints lw 2 pt 9 ps 1.4 lc rgb '#d62728' "
            "title 'naive backend (fused, register-tiled)', \\\n"
            "     '' using 1:12 with linespoints lw 2 pt 13 ps 1.3 lc rgb '#ff7f0e' "
            "title 'unfused broadcast-mul + sum, n <= 256 (naive)'\n",
            N);
    end_script(s, f, path, "matmul_gflops");

    f = begin_script(s, "matmul_backward", 1400, 680, path, sizeof path);
    if (!f) return;
    fprintf(f,
            "set multiplot layout 1,2 title 'Forward product vs backward pair (dC B^T and A^T dC), "
            "%d threads'\n"
            "set logscale x 2\n"
            "set xrange [48:2800]\n"
            "set xtics (64, 128, 256, 512, 1024, 2048)\n"
            "set title 'GFLOP/s by n: forward (solid) vs backward pair (dashed)'\n"
            "set ylabel 'GFLOP/s'\n"
            "set yrange [0:*]\n"
            "set key outside below center horizontal maxrows 3 box\n"
            "plot 'matmul.dat' using 1:5 with linespoints lw 2 pt 7 lc rgb '#222222' "
            "title 'sgemm NN', \\\n"
            "     '' using 1:8 with linespoints lw 2 dt 2 pt 6 lc rgb '#222222' "
            "title 'sgemm NT+TN', \\\n"
            "     '' using 1:3 with linespoints lw 2 pt 5 lc rgb '#1f77b4' title 'blas forward', \\\n"
            "     '' using 1:7 with linespoints lw 2 dt 2 pt 4 lc rgb '#1f77b4' "
            "title 'blas backward pair', \\\n"
            "     '' using 1:2 with linespoints lw 2 pt 9 lc rgb '#d62728' title 'naive forward', \\\n"
            "     '' using 1:6 with linespoints lw 2 dt 2 pt 8 lc rgb '#d62728' "
            "title 'naive backward pair'\n"
            "set title 'backward pair time / forward time, by n (target <= 2.1)'\n"
            "set ylabel 'time ratio'\n"
            "set yrange [0:*]\n"
            "set key outside below center horizontal maxrows 3 box\n"
            "plot 2.1 with lines lw 2 dt 3 lc rgb '#2ca02c' title 'target 2.1', \\\n"
            "     'matmul.dat' using 1:11 with linespoints lw 2 pt 7 lc rgb '#222222' "
            "title 'direct sgemm', \\\n"
            "     '' using 1:10 with linespoints lw 2 pt 5 lc rgb '#1f77b4' title 'blas', \\\n"
            "     '' using 1:9 with linespoints lw 2 pt 9 lc rgb '#d62728' title 'naive'\n"
            "unset multiplot\n",
            N);
    end_script(s, f, path, "matmul_backward");
}

typedef struct batched_row {
    long long batch, side;
    const bench_result *loop;
} batched_row;

static int by_side(const void *a, const void *b)
{
    const batched_row *x = a, *y = b;
    if (x->side != y->side) return x->side < y->side ? -1 : 1;
    return (x->batch > y->batch) - (x->batch < y->batch);
}

static void plot_batched(plot_state *s)
{
    const int N = s->threads;
    char path[4096];
    batched_row rows[32];
    int count = 0;
    for (size_t i = 0; i < bench_result_count() && count < 32; i++) {
        const bench_result *r = bench_result_at(i);
        batched_row row = {0, 0, r};
        if (strcmp(r->suite, "matmul") != 0 || strcmp(r->name, "sgemm loop") != 0 ||
            r->threads != N)
            continue;
        if (sscanf(r->size, "%lldx%lld^3", &row.batch, &row.side) != 2) continue;
        rows[count++] = row;
    }
    if (count == 0) return;
    qsort(rows, (size_t)count, sizeof rows[0], by_side);

    FILE *f = create(s, "matmul_batched.dat", path, sizeof path);
    if (!f) return;
    fprintf(f, "# batched products at %d threads, GFLOP/s, by product side\n"
               "# index  side  batch  label  sgemm_loop  sgemm_batch_parallel  blas_out  "
               "naive_out\n",
            N);
    for (int i = 0; i < count; i++) {
        const bench_result *r = rows[i].loop;
        fprintf(f, "%d %lld %lld \"%lld x %lld^3\"", i, rows[i].side, rows[i].batch,
                rows[i].batch, rows[i].side);
        put(f, gflops(r));
        put(f, gflops(mm("sgemm batch-par", "baseline", N, r->size)));
        put(f, gflops(mm("matmul out", "blas", N, r->size)));
        put(f, gflops(mm("matmul out", "naive", N, r->size)));
        fputc('\n', f);
    }
    finish(s, f, path);

    f = begin_script(s, "matmul_batched", 1100, 700, path, sizeof path);
    if (!f) return;
    fprintf(f,
            "set title 'Batched products B x s^3 by product side s, %d threads: batch-parallel "
            "1-thread sgemm vs a loop of %d-thread sgemm'\n"
            "set ylabel 'GFLOP/s'\n"
            "set yrange [0:*]\n"
            "set xrange [-0.5:%d.5]\n"
            "set xtics scale 0\n",
            N, N, count - 1);
    fprintf(f,
            "set key outside below center horizontal maxrows 2 box\n"
            "plot 'matmul_batched.dat' using 1:5:xtic(4) with linespoints lw 2 pt 7 ps 1.3 "
            "lc rgb '#222222' title 'loop of %d-thread sgemm (direct)', \\\n"
            "     '' using 1:6 with linespoints lw 2 dt 2 pt 6 ps 1.3 lc rgb '#222222' "
            "title 'batch-parallel 1-thread sgemm (direct)', \\\n"
            "     '' using 1:7 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#1f77b4' "
            "title 'blas backend mt_matmul_out', \\\n"
            "     '' using 1:8 with linespoints lw 2 pt 9 ps 1.3 lc rgb '#d62728' "
            "title 'naive backend mt_matmul_out'\n",
            N);
    end_script(s, f, path, "matmul_batched");
}

static const bench_result *ew(const char *op, const char *form, const char *backend, int threads)
{
    char name[96];
    snprintf(name, sizeof name, "%s %s", op, form);
    return bench_find("elementwise", name, backend, threads);
}

static void plot_elementwise(plot_state *s)
{
    const int N = s->threads;
    char path[4096];
    FILE *f = NULL;
    int count = 0;
    for (size_t i = 0; i < bench_result_count(); i++) {
        const bench_result *r = bench_result_at(i);
        size_t length = strlen(r->name);
        if (strcmp(r->suite, "elementwise") != 0 || r->unit != BENCH_BYTES || r->threads != N ||
            strcmp(r->backend, "baseline") == 0 || length < 5 ||
            strcmp(r->name + length - 4, " out") != 0)
            continue;
        char op[64];
        snprintf(op, sizeof op, "%.*s", (int)(length - 4), r->name);
        if (bench_find("elementwise", r->name, r->backend, N) != r) continue; /* once per op */
        if (strcmp(r->backend, "naive") != 0 && ew(op, "out", "naive", N)) continue;
        if (!f) {
            f = create(s, "elementwise.dat", path, sizeof path);
            if (!f) return;
            fprintf(f, "# elementwise ops at %d threads, GB/s (bytes read + written)\n"
                       "# op  plain_loop  naive_out  naive_alloc  blas_out  blas_alloc\n",
                    N);
        }
        const bench_result *loop =
            r->baseline[0] ? bench_find("elementwise", r->baseline, "baseline", N) : NULL;
        fprintf(f, "\"%s\"", op);
        put(f, gflops(loop));
        put(f, gflops(ew(op, "out", "naive", N)));
        put(f, gflops(ew(op, "alloc", "naive", N)));
        put(f, gflops(ew(op, "out", "blas", N)));
        put(f, gflops(ew(op, "alloc", "blas", N)));
        fputc('\n', f);
        count++;
    }
    if (!f) return;
    finish(s, f, path);
    if (count == 0) return;

    f = begin_script(s, "elementwise", 1400, 650, path, sizeof path);
    if (!f) return;
    fprintf(f,
            "set title 'Elementwise ops and sums, %d threads: library vs the plain C loop doing "
            "the same work (median; higher is better)'\n"
            "set ylabel 'GB/s (bytes read + written)'\n"
            "set yrange [0:*]\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1.5\n"
            "set style fill solid 0.9 border rgb '#444444'\n"
            "set boxwidth 0.95\n"
            "set xtics scale 0\n"
            "set key outside top center horizontal box\n"
            "plot 'elementwise.dat' using 2:xtic(1) lc rgb '#555555' title 'plain C loop "
            "(baseline)', \\\n"
            "     '' using 3 lc rgb '#d62728' title 'naive, _out', \\\n"
            "     '' using 4 lc rgb '#f4a3a3' title 'naive, allocating', \\\n"
            "     '' using 5 lc rgb '#1f77b4' title 'blas, _out', \\\n"
            "     '' using 6 lc rgb '#9ecae9' title 'blas, allocating'\n",
            N);
    end_script(s, f, path, "elementwise");
}

/* PyTorch's full-batch epoch figures quoted in the train suite (measured elsewhere). */
static double pytorch_reference(const char *size, const char *name)
{
    if (strcmp(name, "epoch full batch") != 0) return -1;
    if (strcmp(size, "50 pts h100") == 0) return 0.16e-3;
    if (strcmp(size, "5000 pts h256") == 0) return 18.6e-3;
    return -1;
}

static void plot_train(plot_state *s)
{
    const int N = s->threads;
    char path[4096];
    FILE *f = NULL;
    for (size_t i = 0; i < bench_result_count(); i++) {
        const bench_result *r = bench_result_at(i);
        if (strcmp(r->suite, "train") != 0 || r->threads != N) continue;
        /* one row per (size, case), at its first result */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            const bench_result *q = bench_result_at(j);
            seen = strcmp(q->suite, "train") == 0 && q->threads == N &&
                   strcmp(q->size, r->size) == 0 && strcmp(q->name, r->name) == 0;
        }
        if (seen) continue;
        if (!f) {
            f = create(s, "train.dat", path, sizeof path);
            if (!f) return;
            fprintf(f, "# seconds per epoch at %d threads (median over the epochs after the "
                       "first)\n# configuration  naive  blas  pytorch_reference\n",
                    N);
        }
        const bench_result *naive = bench_find_sized("train", r->name, "naive", N, r->size);
        const bench_result *blas = bench_find_sized("train", r->name, "blas", N, r->size);
        fprintf(f, "\"%s\\n%s\"", r->size,
                strcmp(r->name, "epoch full batch") == 0 ? "full batch" : "batch 10");
        put(f, naive ? naive->median : -1);
        put(f, blas ? blas->median : -1);
        put(f, pytorch_reference(r->size, r->name));
        fputc('\n', f);
    }
    if (!f) return;
    finish(s, f, path);

    f = begin_script(s, "train", 1200, 650, path, sizeof path);
    if (!f) return;
    fprintf(f,
            "set title 'MiniTorch Task 3.5 network: time per epoch, %d threads (median; lower "
            "is better; log scale)'\n"
            "set ylabel 'milliseconds per epoch'\n"
            "set logscale y\n"
            "set yrange [0.01:*]\n"
            "set format y '%%g'\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1.5\n"
            "set style fill solid 0.9 border rgb '#444444'\n"
            "set boxwidth 0.95\n"
            "set xtics scale 0\n"
            "set bmargin 5\n"
            "set key outside top center horizontal box\n"
            "plot 'train.dat' using ($2*1000):xtic(1) lc rgb '#d62728' title 'naive backend', \\\n"
            "     '' using ($3*1000) lc rgb '#1f77b4' title 'blas backend', \\\n"
            "     '' using ($4*1000) lc rgb '#aaaaaa' title 'PyTorch (reference, not measured "
            "here)'\n",
            N);
    end_script(s, f, path, "train");
}

int bench_plot(const char *dir, int threads)
{
    if (make_dirs(dir) != 0) {
        fprintf(stderr, "minitorch-bench: cannot create the directory %s: %s\n", dir,
                strerror(errno));
        return -1;
    }
    plot_state s = {.dir = dir, .threads = threads};
    if (suite_ran("matmul")) {
        plot_matmul(&s);
        plot_batched(&s);
    }
    if (suite_ran("elementwise")) plot_elementwise(&s);
    if (suite_ran("train")) plot_train(&s);
    if (s.script_count == 0) {
        printf("\nplots: none of the charted suites (matmul, elementwise, train) ran; nothing "
               "to plot\n");
        return s.failed ? -1 : 0;
    }

    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("\nplots: gnuplot is not on PATH, so no charts were drawn; the data and scripts are "
               "in %s\n(install it with: sh third_party/install-deps.sh --bench, which installs "
               "the Debian package gnuplot-nox; then run the scripts there with gnuplot)\n",
               dir);
        return s.failed ? -1 : 0;
    }
    char quoted[8192];
    shell_quote(quoted, sizeof quoted, dir);
    printf("\nplots (gnuplot data and scripts in %s):\n", dir);
    for (int i = 0; i < s.script_count; i++) {
        char command[8400];
        snprintf(command, sizeof command, "cd %s && gnuplot %s", quoted, s.scripts[i]);
        int status = system(command);
        const char *script = s.scripts[i];
        if (status != 0) {
            fprintf(stderr, "minitorch-bench: gnuplot failed on %s/%s\n", dir, script);
            s.failed = 1;
            continue;
        }
        printf("  %s/%.*s.png\n", dir, (int)(strlen(script) - 3), script);
    }
    return s.failed ? -1 : 0;
}
