/* minitorch-bench: runs the benchmark suites and prints one table per suite.
 *
 *   minitorch-bench [--suite NAME]... [--shape SPEC]... [--quick] [--repeat N] [--threads N]
 *                   [--json FILE] [--csv FILE] [--plot DIR] [--help]
 *
 * Every figure is the median of repeated timed runs, shown with its ratio to a baseline measured
 * in the same run. Library cases run on both backends (naive, blas) unless MINITORCH_BACKEND
 * names one. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "plot.h"
#include "shape.h"
#include "suites.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: minitorch-bench [options]\n"
            "  --suite NAME   run this suite (repeatable; default: all but those run on request)\n"
            "  --quick        reduced sizes and repeats (whole run well under 30 s)\n"
            "  --repeat N     timed runs per case (default 11, --quick 5); the median is shown\n"
            "                 (the longest matmul cases and the training epochs use their own\n"
            "                 counts, cut short by a time limit on a loaded machine)\n"
            "  --threads N    threads for the multi-threaded cases (default: all cores)\n"
            "  --json FILE    also write the results as JSON\n"
            "  --csv FILE     also write the results as CSV\n"
            "  --plot DIR     after the run, write gnuplot data and scripts to DIR and draw PNG\n"
            "                 charts with gnuplot (skipped with a message if it is not installed)\n"
            "%s",
            bench_shape_help);
    fprintf(out,
            "  --help         this text\n"
            "MINITORCH_BACKEND=naive|blas restricts the library cases to one backend.\n"
            "suites:\n");
    for (const bench_suite *const *s = bench_suite_list; *s; s++)
        fprintf(out, "  %-12s %s\n", (*s)->name, (*s)->description);
}

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "minitorch-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(try --help)\n");
    return 2;
}

/* Parses a positive int; false if `text` is not one. */
static bool parse_count(const char *text, int *value)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > 1024) return false;
    *value = (int)v;
    return true;
}

/* The "model name" line of /proc/cpuinfo, or "unknown". */
static void cpu_model(char *buffer, size_t capacity)
{
    snprintf(buffer, capacity, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *value = strchr(line, ':');
        if (!value) continue;
        value++;
        while (*value == ' ' || *value == '\t') value++;
        snprintf(buffer, capacity, "%s", value);
        buffer[strcspn(buffer, "\n")] = '\0';
        break;
    }
    fclose(f);
}

/* The first three fields of /proc/loadavg: other work on a shared machine skews every figure. */
static void load_average(char *buffer, size_t capacity)
{
    snprintf(buffer, capacity, "unknown");
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    double one, five, fifteen;
    if (fscanf(f, "%lf %lf %lf", &one, &five, &fifteen) == 3)
        snprintf(buffer, capacity, "%.2f %.2f %.2f", one, five, fifteen);
    fclose(f);
}

/* CPU time of the whole machine (busy and stolen, from /proc/stat) and of this process, in
 * seconds: their difference over a run is the work of other processes, which skews the figures
 * on a shared machine. */
typedef struct cpu_usage {
    bool valid;
    double machine_busy, steal, self;
} cpu_usage;

