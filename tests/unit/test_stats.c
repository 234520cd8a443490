/*
 * Unit tests of the stats module. Reference values were computed on this
 * machine with /usr/bin/python3 (Python 3.11, scipy 1.10.1, numpy): the
 * expression that produced each one is quoted beside it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "perfbisect/stats.h"

#define CLOSE(actual, expected, tol)                                                               \
    do {                                                                                           \
        double a_ = (actual), e_ = (expected);                                                     \
        if (!(fabs(a_ - e_) <= (tol) * (fabs(e_) > 1 ? fabs(e_) : 1)))                             \
            fail_msg("%s = %.17g, expected %.17g (tol %g)", #actual, a_, e_, (double)(tol));       \
    } while (0)

/* A: ten timings with one slow outlier. */
static const double A[] = {12.1, 11.8, 12.5, 13.0, 12.2, 11.9, 12.7, 12.4, 15.3, 12.0};
static const size_t NA = sizeof(A) / sizeof(A[0]);
/* B: small integers with ties. */
static const double B[] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
static const size_t NB = sizeof(B) / sizeof(B[0]);

static void test_stats__descriptive_match_python(void **state)
{
    (void)state;
    /* statistics.mean(A) -> 12.59; median -> 12.3; stdev -> 1.0224697767877762;
     * scipy.stats.median_abs_deviation(A, scale=1.0) -> 0.34999999999999964 */
    CLOSE(pb_stats_mean(A, NA), 12.59, 1e-14);
    CLOSE(pb_stats_median(A, NA), 12.3, 1e-14);
    CLOSE(pb_stats_stddev(A, NA), 1.0224697767877762, 1e-13);
    CLOSE(pb_stats_mad(A, NA), 0.35, 1e-13);
    /* B: mean 4.0, median 4.0, stdev 2.598076211353316, MAD 2.0 */
    CLOSE(pb_stats_mean(B, NB), 4.0, 1e-14);
    CLOSE(pb_stats_median(B, NB), 4.0, 1e-14);
    CLOSE(pb_stats_stddev(B, NB), 2.598076211353316, 1e-13);
    CLOSE(pb_stats_mad(B, NB), 2.0, 1e-14);
}

static void test_stats__inputs_are_not_reordered(void **state)
{
    (void)state;
    double x[] = {5, 1, 4, 2, 3};
    double q[3];
    pb_mann_kendall mk;
    pb_stats_median(x, 5);
    pb_stats_mad(x, 5);
    assert_int_equal(pb_stats_quantiles(x, 5, 4, q, NULL), 0);
    assert_int_equal(pb_stats_mann_kendall(x, 5, &mk, NULL), 0);
    const double want[] = {5, 1, 4, 2, 3};
    for (int i = 0; i < 5; i++)
        assert_true(x[i] == want[i]);
}

static void test_stats__too_small_gives_nan(void **state)
{
    (void)state;
    double one = 3.0;
    assert_true(isnan(pb_stats_mean(NULL, 0)));
    assert_true(isnan(pb_stats_median(NULL, 0)));
    assert_true(isnan(pb_stats_mad(NULL, 0)));
    assert_true(isnan(pb_stats_stddev(&one, 1)));
    assert_true(isnan(pb_stats_p95(&one, 1)));
    assert_true(isnan(pb_stats_threshold(&one, 1, PB_STRICTNESS_DEFAULT)));
    assert_true(pb_stats_median(&one, 1) == 3.0);
    double withnan[] = {1, NAN, 3};
    assert_true(isnan(pb_stats_median(withnan, 3)));
}

static void test_stats__even_median_is_mean_of_middle(void **state)
{
    (void)state;
    double x[] = {10, 1, 7, 3}; /* statistics.median -> 5.0 */
    CLOSE(pb_stats_median(x, 4), 5.0, 0);
}

