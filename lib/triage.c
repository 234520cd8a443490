/*
 * triage.c — CI history in, four-way verdicts out.
 *
 * Loading: every file is parsed into a small per-file batch by one of a few
 * threads; batches are merged into the per-test store in registration order
 * (a worker waits for its turn), so results do not depend on scheduling and
 * memory holds at most one batch per thread besides the store itself.
 *
 * The store keeps per test a compact array of attempts (run, attempt,
 * outcome, values); classification builds one point per run from it.
 */
#include "perfbisect/triage.h"
#include "perfbisect/buf.h"
#include "perfbisect/changepoint.h"
#include "perfbisect/ctlog.h"
#include "perfbisect/junit.h"
#include "triage_strmap.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MSG_KEEP 300

typedef enum src_kind { SRC_JUNIT, SRC_LOG } src_kind;

typedef struct source {
    src_kind kind;
    size_t run;
    char *path;
} source;

typedef struct run_info {
    char *label;
    char commit[64];
    char timestamp[40];
    size_t rank;       /* position in time order */
    int mixed_commits; /* its files name different commits (said once) */
} run_info;

/* 16 bytes: there is one per test per run. */
typedef struct rec {
    uint32_t run;
    uint16_t attempt;
    uint8_t outcome;
    uint8_t is_prop; /* value is the test's property (history value), else its time */
    float value;     /* a record has a property or a time to keep, never both (see rec_value) */
    float msgv;
} rec;

/* Values are kept as floats; one beyond a float's range is unknown, not inf. */
static float to_float(double v)
{
    return fabs(v) <= FLT_MAX ? (float)v : NAN;
}

typedef struct test_data {
    rec *recs;
    uint32_t n, cap;
    uint32_t last_run;     /* run of recs[n - 1], read here to spare a cache miss */
    uint16_t last_attempt; /* attempt of recs[n - 1] */
    uint32_t split;        /* index into splits, UINT32_MAX unknown */
    uint32_t last_fail_run;
    uint8_t has_prop, prop_unit, has_time, has_msgv; /* prop_unit: a pb_triage_unit */
    uint8_t report_prop; /* a property came from a report, not (only) from the history */
    uint32_t failed_attempts;
    double limit;
    char *message;
} test_data;

typedef struct file_stat {
    size_t run;
    uint32_t split;
    size_t testcases;
    size_t failed_tests;
} file_stat;

struct pb_triage {
    source *sources;
    size_t nsources, cap_sources;
    run_info *runs;
    size_t nruns, cap_runs;
    size_t nhistory_runs;
    pb_strmap ids;
    test_data *tests;
    size_t cap_tests;
    pb_strmap splits;
    file_stat *fstats;
    size_t nfstats, cap_fstats;
    char **warnings;
    size_t nwarnings, cap_warnings;
    size_t files, bytes, testcases, attempts;
    int loaded_any;
};

/* ---------- small helpers ---------- */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return PB_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int add_warning(pb_triage *t, const char *msg)
{
    if (grow((void **)&t->warnings, &t->cap_warnings, t->nwarnings + 1, sizeof(char *)) < 0)
        return PB_ENOMEM;
    char *s = strdup(msg);
    if (!s)
        return PB_ENOMEM;
    t->warnings[t->nwarnings++] = s;
    return 0;
}

const char *pb_triage_class_name(pb_triage_class c)
{
    switch (c) {
    case PB_TRIAGE_FLAKY:
        return "flaky";
    case PB_TRIAGE_REGRESSION:
        return "regression";
    case PB_TRIAGE_VARIANCE:
        return "variance";
    case PB_TRIAGE_GRADUAL:
        return "gradual";
    }
    return "unknown";
}

int pb_triage_new(pb_triage **out, pb_error *err)
{
    pb_triage *t = calloc(1, sizeof(*t));
    if (!t)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    *out = t;
    return 0;
}

void pb_triage_free(pb_triage *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsources; i++)
        free(t->sources[i].path);
    free(t->sources);
    for (size_t i = 0; i < t->nruns; i++)
        free(t->runs[i].label);
    free(t->runs);
    for (size_t i = 0; i < t->ids.n; i++) {
        free(t->tests[i].recs);
        free(t->tests[i].message);
    }
    free(t->tests);
    pb_strmap_free(&t->ids);
    pb_strmap_free(&t->splits);
    free(t->fstats);
    for (size_t i = 0; i < t->nwarnings; i++)
        free(t->warnings[i]);
    free(t->warnings);
    free(t);
}

size_t pb_triage_warning_count(const pb_triage *t)
{
    return t->nwarnings;
}

const char *pb_triage_warning(const pb_triage *t, size_t i)
{
    return i < t->nwarnings ? t->warnings[i] : NULL;
}

static int new_run(pb_triage *t, const char *label, size_t *out)
{
    if (grow((void **)&t->runs, &t->cap_runs, t->nruns + 1, sizeof(run_info)) < 0)
        return PB_ENOMEM;
    run_info *r = &t->runs[t->nruns];
    memset(r, 0, sizeof(*r));
    r->label = strdup(label);
    if (!r->label)
        return PB_ENOMEM;
    r->rank = t->nruns;
    *out = t->nruns++;
    return 0;
}

static int add_source(pb_triage *t, src_kind kind, size_t run, const char *path)
{
    if (grow((void **)&t->sources, &t->cap_sources, t->nsources + 1, sizeof(source)) < 0)
        return PB_ENOMEM;
    char *p = strdup(path);
    if (!p)
        return PB_ENOMEM;
    t->sources[t->nsources].kind = kind;
    t->sources[t->nsources].run = run;
    t->sources[t->nsources].path = p;
    t->nsources++;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int pb_triage_add_junit(pb_triage *t, const char *path, pb_error *err)
{
    char **names = NULL;
    size_t nnames = 0, run;
    int rc = pb_junit_run_files(path, &names, &nnames, err);
    if (rc < 0)
        return rc;
    if ((rc = new_run(t, path, &run)) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nnames; i++)
        if ((rc = add_source(t, SRC_JUNIT, run, names[i])) < 0) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
done:
    pb_junit_names_free(names, nnames);
    return rc;
}

int pb_triage_add_log(pb_triage *t, const char *path, pb_error *err)
{
    struct stat sb;
    size_t run;
    if (stat(path, &sb) < 0)
        return pb_error_set_errno(err, PB_ENOTFOUND, errno, "%s", path);
    if (new_run(t, path, &run) < 0 || add_source(t, SRC_LOG, run, path) < 0)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    return 0;
}

/* ---------- the store ---------- */

static int find_test(pb_triage *t, const char *id, size_t len, size_t *index)
{
    int added = 0;
    if (pb_strmap_find(&t->ids, id, len, 1, index, &added) < 0)
        return PB_ENOMEM;
    if (added) {
        if (grow((void **)&t->tests, &t->cap_tests, t->ids.n, sizeof(test_data)) < 0)
            return PB_ENOMEM;
        test_data *d = &t->tests[*index];
        memset(d, 0, sizeof(*d));
        d->split = UINT32_MAX;
        d->last_fail_run = UINT32_MAX;
        d->limit = NAN;
    }
    return 0;
}

/* `first_cap`: room to give a test seen for the first time (see merge_batch). */
static int push_rec(test_data *d, const rec *r, uint32_t first_cap)
{
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : first_cap;
        rec *p = realloc(d->recs, cap * sizeof(*p));
        if (!p)
            return PB_ENOMEM;
        d->recs = p;
        d->cap = cap;
    }
    rec x = *r;
    /* attempts number the test's records within one run */
    x.attempt = d->n && d->last_run == r->run ? (uint16_t)(d->last_attempt + 1) : 0;
    d->last_run = x.run;
    d->last_attempt = x.attempt;
    d->recs[d->n++] = x;
    return 0;
}

static int is_failure(int outcome)
{
    return outcome == PB_OUTCOME_FAILED || outcome == PB_OUTCOME_ERROR;
}

/* ---------- per-file batches ---------- */

