/* perftriage — is this CI benchmark failure real? */
#include "cli.h"
#include "commands.h"

static const pb_cli_command commands[] = {
    {"classify", cmd_classify, "classify failing benchmarks: flaky, regression, variance, gradual"},
    {"threshold", cmd_threshold, "recommend per-test thresholds (P95 + 2*stddev) x strictness"},
    {"parse", cmd_parse, "read the inputs and report counts and parse speed"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    return pb_cli_dispatch(TOOL, "usage: perftriage COMMAND [OPTIONS]", commands, argc, argv);
}
