/* Unit tests of the streaming JUnit reader: variants, numbers, hostile input. */
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

#include "perfbisect/junit.h"

#define MAXEV 32

typedef struct event {
    char id[256];
    unsigned attempt, attempts;
    pb_outcome outcome;
    double time;
    char message[256];
    int has_message;
    char commit[64], split[64];
    double prop;
    char sysout[64];
} event;

typedef struct events {
    event ev[MAXEV];
    size_t n;
    size_t stop_after; /* 0: never */
} events;

static int collect(void *ctx, const pb_junit_case *c)
{
    events *e = ctx;
    assert_int_equal(c->classname_len, strlen(c->classname));
    assert_int_equal(c->name_len, strlen(c->name));
    if (e->n < MAXEV) {
        event *x = &e->ev[e->n];
        memset(x, 0, sizeof(*x));
        snprintf(x->id, sizeof(x->id), "%s::%s", c->classname, c->name);
        x->attempt = c->attempt;
        x->attempts = c->attempts;
        x->outcome = c->outcome;
        x->time = c->time;
        x->has_message = c->message != NULL;
        if (c->message)
            snprintf(x->message, sizeof(x->message), "%s", c->message);
        snprintf(x->commit, sizeof(x->commit), "%s", c->commit ? c->commit : "");
        snprintf(x->split, sizeof(x->split), "%s", c->split ? c->split : "");
        x->prop = c->nprops ? c->props[0].value : NAN;
        snprintf(x->sysout, sizeof(x->sysout), "%s", c->system_out ? c->system_out : "");
    }
    e->n++;
    return e->stop_after && e->n >= e->stop_after;
}

static int parse(const char *xml, events *e, pb_junit_info *info, pb_error *err)
{
    return pb_junit_parse_mem("test.xml", xml, strlen(xml), collect, e, info, err);
}

static void test_junit__pytest_xunit2_cases_and_properties(void **state)
{
    (void)state;
    const char *xml =
        "<?xml version=\"1.0\"?>\n<testsuites name=\"pytest tests\">"
        "<testsuite name=\"pytest\" timestamp=\"2024-03-01T10:00:00\"><properties>"
        "<property name=\"commit\" value=\"abc123\"/><property name=\"split\" value=\"3\"/>"
        "</properties>"
        "<testcase classname=\"tests.test_a\" name=\"test_ok\" time=\"0.012\">"
        "<properties><property name=\"duration_ms\" value=\"11.5\"/></properties>"
        "<system-out>hello</system-out></testcase>"
        "<testcase classname=\"tests.test_a\" name=\"test_slow\" time=\"0.02\">"
        "<failure message=\"AssertionError: took 15.32ms, expected &lt; 10ms\">trace</failure>"
        "</testcase>"
        "<testcase classname=\"tests.test_a\" name=\"test_skip\"><skipped message=\"no\"/>"
        "</testcase></testsuite></testsuites>";
    events e = {0};
    pb_junit_info info;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(parse(xml, &e, &info, &err), 0);
    assert_int_equal(e.n, 3);
    assert_int_equal(info.testcases, 3);
    assert_string_equal(info.commit, "abc123");
    assert_string_equal(info.split, "3");
    assert_string_equal(info.timestamp, "2024-03-01T10:00:00");
    assert_string_equal(e.ev[0].id, "tests.test_a::test_ok");
    assert_int_equal(e.ev[0].outcome, PB_OUTCOME_PASSED);
    assert_false(e.ev[0].has_message);
    assert_true(fabs(e.ev[0].time - 0.012) < 1e-12);
    assert_true(fabs(e.ev[0].prop - 11.5) < 1e-12);
    assert_string_equal(e.ev[0].sysout, "hello");
    assert_string_equal(e.ev[0].commit, "abc123");
    assert_int_equal(e.ev[1].outcome, PB_OUTCOME_FAILED);
    /* the message attribute wins over the text */
    assert_string_equal(e.ev[1].message, "AssertionError: took 15.32ms, expected < 10ms");
    assert_int_equal(e.ev[2].outcome, PB_OUTCOME_SKIPPED);
}

