/*
 * agt_agent.c - ebb-agent's event loop, controller connection, sampling
 * and core parking.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agt_agent.h"
#include "ebb_log.h"
#include "ebb_loop.h"
#include "ebb_net.h"
#include "met_prom.h"

/* Pending output beyond this drops the connection: the peer is stuck. */
#define AGT_OUT_MAX	(4 * 1024 * 1024)
/* Input taken in one wake-up before the loop gets a turn. */
#define AGT_READ_BURST	(256 * 1024)
/*
 * A connect or TLS handshake that takes longer is given up and retried:
 * the controller is wedged, or what answers on its port is not one.
 */
#define AGT_CONNECT_TIMEOUT_S	10

/* epoll tags: which fd an event is for. */
enum { TAG_TIMER = 1, TAG_SIGNAL, TAG_CTL, TAG_METRICS, TAG_DRIVER,
	TAG_BUS };

static void	conn_close(struct agt *, const char *why);

/* ---- output --------------------------------------------------------------- */

static void
ctl_want_write(struct agt *a, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
		.data.u32 = TAG_CTL };

	epoll_ctl(a->epfd, EPOLL_CTL_MOD, a->ctl.fd, &ev);
}

static void
ctl_flush(struct agt *a)
{
	struct agt_conn *c = &a->ctl;
	struct ebb_err err;
	int rc = ebb_outq_send(&c->out, c->fd, c->tls, &err);

	if (rc < 0) {
		conn_close(a, err.msg);
		return;
	}
	ctl_want_write(a, c->out.len > 0 || (c->tls != NULL &&
	    ebb_tls_want_write(c->tls)));
}

static int	kept_send(struct agt *, json_t *);

/*
 * Queues one message (consumed) for the controller: on the bus (which
 * never blocks, and counts what it must drop for the next report to
 * tell; a report is superseded by the next, anything else is kept until
 * delivered), or on the connection.
 */
static int
ctl_send(struct agt *a, json_t *m)
{
	struct agt_conn *c = &a->ctl;
	const char *type;
	int rc;

	if (a->bus != NULL) {
		type = json_string_value(json_object_get(m, "type"));
		if (type != NULL && strcmp(type, "report") == 0)
			return ebb_bus_send(a->bus, EBB_BUS_REPORTS, NULL, m, 0);
		return kept_send(a, m);
	}
	if (c->st != AGT_UP) {
		json_decref(m);
		return -ENOTCONN;
	}
	if ((rc = ebb_outq_push(&c->out, m, AGT_OUT_MAX)) != 0) {
		if (rc == -ENOBUFS)
			conn_close(a, "controller is not reading");
		return rc;
	}
	/* Answers to a batch of lines leave together, after the batch. */
	if (!c->batching)
		ctl_flush(a);
	return 0;
}

static json_t *
msg(struct agt *a, const char *type)
{
	return ebb_msg_new(type, a->cfg.host, a->ctl.seq++, ebb_wallclock());
}

/* ---- connection ------------------------------------------------------------ */

static void
conn_schedule(struct agt *a)
{
	struct agt_conn *c = &a->ctl;

	/*
	 * Exponential backoff with jitter, so a fleet of agents does not
	 * reconnect in lockstep when the controller comes back.
	 */
	c->backoff = c->backoff == 0 ? 0.5 : EBB_MIN(c->backoff * 2,
	    a->cfg.reconnect_max_s);
	c->retry_at = ebb_monoclock() + EBB_MIN(a->cfg.reconnect_max_s,
	    c->backoff * (0.75 + 0.5 * (double)(random() % 1000) / 1000.0));
	c->st = AGT_DOWN;
}

static void
conn_close(struct agt *a, const char *why)
{
	struct agt_conn *c = &a->ctl;

	/* close_notify first, while the socket is still there. */
	ebb_tls_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->st == AGT_UP) {
		a->stats.disconnects++;
		ebb_warn("controller %s: connection lost: %s; the VMs keep "
		    "running, reconnecting", a->cfg.controller, why);
		agt_vms_conn_lost(a);
	}
	ebb_linebuf_free(&c->in);
	ebb_linebuf_init(&c->in);
	c->out.len = 0;
	c->batching = false;
	conn_schedule(a);
}

/*
 * The CPU's vendor, model and flags from /proc/cpuinfo (the first CPU's;
 * a host's CPUs are alike), for the controller's compatibility checks.
 */
static void
read_cpuinfo(struct agt *a)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char *line = NULL;
	size_t cap = 0;

	if (f == NULL)
		return;
	while (getline(&line, &cap, f) > 0) {
		char *colon = strchr(line, ':'), *v;

		if (colon == NULL)
			continue;
		v = colon + 1 + strspn(colon + 1, " \t");
		v[strcspn(v, "\n")] = '\0';
		if (strncmp(line, "vendor_id", 9) == 0 && !a->cpu_vendor[0])
			snprintf(a->cpu_vendor, sizeof(a->cpu_vendor), "%s", v);
		else if (strncmp(line, "model name", 10) == 0 &&
		    !a->cpu_model[0])
			snprintf(a->cpu_model, sizeof(a->cpu_model), "%s", v);
		else if (strncmp(line, "flags", 5) == 0 && a->cpu_flags == NULL)
			a->cpu_flags = ebb_strdup(v);
		if (a->cpu_vendor[0] && a->cpu_model[0] && a->cpu_flags)
			break;
	}
	free(line);
	fclose(f);
}

