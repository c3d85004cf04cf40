/*
 * pwr_actuate.c - cpu lists, and the affinity, cpuset and hotplug
 * actuators that apply a set of unparked cores.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "pwr_actuate.h"

/* cpu_set_t is the kernel's cpumask for up to CPU_SETSIZE cpus. */
_Static_assert(CPU_SETSIZE >= PWR_MAX_CPUS, "cpu_set_t too small");

/*
 * Puts pre before and post after the message already in err: the caller
 * knows the context (which file, what hint) the callee could not.
 */
static void
err_wrap(struct ebb_err *err, const char *pre, const char *post)
{
	struct ebb_err why;

	if (err == NULL)
		return;
	why = *err;
	ebb_err_set(err, "%s%s%s", pre, why.msg, post);
}

/* ---- cpu lists ---------------------------------------------------------- */

int
pwr_cpulist_format(const struct pwr_mask *m, char *buf, size_t len)
{
	size_t off = 0;
	int n;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (int c = 0; c < PWR_MAX_CPUS; c++) {
		int end = c;

		if (!pwr_mask_test(m, c))
			continue;
		while (end + 1 < PWR_MAX_CPUS && pwr_mask_test(m, end + 1))
			end++;
		/* As the kernel's %*pbl: "a-b" for a run, "a" alone. */
		if (end > c)
			n = snprintf(buf + off, len - off, "%s%d-%d",
			    off ? "," : "", c, end);
		else
			n = snprintf(buf + off, len - off, "%s%d",
			    off ? "," : "", c);
		if (n < 0 || (size_t)n >= len - off) {
			buf[0] = '\0';
			return -ENOSPC;
		}
		off += (size_t)n;
		c = end;
	}
	return 0;
}

/*
 * One decimal cpu number at *sp, advancing it.  Digits only (no sign, no
 * space: strtol would take both); *big is set for a number out of range.
 */
static bool
parse_cpu(const char **sp, int *cpu, bool *big)
{
	const char *s = *sp;
	long v = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (*s - '0');
		if (v >= PWR_MAX_CPUS) {
			*big = true;
			v = PWR_MAX_CPUS;	/* keep it from overflowing */
		}
	}
	*sp = s;
	*cpu = (int)v;
	return true;
}

int
pwr_cpulist_parse(const char *str, struct pwr_mask *out,
    struct ebb_err *err)
{
	struct pwr_mask m;
	const char *s = str, *end;
	bool big = false;

	pwr_mask_zero(&m);
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	while (s < end) {
		int lo, hi;

		if (!parse_cpu(&s, &lo, &big))
			goto bad;
		hi = lo;
		if (*s == '-' && (s++, !parse_cpu(&s, &hi, &big)))
			goto bad;
		if (big) {
			ebb_err_set(err, "cpu list \"%s\": cpu numbers must "
			    "be below %d", str, PWR_MAX_CPUS);
			return -ERANGE;
		}
		if (hi < lo)
			goto bad;
		pwr_mask_set_range(&m, lo, hi);
		if (s == end)
			break;
		/* A comma must be followed by another entry. */
		if (*s != ',' || ++s == end)
			goto bad;
	}
	*out = m;
	return 0;
bad:
	ebb_err_set(err, "cpu list \"%s\": bad at offset %td (want e.g. "
	    "\"0-3,8,10-11\")", str, s - str);
	return -EINVAL;
}

int
pwr_cpulist_read(const char *path, struct pwr_mask *m, struct ebb_err *err)
{
	char *buf;
	int rc;

	if ((rc = ebb_read_file(path, &buf, NULL, err)) != 0)
		return rc;
	/* Say which file; the parser's message says what in it. */
	if ((rc = pwr_cpulist_parse(buf, m, err)) != 0 && err != NULL) {
		char pre[PATH_MAX + 2];

		snprintf(pre, sizeof(pre), "%s: ", path);
		err_wrap(err, pre, "");
	}
	free(buf);
	return rc;
}

/* ---- small file helpers ------------------------------------------------- */

/*
 * Writes s to an existing file in one write(), as sysfs and cgroupfs
 * want: each write() is one command, and the kernel's verdict on it comes
 * back from write() (or close()), not from open().
 */
