/*
 * store.c — the SQLite result store.
 *
 * One connection per pb_store. Writes are "BEGIN IMMEDIATE ... COMMIT" so
 * that two processes never deadlock upgrading a read lock, and the busy
 * timeout makes a writer wait for another instead of failing at once. The
 * schema is versioned with PRAGMA user_version; migrations[] takes a file
 * from any older version to PB_STORE_SCHEMA_VERSION inside one transaction.
 */
#include "perfbisect/store.h"
#include "perfbisect/buf.h"

#include <sqlite3.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 15000

struct pb_store {
    sqlite3 *db;
    char *path;
};

/* migrations[v] takes the schema from version v to v + 1. */
static const char *const migrations[PB_STORE_SCHEMA_VERSION] = {
    "CREATE TABLE samples("
    "  id INTEGER PRIMARY KEY,"
    "  commit_id TEXT NOT NULL, bench TEXT NOT NULL, build TEXT NOT NULL,"
    "  metric TEXT NOT NULL, machine TEXT NOT NULL, kind TEXT NOT NULL,"
    "  seq INTEGER NOT NULL, value REAL NOT NULL, created REAL NOT NULL,"
    "  UNIQUE (commit_id, bench, build, metric, machine, kind, seq));"
    "CREATE TABLE builds("
    "  commit_id TEXT NOT NULL, build TEXT NOT NULL, machine TEXT NOT NULL,"
    "  ok INTEGER NOT NULL, log_tail TEXT, created REAL NOT NULL,"
    "  PRIMARY KEY (commit_id, build, machine));"
    "CREATE TABLE bisect_log("
    "  id INTEGER PRIMARY KEY, session TEXT NOT NULL, line TEXT NOT NULL,"
    "  created REAL NOT NULL);"
    "CREATE INDEX bisect_log_session ON bisect_log(session, id);"
    "CREATE TABLE history("
    "  id INTEGER PRIMARY KEY, benchmark TEXT NOT NULL, commit_id TEXT NOT NULL,"
    "  branch TEXT NOT NULL, timestamp INTEGER NOT NULL, value REAL NOT NULL,"
    "  unit TEXT NOT NULL, source TEXT NOT NULL);"
    "CREATE INDEX history_benchmark ON history(benchmark, timestamp, id);",
};

static const char *nz(const char *s)
{
    return s ? s : "";
}

static double now_epoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Map an SQLite result code to ours and record "path: what: sqlite message". */
static int db_fail(pb_store *store, pb_error *err, int src, const char *what)
{
    int code;
    switch (src & 0xff) {
    case SQLITE_NOMEM:
        code = PB_ENOMEM;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = PB_ETIMEOUT;
        break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        code = PB_EIO;
        break;
    default:
        code = PB_ERROR;
        break;
    }
    const char *msg = store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(src);
    if ((src & 0xff) == SQLITE_NOTADB)
        return pb_error_set(err, code, "%s: not a perfbisect store (%s)", store->path, msg);
    /* "unable to open database file" alone does not say why: a missing
     * directory, a directory given as the file, a read-only file system. */
    int sys = store->db ? sqlite3_system_errno(store->db) : 0;
    if ((src & 0xff) == SQLITE_CANTOPEN && sys)
        return pb_error_set_errno(err, code, sys, "%s: %s: %s", store->path, what, msg);
    return pb_error_set(err, code, "%s: %s: %s", store->path, what, msg);
}

static int exec(pb_store *store, const char *sql, const char *what, pb_error *err)
{
    int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(store, err, rc, what);
}

