/*
 * fd.c — the runtime's own fds: see fd.h.
 */
#include "fd.h"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

rlim_t rt_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    return rl.rlim_cur > (1u << 20) ? (1u << 20) : rl.rlim_cur;
}

/* Where our fds go: the top eighth below 1024 (or below a lower limit). */
static int high_fd_base(void)
{
    rlim_t lim = rt_fd_limit();
    if (lim > 1024)
        lim = 1024;
    return (int)(lim - lim / 8);
}

void rt_fd_close(int fd)
{
    syscall(SYS_close, fd);
}

int rt_fd_move_high(int fd)
{
    int base = high_fd_base();
    if (fd < 0 || fd >= base)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (high < 0)
        return fd;
    rt_fd_close(fd);
    return high;
}

struct rt_fd_id rt_fd_id_of(int fd)
{
    struct rt_fd_id id = {0, 0, 0};
    struct stat st;
    uint64_t event = 0;
    if (fstat(fd, &st) == 0) {
        id.dev = st.st_dev;
        id.ino = st.st_ino;
    }
    if (ioctl(fd, PERF_EVENT_IOC_ID, &event) == 0)
        id.event = event;
    return id;
}

int rt_fd_is(int fd, const struct rt_fd_id *id)
{
    struct stat st;
    uint64_t event = 0;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != id->dev || st.st_ino != id->ino)
        return 0;
    /* Only an anon inode matches: PERF_EVENT_IOC_ID means nothing to the others. */
    return id->event == 0 || (ioctl(fd, PERF_EVENT_IOC_ID, &event) == 0 && event == id->event);
}
