/* perftriage threshold — the CI guide's threshold rule applied to the history. */
#include "cli.h"
#include "commands.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: perftriage threshold [--junit PATH]... [--log FILE]... [--history FILE]\n"
    "                            [--strictness strict|default|ci] [--test ID]...\n"
    "                            [--format text|json|markdown] [--threads N]\n"
    "Recommends per test: (P95 + 2*stddev) x multiplier (strict 0.5, default 1.0, ci 2.0;\n"
    "CI=true in the environment means ci). Exit 0, or 2 on usage or input errors.\n";

static const char *strictness_name(pb_strictness s)
{
    return s == PB_STRICTNESS_STRICT ? "strict" : s == PB_STRICTNESS_CI ? "ci" : "default";
}

static int cmp_verdict_id(const void *a, const void *b)
{
    return strcmp(((const pb_triage_verdict *)a)->id, ((const pb_triage_verdict *)b)->id);
}

/* The class `perftriage classify` gives a test that failed, or NULL: a
 * regression or a drift is not what a higher limit should absorb. (The
 * report's items are sorted by id.) */
static const char *hidden_change(const pb_triage_report *r, const char *id)
{
    pb_triage_verdict key = {.id = id};
    const pb_triage_verdict *v = bsearch(&key, r->items, r->n, sizeof(*r->items), cmp_verdict_id);
    return v && (v->cls == PB_TRIAGE_REGRESSION || v->cls == PB_TRIAGE_GRADUAL)
               ? pb_triage_class_name(v->cls)
               : NULL;
}

static int wanted(const char **ids, size_t n, const char *id)
{
    if (!n)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id))
            return 1;
    return 0;
}

