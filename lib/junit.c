/*
 * junit.c — the streaming JUnit reader. One expat parser per call; the state
 * below holds only capped copies of what one testcase needs, so memory does
 * not depend on the size of the file.
 */
#include "perfbisect/junit.h"
#include "perfbisect/buf.h"

#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define SUITE_DEPTH_MAX 32
#define NAME_MAX_ 64

/* Longest suite name kept: it stands in for a missing classname. */
#define SUITE_NAME_MAX 256

typedef struct suite_meta {
    char commit[64];
    char split[64];
    char timestamp[40];
    char name[SUITE_NAME_MAX];
} suite_meta;

typedef enum attempt_kind { ATT_FLAKY, ATT_MAIN, ATT_RERUN } attempt_kind;

typedef struct attempt {
    attempt_kind kind;
    pb_outcome outcome;
    size_t msg_off; /* into state.msgs */
    size_t msg_len;
    int has_message_attr;
} attempt;

typedef struct state {
    XML_Parser parser;
    pb_junit_case_fn fn;
    void *ctx;
    pb_junit_info *info;
    const char *name;
    int code;             /* our own reason to stop (0 = expat's error) */
    char reason[256];     /* message for `code` */
    unsigned long events; /* progress counter for the token cap */

    suite_meta suites[SUITE_DEPTH_MAX + 1];
    int suite_depth;      /* number of open suites (0 = outside) */
    int suite_overflow;   /* suites nested deeper than we keep */
    int seen_junit;       /* a <testsuite(s)> or <testcase> element was seen */
    char root[NAME_MAX_]; /* the document's root element, for the error when it is not JUnit */

    int in_testcase;
    int in_props;     /* inside <properties> */
    int capture;      /* -1 none, else attempt index, or -2 system-out */
    int capture_skip; /* depth of a nested element whose text we ignore */
    int elem_depth;   /* depth inside the current testcase */
    int capture_depth;
    int text_depth; /* open elements that may hold text: the text handler is on */

    char classname[PB_JUNIT_TEXT_MAX + 1];
    char casename[PB_JUNIT_TEXT_MAX + 1];
    size_t classname_len, casename_len;
    double time;
    attempt attempts[PB_JUNIT_ATTEMPTS_MAX];
    size_t nattempts;
    int have_main;
    size_t main_index; /* the attempt that is the main result, when have_main */
    int not_run;       /* status="notrun"/"disabled" (Google Test, CTest): skipped, not passed */
    pb_buf msgs;
    pb_buf sysout;
    int have_sysout;
    char prop_names[PB_JUNIT_PROPS_MAX][NAME_MAX_];
    pb_junit_prop props[PB_JUNIT_PROPS_MAX];
    size_t nprops;
} state;

const char *pb_outcome_name(pb_outcome o)
{
    switch (o) {
    case PB_OUTCOME_PASSED:
        return "passed";
    case PB_OUTCOME_FAILED:
        return "failed";
    case PB_OUTCOME_ERROR:
        return "error";
    case PB_OUTCOME_SKIPPED:
        return "skipped";
    }
    return "unknown";
}

static void copy_capped(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/*
 * The common "0.0123": at most 15 digits and 22 decimals, so the integer and
 * the power of ten are exact doubles and one division rounds correctly, as
 * strtod would. Returns 0 when the text needs the general path.
 */
static int parse_plain_decimal(const char *text, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    uint64_t m = 0; /* may wrap on long inputs, which are then refused below */
    const char *p = text, *frac;
    for (; *p >= '0' && *p <= '9'; p++)
        m = m * 10 + (uint64_t)(*p - '0');
    size_t digits = (size_t)(p - text), decimals = 0;
    if (*p == '.') {
        for (frac = ++p; *p >= '0' && *p <= '9'; p++)
            m = m * 10 + (uint64_t)(*p - '0');
        decimals = (size_t)(p - frac);
    }
    if (*p || digits + decimals == 0 || digits + decimals > 15)
        return 0;
    *out = (double)m / pow10[decimals];
    return 1;
}

/* "1,234,567.5": commas only between groups of three digits, the first group
 * without a leading zero ("0,123" is a decimal comma), none after the point
 * ("1.234,5" is German for 1234.5). */
static int grouped_ok(const char *p)
{
    if (*p == '+' || *p == '-')
        p++;
    const char *start = p;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == start || p - start > 3 || *start == '0')
        return 0;
    while (*p == ',') {
        p++;
        for (int k = 0; k < 3; k++, p++)
            if (!(*p >= '0' && *p <= '9'))
                return 0;
    }
    return !((*p >= '0' && *p <= '9') || strchr(p, ','));
}

