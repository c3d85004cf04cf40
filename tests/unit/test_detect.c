/*
 * test_detect.c - overload detection (THR, IQR, MAD, LR, LRR, BAND) on tiny
 * fleets built by hand, with every expected figure worked out in the
 * comments; and the fleet bookkeeping the detectors stand on: the host's
 * history, the allocation of a host's MIPS, the power curve.
 *
 * Most hosts here are 2 PEs x 1000 MIPS = 2000 MIPS, so a demand of D MIPS
 * is a utilization of D / 2000, and a VM of 2 PEs x 1000 MIPS contributes
 * its history to the host's unscaled (factor 2000 / 2000 = 1).  Values are
 * chosen to be exact in binary where a test sits on a boundary.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "pol_detect.h"
#include "pol_fleet.h"
#include "pol_policy.h"

/* SPECpower of the HP ProLiant ML110 G4, as CloudSim has it. */
static const struct pol_power_curve g4 = {
	{ 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 }
};

/* ---- fleet building ------------------------------------------------------- */

static int
host_new(struct pol_fleet *f, int pes, double pe_mips)
{
	int i = f->nhosts++;
	struct pol_host *h;

	f->hosts = ebb_reallocarray(f->hosts, f->nhosts, sizeof(*f->hosts));
	h = &f->hosts[i];
	memset(h, 0, sizeof(*h));
	h->id = i;
	h->pes = pes;
	h->pe_mips = pe_mips;
	h->ram_mb = 65536;
	h->bw = 1e7;
	h->mig_mbs = 62.5;	/* 1000 MB move in 16 s: one interval ahead */
	h->power = &g4;
	h->state = POL_HOST_ON;
	/*
	 * Slots allocated up front: pol_fleet_copy() memcpy()s a host's
	 * slots even when there are none, undefined for NULL (see
	 * test_BUG_plan_with_never_used_host in test_plan.c).
	 */
	h->cslots = 4;
	h->slots = ebb_reallocarray(NULL, h->cslots, sizeof(*h->slots));
	pol_host_realloc(f, i);
	return i;
}

static int
vm_new(struct pol_fleet *f, int pes, double mips, double req)
{
	int i = f->nvms++;
	struct pol_vm *v;

	f->vms = ebb_reallocarray(f->vms, f->nvms, sizeof(*f->vms));
	v = &f->vms[i];
	memset(v, 0, sizeof(*v));
	v->id = 100 + i;
	v->host = -1;
	v->pes = pes;
	v->mips = mips;
	v->ram_mb = 1000;
	v->req_mips = req;
	return i;
}

/* Sets a VM's history, given newest first. */
static void
vm_hist(struct pol_fleet *f, int vm, const double *newest_first, int n)
{
	struct pol_vm *v = &f->vms[vm];

	assert_true(n <= POL_HIST_MAX);
	v->nhist = n;
	memcpy(v->hist, newest_first, n * sizeof(*newest_first));
}

/* The same, given oldest first (as the regressions read it). */
static void
vm_hist_oldest_first(struct pol_fleet *f, int vm, const double *y, int n)
{
	double h[POL_HIST_MAX];

	for (int i = 0; i < n; i++)
		h[i] = y[n - 1 - i];
	vm_hist(f, vm, h, n);
}

static void
place(struct pol_fleet *f, int host, int vm)
{
	pol_host_add(f, host, vm, false);
	f->vms[vm].host = host;
}

static void
policy(struct pol_policy *p, enum pol_detector d)
{
	pol_policy_defaults(p);
	p->overload.detector = d;
}

/* A 2 x 1000 MIPS host holding one 2 x 1000 MIPS VM (history unscaled). */
static void
one_vm_fleet(struct pol_fleet *f, int *h, int *vm)
{
	pol_fleet_init(f);
	*h = host_new(f, 2, 1000);
	*vm = vm_new(f, 2, 1000, 0);
	place(f, *h, *vm);
}

static void
set_demand(struct pol_fleet *f, int host, int vm, double req)
{
	f->vms[vm].req_mips = req;
	pol_host_realloc(f, host);
}

#define SAME_D(a, b) do {						\
	double _a = (a), _b = (b);					\
	if (memcmp(&_a, &_b, sizeof(_a)) != 0)				\
		fail_msg("%s = %.17g differs from %s = %.17g", #a, _a,	\
		    #b, _b);						\
} while (0)

/* |got - want| <= eps, reported at the caller's line. */
#define assert_near(got, want, eps) do {				\
	double _g = (got), _w = (want);					\
	if (!(fabs(_g - _w) <= (eps)))					\
		fail_msg("%s = %.17g, want %.17g (eps %g)", #got, _g,	\
		    _w, (double)(eps));					\
} while (0)

