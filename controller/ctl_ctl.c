/*
 * ctl_ctl.c - the controller's event loop, agent connections, fleet state,
 * control rounds and the orchestrator.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_bus.h"
#include "ctl_jnl.h"
#include "ctl_web.h"
#include "ebb_log.h"
#include "ebb_loop.h"
#include "ebb_net.h"

#define CTL_OUT_MAX	(8 * 1024 * 1024)
#define CTL_CONNS_MAX	4096
/*
 * A peer has this long from connecting to finishing its TLS handshake and
 * saying hello; one that connects and says nothing would hold a
 * connection slot (of CTL_CONNS_MAX) for no one.
 */
#define CTL_HELLO_TIMEOUT_S	5
/*
 * Host names refused at hello that are remembered, so that each is logged
 * once however often its agent retries.  A peer inventing names (plain
 * TCP) goes past them and is logged as conn_refuse() logs.
 */
#define CTL_UNLISTED_MAX	256

enum { TAG_TIMER = 1, TAG_SIGNAL, TAG_LISTEN, TAG_HTTP = CTL_TAG_HTTP,
	TAG_HELLO, TAG_BUS = CTL_TAG_BUS, TAG_CONN = 16 };

static void	conn_close(struct ctl *, int ci, const char *why);
static void	conn_refuse(struct ctl *, int ci, const char *why);
static void	take_vms(struct ctl *, int hi, json_t *vms);

/* ---- host state --------------------------------------------------------- */

int
ctl_host_find(const struct ctl *c, const char *name)
{
	for (int i = 0; i < c->nhosts; i++)
		if (strcmp(c->hosts[i].conf.name, name) == 0)
			return i;
	return -1;
}

/* Every state change is journalled before it takes effect. */
static void
set_state(struct ctl *c, int hi, enum pol_host_state to, const char *why,
    int64_t decision)
{
	struct ctl_host *h = &c->hosts[hi];

	if (h->state == to)
		return;
	ctl_jnl_state(c, "host", h->conf.name, pol_host_state_name(h->state),
	    pol_host_state_name(to), why, decision);
	ebb_info("host %s: %s -> %s (%s)", h->conf.name,
	    pol_host_state_name(h->state), pol_host_state_name(to), why);
	h->state = to;
	h->state_since = ebb_monoclock();
	if (to == POL_HOST_FAILED)
		h->power_held = true;
}

static int
host_add(struct ctl *c, const char *name)
{
	struct ctl_host *h;

	c->hosts = ebb_reallocarray(c->hosts, c->nhosts + 1,
	    sizeof(*c->hosts));
	h = &c->hosts[c->nhosts];
	memset(h, 0, sizeof(*h));
	snprintf(h->conf.name, sizeof(h->conf.name), "%s", name);
	h->conf.pe_mips = c->cfg.default_pe_mips;
	h->conf.power_w = c->cfg.default_power_w;
	h->conn = -1;
	/*
	 * A host nobody has heard from is unknown: never switched off,
	 * never a target, until its agent says hello.
	 */
	h->state = POL_HOST_UNKNOWN;
	h->state_since = ebb_monoclock();
	return c->nhosts++;
}

/* ---- VMs ------------------------------------------------------------------- */

static int
vm_find(const struct ctl *c, const char *id)
{
	for (int i = 0; i < c->nvms; i++)
		if (strcmp(c->vms[i].id, id) == 0)
			return i;
	return -1;
}

static int
vm_get(struct ctl *c, const char *id)
{
	int i = vm_find(c, id);

	if (i >= 0)
		return i;
	if (c->nvms >= CTL_VMS_MAX)
		return -1;
	if (c->nvms == c->cvms) {
		c->cvms = c->cvms ? c->cvms * 2 : 64;
		c->vms = ebb_reallocarray(c->vms, c->cvms, sizeof(*c->vms));
	}
	memset(&c->vms[c->nvms], 0, sizeof(c->vms[0]));
	snprintf(c->vms[c->nvms].id, sizeof(c->vms[0].id), "%s", id);
	c->vms[c->nvms].host = -1;
	return c->nvms++;
}

/* ---- connections: output ---------------------------------------------------- */

static void
conn_want_write(struct ctl *c, int ci, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
		.data.u32 = TAG_CONN + ci };

	epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->conns[ci].fd, &ev);
}

static void
conn_flush(struct ctl *c, int ci)
{
	struct ctl_conn *k = &c->conns[ci];
	struct ebb_err err;
	int rc = ebb_outq_send(&k->out, k->fd, k->tls, &err);

	if (rc < 0) {
		conn_close(c, ci, err.msg);
		return;
	}
	conn_want_write(c, ci, k->out.len > 0 || (k->tls != NULL &&
	    ebb_tls_want_write(k->tls)));
}

/* Sends a message (consumed) to connection ci; 0 or -errno. */
static int
conn_send(struct ctl *c, int ci, json_t *m)
{
	int rc;

	if (c->conns[ci].bus)
		return ctl_bus_send(c, ci, m);
	rc = ebb_outq_push(&c->conns[ci].out, m, CTL_OUT_MAX);

	if (rc != 0) {
		if (rc == -ENOBUFS)
			conn_close(c, ci, "agent is not reading");
		return rc;
	}
	conn_flush(c, ci);
	return 0;
}

static json_t *
msg_to(struct ctl *c, int ci, const char *type, const char *host)
{
	(void)c;
	return ebb_msg_new(type, host, c->conns[ci].seq++, ebb_wallclock());
}

static void
conn_error(struct ctl *c, int ci, const char *host, json_t *ref,
    const char *why)
{
	json_t *m = msg_to(c, ci, "error", host ? host : "-");

	c->stats.bad_messages++;
	json_object_set_new(m, "error", json_string(why));
	json_object_set(m, "ref", ref ? ref : json_null());
	conn_send(c, ci, m);
}

/* Sends a command to a host's agent; returns the command's seq or -errno. */
static int64_t
host_command(struct ctl *c, int hi, const char *op, json_t *args)
{
	struct ctl_host *h = &c->hosts[hi];
	json_t *m;
	uint64_t seq;

	if (h->conn < 0) {
		json_decref(args);
		return -ENOTCONN;
	}
	seq = c->conns[h->conn].seq;
	m = msg_to(c, h->conn, "command", h->conf.name);
	json_object_set_new(m, "cmd", json_integer((json_int_t)seq));
	json_object_set_new(m, "op", json_string(op));
	if (args != NULL) {
		json_object_update(m, args);
		json_decref(args);
	}
	if (conn_send(c, h->conn, m) != 0)
		return -EIO;
	return (int64_t)seq;
}

/* ---- connections: input -------------------------------------------------------- */

/*
 * 1: name was not refused before, and is now remembered; 0: it was; -1:
 * it was not, and there is no room left to remember it.
 */
static int
unlisted_note(struct ctl *c, const char *name)
{
	for (int i = 0; i < c->nunlisted; i++)
		if (strcmp(c->unlisted[i], name) == 0)
			return 0;
	if (c->nunlisted >= CTL_UNLISTED_MAX)
		return -1;
	c->unlisted = ebb_reallocarray(c->unlisted, c->nunlisted + 1,
	    sizeof(*c->unlisted));
	c->unlisted[c->nunlisted++] = ebb_strdup(name);
	return 1;
}

/*
 * A hello from a host the configuration does not list, when it lists
 * hosts ("unlisted_hosts"): an error that says the way out, and the
 * connection closed.  Its agent retries with backoff for ever, so the
 * log says it once per host name.  (On the bus there is no connection
 * to close: its reports go unheeded, and the hellos ctl_bus.c asks for
 * now and then are refused the same way.)
 */
static void
refuse_unlisted(struct ctl *c, int ci, const struct ebb_msg *m)
{
	char why[512];
	int first;

	snprintf(why, sizeof(why), "host \"%s\" is not in the controller's "
	    "\"hosts\" list: add it there, or set \"unlisted_hosts\": "
	    "\"accept\" in the controller's configuration", m->host);
	conn_error(c, ci, m->host, json_object_get(m->obj, "seq"), why);
	if ((first = unlisted_note(c, m->host)) < 0) {
		conn_refuse(c, ci, why);
		return;
	}
	c->stats.refused++;
	if (first)
		ebb_warn("agent connection from %s refused: %s (said once "
		    "per host)", c->conns[ci].peer, why);
	conn_close(c, ci, why);
}