typedef struct batch_rec {
    size_t id_off, id_len;
    size_t msg_off; /* SIZE_MAX: none */
    uint16_t attempt;
    uint8_t outcome;
    uint8_t prop_unit; /* 0 none, else 1 + pb_triage_unit */
    float prop, time, msgv, limit;
} batch_rec;

typedef struct batch {
    pb_buf strings;
    batch_rec *recs;
    size_t n, cap;
    pb_junit_info info;
    pb_error err;
    int rc;
} batch;

/* A property named as a rate, where more is better: one of its words
 * (split at anything but letters and digits) is "per", "ops", "qps", "rps",
 * "throughput" or "bandwidth" ("ops_per_sec", "read-throughput"). */
static int rate_name(const char *name)
{
    static const char *const words[] = {"per", "ops", "qps", "rps", "throughput", "bandwidth"};
    for (const char *p = name; *p;) {
        size_t n = 0;
        while (isalnum((unsigned char)p[n]))
            n++;
        for (size_t i = 0; n && i < sizeof(words) / sizeof(words[0]); i++)
            if (strlen(words[i]) == n && !strncasecmp(p, words[i], n))
                return 1;
        p += n ? n : 1;
    }
    return 0;
}

static double unit_factor(const char *name, int *seconds)
{
    static const struct {
        const char *suffix;
        double f;
    } u[] = {{"_ns", 1e-9}, {"_us", 1e-6}, {"_ms", 1e-3},
             {"_s", 1.0},   {"_sec", 1.0}, {"_seconds", 1.0}};
    /* "ops_per_sec" is a rate, not a time */
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]) && !strstr(name, "per_"); i++)
        if (ends_with(name, u[i].suffix)) {
            *seconds = 1;
            return u[i].f;
        }
    *seconds = 0;
    return 1.0;
}

static int batch_case(void *ctx, const pb_junit_case *c)
{
    batch *b = ctx;
    batch_rec r;
    if (grow((void **)&b->recs, &b->cap, b->n + 1, sizeof(batch_rec)) < 0)
        return 1;
    /* "classname::name", written in place: this runs once per test per run */
    size_t cl = c->classname_len ? c->classname_len : strlen(c->classname);
    size_t nl = c->name_len ? c->name_len : strlen(c->name);
    r.id_off = b->strings.len;
    r.id_len = cl ? cl + 2 + nl : nl;
    if (pb_buf_grow(&b->strings, r.id_len + 1) < 0)
        return 1;
    char *id = b->strings.data + r.id_off;
    if (cl) {
        memcpy(id, c->classname, cl);
        memcpy(id + cl, "::", 2);
    }
    memcpy(id + r.id_len - nl, c->name, nl);
    id[r.id_len] = '\0'; /* NUL-separated strings can be read in place */
    b->strings.len += r.id_len + 1;
    b->strings.data[b->strings.len] = '\0';
    r.attempt = (uint16_t)c->attempt;
    r.outcome = (uint8_t)c->outcome;
    r.time = to_float(c->time);
    r.prop = NAN;
    r.prop_unit = 0;
    if (c->nprops) {
        int sec;
        double f = unit_factor(c->props[0].name, &sec);
        r.prop = to_float(c->props[0].value * f);
        r.prop_unit = 1 + (sec                           ? PB_TRIAGE_UNIT_SECONDS
                           : rate_name(c->props[0].name) ? PB_TRIAGE_UNIT_RATE
                                                         : PB_TRIAGE_UNIT_OWN);
    }
    r.msgv = r.limit = NAN;
    r.msg_off = SIZE_MAX;
    if (c->message) {
        double v, l;
        if (!pb_junit_message_numbers(c->message, &v, &l) && c->system_out)
            pb_junit_message_numbers(c->system_out, &v, &l);
        r.msgv = to_float(v);
        r.limit = to_float(l);
        if (c->message[0]) {
            size_t n = strlen(c->message);
            r.msg_off = b->strings.len;
            if (pb_buf_put(&b->strings, c->message, n < MSG_KEEP ? n : MSG_KEEP) < 0 ||
                pb_buf_put(&b->strings, "", 1) < 0)
                return 1;
        }
    }
    b->recs[b->n++] = r;
    return 0;
}

static void batch_reset(batch *b)
{
    pb_buf_clear(&b->strings);
    b->n = 0;
    b->rc = 0;
    pb_error_clear(&b->err);
}

static void batch_free(batch *b)
{
    pb_buf_free(&b->strings);
    free(b->recs);
}

/* Note: ids and messages share the strings buffer, each followed by a NUL. */

static void split_from_name(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strncmp(base, "junit-", 6))
        base += 6;
    size_t n = strlen(base);
    if (n > 4 && !strcmp(base + n - 4, ".xml"))
        n -= 4;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

/* The end of the warning for a file that could not be read. */
#define FILE_SKIPPED " (file skipped)"

static int merge_batch(pb_triage *t, const source *s, batch *b)
{
    char msg[PB_ERROR_MSG_MAX + 64];
    run_info *run = &t->runs[s->run];
    size_t split_index = 0;
    char split[80];
    int rc = 0;
    t->files++;
    t->bytes += b->info.bytes;
    if (b->rc < 0) {
        snprintf(msg, sizeof(msg), "%s" FILE_SKIPPED, pb_error_message(&b->err));
        return add_warning(t, msg);
    }
    t->loaded_any = 1;
    t->testcases += b->info.testcases;
    if (!run->commit[0] && b->info.commit[0])
        snprintf(run->commit, sizeof(run->commit), "%s", b->info.commit);
    else if (b->info.commit[0] && strcmp(run->commit, b->info.commit) && !run->mixed_commits) {
        /* Several CI runs given as one (a directory of every run's files)
         * would count their failures as reruns. */
        run->mixed_commits = 1;
        snprintf(msg, sizeof(msg),
                 "the files of run %s name different commits (%.12s, %.12s): give each CI run "
                 "its own --junit",
                 run->label, run->commit, b->info.commit);
        if ((rc = add_warning(t, msg)) < 0)
            return rc;
    }
    if (b->info.timestamp[0] &&
        (!run->timestamp[0] || pb_junit_timestamp_cmp(b->info.timestamp, run->timestamp) < 0))
        snprintf(run->timestamp, sizeof(run->timestamp), "%s", b->info.timestamp);
    if (b->info.split[0])
        snprintf(split, sizeof(split), "%s", b->info.split);
    else if (s->kind == SRC_JUNIT)
        split_from_name(s->path, split, sizeof(split));
    else
        snprintf(split, sizeof(split), "log");
    if (pb_strmap_find(&t->splits, split, strlen(split), 1, &split_index, NULL) < 0)
        return PB_ENOMEM;
    if (grow((void **)&t->fstats, &t->cap_fstats, t->nfstats + 1, sizeof(file_stat)) < 0)
        return PB_ENOMEM;
    file_stat *fs = &t->fstats[t->nfstats++];
    fs->run = s->run;
    fs->split = (uint32_t)split_index;
    fs->testcases = b->info.testcases;
    fs->failed_tests = 0;
    /* Most tests appear once in every run: room for the runs still to come fits them exactly
     * (no regrowth, no slack); the cap bounds the waste on tests that do not come back. */
    size_t runs_left = t->nruns - s->run;
    uint32_t first_cap = runs_left > 16 ? 16 : (uint32_t)runs_left;
    /* A split lists its tests in the same order run after run: try the entry after the
     * previous one before hashing into the (much larger than cache) table. */
    size_t next = 0; /* the entry expected next */
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const batch_rec *br = &b->recs[i];
        const char *id = b->strings.data + br->id_off;
        size_t ti = next;
        if (!(ti < t->ids.n && pb_strmap_key_is(&t->ids, ti, id, br->id_len))) {
            /* New tests come in a row (a first run): warm the table for one a few ahead. */
            if (i + 4 < b->n)
                pb_strmap_prefetch(&t->ids, b->strings.data + b->recs[i + 4].id_off,
                                   b->recs[i + 4].id_len);
            if ((rc = find_test(t, id, br->id_len, &ti)) < 0)
                break;
        }
        next = ti + 1;
        test_data *d = &t->tests[ti];
        /* In that same order, ask early for the record slot a few tests ahead: the slots are
         * far apart and each would otherwise stall on memory. */
        if (ti + 8 < t->ids.n && t->tests[ti + 8].recs)
            __builtin_prefetch(t->tests[ti + 8].recs + t->tests[ti + 8].n, 1);
        /* A failed attempt timed at zero crashed or errored before it ran
         * (pytest writes time="0.000" for setup errors): no measurement. Nor
         * is a skipped one (a skip's time is how long it took to skip). */
        int skipped = br->outcome == PB_OUTCOME_SKIPPED;
        float time = skipped || (is_failure(br->outcome) && br->time <= 0) ? NAN : br->time;
        rec r = {(uint32_t)s->run,
                 br->attempt,
                 br->outcome,
                 br->prop_unit != 0,
                 br->prop_unit && !skipped ? br->prop : time,
                 skipped ? NAN : br->msgv};
        if ((rc = push_rec(d, &r, first_cap)) < 0)
            break;
        t->attempts++;
        d->split = (uint32_t)split_index;
        if (br->prop_unit) {
            if (!d->has_prop)
                d->prop_unit = br->prop_unit - 1;
            d->has_prop = 1;
            d->report_prop = 1;
        }
        if (!isnan(time))
            d->has_time = 1;
        if (!isnan(br->msgv))
            d->has_msgv = 1;
        if (!isnan(br->limit))
            d->limit = br->limit;
        if (is_failure(br->outcome)) {
            d->failed_attempts++;
            if (d->last_fail_run != s->run) {
                d->last_fail_run = (uint32_t)s->run;
                fs->failed_tests++;
            }
            if (!d->message && br->msg_off != SIZE_MAX) {
                d->message = strdup(b->strings.data + br->msg_off);
                if (!d->message)
                    rc = PB_ENOMEM;
            }
        }
    }
    return rc;
}

