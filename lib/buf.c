#include "perfbisect/buf.h"
#include "perfbisect/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pb_buf_grow(pb_buf *buf, size_t extra)
{
    if (extra > ((size_t)-1) / 2 - buf->len)
        return PB_ENOMEM;
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return 0;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(buf->data, cap);
    if (!p)
        return PB_ENOMEM;
    buf->data = p;
    buf->cap = cap;
    return 0;
}

int pb_buf_put(pb_buf *buf, const void *data, size_t len)
{
    if (pb_buf_grow(buf, len) < 0)
        return PB_ENOMEM;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

int pb_buf_puts(pb_buf *buf, const char *s)
{
    return pb_buf_put(buf, s, strlen(s));
}

int pb_buf_read(pb_buf *buf, FILE *f, size_t max)
{
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf->len + got > max)
            return PB_EINVAL;
        if (pb_buf_put(buf, chunk, got) < 0)
            return PB_ENOMEM;
    }
    return ferror(f) ? PB_EIO : 0;
}

int pb_buf_vprintf(pb_buf *buf, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return PB_ERROR;
    if (pb_buf_grow(buf, (size_t)n) < 0)
        return PB_ENOMEM;
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
    return 0;
}

int pb_buf_printf(pb_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pb_buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return rc;
}

const char *pb_buf_cstr(const pb_buf *buf)
{
    return buf->data ? buf->data : "";
}

void pb_buf_clear(pb_buf *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

char *pb_buf_detach(pb_buf *buf)
{
    char *s = buf->data ? buf->data : strdup("");
    buf->data = NULL;
    buf->len = buf->cap = 0;
    return s;
}

void pb_buf_free(pb_buf *buf)
{
    if (!buf)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

size_t pb_utf8_sequence(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    size_t n;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (s[0] == 0xE0)
        lo = 0xA0; /* below: overlong */
    else if (s[0] == 0xED)
        hi = 0x9F; /* above: surrogates */
    else if (s[0] == 0xF0)
        lo = 0x90; /* below: overlong */
    else if (s[0] == 0xF4)
        hi = 0x8F; /* above: beyond U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) /* a NUL is no continuation byte: the loop stops there */
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

int pb_buf_put_utf8(pb_buf *buf, const char *s)
{
    while (*s) {
        size_t k = pb_utf8_sequence(s);
        if (k ? pb_buf_put(buf, s, k) < 0 : pb_buf_puts(buf, PB_UTF8_REPLACEMENT) < 0)
            return PB_ENOMEM;
        s += k ? k : 1;
    }
    return pb_buf_put(buf, "", 0);
}