/* Field by field, bit for bit. */
static void
assert_fleet_equal(const struct pol_fleet *a, const struct pol_fleet *b)
{
	assert_int_equal(a->nhosts, b->nhosts);
	assert_int_equal(a->nvms, b->nvms);
	SAME_D(a->interval_s, b->interval_s);
	SAME_D(a->src_share, b->src_share);
	SAME_D(a->dst_share, b->dst_share);
	for (int i = 0; i < a->nhosts; i++) {
		const struct pol_host *x = &a->hosts[i], *y = &b->hosts[i];

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->pes, y->pes);
		SAME_D(x->pe_mips, y->pe_mips);
		SAME_D(x->ram_mb, y->ram_mb);
		SAME_D(x->bw, y->bw);
		SAME_D(x->mig_mbs, y->mig_mbs);
		assert_ptr_equal(x->power, y->power);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->reserve, y->reserve);
		SAME_D(x->util, y->util);
		assert_int_equal(x->nslots, y->nslots);
		for (int k = 0; k < x->nslots; k++) {
			assert_int_equal(x->slots[k].vm, y->slots[k].vm);
			assert_int_equal(x->slots[k].incoming,
			    y->slots[k].incoming);
			SAME_D(x->slots[k].alloc, y->slots[k].alloc);
		}
		SAME_D(x->avail_mips, y->avail_mips);
		SAME_D(x->load_mips, y->load_mips);
		SAME_D(x->ram_used, y->ram_used);
		SAME_D(x->bw_used, y->bw_used);
	}
	for (int i = 0; i < a->nvms; i++) {
		const struct pol_vm *x = &a->vms[i], *y = &b->vms[i];

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->host, y->host);
		assert_int_equal(x->pes, y->pes);
		SAME_D(x->mips, y->mips);
		SAME_D(x->ram_mb, y->ram_mb);
		SAME_D(x->ram_use_mb, y->ram_use_mb);
		SAME_D(x->bw_use, y->bw_use);
		SAME_D(x->req_mips, y->req_mips);
		SAME_D(x->reserve_mips, y->reserve_mips);
		assert_int_equal(x->nhist, y->nhist);
		for (int k = 0; k < x->nhist; k++)
			SAME_D(x->hist[k], y->hist[k]);
		assert_int_equal(x->migrating, y->migrating);
		assert_int_equal(x->pinned, y->pinned);
	}
}

/* ---- power curve ---------------------------------------------------------- */

static void
test_power_at(void **state EBB_UNUSED)
{
	/* The table's own points. */
	assert_near(pol_power_at(&g4, 0), 86, 1e-12);
	assert_near(pol_power_at(&g4, 0.5), 102, 1e-12);
	assert_near(pol_power_at(&g4, 1), 117, 1e-12);
	/* 5 %: halfway from 86 to 89.4 = 87.7. */
	assert_near(pol_power_at(&g4, 0.05), 87.7, 1e-9);
	/* 55 %: halfway from 102 to 106 = 104. */
	assert_near(pol_power_at(&g4, 0.55), 104, 1e-9);
	/* 99.9 %: 114 + (117 - 114) * 0.99 = 116.97. */
	assert_near(pol_power_at(&g4, 0.999), 116.97, 1e-9);
	/* 32 %: 96 + (99.5 - 96) * 0.2 = 96.7. */
	assert_near(pol_power_at(&g4, 0.32), 96.7, 1e-9);
	/* Outside [0, 1], and NaN itself: NaN. */
	assert_true(isnan(pol_power_at(&g4, -1e-9)));
	assert_true(isnan(pol_power_at(&g4, 1.0000001)));
	assert_true(isnan(pol_power_at(&g4, 2)));
	assert_true(isnan(pol_power_at(&g4, NAN)));
	assert_true(isnan(pol_power_at(&g4, INFINITY)));
}

/* ---- allocation ------------------------------------------------------------- */

/*
 * Everything fits: each VM gets its capped demand, x0.9 migrating out,
 * x0.1 migrating in; avail = capacity - requests with incoming at 10 %.
 */
