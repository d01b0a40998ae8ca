/* The strict JSON reader of the safetensors header (see safetensors_json.h). */
#include "nn/safetensors_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/error.h"

mt_status mti_json_fail(const mti_json *j, const char *fmt, ...)
{
    char text[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return mti_fail(MT_ERR_FORMAT, j->fn, "header byte %zu: %s", (size_t)(j->at - j->begin), text);
}

void mti_json_skip_space(mti_json *j)
{
    while (j->at < j->end && (*j->at == ' ' || *j->at == '\t' || *j->at == '\n' || *j->at == '\r'))
        j->at++;
}

bool mti_json_accept(mti_json *j, char c)
{
    mti_json_skip_space(j);
    if (j->at < j->end && *j->at == (unsigned char)c) {
        j->at++;
        return true;
    }
    return false;
}

/* A short printable description of the next byte for messages. */
static const char *describe_next(const mti_json *j, char *buf, size_t cap)
{
    if (j->at >= j->end) return "the end of the header";
    unsigned char c = *j->at;
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

mt_status mti_json_expect(mti_json *j, char c, const char *where)
{
    if (mti_json_accept(j, c)) return MT_OK;
    char next[16];
    return mti_json_fail(j, "expected '%c' %s, found %s", c, where, describe_next(j, next, sizeof next));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one: no overlong forms, no
 * surrogates, nothing above U+10FFFF (RFC 3629). */
static int utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    int length;
    unsigned char low = 0x80, high = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        if (c == 0xE0) low = 0xA0;  /* overlong */
        if (c == 0xED) high = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        if (c == 0xF0) low = 0x90;  /* overlong */
        if (c == 0xF4) high = 0x8F; /* above U+10FFFF */
    } else
        return 0;
    if (end - p < length) return 0;
    if (p[1] < low || p[1] > high) return 0;
    for (int i = 2; i < length; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return length;
}

bool mti_json_is_utf8(const char *text)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + strlen(text);
    while (p < end) {
        int n = utf8_length(p, end);
        if (n == 0) return false;
        p += n;
    }
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" (j->at is at the 'u'). */
static mt_status read_hex4(mti_json *j, unsigned *unit)
{
    if (j->end - j->at < 5) return mti_json_fail(j, "truncated \\u escape");
    unsigned value = 0;
    for (int i = 1; i <= 4; i++) {
        int digit = hex_value(j->at[i]);
        if (digit < 0) return mti_json_fail(j, "\\u escape needs 4 hex digits");
        value = value * 16 + (unsigned)digit;
    }
    j->at += 5;
    *unit = value;
    return MT_OK;
}

static size_t put_utf8(char *out, unsigned code)
{
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18));
    out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

/* Decodes the escape at j->at (just after the backslash) into out; returns bytes written, or 0
 * with the error recorded. */
static size_t decode_escape(mti_json *j, char *out)
{
    unsigned char c = *j->at;
    const char *simple = strchr("\"\\/bfnrt", c);
    if (c != '\0' && simple) {
        static const char decoded[] = "\"\\/\b\f\n\r\t";
        j->at++;
        out[0] = decoded[simple - "\"\\/bfnrt"];
        return 1;
    }
    if (c != 'u') {
        mti_json_fail(j, "bad escape '\\%c'", c >= 0x20 && c < 0x7f ? c : '?');
        return 0;
    }
    unsigned unit = 0;
    if (read_hex4(j, &unit) != MT_OK) return 0;
    if (unit == 0) {
        mti_json_fail(j, "\\u0000 (a NUL character) is not supported in names and metadata");
        return 0;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
        mti_json_fail(j, "\\u%04X is a lone low surrogate", unit);
        return 0;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) { /* a high surrogate: a low one must follow */
        unsigned low = 0;
        if (j->end - j->at < 2 || j->at[0] != '\\' || j->at[1] != 'u') {
            mti_json_fail(j, "\\u%04X (a high surrogate) is not followed by a low one", unit);
            return 0;
        }
        j->at++;
        if (read_hex4(j, &low) != MT_OK) return 0;
        if (low < 0xDC00 || low > 0xDFFF) {
            mti_json_fail(j, "\\u%04X (a high surrogate) is followed by \\u%04X", unit, low);
            return 0;
        }
        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    return put_utf8(out, unit);
}

mt_status mti_json_string(mti_json *j, char **out)
{
    mt_status status = mti_json_expect(j, '"', "(a string)");
    if (status != MT_OK) return status;
    /* first pass: find the closing quote; the decoded text is never longer than the raw one */
    const unsigned char *close = j->at;
    while (close < j->end && *close != '"') close += (*close == '\\' && j->end - close >= 2) ? 2 : 1;
    if (close >= j->end) return mti_json_fail(j, "unterminated string");
    char *text = mti_malloc((size_t)(close - j->at) + 1);
    if (!text) return mti_fail(MT_ERR_NO_MEMORY, j->fn, "cannot allocate a header string");
    size_t used = 0;
    bool failed = false;
    while (!failed && j->at < close) {
        unsigned char c = *j->at;
        if (c == '\\') {
            j->at++;
            size_t n = decode_escape(j, text + used);
            failed = n == 0;
            used += n;
        } else if (c < 0x20) {
            failed = mti_json_fail(j, "control character 0x%02x in a string (must be escaped)", c);
        } else {
            int n = utf8_length(j->at, close);
            failed = n == 0 && mti_json_fail(j, "invalid UTF-8 in a string");
            if (!failed) {
                memcpy(text + used, j->at, (size_t)n);
                used += (size_t)n;
                j->at += n;
            }
        }
    }
    if (failed) {
        mti_free(text);
        return MT_ERR_FORMAT;
    }
    j->at++; /* the closing quote */
    text[used] = '\0';
    *out = text;
    return MT_OK;
}

static bool is_digit(const mti_json *j) { return j->at < j->end && *j->at >= '0' && *j->at <= '9'; }

/* Checks the syntax of a number at j->at and moves past it; *integer tells whether it had a
 * fraction or exponent (false) or not. */
static mt_status scan_number(mti_json *j, bool *negative, bool *integer)
{
    *negative = j->at < j->end && *j->at == '-';
    if (*negative) j->at++;
    if (!is_digit(j)) return mti_json_fail(j, "a number needs digits");
    if (*j->at == '0') {
        j->at++;
        if (is_digit(j)) return mti_json_fail(j, "numbers must not have leading zeros");
    } else
        while (is_digit(j)) j->at++;
    *integer = true;
    if (j->at < j->end && *j->at == '.') {
        j->at++;
        if (!is_digit(j)) return mti_json_fail(j, "a fraction needs digits after '.'");
        while (is_digit(j)) j->at++;
        *integer = false;
    }
    if (j->at < j->end && (*j->at == 'e' || *j->at == 'E')) {
        j->at++;
        if (j->at < j->end && (*j->at == '+' || *j->at == '-')) j->at++;
        if (!is_digit(j)) return mti_json_fail(j, "an exponent needs digits");
        while (is_digit(j)) j->at++;
        *integer = false;
    }
    return MT_OK;
}

mt_status mti_json_uint(mti_json *j, const char *what, uint64_t *out)
{
    mti_json_skip_space(j);
    const unsigned char *start = j->at;
    bool negative, integer;
    if (j->at >= j->end || (*j->at != '-' && !is_digit(j))) {
        char next[16];
        return mti_json_fail(j, "%s must be a non-negative integer, found %s", what,
                             describe_next(j, next, sizeof next));
    }
    mt_status status = scan_number(j, &negative, &integer);
    if (status != MT_OK) return status;
    int length = (int)(j->at - start);
    if (negative || !integer) {
        j->at = start;
        return mti_json_fail(j, "%s must be a non-negative integer, found %.*s", what,
                             length > 40 ? 40 : length, (const char *)start);
    }
    uint64_t value = 0;
    for (const unsigned char *p = start; p < j->at; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            j->at = start;
            return mti_json_fail(j, "%s %.*s is too large", what, length > 40 ? 40 : length,
                                 (const char *)start);
        }
        value = value * 10 + digit;
    }
    *out = value;
    return MT_OK;
}

/* Accepts the literal `word` (true, false, null) at j->at. */
static bool accept_literal(mti_json *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->at) < n || memcmp(j->at, word, n) != 0) return false;
    j->at += n;
    return true;
}

