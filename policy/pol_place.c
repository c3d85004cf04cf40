/*
 * pol_place.c - PABFD's choice of a host for one VM, and the index that
 * makes it cheap on a large fleet.
 *
 * The choice is CloudSim's: among the suitable hosts placement may use,
 * the one whose draw grows least (cost_of), the first in list order on
 * ties, skipping a non-empty host the VM would overload.  place_scan does
 * that by looking at every host; it is the reference (POL_FIND_SCAN), and
 * on 10,000 hosts it was most of a round.
 *
 * The index files each host placement may use under its group (hosts with
 * the same curve, size and migration bandwidth), a bin of its committed
 * utilization x, and a cell of its offset.  For a VM that adds d to x, a
 * host's cost is, up to rounding,
 *
 *	A(x, d) + off,	A(x, d) = P(x + d) - P(x),  off = P(x) - draw now
 *
 * A is one function for the whole group, and within a bin (which lies on
 * one straight piece of P) two straight pieces, bent where x + d crosses a
 * tenth; `off` is the host's own, 0 for a host measured as committed.  So
 * a cell's least A plus its least offset bounds every cost in it from
 * below.  A query takes cells in the order of that bound, skips those in
 * which no host has room or every host would surely be overloaded (the
 * cells keep bounds of what the test and the detector read), and stops at
 * a bound above the best cost found.  Every host in a cell it scans is
 * judged exactly as the scan judges it, and the winner is the least
 * (cost, list position), which is what the scan's "first strictly
 * cheaper" finds.  The bounds are lowered by a margin some 10^5 times
 * wider than the rounding in a bound or a cost, so no host whose cost
 * ties the best is skipped: CloudSim's tie-breaking decides many
 * placements, since hosts on one piece of a curve cost the same but for
 * rounding, and those ties are most of what a query still looks at.
 *
 * Idle hosts of one kind are alike and only the first can win, as in the
 * scan; they are kept in a bitmap per kind instead of in cells.  The few
 * hosts the index cannot bound (past PLACE_GROUPS groups, a curve or a
 * figure that is not a number) are looked at on every query, and a VM
 * whose demand is not a number >= 0 is placed by the scan.
 * tests/unit/test_plan.c checks every query of many rounds against the
 * scan (POL_FIND_CHECK).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"
#include "pol_round.h"

/*
 * Bins of a thirtieth of utilization, three to a segment of a SPECpower
 * curve, so that a bin's hosts all sit on one straight piece of P (more
 * bins cost a query more than their tighter bounds save it: 20, 40 and 50
 * were measured); each bin split into cells by the hosts' offsets, on a
 * doubling scale either side of 0, so that hosts that received VMs this
 * round (their draw now understates what they will draw) do not blunt the
 * bound of those that did not.
 */
#define PLACE_BINS	30
#define PLACE_CELLS	24
#define PLACE_GROUPS	16

enum {
	WHERE_NONE = -1,	/* placement cannot use it now */
	WHERE_IDLE = -2,	/* in its kind's bitmap */
	WHERE_LOOSE = -3,	/* looked at on every query */
};

/*
 * A host in a cell: what judging it reads, next to its neighbours'; and,
 * once the detector has looked at the host, what q_over needs.
 */
struct place_ent {
	/* What every query reads: one cache line. */
	double		 avail;
	double		 ram_free;
	double		 bw_free;
	double		 x;		/* committed utilization */
	double		 off;
	double		 load;
	double		 now;
	int		 h;
	bool		 empty;
	bool		 oq;		/* q_over may judge it */
	bool		 sure;		/* its history is a full window */
	/* What only a would-be winner needs. */
	double		 req;		/* Σ demand */
	double		 ah;		/* its own look-ahead */
	double		 l0;		/* its line at x = window + 1 */
	double		 lb;		/* and slope */
	double		 mag;
};

/*
 * Bounds over the hosts of a cell, or of a bin.  A host that comes widens
 * them; one that goes or changes while it holds one of them leaves them
 * loose (still bounds, not tight) until a query that needs them tightens
 * them.  None is a NaN: a host with a NaN where a bound is taken is not
 * filed in a cell (it is looked at on every query), nor judged by q_over.
 */
struct place_bounds {
	double		 x_min;
	double		 x_max;
	double		 off_min;
	double		 avail_max;
	double		 ram_max;
	double		 bw_max;
	int		 nq;		/* hosts q_over may not judge */
	double		 req_min;
	double		 l0_min;
	double		 lb_min;
	double		 lb_max;
	double		 ah_max;
	double		 mag_max;
};

struct place_cell {
	struct place_ent *e;
	int		 n;
	int		 c;
	bool		 loose;
	struct place_bounds bd;
};

struct place_bin {
	uint32_t	 mask;		/* cells with hosts */
	bool		 loose;		/* bd, or a cell's */
	struct place_bounds bd;		/* over its cells */
	struct place_cell cell[PLACE_CELLS];
};

/*
 * A over one bin for the VM of a query: linear from lo to bp and from bp
 * to hi (bp = hi when x + d crosses no tenth inside), and its least.
 */
struct place_abin {
	double		 lo;
	double		 bp;
	double		 hi;
	double		 alo;
	double		 abp;
	double		 s1;		/* slopes of the two pieces */
	double		 s2;
	double		 min;
};

struct place_group {
	const struct pol_power_curve *power;	/* a member's: same numbers */
	int		 pes;
	double		 pe_mips;
	double		 mig_mbs;
	double		 cap;
	double		 eps;		/* the bound's margin, watts */
	double		 off0;		/* offsets' unit for the cells */
	double		 p_edge[PLACE_BINS + 1];	/* P at bins' edges */
	struct place_bin *bin;		/* PLACE_BINS */
	struct place_abin ab[PLACE_BINS];	/* a query's */
};

