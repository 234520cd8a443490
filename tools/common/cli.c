#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfbisect/buf.h"
#include "perfbisect/pressure.h"

/* To stdout when asked for, to stderr when it stands for an error. */
static void print_help(FILE *out, const char *tool, const char *usage, const pb_cli_command *table)
{
    fprintf(out, "%s\n\ncommands:\n", usage);
    for (const pb_cli_command *c = table; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\nRun '%s COMMAND --help' for a command's options; 'man %s' for details.\n", tool,
            tool);
}

static int dispatch(const char *tool, const char *usage, const pb_cli_command *table, int argc,
                    char **argv)
{
    if (argc < 2)
        return print_help(stderr, tool, usage, table), PB_EXIT_USAGE;
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (const pb_cli_command *c = table; c->name; c++)
                if (!strcmp(c->name, argv[2])) {
                    char *help_argv[] = {argv[2], "--help", NULL};
                    return c->run(2, help_argv);
                }
        }
        print_help(stdout, tool, usage, table);
        return PB_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V") || !strcmp(name, "version")) {
        printf("%s %s\n", tool, PB_VERSION);
        return PB_EXIT_OK;
    }
    for (const pb_cli_command *c = table; c->name; c++)
        if (!strcmp(c->name, name))
            return c->run(argc - 1, argv + 1);
    return pb_cli_fail(tool, "unknown command '%s' (see '%s --help')", name, tool);
}

int pb_cli_dispatch(const char *tool, const char *usage, const pb_cli_command *table, int argc,
                    char **argv)
{
    int rc = dispatch(tool, usage, table, argc, argv);
    /* A report that could not be written (a full disk, a closed stdout) is
     * lost: say so, and do not let a script take the run for a success. */
    errno = 0;
    if (fflush(stdout) == EOF || ferror(stdout)) {
        int e = errno;
        pb_cli_fail(tool, "cannot write the output: %s", e ? strerror(e) : "write error");
        return rc == PB_EXIT_OK ? PB_EXIT_USAGE : rc;
    }
    return rc;
}

int pb_cli_fail(const char *tool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", tool);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return PB_EXIT_USAGE;
}

int pb_cli_bad_option(const char *tool, const char *command, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    int name_len = (int)strcspn(arg, "=");
    if (c == ':')
        return pb_cli_fail(tool, "%s: option '%s' needs a value (see '%s %s --help')", command, arg,
                           tool, command);
    if (arg[0] == '-' && arg[1] == '-' && optopt && arg[name_len] == '=')
        return pb_cli_fail(tool, "%s: option '%.*s' takes no value (see '%s %s --help')", command,
                           name_len, arg, tool, command);
    if (arg[0] == '-' && arg[1] == '-') /* optopt is the long option's value, not a letter */
        return pb_cli_fail(tool, "%s: unknown option '%.*s' (see '%s %s --help')", command,
                           name_len, arg, tool, command);
    if (optopt > ' ' && optopt < 127) /* a short option, maybe in a cluster like -qx */
        return pb_cli_fail(tool, "%s: unknown option '-%c' (see '%s %s --help')", command, optopt,
                           tool, command);
    return pb_cli_fail(tool, "%s: unknown option '%s' (see '%s %s --help')", command, arg, tool,
                       command);
}

/* Raised by SIGINT/SIGTERM; a signal's only way to talk to the program. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

volatile sig_atomic_t *pb_cli_catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* a closed terminal or ssh session */
    return &interrupted;
}

int pb_cli_fail_error(const char *tool, const pb_error *err)
{
    return pb_cli_fail(tool, "%s", pb_error_message(err));
}

json_t *pb_cli_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *pb_cli_json_text(const char *s)
{
    pb_buf b = PB_BUF_INIT;
    if (!s)
        return json_null();
    json_t *j = pb_buf_put_utf8(&b, s) < 0 ? NULL : json_stringn(pb_buf_cstr(&b), b.len);
    pb_buf_free(&b);
    return j;
}

int pb_cli_parse_uint(const char *tool, const char *option, const char *text, unsigned min,
                      unsigned max, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
        pb_cli_fail(tool, "%s: expected a whole number from %u to %u, got '%s'", option, min, max,
                    text);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int pb_cli_parse_double(const char *tool, const char *option, const char *text, double min,
                        double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || v > max) {
        pb_cli_fail(tool, "%s: expected a number from %g to %g, got '%s'", option, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

int pb_cli_parse_format(const char *tool, const char *text, pb_format *out)
{
    if (!strcmp(text, "text"))
        *out = PB_FORMAT_TEXT;
    else if (!strcmp(text, "json"))
        *out = PB_FORMAT_JSON;
    else if (!strcmp(text, "markdown") || !strcmp(text, "md"))
        *out = PB_FORMAT_MARKDOWN;
    else {
        pb_cli_fail(tool, "--format: expected text, json or markdown, got '%s'", text);
        return -1;
    }
    return 0;
}

void pb_cli_md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '|')
            fputs("\\|", out);
        else if (c == '<')
            fputs("&lt;", out);
        else if (c == '>')
            fputs("&gt;", out);
        else
            fputc(c < 0x20 || c == 0x7f ? ' ' : c, out);
    }
}

int pb_cli_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO);
}

void pb_cli_warn_busy(const char *tool, double cpu_pressure_share)
{
    if (cpu_pressure_share >= PB_PRESSURE_BUSY)
        fprintf(stderr,
                "%s: warning: for %.0f%% of the runs a task was waiting for a CPU (Linux CPU "
                "pressure): other work competed with the command, so these timings are suspect\n",
                tool, 100 * cpu_pressure_share);
}
