/* perfbisect — find the commit that made a benchmark slower. */
#include "cli.h"
#include "commands.h"

#include <signal.h>

static const pb_cli_command commands[] = {
    {"run", cmd_run, "bisect a slowdown between a good and a bad revision"},
    {"check", cmd_check, "a 'git bisect run' predicate: is this checkout slow?"},
    {"measure", cmd_measure, "run a command repeatedly and summarise a metric"},
    {"compare", cmd_compare, "compare two measurements statistically"},
    {"history", cmd_history, "benchmark results over commits: import, show, find regressions"},
    {"dashboard", cmd_dashboard, "the history as a static HTML page, regressions marked"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    /* Past a file size limit (ulimit -f), a write fails with EFBIG and is
     * reported, instead of killing us mid-store; the commands we run get
     * the default back (lib/exec.c). */
    signal(SIGXFSZ, SIG_IGN);
    return pb_cli_dispatch("perfbisect", "usage: perfbisect COMMAND [OPTIONS]", commands, argc,
                           argv);
}
