/*
 * sim_trace.h - utilization traces: PlanetLab files read from a folder, or
 * synthetic ones made from a seed.
 *
 * The PlanetLab format (CloudSim's): one file per VM, one integer per line,
 * the CPU utilization in percent (0..100) sampled every 300 s, 288 lines for
 * a day.  Files are taken in byte-sorted name order (strcmp), which is the
 * order CloudSim's runner gives them on Linux and so decides each VM's type.
 */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <stdint.h>

#include "ebb.h"

struct sim_trace {
	char	*name;		/* file name, no folder */
	int	 n;		/* samples */
	double	*pct;		/* utilization in percent, n values */
};

struct sim_workload {
	struct sim_trace *traces;
	int	 ntraces;
	double	 interval_s;	/* seconds between samples (300) */
};

/*
 * Loads every regular file of `dir` (dotfiles skipped) in byte-sorted name
 * order.  A value that is not a number, or outside 0..100, is an error
 * naming file and line.  Files shorter than `samples` are padded with 0;
 * longer ones are cut.  Returns 0 or -errno with err filled.
 */
int	sim_workload_load_dir(const char *dir, int samples,
	    struct sim_workload *, struct ebb_err *);
void	sim_workload_free(struct sim_workload *);

/*
 * Synthetic PlanetLab-like traces: mostly low, bursty, heavy-tailed and
 * diurnal, integer percents like the real files.  The same parameters give
 * the same traces on every machine.
 */
struct sim_synth_params {
	uint64_t seed;
	int	 nvms;		/* traces to make */
	int	 samples;	/* per trace (288) */
	double	 interval_s;	/* 300 */
	double	 mean_pct;	/* target fleet mean utilization (~12) */
};

void	sim_synth_defaults(struct sim_synth_params *);
void	sim_synth_generate(const struct sim_synth_params *,
	    struct sim_workload *);

/* Writes one file per trace into dir (created if missing). */
int	sim_workload_write_dir(const struct sim_workload *, const char *dir,
	    struct ebb_err *);

#endif /* SIM_TRACE_H */
