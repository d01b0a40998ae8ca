/* minitorch-train: MiniTorch's Task 3.5 — train the 2 -> H -> H -> 1 network on a 2-D dataset
 * and report loss, accuracy and time per epoch. Run with --help for the options. */
#define _POSIX_C_SOURCE 200809L
#include <minitorch/minitorch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "program_dist.h"
#include "train_dist.h"

typedef struct options {
    mt_dataset_kind dataset;
    int64_t pts, hidden, epochs, batch;
    float rate;
    uint64_t seed;
    const char *backend, *csv;
    int threads, log_every;
    bool distributed, compile;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: minitorch-train [options]\n"
            "Trains MiniTorch's Task 3.5 network (2 -> H -> H -> 1, ReLU, ReLU, sigmoid) with SGD.\n"
            "  --dataset NAME   simple, diag, split, xor, circle, spiral   (default split)\n"
            "  --pts N          number of points                           (default 50)\n"
            "  --hidden N       hidden layer width H                       (default 100)\n"
            "  --rate R         SGD learning rate                          (default 0.05)\n"
            "  --epochs N       epochs                                     (default 500)\n"
            "  --batch N        points per SGD step, 0 = full batch        (default 10)\n"
            "  --seed N         seed for data, weights and shuffling       (default 1)\n"
            "  --backend NAME   naive or blas                 (default: MINITORCH_BACKEND or blas)\n"
            "  --threads N      kernel threads, 0 = OMP_NUM_THREADS       (default 0)\n"
            "  --log-every N    print a line every N epochs                (default 10)\n"
            "  --csv FILE       write epoch,loss,correct,total,seconds for every epoch to FILE\n"
            "  --distributed    data-parallel over MPI: run as `mpirun -np N minitorch-train\n"
            "                   --distributed ...`; each rank takes its part of every batch,\n"
            "                   gradients are averaged; rank 0 prints (needs the MPI build)\n"
            "  --compile        capture one training step and replay it fused (plan.h) for every\n"
            "                   full batch: the same parameters, less per-step overhead\n"
            "  --help           this text\n"
            "Prints a line every N epochs (epoch, loss, correct/total, seconds per epoch), and a\n"
            "summary with the median and mean time per epoch after the first.\n");
}

static int bad(const char *message, const char *value)
{
    fprintf(stderr, "minitorch-train: %s%s%s\nTry 'minitorch-train --help'.\n", message,
            value ? ": " : "", value ? value : "");
    return 2;
}