static void
send_hello(struct agt *a)
{
	json_t *m = msg(a, "hello"), *flags = json_array();

	if (a->cpu_flags != NULL) {
		char *copy = ebb_strdup(a->cpu_flags), *save = NULL, *t;

		for (t = strtok_r(copy, " ", &save); t != NULL;
		    t = strtok_r(NULL, " ", &save))
			json_array_append_new(flags, json_string(t));
		free(copy);
	}
	json_object_set_new(m, "cpu", json_pack("{s:s, s:s, s:o}", "vendor",
	    a->cpu_vendor, "model", a->cpu_model, "flags", flags));

	json_object_set_new(m, "agent", json_string(EBB_VERSION));
	json_object_set_new(m, "cores", json_integer(a->host.ncpu_online));
	json_object_set_new(m, "mem_kb",
	    json_integer((json_int_t)a->host.mem_total_kb));
	json_object_set_new(m, "hypervisor", json_string(a->cfg.hypervisor));
	json_object_set_new(m, "power_driver",
	    json_string(a->cfg.power_driver));
	json_object_set_new(m, "interval_s", json_real(a->cfg.interval_s));
	if (a->session[0] != '\0')
		json_object_set_new(m, "session", json_string(a->session));
	if (a->vms.describe != NULL)
		json_object_set(m, "migrate", a->vms.describe);
	json_object_set_new(m, "vms", agt_vms_json(a));
	ctl_send(a, m);
}

static void
conn_up(struct agt *a)
{
	struct agt_conn *c = &a->ctl;

	c->st = AGT_UP;
	c->backoff = 0;
	c->seq = 0;
	c->peer_seen = false;
	a->stats.connects++;
	if (c->tls != NULL) {
		struct ebb_tls_peer p;
		char names[512];

		ebb_tls_peer_get(c->tls, &p);
		ebb_tls_peer_format(&p, names, sizeof(names));
		ebb_info("connected to controller %s over TLS (%s)",
		    a->cfg.controller, names);
	} else {
		ebb_info("connected to controller %s", a->cfg.controller);
	}
	send_hello(a);
}

static void
conn_start(struct agt *a)
{
	struct agt_conn *c = &a->ctl;
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = TAG_CTL };
	char host[EBB_ADDR_MAX];
	struct ebb_err err;
	int port, fd;

	if (ebb_hostport(a->cfg.controller, host, sizeof(host), &port,
	    &err) != 0 || (fd = ebb_tcp_connect(host, port, &err)) < 0) {
		ebb_debug("%s", err.msg);
		conn_schedule(a);
		return;
	}
	c->fd = fd;
	c->st = AGT_CONNECTING;
	c->deadline = ebb_monoclock() + AGT_CONNECT_TIMEOUT_S;
	epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The TLS handshake's next step; the hello once it is done. */
static void
conn_handshake(struct agt *a)
{
	struct agt_conn *c = &a->ctl;
	struct ebb_err err;
	int rc = ebb_tls_handshake(c->tls, &err);

	if (rc == -EAGAIN) {
		ctl_want_write(a, ebb_tls_want_write(c->tls));
		return;
	}
	if (rc != 0) {
		ebb_warn("controller %s: %s", a->cfg.controller, err.msg);
		conn_close(a, err.msg);
		return;
	}
	ctl_want_write(a, false);
	conn_up(a);
}

/*
 * What the connection needs from the clock: a reconnect that is due
 * starts, a connect or handshake past its deadline is given up.  Returns
 * the milliseconds until the next such moment, or -1 for none.
 */
static int
conn_timer(struct agt *a)
{
	struct agt_conn *c = &a->ctl;
	double now = ebb_monoclock();

	if (a->cfg.controller[0] == '\0' || a->bus != NULL)
		return -1;
	if (c->st == AGT_DOWN && now >= c->retry_at)
		conn_start(a);
	if ((c->st == AGT_CONNECTING || c->st == AGT_HANDSHAKE) &&
	    now >= c->deadline) {
		ebb_warn("controller %s: no %s within %d s", a->cfg.controller,
		    c->st == AGT_CONNECTING ? "connection" : "TLS handshake",
		    AGT_CONNECT_TIMEOUT_S);
		conn_close(a, "timed out");
	}
	if (c->st == AGT_DOWN)
		return (int)ceil(EBB_MAX(c->retry_at - now, 0) * 1000);
	if (c->st == AGT_CONNECTING || c->st == AGT_HANDSHAKE)
		return (int)ceil(EBB_MAX(c->deadline - now, 0) * 1000);
	return -1;
}

/* ---- commands ------------------------------------------------------------- */

void
agt_reply(struct agt *a, json_t *cmdseq, bool ok, const char *error,
    json_t *extra)
{
	json_t *m = msg(a, "result");

	json_object_set(m, "cmd", cmdseq ? cmdseq : json_null());
	json_object_set_new(m, "ok", json_boolean(ok));
	if (!ok)
		json_object_set_new(m, "error", json_string(error));
	if (extra != NULL) {
		json_object_set_new(m, "stats", extra);
	}
	ctl_send(a, m);
}

