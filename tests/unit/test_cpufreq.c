/*
 * test_cpufreq.c - pwr_cpufreq over the real libcpupower, reading and
 * writing the fake sysfs tests/fixtures/sys/host4 (see its README.md)
 * mounted over /sys/devices in a private mount namespace.  Needs root
 * for the namespace; exits 77 (skipped) without it.
 *
 * Checked: every value of the fixture reads back exactly; parking lowers
 * scaling_max_freq in the fixture file and unparking restores it, a
 * shared policy only once all its cpus are parked; set_max's range
 * checks and a refused write's errno; and the degraded cases (no
 * cpufreq, no cpuidle, some cpus without a policy, a policy that stops
 * reading, an offline cpu), each logged exactly once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "pwr_cpufreq.h"
#include "../fixtures/sys/fakesys.h"

#define CPU	"/sys/devices/system/cpu"

static struct fakesys_capture capture = { .saved = -1 };

static int
setup(void **state EBB_UNUSED)
{
	char why[512];

	if (fakesys_mount(fakesys_fixture(__FILE__, "host4"), why,
	    sizeof(why)) != 0) {
		print_error("fakesys_mount: %s\n", why);
		return -1;
	}
	return 0;
}

static int
teardown(void **state EBB_UNUSED)
{
	/* A failed assertion jumps past capture_end: restore stderr. */
	if (capture.saved >= 0)
		free(fakesys_capture_end(&capture));
	fakesys_umount();
	return 0;
}

static struct pwr_cpufreq *
open_ok(void)
{
	struct pwr_cpufreq *cf;
	struct ebb_err err = { "" };
	int rc = pwr_cpufreq_open(&cf, &err);

	if (rc != 0)
		fail_msg("pwr_cpufreq_open: %d %s", rc, err.msg);
	return cf;
}

static void
read_ok(struct pwr_cpufreq *cf, unsigned cpu, struct pwr_cpu_info *ci)
{
	struct ebb_err err = { "" };
	int rc = pwr_cpufreq_read(cf, cpu, ci, &err);

	if (rc != 0)
		fail_msg("pwr_cpufreq_read(%u): %d %s", cpu, rc, err.msg);
}

/* The fixture file's number, as the kernel would show it. */
static unsigned long
file_khz(const char *policy, const char *file)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), CPU "/cpufreq/%s/%s", policy, file);
	return strtoul(fakesys_read(path, buf, sizeof(buf)), NULL, 10);
}

/* ---- reading ------------------------------------------------------------ */

static void
test_read_fixture(void **state EBB_UNUSED)
{
	static const struct {
		const char *gov;
		unsigned long cur, min, max;
	} want[4] = {
		{ "ondemand", 2400000, 1200000, 3600000 },
		{ "performance", 3600000, 1200000, 3600000 },
		{ "powersave", 1800000, 1200000, 3000000 },
		{ "powersave", 1800000, 1200000, 3000000 },
	};
	static const char *names[] = { "POLL", "C1", "C6" };
	static const char *descs[] = { "CPUIDLE CORE POLL IDLE", "MWAIT 0x00",
	    "MWAIT 0x20" };
	static const unsigned long lat[] = { 0, 2, 133 };
	const struct pwr_cpufreq_status *st;
	struct pwr_cpufreq *cf;
	struct pwr_cpu_info ci;
	char *log;

	fakesys_capture_start(&capture);
	cf = open_ok();
	st = pwr_cpufreq_status(cf);
	assert_int_equal(st->ncpu, 4);
	assert_int_equal(st->nonline, 4);
	assert_true(st->cpufreq);
	assert_true(st->cpuidle);
	assert_string_equal(st->driver, "acpi-cpufreq");
	assert_string_equal(st->idle_driver, "intel_idle");
	assert_string_equal(st->cpufreq_why, "");
	assert_string_equal(st->cpuidle_why, "");

	for (unsigned c = 0; c < 4; c++) {
		read_ok(cf, c, &ci);
		assert_int_equal(ci.cpu, c);
		assert_true(ci.online);
		assert_true(ci.has_freq);
		assert_string_equal(ci.governor, want[c].gov);
		assert_int_equal(ci.cur_khz, want[c].cur);
		assert_int_equal(ci.min_khz, want[c].min);
		assert_int_equal(ci.max_khz, want[c].max);
		assert_int_equal(ci.hw_min_khz, 1200000);
		assert_int_equal(ci.hw_max_khz, 3600000);
		assert_false(ci.parked);
		assert_false(ci.capped);
		assert_int_equal(ci.nidle, 3);
		for (int s = 0; s < 3; s++) {
			const struct pwr_idle_state *is = &ci.idle[s];
			static const unsigned long long use[] = { 11, 333,
			    5555 };
			unsigned long long t[] = { c * 100000ULL + 2222,
			    c * 1000000ULL + 444444,
			    c * 1000000000ULL + 98765432101ULL };

			assert_string_equal(is->name, names[s]);
			assert_string_equal(is->desc, descs[s]);
			assert_int_equal(is->latency_us, lat[s]);
			assert_int_equal(is->usage, c * 1000ULL + use[s]);
			assert_int_equal(is->time_us, t[s]);
			/* cpu3's C6 is disabled in the fixture. */
			assert_int_equal(is->disabled, c == 3 && s == 2);
		}
	}
	pwr_cpufreq_close(cf);
	log = fakesys_capture_end(&capture);
	assert_string_equal(log, "");	/* a complete host: nothing to say */
	free(log);
}

