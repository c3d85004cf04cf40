/*
 * cmd_simulate.c - `ebb simulate`: run a policy over utilization traces and
 * report energy, SLA and migrations the way the literature does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ebb.h"
#include "ebb_cli.h"
#include "pol_policy.h"
#include "sim.h"
#include "sim_plot.h"
#include "sim_trace.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ebb simulate [--trace DIR | --synthetic N] [--policy FILE]\n"
	    "                    [--model cloudsim|realistic] [--hosts N]\n"
	    "                    [--fleet FILE]\n"
	    "                    [--seed S] [--json] [--plot FILE.svg]\n"
	    "\n"
	    "Runs a day of a fleet through a consolidation policy and prints\n"
	    "energy, SLA violation (SLATAH, PDM, SLAV, ESV), migrations and\n"
	    "host shutdowns.\n"
	    "\n"
	    "  --trace DIR      PlanetLab-format traces, one file per VM\n"
	    "  --synthetic N    N synthetic PlanetLab-like traces instead\n"
	    "                   (seeded by --seed; default when no --trace)\n"
	    "  --policy FILE    JSON policy (default: built-in LR-MMT-1.2)\n"
	    "  --model M        cloudsim (CloudSim 3.0.3's PlanetLab set-up,\n"
	    "                   default) or realistic (idle power, power-cycle\n"
	    "                   time, dirty-rate migration time, per-VM SLA)\n"
	    "  --hosts N        hosts in the fleet (default 800, or the\n"
	    "                   fleet file's)\n"
	    "  --fleet FILE     host types, power curves and power-cycle\n"
	    "                   costs (default: CloudSim's HP ML110 G4/G5)\n"
	    "  --seed S         seed for RS selection and synthetic traces\n"
	    "  --json           one JSON object instead of the table\n"
	    "  --plot FILE      draw active hosts and fleet power as SVG\n");
}

static int
load_policy(const char *path, struct pol_policy *p)
{
	struct pol_policy_error perr;
	struct ebb_err err;
	char *text;

	if (path == NULL) {
		pol_policy_defaults(p);
		return 0;
	}
	if (ebb_read_file(path, &text, NULL, &err) != 0) {
		fprintf(stderr, "ebb simulate: %s\n", err.msg);
		return -1;
	}
	if (pol_policy_parse(text, path, p, &perr) != 0) {
		fprintf(stderr, "%s\n", perr.msg);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

static void
print_json(const struct sim_result *r, const struct pol_policy *p,
    const char *workload, double cpu)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:I, s:f,"
	    " s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:i, s:I, s:f, s:f}",
	    "policy", p->name,
	    "model", sim_model_name(r->model),
	    "workload", workload,
	    "hosts", r->nhosts,
	    "vms", r->nvms,
	    "energy_kwh", r->energy_kwh,
	    "baseline_kwh", r->baseline_kwh,
	    "migrations", (json_int_t)r->migrations,
	    "slatah", r->slatah,
	    "pdm", r->pdm,
	    "slav", r->slav,
	    "esv", r->esv,
	    "sla_overall", r->sla_overall,
	    "host_shutdowns", (json_int_t)r->host_shutdowns,
	    "host_boots", (json_int_t)r->host_boots,
	    "mean_active_hosts", r->mean_active_hosts,
	    "vms_removed", r->vms_removed,
	    "rounds", (json_int_t)r->rounds,
	    "plan_cpu_s", r->plan_cpu_s,
	    "cpu_s", cpu);
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));

	puts(s);
	free(s);
	json_decref(o);
}

static void
print_table(const struct sim_result *r, const struct pol_policy *p,
    const char *workload, double cpu)
{
	printf("ebb simulate: policy %s, model %s, %d hosts, %d VMs\n",
	    p->name, sim_model_name(r->model), r->nhosts, r->nvms);
	printf("workload: %s\n\n", workload);
	printf("  %-26s %14.2f\n", "energy (kWh)", r->energy_kwh);
	printf("  %-26s %14.2f\n", "no consolidation (kWh)", r->baseline_kwh);
	printf("  %-26s %14ld\n", "migrations", r->migrations);
	printf("  %-26s %13.2f%%\n", "SLATAH", r->slatah * 100);
	printf("  %-26s %13.3f%%\n", "PDM", r->pdm * 100);
	printf("  %-26s %14.2e\n", "SLAV", r->slav);
	printf("  %-26s %14.2e\n", "ESV", r->esv);
	printf("  %-26s %13.2f%%\n", "SLA violation overall",
	    r->sla_overall * 100);
	printf("  %-26s %14ld\n", "host shutdowns", r->host_shutdowns);
	if (r->model == SIM_MODEL_REALISTIC)
		printf("  %-26s %14ld\n", "host boots", r->host_boots);
	printf("  %-26s %14.1f\n", "mean active hosts", r->mean_active_hosts);
	if (r->vms_removed)
		printf("  %-26s %14d\n", "VMs finished early", r->vms_removed);
	printf("  %-26s %14.3f\n", "CPU seconds", cpu);
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
ebb_cmd_simulate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "synthetic", required_argument, NULL, 'n' },
		{ "policy", required_argument, NULL, 'p' },
		{ "model", required_argument, NULL, 'm' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "fleet", required_argument, NULL, 'F' },
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *trace = NULL, *policy = NULL, *plot = NULL, *fleet = NULL;
	struct sim_fleet_spec fspec;
	struct sim_synth_params sp;
	struct sim_config cfg;
	struct sim_workload wl;
	struct sim_result res;
	struct pol_policy pol;
	struct ebb_err err;
	char workload[512], *end;
	int c, model = SIM_MODEL_CLOUDSIM, json = 0, rc = EBB_EXIT_OK;
	long nhosts = 0;
	unsigned long long seed = 0;
	int have_seed = 0;
	double cpu;

	sim_synth_defaults(&sp);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = optarg;
			break;
		case 'n':
			sp.nvms = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || sp.nvms <= 0 || sp.nvms > 10000000) {
				fprintf(stderr, "ebb simulate: --synthetic: "
				    "'%s' is not a VM count\n", optarg);
				return EBB_EXIT_USAGE;
			}
			break;
		case 'p':
			policy = optarg;
			break;
		case 'm':
			if ((model = sim_model_parse(optarg)) < 0) {
				fprintf(stderr, "ebb simulate: --model: '%s': "
				    "expected cloudsim or realistic\n", optarg);
				return EBB_EXIT_USAGE;
			}
			break;
		case 'H':
			nhosts = strtol(optarg, &end, 10);
			if (*end != '\0' || nhosts <= 0 || nhosts > 10000000) {
				fprintf(stderr, "ebb simulate: --hosts: "
				    "'%s' is not a host count\n", optarg);
				return EBB_EXIT_USAGE;
			}
			break;
		case 's':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (*end != '\0' || errno != 0) {
				fprintf(stderr, "ebb simulate: --seed: "
				    "'%s' is not a number\n", optarg);
				return EBB_EXIT_USAGE;
			}
			have_seed = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'P':
			plot = optarg;
			break;
		case 'F':
			fleet = optarg;
			break;
		case 'h':
			usage(stdout);
			return EBB_EXIT_OK;
		default:
			usage(stderr);
			return EBB_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ebb simulate: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return EBB_EXIT_USAGE;
	}
	if (load_policy(policy, &pol) != 0)
		return EBB_EXIT_USAGE;

	sim_config_defaults(&cfg, model);
	if (fleet != NULL) {
		char *text;

		if (ebb_read_file(fleet, &text, NULL, &err) != 0) {
			fprintf(stderr, "ebb simulate: %s\n", err.msg);
			return EBB_EXIT_FAIL;
		}
		if (sim_fleet_parse(text, fleet, &fspec, &err) != 0) {
			fprintf(stderr, "ebb simulate: %s\n", err.msg);
			free(text);
			return EBB_EXIT_USAGE;
		}
		free(text);
		cfg.types = fspec.types;
		cfg.ntypes = fspec.ntypes;
		cfg.nhosts = fspec.nhosts;
	}
	if (nhosts > 0)
		cfg.nhosts = (int)nhosts;
	if (have_seed) {
		cfg.seed = seed;
		sp.seed = seed;
	}

	cpu = cpu_now();
	if (trace != NULL) {
		if (sim_workload_load_dir(trace, 288, &wl, &err) != 0) {
			fprintf(stderr, "ebb simulate: %s\n", err.msg);
			return EBB_EXIT_FAIL;
		}
		snprintf(workload, sizeof(workload), "%s (%d traces)", trace,
		    wl.ntraces);
	} else {
		sim_synth_generate(&sp, &wl);
		snprintf(workload, sizeof(workload),
		    "synthetic, %d VMs, seed %llu", sp.nvms,
		    (unsigned long long)sp.seed);
	}
	if (sim_run(&cfg, &pol, &wl, &res, &err) != 0) {
		fprintf(stderr, "ebb simulate: %s\n", err.msg);
		sim_workload_free(&wl);
		return EBB_EXIT_FAIL;
	}
	cpu = cpu_now() - cpu;

	if (json)
		print_json(&res, &pol, workload, cpu);
	else
		print_table(&res, &pol, workload, cpu);

	if (plot != NULL) {
		char title[256];
		struct sim_series ser = {
			.title = title,
			.n = res.npoints,
			.t_s = res.t_s,
			.active_hosts = res.active_hosts,
			.power_w = res.power_w,
			.baseline_w = res.baseline_w,
		};

		snprintf(title, sizeof(title), "%s, %s model: %.1f kWh "
		    "(%.1f without consolidation)", pol.name,
		    sim_model_name(model), res.energy_kwh, res.baseline_kwh);
		if (sim_plot_svg(&ser, plot, &err) != 0) {
			fprintf(stderr, "ebb simulate: %s\n", err.msg);
			rc = EBB_EXIT_FAIL;
		}
	}
	sim_result_free(&res);
	sim_workload_free(&wl);
	return rc;
}
