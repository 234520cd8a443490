/*
 * bench_args.h — the options `run` and `check` share: what to build and
 * run, what to measure, how many runs and how sure to be. One parser, so
 * both commands accept the same values with the same messages.
 */
#ifndef PERFBISECT_BENCH_ARGS_H
#define PERFBISECT_BENCH_ARGS_H

#include <getopt.h>

typedef struct bench_args {
    const char *bench, *build, *metric;
    unsigned runs, max_runs, warmup;
    double timeout, alpha; /* timeout 0: none */
    int higher_is_better, quiet;
    int max_runs_given; /* else max_runs is a default, and follows a larger --runs */
} bench_args;

enum {
    BENCH_OPT_BENCH = 256,
    BENCH_OPT_BUILD,
    BENCH_OPT_METRIC,
    BENCH_OPT_HIGHER,
    BENCH_OPT_RUNS,
    BENCH_OPT_MAX_RUNS,
    BENCH_OPT_WARMUP,
    BENCH_OPT_TIMEOUT,
    BENCH_OPT_ALPHA,
    BENCH_OPT_NEXT /* a command's own options start here */
};

/* The getopt_long entries of these options ("quiet" is -q). */
#define BENCH_ARGS_LONGOPTS                                                                        \
    {"bench", required_argument, 0, BENCH_OPT_BENCH},                                              \
        {"build", required_argument, 0, BENCH_OPT_BUILD},                                          \
        {"metric", required_argument, 0, BENCH_OPT_METRIC},                                        \
        {"higher-is-better", no_argument, 0, BENCH_OPT_HIGHER},                                    \
        {"runs", required_argument, 0, BENCH_OPT_RUNS},                                            \
        {"max-runs", required_argument, 0, BENCH_OPT_MAX_RUNS},                                    \
        {"warmup", required_argument, 0, BENCH_OPT_WARMUP},                                        \
        {"timeout", required_argument, 0, BENCH_OPT_TIMEOUT},                                      \
        {"alpha", required_argument, 0, BENCH_OPT_ALPHA},                                          \
    {                                                                                              \
        "quiet", no_argument, 0, 'q'                                                               \
    }

/*
 * Take option `c` with `value` into `a`. --runs and --max-runs must be at
 * least `min_runs`. Returns 1 when `c` is one of these options, 0 when it is
 * not, -1 when its value is bad (the one-line message is printed).
 */
int bench_args_option(bench_args *a, int c, const char *value, unsigned min_runs);

/*
 * After the last option: a default max_runs below --runs becomes --runs; a
 * given one is refused (the one-line message names `command`). Returns 0 or
 * PB_EXIT_USAGE.
 */
int bench_args_finish(bench_args *a, const char *command);

#endif
