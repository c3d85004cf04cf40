/*
 * pol_plan.c - a planning round: relieve overloaded hosts, drain
 * underloaded ones, switch off what is empty, wake what is needed.
 *
 * The shape is Beloglazov & Buyya's (CloudSim's optimizeAllocation): all
 * decisions of a round are taken on a private copy of the fleet, in which
 * each planned move is applied at once so that later decisions see it.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"
#include "pol_detect.h"
#include "pol_plan.h"
#include "pol_round.h"
#include "pol_select.h"

void
pol_plan_init(struct pol_plan *pl)
{
	memset(pl, 0, sizeof(*pl));
}

void
pol_plan_free(struct pol_plan *pl)
{
	free(pl->acts);
	free(pl->notes);
	pol_plan_init(pl);
}

static void
plan_act(struct pol_plan *pl, struct pol_action a)
{
	if (pl->nacts == pl->cacts) {
		pl->cacts = pl->cacts ? pl->cacts * 2 : 64;
		pl->acts = ebb_reallocarray(pl->acts, pl->cacts,
		    sizeof(*pl->acts));
	}
	pl->acts[pl->nacts++] = a;
}

static void
plan_note(struct pol_plan *pl, enum pol_note_kind kind, int host, int vm)
{
	if (pl->nnotes == pl->cnotes) {
		pl->cnotes = pl->cnotes ? pl->cnotes * 2 : 64;
		pl->notes = ebb_reallocarray(pl->notes, pl->cnotes,
		    sizeof(*pl->notes));
	}
	pl->notes[pl->nnotes++] = (struct pol_note){ kind, host, vm };
}

const char *
pol_reason_name(enum pol_reason r)
{
	switch (r) {
	case POL_WHY_OVERLOAD:
		return "overload";
	case POL_WHY_UNDERLOAD:
		return "underload";
	case POL_WHY_EMPTY:
		return "empty";
	case POL_WHY_NEEDED:
		return "needed";
	}
	return "invalid";
}

const char *
pol_note_name(enum pol_note_kind k)
{
	switch (k) {
	case POL_NOTE_NO_TARGET:
		return "no-target";
	case POL_NOTE_DRAIN_FAILED:
		return "drain-failed";
	case POL_NOTE_PINNED:
		return "pinned";
	case POL_NOTE_RESERVE:
		return "reserve";
	case POL_NOTE_MIN_HOSTS:
		return "min-hosts";
	case POL_NOTE_NOT_MANAGED:
		return "not-managed";
	case POL_NOTE_WAKE_DEFERRED:
		return "wake-deferred";
	}
	return "invalid";
}

static void
hot_fill(struct pol_round *r, int h)
{
	const struct pol_host *H = &r->w->hosts[h];
	struct pol_hot *t = &r->hot[h];

	t->avail = H->avail_mips;
	t->ram_free = H->ram_mb - H->ram_used;
	t->bw_free = H->bw - H->bw_used;
	t->load = H->load_mips;
	t->cap = pol_host_mips(H);
	t->pe_mips = H->pe_mips;
	t->power = H->power;
	/*
	 * The policy places VMs on running hosts, on off ones to wake, and
	 * on those already waking: otherwise, while one boots, every round
	 * would wake another for the same VMs.
	 */
	t->flags = (H->state == POL_HOST_ON || H->state == POL_HOST_OFF ||
	    H->state == POL_HOST_POWERING_ON ? HOT_PLACEABLE : 0) | (H->nslots == 0 ? HOT_EMPTY : 0) |
	    (H->nslots == 0 && H->util == 0 && H->load_mips == 0 ? HOT_IDLE :
	    0);
}

/* After a change to host h's VMs: its hot copy, and its place in the index. */
static void
hot_refresh(struct pol_round *r, int h)
{
	hot_fill(r, h);
	pol_place_refresh(r, h);
}

/*
 * The detector's view of host h, made when first asked for; the index
 * copies what it can use of it.
 */
