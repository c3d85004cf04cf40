/*
 * sim_engine.c - the simulator's clock, hosts, VMs, migrations and
 * accounting.  Decisions come from policy/ through pol_plan_round(), the
 * same call the controller makes.
 *
 * The cloudsim model follows CloudSim 3.0.3's event order closely, since
 * its figures depend on it; docs/cloudsim-model.md lists each behaviour.
 * The realistic model shares the machinery and changes what hosts draw,
 * how long things take and how SLA is counted.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "pol_plan.h"
#include "sim.h"

/* HP ProLiant ML110 G4 and G5 (SPECpower_ssj2008), as in CloudSim. */
static const struct sim_host_type host_types[] = {
	{ "HP ProLiant ML110 G4", 2, 1860, 4096, 1000000,
	    { { 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 } },
	    120, 30, 5, 117 },
	{ "HP ProLiant ML110 G5", 2, 2660, 4096, 1000000,
	    { { 93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135 } },
	    120, 30, 5, 135 },
};

/* CloudSim's four VM sizes, assigned to traces in quarters. */
static const struct sim_vm_type vm_types[] = {
	{ 2500, 870, 100000 },
	{ 2000, 1740, 100000 },
	{ 1000, 1740, 100000 },
	{ 500, 613, 100000 },
};

const struct sim_host_type *
sim_host_type_of(int i)
{
	return &host_types[i % 2];
}

void
sim_config_defaults(struct sim_config *c, enum sim_model m)
{
	memset(c, 0, sizeof(*c));
	c->model = m;
	c->nhosts = 800;
	c->seed = 42;
	c->interval_s = 300;
	c->limit_s = 86400;
	/* A fully busy 1-vCPU VM dirties ~20 MB/s: a modest web/app VM. */
	c->dirty_pages_per_mips = 20.0 * 256 / 2500;
	c->downtime_s = 0.3;
}

const char *
sim_model_name(enum sim_model m)
{
	return m == SIM_MODEL_CLOUDSIM ? "cloudsim" : "realistic";
}

int
sim_model_parse(const char *s)
{
	if (strcmp(s, "cloudsim") == 0)
		return SIM_MODEL_CLOUDSIM;
	if (strcmp(s, "realistic") == 0)
		return SIM_MODEL_REALISTIC;
	return -1;
}

/* A record of (time, allocated, requested, flag) replaced at equal times. */
struct sim_rec {
	bool	has;
	double	t;
	double	alloc;
	double	req;
	bool	flag;
};

struct sim_vm {
	const double	*util;	/* fractions, nutil values */
	int		 nutil;
	double		 hist_t;	/* time of the last history sample */
	bool		 removed;
	bool		 started;
	int		 home;		/* initial host, for the baseline */
	struct sim_rec	 rec;		/* flag: migrating out */
	double		 req_s;		/* Σ requested MIPS·s */
	double		 alloc_s;	/* Σ allocated MIPS·s */
	double		 mig_short_s;	/* Σ unmet MIPS·s while migrating */
	double		 short_time;	/* realistic: time with unmet demand */
	double		 live_time;	/* realistic: time it existed */
};

enum sim_hstate {
	HS_ON,
	HS_BOOTING,
	HS_SHUTTING,
	HS_OFF,
};

struct sim_host {
	double		 util_mips;
	double		 prev_util_mips;
	struct sim_rec	 rec;		/* flag: active */
	bool		 fin_active;	/* last finalised record's flag */
	double		 active_s;
	double		 short_s;	/* active time with allocated < requested */
	long		 shutdowns;
	enum sim_hstate	 st;
	double		 prev_w;	/* realistic: draw at the last update */
	bool		 off_when_empty; /* switch off once its VMs are gone */
	bool		 touched;	/* by the event batch being handled */
};

enum sim_ev_kind {
	EV_MIGRATED,
	EV_HOST_READY,
};