/* A failed result for a command not carried out, and the reason's word. */
static void
refuse(struct agt *a, json_t *cmdseq, const char *why, const char *code)
{
	json_t *m = msg(a, "result");

	json_object_set(m, "cmd", cmdseq);
	json_object_set_new(m, "ok", json_false());
	json_object_set_new(m, "error", json_string(why));
	json_object_set_new(m, "refused", json_string(code));
	ctl_send(a, m);
}

static void
reject(struct agt *a, json_t *ref, const char *why)
{
	json_t *m = msg(a, "error");

	a->stats.bad_messages++;
	json_object_set_new(m, "error", json_string(why));
	json_object_set(m, "ref", ref ? ref : json_null());
	ctl_send(a, m);
}

static void
do_command(struct agt *a, const struct ebb_msg *m)
{
	json_t *cmd = json_object_get(m->obj, "cmd");
	json_t *op = json_object_get(m->obj, "op");
	const char *o;

	a->stats.commands++;
	if (!json_is_integer(cmd) || json_integer_value(cmd) < 0) {
		reject(a, json_object_get(m->obj, "seq"),
		    "command: \"cmd\" must be an integer >= 0");
		return;
	}
	if (!json_is_string(op)) {
		agt_reply(a, cmd, false, "command: \"op\" must be a string",
		    NULL);
		return;
	}
	o = json_string_value(op);
	if (strcmp(o, "ping") == 0) {
		agt_reply(a, cmd, true, NULL, NULL);
	} else if (strcmp(o, "hello") == 0) {
		/* A controller that never read our hello (kafka) asks. */
		send_hello(a);
		agt_reply(a, cmd, true, NULL, NULL);
	} else if (agt_vms_command(a, o, m->obj, cmd)) {
		/* answered there, now or when the driver is done */
	} else {
		char why[128];

		/*
		 * Quote the op only whole: cutting it could split a UTF-8
		 * character, and jansson refuses invalid UTF-8.
		 */
		if (json_string_length(op) <= 40)
			snprintf(why, sizeof(why), "unknown op \"%s\"", o);
		else
			snprintf(why, sizeof(why), "unknown op of %zu bytes",
			    json_string_length(op));
		agt_reply(a, cmd, false, why, NULL);
	}
}

static void
handle_line(struct agt *a, const char *line, size_t len)
{
	struct ebb_msg m;
	struct ebb_err err;

	if (ebb_msg_parse(line, len, &m, &err) != 0) {
		/* The first few, then one in a thousand: a broken peer must
		 * not fill the disk with our log. */
		if (a->stats.bad_messages < 10 ||
		    a->stats.bad_messages % 1000 == 0)
			ebb_warn("controller sent a bad message (%llu so far): "
			    "%s", (unsigned long long)a->stats.bad_messages + 1,
			    err.msg);
		reject(a, NULL, err.msg);
		return;
	}
	if (strcmp(m.host, a->cfg.host) != 0) {
		reject(a, json_object_get(m.obj, "seq"),
		    "message is for another host");
		goto out;
	}
	/* A sequence that does not go forward is a replay: refuse it. */
	if (a->ctl.peer_seen && m.seq <= a->ctl.peer_seq) {
		reject(a, json_object_get(m.obj, "seq"),
		    "seq does not increase: replayed or reordered message");
		goto out;
	}
	a->ctl.peer_seen = true;
	a->ctl.peer_seq = m.seq;
	if (strcmp(m.type, "command") == 0)
		do_command(a, &m);
	else if (strcmp(m.type, "error") == 0)
		ebb_warn("controller refused a message: %s",
		    json_string_value(json_object_get(m.obj, "error")) ?
		    json_string_value(json_object_get(m.obj, "error")) : "?");
	else
		reject(a, json_object_get(m.obj, "seq"), "unexpected type");
out:
	ebb_msg_free(&m);
}

static void
ctl_event(struct agt *a, uint32_t events)
{
	struct agt_conn *c = &a->ctl;
	struct ebb_err err;
	const char *line;
	size_t len, got = 0;
	ssize_t n;
	int rc;

	if (c->st == AGT_CONNECTING) {
		if ((rc = ebb_connect_result(c->fd)) != 0) {
			ebb_debug("connect to %s: %s", a->cfg.controller,
			    strerror(-rc));
			conn_close(a, strerror(-rc));
			return;
		}
		if (a->tls == NULL) {
			ctl_want_write(a, false);
			conn_up(a);
			return;
		}
		if (ebb_tls_new(&c->tls, a->tls, c->fd, a->tls_name,
		    &err) != 0) {
			ebb_warn("controller %s: %s", a->cfg.controller,
			    err.msg);
			conn_close(a, err.msg);
			return;
		}
		c->st = AGT_HANDSHAKE;
	}
	if (c->st == AGT_HANDSHAKE) {
		conn_handshake(a);
		if (c->st != AGT_UP)
			return;
	}
	if ((events & EPOLLOUT) || c->out.len > 0)
		ctl_flush(a);
	/*
	 * A TLS read may have stopped for want of writing: any event can be
	 * the one it waited for.
	 */
	if (c->fd < 0 || (c->tls == NULL &&
	    !(events & (EPOLLIN | EPOLLHUP | EPOLLERR))))
		return;
	for (;;) {
		n = ebb_linebuf_recv(&c->in, c->fd, c->tls, &err);
		if (n == -EAGAIN) {
			if (c->tls != NULL && ebb_tls_want_write(c->tls))
				ctl_want_write(a, true);
			break;
		}
		if (n == 0) {
			conn_close(a, "closed by the controller");
			return;
		}
		if (n < 0) {
			conn_close(a, err.msg);
			return;
		}
		c->batching = true;
		while ((rc = ebb_linebuf_next(&c->in, &line, &len)) == 1) {
			handle_line(a, line, len);
			if (c->fd < 0)
				return;
		}
		c->batching = false;
		ctl_flush(a);
		if (c->fd < 0)
			return;
		/*
		 * Back to the loop now and then: a flood from the controller
		 * must not keep signals and the timer waiting (epoll is level
		 * triggered, so what is left wakes us again).
		 */
		if ((got += (size_t)n) >= AGT_READ_BURST)
			break;
		if (rc < 0) {
			conn_close(a, "message longer than the limit");
			return;
		}
	}
}