static int prepare(pb_store *store, sqlite3_stmt **st, const char *sql, pb_error *err)
{
    int rc = sqlite3_prepare_v2(store->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(store, err, rc, "cannot prepare a query");
}

static int begin(pb_store *store, pb_error *err)
{
    return exec(store, "BEGIN IMMEDIATE", "cannot start a transaction", err);
}

/* Commit when rc == 0, roll back otherwise; returns the first failure. */
static int finish(pb_store *store, int rc, pb_error *err)
{
    if (rc == 0)
        return exec(store, "COMMIT", "cannot commit", err);
    sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Run a single-value query returning an integer. */
static int query_int(pb_store *store, const char *sql, int64_t *out, pb_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(store, &st, sql, err);
    if (rc < 0)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = db_fail(store, err, s, "cannot read the schema");
    sqlite3_finalize(st);
    return rc;
}

/* The file header's application id of a store: "PBdb". */
#define STORE_APPLICATION_ID 0x50426462

/*
 * Refuse another program's database before anything is written to it:
 * switching it to WAL alone would change its file for good. Ours: our
 * application id; or none and no tables (new); or none, a schema version and
 * our tables (a store from before the id). One statement, so one snapshot:
 * another process may create the schema meanwhile. The first statement to
 * read the file, so a file that is no database at all fails here too.
 */
static int check_foreign(pb_store *store, pb_error *err)
{
    char sql[512];
    int64_t foreign = 0;
    snprintf(sql, sizeof(sql),
             "SELECT CASE WHEN a.application_id = %d THEN 0 "
             "WHEN a.application_id <> 0 THEN 1 "
             "WHEN (SELECT count(*) FROM sqlite_master) = 0 THEN 0 "
             "ELSE v.user_version = 0 OR (SELECT count(*) FROM sqlite_master WHERE type = 'table' "
             "AND name IN ('samples', 'builds', 'bisect_log', 'history')) < 4 END "
             "FROM pragma_application_id AS a, pragma_user_version AS v",
             STORE_APPLICATION_ID);
    int rc = query_int(store, sql, &foreign, err);
    if (rc == 0 && foreign)
        rc = pb_error_set(err, PB_EINVAL, "%s: an SQLite database, but not a perfbisect store",
                          store->path);
    return rc;
}

static int migrate(pb_store *store, pb_error *err)
{
    int rc = 0;
    int64_t version = 0;
    char sql[64];

    int64_t app = 0;
    if ((rc = query_int(store, "PRAGMA user_version", &version, err)) < 0 ||
        (rc = query_int(store, "PRAGMA application_id", &app, err)) < 0)
        return rc;
    if (version == PB_STORE_SCHEMA_VERSION && app == STORE_APPLICATION_ID)
        return 0;
    if ((rc = begin(store, err)) < 0)
        return rc;
    /* Again inside the write lock: another process may have just done it. */
    if ((rc = query_int(store, "PRAGMA user_version", &version, err)) < 0)
        goto done;
    if (version > PB_STORE_SCHEMA_VERSION) {
        rc = pb_error_set(err, PB_EINVAL,
                          "%s: written by a newer perfbisect (schema %lld, this one knows %d)",
                          store->path, (long long)version, PB_STORE_SCHEMA_VERSION);
        goto done;
    }
    if (version == 0 && (rc = check_foreign(store, err)) < 0)
        goto done;
    for (int64_t v = version; v < PB_STORE_SCHEMA_VERSION; v++)
        if ((rc = exec(store, migrations[v], "cannot create the schema", err)) < 0)
            goto done;
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", PB_STORE_SCHEMA_VERSION);
    if ((rc = exec(store, sql, "cannot set the schema version", err)) < 0)
        goto done;
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", STORE_APPLICATION_ID);
    rc = exec(store, sql, "cannot set the application id", err);
done:
    return finish(store, rc, err);
}

int pb_store_open(pb_store **out, const char *path, pb_error *err)
{
    int rc = 0, s;
    pb_store *store = NULL;
    sqlite3_stmt *st = NULL;

    *out = NULL;
    if (!path || !*path)
        return pb_error_set(err, PB_EINVAL, "empty store path");
    store = calloc(1, sizeof(*store));
    if (!store || !(store->path = strdup(path))) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    s = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (s != SQLITE_OK) {
        rc = db_fail(store, err, s, "cannot open");
        goto done;
    }
    sqlite3_extended_result_codes(store->db, 1);
    sqlite3_busy_timeout(store->db, BUSY_TIMEOUT_MS);
    if ((rc = check_foreign(store, err)) < 0 ||
        (rc = prepare(store, &st, "PRAGMA journal_mode = WAL", err)) < 0)
        goto done;
    s = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (s != SQLITE_ROW) {
        rc = db_fail(store, err, s, "cannot switch to WAL");
        goto done;
    }
    /* NORMAL: in WAL mode a commit survives any crash of ours without an fsync per
     * run (which cost ~10 ms a probe run); only a power cut may drop the last few. */
    if ((rc = exec(store, "PRAGMA synchronous = NORMAL", "cannot set synchronous", err)) < 0)
        goto done;
    if ((rc = migrate(store, err)) < 0)
        goto done;
    *out = store;
    store = NULL;
done:
    sqlite3_finalize(st);
    pb_store_free(store);
    return rc;
}

void pb_store_free(pb_store *store)
{
    if (!store)
        return;
    sqlite3_close_v2(store->db);
    free(store->path);
    free(store);
}

char *pb_store_default_path(const char *gitdir)
{
    pb_buf b = PB_BUF_INIT;
    size_t len = strlen(gitdir);
    if (pb_buf_printf(&b, "%s%sperfbisect.db", gitdir, len && gitdir[len - 1] == '/' ? "" : "/") <
        0) {
        pb_buf_free(&b);
        return NULL;
    }
    return pb_buf_detach(&b);
}

/* Bind the five key fields starting at parameter `first`. */
static void bind_key(sqlite3_stmt *st, int first, const pb_store_key *key)
{
    sqlite3_bind_text(st, first, nz(key->commit), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 1, nz(key->bench), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 2, nz(key->build), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 3, nz(key->metric), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 4, nz(key->machine), -1, SQLITE_STATIC);
}

#define KEY_WHERE                                                                                  \
    "commit_id = ?1 AND bench = ?2 AND build = ?3 AND metric = ?4 AND machine = ?5 AND kind = ?6"

int pb_store_add_values(pb_store *store, const pb_store_key *key, const char *kind,
                        const double *values, size_t n, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *next = NULL, *ins = NULL;
    int64_t seq = 0;

    for (size_t i = 0; i < n; i++)
        if (isnan(values[i]))
            return pb_error_set(err, PB_EINVAL, "cannot store a NaN measurement");
    if (n == 0)
        return 0;
    if ((rc = begin(store, err)) < 0)
        return rc;
    if ((rc = prepare(store, &next,
                      "SELECT COALESCE(MAX(seq) + 1, 0) FROM samples WHERE " KEY_WHERE, err)) < 0 ||
        (rc = prepare(store, &ins,
                      "INSERT INTO samples (commit_id, bench, build, metric, machine, kind, seq, "
                      "value, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                      err)) < 0)
        goto done;
    bind_key(next, 1, key);
    sqlite3_bind_text(next, 6, nz(kind), -1, SQLITE_STATIC);
    if ((s = sqlite3_step(next)) != SQLITE_ROW) {
        rc = db_fail(store, err, s, "cannot read the samples");
        goto done;
    }
    seq = sqlite3_column_int64(next, 0);
    bind_key(ins, 1, key);
    sqlite3_bind_text(ins, 6, nz(kind), -1, SQLITE_STATIC);
    sqlite3_bind_double(ins, 9, now_epoch());
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 7, seq + (int64_t)i);
        sqlite3_bind_double(ins, 8, values[i]);
        if ((s = sqlite3_step(ins)) != SQLITE_DONE) {
            rc = db_fail(store, err, s, "cannot store a sample");
            goto done;
        }
        sqlite3_reset(ins);
    }
done:
    sqlite3_finalize(next);
    sqlite3_finalize(ins);
    return finish(store, rc, err);
}

int pb_store_get_values(pb_store *store, const pb_store_key *key, const char *kind, double **values,
                        size_t *n, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;
    double *v = NULL;
    size_t len = 0, cap = 0;

    *values = NULL;
    *n = 0;
    if ((rc = prepare(store, &st, "SELECT value FROM samples WHERE " KEY_WHERE " ORDER BY seq",
                      err)) < 0)
        goto done;
    bind_key(st, 1, key);
    sqlite3_bind_text(st, 6, nz(kind), -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            double *p = realloc(v, nc * sizeof(*v));
            if (!p) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                goto done;
            }
            v = p;
            cap = nc;
        }
        v[len++] = sqlite3_column_double(st, 0);
    }
    if (s != SQLITE_DONE) {
        rc = db_fail(store, err, s, "cannot read the samples");
        goto done;
    }
    *values = v;
    *n = len;
    v = NULL;
done:
    free(v);
    sqlite3_finalize(st);
    return rc;
}

int pb_store_set_build(pb_store *store, const pb_store_key *key, int ok, const char *log_tail,
                       pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;

    if ((rc = prepare(store, &st,
                      "INSERT OR REPLACE INTO builds (commit_id, build, machine, ok, log_tail, "
                      "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      err)) < 0)
        goto done;
    sqlite3_bind_text(st, 1, nz(key->commit), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, nz(key->build), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, nz(key->machine), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, ok ? 1 : 0);
    if (log_tail)
        sqlite3_bind_text(st, 5, log_tail, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, now_epoch());
    /* Outside BEGIN, one statement is its own (durable) transaction. */
    if ((s = sqlite3_step(st)) != SQLITE_DONE)
        rc = db_fail(store, err, s, "cannot store a build result");
done:
    sqlite3_finalize(st);
    return rc;
}

int pb_store_get_build(pb_store *store, const pb_store_key *key, int *known, int *ok, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;

    *known = 0;
    *ok = 0;
    if ((rc = prepare(store, &st,
                      "SELECT ok FROM builds WHERE commit_id = ?1 AND build = ?2 AND machine = ?3",
                      err)) < 0)
        goto done;
    sqlite3_bind_text(st, 1, nz(key->commit), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, nz(key->build), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, nz(key->machine), -1, SQLITE_STATIC);
    s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *known = 1;
        *ok = sqlite3_column_int(st, 0) != 0;
    } else if (s != SQLITE_DONE) {
        rc = db_fail(store, err, s, "cannot read a build result");
    }
done:
    sqlite3_finalize(st);
    return rc;
}

int pb_store_log_append(pb_store *store, const char *session, const char *line, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;

    if ((rc = prepare(store, &st,
                      "INSERT INTO bisect_log (session, line, created) VALUES (?1, ?2, ?3)", err)) <
        0)
        goto done;
    sqlite3_bind_text(st, 1, nz(session), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, nz(line), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, now_epoch());
    if ((s = sqlite3_step(st)) != SQLITE_DONE)
        rc = db_fail(store, err, s, "cannot append to the log");
done:
    sqlite3_finalize(st);
    return rc;
}

void pb_store_lines_free(char **lines, size_t n)
{
    if (!lines)
        return;
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

int pb_store_log_read(pb_store *store, const char *session, char ***lines, size_t *n, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;
    char **v = NULL;
    size_t len = 0, cap = 0;

    *lines = NULL;
    *n = 0;
    if ((rc = prepare(store, &st, "SELECT line FROM bisect_log WHERE session = ?1 ORDER BY id",
                      err)) < 0)
        goto done;
    sqlite3_bind_text(st, 1, nz(session), -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **p = realloc(v, nc * sizeof(*v));
            if (!p) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                goto done;
            }
            v = p;
            cap = nc;
        }
        const unsigned char *text = sqlite3_column_text(st, 0);
        if (!(v[len] = strdup(text ? (const char *)text : ""))) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
        len++;
    }
    if (s != SQLITE_DONE) {
        rc = db_fail(store, err, s, "cannot read the log");
        goto done;
    }
    *lines = v;
    *n = len;
    v = NULL;
done:
    pb_store_lines_free(v, len);
    sqlite3_finalize(st);
    return rc;
}

int pb_store_log_clear(pb_store *store, const char *session, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;

    if ((rc = prepare(store, &st, "DELETE FROM bisect_log WHERE session = ?1", err)) < 0)
        goto done;
    sqlite3_bind_text(st, 1, nz(session), -1, SQLITE_STATIC);
    if ((s = sqlite3_step(st)) != SQLITE_DONE)
        rc = db_fail(store, err, s, "cannot clear the log");
done:
    sqlite3_finalize(st);
    return rc;
}

int pb_store_history_add(pb_store *store, const pb_store_history_row *rows, size_t n, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;

    for (size_t i = 0; i < n; i++)
        if (isnan(rows[i].value))
            return pb_error_set(err, PB_EINVAL, "cannot store a NaN value for %s",
                                nz(rows[i].benchmark));
    if (n == 0)
        return 0;
    if ((rc = begin(store, err)) < 0)
        return rc;
    if ((rc = prepare(store, &st,
                      "INSERT INTO history (benchmark, commit_id, branch, timestamp, value, unit, "
                      "source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      err)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const pb_store_history_row *r = &rows[i];
        sqlite3_bind_text(st, 1, nz(r->benchmark), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, nz(r->commit), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, nz(r->branch), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r->timestamp);
        sqlite3_bind_double(st, 5, r->value);
        sqlite3_bind_text(st, 6, nz(r->unit), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, nz(r->source), -1, SQLITE_STATIC);
        if ((s = sqlite3_step(st)) != SQLITE_DONE) {
            rc = db_fail(store, err, s, "cannot store history");
            goto done;
        }
        sqlite3_reset(st);
    }
done:
    sqlite3_finalize(st);
    return finish(store, rc, err);
}

void pb_store_history_entry_clear(pb_store_history_entry *e)
{
    free(e->benchmark);
    free(e->commit);
    free(e->branch);
    free(e->unit);
    free(e->source);
    e->benchmark = e->commit = e->branch = e->unit = e->source = NULL;
}

void pb_store_history_free(pb_store_history_entry *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++)
        pb_store_history_entry_clear(&rows[i]);
    free(rows);
}

static char *column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

int pb_store_history_query(pb_store *store, const char *benchmark, pb_store_history_entry **rows,
                           size_t *n, pb_error *err)
{
    int rc = 0, s;
    sqlite3_stmt *st = NULL;
    pb_store_history_entry *v = NULL;
    size_t len = 0, cap = 0;

    *rows = NULL;
    *n = 0;
    if ((rc = prepare(store, &st,
                      "SELECT benchmark, commit_id, branch, timestamp, value, unit, source "
                      "FROM history WHERE ?1 IS NULL OR benchmark = ?1 "
                      "ORDER BY benchmark, timestamp, id",
                      err)) < 0)
        goto done;
    if (benchmark)
        sqlite3_bind_text(st, 1, benchmark, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            pb_store_history_entry *p = realloc(v, nc * sizeof(*v));
            if (!p) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                goto done;
            }
            v = p;
            cap = nc;
        }
        pb_store_history_entry *e = &v[len++];
        memset(e, 0, sizeof(*e));
        e->benchmark = column_dup(st, 0);
        e->commit = column_dup(st, 1);
        e->branch = column_dup(st, 2);
        e->timestamp = sqlite3_column_int64(st, 3);
        e->value = sqlite3_column_double(st, 4);
        e->unit = column_dup(st, 5);
        e->source = column_dup(st, 6);
        if (!e->benchmark || !e->commit || !e->branch || !e->unit || !e->source) {
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (s != SQLITE_DONE) {
        rc = db_fail(store, err, s, "cannot read history");
        goto done;
    }
    *rows = v;
    *n = len;
    v = NULL;
done:
    pb_store_history_free(v, len);
    sqlite3_finalize(st);
    return rc;
}

/* The CPU's name from /proc/cpuinfo (x86 "model name", else ARM-style fields). */
static void cpu_model(char *out, size_t size)
{
    static const char *const keys[] = {"model name", "Hardware", "cpu model",
                                       "Processor",  "CPU part", "cpu"};
    char line[512];
    size_t best = sizeof(keys) / sizeof(keys[0]);
    int lines = 0;

    out[0] = '\0';
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp)
        return;
    /* The first processor's block says it all; the cap bounds a strange file. */
    while (best > 0 && lines++ < 4096 && fgets(line, sizeof(line), fp)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        for (size_t k = 0; k < best; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(line, keys[k], kl) != 0 ||
                (line[kl] != ' ' && line[kl] != '\t' && line[kl] != ':'))
                continue;
            const char *v = colon + 1;
            v += strspn(v, " \t");
            snprintf(out, size, "%.*s", (int)strcspn(v, "\n"), v);
            best = k;
            break;
        }
    }
    fclose(fp);
}

void pb_store_machine_id(char *out, size_t size)
{
    char host[256] = "", model[256], host_safe[41];
    struct utsname u;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    pb_buf b = PB_BUF_INIT;

    if (!out || size == 0)
        return;
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    cpu_model(model, sizeof(model));
    if (uname(&u) < 0)
        snprintf(u.machine, sizeof(u.machine), "unknown");
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);

    if (pb_buf_printf(&b, "%s\n%s\n%s\n%ld", host, model, u.machine, ncpu) == 0)
        for (size_t i = 0; i < b.len; i++)
            h = (h ^ (unsigned char)b.data[i]) * 1099511628211ULL;
    pb_buf_free(&b);

    /* Readable prefix: the host name up to its first dot, in a safe alphabet. */
    size_t k = 0;
    for (const char *p = host; *p && *p != '.' && k < sizeof(host_safe) - 1; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        host_safe[k++] = ok ? c : '_';
    }
    host_safe[k] = '\0';
    snprintf(out, size, "%s-%016llx", host_safe, (unsigned long long)h);
}
