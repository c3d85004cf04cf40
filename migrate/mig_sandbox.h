/*
 * mig_sandbox.h - a seccomp filter for the thread that runs a migration.
 *
 * The receiving end of a migration parses a stream from another host
 * while the VMM holds the guest's memory and the KVM file descriptors: a
 * flaw in that parser must not become a shell on the host.  Once the
 * socket is connected and the engine is set up, the thread that runs
 * mig_send_run() or mig_recv_run() confines itself (the filter binds the
 * calling thread only, not the VMM's other threads) to what the engine
 * needs: I/O on descriptors it already holds, poll, time, futexes, memory
 * that is never executable, exit.  No open, no socket, no connect, no
 * exec, no fork, no ptrace; mmap and mprotect with PROT_EXEC are refused,
 * and so is any syscall of another ABI (x32, i386).  Whatever else the
 * VMM's callbacks need (KVM's ioctls for the dirty log and the vCPU
 * state) it names: extra syscalls, and, for ioctl, the request numbers
 * allowed, nothing else.
 *
 * A refused call kills the process (SECCOMP_RET_KILL_PROCESS): a thread
 * that tries one is not the code that was reviewed.  Before the filter,
 * the thread sets no_new_privs, as seccomp requires of the unprivileged.
 * Linux on x86-64 and aarch64; elsewhere -ENOTSUP.
 */
#ifndef MIG_SANDBOX_H
#define MIG_SANDBOX_H

#include <stddef.h>

#include "ebb.h"

#define MIG_SANDBOX_EXTRA_MAX	32
#define MIG_SANDBOX_IOCTL_MAX	32

struct mig_sandbox {
	/* Syscall numbers (SYS_*) the callbacks need besides the engine's. */
	long		 extra[MIG_SANDBOX_EXTRA_MAX];
	size_t		 nextra;
	/* ioctl requests allowed; none: no ioctl at all. */
	unsigned long	 ioctls[MIG_SANDBOX_IOCTL_MAX];
	size_t		 nioctls;
};

/*
 * Confines the calling thread for good.  0, or -errno with err filled
 * (-ENOTSUP: no filter for this architecture or kernel; -EINVAL: too
 * many extras).
 */
int	mig_sandbox_enter(const struct mig_sandbox *, struct ebb_err *);

#endif /* MIG_SANDBOX_H */
