/* minitorch-bench: the measuring harness (see harness.h). */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <minitorch/minitorch.h>

static int warmup_runs = 2;
static int timed_runs = 11;
static bool show_progress;

static bench_result *results;
static size_t result_count, result_capacity;

typedef struct bench_note_line {
    char suite[32];
    char *text;
} bench_note_line;

static bench_note_line *notes;
static size_t note_count, note_capacity;

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_init(int warmup, int repeats, bool progress)
{
    warmup_runs = warmup < 0 ? 0 : warmup;
    timed_runs = repeats < 1 ? 1 : repeats;
    show_progress = progress;
}

int bench_repeats(void) { return timed_runs; }

static void copy_text(char *dst, size_t capacity, const char *src)
{
    snprintf(dst, capacity, "%s", src ? src : "");
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void progress(const bench_case *c, const char *phase, int i, int n)
{
    if (!show_progress) return;
    fprintf(stderr, "\r\033[K[%s] %s (%s, %d thr, %s) %s %d/%d", c->suite, c->name, c->backend,
            c->threads, c->size, phase, i, n);
    fflush(stderr);
}

/* Puts the library in the state the case asks for: its thread count (which also sets OpenMP's
 * and OpenBLAS's) and, for library cases, its backend. */
static void prepare(const bench_case *c)
{
    if (mt_set_num_threads(c->threads) != MT_OK) {
        fprintf(stderr, "minitorch-bench: %s\n", mt_last_error());
        exit(1);
    }
    if (strcmp(c->backend, "baseline") != 0 && mt_set_backend_by_name(c->backend) != MT_OK) {
        fprintf(stderr, "minitorch-bench: %s\n", mt_last_error());
        exit(1);
    }
}

/* `items` (holding `count` of `*capacity` elements) with room for one more: doubled when full.
 * A benchmark run cannot go on without memory, so running out ends it. */
static void *room_for_one(void *items, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity) return items;
    size_t grown_capacity = *capacity ? 2 * *capacity : 32;
    void *grown = realloc(items, size * grown_capacity);
    if (!grown) {
        fprintf(stderr, "minitorch-bench: out of memory\n");
        exit(1);
    }
    *capacity = grown_capacity;
    return grown;
}

const bench_result *bench_run(const bench_case *c)
{
    const int calls = c->calls > 0 ? c->calls : 1;
    const int warmups = c->warmup > 0 ? c->warmup : c->warmup < 0 ? 0 : warmup_runs;
    int timed = c->repeats > 0 ? c->repeats : timed_runs;
    prepare(c);
    for (int i = 0; i < warmups; i++) {
        progress(c, "warm-up", i + 1, warmups);
        for (int k = 0; k < calls; k++) c->fn(c->ctx);
    }
    double *samples = malloc(sizeof *samples * (size_t)timed);
    if (!samples) {
        fprintf(stderr, "minitorch-bench: out of memory\n");
        exit(1);
    }
    double spent = 0.0;
    for (int i = 0; i < timed; i++) {
        progress(c, "run", i + 1, timed);
        double start = bench_now();
        for (int k = 0; k < calls; k++) c->fn(c->ctx);
        double seconds = bench_now() - start;
        samples[i] = seconds / calls;
        spent += seconds;
        if (c->budget > 0 && spent > c->budget && i + 1 >= 3 && i + 1 < timed) timed = i + 1;
    }
    if (show_progress) fprintf(stderr, "\r\033[K");
    qsort(samples, (size_t)timed, sizeof *samples, compare_doubles);

    results = room_for_one(results, &result_capacity, result_count, sizeof *results);
    bench_result *r = &results[result_count++];
    memset(r, 0, sizeof *r);
    copy_text(r->name, sizeof r->name, c->name);
    copy_text(r->suite, sizeof r->suite, c->suite);
    copy_text(r->backend, sizeof r->backend, c->backend);
    copy_text(r->size, sizeof r->size, c->size);
    copy_text(r->baseline, sizeof r->baseline, c->baseline);
    r->threads = c->threads;
    r->work = c->work;
    r->unit = c->unit;
    r->repeats = timed;
    r->min = samples[0];
    r->max = samples[timed - 1];
    r->median = timed % 2 ? samples[timed / 2]
                          : 0.5 * (samples[timed / 2 - 1] + samples[timed / 2]);
    free(samples);
    return r;
}

