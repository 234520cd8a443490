#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "perfbisect/check.h"

/* Exact values: 2 * sum_{i<=k} C(n,i) / 2^n, by hand; they equal
 * scipy.stats.binomtest(k, n, 0.5).pvalue. */
static void test_check__sign_test_matches_binomial(void **state)
{
    (void)state;
    assert_float_equal(pb_check_sign_test(10, 10), 2.0 / 1024, 1e-12);
    assert_float_equal(pb_check_sign_test(9, 10), 22.0 / 1024, 1e-12);
    assert_float_equal(pb_check_sign_test(8, 10), 112.0 / 1024, 1e-12);
    assert_float_equal(pb_check_sign_test(2, 10), 112.0 / 1024, 1e-12);
    assert_float_equal(pb_check_sign_test(5, 10), 1.0, 1e-12);
    /* binomtest(30, 40, 0.5).pvalue = 0.0022214337732293643 (scipy 1.10) */
    assert_float_equal(pb_check_sign_test(30, 40), 0.0022214337732293643, 1e-12);
}

static void test_check__threshold_decides_both_ways(void **state)
{
    (void)state;
    double slow[12] = {11, 12, 11.5, 12.2, 11.1, 11.9, 12.4, 11.3, 12.0, 11.7, 11.6, 12.1};
    double fast[12] = {9, 8.5, 9.1, 8.8, 9.3, 8.9, 9.0, 8.7, 9.2, 8.6, 9.4, 8.95};
    pb_check_decision d;
    assert_int_equal(pb_check_threshold(slow, 12, 10, 0, 0.01, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_BAD);
    assert_true(d.change_pct > 10);
    assert_int_equal(pb_check_threshold(fast, 12, 10, 0, 0.01, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_GOOD);
    /* A throughput: more is better, so the same numbers flip. */
    assert_int_equal(pb_check_threshold(slow, 12, 10, 1, 0.01, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_GOOD);
    assert_true(d.change_pct < -10);
    /* Below zero: a median of -5 over a threshold of -10 is 50% worse (of
     * |-10|), not -50%. */
    double neg[12];
    for (size_t i = 0; i < 12; i++)
        neg[i] = slow[i] - 17;
    assert_int_equal(pb_check_threshold(neg, 12, -10, 0, 0.01, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_BAD);
    assert_float_equal(d.change_pct, 100 * (d.median + 10) / 10, 1e-9);
    assert_true(d.change_pct > 40);
}

static void test_check__threshold_undecided_when_straddling(void **state)
{
    (void)state;
    double x[10] = {9, 11, 9.5, 10.5, 9.8, 10.2, 9.9, 10.1, 9.7, 10.3};
    pb_check_decision d;
    assert_int_equal(pb_check_threshold(x, 10, 10, 0, 0.01, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_UNDECIDED);
    assert_float_equal(d.p_value, 1.0, 1e-12);
}

static void test_check__baseline_slower_is_bad_same_is_good_when_final(void **state)
{
    (void)state;
    double base[10] = {10, 10.1, 9.9, 10.2, 9.8, 10.05, 9.95, 10.15, 9.85, 10};
    double slower[10] = {11, 11.1, 10.9, 11.2, 10.8, 11.05, 10.95, 11.15, 10.85, 11};
    double same[10] = {10.02, 9.97, 10.11, 9.88, 10.04, 9.93, 10.17, 9.86, 10.01, 9.99};
    pb_check_decision d;
    assert_int_equal(pb_check_baseline(base, 10, slower, 10, 0, 0.01, 0, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_BAD);
    assert_float_equal(d.change_pct, 10.0, 0.5);
    assert_int_equal(pb_check_baseline(base, 10, same, 10, 0, 0.01, 0, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_UNDECIDED);
    assert_int_equal(pb_check_baseline(base, 10, same, 10, 0, 0.01, 1, &d, NULL), 0);
    assert_int_equal(d.verdict, PB_CHECK_GOOD);
}

static void test_check__rejects_empty_and_nan(void **state)
{
    (void)state;
    double x[2] = {1, NAN};
    pb_check_decision d;
    assert_int_equal(pb_check_threshold(x, 0, 1, 0, 0.01, &d, NULL), PB_EINVAL);
    assert_int_equal(pb_check_threshold(x, 2, 1, 0, 0.01, &d, NULL), PB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check__sign_test_matches_binomial),
        cmocka_unit_test(test_check__threshold_decides_both_ways),
        cmocka_unit_test(test_check__threshold_undecided_when_straddling),
        cmocka_unit_test(test_check__baseline_slower_is_bad_same_is_good_when_final),
        cmocka_unit_test(test_check__rejects_empty_and_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
