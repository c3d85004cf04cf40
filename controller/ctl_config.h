/*
 * ctl_config.h - ebb-controller's configuration (JSON; see
 * examples/controller.json and `ebb-controller --check-config`).
 */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "ctl_power.h"
#include "ebb.h"
#include "ebb_bus.h"
#include "ebb_net.h"
#include "ebb_tls.h"
#include "ebb_wire.h"
#include "pol_fleet.h"

#define CTL_HOSTS_MAX	100000

/* What a hello from a host that "hosts" does not list does. */
enum ctl_unlisted {
	CTL_UNLISTED_ACCEPT,	/* adds the host: the fleet is discovered */
	CTL_UNLISTED_REFUSE,	/* an error, and the connection closed */
};

/* What the operator says about one host. */
struct ctl_host_conf {
	char		name[EBB_HOST_MAX + 1];
	double		pe_mips;	/* MIPS of one core (for VM demand) */
	struct pol_power_curve power_w;	/* watts at 0, 10, ..., 100 % */
	bool		reserve;	/* keep on even when empty */
	bool		maintenance;	/* no placement, no power action */
	struct ctl_power power;		/* how to switch it */
};

struct ctl_config {
	/*
	 * How agents reach the controller: tcp (the default: "listen",
	 * "tls") or kafka (docs/bus.md).  On kafka every controller has a
	 * name of its own, and the one holding the lease acts; the others
	 * stand by (docs/architecture.md, "Standby controllers").
	 */
	struct ebb_bus_config bus;
	char		name[EBB_HOST_MAX + 1];	/* "" = the machine's name */
	bool		standby;	/* kafka: leave a free lease to others
					   for a while at start */
	double		lease_s;	/* kafka: how long a lease holds */
	char		listen[EBB_ADDR_MAX];	/* agents */
	struct ebb_tls_conf tls;		/* for agents; ca "" = none */
	bool		insecure_plaintext;	/* no TLS, by name */
	char		http[EBB_ADDR_MAX];	/* API, "" = off */
	char		token_file[PATH_MAX];	/* API token for writes */
	char		policy[PATH_MAX];	/* "" = built-in */
	char		journal[PATH_MAX];
	double		interval_s;		/* control loop period */
	double		unknown_after_s;	/* silent agent -> unknown */
	double		boot_timeout_s;		/* powering-on -> failed */
	bool		dry_run;		/* decide and journal, never act */
	int		min_hosts_on;
	/* Hours of the day (local time, 0..24) in which power actions may
	 * run; start == end means always. */
	double		window_start;
	double		window_end;
	int		mig_total;		/* concurrent migrations */
	int		mig_per_host;
	double		vm_cooldown_s;		/* between moves of one VM */
	double		host_cooldown_s;	/* between power cycles */
	struct pol_power_curve default_power_w;	/* hosts not listed */
	double		default_pe_mips;
	int		nhosts;
	struct ctl_host_conf *hosts;
	/* Absent from the file: refuse when hosts are listed, else accept. */
	enum ctl_unlisted unlisted_hosts;
};

void	ctl_config_defaults(struct ctl_config *);
void	ctl_config_free(struct ctl_config *);
/* 0, or -EINVAL with err naming the file and key. */
int	ctl_config_parse(const char *text, const char *file,
	    struct ctl_config *, struct ebb_err *);
/*
 * Agents connect over TLS, or over plain TCP only when
 * "insecure_plaintext" says so.  0, or -EINVAL with err saying how to fix
 * it; `file` names the configuration.
 */
int	ctl_config_check_tls(const struct ctl_config *, const char *file,
	    struct ebb_err *);
/* Whether power actions may run at local time `hour` (0..24). */
bool	ctl_config_in_window(const struct ctl_config *, double hour);

#endif /* CTL_CONFIG_H */
