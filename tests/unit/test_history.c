/*
 * test_history.c — CI reports into history rows (JUnit, Google Benchmark,
 * hyperfine, pytest-benchmark), their errors, and the steps of each
 * benchmark's series.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "perfbisect/history.h"

#define NOW ((int64_t)1700000000)

static const pb_history_import_options no_opt = {NULL, NULL, 0, NOW};

/* |got - want| within a relative 1e-12 (absolute for 0). */
static void assert_near(double got, double want)
{
    double tol = want != 0 ? 1e-12 * fabs(want) : 1e-15;
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void expect_row(const pb_history_rows *rows, size_t i, const char *bench, double value,
                       const char *commit, const char *branch, int64_t timestamp,
                       const char *source)
{
    assert_true(i < rows->n);
    const pb_store_history_row *r = &rows->rows[i];
    assert_string_equal(r->benchmark, bench);
    assert_near(r->value, value);
    assert_string_equal(r->commit, commit);
    assert_string_equal(r->branch, branch);
    assert_int_equal(r->timestamp, timestamp);
    assert_string_equal(r->unit, "s");
    assert_string_equal(r->source, source);
}

static int read_mem(pb_history_format f, const char *name, const char *text,
                    const pb_history_import_options *opt, pb_history_rows *out, pb_error *err)
{
    return pb_history_read_mem(f, name, text, strlen(text), opt, out, err);
}

static void test_history__format_names(void **state)
{
    (void)state;
    assert_string_equal(pb_history_format_name(PB_HISTORY_JUNIT), "junit");
    assert_string_equal(pb_history_format_name(PB_HISTORY_GBENCH), "gbench");
    assert_string_equal(pb_history_format_name(PB_HISTORY_HYPERFINE), "hyperfine");
    assert_string_equal(pb_history_format_name(PB_HISTORY_PYTEST_BENCHMARK), "pytest-benchmark");
    assert_string_equal(pb_history_format_name((pb_history_format)42), "unknown");
}

/* ---- Google Benchmark -------------------------------------------------- */

static const char gbench_json[] =
    "{\"context\": {\"date\": \"2024-03-01T10:00:00+01:00\", \"host_name\": \"ci\","
    " \"library_build_type\": \"release\"},"
    " \"benchmarks\": ["
    "  {\"name\": \"BM_a/1\", \"run_name\": \"BM_a/1\", \"run_type\": \"iteration\","
    "   \"repetitions\": 2, \"repetition_index\": 0, \"iterations\": 1000,"
    "   \"real_time\": 1500, \"cpu_time\": 1400, \"time_unit\": \"ns\"},"
    "  {\"name\": \"BM_a/1\", \"run_name\": \"BM_a/1\", \"run_type\": \"iteration\","
    "   \"repetitions\": 2, \"repetition_index\": 1, \"iterations\": 1000,"
    "   \"real_time\": 2.5, \"cpu_time\": 2.4, \"time_unit\": \"us\"},"
    "  {\"name\": \"BM_a/1_mean\", \"run_name\": \"BM_a/1\", \"run_type\": \"aggregate\","
    "   \"aggregate_name\": \"mean\", \"real_time\": 2000, \"time_unit\": \"ns\"},"
    "  {\"name\": \"BM_a/1_stddev\", \"run_name\": \"BM_a/1\", \"run_type\": \"aggregate\","
    "   \"aggregate_name\": \"stddev\", \"real_time\": 500, \"time_unit\": \"ns\"},"
    "  {\"name\": \"BM_err\", \"run_type\": \"iteration\", \"error_occurred\": true,"
    "   \"error_message\": \"boom\", \"real_time\": 0, \"time_unit\": \"ns\"},"
    "  {\"name\": \"BM_ms\", \"real_time\": 3, \"time_unit\": \"ms\"},"
    "  {\"name\": \"BM_s\", \"run_type\": \"iteration\", \"error_occurred\": false,"
    "   \"real_time\": 0.25, \"time_unit\": \"s\"},"
    "  {\"name\": \"BM_unit\", \"run_type\": \"iteration\", \"real_time\": 7,"
    "   \"time_unit\": \"fortnights\"},"
    "  {\"name\": \"BM_notime\", \"run_type\": \"iteration\", \"time_unit\": \"ns\"},"
    "  {\"run_type\": \"iteration\", \"real_time\": 9, \"time_unit\": \"ns\"},"
    "  {\"name\": \"BM_default_unit\", \"real_time\": 4},"
    "  {\"name\": \"BM_skip\", \"run_type\": \"iteration\", \"skipped\": true,"
    "   \"skip_message\": \"no GPU\", \"iterations\": 0, \"real_time\": 0, \"time_unit\": \"ns\"},"
    "  {\"name\": \"BM_old_mean\", \"aggregate_name\": \"mean\", \"real_time\": 5}"
    " ]}";

/* Iterations kept (in seconds); aggregates (also those of reports older
 * than run_type), errored and skipped runs left out; the report's date
 * (+01:00) is the time of every row. */
static void test_history__gbench_iterations_in_seconds(void **state)
{
    (void)state;
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(read_mem(PB_HISTORY_GBENCH, "gb.json", gbench_json, &no_opt, &rows, &err), 0);
    assert_int_equal(rows.n, 5);
    const int64_t t = 1709283600; /* 2024-03-01T09:00:00Z */
    expect_row(&rows, 0, "BM_a/1", 1.5e-6, "", "", t, "gb.json");
    expect_row(&rows, 1, "BM_a/1", 2.5e-6, "", "", t, "gb.json");
    expect_row(&rows, 2, "BM_ms", 3e-3, "", "", t, "gb.json");
    expect_row(&rows, 3, "BM_s", 0.25, "", "", t, "gb.json");
    expect_row(&rows, 4, "BM_default_unit", 4e-9, "", "", t, "gb.json"); /* ns by default */
    pb_history_rows_free(&rows);
    assert_null(rows.rows);
    assert_int_equal(rows.n, 0);
    assert_int_equal(rows.cap, 0);
    pb_history_rows_free(&rows); /* again: still fine */
    pb_history_rows_free(NULL);
}

static void test_history__gbench_options_override_the_report(void **state)
{
    (void)state;
    pb_history_import_options opt = {"0123abc", "main", 42, NOW};
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    assert_int_equal(read_mem(PB_HISTORY_GBENCH, "gb.json", gbench_json, &opt, &rows, NULL), 0);
    assert_int_equal(rows.n, 5);
    for (size_t i = 0; i < rows.n; i++) {
        assert_string_equal(rows.rows[i].commit, "0123abc");
        assert_string_equal(rows.rows[i].branch, "main");
        assert_int_equal(rows.rows[i].timestamp, 42);
    }
    pb_history_rows_free(&rows);
}

/* No date, or one that does not parse: `now`. */
static void test_history__gbench_without_a_date_is_now(void **state)
{
    (void)state;
    const char *nodate = "{\"context\": {}, \"benchmarks\": [{\"name\": \"BM_x\", \"run_type\": "
                         "\"iteration\", \"real_time\": 10, \"time_unit\": \"us\"}]}";
    const char *baddate = "{\"context\": {\"date\": \"04/25/19 10:53:11\"}, \"benchmarks\": "
                          "[{\"name\": \"BM_x\", \"real_time\": 10, \"time_unit\": \"us\"}]}";
    const char *nocontext = "{\"benchmarks\": [{\"name\": \"BM_x\", \"real_time\": 10, "
                            "\"time_unit\": \"us\"}]}";
    const char *texts[] = {nodate, baddate, nocontext};
    for (size_t i = 0; i < 3; i++) {
        pb_history_rows rows = PB_HISTORY_ROWS_INIT;
        pb_error err = PB_ERROR_INIT;
        assert_int_equal(read_mem(PB_HISTORY_GBENCH, "x.json", texts[i], &no_opt, &rows, &err), 0);
        assert_int_equal(rows.n, 1);
        expect_row(&rows, 0, "BM_x", 1e-5, "", "", NOW, "x.json");
        pb_history_rows_free(&rows);
    }
    /* commit and branch given, the time not: the report's time stays */
    pb_history_import_options opt = {"c1", NULL, 0, NOW};
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    assert_int_equal(read_mem(PB_HISTORY_GBENCH, "gb.json", gbench_json, &opt, &rows, NULL), 0);
    assert_int_equal(rows.rows[0].timestamp, 1709283600);
    assert_string_equal(rows.rows[0].commit, "c1");
    assert_string_equal(rows.rows[0].branch, "");
    pb_history_rows_free(&rows);
}

/* ---- hyperfine --------------------------------------------------------- */

static void test_history__hyperfine_every_time_or_the_mean(void **state)
{
    (void)state;
    const char *json =
        "{\"results\": ["
        " {\"command\": \"sleep 0.1\", \"mean\": 0.105, \"stddev\": 0.004, \"median\": 0.105,"
        "  \"user\": 0.001, \"system\": 0.002, \"min\": 0.1, \"max\": 0.11,"
        "  \"times\": [0.1, \"x\", 0.11, null, 0.105], \"exit_codes\": [0, 0, 0]},"
        " {\"command\": \"true\", \"mean\": 0.002},"
        " {\"command\": \"empty\", \"mean\": 0.5, \"times\": []},"
        " {\"mean\": 1.0, \"times\": [1.0]},"
        " {\"command\": \"nothing\"}"
        "]}";
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(read_mem(PB_HISTORY_HYPERFINE, "hf.json", json, &no_opt, &rows, &err), 0);
    assert_int_equal(rows.n, 5);
    expect_row(&rows, 0, "sleep 0.1", 0.1, "", "", NOW, "hf.json");
    expect_row(&rows, 1, "sleep 0.1", 0.11, "", "", NOW, "hf.json");
    expect_row(&rows, 2, "sleep 0.1", 0.105, "", "", NOW, "hf.json");
    expect_row(&rows, 3, "true", 0.002, "", "", NOW, "hf.json");
    expect_row(&rows, 4, "empty", 0.5, "", "", NOW, "hf.json");
    pb_history_rows_free(&rows);

    /* the options' commit, branch and time */
    pb_history_import_options opt = {"feed", "dev", 1234, NOW};
    assert_int_equal(read_mem(PB_HISTORY_HYPERFINE, "hf.json", json, &opt, &rows, &err), 0);
    assert_int_equal(rows.n, 5);
    expect_row(&rows, 4, "empty", 0.5, "feed", "dev", 1234, "hf.json");
    pb_history_rows_free(&rows);
}

/* ---- pytest-benchmark -------------------------------------------------- */

static void test_history__pytest_benchmark_rounds_and_commit_info(void **state)
{
    (void)state;
    const char *json =
        "{\"machine_info\": {\"node\": \"ci\"},"
        " \"commit_info\": {\"id\": \"deadbeef\", \"time\": \"2023-06-15T12:00:00+00:00\","
        "  \"author_time\": \"2023-06-15T12:00:00+00:00\", \"dirty\": false,"
        "  \"project\": \"p\", \"branch\": \"main\"},"
        " \"benchmarks\": ["
        "  {\"group\": null, \"name\": \"test_a\", \"fullname\": \"tests/test_x.py::test_a\","
        "   \"params\": null, \"stats\": {\"min\": 0.01, \"max\": 0.03, \"mean\": 0.02,"
        "   \"rounds\": 3, \"data\": [0.01, 0.02, 0.03]}},"
        "  {\"name\": \"test_b\", \"stats\": {\"mean\": 0.5, \"rounds\": 1}},"
        "  {\"name\": \"test_c\", \"fullname\": \"tests/test_x.py::test_c\","
        "   \"stats\": {\"mean\": 0.7, \"data\": []}},"
        "  {\"stats\": {\"mean\": 0.9}},"
        "  {\"name\": \"test_nostats\"}"
        " ],"
        " \"datetime\": \"2023-06-15T12:30:45.123456\", \"version\": \"4.0.0\"}";
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(read_mem(PB_HISTORY_PYTEST_BENCHMARK, "pb.json", json, &no_opt, &rows, &err),
                     0);
    assert_int_equal(rows.n, 5);
    const int64_t t = 1686832245; /* 2023-06-15T12:30:45Z, the fraction dropped */
    expect_row(&rows, 0, "tests/test_x.py::test_a", 0.01, "deadbeef", "main", t, "pb.json");
    expect_row(&rows, 1, "tests/test_x.py::test_a", 0.02, "deadbeef", "main", t, "pb.json");
    expect_row(&rows, 2, "tests/test_x.py::test_a", 0.03, "deadbeef", "main", t, "pb.json");
    expect_row(&rows, 3, "test_b", 0.5, "deadbeef", "main", t, "pb.json");
    expect_row(&rows, 4, "tests/test_x.py::test_c", 0.7, "deadbeef", "main", t, "pb.json");
    pb_history_rows_free(&rows);

    /* the options win; without commit_info nor datetime, none and `now` */
    pb_history_import_options opt = {"cafe", "rel", 7, NOW};
    assert_int_equal(read_mem(PB_HISTORY_PYTEST_BENCHMARK, "pb.json", json, &opt, &rows, &err), 0);
    expect_row(&rows, 0, "tests/test_x.py::test_a", 0.01, "cafe", "rel", 7, "pb.json");
    pb_history_rows_free(&rows);
    const char *bare = "{\"benchmarks\": [{\"name\": \"t\", \"stats\": {\"mean\": 2}}]}";
    assert_int_equal(read_mem(PB_HISTORY_PYTEST_BENCHMARK, "b.json", bare, &no_opt, &rows, &err),
                     0);
    assert_int_equal(rows.n, 1);
    expect_row(&rows, 0, "t", 2.0, "", "", NOW, "b.json");
    pb_history_rows_free(&rows);
}

/* ---- JUnit ------------------------------------------------------------- */

static const char junit_xml[] =
    "<?xml version=\"1.0\"?><testsuites>"
    "<testsuite name=\"suite\" timestamp=\"2024-01-02T03:04:05\"><properties>"
    "<property name=\"commit\" value=\"c0ffee1\"/></properties>"
    "<testcase classname=\"pkg.T\" name=\"fast\" time=\"0.5\"/>"
    "<testcase classname=\"pkg.T\" name=\"notime\"/>"
    "<testcase classname=\"pkg.T\" name=\"failed\" time=\"1\"><failure message=\"x\"/>"
    "</testcase>"
    "<testcase classname=\"pkg.T\" name=\"error\" time=\"1\"><error message=\"x\"/></testcase>"
    "<testcase classname=\"pkg.T\" name=\"skip\" time=\"0.1\"><skipped/></testcase>"
    "<testcase classname=\"pkg.T\" name=\"flaky\" time=\"2\"><flakyFailure message=\"a\"/>"
    "</testcase>"
    "<testcase classname=\"pkg.T\" name=\"neg\" time=\"-1\"/>"
    "</testsuite>"
    "<testsuite><testcase name=\"bare\" time=\"0.25\"/></testsuite>"
    "</testsuites>";

/* "classname::name" (the name alone when there is no class), passed attempts
 * with a time only; the suite's commit property and timestamp. */
static void test_history__junit_passed_attempts_with_a_time(void **state)
{
    (void)state;
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(read_mem(PB_HISTORY_JUNIT, "run.xml", junit_xml, &no_opt, &rows, &err), 0);
    assert_int_equal(rows.n, 3);
    const int64_t t = 1704164645; /* 2024-01-02T03:04:05Z */
    expect_row(&rows, 0, "pkg.T::fast", 0.5, "c0ffee1", "", t, "run.xml");
    /* the flaky test's failed attempt is no value, its final pass is */
    expect_row(&rows, 1, "pkg.T::flaky", 2.0, "c0ffee1", "", t, "run.xml");
    /* another suite: no commit, no timestamp */
    expect_row(&rows, 2, "bare", 0.25, "", "", NOW, "run.xml");
    pb_history_rows_free(&rows);

    pb_history_import_options opt = {"abc", "b", 5, NOW};
    assert_int_equal(read_mem(PB_HISTORY_JUNIT, "run.xml", junit_xml, &opt, &rows, &err), 0);
    assert_int_equal(rows.n, 3);
    for (size_t i = 0; i < rows.n; i++) {
        assert_string_equal(rows.rows[i].commit, "abc");
        assert_string_equal(rows.rows[i].branch, "b");
        assert_int_equal(rows.rows[i].timestamp, 5);
    }
    pb_history_rows_free(&rows);
}

/* Rows are appended to what the set holds; "no value" is about this report. */
static void test_history__reads_append(void **state)
{
    (void)state;
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(read_mem(PB_HISTORY_JUNIT, "run.xml", junit_xml, &no_opt, &rows, &err), 0);
    assert_int_equal(read_mem(PB_HISTORY_GBENCH, "gb.json", gbench_json, &no_opt, &rows, &err), 0);
    assert_int_equal(rows.n, 8);
    assert_string_equal(rows.rows[2].benchmark, "bare");
    assert_string_equal(rows.rows[3].benchmark, "BM_a/1");
    assert_string_equal(rows.rows[3].source, "gb.json");
    /* an empty report after them is still an error, and they stay */
    assert_int_equal(
        read_mem(PB_HISTORY_HYPERFINE, "e.json", "{\"results\": []}", &no_opt, &rows, &err),
        PB_EINVAL);
    assert_int_equal(rows.n, 8);
    /* many rows: the array grows */
    {
        char json[8192];
        size_t used = (size_t)snprintf(json, sizeof json,
                                       "{\"results\": [{\"command\": \"c\", "
                                       "\"times\": [");
        for (int i = 0; i < 200; i++)
            used += (size_t)snprintf(json + used, sizeof json - used, "%s%d", i ? "," : "", i);
        snprintf(json + used, sizeof json - used, "]}]}");
        assert_int_equal(read_mem(PB_HISTORY_HYPERFINE, "many.json", json, &no_opt, &rows, &err),
                         0);
    }
    assert_int_equal(rows.n, 208);
    assert_true(rows.cap >= rows.n);
    assert_near(rows.rows[207].value, 199.0);
    assert_string_equal(rows.rows[207].benchmark, "c");
    pb_history_rows_free(&rows);
}

/* ---- errors ------------------------------------------------------------ */

static void expect_einval(pb_history_format f, const char *name, const char *text, const char *part)
{
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    int rc = read_mem(f, name, text, &no_opt, &rows, &err);
    if (rc != PB_EINVAL)
        fail_msg("%s '%s': rc %d, want PB_EINVAL (%s)", pb_history_format_name(f), text, rc,
                 err.message);
    assert_int_equal(err.code, PB_EINVAL);
    if (!strstr(err.message, name))
        fail_msg("'%s' does not name %s", err.message, name);
    if (part && !strstr(err.message, part))
        fail_msg("'%s' does not say '%s'", err.message, part);
    assert_int_equal(rows.n, 0);
    pb_history_rows_free(&rows);
}

static void test_history__bad_reports_are_refused(void **state)
{
    (void)state;
    /* not JSON at all, or truncated */
    expect_einval(PB_HISTORY_GBENCH, "bad1.json", "this is not json", NULL);
    expect_einval(PB_HISTORY_HYPERFINE, "bad2.json", "{\"results\": [", NULL);
    expect_einval(PB_HISTORY_PYTEST_BENCHMARK, "bad3.json", "", NULL);
    /* JSON, but not an object */
    expect_einval(PB_HISTORY_HYPERFINE, "arr.json", "[1, 2]", "hyperfine");
    /* an object without the expected array */
    expect_einval(PB_HISTORY_GBENCH, "nob.json", "{\"context\": {}}", "\"benchmarks\"");
    expect_einval(PB_HISTORY_GBENCH, "nob2.json", "{\"benchmarks\": {\"name\": \"x\"}}",
                  "\"benchmarks\"");
    expect_einval(PB_HISTORY_HYPERFINE, "gb-as-hf.json", gbench_json, "\"results\"");
    expect_einval(PB_HISTORY_PYTEST_BENCHMARK, "nopb.json", "{\"results\": []}", "\"benchmarks\"");
    /* the array, but no value in it */
    expect_einval(PB_HISTORY_GBENCH, "agg.json",
                  "{\"benchmarks\": [{\"name\": \"BM_a_mean\", \"run_type\": \"aggregate\", "
                  "\"real_time\": 1, \"time_unit\": \"ns\"}, {\"name\": \"BM_e\", "
                  "\"error_occurred\": true, \"real_time\": 1}]}",
                  "no measured value");
    expect_einval(PB_HISTORY_HYPERFINE, "nov.json", "{\"results\": [{\"command\": \"x\"}]}",
                  "no measured value");
    expect_einval(PB_HISTORY_PYTEST_BENCHMARK, "nov2.json", "{\"benchmarks\": []}",
                  "no measured value");
    /* JUnit: malformed, not JUnit, or nothing passed with a time */
    expect_einval(PB_HISTORY_JUNIT, "trunc.xml", "<testsuite><testcase name=\"a\"", NULL);
    expect_einval(PB_HISTORY_JUNIT, "other.xml", "<html><body/></html>", NULL);
    expect_einval(PB_HISTORY_JUNIT, "fail.xml",
                  "<testsuite><testcase classname=\"a\" name=\"b\" time=\"1\"><failure/>"
                  "</testcase><testcase classname=\"a\" name=\"c\"/></testsuite>",
                  "no measured value");
    /* the same JUnit text from a JSON reader */
    expect_einval(PB_HISTORY_GBENCH, "junit.xml", junit_xml, NULL);
    /* No bytes at all, as a NULL buffer: refused, never read as a file. */
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(
        pb_history_read_mem(PB_HISTORY_JUNIT, "null.xml", NULL, 0, &no_opt, &rows, &err),
        PB_EINVAL);
    assert_int_equal(rows.n, 0);
    pb_history_rows_free(&rows);
}

static void test_history__read_files_and_missing_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/pb-test-history-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char gb[128], x1[128], x2[128], empty[128], missing[128];
    snprintf(gb, sizeof gb, "%s/gb.json", dir);
    snprintf(x1, sizeof x1, "%s/junit-1.xml", dir);
    snprintf(x2, sizeof x2, "%s/junit-2.xml", dir);
    snprintf(empty, sizeof empty, "%s/empty.json", dir);
    snprintf(missing, sizeof missing, "%s/missing.json", dir);
    struct {
        const char *path, *text;
    } files[] = {
        {gb, gbench_json},
        {x1, "<testsuite><testcase classname=\"a\" name=\"one\" time=\"1.5\"/></testsuite>"},
        {x2, "<testsuite><testcase classname=\"a\" name=\"two\" time=\"2.5\"/></testsuite>"},
        {empty, ""},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        FILE *f = fopen(files[i].path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(files[i].text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
    }
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    pb_error err = PB_ERROR_INIT;
    /* a JSON file: its path is the source */
    assert_int_equal(pb_history_read(PB_HISTORY_GBENCH, gb, &no_opt, &rows, &err), 0);
    assert_int_equal(rows.n, 5);
    expect_row(&rows, 0, "BM_a/1", 1.5e-6, "", "", 1709283600, gb);
    pb_history_rows_free(&rows);
    /* a JUnit run's directory: every junit-*.xml, sorted; one file alone */
    assert_int_equal(pb_history_read(PB_HISTORY_JUNIT, dir, &no_opt, &rows, &err), 0);
    assert_int_equal(rows.n, 2);
    expect_row(&rows, 0, "a::one", 1.5, "", "", NOW, x1);
    expect_row(&rows, 1, "a::two", 2.5, "", "", NOW, x2);
    pb_history_rows_free(&rows);
    assert_int_equal(pb_history_read(PB_HISTORY_JUNIT, x2, &no_opt, &rows, &err), 0);
    assert_int_equal(rows.n, 1);
    expect_row(&rows, 0, "a::two", 2.5, "", "", NOW, x2);
    pb_history_rows_free(&rows);
    /* an empty file is no report */
    assert_int_equal(pb_history_read(PB_HISTORY_HYPERFINE, empty, &no_opt, &rows, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, empty));
    assert_int_equal(rows.n, 0);
    /* no such file */
    const pb_history_format all[] = {PB_HISTORY_JUNIT, PB_HISTORY_GBENCH, PB_HISTORY_HYPERFINE,
                                     PB_HISTORY_PYTEST_BENCHMARK};
    for (size_t i = 0; i < 4; i++) {
        pb_error_clear(&err);
        assert_int_equal(pb_history_read(all[i], missing, &no_opt, &rows, &err), PB_ENOTFOUND);
        assert_non_null(strstr(err.message, missing));
        assert_int_equal(rows.n, 0);
    }
    pb_history_rows_free(&rows);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        assert_int_equal(unlink(files[i].path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- steps ------------------------------------------------------------- */

typedef struct series {
    pb_store_history_entry *rows;
    size_t n, cap;
} series;

static void add(series *s, const char *bench, const char *commit, int64_t timestamp, double value)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 32;
        s->rows = realloc(s->rows, s->cap * sizeof(*s->rows));
        assert_non_null(s->rows);
    }
    pb_store_history_entry *r = &s->rows[s->n++];
    r->benchmark = strdup(bench);
    r->commit = strdup(commit);
    r->branch = strdup("main");
    r->unit = strdup("s");
    r->source = strdup("test");
    r->timestamp = timestamp;
    r->value = value;
    assert_true(r->benchmark && r->commit && r->branch && r->unit && r->source);
}

static void set_commit(pb_store_history_entry *r, const char *commit)
{
    free(r->commit);
    r->commit = strdup(commit);
    assert_non_null(r->commit);
}

static void series_free(series *s)
{
    pb_store_history_free(s->rows, s->n);
    s->rows = NULL;
    s->n = s->cap = 0;
}

/* Small deterministic noise: -0.004 .. +0.004, its median 0 over each of
 * i = 0..11 and i = 12..23. */
static double noise(int i)
{
    return 0.002 * ((i * 7) % 5 - 2);
}

/* 12 commits at 1.0, then 12 at 1.3, commit "cNN" at time 1000 + NN. */
static void step_series(series *s, const char *bench, double before, double after)
{
    for (int i = 0; i < 24; i++) {
        char commit[16];
        snprintf(commit, sizeof commit, "c%02d", i);
        add(s, bench, commit, 1000 + i, (i < 12 ? before : after) + noise(i));
    }
}

static void test_history__a_clean_step(void **state)
{
    (void)state;
    series s = {0};
    step_series(&s, "bench::a", 1.0, 1.3);
    pb_history_steps st = PB_HISTORY_STEPS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 1);
    pb_history_step *x = &st.steps[0];
    assert_string_equal(x->benchmark, "bench::a");
    assert_string_equal(x->commit, "c12");
    assert_string_equal(x->previous, "c11");
    assert_string_equal(x->unit, "s");
    assert_int_equal(x->timestamp, 1012);
    assert_near(x->before, 1.0);
    assert_near(x->after, 1.3);
    assert_true(fabs(x->change_pct - 30.0) < 1e-9);
    assert_true(x->p_value > 0 && x->p_value < 0.01);
    assert_int_equal(x->worse, 1); /* a time went up */
    pb_history_steps_free(&st);
    assert_null(st.steps);
    assert_int_equal(st.n, 0);

    /* higher is better: the same step is an improvement */
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 1, &st, &err), 0);
    assert_int_equal(st.n, 1);
    assert_string_equal(st.steps[0].commit, "c12");
    assert_int_equal(st.steps[0].worse, 0);
    pb_history_steps_free(&st);
    series_free(&s);

    /* down: better for a time, worse for a throughput */
    step_series(&s, "bench::a", 1.0, 0.7);
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 1);
    assert_true(fabs(st.steps[0].change_pct + 30.0) < 1e-9);
    assert_int_equal(st.steps[0].worse, 0);
    pb_history_steps_free(&st);
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 1, &st, &err), 0);
    assert_int_equal(st.n, 1);
    assert_int_equal(st.steps[0].worse, 1);
    pb_history_steps_free(&st);
    series_free(&s);
    pb_history_steps_free(NULL);
}

