/*
 * junit.h — a streaming JUnit XML reader (expat), built for CI logs that may
 * be large, truncated or hostile.
 *
 * The reader never builds a tree: it calls back once per test attempt, with
 * pointers that are valid only during the callback. Memory is bounded
 * whatever the file size: every kept attribute or text is capped, and a
 * single XML token (e.g. a 1 GB attribute) that grows past
 * PB_JUNIT_TOKEN_MAX bytes without the parser making progress stops the
 * parse with an error. Entity declarations (billion laughs) and external
 * entities are refused.
 *
 * Variants understood: pytest xunit1/xunit2 (a pytest-rerunfailures rerun
 * is the same testcase appearing again; the caller counts those), Maven
 * Surefire (flakyFailure/flakyError children are failed attempts of a test
 * that finally passed; rerunFailure/rerunError are further failed attempts),
 * nested testsuites, suite and testcase <properties>, <system-out>, and
 * Surefire's "1,234.5" times. A testcase without a classname (old Surefire,
 * PHPUnit's .phpt, jest-junit's classname="") takes its suite's name, as
 * Jenkins does. Google Test's and CTest's status="notrun" or "disabled" is a
 * skip. One testcase element is one result however many <failure>s it holds
 * (Google Test writes one per failed assertion). A file with neither a
 * <testsuite(s)> nor a <testcase> is refused: it is no JUnit report.
 */
#ifndef PERFBISECT_JUNIT_H
#define PERFBISECT_JUNIT_H

#include <stddef.h>

#include "perfbisect/error.h"

/* Longest attribute value or message text kept (longer ones are truncated). */
#define PB_JUNIT_TEXT_MAX 1024
/* Longest single token expat may buffer before the file is refused. */
#define PB_JUNIT_TOKEN_MAX (8u << 20)
/* Numeric <property> values kept per testcase. */
#define PB_JUNIT_PROPS_MAX 8
/* Attempts kept per testcase element (Surefire flaky/rerun children). */
#define PB_JUNIT_ATTEMPTS_MAX 16

typedef enum pb_outcome {
    PB_OUTCOME_PASSED,
    PB_OUTCOME_FAILED,
    PB_OUTCOME_ERROR,
    PB_OUTCOME_SKIPPED,
} pb_outcome;

/* "passed", "failed", "error", "skipped". */
const char *pb_outcome_name(pb_outcome o);

typedef struct pb_junit_prop {
    const char *name;
    double value;
} pb_junit_prop;

/* One attempt of one test, as the reader reports it. */
typedef struct pb_junit_case {
    const char *classname; /* "" when absent */
    const char *name;      /* "" when absent */
    size_t classname_len;  /* strlen(classname) and strlen(name), set by the JUnit reader; */
    size_t name_len;       /* 0 from producers that leave them to the caller (zeroed case) */
    unsigned attempt;      /* 0-based, within this testcase element (Surefire reruns) */
    unsigned attempts;     /* attempts this element holds */
    pb_outcome outcome;
    double time;                /* seconds, NAN when absent */
    const char *message;        /* failure/error message (attribute, else text); NULL when passed */
    const char *system_out;     /* the testcase's <system-out>, capped; NULL when absent */
    const pb_junit_prop *props; /* numeric testcase properties */
    size_t nprops;
    /* From the enclosing suites (innermost first); NULL when unknown. */
    const char *commit;
    const char *split;
    const char *timestamp;
} pb_junit_case;

/*
 * Called once per attempt. Return 0 to go on; anything else stops the parse,
 * which then returns PB_EINTR.
 */
typedef int (*pb_junit_case_fn)(void *ctx, const pb_junit_case *c);

/* What the reader learnt about the file as a whole. */
typedef struct pb_junit_info {
    size_t testcases;   /* <testcase> elements */
    size_t bytes;       /* bytes read */
    char commit[64];    /* first suite-level "commit" property, "" when none */
    char split[64];     /* first suite-level "split" property, "" when none */
    char timestamp[40]; /* earliest suite timestamp attribute, "" when none */
} pb_junit_info;

/*
 * Parse a JUnit XML file, calling `fn(ctx, ...)` per test attempt. `info`
 * (may be NULL) is filled even when parsing fails half-way. Returns 0,
 * PB_EIO (cannot read), PB_EINVAL (malformed, truncated, hostile: the message
 * says which, with line and column; or well-formed but no JUnit report),
 * PB_ENOMEM or PB_EINTR.
 */
int pb_junit_parse_file(const char *path, pb_junit_case_fn fn, void *ctx, pb_junit_info *info,
                        pb_error *err);

/* The same over a memory buffer (`name` is used in error messages). */
int pb_junit_parse_mem(const char *name, const char *data, size_t len, pb_junit_case_fn fn,
                       void *ctx, pb_junit_info *info, pb_error *err);

/*
 * Numbers from a failure message in the CI guide's format and its variants:
 * "took 15.32ms, expected < 10ms (threshold exceeded by 53.2%)",
 * "15.3 ms exceeds 10 ms", "took 1.2s > 1s", units ns, µs/μs/us, ms, s (and
 * spelled out, "15 milliseconds"), numbers grouped as "1,234.5".
 * Writes the measured value and the limit in seconds (NAN when not found).
 * Returns 1 when a measured value was found, 0 otherwise.
 */
int pb_junit_message_numbers(const char *msg, double *value, double *limit);

/* Parse a JUnit time ("1.5", Surefire "1,234.5"); NAN when not a number. */
double pb_junit_parse_time(const char *text);

/*
 * Order two timestamps as instants (<0, 0, >0): ISO 8601 with a 'T' or a
 * space, a fraction of a second, and a zone (Z, +hh:mm, +hhmm; none is
 * taken as UTC). What does not parse comes after what does, and orders
 * among itself as text.
 */
int pb_junit_timestamp_cmp(const char *a, const char *b);

/* Such a timestamp as seconds since the epoch: 0, or -1 when it does not parse. */
int pb_junit_iso_seconds(const char *s, double *out);

/*
 * The files of the JUnit run at `path`, sorted: the file itself, or a
 * directory's junit-*.xml (its *.xml when none; when none either, those of
 * its subdirectories, where Gradle keeps them). *names (free with
 * pb_junit_names_free) and *n. PB_ENOTFOUND when there is no such file or
 * no report in the directory, PB_EIO, PB_ENOMEM.
 */
int pb_junit_run_files(const char *path, char ***names, size_t *n, pb_error *err);
void pb_junit_names_free(char **names, size_t n);

#endif