/* A cell to visit: a bound of its hosts' costs and its bin's later ones. */
struct place_cand {
	double		 lb;
	int		 g;
	int		 b;
	int		 k;
};

struct pol_place {
	struct place_group g[PLACE_GROUPS];
	int		 ng;
	bool		 live;		/* hosts filed, following changes */
	int		 ch;		/* hosts the arrays below hold */
	int		*grp;		/* by host: group, or -1 */
	int		*where;		/* by host: cell number, or WHERE_* */
	int		*pos;		/* by host: in its cell, or loose */
	int		*loose;
	int		 nloose;
	int		 nwords;	/* of each idle bitmap */
	uint64_t	*idle[ROUND_KINDS];
	uint64_t	*idle_top[ROUND_KINDS];	/* words not zero */
	struct place_cand cand[PLACE_GROUPS * PLACE_BINS];
};

static inline double
low(double a, double b)
{
	return a < b ? a : b;
}

static inline double
high(double a, double b)
{
	return a > b ? a : b;
}

/*
 * What placing a VM of demand `req` costs in power, by the policy's host
 * order; NAN when it does not fit under the utilization cap.
 *
 * POWER is PABFD's: the increase over the host's measured draw.  For an
 * empty host that is the dynamic part only, as if an idle host were free,
 * which is why PABFD spreads VMs onto empty hosts.  EFFICIENCY charges an
 * empty or off host its idle draw too, since placing there is what keeps
 * it from being switched off.
 */
static inline double
cost_of(const struct pol_policy *p, const struct pol_power_curve *power,
    double cap, double load, bool empty, double now, double req)
{
	double after = (load + req) / cap;
	double pa = pol_power_at(power, after);

	if (isnan(pa) || after > p->placement.max_util)
		return NAN;
	if (p->placement.order == POL_ORDER_EFFICIENCY && empty)
		return pa;
	return pa - now;
}

/* The best host so far of one query. */
struct place_pick {
	int		 vm;
	int		 h;
	double		 best;
	bool		 dv_ok;
	struct pol_det_vm dv;
};

/*
 * A suitable host of the given cost: it wins if it is cheaper, or as
 * cheap and earlier in the list, and (when it has load) is not
 * overloaded with the VM.  The overload test is the expensive part, so it
 * is made only for a host that would otherwise win.
 */
static inline void
pick_consider(struct pol_round *r, struct place_pick *pk, int h,
    double cost, double load)
{
	if (!(cost < pk->best || (cost == pk->best && h < pk->h)))
		return;
	if (load != 0) {
		if (!pk->dv_ok) {
			pol_det_vm_fill(r->p, r->w, pk->vm, &pk->dv);
			pk->dv_ok = true;
		}
		if (pol_round_overloaded(r, h, &pk->dv))
			return;
	}
	pk->best = cost;
	pk->h = h;
}

/* Judges host h from its hot copy, as the scan does. */
static void
pick_hot(struct pol_round *r, struct place_pick *pk, int h, double want,
    double per)
{
	const struct pol_vm *v = &r->w->vms[pk->vm];
	const struct pol_hot *t = &r->hot[h];

	/* pol_host_suitable(), on the packed copy. */
	if (!(t->pe_mips >= per && t->avail >= want &&
	    t->ram_free >= v->ram_use_mb && t->bw_free >= v->bw_use))
		return;
	pick_consider(r, pk, h, cost_of(r->p, t->power, t->cap, t->load,
	    t->flags & HOT_EMPTY, r->now_w[h], v->req_mips), t->load);
}

/*
 * The reference: every host, in list order.  Of idle empty hosts of one
 * kind only the first can win, so the rest are not looked at.
 */
static int
place_scan(struct pol_round *r, int vm)
{
	const struct pol_fleet *w = r->w;
	const struct pol_vm *v = &w->vms[vm];
	double want = v->req_mips > v->reserve_mips ? v->req_mips :
	    v->reserve_mips, per = want / v->pes;
	struct place_pick pk = { .vm = vm, .h = -1, .best = DBL_MAX };
	int marked[ROUND_KINDS], nmarked = 0;

	for (int h = 0; h < w->nhosts; h++) {
		const struct pol_hot *t = &r->hot[h];

		if ((r->excluded != NULL && r->excluded[h]) ||
		    !(t->flags & HOT_PLACEABLE))
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
		pick_hot(r, &pk, h, want, per);
	}
	for (int i = 0; i < nmarked; i++)
		r->seen[marked[i]] = 0;
	return pk.h;
}

/* ---- the index ----------------------------------------------------------- */

/* P at u, clamped to [0, 1]: for bounds only. */
static double
curve_at(const struct pol_power_curve *c, double u)
{
	double x = u > 0 ? (u < 1 ? u * 10 : 10) : 0;
	int i = (int)x;

	if (i >= 10)
		return c->w[10];
	return c->w[i] + (c->w[i + 1] - c->w[i]) * (x - i);
}

static bool
curve_finite(const struct pol_power_curve *c)
{
	for (int i = 0; i < 11; i++)
		if (!isfinite(c->w[i]))
			return false;
	return true;
}

static bool
group_has(const struct place_group *G, const struct pol_host *H)
{
	return G->pes == H->pes && G->pe_mips == H->pe_mips &&
	    G->mig_mbs == H->mig_mbs && (G->power == H->power ||
	    memcmp(G->power->w, H->power->w, sizeof(G->power->w)) == 0);
}

