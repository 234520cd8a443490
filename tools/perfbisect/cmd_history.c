/*
 * perfbisect history — benchmark results over commits, in the result store:
 * import CI reports, record measurements, show and export them, and find
 * the steps each benchmark's series took (where to bisect).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "sample_file.h"
#include "store_open.h"

#include "perfbisect/bench.h"
#include "perfbisect/history.h"
#include "perfbisect/junit.h"
#include "perfbisect/repo.h"
#include "perfbisect/store.h"

#define TOOL "perfbisect"

static const char history_usage[] =
    "usage: perfbisect history [--db FILE] ACTION [options]\n"
    "\n"
    "Benchmark results over commits, kept in the result store (default:\n"
    "perfbisect.db in the git dir, or $PERFBISECT_DB).\n"
    "\n"
    "actions:\n"
    "  import (--junit PATH | --gbench FILE | --hyperfine FILE | --pytest-benchmark FILE)\n"
    "         [--commit REV] [--branch NAME] [--timestamp T]\n"
    "                 add a CI report's values (JUnit: a file or a run's directory)\n"
    "  record --benchmark NAME (--value X... | FILE.json) [--commit REV] [--branch NAME]\n"
    "         [--timestamp T] [--unit U]\n"
    "                 add values, or a 'perfbisect measure --format json' file\n"
    "  show [--benchmark NAME] [--branch NAME] [--format text|json|markdown]\n"
    "                 every value, by benchmark and time\n"
    "  regressions [--benchmark NAME] [--branch NAME] [--alpha P] [--min-segment N]\n"
    "         [--higher-is-better] [--all] [--format text|json|markdown]\n"
    "                 the steps of each benchmark's series (one point per commit,\n"
    "                 E-divisive change points, Mann-Whitney at P, default 0.01);\n"
    "                 worsening ones, or every one with --all\n"
    "  export [--benchmark NAME] [--branch NAME] [--format csv|json|triage]\n"
    "                 the values as CSV (benchmark,commit,branch,timestamp,value,\n"
    "                 unit,source), JSON, or perftriage's --history CSV\n"
    "\n"
    "--branch: for import and record, the values' branch; for the others, only\n"
    "that branch's values.\n"
    "--commit: a revision of the repository here (default: the report's commit,\n"
    "else HEAD); --timestamp: seconds since the epoch or ISO 8601 (default: the\n"
    "report's time, else now).\n";

typedef struct history_args {
    const char *db, *benchmark, *commit, *branch, *unit, *format;
    const char *source[4]; /* by pb_history_format */
    int64_t timestamp;
    double alpha;
    unsigned min_segment;
    int higher_is_better, all;
    double *values;
    size_t nvalues;
} history_args;

enum {
    OPT_DB = 256,
    OPT_JUNIT,
    OPT_GBENCH,
    OPT_HYPERFINE,
    OPT_PYTEST,
    OPT_COMMIT,
    OPT_BRANCH,
    OPT_TIMESTAMP,
    OPT_BENCHMARK,
    OPT_VALUE,
    OPT_UNIT,
    OPT_FORMAT,
    OPT_ALPHA,
    OPT_MIN_SEGMENT,
    OPT_HIGHER,
    OPT_ALL,
};

static int parse_timestamp(const char *text, int64_t *out)
{
    char *end;
    double t;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end != text && !*end && v > 0 && errno == 0 && v < 9000000000000000LL) {
        *out = v;
        return 0;
    }
    if (pb_junit_iso_seconds(text, &t) == 0 && t > 0 && t < 9e15) {
        *out = (int64_t)t;
        return 0;
    }
    pb_cli_fail(TOOL,
                "history: --timestamp '%s' is neither seconds since the epoch nor an ISO "
                "8601 time",
                text);
    return -1;
}