static struct pol_det_host *
round_det(struct pol_round *r, int h)
{
	if (!r->det_ok[h]) {
		pol_det_host_fill(r->p, r->w, h, &r->det[h]);
		r->det_ok[h] = 1;
		pol_place_refresh(r, h);
	}
	return &r->det[h];
}

static void
round_add(struct pol_round *r, int h, int vm)
{
	pol_host_add(r->w, h, vm, false);
	if (r->det_ok[h])
		pol_det_host_add(r->p, r->w, h, vm, &r->det[h]);
	hot_refresh(r, h);
}

static void
round_remove(struct pol_round *r, int h, int vm)
{
	pol_host_remove(r->w, h, vm);
	r->det_ok[h] = 0;
	hot_refresh(r, h);
}

/* Whether host h is overloaded, with x's VM added (x NULL: as it is). */
bool
pol_round_overloaded(struct pol_round *r, int h, const struct pol_det_vm *x)
{
	return pol_overloaded_det(r->p, r->w, h, round_det(r, h), x);
}

/* Where vm is in the working copy. */
static int
round_vm_host(const struct pol_round *r, int vm)
{
	return r->vm_moved[vm] ? r->vm_host[vm] : r->w->vms[vm].host;
}

/* Whether two hosts are interchangeable for placement when idle. */
static bool
same_kind(const struct pol_host *a, const struct pol_host *b)
{
	return a->power == b->power && a->pes == b->pes &&
	    a->pe_mips == b->pe_mips && a->ram_mb == b->ram_mb &&
	    a->bw == b->bw && a->state == b->state;
}

/* Sorts VM indices by demand, largest first, keeping ties in order. */
struct vm_key {
	int	vm;
	int	pos;
	double	req;
};

static int
cmp_vm_key(const void *a, const void *b)
{
	const struct vm_key *x = a, *y = b;

	if (x->req != y->req)
		return x->req < y->req ? 1 : -1;
	return x->pos - y->pos;
}

static void
sort_by_demand(const struct pol_fleet *w, int *vms, int n)
{
	struct vm_key *k = ebb_reallocarray(NULL, EBB_MAX(n, 1), sizeof(*k));

	for (int i = 0; i < n; i++)
		k[i] = (struct vm_key){ vms[i], i, w->vms[vms[i]].req_mips };
	qsort(k, n, sizeof(*k), cmp_vm_key);
	for (int i = 0; i < n; i++)
		vms[i] = k[i].vm;
	free(k);
}

/*
 * Records the move of vm to host `to`, where the working fleet lists it
 * already, and takes it off the host it was on.
 */
static void
plan_moved(struct pol_plan *pl, const struct pol_fleet *f,
    struct pol_round *r, int vm, int to, enum pol_reason why)
{
	struct pol_fleet *w = r->w;
	int cur = round_vm_host(r, vm);

	if (cur >= 0 && pol_host_find(&w->hosts[cur], vm) >= 0)
		round_remove(r, cur, vm);
	r->vm_host[vm] = to;
	r->vm_moved[vm] = 1;
	plan_act(pl, (struct pol_action){ .kind = POL_ACT_MIGRATE, .why = why,
	    .vm = vm, .from = f->vms[vm].host, .to = to, .host = -1 });
}

/* Moves vm to host `to` in the working fleet and records the move. */
static void
plan_move(struct pol_plan *pl, const struct pol_fleet *f, struct pol_round *r,
    int vm, int to, enum pol_reason why)
{
	int cur = round_vm_host(r, vm);

	/* Off its host first: a host's list order is part of the model. */
	if (cur >= 0 && pol_host_find(&r->w->hosts[cur], vm) >= 0)
		round_remove(r, cur, vm);
	round_add(r, to, vm);
	plan_moved(pl, f, r, vm, to, why);
}

/* over[] of an overloaded host: sustained, or too young to wake a host. */
#define OVER_SUSTAINED	1
#define OVER_YOUNG	2