static void parse_source(const source *s, batch *b)
{
    if (s->kind == SRC_JUNIT)
        b->rc = pb_junit_parse_file(s->path, batch_case, b, &b->info, &b->err);
    else
        b->rc = pb_ctlog_parse_file(s->path, batch_case, b, &b->info, &b->err);
    if (b->rc == PB_EINTR) /* our callback stops only when out of memory */
        b->rc = pb_error_set(&b->err, PB_ENOMEM, "%s: out of memory", s->path);
}

typedef struct loader {
    pb_triage *t;
    pthread_mutex_t lock;
    pthread_cond_t turn;
    size_t next;   /* next source to parse */
    size_t merged; /* sources merged so far */
    int rc;
} loader;

static void *load_worker(void *arg)
{
    loader *L = arg;
    batch b;
    memset(&b, 0, sizeof(b));
    for (;;) {
        pthread_mutex_lock(&L->lock);
        size_t j = L->next++;
        int stop = L->rc < 0;
        pthread_mutex_unlock(&L->lock);
        if (j >= L->t->nsources || stop)
            break;
        batch_reset(&b);
        parse_source(&L->t->sources[j], &b);
        pthread_mutex_lock(&L->lock);
        while (L->merged != j && L->rc == 0)
            pthread_cond_wait(&L->turn, &L->lock);
        if (L->rc == 0) {
            int rc = merge_batch(L->t, &L->t->sources[j], &b);
            if (rc < 0)
                L->rc = rc;
        }
        L->merged++;
        pthread_cond_broadcast(&L->turn);
        pthread_mutex_unlock(&L->lock);
    }
    batch_free(&b);
    return NULL;
}

static int cmp_run_time(const void *a, const void *b, void *arg)
{
    const pb_triage *t = arg;
    const run_info *x = &t->runs[*(const size_t *)a], *y = &t->runs[*(const size_t *)b];
    int c = pb_junit_timestamp_cmp(x->timestamp, y->timestamp);
    if (c)
        return c;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Runs in time order when every JUnit/log run has a timestamp; else as given. */
static int order_runs(pb_triage *t)
{
    size_t first = t->nhistory_runs, n = t->nruns - first;
    size_t stamped = 0, unstamped = n; /* runs with a timestamp; the first without */
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    if (!idx)
        return PB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        idx[i] = first + i;
        if (t->runs[first + i].timestamp[0])
            stamped++;
        else if (unstamped == n)
            unstamped = first + i;
    }
    if (stamped == n && n > 1)
        qsort_r(idx, n, sizeof(*idx), cmp_run_time, t);
    if (stamped && stamped < n) {
        /* One run without a time sends every run back to the order given:
         * say so, a step can turn into scattered failures. */
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%zu of %zu runs have no timestamp (e.g. %s): all runs are taken in the order "
                 "given",
                 n - stamped, n, t->runs[unstamped].label);
        if (add_warning(t, msg) < 0) {
            free(idx);
            return PB_ENOMEM;
        }
    }
    for (size_t i = 0; i < first; i++)
        t->runs[i].rank = i;
    for (size_t i = 0; i < n; i++)
        t->runs[idx[i]].rank = first + i;
    free(idx);
    return 0;
}

int pb_triage_load(pb_triage *t, unsigned threads, pb_error *err)
{
    loader L;
    pthread_t tid[16];
    unsigned started = 0;
    int rc = 0;
    if (threads == 0)
        threads = 2;
    if (threads > 16)
        threads = 16;
    if (threads > t->nsources)
        threads = t->nsources ? (unsigned)t->nsources : 1;
    memset(&L, 0, sizeof(L));
    L.t = t;
    pthread_mutex_init(&L.lock, NULL);
    pthread_cond_init(&L.turn, NULL);
    for (unsigned i = 1; i < threads; i++) {
        if (pthread_create(&tid[started], NULL, load_worker, &L) != 0)
            break;
        started++;
    }
    load_worker(&L);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&L.lock);
    pthread_cond_destroy(&L.turn);
    if (L.rc < 0) {
        rc = pb_error_set(err, L.rc, "out of memory while loading");
        goto done;
    }
    if ((rc = order_runs(t)) < 0) {
        rc = pb_error_set(err, rc, "out of memory");
        goto done;
    }
    if (!t->loaded_any && !t->nhistory_runs) {
        /* The first file's error, without "(file skipped)": nothing else counts. */
        const char *first = t->nwarnings ? t->warnings[0] : "";
        size_t len = strlen(first), tail = strlen(FILE_SKIPPED);
        if (len >= tail && !strcmp(first + len - tail, FILE_SKIPPED))
            len -= tail;
        rc = pb_error_set(err, PB_EINVAL, "no input could be read%s%.*s", len ? ": " : "", (int)len,
                          first);
        goto done;
    }
done:
    return rc;
}

void pb_triage_get_totals(const pb_triage *t, pb_triage_totals *out)
{
    memset(out, 0, sizeof(*out));
    out->runs = t->nruns;
    out->files = t->files;
    out->bytes = t->bytes;
    out->testcases = t->testcases;
    out->attempts = t->attempts;
    out->tests = t->ids.n;
    for (size_t i = 0; i < t->ids.n; i++)
        if (t->tests[i].failed_attempts)
            out->failing_tests++;
}

/* ---------- history file ---------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/*
 * Split a CSV line in place into at most `max` fields, as RFC 4180 says: a
 * field in double quotes may hold commas ("m::t[1,2]", as Python's csv
 * writes a parametrised id), and "" in it is a quote. Returns the number of
 * fields, -1 when a quote is not closed.
 */
static int csv_split(char *s, char **field, int max)
{
    int nf = 0;
    char *r = s, *w = s;
    while (nf < max) {
        field[nf++] = w;
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r == '"') {
            for (r++;; r++) {
                if (!*r)
                    return -1;
                if (*r == '"' && r[1] != '"')
                    break;
                r += *r == '"';
                *w++ = *r;
            }
            r++;
            while (*r == ' ' || *r == '\t')
                r++;
            if (*r && *r != ',')
                return -1;
        } else {
            while (*r && *r != ',')
                *w++ = *r++;
        }
        if (*r != ',') {
            *w = '\0';
            break;
        }
        r++;
        *w++ = '\0';
    }
    return nf;
}

