/*
 * pol_plan.h - one planning round: from a fleet snapshot to a plan of
 * migrations and power actions, with the reasons for each, and notes on
 * what was considered and not done.
 *
 * The round is pure: the same policy, fleet and seed give the same plan,
 * which is what lets the simulator stand in for the controller and lets a
 * journalled round be replayed.
 */
#ifndef POL_PLAN_H
#define POL_PLAN_H

#include "ebb_rand.h"
#include "pol_fleet.h"
#include "pol_policy.h"

enum pol_action_kind {
	POL_ACT_MIGRATE,
	POL_ACT_POWER_ON,
	POL_ACT_POWER_OFF,
};

enum pol_reason {
	POL_WHY_OVERLOAD,	/* moved off an overloaded host */
	POL_WHY_UNDERLOAD,	/* moved to empty an underloaded host */
	POL_WHY_EMPTY,		/* the host has no VM left: switch it off */
	POL_WHY_NEEDED,		/* a VM was placed on it: switch it on */
};

struct pol_action {
	enum pol_action_kind kind;
	enum pol_reason	 why;
	int		 vm;	/* fleet index (MIGRATE), else -1 */
	int		 from;	/* host index (MIGRATE) */
	int		 to;	/* host index (MIGRATE) */
	int		 host;	/* host index (POWER_*) */
};

/* Things considered and not done, so that "why not" has an answer. */
enum pol_note_kind {
	POL_NOTE_NO_TARGET,	/* a VM of an overloaded host fits nowhere */
	POL_NOTE_DRAIN_FAILED,	/* underloaded host kept: `vm` fits nowhere */
	POL_NOTE_PINNED,	/* host kept: it holds a pinned VM */
	POL_NOTE_RESERVE,	/* empty host kept on as reserve */
	POL_NOTE_MIN_HOSTS,	/* empty host kept on: minimum hosts on */
	POL_NOTE_NOT_MANAGED,	/* host in a state the policy leaves alone */
	POL_NOTE_WAKE_DEFERRED,	/* overloaded, `vm` fits only on a host to
				   wake, and the overload is younger than
				   power.wake_after_samples */
};

struct pol_note {
	enum pol_note_kind kind;
	int		 host;
	int		 vm;	/* -1 when not about one VM */
};

struct pol_plan {
	struct pol_action *acts;
	int		 nacts;
	int		 cacts;
	struct pol_note	*notes;
	int		 nnotes;
	int		 cnotes;
	int		 noverloaded;	/* hosts found overloaded */
	int		 ndrained;	/* underloaded hosts emptied */
};

/*
 * Memory a caller that plans every interval keeps between rounds, so the
 * working copy of the fleet and the placement index are not allocated and
 * faulted in each time.  Zero it with pol_ws_init; it holds nothing the
 * next round depends on.
 */
struct pol_round;		/* pol_round.h */

/*
 * How placement finds a host (for tests and benchmarks; the plan is the
 * same every way): through the index on fleets large enough to pay for
 * it, always through the index, by the plain scan of every host, or both,
 * counting the placements where they disagree and going by the scan.
 */
enum pol_find {
	POL_FIND_AUTO,
	POL_FIND_INDEX,
	POL_FIND_SCAN,
	POL_FIND_CHECK,
};

struct pol_ws {
	struct pol_round *r;
	enum pol_find	 find;
	long		 find_mismatches;	/* POL_FIND_CHECK */
};

void	pol_ws_init(struct pol_ws *);
void	pol_ws_free(struct pol_ws *);

void	pol_plan_init(struct pol_plan *);
void	pol_plan_free(struct pol_plan *);

/*
 * Plans one round on `f` (left unchanged).  Migrations come in the order
 * they should start; a VM may appear twice when a policy allows it (the
 * reference policies do, as CloudSim did), the later move superseding.
 * POWER_ON actions precede the first migration to that host.
 */
void	pol_plan_round(const struct pol_policy *, const struct pol_fleet *f,
	    struct ebb_rand *rng, struct pol_plan *);
/* The same with a caller's workspace (same plan, less allocation). */
void	pol_plan_round_ws(const struct pol_policy *, const struct pol_fleet *f,
	    struct ebb_rand *rng, struct pol_ws *, struct pol_plan *);

/*
 * Places VMs that have no host yet (vm.host == -1) one by one, in the
 * given order, with the policy's placement; used for a fleet's first
 * placement.  Places them in f itself (vm.host set, host slots added).
 * Returns the number that found no host.
 */
int	pol_place_initial(const struct pol_policy *, struct pol_fleet *f,
	    const int *vms, int nvms);
int	pol_place_initial_ws(const struct pol_policy *, struct pol_fleet *f,
	    const int *vms, int nvms, struct pol_ws *);

const char *pol_reason_name(enum pol_reason);
const char *pol_note_name(enum pol_note_kind);

#endif /* POL_PLAN_H */
