/*
 * oracle.h — the bisection's hands: materialise a commit in a private
 * worktree, build it, run the benchmark, and keep every value in the store
 * so that nothing is measured twice and an interrupted run resumes.
 */
#ifndef PERFBISECT_ORACLE_H
#define PERFBISECT_ORACLE_H

#include <signal.h>
#include <stddef.h>

#include "perfbisect/bisect.h"
#include "perfbisect/exec.h"
#include "perfbisect/metric.h"
#include "perfbisect/pressure.h"
#include "perfbisect/repo.h"
#include "perfbisect/store.h"

typedef struct oracle_settings {
    const char *bench;
    const char *build; /* NULL: nothing to build */
    unsigned warmup;
    double timeout_sec;
    int show_progress; /* progress lines on stderr */
    int retry_builds;  /* build again what failed to build in an earlier run */
} oracle_settings;

typedef struct oracle_values {
    double *v;
    size_t n, cap;
    int skipped;
    char *why;          /* why it was skipped, when known */
    size_t verify_used; /* verification runs handed out so far: the next ones are fresh */
} oracle_values;

typedef struct oracle {
    pb_repo *repo;
    pb_store *store;
    const pb_metric *metric;
    const pb_repo_range *range;
    char good[PB_OID_HEXSZ + 1];
    oracle_settings settings;
    char machine[PB_STORE_MACHINE_ID_MAX];
    int log_fd;                    /* build and benchmark output: .git/perfbisect/run.log */
    int lock_fd;                   /* .git/perfbisect/run.lock, flock'ed: one bisection at a time */
    pb_exec_group_file group_file; /* .git/perfbisect/running.group: the running command's group */
    oracle_values *values;         /* range->n + 1 entries; the last is good */
    char slot_commit[PB_REPO_SLOTS][PB_OID_HEXSZ + 1]; /* what each worktree holds, built */
    const char *slot_path[PB_REPO_SLOTS];              /* their directories (owned by the repo) */
    size_t slot_used[PB_REPO_SLOTS], tick;             /* least recently used is rebuilt first */
    size_t builds;                                     /* build commands run */
    size_t fresh_runs;           /* benchmark runs executed (not from the cache) */
    size_t cached_runs;          /* values reused from the store */
    double build_sec, bench_sec; /* wall time spent in build commands and benchmark runs */
    pb_pressure pressure;        /* CPU pressure over the fresh benchmark runs */
    volatile sig_atomic_t *interrupted;
    pb_bisect_progress shown; /* the progress line on stderr, redrawn after each run */
    int have_shown;
} oracle;

int oracle_init(oracle *o, pb_repo *repo, pb_store *store, const pb_metric *metric,
                const pb_repo_range *range, const char *good_hex, const oracle_settings *settings,
                volatile sig_atomic_t *interrupted, pb_error *err);
void oracle_free(oracle *o);

/* Seconds on CLOCK_MONOTONIC, for accounting where the time goes. */
double oracle_now(void);

/* The commit id of candidate `index` (range->n is good). */
const char *oracle_commit_id(const oracle *o, size_t index);

/*
 * Profile candidate `index` (built if no worktree holds it): run the benchmark
 * under the perfprof runtime `rt` until `min_sec` of wall time has passed
 * (at least once), all processes' samples merged into `out_path`.
 */
int oracle_profile(oracle *o, size_t index, const char *rt, const char *out_path, double min_sec,
                   pb_error *err);

/* Fill `out` with callbacks bound to `o`. */
void oracle_bind(oracle *o, pb_bisect_oracle *out);

#endif
