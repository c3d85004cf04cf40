/*
 * test_driver_contract.c - the contract of agt_driver.h, which every
 * hypervisor driver of ebb-agent keeps, run against each driver in duts[].
 *
 * A driver under test brings a harness: a fixture with three known VMs
 * (two running with 2 vCPUs each, one defined and shut off), a config
 * that reaches it, one that reaches nothing, bad configs with the key each
 * must name, migrations that must fail, and its own words for "no such
 * VM" that must survive into the message.  libvirt runs against its test
 * driver (test:///DIR/node.xml, written here), whose state lives in this
 * process and is new for every open.
 *
 * Checked: bad configs fail with the key named and no driver; an
 * unreachable hypervisor fails with -ECONNREFUSED (or -EHOSTUNREACH) and
 * a message; describe; list gives the known VMs with sane fields and
 * stable ids, CPU times that do not go back; stop and start change state
 * and each raises AGT_DRV_CHANGED for that VM on the event fd, and
 * nothing stirs at rest; pin takes a mask, refuses an empty one, and an
 * unknown VM is -ENOENT in the driver's words; a migration that cannot
 * be done fails cleanly, either at once with no event after or with
 * exactly one AGT_DRV_MIG_DONE that is not ok; abort and progress with no
 * job fail cleanly; two drivers open at once keep their events apart and
 * close in either order; close with events unread frees them (ASan).
 *
 * And, where the harness can run a daemon of its own (libvirt: a session
 * libvirtd, as nobody when root), that the driver outlives it: the daemon
 * stops and starts again under an open driver.
 *
 * Not here: a real migration (two libvirtd in network namespaces, in
 * tests/libvirt/), and -EBUSY for a second migration of one VM (the test
 * driver refuses migrations at once, so none is ever in flight).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agt_driver.h"
#include "ebb.h"
#include "ebb_log.h"
#include "pwr_park.h"

#define EVENT_WAIT_MS	5000	/* for an event that must come */
#define QUIET_MS	300	/* for one that must not */

struct bad_conf {
	const char	*json;
	const char	*key;		/* the message names it */
};

/* A migration that must fail, and how. */
struct bad_mig {
	const char	*peer;
	const char	*addr;
	double		 downtime_ms;
	int		 rc;		/* migrate()'s; 0: fails in MIG_DONE */
	const char	*words;		/* in the message or event */
};

/* One test's world: a private directory, and what runs in it. */
struct fix {
	char			 dir[64];
	struct agt_driver	*d;
	pid_t			 daemon;	/* own hypervisor, or 0 */
};

struct dut {
	const char			*name;
	const struct agt_driver_ops	*ops;
	/* Makes the fixture in dir; 0, or -1 with a reason printed. */
	int		(*prepare)(const char *dir);
	json_t		*(*config)(const char *dir);
	json_t		*(*config_unreachable)(const char *dir);
	const char	*unreachable_words;
	const struct bad_conf *bad;		/* ends with a NULL json */
	const char	*running[2];		/* 2 vCPUs each */
	const char	*shutoff;
	const char	*nosuch_words;	/* its "no such VM" */
	const char	*peer, *addr;		/* describe() says */
	const struct bad_mig *bad_migs;	/* ends with a NULL peer */
	/*
	 * Optional: a hypervisor daemon of the test's own, to stop and
	 * start under an open driver.  start gives 0, or 77 if it cannot
	 * run here (the test is then skipped); config reaches it.
	 */
	int		(*daemon_start)(struct fix *);
	void		(*daemon_stop)(struct fix *);
	json_t		*(*daemon_config)(const char *dir);
};

/* ---- libvirt, on its test driver ---------------------------------------- */

/*
 * The test driver's node file: a host and its domains.  A domain is
 * running unless its test:runstate says otherwise (5: shut off).
 */
