/*
 * perfbisect measure — run a command repeatedly and summarise one metric:
 * median ± spread, mean ± σ, range, P95, outliers; as text, JSON (the input
 * of `perfbisect compare`) or Markdown.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "perfbisect/bench.h"
#include "perfbisect/buf.h"
#include "perfbisect/metric.h"
#include "perfbisect/pressure.h"

#define TOOL "perfbisect"

static const char USAGE[] =
    "usage: perfbisect measure [OPTIONS] [--] CMD [ARG...]\n"
    "\n"
    "Run CMD under /bin/sh -c (a single CMD argument is a shell command line;\n"
    "several are quoted word by word) warmup + runs times and summarise a metric.\n"
    "\n"
    "options:\n"
    "  --runs N            measured runs (default 10)\n"
    "  --warmup N          runs before them, not counted (default 1)\n"
    "  --metric SPEC       wall (default), cpu, maxrss, regex:PATTERN,\n"
    "                      gbench:NAME[@FILE], hyperfine[:CMD][@FILE],\n"
    "                      pytest-benchmark:NAME[@FILE]\n"
    "  --timeout SEC       kill a run (its whole process group) after SEC seconds\n"
    "  --cwd DIR           run the command in DIR\n"
    "  --show-output       let the command's stdout and stderr through to our stderr\n"
    "  --format FMT        text (default), json or markdown\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 measured; 2 bad usage, or a run failed (the reason on stderr);\n"
    "130 interrupted (SIGINT/SIGTERM; the running command is killed).\n";

/* What the progress callback needs. */
typedef struct progress_ctx {
    const char *unit;
} progress_ctx;

static void show_progress(void *ctx, const pb_bench_progress *p)
{
    const progress_ctx *pc = ctx;
    double f = 1;
    const char *u = pb_bench_display_unit(pc->unit, p->value, &f);
    fprintf(stderr, "\r\033[K  %s %u/%u: %.4g %s", p->warmup ? "warmup" : "run", p->run, p->total,
            p->value * f, u);
    fflush(stderr);
}

/* Append `word` to `cmd`, single-quoted for sh when it needs to be. */
static int append_quoted(pb_buf *cmd, const char *word)
{
    int rc = 0;
    if (*word && strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                              "_-+=.,/:@%^") == strlen(word))
        return pb_buf_puts(cmd, word);
    if ((rc = pb_buf_puts(cmd, "'")) < 0)
        return rc;
    for (const char *p = word; *p; p++)
        if ((rc = (*p == '\'' ? pb_buf_puts(cmd, "'\\''") : pb_buf_put(cmd, p, 1))) < 0)
            return rc;
    return pb_buf_puts(cmd, "'");
}

static int print_json(const char *cmd, const pb_metric *m, unsigned warmup,
                      const pb_bench_summary *s, const double *values, double pressure)
{
    int rc = PB_EXIT_OK;
    json_t *o = json_object(), *arr = json_array();
    char *text = NULL;
    if (!o || !arr)
        goto oom;
    for (size_t i = 0; i < s->n; i++)
        if (json_array_append_new(arr, pb_cli_json_number(values[i])) < 0)
            goto oom;
    /* The command and the metric are the user's text, not always UTF-8:
     * pb_cli_json_text keeps them (U+FFFD for bad bytes), so a failure
     * below is memory. */
    if (json_object_set_new(o, "command", pb_cli_json_text(cmd)) < 0 ||
        json_object_set_new(o, "metric", pb_cli_json_text(pb_metric_spec(m))) < 0 ||
        json_object_set_new(o, "unit", pb_cli_json_text(pb_metric_unit(m))) < 0 ||
        json_object_set_new(o, "n", json_integer((json_int_t)s->n)) < 0 ||
        json_object_set_new(o, "warmup", json_integer(warmup)) < 0 ||
        json_object_set_new(o, "mean", pb_cli_json_number(s->mean)) < 0 ||
        json_object_set_new(o, "median", pb_cli_json_number(s->median)) < 0 ||
        json_object_set_new(o, "stddev", pb_cli_json_number(s->stddev)) < 0 ||
        json_object_set_new(o, "min", pb_cli_json_number(s->min)) < 0 ||
        json_object_set_new(o, "max", pb_cli_json_number(s->max)) < 0 ||
        json_object_set_new(o, "p95", pb_cli_json_number(s->p95)) < 0 ||
        json_object_set_new(o, "mad", pb_cli_json_number(s->mad)) < 0 ||
        json_object_set_new(o, "outliers", json_integer((json_int_t)s->outliers)) < 0 ||
        json_object_set_new(o, "cpu_pressure_pct", pb_cli_json_number(100 * pressure)) < 0)
        goto oom; /* arr is still ours: freed below */
    /* json_object_set_new takes arr, even when it fails. */
    if (json_object_set_new(o, "values", arr) < 0) {
        arr = NULL;
        goto oom;
    }
    arr = NULL;
    if (!(text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17))))
        goto oom;
    printf("%s\n", text);
    goto done;