static void
on_hello(struct ctl *c, int ci, const struct ebb_msg *m)
{
	int hi = ctl_host_find(c, m->host);
	struct ctl_host *h;
	json_t *v;

	/* One connection is one host: it cannot say hello as another. */
	if (c->conns[ci].host >= 0 && c->conns[ci].host != hi) {
		conn_error(c, ci, m->host, json_object_get(m->obj, "seq"),
		    "this connection already said hello as another host");
		conn_close(c, ci, "hello as a second host");
		return;
	}
	if (hi < 0) {
		if (c->cfg.unlisted_hosts == CTL_UNLISTED_REFUSE) {
			refuse_unlisted(c, ci, m);
			return;
		}
		/* Hosts not listed are accepted, but not without bound. */
		if (c->nhosts >= CTL_HOSTS_MAX) {
			conn_error(c, ci, m->host, NULL, "too many hosts");
			conn_close(c, ci, "host table full");
			return;
		}
		hi = host_add(c, m->host);
	}
	h = &c->hosts[hi];
	if (h->conn >= 0 && h->conn != ci) {
		/*
		 * Two agents claiming one host name: the newer wins, as a
		 * restarted agent reconnects before the old socket times out.
		 */
		conn_close(c, h->conn, "replaced by a newer connection");
	}
	h->conn = ci;
	c->conns[ci].host = hi;
	h->hello = true;
	h->last_seen = ebb_monoclock();
	if ((v = json_object_get(m->obj, "cores")) && json_is_integer(v))
		h->cores = (int)json_integer_value(v);
	if ((v = json_object_get(m->obj, "mem_kb")) && json_is_integer(v))
		h->mem_kb = (uint64_t)json_integer_value(v);
	if ((v = json_object_get(m->obj, "hypervisor")) && json_is_string(v))
		snprintf(h->hypervisor, sizeof(h->hypervisor), "%s",
		    json_string_value(v));
	if ((v = json_object_get(m->obj, "cpu")) && json_is_object(v)) {
		json_t *vendor = json_object_get(v, "vendor");
		json_t *flags = json_object_get(v, "flags");

		snprintf(h->cpu_vendor, sizeof(h->cpu_vendor), "%s",
		    json_is_string(vendor) ? json_string_value(vendor) : "");
		json_decref(h->cpu_flags);
		h->cpu_flags = json_is_array(flags) ? json_incref(flags) : NULL;
	}
	v = json_object_get(m->obj, "migrate");
	json_decref(h->migrate);
	h->migrate = json_is_object(v) && json_is_string(json_object_get(v,
	    "peer")) ? json_incref(v) : NULL;
	/* Until its first report the hello's list is all we know. */
	take_vms(c, hi, json_object_get(m->obj, "vms"));
	h->reported = false;
	/* A hello from the past (ctl_bus.c) says nothing of now. */
	if (c->replaying)
		return;
	if (h->state == POL_HOST_POWERING_ON && h->power_decision > 0) {
		ctl_jnl_power_end(c, h->power_action, true);
		ctl_jnl_outcome(c, h->power_decision, "done");
	}
	if (h->state == POL_HOST_MAINTENANCE)
		return;
	/*
	 * An agent saying hello is a host that runs, whatever the controller
	 * believed: coming back from off or unknown, or failed and fixed.
	 * One that failed is used again but keeps power_held: its power
	 * path failed once, and only an operator may let it cycle again.
	 */
	set_state(c, hi, POL_HOST_ON, "agent said hello", 0);
}

/*
 * The commands a host's connection carried die with it: their results were
 * numbered on that connection.  A migration may still be running in the
 * hypervisor, so it is neither done nor failed; the next reports say where
 * the VM is (resolve_orphans).  Until then the VM stays "migrating" and the
 * journal keeps the migration in flight, so neither host is powered off.
 */
static void
orphan_pending(struct ctl *c, int hi)
{
	for (int i = 0; i < c->npending; i++) {
		struct ctl_pending *p = &c->pending[i];

		if (p->host != hi || p->orphan)
			continue;
		p->orphan = true;
		if (p->vm >= 0)
			ebb_warn("migration of %s: the source agent %s went "
			    "away; waiting for reports to say where the VM "
			    "runs", c->vms[p->vm].id, c->hosts[hi].conf.name);
	}
}

static void
pending_end(struct ctl *c, int i, bool ok, const char *outcome)
{
	struct ctl_pending *p = &c->pending[i];

	ctl_jnl_outcome(c, p->decision, outcome);
	ctl_jnl_migration_end(c, p->mig, ok);
	if (p->vm >= 0) {
		struct ctl_vm *v = &c->vms[p->vm];

		v->migrating = false;
		/*
		 * Where it runs now, before the target's next report says
		 * so: the next round must not plan with the VM on a source
		 * that no longer has it.
		 */
		if (ok && p->to >= 0 && v->host != p->to) {
			if (v->host >= 0 && c->hosts[v->host].nvms > 0)
				c->hosts[v->host].nvms--;
			v->host = p->to;
			v->seen = true;
			c->hosts[p->to].nvms++;
		}
	}
	*p = c->pending[--c->npending];
}

/* The migration in flight of VM vi, or NULL. */
static const struct ctl_pending *
vm_pending(const struct ctl *c, int vi)
{
	for (int i = 0; i < c->npending; i++)
		if (c->pending[i].vm == vi)
			return &c->pending[i];
	return NULL;
}

/* How a host's latest report lists a VM. */
enum vm_seen {
	VS_UNTOLD,	/* no report on its agent's current connection yet */
	VS_ABSENT,
	VS_OUTGOING,	/* its migration out is still running */
	VS_RUNNING,
	VS_PAUSED,	/* on a target: also a migration still coming in */
	VS_OTHER,	/* defined, not running */
};

static enum vm_seen
vm_seen_in(const struct ctl *c, int hi, const char *id)
{
	const struct ctl_host *h = &c->hosts[hi];
	const char *st;
	json_t *v;
	size_t k;

	/* A report from before the agent's latest hello says nothing of
	 * now: it may predate the migration. */
	if (h->conn < 0 || !h->reported || h->report == NULL)
		return VS_UNTOLD;
	json_array_foreach(json_object_get(h->report, "vms"), k, v) {
		json_t *vid = json_object_get(v, "id");

		if (!json_is_string(vid) || strcmp(json_string_value(vid),
		    id) != 0)
			continue;
		if (json_is_true(json_object_get(v, "migrating")))
			return VS_OUTGOING;
		st = json_string_value(json_object_get(v, "state"));
		if (st == NULL || strcmp(st, "running") == 0)
			return VS_RUNNING;
		return strcmp(st, "paused") == 0 ? VS_PAUSED : VS_OTHER;
	}
	return VS_ABSENT;
}

/*
 * After a report from host hi: an orphaned migration (its result will not
 * come) ends as the latest reports of its source and target say.  While
 * it runs the target lists the VM too, paused, waiting for the stream: so
 * it is done only when the target runs the VM and the source does not,
 * and failed only when the source has it, no migration running, and the
 * target neither runs it nor is still receiving it.  Anything else waits
 * for the next reports; the VM stays "migrating" and neither host is
 * switched off meanwhile.  An orphaned command without a VM just ends.
 */
static void
resolve_orphans(struct ctl *c, int hi, json_t *rep)
{
	(void)rep;
	for (int i = c->npending - 1; i >= 0; i--) {
		struct ctl_pending *p = &c->pending[i];
		enum vm_seen s, t;
		const char *id;

		if (!p->orphan || (p->host != hi && p->to != hi))
			continue;
		if (p->vm < 0) {
			if (p->host == hi)
				pending_end(c, i, false, "in doubt: the agent "
				    "reconnected before answering");
			continue;
		}
		id = c->vms[p->vm].id;
		s = vm_seen_in(c, p->host, id);
		t = p->to >= 0 ? vm_seen_in(c, p->to, id) : VS_UNTOLD;
		if (s == VS_OUTGOING)
			continue;
		if (t == VS_RUNNING && s != VS_RUNNING) {
			if (s == VS_PAUSED)
				ebb_warn("migration of %s: it runs on %s, and "
				    "a paused copy is left on %s", id,
				    c->hosts[p->to].conf.name,
				    c->hosts[p->host].conf.name);
			/* Outcomes are "done" or "failed: why", nothing
			 * else (ctl_jnl_outcome): how it was learned is
			 * logged. */
			ebb_info("migration of %s to %s: done (learned from "
			    "the reports)", id, c->hosts[p->to].conf.name);
			pending_end(c, i, true, "done");
		} else if ((s == VS_RUNNING || s == VS_PAUSED) &&
		    t != VS_RUNNING && t != VS_PAUSED) {
			pending_end(c, i, false, "failed: the VM is still on "
			    "its source (learned from the reports)");
		} else if (s == VS_RUNNING && t == VS_RUNNING) {
			ebb_err_log("migration of %s: both %s and %s report "
			    "it running", id, c->hosts[p->host].conf.name,
			    c->hosts[p->to].conf.name);
		}
	}
}