static void test_stats__quantiles_exclusive_like_python(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    double q[19];
    /* statistics.quantiles(A, n=4) -> [11.975, 12.3, 12.774999999999999] */
    assert_int_equal(pb_stats_quantiles(A, NA, 4, q, &err), 0);
    CLOSE(q[0], 11.975, 1e-14);
    CLOSE(q[1], 12.3, 1e-14);
    CLOSE(q[2], 12.775, 1e-14);
    /* statistics.quantiles(B, n=20) -> [1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5,
     * 4.0, 4.5, 5.0, 5.0, 5.0, 5.5, 6.0, 7.5, 9.0, 10.5] (extrapolates past max) */
    const double qb[] = {1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0,
                         4.5, 5.0, 5.0, 5.0, 5.5, 6.0, 7.5, 9.0, 10.5};
    assert_int_equal(pb_stats_quantiles(B, NB, 20, q, &err), 0);
    for (int i = 0; i < 19; i++)
        CLOSE(q[i], qb[i], 1e-14);
    /* statistics.quantiles(B, n=3) -> [2.3333333333333335, 5.0] */
    assert_int_equal(pb_stats_quantiles(B, NB, 3, q, &err), 0);
    CLOSE(q[0], 2.3333333333333335, 1e-15);
    CLOSE(q[1], 5.0, 1e-15);
    /* statistics.quantiles([1, 2], n=10) -> [0.3, 0.6, ..., 2.7] */
    double two[] = {1, 2};
    assert_int_equal(pb_stats_quantiles(two, 2, 10, q, &err), 0);
    for (int i = 0; i < 9; i++)
        CLOSE(q[i], 0.3 * (i + 1), 1e-14);
    /* statistics.quantiles(A, n=20)[18] -> 16.335 */
    CLOSE(pb_stats_p95(A, NA), 16.335, 1e-13);
}

static void test_stats__quantiles_reject_bad_input(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    double q[4], one = 1;
    assert_int_equal(pb_stats_quantiles(&one, 1, 4, q, &err), PB_EINVAL);
    assert_int_equal(err.code, PB_EINVAL);
    assert_int_equal(pb_stats_quantiles(A, NA, 0, q, &err), PB_EINVAL);
    double withnan[] = {1, 2, NAN};
    assert_int_equal(pb_stats_quantiles(withnan, 3, 4, q, &err), PB_EINVAL);
    /* parts = 1: no cut points, but valid */
    assert_int_equal(pb_stats_quantiles(A, NA, 1, q, &err), 0);
}

static void test_stats__threshold_rule(void **state)
{
    (void)state;
    /* (statistics.quantiles(A, n=20)[18] + 2*statistics.stdev(A)) * m ->
     * 9.189969776787777 (0.5), 18.379939553575554 (1.0), 36.75987910715111 (2.0) */
    CLOSE(pb_stats_threshold(A, NA, PB_STRICTNESS_STRICT), 9.189969776787777, 1e-13);
    CLOSE(pb_stats_threshold(A, NA, PB_STRICTNESS_DEFAULT), 18.379939553575554, 1e-13);
    CLOSE(pb_stats_threshold(A, NA, PB_STRICTNESS_CI), 36.75987910715111, 1e-13);
    assert_true(pb_strictness_multiplier(PB_STRICTNESS_STRICT) == 0.5);
    assert_true(pb_strictness_multiplier(PB_STRICTNESS_DEFAULT) == 1.0);
    assert_true(pb_strictness_multiplier(PB_STRICTNESS_CI) == 2.0);
}

static void test_stats__strictness_parse_and_ci_default(void **state)
{
    (void)state;
    pb_strictness s;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_strictness_parse("strict", &s, &err), 0);
    assert_int_equal(s, PB_STRICTNESS_STRICT);
    assert_int_equal(pb_strictness_parse("default", &s, &err), 0);
    assert_int_equal(s, PB_STRICTNESS_DEFAULT);
    assert_int_equal(pb_strictness_parse("ci", &s, &err), 0);
    assert_int_equal(s, PB_STRICTNESS_CI);
    assert_int_equal(pb_strictness_parse("lenient", &s, &err), PB_EINVAL);
    assert_int_equal(pb_strictness_parse(NULL, &s, &err), PB_EINVAL);
    assert_int_equal(pb_strictness_default("true"), PB_STRICTNESS_CI);
    assert_int_equal(pb_strictness_default("TRUE"), PB_STRICTNESS_CI);
    assert_int_equal(pb_strictness_default("1"), PB_STRICTNESS_CI);
    assert_int_equal(pb_strictness_default(NULL), PB_STRICTNESS_DEFAULT);
    assert_int_equal(pb_strictness_default("false"), PB_STRICTNESS_DEFAULT);
    assert_int_equal(pb_strictness_default(""), PB_STRICTNESS_DEFAULT);
}

static void check_mwu(const double *x, size_t nx, const double *y, size_t ny, double u, double p,
                      int exact)
{
    pb_mwu r;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_stats_mann_whitney(x, nx, y, ny, &r, &err), 0);
    CLOSE(r.u, u, 1e-12);
    CLOSE(r.p_value, p, 1e-9);
    assert_int_equal(r.exact, exact);
}

