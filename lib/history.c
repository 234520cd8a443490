/*
 * history.c — CI reports into history rows; the steps of each benchmark's
 * series. Pure but for reading the reports.
 */
#include "perfbisect/history.h"
#include "perfbisect/buf.h"
#include "perfbisect/changepoint.h"
#include "perfbisect/junit.h"
#include "perfbisect/metric.h"
#include "perfbisect/stats.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reports larger than this are refused (the JSON ones are read whole). */
#define REPORT_MAX ((size_t)256 << 20)

const char *pb_history_format_name(pb_history_format f)
{
    switch (f) {
    case PB_HISTORY_JUNIT:
        return "junit";
    case PB_HISTORY_GBENCH:
        return "gbench";
    case PB_HISTORY_HYPERFINE:
        return "hyperfine";
    case PB_HISTORY_PYTEST_BENCHMARK:
        return "pytest-benchmark";
    }
    return "unknown";
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* Append one row, its strings copied: the option's value over the report's. */
static int add_row(pb_history_rows *out, const pb_history_import_options *opt, const char *bench,
                   const char *commit, const char *branch, int64_t timestamp, double value,
                   const char *unit, const char *source, pb_error *err)
{
    if (out->n == out->cap) {
        size_t c = out->cap ? 2 * out->cap : 64;
        pb_store_history_row *r = realloc(out->rows, c * sizeof(*r));
        if (!r)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        out->rows = r;
        out->cap = c;
    }
    pb_store_history_row *r = &out->rows[out->n];
    r->benchmark = dup_or_empty(bench);
    r->commit = dup_or_empty(opt->commit ? opt->commit : commit);
    r->branch = dup_or_empty(opt->branch ? opt->branch : branch);
    r->unit = dup_or_empty(unit);
    r->source = dup_or_empty(source);
    r->timestamp = opt->timestamp ? opt->timestamp : timestamp ? timestamp : opt->now;
    r->value = value;
    out->n++;
    if (!r->benchmark || !r->commit || !r->branch || !r->unit || !r->source)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    return 0;
}

void pb_history_rows_free(pb_history_rows *rows)
{
    if (!rows)
        return;
    for (size_t i = 0; i < rows->n; i++) {
        pb_store_history_row *r = &rows->rows[i];
        free((char *)r->benchmark);
        free((char *)r->commit);
        free((char *)r->branch);
        free((char *)r->unit);
        free((char *)r->source);
    }
    free(rows->rows);
    rows->rows = NULL;
    rows->n = rows->cap = 0;
}

static int64_t report_time(const char *iso)
{
    double t;
    return iso && pb_junit_iso_seconds(iso, &t) == 0 && t > 0 && t < 9e15 ? (int64_t)t : 0;
}

/* ---- JUnit ------------------------------------------------------------- */

typedef struct junit_ctx {
    pb_history_rows *out;
    const pb_history_import_options *opt;
    const char *source;
    pb_buf id;
    pb_error *err;
    int rc;
} junit_ctx;

/* Every passed attempt that says how long it took is a value of its test. */
static int junit_case(void *vctx, const pb_junit_case *c)
{
    junit_ctx *x = vctx;
    if (c->outcome != PB_OUTCOME_PASSED || !isfinite(c->time) || c->time < 0)
        return 0;
    pb_buf_clear(&x->id);
    if ((*c->classname && pb_buf_printf(&x->id, "%s::", c->classname) < 0) ||
        pb_buf_puts(&x->id, c->name) < 0) {
        x->rc = pb_error_set(x->err, PB_ENOMEM, "out of memory");
        return 1;
    }
    x->rc = add_row(x->out, x->opt, pb_buf_cstr(&x->id), c->commit, NULL, report_time(c->timestamp),
                    c->time, "s", x->source, x->err);
    return x->rc < 0;
}

static int read_junit(const char *name, const char *data, size_t len, const char *path,
                      const pb_history_import_options *opt, pb_history_rows *out, pb_error *err)
{
    junit_ctx x = {out, opt, name, PB_BUF_INIT, err, 0};
    int rc = data ? pb_junit_parse_mem(name, data, len, junit_case, &x, NULL, err)
                  : pb_junit_parse_file(path, junit_case, &x, NULL, err);
    pb_buf_free(&x.id);
    return x.rc < 0 ? x.rc : rc;
}

/* ---- JSON reports ------------------------------------------------------ */

static int gbench_rows(json_t *root, const char *name, const pb_history_import_options *opt,
                       pb_history_rows *out, pb_error *err)
{
    json_t *list = json_object_get(root, "benchmarks"), *b;
    int64_t when =
        report_time(json_string_value(json_object_get(json_object_get(root, "context"), "date")));
    size_t i;
    if (!json_is_array(list))
        return pb_error_set(err, PB_EINVAL,
                            "%s: no \"benchmarks\" array (not Google Benchmark JSON)", name);
    json_array_foreach(list, i, b)
    {
        const char *bench = json_string_value(json_object_get(b, "name"));
        const char *type = json_string_value(json_object_get(b, "run_type"));
        json_t *t = json_object_get(b, "real_time");
        double scale =
            pb_metric_time_unit_scale(json_string_value(json_object_get(b, "time_unit")));
        /* Aggregates (mean, median, stddev of the repetitions; marked by
         * run_type, or by aggregate_name before 1.5) would count the
         * repetitions twice; an errored or skipped run measured nothing. */
        if (!bench || (type && strcmp(type, "iteration") != 0) ||
            json_object_get(b, "aggregate_name") ||
            json_is_true(json_object_get(b, "error_occurred")) ||
            json_is_true(json_object_get(b, "skipped")) || !json_is_number(t) || !(scale > 0) ||
            !isfinite(json_number_value(t)))
            continue;
        int rc = add_row(out, opt, bench, NULL, NULL, when, json_number_value(t) * scale, "s", name,
                         err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int hyperfine_rows(json_t *root, const char *name, const pb_history_import_options *opt,
                          pb_history_rows *out, pb_error *err)
{
    json_t *list = json_object_get(root, "results"), *r, *t;
    size_t i, j;
    if (!json_is_array(list))
        return pb_error_set(err, PB_EINVAL, "%s: no \"results\" array (not hyperfine JSON)", name);
    json_array_foreach(list, i, r)
    {
        const char *cmd = json_string_value(json_object_get(r, "command"));
        json_t *times = json_object_get(r, "times"), *mean = json_object_get(r, "mean");
        int rc = 0;
        if (!cmd)
            continue;
        if (json_is_array(times) && json_array_size(times) > 0) {
            json_array_foreach(times, j, t)
            {
                if (json_is_number(t) && isfinite(json_number_value(t)) && rc == 0)
                    rc =
                        add_row(out, opt, cmd, NULL, NULL, 0, json_number_value(t), "s", name, err);
            }
        } else if (json_is_number(mean) && isfinite(json_number_value(mean))) {
            rc = add_row(out, opt, cmd, NULL, NULL, 0, json_number_value(mean), "s", name, err);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int pytest_rows(json_t *root, const char *name, const pb_history_import_options *opt,
                       pb_history_rows *out, pb_error *err)
{
    json_t *list = json_object_get(root, "benchmarks"), *b, *v;
    json_t *info = json_object_get(root, "commit_info");
    const char *commit = json_string_value(json_object_get(info, "id"));
    const char *branch = json_string_value(json_object_get(info, "branch"));
    int64_t when = report_time(json_string_value(json_object_get(root, "datetime")));
    size_t i, j;
    if (!json_is_array(list))
        return pb_error_set(err, PB_EINVAL,
                            "%s: no \"benchmarks\" array (not pytest-benchmark JSON)", name);
    json_array_foreach(list, i, b)
    {
        const char *bench = json_string_value(json_object_get(b, "fullname"));
        json_t *stats = json_object_get(b, "stats"), *data = json_object_get(stats, "data");
        json_t *mean = json_object_get(stats, "mean");
        int rc = 0;
        if (!bench)
            bench = json_string_value(json_object_get(b, "name"));
        if (!bench)
            continue;
        if (json_is_array(data) && json_array_size(data) > 0) {
            json_array_foreach(data, j, v)
            {
                if (json_is_number(v) && isfinite(json_number_value(v)) && rc == 0)
                    rc = add_row(out, opt, bench, commit, branch, when, json_number_value(v), "s",
                                 name, err);
            }
        } else if (json_is_number(mean) && isfinite(json_number_value(mean))) {
            rc = add_row(out, opt, bench, commit, branch, when, json_number_value(mean), "s", name,
                         err);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int read_json(pb_history_format format, const char *name, const char *data, size_t len,
                     const pb_history_import_options *opt, pb_history_rows *out, pb_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    int rc;
    if (!root)
        return pb_error_set(err, PB_EINVAL, "%s:%d:%d: %s", name, jerr.line, jerr.column,
                            jerr.text);
    if (!json_is_object(root))
        rc = pb_error_set(err, PB_EINVAL, "%s: not a %s report (no JSON object)", name,
                          pb_history_format_name(format));
    else if (format == PB_HISTORY_GBENCH)
        rc = gbench_rows(root, name, opt, out, err);
    else if (format == PB_HISTORY_HYPERFINE)
        rc = hyperfine_rows(root, name, opt, out, err);
    else
        rc = pytest_rows(root, name, opt, out, err);
    json_decref(root);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

int pb_history_read_mem(pb_history_format format, const char *name, const char *data, size_t len,
                        const pb_history_import_options *opt, pb_history_rows *out, pb_error *err)
{
    size_t before = out->n;
    /* data NULL would mean "read the file" to read_junit. */
    int rc = format == PB_HISTORY_JUNIT
                 ? read_junit(name, data ? data : "", len, NULL, opt, out, err)
                 : read_json(format, name, data, len, opt, out, err);
    if (rc == 0 && out->n == before)
        rc = pb_error_set(err, PB_EINVAL, "%s: no measured value in this %s report", name,
                          pb_history_format_name(format));
    return rc;
}

static int slurp(const char *path, char **data, size_t *len, pb_error *err)
{
    FILE *f = fopen(path, "rb");
    pb_buf b = PB_BUF_INIT;
    if (!f)
        return pb_error_set_errno(err, errno == ENOENT ? PB_ENOTFOUND : PB_EIO, errno, "%s", path);
    int rc = pb_buf_read(&b, f, REPORT_MAX);
    if (rc == PB_EINVAL)
        rc = pb_error_set(err, PB_EINVAL, "%s: larger than %zu MiB", path, REPORT_MAX >> 20);
    else if (rc == PB_ENOMEM)
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    else if (rc == PB_EIO)
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
    fclose(f);
    if (rc < 0) {
        pb_buf_free(&b);
        return rc;
    }
    *data = b.data;
    *len = b.len;
    return 0;
}

int pb_history_read(pb_history_format format, const char *path,
                    const pb_history_import_options *opt, pb_history_rows *out, pb_error *err)
{
    size_t before = out->n;
    int rc = 0;
    if (format == PB_HISTORY_JUNIT) {
        char **names = NULL;
        size_t nnames = 0;
        if ((rc = pb_junit_run_files(path, &names, &nnames, err)) < 0)
            return rc;
        for (size_t i = 0; i < nnames && rc == 0; i++)
            rc = read_junit(names[i], NULL, 0, names[i], opt, out, err);
        pb_junit_names_free(names, nnames);
        if (rc == 0 && out->n == before)
            rc = pb_error_set(err, PB_EINVAL, "%s: no passed test with a time in this JUnit run",
                              path);
        return rc;
    }
    char *data = NULL;
    size_t len = 0;
    if ((rc = slurp(path, &data, &len, err)) < 0)
        return rc;
    rc = pb_history_read_mem(format, path, data ? data : "", len, opt, out, err);
    free(data);
    return rc;
}

size_t pb_history_keep_branch(pb_store_history_entry *rows, size_t n, const char *branch)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(rows[i].branch, branch)) {
            rows[kept++] = rows[i];
            continue;
        }
        pb_store_history_entry_clear(&rows[i]);
    }
    return kept;
}

/* ---- steps ------------------------------------------------------------- */

typedef struct point {
    size_t first, last; /* rows of the point */
    double value;       /* their median */
} point;

static int add_step(pb_history_steps *out, const pb_store_history_entry *rows, const point *pts,
                    const pb_changepoint *cp, int higher_is_better, pb_error *err)
{
    if (out->n == out->cap) {
        size_t c = out->cap ? 2 * out->cap : 16;
        pb_history_step *s = realloc(out->steps, c * sizeof(*s));
        if (!s)
            return pb_error_set(err, PB_ENOMEM, "out of memory");
        out->steps = s;
        out->cap = c;
    }
    const pb_store_history_entry *now = &rows[pts[cp->index].first];
    const pb_store_history_entry *was = &rows[pts[cp->index - 1].last];
    pb_history_step *s = &out->steps[out->n++];
    s->benchmark = strdup(now->benchmark);
    s->commit = strdup(now->commit);
    s->previous = strdup(was->commit);
    s->unit = strdup(now->unit);
    s->timestamp = now->timestamp;
    s->before = cp->median_before;
    s->after = cp->median_after;
    s->change_pct = 100 * cp->change;
    s->p_value = cp->p_value;
    s->worse = higher_is_better ? cp->median_after < cp->median_before
                                : cp->median_after > cp->median_before;
    if (!s->benchmark || !s->commit || !s->previous || !s->unit)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    return 0;
}

/* The steps of rows[lo..hi), one benchmark's, in time order. */
static int series_steps(const pb_store_history_entry *rows, size_t lo, size_t hi,
                        const pb_changepoint_options *cpo, int higher_is_better, point *pts,
                        double *vals, double *scratch, pb_history_steps *out, pb_error *err)
{
    size_t np = 0;
    for (size_t i = lo; i < hi;) {
        /* One point per commit measured in a row; a row without one alone. */
        size_t j = i + 1;
        while (j < hi && *rows[i].commit && !strcmp(rows[j].commit, rows[i].commit))
            j++;
        for (size_t k = i; k < j; k++)
            scratch[k - i] = rows[k].value;
        pts[np].first = i;
        pts[np].last = j - 1;
        pts[np].value = pb_stats_median(scratch, j - i);
        vals[np] = pts[np].value;
        np++;
        i = j;
    }
    pb_changepoint_list cps = PB_CHANGEPOINT_LIST_INIT;
    int rc = pb_changepoint_detect(vals, np, cpo, &cps, err);
    for (size_t c = 0; rc == 0 && c < cps.count; c++)
        rc = add_step(out, rows, pts, &cps.points[c], higher_is_better, err);
    pb_changepoint_list_free(&cps);
    return rc;
}

int pb_history_steps_find(const pb_store_history_entry *rows, size_t n, double alpha,
                          size_t min_segment, int higher_is_better, pb_history_steps *out,
                          pb_error *err)
{
    pb_changepoint_options cpo = PB_CHANGEPOINT_OPTIONS_INIT;
    cpo.alpha = alpha;
    cpo.min_segment = min_segment;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(rows[i].value))
            return pb_error_set(err, PB_EINVAL, "history: %s has a value that is not a number",
                                rows[i].benchmark);
    point *pts = malloc((n ? n : 1) * sizeof(point));
    double *vals = malloc((n ? n : 1) * sizeof(double));
    double *scratch = malloc((n ? n : 1) * sizeof(double));
    int rc = pts && vals && scratch ? 0 : pb_error_set(err, PB_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(rows[j].benchmark, rows[i].benchmark))
            j++;
        rc = series_steps(rows, i, j, &cpo, higher_is_better, pts, vals, scratch, out, err);
        i = j;
    }
    free(pts);
    free(vals);
    free(scratch);
    return rc;
}

void pb_history_steps_free(pb_history_steps *steps)
{
    if (!steps)
        return;
    for (size_t i = 0; i < steps->n; i++) {
        free(steps->steps[i].benchmark);
        free(steps->steps[i].commit);
        free(steps->steps[i].previous);
        free(steps->steps[i].unit);
    }
    free(steps->steps);
    steps->steps = NULL;
    steps->n = steps->cap = 0;
}
