/*
 * test_sim.c - the simulator: determinism, sane figures from both models,
 * the realistic model never switching off a host that holds a VM (as far as
 * the results show it), seeded random selection; and the regression
 * against CloudSim 3.0.3's published PlanetLab figures, on the days of
 * $EBB_SHARED_DIR/data/planetlab/ that are present (each missing day is a
 * skipped test saying where it looked).
 */
#include <sys/stat.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "pol_policy.h"
#include "sim.h"
#include "sim_trace.h"

#define SAME_D(a, b) do {						\
	double _a = (a), _b = (b);					\
	if (memcmp(&_a, &_b, sizeof(_a)) != 0)				\
		fail_msg("%s = %.17g differs from %s = %.17g", #a, _a,	\
		    #b, _b);						\
} while (0)

/* ---- a small synthetic day ----------------------------------------------- */

#define SYNTH_VMS	150
#define SYNTH_HOSTS	120

static struct sim_workload synth;

static int
synth_setup(void **state EBB_UNUSED)
{
	struct sim_synth_params sp;

	sim_synth_defaults(&sp);
	sp.seed = 3;
	sp.nvms = SYNTH_VMS;
	sim_synth_generate(&sp, &synth);
	return 0;
}

static int
synth_teardown(void **state EBB_UNUSED)
{
	sim_workload_free(&synth);
	return 0;
}

static void
run(enum sim_model m, const struct pol_policy *p, uint64_t seed,
    const struct sim_workload *w, int nhosts, struct sim_result *r)
{
	struct sim_config c;
	struct ebb_err err;
	int rc;

	sim_config_defaults(&c, m);
	c.nhosts = nhosts;
	c.seed = seed;
	memset(&err, 0, sizeof(err));
	rc = sim_run(&c, p, w, r, &err);
	if (rc != 0)
		fail_msg("sim_run: %d: %s", rc, err.msg);
}

/* Everything but the CPU time spent, bit for bit. */
static void
assert_results_equal(const struct sim_result *a, const struct sim_result *b)
{
	assert_int_equal(a->model, b->model);
	assert_int_equal(a->nhosts, b->nhosts);
	assert_int_equal(a->nvms, b->nvms);
	SAME_D(a->energy_kwh, b->energy_kwh);
	SAME_D(a->baseline_kwh, b->baseline_kwh);
	SAME_D(a->slatah, b->slatah);
	SAME_D(a->pdm, b->pdm);
	SAME_D(a->slav, b->slav);
	SAME_D(a->esv, b->esv);
	SAME_D(a->sla_overall, b->sla_overall);
	assert_int_equal(a->migrations, b->migrations);
	assert_int_equal(a->host_shutdowns, b->host_shutdowns);
	assert_int_equal(a->host_boots, b->host_boots);
	SAME_D(a->mean_active_hosts, b->mean_active_hosts);
	assert_int_equal(a->vms_removed, b->vms_removed);
	assert_int_equal(a->vms_unplaced, b->vms_unplaced);
	assert_int_equal(a->rounds, b->rounds);
	assert_int_equal(a->npoints, b->npoints);
	assert_memory_equal(a->t_s, b->t_s, a->npoints * sizeof(double));
	assert_memory_equal(a->active_hosts, b->active_hosts,
	    a->npoints * sizeof(double));
	assert_memory_equal(a->power_w, b->power_w,
	    a->npoints * sizeof(double));
	assert_memory_equal(a->baseline_w, b->baseline_w,
	    a->npoints * sizeof(double));
}

