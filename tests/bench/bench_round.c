/*
 * bench_round.c - how long one planning round takes on a large fleet.
 *
 * Builds the snapshot a controller would hold from its agents' reports:
 * N hosts alternating CloudSim's HP ML110 G4 / G5, all on; M VMs of
 * CloudSim's four sizes, each holding its RAM, with 30 points of history
 * from a seeded random walk; then times pol_plan_round() R times on that
 * same snapshot and prints one JSON line.  Not part of ctest: timings on a
 * shared machine are figures to read, never to assert.
 *
 * --find picks how placement finds a host (the plan is the same every
 * way; the scan is what every round did before the index), and --ws
 * keeps one workspace across repetitions, as the simulator does, instead
 * of pol_plan_round()'s fresh one each time.
 *
 * The ML110's 4 GB holds only three of these VMs, so ~10 VMs per host
 * cannot hold their RAM on it; host RAM is scaled by --ram-scale (default
 * 4, i.e. 16 GB), which keeps RAM a real constraint on placement (~75 %
 * used) without making every host full.  --ram-scale 1 gives the literal
 * ML110, on which most VMs find no host.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "pol_fleet.h"
#include "pol_plan.h"
#include "pol_policy.h"
#include "sim.h"

/* CloudSim's PlanetLab VM sizes (MIPS, MB), assigned round-robin. */
static const struct {
	double	mips;
	double	ram_mb;
} vm_sizes[] = {
	{ 2500, 870 },
	{ 2000, 1740 },
	{ 1000, 1740 },
	{ 500, 613 },
};

struct bench_opts {
	int		 nhosts;
	int		 nvms;
	int		 reps;
	uint64_t	 seed;
	double		 ram_scale;
	const char	*policy;
	enum pol_find	 find;
	bool		 ws;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: bench_round [--hosts N] [--vms M] [--reps R] [--seed S]\n"
	    "                   [--ram-scale F] [--policy FILE]\n"
	    "                   [--find auto|index|scan|check] [--ws]\n"
	    "\n"
	    "Times pol_plan_round() on a synthetic fleet (defaults: 10000\n"
	    "hosts, 100000 VMs, 5 repetitions, seed 1, host RAM x4, the\n"
	    "built-in policy) and prints one JSON line.  --find: how\n"
	    "placement finds a host (same plan; check does both and fails\n"
	    "if they differ); --ws: one workspace for all repetitions.\n");
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, "bench_round: %s: '%s' is not a number in "
		    "%ld..%ld\n", opt, s, lo, hi);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* 0 to run, 1 when --help was answered, or -EINVAL. */
static int
parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'H' },
		{ "vms", required_argument, NULL, 'V' },
		{ "reps", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "ram-scale", required_argument, NULL, 'R' },
		{ "policy", required_argument, NULL, 'p' },
		{ "find", required_argument, NULL, 'f' },
		{ "ws", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	*o = (struct bench_opts){ .nhosts = 10000, .nvms = 100000, .reps = 5,
	    .seed = 1, .ram_scale = 4.0 };
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (parse_int("--hosts", optarg, 1, 10000000,
			    &o->nhosts) != 0)
				return -EINVAL;
			break;
		case 'V':
			if (parse_int("--vms", optarg, 1, 100000000,
			    &o->nvms) != 0)
				return -EINVAL;
			break;
		case 'r':
			if (parse_int("--reps", optarg, 1, 100000,
			    &o->reps) != 0)
				return -EINVAL;
			break;
		case 's':
			errno = 0;
			o->seed = strtoull(optarg, &end, 0);
			if (*optarg == '\0' || *end != '\0' || errno != 0) {
				fprintf(stderr, "bench_round: --seed: '%s' is "
				    "not a number\n", optarg);
				return -EINVAL;
			}
			break;
		case 'R':
			o->ram_scale = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' ||
			    !(o->ram_scale > 0 && o->ram_scale <= 1024)) {
				fprintf(stderr, "bench_round: --ram-scale: "
				    "'%s' is not a factor in (0, 1024]\n",
				    optarg);
				return -EINVAL;
			}
			break;
		case 'p':
			o->policy = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "auto") == 0)
				o->find = POL_FIND_AUTO;
			else if (strcmp(optarg, "index") == 0)
				o->find = POL_FIND_INDEX;
			else if (strcmp(optarg, "scan") == 0)
				o->find = POL_FIND_SCAN;
			else if (strcmp(optarg, "check") == 0)
				o->find = POL_FIND_CHECK;
			else {
				fprintf(stderr, "bench_round: --find: '%s' is "
				    "not auto, index, scan or check\n", optarg);
				return -EINVAL;
			}
			break;
		case 'w':
			o->ws = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_round: unexpected argument '%s'\n",
		    argv[optind]);
		return -EINVAL;
	}
	return 0;
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
		fprintf(stderr, "bench_round: %s\n", err.msg);
		return -EINVAL;
	}
	if (pol_policy_parse(text, path, p, &perr) != 0) {
		fprintf(stderr, "%s\n", perr.msg);
		free(text);
		return -EINVAL;
	}
	free(text);
	return 0;
}