const bench_result *bench_find_sized(const char *suite, const char *name, const char *backend,
                                     int threads, const char *size)
{
    for (size_t i = 0; i < result_count; i++) {
        const bench_result *r = &results[i];
        if (r->threads == threads && strcmp(r->suite, suite) == 0 && strcmp(r->name, name) == 0 &&
            strcmp(r->backend, backend) == 0 && (!size || strcmp(r->size, size) == 0))
            return r;
    }
    return NULL;
}

const bench_result *bench_find(const char *suite, const char *name, const char *backend,
                               int threads)
{
    return bench_find_sized(suite, name, backend, threads, NULL);
}

size_t bench_result_count(void) { return result_count; }

const bench_result *bench_result_at(size_t index)
{
    return index < result_count ? &results[index] : NULL;
}

static const bench_result *baseline_of(const bench_result *r)
{
    if (!r->baseline[0]) return NULL;
    const char *sizes[2] = {r->size, NULL}; /* the same size first, then any */
    for (int s = 0; s < 2; s++) {
        const bench_result *b =
            bench_find_sized(r->suite, r->baseline, r->backend, r->threads, sizes[s]);
        if (!b) b = bench_find_sized(r->suite, r->baseline, "baseline", r->threads, sizes[s]);
        if (b) return b;
    }
    return NULL;
}

void bench_note(const char *suite, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int length = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (length < 0) return;
    notes = room_for_one(notes, &note_capacity, note_count, sizeof *notes);
    char *text = malloc((size_t)length + 1);
    if (!text) {
        fprintf(stderr, "minitorch-bench: out of memory\n");
        exit(1);
    }
    va_start(args, format);
    vsnprintf(text, (size_t)length + 1, format, args);
    va_end(args);
    copy_text(notes[note_count].suite, sizeof notes[note_count].suite, suite);
    notes[note_count++].text = text;
}

/* Ratio of the baseline's median time to this case's (0 when there is none). */
static double ratio_of(const bench_result *r)
{
    const bench_result *b = baseline_of(r);
    return b && r->median > 0 ? b->median / r->median : 0.0;
}

static double rate_of(const bench_result *r)
{
    return r->median > 0 ? r->work / r->median : 0.0;
}

static const char *rate_unit(bench_unit unit)
{
    switch (unit) {
    case BENCH_BYTES: return "GB/s";
    case BENCH_FLOPS: return "GFLOP/s";
    case BENCH_CALLS: return "Mcall/s";
    case BENCH_ITEMS: return "Mitem/s";
    }
    return "";
}

/* The rate in the unit rate_unit() names. */
static double shown_rate(const bench_result *r)
{
    return rate_of(r) / (r->unit == BENCH_CALLS || r->unit == BENCH_ITEMS ? 1e6 : 1e9);
}

/* ---- the tables ---- */

enum { COLUMNS = 9, CELL = 80 };

static void time_unit(double seconds, double *scale, const char **unit)
{
    if (seconds >= 1.0) *scale = 1.0, *unit = "s";
    else if (seconds >= 1e-3) *scale = 1e3, *unit = "ms";
    else if (seconds >= 1e-6) *scale = 1e6, *unit = "us";
    else *scale = 1e9, *unit = "ns";
}

static bool disturbed(const bench_result *r) { return r->median > 1.5 * r->min; }

