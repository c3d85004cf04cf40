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
 * Whether the detector, judging the host's VMs as they are listed now,
 * finds it overloaded at each of the newest `samples` points of their
 * history: now, and with the history as it stood 1 .. samples - 1 samples
 * ago (the utilization then standing for the demand).  A history too
 * short to look back that far is not a sustained overload.
 */
bool	pol_overloaded_for(const struct pol_policy *, const struct pol_fleet *,
	    int host, int samples);

/*
 * Whether it would be overloaded with vm added at the end of its list
 * (CloudSim's isHostOverUtilizedAfterAllocation).
 */
bool	pol_overloaded_with(const struct pol_policy *, const struct pol_fleet *,
	    int host, int vm);

/*
 * What the detector reads of one host, kept by a caller that asks about
 * the same hosts over and over (a planning round), so that a question
 * costs neither a walk over the host's VMs nor, mostly, a regression.
 * Fill it with pol_det_host_fill; after appending a VM to the host's list,
 * pol_det_host_add brings it up to date; after any other change, fill it
 * again.  The answers are exactly pol_overloaded's and
 * pol_overloaded_with's.
 *
 * The regressions look at the newest `window` sums only, unless a
 * history ends in zeros there: the older sums are summed when needed.
 */
struct pol_det_host {
	double	sum[POL_HIST_MAX];	/* pol_host_history_sum */
	int	nsum;			/* sum[] set below this */
	int	n;			/* pol_host_history_sum's return */
	double	req;			/* Σ demand, in list order */
	double	ram;			/* largest VM, for the look-ahead */
	/*
	 * LR, LRR and BAND: the line through the newest `window` sums and
	 * the norm of its residuals, Σ |sum| over them for the error margin.
	 */
	double	la, lb, lres, lmag;
};

/* The same of a VM that is about to be asked about against many hosts. */
struct pol_det_vm {
	int	vm;
	double	la, lb, lres, lmag;
};

void	pol_det_host_fill(const struct pol_policy *, const struct pol_fleet *,
	    int host, struct pol_det_host *);
void	pol_det_host_add(const struct pol_policy *, const struct pol_fleet *,
	    int host, int vm, struct pol_det_host *);
void	pol_det_vm_fill(const struct pol_policy *, const struct pol_fleet *,
	    int vm, struct pol_det_vm *);
/* pol_overloaded_with from the kept state; x NULL: pol_overloaded. */
bool	pol_overloaded_det(const struct pol_policy *, const struct pol_fleet *,
	    int host, struct pol_det_host *, const struct pol_det_vm *x);

/* The upper utilization the detector tolerates now; for explanations. */
double	pol_overload_limit(const struct pol_policy *, const struct pol_fleet *,
	    int host);

#endif /* POL_DETECT_H */
