/* minitorch-digits: a classifier for the UCI optical handwritten digits (1,797 images of 8 x 8
 * pixels, 10 classes): 64 -> 128 -> 64 -> 10 with ReLU and dropout, Adam on softmax
 * cross-entropy, a seeded 80/20 split; per-epoch loss, accuracy and time, checkpoints, and the
 * test set's confusion matrix. Run with --help for the options. */
#define _POSIX_C_SOURCE 200809L
#include <minitorch/minitorch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "digits_checkpoint.h"
#include "digits_data.h"
#include "digits_dist.h"
#include "digits_model.h"
#include "program_dist.h"

typedef struct options {
    const char *data, *backend, *save, *load;
    int64_t epochs, limit, batch;
    float lr;
    uint64_t seed;
    int threads;
    bool distributed, compile;
} options;

static char default_data[4096];

/* ${XDG_CACHE_HOME:-$HOME/.cache}/minitorch/digits.csv.gz, where get-digits.sh puts it. */
static const char *default_data_path(void)
{
    const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (cache && *cache)
        snprintf(default_data, sizeof default_data, "%s/minitorch/digits.csv.gz", cache);
    else
        snprintf(default_data, sizeof default_data, "%s/.cache/minitorch/digits.csv.gz", home ? home : ".");
    return default_data;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: minitorch-digits [options]\n"
            "Trains a 64 -> 128 -> 64 -> 10 classifier (ReLU, dropout 0.1, Adam, softmax\n"
            "cross-entropy) on the UCI optical handwritten digits, 80/20 train/test split.\n"
            "  --data FILE      digits.csv.gz: 64 pixels 0..16 and the label a line\n"
            "                   (default %s;\n"
            "                   get it with minitorch-get-digits, or examples/get-digits.sh)\n"
            "  --epochs N       total epochs of the run                    (default 30)\n"
            "  --batch N        rows per Adam step                         (default 32)\n"
            "  --lr R           Adam learning rate                         (default 0.001)\n"
            "  --seed N         seed for the split, weights, dropout, shuffling (default 1)\n"
            "  --limit N        use only the file's first N images, 0 = all (default 0)\n"
            "  --backend NAME   naive or blas                 (default: MINITORCH_BACKEND or blas)\n"
            "  --threads N      kernel threads, 0 = OMP_NUM_THREADS       (default 0)\n"
            "  --save FILE      write a checkpoint (safetensors) after every epoch\n"
            "  --load FILE      resume from a checkpoint (same --seed and --limit) up to --epochs\n"
            "  --distributed    data-parallel over MPI: `mpirun -np N minitorch-digits\n"
            "                   --distributed ...` (needs the MPI build). Every rank reads the\n"
            "                   data (and --load's file) itself and takes its contiguous part of\n"
            "                   every batch; each row gets the dropout mask element a single\n"
            "                   process would give it; gradients are averaged before each Adam\n"
            "                   step. Accuracy: each rank predicts its part of the set, the\n"
            "                   counts are summed. Rank 0 alone prints and writes --save; the\n"
            "                   last line says whether every rank ends with the same parameters\n"
            "  --compile        capture one training step (full batch) and replay it as a plan\n"
            "                   (plan.h) for every full batch: bitwise the same parameters, less\n"
            "                   per-step overhead; a last, shorter batch runs eagerly. Not with\n"
            "                   --distributed\n"
            "  --help           this text\n"
            "Prints a line per epoch (mean batch loss, train and test accuracy, milliseconds of\n"
            "the training epoch), then the test set's confusion matrix, a summary (the median\n"
            "wall-clock and process CPU milliseconds per training epoch after the first) and a\n"
            "checksum of the parameters (equal for runs that end with bitwise equal parameters).\n"
            "Exit status: 0 done, 1 a failure while running (or, distributed, parameters that\n"
            "differ between ranks), 2 bad options, no data file or no MPI in this build.\n",
            default_data_path());
}

static int bad(const char *message, const char *value)
{
    fprintf(stderr, "minitorch-digits: %s%s%s\nTry 'minitorch-digits --help'.\n", message,
            value ? ": " : "", value ? value : "");
    return 2;
}

