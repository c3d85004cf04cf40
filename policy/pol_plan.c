/*
 * pol_plan.c - a planning round: relieve overloaded hosts, drain
 * underloaded ones, switch off what is empty, wake what is needed.
 *
 * The shape is Beloglazov & Buyya's (CloudSim's optimizeAllocation): all
 * decisions of a round are taken on a private copy of the fleet, in which
 * each planned move is applied at once so that later decisions see it.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"
#include "pol_detect.h"
#include "pol_plan.h"
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
	}
	return "invalid";
}

/*
 * What a round carries besides the fleet: the policy, and each host's draw
 * at its measured utilization, which does not change within a round.
 */
struct round {
	const struct pol_policy	*p;
	struct pol_fleet	*w;
	double			*now_w;
	/*
	 * Each host's history sums (pol_host_history_sum), kept up to date
	 * as VMs are added, recomputed after a removal: detectors are asked
	 * about the same hosts over and over within a round.
	 */
	double			*hsum;
	int			*hn;
	unsigned char		*hok;
	/*
	 * What placement reads of every host for every VM, packed together
	 * so that a scan of ten thousand hosts stays in cache; refreshed
	 * whenever a host's VMs change.
	 */
	struct pol_hot		*hot;
	int			*kind_of;	/* first host of the same kind */
	unsigned char		*seen;		/* by kind: met in this scan */
};

enum {
	HOT_PLACEABLE = 1,	/* on, or off and wakeable */
	HOT_IDLE = 2,		/* empty, idle, nothing committed */
	HOT_EMPTY = 4,		/* no VM listed */
};

static void
hot_refresh(const struct round *r, int h)
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
	/* The policy places VMs on running hosts, and on off ones to wake. */
	t->flags = (H->state == POL_HOST_ON || H->state == POL_HOST_OFF ?
	    HOT_PLACEABLE : 0) | (H->nslots == 0 ? HOT_EMPTY : 0) |
	    (H->nslots == 0 && H->util == 0 && H->load_mips == 0 ? HOT_IDLE :
	    0);
}

static const double *
round_hist(const struct round *r, int h, int *n)
{
	double *sum = r->hsum + (size_t)h * POL_HIST_MAX;

	if (!r->hok[h]) {
		r->hn[h] = pol_host_history_sum(r->w, h, sum);
		r->hok[h] = 1;
	}
	*n = r->hn[h];
	return sum;
}

static void
round_add(const struct round *r, int h, int vm)
{
	pol_host_add(r->w, h, vm, false);
	hot_refresh(r, h);
	if (r->hok[h])
		pol_host_history_add(r->w, h, vm,
		    r->hsum + (size_t)h * POL_HIST_MAX, &r->hn[h]);
}

static void
round_remove(const struct round *r, int h, int vm)
{
	pol_host_remove(r->w, h, vm);
	hot_refresh(r, h);
	r->hok[h] = 0;
}

static bool
round_overloaded(const struct round *r, int h, int vm)
{
	int n;
	const double *sum = round_hist(r, h, &n);

	return pol_overloaded_sum(r->p, r->w, h, vm, sum, n);
}

/*
 * What placing vm on host h costs in power, by the policy's host order.
 * NAN when it does not fit under the utilization cap.
 *
 * POWER is PABFD's: the increase over the host's measured draw.  For an
 * empty host that is the dynamic part only, as if an idle host were free,
 * which is why PABFD spreads VMs onto empty hosts.  EFFICIENCY charges an
 * empty or off host its idle draw too, since placing there is what keeps
 * it from being switched off.
 */
static double
place_cost(const struct round *r, int h, double req)
{
	const struct pol_hot *t = &r->hot[h];
	double after = (t->load + req) / t->cap;
	double pa = pol_power_at(t->power, after);

	if (isnan(pa) || after > r->p->placement.max_util)
		return NAN;
	if (r->p->placement.order == POL_ORDER_EFFICIENCY &&
	    (t->flags & HOT_EMPTY))
		return pa;
	return pa - r->now_w[h];
}

#define ROUND_KINDS	16	/* host kinds told apart per round */

/* Whether two hosts are interchangeable for placement when idle. */
static bool
same_kind(const struct pol_host *a, const struct pol_host *b)
{
	return a->power == b->power && a->pes == b->pes &&
	    a->pe_mips == b->pe_mips && a->ram_mb == b->ram_mb &&
	    a->bw == b->bw && a->state == b->state;
}

/*
 * PABFD's host choice for one VM: among suitable, not excluded hosts, the
 * cheapest by place_cost, the first on ties, skipping a non-empty host the
 * VM would overload.  The overload test is the expensive part, so it is
 * made only for a host that would otherwise win; and of idle empty hosts
 * of one kind only the first can win, so the rest are not looked at.  The
 * result is the same as testing every host.  Returns the host or -1.
 */