static void test_junit__pytest_rerun_repeats_the_testcase(void **state)
{
    (void)state;
    /* pytest-rerunfailures: the same id again in the same file; the caller counts */
    const char *xml = "<testsuite><testcase classname=\"t.m\" name=\"x\"><failure>boom"
                      "</failure></testcase><testcase classname=\"t.m\" name=\"x\"/>"
                      "</testsuite>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.ev[0].id, e.ev[1].id);
    assert_int_equal(e.ev[0].outcome, PB_OUTCOME_FAILED);
    /* no message attribute: the element's text is the message */
    assert_string_equal(e.ev[0].message, "boom");
    assert_int_equal(e.ev[1].outcome, PB_OUTCOME_PASSED);
}

/* A negative time is a broken writer's: no time, not a fast test. */
static void test_junit__negative_time_is_no_time(void **state)
{
    (void)state;
    const char *xml = "<testsuite><testcase classname=\"t\" name=\"x\" time=\"-5\"/>"
                      "<testcase classname=\"t\" name=\"y\" time=\"0.25\"/></testsuite>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 2);
    assert_true(isnan(e.ev[0].time));
    assert_true(e.ev[1].time == 0.25);
}

/* Maven's -Drevision=1.0.0-SNAPSHOT reaches Surefire's properties: a
 * version is no commit, and the git_commit after it is the one. */
static void test_junit__a_version_named_revision_is_no_commit(void **state)
{
    (void)state;
    const char *xml = "<testsuite name=\"s\"><properties><property name=\"revision\" "
                      "value=\"1.0.0-SNAPSHOT\"/><property name=\"git_commit\" "
                      "value=\"0123abcd\"/></properties><testcase classname=\"t\" "
                      "name=\"x\" time=\"1\"/></testsuite>";
    events e = {0};
    pb_junit_info info;
    assert_int_equal(parse(xml, &e, &info, NULL), 0);
    assert_string_equal(info.commit, "0123abcd");
    /* one that looks like a commit id is taken */
    const char *hex = "<testsuite name=\"s\"><properties><property name=\"revision\" "
                      "value=\"89abcdef01\"/></properties><testcase classname=\"t\" "
                      "name=\"x\" time=\"1\"/></testsuite>";
    events e2 = {0};
    assert_int_equal(parse(hex, &e2, &info, NULL), 0);
    assert_string_equal(info.commit, "89abcdef01");
}

/* Windows-1252 (expat knows only UTF-8/16, Latin-1, ASCII): read, its
 * 0x80..0x9F as Unicode ("\x80" the euro sign, "\x93" a left double quote); an unassigned byte is
 * an error. */
static void test_junit__windows_1252_is_read(void **state)
{
    (void)state;
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"windows-1252\"?><testsuite>"
        "<testcase classname=\"t\" name=\"caf\xe9 \x80\x93\" time=\"1\"/></testsuite>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.ev[0].id, "t::caf\xc3\xa9 \xe2\x82\xac\xe2\x80\x9c");
    const char *bad = "<?xml version=\"1.0\" encoding=\"cp1252\"?><testsuite>"
                      "<testcase classname=\"t\" name=\"\x81\"/></testsuite>";
    events e2 = {0};
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(parse(bad, &e2, NULL, &err), PB_EINVAL);
}

static void test_junit__surefire_flaky_failures_then_pass(void **state)
{
    (void)state;
    const char *xml =
        "<testsuite name=\"com.x.BenchTest\"><testcase name=\"testA\" classname=\"com.x.BenchTest\""
        " time=\"1,234.5\"><flakyFailure message=\"took 12ms, expected &lt; 10ms\" type=\"A\">"
        "<stackTrace>at x</stackTrace><system-out>noise</system-out></flakyFailure>"
        "<flakyError message=\"oops\"/></testcase></testsuite>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 3);
    assert_int_equal(e.ev[0].outcome, PB_OUTCOME_FAILED);
    assert_int_equal(e.ev[1].outcome, PB_OUTCOME_ERROR);
    assert_int_equal(e.ev[2].outcome, PB_OUTCOME_PASSED);
    assert_int_equal(e.ev[0].attempt, 0);
    assert_int_equal(e.ev[2].attempt, 2);
    assert_int_equal(e.ev[2].attempts, 3);
    assert_string_equal(e.ev[0].message, "took 12ms, expected < 10ms");
    assert_true(fabs(e.ev[0].time - 1234.5) < 1e-9); /* Surefire's thousands separator */
}

