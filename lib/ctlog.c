/*
 * ctlog.c — pytest console logs. Lines are read one at a time (capped); what
 * the log says about each test is gathered in a table keyed by nodeid and
 * reported at the end, because a test's result, rerun count, message and
 * duration are spread over the whole log.
 */
#include "perfbisect/ctlog.h"
#include "perfbisect/buf.h"
#include "triage_strmap.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK (1u << 20)

typedef struct entry {
    unsigned reruns_verbose;
    unsigned reruns_summary;
    unsigned char failed, error, passed, skipped;
    double duration;
    char *message;
} entry;

typedef struct log_state {
    const char *name;
    pb_junit_info *info;
    pb_strmap tests;
    entry *entries;
    size_t cap;
    pb_strmap sections;  /* "____ name ____" headers */
    char **section_msgs; /* per section: first E line (preferring one with a number) */
    size_t section_cap;
    long current_section; /* -1 outside */
    pb_buf line;
    int line_cut;
    int code;
    char reason[200];
} log_state;

static char *dup_capped(const char *s, size_t n)
{
    if (n > PB_JUNIT_TEXT_MAX)
        n = PB_JUNIT_TEXT_MAX;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void fail(log_state *st, int code, const char *msg)
{
    if (!st->code) {
        st->code = code;
        snprintf(st->reason, sizeof(st->reason), "%s", msg);
    }
}

static entry *get_entry(log_state *st, const char *nodeid, size_t len)
{
    size_t i;
    int added;
    if (st->tests.n >= PB_CTLOG_TESTS_MAX) {
        size_t j;
        if (pb_strmap_find(&st->tests, nodeid, len, 0, &j, NULL) == 0)
            return &st->entries[j];
        fail(st, PB_EINVAL, "too many distinct tests in one log");
        return NULL;
    }
    if (pb_strmap_find(&st->tests, nodeid, len, 1, &i, &added) < 0) {
        fail(st, PB_ENOMEM, "out of memory");
        return NULL;
    }
    if (added) {
        if (i >= st->cap) {
            size_t cap = st->cap ? st->cap * 2 : 256;
            entry *e = realloc(st->entries, cap * sizeof(*e));
            if (!e) {
                fail(st, PB_ENOMEM, "out of memory");
                return NULL;
            }
            st->entries = e;
            st->cap = cap;
        }
        memset(&st->entries[i], 0, sizeof(entry));
        st->entries[i].duration = NAN;
    }
    return &st->entries[i];
}

static int has_number_with_unit(const char *s)
{
    double v;
    return pb_junit_message_numbers(s, &v, NULL);
}

static void set_section(log_state *st, const char *name, size_t len)
{
    size_t i;
    int added;
    if (pb_strmap_find(&st->sections, name, len, 1, &i, &added) < 0) {
        fail(st, PB_ENOMEM, "out of memory");
        return;
    }
    if (added) {
        if (i >= st->section_cap) {
            size_t cap = st->section_cap ? st->section_cap * 2 : 64;
            char **m = realloc(st->section_msgs, cap * sizeof(*m));
            if (!m) {
                fail(st, PB_ENOMEM, "out of memory");
                return;
            }
            st->section_msgs = m;
            st->section_cap = cap;
        }
        st->section_msgs[i] = NULL;
    }
    st->current_section = (long)i;
}

static int status_word(const char *t, size_t n)
{
    static const char *words[] = {"PASSED", "FAILED", "ERROR", "RERUN", "SKIPPED"};
    for (int i = 0; i < 5; i++)
        if (strlen(words[i]) == n && !strncmp(t, words[i], n))
            return i;
    return -1;
}

static void record_status(log_state *st, int status, const char *nodeid, size_t len, int summary,
                          const char *msg)
{
    entry *e = get_entry(st, nodeid, len);
    if (!e)
        return;
    switch (status) {
    case 0:
        e->passed = 1;
        break;
    case 1:
        e->failed = 1;
        break;
    case 2:
        e->error = 1;
        break;
    case 3:
        if (summary)
            e->reruns_summary++;
        else
            e->reruns_verbose++;
        break;
    case 4:
        e->skipped = 1;
        break;
    }
    if (msg && *msg && !e->message && (status == 1 || status == 2)) {
        e->message = dup_capped(msg, strlen(msg));
        if (!e->message)
            fail(st, PB_ENOMEM, "out of memory");
    }
}

static void copy_value(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n]) && n < cap - 1)
        n++;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* "key: value" or "KEY=value" at the start of the line. */
