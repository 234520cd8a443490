/*
 * triage.h — is this CI benchmark failure real? Reads many CI runs (JUnit
 * XML, pytest console logs, a simple history file), keeps per test a compact
 * series of (run, attempt, outcome, value), and classifies every test that
 * failed at least once as flaky, regression, variance or gradual, with the
 * evidence as numbers.
 *
 * Use: pb_triage_new; pb_triage_add_junit / _add_log / _add_history for each
 * run (in any order); pb_triage_load parses everything (two threads by
 * default); then pb_triage_classify and/or pb_triage_thresholds. A file that
 * cannot be read or is malformed or hostile becomes a warning (the other
 * files still count); pb_triage_load fails only when nothing could be read.
 *
 * History file (--history): text lines "run,commit,test,value[,outcome]"
 * where run is any label (runs keep their first-appearance order and come
 * before the JUnit/log runs), test is "classname::name", value is in seconds
 * (may be empty), outcome is passed (default) or failed; '#' starts a
 * comment; a first line beginning "run," is a header.
 */
#ifndef PERFBISECT_TRIAGE_H
#define PERFBISECT_TRIAGE_H

#include <stddef.h>
#include <stdint.h>

#include "perfbisect/error.h"
#include "perfbisect/stats.h"

typedef struct pb_triage pb_triage;

typedef enum pb_triage_class {
    PB_TRIAGE_FLAKY,
    PB_TRIAGE_REGRESSION,
    PB_TRIAGE_VARIANCE,
    PB_TRIAGE_GRADUAL,
} pb_triage_class;

/* "flaky", "regression", "variance", "gradual". */
const char *pb_triage_class_name(pb_triage_class c);

typedef struct pb_triage_options {
    double alpha;             /* significance of step and trend tests; 0 means 0.01 */
    pb_strictness strictness; /* for recommended thresholds */
} pb_triage_options;

#define PB_TRIAGE_OPTIONS_INIT                                                                     \
    {                                                                                              \
        0.01, PB_STRICTNESS_DEFAULT                                                                \
    }

/* Create an empty history. Free with pb_triage_free. */
int pb_triage_new(pb_triage **out, pb_error *err);
void pb_triage_free(pb_triage *t);

/*
 * Register one CI run: a JUnit file, or a directory whose junit-*.xml (or,
 * when there are none, *.xml) files are the run's splits. Parsed by
 * pb_triage_load. Returns 0, PB_ENOTFOUND (no such path / no XML in it).
 */
int pb_triage_add_junit(pb_triage *t, const char *path, pb_error *err);

/* Register one pytest console log as one run (see ctlog.h). */
int pb_triage_add_log(pb_triage *t, const char *path, pb_error *err);

/* Read a history file now (format above). Returns 0, PB_EIO or PB_EINVAL (line number). */
int pb_triage_add_history(pb_triage *t, const char *path, pb_error *err);

/*
 * Parse every registered file with `threads` threads (0 = 2), merging
 * results per test in registration order. Returns 0 when at least one
 * source was read (see the warnings for the others), else an error.
 */
int pb_triage_load(pb_triage *t, unsigned threads, pb_error *err);

/* Per-file problems met by pb_triage_load, as "path: message". */
size_t pb_triage_warning_count(const pb_triage *t);
const char *pb_triage_warning(const pb_triage *t, size_t i);

/* What was read. */
typedef struct pb_triage_totals {
    size_t runs, files, bytes, testcases, attempts, tests, failing_tests;
} pb_triage_totals;

void pb_triage_get_totals(const pb_triage *t, pb_triage_totals *out);

/* What a test's values measure, which says which way is worse. */
typedef enum pb_triage_unit {
    PB_TRIAGE_UNIT_OWN = 0,     /* a property's own unit: the failures say which way is worse */
    PB_TRIAGE_UNIT_SECONDS = 1, /* a time: higher is worse */
    PB_TRIAGE_UNIT_RATE = 2,    /* named as a rate (ops_per_sec, throughput): lower is worse,
                                   unless the failures say otherwise */
} pb_triage_unit;

/* One point of a test's series: one run, as the classifier sees it. */
typedef struct pb_triage_point {
    double value;       /* the run's measurement (seconds or the property's unit), NAN if none */
    double fail_value;  /* the value of a failed attempt (from its message), NAN if none */
    const char *commit; /* may be NULL */
    const char *run;    /* run label, may be NULL */
    int failed;         /* some attempt failed */
    int passed;         /* some attempt passed */
} pb_triage_point;

/* The verdict for one test, with its evidence. Strings point into the pb_triage
 * (pb_triage_classify) or the caller's points (pb_triage_classify_series). */
