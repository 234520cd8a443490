/*
 * test_store.c — the SQLite result store: round-trips, persistence, key
 * separation, several handles and processes on one file, bad files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "perfbisect/store.h"

#include <sqlite3.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fixture {
    char dir[64];
    char db[128];
} fixture;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/pb-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/perfbisect.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static const pb_store_key base_key = {"0123456789abcdef0123456789abcdef01234567", "./bench --fast",
                                      "make -j2", "wall", "host-00112233445566778899"};

static void expect_values(pb_store *s, const pb_store_key *key, const char *kind,
                          const double *want, size_t nwant)
{
    pb_error err = PB_ERROR_INIT;
    double *v = NULL;
    size_t n = 99;
    assert_int_equal(pb_store_get_values(s, key, kind, &v, &n, &err), 0);
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_true(v[i] == want[i]);
    if (nwant == 0)
        assert_null(v);
    free(v);
}

static void test_store__values_round_trip_in_insertion_order(void **state)
{
    (void)state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    const double a[] = {1.25, 0.5, 3.0}, b[] = {2.0, -1e-9};
    const double all[] = {1.25, 0.5, 3.0, 2.0, -1e-9};

    assert_int_equal(pb_store_open(&s, ":memory:", &err), 0);
    expect_values(s, &base_key, "probe", NULL, 0);
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", a, 3, &err), 0);
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", b, 2, &err), 0);
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", b, 0, &err), 0);
    expect_values(s, &base_key, "probe", all, 5);
    /* Another kind is another series. */
    assert_int_equal(pb_store_add_values(s, &base_key, "verify", b, 1, &err), 0);
    expect_values(s, &base_key, "verify", b, 1);
    expect_values(s, &base_key, "probe", all, 5);
    /* NaN is refused, and nothing of the batch is kept. */
    const double bad[] = {1.0, 0.0 / 0.0};
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", bad, 2, &err), PB_EINVAL);
    expect_values(s, &base_key, "probe", all, 5);
    pb_store_free(s);
}

static void test_store__keys_differing_in_one_field_do_not_mix(void **state)
{
    (void)state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    const double one = 1.0, two = 2.0;

    assert_int_equal(pb_store_open(&s, ":memory:", &err), 0);
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", &one, 1, &err), 0);
    for (int field = 0; field < 5; field++) {
        pb_store_key k = base_key;
        const char **p = field == 0   ? &k.commit
                         : field == 1 ? &k.bench
                         : field == 2 ? &k.build
                         : field == 3 ? &k.metric
                                      : &k.machine;
        *p = "something else";
        expect_values(s, &k, "probe", NULL, 0);
        assert_int_equal(pb_store_add_values(s, &k, "probe", &two, 1, &err), 0);
        expect_values(s, &k, "probe", &two, 1);
    }
    expect_values(s, &base_key, "probe", &one, 1);
    expect_values(s, &base_key, "verify", NULL, 0);

    /* NULL fields mean "" and are a key like any other. */
    pb_store_key nul = {base_key.commit, base_key.bench, NULL, base_key.metric, base_key.machine};
    pb_store_key empty = nul;
    empty.build = "";
    assert_int_equal(pb_store_add_values(s, &nul, NULL, &two, 1, &err), 0);
    expect_values(s, &empty, "", &two, 1);
    pb_store_free(s);
}

static void test_store__build_results_ignore_bench_and_metric(void **state)
{
    (void)state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    int known = -1, ok = -1;

    assert_int_equal(pb_store_open(&s, ":memory:", &err), 0);
    assert_int_equal(pb_store_get_build(s, &base_key, &known, &ok, &err), 0);
    assert_int_equal(known, 0);
    assert_int_equal(pb_store_set_build(s, &base_key, 0, "error: x.c:1: boom\n", &err), 0);
    pb_store_key other = base_key;
    other.bench = "./other-bench";
    other.metric = "cpu";
    assert_int_equal(pb_store_get_build(s, &other, &known, &ok, &err), 0);
    assert_int_equal(known, 1);
    assert_int_equal(ok, 0);
    /* Rebuilt fine: the new record replaces the old one. */
    assert_int_equal(pb_store_set_build(s, &other, 1, NULL, &err), 0);
    assert_int_equal(pb_store_get_build(s, &base_key, &known, &ok, &err), 0);
    assert_int_equal(known, 1);
    assert_int_equal(ok, 1);
    /* Build command and machine do matter. */
    other = base_key;
    other.build = "make -j2 CFLAGS=-O0";
    assert_int_equal(pb_store_get_build(s, &other, &known, &ok, &err), 0);
    assert_int_equal(known, 0);
    other = base_key;
    other.machine = "another-machine";
    assert_int_equal(pb_store_get_build(s, &other, &known, &ok, &err), 0);
    assert_int_equal(known, 0);
    pb_store_free(s);
}

