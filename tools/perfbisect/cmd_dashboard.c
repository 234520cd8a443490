/*
 * perfbisect dashboard — the store's history as one static HTML page: the
 * regressions first, then a chart per benchmark with its steps marked. No
 * script and nothing fetched: it opens from a CI artifact or a file system.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "store_open.h"

#include "perfbisect/bench.h"
#include "perfbisect/buf.h"
#include "perfbisect/history.h"

#define TOOL "perfbisect"

static const char dashboard_usage[] =
    "usage: perfbisect dashboard [--db FILE] -o DIR [options]\n"
    "\n"
    "Write DIR/index.html: the history's regressions, then a chart per benchmark\n"
    "(every value, the steps marked), as 'perfbisect history regressions' finds them.\n"
    "\n"
    "  --db FILE            the result store (default: perfbisect.db in the git dir,\n"
    "                       or $PERFBISECT_DB)\n"
    "  -o, --output DIR     where to write index.html (created if need be)\n"
    "  --alpha P            significance of a step (default 0.01)\n"
    "  --min-segment N      fewest points between two steps (default 5)\n"
    "  --higher-is-better   the values are throughputs: a step down is a regression\n"
    "  --branch NAME        that branch's values only\n";

/* Chart geometry, in SVG user units. */
enum { W = 760, H = 180, PAD_L = 70, PAD_R = 10, PAD_T = 10, PAD_B = 22 };

/* At most `max` bytes of text as HTML (element content and attribute
 * values alike). */
static void html_n(FILE *f, const char *s, size_t max)
{
    for (; *s && max; s++, max--) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void html(FILE *f, const char *s)
{
    html_n(f, s, (size_t)-1);
}

static void when(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, size, "%" PRId64, t);
}

/* One benchmark's chart: rows[lo..hi), its steps among `steps`. */
static void chart(FILE *f, const pb_store_history_entry *rows, size_t lo, size_t hi,
                  const pb_history_steps *steps)
{
    double mn = INFINITY, mx = -INFINITY, scale = 1;
    for (size_t i = lo; i < hi; i++) {
        mn = fmin(mn, rows[i].value);
        mx = fmax(mx, rows[i].value);
    }
    const char *unit = pb_bench_display_unit(rows[lo].unit, mx, &scale);
    double span = mx > mn ? mx - mn : fabs(mx) > 0 ? fabs(mx) : 1;
    mn -= span * 0.05;
    mx += span * 0.05;
    size_t n = hi - lo;
#define X(i)                                                                                       \
    (PAD_L +                                                                                       \
     (double)(W - PAD_L - PAD_R) * ((n > 1 ? (double)(i) : 0.5) / (n > 1 ? (double)(n - 1) : 1)))
#define Y(v) (PAD_T + (double)(H - PAD_T - PAD_B) * (1 - ((v)-mn) / (mx - mn)))
    fprintf(f, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">\n", W, H, W, H);
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", PAD_L, H - PAD_B,
            W - PAD_R, H - PAD_B);
    for (int k = 0; k <= 2; k++) {
        double v = mn + (mx - mn) * k / 2;
        fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%.1f\">%.4g ", PAD_L - 4, Y(v) + 4,
                v * scale);
        html(f, unit);
        fputs("</text>\n", f);
    }
    for (size_t s = 0; s < steps->n; s++) {
        const pb_history_step *st = &steps->steps[s];
        if (strcmp(st->benchmark, rows[lo].benchmark))
            continue;
        for (size_t i = lo; i < hi; i++)
            if (rows[i].timestamp == st->timestamp && !strcmp(rows[i].commit, st->commit)) {
                double x = (X(i - lo) + X(i - lo - (i > lo))) / 2;
                fprintf(f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"><title>",
                        st->worse ? "worse" : "better", x, PAD_T, x, H - PAD_B);
                fprintf(f, "%+.2f%% from ", st->change_pct);
                html_n(f, st->commit, 12);
                fprintf(f, " (p=%.3g)</title></line>\n", st->p_value);
                break;
            }
    }
    fputs("<polyline class=\"series\" points=\"", f);
    for (size_t i = lo; i < hi; i++)
        fprintf(f, "%.1f,%.1f ", X(i - lo), Y(rows[i].value));
    fputs("\"/>\n", f);
    for (size_t i = lo; i < hi; i++) {
        char t[32];
        when(rows[i].timestamp, t, sizeof t);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\"><title>%.4g ", X(i - lo),
                Y(rows[i].value), rows[i].value * scale);
        html(f, unit);
        fputs(" at ", f);
        html_n(f, rows[i].commit, 12);
        fprintf(f, ", %s</title></circle>\n", t);
    }
    fputs("</svg>\n", f);
#undef X
#undef Y
}

