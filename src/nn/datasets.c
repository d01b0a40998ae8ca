/* MiniTorch's 2-D classification datasets (minitorch/datasets.py), from a seed. */
#include <math.h>
#include <string.h>

#include "minitorch/nn.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/random.h"

static const char *const names[] = {"simple", "diag", "split", "xor", "circle", "spiral"};
#define KIND_COUNT (int)(sizeof names / sizeof names[0])

const char *mt_dataset_kind_name(mt_dataset_kind kind)
{
    return (unsigned)kind < (unsigned)KIND_COUNT ? names[kind] : NULL;
}

mt_status mt_dataset_kind_from_name(const char *name, mt_dataset_kind *kind)
{
    if (!name) return mti_fail_null("mt_dataset_kind_from_name", "name");
    if (!kind) return mti_fail_null("mt_dataset_kind_from_name", "kind");
    for (int i = 0; i < KIND_COUNT; i++)
        if (strcmp(name, names[i]) == 0) {
            *kind = (mt_dataset_kind)i;
            return MT_OK;
        }
    return mti_fail(MT_ERR_INVALID_ARG, "mt_dataset_kind_from_name",
                    "\"%.40s\" is not a dataset (simple, diag, split, xor, circle, spiral)", name);
}

static float label(mt_dataset_kind kind, float x1, float x2)
{
    switch (kind) {
    case MT_DATASET_SIMPLE: return x1 < 0.5f;
    case MT_DATASET_DIAG: return x1 + x2 < 0.5f;
    case MT_DATASET_SPLIT: return x1 < 0.2f || x1 > 0.8f;
    case MT_DATASET_XOR: return (x1 < 0.5f && x2 > 0.5f) || (x1 > 0.5f && x2 < 0.5f);
    case MT_DATASET_CIRCLE: return (x1 - 0.5f) * (x1 - 0.5f) + (x2 - 0.5f) * (x2 - 0.5f) > 0.1f;
    case MT_DATASET_SPIRAL: break;
    }
    return 0.0f;
}

/* Spiral arm point for t: (t cos t / 20, t sin t / 20). */
static double arm_x(double t) { return t * cos(t) / 20.0; }
static double arm_y(double t) { return t * sin(t) / 20.0; }

mt_status mt_dataset_make(mt_dataset *data, mt_dataset_kind kind, int64_t n, uint64_t seed)
{
    static const char fn[] = "mt_dataset_make";
    if (!data) return mti_fail_null(fn, "data");
    if ((unsigned)kind >= (unsigned)KIND_COUNT)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not an mt_dataset_kind", (int)kind);
    if (n < 1 || n > ((int64_t)1 << 40) || (kind == MT_DATASET_SPIRAL && n < 2))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "n must be 1..2^40 (spiral: >= 2), got %lld",
                        (long long)n);
    if (kind == MT_DATASET_SPIRAL) n = 2 * (n / 2);
    float *x = mti_malloc(sizeof(float) * (size_t)n * 2), *y = mti_malloc(sizeof(float) * (size_t)n);
    if (!x || !y) {
        mti_free(x);
        mti_free(y);
        return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %lld points", (long long)n);
    }
    if (kind == MT_DATASET_SPIRAL) {
        int64_t half = n / 2;
        for (int64_t i = 0; i < half; i++) {
            double t = 10.0 * (double)(i + 5) / (double)half;
            x[2 * i] = (float)(arm_x(t) + 0.5);
            x[2 * i + 1] = (float)(arm_y(t) + 0.5);
            y[i] = 0.0f;
            x[2 * (half + i)] = (float)(arm_y(-t) + 0.5);
            x[2 * (half + i) + 1] = (float)(arm_x(-t) + 0.5);
            y[half + i] = 1.0f;
        }
    } else {
        uint64_t key = mti_random_key(seed);
        for (int64_t i = 0; i < n; i++) {
            x[2 * i] = mti_random_unit(key, (uint64_t)(2 * i));
            x[2 * i + 1] = mti_random_unit(key, (uint64_t)(2 * i + 1));
            y[i] = label(kind, x[2 * i], x[2 * i + 1]);
        }
    }
    data->kind = kind;
    data->n = n;
    data->x = x;
    data->y = y;
    return MT_OK;
}

void mt_dataset_free(mt_dataset *data)
{
    if (!data) return;
    mti_free(data->x);
    mti_free(data->y);
    data->x = data->y = NULL;
    data->n = 0;
}