static double
clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/*
 * The utilization history of one VM, oldest point first into hist[29]:
 * a walk around `base` with its own trend, so that local regression sees
 * hosts heading up as well as down.
 */
static void
walk_history(struct ebb_rand *rng, double base, double *hist)
{
	double drift = 0.02 * base * ebb_rand_normal(rng);
	double x = clamp01(base * (0.7 + 0.6 * ebb_rand_double(rng)));

	for (int k = POL_HIST_MAX - 1; k >= 0; k--) {
		x = clamp01(x + drift + 0.12 * base * ebb_rand_normal(rng));
		hist[k] = x;
	}
}

/*
 * The fleet.  Each host gets a load level (log-normal around 45 %, so a
 * few percent of hosts sit near or above full and a quarter below 30 %);
 * VM i belongs to host i·N/M and its history is scaled so that its host's
 * VMs add up to that level.  Placement is first fit on current CPU demand
 * and RAM, starting at that host, so a host whose level is too high spills
 * to its neighbours.  Returns the VMs that found no host.
 */
static int
build_fleet(const struct bench_opts *o, struct pol_fleet *f)
{
	struct ebb_rand rng;
	double *level, *load, *ram, mean_mips = 0;
	double per_host = (double)o->nvms / o->nhosts;
	int unplaced = 0;

	for (size_t k = 0; k < EBB_NITEMS(vm_sizes); k++)
		mean_mips += vm_sizes[k].mips / EBB_NITEMS(vm_sizes);
	ebb_rand_seed(&rng, o->seed);
	pol_fleet_init(f);
	f->nhosts = o->nhosts;
	f->hosts = ebb_calloc(f->nhosts, sizeof(*f->hosts));
	f->nvms = o->nvms;
	f->vms = ebb_calloc(f->nvms, sizeof(*f->vms));
	level = ebb_calloc(f->nhosts, sizeof(*level));
	load = ebb_calloc(f->nhosts, sizeof(*load));
	ram = ebb_calloc(f->nhosts, sizeof(*ram));

	for (int i = 0; i < f->nhosts; i++) {
		const struct sim_host_type *ty = sim_host_type_of(i);
		struct pol_host *H = &f->hosts[i];

		*H = (struct pol_host){ .id = i, .pes = ty->pes,
		    .pe_mips = ty->pe_mips, .ram_mb = ty->ram_mb * o->ram_scale,
		    .bw = ty->bw, .mig_mbs = ty->bw / 16000,
		    .power = &ty->power, .state = POL_HOST_ON };
		level[i] = 0.45 * exp(0.5 * ebb_rand_normal(&rng) - 0.125);
	}

	for (int i = 0; i < f->nvms; i++) {
		struct pol_vm *v = &f->vms[i];
		int home = (int)((long long)i * f->nhosts / f->nvms), h = -1;
		double base;

		*v = (struct pol_vm){ .id = i, .host = -1, .pes = 1,
		    .mips = vm_sizes[i % EBB_NITEMS(vm_sizes)].mips,
		    .ram_mb = vm_sizes[i % EBB_NITEMS(vm_sizes)].ram_mb,
		    .nhist = POL_HIST_MAX };
		v->ram_use_mb = v->ram_mb;
		base = level[home] * pol_host_mips(&f->hosts[home]) /
		    (per_host * mean_mips);
		/* Heavy-tailed across VMs, the same mean. */
		base *= exp(0.6 * ebb_rand_normal(&rng) - 0.18);
		walk_history(&rng, base, v->hist);
		v->req_mips = v->hist[0] * v->mips * v->pes;

		for (int k = 0; k < f->nhosts; k++) {
			int c = (home + k) % f->nhosts;
			const struct pol_host *H = &f->hosts[c];

			if (load[c] + v->req_mips <= pol_host_mips(H) &&
			    ram[c] + v->ram_use_mb <= H->ram_mb) {
				h = c;
				break;
			}
		}
		if (h < 0) {
			unplaced++;
			continue;
		}
		load[h] += v->req_mips;
		ram[h] += v->ram_use_mb;
		v->host = h;
		/* Appended directly: pol_host_realloc runs once per host. */
		if (f->hosts[h].nslots == f->hosts[h].cslots) {
			struct pol_host *H = &f->hosts[h];

			H->cslots = H->cslots ? H->cslots * 2 : 16;
			H->slots = ebb_reallocarray(H->slots, H->cslots,
			    sizeof(*H->slots));
		}
		f->hosts[h].slots[f->hosts[h].nslots++] =
		    (struct pol_slot){ .vm = i };
	}

	for (int i = 0; i < f->nhosts; i++) {
		struct pol_host *H = &f->hosts[i];

		pol_host_realloc(f, i);
		H->util = H->load_mips / pol_host_mips(H);
	}
	free(level);
	free(load);
	free(ram);
	return unplaced;
}