static int
write_str(const char *path, const char *s, struct ebb_err *err)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		return rc;
	}
	n = write(fd, s, len);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	if (rc != 0) {
		ebb_err_set(err, "%s: writing \"%s\": %s", path, s,
		    strerror(-rc));
		close(fd);
		return rc;
	}
	if (close(fd) != 0) {
		rc = -errno;
		ebb_err_set(err, "%s: writing \"%s\": %s", path, s,
		    strerror(errno));
	}
	return rc;
}

/* path = a "/" b, or -ENAMETOOLONG. */
static int
join(char *path, size_t len, const char *a, const char *b,
    struct ebb_err *err)
{
	int n = snprintf(path, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len) {
		ebb_err_set(err, "%s/%s: path too long", a, b);
		return -ENAMETOOLONG;
	}
	return 0;
}

static bool
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Whether word is one of the blank-separated words of file's text. */
static bool
has_word(const char *text, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = text; (p = strstr(p, word)) != NULL; p += wl) {
		bool start = p == text || isspace((unsigned char)p[-1]);
		bool stop = p[wl] == '\0' || isspace((unsigned char)p[wl]);

		if (start && stop)
			return true;
	}
	return false;
}

static bool
blank(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* ---- affinity ----------------------------------------------------------- */

static int
check_set(const char *what, const struct pwr_mask *m, struct ebb_err *err)
{
	if (pwr_mask_count(m) == 0) {
		ebb_err_set(err, "%s: empty cpu set", what);
		return -EINVAL;
	}
	return 0;
}

int
pwr_affinity_apply(const pid_t *tids, int ntid, const struct pwr_mask *m,
    struct ebb_err *err)
{
	cpu_set_t cs;
	char list[PWR_CPULIST_LEN];
	int rc = 0;

	if ((rc = check_set("affinity", m, err)) != 0)
		return rc;
	if (ntid < 0 || (ntid > 0 && tids == NULL)) {
		ebb_err_set(err, "affinity: %d thread ids", ntid);
		return -EINVAL;
	}
	CPU_ZERO(&cs);
	for (int c = 0; c < PWR_MAX_CPUS; c++)
		if (pwr_mask_test(m, c))
			CPU_SET(c, &cs);
	for (int i = 0; i < ntid; i++) {
		if (sched_setaffinity(tids[i], sizeof(cs), &cs) == 0 ||
		    errno == ESRCH)
			continue;
		/* Keep the first failure, but try every thread. */
		if (rc == 0) {
			rc = -errno;
			pwr_cpulist_format(m, list, sizeof(list));
			ebb_err_set(err, "affinity: thread %d to cpus %s: %s%s",
			    (int)tids[i], list, strerror(-rc),
			    rc == -EINVAL ? " (none of them online and "
			    "allowed to the thread?)" : "");
		}
	}
	return rc;
}

/* ---- cpuset cgroups ----------------------------------------------------- */

/*
 * What kind of cpuset hierarchy dir is: V2 for a cgroup2 mount offering
 * the cpuset controller, V1 for a v1 mount carrying it, else AUTO (none).
 */
static enum pwr_cgroup_version
classify(const char *dir)
{
	struct statfs sf;
	char path[PATH_MAX], *text;
	bool ok;

	if (statfs(dir, &sf) != 0)
		return PWR_CGROUP_AUTO;
	if (sf.f_type == CGROUP2_SUPER_MAGIC) {
		/*
		 * A controller bound to a v1 hierarchy (the hybrid layout)
		 * is absent from cgroup2's cgroup.controllers.
		 */
		if (join(path, sizeof(path), dir, "cgroup.controllers",
		    NULL) != 0 || ebb_read_file(path, &text, NULL, NULL) != 0)
			return PWR_CGROUP_AUTO;
		ok = has_word(text, "cpuset");
		free(text);
		return ok ? PWR_CGROUP_V2 : PWR_CGROUP_AUTO;
	}
	if (sf.f_type == CGROUP_SUPER_MAGIC) {
		/* Every v1 hierarchy is this magic; cpuset's has cpus. */
		if (join(path, sizeof(path), dir, "cpuset.cpus", NULL) == 0 &&
		    exists(path))
			return PWR_CGROUP_V1;
		if (join(path, sizeof(path), dir, "cpus", NULL) == 0 &&
		    exists(path))
			return PWR_CGROUP_V1;
	}
	return PWR_CGROUP_AUTO;
}

int
pwr_cgroup_detect(const char *root, enum pwr_cgroup_version *ver,
    char *hier, size_t len, struct ebb_err *err)
{
	static const char *const sub[] = { NULL, "cpuset", "unified" };
	char dir[PATH_MAX];
	int rc;

	for (size_t i = 0; i < EBB_NITEMS(sub); i++) {
		enum pwr_cgroup_version v;

		if (sub[i] == NULL) {
			if (strlen(root) >= sizeof(dir)) {
				ebb_err_set(err, "%s: path too long", root);
				return -ENAMETOOLONG;
			}
			strcpy(dir, root);
		} else if ((rc = join(dir, sizeof(dir), root, sub[i],
		    err)) != 0) {
			return rc;
		}
		if ((v = classify(dir)) == PWR_CGROUP_AUTO)
			continue;
		if (strlen(dir) >= len) {
			ebb_err_set(err, "%s: path too long", dir);
			return -ENAMETOOLONG;
		}
		strcpy(hier, dir);
		*ver = v;
		return 0;
	}
	ebb_err_set(err, "no cpuset cgroup hierarchy at %s, %s/cpuset or "
	    "%s/unified (neither a v1 cpuset mount nor cgroup2 offering "
	    "the cpuset controller)", root, root, root);
	return -ENODEV;
}

/* A relative path of plain names: no "", ".", ".." component, no "//". */
static bool
name_ok(const char *name)
{
	const char *p = name;

	if (*name == '\0' || *name == '/')
		return false;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && *++p == '\0')
			return false;
	}
	return true;
}

