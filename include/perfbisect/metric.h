/*
 * metric.h — get one number out of one run of a command.
 *
 * Specs (see perfbisect(1), METRICS):
 *   wall                      wall-clock time of the run, seconds
 *   cpu                       user + system CPU time, seconds
 *   maxrss                    peak resident set size, KiB (Linux charges the
 *                             spawned child with our resident size at the
 *                             spawn: values below it read as it)
 *   regex:PATTERN             POSIX extended regex over the run's stdout; the
 *                             first capture group of the first match is the number
 *   gbench:NAME[@FILE]        Google Benchmark JSON (--benchmark_format=json or
 *                             --benchmark_out=FILE): real_time of the benchmark
 *                             named NAME, converted to seconds
 *   hyperfine[:CMD][@FILE]    hyperfine --export-json: "mean" of the result for
 *                             CMD (default the first result), seconds
 *   pytest-benchmark:NAME[@FILE]  pytest-benchmark --benchmark-json: stats.mean
 *                             of the benchmark whose name or fullname is NAME, seconds
 *
 * Without @FILE the JSON is read from the run's stdout; with it, from FILE
 * (relative to the run's cwd) after the run, and only if the run wrote it
 * (its mtime is not older than the run's start). The last '@' in the spec
 * starts FILE. JSON and output are capped at PB_METRIC_JSON_MAX bytes.
 *
 * A run that failed (non-zero exit, signal, timeout, not started) or gives no
 * parsable number is an error with the reason; it is never turned into a value.
 */
#ifndef PERFBISECT_METRIC_H
#define PERFBISECT_METRIC_H

#include <stddef.h>

#include "perfbisect/error.h"
#include "perfbisect/exec.h"

#define PB_METRIC_JSON_MAX ((size_t)16 << 20)

typedef enum pb_metric_kind {
    PB_METRIC_WALL,
    PB_METRIC_CPU,
    PB_METRIC_MAXRSS,
    PB_METRIC_REGEX,
    PB_METRIC_GBENCH,
    PB_METRIC_HYPERFINE,
    PB_METRIC_PYTEST_BENCHMARK,
} pb_metric_kind;

typedef struct pb_metric pb_metric;

/*
 * Parse `spec` into a new metric (*out, caller frees with pb_metric_free).
 * PB_EINVAL with a message for an unknown metric, an empty name, a regex
 * that does not compile or has no capture group.
 */
int pb_metric_parse(const char *spec, pb_metric **out, pb_error *err);

/* NULL-safe. */
void pb_metric_free(pb_metric *m);

pb_metric_kind pb_metric_get_kind(const pb_metric *m);

/* Canonical text of the spec (owned by m), stable enough for a cache key. */
const char *pb_metric_spec(const pb_metric *m);

/* "s" for times (every time metric is converted to seconds), "KiB" for
 * maxrss, "" for regex (the number is whatever the program printed). */
const char *pb_metric_unit(const pb_metric *m);

/* 1 when the run's stdout must be captured for this metric. */
int pb_metric_needs_output(const pb_metric *m);

/*
 * The metric's value for run `r`. Fails (PB_EINVAL, the reason in err) when
 * the run failed or nothing parsable was found; PB_ENOMEM/PB_EIO for our own
 * failures.
 */
int pb_metric_extract(const pb_metric *m, const pb_exec_result *r, double *value, pb_error *err);

/*
 * The metric's value from `text` alone (output or JSON file contents), for
 * regex/gbench/hyperfine/pytest-benchmark. Used by pb_metric_extract and by
 * importers; `len` bytes, need not be NUL-terminated.
 */
int pb_metric_extract_text(const pb_metric *m, const char *text, size_t len, double *value,
                           pb_error *err);

/* Seconds in one Google Benchmark time_unit ("ns" when NULL, "us", "ms",
 * "s"); 0 when unknown. */
double pb_metric_time_unit_scale(const char *unit);

#endif
