#include "perfbisect/exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long long now_coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Process `pid`'s state letter ('R', 'S', 'Z', ...), process group, and
 * when it started (clock ticks after boot: /proc/PID/stat's 22nd field),
 * which tells a process from a later one with its id. */
static int proc_stat(pid_t pid, char *state, pid_t *group, unsigned long long *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* After the command name, which may hold spaces and ')': field 3 on. */
    const char *p = strrchr(buf, ')');
    int ppid, pgrp;
    if (!p || sscanf(p + 1, " %c %d %d", state, &ppid, &pgrp) != 3)
        return -1;
    *group = pgrp;
    p++;
    for (int field = 3; field <= 22 && p; field++) {
        p = strchr(p, ' ');
        p = p ? p + 1 : NULL;
    }
    char *end;
    errno = 0;
    *ticks = p ? strtoull(p, &end, 10) : 0;
    return p && end != p && errno == 0 ? 0 : -1;
}

/* Is a process of `group` still running? Its killed members are someone
 * else's children now, and a zombie (not reaped, a container's init may
 * never do it) still answers kill(-group, 0): only /proc tells them apart. */
static int group_running(pid_t group)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int running = 0;
    while (d && !running && (e = readdir(d))) {
        char state;
        pid_t g;
        unsigned long long ticks;
        pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
        running = pid > 0 && proc_stat(pid, &state, &g, &ticks) == 0 && g == group && state != 'Z';
    }
    if (d)
        closedir(d);
    return running;
}

/* This boot and this pid namespace, so that a group file is only ever read
 * against the process table it was written from. */
static void where_we_run(char *out, size_t size)
{
    char boot[64] = "", ns[64] = "";
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, boot, sizeof(boot) - 1);
        boot[n > 0 ? n : 0] = '\0';
        boot[strcspn(boot, "\n")] = '\0';
        close(fd);
    }
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    ns[n > 0 ? n : 0] = '\0';
    snprintf(out, size, "%s %s", boot[0] ? boot : "-", ns[0] ? ns : "-");
}

/* Write "PGID START BOOT PIDNS" for the group the spawned `pid` leads, into
 * the empty file: one write of less than a page, which a SIGKILL leaves
 * whole or not done, and a reader sees whole (the size grows after the
 * copy). Best effort: the command runs either way. */
static void write_group_file(const pb_exec_group_file *g, pid_t pid)
{
    unsigned long long ticks = 0;
    char state, line[256];
    pid_t group;
    if (proc_stat(pid, &state, &group, &ticks) < 0)
        return; /* gone already: nothing it leaves could be told from another's */
    int n = snprintf(line, sizeof(line), "%d %llu %s\n", (int)pid, ticks, g->where);
    if (n > 0 && n < (int)sizeof(line) && pwrite(g->fd, line, (size_t)n, 0) != n &&
        ftruncate(g->fd, 0) < 0) {
        /* nothing more to do: a later reader finds a line it cannot read */
    }
}

/*
 * Stop the group the locked file `fd` names, left running by a caller that
 * was killed outright: only when its leader is the very process that was
 * started (same start time, boot and pid namespace). The build's shell lives
 * as long as the build does, and any other group with that id (the leader
 * gone, an id reused, another boot) is not ours to kill.
 */