static void test_stats__mann_whitney_exact_small(void **state)
{
    (void)state;
    /* scipy.stats.mannwhitneyu(x, y, alternative='two-sided') (scipy 1.10.1, 'auto')
     * [1.1,2.2,3.3,4.4,5.5] vs [6.1,7.2,8.3,9.4] -> U=0.0, p=0.015873015873015872 */
    const double x1[] = {1.1, 2.2, 3.3, 4.4, 5.5}, y1[] = {6.1, 7.2, 8.3, 9.4};
    check_mwu(x1, 5, y1, 4, 0.0, 0.015873015873015872, 1);
    /* [1,3,5,7] vs [2,4,6,8,10,12] -> U=6.0, p=0.2571428571428571 */
    const double x2[] = {1, 3, 5, 7}, y2[] = {2, 4, 6, 8, 10, 12};
    check_mwu(x2, 4, y2, 6, 6.0, 0.2571428571428571, 1);
    /* 7 vs 10 values, no ties: scipy 1.10 still uses exact (only n1 > 8 and
     * n2 > 8 go asymptotic) -> U=1.0, p=0.00020567667626491157 */
    const double x3[] = {19.1, 20.3, 18.7, 21.4, 20.0, 19.5, 22.1};
    const double y3[] = {23.4, 21.9, 24.8, 22.6, 25.0, 23.1, 24.2, 26.3, 22.9, 23.7};
    check_mwu(x3, 7, y3, 10, 1.0, 0.00020567667626491157, 1);
    /* [0.5,1.5,2.5] vs [0.7,1.7,...,11.7] -> U=3.0, p=0.03076923076923077 */
    const double x4[] = {0.5, 1.5, 2.5};
    double y4[12];
    for (int i = 0; i < 12; i++)
        y4[i] = 0.7 + i;
    check_mwu(x4, 3, y4, 12, 3.0, 0.03076923076923077, 1);
    /* symmetric: swapping the samples gives U2 and the same p */
    check_mwu(y1, 4, x1, 5, 20.0, 0.015873015873015872, 1);
}

static void test_stats__mann_whitney_exact_one_small_side(void **state)
{
    (void)state;
    /* x = [((i*7919) % 10007) / 10007.0 for i in range(8)],
     * y = [((i*104729) % 10009) / 10009.0 + 0.3 for i in range(2000)]:
     * scipy exact -> U=4379.0, p=0.024976258455172422 */
    double x[8], *y = malloc(2000 * sizeof(double));
    assert_non_null(y);
    for (int i = 0; i < 8; i++)
        x[i] = (double)((i * 7919) % 10007) / 10007.0;
    for (int i = 0; i < 2000; i++)
        y[i] = (double)(((long)i * 104729) % 10009) / 10009.0 + 0.3;
    check_mwu(x, 8, y, 2000, 4379.0, 0.024976258455172422, 1);
    free(y);
}

static void test_stats__mann_whitney_normal_with_ties(void **state)
{
    (void)state;
    /* [1,2,2,3,3,3,4] vs [3,4,4,5,5,6,7,8] (ties -> asymptotic)
     * -> U=3.5, p=0.004832240868896149 */
    const double x1[] = {1, 2, 2, 3, 3, 3, 4}, y1[] = {3, 4, 4, 5, 5, 6, 7, 8};
    check_mwu(x1, 7, y1, 8, 3.5, 0.004832240868896149, 0);
    /* 1..12 vs 4.5..15.5 (both > 8, no ties) -> U=36.0, p=0.040404119588223694 */
    double x2[12], y2[12];
    for (int i = 0; i < 12; i++) {
        x2[i] = i + 1;
        y2[i] = i + 4.5;
    }
    check_mwu(x2, 12, y2, 12, 36.0, 0.040404119588223694, 0);
    /* 9 vs 9 no ties -> asymptotic, U=19.0, p=0.06368977513662868 */
    double x3[9], y3[9];
    for (int i = 0; i < 9; i++) {
        x3[i] = (double)((i * 7919) % 10007) / 10007.0;
        y3[i] = (double)(((long)i * 104729) % 10009) / 10009.0 + 0.3;
    }
    check_mwu(x3, 9, y3, 9, 19.0, 0.06368977513662868, 0);
}