int pb_triage_add_history(pb_triage *t, const char *path, pb_error *err)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    pb_strmap runs = PB_STRMAP_INIT;
    size_t *run_of = NULL, cap_run_of = 0;
    unsigned long lineno = 0;
    int rc = 0;
    if (!f)
        return pb_error_set_errno(err, PB_EIO, errno, "%s", path);
    if (t->nruns > t->nhistory_runs) {
        rc = pb_error_set(err, PB_EINVAL, "%s: history must be added before other runs", path);
        goto done;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = pb_error_set(err, PB_EINVAL, "%s:%lu: line too long", path, lineno);
            goto done;
        }
        char *s = trim(lineno == 1 && !strncmp(line, "\xef\xbb\xbf", 3) ? line + 3 : line);
        if (!*s || *s == '#' || (lineno == 1 && !strncmp(s, "run,", 4)))
            continue;
        char *field[5] = {0};
        int nf = csv_split(s, field, 5);
        if (nf < 0) {
            rc = pb_error_set(err, PB_EINVAL, "%s:%lu: a quoted field is not closed", path, lineno);
            goto done;
        }
        if (nf < 4) {
            rc = pb_error_set(err, PB_EINVAL, "%s:%lu: expected run,commit,test,value[,outcome]",
                              path, lineno);
            goto done;
        }
        for (int i = 0; i < nf; i++)
            field[i] = trim(field[i]);
        double v = NAN;
        if (*field[3]) {
            char *end;
            errno = 0;
            v = strtod(field[3], &end);
            if (errno || *end || !isfinite(v) || fabs(v) > FLT_MAX) {
                rc = pb_error_set(err, PB_EINVAL, "%s:%lu: value '%s' is not a number", path,
                                  lineno, field[3]);
                goto done;
            }
            if (v < 0) {
                rc = pb_error_set(err, PB_EINVAL, "%s:%lu: value '%s' is negative", path, lineno,
                                  field[3]);
                goto done;
            }
        }
        int outcome = PB_OUTCOME_PASSED;
        if (nf == 5 && *field[4]) {
            if (!strcasecmp(field[4], "failed") || !strcasecmp(field[4], "fail"))
                outcome = PB_OUTCOME_FAILED;
            else if (!strcasecmp(field[4], "error"))
                outcome = PB_OUTCOME_ERROR;
            else if (!strcasecmp(field[4], "skipped"))
                outcome = PB_OUTCOME_SKIPPED;
            else if (strcasecmp(field[4], "passed") && strcasecmp(field[4], "pass")) {
                rc = pb_error_set(err, PB_EINVAL, "%s:%lu: outcome '%s' is not passed|failed", path,
                                  lineno, field[4]);
                goto done;
            }
        }
        if (!*field[0] || !*field[2]) {
            rc = pb_error_set(err, PB_EINVAL, "%s:%lu: empty run or test", path, lineno);
            goto done;
        }
        size_t ri, ti;
        int added;
        if (pb_strmap_find(&runs, field[0], strlen(field[0]), 1, &ri, &added) < 0 ||
            grow((void **)&run_of, &cap_run_of, runs.n, sizeof(size_t)) < 0)
            goto nomem;
        if (added) {
            if (new_run(t, field[0], &run_of[ri]) < 0)
                goto nomem;
            t->nhistory_runs++;
            snprintf(t->runs[run_of[ri]].commit, sizeof(t->runs[0].commit), "%s", field[1]);
        }
        if (find_test(t, field[2], strlen(field[2]), &ti) < 0)
            goto nomem;
        test_data *d = &t->tests[ti];
        rec r = {(uint32_t)run_of[ri], 0, (uint8_t)outcome, 1, to_float(v), NAN};
        if (push_rec(d, &r, 4) < 0)
            goto nomem;
        t->attempts++;
        if (!isnan(v)) {
            if (!d->has_prop)
                d->prop_unit = PB_TRIAGE_UNIT_SECONDS;
            d->has_prop = 1;
        }
        if (is_failure(outcome))
            d->failed_attempts++;
    }
    if (ferror(f))
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
    goto done;
nomem:
    rc = pb_error_set(err, PB_ENOMEM, "out of memory");
done:
    fclose(f);
    pb_strmap_free(&runs);
    free(run_of);
    return rc;
}

/* ---------- classification ---------- */

/*
 * The single step that best splits x: maximises the two-sample t-like score
 * |mean_b - mean_a| / sqrt(s2 (1/na + 1/nb)) with prefix sums, O(n). Returns
 * the first index of the second segment, or 0 when n is too small.
 */
static size_t best_step(const double *x, size_t n, size_t min_seg)
{
    double total = 0, total2 = 0, best = -1;
    size_t best_k = 0;
    for (size_t i = 0; i < n; i++) {
        total += x[i];
        total2 += x[i] * x[i];
    }
    double s = 0, s2 = 0;
    for (size_t k = 1; k < n; k++) {
        s += x[k - 1];
        s2 += x[k - 1] * x[k - 1];
        if (k < min_seg || n - k < min_seg)
            continue;
        double na = (double)k, nb = (double)(n - k);
        double ma = s / na, mb = (total - s) / nb;
        double ssa = s2 - na * ma * ma, ssb = (total2 - s2) - nb * mb * mb;
        double pooled = (ssa + ssb) / (double)(n - 2);
        if (pooled < 1e-300)
            pooled = 1e-300;
        double score = fabs(mb - ma) / sqrt(pooled * (1 / na + 1 / nb));
        if (score > best) {
            best = score;
            best_k = k;
        }
    }
    return best_k;
}

/* Mann–Kendall trend left inside two segments: S and Var(S) add up. */
static double within_trend_p(const double *x, size_t n, size_t k, double *slope_sign)
{
    double s = 0, var = 0;
    pb_mann_kendall mk;
    *slope_sign = 0;
    if (k >= 3 && pb_stats_mann_kendall_test(x, k, &mk, NULL) == 0) {
        s += mk.s;
        var += mk.var_s;
    }
    if (n - k >= 3 && pb_stats_mann_kendall_test(x + k, n - k, &mk, NULL) == 0) {
        s += mk.s;
        var += mk.var_s;
    }
    if (var <= 0)
        return NAN;
    double z = s > 0 ? (s - 1) / sqrt(var) : s < 0 ? (s + 1) / sqrt(var) : 0;
    *slope_sign = s;
    return 2 * (1 - pb_stats_normal_cdf(fabs(z)));
}

static const char *nz(const char *s)
{
    return s ? s : "?";
}

static int bisect_action(char *action, size_t cap, const pb_triage_verdict *v, const char *id);

/*
 * A step in the outcomes: the last 3 or more runs failed, at most 1 in 10
 * before them did. Then fills the step's fields (the medians from the
 * values on each side, NAN without; x[0..m) are the values of runs xi[])
 * and returns 1; else touches nothing.
 */
static int outcome_step(const pb_triage_point *pts, size_t n, const double *x, const size_t *xi,
                        size_t m, pb_triage_verdict *out)
{
    size_t k = n, fb = 0;
    while (k > 0 && pts[k - 1].failed)
        k--;
    if (n - k < 3 || k < 1)
        return 0;
    for (size_t i = 0; i < k; i++)
        fb += pts[i].failed != 0;
    if (fb * 10 > k)
        return 0;
    /* The values on each side, when there are some, size the step: x holds
     * them in run order, xi their runs, so those before k are a prefix. */
    size_t nb = 0;
    while (nb < m && xi[nb] < k)
        nb++;
    if (nb && nb < m) {
        out->before_median = pb_stats_median(x, nb);
        out->after_median = pb_stats_median(x + nb, m - nb);
        if (out->before_median != 0)
            out->change_pct =
                100 * (out->after_median - out->before_median) / fabs(out->before_median);
    }
    out->has_step = 1;
    out->step_index = k;
    out->first_bad = pts[k].commit;
    out->first_bad_run = pts[k].run;
    out->last_good = pts[k - 1].commit;
    out->last_good_run = pts[k - 1].run;
    out->fail_before = (double)fb / (double)k;
    out->fail_after = 1;
    out->step_p = NAN; /* no test on values: the outcomes are the evidence */
    return 1;
}