static void kill_left(int fd, const char *where, int *killed)
{
    char line[256], boot[64], ns[64], here[160];
    long long group = 0;
    unsigned long long ticks = 0, now = 0;
    char state = 0;
    pid_t leader_group = 0;
    ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
    line[n > 0 ? n : 0] = '\0';
    if (sscanf(line, "%lld %llu %63s %63s", &group, &ticks, boot, ns) != 4)
        return;
    snprintf(here, sizeof(here), "%s %s", boot, ns);
    if (strcmp(here, where) != 0 || group <= 1 || group > INT32_MAX || (pid_t)group == getpgrp() ||
        proc_stat((pid_t)group, &state, &leader_group, &now) < 0 || now != ticks || state == 'Z' ||
        leader_group != (pid_t)group)
        return;
    kill(-(pid_t)group, SIGKILL);
    *killed = 1;
    /* Every member, not just the leader: the build's compilers too. */
    for (int i = 0; i < 300 && group_running((pid_t)group); i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
}

int pb_exec_group_file_open(pb_exec_group_file *g, const char *path, int *killed, pb_error *err)
{
    *killed = 0;
    g->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (g->fd < 0)
        return pb_error_set_errno(err, PB_EIO, errno, "cannot open %s", path);
    if (flock(g->fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        pb_exec_group_file_close(g);
        /* Held: its caller is alive, and what the file names is theirs. */
        return e == EWOULDBLOCK ? 0 : pb_error_set_errno(err, PB_EIO, e, "cannot lock %s", path);
    }
    where_we_run(g->where, sizeof(g->where));
    kill_left(g->fd, g->where, killed);
    if (ftruncate(g->fd, 0) < 0) {
        int e = errno;
        pb_exec_group_file_close(g);
        return pb_error_set_errno(err, PB_EIO, e, "cannot empty %s", path);
    }
    return 0;
}

void pb_exec_group_file_close(pb_exec_group_file *g)
{
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
}

/* Length of the NAME in "NAME=VALUE", or 0 when there is no '='. */
static size_t env_name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : 0;
}

/*
 * The child's environment: ours, minus entries that `add` replaces, plus
 * `add`. The array is allocated; the strings are borrowed.
 */
static int build_env(char *const *add, char ***envp_out, pb_error *err)
{
    size_t nenv = 0, nadd = 0, k = 0;
    char **envp = NULL;
    for (char **e = environ; e && *e; e++)
        nenv++;
    for (char *const *a = add; *a; a++)
        nadd++;
    envp = calloc(nenv + nadd + 1, sizeof(*envp));
    if (!envp)
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    for (char **e = environ; e && *e; e++) {
        size_t len = env_name_len(*e);
        int replaced = 0;
        for (char *const *a = add; *a && len; a++)
            if (env_name_len(*a) == len && !strncmp(*a, *e, len))
                replaced = 1;
        if (!replaced)
            envp[k++] = *e;
    }
    for (char *const *a = add; *a; a++)
        envp[k++] = *a;
    envp[k] = NULL;
    *envp_out = envp;
    return 0;
}

/* Route child descriptor `target` per `how` (a fd, DEVNULL or INHERIT). */
static int route_output(posix_spawn_file_actions_t *fa, int target, int how)
{
    if (how == PB_EXEC_INHERIT)
        return 0;
    if (how == PB_EXEC_DEVNULL || how < 0)
        return posix_spawn_file_actions_addopen(fa, target, "/dev/null", O_WRONLY, 0);
    return posix_spawn_file_actions_adddup2(fa, how, target);
}

/*
 * Read what is available on `*fd` into `buf` (keeping at most `keep` bytes;
 * the rest is dropped and `*dropped` set). Closes and sets *fd = -1 at EOF.
 */
static int drain(int *fd, pb_buf *buf, size_t keep, int *dropped)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            close(*fd);
            *fd = -1;
            return 0;
        }
        if (n == 0) {
            close(*fd);
            *fd = -1;
            return 0;
        }
        size_t take = (size_t)n;
        if (buf->len + take > keep) {
            take = buf->len < keep ? keep - buf->len : 0;
            if (dropped)
                *dropped = 1;
        }
        if (take && pb_buf_put(buf, chunk, take) < 0)
            return PB_ENOMEM;
    }
}

static int open_pipe(int fds[2], pb_error *err)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return pb_error_set_errno(err, PB_ERROR, errno, "pipe");
    /* Our end never blocks: the wait loop polls before reading. */
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    return 0;
}

/*
 * Wait for the child while reading its pipes, killing the group at the
 * deadline. Returns with the child exited but not reaped (a zombie, so its
 * process-group id cannot be reused yet); *end is the time the exit was seen.
 */
