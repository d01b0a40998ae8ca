/* MiniTorch Task 3.5: the network in -> H -> H -> 1 (ReLU, ReLU, sigmoid) and its training loop. */
#include <stdint.h>
#include <stdlib.h>

#include "minitorch/autodiff.h"
#include "nn/composite.h"
#include "minitorch/scope.h"
#include "minitorch/nn.h"
#include "minitorch/ops.h"
#include "minitorch/plan.h"
#include "runtime/alloc.h"
#include "runtime/error.h"
#include "runtime/random.h"
#include "tensor/tensor_internal.h"

mt_status mt_mlp_init(mt_mlp *model, int64_t in, int64_t hidden, uint64_t seed)
{
    static const char fn[] = "mt_mlp_init";
    if (!model) return mti_fail_null(fn, "model");
    *model = (mt_mlp){0};
    if (in < 1 || hidden < 1) /* layer sizes: a shape error, as from mt_linear_layer_init */
        return mti_fail(MT_ERR_SHAPE, fn, "in and hidden must be >= 1, got %lld and %lld",
                        (long long)in, (long long)hidden);
    uint64_t key = mti_random_key(seed);
    mt_status status = mt_linear_layer_init(&model->layer1, in, hidden, mti_random_bits(key, 1), &model->params);
    if (status == MT_OK)
        status = mt_linear_layer_init(&model->layer2, hidden, hidden, mti_random_bits(key, 2), &model->params);
    if (status == MT_OK)
        status = mt_linear_layer_init(&model->layer3, hidden, 1, mti_random_bits(key, 3), &model->params);
    if (status != MT_OK) {
        mti_error_context(fn);
        mt_mlp_free(model);
    }
    return status;
}

static void compiled_free(mt_mlp_compiled *c);

void mt_mlp_free(mt_mlp *model)
{
    if (!model) return;
    compiled_free(model->compiled);
    model->compiled = NULL;
    mt_linear_layer_free(&model->layer1);
    mt_linear_layer_free(&model->layer2);
    mt_linear_layer_free(&model->layer3);
    mt_params_free(&model->params);
}

/* x must be (N, in) for the model's input width. */
static mt_status check_input(const char *fn, const mt_mlp *model, const mt_tensor *x)
{
    if (!model) return mti_fail_null(fn, "model");
    if (!model->layer1.weight)
        return mti_fail(MT_ERR_NULL, fn, "the model's weights are NULL (not initialised)");
    if (!x) return mti_fail_null(fn, "x");
    int64_t in = mt_shape(model->layer1.weight)[0];
    if (mt_ndim(x) != 2 || mt_shape(x)[1] != in) {
        char text[MTI_SHAPE_TEXT];
        return mti_fail(MT_ERR_SHAPE, fn, "x must be (N, %lld), got %s", (long long)in,
                        mti_format_shape(text, sizeof text, mt_ndim(x), mt_shape(x)));
    }
    return MT_OK;
}

mt_tensor *mt_mlp_forward(const mt_mlp *model, mt_tensor *x)
{
    static const char fn[] = "mt_mlp_forward";
    mt_scope s;
    if (check_input(fn, model, x) != MT_OK || !mti_composite_begin(fn, &s)) return NULL;
    mt_tensor *h = mt_relu(mt_linear_layer_forward(&model->layer1, x));
    h = mt_relu(mt_linear_layer_forward(&model->layer2, h));
    return mti_composite_end(fn, s, mt_sigmoid(mt_linear_layer_forward(&model->layer3, h)));
}

/* The dataset's arrays exist and match the model's input width (2 features). */
static mt_status check_data(const char *fn, const mt_mlp *model, const mt_dataset *data)
{
    if (!model) return mti_fail_null(fn, "model");
    if (!data) return mti_fail_null(fn, "data");
    if (!data->x || !data->y)
        return mti_fail(MT_ERR_NULL, fn, "the dataset's %s array is NULL", data->x ? "y" : "x");
    if (data->n < 1)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "the dataset has %lld points", (long long)data->n);
    if (!model->layer1.weight || mt_shape(model->layer1.weight)[0] != 2)
        return mti_fail(MT_ERR_SHAPE, fn, "the model must take 2 inputs (the datasets' features)");
    return MT_OK;
}

