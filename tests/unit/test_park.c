/*
 * test_park.c - the core parking decision, pwr_park_decide(), against
 * scripted load sequences.
 *
 * A small harness plays the agent: every interval it builds a sample,
 * asks for a decision and applies the set it gets.  Load is given either
 * per core, or as a number of busy cores spread evenly over the unparked
 * set (as the scheduler spreads the vCPU threads confined there).
 *
 * Checked: a load step is followed in the very interval it is seen, to
 * exactly the needed count; a falling load parks one core after
 * decrease_time and then one per decrease_time, highest-numbered first;
 * cpu0 is never parked; min and max hold, limits apply at once; the
 * headroom arithmetic; load flapping around either threshold changes
 * nothing; the set never oscillates under random load; topology groups
 * fill and empty together; 1 and 1024 cpus; bad input is refused.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "pwr_park.h"

/* The agent's side: parameters, state, the set now, and the clock. */
struct harness {
	struct pwr_park_params	 p;
	struct pwr_park_state	 st;
	struct pwr_mask		 set;
	int			 ncpu;
	const int		*package;
	double			 now;		/* s */
	double			 interval;	/* s */
	double			 util[PWR_MAX_CPUS];
	struct pwr_park_decision d;		/* the last one */
};

static void
h_init(struct harness *h, int ncpu, int first_unparked)
{
	memset(h, 0, sizeof(*h));
	pwr_park_params_default(&h->p);
	pwr_park_state_init(&h->st);
	h->ncpu = ncpu;
	h->interval = 1;
	pwr_mask_set_range(&h->set, 0, first_unparked - 1);
}

/* One interval with h->util as the sample; applies the new set. */
static enum pwr_park_reason
h_step(struct harness *h)
{
	struct pwr_park_input in = {
		.ncpu = h->ncpu, .util = h->util, .package = h->package,
	};
	struct ebb_err err = { "" };

	h->now += h->interval;
	in.now = h->now;
	in.interval = h->interval;
	if (pwr_park_decide(&h->p, &h->st, &in, &h->set, &h->d, &err) != 0)
		fail_msg("decide: %s", err.msg);
	/* What every decision promises, whatever the load. */
	assert_true(pwr_mask_test(&h->d.unparked, 0));
	assert_int_equal(h->d.count, pwr_mask_count(&h->d.unparked));
	assert_int_equal(h->d.changed, !pwr_mask_equal(&h->d.unparked,
	    &h->set));
	h->set = h->d.unparked;
	return h->d.reason;
}

/* `busy` cores of load spread evenly over the unparked cores. */
static enum pwr_park_reason
h_load(struct harness *h, double busy)
{
	int n = pwr_mask_count(&h->set);

	for (int c = 0; c < h->ncpu; c++)
		h->util[c] = pwr_mask_test(&h->set, c) ? busy / n : 0;
	return h_step(h);
}

/* Every cpu of the set is in 0 .. count - 1: the set is a prefix. */
static void
assert_prefix(const struct pwr_mask *m, int count)
{
	struct pwr_mask want;

	pwr_mask_zero(&want);
	pwr_mask_set_range(&want, 0, count - 1);
	if (!pwr_mask_equal(m, &want))
		fail_msg("set of %d cores is not cpus 0..%d",
		    pwr_mask_count(m), count - 1);
}

/* ---- parameters --------------------------------------------------------- */

static void
test_params(void **state EBB_UNUSED)
{
	struct pwr_park_params p, q;
	struct ebb_err err = { "" };

	pwr_park_params_default(&p);
	assert_int_equal(pwr_park_params_check(&p, &err), 0);
	assert_int_equal(p.min_cores, 1);
	assert_int_equal(p.max_cores, 0);

	q = p, q.min_cores = 0;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "min_cores"));
	q = p, q.min_cores = 4, q.max_cores = 3;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);
	q = p, q.decrease_threshold = q.increase_threshold;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "hysteresis"));
	q = p, q.increase_threshold = 1.5;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);
	q = p, q.decrease_threshold = NAN;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);
	q = p, q.decrease_time = -1;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);
	q = p, q.increase_time = INFINITY;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);
	q = p, q.headroom = -0.1;
	assert_int_equal(pwr_park_params_check(&q, &err), -EINVAL);

	for (int r = PWR_PARK_STEADY; r <= PWR_PARK_NEEDED; r++)
		assert_string_not_equal(pwr_park_reason_name(r), "?");
	assert_string_equal(pwr_park_reason_name(PWR_PARK_UNPARK), "unpark");
}

