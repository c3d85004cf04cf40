/*
 * drv_libvirt.c - the libvirt hypervisor driver of ebb-agent.
 *
 * For hosts whose VMs libvirt already runs (QEMU/KVM under libvirtd or
 * virtqemud).  Domain ids are domain names.  Three kinds of thread touch a
 * driver:
 *
 *  the caller    the agent's event loop; every op runs there, one at a
 *                time, and owns the connection (d->conn) alone.
 *  the loop      libvirt's event loop, one per process (see lv_loop), which
 *                runs the domain event and connection-close callbacks.
 *  migrations    one thread per outgoing migration, blocked in
 *                virDomainMigrateToURI3 on its own domain handle.
 *
 * What the three share, the event queue, the eventfd, the migration list and
 * the "connection is dead" flag, is under d->mtx; libvirt's own objects are
 * thread-safe.  A connection that libvirt reports closed (libvirtd restarted,
 * keepalive lost) is replaced on the next op, so the agent outlives its
 * libvirtd.
 *
 * Events: AGT_DRV_CHANGED names the domain of each lifecycle event, or is
 * "" for the whole set (the connection was lost, or made again), and a
 * CHANGED already waiting for that name is not queued twice.
 * AGT_DRV_MIG_DONE ends each migration that migrate() started, once.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agt_driver.h"
#include "ebb_jconf.h"
#include "ebb_log.h"

#define LV_DEFAULT_URI		"qemu:///system"
#define LV_URI_MAX		1024
#define LV_DOWNTIME_MAX_MS	600000	/* 10 min: surely a typo */
#define LV_BANDWIDTH_MAX	1048576	/* MiB/s: 1 TiB/s */
#define LV_KEEPALIVE_S		5	/* a probe every 5 s ... */
#define LV_KEEPALIVE_COUNT	3	/* ... 3 unanswered: dead */
#define LV_STATS_WAIT_MS	2000	/* for the job-completed event */
#define LV_ABORT_RETRY_MS	1000

/* The stats groups list() asks for. */
#define LV_STATS (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | \
	VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BALLOON)

struct lv_event {
	struct lv_event		*next;
	struct agt_drv_event	 ev;
};

struct lv_driver;

/* One outgoing migration, from migrate() until its thread is joined. */
struct lv_mig {
	struct lv_mig		*next;
	struct lv_driver	*d;
	pthread_t		 thread;
	virDomainPtr		 dom;
	char			 vm[AGT_VM_ID_MAX + 1];
	char			*peer;
	virTypedParameterPtr	 params;
	int			 nparams;
	unsigned int		 flags;
	/* under d->mtx */
	bool			 done;		/* MIG_DONE queued */
	bool			 have_stats;	/* job-completed event came */
	struct agt_mig_progress	 stats;
};

struct lv_driver {
	struct agt_driver	 base;

	/* The configuration. */
	char			 uri[LV_URI_MAX];
	char			 peer_uri[LV_URI_MAX];
	char			 addr[LV_URI_MAX];	/* "" = none */
	double			 downtime_ms;	/* 0 = libvirt's */
	uint64_t		 bandwidth_mib;	/* 0 = unlimited */
	bool			 auto_converge;

	/* The caller's alone. */
	virConnectPtr		 conn;
	int			 cb_life;	/* callback ids, or -1 */
	int			 cb_job;
	bool			 cb_close;
	unsigned int		 stats_flags;
	unsigned int		 pin_flags;
	bool			 warned_long;

	/* Shared with the loop and the migration threads. */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;		/* stats came, or closing */
	bool			 dead;		/* libvirt closed conn */
	bool			 closing;
	int			 efd;		/* readable iff head */
	struct lv_event		*head;
	struct lv_event		**tail;
	struct lv_mig		*migs;
};

/* ---- errors ----------------------------------------------------------- */

/*
 * libvirt hands every error to a global handler, which by default prints
 * it on stderr; ebb reports errors itself, with context, so the handler
 * does nothing and each call site reads virGetLastError() (per thread).
 */

/* The module's one export, which agt_driver_load() looks up by name. */
extern const struct agt_driver_ops agt_drv_libvirt;

static void
lv_quiet(void *opaque EBB_UNUSED, virErrorPtr e EBB_UNUSED)
{
}

/*
 * The -errno for a libvirt error.  `invalid` is what
 * VIR_ERR_OPERATION_INVALID ("the domain is in the wrong state for
 * that") means at the call site: -EEXIST for start, -EBUSY or -EINVAL
 * elsewhere.
 */
static int
lv_errno(const virError *e, int invalid)
{
	switch (e->code) {
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
	case VIR_ERR_OPERATION_UNSUPPORTED:
		return -ENOTSUP;
	case VIR_ERR_OPERATION_INVALID:
		return invalid;
	case VIR_ERR_INVALID_ARG:
		return -EINVAL;
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_AUTH_CANCELLED:
	case VIR_ERR_AUTH_UNAVAILABLE:
		return -EACCES;
	case VIR_ERR_NO_CONNECT:
	case VIR_ERR_INVALID_CONN:
	case VIR_ERR_RPC:
		return -ECONNREFUSED;
	case VIR_ERR_SYSTEM_ERROR:
		/* Socket trouble: int1 is the errno. */
		if (e->domain != VIR_FROM_RPC && e->domain != VIR_FROM_REMOTE)
			return -EIO;
		if (e->int1 == EACCES || e->int1 == EPERM)
			return -EACCES;
		if (e->int1 == EHOSTUNREACH || e->int1 == ENETUNREACH)
			return -EHOSTUNREACH;
		return -ECONNREFUSED;
	default:
		return -EIO;
	}
}

/*
 * After a libvirt call failed: fills err with "libvirt: WHAT VM: libvirt's
 * message" and returns the -errno.  A connection that died under the call
 * is marked for a reconnect and reported as -ECONNREFUSED, whatever the
 * call made of it.
 */
static int
lv_fail(struct lv_driver *d, struct ebb_err *err, int invalid,
    const char *what, const char *vm)
{
	virError e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = virCopyLastError(&e) > 0 ? lv_errno(&e, invalid) : -EIO;
	ebb_err_set(err, "libvirt: %s%s%s: %s", what, vm ? " " : "",
	    vm ? vm : "", e.message ? e.message : "unknown error");
	virResetError(&e);
	virResetLastError();
	if (d != NULL && d->conn != NULL && virConnectIsAlive(d->conn) == 0) {
		pthread_mutex_lock(&d->mtx);
		d->dead = true;
		pthread_mutex_unlock(&d->mtx);
		rc = -ECONNREFUSED;
	}
	return rc;
}