/* ---- the kafka bus ---------------------------------------------------------- */

/*
 * On kafka the controller's commands come from a log, not from a
 * connection: a fresh consumer group starts at the beginning of what the
 * brokers retain, a restarted agent sees again what it had not committed,
 * and a controller that took over from another numbers its commands above
 * the old one's (docs/bus.md, "Standby").  So a command is carried out
 * only when it is recent (its "ts" within command_max_age_s of our clock)
 * and its seq goes past that of the last command carried out, which
 * state_dir keeps across restarts, and it arrives before "valid_until",
 * the end of its controller's lease.  Anything else is answered with a
 * failed result, so that the controller ends the decision instead of
 * waiting for it.
 */
#define AGT_CMD_FILE	"bus-last-command"

static void
cmd_load(struct agt *a)
{
	char path[PATH_MAX + 32], buf[64];
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", a->cfg.state_dir, AGT_CMD_FILE);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    sscanf(buf, "%llu", &v) == 1) {
		a->cmd_seen = true;
		a->cmd_seq = v;
		ebb_debug("%s: last command carried out: seq %llu", path, v);
	}
	fclose(f);
}

/* Keeps cmd_seq in state_dir: written aside, then renamed over. */
static void
cmd_store(struct agt *a)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	bool ok;
	FILE *f;

	if (a->cmd_store_broken)
		return;
	snprintf(path, sizeof(path), "%s/%s", a->cfg.state_dir, AGT_CMD_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	ok = f != NULL && fprintf(f, "%llu\n",
	    (unsigned long long)a->cmd_seq) > 0;
	if (f != NULL && fclose(f) != 0)
		ok = false;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok) {
		/* Once: the agent goes on, with a weaker guarantee. */
		ebb_warn("%s: %s; the last command carried out is kept in "
		    "memory only, and a restarted agent may carry out again a "
		    "command younger than command_max_age_s", path,
		    strerror(errno));
		a->cmd_store_broken = true;
		unlink(tmp);
	}
}

/* ---- what must not be lost on the bus ---- */

#define AGT_KEPT_MAX	1000

/*
 * Hands the bus every kept message not taken yet, in order, until it
 * refuses one.  Each goes with a new seq: the controller refuses a seq
 * that does not increase, and reports went on meanwhile.
 */
static void
kept_flush(struct agt *a)
{
	for (int i = 0; a->bus != NULL && i < a->nkept; i++) {
		struct agt_kept *k = &a->kept[i];

		if (k->tag != 0)
			continue;
		json_object_set_new(k->msg, "seq",
		    json_integer((json_int_t)a->ctl.seq++));
		json_object_set_new(k->msg, "ts", json_real(ebb_wallclock()));
		if (ebb_bus_send(a->bus, EBB_BUS_REPORTS, NULL,
		    json_incref(k->msg), ++a->kept_tag) != 0)
			break;
		k->tag = a->kept_tag;
	}
}

static int
kept_send(struct agt *a, json_t *m)
{
	if (a->nkept == AGT_KEPT_MAX) {
		ebb_warn("bus: %d messages to the controller wait; the oldest "
		    "is given up", AGT_KEPT_MAX);
		json_decref(a->kept[0].msg);
		memmove(&a->kept[0], &a->kept[1], --a->nkept *
		    sizeof(*a->kept));
	}
	if (a->nkept == a->ckept) {
		a->ckept = a->ckept ? a->ckept * 2 : 16;
		a->kept = ebb_reallocarray(a->kept, a->ckept,
		    sizeof(*a->kept));
	}
	a->kept[a->nkept].msg = m;
	a->kept[a->nkept].tag = 0;
	a->nkept++;
	kept_flush(a);
	return 0;
}

static int
kept_find(const struct agt *a, uint64_t tag)
{
	for (int i = 0; i < a->nkept; i++)
		if (a->kept[i].tag == tag)
			return i;
	return -1;
}

static void
bus_delivered(void *arg, enum ebb_bus_topic t, uint64_t tag)
{
	struct agt *a = arg;
	int i;

	(void)t;
	if (tag == 0 || (i = kept_find(a, tag)) < 0)
		return;
	json_decref(a->kept[i].msg);
	memmove(&a->kept[i], &a->kept[i + 1], (a->nkept - i - 1) *
	    sizeof(*a->kept));
	a->nkept--;
}

/* Given up (brokers away past message.timeout.ms): sent again later. */
static void
bus_failed(void *arg, const struct ebb_bus_failure *f)
{
	struct agt *a = arg;
	int i;

	if (f->tag != 0 && (i = kept_find(a, f->tag)) >= 0)
		a->kept[i].tag = 0;
}