/* ---- unparking ---------------------------------------------------------- */

/*
 * 8 of 24 cores unparked at 0.3 (in the band: nothing happens), then all
 * eight at 1.0: 8 busy cores need ceil(8 * 1.7) = 14, and the very first
 * busy sample gets exactly 14, the lowest-numbered; 8 / 14 = 0.57 is in
 * the band, so it stays there.
 */
static void
test_step_up_within_one_interval(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 24, 8);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(h_load(&h, 8 * 0.3), PWR_PARK_STEADY);
		assert_int_equal(h.d.count, 8);
		assert_false(h.d.changed);
	}
	assert_int_equal(h_load(&h, 8), PWR_PARK_UNPARK);
	assert_int_equal(h.d.needed, 14);
	assert_int_equal(h.d.count, 14);
	assert_true(h.d.changed);
	assert_prefix(&h.set, 14);
	for (int i = 0; i < 100; i++)
		assert_int_equal(h_load(&h, 8), PWR_PARK_STEADY);
	assert_int_equal(h.d.count, 14);

	/* Headroom 1: ceil(8 * 2) = 16 exactly. */
	h_init(&h, 24, 8);
	h.p.headroom = 1;
	assert_int_equal(h_load(&h, 8), PWR_PARK_UNPARK);
	assert_int_equal(h.d.count, 16);
	assert_prefix(&h.set, 16);
}

/*
 * A headroom smaller than the threshold implies (0.25: cores at 0.8,
 * above 0.6) would unpark again the next interval, a core at a time:
 * the step goes as far as ceil(8 / 0.6) = 14 instead, and stays.
 */
static void
test_step_up_no_staircase(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 24, 8);
	h.p.headroom = 0.25;
	assert_int_equal(h_load(&h, 8), PWR_PARK_UNPARK);
	assert_int_equal(h.d.needed, 10);
	assert_int_equal(h.d.count, 14);
	for (int i = 0; i < 100; i++)
		assert_int_equal(h_load(&h, 8), PWR_PARK_STEADY);
}

/*
 * Demand beyond the unparked cores shows only as saturation: each
 * interval unparks ceil(n * 1.7) until it fits.  From 1 to 12 busy cores
 * of 32: 1 -> 2 -> 4 -> 7 -> 12 -> 21 (12 / 21 = 0.57).
 */
static void
test_saturation(void **state EBB_UNUSED)
{
	static const int want[] = { 2, 4, 7, 12, 21 };
	struct harness h;

	h_init(&h, 32, 1);
	for (size_t i = 0; i < EBB_NITEMS(want); i++) {
		/* What the sampler sees: the unparked cores, saturated. */
		h_load(&h, EBB_MIN(12, pwr_mask_count(&h.set)));
		assert_int_equal(h.d.reason, PWR_PARK_UNPARK);
		assert_int_equal(h.d.count, want[i]);
	}
	assert_int_equal(h_load(&h, 12), PWR_PARK_STEADY);
}

/*
 * A load above increase_threshold on one core but with headroom to spare
 * (needed <= unparked): one more core, not none.
 */
static void
test_threshold_unparks_at_least_one(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 4, 2);
	h.p.headroom = 0;
	h.p.increase_threshold = 0.65;
	/* 2 cores at 0.7: busy 1.4, needed ceil(1.4) = 2 = unparked. */
	assert_int_equal(h_load(&h, 1.4), PWR_PARK_UNPARK);
	assert_int_equal(h.d.needed, 2);
	assert_int_equal(h.d.count, 3);
}

