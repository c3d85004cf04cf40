/*
 * ctl_power.c - the power drivers.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_power.h"

const char *
ctl_power_kind_name(enum ctl_power_kind k)
{
	switch (k) {
	case CTL_POWER_NONE:
		return "none";
	case CTL_POWER_IPMI:
		return "ipmi";
	case CTL_POWER_WOL:
		return "wol";
	case CTL_POWER_COMMAND:
		return "command";
	case CTL_POWER_DEMO:
		return "demo";
	}
	return "invalid";
}

int
ctl_power_kind_parse(const char *s, enum ctl_power_kind *k)
{
	for (int i = CTL_POWER_NONE; i <= CTL_POWER_DEMO; i++)
		if (strcmp(s, ctl_power_kind_name(i)) == 0) {
			*k = i;
			return 0;
		}
	return -EINVAL;
}

/*
 * Starts argv (no shell) or, when argv is NULL, `sh -c cmd`, with EBB_HOST
 * set, in its own process group so a timeout can kill all of it.  The
 * caller reaps it.  Returns the pid or -errno.
 */
static pid_t
spawn(char *const argv[], const char *cmd, const char *host,
    struct ebb_err *err)
{
	pid_t pid = fork();

	if (pid < 0) {
		ebb_err_set(err, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;

		/* The controller blocks signals for its signalfd. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		setenv("EBB_HOST", host, 1);
		if (argv != NULL)
			execvp(argv[0], argv);
		else
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int
ctl_power_wait(pid_t pid, int timeout_s, struct ebb_err *err)
{
	struct timespec t0, now;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			ebb_err_set(err, "waitpid: %s", strerror(errno));
			return -errno;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > timeout_s) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			ebb_err_set(err, "power command timed out after %d s",
			    timeout_s);
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
	return ctl_power_status(st, err);
}

int
ctl_power_status(int st, struct ebb_err *err)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		ebb_err_set(err, "power command exited %d", WEXITSTATUS(st));
	else
		ebb_err_set(err, "power command killed by signal %d",
		    WTERMSIG(st));
	return -EIO;
}

int
ctl_mac_parse(const char *s, unsigned char mac[6])
{
	/* Exactly "xx:xx:xx:xx:xx:xx": sscanf's %x would take signs, 0x
	 * and blanks. */
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = ebb_hexval(s[3 * i]), lo = ebb_hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void
ctl_wol_packet(const unsigned char mac[6], unsigned char pkt[102])
{
	/* Six 0xff bytes, then the MAC sixteen times (AMD's Magic Packet). */
	memset(pkt, 0xff, 6);
	for (int i = 0; i < 16; i++)
		memcpy(pkt + 6 + 6 * i, mac, 6);
}

static int
wol_send(const struct ctl_power *p, struct ebb_err *err)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned char mac[6], pkt[102];
	int fd, one = 1, rc = 0;

	if (ctl_mac_parse(p->mac, mac) != 0) {
		ebb_err_set(err, "wol: bad MAC address '%s'", p->mac);
		return -EINVAL;
	}
	if (inet_pton(AF_INET, p->broadcast, &sin.sin_addr) != 1) {
		ebb_err_set(err, "wol: bad broadcast address '%s'",
		    p->broadcast);
		return -EINVAL;
	}
	sin.sin_port = htons(p->port ? p->port : 9);
	ctl_wol_packet(mac, pkt);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		ebb_err_set(err, "wol: socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sin,
	    sizeof(sin)) != sizeof(pkt)) {
		rc = -errno;
		ebb_err_set(err, "wol: sendto %s: %s", p->broadcast,
		    strerror(errno));
	}
	close(fd);
	return rc;
}

int
ctl_power_start(const struct ctl_power *p, const char *name, bool on,
    pid_t *pidp, struct ebb_err *err)
{
	const char *cmd;
	pid_t pid;

	*pidp = 0;
	switch (p->kind) {
	case CTL_POWER_NONE:
		ebb_err_set(err, "%s has no power driver: the controller may "
		    "not switch it", name);
		return -EPERM;
	case CTL_POWER_WOL:
		if (on)
			return wol_send(p, err);
		if (p->off[0] == '\0') {
			ebb_err_set(err, "%s: Wake-on-LAN can only switch on; "
			    "give an off command", name);
			return -EOPNOTSUPP;
		}
		break;
	case CTL_POWER_IPMI: {
		/* execvp wants char *; the strings are copied, not cast. */
		char bmc[sizeof(p->bmc)], user[sizeof(p->user)],
		    pwf[sizeof(p->password_file)];
		/* The password comes from a file: argv is world-readable. */
		char *argv[] = { "ipmitool", "-I", "lanplus", "-H", bmc, "-U",
			user, "-f", pwf, "chassis", "power", on ? "on" : "soft",
			NULL };

		memcpy(bmc, p->bmc, sizeof(bmc));
		memcpy(user, p->user, sizeof(user));
		memcpy(pwf, p->password_file, sizeof(pwf));

		if ((pid = spawn(argv, NULL, name, err)) < 0)
			return pid;
		*pidp = pid;
		return 0;
	}
	case CTL_POWER_COMMAND:
	case CTL_POWER_DEMO:
		break;
	}
	cmd = on ? p->on : p->off;
	if (cmd[0] == '\0') {
		ebb_err_set(err, "%s: no power-%s command configured", name,
		    on ? "on" : "off");
		return -EOPNOTSUPP;
	}
	if ((pid = spawn(NULL, cmd, name, err)) < 0)
		return pid;
	*pidp = pid;
	return 0;
}
