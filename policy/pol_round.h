/*
 * pol_round.h - the working state of one planning round, shared by
 * pol_plan.c (the round's steps) and pol_place.c (PABFD's choice of a
 * host, and the index that makes it cheap on a large fleet).  Internal to
 * policy/.
 */
#ifndef POL_ROUND_H
#define POL_ROUND_H

#include <stdbool.h>

#include "pol_detect.h"
#include "pol_plan.h"

/* A host as placement reads it, packed; refreshed when its VMs change. */
struct pol_hot {
	double		 avail;
	double		 ram_free;
	double		 bw_free;
	double		 load;
	double		 cap;
	double		 pe_mips;
	const struct pol_power_curve *power;
	unsigned	 flags;
};

enum {
	HOT_PLACEABLE = 1,	/* on, or off and wakeable */
	HOT_IDLE = 2,		/* empty, idle, nothing committed */
	HOT_EMPTY = 4,		/* no VM listed */
};

#define ROUND_KINDS	16	/* host kinds told apart per round */

struct pol_place;		/* pol_place.c */

struct pol_round {
	const struct pol_policy	*p;
	struct pol_fleet	*w;
	/*
	 * The working copy: its own hosts, the input's VMs.  A round never
	 * writes a VM; where one is moved to is kept in vm_host.
	 */
	struct pol_fleet	 copy;
	int			 chosts;	/* hosts allocated in copy */
	int			*vm_host;	/* valid where vm_moved */
	unsigned char		*vm_moved;
	int			 cvms;

	/* Each host's draw at its measured utilization. */
	double			*now_w;
	/*
	 * The detector's view of each host (valid where det_ok), kept up
	 * to date as VMs are added and recomputed after a removal:
	 * detectors are asked about the same hosts over and over.
	 */
	struct pol_det_host	*det;
	unsigned char		*det_ok;
	struct pol_hot		*hot;
	/*
	 * Kinds: hosts interchangeable for placement when idle (the first
	 * host of the kind, or the host itself past ROUND_KINDS kinds), and
	 * the kind's number, or -1.
	 */
	int			*kind_of;
	int			*kind_no;
	unsigned char		*seen;		/* by kind: met in this scan */
	int			 cn;		/* per-host arrays allocated */

	/* Hosts placement may not choose now (NULL: none). */
	const unsigned char	*excluded;
	struct pol_place	*place;
	enum pol_find		 find;		/* not AUTO */
	long			 mismatches;
};

/*
 * Below this many hosts, or for fewer placements, placement scans every
 * host: building the index costs more than it saves.
 */
#define PLACE_MIN_HOSTS		256
#define PLACE_MIN_QUERIES	16

/* pol_plan.c */
bool	pol_round_overloaded(struct pol_round *, int h,
	    const struct pol_det_vm *);

/* pol_place.c: the index follows the hosts' hot copies and exclusions. */
void	pol_place_begin(struct pol_round *);
void	pol_place_reindex(struct pol_round *);
void	pol_place_refresh(struct pol_round *, int h);
void	pol_place_free(struct pol_place *);
int	pol_place_find(struct pol_round *, int vm);

#endif /* POL_ROUND_H */