static void
kept_free(struct agt *a)
{
	for (int i = 0; i < a->nkept; i++)
		json_decref(a->kept[i].msg);
	free(a->kept);
	a->kept = NULL;
	a->nkept = a->ckept = 0;
}

/*
 * Whether command m may be carried out; why not in why, and in *code a
 * word the controller can act on ("expired": sent again with a new
 * valid_until, it could be; "stale", "replay": never).
 */
static bool
cmd_fresh(const struct agt *a, const struct ebb_msg *m, char *why,
    size_t size, const char **code)
{
	double now = ebb_wallclock(), age = now - m->ts;
	json_t *until = json_object_get(m->obj, "valid_until");

	if (fabs(age) > a->cfg.command_max_age_s) {
		snprintf(why, size, "stale command: sent %.0f s %s, beyond "
		    "command_max_age_s (%g s); not carried out", fabs(age),
		    age > 0 ? "ago" : "ahead of this host's clock",
		    a->cfg.command_max_age_s);
		*code = "stale";
		return false;
	}
	/*
	 * The end of its controller's lease: past it another controller may
	 * act, and this command, held up on the way, must not.
	 */
	if (json_is_number(until) && now > json_number_value(until)) {
		snprintf(why, size, "expired command: its controller's lease "
		    "ended %.1f s before it arrived; not carried out", now -
		    json_number_value(until));
		*code = "expired";
		return false;
	}
	if (a->cmd_seen && m->seq <= a->cmd_seq) {
		snprintf(why, size, "command seq %llu does not go past the "
		    "last one carried out (%llu): a replay, or a controller "
		    "that lost its lease; not carried out",
		    (unsigned long long)m->seq,
		    (unsigned long long)a->cmd_seq);
		*code = "replay";
		return false;
	}
	return true;
}

static void
bus_message(struct agt *a, const char *value, size_t len)
{
	struct ebb_msg m;
	struct ebb_err err;
	const char *code = NULL;
	char why[256];

	if (ebb_msg_parse(value, len, &m, &err) != 0) {
		if (a->stats.bad_messages < 10 ||
		    a->stats.bad_messages % 1000 == 0)
			ebb_warn("bus: a bad message for this host (%llu so "
			    "far): %s",
			    (unsigned long long)a->stats.bad_messages + 1,
			    err.msg);
		reject(a, NULL, err.msg);
		return;
	}
	if (strcmp(m.host, a->cfg.host) != 0) {
		reject(a, json_object_get(m.obj, "seq"),
		    "message is for another host");
	} else if (strcmp(m.type, "command") == 0) {
		json_t *cmd = json_object_get(m.obj, "cmd");

		if (!cmd_fresh(a, &m, why, sizeof(why), &code)) {
			if (a->stats.commands_refused++ < 10 ||
			    a->stats.commands_refused % 1000 == 0)
				ebb_warn("bus: %s", why);
			if (json_is_integer(cmd))
				refuse(a, cmd, why, code);
			else
				reject(a, json_object_get(m.obj, "seq"), why);
			goto out;
		}
		/*
		 * Written before it is carried out: a crash in between loses
		 * the command (the controller's reports tell it), where the
		 * other order could carry out a migration twice.
		 */
		a->cmd_seen = true;
		a->cmd_seq = m.seq;
		cmd_store(a);
		do_command(a, &m);
	} else if (strcmp(m.type, "error") == 0) {
		ebb_warn("controller refused a message: %s",
		    json_string_value(json_object_get(m.obj, "error")) ?
		    json_string_value(json_object_get(m.obj, "error")) : "?");
	} else {
		reject(a, json_object_get(m.obj, "seq"), "unexpected type");
	}
out:
	ebb_msg_free(&m);
}

static void
bus_recv(void *arg, const struct ebb_bus_msg *bm)
{
	struct agt *a = arg;

	bus_message(a, bm->value, bm->len);
	/*
	 * Applied once answered or started: a migration that runs for
	 * minutes must not hold the commit back, and state_dir already
	 * says the command was taken.
	 */
	ebb_bus_applied(a->bus, &bm->ref);
}

/*
 * The brokers are reachable (first, or again): hello, as on a new
 * connection, so that a controller that started or took over meanwhile
 * learns this host without waiting for a restart.
 */
static void
bus_state(void *arg, enum ebb_bus_state st)
{
	struct agt *a = arg;

	if (st != EBB_BUS_UP)
		return;
	a->ctl.st = AGT_UP;
	a->stats.connects++;
	ebb_info("bus: brokers reachable; saying hello to the controller");
	send_hello(a);
}

/* ---- sampling, parking, reports ------------------------------------------- */

