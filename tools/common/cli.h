/*
 * cli.h — what the three command-line tools share: number parsing with
 * end-pointer checks, the --format option, and the one-line error style
 * "tool: message" with exit code 2 for usage and input errors.
 */
#ifndef PB_CLI_H
#define PB_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "perfbisect/error.h"

enum { PB_EXIT_OK = 0, PB_EXIT_FOUND = 1, PB_EXIT_USAGE = 2 };

typedef enum pb_format {
    PB_FORMAT_TEXT,
    PB_FORMAT_JSON,
    PB_FORMAT_MARKDOWN,
} pb_format;

/* A subcommand: argv[0] is the subcommand's name; returns the exit code. */
typedef struct pb_cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} pb_cli_command;

/*
 * Dispatch argv[1] to a command of `table` (NULL-terminated), handling
 * help, --help, --version and no arguments. `usage` is printed above the
 * command list.
 */
int pb_cli_dispatch(const char *tool, const char *usage, const pb_cli_command *table, int argc,
                    char **argv);

/* Print "tool: message" to stderr and return PB_EXIT_USAGE. */
int pb_cli_fail(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "tool: <error message>" and return PB_EXIT_USAGE. */
int pb_cli_fail_error(const char *tool, const pb_error *err);

/*
 * The one line for an option getopt_long refused, returning PB_EXIT_USAGE.
 * The caller's optstring starts with ':' (after any '+'), which keeps
 * getopt's own messages back, and passes the ':' (a value missing) or '?'
 * (an unknown option) it got.
 */
int pb_cli_bad_option(const char *tool, const char *command, int c, char **argv);

/*
 * Catch SIGINT and SIGTERM (without SA_RESTART, so that a wait for a run
 * returns): the flag they raise is the `cancel` of the running command,
 * which kills its whole group, and the tool then exits 130.
 */
volatile sig_atomic_t *pb_cli_catch_interrupts(void);

/* A JSON number, or null when v is not finite (JSON has no inf or nan). */
json_t *pb_cli_json_number(double v);

/*
 * A JSON string of external text (a commit subject, a command, a function
 * or file name, a test id): `s` itself when it is valid UTF-8, otherwise a
 * copy with every byte that is not part of a well-formed sequence replaced
 * by U+FFFD, so the key is never lost (json_string() refuses such text).
 * NULL gives JSON null; the result is NULL only when memory runs out.
 */
json_t *pb_cli_json_text(const char *s);

/* Strict number parsing of option values: 0 or -1 (with a message printed). */
int pb_cli_parse_uint(const char *tool, const char *option, const char *text, unsigned min,
                      unsigned max, unsigned *out);
int pb_cli_parse_double(const char *tool, const char *option, const char *text, double min,
                        double max, double *out);

/* Parse text|json|markdown: 0, or -1 with a message printed. */
int pb_cli_parse_format(const char *tool, const char *text, pb_format *out);

/* Text as read (a subject, a test name) in a Markdown table cell or
 * heading, on one line: '|' escaped, '<' and '>' as entities (no HTML),
 * control characters as spaces. */
void pb_cli_md_cell(FILE *out, const char *s);

/* 1 when stderr is a terminal and progress lines make sense. */
int pb_cli_stderr_is_tty(void);

/* From PB_PRESSURE_BUSY on, one warning line on stderr that other work
 * competed with the measured command (a NAN share says nothing). */
void pb_cli_warn_busy(const char *tool, double cpu_pressure_share);

#endif
