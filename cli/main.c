/*
 * main.c - `ebb`, the command line of the ebb consolidation system.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebb_cli.h"
#include "ebb_log.h"

struct ebb_cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*summary;
};

static const struct ebb_cmd cmds[] = {
	{ "simulate", ebb_cmd_simulate,
	    "run a trace-driven fleet simulation with a policy" },
	{ "policy", ebb_cmd_policy,
	    "check or show a policy file" },
	{ "trace", ebb_cmd_trace,
	    "make synthetic PlanetLab-like traces" },
	{ "hosts", ebb_cmd_fleet, "the controller's hosts and their state" },
	{ "vms", ebb_cmd_fleet, "the VMs the agents report" },
	{ "decisions", ebb_cmd_fleet,
	    "the journal's decisions (--follow to watch)" },
	{ "why", ebb_cmd_fleet,
	    "why a host or VM is where it is, or was not powered down" },
	{ "plan", ebb_cmd_fleet, "what the policy would do now (dry run)" },
	{ "drain", ebb_cmd_fleet, "put a host in maintenance (--undo)" },
	{ "migrate", ebb_cmd_fleet, "move a VM to a host" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ebb [--version] [--help] COMMAND [ARGS]\n\n"
	    "Power-aware VM consolidation for Linux/KVM fleets.\n\n"
	    "Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun 'ebb COMMAND --help' for the options of one.  The\n"
	    "fleet commands talk to ebb-controller's API (--controller URL).\n");
}

int
main(int argc, char **argv)
{
	ebb_log_init("ebb", EBB_LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return EBB_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EBB_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ebb %s\n", EBB_VERSION);
		return EBB_EXIT_OK;
	}
	/*
	 * Options for the fleet commands may also come first:
	 * `ebb --controller URL hosts` as well as `ebb hosts --controller URL`.
	 */
	while (argc >= 4 && (strcmp(argv[1], "--controller") == 0 ||
	    strcmp(argv[1], "--token-file") == 0)) {
		setenv(strcmp(argv[1], "--controller") == 0 ? "EBB_CONTROLLER" :
		    "EBB_TOKEN_FILE", argv[2], 1);
		argc -= 2;
		argv += 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ebb: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EBB_EXIT_USAGE;
}
