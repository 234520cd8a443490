/* perfprof — a sampling profiler: where did the time go? */
#include "cli.h"
#include "commands.h"

static const pb_cli_command commands[] = {
    {"record", cmd_record, "run a command and profile every thread and child process"},
    {"attach", cmd_attach, "profile a running process for a while, then leave it running"},
    {"report", cmd_report, "hotspots, folded stacks, speedscope JSON or an SVG flame graph"},
    {"diff", cmd_diff, "what grew between two profiles, matched by function name"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    return pb_cli_dispatch(PERFPROF, "usage: perfprof COMMAND [OPTIONS]", commands, argc, argv);
}
