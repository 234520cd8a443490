/*
 * bench_triage_step — the classifier's step and trend analysis on one long
 * series (default 10,000 points, a step at 60%), timed: change points
 * (changepoint.h), Mann–Kendall + Sen's slope, the within-segment trend.
 * usage: bench_triage_step [N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "perfbisect/triage.h"

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    pb_triage_point *p = calloc(n, sizeof(*p));
    pb_rng rng;
    pb_triage_verdict v;
    struct timespec t0, t1;
    if (!p || n < 10)
        return 2;
    pb_rng_seed(&rng, 1);
    for (size_t i = 0; i < n; i++) {
        p[i].value = (i < n * 6 / 10 ? 10.0 : 13.0) + 0.3 * pb_rng_normal(&rng);
        p[i].fail_value = NAN;
        p[i].failed = p[i].value > 12.0;
        p[i].passed = !p[i].failed;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = pb_triage_classify_series("bench::step", p, n, 12.0, 0, NULL, &v, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("points %zu class %s step_index %zu changepoints %zu seconds %.4f\n", n,
           rc == 0 ? pb_triage_class_name(v.cls) : "error", v.step_index, v.changepoints, s);
    free(p);
    return rc == 0 ? 0 : 1;
}