/*
 * The group of hosts with H's curve (by its numbers: the controller gives
 * every host its own copy), size and migration bandwidth; -1 when there
 * are too many groups already or the index cannot bound H's costs.
 */
static int
group_of(struct pol_place *pl, const struct pol_host *H)
{
	double cap = pol_host_mips(H), sum = 0;
	struct place_group *G;

	for (int g = 0; g < pl->ng; g++)
		if (group_has(&pl->g[g], H))
			return g;
	if (pl->ng == PLACE_GROUPS || !curve_finite(H->power) ||
	    !(cap > 0 && cap < INFINITY))
		return -1;
	G = &pl->g[pl->ng];
	if (G->bin == NULL)
		G->bin = ebb_calloc(PLACE_BINS, sizeof(*G->bin));
	G->power = H->power;
	G->pes = H->pes;
	G->pe_mips = H->pe_mips;
	G->mig_mbs = H->mig_mbs;
	G->cap = cap;
	for (int i = 0; i < 11; i++)
		sum += fabs(H->power->w[i]);
	/*
	 * A cost and its bound each carry a few ulps of the curve's watts,
	 * plus the curve's steepest slope times a few ulps of utilization:
	 * around 1e-13 of Σ |w|.  The margin is 1e-8 of it.
	 */
	G->eps = 1e-8 * (1 + sum);
	G->off0 = fmax(fabs(H->power->w[10] - H->power->w[0]), 1e-9) / 4096;
	for (int b = 0; b <= PLACE_BINS; b++)
		G->p_edge[b] = curve_at(H->power, (double)b / PLACE_BINS);
	return pl->ng++;
}

/* The cell of an offset: 0..11 below zero, 12..23 above, ascending. */
static int
off_cell(const struct place_group *G, double off)
{
	int half = PLACE_CELLS / 2, e;

	if (!isfinite(off))
		return off > 0 ? PLACE_CELLS - 1 : 0;
	frexp(fabs(off) / G->off0, &e);
	e = e < 0 ? 0 : e >= half ? half - 1 : e;
	return off > 0 ? half + e : half - 1 - e;
}

static void
bits_set(struct pol_place *pl, int k, int h)
{
	pl->idle[k][h >> 6] |= 1ULL << (h & 63);
	pl->idle_top[k][h >> 12] |= 1ULL << ((h >> 6) & 63);
}

static void
bits_clear(struct pol_place *pl, int k, int h)
{
	if ((pl->idle[k][h >> 6] &= ~(1ULL << (h & 63))) == 0)
		pl->idle_top[k][h >> 12] &= ~(1ULL << ((h >> 6) & 63));
}

static int
bits_first(const struct pol_place *pl, int k)
{
	int ntop = (pl->nwords + 63) / 64;

	for (int i = 0; i < ntop; i++) {
		if (pl->idle_top[k][i] != 0) {
			int wi = i * 64 + __builtin_ctzll(pl->idle_top[k][i]);

			return wi * 64 + __builtin_ctzll(pl->idle[k][wi]);
		}
	}
	return -1;
}

static void
bounds_reset(struct place_bounds *bd)
{
	bd->x_min = INFINITY;
	bd->x_max = -INFINITY;
	bd->off_min = bd->req_min = bd->l0_min = bd->lb_min = INFINITY;
	bd->avail_max = bd->ram_max = bd->bw_max = bd->lb_max = -INFINITY;
	bd->ah_max = bd->mag_max = -INFINITY;
	bd->nq = 0;
}

static void
bounds_add(struct place_bounds *bd, const struct place_ent *e)
{
	bd->x_min = low(bd->x_min, e->x);
	bd->x_max = high(bd->x_max, e->x);
	bd->off_min = low(bd->off_min, e->off);
	bd->avail_max = high(bd->avail_max, e->avail);
	bd->ram_max = high(bd->ram_max, e->ram_free);
	bd->bw_max = high(bd->bw_max, e->bw_free);
	if (!e->oq) {
		bd->nq++;
		return;
	}
	bd->req_min = low(bd->req_min, e->req);
	bd->l0_min = low(bd->l0_min, e->l0);
	bd->lb_min = low(bd->lb_min, e->lb);
	bd->lb_max = high(bd->lb_max, e->lb);
	bd->ah_max = high(bd->ah_max, e->ah);
	bd->mag_max = high(bd->mag_max, e->mag);
}

static void
bounds_merge(struct place_bounds *bd, const struct place_bounds *o)
{
	bd->x_min = low(bd->x_min, o->x_min);
	bd->x_max = high(bd->x_max, o->x_max);
	bd->off_min = low(bd->off_min, o->off_min);
	bd->avail_max = high(bd->avail_max, o->avail_max);
	bd->ram_max = high(bd->ram_max, o->ram_max);
	bd->bw_max = high(bd->bw_max, o->bw_max);
	bd->nq += o->nq;
	bd->req_min = low(bd->req_min, o->req_min);
	bd->l0_min = low(bd->l0_min, o->l0_min);
	bd->lb_min = low(bd->lb_min, o->lb_min);
	bd->lb_max = high(bd->lb_max, o->lb_max);
	bd->ah_max = high(bd->ah_max, o->ah_max);
	bd->mag_max = high(bd->mag_max, o->mag_max);
}

/*
 * Whether taking e out of bounds bd might change them: whether it holds
 * one of them (another host may hold it too).
 */
