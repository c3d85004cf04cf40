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

#include "pol_detect.h"
#include "pol_stats.h"

/* The current demand on the host against a fixed threshold. */
static bool
over_thr(const struct pol_fleet *f, int h, double threshold)
{
	return pol_host_req_util(f, h) > threshold;
}

/*
 * How many planning intervals the longest migration off this host takes:
 * a regression predicts that far ahead, since that is when relief lands.
 */
static double
migration_intervals(const struct pol_fleet *f, int hi)
{
	const struct pol_host *h = &f->hosts[hi];
	double ram = 0;

	for (int i = 0; i < h->nslots; i++)
		ram = fmax(ram, f->vms[h->slots[i].vm].ram_mb);
	if (h->nslots == 0 || h->mig_mbs <= 0)
		return 0;
	return ceil(ram / h->mig_mbs / f->interval_s);
}

/* Fits the newest `window` points, oldest first, and predicts ahead. */
static double
regress(const double *hist, int window, double ahead, double *resid_sd)
{
	double y[POL_HIST_MAX], a, b, ssr = 0;

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
	double hist[POL_HIST_MAX];
	int n = pol_host_history(f, h, hist, POL_HIST_MAX);

	switch (p->overload.detector) {
	case POL_DET_THR:
		return p->overload.threshold;
	case POL_DET_IQR:
		if (n < p->overload.min_history)
			return p->overload.fallback_threshold;
		return 1.0 - p->overload.safety * pol_iqr(hist, n);
	case POL_DET_MAD:
		if (n < p->overload.min_history)
			return p->overload.fallback_threshold;
		return 1.0 - p->overload.safety * pol_mad(hist, n);
	case POL_DET_LR:
	case POL_DET_LRR:
	case POL_DET_BAND:
		if (n < p->overload.window)
			return p->overload.fallback_threshold;
		return p->overload.detector == POL_DET_BAND ?
		    p->overload.band_high : 1.0;
	}
	return 1.0;
}

bool
pol_overloaded(const struct pol_policy *p, const struct pol_fleet *f, int h)
{
	double hist[POL_HIST_MAX], pred, sd;
	int n, w = p->overload.window;

	switch (p->overload.detector) {
	case POL_DET_THR:
		return over_thr(f, h, p->overload.threshold);
	case POL_DET_IQR:
	case POL_DET_MAD:
		/*
		 * Both need a dozen points before a spread means anything
		 * (CloudSim's "12 has been suggested as a safe value").
		 */
		n = pol_host_history(f, h, hist, POL_HIST_MAX);
		if (n < p->overload.min_history)
			return over_thr(f, h, p->overload.fallback_threshold);
		return pol_host_req_util(f, h) > 1.0 - p->overload.safety *
		    (p->overload.detector == POL_DET_IQR ? pol_iqr(hist, n) :
		    pol_mad(hist, n));
	case POL_DET_LR:
	case POL_DET_LRR:
		/*
		 * CloudSim's LRR re-weights by residuals, but its weights are
		 * never <= 0, which is the only case in which it applies them:
		 * both are ordinary least squares, and so are they here.
		 */
		n = pol_host_history(f, h, hist, w);
		if (n < w)
			return over_thr(f, h, p->overload.fallback_threshold);
		pred = regress(hist, w, migration_intervals(f, h), NULL);
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
		n = pol_host_history(f, h, hist, w);
		if (n < w)
			return over_thr(f, h, p->overload.fallback_threshold);
		pred = regress(hist, w, migration_intervals(f, h), &sd);
		return p->overload.safety * pred +
		    p->overload.confidence * sd >= p->overload.band_high ||
		    pol_host_req_util(f, h) > p->overload.band_high;
	}
	return false;
}

bool
pol_overloaded_with(const struct pol_policy *p, struct pol_fleet *f, int h,
    int vm)
{
	bool over;

	pol_host_add(f, h, vm, false);
	over = pol_overloaded(p, f, h);
	pol_host_remove(f, h, vm);
	return over;
}
