/*
 * test_metrics.c - the /proc samplers against fixture trees: a temporary
 * folder per test holds stat, loadavg, meminfo, uptime and PID/... files
 * with known contents; a test samples, rewrites them, samples again and
 * checks exact deltas and fractions (hotplug, counter wrap, malformed
 * files, a vanished or zombie process), and the Prometheus rendering of a
 * host sample against exact text.
 *
 * Files are rewritten in place (fopen "w" truncates the same inode),
 * because the samplers keep their files open and pread them at offset 0,
 * as they do with /proc.
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebb.h"
#include "met_cpu.h"
#include "met_host.h"
#include "met_proc.h"
#include "met_prom.h"

/* ---- fixture trees ------------------------------------------------------- */

static int
fx_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	char *root;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	root = ebb_malloc(strlen(base) + 32);
	sprintf(root, "%s/ebb-metrics-XXXXXX", base);
	if (mkdtemp(root) == NULL) {
		free(root);
		return -1;
	}
	*state = root;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st EBB_UNUSED,
    int flag EBB_UNUSED, struct FTW *ftw EBB_UNUSED)
{
	return remove(path);
}

static int
fx_teardown(void **state)
{
	char *root = *state;

	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
	return 0;
}

/* Writes root/rel (making its folders), truncating it in place. */
static void EBB_PRINTF(3, 4)
fx_put(const char *root, const char *rel, const char *fmt, ...)
{
	char path[1024];
	va_list ap;
	size_t n;
	FILE *f;
	char *s;

	n = (size_t)snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_true(n < sizeof(path));
	for (s = path + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		assert_true(mkdir(path, 0777) == 0 || errno == EEXIST);
		*s = '/';
	}
	assert_non_null(f = fopen(path, "w"));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
}

/* The lines after the cpu lines, as a 2-CPU kernel prints them. */
#define STAT_TAIL							\
	"intr 1401122 0 0 0 0 0 0 0 0 0 10 0 330 101\n"			\
	"ctxt 2285140\n"						\
	"btime 1700000000\n"						\
	"processes 19781\n"						\
	"procs_running 2\n"						\
	"procs_blocked 0\n"						\
	"softirq 9417 0 2101 1 480 0 0 1 3412 0 3422\n"

#define assert_nan(x)	assert_true(isnan(x))

static void
assert_ticks(const uint64_t *got, uint64_t u, uint64_t n, uint64_t s,
    uint64_t i, uint64_t io, uint64_t irq, uint64_t si, uint64_t st)
{
	uint64_t want[MET_CPU_NMODES] = { u, n, s, i, io, irq, si, st };

	for (int m = 0; m < MET_CPU_NMODES; m++) {
		if (got[m] != want[m])
			fail_msg("%s: %ju, want %ju", met_cpu_mode_name(m),
			    (uintmax_t)got[m], (uintmax_t)want[m]);
	}
}

/* ---- met_cpu ------------------------------------------------------------- */

