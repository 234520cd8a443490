#include "perfbisect/metric.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SPEC_MAX 4096
#define REGEX_MAX 1024

struct pb_metric {
    pb_metric_kind kind;
    char *spec; /* canonical text */
    char *name; /* gbench/pytest benchmark name, hyperfine command, or regex pattern */
    char *file; /* @FILE, or NULL for stdout */
    regex_t re;
    int re_ok;
};

static const char *kind_label(pb_metric_kind kind)
{
    switch (kind) {
    case PB_METRIC_WALL:
        return "wall";
    case PB_METRIC_CPU:
        return "cpu";
    case PB_METRIC_MAXRSS:
        return "maxrss";
    case PB_METRIC_REGEX:
        return "regex";
    case PB_METRIC_GBENCH:
        return "gbench";
    case PB_METRIC_HYPERFINE:
        return "hyperfine";
    case PB_METRIC_PYTEST_BENCHMARK:
        return "pytest-benchmark";
    }
    return "?";
}

/* Split "NAME@FILE" at the last '@' into m->name / m->file. */
static int split_file(pb_metric *m, const char *rest, const char *spec, pb_error *err)
{
    const char *at = strrchr(rest, '@');
    size_t nlen = at ? (size_t)(at - rest) : strlen(rest);
    if (at && !at[1])
        return pb_error_set(err, PB_EINVAL, "metric '%s': empty file name after '@'", spec);
    m->name = strndup(rest, nlen);
    if (!m->name || (at && !(m->file = strdup(at + 1))))
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    return 0;
}

/*
 * glibc's regcomp can take gigabytes on stacked quantifiers ("a+++...",
 * "(x)*{9}"); none of them means anything useful, so they are refused.
 * Returns 1 when `p` has a quantifier directly after another one.
 */
static int stacked_quantifiers(const char *p)
{
    int after_quant = 0, in_bracket = 0;
    for (; *p; p++) {
        if (in_bracket) {
            if (*p == ']')
                in_bracket = 0;
            continue;
        }
        int quant = *p == '*' || *p == '+' || *p == '?' || *p == '{';
        if (quant && after_quant)
            return 1;
        if (*p == '{')
            while (p[1] && *p != '}')
                p++;
        if (*p == '\\' && p[1]) {
            p++;
            after_quant = 0;
            continue;
        }
        if (*p == '[') {
            in_bracket = 1;
            if (p[1] == '^')
                p++;
            if (p[1] == ']')
                p++;
        }
        after_quant = quant;
    }
    return 0;
}

