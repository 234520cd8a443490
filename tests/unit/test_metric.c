/* Tests of the metric module: parsing specs, and numbers out of runs. */
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

#include "perfbisect/metric.h"

static const char GBENCH_JSON[] =
    "{\"context\": {\"date\": \"2024-01-01\", \"num_cpus\": 2},\n"
    " \"benchmarks\": [\n"
    "  {\"name\": \"BM_Sort/1024\", \"run_type\": \"iteration\", \"iterations\": 1000,\n"
    "   \"real_time\": 1.5e3, \"cpu_time\": 1.4e3, \"time_unit\": \"ns\"},\n"
    "  {\"name\": \"BM_Copy\", \"run_type\": \"iteration\", \"real_time\": 3, \"time_unit\": "
    "\"us\"},\n"
    "  {\"name\": \"BM_Copy\", \"run_type\": \"iteration\", \"real_time\": 1, \"time_unit\": "
    "\"us\"},\n"
    "  {\"name\": \"BM_Copy\", \"run_type\": \"iteration\", \"real_time\": 2, \"time_unit\": "
    "\"us\"},\n"
    "  {\"name\": \"BM_Broken\", \"error_occurred\": true, \"error_message\": \"no input\"},\n"
    "  {\"name\": \"BM_Skipped\", \"run_type\": \"iteration\", \"skipped\": true,\n"
    "   \"skip_message\": \"no GPU\", \"iterations\": 0, \"real_time\": 0, \"time_unit\": \"ns\"}\n"
    " ]}\n";

static const char HYPERFINE_JSON[] =
    "{\"results\": [\n"
    "  {\"command\": \"sleep 0.1\", \"mean\": 0.1021, \"stddev\": 0.001, \"median\": 0.102,\n"
    "   \"times\": [0.101, 0.102]},\n"
    "  {\"command\": \"sleep 0.2\", \"mean\": 0.2031, \"median\": 0.203}\n"
    "]}\n";

static const char PYTEST_JSON[] =
    "{\"machine_info\": {}, \"benchmarks\": [\n"
    "  {\"group\": null, \"name\": \"test_parse\", \"fullname\": \"tests/test_p.py::test_parse\",\n"
    "   \"stats\": {\"min\": 0.001, \"mean\": 0.00125, \"median\": 0.0012}},\n"
    "  {\"name\": \"test_dump\", \"fullname\": \"tests/test_p.py::test_dump\",\n"
    "   \"stats\": {\"mean\": 0.5}}\n"
    "]}\n";

static pb_metric *parse_ok(const char *spec)
{
    pb_metric *m = NULL;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_metric_parse(spec, &m, &err), 0);
    assert_non_null(m);
    return m;
}

static void parse_fails(const char *spec, const char *expected_part)
{
    pb_metric *m = NULL;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_metric_parse(spec, &m, &err), PB_EINVAL);
    assert_null(m);
    if (!strstr(pb_error_message(&err), expected_part))
        fail_msg("'%s': message '%s' lacks '%s'", spec, pb_error_message(&err), expected_part);
}

/* The value `spec` gives for `text`, or NAN with the message in err. */
static double from_text(const char *spec, const char *text, pb_error *err)
{
    pb_metric *m = parse_ok(spec);
    double v = NAN;
    if (pb_metric_extract_text(m, text, strlen(text), &v, err) < 0)
        v = NAN;
    pb_metric_free(m);
    return v;
}

static void test_metric__parse_rejects_bad_specs(void **state)
{
    (void)state;
    parse_fails("walltime", "unknown metric 'walltime'");
    parse_fails("", "empty metric");
    parse_fails("regex:time ([0-9.]+", "bad regular expression");
    parse_fails("regex:time: [0-9.]+", "needs a capture group");
    parse_fails("regex:", "empty pattern");
    parse_fails("gbench:", "missing benchmark name");
    parse_fails("gbench:BM_x@", "empty file name");
    parse_fails("pytest-benchmark:", "missing benchmark name");
    parse_fails("hyperfinex", "unknown metric");
    /* glibc's regcomp would allocate without bound on these. */
    parse_fails("regex:()++++++++++++++++++++++++++++", "stacked quantifiers");
    parse_fails("regex:(a){2}{3}", "stacked quantifiers");
    /* ...but a quantifier inside a bracket or escaped is a character. */
    pb_metric_free(parse_ok("regex:x=([+*?]+)"));
    pb_metric_free(parse_ok("regex:n\\+([0-9]+)*"));
}