/*
 * libcpupower 6.1 tests errno == ERANGE after strtoul() without clearing
 * errno; a stale ERANGE must not turn the values into 0.
 */
static void
test_stale_errno(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf = open_ok();
	struct pwr_cpu_info ci;

	errno = ERANGE;
	read_ok(cf, 0, &ci);
	assert_true(ci.has_freq);
	assert_int_equal(ci.cur_khz, 2400000);
	assert_int_equal(ci.hw_max_khz, 3600000);
	assert_int_equal(ci.idle[2].time_us, 98765432101ULL);
	pwr_cpufreq_close(cf);
}

/* A cpu number beyond the host is an error, not "not available". */
static void
test_bad_cpu(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf = open_ok();
	struct pwr_cpu_info ci;
	struct ebb_err err = { "" };
	bool capped = true;

	assert_int_equal(pwr_cpufreq_read(cf, 4, &ci, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cpu4"));
	assert_int_equal(pwr_cpufreq_set_max(cf, 99, 1200000, &err), -EINVAL);
	assert_int_equal(pwr_cpufreq_park(cf, 4, &capped, &err), -EINVAL);
	assert_false(capped);
	assert_int_equal(pwr_cpufreq_unpark(cf, 4, &err), -EINVAL);
	pwr_cpufreq_close(cf);
}

/* ---- the ceiling -------------------------------------------------------- */

static void
test_set_max(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf = open_ok();
	struct pwr_cpu_info ci;
	struct ebb_err err = { "" };

	assert_int_equal(pwr_cpufreq_set_max(cf, 0, 2400000, &err), 0);
	assert_int_equal(file_khz("policy0", "scaling_max_freq"), 2400000);
	read_ok(cf, 0, &ci);
	assert_int_equal(ci.max_khz, 2400000);

	/* Outside the hardware's range, or below the policy minimum. */
	assert_int_equal(pwr_cpufreq_set_max(cf, 0, 4000000, &err), -ERANGE);
	assert_non_null(strstr(err.msg, "1200000 .. 3600000"));
	assert_int_equal(pwr_cpufreq_set_max(cf, 0, 1000000, &err), -ERANGE);
	assert_int_equal(fakesys_write(CPU "/cpufreq/policy0/scaling_min_freq",
	    "1800000\n"), 0);
	assert_int_equal(pwr_cpufreq_set_max(cf, 0, 1500000, &err), -ERANGE);
	assert_non_null(strstr(err.msg, "policy minimum 1800000"));
	/* Nothing was written by the refused calls. */
	assert_int_equal(file_khz("policy0", "scaling_max_freq"), 2400000);
	pwr_cpufreq_close(cf);
}

/* The errno of a failed write, not libcpupower's blanket -ENODEV. */
static void
test_set_max_write_fails(void **state EBB_UNUSED)
{
	const char *path = CPU "/cpufreq/policy1/scaling_max_freq";
	struct pwr_cpufreq *cf = open_ok();
	struct ebb_err err = { "" };
	bool capped = true;

	/*
	 * Root may write any file whatever its mode, so make the file a
	 * read-only bind mount of itself: open(O_WRONLY) then fails with
	 * EROFS while reads, which the policy needs, still work.  The
	 * teardown's lazy unmount of /sys/devices takes it away too.
	 */
	assert_int_equal(mount(path, path, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(NULL, path, NULL,
	    MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
	assert_int_equal(pwr_cpufreq_set_max(cf, 1, 2400000, &err), -EROFS);
	assert_non_null(strstr(err.msg, "cpu1: writing 2400000 to "
	    CPU "/cpu1/cpufreq/scaling_max_freq"));
	assert_non_null(strstr(err.msg, strerror(EROFS)));

	/* A park that cannot lower stays uncapped, and says why. */
	assert_int_equal(pwr_cpufreq_park(cf, 1, &capped, &err), -EROFS);
	assert_false(capped);
	assert_int_equal(file_khz("policy1", "scaling_max_freq"), 3600000);
	pwr_cpufreq_close(cf);
}

static void
test_park_own_policy(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf = open_ok();
	struct pwr_cpu_info ci;
	struct ebb_err err = { "" };
	bool capped = false;

	assert_int_equal(pwr_cpufreq_park(cf, 1, &capped, &err), 0);
	assert_true(capped);
	assert_int_equal(file_khz("policy1", "scaling_max_freq"), 1200000);
	read_ok(cf, 1, &ci);
	assert_true(ci.parked);
	assert_true(ci.capped);
	assert_int_equal(ci.max_khz, 1200000);
	/* Others untouched. */
	assert_int_equal(file_khz("policy0", "scaling_max_freq"), 3600000);
	assert_int_equal(file_khz("policy2", "scaling_max_freq"), 3000000);

	/* Parking again changes nothing and remembers the first ceiling. */
	assert_int_equal(pwr_cpufreq_park(cf, 1, &capped, &err), 0);
	assert_true(capped);

	assert_int_equal(pwr_cpufreq_unpark(cf, 1, &err), 0);
	assert_int_equal(file_khz("policy1", "scaling_max_freq"), 3600000);
	read_ok(cf, 1, &ci);
	assert_false(ci.parked);
	assert_false(ci.capped);
	assert_int_equal(ci.max_khz, 3600000);
	/* Unparking an unparked cpu writes nothing. */
	assert_int_equal(fakesys_write(CPU "/cpufreq/policy1/scaling_max_freq",
	    "3000000\n"), 0);
	assert_int_equal(pwr_cpufreq_unpark(cf, 1, &err), 0);
	assert_int_equal(file_khz("policy1", "scaling_max_freq"), 3000000);
	pwr_cpufreq_close(cf);
}

/*
 * cpu2 and cpu3 share policy2: lowering it while one of them runs work
 * would slow that one down, so it waits for both.
 */
static void
test_park_shared_policy(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf = open_ok();
	struct pwr_cpu_info ci;
	struct ebb_err err = { "" };
	bool capped = true;

	assert_int_equal(pwr_cpufreq_park(cf, 2, &capped, &err), 0);
	assert_false(capped);
	assert_int_equal(file_khz("policy2", "scaling_max_freq"), 3000000);
	read_ok(cf, 2, &ci);
	assert_true(ci.parked);
	assert_false(ci.capped);

	assert_int_equal(pwr_cpufreq_park(cf, 3, &capped, &err), 0);
	assert_true(capped);
	assert_int_equal(file_khz("policy2", "scaling_max_freq"), 1200000);
	read_ok(cf, 2, &ci);
	assert_true(ci.capped);
	read_ok(cf, 3, &ci);
	assert_true(ci.capped);

	/* One of them back to work: the shared ceiling goes back up. */
	assert_int_equal(pwr_cpufreq_unpark(cf, 2, &err), 0);
	assert_int_equal(file_khz("policy2", "scaling_max_freq"), 3000000);
	read_ok(cf, 3, &ci);
	assert_true(ci.parked);
	assert_false(ci.capped);
	assert_int_equal(pwr_cpufreq_unpark(cf, 3, &err), 0);
	assert_int_equal(file_khz("policy2", "scaling_max_freq"), 3000000);
	pwr_cpufreq_close(cf);
}

/* The floor is the policy minimum when that is above the hardware's. */
static void
test_park_floor(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf;
	struct ebb_err err = { "" };
	bool capped;

	assert_int_equal(fakesys_write(CPU "/cpufreq/policy0/scaling_min_freq",
	    "1800000\n"), 0);
	cf = open_ok();
	assert_int_equal(pwr_cpufreq_park(cf, 0, &capped, &err), 0);
	assert_true(capped);
	assert_int_equal(file_khz("policy0", "scaling_max_freq"), 1800000);
	assert_int_equal(pwr_cpufreq_unpark(cf, 0, &err), 0);
	assert_int_equal(file_khz("policy0", "scaling_max_freq"), 3600000);
	pwr_cpufreq_close(cf);
}

/* ---- degraded hosts ----------------------------------------------------- */

/* This VM's own layout: no cpufreq at all, cpuidle driver "none". */
static void
make_vm(void)
{
	char path[128];

	for (int c = 0; c < 4; c++) {
		snprintf(path, sizeof(path), CPU "/cpu%d/cpufreq", c);
		assert_int_equal(fakesys_rm(path), 0);
		snprintf(path, sizeof(path), CPU "/cpu%d/cpuidle", c);
		assert_int_equal(fakesys_rm(path), 0);
	}
	assert_int_equal(fakesys_rm(CPU "/cpufreq"), 0);
	assert_int_equal(mkdir(CPU "/cpufreq", 0755), 0);
	assert_int_equal(fakesys_write(CPU "/cpuidle/current_driver",
	    "none\n"), 0);
}

static void
test_no_cpufreq(void **state EBB_UNUSED)
{
	const struct pwr_cpufreq_status *st;
	struct pwr_cpufreq *cf;
	struct pwr_cpu_info ci;
	struct ebb_err err = { "" };
	bool capped = true;
	char *log;

	make_vm();
	fakesys_capture_start(&capture);
	cf = open_ok();
	st = pwr_cpufreq_status(cf);
	assert_false(st->cpufreq);
	assert_false(st->cpuidle);
	assert_int_equal(st->nonline, 4);
	assert_string_equal(st->driver, "");
	assert_string_equal(st->idle_driver, "none");
	assert_non_null(strstr(st->cpufreq_why, "no cpufreq driver"));
	assert_non_null(strstr(st->cpuidle_why, "\"none\""));

	/* Many calls, as the agent makes them: no more log lines. */
	for (int round = 0; round < 3; round++)
		for (unsigned c = 0; c < 4; c++) {
			read_ok(cf, c, &ci);
			assert_true(ci.online);
			assert_false(ci.has_freq);
			assert_int_equal(ci.cur_khz, 0);
			assert_int_equal(ci.nidle, 0);
			assert_int_equal(pwr_cpufreq_park(cf, c, &capped,
			    &err), 0);
			assert_false(capped);
			assert_int_equal(pwr_cpufreq_unpark(cf, c, &err), 0);
		}
	assert_int_equal(pwr_cpufreq_set_max(cf, 1, 1200000, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "no cpufreq driver"));
	pwr_cpufreq_close(cf);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 2);
	assert_int_equal(fakesys_count(log, "cpufreq: not available: no "
	    "cpufreq driver on any of the 4 online cpus"), 1);
	assert_int_equal(fakesys_count(log, "cpuidle: not available: "
	    "cpuidle driver \"none\" exports no idle states"), 1);
	free(log);
}

/* cpufreq there, cpuidle gone entirely (no cpuidle/ directory). */
static void
test_no_cpuidle(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf;
	struct pwr_cpu_info ci;
	char *log;

	assert_int_equal(fakesys_rm(CPU "/cpuidle"), 0);
	fakesys_capture_start(&capture);
	cf = open_ok();
	assert_true(pwr_cpufreq_status(cf)->cpufreq);
	assert_false(pwr_cpufreq_status(cf)->cpuidle);
	assert_string_equal(pwr_cpufreq_status(cf)->idle_driver, "");
	read_ok(cf, 0, &ci);
	read_ok(cf, 0, &ci);
	assert_true(ci.has_freq);
	assert_int_equal(ci.nidle, 0);
	pwr_cpufreq_close(cf);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "cpuidle: not available: no "
	    "cpuidle in sysfs"), 1);
	free(log);
}

/* cpu3 without a policy: one line naming it; the rest work. */
static void
test_some_cpus_without_cpufreq(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf;
	struct pwr_cpu_info ci;
	struct ebb_err err = { "" };
	bool capped;
	char *log;

	assert_int_equal(fakesys_rm(CPU "/cpu3/cpufreq"), 0);
	fakesys_capture_start(&capture);
	cf = open_ok();
	assert_true(pwr_cpufreq_status(cf)->cpufreq);
	read_ok(cf, 3, &ci);
	assert_false(ci.has_freq);
	assert_int_equal(ci.nidle, 3);
	read_ok(cf, 2, &ci);
	assert_true(ci.has_freq);
	assert_int_equal(pwr_cpufreq_set_max(cf, 3, 1200000, &err), -ENODEV);
	assert_int_equal(pwr_cpufreq_park(cf, 3, &capped, &err), 0);
	assert_false(capped);
	pwr_cpufreq_close(cf);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "cpufreq: no policy on cpus 3 "
	    "(driver acpi-cpufreq runs on the other 3)"), 1);
	free(log);
}

