/* The perftriage subcommands, one cmd_<name>.c each, and what they share. */
#ifndef PERFTRIAGE_COMMANDS_H
#define PERFTRIAGE_COMMANDS_H

#include <jansson.h>
#include <stddef.h>

#include "perfbisect/triage.h"

#define TOOL "perftriage"

int cmd_classify(int argc, char **argv);
int cmd_threshold(int argc, char **argv);
int cmd_parse(int argc, char **argv);

/* The inputs every subcommand takes: --junit PATH, --log FILE, --history FILE,
 * and --threads N to read them with. */
typedef struct inputs {
    const char **junit;
    size_t njunit;
    const char **logs;
    size_t nlogs;
    const char *history;
    unsigned threads;
} inputs;

/* Remember one input option ('j', 'l', 'H' or 't'); returns 0, or 2 after printing an error. */
int inputs_add(inputs *in, int opt, const char *arg);

/* Load everything into a new triage (warnings printed); returns 0 or the exit code 2. */
int inputs_load(const inputs *in, pb_triage **out);

void inputs_free(inputs *in);

/*
 * A JSON number of a measured value, which the triage keeps as a 32-bit
 * float: to the 7 significant digits a float holds, so 10 ms reads 0.01,
 * not 0.009999999776; null when not finite.
 */
json_t *json_measured(double v);

/* A value in seconds with a readable unit ("15.3ms"), or %g when not seconds. */
const char *fmt_value(char *buf, size_t cap, double v, int seconds);

#endif