/* Options of every action; an action refuses those it does not take. */
static int parse_args(int argc, char **argv, const char *action, history_args *a)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"junit", required_argument, NULL, OPT_JUNIT},
        {"gbench", required_argument, NULL, OPT_GBENCH},
        {"hyperfine", required_argument, NULL, OPT_HYPERFINE},
        {"pytest-benchmark", required_argument, NULL, OPT_PYTEST},
        {"commit", required_argument, NULL, OPT_COMMIT},
        {"branch", required_argument, NULL, OPT_BRANCH},
        {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
        {"benchmark", required_argument, NULL, OPT_BENCHMARK},
        {"value", required_argument, NULL, OPT_VALUE},
        {"unit", required_argument, NULL, OPT_UNIT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        {"min-segment", required_argument, NULL, OPT_MIN_SEGMENT},
        {"higher-is-better", no_argument, NULL, OPT_HIGHER},
        {"all", no_argument, NULL, OPT_ALL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DB:
            a->db = optarg;
            break;
        case OPT_JUNIT:
        case OPT_GBENCH:
        case OPT_HYPERFINE:
        case OPT_PYTEST:
            if (a->source[c - OPT_JUNIT])
                return pb_cli_fail(TOOL, "history %s: one report per import (--%s twice)", action,
                                   pb_history_format_name((pb_history_format)(c - OPT_JUNIT)));
            a->source[c - OPT_JUNIT] = optarg;
            break;
        case OPT_COMMIT:
            a->commit = optarg;
            break;
        case OPT_BRANCH:
            a->branch = optarg;
            break;
        case OPT_TIMESTAMP:
            if (parse_timestamp(optarg, &a->timestamp) < 0)
                return PB_EXIT_USAGE;
            break;
        case OPT_BENCHMARK:
            a->benchmark = optarg;
            break;
        case OPT_VALUE: {
            double v, *nv = realloc(a->values, (a->nvalues + 1) * sizeof(double));
            if (!nv)
                return pb_cli_fail(TOOL, "history: out of memory");
            a->values = nv;
            if (pb_cli_parse_double(TOOL, "--value", optarg, -1e300, 1e300, &v) < 0)
                return PB_EXIT_USAGE;
            a->values[a->nvalues++] = v;
            break;
        }
        case OPT_UNIT:
            a->unit = optarg;
            break;
        case OPT_FORMAT:
            a->format = optarg;
            break;
        case OPT_ALPHA:
            if (pb_cli_parse_double(TOOL, "--alpha", optarg, 1e-9, 0.5, &a->alpha) < 0)
                return PB_EXIT_USAGE;
            break;
        case OPT_MIN_SEGMENT:
            if (pb_cli_parse_uint(TOOL, "--min-segment", optarg, 2, 1000000, &a->min_segment) < 0)
                return PB_EXIT_USAGE;
            break;
        case OPT_HIGHER:
            a->higher_is_better = 1;
            break;
        case OPT_ALL:
            a->all = 1;
            break;
        case 'h':
            fputs(history_usage, stdout);
            return -1;
        default: {
            char command[32];
            snprintf(command, sizeof command, "history %s", action);
            return pb_cli_bad_option(TOOL, command, c, argv);
        }
        }
    }
    return 0;
}

/* What an action takes: a refused option is a usage error, not ignored. */
static int only(const history_args *a, const char *action, const char *allowed)
{
    struct {
        const char *name;
        int given;
    } opts[] = {
        {"junit", !!a->source[PB_HISTORY_JUNIT]},
        {"gbench", !!a->source[PB_HISTORY_GBENCH]},
        {"hyperfine", !!a->source[PB_HISTORY_HYPERFINE]},
        {"pytest-benchmark", !!a->source[PB_HISTORY_PYTEST_BENCHMARK]},
        {"commit", !!a->commit},
        {"branch", !!a->branch},
        {"timestamp", a->timestamp != 0},
        {"benchmark", !!a->benchmark},
        {"value", a->nvalues > 0},
        {"unit", !!a->unit},
        {"format", !!a->format},
        {"alpha", a->alpha > 0},
        {"min-segment", a->min_segment > 0},
        {"higher-is-better", a->higher_is_better},
        {"all", a->all},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, " %s ", opts[i].name);
        if (opts[i].given && !strstr(allowed, want))
            return pb_cli_fail(TOOL, "history %s: --%s does not apply (see --help)", action,
                               opts[i].name);
    }
    return 0;
}

/* --commit as a full id (a revision of the repository here, or an id as
 * given outside one); without it, HEAD's when `head` and in a repository. */
