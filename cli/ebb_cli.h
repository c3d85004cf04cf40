/*
 * ebb_cli.h - the subcommands of `ebb`, one file each, dispatched from the
 * table in main.c (kvmtool's builtin-*.c pattern).
 *
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or invalid input
 * (an invalid policy file, an unknown option).
 */
#ifndef EBB_CLI_H
#define EBB_CLI_H

#define EBB_EXIT_OK	0
#define EBB_EXIT_FAIL	1
#define EBB_EXIT_USAGE	2

/* Each gets argv with argv[0] the subcommand's name. */
int	ebb_cmd_simulate(int argc, char **argv);
int	ebb_cmd_policy(int argc, char **argv);
int	ebb_cmd_trace(int argc, char **argv);
/* hosts, vms, decisions, why, plan, drain, migrate: argv[0] says which. */
int	ebb_cmd_fleet(int argc, char **argv);

#endif /* EBB_CLI_H */