/* The code of this thread's last libvirt error, or VIR_ERR_OK. */
static int
lv_last_code(void)
{
	virErrorPtr e = virGetLastError();

	return e ? e->code : VIR_ERR_OK;
}

/* Starts a thread with every signal blocked: the agent takes signals. */
static int
lv_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

/* ---- the event loop --------------------------------------------------- */

/*
 * libvirt delivers domain events and notices a dead connection only while
 * someone runs its event loop, and that loop is one per process
 * (virEventRegisterDefaultImpl installs it for every connection).  So the
 * thread that runs it is one per process too: started by the first open,
 * shared by every driver, stopped by the last close.
 *
 * The loop has a timer of ours.  Arming it (interval 0) makes the loop
 * thread run lv_loop_tick at a moment when it runs no other callback: once
 * that happened after a driver deregistered its callbacks, none of them is
 * still running with the driver as its opaque (lv_loop_sync).  Removing it
 * ends the thread: libvirt frees a removed timer from an idle callback in
 * the loop, which calls lv_loop_gone, and by then the loop has also run the
 * idle callbacks queued before it (connections closing), which are of the
 * same priority.
 */
static struct {
	pthread_mutex_t	 life;	/* serializes ref and unref */
	pthread_mutex_t	 mtx;	/* the rest, with the thread */
	pthread_cond_t	 cv;
	int		 users;
	pthread_t	 thread;
	int		 timer;
	bool		 gone;		/* timer freed: thread ends */
	uint64_t	 ticks;
	int		 waiting;	/* lv_loop_sync callers */
} lv_loop = {
	.life = PTHREAD_MUTEX_INITIALIZER,
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.timer = -1,
};

static pthread_once_t lv_once = PTHREAD_ONCE_INIT;
static int lv_once_rc;

static void
lv_global_init(void)
{
	virSetErrorFunc(NULL, lv_quiet);
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
		lv_once_rc = -EIO;
}

static void
lv_loop_tick(int timer EBB_UNUSED, void *opaque EBB_UNUSED)
{
	pthread_mutex_lock(&lv_loop.mtx);
	lv_loop.ticks++;
	pthread_cond_broadcast(&lv_loop.cv);
	/* Keep firing while someone waits for a tick after this one. */
	if (lv_loop.waiting == 0)
		virEventUpdateTimeout(lv_loop.timer, -1);
	pthread_mutex_unlock(&lv_loop.mtx);
}

static void
lv_loop_gone(void *opaque EBB_UNUSED)
{
	pthread_mutex_lock(&lv_loop.mtx);
	lv_loop.gone = true;
	pthread_mutex_unlock(&lv_loop.mtx);
}

static void *
lv_loop_run(void *arg EBB_UNUSED)
{
	for (;;) {
		bool gone;

		pthread_mutex_lock(&lv_loop.mtx);
		gone = lv_loop.gone;
		pthread_mutex_unlock(&lv_loop.mtx);
		if (gone)
			break;
		virEventRunDefaultImpl();
	}
	return NULL;
}

static int
lv_loop_ref(struct ebb_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&lv_loop.life);
	if (lv_loop.users == 0) {
		/* Kept if the thread fails to start: only a running loop
		 * can free it. */
		if (lv_loop.timer < 0 && (lv_loop.timer = virEventAddTimeout(-1,
		    lv_loop_tick, NULL, lv_loop_gone)) < 0) {
			rc = lv_fail(NULL, err, -EIO, "event loop timer", NULL);
			goto out;
		}
		lv_loop.gone = false;
		if ((rc = lv_thread_start(&lv_loop.thread, lv_loop_run,
		    NULL)) != 0) {
			ebb_err_set(err, "libvirt: event loop thread: %s",
			    strerror(-rc));
			goto out;
		}
	}
	lv_loop.users++;
out:
	pthread_mutex_unlock(&lv_loop.life);
	return rc;
}

/* Waits until the loop thread ran our timer after this call began. */
static void
lv_loop_sync(void)
{
	uint64_t target;

	pthread_mutex_lock(&lv_loop.mtx);
	target = lv_loop.ticks + 1;
	lv_loop.waiting++;
	virEventUpdateTimeout(lv_loop.timer, 0);
	while (lv_loop.ticks < target)
		pthread_cond_wait(&lv_loop.cv, &lv_loop.mtx);
	lv_loop.waiting--;
	pthread_mutex_unlock(&lv_loop.mtx);
}

/*
 * Drops a driver's use of the loop.  On return no callback registered
 * before the call runs any more: the last user stops and joins the thread,
 * the others wait for a tick.
 */
static void
lv_loop_unref(void)
{
	pthread_mutex_lock(&lv_loop.life);
	if (--lv_loop.users > 0) {
		lv_loop_sync();
	} else {
		virEventRemoveTimeout(lv_loop.timer);
		pthread_join(lv_loop.thread, NULL);
		lv_loop.timer = -1;
	}
	pthread_mutex_unlock(&lv_loop.life);
}

/* ---- the event queue -------------------------------------------------- */

/*
 * Queues an event and makes the eventfd readable; under d->mtx.  A
 * CHANGED for a VM that has one waiting already adds nothing: the agent
 * lists everything on a change, so the queue stays as short as the VM set.
 */
static void
lv_queue_locked(struct lv_driver *d, const struct agt_drv_event *ev)
{
	static const uint64_t one = 1;
	struct lv_event *e;

	if (ev->kind == AGT_DRV_CHANGED)
		for (e = d->head; e != NULL; e = e->next)
			if (e->ev.kind == AGT_DRV_CHANGED &&
			    strcmp(e->ev.vm, ev->vm) == 0)
				return;
	e = ebb_calloc(1, sizeof(*e));
	e->ev = *ev;
	*d->tail = e;
	d->tail = &e->next;
	if (write(d->efd, &one, sizeof(one)) != sizeof(one))
		ebb_warn("libvirt: eventfd: %s", strerror(errno));
}

/* A CHANGED for vm; "" means the whole set (after a reconnect). */
static void
lv_changed(struct lv_driver *d, const char *vm)
{
	struct agt_drv_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = AGT_DRV_CHANGED;
	snprintf(ev.vm, sizeof(ev.vm), "%s", vm);
	pthread_mutex_lock(&d->mtx);
	lv_queue_locked(d, &ev);
	pthread_mutex_unlock(&d->mtx);
}