double pb_junit_parse_time(const char *text)
{
    char tmp[64];
    size_t j = 0;
    double v;
    if (!text)
        return NAN;
    if (parse_plain_decimal(text, &v))
        return v;
    /* Surefire writes thousands separators: "1,234.5". A comma elsewhere
     * ("1,5" from a decimal-comma locale) is no number: read as 15 it would
     * be ten times off. Nor are hex, inf or nan, which strtod would take. */
    if (strspn(text, "0123456789.,eE+- \t\n") != strlen(text) ||
        (strchr(text, ',') && !grouped_ok(text)))
        return NAN;
    for (const char *p = text; *p && j < sizeof(tmp) - 1; p++)
        if (*p != ',')
            tmp[j++] = *p;
    tmp[j] = '\0';
    char *end = NULL;
    errno = 0;
    v = strtod(tmp, &end);
    while (end && (*end == ' ' || *end == '\t' || *end == '\n'))
        end++;
    if (end == tmp || errno || !end || *end || !isfinite(v))
        return NAN;
    return v;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Does s start with `shape`, a digit where it says 'd' (sscanf's %d would
 * also take a sign or a space)? */
static int shaped(const char *s, const char *shape)
{
    for (; *shape; s++, shape++)
        if (*shape == 'd' ? !(*s >= '0' && *s <= '9') : *s != *shape)
            return 0;
    return 1;
}

int pb_junit_iso_seconds(const char *s, double *out)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, zh = 0, zm = 0;
    double sec;
    if (!shaped(s, "dddd-dd-dd") || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !shaped(s + 11, "dd:dd:dd") || sscanf(s, "%4d-%2d-%2d", &y, &mo, &d) != 3 ||
        sscanf(s + 11, "%2d:%2d", &h, &mi) != 2)
        return -1;
    s += 17;
    char *end;
    sec = strtod(s, &end);
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    /* 24:00:00 is midnight at the end of the day. */
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] - (mo == 2 && !leap) || mi > 59 ||
        !(sec < 61) || h > 24 || (h == 24 && (mi || sec > 0)))
        return -1;
    s = end;
    int sign = *s == '-' ? -1 : 1;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        if (!shaped(s + 1, "dd") || sscanf(s + 1, "%2d", &zh) != 1 || zh > 23)
            return -1;
        s += 3;
        s += *s == ':';
        if (*s >= '0' && *s <= '9') {
            if (!shaped(s, "dd") || sscanf(s, "%2d", &zm) != 1 || zm > 59)
                return -1;
            s += 2;
        }
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s)
        return -1;
    *out = (double)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
           sign * (zh * 3600 + zm * 60);
    return 0;
}

int pb_junit_timestamp_cmp(const char *a, const char *b)
{
    double x, y;
    int xa = pb_junit_iso_seconds(a, &x) == 0, yb = pb_junit_iso_seconds(b, &y) == 0;
    if (xa && yb)
        return (x > y) - (x < y);
    if (xa != yb)
        return xa ? -1 : 1;
    return strcmp(a, b);
}

static int is_hex_id(const char *v)
{
    size_t n = strspn(v, "0123456789abcdefABCDEF");
    return v[n] == '\0' && n >= 7 && n <= 64;
}

/* "revision" only when it looks like a commit id: Maven builds set it to
 * the project's version (-Drevision=1.0.0-SNAPSHOT), and Surefire writes
 * every system property into its reports. */
static int is_commit_prop(const char *n, const char *v)
{
    return !strcasecmp(n, "commit") || !strcasecmp(n, "git_commit") || !strcasecmp(n, "sha") ||
           (!strcasecmp(n, "revision") && is_hex_id(v)) || !strcasecmp(n, "github_sha") ||
           !strcasecmp(n, "ci_commit_sha");
}

static int is_split_prop(const char *n)
{
    return !strcasecmp(n, "split") || !strcasecmp(n, "shard") || !strcasecmp(n, "split_index") ||
           !strcasecmp(n, "ci_node_index");
}

static suite_meta *top_suite(state *st)
{
    return &st->suites[st->suite_depth > SUITE_DEPTH_MAX ? SUITE_DEPTH_MAX : st->suite_depth];
}

static void stop(state *st, int code, const char *msg)
{
    if (!st->code) {
        st->code = code;
        copy_capped(st->reason, sizeof(st->reason), msg);
    }
    XML_StopParser(st->parser, XML_FALSE);
}

static void reset_case(state *st)
{
    st->classname[0] = st->casename[0] = '\0';
    st->classname_len = st->casename_len = 0;
    st->time = NAN;
    st->nattempts = 0;
    st->have_main = 0;
    st->not_run = 0;
    /* an empty pb_buf is already "" (skip the calls: this runs once per testcase) */
    if (st->msgs.len)
        pb_buf_clear(&st->msgs);
    if (st->sysout.len)
        pb_buf_clear(&st->sysout);
    st->have_sysout = 0;
    st->nprops = 0;
    st->capture = -1;
    st->capture_skip = 0;
    st->elem_depth = 0;
}

/* Append the element's message attribute (capped) to msgs as a's message;
 * -1 when out of memory (the parse is stopped). */
static int take_message_attr(state *st, attempt *a, const char **attrs)
{
    a->msg_off = st->msgs.len;
    a->msg_len = 0;
    a->has_message_attr = 0;
    for (size_t i = 0; attrs[i]; i += 2) {
        if (!strcmp(attrs[i], "message")) {
            size_t n = strlen(attrs[i + 1]);
            if (n > PB_JUNIT_TEXT_MAX)
                n = PB_JUNIT_TEXT_MAX;
            if (pb_buf_put(&st->msgs, attrs[i + 1], n) < 0) {
                stop(st, PB_ENOMEM, "out of memory");
                return -1;
            }
            a->msg_len = n;
            a->has_message_attr = n > 0;
        }
    }
    return 0;
}

