/* minitorch-digits: saving and restoring a training run (see digits_checkpoint.h). */
#include "digits_checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_KEY "minitorch-digits"
#define FORMAT_VERSION "checkpoint 1"
#define MAX_BUFFERS 3 /* Adam: m, v (and v_max with amsgrad) */
#define NAME_BYTES 48
#define VALUE_BYTES 32

static const char *const buffer_names[MAX_BUFFERS] = {"m", "v", "v_max"};

/* Metadata: key/value strings and the NULL-terminated list mt_save_safetensors takes. */
typedef struct metadata {
    char key[16][NAME_BYTES], value[16][VALUE_BYTES];
    const char *list[2 * 16 + 1];
    int n;
} metadata;

static void put(metadata *m, const char *key, int64_t value)
{
    snprintf(m->key[m->n], NAME_BYTES, "%s", key);
    snprintf(m->value[m->n], VALUE_BYTES, "%" PRId64, value);
    m->list[2 * m->n] = m->key[m->n];
    m->list[2 * m->n + 1] = m->value[m->n];
    m->list[2 * ++m->n] = NULL;
}

int digits_checkpoint_save(const char *path, const digits_model *model, const digits_trainer *trainer,
                           const digits_run *run)
{
    const int buffers = mt_optim_state_buffers(trainer->optimizer);
    if (buffers < 0 || buffers > MAX_BUFFERS) return -1;
    char names[DIGITS_PARAMS * (1 + MAX_BUFFERS)][NAME_BYTES];
    const char *name_list[DIGITS_PARAMS * (1 + MAX_BUFFERS)];
    mt_tensor *tensors[DIGITS_PARAMS * (1 + MAX_BUFFERS)];
    metadata meta = {.n = 0};
    put(&meta, "epoch", run->epoch);
    put(&meta, "limit", run->limit);
    put(&meta, "dropout1.calls", (int64_t)model->dropout[0].calls);
    put(&meta, "dropout2.calls", (int64_t)model->dropout[1].calls);
    int n = 0, status = 0;
    mt_scope scope = mt_scope_begin();
    for (int i = 0; i < DIGITS_PARAMS && status == 0; i++) {
        mt_tensor *p = model->params.items[i];
        name_list[n] = digits_param_names[i];
        tensors[n++] = p;
        float *values[MAX_BUFFERS] = {NULL};
        int64_t steps = 0;
        for (int b = 0; b < buffers; b++)
            if (!(values[b] = malloc(sizeof(float) * (size_t)mt_numel(p)))) status = -1;
        if (status == 0 && mt_optim_state_get(trainer->optimizer, i, &steps, values) != MT_OK) status = -1;
        for (int b = 0; b < buffers && status == 0; b++) {
            snprintf(names[n], NAME_BYTES, "adam.%s.%s", digits_param_names[i], buffer_names[b]);
            name_list[n] = names[n];
            if (!(tensors[n++] = mt_from_data(mt_ndim(p), mt_shape(p), values[b]))) status = -1;
        }
        for (int b = 0; b < buffers; b++) free(values[b]);
        char key[NAME_BYTES];
        snprintf(key, sizeof key, "adam.%s.steps", digits_param_names[i]);
        put(&meta, key, steps);
    }
    if (status == 0) {
        /* the seed is 64 bits: stored as text in full */
        snprintf(meta.key[meta.n], NAME_BYTES, "seed");
        snprintf(meta.value[meta.n], VALUE_BYTES, "%" PRIu64, run->seed);
        meta.list[2 * meta.n] = meta.key[meta.n];
        meta.list[2 * meta.n + 1] = meta.value[meta.n];
        meta.n++;
        meta.list[2 * meta.n] = FORMAT_KEY;
        meta.list[2 * meta.n + 1] = FORMAT_VERSION;
        meta.list[2 * meta.n + 2] = NULL;
        if (mt_save_safetensors(path, n, name_list, tensors, meta.list) != MT_OK) status = -1;
    }
    mt_scope_end(scope);
    return status;
}