static void
test_realloc_fits(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	int h, a, b, c;

	pol_fleet_init(&f);
	h = host_new(&f, 2, 1000);
	a = vm_new(&f, 1, 1000, 500);
	b = vm_new(&f, 1, 1000, 300);
	c = vm_new(&f, 1, 1000, 400);
	f.vms[a].ram_use_mb = 1000, f.vms[a].bw_use = 100;
	f.vms[b].ram_use_mb = 500, f.vms[b].bw_use = 50;
	f.vms[c].ram_use_mb = 250, f.vms[c].bw_use = 25;
	f.vms[b].migrating = true;	/* on its way out */
	f.vms[c].migrating = true;	/* on its way in */
	place(&f, h, a);
	place(&f, h, b);
	pol_host_add(&f, h, c, true);

	/* a: 500; b: 300 x 0.9 = 270; c: 400 x 0.1 = 40. */
	assert_near(f.hosts[h].slots[0].alloc, 500, 1e-9);
	assert_near(f.hosts[h].slots[1].alloc, 270, 1e-9);
	assert_near(f.hosts[h].slots[2].alloc, 40, 1e-9);
	/* Requests 500 + 300 (not 270) + 40 = 840: 2000 - 840 = 1160. */
	assert_near(f.hosts[h].avail_mips, 1160, 1e-9);
	/* Load: the allocations, the incoming one at its full 400. */
	assert_near(f.hosts[h].load_mips, 500 + 270 + 400, 1e-9);
	/* RAM and bandwidth: every listed VM, incoming included. */
	assert_near(f.hosts[h].ram_used, 1750, 0);
	assert_near(f.hosts[h].bw_used, 175, 0);
	/* Demand for the detectors: uncapped, incoming in full. */
	assert_near(pol_host_req_util(&f, h), 1200.0 / 2000, 1e-15);

	/* Removing keeps the others in order and recomputes. */
	pol_host_remove(&f, h, b);
	assert_int_equal(f.hosts[h].nslots, 2);
	assert_int_equal(f.hosts[h].slots[0].vm, a);
	assert_int_equal(f.hosts[h].slots[1].vm, c);
	assert_near(f.hosts[h].avail_mips, 2000 - 540, 1e-9);
	assert_near(f.hosts[h].ram_used, 1250, 0);
	assert_int_equal(pol_host_find(&f.hosts[h], b), -1);
	assert_int_equal(pol_host_find(&f.hosts[h], c), 1);
	pol_fleet_free(&f);
}

/* A vCPU asks for at most one PE; a reserve is a floor on the request. */
static void
test_realloc_caps(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	int h1, h2, h3, a, b, c;

	pol_fleet_init(&f);
	h1 = host_new(&f, 2, 1000);
	h2 = host_new(&f, 2, 1000);
	h3 = host_new(&f, 2, 1000);
	a = vm_new(&f, 1, 2000, 1500);	/* one vCPU asking 1500 > 1000 */
	b = vm_new(&f, 2, 1000, 1500);	/* two asking 750 each */
	c = vm_new(&f, 1, 1000, 0);
	f.vms[c].reserve_mips = 800;	/* not measured yet */
	place(&f, h1, a);
	place(&f, h2, b);
	place(&f, h3, c);

	assert_near(f.hosts[h1].slots[0].alloc, 1000, 0);
	assert_near(f.hosts[h1].avail_mips, 1000, 0);
	assert_near(f.hosts[h2].slots[0].alloc, 1500, 0);
	assert_near(f.hosts[h2].avail_mips, 500, 0);
	assert_near(f.hosts[h3].slots[0].alloc, 800, 0);
	assert_near(f.hosts[h3].avail_mips, 1200, 0);
	pol_fleet_free(&f);
}

/*
 * Over-subscribed: every vCPU gets the same fraction of its request,
 * floored to whole MIPS, and nothing is left for admission.
 */
static void
test_realloc_oversubscribed(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	int h, a, b, c, d, h2, e, g;

	pol_fleet_init(&f);
	h = host_new(&f, 2, 1000);
	a = vm_new(&f, 1, 1500, 1200);	/* capped at 1000 */
	b = vm_new(&f, 1, 1000, 900);
	c = vm_new(&f, 1, 1500, 1500);	/* incoming: capped 1000, x0.1 */
	d = vm_new(&f, 1, 1000, 600);	/* migrating out */
	f.vms[c].migrating = f.vms[d].migrating = true;
	place(&f, h, a);
	place(&f, h, b);
	pol_host_add(&f, h, c, true);
	place(&f, h, d);

	/*
	 * Requests 1000 + 900 + 100 + 600 = 2600 > 2000: scale 10/13.
	 * a: 1000 x 10/13 = 769.2 -> 769; b: 900 x 10/13 = 692.3 -> 692;
	 * c: 1000 x 10/13 x 0.1 = 76.9 -> 76; d: 600 x 10/13 x 0.9 = 415.4
	 * -> 415.
	 */
	assert_near(f.hosts[h].slots[0].alloc, 769, 0);
	assert_near(f.hosts[h].slots[1].alloc, 692, 0);
	assert_near(f.hosts[h].slots[2].alloc, 76, 0);
	assert_near(f.hosts[h].slots[3].alloc, 415, 0);
	assert_near(f.hosts[h].avail_mips, 0, 0);
	/* Load: the allocations, the incoming one grossed up by 0.9 / 0.1. */
	assert_near(f.hosts[h].load_mips, 769 + 692 + 76 + 415 + 684, 1e-9);

	/*
	 * Flooring is per vCPU: e has 2 vCPUs asking 750.75 each, f one
	 * asking 998.5; requests 2500, scale 0.8: e's vCPUs get
	 * floor(600.6) = 600 each, 1200 (not floor(1201.2) = 1201); g gets
	 * floor(798.8) = 798.
	 */
	h2 = host_new(&f, 2, 1000);
	e = vm_new(&f, 2, 1000, 1501.5);
	g = vm_new(&f, 1, 1000, 998.5);
	place(&f, h2, e);
	place(&f, h2, g);
	assert_near(f.hosts[h2].slots[0].alloc, 1200, 0);
	assert_near(f.hosts[h2].slots[1].alloc, 798, 0);
	assert_near(f.hosts[h2].avail_mips, 0, 0);
	pol_fleet_free(&f);
}