/* Rows of one commit in a row are one point, their median: 4 + 4 commits of
 * 3 rows each are 8 points, too few for two segments of 5, although the
 * same 24 rows as 24 commits show the step. */
static void test_history__a_commits_rows_are_one_point(void **state)
{
    (void)state;
    series s = {0};
    pb_history_steps st = PB_HISTORY_STEPS_INIT;
    pb_error err = PB_ERROR_INIT;
    for (int i = 0; i < 24; i++) {
        char commit[16];
        snprintf(commit, sizeof commit, "c%02d", i / 3);
        add(&s, "b", commit, 1000 + i, (i < 12 ? 1.0 : 1.3) + noise(i));
    }
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 0);
    /* one commit per row: 24 points */
    for (size_t i = 0; i < s.n; i++) {
        char commit[32];
        snprintf(commit, sizeof commit, "r%02zu", i);
        set_commit(&s.rows[i], commit);
    }
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 1);
    assert_string_equal(st.steps[0].commit, "r12");
    assert_string_equal(st.steps[0].previous, "r11");
    pb_history_steps_free(&st);
    /* rows without a commit are a point each, the step's commits unknown */
    for (size_t i = 0; i < s.n; i++)
        set_commit(&s.rows[i], "");
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 1);
    assert_string_equal(st.steps[0].commit, "");
    assert_string_equal(st.steps[0].previous, "");
    assert_int_equal(st.steps[0].timestamp, 1012);
    pb_history_steps_free(&st);
    series_free(&s);
}

