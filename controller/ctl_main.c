/*
 * ctl_main.c - ebb-controller: the fleet's brain.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ebb_log.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ebb-controller [-c FILE] [--check-config] [-v] [--help]\n"
	    "\n"
	    "Keeps the fleet picture from the agents' reports, applies the JSON\n"
	    "policy every interval, journals every decision before acting on\n"
	    "it, live-migrates VMs off underloaded hosts, powers empty hosts\n"
	    "down and back up.  Serves the HTTP API the `ebb` CLI talks to.\n"
	    "\n"
	    "  -c, --config FILE   configuration (examples/controller.json)\n"
	    "  --check-config      validate configuration and policy, exit\n"
	    "  -v, --verbose       log debug messages\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	struct ctl_config cfg;
	struct ebb_err err;
	struct ctl c;
	int ch, check = 0, verbose = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	ebb_log_init("ebb-controller", verbose ? EBB_LOG_DEBUG : EBB_LOG_INFO);
	ctl_config_defaults(&cfg);
	if (file != NULL) {
		char *text;

		if (ebb_read_file(file, &text, NULL, &err) != 0) {
			fprintf(stderr, "ebb-controller: %s\n", err.msg);
			return 1;
		}
		rc = ctl_config_parse(text, file, &cfg, &err);
		free(text);
		if (rc != 0) {
			fprintf(stderr, "ebb-controller: %s\n", err.msg);
			return 2;
		}
	}
	if (ctl_config_check_tls(&cfg, file ? file : "(built-in)",
	    &err) != 0) {
		fprintf(stderr, "ebb-controller: %s\n", err.msg);
		ctl_config_free(&cfg);
		return 2;
	}
	if (ctl_policy_load(&cfg, NULL, &err) != 0) {
		fprintf(stderr, "ebb-controller: %s\n", err.msg);
		ctl_config_free(&cfg);
		return 2;
	}
	if (check) {
		printf("%s: ok (%d hosts listed, %s, policy %s)\n", file ?
		    file : "(built-in)", cfg.nhosts, cfg.unlisted_hosts ==
		    CTL_UNLISTED_REFUSE ? "others refused" : "others accepted",
		    cfg.policy[0] ? cfg.policy : "built-in lr-mmt-1.2");
		ctl_config_free(&cfg);
		return 0;
	}
	if (ctl_init(&c, &cfg, &err) != 0) {
		fprintf(stderr, "ebb-controller: %s\n", err.msg);
		ctl_config_free(&cfg);
		return 1;
	}
	ctl_config_free(&cfg);
	ebb_info("ebb-controller %s: agents on %s%s, API on %s, policy %s, "
	    "every %gs%s", EBB_VERSION, c.cfg.bus.kind == EBB_BUS_KAFKA ?
	    "kafka " : "", c.cfg.bus.kind == EBB_BUS_KAFKA ?
	    c.cfg.bus.brokers : c.cfg.listen, c.cfg.http[0] ?
	    c.cfg.http : "(off)", c.policy.name, c.cfg.interval_s,
	    c.cfg.dry_run ? " (dry run)" : "");
	rc = ctl_run(&c);
	ctl_fini(&c);
	return rc;
}