/*
 * Step 1 and 2: find overloaded hosts and take VMs off each until it is
 * not overloaded any more.  Returns the VMs taken (caller frees).  With
 * power.wake_after_samples > 1 an overload the detector has not seen for
 * that many samples is marked young: its VMs may go to running hosts, but
 * no host is woken for them (a spike that passes before the host boots
 * costs a boot and a switch-off for nothing).
 */
static int *
relieve_overloaded(struct pol_round *r, struct ebb_rand *rng,
    unsigned char *over, int *nout, struct pol_plan *pl)
{
	const struct pol_policy *p = r->p;
	struct pol_fleet *w = r->w;
	int *out = NULL, n = 0, cap = 0;

	for (int h = 0; h < w->nhosts; h++) {
		if (w->hosts[h].state != POL_HOST_ON || w->hosts[h].nslots == 0)
			continue;
		if (!pol_round_overloaded(r, h, NULL))
			continue;
		over[h] = p->power.wake_after_samples <= 1 ||
		    pol_overloaded_for(p, w, h, p->power.wake_after_samples) ?
		    OVER_SUSTAINED : OVER_YOUNG;
	}
	for (int h = 0; h < w->nhosts; h++) {
		if (!over[h])
			continue;
		pl->noverloaded++;
		for (;;) {
			int vm = pol_select_vm(p, w, h, rng);

			if (vm < 0)
				break;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				out = ebb_reallocarray(out, cap, sizeof(*out));
			}
			out[n++] = vm;
			round_remove(r, h, vm);
			if (!pol_round_overloaded(r, h, NULL))
				break;
		}
	}
	*nout = n;
	return out;
}

/*
 * CloudSim skips, as a host to drain, one whose VMs are all on their way
 * out, or whose first migrating VM (before any settled one) is on its way
 * in: both are mid-change already.
 */
static bool
mid_migration(const struct pol_fleet *w, const struct pol_host *h)
{
	for (int i = 0; i < h->nslots; i++) {
		if (!w->vms[h->slots[i].vm].migrating)
			return false;
		if (h->slots[i].incoming)
			return true;
	}
	return true;
}

struct host_key {
	int	host;
	double	util;
};

static int
cmp_host_key(const void *a, const void *b)
{
	const struct host_key *x = a, *y = b;

	if (x->util != y->util)
		return x->util < y->util ? -1 : 1;
	return x->host - y->host;
}

/*
 * Step 4: drain underloaded hosts, least utilized first, each all or
 * nothing, onto hosts that are neither overloaded, nor switched off, nor
 * drained themselves.
 */
static void
drain_underloaded(struct pol_round *r, const struct pol_fleet *f,
    const unsigned char *over, const unsigned char *targets,
    struct pol_plan *pl)
{
	const struct pol_policy *p = r->p;
	struct pol_fleet *w = r->w;
	unsigned char *no_drain = ebb_calloc(w->nhosts, 1);
	unsigned char *no_place = ebb_calloc(w->nhosts, 1);
	struct host_key *order = ebb_reallocarray(NULL, EBB_MAX(w->nhosts, 1),
	    sizeof(*order));
	int *vms = NULL, cvms = 0, norder = 0, drained = 0;

	for (int h = 0; h < w->nhosts; h++) {
		const struct pol_host *H = &w->hosts[h];

		/*
		 * "Switched off" is judged by the measured utilization, as
		 * CloudSim did: a host with nothing running is neither
		 * drained nor woken to take a drained host's VMs.
		 */
		if (over[h] || H->util == 0 || H->state != POL_HOST_ON)
			no_drain[h] = no_place[h] = 1;
		if (targets != NULL && targets[h])
			no_drain[h] = 1;
		if (!no_drain[h] && H->util < 1.0 &&
		    H->util < p->underload.max_util)
			order[norder++] = (struct host_key){ h, H->util };
	}
	qsort(order, norder, sizeof(*order), cmp_host_key);
	r->excluded = no_place;
	pol_place_reindex(r);