static int
find_host(const struct round *r, int vm, const unsigned char *excluded)
{
	const struct pol_fleet *w = r->w;
	const struct pol_vm *v = &w->vms[vm];
	double want = v->req_mips > v->reserve_mips ? v->req_mips :
	    v->reserve_mips, per = want / v->pes, best = DBL_MAX;
	int pick = -1, marked[ROUND_KINDS], nmarked = 0;

	for (int h = 0; h < w->nhosts; h++) {
		const struct pol_hot *t = &r->hot[h];
		double cost;

		if (excluded[h] || !(t->flags & HOT_PLACEABLE))
			continue;
		if (t->flags & HOT_IDLE) {
			int k = r->kind_of[h];

			if (r->seen[k])
				continue;	/* an earlier one of its kind */
			if (nmarked < ROUND_KINDS) {
				r->seen[k] = 1;
				marked[nmarked++] = k;
			}
		}
		/* pol_host_suitable(), on the packed copy. */
		if (!(t->pe_mips >= per && t->avail >= want &&
		    t->ram_free >= v->ram_use_mb && t->bw_free >= v->bw_use))
			continue;
		cost = place_cost(r, h, v->req_mips);
		if (isnan(cost) || !(cost < best))
			continue;
		if (t->load != 0 && round_overloaded(r, h, vm))
			continue;
		best = cost;
		pick = h;
	}
	for (int i = 0; i < nmarked; i++)
		r->seen[marked[i]] = 0;
	return pick;
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

/* Moves vm to host `to` in the working fleet and records the move. */
static void
plan_move(struct pol_plan *pl, const struct pol_fleet *f, const struct round *r,
    int vm, int to, enum pol_reason why)
{
	struct pol_fleet *w = r->w;
	int cur = w->vms[vm].host;

	if (cur >= 0 && pol_host_find(&w->hosts[cur], vm) >= 0)
		round_remove(r, cur, vm);
	round_add(r, to, vm);
	w->vms[vm].host = to;
	plan_act(pl, (struct pol_action){ .kind = POL_ACT_MIGRATE, .why = why,
	    .vm = vm, .from = f->vms[vm].host, .to = to, .host = -1 });
}

/*
 * Step 1 and 2: find overloaded hosts and take VMs off each until it is
 * not overloaded any more.  Returns the VMs taken (caller frees).
 */
static int *
relieve_overloaded(const struct round *r, struct ebb_rand *rng,
    unsigned char *over, int *nout, struct pol_plan *pl)
{
	const struct pol_policy *p = r->p;
	struct pol_fleet *w = r->w;
	int *out = NULL, n = 0, cap = 0;

	for (int h = 0; h < w->nhosts; h++) {
		if (w->hosts[h].state != POL_HOST_ON || w->hosts[h].nslots == 0)
			continue;
		if (round_overloaded(r, h, -1))
			over[h] = 1;
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
			if (!round_overloaded(r, h, -1))
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
drain_underloaded(const struct round *r, const struct pol_fleet *f,
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
			to[i] = find_host(r, vms[i], no_place);
			if (to[i] < 0) {
				failed = vms[i];
				break;
			}
			round_add(r, to[i], vms[i]);
			placed++;
		}
		for (int i = 0; i < placed; i++)
			round_remove(r, to[i], vms[i]);
		if (failed >= 0) {
			plan_note(pl, POL_NOTE_DRAIN_FAILED, h, failed);
			free(to);
			continue;
		}
		for (int i = 0; i < n; i++) {
			plan_move(pl, f, r, vms[i], to[i], POL_WHY_UNDERLOAD);
			no_drain[to[i]] = 1;
		}
		drained++;
		pl->ndrained++;
		free(to);
	}
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

		if (H->state == POL_HOST_ON || woken[h])
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
	for (int i = 0; i < ws->chosts; i++)
		free(ws->w.hosts[i].slots);
	free(ws->w.hosts);
	free(ws->w.vms);
	free(ws->hot);
	free(ws->kind_of);
	free(ws->seen);
	free(ws->now_w);
	free(ws->hsum);
	free(ws->hn);
	free(ws->hok);
	pol_ws_init(ws);
}

/*
 * Copies f into the workspace's fleet, reusing its memory: a planner that
 * runs every interval should not hand its working set back to the kernel
 * and fault it in again each time.
 */
static struct pol_fleet *
ws_copy(struct pol_ws *ws, const struct pol_fleet *f)
{
	struct pol_fleet *w = &ws->w;
	struct pol_host *hosts;
	struct pol_vm *vms;

	if (f->nhosts > ws->chosts) {
		w->hosts = ebb_reallocarray(w->hosts, f->nhosts,
		    sizeof(*w->hosts));
		memset(w->hosts + ws->chosts, 0, (f->nhosts - ws->chosts) *
		    sizeof(*w->hosts));
		ws->chosts = f->nhosts;
	}
	if (f->nvms > ws->cvms) {
		w->vms = ebb_reallocarray(w->vms, f->nvms, sizeof(*w->vms));
		ws->cvms = f->nvms;
	}
	hosts = w->hosts;
	vms = w->vms;
	*w = *f;
	w->hosts = hosts;
	w->vms = vms;
	if (f->nvms > 0)
		memcpy(w->vms, f->vms, f->nvms * sizeof(*f->vms));
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

static void
round_init(struct round *r, const struct pol_policy *p, struct pol_fleet *w,
    struct pol_ws *ws)
{
	int n = EBB_MAX(w->nhosts, 1);

	if (ws->cround < n) {
		ws->hot = ebb_reallocarray(ws->hot, n, sizeof(*ws->hot));
		ws->kind_of = ebb_reallocarray(ws->kind_of, n,
		    sizeof(*ws->kind_of));
		ws->seen = ebb_reallocarray(ws->seen, n, 1);
		ws->now_w = ebb_reallocarray(ws->now_w, n, sizeof(*ws->now_w));
		ws->hsum = ebb_reallocarray(ws->hsum, (size_t)n * POL_HIST_MAX,
		    sizeof(*ws->hsum));
		ws->hn = ebb_reallocarray(ws->hn, n, sizeof(*ws->hn));
		ws->hok = ebb_reallocarray(ws->hok, n, 1);
		ws->cround = n;
	}
	r->p = p;
	r->w = w;
	r->now_w = ws->now_w;
	r->hsum = ws->hsum;
	r->hn = ws->hn;
	r->hok = ws->hok;
	r->hot = ws->hot;
	r->kind_of = ws->kind_of;
	r->seen = ws->seen;
	memset(r->hok, 0, n);
	memset(r->seen, 0, n);
	for (int h = 0, nk = 0, kinds[ROUND_KINDS]; h < w->nhosts; h++) {
		int k;

		r->now_w[h] = pol_power_at(w->hosts[h].power,
		    EBB_MIN(w->hosts[h].util, 1.0));
		hot_refresh(r, h);
		/*
		 * Hosts of one kind, idle and empty, cost the same: only the
		 * first can win a placement.  Kinds past the first few are
		 * each host its own, which is merely slower.
		 */
		for (k = 0; k < nk; k++)
			if (same_kind(&w->hosts[kinds[k]], &w->hosts[h]))
				break;
		if (k < nk)
			r->kind_of[h] = kinds[k];
		else {
			r->kind_of[h] = h;
			if (nk < ROUND_KINDS)
				kinds[nk++] = h;
		}
	}
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

void
pol_plan_round_ws(const struct pol_policy *p, const struct pol_fleet *f,
    struct ebb_rand *rng, struct pol_ws *ws, struct pol_plan *pl)
{
	struct pol_fleet *w = ws_copy(ws, f);
	struct round r;
	unsigned char *over;
	int *vms, n;

	round_init(&r, p, w, ws);
	over = ebb_calloc(EBB_MAX(w->nhosts, 1), 1);

	vms = relieve_overloaded(&r, rng, over, &n, pl);
	sort_by_demand(w, vms, n);
	for (int i = 0; i < n; i++) {
		int to = find_host(&r, vms[i], over);

		if (to < 0) {
			/* It stays where it is; the host stays overloaded. */
			plan_note(pl, POL_NOTE_NO_TARGET, f->vms[vms[i]].host,
			    vms[i]);
			continue;
		}
		plan_move(pl, f, &r, vms[i], to, POL_WHY_OVERLOAD);
	}
	free(vms);

	/* VMs that found no target go back where they were. */
	for (int v = 0; v < w->nvms; v++) {
		int h = f->vms[v].host;

		if (h >= 0 && w->vms[v].host == h &&
		    pol_host_find(&w->hosts[h], v) < 0 &&
		    pol_host_find(&f->hosts[h], v) >= 0)
			round_add(&r, h, v);
	}

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
		drain_underloaded(&r, f, over, targets, pl);
		free(targets);
	}
	decide_power(p, w, pl);
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
	unsigned char *none = ebb_calloc(EBB_MAX(f->nhosts, 1), 1);
	struct round r;
	int failed = 0;

	round_init(&r, p, f, ws);
	for (int i = 0; i < n; i++) {
		int vm = vms[i], to = find_host(&r, vm, none);

		if (to < 0) {
			failed++;
			continue;
		}
		round_add(&r, to, vm);
		f->vms[vm].host = to;
	}
	free(none);
	return failed;
}
