/*
 * pol_fleet.h - the fleet as the policy sees it: hosts, VMs, and which VMs
 * each host holds.  The controller fills it from agents' reports, the
 * simulator from its model; the policy plans on a private copy.
 *
 * Capacity accounting follows CloudSim's time-shared, over-subscribable
 * scheduler, because that is what the published reference numbers were
 * measured with and because it is a sound model of a real host:
 *  - a VM asks for its current demand, each vCPU capped at one core;
 *  - a VM migrating in asks only `dst_share` of its demand (the copy runs on
 *    the source) and a VM migrating out gets `src_share` of it (the copy
 *    steals cycles); for planning, a VM migrating in is counted at its full
 *    demand, since it will run there once the copy ends;
 *  - when the requests exceed the host, every allocation is scaled down by
 *    the same factor.
 */
#ifndef POL_FLEET_H
#define POL_FLEET_H

#include <stdbool.h>

#define POL_HIST_MAX	30	/* utilization samples kept per VM */

/* A SPECpower-style curve: watts at 0, 10, ..., 100 % utilization. */
struct pol_power_curve {
	double	w[11];
};

/*
 * Watts at utilization u in [0, 1] (linear between points); NAN outside.
 * Inline: placement asks it for every candidate host of every VM.
 */
static inline double
pol_power_at(const struct pol_power_curve *c, double u)
{
	double x;
	int i;

	if (!(u >= 0.0 && u <= 1.0))
		return __builtin_nan("");
	x = u * 10.0;
	i = (int)x;		/* x >= 0: truncation is floor */
	if (i >= 10)
		return c->w[10];
	return c->w[i] + (c->w[i + 1] - c->w[i]) * (x - i);
}

/*
 * Host states (docs/architecture.md).  The policy places VMs only on ON
 * hosts, and on OFF hosts by asking for them to be powered on; it never
 * touches a host in any other state.
 */
enum pol_host_state {
	POL_HOST_ON,
	POL_HOST_DRAINING,
	POL_HOST_EMPTY,
	POL_HOST_POWERING_OFF,
	POL_HOST_OFF,
	POL_HOST_POWERING_ON,
	POL_HOST_UNKNOWN,	/* agent silent: never a target, never off */
	POL_HOST_FAILED,	/* did not come back: operator must clear */
	POL_HOST_MAINTENANCE,	/* operator's: no placement, no power-off */
};

const char *pol_host_state_name(enum pol_host_state);

struct pol_vm {
	int	id;		/* the operator's / trace's identifier */
	int	host;		/* index of the host it runs on (source while
				   migrating), -1 when not placed */
	int	pes;		/* vCPUs */
	double	mips;		/* capacity of one vCPU */
	double	ram_mb;		/* memory size: what a migration copies */
	double	ram_use_mb;	/* memory it holds on its host */
	double	bw_use;		/* network bandwidth it holds on its host */
	double	req_mips;	/* current total demand, uncapped */
	double	reserve_mips;	/* admission floor for a VM not measured
				   yet: a new VM is placed at its full size */
	int	nhist;
	double	hist[POL_HIST_MAX]; /* utilization of pes*mips, [0] newest */
	bool	migrating;
	bool	pinned;		/* operator: never move */
};

/* One VM listed on a host. */
struct pol_slot {
	int	vm;		/* index into the fleet's VMs */
	bool	incoming;	/* migrating in: only a share runs here */
	double	alloc;		/* MIPS allocated here (pol_host_realloc) */
};

struct pol_host {
	int	id;
	int	pes;
	double	pe_mips;
	double	ram_mb;
	double	bw;
	double	mig_mbs;	/* MB/s one migration out of it can use */
	const struct pol_power_curve *power;
	enum pol_host_state state;
	bool	reserve;	/* operator: keep on even when empty */
	double	util;		/* measured utilization, last sample (0..1) */

	/* What it holds, in order; kept by pol_host_add/remove. */
	struct pol_slot *slots;
	int	nslots;
	int	cslots;

	/* Derived by pol_host_realloc from the slots. */
	double	avail_mips;	/* free for admission */
	double	load_mips;	/* committed load, incoming counted in full */
	double	ram_used;
	double	bw_used;
};

struct pol_fleet {
	struct pol_host	*hosts;
	int		 nhosts;
	struct pol_vm	*vms;
	int		 nvms;
	double		 interval_s;	/* between planning rounds */
	double		 src_share;	/* share a migrating VM gets at source */
	double		 dst_share;	/* share reserved at the target */
};

static inline double
pol_host_mips(const struct pol_host *h)
{
	return h->pes * h->pe_mips;
}

/* Sets shares to CloudSim's 0.9 / 0.1 and the interval to 300 s. */
void	pol_fleet_init(struct pol_fleet *);
void	pol_fleet_free(struct pol_fleet *);
/* Deep copy; dst must be uninitialised or freed. */
void	pol_fleet_copy(struct pol_fleet *dst, const struct pol_fleet *src);

/* Membership.  Both recompute the host's allocations. */
void	pol_host_add(struct pol_fleet *, int host, int vm, bool incoming);
void	pol_host_remove(struct pol_fleet *, int host, int vm);
/* Index of vm in host's slots, or -1. */
int	pol_host_find(const struct pol_host *, int vm);
/* Recomputes slot allocations, avail_mips, load_mips, ram and bw used. */
void	pol_host_realloc(struct pol_fleet *, int host);

/* Σ demand of the VMs listed on the host / host MIPS (uncapped). */
double	pol_host_req_util(const struct pol_fleet *, int host);
/*
 * The host's utilization history: Σ over listed VMs of their history
 * scaled to the host, newest first, trailing zeros trimmed.  Returns the
 * number of points written to out (at most POL_HIST_MAX).
 */
int	pol_host_history(const struct pol_fleet *, int host, double *out);
/*
 * The same sums untrimmed, all POL_HIST_MAX of them, in list order;
 * returns the longest VM history.  pol_host_history_add adds one more VM
 * as if appended to the list, so a caller can keep sums up to date.
 */
int	pol_host_history_sum(const struct pol_fleet *, int host, double *sum);
void	pol_host_history_add(const struct pol_fleet *, int host, int vm,
	    double *sum, int *n);
/*
 * Whether a VM fits: per-vCPU demand, free MIPS, RAM, bandwidth.  A VM
 * not measured yet is admitted at its reserve (its full size).  Inline,
 * for the same reason as pol_power_at.
 */
static inline bool
pol_host_suitable(const struct pol_fleet *f, int hi, int vm)
{
	const struct pol_host *h = &f->hosts[hi];
	const struct pol_vm *v = &f->vms[vm];
	double want = v->req_mips > v->reserve_mips ? v->req_mips :
	    v->reserve_mips;

	return h->pe_mips >= want / v->pes &&
	    h->avail_mips >= want &&
	    h->ram_mb - h->ram_used >= v->ram_use_mb &&
	    h->bw - h->bw_used >= v->bw_use;
}

#endif /* POL_FLEET_H */