/* The recommended limit, on values oriented so that higher is worse: a
 * minimum (negated) loosens by dividing by the multiplier, not multiplying. */
static double oriented_threshold(const double *y, size_t m, pb_strictness s, int lower)
{
    double k = pb_strictness_multiplier(s);
    return lower ? pb_stats_threshold(y, m, s) / (k * k) : pb_stats_threshold(y, m, s);
}

/*
 * The classifier proper, on values oriented so that higher is worse
 * (negated when `lower`: then only its words and printed numbers change).
 */
static int classify_oriented(const char *id, const pb_triage_point *pts, size_t n, double limit,
                             int seconds, int lower, const pb_triage_options *opt,
                             pb_triage_verdict *out, pb_error *err)
{
    double shown = lower ? -1 : 1; /* turns printed numbers back */
    double alpha = opt && opt->alpha > 0 ? opt->alpha : 0.01;
    pb_strictness strict = opt ? opt->strictness : PB_STRICTNESS_DEFAULT;
    double *x = NULL, *pass = NULL;
    size_t *xi = NULL, m = 0, npass = 0;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->runs = n;
    out->limit = limit;
    out->seconds = seconds;
    out->median = out->stddev = out->p95 = out->robust_cv = out->centre = NAN;
    out->outlier_z = out->before_median = out->after_median = out->change_pct = NAN;
    out->step_p = out->within_p = out->fail_before = out->fail_after = NAN;
    out->mk_z = out->mk_p = out->sen_slope = out->slope_pct = NAN;
    out->recommended = NAN;
    out->crossed_index = -1;
    out->multiplier = pb_strictness_multiplier(strict);
    x = malloc((n ? n : 1) * sizeof(*x));
    pass = malloc((n ? n : 1) * sizeof(*pass));
    xi = malloc((n ? n : 1) * sizeof(*xi));
    if (!x || !pass || !xi) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (pts[i].failed)
            out->failures++;
        if (pts[i].failed && pts[i].passed)
            out->reruns_passed++;
        if (!isnan(pts[i].value)) {
            xi[m] = i;
            x[m++] = pts[i].value;
            if (!pts[i].failed)
                pass[npass++] = pts[i].value;
        }
    }
    /* a failed run whose commit passed in another run */
    for (size_t i = 0; i < n; i++) {
        if (!pts[i].failed || pts[i].passed || !pts[i].commit)
            continue;
        for (size_t j = 0; j < n; j++)
            if (j != i && pts[j].passed && pts[j].commit && !strcmp(pts[j].commit, pts[i].commit)) {
                out->same_commit_passes++;
                break;
            }
    }
    out->values = m;
    if (m >= 1)
        out->median = pb_stats_median(x, m);
    if (m >= 2) {
        out->stddev = pb_stats_stddev(x, m);
        out->p95 = pb_stats_p95(x, m);
        out->recommended = oriented_threshold(x, m, strict, lower);
    }
    /* robust centre and spread of the passing runs */
    double centre = NAN, scale = NAN;
    {
        const double *base = npass >= 3 ? pass : x;
        size_t nb = npass >= 3 ? npass : m;
        if (nb >= 1) {
            centre = pb_stats_median(base, nb);
            scale = nb >= 2 ? 1.4826 * pb_stats_mad(base, nb) : 0;
            if (!(scale > 0.005 * fabs(centre)))
                scale = 0.005 * fabs(centre);
            /* One value has no spread to show; the floor above is for distances only. */
            out->robust_cv = centre != 0 && nb >= 2 ? scale / fabs(centre) : NAN;
            out->centre = centre;
            out->centre_of_all = npass < 3;
        }
    }
    /* With fewer than 3 values the centre is mostly the failures' own: no
     * distance from it means anything. */
    for (size_t i = 0; i < n && m >= 3; i++) {
        if (!pts[i].failed || isnan(centre) || !(scale > 0))
            continue;
        double v = !isnan(pts[i].fail_value) ? pts[i].fail_value : pts[i].value;
        if (isnan(v))
            continue;
        double z = (v - centre) / scale;
        if (isnan(out->outlier_z) || z < out->outlier_z)
            out->outlier_z = z;
    }

    /* step */
    int step_ok = 0, within_sig = 0;
    if (m >= 6) {
        /* the step: the biggest rise among the change points (changepoint.h),
         * else the best single split of our own, tested with Mann-Whitney */
        size_t k = 0;
        double p = NAN;
        pb_changepoint_options co = PB_CHANGEPOINT_OPTIONS_INIT;
        pb_changepoint_list cl = PB_CHANGEPOINT_LIST_INIT;
        co.alpha = alpha;
        co.min_segment = 3;
        if (pb_changepoint_detect(x, m, &co, &cl, NULL) == 0) {
            double best = -INFINITY;
            out->changepoints = cl.count;
            for (size_t c = 0; c < cl.count; c++)
                if (cl.points[c].median_after - cl.points[c].median_before > best) {
                    best = cl.points[c].median_after - cl.points[c].median_before;
                    k = cl.points[c].index;
                    p = cl.points[c].p_value;
                }
        }
        pb_changepoint_list_free(&cl);
        pb_mwu mw;
        if (!k && (k = best_step(x, m, 3)) &&
            pb_stats_mann_whitney(x, k, x + k, m - k, &mw, NULL) == 0)
            p = mw.p_value;
        if (k && !isnan(p)) {
            {
                out->before_median = pb_stats_median(x, k);
                out->after_median = pb_stats_median(x + k, m - k);
                out->change_pct =
                    100 * (out->after_median - out->before_median) / fabs(out->before_median);
                out->step_p = p;
                size_t first_bad = xi[k];
                /* runs just before the step that failed without a number belong to it */
                while (first_bad > 0 && isnan(pts[first_bad - 1].value) &&
                       pts[first_bad - 1].failed)
                    first_bad--;
                size_t fb = 0, fa = 0;
                for (size_t i = 0; i < n; i++) {
                    if (i < first_bad)
                        fb += pts[i].failed != 0;
                    else
                        fa += pts[i].failed != 0;
                }
                out->fail_before = first_bad ? (double)fb / (double)first_bad : 0;
                out->fail_after = (double)fa / (double)(n - first_bad);
                double sign;
                out->within_p = within_trend_p(x, m, k, &sign);
                within_sig = out->within_p < alpha && sign > 0;
                out->has_step = 1;
                out->step_index = first_bad;
                out->first_bad = pts[first_bad].commit;
                out->first_bad_run = pts[first_bad].run;
                out->last_good = first_bad ? pts[first_bad - 1].commit : NULL;
                out->last_good_run = first_bad ? pts[first_bad - 1].run : NULL;
                step_ok = p < alpha && out->change_pct > 0 && out->fail_after >= 0.8 &&
                          out->fail_before <= 0.2;
            }
        }
    }
    /* Too few values for a test on them (fewer than 6, or too few on a side
     * for ranks to be significant) but the last 3 or more runs all failed,
     * after runs that passed: a step in the outcomes. With values, it takes
     * them to agree: the failures far outliers of the passing runs' centre,
     * or too few values to say. (Rare far outliers stay flaky.) */
    int tail_values_agree = m < 6 || (!isnan(out->outlier_z) && out->outlier_z >= 4);
    if (!step_ok && n >= 4 && tail_values_agree)
        step_ok = outcome_step(pts, n, x, xi, m, out);

    /* trend */
    int trend_sig = 0;
    if (m >= 4) {
        pb_mann_kendall mk;
        if (pb_stats_mann_kendall(x, m, &mk, NULL) == 0) {
            out->mk_z = mk.z;
            out->mk_p = mk.p_value;
            out->sen_slope = mk.sen_slope;
            out->slope_pct = out->median != 0 ? 100 * mk.sen_slope / fabs(out->median) : NAN;
            trend_sig = mk.p_value < alpha && mk.sen_slope > 0;
        }
        double lim = !isnan(limit) ? limit : NAN;
        for (size_t i = 0; i < n && out->crossed_index < 0; i++) {
            int over = !isnan(lim) ? pts[i].value > lim : pts[i].failed;
            if (over) {
                out->crossed_index = (long)i;
                out->crossed_run = pts[i].run;
                out->crossed_commit = pts[i].commit;
            }
        }
    }

    if (step_ok && !within_sig) {
        out->cls = PB_TRIAGE_REGRESSION;
        if (bisect_action(out->action, sizeof(out->action), out, id ? id : "?") < 0) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
    } else if (trend_sig && (!step_ok || within_sig)) {
        out->cls = PB_TRIAGE_GRADUAL;
        snprintf(out->action, sizeof(out->action),
                 lower ? "optimise: it falls %.2f%% per run (Sen's slope); first under the limit "
                         "in run %s (commit %s)"
                       : "optimise: it grows %+.2f%% per run (Sen's slope); first over the limit "
                         "in run %s (commit %s)",
                 out->slope_pct, nz(out->crossed_run), nz(out->crossed_commit));
    } else {
        int far = !isnan(out->outlier_z) && out->outlier_z >= 4;
        int no_values = isnan(out->outlier_z);
        int same = out->reruns_passed > 0 || out->same_commit_passes > 0;
        if (m < 3)
            out->cls = (same || out->failures * 5 <= n || out->failures <= 1) ? PB_TRIAGE_FLAKY
                                                                              : PB_TRIAGE_VARIANCE;
        else if (no_values) /* failures carry no number: judge by how they fall */
            out->cls = (same || out->failures * 5 <= n) ? PB_TRIAGE_FLAKY : PB_TRIAGE_VARIANCE;
        else if (far)
            out->cls = PB_TRIAGE_FLAKY;
        else
            out->cls = PB_TRIAGE_VARIANCE;
        if (out->cls == PB_TRIAGE_FLAKY && far && !same && out->failures * 5 > n)
            /* Far out and frequent, yet no step in time: not chance. */
            snprintf(out->action, sizeof(out->action),
                     "investigate: %zu of %zu runs failed as far outliers of a stable centre, too "
                     "often for chance and not as a step in time: some runs on other machines, "
                     "or a slow path taken some of the time? (a retry would likely pass)",
                     out->failures, n);
        else if (out->cls == PB_TRIAGE_FLAKY)
            snprintf(out->action, sizeof(out->action),
                     "retry: %zu of %zu runs failed, %s; quarantine it if it recurs", out->failures,
                     n,
                     same  ? "and the same commit also passed"
                     : far ? "as far outliers of a stable centre"
                           : "too few of them, with too few values, to call it a change");
        else if (out->failures == n && n >= 3)
            /* A threshold at its own failing values would only hide it. */
            snprintf(out->action, sizeof(out->action),
                     "investigate: it failed in all %zu runs, so it broke before them (bisect "
                     "from an older passing run) or its limit is wrong",
                     n);
        else if (!lower && limit > 0 && !out->centre_of_all && out->centre > 1.1 * limit)
            /* Passing runs above the limit their failures quote: these
             * values (JUnit's time: a whole test, setup and rounds) are
             * not what the limit measures, nor a threshold from them. */
            snprintf(out->action, sizeof(out->action),
                     "investigate: its passing runs take %.6g%s (median), above the %.6g%s limit "
                     "its failures quote: these values are not what the limit measures (a "
                     "report's time holds setup and every round); set the limit from the "
                     "benchmark's own measurement",
                     out->seconds ? out->centre * 1e3 : out->centre, out->seconds ? " ms" : "",
                     out->seconds ? limit * 1e3 : limit, out->seconds ? " ms" : "");
        else if (!isnan(out->recommended))
            snprintf(out->action, sizeof(out->action),
                     lower ? "adjust the minimum to %.6g%s (P5 - 2*stddev, /%.1f)"
                           : "adjust the threshold to %.6g%s (P95 + 2*stddev, x%.1f)",
                     shown * (out->seconds ? out->recommended * 1e3 : out->recommended),
                     out->seconds ? " ms" : "", out->multiplier);
        else
            snprintf(
                out->action, sizeof(out->action),
                "adjust the threshold: failures are scattered (too few values to compute one)");
    }