static void
assert_sane(const struct sim_result *r)
{
	print_message("%s: %.3f kWh (baseline %.3f), SLATAH %.4f %%, PDM "
	    "%.5f %%, %ld migrations, %ld shutdowns, %ld boots, %.1f hosts "
	    "on average, %d removed, %d unplaced\n", sim_model_name(r->model),
	    r->energy_kwh, r->baseline_kwh, r->slatah * 100, r->pdm * 100,
	    r->migrations, r->host_shutdowns, r->host_boots,
	    r->mean_active_hosts, r->vms_removed, r->vms_unplaced);
	assert_true(r->energy_kwh > 0);
	assert_true(r->energy_kwh < r->baseline_kwh);
	assert_true(r->slatah >= 0 && r->slatah <= 1);
	assert_true(r->pdm >= 0 && r->pdm <= 1);
	assert_true(r->migrations > 0);
	assert_true(r->rounds > 0);
	/* ESV = energy x SLAV, SLAV = SLATAH x PDM. */
	SAME_D(r->slav, r->slatah * r->pdm);
	SAME_D(r->esv, r->energy_kwh * (r->slatah * r->pdm));
	assert_true(fabs(r->esv - r->energy_kwh * r->slatah * r->pdm) <=
	    1e-12 * fabs(r->esv));
	/* One point per planning interval of the day (300.1 .. 86100.1). */
	assert_int_equal(r->npoints, 287);
	assert_int_equal(r->rounds, r->npoints);
	assert_true(r->mean_active_hosts > 0 &&
	    r->mean_active_hosts <= r->nhosts);
	for (int i = 0; i < r->npoints; i++) {
		assert_true(r->active_hosts[i] >= 0 &&
		    r->active_hosts[i] <= r->nhosts);
		assert_true(r->power_w[i] >= 0);
		if (i > 0)
			assert_true(r->t_s[i] > r->t_s[i - 1]);
	}
	assert_true(r->vms_unplaced >= 0 && r->vms_unplaced <= r->nvms);
}

static void
test_deterministic(void **state EBB_UNUSED)
{
	static const enum sim_model models[] = { SIM_MODEL_CLOUDSIM,
	    SIM_MODEL_REALISTIC };
	struct pol_policy p;

	pol_policy_defaults(&p);
	for (size_t m = 0; m < EBB_NITEMS(models); m++) {
		struct sim_result a, b;

		run(models[m], &p, 42, &synth, SYNTH_HOSTS, &a);
		run(models[m], &p, 42, &synth, SYNTH_HOSTS, &b);
		assert_results_equal(&a, &b);
		sim_result_free(&a);
		sim_result_free(&b);
	}
}