static void test_stats__mann_whitney_exact_upto_larger_samples(void **state)
{
    (void)state;
    pb_mwu r;
    pb_error err = PB_ERROR_INIT;
    /* the 9 vs 9 sample above: scipy mannwhitneyu(..., method='exact')
     * -> U=19.0, p=0.06252570958453312 */
    double x[40], y[40];
    for (int i = 0; i < 9; i++) {
        x[i] = (double)((i * 7919) % 10007) / 10007.0;
        y[i] = (double)(((long)i * 104729) % 10009) / 10009.0 + 0.3;
    }
    assert_int_equal(pb_stats_mann_whitney_exact_upto(x, 9, y, 9, 50, &r, &err), 0);
    assert_int_equal(r.exact, 1);
    CLOSE(r.u, 19.0, 0);
    CLOSE(r.p_value, 0.06252570958453312, 1e-12);
    /* range(30) vs [i + 100.5 for i in range(40)], method='exact' -> U=0.0,
     * p=3.6135170070159604e-20 (= 2 / C(70, 30)) */
    for (int i = 0; i < 30; i++)
        x[i] = i;
    for (int i = 0; i < 40; i++)
        y[i] = i + 100.5;
    assert_int_equal(pb_stats_mann_whitney_exact_upto(x, 30, y, 40, 50, &r, &err), 0);
    assert_int_equal(r.exact, 1);
    CLOSE(r.p_value / 3.6135170070159604e-20, 1.0, 1e-10);
    /* exact_max 8 is the scipy-compatible pb_stats_mann_whitney */
    assert_int_equal(pb_stats_mann_whitney_exact_upto(x, 30, y, 40, 8, &r, &err), 0);
    assert_int_equal(r.exact, 0);
}

static void test_stats__mann_whitney_all_equal_is_p_one(void **state)
{
    (void)state;
    /* [5.0]*6 vs [5.0]*7 -> U=21.0, p=1.0 */
    double x[6], y[7];
    for (int i = 0; i < 6; i++)
        x[i] = 5;
    for (int i = 0; i < 7; i++)
        y[i] = 5;
    check_mwu(x, 6, y, 7, 21.0, 1.0, 0);
}

static void test_stats__mann_whitney_large_samples(void **state)
{
    (void)state;
    enum { N = 10000 };
    double *x = malloc(N * sizeof(double)), *y = malloc(N * sizeof(double));
    assert_non_null(x);
    assert_non_null(y);
    /* x = [((i*7919) % 10007) / 10007.0], y = [((i*104729) % 10009) / 10009.0 + 0.01],
     * i in range(10000) -> U=49008058.0, p=0.015111750772280486 */
    for (long i = 0; i < N; i++) {
        x[i] = (double)((i * 7919) % 10007) / 10007.0;
        y[i] = (double)((i * 104729) % 10009) / 10009.0 + 0.01;
    }
    check_mwu(x, N, y, N, 49008058.0, 0.015111750772280486, 0);
    /* heavy ties: x = float((i*7919) % 101), y = float((i*104729) % 103)
     * -> U=49025740.0, p=0.017009937261925717 */
    for (long i = 0; i < N; i++) {
        x[i] = (double)((i * 7919) % 101);
        y[i] = (double)((i * 104729) % 103);
    }
    check_mwu(x, N, y, N, 49025740.0, 0.017009937261925717, 0);
    free(x);
    free(y);
}

static void test_stats__mann_whitney_rejects_bad_input(void **state)
{
    (void)state;
    pb_mwu r;
    pb_error err = PB_ERROR_INIT;
    const double x[] = {1, 2, NAN}, y[] = {1, 2, 3};
    assert_int_equal(pb_stats_mann_whitney(x, 3, y, 3, &r, &err), PB_EINVAL);
    assert_int_equal(pb_stats_mann_whitney(y, 0, y, 3, &r, &err), PB_EINVAL);
}

static void test_stats__welch_matches_scipy(void **state)
{
    (void)state;
    pb_welch w;
    pb_error err = PB_ERROR_INIT;
    /* scipy.stats.ttest_ind(x, y, equal_var=False) -> t=-5.8477697061121345,
     * p=4.7673988616896066e-05; Welch–Satterthwaite df 13.594412057968029 */
    const double x[] = {19.1, 20.3, 18.7, 21.4, 20.0, 19.5, 22.1};
    const double y[] = {23.4, 21.9, 24.8, 22.6, 25.0, 23.1, 24.2, 26.3, 22.9, 23.7};
    assert_int_equal(pb_stats_welch(x, 7, y, 10, &w, &err), 0);
    CLOSE(w.t, -5.8477697061121345, 1e-12);
    CLOSE(w.df, 13.594412057968029, 1e-12);
    CLOSE(w.p_value, 4.7673988616896066e-05, 1e-9);
    /* [1,2,3,4] vs [1.5,2.5,3.5,4.5,5.5,9] -> t=-1.5198827810467066,
     * p=0.16905984654921044, df 7.586730708023495 */
    const double x2[] = {1, 2, 3, 4}, y2[] = {1.5, 2.5, 3.5, 4.5, 5.5, 9};
    assert_int_equal(pb_stats_welch(x2, 4, y2, 6, &w, &err), 0);
    CLOSE(w.t, -1.5198827810467066, 1e-12);
    CLOSE(w.df, 7.586730708023495, 1e-12);
    CLOSE(w.p_value, 0.16905984654921044, 1e-10);
}

