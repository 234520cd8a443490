/*
 * bisect.h — the statistical search for the commit(s) that made a benchmark
 * slower. Pure: no processes, files or terminals. It asks an oracle for
 * measurements and decides; a fake oracle tests it in microseconds.
 *
 * The graph: candidates 0..n-1 are the commits that may be the first bad one
 * (ancestors of bad not reachable from good), in topological order, parents
 * before children; candidate n-1 is the bad endpoint. The index n stands for
 * the good endpoint (PB_BISECT_GOOD(n)). A candidate's parents that are not
 * candidates are on the good side and are not listed.
 *
 * Given the same measurements the search makes the same decisions, so a
 * bisection whose measurements come from a cache replays to where it stopped:
 * that is how an interrupted run resumes.
 */
#ifndef PERFBISECT_BISECT_H
#define PERFBISECT_BISECT_H

#include <stddef.h>
#include <stdint.h>

#include "perfbisect/error.h"

#define PB_BISECT_GOOD(n) (n)

/* Returned by an oracle's measure() when the commit cannot be built or run. */
#define PB_BISECT_SKIP 1

typedef struct pb_bisect_node {
    size_t nparents;
    const size_t *parents; /* candidate indices; parents on the good side are omitted */
} pb_bisect_node;

typedef enum pb_probe_state {
    PB_PROBE_GOOD,
    PB_PROBE_BAD,
    PB_PROBE_SKIP,
    PB_PROBE_UNKNOWN, /* max runs reached and still undecided */
} pb_probe_state;

typedef struct pb_bisect_progress {
    size_t probe;           /* 1-based number of this probe */
    size_t probes_estimate; /* about log2(candidates) + endpoints */
    size_t commit;          /* candidate index being measured (n = good) */
    size_t remaining;       /* candidates still possible */
    size_t runs;            /* runs of this commit so far */
    const char *phase;      /* "endpoints", "bisect", "verify", "gradual" */
} pb_bisect_progress;

typedef struct pb_bisect_oracle {
    void *ctx;
    /*
     * Take `runs` more measurements of `commit` (a candidate index, or n for
     * good) and give back every value measured for it so far (owned by the
     * oracle, valid until the next call). Returns 0, PB_BISECT_SKIP when the
     * commit cannot be built or its benchmark fails, or a negative PB_E*
     * code to abort the search (the error says why).
     */
    int (*measure)(void *ctx, size_t commit, unsigned runs, const double **values, size_t *n,
                   pb_error *err);
    /*
     * Fresh runs of `before` and `after`, interleaved (b, a, b, a, ...) so
     * that drift of the machine hits both alike; fills runs values of each.
     * Same return codes as measure().
     */
    int (*compare)(void *ctx, size_t before, size_t after, unsigned runs, double *before_values,
                   double *after_values, pb_error *err);
    /* Optional: told before each measurement. */
    void (*progress)(void *ctx, const pb_bisect_progress *progress);
} pb_bisect_oracle;

typedef struct pb_bisect_options {
    unsigned runs;        /* first batch per probe */
    unsigned max_runs;    /* most runs per probe before giving up as unknown */
    double alpha;         /* significance level of each decision */
    int higher_is_better; /* the metric is a throughput: a drop is the regression */
    uint64_t seed;        /* for bootstrap intervals: same seed, same report */
    unsigned max_steps;   /* most culprits to look for */
    /* For a machine whose speed drifts: the references are measured again as
     * the search goes, and its model allows a linear drift in time, so later
     * probes are not all read as slower. Costs about 1.3x the runs. */
    int drift_guard;
} pb_bisect_options;

#define PB_BISECT_OPTIONS_INIT                                                                     \
    {                                                                                              \
        10, 80, 0.01, 0, 1, 4, 0                                                                   \
    }

typedef enum pb_bisect_verdict {
    PB_VERDICT_REGRESSION,
    PB_VERDICT_GRADUAL,
    PB_VERDICT_NONE,
    PB_VERDICT_INCONCLUSIVE,
} pb_bisect_verdict;

const char *pb_bisect_verdict_name(pb_bisect_verdict v);
const char *pb_probe_state_name(pb_probe_state s);

typedef struct pb_bisect_culprit {
    size_t commit; /* candidate index */
    size_t parent; /* candidate index, or n for good */
    double before_median, after_median;
    double change_pct;   /* + is worse, whatever the metric's direction */
    double ci_lo, ci_hi; /* confidence interval of change_pct */
    double p_value;      /* Mann-Whitney, fresh interleaved runs */
    double posterior;    /* the search's probability that this commit is the step */
    /* The step over every run measured: the commits holding the same
     * culprits as the parent pooled against those holding these and this
     * one (between the neighbouring culprits), change and CI. */
    double step_pct, step_lo, step_hi;
    size_t step_runs_before, step_runs_after;
} pb_bisect_culprit;

typedef struct pb_bisect_probe {
    size_t commit; /* candidate index or n for good */
    pb_probe_state state;
    size_t runs;
    double median;
    /* Mann-Whitney p-values of this commit's runs against the good-side and
     * bad-side references of the search that probed it (NAN when not tested). */
    double p_good, p_bad;
} pb_bisect_probe;

typedef struct pb_bisect_result {
    pb_bisect_verdict verdict;
    char reason[256]; /* one sentence a person reads, e.g. why none/inconclusive */
    /* endpoints */
    double good_median, bad_median, total_change_pct, total_p_value;
    pb_bisect_culprit *culprits;
    size_t nculprits;
    size_t *candidates; /* when skips make the first bad commit ambiguous */
    size_t ncandidates;
    size_t *skipped;
    size_t nskipped;
    pb_bisect_probe *probes; /* in the order they were measured */
    size_t nprobes;
    /* verdict gradual: the range that drifted and how fast */
    size_t gradual_first, gradual_last;
    double gradual_slope_pct; /* % per commit over gradual_first..last (compounded when the metric
                                 is positive) */
    size_t bench_runs;        /* runs asked of the oracle */
} pb_bisect_result;

/* Search `nodes[0..n-1]`; fills `out` (free with pb_bisect_result_free). */
int pb_bisect_run(const pb_bisect_node *nodes, size_t n, const pb_bisect_options *options,
                  const pb_bisect_oracle *oracle, pb_bisect_result *out, pb_error *err);

void pb_bisect_result_free(pb_bisect_result *result);

#endif
