/*
 * met_cpu.h - per-core CPU utilization from /proc/stat.
 *
 * /proc/stat lists, per online CPU and for all of them together, the time
 * spent in each mode since boot, in USER_HZ ticks (sysconf(_SC_CLK_TCK),
 * 100 on every Linux architecture that matters).  A sampler keeps the
 * file open; each met_cpu_sample() re-reads it and turns the difference
 * with the previous sample into the utilization over that interval.
 *
 * The interval of a core is *unknown* (valid == false, busy NaN) when
 *  - it is the first sample, or the previous sample failed;
 *  - the core was not listed in the previous sample (hotplugged in, or back
 *    online) or is not listed now (offline: online == false);
 *  - any of its counters is smaller than before (a wrap or a reset: no
 *    negative deltas are ever reported);
 *  - no tick elapsed on it (two samples within one tick).
 *
 * Memory: the read buffer and the per-core array grow when the file or the
 * highest CPU id outgrow them (at the first sample, or when a CPU never
 * seen before appears); a steady-state sample allocates nothing.  Since
 * core[] may move at a sample, keep CPU ids across samples, not pointers.
 * A sampler belongs to one thread.
 */
#ifndef MET_CPU_H
#define MET_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "ebb.h"

/*
 * The modes, in /proc/stat's column order.  guest and guest_nice are not
 * here: the kernel already counts them inside user and nice, and adding
 * them would count guest time twice.
 */
enum met_cpu_mode {
	MET_CPU_USER,
	MET_CPU_NICE,
	MET_CPU_SYSTEM,
	MET_CPU_IDLE,
	MET_CPU_IOWAIT,
	MET_CPU_IRQ,
	MET_CPU_SOFTIRQ,
	MET_CPU_STEAL,
	MET_CPU_NMODES
};

/* "user", "nice", ... (node_exporter's mode label values). */
const char *met_cpu_mode_name(enum met_cpu_mode);

struct met_cpu_core {
	int		id;	/* N of "cpuN"; -1 for the "cpu" line */
	bool		online;	/* listed in the latest sample */
	bool		valid;	/* delta and busy describe the last
				   interval (see above) */
	/* Since boot, in USER_HZ ticks: the last values listed. */
	uint64_t	ticks[MET_CPU_NMODES];
	/* Ticks in the last interval, and their sum; all 0 unless valid. */
	uint64_t	delta[MET_CPU_NMODES];
	uint64_t	delta_total;
	/* (total - idle - iowait) / total over the interval, in [0, 1];
	 * NaN unless valid. */
	double		busy;
	uint64_t	gen;	/* private: the read that last listed it */
};

struct met_cpu {
	int		 fd;	/* <proc>/stat, open between samples */
	long		 hz;	/* ticks per second (USER_HZ) */
	char		*buf;
	size_t		 cap;
	int		 ncore;	/* slots in core[]: top id seen + 1 */
	int		 nonline; /* cores listed in the latest sample */
	/* Indexed by CPU id; a slot never listed has online false. */
	struct met_cpu_core *core;
	struct met_cpu_core all; /* the "cpu" line: all CPUs together */
	uint64_t	 nsample; /* successful samples so far */
	uint64_t	 gen;	/* private: reads attempted */
	bool		 last_ok; /* private: the previous read succeeded */
};

/*
 * Opens <proc_root>/stat (proc_root NULL: "/proc") without sampling; the
 * first met_cpu_sample() establishes the baseline.  0 or -errno.
 */
int	met_cpu_open(struct met_cpu *, const char *proc_root,
	    struct ebb_err *);
/*
 * Reads /proc/stat and updates every core and the aggregate (see the top of
 * this file for when an interval is unknown).  Returns 0, -EBADMSG for a
 * malformed file, or -errno; after an error no core has a baseline.
 */
int	met_cpu_sample(struct met_cpu *, struct ebb_err *);
void	met_cpu_close(struct met_cpu *);

/* Fraction of the last interval core c spent in mode m, in [0, 1];
 * NaN unless c->valid. */
double	met_cpu_frac(const struct met_cpu_core *c, enum met_cpu_mode m);
/* Seconds core c spent in mode m since boot (cumulative, a counter). */
double	met_cpu_seconds(const struct met_cpu *,
	    const struct met_cpu_core *c, enum met_cpu_mode m);

#endif /* MET_CPU_H */