/* The point is its rows' median, and the step's levels are the medians of
 * the points: 8 commits of {2.0, 1.0, 1.0} (median 1.0) and {1.5, 1.5, 1.5}
 * in turn, then 8 of {4, 3, 3} and {3.5, 3.5, 3.5}. Over the points the
 * levels are 1.25 and 3.25; over the raw rows they would be 1.5 and 3.5. */
static void test_history__levels_are_medians_of_the_points(void **state)
{
    (void)state;
    series s = {0};
    int64_t t = 100;
    for (int c = 0; c < 16; c++) {
        char commit[16];
        snprintf(commit, sizeof commit, "k%02d", c);
        double base = c < 8 ? 1.0 : 3.0;
        if (c % 2 == 0) {
            add(&s, "b", commit, t++, base + 1.0);
            add(&s, "b", commit, t++, base);
            add(&s, "b", commit, t++, base);
        } else {
            for (int k = 0; k < 3; k++)
                add(&s, "b", commit, t++, base + 0.5);
        }
    }
    pb_history_steps st = PB_HISTORY_STEPS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 1);
    assert_string_equal(st.steps[0].commit, "k08");
    assert_string_equal(st.steps[0].previous, "k07");
    assert_int_equal(st.steps[0].timestamp, 100 + 8 * 3); /* k08's first row */
    assert_near(st.steps[0].before, 1.25);
    assert_near(st.steps[0].after, 3.25);
    assert_near(st.steps[0].change_pct, 160.0);
    assert_int_equal(st.steps[0].worse, 1);
    pb_history_steps_free(&st);
    series_free(&s);
}

