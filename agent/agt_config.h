/*
 * agt_config.h - ebb-agent's configuration (a JSON file, see
 * examples/agent.json and `ebb-agent --check-config`).
 */
#ifndef AGT_CONFIG_H
#define AGT_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "ebb.h"
#include "ebb_bus.h"
#include "ebb_net.h"
#include "ebb_tls.h"
#include "ebb_wire.h"
#include "pol_fleet.h"
#include "pwr_park.h"

enum agt_actuator {
	AGT_ACT_NONE,
	AGT_ACT_AFFINITY,	/* vCPU threads' affinity (default) */
	AGT_ACT_CPUSET,		/* a cgroup's cpuset (v1 or v2) */
	AGT_ACT_HOTPLUG,	/* cpuN/online (bare metal) */
};

struct agt_config {
	char		host[EBB_HOST_MAX + 1];
	char		controller[EBB_ADDR_MAX];	/* "" = standalone */
	struct ebb_tls_conf tls;		/* to the controller; ca ""
						   = none */
	bool		insecure_plaintext;	/* no TLS, by name */
	/*
	 * How messages reach the controller: tcp (the default: "controller",
	 * "tls") or kafka (docs/bus.md).  On kafka a command is refused when
	 * its "ts" is older than command_max_age_s, or when its term and seq
	 * do not go past the last command applied.
	 */
	struct ebb_bus_config bus;
	double		command_max_age_s;
	double		interval_s;
	double		reconnect_max_s;
	char		state_dir[PATH_MAX];
	char		metrics_listen[EBB_ADDR_MAX];	/* "" = off */
	bool		cpu_from_vms;	/* host busy = its VMs' CPU time */

	char		hypervisor[32];		/* "libvirt" | "ebb-vmm" | "none" */
	char		hypervisor_conf[4096];	/* the section, JSON, for
						   the driver's open() */
	char		vmm_path[PATH_MAX];

	bool		park_enabled;
	enum agt_actuator actuator;
	char		cpuset_path[PATH_MAX];	/* cgroup name under the
					   cpuset hierarchy, e.g. "ebb" */
	bool		lower_max_freq;		/* on parked cores */
	struct pwr_park_params park;

	char		power_driver[32];	/* reported in hello */
	bool		has_power_model;
	struct pol_power_curve power_model;	/* watts estimate */
};

/* Built-in defaults: standalone, 5 s, affinity parking, no hypervisor. */
void	agt_config_defaults(struct agt_config *);
/*
 * Parses a configuration text; `file` names it in messages.  0, or
 * -EINVAL with err saying where and what ("FILE: parking.headroom: ...").
 */
int	agt_config_parse(const char *text, const char *file,
	    struct agt_config *, struct ebb_err *);
/*
 * An agent with a controller talks TLS to it, or plain TCP only when
 * "insecure_plaintext" says so (on the kafka bus the brokers' TLS is set
 * in bus.properties, and there is nothing to check here).  0, or -EINVAL with err saying how to fix
 * it; `file` names the configuration.
 */
int	agt_config_check_tls(const struct agt_config *, const char *file,
	    struct ebb_err *);
const char *agt_actuator_name(enum agt_actuator);

#endif /* AGT_CONFIG_H */
