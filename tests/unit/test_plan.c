/*
 * test_plan.c - a planning round, pol_plan_round(), and the first
 * placement, pol_place_initial().
 *
 * Most of it is invariants on random fleets: every detector, selection,
 * host order, with and without exclude_targets, reserves and a minimum of
 * hosts on, hosts in every state, VMs migrating and pinned.  Each plan is
 * applied to a copy of the fleet, action by action (POWER_ON turns a host
 * ON, MIGRATE moves the VM from wherever it is now to the target,
 * POWER_OFF turns it OFF), checking at each step what the policy promises:
 * it only moves what may move, only onto a host that is ON and has room
 * (pol_host_suitable and the placement cap, recomputed here), never
 * switches off a host with a VM, a reserve, or one it does not manage, and
 * loses or duplicates no VM.  The round must be deterministic and leave its
 * input alone.
 *
 * Then placement's index against the plain scan of every host, which it
 * must agree with to the host, ties included: on fleets built for ties,
 * every placement of whole rounds is made both ways (POL_FIND_CHECK), and
 * the first placement is checked against a reference written here from
 * the definition.  And the detector's kept view of a host, with its
 * shortcut, against the detector, on the very edge of its limits.
 *
 * Then a few scenarios built by hand: an overloaded host relieved onto the
 * cheapest host, an off host woken for a VM, an underloaded host drained
 * all or nothing, empty hosts switched off around reserves and a minimum,
 * a VM of an overloaded host that fits nowhere, and the first placement.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "pol_detect.h"
#include "pol_fleet.h"
#include "pol_plan.h"
#include "pol_policy.h"

/* CloudSim's two hosts, and a bigger, flatter one. */
static const struct pol_power_curve g4 = {
	{ 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 }
};
static const struct pol_power_curve g5 = {
	{ 93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135 }
};
static const struct pol_power_curve big = {
	{ 150, 170, 185, 200, 215, 230, 245, 260, 275, 290, 300 }
};
/* Straight lines for hand-worked costs: 100 W idle, +10/+20/+15 W a step. */
static const struct pol_power_curve lin200 = {
	{ 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200 }
};
static const struct pol_power_curve lin300 = {
	{ 100, 120, 140, 160, 180, 200, 220, 240, 260, 280, 300 }
};
static const struct pol_power_curve lin250 = {
	{ 100, 115, 130, 145, 160, 175, 190, 205, 220, 235, 250 }
};
static const struct pol_power_curve lin120 = {
	{ 100, 102, 104, 106, 108, 110, 112, 114, 116, 118, 120 }
};

#define SAME_D(a, b) do {						\
	double _a = (a), _b = (b);					\
	if (memcmp(&_a, &_b, sizeof(_a)) != 0)				\
		fail_msg("%s = %.17g differs from %s = %.17g", #a, _a,	\
		    #b, _b);						\
} while (0)

/* A failed invariant names the case it was found in. */
static void check_failed(const char *, int, const char *, const char *,
    const char *, ...) EBB_PRINTF(5, 6);

static void
check_failed(const char *file, int line, const char *cond, const char *ctx,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("%s: %s%s(%s)\n", ctx, msg, *msg ? " " : "", cond);
	_fail(file, line);
}

#define CHECK(cond, ctx) do {						\
	if (!(cond))							\
		check_failed(__FILE__, __LINE__, #cond, (ctx), "%s", "");\
} while (0)

#define CHECKF(cond, ctx, ...) do {					\
	if (!(cond))							\
		check_failed(__FILE__, __LINE__, #cond, (ctx),		\
		    __VA_ARGS__);					\
} while (0)

/* ---- fleet building ------------------------------------------------------- */

static int
host_new(struct pol_fleet *f, int pes, double pe_mips,
    const struct pol_power_curve *pc)
{
	int i = f->nhosts++;
	struct pol_host *h;

	f->hosts = ebb_reallocarray(f->hosts, f->nhosts, sizeof(*f->hosts));
	h = &f->hosts[i];
	memset(h, 0, sizeof(*h));
	h->id = i;
	h->pes = pes;
	h->pe_mips = pe_mips;
	h->ram_mb = 8192;
	h->bw = 1e6;
	h->mig_mbs = 62.5;
	h->power = pc;
	h->state = POL_HOST_ON;
	/* Slots allocated up front (test_plan_with_never_used_host covers
	 * hosts without). */
	h->cslots = 4;
	h->slots = ebb_reallocarray(NULL, h->cslots, sizeof(*h->slots));
	pol_host_realloc(f, i);
	return i;
}

static int
vm_new(struct pol_fleet *f, int pes, double mips, double req, double ram)
{
	int i = f->nvms++;
	struct pol_vm *v;

	f->vms = ebb_reallocarray(f->vms, f->nvms, sizeof(*f->vms));
	v = &f->vms[i];
	memset(v, 0, sizeof(*v));
	v->id = 1000 + i;
	v->host = -1;
	v->pes = pes;
	v->mips = mips;
	v->ram_mb = ram;
	v->req_mips = req;
	return i;
}

static void
place(struct pol_fleet *f, int host, int vm)
{
	pol_host_add(f, host, vm, false);
	f->vms[vm].host = host;
}

/* The host's measured utilization, as the simulator derives it. */
static double
measured_util(const struct pol_fleet *f, int hi)
{
	const struct pol_host *h = &f->hosts[hi];
	double u = 0;

	for (int i = 0; i < h->nslots; i++) {
		const struct pol_slot *s = &h->slots[i];

		u += !s->incoming && f->vms[s->vm].migrating ?
		    s->alloc / f->src_share : s->alloc;
	}
	return u / pol_host_mips(h);
}

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
		for (int k = 0; k < POL_HIST_MAX; k++)
			SAME_D(x->hist[k], y->hist[k]);
		assert_int_equal(x->migrating, y->migrating);
		assert_int_equal(x->pinned, y->pinned);
	}
}

static void
assert_plan_equal(const struct pol_plan *a, const struct pol_plan *b,
    const char *ctx)
{
	CHECK(a->nacts == b->nacts, ctx);
	CHECK(a->nnotes == b->nnotes, ctx);
	CHECK(a->noverloaded == b->noverloaded, ctx);
	CHECK(a->ndrained == b->ndrained, ctx);
	for (int i = 0; i < a->nacts; i++) {
		const struct pol_action *x = &a->acts[i], *y = &b->acts[i];

		CHECKF(x->kind == y->kind && x->why == y->why &&
		    x->vm == y->vm && x->from == y->from && x->to == y->to &&
		    x->host == y->host, ctx, "action %d", i);
	}
	for (int i = 0; i < a->nnotes; i++) {
		const struct pol_note *x = &a->notes[i], *y = &b->notes[i];

		CHECKF(x->kind == y->kind && x->host == y->host &&
		    x->vm == y->vm, ctx, "note %d", i);
	}
}

/* ---- random fleets ----------------------------------------------------- */

static bool
chance(struct ebb_rand *r, int one_in)
{
	return ebb_rand_below(r, one_in) == 0;
}

static int
pick(struct ebb_rand *r, int n)
{
	return (int)ebb_rand_below(r, n);
}

static enum pol_host_state
random_state(struct ebb_rand *r)
{
	int x = pick(r, 100);

	if (x < 60)
		return POL_HOST_ON;
	if (x < 72)
		return POL_HOST_OFF;
	if (x < 78)
		return POL_HOST_UNKNOWN;
	if (x < 84)
		return POL_HOST_FAILED;
	if (x < 90)
		return POL_HOST_MAINTENANCE;
	if (x < 93)
		return POL_HOST_DRAINING;
	if (x < 95)
		return POL_HOST_EMPTY;
	if (x < 97)
		return POL_HOST_POWERING_OFF;
	return POL_HOST_POWERING_ON;
}

/*
 * 5-60 hosts of three kinds in random states, 0-8 VMs on each host that
 * is not OFF, 1-3 VMs nowhere; random demands and histories; some VMs
 * migrating out (listed as incoming on another host), some pinned, some
 * not measured yet (a reserve).
 */