static int commit_of(const history_args *a, pb_repo *repo, int head, char *out, size_t size,
                     pb_error *err)
{
    char hex[PB_OID_HEXSZ + 1];
    out[0] = '\0';
    if (!a->commit && !(head && repo))
        return 0;
    if (repo && pb_repo_resolve(repo, a->commit ? a->commit : "HEAD", hex, err) == 0) {
        snprintf(out, size, "%s", hex);
        return 0;
    }
    if (!a->commit) {
        pb_error_clear(err); /* an unborn HEAD: none */
        return 0;
    }
    size_t n = strspn(a->commit, "0123456789abcdefABCDEF");
    if (repo || a->commit[n] || n < 7 || n > 64)
        return pb_error_set(err, PB_EINVAL, "history: --commit '%s' names no commit%s", a->commit,
                            repo ? " here" : " (and this is not a git repository)");
    snprintf(out, size, "%s", a->commit);
    return 0;
}

static int cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int do_import(const history_args *a, pb_repo *repo, pb_store *store, pb_error *err)
{
    int which = -1, given = 0;
    for (int f = 0; f < 4; f++)
        if (a->source[f]) {
            which = f;
            given++;
        }
    if (given != 1)
        return pb_error_set(err, PB_EINVAL,
                            "history import: give one of --junit, --gbench, --hyperfine, "
                            "--pytest-benchmark");
    char commit[128];
    int rc = commit_of(a, repo, 0, commit, sizeof commit, err);
    if (rc < 0)
        return rc;
    pb_history_import_options opt = {a->commit ? commit : NULL, a->branch, a->timestamp,
                                     (int64_t)time(NULL)};
    pb_history_rows rows = PB_HISTORY_ROWS_INIT;
    if ((rc = pb_history_read((pb_history_format)which, a->source[which], &opt, &rows, err)) < 0)
        goto done;
    /* A report that names no commit was measured here, now: HEAD's. */
    if (!a->commit && (rc = commit_of(a, repo, 1, commit, sizeof commit, err)) == 0 && *commit)
        for (size_t i = 0; i < rows.n; i++)
            if (!*rows.rows[i].commit) {
                free((char *)rows.rows[i].commit);
                if (!(rows.rows[i].commit = strdup(commit))) {
                    rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                    goto done;
                }
            }
    if (rc < 0 || (rc = pb_store_history_add(store, rows.rows, rows.n, err)) < 0)
        goto done;
    /* Distinct names, sorted: a JUnit run may hold 100,000 tests. */
    const char **names = malloc((rows.n ? rows.n : 1) * sizeof(char *));
    size_t benches = 0;
    if (!names) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < rows.n; i++)
        names[i] = rows.rows[i].benchmark;
    qsort(names, rows.n, sizeof(char *), cmp_name);
    for (size_t i = 0; i < rows.n; i++)
        benches += i == 0 || strcmp(names[i], names[i - 1]);
    free(names);
    fprintf(stderr, "perfbisect: history: imported %zu values of %zu benchmarks from %s\n", rows.n,
            benches, a->source[which]);
done:
    pb_history_rows_free(&rows);
    return rc;
}

static int do_record(const history_args *a, pb_repo *repo, pb_store *store, char **files,
                     size_t nfiles, pb_error *err)
{
    sample_file sf = {0};
    char commit[128];
    int rc;
    if (!a->benchmark || !*a->benchmark)
        return pb_error_set(err, PB_EINVAL, "history record: --benchmark NAME is required");
    if ((a->nvalues > 0) + (nfiles > 0) != 1 || nfiles > 1)
        return pb_error_set(err, PB_EINVAL,
                            "history record: give --value X (repeatable) or one FILE.json");
    if ((rc = commit_of(a, repo, 1, commit, sizeof commit, err)) < 0)
        return rc;
    if (nfiles && sample_file_load("history record", files[0], &sf) != 0)
        return PB_EINVAL; /* the loader said why */
    const double *v = nfiles ? sf.values : a->values;
    size_t n = nfiles ? sf.n : a->nvalues;
    const char *unit = a->unit ? a->unit : sf.unit ? sf.unit : "";
    pb_store_history_row *rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows) {
        sample_file_free(&sf);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    int64_t when = a->timestamp ? a->timestamp : (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++)
        rows[i] = (pb_store_history_row){a->benchmark, commit, a->branch ? a->branch : "",  when,
                                         v[i],         unit,   nfiles ? files[0] : "record"};
    rc = pb_store_history_add(store, rows, n, err);
    free(rows);
    sample_file_free(&sf);
    return rc;
}

static void iso_time(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, size, "%" PRId64, t);
}