static void test_stats__welch_edge_cases(void **state)
{
    (void)state;
    pb_welch w;
    pb_error err = PB_ERROR_INIT;
    const double one[] = {1}, c1[] = {2, 2, 2}, c2[] = {3, 3};
    assert_int_equal(pb_stats_welch(one, 1, c1, 3, &w, &err), PB_EINVAL);
    const double bad[] = {1, INFINITY};
    assert_int_equal(pb_stats_welch(bad, 2, c1, 3, &w, &err), PB_EINVAL);
    /* two constant samples: equal -> p 1, different -> p 0 */
    assert_int_equal(pb_stats_welch(c1, 3, c1, 3, &w, &err), 0);
    CLOSE(w.p_value, 1.0, 0);
    assert_int_equal(pb_stats_welch(c1, 3, c2, 2, &w, &err), 0);
    CLOSE(w.p_value, 0.0, 0);
    assert_true(w.t < 0 && isinf(w.t));
}

static void test_stats__distributions_match_scipy(void **state)
{
    (void)state;
    /* scipy.stats.t.cdf(2.0, 5) -> 0.9490302605850709; t.cdf(-3.5, 2.5) ->
     * 0.026172773480160158; t.cdf(0.3, 30) -> 0.6168769473578236;
     * t.cdf(-40, 3) -> 1.719034039457927e-05 */
    CLOSE(pb_stats_t_cdf(2.0, 5), 0.9490302605850709, 1e-12);
    CLOSE(pb_stats_t_cdf(-3.5, 2.5), 0.026172773480160158, 1e-12);
    CLOSE(pb_stats_t_cdf(0.3, 30), 0.6168769473578236, 1e-12);
    CLOSE(pb_stats_t_cdf(-40, 3) / 1.719034039457927e-05, 1.0, 1e-10);
    CLOSE(pb_stats_t_cdf(0, 7), 0.5, 1e-15);
    /* scipy.special.betainc(2, 3, 0.4) -> 0.5247999999999999; (0.5, 0.5, 0.9) ->
     * 0.7951672353008662; (10, 20, 0.3) -> 0.3640040810719437;
     * (100, 0.5, 0.999) -> 0.6550435163244297 */
    CLOSE(pb_stats_betainc(2, 3, 0.4), 0.5248, 1e-13);
    CLOSE(pb_stats_betainc(0.5, 0.5, 0.9), 0.7951672353008662, 1e-12);
    CLOSE(pb_stats_betainc(10, 20, 0.3), 0.3640040810719437, 1e-12);
    CLOSE(pb_stats_betainc(100, 0.5, 0.999), 0.6550435163244297, 1e-11);
    CLOSE(pb_stats_betainc(2, 3, 0), 0, 0);
    CLOSE(pb_stats_betainc(2, 3, 1), 1, 0);
    assert_true(isnan(pb_stats_betainc(2, 3, 1.5)));
    /* scipy.stats.norm.cdf(1.96) -> 0.9750021048517795; norm.cdf(-8) ->
     * 6.22096057427174e-16 */
    CLOSE(pb_stats_normal_cdf(1.96), 0.9750021048517795, 1e-14);
    CLOSE(pb_stats_normal_cdf(-8) / 6.22096057427174e-16, 1.0, 1e-12);
    CLOSE(pb_stats_normal_cdf(0), 0.5, 0);
}

