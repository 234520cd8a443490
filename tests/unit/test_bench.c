/* Tests of the bench module: warmups and runs, failures, the summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfbisect/bench.h"

typedef struct seen {
    unsigned warmups, runs;
    double last;
} seen;

static void count_progress(void *ctx, const pb_bench_progress *p)
{
    seen *s = ctx;
    if (p->warmup)
        s->warmups++;
    else
        s->runs++;
    s->last = p->value;
}

static void test_bench__warmups_are_not_counted(void **state)
{
    (void)state;
    char dir[] = "/tmp/pb_bench_test_XXXXXX", path[600];
    pb_bench_options opt = PB_BENCH_OPTIONS_INIT;
    pb_metric *m = NULL;
    pb_error err = PB_ERROR_INIT;
    seen s = {0, 0, 0};
    double values[4] = {0};
    assert_non_null(mkdtemp(dir));
    /* Each run prints how many runs came before it. */
    assert_int_equal(pb_metric_parse("regex:n=([0-9]+)", &m, &err), 0);
    opt.runs = 4;
    opt.warmup = 2;
    opt.metric = m;
    opt.cwd = dir;
    opt.progress = count_progress;
    opt.progress_ctx = &s;
    assert_int_equal(pb_bench_run("n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; "
                                  "echo n=$n",
                                  &opt, values, &err),
                     0);
    assert_float_equal(values[0], 2, 0);
    assert_float_equal(values[3], 5, 0);
    assert_int_equal(s.warmups, 2);
    assert_int_equal(s.runs, 4);
    assert_float_equal(s.last, 5, 0);
    pb_metric_free(m);
    snprintf(path, sizeof(path), "%s/count", dir);
    unlink(path);
    rmdir(dir);
}

static void test_bench__first_failing_run_stops_with_reason(void **state)
{
    (void)state;
    char dir[] = "/tmp/pb_bench_test_XXXXXX", path[600];
    pb_bench_options opt = PB_BENCH_OPTIONS_INIT;
    pb_error err = PB_ERROR_INIT;
    seen s = {0, 0, 0};
    double values[10];
    assert_non_null(mkdtemp(dir));
    opt.runs = 10;
    opt.warmup = 0;
    opt.cwd = dir;
    opt.progress = count_progress;
    opt.progress_ctx = &s;
    /* The third run fails. */
    assert_int_equal(pb_bench_run("n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); "
                                  "echo $n > count; [ $n -lt 3 ] || { echo 'bad input' >&2; "
                                  "exit 1; }",
                                  &opt, values, &err),
                     PB_EINVAL);
    assert_string_equal(pb_error_message(&err),
                        "run 3 of 10: exited with status 1 (stderr: bad input)");
    assert_int_equal(s.runs, 2);
    snprintf(path, sizeof(path), "%s/count", dir);
    unlink(path);
    rmdir(dir);
}

static void test_bench__failing_warmup_and_missing_command(void **state)
{
    (void)state;
    pb_bench_options opt = PB_BENCH_OPTIONS_INIT;
    pb_error err = PB_ERROR_INIT;
    double values[10];
    assert_int_equal(pb_bench_run("pb_no_such_tool_q --fast", &opt, values, &err), PB_EINVAL);
    assert_string_equal(pb_error_message(&err),
                        "warmup run 1 of 1: command not found: pb_no_such_tool_q");
    opt.warmup = 0;
    opt.timeout_sec = 0.05;
    assert_int_equal(pb_bench_run("sleep 5", &opt, values, &err), PB_EINVAL);
    assert_string_equal(pb_error_message(&err), "run 1 of 10: timed out after 0.05 s");
    opt.runs = 0;
    assert_int_equal(pb_bench_run("true", &opt, values, &err), PB_EINVAL);
}

static void test_bench__metric_without_number_is_a_failure(void **state)
{
    (void)state;
    pb_bench_options opt = PB_BENCH_OPTIONS_INIT;
    pb_metric *m = NULL;
    pb_error err = PB_ERROR_INIT;
    double values[3];
    assert_int_equal(pb_metric_parse("regex:t=([0-9.]+)", &m, &err), 0);
    opt.runs = 3;
    opt.metric = m;
    assert_int_equal(pb_bench_run("echo hello", &opt, values, &err), PB_EINVAL);
    assert_string_equal(pb_error_message(&err), "warmup run 1 of 1: regex 't=([0-9.]+)' matched "
                                                "nothing in the output (6 bytes)");
    pb_metric_free(m);
}

static void test_bench__summary_matches_reference(void **state)
{
    (void)state;
    /*
     * Reference (Python 3.11 statistics + scipy 1.10):
     *   x = [10.1, 10.3, 9.9, 10.0, 10.2, 15.0, 10.1, 9.8]
     *   statistics.mean(x) = 10.675, statistics.median(x) = 10.1,
     *   statistics.stdev(x) = 1.7547893646491348,
     *   statistics.quantiles(x, n=20)[18] = 17.585,
     *   scipy.stats.median_abs_deviation(x, scale=1.0) = 0.15;
     *   beyond 10.1 +- 3 * 1.4826 * 0.15: [15.0] only.
     */
    const double x[] = {10.1, 10.3, 9.9, 10.0, 10.2, 15.0, 10.1, 9.8};
    pb_bench_summary s;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_bench_summarize(x, 8, &s, &err), 0);
    assert_int_equal(s.n, 8);
    assert_float_equal(s.mean, 10.675, 1e-12);
    assert_float_equal(s.median, 10.1, 1e-12);
    assert_float_equal(s.stddev, 1.7547893646491348, 1e-12);
    assert_float_equal(s.p95, 17.585, 1e-9);
    assert_float_equal(s.mad, 0.15, 1e-12);
    assert_float_equal(s.spread, 1.4826 * 0.15, 1e-12);
    assert_float_equal(s.min, 9.8, 0);
    assert_float_equal(s.max, 15.0, 0);
    assert_int_equal(s.outliers, 1);
    assert_true(pb_bench_is_outlier(&s, 15.0));
    assert_false(pb_bench_is_outlier(&s, 9.8));
}

static void test_bench__summary_of_degenerate_samples(void **state)
{
    (void)state;
    const double one[] = {3.0};
    const double same[] = {2.0, 2.0, 2.0, 9.0};
    pb_bench_summary s;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_bench_summarize(one, 1, &s, &err), 0);
    assert_float_equal(s.median, 3.0, 0);
    assert_true(isnan(s.stddev));
    assert_true(isnan(s.p95));
    assert_int_equal(s.outliers, 0);
    /* MAD 0: nothing is flagged, by the documented rule. */
    assert_int_equal(pb_bench_summarize(same, 4, &s, &err), 0);
    assert_float_equal(s.mad, 0, 0);
    assert_int_equal(s.outliers, 0);
    assert_int_equal(pb_bench_summarize(one, 0, &s, &err), PB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench__warmups_are_not_counted),
        cmocka_unit_test(test_bench__first_failing_run_stops_with_reason),
        cmocka_unit_test(test_bench__failing_warmup_and_missing_command),
        cmocka_unit_test(test_bench__metric_without_number_is_a_failure),
        cmocka_unit_test(test_bench__summary_matches_reference),
        cmocka_unit_test(test_bench__summary_of_degenerate_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
