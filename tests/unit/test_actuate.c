/*
 * test_actuate.c - cpu lists and the three actuators of pwr_actuate.h.
 *
 * cpu lists: format and parse by hand-worked cases, random round trips,
 * the kernel's own lists of this machine, and every kind of bad input.
 *
 * hotplug and cgroup v2 (and v1, as files) run against fixture trees in
 * a mkdtemp directory, so they check exactly what was written and what
 * was left alone (cpu0's online file above all).  /proc/version stands in for
 * a cpu whose online write fails, to see that cores go online before any
 * goes offline.
 *
 * affinity runs on real threads of this process: three threads confined
 * to {0}, then {0,1}, read back with pthread_getaffinity_np.
 *
 * cpuset runs on this machine's real cpuset hierarchy when root: a child
 * group, cpus 0 then 0-1, a child process moved in, its
 * /proc/PID/status Cpus_allowed_list checked, the group removed.  Not
 * root, or no cpuset hierarchy: that case is skipped, saying why.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "pwr_actuate.h"
#include "pwr_park.h"

/* ---- helpers -------------------------------------------------------------- */

static struct pwr_mask
mask_of(const char *list)
{
	struct pwr_mask m;
	struct ebb_err err = { "" };

	if (pwr_cpulist_parse(list, &m, &err) != 0)
		fail_msg("mask_of(\"%s\"): %s", list, err.msg);
	return m;
}

/* The fixture tree: a mkdtemp directory, removed by the teardown. */
static char fx[64];

static const char *
fx_path(const char *rel)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fx, rel);
	return path;
}