static void test_store__log_keeps_lines_per_session(void **state)
{
    (void)state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    char **lines = NULL;
    size_t n = 0;

    assert_int_equal(pb_store_open(&s, ":memory:", &err), 0);
    assert_int_equal(pb_store_log_append(s, "a..b wall", "# good: [aaaa] first", &err), 0);
    assert_int_equal(pb_store_log_append(s, "other", "git bisect start", &err), 0);
    assert_int_equal(pb_store_log_append(s, "a..b wall", "git bisect good aaaa", &err), 0);
    assert_int_equal(pb_store_log_read(s, "a..b wall", &lines, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0], "# good: [aaaa] first");
    assert_string_equal(lines[1], "git bisect good aaaa");
    pb_store_lines_free(lines, n);
    assert_int_equal(pb_store_log_clear(s, "a..b wall", &err), 0);
    assert_int_equal(pb_store_log_read(s, "a..b wall", &lines, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(lines);
    assert_int_equal(pb_store_log_read(s, "other", &lines, &n, &err), 0);
    assert_int_equal(n, 1);
    pb_store_lines_free(lines, n);
    pb_store_free(s);
}

static void test_store__persists_across_close_and_reopen(void **state)
{
    fixture *f = *state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    const double v[] = {10.0, 11.0, 9.5};
    int known, ok;
    char **lines = NULL;
    size_t n;

    assert_int_equal(pb_store_open(&s, f->db, &err), 0);
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", v, 2, &err), 0);
    assert_int_equal(pb_store_set_build(s, &base_key, 1, "ok", &err), 0);
    assert_int_equal(pb_store_log_append(s, "sess", "line 1", &err), 0);
    pb_store_free(s);

    assert_int_equal(pb_store_open(&s, f->db, &err), 0);
    expect_values(s, &base_key, "probe", v, 2);
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", v + 2, 1, &err), 0);
    expect_values(s, &base_key, "probe", v, 3);
    assert_int_equal(pb_store_get_build(s, &base_key, &known, &ok, &err), 0);
    assert_true(known && ok);
    assert_int_equal(pb_store_log_read(s, "sess", &lines, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(lines[0], "line 1");
    pb_store_lines_free(lines, n);
    pb_store_free(s);

    /* The file itself: WAL journal, schema version 1, one row per value. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), PB_STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*), max(seq) FROM samples", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    assert_int_equal(sqlite3_column_int(st, 1), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_store__two_handles_and_two_processes_share_a_file(void **state)
{
    fixture *f = *state;
    pb_store *a = NULL, *b = NULL;
    pb_error err = PB_ERROR_INIT;
    const double x = 1.0, y = 2.0;

    assert_int_equal(pb_store_open(&a, f->db, &err), 0);
    assert_int_equal(pb_store_open(&b, f->db, &err), 0);
    assert_int_equal(pb_store_add_values(a, &base_key, "probe", &x, 1, &err), 0);
    assert_int_equal(pb_store_add_values(b, &base_key, "probe", &y, 1, &err), 0);
    assert_int_equal(pb_store_add_values(a, &base_key, "probe", &x, 1, &err), 0);
    const double want[] = {1.0, 2.0, 1.0};
    expect_values(a, &base_key, "probe", want, 3);
    expect_values(b, &base_key, "probe", want, 3);

    /* A child process appending while we append: nothing lost, nothing fails. */
    pb_store_free(b);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pb_store *c = NULL;
        pb_error cerr = PB_ERROR_INIT;
        int bad = pb_store_open(&c, f->db, &cerr) < 0;
        for (int i = 0; i < 40 && !bad; i++)
            bad = pb_store_add_values(c, &base_key, "child", &y, 1, &cerr) < 0 ||
                  pb_store_add_values(c, &base_key, "probe", &y, 1, &cerr) < 0;
        pb_store_free(c);
        _exit(bad);
    }
    for (int i = 0; i < 40; i++)
        assert_int_equal(pb_store_add_values(a, &base_key, "probe", &x, 1, &err), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double *v = NULL;
    size_t n = 0;
    assert_int_equal(pb_store_get_values(a, &base_key, "probe", &v, &n, &err), 0);
    assert_int_equal(n, 83);
    free(v);
    assert_int_equal(pb_store_get_values(a, &base_key, "child", &v, &n, &err), 0);
    assert_int_equal(n, 40);
    free(v);
    pb_store_free(a);
}

static void write_bytes(const char *path, const char *data, size_t len, long offset)
{
    FILE *fp = fopen(path, offset < 0 ? "wb" : "r+b");
    assert_non_null(fp);
    if (offset >= 0)
        assert_int_equal(fseek(fp, offset, SEEK_SET), 0);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void test_store__bad_files_give_clear_errors(void **state)
{
    fixture *f = *state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    char path[256], junk[4096];

    /* Not SQLite at all. */
    memset(junk, 'x', sizeof(junk));
    write_bytes(f->db, junk, sizeof(junk), -1);
    assert_int_equal(pb_store_open(&s, f->db, &err), PB_EIO);
    assert_null(s);
    assert_non_null(strstr(err.message, f->db));
    assert_non_null(strstr(err.message, "not a perfbisect store"));

    /* A store whose first page was overwritten. */
    remove(f->db);
    assert_int_equal(pb_store_open(&s, f->db, &err), 0);
    const double v = 1.0;
    assert_int_equal(pb_store_add_values(s, &base_key, "probe", &v, 1, &err), 0);
    pb_store_free(s);
    memset(junk, 0xab, sizeof(junk));
    write_bytes(f->db, junk, 2000, 100);
    int rc = pb_store_open(&s, f->db, &err);
    if (rc == 0) { /* SQLite may only notice when a table is read */
        double *got = NULL;
        size_t n = 0;
        rc = pb_store_get_values(s, &base_key, "probe", &got, &n, &err);
        free(got);
        pb_store_free(s);
        s = NULL;
    }
    assert_int_equal(rc, PB_EIO);
    assert_non_null(strstr(err.message, f->db));

    /* A directory that does not exist, and a directory given as the file:
     * the message says why, not only SQLite's "unable to open". */
    snprintf(path, sizeof(path), "%s/no/such/dir/x.db", f->dir);
    assert_int_equal(pb_store_open(&s, path, &err), PB_EIO);
    assert_non_null(strstr(err.message, "cannot open"));
    assert_non_null(strstr(err.message, "No such file or directory"));
    assert_int_equal(pb_store_open(&s, f->dir, &err), PB_EIO);
    assert_non_null(strstr(err.message, "Is a directory"));
    assert_int_equal(pb_store_open(&s, "", &err), PB_EINVAL);

    /* Another program's database, and a store from a newer perfbisect. */
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/other.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(pb_store_open(&s, path, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "not a perfbisect store"));
    snprintf(path, sizeof(path), "%s/newer.db", f->dir);
    assert_int_equal(pb_store_open(&s, path, &err), 0);
    pb_store_free(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(pb_store_open(&s, path, &err), PB_EINVAL);
    assert_non_null(strstr(err.message, "newer perfbisect"));
    assert_null(s);
}

/* Read a whole (small) file into `buf`; its length. */
static size_t read_bytes(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, size, fp);
    fclose(fp);
    return n;
}

/* A --db that names another program's database (a typo) is refused before
 * anything is written: not even its journal mode changes. */
static void test_store__another_programs_database_is_left_unchanged(void **state)
{
    fixture *f = *state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    sqlite3 *db = NULL;
    char path[256], before[16384], after[16384];

    /* Without a schema version; with one, as many programs set (1 is ours);
     * with an application id of its own. */
    const char *apps[] = {"", "PRAGMA user_version = 1;", "PRAGMA application_id = 7;"};
    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        char sql[256];
        snprintf(path, sizeof(path), "%s/app%zu.sqlite", f->dir, i);
        snprintf(sql, sizeof(sql), "%sCREATE TABLE t(x); INSERT INTO t VALUES (1)", apps[i]);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        size_t n = read_bytes(path, before, sizeof(before));
        assert_true(n > 0 && n < sizeof(before));

        assert_int_equal(pb_store_open(&s, path, &err), PB_EINVAL);
        assert_null(s);
        assert_non_null(strstr(err.message, "not a perfbisect store"));
        assert_int_equal(read_bytes(path, after, sizeof(after)), n);
        assert_memory_equal(before, after, n);
        snprintf(path, sizeof(path), "%s/app%zu.sqlite-wal", f->dir, i);
        assert_int_equal(access(path, F_OK), -1);
    }
}

/* A store written before stores had an application id is still one: it
 * opens, keeps its runs, and gets the id. */
static void test_store__a_store_from_before_the_application_id_opens(void **state)
{
    fixture *f = *state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    sqlite3 *db = NULL;
    char path[256];
    pb_store_key key = {"c0ffee", "./bench", "make", "wall", "m1"};
    double v[] = {1.5, 2.5};
    snprintf(path, sizeof(path), "%s/old.db", f->dir);
    assert_int_equal(pb_store_open(&s, path, &err), 0);
    assert_int_equal(pb_store_add_values(s, &key, "run", v, 2, &err), 0);
    pb_store_free(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA application_id = 0", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(pb_store_open(&s, path, &err), 0);
    double *got = NULL;
    size_t n = 0;
    assert_int_equal(pb_store_get_values(s, &key, "run", &got, &n, &err), 0);
    assert_int_equal(n, 2);
    free(got);
    pb_store_free(s);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_not_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_store__machine_id_is_stable_and_readable(void **state)
{
    (void)state;
    char a[PB_STORE_MACHINE_ID_MAX], b[PB_STORE_MACHINE_ID_MAX], small[8];
    char host[256] = "";

    pb_store_machine_id(a, sizeof(a));
    pb_store_machine_id(b, sizeof(b));
    assert_string_equal(a, b);
    gethostname(host, sizeof(host) - 1);
    host[strcspn(host, ".")] = '\0';
    size_t hl = strlen(host);
    if (hl > 0 && hl <= 40)
        assert_memory_equal(a, host, hl);
    const char *dash = strrchr(a, '-');
    assert_non_null(dash);
    assert_int_equal(strlen(dash + 1), 16);
    assert_int_equal(strspn(dash + 1, "0123456789abcdef"), 16);
    pb_store_machine_id(small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_memory_equal(small, a, sizeof(small) - 1);
}

static void test_store__history_round_trip_sorted_by_time(void **state)
{
    (void)state;
    pb_store *s = NULL;
    pb_error err = PB_ERROR_INIT;
    const pb_store_history_row rows[] = {
        {"bench::b", "c2", "main", 200, 2.5, "s", "junit"},
        {"bench::a", "c1", "main", 100, 1.5, "s", "junit"},
        {"bench::b", NULL, NULL, 100, 2.0, NULL, NULL},
    };
    pb_store_history_entry *got = NULL;
    size_t n = 0;

    assert_int_equal(pb_store_open(&s, ":memory:", &err), 0);
    assert_int_equal(pb_store_history_add(s, rows, 3, &err), 0);
    assert_int_equal(pb_store_history_query(s, "bench::b", &got, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].timestamp, 100);
    assert_true(got[0].value == 2.0);
    assert_string_equal(got[0].commit, "");
    assert_string_equal(got[1].commit, "c2");
    assert_string_equal(got[1].branch, "main");
    assert_string_equal(got[1].unit, "s");
    pb_store_history_free(got, n);
    assert_int_equal(pb_store_history_query(s, NULL, &got, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(got[0].benchmark, "bench::a");
    pb_store_history_free(got, n);
    pb_store_free(s);
}

static void test_store__default_path_is_in_the_git_directory(void **state)
{
    (void)state;
    char *p = pb_store_default_path("/src/app/.git/");
    assert_string_equal(p, "/src/app/.git/perfbisect.db");
    free(p);
    p = pb_store_default_path("/srv/app.git");
    assert_string_equal(p, "/srv/app.git/perfbisect.db");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store__values_round_trip_in_insertion_order),
        cmocka_unit_test(test_store__keys_differing_in_one_field_do_not_mix),
        cmocka_unit_test(test_store__build_results_ignore_bench_and_metric),
        cmocka_unit_test(test_store__log_keeps_lines_per_session),
        cmocka_unit_test_setup_teardown(test_store__persists_across_close_and_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__two_handles_and_two_processes_share_a_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__bad_files_give_clear_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__another_programs_database_is_left_unchanged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__a_store_from_before_the_application_id_opens,
                                        setup, teardown),
        cmocka_unit_test(test_store__machine_id_is_stable_and_readable),
        cmocka_unit_test(test_store__history_round_trip_sorted_by_time),
        cmocka_unit_test(test_store__default_path_is_in_the_git_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