static json_t *row_json(const pb_store_history_entry *r)
{
    json_t *o = json_object();
    char when[32];
    iso_time(r->timestamp, when, sizeof when);
    if (o && (json_object_set_new(o, "benchmark", pb_cli_json_text(r->benchmark)) < 0 ||
              json_object_set_new(o, "commit", pb_cli_json_text(r->commit)) < 0 ||
              json_object_set_new(o, "branch", pb_cli_json_text(r->branch)) < 0 ||
              json_object_set_new(o, "timestamp", json_integer((json_int_t)r->timestamp)) < 0 ||
              json_object_set_new(o, "time", json_string(when)) < 0 ||
              json_object_set_new(o, "value", pb_cli_json_number(r->value)) < 0 ||
              json_object_set_new(o, "unit", pb_cli_json_text(r->unit)) < 0 ||
              json_object_set_new(o, "source", pb_cli_json_text(r->source)) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int print_json(json_t *root, const char *key, json_t *arr, pb_error *err)
{
    int rc = 0;
    if (!root || !arr || json_object_set_new(root, key, arr) < 0 ||
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) < 0)
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    else
        fputc('\n', stdout);
    json_decref(root);
    return rc;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break; with
 * `one_line`, line breaks as spaces (perftriage reads a record a line). */
static void csv_field(const char *s, int one_line)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(one_line && (*s == '\r' || *s == '\n') ? ' ' : *s);
    }
    putchar('"');
}

/* A number that reads back as the same double, as short as it can be. */
static void csv_number(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, stdout);
}

static int do_show(const history_args *a, pb_store *store, int export, pb_error *err)
{
    pb_store_history_entry *rows = NULL;
    size_t n = 0;
    const char *fmt = a->format ? a->format : export ? "csv" : "text";
    const char *ok = export ? " csv json triage " : " text json markdown ";
    char want[32];
    snprintf(want, sizeof want, " %s ", fmt);
    if (!strstr(ok, want))
        return pb_error_set(err, PB_EINVAL, "history %s: unknown --format '%s' (%s)",
                            export ? "export" : "show", fmt,
                            export ? "csv, json or triage" : "text, json or markdown");
    int rc = pb_store_history_query(store, a->benchmark, &rows, &n, err);
    if (rc < 0)
        return rc;
    if (a->branch)
        n = pb_history_keep_branch(rows, n, a->branch);
    if (!strcmp(fmt, "json")) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n && arr; i++)
            if (json_array_append_new(arr, row_json(&rows[i])) < 0) {
                json_decref(arr);
                arr = NULL;
            }
        rc = print_json(json_object(), "history", arr, err);
    } else if (!strcmp(fmt, "csv")) {
        puts("benchmark,commit,branch,timestamp,value,unit,source");
        for (size_t i = 0; i < n; i++) {
            const pb_store_history_entry *r = &rows[i];
            csv_field(r->benchmark, 0);
            putchar(',');
            csv_field(r->commit, 0);
            putchar(',');
            csv_field(r->branch, 0);
            printf(",%" PRId64 ",", r->timestamp);
            csv_number(r->value);
            putchar(',');
            csv_field(r->unit, 0);
            putchar(',');
            csv_field(r->source, 0);
            putchar('\n');
        }
    } else if (!strcmp(fmt, "triage")) {
        /* perftriage --history: run,commit,test,value (seconds, not negative);
         * a run per time and commit. */
        size_t left = 0;
        puts("run,commit,test,value");
        for (size_t i = 0; i < n; i++) {
            const pb_store_history_entry *r = &rows[i];
            char run[128];
            if (!(r->value >= 0) || (*r->unit && strcmp(r->unit, "s"))) {
                left++;
                continue;
            }
            snprintf(run, sizeof run, "%" PRId64 "-%.12s", r->timestamp, r->commit);
            csv_field(run, 1);
            putchar(',');
            csv_field(r->commit, 1);
            putchar(',');
            csv_field(r->benchmark, 1);
            putchar(',');
            csv_number(r->value);
            putchar('\n');
        }
        if (left)
            fprintf(stderr,
                    "perfbisect: history export: left out %zu values perftriage cannot read "
                    "(negative, or not in seconds)\n",
                    left);
    } else {
        int md = !strcmp(fmt, "markdown");
        if (md)
            puts("| benchmark | time | commit | branch | value |\n|---|---|---|---|--:|");
        for (size_t i = 0; i < n; i++) {
            const pb_store_history_entry *r = &rows[i];
            char when[32];
            double f = 1;
            const char *u = pb_bench_display_unit(r->unit, r->value, &f);
            iso_time(r->timestamp, when, sizeof when);
            if (md) {
                fputs("| ", stdout);
                pb_cli_md_cell(stdout, r->benchmark);
                printf(" | %s | `%.12s` | ", when, r->commit);
                pb_cli_md_cell(stdout, r->branch);
                printf(" | %.4g %s |\n", r->value * f, u);
            } else {
                if (i == 0 || strcmp(r->benchmark, rows[i - 1].benchmark))
                    printf("%s%s\n", i ? "\n" : "", r->benchmark);
                printf("  %s  %-12.12s  %-12s  %.4g %s\n", when, *r->commit ? r->commit : "-",
                       *r->branch ? r->branch : "-", r->value * f, u);
            }
        }
        if (n == 0 && !md)
            fprintf(stderr, "perfbisect: history: nothing recorded%s%s\n",
                    a->benchmark ? " for " : "", a->benchmark ? a->benchmark : "");
    }
    pb_store_history_free(rows, n);
    return rc;
}