static void
fx_mkdir(const char *rel)
{
	if (mkdir(fx_path(rel), 0755) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", fx_path(rel), strerror(errno));
}

static void
fx_write(const char *rel, const char *text)
{
	FILE *f = fopen(fx_path(rel), "w");

	if (f == NULL)
		fail_msg("%s: %s", fx_path(rel), strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* The file's whole text (a static buffer), to compare byte for byte. */
static const char *
fx_read(const char *rel)
{
	static char text[4096];
	FILE *f = fopen(fx_path(rel), "r");
	size_t n;

	if (f == NULL)
		fail_msg("%s: %s", fx_path(rel), strerror(errno));
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static int
fx_setup(void **state EBB_UNUSED)
{
	strcpy(fx, "/tmp/ebb-test-actuate-XXXXXX");
	return mkdtemp(fx) == NULL ? -1 : 0;
}

static int
rm_one(const char *path, const struct stat *sb EBB_UNUSED,
    int flag EBB_UNUSED, struct FTW *ftw EBB_UNUSED)
{
	return remove(path);
}

static int
fx_teardown(void **state EBB_UNUSED)
{
	return nftw(fx, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- cpu lists ------------------------------------------------------------ */

static void
test_cpulist_format(void **state EBB_UNUSED)
{
	static const struct {
		const char	*in;	/* parsed, so simpler to write */
		const char	*want;
	} cases[] = {
		{ "", "" },
		{ "0", "0" },
		{ "0,1", "0-1" },		/* the kernel's %*pbl */
		{ "0,1,2,3,8,10,11", "0-3,8,10-11" },
		{ "5,3,4", "3-5" },
		{ "63,64", "63-64" },		/* across a word */
		{ "0-1023", "0-1023" },
		{ "1023", "1023" },
		{ "0,2,4-6,1022-1023", "0,2,4-6,1022-1023" },
	};
	struct pwr_mask m;
	char buf[PWR_CPULIST_LEN];

	for (size_t i = 0; i < EBB_NITEMS(cases); i++) {
		m = mask_of(cases[i].in);
		assert_int_equal(pwr_cpulist_format(&m, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].want);
	}

	/* Too small: -ENOSPC and "", never a cut list that parses. */
	m = mask_of("0-3,8,10-11");		/* 11 characters */
	assert_int_equal(pwr_cpulist_format(&m, buf, 12), 0);
	assert_string_equal(buf, "0-3,8,10-11");
	assert_int_equal(pwr_cpulist_format(&m, buf, 11), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(pwr_cpulist_format(&m, buf, 0), -ENOSPC);

	/* The longest lists fit PWR_CPULIST_LEN: every other cpu, ... */
	pwr_mask_zero(&m);
	for (int c = 0; c < PWR_MAX_CPUS; c += 2)
		pwr_mask_set(&m, c);
	assert_int_equal(pwr_cpulist_format(&m, buf, sizeof(buf)), 0);
	/* ... and pairs with gaps ("a-b" every three). */
	pwr_mask_zero(&m);
	for (int c = 0; c + 1 < PWR_MAX_CPUS; c += 3)
		pwr_mask_set_range(&m, c, c + 1);
	assert_int_equal(pwr_cpulist_format(&m, buf, sizeof(buf)), 0);
	/* 2668; the longest list there is has 2673. */
	assert_in_range(strlen(buf), 2600, 2673);
}

static void
test_cpulist_parse(void **state EBB_UNUSED)
{
	struct pwr_mask m, want;
	struct ebb_err err = { "" };

	/* Whitespace around, such as the kernel's newline, is fine. */
	assert_int_equal(pwr_cpulist_parse("0-3,8,10-11\n", &m, &err), 0);
	pwr_mask_zero(&want);
	pwr_mask_set_range(&want, 0, 3);
	pwr_mask_set(&want, 8);
	pwr_mask_set_range(&want, 10, 11);
	assert_true(pwr_mask_equal(&m, &want));
	assert_int_equal(pwr_cpulist_parse("  7 \t\n", &m, &err), 0);
	assert_int_equal(pwr_mask_count(&m), 1);
	assert_true(pwr_mask_test(&m, 7));
	/* The empty list, as an empty cpuset.cpus reads. */
	assert_int_equal(pwr_cpulist_parse("\n", &m, &err), 0);
	assert_int_equal(pwr_mask_count(&m), 0);
	assert_int_equal(pwr_cpulist_parse("", &m, &err), 0);
	/* Overlaps and a single-cpu range are fine. */
	assert_int_equal(pwr_cpulist_parse("0-5,3-4,5-5", &m, &err), 0);
	assert_int_equal(pwr_mask_count(&m), 6);
	assert_int_equal(pwr_cpulist_parse("1023", &m, &err), 0);
	assert_true(pwr_mask_test(&m, 1023));
}

static void
test_cpulist_errors(void **state EBB_UNUSED)
{
	static const char *const bad[] = {
		",", "1,", ",1", "1,,2", "3-1", "1-", "-1", "1--2", "a",
		"0 1", "0, 1", "0-7:2/4", "+1", "0x1", "1-2-3", "all",
	};
	static const char *const big[] = {
		"1024", "0-1024", "1000-2000", "99999999999999999999999",
	};
	struct pwr_mask m, keep = mask_of("5");
	struct ebb_err err = { "" };

	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		m = keep;
		err.msg[0] = '\0';
		if (pwr_cpulist_parse(bad[i], &m, &err) != -EINVAL)
			fail_msg("\"%s\" not refused with -EINVAL", bad[i]);
		assert_non_null(strstr(err.msg, "cpu list"));
		/* Written only on success. */
		assert_true(pwr_mask_equal(&m, &keep));
	}
	for (size_t i = 0; i < EBB_NITEMS(big); i++) {
		m = keep;
		if (pwr_cpulist_parse(big[i], &m, &err) != -ERANGE)
			fail_msg("\"%s\" not refused with -ERANGE", big[i]);
		assert_non_null(strstr(err.msg, "below 1024"));
		assert_true(pwr_mask_equal(&m, &keep));
	}
	/* No err to fill: still refused, nothing crashes. */
	assert_int_equal(pwr_cpulist_parse("x", &m, NULL), -EINVAL);
}

/* Random masks: format, parse, the same mask again. */
static void
test_cpulist_round_trip(void **state EBB_UNUSED)
{
	struct ebb_rand rng;
	char buf[PWR_CPULIST_LEN], again[PWR_CPULIST_LEN];
	struct ebb_err err = { "" };

	ebb_rand_seed(&rng, 7);
	for (int i = 0; i < 2000; i++) {
		struct pwr_mask m, back;
		/* Dense, sparse, and runs: every shape of list. */
		double p = ebb_rand_double(&rng);

		pwr_mask_zero(&m);
		for (int c = 0; c < PWR_MAX_CPUS; c++) {
			if (ebb_rand_double(&rng) < p)
				pwr_mask_set(&m, c);
			if (i % 3 == 0 && ebb_rand_double(&rng) < 0.01)
				c += (int)ebb_rand_below(&rng, 64);
		}
		assert_int_equal(pwr_cpulist_format(&m, buf, sizeof(buf)), 0);
		assert_int_equal(pwr_cpulist_parse(buf, &back, &err), 0);
		assert_true(pwr_mask_equal(&m, &back));
		assert_int_equal(pwr_cpulist_format(&back, again,
		    sizeof(again)), 0);
		assert_string_equal(buf, again);
	}
}

/* The kernel's lists of this machine read back as the kernel wrote them. */
static void
test_cpulist_kernel(void **state EBB_UNUSED)
{
	static const char *const files[] = {
		PWR_SYSFS_CPU "/online", PWR_SYSFS_CPU "/present",
		PWR_SYSFS_CPU "/possible",
	};
	struct pwr_mask m;
	struct ebb_err err = { "" };
	char buf[PWR_CPULIST_LEN], *text;

	for (size_t i = 0; i < EBB_NITEMS(files); i++) {
		if (ebb_read_file(files[i], &text, NULL, &err) != 0) {
			print_message("skipping %s: %s\n", files[i], err.msg);
			continue;
		}
		text[strcspn(text, "\n")] = '\0';
		assert_int_equal(pwr_cpulist_read(files[i], &m, &err), 0);
		assert_true(pwr_mask_test(&m, 0));
		assert_int_equal(pwr_cpulist_format(&m, buf, sizeof(buf)), 0);
		assert_string_equal(buf, text);
		free(text);
	}
	assert_int_equal(pwr_cpulist_read("/nonexistent/online", &m, &err),
	    -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/online"));
}

static void
test_cpulist_read_bad(void **state EBB_UNUSED)
{
	struct pwr_mask m;
	struct ebb_err err = { "" };

	fx_write("online", "0-3,x\n");
	assert_int_equal(pwr_cpulist_read(fx_path("online"), &m, &err),
	    -EINVAL);
	/* The file's name and the parser's reason, both. */
	assert_non_null(strstr(err.msg, fx_path("online")));
	assert_non_null(strstr(err.msg, "bad at offset"));
}

/* ---- hotplug -------------------------------------------------------------- */

/*
 * cpus 0-4 present; cpu0 has an online file (some platforms have one) that
 * must never be written; cpu4 has none (cannot be unplugged).
 */
static void
hotplug_fixture(void)
{
	fx_write("present", "0-4\n");
	for (int c = 0; c <= 4; c++) {
		char dir[16];

		snprintf(dir, sizeof(dir), "cpu%d", c);
		fx_mkdir(dir);
	}
	fx_write("cpu0/online", "1\n");
	fx_write("cpu1/online", "1\n");
	fx_write("cpu2/online", "1\n");
	fx_write("cpu3/online", "0\n");
}

static void
test_hotplug_apply(void **state EBB_UNUSED)
{
	struct pwr_mask m = mask_of("0-1,3-4");
	struct ebb_err err = { "" };

	hotplug_fixture();
	assert_int_equal(pwr_hotplug_apply(fx, &m, &err), 0);
	/* Written: cpu2 off, cpu3 on.  Left alone: cpu0 and cpu1. */
	assert_string_equal(fx_read("cpu0/online"), "1\n");
	assert_string_equal(fx_read("cpu1/online"), "1\n");
	assert_string_equal(fx_read("cpu2/online"), "0");
	assert_string_equal(fx_read("cpu3/online"), "1");

	/* Already so: nothing written (a rewrite would drop the "\n"). */
	fx_write("cpu2/online", "0\n");
	fx_write("cpu3/online", "1\n");
	assert_int_equal(pwr_hotplug_apply(fx, &m, &err), 0);
	assert_string_equal(fx_read("cpu2/online"), "0\n");
	assert_string_equal(fx_read("cpu3/online"), "1\n");

	/* Everything online again; cpu4 (no file) is online anyway. */
	m = mask_of("0-4");
	assert_int_equal(pwr_hotplug_apply(fx, &m, &err), 0);
	assert_string_equal(fx_read("cpu2/online"), "1");
	assert_string_equal(fx_read("cpu3/online"), "1\n");
	assert_string_equal(fx_read("cpu0/online"), "1\n");
}

static void
test_hotplug_refused(void **state EBB_UNUSED)
{
	struct pwr_mask m;
	struct ebb_err err = { "" };

	hotplug_fixture();

	/* cpu0 must stay online. */
	m = mask_of("1-4");
	assert_int_equal(pwr_hotplug_apply(fx, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cpu0"));
	/* Not present. */
	m = mask_of("0-5");
	assert_int_equal(pwr_hotplug_apply(fx, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cpu5 is not present"));
	/* Empty. */
	pwr_mask_zero(&m);
	assert_int_equal(pwr_hotplug_apply(fx, &m, &err), -EINVAL);
	/*
	 * cpu4 cannot go offline: refused before anything is written, so
	 * cpu2 (also to go offline) and cpu3 (to come online) are as they
	 * were.
	 */
	m = mask_of("0-1,3");
	assert_int_equal(pwr_hotplug_apply(fx, &m, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "cpu4"));
	assert_string_equal(fx_read("cpu2/online"), "1\n");
	assert_string_equal(fx_read("cpu3/online"), "0\n");
	/* No tree at all. */
	m = mask_of("0");
	assert_int_equal(pwr_hotplug_apply("/nonexistent", &m, &err), -ENOENT);
}

/*
 * Online before offline: cpu3's online file is /proc/version (reads as
 * not "1", so offline; every write fails, EIO).  Moving from {0,1,2} to
 * {0,1,3}: the write for cpu3 fails first, and cpu2 is still online.
 */
static void
test_hotplug_order(void **state EBB_UNUSED)
{
	struct pwr_mask m = mask_of("0-1,3-4");
	struct ebb_err err = { "" };

	hotplug_fixture();
	remove(fx_path("cpu3/online"));
	if (symlink("/proc/version", fx_path("cpu3/online")) != 0)
		fail_msg("symlink: %s", strerror(errno));
	assert_true(pwr_hotplug_apply(fx, &m, &err) < 0);
	assert_non_null(strstr(err.msg, "cpu3/online"));
	assert_string_equal(fx_read("cpu2/online"), "1\n");
}

/* ---- affinity ------------------------------------------------------------- */

struct worker {
	pthread_t	 thread;
	pid_t		 tid;
	int		 stop_fd;	/* read end: EOF means stop */
	pthread_barrier_t *ready;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char c;

	w->tid = gettid();
	pthread_barrier_wait(w->ready);
	/* Block until the test closes the pipe: alive, not spinning. */
	while (read(w->stop_fd, &c, 1) > 0)
		;
	return NULL;
}

/* Whether thread t may run exactly on the cpus of m. */
static void
assert_affinity(pthread_t t, const struct pwr_mask *m)
{
	cpu_set_t cs;
	int n = 0;

	assert_int_equal(pthread_getaffinity_np(t, sizeof(cs), &cs), 0);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &cs) != pwr_mask_test(m, c))
			fail_msg("cpu%d: thread has it %s, want %s", c,
			    CPU_ISSET(c, &cs) ? "set" : "clear",
			    pwr_mask_test(m, c) ? "set" : "clear");
		n += CPU_ISSET(c, &cs) != 0;
	}
	assert_int_equal(n, pwr_mask_count(m));
}

static void
test_affinity_threads(void **state EBB_UNUSED)
{
	enum { NW = 3 };
	struct worker w[NW];
	pthread_barrier_t ready;
	pid_t tids[NW + 1];
	cpu_set_t mine;
	struct pwr_mask m;
	struct ebb_err err = { "" };
	int fds[2];
	pthread_t gone;
	struct worker gw;

	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	if (!CPU_ISSET(0, &mine)) {
		print_message("skipped: this process may not run on cpu0 "
		    "(taskset or cpuset)\n");
		skip();
	}
	assert_int_equal(pipe(fds), 0);
	pthread_barrier_init(&ready, NULL, NW + 1);
	for (int i = 0; i < NW; i++) {
		w[i].stop_fd = fds[0];
		w[i].ready = &ready;
		assert_int_equal(pthread_create(&w[i].thread, NULL,
		    worker_main, &w[i]), 0);
	}
	pthread_barrier_wait(&ready);
	for (int i = 0; i < NW; i++)
		tids[i] = w[i].tid;

	m = mask_of("0");
	assert_int_equal(pwr_affinity_apply(tids, NW, &m, &err), 0);
	for (int i = 0; i < NW; i++)
		assert_affinity(w[i].thread, &m);

	if (CPU_ISSET(1, &mine)) {
		m = mask_of("0-1");
		assert_int_equal(pwr_affinity_apply(tids, NW, &m, &err), 0);
		for (int i = 0; i < NW; i++)
			assert_affinity(w[i].thread, &m);
	} else {
		print_message("skipping {0,1}: this process may not run on "
		    "cpu1 (one core?)\n");
	}

	/* A thread that has exited (ESRCH) is skipped, the others done. */
	gw.stop_fd = -1;		/* read fails at once: it exits */
	gw.ready = NULL;
	{
		pthread_barrier_t one;

		pthread_barrier_init(&one, NULL, 2);
		gw.ready = &one;
		assert_int_equal(pthread_create(&gone, NULL, worker_main,
		    &gw), 0);
		pthread_barrier_wait(&one);
		pthread_join(gone, NULL);
		pthread_barrier_destroy(&one);
	}
	tids[NW] = gw.tid;
	m = mask_of("0");
	assert_int_equal(pwr_affinity_apply(tids, NW + 1, &m, &err), 0);
	for (int i = 0; i < NW; i++)
		assert_affinity(w[i].thread, &m);

	/* A set with no usable cpu: EINVAL, with the thread and the set. */
	m = mask_of("1000");
	assert_int_equal(pwr_affinity_apply(tids, NW, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cpus 1000"));
	pwr_mask_zero(&m);
	assert_int_equal(pwr_affinity_apply(tids, NW, &m, &err), -EINVAL);
	assert_int_equal(pwr_affinity_apply(NULL, 2, &m, &err), -EINVAL);
	m = mask_of("0");
	assert_int_equal(pwr_affinity_apply(NULL, 0, &m, &err), 0);

	close(fds[1]);
	for (int i = 0; i < NW; i++)
		pthread_join(w[i].thread, NULL);
	close(fds[0]);
	pthread_barrier_destroy(&ready);
}

/* ---- cgroups as files ----------------------------------------------------- */

static void
test_cgroup_v2_fixture(void **state EBB_UNUSED)
{
	struct pwr_cgroup cg;
	struct pwr_mask m = mask_of("0,2-3");
	struct ebb_err err = { "" };

	/* The root lists controllers but has not enabled cpuset below. */
	fx_write("cgroup.controllers", "cpuset cpu io memory pids\n");
	fx_write("cgroup.subtree_control", "memory\n");
	/* The kernel would make these files with the directory. */
	fx_mkdir("ebb");
	fx_write("ebb/cpuset.cpus", "");
	fx_write("ebb/cgroup.procs", "");

	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_V2, true,
	    &err), 0);
	assert_int_equal(cg.version, PWR_CGROUP_V2);
	assert_string_equal(cg.dir, fx_path("ebb"));
	assert_string_equal(fx_read("cgroup.subtree_control"), "+cpuset");
	assert_int_equal(pwr_cgroup_set_cpus(&cg, &m, &err), 0);
	assert_string_equal(fx_read("ebb/cpuset.cpus"), "0,2-3");
	assert_int_equal(pwr_cgroup_attach(&cg, 4242, &err), 0);
	assert_string_equal(fx_read("ebb/cgroup.procs"), "4242");

	/* Enabled already: subtree_control is not written again. */
	fx_write("cgroup.subtree_control", "cpuset memory\n");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_V2, true,
	    &err), 0);
	assert_string_equal(fx_read("cgroup.subtree_control"),
	    "cpuset memory\n");
	/* "cpusetx" is not "cpuset". */
	fx_write("cgroup.subtree_control", "cpusetx\n");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_V2, true,
	    &err), 0);
	assert_string_equal(fx_read("cgroup.subtree_control"), "+cpuset");

	/* Nested: every level from the root down to the parent. */
	fx_write("cgroup.subtree_control", "\n");
	fx_mkdir("machine");
	fx_write("machine/cgroup.subtree_control", "");
	fx_mkdir("machine/vm1");
	fx_write("machine/vm1/cpuset.cpus", "");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "machine/vm1",
	    PWR_CGROUP_V2, true, &err), 0);
	assert_string_equal(fx_read("cgroup.subtree_control"), "+cpuset");
	assert_string_equal(fx_read("machine/cgroup.subtree_control"),
	    "+cpuset");
	assert_string_equal(cg.dir, fx_path("machine/vm1"));

	/* The empty set is refused, nothing written. */
	pwr_mask_zero(&m);
	assert_int_equal(pwr_cgroup_set_cpus(&cg, &m, &err), -EINVAL);
	assert_string_equal(fx_read("machine/vm1/cpuset.cpus"), "");
}

static void
test_cgroup_v2_errors(void **state EBB_UNUSED)
{
	static const char *const bad[] = {
		"", "/ebb", "../ebb", "a/../b", ".", "a//b", "a/", "a/./b",
	};
	struct pwr_cgroup cg;
	struct ebb_err err = { "" };

	fx_write("cgroup.subtree_control", "cpuset\n");
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		if (pwr_cgroup_open(&cg, fx, bad[i], PWR_CGROUP_V2, true,
		    &err) != -EINVAL)
			fail_msg("name \"%s\" not refused", bad[i]);
	}
	/* Not there, not to be created. */
	assert_int_equal(pwr_cgroup_open(&cg, fx, "none", PWR_CGROUP_V2,
	    false, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no such cgroup"));
	/* There, but without cpuset files: the controller is not on. */
	fx_mkdir("bare");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "bare", PWR_CGROUP_V2,
	    false, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "subtree_control"));
	/* A parent missing: mkdir says so. */
	assert_int_equal(pwr_cgroup_open(&cg, fx, "bare/x/y", PWR_CGROUP_V2,
	    true, &err), -ENOENT);
	/* A plain directory is no cgroup hierarchy. */
	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_AUTO,
	    true, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "no cpuset cgroup hierarchy"));
}

