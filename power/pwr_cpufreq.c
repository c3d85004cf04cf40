/*
 * pwr_cpufreq.c - cpufreq and cpuidle through libcpupower (linux-cpupower
 * 6.1), with ceilings lowered on parked cores.
 *
 * Two things about libcpupower 6.1 shape this file:
 *  - It reports failure as 0 or NULL and keeps no cause: a missing file,
 *    an unreadable one and a cpu without a driver look the same.  So the
 *    causes are told apart here by what is missing where (no driver on
 *    any cpu, a policy that stopped answering, an offline cpu), probed
 *    once at open and logged once.
 *  - Its numeric getters parse with strtoul() and then test
 *    "errno == ERANGE" without clearing errno first (cpufreq.c
 *    sysfs_cpufreq_get_one_value, cpuidle.c cpuidle_state_get_one_value),
 *    so an ERANGE left over from unrelated code reads as "0: not
 *    available".  Every call below that parses a number clears errno
 *    first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpufreq.h>
#include <cpuidle.h>

#include "ebb_log.h"
#include "pwr_actuate.h"
#include "pwr_cpufreq.h"

enum probe {
	PROBE_NOT_YET,		/* offline at open: probed when first read */
	PROBE_YES,
	PROBE_NO,
};

struct cpu_state {
	bool	present;
	enum probe freq;	/* has a readable cpufreq policy */
	bool	warned;		/* a failing read was logged */
	bool	parked;		/* pwr_cpufreq_park()ed */
	bool	capped;		/* its policy's ceiling is lowered by us */
	unsigned long saved_max; /* the ceiling before that; 0: unknown */
};

struct pwr_cpufreq {
	struct pwr_cpufreq_status st;
	struct pwr_mask	 present;
	struct pwr_mask	 online;	/* as of the last read of "online" */
	struct cpu_state *cpu;		/* [st.ncpu] */
};

static void
copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

/* The policy, or NULL; errno cleared for libcpupower's parser. */
static struct cpufreq_policy *
get_policy(unsigned cpu)
{
	errno = 0;
	return cpufreq_get_policy(cpu);
}

static int
get_limits(unsigned cpu, unsigned long *min, unsigned long *max)
{
	*min = *max = 0;
	errno = 0;
	return cpufreq_get_hardware_limits(cpu, min, max);
}

/*
 * The online cpus, read again: the hotplug actuator (pwr_actuate.h) takes
 * parked cores offline, so the set at open does not last.  If the file
 * cannot be read, the last known set stands.
 */
static void
refresh_online(struct pwr_cpufreq *cf)
{
	struct pwr_mask m;
	struct ebb_err err;

	if (pwr_cpulist_read(PWR_SYSFS_CPU "/online", &m, &err) == 0)
		cf->online = m;
}

static bool
is_online(const struct pwr_cpufreq *cf, unsigned cpu)
{
	return pwr_mask_test(&cf->online, (int)cpu);
}

/* Whether the cpu has a cpufreq policy, probing it the first time. */
static bool
has_freq(struct pwr_cpufreq *cf, unsigned cpu)
{
	struct cpu_state *s = &cf->cpu[cpu];
	struct cpufreq_policy *pol;

	if (s->freq == PROBE_NOT_YET && is_online(cf, cpu)) {
		pol = get_policy(cpu);
		s->freq = pol != NULL ? PROBE_YES : PROBE_NO;
		cpufreq_put_policy(pol);
	}
	return s->freq == PROBE_YES;
}

/* The cpus a write to this cpu's policy reaches; list in, count out. */
static int
policy_cpus(unsigned cpu, bool related, unsigned *list, int max)
{
	struct cpufreq_affected_cpus *first, *p;
	int n = 0;

	first = related ? cpufreq_get_related_cpus(cpu) :
	    cpufreq_get_affected_cpus(cpu);
	for (p = first; p != NULL && n < max; p = p->next)
		list[n++] = p->cpu;
	if (related)
		cpufreq_put_related_cpus(first);
	else
		cpufreq_put_affected_cpus(first);
	if (n == 0)		/* file missing: a policy of its own */
		list[n++] = cpu;
	return n;
}

/*
 * Probes the online cpus and fills the status, logging each missing
 * piece once: this is the only place "not available" is logged, so a
 * VM without cpufreq says it at start-up and then stays quiet.
 */
