/*
 * met_proc.h - CPU time and memory of a process and its threads, and the
 * per-VM sampler built on them.
 *
 * The agent measures a VM through its VMM process: the process's CPU time
 * (all its threads, live and exited), its RSS, and each vCPU thread's CPU
 * time.  A VMM names its vCPU threads ("vcpu0", "vcpu1", ... for ebb-vmm;
 * QEMU uses "CPU 0/KVM"), which is how met_vm finds them.
 *
 * Sources: /proc/PID/stat and /proc/PID/task/TID/stat give utime + stime
 * (clock ticks, USER_HZ), the `processor` field (the CPU the task last ran
 * on) and the task's comm (the name prctl(PR_SET_NAME) or
 * pthread_setname_np() set, the same string /proc/.../comm shows: reading
 * it from stat gives name and times in one read, consistent with each
 * other).  /proc/PID/statm gives the resident set in pages.
 *
 * A process that has exited (or is a zombie, whose threads are gone) is
 * reported as -ESRCH, whether it vanished before or between reads.
 */
#ifndef MET_PROC_H
#define MET_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ebb.h"

/* TASK_COMM_LEN: 15 characters and a NUL. */
#define MET_COMM_MAX	16
/*
 * Room for one stat line: ~52 fields; with a 64-character kernel-thread
 * name and every address at 20 digits it stays under 1200 bytes.
 */
#define MET_STAT_MAX	2048

/* One thread (or, in met_proc, the whole process). */
struct met_task {
	pid_t		tid;
	char		name[MET_COMM_MAX]; /* comm, truncated to 15 */
	char		state;		/* R, S, D, Z, ... */
	uint64_t	ticks;		/* utime + stime, USER_HZ ticks */
	double		cpu_s;		/* the same in seconds */
	int		last_cpu;	/* CPU it last ran on */
};

struct met_proc {
	/* Totals over all threads, live and exited; task.tid is the PID. */
	struct met_task	task;
	int		nthreads;
	/* Resident set: statm's resident pages x page size. */
	uint64_t	rss_bytes;
};

/*
 * Reads root/PID/stat and root/PID/statm (root NULL: "/proc").  0, -ESRCH
 * when there is no such process (or it is a zombie; or pid <= 0),
 * -EBADMSG, or -errno.
 */
int	met_proc_read(const char *root, pid_t pid, struct met_proc *,
	    struct ebb_err *);

/*
 * Lists the threads of PID: fills out[0 .. min(cap, *n)) and sets *n to the
 * number of threads.  Returns 0, -ENOSPC when *n > cap (out holds the first
 * cap), -ESRCH when the process is gone, -EBADMSG, or -errno.  A thread
 * that exits while the list is read is left out.  Allocates nothing.
 */
int	met_proc_threads(const char *root, pid_t pid, struct met_task *out,
	    size_t cap, size_t *n, struct ebb_err *);

/* ---- the per-VM sampler -------------------------------------------------- */

struct met_vcpu {
	/* The number after the prefix ("vcpu3" -> 3); -1 if none. */
	int		index;
	struct met_task	task;		/* the latest read */
	bool		gone;		/* the thread has exited */
	/* CPU time over wall time in the last interval: 1.0 is one core
	 * busy all the time; NaN when unknown (first sample, gone). */
	double		util;
	uint64_t	prev_ticks;	/* private */
	int		fd;		/* private: its stat, kept open */
};

struct met_vm {
	pid_t		 pid;		/* the VMM process */
	long		 hz;		/* USER_HZ */
	long		 page_size;	/* bytes */
	size_t		 nvcpu;
	struct met_vcpu	*vcpu;		/* by index, then by TID */
	struct met_proc	 proc;		/* the latest read */
	/* The whole VMM (vCPUs, I/O threads, exited threads) in cores
	 * over the last interval; NaN when unknown. */
	double		 util;
	double		 now;		/* latest sample's time, s */
	uint64_t	 nsample;	/* successful samples so far */
	uint64_t	 prev_ticks;	/* private */
	bool		 have_prev;	/* private: a baseline exists */
	int		 fd_stat;	/* private */
	int		 fd_statm;	/* private */
	char		 buf[MET_STAT_MAX]; /* private: one stat line */
};

/*
 * Opens the VMM process PID under root (NULL: "/proc") and the stat file of
 * each thread whose name begins with vcpu_prefix ("vcpu" for ebb-vmm;
 * "CPU " for QEMU).  The threads are found once, here: a VMM creates its
 * vCPU threads at start-up.  Keeps 2 + nvcpu descriptors open until
 * met_vm_close().  Returns 0, -ESRCH when the process is gone (or a
 * zombie), -EBADMSG, or -errno.  A VM with no matching thread opens with
 * nvcpu == 0.
 */
int	met_vm_open(struct met_vm *, const char *root, pid_t pid,
	    const char *vcpu_prefix, struct ebb_err *);
/*
 * Reads the process and every vCPU thread; `now` is the caller's clock in
 * seconds (CLOCK_MONOTONIC in the agent: time is a parameter, so fixtures
 * give exact results).  util fields cover the interval since the previous
 * sample if that one succeeded, and are NaN otherwise.  A vCPU thread that
 * has exited is marked gone (util NaN) and the sample still succeeds.
 * Returns 0, -ESRCH when the VMM has exited (a zombie counts as exited),
 * -EBADMSG, or -errno.  Allocates nothing.
 */
int	met_vm_sample(struct met_vm *, double now, struct ebb_err *);
void	met_vm_close(struct met_vm *);

#endif /* MET_PROC_H */
