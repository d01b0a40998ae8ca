/* Test support: independent oracles and tensor builders for the Criterion suites.
 *
 * Nothing here calls the library's kernels to compute expected values: expected values come from
 * the loops below (row-major index walking, broadcasting, math in double). Tensors are built
 * from plain arrays with mt_from_data, and read back element by element with mt_get. */
#ifndef MINITORCH_TESTING_H
#define MINITORCH_TESTING_H

#include <criterion/criterion.h>
#include <minitorch/minitorch.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- deterministic random numbers (the test's own generator) ---- */
typedef struct t_rng {
    uint64_t state;
} t_rng;
t_rng t_rng_seed(uint64_t seed);
uint64_t t_rng_next(t_rng *r);
double t_rng_uniform(t_rng *r, double lo, double hi); /* [lo, hi) */
int t_rng_int(t_rng *r, int lo, int hi);              /* [lo, hi] */

/* ---- shapes and indices ---- */
int64_t t_numel(int ndim, const int64_t *shape);
/* Advances a row-major index; returns false after the last one. */
bool t_next_index(int ndim, const int64_t *shape, int64_t *index);
/* Row-major ordinal of index in shape. */
int64_t t_ordinal(int ndim, const int64_t *shape, const int64_t *index);
/* Random shape: ndim in [min_dims, max_dims], sizes in [1, max_size]. */
int t_random_shape(t_rng *r, int min_dims, int max_dims, int64_t max_size, int64_t *shape);
/* The index into `small` (right-aligned broadcast) of an index into `big`. */
void t_broadcast_index(int big_ndim, const int64_t *big_index, int ndim, const int64_t *shape,
                       int64_t *index);
/* True (and the result in out) when the shapes broadcast; the test's own rule. */
bool t_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *n, int64_t *out);

/* ---- building tensors ---- */
/* Random values in [lo, hi), row-major, in a malloc'd array the caller frees. */
double *t_random_values(t_rng *r, int64_t n, double lo, double hi);
/* A tensor with the given logical values (row-major), stored under a random permutation of its
 * dims (as MiniTorch's tensor_data strategy does), so its strides are usually not contiguous.
 * `layout` chooses: 0 contiguous, 1 permuted storage, 2 a narrowed view inside a larger buffer
 * (non-zero offset, gaps between rows). Values are rounded to float. */
mt_tensor *t_tensor(t_rng *r, int ndim, const int64_t *shape, const double *values, int layout);
/* All elements of t (row-major) into a malloc'd array of doubles, read with mt_get. */
double *t_values(const mt_tensor *t);

/* ---- checking ---- */
/* Asserts t has the shape (ndim, shape). */
void t_expect_shape(const mt_tensor *t, int ndim, const int64_t *shape);
/* Asserts |t[i] - expected[i]| <= atol + rtol * |expected[i]| for every element (NaN must match
 * NaN, infinities must match exactly). `what` names the check in the failure message. */
void t_expect_close(const char *what, const mt_tensor *t, const double *expected, double atol,
                    double rtol);
/* Asserts every element of t equals `value` exactly (e.g. an output a failed call must not touch). */
void t_expect_filled(const char *what, const mt_tensor *t, float value);
/* Asserts the last error has `status` and its message starts with "<fn>:". */
void t_expect_error(mt_status status, const char *fn);

/* Runs the test body on the named backend ("naive"/"blas"), then restores the previous one. */
#define T_BACKENDS_EACH(var) for (int var = 0; var < 2; var++)
void t_use_backend(int which); /* 0 naive, 1 blas */

/* ---- additions for the core suites ---- */
/* A contiguous tensor of the given shape holding 0, 1, 2, ... in row-major order. */
mt_tensor *t_arange(int ndim, const int64_t *shape);
/* Asserts t has the strides (ndim entries). */
void t_expect_strides(const mt_tensor *t, int ndim, const int64_t *strides);
/* Asserts every element of t equals expected[i] (row-major) bit for bit as a float. */
void t_expect_exact(const char *what, const mt_tensor *t, const float *expected);
/* The whole content of a stream, from its start, in a malloc'd NUL-terminated string. */
char *t_read_stream(FILE *stream);

/* ---- additions for the ops suites (elementwise, reductions, determinism) ---- */
/* Values k * step for integers k uniform in [kmin, kmax], rounded to float (exact when small):
 * grids give exact ties for eq and exact sums whatever the summation order. */