static void test_junit__surefire_rerun_failures_stay_failed(void **state)
{
    (void)state;
    const char *xml = "<testsuite><testcase name=\"t\" classname=\"C\"><failure message=\"a\"/>"
                      "<rerunFailure message=\"b\"/><rerunError message=\"c\"/></testcase>"
                      "</testsuite>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 3);
    assert_string_equal(e.ev[0].message, "a");
    assert_string_equal(e.ev[1].message, "b");
    assert_int_equal(e.ev[2].outcome, PB_OUTCOME_ERROR);
    assert_int_equal(e.ev[2].attempt, 2);
}

static void test_junit__nested_suites_inherit_properties(void **state)
{
    (void)state;
    const char *xml = "<testsuites><testsuite name=\"outer\"><properties><property name=\"commit\""
                      " value=\"c1\"/></properties><testsuite name=\"inner\"><properties>"
                      "<property name=\"split\" value=\"s2\"/></properties>"
                      "<testcase classname=\"a\" name=\"b\"/></testsuite>"
                      "<testcase classname=\"a\" name=\"c\"/></testsuite></testsuites>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.ev[0].commit, "c1");
    assert_string_equal(e.ev[0].split, "s2");
    assert_string_equal(e.ev[1].commit, "c1");
    assert_string_equal(e.ev[1].split, ""); /* the inner suite's split ended with it */
}