/* ---- host history ----------------------------------------------------------- */

static void
test_host_history(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	double out[POL_HIST_MAX];
	int h, a, b, c, h2;

	pol_fleet_init(&f);
	h = host_new(&f, 2, 1000);
	assert_int_equal(pol_host_history(&f, h, out), 0);	/* empty */

	/* a: 1000 MIPS of 2000 -> x0.5; b: 2 x 500 MIPS -> x0.5 too. */
	a = vm_new(&f, 1, 1000, 0);
	b = vm_new(&f, 2, 500, 0);
	vm_hist(&f, a, (const double[]){ 0.4, 0.2, 0.6 }, 3);
	vm_hist(&f, b, (const double[]){ 0.8, 0.4, 0, 0, 0 }, 5);
	place(&f, h, a);
	place(&f, h, b);
	/*
	 * Newest first: 0.2 + 0.4 = 0.6, 0.1 + 0.2 = 0.3, 0.3 + 0 = 0.3,
	 * then 0, 0 trimmed: 3 points.
	 */
	assert_int_equal(pol_host_history(&f, h, out), 3);
	assert_near(out[0], 0.6, 1e-15);
	assert_near(out[1], 0.3, 1e-15);
	assert_near(out[2], 0.3, 1e-15);

	/* A VM migrating in counts; a zero in the middle is kept. */
	c = vm_new(&f, 1, 500, 0);	/* 500 / 2000 -> x0.25 */
	vm_hist(&f, c, (const double[]){ 0, 0, 0, 0.4, 0, 0 }, 6);
	pol_host_add(&f, h, c, true);
	/* Points 4 and 5 are 0 again: trimmed; point 3 = 0.4 x 0.25. */
	assert_int_equal(pol_host_history(&f, h, out), 4);
	assert_near(out[0], 0.6, 1e-15);
	assert_near(out[3], 0.1, 1e-15);

	/* All zero: nothing left. */
	h2 = host_new(&f, 4, 500);
	vm_hist(&f, c, (const double[]){ 0, 0, 0 }, 3);
	pol_host_remove(&f, h, c);
	place(&f, h2, c);
	assert_int_equal(pol_host_history(&f, h2, out), 0);

	/* A VM bigger than the host scales up: 1 x 2000 on 4 x 250. */
	{
		int big = vm_new(&f, 1, 2000, 0), h3 = host_new(&f, 4, 250);

		vm_hist(&f, big, (const double[]){ 0.25, 0.125 }, 2);
		place(&f, h3, big);
		assert_int_equal(pol_host_history(&f, h3, out), 2);
		assert_near(out[0], 0.5, 0);
		assert_near(out[1], 0.25, 0);
	}
	pol_fleet_free(&f);
}

/* ---- THR ------------------------------------------------------------------- */

static void
test_thr(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	int h, a, b, c;

	policy(&p, POL_DET_THR);
	p.overload.threshold = 0.8;
	pol_fleet_init(&f);
	h = host_new(&f, 2, 1000);
	assert_false(pol_overloaded(&p, &f, h));	/* empty */
	a = vm_new(&f, 1, 1000, 800);
	b = vm_new(&f, 1, 1000, 800);
	place(&f, h, a);
	place(&f, h, b);
	/* 1600 / 2000 = 0.8: not above 0.8. */
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, b, 801);	/* 0.8005 */
	assert_true(pol_overloaded(&p, &f, h));

	/* Demand is uncapped: one vCPU asking 1900 of a 1000-MIPS PE. */
	set_demand(&f, h, a, 0);
	set_demand(&f, h, b, 1900);
	assert_true(pol_overloaded(&p, &f, h));		/* 0.95 */

	/* A VM migrating in counts at its full demand, not its 10 %. */
	set_demand(&f, h, b, 1500);			/* 0.75 */
	assert_false(pol_overloaded(&p, &f, h));
	c = vm_new(&f, 1, 1000, 200);
	pol_host_add(&f, h, c, true);			/* 0.85 */
	assert_true(pol_overloaded(&p, &f, h));

	/* The history plays no part. */
	pol_host_remove(&f, h, c);
	vm_hist(&f, b, (const double[]){ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
	    12);
	assert_false(pol_overloaded(&p, &f, h));
	pol_fleet_free(&f);
}

/* ---- IQR and MAD ------------------------------------------------------------ */

