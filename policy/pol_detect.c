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

/* Σ demand and the largest VM over the host's list, in list order. */
static void
det_sums(const struct pol_fleet *f, int hi, double *req, double *ram)
{
	const struct pol_host *h = &f->hosts[hi];

	*req = 0;
	*ram = 0;
	for (int i = 0; i < h->nslots; i++) {
		const struct pol_vm *v = &f->vms[h->slots[i].vm];

		*req += v->req_mips;
		*ram = fmax(*ram, v->ram_mb);
	}
}

/*
 * det_gather with the host's sums at hand: req and ram from det_sums, the
 * history from sum (or, when NULL, summed here).
 */
static void
det_finish(const struct pol_fleet *f, int hi, int extra, const double *sum,
    int nsum, double req, double ram, struct det_in *in)
{
	const struct pol_host *h = &f->hosts[hi];
	double cap = pol_host_mips(h);
	int n;

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

static void
det_gather(const struct pol_fleet *f, int hi, int extra, const double *sum,
    int nsum, struct det_in *in)
{
	double req, ram;

	det_sums(f, hi, &req, &ram);
	det_finish(f, hi, extra, sum, nsum, req, ram, in);
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
pol_overloaded_for(const struct pol_policy *p, const struct pol_fleet *f,
    int h, int samples)
{
	struct det_in in, past;

	det_gather(f, h, -1, NULL, 0, &in);
	if (!detect(p, &in))
		return false;
	for (int s = 1; s < samples; s++) {
		if (in.n <= s)
			return false;
		past = in;
		memmove(past.hist, in.hist + s, (size_t)(in.n - s) *
		    sizeof(double));
		past.n = in.n - s;
		past.req_util = in.hist[s];
		if (!detect(p, &past))
			return false;
	}
	return true;
}

bool
pol_overloaded_with(const struct pol_policy *p, const struct pol_fleet *f,
    int h, int vm)
{
	struct det_in in;

	det_gather(f, h, vm, NULL, 0, &in);
	return detect(p, &in);
}

/* ---- kept state: the same answers, asked over and over ------------------ */

static bool
det_has_line(const struct pol_policy *p)
{
	return (p->overload.detector == POL_DET_LR ||
	    p->overload.detector == POL_DET_LRR ||
	    p->overload.detector == POL_DET_BAND) &&
	    p->overload.window <= POL_HIST_MAX;
}

/*
 * The line regress() fits through the newest w points (newest first in
 * hist, the first `valid` of them set, the rest 0), the norm of its
 * residuals and Σ |point|.
 */
static void
det_line(const double *hist, int valid, int w, double *a, double *b,
    double *res, double *mag)
{
	double y[POL_HIST_MAX] = { 0 }, ssr = 0, m = 0;

	for (int i = 0; i < w; i++)
		y[i] = w - 1 - i < valid ? hist[w - 1 - i] : 0;
	pol_ols_line(y, w, a, b);
	for (int i = 0; i < w; i++) {
		double e = y[i] - (*a + *b * (i + 1));

		ssr += e * e;
		m += fabs(y[i]);
	}
	*res = sqrt(ssr);
	*mag = m;
}

static void
det_host_line(const struct pol_policy *p, struct pol_det_host *c)
{
	if (det_has_line(p))
		det_line(c->sum, POL_HIST_MAX, p->overload.window, &c->la,
		    &c->lb, &c->lres, &c->lmag);
}

/*
 * Sums points k0 <= k < k1 of the host's history as pol_host_history_sum
 * does (each point over the VMs in list order), and returns the longest
 * VM history.
 */
static int
det_sum_points(const struct pol_fleet *f, int hi, double *sum, int k0, int k1)
{
	const struct pol_host *h = &f->hosts[hi];
	int n = 0;

	for (int k = k0; k < k1; k++)
		sum[k] = 0;
	for (int i = 0; i < h->nslots; i++) {
		const struct pol_vm *v = &f->vms[h->slots[i].vm];
		double scale = v->mips * v->pes / pol_host_mips(h);

		for (int k = k0; k < EBB_MIN(k1, v->nhist); k++)
			sum[k] += v->hist[k] * scale;
		n = EBB_MAX(n, v->nhist);
	}
	return n;
}

/* The older sums, which a partial view left out. */
static void
det_complete(const struct pol_fleet *f, int hi, struct pol_det_host *c)
{
	if (c->nsum < POL_HIST_MAX) {
		det_sum_points(f, hi, c->sum, c->nsum, POL_HIST_MAX);
		c->nsum = POL_HIST_MAX;
	}
}

void
pol_det_host_fill(const struct pol_policy *p, const struct pol_fleet *f,
    int hi, struct pol_det_host *c)
{
	c->nsum = det_has_line(p) ? p->overload.window : POL_HIST_MAX;
	c->n = det_sum_points(f, hi, c->sum, 0, c->nsum);
	det_sums(f, hi, &c->req, &c->ram);
	det_host_line(p, c);
}

/* Appending to the list: the sums grow in list order, as det_sums adds. */
void
pol_det_host_add(const struct pol_policy *p, const struct pol_fleet *f,
    int hi, int vm, struct pol_det_host *c)
{
	const struct pol_vm *v = &f->vms[vm];
	double scale = v->mips * v->pes / pol_host_mips(&f->hosts[hi]);

	/* pol_host_history_add, over the points kept. */
	for (int k = 0; k < EBB_MIN(c->nsum, v->nhist); k++)
		c->sum[k] += v->hist[k] * scale;
	c->n = EBB_MAX(c->n, v->nhist);
	c->req += v->req_mips;
	c->ram = fmax(c->ram, v->ram_mb);
	det_host_line(p, c);
}

void
pol_det_vm_fill(const struct pol_policy *p, const struct pol_fleet *f, int vm,
    struct pol_det_vm *x)
{
	const struct pol_vm *v = &f->vms[vm];

	x->vm = vm;
	if (det_has_line(p))
		det_line(v->hist, v->nhist, p->overload.window, &x->la, &x->lb,
		    &x->lres, &x->lmag);
}

/*
 * Whether the summed history, trailing zeros trimmed, keeps at least w
 * points: whether a point at w - 1 or later is not 0, each point computed
 * as det_finish computes it.
 */
static bool
det_reaches(const struct pol_fleet *f, int hi, struct pol_det_host *c,
    const struct pol_vm *v, double s, int w)
{
	int nv = v != NULL ? v->nhist : 0, nmax = EBB_MAX(c->n, nv);

	for (int k = w - 1; k < nmax; k++) {
		if (k >= c->nsum)
			det_complete(f, hi, c);
		double y = k < nv ? c->sum[k] + v->hist[k] * s : c->sum[k];

		if (y != 0)
			return true;
	}
	return false;
}

/*
 * LR, LRR, BAND with a full window, without the regression.  Least
 * squares is linear in the points, so the line through the host's sums
 * plus s times a VM's is the host's line plus s times the VM's, and the
 * residuals' norm is at most the sum of theirs.  That answers unless the
 * forecast is within a margin of the limit, where rounding might tip the
 * real computation either way: 1: overloaded, 0: not, -1: ask regress().
 *
 * The margin: both the regression over the summed points and this sum of
 * two regressions are within some w² ulps (w <= 30 points, x = 1..w: well
 * conditioned) of Σ |point| × (1 + t) of the exact value, 2e-13 of it at
 * most; 1e-8 of it is fifty thousand times that.
 */
static int
det_quick(const struct pol_policy *p, const struct pol_det_host *c,
    const struct pol_det_vm *x, double s, double req_util, double ahead)
{
	double t = p->overload.window + ahead, a = c->la, b = c->lb;
	double res = c->lres, mag = c->lmag, safety = p->overload.safety;
	double conf = p->overload.confidence, m, q, sd;
	int w = p->overload.window;

	if (x != NULL) {
		a += s * x->la;
		b += s * x->lb;
		res += s * x->lres;
		mag += s * x->lmag;
	}
	m = 1e-8 * (1 + mag) * (1 + t);
	q = safety * (a + b * t);
	m *= 1 + fabs(safety);
	switch (p->overload.detector) {
	case POL_DET_LR:
	case POL_DET_LRR:
		if (q - m >= 1.0)
			return 1;
		if (q + m < 1.0)
			return 0;
		return -1;
	case POL_DET_BAND:
		if (req_util > p->overload.band_high)
			return 1;
		if (!(conf >= 0))
			return -1;
		/* conf × sd >= 0 only adds to the forecast. */
		if (q - m >= p->overload.band_high)
			return 1;
		sd = w > 2 ? res / sqrt(w - 2) : 0;
		if (q + m + conf * (sd + m) < p->overload.band_high)
			return 0;
		return -1;
	default:
		return -1;
	}
}

bool
pol_overloaded_det(const struct pol_policy *p, const struct pol_fleet *f,
    int hi, struct pol_det_host *c, const struct pol_det_vm *x)
{
	const struct pol_host *h = &f->hosts[hi];
	const struct pol_vm *v = x != NULL ? &f->vms[x->vm] : NULL;
	double cap = pol_host_mips(h), req = c->req, ram = c->ram, s = 0;
	double ahead;
	struct det_in in;
	int q;

	if (v != NULL) {
		req += v->req_mips;
		ram = fmax(ram, v->ram_mb);
		s = v->mips * v->pes / cap;
	}
	switch (p->overload.detector) {
	case POL_DET_THR:
		return req / cap > p->overload.threshold;
	case POL_DET_LR:
	case POL_DET_LRR:
	case POL_DET_BAND:
		if (!det_reaches(f, hi, c, v, s, p->overload.window))
			return req / cap > p->overload.fallback_threshold;
		ahead = (h->nslots == 0 && v == NULL) || h->mig_mbs <= 0 ? 0 :
		    ceil(ram / h->mig_mbs / f->interval_s);
		if ((q = det_quick(p, c, x, s, req / cap, ahead)) >= 0)
			return q;
		break;
	default:
		break;
	}
	det_complete(f, hi, c);
	det_finish(f, hi, v != NULL ? x->vm : -1, c->sum, c->n, c->req, c->ram,
	    &in);
	return detect(p, &in);
}