/* increase_time of three intervals: two samples wait, the third acts. */
static void
test_increase_time(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 8, 1);
	h.p.increase_time = 3;
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_WAIT_UP);
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_WAIT_UP);
	assert_int_equal(h.d.count, 1);
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_UNPARK);
	assert_int_equal(h.d.count, 2);		/* ceil(0.9 * 1.25) */

	/* One quiet sample in between restarts the wait. */
	h_init(&h, 8, 1);
	h.p.increase_time = 3;
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_WAIT_UP);
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_WAIT_UP);
	assert_int_equal(h_load(&h, 0.5), PWR_PARK_STEADY);
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_WAIT_UP);
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_WAIT_UP);
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_UNPARK);

	/* increase_time 0: the first sample, as with one interval. */
	h_init(&h, 8, 1);
	h.p.increase_time = 0;
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_UNPARK);

	/* With 0.1 s sampling, increase_time 1 s takes ten samples. */
	h_init(&h, 8, 1);
	h.interval = 0.1;
	for (int i = 0; i < 9; i++)
		assert_int_equal(h_load(&h, 0.9), PWR_PARK_WAIT_UP);
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_UNPARK);
}

/* ---- parking ------------------------------------------------------------ */

/*
 * 8 cores at 0.3 busy cores in all (0.0375 each): the first park comes at
 * t = 30 (the sample ending at 1 s began at 0), not a sample earlier, and
 * then one per 30 s, cpu 7 first, down to cpu0 alone (2 cores at 0.15 are
 * still below 0.2; 0.3 on one is in the band).
 */
static void
test_park_slowly(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 8, 8);
	for (int t = 1; t <= 29; t++) {
		assert_int_equal(h_load(&h, 0.3), PWR_PARK_WAIT_DOWN);
		assert_int_equal(h.d.count, 8);
	}
	for (int parks = 1; parks <= 7; parks++) {
		assert_int_equal(h_load(&h, 0.3), PWR_PARK_PARK);
		assert_true(fabs(h.now - 30.0 * parks) < 1e-9);
		assert_int_equal(h.d.count, 8 - parks);
		assert_prefix(&h.set, 8 - parks);
		if (parks == 7)
			break;
		for (int t = 1; t <= 29; t++)
			assert_int_equal(h_load(&h, 0.3), PWR_PARK_WAIT_DOWN);
	}
	assert_prefix(&h.set, 1);
	for (int t = 1; t <= 100; t++)
		assert_int_equal(h_load(&h, 0.3), PWR_PARK_STEADY);
	assert_int_equal(h_load(&h, 0.1), PWR_PARK_AT_MIN);
	assert_prefix(&h.set, 1);
}

/* A busy sample in the middle of the quiet restarts decrease_time. */
static void
test_park_timer_restarts(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 4, 4);
	for (int t = 1; t <= 29; t++)
		h_load(&h, 0.2);
	assert_int_equal(h_load(&h, 1.2), PWR_PARK_STEADY);	/* 0.3 */
	for (int t = 1; t <= 29; t++)
		assert_int_equal(h_load(&h, 0.2), PWR_PARK_WAIT_DOWN);
	assert_int_equal(h_load(&h, 0.2), PWR_PARK_PARK);
	assert_int_equal(h.d.count, 3);
}

/* A clock that goes back restarts the timers rather than trust them. */
static void
test_clock_back(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 4, 4);
	for (int t = 1; t <= 20; t++)
		h_load(&h, 0.2);
	h.now = 5;
	for (int t = 1; t <= 29; t++)
		assert_int_equal(h_load(&h, 0.2), PWR_PARK_WAIT_DOWN);
	assert_int_equal(h_load(&h, 0.2), PWR_PARK_PARK);
}

/*
 * A park is refused when the cores left would not hold the load with its
 * headroom, or would rise above increase_threshold: here decrease 0.45
 * and increase 0.6, two cores at 0.4 would make one at 0.8 (which would
 * unpark at once: a limit cycle without the guard).
 */
