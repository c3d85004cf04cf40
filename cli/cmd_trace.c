/*
 * cmd_trace.c - `ebb trace`: make synthetic PlanetLab-like traces, and show
 * the statistics of a trace folder (synthetic or real) to compare them.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"
#include "ebb_cli.h"
#include "sim_trace.h"

/*
 * The generator holds the whole fleet in memory, 8 bytes a sample; these
 * bounds keep a typo from asking for tens of gigabytes.
 */
#define TRACE_MAX_VMS		1000000
#define TRACE_MAX_SAMPLES	1000000
#define TRACE_MAX_TOTAL		50000000L

static void
trace_usage(FILE *f)
{
	fprintf(f,
	    "usage: ebb trace gen --out DIR [--vms N] [--seed S] [--samples N]"
	    " [--mean PCT]\n"
	    "       ebb trace stats [--samples N] DIR\n"
	    "\n"
	    "  gen    write synthetic PlanetLab-like traces, one file per VM\n"
	    "  stats  show the statistics of a folder of traces\n"
	    "\n"
	    "Run 'ebb trace gen --help' or 'ebb trace stats --help' for"
	    " details.\n");
}

static void
gen_usage(FILE *f)
{
	struct sim_synth_params p;

	sim_synth_defaults(&p);
	fprintf(f,
	    "usage: ebb trace gen --out DIR [--vms N] [--seed S] [--samples N]"
	    " [--mean PCT]\n"
	    "\n"
	    "Writes synthetic PlanetLab-like utilization traces into DIR"
	    " (created if\n"
	    "missing): files vm0000, vm0001, ..., one integer percent a line,"
	    " a sample\n"
	    "every %.0f s.  The same options give the same files on every"
	    " machine.\n"
	    "\n"
	    "  -o, --out DIR      folder to write (required)\n"
	    "  -n, --vms N        traces to make (default %d)\n"
	    "  -s, --seed S       random seed (default %llu)\n"
	    "  -l, --samples N    samples per trace (default %d, a day)\n"
	    "  -m, --mean PCT     fleet mean utilization, 0..100"
	    " (default %.1f)\n"
	    "  -h, --help         show this help\n",
	    p.interval_s, p.nvms, (unsigned long long)p.seed, p.samples,
	    p.mean_pct);
}

static void
stats_usage(FILE *f)
{
	fprintf(f,
	    "usage: ebb trace stats [--samples N] DIR\n"
	    "\n"
	    "Loads the traces of DIR as the simulator does (files in byte"
	    " order, each\n"
	    "padded with 0 or cut to N samples) and prints their count, mean,"
	    " st.dev,\n"
	    "median, 95th percentile, share of zero samples, traces with 0 at"
	    " two\n"
	    "consecutive samples (CloudSim drops such a VM), and the mean per"
	    " hour of day.\n"
	    "\n"
	    "  -l, --samples N    samples per trace (default 288)\n"
	    "  -h, --help         show this help\n");
}

/* Whole-string integer in [min, max]; on error says which option. */
static int
parse_long(const char *cmd, const char *opt, const char *s, long min,
    long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0 ||
	    *v < min || *v > max) {
		fprintf(stderr, "ebb trace %s: %s wants an integer in %ld..%ld,"
		    " not '%s'\n", cmd, opt, min, max, s);
		return -EINVAL;
	}
	return 0;
}

static int
parse_seed(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;

	/* strtoull would take "-1" as 2^64 - 1; a seed is written plainly. */
	errno = 0;
	x = strtoull(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0) {
		fprintf(stderr, "ebb trace gen: --seed wants an unsigned"
		    " integer, not '%s'\n", s);
		return -EINVAL;
	}
	*v = x;
	return 0;
}

static int
parse_pct(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(*v) ||
	    *v < 0.0 || *v > 100.0) {
		fprintf(stderr, "ebb trace gen: --mean wants a percent in"
		    " 0..100, not '%s'\n", s);
		return -EINVAL;
	}
	return 0;
}

/* Says what getopt_long stopped on; opterr is off so the words are ours. */
static void
bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		fprintf(stderr, "ebb trace %s: option '%s' needs a value\n",
		    cmd, argv[optind - 1]);
	else if (optopt != 0 && argv[optind - 1][1] != '-')
		fprintf(stderr, "ebb trace %s: unknown option '-%c'\n", cmd,
		    optopt);
	else
		fprintf(stderr, "ebb trace %s: unknown option '%s'\n", cmd,
		    argv[optind - 1]);
}