oom:
    rc = pb_cli_fail(TOOL, "measure: out of memory");
done:
    free(text);
    json_decref(arr);
    json_decref(o);
    return rc;
}

static void print_text(const char *cmd, const pb_metric *m, unsigned warmup,
                       const pb_bench_summary *s, const double *values)
{
    double f = 1;
    const char *u = pb_bench_display_unit(pb_metric_unit(m), s->median, &f);
    const char *sp = *u ? " " : "";
    printf("command  %s\n", cmd);
    printf("metric   %s%s%s%s\n", pb_metric_spec(m), *pb_metric_unit(m) ? " (" : "",
           pb_metric_unit(m), *pb_metric_unit(m) ? ")" : "");
    printf("median   %.4g%s%s ± %.2g%s%s   (± 1.4826·MAD)\n", s->median * f, sp, u, s->spread * f,
           sp, u);
    if (s->n >= 2)
        printf("mean     %.4g%s%s ± %.2g%s%s   (± σ)\n", s->mean * f, sp, u, s->stddev * f, sp, u);
    printf("range    %.4g%s%s … %.4g%s%s", s->min * f, sp, u, s->max * f, sp, u);
    if (s->n >= 2)
        printf("   p95 %.4g%s%s", s->p95 * f, sp, u);
    printf("\nruns     %zu (+%u warmup)", s->n, warmup);
    if (s->outliers) {
        printf(", %zu outlier%s beyond median ± 3·1.4826·MAD:", s->outliers,
               s->outliers == 1 ? "" : "s");
        size_t shown = 0;
        for (size_t i = 0; i < s->n && shown < 5; i++)
            if (pb_bench_is_outlier(s, values[i])) {
                printf("%s %.4g%s%s", shown ? "," : "", values[i] * f, sp, u);
                shown++;
            }
        if (s->outliers > shown)
            printf(", ...");
    } else {
        printf(", no outliers");
    }
    printf("\n");
}

static void print_markdown(const char *cmd, const pb_metric *m, const pb_bench_summary *s)
{
    double f = 1;
    const char *u = pb_bench_display_unit(pb_metric_unit(m), s->median, &f);
    printf("| command | metric | n | median | ± (1.4826·MAD) | mean | stddev | min | max | p95 | "
           "outliers |\n");
    printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    printf("| `");
    for (const char *p = cmd; *p; p++)
        fputs(*p == '|' ? "\\|" : *p == '`' ? "'" : (char[2]){*p, 0}, stdout);
    printf("` | %s | %zu | %.4g %s | %.2g %s | %.4g %s | %.2g %s | %.4g %s | %.4g %s | %.4g %s | "
           "%zu |\n",
           pb_metric_spec(m), s->n, s->median * f, u, s->spread * f, u, s->mean * f, u,
           s->stddev * f, u, s->min * f, u, s->max * f, u, s->p95 * f, u, s->outliers);
}