int pb_metric_parse(const char *spec, pb_metric **out, pb_error *err)
{
    int rc = 0;
    pb_metric *m = NULL;
    *out = NULL;
    if (!spec || !*spec) {
        rc = pb_error_set(err, PB_EINVAL,
                          "empty metric (expected wall, cpu, maxrss, "
                          "regex:PATTERN, gbench:NAME, hyperfine or "
                          "pytest-benchmark:NAME)");
        goto done;
    }
    if (strlen(spec) > SPEC_MAX) {
        rc = pb_error_set(err, PB_EINVAL, "metric spec longer than %d bytes", SPEC_MAX);
        goto done;
    }
    if (!(m = calloc(1, sizeof(*m))) || !(m->spec = strdup(spec))) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if (!strcmp(spec, "wall")) {
        m->kind = PB_METRIC_WALL;
    } else if (!strcmp(spec, "cpu")) {
        m->kind = PB_METRIC_CPU;
    } else if (!strcmp(spec, "maxrss")) {
        m->kind = PB_METRIC_MAXRSS;
    } else if (!strncmp(spec, "regex:", 6)) {
        m->kind = PB_METRIC_REGEX;
        if (!spec[6]) {
            rc = pb_error_set(err, PB_EINVAL, "metric 'regex:': empty pattern");
            goto done;
        }
        if (!(m->name = strdup(spec + 6))) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
        if (strlen(m->name) > REGEX_MAX || stacked_quantifiers(m->name)) {
            rc = pb_error_set(err, PB_EINVAL,
                              "metric '%.100s': pattern too long (over %d bytes) or with "
                              "stacked quantifiers",
                              spec, REGEX_MAX);
            goto done;
        }
        /* REG_NEWLINE: as grep, ^ and $ match at each line and . stays in it. */
        int rrc = regcomp(&m->re, m->name, REG_EXTENDED | REG_NEWLINE);
        if (rrc != 0) {
            char msg[200];
            regerror(rrc, &m->re, msg, sizeof(msg));
            rc = pb_error_set(err, PB_EINVAL, "metric '%s': bad regular expression: %s", spec, msg);
            goto done;
        }
        m->re_ok = 1;
        if (m->re.re_nsub < 1) {
            rc = pb_error_set(err, PB_EINVAL,
                              "metric '%s': the pattern needs a capture group around the "
                              "number, e.g. 'regex:time: ([0-9.]+)'",
                              spec);
            goto done;
        }
    } else if (!strncmp(spec, "gbench:", 7) || !strncmp(spec, "pytest-benchmark:", 17)) {
        int gb = spec[0] == 'g';
        m->kind = gb ? PB_METRIC_GBENCH : PB_METRIC_PYTEST_BENCHMARK;
        if ((rc = split_file(m, spec + (gb ? 7 : 17), spec, err)) < 0)
            goto done;
        if (!m->name[0]) {
            rc = pb_error_set(err, PB_EINVAL, "metric '%s': missing benchmark name", spec);
            goto done;
        }
    } else if (!strcmp(spec, "hyperfine") || !strncmp(spec, "hyperfine:", 10) ||
               !strncmp(spec, "hyperfine@", 10)) {
        m->kind = PB_METRIC_HYPERFINE;
        if ((rc = split_file(m, spec + (spec[9] == ':' ? 10 : 9), spec, err)) < 0)
            goto done;
    } else {
        rc = pb_error_set(err, PB_EINVAL,
                          "unknown metric '%.100s' (expected wall, cpu, maxrss, regex:PATTERN, "
                          "gbench:NAME, hyperfine or pytest-benchmark:NAME)",
                          spec);
        goto done;
    }
    *out = m;
    m = NULL;
done:
    pb_metric_free(m);
    return rc;
}

void pb_metric_free(pb_metric *m)
{
    if (!m)
        return;
    if (m->re_ok)
        regfree(&m->re);
    free(m->spec);
    free(m->name);
    free(m->file);
    free(m);
}

pb_metric_kind pb_metric_get_kind(const pb_metric *m)
{
    return m->kind;
}

const char *pb_metric_spec(const pb_metric *m)
{
    return m->spec;
}

const char *pb_metric_unit(const pb_metric *m)
{
    switch (m->kind) {
    case PB_METRIC_MAXRSS:
        return "KiB";
    case PB_METRIC_REGEX:
        return "";
    default:
        return "s";
    }
}

int pb_metric_needs_output(const pb_metric *m)
{
    return m->kind == PB_METRIC_REGEX ||
           ((m->kind == PB_METRIC_GBENCH || m->kind == PB_METRIC_HYPERFINE ||
             m->kind == PB_METRIC_PYTEST_BENCHMARK) &&
            !m->file);
}

