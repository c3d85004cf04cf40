/*
 * met_proc.c - /proc/PID/{stat,statm}, /proc/PID/task/TID/stat, and the
 * per-VM sampler.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "met_io.h"
#include "met_proc.h"

#define TASK_PATH	64	/* "4294967295/task/4294967295/stat" */

/* Writes "PID/<rest>" or "PID/task/TID/<rest>" (tid 0: the former). */
static void
task_path(char *path, pid_t pid, pid_t tid, const char *rest)
{
	size_t n = met_io_utoa(path, (uint64_t)pid);

	if (tid != 0) {
		memcpy(path + n, "/task/", 6);
		n += 6;
		n += met_io_utoa(path + n, (uint64_t)tid);
	}
	path[n++] = '/';
	/* rest is one of our literals ("stat", "statm", "task"). */
	memcpy(path + n, rest, strlen(rest) + 1);
}

/* A missing /proc entry means the process or thread is gone. */
static int
gone_errno(int rc)
{
	return rc == -ENOENT || rc == -ESRCH ? -ESRCH : rc;
}

/*
 * Parses a stat line: "pid (comm) state ... utime(14) stime(15) ...
 * num_threads(20) ... processor(39) ...".  comm may hold spaces and
 * parentheses, so it ends at the *last* ')'.
 */
static int
stat_parse(const char *buf, long hz, struct met_task *t, int *nthreads)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	const char *p;
	uint64_t ut, st, nt, cpu;
	size_t n;
	int f;

	if (open == NULL || close == NULL || close < open)
		return -EBADMSG;
	n = EBB_MIN((size_t)(close - open - 1), sizeof(t->name) - 1);
	memcpy(t->name, open + 1, n);
	t->name[n] = '\0';
	p = met_io_blank(close + 1);
	t->state = *p;
	for (f = 3; f <= 13; f++)
		p = met_io_field(p);
	if ((p = met_io_u64(met_io_blank(p), &ut)) == NULL ||
	    (p = met_io_u64(met_io_blank(p), &st)) == NULL)
		return -EBADMSG;
	for (f = 16; f <= 19; f++)
		p = met_io_field(p);
	if ((p = met_io_u64(met_io_blank(p), &nt)) == NULL)
		return -EBADMSG;
	for (f = 21; f <= 38; f++)
		p = met_io_field(p);
	if (met_io_u64(met_io_blank(p), &cpu) == NULL || cpu > INT32_MAX ||
	    nt > INT32_MAX)
		return -EBADMSG;
	t->ticks = ut + st;
	t->cpu_s = (double)t->ticks / (double)hz;
	t->last_cpu = (int)cpu;
	if (nthreads != NULL)
		*nthreads = (int)nt;
	return 0;
}

/* One pread of a stat file and its parse: 0, -ESRCH, -EBADMSG, -errno. */
static int
task_read(int fd, char buf[MET_STAT_MAX], long hz, struct met_task *t,
    int *nthreads)
{
	size_t len;
	int rc;

	if ((rc = met_io_pread(fd, buf, MET_STAT_MAX, &len)) < 0)
		return gone_errno(rc);
	return stat_parse(buf, hz, t, nthreads);
}

static long
clk_tck(void)
{
	long hz = sysconf(_SC_CLK_TCK);

	return hz > 0 ? hz : 100;	/* USER_HZ on every architecture */
}

/* A zombie's threads are gone and its times are final: the VM is over. */
static bool
task_dead(const struct met_task *t)
{
	return t->state == 'Z' || t->state == 'X' || t->state == 'x';
}

static int
statm_rss(int fd, char buf[MET_STAT_MAX], long page, uint64_t *bytes)
{
	const char *p;
	uint64_t resident;
	size_t len;
	int rc;

	if ((rc = met_io_pread(fd, buf, MET_STAT_MAX, &len)) < 0)
		return gone_errno(rc);
	/* "size resident shared text lib data dt", in pages */
	p = met_io_field(buf);
	if (met_io_u64(met_io_blank(p), &resident) == NULL)
		return -EBADMSG;
	*bytes = resident * (uint64_t)page;
	return 0;
}

static int
open_task_file(const char *root, pid_t pid, pid_t tid, const char *rest,
    int *fd, struct ebb_err *err)
{
	char path[TASK_PATH];
	int rc;

	task_path(path, pid, tid, rest);
	if ((rc = met_io_open(root, path, fd, err)) < 0)
		rc = gone_errno(rc);
	return rc;
}

int
met_proc_read(const char *root, pid_t pid, struct met_proc *pr,
    struct ebb_err *err)
{
	char buf[MET_STAT_MAX];
	int fd = -1, rc;