/*
 * v2: every group from the hierarchy's root down to the parent of the
 * group must list cpuset in cgroup.subtree_control for the group to have
 * cpuset files.
 */
static int
v2_enable(const char *hier, const char *name, struct ebb_err *err)
{
	char group[PATH_MAX], path[PATH_MAX], *text;
	const char *p = name;
	int rc;

	if (strlen(hier) >= sizeof(group)) {
		ebb_err_set(err, "%s: path too long", hier);
		return -ENAMETOOLONG;
	}
	strcpy(group, hier);
	for (;;) {
		size_t n = strcspn(p, "/");
		bool on;

		if ((rc = join(path, sizeof(path), group,
		    "cgroup.subtree_control", err)) != 0)
			return rc;
		if ((rc = ebb_read_file(path, &text, NULL, err)) != 0)
			return rc;
		on = has_word(text, "cpuset");
		free(text);
		if (!on && (rc = write_str(path, "+cpuset", err)) != 0) {
			err_wrap(err, "enabling the cpuset controller: ",
			    " (is it in cgroup.controllers there, and the "
			    "group free of processes of its own?)");
			return rc;
		}
		if (p[n] == '\0')
			return 0;	/* the group itself: done */
		if (strlen(group) + 1 + n >= sizeof(group)) {
			ebb_err_set(err, "%s/%s: path too long", group, p);
			return -ENAMETOOLONG;
		}
		strcat(group, "/");
		strncat(group, p, n);
		p += n + 1;
	}
}

/*
 * v1: a group's cpuset.mems starts empty and the kernel refuses tasks
 * (ENOSPC) until it is set, so give it the parent's memory nodes.
 */
static int
v1_fill_mems(const struct pwr_cgroup *cg, struct ebb_err *err)
{
	char path[PATH_MAX], ppath[PATH_MAX], file[64], *mems, *pmems;
	char parent[PATH_MAX], *slash;
	int rc;

	snprintf(file, sizeof(file), "%smems", cg->prefix);
	if ((rc = join(path, sizeof(path), cg->dir, file, err)) != 0)
		return rc;
	if ((rc = ebb_read_file(path, &mems, NULL, err)) != 0)
		return rc;
	if (!blank(mems)) {
		free(mems);
		return 0;
	}
	free(mems);
	strcpy(parent, cg->dir);
	if ((slash = strrchr(parent, '/')) != NULL)
		*slash = '\0';
	if ((rc = join(ppath, sizeof(ppath), parent, file, err)) != 0)
		return rc;
	if ((rc = ebb_read_file(ppath, &pmems, NULL, err)) != 0)
		return rc;
	/* The kernel ends it with a newline, which a write may carry. */
	pmems[strcspn(pmems, "\n")] = '\0';
	if (blank(pmems)) {
		ebb_err_set(err, "%s: empty, so %s cannot be filled", ppath,
		    path);
		free(pmems);
		return -ENOSPC;
	}
	rc = write_str(path, pmems, err);
	free(pmems);
	return rc;
}

