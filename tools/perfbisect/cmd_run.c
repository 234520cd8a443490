/* perfbisect run — find the commit(s) that made a benchmark slower. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "commands.h"
#include "bench_args.h"
#include "oracle.h"
#include "run_report.h"
#include "store_open.h"

#include "perfbisect/bench.h"
#include "perfbisect/buf.h"
#include "perfbisect/profile.h"

static const char run_usage[] =
    "usage: perfbisect run --good REV --bad REV --bench CMD [options]\n"
    "\n"
    "Bisect the history between a good and a bad revision: build and benchmark\n"
    "commits in a private worktree (your checkout is never touched) and decide\n"
    "good/bad statistically, with as many runs as the noise requires.\n"
    "\n"
    "  --good REV            a revision where the benchmark was fast\n"
    "  --bad REV             a later revision where it is slow\n"
    "  --bench CMD           the benchmark, run with /bin/sh -c in the checkout\n"
    "  --build CMD           build command run before benchmarking a commit;\n"
    "                        a failing build skips the commit\n"
    "  --repo DIR            the repository (default: the current directory)\n"
    "  --metric SPEC         wall (default), cpu, maxrss, regex:PATTERN,\n"
    "                        gbench:NAME, hyperfine, pytest-benchmark:NAME\n"
    "  --higher-is-better    the metric is a throughput: a drop is a regression\n"
    "  --runs N              first batch of runs per commit (default 10; fewer at a\n"
    "                        probe when the change is large next to the noise)\n"
    "  --max-runs N          most runs per commit while undecided (default 80)\n"
    "  --warmup N            unmeasured runs after each build (default 1)\n"
    "  --timeout SEC         limit per benchmark run (default none)\n"
    "  --first-parent        follow only the first parent of merges\n"
    "  --profile             profile the culprit and its parent with perfprof and\n"
    "                        report the functions that grew\n"
    "  --drift-guard         for a machine whose speed drifts: measure the good and\n"
    "                        bad ends again as the search goes and allow for a drift\n"
    "                        (about 1.3x the runs)\n"
    "  --retry-builds        build again the commits whose build failed in an earlier\n"
    "                        run (failed builds are stored and skipped by default)\n"
    "  --alpha P             significance level of each decision (default 0.01)\n"
    "  --seed N              seed of the bootstrap intervals (default 1)\n"
    "  --db FILE             the result store (default: perfbisect.db in the git dir,\n"
    "                        or $PERFBISECT_DB)\n"
    "  --format FMT          text (default), json or markdown\n"
    "  -q, --quiet           no progress on stderr\n"
    "\n"
    "Every measurement is stored: rerunning the same command reuses them, and an\n"
    "interrupted bisection (Ctrl-C, crash) continues where it stopped.\n"
    "Exit status: 0 when the search finished (any verdict), 2 on bad input, when\n"
    "the good or bad end cannot be built or benchmarked, or on a failure of our\n"
    "own, 130 when interrupted.\n";

struct run_args {
    bench_args b;
    const char *good, *bad, *repo_dir, *db;
    unsigned seed;
    int first_parent, profile, drift_guard, retry_builds;
    pb_format format;
};

enum {
    OPT_GOOD = BENCH_OPT_NEXT,
    OPT_BAD,
    OPT_REPO,
    OPT_FIRST_PARENT,
    OPT_SEED,
    OPT_DB,
    OPT_FORMAT,
    OPT_PROFILE,
    OPT_DRIFT_GUARD,
    OPT_RETRY_BUILDS
};

static int parse_args(int argc, char **argv, struct run_args *a)
{
    static const struct option longopts[] = {
        BENCH_ARGS_LONGOPTS,
        {"good", required_argument, 0, OPT_GOOD},
        {"bad", required_argument, 0, OPT_BAD},
        {"repo", required_argument, 0, OPT_REPO},
        {"first-parent", no_argument, 0, OPT_FIRST_PARENT},
        {"seed", required_argument, 0, OPT_SEED},
        {"db", required_argument, 0, OPT_DB},
        {"format", required_argument, 0, OPT_FORMAT},
        {"profile", no_argument, 0, OPT_PROFILE},
        {"drift-guard", no_argument, 0, OPT_DRIFT_GUARD},
        {"retry-builds", no_argument, 0, OPT_RETRY_BUILDS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *tool = "perfbisect";
    pb_bisect_options defaults = PB_BISECT_OPTIONS_INIT;
    a->b.runs = defaults.runs;
    a->b.max_runs = defaults.max_runs;
    a->b.alpha = defaults.alpha;
    a->b.warmup = 1;
    a->b.metric = "wall";
    a->seed = (unsigned)defaults.seed;
    a->format = PB_FORMAT_TEXT;
    a->repo_dir = ".";
    int c, taken;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
        if ((taken = bench_args_option(&a->b, c, optarg, 2)) != 0) {
            if (taken < 0)
                return PB_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case OPT_GOOD:
            a->good = optarg;
            break;
        case OPT_BAD:
            a->bad = optarg;
            break;
        case OPT_REPO:
            a->repo_dir = optarg;
            break;
        case OPT_FIRST_PARENT:
            a->first_parent = 1;
            break;
        case OPT_DB:
            a->db = optarg;
            break;
        case OPT_PROFILE:
            a->profile = 1;
            break;
        case OPT_DRIFT_GUARD:
            a->drift_guard = 1;
            break;
        case OPT_RETRY_BUILDS:
            a->retry_builds = 1;
            break;
        case OPT_SEED:
            if (pb_cli_parse_uint(tool, "--seed", optarg, 0, 4294967295u, &a->seed) < 0)
                return PB_EXIT_USAGE;
            break;
        case OPT_FORMAT:
            if (pb_cli_parse_format(tool, optarg, &a->format) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return -1;
        default:
            return pb_cli_bad_option(tool, "run", c, argv);
        }
    }
    if (optind < argc)
        return pb_cli_fail(tool, "run: unexpected argument '%s'", argv[optind]);
    if (!a->good || !a->bad || !a->b.bench)
        return pb_cli_fail(tool, "run: --good, --bad and --bench are required (see --help)");
    if (!*a->good || !*a->bad)
        return pb_cli_fail(tool, "run: --%s: empty revision", *a->good ? "bad" : "good");
    return bench_args_finish(&a->b, "run");
}

/*
 * Profile the first culprit and its parent with the same benchmark and diff
 * them; the profiles stay in .git/perfbisect/ for perfprof report/diff.
 */
