/*
 * pressure.h — whether other work kept the CPU from our measurements.
 *
 * Linux's pressure stall information (/proc/pressure/cpu, kernel 4.20+)
 * counts the microseconds in which at least one runnable task waited for a
 * CPU ("some ... total="). Read around each benchmark run, the counter's
 * growth over the run's wall time is the share of that run in which the
 * machine was oversubscribed: other work competing with the benchmark (or a
 * benchmark with more busy threads than CPUs), the commonest reason for
 * timings to lie. Builds are left out on purpose: they load the machine
 * themselves.
 */
#ifndef PERFBISECT_PRESSURE_H
#define PERFBISECT_PRESSURE_H

#include <stdint.h>

#include "perfbisect/error.h"

#define PB_PRESSURE_CPU "/proc/pressure/cpu"

/*
 * A share at or above this is reported as a busy machine. Starting a
 * process stalls briefly by itself (a woken child waits for its parent's
 * CPU), so short benchmarks show some pressure on a quiet machine. Measured
 * on a 2-CPU VM with a 10 ms benchmark: quiet 14-21%, one competing busy
 * loop 5%, two 53%, three 64%; idle, 0.2-0.4%.
 */
#define PB_PRESSURE_BUSY 0.35

/* Stall time gathered over measured spans. */
typedef struct pb_pressure {
    uint64_t stall_us; /* growth of the "some" total over the spans */
    double wall_sec;   /* the spans' wall time */
    int available;     /* every span could be read */
    int spans;
} pb_pressure;

#define PB_PRESSURE_INIT                                                                           \
    {                                                                                              \
        0, 0.0, 1, 0                                                                               \
    }

/* The "some" total (µs) in the text of a pressure file; PB_EINVAL if absent. */
int pb_pressure_parse(const char *text, uint64_t *total_us);

/* Read `path` (PB_PRESSURE_CPU) and parse it; PB_EIO if it cannot be read. */
int pb_pressure_read(const char *path, uint64_t *total_us);

/* Add one span: the totals read before and after it (ok = both reads worked). */
void pb_pressure_add(pb_pressure *p, int ok, uint64_t before_us, uint64_t after_us,
                     double wall_sec);

/* A span's start: the counter and CLOCK_MONOTONIC now (ok = the read worked). */
typedef struct pb_pressure_mark {
    uint64_t total_us;
    double sec;
    int ok;
} pb_pressure_mark;

pb_pressure_mark pb_pressure_now(void);

/* Add the span from `start` to now, read from PB_PRESSURE_CPU; the span's
 * wall seconds, so a caller timing the same span needs no clock of its own. */
double pb_pressure_add_since(pb_pressure *p, pb_pressure_mark start);

/* Share of the spans' wall time with a task waiting for a CPU, in [0, 1];
 * NAN when no span was measured or the counter could not be read. */
double pb_pressure_share(const pb_pressure *p);

#endif