/* v1 as files: mems copied from the parent before tasks can join. */
static void
test_cgroup_v1_fixture(void **state EBB_UNUSED)
{
	struct pwr_cgroup cg;
	struct pwr_mask m = mask_of("1-2");
	struct ebb_err err = { "" };

	fx_write("cpuset.cpus", "0-3\n");
	fx_write("cpuset.mems", "0-1\n");
	fx_mkdir("ebb");
	fx_write("ebb/cpuset.cpus", "\n");
	fx_write("ebb/cpuset.mems", "\n");
	fx_write("ebb/cgroup.procs", "");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_V1, true,
	    &err), 0);
	assert_string_equal(cg.prefix, "cpuset.");
	assert_string_equal(fx_read("ebb/cpuset.mems"), "0-1");
	assert_int_equal(pwr_cgroup_set_cpus(&cg, &m, &err), 0);
	assert_string_equal(fx_read("ebb/cpuset.cpus"), "1-2");
	/* mems set already: left alone. */
	fx_write("ebb/cpuset.mems", "1\n");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_V1, true,
	    &err), 0);
	assert_string_equal(fx_read("ebb/cpuset.mems"), "1\n");

	/* Mounted -o noprefix: cpus and mems. */
	remove(fx_path("ebb/cpuset.cpus"));
	remove(fx_path("ebb/cpuset.mems"));
	remove(fx_path("cpuset.cpus"));
	remove(fx_path("cpuset.mems"));
	fx_write("cpus", "0-3\n");
	fx_write("mems", "0\n");
	fx_write("ebb/cpus", "\n");
	fx_write("ebb/mems", "\n");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_V1, true,
	    &err), 0);
	assert_string_equal(cg.prefix, "");
	assert_string_equal(fx_read("ebb/mems"), "0");
	assert_int_equal(pwr_cgroup_set_cpus(&cg, &m, &err), 0);
	assert_string_equal(fx_read("ebb/cpus"), "1-2");

	/* A parent with no mems: nothing to give, said so. */
	fx_write("mems", "\n");
	fx_write("ebb/mems", "\n");
	assert_int_equal(pwr_cgroup_open(&cg, fx, "ebb", PWR_CGROUP_V1, true,
	    &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "empty"));
}