done:
    free(x);
    free(pass);
    free(xi);
    return rc;
}

/*
 * Does this series fail by falling? Never for times. Else the failures'
 * values against the limit, or the passing runs' median without one; when
 * they do not tell (no values, as many each side), `unit` names a rate.
 */
static int fails_by_falling(const pb_triage_point *pts, size_t n, double limit, pb_triage_unit unit)
{
    if (unit == PB_TRIAGE_UNIT_SECONDS)
        return 0;
    double ref = limit;
    if (isnan(ref)) {
        double *pass = malloc((n ? n : 1) * sizeof(*pass));
        size_t np = 0;
        for (size_t i = 0; pass && i < n; i++)
            if (!pts[i].failed && !isnan(pts[i].value))
                pass[np++] = pts[i].value;
        if (np)
            ref = pb_stats_median(pass, np);
        free(pass);
    }
    size_t below = 0, above = 0;
    for (size_t i = 0; i < n && !isnan(ref); i++) {
        double v = !isnan(pts[i].fail_value) ? pts[i].fail_value : pts[i].value;
        if (pts[i].failed && !isnan(v)) {
            below += v < ref;
            above += v > ref;
        }
    }
    return below != above ? below > above : unit == PB_TRIAGE_UNIT_RATE;
}

int pb_triage_classify_series(const char *id, const pb_triage_point *pts, size_t n, double limit,
                              pb_triage_unit unit, const pb_triage_options *opt,
                              pb_triage_verdict *out, pb_error *err)
{
    int seconds = unit == PB_TRIAGE_UNIT_SECONDS;
    if (!fails_by_falling(pts, n, limit, unit))
        return classify_oriented(id, pts, n, limit, seconds, 0, opt, out, err);
    /* Mirrored: a fall is judged as a rise is, then the numbers turned back. */
    pb_triage_point *neg = malloc((n ? n : 1) * sizeof(*neg));
    if (!neg)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        neg[i] = pts[i];
        neg[i].value = -pts[i].value;
        neg[i].fail_value = -pts[i].fail_value;
    }
    int rc = classify_oriented(id, neg, n, -limit, seconds, 1, opt, out, err);
    free(neg);
    double *back[] = {&out->limit,         &out->median,       &out->p95,        &out->centre,
                      &out->before_median, &out->after_median, &out->change_pct, &out->sen_slope,
                      &out->slope_pct,     &out->mk_z,         &out->recommended};
    for (size_t i = 0; i < sizeof(back) / sizeof(back[0]); i++)
        *back[i] = -*back[i];
    out->lower_is_worse = 1;
    return rc;
}

typedef struct order_item {
    size_t rank;
    uint32_t pos;
} order_item;

