/*
 * pwr_actuate.h - applying a set of unparked cores (pwr_park.h) to a host.
 *
 * Three actuators, one per way of confining work to cores:
 *
 *  affinity  sched_setaffinity() on the VMM's vCPU threads, which the
 *            hypervisor driver lists.  The default: needs nothing but the
 *            right to change those threads (same user, or CAP_SYS_NICE).
 *  cpuset    the cpus of a cgroup the VMs run in, cgroup v1 or v2.  The
 *            kernel then keeps every thread of the group, present and
 *            future, on the set.
 *  hotplug   cpuN/online = 0 for the parked cores.  Bare metal only: it
 *            moves every thread and interrupt off the core and costs
 *            milliseconds per core; in a VM it unplugs virtual cpus.
 *
 * All return 0 or a negative errno with the reason in the caller's
 * struct ebb_err.  None accepts an empty set (-EINVAL): an empty cpuset
 * means "the parent's cpus" in v2 and "no task may run" in v1, neither of
 * which is parking, and an empty set from the decision is a bug upstream.
 */
#ifndef PWR_ACTUATE_H
#define PWR_ACTUATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ebb.h"
#include "pwr_park.h"

/* ---- cpu lists ---------------------------------------------------------- */

/*
 * A buffer this long holds the list of any struct pwr_mask, with its NUL
 * (the longest, pairs one cpu apart: "0-1,3-4,...", is 2673 characters).
 */
#define PWR_CPULIST_LEN	4096

/*
 * Formats a mask as the kernel prints one (cpuset.cpus, .../cpu/online):
 * ascending, runs of two or more as "a-b", comma separated, e.g.
 * "0-3,8,10-11"; the empty mask is "".  No newline.  0, or -ENOSPC if
 * buf (len bytes with the NUL) is too small, buf then holding "".
 */
int	pwr_cpulist_format(const struct pwr_mask *, char *buf, size_t len);

/*
 * Parses a kernel cpu list ("0-3,8,10-11"; "" or only whitespace is the
 * empty set; leading and trailing whitespace, such as the newline the
 * kernel ends a file with, is ignored).  Strict otherwise: -EINVAL for
 * anything else (",", "3-1", "1-", "a", "0 1", the "0-7:2/4" stride form
 * which the kernel accepts but never prints), -ERANGE for a cpu number of
 * PWR_MAX_CPUS or more.  The mask is written only on success.
 */
int	pwr_cpulist_parse(const char *, struct pwr_mask *, struct ebb_err *);

/* Reads and parses a cpu list file, e.g. /sys/devices/system/cpu/online. */
int	pwr_cpulist_read(const char *path, struct pwr_mask *,
	    struct ebb_err *);

/* ---- affinity ----------------------------------------------------------- */

/*
 * Sets the cpu affinity of each thread id in tids[0 .. ntid - 1] to the
 * set.  A thread that has exited (ESRCH) is skipped: vCPU threads come
 * and go with their VMs, and the next apply has the new list.  Any other
 * failure (EINVAL: no cpu of the set is allowed to the thread, e.g. all
 * offline or outside its cpuset; EPERM) is reported, after trying every
 * other thread, so that one bad thread does not leave the rest unparked.
 */
int	pwr_affinity_apply(const pid_t *tids, int ntid,
	    const struct pwr_mask *, struct ebb_err *);

/* ---- cpuset cgroups ----------------------------------------------------- */

enum pwr_cgroup_version {
	PWR_CGROUP_AUTO,	/* find out from the mount (pwr_cgroup_open) */
	PWR_CGROUP_V1,
	PWR_CGROUP_V2,
};

/* An opened cpuset cgroup; plain data, nothing to close. */
struct pwr_cgroup {
	enum pwr_cgroup_version version;	/* V1 or V2 */
	char	 dir[PATH_MAX];	/* the group's directory */
	const char *prefix;	/* "cpuset." or, v1 mounted noprefix, "" */
};

/*
 * Which cpuset hierarchy root holds, and where: root itself if it is a
 * cgroup2 mount (statfs CGROUP2_SUPER_MAGIC) whose cgroup.controllers
 * lists cpuset, or a v1 mount (CGROUP_SUPER_MAGIC) with the cpuset
 * controller; else root/cpuset, then root/unified (the hybrid layout of
 * /sys/fs/cgroup).  Writes the version and the hierarchy's directory.
 * -ENODEV if none is found, -ENAMETOOLONG.
 */