static void test_junit__numbers_from_messages(void **state)
{
    (void)state;
    double v, l;
    assert_int_equal(pb_junit_message_numbers("AssertionError: took 15.32ms, expected < 10ms "
                                              "(threshold exceeded by 53.2%)",
                                              &v, &l),
                     1);
    assert_true(fabs(v - 0.01532) < 1e-12 && fabs(l - 0.010) < 1e-12);
    assert_int_equal(pb_junit_message_numbers("took 250us > 200 us", &v, &l), 1);
    assert_true(fabs(v - 250e-6) < 1e-15 && fabs(l - 200e-6) < 1e-15);
    assert_int_equal(pb_junit_message_numbers("took 12\xc2\xb5s, expected < 10\xc2\xb5s", &v, &l),
                     1);
    assert_true(fabs(v - 12e-6) < 1e-15 && fabs(l - 10e-6) < 1e-15);
    assert_int_equal(pb_junit_message_numbers("1.5 s exceeds 1 s", &v, &l), 1);
    assert_true(fabs(v - 1.5) < 1e-12 && fabs(l - 1.0) < 1e-12);
    /* limit first, value after */
    assert_int_equal(pb_junit_message_numbers("expected < 10ms, took 12.5ms", &v, &l), 1);
    assert_true(fabs(v - 0.0125) < 1e-12 && fabs(l - 0.010) < 1e-12);
    /* no unit, no number; test names with digits are not numbers */
    assert_int_equal(pb_junit_message_numbers("assert 15 < 10", &v, &l), 0);
    assert_true(isnan(v) && isnan(l));
    assert_int_equal(pb_junit_message_numbers("test_3s failed", &v, &l), 0);
    /* exponents belong to the number; one beyond a double is no value, and
     * its trailing digits ("00ms") are not a number of their own */
    assert_int_equal(pb_junit_message_numbers("took 1.5e3ms, expected < 2E+3 ms", &v, &l), 1);
    assert_true(fabs(v - 1.5) < 1e-12 && fabs(l - 2.0) < 1e-12);
    assert_int_equal(pb_junit_message_numbers("took 1e400ms", &v, &l), 0);
    assert_true(isnan(v) && isnan(l));
    assert_int_equal(pb_junit_message_numbers("took 1e400ms, then 20ms", &v, &l), 1);
    assert_true(fabs(v - 0.020) < 1e-12);
    assert_true(isnan(pb_junit_parse_time("abc")));
    assert_true(fabs(pb_junit_parse_time("1,234.5") - 1234.5) < 1e-9);
    assert_true(fabs(pb_junit_parse_time("1,234,567") - 1234567) < 1e-9);
    /* A comma that is no thousands separator, hex, inf: not numbers (they
     * were read as 15, 123, 16 and inf-then-refused). */
    const char *bad[] = {"1,5", "1,23", "12,34.5", "1234,567", ",123", "1,234,5", "0x10", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_true(isnan(pb_junit_parse_time(bad[i])));
}

/* Timestamps are ordered as instants: an offset or a fraction of a second
 * ordered as text put runs out of order (a step read as flaky). */
static void test_junit__timestamps_compare_as_instants(void **state)
{
    (void)state;
    /* 10:00Z is 15:00+05:00: 11:00Z comes after it. */
    assert_true(pb_junit_timestamp_cmp("2024-03-01T15:00:00+05:00", "2024-03-01T11:00:00Z") < 0);
    assert_true(pb_junit_timestamp_cmp("2024-03-01T10:00:00Z", "2024-03-01T15:00:00+05:00") == 0);
    assert_true(pb_junit_timestamp_cmp("2024-03-01T10:00:00.5Z", "2024-03-01T10:00:00Z") > 0);
    assert_true(pb_junit_timestamp_cmp("2024-03-01 10:00:01", "2024-03-01T10:00:00") > 0);
    assert_true(pb_junit_timestamp_cmp("2024-02-29T23:00:00-02:00", "2024-03-01T00:30:00Z") > 0);
    assert_true(pb_junit_timestamp_cmp("2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z") < 0);
    /* What does not parse comes after what does, and among itself as text. */
    assert_true(pb_junit_timestamp_cmp("yesterday", "2024-03-01T10:00:00Z") > 0);
    assert_true(pb_junit_timestamp_cmp("a", "b") < 0);
    /* As seconds: 2024-03-01T10:00:00Z is 19783 days and 10 hours after the epoch. */
    double t = 0;
    assert_int_equal(pb_junit_iso_seconds("2024-03-01T10:00:00Z", &t), 0);
    assert_true(t == 19783.0 * 86400 + 36000);
    assert_int_equal(pb_junit_iso_seconds("2024-02-29T23:59:59.5-01:30", &t), 0);
    assert_true(t == 19782.0 * 86400 + 86399.5 + 5400);
    assert_int_equal(pb_junit_iso_seconds("2024-03-01T24:00:00", &t), 0);
    assert_true(t == 19784.0 * 86400);
    /* Not times: signs or spaces where digits go, days a month has not,
     * hours, minutes and zones out of range. */
    const char *bad[] = {
        "2024-01-01T-5:-7:00Z",   "2024-01-01T+5:07:00Z",      "2024-+1-01T00:00:00",
        "2024-01- 1T00:00:00",    "2023-02-29T00:00:00",       "2024-02-30T00:00:00",
        "2024-04-31T00:00:00",    "2024-01-01T24:59:00",       "2024-01-01T25:00:00",
        "2024-01-01T10:60:00",    "2024-01-01T10:00:00+99:99", "2024-01-01T10:00:00+05:7",
        "2024-01-01T10:00:00-+1", "2024-01-01T10:00:0",        "2024-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pb_junit_iso_seconds(bad[i], &t) == 0)
            fail_msg("'%s' parsed as %.0f", bad[i], t);
}

/* The fast path for plain decimals must give strtod's exact double, and leave
 * everything else (separators, signs, exponents, long mantissas) to strtod. */
static void test_junit__times_parse_exactly_like_strtod(void **state)
{
    (void)state;
    static const char *fixed[] = {"0",
                                  "5.",
                                  ".5",
                                  "0.1",
                                  "0.0001",
                                  "123456789012345",
                                  "1234567890.12345",
                                  "0.000000000000001",
                                  "9007199254740993",
                                  "0.30000000000000004",
                                  "1e3",
                                  "+1.5",
                                  "-0.25",
                                  " 1.5",
                                  "1.5 ",
                                  "1.2.3",
                                  "",
                                  ".",
                                  "1,234.5"};
    char buf[64];
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        const char *s = fixed[i];
        double got = pb_junit_parse_time(s);
        char tmp[64], *end;
        size_t j = 0;
        for (const char *p = s; *p; p++)
            if (*p != ',')
                tmp[j++] = *p;
        tmp[j] = '\0';
        double want = strtod(tmp, &end);
        while (*end == ' ')
            end++;
        if (end == tmp || *end)
            assert_true(isnan(got));
        else
            assert_memory_equal(&got, &want, sizeof(got));
    }
    /* times as CI writes them: digits, a point, up to 15 digits in all */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int ip = (int)(x % 8), fp = (int)((x >> 8) % 9);
        snprintf(buf, sizeof(buf), "%0*llu.%0*llu", ip ? ip : 1,
                 (unsigned long long)((x >> 16) % 10000000), fp ? fp : 1,
                 (unsigned long long)((x >> 40) % 100000000));
        double got = pb_junit_parse_time(buf), want = strtod(buf, NULL);
        assert_memory_equal(&got, &want, sizeof(got));
    }
}

