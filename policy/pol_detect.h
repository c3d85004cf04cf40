/*
 * pol_detect.h - host overload detection.
 */
#ifndef POL_DETECT_H
#define POL_DETECT_H

#include <stdbool.h>

#include "pol_fleet.h"
#include "pol_policy.h"

/*
 * Whether the host is overloaded now by the policy's detector, judged on
 * the VMs currently listed on it (a VM migrating in counts).
 */
bool	pol_overloaded(const struct pol_policy *, const struct pol_fleet *,
	    int host);

/*
 * Whether it would be overloaded with vm added at the end of its list
 * (CloudSim's isHostOverUtilizedAfterAllocation).
 */
bool	pol_overloaded_with(const struct pol_policy *, const struct pol_fleet *,
	    int host, int vm);

/*
 * The same, with the host's history sums already at hand (from
 * pol_host_history_sum, or kept up to date by the caller); vm may be -1.
 */
bool	pol_overloaded_sum(const struct pol_policy *, const struct pol_fleet *,
	    int host, int vm, const double *sum, int nsum);

/* The upper utilization the detector tolerates now; for explanations. */
double	pol_overload_limit(const struct pol_policy *, const struct pol_fleet *,
	    int host);

#endif /* POL_DETECT_H */
