/*
 * agt_vms.h - the agent's view of its VMs, kept through the hypervisor
 * driver: per-VM utilization from CPU time deltas, vCPU confinement to the
 * unparked cores, and the VM commands of the controller (start, stop,
 * migrate, abort), whose results wait for the driver when they take time.
 */
#ifndef AGT_VMS_H
#define AGT_VMS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agt_driver.h"

struct agt;

struct agt_vm {
	struct agt_vm_info info;
	bool		 seen;		/* in the last listing */
	bool		 have_util;	/* two samples known */
	double		 util;		/* of its vCPUs, 0..1 */
	double		 vcpu_util[AGT_VM_VCPUS_MAX];
	double		 sampled_at;	/* monotonic s of info's CPU times */
	bool		 pinned;	/* confined to the current mask */

	/* An outgoing migration the controller asked for. */
	bool		 mig;
	json_t		*mig_cmd;	/* the command's "cmd", for the result */
	double		 mig_started;	/* monotonic s */
	struct agt_mig_progress mig_progress;
};

struct agt_vms {
	struct agt_driver *drv;		/* NULL: no hypervisor driver */
	int		   efd;		/* driver's event fd, or -1 */
	json_t		  *describe;	/* how peers reach us, for hello */
	struct agt_vm	  *vm;
	int		   n, cap;
	bool		   list_broken;	/* the last listing failed: logged */
	bool		   pin_broken;	/* pinning failed: logged once */
	uint64_t	   migrations_out, migrations_failed;
};

/* Opens the configured driver; 0 with no driver when it is "none". */
int	agt_vms_open(struct agt *, struct ebb_err *);
void	agt_vms_close(struct agt *);
/* The driver's event fd became readable. */
void	agt_vms_event(struct agt *);
/* Lists the VMs and updates their utilization (every sampling tick). */
void	agt_vms_sample(struct agt *);
/* The unparked set changed: confine every running VM to it. */
void	agt_vms_repin(struct agt *);
/* The host's busy fraction its VMs' CPU time makes, 0..1. */
double	agt_vms_busy(const struct agt *);
/* The "vms" array of hello and report messages. */
json_t	*agt_vms_json(const struct agt *);
/*
 * The controller connection dropped: results owed on it are void (they
 * were numbered on that connection); migrations go on, and reports tell
 * the controller how they ended.
 */
void	agt_vms_conn_lost(struct agt *);
/* Handles a VM command; false if op is not a VM command. */
bool	agt_vms_command(struct agt *, const char *op, json_t *msg,
	    json_t *cmd);

#endif /* AGT_VMS_H */
