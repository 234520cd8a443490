#include "perfbisect/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *code_text(int code)
{
    switch (code) {
    case PB_OK:
        return "no error";
    case PB_EINVAL:
        return "invalid input";
    case PB_ENOTFOUND:
        return "not found";
    case PB_ENOMEM:
        return "out of memory";
    case PB_EIO:
        return "input/output error";
    case PB_EINTR:
        return "interrupted";
    case PB_ETIMEOUT:
        return "timed out";
    default:
        return "error";
    }
}

/* Formatted apart and then copied, so that the message may quote err's own
 * ("%s: %s", path, pb_error_message(err)): no caller needs a copy first. */
int pb_error_set(pb_error *err, int code, const char *fmt, ...)
{
    if (err) {
        char text[sizeof(err->message)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        err->code = code;
        memcpy(err->message, text, sizeof(text));
    }
    return code;
}

int pb_error_set_errno(pb_error *err, int code, int errno_value, const char *fmt, ...)
{
    if (err) {
        char text[sizeof(err->message)];
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (len >= 0 && (size_t)len < sizeof(text))
            snprintf(text + len, sizeof(text) - (size_t)len, ": %s", strerror(errno_value));
        err->code = code;
        memcpy(err->message, text, sizeof(text));
    }
    return code;
}

void pb_error_clear(pb_error *err)
{
    if (err) {
        err->code = PB_OK;
        err->message[0] = '\0';
    }
}

const char *pb_error_message(const pb_error *err)
{
    if (!err)
        return "error";
    return err->message[0] ? err->message : code_text(err->code);
}
