/*
 * perfbisect check — a `git bisect run` predicate: build the checkout, run
 * the benchmark until the sample is clearly above or below a threshold (or
 * clearly slower than a baseline measurement), exit 0 good, 1 bad, 125 skip.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_args.h"
#include "cli.h"
#include "commands.h"
#include "sample_file.h"

#include "perfbisect/bench.h"
#include "perfbisect/buf.h"
#include "perfbisect/check.h"
#include "perfbisect/exec.h"
#include "perfbisect/pressure.h"
#include "perfbisect/repo.h"

enum { CHECK_GOOD = 0, CHECK_BAD = 1, CHECK_SKIP = 125, CHECK_ABORT = 128 };

static const char check_usage[] =
    "usage: perfbisect check --bench CMD (--threshold VALUE | --baseline FILE.json) [options]\n"
    "\n"
    "A predicate for 'git bisect run': build the current checkout, run the\n"
    "benchmark until the result is clear, and exit 0 (good), 1 (bad) or\n"
    "125 (skip: the build or benchmark failed, or the runs could not decide).\n"
    "\n"
    "  --bench CMD           the benchmark, run with /bin/sh -c here\n"
    "  --build CMD           build first; a failing build exits 125\n"
    "  --metric SPEC         wall (default), cpu, maxrss, regex:PATTERN,\n"
    "                        gbench:NAME, hyperfine, pytest-benchmark:NAME\n"
    "  --threshold VALUE     bad when the median is significantly above VALUE\n"
    "                        (exact sign test)\n"
    "  --baseline FILE.json  bad when significantly slower than the values of a\n"
    "                        'perfbisect measure --format json' file (Mann-Whitney);\n"
    "                        good when not, after --max-runs\n"
    "  --higher-is-better    the metric is a throughput: lower is worse\n"
    "  --runs N              runs per batch (default 10)\n"
    "  --max-runs N          most runs before deciding (default 40)\n"
    "  --warmup N            unmeasured runs first (default 1)\n"
    "  --timeout SEC         limit per run\n"
    "  --alpha P             significance level (default 0.01)\n"
    "  -q, --quiet           no verdict line on stderr\n"
    "\n"
    "Bad input or a failure of perfbisect's own exits 2, or 128 while a git bisect\n"
    "is in progress here: git bisect run reads 2 as bad, and 128 stops it.\n"
    "\n"
    "example: git bisect run perfbisect check --build make --bench ./bench --threshold 0.012\n";

enum { OPT_THRESHOLD = BENCH_OPT_NEXT, OPT_BASELINE };

struct check_args {
    bench_args b;
    const char *baseline;
    double threshold;
    int have_threshold;
};

static int parse_args(int argc, char **argv, struct check_args *a)
{
    static const struct option longopts[] = {
        BENCH_ARGS_LONGOPTS,
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"baseline", required_argument, 0, OPT_BASELINE},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *tool = "perfbisect";
    a->b.metric = "wall";
    a->b.runs = 10;
    a->b.max_runs = 40;
    a->b.warmup = 1;
    a->b.alpha = 0.01;
    int c, taken;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
        if ((taken = bench_args_option(&a->b, c, optarg, 1)) != 0) {
            if (taken < 0)
                return PB_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case OPT_BASELINE:
            a->baseline = optarg;
            break;
        case OPT_THRESHOLD:
            if (pb_cli_parse_double(tool, "--threshold", optarg, -1e300, 1e300, &a->threshold) < 0)
                return PB_EXIT_USAGE;
            a->have_threshold = 1;
            break;
        case 'h':
            fputs(check_usage, stdout);
            return -1;
        default:
            return pb_cli_bad_option(tool, "check", c, argv);
        }
    }
    if (optind < argc)
        return pb_cli_fail(tool, "check: unexpected argument '%s'", argv[optind]);
    if (!a->b.bench)
        return pb_cli_fail(tool, "check: --bench is required (see --help)");
    if (a->have_threshold == !!a->baseline)
        return pb_cli_fail(tool, "check: give exactly one of --threshold and --baseline");
    return bench_args_finish(&a->b, "check");
}

static const char *verdict_word(pb_check_verdict v)
{
    return v == PB_CHECK_GOOD ? "good" : v == PB_CHECK_BAD ? "bad" : "undecided (skip)";
}

/*
 * The exit status of an error of ours. git bisect run takes any status from
 * 1 to 127 but 125 for "bad": while a bisection is in progress, a typo in
 * the options would blame every commit. 128 stops it instead.
 */