/* ---- the real cgroup hierarchy -------------------------------------------- */

static const char *cgroup_root = "/sys/fs/cgroup";

/* This machine's hierarchy, as pwr_cgroup_detect sees it. */
static void
test_cgroup_detect_real(void **state EBB_UNUSED)
{
	enum pwr_cgroup_version v;
	char hier[PATH_MAX], unified[PATH_MAX], *text;
	struct ebb_err err = { "" };
	int rc;

	rc = pwr_cgroup_detect(cgroup_root, &v, hier, sizeof(hier), &err);
	if (rc == -ENODEV) {
		print_message("skipped: %s\n", err.msg);
		skip();
	}
	assert_int_equal(rc, 0);
	print_message("cpuset hierarchy: %s (v%d)\n", hier,
	    v == PWR_CGROUP_V1 ? 1 : 2);
	if (v == PWR_CGROUP_V1)
		assert_string_equal(hier, "/sys/fs/cgroup/cpuset");
	else
		assert_true(strcmp(hier, "/sys/fs/cgroup") == 0 ||
		    strcmp(hier, "/sys/fs/cgroup/unified") == 0);

	/*
	 * The hybrid layout: cgroup2 at unified, cpuset bound to v1, so
	 * not in unified's cgroup.controllers: no cpuset there.
	 */
	snprintf(unified, sizeof(unified), "%s/unified/cgroup.controllers",
	    cgroup_root);
	if (ebb_read_file(unified, &text, NULL, NULL) == 0) {
		if (strstr(text, "cpuset") == NULL)
			assert_int_equal(pwr_cgroup_detect(
			    "/sys/fs/cgroup/unified", &v, hier, sizeof(hier),
			    &err), -ENODEV);
		free(text);
	}
	/* Too small a buffer for the answer. */
	assert_int_equal(pwr_cgroup_detect(cgroup_root, &v, hier, 4, &err),
	    -ENAMETOOLONG);
}