/* Each benchmark's series is searched alone: "a" steps up at c12, "b" (flat)
 * has none, "c" steps down at c12; "a"'s high tail does not run into "b". */
static void test_history__benchmarks_are_searched_separately(void **state)
{
    (void)state;
    series s = {0};
    step_series(&s, "a", 1.0, 1.3);
    step_series(&s, "b", 1.3, 1.3);
    step_series(&s, "c", 2.0, 1.0);
    pb_history_steps st = PB_HISTORY_STEPS_INIT;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 2);
    assert_string_equal(st.steps[0].benchmark, "a");
    assert_string_equal(st.steps[0].commit, "c12");
    assert_string_equal(st.steps[0].previous, "c11");
    assert_int_equal(st.steps[0].worse, 1);
    assert_string_equal(st.steps[1].benchmark, "c");
    assert_string_equal(st.steps[1].commit, "c12");
    assert_string_equal(st.steps[1].previous, "c11");
    assert_near(st.steps[1].before, 2.0);
    assert_near(st.steps[1].after, 1.0);
    assert_near(st.steps[1].change_pct, -50.0);
    assert_int_equal(st.steps[1].worse, 0);
    pb_history_steps_free(&st);
    series_free(&s);

    /* one flat at 1.0, the next flat at 5.0 over the same commits: as one
     * series they would step at the second's first commit */
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 10; i++) {
            char commit[16];
            snprintf(commit, sizeof commit, "c%d", i);
            add(&s, b ? "y" : "x", commit, 1000 + i, (b ? 5.0 : 1.0) + noise(i));
        }
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 0);
    pb_history_steps_free(&st);
    series_free(&s);
}

