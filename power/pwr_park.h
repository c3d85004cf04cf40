/*
 * pwr_park.h - core parking: which cores the VMs' vCPU threads may run on.
 *
 * The agent confines the vCPU threads to as few cores as the load needs, so
 * that the other cores sleep in deep C-states (and whole packages with
 * them), and unparks as soon as load rises.  This file is the decision
 * only, pure like policy/: utilization samples, the current set and a
 * small state in, the next set and a reason out.  No I/O, no clock, no
 * globals; time is a parameter.  pwr_actuate.h applies the set.
 *
 * The parameters are those of Windows core parking (Server 2008 R2:
 * "processor performance core parking" min/max cores, increase/decrease
 * threshold and time), plus a headroom that says how far one step goes.
 */
#ifndef PWR_PARK_H
#define PWR_PARK_H

#include <stdbool.h>
#include <stdint.h>

#include "ebb.h"

/* The largest host the masks describe: cpus 0 .. PWR_MAX_CPUS - 1. */
#define PWR_MAX_CPUS	1024

/* A set of cpus by number, as the kernel's cpumask: bit c is cpu c. */
struct pwr_mask {
	uint64_t	bits[PWR_MAX_CPUS / 64];
};

/* Mask helpers; a cpu outside 0 .. PWR_MAX_CPUS - 1 is never a member. */
void	pwr_mask_zero(struct pwr_mask *);
void	pwr_mask_set(struct pwr_mask *, int cpu);
void	pwr_mask_clr(struct pwr_mask *, int cpu);
bool	pwr_mask_test(const struct pwr_mask *, int cpu);
int	pwr_mask_count(const struct pwr_mask *);
bool	pwr_mask_equal(const struct pwr_mask *, const struct pwr_mask *);
/* cpus lo .. hi inclusive (clipped to the mask's range). */
void	pwr_mask_set_range(struct pwr_mask *, int lo, int hi);

/*
 * The knobs.  Utilizations are fractions of one core (0..1), times are
 * seconds.  pwr_park_params_default() gives min 1, max all,
 * increase 0.6 over 1 s, decrease 0.2 over 30 s, headroom 0.7 (after a
 * step the unparked cores run at 1 / 1.7 = 59 %, just below 0.6).
 */
struct pwr_park_params {
	int	min_cores;	/* never fewer unparked (>= 1: cpu0) */
	int	max_cores;	/* never more; 0 = every managed core */
	double	increase_threshold; /* unpark when unparked avg is above */
	double	decrease_threshold; /* park when unparked avg is below */
	double	increase_time;	/* s the increase condition must hold */
	double	decrease_time;	/* s the decrease condition must hold,
				 * and between two parkings */
	double	headroom;	/* spare fraction: needed cores =
				 * ceil(busy cores * (1 + headroom)) */
};

void	pwr_park_params_default(struct pwr_park_params *);

/*
 * 0, or -EINVAL with the reason in err: thresholds in 0..1 with
 * decrease < increase (the band between them is the hysteresis), times
 * and headroom >= 0 and finite, min_cores >= 1, max_cores 0 or >= min.
 */
int	pwr_park_params_check(const struct pwr_park_params *,
	    struct ebb_err *);

/*
 * Hysteresis state, owned by the caller and passed to every decision:
 * since when each condition has held without a break.  Zero it (or call
 * pwr_park_state_init) before the first decision.
 */
struct pwr_park_state {
	bool	up;		/* the increase condition holds ... */
	double	up_since;	/* ... since this time, s */
	bool	down;		/* the decrease condition holds ... */
	double	down_since;	/* ... since this time (or the last park) */
	bool	seen;		/* a decision was made before, at ... */
	double	last_now;	/* ... this time: a clock going back resets */
};

void	pwr_park_state_init(struct pwr_park_state *);

/* One interval's sample of the host. */
struct pwr_park_input {
	double		 now;	   /* end of the sampled interval, s; never
				    * decreasing (a monotonic clock) */
	double		 interval; /* length of the sampled interval, s, > 0 */
	int		 ncpu;	   /* entries in util[] (and package[]):
				    * 1 .. PWR_MAX_CPUS, usually highest cpu+1 */
	const double	*util;	   /* util[c]: busy fraction of cpu c over the
				    * interval; clipped to 0..1, NaN rejected;
				    * a parked or offline core's is counted */
	const struct pwr_mask *cpus; /* cores under management, cpu0 among
				    * them; NULL = 0 .. ncpu - 1.  With the
				    * hotplug actuator these are the present
				    * cores (a parked one is offline). */
	const int	*package;  /* optional, NULL = none: package[c] is the
				    * group of cpu c (0 .. PWR_MAX_CPUS - 1);
				    * see "Which cores" in pwr_park.c */
};

enum pwr_park_reason {
	PWR_PARK_STEADY,	/* in the band between the thresholds */
	PWR_PARK_UNPARK,	/* unparked up to the needed count, or
				 * further if the average would still be
				 * above increase_threshold */
	PWR_PARK_PARK,		/* parked one core */
	PWR_PARK_LIMITS,	/* set corrected to min/max/managed cores */
	PWR_PARK_WAIT_UP,	/* increase condition, not yet held long */
	PWR_PARK_WAIT_DOWN,	/* decrease condition, not yet held long */
	PWR_PARK_AT_MAX,	/* would unpark: already at max_cores */
	PWR_PARK_AT_MIN,	/* would park: already at min_cores */
	PWR_PARK_NEEDED,	/* would park: the rest could not hold the
				 * load with its headroom, or would rise
				 * above increase_threshold */
};

/* "steady", "unpark", ... for logs and `ebb why`. */
const char *pwr_park_reason_name(enum pwr_park_reason);

struct pwr_park_decision {
	struct pwr_mask	 unparked; /* the new set; always holds cpu0 */
	int		 count;	   /* cores in it */
	enum pwr_park_reason reason;
	bool		 changed;  /* differs from the set passed in */
	double		 busy;	   /* busy cores: sum of util over managed */
	double		 avg;	   /* avg util of the cores unparked before */
	int		 needed;   /* ceil(busy * (1 + headroom)), clamped to
				    * min .. max */
};

/*
 * One decision: given the cores unparked now (cur; a member that is not
 * managed is dropped, cpu0 is added), the parameters, the sample and the
 * state, writes the new set into out and updates st.  Unparks in one step
 * as soon as the increase condition has held for increase_time, to the
 * needed count or, if more, to as many as bring the average to
 * increase_threshold; parks one core when the decrease condition has held
 * for decrease_time, then at most one more per decrease_time.
 *
 * What it sees is utilization, not demand: a saturated core hides how
 * much more its threads want.  A step within the headroom is followed in
 * one interval; a bigger one is followed by unparking ceil(n / 0.6) (with
 * the defaults) from n saturated cores each interval until it fits.
 *
 * Returns 0, or -EINVAL (bad parameters or input; st and out untouched)
 * with the reason in err.
 */
int	pwr_park_decide(const struct pwr_park_params *,
	    struct pwr_park_state *st, const struct pwr_park_input *,
	    const struct pwr_mask *cur, struct pwr_park_decision *out,
	    struct ebb_err *err);

#endif /* PWR_PARK_H */