struct real_cg {
	struct pwr_cgroup cg;
	bool		 made;
	pid_t		 child;
};

static struct real_cg real;

static int
real_cg_teardown(void **state EBB_UNUSED)
{
	struct ebb_err err = { "" };

	if (real.child > 0) {
		kill(real.child, SIGKILL);
		waitpid(real.child, NULL, 0);
		real.child = 0;
	}
	if (real.made && pwr_cgroup_remove(&real.cg, &err) != 0) {
		print_message("cleanup: %s\n", err.msg);
		return -1;
	}
	real.made = false;
	return 0;
}

/* Cpus_allowed_list of /proc/pid/status, as a mask. */
static struct pwr_mask
allowed_of(pid_t pid)
{
	char path[64], line[PWR_CPULIST_LEN + 64];
	struct pwr_mask m;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Cpus_allowed_list:", 18) != 0)
			continue;
		fclose(f);
		return mask_of(line + 18);
	}
	fclose(f);
	fail_msg("%s: no Cpus_allowed_list", path);
	pwr_mask_zero(&m);	/* not reached */
	return m;
}

static void
test_cgroup_real(void **state EBB_UNUSED)
{
	enum pwr_cgroup_version v;
	char hier[PATH_MAX], name[64];
	struct pwr_mask online, possible, m;
	struct ebb_err err = { "" };
	bool two;

	if (geteuid() != 0) {
		print_message("skipped: not root, cannot make a cgroup\n");
		skip();
	}
	if (pwr_cgroup_detect(cgroup_root, &v, hier, sizeof(hier),
	    &err) != 0) {
		print_message("skipped: %s\n", err.msg);
		skip();
	}
	assert_int_equal(pwr_cpulist_read(PWR_SYSFS_CPU "/online", &online,
	    &err), 0);
	assert_int_equal(pwr_cpulist_read(PWR_SYSFS_CPU "/possible",
	    &possible, &err), 0);
	two = pwr_mask_test(&online, 1);

	snprintf(name, sizeof(name), "ebb-test-%d", (int)getpid());
	if (pwr_cgroup_open(&real.cg, cgroup_root, name, PWR_CGROUP_AUTO,
	    true, &err) != 0)
		fail_msg("open: %s", err.msg);
	real.made = true;
	print_message("cgroup %s (v%d)\n", real.cg.dir,
	    real.cg.version == PWR_CGROUP_V1 ? 1 : 2);

	m = mask_of("0");
	if (pwr_cgroup_set_cpus(&real.cg, &m, &err) != 0)
		fail_msg("set cpus: %s", err.msg);

	/* A child that just waits, moved into the group. */
	if ((real.child = fork()) == 0) {
		pause();
		_exit(0);
	}
	assert_true(real.child > 0);
	if (pwr_cgroup_attach(&real.cg, real.child, &err) != 0)
		fail_msg("attach: %s", err.msg);
	m = allowed_of(real.child);
	assert_true(pwr_mask_equal(&m, &(struct pwr_mask){ { 1 } }));

	if (two) {
		/* The kernel moves the group's tasks at once. */
		m = mask_of("0-1");
		if (pwr_cgroup_set_cpus(&real.cg, &m, &err) != 0)
			fail_msg("set cpus: %s", err.msg);
		m = allowed_of(real.child);
		assert_true(pwr_mask_equal(&m, &(struct pwr_mask){ { 3 } }));
	} else {
		print_message("skipping cpus 0-1: one cpu online\n");
	}

	/* A cpu the kernel does not have: refused, and said so. */
	m = mask_of("1000");
	if (!pwr_mask_test(&possible, 1000)) {
		assert_int_equal(pwr_cgroup_set_cpus(&real.cg, &m, &err),
		    -ERANGE);
		assert_non_null(strstr(err.msg, "nr_cpu_ids"));
	}
	/* v1: one it has but the parent lacks (offline): EINVAL. */
	for (int c = 1; c < PWR_MAX_CPUS; c++) {
		if (real.cg.version != PWR_CGROUP_V1 ||
		    !pwr_mask_test(&possible, c) || pwr_mask_test(&online, c))
			continue;
		m = mask_of("0");
		pwr_mask_set(&m, c);
		assert_int_equal(pwr_cgroup_set_cpus(&real.cg, &m, &err),
		    -EINVAL);
		assert_non_null(strstr(err.msg, "parent"));
		break;
	}

	/* With a task inside, the group cannot go. */
	assert_int_equal(pwr_cgroup_remove(&real.cg, &err), -EBUSY);
	kill(real.child, SIGKILL);
	waitpid(real.child, NULL, 0);
	real.child = 0;
	assert_int_equal(pwr_cgroup_remove(&real.cg, &err), 0);
	real.made = false;
	assert_int_equal(access(real.cg.dir, F_OK), -1);
}

