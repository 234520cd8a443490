/*
 * history.h — benchmark results over commits: what CI and earlier runs
 * measured, read from their reports into the store's history, and the steps
 * each benchmark's series took.
 *
 * Reports read (one row per measured value):
 *   junit             JUnit XML, a file or a run's directory of them (as
 *                     perftriage reads it): each passed attempt's time, the
 *                     test named "classname::name"; commit and time from the
 *                     suites' "commit" property and timestamp
 *   gbench            Google Benchmark JSON: every repetition's real_time in
 *                     seconds (aggregates and errored runs left out); the time
 *                     from context.date
 *   hyperfine         hyperfine --export-json: every run's time ("times"; the
 *                     mean when there are none), the benchmark named by its
 *                     command
 *   pytest-benchmark  --benchmark-json: every round (stats.data; the mean when
 *                     there are none), named by fullname; commit, branch and
 *                     time from commit_info and datetime
 * What the options give (commit, branch, timestamp) overrides the report's.
 */
#ifndef PERFBISECT_HISTORY_H
#define PERFBISECT_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "perfbisect/error.h"
#include "perfbisect/store.h"

typedef enum pb_history_format {
    PB_HISTORY_JUNIT,
    PB_HISTORY_GBENCH,
    PB_HISTORY_HYPERFINE,
    PB_HISTORY_PYTEST_BENCHMARK,
} pb_history_format;

/* "junit", "gbench", "hyperfine", "pytest-benchmark". */
const char *pb_history_format_name(pb_history_format f);

typedef struct pb_history_import_options {
    const char *commit; /* NULL: the report's, else none */
    const char *branch; /* NULL: the report's, else none */
    int64_t timestamp;  /* seconds since the epoch; 0: the report's, else `now` */
    int64_t now;        /* for reports that say no time */
} pb_history_import_options;

/* Rows read from reports; every string is owned here. */
typedef struct pb_history_rows {
    pb_store_history_row *rows;
    size_t n, cap;
} pb_history_rows;

#define PB_HISTORY_ROWS_INIT                                                                       \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Append the rows of the report at `path` (junit: a file or a directory).
 * PB_ENOTFOUND/PB_EIO when it cannot be read, PB_EINVAL (the message says
 * where) when it is not such a report or holds no value, PB_ENOMEM.
 */
int pb_history_read(pb_history_format format, const char *path,
                    const pb_history_import_options *opt, pb_history_rows *out, pb_error *err);

/* The same from `len` bytes of one report (`name` for messages). */
int pb_history_read_mem(pb_history_format format, const char *name, const char *data, size_t len,
                        const pb_history_import_options *opt, pb_history_rows *out, pb_error *err);

/* Free the rows and leave the set empty (NULL-safe). */
void pb_history_rows_free(pb_history_rows *rows);

/*
 * Keep the rows of `branch` only, in order (the others are freed); returns
 * how many are left. CI that alternates branches would otherwise mix their
 * levels into one series.
 */
size_t pb_history_keep_branch(pb_store_history_entry *rows, size_t n, const char *branch);

/* A step a benchmark's series took. */
typedef struct pb_history_step {
    char *benchmark;
    char *commit;         /* the first commit measured after the step ("" when unknown) */
    char *previous;       /* the last one before it ("" when unknown) */
    char *unit;           /* of the benchmark's values */
    int64_t timestamp;    /* when `commit` was first measured */
    double before, after; /* medians of the series' segments around the step */
    double change_pct;    /* (after - before) / |before| * 100, + is higher */
    double p_value;       /* of the change point (pb_changepoint_detect) */
    int worse;            /* in the direction the caller called worse */
} pb_history_step;

typedef struct pb_history_steps {
    pb_history_step *steps;
    size_t n, cap;
} pb_history_steps;

#define PB_HISTORY_STEPS_INIT                                                                      \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * The steps of every benchmark in `rows` (as pb_store_history_query gives
 * them: by benchmark, then time). A benchmark's series has one point per
 * commit measured in a row (the median of its values; rows without a commit
 * are a point each), and its steps are the change points of that series
 * (E-divisive means, Mann-Whitney at `alpha`, at least `min_segment`
 * points between two). `higher_is_better` says which way is worse.
 */
int pb_history_steps_find(const pb_store_history_entry *rows, size_t n, double alpha,
                          size_t min_segment, int higher_is_better, pb_history_steps *out,
                          pb_error *err);

/* NULL-safe. */
void pb_history_steps_free(pb_history_steps *steps);

#endif