/* FNV-1a over the plan, to check that repetitions plan the same. */
static uint64_t
plan_hash(const struct pol_plan *pl)
{
	uint64_t x = 0xcbf29ce484222325ULL;

	for (int i = 0; i < pl->nacts; i++) {
		const struct pol_action *a = &pl->acts[i];
		int fields[] = { a->kind, a->why, a->vm, a->from, a->to,
		    a->host };

		for (size_t k = 0; k < EBB_NITEMS(fields); k++) {
			x ^= (uint32_t)fields[k];
			x *= 0x100000001b3ULL;
		}
	}
	return x;
}

int
main(int argc, char **argv)
{
	struct bench_opts o;
	struct pol_policy pol;
	struct pol_fleet f;
	struct pol_plan pl;
	struct pol_ws ws;
	double *ms, cap = 0, used = 0, cpu;
	uint64_t hash = 0;
	int unplaced, migrations = 0, offs = 0, over = 0, drained = 0;
	int rc = 0;

	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc > 0 ? 0 : 2;
	if (load_policy(o.policy, &pol) != 0)
		return 2;

	cpu = cpu_now();
	unplaced = build_fleet(&o, &f);
	cpu = cpu_now() - cpu;
	for (int i = 0; i < f.nhosts; i++) {
		cap += pol_host_mips(&f.hosts[i]);
		used += f.hosts[i].load_mips;
	}
	fprintf(stderr, "bench_round: %d hosts, %d VMs (%d unplaced), fleet "
	    "%.1f %% loaded, host RAM %.0f MB; built in %.2f s\n", f.nhosts,
	    f.nvms, unplaced, 100 * used / cap, f.hosts[0].ram_mb, cpu);

	static const char *find_names[] = {
		[POL_FIND_AUTO] = "auto",
		[POL_FIND_INDEX] = "index",
		[POL_FIND_SCAN] = "scan",
		[POL_FIND_CHECK] = "check",
	};

	ms = ebb_calloc(o.reps, sizeof(*ms));
	pol_ws_init(&ws);
	for (int r = 0; r < o.reps; r++) {
		struct ebb_rand rng;
		double t0;
		uint64_t h;

		/* The simulator seeds its RNG from the policy's seed. */
		ebb_rand_seed(&rng, pol.selection.seed);
		pol_plan_init(&pl);
		t0 = cpu_now();
		if (o.ws || o.find != POL_FIND_AUTO) {
			/* A fresh workspace unless --ws: what the round costs. */
			if (!o.ws)
				pol_ws_init(&ws);
			ws.find = o.find;
			pol_plan_round_ws(&pol, &f, &rng, &ws, &pl);
			if (!o.ws)
				pol_ws_free(&ws);
		} else {
			pol_plan_round(&pol, &f, &rng, &pl);
		}
		ms[r] = (cpu_now() - t0) * 1e3;
		if (ws.find_mismatches != 0) {
			fprintf(stderr, "bench_round: repetition %d: index and "
			    "scan chose differently %ld times\n", r + 1,
			    ws.find_mismatches);
			ws.find_mismatches = 0;
			rc = 1;
		}

		h = plan_hash(&pl);
		if (r == 0) {
			hash = h;
			for (int i = 0; i < pl.nacts; i++) {
				if (pl.acts[i].kind == POL_ACT_MIGRATE)
					migrations++;
				else if (pl.acts[i].kind == POL_ACT_POWER_OFF)
					offs++;
			}
			over = pl.noverloaded;
			drained = pl.ndrained;
		} else if (h != hash) {
			fprintf(stderr, "bench_round: repetition %d planned "
			    "differently from the first\n", r + 1);
			rc = 1;
		}
		pol_plan_free(&pl);
	}

	{
		double med, *s = ebb_calloc(o.reps, sizeof(*s));
		char hex[17];
		json_t *j;
		char *out;

		memcpy(s, ms, o.reps * sizeof(*s));
		qsort(s, o.reps, sizeof(*s), cmp_double);
		med = o.reps % 2 ? s[o.reps / 2] :
		    (s[o.reps / 2 - 1] + s[o.reps / 2]) / 2;
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)hash);
		j = json_pack("{s:s, s:s, s:s, s:b, s:i, s:i, s:f, s:f, s:f, "
		    "s:i, s:i, s:i, s:i, s:s}",
		    "bench", "round",
		    "policy", pol.name,
		    "find", find_names[o.find],
		    "ws", o.ws,
		    "hosts", f.nhosts,
		    "vms", f.nvms,
		    "median_ms", med,
		    "min_ms", s[0],
		    "max_ms", s[o.reps - 1],
		    "migrations", migrations,
		    "power_offs", offs,
		    "overloaded", over,
		    "drained", drained,
		    "plan_hash", hex);
		out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(6));
		puts(out);
		free(out);
		json_decref(j);
		free(s);
	}
	free(ms);
	pol_ws_free(&ws);
	pol_fleet_free(&f);
	return rc;
}
