/*
 * fd.h — the runtime's own fds among the program's: kept high, and touched
 * only while they still are what the runtime opened (a program may close
 * every fd and reuse the numbers).
 */
#ifndef PPRT_FD_H
#define PPRT_FD_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* What an fd was when the runtime opened it. */
struct rt_fd_id {
    dev_t dev;
    ino_t ino;
    uint64_t event; /* a perf event's PERF_EVENT_IOC_ID; 0 if none */
};

/* The process's soft RLIMIT_NOFILE (a large number for "unlimited"). */
rlim_t rt_fd_limit(void);

/* `fd`, moved to a high number (close-on-exec); itself if none is free. */
int rt_fd_move_high(int fd);

/* close(2) itself: no cancellation point, not the runtime's interposer. */
void rt_fd_close(int fd);

/* Remember what `fd` is now. */
struct rt_fd_id rt_fd_id_of(int fd);

/* Whether `fd` still is the file `id` was taken of. */
int rt_fd_is(int fd, const struct rt_fd_id *id);

#endif
