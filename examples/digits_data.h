/* minitorch-digits: the UCI optical handwritten digits as a CSV (plain or gzip-compressed), read
 * and checked, and split into a training and a test set. */
#ifndef MINITORCH_EXAMPLES_DIGITS_DATA_H
#define MINITORCH_EXAMPLES_DIGITS_DATA_H

#include <stddef.h>
#include <stdint.h>

#define DIGITS_PIXELS 64  /* 8 x 8 */
#define DIGITS_CLASSES 10
#define DIGITS_MAX_VALUE 16 /* pixel values are counts 0..16 (4 x 4 blocks of a 32 x 32 bitmap) */

typedef struct digits_set {
    int64_t n;
    float *x;      /* n x DIGITS_PIXELS, row-major, scaled to [0, 1] */
    int64_t *y;    /* n labels in 0..9 */
} digits_set;

/* Reads `path` (gzip or plain text): one image a line, 64 integer pixel values 0..16 then the
 * label 0..9, comma-separated; blank lines are skipped. At most `limit` rows are kept (0: all).
 * Returns 0, or -1 with a message ("PATH: line N: what is wrong") in error[0..error_size). */
int digits_read(const char *path, int64_t limit, digits_set *out, char *error, size_t error_size);

/* Splits `all` into a training set (the first n - n/5 rows of a Fisher-Yates shuffle drawn from
 * `seed`) and a test set (the other n/5, at least 1). Returns 0, or -1 when out of memory. */
int digits_split(const digits_set *all, uint64_t seed, digits_set *train, digits_set *test);

void digits_free(digits_set *set);

/* A 64-bit generator (splitmix64) over *state: the example's one source of randomness for the
 * split and the shuffles, so a seed gives the same run anywhere. */
uint64_t digits_random(uint64_t *state);

/* A uniformly random permutation of 0..n-1 (Fisher-Yates) from `seed` into order[0..n). */
void digits_permutation(int64_t *order, int64_t n, uint64_t seed);

#endif