/* ---- callbacks (the loop thread) -------------------------------------- */

static int
lv_on_lifecycle(virConnectPtr conn EBB_UNUSED, virDomainPtr dom,
    int event EBB_UNUSED, int detail EBB_UNUSED, void *opaque)
{
	const char *name = virDomainGetName(dom);

	if (name != NULL && strlen(name) <= AGT_VM_ID_MAX)
		lv_changed(opaque, name);
	return 0;
}

static struct lv_mig *
lv_mig_find_locked(struct lv_driver *d, const char *vm)
{
	struct lv_mig *m;

	for (m = d->migs; m != NULL; m = m->next)
		if (!m->done && strcmp(m->vm, vm) == 0)
			return m;
	return NULL;
}

/* Job statistics, as virDomainGetJobStats and the event give them. */
static void
lv_job_stats(virTypedParameterPtr p, int n, struct agt_mig_progress *out)
{
	unsigned long long v;

	memset(out, 0, sizeof(*out));
	if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED,
	    &v) == 1)
		out->elapsed_s = v / 1000.0;
	if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_TOTAL,
	    &v) == 1)
		out->data_total = v;
	if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED,
	    &v) == 1)
		out->data_done = v;
	if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_REMAINING,
	    &v) == 1)
		out->data_remaining = v;
	if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE,
	    &v) == 1)
		out->mem_dirty_rate = v;
	if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION,
	    &v) == 1)
		out->iteration = v;
	virResetLastError();
}

/*
 * The source's figures of a finished migration.  With
 * VIR_MIGRATE_UNDEFINE_SOURCE the source domain is gone by the time
 * virDomainMigrateToURI3 returns, so virDomainGetJobStats(...,
 * VIR_DOMAIN_JOB_STATS_COMPLETED) has nothing to ask; QEMU's driver emits
 * them as this event instead, during the confirm phase.
 */
static void
lv_on_job_completed(virConnectPtr conn EBB_UNUSED, virDomainPtr dom,
    virTypedParameterPtr params, int nparams, void *opaque)
{
	struct lv_driver *d = opaque;
	const char *name = virDomainGetName(dom);
	unsigned long long v;
	struct lv_mig *m;

	if (name == NULL)
		return;
	pthread_mutex_lock(&d->mtx);
	if ((m = lv_mig_find_locked(d, name)) != NULL) {
		lv_job_stats(params, nparams, &m->stats);
		/* Measured, now that it is over. */
		if (virTypedParamsGetULLong(params, nparams,
		    VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
			m->stats.downtime_ms = v;
		m->have_stats = true;
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mtx);
	virResetLastError();
}

static const char *
lv_close_reason(int reason)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_ERROR:	return "I/O error";
	case VIR_CONNECT_CLOSE_REASON_EOF:	return "end of file";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "keepalive timeout";
	case VIR_CONNECT_CLOSE_REASON_CLIENT:	return "closed by client";
	}
	return "unknown reason";
}

/*
 * libvirt closed the connection.  Nothing is called on it here (this runs
 * wherever libvirt noticed, possibly inside another thread's call); the
 * next op reconnects, and the CHANGED makes the agent call one soon.
 */
static void
lv_on_close(virConnectPtr conn EBB_UNUSED, int reason, void *opaque)
{
	struct lv_driver *d = opaque;

	ebb_warn("libvirt: connection to %s lost (%s), reconnecting on the "
	    "next call", d->uri, lv_close_reason(reason));
	pthread_mutex_lock(&d->mtx);
	d->dead = true;
	pthread_mutex_unlock(&d->mtx);
	lv_changed(d, "");
}

/* ---- the connection --------------------------------------------------- */

static void
lv_disconnect(struct lv_driver *d)
{
	if (d->conn == NULL)
		return;
	/* On a dead connection these fail after forgetting the callback
	 * locally, which is all that matters. */
	if (d->cb_life >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_life);
	if (d->cb_job >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_job);
	if (d->cb_close)
		virConnectUnregisterCloseCallback(d->conn, lv_on_close);
	virResetLastError();
	d->cb_life = d->cb_job = -1;
	d->cb_close = false;
	virConnectClose(d->conn);
	d->conn = NULL;
}

static int
lv_connect(struct lv_driver *d, struct ebb_err *err)
{
	int rc;

	pthread_mutex_lock(&d->mtx);
	d->dead = false;
	pthread_mutex_unlock(&d->mtx);
	if ((d->conn = virConnectOpen(d->uri)) == NULL)
		return lv_fail(NULL, err, -EIO, "connect", d->uri);
	d->cb_life = virConnectDomainEventRegisterAny(d->conn, NULL,
	    VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	    VIR_DOMAIN_EVENT_CALLBACK(lv_on_lifecycle), d, NULL);
	if (d->cb_life < 0) {
		rc = lv_fail(NULL, err, -EIO, "domain events", d->uri);
		lv_disconnect(d);
		return rc;
	}
	/* Only for a migration's final figures: optional. */
	d->cb_job = virConnectDomainEventRegisterAny(d->conn, NULL,
	    VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
	    VIR_DOMAIN_EVENT_CALLBACK(lv_on_job_completed), d, NULL);
	if (virConnectRegisterCloseCallback(d->conn, lv_on_close, d,
	    NULL) == 0)
		d->cb_close = true;
	/* Remote connections only; a local driver says it cannot. */
	virConnectSetKeepAlive(d->conn, LV_KEEPALIVE_S, LV_KEEPALIVE_COUNT);
	virResetLastError();
	return 0;
}

/*
 * Every op begins here: the connection, reopened if libvirt closed it.  A
 * new connection queues a CHANGED of the whole set, since domains may have
 * come and gone while there was none.
 */
static int
lv_ready(struct lv_driver *d, struct ebb_err *err)
{
	bool dead;
	int rc;

	pthread_mutex_lock(&d->mtx);
	dead = d->dead;
	pthread_mutex_unlock(&d->mtx);
	if (d->conn != NULL && !dead && virConnectIsAlive(d->conn) == 1)
		return 0;
	if (d->conn != NULL) {
		ebb_info("libvirt: reconnecting to %s", d->uri);
		lv_disconnect(d);
	}
	if ((rc = lv_connect(d, err)) != 0)
		return rc;
	ebb_info("libvirt: connected to %s again", d->uri);
	lv_changed(d, "");
	return 0;
}