/* The VMs a host's hello or report lists: where they run, how busy. */
static void
take_vms(struct ctl *c, int hi, json_t *vms)
{
	struct ctl_host *h = &c->hosts[hi];
	const struct ctl_pending *mp;
	json_t *v;
	size_t i;

	for (int k = 0; k < c->nvms; k++)
		if (c->vms[k].host == hi)
			c->vms[k].seen = false;
	h->nvms = 0;
	json_array_foreach(vms, i, v) {
		json_t *id = json_object_get(v, "id");
		json_t *u = json_object_get(v, "cpu");
		json_t *n = json_object_get(v, "vcpus");
		json_t *mem = json_object_get(v, "mem_mb");
		json_t *st = json_object_get(v, "state");
		struct ctl_vm *vm;
		int vi;

		if (!json_is_string(id) || json_string_length(id) == 0 ||
		    json_string_length(id) >= sizeof(vm->id))
			continue;
		/* A domain defined but not running uses nothing here and
		 * cannot be migrated live: not a VM to place. */
		if (json_is_string(st) && strcmp(json_string_value(st),
		    "running") != 0 && strcmp(json_string_value(st),
		    "paused") != 0)
			continue;
		if ((vi = vm_get(c, json_string_value(id))) < 0)
			continue;
		vm = &c->vms[vi];
		/*
		 * While its migration runs the target lists the VM too,
		 * paused, waiting for its memory: it stays on its source
		 * until the migration ends, lest the next round see it on
		 * the target, idle, and send it back.
		 */
		if (vm->migrating && vm->host >= 0 && vm->host != hi &&
		    (mp = vm_pending(c, vi)) != NULL && mp->to == hi)
			continue;
		vm->host = hi;
		vm->seen = true;
		vm->vcpus = json_is_integer(n) ? (int)json_integer_value(n) : 1;
		vm->vcpus = EBB_MAX(1, EBB_MIN(vm->vcpus, 1024));
		vm->mem_mb = json_is_number(mem) ? json_number_value(mem) : 0;
		/* A paused VM uses nothing now; its demand is what it
		 * used when it last ran (a migration's switch-over). */
		if (!json_is_string(st) || strcmp(json_string_value(st),
		    "paused") != 0)
			vm->util = json_is_number(u) ?
			    fmin(fmax(json_number_value(u), 0), 1) : 0;
		h->nvms++;
	}
	/* One on its way out that the source no longer lists is still
	 * its source's until the migration ends. */
	for (int k = 0; k < c->nvms; k++)
		if (c->vms[k].host == hi && !c->vms[k].seen &&
		    c->vms[k].migrating) {
			c->vms[k].seen = true;
			h->nvms++;
		}
}

static void
on_report(struct ctl *c, int hi, const struct ebb_msg *m)
{
	struct ctl_host *h = &c->hosts[hi];
	json_t *cpu = json_object_get(m->obj, "cpu"), *v;

	h->last_seen = ebb_monoclock();
	json_decref(h->report);
	h->report = json_incref(m->obj);
	if (cpu && (v = json_object_get(cpu, "busy")) && json_is_number(v))
		h->busy = fmin(fmax(json_number_value(v), 0), 1);
	if (h->state == POL_HOST_UNKNOWN && !c->replaying)
		set_state(c, hi, POL_HOST_ON, "agent reports again", 0);

	take_vms(c, hi, json_object_get(m->obj, "vms"));
	h->reported = true;
	resolve_orphans(c, hi, m->obj);
}

static void
on_result(struct ctl *c, int hi, const struct ebb_msg *m)
{
	json_t *ok = json_object_get(m->obj, "ok");
	json_t *err = json_object_get(m->obj, "error");
	json_int_t cmd = json_integer_value(json_object_get(m->obj, "cmd"));
	const char *why = json_is_string(err) ? json_string_value(err) : "?";

	for (int i = 0; i < c->npending; i++) {
		struct ctl_pending *p = &c->pending[i];

		if (p->host != hi || p->cmd != cmd || p->orphan)
			continue;
		pending_end(c, i, json_is_true(ok), json_is_true(ok) ? "done" :
		    why);
		break;
	}
	if (!json_is_true(ok))
		ebb_warn("host %s: command %lld failed: %s",
		    c->hosts[hi].conf.name, (long long)cmd, why);
}

static void
pending_add(struct ctl *c, struct ctl_pending p)
{
	if (c->npending == c->cpending) {
		c->cpending = c->cpending ? c->cpending * 2 : 16;
		c->pending = ebb_reallocarray(c->pending, c->cpending,
		    sizeof(*c->pending));
	}
	c->pending[c->npending++] = p;
}

void
ctl_host_gap(struct ctl *c, int hi)
{
	orphan_pending(c, hi);
}

int
ctl_vm_get(struct ctl *c, const char *id)
{
	return vm_get(c, id);
}

void
ctl_migration_adopt(struct ctl *c, int vi, int from, int to,
    int64_t decision, int64_t mig)
{
	pending_add(c, (struct ctl_pending){ .host = from, .cmd = -1,
	    .decision = decision, .mig = mig, .vm = vi, .to = to,
	    .orphan = true });
	c->vms[vi].migrating = true;
	c->vms[vi].last_move = ebb_monoclock();
}

/*
 * Drops a connection that has not said hello (or whose hello was
 * refused), saying why: the first ones, then one in a thousand, as a
 * scanner or a misconfigured fleet must not fill the disk.
 */
static void
conn_refuse(struct ctl *c, int ci, const char *why)
{
	uint64_t n = ++c->stats.refused;

	if (n <= 20 || n % 1000 == 0)
		ebb_warn("agent connection from %s refused (%llu so far): %s",
		    c->conns[ci].peer, (unsigned long long)n, why);
	conn_close(c, ci, why);
}

/*
 * Whether connection ci may say hello as m's host.  With TLS the agent's
 * certificate must name that host (its CN or a DNS SAN, exactly), so that
 * one host's certificate cannot pose as another host; if it does not, the
 * hello is answered with an error and the connection dropped.
 */
static bool
conn_may_be(struct ctl *c, int ci, const struct ebb_msg *m)
{
	struct ctl_conn *k = &c->conns[ci];
	struct ebb_tls_peer p;
	char names[512], why[1024];

	if (k->tls == NULL)
		return true;
	if (ebb_tls_peer_get(k->tls, &p) == 0 && ebb_tls_peer_is(&p, m->host))
		return true;
	ebb_tls_peer_format(&p, names, sizeof(names));
	snprintf(why, sizeof(why), "hello as host \"%s\" refused: the "
	    "agent's certificate (%s) does not name it", m->host, names);
	conn_error(c, ci, m->host, json_object_get(m->obj, "seq"), why);
	if (c->conns[ci].fd >= 0)
		conn_refuse(c, ci, why);
	return false;
}