static void
test_models_sane(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct sim_result r;

	pol_policy_defaults(&p);
	run(SIM_MODEL_CLOUDSIM, &p, 42, &synth, SYNTH_HOSTS, &r);
	assert_int_equal(r.model, SIM_MODEL_CLOUDSIM);
	assert_int_equal(r.nvms, SYNTH_VMS);
	assert_int_equal(r.nhosts, SYNTH_HOSTS);
	assert_sane(&r);
	assert_int_equal(r.host_boots, 0);	/* CloudSim never boots */
	sim_result_free(&r);

	run(SIM_MODEL_REALISTIC, &p, 42, &synth, SYNTH_HOSTS, &r);
	assert_int_equal(r.model, SIM_MODEL_REALISTIC);
	assert_sane(&r);
	/* VMs live the whole day in this model. */
	assert_int_equal(r.vms_removed, 0);
	sim_result_free(&r);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The realistic model keeps each VM's RAM and bandwidth held on its host
 * all day, and the simulator never switches off a host with a VM listed.
 * The results do not say which host holds what, but they bound it: the
 * hosts not off at each point must be able to hold every placed VM's RAM
 * (4096 MB a host) and bandwidth (10 VMs of 100 Mbit/s on 1 Gbit/s).  A
 * host switched off under its VMs would show as fewer hosts on than that.
 * The placed VMs are not named, so the RAM bound takes the smallest ones.
 */
static void
test_realistic_keeps_hosts_of_vms_on(void **state EBB_UNUSED)
{
	static const double vm_ram[] = { 870, 1740, 1740, 613 };
	struct pol_policy p;
	struct sim_result r;
	double ram[SYNTH_VMS], sum = 0, min_on = 1e9;
	int per_type = (SYNTH_VMS + 3) / 4, placed, need;
	const struct sim_host_type *t0 = sim_host_type_of(0);
	const struct sim_host_type *t1 = sim_host_type_of(1);

	/* Both built-in types have the same RAM and bandwidth. */
	assert_true(t0->ram_mb == 4096 && t1->ram_mb == 4096);
	assert_true(t0->bw == 1e6 && t1->bw == 1e6);

	pol_policy_defaults(&p);
	run(SIM_MODEL_REALISTIC, &p, 42, &synth, SYNTH_HOSTS, &r);
	placed = r.nvms - r.vms_unplaced;
	for (int i = 0; i < SYNTH_VMS; i++)
		ram[i] = vm_ram[EBB_MIN(i / per_type, 3)];
	qsort(ram, SYNTH_VMS, sizeof(*ram), cmp_double);
	for (int i = 0; i < placed; i++)
		sum += ram[i];
	need = EBB_MAX((int)ceil(sum / 4096), (placed + 9) / 10);
	for (int i = 0; i < r.npoints; i++) {
		min_on = fmin(min_on, r.active_hosts[i]);
		if (r.active_hosts[i] < need)
			fail_msg("t = %.1f s: %g hosts on, but %d placed VMs "
			    "need at least %d", r.t_s[i], r.active_hosts[i],
			    placed, need);
	}
	print_message("realistic: at least %g hosts on, %d needed for the "
	    "VMs' RAM and bandwidth; %ld shutdowns\n", min_on, need,
	    r.host_shutdowns);
	/* The check had something to check: hosts were switched off. */
	assert_true(r.host_shutdowns > 0);
	sim_result_free(&r);
}

/* RS draws from the run's seed: the same seed, the same day. */
static void
test_random_selection_seeded(void **state EBB_UNUSED)
{
	struct pol_policy p;
	struct sim_result a, b, c;

	pol_policy_defaults(&p);
	p.selection.method = POL_SEL_RS;
	p.selection.seed = 7;
	/* Seed 0 in the config: the policy's seed is used. */
	run(SIM_MODEL_CLOUDSIM, &p, 0, &synth, SYNTH_HOSTS, &a);
	run(SIM_MODEL_CLOUDSIM, &p, 0, &synth, SYNTH_HOSTS, &b);
	assert_results_equal(&a, &b);
	assert_true(a.migrations > 0);
	sim_result_free(&b);
	/* The config's seed 7 is the same seed. */
	run(SIM_MODEL_CLOUDSIM, &p, 7, &synth, SYNTH_HOSTS, &b);
	assert_results_equal(&a, &b);
	/* Another seed, another day (the choice of VMs differs). */
	run(SIM_MODEL_CLOUDSIM, &p, 8, &synth, SYNTH_HOSTS, &c);
	assert_true(c.migrations != a.migrations ||
	    c.energy_kwh != a.energy_kwh || c.slatah != a.slatah);
	/* Realistic too. */
	sim_result_free(&b);
	sim_result_free(&c);
	run(SIM_MODEL_REALISTIC, &p, 11, &synth, SYNTH_HOSTS, &b);
	run(SIM_MODEL_REALISTIC, &p, 11, &synth, SYNTH_HOSTS, &c);
	assert_results_equal(&b, &c);
	sim_result_free(&a);
	sim_result_free(&b);
	sim_result_free(&c);
}

static void
test_errors(void **state EBB_UNUSED)
{
	struct sim_workload empty = { NULL, 0, 300 };
	struct sim_config c;
	struct pol_policy p;
	struct sim_result r;
	struct ebb_err err;

	pol_policy_defaults(&p);
	sim_config_defaults(&c, SIM_MODEL_CLOUDSIM);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sim_run(&c, &p, &empty, &r, &err), -EINVAL);
	assert_true(err.msg[0] != '\0');
	c.nhosts = 0;
	memset(&err, 0, sizeof(err));
	assert_int_equal(sim_run(&c, &p, &synth, &r, &err), -EINVAL);
	assert_true(err.msg[0] != '\0');
}

/* ---- the CloudSim regression --------------------------------------------- */

/* A published CloudSim 3.0.3 figure set for one day and policy. */
struct reference {
	const char	*day;
	const char	*policy;	/* examples/policies/<policy>.json */
	enum pol_detector detector;	/* if the file is missing */
	double		 safety_or_threshold;
	double		 energy_kwh;	/* within 3 % */
	long		 migrations;	/* within 3 % */
	double		 slatah_pct;	/* within 10 %, 0 = not published */
	double		 pdm_pct;	/* within 10 %, 0 = not published */
};

