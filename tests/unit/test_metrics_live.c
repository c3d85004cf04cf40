/*
 * test_metrics_live.c - the samplers on the real /proc: the host sample
 * agrees with what libc says, a busy thread named "vcpu0" measures near
 * one core, threads and processes that exit read as gone (-ESRCH), and the
 * CPU cost of one full host sample is measured and printed (not asserted:
 * the machine is shared and noisy).
 *
 * The bounds are loose on purpose (±30 % of a core for the busy thread):
 * CI machines here are 2-core VMs with neighbours.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebb.h"
#include "met_host.h"
#include "met_proc.h"
#include "met_prom.h"

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
clock_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
thread_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- the host ------------------------------------------------------------ */

static void
test_live_host(void **state EBB_UNUSED)
{
	struct met_host *h = ebb_malloc(sizeof(*h));
	struct ebb_err err;
	int i, listed = 0;

	assert_int_equal(met_host_open(h, NULL, &err), 0);
	assert_int_equal(met_host_sample(h, &err), 0);
	sleep_ms(50);
	assert_int_equal(met_host_sample(h, &err), 0);
	assert_int_equal(h->ncpu_online, sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 0; i < h->cpu.ncore; i++)
		listed += h->cpu.core[i].online;
	assert_int_equal(listed, h->ncpu_online);
	assert_true(h->mem_total_kb > 0);
	assert_true(h->mem_available_kb <= h->mem_total_kb);
	assert_true(h->uptime_s > 0);
	assert_true(h->load1 >= 0 && h->nr_tasks > 0);
	/* 50 ms is 5 ticks per CPU: the aggregate's interval is known. */
	assert_true(h->cpu.all.valid);
	assert_true(h->cpu.all.busy >= 0 && h->cpu.all.busy <= 1);
	met_host_close(h);
	free(h);
}

/* ---- a busy "vcpu0" thread ----------------------------------------------- */

struct spinner {
	atomic_int	 stop;
	atomic_int	 tid;		/* set once named and spinning */
	const char	*name;
};

static void *
spin(void *arg)
{
	struct spinner *s = arg;
	volatile uint64_t x = 0;

	pthread_setname_np(pthread_self(), s->name);
	atomic_store(&s->tid, (int)gettid());
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
		x++;
	return NULL;
}

