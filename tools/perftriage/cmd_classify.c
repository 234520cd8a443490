/* perftriage classify — one verdict per failing benchmark, with evidence. */
#include "cli.h"
#include "commands.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: perftriage classify [--junit PATH]... [--log FILE]... [--history FILE]\n"
    "                           [--format text|json|markdown] [--strictness strict|default|ci]\n"
    "                           [--threads N]\n"
    "Classifies every test that failed at least once as flaky, regression, variance or\n"
    "gradual. Exit 0 when none is a regression or gradual degradation, 1 when some is,\n"
    "2 on usage or input errors.\n";

/* Test ids, commits, run labels and messages come from CI files and logs,
 * which need not be UTF-8: a bad byte becomes U+FFFD rather than the key
 * going missing. NULL is null. */
static json_t *str_or_null(const char *s)
{
    return pb_cli_json_text(s);
}

static json_t *evidence_json(const pb_triage_verdict *v)
{
    json_t *e = json_object();
    json_object_set_new(e, "unit", json_string(v->seconds ? "s" : ""));
    json_object_set_new(e, "values", json_integer((json_int_t)v->values));
    json_object_set_new(e, "median", json_measured(v->median));
    json_object_set_new(e, "stddev", json_measured(v->stddev));
    json_object_set_new(e, "lower_is_worse", json_boolean(v->lower_is_worse));
    json_object_set_new(e, v->lower_is_worse ? "p5" : "p95", json_measured(v->p95));
    json_object_set_new(e, "robust_cv", pb_cli_json_number(v->robust_cv));
    json_object_set_new(e, "limit", json_measured(v->limit));
    switch (v->cls) {
    case PB_TRIAGE_FLAKY:
        json_object_set_new(e, "reruns_passed", json_integer((json_int_t)v->reruns_passed));
        json_object_set_new(e, "same_commit_passes",
                            json_integer((json_int_t)v->same_commit_passes));
        json_object_set_new(e, "outlier_z", pb_cli_json_number(v->outlier_z));
        json_object_set_new(e, "centre", json_measured(v->centre));
        break;
    case PB_TRIAGE_REGRESSION:
        json_object_set_new(e, "last_good", str_or_null(v->last_good));
        json_object_set_new(e, "first_bad", str_or_null(v->first_bad));
        json_object_set_new(e, "last_good_run", str_or_null(v->last_good_run));
        json_object_set_new(e, "first_bad_run", str_or_null(v->first_bad_run));
        json_object_set_new(e, "before_median", json_measured(v->before_median));
        json_object_set_new(e, "after_median", json_measured(v->after_median));
        json_object_set_new(e, "change_pct", pb_cli_json_number(v->change_pct));
        json_object_set_new(e, "p_value", pb_cli_json_number(v->step_p));
        json_object_set_new(e, "fail_before", json_measured(v->fail_before));
        json_object_set_new(e, "fail_after", json_measured(v->fail_after));
        json_object_set_new(e, "within_trend_p", pb_cli_json_number(v->within_p));
        break;
    case PB_TRIAGE_GRADUAL:
        json_object_set_new(e, "mann_kendall_z", pb_cli_json_number(v->mk_z));
        json_object_set_new(e, "p_value", pb_cli_json_number(v->mk_p));
        json_object_set_new(e, "sen_slope", json_measured(v->sen_slope));
        json_object_set_new(e, "slope_pct_per_run", pb_cli_json_number(v->slope_pct));
        json_object_set_new(e, "crossed_run", str_or_null(v->crossed_run));
        json_object_set_new(e, "crossed_commit", str_or_null(v->crossed_commit));
        json_object_set_new(e, "step_p_value", pb_cli_json_number(v->step_p));
        json_object_set_new(e, "within_trend_p", pb_cli_json_number(v->within_p));
        break;
    case PB_TRIAGE_VARIANCE:
        json_object_set_new(e, "recommended_threshold", json_measured(v->recommended));
        json_object_set_new(e, "multiplier", pb_cli_json_number(v->multiplier));
        json_object_set_new(e, "reruns_passed", json_integer((json_int_t)v->reruns_passed));
        json_object_set_new(e, "mann_kendall_p", pb_cli_json_number(v->mk_p));
        break;
    }
    return e;
}