static void expect_einval(const char *xml, const char *fragment)
{
    events e = {0};
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(parse(xml, &e, NULL, &err), PB_EINVAL);
    if (!strstr(err.message, fragment))
        fail_msg("message '%s' lacks '%s'", err.message, fragment);
    assert_non_null(strstr(err.message, "test.xml:"));
}

static void test_junit__hostile_inputs_are_refused(void **state)
{
    (void)state;
    expect_einval("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
                  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
                  "<testsuite><testcase name=\"&lol2;\"/></testsuite>",
                  "entity");
    expect_einval("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "
                  "\"file:///etc/passwd\">]><testsuite><testcase name=\"&xxe;\"/></testsuite>",
                  "entity");
    expect_einval("<testsuite><testcase name=\"a\">", "not valid XML");
    expect_einval("\x01\x02\xff\xfe garbage \x00", "not valid XML");
    expect_einval("<testsuite><testcase name=\"&undefined;\"/></testsuite>", "not valid XML");
}

static void test_junit__huge_attribute_stops_early(void **state)
{
    (void)state;
    /* one attribute larger than PB_JUNIT_TOKEN_MAX: refused, not buffered forever */
    size_t n = PB_JUNIT_TOKEN_MAX + (2u << 20);
    char *xml = malloc(n + 64);
    assert_non_null(xml);
    size_t off = (size_t)sprintf(xml, "<testsuite><testcase name=\"");
    memset(xml + off, 'A', n);
    off += n;
    strcpy(xml + off, "\"/></testsuite>");
    events e = {0};
    pb_error err = PB_ERROR_INIT;
    int rc = pb_junit_parse_mem("big.xml", xml, strlen(xml), collect, &e, NULL, &err);
    free(xml);
    assert_int_equal(rc, PB_EINVAL);
    assert_non_null(strstr(err.message, "token"));
    assert_int_equal(e.n, 0);
}

static void test_junit__long_text_is_capped_not_refused(void **state)
{
    (void)state;
    /* a long message body is many text events, kept only up to the cap */
    size_t n = 3u << 20;
    char *xml = malloc(n + 128);
    assert_non_null(xml);
    size_t off = (size_t)sprintf(xml, "<testsuite><testcase name=\"a\"><failure>");
    memset(xml + off, 'x', n);
    off += n;
    strcpy(xml + off, "</failure></testcase></testsuite>");
    events e = {0};
    int rc = parse(xml, &e, NULL, NULL);
    free(xml);
    assert_int_equal(rc, 0);
    assert_int_equal(e.n, 1);
    assert_int_equal(strlen(e.ev[0].message), 255); /* our copy; the reader caps at 1024 */
}

static int name_lengths(void *ctx, const pb_junit_case *c)
{
    size_t *len = ctx;
    len[0] = strlen(c->classname);
    len[1] = strlen(c->name);
    assert_int_equal(c->classname_len, len[0]);
    assert_int_equal(c->name_len, len[1]);
    return 0;
}

