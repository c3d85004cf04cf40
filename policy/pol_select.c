/*
 * pol_select.c - VM selection: minimum migration time (MMT), maximum
 * correlation (MC), random (RS), minimum utilization (MU).
 *
 * Ties go to the VM listed first on the host, as in CloudSim, which makes
 * the order of a host's VM list part of the model.
 */
#include <float.h>
#include <math.h>

#include "ebb.h"
#include "pol_select.h"
#include "pol_stats.h"

#define SELECT_MAX_VMS	64	/* VMs on one host that MC considers */

static bool
movable(const struct pol_fleet *f, const struct pol_slot *s)
{
	const struct pol_vm *v = &f->vms[s->vm];

	return !s->incoming && !v->migrating && !v->pinned;
}

/* Least RAM moves fastest. */
static int
select_mmt(const struct pol_fleet *f, const struct pol_host *h)
{
	double best = DBL_MAX;
	int vm = -1;

	for (int i = 0; i < h->nslots; i++) {
		const struct pol_vm *v = &f->vms[h->slots[i].vm];

		if (movable(f, &h->slots[i]) && v->ram_mb < best) {
			best = v->ram_mb;
			vm = h->slots[i].vm;
		}
	}
	return vm;
}

static int
select_mu(const struct pol_fleet *f, const struct pol_host *h)
{
	double best = DBL_MAX;
	int vm = -1;

	for (int i = 0; i < h->nslots; i++) {
		const struct pol_vm *v = &f->vms[h->slots[i].vm];
		double u = v->req_mips / v->mips;

		if (movable(f, &h->slots[i]) && u < best) {
			best = u;
			vm = h->slots[i].vm;
		}
	}
	return vm;
}

static int
select_rs(const struct pol_fleet *f, const struct pol_host *h,
    struct ebb_rand *rng)
{
	int cand[SELECT_MAX_VMS], n = 0;

	for (int i = 0; i < h->nslots && n < SELECT_MAX_VMS; i++)
		if (movable(f, &h->slots[i]))
			cand[n++] = h->slots[i].vm;
	return n ? cand[ebb_rand_below(rng, n)] : -1;
}

/*
 * The VM whose history the others explain best (highest R² of a multiple
 * regression on theirs) adds most to the host's peaks.  Without more
 * history points than VMs the regression has no degree of freedom left,
 * and MMT decides instead.
 */
static int
select_mc(const struct pol_fleet *f, const struct pol_host *h)
{
	int cand[SELECT_MAX_VMS], n = 0, m = POL_HIST_MAX, best = 0;
	const double *cols[SELECT_MAX_VMS];
	double bestr2 = DBL_MIN, r2;

	for (int i = 0; i < h->nslots && n < SELECT_MAX_VMS; i++)
		if (movable(f, &h->slots[i]))
			cand[n++] = h->slots[i].vm;
	if (n == 0)
		return -1;
	for (int i = 0; i < n; i++)
		m = EBB_MIN(m, f->vms[cand[i]].nhist);
	/* n parameters (intercept and n - 1 slopes) need n + 1 points. */
	if (n < 2 || m <= n)
		return select_mmt(f, h);
	for (int i = 0; i < n; i++) {
		int k = 0;

		for (int j = 0; j < n; j++)
			if (j != i)
				cols[k++] = f->vms[cand[j]].hist;
		if (pol_r_squared(f->vms[cand[i]].hist, cols, k, m, &r2) < 0)
			return select_mmt(f, h);
		if (r2 > bestr2) {
			bestr2 = r2;
			best = i;
		}
	}
	return cand[best];
}

int
pol_select_vm(const struct pol_policy *p, const struct pol_fleet *f,
    int host, struct ebb_rand *rng)
{
	const struct pol_host *h = &f->hosts[host];

	switch (p->selection.method) {
	case POL_SEL_MMT:
		return select_mmt(f, h);
	case POL_SEL_MU:
		return select_mu(f, h);
	case POL_SEL_RS:
		return select_rs(f, h, rng);
	case POL_SEL_MC:
		return select_mc(f, h);
	}
	return -1;
}