int
pwr_cgroup_open(struct pwr_cgroup *cg, const char *root, const char *name,
    enum pwr_cgroup_version ver, bool create, struct ebb_err *err)
{
	char hier[PATH_MAX], path[PATH_MAX];
	int rc;

	memset(cg, 0, sizeof(*cg));
	if (!name_ok(name)) {
		ebb_err_set(err, "cgroup name \"%s\": want a relative path "
		    "of plain names, e.g. \"ebb\" or \"machine.slice/ebb\"",
		    name);
		return -EINVAL;
	}
	if (ver == PWR_CGROUP_AUTO) {
		if ((rc = pwr_cgroup_detect(root, &ver, hier, sizeof(hier),
		    err)) != 0)
			return rc;
	} else if (snprintf(hier, sizeof(hier), "%s", root) >=
	    (int)sizeof(hier)) {
		ebb_err_set(err, "%s: path too long", root);
		return -ENAMETOOLONG;
	}
	cg->version = ver;
	cg->prefix = "cpuset.";
	if (ver == PWR_CGROUP_V1) {
		/* Mounted with -o noprefix, the files are cpus and mems. */
		if ((rc = join(path, sizeof(path), hier, "cpus", err)) != 0)
			return rc;
		if (exists(path))
			cg->prefix = "";
	}
	if ((rc = join(cg->dir, sizeof(cg->dir), hier, name, err)) != 0)
		return rc;

	if (create) {
		if (ver == PWR_CGROUP_V2 &&
		    (rc = v2_enable(hier, name, err)) != 0)
			return rc;
		if (mkdir(cg->dir, 0755) != 0 && errno != EEXIST) {
			rc = -errno;
			ebb_err_set(err, "%s: %s", cg->dir, strerror(errno));
			return rc;
		}
		if (ver == PWR_CGROUP_V1 && (rc = v1_fill_mems(cg, err)) != 0)
			return rc;
	}

	/* Without cpus the group is not one we can confine anything with. */
	snprintf(hier, sizeof(hier), "%scpus", cg->prefix);
	if ((rc = join(path, sizeof(path), cg->dir, hier, err)) != 0)
		return rc;
	if (!exists(path)) {
		rc = exists(cg->dir) ? -ENODEV : -ENOENT;
		ebb_err_set(err, "%s: %s", path, rc == -ENOENT ?
		    "no such cgroup" : "no cpuset files (is the controller "
		    "enabled in the parent's cgroup.subtree_control?)");
		return rc;
	}
	return 0;
}

int
pwr_cgroup_set_cpus(const struct pwr_cgroup *cg, const struct pwr_mask *m,
    struct ebb_err *err)
{
	char path[PATH_MAX], file[64], list[PWR_CPULIST_LEN];
	int rc;

	if ((rc = check_set("cpuset", m, err)) != 0)
		return rc;
	snprintf(file, sizeof(file), "%scpus", cg->prefix);
	if ((rc = join(path, sizeof(path), cg->dir, file, err)) != 0)
		return rc;
	pwr_cpulist_format(m, list, sizeof(list));
	rc = write_str(path, list, err);
	if (rc == -ERANGE)
		err_wrap(err, "", " (cpus beyond the kernel's nr_cpu_ids)");
	else if (rc == -EINVAL && cg->version == PWR_CGROUP_V1)
		err_wrap(err, "", " (v1 wants the cpus inside the parent's "
		    "and online)");
	return rc;
}

int
pwr_cgroup_attach(const struct pwr_cgroup *cg, pid_t pid,
    struct ebb_err *err)
{
	char path[PATH_MAX], num[24];
	int rc;

	if ((rc = join(path, sizeof(path), cg->dir, "cgroup.procs", err)) != 0)
		return rc;
	snprintf(num, sizeof(num), "%d", (int)pid);
	if ((rc = write_str(path, num, err)) == -ENOSPC)
		err_wrap(err, "", " (the group's cpus or mems are empty)");
	return rc;
}

int
pwr_cgroup_remove(const struct pwr_cgroup *cg, struct ebb_err *err)
{
	int rc;

	if (rmdir(cg->dir) == 0)
		return 0;
	rc = -errno;
	ebb_err_set(err, "%s: %s%s", cg->dir, strerror(errno),
	    errno == EBUSY ? " (it still has tasks or groups)" : "");
	return rc;
}

/* ---- hotplug ------------------------------------------------------------ */