static void
park_step(struct agt *a, double now, double interval)
{
	double util[PWR_MAX_CPUS];
	struct pwr_park_input in = { .now = now, .interval = interval,
		.cpus = &a->managed };
	struct pwr_park_decision d;
	struct ebb_err err;
	int n = EBB_MIN(a->host.cpu.ncore, PWR_MAX_CPUS);

	for (int c = 0; c < n; c++) {
		const struct met_cpu_core *k = &a->host.cpu.core[c];

		util[c] = k->online && k->valid ? k->busy : 0;
	}
	in.ncpu = n;
	in.util = util;
	if (pwr_park_decide(&a->cfg.park, &a->park_st, &in, &a->unparked, &d,
	    &err) != 0) {
		ebb_warn("core parking: %s", err.msg);
		return;
	}
	a->park_reason = d.reason;
	if (!d.changed)
		return;
	a->stats.park_changes++;
	a->unparked = d.unparked;
	if (a->cfg.actuator == AGT_ACT_AFFINITY)
		agt_vms_repin(a);
	if (a->cfg.actuator == AGT_ACT_NONE || a->park_broken)
		return;
	if (a->cfg.actuator == AGT_ACT_CPUSET || a->cfg.actuator ==
	    AGT_ACT_HOTPLUG) {
		struct pwr_act act = { .kind = a->cfg.actuator ==
		    AGT_ACT_CPUSET ? PWR_ACT_CPUSET : PWR_ACT_HOTPLUG,
			.cg = a->cg_open ? &a->cg : NULL };

		if (act.kind == PWR_ACT_CPUSET && !a->cg_open)
			return;
		if (pwr_act_apply(&act, &a->unparked, &err) != 0) {
			/* Once: a broken actuator would flood the log. */
			ebb_err_log("core parking: %s; parking decisions are "
			    "still made and reported, not applied", err.msg);
			a->park_broken = true;
		}
	}
	/*
	 * The affinity actuator confines the VMs' vCPU threads through the
	 * hypervisor driver (agt_vms_repin above); with no driver there is
	 * nothing to confine, and the decision is reported only.
	 */
}

static double
host_busy(const struct agt *a)
{
	if (a->cfg.cpu_from_vms)
		return agt_vms_busy(a);
	return a->host.cpu.all.valid ? a->host.cpu.all.busy : 0.0;
}

static json_t *
report_cpu(const struct agt *a)
{
	json_t *cores = json_array();
	const struct met_cpu *c = &a->host.cpu;

	for (int i = 0; i < c->ncore; i++)
		if (c->core[i].online)
			json_array_append_new(cores, json_real(c->core[i].valid ?
			    c->core[i].busy : 0));
	return json_pack("{s:f, s:o, s:f, s:f}",
	    "busy", host_busy(a),
	    "cores", cores,
	    "steal", c->all.valid ? met_cpu_frac(&c->all, MET_CPU_STEAL) : 0.0,
	    "iowait", c->all.valid ? met_cpu_frac(&c->all, MET_CPU_IOWAIT) :
	    0.0);
}

static void
send_report(struct agt *a, double interval)
{
	char unparked[4096], parked[4096];
	struct pwr_mask pm = a->managed;
	json_t *m;

	if (a->ctl.st != AGT_UP) {
		a->stats.reports_skipped++;
		return;
	}
	for (int i = 0; i < PWR_MAX_CPUS; i++)
		if (pwr_mask_test(&a->unparked, i))
			pwr_mask_clr(&pm, i);
	if (pwr_cpulist_format(&a->unparked, unparked, sizeof(unparked)) < 0)
		unparked[0] = '\0';
	if (pwr_cpulist_format(&pm, parked, sizeof(parked)) < 0)
		parked[0] = '\0';
	m = msg(a, "report");
	json_object_set_new(m, "interval_s", json_real(interval));
	json_object_set_new(m, "cpu", report_cpu(a));
	json_object_set_new(m, "load", json_pack("[f, f, f]", a->host.load1,
	    a->host.load5, a->host.load15));
	json_object_set_new(m, "mem", json_pack("{s:I, s:I}", "total_kb",
	    (json_int_t)a->host.mem_total_kb, "avail_kb",
	    (json_int_t)a->host.mem_available_kb));
	json_object_set_new(m, "unparked", json_string(unparked));
	json_object_set_new(m, "parked", json_string(parked));
	json_object_set_new(m, "park_reason",
	    json_string(pwr_park_reason_name(a->park_reason)));
	if (a->sensors != NULL) {
		struct pwr_sensors_reading rd;
		struct ebb_err err;
		double busy = host_busy(a);

		if (pwr_sensors_read(a->sensors, busy, &rd, &err) == 0 &&
		    rd.source != PWR_WATTS_NONE) {
			json_t *p = json_pack("{s:f, s:b}", "watts", rd.watts,
			    "estimate", rd.source == PWR_WATTS_ESTIMATE);

			if (rd.temp_max == rd.temp_max)	/* not NaN */
				json_object_set_new(p, "temp_max_c",
				    json_real(rd.temp_max));
			json_object_set_new(m, "power", p);
		}
	}
	json_object_set_new(m, "vms", agt_vms_json(a));
	if (ctl_send(a, m) == 0)
		a->stats.reports_sent++;
}

void
agt_tick(struct agt *a)
{
	double now = ebb_monoclock(), interval;
	struct ebb_err err;

	if (met_host_sample(&a->host, &err) != 0) {
		ebb_warn("sampling the host: %s", err.msg);
		return;
	}
	a->stats.samples++;
	interval = a->have_sample ? now - a->last_sample : a->cfg.interval_s;
	a->last_sample = now;
	if (!a->have_sample) {
		/* The first sample has no interval behind it yet. */
		a->have_sample = true;
		return;
	}
	agt_vms_sample(a);
	if (a->cfg.park_enabled)
		park_step(a, now, interval);
	a->last_interval = interval;
	kept_flush(a);
	send_report(a, interval);
}

