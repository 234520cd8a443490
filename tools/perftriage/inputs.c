/* Input options shared by the perftriage subcommands. */
#include "cli.h"
#include "commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int push(const char ***list, size_t *n, const char *arg)
{
    const char **p = realloc(*list, (*n + 1) * sizeof(*p));
    if (!p)
        return pb_cli_fail(TOOL, "out of memory");
    p[(*n)++] = arg;
    *list = p;
    return 0;
}

int inputs_add(inputs *in, int opt, const char *arg)
{
    switch (opt) {
    case 'j':
        return push(&in->junit, &in->njunit, arg);
    case 'l':
        return push(&in->logs, &in->nlogs, arg);
    case 'H':
        if (in->history)
            return pb_cli_fail(TOOL, "--history may be given once");
        in->history = arg;
        return 0;
    case 't':
        return pb_cli_parse_uint(TOOL, "--threads", arg, 1, 16, &in->threads) < 0 ? PB_EXIT_USAGE
                                                                                  : 0;
    default:
        return pb_cli_fail(TOOL, "internal: unknown input option");
    }
}

void inputs_free(inputs *in)
{
    free(in->junit);
    free(in->logs);
}

int inputs_load(const inputs *in, pb_triage **out)
{
    pb_error err = PB_ERROR_INIT;
    pb_triage *t = NULL;
    int rc = PB_EXIT_USAGE;
    *out = NULL;
    if (!in->njunit && !in->nlogs && !in->history) {
        pb_cli_fail(TOOL, "no input: give --junit PATH, --log FILE or --history FILE");
        goto done;
    }
    if (pb_triage_new(&t, &err) < 0)
        goto fail;
    if (in->history && pb_triage_add_history(t, in->history, &err) < 0)
        goto fail;
    for (size_t i = 0; i < in->njunit; i++)
        if (pb_triage_add_junit(t, in->junit[i], &err) < 0)
            goto fail;
    for (size_t i = 0; i < in->nlogs; i++)
        if (pb_triage_add_log(t, in->logs[i], &err) < 0)
            goto fail;
    int lrc = pb_triage_load(t, in->threads, &err);
    /* A failed load's error quotes the first warning already. */
    for (size_t i = lrc < 0; i < pb_triage_warning_count(t); i++)
        fprintf(stderr, "%s: warning: %s\n", TOOL, pb_triage_warning(t, i));
    if (lrc < 0)
        goto fail;
    *out = t;
    t = NULL;
    rc = 0;
    goto done;
fail:
    pb_cli_fail_error(TOOL, &err);
done:
    pb_triage_free(t);
    return rc;
}

const char *fmt_value(char *buf, size_t cap, double v, int seconds)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else if (!seconds)
        snprintf(buf, cap, "%.4g", v);
    else if (fabs(v) < 1e-3)
        snprintf(buf, cap, "%.3gus", v * 1e6);
    else if (fabs(v) < 1)
        snprintf(buf, cap, "%.4gms", v * 1e3);
    else
        snprintf(buf, cap, "%.4gs", v);
    return buf;
}

json_t *json_measured(double v)
{
    char text[32];
    snprintf(text, sizeof text, "%.7g", v);
    return pb_cli_json_number(strtod(text, NULL));
}
