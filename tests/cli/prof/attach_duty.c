/*
 * attach_duty.c — a target for perfprof attach that is on CPU only part of
 * the time: it alternates a fixed amount of computing in hot() (about 1 ms
 * here) with a short sleep, as a server polling for work does. Built by
 * test_perfprof_attach.sh.
 *
 *   attach_duty SECONDS [SLEEP_US [WORK]]
 *     for SECONDS of wall time: hot(WORK) (default 1000000 steps), then
 *     usleep(SLEEP_US) (default 1000)
 * Prints "rounds N" at the end. A profile of its CPU time has (almost) all
 * its samples in hot(): the sleeps are off CPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile double sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void hot(long n)
{
    double x = 0;
    for (long i = 0; i < n; i++)
        x += (double)i * 0.5;
    sink = x;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    double end = now() + atof(argv[1]);
    long sleep_us = argc > 2 ? atol(argv[2]) : 1000;
    long work = argc > 3 ? atol(argv[3]) : 1000000;
    long rounds = 0;
    while (now() < end) {
        hot(work);
        usleep((useconds_t)sleep_us);
        rounds++;
    }
    printf("rounds %ld\n", rounds);
    return 0;
}