static int write_page(FILE *f, const pb_store_history_entry *rows, size_t n,
                      const pb_history_steps *steps)
{
    char now[32];
    size_t benches = 0, worse = 0;
    for (size_t i = 0; i < n; i++)
        benches += i == 0 || strcmp(rows[i].benchmark, rows[i - 1].benchmark);
    for (size_t s = 0; s < steps->n; s++)
        worse += steps->steps[s].worse;
    when((int64_t)time(NULL), now, sizeof now);
    fputs(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<title>perfbisect dashboard</title>\n<style>\n"
        "body{font:14px/1.4 sans-serif;margin:2em;color:#222}\n"
        "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;"
        "text-align:left}\n"
        ".num{text-align:right}.axis{stroke:#999}.tick{font-size:10px;text-anchor:end;fill:#555}\n"
        ".series{fill:none;stroke:#36c;stroke-width:1}circle{fill:#36c}\n"
        ".worse{stroke:#c00;stroke-width:2;stroke-dasharray:4 3}"
        ".better{stroke:#090;stroke-width:2;stroke-dasharray:4 3}\n"
        "code{font-size:12px}\n</style></head><body>\n<h1>perfbisect dashboard</h1>\n",
        f);
    fprintf(f, "<p>%zu benchmarks, %zu values; written %s UTC.</p>\n<h2>Regressions (%zu)</h2>\n",
            benches, n, now, worse);
    if (worse == 0)
        fputs("<p>None: no benchmark's series stepped the wrong way.</p>\n", f);
    else
        fputs("<table><tr><th>benchmark</th><th class=\"num\">change</th><th>last fast</th>"
              "<th>first slow</th><th class=\"num\">p</th></tr>\n",
              f);
    for (size_t s = 0; s < steps->n; s++) {
        const pb_history_step *st = &steps->steps[s];
        if (!st->worse)
            continue;
        fputs("<tr><td>", f);
        html(f, st->benchmark);
        fprintf(f, "</td><td class=\"num\">%+.2f%%</td><td><code>", st->change_pct);
        html(f, *st->previous ? st->previous : "-");
        fputs("</code></td><td><code>", f);
        html(f, *st->commit ? st->commit : "-");
        fprintf(f, "</code></td><td class=\"num\">%.3g</td></tr>\n", st->p_value);
    }
    if (worse)
        fputs("</table>\n", f);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(rows[j].benchmark, rows[i].benchmark))
            j++;
        fputs("<h2>", f);
        html(f, rows[i].benchmark);
        fprintf(f, "</h2>\n<p>%zu values</p>\n", j - i);
        chart(f, rows, i, j, steps);
        i = j;
    }
    fputs("</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}

int cmd_dashboard(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"alpha", required_argument, NULL, 'a'},
        {"min-segment", required_argument, NULL, 'm'},
        {"higher-is-better", no_argument, NULL, 'H'},
        {"branch", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *dir = NULL, *branch = NULL;
    double alpha = 0.01;
    unsigned min_segment = 5;
    int c, higher_is_better = 0, rc = PB_EXIT_USAGE;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'o':
            dir = optarg;
            break;
        case 'a':
            if (pb_cli_parse_double(TOOL, "--alpha", optarg, 1e-9, 0.5, &alpha) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'm':
            if (pb_cli_parse_uint(TOOL, "--min-segment", optarg, 2, 1000000, &min_segment) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'H':
            higher_is_better = 1;
            break;
        case 'b':
            branch = optarg;
            break;
        case 'h':
            fputs(dashboard_usage, stdout);
            return PB_EXIT_OK;
        default:
            return pb_cli_bad_option(TOOL, "dashboard", c, argv);
        }
    }
    if (optind < argc)
        return pb_cli_fail(TOOL, "dashboard: unexpected argument '%s'", argv[optind]);
    if (!dir || !*dir)
        return pb_cli_fail(TOOL, "dashboard: -o DIR is required (see --help)");

    pb_error err = PB_ERROR_INIT;
    pb_repo *repo = NULL;
    pb_store *store = NULL;
    pb_store_history_entry *rows = NULL;
    pb_history_steps steps = PB_HISTORY_STEPS_INIT;
    pb_buf path = PB_BUF_INIT;
    FILE *f = NULL;
    size_t n = 0;
    if (pb_repo_open(&repo, ".", &err) < 0) {
        repo = NULL; /* --db or $PERFBISECT_DB must say where */
        pb_error_clear(&err);
    }
    if (store_open(db, repo, 1, &store, &err) < 0 ||
        pb_store_history_query(store, NULL, &rows, &n, &err) < 0)
        goto fail;
    if (branch)
        n = pb_history_keep_branch(rows, n, branch);
    if (pb_history_steps_find(rows, n, alpha, min_segment, higher_is_better, &steps, &err) < 0)
        goto fail;
    if (pb_buf_puts(&path, dir) < 0) {
        pb_error_set(&err, PB_ENOMEM, "out of memory");
        goto fail;
    }
    /* DIR and its parents, as mkdir -p. */
    for (char *p = path.data + 1;; p++) {
        char at = *p;
        if (at != '/' && at != '\0')
            continue;
        *p = '\0';
        int made = mkdir(path.data, 0777) == 0 || errno == EEXIST;
        *p = at;
        if (!made) {
            pb_error_set_errno(&err, PB_EIO, errno, "dashboard: cannot create %s", dir);
            goto fail;
        }
        if (at == '\0')
            break;
    }
    if (pb_buf_puts(&path, "/index.html") < 0) {
        pb_error_set(&err, PB_ENOMEM, "out of memory");
        goto fail;
    }
    if (!(f = fopen(pb_buf_cstr(&path), "w"))) {
        pb_error_set_errno(&err, PB_EIO, errno, "dashboard: cannot write %s", pb_buf_cstr(&path));
        goto fail;
    }
    int wrote = write_page(f, rows, n, &steps) == 0;
    int closed = fclose(f) == 0;
    f = NULL;
    if (!wrote || !closed) {
        pb_error_set_errno(&err, PB_EIO, errno, "dashboard: cannot write %s", pb_buf_cstr(&path));
        goto fail;
    }
    fprintf(stderr, "perfbisect: dashboard: %s (%zu values)\n", pb_buf_cstr(&path), n);
    rc = PB_EXIT_OK;
    goto done;
fail:
    rc = pb_cli_fail_error(TOOL, &err);
done:
    if (f)
        fclose(f);
    pb_buf_free(&path);
    pb_history_steps_free(&steps);
    pb_store_history_free(rows, n);
    pb_store_free(store);
    pb_repo_free(repo);
    return rc;
}