int cmd_measure(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"runs", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"metric", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"cwd", required_argument, NULL, 'C'},
        {"show-output", no_argument, NULL, 'S'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int rc = PB_EXIT_OK, c;
    unsigned runs = 10, warmup = 1;
    double timeout = 0;
    const char *metric_spec = "wall", *cwd = NULL;
    int show_output = 0;
    pb_format format = PB_FORMAT_TEXT;
    pb_metric *metric = NULL;
    pb_buf cmd = PB_BUF_INIT;
    double *values = NULL;
    pb_error err = PB_ERROR_INIT;
    pb_bench_summary sum;
    progress_ctx pctx;

    optind = 0; /* "+": stop at the command's first word */
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (pb_cli_parse_uint(TOOL, "--runs", optarg, 1, 1000000, &runs) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'w':
            if (pb_cli_parse_uint(TOOL, "--warmup", optarg, 0, 1000000, &warmup) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'm':
            metric_spec = optarg;
            break;
        case 't':
            if (pb_cli_parse_double(TOOL, "--timeout", optarg, 0.001, 1e7, &timeout) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'C':
            cwd = optarg;
            break;
        case 'S':
            show_output = 1;
            break;
        case 'f':
            if (pb_cli_parse_format(TOOL, optarg, &format) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return PB_EXIT_OK;
        default:
            return pb_cli_bad_option(TOOL, "measure", c, argv);
        }
    }
    if (optind >= argc)
        return pb_cli_fail(TOOL, "measure: no command given (perfbisect measure [OPTIONS] -- CMD)");
    if (pb_metric_parse(metric_spec, &metric, &err) < 0)
        return pb_cli_fail_error(TOOL, &err);

    if (argc - optind == 1) {
        if (pb_buf_puts(&cmd, argv[optind]) < 0)
            goto oom;
    } else {
        for (int i = optind; i < argc; i++)
            if ((i > optind && pb_buf_puts(&cmd, " ") < 0) || append_quoted(&cmd, argv[i]) < 0)
                goto oom;
    }
    if (!(values = calloc(runs, sizeof(*values))))
        goto oom;

    pb_bench_options bo = PB_BENCH_OPTIONS_INIT;
    bo.runs = runs;
    bo.warmup = warmup;
    bo.timeout_sec = timeout;
    bo.cwd = cwd;
    bo.metric = metric;
    if (show_output) {
        /* Never onto stdout: that is where our report (maybe JSON) goes. */
        bo.stdout_fd = 2;
        bo.stderr_fd = PB_EXEC_INHERIT;
    }
    pctx.unit = pb_metric_unit(metric);
    if (pb_cli_stderr_is_tty() && !show_output) {
        bo.progress = show_progress;
        bo.progress_ctx = &pctx;
    }
    bo.cancel = pb_cli_catch_interrupts();
    pb_pressure pressure = PB_PRESSURE_INIT;
    pb_pressure_mark mark = pb_pressure_now();
    int brc = pb_bench_run(pb_buf_cstr(&cmd), &bo, values, &err);
    pb_pressure_add_since(&pressure, mark);
    double share = pb_pressure_share(&pressure);
    if (bo.progress)
        fputs("\r\033[K", stderr);
    if (brc == PB_EINTR) {
        pb_cli_fail(TOOL, "measure: interrupted");
        rc = 130;
        goto done;
    }
    if (brc < 0) {
        rc = pb_cli_fail_error(TOOL, &err);
        goto done;
    }
    if (pb_bench_summarize(values, runs, &sum, &err) < 0) {
        rc = pb_cli_fail_error(TOOL, &err);
        goto done;
    }
    pb_cli_warn_busy(TOOL, share);
    if (format == PB_FORMAT_JSON)
        rc = print_json(pb_buf_cstr(&cmd), metric, warmup, &sum, values, share);
    else if (format == PB_FORMAT_MARKDOWN)
        print_markdown(pb_buf_cstr(&cmd), metric, &sum);
    else
        print_text(pb_buf_cstr(&cmd), metric, warmup, &sum, values);
    goto done;
oom:
    rc = pb_cli_fail(TOOL, "measure: out of memory");
done:
    free(values);
    pb_buf_free(&cmd);
    pb_metric_free(metric);
    return rc;
}
