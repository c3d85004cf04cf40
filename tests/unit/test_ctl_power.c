/*
 * test_ctl_power.c - the controller's power drivers (controller/ctl_power.c).
 *
 * Checked: ctl_mac_parse() on good and bad addresses (hex digits only:
 * no sign, "0x" or blank inside a field); ctl_wol_packet()
 * builds exactly the 102-byte magic packet; ctl_power_status() on exit
 * codes and signals; ctl_power_start() for
 *  - command: runs through /bin/sh with EBB_HOST set (and a host name full
 *    of shell syntax is data, not code), in its own process group, with
 *    the signal mask cleared; exit 0 -> ctl_power_wait() 0, exit 3 ->
 *    -EIO "exited 3", a signal -> -EIO "killed by signal", a command that
 *    hangs is killed (with its children) after the timeout; on/off pick
 *    their own command; a missing one is -EOPNOTSUPP;
 *  - demo: the same as command;
 *  - none: -EPERM with a message, nothing started;
 *  - wol: "on" sends the packet (to a UDP socket of ours on 127.0.0.1 only)
 *    and needs no process; "off" needs an off command; bad MAC or address;
 *  - ipmi: the ipmitool argv (a stand-in ipmitool on PATH records it; the
 *    password is never on the command line), and with no ipmitool at all
 *    the child fails (exit 127) and ctl_power_wait() reports it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl_power.h"
#include "ebb.h"

/* A private temporary folder per test. */
struct tmp {
	char	dir[64];
};

static int
setup_tmp(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_ctl_power.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
teardown_tmp(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", t->dir);
	free(t);
	return 0;
}

/* The whole content of a small file, or "" if it is missing. */
static void
slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f == NULL)
		return;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
command_power(struct ctl_power *p, enum ctl_power_kind kind, const char *on,
    const char *off)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	snprintf(p->on, sizeof(p->on), "%s", on);
	snprintf(p->off, sizeof(p->off), "%s", off);
}

/* ---- MAC and magic packet ---------------------------------------------- */