static void
random_fleet(struct ebb_rand *r, struct pol_fleet *f)
{
	static const double vm_mips[] = { 500, 1000, 2000, 2500 };
	static const double vm_ram[] = { 613, 870, 1740 };
	int nh = 5 + pick(r, 56);

	pol_fleet_init(f);
	for (int i = 0; i < nh; i++) {
		int kind = pick(r, 3), h;

		h = kind == 0 ? host_new(f, 2, 1860, &g4) :
		    kind == 1 ? host_new(f, 2, 2660, &g5) :
		    host_new(f, 4, 2500, &big);
		f->hosts[h].ram_mb = kind == 2 ? 16384 : 4096;
		f->hosts[h].state = random_state(r);
		f->hosts[h].reserve = chance(r, 10);
		if (chance(r, 15))
			f->hosts[h].mig_mbs = 0;
		pol_host_realloc(f, h);
	}
	for (int h = 0; h < nh; h++) {
		int k;

		if (f->hosts[h].state == POL_HOST_OFF)
			continue;
		k = pick(r, 9);
		for (int j = 0; j < k; j++) {
			int pes = 1 + chance(r, 4);
			int v = vm_new(f, pes, vm_mips[pick(r, 4)], 0,
			    vm_ram[pick(r, 3)]);
			struct pol_vm *vm = &f->vms[v];
			double base = ebb_rand_double(r) * 0.6;

			vm->ram_use_mb = chance(r, 2) ? vm->ram_mb : 0;
			vm->bw_use = chance(r, 2) ? 100000 : 0;
			vm->req_mips = chance(r, 8) ? 0 :
			    ebb_rand_double(r) * 1.1 * vm->mips * pes;
			if (chance(r, 20))
				vm->reserve_mips = vm->mips * pes;
			vm->nhist = pick(r, POL_HIST_MAX + 1);
			for (int t = 0; t < vm->nhist; t++) {
				double u = base + (ebb_rand_double(r) - 0.5) *
				    0.5 + (chance(r, 10) ? 0.5 : 0);

				vm->hist[t] = chance(r, 12) ? 0 :
				    fmin(1, fmax(0, u));
			}
			vm->migrating = chance(r, 10);
			vm->pinned = chance(r, 20);
			place(f, h, v);
			if (vm->migrating) {
				int to = pick(r, nh);

				if (to != h && f->hosts[to].state ==
				    POL_HOST_ON)
					pol_host_add(f, to, v, true);
			}
		}
	}
	/* At least one, so that the fleet always has VMs (see above). */
	for (int j = 1 + pick(r, 3); j > 0; j--) {
		int v = vm_new(f, 1, 1000, 500, 870);

		f->vms[v].nhist = 3;
		f->vms[v].hist[0] = f->vms[v].hist[1] = f->vms[v].hist[2] = 0.5;
	}
	for (int h = 0; h < nh; h++) {
		struct pol_host *H = &f->hosts[h];

		if (H->state == POL_HOST_OFF || chance(r, 12))
			H->util = 0;
		else
			H->util = measured_util(f, h);
	}
}

static void
random_policy(struct ebb_rand *r, const struct pol_fleet *f,
    struct pol_policy *p, enum pol_detector d, enum pol_selection s,
    enum pol_host_order o, bool exclude)
{
	pol_policy_defaults(p);
	p->overload.detector = d;
	p->overload.threshold = 0.6 + 0.35 * ebb_rand_double(r);
	switch (d) {
	case POL_DET_IQR:
	case POL_DET_MAD:
		p->overload.safety = 0.5 + 2.5 * ebb_rand_double(r);
		break;
	case POL_DET_BAND:
		p->overload.safety = 1.0;
		break;
	default:
		p->overload.safety = 1.0 + 0.5 * ebb_rand_double(r);
		break;
	}
	p->overload.min_history = 1 + pick(r, 14);
	p->overload.window = 2 + pick(r, 11);
	p->overload.band_high = 0.7 + 0.25 * ebb_rand_double(r);
	p->overload.confidence = 2 * ebb_rand_double(r);
	p->selection.method = s;
	p->selection.seed = ebb_rand_next(r);
	p->placement.order = o;
	p->placement.max_util = chance(r, 3) ? 0.7 + 0.3 * ebb_rand_double(r) :
	    1.0;
	p->underload.enabled = !chance(r, 6);
	p->underload.max_util = chance(r, 2) ? 1.0 :
	    0.2 + 0.6 * ebb_rand_double(r);
	p->underload.exclude_targets = exclude;
	p->underload.max_hosts = chance(r, 3) ? 1 + pick(r, 3) : 0;
	p->power.switch_off_empty = !chance(r, 8);
	p->power.reserve_hosts = pick(r, 3);
	p->power.min_hosts_on = chance(r, 4) ? pick(r, f->nhosts + 1) : 0;
	p->power.wake_after_samples = chance(r, 3) ? 2 + pick(r, 3) : 1;
}

/* ---- applying a plan ----------------------------------------------------- */

static bool
unmanaged(enum pol_host_state s)
{
	return s == POL_HOST_UNKNOWN || s == POL_HOST_FAILED ||
	    s == POL_HOST_MAINTENANCE;
}

/* What the plan did, summed over all cases, to show they were exercised. */
struct tally {
	long	rounds;
	long	migrations;
	long	overload_moves;
	long	underload_moves;
	long	moved_twice;
	long	power_on;
	long	power_off;
	long	drain_failed;
	long	reserve_notes;
	long	min_notes;
	long	no_target;
	long	with_overload_check;
};

/*
 * The room a VM needs on a target, recomputed from the slots (what
 * pol_host_suitable and PABFD's cost promise): per-vCPU demand within a
 * PE, demand within the MIPS not yet requested (none when the requests
 * already exceed the host; a VM migrating in asks dst_share of its
 * capped demand), RAM and bandwidth within what the listed VMs leave, and
 * the host's load after placing within the placement cap.
 */
static void
check_room(const struct pol_policy *p, const struct pol_fleet *a, int to,
    int vm, const char *ctx)
{
	const struct pol_host *H = &a->hosts[to];
	const struct pol_vm *v = &a->vms[vm];
	double cap = pol_host_mips(H), required = 0, ram = 0, bw = 0;

	for (int i = 0; i < H->nslots; i++) {
		const struct pol_slot *s = &H->slots[i];
		const struct pol_vm *o = &a->vms[s->vm];
		double per = fmin(fmax(o->req_mips, o->reserve_mips) / o->pes,
		    H->pe_mips);

		required += per * o->pes * (s->incoming ? a->dst_share : 1);
		ram += o->ram_use_mb;
		bw += o->bw_use;
	}
	CHECKF(v->req_mips / v->pes <= H->pe_mips, ctx, "vm %d to %d", vm, to);
	CHECKF(v->req_mips <= fmax(0, cap - required) + 1e-6, ctx,
	    "vm %d (%.1f MIPS) to %d (%.1f of %.1f requested)", vm,
	    v->req_mips, to, required, cap);
	CHECKF(ram + v->ram_use_mb <= H->ram_mb + 1e-6, ctx, "vm %d to %d",
	    vm, to);
	CHECKF(bw + v->bw_use <= H->bw + 1e-6, ctx, "vm %d to %d", vm, to);
	CHECKF((H->load_mips + v->req_mips) / cap <=
	    fmin(1.0, p->placement.max_util) + 1e-12, ctx,
	    "vm %d to %d: load %.1f + %.1f of %.1f", vm, to, H->load_mips,
	    v->req_mips, cap);
}

/* Where a VM is listed, settled and incoming, over a whole fleet. */
struct listing {
	int	settled;
	int	incoming;
	int	where;		/* the host it is settled on, or -1 */
};

static struct listing *
listings(const struct pol_fleet *a)
{
	struct listing *l = ebb_calloc(EBB_MAX(a->nvms, 1), sizeof(*l));

	for (int v = 0; v < a->nvms; v++)
		l[v].where = -1;
	for (int h = 0; h < a->nhosts; h++)
		for (int i = 0; i < a->hosts[h].nslots; i++) {
			const struct pol_slot *s = &a->hosts[h].slots[i];

			if (s->incoming) {
				l[s->vm].incoming++;
			} else {
				l[s->vm].settled++;
				l[s->vm].where = h;
			}
		}
	return l;
}

