/* Tests of the exec module: how a run ends, what it captures, its limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perfbisect/exec.h"

/* Run `cmd` with `opt` (or defaults), asserting that exec itself worked. */
static void run(const char *cmd, const pb_exec_options *opt, pb_exec_result *r)
{
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_exec_run(cmd, opt, r, &err), 0);
}

static void describe(const pb_exec_result *r, char *buf, size_t size)
{
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_exec_result_describe(r, &b), 0);
    snprintf(buf, size, "%s", pb_buf_cstr(&b));
    pb_buf_free(&b);
}

static void test_exec__exit_status_is_reported(void **state)
{
    (void)state;
    pb_exec_result r;
    char text[256];
    run("exit 3", NULL, &r);
    assert_int_equal(r.status, PB_EXEC_EXITED);
    assert_int_equal(r.exit_code, 3);
    assert_false(pb_exec_result_ok(&r));
    describe(&r, text, sizeof(text));
    assert_string_equal(text, "exited with status 3");
    pb_exec_result_free(&r);

    run("true", NULL, &r);
    assert_true(pb_exec_result_ok(&r));
    pb_exec_result_free(&r);
}

static void test_exec__failure_quotes_first_stderr_line(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    char text[256];
    opt.capture_stderr = 1;
    run("echo 'boom: disk full' >&2; echo second >&2; exit 1", &opt, &r);
    describe(&r, text, sizeof(text));
    assert_string_equal(text, "exited with status 1 (stderr: boom: disk full)");
    pb_exec_result_free(&r);
}

static void test_exec__signal_is_reported(void **state)
{
    (void)state;
    pb_exec_result r;
    char text[256];
    run("kill -9 $$", NULL, &r);
    assert_int_equal(r.status, PB_EXEC_SIGNALED);
    assert_int_equal(r.signal, 9);
    describe(&r, text, sizeof(text));
    assert_string_equal(text, "killed by signal 9 (Killed)");
    pb_exec_result_free(&r);
}

static void test_exec__command_not_found_names_it(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    char text[256];
    /* From the shell's message when stderr is captured... */
    opt.capture_stderr = 1;
    run("FOO=1 pb_no_such_command_xyz --flag", &opt, &r);
    assert_int_equal(r.exit_code, 127);
    describe(&r, text, sizeof(text));
    assert_string_equal(text, "command not found: pb_no_such_command_xyz");
    pb_exec_result_free(&r);
    /* ...and from the command line when it is not. */
    run("FOO=1 pb_no_such_command_abc --flag", NULL, &r);
    describe(&r, text, sizeof(text));
    assert_string_equal(text, "command not found: pb_no_such_command_abc");
    pb_exec_result_free(&r);
}

static void test_exec__timeout_kills_the_whole_group(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    char text[256], marker[] = "/tmp/pb_exec_test_XXXXXX", cmd[512];
    int fd = mkstemp(marker);
    assert_true(fd >= 0);
    close(fd);
    unlink(marker);
    /* A background child that would create the marker after the timeout. */
    snprintf(cmd, sizeof(cmd), "(sleep 0.4; touch %s) & sleep 10", marker);
    opt.timeout_sec = 0.1;
    run(cmd, &opt, &r);
    assert_int_equal(r.status, PB_EXEC_TIMED_OUT);
    assert_true(r.wall_sec < 5.0); /* killed, not waited for */
    describe(&r, text, sizeof(text));
    assert_string_equal(text, "timed out after 0.1 s");
    pb_exec_result_free(&r);
    usleep(700 * 1000);
    assert_int_not_equal(access(marker, F_OK), 0);
}

static void test_exec__captures_stdout(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    opt.capture_stdout = 1;
    run("printf 'hello\\n'; echo to-stderr >&2", &opt, &r);
    assert_string_equal(pb_buf_cstr(&r.output), "hello\n");
    assert_false(r.output_truncated);
    pb_exec_result_free(&r);
}

static void test_exec__capture_is_capped(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    opt.capture_stdout = 1;
    opt.capture_max = 10;
    run("head -c 300000 /dev/zero | tr '\\0' x", &opt, &r);
    assert_true(pb_exec_result_ok(&r)); /* the writer was not blocked or killed */
    assert_int_equal(r.output.len, 10);
    assert_string_equal(pb_buf_cstr(&r.output), "xxxxxxxxxx");
    assert_true(r.output_truncated);
    pb_exec_result_free(&r);
}

static void test_exec__leftover_background_processes_are_killed(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    opt.capture_stdout = 1;
    /* Without the group kill the pipe stays open and "late" arrives. */
    run("(sleep 0.5; echo late) & echo early", &opt, &r);
    assert_true(pb_exec_result_ok(&r));
    assert_string_equal(pb_buf_cstr(&r.output), "early\n");
    pb_exec_result_free(&r);
}