static cpu_usage cpu_usage_now(void)
{
    cpu_usage u = {0};
    struct rusage self;
    if (getrusage(RUSAGE_SELF, &self) == 0)
        u.self = (double)self.ru_utime.tv_sec + 1e-6 * (double)self.ru_utime.tv_usec +
                 (double)self.ru_stime.tv_sec + 1e-6 * (double)self.ru_stime.tv_usec;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return u;
    unsigned long long v[8] = {0}; /* user nice system idle iowait irq softirq steal */
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) == 8) {
        double tick = (double)sysconf(_SC_CLK_TCK);
        u.machine_busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
        u.steal = (double)v[7] / tick;
        u.valid = tick > 0;
    }
    fclose(f);
    return u;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(int argc, char **argv)
{
    bool quick = false;
    int repeats = 0, threads = 0;
    const char *json_path = NULL, *csv_path = NULL, *plot_dir = NULL;
    const bench_suite *chosen[64];
    int chosen_count = 0;
    enum { MAX_SHAPES = 32 };
    bench_shape shapes[MAX_SHAPES];
    int shape_count = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        /* options taking a value accept "--opt VALUE" and "--opt=VALUE" */
        const char *value = NULL;
        char name[32];
        const char *eq = strchr(arg, '=');
        if (eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
        bool takes_value = strcmp(name, "--suite") == 0 || strcmp(name, "--repeat") == 0 ||
                           strcmp(name, "--threads") == 0 || strcmp(name, "--json") == 0 ||
                           strcmp(name, "--csv") == 0 || strcmp(name, "--plot") == 0 ||
                           strcmp(name, "--shape") == 0;
        if (takes_value && !value) {
            if (i + 1 >= argc) return bad_usage("%s needs a value", name);
            value = argv[++i];
        } else if (!takes_value && value) {
            return bad_usage("%s takes no value", name);
        }

        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(name, "--quick") == 0) {
            quick = true;
        } else if (strcmp(name, "--suite") == 0) {
            const bench_suite *found = NULL;
            for (const bench_suite *const *s = bench_suite_list; *s && !found; s++)
                if (strcmp((*s)->name, value) == 0) found = *s;
            if (!found) return bad_usage("unknown suite \"%s\"", value);
            bool already = false;
            for (int k = 0; k < chosen_count; k++) already |= chosen[k] == found;
            if (!already && chosen_count < 64) chosen[chosen_count++] = found;
        } else if (strcmp(name, "--shape") == 0) {
            if (shape_count == MAX_SHAPES) return bad_usage("more than 32 --shape options%s", "");
            char error[256];
            if (!bench_shape_parse(value, &shapes[shape_count++], error, sizeof error))
                return bad_usage("%s", error);
        } else if (strcmp(name, "--repeat") == 0) {
            if (!parse_count(value, &repeats))
                return bad_usage("--repeat needs a count from 1 to 1024, not \"%s\"", value);
        } else if (strcmp(name, "--threads") == 0) {
            if (!parse_count(value, &threads))
                return bad_usage("--threads needs a count from 1 to 1024, not \"%s\"", value);
        } else if (strcmp(name, "--json") == 0) {
            json_path = value;
        } else if (strcmp(name, "--csv") == 0) {
            csv_path = value;
        } else if (strcmp(name, "--plot") == 0) {
            if (!*value) return bad_usage("--plot needs a directory%s", "");
            plot_dir = value;
        } else {
            return bad_usage("unknown option \"%s\"", arg);
        }
    }
    if (chosen_count == 0 && shape_count == 0)
        for (const bench_suite *const *s = bench_suite_list; *s && chosen_count < 64; s++)
            if (!bench_suite_on_request(*s)) chosen[chosen_count++] = *s;

    bench_config config = {.quick = quick};
    const char *only = getenv("MINITORCH_BACKEND");
    if (only && *only) {
        if (strcmp(only, "naive") != 0 && strcmp(only, "blas") != 0)
            return bad_usage("MINITORCH_BACKEND=\"%s\" is not a backend (naive, blas)", only);
        config.backends[config.backend_count++] = only;
    } else {
        config.backends[config.backend_count++] = "naive";
        config.backends[config.backend_count++] = "blas";
    }
    const int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    config.threads = threads ? threads : cores > 0 ? cores : 1;
    bench_check(mt_set_num_threads(config.threads) == MT_OK, "mt_set_num_threads");

    const int warmup = quick ? 1 : 2;
    if (!repeats) repeats = quick ? 5 : 11;
    bench_init(warmup, repeats, isatty(STDERR_FILENO) == 1);

    /* what the figures were measured on */
    char cpu[256], thread_text[256], load[64];
    cpu_model(cpu, sizeof cpu);
    load_average(load, sizeof load);
    snprintf(thread_text, sizeof thread_text,
             "N = %d (%s); scaling cases run at 1 and N threads; OMP_NUM_THREADS=%s OMP_PROC_BIND=%s "
             "OMP_PLACES=%s; omp_get_max_threads()=%d",
             config.threads, threads ? "--threads" : "all cores",
             env_or("OMP_NUM_THREADS", "unset"), env_or("OMP_PROC_BIND", "unset"),
             env_or("OMP_PLACES", "unset"), omp_get_max_threads());
    printf("minitorch-bench\n");
    printf("machine:  %s, %d cores online; load average %s (1/5/15 min) at start\n", cpu, cores,
           load);
    printf("library:  %s\n", mt_config_string());
    printf("threads:  %s\n", thread_text);
    printf("backends: %s%s%s%s\n", config.backends[0], config.backend_count > 1 ? ", " : "",
           config.backend_count > 1 ? config.backends[1] : "",
           only && *only ? " (from MINITORCH_BACKEND)" : "");
    printf("runs:     %d warm-up + %d timed per case%s\n", warmup, repeats,
           quick ? " (--quick: reduced sizes)" : "");
    fflush(stdout);

    cpu_usage before = cpu_usage_now();
    double start = bench_now();
    for (int k = 0; k < chosen_count; k++) chosen[k]->run(&config);
    for (int k = 0; k < shape_count; k++) bench_shape_run(&shapes[k], &config);
    double elapsed = bench_now() - start;
    cpu_usage after = cpu_usage_now();

    bench_print_tables(stdout);
    int checked, failed;
    bench_check_counts(&checked, &failed);
    if (checked)
        printf("\nresult checks: %d of %d library outputs agree with the plain loops\n",
               checked - failed, checked);
    load_average(load, sizeof load);
    printf("total time: %.1f s; load average %s at the end\n", elapsed, load);
    if (before.valid && after.valid && elapsed > 0) {
        double others = (after.machine_busy - before.machine_busy - (after.self - before.self)) /
                        elapsed;
        double steal = (after.steal - before.steal) / elapsed;
        if (others < 0) others = 0;
        printf("other load during the run: %.2f of %d cores busy with other processes, %.2f "
               "stolen by the hypervisor%s\n",
               others, cores, steal,
               others + steal > 0.25 ? " -- NOISY: the figures at N threads are unreliable" : "");
    }

    int status = failed ? 1 : 0;
    bench_machine machine = {cpu, cores, mt_config_string(), thread_text};
    if (json_path && bench_write_json(json_path, &machine) != 0) status = 1;
    if (csv_path && bench_write_csv(csv_path) != 0) status = 1;
    if (plot_dir) {
        fflush(stdout);
        if (bench_plot(plot_dir, config.threads) != 0) status = 1;
    }
    bench_free();
    return status;
}
