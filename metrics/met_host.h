/*
 * met_host.h - one host sample: the CPUs (met_cpu), load average, memory,
 * uptime.  This is what the agent reads every period and what
 * met_prom_host() exposes.
 *
 * All files stay open between samples; a sample is four pread() calls and
 * no allocation (met_cpu's note on growth aside).
 */
#ifndef MET_HOST_H
#define MET_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "ebb.h"
#include "met_cpu.h"

struct met_host {
	struct met_cpu	cpu;	/* per-core utilization, /proc/stat */

	/* /proc/loadavg: run-queue averages over 1, 5, 15 minutes */
	double		load1, load5, load15;
	uint32_t	nr_running;	/* runnable tasks now */
	uint32_t	nr_tasks;	/* tasks (threads) in the system */

	/* /proc/meminfo, in kB (1024 bytes, as the kernel means it) */
	uint64_t	mem_total_kb;	/* MemTotal */
	uint64_t	mem_available_kb; /* MemAvailable */
	/* Kernels before 3.14 have no MemAvailable: MemFree + Buffers +
	 * Cached stands in for it, and this is true. */
	bool		mem_available_estimated;

	/* /proc/uptime */
	double		uptime_s;	/* seconds since boot */
	double		idle_s;		/* idle s, summed over CPUs */

	/* CPUs listed in /proc/stat, which lists exactly the online ones */
	int		ncpu_online;

	int		fd_loadavg, fd_meminfo, fd_uptime;
	char		buf[4096];	/* the small files, in turn */
};

/*
 * Opens <proc_root>/{stat,loadavg,meminfo,uptime} (proc_root NULL:
 * "/proc") without sampling.  0 or -errno.
 */
int	met_host_open(struct met_host *, const char *proc_root,
	    struct ebb_err *);
/*
 * Reads all four files.  Returns 0, -EBADMSG for a malformed file, or
 * -errno; after an error the figures are unspecified until the next
 * successful sample.
 */
int	met_host_sample(struct met_host *, struct ebb_err *);
void	met_host_close(struct met_host *);

#endif /* MET_HOST_H */