static void
test_iqr(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	double hist[12];
	int h, vm;

	policy(&p, POL_DET_IQR);
	p.overload.safety = 1.0;
	p.overload.min_history = 12;
	p.overload.fallback_threshold = 0.7;
	one_vm_fleet(&f, &h, &vm);

	/*
	 * History k/16, k = 12..1 (newest first): sorted, q1 = s[2] = 3/16,
	 * q3 = s[9] = 10/16 (n = 12: positions round(3.25) and round(9.75)),
	 * IQR = 7/16; limit 1 - 1 x 7/16 = 9/16 = 0.5625 = 1125 MIPS.
	 */
	for (int i = 0; i < 12; i++)
		hist[i] = (12 - i) / 16.0;
	vm_hist(&f, vm, hist, 12);
	set_demand(&f, h, vm, 1125);
	assert_false(pol_overloaded(&p, &f, h));	/* 0.5625, not above */
	set_demand(&f, h, vm, 1126);
	assert_true(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 1200);			/* 0.6 */
	assert_true(pol_overloaded(&p, &f, h));
	assert_near(pol_overload_limit(&p, &f, h), 0.5625, 0);

	/* Safety 1.5: 1 - 1.5 x 7/16 = 11/32 = 0.34375 = 687.5 MIPS. */
	p.overload.safety = 1.5;
	set_demand(&f, h, vm, 687.5);
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 688);
	assert_true(pol_overloaded(&p, &f, h));
	p.overload.safety = 1.0;

	/*
	 * 11 points (< 12): the fallback THR 0.7 judges, so 0.6 is fine
	 * although the IQR limit would be exceeded; 0.7 exactly is not
	 * above, 0.7005 is.
	 */
	vm_hist(&f, vm, hist, 11);
	set_demand(&f, h, vm, 1200);
	assert_false(pol_overloaded(&p, &f, h));
	assert_near(pol_overload_limit(&p, &f, h), 0.7, 0);
	set_demand(&f, h, vm, 1400);
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 1401);
	assert_true(pol_overloaded(&p, &f, h));

	/* 12 stored points of which the oldest is 0: trimmed to 11. */
	hist[11] = 0;
	vm_hist(&f, vm, hist, 12);
	set_demand(&f, h, vm, 1200);
	assert_false(pol_overloaded(&p, &f, h));

	/* min_history is the policy's: 11 will do when it says so. */
	p.overload.min_history = 11;
	/*
	 * k/16, k = 12..2: n = 11, q1 = round(3) - 1 -> s[2] = 4/16,
	 * q3 = round(9) - 1 -> s[8] = 10/16: IQR 6/16, limit 10/16 = 1250.
	 */
	set_demand(&f, h, vm, 1250);
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 1251);
	assert_true(pol_overloaded(&p, &f, h));
	pol_fleet_free(&f);
}

static void
test_mad(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	double hist[12];
	int h, vm;

	policy(&p, POL_DET_MAD);
	p.overload.safety = 2.5;
	p.overload.min_history = 12;
	p.overload.fallback_threshold = 0.7;
	one_vm_fleet(&f, &h, &vm);

	/*
	 * History k/16, k = 1..12: median 13/32, MAD 3/16 (test_stats);
	 * limit 1 - 2.5 x 3/16 = 17/32 = 0.53125 = 1062.5 MIPS.
	 */
	for (int i = 0; i < 12; i++)
		hist[i] = (i + 1) / 16.0;
	vm_hist(&f, vm, hist, 12);
	set_demand(&f, h, vm, 1062.5);
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 1063);
	assert_true(pol_overloaded(&p, &f, h));
	assert_near(pol_overload_limit(&p, &f, h), 0.53125, 0);

	/* 11 points: fallback THR 0.7. */
	vm_hist(&f, vm, hist, 11);
	assert_false(pol_overloaded(&p, &f, h));	/* 0.5315 */
	set_demand(&f, h, vm, 1400);
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 1401);
	assert_true(pol_overloaded(&p, &f, h));

	/*
	 * The history is the host's: two 1 x 1000 VMs on the 2000-MIPS host
	 * each contribute half of theirs.  Both k/16, k = 1..12: the host's
	 * is k/32 + k/32 = k/16 again, limit 1062.5 MIPS as above.
	 */
	{
		struct pol_fleet g;
		int hh, a, b;

		pol_fleet_init(&g);
		hh = host_new(&g, 2, 1000);
		a = vm_new(&g, 1, 1000, 62.5);
		b = vm_new(&g, 1, 1000, 62.5);
		for (int i = 0; i < 12; i++)
			hist[i] = (i + 1) / 16.0;
		vm_hist(&g, a, hist, 12);
		vm_hist(&g, b, hist, 12);
		place(&g, hh, a);
		place(&g, hh, b);
		assert_false(pol_overloaded(&p, &g, hh));	/* 125 */
		set_demand(&g, hh, a, 1000);
		assert_false(pol_overloaded(&p, &g, hh));	/* 1062.5 */
		set_demand(&g, hh, b, 63);
		assert_true(pol_overloaded(&p, &g, hh));	/* 1063 */
		pol_fleet_free(&g);
	}
	pol_fleet_free(&f);
}

/* ---- LR and LRR ---------------------------------------------------------- */

/* y = 0.3 + 0.05 x at x = 1..10, oldest first: 0.35 .. 0.80. */
static void
rising(double *y)
{
	for (int i = 0; i < 10; i++)
		y[i] = 0.3 + 0.05 * (i + 1);
}