/* One line of evidence for the text and Markdown views. */
static void evidence_text(const pb_triage_verdict *v, char *out, size_t cap)
{
    char a[32], b[32], c[32];
    switch (v->cls) {
    case PB_TRIAGE_FLAKY:
        snprintf(out, cap, "%zu rerun(s) passed, %zu same-commit pass(es)", v->reruns_passed,
                 v->same_commit_passes);
        if (!isnan(v->centre)) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, "; %s centre %s",
                     v->centre_of_all ? "all runs'" : "passing runs'",
                     fmt_value(a, sizeof(a), v->centre, v->seconds));
            len = strlen(out);
            if (!isnan(v->robust_cv))
                snprintf(out + len, cap - len, ", cv %.1f%%", 100 * v->robust_cv);
        }
        if (!isnan(v->outlier_z)) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, ", failures >= %.1f robust sd out", v->outlier_z);
        }
        break;
    case PB_TRIAGE_REGRESSION:
        if (isnan(v->change_pct)) {
            snprintf(out, cap,
                     "fails from run %s on (%.0f%% after, %.0f%% before); no values to size it",
                     v->first_bad_run ? v->first_bad_run : "?", 100 * v->fail_after,
                     100 * v->fail_before);
            break;
        }
        /* without a test on the values (too few), no p-value */
        c[0] = '\0';
        if (!isnan(v->step_p))
            snprintf(c, sizeof(c), ", p=%.2g", v->step_p);
        snprintf(out, cap, "%+.1f%% (%s -> %s%s%s) from run %s; fails %.0f%% after, %.0f%% before",
                 v->change_pct, fmt_value(a, sizeof(a), v->before_median, v->seconds),
                 fmt_value(b, sizeof(b), v->after_median, v->seconds), c,
                 v->lower_is_worse ? ", lower is worse" : "",
                 v->first_bad_run ? v->first_bad_run : "?", 100 * v->fail_after,
                 100 * v->fail_before);
        break;
    case PB_TRIAGE_GRADUAL:
        snprintf(out, cap,
                 "%+.2f%%/run (Mann-Kendall z=%.2f, p=%.2g); %s the limit%s%s from run %s",
                 v->slope_pct, v->mk_z, v->mk_p, v->lower_is_worse ? "under" : "over",
                 isnan(v->limit) ? "" : " ",
                 isnan(v->limit) ? "" : fmt_value(c, sizeof(c), v->limit, v->seconds),
                 v->crossed_run ? v->crossed_run : "?");
        break;
    case PB_TRIAGE_VARIANCE:
        snprintf(out, cap, "median %s, %s %s, sd %s (cv %.1f%%); no step, no trend",
                 fmt_value(a, sizeof(a), v->median, v->seconds), v->lower_is_worse ? "P5" : "P95",
                 fmt_value(b, sizeof(b), v->p95, v->seconds),
                 fmt_value(c, sizeof(c), v->stddev, v->seconds), 100 * v->robust_cv);
        break;
    }
}