static int
lv_check_id(const char *vm, const char *what, struct ebb_err *err)
{
	if (vm == NULL || vm[0] == '\0') {
		ebb_err_set(err, "libvirt: %s: no VM named", what);
		return -EINVAL;
	}
	if (strlen(vm) > AGT_VM_ID_MAX) {
		ebb_err_set(err, "libvirt: %s: VM id longer than %d bytes",
		    what, AGT_VM_ID_MAX);
		return -EINVAL;
	}
	return 0;
}

/* The ready connection's domain vm, or NULL with err filled. */
static virDomainPtr
lv_lookup(struct lv_driver *d, const char *vm, const char *what, int *rc,
    struct ebb_err *err)
{
	virDomainPtr dom;

	if ((*rc = lv_check_id(vm, what, err)) != 0 ||
	    (*rc = lv_ready(d, err)) != 0)
		return NULL;
	if ((dom = virDomainLookupByName(d->conn, vm)) == NULL)
		*rc = lv_fail(d, err, -EINVAL, what, vm);
	return dom;
}

/* 1 if the domain runs, 0 if not, -errno. */
static int
lv_active(struct lv_driver *d, virDomainPtr dom, const char *what,
    const char *vm, struct ebb_err *err)
{
	int rc = virDomainIsActive(dom);

	return rc < 0 ? lv_fail(d, err, -EIO, what, vm) : rc;
}

/* ---- open, close, describe, events ------------------------------------ */

static int
lv_parse(struct lv_driver *d, const json_t *conf, struct ebb_err *err)
{
	static const char *const keys[] = { "driver", "uri", "peer_uri",
		"migrate_addr", "downtime_ms", "bandwidth_mib",
		"auto_converge", NULL };
	struct ebb_jconf x = { "libvirt driver", err };
	char driver[32] = "libvirt";
	json_t *c, *v;
	int bw = 0, rc;

	if (conf == NULL)
		return 0;
	if (!json_is_object(conf))
		return ebb_jconf_fail(&x, "hypervisor", "found %s, allowed an "
		    "object", ebb_json_kind(conf));
	/* The jconf readers take json_t *; a copy keeps the caller's const. */
	c = json_deep_copy(conf);
	if (c == NULL) {
		ebb_err_set(err, "libvirt driver: copying the configuration");
		return -ENOMEM;
	}
	/* An optional migrate_addr may be spelt null. */
	if ((v = json_object_get(c, "migrate_addr")) != NULL &&
	    json_is_null(v))
		json_object_del(c, "migrate_addr");
	if ((rc = ebb_jconf_keys(&x, "hypervisor", c, keys)) != 0 ||
	    (rc = ebb_jconf_string(&x, c, "driver", "hypervisor.driver",
	    driver, sizeof(driver), false)) != 0 ||
	    (rc = ebb_jconf_string(&x, c, "uri", "hypervisor.uri", d->uri,
	    sizeof(d->uri), false)) != 0 ||
	    (rc = ebb_jconf_string(&x, c, "peer_uri", "hypervisor.peer_uri",
	    d->peer_uri, sizeof(d->peer_uri), false)) != 0 ||
	    (rc = ebb_jconf_string(&x, c, "migrate_addr",
	    "hypervisor.migrate_addr", d->addr, sizeof(d->addr), false)) != 0 ||
	    (rc = ebb_jconf_number(&x, c, "downtime_ms",
	    "hypervisor.downtime_ms", &d->downtime_ms, 0,
	    LV_DOWNTIME_MAX_MS)) != 0 ||
	    (rc = ebb_jconf_int(&x, c, "bandwidth_mib",
	    "hypervisor.bandwidth_mib", &bw, 0, LV_BANDWIDTH_MAX)) != 0 ||
	    (rc = ebb_jconf_bool(&x, c, "auto_converge",
	    "hypervisor.auto_converge", &d->auto_converge)) != 0)
		goto out;
	if (strcmp(driver, "libvirt") != 0) {
		rc = ebb_jconf_fail(&x, "hypervisor.driver", "found \"%s\", "
		    "this is the libvirt driver", driver);
		goto out;
	}
	d->bandwidth_mib = (uint64_t)bw;
out:
	json_decref(c);
	return rc;
}

/*
 * Opens the connection and starts listening to its domain events.  conf
 * is the agent's "hypervisor" object (NULL: all defaults).  Fails, with
 * libvirt's words, if libvirt cannot be reached now.
 */
static int
lv_open(struct agt_driver **dp, const json_t *conf, struct ebb_err *err)
{
	struct lv_driver *d;
	int rc;

	*dp = NULL;
	d = ebb_calloc(1, sizeof(*d));
	d->base.ops = &agt_drv_libvirt;
	snprintf(d->uri, sizeof(d->uri), "%s", LV_DEFAULT_URI);
	d->cb_life = d->cb_job = -1;
	d->stats_flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
	d->pin_flags = VIR_DOMAIN_AFFECT_LIVE;
	d->tail = &d->head;
	d->efd = -1;
	pthread_mutex_init(&d->mtx, NULL);
	pthread_cond_init(&d->cv, NULL);
	if ((rc = lv_parse(d, conf, err)) != 0)
		goto fail;
	if (d->peer_uri[0] == '\0')
		snprintf(d->peer_uri, sizeof(d->peer_uri), "%s", d->uri);

	pthread_once(&lv_once, lv_global_init);
	if (lv_once_rc != 0) {
		rc = lv_fail(NULL, err, -EIO, "initialising", NULL);
		goto fail;
	}
	if ((d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		ebb_err_set(err, "libvirt driver: eventfd: %s",
		    strerror(errno));
		goto fail;
	}
	/* The loop runs before the connection opens: its keepalive and
	 * close detection register with the loop as it is made. */
	if ((rc = lv_loop_ref(err)) != 0)
		goto fail;
	if ((rc = lv_connect(d, err)) != 0) {
		lv_loop_unref();
		goto fail;
	}
	ebb_info("libvirt: connected to %s", d->uri);
	*dp = &d->base;
	return 0;
fail:
	if (d->efd >= 0)
		close(d->efd);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mtx);
	free(d);
	return rc;
}

static void lv_reap(struct lv_driver *, bool all);

