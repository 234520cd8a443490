/*
 * perfbisect compare — is measurement B slower than measurement A?
 *
 * Reads the "values" of two files written by `perfbisect measure --format
 * json`. Verdict: slower/faster when the Mann–Whitney U test gives
 * p < alpha, the (1 − alpha) bootstrap interval of median(B)/median(A)
 * excludes 1, and the change is at least --min-change percent; otherwise same.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sample_file.h"
#include "perfbisect/bench.h"
#include "perfbisect/buf.h"
#include "perfbisect/stats.h"

#define TOOL "perfbisect"
#define BOOTSTRAP_ITERATIONS 10000
#define BOOTSTRAP_SEED 20240601u

static const char USAGE[] =
    "usage: perfbisect compare [OPTIONS] A.json B.json\n"
    "\n"
    "Compare two measurements written by 'perfbisect measure --format json':\n"
    "the change of B against A, its confidence interval, a p-value and a verdict.\n"
    "\n"
    "options:\n"
    "  --alpha P           significance level (default 0.01); the interval is 1-P\n"
    "  --min-change PCT    a significant change smaller than PCT % is still 'same'\n"
    "                      (default 1)\n"
    "  --higher-is-better  the metric is a throughput: a higher B is faster\n"
    "  --fail-on-slower    exit 1 when the verdict is slower\n"
    "  --format FMT        text (default), json or markdown\n"
    "  -h, --help          this help\n"
    "\n"
    "Verdict: slower or faster when the Mann-Whitney U test gives p < alpha, the\n"
    "bootstrap interval of median(B)/median(A) excludes 1 and |change| >= PCT;\n"
    "otherwise same.\n"
    "Exit status: 0 compared (1 with --fail-on-slower and a slower verdict);\n"
    "2 bad usage or input.\n";

typedef struct outcome {
    double median_a, median_b, spread_a, spread_b;
    double change_pct, ci_low, ci_high, p_value, level;
    const char *verdict;
} outcome;

static int print_json(const sample_file *a, const sample_file *b, const outcome *o, double alpha)
{
    int rc = PB_EXIT_OK;
    json_t *j = json_object();
    char *text = NULL;
    if (!j || json_object_set_new(j, "verdict", json_string(o->verdict)) < 0 ||
        json_object_set_new(j, "change_pct", pb_cli_json_number(o->change_pct)) < 0 ||
        json_object_set_new(j, "ci_low", pb_cli_json_number(o->ci_low)) < 0 ||
        json_object_set_new(j, "ci_high", pb_cli_json_number(o->ci_high)) < 0 ||
        json_object_set_new(j, "ci_level", json_real(o->level)) < 0 ||
        json_object_set_new(j, "p_value", pb_cli_json_number(o->p_value)) < 0 ||
        json_object_set_new(j, "alpha", json_real(alpha)) < 0 ||
        json_object_set_new(j, "median_a", pb_cli_json_number(o->median_a)) < 0 ||
        json_object_set_new(j, "median_b", pb_cli_json_number(o->median_b)) < 0 ||
        json_object_set_new(j, "n_a", json_integer((json_int_t)a->n)) < 0 ||
        json_object_set_new(j, "n_b", json_integer((json_int_t)b->n)) < 0 ||
        json_object_set_new(j, "unit", json_string(a->unit ? a->unit : "")) < 0 ||
        !(text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(17)))) {
        rc = pb_cli_fail(TOOL, "compare: out of memory");
        goto done;
    }
    printf("%s\n", text);
done:
    free(text);
    json_decref(j);
    return rc;
}

static void print_text(const sample_file *a, const sample_file *b, const outcome *o, double alpha,
                       double min_change)
{
    double f = 1;
    const char *u = pb_bench_display_unit(a->unit, o->median_a, &f);
    const char *sp = *u ? " " : "";
    printf("A        %s: median %.4g%s%s ± %.2g%s%s (n=%zu)\n", a->path, o->median_a * f, sp, u,
           o->spread_a * f, sp, u, a->n);
    printf("B        %s: median %.4g%s%s ± %.2g%s%s (n=%zu)\n", b->path, o->median_b * f, sp, u,
           o->spread_b * f, sp, u, b->n);
    printf("change   %+.2f%%   (%g%% CI %+.2f%% … %+.2f%%)\n", o->change_pct, o->level * 100,
           o->ci_low, o->ci_high);
    printf("p-value  %.3g   (Mann-Whitney U, two-sided)\n", o->p_value);
    if (!strcmp(o->verdict, "same"))
        printf("verdict  same   (slower/faster needs p < %g, an interval excluding 0%% and "
               "|change| >= %g%%)\n",
               alpha, min_change);
    else
        printf("verdict  %s   (B is %s than A)\n", o->verdict, o->verdict);
}

static void print_markdown(const sample_file *a, const sample_file *b, const outcome *o)
{
    double f = 1;
    const char *u = pb_bench_display_unit(a->unit, o->median_a, &f);
    printf("| A | B | median A | median B | change | %g%% CI | p-value | verdict |\n",
           o->level * 100);
    printf("|---|---|--:|--:|--:|--:|--:|---|\n");
    printf("| %s | %s | %.4g %s | %.4g %s | %+.2f%% | %+.2f%% … %+.2f%% | %.3g | **%s** |\n",
           a->path, b->path, o->median_a * f, u, o->median_b * f, u, o->change_pct, o->ci_low,
           o->ci_high, o->p_value, o->verdict);
}

int cmd_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"alpha", required_argument, NULL, 'a'},
        {"min-change", required_argument, NULL, 'c'},
        {"higher-is-better", no_argument, NULL, 'H'},
        {"fail-on-slower", no_argument, NULL, 'F'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int rc = PB_EXIT_OK, c, higher_is_better = 0, fail_on_slower = 0;
    double alpha = 0.01, min_change = 1.0;
    pb_format format = PB_FORMAT_TEXT;
    sample_file a = {0}, b = {0};
    outcome o;
    pb_mwu mwu;
    pb_error err = PB_ERROR_INIT;
    double est = 0, lo = 0, hi = 0;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (pb_cli_parse_double(TOOL, "--alpha", optarg, 1e-9, 0.5, &alpha) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'c':
            if (pb_cli_parse_double(TOOL, "--min-change", optarg, 0, 1e6, &min_change) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'H':
            higher_is_better = 1;
            break;
        case 'F':
            fail_on_slower = 1;
            break;
        case 'f':
            if (pb_cli_parse_format(TOOL, optarg, &format) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return PB_EXIT_OK;
        default:
            return pb_cli_bad_option(TOOL, "compare", c, argv);
        }
    }
    if (argc - optind != 2)
        return pb_cli_fail(TOOL, "compare: expected two files, A.json B.json (got %d)",
                           argc - optind);
    if ((rc = sample_file_load("compare", argv[optind], &a)) != PB_EXIT_OK ||
        (rc = sample_file_load("compare", argv[optind + 1], &b)) != PB_EXIT_OK)
        goto done;
    if (a.metric && b.metric && strcmp(a.metric, b.metric) != 0) {
        rc = pb_cli_fail(TOOL, "compare: %s measured --metric %s but %s --metric %s", a.path,
                         a.metric, b.path, b.metric);
        goto done;
    }
    if (a.unit && b.unit && strcmp(a.unit, b.unit) != 0) {
        rc = pb_cli_fail(TOOL, "compare: %s is in '%s' but %s in '%s'", a.path, a.unit, b.path,
                         b.unit);
        goto done;
    }
    memset(&o, 0, sizeof(o));
    o.median_a = pb_stats_median(a.values, a.n);
    o.median_b = pb_stats_median(b.values, b.n);
    o.spread_a = 1.4826 * pb_stats_mad(a.values, a.n);
    o.spread_b = 1.4826 * pb_stats_mad(b.values, b.n);
    o.level = 1 - alpha;
    if (o.median_a == 0) {
        rc = pb_cli_fail(TOOL, "compare: the median of %s is 0: no relative change exists", a.path);
        goto done;
    }
    if (pb_stats_mann_whitney(a.values, a.n, b.values, b.n, &mwu, &err) < 0 ||
        pb_stats_bootstrap_ratio_ci(a.values, a.n, b.values, b.n, o.level, BOOTSTRAP_ITERATIONS,
                                    BOOTSTRAP_SEED, &est, &lo, &hi, &err) < 0) {
        rc = pb_cli_fail(TOOL, "compare: %s", pb_error_message(&err));
        goto done;
    }
    o.p_value = mwu.p_value;
    o.change_pct = (o.median_b / o.median_a - 1) * 100;
    o.ci_low = (lo - 1) * 100;
    o.ci_high = (hi - 1) * 100;
    o.verdict = "same";
    if (o.p_value < alpha && (lo > 1 || hi < 1) && fabs(o.change_pct) >= min_change) {
        int higher = o.change_pct > 0;
        o.verdict = higher != higher_is_better ? "slower" : "faster";
    }
    if (format == PB_FORMAT_JSON)
        rc = print_json(&a, &b, &o, alpha);
    else if (format == PB_FORMAT_MARKDOWN)
        print_markdown(&a, &b, &o);
    else
        print_text(&a, &b, &o, alpha, min_change);
    if (rc == PB_EXIT_OK && fail_on_slower && !strcmp(o.verdict, "slower"))
        rc = PB_EXIT_FOUND;
done:
    sample_file_free(&a);
    sample_file_free(&b);
    return rc;
}