static int do_regressions(const history_args *a, pb_store *store, pb_error *err)
{
    pb_store_history_entry *rows = NULL;
    pb_history_steps steps = PB_HISTORY_STEPS_INIT;
    pb_format format = PB_FORMAT_TEXT;
    size_t n = 0, shown = 0;
    if (a->format && pb_cli_parse_format(TOOL, a->format, &format) < 0)
        return PB_EINVAL;
    int rc = pb_store_history_query(store, a->benchmark, &rows, &n, err);
    if (rc == 0 && a->branch)
        n = pb_history_keep_branch(rows, n, a->branch);
    if (rc == 0)
        rc = pb_history_steps_find(rows, n, a->alpha > 0 ? a->alpha : 0.01,
                                   a->min_segment ? a->min_segment : 5, a->higher_is_better, &steps,
                                   err);
    if (rc < 0)
        goto done;
    if (format == PB_FORMAT_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < steps.n && arr; i++) {
            const pb_history_step *s = &steps.steps[i];
            json_t *o = json_object();
            if (!a->all && !s->worse) {
                json_decref(o);
                continue;
            }
            if (!o || json_object_set_new(o, "benchmark", pb_cli_json_text(s->benchmark)) < 0 ||
                json_object_set_new(o, "commit", pb_cli_json_text(s->commit)) < 0 ||
                json_object_set_new(o, "previous", pb_cli_json_text(s->previous)) < 0 ||
                json_object_set_new(o, "change_pct", pb_cli_json_number(s->change_pct)) < 0 ||
                json_object_set_new(o, "before_median", pb_cli_json_number(s->before)) < 0 ||
                json_object_set_new(o, "after_median", pb_cli_json_number(s->after)) < 0 ||
                json_object_set_new(o, "p_value", pb_cli_json_number(s->p_value)) < 0 ||
                json_object_set_new(o, "timestamp", json_integer((json_int_t)s->timestamp)) < 0 ||
                json_object_set_new(o, "worse", json_boolean(s->worse)) < 0 ||
                json_array_append_new(arr, o) < 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        rc = print_json(json_object(), "regressions", arr, err);
        goto done;
    }
    int md = format == PB_FORMAT_MARKDOWN;
    for (size_t i = 0; i < steps.n; i++) {
        const pb_history_step *s = &steps.steps[i];
        char when[32];
        double f = 1;
        const char *u = pb_bench_display_unit(s->unit, s->before, &f);
        if (!a->all && !s->worse)
            continue;
        if (md && shown == 0)
            puts("| benchmark | change | before → after | last fast | first slow | p-value |\n"
                 "|---|--:|--:|---|---|--:|");
        shown++;
        iso_time(s->timestamp, when, sizeof when);
        if (md) {
            fputs("| ", stdout);
            pb_cli_md_cell(stdout, s->benchmark);
            printf(" | **%+.2f%%** | %.4g → %.4g ", s->change_pct, s->before * f, s->after * f);
            pb_cli_md_cell(stdout, u);
            printf(" | `%.12s` | `%.12s` | %.3g |\n", s->previous, s->commit, s->p_value);
            continue;
        }
        printf("%s: %+.2f%% (%.4g -> %.4g %s, p = %.3g) from %s, measured %s\n", s->benchmark,
               s->change_pct, s->before * f, s->after * f, u, s->p_value,
               *s->commit ? s->commit : "(no commit)", when);
        if (*s->previous && *s->commit && strcmp(s->previous, s->commit))
            printf("  last before it: %s\n  bisect with: perfbisect run --good %.12s --bad %.12s "
                   "--bench CMD\n",
                   s->previous, s->previous, s->commit);
    }
    if (shown == 0 && format == PB_FORMAT_TEXT)
        printf("no %s in %zu values%s%s\n", a->all ? "step" : "regression", n,
               a->benchmark ? " of " : "", a->benchmark ? a->benchmark : "");
done:
    pb_history_steps_free(&steps);
    pb_store_history_free(rows, n);
    return rc;
}

int cmd_history(int argc, char **argv)
{
    history_args a = {0};
    pb_error err = PB_ERROR_INIT;
    pb_repo *repo = NULL;
    pb_store *store = NULL;
    int rc = PB_EXIT_OK, arg = 1;
    /* history [--db FILE] ACTION [options] */
    while (arg < argc && argv[arg][0] == '-') {
        if (!strcmp(argv[arg], "-h") || !strcmp(argv[arg], "--help")) {
            fputs(history_usage, stdout);
            return PB_EXIT_OK;
        }
        if (!strcmp(argv[arg], "--db") && arg + 1 < argc) {
            a.db = argv[arg + 1];
            arg += 2;
        } else if (!strncmp(argv[arg], "--db=", 5)) {
            a.db = argv[arg] + 5;
            arg++;
        } else {
            return pb_cli_fail(TOOL, "history: unknown option '%s' before the action (see --help)",
                               argv[arg]);
        }
    }
    if (arg >= argc)
        return pb_cli_fail(TOOL, "history: give an action: import, record, show, regressions or "
                                 "export (see --help)");
    /* Each action and the options it takes. */
    static const struct {
        const char *name, *takes;
    } actions[] = {
        {"import", " junit gbench hyperfine pytest-benchmark commit branch timestamp "},
        {"record", " benchmark value commit branch timestamp unit "},
        {"show", " benchmark branch format "},
        {"regressions", " benchmark branch format alpha min-segment higher-is-better all "},
        {"export", " benchmark branch format "},
    };
    const char *action = argv[arg], *takes = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(action, actions[i].name))
            takes = actions[i].takes;
    if (!takes)
        return pb_cli_fail(TOOL,
                           "history: unknown action '%s' (import, record, show, regressions, "
                           "export)",
                           action);
    if ((rc = parse_args(argc - arg, argv + arg, action, &a)) != 0) {
        rc = rc < 0 ? PB_EXIT_OK : rc; /* -1: --help was printed */
        goto out;
    }
    if ((rc = only(&a, action, takes)))
        goto out;
    int nfiles = argc - arg - optind;
    if (nfiles > 0 && strcmp(action, "record")) {
        rc = pb_cli_fail(TOOL, "history %s: unexpected argument '%s'", action, argv[arg + optind]);
        goto out;
    }
    /* Outside a repository only --db says where the store is (and --commit
     * cannot be resolved). */
    if (pb_repo_open(&repo, ".", &err) < 0) {
        repo = NULL;
        pb_error_clear(&err);
    }
    int writes = !strcmp(action, "import") || !strcmp(action, "record");
    if (store_open(a.db, repo, !writes, &store, &err) < 0)
        goto fail;
    int lrc = 0;
    if (!strcmp(action, "import"))
        lrc = do_import(&a, repo, store, &err);
    else if (!strcmp(action, "record"))
        lrc = do_record(&a, repo, store, argv + arg + optind, (size_t)nfiles, &err);
    else if (!strcmp(action, "regressions"))
        lrc = do_regressions(&a, store, &err);
    else
        lrc = do_show(&a, store, !strcmp(action, "export"), &err);
    if (lrc == PB_EINVAL && err.code == 0) {
        rc = PB_EXIT_USAGE; /* already said */
        goto out;
    }
    if (lrc < 0)
        goto fail;
    goto out;
fail:
    rc = pb_cli_fail_error(TOOL, &err);
out:
    pb_store_free(store);
    pb_repo_free(repo);
    free(a.values);
    return rc;
}