/*
 * Closes the driver.  A migration still running is aborted (the VM then
 * stays here, running: the controller plans again) and its thread joined;
 * one past the point where QEMU can still abort it runs to its end first.
 * Events not yet read are dropped.
 */
static void
lv_close(struct agt_driver *base)
{
	struct lv_driver *d = (struct lv_driver *)base;
	struct lv_event *e;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mtx);
	d->closing = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mtx);
	lv_reap(d, true);
	lv_disconnect(d);
	/* After this no callback of ours runs on the loop thread. */
	lv_loop_unref();
	while ((e = d->head) != NULL) {
		d->head = e->next;
		free(e);
	}
	close(d->efd);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mtx);
	free(d);
}

static json_t *
lv_describe(struct agt_driver *base)
{
	struct lv_driver *d = (struct lv_driver *)base;

	return json_pack("{s:s, s:s?, s:s}", "peer", d->peer_uri,
	    "addr", d->addr[0] ? d->addr : NULL, "driver", "libvirt");
}

static int
lv_event_fd(struct agt_driver *base)
{
	return ((struct lv_driver *)base)->efd;
}

static int
lv_next_event(struct agt_driver *base, struct agt_drv_event *ev)
{
	struct lv_driver *d = (struct lv_driver *)base;
	struct lv_event *e;
	uint64_t n;
	bool mig;

	pthread_mutex_lock(&d->mtx);
	if ((e = d->head) != NULL) {
		d->head = e->next;
		if (d->head == NULL)
			d->tail = &d->head;
	}
	if (d->head == NULL && read(d->efd, &n, sizeof(n)) < 0 &&
	    errno != EAGAIN)
		ebb_warn("libvirt: eventfd: %s", strerror(errno));
	pthread_mutex_unlock(&d->mtx);
	if (e == NULL)
		return 0;
	*ev = e->ev;
	mig = e->ev.kind == AGT_DRV_MIG_DONE;
	free(e);
	if (mig)
		lv_reap(d, false);
	return 1;
}

/* ---- list ------------------------------------------------------------- */

static enum agt_vm_state
lv_state(int s)
{
	switch (s) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:	/* idle, waiting for an event */
	case VIR_DOMAIN_SHUTDOWN:	/* still running until it is off */
		return AGT_VM_RUNNING;
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		return AGT_VM_PAUSED;
	case VIR_DOMAIN_SHUTOFF:
		return AGT_VM_SHUTOFF;
	case VIR_DOMAIN_CRASHED:
		return AGT_VM_CRASHED;
	}
	return AGT_VM_OTHER;
}

/*
 * Fills one VM from its stats record (params NULL: there is none) and,
 * where a field is missing, from virDomainGetInfo and virDomainGetVcpus;
 * libvirt's test driver, for one, reports nothing but the state, and
 * QEMU's has no CPU time for a domain that is off.  1 if the domain is to
 * be left out (it vanished, or its name is too long), 0, or -errno.
 */
static int
lv_fill(struct lv_driver *d, virDomainPtr dom, virTypedParameterPtr p,
    int n, struct agt_vm_info *vm, struct ebb_err *err)
{
	const char *name = virDomainGetName(dom);
	bool have_state, have_cpu, have_vcpus, have_mem;
	unsigned long long cur = 0, max = 0, t;
	unsigned int nv = 0, vmax = 0;
	virDomainInfo info;
	char key[64];
	int state = VIR_DOMAIN_NOSTATE;
	bool active;

	if (name == NULL)
		return 1;
	if (strlen(name) > AGT_VM_ID_MAX) {
		if (!d->warned_long)
			ebb_warn("libvirt: leaving out domain %s: ebb takes "
			    "names of at most %d bytes", name, AGT_VM_ID_MAX);
		d->warned_long = true;
		return 1;
	}
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->id, sizeof(vm->id), "%s", name);

	have_state = virTypedParamsGetInt(p, n, "state.state", &state) == 1;
	have_cpu = virTypedParamsGetULLong(p, n, "cpu.time", &t) == 1;
	vm->cpu_ns = have_cpu ? t : 0;
	have_vcpus = virTypedParamsGetUInt(p, n, "vcpu.current", &nv) == 1;
	virTypedParamsGetUInt(p, n, "vcpu.maximum", &vmax);
	have_mem = virTypedParamsGetULLong(p, n, "balloon.current",
	    &cur) == 1 && virTypedParamsGetULLong(p, n,
	    "balloon.maximum", &max) == 1;
	virResetLastError();
	active = have_state && state != VIR_DOMAIN_SHUTOFF;

	if (!have_state || !have_vcpus || !have_mem ||
	    (active && !have_cpu)) {
		if (virDomainGetInfo(dom, &info) < 0) {
			if (lv_last_code() == VIR_ERR_NO_DOMAIN) {
				virResetLastError();
				return 1;	/* gone since it was listed */
			}
			return lv_fail(d, err, -EIO, "list", name);
		}
		if (!have_state)
			state = info.state;
		active = state != VIR_DOMAIN_SHUTOFF;
		if (!have_cpu && active)
			vm->cpu_ns = info.cpuTime;
		if (!have_vcpus)
			nv = info.nrVirtCpu;
		if (!have_mem) {
			cur = info.memory;
			max = info.maxMem;
		}
	}
	vm->state = lv_state(state);
	vm->vcpus = (int)EBB_MIN(nv, (unsigned int)INT_MAX);
	vm->mem_kb = cur;
	vm->mem_max_kb = max;

	/* vcpu.N.time for the vCPUs that are online, numbered as the
	 * guest numbers them (hot-plugged ones may leave gaps). */
	for (unsigned int i = 0; i < EBB_MAX(nv, vmax) &&
	    vm->nvcpu_ns < AGT_VM_VCPUS_MAX; i++) {
		snprintf(key, sizeof(key), "vcpu.%u.time", i);
		if (virTypedParamsGetULLong(p, n, key, &t) == 1)
			vm->vcpu_ns[vm->nvcpu_ns++] = t;
	}
	virResetLastError();
	if (vm->nvcpu_ns == 0 && active && nv > 0) {
		virVcpuInfoPtr vi = ebb_calloc(nv, sizeof(*vi));
		int got = virDomainGetVcpus(dom, vi, (int)nv, NULL, 0);

		for (int i = 0; i < got && vm->nvcpu_ns < AGT_VM_VCPUS_MAX; i++)
			vm->vcpu_ns[vm->nvcpu_ns++] = vi[i].cpuTime;
		if (got < 0) {
			ebb_debug("libvirt: %s: no per-vCPU times", name);
			virResetLastError();
		}
		free(vi);
	}
	pthread_mutex_lock(&d->mtx);
	vm->migrating = lv_mig_find_locked(d, name) != NULL;
	pthread_mutex_unlock(&d->mtx);
	return 0;
}

