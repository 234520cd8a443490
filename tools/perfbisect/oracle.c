#include "oracle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfbisect/bench.h"
#include "perfbisect/buf.h"
#include "perfbisect/exec.h"
#include "perfbisect/profile.h"

int oracle_init(oracle *o, pb_repo *repo, pb_store *store, const pb_metric *metric,
                const pb_repo_range *range, const char *good_hex, const oracle_settings *settings,
                volatile sig_atomic_t *interrupted, pb_error *err)
{
    memset(o, 0, sizeof(*o));
    o->pressure = (pb_pressure)PB_PRESSURE_INIT;
    o->repo = repo;
    o->store = store;
    o->metric = metric;
    o->range = range;
    o->settings = *settings;
    o->interrupted = interrupted;
    o->log_fd = o->lock_fd = o->group_file.fd = -1;
    snprintf(o->good, sizeof(o->good), "%s", good_hex);
    pb_store_machine_id(o->machine, sizeof(o->machine));
    o->values = calloc(range->n + 1, sizeof(*o->values));
    if (!o->values)
        return pb_error_set(err, PB_ENOMEM, "out of memory");

    /* Build and benchmark output is kept next to the store, for the curious. */
    pb_buf path = PB_BUF_INIT;
    int rc = 0;
    if (pb_buf_printf(&path, "%sperfbisect", pb_repo_gitdir(repo)) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if (mkdir(pb_buf_cstr(&path), 0777) < 0 && errno != EEXIST) {
        rc = pb_error_set_errno(err, PB_EIO, errno, "cannot create %sperfbisect",
                                pb_repo_gitdir(repo));
        goto done;
    }
    /* One bisection per repository at a time (they share the worktrees):
     * the lock is taken before the log is emptied, so a second run is
     * refused without wiping the first one's log. Its own file, never
     * handed to a child: a daemon a build leaves behind (gradle, sccache)
     * keeps run.log open and would keep the lock. */
    pb_buf_puts(&path, "/run.lock");
    o->lock_fd = open(pb_buf_cstr(&path), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (o->lock_fd < 0 || flock(o->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc =
            o->lock_fd >= 0 && errno == EWOULDBLOCK
                ? pb_error_set(err, PB_EINVAL,
                               "another perfbisect run is bisecting this repository (%s is locked)",
                               pb_buf_cstr(&path))
                : pb_error_set_errno(err, PB_EIO, errno, "cannot lock %s", pb_buf_cstr(&path));
        goto done;
    }
    /* A run killed outright (SIGKILL, the OOM killer) leaves its build
     * running, writing into the worktree this run is about to use, or its
     * benchmark, loading the machine this run measures on (a hung one for
     * good: its --timeout was ours to enforce). */
    int killed = 0;
    pb_buf_clear(&path);
    if (pb_buf_printf(&path, "%sperfbisect/running.group", pb_repo_gitdir(repo)) < 0) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = pb_exec_group_file_open(&o->group_file, pb_buf_cstr(&path), &killed, err)) < 0)
        goto done;
    if (killed)
        fprintf(stderr, "perfbisect: stopped the build or benchmark an interrupted run left "
                        "running\n");
    pb_buf_clear(&path);
    pb_buf_printf(&path, "%sperfbisect/run.log", pb_repo_gitdir(repo));
    o->log_fd = open(pb_buf_cstr(&path), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (o->log_fd < 0)
        rc = pb_error_set_errno(err, PB_EIO, errno, "cannot open %s", pb_buf_cstr(&path));
done:
    pb_buf_free(&path);
    if (rc < 0)
        oracle_free(o);
    return rc;
}

void oracle_free(oracle *o)
{
    if (!o)
        return;
    if (o->values) {
        for (size_t i = 0; i <= o->range->n; i++) {
            free(o->values[i].v);
            free(o->values[i].why);
        }
        free(o->values);
    }
    if (o->log_fd >= 0)
        close(o->log_fd);
    if (o->lock_fd >= 0)
        close(o->lock_fd);
    pb_exec_group_file_close(&o->group_file);
    memset(o, 0, sizeof(*o));
    o->log_fd = o->lock_fd = o->group_file.fd = -1;
}

double oracle_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *oracle_commit_id(const oracle *o, size_t index)
{
    return index < o->range->n ? o->range->commits[index].id : o->good;
}

static pb_store_key key_for(const oracle *o, size_t index)
{
    pb_store_key key = {oracle_commit_id(o, index), o->settings.bench, o->settings.build,
                        pb_metric_spec(o->metric), o->machine};
    return key;
}

static int push_value(oracle_values *vals, double v)
{
    if (vals->n == vals->cap) {
        size_t cap = vals->cap ? vals->cap * 2 : 32;
        double *p = realloc(vals->v, cap * sizeof(*p));
        if (!p)
            return PB_ENOMEM;
        vals->v = p;
        vals->cap = cap;
    }
    vals->v[vals->n++] = v;
    return 0;
}

/*
 * Mark a commit skipped. A failed build is stored too, so a resumed run skips
 * it without building again; a failed benchmark is not: the store's verdict
 * on a build holds for every benchmark, timeout and metric, and a benchmark
 * that failed under one of them must not skip the commit under the others.
 */
static int mark_skipped(oracle *o, size_t index, int build_failed, const char *why, pb_error *err)
{
    pb_store_key key = key_for(o, index);
    o->values[index].skipped = 1;
    free(o->values[index].why);
    o->values[index].why = strdup(why); /* NULL without memory: only a message is lost */
    dprintf(o->log_fd, "perfbisect: skipping %s: %s\n", key.commit, why);
    int rc = build_failed ? pb_store_set_build(o->store, &key, 0, why, err) : 0;
    return rc < 0 ? rc : PB_BISECT_SKIP;
}

/*
 * The worktree for commit `id`: the one that holds it, else the least
 * recently used one that does not hold `keep` (NULL: any). *held says which.
 */
static unsigned pick_slot(oracle *o, const char *id, const char *keep, int *held)
{
    unsigned holds = 0, keeps = 0;
    for (unsigned i = 0; i < PB_REPO_SLOTS; i++) {
        holds |= (unsigned)!strcmp(o->slot_commit[i], id) << i;
        keeps |= (unsigned)(keep && !strcmp(o->slot_commit[i], keep)) << i;
    }
    unsigned use = pb_repo_slot_pick(holds, keeps, o->slot_used);
    *held = holds >> use & 1u;
    if (*held)
        o->slot_used[use] = ++o->tick;
    return use;
}

/*
 * Have commit `index` built in a worktree, rebuilding the least recently used
 * one (never the one holding `keep`, SIZE_MAX: none) when no worktree holds
 * it. Returns 0 with its path (*fresh = 1 when it was materialised just now,
 * so warmup runs are due), PB_BISECT_SKIP when the commit cannot be built,
 * or an error.
 */
static int ensure_built(oracle *o, size_t index, size_t keep, const char **path, int *fresh,
                        pb_error *err)
{
    const char *id = oracle_commit_id(o, index);
    pb_store_key key = key_for(o, index);
    int known = 0, ok = 0, held = 0, rc;
    *fresh = 0;
    if (o->values[index].skipped)
        return PB_BISECT_SKIP;
    unsigned slot = pick_slot(o, id, keep == SIZE_MAX ? NULL : oracle_commit_id(o, keep), &held);
    if (held) {
        *path = o->slot_path[slot];
        return 0;
    }
    if ((rc = pb_store_get_build(o->store, &key, &known, &ok, err)) < 0)
        return rc;
    if (known && !ok && !o->settings.retry_builds) {
        o->values[index].skipped = 1;
        if (!o->values[index].why)
            o->values[index].why =
                strdup("its build failed in an earlier run (stored; --retry-builds tries again)");
        return PB_BISECT_SKIP;
    }
    /* Empty and least recent until the build below succeeds. */
    o->slot_commit[slot][0] = '\0';
    o->slot_used[slot] = 0;
    if ((rc = pb_repo_checkout(o->repo, id, slot, o->settings.build ? o->settings.build : "", path,
                               err)) < 0)
        return rc;
    o->slot_path[slot] = *path;
    if (o->settings.build && *o->settings.build) {
        pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
        pb_exec_result res = {0};
        opt.cwd = *path;
        opt.stdout_fd = o->log_fd;
        opt.stderr_fd = o->log_fd;
        opt.cancel = o->interrupted;
        opt.group_file = &o->group_file;
        dprintf(o->log_fd, "perfbisect: building %s: %s\n", id, o->settings.build);
        double start = oracle_now();
        rc = pb_exec_run(o->settings.build, &opt, &res, err);
        o->build_sec += oracle_now() - start;
        o->builds++;
        if (rc < 0) {
            pb_exec_result_free(&res);
            return rc;
        }
        if (!pb_exec_result_ok(&res)) {
            pb_buf why = PB_BUF_INIT;
            pb_buf_puts(&why, "build ");
            pb_exec_result_describe(&res, &why);
            pb_exec_result_free(&res);
            rc = mark_skipped(o, index, 1, pb_buf_cstr(&why), err);
            pb_buf_free(&why);
            return rc;
        }
        pb_exec_result_free(&res);
        if (*o->interrupted)
            return pb_error_set(err, PB_EINTR, "interrupted");
        if ((rc = pb_store_set_build(o->store, &key, 1, NULL, err)) < 0)
            return rc;
    }
    snprintf(o->slot_commit[slot], sizeof(o->slot_commit[slot]), "%s", id);
    o->slot_used[slot] = ++o->tick;
    *fresh = 1;
    return 0;
}

/* One benchmark run of the commit built in `path`; warmup runs first when asked. */
static int run_once(oracle *o, size_t index, const char *path, unsigned warmup, double *value,
                    pb_error *err)
{
    pb_bench_options opt = PB_BENCH_OPTIONS_INIT;
    pb_error run_err = PB_ERROR_INIT;
    opt.runs = 1;
    opt.warmup = warmup;
    opt.timeout_sec = o->settings.timeout_sec;
    opt.cwd = path;
    opt.metric = o->metric;
    opt.cancel = o->interrupted;
    opt.group_file = &o->group_file;
    pb_pressure_mark mark = pb_pressure_now();
    int rc = pb_bench_run(o->settings.bench, &opt, value, &run_err);
    o->bench_sec += pb_pressure_add_since(&o->pressure, mark);
    if (*o->interrupted)
        return pb_error_set(err, PB_EINTR, "interrupted");
    if (rc == PB_EINVAL) {
        char why[PB_ERROR_MSG_MAX + 16];
        snprintf(why, sizeof(why), "benchmark %s", pb_error_message(&run_err));
        return mark_skipped(o, index, 0, why, err);
    }
    if (rc < 0)
        return pb_error_set(err, rc, "%s", pb_error_message(&run_err));
    o->fresh_runs++;
    return 0;
}

/* Load the stored values of `index`/`kind` beyond what memory holds, up to `want`. */
static int load_cached(oracle *o, size_t index, const char *kind, oracle_values *vals, size_t want,
                       size_t counted_from, pb_error *err)
{
    pb_store_key key = key_for(o, index);
    double *cached = NULL;
    size_t ncached = 0;
    int rc = pb_store_get_values(o->store, &key, kind, &cached, &ncached, err);
    for (size_t i = vals->n; rc == 0 && i < ncached && vals->n < want; i++) {
        rc = push_value(vals, cached[i]);
        o->cached_runs += i >= counted_from;
    }
    free(cached);
    return rc == PB_ENOMEM ? pb_error_set(err, rc, "out of memory") : rc;
}

/* The progress line, cut to the terminal's width (a wrapped line would stay
 * behind at every redraw), with the runs the commit has so far. */
static void draw_progress(oracle *o)
{
    const pb_bisect_progress *p = &o->shown;
    struct winsize ws;
    size_t width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
    const char *subject =
        p->commit < o->range->n ? o->range->commits[p->commit].subject : "(the good end)";
    char line[512];
    snprintf(line, sizeof line, "[%s] probe %zu of ~%zu, %zu candidate%s left, %zu run%s: %.10s %s",
             p->phase, p->probe, p->probes_estimate, p->remaining, p->remaining == 1 ? "" : "s",
             p->runs, p->runs == 1 ? "" : "s", oracle_commit_id(o, p->commit),
             subject ? subject : "");
    if (width - 1 < sizeof line) {
        size_t cut = width - 1;
        while (cut > 0 && ((unsigned char)line[cut] & 0xC0) == 0x80)
            cut--; /* not inside a UTF-8 character */
        line[cut] = '\0';
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

/*
 * One fresh run of `index` in `path`, stored under `kind` at once, then read
 * back: `vals` stays the store's values in the store's order, also when
 * another run sharing the store (--db) added some meanwhile. Kept instead,
 * the next load_cached, which goes by position, would count one value twice
 * and miss another.
 */
static int measure_once(oracle *o, size_t index, const char *path, unsigned warmup,
                        const char *kind, oracle_values *vals, pb_error *err)
{
    pb_store_key key = key_for(o, index);
    size_t had = vals->n;
    double v;
    int rc = run_once(o, index, path, warmup, &v, err);
    if (rc == 0 && (rc = pb_store_add_values(o->store, &key, kind, &v, 1, err)) == 0 &&
        (rc = load_cached(o, index, kind, vals, SIZE_MAX, SIZE_MAX, err)) == 0 && vals->n > had + 1)
        o->cached_runs += vals->n - had - 1; /* the other run's */
    if (rc == 0 && o->settings.show_progress && o->have_shown && o->shown.commit == index) {
        o->shown.runs++;
        draw_progress(o);
    }
    return rc;
}

static int oracle_measure(void *ctx, size_t index, unsigned runs, const double **values, size_t *n,
                          pb_error *err)
{
    oracle *o = ctx;
    oracle_values *vals = &o->values[index];
    size_t want = vals->n + runs;
    int rc;
    if (vals->skipped)
        return PB_BISECT_SKIP;
    if ((rc = load_cached(o, index, "probe", vals, want, 0, err)) < 0)
        return rc;
    if (vals->n < want) {
        const char *path = NULL;
        int fresh = 0;
        if ((rc = ensure_built(o, index, SIZE_MAX, &path, &fresh, err)) != 0)
            return rc;
        for (unsigned warmup = fresh ? o->settings.warmup : 0; vals->n < want; warmup = 0)
            if ((rc = measure_once(o, index, path, warmup, "probe", vals, err)) != 0)
                return rc;
    }
    *values = vals->v;
    *n = vals->n;
    return 0;
}

/*
 * Fresh runs of two commits side by side, each in its own worktree,
 * alternating so that a drifting machine hits both alike. A commit verified
 * twice (as a culprit, then as the parent of another) gets new runs the
 * second time, not the first ones again: those are evidence already. The
 * store keeps them in order, so a resumed bisection is handed the same.
 */
static int oracle_compare(void *ctx, size_t before, size_t after, unsigned runs,
                          double *before_values, double *after_values, pb_error *err)
{
    oracle *o = ctx;
    oracle_values b = {0}, a = {0};
    const char *bpath = NULL, *apath = NULL;
    size_t b0 = o->values[before].verify_used, a0 = o->values[after].verify_used;
    size_t bn = b0 + runs, an = a0 + runs;
    int rc;
    if ((rc = load_cached(o, before, "verify", &b, bn, b0, err)) < 0 ||
        (rc = load_cached(o, after, "verify", &a, an, a0, err)) < 0)
        goto done;
    if (b.n < bn || a.n < an) {
        int fresh_b = 0, fresh_a = 0;
        if ((rc = ensure_built(o, before, after, &bpath, &fresh_b, err)) != 0 ||
            (rc = ensure_built(o, after, before, &apath, &fresh_a, err)) != 0)
            goto done;
        unsigned warm_b = fresh_b ? o->settings.warmup : 0;
        unsigned warm_a = fresh_a ? o->settings.warmup : 0;
        for (; b.n < bn || a.n < an; warm_b = warm_a = 0) {
            if (b.n < bn && (rc = measure_once(o, before, bpath, warm_b, "verify", &b, err)) != 0)
                goto done;
            if (a.n < an && (rc = measure_once(o, after, apath, warm_a, "verify", &a, err)) != 0)
                goto done;
        }
    }
    memcpy(before_values, b.v + b0, runs * sizeof(double));
    memcpy(after_values, a.v + a0, runs * sizeof(double));
    o->values[before].verify_used = bn;
    o->values[after].verify_used = an;
done:
    free(b.v);
    free(a.v);
    return rc;
}

static void oracle_progress(void *ctx, const pb_bisect_progress *p)
{
    oracle *o = ctx;
    if (!o->settings.show_progress)
        return;
    o->shown = *p;
    o->have_shown = 1;
    draw_progress(o);
}

int oracle_profile(oracle *o, size_t index, const char *rt, const char *out_path, double min_sec,
                   pb_error *err)
{
    const char *path = NULL;
    pb_buf env = PB_BUF_INIT;
    char *env_add[8] = {0};
    size_t nenv = 0;
    int fresh = 0;
    int rc = ensure_built(o, index, SIZE_MAX, &path, &fresh, err);
    if (rc == PB_BISECT_SKIP)
        rc = pb_error_set(err, PB_ERROR, "cannot build %s to profile it",
                          oracle_commit_id(o, index));
    if (rc < 0 || (rc = pb_profile_clear_parts(out_path, err)) < 0 ||
        (rc = pb_profile_record_env(rt, out_path, 999, &env, err)) < 0)
        goto done;
    for (char *p = env.data; p && p < env.data + env.len && nenv < 7; p += strlen(p) + 1)
        env_add[nenv++] = p;
    double start = oracle_now();
    for (unsigned runs = 0; runs < 1 || (oracle_now() - start < min_sec && runs < 1000); runs++) {
        pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
        pb_exec_result res = {0};
        opt.cwd = path;
        opt.env_add = env_add;
        opt.cancel = o->interrupted;
        opt.timeout_sec = o->settings.timeout_sec;
        opt.stderr_fd = o->log_fd;
        opt.group_file = &o->group_file;
        rc = pb_exec_run(o->settings.bench, &opt, &res, err);
        if (rc == 0 && !pb_exec_result_ok(&res)) {
            pb_buf why = PB_BUF_INIT;
            pb_exec_result_describe(&res, &why);
            rc = pb_error_set(err, PB_ERROR, "profiling %s: benchmark %s",
                              oracle_commit_id(o, index), pb_buf_cstr(&why));
            pb_buf_free(&why);
        }
        pb_exec_result_free(&res);
        if (rc < 0)
            goto done;
    }
    rc = pb_profile_collect_parts(out_path, NULL, err);
done:
    pb_buf_free(&env);
    return rc;
}

void oracle_bind(oracle *o, pb_bisect_oracle *out)
{
    out->ctx = o;
    out->measure = oracle_measure;
    out->compare = oracle_compare;
    out->progress = oracle_progress;
}