static void add_attempt(state *st, attempt_kind kind, pb_outcome outcome, const char **attrs)
{
    /* One run has one result: Google Test writes a <failure> per failed
     * assertion, and a <skipped> after a failure (GTEST_SKIP after a failed
     * EXPECT). The first failure or error stands; a skip gives way to one. */
    if (kind == ATT_MAIN && st->have_main) {
        attempt *m = &st->attempts[st->main_index];
        if (m->outcome != PB_OUTCOME_SKIPPED || outcome == PB_OUTCOME_SKIPPED) {
            st->capture = -1;
            return;
        }
        if (st->main_index + 1 != st->nattempts) {
            /* Reruns follow: it keeps its place, and takes the failure's
             * message attribute (its text body cannot grow there). */
            m->outcome = outcome;
            st->capture = -1;
            take_message_attr(st, m, attrs);
            return;
        }
        /* the last one: replace it, message and all (msgs is read by offset, and kept
         * NUL-terminated as pb_buf keeps it) */
        st->msgs.len = m->msg_off;
        if (st->msgs.data)
            st->msgs.data[st->msgs.len] = '\0';
        st->nattempts--;
        st->have_main = 0;
    }
    if (st->nattempts >= PB_JUNIT_ATTEMPTS_MAX)
        return;
    attempt *a = &st->attempts[st->nattempts];
    a->kind = kind;
    a->outcome = outcome;
    if (take_message_attr(st, a, attrs) < 0)
        return;
    if (kind == ATT_MAIN) {
        st->have_main = 1;
        st->main_index = st->nattempts;
    }
    st->capture = a->has_message_attr ? -1 : (int)st->nattempts;
    st->capture_depth = st->elem_depth;
    st->nattempts++;
}

static void on_text(void *ud, const XML_Char *s, int len);

typedef enum elem {
    EL_OTHER,
    EL_TESTCASE, /* the structural ones first: see is_structural */
    EL_SUITE,
    EL_PROPERTIES,
    EL_PROPERTY,
    EL_FAILURE,
    EL_ERROR,
    EL_SKIPPED,
    EL_FLAKY_FAILURE,
    EL_FLAKY_ERROR,
    EL_RERUN_FAILURE,
    EL_RERUN_ERROR,
    EL_SYSTEM_OUT,
    EL_SYSTEM_ERR,
} elem;

/* strcmp(a, lit) == 0 for the names of the hottest tag, without a call. */
static inline int name_is(const char *a, const char *lit)
{
    while (*lit && *a == *lit)
        a++, lit++;
    return *a == *lit;
}

/* Name an element with one switch and (mostly) one strcmp: this runs for every tag. */
static elem elem_of(const char *el)
{
    switch (el[0]) {
    case 't':
        if (name_is(el + 1, "estcase")) /* the hottest: compared inline */
            return EL_TESTCASE;
        if (!strcmp(el, "testsuite") || !strcmp(el, "testsuites"))
            return EL_SUITE;
        break;
    case 'p':
        if (!strcmp(el, "property"))
            return EL_PROPERTY;
        if (!strcmp(el, "properties"))
            return EL_PROPERTIES;
        break;
    case 'f':
        if (!strcmp(el, "failure"))
            return EL_FAILURE;
        if (!strcmp(el, "flakyFailure"))
            return EL_FLAKY_FAILURE;
        if (!strcmp(el, "flakyError"))
            return EL_FLAKY_ERROR;
        break;
    case 'e':
        if (!strcmp(el, "error"))
            return EL_ERROR;
        break;
    case 'r':
        if (!strcmp(el, "rerunFailure"))
            return EL_RERUN_FAILURE;
        if (!strcmp(el, "rerunError"))
            return EL_RERUN_ERROR;
        break;
    case 's':
        if (!strcmp(el, "skipped"))
            return EL_SKIPPED;
        if (!strcmp(el, "system-out"))
            return EL_SYSTEM_OUT;
        if (!strcmp(el, "system-err"))
            return EL_SYSTEM_ERR;
        break;
    }
    return EL_OTHER;
}

/* Elements whose only text is layout whitespace: no text handler inside them, which spares
 * expat a callback per line break (the hot path on big files). */
static int is_structural(elem e)
{
    return e >= EL_TESTCASE && e <= EL_PROPERTY;
}

static void property_attrs(const char **attrs, const char **name, const char **value)
{
    *name = *value = NULL;
    for (size_t i = 0; attrs[i]; i += 2) {
        if (!strcmp(attrs[i], "name"))
            *name = attrs[i + 1];
        else if (!strcmp(attrs[i], "value"))
            *value = attrs[i + 1];
    }
}

/* copy_capped into a PB_JUNIT_TEXT_MAX + 1 array, returning the length: memccpy reads the
 * text once, and a libc call beats the inlined copy gcc makes of a bounded memcpy. */
