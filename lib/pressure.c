/*
 * pressure.c — CPU pressure around measured spans (see pressure.h).
 */
#include "perfbisect/pressure.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int pb_pressure_parse(const char *text, uint64_t *total_us)
{
    /* "some avg10=0.00 avg60=0.00 avg300=0.00 total=123\nfull ..." */
    const char *line = text;
    while (line && strncmp(line, "some ", 5) != 0) {
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (!line)
        return PB_EINVAL;
    const char *end = strchr(line, '\n');
    const char *total = strstr(line, " total=");
    if (!total || (end && total > end))
        return PB_EINVAL;
    char *stop = NULL;
    unsigned long long v = strtoull(total + 7, &stop, 10);
    if (stop == total + 7 || (*stop && *stop != '\n' && *stop != ' '))
        return PB_EINVAL;
    *total_us = (uint64_t)v;
    return 0;
}

int pb_pressure_read(const char *path, uint64_t *total_us)
{
    char text[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PB_EIO;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return PB_EIO;
    text[n] = '\0';
    return pb_pressure_parse(text, total_us) < 0 ? PB_EIO : 0;
}

void pb_pressure_add(pb_pressure *p, int ok, uint64_t before_us, uint64_t after_us, double wall_sec)
{
    p->spans++;
    if (!ok || after_us < before_us || !(wall_sec > 0)) {
        p->available &= ok && after_us >= before_us; /* a zero-length span is harmless */
        return;
    }
    p->stall_us += after_us - before_us;
    p->wall_sec += wall_sec;
}

pb_pressure_mark pb_pressure_now(void)
{
    pb_pressure_mark m = {0, 0, 0};
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    m.sec = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    m.ok = pb_pressure_read(PB_PRESSURE_CPU, &m.total_us) == 0;
    return m;
}

double pb_pressure_add_since(pb_pressure *p, pb_pressure_mark start)
{
    pb_pressure_mark end = pb_pressure_now();
    pb_pressure_add(p, start.ok && end.ok, start.total_us, end.total_us, end.sec - start.sec);
    return end.sec - start.sec;
}

double pb_pressure_share(const pb_pressure *p)
{
    if (!p->available || p->spans == 0 || !(p->wall_sec > 0))
        return NAN;
    double share = (double)p->stall_us / (p->wall_sec * 1e6);
    return share > 1 ? 1 : share;
}
