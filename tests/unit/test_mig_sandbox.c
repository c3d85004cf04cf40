/*
 * test_mig_sandbox.c - the migration thread's seccomp filter
 * (migrate/mig_sandbox.c), each case in a child process so that a call
 * the filter refuses kills the child, not the test.
 *
 * Checked: what the engine does goes through (pipe I/O, poll, clocks,
 * sleep, malloc large and small, random bytes, HKDF/HMAC/AES from
 * OpenSSL); an ioctl request on the list goes through; everything the
 * filter is for is refused with SIGSYS: open, socket, connect-less
 * escapes like execve and fork, an executable mapping or mprotect, an
 * ioctl request not listed (or any ioctl when none is listed), an x32
 * syscall; the filter binds only the thread that asked for it.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ebb.h"
#include "mig_sandbox.h"

#if defined(__x86_64__) || defined(__aarch64__)
#define HAVE_FILTER	1
#endif

/* Child exit codes that name what went wrong before the last step. */
#define CHILD_NOFILTER	90
#define CHILD_FAILED	91

typedef int	(*step_fn)(void);

/* A socketpair made before the filter, as the stream's socket is. */
static int	sv[2] = { -1, -1 };

/*
 * Runs step in a child that confined itself with sb first.  Returns the
 * wait status.  The child leaves with _exit: no atexit handlers (a leak
 * checker's would be refused too).
 */
static int
confined(const struct mig_sandbox *sb, step_fn step)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		struct ebb_err err;

		/* SIGSYS dumps core by default: not for the expected ones. */
		setrlimit(RLIMIT_CORE, &none);
		if (mig_sandbox_enter(sb, &err) != 0) {
			fprintf(stderr, "%s\n", err.msg);
			_exit(CHILD_NOFILTER);
		}
		_exit(step() == 0 ? 0 : CHILD_FAILED);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
expect_killed(const struct mig_sandbox *sb, step_fn step, const char *what)
{
	int st = confined(sb, step);

	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("%s: not killed by the filter (%s %d)", what,
		    WIFSIGNALED(st) ? "signal" : "exit",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void
expect_allowed(const struct mig_sandbox *sb, step_fn step, const char *what)
{
	int st = confined(sb, step);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: %s %d", what, WIFSIGNALED(st) ? "killed by "
		    "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) :
		    WEXITSTATUS(st));
}

/* ---- what the engine does ------------------------------------------- */

static int
engine_like(void)
{
	char buf[64] = "record";
	struct pollfd pfd;
	struct timespec ts = { 0, 1000000 };
	uint8_t salt[32], out[32];
	void *big, *small;
	EVP_CIPHER_CTX *c;
	int n = 0;

	if (syscall(SYS_getpid) <= 0 || clock_gettime(CLOCK_MONOTONIC, &ts) ||
	    nanosleep(&(struct timespec){ 0, 1000000 }, NULL) != 0)
		return -1;
	if (send(sv[0], buf, 6, MSG_DONTWAIT) != 6)
		return -1;
	pfd = (struct pollfd){ .fd = sv[1], .events = POLLIN };
	if (poll(&pfd, 1, 1000) != 1 || recv(sv[1], buf, sizeof(buf),
	    MSG_DONTWAIT) != 6)
		return -1;
	/* Buffers as malloc makes them: small (brk or arena), big (mmap). */
	if ((small = malloc(100)) == NULL || (big = malloc(32 << 20)) == NULL)
		return -1;
	memset(big, 1, 32 << 20);
	free(big);
	free(small);
	/* libcrypto, as the stream uses it. */
	if (RAND_bytes(salt, sizeof(salt)) != 1 ||
	    (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(c, EVP_aes_256_ctr(), salt, salt, NULL) != 1 ||
	    EVP_EncryptUpdate(c, out, &n, salt, sizeof(salt)) != 1)
		return -1;
	EVP_CIPHER_CTX_free(c);
	if (shutdown(sv[0], SHUT_WR) != 0 || close(sv[0]) != 0)
		return -1;
	return 0;
}

static int
ioctl_fionread(void)
{
	int n = -1;

	return ioctl(sv[1], FIONREAD, &n) == 0 && n == 0 ? 0 : -1;
}

static void
test_allowed(void **state)
{
	struct mig_sandbox sb = { .nioctls = 1, .ioctls = { FIONREAD } };

	(void)state;
	expect_allowed(NULL, engine_like, "the engine's calls");
	expect_allowed(&sb, ioctl_fionread, "a listed ioctl request");
}

/* ---- what it refuses ---------------------------------------------------- */

static int
do_open(void)
{
	return open("/dev/null", O_RDONLY) >= 0 ? 0 : -1;
}

static int
do_socket(void)
{
	return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : -1;
}

static int
do_exec(void)
{
	char *const argv[] = { (char *)"true", NULL };

	execve("/bin/true", argv, NULL);
	return -1;
}

static int
do_fork(void)
{
	return (int)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0) >= 0 ?
	    0 : -1;
}

static int
do_mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);

	return p != MAP_FAILED ? 0 : -1;
}