static void
test_mac_parse(void **state)
{
	static const unsigned char want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd,
		0xef };
	unsigned char mac[6];

	(void)state;
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:ef", mac), 0);
	assert_memory_equal(mac, want, 6);
	memset(mac, 0, sizeof(mac));
	assert_int_equal(ctl_mac_parse("52:54:00:AB:CD:EF", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(ctl_mac_parse("ff:ff:ff:ff:ff:ff", mac), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(mac[i], 0xff);
	assert_int_equal(ctl_mac_parse("00:00:00:00:00:00", mac), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(mac[i], 0);

	assert_int_equal(ctl_mac_parse("", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:ef:", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:ef:01", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:efx", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:eff", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:ef ", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52-54-00-ab-cd-ef", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("525400abcdef", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("g2:54:00:ab:cd:ef", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:zz", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:ef\n", mac), -EINVAL);
}

/*
 * Only hex digits make a MAC address.  sscanf's %2x also takes a sign, a
 * "0x" prefix and blanks, so that "0x:..." parses as 00 and "-1" as ff:
 * a typo in the configuration would wake (or not) some other machine.
 */
static void
test_mac_parse_hex_digits_only(void **state)
{
	unsigned char mac[6];

	(void)state;
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:-1", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54:00:ab:cd:+f", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("0x:54:00:ab:cd:ef", mac), -EINVAL);
	assert_int_equal(ctl_mac_parse("52:54: 0:ab:cd:ef", mac), -EINVAL);
}

static void
test_wol_packet(void **state)
{
	static const unsigned char mac[6] = { 0x01, 0x23, 0x45, 0x67, 0x89,
		0xab };
	unsigned char pkt[102 + 16];

	(void)state;
	/* Exactly 102 bytes are written: the guard bytes stay. */
	memset(pkt, 0x5a, sizeof(pkt));
	ctl_wol_packet(mac, pkt);
	for (int i = 0; i < 6; i++)
		assert_int_equal(pkt[i], 0xff);
	for (int r = 0; r < 16; r++)
		assert_memory_equal(pkt + 6 + 6 * r, mac, 6);
	for (size_t i = 102; i < sizeof(pkt); i++)
		assert_int_equal(pkt[i], 0x5a);
}

/* ---- exit statuses ----------------------------------------------------- */

static void
test_power_status(void **state)
{
	struct ebb_err err = { "" };

	(void)state;
	assert_int_equal(ctl_power_status(W_EXITCODE(0, 0), &err), 0);
	assert_int_equal(ctl_power_status(W_EXITCODE(3, 0), &err), -EIO);
	assert_non_null(strstr(err.msg, "exited 3"));
	assert_int_equal(ctl_power_status(W_EXITCODE(127, 0), &err), -EIO);
	assert_non_null(strstr(err.msg, "exited 127"));
	assert_int_equal(ctl_power_status(W_EXITCODE(0, SIGKILL), &err), -EIO);
	assert_non_null(strstr(err.msg, "killed by signal 9"));
}

/* ---- command and demo -------------------------------------------------- */

static void
test_command_ok(void **state)
{
	struct tmp *t = *state;
	/* Shell syntax in a host name must stay data. */
	const char *name = "h 1;touch pwned;$(touch pwned2)'\"`x`";
	char cmd[512], out[256], buf[512], pwned[128];
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid = -1;

	(void)state;
	snprintf(out, sizeof(out), "%s/out", t->dir);
	snprintf(cmd, sizeof(cmd), "cd '%s' && printf '%%s' \"$EBB_HOST\" > "
	    "'%s'; exit 0", t->dir, out);
	command_power(&p, CTL_POWER_COMMAND, cmd, "exit 9");
	assert_int_equal(ctl_power_start(&p, name, true, &pid, &err), 0);
	assert_true(pid > 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(out, buf, sizeof(buf));
	assert_string_equal(buf, name);
	snprintf(pwned, sizeof(pwned), "%s/pwned", t->dir);
	assert_false(exists(pwned));
	snprintf(pwned, sizeof(pwned), "%s/pwned2", t->dir);
	assert_false(exists(pwned));
	/* EBB_HOST is the child's, not ours. */
	assert_null(getenv("EBB_HOST"));
}

static void
test_command_on_off_pick_their_command(void **state)
{
	struct tmp *t = *state;
	char on[512], off[512], path[256], buf[64];
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid;

	snprintf(path, sizeof(path), "%s/which", t->dir);
	snprintf(on, sizeof(on), "echo on-$EBB_HOST > '%s'", path);
	snprintf(off, sizeof(off), "echo off-$EBB_HOST > '%s'", path);
	command_power(&p, CTL_POWER_COMMAND, on, off);
	assert_int_equal(ctl_power_start(&p, "hx", false, &pid, &err), 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "off-hx\n");
	assert_int_equal(ctl_power_start(&p, "hx", true, &pid, &err), 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "on-hx\n");

	/* demo runs its commands the same way. */
	command_power(&p, CTL_POWER_DEMO, on, off);
	assert_int_equal(ctl_power_start(&p, "hd", false, &pid, &err), 0);
	assert_true(pid > 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "off-hd\n");
}

static void
test_command_exit_3(void **state)
{
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid;

	(void)state;
	command_power(&p, CTL_POWER_COMMAND, "exit 3", "exit 0");
	assert_int_equal(ctl_power_start(&p, "h", true, &pid, &err), 0);
	assert_true(pid > 0);
	err.msg[0] = '\0';
	assert_int_equal(ctl_power_wait(pid, 20, &err), -EIO);
	assert_non_null(strstr(err.msg, "exited 3"));
	/* A command that is not there: the shell says 127. */
	command_power(&p, CTL_POWER_COMMAND,
	    "exec 2>/dev/null; /nonexistent/ebb-power-on", "exit 0");
	assert_int_equal(ctl_power_start(&p, "h", true, &pid, &err), 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), -EIO);
	assert_non_null(strstr(err.msg, "exited 127"));
}

static void
test_command_killed_by_signal(void **state)
{
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid;

	(void)state;
	command_power(&p, CTL_POWER_COMMAND, "kill -KILL $$", "exit 0");
	assert_int_equal(ctl_power_start(&p, "h", true, &pid, &err), 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), -EIO);
	assert_non_null(strstr(err.msg, "killed by signal 9"));
}

/*
 * The controller blocks SIGTERM, SIGCHLD, ... for its signalfd; a power
 * command must not inherit that mask, or it could not be stopped.
 */
static void
test_command_signal_mask_cleared(void **state)
{
	sigset_t mask, old;
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid;
	int rc;

	(void)state;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	command_power(&p, CTL_POWER_COMMAND, "kill -TERM $$; exit 0", "exit 0");
	rc = ctl_power_start(&p, "h", true, &pid, &err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), -EIO);
	assert_non_null(strstr(err.msg, "killed by signal 15"));
}

static void
test_command_own_process_group(void **state)
{
	struct tmp *t = *state;
	char cmd[512], path[256], buf[64];
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid;

	snprintf(path, sizeof(path), "%s/pgid", t->dir);
	/* Field 5 of /proc/PID/stat is the process group ("sh" has no
	 * blank in its name). */
	snprintf(cmd, sizeof(cmd), "cut -d' ' -f5 /proc/$$/stat > '%s'", path);
	command_power(&p, CTL_POWER_COMMAND, cmd, cmd);
	assert_int_equal(ctl_power_start(&p, "h", true, &pid, &err), 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(path, buf, sizeof(buf));
	assert_int_equal(atol(buf), (long)pid);
	assert_int_not_equal(atol(buf), (long)getpgrp());
}

/* Whether pid is gone or a zombie (killed, not yet reaped by init). */
static bool
dead(pid_t pid)
{
	char path[64], buf[512], *rp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	slurp(path, buf, sizeof(buf));
	if (buf[0] == '\0')
		return true;
	rp = strrchr(buf, ')');
	return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

static void
test_command_timeout_kills_group(void **state)
{
	struct tmp *t = *state;
	char cmd[512], path[256], buf[64];
	struct ctl_power p;
	struct ebb_err err = { "" };
	double t0, dt;
	pid_t pid, child;

	snprintf(path, sizeof(path), "%s/child", t->dir);
	/* A background child in the same group, then a long wait. */
	snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > '%s'; sleep 30",
	    path);
	command_power(&p, CTL_POWER_COMMAND, cmd, "exit 0");
	assert_int_equal(ctl_power_start(&p, "h", true, &pid, &err), 0);
	t0 = now_s();
	assert_int_equal(ctl_power_wait(pid, 1, &err), -ETIMEDOUT);
	dt = now_s() - t0;
	assert_non_null(strstr(err.msg, "timed out after 1 s"));
	/* At least the timeout, and not the 30 s of the command. */
	assert_true(dt >= 0.9);
	assert_true(dt < 10);
	slurp(path, buf, sizeof(buf));
	child = (pid_t)atol(buf);
	assert_true(child > 0);
	for (int i = 0; i < 250 && !dead(child); i++)
		usleep(20000);
	if (!dead(child)) {
		kill(child, SIGKILL);
		fail_msg("the command's background child %ld survived the "
		    "timeout", (long)child);
	}
}

static void
test_command_missing_one(void **state)
{
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid = 77;

	(void)state;
	command_power(&p, CTL_POWER_COMMAND, "exit 0", "");
	assert_int_equal(ctl_power_start(&p, "hm", false, &pid, &err),
	    -EOPNOTSUPP);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(err.msg, "hm"));
	assert_non_null(strstr(err.msg, "power-off"));
	command_power(&p, CTL_POWER_COMMAND, "", "exit 0");
	assert_int_equal(ctl_power_start(&p, "hm", true, &pid, &err),
	    -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "power-on"));
}

static void
test_wait_not_a_child(void **state)
{
	struct ebb_err err = { "" };

	(void)state;
	/* pid 1 is never our child. */
	assert_int_equal(ctl_power_wait(1, 1, &err), -ECHILD);
	assert_non_null(strstr(err.msg, "waitpid"));
}

/* ---- none -------------------------------------------------------------- */

static void
test_none(void **state)
{
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid = 77;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.kind = CTL_POWER_NONE;
	/* Even with commands filled in, none runs nothing. */
	snprintf(p.on, sizeof(p.on), "exit 0");
	snprintf(p.off, sizeof(p.off), "exit 0");
	assert_int_equal(ctl_power_start(&p, "hn", false, &pid, &err), -EPERM);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(err.msg, "hn has no power driver"));
	pid = 77;
	assert_int_equal(ctl_power_start(&p, "hn", true, &pid, &err), -EPERM);
	assert_int_equal(pid, 0);
	/* Nothing was started: no child to wait for. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* ---- Wake-on-LAN, on 127.0.0.1 only ------------------------------------ */

/* A UDP socket on 127.0.0.1 and an ephemeral port. */
static int
udp_listen(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
test_wol_on_sends_magic_packet(void **state)
{
	static const unsigned char mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34,
		0x56 };
	struct pollfd pfd = { .events = POLLIN };
	unsigned char buf[512], want[102];
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid = 77;
	ssize_t n;
	int port;

	(void)state;
	pfd.fd = udp_listen(&port);
	memset(&p, 0, sizeof(p));
	p.kind = CTL_POWER_WOL;
	snprintf(p.mac, sizeof(p.mac), "52:54:00:12:34:56");
	snprintf(p.broadcast, sizeof(p.broadcast), "127.0.0.1");
	p.port = port;
	assert_int_equal(ctl_power_start(&p, "hw", true, &pid, &err), 0);
	/* Done once sent: no process to wait for. */
	assert_int_equal(pid, 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	n = recv(pfd.fd, buf, sizeof(buf), 0);
	assert_int_equal(n, 102);
	memset(want, 0xff, 6);
	for (int i = 0; i < 16; i++)
		memcpy(want + 6 + 6 * i, mac, 6);
	assert_memory_equal(buf, want, 102);
	ctl_wol_packet(mac, want);
	assert_memory_equal(buf, want, 102);
	/* One packet, not several. */
	assert_int_equal(poll(&pfd, 1, 100), 0);
	close(pfd.fd);
}

static void
test_wol_errors(void **state)
{
	struct tmp *t = *state;
	char off[512], path[256], buf[64];
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid = 77;

	memset(&p, 0, sizeof(p));
	p.kind = CTL_POWER_WOL;
	snprintf(p.mac, sizeof(p.mac), "52:54:00:12:34:56");
	snprintf(p.broadcast, sizeof(p.broadcast), "not-an-address");
	p.port = 9;
	assert_int_equal(ctl_power_start(&p, "hw", true, &pid, &err), -EINVAL);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(err.msg, "not-an-address"));
	snprintf(p.broadcast, sizeof(p.broadcast), "127.0.0.1");
	snprintf(p.mac, sizeof(p.mac), "52:54:00:12:34");
	assert_int_equal(ctl_power_start(&p, "hw", true, &pid, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "MAC"));

	/* Off: Wake-on-LAN cannot; without an off command it refuses. */
	snprintf(p.mac, sizeof(p.mac), "52:54:00:12:34:56");
	pid = 77;
	assert_int_equal(ctl_power_start(&p, "hw", false, &pid, &err),
	    -EOPNOTSUPP);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(err.msg, "hw"));
	/* With one, off runs it. */
	snprintf(path, sizeof(path), "%s/wol-off", t->dir);
	snprintf(off, sizeof(off), "echo $EBB_HOST > '%s'", path);
	snprintf(p.off, sizeof(p.off), "%s", off);
	assert_int_equal(ctl_power_start(&p, "hw", false, &pid, &err), 0);
	assert_true(pid > 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "hw\n");
}