static int wait_loop(pid_t pid, double deadline, volatile sig_atomic_t *cancel, int *cancelled,
                     int *out_fd, int *err_fd, pb_exec_result *out, size_t out_keep, double *end,
                     pb_error *err)
{
    int rc = 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int killed = 0;
    for (;;) {
        if (cancel && *cancel && !*cancelled) {
            kill(-pid, SIGKILL);
            *cancelled = killed = 1;
        }
        struct pollfd pfd[3];
        int nfd = 0, wait_ms = -1;
        if (pidfd >= 0)
            pfd[nfd++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        int out_i = -1, err_i = -1;
        if (*out_fd >= 0) {
            out_i = nfd;
            pfd[nfd++] = (struct pollfd){.fd = *out_fd, .events = POLLIN};
        }
        if (*err_fd >= 0) {
            err_i = nfd;
            pfd[nfd++] = (struct pollfd){.fd = *err_fd, .events = POLLIN};
        }
        if (deadline > 0 && !killed) {
            double left = deadline - now_mono();
            wait_ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
        }
        /* Without a pidfd (old kernels) we look at the child every 10 ms. */
        if (pidfd < 0 && (wait_ms < 0 || wait_ms > 10))
            wait_ms = 10;
        int ready = poll(pfd, (nfds_t)nfd, wait_ms);
        if (ready < 0 && errno != EINTR) {
            rc = pb_error_set_errno(err, PB_ERROR, errno, "poll");
            goto done;
        }
        if (out_i >= 0 && ready > 0 && pfd[out_i].revents &&
            (rc = drain(out_fd, &out->output, out_keep, &out->output_truncated)) < 0)
            goto done;
        if (err_i >= 0 && ready > 0 && pfd[err_i].revents &&
            (rc = drain(err_fd, &out->errout, PB_EXEC_STDERR_KEEP, NULL)) < 0)
            goto done;
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int exited = 0;
        if (pidfd >= 0) {
            exited = ready > 0 && pfd[0].revents != 0;
        } else if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                   si.si_pid == pid) {
            exited = 1;
        }
        if (exited) {
            *end = now_mono();
            break;
        }
        if (deadline > 0 && !killed && now_mono() >= deadline) {
            kill(-pid, SIGKILL);
            killed = 1;
            out->status = PB_EXEC_TIMED_OUT;
        }
    }
done:
    if (rc < 0) {
        kill(-pid, SIGKILL);
        while (waitid(P_PID, (id_t)pid, &(siginfo_t){0}, WEXITED | WNOWAIT) < 0 && errno == EINTR)
            ;
    }
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}