static bool
bounds_held(const struct place_bounds *bd, const struct place_ent *e)
{
	if (e->x == bd->x_min || e->x == bd->x_max || e->off == bd->off_min ||
	    e->avail == bd->avail_max || e->ram_free == bd->ram_max ||
	    e->bw_free == bd->bw_max)
		return true;
	return e->oq && (e->req == bd->req_min || e->l0 == bd->l0_min ||
	    e->lb == bd->lb_min || e->lb == bd->lb_max ||
	    e->ah == bd->ah_max || e->mag == bd->mag_max);
}

static void
cell_tighten(struct place_cell *C)
{
	bounds_reset(&C->bd);
	for (int i = 0; i < C->n; i++)
		bounds_add(&C->bd, &C->e[i]);
	C->loose = false;
}

/* Makes the bounds of a bin and of all its cells tight. */
static void
bin_tighten(struct place_bin *B)
{
	bounds_reset(&B->bd);
	for (uint32_t m = B->mask; m != 0; m &= m - 1) {
		struct place_cell *C = &B->cell[__builtin_ctz(m)];

		if (C->loose)
			cell_tighten(C);
		bounds_merge(&B->bd, &C->bd);
	}
	B->loose = false;
}

/*
 * What q_over reads of the detector's view of the host, if the detector
 * has looked at it: for THR its demand, for the regressions also the line
 * through its newest points, when its history is a full window.
 */
static void
ent_detector(const struct pol_round *r, int h, struct place_ent *e)
{
	const struct pol_det_host *c = &r->det[h];
	const struct pol_host *H = &r->w->hosts[h];
	int w = r->p->overload.window;

	e->oq = false;
	if (!r->det_ok[h] || e->load == 0)
		return;
	e->req = c->req;
	e->ah = H->mig_mbs <= 0 ? 0 : ceil(c->ram / H->mig_mbs /
	    r->w->interval_s);
	switch (r->p->overload.detector) {
	case POL_DET_THR:
		e->oq = isfinite(e->req);
		break;
	case POL_DET_LR:
	case POL_DET_LRR:
	case POL_DET_BAND:
		if (w > POL_HIST_MAX)
			break;
		e->sure = c->sum[w - 1] > 0;
		e->l0 = c->la + c->lb * (w + 1);
		e->lb = c->lb;
		e->mag = c->lmag;
		e->oq = e->sure && isfinite(e->req) && isfinite(e->ah) &&
		    isfinite(e->l0) && isfinite(e->lb) && isfinite(e->mag);
		break;
	default:
		break;
	}
}

/*
 * Where host h belongs now: a cell, or WHERE_*; *x its committed
 * utilization, *off its offset.
 */
static int
place_where(const struct pol_round *r, int h, double *x, double *off)
{
	const struct pol_hot *t = &r->hot[h];
	int g = r->place->grp[h], b;
	const struct place_group *G;

	if (!(t->flags & HOT_PLACEABLE) ||
	    (r->excluded != NULL && r->excluded[h]))
		return WHERE_NONE;
	if ((t->flags & HOT_IDLE) && r->kind_no[h] >= 0)
		return WHERE_IDLE;
	if (g < 0)
		return WHERE_LOOSE;
	*x = t->load / t->cap;
	if (!(*x >= 0))
		return WHERE_LOOSE;
	/* A demand >= 0 only adds: nothing fits under the cap any more. */
	if (*x > fmin(1.0, r->p->placement.max_util))
		return WHERE_NONE;
	G = &r->place->g[g];
	*off = pol_power_at(G->power, *x);
	if (!(r->p->placement.order == POL_ORDER_EFFICIENCY &&
	    (t->flags & HOT_EMPTY)))
		*off -= r->now_w[h];
	if (isnan(*off) || isnan(t->avail) || isnan(t->ram_free) ||
	    isnan(t->bw_free) || isnan(r->now_w[h]))
		return WHERE_LOOSE;
	b = (int)(*x * PLACE_BINS);
	b = b < PLACE_BINS ? b : PLACE_BINS - 1;
	return (g * PLACE_BINS + b) * PLACE_CELLS + off_cell(G, *off);
}

static struct place_bin *
place_bin(struct pol_place *pl, int at)
{
	return &pl->g[at / PLACE_CELLS / PLACE_BINS].bin[at / PLACE_CELLS %
	    PLACE_BINS];
}

static void
place_unfile(struct pol_place *pl, const struct pol_round *r, int h)
{
	int at = pl->where[h], i = pl->pos[h];

	if (at >= 0) {
		struct place_bin *B = place_bin(pl, at);
		struct place_cell *C = &B->cell[at % PLACE_CELLS];
		struct place_ent old = C->e[i];

		C->e[i] = C->e[--C->n];
		pl->pos[C->e[i].h] = i;
		if (C->n == 0) {
			B->mask &= ~(1U << (at % PLACE_CELLS));
			bounds_reset(&C->bd);
			C->loose = false;
			B->loose = true;
		} else if (bounds_held(&C->bd, &old)) {
			C->loose = B->loose = true;
		} else {
			C->bd.nq -= !old.oq;
			B->bd.nq -= !old.oq;
		}
	} else if (at == WHERE_IDLE) {
		bits_clear(pl, r->kind_no[h], h);
	} else if (at == WHERE_LOOSE) {
		pl->loose[i] = pl->loose[--pl->nloose];
		pl->pos[pl->loose[i]] = i;
	}
	pl->where[h] = WHERE_NONE;
}