/* ---- ipmi -------------------------------------------------------------- */

static void
ipmi_power(struct ctl_power *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = CTL_POWER_IPMI;
	snprintf(p->bmc, sizeof(p->bmc), "10.0.0.101");
	snprintf(p->user, sizeof(p->user), "ebb");
	snprintf(p->password_file, sizeof(p->password_file),
	    "/etc/ebb/ipmi-password");
}

/* Runs f with PATH set to dir only; restores PATH. */
struct saved_path {
	char	*old;
};

static void
path_set(struct saved_path *s, const char *dir)
{
	const char *old = getenv("PATH");

	s->old = old ? strdup(old) : NULL;
	assert_int_equal(setenv("PATH", dir, 1), 0);
}

static void
path_restore(struct saved_path *s)
{
	if (s->old != NULL)
		setenv("PATH", s->old, 1);
	else
		unsetenv("PATH");
	free(s->old);
}

static void
test_ipmi_argv(void **state)
{
	struct tmp *t = *state;
	char tool[256], out[256], buf[1024], want[512];
	struct saved_path sp;
	struct ctl_power p;
	struct ebb_err err = { "" };
	FILE *f;
	pid_t pid;
	int rc;

	/* A stand-in ipmitool that records its arguments, one a line. */
	snprintf(tool, sizeof(tool), "%s/ipmitool", t->dir);
	snprintf(out, sizeof(out), "%s/argv", t->dir);
	f = fopen(tool, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '%s'\n"
	    "echo \"EBB_HOST=$EBB_HOST\" >> '%s'\nexit 0\n", out, out);
	fclose(f);
	assert_int_equal(chmod(tool, 0755), 0);
	ipmi_power(&p);

	path_set(&sp, t->dir);
	rc = ctl_power_start(&p, "rack1-h01", true, &pid, &err);
	path_restore(&sp);
	assert_int_equal(rc, 0);
	assert_true(pid > 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(out, buf, sizeof(buf));
	snprintf(want, sizeof(want), "-I\nlanplus\n-H\n10.0.0.101\n-U\nebb\n"
	    "-f\n/etc/ebb/ipmi-password\nchassis\npower\non\n"
	    "EBB_HOST=rack1-h01\n");
	assert_string_equal(buf, want);

	path_set(&sp, t->dir);
	rc = ctl_power_start(&p, "rack1-h01", false, &pid, &err);
	path_restore(&sp);
	assert_int_equal(rc, 0);
	assert_int_equal(ctl_power_wait(pid, 20, &err), 0);
	slurp(out, buf, sizeof(buf));
	/* Off is a soft (ACPI) shutdown. */
	assert_non_null(strstr(buf, "chassis\npower\nsoft\n"));
}

static void
test_ipmi_without_ipmitool(void **state)
{
	struct tmp *t = *state;
	struct saved_path sp;
	struct ctl_power p;
	struct ebb_err err = { "" };
	pid_t pid = 0;
	int rc;

	/* An empty folder as PATH: no ipmitool anywhere. */
	ipmi_power(&p);
	path_set(&sp, t->dir);
	rc = ctl_power_start(&p, "h", true, &pid, &err);
	path_restore(&sp);
	/* The spawn itself succeeds; its child fails, and wait says so. */
	assert_int_equal(rc, 0);
	assert_true(pid > 0);
	err.msg[0] = '\0';
	assert_int_equal(ctl_power_wait(pid, 20, &err), -EIO);
	assert_non_null(strstr(err.msg, "exited 127"));
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_parse),
		cmocka_unit_test(test_mac_parse_hex_digits_only),
		cmocka_unit_test(test_wol_packet),
		cmocka_unit_test(test_power_status),
		cmocka_unit_test_setup_teardown(test_command_ok, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test_setup_teardown(
		    test_command_on_off_pick_their_command, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test(test_command_exit_3),
		cmocka_unit_test(test_command_killed_by_signal),
		cmocka_unit_test(test_command_signal_mask_cleared),
		cmocka_unit_test_setup_teardown(test_command_own_process_group,
		    setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(
		    test_command_timeout_kills_group, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_command_missing_one),
		cmocka_unit_test(test_wait_not_a_child),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_wol_on_sends_magic_packet),
		cmocka_unit_test_setup_teardown(test_wol_errors, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test_setup_teardown(test_ipmi_argv, setup_tmp,
		    teardown_tmp),
		cmocka_unit_test_setup_teardown(test_ipmi_without_ipmitool,
		    setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
