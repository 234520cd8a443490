/*
 * bench.h — warmup runs plus repeated measured runs of one command, giving
 * a sample of a metric; and the summary every report prints of a sample.
 */
#ifndef PERFBISECT_BENCH_H
#define PERFBISECT_BENCH_H

#include <stddef.h>

#include "perfbisect/error.h"
#include "perfbisect/metric.h"

typedef struct pb_bench_progress {
    unsigned run;   /* 1-based number of the run that just finished */
    unsigned total; /* runs in this phase */
    int warmup;     /* 1 during warmup runs */
    double value;   /* the metric's value for that run */
} pb_bench_progress;

typedef struct pb_bench_options {
    unsigned runs;           /* measured runs (>= 1) */
    unsigned warmup;         /* runs before them, not counted */
    double timeout_sec;      /* per run, 0 = none */
    const char *cwd;         /* NULL = ours */
    const pb_metric *metric; /* NULL = wall */
    char *const *env_add;    /* extra "NAME=VALUE" for every run, or NULL */
    int stdout_fd;           /* as pb_exec_options: PB_EXEC_DEVNULL (default), PB_EXEC_INHERIT
                                or a descriptor; ignored when the metric reads stdout */
    int stderr_fd;           /* as stdout_fd. When PB_EXEC_DEVNULL, stderr is captured
                                instead so that a failing run can say why */
    /* Optional: called after every run (warmup included). */
    void (*progress)(void *ctx, const pb_bench_progress *progress);
    void *progress_ctx;
    volatile sig_atomic_t *cancel; /* as pb_exec_options.cancel: PB_EINTR when raised */
    const struct pb_exec_group_file *group_file; /* as pb_exec_options.group_file, or NULL */
} pb_bench_options;

#define PB_BENCH_OPTIONS_INIT                                                                      \
    {                                                                                              \
        10, 1, 0.0, NULL, NULL, NULL, PB_EXEC_DEVNULL, PB_EXEC_DEVNULL, NULL, NULL, NULL, NULL     \
    }

/*
 * Run `cmd` (under /bin/sh -c) opt->warmup times, then opt->runs times,
 * writing the metric of each measured run to values[0..runs-1] (caller's
 * array). Stops at the first failing run (warmups too), with err saying
 * which and why: "run 3 of 10: exited with status 1". Returns 0 or a
 * negative PB_E* code (PB_EINVAL for a failing run).
 */
int pb_bench_run(const char *cmd, const pb_bench_options *opt, double *values, pb_error *err);

/*
 * The summary of a sample. Outliers are values beyond
 * median ± 3 · 1.4826 · MAD (the MAD scaled to estimate σ for normal data,
 * so "3 σ" robustly); when MAD is 0 — more than half of the values are equal —
 * nothing is flagged.
 */
typedef struct pb_bench_summary {
    size_t n;
    double mean, median, stddev, min, max;
    double p95;        /* statistics.quantiles(x, n=20)[18]; NAN when n < 2 */
    double mad;        /* unscaled median absolute deviation */
    double spread;     /* 1.4826 · MAD: the "±" printed next to the median */
    double outlier_lo; /* values below are outliers */
    double outlier_hi; /* values above are outliers */
    size_t outliers;   /* how many */
} pb_bench_summary;

/* Summarise x[0..n-1] (n >= 1). Statistics that need n >= 2 are NAN. */
int pb_bench_summarize(const double *x, size_t n, pb_bench_summary *out, pb_error *err);

/* 1 when `v` is an outlier by `s`. */
int pb_bench_is_outlier(const pb_bench_summary *s, double v);

/*
 * How to show values of `unit` for a person, given a typical value `ref`:
 * for seconds, the unit among ns, µs, ms, s that keeps `ref` in [1, 1000),
 * with *factor the multiplier from seconds into it; other units are kept
 * as they are (*factor = 1). Returns a static string.
 */
const char *pb_bench_display_unit(const char *unit, double ref, double *factor);

#endif