static size_t copy_text(char *dst, const char *src)
{
    const char *end = memccpy(dst, src, '\0', PB_JUNIT_TEXT_MAX);
    if (end)
        return (size_t)(end - dst) - 1;
    dst[PB_JUNIT_TEXT_MAX] = '\0';
    return PB_JUNIT_TEXT_MAX;
}

static void start_testcase(state *st, const char **attrs)
{
    reset_case(st);
    st->in_testcase = 1;
    if (st->info)
        st->info->testcases++;
    for (size_t i = 0; attrs[i]; i += 2) {
        const char *a = attrs[i];
        if (a[0] == 'c' && name_is(a + 1, "lassname"))
            st->classname_len = copy_text(st->classname, attrs[i + 1]);
        else if (a[0] == 'n' && name_is(a + 1, "ame"))
            st->casename_len = copy_text(st->casename, attrs[i + 1]);
        else if (a[0] == 't' && name_is(a + 1, "ime")) {
            st->time = pb_junit_parse_time(attrs[i + 1]);
            if (st->time < 0) /* no test takes less than no time: a broken writer */
                st->time = NAN;
        } else if (a[0] == 's' && name_is(a + 1, "tatus"))
            st->not_run = !strcasecmp(attrs[i + 1], "notrun") ||
                          !strcasecmp(attrs[i + 1], "disabled") ||
                          !strcasecmp(attrs[i + 1], "skipped");
    }
    /* Old Surefire, PHPUnit's .phpt tests and jest-junit (classname="") name
     * no class: the suite is the class, as Jenkins reads them. Without it, the
     * same method name in two suites would be one test run twice. */
    if (!st->classname_len && st->suite_depth > 0 && strcmp(top_suite(st)->name, st->casename))
        st->classname_len = copy_text(st->classname, top_suite(st)->name);
}

/* A child of the open testcase (at any depth). */
static void start_in_testcase(state *st, elem e, const char **attrs)
{
    st->elem_depth++;
    if (st->elem_depth == 1) {
        switch (e) {
        case EL_FAILURE:
            add_attempt(st, ATT_MAIN, PB_OUTCOME_FAILED, attrs);
            break;
        case EL_ERROR:
            add_attempt(st, ATT_MAIN, PB_OUTCOME_ERROR, attrs);
            break;
        case EL_SKIPPED:
            add_attempt(st, ATT_MAIN, PB_OUTCOME_SKIPPED, attrs);
            break;
        case EL_FLAKY_FAILURE:
            add_attempt(st, ATT_FLAKY, PB_OUTCOME_FAILED, attrs);
            break;
        case EL_FLAKY_ERROR:
            add_attempt(st, ATT_FLAKY, PB_OUTCOME_ERROR, attrs);
            break;
        case EL_RERUN_FAILURE:
            add_attempt(st, ATT_RERUN, PB_OUTCOME_FAILED, attrs);
            break;
        case EL_RERUN_ERROR:
            add_attempt(st, ATT_RERUN, PB_OUTCOME_ERROR, attrs);
            break;
        case EL_SYSTEM_OUT:
            st->capture = -2;
            st->capture_depth = 1;
            st->have_sysout = 1;
            break;
        case EL_PROPERTIES:
            st->in_props = 1;
            break;
        default:
            break;
        }
    } else if (st->in_props && e == EL_PROPERTY) {
        const char *name, *value;
        property_attrs(attrs, &name, &value);
        double v = value ? pb_junit_parse_time(value) : NAN;
        if (name && !isnan(v) && st->nprops < PB_JUNIT_PROPS_MAX) {
            copy_capped(st->prop_names[st->nprops], NAME_MAX_, name);
            st->props[st->nprops].name = st->prop_names[st->nprops];
            st->props[st->nprops].value = v;
            st->nprops++;
        }
    } else if (st->capture >= 0 && (e == EL_SYSTEM_OUT || e == EL_SYSTEM_ERR) && !st->capture_skip)
        st->capture_skip = st->elem_depth; /* Surefire's per-attempt output: not a message */
}

static void start_suite(state *st, const char **attrs)
{
    st->suite_depth++;
    if (st->suite_depth > SUITE_DEPTH_MAX) {
        st->suite_overflow++;
        return;
    }
    st->suites[st->suite_depth] = st->suites[st->suite_depth - 1];
    for (size_t i = 0; attrs[i]; i += 2) {
        if (!strcmp(attrs[i], "name") && attrs[i + 1][0])
            copy_capped(top_suite(st)->name, SUITE_NAME_MAX, attrs[i + 1]);
        else if (!strcmp(attrs[i], "timestamp")) {
            suite_meta *m = top_suite(st);
            copy_capped(m->timestamp, sizeof(m->timestamp), attrs[i + 1]);
            if (st->info && m->timestamp[0] &&
                (!st->info->timestamp[0] ||
                 pb_junit_timestamp_cmp(m->timestamp, st->info->timestamp) < 0))
                copy_capped(st->info->timestamp, sizeof(st->info->timestamp), m->timestamp);
        }
    }
}