static void
test_cpu_deltas(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;
	const struct met_cpu_core *c0, *c1;

	fx_put(root, "stat",
	    "cpu  1000 10 500 8000 200 5 15 0 0 0\n"
	    "cpu0 600 10 300 3900 100 5 5 0 0 0\n"
	    "cpu1 400 0 200 4100 100 0 10 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);

	/* First sample: counters known, no interval yet. */
	assert_int_equal(c.nsample, 1);
	assert_int_equal(c.nonline, 2);
	assert_true(c.ncore >= 2);
	c0 = &c.core[0];
	c1 = &c.core[1];
	assert_true(c0->online && c1->online && c.all.online);
	assert_false(c0->valid || c1->valid || c.all.valid);
	assert_nan(c0->busy);
	assert_nan(met_cpu_frac(c0, MET_CPU_USER));
	assert_ticks(c0->ticks, 600, 10, 300, 3900, 100, 5, 5, 0);
	assert_int_equal(c.all.id, -1);

	/*
	 * cpu0: +30 user +5 nice +10 system +40 idle +5 iowait +4 irq
	 * +3 softirq +3 steal = 100; busy = (100 - 40 - 5) / 100 = 0.55.
	 * Its guest column (20) is inside user already: not counted again.
	 * cpu1: +10 user +10 system +170 idle +10 iowait = 200;
	 * busy = (200 - 170 - 10) / 200 = 0.1.
	 * all: 300 ticks, idle 210, iowait 15: busy = 75 / 300 = 0.25.
	 */
	fx_put(root, "stat",
	    "cpu  1040 15 520 8210 215 9 18 3 20 0\n"
	    "cpu0 630 15 310 3940 105 9 8 3 20 0\n"
	    "cpu1 410 0 210 4270 110 0 10 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(c.nsample, 2);
	assert_true(c0->valid && c1->valid && c.all.valid);
	assert_ticks(c0->delta, 30, 5, 10, 40, 5, 4, 3, 3);
	assert_int_equal(c0->delta_total, 100);
	assert_true(c0->busy == 0.55);
	assert_true(met_cpu_frac(c0, MET_CPU_USER) == 0.3);
	assert_true(met_cpu_frac(c0, MET_CPU_STEAL) == 0.03);
	assert_ticks(c1->delta, 10, 0, 10, 170, 10, 0, 0, 0);
	assert_int_equal(c1->delta_total, 200);
	assert_true(c1->busy == 0.1);
	assert_true(met_cpu_frac(c1, MET_CPU_IDLE) == 0.85);
	assert_int_equal(c.all.delta_total, 300);
	assert_true(c.all.busy == 0.25);
	/* Counters in seconds: ticks / USER_HZ. */
	assert_true(met_cpu_seconds(&c, c0, MET_CPU_USER) ==
	    630.0 / (double)c.hz);
	met_cpu_close(&c);
}

static void
test_cpu_hotplug(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;

	fx_put(root, "stat",
	    "cpu  400 0 400 3200 0 0 0 0 0 0\n"
	    "cpu0 100 0 100 800 0 0 0 0 0 0\n"
	    "cpu1 100 0 100 800 0 0 0 0 0 0\n"
	    "cpu2 100 0 100 800 0 0 0 0 0 0\n"
	    "cpu3 100 0 100 800 0 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(c.nonline, 4);

	/* cpu2 goes offline: its line is missing. */
	fx_put(root, "stat",
	    "cpu  430 0 400 3470 0 0 0 0 0 0\n"
	    "cpu0 110 0 100 890 0 0 0 0 0 0\n"
	    "cpu1 110 0 100 890 0 0 0 0 0 0\n"
	    "cpu3 110 0 100 890 0 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(c.nonline, 3);
	assert_false(c.core[2].online);
	assert_false(c.core[2].valid);
	assert_nan(c.core[2].busy);
	assert_int_equal(c.core[2].delta_total, 0);
	assert_true(c.core[0].valid && c.core[0].busy == 0.1);
	assert_true(c.core[3].valid && c.core[3].busy == 0.1);

	/*
	 * cpu2 comes back with counters that moved while it was away, and
	 * cpu5 appears (beyond every slot so far): neither has a baseline.
	 */
	fx_put(root, "stat",
	    "cpu  560 0 500 4360 0 0 0 0 0 0\n"
	    "cpu0 120 0 100 980 0 0 0 0 0 0\n"
	    "cpu1 120 0 100 980 0 0 0 0 0 0\n"
	    "cpu2 150 0 100 900 0 0 0 0 0 0\n"
	    "cpu3 120 0 100 980 0 0 0 0 0 0\n"
	    "cpu5 50 0 100 520 0 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(c.nonline, 5);
	assert_true(c.ncore >= 6);
	assert_true(c.core[2].online && !c.core[2].valid);
	assert_true(c.core[5].online && !c.core[5].valid);
	assert_int_equal(c.core[5].id, 5);
	assert_false(c.core[4].online);	/* never listed */
	assert_true(c.core[0].valid && c.core[0].busy == 0.1);
	assert_true(c.all.valid);

	/* The next interval is known for both. */
	fx_put(root, "stat",
	    "cpu  650 0 500 4770 0 0 0 0 0 0\n"
	    "cpu0 130 0 100 1070 0 0 0 0 0 0\n"
	    "cpu1 130 0 100 1070 0 0 0 0 0 0\n"
	    "cpu2 200 0 100 950 0 0 0 0 0 0\n"
	    "cpu3 130 0 100 1070 0 0 0 0 0 0\n"
	    "cpu5 50 0 100 620 0 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_true(c.core[2].valid && c.core[2].busy == 0.5);
	assert_true(c.core[5].valid && c.core[5].busy == 0.0);
	met_cpu_close(&c);
}

static void
test_cpu_wrap(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;
	const struct met_cpu_core *c1;

	fx_put(root, "stat",
	    "cpu  200 0 200 1600 100 0 0 0 0 0\n"
	    "cpu0 100 0 100 800 50 0 0 0 0 0\n"
	    "cpu1 100 0 100 800 50 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	c1 = &c.core[1];

	/* cpu1's iowait steps back (50 -> 40): unknown, never negative. */
	fx_put(root, "stat",
	    "cpu  220 0 200 1760 110 0 0 0 0 0\n"
	    "cpu0 110 0 100 880 60 0 0 0 0 0\n"
	    "cpu1 110 0 100 880 40 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_true(c.core[0].valid);
	assert_true(c.core[0].busy == 0.1);
	assert_true(c1->online);
	assert_false(c1->valid);
	assert_nan(c1->busy);
	assert_ticks(c1->delta, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(c1->delta_total, 0);
	/* The smaller values are the new baseline. */
	assert_ticks(c1->ticks, 110, 0, 100, 880, 40, 0, 0, 0);

	/* From the new baseline on, intervals are known again. */
	fx_put(root, "stat",
	    "cpu  240 0 200 1910 120 0 0 0 0 0\n"
	    "cpu0 120 0 100 960 70 0 0 0 0 0\n"
	    "cpu1 120 0 100 960 50 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_true(c1->valid);
	assert_ticks(c1->delta, 10, 0, 0, 80, 10, 0, 0, 0);
	assert_true(c1->busy == 0.1);

	/* A 64-bit wrap (or a reset to near zero) is the same case. */
	fx_put(root, "stat",
	    "cpu  250 0 200 1990 120 0 0 0 0 0\n"
	    "cpu0 130 0 100 1030 70 0 0 0 0 0\n"
	    "cpu1 18446744073709551615 0 100 970 50 0 0 0 0 0\n"
	    STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	fx_put(root, "stat",
	    "cpu  260 0 200 2070 120 0 0 0 0 0\n"
	    "cpu0 140 0 100 1100 70 0 0 0 0 0\n"
	    "cpu1 5 0 100 980 50 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_false(c1->valid);
	assert_nan(c1->busy);
	assert_true(c.core[0].valid);
	met_cpu_close(&c);
}

/* Two samples within one tick: no time elapsed, nothing to divide by. */
static void
test_cpu_no_tick(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;

	fx_put(root, "stat",
	    "cpu  100 0 100 800 0 0 0 0 0 0\n"
	    "cpu0 100 0 100 800 0 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_true(c.core[0].online);
	assert_false(c.core[0].valid);
	assert_nan(c.core[0].busy);
	met_cpu_close(&c);
}

/* Linux 2.4 printed four columns; the rest count as 0. */
static void
test_cpu_four_columns(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;

	fx_put(root, "stat", "cpu  100 0 100 800\ncpu0 100 0 100 800\n"
	    "page 1 2\n");
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	fx_put(root, "stat", "cpu  150 0 150 900\ncpu0 150 0 150 900\n"
	    "page 1 2\n");
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_ticks(c.core[0].delta, 50, 0, 50, 100, 0, 0, 0, 0);
	assert_true(c.core[0].busy == 0.5);
	met_cpu_close(&c);
}

static void
test_cpu_malformed(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;
	static const char *bad[] = {
		"cpu  1 2 3 4\ncpu0 1 2 x 4\n",	/* not a number */
		"cpu  1 2 3 4\ncpu0 1 2 3\n",	/* too few columns */
		"cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n", /* twice */
		"cpu0 1 2 3 4\nintr 0\n",		/* no "cpu" line */
		"cpuX 1 2 3 4\n",			/* no id */
		"cpu99999999 1 2 3 4\n",		/* absurd id */
		"",					/* empty */
	};
	size_t i;

	fx_put(root, "stat", "cpu  100 0 100 800\ncpu0 100 0 100 800\n");
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	for (i = 0; i < EBB_NITEMS(bad); i++) {
		fx_put(root, "stat", "%s", bad[i]);
		err.msg[0] = '\0';
		if (met_cpu_sample(&c, &err) != -EBADMSG)
			fail_msg("case %zu: not -EBADMSG", i);
		assert_non_null(strstr(err.msg, "stat"));
		assert_false(c.core[0].online || c.core[0].valid);
	}
	/* After an error there is no baseline: one good sample, then two. */
	fx_put(root, "stat", "cpu  110 0 100 890\ncpu0 110 0 100 890\n");
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_true(c.core[0].online);
	assert_false(c.core[0].valid);
	fx_put(root, "stat", "cpu  120 0 100 980\ncpu0 120 0 100 980\n");
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_true(c.core[0].valid && c.core[0].busy == 0.1);
	met_cpu_close(&c);
}

/*
 * Writes a stat with n CPUs (cpu i: user = base + i, idle = base - i), an
 * intr line of nirq numbers, and `pad` extra blanks in the "cpu" line to
 * move where the cpu lines end.  Returns the length of the cpu lines.
 */
static size_t
stat_many(const char *root, int n, uint64_t base, int nirq, int pad)
{
	size_t cap = (size_t)(n + 1) * 96 + (size_t)nirq * 2 + 256 +
	    (size_t)pad, len = 0, cpu_len;
	char *s = ebb_malloc(cap);
	int i;

	len += (size_t)snprintf(s + len, cap - len,
	    "cpu  %ju%*s 0 0 %ju 0 0 0 0 0 0\n",
	    (uintmax_t)(base * (uint64_t)n), pad, "",
	    (uintmax_t)(base * (uint64_t)n));
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
		    "cpu%d %ju 0 0 %ju 0 0 0 0 0 0\n", i,
		    (uintmax_t)(base + (uint64_t)i),
		    (uintmax_t)(base - (uint64_t)i));
	cpu_len = len;
	len += (size_t)snprintf(s + len, cap - len, "intr 1");
	for (i = 0; i < nirq; i++)
		len += (size_t)snprintf(s + len, cap - len, " 0");
	snprintf(s + len, cap - len, "\nctxt 1\n");
	fx_put(root, "stat", "%s", s);
	free(s);
	return cpu_len;
}

/*
 * A 300-CPU host outgrows the first buffer: it grows once and then holds.
 * A long intr line after two CPUs does not make it grow: only the cpu
 * lines are needed.
 */
static void
test_cpu_many(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;
	size_t cap;

	stat_many(root, 2, 1000, 20000, 0);
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	cap = c.cap;
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(c.nonline, 2);
	assert_int_equal(c.cap, cap);
	met_cpu_close(&c);

	stat_many(root, 300, 100000, 5000, 0);
	assert_int_equal(met_cpu_open(&c, root, &err), 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(c.nonline, 300);
	assert_true(c.cap > cap);
	cap = c.cap;
	/* Every CPU: +100 user, +100 idle -> busy 0.5. */
	stat_many(root, 300, 100100, 5000, 0);
	assert_int_equal(met_cpu_sample(&c, &err), 0);
	assert_int_equal(c.cap, cap);
	for (int i = 0; i < 300; i++) {
		assert_true(c.core[i].valid);
		assert_int_equal(c.core[i].ticks[MET_CPU_USER], 100100 + i);
		assert_true(c.core[i].busy == 0.5);
	}
	met_cpu_close(&c);
}

/*
 * The cpu lines ending at every byte offset around the end of the first
 * buffer (4096 bytes, one for the NUL): complete lines are never taken for
 * the whole file, a cut line never parsed.
 */
static void
test_cpu_buffer_edges(void **state)
{
	const char *root = *state;
	struct met_cpu c;
	struct ebb_err err;
	size_t len, first = stat_many(root, 100, 100000, 3000, 0);
	int pad, n = 0;

	/* Start ~50 bytes before the edge and end ~50 bytes past it. */
	while (first < 4040) {
		n++;
		first = stat_many(root, 100 + n, 100000, 3000, 0);
	}
	for (pad = 0; pad < 110; pad++) {
		len = stat_many(root, 100 + n, 100000, 3000, pad);
		assert_int_equal(met_cpu_open(&c, root, &err), 0);
		if (met_cpu_sample(&c, &err) != 0)
			fail_msg("cpu lines of %zu bytes: %s", len, err.msg);
		assert_int_equal(c.nonline, 100 + n);
		assert_int_equal(c.core[99 + n].ticks[MET_CPU_USER],
		    100000 + 99 + n);
		assert_int_equal(c.all.ticks[MET_CPU_IDLE],
		    100000 * (uint64_t)(100 + n));
		/* It grew exactly when the cpu lines did not fit. */
		assert_true((c.cap > 4096) == (len + 3 > 4095));
		met_cpu_close(&c);
	}
}

/* ---- met_host ------------------------------------------------------------ */

#define MEMINFO								\
	"MemTotal:       24683620 kB\n"					\
	"MemFree:        22450752 kB\n"					\
	"MemAvailable:   24202184 kB\n"					\
	"Buffers:           27564 kB\n"					\
	"Cached:          1846220 kB\n"					\
	"SwapCached:            0 kB\n"

static void
host_files(const char *root)
{
	fx_put(root, "stat",
	    "cpu  1000 0 500 8000 0 0 0 0 0 0\n"
	    "cpu0 600 0 300 3900 0 0 0 0 0 0\n"
	    "cpu1 400 0 200 4100 0 0 0 0 0 0\n" STAT_TAIL);
	fx_put(root, "loadavg", "0.15 1.50 12.05 3/456 7890\n");
	fx_put(root, "meminfo", MEMINFO);
	fx_put(root, "uptime", "1653.21 1899.61\n");
}

static void
test_host(void **state)
{
	const char *root = *state;
	struct met_host *h = ebb_malloc(sizeof(*h));
	struct ebb_err err;
	char path[1024];

	host_files(root);
	assert_int_equal(met_host_open(h, root, &err), 0);
	assert_int_equal(met_host_sample(h, &err), 0);
	/* Hand-parsed decimals equal what strtod gives. */
	assert_true(h->load1 == 0.15);
	assert_true(h->load5 == 1.5);
	assert_true(h->load15 == 12.05);
	assert_int_equal(h->nr_running, 3);
	assert_int_equal(h->nr_tasks, 456);
	assert_int_equal(h->mem_total_kb, 24683620);
	assert_int_equal(h->mem_available_kb, 24202184);
	assert_false(h->mem_available_estimated);
	assert_true(h->uptime_s == 1653.21);
	assert_true(h->idle_s == 1899.61);
	assert_int_equal(h->ncpu_online, 2);

	/* A kernel before 3.14: MemFree + Buffers + Cached. */
	fx_put(root, "meminfo",
	    "MemTotal:       24683620 kB\n"
	    "MemFree:        22450752 kB\n"
	    "Buffers:           27564 kB\n"
	    "Cached:          1846220 kB\n");
	fx_put(root, "loadavg", "0.00 0.01 0.05 1/80 1\n");
	fx_put(root, "uptime", "7 3\n");
	assert_int_equal(met_host_sample(h, &err), 0);
	assert_int_equal(h->mem_available_kb, 24324536);
	assert_true(h->mem_available_estimated);
	assert_true(h->load1 == 0.0 && h->load5 == 0.01);
	assert_true(h->uptime_s == 7.0 && h->idle_s == 3.0);

	fx_put(root, "loadavg", "0.15 1.50\n");
	assert_int_equal(met_host_sample(h, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "loadavg"));
	fx_put(root, "loadavg", "0.15 1.50 12.05 3/456 7890\n");
	fx_put(root, "meminfo", "MemFree: 1 kB\n");
	assert_int_equal(met_host_sample(h, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "MemTotal"));
	fx_put(root, "meminfo", MEMINFO);
	fx_put(root, "uptime", "up\n");
	assert_int_equal(met_host_sample(h, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "uptime"));
	met_host_close(h);

	/* A missing file fails at open, naming it. */
	snprintf(path, sizeof(path), "%s/uptime", root);
	assert_int_equal(remove(path), 0);
	assert_int_equal(met_host_open(h, root, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "uptime"));
	free(h);
}

/* ---- met_proc ------------------------------------------------------------ */

/* A /proc/PID/stat line as Linux 6.x prints it: 52 fields. */
static void
fx_task(const char *root, const char *rel, int tid, const char *comm,
    char state, uint64_t utime, uint64_t stime, int nthreads, int cpu)
{
	fx_put(root, rel,
	    "%d (%s) %c 1 4242 4242 0 -1 4194560 100 0 0 0 %ju %ju 0 0 20 0 "
	    "%d 0 5000 123456789 300 18446744073709551615 1 1 0 0 0 0 0 4096 "
	    "0 0 0 0 17 %d 0 0 0 0 0 0 0 0 0 0 0 0\n",
	    tid, comm, state, (uintmax_t)utime, (uintmax_t)stime, nthreads,
	    cpu);
}

/*
 * Process 4242 "ebb-vmm": threads 4242 (main), 4243 (a name holding ") ("
 * to check that the name ends at the last parenthesis), 4245 "vcpu1" and
 * 4246 "vcpu0" (TIDs in the other order than the names).
 */
static void
vmm_files(const char *root, uint64_t main_t, uint64_t v0, uint64_t v1,
    uint64_t proc_t)
{
	fx_task(root, "4242/stat", 4242, "ebb-vmm", 'S', proc_t, 100, 4, 1);
	fx_put(root, "4242/statm", "25000 3000 500 100 0 2000 0\n");
	fx_task(root, "4242/task/4242/stat", 4242, "ebb-vmm", 'S', main_t, 50,
	    4, 1);
	fx_task(root, "4242/task/4243/stat", 4243, "io) (x", 'S', 7, 3, 4, 0);
	fx_task(root, "4242/task/4245/stat", 4245, "vcpu1", 'R', v1, 0, 4,
	    0);
	fx_task(root, "4242/task/4246/stat", 4246, "vcpu0", 'R', v0, 0, 4,
	    1);
}

static const struct met_task *
find_tid(const struct met_task *t, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].tid == tid)
			return &t[i];
	}
	fail_msg("tid %d not listed", (int)tid);
	return NULL;
}

static void
test_proc_read(void **state)
{
	const char *root = *state;
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct met_task t[8];
	struct met_proc pr;
	struct ebb_err err;
	const struct met_task *x;
	size_t n;

	vmm_files(root, 200, 1000, 400, 500);
	assert_int_equal(met_proc_read(root, 4242, &pr, &err), 0);
	assert_int_equal(pr.task.tid, 4242);
	assert_string_equal(pr.task.name, "ebb-vmm");
	assert_int_equal(pr.task.state, 'S');
	assert_int_equal(pr.task.ticks, 600);		/* 500 + 100 */
	assert_true(pr.task.cpu_s == 600.0 / (double)hz);
	assert_int_equal(pr.task.last_cpu, 1);
	assert_int_equal(pr.nthreads, 4);
	assert_int_equal(pr.rss_bytes, 3000 * (uint64_t)page);

	assert_int_equal(met_proc_threads(root, 4242, t, 8, &n, &err), 0);
	assert_int_equal(n, 4);
	x = find_tid(t, n, 4243);
	assert_string_equal(x->name, "io) (x");
	assert_int_equal(x->ticks, 10);
	assert_int_equal(x->last_cpu, 0);
	x = find_tid(t, n, 4246);
	assert_string_equal(x->name, "vcpu0");
	assert_int_equal(x->ticks, 1000);
	assert_true(x->cpu_s == 1000.0 / (double)hz);
	assert_int_equal(x->state, 'R');
	assert_int_equal(x->last_cpu, 1);
	x = find_tid(t, n, 4242);
	assert_int_equal(x->ticks, 250);

	/* Too small an array: the first two, the count, -ENOSPC. */
	assert_int_equal(met_proc_threads(root, 4242, t, 2, &n, &err),
	    -ENOSPC);
	assert_int_equal(n, 4);

	/* Truncated stat: malformed, not a crash. */
	fx_put(root, "4242/stat", "4242 (ebb-vmm) S 1 2 3\n");
	assert_int_equal(met_proc_read(root, 4242, &pr, &err), -EBADMSG);
	fx_put(root, "4242/stat", "4242 ebb-vmm S 1 2 3\n");
	assert_int_equal(met_proc_read(root, 4242, &pr, &err), -EBADMSG);
}

static void
test_vm_sampler(void **state)
{
	const char *root = *state;
	long hz = sysconf(_SC_CLK_TCK);
	struct met_vm vm;
	struct ebb_err err;

	vmm_files(root, 200, 1000, 400, 500);
	assert_int_equal(met_vm_open(&vm, root, 4242, "vcpu", &err), 0);
	assert_int_equal(vm.nvcpu, 2);
	/* Ordered by the number in the name, not by TID. */
	assert_int_equal(vm.vcpu[0].index, 0);
	assert_int_equal(vm.vcpu[0].task.tid, 4246);
	assert_int_equal(vm.vcpu[1].index, 1);
	assert_int_equal(vm.vcpu[1].task.tid, 4245);

	assert_int_equal(met_vm_sample(&vm, 100.0, &err), 0);
	assert_int_equal(vm.nsample, 1);
	assert_nan(vm.util);
	assert_nan(vm.vcpu[0].util);
	assert_int_equal(vm.proc.rss_bytes,
	    3000 * (uint64_t)sysconf(_SC_PAGESIZE));

	/*
	 * 2 s later: vcpu0 ran 2 s (one core, all the time), vcpu1 0.5 s
	 * (a quarter of a core); the process 3 s in all (1.5 cores).
	 */
	vmm_files(root, 200, 1000 + 2 * (uint64_t)hz, 400 + (uint64_t)hz / 2,
	    500 + 3 * (uint64_t)hz);
	assert_int_equal(met_vm_sample(&vm, 102.0, &err), 0);
	assert_true(vm.vcpu[0].util == 1.0);
	assert_true(vm.vcpu[1].util == (double)(hz / 2) / (double)hz / 2.0);
	assert_true(vm.util == 1.5);
	assert_int_equal(vm.vcpu[0].task.last_cpu, 1);
	assert_int_equal(vm.vcpu[1].task.last_cpu, 0);

	/* No time passed: no interval. */
	assert_int_equal(met_vm_sample(&vm, 102.0, &err), 0);
	assert_nan(vm.vcpu[0].util);

	/* vcpu1's thread is dead: marked gone, the VM still samples. */
	fx_task(root, "4242/task/4245/stat", 4245, "vcpu1", 'X', 500, 0, 3,
	    0);
	assert_int_equal(met_vm_sample(&vm, 103.0, &err), 0);
	assert_true(vm.vcpu[1].gone);
	assert_nan(vm.vcpu[1].util);
	assert_false(vm.vcpu[0].gone);
	assert_true(vm.vcpu[0].util == 0.0);

	/* The VMM exits and lingers as a zombie: the VM is over. */
	fx_task(root, "4242/stat", 4242, "ebb-vmm", 'Z', 900, 100, 1, 1);
	err.msg[0] = '\0';
	assert_int_equal(met_vm_sample(&vm, 104.0, &err), -ESRCH);
	assert_non_null(strstr(err.msg, "4242"));
	met_vm_close(&vm);

	assert_int_equal(met_vm_open(&vm, root, 4242, "vcpu", &err), -ESRCH);
}

/* A process that is not there (never was, or vanished before the read). */
static void
test_proc_vanished(void **state)
{
	const char *root = *state;
	struct met_task t[4];
	struct met_proc pr;
	struct met_vm vm;
	struct ebb_err err;
	size_t n;

	vmm_files(root, 1, 1, 1, 1);
	assert_int_equal(met_proc_read(root, 4343, &pr, &err), -ESRCH);
	assert_non_null(strstr(err.msg, "4343"));
	assert_int_equal(met_proc_threads(root, 4343, t, 4, &n, &err),
	    -ESRCH);
	assert_int_equal(n, 0);
	assert_int_equal(met_vm_open(&vm, root, 4343, "vcpu", &err), -ESRCH);
	/* Not a process id at all. */
	assert_int_equal(met_proc_read(root, 0, &pr, &err), -ESRCH);
	assert_int_equal(met_proc_threads(root, -1, t, 4, &n, &err), -ESRCH);
	assert_int_equal(met_vm_open(&vm, root, -5, "vcpu", &err), -ESRCH);

	/* A zombie has exited too. */
	fx_task(root, "4242/stat", 4242, "ebb-vmm", 'Z', 1, 1, 1, 1);
	fx_task(root, "4242/task/4242/stat", 4242, "ebb-vmm", 'Z', 1, 1, 1,
	    1);
	assert_int_equal(met_proc_read(root, 4242, &pr, &err), -ESRCH);
	assert_int_equal(met_proc_threads(root, 4242, t, 4, &n, &err),
	    -ESRCH);
}

/* ---- Prometheus rendering of a host sample ------------------------------- */

static void
test_prom_host(void **state)
{
	const char *root = *state;
	struct met_host *h = ebb_malloc(sizeof(*h));
	struct ebb_err err;
	struct met_prom p;
	char buf[8192];
	size_t len;
	static const char want[] =
	    "# HELP ebb_cpu_seconds_total Seconds the CPUs spent in each "
	    "mode.\n"
	    "# TYPE ebb_cpu_seconds_total counter\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 6.25\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"nice\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"system\"} 3\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 39.74\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 0.01\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"irq\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"softirq\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"0\",mode=\"steal\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 4\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"nice\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"system\"} 2\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 41\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"iowait\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"irq\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"softirq\"} 0\n"
	    "ebb_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0\n"
	    "# HELP ebb_cpu_busy_ratio Busy fraction of each CPU over the "
	    "last sampling interval, 1 - (idle + iowait) / total; NaN when "
	    "unknown.\n"
	    "# TYPE ebb_cpu_busy_ratio gauge\n"
	    "ebb_cpu_busy_ratio{cpu=\"0\"} 0.25\n"
	    "ebb_cpu_busy_ratio{cpu=\"1\"} NaN\n"
	    "# HELP ebb_cpus_online Number of online CPUs.\n"
	    "# TYPE ebb_cpus_online gauge\n"
	    "ebb_cpus_online 2\n"
	    "# HELP ebb_load1 1m load average.\n"
	    "# TYPE ebb_load1 gauge\n"
	    "ebb_load1 0.15\n"
	    "# HELP ebb_load5 5m load average.\n"
	    "# TYPE ebb_load5 gauge\n"
	    "ebb_load5 1.5\n"
	    "# HELP ebb_load15 15m load average.\n"
	    "# TYPE ebb_load15 gauge\n"
	    "ebb_load15 12.05\n"
	    "# HELP ebb_memory_MemTotal_bytes Memory information field "
	    "MemTotal_bytes.\n"
	    "# TYPE ebb_memory_MemTotal_bytes gauge\n"
	    "ebb_memory_MemTotal_bytes 25276026880\n"
	    "# HELP ebb_memory_MemAvailable_bytes Memory information field "
	    "MemAvailable_bytes.\n"
	    "# TYPE ebb_memory_MemAvailable_bytes gauge\n"
	    "ebb_memory_MemAvailable_bytes 24783036416\n"
	    "# HELP ebb_uptime_seconds Seconds since the host booted.\n"
	    "# TYPE ebb_uptime_seconds gauge\n"
	    "ebb_uptime_seconds 1653.21\n";

	if (sysconf(_SC_CLK_TCK) != 100)
		skip();		/* the seconds below are ticks / 100 */
	host_files(root);
	assert_int_equal(met_host_open(h, root, &err), 0);
	assert_int_equal(met_host_sample(h, &err), 0);
	/*
	 * cpu0: +25 user +74 idle +1 iowait = 100, busy 0.25; cpu1 did not
	 * move (no tick: unknown, NaN).
	 */
	fx_put(root, "stat",
	    "cpu  1025 0 500 8074 1 0 0 0 0 0\n"
	    "cpu0 625 0 300 3974 1 0 0 0 0 0\n"
	    "cpu1 400 0 200 4100 0 0 0 0 0 0\n" STAT_TAIL);
	assert_int_equal(met_host_sample(h, &err), 0);
	met_prom_init(&p, buf, sizeof(buf));
	assert_int_equal(met_prom_host(&p, h), 0);
	assert_int_equal(met_prom_finish(&p, &len), 0);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(p.need, strlen(want));

	/* One byte short: nothing, and the size it needs. */
	met_prom_init(&p, buf, strlen(want));
	assert_int_equal(met_prom_host(&p, h), -ENOSPC);
	assert_int_equal(met_prom_finish(&p, &len), -ENOSPC);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	assert_int_equal(p.need, strlen(want));
	met_host_close(h);
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
		T(test_cpu_deltas),
		T(test_cpu_hotplug),
		T(test_cpu_wrap),
		T(test_cpu_no_tick),
		T(test_cpu_four_columns),
		T(test_cpu_malformed),
		T(test_cpu_many),
		T(test_cpu_buffer_edges),
		T(test_host),
		T(test_proc_read),
		T(test_vm_sampler),
		T(test_proc_vanished),
		T(test_prom_host),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
