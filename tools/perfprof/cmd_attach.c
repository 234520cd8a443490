/*
 * perfprof attach -p PID [-d SECONDS] [-F HZ] [-o FILE]
 *
 * Samples a running process from outside (ptrace), then detaches; the
 * process keeps running. Ctrl-C stops early and still writes the profile.
 */
#include "cli.h"
#include "commands.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define ATTACH_DEFAULT_HZ 199u
#define ATTACH_MAX_HZ 2000u

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: perfprof attach -p PID [-d SECONDS] [-F HZ] [-o FILE] [-q]\n"
            "  -p, --pid PID         the process to sample (all its threads)\n"
            "  -d, --duration SEC    how long (default 5; 0 = until Ctrl-C)\n"
            "  -F, --freq HZ         samples per CPU-second per thread (default %u)\n"
            "  -o, --output FILE     the data file (default %s)\n"
            "  -q, --quiet           no summary line on stderr\n",
            ATTACH_DEFAULT_HZ, PERFPROF_DEFAULT_DATA);
}

int cmd_attach(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pid", required_argument, NULL, 'p'},
        {"duration", required_argument, NULL, 'd'},
        {"freq", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned pid = 0, hz = ATTACH_DEFAULT_HZ;
    double seconds = 5;
    int quiet = 0, c, ret = PB_EXIT_USAGE;
    pb_profile_attach_options o;
    memset(&o, 0, sizeof(o));
    o.out_path = PERFPROF_DEFAULT_DATA;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:d:F:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (pb_cli_parse_uint(PERFPROF, "-p", optarg, 1, 0x3fffffff, &pid) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'd':
            if (pb_cli_parse_double(PERFPROF, "-d", optarg, 0, 86400, &seconds) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'F':
            if (pb_cli_parse_uint(PERFPROF, "-F", optarg, 1, ATTACH_MAX_HZ, &hz) < 0)
                return PB_EXIT_USAGE;
            break;
        case 'o':
            o.out_path = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return PB_EXIT_OK;
        default:
            return pb_cli_bad_option(PERFPROF, "attach", c, argv);
        }
    }
    if (optind < argc)
        return pb_cli_fail(PERFPROF, "attach: unexpected argument '%s'", argv[optind]);
    if (!pid)
        return pb_cli_fail(PERFPROF, "attach: -p PID is required");
    o.pid = (pid_t)pid;
    o.seconds = seconds;
    o.hz = hz;
    o.stop = &stop_requested;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pb_profile_attach_stats stats;
    pb_error err = PB_ERROR_INIT;
    if (pb_profile_attach(&o, &stats, &err) < 0) {
        ret = pb_cli_fail_error(PERFPROF, &err);
    } else {
        ret = PB_EXIT_OK;
        if (!quiet && stats.ended)
            fprintf(stderr, "perfprof: process %d ended after %.1f s\n", (int)o.pid, stats.seconds);
        if (!quiet)
            fprintf(stderr,
                    "perfprof: %llu samples of %u thread%s in %.1f s (%llu ticks off CPU) "
                    "written to %s\n",
                    (unsigned long long)stats.samples, stats.threads, stats.threads == 1 ? "" : "s",
                    stats.seconds, (unsigned long long)stats.skipped, o.out_path);
    }
    /* The handlers stay until exit: a second SIGINT after the profile is
     * written (timeout(1) sends its signal to the command and then to its
     * group) must not turn a good end into exit 130. */
    return ret;
}