static void
test_lr_line(void **state EBB_UNUSED)
{
	static const enum pol_detector dets[] = { POL_DET_LR, POL_DET_LRR };

	for (size_t d = 0; d < EBB_NITEMS(dets); d++) {
		struct pol_policy p;
		struct pol_fleet f;
		double y[10];
		int h, vm, big;

		policy(&p, dets[d]);
		p.overload.window = 10;
		p.overload.safety = 1.2;
		one_vm_fleet(&f, &h, &vm);
		rising(y);
		vm_hist_oldest_first(&f, vm, y, 10);
		/* The current demand is low: only the forecast speaks. */
		set_demand(&f, h, vm, 100);

		/*
		 * The VM's 1000 MB move in 1000 / 62.5 = 16 s, ceil(16 / 300)
		 * = 1 interval: predict at x = 11, 0.3 + 0.55 = 0.85;
		 * 1.2 x 0.85 = 1.02 >= 1.
		 */
		assert_true(pol_overloaded(&p, &f, h));
		/* Safety 1.15: 0.9775 < 1. */
		p.overload.safety = 1.15;
		assert_false(pol_overloaded(&p, &f, h));

		/*
		 * A VM of 30000 MB on the host (no history, no demand): the
		 * longest move is 480 s, ceil(480 / 300) = 2 intervals:
		 * predict at x = 12, 0.9; 1.15 x 0.9 = 1.035 >= 1.
		 */
		big = vm_new(&f, 1, 1000, 0);
		f.vms[big].ram_mb = 30000;
		place(&f, h, big);
		assert_true(pol_overloaded(&p, &f, h));
		pol_host_remove(&f, h, big);
		assert_false(pol_overloaded(&p, &f, h));

		/*
		 * No migration bandwidth: nothing ahead, predict at x = 10,
		 * 0.8; 1.2 x 0.8 = 0.96 < 1.
		 */
		p.overload.safety = 1.2;
		f.hosts[h].mig_mbs = 0;
		assert_false(pol_overloaded(&p, &f, h));
		/* 1.26 x 0.8 = 1.008 >= 1. */
		p.overload.safety = 1.26;
		assert_true(pol_overloaded(&p, &f, h));
		f.hosts[h].mig_mbs = 62.5;

		/*
		 * Oldest first matters: the same values falling, y = 0.85 -
		 * 0.05 x, predict 0.3 at x = 11: 1.2 x 0.3 < 1 though the
		 * newest point is the lowest.
		 */
		p.overload.safety = 1.2;
		for (int i = 0; i < 10; i++)
			y[i] = 0.85 - 0.05 * (i + 1);
		vm_hist_oldest_first(&f, vm, y, 10);
		assert_false(pol_overloaded(&p, &f, h));
		/* And the demand plays no part once the history is long. */
		set_demand(&f, h, vm, 1990);
		assert_false(pol_overloaded(&p, &f, h));
		pol_fleet_free(&f);
	}
}

static void
test_lr_boundary(void **state EBB_UNUSED)
{
	static const enum pol_detector dets[] = { POL_DET_LR, POL_DET_LRR };

	for (size_t d = 0; d < EBB_NITEMS(dets); d++) {
		struct pol_policy p;
		struct pol_fleet f;
		double y[10] = { .5, .5, .5, .5, .5, .5, .5, .5, .5, 1 };
		int h, vm;

		policy(&p, dets[d]);
		one_vm_fleet(&f, &h, &vm);
		vm_hist_oldest_first(&f, vm, y, 10);
		set_demand(&f, h, vm, 0);
		/*
		 * Nine 0.5 then 1.0: b = 3/110, a = 0.4 (test_stats);
		 * predict at x = 11: 0.4 + 33/110 = 0.7.  The boundary is
		 * safety 1/0.7 = 1.4286: 1.42 x 0.7 = 0.994 < 1, 1.43 x 0.7
		 * = 1.001 >= 1.
		 */
		p.overload.safety = 1.42;
		assert_false(pol_overloaded(&p, &f, h));
		p.overload.safety = 1.43;
		assert_true(pol_overloaded(&p, &f, h));
		/* The reference safety: 1.2 x 0.7 = 0.84. */
		p.overload.safety = 1.2;
		assert_false(pol_overloaded(&p, &f, h));

		/*
		 * On the boundary exactly: ten 0.5 (exact in binary) fit
		 * a = 0.5, b = 0, predict 0.5; safety 2 gives 1.0, which
		 * is overloaded (>= 1).
		 */
		for (int i = 0; i < 10; i++)
			y[i] = 0.5;
		vm_hist(&f, vm, y, 10);
		p.overload.safety = 2.0;
		assert_true(pol_overloaded(&p, &f, h));
		p.overload.safety = 1.99;
		assert_false(pol_overloaded(&p, &f, h));
		pol_fleet_free(&f);
	}
}

