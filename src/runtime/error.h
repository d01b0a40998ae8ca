/* Internal error recording: thread-local status + message (see include/minitorch/error.h). */
#ifndef MTI_RUNTIME_ERROR_H
#define MTI_RUNTIME_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "minitorch/error.h"

/* Records `status` with the message "<fn>: <printf-formatted text>" and returns `status`. */
mt_status mti_fail(mt_status status, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For a NULL argument: records MT_ERR_NULL unless an error is already recorded (so a failing
 * chain of calls reports its first failure). Returns the recorded status, so a function returning
 * it agrees with mt_last_status(). */
mt_status mti_fail_null(const char *fn, const char *argument);

/* When the recorded error was reported by a function other than `fn` (an inner call of a
 * composite operation), prefixes its message with "<fn>: " so the message names the function the
 * caller called. */
void mti_error_context(const char *fn);

/* Writes "[2,3,4]" into buf (always NUL-terminated, truncated to fit) and returns buf. */
const char *mti_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape);

/* A buffer big enough for any shape mti_format_shape writes. */
#define MTI_SHAPE_TEXT 200

#endif
