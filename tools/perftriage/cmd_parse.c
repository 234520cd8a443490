/* perftriage parse — read the inputs, report what was read and how fast. */
#include "cli.h"
#include "commands.h"

#include <getopt.h>
#include <stdio.h>
#include <time.h>

static const char usage[] =
    "usage: perftriage parse [--junit PATH]... [--log FILE]... [--history FILE] [--threads N]\n"
    "Loads the inputs as classify does and prints files, bytes, testcases, tests, seconds\n"
    "and MB/s (a benchmark and a check of the inputs). Exit 0, or 2 when nothing is readable.\n";

int cmd_parse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"junit", required_argument, 0, 'j'},   {"log", required_argument, 0, 'l'},
        {"history", required_argument, 0, 'H'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    inputs in = {0};
    pb_triage *t = NULL;
    int c, rc = PB_EXIT_USAGE;
    struct timespec t0, t1;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":j:l:H:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
        case 'l':
        case 'H':
        case 't':
            if (inputs_add(&in, c, optarg))
                goto done;
            break;
        case 'h':
            fputs(usage, stdout);
            rc = PB_EXIT_OK;
            goto done;
        default:
            pb_cli_bad_option(TOOL, "parse", c, argv);
            goto done;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (inputs_load(&in, &t))
        goto done;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pb_triage_totals tot;
    pb_triage_get_totals(t, &tot);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("runs %zu files %zu bytes %zu testcases %zu attempts %zu tests %zu failing %zu "
           "warnings %zu seconds %.3f MB/s %.1f\n",
           tot.runs, tot.files, tot.bytes, tot.testcases, tot.attempts, tot.tests,
           tot.failing_tests, pb_triage_warning_count(t), sec,
           sec > 0 ? (double)tot.bytes / 1e6 / sec : 0.0);
    rc = PB_EXIT_OK;
done:
    pb_triage_free(t);
    inputs_free(&in);
    return rc;
}
