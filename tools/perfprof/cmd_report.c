/*
 * perfprof report [-i FILE] [--top N] [--format text|json|folded|speedscope|svg] [-o OUT]
 */
#include "cli.h"
#include "commands.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: perfprof report [-i FILE] [--top N] "
            "[--format text|json|folded|speedscope|svg] [-o OUT]\n"
            "  -i, --input FILE   the data file (default %s; its .part-* files too)\n"
            "  -n, --top N        functions in text and json output (default 20, 0 = all)\n"
            "  -f, --format FMT   text (default), json, folded, speedscope or svg\n"
            "  -o, --output OUT   write there instead of stdout\n"
            "      --title TEXT   title of the flame graph / speedscope profile\n",
            PERFPROF_DEFAULT_DATA);
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"top", required_argument, NULL, 'n'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"title", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *in = PERFPROF_DEFAULT_DATA, *out = NULL;
    pb_profile_format format = PB_PROFILE_TEXT;
    pb_profile_write_options wopts = PB_PROFILE_WRITE_OPTIONS_INIT;
    unsigned top = (unsigned)wopts.top;
    int c, ret = PB_EXIT_USAGE;
    pb_profile *prof = NULL;
    pb_buf buf = PB_BUF_INIT;
    pb_error err = PB_ERROR_INIT;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":i:n:f:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            in = optarg;
            break;
        case 'n':
            if (pb_cli_parse_uint(PERFPROF, "--top", optarg, 0, 1000000, &top) < 0)
                goto done;
            break;
        case 'f':
            if (perfprof_parse_format(optarg, 0x1f, &format) < 0)
                goto done;
            break;
        case 'o':
            out = optarg;
            break;
        case 't':
            wopts.title = optarg;
            break;
        case 'h':
            usage(stdout);
            ret = PB_EXIT_OK;
            goto done;
        default:
            pb_cli_bad_option(PERFPROF, "report", c, argv);
            goto done;
        }
    }
    if (optind < argc) {
        ret = pb_cli_fail(PERFPROF, "report: unexpected argument '%s'", argv[optind]);
        goto done;
    }
    wopts.top = top;
    if (pb_profile_load(&prof, in, &err) < 0 ||
        pb_profile_write(prof, format, &wopts, &buf, &err) < 0) {
        ret = pb_cli_fail_error(PERFPROF, &err);
        goto done;
    }
    pb_profile_info info;
    pb_profile_get_info(prof, &info);
    double margin = pb_profile_share_margin(info.samples);
    if (format != PB_PROFILE_TEXT && margin > 5.0)
        fprintf(stderr,
                "perfprof: warning: only %llu samples: shares are uncertain by up to +/-%.1f "
                "points (95%%)\n",
                (unsigned long long)info.samples, info.samples ? margin : 100.0);
    char lost[160];
    if (format != PB_PROFILE_TEXT && pb_profile_lost_warning(&info, lost, sizeof lost))
        fprintf(stderr, "perfprof: warning: %s\n", lost);
    ret = perfprof_emit(&buf, out) < 0 ? PB_EXIT_USAGE : PB_EXIT_OK;
done:
    pb_profile_free(prof);
    pb_buf_free(&buf);
    return ret;
}