static void suite_property(state *st, const char **attrs)
{
    const char *name, *value;
    property_attrs(attrs, &name, &value);
    if (!name || !value)
        return;
    suite_meta *m = top_suite(st);
    if (is_commit_prop(name, value)) {
        copy_capped(m->commit, sizeof(m->commit), value);
        if (st->info && !st->info->commit[0])
            copy_capped(st->info->commit, sizeof(st->info->commit), value);
    } else if (is_split_prop(name)) {
        copy_capped(m->split, sizeof(m->split), value);
        if (st->info && !st->info->split[0])
            copy_capped(st->info->split, sizeof(st->info->split), value);
    }
}

static void on_start(void *ud, const XML_Char *el, const XML_Char **attrs)
{
    state *st = ud;
    elem e = elem_of(el);
    st->events++;
    if (!st->root[0])
        copy_capped(st->root, sizeof(st->root), el);
    if (e == EL_SUITE || e == EL_TESTCASE)
        st->seen_junit = 1;
    if (!is_structural(e) && st->text_depth++ == 0)
        XML_SetCharacterDataHandler(st->parser, on_text);
    if (st->in_testcase)
        start_in_testcase(st, e, attrs);
    else if (e == EL_TESTCASE)
        start_testcase(st, attrs);
    else if (e == EL_SUITE)
        start_suite(st, attrs);
    else if (e == EL_PROPERTIES)
        st->in_props = 1;
    else if (e == EL_PROPERTY && st->in_props && st->suite_depth > 0)
        suite_property(st, attrs);
}

static int emit(state *st, pb_outcome outcome, const char *msg, unsigned index, unsigned total)
{
    pb_junit_case c;
    const suite_meta *m = top_suite(st);
    c.classname = st->classname;
    c.name = st->casename;
    c.classname_len = st->classname_len;
    c.name_len = st->casename_len;
    c.attempt = index;
    c.attempts = total;
    c.outcome = outcome;
    c.time = st->time;
    c.message = outcome == PB_OUTCOME_PASSED ? NULL : msg;
    c.system_out = st->have_sysout ? pb_buf_cstr(&st->sysout) : NULL;
    c.props = st->props;
    c.nprops = st->nprops;
    c.commit = m->commit[0] ? m->commit : NULL;
    c.split = m->split[0] ? m->split : NULL;
    c.timestamp = m->timestamp[0] ? m->timestamp : NULL;
    return st->fn ? st->fn(st->ctx, &c) : 0;
}

/* Attempts in time order: Surefire's flaky failures, the main result, reruns. */
static void finish_case(state *st)
{
    unsigned total = (unsigned)st->nattempts + (st->have_main ? 0u : 1u);
    unsigned index = 0;
    for (int kind = ATT_FLAKY; kind <= ATT_RERUN; kind++) {
        if (kind == ATT_MAIN && !st->have_main) {
            if (emit(st, st->not_run ? PB_OUTCOME_SKIPPED : PB_OUTCOME_PASSED, NULL, index++,
                     total))
                goto stopped;
            continue;
        }
        for (size_t i = 0; i < st->nattempts; i++) {
            const attempt *a = &st->attempts[i];
            if ((int)a->kind != kind)
                continue;
            /* messages are stored back to back in msgs: copy one out to end it */
            char msg[PB_JUNIT_TEXT_MAX + 1];
            if (a->msg_len)
                memcpy(msg, st->msgs.data + a->msg_off, a->msg_len);
            msg[a->msg_len] = '\0';
            if (emit(st, a->outcome, msg, index++, total))
                goto stopped;
        }
    }
    return;
stopped:
    stop(st, PB_EINTR, "stopped by the caller");
}

static void on_end(void *ud, const XML_Char *el)
{
    state *st = ud;
    st->events++;
    if (st->in_testcase && st->elem_depth == 0) { /* </testcase>: no need to look at the name */
        st->in_testcase = 0;
        st->in_props = 0;
        finish_case(st);
        return;
    }
    elem e = elem_of(el);
    if (!is_structural(e) && --st->text_depth == 0)
        XML_SetCharacterDataHandler(st->parser, NULL);
    if (st->in_testcase) {
        if (st->capture_skip == st->elem_depth)
            st->capture_skip = 0;
        if (st->capture != -1 && st->elem_depth == st->capture_depth)
            st->capture = -1;
        if (st->elem_depth == 1 && st->in_props && e == EL_PROPERTIES)
            st->in_props = 0;
        st->elem_depth--;
        return;
    }
    if (e == EL_PROPERTIES)
        st->in_props = 0;
    else if (e == EL_SUITE) {
        if (st->suite_depth > SUITE_DEPTH_MAX)
            st->suite_overflow--;
        if (st->suite_depth > 0)
            st->suite_depth--;
    }
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    state *st = ud;
    st->events++;
    if (st->capture == -1 || st->capture_skip)
        return;
    if (st->capture == -2) {
        size_t room = PB_JUNIT_TEXT_MAX - st->sysout.len;
        size_t n = (size_t)len < room ? (size_t)len : room;
        if (n && pb_buf_put(&st->sysout, s, n) < 0)
            stop(st, PB_ENOMEM, "out of memory");
        return;
    }
    attempt *a = &st->attempts[st->capture];
    /* only the last attempt can grow: its text is at the end of msgs */
    if ((size_t)st->capture != st->nattempts - 1)
        return;
    size_t room = PB_JUNIT_TEXT_MAX - a->msg_len;
    size_t n = (size_t)len < room ? (size_t)len : room;
    if (n) {
        if (pb_buf_put(&st->msgs, s, n) < 0) {
            stop(st, PB_ENOMEM, "out of memory");
            return;
        }
        a->msg_len += n;
    }
}