int pb_exec_run(const char *shell_cmd, const pb_exec_options *opt, pb_exec_result *out,
                pb_error *err)
{
    static const pb_exec_options defaults = PB_EXEC_OPTIONS_INIT;
    int rc = 0;
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    char **envp = NULL;
    int fa_init = 0, attr_init = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t mask;
    pid_t pid = -1;

    if (!opt)
        opt = &defaults;
    memset(out, 0, sizeof(*out));
    out->status = PB_EXEC_NOT_STARTED;
    out->timeout_sec = opt->timeout_sec;
    out->command = strdup(shell_cmd);
    if (!out->command || (opt->cwd && !(out->cwd = strdup(opt->cwd)))) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if (opt->env_add && (rc = build_env(opt->env_add, &envp, err)) < 0)
        goto done;
    if (opt->capture_stdout && (rc = open_pipe(out_pipe, err)) < 0)
        goto done;
    if (opt->capture_stderr && (rc = open_pipe(err_pipe, err)) < 0)
        goto done;

    if (posix_spawn_file_actions_init(&fa) != 0 || !(fa_init = 1) ||
        posix_spawnattr_init(&attr) != 0 || !(attr_init = 1)) {
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    /* A group of its own (so a timeout kills all of it), default signal
     * mask and SIGPIPE and SIGXFSZ dispositions whatever our caller did
     * with them. */
    sigemptyset(&mask);
    posix_spawnattr_setsigmask(&attr, &mask);
    sigaddset(&mask, SIGPIPE);
    sigaddset(&mask, SIGXFSZ);
    posix_spawnattr_setsigdefault(&attr, &mask);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    int frc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!frc)
        frc = opt->capture_stdout ? posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1)
                                  : route_output(&fa, 1, opt->stdout_fd);
    if (!frc)
        frc = opt->capture_stderr ? posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2)
                                  : route_output(&fa, 2, opt->stderr_fd);
    if (!frc && opt->cwd)
        frc = posix_spawn_file_actions_addchdir_np(&fa, opt->cwd);
    if (frc) {
        rc = pb_error_set_errno(err, PB_ERROR, frc, "posix_spawn setup");
        goto done;
    }

    char *argv[] = {"sh", "-c", out->command, NULL};
    out->started_ns = now_coarse_ns();
    double start = now_mono();
    int src = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp ? envp : environ);
    if (src != 0) {
        /* The run's own problem (a missing cwd, usually), not ours. */
        pid = -1;
        if (opt->cwd)
            rc = pb_buf_printf(&out->errout, "in %s: %s", opt->cwd, strerror(src));
        else
            rc = pb_buf_printf(&out->errout, "/bin/sh: %s", strerror(src));
        if (rc < 0)
            rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        goto done;
    }
    if (out_pipe[1] >= 0) {
        close(out_pipe[1]);
        out_pipe[1] = -1;
    }
    if (err_pipe[1] >= 0) {
        close(err_pipe[1]);
        err_pipe[1] = -1;
    }
    if (opt->group_file && opt->group_file->fd >= 0)
        write_group_file(opt->group_file, pid);

    double end = 0;
    out->status = PB_EXEC_EXITED;
    int cancelled = 0;
    if (out_pipe[0] < 0 && err_pipe[0] < 0 && opt->timeout_sec <= 0) {
        /* Nothing to watch: block until the exit, without reaping. A
         * signal (the caller's cancel) interrupts the wait. */
        siginfo_t si;
        for (;;) {
            if (opt->cancel && *opt->cancel && !cancelled) {
                kill(-pid, SIGKILL);
                cancelled = 1;
            }
            if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0 || errno != EINTR)
                break;
        }
        end = now_mono();
    } else {
        size_t keep = opt->capture_max ? opt->capture_max : PB_EXEC_CAPTURE_MAX;
        double deadline = opt->timeout_sec > 0 ? start + opt->timeout_sec : 0;
        rc = wait_loop(pid, deadline, opt->cancel, &cancelled, &out_pipe[0], &err_pipe[0], out,
                       keep, &end, err);
    }
    /* Whatever the command left behind in its group goes now; then what it
     * wrote before dying is still in the pipes. */
    kill(-pid, SIGKILL);
    if (rc == 0 && out_pipe[0] >= 0)
        rc = drain(&out_pipe[0], &out->output,
                   opt->capture_max ? opt->capture_max : PB_EXEC_CAPTURE_MAX,
                   &out->output_truncated);
    if (rc == 0 && err_pipe[0] >= 0)
        rc = drain(&err_pipe[0], &out->errout, PB_EXEC_STDERR_KEEP, NULL);
    if (rc == PB_ENOMEM)
        pb_error_set(err, PB_ENOMEM, "out of memory");

    int wstatus = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    /* Before the reap: once reaped, the id may name another process. */
    if (opt->group_file && opt->group_file->fd >= 0 && ftruncate(opt->group_file->fd, 0) < 0) {
        /* the group is dead: a later reader finds it so */
    }
    while (wait4(pid, &wstatus, 0, &ru) < 0 && errno == EINTR)
        ;
    out->wall_sec = end - start;
    out->user_sec = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    out->sys_sec = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    out->maxrss_kb = ru.ru_maxrss;
    if (out->status != PB_EXEC_TIMED_OUT) {
        if (WIFEXITED(wstatus)) {
            out->exit_code = WEXITSTATUS(wstatus);
        } else if (WIFSIGNALED(wstatus)) {
            out->status = PB_EXEC_SIGNALED;
            out->signal = WTERMSIG(wstatus);
        }
    }
    if (rc == 0 && cancelled)
        rc = pb_error_set(err, PB_EINTR, "interrupted");