static int
do_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC);
}

static int
do_ioctl_other(void)
{
	struct winsize ws;

	return ioctl(0, TIOCGWINSZ, &ws);
}

static int
do_ioctl_high_bits(void)
{
	/* FIONREAD's number with a high word: not the request listed. */
	return (int)syscall(SYS_ioctl, sv[1], (unsigned long)FIONREAD |
	    (1ul << 32), NULL);
}

#ifdef __x86_64__
static int
do_x32(void)
{
	return (int)syscall(0x40000000 | SYS_getpid);
}
#endif

static void
test_refused(void **state)
{
	struct mig_sandbox sb = { .nioctls = 1, .ioctls = { FIONREAD } };

	(void)state;
	expect_killed(NULL, do_open, "open");
	expect_killed(NULL, do_socket, "socket");
	expect_killed(NULL, do_exec, "execve");
	expect_killed(NULL, do_fork, "clone");
	expect_killed(NULL, do_mmap_exec, "mmap PROT_EXEC");
	expect_killed(NULL, do_mprotect_exec, "mprotect PROT_EXEC");
	expect_killed(NULL, ioctl_fionread, "ioctl with none listed");
	expect_killed(&sb, do_ioctl_other, "an ioctl request not listed");
	expect_killed(&sb, do_ioctl_high_bits, "a request with high bits");
#ifdef __x86_64__
	expect_killed(NULL, do_x32, "an x32 syscall");
#endif
}

/* An extra syscall the VMM names goes through. */
static int
do_getppid(void)
{
	return getppid() > 0 ? 0 : -1;
}

static void
test_extra(void **state)
{
	struct mig_sandbox sb = { .nextra = 1, .extra = { SYS_getppid } };
	struct mig_sandbox big = { .nextra = MIG_SANDBOX_EXTRA_MAX + 1 };
	struct ebb_err err;

	(void)state;
	expect_killed(NULL, do_getppid, "getppid, not listed");
	expect_allowed(&sb, do_getppid, "getppid, listed");
	assert_int_equal(mig_sandbox_enter(&big, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "more than"));
}

/* ---- one thread only ------------------------------------------------------ */

static void *
confine_self(void *arg)
{
	struct ebb_err err;

	*(int *)arg = mig_sandbox_enter(NULL, &err);
	return NULL;
}

static void
test_thread_only(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t th;
		int rc = -1, fd;

		if (pthread_create(&th, NULL, confine_self, &rc) != 0 ||
		    pthread_join(th, NULL) != 0 || rc != 0)
			_exit(CHILD_NOFILTER);
		/* The main thread was never confined. */
		fd = open("/dev/null", O_RDONLY);
		_exit(fd >= 0 ? 0 : CHILD_FAILED);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_extra),
		cmocka_unit_test(test_thread_only),
	};

#ifndef HAVE_FILTER
	printf("SKIP: no seccomp filter for this architecture\n");
	return 77;
#endif
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
