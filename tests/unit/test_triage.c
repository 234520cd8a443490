/* Unit tests of the triage classifier and the history store. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "perfbisect/triage.h"

static const char *commit_names[40] = {
    "c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09",
    "c10", "c11", "c12", "c13", "c14", "c15", "c16", "c17", "c18", "c19",
    "c20", "c21", "c22", "c23", "c24", "c25", "c26", "c27", "c28", "c29",
    "c30", "c31", "c32", "c33", "c34", "c35", "c36", "c37", "c38", "c39",
};

/* A point per run: value v, failing when v > limit; commit i. */
static void fill(pb_triage_point *p, size_t n, const double *v, double limit)
{
    for (size_t i = 0; i < n; i++) {
        p[i].value = v[i];
        p[i].fail_value = NAN;
        p[i].commit = commit_names[i];
        p[i].run = commit_names[i];
        p[i].failed = v[i] > limit;
        p[i].passed = !p[i].failed;
    }
}

/* 20 runs: 10.0 then 16.0 from the 11th (c10), a little noise, limit 13. */
static void fill_step(pb_triage_point *p)
{
    double v[20];
    for (int i = 0; i < 20; i++)
        v[i] = (i < 10 ? 10.0 : 16.0) + 0.1 * (i % 3);
    fill(p, 20, v, 13.0);
}

static void test_triage__step_is_a_regression_with_commits(void **state)
{
    (void)state;
    pb_triage_point p[20];
    pb_triage_verdict out;
    fill_step(p);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(pb_triage_classify_series("t::x", p, 20, 0.013, 0, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_REGRESSION);
    assert_string_equal(out.last_good, "c09");
    assert_string_equal(out.first_bad, "c10");
    assert_int_equal(out.failures, 10);
    /* medians 10.1 and 16.1 exactly: +59.41% */
    assert_true(fabs(out.change_pct - 100 * 6.0 / 10.1) < 1e-9);
    /* the change point's p: scipy.stats.mannwhitneyu(a, b, alternative='two-sided').pvalue
     * = 0.000148513704729942, Bonferroni-corrected for the 15 splits with >= 3 points a side */
    assert_true(fabs(out.step_p - 15 * 0.00014851370472994207) < 1e-6);
    assert_int_equal(out.changepoints, 1);
    /* every value single-quoted for sh, the --bench command twice */
    assert_string_equal(
        out.action, "perfbisect run --good 'c09' --bad 'c10' --bench 'pytest '\\''t.py::x'\\'''");
}

/* The suggested command line, evaluated by sh, gives perfbisect exactly the
 * test's name and the commits, whatever they hold: an apostrophe, $(...). */
static void test_triage__bisect_command_is_quoted_for_sh(void **state)
{
    (void)state;
    static const struct {
        const char *id, *good, *bad, *action;
    } cases[] = {
        {"tests.perf.test_io::test_read[it's $(touch pwned)]", "v1.0'; touch pwned; '",
         "$(touch pwned)",
         "perfbisect run --good 'v1.0'\\''; touch pwned; '\\''' --bad '$(touch pwned)' --bench "
         "'pytest '\\''tests/perf/test_io.py::test_read[it'\\''\\'\\'''\\''s $(touch "
         "pwned)]'\\'''"},
        {"com.example.FooBench::bench'x", "c09", "c10",
         "perfbisect run --good 'c09' --bad 'c10' --bench 'mvn -q test "
         "-Dtest='\\''com.example.FooBench#bench'\\''\\'\\'''\\''x'\\'''"},
        /* Go (go-junit-report): the package's import path, a subtest */
        {"github.com/acme/cache::TestLRU/evict_100", "c09", "c10",
         "perfbisect run --good 'c09' --bad 'c10' --bench 'go test -count=1 -run "
         "'\\''^TestLRU$/^evict_100$'\\'' '\\''github.com/acme/cache'\\'''"},
        /* jest's "describe it": no known way to run it alone */
        {"Cache LRU::evicts old entries", "c09", "c10",
         "perfbisect run --good 'c09' --bad 'c10' --bench '<a command that runs this test>'"},
    };
    double v[20];
    pb_triage_point p[20];
    pb_triage_verdict out;
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    for (int i = 0; i < 20; i++)
        v[i] = (i < 10 ? 10.0 : 16.0) + 0.1 * (i % 3);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        fill(p, 20, v, 13.0);
        p[9].commit = cases[k].good;
        p[10].commit = cases[k].bad;
        assert_int_equal(pb_triage_classify_series(cases[k].id, p, 20, 0.013, 0, &o, &out, NULL),
                         0);
        assert_int_equal(out.cls, PB_TRIAGE_REGRESSION);
        assert_string_equal(out.action, cases[k].action);
    }
}

/* Without commits (or with one commit on both sides) no perfbisect command
 * line can be right: the action names the runs instead of "--good '?'". */