static void
test_park_never_causes_unpark(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 4, 2);
	h.p.decrease_threshold = 0.45;
	h.p.headroom = 0;
	for (int t = 1; t <= 29; t++)
		assert_int_equal(h_load(&h, 0.8), PWR_PARK_WAIT_DOWN);
	for (int t = 1; t <= 300; t++)
		assert_int_equal(h_load(&h, 0.8), PWR_PARK_NEEDED);
	assert_int_equal(h.d.count, 2);

	/* Headroom: 3 cores at 0.1 (needed ceil(0.3 * 1.7) = 1) park to 1 */
	h_init(&h, 4, 3);
	for (int t = 1; t <= 60; t++)
		h_load(&h, 0.3);
	assert_int_equal(h.d.count, 1);
	/* ... but with headroom 9, ceil(0.3 * 10) = 3 keep all three. */
	h_init(&h, 4, 3);
	h.p.headroom = 9;
	for (int t = 1; t <= 60; t++)
		assert_int_equal(h_load(&h, 0.3), t < 30 ?
		    PWR_PARK_WAIT_DOWN : PWR_PARK_NEEDED);
	assert_int_equal(h.d.count, 3);
}

/* ---- cpu0, limits ------------------------------------------------------- */

static void
test_cpu0_never_parked(void **state EBB_UNUSED)
{
	struct harness h;

	/* A set without cpu0 gets it back. */
	h_init(&h, 8, 0);
	pwr_mask_set(&h.set, 5);
	assert_int_equal(h_load(&h, 0.5), PWR_PARK_STEADY);
	assert_true(pwr_mask_test(&h.set, 0));
	assert_true(pwr_mask_test(&h.set, 5));
	assert_int_equal(h.d.count, 2);

	/* Idle for an hour: cpu5, never cpu0, goes; then nothing moves. */
	for (int t = 0; t < 3600; t++)
		h_load(&h, 0);
	assert_prefix(&h.set, 1);

	/* Even if cpu0 is the busy one and the others idle. */
	h_init(&h, 4, 4);
	for (int t = 0; t < 600; t++) {
		memset(h.util, 0, sizeof(h.util));
		h.util[0] = 0.1;
		h_step(&h);
	}
	assert_prefix(&h.set, 1);
}

static void
test_min_max(void **state EBB_UNUSED)
{
	struct harness h;

	/* min 3: idle never parks below 3. */
	h_init(&h, 8, 8);
	h.p.min_cores = 3;
	for (int t = 0; t < 600; t++)
		h_load(&h, 0);
	assert_prefix(&h.set, 3);
	assert_int_equal(h.d.reason, PWR_PARK_AT_MIN);

	/* max 5: saturation stops at 5. */
	h_init(&h, 8, 1);
	h.p.max_cores = 5;
	for (int t = 0; t < 20; t++)
		h_load(&h, 8);
	assert_prefix(&h.set, 5);
	assert_int_equal(h.d.reason, PWR_PARK_AT_MAX);
	assert_int_equal(h.d.needed, 5);

	/* A set outside the limits is corrected at once, timers or not. */
	h_init(&h, 8, 8);
	h.p.max_cores = 2;
	assert_int_equal(h_load(&h, 8), PWR_PARK_LIMITS);
	assert_prefix(&h.set, 2);
	h_init(&h, 8, 1);
	h.p.min_cores = 6;
	assert_int_equal(h_load(&h, 0), PWR_PARK_LIMITS);
	assert_prefix(&h.set, 6);

	/* min and max beyond the host: the host's count. */
	h_init(&h, 4, 1);
	h.p.min_cores = 10;
	h.p.max_cores = 16;
	assert_int_equal(h_load(&h, 0), PWR_PARK_LIMITS);
	assert_prefix(&h.set, 4);
	assert_int_equal(h_load(&h, 0), PWR_PARK_AT_MIN);
	assert_int_equal(h_load(&h, 1.6), PWR_PARK_STEADY);
	assert_int_equal(h_load(&h, 4), PWR_PARK_AT_MAX);
}