double *t_grid_values(t_rng *r, int64_t n, int kmin, int kmax, double step);
/* Random values with |x| in [lo, hi) and a random sign (keeps inputs away from 0), as floats. */
double *t_random_signed_values(t_rng *r, int64_t n, double lo, double hi);
/* "[2,3,4]" into buf. */
const char *t_shape_text(char *buf, size_t cap, int ndim, const int64_t *shape);
/* Oracle of a map: f of `a` (shape (na, sa), right-aligned broadcast) at every index of
 * (ndim, shape). malloc'd, row-major. */
double *t_oracle_map(int ndim, const int64_t *shape, int na, const int64_t *sa, const double *a,
                     double (*f)(double));
/* Oracle of a zip: f(a, b) with both broadcast to (ndim, shape). malloc'd, row-major. */
double *t_oracle_zip(int ndim, const int64_t *shape, int na, const int64_t *sa, const double *a,
                     int nb, const int64_t *sb, const double *b, double (*f)(double, double));
/* Oracle of a reduction over `dim` (may be negative) with the dim kept as size 1; max treats NaN
 * as the largest value. If `bound` is not NULL it receives a malloc'd array with, per output, a
 * rigorous bound on the error of float32 evaluation in any order, for float inputs:
 *   sum:  gamma(n) * sum|x|,  gamma(n) = n u / (1 - n u), u = 2^-24 (Higham, any summation order)
 *   prod: gamma(n) * |prod|   (no underflow)
 *   max:  0 (exact)
 *   mean: sum's bound / n + 3 u |mean| (the sum times the float-rounded 1/n, rounded once)
 * (n the number of terms). */
typedef enum t_reduce_kind { T_SUM, T_PROD, T_MAX, T_MEAN } t_reduce_kind;
double *t_oracle_reduce(int ndim, const int64_t *shape, const double *a, int dim,
                        t_reduce_kind kind, double **bound);
/* Like t_expect_close with a separate absolute tolerance per element. */
void t_expect_close_each(const char *what, const mt_tensor *t, const double *expected,
                         const double *atol_each);
/* Random broadcast partners for a shape: mode 0 both (ndim, shape); 1 b shrunk (leading dims
 * dropped and/or dims set to 1); 2 a shrunk; 3 both shrunk. */
void t_random_broadcast_pair(t_rng *r, int ndim, const int64_t *shape, int *na, int64_t *sa,
                             int *nb, int64_t *sb);
/* `shape` with random dims set to 1 and (when allow_drop) some leading dims dropped. */
int t_random_shrunk_shape(t_rng *r, int ndim, const int64_t *shape, bool allow_drop,
                          int64_t *small);
/* A tensor of logical shape (ndim, shape) that is mt_expand of a tensor of shape
 * (small_ndim, small_shape) holding small_values (built by t_tensor in `layout`): it has zero
 * strides. *values receives its logical values (malloc'd, row-major). */
mt_tensor *t_expanded_tensor(t_rng *r, int ndim, const int64_t *shape, int small_ndim,
                             const int64_t *small_shape, const double *small_values, int layout,
                             double **values);
/* All elements of t (row-major) as floats, read with mt_copy_to, in a malloc'd array. */
float *t_floats(const mt_tensor *t);
/* Writes uniform values in [lo, hi) into t (in no-grad mode, so also into a leaf that requires
 * grad). */
void t_fill_uniform(t_rng *r, mt_tensor *t, double lo, double hi);
/* Asserts a[i] and b[i] have the same bits for every i (a captured plan against eager). */
void t_expect_bitwise(const char *what, const float *planned, const float *eager, int64_t n);
/* Capturing the library's trace lines (mt_set_trace) into a temporary file. */
typedef struct t_trace {
    char path[64];
} t_trace;
void t_trace_begin(t_trace *tr);
/* Stops tracing; returns the captured text (malloc'd) and removes the file. */
char *t_trace_end(t_trace *tr);
/* The largest "threads=N" among the captured lines whose op is `op` ("op=<op> "); 0 if none. */
int t_trace_max_threads(const char *text, const char *op);
/* t_trace_end, then the most threads any `op` line used (the text is freed). */
int t_trace_end_max_threads(t_trace *tr, const char *op);

/* ---- additions for the reliability suites (alloc, api contract, threads, numerics) ---- */
/* A list of contract violations collected while a test goes on, so one run reports every
 * violating case instead of stopping at the first. Main thread only. */
void t_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int t_violation_count(void);
/* Fails the test (listing the first violations) when any was recorded under `what`. */
void t_violations_check(const char *what);
/* Live tensor objects (mt_memory_get_stats). */
int64_t t_live_tensors(void);
/* True when mt_last_error() is "<fn>: <description>"; with fn NULL, any "mt_<name>: ...". */
bool t_error_names(const char *fn);

#endif