/*
 * All domains, active and inactive, from one virConnectGetAllDomainStats
 * (NOWAIT: a domain busy with a job gives what it has without blocking the
 * agent).  A libvirt without it gets virConnectListAllDomains and a
 * virDomainGetInfo per domain.
 */
static int
lv_list(struct agt_driver *base, struct agt_vm_info **vmsp, int *np,
    struct ebb_err *err)
{
	struct lv_driver *d = (struct lv_driver *)base;
	virDomainStatsRecordPtr *recs = NULL;
	virDomainPtr *doms = NULL;
	struct agt_vm_info *vms;
	int n, k = 0, rc = 0;

	*vmsp = NULL;
	*np = 0;
	if ((rc = lv_ready(d, err)) != 0)
		return rc;
	n = virConnectGetAllDomainStats(d->conn, LV_STATS, &recs,
	    d->stats_flags);
	if (n < 0 && d->stats_flags != 0 &&
	    lv_last_code() == VIR_ERR_INVALID_ARG) {
		/* A daemon older than 4.5 knows no NOWAIT. */
		d->stats_flags = 0;
		n = virConnectGetAllDomainStats(d->conn, LV_STATS, &recs, 0);
	}
	if (n < 0 && lv_last_code() == VIR_ERR_NO_SUPPORT)
		n = virConnectListAllDomains(d->conn, &doms, 0);
	if (n < 0)
		return lv_fail(d, err, -EIO, "list", NULL);

	vms = ebb_calloc(n > 0 ? (size_t)n : 1, sizeof(*vms));
	for (int i = 0; i < n; i++) {
		virDomainPtr dom = recs ? recs[i]->dom : doms[i];

		rc = lv_fill(d, dom, recs ? recs[i]->params : NULL,
		    recs ? recs[i]->nparams : 0, &vms[k], err);
		if (rc < 0)
			break;
		if (rc == 0)
			k++;
		rc = 0;
	}
	if (recs != NULL)
		virDomainStatsRecordListFree(recs);
	if (doms != NULL) {
		for (int i = 0; i < n; i++)
			virDomainFree(doms[i]);
		free(doms);
	}
	if (rc != 0) {
		free(vms);
		return rc;
	}
	*vmsp = vms;
	*np = k;
	return 0;
}

/* ---- start, stop, pin ------------------------------------------------- */

static int
lv_start(struct agt_driver *base, const char *vm, struct ebb_err *err)
{
	struct lv_driver *d = (struct lv_driver *)base;
	virDomainPtr dom;
	int rc;

	if ((dom = lv_lookup(d, vm, "start", &rc, err)) == NULL)
		return rc;
	/* Asked first: drivers word "already running" differently (QEMU's
	 * is OPERATION_INVALID, the test driver's an internal error). */
	if ((rc = lv_active(d, dom, "start", vm, err)) > 0) {
		ebb_err_set(err, "libvirt: start %s: already running", vm);
		rc = -EEXIST;
	} else if (rc == 0 && virDomainCreate(dom) < 0) {
		rc = lv_fail(d, err, -EEXIST, "start", vm);
	}
	virDomainFree(dom);
	return rc;
}

/* Shutdown asks the guest (ACPI) and returns; destroy pulls the plug. */
static int
lv_stop(struct agt_driver *base, const char *vm, bool force,
    struct ebb_err *err)
{
	struct lv_driver *d = (struct lv_driver *)base;
	virDomainPtr dom;
	int rc;

	if ((dom = lv_lookup(d, vm, "stop", &rc, err)) == NULL)
		return rc;
	if ((rc = lv_active(d, dom, "stop", vm, err)) == 0) {
		ebb_err_set(err, "libvirt: stop %s: not running", vm);
		rc = -EINVAL;
	} else if (rc > 0) {
		rc = 0;
		rc = force ? virDomainDestroy(dom) : virDomainShutdown(dom);
		if (rc < 0)
			rc = lv_fail(d, err, -EINVAL, "stop", vm);
	}
	virDomainFree(dom);
	return rc;
}

/*
 * The cpumap of the cpus in the set that the host has online; its length
 * in *maplen.  NULL with err filled if there is none.
 */
static unsigned char *
lv_cpumap(struct lv_driver *d, const char *vm, const struct pwr_mask *cpus,
    int *maplen, int *rc, struct ebb_err *err)
{
	unsigned char *online = NULL, *map;
	char list[PWR_CPULIST_LEN];
	int ncpu, k = 0;

	if ((ncpu = virNodeGetCPUMap(d->conn, &online, NULL, 0)) < 0) {
		*rc = lv_fail(d, err, -EIO, "pin", vm);
		return NULL;
	}
	*maplen = VIR_CPU_MAPLEN(ncpu);
	map = ebb_calloc(1, (size_t)*maplen);
	for (int c = 0; c < ncpu; c++)
		if (pwr_mask_test(cpus, c) && VIR_CPU_USED(online, c)) {
			VIR_USE_CPU(map, c);
			k++;
		}
	free(online);
	if (k == 0) {
		pwr_cpulist_format(cpus, list, sizeof(list));
		ebb_err_set(err, "libvirt: pin %s: none of cpus %s is online "
		    "on this host", vm, list);
		free(map);
		*rc = -EINVAL;
		return NULL;
	}
	return map;
}

/*
 * Pins every online vCPU of a running domain, then its emulator threads,
 * to the cpus of the set that the host has online, for the running domain
 * only (VIR_DOMAIN_AFFECT_LIVE: parking must not outlive the domain's
 * run).  A driver that refuses AFFECT_LIVE for vCPU pinning (libvirt's
 * test driver takes no flags) gets AFFECT_CURRENT, which for a running
 * domain is the same; one with no emulator pinning is pinned vCPUs only.
 */
static int
lv_pin(struct agt_driver *base, const char *vm, const struct pwr_mask *cpus,
    struct ebb_err *err)
{
	struct lv_driver *d = (struct lv_driver *)base;
	virVcpuInfoPtr vi = NULL;
	unsigned char *map = NULL;
	virDomainPtr dom;
	int maplen, nmax, nv, rc;