/* Only managed cores are used; others in the caller's set are dropped. */
static void
test_managed_cores(void **state EBB_UNUSED)
{
	struct pwr_park_params p;
	struct pwr_park_state st;
	struct pwr_park_decision d;
	struct pwr_mask cpus, cur;
	double util[8] = { 1, 1, 0, 0, 0, 0, 0, 0 };
	struct pwr_park_input in = {
		.now = 1, .interval = 1, .ncpu = 8, .util = util,
		.cpus = &cpus,
	};
	struct ebb_err err = { "" };

	pwr_park_params_default(&p);
	pwr_park_state_init(&st);
	/* Managed: 0, 1, 4, 6 (2, 3, 5, 7 are the host's own). */
	pwr_mask_zero(&cpus);
	pwr_mask_set(&cpus, 0);
	pwr_mask_set(&cpus, 1);
	pwr_mask_set(&cpus, 4);
	pwr_mask_set(&cpus, 6);
	pwr_mask_zero(&cur);
	pwr_mask_set(&cur, 0);
	pwr_mask_set(&cur, 1);
	pwr_mask_set(&cur, 3);		/* not managed: dropped */
	assert_int_equal(pwr_park_decide(&p, &st, &in, &cur, &d, &err), 0);
	/* busy 2 -> needed ceil(3.4) = 4: every managed core, no other. */
	assert_int_equal(d.reason, PWR_PARK_UNPARK);
	assert_int_equal(d.count, 4);
	assert_true(pwr_mask_equal(&d.unparked, &cpus));
	assert_true(d.changed);
}

/* ---- headroom ----------------------------------------------------------- */

static void
test_headroom_math(void **state EBB_UNUSED)
{
	static const struct {
		double	busy, headroom;
		int	needed;
	} cases[] = {
		{ 3.0, 0, 3 },
		{ 3.0, 0.25, 4 },	/* 3.75 */
		{ 3.0, 0.7, 6 },	/* 5.1, the default */
		{ 3.0, 1, 6 },
		{ 2.4, 0.25, 3 },	/* exactly 3.0: no extra core */
		{ 2.41, 0.25, 4 },	/* 3.0125 */
		{ 0, 0.25, 1 },		/* never below one: cpu0 */
		{ 0.1, 0, 1 },
		{ 16, 0.25, 16 },	/* 20, clamped to the host */
		{ 1, 1e308, 16 },	/* inf: clamped, not an int overflow */
	};

	for (size_t i = 0; i < EBB_NITEMS(cases); i++) {
		struct harness h;

		h_init(&h, 16, 16);
		h.p.headroom = cases[i].headroom;
		h_load(&h, cases[i].busy);
		if (h.d.needed != cases[i].needed)
			fail_msg("busy %g headroom %g: needed %d, want %d",
			    cases[i].busy, cases[i].headroom, h.d.needed,
			    cases[i].needed);
		assert_true(fabs(h.d.busy - cases[i].busy) < 1e-9);
	}

	/* 0.7 + 0.7 + 0.6 is 2.0000000000000004 in doubles: needs 2. */
	{
		struct harness h;

		h_init(&h, 4, 4);
		h.p.headroom = 0;
		h.util[0] = 0.7, h.util[1] = 0.7, h.util[2] = 0.6;
		h_step(&h);
		assert_int_equal(h.d.needed, 2);
	}

	/*
	 * Headroom alone unparks: 4 cores at 0.55 (below 0.6) are 2.2 busy,
	 * with headroom 1 that needs 5.
	 */
	{
		struct harness h;

		h_init(&h, 8, 4);
		h.p.headroom = 1;
		assert_int_equal(h_load(&h, 2.2), PWR_PARK_UNPARK);
		assert_int_equal(h.d.count, 5);
	}
}

/* ---- hysteresis --------------------------------------------------------- */

/* Around increase_threshold: one unpark, then the set stays. */
static void
test_flapping_increase(void **state EBB_UNUSED)
{
	struct harness h;
	int changes = 0;

	h_init(&h, 16, 4);
	for (int t = 0; t < 1000; t++) {
		/* 0.55 and 0.65 per core on the first four. */
		h_load(&h, t % 2 ? 4 * 0.65 : 4 * 0.55);
		changes += h.d.changed;
	}
	assert_int_equal(changes, 1);
	assert_int_equal(h.d.count, 5);
}