	for (int k = 0; k < norder; k++) {
		int h = order[k].host, n = 0, placed = 0, failed = -1;
		const struct pol_host *H = &w->hosts[h];
		bool pinned = false;

		if (no_drain[h] || mid_migration(w, H))
			continue;
		if (p->underload.max_hosts > 0 &&
		    drained >= p->underload.max_hosts)
			break;
		no_drain[h] = no_place[h] = 1;
		pol_place_refresh(r, h);

		if (H->nslots > cvms) {
			cvms = H->nslots * 2;
			vms = ebb_reallocarray(vms, cvms, sizeof(*vms));
		}
		for (int i = 0; i < H->nslots; i++) {
			const struct pol_vm *v = &w->vms[H->slots[i].vm];

			if (v->migrating)
				continue;
			if (v->pinned)
				pinned = true;
			vms[n++] = H->slots[i].vm;
		}
		if (n == 0)
			continue;
		if (pinned) {
			plan_note(pl, POL_NOTE_PINNED, h, -1);
			continue;
		}
		sort_by_demand(w, vms, n);

		/*
		 * Place on the working copy; if one VM fits nowhere, take
		 * back the ones placed so far and leave the host as it was.
		 * The VMs stay listed on the drained host meanwhile, which is
		 * excluded as a target, so nothing else sees them twice.
		 */
		int *to = ebb_reallocarray(NULL, n, sizeof(*to));

		for (int i = 0; i < n; i++) {
			to[i] = pol_place_find(r, vms[i]);
			if (to[i] < 0) {
				failed = vms[i];
				break;
			}
			round_add(r, to[i], vms[i]);
			placed++;
		}
		if (failed >= 0) {
			for (int i = 0; i < placed; i++)
				round_remove(r, to[i], vms[i]);
			plan_note(pl, POL_NOTE_DRAIN_FAILED, h, failed);
			free(to);
			continue;
		}
		/*
		 * All placed: the targets are as the moves leave them (taking
		 * the VMs back and adding them again in the same order would
		 * give the same lists), so only the drained host is left to
		 * empty.
		 */
		for (int i = 0; i < n; i++) {
			plan_moved(pl, f, r, vms[i], to[i], POL_WHY_UNDERLOAD);
			no_drain[to[i]] = 1;
		}
		drained++;
		pl->ndrained++;
		free(to);
	}
	r->excluded = NULL;
	free(vms);
	free(order);
	free(no_drain);
	free(no_place);
}

/*
 * Power decisions: wake every off host the plan moves a VM to, before the
 * first such move; switch off every running host left empty, but keep
 * reserve and minimum hosts on.
 */
static void
decide_power(const struct pol_policy *p, const struct pol_fleet *w,
    struct pol_plan *pl)
{
	unsigned char *woken = ebb_calloc(w->nhosts, 1);
	int on = 0, reserve = p->power.reserve_hosts;
	struct pol_action *acts;
	int nacts = pl->nacts;

	/* Rebuild the action list with POWER_ON in front of first use. */
	acts = pl->acts;
	pl->acts = NULL;
	pl->nacts = pl->cacts = 0;
	for (int i = 0; i < nacts; i++) {
		int to = acts[i].to;

		if (acts[i].kind == POL_ACT_MIGRATE &&
		    w->hosts[to].state == POL_HOST_OFF && !woken[to]) {
			woken[to] = 1;
			plan_act(pl, (struct pol_action){ .kind =
			    POL_ACT_POWER_ON, .why = POL_WHY_NEEDED, .vm = -1,
			    .from = -1, .to = -1, .host = to });
		}
		plan_act(pl, acts[i]);
	}
	free(acts);