static void test_junit__long_names_are_capped(void **state)
{
    (void)state;
    /* classname far over the cap, name exactly at it, then one under */
    static const size_t sizes[][2] = {{5000, PB_JUNIT_TEXT_MAX}, {PB_JUNIT_TEXT_MAX - 1, 0}};
    for (size_t k = 0; k < 2; k++) {
        char *xml = malloc(8192);
        assert_non_null(xml);
        size_t off = (size_t)sprintf(xml, "<testsuite><testcase classname=\"");
        memset(xml + off, 'c', sizes[k][0]);
        off += sizes[k][0];
        off += (size_t)sprintf(xml + off, "\" name=\"");
        memset(xml + off, 'n', sizes[k][1]);
        off += sizes[k][1];
        strcpy(xml + off, "\"/></testsuite>");
        size_t len[2] = {0, 0};
        pb_error err = PB_ERROR_INIT;
        assert_int_equal(
            pb_junit_parse_mem("long.xml", xml, strlen(xml), name_lengths, len, NULL, &err), 0);
        free(xml);
        for (int i = 0; i < 2; i++)
            assert_int_equal(len[i],
                             sizes[k][i] < PB_JUNIT_TEXT_MAX ? sizes[k][i] : PB_JUNIT_TEXT_MAX);
    }
}

static void test_junit__callback_can_stop_and_missing_file(void **state)
{
    (void)state;
    events e = {0};
    pb_error err = PB_ERROR_INIT;
    e.stop_after = 1;
    assert_int_equal(parse("<testsuite><testcase name=\"a\"/><testcase name=\"b\"/></testsuite>",
                           &e, NULL, &err),
                     PB_EINTR);
    assert_int_equal(e.n, 1);
    assert_int_equal(pb_junit_parse_file("/nonexistent/junit.xml", collect, &e, NULL, &err),
                     PB_EIO);
    assert_non_null(strstr(err.message, "/nonexistent/junit.xml"));
}

/* Old Surefire (no classname), PHPUnit's .phpt tests and jest-junit
 * (classname="") name the class only in the suite: two suites' testX were
 * one test run twice (a pass in one read as the rerun of a failure in the
 * other). Bazel's own test.xml names the case after the suite: no repeat. */
static void test_junit__a_missing_classname_is_the_suite_name(void **state)
{
    (void)state;
    const char *xml =
        "<testsuites><testsuite name=\"com.shape.CircleTest\">"
        "<testcase time=\"0.01\" name=\"testX\"/></testsuite>"
        "<testsuite name=\"widget.test.js\"><testcase classname=\"\" name=\"Mount iframe\"/>"
        "<testsuite><testcase name=\"inner\"/></testsuite></testsuite>"
        "<testsuite name=\"bazel/failing_absl_test\"><testcase name=\"bazel/failing_absl_test\" "
        "status=\"run\"><error message=\"exited with error code 1\"></error></testcase>"
        "</testsuite><testsuite name=\"s\"><testcase classname=\"k\" name=\"y\"/></testsuite>"
        "</testsuites>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 5);
    assert_string_equal(e.ev[0].id, "com.shape.CircleTest::testX");
    assert_string_equal(e.ev[1].id, "widget.test.js::Mount iframe");
    assert_string_equal(e.ev[2].id, "widget.test.js::inner"); /* an unnamed suite inherits */
    assert_string_equal(e.ev[3].id, "::bazel/failing_absl_test");
    assert_string_equal(e.ev[4].id, "k::y");
}

/* Google Test writes a DISABLED_ test as status="notrun" with no <skipped>:
 * it did not pass, and its time is no measurement. */
static void test_junit__not_run_status_is_skipped(void **state)
{
    (void)state;
    const char *xml =
        "<testsuites><testsuite name=\"MixedResultTest\">"
        "<testcase name=\"DISABLED_test\" file=\"gtest_xml_output_unittest_.cc\" line=\"98\" "
        "status=\"notrun\" result=\"suppressed\" time=\"0\" classname=\"MixedResultTest\"/>"
        "<testcase name=\"Succeeds\" status=\"run\" result=\"completed\" time=\"0.001\" "
        "classname=\"MixedResultTest\"/>"
        "<testcase name=\"t\" classname=\"c\" status=\"disabled\"/>"
        "</testsuite></testsuites>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 3);
    assert_int_equal(e.ev[0].outcome, PB_OUTCOME_SKIPPED);
    assert_int_equal(e.ev[0].has_message, 0);
    assert_int_equal(e.ev[1].outcome, PB_OUTCOME_PASSED);
    assert_int_equal(e.ev[2].outcome, PB_OUTCOME_SKIPPED);
}