/* Rows `order[first .. first + count)` of the dataset, gathered into x (count, 2) / y (count, 1). */
static void gather(const mt_dataset *data, const int64_t *order, int64_t first, int64_t count,
                   float *x, float *y)
{
    for (int64_t i = 0; i < count; i++) {
        int64_t row = order ? order[first + i] : first + i;
        x[2 * i] = data->x[2 * row];
        x[2 * i + 1] = data->x[2 * row + 1];
        y[i] = data->y[row];
    }
}

/* ---- the compiled step: captured once per batch size, replayed with new batch contents ---- */

struct mt_mlp_compiled {
    mt_plan *plan;
    mt_tensor *x, *y, *loss; /* bound: batch inputs (written before each run) and the loss */
    int64_t batch;
    float rate;
};

typedef struct step_context {
    mt_mlp *model;
    mt_mlp_compiled *c;
} step_context;

/* One eager training step on the bound batch tensors; what mt_plan_capture records. */
static mt_status training_step(void *context)
{
    step_context *sc = context;
    mt_scope s = mt_scope_begin();
    mt_tensor *loss = mt_loss_nll_sigmoid(mt_mlp_forward(sc->model, sc->c->x), sc->c->y);
    mt_status status = loss ? mt_backward(loss) : mt_last_status();
    if (status == MT_OK) status = mt_sgd_step(&sc->model->params, sc->c->rate);
    if (status == MT_OK) sc->c->loss = mt_retain(loss); /* kept: the plan rewrites it every run */
    mt_scope_end(s);
    return status;
}

static void compiled_free(mt_mlp_compiled *c)
{
    if (!c) return;
    mt_plan_free(c->plan);
    mt_release(c->x);
    mt_release(c->y);
    mt_release(c->loss);
    mti_free(c);
}

/* Runs one step on the batch (x, y): by replaying the model's plan, capturing it first (the
 * capture is itself the step) when there is none for this batch size and rate. */
static mt_status compiled_step(const char *fn, mt_mlp *model, float rate, const float *x,
                               const float *y, int64_t batch, double *loss)
{
    mt_mlp_compiled *c = model->compiled;
    if (c && (c->batch != batch || c->rate != rate)) {
        compiled_free(c);
        model->compiled = c = NULL;
    }
    if (!c) {
        c = mti_calloc(1, sizeof *c);
        if (!c) return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the compiled step");
        c->batch = batch;
        c->rate = rate;
        c->x = mt_from_data(MT_DIMS(batch, 2), x);
        c->y = mt_from_data(MT_DIMS(batch, 1), y);
        step_context sc = {model, c};
        mt_status status = c->x && c->y ? mt_plan_capture(training_step, &sc, &c->plan)
                                        : mt_last_status();
        if (status != MT_OK) {
            compiled_free(c);
            mti_error_context(fn);
            return status;
        }
        model->compiled = c;
        *loss = mt_item(c->loss);
        return MT_OK;
    }
    mt_status status = mt_copy_from(c->x, x, batch * 2);
    if (status == MT_OK) status = mt_copy_from(c->y, y, batch);
    if (status == MT_OK) status = mt_plan_run(c->plan);
    if (status != MT_OK) {
        mti_error_context(fn);
        return status;
    }
    *loss = mt_item(c->loss);
    return MT_OK;
}