static void test_exec__cwd_and_env(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    char *env[] = {"PB_EXEC_TEST_A=42", "HOME=/nowhere", NULL};
    opt.capture_stdout = 1;
    opt.cwd = "/";
    opt.env_add = env;
    setenv("HOME", "/somewhere", 1);
    run("pwd; echo \"$PB_EXEC_TEST_A $HOME\"", &opt, &r);
    assert_string_equal(pb_buf_cstr(&r.output), "/\n42 /nowhere\n");
    assert_string_equal(r.cwd, "/");
    pb_exec_result_free(&r);
}

static void test_exec__missing_cwd_is_not_started(void **state)
{
    (void)state;
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    char text[256];
    opt.cwd = "/nonexistent/pb-dir";
    run("true", &opt, &r);
    assert_int_equal(r.status, PB_EXEC_NOT_STARTED);
    assert_false(pb_exec_result_ok(&r));
    describe(&r, text, sizeof(text));
    assert_string_equal(text, "could not start: in /nonexistent/pb-dir: No such file or directory");
    pb_exec_result_free(&r);
}

static void test_exec__accounts_time_and_memory(void **state)
{
    (void)state;
    pb_exec_result r;
    run("sleep 0.05", NULL, &r);
    /* A lower bound only: the sleep cannot finish early. */
    assert_true(r.wall_sec >= 0.05);
    assert_true(r.maxrss_kb > 0);
    assert_true(r.started_ns > 0);
    pb_exec_result_free(&r);
    /* CPU time of a busy shell loop is charged to the run. */
    run("i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done", NULL, &r);
    assert_true(r.user_sec + r.sys_sec > 0);
    pb_exec_result_free(&r);
}

static volatile sig_atomic_t cancel_flag;

static void on_alarm(int sig)
{
    (void)sig;
    cancel_flag = 1;
}

/* A signal handler raising the cancel flag stops a long run, in both the
 * plain wait and the polling wait (used when capturing). */
static void test_exec__cancel_flag_kills_the_run(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART: the wait must see EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    for (int capture = 0; capture <= 1; capture++) {
        pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
        pb_exec_result r;
        pb_error err = PB_ERROR_INIT;
        struct itimerval it = {{0, 0}, {0, 100 * 1000}};
        opt.cancel = &cancel_flag;
        opt.capture_stdout = capture;
        cancel_flag = 0;
        assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
        assert_int_equal(pb_exec_run("sleep 20", &opt, &r, &err), PB_EINTR);
        assert_string_equal(pb_error_message(&err), "interrupted");
        assert_int_equal(r.status, PB_EXEC_SIGNALED);
        assert_true(r.wall_sec < 10.0);
        pb_exec_result_free(&r);
    }
    sigaction(SIGALRM, &old, NULL);
}

/* A fresh directory's "group" file, in `path`. */
static void group_file_path(char *path, size_t size)
{
    char dir[] = "/tmp/pb_exec_group_XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(path, size, "%s/group", dir);
}

static void remove_group_dir(const char *path)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    unlink(path);
    rmdir(dir);
}

/* Open the group file at `path` as a new caller would: returns *killed. */
static int open_group_file(pb_exec_group_file *g, const char *path)
{
    int killed = -1;
    pb_error err = PB_ERROR_INIT;
    assert_int_equal(pb_exec_group_file_open(g, path, &killed, &err), 0);
    return killed;
}

/*
 * Run `cmd` with a group file at `path` in a child, as a perfbisect would.
 * The test is the orphans' subreaper, so it can tell "dead" from "not yet
 * reaped". Returns the command's group once the file names it; *caller is
 * the child, still running.
 */
static pid_t run_in_caller(const char *path, const char *cmd, pid_t *caller)
{
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    *caller = fork();
    assert_true(*caller >= 0);
    if (*caller == 0) {
        pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
        pb_exec_group_file g;
        pb_exec_result r;
        pb_error err = PB_ERROR_INIT;
        int killed;
        if (pb_exec_group_file_open(&g, path, &killed, &err) < 0 || g.fd < 0)
            _exit(1);
        opt.group_file = &g;
        pb_exec_run(cmd, &opt, &r, &err);
        _exit(0);
    }
    /* Wait for the line (a hang guard, not a timing assertion); it appears
     * whole (one write). */
    int group = 0;
    char line[512];
    for (int i = 0; i < 1000 && group == 0; i++) {
        FILE *f = fopen(path, "r");
        if (!f || !fgets(line, sizeof(line), f) || !strchr(line, '\n') ||
            sscanf(line, "%d", &group) != 1)
            usleep(10 * 1000);
        if (f)
            fclose(f);
    }
    assert_true(group > 0);
    return (pid_t)group;
}

/* The same, with the caller then killed outright. */
static pid_t run_in_killed_caller(const char *path, const char *cmd)
{
    pid_t caller, group = run_in_caller(path, cmd, &caller);
    kill(caller, SIGKILL);
    assert_int_equal(waitpid(caller, NULL, 0), caller);
    return group;
}

/* Is a process of `group` still running (not a zombie)? It is our child:
 * reap what has died. */
static int group_alive(pid_t group)
{
    while (waitpid(-group, NULL, WNOHANG) > 0)
        ;
    return kill(-group, 0) == 0;
}