static const struct reference refs[] = {
	{ "20110303", "lr-mmt-1.2", POL_DET_LR, 1.2, 163.48, 27859, 5.86,
	    0.079 },
	{ "20110303", "thr-mmt-0.8", POL_DET_THR, 0.8, 192.62, 26711, 0, 0 },
	{ "20110303", "iqr-mmt-1.5", POL_DET_IQR, 1.5, 189.98, 26282, 0, 0 },
	{ "20110306", "lr-mmt-1.2", POL_DET_LR, 1.2, 123.28, 20878, 0, 0 },
	{ "20110306", "thr-mmt-0.8", POL_DET_THR, 0.8, 144.74, 20908, 0, 0 },
	{ "20110322", "lr-mmt-1.2", POL_DET_LR, 1.2, 177.48, 32038, 0, 0 },
	{ "20110322", "thr-mmt-0.8", POL_DET_THR, 0.8, 201.70, 28902, 0, 0 },
};

/* The day last loaded, kept for the next test on the same day. */
static struct {
	char			 day[16];
	struct sim_workload	 w;
	bool			 loaded;
} day_cache;

static void
shared_dir(char *buf, size_t len)
{
	const char *s = getenv("EBB_SHARED_DIR"), *src = getenv("EBB_SRC");

	if (s != NULL && *s != '\0')
		snprintf(buf, len, "%s", s);
	else if (src != NULL && *src != '\0')
		snprintf(buf, len, "%s/../shared", src);
	else
		snprintf(buf, len, "../shared");
}

/* The day's workload, or NULL (the test skipped) when it is not there. */
static const struct sim_workload *
load_day(const char *day)
{
	char base[1024], dir[1200];
	struct stat st;
	struct ebb_err err;
	int rc;

	if (day_cache.loaded && strcmp(day_cache.day, day) == 0)
		return &day_cache.w;
	shared_dir(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/data/planetlab/%s", base, day);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		print_message("skipped: PlanetLab day %s not present at %s\n",
		    day, dir);
		return NULL;
	}
	if (day_cache.loaded) {
		sim_workload_free(&day_cache.w);
		day_cache.loaded = false;
	}
	memset(&err, 0, sizeof(err));
	rc = sim_workload_load_dir(dir, 288, &day_cache.w, &err);
	if (rc != 0)
		fail_msg("loading %s: %d: %s", dir, rc, err.msg);
	snprintf(day_cache.day, sizeof(day_cache.day), "%s", day);
	day_cache.loaded = true;
	return &day_cache.w;
}

static int
day_cache_free(void **state EBB_UNUSED)
{
	if (day_cache.loaded)
		sim_workload_free(&day_cache.w);
	day_cache.loaded = false;
	return 0;
}

/*
 * The reference policy from examples/policies/, or, if the file is not
 * there, the defaults (LR-MMT-1.2) with the detector set as the file would.
 */
static void
load_policy(const struct reference *ref, struct pol_policy *p)
{
	const char *src = getenv("EBB_SRC");
	char path[1024];
	struct pol_policy_error perr;
	struct ebb_err err;
	char *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/examples/policies/%s.json",
	    src != NULL && *src != '\0' ? src : ".", ref->policy);
	memset(&err, 0, sizeof(err));
	if (ebb_read_file(path, &text, &len, &err) != 0) {
		print_message("%s not readable (%s): using the built-in "
		    "defaults\n", path, err.msg);
		pol_policy_defaults(p);
		p->overload.detector = ref->detector;
		if (ref->detector == POL_DET_THR)
			p->overload.threshold = ref->safety_or_threshold;
		else
			p->overload.safety = ref->safety_or_threshold;
		return;
	}
	if (pol_policy_parse(text, path, p, &perr) != 0)
		fail_msg("%s", perr.msg);
	free(text);
	assert_int_equal(p->overload.detector, ref->detector);
	assert_int_equal(p->selection.method, POL_SEL_MMT);
}