static const char lv_node_xml[] =
    "<node>\n"
    "  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores>"
    "<threads>1</threads><mhz>2000</mhz><model>i686</model></cpu>\n"
    "  <memory>8388608</memory>\n"
    "  <domain type='test'>\n"
    "    <name>web1</name>\n"
    "    <memory>1048576</memory><currentMemory>524288</currentMemory>\n"
    "    <vcpu>2</vcpu><os><type>hvm</type></os>\n"
    "  </domain>\n"
    "  <domain type='test'>\n"
    "    <name>db1</name>\n"
    "    <memory>2097152</memory>\n"
    "    <vcpu>2</vcpu><os><type>hvm</type></os>\n"
    "  </domain>\n"
    "  <domain type='test' "
    "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    "    <name>spare1</name>\n"
    "    <memory>262144</memory>\n"
    "    <vcpu>1</vcpu><os><type>hvm</type></os>\n"
    "    <test:runstate>5</test:runstate>\n"
    "  </domain>\n"
    "</node>\n";

static int
lv_prepare(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/node.xml", dir);
	if ((f = fopen(path, "w")) == NULL) {
		print_error("%s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs(lv_node_xml, f);
	return fclose(f) == 0 ? 0 : -1;
}

static json_t *
lv_config(const char *dir)
{
	char uri[PATH_MAX + 16];

	snprintf(uri, sizeof(uri), "test://%s/node.xml", dir);
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:b}", "driver", "libvirt",
	    "uri", uri, "peer_uri", "qemu+tcp://h1.example/system",
	    "migrate_addr", "tcp://192.0.2.1", "bandwidth_mib", 0,
	    "auto_converge", 0);
}

static json_t *
lv_config_unreachable(const char *dir)
{
	char uri[PATH_MAX + 64];

	snprintf(uri, sizeof(uri), "qemu+unix:///system?socket=%s/nonexistent",
	    dir);
	return json_pack("{s:s, s:s}", "driver", "libvirt", "uri", uri);
}

static const struct bad_conf lv_bad[] = {
	{ "{\"urii\": \"test:///default\"}", "urii" },
	{ "{\"uri\": 5}", "hypervisor.uri" },
	{ "{\"uri\": \"\"}", "hypervisor.uri" },
	{ "{\"peer_uri\": true}", "hypervisor.peer_uri" },
	{ "{\"migrate_addr\": 7}", "hypervisor.migrate_addr" },
	{ "{\"downtime_ms\": \"300\"}", "hypervisor.downtime_ms" },
	{ "{\"downtime_ms\": -1}", "hypervisor.downtime_ms" },
	{ "{\"bandwidth_mib\": 1.5}", "hypervisor.bandwidth_mib" },
	{ "{\"bandwidth_mib\": -3}", "hypervisor.bandwidth_mib" },
	{ "{\"auto_converge\": \"yes\"}", "hypervisor.auto_converge" },
	{ "{\"driver\": \"ebb-vmm\"}", "hypervisor.driver" },
	{ "[\"qemu:///system\"]", "hypervisor" },
	{ NULL, NULL },
};

/*
 * The test driver has no migration and no downtime setting: a downtime
 * limit fails at once (it is set before the job), a plain migration in
 * its thread, when libvirt finds p2p unsupported.
 */
static const struct bad_mig lv_bad_migs[] = {
	{ "qemu+tcp://192.0.2.7/system", "tcp://192.0.2.7", 300, -ENOTSUP,
	  "not supported" },
	{ "qemu+tcp://192.0.2.7/system", NULL, 0, 0, "not supported" },
	{ NULL, NULL, 0, 0, NULL },
};

/*
 * A private libvirtd in session mode, its runtime directory under the
 * test's: it serves the same node file through its own test driver,
 * reached as test+unix://...?socket=.  Session mode keeps it off the
 * system's state; as root it runs as nobody, since a root libvirtd would
 * be a system one.
 */
#define LV_NOBODY	65534

