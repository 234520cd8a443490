/*
 * Unit tests of the changepoint module: hand-made series with known steps,
 * pure noise, a trend and outliers, in both significance modes.
 *
 * The energy statistics are checked against the naive O(n^2) definition
 * (Matteson & James 2014, alpha = 1), evaluated with /usr/bin/python3:
 *   def Q(v, t):
 *       L, R = v[:t], v[t:]; a, b = len(L), len(R)
 *       cross = sum(abs(i - j) for i in L for j in R)
 *       wl = sum(abs(L[i] - L[k]) for i in range(a) for k in range(i + 1, a))
 *       wr = sum(abs(R[i] - R[k]) for i in range(b) for k in range(i + 1, b))
 *       return a*b/len(v) * (2*cross/(a*b) - wl/(a*(a-1)/2) - wr/(b*(b-1)/2))
 * and the best split is max(range(minseg, len(v) - minseg + 1), key=Q).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "perfbisect/changepoint.h"
#include "perfbisect/stats.h"

static int detect(const double *x, size_t n, const pb_changepoint_options *opt,
                  pb_changepoint_list *out)
{
    pb_error err = PB_ERROR_INIT;
    int rc = pb_changepoint_detect(x, n, opt, out, &err);
    if (rc < 0)
        fail_msg("pb_changepoint_detect: %s", pb_error_message(&err));
    return rc;
}

/* level(i) + N(0, sd) noise from a seeded generator */
static void noisy(double *x, size_t n, uint64_t seed, double sd, double (*level)(size_t))
{
    pb_rng rng;
    pb_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = level(i) + sd * pb_rng_normal(&rng);
}

static double flat100(size_t i)
{
    (void)i;
    return 100;
}

static double step50(size_t i)
{
    return i < 50 ? 100 : 110;
}

static double two_steps(size_t i)
{
    return i < 60 ? 100 : i < 120 ? 105 : 98;
}

static double trend(size_t i)
{
    return 100 + 0.05 * (double)i;
}

static void test_changepoint__statistic_matches_naive_definition(void **state)
{
    (void)state;
    pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    opt.min_segment = 3;
    opt.parametric = 1; /* 12 and 20 points are too few for the rank test */
    /* x = [10,11,10,12,11,10,20,21,19,20,22,21]: best split 6, Q = 52.400000000000006 */
    const double x[] = {10, 11, 10, 12, 11, 10, 20, 21, 19, 20, 22, 21};
    detect(x, 12, &opt, &cps);
    assert_int_equal(cps.count, 1);
    assert_int_equal(cps.points[0].index, 6);
    assert_true(fabs(cps.points[0].statistic - 52.400000000000006) < 1e-9);
    assert_true(cps.points[0].mean_before == 64.0 / 6);
    assert_true(cps.points[0].median_after == 20.5);
    pb_changepoint_list_free(&cps);
    /* a bump: y below; best split of y is 7 (Q = 3.558333333333335), then of
     * y[7:] it is 14 (Q = 10.984615384615386) */
    const double y[] = {5.0, 5.5, 4.8, 5.2, 5.1, 4.9, 5.3, 6.9, 7.2, 7.0,
                        6.8, 7.1, 7.3, 6.7, 5.0, 5.2, 4.9, 5.1, 5.3, 4.8};
    detect(y, 20, &opt, &cps);
    assert_int_equal(cps.count, 2);
    assert_int_equal(cps.points[0].index, 7);
    assert_int_equal(cps.points[1].index, 14);
    assert_true(fabs(cps.points[0].statistic - 3.558333333333335) < 1e-9);
    assert_true(fabs(cps.points[1].statistic - 10.984615384615386) < 1e-9);
    /* before/after are the neighbouring segments, not the whole series */
    assert_true(cps.points[1].median_before == 7.0);
    assert_true(cps.points[1].median_after == 5.05);
    pb_changepoint_list_free(&cps);
}

static void test_changepoint__clean_step_found_at_right_index(void **state)
{
    (void)state;
    double x[100];
    noisy(x, 100, 1, 1.0, step50);
    for (unsigned perms = 0; perms <= 199; perms += 199) {
        pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
        pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
        opt.permutations = perms;
        detect(x, 100, &opt, &cps);
        assert_int_equal(cps.count, 1);
        assert_int_equal(cps.points[0].index, 50);
        assert_true(cps.points[0].p_value <= 0.01);
        assert_true(fabs(cps.points[0].change - 0.10) < 0.01); /* +10% */
        assert_true(fabs(cps.points[0].median_before - 100) < 0.5);
        assert_true(fabs(cps.points[0].mean_after - 110) < 0.5);
        pb_changepoint_list_free(&cps);
    }
}