static void
place_file(struct pol_place *pl, const struct pol_round *r, int h, int at)
{
	if (at >= 0) {
		struct place_bin *B = place_bin(pl, at);
		struct place_cell *C = &B->cell[at % PLACE_CELLS];

		if (C->n == C->c) {
			C->c = C->c ? C->c * 2 : 16;
			C->e = ebb_reallocarray(C->e, C->c, sizeof(*C->e));
		}
		if (C->n == 0) {
			bounds_reset(&C->bd);
			C->loose = false;
		}
		if (B->mask == 0) {
			bounds_reset(&B->bd);
			B->loose = false;
		}
		pl->pos[h] = C->n++;
		B->mask |= 1U << (at % PLACE_CELLS);
	} else if (at == WHERE_IDLE) {
		bits_set(pl, r->kind_no[h], h);
	} else if (at == WHERE_LOOSE) {
		pl->pos[h] = pl->nloose;
		pl->loose[pl->nloose++] = h;
	}
	pl->where[h] = at;
}

/* Host h's hot copy, its draw, its detector's view or exclusion changed. */
void
pol_place_refresh(struct pol_round *r, int h)
{
	struct pol_place *pl = r->place;
	const struct pol_hot *t = &r->hot[h];
	struct place_bin *B;
	struct place_cell *C;
	struct place_ent *e, old;
	double x = 0, off = 0;
	int at;
	bool moved;

	if (r->find == POL_FIND_SCAN || !pl->live)
		return;
	at = place_where(r, h, &x, &off);
	moved = at != pl->where[h];

	if (moved) {
		place_unfile(pl, r, h);
		place_file(pl, r, h, at);
	}
	if (at < 0)
		return;
	B = place_bin(pl, at);
	C = &B->cell[at % PLACE_CELLS];
	e = &C->e[pl->pos[h]];
	if (!moved)
		old = *e;
	e->h = h;
	e->empty = t->flags & HOT_EMPTY;
	e->avail = t->avail;
	e->ram_free = t->ram_free;
	e->bw_free = t->bw_free;
	e->load = t->load;
	e->now = r->now_w[h];
	e->x = x;
	e->off = off;
	ent_detector(r, h, e);
	/* A host that changes in place leaves, then comes. */
	if (!moved && bounds_held(&C->bd, &old)) {
		C->loose = B->loose = true;
	} else if (!moved) {
		C->bd.nq -= !old.oq;
		B->bd.nq -= !old.oq;
	}
	bounds_add(&C->bd, e);
	bounds_add(&B->bd, e);
}

/* Files every host afresh, by the round's current exclusions. */
void
pol_place_reindex(struct pol_round *r)
{
	struct pol_place *pl = r->place;
	int nh = r->w->nhosts;

	if (r->find == POL_FIND_SCAN)
		return;
	for (int g = 0; g < pl->ng; g++) {
		for (int b = 0; b < PLACE_BINS; b++) {
			struct place_bin *B = &pl->g[g].bin[b];

			B->mask = 0;
			for (int k = 0; k < PLACE_CELLS; k++)
				B->cell[k].n = 0;
		}
	}
	for (int k = 0; k < ROUND_KINDS; k++) {
		memset(pl->idle[k], 0, pl->nwords * sizeof(uint64_t));
		memset(pl->idle_top[k], 0, ((pl->nwords + 63) / 64) *
		    sizeof(uint64_t));
	}
	pl->nloose = 0;
	for (int h = 0; h < nh; h++)
		pl->where[h] = WHERE_NONE;
	pl->live = true;
	for (int h = 0; h < nh; h++)
		pol_place_refresh(r, h);
}

/*
 * Groups the hosts.  They are filed by pol_place_reindex, which is when
 * the index starts to follow their changes: a round's first step, the
 * detection of overloaded hosts, changes many and places nothing.
 */
void
pol_place_begin(struct pol_round *r)
{
	const struct pol_fleet *w = r->w;
	struct pol_place *pl = r->place;
	int nh = EBB_MAX(w->nhosts, 1), last = -1;

	if (r->find == POL_FIND_SCAN)
		return;
	if (pl == NULL)
		pl = r->place = ebb_calloc(1, sizeof(*pl));
	pl->nwords = (nh + 63) / 64;
	if (pl->ch < nh) {
		pl->grp = ebb_reallocarray(pl->grp, nh, sizeof(*pl->grp));
		pl->where = ebb_reallocarray(pl->where, nh,
		    sizeof(*pl->where));
		pl->pos = ebb_reallocarray(pl->pos, nh, sizeof(*pl->pos));
		pl->loose = ebb_reallocarray(pl->loose, nh,
		    sizeof(*pl->loose));
		for (int k = 0; k < ROUND_KINDS; k++) {
			pl->idle[k] = ebb_reallocarray(pl->idle[k],
			    pl->nwords, sizeof(uint64_t));
			pl->idle_top[k] = ebb_reallocarray(pl->idle_top[k],
			    (pl->nwords + 63) / 64, sizeof(uint64_t));
		}
		pl->ch = nh;
	}
	pl->ng = 0;
	for (int h = 0; h < w->nhosts; h++) {
		const struct pol_host *H = &w->hosts[h];

		/* Neighbours are often of a kind: try the last group first. */
		if (last >= 0 && pl->g[last].power == H->power &&
		    group_has(&pl->g[last], H))
			pl->grp[h] = last;
		else
			pl->grp[h] = last = group_of(pl, H);
	}
	pl->live = false;
}

