/*
 * error.h — error codes and the per-call error buffer.
 *
 * Library functions return 0 on success or a negative PB_E* code, and fill
 * the caller's pb_error (which may be NULL) with a one-line message. There is
 * no global "last error": every caller owns its buffer.
 */
#ifndef PERFBISECT_ERROR_H
#define PERFBISECT_ERROR_H

#include <stddef.h>

enum pb_error_code {
    PB_OK = 0,
    PB_ERROR = -1,     /* generic failure (system call, library) */
    PB_EINVAL = -2,    /* bad input from the user: options, files, specs */
    PB_ENOTFOUND = -3, /* a named thing (revision, file, benchmark) is missing */
    PB_ENOMEM = -4,    /* allocation failed */
    PB_EIO = -5,       /* reading or writing failed */
    PB_EINTR = -6,     /* interrupted by the caller (signal, cancel callback) */
    PB_ETIMEOUT = -7,  /* a time limit was reached */
};

#define PB_ERROR_MSG_MAX 512

typedef struct pb_error {
    int code;
    char message[PB_ERROR_MSG_MAX];
} pb_error;

#define PB_ERROR_INIT                                                                              \
    {                                                                                              \
        0,                                                                                         \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/*
 * Record `code` and a printf-style message in `err` (NULL-safe) and return
 * `code`, so a failure reads `return pb_error_set(err, PB_EINVAL, "...")`.
 * The message may quote err's own: pb_error_set(err, rc, "%s: %s", path,
 * pb_error_message(err)) adds context to an error.
 */
int pb_error_set(pb_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like pb_error_set, appending ": strerror(errno_value)". */
int pb_error_set_errno(pb_error *err, int code, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reset `err` to "no error" (NULL-safe). */
void pb_error_clear(pb_error *err);

/* The message, or a generic text for the code when none was set. */
const char *pb_error_message(const pb_error *err);

#endif