static void format_row(const bench_result *r, char cells[COLUMNS][CELL])
{
    double scale;
    const char *unit;
    time_unit(r->median, &scale, &unit);
    snprintf(cells[0], CELL, "%s", r->name);
    snprintf(cells[1], CELL, "%s", r->size);
    snprintf(cells[2], CELL, "%s", r->backend);
    snprintf(cells[3], CELL, "%d", r->threads);
    /* '*': the median is well above the fastest run, so other work disturbed this case */
    snprintf(cells[4], CELL, "%.4g %s%s", r->median * scale, unit, disturbed(r) ? "*" : "");
    snprintf(cells[5], CELL, "%.4g %s", shown_rate(r), rate_unit(r->unit));
    double ratio = ratio_of(r);
    if (ratio > 0) snprintf(cells[6], CELL, "%.2f", ratio);
    else snprintf(cells[6], CELL, "-");
    snprintf(cells[7], CELL, "%.4g..%.4g %s", r->min * scale, r->max * scale, unit);
    snprintf(cells[8], CELL, "%d", r->repeats);
}

void bench_print_tables(FILE *out)
{
    static const char *const headers[COLUMNS] = {"case",   "size", "backend", "threads", "median",
                                                 "rate",   "vs base", "min..max", "runs"};
    static const bool right[COLUMNS] = {false, false, false, true, true, true, true, true, true};
    char (*cells)[COLUMNS][CELL] = malloc(sizeof *cells * (result_count ? result_count : 1));
    if (!cells) return;
    for (size_t i = 0; i < result_count; i++) format_row(&results[i], cells[i]);

    for (size_t first = 0; first < result_count; first++) {
        /* print each suite once, at its first result */
        bool seen = false;
        for (size_t j = 0; j < first && !seen; j++)
            seen = strcmp(results[j].suite, results[first].suite) == 0;
        if (seen) continue;
        const char *suite = results[first].suite;

        /* the "runs" column only when the suite's cases were not all timed equally often */
        bool uniform = true;
        int width[COLUMNS];
        for (int c = 0; c < COLUMNS; c++) width[c] = (int)strlen(headers[c]);
        for (size_t i = first; i < result_count; i++) {
            if (strcmp(results[i].suite, suite) != 0) continue;
            uniform &= results[i].repeats == results[first].repeats;
            for (int c = 0; c < COLUMNS; c++) {
                int w = (int)strlen(cells[i][c]);
                if (w > width[c]) width[c] = w;
            }
        }
        const int shown = uniform ? COLUMNS - 1 : COLUMNS;
        if (uniform)
            fprintf(out,
                    "\n== suite %s (median of %d runs; vs base = baseline median / median) ==\n",
                    suite, results[first].repeats);
        else
            fprintf(out, "\n== suite %s (median of `runs` timed runs; vs base = baseline median / "
                         "median) ==\n",
                    suite);
        for (int c = 0; c < shown; c++)
            fprintf(out, "%s%*s", c ? "  " : "", right[c] ? width[c] : -width[c], headers[c]);
        fputc('\n', out);
        for (int c = 0; c < shown; c++) {
            fprintf(out, "%s", c ? "  " : "");
            for (int k = 0; k < width[c]; k++) fputc('-', out);
        }
        fputc('\n', out);
        for (size_t i = first; i < result_count; i++) {
            if (strcmp(results[i].suite, suite) != 0) continue;
            for (int c = 0; c < shown; c++)
                fprintf(out, "%s%*s", c ? "  " : "", right[c] ? width[c] : -width[c], cells[i][c]);
            fputc('\n', out);
        }
        bool marked = false;
        for (size_t i = first; i < result_count && !marked; i++)
            marked = strcmp(results[i].suite, suite) == 0 && disturbed(&results[i]);
        if (marked)
            fprintf(out, "* median over 1.5x the fastest run: other work on the machine disturbed "
                         "this case\n");
        bool noted = false;
        for (size_t i = 0; i < note_count; i++) {
            if (strcmp(notes[i].suite, suite) != 0) continue;
            if (!noted) fputc('\n', out);
            noted = true;
            fprintf(out, "%s\n", notes[i].text);
        }
    }
    free(cells);
}