static void kill_group(pid_t group)
{
    kill(-group, SIGKILL);
    while (waitpid(-group, NULL, 0) > 0)
        ;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* The caller is killed outright while its command runs: the group file
 * names the command's group, and the next caller to open it stops it. */
static void test_exec__a_group_left_by_a_killed_caller_is_stopped(void **state)
{
    (void)state;
    char path[256];
    pb_exec_group_file g;
    group_file_path(path, sizeof(path));
    pid_t group = run_in_killed_caller(path, "sleep 30; true");
    assert_true(group_alive(group)); /* the command outlived its caller */

    assert_int_equal(open_group_file(&g, path), 1);
    assert_true(g.fd >= 0);
    assert_false(group_alive(group));
    assert_int_equal(errno, ESRCH);
    assert_int_equal(file_size(path), 0);
    kill_group(group);

    /* A finished run empties the file, which then names nothing. */
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    opt.group_file = &g;
    run("true", &opt, &r);
    pb_exec_result_free(&r);
    assert_int_equal(file_size(path), 0);
    pb_exec_group_file_close(&g);
    assert_int_equal(open_group_file(&g, path), 0);
    assert_true(g.fd >= 0);
    pb_exec_group_file_close(&g);
    remove_group_dir(path);
}

/*
 * A caller that is alive holds its file: another caller opening it (a
 * second `perfbisect check` in the same repository) neither kills that
 * caller's command nor touches the file, and runs without one.
 */
static void test_exec__a_live_callers_file_is_left_alone(void **state)
{
    (void)state;
    char path[256];
    pb_exec_group_file g;
    pid_t caller;
    group_file_path(path, sizeof(path));
    pid_t group = run_in_caller(path, "sleep 30; true", &caller);
    off_t size = file_size(path);

    assert_int_equal(open_group_file(&g, path), 0);
    assert_int_equal(g.fd, -1);
    assert_true(group_alive(group));
    assert_int_equal(file_size(path), size);
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result r;
    opt.group_file = &g; /* fd -1: the run goes without it */
    run("true", &opt, &r);
    pb_exec_result_free(&r);
    assert_int_equal(file_size(path), size);

    /* Killed now, its command is stopped by the next open. */
    kill(caller, SIGKILL);
    assert_int_equal(waitpid(caller, NULL, 0), caller);
    assert_int_equal(open_group_file(&g, path), 1);
    assert_false(group_alive(group));
    pb_exec_group_file_close(&g);
    kill_group(group);
    remove_group_dir(path);
}

/*
 * Groups that are not the one the file names are left alone: one whose
 * leader started at another time (its id reused since), and one whose
 * leader is gone (a double-forked daemon's, a finished pipeline's: its id
 * may be anyone's by now). The file is emptied either way.
 */
static void test_exec__other_groups_are_left_alone(void **state)
{
    (void)state;
    char path[256], line[512];
    pb_exec_group_file g;
    group_file_path(path, sizeof(path));

    pid_t group = run_in_killed_caller(path, "sleep 30; true");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    char *rest = strchr(strchr(line, ' ') + 1, ' '); /* " BOOT PIDNS" */
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%d 1%s", (int)group, rest); /* started one tick after boot: not this one */
    fclose(f);
    assert_int_equal(open_group_file(&g, path), 0);
    pb_exec_group_file_close(&g);
    assert_true(group_alive(group));
    assert_int_equal(file_size(path), 0);
    kill_group(group);

    /* The shell exits after 0.2 s; its background sleep stays in the group. */
    group = run_in_killed_caller(path, "sleep 30 & sleep 0.2");
    assert_int_equal(waitpid(group, NULL, 0), group);
    assert_int_equal(open_group_file(&g, path), 0);
    pb_exec_group_file_close(&g);
    assert_true(group_alive(group));
    kill_group(group);
    remove_group_dir(path);
}

static void test_exec__free_is_idempotent(void **state)
{
    (void)state;
    pb_exec_result r;
    run("true", NULL, &r);
    pb_exec_result_free(&r);
    pb_exec_result_free(&r);
    pb_exec_result_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec__exit_status_is_reported),
        cmocka_unit_test(test_exec__failure_quotes_first_stderr_line),
        cmocka_unit_test(test_exec__signal_is_reported),
        cmocka_unit_test(test_exec__command_not_found_names_it),
        cmocka_unit_test(test_exec__timeout_kills_the_whole_group),
        cmocka_unit_test(test_exec__captures_stdout),
        cmocka_unit_test(test_exec__capture_is_capped),
        cmocka_unit_test(test_exec__leftover_background_processes_are_killed),
        cmocka_unit_test(test_exec__cwd_and_env),
        cmocka_unit_test(test_exec__missing_cwd_is_not_started),
        cmocka_unit_test(test_exec__accounts_time_and_memory),
        cmocka_unit_test(test_exec__cancel_flag_kills_the_run),
        cmocka_unit_test(test_exec__a_group_left_by_a_killed_caller_is_stopped),
        cmocka_unit_test(test_exec__a_live_callers_file_is_left_alone),
        cmocka_unit_test(test_exec__other_groups_are_left_alone),
        cmocka_unit_test(test_exec__free_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