/* Around decrease_threshold: never 30 s in a row below, never parks. */
static void
test_flapping_decrease(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 16, 4);
	for (int t = 0; t < 1000; t++) {
		enum pwr_park_reason r = h_load(&h, t % 2 ? 4 * 0.15 :
		    4 * 0.25);

		assert_true(r == PWR_PARK_STEADY || r == PWR_PARK_WAIT_DOWN);
	}
	assert_int_equal(h.d.count, 4);

	/* Quiet 25 s of every 30: still never parks. */
	h_init(&h, 16, 4);
	for (int t = 0; t < 3000; t++)
		h_load(&h, t % 30 < 25 ? 0.4 : 1.2);
	assert_int_equal(h.d.count, 4);
}

/*
 * A random load for ten simulated hours, checking what the hysteresis
 * promises: limits hold; a park is one core, at least decrease_time after
 * any change of the set (so never right after an unpark); an unpark right
 * after a park happens only if the load rose (a park never causes one);
 * and the set turns round rarely.
 */
static void
test_random_load_invariants(void **state EBB_UNUSED)
{
	struct harness h;
	struct ebb_rand rng;
	double busy = 2, seen, last_change = -1e9, park_load = 0;
	int prev = 8, last_dir = 0, turns = 0, changes = 0;

	ebb_rand_seed(&rng, 42);
	h_init(&h, 32, 8);
	h.p.min_cores = 2;
	h.p.max_cores = 24;
	for (int t = 0; t < 36000; t++) {
		int dir;

		/* A random walk of total demand, with occasional jumps. */
		busy += (ebb_rand_double(&rng) - 0.5) * 0.4;
		if (ebb_rand_double(&rng) < 0.002)
			busy = ebb_rand_double(&rng) * 20;
		busy = busy < 0 ? 0 : busy > 24 ? 24 : busy;
		/* What the sampler sees: demand up to the unparked cores. */
		seen = EBB_MIN(busy, (double)pwr_mask_count(&h.set));
		h_load(&h, seen);

		assert_in_range(h.d.count, 2, 24);
		dir = (h.d.count > prev) - (h.d.count < prev);
		if (dir < 0) {
			assert_int_equal(h.d.reason, PWR_PARK_PARK);
			assert_int_equal(h.d.count, prev - 1);
			assert_true(h.now - last_change >= 30 - 1e-9);
			park_load = seen;
		}
		if (dir > 0 && last_dir < 0 &&
		    h.now - last_change < h.interval + 1e-9)
			assert_true(seen > park_load);
		if (dir != 0) {
			if (last_dir != 0 && dir != last_dir)
				turns++;
			last_dir = dir;
			last_change = h.now;
			changes++;
		}
		prev = h.d.count;
	}
	/* Measured 24 turns in 36000 intervals: the load's own. */
	assert_true(changes > 50);
	assert_true(turns < 60);
}

/* ---- topology ----------------------------------------------------------- */

static void
test_topology_packages(void **state EBB_UNUSED)
{
	/* Two packages of four: cpus 0-3 and 4-7. */
	static const int pkg[8] = { 0, 0, 0, 0, 1, 1, 1, 1 };
	struct harness h;

	/* Unpark fills package 0 before waking package 1. */
	h_init(&h, 8, 2);
	h.package = pkg;
	h.p.headroom = 1;
	assert_int_equal(h_load(&h, 2), PWR_PARK_UNPARK);	/* 4 */
	assert_prefix(&h.set, 4);
	assert_int_equal(h_load(&h, 4 * 0.75), PWR_PARK_UNPARK); /* 6 */
	assert_prefix(&h.set, 6);

	/* Park empties package 1 first even with cpus 2-3 awake. */
	h_init(&h, 8, 0);
	h.package = pkg;
	pwr_mask_set(&h.set, 0);
	pwr_mask_set(&h.set, 1);
	pwr_mask_set(&h.set, 2);
	pwr_mask_set(&h.set, 5);
	pwr_mask_set(&h.set, 6);
	for (int t = 0; t < 60; t++)
		h_load(&h, 0.2);
	assert_int_equal(h.d.count, 3);
	assert_false(pwr_mask_test(&h.set, 5));
	assert_false(pwr_mask_test(&h.set, 6));
	assert_true(pwr_mask_test(&h.set, 1) && pwr_mask_test(&h.set, 2));
}