	memset(pr, 0, sizeof(*pr));
	pr->task.tid = pid;
	if (pid <= 0) {
		rc = -ESRCH;
		goto out;
	}
	if ((rc = open_task_file(root, pid, 0, "stat", &fd, err)) < 0)
		goto out;
	rc = task_read(fd, buf, clk_tck(), &pr->task, &pr->nthreads);
	met_io_close(&fd);
	if (rc == 0 && task_dead(&pr->task))
		rc = -ESRCH;
	if (rc == 0 &&
	    (rc = open_task_file(root, pid, 0, "statm", &fd, err)) == 0) {
		rc = statm_rss(fd, buf, sysconf(_SC_PAGESIZE), &pr->rss_bytes);
		met_io_close(&fd);
	}
out:
	if (rc == -ESRCH)
		ebb_err_set(err, "process %d: no such process", (int)pid);
	else if (rc == -EBADMSG)
		ebb_err_set(err, "process %d: malformed stat or statm",
		    (int)pid);
	return rc;
}

/*
 * Calls fn(arg, tid) for each thread of PID, reading the task directory
 * with getdents64 into a stack buffer (opendir would malloc).  Stops at
 * the first non-zero fn() result and returns it.  -ESRCH when the process
 * is gone.
 */
static int
task_foreach(const char *root, pid_t pid, int (*fn)(void *, pid_t),
    void *arg, struct ebb_err *err)
{
	char dbuf[4096] __attribute__((aligned(8)));
	ssize_t n, off;
	int dfd, rc = 0;

	if (pid <= 0) {
		rc = -ESRCH;
		goto out;
	}
	if ((rc = open_task_file(root, pid, 0, "task", &dfd, err)) < 0)
		goto out;
	while (rc == 0 && (n = getdents64(dfd, dbuf, sizeof(dbuf))) != 0) {
		if (n < 0) {
			/* The kernel says ENOENT once the process is dead. */
			rc = gone_errno(-errno);
			break;
		}
		for (off = 0; off < n && rc == 0;) {
			struct dirent64 *d = (struct dirent64 *)(dbuf + off);
			uint64_t tid;
			const char *e;

			off += d->d_reclen;
			e = met_io_u64(d->d_name, &tid);
			if (e == NULL || *e != '\0' || tid == 0 ||
			    tid > INT32_MAX)
				continue;	/* ".", "..", not a thread */
			rc = fn(arg, (pid_t)tid);
		}
	}
	met_io_close(&dfd);
out:
	if (rc == -ESRCH)
		ebb_err_set(err, "process %d: no such process", (int)pid);
	return rc;
}

struct threads_arg {
	const char	*root;
	pid_t		 pid;
	long		 hz;
	struct met_task	*out;
	size_t		 cap, n;
	char		 buf[MET_STAT_MAX];
};

static int
threads_one(void *varg, pid_t tid)
{
	struct threads_arg *a = varg;
	struct met_task t;
	int fd, rc;

	if (open_task_file(a->root, a->pid, tid, "stat", &fd, NULL) < 0)
		return 0;	/* exited since the directory was read */
	t.tid = tid;
	rc = task_read(fd, a->buf, a->hz, &t, NULL);
	met_io_close(&fd);
	if (rc == -ESRCH)
		return 0;
	if (rc < 0)
		return rc;
	/* A zombie's leader is all that is left of it: it has exited. */
	if (tid == a->pid && task_dead(&t))
		return -ESRCH;
	if (a->n < a->cap)
		a->out[a->n] = t;
	a->n++;
	return 0;
}

int
met_proc_threads(const char *root, pid_t pid, struct met_task *out,
    size_t cap, size_t *n, struct ebb_err *err)
{
	struct threads_arg a = {
		.root = root, .pid = pid, .hz = clk_tck(), .out = out,
		.cap = cap,
	};
	int rc;

	rc = task_foreach(root, pid, threads_one, &a, err);
	*n = a.n;
	if (rc == -EBADMSG)
		ebb_err_set(err, "process %d: malformed task stat", (int)pid);
	if (rc < 0)
		return rc;
	if (a.n == 0) {
		/* A live process has at least its main thread. */
		ebb_err_set(err, "process %d: no such process", (int)pid);
		return -ESRCH;
	}
	if (a.n > cap) {
		ebb_err_set(err, "process %d: %zu threads, room for %zu",
		    (int)pid, a.n, cap);
		return -ENOSPC;
	}
	return 0;
}

/* ---- the per-VM sampler -------------------------------------------------- */

struct vm_arg {
	struct met_vm	*vm;
	const char	*root;
	const char	*prefix;
	size_t		 plen;
};

static int
vm_find_vcpu(void *varg, pid_t tid)
{
	struct vm_arg *a = varg;
	struct met_vm *vm = a->vm;
	struct met_vcpu *v;
	struct met_task t;
	uint64_t idx;
	int fd, rc;

	if (open_task_file(a->root, vm->pid, tid, "stat", &fd, NULL) < 0)
		return 0;	/* exited since the directory was read */
	t.tid = tid;
	rc = task_read(fd, vm->buf, vm->hz, &t, NULL);
	if (rc < 0 || strncmp(t.name, a->prefix, a->plen) != 0) {
		met_io_close(&fd);
		return rc == -ESRCH ? 0 : rc;
	}
	/* Start-up only: the one place the sampler allocates. */
	vm->vcpu = ebb_reallocarray(vm->vcpu, vm->nvcpu + 1,
	    sizeof(*vm->vcpu));
	v = &vm->vcpu[vm->nvcpu++];
	memset(v, 0, sizeof(*v));
	v->fd = fd;
	v->task = t;
	v->util = NAN;
	v->index = met_io_u64(t.name + a->plen, &idx) != NULL &&
	    idx <= INT32_MAX ? (int)idx : -1;
	return 0;
}

