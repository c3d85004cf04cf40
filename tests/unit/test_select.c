/*
 * test_select.c - which VM leaves an overloaded host: MMT (least RAM), MU
 * (least utilization), RS (seeded random), MC (the VM the others explain
 * best).  Ties go to the VM listed first on the host, and a VM migrating
 * (out, or in as an incoming slot) or pinned never moves.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "pol_fleet.h"
#include "pol_policy.h"
#include "pol_select.h"
#include "pol_stats.h"

static const struct pol_power_curve flat = {
	{ 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100 }
};

/* ---- fleet building ------------------------------------------------------- */

static int
host_new(struct pol_fleet *f)
{
	int i = f->nhosts++;
	struct pol_host *h;

	f->hosts = ebb_reallocarray(f->hosts, f->nhosts, sizeof(*f->hosts));
	h = &f->hosts[i];
	memset(h, 0, sizeof(*h));
	h->id = i;
	h->pes = 8;
	h->pe_mips = 2500;
	h->ram_mb = 65536;
	h->bw = 1e7;
	h->mig_mbs = 62.5;
	h->power = &flat;
	h->state = POL_HOST_ON;
	/*
	 * Slots allocated up front: pol_fleet_copy() memcpy()s a host's
	 * slots even when there are none, undefined for NULL (see
	 * test_BUG_plan_with_never_used_host in test_plan.c).
	 */
	h->cslots = 4;
	h->slots = ebb_reallocarray(NULL, h->cslots, sizeof(*h->slots));
	pol_host_realloc(f, i);
	return i;
}

static int
vm_new(struct pol_fleet *f, double ram_mb, double mips, double req)
{
	int i = f->nvms++;
	struct pol_vm *v;

	f->vms = ebb_reallocarray(f->vms, f->nvms, sizeof(*f->vms));
	v = &f->vms[i];
	memset(v, 0, sizeof(*v));
	v->id = i;
	v->host = -1;
	v->pes = 1;
	v->mips = mips;
	v->ram_mb = ram_mb;
	v->req_mips = req;
	return i;
}

static void
place(struct pol_fleet *f, int host, int vm)
{
	pol_host_add(f, host, vm, false);
	f->vms[vm].host = host;
}

static int
select_with(enum pol_selection m, const struct pol_fleet *f, int host)
{
	struct pol_policy p;
	struct ebb_rand rng;

	pol_policy_defaults(&p);
	p.selection.method = m;
	ebb_rand_seed(&rng, 1);
	return pol_select_vm(&p, f, host, &rng);
}

/* ---- MMT ------------------------------------------------------------------ */

static void
test_mmt(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	int h, a, b, c, d, e;

	pol_fleet_init(&f);
	h = host_new(&f);
	assert_int_equal(select_with(POL_SEL_MMT, &f, h), -1);	/* empty */

	a = vm_new(&f, 1000, 1000, 100);
	b = vm_new(&f, 500, 1000, 100);
	c = vm_new(&f, 800, 1000, 100);
	d = vm_new(&f, 500, 1000, 100);
	/* Listed d, a, c, b: d and b tie at 500 MB; d is listed first. */
	place(&f, h, d);
	place(&f, h, a);
	place(&f, h, c);
	place(&f, h, b);
	assert_int_equal(select_with(POL_SEL_MMT, &f, h), d);

	/* d migrating out: b, the other 500 MB. */
	f.vms[d].migrating = true;
	assert_int_equal(select_with(POL_SEL_MMT, &f, h), b);
	/* b pinned too: c, 800 MB. */
	f.vms[b].pinned = true;
	assert_int_equal(select_with(POL_SEL_MMT, &f, h), c);

	/* An incoming VM, however small, is not the host's to move. */
	e = vm_new(&f, 100, 1000, 100);
	f.vms[e].migrating = true;
	pol_host_add(&f, h, e, true);
	assert_int_equal(select_with(POL_SEL_MMT, &f, h), c);
	/*
	 * And an incoming slot is skipped even if the VM's flag says
	 * otherwise: the slot decides.
	 */
	f.vms[e].migrating = false;
	assert_int_equal(select_with(POL_SEL_MMT, &f, h), c);

	/* Nothing movable: -1. */
	f.vms[a].pinned = f.vms[c].pinned = true;
	assert_int_equal(select_with(POL_SEL_MMT, &f, h), -1);
	pol_fleet_free(&f);
}

/* ---- MU ------------------------------------------------------------------- */