static void
probe_host(struct pwr_cpufreq *cf)
{
	struct pwr_cpufreq_status *st = &cf->st;
	struct pwr_mask nofreq;
	char list[PWR_CPULIST_LEN], *drv;
	unsigned withfreq = 0, withidle = 0;

	pwr_mask_zero(&nofreq);
	for (unsigned c = 0; c < st->ncpu; c++) {
		if (!is_online(cf, c))
			continue;
		if (has_freq(cf, c)) {
			withfreq++;
			if (st->driver[0] == '\0' &&
			    (drv = cpufreq_get_driver(c)) != NULL) {
				copy_str(st->driver, sizeof(st->driver), drv);
				cpufreq_put_driver(drv);
			}
		} else
			pwr_mask_set(&nofreq, (int)c);
		if (cpuidle_state_count(c) > 0)
			withidle++;
	}

	st->cpufreq = withfreq > 0;
	if (!st->cpufreq) {
		snprintf(st->cpufreq_why, sizeof(st->cpufreq_why),
		    "no cpufreq driver on any of the %u online cpus "
		    "(nothing under %s/cpuN/cpufreq)", st->nonline,
		    PWR_SYSFS_CPU);
		ebb_warn("cpufreq: not available: %s; frequencies are not "
		    "reported and parked cores keep their ceiling",
		    st->cpufreq_why);
	} else if (withfreq < st->nonline &&
	    pwr_cpulist_format(&nofreq, list, sizeof(list)) == 0) {
		ebb_warn("cpufreq: no policy on cpus %s (driver %s runs on "
		    "the other %u); they report no frequency", list,
		    st->driver[0] ? st->driver : "?", withfreq);
	}

	if ((drv = cpuidle_get_driver()) != NULL) {
		copy_str(st->idle_driver, sizeof(st->idle_driver), drv);
		free(drv);	/* strdup()ed; the header has no put */
	}
	st->cpuidle = withidle > 0;
	if (!st->cpuidle) {
		if (st->idle_driver[0] != '\0')
			snprintf(st->cpuidle_why, sizeof(st->cpuidle_why),
			    "cpuidle driver \"%s\" exports no idle states "
			    "(no %s/cpuN/cpuidle/state0)", st->idle_driver,
			    PWR_SYSFS_CPU);
		else
			snprintf(st->cpuidle_why, sizeof(st->cpuidle_why),
			    "no cpuidle in sysfs (%s/cpuidle)", PWR_SYSFS_CPU);
		ebb_warn("cpuidle: not available: %s; idle states are not "
		    "reported", st->cpuidle_why);
	}
}

int
pwr_cpufreq_open(struct pwr_cpufreq **out, struct ebb_err *err)
{
	struct pwr_cpufreq *cf;
	struct ebb_err why;
	int rc, top = -1;

	*out = NULL;
	cf = ebb_calloc(1, sizeof(*cf));
	if ((rc = pwr_cpulist_read(PWR_SYSFS_CPU "/present", &cf->present,
	    err)) != 0) {
		free(cf);
		return rc;
	}
	for (int c = 0; c < PWR_MAX_CPUS; c++)
		if (pwr_mask_test(&cf->present, c))
			top = c;
	if (top < 0) {
		ebb_err_set(err, "%s/present lists no cpu", PWR_SYSFS_CPU);
		free(cf);
		return -ENODEV;
	}
	/* A kernel without cpu hotplug still has "online"; be lenient. */
	if (pwr_cpulist_read(PWR_SYSFS_CPU "/online", &cf->online, &why)
	    != 0) {
		ebb_debug("cpufreq: %s; taking every present cpu as online",
		    why.msg);
		cf->online = cf->present;
	}

	cf->st.ncpu = (unsigned)top + 1;
	cf->cpu = ebb_calloc(cf->st.ncpu, sizeof(*cf->cpu));
	for (unsigned c = 0; c < cf->st.ncpu; c++) {
		cf->cpu[c].present = pwr_mask_test(&cf->present, (int)c);
		if (cf->cpu[c].present && is_online(cf, c))
			cf->st.nonline++;
	}
	probe_host(cf);
	*out = cf;
	return 0;
}

void
pwr_cpufreq_close(struct pwr_cpufreq *cf)
{
	if (cf == NULL)
		return;
	free(cf->cpu);
	free(cf);
}

const struct pwr_cpufreq_status *
pwr_cpufreq_status(const struct pwr_cpufreq *cf)
{
	return &cf->st;
}

static int
check_cpu(const struct pwr_cpufreq *cf, unsigned cpu, struct ebb_err *err)
{
	if (cpu >= cf->st.ncpu || !cf->cpu[cpu].present) {
		ebb_err_set(err, "cpu%u: no such cpu (present: %u .. %u)", cpu,
		    0u, cf->st.ncpu - 1);
		return -EINVAL;
	}
	return 0;
}