static int
lv_daemon_start(struct fix *f)
{
	static const char *const bins[] = { "/usr/sbin/libvirtd",
		"/usr/local/sbin/libvirtd", NULL };
	char run[128], sock[192], log[128], xml[128];
	const char *bin = NULL;
	struct stat st;
	pid_t pid;

	for (int i = 0; bins[i] != NULL && bin == NULL; i++)
		if (access(bins[i], X_OK) == 0)
			bin = bins[i];
	if (bin == NULL) {
		print_message("no libvirtd here\n");
		return 77;
	}
	snprintf(run, sizeof(run), "%s/run", f->dir);
	snprintf(sock, sizeof(sock), "%s/libvirt/libvirt-sock", run);
	snprintf(log, sizeof(log), "%s/libvirtd.log", f->dir);
	snprintf(xml, sizeof(xml), "%s/node.xml", f->dir);
	if ((mkdir(run, 0700) != 0 && errno != EEXIST) ||
	    (getuid() == 0 && (chmod(f->dir, 0711) != 0 ||
	    chmod(xml, 0644) != 0 ||
	    chown(run, LV_NOBODY, LV_NOBODY) != 0)))
		fail_msg("%s: %s", run, strerror(errno));
	if ((pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (getuid() == 0 && (setgroups(0, NULL) != 0 ||
		    setgid(LV_NOBODY) != 0 || setuid(LV_NOBODY) != 0))
			_exit(126);
		setenv("HOME", run, 1);
		setenv("XDG_RUNTIME_DIR", run, 1);
		setenv("XDG_CONFIG_HOME", run, 1);
		setenv("XDG_CACHE_HOME", run, 1);
		unsetenv("DBUS_SESSION_BUS_ADDRESS");
		execl(bin, "libvirtd", "--timeout", "120", (char *)NULL);
		_exit(127);
	}
	f->daemon = pid;
	for (int i = 0; i < 200; i++) {
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			f->daemon = 0;
			break;
		}
		usleep(50000);
	}
	print_message("libvirtd did not start (see %s)\n", log);
	return 77;
}

static void
lv_daemon_stop(struct fix *f)
{
	char sock[192];

	if (f->daemon <= 0)
		return;
	kill(f->daemon, SIGTERM);
	waitpid(f->daemon, NULL, 0);
	f->daemon = 0;
	/* A daemon killed harder leaves it; the next one makes its own. */
	snprintf(sock, sizeof(sock), "%s/run/libvirt/libvirt-sock", f->dir);
	unlink(sock);
}

static json_t *
lv_daemon_config(const char *dir)
{
	char uri[3 * PATH_MAX];

	snprintf(uri, sizeof(uri), "test+unix://%s/node.xml?socket=%s/run/"
	    "libvirt/libvirt-sock", dir, dir);
	return json_pack("{s:s, s:s}", "driver", "libvirt", "uri", uri);
}

static struct dut duts[] = {
	{
		.name = "libvirt",
		/* .ops: loaded as the agent loads it (agt_driver_load) */
		.prepare = lv_prepare,
		.config = lv_config,
		.config_unreachable = lv_config_unreachable,
		.unreachable_words = "nonexistent",
		.bad = lv_bad,
		.running = { "web1", "db1" },
		.shutoff = "spare1",
		.nosuch_words = "Domain not found",
		.peer = "qemu+tcp://h1.example/system",
		.addr = "tcp://192.0.2.1",
		.bad_migs = lv_bad_migs,
		.daemon_start = lv_daemon_start,
		.daemon_stop = lv_daemon_stop,
		.daemon_config = lv_daemon_config,
	},
};

/* ---- fixture ----------------------------------------------------------- */

static const struct dut *dut;	/* the driver the running group tests */