static int error_status(void)
{
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    int bisecting = pb_repo_open(&repo, ".", &err) == 0 && pb_repo_bisecting(repo);
    pb_repo_free(repo);
    return bisecting ? CHECK_ABORT : PB_EXIT_USAGE;
}

/*
 * The file that names the running build's or benchmark's group:
 * .git/perfbisect/check.group. A check killed outright (SIGKILL, the OOM
 * killer) leaves them running, in the tree git bisect moves on from and on
 * the machine the next check measures on: the next check stops them. Best
 * effort: outside a repository, or where it cannot be written, a check goes
 * without (g->fd -1), as it does while another check holds it.
 */
static void open_group_file(pb_exec_group_file *g)
{
    pb_repo *repo = NULL;
    pb_error err = PB_ERROR_INIT;
    pb_buf path = PB_BUF_INIT;
    int killed = 0;
    g->fd = -1;
    if (pb_repo_open(&repo, ".", &err) == 0 &&
        pb_buf_printf(&path, "%sperfbisect", pb_repo_gitdir(repo)) == 0 &&
        (mkdir(pb_buf_cstr(&path), 0777) == 0 || errno == EEXIST) &&
        pb_buf_puts(&path, "/check.group") == 0 &&
        pb_exec_group_file_open(g, pb_buf_cstr(&path), &killed, &err) == 0 && killed)
        fprintf(stderr, "perfbisect: check: stopped the build or benchmark an interrupted check "
                        "left running\n");
    pb_buf_free(&path);
    pb_repo_free(repo);
}