/* The frequency half of pwr_cpufreq_read(); false if it failed. */
static bool
read_freq(unsigned cpu, struct pwr_cpu_info *ci)
{
	struct cpufreq_policy *pol;

	if ((pol = get_policy(cpu)) == NULL)
		return false;
	copy_str(ci->governor, sizeof(ci->governor), pol->governor);
	ci->min_khz = pol->min;
	ci->max_khz = pol->max;
	cpufreq_put_policy(pol);
	errno = 0;
	ci->cur_khz = cpufreq_get_freq_kernel(cpu);
	/* Limits missing with a policy present: report 0, "unknown". */
	get_limits(cpu, &ci->hw_min_khz, &ci->hw_max_khz);
	return true;
}

static void
read_idle(unsigned cpu, struct pwr_cpu_info *ci)
{
	unsigned n = cpuidle_state_count(cpu);
	char *s;

	if (n > PWR_IDLE_MAX)
		n = PWR_IDLE_MAX;
	for (unsigned i = 0; i < n; i++) {
		struct pwr_idle_state *is = &ci->idle[i];
		int d;

		s = cpuidle_state_name(cpu, i);
		copy_str(is->name, sizeof(is->name), s);
		free(s);
		s = cpuidle_state_desc(cpu, i);
		copy_str(is->desc, sizeof(is->desc), s);
		free(s);
		errno = 0;
		is->latency_us = cpuidle_state_latency(cpu, i);
		errno = 0;
		is->usage = cpuidle_state_usage(cpu, i);
		errno = 0;
		is->time_us = cpuidle_state_time(cpu, i);
		errno = 0;
		d = cpuidle_is_state_disabled(cpu, i);
		is->disabled = d == 0 || d == 1 ? d : -1;
	}
	ci->nidle = (int)n;
}

int
pwr_cpufreq_read(struct pwr_cpufreq *cf, unsigned cpu,
    struct pwr_cpu_info *ci, struct ebb_err *err)
{
	struct cpu_state *s;
	int rc;

	memset(ci, 0, sizeof(*ci));
	if ((rc = check_cpu(cf, cpu, err)) != 0)
		return rc;
	s = &cf->cpu[cpu];
	ci->cpu = cpu;
	ci->parked = s->parked;
	ci->capped = s->capped;
	refresh_online(cf);
	if (!(ci->online = is_online(cf, cpu)))
		return 0;

	if (has_freq(cf, cpu)) {
		ci->has_freq = read_freq(cpu, ci);
		if (!ci->has_freq && !s->warned) {
			/* Once per cpu: the agent reads every interval. */
			s->warned = true;
			ebb_warn("cpufreq: cpu%u: the policy no longer reads "
			    "(scaling_governor, scaling_min/max_freq); "
			    "reporting it without frequencies", cpu);
		}
	}
	if (cf->st.cpuidle)
		read_idle(cpu, ci);
	return 0;
}

/* Writes scaling_max_freq through libcpupower; 0 or -errno. */
static int
write_max(unsigned cpu, unsigned long khz, struct ebb_err *err)
{
	int e;

	/*
	 * libcpupower returns -ENODEV for any failed open() or write(); the
	 * errno those left behind is the real cause (EACCES, EINVAL when
	 * the kernel refuses the value), so report that.
	 */
	errno = 0;
	if (cpufreq_modify_policy_max(cpu, khz) == 0)
		return 0;
	e = errno != 0 ? errno : ENODEV;
	ebb_err_set(err, "cpu%u: writing %lu to %s/cpu%u/cpufreq/"
	    "scaling_max_freq: %s", cpu, khz, PWR_SYSFS_CPU, cpu,
	    strerror(e));
	return -e;
}

/* The policy's limits: scaling_min_freq and the hardware's range. */
static int
read_bounds(struct pwr_cpufreq *cf, unsigned cpu, unsigned long *pmin,
    unsigned long *pmax, unsigned long *hmin, unsigned long *hmax,
    struct ebb_err *err)
{
	struct cpufreq_policy *pol;

	if (!has_freq(cf, cpu)) {
		ebb_err_set(err, "cpu%u: no cpufreq policy%s%s", cpu,
		    cf->st.cpufreq ? "" : ": ", cf->st.cpufreq_why);
		return -ENODEV;
	}
	if ((pol = get_policy(cpu)) == NULL) {
		ebb_err_set(err, "cpu%u: the cpufreq policy does not read",
		    cpu);
		return -ENODEV;
	}
	*pmin = pol->min;
	*pmax = pol->max;
	cpufreq_put_policy(pol);
	if (get_limits(cpu, hmin, hmax) != 0) {
		ebb_err_set(err, "cpu%u: no hardware limits (cpuinfo_min_freq,"
		    " cpuinfo_max_freq)", cpu);
		return -ENODEV;
	}
	return 0;
}