static void test_stats__bootstrap_is_seeded_and_covers(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    pb_rng rng;
    double x[40], y[40];
    /* y is 1.5 times x's distribution: the true ratio of medians is 1.5 */
    pb_rng_seed(&rng, 42);
    for (int i = 0; i < 40; i++) {
        x[i] = 100 + 2 * pb_rng_normal(&rng);
        y[i] = 150 + 3 * pb_rng_normal(&rng);
    }
    double est, lo, hi, est2, lo2, hi2;
    assert_int_equal(pb_stats_bootstrap_ratio_ci(x, 40, y, 40, 0.95, 2000, 7, &est, &lo, &hi, &err),
                     0);
    assert_int_equal(
        pb_stats_bootstrap_ratio_ci(x, 40, y, 40, 0.95, 2000, 7, &est2, &lo2, &hi2, &err), 0);
    assert_true(est == est2 && lo == lo2 && hi == hi2);
    CLOSE(est, pb_stats_median(y, 40) / pb_stats_median(x, 40), 1e-15);
    assert_true(lo <= est && est <= hi);
    assert_true(lo < 1.5 && 1.5 < hi);
    assert_true(lo > 1.4 && hi < 1.6); /* separated samples: a tight interval */
    /* a different seed gives a (slightly) different interval */
    assert_int_equal(
        pb_stats_bootstrap_ratio_ci(x, 40, y, 40, 0.95, 2000, 8, &est2, &lo2, &hi2, &err), 0);
    assert_true(lo != lo2 || hi != hi2);
    /* a wider level gives a wider interval from the same resamples */
    assert_int_equal(
        pb_stats_bootstrap_ratio_ci(x, 40, y, 40, 0.99, 2000, 7, &est2, &lo2, &hi2, &err), 0);
    assert_true(lo2 <= lo && hi2 >= hi);
}

static void test_stats__bootstrap_rejects_bad_input(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    double est, lo, hi;
    const double x[] = {1, 2, 3}, z[] = {0, 1, 2}, n[] = {1, NAN, 3};
    assert_int_equal(pb_stats_bootstrap_ratio_ci(x, 3, x, 3, 1.0, 100, 1, &est, &lo, &hi, &err),
                     PB_EINVAL);
    assert_int_equal(pb_stats_bootstrap_ratio_ci(x, 3, x, 3, 0.9, 0, 1, &est, &lo, &hi, &err),
                     PB_EINVAL);
    assert_int_equal(pb_stats_bootstrap_ratio_ci(z, 3, x, 3, 0.9, 100, 1, &est, &lo, &hi, &err),
                     PB_EINVAL);
    assert_int_equal(pb_stats_bootstrap_ratio_ci(x, 3, n, 3, 0.9, 100, 1, &est, &lo, &hi, &err),
                     PB_EINVAL);
    assert_int_equal(pb_stats_bootstrap_ratio_ci(x, 0, x, 3, 0.9, 100, 1, &est, &lo, &hi, &err),
                     PB_EINVAL);
}

static void check_mk(const double *x, size_t n, double s, double var, double z, double p,
                     double slope, double icpt)
{
    pb_mann_kendall mk;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_stats_mann_kendall(x, n, &mk, &err), 0);
    CLOSE(mk.s, s, 0);
    CLOSE(mk.var_s, var, 1e-13);
    CLOSE(mk.z, z, 1e-12);
    if (p > 0)
        CLOSE(mk.p_value, p, 1e-10);
    else
        assert_true(mk.p_value < 1e-100);
    CLOSE(mk.sen_slope, slope, 1e-13);
    CLOSE(mk.sen_intercept, icpt, 1e-12);
    /* The slope-less variant gives the same test and no slope. */
    pb_mann_kendall t;
    assert_int_equal(pb_stats_mann_kendall_test(x, n, &t, &err), 0);
    assert_true(t.s == mk.s && t.var_s == mk.var_s && t.z == mk.z && t.p_value == mk.p_value);
    assert_true(isnan(t.sen_slope) && isnan(t.sen_intercept));
}

/*
 * References from the textbook formulas (Gilbert 1987; pymannkendall's
 * original_test and sens_slope), run with numpy/scipy 1.10.1 in /tmp:
 *   s = sum(sign(x[i+1:] - x[i])); var = (n(n-1)(2n+5) - sum t(t-1)(2t+5)) / 18
 *   z = (s-1)/sqrt(var) | (s+1)/sqrt(var) | 0; p = 2*(1 - norm.cdf(|z|))
 *   slope = median((x[j]-x[i])/(j-i) for i<j); icpt = median(x) - median(range(n))*slope
 */