void
agt_report_now(struct agt *a)
{
	send_report(a, a->last_interval > 0 ? a->last_interval :
	    a->cfg.interval_s);
}

/* ---- metrics endpoint ------------------------------------------------------ */

/*
 * Serves one scrape synchronously: scrapes are local and seconds apart,
 * the answer is built from the last sample in memory, and a stuck client
 * is cut off by a one-second timeout, so a thread or a state machine per
 * client would buy nothing.
 */
static void
metrics_event(struct agt *a)
{
	static char body[64 * 1024];
	struct timeval tv = { .tv_sec = 1 };
	char req[1024], head[160];
	struct met_prom p;
	size_t blen = 0;
	ssize_t n;
	int fd, hl;

	while ((fd = ebb_accept(a->mfd)) >= 0) {
		int fl = fcntl(fd, F_GETFL);

		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		n = recv(fd, req, sizeof(req) - 1, 0);
		if (n <= 0) {
			close(fd);
			continue;
		}
		req[n] = '\0';
		if (strncmp(req, "GET /metrics ", 13) != 0 &&
		    strncmp(req, "GET /metrics?", 13) != 0) {
			static const char nf[] = "HTTP/1.0 404 Not Found\r\n"
			    "Content-Type: text/plain\r\nContent-Length: 25\r\n"
			    "\r\nonly /metrics lives here\n";

			ebb_write_all(fd, nf, sizeof(nf) - 1, 1000);
			close(fd);
			continue;
		}
		met_prom_init(&p, body, sizeof(body));
		if (met_prom_host(&p, &a->host) != 0 ||
		    met_prom_finish(&p, &blen) != 0)
			blen = 0;
		hl = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n"
		    "Content-Type: text/plain; version=0.0.4\r\n"
		    "Content-Length: %zu\r\n\r\n", blen);
		if (ebb_write_all(fd, head, hl, 1000) == 0)
			ebb_write_all(fd, body, blen, 1000);
		close(fd);
	}
}

/* ---- set-up and the loop ---------------------------------------------------- */

/*
 * The controller link's TLS context and the name the controller's
 * certificate must carry, or the loud warning that there is no TLS.
 */
static int
conn_tls_init(struct agt *a, struct ebb_err *err)
{
	char host[EBB_ADDR_MAX];
	int port, rc;

	if ((rc = agt_config_check_tls(&a->cfg, "configuration", err)) != 0)
		return rc;
	if (a->cfg.insecure_plaintext) {
		ebb_warn("INSECURE: \"insecure_plaintext\": true: the link to "
		    "controller %s is plain TCP, neither encrypted nor "
		    "authenticated; anyone on the path can read it, and "
		    "anything on that port can command this host.  For tests "
		    "only: configure \"tls\" (scripts/ebb-ca)",
		    a->cfg.controller);
		return 0;
	}
	if ((rc = ebb_hostport(a->cfg.controller, host, sizeof(host), &port,
	    err)) != 0)
		return rc;
	snprintf(a->tls_name, sizeof(a->tls_name), "%s",
	    a->cfg.tls.server_name[0] ? a->cfg.tls.server_name : host);
	return ebb_tls_ctx_new(&a->tls, EBB_TLS_CLIENT, &a->cfg.tls, err);
}