/* Groups as SMT cores: cpus c and c + 4 are siblings. */
static void
test_topology_siblings(void **state EBB_UNUSED)
{
	static const int core[8] = { 0, 1, 2, 3, 0, 1, 2, 3 };
	struct harness h;

	/* From cpu0 alone to two: its sibling, cpu4, not cpu1. */
	h_init(&h, 8, 1);
	h.package = core;
	assert_int_equal(h_load(&h, 0.9), PWR_PARK_UNPARK);
	assert_true(pwr_mask_test(&h.set, 4));
	assert_int_equal(h.d.count, 2);
	/* To four: the next core's pair, 1 and 5. */
	h.p.headroom = 1;
	assert_int_equal(h_load(&h, 2), PWR_PARK_UNPARK);
	assert_true(pwr_mask_test(&h.set, 1) && pwr_mask_test(&h.set, 5));

	/* Parking {0,1,4,5}: the pair 1/5 goes, highest first, not 4. */
	for (int t = 0; t < 30; t++)
		h_load(&h, 0.2);
	assert_false(pwr_mask_test(&h.set, 5));
	assert_true(pwr_mask_test(&h.set, 4));
	for (int t = 0; t < 30; t++)
		h_load(&h, 0.2);
	assert_false(pwr_mask_test(&h.set, 1));
	assert_true(pwr_mask_test(&h.set, 4));
}

/* ---- edges -------------------------------------------------------------- */

static void
test_one_core(void **state EBB_UNUSED)
{
	struct harness h;

	h_init(&h, 1, 1);
	assert_int_equal(h_load(&h, 1), PWR_PARK_AT_MAX);
	for (int t = 0; t < 100; t++)
		h_load(&h, 0);
	assert_int_equal(h.d.reason, PWR_PARK_AT_MIN);
	assert_prefix(&h.set, 1);
	h.p.min_cores = 4;		/* more than the host has: fine */
	assert_int_equal(h_load(&h, 0.5), PWR_PARK_STEADY);
	assert_prefix(&h.set, 1);
}

static void
test_1024_cores(void **state EBB_UNUSED)
{
	static struct harness h;	/* 8 KB of util: not on the stack */

	/* 256 saturated cores, headroom 1: 512 unparked in one step. */
	h_init(&h, PWR_MAX_CPUS, 256);
	h.p.headroom = 1;
	assert_int_equal(h_load(&h, 256), PWR_PARK_UNPARK);
	assert_int_equal(h.d.count, 512);
	assert_prefix(&h.set, 512);
	/* All 512 saturated: all 1024 (needed 1024), and no further. */
	assert_int_equal(h_load(&h, 512), PWR_PARK_UNPARK);
	assert_int_equal(h.d.count, PWR_MAX_CPUS);
	assert_int_equal(h_load(&h, 1024), PWR_PARK_AT_MAX);
	assert_int_equal(h.d.count, PWR_MAX_CPUS);
	assert_true(pwr_mask_test(&h.set, 1023));
	/* Idle: cpu 1023 goes first, 30 s later. */
	for (int t = 0; t < 30; t++)
		h_load(&h, 0);
	assert_int_equal(h.d.reason, PWR_PARK_PARK);
	assert_prefix(&h.set, 1023);
	assert_false(pwr_mask_test(&h.set, 1023));
}

static void
test_mask_helpers(void **state EBB_UNUSED)
{
	struct pwr_mask m;

	pwr_mask_zero(&m);
	pwr_mask_set(&m, -1);
	pwr_mask_set(&m, PWR_MAX_CPUS);
	assert_int_equal(pwr_mask_count(&m), 0);
	assert_false(pwr_mask_test(&m, -1));
	assert_false(pwr_mask_test(&m, PWR_MAX_CPUS));
	pwr_mask_set_range(&m, 60, 70);
	assert_int_equal(pwr_mask_count(&m), 11);
	assert_true(pwr_mask_test(&m, 63) && pwr_mask_test(&m, 64));
	pwr_mask_clr(&m, 64);
	assert_false(pwr_mask_test(&m, 64));
	pwr_mask_set_range(&m, 1000, 5000);
	assert_int_equal(pwr_mask_count(&m), 10 + 24);
}

