/* minitorch-digits: checkpoints in one safetensors file — the parameters (fc1.weight, ...), Adam's
 * moments (adam.fc1.weight.m, adam.fc1.weight.v, ...) and, as metadata, the epochs done, the
 * seed and row limit of the run, each parameter's Adam step count and the dropout layers' mask
 * counters: everything a resumed run needs to continue exactly as the uninterrupted one. */
#ifndef MINITORCH_EXAMPLES_DIGITS_CHECKPOINT_H
#define MINITORCH_EXAMPLES_DIGITS_CHECKPOINT_H

#include "digits_model.h"

typedef struct digits_run {
    uint64_t seed;
    int64_t limit;
    int64_t epoch; /* epochs done */
} digits_run;

/* Writes the checkpoint (atomically: a failed save leaves `path` as it was). 0, or -1 with the
 * library's error message set. */
int digits_checkpoint_save(const char *path, const digits_model *model, const digits_trainer *trainer,
                           const digits_run *run);

/* Restores the model, the optimiser's state and the dropout counters from `path`, which must
 * come from a run with the same seed and limit as *run; sets run->epoch. 0, or -1 with a message
 * in error[0..size). */
int digits_checkpoint_load(const char *path, digits_model *model, digits_trainer *trainer,
                           digits_run *run, char *error, size_t size);

#endif
