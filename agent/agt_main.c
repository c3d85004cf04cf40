/*
 * agt_main.c - ebb-agent: the per-host daemon of ebb.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agt_agent.h"
#include "ebb_log.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ebb-agent [-c FILE] [--check-config] [-v] [--help]\n"
	    "\n"
	    "The per-host daemon of ebb: samples per-core and per-VM load,\n"
	    "parks idle cores, reports to the controller and carries out its\n"
	    "commands.  Runs in the foreground (systemd: Type=simple).\n"
	    "\n"
	    "  -c, --config FILE   configuration (default: built-in: standalone,\n"
	    "                      5 s interval, affinity parking)\n"
	    "  --check-config      validate the configuration, print it, exit\n"
	    "  -v, --verbose       log debug messages\n");
}

static void
print_config(const struct agt_config *c)
{
	printf("host            %s\n", c->host);
	if (c->bus.kind == EBB_BUS_KAFKA)
		printf("bus             kafka, brokers %s, group %s.%s, commands "
		    "younger than %g s\n", c->bus.brokers, c->bus.group[0] ?
		    c->bus.group : "ebb-agent", c->host, c->command_max_age_s);
	else
		printf("controller      %s\n", c->controller[0] ?
		    c->controller : "(standalone)");
	if (c->tls.ca[0] != '\0')
		printf("tls             ca %s, cert %s, key %s, server name %s\n",
		    c->tls.ca, c->tls.cert, c->tls.key, c->tls.server_name[0] ?
		    c->tls.server_name : "(the controller's host)");
	else if (c->insecure_plaintext)
		printf("tls             OFF: insecure_plaintext, no "
		    "authentication\n");
	printf("interval_s      %g\n", c->interval_s);
	printf("state_dir       %s\n", c->state_dir);
	printf("metrics_listen  %s\n", c->metrics_listen[0] ?
	    c->metrics_listen : "(off)");
	printf("hypervisor      %s\n", c->hypervisor);
	if (strcmp(c->hypervisor, "none") != 0)
		printf("hypervisor_conf %s\n", c->hypervisor_conf);
	printf("parking         %s, actuator %s, cores %d..%d (0: all), "
	    "up %.2f/%gs, "
	    "down %.2f/%gs, headroom %.2f\n", c->park_enabled ? "on" : "off",
	    agt_actuator_name(c->actuator), c->park.min_cores,
	    c->park.max_cores, c->park.increase_threshold,
	    c->park.increase_time, c->park.decrease_threshold,
	    c->park.decrease_time, c->park.headroom);
	printf("power driver    %s%s\n", c->power_driver,
	    c->has_power_model ? ", power model given" : "");
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
	struct agt_config cfg;
	struct ebb_err err;
	struct agt a;
	int c, check = 0, verbose = 0, rc;

	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
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
	ebb_log_init("ebb-agent", verbose ? EBB_LOG_DEBUG : EBB_LOG_INFO);
	agt_config_defaults(&cfg);
	if (file != NULL) {
		char *text;

		if (ebb_read_file(file, &text, NULL, &err) != 0) {
			fprintf(stderr, "ebb-agent: %s\n", err.msg);
			return 1;
		}
		rc = agt_config_parse(text, file, &cfg, &err);
		free(text);
		if (rc != 0) {
			fprintf(stderr, "ebb-agent: %s\n", err.msg);
			return 2;
		}
	}
	if (agt_config_check_tls(&cfg, file ? file : "(built-in)",
	    &err) != 0) {
		fprintf(stderr, "ebb-agent: %s\n", err.msg);
		return 2;
	}
	if (check) {
		print_config(&cfg);
		return 0;
	}
	if (agt_init(&a, &cfg, &err) != 0) {
		fprintf(stderr, "ebb-agent: %s\n", err.msg);
		return 1;
	}
	ebb_info("ebb-agent %s on %s: interval %gs, controller %s", EBB_VERSION,
	    cfg.host, cfg.interval_s, cfg.bus.kind == EBB_BUS_KAFKA ?
	    "on the kafka bus" : cfg.controller[0] ? cfg.controller :
	    "none (standalone)");
	rc = agt_run(&a);
	agt_fini(&a);
	return rc;
}
