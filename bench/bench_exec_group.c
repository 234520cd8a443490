/*
 * bench_exec_group — what naming a run's process group in a file (the
 * group_file of pb_exec_options, which perfbisect run sets for builds and
 * benchmarks alike) adds to a benchmark's measured wall time.
 *
 *   bench_exec_group [RUNS] [CMD]      (default 2000 runs of "true")
 *
 * Runs CMD under /bin/sh -c, alternating without and with a group file so
 * that a drifting machine hits both alike, and prints each side's median
 * wall time and their difference. The shortest command is the worst case:
 * the file is written while /bin/sh starts, and only what outlasts that
 * start can show.
 */
#include "perfbisect/exec.h"
#include "perfbisect/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int one_run(const char *cmd, const pb_exec_group_file *group_file, double *wall)
{
    pb_exec_options opt = PB_EXEC_OPTIONS_INIT;
    pb_exec_result res = {0};
    pb_error err = PB_ERROR_INIT;
    opt.group_file = group_file;
    int rc = pb_exec_run(cmd, &opt, &res, &err);
    if (rc < 0 || !pb_exec_result_ok(&res)) {
        fprintf(stderr, "bench_exec_group: %s: %s\n", cmd,
                rc < 0 ? pb_error_message(&err) : "the command failed");
        pb_exec_result_free(&res);
        return -1;
    }
    *wall = res.wall_sec;
    pb_exec_result_free(&res);
    return 0;
}

int main(int argc, char **argv)
{
    long runs = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    const char *cmd = argc > 2 ? argv[2] : "true";
    char dir[] = "/tmp/bench_exec_group.XXXXXX", file[64];
    if (runs < 1 || runs > 1000000) {
        fprintf(stderr, "bench_exec_group: bad run count '%s'\n", argv[1]);
        return 2;
    }
    if (!mkdtemp(dir)) {
        perror("bench_exec_group: mkdtemp");
        return 2;
    }
    snprintf(file, sizeof file, "%s/run.group", dir);
    pb_exec_group_file group;
    pb_error err = PB_ERROR_INIT;
    int killed;
    if (pb_exec_group_file_open(&group, file, &killed, &err) < 0) {
        fprintf(stderr, "bench_exec_group: %s\n", pb_error_message(&err));
        rmdir(dir);
        return 2;
    }
    double *without = malloc((size_t)runs * sizeof(double));
    double *with = malloc((size_t)runs * sizeof(double));
    int rc = without && with ? 0 : -1;
    for (long i = 0; rc == 0 && i < runs; i++)
        if ((rc = one_run(cmd, NULL, &without[i])) == 0)
            rc = one_run(cmd, &group, &with[i]);
    if (rc == 0) {
        double a = pb_stats_median(without, (size_t)runs), b = pb_stats_median(with, (size_t)runs);
        printf("%ld runs of '%s', interleaved: median wall %.1f us without a group file, %.1f us "
               "with (%+.1f us, %+.2f%%)\n",
               runs, cmd, a * 1e6, b * 1e6, (b - a) * 1e6, 100 * (b / a - 1));
    }
    free(without);
    free(with);
    pb_exec_group_file_close(&group);
    unlink(file);
    rmdir(dir);
    return rc == 0 ? 0 : 1;
}