static int fail(char *error, size_t size, const char *path, const char *what)
{
    snprintf(error, size, "%s: %s", path, what);
    return -1;
}

/* The metadata value under `key` as an integer >= 0 (uint64 for the seed). */
static int meta_number(const mt_safetensors *f, const char *key, uint64_t *value)
{
    const char *text = mt_safetensors_metadata(f, key);
    if (!text || !*text) return -1;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || text[0] == '-') return -1;
    *value = v;
    return 0;
}

int digits_checkpoint_load(const char *path, digits_model *model, digits_trainer *trainer,
                           digits_run *run, char *error, size_t size)
{
    mt_safetensors *f = mt_safetensors_open(path);
    if (!f) return fail(error, size, path, mt_last_error());
    int status = 0;
    const char *format = mt_safetensors_metadata(f, FORMAT_KEY);
    uint64_t seed = 0, limit = 0, epoch = 0, calls[2] = {0, 0};
    char why[160];
    if (!format || strcmp(format, FORMAT_VERSION) != 0) {
        status = fail(error, size, path, "not a minitorch-digits checkpoint (no \"" FORMAT_KEY "\": \"" FORMAT_VERSION "\" metadata)");
    } else if (meta_number(f, "seed", &seed) || meta_number(f, "limit", &limit) ||
               meta_number(f, "epoch", &epoch) || meta_number(f, "dropout1.calls", &calls[0]) ||
               meta_number(f, "dropout2.calls", &calls[1])) {
        status = fail(error, size, path, "a metadata entry (seed, limit, epoch, dropout calls) is missing or not a number");
    } else if (seed != run->seed || (int64_t)limit != run->limit) {
        snprintf(why, sizeof why, "saved by a run with --seed %" PRIu64 " --limit %" PRIu64
                 ", not --seed %" PRIu64 " --limit %" PRId64 ": resume with the same options",
                 seed, limit, run->seed, run->limit);
        status = fail(error, size, path, why);
    } else if (mt_safetensors_read_many(f, DIGITS_PARAMS, digits_param_names, model->params.items) != MT_OK) {
        status = fail(error, size, path, mt_last_error());
    }
    const int buffers = mt_optim_state_buffers(trainer->optimizer);
    for (int i = 0; i < DIGITS_PARAMS && status == 0; i++) {
        const int64_t numel = mt_numel(model->params.items[i]);
        float *values[MAX_BUFFERS] = {NULL};
        char key[NAME_BYTES];
        uint64_t steps = 0;
        snprintf(key, sizeof key, "adam.%s.steps", digits_param_names[i]);
        if (meta_number(f, key, &steps)) status = fail(error, size, path, "an Adam step count is missing");
        for (int b = 0; b < buffers && status == 0; b++) {
            snprintf(key, sizeof key, "adam.%s.%s", digits_param_names[i], buffer_names[b]);
            mt_scope scope = mt_scope_begin();
            mt_tensor *t = mt_safetensors_get(f, key);
            values[b] = malloc(sizeof(float) * (size_t)numel);
            if (!t || !values[b] || mt_numel(t) != numel || mt_copy_to(t, values[b], numel) != MT_OK)
                status = fail(error, size, path, t ? "an Adam buffer has the wrong size" : mt_last_error());
            mt_scope_end(scope);
        }
        if (status == 0 && mt_optim_state_set(trainer->optimizer, i, (int64_t)steps,
                                              (const float *const *)values) != MT_OK)
            status = fail(error, size, path, mt_last_error());
        for (int b = 0; b < buffers; b++) free(values[b]);
    }
    if (status == 0) {
        model->dropout[0].calls = calls[0];
        model->dropout[1].calls = calls[1];
        run->epoch = (int64_t)epoch;
    }
    mt_safetensors_close(f);
    return status;
}