/* ---- files ---- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static const char *unit_name(bench_unit unit)
{
    switch (unit) {
    case BENCH_BYTES: return "bytes";
    case BENCH_FLOPS: return "flops";
    case BENCH_CALLS: return "calls";
    case BENCH_ITEMS: return "items";
    }
    return "";
}

static int close_file(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "minitorch-bench: error writing %s\n", path);
        return -1;
    }
    return 0;
}

int bench_write_json(const char *path, const bench_machine *machine)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "minitorch-bench: cannot open %s for writing\n", path);
        return -1;
    }
    fprintf(f, "{\n  \"machine\": {\"cpu\": ");
    json_string(f, machine ? machine->cpu : NULL);
    fprintf(f, ", \"cores\": %d, \"config\": ", machine ? machine->cores : 0);
    json_string(f, machine ? machine->config : NULL);
    fprintf(f, ", \"threads\": ");
    json_string(f, machine ? machine->threads : NULL);
    fprintf(f, "},\n  \"results\": [");
    for (size_t i = 0; i < result_count; i++) {
        const bench_result *r = &results[i];
        double ratio = ratio_of(r);
        fprintf(f, "%s\n    {\"suite\": ", i ? "," : "");
        json_string(f, r->suite);
        fprintf(f, ", \"case\": ");
        json_string(f, r->name);
        fprintf(f, ", \"size\": ");
        json_string(f, r->size);
        fprintf(f, ", \"backend\": ");
        json_string(f, r->backend);
        fprintf(f, ", \"threads\": %d, \"work\": %.17g, \"work_unit\": \"%s\", \"repeats\": %d,"
                   " \"median_s\": %.6e, \"min_s\": %.6e, \"max_s\": %.6e, \"rate\": %.6e,"
                   " \"rate_unit\": \"%s\", \"baseline\": ",
                r->threads, r->work, unit_name(r->unit), r->repeats, r->median, r->min, r->max,
                shown_rate(r), rate_unit(r->unit));
        if (r->baseline[0]) json_string(f, r->baseline);
        else fprintf(f, "null");
        if (ratio > 0) fprintf(f, ", \"ratio\": %.6g}", ratio);
        else fprintf(f, ", \"ratio\": null}");
    }
    fprintf(f, "\n  ],\n  \"notes\": [");
    for (size_t i = 0; i < note_count; i++) {
        fprintf(f, "%s\n    {\"suite\": ", i ? "," : "");
        json_string(f, notes[i].suite);
        fprintf(f, ", \"text\": ");
        json_string(f, notes[i].text);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    return close_file(f, path);
}

int bench_write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "minitorch-bench: cannot open %s for writing\n", path);
        return -1;
    }
    /* Names and labels contain no commas or quotes, so no field needs quoting. */
    fprintf(f, "suite,case,size,backend,threads,work,work_unit,repeats,median_s,min_s,max_s,"
               "rate,rate_unit,baseline,ratio\n");
    for (size_t i = 0; i < result_count; i++) {
        const bench_result *r = &results[i];
        double ratio = ratio_of(r);
        fprintf(f, "%s,%s,%s,%s,%d,%.17g,%s,%d,%.6e,%.6e,%.6e,%.6e,%s,%s,", r->suite, r->name,
                r->size, r->backend, r->threads, r->work, unit_name(r->unit), r->repeats,
                r->median, r->min, r->max, shown_rate(r), rate_unit(r->unit), r->baseline);
        if (ratio > 0) fprintf(f, "%.6g", ratio);
        fputc('\n', f);
    }
    return close_file(f, path);
}

void bench_free(void)
{
    free(results);
    results = NULL;
    result_count = result_capacity = 0;
    for (size_t i = 0; i < note_count; i++) free(notes[i].text);
    free(notes);
    notes = NULL;
    note_count = note_capacity = 0;
}
