/*
 * changepoint.h — find the steps in a benchmark's series of values (one
 * value per run or per commit, in time order).
 *
 * The method is E-divisive with means (Matteson & James 2014, energy
 * statistic with alpha = 1), as Hunter / Apache Otava use it: the split that
 * maximises the energy distance between the two sides is the candidate; the
 * statistic of every split of a segment is computed in O(n log n) (sorted
 * prefix sums, exact for one-dimensional data), and segments are split
 * recursively while the candidate is significant.
 *
 * Significance, by default, is a two-sample test between the segments on
 * either side of the candidate, Bonferroni-corrected for the number of splits
 * the candidate was chosen from (Otava's approach: fast, deterministic): the
 * Mann–Whitney test, which skewed benchmark noise and outliers do not fool
 * (`parametric` = 1 switches to Welch's t-test: more power on very short
 * clean series, fooled by skewed noise). Each candidate is also tested against the segment cut
 * at the next best split, so that a bump (up, then back down) is found.
 * Accepted points are re-checked against their final neighbours and the
 * weakest dropped until every one is significant. With `permutations` > 0
 * the test is instead Matteson & James' seeded permutation test of the
 * energy statistic (no look-ahead, no re-check; slower).
 *
 * Power, measured with the defaults (alpha 0.01, min_segment 5, rank test;
 * Mann–Whitney is exact up to 50 values a side): a clean step is found from
 * 10 points, a bump (up for the middle third, then back) from about 22.
 * False steps in pure noise (normal, log-normal or exponential, 20 to 5,000
 * points): at most 1% of series. Welch (`parametric`) finds the same bump
 * from 16 points but reports false steps in ~6% of exponential-noise series.
 *
 * What it does with shapes other than steps:
 *  - a single outlier does not make a change point (segments have at least
 *    `min_segment` points, and to the rank test an outlier is just one rank);
 *  - a linear trend comes out as a staircase of several change points, each a
 *    fraction of the total drift, not as one big step: callers that must tell
 *    a gradual degradation from a step should test the series with
 *    pb_stats_mann_kendall() and look at how many steps there are.
 *
 * Cost: O(n log n) per level of splitting; 10,000 points take milliseconds
 * without permutations (see bench/bench_changepoint.c).
 */
#ifndef PERFBISECT_CHANGEPOINT_H
#define PERFBISECT_CHANGEPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "perfbisect/error.h"

typedef struct pb_changepoint_options {
    double alpha;            /* significance level in (0, 1); default 0.01 */
    size_t min_segment;      /* fewest points between two changes (>= 2); default 5 */
    size_t max_changepoints; /* stop after this many; 0 = no limit (default) */
    unsigned permutations;   /* 0 (default): Bonferroni-corrected two-sample test;
                                N > 0: permutation test with N rounds (<= 100000);
                                use N >= 1/alpha, e.g. 199 for alpha 0.01 */
    uint64_t seed;           /* seed of the permutations (same seed, same result) */
    int parametric;          /* 1: Welch's t-test instead of Mann–Whitney (default 0) */
} pb_changepoint_options;

/* clang-format off */
#define PB_CHANGEPOINT_OPTIONS_INIT {0.01, 5, 0, 0, 1, 0}
/* clang-format on */

/* One change point. "before" is the segment from the previous change point
 * (or the start) to `index`, "after" from `index` to the next one (or the end). */
typedef struct pb_changepoint {
    size_t index; /* first point after the change (1 .. n-1) */
    double mean_before, mean_after;
    double median_before, median_after;
    double change;    /* relative change of the median: (after - before) / |before|;
                         +-INFINITY or NAN when median_before is 0 */
    double p_value;   /* of the test that accepted it: Bonferroni-corrected, against
                         its final neighbours (or the permutation test's) */
    double statistic; /* energy statistic of the split when it was found */
} pb_changepoint;

typedef struct pb_changepoint_list {
    pb_changepoint *points; /* sorted by index; owned by the list */
    size_t count;
} pb_changepoint_list;

/* clang-format off */
#define PB_CHANGEPOINT_LIST_INIT {NULL, 0}
/* clang-format on */

/*
 * Find the change points of x[0..n) (n <= 10^7, finite values; the array is
 * not modified). `opt` may be NULL for the defaults. Fills `out` (which the
 * caller frees with pb_changepoint_list_free, also after an error) and
 * returns 0, or PB_EINVAL (bad options, NaN/infinite values, too long) or
 * PB_ENOMEM. A series shorter than 2 * min_segment has no change points.
 */
int pb_changepoint_detect(const double *x, size_t n, const pb_changepoint_options *opt,
                          pb_changepoint_list *out, pb_error *err);

/* Free the points (NULL-safe) and leave the list empty. */
void pb_changepoint_list_free(pb_changepoint_list *list);

#endif
