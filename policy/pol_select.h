/*
 * pol_select.h - which VM to move off an overloaded host.
 */
#ifndef POL_SELECT_H
#define POL_SELECT_H

#include "ebb_rand.h"
#include "pol_fleet.h"
#include "pol_policy.h"

/*
 * Picks one VM listed on the host that may move (not migrating, not
 * pinned).  Returns its fleet index, or -1 if none may.  RS draws from rng.
 */
int	pol_select_vm(const struct pol_policy *, const struct pol_fleet *,
	    int host, struct ebb_rand *rng);

#endif /* POL_SELECT_H */