static const char *keyed(const char *line, const char *key)
{
    size_t n = strlen(key);
    if (strncasecmp(line, key, n))
        return NULL;
    const char *p = line + n;
    while (*p == ' ')
        p++;
    if (*p != ':' && *p != '=')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return *p ? p : NULL;
}

/*
 * What a terminal would show of the line, without what CI runners put in
 * front of it: the text after the last carriage return (a progress line
 * overwritten), then any of GitHub's "2024-05-01T10:00:00.1234567Z ",
 * Jenkins' "[2024-05-01T10:00:00.123Z] " or "10:00:01  " and "[Pipeline] ".
 */
static char *strip_prefixes(char *s)
{
    char *cr = strrchr(s, '\r');
    if (cr)
        s = cr + 1;
    for (;;) {
        const char *d = s[0] == '[' ? s + 1 : s;
        if (isdigit((unsigned char)d[0]) && strlen(d) > 19 && d[4] == '-' && d[7] == '-' &&
            d[10] == 'T') {
            char *end = strchr(s, s[0] == '[' ? ']' : ' ');
            if (!end)
                break;
            s = end + 1;
        } else if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == ':' &&
                   isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) && s[5] == ':' &&
                   isdigit((unsigned char)s[6]) && isdigit((unsigned char)s[7]) && s[8] == ' ') {
            s += 8;
        } else if (!strncmp(s, "[Pipeline] ", 11)) {
            s += 10;
        } else {
            break;
        }
        while (*s == ' ' || *s == '\t')
            s++;
    }
    return s;
}

