/*
 * pwr_cpufreq.h - per-CPU frequency and idle states through libcpupower,
 * and lowering the frequency ceiling of parked cores.
 *
 * The agent reports, for each CPU, the cpufreq governor, the current,
 * minimum and maximum frequency of its policy and the hardware limits,
 * and the cpuidle states with their exit latency, entry count and total
 * residency.  When pwr_park.h parks a core, pwr_cpufreq_park() lowers its
 * scaling_max_freq so that it cannot be woken into a high P-state;
 * pwr_cpufreq_unpark() puts the old ceiling back.
 *
 * Everything is read and written by libcpupower (linux-cpupower 6.1:
 * cpufreq.h, cpuidle.h), which reads /sys/devices/system/cpu.  A host
 * without a cpufreq driver (most VMs) or without cpuidle states is not an
 * error: the handle opens, the missing part reads as "not available", it
 * is logged once per handle with its cause, and pwr_cpufreq_status() says
 * what is missing and why, for the agent's report.
 */
#ifndef PWR_CPUFREQ_H
#define PWR_CPUFREQ_H

#include <stdbool.h>

#include "ebb.h"

/* The kernel's CPUIDLE_STATE_MAX: no driver exports more states. */
#define PWR_IDLE_MAX	10

struct pwr_cpufreq;	/* one per host: the agent's handle */

/* What the host offers; filled once by pwr_cpufreq_open(). */
struct pwr_cpufreq_status {
	unsigned ncpu;		/* cpus 0 .. ncpu - 1 (highest present + 1) */
	unsigned nonline;	/* of which online */
	bool	cpufreq;	/* a cpufreq driver runs on an online cpu */
	bool	cpuidle;	/* cpuidle exports idle states */
	char	driver[32];	/* cpufreq driver ("acpi-cpufreq"), or "" */
	char	idle_driver[32]; /* cpuidle driver ("intel_idle"), or "" */
	char	cpufreq_why[192]; /* !cpufreq: the cause, as logged */
	char	cpuidle_why[192]; /* !cpuidle: the cause, as logged */
};

struct pwr_idle_state {
	char	name[32];	/* "C6" */
	char	desc[64];	/* "MWAIT 0x20" */
	unsigned long latency_us;	/* exit latency */
	unsigned long long usage;	/* times entered */
	unsigned long long time_us;	/* total time spent in it */
	int	disabled;	/* 1, 0, or -1: the kernel does not say */
};

/* One cpu as pwr_cpufreq_read() found it. */
struct pwr_cpu_info {
	unsigned cpu;
	bool	online;		/* false: nothing else is filled */
	bool	has_freq;	/* the frequency fields below are valid */
	char	governor[32];
	unsigned long cur_khz;	/* the kernel's idea of the current one */
	unsigned long min_khz;	/* policy: scaling_min_freq */
	unsigned long max_khz;	/* policy: scaling_max_freq */
	unsigned long hw_min_khz; /* hardware: cpuinfo_min_freq */
	unsigned long hw_max_khz; /* hardware: cpuinfo_max_freq */
	bool	parked;		/* pwr_cpufreq_park()ed, not unparked */
	bool	capped;		/* and its ceiling is lowered now */
	int	nidle;		/* entries in idle[]; 0: no cpuidle */
	struct pwr_idle_state idle[PWR_IDLE_MAX];
};

/*
 * Finds the cpus (/sys/devices/system/cpu/present and online) and probes
 * cpufreq and cpuidle on the online ones, logging once what is missing.
 * Returns 0 (also when neither is available), or -errno with the reason
 * in err when not even the cpus can be counted.
 */
int	pwr_cpufreq_open(struct pwr_cpufreq **, struct ebb_err *);

/* Frees the handle.  It does not unpark: ceilings stay as they are. */
void	pwr_cpufreq_close(struct pwr_cpufreq *);

const struct pwr_cpufreq_status *pwr_cpufreq_status(
	    const struct pwr_cpufreq *);

/*
 * Reads one cpu.  0 whenever the cpu exists, with has_freq false and
 * nidle 0 for what is not available (a cpu whose reads start failing
 * after open is logged once); -EINVAL if cpu >= ncpu.
 */
int	pwr_cpufreq_read(struct pwr_cpufreq *, unsigned cpu,
	    struct pwr_cpu_info *, struct ebb_err *);

/*
 * Sets the policy maximum (scaling_max_freq) of the cpu's policy: with a
 * shared policy this is the ceiling of every cpu in affected_cpus.
 * -EINVAL: no such cpu; -ENODEV: no cpufreq on it; -ERANGE: khz outside
 * the hardware limits or below the policy minimum (the kernel would
 * refuse or silently clamp it); else the write's errno.
 */
int	pwr_cpufreq_set_max(struct pwr_cpufreq *, unsigned cpu,
	    unsigned long khz, struct ebb_err *);

/*
 * Marks the cpu parked and, once every cpu sharing its policy is parked,
 * lowers the policy's ceiling to the lowest it may have (the hardware
 * minimum, or the policy minimum if that is higher), remembering the old
 * one.  A shared policy is left alone while any of its cpus still runs
 * work: lowering it would slow that cpu down.  *capped (may be NULL) says
 * whether the ceiling is lowered now.  Without cpufreq the cpu is only
 * marked (0, not capped).  -EINVAL: no such cpu; else the write's errno.
 */
int	pwr_cpufreq_park(struct pwr_cpufreq *, unsigned cpu, bool *capped,
	    struct ebb_err *);

/*
 * Clears the mark and, if the cpu's policy was lowered, restores the
 * ceiling it had before (the hardware maximum if that was not known) for
 * every cpu of the policy.  0, -EINVAL, or the write's errno.
 */
int	pwr_cpufreq_unpark(struct pwr_cpufreq *, unsigned cpu,
	    struct ebb_err *);

#endif /* PWR_CPUFREQ_H */
