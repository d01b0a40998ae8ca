/* Error reporting of libminitorch_mpi: messages go to the core's thread-local error state. */
#include <stdarg.h>
#include <stdio.h>

#include "dist/dist.h"

mt_status mti_dist_fail(mt_status status, const char *fn, const char *fmt, ...)
{
    char message[512];
    int used = snprintf(message, sizeof message, "%s: ", fn);
    if (used < 0 || (size_t)used >= sizeof message) used = 0;
    va_list args;
    va_start(args, fmt);
    vsnprintf(message + used, sizeof message - (size_t)used, fmt, args);
    va_end(args);
    return mt_set_error(status, message);
}

mt_status mti_dist_check(int code, const char *fn, const char *call)
{
    if (code == MPI_SUCCESS) return MT_OK;
    char text[MPI_MAX_ERROR_STRING + 1];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
    text[length] = '\0';
    return mti_dist_fail(MT_ERR_DIST, fn, "%s failed: %s (MPI error %d)", call,
                         length ? text : "unknown error", code);
}

mt_status mti_dist_require_active(const char *fn)
{
    if (mti_dist.active) return MT_OK;
    return mti_dist_fail(MT_ERR_DIST, fn, "the library is not initialised (call mt_dist_init)");
}

void mti_dist_save_error(mti_dist_saved_error *saved)
{
    saved->status = mt_last_status();
    snprintf(saved->message, sizeof saved->message, "%s", mt_last_error());
}

void mti_dist_restore_error(const mti_dist_saved_error *saved)
{
    if (saved->status == MT_OK)
        mt_clear_error();
    else
        mt_set_error(saved->status, saved->message);
}
