/*
 * mig_sandbox.c - the migration thread's seccomp filter (mig_sandbox.h):
 * a classic BPF program over struct seccomp_data, built here from an
 * allow-list, so that the list is the whole policy and can be read.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "ebb.h"
#include "mig_sandbox.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#endif

/*
 * What the engine itself calls, directly or through libc and libcrypto:
 * socket I/O on the descriptors it holds, poll with the cancel eventfd,
 * clocks and sleeps for pacing, futexes (the progress lock, the VMM's
 * own), memory for buffers (malloc), random bytes (HELLO's salt), and
 * the way out.  Names that an architecture lacks (poll on aarch64) are
 * left out there.
 */
static const long engine_calls[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev,
	SYS_recvfrom, SYS_recvmsg, SYS_sendto, SYS_sendmsg,
	SYS_shutdown, SYS_close, SYS_ppoll,
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_futex, SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep,
	SYS_gettimeofday, SYS_sched_yield,
	SYS_munmap, SYS_mremap, SYS_madvise, SYS_brk,
	SYS_getrandom, SYS_getpid, SYS_gettid,
	SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_restart_syscall,
	SYS_sigaltstack,	/* a thread's exit under the sanitizers */
	SYS_exit, SYS_exit_group,
};

/* Offsets in struct seccomp_data of an argument's low and high words. */
#define ARG_LO(i)	(offsetof(struct seccomp_data, args) + 8 * (i) + \
			    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4))
#define ARG_HI(i)	(offsetof(struct seccomp_data, args) + 8 * (i) + \
			    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 4 : 0))

#define PROG_MAX	256

struct prog {
	struct sock_filter	f[PROG_MAX];
	size_t			n;
};

static void
emit(struct prog *p, struct sock_filter ins)
{
	if (p->n < PROG_MAX)
		p->f[p->n] = ins;
	p->n++;
}

#define STMT(code, k)		((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, t, f)	((struct sock_filter)BPF_JUMP(code, k, t, f))
#define LOAD(off)		STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(off))
#define RET(v)			STMT(BPF_RET | BPF_K, (v))
#define ALLOW			SECCOMP_RET_ALLOW
#define KILL			SECCOMP_RET_KILL_PROCESS

/* nr allowed outright.  A holds the syscall number, before and after. */
static void
allow(struct prog *p, long nr)
{
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1));
	emit(p, RET(ALLOW));
}

/* nr (mmap, mprotect) allowed unless its prot argument asks for exec. */
static void
allow_noexec(struct prog *p, long nr, int prot_arg)
{
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4));
	emit(p, LOAD(ARG_LO(prot_arg)));
	emit(p, JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0));
	emit(p, RET(ALLOW));
	emit(p, RET(KILL));
}

/* ioctl allowed with the listed requests only (all 64 bits compared). */
static void
allow_ioctls(struct prog *p, const struct mig_sandbox *sb)
{
	uint8_t n = (uint8_t)sb->nioctls;

	if (n == 0)
		return;
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0,
	    (uint8_t)(4 + 2 * n)));
	emit(p, LOAD(ARG_HI(1)));
	emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (uint8_t)(1 + 2 * n)));
	emit(p, LOAD(ARG_LO(1)));
	for (size_t i = 0; i < sb->nioctls; i++) {
		emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (uint32_t)sb->ioctls[i], 0, 1));
		emit(p, RET(ALLOW));
	}
	emit(p, RET(KILL));
}

/*
 * libcrypto reads its configuration and picks its implementations on
 * first use, which opens files: that must happen before the filter.
 */
static int
warm_up(struct ebb_err *err)
{
	EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	uint8_t b[16];
	int ok = aes != NULL && mac != NULL && kdf != NULL && md != NULL &&
	    RAND_bytes(b, sizeof(b)) == 1;

	EVP_CIPHER_free(aes);
	EVP_MAC_free(mac);
	EVP_KDF_free(kdf);
	EVP_MD_free(md);
	if (!ok) {
		ebb_err_set(err, "sandbox: OpenSSL's AES, HMAC, HKDF or random "
		    "bytes unavailable");
		return -EIO;
	}
	return 0;
}

int
mig_sandbox_enter(const struct mig_sandbox *sb, struct ebb_err *err)
{
#ifndef SANDBOX_ARCH
	(void)sb;
	ebb_err_set(err, "sandbox: no seccomp filter for this architecture");
	return -ENOTSUP;
#else
	static const struct mig_sandbox none;
	struct sock_fprog fprog;
	struct prog p = { .n = 0 };
	int rc;

	if (sb == NULL)
		sb = &none;
	if (sb->nextra > MIG_SANDBOX_EXTRA_MAX ||
	    sb->nioctls > MIG_SANDBOX_IOCTL_MAX) {
		ebb_err_set(err, "sandbox: more than %d extra syscalls or "
		    "ioctls", MIG_SANDBOX_EXTRA_MAX);
		return -EINVAL;
	}
	if ((rc = warm_up(err)) < 0)
		return rc;

	/* Another ABI's numbers mean other calls: refused whole. */
	emit(&p, LOAD(offsetof(struct seccomp_data, arch)));
	emit(&p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0));
	emit(&p, RET(KILL));
	emit(&p, LOAD(offsetof(struct seccomp_data, nr)));
#ifdef __x86_64__
	/* x32 calls are x86-64's numbers with bit 30 set. */
	emit(&p, JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1));
	emit(&p, RET(KILL));
#endif
	for (size_t i = 0; i < EBB_NITEMS(engine_calls); i++)
		allow(&p, engine_calls[i]);
	for (size_t i = 0; i < sb->nextra; i++)
		allow(&p, sb->extra[i]);
	allow_noexec(&p, SYS_mmap, 2);
	allow_noexec(&p, SYS_mprotect, 2);
	allow_ioctls(&p, sb);
	emit(&p, RET(KILL));
	if (p.n > PROG_MAX) {
		ebb_err_set(err, "sandbox: filter of %zu instructions (at most "
		    "%d)", p.n, PROG_MAX);
		return -EINVAL;
	}

	fprog.len = (unsigned short)p.n;
	fprog.filter = p.f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		rc = -errno;
		ebb_err_set(err, "sandbox: no_new_privs: %s", strerror(errno));
		return rc;
	}
	/* No SECCOMP_FILTER_FLAG_TSYNC: this thread only. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
		rc = errno == EINVAL ? -ENOTSUP : -errno;
		ebb_err_set(err, "sandbox: seccomp filter refused: %s",
		    strerror(errno));
		return rc;
	}
	return 0;
#endif
}