static int parse_int(const char *text, int64_t min, int64_t *out)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || v < min) return 0;
    *out = v;
    return 1;
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){MT_DATASET_SPLIT, 50, 100, 500, 10, 0.05f, 1, NULL, NULL, 0, 10, false, false};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(arg, "--compile") == 0) {
            o->compile = true;
            continue;
        }
        if (strcmp(arg, "--distributed") == 0) {
            o->distributed = true;
            continue;
        }
        if (i + 1 >= argc) return bad("missing value or unknown option", arg);
        const char *value = argv[++i];
        int64_t n;
        if (strcmp(arg, "--dataset") == 0) {
            if (mt_dataset_kind_from_name(value, &o->dataset) != MT_OK) return bad("unknown dataset", value);
        } else if (strcmp(arg, "--pts") == 0) {
            if (!parse_int(value, 2, &o->pts)) return bad("--pts needs an integer >= 2", value);
        } else if (strcmp(arg, "--hidden") == 0) {
            if (!parse_int(value, 1, &o->hidden)) return bad("--hidden needs an integer >= 1", value);
        } else if (strcmp(arg, "--epochs") == 0) {
            if (!parse_int(value, 1, &o->epochs)) return bad("--epochs needs an integer >= 1", value);
        } else if (strcmp(arg, "--batch") == 0) {
            if (!parse_int(value, 0, &o->batch)) return bad("--batch needs an integer >= 0", value);
        } else if (strcmp(arg, "--seed") == 0) {
            if (!parse_int(value, 0, &n)) return bad("--seed needs an integer >= 0", value);
            o->seed = (uint64_t)n;
        } else if (strcmp(arg, "--threads") == 0) {
            if (!parse_int(value, 0, &n) || n > 1024) return bad("--threads needs 0..1024", value);
            o->threads = (int)n;
        } else if (strcmp(arg, "--log-every") == 0) {
            if (!parse_int(value, 1, &n) || n > 1000000) return bad("--log-every needs 1..1000000", value);
            o->log_every = (int)n;
        } else if (strcmp(arg, "--rate") == 0) {
            char *end;
            o->rate = strtof(value, &end);
            if (!*value || *end || !(o->rate > 0.0f)) return bad("--rate needs a number > 0", value);
        } else if (strcmp(arg, "--backend") == 0) {
            if (strcmp(value, "naive") && strcmp(value, "blas")) return bad("--backend is naive or blas", value);
            o->backend = value;
        } else if (strcmp(arg, "--csv") == 0) {
            o->csv = value;
        } else {
            return bad("unknown option", arg);
        }
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long peak_rss_kb(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    options o;
    int status = parse(argc, argv, &o);
    if (status) return status;
    if (o.distributed && (status = program_dist_start("minitorch-train", &argc, &argv)) != 0) return status;
    /* distributed: every rank trains, rank 0 alone prints and writes the CSV */
    const bool quiet = program_dist_rank() != 0;
    if (quiet) o.csv = NULL;
    if ((o.backend && mt_set_backend_by_name(o.backend) != MT_OK) ||
        (o.threads && mt_set_num_threads(o.threads) != MT_OK)) {
        fprintf(stderr, "minitorch-train: %s\n", mt_last_error());
        return 1;
    }
    FILE *csv = NULL;
    if (o.csv && !(csv = fopen(o.csv, "w"))) {
        perror(o.csv);
        return 1;
    }
    if (csv) fprintf(csv, "epoch,loss,correct,total,seconds\n");

    mt_dataset data;
    mt_mlp model;
    if (mt_dataset_make(&data, o.dataset, o.pts, o.seed) != MT_OK ||
        mt_mlp_init(&model, 2, o.hidden, o.seed) != MT_OK) {
        fprintf(stderr, "minitorch-train: %s\n", mt_last_error());
        return 1;
    }
    if (o.distributed && program_dist_broadcast(&model.params) != MT_OK) {
        fprintf(stderr, "minitorch-train: %s\n", mt_last_error());
        return 1;
    }
    if (!quiet)
        printf("minitorch-train: dataset %s, %lld points, hidden %lld, rate %g, batch %lld, %lld "
               "epochs, backend %s, %d threads\n",
               mt_dataset_kind_name(o.dataset), (long long)data.n, (long long)o.hidden,
               (double)o.rate, (long long)o.batch, (long long)o.epochs,
               mt_backend_name(mt_get_backend()), mt_get_num_threads());
    if (o.distributed && !quiet) printf("distributed: %d ranks (MPI)\n", program_dist_size());

    const int tty = isatty(fileno(stderr));
    mt_train_options train = {o.rate, o.batch, o.seed, o.compile};
    double *seconds = malloc(sizeof *seconds * (size_t)o.epochs);
    long rss_epoch10 = 0;
    int64_t correct = 0;
    double loss = 0;
    for (int64_t epoch = 1; epoch <= o.epochs && seconds; epoch++) {
        mt_epoch_result r;
        double start = now();
        mt_status trained = o.distributed ? train_dist_epoch(&model, &data, &train, epoch, &r)
                                          : mt_mlp_train_epoch(&model, &data, &train, epoch, &r);
        if (trained != MT_OK) {
            fprintf(stderr, "minitorch-train: %s\n", mt_last_error());
            status = 1;
            break;
        }
        seconds[epoch - 1] = now() - start;
        loss = r.loss;
        bool log = !quiet && (epoch % o.log_every == 0 || epoch == o.epochs);
        if (log || csv) mt_mlp_evaluate(&model, &data, &correct);
        if (csv)
            fprintf(csv, "%lld,%.9g,%lld,%lld,%.9g\n", (long long)epoch, loss, (long long)correct,
                    (long long)data.n, seconds[epoch - 1]);
        if (epoch == 10) rss_epoch10 = peak_rss_kb();
        if (log) {
            if (tty) fprintf(stderr, "\r\033[K");
            printf("epoch %5lld  loss %10.6f  correct %5lld/%lld  %.3f ms/epoch\n", (long long)epoch,
                   loss, (long long)correct, (long long)data.n, seconds[epoch - 1] * 1e3);
            fflush(stdout);
        } else if (tty && !quiet) {
            fprintf(stderr, "\repoch %lld/%lld  loss %.6f", (long long)epoch, (long long)o.epochs, loss);
        }
    }
    if (status == 0 && o.distributed) {
        uint64_t checksum = 0;
        bool same = false;
        if (train_dist_checksum(&model, &checksum, &same) != MT_OK || !same) status = 1;
        if (!quiet)
            printf("parameters: checksum %016llx, %s on all %d ranks\n", (unsigned long long)checksum,
                   same ? "identical" : "DIFFERENT", program_dist_size());
    }
    if (status == 0 && seconds && !quiet) {
        int64_t rest = o.epochs > 1 ? o.epochs - 1 : 1;
        double *after_first = seconds + (o.epochs > 1 ? 1 : 0), mean = 0;
        for (int64_t i = 0; i < rest; i++) mean += after_first[i];
        mean /= (double)rest;
        qsort(after_first, (size_t)rest, sizeof *after_first, compare_doubles);
        printf("summary: %lld/%lld correct, final loss %.6f, %.4f ms/epoch median, %.4f ms/epoch mean "
               "(epochs after the first), first epoch %.4f ms; peak RSS %ld KiB at epoch 10, %ld KiB "
               "at the end\n",
               (long long)correct, (long long)data.n, loss, after_first[rest / 2] * 1e3, mean * 1e3,
               seconds[0] * 1e3, rss_epoch10, peak_rss_kb());
    }
    free(seconds);
    if (csv) fclose(csv);
    mt_mlp_free(&model);
    mt_dataset_free(&data);
    if (o.distributed) program_dist_stop();
    return status;
}