static void
check_plan(const struct pol_policy *p, const struct pol_fleet *f,
    const struct pol_plan *pl, struct tally *t, const char *ctx)
{
	struct pol_fleet a;
	int nh = f->nhosts, on_before = 0, on_after = 0, nwoken = 0, noff = 0;
	unsigned char *woken = ebb_calloc(nh, 1), *offed = ebb_calloc(nh, 1);
	unsigned char *got = ebb_calloc(nh, 1), *lost = ebb_calloc(nh, 1);
	unsigned char *ov_target = ebb_calloc(nh, 1);
	int *moves = ebb_calloc(EBB_MAX(f->nvms, 1), sizeof(int));
	double *placed_req = ebb_calloc(nh, sizeof(double));
	struct listing *l0, *l1;

	pol_fleet_copy(&a, f);
	/* Hosts waking count as on: they will be. */
	for (int h = 0; h < nh; h++)
		if (f->hosts[h].state == POL_HOST_ON ||
		    f->hosts[h].state == POL_HOST_POWERING_ON)
			on_before++;

	for (int i = 0; i < pl->nacts; i++) {
		const struct pol_action *act = &pl->acts[i];

		switch (act->kind) {
		case POL_ACT_POWER_ON: {
			int h = act->host;

			CHECKF(h >= 0 && h < nh, ctx, "action %d", i);
			/* Only an OFF host is woken, once, and before use. */
			CHECKF(f->hosts[h].state == POL_HOST_OFF, ctx,
			    "power-on of host %d in state %s", h,
			    pol_host_state_name(f->hosts[h].state));
			CHECKF(!woken[h] && !offed[h], ctx, "host %d", h);
			CHECKF(a.hosts[h].nslots == 0, ctx, "host %d", h);
			CHECKF(act->why == POL_WHY_NEEDED, ctx, "host %d", h);
			woken[h] = 1;
			nwoken++;
			a.hosts[h].state = POL_HOST_ON;
			t->power_on++;
			break;
		}
		case POL_ACT_MIGRATE: {
			int vm = act->vm, to = act->to, cur;
			bool loaded;

			CHECKF(vm >= 0 && vm < f->nvms, ctx, "action %d", i);
			CHECKF(to >= 0 && to < nh, ctx, "action %d", i);
			CHECKF(!f->vms[vm].migrating, ctx,
			    "vm %d is migrating already", vm);
			CHECKF(!f->vms[vm].pinned, ctx, "vm %d is pinned", vm);
			CHECKF(act->from == f->vms[vm].host, ctx, "vm %d", vm);
			CHECKF(act->why == POL_WHY_OVERLOAD ||
			    act->why == POL_WHY_UNDERLOAD, ctx, "vm %d", vm);
			cur = a.vms[vm].host;
			CHECKF(cur >= 0, ctx, "vm %d is not placed", vm);
			/* Settled on one host, the one it says. */
			CHECKF(pol_host_find(&a.hosts[cur], vm) >= 0 &&
			    !a.hosts[cur].slots[pol_host_find(&a.hosts[cur],
			    vm)].incoming, ctx, "vm %d not on host %d", vm, cur);
			/* From and to a host the policy manages and that runs. */
			CHECKF(!unmanaged(f->hosts[act->from].state), ctx,
			    "vm %d from host %d in state %s", vm, act->from,
			    pol_host_state_name(f->hosts[act->from].state));
			CHECKF(a.hosts[cur].state == POL_HOST_ON, ctx,
			    "vm %d from host %d in state %s", vm, cur,
			    pol_host_state_name(a.hosts[cur].state));
			CHECKF(!unmanaged(f->hosts[to].state), ctx,
			    "vm %d to host %d in state %s", vm, to,
			    pol_host_state_name(f->hosts[to].state));
			/* On, or already waking: its executor waits. */
			CHECKF(a.hosts[to].state == POL_HOST_ON ||
			    a.hosts[to].state == POL_HOST_POWERING_ON, ctx,
			    "vm %d to host %d in state %s at action %d", vm, to,
			    pol_host_state_name(a.hosts[to].state), i);
			CHECKF(to != cur, ctx, "vm %d to its own host %d", vm, to);
			if (p->underload.exclude_targets)
				CHECKF(!(act->why == POL_WHY_UNDERLOAD &&
				    ov_target[cur]), ctx,
				    "vm %d drained off host %d, which received "
				    "a VM this round", vm, cur);

			pol_host_remove(&a, cur, vm);
			check_room(p, &a, to, vm, ctx);
			/*
			 * A host with load is not overloaded by the VM (an
			 * idle one is not asked, as in CloudSim).
			 */
			loaded = a.hosts[to].load_mips != 0;
			pol_host_add(&a, to, vm, false);
			a.vms[vm].host = to;
			if (loaded) {
				CHECKF(!pol_overloaded(p, &a, to), ctx,
				    "vm %d overloads host %d", vm, to);
				t->with_overload_check++;
			}
			if (act->why == POL_WHY_OVERLOAD) {
				ov_target[to] = 1;
				t->overload_moves++;
			} else {
				t->underload_moves++;
			}
			got[to] = 1;
			lost[cur] = 1;
			placed_req[to] += a.vms[vm].req_mips;
			if (got[cur])
				placed_req[cur] -= a.vms[vm].req_mips;
			if (++moves[vm] == 2)
				t->moved_twice++;
			t->migrations++;
			break;
		}
		case POL_ACT_POWER_OFF: {
			int h = act->host;

			CHECKF(h >= 0 && h < nh, ctx, "action %d", i);
			CHECKF(f->hosts[h].state == POL_HOST_ON, ctx,
			    "power-off of host %d in state %s", h,
			    pol_host_state_name(f->hosts[h].state));
			CHECKF(!f->hosts[h].reserve, ctx,
			    "power-off of reserve host %d", h);
			CHECKF(a.hosts[h].state == POL_HOST_ON && !offed[h], ctx,
			    "host %d", h);
			CHECKF(p->power.switch_off_empty, ctx, "host %d", h);
			CHECKF(act->why == POL_WHY_EMPTY, ctx, "host %d", h);
			a.hosts[h].state = POL_HOST_OFF;
			offed[h] = 1;
			noff++;
			t->power_off++;
			break;
		}
		default:
			fail_msg("%s: action %d of unknown kind %d", ctx, i,
			    act->kind);
		}
	}

	/* Every woken host received a VM. */
	for (int h = 0; h < nh; h++)
		CHECKF(!woken[h] || got[h], ctx, "host %d woken for nothing", h);
	/* A host switched off holds nothing once the plan is done. */
	for (int h = 0; h < nh; h++)
		CHECKF(!offed[h] || a.hosts[h].nslots == 0, ctx,
		    "host %d switched off with %d VMs", h, a.hosts[h].nslots);

	/*
	 * No VM lost or duplicated: a VM placed before is settled on exactly
	 * one host, the one it says; one migrating in keeps its incoming
	 * listing; an unplaced one stays unplaced.
	 */
	l0 = listings(f);
	l1 = listings(&a);
	for (int v = 0; v < f->nvms; v++) {
		CHECKF(l1[v].incoming == l0[v].incoming, ctx, "vm %d", v);
		if (f->vms[v].host < 0) {
			CHECKF(l1[v].settled == 0 && a.vms[v].host == -1, ctx,
			    "vm %d", v);
		} else {
			CHECKF(l1[v].settled == 1 &&
			    l1[v].where == a.vms[v].host, ctx,
			    "vm %d listed %d times", v, l1[v].settled);
		}
		if (moves[v] == 0)
			CHECKF(a.vms[v].host == f->vms[v].host, ctx, "vm %d",
			    v);
	}
	free(l0);
	free(l1);
	for (int h = 0; h < nh; h++)
		for (int i = 0; i < a.hosts[h].nslots; i++)
			for (int j = i + 1; j < a.hosts[h].nslots; j++)
				CHECKF(a.hosts[h].slots[i].vm !=
				    a.hosts[h].slots[j].vm, ctx, "host %d", h);

	/*
	 * The demand placed on a host by the plan, on top of what it had,
	 * fits it (for a host that only received VMs).
	 */
	for (int h = 0; h < nh; h++) {
		if (!got[h] || lost[h])
			continue;
		CHECKF(f->hosts[h].load_mips + placed_req[h] <=
		    pol_host_mips(&f->hosts[h]) *
		    fmin(1.0, p->placement.max_util) + 1e-6, ctx,
		    "host %d: %.1f + %.1f of %.1f", h, f->hosts[h].load_mips,
		    placed_req[h], pol_host_mips(&f->hosts[h]));
	}

	/* Each VM moves once when targets are not drained. */
	if (p->underload.exclude_targets)
		for (int v = 0; v < f->nvms; v++)
			CHECKF(moves[v] <= 1, ctx, "vm %d moved %d times", v,
			    moves[v]);

	/* Minimum hosts on: switching off never goes below it. */
	for (int h = 0; h < nh; h++)
		if (a.hosts[h].state == POL_HOST_ON ||
		    a.hosts[h].state == POL_HOST_POWERING_ON)
			on_after++;
	CHECK(on_after == on_before + nwoken - noff, ctx);
	if (noff > 0)
		CHECKF(on_after >= p->power.min_hosts_on, ctx,
		    "%d hosts on, minimum %d", on_after, p->power.min_hosts_on);

	/*
	 * Reserves: of the running, empty, non-reserve hosts, at least
	 * reserve_hosts stay on (when there are that many); a host flagged
	 * reserve always does (checked at its POWER_OFF above).
	 */
	if (p->power.switch_off_empty) {
		int empty = 0, kept = 0;

		for (int h = 0; h < nh; h++) {
			if (f->hosts[h].state != POL_HOST_ON || woken[h] ||
			    f->hosts[h].reserve || a.hosts[h].nslots != 0)
				continue;
			empty++;
			if (!offed[h])
				kept++;
		}
		CHECKF(kept >= EBB_MIN(p->power.reserve_hosts, empty), ctx,
		    "%d of %d empty hosts kept, reserve %d", kept, empty,
		    p->power.reserve_hosts);
	}

	/* Notes name real hosts and VMs; a VM with no target did not move. */
	for (int i = 0; i < pl->nnotes; i++) {
		const struct pol_note *n = &pl->notes[i];

		CHECKF(n->host >= 0 && n->host < nh, ctx, "note %d", i);
		CHECKF(n->vm >= -1 && n->vm < f->nvms, ctx, "note %d", i);
		switch (n->kind) {
		case POL_NOTE_NO_TARGET:
			CHECKF(n->vm >= 0 && moves[n->vm] == 0, ctx, "note %d",
			    i);
			t->no_target++;
			break;
		case POL_NOTE_DRAIN_FAILED:
			CHECKF(n->vm >= 0, ctx, "note %d", i);
			t->drain_failed++;
			break;
		case POL_NOTE_RESERVE:
			CHECKF(!offed[n->host] && a.hosts[n->host].nslots == 0,
			    ctx, "note %d", i);
			t->reserve_notes++;
			break;
		case POL_NOTE_MIN_HOSTS:
			CHECKF(!offed[n->host], ctx, "note %d", i);
			t->min_notes++;
			break;
		default:
			break;
		}
	}
	CHECK(pl->noverloaded >= 0 && pl->noverloaded <= nh, ctx);
	CHECK(pl->ndrained >= 0 && pl->ndrained <= nh, ctx);
	if (p->underload.max_hosts > 0)
		CHECK(pl->ndrained <= p->underload.max_hosts, ctx);
	if (!p->underload.enabled)
		CHECK(pl->ndrained == 0, ctx);
	t->rounds++;

	pol_fleet_free(&a);
	free(woken);
	free(offed);
	free(got);
	free(lost);
	free(ov_target);
	free(moves);
	free(placed_req);
}