/* One <testcase> is one run of the test, however many results it holds:
 * Google Test writes a <failure> per failed assertion, and a failure then a
 * <skipped> for GTEST_SKIP after a failed EXPECT. They were two attempts
 * (a test that failed twice, its time counted twice). */
static void test_junit__one_testcase_is_one_result(void **state)
{
    (void)state;
    const char *xml =
        "<testsuite name=\"s\">"
        "<testcase name=\"Fails\" classname=\"MixedResultTest\" time=\"0.003\">"
        "<failure message=\"x.cc:93&#x0A;Expected equality of these values:&#x0A;  1&#x0A;  2\" "
        "type=\"\"><![CDATA[x.cc:93]]></failure>"
        "<failure message=\"x.cc:94&#x0A;  2&#x0A;  3\" type=\"\"><![CDATA[x.cc:94]]></failure>"
        "</testcase>"
        "<testcase name=\"SkippedAfterFailure\" classname=\"SkippedTest\" status=\"run\" "
        "result=\"completed\"><failure message=\"x.cc:83 failed\"/>"
        "<skipped message=\"x.cc:83 It is good practice to tell why you skip a test.\"/>"
        "</testcase>"
        "<testcase name=\"b\" classname=\"c\"><skipped>later</skipped><error>boom</error>"
        "</testcase>"
        "<testcase name=\"d\" classname=\"c\"><skipped/><rerunFailure message=\"r\"/>"
        "<failure message=\"f\"/></testcase>"
        "</testsuite>";
    events e = {0};
    assert_int_equal(parse(xml, &e, NULL, NULL), 0);
    assert_int_equal(e.n, 5);
    assert_int_equal(e.ev[0].outcome, PB_OUTCOME_FAILED);
    assert_int_equal(e.ev[0].attempts, 1);
    assert_string_equal(e.ev[0].message, "x.cc:93\nExpected equality of these values:\n  1\n  2");
    assert_int_equal(e.ev[1].outcome, PB_OUTCOME_FAILED);
    assert_int_equal(e.ev[1].attempts, 1);
    assert_string_equal(e.ev[1].message, "x.cc:83 failed");
    /* a skip gives way to a later failure or error, message and all */
    assert_int_equal(e.ev[2].outcome, PB_OUTCOME_ERROR);
    assert_int_equal(e.ev[2].attempts, 1);
    assert_string_equal(e.ev[2].message, "boom");
    /* ...also when a rerun came between: the main result keeps its place */
    assert_int_equal(e.ev[3].outcome, PB_OUTCOME_FAILED);
    assert_int_equal(e.ev[3].attempts, 2);
    assert_string_equal(e.ev[3].message, "f"); /* the failure's, not the skip's */
    assert_int_equal(e.ev[4].outcome, PB_OUTCOME_FAILED);
    assert_string_equal(e.ev[4].message, "r");
}

/* A well-formed file that is no JUnit report (NUnit, TRX, a
 * failsafe-summary.xml, a pom.xml) was a run of no tests, silently. */
static void test_junit__a_file_without_junit_elements_is_refused(void **state)
{
    (void)state;
    expect_einval("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<suites>\n"
                  "<suite errors=\"0\" failures=\"1\" name=\"pytest\" tests=\"5\">"
                  "<case classname=\"test.test_spark.SparkTests\" name=\"test_check\" "
                  "time=\"6.435\"/></suite></suites>",
                  "not a JUnit report: its root element is <suites>");
    /* an empty report is a report */
    events e = {0};
    pb_junit_info info;
    assert_int_equal(parse("<testsuites/>", &e, &info, NULL), 0);
    assert_int_equal(e.n, 0);
    assert_int_equal(parse("<testsuite name=\"x\" tests=\"0\"></testsuite>", &e, NULL, NULL), 0);
    /* and from a file too */
    char path[] = "/tmp/test_junit_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *trx = "<TestRun xmlns=\"http://microsoft.com/schemas/VisualStudio/TeamTest/2010\">"
                      "<Results/></TestRun>";
    assert_int_equal(write(fd, trx, strlen(trx)), (ssize_t)strlen(trx));
    close(fd);
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_junit_parse_file(path, collect, &e, NULL, &err), PB_EINVAL);
    unlink(path);
    assert_non_null(strstr(err.message, "not a JUnit report: its root element is <TestRun>"));
}

