/*
 * vdso_loop.c — a target that lives in the vDSO, as a benchmark timing
 * itself does: for SECONDS of wall time it reads its thread's CPU clock
 * (the vDSO's clock_gettime, which makes the system call from inside the
 * vDSO for that clock) and the monotonic clock (served in the vDSO).
 *
 *   vdso_loop SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

__attribute__((noinline)) static double timed_work(double wall)
{
    double end = seconds(CLOCK_MONOTONIC) + wall, cpu = 0;
    while (seconds(CLOCK_MONOTONIC) < end)
        cpu += seconds(CLOCK_THREAD_CPUTIME_ID);
    return cpu;
}

int main(int argc, char **argv)
{
    double wall = argc > 1 ? atof(argv[1]) : 1.0;
    printf("%d\n", timed_work(wall) > 0);
    return 0;
}