void
pol_place_free(struct pol_place *pl)
{
	if (pl == NULL)
		return;
	for (int g = 0; g < PLACE_GROUPS; g++) {
		if (pl->g[g].bin == NULL)
			continue;
		for (int b = 0; b < PLACE_BINS; b++)
			for (int k = 0; k < PLACE_CELLS; k++)
				free(pl->g[g].bin[b].cell[k].e);
		free(pl->g[g].bin);
	}
	for (int k = 0; k < ROUND_KINDS; k++) {
		free(pl->idle[k]);
		free(pl->idle_top[k]);
	}
	free(pl->grp);
	free(pl->where);
	free(pl->pos);
	free(pl->loose);
	free(pl);
}

/* ---- a query ------------------------------------------------------------- */

/* What judging the hosts of one group needs of the VM. */
struct place_q {
	const struct place_group *G;
	double		 a;		/* the bin being scanned: least A */
	double		 xcap;		/* utilization cap after placing */
	double		 req;
	double		 want;
	double		 ram;
	double		 bw;
	/* q_over: which test, and the VM's side of it. */
	int		 det;		/* POL_DET_*, or -1: no shortcut */
	double		 lim;
	double		 safety;
	double		 k;		/* margin per unit of mag and t */
	double		 t;		/* window + the VM's look-ahead */
	double		 t0;		/* window + 1, where l0 is taken */
	double		 win;
	double		 av;		/* the VM's look-ahead here */
	double		 s;		/* the VM's MIPS over the host's */
	double		 vla;
	double		 vlb;
	double		 smag;
};

static void
q_setup(const struct pol_round *r, const struct place_pick *pk,
    const struct place_group *G, bool line, struct place_q *q)
{
	const struct pol_policy *p = r->p;
	const struct pol_vm *v = &r->w->vms[pk->vm];

	q->G = G;
	q->xcap = fmin(1.0, p->placement.max_util);
	q->req = v->req_mips;
	q->want = v->req_mips > v->reserve_mips ? v->req_mips :
	    v->reserve_mips;
	q->ram = v->ram_use_mb;
	q->bw = v->bw_use;
	q->det = -1;
	q->safety = p->overload.safety;
	q->win = p->overload.window;
	q->t0 = q->win + 1;
	q->av = G->mig_mbs <= 0 ? 0 : ceil(v->ram_mb / G->mig_mbs /
	    r->w->interval_s);
	q->t = q->win + q->av;
	q->s = v->mips * v->pes / G->cap;
	q->vla = pk->dv.la;
	q->vlb = pk->dv.lb;
	q->smag = q->s * pk->dv.lmag;
	/* Twice det_quick's margin. */
	q->k = 2e-8 * (1 + fabs(q->safety));
	switch (p->overload.detector) {
	case POL_DET_THR:
		q->det = POL_DET_THR;
		q->lim = p->overload.threshold;
		break;
	case POL_DET_LR:
	case POL_DET_LRR:
		if (line && q->safety >= 0) {
			q->det = POL_DET_LR;
			q->lim = 1.0;
		}
		break;
	case POL_DET_BAND:
		/* conf × sd >= 0 only adds to the forecast. */
		if (line && q->safety >= 0 && p->overload.confidence >= 0) {
			q->det = POL_DET_BAND;
			q->lim = p->overload.band_high;
		}
		break;
	default:
		break;
	}
	if (!(isfinite(q->av) && isfinite(q->s)))
		q->det = -1;
}

/* A lower bound of the forecast of host + VM at t, for lines >= l0, lb. */
static double
q_pred(const struct place_q *q, double t, double l0, double lb_min,
    double lb_max)
{
	return l0 + (t >= q->t0 ? lb_min : lb_max) * (t - q->t0) +
	    q->s * (q->vla + q->vlb * t);
}

/*
 * Whether every host of the given bounds (one host: min = max) is surely
 * overloaded with the VM added, in a few operations: for THR exactly as
 * the detector computes it; for the regressions by the reasoning of
 * pol_detect.c's det_quick with twice its margin, so that where this says
 * yes the detector does too.  Only for hosts with load (the others are
 * never asked) whose history, and the VM's, is a full window (`oq`).
 */
static bool
q_over(const struct place_q *q, double req, double l0, double lb_min,
    double lb_max, double ah, double mag)
{
	double t2 = ah > q->av ? q->win + ah : q->t, pred, m;

	switch (q->det) {
	case POL_DET_BAND:
		if ((req + q->req) / q->G->cap > q->lim)
			return true;
		/* FALLTHROUGH */
	case POL_DET_LR:
		/* Each host's look-ahead lies between the VM's and ah. */
		pred = q_pred(q, q->t, l0, lb_min, lb_max);
		if (t2 != q->t)
			pred = fmin(pred, q_pred(q, t2, l0, lb_min, lb_max));
		m = q->k * (1 + mag + q->smag) * (1 + t2);
		return q->safety * pred - m >= q->lim;
	case POL_DET_THR:
		return (req + q->req) / q->G->cap > q->lim;
	default:
		return false;
	}
}

static bool
cell_over(const struct place_q *q, const struct place_bounds *bd)
{
	return bd->nq == 0 && q_over(q, bd->req_min, bd->l0_min, bd->lb_min,
	    bd->lb_max, bd->ah_max, bd->mag_max);
}

/* q_over for one host, which comes up for every would-be winner. */
static bool
ent_over(const struct place_q *q, const struct place_ent *e)
{
	double t, pred, m;

	if (!e->oq)
		return false;
	switch (q->det) {
	case POL_DET_BAND:
		if ((e->req + q->req) / q->G->cap > q->lim)
			return true;
		/* FALLTHROUGH */
	case POL_DET_LR:
		t = e->ah > q->av ? q->win + e->ah : q->t;
		pred = e->l0 + e->lb * (t - q->t0) + q->s * (q->vla +
		    q->vlb * t);
		m = q->k * (1 + e->mag + q->smag) * (1 + t);
		return q->safety * pred - m >= q->lim;
	case POL_DET_THR:
		return (e->req + q->req) / q->G->cap > q->lim;
	default:
		return false;
	}
}