static void test_stats__mann_kendall_matches_textbook(void **state)
{
    (void)state;
    /* -> S=57, var=209.66666666666666, z=3.8674377463354994,
     * p=0.00010998489353597485, slope=0.7321428571428572, icpt=2.4732142857142856 */
    const double x1[] = {3, 5, 4, 4, 6, 7, 6, 8, 9, 9, 10, 12};
    check_mk(x1, 12, 57, 209.66666666666666, 3.8674377463354994, 0.00010998489353597485,
             0.7321428571428572, 2.4732142857142856);
    /* -> S=-30, var=92, z=-3.0234590038275844, p=0.0024990288576112185,
     * slope=-0.23999999999999985, icpt=9.959999999999999 */
    const double x2[] = {10.0, 9.5, 9.7, 9.1, 8.8, 9.0, 8.2, 8.5, 7.9};
    check_mk(x2, 9, -30, 92, -3.0234590038275844, 0.0024990288576112185, -0.24, 9.96);
    /* alternating, heavy ties: S=5, var=91.66666666666667, z=0.4177863742936748,
     * p=0.6761033140231469, slope=0.0, icpt=1.5 */
    const double x3[] = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2};
    check_mk(x3, 10, 5, 91.66666666666667, 0.4177863742936748, 0.6761033140231469, 0, 1.5);
}

static void test_stats__mann_kendall_large_sen_slope_exact(void **state)
{
    (void)state;
    enum { N = 3000 }; /* 4.5e6 pairs: the sampled-bracket path */
    double *x = malloc(N * sizeof(double));
    assert_non_null(x);
    /* x = [i*0.003 + ((i*i*7919 + i*31) % 100003) / 10000.0 for i in range(3000)]
     * -> S=2142482, var=3001499166.6666665, z=39.10640247544613, p~0 (underflows
     * in 1-cdf), slope=0.0031210735228399057, icpt=4.88465025250156 */
    for (long i = 0; i < N; i++)
        x[i] = (double)i * 0.003 + (double)((i * i * 7919 + i * 31) % 100003) / 10000.0;
    check_mk(x, N, 2142482, 3001499166.6666665, 39.10640247544613, 0, 0.0031210735228399057,
             4.88465025250156);
    /* ties at the median slope: x = [((i*7919) % 13) * 1.0 for i in range(2500)]
     * -> S=2310, var=1726799624.6666667, z=0.055565210011376154,
     * p=0.955688180055652, slope=0.0, icpt=6.0 */
    for (long i = 0; i < 2500; i++)
        x[i] = (double)((i * 7919) % 13);
    check_mk(x, 2500, 2310, 1726799624.6666667, 0.055565210011376154, 0.955688180055652, 0, 6);
    free(x);
}

/*
 * Group-sequential bounds. References: Jennison & Turnbull (2000), Table
 * 2.1, Pocock's two-sided alpha 0.05 bound for 5 and 10 equally spaced looks
 * (2.413, 2.555; the one-sided 0.025 bound differs below 1e-4); the rest
 * from scipy 1.10: brentq on 1 - multivariate_normal.cdf(c w) - alpha, the
 * looks' covariance sqrt(n_i / n_j), abseps = releps = 1e-11 (1e-8 for six).
 */
