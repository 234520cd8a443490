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

int pb_error_set(pb_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

int pb_error_set_errno(pb_error *err, int code, int errno_value, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        int len = vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        if (len >= 0 && (size_t)len < sizeof(err->message))
            snprintf(err->message + len, sizeof(err->message) - (size_t)len, ": %s",
                     strerror(errno_value));
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
