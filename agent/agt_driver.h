/*
 * agt_driver.h - the hypervisor driver interface of ebb-agent.
 *
 * The agent runs VMs through one driver per host: ebb-vmm (our own VMM, one
 * process per VM) or libvirt (QEMU/KVM hosts as operators already run them).
 * The agent never blocks on a driver for long: listing and pinning are quick
 * calls made from the event loop, a migration is started and then runs on
 * the driver's own thread, and the driver signals its event fd when a
 * migration ended or a VM appeared, vanished or changed state.  The agent
 * then drains agt_drv_next_event() and reports at once.
 *
 * Errors are -errno with the driver's own words kept in struct ebb_err:
 * -ENOENT no such VM, -EEXIST already running, -EINVAL not running (or a
 * bad argument), -ENOTSUP the driver (or its URI) cannot do it, -EBUSY a
 * job (a migration) is running,
 * -ECONNREFUSED/-EHOSTUNREACH the hypervisor or the peer is away, -EIO
 * anything else.
 *
 * The contract every driver passes is tests/unit/test_driver_contract.c.
 */
#ifndef AGT_DRIVER_H
#define AGT_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ebb.h"
#include "pwr_actuate.h"

#define AGT_VM_ID_MAX		64	/* bytes of an id, without the NUL */
#define AGT_VM_VCPUS_MAX	64	/* per-vCPU times reported */

enum agt_vm_state {
	AGT_VM_RUNNING,
	AGT_VM_PAUSED,		/* paused by an operator or a migration */
	AGT_VM_SHUTOFF,		/* defined, not running */
	AGT_VM_CRASHED,
	AGT_VM_OTHER,
};

/* One VM as the driver sees it at one instant. */
struct agt_vm_info {
	char		 id[AGT_VM_ID_MAX + 1];
	enum agt_vm_state state;
	bool		 migrating;	/* an outgoing migration is running */
	int		 vcpus;
	uint64_t	 mem_kb;	/* current (balloon) size */
	uint64_t	 mem_max_kb;
	uint64_t	 cpu_ns;	/* cumulative CPU time, all threads */
	int		 nvcpu_ns;	/* <= AGT_VM_VCPUS_MAX */
	uint64_t	 vcpu_ns[AGT_VM_VCPUS_MAX];
};

/* What the controller asks: move `vm` to the host described by peer/addr. */
struct agt_mig_req {
	const char	*vm;
	const char	*peer;		/* the target's hypervisor address as it
					   advertised it (libvirt: a URI) */
	const char	*addr;		/* migration data address, tcp://H:P,
					   or NULL for the driver's choice */
	const char	*token;		/* per-migration secret, or NULL */
	double		 downtime_ms;	/* 0 = driver default */
	uint64_t	 bandwidth_mib;	/* MiB/s, 0 = unlimited */
	bool		 auto_converge;
};

/* A migration's progress; fields a driver cannot tell are 0. */
struct agt_mig_progress {
	double		 elapsed_s;
	uint64_t	 data_total;	/* bytes */
	uint64_t	 data_done;
	uint64_t	 data_remaining;
	uint64_t	 mem_dirty_rate;	/* pages/s */
	uint64_t	 iteration;
	double		 downtime_ms;	/* measured, when finished */
};

enum agt_drv_event_kind {
	AGT_DRV_CHANGED,	/* VM set or a VM's state changed: report;
				   vm "" = anything may have changed (the
				   hypervisor connection was lost or back) */
	AGT_DRV_MIG_DONE,	/* an outgoing migration ended */
};

struct agt_drv_event {
	enum agt_drv_event_kind	 kind;
	char			 vm[AGT_VM_ID_MAX + 1];
	bool			 ok;		/* MIG_DONE: the target runs it */
	char			 error[256];	/* MIG_DONE and !ok: why */
	struct agt_mig_progress	 stats;		/* MIG_DONE: final figures */
};

struct agt_driver;

struct agt_driver_ops {
	const char *name;
	/* conf is the "hypervisor" config object; it is not kept. */
	int	(*open)(struct agt_driver **, const json_t *conf,
		    struct ebb_err *);
	void	(*close)(struct agt_driver *);
	/* How a peer reaches this host's hypervisor: {"peer":…,"addr":…}. */
	json_t	*(*describe)(struct agt_driver *);
	/* Readable when events wait; -1 if the driver has none. */
	int	(*event_fd)(struct agt_driver *);
	/* 1 with ev filled, 0 when no event is left, -errno. */
	int	(*next_event)(struct agt_driver *, struct agt_drv_event *ev);
	/* All VMs, into an array the caller frees. */
	int	(*list)(struct agt_driver *, struct agt_vm_info **vms, int *n,
		    struct ebb_err *);
	int	(*start)(struct agt_driver *, const char *vm, struct ebb_err *);
	int	(*stop)(struct agt_driver *, const char *vm, bool force,
		    struct ebb_err *);
	/* Confines every vCPU and emulator thread of a running VM to cpus. */
	int	(*pin)(struct agt_driver *, const char *vm,
		    const struct pwr_mask *cpus, struct ebb_err *);
	/* Starts an outgoing migration; its end arrives as AGT_DRV_MIG_DONE. */
	int	(*migrate)(struct agt_driver *, const struct agt_mig_req *,
		    struct ebb_err *);
	int	(*migrate_progress)(struct agt_driver *, const char *vm,
		    struct agt_mig_progress *, struct ebb_err *);
	int	(*migrate_abort)(struct agt_driver *, const char *vm,
		    struct ebb_err *);
};

/* Every driver begins with this, so the agent can reach its ops. */
struct agt_driver {
	const struct agt_driver_ops *ops;
};

/*
 * Loads the driver module for `name` ("libvirt"), see agt_driver.c; NULL
 * with err saying which files were looked for, or why one did not load.
 */
const struct agt_driver_ops *agt_driver_load(const char *name,
	    struct ebb_err *);
/* The driver names there are, comma separated, for error messages. */
const char *agt_driver_names(void);
const char *agt_vm_state_name(enum agt_vm_state);

#endif /* AGT_DRIVER_H */