static void
test_live_vcpu_thread(void **state EBB_UNUSED)
{
	struct spinner s = { .name = "vcpu0" };
	struct met_task t[64];
	struct met_vm vm;
	struct ebb_err err;
	pthread_t th;
	size_t n, i;
	double t0, t1, c0, c1, util = NAN, ref;
	int found = 0, rc = 0, tries;
	clockid_t clk;

	assert_int_equal(pthread_create(&th, NULL, spin, &s), 0);
	while (atomic_load(&s.tid) == 0)
		sleep_ms(1);

	/* The listing sees it with its name. */
	assert_int_equal(met_proc_threads(NULL, getpid(), t, 64, &n, &err),
	    0);
	assert_true(n >= 2);
	for (i = 0; i < n; i++) {
		if (t[i].tid == atomic_load(&s.tid)) {
			assert_string_equal(t[i].name, "vcpu0");
			assert_true(t[i].last_cpu >= 0 &&
			    t[i].last_cpu < sysconf(_SC_NPROCESSORS_CONF));
			found = 1;
		}
	}
	assert_true(found);

	assert_int_equal(met_vm_open(&vm, NULL, getpid(), "vcpu", &err), 0);
	assert_int_equal(vm.nvcpu, 1);
	assert_int_equal(vm.vcpu[0].task.tid, atomic_load(&s.tid));
	assert_int_equal(vm.vcpu[0].index, 0);
	assert_int_equal(pthread_getcpuclockid(th, &clk), 0);

	/*
	 * Two samples 200 ms apart.  The thread's own CPU clock is the
	 * reference: the sampler must agree with it to within the tick
	 * granularity (2 ticks of 10 ms over 200 ms = 0.1, plus slack).
	 * Whether the thread got its core is up to the neighbours on this
	 * shared machine: a window in which the reference itself says it
	 * did not (below 0.85, so that agreement within 0.15 keeps the
	 * sampler inside 1 +- 0.3) is measured again, up to 10 times.  If
	 * the machine never gives it a core, "near 100 %" cannot be
	 * checked, only agreement with the reference: the test says so and
	 * does not fail for the neighbours' load.
	 */
	for (tries = 0; tries < 10; tries++) {
		t0 = mono_s();
		c0 = clock_s(clk);
		assert_int_equal(met_vm_sample(&vm, t0, &err), 0);
		sleep_ms(200);
		t1 = mono_s();
		c1 = clock_s(clk);
		assert_int_equal(met_vm_sample(&vm, t1, &err), 0);
		util = vm.vcpu[0].util;
		ref = (c1 - c0) / (t1 - t0);
		printf("# vcpu0 spinning: %.2f of a core over %.0f ms "
		    "(its CPU clock: %.2f; process %.2f cores, RSS %.1f MB)\n",
		    util, (t1 - t0) * 1e3, ref, vm.util,
		    (double)vm.proc.rss_bytes / 1e6);
		if (fabs(util - ref) > 0.15)
			fail_msg("vcpu0 at %.3f of a core, its clock says %.3f",
			    util, ref);
		if (ref >= 0.85)
			break;
	}
	if (ref < 0.85)
		printf("# machine too busy to give vcpu0 a core in %d tries: "
		    "only agreement with its CPU clock was checked\n", tries);
	else if (!(util >= 0.7 && util <= 1.3))
		fail_msg("vcpu0 at %.3f of a core, want 1 +- 0.3", util);
	/* The process includes vcpu0 (and the main thread, asleep); each
	 * is rounded to ticks on its own, 2 per end at worst. */
	assert_true(vm.util >= util - 0.2);

	/* The thread exits: marked gone, the process still samples.  The
	 * kernel releases the task just after pthread_join can return, so
	 * give it a moment. */
	atomic_store(&s.stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	for (i = 0; i < 100 && rc == 0 && !vm.vcpu[0].gone; i++) {
		sleep_ms(10);
		rc = met_vm_sample(&vm, mono_s(), &err);
	}
	assert_int_equal(rc, 0);
	assert_true(vm.vcpu[0].gone);
	assert_true(isnan(vm.vcpu[0].util));
	met_vm_close(&vm);
}

/* ---- a process that exits ------------------------------------------------ */

static pid_t
child_that_waits(void)
{
	pid_t parent = getpid(), pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/*
		 * If a failed assertion skips the parent's kill(), the child
		 * must not outlive it: an orphan holding the test's stdout
		 * would keep ctest waiting.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		alarm(60);
		for (;;)
			pause();
	}
	return pid;
}

static void
test_live_process_exits(void **state EBB_UNUSED)
{
	struct met_proc pr;
	struct met_vm vm;
	struct ebb_err err;
	pid_t pid;
	int st, rc = 0, i;

	/* Killed and reaped between two samples: -ESRCH, cleanly. */
	pid = child_that_waits();
	assert_int_equal(met_vm_open(&vm, NULL, pid, "vcpu", &err), 0);
	assert_int_equal(vm.nvcpu, 0);
	assert_int_equal(met_vm_sample(&vm, mono_s(), &err), 0);
	assert_true(vm.proc.rss_bytes > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(met_vm_sample(&vm, mono_s(), &err), -ESRCH);
	assert_non_null(strstr(err.msg, "exited"));
	met_vm_close(&vm);
	assert_int_equal(met_proc_read(NULL, pid, &pr, &err), -ESRCH);

	/* Killed, not yet reaped: a zombie, which has exited as well. */
	pid = child_that_waits();
	assert_int_equal(met_vm_open(&vm, NULL, pid, "vcpu", &err), 0);
	assert_int_equal(met_vm_sample(&vm, mono_s(), &err), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	for (i = 0; i < 100 && rc == 0; i++) {
		sleep_ms(10);
		rc = met_vm_sample(&vm, mono_s(), &err);
	}
	assert_int_equal(rc, -ESRCH);
	assert_int_equal(met_proc_read(NULL, pid, &pr, &err), -ESRCH);
	met_vm_close(&vm);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

/* This process read through the same parser: the real format. */
static void
test_live_self(void **state EBB_UNUSED)
{
	struct met_proc pr;
	struct ebb_err err;
	volatile double x = 0;

	for (int i = 0; i < 20000000; i++)
		x += i;
	assert_int_equal(met_proc_read(NULL, getpid(), &pr, &err), 0);
	assert_string_equal(pr.task.name, "test_metrics_li");	/* 15 */
	assert_int_equal(pr.task.state, 'R');
	assert_true(pr.nthreads >= 1);
	assert_true(pr.task.cpu_s > 0);
	assert_true(pr.rss_bytes > 0);
}

/* ---- no allocation in steady state --------------------------------------- */

/*
 * The test program interposes malloc, calloc and realloc (glibc supports
 * replacing them and exports its own as __libc_*) to count the calls made
 * while sampling.  Not under ASan, whose own interposition must win.
 */
#ifndef __SANITIZE_ADDRESS__
#define COUNT_ALLOCS	1
extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);

static atomic_int counting, nalloc;

void *
malloc(size_t n)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add(&nalloc, 1);
	return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add(&nalloc, 1);
	return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add(&nalloc, 1);
	return __libc_realloc(p, n);
}
#endif

static void
test_live_no_alloc(void **state EBB_UNUSED)
{
#ifdef COUNT_ALLOCS
	struct met_host *h = ebb_malloc(sizeof(*h));
	char *out = ebb_malloc(65536);
	struct ebb_err err;
	struct met_prom p;
	struct met_vm vm;
	size_t len;
	int i;

	/* Allocation is counted at all: the interposition works. */
	atomic_store(&counting, 1);
	free(ebb_malloc(1));
	atomic_store(&counting, 0);
	assert_int_equal(atomic_load(&nalloc), 1);
	atomic_store(&nalloc, 0);

	/* Opening and the first sample may size buffers; later ones not. */
	assert_int_equal(met_host_open(h, NULL, &err), 0);
	assert_int_equal(met_host_sample(h, &err), 0);
	assert_int_equal(met_vm_open(&vm, NULL, getpid(), "test_", &err), 0);
	assert_int_equal(met_vm_sample(&vm, 0, &err), 0);
	atomic_store(&counting, 1);
	for (i = 1; i <= 100; i++) {
		assert_int_equal(met_host_sample(h, &err), 0);
		assert_int_equal(met_vm_sample(&vm, i, &err), 0);
		met_prom_init(&p, out, 65536);
		assert_int_equal(met_prom_host(&p, h), 0);
		assert_int_equal(met_prom_finish(&p, &len), 0);
	}
	atomic_store(&counting, 0);
	assert_int_equal(atomic_load(&nalloc), 0);
	met_vm_close(&vm);
	met_host_close(h);
	free(out);
	free(h);
#else
	skip();
#endif
}

/* ---- what a sample costs ------------------------------------------------- */

#define NCOST	1000

static void
test_live_cost(void **state EBB_UNUSED)
{
	struct met_host *h = ebb_malloc(sizeof(*h));
	double *cpu = ebb_calloc(NCOST, sizeof(*cpu));
	double *wall = ebb_calloc(NCOST, sizeof(*wall));
	size_t heap, len;
	struct ebb_err err;
	struct met_prom p;
	struct met_vm vm;
	char *out = ebb_malloc(65536);
	int i;

	assert_int_equal(met_host_open(h, NULL, &err), 0);
	/* The first sample sizes the buffers. */
	assert_int_equal(met_host_sample(h, &err), 0);
	for (i = 0; i < NCOST; i++) {
		double c0 = thread_cpu_us(), w0 = mono_s();

		assert_int_equal(met_host_sample(h, &err), 0);
		cpu[i] = thread_cpu_us() - c0;
		wall[i] = (mono_s() - w0) * 1e6;
	}
	qsort(cpu, NCOST, sizeof(*cpu), cmp_double);
	qsort(wall, NCOST, sizeof(*wall), cmp_double);
	heap = h->cpu.cap + (size_t)h->cpu.ncore * sizeof(*h->cpu.core);
	printf("# full host sample (stat, loadavg, meminfo, uptime; %d CPUs):"
	    " CPU median %.1f us (p90 %.1f us), wall median %.1f us;"
	    " state %zu B + %zu B heap\n", h->ncpu_online, cpu[NCOST / 2],
	    cpu[NCOST * 9 / 10], wall[NCOST / 2], sizeof(*h), heap);

	/* Of which /proc/stat alone (the kernel formats every IRQ count). */
	for (i = 0; i < NCOST; i++) {
		double c0 = thread_cpu_us();

		assert_int_equal(met_cpu_sample(&h->cpu, &err), 0);
		cpu[i] = thread_cpu_us() - c0;
	}
	qsort(cpu, NCOST, sizeof(*cpu), cmp_double);
	printf("#   of which /proc/stat (met_cpu_sample): CPU median %.1f us\n",
	    cpu[NCOST / 2]);

	for (i = 0; i < NCOST; i++) {
		double c0 = thread_cpu_us();

		met_prom_init(&p, out, 65536);
		assert_int_equal(met_prom_host(&p, h), 0);
		assert_int_equal(met_prom_finish(&p, &len), 0);
		cpu[i] = thread_cpu_us() - c0;
	}
	qsort(cpu, NCOST, sizeof(*cpu), cmp_double);
	printf("# Prometheus rendering of it: CPU median %.1f us, %zu bytes\n",
	    cpu[NCOST / 2], len);
	met_host_close(h);

	assert_int_equal(met_vm_open(&vm, NULL, getpid(), "test_", &err), 0);
	for (i = 0; i < NCOST; i++) {
		double c0 = thread_cpu_us();

		assert_int_equal(met_vm_sample(&vm, (double)i, &err), 0);
		cpu[i] = thread_cpu_us() - c0;
	}
	qsort(cpu, NCOST, sizeof(*cpu), cmp_double);
	printf("# per-VM sample (stat, statm, %zu thread stat): CPU median "
	    "%.1f us\n", vm.nvcpu, cpu[NCOST / 2]);
	met_vm_close(&vm);
	free(out);
	free(wall);
	free(cpu);
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_host),
		cmocka_unit_test(test_live_vcpu_thread),
		cmocka_unit_test(test_live_process_exits),
		cmocka_unit_test(test_live_self),
		cmocka_unit_test(test_live_no_alloc),
		cmocka_unit_test(test_live_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