static int extract_regex(const pb_metric *m, const char *text, size_t len, double *value,
                         pb_error *err)
{
    int rc = 0;
    regmatch_t pm[2];
    /* A NUL-terminated copy: regexec (and sanitizers' view of it) reads to
     * the NUL even with REG_STARTEND, and `text` need not have one. */
    char *copy = malloc(len + 1);
    if (!copy)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    pm[0].rm_so = 0;
    pm[0].rm_eo = (regoff_t)len;
    rc = regexec(&m->re, copy, 2, pm, REG_STARTEND);
    free(copy);
    if (rc != 0)
        return pb_error_set(err, PB_EINVAL,
                            "regex '%.100s' matched nothing in the output (%zu bytes)", m->name,
                            len);
    if (pm[1].rm_so < 0)
        return pb_error_set(err, PB_EINVAL, "regex '%.100s' matched but its group 1 did not",
                            m->name);
    size_t glen = (size_t)(pm[1].rm_eo - pm[1].rm_so);
    char num[80];
    int cut = glen >= sizeof(num);
    if (cut)
        glen = 40;
    memcpy(num, text + pm[1].rm_so, glen);
    num[glen] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(num, &end);
    /* "(.*)" takes the line's end too: trailing blanks are no garbage. */
    while (end && *end && isspace((unsigned char)*end))
        end++;
    if (cut || end == num || !end || *end || errno == ERANGE || !isfinite(v)) {
        for (char *c = num; *c; c++)
            if (!isprint((unsigned char)*c))
                *c = '?'; /* the error stays on one line */
        return pb_error_set(err, PB_EINVAL, "regex '%.100s' matched '%s%s', not a number", m->name,
                            num, cut ? "..." : "");
    }
    *value = v;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double pb_metric_time_unit_scale(const char *unit)
{
    if (!unit || !strcmp(unit, "ns"))
        return 1e-9;
    if (!strcmp(unit, "us"))
        return 1e-6;
    if (!strcmp(unit, "ms"))
        return 1e-3;
    if (!strcmp(unit, "s"))
        return 1.0;
    return 0;
}

/* Append "a, b, c" (up to 5) of the string `key` of each object in `arr`. */
static void list_names(json_t *arr, const char *key, char *buf, size_t size)
{
    size_t i, used = 0;
    json_t *item;
    buf[0] = '\0';
    json_array_foreach(arr, i, item)
    {
        const char *s = json_string_value(json_object_get(item, key));
        if (!s)
            continue;
        if (i == 5) {
            snprintf(buf + used, size - used, ", ...");
            break;
        }
        int n = snprintf(buf + used, size - used, "%s%.40s", used ? ", " : "", s);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

static int extract_gbench(const pb_metric *m, json_t *root, double *value, pb_error *err)
{
    int rc = 0;
    json_t *arr = json_object_get(root, "benchmarks"), *item;
    double *vals = NULL;
    size_t i, n = 0;
    char names[300];
    if (!json_is_array(arr)) {
        rc = pb_error_set(err, PB_EINVAL, "not Google Benchmark JSON (no \"benchmarks\" array)");
        goto done;
    }
    if (!(vals = calloc(json_array_size(arr) + 1, sizeof(*vals)))) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (!name || strcmp(name, m->name))
            continue;
        if (json_is_true(json_object_get(item, "error_occurred"))) {
            const char *msg = json_string_value(json_object_get(item, "error_message"));
            rc = pb_error_set(err, PB_EINVAL, "benchmark '%.100s' reported an error: %.200s",
                              m->name, msg ? msg : "(no message)");
            goto done;
        }
        if (json_is_true(json_object_get(item, "skipped"))) {
            /* SkipWithMessage (Google Benchmark 1.8+): real_time 0, nothing measured. */
            const char *msg = json_string_value(json_object_get(item, "skip_message"));
            rc = pb_error_set(err, PB_EINVAL, "benchmark '%.100s' was skipped: %.200s", m->name,
                              msg ? msg : "(no message)");
            goto done;
        }
        json_t *t = json_object_get(item, "real_time");
        double scale =
            pb_metric_time_unit_scale(json_string_value(json_object_get(item, "time_unit")));
        if (!json_is_number(t) || scale == 0 || !isfinite(json_number_value(t))) {
            rc = pb_error_set(err, PB_EINVAL,
                              "benchmark '%.100s' has no numeric real_time with a known time_unit",
                              m->name);
            goto done;
        }
        vals[n++] = json_number_value(t) * scale;
    }
    if (n == 0) {
        list_names(arr, "name", names, sizeof(names));
        rc = pb_error_set(err, PB_EINVAL,
                          "no benchmark named '%.100s' in the Google Benchmark JSON "
                          "(found: %s)",
                          m->name, names[0] ? names : "none");
        goto done;
    }
    /* Repetitions: their median stands for the run. */
    qsort(vals, n, sizeof(*vals), cmp_double);
    *value = n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2;
done:
    free(vals);
    return rc;
}

static int extract_hyperfine(const pb_metric *m, json_t *root, double *value, pb_error *err)
{
    json_t *arr = json_object_get(root, "results"), *item, *found = NULL;
    size_t i;
    char names[300];
    if (!json_is_array(arr))
        return pb_error_set(err, PB_EINVAL, "not hyperfine JSON (no \"results\" array)");
    json_array_foreach(arr, i, item)
    {
        const char *cmd = json_string_value(json_object_get(item, "command"));
        if (!m->name[0] || (cmd && !strcmp(cmd, m->name))) {
            found = item;
            break;
        }
    }
    if (!found) {
        list_names(arr, "command", names, sizeof(names));
        return pb_error_set(err, PB_EINVAL, "no hyperfine result for command '%.100s' (found: %s)",
                            m->name, names[0] ? names : "none");
    }
    json_t *mean = json_object_get(found, "mean");
    if (!json_is_number(mean) || !isfinite(json_number_value(mean)))
        return pb_error_set(err, PB_EINVAL, "hyperfine result has no numeric \"mean\"");
    *value = json_number_value(mean);
    return 0;
}

static int extract_pytest(const pb_metric *m, json_t *root, double *value, pb_error *err)
{
    json_t *arr = json_object_get(root, "benchmarks"), *item;
    size_t i;
    char names[300];
    if (!json_is_array(arr))
        return pb_error_set(err, PB_EINVAL, "not pytest-benchmark JSON (no \"benchmarks\" array)");
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *full = json_string_value(json_object_get(item, "fullname"));
        if ((name && !strcmp(name, m->name)) || (full && !strcmp(full, m->name))) {
            json_t *mean = json_object_get(json_object_get(item, "stats"), "mean");
            if (!json_is_number(mean) || !isfinite(json_number_value(mean)))
                return pb_error_set(err, PB_EINVAL, "benchmark '%.100s' has no numeric stats.mean",
                                    m->name);
            *value = json_number_value(mean);
            return 0;
        }
    }
    list_names(arr, "name", names, sizeof(names));
    return pb_error_set(err, PB_EINVAL,
                        "no benchmark named '%.100s' in the pytest-benchmark JSON "
                        "(found: %s)",
                        m->name, names[0] ? names : "none");
}

int pb_metric_extract_text(const pb_metric *m, const char *text, size_t len, double *value,
                           pb_error *err)
{
    int rc = 0;
    json_t *root = NULL;
    json_error_t jerr;
    if (len > PB_METRIC_JSON_MAX) {
        rc = pb_error_set(err, PB_EINVAL, "%s: input larger than %zu bytes", kind_label(m->kind),
                          PB_METRIC_JSON_MAX);
        goto done;
    }
    if (m->kind == PB_METRIC_REGEX) {
        rc = extract_regex(m, text, len, value, err);
        goto done;
    }
    if (m->kind != PB_METRIC_GBENCH && m->kind != PB_METRIC_HYPERFINE &&
        m->kind != PB_METRIC_PYTEST_BENCHMARK) {
        rc = pb_error_set(err, PB_EINVAL, "metric '%s' is not read from text", m->spec);
        goto done;
    }
    /* Tolerate lines printed before the JSON object and anything after it. */
    const char *brace = memchr(text, '{', len);
    if (!brace) {
        rc = pb_error_set(err, PB_EINVAL, "%s: no JSON object in the %s", kind_label(m->kind),
                          m->file ? m->file : "output");
        goto done;
    }
    root = json_loadb(brace, len - (size_t)(brace - text), JSON_DISABLE_EOF_CHECK, &jerr);
    if (!root || !json_is_object(root)) {
        rc = pb_error_set(err, PB_EINVAL, "%s: invalid JSON in the %s (line %d: %.100s)",
                          kind_label(m->kind), m->file ? m->file : "output", jerr.line,
                          root ? "not an object" : jerr.text);
        goto done;
    }
    if (m->kind == PB_METRIC_GBENCH)
        rc = extract_gbench(m, root, value, err);
    else if (m->kind == PB_METRIC_HYPERFINE)
        rc = extract_hyperfine(m, root, value, err);
    else
        rc = extract_pytest(m, root, value, err);
done:
    json_decref(root);
    return rc;
}

/* Read m->file (relative to the run's cwd) if this run wrote it. */
static int read_result_file(const pb_metric *m, const pb_exec_result *r, pb_buf *out, pb_error *err)
{
    int rc = 0;
    char *path = NULL;
    FILE *f = NULL;
    struct stat st;
    if (m->file[0] != '/' && r->cwd) {
        if (asprintf(&path, "%s/%s", r->cwd, m->file) < 0) {
            path = NULL;
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
    } else if (!(path = strdup(m->file))) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if (!(f = fopen(path, "rb")) || fstat(fileno(f), &st) < 0) {
        rc = pb_error_set_errno(err, PB_EINVAL, errno, "%s: the run did not write %s",
                                kind_label(m->kind), m->file);
        goto done;
    }
    long long mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (r->started_ns && mtime < r->started_ns) {
        rc = pb_error_set(err, PB_EINVAL, "%s: %s is older than the run (the run did not write it)",
                          kind_label(m->kind), m->file);
        goto done;
    }
    if (st.st_size < 0 || (size_t)st.st_size > PB_METRIC_JSON_MAX) {
        rc = pb_error_set(err, PB_EINVAL, "%s: %s is larger than %zu bytes", kind_label(m->kind),
                          m->file, PB_METRIC_JSON_MAX);
        goto done;
    }
    rc = pb_buf_read(out, f, PB_METRIC_JSON_MAX);
    if (rc == PB_EINVAL)
        rc = pb_error_set(err, PB_EINVAL, "%s: %s is larger than %zu bytes", kind_label(m->kind),
                          m->file, PB_METRIC_JSON_MAX);
    else if (rc == PB_ENOMEM)
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    else if (rc == PB_EIO)
        rc = pb_error_set_errno(err, PB_EIO, errno, "reading %s", path);
done:
    if (f)
        fclose(f);
    free(path);
    return rc;
}

int pb_metric_extract(const pb_metric *m, const pb_exec_result *r, double *value, pb_error *err)
{
    int rc = 0;
    pb_buf text = PB_BUF_INIT;
    if (!pb_exec_result_ok(r)) {
        if ((rc = pb_exec_result_describe(r, &text)) < 0)
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        else
            rc = pb_error_set(err, PB_EINVAL, "%s", pb_buf_cstr(&text));
        goto done;
    }
    switch (m->kind) {
    case PB_METRIC_WALL:
        *value = r->wall_sec;
        break;
    case PB_METRIC_CPU:
        *value = r->user_sec + r->sys_sec;
        break;
    case PB_METRIC_MAXRSS:
        *value = (double)r->maxrss_kb;
        break;
    default:
        if (m->file) {
            if ((rc = read_result_file(m, r, &text, err)) < 0)
                goto done;
            rc = pb_metric_extract_text(m, pb_buf_cstr(&text), text.len, value, err);
        } else if (r->output_truncated && m->kind != PB_METRIC_REGEX) {
            rc = pb_error_set(err, PB_EINVAL, "%s: output larger than the capture limit",
                              kind_label(m->kind));
        } else {
            rc = pb_metric_extract_text(m, pb_buf_cstr(&r->output), r->output.len, value, err);
            if (rc == PB_EINVAL && r->output_truncated) /* a number printed late is not seen */
                rc = pb_error_set(err, PB_EINVAL,
                                  "%s; only the first %zu MiB of the output are kept",
                                  pb_error_message(err), PB_EXEC_CAPTURE_MAX >> 20);
        }
        break;
    }
done:
    pb_buf_free(&text);
    return rc;
}