int	pwr_cgroup_detect(const char *root, enum pwr_cgroup_version *,
	    char *hier, size_t len, struct ebb_err *);

/*
 * Opens the cpuset cgroup `name` (a path relative to the hierarchy, e.g.
 * "ebb" or "machine.slice/ebb") under root.  With PWR_CGROUP_AUTO, root
 * is searched as pwr_cgroup_detect() does; with V1 or V2 root is taken as
 * that hierarchy's directory without looking at the mount (a test's
 * fixture tree, or a mount statfs cannot see).
 *
 * With create, the last component of name is made if missing (its parent
 * must exist), and the group is readied for tasks as each version wants:
 *  v1: a new group has empty cpuset.cpus and cpuset.mems, and the kernel
 *      refuses tasks (ENOSPC) until both are set: if mems is empty it is
 *      copied from the parent's here; cpus come with pwr_cgroup_set_cpus.
 *  v2: the cpuset files exist in a child only when the parent enables the
 *      controller: "+cpuset" is written to the cgroup.subtree_control of
 *      every group from the hierarchy's root down to the parent that does
 *      not list it yet (the kernel refuses, EBUSY, for a non-root group
 *      that has processes of its own: the "no internal processes" rule).
 */
int	pwr_cgroup_open(struct pwr_cgroup *, const char *root,
	    const char *name, enum pwr_cgroup_version, bool create,
	    struct ebb_err *);

/*
 * Writes the set to the group's cpuset.cpus.  v1 needs it inside the
 * parent's cpus (EINVAL otherwise) and moves the group's tasks at once;
 * v2 takes any set and uses its intersection with the parent's effective
 * cpus.
 */
int	pwr_cgroup_set_cpus(const struct pwr_cgroup *, const struct pwr_mask *,
	    struct ebb_err *);

/* Moves process pid (all its threads) into the group via cgroup.procs. */
int	pwr_cgroup_attach(const struct pwr_cgroup *, pid_t pid,
	    struct ebb_err *);

/* Removes the group's directory; the kernel wants it empty (EBUSY). */
int	pwr_cgroup_remove(const struct pwr_cgroup *, struct ebb_err *);

/* ---- hotplug ------------------------------------------------------------ */

/* Where the kernel lists the cpus; tests pass a fixture tree instead. */
#define PWR_SYSFS_CPU	"/sys/devices/system/cpu"

/*
 * Brings online exactly the set among the cpus in root/present (root NULL:
 * PWR_SYSFS_CPU): writes "1" then "0" to root/cpuN/online where the file
 * says otherwise, bringing cores online before taking any offline, so the
 * host never has fewer cores than either set.  cpu0 is never written.
 * -EINVAL if the set lacks cpu0 or holds a cpu that is not present,
 * -EOPNOTSUPP if a cpu to park has no online file (not hot-pluggable).
 */
int	pwr_hotplug_apply(const char *root, const struct pwr_mask *,
	    struct ebb_err *);

/* ---- choosing one ------------------------------------------------------- */

enum pwr_act_kind {
	PWR_ACT_AFFINITY,	/* the default */
	PWR_ACT_CPUSET,
	PWR_ACT_HOTPLUG,
};

/* "affinity", "cpuset", "hotplug"; parse gives -EINVAL for other names. */
const char *pwr_act_name(enum pwr_act_kind);
int	pwr_act_parse(const char *, enum pwr_act_kind *);

/* One configured actuator; the caller owns what the pointers point to. */
struct pwr_act {
	enum pwr_act_kind kind;
	const pid_t	*tids;	/* affinity: the vCPU threads ... */
	int		 ntid;	/* ... and how many */
	const struct pwr_cgroup *cg; /* cpuset: an opened group */
	const char	*sysfs;	/* hotplug: NULL = PWR_SYSFS_CPU */
};

/* Applies the set with the actuator's kind. */
int	pwr_act_apply(const struct pwr_act *, const struct pwr_mask *,
	    struct ebb_err *);

#endif /* PWR_ACTUATE_H */