typedef struct pb_triage_verdict {
    const char *id;
    pb_triage_class cls;
    size_t failures; /* runs with a failed attempt */
    size_t runs;     /* runs the test appears in */
    const char *split;
    const char *message; /* one failure message, may be NULL */
    int seconds;         /* values are seconds (else the property's own unit) */
    int lower_is_worse;  /* a throughput: it fails by falling (p95 is then P5, the worst 5%) */
    double limit;        /* the limit quoted by the failure messages, NAN if none */
    size_t values;       /* runs with a value */
    double median, stddev, p95, robust_cv; /* of the values */
    double centre;     /* the passing runs' median, that failures are measured from */
    int centre_of_all; /* fewer than 3 passing runs had a value: centre is every value's */

    /* flaky */
    size_t reruns_passed;      /* runs where a rerun passed */
    size_t same_commit_passes; /* failed runs whose commit passed in another run */
    double outlier_z;          /* smallest robust z of the failing values, NAN if none */

    /* step (regression; also computed for gradual) */
    int has_step;
    size_t changepoints; /* change points found (changepoint.h); a staircase hints at a trend */
    size_t step_index;   /* point index of the first bad run */
    const char *last_good, *first_bad;         /* commits */
    const char *last_good_run, *first_bad_run; /* run labels */
    double before_median, after_median, change_pct, step_p;
    double fail_before, fail_after; /* fraction of runs failing before/after */
    double within_p;                /* trend left inside the segments */

    /* trend (gradual) */
    double mk_z, mk_p, sen_slope, slope_pct; /* slope_pct: % of the median per run */
    long crossed_index;                      /* first point over the limit, -1 */
    const char *crossed_run, *crossed_commit;

    /* variance */
    double recommended; /* (P95 + 2 stddev) x multiplier, NAN if < 2 values; a
                           minimum (P5 - 2 stddev) / multiplier when lower is worse */
    double multiplier;

    char action[512]; /* what to do next; for a regression the perfbisect command */
} pb_triage_verdict;

/*
 * Classify one series of per-run points (oldest first) that contains at
 * least one failure. `limit` is the limit quoted by failure messages (NAN if
 * unknown); `unit` says what the values are. Times fail by rising; other
 * values by falling when the failures sit below the limit (or, without
 * one, below the passing runs' median), or, with nothing to tell, when
 * `unit` names a rate: then everything is judged mirrored (a fall is the
 * regression) and the verdict says lower_is_worse. `out` strings point
 * into `pts` and `id`. Pure; used by pb_triage_classify and by tests.
 */
int pb_triage_classify_series(const char *id, const pb_triage_point *pts, size_t n, double limit,
                              pb_triage_unit unit, const pb_triage_options *opt,
                              pb_triage_verdict *out, pb_error *err);

typedef struct pb_triage_run_view {
    const char *label, *commit, *timestamp;
    size_t splits, failed_splits, testcases, failed_tests;
    int everywhere; /* failed in every split, far more than usual: a runner problem */
} pb_triage_run_view;

typedef struct pb_triage_split_view {
    const char *name;
    size_t failed_tests; /* test failures over all runs */
    size_t failed_runs;  /* runs in which this split had a failure */
} pb_triage_split_view;

typedef struct pb_triage_broad {
    size_t run_index;  /* into runs[] */
    size_t benchmarks; /* regressions whose first bad run is this one */
} pb_triage_broad;

typedef struct pb_triage_report {
    pb_triage_verdict *items; /* one per test that failed at least once, by id */
    size_t n;
    size_t count[4];          /* per class */
    pb_triage_run_view *runs; /* in time order */
    size_t nruns;
    pb_triage_split_view *splits;
    size_t nsplits;
    pb_triage_broad *broad; /* runs where >= 3 benchmarks stepped together */
    size_t nbroad;
} pb_triage_report;

/* Classify every test that failed at least once. Free with pb_triage_report_free;
 * its strings stay valid while `t` lives. `opt` may be NULL. */
int pb_triage_classify(pb_triage *t, const pb_triage_options *opt, pb_triage_report **out,
                       pb_error *err);
void pb_triage_report_free(pb_triage_report *r);

/* A recommended threshold for one test. */
typedef struct pb_triage_threshold {
    const char *id; /* owned by the pb_triage */
    size_t n;
    double median, p95, stddev, recommended, current_limit; /* current_limit NAN if unknown */
    int seconds;
    int lower_is_worse; /* a rate: p95 is P5 and recommended a minimum, as in the verdict */
} pb_triage_threshold;

/*
 * Thresholds for every test with at least two values, by id. `*out` is an
 * array the caller frees with free(); strings stay valid while `t` lives.
 */
int pb_triage_thresholds(pb_triage *t, pb_strictness s, pb_triage_threshold **out, size_t *n,
                         pb_error *err);

#endif