int
pwr_cpufreq_set_max(struct pwr_cpufreq *cf, unsigned cpu, unsigned long khz,
    struct ebb_err *err)
{
	unsigned long pmin, pmax, hmin, hmax;
	int rc;

	if ((rc = check_cpu(cf, cpu, err)) != 0 ||
	    (rc = read_bounds(cf, cpu, &pmin, &pmax, &hmin, &hmax, err)) != 0)
		return rc;
	if (khz < hmin || khz > hmax) {
		ebb_err_set(err, "cpu%u: %lu kHz is outside the hardware's "
		    "%lu .. %lu kHz", cpu, khz, hmin, hmax);
		return -ERANGE;
	}
	/* Kernels before freq QoS (5.3) refuse max < min with EINVAL;
	 * later ones quietly raise it to min.  Neither is what was asked. */
	if (khz < pmin) {
		ebb_err_set(err, "cpu%u: %lu kHz is below the policy minimum "
		    "%lu kHz", cpu, khz, pmin);
		return -ERANGE;
	}
	return write_max(cpu, khz, err);
}

int
pwr_cpufreq_park(struct pwr_cpufreq *cf, unsigned cpu, bool *capped,
    struct ebb_err *err)
{
	unsigned list[PWR_MAX_CPUS];
	unsigned long pmin, pmax, hmin, hmax, floor;
	int rc, n;

	if (capped != NULL)
		*capped = false;
	if ((rc = check_cpu(cf, cpu, err)) != 0)
		return rc;
	cf->cpu[cpu].parked = true;
	if (cf->cpu[cpu].capped) {
		if (capped != NULL)
			*capped = true;
		return 0;
	}
	if (!has_freq(cf, cpu))
		return 0;	/* nothing to lower: the status says why */

	/*
	 * affected_cpus are the online cpus the policy's ceiling applies
	 * to.  One of them still running work would be slowed down with the
	 * parked ones, so the ceiling waits for the last of them to park.
	 */
	n = policy_cpus(cpu, false, list, PWR_MAX_CPUS);
	for (int i = 0; i < n; i++)
		if (list[i] != cpu && (list[i] >= cf->st.ncpu ||
		    !cf->cpu[list[i]].parked))
			return 0;

	if ((rc = read_bounds(cf, cpu, &pmin, &pmax, &hmin, &hmax, err)) != 0)
		return rc;
	floor = EBB_MAX(hmin, pmin);
	if (pmax > floor && (rc = write_max(cpu, floor, err)) != 0)
		return rc;

	/* related_cpus: offline members too, which come back capped. */
	n = policy_cpus(cpu, true, list, PWR_MAX_CPUS);
	for (int i = 0; i < n; i++) {
		if (list[i] >= cf->st.ncpu)
			continue;
		cf->cpu[list[i]].capped = true;
		cf->cpu[list[i]].saved_max = pmax;
	}
	cf->cpu[cpu].capped = true;
	cf->cpu[cpu].saved_max = pmax;
	if (capped != NULL)
		*capped = true;
	return 0;
}

int
pwr_cpufreq_unpark(struct pwr_cpufreq *cf, unsigned cpu, struct ebb_err *err)
{
	unsigned list[PWR_MAX_CPUS];
	unsigned long to, hmin, hmax;
	int rc, n;

	if ((rc = check_cpu(cf, cpu, err)) != 0)
		return rc;
	cf->cpu[cpu].parked = false;
	if (!cf->cpu[cpu].capped)
		return 0;

	to = cf->cpu[cpu].saved_max;
	if (to == 0 && get_limits(cpu, &hmin, &hmax) == 0)
		to = hmax;
	if (to == 0) {
		ebb_err_set(err, "cpu%u: no ceiling to restore (the old one "
		    "is unknown and cpuinfo_max_freq does not read)", cpu);
		return -ENODEV;
	}
	/* On failure the cpu stays capped, so that a retry writes again. */
	if ((rc = write_max(cpu, to, err)) != 0)
		return rc;

	n = policy_cpus(cpu, true, list, PWR_MAX_CPUS);
	for (int i = 0; i < n; i++) {
		if (list[i] >= cf->st.ncpu)
			continue;
		cf->cpu[list[i]].capped = false;
		cf->cpu[list[i]].saved_max = 0;
	}
	cf->cpu[cpu].capped = false;
	cf->cpu[cpu].saved_max = 0;
	return 0;
}