static void
handle_line(struct ctl *c, int ci, const char *line, size_t len)
{
	struct ctl_conn *k = &c->conns[ci];
	struct ebb_msg m;
	struct ebb_err err;

	if (ebb_msg_parse(line, len, &m, &err) != 0) {
		conn_error(c, ci, NULL, NULL, err.msg);
		return;
	}
	if (k->peer_seen && m.seq <= k->peer_seq) {
		conn_error(c, ci, m.host, json_object_get(m.obj, "seq"),
		    "seq does not increase: replayed or reordered message");
		goto out;
	}
	k->peer_seen = true;
	k->peer_seq = m.seq;
	if (strcmp(m.type, "hello") == 0) {
		if (conn_may_be(c, ci, &m))
			on_hello(c, ci, &m);
		goto out;
	}
	if (k->host < 0) {
		conn_error(c, ci, m.host, json_object_get(m.obj, "seq"),
		    "say hello first");
		goto out;
	}
	if (strcmp(m.host, c->hosts[k->host].conf.name) != 0) {
		conn_error(c, ci, m.host, json_object_get(m.obj, "seq"),
		    "host differs from the one this connection said hello as");
		goto out;
	}
	if (strcmp(m.type, "report") == 0)
		on_report(c, k->host, &m);
	else if (strcmp(m.type, "result") == 0)
		on_result(c, k->host, &m);
	else if (strcmp(m.type, "error") == 0)
		ebb_warn("agent %s refused a message: %s", m.host,
		    json_is_string(json_object_get(m.obj, "error")) ?
		    json_string_value(json_object_get(m.obj, "error")) : "?");
	else
		conn_error(c, ci, m.host, json_object_get(m.obj, "seq"),
		    "unexpected type");
out:
	ebb_msg_free(&m);
}

void
ctl_conn_line(struct ctl *c, int ci, const char *line, size_t len)
{
	handle_line(c, ci, line, len);
}

static void
conn_close(struct ctl *c, int ci, const char *why)
{
	struct ctl_conn *k = &c->conns[ci];

	if (k->fd < 0)
		return;
	/* close_notify first, while the socket is still there. */
	ebb_tls_free(k->tls);
	k->tls = NULL;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	k->fd = -1;
	if (k->host >= 0 && c->hosts[k->host].conn == ci) {
		c->hosts[k->host].conn = -1;
		ebb_info("agent %s disconnected: %s",
		    c->hosts[k->host].conf.name, why);
		orphan_pending(c, k->host);
	}
	k->host = -1;
	ebb_linebuf_free(&k->in);
	ebb_outq_free(&k->out);
}

/* The TLS handshake's next step on connection ci. */
static void
conn_handshake(struct ctl *c, int ci)
{
	struct ctl_conn *k = &c->conns[ci];
	struct ebb_tls_peer p;
	struct ebb_err err;
	char names[512];
	int rc = ebb_tls_handshake(k->tls, &err);

	if (rc == -EAGAIN) {
		conn_want_write(c, ci, ebb_tls_want_write(k->tls));
		return;
	}
	if (rc != 0) {
		conn_refuse(c, ci, err.msg);
		return;
	}
	conn_want_write(c, ci, false);
	ebb_tls_peer_get(k->tls, &p);
	ebb_tls_peer_format(&p, names, sizeof(names));
	ebb_debug("agent connection from %s: TLS up, certificate %s", k->peer,
	    names);
}

static void
conn_event(struct ctl *c, int ci, uint32_t events)
{
	struct ctl_conn *k = &c->conns[ci];
	struct ebb_err err;
	const char *line;
	size_t len;
	ssize_t n;
	int rc;

	if (k->tls != NULL && !ebb_tls_done(k->tls)) {
		conn_handshake(c, ci);
		/* Done, the hello may already wait in OpenSSL's buffer. */
		if (k->fd < 0 || !ebb_tls_done(k->tls))
			return;
	}
	if ((events & EPOLLOUT) || k->out.len > 0)
		conn_flush(c, ci);
	/* A TLS read may have stopped for want of writing. */
	if (k->fd < 0 || (k->tls == NULL &&
	    !(events & (EPOLLIN | EPOLLHUP | EPOLLERR))))
		return;
	for (;;) {
		n = ebb_linebuf_recv(&k->in, k->fd, k->tls, &err);
		if (n == -EAGAIN) {
			if (k->tls != NULL && ebb_tls_want_write(k->tls))
				conn_want_write(c, ci, true);
			return;
		}
		if (n <= 0) {
			conn_close(c, ci, n == 0 ? "closed" : err.msg);
			return;
		}
		while ((rc = ebb_linebuf_next(&k->in, &line, &len)) == 1) {
			handle_line(c, ci, line, len);
			if (k->fd < 0)
				return;
		}
		if (rc < 0) {
			conn_close(c, ci, "message longer than the limit");
			return;
		}
	}
}

/* Sets the hello timer to fire at monotonic time `at`. */
static void
hello_timer_arm(struct ctl *c, double at)
{
	double d = EBB_MAX(at - ebb_monoclock(), 0.001);
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)d,
		.tv_nsec = (long)((d - (double)(time_t)d) * 1e9) } };

	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	c->hfd_armed = timerfd_settime(c->hfd, 0, &its, NULL) == 0;
}

/*
 * Drops the connections that have not said hello in time, and sets the
 * timer for the next deadline, if any connection still waits.
 */