static int cmp_order(const void *a, const void *b)
{
    const order_item *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

/* What a test's values are: its property's unit, else seconds (the time). */
static pb_triage_unit test_unit(const test_data *d)
{
    return d->has_prop ? (pb_triage_unit)d->prop_unit : PB_TRIAGE_UNIT_SECONDS;
}

/* The limit failure messages quote, in the test's values' unit, NAN when
 * none: pb_junit_message_numbers reads numbers with a time unit only, so
 * it is seconds, no limit on a value in a property's own unit (a timeout's
 * "exceeded the 30 s limit" against ops_per_sec values would otherwise
 * turn a falling throughput around). */
static double test_limit(const test_data *d)
{
    return test_unit(d) == PB_TRIAGE_UNIT_SECONDS ? d->limit : NAN;
}

/* The property when the test has one, else the time, else the failure message's number. A
 * record with a property is only read when the test has a property, so its time is not kept. */
static double rec_value(const test_data *d, const rec *r)
{
    if (r->outcome == PB_OUTCOME_SKIPPED) /* a history line may give one a value */
        return NAN;
    if (d->has_prop) {
        if (r->is_prop)
            return r->value;
        /* The history's values are seconds, as a report's time is: the time
         * joins them, unless the reports give the test a property. */
        return !d->report_prop && d->prop_unit == PB_TRIAGE_UNIT_SECONDS ? r->value : NAN;
    }
    if (d->has_time)
        return r->is_prop ? NAN : r->value;
    return r->msgv;
}

/* One point per run, in time order. `pts` and `items` have room for d->n. */
static size_t build_points(const pb_triage *t, const test_data *d, order_item *items,
                           pb_triage_point *pts)
{
    size_t np = 0;
    int seconds = test_unit(d) == PB_TRIAGE_UNIT_SECONDS;
    for (uint32_t i = 0; i < d->n; i++) {
        items[i].rank = t->runs[d->recs[i].run].rank;
        items[i].pos = i;
    }
    qsort(items, d->n, sizeof(*items), cmp_order);
    for (uint32_t i = 0; i < d->n; i++) {
        const rec *r = &d->recs[items[i].pos];
        if (np == 0 || items[i].rank != items[i - 1].rank) {
            const run_info *run = &t->runs[r->run];
            pb_triage_point *p = &pts[np++];
            p->value = NAN;
            p->fail_value = NAN;
            p->commit = run->commit[0] ? run->commit : NULL;
            p->run = run->label;
            p->failed = p->passed = 0;
        }
        pb_triage_point *p = &pts[np - 1];
        double v = rec_value(d, r);
        if (isnan(p->value) && !isnan(v))
            p->value = v;
        if (is_failure(r->outcome)) {
            p->failed = 1;
            if (isnan(p->fail_value))
                p->fail_value = seconds && !isnan(r->msgv) ? r->msgv : v;
        } else if (r->outcome == PB_OUTCOME_PASSED)
            p->passed = 1;
    }
    return np;
}

/* Append s single-quoted for POSIX sh: inside '...' nothing is special but
 * the quote itself, which is written '\'' (close, an escaped quote, reopen). */
static int sh_quote(pb_buf *b, const char *s)
{
    if (pb_buf_puts(b, "'") < 0)
        return PB_ENOMEM;
    for (const char *q; (q = strchr(s, '\'')); s = q + 1)
        if (pb_buf_put(b, s, (size_t)(q - s)) < 0 || pb_buf_puts(b, "'\\''") < 0)
            return PB_ENOMEM;
    return pb_buf_puts(b, s) < 0 || pb_buf_puts(b, "'") < 0 ? PB_ENOMEM : 0;
}

/* Go's -run (or -bench) pattern for "TestX/sub": each level anchored. */
static int go_pattern(const char *name, pb_buf *out)
{
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (pb_buf_printf(out, "%s^%.*s$", p == name ? "" : "/", (int)n, p) < 0)
            return PB_ENOMEM;
        p += n + (p[n] == '/');
    }
    return 0;
}

/* The command that reruns one test: pytest for Python ids, Maven for Java,
 * go test for Go (an import path and a Test or Benchmark function), else a
 * placeholder to fill in (jest's "describe it" names run no known way);
 * the test's name single-quoted, whole. 0 or PB_ENOMEM. */
static int bench_command(const char *id, pb_buf *out)
{
    const char *sep = strstr(id, "::");
    if (sep && memchr(id, ' ', (size_t)(sep - id))) /* a class name no language has */
        return pb_buf_puts(out, "<a command that runs this test>") < 0 ? PB_ENOMEM : 0;
    if (!sep)
        return pb_buf_puts(out, "pytest -k ") < 0 ? PB_ENOMEM : sh_quote(out, id);
    int rc = 0;
    pb_buf arg = PB_BUF_INIT;
    char *cls = strndup(id, (size_t)(sep - id));
    if (!cls)
        return PB_ENOMEM;
    const char *name = sep + 2;
    if (strchr(cls, '/') && (!strncmp(name, "Test", 4) || !strncmp(name, "Benchmark", 9))) {
        int bench = !strncmp(name, "Benchmark", 9);
        if (go_pattern(name, &arg) < 0 ||
            pb_buf_puts(out, bench ? "go test -count=1 -run '^$' -bench "
                                   : "go test -count=1 -run ") < 0 ||
            sh_quote(out, pb_buf_cstr(&arg)) < 0 || pb_buf_puts(out, " ") < 0 ||
            sh_quote(out, cls) < 0)
            rc = PB_ENOMEM;
        goto done;
    }
    char *last = strrchr(cls, '.');
    const char *lastcomp = last ? last + 1 : cls;
    int python = strstr(cls, "test_") || strstr(cls, "_test") || strstr(name, "test_") == name;
    if (!python && lastcomp[0] >= 'A' && lastcomp[0] <= 'Z') {
        if (pb_buf_printf(&arg, "%s#%s", cls, name) < 0 ||
            pb_buf_puts(out, "mvn -q test -Dtest=") < 0 || sh_quote(out, pb_buf_cstr(&arg)) < 0)
            rc = PB_ENOMEM;
        goto done;
    }
    /* module path; a last component in CamelCase is a class inside it */
    const char *klass = NULL;
    if (last && lastcomp[0] >= 'A' && lastcomp[0] <= 'Z') {
        klass = lastcomp;
        *last = '\0';
    }
    for (char *p = cls; *p; p++)
        if (*p == '.')
            *p = '/';
    if ((klass ? pb_buf_printf(&arg, "%s.py::%s::%s", cls, klass, name)
               : pb_buf_printf(&arg, "%s.py::%s", cls, name)) < 0 ||
        pb_buf_puts(out, "pytest ") < 0 || sh_quote(out, pb_buf_cstr(&arg)) < 0)
        rc = PB_ENOMEM;
done:
    pb_buf_free(&arg);
    free(cls);
    return rc;
}

/*
 * The perfbisect command that bisects test `id` between two commits, into
 * `action`. Names and commits come from CI files: every value is
 * single-quoted, the --bench value twice (perfbisect runs it under sh -c),
 * so that the line pasted into a shell runs perfbisect with exactly these
 * arguments and nothing else. A line too long for `action` is not cut (a
 * cut line could end inside a quote): the action says so instead.
 * 0 or PB_ENOMEM.
 */
