/*
 * bench_stats — how long the heavier statistics take at the sizes the tools
 * meet: Mann–Whitney with 10,000 values per side, Mann–Kendall (S and Sen's
 * slope) on 10,000 points. Prints seconds; no assertions (see
 * tests/unit/test_stats.c for correctness).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "perfbisect/stats.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
    enum { N = 10000 };
    int rc = 1;
    pb_error err = PB_ERROR_INIT;
    double *x = malloc(N * sizeof(double)), *y = malloc(N * sizeof(double));
    if (!x || !y)
        goto done;
    pb_rng rng;
    pb_rng_seed(&rng, 1);
    for (size_t i = 0; i < N; i++) {
        x[i] = 100 + pb_rng_normal(&rng);
        y[i] = 100.02 + pb_rng_normal(&rng) + 0.0001 * (double)i;
    }
    pb_mwu mwu;
    double t0 = now();
    if (pb_stats_mann_whitney(x, N, y, N, &mwu, &err) < 0)
        goto done;
    double t1 = now();
    printf("mann_whitney n=%d+%d: %.4f s (p=%.3g)\n", N, N, t1 - t0, mwu.p_value);
    pb_mann_kendall mk;
    t0 = now();
    if (pb_stats_mann_kendall(y, N, &mk, &err) < 0)
        goto done;
    t1 = now();
    printf("mann_kendall n=%d: %.4f s (z=%.3g, sen=%.3g)\n", N, t1 - t0, mk.z, mk.sen_slope);
    pb_welch w;
    t0 = now();
    if (pb_stats_welch(x, N, y, N, &w, &err) < 0)
        goto done;
    t1 = now();
    printf("welch n=%d+%d: %.6f s\n", N, N, t1 - t0);
    double est, lo, hi;
    t0 = now();
    if (pb_stats_bootstrap_ratio_ci(x, 30, y, 30, 0.95, 10000, 1, &est, &lo, &hi, &err) < 0)
        goto done;
    t1 = now();
    printf("bootstrap n=30+30 x10000: %.4f s\n", t1 - t0);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "bench_stats: %s\n", pb_error_message(&err));
    free(x);
    free(y);
    return rc;
}