static int profile_culprit(oracle *orc, const pb_bisect_culprit *c, pb_profile **before,
                           pb_profile **after, char **paths, pb_error *err)
{
    pb_buf rt = PB_BUF_INIT, path = PB_BUF_INIT;
    int rc = pb_profile_find_runtime(PB_LIBDIR, &rt, err);
    for (int i = 0; rc == 0 && i < 2; i++) {
        size_t index = i == 0 ? c->parent : c->commit;
        pb_buf_clear(&path);
        pb_buf_printf(&path, "%sperfbisect/profile-%.12s.data", pb_repo_gitdir(orc->repo),
                      oracle_commit_id(orc, index));
        if ((rc = oracle_profile(orc, index, pb_buf_cstr(&rt), pb_buf_cstr(&path), 2.0, err)) < 0 ||
            (rc = pb_profile_load(i == 0 ? before : after, pb_buf_cstr(&path), err)) < 0)
            break;
        paths[i] = strdup(pb_buf_cstr(&path));
    }
    pb_buf_free(&rt);
    pb_buf_free(&path);
    return rc;
}

/* Turn the repository's range into the bisect module's graph. */
static pb_bisect_node *graph_of(const pb_repo_range *range)
{
    pb_bisect_node *nodes = calloc(range->n ? range->n : 1, sizeof(*nodes));
    for (size_t i = 0; nodes && i < range->n; i++) {
        nodes[i].nparents = range->commits[i].nparents;
        nodes[i].parents = range->commits[i].parents;
    }
    return nodes;
}

static char *session_name(const struct run_args *a, const char *good, const char *bad,
                          const char *machine)
{
    pb_buf s = PB_BUF_INIT;
    pb_buf_printf(&s, "%s..%s%s|%s|%s|%s|%s", good, bad, a->first_parent ? " first-parent" : "",
                  a->b.bench, a->b.build ? a->b.build : "", a->b.metric, machine);
    return pb_buf_detach(&s);
}