/* Build, measure and decide: 0, 1, 125, 130 or PB_EXIT_USAGE. */
static int check_measure(const struct check_args *a)
{
    const char *tool = "perfbisect";
    int rc;
    pb_error err = PB_ERROR_INIT;
    pb_metric *metric = NULL;
    sample_file baseline = {0};
    double *values = NULL;
    pb_exec_group_file group = {.fd = -1};
    int exit_code = PB_EXIT_USAGE;

    /* The sign test's smallest p-value with n runs is 2 / 2^n: too few runs
     * could only ever say "undecided" (exit 125 at every commit). */
    double looks = ceil((double)a->b.max_runs / a->b.runs);
    if (!a->baseline && 2 * pow(0.5, a->b.max_runs) >= a->b.alpha / looks) {
        pb_cli_fail(tool,
                    "check: %u runs cannot decide at alpha %g (the sign test needs more; "
                    "raise --max-runs)",
                    a->b.max_runs, a->b.alpha);
        goto done;
    }
    if (pb_metric_parse(a->b.metric, &metric, &err) < 0) {
        pb_cli_fail_error(tool, &err);
        goto done;
    }
    if (a->baseline && (exit_code = sample_file_load("check", a->baseline, &baseline)) != 0)
        goto done;
    exit_code = PB_EXIT_USAGE;
    if (baseline.metric && strcmp(baseline.metric, pb_metric_spec(metric)) != 0) {
        /* wall time against cpu time, both seconds, would call every commit good */
        pb_cli_fail(tool, "check: %s measured --metric %s, not %s", a->baseline, baseline.metric,
                    pb_metric_spec(metric));
        goto done;
    }
    if (baseline.unit && strcmp(baseline.unit, pb_metric_unit(metric)) != 0) {
        pb_cli_fail(tool, "check: %s is in '%s' but --metric %s measures in '%s'", a->baseline,
                    baseline.unit, a->b.metric, pb_metric_unit(metric));
        goto done;
    }
    if (!(values = calloc(a->b.max_runs, sizeof(*values)))) {
        pb_cli_fail(tool, "check: out of memory");
        goto done;
    }

    /* Interrupted, the build or the benchmark is killed with its group
     * (else it goes on running in the tree git bisect moves on from). */
    volatile sig_atomic_t *interrupted = pb_cli_catch_interrupts();
    open_group_file(&group);
    if (a->b.build) {
        pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
        pb_exec_result res = {0};
        opt.group_file = &group;
        opt.stdout_fd = a->b.quiet ? PB_EXEC_DEVNULL : STDERR_FILENO;
        opt.stderr_fd = a->b.quiet ? PB_EXEC_DEVNULL : PB_EXEC_INHERIT;
        opt.cancel = interrupted;
        int erc = pb_exec_run(a->b.build, &opt, &res, &err);
        if (erc < 0 || *interrupted) {
            pb_exec_result_free(&res);
            goto failed;
        }
        if (!pb_exec_result_ok(&res)) {
            pb_buf why = PB_BUF_INIT;
            pb_exec_result_describe(&res, &why);
            fprintf(stderr, "perfbisect: check: build %s: skip\n", pb_buf_cstr(&why));
            pb_buf_free(&why);
            pb_exec_result_free(&res);
            exit_code = CHECK_SKIP;
            goto done;
        }
        pb_exec_result_free(&res);
    }

    pb_check_decision d = {PB_CHECK_UNDECIDED, NAN, NAN, NAN, NAN};
    size_t n = 0;
    /* The question is asked after every batch: each look gets an equal share
     * of alpha (Bonferroni), or same-speed code is called slower more often
     * than alpha says. */
    double look_alpha = a->b.alpha / looks;
    pb_pressure pressure = PB_PRESSURE_INIT;
    while (n < a->b.max_runs && d.verdict == PB_CHECK_UNDECIDED) {
        pb_bench_options opt = PB_BENCH_OPTIONS_INIT;
        unsigned batch = a->b.runs < a->b.max_runs - n ? a->b.runs : (unsigned)(a->b.max_runs - n);
        opt.runs = batch;
        opt.warmup = n == 0 ? a->b.warmup : 0;
        opt.timeout_sec = a->b.timeout;
        opt.metric = metric;
        opt.cancel = interrupted;
        opt.group_file = &group;
        pb_pressure_mark mark = pb_pressure_now();
        int brc = pb_bench_run(a->b.bench, &opt, values + n, &err);
        pb_pressure_add_since(&pressure, mark);
        if (brc < 0 || *interrupted) {
            if (err.code != PB_EINVAL || *interrupted)
                goto failed;
            fprintf(stderr, "perfbisect: check: benchmark %s: skip\n", pb_error_message(&err));
            exit_code = CHECK_SKIP;
            goto done;
        }
        n += batch;
        int final = n >= a->b.max_runs;
        rc = a->baseline ? pb_check_baseline(baseline.values, baseline.n, values, n,
                                             a->b.higher_is_better, look_alpha, final, &d, &err)
                         : pb_check_threshold(values, n, a->threshold, a->b.higher_is_better,
                                              look_alpha, &d, &err);
        if (rc < 0) {
            pb_cli_fail_error(tool, &err);
            goto done;
        }
    }
    if (!a->b.quiet) {
        char change[48] = ""; /* none against a reference of 0 */
        if (isfinite(d.change_pct))
            snprintf(change, sizeof change, " (%.2f%% %s)", fabs(d.change_pct),
                     d.change_pct > 0 ? "worse" : "better");
        fprintf(stderr, "perfbisect: check: median %.6g vs %s %.6g%s, p = %.3g, %zu runs: %s\n",
                d.median, a->baseline ? "baseline median" : "threshold", d.reference, change,
                d.p_value, n, verdict_word(d.verdict));
    }
    pb_cli_warn_busy(tool, pb_pressure_share(&pressure));
    exit_code = d.verdict == PB_CHECK_GOOD  ? CHECK_GOOD
                : d.verdict == PB_CHECK_BAD ? CHECK_BAD
                                            : CHECK_SKIP;
    goto done;
failed:
    if (*interrupted) {
        pb_cli_fail(tool, "check: interrupted");
        exit_code = 130;
    } else {
        pb_cli_fail_error(tool, &err);
    }
done:
    pb_exec_group_file_close(&group);
    free(values);
    sample_file_free(&baseline);
    pb_metric_free(metric);
    return exit_code;
}

int cmd_check(int argc, char **argv)
{
    struct check_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        return PB_EXIT_OK;
    if (rc == 0)
        rc = check_measure(&a);
    return rc == PB_EXIT_USAGE ? error_status() : rc;
}