static void test_stats__sequential_bound_matches_references(void **state)
{
    (void)state;
    double one[1] = {10}, two[2] = {1, 2}, three[3] = {10, 20, 80};
    double five[5] = {1, 2, 3, 4, 5}, ten[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    double six[6] = {10, 20, 30, 40, 50, 60};
    /* one look: the normal quantile, norm.isf(0.01) */
    CLOSE(pb_stats_sequential_bound(one, 1, 0.5, 0.01), 2.3263478740408408, 1e-9);
    CLOSE(pb_stats_sequential_bound(two, 2, 0.5, 0.01), 2.531108, 2e-5);
    CLOSE(pb_stats_sequential_bound(three, 3, 0.5, 0.01), 2.674341, 2e-5);
    CLOSE(pb_stats_sequential_bound(five, 5, 0.5, 0.025), 2.413180, 2e-5);
    CLOSE(pb_stats_sequential_bound(ten, 10, 0.5, 0.025), 2.555, 5e-4);
    /* other shapes: O'Brien-Fleming keeps nearly all of alpha for the last
     * look, Wang-Tsiatis 0.4 lies between */
    CLOSE(pb_stats_sequential_bound(three, 3, 0, 0.01), 2.326376, 2e-5);
    CLOSE(pb_stats_sequential_bound(three, 3, 0.4, 0.01), 2.453740, 2e-5);
    CLOSE(pb_stats_sequential_bound(six, 6, 0.4, 0.01), 2.617950, 2e-5);
    /* an early look that never crosses (its bound is 13 sigmas): the last
     * look's own quantile, norm.isf(0.05) */
    double far[2] = {1, 1000};
    CLOSE(pb_stats_sequential_bound(far, 2, 0.2, 0.05), 1.6448536269514722, 1e-6);
    /* bad input */
    double inf[2] = {1, INFINITY};
    assert_true(isnan(pb_stats_sequential_bound(inf, 2, 0.5, 0.01)));
    assert_true(isnan(pb_stats_sequential_bound(three, 0, 0.5, 0.01)));
    assert_true(isnan(pb_stats_sequential_bound(NULL, 3, 0.5, 0.01)));
    assert_true(isnan(pb_stats_sequential_bound(three, 3, 0.6, 0.01)));
    assert_true(isnan(pb_stats_sequential_bound(three, 3, 0.5, 0.5)));
    double unordered[3] = {10, 10, 20};
    assert_true(isnan(pb_stats_sequential_bound(unordered, 3, 0.5, 0.01)));
}

static void test_stats__mann_kendall_edge_cases(void **state)
{
    (void)state;
    pb_mann_kendall mk;
    pb_error err = PB_ERROR_INIT;
    const double two[] = {1, 2}, flat[] = {4, 4, 4, 4}, nan[] = {1, NAN, 3};
    assert_int_equal(pb_stats_mann_kendall(two, 2, &mk, &err), PB_EINVAL);
    assert_int_equal(pb_stats_mann_kendall(nan, 3, &mk, &err), PB_EINVAL);
    assert_int_equal(pb_stats_mann_kendall(flat, 4, &mk, &err), 0);
    CLOSE(mk.s, 0, 0);
    CLOSE(mk.p_value, 1, 0);
    CLOSE(mk.sen_slope, 0, 0);
}

static void test_stats__rng_is_deterministic_and_uniform(void **state)
{
    (void)state;
    pb_rng a, b;
    pb_rng_seed(&a, 123);
    pb_rng_seed(&b, 123);
    for (int i = 0; i < 100; i++)
        assert_true(pb_rng_next(&a) == pb_rng_next(&b));
    pb_rng_seed(&b, 124);
    assert_true(pb_rng_next(&a) != pb_rng_next(&b));
    /* bounded draws stay in range and hit every value; normals have mean ~0, sd ~1 */
    int seen[7] = {0};
    double sum = 0, sum2 = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t k = pb_rng_below(&a, 7);
        assert_true(k < 7);
        seen[k]++;
        double u = pb_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        double z = pb_rng_normal(&a);
        sum += z;
        sum2 += z * z;
    }
    for (int k = 0; k < 7; k++)
        assert_true(seen[k] > 2500 && seen[k] < 3200); /* expected 2857 */
    assert_true(fabs(sum / 20000) < 0.05);
    assert_true(fabs(sum2 / 20000 - 1) < 0.05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats__descriptive_match_python),
        cmocka_unit_test(test_stats__inputs_are_not_reordered),
        cmocka_unit_test(test_stats__too_small_gives_nan),
        cmocka_unit_test(test_stats__even_median_is_mean_of_middle),
        cmocka_unit_test(test_stats__quantiles_exclusive_like_python),
        cmocka_unit_test(test_stats__quantiles_reject_bad_input),
        cmocka_unit_test(test_stats__threshold_rule),
        cmocka_unit_test(test_stats__strictness_parse_and_ci_default),
        cmocka_unit_test(test_stats__mann_whitney_exact_small),
        cmocka_unit_test(test_stats__mann_whitney_exact_one_small_side),
        cmocka_unit_test(test_stats__mann_whitney_normal_with_ties),
        cmocka_unit_test(test_stats__mann_whitney_exact_upto_larger_samples),
        cmocka_unit_test(test_stats__mann_whitney_all_equal_is_p_one),
        cmocka_unit_test(test_stats__mann_whitney_large_samples),
        cmocka_unit_test(test_stats__mann_whitney_rejects_bad_input),
        cmocka_unit_test(test_stats__welch_matches_scipy),
        cmocka_unit_test(test_stats__welch_edge_cases),
        cmocka_unit_test(test_stats__distributions_match_scipy),
        cmocka_unit_test(test_stats__bootstrap_is_seeded_and_covers),
        cmocka_unit_test(test_stats__bootstrap_rejects_bad_input),
        cmocka_unit_test(test_stats__mann_kendall_matches_textbook),
        cmocka_unit_test(test_stats__mann_kendall_large_sen_slope_exact),
        cmocka_unit_test(test_stats__mann_kendall_edge_cases),
        cmocka_unit_test(test_stats__sequential_bound_matches_references),
        cmocka_unit_test(test_stats__rng_is_deterministic_and_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
