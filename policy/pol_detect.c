/*
 * pol_detect.c - the overload detectors of Beloglazov & Buyya (THR, IQR,
 * MAD, LR, LRR) as CloudSim 3.0.3 implements them, and ebb's BAND.
 *
 * Each detector looks at the host's utilization history (the sum of the
 * histories of the VMs now on it, so a history travels with its VM) or at
 * the current demand.  While the history is too short to say anything,
 * they fall back to a static threshold.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "ebb.h"

#include "pol_detect.h"
#include "pol_stats.h"

/*
 * What a detector looks at: the host's demand, its history and how far
 * ahead relief lands, optionally with one more VM added at the end of its
 * list (CloudSim's isHostOverUtilizedAfterAllocation).  Sums run in list
 * order with the extra VM last, as they would were it really added.
 */
struct det_in {
	double	req_util;
	double	hist[POL_HIST_MAX];
	int	n;
	double	ahead;		/* planning intervals */
};

static void
det_gather(const struct pol_fleet *f, int hi, int extra, const double *sum,
    int nsum, struct det_in *in)
{
	const struct pol_host *h = &f->hosts[hi];
	double cap = pol_host_mips(h), req = 0, ram = 0;
	int n;

	for (int i = 0; i < h->nslots; i++) {
		const struct pol_vm *v = &f->vms[h->slots[i].vm];

		req += v->req_mips;
		ram = fmax(ram, v->ram_mb);
	}
	if (sum != NULL) {
		memcpy(in->hist, sum, sizeof(in->hist));
		n = nsum;
	} else
		n = pol_host_history_sum(f, hi, in->hist);
	if (extra >= 0) {
		const struct pol_vm *v = &f->vms[extra];

		req += v->req_mips;
		ram = fmax(ram, v->ram_mb);
		for (int k = 0; k < v->nhist; k++)
			in->hist[k] += v->hist[k] * (v->mips * v->pes / cap);
		n = EBB_MAX(n, v->nhist);
	}
	while (n > 0 && in->hist[n - 1] == 0)
		n--;
	in->n = n;
	in->req_util = req / cap;
	/*
	 * A regression predicts as far ahead as the longest migration off
	 * the host takes, in planning intervals: that is when relief lands.
	 */
	in->ahead = (h->nslots == 0 && extra < 0) || h->mig_mbs <= 0 ? 0 :
	    ceil(ram / h->mig_mbs / f->interval_s);
}

/* Fits the newest `window` points, oldest first, and predicts ahead. */
static double
regress(const double *hist, int window, double ahead, double *resid_sd)
{
	double y[POL_HIST_MAX] = { 0 }, a, b, ssr = 0;

	for (int i = 0; i < window; i++)
		y[i] = hist[window - 1 - i];
	pol_ols_line(y, window, &a, &b);
	if (resid_sd != NULL) {
		for (int i = 0; i < window; i++) {
			double e = y[i] - (a + b * (i + 1));

			ssr += e * e;
		}
		*resid_sd = window > 2 ? sqrt(ssr / (window - 2)) : 0;
	}
	return a + b * (window + ahead);
}

double
pol_overload_limit(const struct pol_policy *p, const struct pol_fleet *f,
    int h)
{
	struct det_in in;

	det_gather(f, h, -1, NULL, 0, &in);
	switch (p->overload.detector) {
	case POL_DET_THR:
		return p->overload.threshold;
	case POL_DET_IQR:
		if (in.n < p->overload.min_history)
			return p->overload.fallback_threshold;
		return 1.0 - p->overload.safety * pol_iqr(in.hist, in.n);
	case POL_DET_MAD:
		if (in.n < p->overload.min_history)
			return p->overload.fallback_threshold;
		return 1.0 - p->overload.safety * pol_mad(in.hist, in.n);
	case POL_DET_LR:
	case POL_DET_LRR:
	case POL_DET_BAND:
		if (in.n < p->overload.window)
			return p->overload.fallback_threshold;
		return p->overload.detector == POL_DET_BAND ?
		    p->overload.band_high : 1.0;
	}
	return 1.0;
}

static bool
detect(const struct pol_policy *p, const struct det_in *in)
{
	double pred, sd;
	int w = p->overload.window;

	switch (p->overload.detector) {
	case POL_DET_THR:
		return in->req_util > p->overload.threshold;
	case POL_DET_IQR:
	case POL_DET_MAD:
		/*
		 * Both need a dozen points before a spread means anything
		 * (CloudSim's "12 has been suggested as a safe value").
		 */
		if (in->n < p->overload.min_history)
			return in->req_util > p->overload.fallback_threshold;
		return in->req_util > 1.0 - p->overload.safety *
		    (p->overload.detector == POL_DET_IQR ?
		    pol_iqr(in->hist, in->n) : pol_mad(in->hist, in->n));
	case POL_DET_LR:
	case POL_DET_LRR:
		/*
		 * CloudSim's LRR re-weights by residuals, but its weights are
		 * never <= 0, which is the only case in which it applies them:
		 * both are ordinary least squares, and so are they here.
		 */
		if (in->n < w)
			return in->req_util > p->overload.fallback_threshold;
		pred = regress(in->hist, w, in->ahead, NULL);
		return p->overload.safety * pred >= 1.0;
	case POL_DET_BAND:
		/*
		 * ebb's: the same forecast, but judged by its upper confidence
		 * bound against a band below full load.  A host whose load is
		 * steady may run close to the band; one whose load jumps
		 * around is relieved earlier, because its forecast is worth
		 * less.  The current demand counts too: a spike the regression
		 * has not yet seen is not waited out.
		 */
		if (in->n < w)
			return in->req_util > p->overload.fallback_threshold;
		pred = regress(in->hist, w, in->ahead, &sd);
		return p->overload.safety * pred +
		    p->overload.confidence * sd >= p->overload.band_high ||
		    in->req_util > p->overload.band_high;
	}
	return false;
}

bool
pol_overloaded(const struct pol_policy *p, const struct pol_fleet *f, int h)
{
	struct det_in in;

	det_gather(f, h, -1, NULL, 0, &in);
	return detect(p, &in);
}

bool
pol_overloaded_with(const struct pol_policy *p, const struct pol_fleet *f,
    int h, int vm)
{
	struct det_in in;

	det_gather(f, h, vm, NULL, 0, &in);
	return detect(p, &in);
}

bool
pol_overloaded_sum(const struct pol_policy *p, const struct pol_fleet *f,
    int h, int vm, const double *sum, int nsum)
{
	struct det_in in;

	det_gather(f, h, vm, sum, nsum, &in);
	return detect(p, &in);
}