int cmd_threshold(int argc, char **argv)
{
    static const struct option opts[] = {
        {"junit", required_argument, 0, 'j'},
        {"log", required_argument, 0, 'l'},
        {"history", required_argument, 0, 'H'},
        {"format", required_argument, 0, 'f'},
        {"strictness", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"test", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    inputs in = {0};
    pb_format format = PB_FORMAT_TEXT;
    pb_strictness strict = PB_STRICTNESS_DEFAULT;
    pb_triage *t = NULL;
    pb_triage_report *report = NULL;
    size_t hidden = 0;
    pb_triage_threshold *th = NULL;
    size_t nth = 0, nids = 0, shown = 0;
    const char **ids = NULL;
    pb_error err = PB_ERROR_INIT;
    int have_strictness = 0, c, rc = PB_EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":j:l:H:f:s:t:T:h", opts, NULL)) != -1) {
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
            if (pb_strictness_parse(optarg, &strict, &err) < 0) {
                pb_cli_fail_error(TOOL, &err);
                goto done;
            }
            have_strictness = 1;
            break;
        case 'T': {
            const char **p = realloc(ids, (nids + 1) * sizeof(*p));
            if (!p) {
                pb_cli_fail(TOOL, "out of memory");
                goto done;
            }
            ids = p;
            ids[nids++] = optarg;
            break;
        }
        case 'h':
            fputs(usage, stdout);
            rc = PB_EXIT_OK;
            goto done;
        default:
            pb_cli_bad_option(TOOL, "threshold", c, argv);
            goto done;
        }
    }
    if (optind < argc) {
        pb_cli_fail(TOOL, "threshold: unexpected argument '%s'", argv[optind]);
        goto done;
    }
    if (!have_strictness)
        strict = pb_strictness_default(getenv("CI"));
    if (inputs_load(&in, &t))
        goto done;
    if (pb_triage_thresholds(t, strict, &th, &nth, &err) < 0) {
        pb_cli_fail_error(TOOL, &err);
        goto done;
    }
    for (size_t i = 0; i < nth; i++)
        shown += wanted(ids, nids, th[i].id);
    if (nids && shown < nids) {
        for (size_t k = 0; k < nids; k++) {
            int found = 0;
            for (size_t i = 0; i < nth && !found; i++)
                found = !strcmp(th[i].id, ids[k]);
            if (!found) {
                pb_cli_fail(TOOL, "--test %s: no such test with two or more values", ids[k]);
                goto done;
            }
        }
    }
    if (pb_triage_classify(t, NULL, &report, &err) < 0) {
        pb_cli_fail_error(TOOL, &err);
        goto done;
    }
    double mult = pb_strictness_multiplier(strict);
    if (format == PB_FORMAT_JSON) {
        json_t *root = json_object(), *arr = json_array();
        json_object_set_new(root, "strictness", json_string(strictness_name(strict)));
        json_object_set_new(root, "multiplier", json_real(mult));
        for (size_t i = 0; i < nth; i++) {
            if (!wanted(ids, nids, th[i].id))
                continue;
            json_t *o = json_object();
            json_object_set_new(o, "id", pb_cli_json_text(th[i].id));
            json_object_set_new(o, "n", json_integer((json_int_t)th[i].n));
            json_object_set_new(o, "median", json_measured(th[i].median));
            json_object_set_new(o, "lower_is_worse", json_boolean(th[i].lower_is_worse));
            json_object_set_new(o, th[i].lower_is_worse ? "p5" : "p95", json_measured(th[i].p95));
            json_object_set_new(o, "stddev", json_measured(th[i].stddev));
            json_object_set_new(o, "recommended", json_measured(th[i].recommended));
            json_object_set_new(o, "current_limit", json_measured(th[i].current_limit));
            json_object_set_new(o, "unit", json_string(th[i].seconds ? "s" : ""));
            const char *change = hidden_change(report, th[i].id);
            json_object_set_new(o, "hides", change ? json_string(change) : json_null());
            json_array_append_new(arr, o);
        }
        json_object_set_new(root, "thresholds", arr);
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            puts(s);
        free(s);
        json_decref(root);
    } else {
        int md = format == PB_FORMAT_MARKDOWN;
        char a[32], b[32], cc[32], d[32], e[32];
        if (md)
            printf("## Recommended thresholds (%s, x%.1f; min: a rate's minimum)\n\n| Test | n "
                   "| Median | P95 (P5 for a rate) | Stddev | "
                   "Recommended | Current |\n|---|---|---|---|---|---|---|\n",
                   strictness_name(strict), mult);
        else
            printf("strictness %s (x%.1f): threshold = (P95 + 2*stddev) x %.1f; for a rate "
                   "(lower is worse) a minimum, (P5 - 2*stddev) / %.1f, marked min\n%-50s %5s "
                   "%10s %10s %10s %12s %10s\n",
                   strictness_name(strict), mult, mult, mult, "TEST", "N", "MEDIAN", "P95|P5",
                   "STDDEV", "RECOMMENDED", "CURRENT");
        for (size_t i = 0; i < nth; i++) {
            const pb_triage_threshold *x = &th[i];
            if (!wanted(ids, nids, x->id))
                continue;
            fmt_value(a, sizeof(a), x->median, x->seconds);
            fmt_value(b, sizeof(b), x->p95, x->seconds);
            fmt_value(cc, sizeof(cc), x->stddev, x->seconds);
            fmt_value(d + 4 * x->lower_is_worse, sizeof(d) - 4, x->recommended, x->seconds);
            if (x->lower_is_worse)
                memcpy(d, "min ", 4);
            fmt_value(e, sizeof(e), x->current_limit, x->seconds);
            const char *change = hidden_change(report, x->id);
            hidden += change != NULL;
            if (md)
                printf("| `%s` | %zu | %s | %s | %s | **%s**%s | %s |\n", x->id, x->n, a, b, cc, d,
                       change ? " (!)" : "", e);
            else
                printf("%-50s %5zu %10s %10s %10s %12s%s %10s\n", x->id, x->n, a, b, cc, d,
                       change ? "!" : " ", e);
        }
        if (hidden)
            printf(md ? "\n(!) `perftriage classify` calls it a regression or a gradual "
                        "slowdown: a higher limit would hide it; bisect or optimise first.\n"
                      : "! perftriage classify calls it a regression or a gradual slowdown: a "
                        "higher limit would hide it; bisect or optimise first\n");
    }
    rc = PB_EXIT_OK;
done:
    free(th);
    free(ids);
    pb_triage_report_free(report);
    pb_triage_free(t);
    inputs_free(&in);
    return rc;
}