	for (int h = 0; h < w->nhosts; h++) {
		const struct pol_host *H = &w->hosts[h];

		if (H->state == POL_HOST_ON ||
		    H->state == POL_HOST_POWERING_ON || woken[h])
			on++;
	}
	if (!p->power.switch_off_empty)
		goto out;
	for (int h = 0; h < w->nhosts; h++) {
		const struct pol_host *H = &w->hosts[h];

		if (H->state != POL_HOST_ON || H->nslots != 0 || woken[h])
			continue;
		if (H->reserve || reserve > 0) {
			if (!H->reserve)
				reserve--;
			plan_note(pl, POL_NOTE_RESERVE, h, -1);
			continue;
		}
		if (on <= p->power.min_hosts_on) {
			plan_note(pl, POL_NOTE_MIN_HOSTS, h, -1);
			continue;
		}
		on--;
		plan_act(pl, (struct pol_action){ .kind = POL_ACT_POWER_OFF,
		    .why = POL_WHY_EMPTY, .vm = -1, .from = -1, .to = -1,
		    .host = h });
	}
out:
	free(woken);
}

void
pol_ws_init(struct pol_ws *ws)
{
	memset(ws, 0, sizeof(*ws));
}

void
pol_ws_free(struct pol_ws *ws)
{
	struct pol_round *r = ws->r;

	if (r != NULL) {
		for (int i = 0; i < r->chosts; i++)
			free(r->copy.hosts[i].slots);
		free(r->copy.hosts);
		free(r->vm_host);
		free(r->vm_moved);
		free(r->now_w);
		free(r->det);
		free(r->det_ok);
		free(r->hot);
		free(r->kind_of);
		free(r->kind_no);
		free(r->seen);
		pol_place_free(r->place);
		free(r);
	}
	pol_ws_init(ws);
}

static struct pol_round *
ws_round(struct pol_ws *ws)
{
	if (ws->r == NULL)
		ws->r = ebb_calloc(1, sizeof(*ws->r));
	return ws->r;
}

/*
 * Copies f's hosts into the round's working fleet, reusing its memory: a
 * planner that runs every interval should not hand its working set back
 * to the kernel and fault it in again each time.  The VMs are not copied:
 * a round reads them and keeps where it moves them in vm_host, which at
 * 100,000 VMs saves copying 30 MB.
 */
static struct pol_fleet *
ws_copy(struct pol_round *r, const struct pol_fleet *f)
{
	struct pol_fleet *w = &r->copy;
	struct pol_host *hosts;

	if (f->nhosts > r->chosts) {
		w->hosts = ebb_reallocarray(w->hosts, f->nhosts,
		    sizeof(*w->hosts));
		memset(w->hosts + r->chosts, 0, (f->nhosts - r->chosts) *
		    sizeof(*w->hosts));
		r->chosts = f->nhosts;
	}
	if (f->nvms > r->cvms) {
		r->vm_host = ebb_reallocarray(r->vm_host, f->nvms,
		    sizeof(*r->vm_host));
		r->vm_moved = ebb_reallocarray(r->vm_moved, f->nvms, 1);
		r->cvms = f->nvms;
	}
	if (f->nvms > 0)
		memset(r->vm_moved, 0, f->nvms);
	hosts = w->hosts;
	*w = *f;
	w->hosts = hosts;
	for (int i = 0; i < f->nhosts; i++) {
		struct pol_host *d = &w->hosts[i];
		struct pol_slot *slots = d->slots;
		int cslots = d->cslots;

		*d = f->hosts[i];
		if (cslots < d->nslots + 4) {
			cslots = EBB_MAX(d->nslots + 4, cslots * 2);
			slots = ebb_reallocarray(slots, cslots, sizeof(*slots));
		}
		d->slots = slots;
		d->cslots = cslots;
		if (d->nslots > 0)
			memcpy(d->slots, f->hosts[i].slots, d->nslots *
			    sizeof(*d->slots));
	}
	return w;
}

/*
 * Readies the round's state for fleet w; `queries` is about how many
 * placements it will be asked for, which decides (find AUTO) whether the
 * index pays for its building.
 */
static void
round_init(struct pol_round *r, const struct pol_policy *p,
    struct pol_fleet *w, enum pol_find find, int queries)
{
	int n = EBB_MAX(w->nhosts, 1), kinds[ROUND_KINDS], nk = 0;