static void test_metric__spec_unit_and_output_needs(void **state)
{
    (void)state;
    struct {
        const char *spec;
        pb_metric_kind kind;
        const char *unit;
        int needs_output;
    } cases[] = {
        {"wall", PB_METRIC_WALL, "s", 0},
        {"cpu", PB_METRIC_CPU, "s", 0},
        {"maxrss", PB_METRIC_MAXRSS, "KiB", 0},
        {"regex:x=([0-9]+)", PB_METRIC_REGEX, "", 1},
        {"gbench:BM_a", PB_METRIC_GBENCH, "s", 1},
        {"gbench:BM_a@out.json", PB_METRIC_GBENCH, "s", 0},
        {"hyperfine", PB_METRIC_HYPERFINE, "s", 1},
        {"hyperfine@h.json", PB_METRIC_HYPERFINE, "s", 0},
        {"hyperfine:sleep 1@h.json", PB_METRIC_HYPERFINE, "s", 0},
        {"pytest-benchmark:test_a", PB_METRIC_PYTEST_BENCHMARK, "s", 1},
        {"pytest-benchmark:test_a@b.json", PB_METRIC_PYTEST_BENCHMARK, "s", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pb_metric *m = parse_ok(cases[i].spec);
        assert_int_equal(pb_metric_get_kind(m), cases[i].kind);
        assert_string_equal(pb_metric_spec(m), cases[i].spec);
        assert_string_equal(pb_metric_unit(m), cases[i].unit);
        assert_int_equal(pb_metric_needs_output(m), cases[i].needs_output);
        pb_metric_free(m);
    }
    pb_metric_free(NULL);
}

static void test_metric__regex_takes_first_group_of_first_match(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    assert_float_equal(
        from_text("regex:time: ([0-9.e+-]+) ms", "warmup\ntime: 1.5 ms\ntime: 9 ms\n", &err), 1.5,
        0);
    assert_true(isnan(from_text("regex:(x)?n=([0-9]+)|n=(-?[0-9]+)", "n=-7", &err)));
    assert_non_null(strstr(pb_error_message(&err), "group 1 did not"));
    assert_true(isnan(from_text("regex:time: ([0-9.]+)", "no timing here", &err)));
    assert_non_null(strstr(pb_error_message(&err), "matched nothing in the output (14 bytes)"));
    assert_true(isnan(from_text("regex:time: ([a-z.]+)", "time: fast", &err)));
    assert_non_null(strstr(pb_error_message(&err), "matched 'fast', not a number"));
    assert_true(isnan(from_text("regex:v=([^ ]+)", "v=inf", &err)));
    /* "(.*)" takes the line's end: a number followed by blanks is a number, */
    assert_float_equal(from_text("regex:time: (.*)", "time: 1.5\r\n", &err), 1.5, 0);
    /* and a capture that is not one is reported on one line. */
    assert_true(isnan(from_text("regex:time: (.*)", "time: 1.5s\r\nnext\n", &err)));
    assert_non_null(strstr(pb_error_message(&err), "matched '1.5s?', not a number"));
    assert_null(strchr(pb_error_message(&err), '\n'));
    /* As grep: ^ and $ match at every line, and . does not leave it. */
    assert_float_equal(from_text("regex:^time: ([0-9.]+)$", "warm\ntime: 5\nend\n", &err), 5, 0);
    assert_float_equal(from_text("regex:x (.*)", "x 5\nother 7\n", &err), 5, 0);
}

static void test_metric__gbench_json(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    /* 1.5e3 ns = 1.5e-6 s. */
    assert_float_equal(from_text("gbench:BM_Sort/1024", GBENCH_JSON, &err), 1.5e-6, 1e-18);
    /* Three repetitions 3, 1, 2 us: their median, 2 us. */
    assert_float_equal(from_text("gbench:BM_Copy", GBENCH_JSON, &err), 2e-6, 1e-18);
    assert_true(isnan(from_text("gbench:BM_Broken", GBENCH_JSON, &err)));
    assert_non_null(strstr(pb_error_message(&err), "reported an error: no input"));
    /* Skipped (SkipWithMessage): its real_time 0 is no measurement. */
    assert_true(isnan(from_text("gbench:BM_Skipped", GBENCH_JSON, &err)));
    assert_non_null(strstr(pb_error_message(&err), "was skipped: no GPU"));
    assert_true(isnan(from_text("gbench:BM_Nope", GBENCH_JSON, &err)));
    assert_non_null(strstr(pb_error_message(&err), "found: BM_Sort/1024, BM_Copy"));
    /* Log lines before the JSON are skipped. */
    char with_log[sizeof(GBENCH_JSON) + 64];
    snprintf(with_log, sizeof(with_log), "Running ./bench\n%s", GBENCH_JSON);
    assert_float_equal(from_text("gbench:BM_Sort/1024", with_log, &err), 1.5e-6, 1e-18);
}

static void test_metric__hyperfine_json(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    assert_float_equal(from_text("hyperfine", HYPERFINE_JSON, &err), 0.1021, 0);
    assert_float_equal(from_text("hyperfine:sleep 0.2", HYPERFINE_JSON, &err), 0.2031, 0);
    assert_true(isnan(from_text("hyperfine:sleep 9", HYPERFINE_JSON, &err)));
    assert_non_null(strstr(pb_error_message(&err), "found: sleep 0.1, sleep 0.2"));
    assert_true(isnan(from_text("hyperfine", "{\"results\": 3}", &err)));
    assert_non_null(strstr(pb_error_message(&err), "not hyperfine JSON"));
}

static void test_metric__pytest_benchmark_json(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    assert_float_equal(from_text("pytest-benchmark:test_parse", PYTEST_JSON, &err), 0.00125, 0);
    assert_float_equal(from_text("pytest-benchmark:tests/test_p.py::test_dump", PYTEST_JSON, &err),
                       0.5, 0);
    assert_true(isnan(from_text("pytest-benchmark:test_x", PYTEST_JSON, &err)));
    assert_non_null(strstr(pb_error_message(&err), "found: test_parse, test_dump"));
}

static void test_metric__malformed_json_is_an_error(void **state)
{
    (void)state;
    pb_error err = PB_ERROR_INIT;
    assert_true(isnan(from_text("gbench:BM_a", "{\"benchmarks\": [", &err)));
    assert_non_null(strstr(pb_error_message(&err), "invalid JSON in the output"));
    assert_true(isnan(from_text("hyperfine", "no json at all", &err)));
    assert_non_null(strstr(pb_error_message(&err), "no JSON object"));
}

static void test_metric__failed_run_is_never_a_number(void **state)
{
    (void)state;
    pb_metric *m = parse_ok("wall");
    pb_exec_result r;
    pb_error err = PB_ERROR_INIT;
    double v = 123;
    assert_int_equal(pb_exec_run("exit 4", NULL, &r, &err), 0);
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), PB_EINVAL);
    assert_string_equal(pb_error_message(&err), "exited with status 4");
    assert_float_equal(v, 123, 0);
    pb_exec_result_free(&r);
    pb_metric_free(m);
}