static int
trace_gen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out",	required_argument,	NULL, 'o' },
		{ "vms",	required_argument,	NULL, 'n' },
		{ "seed",	required_argument,	NULL, 's' },
		{ "samples",	required_argument,	NULL, 'l' },
		{ "mean",	required_argument,	NULL, 'm' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 },
	};
	struct sim_synth_params p;
	struct sim_workload w;
	struct ebb_err err;
	const char *out = NULL;
	double sum = 0.0;
	long v;
	int c, k, i;

	sim_synth_defaults(&p);
	opterr = 0;
	optind = 0;	/* glibc: restart the scan of a new argv */
	while ((c = getopt_long(argc, argv, ":o:n:s:l:m:h", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'n':
			if (parse_long("gen", "--vms", optarg, 1,
			    TRACE_MAX_VMS, &v) != 0)
				return EBB_EXIT_USAGE;
			p.nvms = (int)v;
			break;
		case 's':
			if (parse_seed(optarg, &p.seed) != 0)
				return EBB_EXIT_USAGE;
			break;
		case 'l':
			if (parse_long("gen", "--samples", optarg, 1,
			    TRACE_MAX_SAMPLES, &v) != 0)
				return EBB_EXIT_USAGE;
			p.samples = (int)v;
			break;
		case 'm':
			if (parse_pct(optarg, &p.mean_pct) != 0)
				return EBB_EXIT_USAGE;
			break;
		case 'h':
			gen_usage(stdout);
			return EBB_EXIT_OK;
		default:
			bad_option("gen", c, argv);
			gen_usage(stderr);
			return EBB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ebb trace gen: unexpected argument '%s'\n",
		    argv[optind]);
		gen_usage(stderr);
		return EBB_EXIT_USAGE;
	}
	if (out == NULL) {
		fprintf(stderr, "ebb trace gen: --out DIR is required\n");
		gen_usage(stderr);
		return EBB_EXIT_USAGE;
	}
	if ((long)p.nvms * p.samples > TRACE_MAX_TOTAL) {
		fprintf(stderr, "ebb trace gen: %d VMs x %d samples is more"
		    " than %ld samples\n", p.nvms, p.samples, TRACE_MAX_TOTAL);
		return EBB_EXIT_USAGE;
	}

	sim_synth_generate(&p, &w);
	if (sim_workload_write_dir(&w, out, &err) != 0) {
		fprintf(stderr, "ebb trace gen: %s\n", err.msg);
		sim_workload_free(&w);
		return EBB_EXIT_FAIL;
	}
	for (k = 0; k < w.ntraces; k++)
		for (i = 0; i < w.traces[k].n; i++)
			sum += w.traces[k].pct[i];
	printf("%s: %d traces of %d samples, mean %.2f %%\n", out, w.ntraces,
	    p.samples, sum / ((double)w.ntraces * p.samples));
	sim_workload_free(&w);
	return EBB_EXIT_OK;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
trace_print_stats(const struct sim_workload *w)
{
	double hsum[24] = { 0 }, *all, sum = 0.0, sq = 0.0, mean, sd, med;
	long hn[24] = { 0 }, n = 0, zeros = 0, j;
	int k, i, h, runs = 0;

	for (k = 0; k < w->ntraces; k++)
		n += w->traces[k].n;
	all = ebb_reallocarray(NULL, n, sizeof(*all));
	n = 0;
	for (k = 0; k < w->ntraces; k++) {
		const struct sim_trace *t = &w->traces[k];
		bool run = false;

		for (i = 0; i < t->n; i++) {
			all[n++] = t->pct[i];
			sum += t->pct[i];
			if (t->pct[i] == 0.0) {
				zeros++;
				if (i > 0 && t->pct[i - 1] == 0.0)
					run = true;
			}
			h = (int)fmod(i * w->interval_s / 3600.0, 24.0);
			hsum[h] += t->pct[i];
			hn[h]++;
		}
		runs += run;
	}
	mean = sum / n;
	/* Two passes: the one-pass formula loses digits when sd << mean. */
	for (j = 0; j < n; j++)
		sq += (all[j] - mean) * (all[j] - mean);
	sd = sqrt(sq / n);
	qsort(all, n, sizeof(*all), cmp_double);
	med = n % 2 ? all[n / 2] : 0.5 * (all[n / 2 - 1] + all[n / 2]);

	printf("traces     %d\n", w->ntraces);
	printf("samples    %ld (%d a trace, every %.0f s)\n", n,
	    w->traces[0].n, w->interval_s);
	printf("mean       %.2f %%\n", mean);
	printf("st.dev     %.2f %%\n", sd);
	printf("median     %.1f %%\n", med);
	/* Nearest rank: the smallest value with 95 % of samples at or below. */
	printf("p95        %.1f %%\n", all[(95 * n + 99) / 100 - 1]);
	printf("zero       %.2f %% of samples\n", 100.0 * zeros / n);
	printf("zero runs  %d traces (%.1f %%) with 0 at two consecutive"
	    " samples\n", runs, 100.0 * runs / w->ntraces);
	printf("\nhour  mean %%\n");
	for (h = 0; h < 24; h++)
		if (hn[h] > 0)
			printf("  %02d  %6.2f\n", h, hsum[h] / hn[h]);
	free(all);
}

static int
trace_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "samples",	required_argument,	NULL, 'l' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 },
	};
	struct sim_workload w;
	struct ebb_err err;
	long samples = 288;
	int c, rc;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_long("stats", "--samples", optarg, 1,
			    TRACE_MAX_SAMPLES, &samples) != 0)
				return EBB_EXIT_USAGE;
			break;
		case 'h':
			stats_usage(stdout);
			return EBB_EXIT_OK;
		default:
			bad_option("stats", c, argv);
			stats_usage(stderr);
			return EBB_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "ebb trace stats: %s\n", optind < argc ?
		    "one folder, please" : "which folder?");
		stats_usage(stderr);
		return EBB_EXIT_USAGE;
	}
	rc = sim_workload_load_dir(argv[optind], (int)samples, &w, &err);
	if (rc != 0) {
		fprintf(stderr, "ebb trace stats: %s\n", err.msg);
		/* A damaged file is invalid input; the rest is the system's. */
		return rc == -EINVAL || rc == -ERANGE ? EBB_EXIT_USAGE :
		    EBB_EXIT_FAIL;
	}
	trace_print_stats(&w);
	sim_workload_free(&w);
	return EBB_EXIT_OK;
}

int
ebb_cmd_trace(int argc, char **argv)
{
	if (argc < 2) {
		trace_usage(stderr);
		return EBB_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		trace_usage(stdout);
		return EBB_EXIT_OK;
	}
	if (strcmp(argv[1], "gen") == 0)
		return trace_gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "stats") == 0)
		return trace_stats(argc - 1, argv + 1);
	fprintf(stderr, "ebb trace: unknown subcommand '%s'\n", argv[1]);
	trace_usage(stderr);
	return EBB_EXIT_USAGE;
}