	if (pwr_mask_count(cpus) == 0) {
		ebb_err_set(err, "libvirt: pin %s: the cpu set is empty",
		    vm ? vm : "");
		return -EINVAL;
	}
	if ((dom = lv_lookup(d, vm, "pin", &rc, err)) == NULL)
		return rc;
	if ((map = lv_cpumap(d, vm, cpus, &maplen, &rc, err)) == NULL)
		goto out;
	nmax = virDomainGetVcpusFlags(dom, VIR_DOMAIN_AFFECT_LIVE |
	    VIR_DOMAIN_VCPU_MAXIMUM);
	if (nmax < 0) {
		rc = lv_fail(d, err, -EINVAL, "pin", vm);
		goto out;
	}
	vi = ebb_calloc(nmax > 0 ? (size_t)nmax : 1, sizeof(*vi));
	if ((nv = virDomainGetVcpus(dom, vi, nmax, NULL, 0)) < 0) {
		rc = lv_fail(d, err, -EINVAL, "pin", vm);
		goto out;
	}
	for (int i = 0; i < nv; i++) {
		if (virDomainPinVcpuFlags(dom, vi[i].number, map, maplen,
		    d->pin_flags) == 0)
			continue;
		if (i == 0 && d->pin_flags == VIR_DOMAIN_AFFECT_LIVE &&
		    lv_last_code() == VIR_ERR_INVALID_ARG) {
			virResetLastError();
			d->pin_flags = VIR_DOMAIN_AFFECT_CURRENT;
			i--;
			continue;
		}
		rc = lv_fail(d, err, -EINVAL, "pin", vm);
		goto out;
	}
	if (virDomainPinEmulator(dom, map, maplen, d->pin_flags) < 0) {
		if (lv_last_code() != VIR_ERR_NO_SUPPORT) {
			rc = lv_fail(d, err, -EINVAL, "pin emulator of", vm);
			goto out;
		}
		virResetLastError();
	}
out:
	free(vi);
	free(map);
	virDomainFree(dom);
	return rc;
}

/* ---- migration -------------------------------------------------------- */

static void
lv_mig_free(struct lv_mig *m)
{
	virDomainFree(m->dom);
	virTypedParamsFree(m->params, m->nparams);
	free(m->peer);
	free(m);
}

/*
 * A migration's thread: the whole migration is one blocking libvirt call.
 * Peer-to-peer, the source libvirtd connects to the peer's itself and
 * drives all phases, so the agent needs no credentials for the target.
 */
