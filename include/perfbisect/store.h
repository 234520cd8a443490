/*
 * store.h — the result store: one SQLite file shared by every command.
 *
 * Holds measured values keyed by (commit, benchmark command, build command,
 * metric, machine), build outcomes keyed by (commit, build command,
 * machine), a line log per bisection session (for resume and for a
 * `git bisect log`-like report), and imported CI history.
 *
 * Every write is its own transaction, committed before the call returns
 * (WAL journal, synchronous=NORMAL): a crash, kill or Ctrl-C loses nothing
 * already stored; a power cut may lose the last few runs (never the
 * database's consistency), which a resumed bisection simply measures again. Several processes may
 * open the same file at once (writers wait up to a busy timeout for each other).
 *
 * The default file is "perfbisect.db" inside the repository's git directory
 * (see pb_store_default_path); tools let --db or PERFBISECT_DB choose another.
 */
#ifndef PERFBISECT_STORE_H
#define PERFBISECT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "perfbisect/error.h"

typedef struct pb_store pb_store;

/* The schema version this library writes (kept in PRAGMA user_version). */
#define PB_STORE_SCHEMA_VERSION 1

/* Enough for pb_store_machine_id's output, NUL included. */
#define PB_STORE_MACHINE_ID_MAX 96

/*
 * Open (creating if needed) the store at `path`; ":memory:" gives a private
 * in-memory store. Creates or migrates the schema. A file that is not an
 * SQLite database, or is corrupt, fails with PB_EIO; one written by a newer
 * perfbisect (higher schema version) with PB_EINVAL. Free with
 * pb_store_free.
 */
int pb_store_open(pb_store **out, const char *path, pb_error *err);

/* NULL-safe. */
void pb_store_free(pb_store *store);

/* "<gitdir>perfbisect.db" (gitdir as pb_repo_gitdir gives it); caller frees; NULL when out of
 * memory. */
char *pb_store_default_path(const char *gitdir);

/*
 * What a measurement is keyed by. NULL fields mean "" (e.g. no build
 * command). `machine` normally comes from pb_store_machine_id.
 */
typedef struct pb_store_key {
    const char *commit;  /* 40-hex commit id */
    const char *bench;   /* the benchmark command, as given */
    const char *build;   /* the build command, as given */
    const char *metric;  /* the metric spec ("wall", "regex:...") */
    const char *machine; /* pb_store_machine_id */
} pb_store_key;

/*
 * Append `n` values (runs of the benchmark) under `key` and `kind` (e.g.
 * "probe" or "verify"; NULL means ""), each its own row with the next
 * sequence number and the current time. One transaction, durable on return.
 */
int pb_store_add_values(pb_store *store, const pb_store_key *key, const char *kind,
                        const double *values, size_t n, pb_error *err);

/*
 * Every value stored under `key` and `kind`, in insertion order. `*values`
 * is malloc'd (NULL when *n == 0); the caller frees it.
 */
int pb_store_get_values(pb_store *store, const pb_store_key *key, const char *kind, double **values,
                        size_t *n, pb_error *err);

/*
 * Record whether the build of key->commit with key->build on key->machine
 * succeeded (key->bench and key->metric are ignored: a build does not depend
 * on them). Replaces an earlier record. `log_tail` (may be NULL) is the end
 * of the build's output, kept for the report.
 */
int pb_store_set_build(pb_store *store, const pb_store_key *key, int ok, const char *log_tail,
                       pb_error *err);

/* *known = 1 and *ok = the outcome when a build was recorded; *known = 0 otherwise. */
int pb_store_get_build(pb_store *store, const pb_store_key *key, int *known, int *ok,
                       pb_error *err);

/*
 * The bisection log: lines appended under `session` (a key string the
 * caller builds, e.g. from good..bad, bench, build, metric, machine), read
 * back in order. Each append is durable on return.
 */
int pb_store_log_append(pb_store *store, const char *session, const char *line, pb_error *err);

/* `*lines` is an array of `*n` malloc'd strings; free with pb_store_lines_free. */
int pb_store_log_read(pb_store *store, const char *session, char ***lines, size_t *n,
                      pb_error *err);

/* Forget a session's log (to start a bisection afresh). */
int pb_store_log_clear(pb_store *store, const char *session, pb_error *err);

/* NULL-safe. */
void pb_store_lines_free(char **lines, size_t n);

/*
 * A stable id of this machine: "<hostname>-<16 hex>", the hex a hash of
 * hostname, CPU model (/proc/cpuinfo) and configured core count. Reads
 * files, keeps nothing. `size` >= PB_STORE_MACHINE_ID_MAX is always enough;
 * a smaller buffer gets a truncated (still NUL-terminated) id.
 */
void pb_store_machine_id(char *out, size_t size);

/* One result from CI or a previous run, for history and triage. */
typedef struct pb_store_history_row {
    const char *benchmark; /* e.g. "classname::name" or a gbench name */
    const char *commit;    /* may be NULL/"" when unknown */
    const char *branch;    /* may be NULL/"" */
    int64_t timestamp;     /* seconds since the epoch */
    double value;
    const char *unit;   /* "s", "ns", "bytes", ... may be NULL/"" */
    const char *source; /* where it came from: a file name, "junit", ... may be NULL/"" */
} pb_store_history_row;

/* Append rows of history in one durable transaction. */
int pb_store_history_add(pb_store *store, const pb_store_history_row *rows, size_t n,
                         pb_error *err);

/* A row read back; every string is owned by the array (never NULL, "" when unset). */
typedef struct pb_store_history_entry {
    char *benchmark, *commit, *branch, *unit, *source;
    int64_t timestamp;
    double value;
} pb_store_history_entry;

/*
 * History of `benchmark` (NULL: every benchmark), ordered by benchmark,
 * timestamp, then insertion. Free with pb_store_history_free.
 */
int pb_store_history_query(pb_store *store, const char *benchmark, pb_store_history_entry **rows,
                           size_t *n, pb_error *err);

/* NULL-safe. */
void pb_store_history_free(pb_store_history_entry *rows, size_t n);

/* Free one entry's strings (the array keeps its slot). */
void pb_store_history_entry_clear(pb_store_history_entry *e);

#endif