	if (r->cn < n) {
		r->hot = ebb_reallocarray(r->hot, n, sizeof(*r->hot));
		r->kind_of = ebb_reallocarray(r->kind_of, n,
		    sizeof(*r->kind_of));
		r->kind_no = ebb_reallocarray(r->kind_no, n,
		    sizeof(*r->kind_no));
		r->seen = ebb_reallocarray(r->seen, n, 1);
		r->now_w = ebb_reallocarray(r->now_w, n, sizeof(*r->now_w));
		r->det = ebb_reallocarray(r->det, n, sizeof(*r->det));
		r->det_ok = ebb_reallocarray(r->det_ok, n, 1);
		r->cn = n;
	}
	r->p = p;
	r->w = w;
	r->excluded = NULL;
	r->find = find != POL_FIND_AUTO ? find : w->nhosts >= PLACE_MIN_HOSTS &&
	    queries >= PLACE_MIN_QUERIES ? POL_FIND_INDEX : POL_FIND_SCAN;
	r->mismatches = 0;
	memset(r->det_ok, 0, n);
	memset(r->seen, 0, n);
	for (int h = 0; h < w->nhosts; h++) {
		int k;

		r->now_w[h] = pol_power_at(w->hosts[h].power,
		    EBB_MIN(w->hosts[h].util, 1.0));
		/*
		 * Hosts of one kind, idle and empty, cost the same: only the
		 * first can win a placement.  Kinds past the first few are
		 * each host its own, which is merely slower.
		 */
		for (k = 0; k < nk; k++)
			if (same_kind(&w->hosts[kinds[k]], &w->hosts[h]))
				break;
		hot_fill(r, h);
		if (k < nk) {
			r->kind_of[h] = kinds[k];
			r->kind_no[h] = k;
		} else {
			r->kind_of[h] = h;
			r->kind_no[h] = -1;
			if (nk < ROUND_KINDS) {
				r->kind_no[h] = nk;
				kinds[nk++] = h;
			}
		}
	}
	pol_place_begin(r);
}

void
pol_plan_round(const struct pol_policy *p, const struct pol_fleet *f,
    struct ebb_rand *rng, struct pol_plan *pl)
{
	struct pol_ws ws;

	pol_ws_init(&ws);
	pol_plan_round_ws(p, f, rng, &ws, pl);
	pol_ws_free(&ws);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * Puts the VMs of young overloads after the others, each group in the
 * order it had (by demand).  Returns how many come first.
 */
static int
young_last(const struct pol_fleet *f, const unsigned char *over, int *vms,
    int n)
{
	int *young = ebb_reallocarray(NULL, EBB_MAX(n, 1), sizeof(*young));
	int nsus = 0, ny = 0;

	for (int i = 0; i < n; i++) {
		if (over[f->vms[vms[i]].host] == OVER_YOUNG)
			young[ny++] = vms[i];
		else
			vms[nsus++] = vms[i];
	}
	if (ny > 0)
		memcpy(vms + nsus, young, (size_t)ny * sizeof(*vms));
	free(young);
	return nsus;
}

/*
 * For the VMs of young overloads: no target among the hosts that are off
 * and not woken already for a sustained overload's VMs.  Returns the new
 * exclusions (caller frees) and whether any host is left out for that.
 */
static unsigned char *
exclude_asleep(const struct pol_fleet *w, const unsigned char *over,
    const struct pol_plan *pl, bool *any)
{
	unsigned char *x = ebb_calloc(EBB_MAX(w->nhosts, 1), 1);

	for (int h = 0; h < w->nhosts; h++)
		x[h] = w->hosts[h].state == POL_HOST_OFF;
	for (int i = 0; i < pl->nacts; i++)
		if (pl->acts[i].kind == POL_ACT_MIGRATE)
			x[pl->acts[i].to] = 0;	/* waking anyway */
	*any = false;
	for (int h = 0; h < w->nhosts; h++) {
		*any = *any || x[h];
		x[h] |= over[h];	/* overloaded hosts are on: never both */
	}
	return x;
}

void
pol_plan_round_ws(const struct pol_policy *p, const struct pol_fleet *f,
    struct ebb_rand *rng, struct pol_ws *ws, struct pol_plan *pl)
{
	struct pol_round *r = ws_round(ws);
	struct pol_fleet *w = ws_copy(r, f);
	unsigned char *over, *asleep = NULL;
	int *vms, n, nleft = 0, nsus;
	bool deferred = false;