/* A decimal comma ("0,123" from a German locale) is no thousands separator:
 * it was read as 123 s, a thousand times too slow; "1.234,5" as 1.2345. In
 * messages, Java's grouped "1,234.5 ms" was read as 234.5 ms, and "1,000 ms"
 * as no time at all; "15 milliseconds" was not read. */
static void test_junit__commas_and_spelled_units(void **state)
{
    (void)state;
    const char *bad[] = {"0,123", "0,5", "01,234", "1.234,5", "1,234.5,6"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!isnan(pb_junit_parse_time(bad[i])))
            fail_msg("'%s' read as %g", bad[i], pb_junit_parse_time(bad[i]));
    assert_true(fabs(pb_junit_parse_time("12,345,678.9") - 12345678.9) < 1e-6);
    double v, l;
    assert_int_equal(pb_junit_message_numbers("Benchmark took 1,234.5 ms, limit 1,000 ms", &v, &l),
                     1);
    assert_true(fabs(v - 1.2345) < 1e-12 && fabs(l - 1.0) < 1e-12);
    assert_int_equal(pb_junit_message_numbers("took 1,234,567ns > 1,000,000 ns", &v, &l), 1);
    assert_true(fabs(v - 1.234567e-3) < 1e-15 && fabs(l - 1e-3) < 1e-15);
    /* a list is no grouped number; a decimal comma gives nothing rather than a wrong value */
    assert_int_equal(pb_junit_message_numbers("items 1,2,3 took 4ms", &v, &l), 1);
    assert_true(fabs(v - 0.004) < 1e-12);
    assert_int_equal(pb_junit_message_numbers("took 0,5 ms", &v, &l), 0);
    assert_int_equal(pb_junit_message_numbers("took 1.234,5ms", &v, &l), 0);
    assert_int_equal(pb_junit_message_numbers("took 15.32 milliseconds, expected < 10 "
                                              "milliseconds",
                                              &v, &l),
                     1);
    assert_true(fabs(v - 0.01532) < 1e-12 && fabs(l - 0.010) < 1e-12);
    assert_int_equal(pb_junit_message_numbers("2 microseconds over 1 microsecond", &v, &l), 1);
    assert_true(fabs(v - 2e-6) < 1e-15);
    assert_int_equal(pb_junit_message_numbers("500 nanoseconds", &v, &l), 1);
    assert_true(fabs(v - 5e-7) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junit__pytest_xunit2_cases_and_properties),
        cmocka_unit_test(test_junit__pytest_rerun_repeats_the_testcase),
        cmocka_unit_test(test_junit__negative_time_is_no_time),
        cmocka_unit_test(test_junit__a_version_named_revision_is_no_commit),
        cmocka_unit_test(test_junit__windows_1252_is_read),
        cmocka_unit_test(test_junit__surefire_flaky_failures_then_pass),
        cmocka_unit_test(test_junit__surefire_rerun_failures_stay_failed),
        cmocka_unit_test(test_junit__nested_suites_inherit_properties),
        cmocka_unit_test(test_junit__numbers_from_messages),
        cmocka_unit_test(test_junit__times_parse_exactly_like_strtod),
        cmocka_unit_test(test_junit__timestamps_compare_as_instants),
        cmocka_unit_test(test_junit__hostile_inputs_are_refused),
        cmocka_unit_test(test_junit__huge_attribute_stops_early),
        cmocka_unit_test(test_junit__long_text_is_capped_not_refused),
        cmocka_unit_test(test_junit__long_names_are_capped),
        cmocka_unit_test(test_junit__callback_can_stop_and_missing_file),
        cmocka_unit_test(test_junit__a_missing_classname_is_the_suite_name),
        cmocka_unit_test(test_junit__not_run_status_is_skipped),
        cmocka_unit_test(test_junit__one_testcase_is_one_result),
        cmocka_unit_test(test_junit__a_file_without_junit_elements_is_refused),
        cmocka_unit_test(test_junit__commas_and_spelled_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
