#include "runtime/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_CAPACITY 512

static _Thread_local mt_status last_status = MT_OK;
static _Thread_local char last_message[MESSAGE_CAPACITY];

mt_status mti_fail(mt_status status, const char *fn, const char *fmt, ...)
{
    int used = snprintf(last_message, sizeof last_message, "%s: ", fn);
    if (used < 0 || (size_t)used >= sizeof last_message) used = 0;
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_message + used, sizeof last_message - (size_t)used, fmt, args);
    va_end(args);
    last_status = status;
    return status;
}

mt_status mti_fail_null(const char *fn, const char *argument)
{
    if (last_status == MT_OK) mti_fail(MT_ERR_NULL, fn, "%s is NULL", argument);
    return last_status; /* the first failure of a chain, as recorded: returned and recorded agree */
}

void mti_error_context(const char *fn)
{
    size_t n = strlen(fn);
    if (last_status == MT_OK || (strncmp(last_message, fn, n) == 0 && last_message[n] == ':')) return;
    char inner[MESSAGE_CAPACITY];
    memcpy(inner, last_message, sizeof inner);
    int used = snprintf(last_message, sizeof last_message, "%s: ", fn);
    if (used < 0 || (size_t)used >= sizeof last_message) return;
    size_t length = strnlen(inner, sizeof last_message - (size_t)used - 1);
    memcpy(last_message + used, inner, length); /* the inner message, truncated to fit */
    last_message[(size_t)used + length] = '\0';
}

const char *mti_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

const char *mt_strerror(mt_status status)
{
    switch (status) {
    case MT_OK: return "success";
    case MT_ERR_NULL: return "a required argument is NULL";
    case MT_ERR_INVALID_ARG: return "invalid argument";
    case MT_ERR_SHAPE: return "shapes do not fit the operation";
    case MT_ERR_BROADCAST: return "shapes cannot be broadcast";
    case MT_ERR_INDEX: return "index or dimension out of range";
    case MT_ERR_NOT_CONTIGUOUS: return "tensor is not contiguous";
    case MT_ERR_OVERFLOW: return "size overflows";
    case MT_ERR_NO_MEMORY: return "out of memory";
    case MT_ERR_AUTODIFF: return "autodiff misuse";
    case MT_ERR_SCOPE: return "scope misuse";
    case MT_ERR_BACKEND: return "backend error";
    case MT_ERR_IO: return "input/output error";
    case MT_ERR_FORMAT: return "malformed or unsupported file content";
    case MT_ERR_DIST: return "distributed operation failed";
    }
    return "unknown status";
}

mt_status mt_last_status(void) { return last_status; }

const char *mt_last_error(void) { return last_status == MT_OK ? "" : last_message; }

void mt_clear_error(void)
{
    last_status = MT_OK;
    last_message[0] = '\0';
}

mt_status mt_set_error(mt_status status, const char *message)
{
    static const char fn[] = "mt_set_error";
    if (!message) return mti_fail(MT_ERR_NULL, fn, "message is NULL");
    if (status <= MT_OK || status > MT_ERR_DIST)
        return mti_fail(MT_ERR_INVALID_ARG, fn, "%d is not a failure status", (int)status);
    snprintf(last_message, sizeof last_message, "%s", message);
    last_status = status;
    return status;
}