static int
fix_dir(struct fix *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/ebb-drv-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		print_error("mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	return dut->prepare(f->dir);
}

static int
open_driver(struct fix *f, struct agt_driver **d)
{
	struct ebb_err err = { "" };
	json_t *conf = dut->config(f->dir);
	int rc;

	rc = dut->ops->open(d, conf, &err);
	json_decref(conf);
	if (rc != 0) {
		print_error("%s: open: %d: %s\n", dut->name, rc, err.msg);
		return -1;
	}
	return 0;
}

static int
setup_dir(void **state)
{
	struct fix *f = ebb_calloc(1, sizeof(*f));

	*state = f;
	return fix_dir(f);
}

static int
setup_open(void **state)
{
	struct fix *f;

	if (setup_dir(state) != 0)
		return -1;
	f = *state;
	return open_driver(f, &f->d);
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	if (f == NULL)
		return 0;
	if (f->d != NULL)
		dut->ops->close(f->d);
	if (f->daemon > 0)
		dut->daemon_stop(f);
	if (f->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			print_error("could not remove %s\n", f->dir);
	}
	free(f);
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Reads events for up to ms until one of kind for vm has come; 1 and
 * *out, or 0.  The others read on the way are counted into *others.
 */
static int
wait_event(struct agt_driver *d, enum agt_drv_event_kind kind,
    const char *vm, int ms, struct agt_drv_event *out, int *others)
{
	int64_t end = now_ms() + ms;
	struct agt_drv_event ev;
	struct pollfd pfd;
	int rc;

	pfd.fd = d->ops->event_fd(d);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	for (;;) {
		while ((rc = d->ops->next_event(d, &ev)) == 1) {
			if (ev.kind == kind && strcmp(ev.vm, vm) == 0) {
				if (out != NULL)
					*out = ev;
				return 1;
			}
			if (others != NULL)
				(*others)++;
		}
		assert_int_equal(rc, 0);
		if (now_ms() >= end)
			return 0;
		poll(&pfd, 1, (int)(end - now_ms()));
	}
}

/* Reads whatever has come within ms; the number of events. */
static int
drain(struct agt_driver *d, int ms)
{
	struct agt_drv_event ev;
	int n = 0;

	wait_event(d, AGT_DRV_CHANGED, "\n-none-", ms, &ev, &n);
	return n;
}

/* The fd is readable now (events wait), as poll sees it. */
static bool
readable(struct agt_driver *d)
{
	struct pollfd pfd = { .fd = d->ops->event_fd(d), .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static const struct agt_vm_info *
find_vm(const struct agt_vm_info *vms, int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(vms[i].id, id) == 0)
			return &vms[i];
	return NULL;
}

static void
list_ok(struct agt_driver *d, struct agt_vm_info **vms, int *n)
{
	struct ebb_err err = { "" };
	int rc = d->ops->list(d, vms, n, &err);

	if (rc != 0)
		fail_msg("list: %d: %s", rc, err.msg);
}

static enum agt_vm_state
state_of(struct agt_driver *d, const char *id)
{
	struct agt_vm_info *vms;
	const struct agt_vm_info *v;
	enum agt_vm_state s;
	int n;

	list_ok(d, &vms, &n);
	v = find_vm(vms, n, id);
	if (v == NULL)
		fail_msg("%s is not listed", id);
	s = v->state;
	free(vms);
	return s;
}

/* Waits until list() shows id in state s (a shutdown may take a while). */
static void
expect_state(struct agt_driver *d, const char *id, enum agt_vm_state s)
{
	int64_t end = now_ms() + EVENT_WAIT_MS;
	enum agt_vm_state got;

	while ((got = state_of(d, id)) != s && now_ms() < end)
		usleep(20000);
	if (got != s)
		fail_msg("%s is %s, expected %s", id, agt_vm_state_name(got),
		    agt_vm_state_name(s));
}

static void
expect_msg(const struct ebb_err *err, const char *what, const char *want)
{
	if (want != NULL && strstr(err->msg, want) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", what, err->msg,
		    want);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_open_bad_config(void **state)
{
	struct fix *f = *state;

	for (const struct bad_conf *b = dut->bad; b->json != NULL; b++) {
		/* Poisoned: a failed open must set it to NULL. */
		struct agt_driver *d = (struct agt_driver *)f;
		struct ebb_err err = { "" };
		json_error_t jerr;
		json_t *conf;
		int rc;

		conf = json_loads(b->json, JSON_DECODE_ANY, &jerr);
		if (conf == NULL)
			fail_msg("bad test case %s: %s", b->json, jerr.text);
		rc = dut->ops->open(&d, conf, &err);
		json_decref(conf);
		if (rc != -EINVAL)
			fail_msg("%s: rc %d (%s), expected -EINVAL", b->json,
			    rc, err.msg);
		assert_null(d);
		expect_msg(&err, b->json, b->key);
	}
}

static void
test_open_unreachable(void **state)
{
	struct fix *f = *state;
	struct agt_driver *d = (struct agt_driver *)f;
	struct ebb_err err = { "" };
	json_t *conf = dut->config_unreachable(f->dir);
	int rc;

	rc = dut->ops->open(&d, conf, &err);
	json_decref(conf);
	if (rc != -ECONNREFUSED && rc != -EHOSTUNREACH)
		fail_msg("rc %d (%s), expected -ECONNREFUSED", rc, err.msg);
	assert_null(d);
	expect_msg(&err, "unreachable", dut->unreachable_words);
}

static void
test_describe(void **state)
{
	struct fix *f = *state;
	json_t *j = f->d->ops->describe(f->d);

	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_string_equal(json_string_value(json_object_get(j, "peer")),
	    dut->peer);
	assert_non_null(json_object_get(j, "addr"));
	if (dut->addr != NULL)
		assert_string_equal(json_string_value(json_object_get(j,
		    "addr")), dut->addr);
	assert_string_equal(json_string_value(json_object_get(j, "driver")),
	    dut->name);
	json_decref(j);
}

/* The fields of one listed VM are possible ones. */
static void
check_vm(const struct agt_vm_info *v)
{
	assert_true(strlen(v->id) > 0 && strlen(v->id) <= AGT_VM_ID_MAX);
	assert_true(v->vcpus >= 1);
	assert_true(v->mem_kb > 0);
	assert_true(v->mem_max_kb >= v->mem_kb);
	assert_true(v->nvcpu_ns >= 0 && v->nvcpu_ns <= AGT_VM_VCPUS_MAX);
	assert_true(v->nvcpu_ns <= v->vcpus);
	assert_false(v->migrating);
}

static void
test_list(void **state)
{
	struct fix *f = *state;
	struct agt_vm_info *a, *b;
	const struct agt_vm_info *v, *w;
	int na, nb;

	list_ok(f->d, &a, &na);
	assert_int_equal(na, 3);
	for (int i = 0; i < na; i++) {
		check_vm(&a[i]);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a[i].id, a[j].id);
	}
	for (int i = 0; i < 2; i++) {
		v = find_vm(a, na, dut->running[i]);
		assert_non_null(v);
		assert_int_equal(v->state, AGT_VM_RUNNING);
		assert_int_equal(v->vcpus, 2);
		assert_int_equal(v->nvcpu_ns, 2);
	}
	v = find_vm(a, na, dut->shutoff);
	assert_non_null(v);
	assert_int_equal(v->state, AGT_VM_SHUTOFF);
	assert_int_equal(v->nvcpu_ns, 0);

	usleep(10000);
	list_ok(f->d, &b, &nb);
	assert_int_equal(nb, na);
	for (int i = 0; i < na; i++) {
		v = &a[i];
		w = find_vm(b, nb, v->id);
		assert_non_null(w);	/* ids are stable */
		assert_int_equal(w->state, v->state);
		if (v->state != AGT_VM_RUNNING)
			continue;
		if (w->cpu_ns < v->cpu_ns)
			fail_msg("%s: cpu_ns went back, %ju then %ju", v->id,
			    (uintmax_t)v->cpu_ns, (uintmax_t)w->cpu_ns);
		assert_int_equal(w->nvcpu_ns, v->nvcpu_ns);
		for (int k = 0; k < v->nvcpu_ns; k++)
			assert_true(w->vcpu_ns[k] >= v->vcpu_ns[k]);
	}
	free(a);
	free(b);
	/* Listing raises no event. */
	assert_int_equal(drain(f->d, QUIET_MS), 0);
}

static void
test_start_stop(void **state)
{
	struct fix *f = *state;
	struct agt_driver *d = f->d;
	const char *vm = dut->running[0], *vm2 = dut->running[1];
	struct ebb_err err = { "" };
	int rc;

	/* At rest nothing stirs. */
	assert_int_equal(drain(d, QUIET_MS), 0);
	assert_false(readable(d));

	if ((rc = d->ops->stop(d, vm, false, &err)) != 0)
		fail_msg("stop %s: %d: %s", vm, rc, err.msg);
	if (!wait_event(d, AGT_DRV_CHANGED, vm, EVENT_WAIT_MS, NULL, NULL))
		fail_msg("no CHANGED event for %s after stop", vm);
	expect_state(d, vm, AGT_VM_SHUTOFF);

	if ((rc = d->ops->start(d, vm, &err)) != 0)
		fail_msg("start %s: %d: %s", vm, rc, err.msg);
	if (!wait_event(d, AGT_DRV_CHANGED, vm, EVENT_WAIT_MS, NULL, NULL))
		fail_msg("no CHANGED event for %s after start", vm);
	expect_state(d, vm, AGT_VM_RUNNING);

	if ((rc = d->ops->stop(d, vm2, true, &err)) != 0)
		fail_msg("stop --force %s: %d: %s", vm2, rc, err.msg);
	if (!wait_event(d, AGT_DRV_CHANGED, vm2, EVENT_WAIT_MS, NULL, NULL))
		fail_msg("no CHANGED event for %s after forced stop", vm2);
	expect_state(d, vm2, AGT_VM_SHUTOFF);
	drain(d, QUIET_MS);
	assert_false(readable(d));

	/* Wrong states and unknown VMs, in the driver's words. */
	rc = d->ops->start(d, vm, &err);
	assert_int_equal(rc, -EEXIST);
	expect_msg(&err, "start running", vm);
	rc = d->ops->stop(d, dut->shutoff, true, &err);
	assert_true(rc < 0);
	expect_msg(&err, "stop shut off", dut->shutoff);
	rc = d->ops->start(d, "no-such-vm", &err);
	assert_int_equal(rc, -ENOENT);
	expect_msg(&err, "start unknown", "no-such-vm");
	expect_msg(&err, "start unknown", dut->nosuch_words);
	rc = d->ops->stop(d, "no-such-vm", false, &err);
	assert_int_equal(rc, -ENOENT);
	expect_msg(&err, "stop unknown", dut->nosuch_words);
	/* Failures raise no event. */
	assert_int_equal(drain(d, QUIET_MS), 0);
}

static void
test_pin(void **state)
{
	struct fix *f = *state;
	struct agt_driver *d = f->d;
	struct ebb_err err = { "" };
	struct pwr_mask all, one, none;
	int rc;

	pwr_mask_zero(&all);
	pwr_mask_set_range(&all, 0, PWR_MAX_CPUS - 1);
	pwr_mask_zero(&one);
	pwr_mask_set(&one, 0);	/* cpu0 is online everywhere */
	pwr_mask_zero(&none);

	for (int i = 0; i < 2; i++) {
		if ((rc = d->ops->pin(d, dut->running[i], &all, &err)) != 0)
			fail_msg("pin %s to all: %d: %s", dut->running[i], rc,
			    err.msg);
		if ((rc = d->ops->pin(d, dut->running[i], &one, &err)) != 0)
			fail_msg("pin %s to cpu0: %d: %s", dut->running[i], rc,
			    err.msg);
	}
	rc = d->ops->pin(d, "no-such-vm", &all, &err);
	assert_int_equal(rc, -ENOENT);
	expect_msg(&err, "pin unknown", "no-such-vm");
	expect_msg(&err, "pin unknown", dut->nosuch_words);
	rc = d->ops->pin(d, dut->running[0], &none, &err);
	assert_int_equal(rc, -EINVAL);
	rc = d->ops->pin(d, dut->shutoff, &all, &err);
	assert_true(rc < 0);
	assert_true(err.msg[0] != '\0');
	assert_int_equal(drain(d, QUIET_MS), 0);
}

/* The VM is still here, running and not migrating. */
static void
expect_stayed(struct agt_driver *d, const char *id)
{
	struct agt_vm_info *vms;
	const struct agt_vm_info *v;
	int n;

	list_ok(d, &vms, &n);
	v = find_vm(vms, n, id);
	assert_non_null(v);
	assert_int_equal(v->state, AGT_VM_RUNNING);
	assert_false(v->migrating);
	free(vms);
}

static void
test_migrate_fails_cleanly(void **state)
{
	struct fix *f = *state;
	struct agt_driver *d = f->d;
	const char *vm = dut->running[0];
	struct agt_drv_event ev;
	struct ebb_err err = { "" };
	struct agt_mig_req req;
	int rc, others;

	memset(&req, 0, sizeof(req));
	req.peer = dut->bad_migs[0].peer;
	req.vm = "no-such-vm";
	rc = d->ops->migrate(d, &req, &err);
	assert_int_equal(rc, -ENOENT);
	expect_msg(&err, "migrate unknown", dut->nosuch_words);
	req.vm = dut->shutoff;
	rc = d->ops->migrate(d, &req, &err);
	assert_int_equal(rc, -EINVAL);
	expect_msg(&err, "migrate shut off", dut->shutoff);
	req.vm = vm;
	req.peer = NULL;
	rc = d->ops->migrate(d, &req, &err);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(drain(d, QUIET_MS), 0);

	for (const struct bad_mig *b = dut->bad_migs; b->peer != NULL; b++) {
		memset(&req, 0, sizeof(req));
		req.vm = vm;
		req.peer = b->peer;
		req.addr = b->addr;
		req.downtime_ms = b->downtime_ms;
		err.msg[0] = '\0';
		rc = d->ops->migrate(d, &req, &err);
		if (rc != b->rc)
			fail_msg("migrate to %s: rc %d (%s), expected %d",
			    b->peer, rc, err.msg, b->rc);
		others = 0;
		if (rc != 0) {
			expect_msg(&err, "migrate", b->words);
			expect_msg(&err, "migrate", vm);
			/* Refused at once: no MIG_DONE may follow. */
			assert_false(wait_event(d, AGT_DRV_MIG_DONE, vm,
			    QUIET_MS, &ev, &others));
		} else {
			if (!wait_event(d, AGT_DRV_MIG_DONE, vm, EVENT_WAIT_MS,
			    &ev, &others))
				fail_msg("migrate to %s: no MIG_DONE", b->peer);
			assert_false(ev.ok);
			if (strstr(ev.error, b->words) == NULL)
				fail_msg("MIG_DONE error \"%s\" lacks \"%s\"",
				    ev.error, b->words);
			/* Exactly one. */
			assert_false(wait_event(d, AGT_DRV_MIG_DONE, vm,
			    QUIET_MS, &ev, &others));
		}
		assert_int_equal(others, 0);
		expect_stayed(d, vm);
	}
}

static void
test_migrate_no_job(void **state)
{
	struct fix *f = *state;
	struct agt_driver *d = f->d;
	struct agt_mig_progress pr;
	struct ebb_err err = { "" };
	int rc;

	rc = d->ops->migrate_abort(d, dut->running[0], &err);
	assert_true(rc < 0);
	expect_msg(&err, "abort", dut->running[0]);
	rc = d->ops->migrate_abort(d, "no-such-vm", &err);
	assert_int_equal(rc, -ENOENT);
	expect_msg(&err, "abort unknown", dut->nosuch_words);

	rc = d->ops->migrate_progress(d, dut->running[0], &pr, &err);
	assert_true(rc < 0);
	expect_msg(&err, "progress", dut->running[0]);
	rc = d->ops->migrate_progress(d, "no-such-vm", &pr, &err);
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(drain(d, QUIET_MS), 0);
	expect_stayed(d, dut->running[0]);
}

/* Two drivers at once: separate events, closed in either order. */
static void
test_two_drivers(void **state)
{
	struct fix *f = *state;
	struct agt_driver *a, *b;
	struct ebb_err err = { "" };

	for (int order = 0; order < 2; order++) {
		assert_int_equal(open_driver(f, &a), 0);
		assert_int_equal(open_driver(f, &b), 0);
		assert_int_not_equal(a->ops->event_fd(a), b->ops->event_fd(b));
		assert_int_equal(b->ops->stop(b, dut->running[1], true, &err),
		    0);
		assert_true(wait_event(b, AGT_DRV_CHANGED, dut->running[1],
		    EVENT_WAIT_MS, NULL, NULL));
		/* a has a world of its own (the test driver) or sees the
		 * same change (a real hypervisor): either is fine. */
		drain(a, QUIET_MS);
		if (order == 0) {
			a->ops->close(a);
			assert_int_equal(b->ops->start(b, dut->running[1],
			    &err), 0);
			assert_true(wait_event(b, AGT_DRV_CHANGED,
			    dut->running[1], EVENT_WAIT_MS, NULL, NULL));
			b->ops->close(b);
		} else {
			b->ops->close(b);
			assert_int_equal(a->ops->stop(a, dut->running[0],
			    true, &err), 0);
			assert_true(wait_event(a, AGT_DRV_CHANGED,
			    dut->running[0], EVENT_WAIT_MS, NULL, NULL));
			a->ops->close(a);
		}
	}
}

/* Events left unread are the driver's to free. */
static void
test_close_with_events(void **state)
{
	struct fix *f = *state;
	struct agt_driver *d = f->d;
	struct ebb_err err = { "" };
	int64_t end;

	assert_int_equal(d->ops->stop(d, dut->running[0], true, &err), 0);
	assert_int_equal(d->ops->stop(d, dut->running[1], true, &err), 0);
	end = now_ms() + EVENT_WAIT_MS;
	while (!readable(d) && now_ms() < end)
		usleep(5000);
	assert_true(readable(d));
	d->ops->close(d);
	f->d = NULL;
}

/*
 * The hypervisor's daemon goes away under an open driver and comes back:
 * the driver says so with a CHANGED of the whole set (vm ""), fails calls
 * with -ECONNREFUSED meanwhile, and then works again without a reopen,
 * domain events included.
 */
static void
test_reconnect(void **state)
{
	struct fix *f = *state;
	struct agt_driver *d;
	struct agt_vm_info *vms;
	struct ebb_err err = { "" };
	json_t *conf;
	int n, rc;

	if (dut->daemon_start == NULL)
		skip();
	if (dut->daemon_start(f) != 0)
		skip();
	conf = dut->daemon_config(f->dir);
	rc = dut->ops->open(&d, conf, &err);
	json_decref(conf);
	if (rc != 0)
		fail_msg("open: %d: %s", rc, err.msg);
	f->d = d;
	list_ok(d, &vms, &n);
	assert_int_equal(n, 3);
	free(vms);

	dut->daemon_stop(f);
	if (!wait_event(d, AGT_DRV_CHANGED, "", EVENT_WAIT_MS, NULL, NULL))
		fail_msg("no CHANGED event when the daemon went away");
	rc = d->ops->list(d, &vms, &n, &err);
	if (rc != -ECONNREFUSED)
		fail_msg("list without a daemon: %d (%s)", rc, err.msg);
	assert_true(err.msg[0] != '\0');
	rc = d->ops->pin(d, dut->running[0], &(struct pwr_mask){ { 1 } },
	    &err);
	assert_int_equal(rc, -ECONNREFUSED);

	assert_int_equal(dut->daemon_start(f), 0);
	list_ok(d, &vms, &n);
	assert_int_equal(n, 3);
	free(vms);
	assert_true(wait_event(d, AGT_DRV_CHANGED, "", EVENT_WAIT_MS, NULL,
	    NULL));
	assert_int_equal(d->ops->stop(d, dut->running[0], true, &err), 0);
	if (!wait_event(d, AGT_DRV_CHANGED, dut->running[0], EVENT_WAIT_MS,
	    NULL, NULL))
		fail_msg("no domain events after the reconnect");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_bad_config,
		    setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_open_unreachable,
		    setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_describe, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_start_stop, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pin, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_fails_cleanly,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_no_job,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_two_drivers, setup_dir,
		    teardown),
		cmocka_unit_test_setup_teardown(test_close_with_events,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup_dir,
		    teardown),
	};
	int failed = 0;

	ebb_log_init("test_driver_contract", EBB_LOG_WARN);
	for (size_t i = 0; i < EBB_NITEMS(duts); i++) {
		struct ebb_err err;

		/* The module, found and loaded the way the agent does it. */
		if ((duts[i].ops = agt_driver_load(duts[i].name, &err)) ==
		    NULL) {
			fprintf(stderr, "%s\n", err.msg);
			failed++;
			continue;
		}
		dut = &duts[i];
		failed += _cmocka_run_group_tests(dut->name, tests,
		    EBB_NITEMS(tests), NULL, NULL);
	}
	return failed;
}