static int bisect_action(char *action, size_t cap, const pb_triage_verdict *v, const char *id)
{
    pb_buf bench = PB_BUF_INIT, line = PB_BUF_INIT;
    const char *good = v->last_good, *bad = v->first_bad;
    int rc = 0;
    if (!good || !bad || !strcmp(good, bad)) {
        /* No command line to give: a bisection needs two different commits. */
        snprintf(action, cap,
                 "bisect it between runs %s and %s: %s, so no perfbisect command can be given "
                 "(add a commit property to the reports)",
                 nz(v->last_good_run), nz(v->first_bad_run),
                 good && bad ? "both ran the same commit" : "the reports name no commit");
        return 0;
    }
    if (bench_command(id, &bench) < 0 || pb_buf_puts(&line, "perfbisect run --good ") < 0 ||
        sh_quote(&line, good) < 0 || pb_buf_puts(&line, " --bad ") < 0 ||
        sh_quote(&line, bad) < 0 || pb_buf_puts(&line, " --bench ") < 0 ||
        sh_quote(&line, pb_buf_cstr(&bench)) < 0)
        rc = PB_ENOMEM;
    else if (line.len < cap)
        memcpy(action, line.data, line.len + 1);
    else
        snprintf(action, cap,
                 "bisect it with perfbisect run: the command line for this test (%zu bytes) is "
                 "too long to show here",
                 line.len);
    pb_buf_free(&bench);
    pb_buf_free(&line);
    return rc;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int cmp_verdict_id(const void *a, const void *b)
{
    return strcmp(((const pb_triage_verdict *)a)->id, ((const pb_triage_verdict *)b)->id);
}

static int run_wide(const pb_triage *t, pb_triage_report *r)
{
    size_t ns = t->splits.n, nr = t->nruns;
    size_t *by_rank = NULL, *fails = NULL;
    unsigned char *split_failed = NULL, *split_seen = NULL;
    int rc = PB_ENOMEM;
    r->runs = calloc(nr ? nr : 1, sizeof(*r->runs));
    r->splits = calloc(ns ? ns : 1, sizeof(*r->splits));
    by_rank = malloc((nr ? nr : 1) * sizeof(size_t));
    fails = malloc((nr ? nr : 1) * sizeof(size_t));
    split_failed = calloc((nr ? nr : 1) * (ns ? ns : 1), 1);
    split_seen = calloc((nr ? nr : 1) * (ns ? ns : 1), 1);
    if (!r->runs || !r->splits || !by_rank || !fails || !split_failed || !split_seen)
        goto done;
    r->nruns = nr;
    r->nsplits = ns;
    for (size_t i = 0; i < nr; i++)
        by_rank[t->runs[i].rank] = i;
    for (size_t s = 0; s < ns; s++)
        r->splits[s].name = pb_strmap_key(&t->splits, s);
    for (size_t i = 0; i < t->nfstats; i++) {
        const file_stat *f = &t->fstats[i];
        size_t rk = t->runs[f->run].rank;
        pb_triage_run_view *v = &r->runs[rk];
        v->testcases += f->testcases;
        v->failed_tests += f->failed_tests;
        split_seen[rk * ns + f->split] = 1;
        if (f->failed_tests) {
            r->splits[f->split].failed_tests += f->failed_tests;
            if (!split_failed[rk * ns + f->split])
                r->splits[f->split].failed_runs++;
            split_failed[rk * ns + f->split] = 1;
        }
    }
    for (size_t rk = 0; rk < nr; rk++) {
        const run_info *ri = &t->runs[by_rank[rk]];
        pb_triage_run_view *v = &r->runs[rk];
        v->label = ri->label;
        v->commit = ri->commit[0] ? ri->commit : NULL;
        v->timestamp = ri->timestamp[0] ? ri->timestamp : NULL;
        for (size_t s = 0; s < ns; s++) {
            v->splits += split_seen[rk * ns + s];
            v->failed_splits += split_failed[rk * ns + s];
        }
        fails[rk] = v->failed_tests;
    }
    if (nr) {
        qsort(fails, nr, sizeof(size_t), cmp_size);
        size_t median = fails[nr / 2];
        size_t need = median * 5 > 3 ? median * 5 : 3;
        for (size_t rk = 0; rk < nr; rk++) {
            pb_triage_run_view *v = &r->runs[rk];
            v->everywhere = v->splits >= 2 && v->failed_splits == v->splits &&
                            v->failed_tests >= need && v->failed_tests * 10 >= v->testcases;
        }
    }
    rc = 0;
done:
    free(by_rank);
    free(fails);
    free(split_failed);
    free(split_seen);
    return rc;
}

static void point_ranks(const pb_triage *t, const pb_triage_point *p, size_t *rank)
{
    /* the run's rank from its label pointer */
    for (size_t i = 0; i < t->nruns; i++)
        if (t->runs[i].label == p->run) {
            *rank = t->runs[i].rank;
            return;
        }
    *rank = SIZE_MAX;
}

int pb_triage_classify(pb_triage *t, const pb_triage_options *opt, pb_triage_report **out,
                       pb_error *err)
{
    pb_triage_report *r = calloc(1, sizeof(*r));
    order_item *items = NULL;
    pb_triage_point *pts = NULL;
    size_t maxn = 0, nfail = 0, *step_count = NULL;
    int rc = 0;
    if (!r)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->ids.n; i++) {
        if (t->tests[i].failed_attempts)
            nfail++;
        if (t->tests[i].n > maxn)
            maxn = t->tests[i].n;
    }
    r->items = calloc(nfail ? nfail : 1, sizeof(*r->items));
    items = malloc((maxn ? maxn : 1) * sizeof(*items));
    pts = malloc((maxn ? maxn : 1) * sizeof(*pts));
    step_count = calloc(t->nruns ? t->nruns : 1, sizeof(size_t));
    if (!r->items || !items || !pts || !step_count) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < t->ids.n; i++) {
        const test_data *d = &t->tests[i];
        if (!d->failed_attempts)
            continue;
        size_t np = build_points(t, d, items, pts);
        pb_triage_verdict *v = &r->items[r->n];
        rc = pb_triage_classify_series(pb_strmap_key(&t->ids, i), pts, np, test_limit(d),
                                       test_unit(d), opt, v, err);
        if (rc < 0)
            goto done;
        v->split = d->split != UINT32_MAX ? pb_strmap_key(&t->splits, d->split) : NULL;
        v->message = d->message;
        if (v->cls == PB_TRIAGE_REGRESSION) {
            /* v->action, the perfbisect command, is pb_triage_classify_series's */
            if (v->has_step) {
                size_t rank;
                point_ranks(t, &pts[v->step_index], &rank);
                if (rank < t->nruns)
                    step_count[rank]++;
            }
        }
        r->count[v->cls]++;
        r->n++;
    }
    qsort(r->items, r->n, sizeof(*r->items), cmp_verdict_id);
    if (run_wide(t, r) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t rk = 0; rk < t->nruns; rk++)
        if (step_count[rk] >= 3) {
            pb_triage_broad *b = realloc(r->broad, (r->nbroad + 1) * sizeof(*b));
            if (!b) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                goto done;
            }
            r->broad = b;
            r->broad[r->nbroad].run_index = rk;
            r->broad[r->nbroad].benchmarks = step_count[rk];
            r->nbroad++;
        }
done:
    free(items);
    free(pts);
    free(step_count);
    if (rc < 0) {
        pb_triage_report_free(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

void pb_triage_report_free(pb_triage_report *r)
{
    if (!r)
        return;
    free(r->items);
    free(r->runs);
    free(r->splits);
    free(r->broad);
    free(r);
}

static int cmp_threshold_id(const void *a, const void *b)
{
    return strcmp(((const pb_triage_threshold *)a)->id, ((const pb_triage_threshold *)b)->id);
}

int pb_triage_thresholds(pb_triage *t, pb_strictness s, pb_triage_threshold **out, size_t *n,
                         pb_error *err)
{
    pb_triage_threshold *res = NULL;
    order_item *items = NULL;
    pb_triage_point *pts = NULL;
    double *x = NULL;
    size_t maxn = 0, count = 0;
    int rc = 0;
    for (size_t i = 0; i < t->ids.n; i++)
        if (t->tests[i].n > maxn)
            maxn = t->tests[i].n;
    res = calloc(t->ids.n ? t->ids.n : 1, sizeof(*res));
    items = malloc((maxn ? maxn : 1) * sizeof(*items));
    pts = malloc((maxn ? maxn : 1) * sizeof(*pts));
    x = malloc((maxn ? maxn : 1) * sizeof(*x));
    if (!res || !items || !pts || !x) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < t->ids.n; i++) {
        const test_data *d = &t->tests[i];
        size_t np = build_points(t, d, items, pts), m = 0;
        for (size_t j = 0; j < np; j++)
            if (!isnan(pts[j].value))
                x[m++] = pts[j].value;
        if (m < 2)
            continue;
        pb_triage_threshold *th = &res[count++];
        int lower = fails_by_falling(pts, np, test_limit(d), test_unit(d));
        double shown = lower ? -1 : 1;
        for (size_t j = 0; j < m; j++) /* oriented: higher is worse */
            x[j] *= shown;
        th->id = pb_strmap_key(&t->ids, i);
        th->n = m;
        th->median = shown * pb_stats_median(x, m);
        th->p95 = shown * pb_stats_p95(x, m);
        th->stddev = pb_stats_stddev(x, m);
        th->recommended = shown * oriented_threshold(x, m, s, lower);
        th->current_limit = test_limit(d);
        th->seconds = test_unit(d) == PB_TRIAGE_UNIT_SECONDS;
        th->lower_is_worse = lower;
    }
    qsort(res, count, sizeof(*res), cmp_threshold_id);
done:
    free(items);
    free(pts);
    free(x);
    if (rc < 0) {
        free(res);
        res = NULL;
        count = 0;
    }
    *out = res;
    *n = count;
    return rc;
}
