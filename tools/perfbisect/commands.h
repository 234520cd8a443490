/* The perfbisect subcommands, one cmd_<name>.c each. */
#ifndef PERFBISECT_COMMANDS_H
#define PERFBISECT_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_dashboard(int argc, char **argv);

#endif
