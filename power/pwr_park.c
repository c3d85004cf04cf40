/*
 * pwr_park.c - the core parking decision.
 *
 * Hysteresis.  Three things keep the set from oscillating:
 *
 * 1. A dead band.  The increase condition is "the average utilization of
 *    the unparked cores is above increase_threshold, or the load with its
 *    headroom needs more cores than are unparked"; the decrease condition
 *    is "that average is below decrease_threshold" (and no increase).
 *    decrease < increase is enforced, and in between nothing happens and
 *    both timers restart.
 *
 * 2. Time, asymmetric.  Each condition remembers since when it has held
 *    without a break (pwr_park_state); one sample without it restarts its
 *    timer.  A sample ending at `now` covers (now - interval, now], so a
 *    condition first seen then began at now - interval: with
 *    increase_time = one interval, the first busy sample unparks, which
 *    is what lets a load step be followed within one interval.  Parking
 *    waits decrease_time (say 30 s), and a park restarts the down timer,
 *    so cores are parked one per decrease_time while the load keeps low.
 *    Unparking goes straight to the needed count: being late costs the
 *    VMs latency, being early costs a few watts.
 *
 *    An unpark goes to the needed count, and at least as far as brings
 *    the unparked average to increase_threshold, so that it, too, ends
 *    the increase condition instead of climbing a core per interval when
 *    the headroom is smaller than the threshold implies (the default
 *    headroom, 0.7, lands at 1 / 1.7 = 0.59 below the default 0.6).
 *
 * 3. A park never causes an unpark.  A core is parked only if the cores
 *    left still hold ceil(busy * (1 + headroom)) and their average would
 *    stay at or below increase_threshold; under a steady load the next
 *    sample therefore cannot meet the increase condition, whatever the
 *    thresholds (e.g. decrease 0.4 on two cores would otherwise give 0.8
 *    on one, above an increase of 0.6, and a limit cycle).
 *
 * Which cores.  cpu0 is never parked (the kernel's housekeeping and, on
 * many platforms, the boot cpu that cannot go offline).  Without topology
 * the lowest-numbered parked core is unparked first and the highest-
 * numbered unparked one parked first, so the set stays a prefix.  With a
 * package[] array (any grouping the caller wants kept together: physical
 * packages, or cores so that SMT siblings park together), a core of a
 * group that is already awake is unparked before a core that wakes a
 * new group, and the core parked is taken from the group with the fewest
 * unparked cores (it empties soonest and can then reach its package
 * C-state), cpu0's group last since it never empties; ties go by number
 * as without topology.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "pwr_park.h"

/*
 * Slack for "held for T seconds": times are sums of float intervals
 * (0.1 + 0.2 ...), and a sampling timer's intervals come out a hair short
 * of nominal when a wake-up is late and the next one on time; a
 * condition that held for all but 1 % of an interval has held.
 */
#define PARK_TIME_EPS	1e-6
#define PARK_TIME_SLACK(in)	(PARK_TIME_EPS + 0.01 * (in)->interval)
/* So that busy = 0.7 + 0.7 + 0.6 = 2.0000000000000004 needs 2 cores. */
#define PARK_CEIL_EPS	1e-9

/* ---- masks ------------------------------------------------------------ */

void
pwr_mask_zero(struct pwr_mask *m)
{
	memset(m, 0, sizeof(*m));
}

void
pwr_mask_set(struct pwr_mask *m, int cpu)
{
	if (cpu >= 0 && cpu < PWR_MAX_CPUS)
		m->bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
}

void
pwr_mask_clr(struct pwr_mask *m, int cpu)
{
	if (cpu >= 0 && cpu < PWR_MAX_CPUS)
		m->bits[cpu / 64] &= ~(UINT64_C(1) << (cpu % 64));
}

bool
pwr_mask_test(const struct pwr_mask *m, int cpu)
{
	if (cpu < 0 || cpu >= PWR_MAX_CPUS)
		return false;
	return (m->bits[cpu / 64] >> (cpu % 64)) & 1;
}

int
pwr_mask_count(const struct pwr_mask *m)
{
	int n = 0;

	for (size_t i = 0; i < EBB_NITEMS(m->bits); i++)
		n += __builtin_popcountll(m->bits[i]);
	return n;
}

