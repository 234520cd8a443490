/*
 * ctlog.h — pytest console logs as a source of test results, for CI systems
 * that keep no JUnit XML. One log is one run.
 *
 * Understood lines: the short summary "FAILED <nodeid> - <message>" (and
 * ERROR), pytest-rerunfailures' "RERUN <nodeid>" and verbose
 * "<nodeid> RERUN|PASSED|FAILED|ERROR|SKIPPED" lines, "E   AssertionError: ..."
 * lines under a "____ test_name ____" header, the --durations table
 * ("0.52s call     tests/x.py::test_a"), and "commit: <sha>",
 * "split: <name>", "timestamp: <iso>" lines (also GIT_COMMIT=, GITHUB_SHA=).
 *
 * A nodeid "tests/test_x.py::TestC::test_a[p]" is reported as classname
 * "tests.test_x.TestC" and name "test_a[p]", as pytest's JUnit writer does,
 * so that logs and XML of the same suite agree on test ids.
 */
#ifndef PERFBISECT_CTLOG_H
#define PERFBISECT_CTLOG_H

#include <stddef.h>

#include "perfbisect/error.h"
#include "perfbisect/junit.h"

/* Longest line kept; longer lines are cut (the rest is skipped). */
#define PB_CTLOG_LINE_MAX 65536
/* Most distinct tests one log may name. */
#define PB_CTLOG_TESTS_MAX 2000000

/*
 * Parse a console log and call `fn` once per test attempt, as the JUnit
 * reader does (reruns first as failed attempts, then the final result; time
 * from the durations table; message from the summary or the E lines).
 * Events come at the end of the log, in the order tests were first named.
 * `info` (may be NULL) gets the counts and the commit/split/timestamp lines.
 * Returns 0, PB_EIO, PB_ENOMEM, PB_EINVAL (binary data, too many tests) or
 * PB_EINTR when `fn` returned nonzero.
 */
int pb_ctlog_parse_file(const char *path, pb_junit_case_fn fn, void *ctx, pb_junit_info *info,
                        pb_error *err);

/* The same over a buffer; `name` is used in error messages. */
int pb_ctlog_parse_mem(const char *name, const char *data, size_t len, pb_junit_case_fn fn,
                       void *ctx, pb_junit_info *info, pb_error *err);

/*
 * Split a pytest nodeid into JUnit classname and name (caller's buffers of
 * `cap` bytes each; truncated when longer). Returns 0, or PB_EINVAL when the
 * text has no "::".
 */
int pb_ctlog_nodeid_split(const char *nodeid, char *classname, char *name, size_t cap,
                          pb_error *err);

#endif