int
pwr_hotplug_apply(const char *root, const struct pwr_mask *m,
    struct ebb_err *err)
{
	struct pwr_mask present, now;
	char path[PATH_MAX], file[32], *text;
	int rc;

	if (root == NULL)
		root = PWR_SYSFS_CPU;
	if ((rc = check_set("hotplug", m, err)) != 0)
		return rc;
	if (!pwr_mask_test(m, 0)) {
		ebb_err_set(err, "hotplug: cpu0 must stay online");
		return -EINVAL;
	}
	if ((rc = join(path, sizeof(path), root, "present", err)) != 0 ||
	    (rc = pwr_cpulist_read(path, &present, err)) != 0)
		return rc;

	/*
	 * Read every state first and check the whole request, so that a
	 * refused request changes nothing.  Reading also spares a write
	 * where the cpu already is as wanted: each write takes the kernel's
	 * cpu hotplug lock, and this runs every interval.
	 */
	pwr_mask_zero(&now);
	for (int c = 0; c < PWR_MAX_CPUS; c++) {
		if (pwr_mask_test(m, c) && !pwr_mask_test(&present, c)) {
			ebb_err_set(err, "hotplug: cpu%d is not present in "
			    "%s/present", c, root);
			return -EINVAL;
		}
		if (!pwr_mask_test(&present, c))
			continue;
		if (c == 0) {		/* never touched: counts as online */
			pwr_mask_set(&now, c);
			continue;
		}
		snprintf(file, sizeof(file), "cpu%d/online", c);
		if ((rc = join(path, sizeof(path), root, file, err)) != 0)
			return rc;
		if (!exists(path)) {
			/* No online file: the cpu cannot be unplugged. */
			if (!pwr_mask_test(m, c)) {
				ebb_err_set(err, "hotplug: %s: missing, cpu%d "
				    "cannot go offline", path, c);
				return -EOPNOTSUPP;
			}
			pwr_mask_set(&now, c);
			continue;
		}
		if ((rc = ebb_read_file(path, &text, NULL, err)) != 0)
			return rc;
		if (text[0] == '1')
			pwr_mask_set(&now, c);
		free(text);
	}

	/*
	 * Online first, then offline: a change from {0,1} to {0,2} passes
	 * through {0,1,2}, never through {0}, so the load of the moment
	 * always has at least the cores of both sets.
	 */
	for (int pass = 1; pass >= 0; pass--) {
		for (int c = 1; c < PWR_MAX_CPUS; c++) {
			bool want = pwr_mask_test(m, c);

			if (!pwr_mask_test(&present, c) || want != pass ||
			    pwr_mask_test(&now, c) == want)
				continue;
			snprintf(file, sizeof(file), "cpu%d/online", c);
			if ((rc = join(path, sizeof(path), root, file,
			    err)) != 0 ||
			    (rc = write_str(path, want ? "1" : "0", err)) != 0)
				return rc;
		}
	}
	return 0;
}

/* ---- choosing one ------------------------------------------------------- */

static const char *const act_names[] = {
	[PWR_ACT_AFFINITY] = "affinity",
	[PWR_ACT_CPUSET] = "cpuset",
	[PWR_ACT_HOTPLUG] = "hotplug",
};

const char *
pwr_act_name(enum pwr_act_kind k)
{
	if ((size_t)k >= EBB_NITEMS(act_names))
		return "?";
	return act_names[k];
}

int
pwr_act_parse(const char *s, enum pwr_act_kind *k)
{
	for (size_t i = 0; i < EBB_NITEMS(act_names); i++) {
		if (strcmp(s, act_names[i]) == 0) {
			*k = (enum pwr_act_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

int
pwr_act_apply(const struct pwr_act *a, const struct pwr_mask *m,
    struct ebb_err *err)
{
	switch (a->kind) {
	case PWR_ACT_AFFINITY:
		return pwr_affinity_apply(a->tids, a->ntid, m, err);
	case PWR_ACT_CPUSET:
		if (a->cg == NULL) {
			ebb_err_set(err, "cpuset: no cgroup opened");
			return -EINVAL;
		}
		return pwr_cgroup_set_cpus(a->cg, m, err);
	case PWR_ACT_HOTPLUG:
		return pwr_hotplug_apply(a->sysfs, m, err);
	}
	ebb_err_set(err, "actuator kind %d unknown", (int)a->kind);
	return -EINVAL;
}