/*
 * One policy on one fleet: plan, check the input is untouched, apply and
 * check the plan, and (if `twice`) plan again from the same seed.
 */
static void
random_case(struct ebb_rand *r, const struct pol_fleet *f,
    const struct pol_fleet *before, int fi, enum pol_detector d,
    enum pol_selection s, int variant, bool twice, struct tally *t)
{
	struct pol_policy p;
	struct pol_plan p1, p2;
	struct ebb_rand r1, r2;
	char ctx[160];
	uint64_t seed = ebb_rand_next(r);

	random_policy(r, f, &p, d, s,
	    variant & 1 ? POL_ORDER_EFFICIENCY : POL_ORDER_POWER, variant & 2);
	snprintf(ctx, sizeof(ctx), "fleet %d (%d hosts, %d VMs), %s/%s, %s, "
	    "exclude_targets %d", fi, f->nhosts, f->nvms, pol_detector_name(d),
	    pol_selection_name(s), variant & 1 ? "efficiency" : "power",
	    (variant & 2) != 0);

	pol_plan_init(&p1);
	ebb_rand_seed(&r1, seed);
	pol_plan_round(&p, f, &r1, &p1);
	/* The input is left as it was. */
	assert_fleet_equal(f, before);
	check_plan(&p, f, &p1, t, ctx);
	/* Same input, same seed: same plan. */
	if (twice) {
		pol_plan_init(&p2);
		ebb_rand_seed(&r2, seed);
		pol_plan_round(&p, f, &r2, &p2);
		assert_plan_equal(&p1, &p2, ctx);
		pol_plan_free(&p2);
	}
	pol_plan_free(&p1);
}

static void
test_random_fleets(void **state EBB_UNUSED)
{
	static const enum pol_detector dets[] = { POL_DET_THR, POL_DET_IQR,
	    POL_DET_MAD, POL_DET_LR, POL_DET_LRR, POL_DET_BAND };
	static const enum pol_selection sels[] = { POL_SEL_MMT, POL_SEL_MC,
	    POL_SEL_RS, POL_SEL_MU };
	struct ebb_rand r;
	struct tally t;

	memset(&t, 0, sizeof(t));
	ebb_rand_seed(&r, 20110303);
	for (int fi = 0; fi < 200; fi++) {
		struct pol_fleet f, before;

		random_fleet(&r, &f);
		pol_fleet_copy(&before, &f);
		for (size_t d = 0; d < EBB_NITEMS(dets); d++) {
			for (size_t s = 0; s < EBB_NITEMS(sels); s++) {
				/*
				 * Two complementary variants per combination,
				 * so that each meets both host orders and both
				 * exclude_targets settings, rotating across
				 * fleets; determinism is checked on the first
				 * (time enough).
				 */
				int v = (int)(fi + d + s) & 3;

				random_case(&r, &f, &before, fi, dets[d],
				    sels[s], v, true, &t);
				random_case(&r, &f, &before, fi, dets[d],
				    sels[s], v ^ 3, false, &t);
			}
		}
		pol_fleet_free(&before);
		pol_fleet_free(&f);
	}
	print_message("%ld rounds: %ld migrations (%ld overload, %ld "
	    "underload, %ld VMs moved twice, %ld checked for overload), %ld "
	    "power-on, %ld power-off, notes: %ld drain-failed, %ld "
	    "no-target, %ld reserve, %ld min-hosts\n", t.rounds,
	    t.migrations, t.overload_moves, t.underload_moves, t.moved_twice,
	    t.with_overload_check, t.power_on, t.power_off, t.drain_failed,
	    t.no_target, t.reserve_notes, t.min_notes);
	/* The fleets did exercise what is checked. */
	assert_int_equal(t.rounds, 200 * 24 * 2);
	assert_true(t.overload_moves > 100);
	assert_true(t.underload_moves > 100);
	assert_true(t.moved_twice > 0);
	assert_true(t.with_overload_check > 100);
	assert_true(t.power_on > 10);
	assert_true(t.power_off > 100);
	assert_true(t.drain_failed > 10);
	assert_true(t.no_target > 10);
	assert_true(t.reserve_notes > 10);
	assert_true(t.min_notes > 10);
}

/* ---- the placement index against the plain scan ------------------------ */

/*
 * G4's numbers again under another pointer, as the controller gives every
 * host its own copy of its curve; and a curve that is not monotonic.
 */
static const struct pol_power_curve g4_copy = {
	{ 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 }
};
static const struct pol_power_curve bumpy = {
	{ 120, 118, 125, 140, 138, 150, 150, 150, 170, 165, 200 }
};

/*
 * A fleet as agents would report it, built for ties: hosts of a few
 * kinds, demands in steps of 50 MIPS, a third of the hosts holding the
 * same VMs as an earlier host of their kind (so that they cost exactly
 * the same), a measured utilization equal to the committed load for most
 * (so that hosts on one straight piece of a curve cost the same up to
 * rounding, and rounding decides), hosts idle, off or in states placement
 * leaves alone, VMs migrating or pinned; `nfree` VMs not placed.  With
 * `kinds` > 3, hosts of further sizes and curves: past ROUND_KINDS kinds
 * of idle host and past the index's groups, where both fall back to
 * looking at every such host.
 */
static void
tie_fleet(struct ebb_rand *r, int nh, int kinds, int nfree,
    struct pol_fleet *f)
{
	static const double vm_mips[] = { 500, 1000, 2000, 2500 };
	static const double vm_ram[] = { 613, 870, 1740 };
	static struct pol_power_curve own[64];
	int *first = ebb_calloc(nh, sizeof(int)), *kind_of = ebb_calloc(nh,
	    sizeof(int));

	pol_fleet_init(f);
	for (int k = 0; k < (int)EBB_NITEMS(own); k++)
		for (int i = 0; i < 11; i++)
			own[k].w[i] = 90 + 3.5 * i + (k % 7) * (i % 3);
	for (int i = 0; i < nh; i++) {
		int kind = pick(r, kinds), h;

		switch (kind) {
		case 0:
			h = host_new(f, 2, 1860, chance(r, 2) ? &g4 : &g4_copy);
			break;
		case 1:
			h = host_new(f, 2, 2660, &g5);
			break;
		case 2:
			h = host_new(f, 4, 2500, chance(r, 8) ? &bumpy : &big);
			break;
		default:
			h = host_new(f, 2, 2000 + 10 * kind,
			    &own[kind % EBB_NITEMS(own)]);
			break;
		}
		kind_of[h] = kind;
		f->hosts[h].ram_mb = kind == 2 ? 32768 : 16384;
		f->hosts[h].bw = 1e6;
		f->hosts[h].mig_mbs = chance(r, 20) ? 0 : chance(r, 20) ? 5 :
		    62.5;
		f->hosts[h].state = chance(r, 5) ? random_state(r) :
		    POL_HOST_ON;
		f->hosts[h].reserve = chance(r, 30);
		first[h] = -1;
	}
	for (int h = 0; h < nh; h++) {
		struct pol_host *H = &f->hosts[h];
		int twin = -1, nv;

		if (H->state == POL_HOST_OFF)
			continue;
		/* An earlier host of its kind to copy, VM for VM. */
		if (chance(r, 3))
			for (int o = 0; o < h; o++)
				if (kind_of[o] == kind_of[h] && first[o] >= 0 &&
				    f->hosts[o].state == POL_HOST_ON) {
					twin = o;
					break;
				}
		nv = twin >= 0 ? f->hosts[twin].nslots : chance(r, 8) ? 0 :
		    pick(r, 15);
		for (int j = 0; j < nv; j++) {
			int v;
			struct pol_vm *vm;

			if (twin >= 0) {
				/* A copy: vm_new moves the VMs. */
				struct pol_vm o =
				    f->vms[f->hosts[twin].slots[j].vm];

				v = vm_new(f, o.pes, o.mips, o.req_mips,
				    o.ram_mb);
				vm = &f->vms[v];
				*vm = o;
				vm->id = 1000 + v;
				vm->host = -1;
			} else {
				int pes = 1 + chance(r, 6);
				double mips = vm_mips[pick(r, 4)];
				double u = ebb_rand_double(r) * 0.8;

				v = vm_new(f, pes, mips, 50.0 * pick(r,
				    (int)(mips * pes / 50) + 1),
				    vm_ram[pick(r, 3)]);
				vm = &f->vms[v];
				vm->ram_use_mb = chance(r, 5) ? 0 : vm->ram_mb;
				vm->bw_use = chance(r, 4) ? 100000 : 0;
				vm->nhist = chance(r, 10) ? pick(r, 12) :
				    POL_HIST_MAX;
				for (int t = vm->nhist - 1; t >= 0; t--) {
					u = fmin(1, fmax(0, u + 0.1 *
					    (ebb_rand_double(r) - 0.5)));
					vm->hist[t] = u;
				}
				vm->migrating = chance(r, 25);
				vm->pinned = chance(r, 30);
			}
			place(f, h, v);
		}
		if (nv > 0)
			first[h] = f->hosts[h].slots[0].vm;
	}
	for (int h = 0; h < nh; h++) {
		struct pol_host *H = &f->hosts[h];

		/* Mostly as measured; now and then a reading of its own. */
		H->util = H->state == POL_HOST_OFF ? 0 : chance(r, 6) ?
		    ebb_rand_double(r) : H->load_mips / pol_host_mips(H);
	}
	for (int j = 0; j < nfree; j++) {
		int v = vm_new(f, 1, vm_mips[pick(r, 4)], 0, vm_ram[pick(r,
		    3)]);
		struct pol_vm *vm = &f->vms[v];

		vm->req_mips = 50.0 * pick(r, (int)(vm->mips / 50) + 1);
		vm->ram_use_mb = vm->ram_mb;
		vm->nhist = pick(r, POL_HIST_MAX + 1);
		for (int t = 0; t < vm->nhist; t++)
			vm->hist[t] = 0.05 * pick(r, 21);
		if (chance(r, 10))
			vm->reserve_mips = vm->mips;
	}
	free(first);
	free(kind_of);
}