int cmd_run(int argc, char **argv)
{
    const char *tool = "perfbisect";
    struct run_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? PB_EXIT_OK : rc;

    double start = oracle_now();
    pb_error err = PB_ERROR_INIT;
    pb_repo *repo = NULL;
    pb_store *store = NULL;
    pb_metric *metric = NULL;
    pb_repo_range range = {0};
    pb_bisect_node *nodes = NULL;
    pb_bisect_result result = {0};
    oracle orc;
    int have_oracle = 0;
    char *session = NULL;
    char good[PB_OID_HEXSZ + 1], bad[PB_OID_HEXSZ + 1];
    int exit_code = PB_EXIT_USAGE;

    if (pb_metric_parse(a.b.metric, &metric, &err) < 0 ||
        pb_repo_open(&repo, a.repo_dir, &err) < 0 ||
        pb_repo_resolve(repo, a.good, good, &err) < 0 ||
        pb_repo_resolve(repo, a.bad, bad, &err) < 0 ||
        pb_repo_range_list(repo, good, bad, a.first_parent, &range, &err) < 0)
        goto fail;
    if (range.n == 0) {
        pb_error_set(&err, PB_EINVAL, "--good and --bad are the same commit: nothing to bisect");
        goto fail;
    }
    if (store_open(a.db, repo, 0, &store, &err) < 0)
        goto fail;

    oracle_settings settings = {
        a.b.bench,     a.b.build, a.b.warmup, a.b.timeout, !a.b.quiet && pb_cli_stderr_is_tty(),
        a.retry_builds};
    volatile sig_atomic_t *interrupted = pb_cli_catch_interrupts();
    if (oracle_init(&orc, repo, store, metric, &range, good, &settings, interrupted, &err) < 0)
        goto fail;
    have_oracle = 1;
    session = session_name(&a, good, bad, orc.machine);
    nodes = graph_of(&range);
    if (!nodes || !session) {
        pb_error_set(&err, PB_ENOMEM, "out of memory");
        goto fail;
    }

    pb_bisect_options opt = PB_BISECT_OPTIONS_INIT;
    opt.runs = a.b.runs;
    opt.max_runs = a.b.max_runs;
    opt.alpha = a.b.alpha;
    opt.higher_is_better = a.b.higher_is_better;
    opt.seed = a.seed;
    opt.drift_guard = a.drift_guard;
    pb_bisect_oracle bisect_oracle;
    oracle_bind(&orc, &bisect_oracle);
    if (!a.b.quiet)
        fprintf(stderr, "perfbisect: %zu candidate commits between %.12s and %.12s\n", range.n,
                good, bad);
    rc = pb_bisect_run(nodes, range.n, &opt, &bisect_oracle, &result, &err);
    if (settings.show_progress)
        fputs("\r\033[K", stderr);
    if (rc == PB_EINTR || *interrupted) {
        fprintf(stderr,
                "perfbisect: interrupted after %zu fresh runs; every value is stored: run the "
                "same command again to continue\n",
                orc.fresh_runs);
        exit_code = 130;
        goto done;
    }
    if (rc < 0)
        goto fail;
    /* An end that could not be measured ends the search: say why here, not
     * only in the log. */
    for (size_t end = range.n - 1; end <= range.n; end++)
        if (orc.values[end].skipped)
            fprintf(stderr, "perfbisect: the %s end %.12s was skipped: %s\n",
                    end == range.n ? "good" : "bad", end == range.n ? good : bad,
                    orc.values[end].why ? orc.values[end].why : "see .git/perfbisect/run.log");

    pb_profile *prof_before = NULL, *prof_after = NULL;
    pb_profile_delta *growth = NULL;
    size_t ngrowth = 0;
    char *prof_paths[2] = {NULL, NULL};
    if (a.profile && result.nculprits) {
        pb_error perr = PB_ERROR_INIT;
        if (!a.b.quiet)
            fprintf(stderr, "perfbisect: profiling the culprit and its parent\n");
        if (profile_culprit(&orc, &result.culprits[0], &prof_before, &prof_after, prof_paths,
                            &perr) < 0 ||
            pb_profile_diff(prof_before, prof_after, &growth, &ngrowth, &perr) < 0)
            fprintf(stderr, "perfbisect: profiling failed, report without it: %s\n",
                    pb_error_message(&perr));
    }
    run_report report = {&result,
                         &range,
                         &orc,
                         repo,
                         pb_metric_unit(metric),
                         good,
                         bad,
                         oracle_now() - start,
                         growth,
                         ngrowth < 10 ? ngrowth : 10,
                         prof_paths[0],
                         prof_paths[1],
                         opt.alpha,
                         opt.higher_is_better};
    run_report_log(&report, store, session);
    if (!a.b.quiet && orc.cached_runs)
        fprintf(stderr, "perfbisect: reused %zu stored runs, measured %zu new ones\n",
                orc.cached_runs, orc.fresh_runs);
    rc = run_report_print(&report, a.format, stdout, &err);
    free(growth);
    free(prof_paths[0]);
    free(prof_paths[1]);
    pb_profile_free(prof_before);
    pb_profile_free(prof_after);
    if (rc < 0)
        goto fail;
    /* An end that cannot be built or benchmarked is a broken --build,
     * --bench or --metric far more often than a broken commit: the report
     * stands, the status says it is not a bisection. */
    exit_code =
        orc.values[range.n].skipped || orc.values[range.n - 1].skipped ? PB_EXIT_USAGE : PB_EXIT_OK;
    if (*interrupted) {
        /* The bisection was over: its report stands, without the profile. */
        fprintf(stderr, "perfbisect: interrupted while profiling; run the same command again "
                        "for the profile (the bisection is stored)\n");
        exit_code = 130;
    }
    goto done;

fail:
    pb_cli_fail_error(tool, &err);
done:
    pb_bisect_result_free(&result);
    if (have_oracle)
        oracle_free(&orc);
    free(nodes);
    free(session);
    pb_repo_range_free(&range);
    pb_store_free(store);
    pb_metric_free(metric);
    pb_repo_free(repo);
    return exit_code;
}
