/*
 * bench_changepoint — time pb_changepoint_detect on 1,000 and 10,000 points
 * (noise with two steps), with the default test and with a permutation
 * test. Prints seconds and the change points found; no assertions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "perfbisect/changepoint.h"
#include "perfbisect/stats.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(const double *x, size_t n, unsigned permutations)
{
    pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    pb_error err = PB_ERROR_INIT;
    opt.permutations = permutations;
    double t0 = now();
    int rc = pb_changepoint_detect(x, n, &opt, &cps, &err);
    double t1 = now();
    if (rc < 0) {
        fprintf(stderr, "bench_changepoint: %s\n", pb_error_message(&err));
        return rc;
    }
    printf("n=%zu permutations=%u: %.4f s, %zu change points:", n, permutations, t1 - t0,
           cps.count);
    for (size_t i = 0; i < cps.count; i++)
        printf(" %zu (%+.1f%%)", cps.points[i].index, 100 * cps.points[i].change);
    printf("\n");
    pb_changepoint_list_free(&cps);
    return 0;
}

int main(void)
{
    enum { N = 10000 };
    int rc = 1;
    double *x = malloc(N * sizeof(double));
    if (!x)
        return 1;
    size_t sizes[] = {1000, N};
    for (size_t k = 0; k < 2; k++) {
        size_t n = sizes[k];
        pb_rng rng;
        pb_rng_seed(&rng, 42);
        for (size_t i = 0; i < n; i++)
            x[i] = (i < n * 4 / 10 ? 100 : i < n * 7 / 10 ? 103 : 101) + pb_rng_normal(&rng);
        if (run(x, n, 0) < 0 || run(x, n, 199) < 0)
            goto done;
        /* pure noise: the whole series is searched and nothing accepted */
        for (size_t i = 0; i < n; i++)
            x[i] = 100 + pb_rng_normal(&rng);
        if (run(x, n, 0) < 0)
            goto done;
    }
    rc = 0;
done:
    free(x);
    return rc;
}