static void
test_lr_window(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	double y[15], r[10];
	int h, vm;

	policy(&p, POL_DET_LR);
	p.overload.safety = 1.2;
	one_vm_fleet(&f, &h, &vm);

	/*
	 * 15 points, oldest first: five 0.01, then ten 0.7.  The newest 10
	 * are flat: predict 0.7, 1.2 x 0.7 = 0.84 < 1.  A fit of all 15
	 * would rise (b = 17.25 / 280 = 0.0616) and predict 0.963 at
	 * x = 16, 1.2 x 0.963 = 1.16: the window matters.
	 */
	for (int i = 0; i < 15; i++)
		y[i] = i < 5 ? 0.01 : 0.7;
	vm_hist_oldest_first(&f, vm, y, 15);
	assert_false(pol_overloaded(&p, &f, h));

	/* A window of 15 sees the rise. */
	p.overload.window = 15;
	assert_true(pol_overloaded(&p, &f, h));
	p.overload.window = 10;

	/*
	 * 9 points (< window 10), however steep: the fallback THR 0.7 on
	 * the current demand.
	 */
	rising(r);
	vm_hist_oldest_first(&f, vm, r + 1, 9);
	set_demand(&f, h, vm, 1400);
	assert_false(pol_overloaded(&p, &f, h));
	assert_near(pol_overload_limit(&p, &f, h), 0.7, 0);
	set_demand(&f, h, vm, 1401);
	assert_true(pol_overloaded(&p, &f, h));
	/* With the tenth point the forecast decides: 1.02 >= 1 at 100. */
	vm_hist_oldest_first(&f, vm, r, 10);
	set_demand(&f, h, vm, 100);
	assert_true(pol_overloaded(&p, &f, h));
	pol_fleet_free(&f);
}

/* ---- BAND -------------------------------------------------------------- */

/*
 * ebb's BAND: overloaded when safety x forecast + confidence x (residual
 * standard deviation) >= band_high, or when the current demand is above
 * band_high; the fallback THR while the history is shorter than the
 * window.
 */
static void
test_band(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	double flat[10], noisy[10];
	static const double e[10] = { -.2, .2, -.2, .2, -.2, -.2, .2, -.2, .2,
	    -.2 };
	int h, vm;

	policy(&p, POL_DET_BAND);
	p.overload.safety = 1.0;
	p.overload.confidence = 1.0;
	p.overload.band_high = 0.75;
	p.overload.window = 10;
	one_vm_fleet(&f, &h, &vm);

	/* Flat 0.75: forecast 0.75 exactly, deviation 0: 0.75 >= 0.75. */
	for (int i = 0; i < 10; i++)
		flat[i] = 0.75;
	vm_hist(&f, vm, flat, 10);
	set_demand(&f, h, vm, 200);
	assert_true(pol_overloaded(&p, &f, h));
	p.overload.band_high = 0.76;
	assert_false(pol_overloaded(&p, &f, h));

	/*
	 * The current demand counts: above the band (strictly) is
	 * overloaded whatever the forecast.  0.76 x 2000 = 1520.
	 */
	set_demand(&f, h, vm, 1520);
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 1521);
	assert_true(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 200);

	/*
	 * Noisy around 0.5, oldest first y = 0.5 + e with e symmetric about
	 * the middle, so the slope is 0: a = mean = 0.46 (six -0.2, four
	 * +0.2); residuals -0.16 (x6) and +0.24 (x4), SSR = 0.1536 + 0.2304
	 * = 0.384, sd = sqrt(0.384 / 8) = 0.2191.  band 0.8:
	 * confidence 1: 0.46 + 0.219 = 0.679 < 0.8;
	 * confidence 2: 0.46 + 0.438 = 0.898 >= 0.8.
	 */
	p.overload.band_high = 0.8;
	for (int i = 0; i < 10; i++)
		noisy[i] = 0.5 + e[i];
	vm_hist_oldest_first(&f, vm, noisy, 10);
	assert_false(pol_overloaded(&p, &f, h));
	p.overload.confidence = 2.0;
	assert_true(pol_overloaded(&p, &f, h));
	/* Confidence 1.5: 0.46 + 0.329 = 0.789 < 0.8; 1.7: 0.832. */
	p.overload.confidence = 1.5;
	assert_false(pol_overloaded(&p, &f, h));
	p.overload.confidence = 1.7;
	assert_true(pol_overloaded(&p, &f, h));
	/* Safety scales the forecast only: 1.3 x 0.46 + 0.219 = 0.817. */
	p.overload.confidence = 1.0;
	p.overload.safety = 1.3;
	assert_true(pol_overloaded(&p, &f, h));
	p.overload.safety = 1.2;		/* 0.552 + 0.219 = 0.771 */
	assert_false(pol_overloaded(&p, &f, h));

	/* LR on the same history: 1.2 x 0.46 = 0.552 < 1. */
	{
		struct pol_policy lr;

		policy(&lr, POL_DET_LR);
		assert_false(pol_overloaded(&lr, &f, h));
	}

	/* Short history: fallback THR 0.7 on the demand. */
	vm_hist(&f, vm, flat, 9);
	set_demand(&f, h, vm, 1400);
	assert_false(pol_overloaded(&p, &f, h));
	set_demand(&f, h, vm, 1401);
	assert_true(pol_overloaded(&p, &f, h));
	pol_fleet_free(&f);
}

