/* The perfprof subcommands, one cmd_<name>.c each, and what they share. */
#ifndef PERFPROF_COMMANDS_H
#define PERFPROF_COMMANDS_H

#include "perfbisect/buf.h"
#include "perfbisect/profile.h"

#define PERFPROF "perfprof"
#define PERFPROF_DEFAULT_DATA "perfprof.data"

int cmd_record(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);

/*
 * Parse text|json|folded|speedscope|svg; `allowed` is a bit mask of
 * (1 << pb_profile_format) the command accepts. 0, or -1 with a message.
 */
int perfprof_parse_format(const char *text, unsigned allowed, pb_profile_format *out);

/* Write `buf` to `path` ("-" or NULL: stdout). 0, or -1 with a message. */
int perfprof_emit(const pb_buf *buf, const char *path);

#endif