static void
test_mu(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	int h, a, b, c, d;

	pol_fleet_init(&f);
	h = host_new(&f);
	/*
	 * Utilization is demand over the VM's MIPS: a 500/1000 = 0.5,
	 * b 600/2000 = 0.3 (more MIPS than a, less utilized), c 150/500 =
	 * 0.3 (ties with b, listed after it), d 900/1000 = 0.9.
	 */
	a = vm_new(&f, 100, 1000, 500);
	b = vm_new(&f, 900, 2000, 600);
	c = vm_new(&f, 900, 500, 150);
	d = vm_new(&f, 100, 1000, 900);
	place(&f, h, a);
	place(&f, h, b);
	place(&f, h, c);
	place(&f, h, d);
	assert_int_equal(select_with(POL_SEL_MU, &f, h), b);
	f.vms[b].migrating = true;
	assert_int_equal(select_with(POL_SEL_MU, &f, h), c);
	f.vms[c].pinned = true;
	assert_int_equal(select_with(POL_SEL_MU, &f, h), a);
	f.vms[a].pinned = true;
	assert_int_equal(select_with(POL_SEL_MU, &f, h), d);
	f.vms[d].migrating = true;
	assert_int_equal(select_with(POL_SEL_MU, &f, h), -1);
	pol_fleet_free(&f);
}

/* ---- RS ------------------------------------------------------------------- */

static void
test_rs(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct pol_fleet f;
	struct ebb_rand r1, r2;
	int h, vms[6], seen[6] = { 0 }, seq[64], differs = 0;

	pol_policy_defaults(&p);
	p.selection.method = POL_SEL_RS;
	pol_fleet_init(&f);
	h = host_new(&f);
	for (int i = 0; i < 6; i++) {
		vms[i] = vm_new(&f, 100 * (i + 1), 1000, 100);
		place(&f, h, vms[i]);
	}
	f.vms[vms[1]].migrating = true;
	f.vms[vms[4]].pinned = true;

	/* The same seed draws the same sequence. */
	ebb_rand_seed(&r1, 99);
	ebb_rand_seed(&r2, 99);
	for (int i = 0; i < 64; i++) {
		int x = pol_select_vm(&p, &f, h, &r1);

		assert_int_equal(x, pol_select_vm(&p, &f, h, &r2));
		seq[i] = x;
	}
	/* Another seed, another sequence (64 draws out of 4 cannot agree). */
	ebb_rand_seed(&r2, 100);
	for (int i = 0; i < 64; i++)
		if (pol_select_vm(&p, &f, h, &r2) != seq[i])
			differs++;
	assert_true(differs > 0);

	/* Always a movable VM, and over many draws each of them. */
	ebb_rand_seed(&r1, 5);
	for (int i = 0; i < 400; i++) {
		int x = pol_select_vm(&p, &f, h, &r1);

		assert_true(x >= 0 && x < 6);
		assert_true(x != vms[1] && x != vms[4]);
		seen[x]++;
	}
	assert_true(seen[0] > 0 && seen[2] > 0 && seen[3] > 0 && seen[5] > 0);

	/* Nothing movable: -1. */
	for (int i = 0; i < 6; i++)
		f.vms[vms[i]].pinned = true;
	assert_int_equal(pol_select_vm(&p, &f, h, &r1), -1);
	pol_fleet_free(&f);
}

/* ---- MC ------------------------------------------------------------------- */

/*
 * Four observations and three VMs, built on vectors orthogonal to each
 * other and to the constant: u1 = (-1,-1,1,1), u2 = (-1,1,-1,1),
 * u3 = (1,-1,-1,1).
 *   A = 0.5 + 0.1 u1          = (0.4, 0.4, 0.6, 0.6)
 *   B = 0.5 + 0.1 u2          = (0.4, 0.6, 0.4, 0.6)
 *   C = 0.5 + 0.1 (u1 + u2) + 0.05 u3 = (0.35, 0.45, 0.45, 0.75)
 * R²(C | A, B): the residual is 0.05 u3, |.|² = 0.01; C's variation
 * |0.1 u1 + 0.1 u2 + 0.05 u3|² = 4 (0.01 + 0.01 + 0.0025) = 0.09:
 * R² = 1 - 0.01 / 0.09 = 8/9.
 * R²(A | B, C): A's variation is 0.1 u1, |.|² = 0.04; B, C span u2 and
 * w = u1 + 0.5 u3, u1 projects onto w as 4/5 w: residual 0.1 (0.2 u1 -
 * 0.4 u3), |.|² = 0.01 x 4 x 0.2 = 0.008: R² = 1 - 0.008 / 0.04 = 0.8.
 * R²(B | A, C) = 0.8 likewise.  So MC picks C, wherever it is listed.
 */
static const double mc_a[] = { 0.4, 0.4, 0.6, 0.6 };
static const double mc_b[] = { 0.4, 0.6, 0.4, 0.6 };
static const double mc_c[] = { 0.35, 0.45, 0.45, 0.75 };

static void
set_hist(struct pol_fleet *f, int vm, const double *h, int n)
{
	f->vms[vm].nhist = n;
	memcpy(f->vms[vm].hist, h, n * sizeof(*h));
}

