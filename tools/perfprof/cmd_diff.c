/*
 * perfprof diff BASE NEW [--format text|json|folded|svg] [--top N] [-o OUT]
 *
 * BASE and NEW are data files (or folded-stack files, recognised by not
 * starting with the data file's magic).
 */
#include "cli.h"
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLDED_MAX (256u * 1024u * 1024u)

static void usage(FILE *f)
{
    fprintf(f, "usage: perfprof diff BASE NEW [--format text|json|folded|svg] [--top N] "
               "[-o OUT] [--title TEXT]\n"
               "  BASE, NEW          data files of two profiles (or folded stacks)\n"
               "  -f, --format FMT   text (default), json, folded (stack BASE NEW) or svg\n"
               "  -n, --top N        the N largest changes, either way, in text and json\n"
               "                     (default 20, 0 = all)\n"
               "  -o, --output OUT   write there instead of stdout\n"
               "      --title TEXT   title of the differential flame graph\n");
}

/* A data file, or a folded-stacks file when it does not look like one. */
static int load_any(const char *path, pb_profile **out, pb_error *err)
{
    FILE *f = fopen(path, "rb");
    char head[8] = {0};
    if (f) {
        size_t n = fread(head, 1, sizeof(head), f);
        (void)n;
    }
    if (!f || !memcmp(head, "PBPROF\r\n", 8)) {
        if (f)
            fclose(f);
        return pb_profile_load(out, path, err);
    }
    pb_buf text = PB_BUF_INIT;
    rewind(f);
    int rc = pb_buf_read(&text, f, FOLDED_MAX);
    if (rc == PB_EINVAL)
        rc = pb_error_set(err, PB_EINVAL, "%s: too large", path);
    else if (rc == PB_ENOMEM)
        rc = pb_error_set(err, PB_ENOMEM, "out of memory");
    else if (rc == PB_EIO)
        rc = pb_error_set_errno(err, PB_EIO, errno, "%s", path);
    fclose(f);
    if (rc == 0 && text.len == 0)
        rc = pb_error_set(err, PB_EINVAL, "%s: empty file: neither a profile nor folded stacks",
                          path);
    if (rc == 0) {
        rc = pb_profile_from_folded(out, pb_buf_cstr(&text), text.len, err);
        if (rc < 0)
            pb_error_set(err, rc, "%s: %s", path, pb_error_message(err));
    }
    pb_buf_free(&text);
    return rc;
}

int cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"top", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'}, {"title", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    pb_profile_format format = PB_PROFILE_TEXT;
    pb_profile_write_options wopts = PB_PROFILE_WRITE_OPTIONS_INIT;
    unsigned top = (unsigned)wopts.top;
    int c, ret = PB_EXIT_USAGE;
    pb_profile *base = NULL, *cur = NULL;
    pb_buf buf = PB_BUF_INIT;
    pb_error err = PB_ERROR_INIT;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:n:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (perfprof_parse_format(optarg,
                                      (1u << PB_PROFILE_TEXT) | (1u << PB_PROFILE_JSON) |
                                          (1u << PB_PROFILE_FOLDED) | (1u << PB_PROFILE_SVG),
                                      &format) < 0)
                goto done;
            break;
        case 'n':
            if (pb_cli_parse_uint(PERFPROF, "--top", optarg, 0, 1000000, &top) < 0)
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
            pb_cli_bad_option(PERFPROF, "diff", c, argv);
            goto done;
        }
    }
    if (argc - optind != 2) {
        ret = pb_cli_fail(PERFPROF, "diff: expected two profiles, BASE and NEW");
        goto done;
    }
    wopts.top = top;
    if (load_any(argv[optind], &base, &err) < 0 || load_any(argv[optind + 1], &cur, &err) < 0 ||
        pb_profile_diff_write(base, cur, format, &wopts, &buf, &err) < 0) {
        ret = pb_cli_fail_error(PERFPROF, &err);
        goto done;
    }
    ret = perfprof_emit(&buf, out) < 0 ? PB_EXIT_USAGE : PB_EXIT_OK;
done:
    pb_profile_free(base);
    pb_profile_free(cur);
    pb_buf_free(&buf);
    return ret;
}