static void test_changepoint__no_step_in_noise(void **state)
{
    (void)state;
    double x[200];
    int false_t = 0, false_perm = 0;
    for (uint64_t seed = 100; seed < 110; seed++) {
        noisy(x, 200, seed, 1.0, flat100);
        pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
        pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
        detect(x, 200, &opt, &cps);
        false_t += cps.count > 0;
        pb_changepoint_list_free(&cps);
        opt.permutations = 199;
        opt.seed = seed;
        detect(x, 200, &opt, &cps);
        false_perm += cps.count > 0;
        pb_changepoint_list_free(&cps);
    }
    assert_true(false_t <= 1);
    assert_true(false_perm <= 1);
}

static void test_changepoint__two_steps(void **state)
{
    (void)state;
    double x[180];
    noisy(x, 180, 2, 1.0, two_steps);
    for (unsigned perms = 0; perms <= 199; perms += 199) {
        pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
        pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
        opt.permutations = perms;
        detect(x, 180, &opt, &cps);
        assert_int_equal(cps.count, 2);
        assert_int_equal(cps.points[0].index, 60);
        assert_int_equal(cps.points[1].index, 120);
        assert_true(cps.points[0].change > 0.04 && cps.points[0].change < 0.06);
        assert_true(cps.points[1].change < -0.06 && cps.points[1].change > -0.08);
        pb_changepoint_list_free(&cps);
    }
}

static double bump(size_t i)
{
    return i >= 10 && i < 20 ? 110 : 100;
}

/* Up for ten points, then back: the first split's right side mixes both
 * levels; the look-ahead test still finds both edges with the rank test. */
static void test_changepoint__bump_found_with_rank_test(void **state)
{
    (void)state;
    double x[30];
    noisy(x, 30, 11, 1.0, bump);
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    detect(x, 30, NULL, &cps);
    assert_int_equal(cps.count, 2);
    assert_int_equal(cps.points[0].index, 10);
    assert_int_equal(cps.points[1].index, 20);
    assert_true(cps.points[0].change > 0.09 && cps.points[1].change < -0.08);
    pb_changepoint_list_free(&cps);
}

/* Benchmark noise is skewed (occasional slow runs): exponential noise must
 * not look like steps to the default rank test. */
static void test_changepoint__skewed_noise_no_false_steps(void **state)
{
    (void)state;
    double x[200];
    int found = 0;
    for (uint64_t seed = 300; seed < 320; seed++) {
        pb_rng rng;
        pb_rng_seed(&rng, seed);
        for (size_t i = 0; i < 200; i++)
            x[i] = 100 - 10 * log(1 - pb_rng_uniform(&rng));
        pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
        detect(x, 200, NULL, &cps);
        found += cps.count > 0;
        pb_changepoint_list_free(&cps);
    }
    assert_int_equal(found, 0);
}

/*
 * Documented behaviour: a linear trend (here +10% over 200 points, noise 1%)
 * is cut into a staircase of several small steps, none of which claims the
 * whole drift.
 */
static void test_changepoint__trend_is_a_staircase_not_one_step(void **state)
{
    (void)state;
    double x[200];
    noisy(x, 200, 3, 1.0, trend);
    pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    detect(x, 200, &opt, &cps);
    assert_true(cps.count >= 3);
    for (size_t i = 0; i < cps.count; i++) {
        assert_true(cps.points[i].change > 0);    /* every step goes up */
        assert_true(cps.points[i].change < 0.05); /* each well under the 10% drift */
    }
    pb_changepoint_list_free(&cps);
}

static void test_changepoint__single_spike_is_not_a_change(void **state)
{
    (void)state;
    double x[100];
    int found = 0;
    for (uint64_t seed = 200; seed < 210; seed++) {
        noisy(x, 100, seed, 1.0, flat100);
        x[10 + 8 * (seed - 200)] *= 3; /* one 3x outlier, at a different place each time */
        for (unsigned perms = 0; perms <= 199; perms += 199) {
            pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
            pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
            opt.permutations = perms;
            detect(x, 100, &opt, &cps);
            found += cps.count > 0;
            pb_changepoint_list_free(&cps);
        }
    }
    assert_int_equal(found, 0);
}

static void test_changepoint__permutations_are_seeded(void **state)
{
    (void)state;
    double x[120];
    noisy(x, 120, 5, 1.0, flat100);
    for (size_t i = 60; i < 120; i++)
        x[i] += 0.8; /* a weak step: the p-value depends on the shuffles */
    pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
    pb_changepoint_list a = PB_CHANGEPOINT_LIST_INIT, b = PB_CHANGEPOINT_LIST_INIT;
    opt.permutations = 499;
    opt.alpha = 0.05;
    opt.seed = 77;
    detect(x, 120, &opt, &a);
    detect(x, 120, &opt, &b);
    assert_int_equal(a.count, b.count);
    for (size_t i = 0; i < a.count; i++) {
        assert_int_equal(a.points[i].index, b.points[i].index);
        assert_true(a.points[i].p_value == b.points[i].p_value);
    }
    pb_changepoint_list_free(&a);
    pb_changepoint_list_free(&b);
}

