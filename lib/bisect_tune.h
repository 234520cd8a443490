/*
 * bisect_tune.h — private: the knobs of the bisection's search, so that the
 * simulator (bench/bisect_sim.c) can explore them. pb_bisect_run() uses the
 * values of pb_bisect_tuning_init(); nothing else should need this header.
 */
#ifndef PERFBISECT_BISECT_TUNE_H
#define PERFBISECT_BISECT_TUNE_H

#include "perfbisect/bisect.h"

typedef struct pb_bisect_tuning {
    double probe_conf;      /* a probe is decided when P(bad) >= this or <= 1 - this */
    double stop_mass;       /* a search ends when one commit holds this much posterior */
    double verify_mass;     /* ... or this much before its verification, whose runs then join in */
    unsigned endpoint_runs; /* first batch at each endpoint (0: options->runs) */
    unsigned batch;         /* later batches at a probe (0: options->runs / 2, at least 2) */
    unsigned verify_runs;   /* most runs of each side in the verification (0: max(runs, 20)) */
    double first_k; /* a probe's first batch: first_k / d^2 runs (d = change / noise), 5..runs */
    unsigned gradual_samples; /* commits sampled between the endpoints for the trend */
    double strict_factor;     /* secondary decisions (intermediate, more steps) use alpha/this */
    double dominant_share;    /* a step explains the change when its CI reaches this share */
    double reject_z;          /* runs this many sigmas from their commit's median are outliers */
    unsigned endpoint_max;    /* most runs per endpoint (0: 3 * max_runs) */
    double futility;          /* the endpoints' looks from max_runs on: p above this ends them */
    double look_shape; /* of the endpoints' group-sequential bound: 0.5 Pocock, 0 O'Brien-Fleming */
    double ref_k;      /* endpoints get ref_k / d^2 runs, d = change / noise */
    unsigned probe_cap; /* most runs per probe (0: max_runs) */
    int one_sided;      /* endpoints: one-sided test "bad is worse" */
    /* with options->drift_guard: */
    double drift;       /* prior sd of the machine's drift over a bisection, in sigmas */
    unsigned ref_every; /* the references get 2 more runs each after this many runs */
} pb_bisect_tuning;

void pb_bisect_tuning_init(pb_bisect_tuning *t);

/* pb_bisect_run with explicit knobs. */
int pb_bisect_run_tuned(const pb_bisect_node *nodes, size_t n, const pb_bisect_options *options,
                        const pb_bisect_tuning *tuning, const pb_bisect_oracle *oracle,
                        pb_bisect_result *out, pb_error *err);

#endif