static void test_triage__a_step_without_commits_names_its_runs(void **state)
{
    (void)state;
    pb_triage_point p[20];
    pb_triage_verdict out;
    fill_step(p);
    for (int i = 0; i < 20; i++)
        p[i].commit = NULL;
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(pb_triage_classify_series("t::x", p, 20, 0.013, 0, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_REGRESSION);
    assert_null(strstr(out.action, "perfbisect run"));
    assert_non_null(strstr(out.action, "between runs c09 and c10: the reports name no commit"));
    for (int i = 0; i < 20; i++)
        p[i].commit = "same";
    assert_int_equal(pb_triage_classify_series("t::x", p, 20, 0.013, 0, &o, &out, NULL), 0);
    assert_non_null(strstr(out.action, "both ran the same commit"));
}

/* A command line too long for the verdict is not cut (a cut one could end
 * inside a quote and run the rest): the action says so instead. */
static void test_triage__bisect_command_too_long_is_not_cut(void **state)
{
    (void)state;
    char id[700];
    pb_triage_point p[20];
    pb_triage_verdict out;
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    memcpy(id, "m::test_", 8);
    memset(id + 8, '\'', sizeof(id) - 9);
    id[sizeof(id) - 1] = '\0';
    fill_step(p);
    assert_int_equal(pb_triage_classify_series(id, p, 20, 0.013, 0, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_REGRESSION);
    assert_non_null(strstr(out.action, "too long"));
    assert_null(strstr(out.action, "--bench"));
    assert_null(strchr(out.action, '\''));
}

static void test_triage__linear_drift_is_gradual(void **state)
{
    (void)state;
    double v[30];
    pb_triage_point p[30];
    pb_triage_verdict out;
    for (int i = 0; i < 30; i++)
        v[i] = 10.0 + 0.4 * i + 0.2 * ((i * 7) % 5 - 2);
    fill(p, 30, v, 18.0);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(pb_triage_classify_series("t::g", p, 30, 18.0, 0, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_GRADUAL);
    /* numpy: median of pairwise slopes = 0.4, median(x) = 15.7 -> 2.5478 %/run */
    assert_true(fabs(out.sen_slope - 0.4) < 1e-9);
    assert_true(fabs(out.slope_pct - 2.547770700636943) < 1e-9);
    assert_true(out.mk_p < 1e-6);
    /* first value over 18: i=20 gives 18.0 + 0.2*(140%5-2) = 17.6, i=21 -> 18.4 - 0.2 = 18.2 */
    assert_int_equal(out.crossed_index, 21);
    assert_string_equal(out.crossed_commit, "c21");
}

/* fill() for a throughput: failing when v < limit. */
static void fill_rate(pb_triage_point *p, size_t n, const double *v, double limit)
{
    fill(p, n, v, limit);
    for (size_t i = 0; i < n; i++) {
        p[i].failed = v[i] < limit;
        p[i].passed = !p[i].failed;
    }
}

/*
 * A throughput that fell 10% and fails under its minimum of 950 is a
 * regression, judged as a time that rose would be; the numbers come back
 * as measured. Named as a rate, or in its own unit (the failures sit below
 * the limit): the same verdict. It was "variance" (the step was a fall).
 * Medians: 1000 + i%3 before (sorted 0,0,0,0,1,1,1,2,2,2 -> 1001), 900 + i%3
 * after (-> 901); change -100/1001. The minimum for CI strictness (x2.0),
 * by python's statistics (quantiles(v, n=20)[0] = 900.0, stdev = 51.254):
 * (900 - 2 * 51.254) / 2 = 398.746.
 */
static void test_triage__a_falling_throughput_is_a_regression(void **state)
{
    (void)state;
    double v[20];
    pb_triage_point p[20];
    pb_triage_verdict out;
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    o.strictness = PB_STRICTNESS_CI;
    for (int i = 0; i < 20; i++)
        v[i] = (i < 10 ? 1000.0 : 900.0) + i % 3;
    fill_rate(p, 20, v, 950.0);
    pb_triage_unit units[] = {PB_TRIAGE_UNIT_RATE, PB_TRIAGE_UNIT_OWN};
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(
            pb_triage_classify_series("t::ops", p, 20, 950.0, units[k], &o, &out, NULL), 0);
        assert_int_equal(out.cls, PB_TRIAGE_REGRESSION);
        assert_true(out.lower_is_worse);
        assert_string_equal(out.first_bad, "c10");
        assert_true(fabs(out.before_median - 1001) < 1e-9 && fabs(out.after_median - 901) < 1e-9);
        assert_true(fabs(out.change_pct + 100.0 * 100 / 1001) < 1e-9);
        assert_true(fabs(out.limit - 950) < 1e-9 && fabs(out.median - 951) < 1e-9);
        assert_true(fabs(out.recommended - 398.74575755685146) < 1e-6);
    }
    /* A time whose failures are fast (it crashed early) still fails by rising. */
    for (int i = 0; i < 20; i++)
        v[i] = i % 4 == 3 ? 0.5 : 10.0 + 0.01 * i;
    fill(p, 20, v, 100.0);
    for (int i = 3; i < 20; i += 4)
        p[i].failed = 1, p[i].passed = 0;
    assert_int_equal(
        pb_triage_classify_series("t::crash", p, 20, NAN, PB_TRIAGE_UNIT_SECONDS, &o, &out, NULL),
        0);
    assert_false(out.lower_is_worse);
}

/* The drift test above mirrored (30 - v, failing under 12): gradual, the
 * slope -0.4 per run, -0.4 / median 14.3 = -2.797 %/run; crossed at c21. */
static void test_triage__a_throughput_drifting_down_is_gradual(void **state)
{
    (void)state;
    double v[30];
    pb_triage_point p[30];
    pb_triage_verdict out;
    for (int i = 0; i < 30; i++)
        v[i] = 30 - (10.0 + 0.4 * i + 0.2 * ((i * 7) % 5 - 2));
    fill_rate(p, 30, v, 12.0);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(
        pb_triage_classify_series("t::ops", p, 30, 12.0, PB_TRIAGE_UNIT_OWN, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_GRADUAL);
    assert_true(out.lower_is_worse);
    assert_true(fabs(out.sen_slope + 0.4) < 1e-9);
    assert_true(fabs(out.slope_pct + 100 * 0.4 / 14.3) < 1e-9);
    assert_int_equal(out.crossed_index, 21);
    assert_non_null(strstr(out.action, "falls 2.80% per run"));
    assert_non_null(strstr(out.action, "under the limit"));
}

static void test_triage__far_outliers_on_a_stable_centre_are_flaky(void **state)
{
    (void)state;
    double v[30];
    pb_triage_point p[30];
    pb_triage_verdict out;
    for (int i = 0; i < 30; i++)
        v[i] = 10.0 + 0.05 * ((i * 7) % 5);
    v[7] = 31.0;
    v[22] = 27.0;
    fill(p, 30, v, 14.0);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(pb_triage_classify_series("t::f", p, 30, 14.0, 0, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_FLAKY);
    assert_int_equal(out.failures, 2);
    assert_false(out.centre_of_all);
    assert_true(out.outlier_z > 4);
    assert_non_null(strstr(out.action, "retry"));
}

/* The same far outliers, but 8 of 30 runs: too often for chance, and no
 * step in time. Still flaky (intermittent), but "retry" would pass and hide
 * it: investigate (another machine, a slow path taken sometimes). */
static void test_triage__frequent_far_outliers_are_investigated(void **state)
{
    (void)state;
    double v[30];
    pb_triage_point p[30];
    pb_triage_verdict out;
    for (int i = 0; i < 30; i++)
        v[i] = i % 4 == 1 ? 31.0 : 10.0 + 0.05 * ((i * 7) % 5);
    fill(p, 30, v, 14.0);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(pb_triage_classify_series("t::f", p, 30, 14.0, 0, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_FLAKY);
    assert_int_equal(out.failures, 8);
    assert_non_null(strstr(out.action, "investigate: 8 of 30 runs"));
}

/*
 * Three runs at 10 then three failing at 20: too few a side for ranks to be
 * significant, but the failures are far out and they are the last runs, not
 * rare ones: a regression from the first of them, sized by the values (it
 * was "flaky, retry", its "centre" the median of all six).
 */
static void test_triage__a_few_failing_last_runs_far_out_are_a_regression(void **state)
{
    (void)state;
    double v[6] = {10.0, 10.02, 9.98, 20.0, 20.1, 19.9};
    pb_triage_point p[6];
    pb_triage_verdict out;
    fill(p, 6, v, 15.0);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(pb_triage_classify_series("t::s", p, 6, 15.0, 0, &o, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_REGRESSION);
    assert_string_equal(out.last_good, "c02");
    assert_string_equal(out.first_bad, "c03");
    assert_true(fabs(out.change_pct - 100) < 1e-9);
    assert_float_equal(out.centre, 10.0, 1e-12);
}

/* Failing in every run: no threshold at its own failing values (it was
 * "adjust the threshold to 15.32 ms" for a test failing at 15.32 ms). */
static void test_triage__failing_in_every_run_is_investigated(void **state)
{
    (void)state;
    double v[6] = {15.32, 15.3, 15.35, 15.31, 15.33, 15.32};
    pb_triage_point p[6];
    pb_triage_verdict out;
    fill(p, 6, v, 10.0);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(pb_triage_classify_series("t::a", p, 6, 10.0, 0, &o, &out, NULL), 0);
    assert_int_equal(out.failures, 6);
    assert_true(out.centre_of_all); /* no passing run: not "the passing runs' centre" */
    assert_null(strstr(out.action, "adjust the threshold"));
    assert_non_null(strstr(out.action, "failed in all 6 runs"));
}

/* One failure with a value among passes without: flaky, but not "far outliers"
 * of a centre that is the failure itself. */
static void test_triage__a_lone_failure_is_flaky_without_outlier_claims(void **state)
{
    (void)state;
    pb_triage_point p[6];
    pb_triage_verdict out;
    for (int i = 0; i < 6; i++) {
        p[i].value = p[i].fail_value = NAN;
        p[i].commit = p[i].run = commit_names[i];
        p[i].failed = i == 3;
        p[i].passed = !p[i].failed;
    }
    p[3].value = 0.0153;
    assert_int_equal(pb_triage_classify_series("t::lone", p, 6, 0.010, 1, NULL, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_FLAKY);
    assert_true(isnan(out.outlier_z));
    assert_null(strstr(out.action, "outliers"));
    assert_non_null(strstr(out.action, "retry: 1 of 6 runs failed"));
    /* One value has no spread: no coefficient of variation (it was 0.5%, the floor). */
    assert_true(isnan(out.robust_cv));
    assert_float_equal(out.centre, 0.0153, 1e-12);
}

static void test_triage__fail_and_pass_on_one_commit_is_flaky(void **state)
{
    (void)state;
    pb_triage_point p[8];
    pb_triage_verdict out;
    for (int i = 0; i < 8; i++) {
        p[i].value = p[i].fail_value = NAN; /* failures with no numbers */
        p[i].commit = i < 4 ? "same" : commit_names[i];
        p[i].run = commit_names[i];
        p[i].failed = i == 1 || i == 2;
        p[i].passed = !p[i].failed;
    }
    assert_int_equal(pb_triage_classify_series("t::s", p, 8, NAN, 1, NULL, &out, NULL), 0);
    assert_int_equal(out.cls, PB_TRIAGE_FLAKY);
    assert_int_equal(out.same_commit_passes, 2);
    assert_int_equal(out.reruns_passed, 0);
}

/* Passing runs at 5 s against a 1 s limit their failures quote ("took
 * 1.03s > limit 1.0s"): the values (JUnit's time, a whole test) are not what
 * the limit measures; a threshold of ~6.6 s from them was the advice. */
static void test_triage__values_above_the_quoted_limit_are_investigated(void **state)
{
    (void)state;
    double v[20];
    pb_triage_point p[20];
    pb_triage_verdict out;
    for (int i = 0; i < 20; i++)
        v[i] = 5.0 + 0.05 * ((i * 7) % 9);
    fill(p, 20, v, 100.0);
    p[6].failed = p[13].failed = 1;
    p[6].passed = p[13].passed = 0;
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    assert_int_equal(
        pb_triage_classify_series("t::w", p, 20, 1.0, PB_TRIAGE_UNIT_SECONDS, &o, &out, NULL), 0);
    assert_null(strstr(out.action, "adjust the threshold"));
    assert_non_null(strstr(out.action, "above the 1000 ms limit its failures quote"));
}

static void test_triage__wide_scatter_is_variance_with_threshold(void **state)
{
    (void)state;
    double v[40];
    pb_triage_point p[40];
    pb_triage_verdict out;
    pb_rng rng;
    pb_rng_seed(&rng, 42);
    for (int i = 0; i < 40; i++)
        v[i] = 20.0 * (1 + 0.2 * pb_rng_normal(&rng));
    fill(p, 40, v, 26.0);
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    o.strictness = PB_STRICTNESS_CI;
    assert_int_equal(pb_triage_classify_series("t::v", p, 40, 26.0, 0, &o, &out, NULL), 0);
    assert_true(out.failures > 0);
    assert_int_equal(out.cls, PB_TRIAGE_VARIANCE);
    assert_true(out.recommended == pb_stats_threshold(v, 40, PB_STRICTNESS_CI));
    assert_true(out.multiplier == 2.0);
    assert_non_null(strstr(out.action, "threshold"));
}

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void junit_run(const char *sub, const char *ts, const char *commit, double v, int fail)
{
    char path[256], text[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(text, sizeof(text),
             "<testsuite timestamp=\"%s\"><properties><property name=\"commit\" value=\"%s\"/>"
             "</properties><testcase classname=\"m\" name=\"t\"><properties><property "
             "name=\"duration_ms\" value=\"%g\"/></properties>%s</testcase>"
             "<testcase classname=\"m\" name=\"ok\"/></testsuite>",
             ts, commit, v, fail ? "<failure message=\"took 30ms, expected &lt; 20ms\"/>" : "");
    snprintf(path, sizeof(path), "%s/junit-a.xml", sub);
    write_file(path, text);
}

static void rm_rf(const char *path)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* A property named as a rate ("ops_per_sec") is no time, whatever its
 * suffix: it was read as seconds and shown as "847.1s". */
static void test_triage__a_rate_property_is_not_seconds(void **state)
{
    (void)state;
    char p1[300], p2[300], text[512];
    pb_error err = PB_ERROR_INIT;
    pb_triage *t = NULL;
    pb_triage_threshold *th = NULL;
    size_t n = 0;
    snprintf(dir, sizeof(dir), "/tmp/pb-triage-XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (int i = 1; i <= 2; i++) {
        char *path = i == 1 ? p1 : p2;
        snprintf(path, 300, "%s/r%d", dir, i);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(text, sizeof(text),
                 "<testsuite><testcase classname=\"m\" name=\"t\" time=\"1\"><properties>"
                 "<property name=\"ops_per_sec\" value=\"%d\"/></properties></testcase>"
                 "</testsuite>",
                 1000 + i);
        char name[64];
        snprintf(name, sizeof(name), "r%d/junit-a.xml", i);
        write_file(name, text);
    }
    assert_int_equal(pb_triage_new(&t, &err), 0);
    assert_int_equal(pb_triage_add_junit(t, p1, &err), 0);
    assert_int_equal(pb_triage_add_junit(t, p2, &err), 0);
    assert_int_equal(pb_triage_load(t, 1, &err), 0);
    assert_int_equal(pb_triage_thresholds(t, PB_STRICTNESS_DEFAULT, &th, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(th[0].seconds, 0);
    assert_float_equal(th[0].median, 1001.5, 1e-9);
    free(th);
    pb_triage_free(t);
    rm_rf(dir);
}

static void test_triage__store_orders_runs_and_survives_bad_files(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/pb-triage-XXXXXX");
    assert_non_null(mkdtemp(dir));
    /* history: 10 older runs at 10..19 ms */
    char hist[2048] = "run,commit,test,value,outcome\n";
    for (int i = 0; i < 10; i++) {
        size_t len = strlen(hist);
        snprintf(hist + len, sizeof(hist) - len, "h%d,h%d,m::t,%g,passed\n", i, i,
                 0.010 + 0.0001 * (i % 3));
    }
    write_file("history.csv", hist);
    junit_run("r1", "2024-01-02T00:00:00", "c1", 12, 0);
    junit_run("r2", "2024-01-01T00:00:00", "c1", 30, 1);
    write_file("r1/junit-broken.xml", "<testsuite><testcase name=\"x\">");
    pb_triage *t = NULL;
    pb_error err = PB_ERROR_INIT;
    char p1[256], p2[256], ph[256];
    snprintf(p1, sizeof(p1), "%s/r1", dir);
    snprintf(p2, sizeof(p2), "%s/r2", dir);
    snprintf(ph, sizeof(ph), "%s/history.csv", dir);
    assert_int_equal(pb_triage_new(&t, &err), 0);
    assert_int_equal(pb_triage_add_history(t, ph, &err), 0);
    assert_int_equal(pb_triage_add_junit(t, p1, &err), 0);
    assert_int_equal(pb_triage_add_junit(t, p2, &err), 0);
    assert_int_equal(pb_triage_load(t, 2, &err), 0);
    assert_int_equal(pb_triage_warning_count(t), 1);
    assert_non_null(strstr(pb_triage_warning(t, 0), "junit-broken.xml"));
    pb_triage_totals tot;
    pb_triage_get_totals(t, &tot);
    assert_int_equal(tot.runs, 12);
    assert_int_equal(tot.files, 3);
    assert_int_equal(tot.tests, 2);
    assert_int_equal(tot.failing_tests, 1);

    pb_triage_report *r = NULL;
    assert_int_equal(pb_triage_classify(t, NULL, &r, &err), 0);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->items[0].id, "m::t");
    assert_int_equal(r->items[0].runs, 12);
    /* r2 is older by its timestamp: the failure comes before the pass of the same commit */
    assert_string_equal(r->runs[10].label, p2);
    assert_int_equal(r->items[0].same_commit_passes, 1);
    assert_int_equal(r->items[0].cls, PB_TRIAGE_FLAKY);
    assert_true(fabs(r->items[0].limit - 0.020) < 1e-9);
    pb_triage_report_free(r);

    pb_triage_threshold *th = NULL;
    size_t n = 0;
    assert_int_equal(pb_triage_thresholds(t, PB_STRICTNESS_DEFAULT, &th, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(th[0].n, 12);
    free(th);
    pb_triage_free(t);

    /* the guide's rule on history alone: statistics.quantiles(x, n=20)[18] = 19.45,
     * statistics.stdev(x) = 3.0276503540974917 for x = 10..19, x0.5 strict = 12.752650354 */
    pb_triage *h = NULL;
    write_file("h2.csv", "a,c,m::u,10\nb,c,m::u,11\nc,c,m::u,12\nd,c,m::u,13\ne,c,m::u,14\n"
                         "f,c,m::u,15\ng,c,m::u,16\nh,c,m::u,17\ni,c,m::u,18\nj,c,m::u,19\n");
    snprintf(ph, sizeof(ph), "%s/h2.csv", dir);
    assert_int_equal(pb_triage_new(&h, &err), 0);
    assert_int_equal(pb_triage_add_history(h, ph, &err), 0);
    assert_int_equal(pb_triage_load(h, 1, &err), 0);
    assert_int_equal(pb_triage_thresholds(h, PB_STRICTNESS_STRICT, &th, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_true(fabs(th[0].recommended - 12.752650354097492) < 1e-9);
    free(th);
    pb_triage_free(h);

    /* a bad history line names its line */
    write_file("bad.csv", "a,c,m::u,10\nb,c,m::u,ten\n");
    snprintf(ph, sizeof(ph), "%s/bad.csv", dir);
    assert_int_equal(pb_triage_new(&h, &err), 0);
    assert_int_equal(pb_triage_add_history(h, ph, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "bad.csv:2:"));
    pb_triage_free(h);

    /* CSV as Python's csv module writes it: a byte-order mark before the
     * header, a parametrised id quoted for its comma, "" for a quote. */
    write_file("quoted.csv", "\xef\xbb\xbfrun,commit,test,value,outcome\n"
                             "r0,c0,\"m::t[1,\"\"x\"\"]\",0.010,passed\n"
                             "r1,c1, \"m::t[1,\"\"x\"\"]\" ,0.011,failed\n");
    snprintf(ph, sizeof(ph), "%s/quoted.csv", dir);
    assert_int_equal(pb_triage_new(&h, &err), 0);
    assert_int_equal(pb_triage_add_history(h, ph, &err), 0);
    assert_int_equal(pb_triage_load(h, 1, &err), 0);
    assert_int_equal(pb_triage_thresholds(h, PB_STRICTNESS_DEFAULT, &th, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(th[0].id, "m::t[1,\"x\"]");
    free(th);
    pb_triage_free(h);
    /* refused, with the line: a quote not closed, a negative time, a value
     * no float holds (1e308 became inf, then "unknown") */
    const char *refused[] = {"r0,c0,\"m::t,0.01\n", "r0,c0,m::t,-0.01\n", "r0,c0,m::t,1e308\n"};
    for (size_t i = 0; i < 3; i++) {
        write_file("refused.csv", refused[i]);
        snprintf(ph, sizeof(ph), "%s/refused.csv", dir);
        assert_int_equal(pb_triage_new(&h, &err), 0);
        assert_int_equal(pb_triage_add_history(h, ph, &err), PB_EINVAL);
        assert_non_null(strstr(err.message, "refused.csv:1:"));
        pb_triage_free(h);
    }
    rm_rf(dir);
}

/* One split file: tests "name" or "name!" (a failed attempt), times 1 ms apart. */
static void split_file(const char *path, const char *ts, const char *const *names, size_t n)
{
    char text[4096];
    size_t len = (size_t)snprintf(text, sizeof(text), "<testsuite timestamp=\"%s\">", ts);
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(names[i]);
        int fail = names[i][k - 1] == '!';
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "<testcase classname=\"m\" name=\"%.*s\" time=\"0.0%zu\">%s"
                                "</testcase>",
                                (int)(fail ? k - 1 : k), names[i], 10 + i,
                                fail ? "<failure message=\"slow\"/>" : "");
    }
    snprintf(text + len, sizeof(text) - len, "</testsuite>");
    write_file(path, text);
}

static pb_triage *load_runs(unsigned threads)
{
    pb_triage *t = NULL;
    pb_error err = PB_ERROR_INIT;
    char path[256];
    assert_int_equal(pb_triage_new(&t, &err), 0);
    for (int r = 1; r <= 3; r++) {
        snprintf(path, sizeof(path), "%s/r%d", dir, r);
        assert_int_equal(pb_triage_add_junit(t, path, &err), 0);
    }
    assert_int_equal(pb_triage_load(t, threads, &err), 0);
    return t;
}

/* Tests met in another order, missing, new, or rerun in a run are merged into the same
 * series, and the result does not depend on the number of threads. */
static void test_triage__store_merges_reordered_runs_alike_on_any_threads(void **state)
{
    (void)state;
    static const char *const a1[] = {"a1", "a2", "a3", "a4", "a5"};
    static const char *const b1[] = {"b1", "b2", "b3"};
    static const char *const a2[] = {"a5", "a4", "a3", "a2", "a1"};
    static const char *const b2[] = {"b1!", "b1", "b2", "b3"};
    static const char *const a3[] = {"a1", "a3", "a4", "a5", "a6"};
    static const char *const b3[] = {"b3", "b2", "b1!"};
    snprintf(dir, sizeof(dir), "/tmp/pb-triage-XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (int r = 1; r <= 3; r++) {
        char sub[300];
        snprintf(sub, sizeof(sub), "%s/r%d", dir, r);
        assert_int_equal(mkdir(sub, 0700), 0);
    }
    split_file("r1/junit-a.xml", "2024-01-01T00:00:00", a1, 5);
    split_file("r1/junit-b.xml", "2024-01-01T00:00:00", b1, 3);
    split_file("r2/junit-a.xml", "2024-01-02T00:00:00", a2, 5);
    split_file("r2/junit-b.xml", "2024-01-02T00:00:00", b2, 4);
    split_file("r3/junit-a.xml", "2024-01-03T00:00:00", a3, 5);
    split_file("r3/junit-b.xml", "2024-01-03T00:00:00", b3, 3);

    pb_triage *ts[3] = {NULL, NULL, NULL}; /* kept: the thresholds' ids point into them */
    pb_triage_threshold *th[3] = {NULL, NULL, NULL};
    size_t nth[3] = {0, 0, 0};
    for (unsigned threads = 1; threads <= 3; threads++) {
        pb_triage *t = ts[threads - 1] = load_runs(threads);
        pb_error err = PB_ERROR_INIT;
        pb_triage_totals tot;
        pb_triage_get_totals(t, &tot);
        assert_int_equal(tot.runs, 3);
        assert_int_equal(tot.files, 6);
        assert_int_equal(tot.testcases, 25);
        assert_int_equal(tot.attempts, 25);
        assert_int_equal(tot.tests, 9);
        assert_int_equal(tot.failing_tests, 1);
        pb_triage_report *r = NULL;
        assert_int_equal(pb_triage_classify(t, NULL, &r, &err), 0);
        assert_int_equal(r->n, 1);
        assert_string_equal(r->items[0].id, "m::b1");
        assert_int_equal(r->items[0].runs, 3);
        assert_int_equal(r->items[0].failures, 2);
        assert_int_equal(r->items[0].reruns_passed, 1);
        pb_triage_report_free(r);
        assert_int_equal(pb_triage_thresholds(t, PB_STRICTNESS_DEFAULT, &th[threads - 1],
                                              &nth[threads - 1], &err),
                         0);
        /* a6 has one value: no threshold */
        assert_int_equal(nth[threads - 1], 8);
        for (size_t i = 0; i < nth[threads - 1]; i++) {
            const pb_triage_threshold *x = &th[threads - 1][i];
            assert_int_equal(x->n, !strcmp(x->id, "m::a2") ? 2 : 3);
            if (threads > 1) {
                assert_string_equal(x->id, th[0][i].id);
                assert_memory_equal(&x->median, &th[0][i].median, sizeof(double));
                assert_memory_equal(&x->recommended, &th[0][i].recommended, sizeof(double));
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        free(th[i]);
        pb_triage_free(ts[i]);
    }
    rm_rf(dir);
}

/* A run whose testcase errored with time="0.000" (pytest: a setup error, a
 * crashed worker) measured nothing: its 0 is no value of the test. Runs
 * given as one directory, and runs some of which have no timestamp, are
 * warned about. */
static void test_triage__errored_zero_time_is_no_value_and_odd_runs_warn(void **state)
{
    (void)state;
    char path[300], text[512];
    pb_triage *t = NULL;
    pb_error err = PB_ERROR_INIT;
    pb_triage_threshold *th = NULL;
    size_t n = 0;
    snprintf(dir, sizeof(dir), "/tmp/pb-triage-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(pb_triage_new(&t, &err), 0);
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "%s/r%d", dir, i);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(text, sizeof(text),
                 "<testsuite%s><properties><property name=\"commit\" value=\"c%d\"/>"
                 "</properties><testcase classname=\"m\" name=\"t\" time=\"%s\">%s"
                 "</testcase></testsuite>",
                 i == 5 ? "" : " timestamp=\"2024-01-01T00:00:00\"", i, i == 3 ? "0.000" : "0.100",
                 i == 3 ? "<error message=\"worker crashed\"/>" : "");
        char name[64];
        snprintf(name, sizeof(name), "r%d/junit-a.xml", i);
        write_file(name, text);
        /* a second file in r0 from another commit: two CI runs given as one */
        if (i == 0)
            write_file("r0/junit-b.xml", "<testsuite><properties><property name=\"commit\" "
                                         "value=\"c9\"/></properties><testcase classname=\"m\" "
                                         "name=\"u\" time=\"1\"/></testsuite>");
        assert_int_equal(pb_triage_add_junit(t, path, &err), 0);
    }
    assert_int_equal(pb_triage_load(t, 1, &err), 0);
    assert_int_equal(pb_triage_warning_count(t), 2);
    const char *w0 = pb_triage_warning(t, 0), *w1 = pb_triage_warning(t, 1);
    const char *mixed = strstr(w0, "different commits") ? w0 : w1;
    const char *stamps = mixed == w0 ? w1 : w0;
    assert_non_null(strstr(mixed, "(c0, c9)"));
    assert_non_null(strstr(stamps, "1 of 6 runs have no timestamp"));
    assert_int_equal(pb_triage_thresholds(t, PB_STRICTNESS_DEFAULT, &th, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(th[i].id, "m::t")) {
            assert_int_equal(th[i].n, 5); /* the errored run's 0 is not among them */
            assert_float_equal(th[i].median, 0.100, 1e-6);
        }
    free(th);
    pb_triage_free(t);
    rm_rf(dir);
}

/* Threshold rows of runs given as JUnit files junit-<i>.xml (and a
 * history), each with one test timed `times[i]`, skipped when it is negative. */
static pb_triage_threshold *skip_runs(const char *history, const double *times, size_t nruns,
                                      size_t *n)
{
    char path[300], text[512];
    pb_triage *t = NULL;
    pb_error err = PB_ERROR_INIT;
    pb_triage_threshold *th = NULL;
    snprintf(dir, sizeof(dir), "/tmp/pb-triage-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(pb_triage_new(&t, &err), 0);
    if (history) {
        write_file("history.csv", history);
        snprintf(path, sizeof(path), "%s/history.csv", dir);
        assert_int_equal(pb_triage_add_history(t, path, &err), 0);
    }
    for (size_t i = 0; i < nruns; i++) {
        int skip = times[i] < 0;
        snprintf(text, sizeof(text),
                 "<testsuite name=\"pytest\" timestamp=\"2024-01-0%zuT00:00:00\"><properties>"
                 "<property name=\"commit\" value=\"c%zu\"/></properties>"
                 "<testcase classname=\"tests.test_gpu\" name=\"test_bench\" time=\"%.3f\">%s"
                 "</testcase></testsuite>",
                 i + 1, i + 2, skip ? 0.0 : times[i], skip ? "<skipped message=\"no GPU\"/>" : "");
        char name[64];
        snprintf(name, sizeof(name), "junit-%zu.xml", i);
        write_file(name, text);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(pb_triage_add_junit(t, path, &err), 0);
    }
    assert_int_equal(pb_triage_load(t, 1, &err), 0);
    assert_int_equal(pb_triage_thresholds(t, PB_STRICTNESS_DEFAULT, &th, n, &err), 0);
    pb_triage_free(t);
    rm_rf(dir);
    return th;
}

/* A skipped run measured nothing: pytest times a skip (time="0.000"), and
 * those zeros were values, so a benchmark skipped on the runners without a
 * GPU got a spread, and a threshold, twice as wide as its own. Nor has a
 * history line's skipped run a value. */
static void test_triage__skipped_runs_give_no_value(void **state)
{
    (void)state;
    size_t n = 0;
    const double times[] = {1.0, 1.0, -1, 1.0, -1, 1.0};
    pb_triage_threshold *th = skip_runs(NULL, times, 6, &n);
    assert_int_equal(n, 1);
    assert_int_equal(th[0].n, 4);
    assert_float_equal(th[0].median, 1.0, 1e-6);
    assert_float_equal(th[0].stddev, 0.0, 1e-6);
    free(th);
    th = skip_runs("a,c0,m::t,2\nb,c1,m::t,2\nc,c2,m::t,0,skipped\nd,c3,m::t,2\n", NULL, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(th[0].n, 3);
    assert_float_equal(th[0].stddev, 0.0, 1e-6);
    free(th);
}

/* The history's values are seconds, and so are the reports' times: they are
 * one series. A test with a history lost every report's time (threshold
 * --junit ... --history past.csv, the manual's example, used the past only). */
static void test_triage__history_and_report_times_are_one_series(void **state)
{
    (void)state;
    size_t n = 0;
    const double times[] = {1.1, 1.2, 1.3};
    pb_triage_threshold *th =
        skip_runs("h0,c0,tests.test_gpu::test_bench,1.0\nh1,c1,tests.test_gpu::test_bench,1.0\n",
                  times, 3, &n);
    assert_int_equal(n, 1);
    assert_int_equal(th[0].n, 5);
    assert_float_equal(th[0].median, 1.1, 1e-6);
    free(th);
}

static void test_triage__nothing_readable_is_an_error(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/pb-triage-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file("junit-0.xml", "\x01\x02 not xml");
    pb_triage *t = NULL;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_triage_new(&t, &err), 0);
    assert_int_equal(pb_triage_add_junit(t, dir, &err), 0);
    assert_int_equal(pb_triage_load(t, 2, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "junit-0.xml"));
    assert_int_equal(pb_triage_add_junit(t, "/nonexistent/dir", &err), PB_ENOTFOUND);
    pb_triage_free(t);
    /* Gradle's layout: the run's reports one level down, in two tasks */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/gradle", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("gradle/build.log", "not a report");
    for (int i = 0; i < 2; i++) {
        char task[64];
        snprintf(task, sizeof task, "gradle/%s", i ? "integrationTest" : "test");
        snprintf(sub, sizeof sub, "%s/%s", dir, task);
        assert_int_equal(mkdir(sub, 0700), 0);
        snprintf(task, sizeof task, "gradle/%s/TEST-m.xml", i ? "integrationTest" : "test");
        write_file(task, i ? "<testsuite><testcase classname=\"m\" name=\"b\" time=\"1\"/>"
                             "</testsuite>"
                           : "<testsuite><testcase classname=\"m\" name=\"a\" time=\"1\"/>"
                             "</testsuite>");
    }
    snprintf(sub, sizeof sub, "%s/gradle", dir);
    assert_int_equal(pb_triage_new(&t, &err), 0);
    assert_int_equal(pb_triage_add_junit(t, sub, &err), 0);
    assert_int_equal(pb_triage_load(t, 1, &err), 0);
    pb_triage_totals tot;
    pb_triage_get_totals(t, &tot);
    assert_int_equal(tot.runs, 1);
    assert_int_equal(tot.files, 2);
    assert_int_equal(tot.tests, 2);
    pb_triage_free(t);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_triage__step_is_a_regression_with_commits),
        cmocka_unit_test(test_triage__bisect_command_is_quoted_for_sh),
        cmocka_unit_test(test_triage__a_step_without_commits_names_its_runs),
        cmocka_unit_test(test_triage__bisect_command_too_long_is_not_cut),
        cmocka_unit_test(test_triage__linear_drift_is_gradual),
        cmocka_unit_test(test_triage__a_falling_throughput_is_a_regression),
        cmocka_unit_test(test_triage__a_throughput_drifting_down_is_gradual),
        cmocka_unit_test(test_triage__far_outliers_on_a_stable_centre_are_flaky),
        cmocka_unit_test(test_triage__frequent_far_outliers_are_investigated),
        cmocka_unit_test(test_triage__a_few_failing_last_runs_far_out_are_a_regression),
        cmocka_unit_test(test_triage__failing_in_every_run_is_investigated),
        cmocka_unit_test(test_triage__a_lone_failure_is_flaky_without_outlier_claims),
        cmocka_unit_test(test_triage__fail_and_pass_on_one_commit_is_flaky),
        cmocka_unit_test(test_triage__values_above_the_quoted_limit_are_investigated),
        cmocka_unit_test(test_triage__wide_scatter_is_variance_with_threshold),
        cmocka_unit_test(test_triage__a_rate_property_is_not_seconds),
        cmocka_unit_test(test_triage__store_orders_runs_and_survives_bad_files),
        cmocka_unit_test(test_triage__store_merges_reordered_runs_alike_on_any_threads),
        cmocka_unit_test(test_triage__errored_zero_time_is_no_value_and_odd_runs_warn),
        cmocka_unit_test(test_triage__nothing_readable_is_an_error),
        cmocka_unit_test(test_triage__skipped_runs_give_no_value),
        cmocka_unit_test(test_triage__history_and_report_times_are_one_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