static int
vcpu_cmp(const void *a, const void *b)
{
	const struct met_vcpu *x = a, *y = b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return (x->task.tid > y->task.tid) - (x->task.tid < y->task.tid);
}

int
met_vm_open(struct met_vm *vm, const char *root, pid_t pid,
    const char *vcpu_prefix, struct ebb_err *err)
{
	struct vm_arg a = {
		.vm = vm, .root = root, .prefix = vcpu_prefix,
		.plen = strlen(vcpu_prefix),
	};
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->pid = pid;
	vm->fd_stat = vm->fd_statm = -1;
	vm->hz = clk_tck();
	vm->page_size = sysconf(_SC_PAGESIZE);
	vm->util = NAN;
	if (pid <= 0) {
		rc = -ESRCH;
		goto fail;
	}
	if ((rc = open_task_file(root, pid, 0, "stat", &vm->fd_stat,
	    err)) < 0 ||
	    (rc = open_task_file(root, pid, 0, "statm", &vm->fd_statm,
	    err)) < 0)
		goto fail;
	/* A zombie still has a stat file, but no threads and no VM. */
	rc = task_read(vm->fd_stat, vm->buf, vm->hz, &vm->proc.task,
	    &vm->proc.nthreads);
	if (rc == 0 && task_dead(&vm->proc.task))
		rc = -ESRCH;
	if (rc == 0)
		rc = task_foreach(root, pid, vm_find_vcpu, &a, err);
	if (rc < 0)
		goto fail;
	if (vm->nvcpu > 1)	/* qsort(NULL, 0) is undefined */
		qsort(vm->vcpu, vm->nvcpu, sizeof(*vm->vcpu), vcpu_cmp);
	return 0;
fail:
	if (rc == -ESRCH)
		ebb_err_set(err, "process %d: no such process", (int)pid);
	else if (rc == -EBADMSG)
		ebb_err_set(err, "process %d: malformed stat", (int)pid);
	met_vm_close(vm);
	return rc;
}

void
met_vm_close(struct met_vm *vm)
{
	size_t i;

	for (i = 0; i < vm->nvcpu; i++)
		met_io_close(&vm->vcpu[i].fd);
	free(vm->vcpu);
	vm->vcpu = NULL;
	vm->nvcpu = 0;
	met_io_close(&vm->fd_stat);
	met_io_close(&vm->fd_statm);
}

/* Ticks over an interval as cores; NaN for no interval or a reset. */
static double
ticks_util(uint64_t now, uint64_t prev, long hz, double dt, bool have)
{
	if (!have || now < prev)
		return NAN;
	return (double)(now - prev) / (double)hz / dt;
}

int
met_vm_sample(struct met_vm *vm, double now, struct ebb_err *err)
{
	bool have = vm->have_prev && now > vm->now;
	double dt = now - vm->now;
	size_t i;
	int rc;

	rc = task_read(vm->fd_stat, vm->buf, vm->hz, &vm->proc.task,
	    &vm->proc.nthreads);
	if (rc == 0 && task_dead(&vm->proc.task))
		rc = -ESRCH;
	if (rc == 0)
		rc = statm_rss(vm->fd_statm, vm->buf, vm->page_size,
		    &vm->proc.rss_bytes);
	if (rc < 0)
		goto fail;
	vm->util = ticks_util(vm->proc.task.ticks, vm->prev_ticks, vm->hz, dt,
	    have);
	vm->prev_ticks = vm->proc.task.ticks;
	for (i = 0; i < vm->nvcpu; i++) {
		struct met_vcpu *v = &vm->vcpu[i];

		if (v->gone)
			continue;
		rc = task_read(v->fd, vm->buf, vm->hz, &v->task, NULL);
		if (rc == -ESRCH || (rc == 0 && task_dead(&v->task))) {
			/* The fd pins the old thread: a reused TID is never
			 * mistaken for it. */
			v->gone = true;
			v->util = NAN;
			met_io_close(&v->fd);
			continue;
		}
		if (rc < 0)
			goto fail;
		v->util = ticks_util(v->task.ticks, v->prev_ticks, vm->hz, dt,
		    have);
		v->prev_ticks = v->task.ticks;
	}
	vm->now = now;
	vm->have_prev = true;
	vm->nsample++;
	return 0;
fail:
	/* Some counters may be new and others old: no baseline is left. */
	vm->have_prev = false;
	if (rc == -ESRCH)
		ebb_err_set(err, "process %d has exited", (int)vm->pid);
	else if (rc == -EBADMSG)
		ebb_err_set(err, "process %d: malformed stat or statm",
		    (int)vm->pid);
	else
		ebb_err_set(err, "process %d: %s", (int)vm->pid,
		    strerror(-rc));
	return rc;
}