static void test_metric__run_metrics_come_from_the_run(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    pb_error err = PB_ERROR_INIT;
    double v = 0;
    opt.capture_stdout = 1;
    assert_int_equal(pb_exec_run("echo 'score = 42.5'", &opt, &r, &err), 0);
    pb_metric *m = parse_ok("regex:score = ([0-9.]+)");
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), 0);
    assert_float_equal(v, 42.5, 0);
    pb_metric_free(m);
    m = parse_ok("wall");
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), 0);
    assert_float_equal(v, r.wall_sec, 0);
    pb_metric_free(m);
    m = parse_ok("cpu");
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), 0);
    assert_float_equal(v, r.user_sec + r.sys_sec, 0);
    pb_metric_free(m);
    m = parse_ok("maxrss");
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), 0);
    assert_float_equal(v, (double)r.maxrss_kb, 0);
    pb_metric_free(m);
    pb_exec_result_free(&r);
}

static void test_metric__json_file_relative_to_cwd_and_fresh(void **state)
{
    (void)state;
    char dir[] = "/tmp/pb_metric_test_XXXXXX", cmd[1024], path[600];
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    pb_error err = PB_ERROR_INIT;
    double v = 0;
    assert_non_null(mkdtemp(dir));
    opt.cwd = dir;
    snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' > h.json", HYPERFINE_JSON);
    assert_int_equal(pb_exec_run(cmd, &opt, &r, &err), 0);
    pb_metric *m = parse_ok("hyperfine@h.json");
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), 0);
    assert_float_equal(v, 0.1021, 0);
    pb_exec_result_free(&r);
    /* A run that did not write the file does not get the old one's number. */
    assert_int_equal(pb_exec_run("true", &opt, &r, &err), 0);
    r.started_ns += 60LL * 1000000000LL; /* as if the file were a minute old */
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), PB_EINVAL);
    assert_non_null(strstr(pb_error_message(&err), "older than the run"));
    pb_exec_result_free(&r);
    pb_metric_free(m);
    m = parse_ok("hyperfine@missing.json");
    assert_int_equal(pb_exec_run("true", &opt, &r, &err), 0);
    assert_int_equal(pb_metric_extract(m, &r, &v, &err), PB_EINVAL);
    assert_non_null(strstr(pb_error_message(&err), "the run did not write missing.json"));
    pb_exec_result_free(&r);
    pb_metric_free(m);
    snprintf(path, sizeof(path), "%s/h.json", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric__parse_rejects_bad_specs),
        cmocka_unit_test(test_metric__spec_unit_and_output_needs),
        cmocka_unit_test(test_metric__regex_takes_first_group_of_first_match),
        cmocka_unit_test(test_metric__gbench_json),
        cmocka_unit_test(test_metric__hyperfine_json),
        cmocka_unit_test(test_metric__pytest_benchmark_json),
        cmocka_unit_test(test_metric__malformed_json_is_an_error),
        cmocka_unit_test(test_metric__failed_run_is_never_a_number),
        cmocka_unit_test(test_metric__run_metrics_come_from_the_run),
        cmocka_unit_test(test_metric__json_file_relative_to_cwd_and_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
