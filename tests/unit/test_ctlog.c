/* Unit tests of the pytest console-log reader. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "perfbisect/ctlog.h"

typedef struct event {
    char id[256];
    unsigned attempt;
    pb_outcome outcome;
    double time;
    char message[256];
} event;

typedef struct events {
    event ev[32];
    size_t n;
} events;

static int collect(void *ctx, const pb_junit_case *c)
{
    events *e = ctx;
    if (e->n < 32) {
        event *x = &e->ev[e->n];
        snprintf(x->id, sizeof(x->id), "%s::%s", c->classname, c->name);
        x->attempt = c->attempt;
        x->outcome = c->outcome;
        x->time = c->time;
        snprintf(x->message, sizeof(x->message), "%s", c->message ? c->message : "");
    }
    e->n++;
    return 0;
}

static const event *find(const events *e, const char *id, unsigned attempt)
{
    for (size_t i = 0; i < e->n && i < 32; i++)
        if (!strcmp(e->ev[i].id, id) && e->ev[i].attempt == attempt)
            return &e->ev[i];
    return NULL;
}

static const char log_text[] =
    "commit: 0123456789abcdef\n"
    "2024-03-01T10:00:00.1234567Z ============ test session starts ============\n"
    "tests/perf/test_io.py::test_read PASSED                                  [ 25%]\n"
    "tests/perf/test_io.py::test_write RERUN                                  [ 50%]\n"
    "tests/perf/test_io.py::test_write PASSED                                 [ 50%]\n"
    "tests/perf/test_io.py::TestCache::test_hit FAILED                        [ 75%]\n"
    "\x1b[31mtests/perf/test_io.py::test_sort FAILED\x1b[0m                   [100%]\n"
    "================================= FAILURES =================================\n"
    "____________________________ TestCache.test_hit ____________________________\n"
    "E   AssertionError: took 15.32ms, expected < 10ms (threshold exceeded by 53.2%)\n"
    "________________________________ test_sort _________________________________\n"
    "E   AssertionError: 1.5 s exceeds 1 s\n"
    "=========================== slowest durations ============================\n"
    "0.52s call     tests/perf/test_io.py::test_read\n"
    "0.10s setup    tests/perf/test_io.py::test_read\n"
    "1.50s call     tests/perf/test_io.py::test_sort\n"
    "========================= short test summary info ==========================\n"
    "RERUN tests/perf/test_io.py::test_write\n"
    "FAILED tests/perf/test_io.py::TestCache::test_hit - AssertionError: took 15.32ms, "
    "expected < 10ms\n"
    "FAILED tests/perf/test_io.py::test_sort\n"
    "======== 2 failed, 2 passed, 1 rerun in 3.21s ========\n";

static void test_ctlog__summary_verbose_rerun_and_durations(void **state)
{
    (void)state;
    events e = {0};
    pb_junit_info info;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(
        pb_ctlog_parse_mem("ci.log", log_text, strlen(log_text), collect, &e, &info, &err), 0);
    assert_string_equal(info.commit, "0123456789abcdef");
    assert_int_equal(info.testcases, 4);
    const event *x = find(&e, "tests.perf.test_io::test_read", 0);
    assert_non_null(x);
    assert_int_equal(x->outcome, PB_OUTCOME_PASSED);
    assert_true(fabs(x->time - 0.52) < 1e-12); /* the call phase, not setup */
    /* one rerun (counted once although both the verbose and summary lines say so) */
    x = find(&e, "tests.perf.test_io::test_write", 0);
    assert_non_null(x);
    assert_int_equal(x->outcome, PB_OUTCOME_FAILED);
    x = find(&e, "tests.perf.test_io::test_write", 1);
    assert_non_null(x);
    assert_int_equal(x->outcome, PB_OUTCOME_PASSED);
    assert_null(find(&e, "tests.perf.test_io::test_write", 2));
    /* class inside the module; message from the summary line */
    x = find(&e, "tests.perf.test_io.TestCache::test_hit", 0);
    assert_non_null(x);
    assert_int_equal(x->outcome, PB_OUTCOME_FAILED);
    assert_string_equal(x->message, "AssertionError: took 15.32ms, expected < 10ms");
    /* no summary message: the E line under its header; colours stripped */
    x = find(&e, "tests.perf.test_io::test_sort", 0);
    assert_non_null(x);
    assert_int_equal(x->outcome, PB_OUTCOME_FAILED);
    assert_string_equal(x->message, "AssertionError: 1.5 s exceeds 1 s");
    assert_int_equal(e.n, 5);
}

/* Jenkins' timestamper and pipeline prefixes, and a progress line overwritten
 * with a carriage return, hide neither the result nor its message. */
static void test_ctlog__runner_prefixes_are_stripped(void **state)
{
    (void)state;
    static const char text[] = "[2024-05-01T10:00:00.123Z] FAILED tests/a.py::t1 - took 15ms, "
                               "expected < 10ms\n"
                               "10:00:01  [Pipeline] FAILED tests/a.py::t2 - took 3 s > 1 s\n"
                               "collecting ... 40%\rtests/a.py::t3 FAILED [100%]\n";
    events e = {0};
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_ctlog_parse_mem("j.log", text, strlen(text), collect, &e, NULL, &err), 0);
    const event *x = find(&e, "tests.a::t1", 0);
    assert_non_null(x);
    assert_string_equal(x->message, "took 15ms, expected < 10ms");
    x = find(&e, "tests.a::t2", 0);
    assert_non_null(x);
    assert_string_equal(x->message, "took 3 s > 1 s");
    x = find(&e, "tests.a::t3", 0);
    assert_non_null(x);
    assert_int_equal(x->outcome, PB_OUTCOME_FAILED);
}

static void test_ctlog__nodeid_split_matches_pytest_junit(void **state)
{
    (void)state;
    char c[128], n[128];
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(
        pb_ctlog_nodeid_split("tests/a/test_x.py::TestK::test_y[1::2]", c, n, sizeof(c), &err), 0);
    assert_string_equal(c, "tests.a.test_x.TestK");
    assert_string_equal(n, "test_y[1::2]");
    assert_int_equal(pb_ctlog_nodeid_split("no_separator", c, n, sizeof(c), &err), PB_EINVAL);
}

static void test_ctlog__binary_data_is_refused(void **state)
{
    (void)state;
    static const char bin[] = "PASSED a::b\n\x7f"
                              "ELF\x00\x01\x02\n";
    events e = {0};
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_ctlog_parse_mem("x.bin", bin, sizeof(bin) - 1, collect, &e, NULL, &err),
                     PB_EINVAL);
    assert_non_null(strstr(err.message, "binary"));
    assert_int_equal(e.n, 0);
    assert_int_equal(pb_ctlog_parse_file("/nonexistent.log", collect, &e, NULL, &err), PB_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctlog__summary_verbose_rerun_and_durations),
        cmocka_unit_test(test_ctlog__nodeid_split_matches_pytest_junit),
        cmocka_unit_test(test_ctlog__runner_prefixes_are_stripped),
        cmocka_unit_test(test_ctlog__binary_data_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