static void
test_mc_r_squared_by_hand(void **state EBB_UNUSED)
{
	const double *ab[] = { mc_a, mc_b }, *bc[] = { mc_b, mc_c };
	const double *ac[] = { mc_a, mc_c };
	double r2;

	/* The figures in the comment above, from pol_r_squared itself. */
	assert_int_equal(pol_r_squared(mc_c, ab, 2, 4, &r2), 0);
	assert_true(fabs(r2 - 8.0 / 9) < 1e-9);
	assert_int_equal(pol_r_squared(mc_a, bc, 2, 4, &r2), 0);
	assert_true(fabs(r2 - 0.8) < 1e-9);
	assert_int_equal(pol_r_squared(mc_b, ac, 2, 4, &r2), 0);
	assert_true(fabs(r2 - 0.8) < 1e-9);
}

static void
test_mc(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	int h, a, b, c, d;

	pol_fleet_init(&f);
	h = host_new(&f);
	/* A has the least RAM, so MMT would pick it; C the most. */
	a = vm_new(&f, 500, 1000, 100);
	b = vm_new(&f, 800, 1000, 100);
	c = vm_new(&f, 900, 1000, 100);
	set_hist(&f, a, mc_a, 4);
	set_hist(&f, b, mc_b, 4);
	set_hist(&f, c, mc_c, 4);
	place(&f, h, c);
	place(&f, h, a);
	place(&f, h, b);
	assert_int_equal(select_with(POL_SEL_MC, &f, h), c);
	/* Listed last, still C. */
	pol_host_remove(&f, h, c);
	place(&f, h, c);
	assert_int_equal(select_with(POL_SEL_MC, &f, h), c);

	/*
	 * A pinned VM with a 2-point history is no candidate: it neither
	 * enters the regressions nor shortens them (were it counted, 2
	 * points for 4 VMs would fall back to MMT and pick A).
	 */
	d = vm_new(&f, 100, 1000, 100);
	set_hist(&f, d, (const double[]){ 0.9, 0.1 }, 2);
	f.vms[d].pinned = true;
	place(&f, h, d);
	assert_int_equal(select_with(POL_SEL_MC, &f, h), c);
	/*
	 * C itself migrating: A and B are uncorrelated (R² 0 up to
	 * rounding), either may go, but nothing unmovable.
	 */
	f.vms[c].migrating = true;
	{
		int x = select_with(POL_SEL_MC, &f, h);

		assert_true(x == a || x == b);
	}
	pol_fleet_free(&f);
}

static void
test_mc_falls_back_to_mmt(void **state EBB_UNUSED)
{
	struct pol_fleet f;
	int h, a, b, c, solo;

	pol_fleet_init(&f);
	h = host_new(&f);
	a = vm_new(&f, 500, 1000, 100);
	b = vm_new(&f, 800, 1000, 100);
	c = vm_new(&f, 900, 1000, 100);
	set_hist(&f, a, mc_a, 4);
	set_hist(&f, b, mc_b, 4);
	set_hist(&f, c, mc_c, 4);
	place(&f, h, c);
	place(&f, h, b);
	place(&f, h, a);

	/*
	 * History points must outnumber the VMs: 3 points (the shortest
	 * history counts) for 3 VMs is MMT: A, the least RAM.
	 */
	f.vms[b].nhist = 3;
	assert_int_equal(select_with(POL_SEL_MC, &f, h), a);
	f.vms[b].nhist = 4;
	assert_int_equal(select_with(POL_SEL_MC, &f, h), c);

	/* No history at all: MMT. */
	f.vms[a].nhist = f.vms[b].nhist = f.vms[c].nhist = 0;
	assert_int_equal(select_with(POL_SEL_MC, &f, h), a);

	/*
	 * Collinear histories (B a multiple of A): the regression of C on
	 * them is undefined, so MMT decides.
	 */
	set_hist(&f, a, (const double[]){ 0.1, 0.2, 0.3, 0.4, 0.5 }, 5);
	set_hist(&f, b, (const double[]){ 0.2, 0.4, 0.6, 0.8, 1.0 }, 5);
	set_hist(&f, c, (const double[]){ 0.3, 0.1, 0.4, 0.1, 0.5 }, 5);
	assert_int_equal(select_with(POL_SEL_MC, &f, h), a);

	/* One movable VM: that one. */
	{
		struct pol_fleet g;
		int hh;

		pol_fleet_init(&g);
		hh = host_new(&g);
		solo = vm_new(&g, 900, 1000, 100);
		set_hist(&g, solo, mc_c, 4);
		place(&g, hh, solo);
		assert_int_equal(select_with(POL_SEL_MC, &g, hh), solo);
		pol_fleet_free(&g);
	}
	pol_fleet_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmt),
		cmocka_unit_test(test_mu),
		cmocka_unit_test(test_rs),
		cmocka_unit_test(test_mc_r_squared_by_hand),
		cmocka_unit_test(test_mc),
		cmocka_unit_test(test_mc_falls_back_to_mmt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