/* ---- with one more VM ----------------------------------------------------- */

static void
test_overloaded_with_thr(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f, before;
	int h, a, b;

	policy(&p, POL_DET_THR);
	p.overload.threshold = 0.8;
	pol_fleet_init(&f);
	h = host_new(&f, 2, 1000);
	a = vm_new(&f, 1, 1000, 1000);
	b = vm_new(&f, 1, 1000, 700);
	place(&f, h, a);
	pol_fleet_copy(&before, &f);

	/* 1000 + 700 = 0.85 > 0.8; with 600 it is 0.8, not above. */
	assert_true(pol_overloaded_with(&p, &f, h, b));
	assert_fleet_equal(&f, &before);
	f.vms[b].req_mips = before.vms[b].req_mips = 600;
	assert_false(pol_overloaded_with(&p, &f, h, b));
	assert_fleet_equal(&f, &before);
	assert_false(pol_overloaded(&p, &f, h));	/* 0.5 alone */
	pol_fleet_free(&before);
	pol_fleet_free(&f);
}

/*
 * pol_overloaded_with must say what pol_overloaded says once the VM is
 * really added at the end of the list, and leave the fleet as it was:
 * random small hosts, every detector.
 */
static void
test_overloaded_with_matches_add(void **state EBB_UNUSED)
{
	static const enum pol_detector dets[] = { POL_DET_THR, POL_DET_IQR,
	    POL_DET_MAD, POL_DET_LR, POL_DET_LRR, POL_DET_BAND };
	struct ebb_rand rng;
	int agree_true = 0, agree_false = 0;

	ebb_rand_seed(&rng, 7);
	for (int round = 0; round < 300; round++) {
		struct pol_fleet f, before, added;
		struct pol_policy p;
		int h, nvm = (int)ebb_rand_below(&rng, 4), extra;

		policy(&p, dets[round % EBB_NITEMS(dets)]);
		p.overload.min_history = 1 + (int)ebb_rand_below(&rng, 14);
		p.overload.window = 2 + (int)ebb_rand_below(&rng, 12);
		p.overload.safety = 0.5 + ebb_rand_double(&rng) * 2.5;
		p.overload.band_high = 0.5 + ebb_rand_double(&rng) * 0.5;
		pol_fleet_init(&f);
		h = host_new(&f, 1 + (int)ebb_rand_below(&rng, 4),
		    500 + 500 * ebb_rand_below(&rng, 5));
		for (int i = 0; i <= nvm; i++) {
			int v = vm_new(&f, 1 + (int)ebb_rand_below(&rng, 2),
			    250 * (1 + ebb_rand_below(&rng, 8)), 0);
			int n = (int)ebb_rand_below(&rng, POL_HIST_MAX + 1);

			f.vms[v].req_mips = ebb_rand_double(&rng) *
			    f.vms[v].mips * f.vms[v].pes;
			f.vms[v].ram_mb = 256 + ebb_rand_below(&rng, 40000);
			for (int k = 0; k < n; k++)
				f.vms[v].hist[k] = ebb_rand_below(&rng, 4) == 0 ?
				    0 : ebb_rand_double(&rng);
			f.vms[v].nhist = n;
			if (i < nvm)
				place(&f, h, v);
		}
		extra = f.nvms - 1;
		pol_fleet_copy(&before, &f);
		pol_fleet_copy(&added, &f);
		place(&added, h, extra);

		bool with = pol_overloaded_with(&p, &f, h, extra);
		bool real = pol_overloaded(&p, &added, h);

		if (with != real)
			fail_msg("round %d (%s): overloaded_with %d, added %d",
			    round, pol_detector_name(p.overload.detector),
			    with, real);
		if (with)
			agree_true++;
		else
			agree_false++;
		assert_fleet_equal(&f, &before);
		pol_fleet_free(&f);
		pol_fleet_free(&before);
		pol_fleet_free(&added);
	}
	/* Both answers were exercised. */
	assert_true(agree_true > 20);
	assert_true(agree_false > 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_at),
		cmocka_unit_test(test_realloc_fits),
		cmocka_unit_test(test_realloc_caps),
		cmocka_unit_test(test_realloc_oversubscribed),
		cmocka_unit_test(test_host_history),
		cmocka_unit_test(test_thr),
		cmocka_unit_test(test_iqr),
		cmocka_unit_test(test_mad),
		cmocka_unit_test(test_lr_line),
		cmocka_unit_test(test_lr_boundary),
		cmocka_unit_test(test_lr_window),
		cmocka_unit_test(test_band),
		cmocka_unit_test(test_overloaded_with_thr),
		cmocka_unit_test(test_overloaded_with_matches_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