bool
pwr_mask_equal(const struct pwr_mask *a, const struct pwr_mask *b)
{
	return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

void
pwr_mask_set_range(struct pwr_mask *m, int lo, int hi)
{
	lo = EBB_MAX(lo, 0);
	hi = EBB_MIN(hi, PWR_MAX_CPUS - 1);
	for (int c = lo; c <= hi; c++)
		pwr_mask_set(m, c);
}

/* ---- parameters ------------------------------------------------------- */

void
pwr_park_params_default(struct pwr_park_params *p)
{
	p->min_cores = 1;
	p->max_cores = 0;
	p->increase_threshold = 0.6;
	p->decrease_threshold = 0.2;
	p->increase_time = 1;
	p->decrease_time = 30;
	/* 1 / 1.7 = 0.59: a step lands just below increase_threshold. */
	p->headroom = 0.7;
}

int
pwr_park_params_check(const struct pwr_park_params *p, struct ebb_err *err)
{
	if (p->min_cores < 1) {
		ebb_err_set(err, "park: min_cores %d: must be at least 1 "
		    "(cpu0 is never parked)", p->min_cores);
		return -EINVAL;
	}
	if (p->max_cores != 0 && p->max_cores < p->min_cores) {
		ebb_err_set(err, "park: max_cores %d is below min_cores %d",
		    p->max_cores, p->min_cores);
		return -EINVAL;
	}
	/* !(x >= 0 && x <= 1) also catches NaN. */
	if (!(p->increase_threshold >= 0 && p->increase_threshold <= 1) ||
	    !(p->decrease_threshold >= 0 && p->decrease_threshold <= 1)) {
		ebb_err_set(err, "park: thresholds %g/%g: must be fractions "
		    "in 0..1", p->increase_threshold, p->decrease_threshold);
		return -EINVAL;
	}
	if (!(p->decrease_threshold < p->increase_threshold)) {
		ebb_err_set(err, "park: decrease_threshold %g must be below "
		    "increase_threshold %g (the band between them is the "
		    "hysteresis)", p->decrease_threshold,
		    p->increase_threshold);
		return -EINVAL;
	}
	if (!(p->increase_time >= 0 && isfinite(p->increase_time)) ||
	    !(p->decrease_time >= 0 && isfinite(p->decrease_time))) {
		ebb_err_set(err, "park: increase_time %g / decrease_time %g: "
		    "must be finite seconds >= 0", p->increase_time,
		    p->decrease_time);
		return -EINVAL;
	}
	if (!(p->headroom >= 0 && isfinite(p->headroom))) {
		ebb_err_set(err, "park: headroom %g: must be a finite "
		    "fraction >= 0", p->headroom);
		return -EINVAL;
	}
	return 0;
}

void
pwr_park_state_init(struct pwr_park_state *st)
{
	memset(st, 0, sizeof(*st));
}

const char *
pwr_park_reason_name(enum pwr_park_reason r)
{
	switch (r) {
	case PWR_PARK_STEADY:		return "steady";
	case PWR_PARK_UNPARK:		return "unpark";
	case PWR_PARK_PARK:		return "park";
	case PWR_PARK_LIMITS:		return "limits";
	case PWR_PARK_WAIT_UP:		return "wait-up";
	case PWR_PARK_WAIT_DOWN:	return "wait-down";
	case PWR_PARK_AT_MAX:		return "at-max";
	case PWR_PARK_AT_MIN:		return "at-min";
	case PWR_PARK_NEEDED:		return "needed";
	}
	return "?";
}

/* ---- choosing cores --------------------------------------------------- */

/* What the pickers need: the managed cores, their groups, and counts. */
struct park_topo {
	const struct pwr_mask *cpus;
	const int	*package;	/* NULL: everything is group 0 */
	int		 ncpu;
	int		 ngroup;	/* highest group id + 1 */
	int		 awake[PWR_MAX_CPUS]; /* unparked cores per group */
};

static int
topo_group(const struct park_topo *t, int c)
{
	return t->package != NULL ? t->package[c] : 0;
}

static void
topo_count(struct park_topo *t, const struct pwr_mask *set)
{
	memset(t->awake, 0, sizeof(t->awake[0]) * (size_t)t->ngroup);
	for (int c = 0; c < t->ncpu; c++)
		if (pwr_mask_test(set, c))
			t->awake[topo_group(t, c)]++;
}

/*
 * The core to unpark next: the lowest-numbered parked core of a group that
 * is awake, else the lowest-numbered parked core.  -1 if none is left.
 */
static int
pick_unpark(const struct park_topo *t, const struct pwr_mask *set)
{
	int wake = -1;

	for (int c = 0; c < t->ncpu; c++) {
		if (!pwr_mask_test(t->cpus, c) || pwr_mask_test(set, c))
			continue;
		if (t->awake[topo_group(t, c)] > 0)
			return c;
		if (wake < 0)
			wake = c;
	}
	return wake;
}

/*
 * The core to park next: from the group with the fewest unparked cores,
 * cpu0's group last, the highest-numbered; never cpu0.  -1 if none.
 */
static int
pick_park(const struct park_topo *t, const struct pwr_mask *set)
{
	int best = -1, best_score = INT_MAX, g0 = topo_group(t, 0);

	for (int c = t->ncpu - 1; c >= 1; c--) {
		int g, score;

		if (!pwr_mask_test(set, c))
			continue;
		g = topo_group(t, c);
		score = t->awake[g] + (g == g0 ? PWR_MAX_CPUS : 0);
		if (score < best_score) {
			best = c;
			best_score = score;
		}
	}
	return best;
}

/* Unparks (count > now) or parks down to count cores. */
static void
move_to(struct park_topo *t, struct pwr_mask *set, int count)
{
	int n = pwr_mask_count(set), c;

	while (n != count) {
		topo_count(t, set);
		if (n < count) {
			if ((c = pick_unpark(t, set)) < 0)
				return;
			pwr_mask_set(set, c);
			n++;
		} else {
			if ((c = pick_park(t, set)) < 0)
				return;
			pwr_mask_clr(set, c);
			n--;
		}
	}
}

/* ---- the decision ----------------------------------------------------- */

static int
check_input(const struct pwr_park_input *in, const struct pwr_mask *cpus,
    int *ngroup, struct ebb_err *err)
{
	if (in->ncpu < 1 || in->ncpu > PWR_MAX_CPUS) {
		ebb_err_set(err, "park: ncpu %d: must be 1..%d", in->ncpu,
		    PWR_MAX_CPUS);
		return -EINVAL;
	}
	if (in->util == NULL) {
		ebb_err_set(err, "park: no utilization sample");
		return -EINVAL;
	}
	if (!(in->interval > 0 && isfinite(in->interval)) ||
	    !isfinite(in->now)) {
		ebb_err_set(err, "park: now %g / interval %g: the interval "
		    "must be finite seconds > 0", in->now, in->interval);
		return -EINVAL;
	}
	if (!pwr_mask_test(cpus, 0)) {
		ebb_err_set(err, "park: cpu0 is not among the managed cores");
		return -EINVAL;
	}
	*ngroup = 1;
	for (int c = 0; c < PWR_MAX_CPUS; c++) {
		if (!pwr_mask_test(cpus, c))
			continue;
		if (c >= in->ncpu) {
			ebb_err_set(err, "park: cpu%d is managed but the "
			    "sample has only %d cpus", c, in->ncpu);
			return -EINVAL;
		}
		if (isnan(in->util[c])) {
			ebb_err_set(err, "park: cpu%d utilization is NaN", c);
			return -EINVAL;
		}
		if (in->package == NULL)
			continue;
		if (in->package[c] < 0 || in->package[c] >= PWR_MAX_CPUS) {
			ebb_err_set(err, "park: cpu%d package %d: must be "
			    "0..%d", c, in->package[c], PWR_MAX_CPUS - 1);
			return -EINVAL;
		}
		*ngroup = EBB_MAX(*ngroup, in->package[c] + 1);
	}
	return 0;
}

static double
clip01(double u)
{
	return u < 0 ? 0 : u > 1 ? 1 : u;
}

/*
 * ceil(x), at most hi: clamped as a double, since a huge headroom or a
 * tiny threshold makes x too large for an int.
 */
static int
ceil_at_most(double x, int hi)
{
	x = ceil(x - PARK_CEIL_EPS);
	return x >= hi ? hi : (int)x;
}

int
pwr_park_decide(const struct pwr_park_params *p, struct pwr_park_state *st,
    const struct pwr_park_input *in, const struct pwr_mask *cur,
    struct pwr_park_decision *out, struct ebb_err *err)
{
	struct park_topo t;
	struct pwr_mask all, set;
	double sum = 0, busy = 0, start;
	int rc, nman, lo, hi, n, needed, target;
	bool up, down;

	if ((rc = pwr_park_params_check(p, err)) != 0)
		return rc;
	pwr_mask_zero(&all);
	if (in->cpus == NULL)
		pwr_mask_set_range(&all, 0, in->ncpu - 1);
	t.cpus = in->cpus != NULL ? in->cpus : &all;
	t.package = in->package;
	t.ncpu = in->ncpu;
	if ((rc = check_input(in, t.cpus, &t.ngroup, err)) != 0)
		return rc;

	/* The set as it must be: managed cores only, cpu0 always. */
	pwr_mask_zero(&set);
	for (int c = 0; c < in->ncpu; c++)
		if (pwr_mask_test(cur, c) && pwr_mask_test(t.cpus, c))
			pwr_mask_set(&set, c);
	pwr_mask_set(&set, 0);
	n = pwr_mask_count(&set);

	nman = pwr_mask_count(t.cpus);
	hi = p->max_cores > 0 ? EBB_MIN(p->max_cores, nman) : nman;
	lo = EBB_MIN(p->min_cores, hi);

	for (int c = 0; c < in->ncpu; c++) {
		if (!pwr_mask_test(t.cpus, c))
			continue;
		busy += clip01(in->util[c]);
		if (pwr_mask_test(&set, c))
			sum += clip01(in->util[c]);
	}
	needed = EBB_MAX(ceil_at_most(busy * (1 + p->headroom), hi), lo);

	memset(out, 0, sizeof(*out));
	out->busy = busy;
	out->avg = sum / n;
	out->needed = needed;

	/* A clock that went back invalidates every "since". */
	if (st->seen && in->now < st->last_now)
		st->up = st->down = false;
	st->seen = true;
	st->last_now = in->now;

	/*
	 * Limits first (a new configuration, or a caller's set from before
	 * it): they are not load, so they need no waiting and the timers
	 * restart on the corrected set.
	 */
	if (n < lo || n > hi) {
		move_to(&t, &set, n < lo ? lo : hi);
		st->up = st->down = false;
		out->reason = PWR_PARK_LIMITS;
		goto done;
	}

	up = out->avg > p->increase_threshold || needed > n;
	down = !up && out->avg < p->decrease_threshold;
	/* The sample covers (now - interval, now]: that is when it began. */
	start = in->now - in->interval;
	if (up && !st->up)
		st->up_since = start;
	if (down && !st->down)
		st->down_since = start;
	st->up = up;
	st->down = down;

	if (up) {
		if (n >= hi) {
			out->reason = PWR_PARK_AT_MAX;
			goto done;
		}
		if (in->now - st->up_since < p->increase_time -
		    PARK_TIME_SLACK(in)) {
			out->reason = PWR_PARK_WAIT_UP;
			goto done;
		}
		/*
		 * The headroom says how far, but never less than one core,
		 * nor less than brings the average to increase_threshold:
		 * short of that the next sample would unpark again, and a
		 * step would be followed a core per interval.
		 */
		target = EBB_MAX(needed, n + 1);
		if (p->increase_threshold > 0)
			target = EBB_MAX(target, ceil_at_most(sum /
			    p->increase_threshold, hi));
		move_to(&t, &set, EBB_MIN(target, hi));
		/* A new set: its average is a new story. */
		st->up = st->down = false;
		out->reason = PWR_PARK_UNPARK;
	} else if (down) {
		if (n - 1 < lo) {
			out->reason = PWR_PARK_AT_MIN;
			goto done;
		}
		if (in->now - st->down_since <
		    p->decrease_time - PARK_TIME_SLACK(in)) {
			out->reason = PWR_PARK_WAIT_DOWN;
			goto done;
		}
		if (n - 1 < needed || sum / (n - 1) > p->increase_threshold) {
			out->reason = PWR_PARK_NEEDED;
			goto done;
		}
		move_to(&t, &set, n - 1);
		/* The next park waits a whole decrease_time again. */
		st->down_since = in->now;
		out->reason = PWR_PARK_PARK;
	} else {
		out->reason = PWR_PARK_STEADY;
	}
done:
	out->unparked = set;
	out->count = pwr_mask_count(&set);
	out->changed = !pwr_mask_equal(&set, cur);
	return 0;
}