/*
 * PABFD's choice for one VM written from its definition: every ON or OFF
 * host in list order, the first of the least increase in draw among those
 * with room, under the cap, and (if it has load) not overloaded with the
 * VM.  No shortcut at all.
 */
static int
ref_find(const struct pol_policy *p, const struct pol_fleet *f, int vm)
{
	const struct pol_vm *v = &f->vms[vm];
	double best = DBL_MAX;
	int pick_h = -1;

	for (int h = 0; h < f->nhosts; h++) {
		const struct pol_host *H = &f->hosts[h];
		double after, pa, cost;

		if (H->state != POL_HOST_ON && H->state != POL_HOST_OFF &&
		    H->state != POL_HOST_POWERING_ON)
			continue;
		if (!pol_host_suitable(f, h, vm))
			continue;
		after = (H->load_mips + v->req_mips) / pol_host_mips(H);
		pa = pol_power_at(H->power, after);
		if (isnan(pa) || after > p->placement.max_util)
			continue;
		cost = p->placement.order == POL_ORDER_EFFICIENCY &&
		    H->nslots == 0 ? pa : pa - pol_power_at(H->power,
		    EBB_MIN(H->util, 1.0));
		if (!(cost < best))
			continue;
		if (H->load_mips != 0 && pol_overloaded_with(p, f, h, vm))
			continue;
		best = cost;
		pick_h = h;
	}
	return pick_h;
}

/*
 * The first placement of the free VMs, one at a time, by the index (with
 * every query checked against the scan) and by ref_find; the fleet is
 * left as the index placed them.  Returns the placements compared.
 */
static long
check_initial(const struct pol_policy *p, struct pol_fleet *f,
    const char *ctx)
{
	struct pol_ws ws;
	long n = 0;

	pol_ws_init(&ws);
	ws.find = POL_FIND_CHECK;
	for (int v = 0; v < f->nvms; v++) {
		int want, failed;

		if (f->vms[v].host >= 0 || pol_host_find(&f->hosts[0], v) >= 0)
			continue;
		want = ref_find(p, f, v);
		failed = pol_place_initial_ws(p, f, &v, 1, &ws);
		CHECKF(failed == (want < 0) && f->vms[v].host == want, ctx,
		    "vm %d: index %d, reference %d", v, f->vms[v].host, want);
		n++;
	}
	CHECKF(ws.find_mismatches == 0, ctx, "%ld placements differ",
	    ws.find_mismatches);
	pol_ws_free(&ws);
	return n;
}

/* A workspace for each way of finding a host, kept across rounds. */
static const enum pol_find find_ways[] = { POL_FIND_SCAN, POL_FIND_INDEX,
    POL_FIND_CHECK, POL_FIND_AUTO };

static void
ways_init(struct pol_ws *ws)
{
	for (size_t i = 0; i < EBB_NITEMS(find_ways); i++) {
		pol_ws_init(&ws[i]);
		ws[i].find = find_ways[i];
	}
}

static void
ways_free(struct pol_ws *ws)
{
	for (size_t i = 0; i < EBB_NITEMS(find_ways); i++)
		pol_ws_free(&ws[i]);
}

/*
 * Whole rounds by the scan, by the index, by both with every query
 * compared, and as a caller gets them: the same plan, to the action.
 * Returns the moves planned.
 */
static long
check_round(const struct pol_policy *p, const struct pol_fleet *f,
    struct pol_ws *ws, const char *ctx)
{
	struct pol_plan pl[EBB_NITEMS(find_ways)];
	long moves = 0;

	for (size_t i = 0; i < EBB_NITEMS(find_ways); i++) {
		struct ebb_rand rng;

		ebb_rand_seed(&rng, p->selection.seed);
		pol_plan_init(&pl[i]);
		ws[i].find_mismatches = 0;
		pol_plan_round_ws(p, f, &rng, &ws[i], &pl[i]);
		CHECKF(ws[i].find_mismatches == 0, ctx,
		    "%ld placements differ", ws[i].find_mismatches);
	}
	for (size_t i = 1; i < EBB_NITEMS(find_ways); i++)
		assert_plan_equal(&pl[0], &pl[i], ctx);
	for (int i = 0; i < pl[0].nacts; i++)
		moves += pl[0].acts[i].kind == POL_ACT_MIGRATE;
	for (size_t i = 0; i < EBB_NITEMS(find_ways); i++)
		pol_plan_free(&pl[i]);
	return moves;
}

static void
test_index_matches_scan(void **state EBB_UNUSED)
{
	static const enum pol_detector dets[] = { POL_DET_THR, POL_DET_IQR,
	    POL_DET_MAD, POL_DET_LR, POL_DET_LRR, POL_DET_BAND };
	struct pol_ws ws[EBB_NITEMS(find_ways)];
	struct ebb_rand r;
	long moves = 0, initial = 0;

	ways_init(ws);
	ebb_rand_seed(&r, 20110322);
	for (int fi = 0; fi < 16; fi++) {
		/* Mostly a few hundred hosts; some past every limit. */
		int nh = fi % 8 == 7 ? 700 : 30 + pick(&r, 300);
		int kinds = fi % 6 == 5 ? 40 : 3;
		struct pol_fleet f;
		char ctx[160];

		tie_fleet(&r, nh, kinds, 40, &f);
		for (size_t d = 0; d < EBB_NITEMS(dets); d++) {
			for (int o = 0; o < 2; o++) {
				struct pol_policy p;

				/*
				 * IQR and MAD sort a history for every host
				 * they are asked about: slow, and the index
				 * has no shortcut for them.  Small fleets.
				 */
				if ((dets[d] == POL_DET_IQR ||
				    dets[d] == POL_DET_MAD) &&
				    (nh > 150 || o == 1))
					continue;
				if (dets[d] == POL_DET_LRR && (fi + o) % 4)
					continue;

				random_policy(&r, &f, &p, dets[d],
				    (enum pol_selection)pick(&r, 4),
				    o ? POL_ORDER_EFFICIENCY :
				    POL_ORDER_POWER, chance(&r, 2));
				/* The reference policies' knobs, mostly. */
				if (chance(&r, 2)) {
					p.overload.safety = dets[d] ==
					    POL_DET_BAND ? 1.0 : 1.2;
					p.overload.window = 10;
					p.placement.max_util = 1.0;
				}
				snprintf(ctx, sizeof(ctx), "tie fleet %d (%d "
				    "hosts, %d kinds), %s, %s", fi, nh, kinds,
				    pol_detector_name(dets[d]),
				    o ? "efficiency" : "power");
				moves += check_round(&p, &f, ws, ctx);
			}
		}
		{
			struct pol_policy p;

			random_policy(&r, &f, &p, dets[fi % EBB_NITEMS(dets)],
			    POL_SEL_MMT, fi & 1 ? POL_ORDER_EFFICIENCY :
			    POL_ORDER_POWER, false);
			snprintf(ctx, sizeof(ctx), "tie fleet %d, first "
			    "placement", fi);
			initial += check_initial(&p, &f, ctx);
		}
		pol_fleet_free(&f);
	}
	ways_free(ws);
	print_message("index against scan: %ld moves planned, %ld first "
	    "placements\n", moves, initial);
	assert_true(moves > 10000);
	assert_true(initial > 500);
}

/*
 * The random fleets of test_random_fleets, every query checked: small
 * fleets in every state, with VMs migrating in.
 */
static void
test_index_matches_scan_small(void **state EBB_UNUSED)
{
	static const enum pol_detector dets[] = { POL_DET_THR, POL_DET_IQR,
	    POL_DET_MAD, POL_DET_LR, POL_DET_LRR, POL_DET_BAND };
	struct pol_ws ws[EBB_NITEMS(find_ways)];
	struct ebb_rand r;

	ways_init(ws);
	ebb_rand_seed(&r, 20110303);
	for (int fi = 0; fi < 100; fi++) {
		struct pol_fleet f;
		char ctx[160];

		random_fleet(&r, &f);
		for (size_t d = 0; d < EBB_NITEMS(dets); d++) {
			struct pol_policy p;

			random_policy(&r, &f, &p, dets[d], POL_SEL_MMT,
			    fi & 1 ? POL_ORDER_EFFICIENCY : POL_ORDER_POWER,
			    fi & 2);
			snprintf(ctx, sizeof(ctx), "fleet %d, %s", fi,
			    pol_detector_name(dets[d]));
			check_round(&p, &f, ws, ctx);
		}
		pol_fleet_free(&f);
	}
	ways_free(ws);
}

/*
 * The detector's kept view of a host (what a round asks, with its shortcut
 * for the regressions) against pol_overloaded and pol_overloaded_with,
 * which sum everything afresh: on every host of random fleets, with VMs
 * appended one by one, and with the policy's limit set on the very edge of
 * a host's forecast, found by bisection, where the shortcut must hand over
 * to the regression.
 */