mt_status mt_mlp_train_epoch(mt_mlp *model, const mt_dataset *data,
                             const mt_train_options *options, int64_t epoch,
                             mt_epoch_result *result)
{
    static const char fn[] = "mt_mlp_train_epoch";
    mt_status checked = check_data(fn, model, data);
    if (checked != MT_OK) return checked;
    if (!options) return mti_fail_null(fn, "options");
    if (!result) return mti_fail_null(fn, "result");
    if (!(options->rate > 0.0f))
        return mti_fail(MT_ERR_INVALID_ARG, fn, "rate must be > 0, got %g", (double)options->rate);
    const int64_t n = data->n;
    const int64_t batch = options->batch <= 0 || options->batch > n ? n : options->batch;
    if ((uint64_t)n > SIZE_MAX / sizeof(int64_t) || (uint64_t)batch > SIZE_MAX / (2 * sizeof(float)))
        return mti_fail(MT_ERR_OVERFLOW, fn, "the dataset's %lld points are more than memory can "
                        "index", (long long)n);
    int64_t *order = mti_malloc(sizeof *order * (size_t)n);
    float *x = mti_malloc(sizeof *x * (size_t)batch * 2), *y = mti_malloc(sizeof *y * (size_t)batch);
    if (!order || !x || !y) {
        mti_free(order);
        mti_free(x);
        mti_free(y);
        return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the batch buffers");
    }
    /* Fisher-Yates shuffle from (seed, epoch) */
    uint64_t key = mti_random_key(options->seed ^ mti_mix64((uint64_t)epoch + 1));
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(mti_random_bits(key, (uint64_t)i) % (uint64_t)(i + 1));
        int64_t swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }

    mt_status status = MT_OK;
    double loss_sum = 0.0;
    int64_t steps = 0;
    for (int64_t first = 0; first < n && status == MT_OK; first += batch) {
        int64_t count = n - first < batch ? n - first : batch;
        gather(data, order, first, count, x, y);
        if (options->compile && count == batch) { /* full batches replay the captured step */
            double loss = 0.0;
            status = compiled_step(fn, model, options->rate, x, y, batch, &loss);
            if (status == MT_OK) {
                loss_sum += loss;
                steps++;
            }
            continue;
        }
        mt_scope s;
        if (!mti_composite_begin(fn, &s)) {
            status = MT_ERR_NO_MEMORY;
            break;
        }
        mt_tensor *xb = mt_from_data(MT_DIMS(count, 2), x);
        mt_tensor *yb = mt_from_data(MT_DIMS(count, 1), y);
        mt_tensor *loss = mt_loss_nll_sigmoid(mt_mlp_forward(model, xb), yb);
        status = loss ? mt_backward(loss) : mt_last_status();
        if (status == MT_OK) {
            loss_sum += mt_item(loss);
            steps++;
            status = mt_sgd_step(&model->params, options->rate);
        }
        mt_scope_end(s);
    }
    mti_free(order);
    mti_free(x);
    mti_free(y);
    if (status == MT_OK) {
        result->loss = steps ? loss_sum / (double)steps : 0.0;
        result->steps = steps;
    } else {
        mti_error_context(fn);
    }
    return status;
}

mt_status mt_mlp_evaluate(const mt_mlp *model, const mt_dataset *data, int64_t *correct)
{
    static const char fn[] = "mt_mlp_evaluate";
    mt_status status = check_data(fn, model, data);
    if (status != MT_OK) return status;
    if (!correct) return mti_fail_null(fn, "correct");
    mt_scope s;
    if (!mti_composite_begin(fn, &s)) return MT_ERR_NO_MEMORY;
    mt_no_grad_begin();
    mt_tensor *prob = mt_mlp_forward(model, mt_from_data(MT_DIMS(data->n, 2), data->x));
    float *p = prob ? mti_malloc(sizeof *p * (size_t)data->n) : NULL;
    if (!prob) {
        status = mt_last_status();
    } else if (!p) {
        status = mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate %lld floats", (long long)data->n);
    } else {
        status = mt_copy_to(prob, p, data->n);
        int64_t right = 0;
        for (int64_t i = 0; status == MT_OK && i < data->n; i++) right += (p[i] > 0.5f) == (data->y[i] > 0.5f);
        if (status == MT_OK) *correct = right;
    }
    mti_free(p);
    mt_no_grad_end();
    mt_scope_end(s);
    if (status != MT_OK) mti_error_context(fn);
    return status;
}