struct sim_ev {
	double		 t;
	long		 seq;
	enum sim_ev_kind kind;
	int		 vm;
	int		 host;
};

struct sim {
	const struct sim_config	*cfg;
	const struct pol_policy	*pol;
	struct pol_fleet	 f;
	struct sim_vm		*v;
	struct sim_host		*h;
	double			*utilbuf;
	struct sim_ev		*heap;
	int			 nheap;
	int			 cheap;
	long			 seq;
	double			 last;		/* last update time */
	double			 energy_j;
	double			 base_j;
	double			 base_prev_w;
	double			 base_prev_t;
	struct ebb_rand		 rng;
	struct sim_result	*r;
	int			 cpoints;
	struct pol_ws		 ws;		/* the planner's, kept */
};

static bool
realistic(const struct sim *s)
{
	return s->cfg->model == SIM_MODEL_REALISTIC;
}

static const struct sim_host_type *
host_type(const struct sim *s, int hi)
{
	if (s->cfg->types == NULL || s->cfg->ntypes <= 0)
		return sim_host_type_of(hi);
	return &s->cfg->types[hi % s->cfg->ntypes];
}

/* ---- event queue: a binary heap ordered by (time, sequence) ---------- */

static bool
ev_before(const struct sim_ev *a, const struct sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void
ev_push(struct sim *s, struct sim_ev e)
{
	int i;

	if (s->nheap == s->cheap) {
		s->cheap = s->cheap ? s->cheap * 2 : 256;
		s->heap = ebb_reallocarray(s->heap, s->cheap, sizeof(*s->heap));
	}
	e.seq = s->seq++;
	i = s->nheap++;
	while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
}

static struct sim_ev
ev_pop(struct sim *s)
{
	struct sim_ev top = s->heap[0], last = s->heap[--s->nheap];
	int i = 0;

	for (;;) {
		int c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && ev_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
	return top;
}

/* ---- workload ---------------------------------------------------------- */

/*
 * Utilization at time t, linear between samples (CloudSim's PlanetLab
 * utilization model); past the last sample it holds the last value.
 */
static double
vm_util(const struct sim *s, const struct sim_vm *v, double t)
{
	double iv = s->cfg->interval_s, x = t / iv;
	int i1 = (int)x, i2;	/* t >= 0 */

	if (i1 >= v->nutil - 1)
		return v->util[v->nutil - 1];
	if (x == i1)
		return v->util[i1];
	i2 = i1 + 1;
	return v->util[i1] + (v->util[i2] - v->util[i1]) / iv * (t - i1 * iv);
}

/* ---- records ------------------------------------------------------------- */

static void
vm_record(struct sim *s, int vi, double t, double alloc, double req, bool mig)
{
	struct sim_vm *v = &s->v[vi];
	struct sim_rec *p = &v->rec;

	if (p->has && p->t != t) {
		double dt = t - p->t;

		v->req_s += p->req * dt;
		v->alloc_s += p->alloc * dt;
		if (p->alloc < p->req && p->flag)
			v->mig_short_s += (p->req - p->alloc) * dt;
		if (realistic(s)) {
			v->live_time += dt;
			if (p->alloc < p->req)
				v->short_time += dt;
		}
	}
	*p = (struct sim_rec){ true, t, alloc, req, mig };
}

/* Closes the host's last record: it will not be replaced any more. */
static void
host_finalise(struct sim_host *hs)
{
	if (!hs->rec.flag && hs->fin_active)
		hs->shutdowns++;
	hs->fin_active = hs->rec.flag;
}

static void
host_record(struct sim_host *hs, double t, double alloc, double req,
    bool active)
{
	struct sim_rec *p = &hs->rec;

	if (p->has && p->t != t) {
		double dt = t - p->t;

		if (p->flag) {
			hs->active_s += dt;
			if (p->alloc < p->req)
				hs->short_s += dt;
		}
		host_finalise(hs);
	}
	*p = (struct sim_rec){ true, t, alloc, req, active };
}

/* ---- hosts and VMs --------------------------------------------------- */

/* A VM's demand follows its trace; every 300 s its history grows. */
static void
vm_update(struct sim *s, int vi, double t)
{
	struct sim_vm *v = &s->v[vi];
	struct pol_vm *pv = &s->f.vms[vi];
	double u = vm_util(s, v, t);

	if (!v->started) {
		/* Measured now: the admission reserve of a new VM ends. */
		v->started = true;
		pv->reserve_mips = 0;
	}
	pv->req_mips = u * pv->mips * pv->pes;
	/*
	 * CloudSim samples history only at the regular updates, which it
	 * recognises by (t - 0.1) being a multiple of the interval, in
	 * floating point; an update that misses by a rounding error adds no
	 * sample, so neither does this one.
	 */
	if (t > v->hist_t && fmod(t - 0.1, s->cfg->interval_s) == 0) {
		if (t != 0 || u != 0) {
			memmove(&pv->hist[1], &pv->hist[0],
			    (POL_HIST_MAX - 1) * sizeof(pv->hist[0]));
			pv->hist[0] = u;
			if (pv->nhist < POL_HIST_MAX)
				pv->nhist++;
		}
		v->hist_t = t;
	}
}

static double
host_power(const struct sim *s, int hi)
{
	const struct pol_host *H = &s->f.hosts[hi];
	const struct sim_host *hs = &s->h[hi];
	const struct sim_host_type *ty = host_type(s, hi);

	switch (hs->st) {
	case HS_OFF:
		return ty->off_w;
	case HS_BOOTING:
	case HS_SHUTTING:
		return ty->transition_w;
	case HS_ON:
		break;
	}
	return pol_power_at(H->power, EBB_MIN(H->util, 1.0));
}

static void
host_update(struct sim *s, int hi, double t)
{
	struct pol_host *H = &s->f.hosts[hi];
	struct sim_host *hs = &s->h[hi];
	double req = 0, cap = pol_host_mips(H), u;

	for (int i = 0; i < H->nslots; i++)
		vm_update(s, H->slots[i].vm, t);
	hs->prev_util_mips = hs->util_mips;
	pol_host_realloc(&s->f, hi);
	hs->util_mips = 0;
	for (int i = 0; i < H->nslots; i++) {
		const struct pol_slot *sl = &H->slots[i];
		const struct pol_vm *pv = &s->f.vms[sl->vm];
		double alloc = sl->alloc;

		/*
		 * A VM on its way in is the source's to account for: the
		 * target adds its reservation to what it runs and its full
		 * demand to what is asked of it, and records nothing for the
		 * VM.  The source grosses a migrating VM's allocation up by
		 * the copy's share, so it shows the VM's full demand.
		 */
		if (!sl->incoming) {
			vm_record(s, sl->vm, t, alloc, pv->req_mips,
			    pv->migrating);
			if (pv->migrating)
				alloc /= s->f.src_share;
		}
		hs->util_mips += alloc;
		req += pv->req_mips;
	}
	host_record(hs, t, hs->util_mips, req, hs->util_mips > 0);
	u = hs->util_mips / cap;
	if (u > 1 && u < 1.01)
		u = 1;
	H->util = u;
}

static double
interval_energy(const struct sim *s, int hi, double dt)
{
	const struct pol_host *H = &s->f.hosts[hi];
	const struct sim_host *hs = &s->h[hi];
	double cap = pol_host_mips(H), from, to;

	if (realistic(s))
		return (hs->prev_w + host_power(s, hi)) / 2 * dt;
	from = EBB_MIN(hs->prev_util_mips / cap, 1.0);
	to = EBB_MIN(hs->util_mips / cap, 1.0);
	/* A host that had nothing to run is off in CloudSim's accounting. */
	if (from == 0)
		return 0;
	return (pol_power_at(H->power, from) + pol_power_at(H->power, to)) / 2 *
	    dt;
}

/*
 * Hosts update (all of them, or the `n` in `list`), energy is counted for
 * the time since the last update, finished VMs leave.
 */
static void
update_hosts(struct sim *s, double t, const int *list, int n)
{
	double dt = t - s->last;
	int count = list ? n : s->f.nhosts;

	for (int k = 0; k < count; k++)
		host_update(s, list ? list[k] : k, t);
	if (dt > 0)
		for (int k = 0; k < count; k++)
			s->energy_j += interval_energy(s, list ? list[k] : k, dt);
	for (int k = 0; k < count; k++) {
		int hi = list ? list[k] : k;

		s->h[hi].prev_w = host_power(s, hi);
	}

	/*
	 * CloudSim takes a VM whose demand dropped to 0 for a finished one
	 * (its trace is 0 now and at the next sample) and removes it.
	 */
	if (!realistic(s)) {
		for (int k = 0; k < count; k++) {
			int hi = list ? list[k] : k;
			struct pol_host *H = &s->f.hosts[hi];

			for (int i = 0; i < H->nslots; i++) {
				int vi = H->slots[i].vm;
				struct pol_vm *pv = &s->f.vms[vi];

				if (pv->migrating || pv->req_mips != 0)
					continue;
				/*
				 * It leaves the host it is registered on; a
				 * stray listing elsewhere (a VM that was sent
				 * to two hosts in one round) goes too.
				 */
				pol_host_remove(&s->f, pv->host >= 0 ?
				    pv->host : hi, vi);
				pv->host = -1;
				if (!s->v[vi].removed)
					s->r->vms_removed++;
				s->v[vi].removed = true;
				i = -1;	/* the list changed: rescan it */
			}
		}
	}
	s->last = t;
}

static void
update_all(struct sim *s, double t)
{
	update_hosts(s, t, NULL, 0);
}

/* ---- migrations and power ---------------------------------------------- */

static double
migration_time(const struct sim *s, int vi, int to)
{
	const struct pol_vm *pv = &s->f.vms[vi];
	double mbs = s->f.hosts[to].mig_mbs, dirty, rho;

	if (!realistic(s))
		return pv->ram_mb / mbs;
	/*
	 * Pre-copy: each round resends what the last one dirtied, so the
	 * copy takes RAM / (link - dirty rate) until the remainder fits the
	 * downtime.  Past 90 % of the link, auto-converge throttles the VM.
	 */
	dirty = pv->req_mips * s->cfg->dirty_pages_per_mips * 4096 / 1048576;
	rho = EBB_MIN(dirty / mbs, 0.9);
	return pv->ram_mb / mbs / (1 - rho) + s->cfg->downtime_s;
}

static void
start_migration(struct sim *s, int vi, int to, double t, double start)
{
	struct pol_vm *pv = &s->f.vms[vi];
	int src = pv->host;

	int k;

	if (pv->host < 0)
		return;
	/* A host that receives a VM is wanted: forget an earlier switch-off. */
	s->h[to].off_when_empty = false;
	k = pol_host_find(&s->f.hosts[to], vi);
	if (k < 0 || !s->f.hosts[to].slots[k].incoming) {
		pv->migrating = true;
		pol_host_add(&s->f, to, vi, true);
		host_update(s, to, t);
		host_update(s, src, t);
	}
	s->r->migrations++;
	ev_push(s, (struct sim_ev){ .t = start + migration_time(s, vi, to),
	    .kind = EV_MIGRATED, .vm = vi, .host = to });
}

static void
switch_off(struct sim *s, int hi, double t)
{
	struct pol_host *H = &s->f.hosts[hi];
	struct sim_host *hs = &s->h[hi];

	/*
	 * The invariant: a host with any VM listed, settled or on its way in
	 * or out, is never switched off, whatever a plan says.  The plan's
	 * wish is kept and honoured when the last VM has left.
	 */
	if (hs->st != HS_ON)
		return;
	if (H->nslots != 0) {
		hs->off_when_empty = true;
		return;
	}
	hs->off_when_empty = false;
	hs->st = HS_SHUTTING;
	H->state = POL_HOST_POWERING_OFF;
	s->r->host_shutdowns++;
	ev_push(s, (struct sim_ev){ .t = t + host_type(s, hi)->shutdown_s,
	    .kind = EV_HOST_READY, .vm = -1, .host = hi });
}

static void
finish_migration(struct sim *s, int vi, int to, double t)
{
	struct pol_vm *pv = &s->f.vms[vi];
	int src = pv->host;

	/* The copy on the source goes; the target's copy becomes the VM. */
	if (src >= 0)
		pol_host_remove(&s->f, src, vi);
	pol_host_remove(&s->f, to, vi);
	pv->migrating = false;
	pol_host_add(&s->f, to, vi, false);
	pv->host = to;
	if (src >= 0 && s->h[src].off_when_empty)
		switch_off(s, src, t);
}

static void
power_action(struct sim *s, const struct pol_action *a, double t)
{
	struct pol_host *H = &s->f.hosts[a->host];
	struct sim_host *hs = &s->h[a->host];
	const struct sim_host_type *ty = host_type(s, a->host);

	if (a->kind == POL_ACT_POWER_OFF) {
		switch_off(s, a->host, t);
	} else if (a->kind == POL_ACT_POWER_ON) {
		if (hs->st != HS_OFF)
			return;
		hs->st = HS_BOOTING;
		H->state = POL_HOST_POWERING_ON;
		s->r->host_boots++;
		ev_push(s, (struct sim_ev){ .t = t + ty->boot_s,
		    .kind = EV_HOST_READY, .vm = -1, .host = a->host });
	}
}

static void
host_ready(struct sim *s, int hi)
{
	struct sim_host *hs = &s->h[hi];

	if (hs->st == HS_BOOTING) {
		hs->st = HS_ON;
		s->f.hosts[hi].state = POL_HOST_ON;
	} else if (hs->st == HS_SHUTTING) {
		hs->st = HS_OFF;
		s->f.hosts[hi].state = POL_HOST_OFF;
	}
}

/* ---- a planning round ---------------------------------------------------- */

/*
 * CloudSim restores every host's VM list after planning with the VMs
 * migrating in first; list order breaks selection ties, so keep it.
 */
static void
incoming_first(struct sim *s)
{
	for (int hi = 0; hi < s->f.nhosts; hi++) {
		struct pol_host *H = &s->f.hosts[hi];
		struct pol_slot tmp[64], *buf = H->nslots <= 64 ? tmp :
		    ebb_reallocarray(NULL, H->nslots, sizeof(*buf));
		int n = 0;

		for (int i = 0; i < H->nslots; i++)
			if (H->slots[i].incoming)
				buf[n++] = H->slots[i];
		if (n == 0 || n == H->nslots) {
			if (buf != tmp)
				free(buf);
			continue;
		}
		for (int i = 0; i < H->nslots; i++)
			if (!H->slots[i].incoming)
				buf[n++] = H->slots[i];
		memcpy(H->slots, buf, n * sizeof(*buf));
		if (buf != tmp)
			free(buf);
	}
}

static void
record_point(struct sim *s, double t)
{
	struct sim_result *r = s->r;
	double w = 0, active = 0, base = 0;
	double *hostreq = ebb_calloc(s->f.nhosts, sizeof(*hostreq));

	for (int hi = 0; hi < s->f.nhosts; hi++) {
		if (realistic(s) ? s->h[hi].st != HS_OFF :
		    s->f.hosts[hi].util > 0) {
			active++;
			w += host_power(s, hi);
		}
	}
	/* The baseline: VMs stay where they started, every host stays on. */
	for (int vi = 0; vi < s->f.nvms; vi++)
		if (s->v[vi].home >= 0)
			hostreq[s->v[vi].home] += vm_util(s, &s->v[vi], t) *
			    s->f.vms[vi].mips * s->f.vms[vi].pes;
	for (int hi = 0; hi < s->f.nhosts; hi++)
		base += pol_power_at(s->f.hosts[hi].power, EBB_MIN(1.0,
		    hostreq[hi] / pol_host_mips(&s->f.hosts[hi])));
	free(hostreq);
	if (r->npoints > 0)
		s->base_j += (s->base_prev_w + base) / 2 * (t - s->base_prev_t);
	s->base_prev_w = base;
	s->base_prev_t = t;

	if (r->npoints == s->cpoints) {
		s->cpoints = s->cpoints ? s->cpoints * 2 : 512;
		r->t_s = ebb_reallocarray(r->t_s, s->cpoints, sizeof(double));
		r->active_hosts = ebb_reallocarray(r->active_hosts, s->cpoints,
		    sizeof(double));
		r->power_w = ebb_reallocarray(r->power_w, s->cpoints,
		    sizeof(double));
		r->baseline_w = ebb_reallocarray(r->baseline_w, s->cpoints,
		    sizeof(double));
	}
	r->t_s[r->npoints] = t;
	r->active_hosts[r->npoints] = active;
	r->power_w[r->npoints] = w;
	r->baseline_w[r->npoints] = base;
	r->npoints++;
}

static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
plan_and_act(struct sim *s, double t)
{
	struct pol_plan pl;
	double c0 = cpu_seconds();

	pol_plan_init(&pl);
	pol_plan_round_ws(s->pol, &s->f, &s->rng, &s->ws, &pl);
	s->r->plan_cpu_s += cpu_seconds() - c0;
	if (getenv("EBB_SIM_DEBUG"))
		fprintf(stderr, "t=%.1f over=%d drained=%d acts=%d notes=%d\n",
		    t, pl.noverloaded, pl.ndrained, pl.nacts, pl.nnotes);
	s->r->rounds++;
	incoming_first(s);
	for (int hi = 0; hi < s->f.nhosts; hi++)
		pol_host_realloc(&s->f, hi);

	for (int i = 0; i < pl.nacts; i++) {
		const struct pol_action *a = &pl.acts[i];

		switch (a->kind) {
		case POL_ACT_MIGRATE: {
			double start = t;

			/* A migration to a booting host waits for it. */
			if (realistic(s) && s->h[a->to].st == HS_BOOTING)
				start = t + host_type(s, a->to)->boot_s;
			start_migration(s, a->vm, a->to, t, start);
			break;
		}
		case POL_ACT_POWER_ON:
		case POL_ACT_POWER_OFF:
			if (realistic(s))
				power_action(s, a, t);
			break;
		}
	}
	pol_plan_free(&pl);
}

/* ---- set-up ---------------------------------------------------------------- */

static void
setup(struct sim *s, const struct sim_workload *w)
{
	const struct sim_config *c = s->cfg;
	int n = w->ntraces, per_type = (n + 3) / 4;
	int len = 0;

	for (int i = 0; i < n; i++)
		len = EBB_MAX(len, w->traces[i].n);
	/* One more sample than the trace, as CloudSim's array has. */
	len++;
	s->utilbuf = ebb_calloc((size_t)n * len, sizeof(double));

	pol_fleet_init(&s->f);
	s->f.interval_s = c->interval_s;
	s->f.nhosts = c->nhosts;
	s->f.hosts = ebb_calloc(c->nhosts, sizeof(*s->f.hosts));
	s->h = ebb_calloc(c->nhosts, sizeof(*s->h));
	for (int i = 0; i < c->nhosts; i++) {
		const struct sim_host_type *ty = host_type(s, i);
		struct pol_host *H = &s->f.hosts[i];

		H->id = i;
		H->pes = ty->pes;
		H->pe_mips = ty->pe_mips;
		H->ram_mb = ty->ram_mb;
		H->bw = ty->bw;
		/* Half the link is for migration, in MB/s (CloudSim's BW/2). */
		H->mig_mbs = ty->bw / (2 * 8000);
		H->power = &ty->power;
		H->state = POL_HOST_ON;
		pol_host_realloc(&s->f, i);
		s->h[i].st = HS_ON;
		/* CloudSim counts a host idle at its first record as a shutdown. */
		s->h[i].fin_active = true;
	}

	s->f.nvms = n;
	s->f.vms = ebb_calloc(EBB_MAX(n, 1), sizeof(*s->f.vms));
	s->v = ebb_calloc(EBB_MAX(n, 1), sizeof(*s->v));
	for (int i = 0; i < n; i++) {
		const struct sim_vm_type *vt = &vm_types[EBB_MIN(i / per_type, 3)];
		struct pol_vm *pv = &s->f.vms[i];
		struct sim_vm *v = &s->v[i];
		double *u = s->utilbuf + (size_t)i * len;

		for (int k = 0; k < w->traces[i].n; k++)
			u[k] = w->traces[i].pct[k] / 100.0;
		/* Past the end the last sample holds (CloudSim's too). */
		for (int k = w->traces[i].n; k < len; k++)
			u[k] = w->traces[i].n ? u[w->traces[i].n - 1] : 0;
		v->util = u;
		v->nutil = len;
		v->home = -1;
		pv->id = i;
		pv->host = -1;
		pv->pes = 1;
		pv->mips = vt->mips;
		pv->ram_mb = vt->ram_mb;
		pv->ram_use_mb = vt->ram_mb;
		pv->bw_use = vt->bw;
	}
}

/*
 * At t = 0 CloudSim creates the VMs one by one, each asking for its full
 * size, with the migration policy's own placement; a VM already placed
 * asks nothing (it has no work yet) but keeps its full allocation.
 */
static void
place_all(struct sim *s)
{
	for (int i = 0; i < s->f.nvms; i++) {
		struct pol_vm *pv = &s->f.vms[i];

		pv->req_mips = pv->mips * pv->pes;
		pv->reserve_mips = pv->req_mips;
		if (pol_place_initial_ws(s->pol, &s->f, &i, 1, &s->ws) != 0) {
			s->r->vms_unplaced++;
			s->v[i].removed = true;
		}
		pv->req_mips = 0;
		s->v[i].home = pv->host;
	}
	/*
	 * In CloudSim's PlanetLab set-up a running VM asks for its RAM and
	 * bandwidth through the workload's utilization models, which are
	 * null: after creation a VM holds no RAM or bandwidth as far as
	 * placement is concerned, so hosts are limited by CPU alone.  The
	 * realistic model keeps both held for the VM's whole life.
	 */
	if (!realistic(s)) {
		for (int i = 0; i < s->f.nvms; i++)
			s->f.vms[i].ram_use_mb = s->f.vms[i].bw_use = 0;
		for (int hi = 0; hi < s->f.nhosts; hi++)
			pol_host_realloc(&s->f, hi);
	}
}

static void
finish(struct sim *s)
{
	struct sim_result *r = s->r;
	double req = 0, alloc = 0, mig = 0, active = 0, shortf = 0;
	double live = 0, vshort = 0;

	for (int hi = 0; hi < s->f.nhosts; hi++) {
		host_finalise(&s->h[hi]);
		active += s->h[hi].active_s;
		shortf += s->h[hi].short_s;
		if (!realistic(s))
			r->host_shutdowns += s->h[hi].shutdowns;
	}
	for (int vi = 0; vi < s->f.nvms; vi++) {
		req += s->v[vi].req_s;
		alloc += s->v[vi].alloc_s;
		mig += s->v[vi].mig_short_s;
		live += s->v[vi].live_time;
		vshort += s->v[vi].short_time;
	}
	r->energy_kwh = s->energy_j / 3.6e6;
	r->baseline_kwh = s->base_j / 3.6e6;
	if (realistic(s))
		r->slatah = live > 0 ? vshort / live : 0;
	else
		r->slatah = active > 0 ? shortf / active : 0;
	r->pdm = req > 0 ? mig / req : 0;
	r->sla_overall = req > 0 ? (req - alloc) / req : 0;
	r->slav = r->slatah * r->pdm;
	r->esv = r->energy_kwh * r->slav;
	if (r->npoints > 0) {
		double sum = 0;

		for (int i = 0; i < r->npoints; i++)
			sum += r->active_hosts[i];
		r->mean_active_hosts = sum / r->npoints;
	}
}

/* Adds host hi to the list of hosts an event batch touched, once. */
static void
involve(struct sim *s, int hi, int *list, int *n)
{
	if (hi < 0 || s->h[hi].touched)
		return;
	s->h[hi].touched = true;
	list[(*n)++] = hi;
}

int
sim_run(const struct sim_config *c, const struct pol_policy *pol,
    const struct sim_workload *w, struct sim_result *r, struct ebb_err *err)
{
	struct sim s;
	double t;
	int *inv, ninv;

	memset(r, 0, sizeof(*r));
	if (w->ntraces == 0) {
		ebb_err_set(err, "the workload has no traces");
		return -EINVAL;
	}
	if (c->nhosts <= 0) {
		ebb_err_set(err, "the fleet has no hosts");
		return -EINVAL;
	}
	memset(&s, 0, sizeof(s));
	pol_ws_init(&s.ws);
	s.cfg = c;
	s.pol = pol;
	s.r = r;
	r->model = c->model;
	r->nhosts = c->nhosts;
	r->nvms = w->ntraces;
	ebb_rand_seed(&s.rng, c->seed ? c->seed : pol->selection.seed);
	setup(&s, w);
	place_all(&s);
	inv = ebb_reallocarray(NULL, c->nhosts, sizeof(*inv));

	/*
	 * CloudSim's workload arrives at 0.1 s and the datacenter updates
	 * every interval from then; the clock is a sum of floating-point
	 * steps, and the history test above depends on its exact values.
	 */
	t = 0.1 + c->interval_s;
	for (;;) {
		if (s.nheap > 0 && s.heap[0].t < t) {
			double te = s.heap[0].t;

			if (te > c->limit_s)
				break;
			if (te > s.last)
				update_all(&s, te);
			/* Every event due now, in the order they were sent. */
			ninv = 0;
			while (s.nheap > 0 && s.heap[0].t == te) {
				struct sim_ev e = ev_pop(&s);

				if (e.kind == EV_MIGRATED) {
					involve(&s, s.f.vms[e.vm].host, inv, &ninv);
					finish_migration(&s, e.vm, e.host, te);
				} else
					host_ready(&s, e.host);
				involve(&s, e.host, inv, &ninv);
			}
			/*
			 * CloudSim updates every host again now; for a host
			 * no event touched that repeats the update just made
			 * at the same time, so only the touched ones are.
			 */
			update_hosts(&s, te, inv, ninv);
			for (int k = 0; k < ninv; k++)
				s.h[inv[k]].touched = false;
			continue;
		}
		if (t > c->limit_s)
			break;
		update_all(&s, t);
		record_point(&s, t);
		plan_and_act(&s, t);
		t += c->interval_s;
	}
	finish(&s);

	for (int hi = 0; hi < s.f.nhosts; hi++)
		s.f.hosts[hi].power = NULL;
	pol_fleet_free(&s.f);
	pol_ws_free(&s.ws);
	free(s.v);
	free(s.h);
	free(s.utilbuf);
	free(s.heap);
	free(inv);
	return 0;
}

void
sim_result_free(struct sim_result *r)
{
	free(r->t_s);
	free(r->active_hosts);
	free(r->power_w);
	free(r->baseline_w);
	memset(r, 0, sizeof(*r));
}
