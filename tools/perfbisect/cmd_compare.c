/* Placeholder until the subcommand lands; replaced by its implementation. */
#include "cli.h"
#include "commands.h"

int cmd_compare(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return pb_cli_fail("perfbisect", "compare: not implemented yet");
}