/* ---- choosing one --------------------------------------------------------- */

static void
test_act_dispatch(void **state EBB_UNUSED)
{
	enum pwr_act_kind k;
	struct pwr_act a = { .kind = PWR_ACT_HOTPLUG };
	struct pwr_mask m = mask_of("0-1,4");
	struct ebb_err err = { "" };
	pid_t self = gettid();
	cpu_set_t cs, saved;

	for (int i = PWR_ACT_AFFINITY; i <= PWR_ACT_HOTPLUG; i++) {
		assert_int_equal(pwr_act_parse(pwr_act_name(i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(pwr_act_name(PWR_ACT_AFFINITY), "affinity");
	assert_int_equal(pwr_act_parse("Affinity", &k), -EINVAL);
	assert_int_equal(pwr_act_parse("", &k), -EINVAL);

	hotplug_fixture();
	a.sysfs = fx;
	assert_int_equal(pwr_act_apply(&a, &m, &err), 0);
	assert_string_equal(fx_read("cpu2/online"), "0");

	a.kind = PWR_ACT_CPUSET;
	assert_int_equal(pwr_act_apply(&a, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no cgroup"));

	/* Affinity on this very thread, put back afterwards. */
	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	if (CPU_ISSET(0, &saved)) {
		a.kind = PWR_ACT_AFFINITY;
		a.tids = &self;
		a.ntid = 1;
		m = mask_of("0");
		assert_int_equal(pwr_act_apply(&a, &m, &err), 0);
		assert_int_equal(sched_getaffinity(0, sizeof(cs), &cs), 0);
		assert_int_equal(CPU_COUNT(&cs), 1);
		assert_true(CPU_ISSET(0, &cs));
		assert_int_equal(sched_setaffinity(0, sizeof(saved), &saved),
		    0);
	}
	a.kind = (enum pwr_act_kind)99;
	assert_int_equal(pwr_act_apply(&a, &m, &err), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist_format),
		cmocka_unit_test(test_cpulist_parse),
		cmocka_unit_test(test_cpulist_errors),
		cmocka_unit_test(test_cpulist_round_trip),
		cmocka_unit_test(test_cpulist_kernel),
		cmocka_unit_test_setup_teardown(test_cpulist_read_bad,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hotplug_apply,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hotplug_refused,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hotplug_order,
		    fx_setup, fx_teardown),
		cmocka_unit_test(test_affinity_threads),
		cmocka_unit_test_setup_teardown(test_cgroup_v2_fixture,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_v2_errors,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_v1_fixture,
		    fx_setup, fx_teardown),
		cmocka_unit_test(test_cgroup_detect_real),
		cmocka_unit_test_teardown(test_cgroup_real, real_cg_teardown),
		cmocka_unit_test_setup_teardown(test_act_dispatch,
		    fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