static bool
det_kept(const struct pol_policy *p, const struct pol_fleet *f, int h,
    int vm)
{
	struct pol_det_host c;
	struct pol_det_vm x;

	pol_det_host_fill(p, f, h, &c);
	if (vm < 0)
		return pol_overloaded_det(p, f, h, &c, NULL);
	pol_det_vm_fill(p, f, vm, &x);
	return pol_overloaded_det(p, f, h, &c, &x);
}

static bool
det_fresh(const struct pol_policy *p, const struct pol_fleet *f, int h,
    int vm)
{
	return vm < 0 ? pol_overloaded(p, f, h) :
	    pol_overloaded_with(p, f, h, vm);
}

/*
 * The value of *knob (a limit of p) in [lo, hi] where the detector's
 * answer for host h turns, to the last bit; NAN when it does not.
 */
static double
det_edge(const struct pol_policy *p, double *knob, const struct pol_fleet *f,
    int h, int vm, double lo, double hi)
{
	bool at_lo;

	*knob = lo;
	at_lo = det_fresh(p, f, h, vm);
	*knob = hi;
	if (det_fresh(p, f, h, vm) == at_lo)
		return NAN;
	for (;;) {
		double mid = lo + (hi - lo) / 2;

		if (!(mid > lo && mid < hi))
			return lo;
		*knob = mid;
		if (det_fresh(p, f, h, vm) == at_lo)
			lo = mid;
		else
			hi = mid;
	}
}

/*
 * Host h, with a VM and as it is, then as VMs are appended to it (each
 * taken off again); returns the questions asked.
 */
static long
det_check_host(struct ebb_rand *r, const struct pol_policy *p,
    struct pol_fleet *f, int h, const char *ctx)
{
	int vm = pick(r, f->nvms);
	struct pol_det_host c;
	long asked = 2;

	CHECKF(det_kept(p, f, h, -1) == pol_overloaded(p, f, h), ctx,
	    "host %d", h);
	CHECKF(det_kept(p, f, h, vm) == pol_overloaded_with(p, f, h, vm), ctx,
	    "host %d, vm %d", h, vm);
	pol_det_host_fill(p, f, h, &c);
	for (int j = 0; j < 3; j++) {
		int add = pick(r, f->nvms);
		struct pol_det_vm x;

		if (pol_host_find(&f->hosts[h], add) >= 0)
			continue;
		pol_det_vm_fill(p, f, vm, &x);
		CHECKF(pol_overloaded_det(p, f, h, &c, &x) ==
		    pol_overloaded_with(p, f, h, vm), ctx, "host %d, vm %d", h,
		    vm);
		pol_host_add(f, h, add, false);
		pol_det_host_add(p, f, h, add, &c);
		CHECKF(pol_overloaded_det(p, f, h, &c, NULL) ==
		    pol_overloaded(p, f, h), ctx, "host %d after vm %d", h,
		    add);
		pol_host_remove(f, h, add);
		pol_det_host_fill(p, f, h, &c);
		asked += 2;
	}
	return asked;
}

/*
 * Host h with the detector's limit on the edge of its forecast, and a bit
 * or two either side; returns the questions asked.
 */
static long
det_check_edge(struct ebb_rand *r, const struct pol_policy *p0,
    const struct pol_fleet *f, int h, const char *ctx)
{
	struct pol_policy p = *p0;
	int vm = chance(r, 2) ? -1 : pick(r, f->nvms);
	enum pol_detector d = p.overload.detector;
	double *knob = d == POL_DET_BAND ? &p.overload.band_high :
	    d == POL_DET_THR ? &p.overload.threshold : &p.overload.safety;
	double edge = det_edge(&p, knob, f, h, vm, 0.01,
	    d == POL_DET_LR || d == POL_DET_LRR ? 10 : 1);

	if (isnan(edge))
		return 0;
	for (int k = -2; k <= 2; k++) {
		*knob = edge;
		for (int i = 0; i < abs(k); i++)
			*knob = nextafter(*knob, k < 0 ? 0 : INFINITY);
		CHECKF(det_kept(&p, f, h, vm) == det_fresh(&p, f, h, vm), ctx,
		    "host %d, vm %d, on the edge %+d", h, vm, k);
	}
	return 5;
}

static void
test_det_kept(void **state EBB_UNUSED)
{
	static const enum pol_detector dets[] = { POL_DET_THR, POL_DET_IQR,
	    POL_DET_MAD, POL_DET_LR, POL_DET_LRR, POL_DET_BAND };
	struct ebb_rand r;
	long asked = 0, edges = 0;

	ebb_rand_seed(&r, 20110306);
	for (int fi = 0; fi < 30; fi++) {
		struct pol_fleet f;
		char ctx[160];

		tie_fleet(&r, 20 + pick(&r, 40), 3, 10, &f);
		for (size_t d = 0; d < EBB_NITEMS(dets); d++) {
			struct pol_policy p;

			random_policy(&r, &f, &p, dets[d], POL_SEL_MMT,
			    POL_ORDER_POWER, false);
			snprintf(ctx, sizeof(ctx), "fleet %d, %s", fi,
			    pol_detector_name(dets[d]));
			for (int h = 0; h < f.nhosts; h++)
				asked += det_check_host(&r, &p, &f, h, ctx);
			for (int h = 0; h < f.nhosts; h++)
				edges += det_check_edge(&r, &p, &f, h, ctx);
		}
		pol_fleet_free(&f);
	}
	print_message("kept detector: %ld questions, %ld on an edge\n",
	    asked, edges);
	assert_true(edges > 1000);
}

/* ---- scenarios ------------------------------------------------------------- */

static void
thr_policy(struct pol_policy *p)
{
	pol_policy_defaults(p);
	p->overload.detector = POL_DET_THR;
	p->overload.threshold = 0.8;
	p->selection.method = POL_SEL_MMT;
}

static void
plan(const struct pol_policy *p, const struct pol_fleet *f,
    struct pol_plan *pl)
{
	struct ebb_rand r;
	struct pol_fleet before;
	struct tally t;

	memset(&t, 0, sizeof(t));
	pol_fleet_copy(&before, f);
	ebb_rand_seed(&r, 1);
	pol_plan_init(pl);
	pol_plan_round(p, f, &r, pl);
	assert_fleet_equal(f, &before);
	check_plan(p, f, pl, &t, "scenario");
	pol_fleet_free(&before);
}

static void
assert_act(const struct pol_plan *pl, int i, enum pol_action_kind kind,
    int vm, int from, int to, int host)
{
	assert_true(i < pl->nacts);
	assert_int_equal(pl->acts[i].kind, kind);
	if (kind == POL_ACT_MIGRATE) {
		assert_int_equal(pl->acts[i].vm, vm);
		assert_int_equal(pl->acts[i].from, from);
		assert_int_equal(pl->acts[i].to, to);
	} else {
		assert_int_equal(pl->acts[i].host, host);
	}
}

static bool
has_note(const struct pol_plan *pl, enum pol_note_kind k, int host, int vm)
{
	for (int i = 0; i < pl->nnotes; i++)
		if (pl->notes[i].kind == k && pl->notes[i].host == host &&
		    pl->notes[i].vm == vm)
			return true;
	return false;
}

static void
set_utils(struct pol_fleet *f)
{
	for (int h = 0; h < f->nhosts; h++)
		f->hosts[h].util = f->hosts[h].state == POL_HOST_OFF ? 0 :
		    measured_util(f, h);
}

/*
 * Three 2 x 1000 MIPS hosts.  h0 holds A (2000 MB) and B (1000 MB), 900
 * MIPS each: 0.9 > 0.8.  MMT takes B (less RAM); h0 is left at 0.45.
 * B costs on h1 (line 100-200 W): P(0.7) - P(0.25) = 170 - 125 = 45 W;
 * on h2 (line 100-300 W): 240 - 150 = 90 W.  h1 it is, and with B it is
 * at 0.7, not overloaded.
 */
static void
relief_fleet(struct pol_fleet *f, int *a, int *b)
{
	int h0, h1, h2;

	pol_fleet_init(f);
	h0 = host_new(f, 2, 1000, &lin200);
	h1 = host_new(f, 2, 1000, &lin200);
	h2 = host_new(f, 2, 1000, &lin300);
	*a = vm_new(f, 1, 1000, 900, 2000);
	*b = vm_new(f, 1, 1000, 900, 1000);
	place(f, h0, *a);
	place(f, h0, *b);
	place(f, h1, vm_new(f, 1, 1000, 500, 1000));
	place(f, h2, vm_new(f, 1, 1000, 500, 1000));
	set_utils(f);
}

static void
test_relieve_to_cheapest(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	struct pol_plan pl;
	int a, b;

	thr_policy(&p);
	p.underload.enabled = false;
	relief_fleet(&f, &a, &b);
	plan(&p, &f, &pl);
	assert_int_equal(pl.noverloaded, 1);
	assert_int_equal(pl.nacts, 1);
	assert_act(&pl, 0, POL_ACT_MIGRATE, b, 0, 1, -1);
	assert_int_equal(pl.acts[0].why, POL_WHY_OVERLOAD);
	pol_plan_free(&pl);

	/*
	 * B needs 5000 MB of RAM on its host: h1 has 4096, h2 8192: h2,
	 * though it costs more.
	 */
	f.vms[b].ram_use_mb = 5000;
	f.hosts[1].ram_mb = 4096;
	pol_host_realloc(&f, 1);
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 1);
	assert_act(&pl, 0, POL_ACT_MIGRATE, b, 0, 2, -1);
	pol_plan_free(&pl);
	f.vms[b].ram_use_mb = 0;
	pol_host_realloc(&f, 0);

	/*
	 * h1 at 0.45 would reach 0.9 > 0.8 with B: skipped as overloaded
	 * after placing; h2 then.
	 */
	f.vms[f.hosts[1].slots[0].vm].req_mips = 900;
	pol_host_realloc(&f, 1);
	set_utils(&f);
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 1);
	assert_act(&pl, 0, POL_ACT_MIGRATE, b, 0, 2, -1);
	pol_plan_free(&pl);
	pol_fleet_free(&f);
}