static void on_other(void *ud, const XML_Char *data)
{
    (void)data;
    ((state *)ud)->events++;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    ((state *)ud)->events++;
}

static void on_entity_decl(void *ud, const XML_Char *entity_name, int is_parameter_entity,
                           const XML_Char *value, int value_length, const XML_Char *base,
                           const XML_Char *system_id, const XML_Char *public_id,
                           const XML_Char *notation_name)
{
    (void)entity_name;
    (void)is_parameter_entity;
    (void)value;
    (void)value_length;
    (void)base;
    (void)system_id;
    (void)public_id;
    (void)notation_name;
    stop(ud, PB_EINVAL, "entity declarations are refused (entity expansion attack?)");
}

static int on_external_entity(XML_Parser p, const XML_Char *context, const XML_Char *base,
                              const XML_Char *system_id, const XML_Char *public_id)
{
    (void)context;
    (void)base;
    (void)system_id;
    (void)public_id;
    state *st = XML_GetUserData(p);
    if (!st->code) {
        st->code = PB_EINVAL;
        copy_capped(st->reason, sizeof(st->reason), "external entities are refused");
    }
    return XML_STATUS_ERROR;
}

/*
 * Windows-1252, which expat does not know and Windows CI tools write: Latin-1
 * but for 0x80..0x9F (Unicode's code points there; its five unassigned
 * bytes are errors, -1).
 */
static int on_unknown_encoding(void *data, const XML_Char *name, XML_Encoding *info)
{
    static const int c1[32] = {0x20AC, -1,     0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                               0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, -1,     0x017D, -1,
                               -1,     0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                               0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, -1,     0x017E, 0x0178};
    (void)data;
    if (strcasecmp(name, "windows-1252") != 0 && strcasecmp(name, "cp1252") != 0)
        return XML_STATUS_ERROR;
    for (int i = 0; i < 256; i++)
        info->map[i] = i >= 0x80 && i < 0xA0 ? c1[i - 0x80] : i;
    info->data = NULL;
    info->convert = NULL;
    info->release = NULL;
    return XML_STATUS_OK;
}