static bool
within(double got, double want, double frac)
{
	return fabs(got - want) <= frac * fabs(want);
}

static void
regression(const struct reference *ref)
{
	const struct sim_workload *w = load_day(ref->day);
	struct pol_policy p;
	struct sim_result r;
	bool ok = true;

	if (w == NULL) {
		skip();
		return;
	}
	load_policy(ref, &p);
	run(SIM_MODEL_CLOUDSIM, &p, 42, w, 800, &r);
	print_message("%s %s: %.2f kWh (CloudSim %.2f), %ld migrations "
	    "(%ld), SLATAH %.2f %%, PDM %.3f %%, %d VMs\n", ref->day,
	    ref->policy, r.energy_kwh, ref->energy_kwh, r.migrations,
	    ref->migrations, r.slatah * 100, r.pdm * 100, r.nvms);
	if (!within(r.energy_kwh, ref->energy_kwh, 0.03)) {
		print_error("energy %.2f kWh not within 3 %% of %.2f\n",
		    r.energy_kwh, ref->energy_kwh);
		ok = false;
	}
	if (!within(r.migrations, ref->migrations, 0.03)) {
		print_error("%ld migrations not within 3 %% of %ld\n",
		    r.migrations, ref->migrations);
		ok = false;
	}
	if (ref->slatah_pct > 0 &&
	    !within(r.slatah * 100, ref->slatah_pct, 0.10)) {
		print_error("SLATAH %.3f %% not within 10 %% of %.2f %%\n",
		    r.slatah * 100, ref->slatah_pct);
		ok = false;
	}
	if (ref->pdm_pct > 0 && !within(r.pdm * 100, ref->pdm_pct, 0.10)) {
		print_error("PDM %.4f %% not within 10 %% of %.3f %%\n",
		    r.pdm * 100, ref->pdm_pct);
		ok = false;
	}
	sim_result_free(&r);
	assert_true(ok);
}

static void
test_cloudsim_20110303_lr_mmt(void **state EBB_UNUSED)
{
	regression(&refs[0]);
}

static void
test_cloudsim_20110303_thr_mmt(void **state EBB_UNUSED)
{
	regression(&refs[1]);
}

static void
test_cloudsim_20110303_iqr_mmt(void **state EBB_UNUSED)
{
	regression(&refs[2]);
}

static void
test_cloudsim_20110306_lr_mmt(void **state EBB_UNUSED)
{
	regression(&refs[3]);
}

static void
test_cloudsim_20110306_thr_mmt(void **state EBB_UNUSED)
{
	regression(&refs[4]);
}

static void
test_cloudsim_20110322_lr_mmt(void **state EBB_UNUSED)
{
	regression(&refs[5]);
}

static void
test_cloudsim_20110322_thr_mmt(void **state EBB_UNUSED)
{
	regression(&refs[6]);
}

int
main(void)
{
	const struct CMUnitTest synthetic[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_models_sane),
		cmocka_unit_test(test_realistic_keeps_hosts_of_vms_on),
		cmocka_unit_test(test_random_selection_seeded),
		cmocka_unit_test(test_errors),
	};
	const struct CMUnitTest cloudsim[] = {
		cmocka_unit_test(test_cloudsim_20110303_lr_mmt),
		cmocka_unit_test(test_cloudsim_20110303_thr_mmt),
		cmocka_unit_test(test_cloudsim_20110303_iqr_mmt),
		cmocka_unit_test(test_cloudsim_20110306_lr_mmt),
		cmocka_unit_test(test_cloudsim_20110306_thr_mmt),
		cmocka_unit_test(test_cloudsim_20110322_lr_mmt),
		cmocka_unit_test(test_cloudsim_20110322_thr_mmt),
	};
	int failed;

	failed = cmocka_run_group_tests_name("synthetic", synthetic,
	    synth_setup, synth_teardown);
	failed += cmocka_run_group_tests_name("cloudsim", cloudsim, NULL,
	    day_cache_free);
	return failed ? 1 : 0;
}