/* Whether a cell may hold a host the VM can go to. */
static bool
cell_open(const struct place_q *q, const struct place_bounds *bd)
{
	return !(bd->avail_max < q->want || bd->ram_max < q->ram ||
	    bd->bw_max < q->bw) && !cell_over(q, bd);
}

/*
 * A(x, d) = P(x + d) - P(x) over bin b's x, cut at xhi (no host above
 * fits the VM).  P is linear inside the bin and P(x + d) bends at most
 * once there, where x + d crosses a tenth, so A is two straight pieces.
 */
static void
bin_a(struct place_group *G, int b, double d, double xhi)
{
	struct place_abin *ab = &G->ab[b];
	double lo = (double)b / PLACE_BINS, hi = (double)(b + 1) / PLACE_BINS;
	double ahi, bp;

	ab->lo = lo;
	ab->alo = curve_at(G->power, lo + d) - G->p_edge[b];
	if (hi <= xhi) {
		ahi = curve_at(G->power, hi + d) - G->p_edge[b + 1];
	} else {
		hi = xhi > lo ? xhi : lo;
		ahi = curve_at(G->power, hi + d) - curve_at(G->power, hi);
	}
	ab->hi = hi;
	bp = ceil((lo + d) * 10) / 10 - d;
	if (bp > lo && bp < hi) {
		ab->bp = bp;
		ab->abp = curve_at(G->power, bp + d) - curve_at(G->power, bp);
	} else {
		ab->bp = hi;
		ab->abp = ahi;
	}
	/* A piece too short to take a slope of is bounded by its least. */
	if (ab->bp - lo > 1e-9) {
		ab->s1 = (ab->abp - ab->alo) / (ab->bp - lo);
	} else {
		ab->s1 = 0;
		ab->alo = fmin(ab->alo, ab->abp);
	}
	if (hi - ab->bp > 1e-9) {
		ab->s2 = (ahi - ab->abp) / (hi - ab->bp);
	} else {
		ab->s2 = 0;
		ab->abp = fmin(ab->abp, ahi);
	}
	ab->min = fmin(fmin(ab->alo, ab->abp), ahi);
}

/* A at x, the bin's ends for x outside (no better bound there). */
static inline double
bin_a_at(const struct place_abin *ab, double x)
{
	if (x <= ab->bp)
		return x > ab->lo ? ab->alo + ab->s1 * (x - ab->lo) : ab->alo;
	return x < ab->hi ? ab->abp + ab->s2 * (x - ab->bp) : ab->abp +
	    ab->s2 * (ab->hi - ab->bp);
}

/* The least of A over [x0, x1] within the bin. */
static double
bin_a_min(const struct place_abin *ab, double x0, double x1)
{
	double m = fmin(bin_a_at(ab, x0), bin_a_at(ab, x1));

	if (x0 < ab->bp && ab->bp < x1)
		m = fmin(m, ab->abp);
	return m;
}

static void
cand_down(struct place_cand *c, int n, int i)
{
	for (;;) {
		int l = 2 * i + 1, s = i;
		struct place_cand t;

		if (l < n && c[l].lb < c[s].lb)
			s = l;
		if (l + 1 < n && c[l + 1].lb < c[s].lb)
			s = l + 1;
		if (s == i)
			return;
		t = c[i];
		c[i] = c[s];
		c[s] = t;
		i = s;
	}
}

/*
 * The cell of bin b after k that may hold the winner (a host with room
 * for the VM that it would not surely overload), and a bound of the costs
 * in it and in every later cell of the bin (whose offsets are higher);
 * -1 when none.
 */
static int
next_cell(const struct place_q *q, int b, int k, double *lb)
{
	const struct place_group *G = q->G;
	struct place_bin *B = &G->bin[b];
	uint32_t m = k + 1 < PLACE_CELLS ? B->mask & ~((1U << (k + 1)) - 1) :
	    0;

	for (; m != 0; m &= m - 1) {
		struct place_cell *C = &B->cell[__builtin_ctz(m)];

		/* A host changed while the query looked: tighter is cheaper. */
		if (C->loose)
			cell_tighten(C);
		if (!cell_open(q, &C->bd))
			continue;
		*lb = G->ab[b].min + C->bd.off_min - G->eps;
		return __builtin_ctz(m);
	}
	return -1;
}

/*
 * Judges the hosts of a cell as the scan judges them, the overload
 * shortcut first.  Many hosts that come this far are in a tie (hosts on
 * one straight piece of a curve, measured as committed, cost the same
 * but for rounding, and CloudSim's tie-breaking is decided by it), so the
 * cost is computed for each: a bound of each host's own cost spared less
 * than it cost.  The loop is cost_of and pick_consider written out,
 * operation for operation, for this case (no NaN in a cell; a curve's
 * numbers).
 */