bool mti_json_accept_null(mti_json *j)
{
    mti_json_skip_space(j);
    return accept_literal(j, "null");
}

static mt_status skip_at_depth(mti_json *j, int depth)
{
    mti_json_skip_space(j);
    if (j->at >= j->end) return mti_json_fail(j, "expected a value, found the end of the header");
    unsigned char c = *j->at;
    if (c == '"') {
        char *text;
        mt_status status = mti_json_string(j, &text);
        if (status == MT_OK) mti_free(text);
        return status;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        bool negative, integer;
        return scan_number(j, &negative, &integer);
    }
    if (accept_literal(j, "true") || accept_literal(j, "false") || accept_literal(j, "null"))
        return MT_OK;
    if (c != '[' && c != '{') {
        char next[16];
        return mti_json_fail(j, "expected a value, found %s", describe_next(j, next, sizeof next));
    }
    if (depth >= MTI_JSON_MAX_DEPTH)
        return mti_json_fail(j, "values nested deeper than %d levels", MTI_JSON_MAX_DEPTH);
    bool object = c == '{';
    char close = object ? '}' : ']';
    j->at++;
    if (mti_json_accept(j, close)) return MT_OK;
    for (;;) {
        mt_status status = MT_OK;
        if (object) {
            char *key;
            status = mti_json_string(j, &key);
            if (status != MT_OK) return status;
            mti_free(key);
            status = mti_json_expect(j, ':', "after an object key");
        }
        if (status == MT_OK) status = skip_at_depth(j, depth + 1);
        if (status != MT_OK) return status;
        if (mti_json_accept(j, close)) return MT_OK;
        status = mti_json_expect(j, ',', object ? "or '}' in an object" : "or ']' in an array");
        if (status != MT_OK) return status;
    }
}

mt_status mti_json_skip_value(mti_json *j) { return skip_at_depth(j, 0); }
