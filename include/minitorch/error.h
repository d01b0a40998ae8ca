/* minitorch-c: error reporting.
 *
 * No function of the library aborts, exits or prints because of bad input. A function that can
 * fail returns NULL (if it returns a tensor) or an mt_status, and records a status and a message
 * in thread-local storage. The message names the function and the values involved, e.g.
 *   "mt_matmul: inner dims differ: a is [2,3], b is [4,5]".
 *
 * An operation given a NULL tensor returns NULL and keeps the error already recorded, so in a
 * chain such as mt_sigmoid(mt_add(mt_matmul(x, w), b)) the first failure is the one reported.
 * Successful calls leave the recorded error alone (like errno); call mt_clear_error() after
 * handling one. Nothing the caller passed in is modified when a call fails.
 */
#ifndef MINITORCH_ERROR_H
#define MINITORCH_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_status {
    MT_OK = 0,
    MT_ERR_NULL,            /* a required pointer argument was NULL */
    MT_ERR_INVALID_ARG,     /* an argument is outside its allowed values */
    MT_ERR_SHAPE,           /* shapes do not fit the operation */
    MT_ERR_BROADCAST,       /* shapes cannot be broadcast together */
    MT_ERR_INDEX,           /* an index or dimension is out of range */
    MT_ERR_NOT_CONTIGUOUS,  /* the operation needs a contiguous tensor */
    MT_ERR_OVERFLOW,        /* an element count above 2^60, or a size that does not fit */
    MT_ERR_NO_MEMORY,       /* an allocation failed */
    MT_ERR_AUTODIFF,        /* backward or gradient misuse */
    MT_ERR_SCOPE,           /* scope misuse: ending scopes out of order, releasing a scope's reference */
    MT_ERR_BACKEND,         /* unknown backend, or a backend could not run */
    MT_ERR_IO,              /* reading or writing a file failed */
    MT_ERR_FORMAT,          /* a file's content is malformed or unsupported */
    MT_ERR_DIST             /* a distributed (MPI) operation failed or the ranks disagree */
} mt_status;

/** A short static description of a status, e.g. "shapes cannot be broadcast". */
MT_API const char *mt_strerror(mt_status status);

/** The status of the last failure on this thread (MT_OK if none since mt_clear_error()). A
 *  function that fails returns this same status; one given a NULL tensor from an earlier failed
 *  call returns (and keeps) that earlier failure's status, so a chain reports its first error. */
MT_API mt_status mt_last_status(void);

/** The message of the last failure on this thread ("" if none). Valid until the next failure. */
MT_API const char *mt_last_error(void);

/** Forget the last failure on this thread. */
MT_API void mt_clear_error(void);

/** Records a failure on this thread, as the library's own functions do, for libraries built on
 *  minitorch (libminitorch_mpi reports MPI errors this way): mt_last_status() becomes `status`
 *  and mt_last_error() a copy of `message` (truncated to 511 bytes; by convention
 *  "<function>: <what happened>"). Returns `status`. MT_ERR_NULL for a NULL message and
 *  MT_ERR_INVALID_ARG for MT_OK or a value that is not a status (recorded the same way). */
MT_API mt_status mt_set_error(mt_status status, const char *message);

#ifdef __cplusplus
}
#endif

#endif