static void
scan_cell(struct pol_round *r, struct place_pick *pk,
    const struct place_q *q, const struct place_cell *C)
{
	const struct place_group *G = q->G;
	const double *pw = G->power->w;
	const double want = q->want, ram = q->ram, bw = q->bw, req = q->req;
	const double cap = G->cap, xcap = q->xcap;
	const bool eff = r->p->placement.order == POL_ORDER_EFFICIENCY;
	const struct place_ent *e = C->e, *end = C->e + C->n;
	double best = pk->best;
	int pick = pk->h;

	for (; e < end; e++) {
		double after, x10, pa, cost;
		int k;

		if (e->avail < want || e->ram_free < ram || e->bw_free < bw)
			continue;
		/* pol_power_at's NaN, and the cap: no cost. */
		after = (e->load + req) / cap;
		if (!(after >= 0.0 && after <= xcap))
			continue;
		x10 = after * 10.0;
		k = (int)x10;
		pa = k >= 10 ? pw[10] : pw[k] + (pw[k + 1] - pw[k]) *
		    (x10 - k);
		cost = eff && e->empty ? pa : pa - e->now;
		if (cost > best || (cost == best && e->h > pick) ||
		    ent_over(q, e))
			continue;
		pick_consider(r, pk, e->h, cost, e->load);
		best = pk->best;
		pick = pk->h;
	}
}

/*
 * Scans the cell of a bin in the heap (unless the utilizations in it
 * bound its costs above the best) and moves on to the bin's next cell
 * that may hold the winner, with its bound; false when none is left.
 */
static bool
cand_step(struct pol_round *r, struct place_pick *pk,
    const struct place_q *q, struct place_cand *t)
{
	const struct place_group *G = &r->place->g[t->g];
	const struct place_cell *C = &G->bin[t->b].cell[t->k];

	if (!(bin_a_min(&G->ab[t->b], C->bd.x_min, C->bd.x_max) +
	    C->bd.off_min - G->eps > pk->best))
		scan_cell(r, pk, &q[t->g], C);
	t->k = next_cell(&q[t->g], t->b, t->k, &t->lb);
	return t->k >= 0;
}

static int
place_index(struct pol_round *r, int vm)
{
	struct pol_place *pl = r->place;
	const struct pol_policy *p = r->p;
	const struct pol_vm *v = &r->w->vms[vm];
	double want = v->req_mips > v->reserve_mips ? v->req_mips :
	    v->reserve_mips, per = want / v->pes, req = v->req_mips;
	double xcap = fmin(1.0, p->placement.max_util);
	struct place_pick pk = { .vm = vm, .h = -1, .best = DBL_MAX };
	struct place_cand *c = pl->cand;
	struct place_q q[PLACE_GROUPS];
	int nc = 0, w = p->overload.window;
	bool line;

	/*
	 * The bounds are for a demand that only adds, and scan_cell's tests
	 * for numbers.
	 */
	if (!(req >= 0 && req < INFINITY) || isnan(want) ||
	    isnan(v->ram_use_mb) || isnan(v->bw_use))
		return place_scan(r, vm);
	pol_det_vm_fill(p, r->w, vm, &pk.dv);
	pk.dv_ok = true;
	/*
	 * The VM's line may stand in for its history if that is a number
	 * and keeps a host's full window full (adds nothing negative).
	 */
	line = w <= POL_HIST_MAX && (v->nhist < w || v->hist[w - 1] >= 0) &&
	    v->mips * v->pes > 0 && v->ram_mb >= 0 && v->ram_mb < INFINITY &&
	    isfinite(pk.dv.la) && isfinite(pk.dv.lb) && isfinite(pk.dv.lmag);

	for (int k = 0; k < ROUND_KINDS; k++) {
		int h = bits_first(pl, k);

		if (h >= 0)
			pick_hot(r, &pk, h, want, per);
	}
	for (int i = 0; i < pl->nloose; i++)
		pick_hot(r, &pk, pl->loose[i], want, per);

	/* Each bin's first cell that may hold the winner. */
	for (int g = 0; g < pl->ng; g++) {
		struct place_group *G = &pl->g[g];
		double d = req / G->cap, xhi = xcap - d + 1e-12;

		if (!(G->pe_mips >= per) || !(xhi >= 0))
			continue;
		q_setup(r, &pk, G, line, &q[g]);
		for (int b = 0; b < PLACE_BINS; b++) {
			if ((double)b / PLACE_BINS > xhi)
				break;
			struct place_bin *B = &G->bin[b];
			double lb;
			int k;

			if (B->mask == 0)
				continue;
			if (B->loose)
				bin_tighten(B);
			if (!cell_open(&q[g], &B->bd))
				continue;
			bin_a(G, b, d, xhi);
			if ((k = next_cell(&q[g], b, -1, &lb)) >= 0)
				c[nc++] = (struct place_cand){ lb, g, b, k };
		}
	}

	/*
	 * Cells by their bound, cheapest first, while one could hold the
	 * winner.  A bin's cells come in the order of their offsets, so
	 * each bin has one cell in the heap at a time, and none after it
	 * can be cheaper.
	 */
	for (int i = nc / 2 - 1; i >= 0; i--)
		cand_down(c, nc, i);
	while (nc > 0 && !(c[0].lb > pk.best)) {
		if (!cand_step(r, &pk, q, &c[0]))
			c[0] = c[--nc];
		cand_down(c, nc, 0);
	}
	return pk.h;
}

/*
 * PABFD's host for vm, or -1, by the round's way of finding it (the
 * index unless a test asks otherwise).
 */
int
pol_place_find(struct pol_round *r, int vm)
{
	int a, b;

	switch (r->find) {
	case POL_FIND_SCAN:
		return place_scan(r, vm);
	case POL_FIND_CHECK:
		a = place_scan(r, vm);
		b = place_index(r, vm);
		if (a != b)
			r->mismatches++;
		return a;
	default:
		return place_index(r, vm);
	}
}