static int parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || v < min || v > max) return 0;
    *out = v;
    return 1;
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.data = NULL, .epochs = 30, .batch = 32, .lr = 1e-3f, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(arg, "--distributed") == 0) {
            o->distributed = true;
            continue;
        }
        if (strcmp(arg, "--compile") == 0) {
            o->compile = true;
            continue;
        }
        if (i + 1 >= argc) return bad("missing value or unknown option", arg);
        const char *value = argv[++i];
        int64_t n;
        if (strcmp(arg, "--data") == 0) {
            o->data = value;
        } else if (strcmp(arg, "--epochs") == 0) {
            if (!parse_int(value, 1, 1000000, &o->epochs)) return bad("--epochs needs 1..1000000", value);
        } else if (strcmp(arg, "--batch") == 0) {
            if (!parse_int(value, 1, 1 << 20, &o->batch)) return bad("--batch needs 1..1048576", value);
        } else if (strcmp(arg, "--limit") == 0) {
            if (!parse_int(value, 0, INT32_MAX, &o->limit)) return bad("--limit needs an integer >= 0", value);
        } else if (strcmp(arg, "--seed") == 0) {
            if (!parse_int(value, 0, INT64_MAX, &n)) return bad("--seed needs an integer >= 0", value);
            o->seed = (uint64_t)n;
        } else if (strcmp(arg, "--threads") == 0) {
            if (!parse_int(value, 0, 1024, &n)) return bad("--threads needs 0..1024", value);
            o->threads = (int)n;
        } else if (strcmp(arg, "--lr") == 0) {
            char *end;
            o->lr = strtof(value, &end);
            if (!*value || *end || !(o->lr > 0.0f && o->lr < 1e30f)) return bad("--lr needs a number > 0", value);
        } else if (strcmp(arg, "--backend") == 0) {
            if (strcmp(value, "naive") && strcmp(value, "blas")) return bad("--backend is naive or blas", value);
            o->backend = value;
        } else if (strcmp(arg, "--save") == 0) {
            o->save = value;
        } else if (strcmp(arg, "--load") == 0) {
            o->load = value;
        } else {
            return bad("unknown option", arg);
        }
    }
    if (o->compile && o->distributed) return bad("--compile does not work with", "--distributed");
    if (!o->data) o->data = default_data_path();
    return 0;
}