static void
hello_timer_event(struct ctl *c)
{
	double now = ebb_monoclock(), next = 0;
	uint64_t ticks;

	if (read(c->hfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		ebb_warn("hello timer: %s", strerror(errno));
	c->hfd_armed = false;
	for (int ci = 0; ci < c->nconns; ci++) {
		struct ctl_conn *k = &c->conns[ci];
		char why[96];

		if (k->fd < 0 || k->host >= 0)
			continue;
		if (now >= k->hello_by) {
			snprintf(why, sizeof(why), "no %s within %d s",
			    k->tls != NULL && !ebb_tls_done(k->tls) ?
			    "TLS handshake" : "hello", CTL_HELLO_TIMEOUT_S);
			conn_refuse(c, ci, why);
		} else if (next == 0 || k->hello_by < next) {
			next = k->hello_by;
		}
	}
	if (next > 0)
		hello_timer_arm(c, next);
}

static void
accept_event(struct ctl *c)
{
	struct ebb_err err;
	int fd;

	while ((fd = ebb_accept(c->lfd)) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct ctl_conn *k;
		int ci;

		for (ci = 0; ci < c->nconns; ci++)
			if (c->conns[ci].fd < 0)
				break;
		if (ci == c->nconns) {
			if (c->nconns >= CTL_CONNS_MAX) {
				close(fd);
				ebb_warn("too many agent connections");
				continue;
			}
			c->conns = ebb_reallocarray(c->conns, ++c->nconns,
			    sizeof(*c->conns));
		}
		k = &c->conns[ci];
		memset(k, 0, sizeof(*k));
		k->fd = fd;
		k->host = -1;
		ebb_sock_peer(fd, k->peer, sizeof(k->peer));
		ebb_linebuf_init(&k->in);
		/* The server waits for the ClientHello: no step yet. */
		if (c->tls != NULL && ebb_tls_new(&k->tls, c->tls, fd, NULL,
		    &err) != 0) {
			ebb_warn("agent connection from %s: %s", k->peer,
			    err.msg);
			close(fd);
			k->fd = -1;
			continue;
		}
		k->hello_by = ebb_monoclock() + CTL_HELLO_TIMEOUT_S;
		/* Deadlines come in order: an armed timer fires first. */
		if (!c->hfd_armed)
			hello_timer_arm(c, k->hello_by);
		ev.data.u32 = TAG_CONN + ci;
		epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* ---- power ----------------------------------------------------------------- */

static void
power_reaped(struct ctl *c, pid_t pid, int status)
{
	for (int hi = 0; hi < c->nhosts; hi++) {
		struct ctl_host *h = &c->hosts[hi];
		struct ebb_err err;

		if (h->power_pid != pid)
			continue;
		h->power_pid = 0;
		if (ctl_power_status(status, &err) == 0) {
			if (!h->power_on) {
				/* Off once the command says so; its agent is
				 * gone or going with it. */
				ctl_jnl_power_end(c, h->power_action, true);
				ctl_jnl_outcome(c, h->power_decision, "done");
				set_state(c, hi, POL_HOST_OFF, "power-off "
				    "command succeeded", h->power_decision);
			}
			/* On: the host is on when its agent says hello. */
			return;
		}
		ctl_jnl_power_end(c, h->power_action, false);
		ctl_jnl_outcome(c, h->power_decision, err.msg);
		if (h->power_on)
			set_state(c, hi, POL_HOST_FAILED, err.msg,
			    h->power_decision);
		else
			set_state(c, hi, h->conn >= 0 ? POL_HOST_ON :
			    POL_HOST_UNKNOWN, err.msg, h->power_decision);
		return;
	}
}

static void
power_start(struct ctl *c, int hi, bool on, const char *reason,
    json_t *inputs)
{
	struct ctl_host *h = &c->hosts[hi];
	struct ebb_err err;
	int64_t d;
	pid_t pid;

	d = ctl_jnl_decide(c, on ? "power-on" : "power-off", h->conf.name,
	    h->conf.name, NULL, inputs, reason);
	if (d < 0) {
		/* Not journalled, not done: a restart must not repeat it. */
		ebb_err_log("journal refused a power decision for %s; not "
		    "acting", h->conf.name);
		return;
	}
	c->stats.decisions++;
	if (c->cfg.dry_run) {
		ctl_jnl_outcome(c, d, "cancelled");
		return;
	}
	h->power_action = ctl_jnl_power(c, d, h->conf.name, on,
	    ctl_power_kind_name(h->conf.power.kind), on ? ebb_wallclock() +
	    c->cfg.boot_timeout_s : 0);
	if (h->power_action < 0) {
		ctl_jnl_outcome(c, d, "the journal refused the action");
		return;
	}
	set_state(c, hi, on ? POL_HOST_POWERING_ON : POL_HOST_POWERING_OFF,
	    reason, d);
	/* The cooldown counts from the attempt: a driver that fails must
	 * not be retried every round. */
	h->power_cooldown = ebb_monoclock() + c->cfg.host_cooldown_s;
	if (ctl_power_start(&h->conf.power, h->conf.name, on, &pid,
	    &err) != 0) {
		ctl_jnl_power_end(c, h->power_action, false);
		ctl_jnl_outcome(c, d, err.msg);
		set_state(c, hi, on ? POL_HOST_FAILED : POL_HOST_ON, err.msg, d);
		return;
	}
	h->power_pid = pid;
	h->power_started = ebb_monoclock();
	h->power_on = on;
	h->power_decision = d;
	if (on) {
		h->boot_deadline = ebb_monoclock() + c->cfg.boot_timeout_s;
		c->stats.power_ons++;
	} else
		c->stats.power_offs++;
	if (pid == 0 && !on) {
		ctl_jnl_power_end(c, h->power_action, true);
		ctl_jnl_outcome(c, d, "done");
		set_state(c, hi, POL_HOST_OFF, "switched off", d);
	}
}

/* ---- the control round ------------------------------------------------------ */

/*
 * Hosts whose agents fell silent become unknown (never switched off,
 * never a target); hosts that did not come back in time become failed
 * (an operator clears them).
 */
static void
check_liveness(struct ctl *c, double now)
{
	for (int hi = 0; hi < c->nhosts; hi++) {
		struct ctl_host *h = &c->hosts[hi];

		/* A power command that hangs is killed; its reaping then
		 * records the failure. */
		if (h->power_pid > 0 && now - h->power_started >
		    CTL_POWER_TIMEOUT_S) {
			ebb_warn("host %s: power command still running after "
			    "%d s: killing it", h->conf.name,
			    CTL_POWER_TIMEOUT_S);
			kill(-h->power_pid, SIGKILL);
			h->power_started = now;	/* once */
		}
		if (h->state == POL_HOST_ON && (h->conn < 0 ||
		    now - h->last_seen > c->cfg.unknown_after_s))
			set_state(c, hi, POL_HOST_UNKNOWN, h->conn < 0 ?
			    "agent disconnected" : "agent silent", 0);
		if (h->state == POL_HOST_POWERING_ON && now > h->boot_deadline) {
			ctl_jnl_power_end(c, h->power_action, false);
			ctl_jnl_outcome(c, h->power_decision, "no hello within "
			    "the boot timeout");
			set_state(c, hi, POL_HOST_FAILED, "did not report back "
			    "within the boot timeout", h->power_decision);
		}
	}
}

/* The fleet as the policy sees it. */
static void
build_fleet(struct ctl *c, struct pol_fleet *f)
{
	pol_fleet_init(f);
	f->interval_s = c->cfg.interval_s;
	f->nhosts = c->nhosts;
	f->hosts = ebb_calloc(EBB_MAX(c->nhosts, 1), sizeof(*f->hosts));
	f->vms = ebb_calloc(EBB_MAX(c->nvms, 1), sizeof(*f->vms));
	for (int hi = 0; hi < c->nhosts; hi++) {
		const struct ctl_host *h = &c->hosts[hi];
		struct pol_host *ph = &f->hosts[hi];

		ph->id = hi;
		ph->pes = EBB_MAX(h->cores, 1);
		ph->pe_mips = h->conf.pe_mips;
		ph->ram_mb = h->mem_kb / 1024.0;
		ph->bw = 1e12;
		ph->mig_mbs = 1e9 / 8 / 1048576;	/* 1 Gbit/s */
		ph->power = &h->conf.power_w;
		ph->state = h->conf.maintenance ? POL_HOST_MAINTENANCE :
		    h->state;
		ph->reserve = h->conf.reserve;
		ph->util = h->state == POL_HOST_ON ? h->busy : 0;
		pol_host_realloc(f, hi);
	}
	f->nvms = c->nvms;
	for (int vi = 0; vi < c->nvms; vi++) {
		const struct ctl_vm *v = &c->vms[vi];
		struct pol_vm *pv = &f->vms[vi];

		pv->id = vi;
		pv->host = -1;
		pv->pes = v->vcpus;
		pv->ram_mb = v->mem_mb;
		pv->ram_use_mb = v->mem_mb;
		pv->migrating = v->migrating;
		pv->pinned = false;
		if (v->host >= 0 && v->seen) {
			pv->mips = c->hosts[v->host].conf.pe_mips;
			pv->req_mips = v->util * pv->mips * pv->pes;
			pv->nhist = v->nhist;
			memcpy(pv->hist, v->hist, sizeof(pv->hist));
			pv->host = v->host;
			pol_host_add(f, v->host, vi, false);
		}
	}
	/*
	 * A VM on its way is on its target too, incoming, as the simulator
	 * models it (pol_fleet.h): counted there in full for planning, so
	 * that a round during the copy does not give its room to others,
	 * or wake a host for VMs the target will not have room for.
	 */
	for (int i = 0; i < c->npending; i++) {
		const struct ctl_pending *p = &c->pending[i];

		if (p->vm >= 0 && p->to >= 0 && f->vms[p->vm].host >= 0 &&
		    f->vms[p->vm].host != p->to &&
		    pol_host_find(&f->hosts[p->to], p->vm) < 0)
			pol_host_add(f, p->to, p->vm, true);
	}
}

/* Each VM's history gains this round's utilization, newest first. */
static void
push_history(struct ctl *c)
{
	for (int vi = 0; vi < c->nvms; vi++) {
		struct ctl_vm *v = &c->vms[vi];

		if (!v->seen)
			continue;
		memmove(&v->hist[1], &v->hist[0],
		    (POL_HIST_MAX - 1) * sizeof(v->hist[0]));
		v->hist[0] = v->util;
		if (v->nhist < POL_HIST_MAX)
			v->nhist++;
	}
}

static double
local_hour(void)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_hour + tm.tm_min / 60.0;
}

static json_t *
host_inputs(const struct ctl *c, int hi)
{
	const struct ctl_host *h = &c->hosts[hi];

	return json_pack("{s:s, s:f, s:i, s:s}", "state",
	    pol_host_state_name(h->state), "busy", h->busy, "vms", h->nvms,
	    "policy", c->policy.name);
}

static void
note_why(struct ctl *c, const struct pol_plan *pl, bool window_open)
{
	double now = ebb_wallclock();

	/* Reasons are this round's: last round's may no longer hold. */
	for (int hi = 0; hi < c->nhosts; hi++)
		c->hosts[hi].why.text[0] = '\0';

	for (int i = 0; i < pl->nnotes; i++) {
		const struct pol_note *n = &pl->notes[i];
		struct ctl_why *w;

		if (n->host < 0 || n->host >= c->nhosts)
			continue;
		w = &c->hosts[n->host].why;
		w->ts = now;
		switch (n->kind) {
		case POL_NOTE_RESERVE:
			snprintf(w->text, sizeof(w->text), "kept on as a reserve "
			    "host");
			break;
		case POL_NOTE_MIN_HOSTS:
			snprintf(w->text, sizeof(w->text), "kept on: at least "
			    "%d hosts stay on", c->policy.power.min_hosts_on);
			break;
		case POL_NOTE_DRAIN_FAILED:
			snprintf(w->text, sizeof(w->text), "not drained: VM %s "
			    "fits on no other host", n->vm >= 0 && n->vm <
			    c->nvms ? c->vms[n->vm].id : "?");
			break;
		case POL_NOTE_PINNED:
			snprintf(w->text, sizeof(w->text), "not drained: it "
			    "holds a pinned VM");
			break;
		case POL_NOTE_NO_TARGET:
			snprintf(w->text, sizeof(w->text), "overloaded, and VM "
			    "%s fits on no other host", n->vm >= 0 && n->vm <
			    c->nvms ? c->vms[n->vm].id : "?");
			break;
		case POL_NOTE_NOT_MANAGED:
			snprintf(w->text, sizeof(w->text), "not managed in its "
			    "state");
			break;
		case POL_NOTE_WAKE_DEFERRED:
			snprintf(w->text, sizeof(w->text), "overloaded, and VM "
			    "%s fits only on a host that is off: none is woken "
			    "until the overload has lasted %d samples", n->vm >=
			    0 && n->vm < c->nvms ? c->vms[n->vm].id : "?",
			    c->policy.power.wake_after_samples);
			break;
		}
	}
	if (!window_open)
		for (int hi = 0; hi < c->nhosts; hi++) {
			c->hosts[hi].why.ts = now;
			snprintf(c->hosts[hi].why.text,
			    sizeof(c->hosts[hi].why.text), "outside the power "
			    "window: power actions are not taken now");
		}
}

/*
 * Whether a VM running on `from` can run on `to`: the same CPU vendor, and
 * every CPU flag of the source present on the target (a guest may use any
 * feature it saw at boot).  Hosts that did not say are not trusted.
 */
static bool
cpu_compatible(const struct ctl *c, int from, int to)
{
	const struct ctl_host *s = &c->hosts[from], *t = &c->hosts[to];
	size_t i, j;
	json_t *f, *g;

	if (!s->cpu_vendor[0] || strcmp(s->cpu_vendor, t->cpu_vendor) != 0)
		return false;
	json_array_foreach(s->cpu_flags, i, f) {
		bool found = false;

		json_array_foreach(t->cpu_flags, j, g)
			if (json_equal(f, g)) {
				found = true;
				break;
			}
		if (!found)
			return false;
	}
	return true;
}

/*
 * Whether the hypervisors of `from` and `to` can migrate between them: the
 * same driver, and a target that said how to reach it.
 */
static bool
hv_compatible(const struct ctl *c, int from, int to)
{
	const struct ctl_host *s = &c->hosts[from], *t = &c->hosts[to];

	return s->hypervisor[0] && strcmp(s->hypervisor, t->hypervisor) == 0 &&
	    strcmp(s->hypervisor, "none") != 0 && t->migrate != NULL;
}

/* Migrations in flight from or to host hi. */
static int
host_migrations(const struct ctl *c, int hi)
{
	int n = 0;

	for (int i = 0; i < c->npending; i++)
		if (c->pending[i].vm >= 0 && (c->pending[i].host == hi ||
		    c->pending[i].to == hi))
			n++;
	return n;
}

/* Migrations in flight to host hi. */
static int
host_incoming(const struct ctl *c, int hi)
{
	int n = 0;

	for (int i = 0; i < c->npending; i++)
		if (c->pending[i].vm >= 0 && c->pending[i].to == hi)
			n++;
	return n;
}

/*
 * Starts one migration: the decision and the migration are journalled
 * (started) before the command leaves.  Returns the decision id, or
 * -errno when nothing was sent.
 */
static int64_t
migrate(struct ctl *c, int vi, int from, int to, const char *why)
{
	struct ctl_vm *v = &c->vms[vi];
	int64_t d, cmd, mig;
	json_t *args;

	d = ctl_jnl_decide(c, "migrate", v->id, c->hosts[from].conf.name,
	    v->id, json_pack("{s:s, s:s, s:s, s:f}", "from",
	    c->hosts[from].conf.name, "to", c->hosts[to].conf.name, "why", why,
	    "util", v->util), why);
	if (d < 0)
		return -EIO;
	c->stats.decisions++;
	if (c->cfg.dry_run) {
		ctl_jnl_outcome(c, d, "cancelled");
		return d;
	}
	mig = ctl_jnl_migration(c, d, v->id, c->hosts[from].conf.name,
	    c->hosts[to].conf.name);
	if (mig < 0) {
		ctl_jnl_outcome(c, d, "the journal refused the migration");
		return -EIO;
	}
	args = json_pack("{s:s, s:s}", "vm", v->id, "to",
	    c->hosts[to].conf.name);
	/* Where the source's hypervisor sends it, as the target said. */
	json_object_set(args, "peer", json_object_get(c->hosts[to].migrate,
	    "peer"));
	if (json_is_string(json_object_get(c->hosts[to].migrate, "addr")))
		json_object_set(args, "addr",
		    json_object_get(c->hosts[to].migrate, "addr"));
	cmd = host_command(c, from, "migrate", args);
	if (cmd < 0) {
		ctl_jnl_migration_end(c, mig, false);
		ctl_jnl_outcome(c, d, "source agent not connected");
		return -EIO;
	}
	pending_add(c, (struct ctl_pending){ .host = from, .cmd = cmd,
	    .decision = d, .mig = mig, .vm = vi, .to = to });
	v->migrating = true;
	v->last_move = ebb_monoclock();
	c->stats.migrations++;
	return d;
}

int
ctl_migrate_manual(struct ctl *c, const char *vm, const char *to)
{
	int vi = vm_find(c, vm), ti = ctl_host_find(c, to);

	if (!ctl_bus_acting(c))
		return -EAGAIN;
	if (vi < 0 || ti < 0 || c->vms[vi].host < 0)
		return -ENOENT;
	if (c->vms[vi].migrating)
		return -EBUSY;
	if (c->hosts[ti].state != POL_HOST_ON || c->hosts[ti].conn < 0)
		return -EHOSTUNREACH;
	if (!hv_compatible(c, c->vms[vi].host, ti))
		return -EPROTOTYPE;
	if (!cpu_compatible(c, c->vms[vi].host, ti))
		return -EXDEV;
	return (int)migrate(c, vi, c->vms[vi].host, ti, "operator asked");
}

static void
act(struct ctl *c, const struct pol_plan *pl)
{
	double now = ebb_monoclock();
	bool window = ctl_config_in_window(&c->cfg, local_hour());
	int on = 0, migrating = 0;

	for (int hi = 0; hi < c->nhosts; hi++)
		if (c->hosts[hi].state == POL_HOST_ON ||
		    c->hosts[hi].state == POL_HOST_POWERING_ON)
			on++;
	for (int vi = 0; vi < c->nvms; vi++)
		if (c->vms[vi].migrating)
			migrating++;
	note_why(c, pl, window);

	for (int i = 0; i < pl->nacts; i++) {
		const struct pol_action *a = &pl->acts[i];
		struct ctl_host *h = a->host >= 0 ? &c->hosts[a->host] : NULL;

		switch (a->kind) {
		case POL_ACT_POWER_OFF:
			/*
			 * The rules that must never be broken are checked
			 * here again, whatever the plan says.
			 */
			/* A migration from or to it still in flight counts
			 * as a VM on it: the source's report may already
			 * miss the VM before the result comes. */
			if (!window || h->state != POL_HOST_ON || h->nvms > 0 ||
			    host_migrations(c, a->host) > 0 ||
			    !h->reported || h->conf.reserve ||
			    h->conf.maintenance ||
			    on <= c->cfg.min_hosts_on)
				continue;
			if (now < h->power_cooldown) {
				snprintf(h->why.text, sizeof(h->why.text),
				    "empty, but in its power-cycle cooldown");
				continue;
			}
			if (h->power_held) {
				snprintf(h->why.text, sizeof(h->why.text),
				    "empty, but it once failed to come back "
				    "after power-on: not switched off until an "
				    "operator clears it");
				continue;
			}
			if (h->conf.power.kind == CTL_POWER_NONE) {
				snprintf(h->why.text, sizeof(h->why.text),
				    "empty, but it has no power driver");
				continue;
			}
			power_start(c, a->host, false, "empty: no VM left",
			    host_inputs(c, a->host));
			on--;
			break;
		case POL_ACT_POWER_ON:
			if (!window || h->state != POL_HOST_OFF)
				continue;
			power_start(c, a->host, true, "needed as a target",
			    host_inputs(c, a->host));
			on++;
			break;
		case POL_ACT_MIGRATE: {
			struct ctl_vm *v = &c->vms[a->vm];

			/* A host still receiving VMs is not drained: the
			 * plan saw it before they arrived. */
			if (v->migrating || migrating >= c->cfg.mig_total ||
			    host_incoming(c, a->from) > 0 ||
			    now - v->last_move < c->cfg.vm_cooldown_s ||
			    host_migrations(c, a->from) >= c->cfg.mig_per_host ||
			    host_migrations(c, a->to) >= c->cfg.mig_per_host)
				continue;
			if (!hv_compatible(c, a->from, a->to)) {
				snprintf(c->hosts[a->from].why.text,
				    sizeof(c->hosts[a->from].why.text),
				    "VM %.64s cannot move to %.64s: their "
				    "hypervisors cannot migrate between them "
				    "(%.16s to %.16s)", v->id,
				    c->hosts[a->to].conf.name,
				    c->hosts[a->from].hypervisor,
				    c->hosts[a->to].hypervisor);
				continue;
			}
			if (!cpu_compatible(c, a->from, a->to)) {
				snprintf(c->hosts[a->from].why.text,
				    sizeof(c->hosts[a->from].why.text),
				    "VM %.64s cannot move to %.64s: its CPU "
				    "lacks features of this host's", v->id,
				    c->hosts[a->to].conf.name);
				continue;
			}
			if (c->hosts[a->to].state != POL_HOST_ON)
				continue;	/* waits for the target's hello */
			if (migrate(c, a->vm, a->from, a->to,
			    pol_reason_name(a->why)) > 0)
				migrating++;
			break;
		}
		}
	}
}

/*
 * What a host draws now, estimated from its power curve (*w), and what it
 * would draw without consolidation (*base); true when it draws at all.
 * A host whose agent reports draws at its utilization, an off host
 * nothing; any other (switching, silent, failed) is counted at idle
 * power, since ebb cannot claim a saving it has not seen.  Without
 * consolidation every host would be on: at its utilization when known,
 * else idle.
 */
static bool
host_watts(const struct ctl_host *h, double *w, double *base)
{
	double idle = pol_power_at(&h->conf.power_w, 0);
	bool reporting = h->state == POL_HOST_ON ||
	    h->state == POL_HOST_DRAINING || h->state == POL_HOST_EMPTY ||
	    (h->state == POL_HOST_MAINTENANCE && h->conn >= 0);

	*base = reporting ? pol_power_at(&h->conf.power_w, h->busy) : idle;
	*w = reporting ? *base : h->state == POL_HOST_OFF ? 0 : idle;
	return h->state != POL_HOST_OFF;
}

/* This round's sample into the ring, and its energy into today's sums. */
static void
series_record(struct ctl *c)
{
	struct ctl_series *s = &c->series;
	struct ctl_sample x = { .ts = ebb_wallclock() };
	time_t t = (time_t)x.ts;
	struct tm tm;
	int day;

	if (s->ring == NULL)
		s->ring = ebb_calloc(CTL_SERIES_MAX, sizeof(*s->ring));
	for (int hi = 0; hi < c->nhosts; hi++) {
		double w, base;

		if (host_watts(&c->hosts[hi], &w, &base))
			x.hosts_on++;
		x.watts += w;
		x.baseline_w += base;
	}
	localtime_r(&t, &tm);
	day = (tm.tm_year + 1900) * 1000 + tm.tm_yday;
	if (day != s->day) {
		s->day = day;
		s->energy_j = s->baseline_j = 0;
	} else if (s->n > 0) {
		const struct ctl_sample *p = &s->ring[(s->head +
		    CTL_SERIES_MAX - 1) % CTL_SERIES_MAX];
		double dt = x.ts - p->ts;

		/* The last sample holds until this one; a gap (a stopped
		 * loop, a clock step) is not counted, nothing is known of
		 * it. */
		if (dt > 0 && dt <= 3 * c->cfg.interval_s) {
			s->energy_j += p->watts * dt;
			s->baseline_j += p->baseline_w * dt;
		}
	}
	s->ring[s->head] = x;
	s->head = (s->head + 1) % CTL_SERIES_MAX;
	if (s->n < CTL_SERIES_MAX)
		s->n++;
}

void
ctl_round(struct ctl *c)
{
	struct timespec t0, t1;
	struct pol_fleet f;
	struct pol_plan pl;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	check_liveness(c, ebb_monoclock());
	push_history(c);
	build_fleet(c, &f);
	pol_plan_init(&pl);
	pol_plan_round(&c->policy, &f, &c->rng, &pl);
	/* On kafka only the controller holding the lease acts. */
	if (ctl_bus_acting(c))
		act(c, &pl);
	pol_plan_free(&pl);
	pol_fleet_free(&f);
	c->stats.rounds++;
	ctl_jnl_round(c, c->stats.rounds);
	series_record(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->stats.last_round_ms = (t1.tv_sec - t0.tv_sec) * 1e3 +
	    (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ctl_web_round(c);
}

/* ---- views for the API ------------------------------------------------------ */

json_t *
ctl_hosts_json(const struct ctl *c)
{
	json_t *a = json_array();

	for (int hi = 0; hi < c->nhosts; hi++) {
		const struct ctl_host *h = &c->hosts[hi];
		json_t *r = h->report, *o;

		o = json_pack("{s:s, s:s, s:b, s:i, s:I, s:f, s:i, s:b, s:b, s:s,"
		    " s:f}",
		    "name", h->conf.name,
		    "state", pol_host_state_name(h->state),
		    "connected", h->conn >= 0,
		    "cores", h->cores,
		    "mem_kb", (json_int_t)h->mem_kb,
		    "busy", h->busy,
		    "vms", h->nvms,
		    "reserve", h->conf.reserve,
		    "maintenance", h->conf.maintenance,
		    "power_driver", ctl_power_kind_name(h->conf.power.kind),
		    "watts", h->state == POL_HOST_ON ?
		    pol_power_at(&h->conf.power_w, h->busy) : 0.0);
		if (h->power_held)
			json_object_set_new(o, "power_held", json_true());
		/* Messages its agent's bus dropped (kafka only). */
		if (c->bus != NULL)
			json_object_set_new(o, "dropped",
			    json_integer((json_int_t)h->dropped));
		if (r != NULL) {
			json_t *v;

			if ((v = json_object_get(r, "unparked")))
				json_object_set(o, "unparked", v);
			if ((v = json_object_get(r, "parked")))
				json_object_set(o, "parked", v);
		}
		if (h->why.text[0])
			json_object_set_new(o, "why", json_string(h->why.text));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *
ctl_vms_json(const struct ctl *c)
{
	json_t *a = json_array();

	for (int vi = 0; vi < c->nvms; vi++) {
		const struct ctl_vm *v = &c->vms[vi];

		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:f, s:f,"
		    " s:b}", "id", v->id, "host", v->host >= 0 ?
		    c->hosts[v->host].conf.name : "", "vcpus", v->vcpus,
		    "mem_mb", v->mem_mb, "cpu", v->util, "migrating",
		    v->migrating));
	}
	return a;
}

json_t *
ctl_plan_json(struct ctl *c)
{
	struct pol_fleet f;
	struct pol_plan pl;
	struct ebb_rand rng = c->rng;	/* a dry run consumes no randomness */
	json_t *acts = json_array(), *notes = json_array();

	build_fleet(c, &f);
	pol_plan_init(&pl);
	pol_plan_round(&c->policy, &f, &rng, &pl);
	for (int i = 0; i < pl.nacts; i++) {
		const struct pol_action *a = &pl.acts[i];

		if (a->kind == POL_ACT_MIGRATE)
			json_array_append_new(acts, json_pack("{s:s, s:s, s:s,"
			    " s:s, s:s}", "action", "migrate", "vm",
			    c->vms[a->vm].id, "from", c->hosts[a->from].conf.name,
			    "to", c->hosts[a->to].conf.name, "why",
			    pol_reason_name(a->why)));
		else
			json_array_append_new(acts, json_pack("{s:s, s:s, s:s}",
			    "action", a->kind == POL_ACT_POWER_ON ? "power-on" :
			    "power-off", "host", c->hosts[a->host].conf.name,
			    "why", pol_reason_name(a->why)));
	}
	for (int i = 0; i < pl.nnotes; i++) {
		const struct pol_note *n = &pl.notes[i];

		json_array_append_new(notes, json_pack("{s:s, s:s, s:s}",
		    "note", pol_note_name(n->kind), "host", n->host >= 0 ?
		    c->hosts[n->host].conf.name : "", "vm", n->vm >= 0 ?
		    c->vms[n->vm].id : ""));
	}
	pol_plan_free(&pl);
	pol_fleet_free(&f);
	return json_pack("{s:s, s:o, s:o}", "policy", c->policy.name,
	    "actions", acts, "notes", notes);
}

json_t *
ctl_why_json(struct ctl *c, const char *subject)
{
	int hi = ctl_host_find(c, subject);

	if (hi >= 0) {
		const struct ctl_host *h = &c->hosts[hi];
		const char *why =
		    h->state == POL_HOST_UNKNOWN ? "its agent is silent: an "
		    "unknown host is never switched off" :
		    h->state == POL_HOST_FAILED ? "it did not come back after "
		    "power-on; an operator must clear it" :
		    h->state == POL_HOST_MAINTENANCE ? "in maintenance: no "
		    "placement, no power action" :
		    h->state == POL_HOST_OFF ? "switched off (see the "
		    "decisions below)" :
		    h->state == POL_HOST_POWERING_ON ? "switching on" :
		    h->state == POL_HOST_POWERING_OFF ? "switching off" :
		    h->why.text[0] ? h->why.text : h->nvms > 0 ?
		    "it runs VMs" : "empty; not yet switched off";

		return json_pack("{s:s, s:s, s:s, s:o}", "host", subject,
		    "state", pol_host_state_name(h->state), "why", why,
		    "decisions", ctl_jnl_query(c, NULL, subject, NULL, 20));
	}
	return json_pack("{s:s, s:o}", "vm", subject, "decisions",
	    ctl_jnl_query(c, NULL, NULL, subject, 20));
}

/* ---- set-up and the loop ------------------------------------------------------ */

static int
add_fd(struct ctl *c, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/*
 * The agents' TLS context, or the loud warning that agents connect
 * without TLS.
 */
static int
conn_tls_init(struct ctl *c, struct ebb_err *err)
{
	int rc;

	/* On kafka the link to the brokers is librdkafka's (docs/bus.md). */
	if (c->cfg.bus.kind == EBB_BUS_KAFKA)
		return 0;
	if ((rc = ctl_config_check_tls(&c->cfg, "configuration", err)) != 0)
		return rc;
	if (c->cfg.insecure_plaintext) {
		ebb_warn("INSECURE: \"insecure_plaintext\": true: agents "
		    "connect to %s over plain TCP, neither encrypted nor "
		    "authenticated; anything that reaches that port can say "
		    "hello as any host and report what it likes.  For tests "
		    "only: configure \"tls\" (scripts/ebb-ca)", c->cfg.listen);
		return 0;
	}
	return ebb_tls_ctx_new(&c->tls, EBB_TLS_SERVER, &c->cfg.tls, err);
}

int
ctl_init(struct ctl *c, const struct ctl_config *cfg, struct ebb_err *err)
{
	char host[EBB_ADDR_MAX];
	int port, rc;

	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	c->cfg.hosts = NULL;
	c->epfd = c->tfd = c->sfd = c->lfd = c->hfd = -1;
	if ((rc = ctl_policy_load(cfg, &c->policy, err)) != 0)
		return rc;
	ebb_rand_seed(&c->rng, c->policy.selection.seed);

	for (int i = 0; i < cfg->nhosts; i++) {
		int hi = host_add(c, cfg->hosts[i].name);

		c->hosts[hi].conf = cfg->hosts[i];
		if (cfg->hosts[i].maintenance)
			c->hosts[hi].state = POL_HOST_MAINTENANCE;
	}
	if ((rc = conn_tls_init(c, err)) != 0 ||
	    (rc = ctl_jnl_open(c, err)) != 0)
		goto fail;
	{
		static const int sigs[] = { SIGTERM, SIGINT, SIGCHLD, SIGHUP };
		struct ebb_loop l;

		if ((rc = ebb_loop_open(&l, cfg->interval_s, sigs,
		    EBB_NITEMS(sigs), TAG_TIMER, TAG_SIGNAL, err)) != 0)
			goto fail;
		c->epfd = l.epfd;
		c->tfd = l.tfd;
		c->sfd = l.sfd;
	}
	c->hfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->hfd < 0 || (rc = add_fd(c, c->hfd, TAG_HELLO)) != 0) {
		rc = c->hfd < 0 ? -errno : rc;
		ebb_err_set(err, "hello timer: %s", strerror(-rc));
		goto fail;
	}
	if (cfg->bus.kind == EBB_BUS_KAFKA) {
		/* Agents come through the brokers: no port of ours. */
		if ((rc = ctl_bus_open(c, err)) != 0)
			goto fail;
	} else {
		if ((rc = ebb_hostport(cfg->listen, host, sizeof(host), &port,
		    err)) != 0)
			goto fail;
		if ((c->lfd = ebb_tcp_listen(host, port, err)) < 0) {
			rc = c->lfd;
			goto fail;
		}
		if ((rc = add_fd(c, c->lfd, TAG_LISTEN)) != 0) {
			ebb_err_set(err, "epoll: %s", strerror(-rc));
			goto fail;
		}
	}
	if ((rc = ctl_api_init(c, err)) != 0)
		goto fail;
	return 0;
fail:
	ctl_fini(c);
	return rc;
}

void
ctl_fini(struct ctl *c)
{
	ctl_bus_close(c);
	for (int ci = 0; ci < c->nconns; ci++)
		conn_close(c, ci, "controller stopping");
	free(c->conns);
	c->conns = NULL;
	c->nconns = 0;
	ebb_tls_ctx_free(c->tls);
	c->tls = NULL;
	if (c->hfd >= 0)
		close(c->hfd);
	c->hfd = -1;
	free(c->pending);
	c->pending = NULL;
	c->npending = c->cpending = 0;
	for (int i = 0; i < c->nunlisted; i++)
		free(c->unlisted[i]);
	free(c->unlisted);
	c->unlisted = NULL;
	c->nunlisted = 0;
	ctl_web_fini(c);
	ctl_api_fini(c);
	free(c->series.ring);
	memset(&c->series, 0, sizeof(c->series));
	for (int hi = 0; hi < c->nhosts; hi++) {
		json_decref(c->hosts[hi].report);
		json_decref(c->hosts[hi].cpu_flags);
		json_decref(c->hosts[hi].migrate);
	}
	free(c->hosts);
	free(c->vms);
	c->hosts = NULL;
	c->vms = NULL;
	c->nhosts = c->nvms = 0;
	ctl_jnl_close(c);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->sfd >= 0)
		close(c->sfd);
	if (c->tfd >= 0)
		close(c->tfd);
	if (c->epfd >= 0)
		close(c->epfd);
	c->lfd = c->sfd = c->tfd = c->epfd = -1;
}

static void
signal_event(struct ctl *c)
{
	struct signalfd_siginfo si;

	while (read(c->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			pid_t pid;
			int st;

			while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
				power_reaped(c, pid, st);
			continue;
		}
		if (si.ssi_signo == SIGHUP)
			continue;
		ebb_info("signal %u: stopping", si.ssi_signo);
		c->quit = true;
	}
}

int
ctl_run(struct ctl *c)
{
	struct epoll_event evs[64];

	while (!c->quit) {
		int n = epoll_wait(c->epfd, evs, EBB_NITEMS(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ebb_err_log("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;

			if (tag == TAG_TIMER) {
				uint64_t ticks;

				if (read(c->tfd, &ticks, sizeof(ticks)) > 0)
					ctl_round(c);
			} else if (tag == TAG_SIGNAL) {
				signal_event(c);
			} else if (tag == TAG_LISTEN) {
				accept_event(c);
			} else if (tag == TAG_HTTP) {
				ctl_api_event(c);
			} else if (tag == TAG_BUS) {
				ctl_bus_event(c);
			} else if (tag == TAG_HELLO) {
				hello_timer_event(c);
			} else if (tag >= TAG_CONN &&
			    (int)(tag - TAG_CONN) < c->nconns &&
			    c->conns[tag - TAG_CONN].fd >= 0) {
				conn_event(c, tag - TAG_CONN, evs[i].events);
			}
		}
	}
	return 0;
}
