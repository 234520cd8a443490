/* What the perfprof subcommands share: the --format values and output. */
#include "cli.h"
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int perfprof_parse_format(const char *text, unsigned allowed, pb_profile_format *out)
{
    static const struct {
        const char *name;
        pb_profile_format format;
    } names[] = {
        {"text", PB_PROFILE_TEXT},     {"json", PB_PROFILE_JSON},
        {"folded", PB_PROFILE_FOLDED}, {"speedscope", PB_PROFILE_SPEEDSCOPE},
        {"svg", PB_PROFILE_SVG},
    };
    char list[128] = "";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(allowed & (1u << names[i].format)))
            continue;
        if (!strcmp(text, names[i].name)) {
            *out = names[i].format;
            return 0;
        }
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", list[0] ? "|" : "",
                 names[i].name);
    }
    pb_cli_fail(PERFPROF, "--format: expected %s, got '%s'", list, text);
    return -1;
}

int perfprof_emit(const pb_buf *buf, const char *path)
{
    int to_stdout = !path || !strcmp(path, "-");
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        pb_cli_fail(PERFPROF, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fwrite(pb_buf_cstr(buf), 1, buf->len, f);
    int bad = n != buf->len || fflush(f) != 0;
    if (!to_stdout && fclose(f) != 0)
        bad = 1;
    if (bad) {
        pb_cli_fail(PERFPROF, "%s: write failed", to_stdout ? "stdout" : path);
        return -1;
    }
    return 0;
}