/* The data file is missing: say how to fetch it. */
static int no_data(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    fprintf(stderr,
            "minitorch-digits: no data file %s\n"
            "The digits come with Debian's python3-sklearn package; fetch that one file (no install) with\n"
            "    minitorch-get-digits %s\n"
            "or, in a source checkout,\n"
            "    sh examples/get-digits.sh %s\n",
            path, dir, dir);
    if (!slash || strcmp(slash + 1, "digits.csv.gz") != 0)
        fprintf(stderr, "(it writes DIR/digits.csv.gz: pass --data DIR/digits.csv.gz)\n");
    return 2;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds on the monotonic clock, or of CPU time used by the whole process (all threads). */
static double now(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The median of the epochs after the first (which also warms caches up) when there are some. */
static double median_after_first(double *values, int64_t n)
{
    double *rest = values + (n > 1);
    const int64_t count = n - (n > 1);
    qsort(rest, (size_t)count, sizeof *rest, compare_doubles);
    return rest[count / 2];
}

static void print_confusion(const int64_t *confusion)
{
    printf("confusion matrix (test set; rows: true digit, columns: predicted):\n      ");
    for (int c = 0; c < DIGITS_CLASSES; c++) printf("%5d", c);
    printf("\n");
    for (int r = 0; r < DIGITS_CLASSES; r++) {
        printf("  %d: ", r);
        for (int c = 0; c < DIGITS_CLASSES; c++) printf("%5lld", (long long)confusion[r * DIGITS_CLASSES + c]);
        printf("\n");
    }
}

static int library_failure(void)
{
    fprintf(stderr, "minitorch-digits: %s\n", mt_last_error());
    return 1;
}

/* Everything before training: the data and its split, the model, the optimiser and, with
 * --load, the checkpoint. 0, or an exit status after saying why (nothing is left allocated). */
static int prepare(const options *o, digits_set *train, digits_set *test, digits_model *model,
                   digits_trainer *trainer, digits_run *run)
{
    struct stat st;
    if (stat(o->data, &st) != 0) return no_data(o->data);
    if ((o->backend && mt_set_backend_by_name(o->backend) != MT_OK) ||
        (o->threads && mt_set_num_threads(o->threads) != MT_OK))
        return library_failure();

    char error[512];
    digits_set all;
    if (digits_read(o->data, o->limit, &all, error, sizeof error) != 0) {
        fprintf(stderr, "minitorch-digits: %s\n", error);
        return 1;
    }
    const int split = digits_split(&all, o->seed, train, test);
    digits_free(&all);
    if (split != 0) {
        fprintf(stderr, "minitorch-digits: out of memory\n");
        return 1;
    }
    *run = (digits_run){.seed = o->seed, .limit = o->limit, .epoch = 0};
    *trainer = (digits_trainer){0};
    int status = 0;
    if (digits_model_init(model, o->seed) != MT_OK) {
        status = library_failure(); /* the model is already freed */
    } else {
        if (digits_trainer_init(trainer, model, o->lr, o->batch, train->n) != MT_OK) {
            status = library_failure();
        } else if (o->load && digits_checkpoint_load(o->load, model, trainer, run, error, sizeof error) != 0) {
            fprintf(stderr, "minitorch-digits: %s\n", error);
            status = 1;
        }
        trainer->compile = o->compile;
        if (status != 0) {
            digits_trainer_free(trainer);
            digits_model_free(model);
        }
    }
    if (status != 0) {
        digits_free(train);
        digits_free(test);
    }
    return status;
}

static int other_rank_failed(void)
{
    fprintf(stderr, "minitorch-digits: rank %d stops: another rank failed\n", program_dist_rank());
    return 1;
}

/* --distributed, once every rank has prepared (`status`: this rank's outcome): every rank stops
 * when one failed. Then, after --load, every rank must have resumed the same run (each read the
 * checkpoint itself), and every rank takes rank 0's parameters. 0 or an exit status. */
static int join_ranks(int status, const options *o, digits_model *model, const digits_run *run)
{
    if (!program_dist_all(status == 0)) return status ? status : other_rank_failed();
    if (o->load) {
        bool same_parameters = false, same_epoch = false;
        if (program_dist_agree(digits_checksum(model), &same_parameters) != MT_OK ||
            program_dist_agree((uint64_t)run->epoch, &same_epoch) != MT_OK)
            return library_failure();
        if (!same_parameters || !same_epoch) {
            fprintf(stderr, "minitorch-digits: the ranks resumed from different checkpoints at %s "
                            "(every machine needs the same file)\n", o->load);
            return 1;
        }
    }
    return program_dist_broadcast(&model->params) == MT_OK ? 0 : library_failure();
}

/* The epochs after run->epoch up to --epochs, each with a line of progress and, with --save, a
 * checkpoint; then the confusion matrix, the summary and the parameters' checksum. Distributed:
 * every rank trains and evaluates, rank 0 alone prints and saves, and the checksum is compared
 * over the ranks. `seconds` has room for 2 * --epochs timings. */
static int train_and_report(const options *o, const digits_set *train, const digits_set *test,
                            digits_model *model, digits_trainer *trainer, digits_run *run,
                            double *seconds)
{
    const bool quiet = program_dist_rank() != 0;
    mt_status (*const train_epoch)(digits_model *, digits_trainer *, const digits_set *, uint64_t,
                                   int64_t, double *) =
        o->distributed ? digits_dist_train_epoch : digits_train_epoch;
    mt_status (*const evaluate)(digits_model *, const digits_set *, int64_t *, int64_t *) =
        o->distributed ? digits_dist_evaluate : digits_evaluate;
    double *cpu = seconds + o->epochs;
    int64_t confusion[DIGITS_CLASSES * DIGITS_CLASSES];
    int status = 0;
    if (!quiet) {
        printf("minitorch-digits: %lld training and %lld test images, batch %lld, lr %g, seed %llu, "
               "backend %s, %d threads\n",
               (long long)train->n, (long long)test->n, (long long)o->batch, (double)o->lr,
               (unsigned long long)o->seed, mt_backend_name(mt_get_backend()), mt_get_num_threads());
        if (o->distributed) printf("distributed: %d ranks (MPI)\n", program_dist_size());
        if (o->load) printf("resumed from %s after epoch %lld\n", o->load, (long long)run->epoch);
    }
    int64_t timed = 0;
    for (int64_t epoch = run->epoch + 1; status == 0 && epoch <= o->epochs; epoch++) {
        double loss = 0, start = now(CLOCK_MONOTONIC), start_cpu = now(CLOCK_PROCESS_CPUTIME_ID);
        if (train_epoch(model, trainer, train, o->seed, epoch, &loss) != MT_OK) {
            status = library_failure();
            break;
        }
        cpu[timed] = now(CLOCK_PROCESS_CPUTIME_ID) - start_cpu;
        seconds[timed++] = now(CLOCK_MONOTONIC) - start;
        int64_t right_train = 0, right_test = 0;
        if (evaluate(model, train, &right_train, NULL) != MT_OK ||
            evaluate(model, test, &right_test, NULL) != MT_OK) {
            status = library_failure();
            break;
        }
        if (!quiet) {
            printf("epoch %3lld  loss %.6f  train %6.2f%%  test %6.2f%%  %.3f ms/epoch\n", (long long)epoch,
                   loss, 100.0 * (double)right_train / (double)train->n,
                   100.0 * (double)right_test / (double)test->n, seconds[timed - 1] * 1e3);
            fflush(stdout);
        }
        run->epoch = epoch;
        if (o->save && !quiet && digits_checkpoint_save(o->save, model, trainer, run) != 0)
            status = library_failure();
        /* a checkpoint rank 0 could not write stops every rank */
        if (o->save && o->distributed && !program_dist_all(status == 0) && status == 0)
            status = other_rank_failed();
    }
    int64_t right = 0;
    if (status == 0 && evaluate(model, test, &right, confusion) != MT_OK) status = library_failure();
    if (status == 0 && !quiet) {
        print_confusion(confusion);
        if (timed > 0) {
            printf("summary: test accuracy %lld/%lld = %.2f%%, %.3f ms per training epoch (median of "
                   "%lld; process CPU time %.3f ms)\n",
                   (long long)right, (long long)test->n, 100.0 * (double)right / (double)test->n,
                   median_after_first(seconds, timed) * 1e3, (long long)(timed - (timed > 1)),
                   median_after_first(cpu, timed) * 1e3);
        } else {
            printf("summary: test accuracy %lld/%lld = %.2f%% (no epoch left to run)\n", (long long)right,
                   (long long)test->n, 100.0 * (double)right / (double)test->n);
        }
    }
    if (status != 0) return status;
    const uint64_t checksum = digits_checksum(model);
    bool same = true;
    if (o->distributed && program_dist_agree(checksum, &same) != MT_OK) return library_failure();
    if (!quiet) {
        printf("parameters: checksum %016llx after epoch %lld", (unsigned long long)checksum,
               (long long)run->epoch);
        if (o->distributed)
            printf(", %s on all %d ranks", same ? "identical" : "DIFFERENT", program_dist_size());
        printf("\n");
    }
    return same ? 0 : 1;
}

int main(int argc, char **argv)
{
    options o;
    int status = parse(argc, argv, &o);
    if (status) return status;
    if (o.distributed && (status = program_dist_start("minitorch-digits", &argc, &argv)) != 0) return status;

    digits_set train, test;
    digits_model model;
    digits_trainer trainer;
    digits_run run;
    double *seconds = malloc(sizeof *seconds * 2 * (size_t)o.epochs);
    if (seconds) {
        status = prepare(&o, &train, &test, &model, &trainer, &run);
    } else {
        fprintf(stderr, "minitorch-digits: out of memory\n");
        status = 1;
    }
    const bool prepared = status == 0;
    if (o.distributed) status = join_ranks(status, &o, &model, &run);
    if (status == 0) status = train_and_report(&o, &train, &test, &model, &trainer, &run, seconds);
    if (prepared) {
        digits_trainer_free(&trainer);
        digits_model_free(&model);
        digits_free(&train);
        digits_free(&test);
    }
    free(seconds);
    if (o.distributed) program_dist_stop();
    return status;
}