/* A policy that stops reading after open: logged once, not per read. */
static void
test_policy_vanishes(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf = open_ok();
	struct pwr_cpu_info ci;
	char *log;

	assert_int_equal(fakesys_rm(CPU "/cpufreq/policy1/scaling_governor"),
	    0);
	fakesys_capture_start(&capture);
	for (int i = 0; i < 3; i++) {
		read_ok(cf, 1, &ci);
		assert_true(ci.online);
		assert_false(ci.has_freq);
		assert_int_equal(ci.nidle, 3);
	}
	pwr_cpufreq_close(cf);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "cpufreq: cpu1: the policy no "
	    "longer reads"), 1);
	free(log);
}

/* An offline cpu (the hotplug actuator's parked cores) reads as such. */
static void
test_offline_cpu(void **state EBB_UNUSED)
{
	struct pwr_cpufreq *cf;
	struct pwr_cpu_info ci;
	char *log;

	assert_int_equal(fakesys_write(CPU "/online", "0-2\n"), 0);
	assert_int_equal(fakesys_write(CPU "/offline", "3\n"), 0);
	fakesys_capture_start(&capture);
	cf = open_ok();
	assert_int_equal(pwr_cpufreq_status(cf)->ncpu, 4);
	assert_int_equal(pwr_cpufreq_status(cf)->nonline, 3);
	read_ok(cf, 3, &ci);
	assert_false(ci.online);
	assert_false(ci.has_freq);
	assert_int_equal(ci.nidle, 0);

	/* Back online: probed then, and read. */
	assert_int_equal(fakesys_write(CPU "/online", "0-3\n"), 0);
	read_ok(cf, 3, &ci);
	assert_true(ci.online);
	assert_true(ci.has_freq);
	assert_string_equal(ci.governor, "powersave");
	pwr_cpufreq_close(cf);
	log = fakesys_capture_end(&capture);
	assert_string_equal(log, "");
	free(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_fixture, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_errno, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_max_write_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_park_own_policy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_park_shared_policy,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_park_floor, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_cpufreq, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_cpuidle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_some_cpus_without_cpufreq,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_vanishes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_offline_cpu, setup,
		    teardown),
	};
	char why[256];

	if (fakesys_enter(why, sizeof(why)) != 0) {
		printf("test_cpufreq: skipped: %s\n", why);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