static void test_changepoint__max_changepoints_and_min_segment(void **state)
{
    (void)state;
    double x[180];
    noisy(x, 180, 2, 1.0, two_steps);
    pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    opt.max_changepoints = 1;
    detect(x, 180, &opt, &cps);
    assert_int_equal(cps.count, 1);
    pb_changepoint_list_free(&cps);
    /* segments of at least 70 points cannot hold the 60-point plateaus' edges */
    opt.max_changepoints = 0;
    opt.min_segment = 70;
    detect(x, 180, &opt, &cps);
    for (size_t i = 0; i < cps.count; i++) {
        size_t prev = i ? cps.points[i - 1].index : 0;
        size_t next = i + 1 < cps.count ? cps.points[i + 1].index : 180;
        assert_true(cps.points[i].index - prev >= 70 && next - cps.points[i].index >= 70);
    }
    pb_changepoint_list_free(&cps);
}

static void test_changepoint__short_and_bad_input(void **state)
{
    (void)state;
    pb_changepoint_options opt = PB_CHANGEPOINT_OPTIONS_INIT;
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    pb_error err = PB_ERROR_INIT;
    const double x[] = {1, 1, 1, 1, 9, 9, 9, 9, 9};
    /* shorter than 2 * min_segment (10): nothing, not an error */
    assert_int_equal(pb_changepoint_detect(x, 9, NULL, &cps, &err), 0);
    assert_int_equal(cps.count, 0);
    assert_int_equal(pb_changepoint_detect(NULL, 0, NULL, &cps, &err), 0);
    assert_int_equal(cps.count, 0);
    /* constant segments differing: found, p = 0 (Welch) */
    opt.min_segment = 2;
    opt.parametric = 1;
    assert_int_equal(pb_changepoint_detect(x, 9, &opt, &cps, &err), 0);
    assert_int_equal(cps.count, 1);
    assert_int_equal(cps.points[0].index, 4);
    assert_true(cps.points[0].change == 8.0);
    pb_changepoint_list_free(&cps);
    /* an all-equal series has none */
    const double flat[] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    assert_int_equal(pb_changepoint_detect(flat, 12, NULL, &cps, &err), 0);
    assert_int_equal(cps.count, 0);
    const double withnan[] = {1, 2, 3, 4, 5, NAN, 7, 8, 9, 10, 11, 12};
    assert_int_equal(pb_changepoint_detect(withnan, 12, NULL, &cps, &err), PB_EINVAL);
    assert_int_equal(err.code, PB_EINVAL);
    opt.parametric = 0;
    opt.min_segment = 1;
    assert_int_equal(pb_changepoint_detect(x, 9, &opt, &cps, &err), PB_EINVAL);
    opt.min_segment = 5;
    opt.alpha = 1.5;
    assert_int_equal(pb_changepoint_detect(x, 9, &opt, &cps, &err), PB_EINVAL);
    opt.alpha = 0.01;
    opt.permutations = 1000000;
    assert_int_equal(pb_changepoint_detect(x, 9, &opt, &cps, &err), PB_EINVAL);
    pb_changepoint_list_free(&cps);
    pb_changepoint_list_free(NULL);
}

static void test_changepoint__long_series(void **state)
{
    (void)state;
    enum { N = 10000 };
    double *x = malloc(N * sizeof(double));
    assert_non_null(x);
    pb_rng rng;
    pb_rng_seed(&rng, 9);
    for (size_t i = 0; i < N; i++)
        x[i] = (i < 7000 ? 100 : 102) + pb_rng_normal(&rng);
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    detect(x, N, NULL, &cps);
    assert_int_equal(cps.count, 1);
    assert_true(cps.points[0].index >= 6995 && cps.points[0].index <= 7005);
    pb_changepoint_list_free(&cps);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changepoint__statistic_matches_naive_definition),
        cmocka_unit_test(test_changepoint__clean_step_found_at_right_index),
        cmocka_unit_test(test_changepoint__no_step_in_noise),
        cmocka_unit_test(test_changepoint__two_steps),
        cmocka_unit_test(test_changepoint__bump_found_with_rank_test),
        cmocka_unit_test(test_changepoint__skewed_noise_no_false_steps),
        cmocka_unit_test(test_changepoint__trend_is_a_staircase_not_one_step),
        cmocka_unit_test(test_changepoint__single_spike_is_not_a_change),
        cmocka_unit_test(test_changepoint__permutations_are_seeded),
        cmocka_unit_test(test_changepoint__max_changepoints_and_min_segment),
        cmocka_unit_test(test_changepoint__short_and_bad_input),
        cmocka_unit_test(test_changepoint__long_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
