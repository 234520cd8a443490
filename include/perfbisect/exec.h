/*
 * exec.h — run one shell command and account for it.
 *
 * The command runs as `/bin/sh -c CMD` in a process group of its own, with
 * stdin from /dev/null. Wall time is read from CLOCK_MONOTONIC around the
 * spawn and the exit; user/sys CPU time and max RSS come from wait4() (they
 * include every descendant the shell waited for). A timeout kills the whole
 * group with SIGKILL; when the command exits, anything it left running in
 * its process group is killed too, so stray background processes cannot
 * disturb the next run or hold the output pipe open.
 *
 * Spawning uses posix_spawn (vfork-style in glibc), so one run costs little
 * more than the shell itself.
 */
#ifndef PERFBISECT_EXEC_H
#define PERFBISECT_EXEC_H

#include <signal.h>
#include <stddef.h>

#include "perfbisect/buf.h"
#include "perfbisect/error.h"

/* Where an uncaptured output stream of the child goes. */
#define PB_EXEC_DEVNULL (-1) /* discarded (the default) */
#define PB_EXEC_INHERIT (-2) /* our own stdout/stderr */

/* Default and largest capture of the child's stdout. */
#define PB_EXEC_CAPTURE_MAX ((size_t)16 << 20)
/* How much of the child's stderr is kept for error messages. */
#define PB_EXEC_STDERR_KEEP ((size_t)4096)

typedef struct pb_exec_options {
    const char *cwd;      /* directory to run in; NULL = ours */
    double timeout_sec;   /* 0 = no limit */
    int capture_stdout;   /* 1: keep stdout in pb_exec_result.output */
    size_t capture_max;   /* bytes of stdout kept (0 = PB_EXEC_CAPTURE_MAX); the rest is
                             read and dropped, and output_truncated is set */
    int stdout_fd;        /* when stdout is not captured: a descriptor, PB_EXEC_DEVNULL or
                             PB_EXEC_INHERIT */
    int stderr_fd;        /* a descriptor, PB_EXEC_DEVNULL or PB_EXEC_INHERIT; ignored when
                             capture_stderr is set */
    int capture_stderr;   /* 1: keep the first PB_EXEC_STDERR_KEEP bytes of stderr in
                             pb_exec_result.errout (used to say why a run failed) */
    char *const *env_add; /* NULL-terminated "NAME=VALUE" strings added to (or replacing
                             entries of) our environment; NULL = none */
    /*
     * Optional cancel flag, set by the caller's signal handler (SIGINT,
     * SIGTERM; installed with sigaction *without* SA_RESTART so that the
     * wait is interrupted). When it is non-zero the run's process group is
     * killed and pb_exec_run returns PB_EINTR. The child is in a group of
     * its own, so a terminal's Ctrl-C reaches only us: this is how it stops
     * the command too.
     */
    volatile sig_atomic_t *cancel;
    /* Optional: the file that names the command's group while it runs. */
    const struct pb_exec_group_file *group_file;
} pb_exec_options;

#define PB_EXEC_OPTIONS_INIT                                                                       \
    {                                                                                              \
        NULL, 0.0, 0, 0, PB_EXEC_DEVNULL, PB_EXEC_DEVNULL, 0, NULL, NULL, NULL                     \
    }

typedef enum pb_exec_status {
    PB_EXEC_EXITED,      /* exit_code is valid (127 from sh: command not found) */
    PB_EXEC_SIGNALED,    /* killed by signal `signal` */
    PB_EXEC_TIMED_OUT,   /* killed by us after timeout_sec */
    PB_EXEC_NOT_STARTED, /* /bin/sh could not be started (e.g. cwd missing); see errout */
} pb_exec_status;

typedef struct pb_exec_result {
    pb_exec_status status;
    int exit_code;        /* PB_EXEC_EXITED */
    int signal;           /* PB_EXEC_SIGNALED */
    double timeout_sec;   /* the limit that was hit, for the description */
    double wall_sec;      /* CLOCK_MONOTONIC, spawn to exit */
    double user_sec;      /* from wait4 */
    double sys_sec;       /* from wait4 */
    long maxrss_kb;       /* from wait4 (KiB) */
    long long started_ns; /* CLOCK_REALTIME_COARSE at spawn (file timestamps use that clock) */
    pb_buf output;        /* captured stdout (NUL-terminated), when asked */
    int output_truncated; /* stdout exceeded capture_max */
    pb_buf errout;        /* captured stderr head, when asked; or why the spawn failed */
    char *command;        /* copy of the shell command */
    char *cwd;            /* copy of options.cwd, or NULL */
} pb_exec_result;

/*
 * Run `shell_cmd` under /bin/sh -c and fill `out` (caller-owned; release it
 * with pb_exec_result_free, also after a failure). Returns 0 whenever the
 * command was started or could not be started for a reason that belongs to
 * the run (missing cwd: status PB_EXEC_NOT_STARTED) — whether it *succeeded*
 * is in out->status/exit_code. Returns a negative PB_E* code only when we
 * could not do our part (pipes, memory).
 */
int pb_exec_run(const char *shell_cmd, const pb_exec_options *opt, pb_exec_result *out,
                pb_error *err);

/*
 * A file that names the running command's process group (written just
 * after the spawn, emptied before the reap), so that when we are killed
 * outright (SIGKILL, the OOM killer) the next caller can stop what was left
 * running. Open, and locked, from run to run: a run costs a read of
 * /proc/PID/stat, a pwrite and an ftruncate, which fall inside its measured
 * wall time, the same for every commit: +0.08 ms a run idle, against
 * +0.15 ms for a file created and renamed each run
 * (bench/bench_exec_group.c).
 */
typedef struct pb_exec_group_file {
    int fd;          /* -1: none (another caller holds the file); runs go without */
    char where[160]; /* this boot and pid namespace, as the file says them */
} pb_exec_group_file;

/*
 * Open the file at `path` (created if need be) and lock it (flock) until
 * closed. A file no one holds names at most a group left running by a
 * caller that was killed: that group is stopped (SIGKILL, then up to 3 s for
 * all its processes to die; *killed = 1), but only when its leader is the
 * very process that was started (same start time, boot and pid namespace),
 * since a leader gone or an id reused means the group is someone else's.
 * Then the file is emptied. A file another caller holds is left alone:
 * g->fd is -1. Returns 0, or PB_EIO when the file cannot be opened, locked
 * or emptied.
 */
int pb_exec_group_file_open(pb_exec_group_file *g, const char *path, int *killed, pb_error *err);
void pb_exec_group_file_close(pb_exec_group_file *g);

/* 1 when the run exited with status 0. */
int pb_exec_result_ok(const pb_exec_result *r);

/*
 * Append to `out` a one-line description of how the run ended: "exited with
 * status 0", "exited with status 1", "killed by signal 9 (Killed)", "timed
 * out after 5 s", "command not found: NAME", "could not start: REASON". For
 * a failure, the first line the command wrote on stderr (when captured) is
 * added in parentheses. Returns 0 or PB_ENOMEM.
 */
int pb_exec_result_describe(const pb_exec_result *r, pb_buf *out);

/* Release what `r` owns and zero it (NULL-safe, idempotent). */
void pb_exec_result_free(pb_exec_result *r);

#endif