/* Refused input leaves state and output alone. */
static void
test_bad_input(void **state EBB_UNUSED)
{
	struct pwr_park_params p;
	struct pwr_park_state st, st0;
	struct pwr_park_decision d, d0;
	struct pwr_mask cur, cpus;
	double util[4] = { 0.5, 0.5, 0.5, 0.5 };
	int pkg[4] = { 0, 0, 1, PWR_MAX_CPUS };
	struct pwr_park_input in = {
		.now = 10, .interval = 1, .ncpu = 4, .util = util,
	};
	struct pwr_park_input bad;
	struct ebb_err err = { "" };

	pwr_park_params_default(&p);
	pwr_park_state_init(&st);
	st.up = true, st.up_since = 3;		/* something to keep */
	st0 = st;
	memset(&d, 0xa5, sizeof(d));
	d0 = d;
	pwr_mask_zero(&cur);
	pwr_mask_set(&cur, 0);

#define REFUSED(what) do {						\
	assert_int_equal(pwr_park_decide(&p, &st, &bad, &cur, &d,	\
	    &err), -EINVAL);						\
	assert_non_null(strstr(err.msg, what));				\
	assert_memory_equal(&st, &st0, sizeof(st));			\
	assert_memory_equal(&d, &d0, sizeof(d));			\
} while (0)

	bad = in, bad.ncpu = 0;
	REFUSED("ncpu");
	bad = in, bad.ncpu = PWR_MAX_CPUS + 1;
	REFUSED("ncpu");
	bad = in, bad.util = NULL;
	REFUSED("sample");
	bad = in, bad.interval = 0;
	REFUSED("interval");
	bad = in, bad.now = NAN;
	REFUSED("interval");
	util[2] = NAN;
	bad = in;
	REFUSED("cpu2 utilization is NaN");
	util[2] = 0.5;
	bad = in, bad.package = pkg;
	REFUSED("cpu3 package");
	pwr_mask_zero(&cpus);
	pwr_mask_set(&cpus, 1);
	bad = in, bad.cpus = &cpus;
	REFUSED("cpu0");
	pwr_mask_set(&cpus, 0);
	pwr_mask_set(&cpus, 4);
	bad = in, bad.cpus = &cpus;
	REFUSED("cpu4 is managed");
	p.min_cores = 0;
	bad = in;
	REFUSED("min_cores");
#undef REFUSED

	/* Out-of-range utilization is clipped, not refused. */
	pwr_park_params_default(&p);
	util[0] = 1.7, util[1] = -0.3;
	assert_int_equal(pwr_park_decide(&p, &st, &in, &cur, &d, &err), 0);
	assert_true(fabs(d.busy - (1 + 0 + 0.5 + 0.5)) < 1e-12);
	assert_true(fabs(d.avg - 1) < 1e-12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_step_up_within_one_interval),
		cmocka_unit_test(test_step_up_no_staircase),
		cmocka_unit_test(test_saturation),
		cmocka_unit_test(test_threshold_unparks_at_least_one),
		cmocka_unit_test(test_increase_time),
		cmocka_unit_test(test_park_slowly),
		cmocka_unit_test(test_park_timer_restarts),
		cmocka_unit_test(test_clock_back),
		cmocka_unit_test(test_park_never_causes_unpark),
		cmocka_unit_test(test_cpu0_never_parked),
		cmocka_unit_test(test_min_max),
		cmocka_unit_test(test_managed_cores),
		cmocka_unit_test(test_headroom_math),
		cmocka_unit_test(test_flapping_increase),
		cmocka_unit_test(test_flapping_decrease),
		cmocka_unit_test(test_random_load_invariants),
		cmocka_unit_test(test_topology_packages),
		cmocka_unit_test(test_topology_siblings),
		cmocka_unit_test(test_one_core),
		cmocka_unit_test(test_1024_cores),
		cmocka_unit_test(test_mask_helpers),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
