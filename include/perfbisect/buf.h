/*
 * buf.h — a growable NUL-terminated byte buffer, used by every writer
 * (reports, JSON, captured output) so that none of them reinvents one.
 */
#ifndef PERFBISECT_BUF_H
#define PERFBISECT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

typedef struct pb_buf {
    char *data; /* always NUL-terminated once anything was added; may be NULL when empty */
    size_t len;
    size_t cap;
} pb_buf;

#define PB_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Make room for `extra` more bytes (plus the NUL). Returns 0 or PB_ENOMEM. */
int pb_buf_grow(pb_buf *buf, size_t extra);

/* Append `len` bytes. Returns 0 or PB_ENOMEM. */
int pb_buf_put(pb_buf *buf, const void *data, size_t len);

/* Append a C string. */
int pb_buf_puts(pb_buf *buf, const char *s);

/*
 * Append everything left in `f`, up to `max` bytes in the buffer in all.
 * Returns 0, PB_ENOMEM, PB_EINVAL when the buffer would grow past `max`
 * (what came before that chunk is kept), or PB_EIO when reading failed
 * (errno says why). The caller says which file, as its messages need.
 */
int pb_buf_read(pb_buf *buf, FILE *f, size_t max);

/* Append printf-style. */
int pb_buf_printf(pb_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pb_buf_vprintf(pb_buf *buf, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * The length of the well-formed UTF-8 sequence at s (1 to 4 bytes), or 0
 * when the byte at s starts none: a stray continuation byte, an overlong
 * form (C0 80, E0 80 80), a surrogate (ED A0 80), a code point beyond
 * U+10FFFF (F4 90 80 80, F5..FF) or a sequence cut short (E2 82): Unicode's
 * table of well-formed byte sequences (table 3-7). Never reads past a NUL.
 */
size_t pb_utf8_sequence(const char *s);

/* U+FFFD, the replacement character, in UTF-8. */
#define PB_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/*
 * Append the C string s as valid UTF-8 (JSON and XML need it; names from
 * binaries and file systems are bytes): every byte outside a well-formed
 * sequence becomes U+FFFD. Returns 0 or PB_ENOMEM.
 */
int pb_buf_put_utf8(pb_buf *buf, const char *s);

/* The contents as a C string ("" when empty); owned by the buffer. */
const char *pb_buf_cstr(const pb_buf *buf);

/* Forget the contents, keep the memory. */
void pb_buf_clear(pb_buf *buf);

/* Give the caller the string (caller frees); the buffer is left empty. */
char *pb_buf_detach(pb_buf *buf);

/* Free the memory (NULL-safe). */
void pb_buf_free(pb_buf *buf);

#endif