static void print_json(const pb_triage *t, const pb_triage_report *r)
{
    pb_triage_totals tot;
    json_t *root = json_object(), *arr = json_array();
    pb_triage_get_totals(t, &tot);
    for (size_t i = 0; i < r->n; i++) {
        const pb_triage_verdict *v = &r->items[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", pb_cli_json_text(v->id));
        json_object_set_new(o, "class", json_string(pb_triage_class_name(v->cls)));
        json_object_set_new(o, "failures", json_integer((json_int_t)v->failures));
        json_object_set_new(o, "runs", json_integer((json_int_t)v->runs));
        json_object_set_new(o, "split", str_or_null(v->split));
        json_object_set_new(o, "message", str_or_null(v->message));
        json_object_set_new(o, "evidence", evidence_json(v));
        json_object_set_new(o, "action", pb_cli_json_text(v->action));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "benchmarks", arr);
    json_t *sum = json_object();
    for (int c = 0; c < 4; c++)
        json_object_set_new(sum, pb_triage_class_name((pb_triage_class)c),
                            json_integer((json_int_t)r->count[c]));
    json_object_set_new(root, "summary", sum);
    json_object_set_new(root, "runs", json_integer((json_int_t)tot.runs));
    json_object_set_new(root, "tests", json_integer((json_int_t)tot.tests));
    json_t *splits = json_array();
    for (size_t i = 0; i < r->nsplits; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", pb_cli_json_text(r->splits[i].name));
        json_object_set_new(o, "failed_tests", json_integer((json_int_t)r->splits[i].failed_tests));
        json_object_set_new(o, "failed_runs", json_integer((json_int_t)r->splits[i].failed_runs));
        json_array_append_new(splits, o);
    }
    json_object_set_new(root, "splits", splits);
    json_t *runner = json_array(), *broad = json_array();
    for (size_t i = 0; i < r->nruns; i++)
        if (r->runs[i].everywhere) {
            json_t *o = json_object();
            json_object_set_new(o, "run", pb_cli_json_text(r->runs[i].label));
            json_object_set_new(o, "commit", str_or_null(r->runs[i].commit));
            json_object_set_new(o, "failed_tests",
                                json_integer((json_int_t)r->runs[i].failed_tests));
            json_object_set_new(o, "splits", json_integer((json_int_t)r->runs[i].splits));
            json_array_append_new(runner, o);
        }
    for (size_t i = 0; i < r->nbroad; i++) {
        const pb_triage_run_view *rv = &r->runs[r->broad[i].run_index];
        json_t *o = json_object();
        json_object_set_new(o, "run", pb_cli_json_text(rv->label));
        json_object_set_new(o, "commit", str_or_null(rv->commit));
        json_object_set_new(o, "benchmarks", json_integer((json_int_t)r->broad[i].benchmarks));
        json_array_append_new(broad, o);
    }
    json_object_set_new(root, "runner_problems", runner);
    json_object_set_new(root, "broad_regressions", broad);
    json_t *warn = json_array();
    for (size_t i = 0; i < pb_triage_warning_count(t); i++)
        json_array_append_new(warn, pb_cli_json_text(pb_triage_warning(t, i)));
    json_object_set_new(root, "warnings", warn);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(root);
}

static void print_run_wide(const pb_triage_report *r, int md)
{
    const char *bullet = md ? "- " : "  ";
    int any = 0;
    printf(md ? "\n### Run-wide view\n\n" : "\nrun-wide view:\n");
    for (size_t i = 0; i < r->nsplits; i++)
        if (r->splits[i].failed_tests) {
            printf("%ssplit %s: %zu failure(s) in %zu run(s)\n", bullet, r->splits[i].name,
                   r->splits[i].failed_tests, r->splits[i].failed_runs);
            any = 1;
        }
    for (size_t i = 0; i < r->nruns; i++)
        if (r->runs[i].everywhere) {
            printf("%srun %s (commit %s) failed in every split (%zu failures): runner problem, "
                   "rerun it\n",
                   bullet, r->runs[i].label, r->runs[i].commit ? r->runs[i].commit : "?",
                   r->runs[i].failed_tests);
            any = 1;
        }
    for (size_t i = 0; i < r->nbroad; i++) {
        const pb_triage_run_view *rv = &r->runs[r->broad[i].run_index];
        printf("%sbroad regression: %zu benchmarks stepped together at run %s (commit %s)\n",
               bullet, r->broad[i].benchmarks, rv->label, rv->commit ? rv->commit : "?");
        any = 1;
    }
    if (!any)
        printf("%sno split failures\n", bullet);
}

/* A test name or text as read (JUnit allows any character), on one line:
 * control characters, a newline above all, as spaces; in a Markdown table
 * cell (md), escaped for it too. */
static void put_literal(const char *s, int escape_bar)
{
    for (; *s; s++)
        if (escape_bar && *s == '|')
            fputs("\\|", stdout);
        else
            putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static void put_on_one_line(const char *s, int md)
{
    if (md)
        pb_cli_md_cell(stdout, s);
    else
        put_literal(s, 0);
}

/* s as a Markdown code span in a table cell: the fence is longer than any
 * run of backticks in s (CommonMark ends a span at the first run of the
 * fence's length), at least min_fence long, padded inside when above 1. */
static void put_code_span(const char *s, size_t min_fence)
{
    size_t longest = 0, run = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    size_t fence = longest + 1 > min_fence ? longest + 1 : min_fence;
    for (size_t i = 0; i < fence; i++)
        putchar('`');
    if (fence > 1)
        putchar(' ');
    put_literal(s, 1); /* inside a span only the table's '|' needs escaping */
    if (fence > 1)
        putchar(' ');
    for (size_t i = 0; i < fence; i++)
        putchar('`');
}

static void print_text(const pb_triage *t, const pb_triage_report *r)
{
    pb_triage_totals tot;
    char ev[512];
    pb_triage_get_totals(t, &tot);
    printf("%zu run(s), %zu file(s), %zu test(s); %zu failed at least once: %zu flaky, "
           "%zu regression, %zu variance, %zu gradual\n",
           tot.runs, tot.files, tot.tests, r->n, r->count[PB_TRIAGE_FLAKY],
           r->count[PB_TRIAGE_REGRESSION], r->count[PB_TRIAGE_VARIANCE],
           r->count[PB_TRIAGE_GRADUAL]);
    if (r->n)
        printf("\n%-10s  %-7s  %s\n", "CLASS", "FAILED", "TEST / EVIDENCE / ACTION");
    for (size_t i = 0; i < r->n; i++) {
        const pb_triage_verdict *v = &r->items[i];
        evidence_text(v, ev, sizeof(ev));
        char failed[32];
        snprintf(failed, sizeof(failed), "%zu/%zu", v->failures, v->runs);
        printf("%-10s  %-7s  ", pb_triage_class_name(v->cls), failed);
        put_on_one_line(v->id, 0);
        putchar('\n');
        printf("%-10s  %-7s    %s\n", "", "", ev);
        printf("%-10s  %-7s    -> ", "", "");
        put_on_one_line(v->action, 0);
        putchar('\n');
    }
    print_run_wide(r, 0);
}

static void print_markdown(const pb_triage *t, const pb_triage_report *r)
{
    pb_triage_totals tot;
    char ev[512];
    pb_triage_get_totals(t, &tot);
    printf("## perftriage\n\n%zu run(s), %zu test(s); **%zu** failed at least once: "
           "%zu flaky, %zu regression, %zu variance, %zu gradual\n\n",
           tot.runs, tot.tests, r->n, r->count[PB_TRIAGE_FLAKY], r->count[PB_TRIAGE_REGRESSION],
           r->count[PB_TRIAGE_VARIANCE], r->count[PB_TRIAGE_GRADUAL]);
    if (r->n) {
        printf("| Class | Test | Failed | Evidence | Action |\n|---|---|---|---|---|\n");
        for (size_t i = 0; i < r->n; i++) {
            const pb_triage_verdict *v = &r->items[i];
            evidence_text(v, ev, sizeof(ev));
            /* A name (and so the command) may hold backticks itself. */
            printf("| %s | ", pb_triage_class_name(v->cls));
            put_code_span(v->id, 2);
            printf(" | %zu/%zu | ", v->failures, v->runs);
            put_on_one_line(ev, 1);
            printf(" | ");
            if (v->cls == PB_TRIAGE_REGRESSION)
                put_code_span(v->action, 1);
            else
                put_on_one_line(v->action, 1);
            printf(" |\n");
        }
    }
    print_run_wide(r, 1);
}

int cmd_classify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"junit", required_argument, 0, 'j'},
        {"log", required_argument, 0, 'l'},
        {"history", required_argument, 0, 'H'},
        {"format", required_argument, 0, 'f'},
        {"strictness", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    inputs in = {0};
    pb_format format = PB_FORMAT_TEXT;
    pb_triage_options o = PB_TRIAGE_OPTIONS_INIT;
    pb_triage *t = NULL;
    pb_triage_report *r = NULL;
    pb_error err = PB_ERROR_INIT;
    int have_strictness = 0, c, rc = PB_EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":j:l:H:f:s:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
        case 'l':
        case 'H':
        case 't':
            if (inputs_add(&in, c, optarg))
                goto done;
            break;
        case 'f':
            if (pb_cli_parse_format(TOOL, optarg, &format) < 0)
                goto done;
            break;
        case 's':
            if (pb_strictness_parse(optarg, &o.strictness, &err) < 0) {
                pb_cli_fail_error(TOOL, &err);
                goto done;
            }
            have_strictness = 1;
            break;
        case 'h':
            fputs(usage, stdout);
            rc = PB_EXIT_OK;
            goto done;
        default:
            pb_cli_bad_option(TOOL, "classify", c, argv);
            goto done;
        }
    }
    if (optind < argc) {
        pb_cli_fail(TOOL, "classify: unexpected argument '%s'", argv[optind]);
        goto done;
    }
    if (!have_strictness)
        o.strictness = pb_strictness_default(getenv("CI"));
    if (inputs_load(&in, &t))
        goto done;
    if (pb_triage_classify(t, &o, &r, &err) < 0) {
        pb_cli_fail_error(TOOL, &err);
        goto done;
    }
    if (format == PB_FORMAT_JSON)
        print_json(t, r);
    else if (format == PB_FORMAT_MARKDOWN)
        print_markdown(t, r);
    else
        print_text(t, r);
    rc = r->count[PB_TRIAGE_REGRESSION] || r->count[PB_TRIAGE_GRADUAL] ? PB_EXIT_FOUND : PB_EXIT_OK;
done:
    pb_triage_report_free(r);
    pb_triage_free(t);
    inputs_free(&in);
    return rc;
}