/*
 * An OFF host with a nearly flat curve (100-120 W) is the cheapest for B:
 * P(0.45) - P(0) = 109 - 100 = 9 W against h1's 45 W.  The plan wakes it
 * before the move.
 */
static void
test_wake_off_host(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	struct pol_plan pl;
	int a, b, h3;

	thr_policy(&p);
	p.underload.enabled = false;
	relief_fleet(&f, &a, &b);
	h3 = host_new(&f, 2, 1000, &lin120);
	f.hosts[h3].state = POL_HOST_OFF;
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 2);
	assert_act(&pl, 0, POL_ACT_POWER_ON, -1, -1, -1, h3);
	assert_int_equal(pl.acts[0].why, POL_WHY_NEEDED);
	assert_act(&pl, 1, POL_ACT_MIGRATE, b, 0, h3, -1);
	pol_plan_free(&pl);

	/* In MAINTENANCE (or any state but ON and OFF) it is left alone. */
	f.hosts[h3].state = POL_HOST_MAINTENANCE;
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 1);
	assert_act(&pl, 0, POL_ACT_MIGRATE, b, 0, 1, -1);
	pol_plan_free(&pl);
	pol_fleet_free(&f);
}

/* Sets a VM's history, newest first. */
static void
hist_set(struct pol_fleet *f, int vm, int n, const double *h)
{
	f->vms[vm].nhist = n;
	memcpy(f->vms[vm].hist, h, (size_t)n * sizeof(*h));
}

/*
 * power.wake_after_samples: test_wake_off_host's fleet, h0's overload a
 * spike (its VMs at 0.5, 0.5, then 0.9).  At 1 the spike wakes h3 as
 * before; at 3 it is young: B goes to a running host with room, and when
 * none has room nothing is woken and the note says why.  A history that
 * has been over for 3 samples, or a sustained overload elsewhere that
 * wakes h3 anyway, lets it be used; no other host is woken for the young.
 */
static void
test_wake_after_samples(void **state EBB_UNUSED)
{
	static const double spike[] = { 0.9, 0.5, 0.5 }, held[] = { 0.9, 0.9,
	    0.9 };
	struct pol_policy p;
	struct pol_fleet f;
	struct pol_plan pl;
	int a, b, c, d, h3, h4, h5;

	thr_policy(&p);
	p.underload.enabled = false;
	relief_fleet(&f, &a, &b);
	h3 = host_new(&f, 2, 1000, &lin120);
	f.hosts[h3].state = POL_HOST_OFF;
	hist_set(&f, a, 3, spike);
	hist_set(&f, b, 3, spike);
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 2);
	assert_act(&pl, 0, POL_ACT_POWER_ON, -1, -1, -1, h3);
	assert_act(&pl, 1, POL_ACT_MIGRATE, b, 0, h3, -1);
	pol_plan_free(&pl);

	/* Young: the cheapest running host instead (h1, as without h3). */
	p.power.wake_after_samples = 3;
	plan(&p, &f, &pl);
	assert_int_equal(pl.noverloaded, 1);
	assert_int_equal(pl.nacts, 1);
	assert_act(&pl, 0, POL_ACT_MIGRATE, b, 0, 1, -1);
	pol_plan_free(&pl);

	/* No running host has room (each at 0.45 + B's 0.45 > 0.8). */
	f.vms[f.hosts[1].slots[0].vm].req_mips = 900;
	f.vms[f.hosts[2].slots[0].vm].req_mips = 900;
	pol_host_realloc(&f, 1);
	pol_host_realloc(&f, 2);
	set_utils(&f);
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 0);
	assert_int_equal(pl.nnotes, 1);
	assert_int_equal(pl.notes[0].kind, POL_NOTE_WAKE_DEFERRED);
	assert_int_equal(pl.notes[0].host, 0);
	assert_int_equal(pl.notes[0].vm, b);
	assert_string_equal(pol_note_name(pl.notes[0].kind), "wake-deferred");
	pol_plan_free(&pl);

	/* Too short a history to look 3 samples back: still young. */
	hist_set(&f, a, 2, held);
	hist_set(&f, b, 2, held);
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 0);
	assert_int_equal(pl.notes[0].kind, POL_NOTE_WAKE_DEFERRED);
	pol_plan_free(&pl);

	/* Over at each of the last 3 samples: sustained, h3 is woken. */
	hist_set(&f, a, 3, held);
	hist_set(&f, b, 3, held);
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 2);
	assert_act(&pl, 0, POL_ACT_POWER_ON, -1, -1, -1, h3);
	assert_act(&pl, 1, POL_ACT_MIGRATE, b, 0, h3, -1);
	pol_plan_free(&pl);

	/*
	 * h4 overloaded too, but young; h3 (now 4 cores) is woken for h0's
	 * B and takes h4's D as well; h5, also off, is not woken for D.
	 */
	f.hosts[h3].pes = 4;
	pol_host_realloc(&f, h3);
	h4 = host_new(&f, 2, 1000, &lin200);
	c = vm_new(&f, 1, 1000, 900, 2000);
	d = vm_new(&f, 1, 1000, 900, 1000);
	place(&f, h4, c);
	place(&f, h4, d);
	hist_set(&f, c, 3, spike);
	hist_set(&f, d, 3, spike);
	h5 = host_new(&f, 2, 1000, &lin120);
	f.hosts[h5].state = POL_HOST_OFF;
	set_utils(&f);
	plan(&p, &f, &pl);
	assert_int_equal(pl.noverloaded, 2);
	assert_int_equal(pl.nacts, 3);
	assert_act(&pl, 0, POL_ACT_POWER_ON, -1, -1, -1, h3);
	assert_act(&pl, 1, POL_ACT_MIGRATE, b, 0, h3, -1);
	assert_act(&pl, 2, POL_ACT_MIGRATE, d, h4, h3, -1);
	pol_plan_free(&pl);

	/* Both young: nothing woken, a note for each. */
	hist_set(&f, a, 3, spike);
	hist_set(&f, b, 3, spike);
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 0);
	assert_int_equal(pl.nnotes, 2);
	assert_int_equal(pl.notes[0].kind, POL_NOTE_WAKE_DEFERRED);
	assert_int_equal(pl.notes[1].kind, POL_NOTE_WAKE_DEFERRED);
	pol_plan_free(&pl);
	pol_fleet_free(&f);
}

/*
 * h0 (util 0.2) holds V0 (300 MIPS, 500 MB) and V1 (100 MIPS, 3000 MB);
 * h1 (util 0.5, above underload.max_util 0.4, so never drained) has
 * 2048 MB of RAM.  Draining h0 places V0 first (more demand) on h1, then
 * V1 fits nowhere: nothing moves, and the note names V1.
 */
static void
test_drain_all_or_nothing(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	struct pol_plan pl;
	int h0, h1, v0, v1;

	thr_policy(&p);
	p.underload.max_util = 0.4;
	pol_fleet_init(&f);
	h0 = host_new(&f, 2, 1000, &lin200);
	h1 = host_new(&f, 2, 1000, &lin200);
	f.hosts[h1].ram_mb = 2048;
	v0 = vm_new(&f, 1, 1000, 300, 500);
	v1 = vm_new(&f, 1, 1000, 100, 3000);
	f.vms[v0].ram_use_mb = 500;
	f.vms[v1].ram_use_mb = 3000;
	place(&f, h0, v0);
	place(&f, h0, v1);
	place(&f, h1, vm_new(&f, 1, 1000, 1000, 1000));
	set_utils(&f);
	assert_true(f.hosts[h0].util == 0.2 && f.hosts[h1].util == 0.5);

	plan(&p, &f, &pl);
	assert_int_equal(pl.noverloaded, 0);
	assert_int_equal(pl.ndrained, 0);
	for (int i = 0; i < pl.nacts; i++)
		assert_int_not_equal(pl.acts[i].kind, POL_ACT_MIGRATE);
	assert_true(has_note(&pl, POL_NOTE_DRAIN_FAILED, h0, v1));
	pol_plan_free(&pl);

	/* With 1000 MB, V1 fits: both go, and h0, empty, is switched off. */
	f.vms[v1].ram_use_mb = 1000;
	pol_host_realloc(&f, h0);
	plan(&p, &f, &pl);
	assert_int_equal(pl.ndrained, 1);
	assert_int_equal(pl.nacts, 3);
	assert_act(&pl, 0, POL_ACT_MIGRATE, v0, h0, h1, -1);
	assert_act(&pl, 1, POL_ACT_MIGRATE, v1, h0, h1, -1);
	assert_int_equal(pl.acts[0].why, POL_WHY_UNDERLOAD);
	assert_act(&pl, 2, POL_ACT_POWER_OFF, -1, -1, -1, h0);
	assert_int_equal(pl.acts[2].why, POL_WHY_EMPTY);
	pol_plan_free(&pl);

	/* A pinned VM keeps the host: a note, no move. */
	f.vms[v1].pinned = true;
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 0);
	assert_true(has_note(&pl, POL_NOTE_PINNED, h0, -1));
	pol_plan_free(&pl);
	pol_fleet_free(&f);
}

