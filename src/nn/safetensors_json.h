/* A small, strict JSON reader: only what a safetensors header needs (RFC 8259 syntax, UTF-8
 * input). Every function reads from a cursor over a byte range it never leaves; on malformed
 * input it records MT_ERR_FORMAT as `fn` with the byte position ("header byte 17: ...") and
 * returns that status. Nothing is read past `end`, and nothing is allocated except the strings
 * mti_json_string returns. */
#ifndef MTI_NN_SAFETENSORS_JSON_H
#define MTI_NN_SAFETENSORS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitorch/error.h"

/* Values nested deeper than this (inside fields that are skipped) are refused. */
#define MTI_JSON_MAX_DEPTH 64

typedef struct mti_json {
    const unsigned char *begin; /* start of the text (for positions in messages) */
    const unsigned char *at;    /* next byte to read */
    const unsigned char *end;   /* one past the last byte */
    const char *fn;             /* the public function errors are reported as */
} mti_json;

/* Records MT_ERR_FORMAT as "<fn>: header byte <position>: <text>" and returns it. */
mt_status mti_json_fail(const mti_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Skips JSON whitespace (space, tab, LF, CR). */
void mti_json_skip_space(mti_json *j);

/* Skips whitespace; true (and consumes it) when the next byte is `c`. */
bool mti_json_accept(mti_json *j, char c);

/* Skips whitespace, then requires `c` (describing the place as `where` in the error). */
mt_status mti_json_expect(mti_json *j, char c, const char *where);

/* Skips whitespace, then reads a string into a new NUL-terminated UTF-8 buffer (mti_malloc; the
 * caller frees it with mti_free). Escapes are decoded; invalid UTF-8, unescaped control
 * characters, bad escapes, lone surrogates and \u0000 (which a C string cannot hold) are errors. */
mt_status mti_json_string(mti_json *j, char **out);

/* Skips whitespace, then reads a number that must be a non-negative integer below 2^64 (no sign,
 * fraction or exponent); `what` names it in errors. */
mt_status mti_json_uint(mti_json *j, const char *what, uint64_t *out);

/* Skips whitespace; true (and consumes it) when the next token is the literal `null`. */
bool mti_json_accept_null(mti_json *j);

/* Skips whitespace, then skips one complete value of any kind, checking its syntax; values nested
 * deeper than MTI_JSON_MAX_DEPTH are refused. */
mt_status mti_json_skip_value(mti_json *j);

/* True when the NUL-terminated `text` is valid UTF-8 (what the writer requires of names). */
bool mti_json_is_utf8(const char *text);

#endif
