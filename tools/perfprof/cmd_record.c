/*
 * perfprof record [-F HZ] [-o FILE] [-q] [--] CMD [ARG...]
 *
 * Runs CMD with the sampling runtime preloaded, waits for it, merges the
 * parts its processes wrote into FILE, and exits with CMD's status (128+N
 * when CMD was killed by signal N). CMD's output is not touched.
 */
#include "cli.h"
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: perfprof record [-F HZ] [-o FILE] [-q] [--] CMD [ARG...]\n"
            "  -F, --freq HZ      samples per CPU-second per thread (default %u)\n"
            "  -o, --output FILE  the data file (default %s)\n"
            "  -q, --quiet        no summary line on stderr\n",
            PB_PROFILE_DEFAULT_HZ, PERFPROF_DEFAULT_DATA);
}

/* Whether the directory `path` would be written in exists and is writable. */
static int writable_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return 0;
    int ok = access(dirname(copy), W_OK | X_OK) == 0, saved = errno;
    free(copy);
    errno = saved;
    return ok;
}

/* Run argv in a child with the environment `env` added; its wait status. */
static int run_child(char **argv, const pb_buf *env, int *status)
{
    pid_t pid = fork();
    if (pid < 0)
        return pb_cli_fail(PERFPROF, "fork: %s", strerror(errno)), -1;
    if (pid == 0) {
        for (char *p = env->data; p < env->data + env->len; p += strlen(p) + 1)
            putenv(p);
        execvp(argv[0], argv);
        fprintf(stderr, "perfprof: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    struct sigaction ign, fwd;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    memset(&fwd, 0, sizeof(fwd));
    fwd.sa_handler = forward_signal;
    /* Terminal signals reach the child through the process group. These
     * stay until exit: a second Ctrl-C, or timeout(1)'s second SIGTERM (sent
     * to the command, then to its group), must not end us before the
     * parts are merged into the profile. */
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGQUIT, &ign, NULL);
    sigaction(SIGTERM, &fwd, NULL);
    sigaction(SIGHUP, &fwd, NULL);
    /* Waited for unreaped, so that a forwarded signal never finds its id
     * given to another process. */
    siginfo_t si;
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0) {
        if (errno != EINTR) {
            pb_cli_fail(PERFPROF, "waitid: %s", strerror(errno));
            return -1;
        }
    }
    child_pid = 0;
    /* It has exited: the reap does not wait, so no signal interrupts it. */
    if (waitpid(pid, status, 0) < 0) {
        pb_cli_fail(PERFPROF, "waitpid: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_record(int argc, char **argv)
{
    static const struct option opts[] = {
        {"freq", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned hz = PB_PROFILE_DEFAULT_HZ;
    const char *out = PERFPROF_DEFAULT_DATA;
    int quiet = 0, c, ret = PB_EXIT_USAGE;
    pb_buf rt = PB_BUF_INIT, env = PB_BUF_INIT;
    pb_error err = PB_ERROR_INIT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:F:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if (pb_cli_parse_uint(PERFPROF, "-F", optarg, 1, PB_PROFILE_MAX_HZ, &hz) < 0)
                goto done;
            break;
        case 'o':
            out = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            ret = PB_EXIT_OK;
            goto done;
        default:
            pb_cli_bad_option(PERFPROF, "record", c, argv);
            goto done;
        }
    }
    if (optind >= argc) {
        ret = pb_cli_fail(PERFPROF, "record: no command given (see 'perfprof record --help')");
        goto done;
    }
    /* The runtime takes any other value for the ring route, silently. */
    const char *mode = getenv("PERFPROF_MODE");
    if (mode && *mode && strcmp(mode, "ring") && strcmp(mode, "trap") && strcmp(mode, "signal") &&
        strcmp(mode, "timer")) {
        ret =
            pb_cli_fail(PERFPROF, "PERFPROF_MODE '%s': expected ring, trap, signal or timer", mode);
        goto done;
    }
    if (pb_profile_find_runtime(PB_LIBDIR, &rt, &err) < 0 ||
        pb_profile_record_env(rt.data, out, hz, &env, &err) < 0 ||
        pb_profile_clear_parts(out, &err) < 0) {
        ret = pb_cli_fail_error(PERFPROF, &err);
        goto done;
    }
    if (!writable_dir_of(out)) {
        /* Found out at the program's exit, this would lose the whole run. */
        ret = pb_cli_fail(PERFPROF, "%s: cannot write there: %s", out, strerror(errno));
        goto done;
    }
    int status = 0;
    if (run_child(argv + optind, &env, &status) < 0)
        goto done;
    ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    unsigned parts = 0;
    /* The parts replace `out` in one rename: a run that wrote none (a
     * mistyped command, a static program) leaves an earlier profile whole. */
    if (pb_profile_collect_parts(out, &parts, &err) < 0)
        fprintf(stderr, "perfprof: %s%s\n", pb_error_message(&err),
                access(out, F_OK) == 0 ? "; the earlier profile there is kept" : "");
    else if (!quiet)
        fprintf(stderr, "perfprof: %u process%s profiled into %s; see 'perfprof report -i %s'\n",
                parts, parts == 1 ? "" : "es", out, out);
done:
    pb_buf_free(&rt);
    pb_buf_free(&env);
    return ret;
}