static int setup(state *st, const char *name, pb_junit_case_fn fn, void *ctx, pb_junit_info *info,
                 pb_error *err)
{
    memset(st, 0, sizeof(*st));
    st->fn = fn;
    st->ctx = ctx;
    st->info = info;
    st->name = name;
    st->capture = -1;
    if (info)
        memset(info, 0, sizeof(*info));
    st->parser = XML_ParserCreate(NULL);
    if (!st->parser)
        return pb_error_set(err, PB_ENOMEM, "%s: cannot create an XML parser", name);
    XML_SetUserData(st->parser, st);
    XML_SetElementHandler(st->parser, on_start, on_end);
    XML_SetCommentHandler(st->parser, on_other);
    XML_SetStartDoctypeDeclHandler(st->parser, on_doctype);
    XML_SetEntityDeclHandler(st->parser, on_entity_decl);
    XML_SetExternalEntityRefHandler(st->parser, on_external_entity);
    XML_SetParamEntityParsing(st->parser, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetUnknownEncodingHandler(st->parser, on_unknown_encoding, NULL);
    return 0;
}

static int parse_error(state *st, pb_error *err)
{
    XML_Parser p = st->parser;
    unsigned long line = (unsigned long)XML_GetCurrentLineNumber(p);
    unsigned long col = (unsigned long)XML_GetCurrentColumnNumber(p);
    if (st->code)
        return pb_error_set(err, st->code, "%s:%lu:%lu: %s", st->name, line, col, st->reason);
    return pb_error_set(err, PB_EINVAL, "%s:%lu:%lu: not valid XML: %s", st->name, line, col,
                        XML_ErrorString(XML_GetErrorCode(p)));
}

/*
 * A well-formed file with no <testsuite(s)> and no <testcase>: an NUnit or
 * TRX report, a failsafe-summary.xml, a pom.xml. Counting it as a run
 * without tests would hide that the wrong file was given.
 */
static int check_junit(state *st, pb_error *err)
{
    if (st->seen_junit)
        return 0;
    return pb_error_set(err, PB_EINVAL,
                        "%s: not a JUnit report: its root element is <%s>, and it has no "
                        "<testsuite> or <testcase>",
                        st->name, st->root);
}

/*
 * After each chunk: if no event fired while more than PB_JUNIT_TOKEN_MAX
 * bytes went in, expat is buffering one enormous token. Stop before it eats
 * the memory.
 */
static int check_progress(state *st, unsigned long before, size_t n, size_t *stalled)
{
    if (st->events != before)
        *stalled = 0;
    else
        *stalled += n;
    if (*stalled > PB_JUNIT_TOKEN_MAX) {
        st->code = PB_EINVAL;
        copy_capped(st->reason, sizeof(st->reason),
                    "a single XML token is longer than 8 MiB (huge attribute or name?)");
        return -1;
    }
    return 0;
}

static void teardown(state *st)
{
    if (st->parser)
        XML_ParserFree(st->parser);
    pb_buf_free(&st->msgs);
    pb_buf_free(&st->sysout);
}

int pb_junit_parse_mem(const char *name, const char *data, size_t len, pb_junit_case_fn fn,
                       void *ctx, pb_junit_info *info, pb_error *err)
{
    state st;
    int rc = setup(&st, name, fn, ctx, info, err);
    size_t off = 0, stalled = 0;
    if (rc < 0)
        goto done;
    do {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        int final = off + n == len;
        unsigned long before = st.events;
        if (XML_Parse(st.parser, data + off, (int)n, final) != XML_STATUS_OK) {
            rc = parse_error(&st, err);
            goto done;
        }
        if (info)
            info->bytes += n;
        off += n;
        if (check_progress(&st, before, n, &stalled) < 0) {
            rc = parse_error(&st, err);
            goto done;
        }
    } while (off < len);
    if (len == 0 && XML_Parse(st.parser, "", 0, 1) != XML_STATUS_OK) {
        rc = parse_error(&st, err);
        goto done;
    }
    rc = check_junit(&st, err);
done:
    teardown(&st);
    return rc;
}

int pb_junit_parse_file(const char *path, pb_junit_case_fn fn, void *ctx, pb_junit_info *info,
                        pb_error *err)
{
    state st;
    int fd = -1;
    size_t stalled = 0;
    int rc = setup(&st, path, fn, ctx, info, err);
    if (rc < 0)
        goto done;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
        goto done;
    }
    for (;;) {
        void *buf = XML_GetBuffer(st.parser, CHUNK);
        if (!buf) {
            rc = pb_error_set(err, PB_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
            goto done;
        }
        unsigned long before = st.events;
        if (XML_ParseBuffer(st.parser, (int)n, n == 0) != XML_STATUS_OK) {
            rc = parse_error(&st, err);
            goto done;
        }
        if (info)
            info->bytes += (size_t)n;
        if (n == 0) {
            rc = check_junit(&st, err);
            break;
        }
        if (check_progress(&st, before, (size_t)n, &stalled) < 0) {
            rc = parse_error(&st, err);
            goto done;
        }
    }
done:
    if (fd >= 0)
        close(fd);
    teardown(&st);
    return rc;
}

/* ---- numbers in failure messages ---- */

/* Length of a time unit at s (0 if none) and its factor to seconds. */
static size_t unit_at(const char *s, double *factor)
{
    static const struct {
        const char *text;
        double factor;
    } units[] = {
        {"nanoseconds", 1e-9},  {"nanosecond", 1e-9},
        {"microseconds", 1e-6}, {"microsecond", 1e-6},
        {"milliseconds", 1e-3}, {"millisecond", 1e-3},
        {"ns", 1e-9},           {"\xc2\xb5s", 1e-6},
        {"\xce\xbcs", 1e-6},    {"us", 1e-6},
        {"ms", 1e-3},           {"seconds", 1.0},
        {"second", 1.0},        {"secs", 1.0},
        {"sec", 1.0},           {"s", 1.0},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].text);
        if (!strncmp(s, units[i].text, n)) {
            char next = s[n];
            if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'))
                continue;
            *factor = units[i].factor;
            return n;
        }
    }
    return 0;
}

static int context_is_limit(const char *from, const char *to)
{
    static const char *words[] = {"<",         ">",   "expected", "exceed", "limit",
                                  "threshold", "max", "budget",   "than",   "allowed"};
    size_t n = (size_t)(to - from);
    char ctx[64];
    if (n > sizeof(ctx) - 1) {
        from = to - (sizeof(ctx) - 1);
        n = sizeof(ctx) - 1;
    }
    for (size_t i = 0; i < n; i++)
        ctx[i] = (char)((from[i] >= 'A' && from[i] <= 'Z') ? from[i] - 'A' + 'a' : from[i]);
    ctx[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(ctx, words[i]))
            return 1;
    return 0;
}

