/*
 * ctl_power.h - host power drivers: how the controller switches a host on
 * and off, and asks whether it is on.
 *
 *  ipmi     ipmitool -I lanplus -H BMC -U USER -f PASSFILE chassis power
 *           on|soft|status
 *  wol      a Wake-on-LAN magic packet (on only; off goes through the
 *           agent's shutdown command or a `command` off)
 *  command  operator commands, run through /bin/sh with EBB_HOST set
 *  demo     a fleet in a box: "on" and "off" are commands that start and
 *           stop the host's agent (its network namespace stays)
 *
 * A driver call only starts the action and says whether it was accepted;
 * the controller learns that a host is on when its agent says hello, and
 * marks it failed when that does not happen within the boot timeout.
 */
#ifndef CTL_POWER_H
#define CTL_POWER_H

#include <sys/types.h>

#include <stdbool.h>

#include "ebb.h"

enum ctl_power_kind {
	CTL_POWER_NONE,		/* the controller may not switch this host */
	CTL_POWER_IPMI,
	CTL_POWER_WOL,
	CTL_POWER_COMMAND,
	CTL_POWER_DEMO,
};

#define CTL_CMD_MAX	1024
/* A power command that has not finished in this long has failed. */
#define CTL_POWER_TIMEOUT_S	60

struct ctl_power {
	enum ctl_power_kind kind;
	char	on[CTL_CMD_MAX];	/* command / demo */
	char	off[CTL_CMD_MAX];	/* command / demo */
	char	status[CTL_CMD_MAX];	/* command: exit 0 = on (optional) */
	char	bmc[256];		/* ipmi */
	char	user[64];		/* ipmi */
	char	password_file[256];	/* ipmi: never on a command line */
	char	mac[18];		/* wol: aa:bb:cc:dd:ee:ff */
	char	broadcast[64];		/* wol: where to send it */
	int	port;			/* wol: 9 by default */
};

const char *ctl_power_kind_name(enum ctl_power_kind);
int	ctl_power_kind_parse(const char *, enum ctl_power_kind *);

/*
 * Starts switching host `name` on or off.  Returns 0 when the driver took
 * the request: *pid is then the process carrying it out (the caller reaps
 * it and passes its wait status to ctl_power_status), or 0 when it is
 * already done (a Wake-on-LAN packet was sent).  -errno with err otherwise.
 * Never blocks: the controller's loop must not wait on a BMC.
 */
int	ctl_power_start(const struct ctl_power *, const char *name, bool on,
	    pid_t *pid, struct ebb_err *);
/* 0 for a command that exited 0, else -EIO with err saying how it ended. */
int	ctl_power_status(int wait_status, struct ebb_err *);
/* Waits for a started command, killing it after timeout_s (tests, CLI). */
int	ctl_power_wait(pid_t, int timeout_s, struct ebb_err *);

/* Parses a MAC address "aa:bb:cc:dd:ee:ff"; 0 or -EINVAL. */
int	ctl_mac_parse(const char *, unsigned char mac[6]);
/* Builds the 102-byte Wake-on-LAN magic packet. */
void	ctl_wol_packet(const unsigned char mac[6], unsigned char pkt[102]);

#endif /* CTL_POWER_H */