static void handle_line(log_state *st, char *line)
{
    /* strip colour escapes and a CI timestamp prefix */
    char *w = line;
    for (char *r = line; *r;) {
        if (*r == '\x1b' && r[1] == '[') {
            r += 2;
            while (*r && !isalpha((unsigned char)*r))
                r++;
            if (*r)
                r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
    while (w > line && (w[-1] == '\r' || w[-1] == ' ' || w[-1] == '\n'))
        *--w = '\0';
    char *s = strip_prefixes(line);

    const char *v;
    if (st->info) {
        if ((v = keyed(s, "commit")) || (v = keyed(s, "GIT_COMMIT")) ||
            (v = keyed(s, "GITHUB_SHA")) || (v = keyed(s, "CI_COMMIT_SHA"))) {
            if (!st->info->commit[0])
                copy_value(st->info->commit, sizeof(st->info->commit), v);
            return;
        }
        if ((v = keyed(s, "split")) || (v = keyed(s, "shard"))) {
            if (!st->info->split[0])
                copy_value(st->info->split, sizeof(st->info->split), v);
            return;
        }
        if ((v = keyed(s, "timestamp"))) {
            if (!st->info->timestamp[0])
                copy_value(st->info->timestamp, sizeof(st->info->timestamp), v);
            return;
        }
    }
    /* "E   AssertionError: ..." under a failure header */
    if (s[0] == 'E' && (s[1] == ' ' || s[1] == '\0')) {
        if (st->current_section >= 0) {
            char **m = &st->section_msgs[st->current_section];
            const char *text = s + 1;
            while (*text == ' ')
                text++;
            if (*text && (!*m || (!has_number_with_unit(*m) && has_number_with_unit(text)))) {
                free(*m);
                *m = dup_capped(text, strlen(text));
                if (!*m)
                    fail(st, PB_ENOMEM, "out of memory");
            }
        }
        return;
    }
    size_t len = strlen(s);
    /* "_____ test_name _____" */
    if (len > 8 && !strncmp(s, "___", 3) && !strcmp(s + len - 3, "___")) {
        const char *a = s, *b = s + len;
        while (*a == '_')
            a++;
        while (b > a && b[-1] == '_')
            b--;
        while (*a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (b > a)
            set_section(st, a, (size_t)(b - a));
        return;
    }
    if (s[0] == '=' && s[1] == '=') { /* "==== short test summary info ====" etc. */
        st->current_section = -1;
        return;
    }
    /* durations: "0.52s call     tests/x.py::test_a" */
    {
        const char *p = s;
        while (*p == ' ')
            p++;
        char *end = NULL;
        double d = strtod(p, &end);
        if (end != p && isdigit((unsigned char)*p) && *end == 's' && end[1] == ' ') {
            const char *q = end + 1;
            while (*q == ' ')
                q++;
            if (!strncmp(q, "call", 4) && q[4] == ' ') {
                q += 4;
                while (*q == ' ')
                    q++;
                size_t n = strcspn(q, " \t");
                if (n && memmem(q, n, "::", 2)) {
                    entry *e = get_entry(st, q, n);
                    if (e && isfinite(d))
                        e->duration = d;
                }
                return;
            }
        }
    }
    /* summary "FAILED nodeid - message" or verbose "nodeid PASSED [ 10%]" */
    const char *tok[8];
    size_t toklen[8];
    size_t ntok = 0;
    for (const char *p = s; *p && ntok < 8;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        tok[ntok] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        toklen[ntok] = (size_t)(p - tok[ntok]);
        ntok++;
    }
    if (ntok >= 2) {
        int status = status_word(tok[0], toklen[0]);
        if (status >= 0 && memmem(tok[1], toklen[1], "::", 2)) {
            const char *msg = strstr(tok[1] + toklen[1], " - ");
            record_status(st, status, tok[1], toklen[1], 1, msg ? msg + 3 : NULL);
            return;
        }
        long node = -1;
        status = -1;
        for (size_t i = 0; i < ntok; i++) {
            if (node < 0 && memmem(tok[i], toklen[i], "::", 2))
                node = (long)i;
            else if (status < 0)
                status = status_word(tok[i], toklen[i]);
        }
        if (node >= 0 && status >= 0)
            record_status(st, status, tok[node], toklen[node], 0, NULL);
    }
}

static void feed(log_state *st, const char *data, size_t len)
{
    while (len && !st->code) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        if (!st->line_cut) {
            size_t room = PB_CTLOG_LINE_MAX - st->line.len;
            size_t take = n < room ? n : room;
            if (pb_buf_put(&st->line, data, take) < 0) {
                fail(st, PB_ENOMEM, "out of memory");
                return;
            }
            if (take < n)
                st->line_cut = 1;
        }
        if (!nl)
            return;
        if (memchr(pb_buf_cstr(&st->line), '\0', st->line.len)) {
            fail(st, PB_EINVAL, "binary data (NUL bytes): not a console log");
            return;
        }
        handle_line(st, st->line.data ? st->line.data : (char *)"");
        pb_buf_clear(&st->line);
        st->line_cut = 0;
        data += n + 1;
        len -= n + 1;
    }
}

int pb_ctlog_nodeid_split(const char *nodeid, char *classname, char *name, size_t cap,
                          pb_error *err)
{
    const char *sep = strstr(nodeid, "::");
    if (!sep || cap == 0)
        return pb_error_set(err, PB_EINVAL, "'%s' is not a pytest node id", nodeid);
    /* the name is what follows the last "::" before any parameter list */
    const char *params = strchr(nodeid, '[');
    const char *last = sep;
    for (const char *p = sep; (p = strstr(p + 2, "::")) && (!params || p < params);)
        last = p;
    pb_buf c = PB_BUF_INIT;
    int rc = 0;
    size_t pathlen = (size_t)(sep - nodeid);
    if (pathlen > 3 && !strncmp(sep - 3, ".py", 3))
        pathlen -= 3;
    for (size_t i = 0; i < pathlen && rc == 0; i++)
        rc = pb_buf_put(&c, nodeid[i] == '/' || nodeid[i] == '\\' ? "." : nodeid + i, 1);
    for (const char *p = sep; p < last && rc == 0;) {
        const char *next = strstr(p + 2, "::");
        rc = pb_buf_puts(&c, ".");
        if (rc == 0)
            rc = pb_buf_put(&c, p + 2, (size_t)(next - p - 2));
        p = next;
    }
    if (rc < 0) {
        pb_buf_free(&c);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    snprintf(classname, cap, "%s", pb_buf_cstr(&c));
    snprintf(name, cap, "%s", last + 2);
    pb_buf_free(&c);
    return 0;
}

static const char *section_message(log_state *st, const char *nodeid)
{
    /* pytest's header is the test name, "Class.test" inside a class */
    const char *sep = strstr(nodeid, "::");
    char key[PB_JUNIT_TEXT_MAX + 1];
    size_t j = 0, idx;
    if (!sep)
        return NULL;
    for (const char *p = sep + 2; *p && j < sizeof(key) - 1; p++) {
        if (p[0] == ':' && p[1] == ':') {
            key[j++] = '.';
            p++;
        } else
            key[j++] = *p;
    }
    key[j] = '\0';
    if (pb_strmap_find(&st->sections, key, j, 0, &idx, NULL) == 0)
        return st->section_msgs[idx];
    return NULL;
}

static int emit_all(log_state *st, pb_junit_case_fn fn, void *ctx)
{
    char classname[PB_JUNIT_TEXT_MAX + 1], name[PB_JUNIT_TEXT_MAX + 1];
    for (size_t i = 0; i < st->tests.n; i++) {
        const entry *e = &st->entries[i];
        const char *nodeid = pb_strmap_key(&st->tests, i);
        if (pb_ctlog_nodeid_split(nodeid, classname, name, sizeof(classname), NULL) < 0)
            continue;
        unsigned reruns =
            e->reruns_verbose > e->reruns_summary ? e->reruns_verbose : e->reruns_summary;
        if (reruns > PB_JUNIT_ATTEMPTS_MAX)
            reruns = PB_JUNIT_ATTEMPTS_MAX;
        const char *smsg = section_message(st, nodeid);
        pb_junit_case c;
        memset(&c, 0, sizeof(c));
        c.classname = classname;
        c.name = name;
        c.attempts = reruns + 1;
        c.time = e->duration;
        c.commit = st->info && st->info->commit[0] ? st->info->commit : NULL;
        c.split = st->info && st->info->split[0] ? st->info->split : NULL;
        c.timestamp = st->info && st->info->timestamp[0] ? st->info->timestamp : NULL;
        if (st->info)
            st->info->testcases++;
        for (unsigned a = 0; a <= reruns; a++) {
            c.attempt = a;
            if (a < reruns) {
                c.outcome = PB_OUTCOME_FAILED;
                c.message = smsg && !(e->failed || e->error) ? smsg : "";
                c.time = NAN;
            } else {
                c.time = e->duration;
                c.outcome = e->failed    ? PB_OUTCOME_FAILED
                            : e->error   ? PB_OUTCOME_ERROR
                            : e->skipped ? PB_OUTCOME_SKIPPED
                                         : PB_OUTCOME_PASSED;
                c.message = NULL;
                if (c.outcome == PB_OUTCOME_FAILED || c.outcome == PB_OUTCOME_ERROR)
                    c.message = e->message ? e->message : smsg ? smsg : "";
            }
            if (fn && fn(ctx, &c))
                return PB_EINTR;
        }
    }
    return 0;
}

static void teardown(log_state *st)
{
    for (size_t i = 0; i < st->tests.n; i++)
        free(st->entries[i].message);
    free(st->entries);
    for (size_t i = 0; i < st->sections.n; i++)
        free(st->section_msgs[i]);
    free(st->section_msgs);
    pb_strmap_free(&st->tests);
    pb_strmap_free(&st->sections);
    pb_buf_free(&st->line);
}

static void setup(log_state *st, const char *name, pb_junit_info *info)
{
    memset(st, 0, sizeof(*st));
    st->name = name;
    st->info = info;
    st->current_section = -1;
    if (info)
        memset(info, 0, sizeof(*info));
}

static int finish(log_state *st, pb_junit_case_fn fn, void *ctx, pb_error *err)
{
    int rc;
    if (!st->code && st->line.len) {
        feed(st, "\n", 1);
    }
    if (st->code)
        return pb_error_set(err, st->code, "%s: %s", st->name, st->reason);
    rc = emit_all(st, fn, ctx);
    if (rc < 0)
        return pb_error_set(err, rc, "%s: stopped by the caller", st->name);
    return 0;
}

int pb_ctlog_parse_mem(const char *name, const char *data, size_t len, pb_junit_case_fn fn,
                       void *ctx, pb_junit_info *info, pb_error *err)
{
    log_state st;
    setup(&st, name, info);
    feed(&st, data, len);
    if (info)
        info->bytes = len;
    int rc = finish(&st, fn, ctx, err);
    teardown(&st);
    return rc;
}

int pb_ctlog_parse_file(const char *path, pb_junit_case_fn fn, void *ctx, pb_junit_info *info,
                        pb_error *err)
{
    log_state st;
    int rc = 0;
    char *buf = NULL;
    int fd = -1;
    setup(&st, path, info);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
        goto done;
    }
    buf = malloc(CHUNK);
    if (!buf) {
        rc = pb_error_set(err, PB_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
            goto done;
        }
        if (n == 0)
            break;
        if (info)
            info->bytes += (size_t)n;
        feed(&st, buf, (size_t)n);
        if (st.code)
            break;
    }
    rc = finish(&st, fn, ctx, err);
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    teardown(&st);
    return rc;
}