int pb_junit_message_numbers(const char *msg, double *value, double *limit)
{
    double v = NAN, l = NAN, first = NAN;
    const char *ctx_start = msg;
    int found = 0;
    if (!msg)
        goto done;
    for (const char *p = msg; *p && (isnan(v) || isnan(l)); p++) {
        if (!(*p >= '0' && *p <= '9'))
            continue;
        /* A digit inside a word or another number ("test_3s", the "00ms"
         * of "1e400ms", the "5ms" of "1.234,5ms") starts no number. */
        if (p > msg && ((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                        (p[-1] >= '0' && p[-1] <= '9') || p[-1] == '_' || p[-1] == '.' ||
                        (p[-1] == ',' && p - 1 > msg && p[-2] >= '0' && p[-2] <= '9')))
            continue;
        const char *q = p;
        while (*q >= '0' && *q <= '9')
            q++;
        /* thousands separators, as Java's %,.1f writes them: "1,234.5 ms" */
        int grouped = 0;
        if (*q == ',' && q - p <= 3 && *p != '0')
            while (q[0] == ',' && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' && q[2] <= '9' &&
                   q[3] >= '0' && q[3] <= '9' && !(q[4] >= '0' && q[4] <= '9')) {
                q += 4;
                grouped = 1;
            }
        if (*q == '.' && q[1] >= '0' && q[1] <= '9') {
            q++;
            while (*q >= '0' && *q <= '9')
                q++;
        }
        if (*q == 'e' || *q == 'E') { /* an exponent: "1.5e3ms" */
            const char *e = q + 1 + (q[1] == '+' || q[1] == '-');
            if (*e >= '0' && *e <= '9') {
                for (q = e; *q >= '0' && *q <= '9'; q++)
                    ;
            }
        }
        const char *u = q;
        if (*u == ' ')
            u++;
        double factor = 0;
        size_t ulen = unit_at(u, &factor);
        if (!ulen) {
            p = q - 1 >= p ? q - 1 : p;
            continue;
        }
        char digits[64];
        const char *text = p;
        if (grouped && (size_t)(q - p) < sizeof(digits)) { /* strtod stops at a comma */
            size_t n = 0;
            for (const char *c = p; c < q; c++)
                if (*c != ',')
                    digits[n++] = *c;
            digits[n] = '\0';
            text = digits;
        }
        double num = strtod(text, NULL) * factor;
        if (!isfinite(num)) { /* beyond a double: no value to compare */
            p = u + ulen - 1;
            continue;
        }
        if (context_is_limit(ctx_start, p)) {
            if (isnan(l))
                l = num;
        } else if (isnan(v))
            v = num;
        if (isnan(first))
            first = num;
        ctx_start = u + ulen;
        p = u + ulen - 1;
    }
    if (isnan(v) && !isnan(l) && first != l)
        v = first;
done:
    found = !isnan(v);
    if (value)
        *value = v;
    if (limit)
        *limit = l;
    return found;
}

/* ---------- a run's files ---------- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Append dir/NAME for each regular *.xml file of d whose name starts with
 * `prefix` to *names. */
static int list_xml(const char *dir, DIR *d, const char *prefix, char ***names, size_t *n,
                    size_t *cap, pb_error *err)
{
    struct dirent *e;
    rewinddir(d);
    while ((e = readdir(d))) {
        int want = !strncmp(e->d_name, prefix, strlen(prefix)) && ends_with(e->d_name, ".xml");
        /* A pipe or device named *.xml would block or never end. */
        if (!want || (e->d_type != DT_REG && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN))
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (*n == *cap) {
            size_t c = *cap ? 2 * *cap : 16;
            char **q = realloc(*names, c * sizeof(char *));
            if (!q)
                return pb_error_set(err, PB_ENOMEM, "out of memory");
            *names = q;
            *cap = c;
        }
        if (!((*names)[*n] = malloc(len)))
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        snprintf((*names)[(*n)++], len, "%s/%s", dir, e->d_name);
    }
    return 0;
}

int pb_junit_run_files(const char *path, char ***names_out, size_t *n_out, pb_error *err)
{
    struct stat sb;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    DIR *d = NULL;
    int rc = 0;
    if (stat(path, &sb) < 0) {
        rc = pb_error_set_errno(err, PB_ENOTFOUND, errno, "%s", path);
        goto done;
    }
    if (!S_ISDIR(sb.st_mode)) {
        if (!(names = malloc(sizeof(char *))) || !(names[0] = strdup(path)))
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        else
            nnames = 1;
        goto done;
    }
    d = opendir(path);
    if (!d) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
        goto done;
    }
    for (int pass = 0; pass < 2 && nnames == 0; pass++)
        if ((rc = list_xml(path, d, pass == 0 ? "junit-" : "", &names, &nnames, &cap, err)) < 0)
            goto done;
    if (nnames == 0) {
        /* Gradle and others keep a run's reports one level down
         * (test-results/test/TEST-*.xml): all of them are that run. */
        struct dirent *e;
        rewinddir(d);
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
                continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            DIR *sd = opendir(sub);
            if (!sd)
                continue;
            rc = list_xml(sub, sd, "", &names, &nnames, &cap, err);
            closedir(sd);
            if (rc < 0)
                goto done;
        }
    }
    if (nnames == 0) {
        rc = pb_error_set(err, PB_ENOTFOUND,
                          "%s: no junit-*.xml or *.xml files in it or in its subdirectories", path);
        goto done;
    }
    qsort(names, nnames, sizeof(char *), cmp_name);
done:
    if (d)
        closedir(d);
    if (rc < 0) {
        pb_junit_names_free(names, nnames);
        names = NULL;
        nnames = 0;
    }
    *names_out = names;
    *n_out = nnames;
    return rc;
}

void pb_junit_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