static int
add_fd(struct agt *a, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int
bus_open(struct agt *a, struct ebb_err *err)
{
	struct ebb_bus_cb cb = { .recv = bus_recv, .state = bus_state,
		.delivered = bus_delivered, .failed = bus_failed, .arg = a };
	int rc;

	if ((rc = ebb_bus_open(&a->bus, &a->cfg.bus, EBB_BUS_AGENT,
	    a->cfg.host, &cb, err)) != 0)
		return rc;
	if ((rc = add_fd(a, ebb_bus_fd(a->bus), TAG_BUS)) != 0) {
		ebb_err_set(err, "epoll: %s", strerror(-rc));
		ebb_bus_close(a->bus, 0);
		a->bus = NULL;
	}
	return rc;
}

/*
 * The bus's work.  A bus that failed for good (librdkafka's fatal
 * idempotence error) is replaced by a new one, as docs/bus.md asks;
 * reports are skipped (counted) until it is up.
 */
static void
bus_event(struct agt *a)
{
	struct ebb_err err;

	if (ebb_bus_process(a->bus) != -ENOTRECOVERABLE)
		return;
	ebb_err_log("bus: failed for good; opening it again");
	ebb_bus_close(a->bus, 0);
	a->bus = NULL;
	for (int i = 0; i < a->nkept; i++)
		a->kept[i].tag = 0;
	a->ctl.st = AGT_DOWN;
	if (bus_open(a, &err) != 0) {
		ebb_err_log("%s; stopping", err.msg);
		a->exit_code = 1;
		a->quit = true;
	}
}

int
agt_init(struct agt *a, const struct agt_config *cfg, struct ebb_err *err)
{
	int rc;

	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->epfd = a->tfd = a->sfd = a->mfd = a->ctl.fd = -1;
	ebb_linebuf_init(&a->ctl.in);
	pwr_park_state_init(&a->park_st);
	srandom((unsigned)(getpid() ^ (unsigned)ebb_wallclock()));

	if ((rc = met_host_open(&a->host, "/proc", err)) != 0)
		return rc;
	{
		static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
		struct ebb_loop l;

		if ((rc = ebb_loop_open(&l, cfg->interval_s, sigs,
		    EBB_NITEMS(sigs), TAG_TIMER, TAG_SIGNAL, err)) != 0)
			goto fail;
		a->epfd = l.epfd;
		a->tfd = l.tfd;
		a->sfd = l.sfd;
	}
	if (cfg->metrics_listen[0] != '\0') {
		char host[EBB_ADDR_MAX];
		int port;

		if ((rc = ebb_hostport(cfg->metrics_listen, host, sizeof(host),
		    &port, err)) != 0)
			goto fail;
		if ((a->mfd = ebb_tcp_listen(host, port, err)) < 0) {
			rc = a->mfd;
			goto fail;
		}
		if ((rc = add_fd(a, a->mfd, TAG_METRICS)) != 0)
			goto fail;
	}

	/* Every online core is managed; cpu0 is never parked. */
	if ((rc = met_host_sample(&a->host, err)) != 0)
		goto fail;
	pwr_mask_zero(&a->managed);
	for (int c = 0; c < a->host.cpu.ncore && c < PWR_MAX_CPUS; c++)
		if (a->host.cpu.core[c].online)
			pwr_mask_set(&a->managed, c);
	a->unparked = a->managed;
	a->have_sample = true;
	a->last_sample = ebb_monoclock();
	if (cfg->park_enabled && cfg->actuator == AGT_ACT_CPUSET) {
		if ((rc = pwr_cgroup_open(&a->cg, "/sys/fs/cgroup",
		    cfg->cpuset_path, PWR_CGROUP_AUTO, true, err)) != 0)
			goto fail;
		a->cg_open = true;
	}

	{
		struct pwr_sensors_opts so = { .curve = cfg->has_power_model ?
		    &cfg->power_model : NULL };

		/* Without sensors or a model the report just has no power. */
		if (pwr_sensors_open(&a->sensors, &so, err) != 0) {
			ebb_warn("sensors: %s", err->msg);
			a->sensors = NULL;
		}
	}
	read_cpuinfo(a);
	if ((rc = agt_vms_open(a, err)) != 0)
		goto fail;
	if (a->vms.efd >= 0 && (rc = add_fd(a, a->vms.efd, TAG_DRIVER)) != 0) {
		ebb_err_set(err, "epoll: %s", strerror(-rc));
		goto fail;
	}
	/* The first hello already lists the VMs. */
	agt_vms_sample(a);
	if (cfg->bus.kind == EBB_BUS_KAFKA) {
		uint64_t r = (uint64_t)random() << 32 ^ (uint64_t)random();

		snprintf(a->session, sizeof(a->session), "%016llx",
		    (unsigned long long)r);
		cmd_load(a);
		if ((rc = bus_open(a, err)) != 0)
			goto fail;
	} else if (cfg->controller[0] != '\0') {
		if ((rc = conn_tls_init(a, err)) != 0)
			goto fail;
		conn_start(a);
	}
	return 0;
fail:
	agt_fini(a);
	return rc;
}

void
agt_fini(struct agt *a)
{
	/* Reports still buffered get two seconds to leave. */
	ebb_bus_close(a->bus, 2000);
	a->bus = NULL;
	kept_free(a);
	agt_vms_close(a);
	ebb_tls_free(a->ctl.tls);
	a->ctl.tls = NULL;
	ebb_tls_ctx_free(a->tls);
	a->tls = NULL;
	if (a->ctl.fd >= 0)
		close(a->ctl.fd);
	if (a->mfd >= 0)
		close(a->mfd);
	if (a->sfd >= 0)
		close(a->sfd);
	if (a->tfd >= 0)
		close(a->tfd);
	if (a->epfd >= 0)
		close(a->epfd);
	a->ctl.fd = a->mfd = a->sfd = a->tfd = a->epfd = -1;
	ebb_outq_free(&a->ctl.out);
	free(a->cpu_flags);
	a->cpu_flags = NULL;
	pwr_sensors_close(a->sensors);
	a->sensors = NULL;
	ebb_linebuf_free(&a->ctl.in);
	met_host_close(&a->host);
}

static void
signal_event(struct agt *a)
{
	struct signalfd_siginfo si;

	while (read(a->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			ebb_info("SIGHUP: nothing to reload yet; "
			    "restart the agent to apply a new configuration");
			continue;
		}
		ebb_info("signal %u: stopping (VMs keep running)",
		    si.ssi_signo);
		a->quit = true;
	}
}

int
agt_run(struct agt *a)
{
	struct epoll_event evs[16];

	while (!a->quit) {
		int n = epoll_wait(a->epfd, evs, EBB_NITEMS(evs),
		    conn_timer(a));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ebb_err_log("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_TIMER: {
				uint64_t ticks;

				if (read(a->tfd, &ticks, sizeof(ticks)) > 0)
					agt_tick(a);
				break;
			}
			case TAG_SIGNAL:
				signal_event(a);
				break;
			case TAG_CTL:
				if (a->ctl.fd >= 0)
					ctl_event(a, evs[i].events);
				break;
			case TAG_METRICS:
				metrics_event(a);
				break;
			case TAG_DRIVER:
				agt_vms_event(a);
				break;
			case TAG_BUS:
				if (a->bus != NULL)
					bus_event(a);
				break;
			}
		}
	}
	return a->exit_code;
}