done:
    if (out_pipe[0] >= 0)
        close(out_pipe[0]);
    if (out_pipe[1] >= 0)
        close(out_pipe[1]);
    if (err_pipe[0] >= 0)
        close(err_pipe[0]);
    if (err_pipe[1] >= 0)
        close(err_pipe[1]);
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    free(envp);
    return rc;
}

int pb_exec_result_ok(const pb_exec_result *r)
{
    return r->status == PB_EXEC_EXITED && r->exit_code == 0;
}

/* The first non-empty line of `text`, as pointer and length. */
static const char *first_line(const char *text, size_t *len)
{
    while (*text == '\n' || *text == '\r' || *text == ' ' || *text == '\t')
        text++;
    size_t n = strcspn(text, "\r\n");
    *len = n;
    return text;
}

/*
 * The program a "not found" (127) run was missing: from the shell's message
 * ("sh: 1: NAME: not found" for dash, "NAME: command not found" for bash),
 * else the first word of the command after any VAR=value assignments.
 */
static int missing_name(const pb_exec_result *r, pb_buf *out)
{
    const char *e = pb_buf_cstr(&r->errout);
    const char *hit = strstr(e, ": not found");
    if (!hit)
        hit = strstr(e, ": command not found");
    if (hit) {
        const char *line = hit;
        while (line > e && line[-1] != '\n')
            line--;
        const char *name = line;
        for (const char *p = line; p + 2 <= hit; p++)
            if (p[0] == ':' && p[1] == ' ')
                name = p + 2;
        if (hit > name)
            return pb_buf_put(out, name, (size_t)(hit - name));
    }
    const char *c = r->command ? r->command : "";
    for (;;) {
        c += strspn(c, " \t\n");
        size_t n = strcspn(c, " \t\n;&|<>()");
        const char *eq = memchr(c, '=', n);
        if (eq && eq != c && c[n] != '\0') {
            c += n;
            continue;
        }
        return pb_buf_put(out, c, n);
    }
}

int pb_exec_result_describe(const pb_exec_result *r, pb_buf *out)
{
    int rc = 0;
    size_t len = 0;
    const char *line = first_line(pb_buf_cstr(&r->errout), &len);
    switch (r->status) {
    case PB_EXEC_EXITED:
        if (r->exit_code == 127) {
            if ((rc = pb_buf_puts(out, "command not found: ")) < 0 ||
                (rc = missing_name(r, out)) < 0)
                goto done;
            len = 0; /* the name says it all */
        } else {
            rc = pb_buf_printf(out, "exited with status %d", r->exit_code);
        }
        break;
    case PB_EXEC_SIGNALED: {
        const char *descr = sigdescr_np(r->signal);
        rc = pb_buf_printf(out, "killed by signal %d (%s)", r->signal,
                           descr ? descr : "unknown signal");
        break;
    }
    case PB_EXEC_TIMED_OUT:
        rc = pb_buf_printf(out, "timed out after %g s", r->timeout_sec);
        break;
    case PB_EXEC_NOT_STARTED:
        rc = pb_buf_printf(out, "could not start: %.*s", (int)len, line);
        len = 0;
        break;
    }
    if (rc == 0 && len && !pb_exec_result_ok(r))
        rc = pb_buf_printf(out, " (stderr: %.*s)", (int)(len > 200 ? 200 : len), line);
done:
    return rc < 0 ? PB_ENOMEM : 0;
}

void pb_exec_result_free(pb_exec_result *r)
{
    if (!r)
        return;
    pb_buf_free(&r->output);
    pb_buf_free(&r->errout);
    free(r->command);
    free(r->cwd);
    memset(r, 0, sizeof(*r));
}
