#include "bench_args.h"

#include "cli.h"

#include <string.h>

int bench_args_option(bench_args *a, int c, const char *value, unsigned min_runs)
{
    const char *tool = "perfbisect";
    switch (c) {
    case BENCH_OPT_BENCH:
        if (value[strspn(value, " \t\n")] == '\0')
            return pb_cli_fail(tool, "--bench: the benchmark command is empty"), -1;
        a->bench = value;
        return 1;
    case BENCH_OPT_BUILD:
        a->build = value;
        return 1;
    case BENCH_OPT_METRIC:
        a->metric = value;
        return 1;
    case BENCH_OPT_HIGHER:
        a->higher_is_better = 1;
        return 1;
    case 'q':
        a->quiet = 1;
        return 1;
    case BENCH_OPT_RUNS:
        return pb_cli_parse_uint(tool, "--runs", value, min_runs, 100000, &a->runs) < 0 ? -1 : 1;
    case BENCH_OPT_MAX_RUNS:
        a->max_runs_given = 1;
        return pb_cli_parse_uint(tool, "--max-runs", value, min_runs, 100000, &a->max_runs) < 0 ? -1
                                                                                                : 1;
    case BENCH_OPT_WARMUP:
        return pb_cli_parse_uint(tool, "--warmup", value, 0, 1000, &a->warmup) < 0 ? -1 : 1;
    case BENCH_OPT_TIMEOUT:
        return pb_cli_parse_double(tool, "--timeout", value, 0.001, 1e7, &a->timeout) < 0 ? -1 : 1;
    case BENCH_OPT_ALPHA:
        return pb_cli_parse_double(tool, "--alpha", value, 1e-9, 0.5, &a->alpha) < 0 ? -1 : 1;
    default:
        return 0;
    }
}

int bench_args_finish(bench_args *a, const char *command)
{
    if (a->max_runs < a->runs && a->max_runs_given)
        return pb_cli_fail("perfbisect", "%s: --max-runs (%u) is smaller than --runs (%u)", command,
                           a->max_runs, a->runs);
    if (a->max_runs < a->runs)
        a->max_runs = a->runs;
    return 0;
}