static void test_history__flat_short_and_empty_series_have_no_step(void **state)
{
    (void)state;
    series s = {0};
    pb_history_steps st = PB_HISTORY_STEPS_INIT;
    pb_error err = PB_ERROR_INIT;
    step_series(&s, "flat", 1.0, 1.0);
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 0);
    /* a step in fewer than 2 * min_segment points */
    series_free(&s);
    for (int i = 0; i < 9; i++) {
        char commit[16];
        snprintf(commit, sizeof commit, "c%d", i);
        add(&s, "short", commit, i, i < 5 ? 1.0 : 2.0);
    }
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 0);
    series_free(&s);
    assert_int_equal(pb_history_steps_find(NULL, 0, 0.01, 5, 0, &st, &err), 0);
    assert_int_equal(st.n, 0);
    pb_history_steps_free(&st);
}

static void test_history__bad_values_and_options(void **state)
{
    (void)state;
    series s = {0};
    pb_history_steps st = PB_HISTORY_STEPS_INIT;
    pb_error err = PB_ERROR_INIT;
    step_series(&s, "ok", 1.0, 1.3);
    step_series(&s, "bench::nan", 1.0, 1.3);
    s.rows[30].value = NAN;
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "bench::nan"));
    pb_history_steps_free(&st);
    s.rows[30].value = INFINITY;
    pb_error_clear(&err);
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 5, 0, &st, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "bench::nan"));
    pb_history_steps_free(&st);
    s.rows[30].value = 1.0;
    /* options pb_changepoint_detect refuses */
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 0.01, 1, 0, &st, &err), PB_EINVAL);
    pb_history_steps_free(&st);
    assert_int_equal(pb_history_steps_find(s.rows, s.n, 1.5, 5, 0, &st, &err), PB_EINVAL);
    pb_history_steps_free(&st);
    series_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history__format_names),
        cmocka_unit_test(test_history__gbench_iterations_in_seconds),
        cmocka_unit_test(test_history__gbench_options_override_the_report),
        cmocka_unit_test(test_history__gbench_without_a_date_is_now),
        cmocka_unit_test(test_history__hyperfine_every_time_or_the_mean),
        cmocka_unit_test(test_history__pytest_benchmark_rounds_and_commit_info),
        cmocka_unit_test(test_history__junit_passed_attempts_with_a_time),
        cmocka_unit_test(test_history__reads_append),
        cmocka_unit_test(test_history__bad_reports_are_refused),
        cmocka_unit_test(test_history__read_files_and_missing_paths),
        cmocka_unit_test(test_history__a_clean_step),
        cmocka_unit_test(test_history__a_commits_rows_are_one_point),
        cmocka_unit_test(test_history__levels_are_medians_of_the_points),
        cmocka_unit_test(test_history__benchmarks_are_searched_separately),
        cmocka_unit_test(test_history__flat_short_and_empty_series_have_no_step),
        cmocka_unit_test(test_history__bad_values_and_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