/*
 * h0 runs a VM; h1, h2 (flagged reserve) and h3 are on and empty; h4 is
 * off, h5 in maintenance, h6 unknown, all empty.
 */
static void
test_switch_off_and_reserve(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	struct pol_plan pl;

	thr_policy(&p);
	p.underload.enabled = false;
	pol_fleet_init(&f);
	for (int i = 0; i < 7; i++)
		host_new(&f, 2, 1000, &lin200);
	place(&f, 0, vm_new(&f, 1, 1000, 1000, 1000));
	f.hosts[2].reserve = true;
	f.hosts[4].state = POL_HOST_OFF;
	f.hosts[5].state = POL_HOST_MAINTENANCE;
	f.hosts[6].state = POL_HOST_UNKNOWN;
	set_utils(&f);

	/* No reserve asked: h1 and h3 go; the flagged h2 stays, noted. */
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 2);
	assert_act(&pl, 0, POL_ACT_POWER_OFF, -1, -1, -1, 1);
	assert_act(&pl, 1, POL_ACT_POWER_OFF, -1, -1, -1, 3);
	assert_true(has_note(&pl, POL_NOTE_RESERVE, 2, -1));
	pol_plan_free(&pl);

	/* One reserve host: the first empty one, h1, stays too. */
	p.power.reserve_hosts = 1;
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 1);
	assert_act(&pl, 0, POL_ACT_POWER_OFF, -1, -1, -1, 3);
	assert_true(has_note(&pl, POL_NOTE_RESERVE, 1, -1));
	assert_true(has_note(&pl, POL_NOTE_RESERVE, 2, -1));
	pol_plan_free(&pl);

	/* At least 3 on (4 are): h1 goes, h3 stays for the minimum. */
	p.power.reserve_hosts = 0;
	p.power.min_hosts_on = 3;
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 1);
	assert_act(&pl, 0, POL_ACT_POWER_OFF, -1, -1, -1, 1);
	assert_true(has_note(&pl, POL_NOTE_MIN_HOSTS, 3, -1));
	pol_plan_free(&pl);

	/* Not switching off at all. */
	p.power.min_hosts_on = 0;
	p.power.switch_off_empty = false;
	plan(&p, &f, &pl);
	assert_int_equal(pl.nacts, 0);
	pol_plan_free(&pl);
	pol_fleet_free(&f);
}

/*
 * An overloaded host whose VMs fit nowhere: the VM stays, the host stays
 * overloaded, and a note says so.
 */
static void
test_no_target(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	struct pol_plan pl;
	int h0, h1, v;

	thr_policy(&p);
	p.underload.enabled = false;
	pol_fleet_init(&f);
	h0 = host_new(&f, 2, 1000, &lin200);
	h1 = host_new(&f, 1, 500, &lin200);	/* too small a PE for v */
	v = vm_new(&f, 1, 1000, 1000, 1000);
	place(&f, h0, v);
	place(&f, h0, vm_new(&f, 1, 1000, 1000, 1000));
	f.vms[f.hosts[h0].slots[1].vm].pinned = true;
	place(&f, h1, vm_new(&f, 1, 500, 100, 1000));
	set_utils(&f);
	plan(&p, &f, &pl);
	assert_int_equal(pl.noverloaded, 1);
	assert_int_equal(pl.nacts, 0);
	assert_true(has_note(&pl, POL_NOTE_NO_TARGET, h0, v));
	pol_plan_free(&pl);
	pol_fleet_free(&f);
}

/*
 * h0: 2 x 1000 MIPS on a 100-200 W line; h1: 2 x 2000 on 100-250 W.  Both
 * idle, measured at P(0) = 100 W.  V0 (1000): on h0 P(0.5) - 100 = 50,
 * on h1 P(0.25) - 100 = 37.5: h1.  V1 (1000): on h0 50, on h1 P(0.5) -
 * 100 = 75: h0.  V2 wants 5000 MIPS on one vCPU, more than any PE: none.
 */
static void
test_place_initial(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	int h0, h1, v0, v1, v2, order[3], failed;

	pol_policy_defaults(&p);
	pol_fleet_init(&f);
	h0 = host_new(&f, 2, 1000, &lin200);
	h1 = host_new(&f, 2, 2000, &lin250);
	v0 = vm_new(&f, 1, 1000, 1000, 1000);
	v1 = vm_new(&f, 1, 1000, 1000, 1000);
	v2 = vm_new(&f, 1, 5000, 5000, 1000);
	order[0] = v0, order[1] = v1, order[2] = v2;
	failed = pol_place_initial(&p, &f, order, 3);
	assert_int_equal(failed, 1);
	assert_int_equal(f.vms[v0].host, h1);
	assert_int_equal(f.vms[v1].host, h0);
	assert_int_equal(f.vms[v2].host, -1);
	assert_int_equal(f.hosts[h0].nslots, 1);
	assert_int_equal(f.hosts[h0].slots[0].vm, v1);
	assert_int_equal(f.hosts[h1].nslots, 1);
	assert_int_equal(f.hosts[h1].slots[0].vm, v0);
	assert_true(f.hosts[h0].load_mips == 1000);
	assert_true(f.hosts[h1].load_mips == 1000);
	pol_fleet_free(&f);

	/*
	 * Identical idle hosts: the first wins the tie, and the VMs, all
	 * placed, pack by least power increase; nothing lands on a host in
	 * a state other than ON or OFF.
	 */
	pol_fleet_init(&f);
	for (int i = 0; i < 4; i++)
		host_new(&f, 2, 1000, &lin200);
	f.hosts[0].state = POL_HOST_FAILED;
	for (int i = 0; i < 3; i++)
		order[i] = vm_new(&f, 1, 1000, 400, 1000);
	failed = pol_place_initial(&p, &f, order, 3);
	assert_int_equal(failed, 0);
	assert_int_equal(f.hosts[0].nslots, 0);
	for (int i = 0; i < 3; i++)
		assert_true(f.vms[order[i]].host >= 1);
	/*
	 * Every host is measured idle (100 W).  The first VM goes to h1, the
	 * first of the identical idle hosts (P(0.2) - 100 = 20 W).  The
	 * second would cost 40 W on h1 (P(0.4) - 100) and 20 W on h2: h2.
	 * The third likewise h3.  PABFD spreads onto idle hosts, as
	 * CloudSim's does, since an idle host's draw is not charged.
	 */
	assert_int_equal(f.vms[order[0]].host, 1);
	assert_int_equal(f.vms[order[1]].host, 2);
	assert_int_equal(f.vms[order[2]].host, 3);
	pol_fleet_free(&f);
}

/*
 * A host that has never held a VM has slots == NULL (hosts start zeroed,
 * as the simulator makes them), and a fleet may have no VM at all:
 * copying either must not hand memcpy a NULL pointer, which is undefined
 * even for 0 bytes and aborts the sanitizer build.
 */
static void
test_plan_with_never_used_host(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	struct pol_plan pl;
	struct ebb_rand r;
	int v;

	thr_policy(&p);
	pol_fleet_init(&f);
	f.nhosts = 3;
	f.hosts = ebb_calloc(f.nhosts, sizeof(*f.hosts));
	for (int h = 0; h < f.nhosts; h++) {
		f.hosts[h].id = h;
		f.hosts[h].pes = 2;
		f.hosts[h].pe_mips = 1000;
		f.hosts[h].ram_mb = 8192;
		f.hosts[h].bw = 1e6;
		f.hosts[h].mig_mbs = 62.5;
		f.hosts[h].power = &lin200;
		f.hosts[h].state = POL_HOST_ON;
		pol_host_realloc(&f, h);
	}
	v = vm_new(&f, 1, 1000, 1000, 1000);
	place(&f, 0, v);
	set_utils(&f);
	assert_null(f.hosts[1].slots);		/* never held a VM */

	ebb_rand_seed(&r, 1);
	pol_plan_init(&pl);
	pol_plan_round(&p, &f, &r, &pl);
	/* h1 and h2 are empty: both switched off. */
	assert_int_equal(pl.nacts, 2);
	assert_act(&pl, 0, POL_ACT_POWER_OFF, -1, -1, -1, 1);
	assert_act(&pl, 1, POL_ACT_POWER_OFF, -1, -1, -1, 2);
	pol_plan_free(&pl);
	pol_fleet_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_fleets),
		cmocka_unit_test(test_index_matches_scan),
		cmocka_unit_test(test_index_matches_scan_small),
		cmocka_unit_test(test_det_kept),
		cmocka_unit_test(test_relieve_to_cheapest),
		cmocka_unit_test(test_wake_off_host),
		cmocka_unit_test(test_wake_after_samples),
		cmocka_unit_test(test_drain_all_or_nothing),
		cmocka_unit_test(test_switch_off_and_reserve),
		cmocka_unit_test(test_no_target),
		cmocka_unit_test(test_place_initial),
		/* Last: aborts the program under the sanitizers (a bug). */
		cmocka_unit_test(test_plan_with_never_used_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