	round_init(r, p, w, ws->find, INT_MAX);
	over = ebb_calloc(EBB_MAX(w->nhosts, 1), 1);

	vms = relieve_overloaded(r, rng, over, &n, pl);
	sort_by_demand(w, vms, n);
	nsus = p->power.wake_after_samples > 1 ? young_last(f, over, vms, n) :
	    n;
	r->excluded = over;
	pol_place_reindex(r);
	for (int i = 0; i < n; i++) {
		int to;

		if (i == nsus) {
			asleep = exclude_asleep(w, over, pl, &deferred);
			r->excluded = asleep;
			pol_place_reindex(r);
		}
		if ((to = pol_place_find(r, vms[i])) < 0) {
			/* It stays where it is; the host stays overloaded. */
			plan_note(pl, i >= nsus && deferred ?
			    POL_NOTE_WAKE_DEFERRED : POL_NOTE_NO_TARGET,
			    f->vms[vms[i]].host, vms[i]);
			vms[nleft++] = vms[i];
			continue;
		}
		plan_move(pl, f, r, vms[i], to, POL_WHY_OVERLOAD);
	}
	r->excluded = NULL;
	free(asleep);

	/*
	 * VMs that found no target go back where they were, in VM order.
	 * Only a VM taken off an overloaded host and not moved can be missing
	 * from the host it was on.
	 */
	if (nleft > 1)
		qsort(vms, nleft, sizeof(*vms), cmp_int);
	for (int i = 0; i < nleft; i++) {
		int v = vms[i], h = f->vms[v].host;

		if (h >= 0 && round_vm_host(r, v) == h &&
		    pol_host_find(&w->hosts[h], v) < 0 &&
		    pol_host_find(&f->hosts[h], v) >= 0)
			round_add(r, h, v);
	}
	free(vms);

	if (p->underload.enabled) {
		/*
		 * CloudSim may drain a host that just received a VM from an
		 * overloaded one, moving that VM twice in one round; the
		 * reference policies keep that, exclude_targets prevents it.
		 */
		unsigned char *targets = NULL;

		if (p->underload.exclude_targets) {
			targets = ebb_calloc(EBB_MAX(w->nhosts, 1), 1);
			for (int i = 0; i < pl->nacts; i++)
				if (pl->acts[i].kind == POL_ACT_MIGRATE)
					targets[pl->acts[i].to] = 1;
		}
		drain_underloaded(r, f, over, targets, pl);
		free(targets);
	}
	decide_power(p, w, pl);
	ws->find_mismatches += r->mismatches;
	free(over);
}

int
pol_place_initial(const struct pol_policy *p, struct pol_fleet *f,
    const int *vms, int n)
{
	struct pol_ws ws;
	int failed;

	pol_ws_init(&ws);
	failed = pol_place_initial_ws(p, f, vms, n, &ws);
	pol_ws_free(&ws);
	return failed;
}

int
pol_place_initial_ws(const struct pol_policy *p, struct pol_fleet *f,
    const int *vms, int n, struct pol_ws *ws)
{
	struct pol_round *r = ws_round(ws);
	int failed = 0;

	round_init(r, p, f, ws->find, n);
	pol_place_reindex(r);
	for (int i = 0; i < n; i++) {
		int vm = vms[i], to = pol_place_find(r, vm);

		if (to < 0) {
			failed++;
			continue;
		}
		round_add(r, to, vm);
		f->vms[vm].host = to;
	}
	ws->find_mismatches += r->mismatches;
	return failed;
}