static void *
lv_mig_run(void *arg)
{
	struct lv_mig *m = arg;
	struct lv_driver *d = m->d;
	struct agt_drv_event ev;
	struct timespec until;
	virConnectPtr conn;
	virDomainPtr dom = NULL;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.kind = AGT_DRV_MIG_DONE;
	snprintf(ev.vm, sizeof(ev.vm), "%s", m->vm);
	/*
	 * On a connection of its own: a call that blocks for the whole
	 * migration on the caller's connection made the caller's quick calls
	 * (listing, progress) wait up to a keepalive interval (5 s) each
	 * behind it in libvirt's client, and the agent fall silent.  The
	 * shared handle stays for aborting it.
	 */
	if ((conn = virConnectOpen(d->uri)) != NULL &&
	    (dom = virDomainLookupByName(conn, m->vm)) == NULL) {
		virConnectClose(conn);
		conn = NULL;
	}
	virResetLastError();
	rc = virDomainMigrateToURI3(dom != NULL ? dom : m->dom, m->peer,
	    m->params, m->nparams, m->flags);
	if (rc == 0) {
		ev.ok = true;
	} else {
		virErrorPtr e = virGetLastError();

		snprintf(ev.error, sizeof(ev.error), "libvirt: migrate %s: %s",
		    m->vm, e && e->message ? e->message : "unknown error");
		virResetLastError();
	}
	if (dom != NULL) {
		virDomainFree(dom);
		virConnectClose(conn);
		virResetLastError();
	}

	pthread_mutex_lock(&d->mtx);
	if (rc == 0) {
		/* The job-completed event may come just after the reply. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += LV_STATS_WAIT_MS / 1000;
		until.tv_nsec += (LV_STATS_WAIT_MS % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!m->have_stats && !d->closing &&
		    pthread_cond_timedwait(&d->cv, &d->mtx, &until) == 0)
			;
		if (!m->have_stats)
			ebb_debug("libvirt: migrate %s: no final figures",
			    m->vm);
	}
	ev.stats = m->stats;
	m->done = true;
	lv_queue_locked(d, &ev);
	pthread_mutex_unlock(&d->mtx);
	return NULL;
}

/*
 * Joins and frees finished migrations; with all, first aborts and then
 * waits for those still running (close).  The caller's thread only.
 */
static void
lv_reap(struct lv_driver *d, bool all)
{
	struct lv_mig **mp, *m;
	struct timespec until;
	bool done;

	for (mp = &d->migs; (m = *mp) != NULL;) {
		pthread_mutex_lock(&d->mtx);
		done = m->done;
		pthread_mutex_unlock(&d->mtx);
		if (!done && !all) {
			mp = &m->next;
			continue;
		}
		/*
		 * A job that has not begun yet cannot be aborted, hence
		 * the retries; one past its switch-over cannot be either,
		 * and ends by itself.
		 */
		while (!done) {
			if (virDomainAbortJob(m->dom) == 0)
				ebb_info("libvirt: migrate %s: aborted",
				    m->vm);
			virResetLastError();
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += LV_ABORT_RETRY_MS / 1000;
			if (pthread_timedjoin_np(m->thread, NULL, &until) == 0)
				break;
			pthread_mutex_lock(&d->mtx);
			done = m->done;
			pthread_mutex_unlock(&d->mtx);
		}
		if (done)
			pthread_join(m->thread, NULL);
		/* Unlinked under the lock: the callbacks walk the list. */
		pthread_mutex_lock(&d->mtx);
		*mp = m->next;
		pthread_mutex_unlock(&d->mtx);
		lv_mig_free(m);
	}
}

/*
 * Starts an outgoing live migration to req->peer (the target's libvirt
 * URI, as its describe() gave it), streaming to req->addr if given.  What
 * can be checked at once is (no such VM, not running, one already
 * migrating: -EBUSY, a downtime limit the hypervisor cannot set); the rest
 * arrives as AGT_DRV_MIG_DONE.
 *
 * libvirt 9.0 has no migration parameter for the downtime limit:
 * virDomainMigrateSetMaxDowntime sets it, and since libvirt 1.2.9 it may
 * be called before the migration starts (QEMU keeps the limit for the
 * next one), so it is set here rather than raced against the job.
 * req->token is not used: libvirt authenticates its peers itself (TLS,
 * SASL) and its protocol has no place for it.
 */
static int
lv_migrate(struct agt_driver *base, const struct agt_mig_req *req,
    struct ebb_err *err)
{
	struct lv_driver *d = (struct lv_driver *)base;
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, rc;
	uint64_t bw;
	double downtime;
	virDomainPtr dom;
	struct lv_mig *m;
	bool busy;

	if ((rc = lv_check_id(req->vm, "migrate", err)) != 0)
		return rc;
	if (req->peer == NULL || req->peer[0] == '\0') {
		ebb_err_set(err, "libvirt: migrate %s: no target URI", req->vm);
		return -EINVAL;
	}
	lv_reap(d, false);
	pthread_mutex_lock(&d->mtx);
	busy = lv_mig_find_locked(d, req->vm) != NULL;
	pthread_mutex_unlock(&d->mtx);
	if (busy) {
		ebb_err_set(err, "libvirt: migrate %s: a migration of it is "
		    "running already", req->vm);
		return -EBUSY;
	}
	if ((dom = lv_lookup(d, req->vm, "migrate", &rc, err)) == NULL)
		return rc;
	if ((rc = lv_active(d, dom, "migrate", req->vm, err)) <= 0) {
		if (rc == 0) {
			ebb_err_set(err, "libvirt: migrate %s: not running",
			    req->vm);
			rc = -EINVAL;
		}
		goto fail;
	}
	rc = 0;
	downtime = req->downtime_ms > 0 ? req->downtime_ms : d->downtime_ms;
	if (downtime > 0 && virDomainMigrateSetMaxDowntime(dom,
	    EBB_MAX((unsigned long long)(downtime + 0.5), 1ULL), 0) < 0) {
		rc = lv_fail(d, err, -EBUSY, "migrate", req->vm);
		goto fail;
	}
	bw = req->bandwidth_mib > 0 ? req->bandwidth_mib : d->bandwidth_mib;
	if ((req->addr != NULL && req->addr[0] != '\0' &&
	    virTypedParamsAddString(&params, &nparams, &maxparams,
	    VIR_MIGRATE_PARAM_URI, req->addr) < 0) ||
	    (bw > 0 && virTypedParamsAddULLong(&params, &nparams, &maxparams,
	    VIR_MIGRATE_PARAM_BANDWIDTH, bw) < 0)) {
		rc = lv_fail(d, err, -EINVAL, "migrate", req->vm);
		goto fail;
	}

	m = ebb_calloc(1, sizeof(*m));
	m->d = d;
	m->dom = dom;
	snprintf(m->vm, sizeof(m->vm), "%s", req->vm);
	m->peer = ebb_strdup(req->peer);
	m->params = params;
	m->nparams = nparams;
	m->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
	    VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
	if (req->auto_converge || d->auto_converge)
		m->flags |= VIR_MIGRATE_AUTO_CONVERGE;
	/* Listed before the thread runs: its end finds itself there. */
	pthread_mutex_lock(&d->mtx);
	m->next = d->migs;
	d->migs = m;
	pthread_mutex_unlock(&d->mtx);
	if ((rc = lv_thread_start(&m->thread, lv_mig_run, m)) != 0) {
		ebb_err_set(err, "libvirt: migrate %s: thread: %s", req->vm,
		    strerror(-rc));
		pthread_mutex_lock(&d->mtx);
		d->migs = m->next;
		pthread_mutex_unlock(&d->mtx);
		lv_mig_free(m);
		return rc;
	}
	ebb_info("libvirt: migrate %s to %s: started", req->vm, req->peer);
	return 0;
fail:
	virTypedParamsFree(params, nparams);
	virDomainFree(dom);
	return rc;
}

/* The running job's figures; -EINVAL if the domain has no job. */
static int
lv_migrate_progress(struct agt_driver *base, const char *vm,
    struct agt_mig_progress *pr, struct ebb_err *err)
{
	struct lv_driver *d = (struct lv_driver *)base;
	virTypedParameterPtr p = NULL;
	int type, n = 0, rc;
	virDomainPtr dom;

	memset(pr, 0, sizeof(*pr));
	if ((dom = lv_lookup(d, vm, "migration progress of", &rc, err)) == NULL)
		return rc;
	if (virDomainGetJobStats(dom, &type, &p, &n, 0) < 0) {
		rc = lv_fail(d, err, -EINVAL, "migration progress of", vm);
	} else if (type == VIR_DOMAIN_JOB_NONE) {
		ebb_err_set(err, "libvirt: migration progress of %s: no job is "
		    "running", vm);
		rc = -EINVAL;
	} else {
		lv_job_stats(p, n, pr);
	}
	virTypedParamsFree(p, n);
	virDomainFree(dom);
	return rc;
}

/*
 * Aborts the domain's job, whoever started it (an agent restarted during
 * a migration can still abort it).  The migration's end, if it was ours,
 * comes as AGT_DRV_MIG_DONE with ok false.
 */
static int
lv_migrate_abort(struct agt_driver *base, const char *vm,
    struct ebb_err *err)
{
	struct lv_driver *d = (struct lv_driver *)base;
	virDomainPtr dom;
	int rc;

	if ((dom = lv_lookup(d, vm, "abort migration of", &rc, err)) == NULL)
		return rc;
	if (virDomainAbortJob(dom) < 0)
		rc = lv_fail(d, err, -EINVAL, "abort migration of", vm);
	virDomainFree(dom);
	return rc;
}

const struct agt_driver_ops agt_drv_libvirt = {
	.name = "libvirt",
	.open = lv_open,
	.close = lv_close,
	.describe = lv_describe,
	.event_fd = lv_event_fd,
	.next_event = lv_next_event,
	.list = lv_list,
	.start = lv_start,
	.stop = lv_stop,
	.pin = lv_pin,
	.migrate = lv_migrate,
	.migrate_progress = lv_migrate_progress,
	.migrate_abort = lv_migrate_abort,
};
