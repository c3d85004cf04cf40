/*
 * sim.h - the trace-driven fleet simulator.  It runs the controller's own
 * policy code (policy/) against a model of hosts, VMs and migrations.
 *
 * Two models:
 *  - cloudsim: CloudSim 3.0.3's PlanetLab experiment, behaviour for
 *    behaviour (docs/cloudsim-model.md), so results compare with the
 *    published reference numbers.
 *  - realistic: ebb's own; hosts draw idle power until switched off,
 *    switching takes time and energy, VMs live the whole day, migration
 *    time grows with the VM's dirty rate, SLA is counted per VM.
 */
#ifndef SIM_H
#define SIM_H

#include <stdint.h>

#include "ebb.h"
#include "pol_fleet.h"
#include "pol_policy.h"
#include "sim_trace.h"

enum sim_model {
	SIM_MODEL_CLOUDSIM,
	SIM_MODEL_REALISTIC,
};

/* A kind of host, with its power curve and power-cycle costs. */
struct sim_host_type {
	const char	*name;
	int		 pes;
	double		 pe_mips;
	double		 ram_mb;
	double		 bw;		/* CloudSim units: 1e6 = 1 Gbit/s */
	struct pol_power_curve power;
	double		 boot_s;	/* realistic: off -> on */
	double		 shutdown_s;	/* realistic: on -> off */
	double		 off_w;		/* realistic: draw when off (BMC) */
	double		 transition_w;	/* realistic: draw while booting or
					   shutting down */
};

#define SIM_TYPES_MAX	16
#define SIM_TYPE_NAME	64

/*
 * A fleet description (examples/fleets/):
 *   { "hosts": 800,
 *     "host_types": [ { "name": "...", "pes": 2, "pe_mips": 1860,
 *                       "ram_mb": 4096, "bw": 1000000,
 *                       "power_w": [ 11 watts at 0, 10, ..., 100 % ],
 *                       "boot_s": 120, "shutdown_s": 30, "off_w": 5,
 *                       "transition_w": 117 }, ... ] }
 * Host i has type i mod the number of types, as CloudSim alternates.
 */
struct sim_fleet_spec {
	int			 nhosts;
	int			 ntypes;
	struct sim_host_type	 types[SIM_TYPES_MAX];
	char			 names[SIM_TYPES_MAX][SIM_TYPE_NAME];
};

/* Parses a fleet description; 0 or -EINVAL with err naming file and key. */
int	sim_fleet_parse(const char *text, const char *file,
	    struct sim_fleet_spec *, struct ebb_err *);

/* The VM types of CloudSim's PlanetLab set-up, by trace index. */
struct sim_vm_type {
	double	mips;
	double	ram_mb;
	double	bw;
};

struct sim_config {
	enum sim_model	 model;
	int		 nhosts;	/* 800 */
	const struct sim_host_type *types; /* NULL: CloudSim's G4/G5 */
	int		 ntypes;
	uint64_t	 seed;		/* RS selection, realistic noise */
	double		 interval_s;	/* 300 */
	double		 limit_s;	/* simulated time (86400) */
	/* realistic model */
	double		 dirty_pages_per_mips; /* dirty rate per unit load */
	double		 downtime_s;	/* stop-and-copy pause per migration */
};

void	sim_config_defaults(struct sim_config *, enum sim_model);

/* Built-in host type of host i: CloudSim's alternating HP ML110 G4 / G5. */
const struct sim_host_type *sim_host_type_of(int i);

struct sim_result {
	enum sim_model	 model;
	int		 nhosts;
	int		 nvms;
	double		 energy_kwh;
	double		 baseline_kwh;	/* no consolidation, hosts stay on */
	double		 slatah;	/* fraction */
	double		 pdm;		/* fraction */
	double		 slav;
	double		 esv;
	double		 sla_overall;	/* unmet / requested MIPS·s */
	long		 migrations;
	long		 host_shutdowns;
	long		 host_boots;	/* realistic */
	double		 mean_active_hosts;
	int		 vms_removed;	/* cloudsim: traces that went idle */
	int		 vms_unplaced;	/* found no host at t = 0 */
	long		 rounds;
	double		 plan_cpu_s;	/* CPU time spent in the policy */

	/* One point per planning interval, for --plot. */
	int		 npoints;
	double		*t_s;
	double		*active_hosts;
	double		*power_w;
	double		*baseline_w;
};

/*
 * Runs one simulation.  Returns 0, or -errno with err filled (an empty
 * workload, a trace too short for the interval).
 */
int	sim_run(const struct sim_config *, const struct pol_policy *,
	    const struct sim_workload *, struct sim_result *,
	    struct ebb_err *);
void	sim_result_free(struct sim_result *);

const char *sim_model_name(enum sim_model);
/* "cloudsim" or "realistic" to the enum; -1 if neither. */
int	sim_model_parse(const char *);

#endif /* SIM_H */
