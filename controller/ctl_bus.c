/*
 * ctl_bus.c - the controller on the kafka bus: agents as virtual
 * connections, the outbox that sends again what the brokers lost, the
 * journal made public on ebb.decisions, and the lease that lets one
 * controller of several act.  ctl_bus.h says what it is for; the lease is
 * explained above lease_recv().
 */
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_bus.h"
#include "ctl_jnl.h"
#include "ctl_journal.h"
#include "ebb_bus.h"
#include "ebb_log.h"

/* All lease messages share one key, hence one partition: one order. */
#define LEASE_KEY	"ebb.lease"
/*
 * A command's seq is its controller's term times 2^24 plus a counter, so
 * the commands of each term number above those of every earlier term, and
 * an agent that carried out a new controller's command refuses those of
 * the controller it replaced (agent: seq must go past the last applied).
 */
#define CMD_TERM_SHIFT	24
/* journal key/values of the bus */
#define KV_TERM		"bus.term"
#define KV_PUBLISH	"bus.publish_from"
#define SENT_MAX	32	/* our recent lease messages, by seq */
#define CMDS_KEPT	256	/* our recent commands, for a second sending */
#define CMD_RESENDS	3	/* times one refused as expired is sent again */

/* One agent, by its key on ebb.reports. */
struct peer {
	char	key[EBB_HOST_MAX + 1];
	int	ci;		/* its virtual connection in c->conns */
	double	asked;		/* a hello asked for then (monotonic s) */
	char	session[32];	/* its agent's run, from its last hello */
};

/* A message kept until the brokers have it. */
struct out {
	enum ebb_bus_topic topic;
	char	*key;
	json_t	*msg;
	uint64_t tag;
};

/*
 * A command sent, kept until its result: an agent that refuses one as
 * expired (it reached the agent after the valid_until it was sent with:
 * the brokers were away, or the agent's consumer was slow to come back)
 * gets it again, stamped with the lease as it stands, while this
 * controller still acts in the term that numbered it.
 */
struct sentcmd {
	char		 key[EBB_HOST_MAX + 1];
	json_t		*msg;		/* NULL: slot free */
	json_int_t	 cmd;
	int		 resent;
};

/* A decision another controller made and has not ended, mirrored here. */
struct mirror {
	char	ctl[EBB_HOST_MAX + 1];
	int64_t	id;		/* its id in that controller's journal */
	int64_t	local;		/* its id in ours */
	json_t	*row;		/* as published */
};

struct ctl_bus {
	struct ebb_bus	*bus;
	int		 epfd;		/* the bus's fd and tfd, nested */
	int		 tfd;		/* the lease's clock */
	char		 name[EBB_HOST_MAX + 1];
	char		 inc[32];	/* this process: a lease of an earlier
					   run under our name is not ours */
	uint64_t	 seq;		/* our messages on ebb.decisions */
	double		 up_since;	/* brokers first reached (monotonic) */

	/* The lease, as the log says. */
	uint64_t	 term;
	char		 holder[EBB_HOST_MAX + 1];
	char		 holder_inc[32];
	double		 holder_lease_s;
	double		 seen;		/* its holder's last message read */
	char		 prev[EBB_HOST_MAX + 1];	/* the holder before */
	uint64_t	 prev_term;
	/* Ours. */
	bool		 mine;		/* this process holds the lease */
	bool		 acting;
	double		 auth_start;	/* acting from (monotonic s) ... */
	double		 auth_until;	/* ... until, unless renewed */
	double		 next_renew;
	double		 claimed;	/* a claim sent then, unread (0: none) */
	uint64_t	 taken_term;	/* the term we last took over in */
	uint64_t	 floor;		/* the highest term this journal saw */
	struct {
		uint64_t seq;
		double	 at;
	}		 sent[SENT_MAX];	/* our last lease messages */
	int		 nsent;

	struct peer	*peers;
	int		 npeers, cpeers;
	struct out	*out;
	int		 nout, cout;
	struct sentcmd	 cmds[CMDS_KEPT];	/* a ring */
	unsigned	 ncmds;		/* commands kept so far */
	uint64_t	 resent_expired;
	int64_t		*unpub;		/* decisions published, undelivered */
	int		 nunpub, cunpub;
	int64_t		 publish_from;	/* as the journal has it; 0: none */
	bool		 republished;	/* what an earlier run left is out:
					   the mark may move on */
	struct mirror	*mir;
	int		 nmir, cmir;
	bool		 mirroring;	/* journal writes of another's */

	uint64_t	 stale;		/* agent messages older than
					   unknown_after_s: facts only */
	uint64_t	 unbound;	/* agent messages before any hello */
	uint64_t	 kept;		/* given up by the bus, kept, resent */
	uint64_t	 bad;		/* malformed or refused messages */
	uint64_t	 mirrored;	/* decisions of others journalled */
};

static void	lease_update(struct ctl *);

static double
grace_s(const struct ctl *c)
{
	/* Clocks drift, consumers lag: a takeover waits this much more. */
	return EBB_MAX(1.0, c->cfg.lease_s / 4);
}

/* Logs the first few, then one in a thousand. */
static bool
often(uint64_t n)
{
	return n <= 10 || n % 1000 == 0;
}

/* ---- the outbox ------------------------------------------------------------ */

static void
unpub_del(struct ctl_bus *b, int64_t id)
{
	for (int i = 0; i < b->nunpub; i++)
		if (b->unpub[i] == id) {
			b->unpub[i] = b->unpub[--b->nunpub];
			return;
		}
}

/* Where a restart publishes again from: the journal's key/value. */
static void
publish_from_set(struct ctl *c, int64_t id)
{
	struct ctl_bus *b = c->bus;
	struct ebb_err err;
	char v[32];

	snprintf(v, sizeof(v), "%" PRId64, id);
	if (ctl_journal_kv_set(c->journal, KV_PUBLISH, id > 0 ? v : NULL,
	    ctl_journal_now(), &err) != 0) {
		ebb_warn("journal: %s: %s", KV_PUBLISH, err.msg);
		return;
	}
	b->publish_from = id;
}

/*
 * Write-ahead: before a decision can be lost with this process (in the
 * bus's buffer), the journal says to publish again from it.
 */
static void
unpub_add(struct ctl *c, int64_t id)
{
	struct ctl_bus *b = c->bus;

	if (b->nunpub == b->cunpub) {
		b->cunpub = b->cunpub ? b->cunpub * 2 : 16;
		b->unpub = ebb_reallocarray(b->unpub, b->cunpub,
		    sizeof(*b->unpub));
	}
	b->unpub[b->nunpub++] = id;
	if (b->publish_from == 0 || id < b->publish_from)
		publish_from_set(c, id);
}

/*
 * The mark moves on, lazily, to the oldest decision not yet delivered;
 * not before this run has published again what an earlier one left.
 */
static void
unpub_mark(struct ctl *c)
{
	struct ctl_bus *b = c->bus;
	int64_t lo = 0;

	if (!b->republished)
		return;
	for (int i = 0; i < b->nunpub; i++)
		if (lo == 0 || b->unpub[i] < lo)
			lo = b->unpub[i];
	if (lo != b->publish_from)
		publish_from_set(c, lo);
}

static void
out_push(struct ctl_bus *b, enum ebb_bus_topic t, const char *key, json_t *m,
    uint64_t tag)
{
	struct out *o;

	if (b->nout == b->cout) {
		b->cout = b->cout ? b->cout * 2 : 16;
		b->out = ebb_reallocarray(b->out, b->cout, sizeof(*b->out));
	}
	o = &b->out[b->nout++];
	o->topic = t;
	o->key = ebb_strdup(key);
	o->msg = m;
	o->tag = tag;
}

static void
out_drop(struct ctl_bus *b, int i)
{
	free(b->out[i].key);
	json_decref(b->out[i].msg);
	memmove(&b->out[i], &b->out[i + 1], (b->nout - i - 1) *
	    sizeof(*b->out));
	b->nout--;
}

/* Our authority's end on the wall clock, for commands' "valid_until". */
static double
valid_until(const struct ctl_bus *b)
{
	return ebb_wallclock() + (b->auth_until - ebb_monoclock());
}

/*
 * Hands the bus what the outbox holds, in order, until it refuses one
 * (its buffer is full, or it failed): the rest waits for the next tick.
 * Commands leave only while this controller acts, each with the end of
 * its authority, so that one held up in the outbox or in the brokers
 * cannot be carried out once another controller may be acting.
 */
static void
out_flush(struct ctl *c)
{
	struct ctl_bus *b = c->bus;
	bool acting = ctl_bus_acting(c);
	int i = 0, rc;

	while (b->bus != NULL && i < b->nout) {
		struct out *o = &b->out[i];

		if (o->topic == EBB_BUS_COMMANDS) {
			if (!acting) {
				i++;
				continue;
			}
			json_object_set_new(o->msg, "valid_until",
			    json_real(valid_until(b)));
		}
		rc = ebb_bus_send(b->bus, o->topic, o->key, json_incref(o->msg),
		    o->tag);
		if (rc == -EINVAL || rc == -EMSGSIZE) {
			/* Sending it again would not help. */
			ebb_err_log("bus: a message on %s for %s cannot be "
			    "sent: %s; dropped", ebb_bus_topic_name(o->topic),
			    o->key, strerror(-rc));
			if (o->topic == EBB_BUS_DECISIONS)
				unpub_del(b, (int64_t)o->tag);
			out_drop(b, i);
			continue;
		}
		if (rc != 0)
			break;
		out_drop(b, i);
	}
}

/* A message (consumed) out through the outbox, behind what waits there. */
static void
out_send(struct ctl *c, enum ebb_bus_topic t, const char *key, json_t *m,
    uint64_t tag)
{
	out_push(c->bus, t, key, m, tag);
	out_flush(c);
}

static struct sentcmd *
cmd_find(struct ctl_bus *b, const char *key, json_int_t cmd)
{
	for (int i = 0; i < CMDS_KEPT; i++) {
		struct sentcmd *sc = &b->cmds[i];

		if (sc->msg != NULL && sc->cmd == cmd &&
		    strcmp(sc->key, key) == 0)
			return sc;
	}
	return NULL;
}

static void
cmd_forget(struct sentcmd *sc)
{
	json_decref(sc->msg);
	sc->msg = NULL;
}

/* Keeps command m, sent to key, in place of the oldest kept. */
static void
cmd_keep(struct ctl_bus *b, const char *key, json_t *m)
{
	struct sentcmd *sc = &b->cmds[b->ncmds++ % CMDS_KEPT];
	json_t *cmd = json_object_get(m, "cmd");

	if (!json_is_integer(cmd))
		return;
	if (sc->msg != NULL)
		cmd_forget(sc);
	snprintf(sc->key, sizeof(sc->key), "%s", key);
	sc->msg = json_incref(m);
	sc->cmd = json_integer_value(cmd);
	sc->resent = 0;
}

/*
 * A result from key (already known to be of our term): true when it was
 * a refusal as expired of a command we kept and sent again, so that the
 * result is not the command's end.  Any other result ends its keeping.
 */
static bool
cmd_result(struct ctl *c, const char *key, const struct ebb_msg *m)
{
	struct ctl_bus *b = c->bus;
	json_t *cmd = json_object_get(m->obj, "cmd");
	const char *code = json_string_value(json_object_get(m->obj,
	    "refused"));
	struct sentcmd *sc;

	if (!json_is_integer(cmd) ||
	    (sc = cmd_find(b, key, json_integer_value(cmd))) == NULL)
		return false;
	if (code == NULL || strcmp(code, "expired") != 0 ||
	    sc->resent >= CMD_RESENDS || !ctl_bus_acting(c)) {
		cmd_forget(sc);
		return false;
	}
	sc->resent++;
	b->resent_expired++;
	ebb_info("bus: %s refused command %" JSON_INTEGER_FORMAT " as "
	    "expired; sent again under the current lease (%d of %d)", key,
	    sc->cmd, sc->resent, CMD_RESENDS);
	out_send(c, EBB_BUS_COMMANDS, key, json_incref(sc->msg),
	    (uint64_t)json_integer_value(json_object_get(sc->msg, "seq")));
	return true;
}

/* ---- the bus's callbacks ----------------------------------------------------- */

static void
bus_delivered(void *arg, enum ebb_bus_topic t, uint64_t tag)
{
	struct ctl *c = arg;

	if (t == EBB_BUS_DECISIONS && tag > 0)
		unpub_del(c->bus, (int64_t)tag);
}

/*
 * The bus gave up on a message (brokers away past message.timeout.ms, a
 * permanent error, the bus closing).  Commands and decisions are kept and
 * sent again from the next tick on; a lease is worth nothing late.
 */
static void
bus_failed(void *arg, const struct ebb_bus_failure *f)
{
	struct ctl *c = arg;
	struct ctl_bus *b = c->bus;
	json_t *m = json_loadb(f->value, f->len, 0, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));
	char key[EBB_HOST_MAX + 1];

	if (m == NULL || type == NULL || strcmp(type, "lease") == 0) {
		json_decref(m);
		return;
	}
	snprintf(key, sizeof(key), "%.*s", (int)EBB_MIN(f->keylen,
	    EBB_HOST_MAX), f->key);
	if (often(++b->kept))
		ebb_warn("bus: %s for %s on %s not delivered (%s); kept, and "
		    "sent again (%" PRIu64 " so far)", type, key,
		    ebb_bus_topic_name(f->topic), f->reason, b->kept);
	out_push(b, f->topic, key, m, f->tag);
}

/* ---- agents: virtual connections ---------------------------------------------- */

static struct peer *
peer_get(struct ctl *c, const char *key)
{
	struct ctl_bus *b = c->bus;
	struct ctl_conn *k;
	struct peer *p;
	int ci;

	for (int i = 0; i < b->npeers; i++)
		if (strcmp(b->peers[i].key, key) == 0)
			return &b->peers[i];
	if (b->npeers >= CTL_HOSTS_MAX)
		return NULL;
	/* A slot of c->conns of its own: no fd, its sends go to the bus. */
	ci = c->nconns;
	c->conns = ebb_reallocarray(c->conns, ++c->nconns, sizeof(*c->conns));
	k = &c->conns[ci];
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	k->host = -1;
	k->bus = true;
	k->seq = b->term << CMD_TERM_SHIFT;
	snprintf(k->peer, sizeof(k->peer), "bus:%.58s", key);
	if (b->npeers == b->cpeers) {
		b->cpeers = b->cpeers ? b->cpeers * 2 : 16;
		b->peers = ebb_reallocarray(b->peers, b->cpeers,
		    sizeof(*b->peers));
	}
	p = &b->peers[b->npeers++];
	memset(p, 0, sizeof(*p));
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->ci = ci;
	return p;
}

/*
 * An agent reports, but no hello of its has been read here (it said hello
 * before this controller's consumer group began, or retention dropped
 * it): ask for one, at most every few seconds, if this controller acts.
 */
static void
ask_hello(struct ctl *c, struct peer *p)
{
	struct ctl_conn *k = &c->conns[p->ci];
	double now = ebb_monoclock();
	json_t *m;

	if (!ctl_bus_acting(c) || (p->asked > 0 && now - p->asked <
	    EBB_MAX(5, 2 * c->cfg.interval_s)))
		return;
	if (p->asked == 0)
		ebb_info("bus: %s reports, but its hello was not read here: "
		    "asking for one", p->key);
	p->asked = now;
	m = ebb_msg_new("command", p->key, k->seq, ebb_wallclock());
	json_object_set_new(m, "cmd", json_integer((json_int_t)k->seq));
	json_object_set_new(m, "op", json_string("hello"));
	k->seq++;
	ctl_bus_send(c, p->ci, m);
}

/*
 * A message on ebb.reports.  Its key must be its host (the brokers' ACLs
 * let a host's principal write only that key: that is what binds a host
 * name to a client here, as its certificate does on tcp).  Then it goes
 * through the controller's own handling, as a TCP line would.  A message
 * older than unknown_after_s (a consumer that starts at the beginning of
 * the retained log) keeps its facts but tells no news of life.
 */
static void
reports_recv(struct ctl *c, const struct ebb_bus_msg *bm)
{
	struct ctl_bus *b = c->bus;
	char key[EBB_HOST_MAX + 1];
	struct ebb_err err;
	struct ebb_msg m;
	struct ctl_conn *k;
	struct peer *p;
	bool hello, report, stale;
	const char *session;
	json_t *dropped, *ref;
	double age;

	if (bm->keylen == 0 || bm->keylen > EBB_HOST_MAX) {
		if (often(++b->bad))
			ebb_warn("bus: a report without a usable key: refused");
		return;
	}
	snprintf(key, sizeof(key), "%.*s", (int)bm->keylen, bm->key);
	if (ebb_msg_parse(bm->value, bm->len, &m, &err) != 0) {
		c->stats.bad_messages++;
		if (often(++b->bad))
			ebb_warn("bus: a bad message from %s: %s", key,
			    err.msg);
		return;
	}
	if (strcmp(m.host, key) != 0) {
		c->stats.bad_messages++;
		if (often(++b->bad))
			ebb_warn("bus: a message for host %s under key %s: "
			    "refused (a host writes under its own key)",
			    m.host, key);
		goto out;
	}
	if ((p = peer_get(c, key)) == NULL) {
		if (often(++b->bad))
			ebb_warn("bus: %s: too many hosts", key);
		goto out;
	}
	k = &c->conns[p->ci];
	hello = strcmp(m.type, "hello") == 0;
	report = strcmp(m.type, "report") == 0;
	age = ebb_wallclock() - m.ts;
	/*
	 * A report older than unknown_after_s cannot say a host lives; a
	 * hello sent before its host entered the state it is in cannot say
	 * it came back (a host switched off after its agent started).
	 */
	stale = age > c->cfg.unknown_after_s;
	if (hello) {
		int hi = ctl_host_find(c, key);

		stale = hi >= 0 && m.ts < ebb_wallclock() -
		    (ebb_monoclock() - c->hosts[hi].state_since);
	}
	if (hello) {
		/* A new session of the agent: its seq starts again. */
		k->peer_seen = false;
	} else if (k->host < 0) {
		b->unbound++;
		if (!stale)
			ask_hello(c, p);
		goto out;
	}
	if (hello && !stale && k->host >= 0 && (session = json_string_value(
	    json_object_get(m.obj, "session"))) != NULL) {
		/*
		 * A new run of the agent: what the last one was doing for
		 * us died with it, as with a TCP connection that drops, and
		 * is settled by its reports.  (The same run says hello again
		 * whenever its brokers come back; that changes nothing.)
		 */
		if (p->session[0] && strcmp(p->session, session) != 0)
			ctl_host_gap(c, k->host);
		snprintf(p->session, sizeof(p->session), "%s", session);
	}
	dropped = json_object_get(m.obj, "dropped");
	if (report && k->host >= 0 && json_is_integer(dropped) &&
	    json_integer_value(dropped) > 0) {
		struct ctl_host *h = &c->hosts[k->host];

		h->dropped += (uint64_t)json_integer_value(dropped);
		ebb_warn("bus: %s dropped %" JSON_INTEGER_FORMAT " message(s) "
		    "(%" PRIu64 " in all): its brokers were away or its "
		    "buffer full", key, json_integer_value(dropped),
		    h->dropped);
	}
	/*
	 * A result (or refusal) of a command numbered in a term this
	 * controller did not act in is another controller's business.
	 */
	if ((strcmp(m.type, "result") == 0 || strcmp(m.type, "error") == 0) &&
	    (ref = json_object_get(m.obj, strcmp(m.type, "result") == 0 ?
	    "cmd" : "ref")) != NULL && json_is_integer(ref) &&
	    (uint64_t)json_integer_value(ref) >> CMD_TERM_SHIFT !=
	    b->taken_term)
		goto out;
	if (strcmp(m.type, "result") == 0 && cmd_result(c, key, &m))
		goto out;
	if (stale)
		b->stale++;
	c->replaying = stale;
	ctl_conn_line(c, p->ci, bm->value, bm->len);
	c->replaying = false;
	if (k->host >= 0 && (hello || report) && age > 0) {
		struct ctl_host *h = &c->hosts[k->host];

		/* Silence is counted from when it was sent. */
		h->last_seen = EBB_MIN(h->last_seen, ebb_monoclock() - age);
	}
out:
	ebb_msg_free(&m);
}

int
ctl_bus_send(struct ctl *c, int ci, json_t *m)
{
	struct ctl_bus *b = c->bus;
	const char *host = json_string_value(json_object_get(m, "host"));
	char key[EBB_HOST_MAX + 1];

	if (b == NULL || !ctl_bus_acting(c) || host == NULL) {
		json_decref(m);
		return b == NULL || host == NULL ? -EIO : -EPERM;
	}
	(void)ci;
	snprintf(key, sizeof(key), "%s", host);
	json_object_set_new(m, "term", json_integer((json_int_t)b->term));
	json_object_set_new(m, "ctl", json_string(b->name));
	cmd_keep(b, key, m);
	out_send(c, EBB_BUS_COMMANDS, key, m, json_integer_value(
	    json_object_get(m, "seq")));
	return 0;
}

/* ---- the journal made public ----------------------------------------------- */

static json_t *
msg_new(struct ctl_bus *b, const char *type, const char *host)
{
	json_t *m = ebb_msg_new(type, host, b->seq++, ebb_wallclock());

	json_object_set_new(m, "ctl", json_string(b->name));
	json_object_set_new(m, "term", json_integer((json_int_t)b->term));
	return m;
}

/* Decision id as the journal has it now, or NULL. */
static json_t *
decision_row(struct ctl *c, int64_t id)
{
	struct ctl_journal_filter f = { .after_id = id - 1, .limit = 1 };
	json_t *a = ctl_jnl_query_filter(c, &f), *row;

	row = json_array_get(a, 0);
	if (row != NULL && json_integer_value(json_object_get(row, "id")) ==
	    id)
		json_incref(row);
	else
		row = NULL;
	json_decref(a);
	return row;
}

static void
publish_row(struct ctl *c, json_t *row)
{
	struct ctl_bus *b = c->bus;
	const char *subject = json_string_value(json_object_get(row,
	    "subject"));
	int64_t id = json_integer_value(json_object_get(row, "id"));
	json_t *m;

	if (subject == NULL || subject[0] == '\0' || id <= 0)
		return;
	m = msg_new(b, "decision", subject);
	json_object_set(m, "decision", row);
	unpub_add(c, id);
	out_send(c, EBB_BUS_DECISIONS, subject, m, (uint64_t)id);
}

void
ctl_bus_decision(struct ctl *c, int64_t id)
{
	json_t *row;

	/*
	 * Our own decisions are published whether we act or not: an outcome
	 * may come after the lease lapsed, and the record must be whole.
	 */
	if (c->bus == NULL || c->bus->mirroring)
		return;
	if ((row = decision_row(c, id)) == NULL)
		return;
	publish_row(c, row);
	json_decref(row);
}

void
ctl_bus_state(struct ctl *c, const char *kind, const char *subject,
    const char *to, const char *why, int64_t decision)
{
	struct ctl_bus *b = c->bus;
	json_t *m;

	if (b == NULL || b->mirroring || !ctl_bus_acting(c))
		return;
	m = msg_new(b, "state", subject);
	json_object_set_new(m, "kind", json_string(kind));
	json_object_set_new(m, "subject", json_string(subject));
	json_object_set_new(m, "to", json_string(to));
	json_object_set_new(m, "why", json_string(why));
	json_object_set_new(m, "decision", json_integer(decision));
	out_send(c, EBB_BUS_DECISIONS, subject, m, 0);
}

/*
 * Publishes again what the journal says may not have reached the brokers
 * when this controller last stopped: every decision of its own from that
 * mark on, as it stands now (receivers keep the latest of each).
 */
static void
republish(struct ctl *c)
{
	struct ctl_journal_filter f = { 0 };
	struct ebb_err err;
	char *v = NULL;
	json_t *rows, *row;
	size_t i;
	int n = 0;

	c->bus->republished = true;
	if (ctl_journal_kv_get(c->journal, KV_PUBLISH, &v, &err) != 0)
		return;
	f.after_id = strtoll(v, NULL, 10) - 1;
	free(v);
	if (f.after_id < 0)
		return;
	rows = ctl_jnl_query_filter(c, &f);
	json_array_foreach(rows, i, row) {
		/* Another controller's, mirrored: not ours to publish. */
		if (json_object_get(json_object_get(row, "inputs"),
		    "origin") != NULL)
			continue;
		publish_row(c, row);
		n++;
	}
	json_decref(rows);
	if (n > 0)
		ebb_info("bus: %d decision(s) from journal id %" PRId64 " on "
		    "published again: the brokers may not have had them",
		    n, f.after_id + 1);
}

/* ---- another controller's decisions, mirrored --------------------------------- */

static int
mirror_find(const struct ctl_bus *b, const char *ctl, int64_t id)
{
	for (int i = 0; i < b->nmir; i++)
		if (b->mir[i].id == id && strcmp(b->mir[i].ctl, ctl) == 0)
			return i;
	return -1;
}

static void
mirror_drop(struct ctl_bus *b, int i)
{
	json_decref(b->mir[i].row);
	b->mir[i] = b->mir[--b->nmir];
}

/*
 * A decision mirrored before this controller restarted: found in the
 * journal by its origin among the newest of its kind.  0 if none.
 */
static int64_t
origin_find(struct ctl *c, const char *ctl, int64_t id, json_t *row)
{
	json_t *rows, *r;
	int64_t local = 0;
	size_t i;

	rows = ctl_jnl_query(c, json_string_value(json_object_get(row,
	    "kind")), json_string_value(json_object_get(row, "host")),
	    json_string_value(json_object_get(row, "vm")), 100);
	json_array_foreach(rows, i, r) {
		json_t *o = json_object_get(json_object_get(r, "inputs"),
		    "origin");

		if (json_integer_value(json_object_get(o, "id")) == id &&
		    json_is_string(json_object_get(o, "ctl")) &&
		    strcmp(json_string_value(json_object_get(o, "ctl")),
		    ctl) == 0)
			local = json_integer_value(json_object_get(r, "id"));
	}
	json_decref(rows);
	return local;
}

/*
 * What a standby learns from another's decision beyond the record: the
 * cooldowns it started, so that a takeover does not cycle a host's power
 * or move a VM again at once.
 */
static void
mirror_effects(struct ctl *c, json_t *row)
{
	const char *kind = json_string_value(json_object_get(row, "kind"));
	const char *host = json_string_value(json_object_get(row, "host"));
	const char *vm = json_string_value(json_object_get(row, "vm"));
	double now = ebb_monoclock();
	int hi;

	if (kind == NULL)
		return;
	if ((strcmp(kind, "power-on") == 0 || strcmp(kind, "power-off") == 0)
	    && host != NULL && (hi = ctl_host_find(c, host)) >= 0)
		c->hosts[hi].power_cooldown = now + c->cfg.host_cooldown_s;
	if (strcmp(kind, "migrate") == 0 && vm != NULL)
		for (int vi = 0; vi < c->nvms; vi++)
			if (strcmp(c->vms[vi].id, vm) == 0)
				c->vms[vi].last_move = now;
}

/*
 * Another controller's decision (new, or its outcome), into our journal
 * with its origin among its inputs; one still pending is remembered, so
 * that its outcome lands on the same row, and so that a takeover can
 * carry it on.
 */
static void
mirror_decision(struct ctl *c, const char *ctl, const struct ebb_msg *m)
{
	struct ctl_bus *b = c->bus;
	json_t *row = json_object_get(m->obj, "decision"), *inputs;
	const char *kind = json_string_value(json_object_get(row, "kind"));
	const char *subject = json_string_value(json_object_get(row,
	    "subject"));
	const char *reason = json_string_value(json_object_get(row, "reason"));
	const char *outcome = json_string_value(json_object_get(row,
	    "outcome"));
	int64_t id = json_integer_value(json_object_get(row, "id"));
	int64_t local;
	int mi;

	if (kind == NULL || subject == NULL || reason == NULL ||
	    outcome == NULL || id <= 0) {
		if (often(++b->bad))
			ebb_warn("bus: a decision from %s without kind, "
			    "subject, reason, outcome or id: ignored", ctl);
		return;
	}
	mi = mirror_find(b, ctl, id);
	local = mi >= 0 ? b->mir[mi].local : origin_find(c, ctl, id, row);
	b->mirroring = true;
	if (local == 0) {
		inputs = json_is_object(json_object_get(row, "inputs")) ?
		    json_deep_copy(json_object_get(row, "inputs")) :
		    json_object();
		json_object_set_new(inputs, "origin", json_pack("{s:s, s:I, "
		    "s:O?}", "ctl", ctl, "id", (json_int_t)id, "term",
		    json_object_get(m->obj, "term")));
		local = ctl_jnl_decide(c, kind, subject, json_string_value(
		    json_object_get(row, "host")), json_string_value(
		    json_object_get(row, "vm")), inputs, reason);
		if (local > 0) {
			b->mirrored++;
			if (!ctl_bus_acting(c))
				mirror_effects(c, row);
		}
	}
	if (local > 0 && strcmp(outcome, "pending") != 0) {
		ctl_jnl_outcome(c, local, outcome);
		if (mi >= 0)
			mirror_drop(b, mi);
	} else if (local > 0 && mi < 0) {
		if (b->nmir == b->cmir) {
			b->cmir = b->cmir ? b->cmir * 2 : 16;
			b->mir = ebb_reallocarray(b->mir, b->cmir,
			    sizeof(*b->mir));
		}
		mi = b->nmir++;
		snprintf(b->mir[mi].ctl, sizeof(b->mir[mi].ctl), "%s", ctl);
		b->mir[mi].id = id;
		b->mir[mi].local = local;
		b->mir[mi].row = json_incref(row);
	}
	b->mirroring = false;
}

static int
state_parse(const char *s, enum pol_host_state *out)
{
	for (int i = POL_HOST_ON; i <= POL_HOST_MAINTENANCE; i++)
		if (s != NULL && strcmp(s, pol_host_state_name(i)) == 0) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

/*
 * Another controller's state change of a host.  A standby takes it as its
 * picture (it does not act, so its own view of powering and maintenance
 * would otherwise be empty); the one acting keeps its own.
 */
static void
mirror_state(struct ctl *c, const char *ctl, const struct ebb_msg *m)
{
	struct ctl_bus *b = c->bus;
	const char *kind = json_string_value(json_object_get(m->obj, "kind"));
	const char *subject = json_string_value(json_object_get(m->obj,
	    "subject"));
	const char *to = json_string_value(json_object_get(m->obj, "to"));
	const char *why = json_string_value(json_object_get(m->obj, "why"));
	int64_t d = json_integer_value(json_object_get(m->obj, "decision"));
	enum pol_host_state s;
	struct ctl_host *h;
	char text[512];
	int hi, mi;

	if (ctl_bus_acting(c) || kind == NULL || strcmp(kind, "host") != 0 ||
	    subject == NULL || state_parse(to, &s) != 0 ||
	    (hi = ctl_host_find(c, subject)) < 0)
		return;
	h = &c->hosts[hi];
	if (h->state == s)
		return;
	mi = d > 0 ? mirror_find(b, ctl, d) : -1;
	snprintf(text, sizeof(text), "%s (decided by %s)", why ? why : "?",
	    ctl);
	b->mirroring = true;
	ctl_jnl_state(c, "host", subject, pol_host_state_name(h->state), to,
	    text, mi >= 0 ? b->mir[mi].local : 0);
	b->mirroring = false;
	h->state = s;
	h->state_since = ebb_monoclock();
	h->conf.maintenance = s == POL_HOST_MAINTENANCE;
	if (s == POL_HOST_POWERING_ON)
		h->boot_deadline = ebb_monoclock() + c->cfg.boot_timeout_s;
}

/* ---- taking over ------------------------------------------------------------ */

/*
 * A decision the last holder left pending, carried on by this one: a
 * migration waits for the reports to say where the VM runs (its result
 * was numbered by the other controller); a power-on waits for the host's
 * hello until the boot timeout; a power-off whose command died with the
 * other controller is taken as done unless the host still reports.
 */
static void
adopt(struct ctl *c, const struct mirror *mr)
{
	json_t *row = mr->row, *in = json_object_get(row, "inputs");
	const char *kind = json_string_value(json_object_get(row, "kind"));
	const char *host = json_string_value(json_object_get(row, "host"));
	const char *vm = json_string_value(json_object_get(row, "vm"));
	int hi = host ? ctl_host_find(c, host) : -1;
	double now = ebb_monoclock();
	char why[512];

	if (strcmp(kind, "migrate") == 0) {
		const char *from = json_string_value(json_object_get(in,
		    "from"));
		const char *to = json_string_value(json_object_get(in, "to"));
		int fi = from ? ctl_host_find(c, from) : -1;
		int ti = to ? ctl_host_find(c, to) : -1;
		int vi = -1;
		int64_t mig;

		for (int i = 0; vm != NULL && i < c->nvms; i++)
			if (strcmp(c->vms[i].id, vm) == 0)
				vi = i;
		if (vi < 0 || fi < 0 || ti < 0 || c->vms[vi].migrating ||
		    (mig = ctl_jnl_migration(c, mr->local, vm, from,
		    to)) < 0) {
			snprintf(why, sizeof(why), "in doubt: %s stopped with "
			    "it in flight, and its VM or hosts are unknown "
			    "here", mr->ctl);
			ctl_jnl_outcome(c, mr->local, why);
			return;
		}
		ctl_migration_adopt(c, vi, fi, ti, mr->local, mig);
		ebb_info("took over the migration of %s from %s to %s "
		    "(decision %" PRId64 "): the reports will say how it "
		    "ended", vm, from, to, mr->local);
	} else if (strcmp(kind, "power-on") == 0 && hi >= 0) {
		struct ctl_host *h = &c->hosts[hi];

		if (h->state == POL_HOST_ON) {
			ctl_jnl_outcome(c, mr->local, "done");
			return;
		}
		h->power_decision = mr->local;
		h->power_action = ctl_jnl_power(c, mr->local, host, true,
		    ctl_power_kind_name(h->conf.power.kind), ebb_wallclock() +
		    c->cfg.boot_timeout_s);
		h->power_on = true;
		if (h->state != POL_HOST_POWERING_ON) {
			ctl_jnl_state(c, "host", host,
			    pol_host_state_name(h->state), "powering-on",
			    "power-on taken over", mr->local);
			h->state = POL_HOST_POWERING_ON;
			h->state_since = now;
		}
		h->boot_deadline = now + c->cfg.boot_timeout_s;
	} else if (strcmp(kind, "power-off") == 0 && hi >= 0) {
		struct ctl_host *h = &c->hosts[hi];

		if (h->conn >= 0 && now - h->last_seen <
		    c->cfg.unknown_after_s) {
			snprintf(why, sizeof(why), "in doubt: %s stopped while "
			    "switching it off, and it still reports", mr->ctl);
			ctl_jnl_outcome(c, mr->local, why);
			return;
		}
		ctl_jnl_outcome(c, mr->local, "done");
		if (h->state != POL_HOST_OFF) {
			ctl_jnl_state(c, "host", host,
			    pol_host_state_name(h->state), "off", "power-off "
			    "taken over: it no longer reports", mr->local);
			h->state = POL_HOST_OFF;
			h->state_since = now;
		}
	}
}

/*
 * This controller begins to act in a new term: the takeover is a decision
 * of its own, in-flight actions of the last holder are carried on, what
 * it may have failed to publish in an earlier life is published, and its
 * commands number above every earlier term's.
 */
static void
takeover(struct ctl *c)
{
	struct ctl_bus *b = c->bus;
	char reason[512];
	int64_t d;

	if (b->prev[0])
		snprintf(reason, sizeof(reason), "the lease of %s (term %"
		    PRIu64 ") ran out: this controller acts, term %" PRIu64,
		    b->prev, b->prev_term, b->term);
	else
		snprintf(reason, sizeof(reason), "no controller held the "
		    "lease: this controller acts, term %" PRIu64, b->term);
	ebb_info("%s", reason);
	/* First what an earlier life left, then this term's own. */
	republish(c);
	d = ctl_jnl_decide(c, "takeover", b->name, NULL, NULL, json_pack(
	    "{s:I, s:s, s:I, s:f}", "term", (json_int_t)b->term, "previous",
	    b->prev, "previous_term", (json_int_t)b->prev_term, "lease_s",
	    c->cfg.lease_s), reason);
	if (d > 0)
		ctl_jnl_outcome(c, d, "done");
	for (int i = 0; i < b->npeers; i++)
		c->conns[b->peers[i].ci].seq = EBB_MAX(
		    c->conns[b->peers[i].ci].seq, b->term << CMD_TERM_SHIFT);
	/*
	 * Our own commands of an earlier term, if any, will have their
	 * results ignored now: the reports settle them, as the adopted.
	 */
	for (int hi = 0; hi < c->nhosts; hi++)
		ctl_host_gap(c, hi);
	while (b->nmir > 0) {
		adopt(c, &b->mir[0]);
		mirror_drop(b, 0);
	}
	/* Holds the last holder placed or cleared are in our journal. */
	ctl_jnl_holds(c);
}

/* Another controller holds the lease now: our commands must not leave. */
static void
step_down(struct ctl *c)
{
	struct ctl_bus *b = c->bus;
	int n = 0;

	for (int i = b->nout - 1; i >= 0; i--)
		if (b->out[i].topic == EBB_BUS_COMMANDS) {
			out_drop(b, i);
			n++;
		}
	ebb_warn("lease: %s holds it now (term %" PRIu64 "): standing by%s",
	    b->holder, b->term, n > 0 ? "; commands not yet sent dropped" : "");
}

/* ---- the lease -------------------------------------------------------------- */

static void
lease_send(struct ctl *c, uint64_t term, double lease_s)
{
	struct ctl_bus *b = c->bus;
	uint64_t seq = b->seq;
	json_t *m = msg_new(b, "lease", b->name);
	int rc;

	json_object_set_new(m, "term", json_integer((json_int_t)term));
	json_object_set_new(m, "inc", json_string(b->inc));
	json_object_set_new(m, "lease_s", json_real(lease_s));
	b->sent[b->nsent % SENT_MAX].seq = seq;
	b->sent[b->nsent % SENT_MAX].at = ebb_monoclock();
	b->nsent++;
	/* Not through the outbox: a lease is worth nothing late. */
	if ((rc = ebb_bus_send(b->bus, EBB_BUS_DECISIONS, LEASE_KEY, m,
	    0)) != 0)
		ebb_debug("lease: not sent: %s", strerror(-rc));
}

/* When our lease message seq left, or 0 if that is forgotten. */
static double
sent_at(const struct ctl_bus *b, uint64_t seq)
{
	for (int i = 0; i < EBB_MIN(b->nsent, SENT_MAX); i++)
		if (b->sent[i].seq == seq)
			return b->sent[i].at;
	return 0;
}

/*
 * The lease.  Every lease message goes under one key, so all of them are
 * in one partition, in one order that every controller reads alike:
 *   {"type":"lease","ctl":NAME,"inc":ID,"term":T,"lease_s":L}
 * The first message of a term greater than all before it makes its
 * sender the holder of that term; a second claim of the same term lost.
 * The holder renews every L/3 s.  A controller that has read no renewal
 * for L + grace s (2L + grace at start, 3L + grace for a standby) claims
 * the next term.
 *
 * Never two actors: the holder acts only until L s after it sent a
 * renewal it has since read back (so it stops on its own clock, brokers
 * or not), and a new holder acts only from L + grace s after it read the
 * last renewal of the one before, which was read in log order before
 * its own claim.  Commands carry "valid_until", the end of their
 * sender's authority, and numbers above all earlier terms'; agents refuse
 * them past it, or below what they carried out (agent/agt_agent.c).
 */
static void
lease_recv(struct ctl *c, const struct ebb_msg *m)
{
	struct ctl_bus *b = c->bus;
	const char *ctl = json_string_value(json_object_get(m->obj, "ctl"));
	const char *inc = json_string_value(json_object_get(m->obj, "inc"));
	json_t *t = json_object_get(m->obj, "term");
	json_t *l = json_object_get(m->obj, "lease_s");
	double now = ebb_monoclock(), lease_s, prev_seen, prev_lease, at;
	uint64_t term;
	bool was_mine = b->mine, prev_ours;

	if (ctl == NULL || inc == NULL || !json_is_integer(t) ||
	    json_integer_value(t) < 0 || !json_is_number(l) ||
	    json_number_value(l) < 0 || json_number_value(l) > 3600) {
		if (often(++b->bad))
			ebb_warn("bus: a malformed lease: ignored");
		return;
	}
	term = (uint64_t)json_integer_value(t);
	lease_s = json_number_value(l);
	if (term < b->term)
		return;
	if (term == b->term) {
		/* A renewal (or a release: lease_s 0), or a losing claim. */
		if (strcmp(ctl, b->holder) != 0 || strcmp(inc,
		    b->holder_inc) != 0)
			return;
		b->seen = now;
		b->holder_lease_s = lease_s;
		if (b->mine && (at = sent_at(b, m->seq)) > 0)
			b->auth_until = EBB_MAX(b->auth_until, at + lease_s);
		lease_update(c);
		return;
	}
	prev_seen = b->seen;
	prev_lease = b->holder_lease_s;
	prev_ours = strcmp(b->holder_inc, b->inc) == 0;
	if (b->holder[0]) {
		snprintf(b->prev, sizeof(b->prev), "%s", b->holder);
		b->prev_term = b->term;
	}
	b->term = term;
	snprintf(b->holder, sizeof(b->holder), "%s", ctl);
	snprintf(b->holder_inc, sizeof(b->holder_inc), "%s", inc);
	b->holder_lease_s = lease_s;
	b->seen = now;
	b->claimed = 0;
	b->mine = strcmp(ctl, b->name) == 0 && strcmp(inc, b->inc) == 0;
	b->floor = EBB_MAX(b->floor, term);
	{
		struct ebb_err err;
		char v[32];

		snprintf(v, sizeof(v), "%" PRIu64, term);
		if (ctl_journal_kv_set(c->journal, KV_TERM, v,
		    ctl_journal_now(), &err) != 0)
			ebb_warn("journal: %s: %s", KV_TERM, err.msg);
	}
	if (b->mine) {
		at = sent_at(b, m->seq);
		b->auth_start = now;
		/* No need to wait for ourselves (a claim of ours read late). */
		if (b->prev[0] && prev_seen > 0 && !prev_ours)
			b->auth_start = EBB_MAX(now, prev_seen + prev_lease +
			    grace_s(c));
		b->auth_until = at > 0 ? at + lease_s : 0;
		b->next_renew = now + c->cfg.lease_s / 3;
		ebb_info("lease: term %" PRIu64 " is ours%s", term,
		    b->auth_start > now ? "; acting once the last holder's "
		    "lease has surely run out" : "");
	} else if (was_mine) {
		step_down(c);
	} else {
		ebb_info("lease: held by %s (term %" PRIu64 "): standing by",
		    ctl, term);
	}
	lease_update(c);
}

/* Whether we act now, and what changes when that changes. */
static void
lease_update(struct ctl *c)
{
	struct ctl_bus *b = c->bus;
	double now = ebb_monoclock();
	bool acting = b->mine && now >= b->auth_start && now < b->auth_until;

	if (acting == b->acting)
		return;
	b->acting = acting;
	if (acting && b->taken_term != b->term) {
		b->taken_term = b->term;
		takeover(c);
	} else if (acting) {
		ebb_info("lease: confirmed again; acting");
	} else if (b->mine) {
		ebb_warn("lease: not confirmed within %g s (brokers away?): "
		    "not acting until it is", c->cfg.lease_s);
	}
}

static void
lease_tick(struct ctl *c)
{
	struct ctl_bus *b = c->bus;
	double now = ebb_monoclock(), wait, since;

	if (b->mine && now >= b->next_renew) {
		lease_send(c, b->term, c->cfg.lease_s);
		b->next_renew = now + c->cfg.lease_s / 3;
	}
	if (!b->mine && b->up_since > 0 && ebb_bus_state(b->bus) ==
	    EBB_BUS_UP && (b->claimed == 0 || now - b->claimed >
	    c->cfg.lease_s + grace_s(c))) {
		if (b->holder[0])
			wait = b->holder_lease_s + grace_s(c);
		else
			wait = (c->cfg.standby ? 3 : 2) * c->cfg.lease_s +
			    grace_s(c);
		since = EBB_MAX(b->seen, b->up_since);
		if (now - since > wait) {
			uint64_t term = EBB_MAX(EBB_MAX(b->term, b->floor) + 1,
			    (uint64_t)ebb_wallclock());

			if (b->holder[0])
				ebb_info("lease: nothing from %s (term %" PRIu64
				    ") for %.1f s: claiming term %" PRIu64,
				    b->holder, b->term, now - since, term);
			else
				ebb_info("lease: no holder seen in %.1f s: "
				    "claiming term %" PRIu64, now - since, term);
			lease_send(c, term, c->cfg.lease_s);
			b->claimed = now;
		}
	}
	lease_update(c);
}

/* ---- the loop ------------------------------------------------------------------ */

static void
decisions_recv(struct ctl *c, const struct ebb_bus_msg *bm)
{
	struct ctl_bus *b = c->bus;
	struct ebb_err err;
	struct ebb_msg m;
	const char *ctl;

	if (ebb_msg_parse(bm->value, bm->len, &m, &err) != 0) {
		if (often(++b->bad))
			ebb_warn("bus: a bad message on ebb.decisions: %s",
			    err.msg);
		return;
	}
	ctl = json_string_value(json_object_get(m.obj, "ctl"));
	if (strcmp(m.type, "lease") == 0)
		lease_recv(c, &m);
	else if (ctl == NULL || ctl[0] == '\0')
		b->bad++;
	else if (strcmp(ctl, b->name) == 0)
		;	/* our own (this run's, or an earlier run's: journalled) */
	else if (strcmp(m.type, "decision") == 0)
		mirror_decision(c, ctl, &m);
	else if (strcmp(m.type, "state") == 0)
		mirror_state(c, ctl, &m);
	ebb_msg_free(&m);
}

static void
bus_recv(void *arg, const struct ebb_bus_msg *bm)
{
	struct ctl *c = arg;

	if (bm->topic == EBB_BUS_REPORTS)
		reports_recv(c, bm);
	else if (bm->topic == EBB_BUS_DECISIONS)
		decisions_recv(c, bm);
	/* Every message, refused ones too, or its partition stops
	 * committing (docs/bus.md). */
	ebb_bus_applied(c->bus->bus, &bm->ref);
}

static void
bus_state(void *arg, enum ebb_bus_state st)
{
	struct ctl *c = arg;

	if (st != EBB_BUS_UP)
		return;
	if (c->bus->up_since == 0)
		c->bus->up_since = ebb_monoclock();
	out_flush(c);
}

static int
bus_start(struct ctl *c, struct ebb_err *err)
{
	struct ctl_bus *b = c->bus;
	struct ebb_bus_cb cb = { .recv = bus_recv, .delivered = bus_delivered,
		.failed = bus_failed, .state = bus_state, .arg = c };
	struct epoll_event ev = { .events = EPOLLIN };
	struct ebb_bus_config bc = c->cfg.bus;
	int rc;

	/*
	 * A group per controller: each reads every host's reports, and the
	 * decisions, itself.  One group for two controllers would split the
	 * hosts between them.
	 */
	snprintf(bc.group, sizeof(bc.group), "%.120s.%.120s", c->cfg.bus.group[0] ?
	    c->cfg.bus.group : "ebb-controller", b->name);
	bc.decisions = true;
	if ((rc = ebb_bus_open(&b->bus, &bc, EBB_BUS_CONTROLLER, b->name, &cb,
	    err)) != 0)
		return rc;
	ev.data.fd = ebb_bus_fd(b->bus);
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		rc = -errno;
		ebb_err_set(err, "epoll: %s", strerror(errno));
		ebb_bus_close(b->bus, 0);
		b->bus = NULL;
	}
	return rc;
}

void
ctl_bus_event(struct ctl *c)
{
	struct ctl_bus *b = c->bus;
	struct epoll_event evs[4];
	struct ebb_err err;
	uint64_t ticks;

	if (b == NULL)
		return;
	(void)epoll_wait(b->epfd, evs, EBB_NITEMS(evs), 0);
	if (b->bus != NULL && ebb_bus_process(b->bus) == -ENOTRECOVERABLE) {
		/* Fatal for librdkafka (idempotence): a new bus, as
		 * docs/bus.md asks.  What it held comes back through failed
		 * and is sent again. */
		ebb_err_log("bus: failed for good; opening it again");
		ebb_bus_close(b->bus, 0);
		b->bus = NULL;
	}
	if (read(b->tfd, &ticks, sizeof(ticks)) <= 0)
		return;
	if (b->bus == NULL && bus_start(c, &err) != 0) {
		ebb_err_log("%s", err.msg);
		return;
	}
	lease_tick(c);
	unpub_mark(c);
	out_flush(c);
}

bool
ctl_bus_acting(const struct ctl *c)
{
	const struct ctl_bus *b = c->bus;

	return b == NULL || (b->acting && ebb_monoclock() < b->auth_until);
}

static void
incarnation(char *buf, size_t size)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		v = (uint64_t)getpid() ^ (uint64_t)(ebb_wallclock() * 1e6);
	if (fd >= 0)
		close(fd);
	snprintf(buf, size, "%016" PRIx64, v);
}

int
ctl_bus_open(struct ctl *c, struct ebb_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = CTL_TAG_BUS };
	double tick = EBB_MIN(1.0, EBB_MAX(0.05, c->cfg.lease_s / 6));
	struct itimerspec its = { 0 };
	struct ctl_bus *b;
	char *v = NULL;
	int rc;

	if (c->cfg.bus.kind != EBB_BUS_KAFKA)
		return 0;
	b = c->bus = ebb_calloc(1, sizeof(*b));
	b->epfd = b->tfd = -1;
	if (c->cfg.name[0])
		snprintf(b->name, sizeof(b->name), "%s", c->cfg.name);
	else if (gethostname(b->name, sizeof(b->name) - 1) != 0 ||
	    !b->name[0])
		snprintf(b->name, sizeof(b->name), "ebb-controller");
	incarnation(b->inc, sizeof(b->inc));
	/*
	 * Terms only grow, also across restarts with nobody else about; the
	 * lease itself is learnt from the log.
	 */
	if (ctl_journal_kv_get(c->journal, KV_TERM, &v, NULL) == 0) {
		b->floor = strtoull(v, NULL, 10);
		free(v);
	}
	if (ctl_journal_kv_get(c->journal, KV_PUBLISH, &v, NULL) == 0) {
		b->publish_from = strtoll(v, NULL, 10);
		free(v);
	}
	b->seen = ebb_monoclock();
	if ((b->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) < 0) {
		rc = -errno;
		ebb_err_set(err, "bus: %s", strerror(errno));
		goto fail;
	}
	its.it_value.tv_sec = its.it_interval.tv_sec = (time_t)tick;
	its.it_value.tv_nsec = its.it_interval.tv_nsec = (long)((tick -
	    (double)(time_t)tick) * 1e9);
	ev.data.u32 = 0;
	if (timerfd_settime(b->tfd, 0, &its, NULL) < 0 ||
	    epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->tfd, &ev) < 0) {
		rc = -errno;
		ebb_err_set(err, "bus: timer: %s", strerror(errno));
		goto fail;
	}
	if ((rc = bus_start(c, err)) != 0)
		goto fail;
	ev.data.u32 = CTL_TAG_BUS;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, b->epfd, &ev) < 0) {
		rc = -errno;
		ebb_err_set(err, "epoll: %s", strerror(errno));
		goto fail;
	}
	ebb_info("bus: kafka at %s as controller %s (group %s.%s), lease %g "
	    "s%s", c->cfg.bus.brokers, b->name, c->cfg.bus.group[0] ?
	    c->cfg.bus.group : "ebb-controller", b->name, c->cfg.lease_s,
	    c->cfg.standby ? ", standing by first" : "");
	return 0;
fail:
	ctl_bus_close(c);
	return rc;
}

void
ctl_bus_close(struct ctl *c)
{
	struct ctl_bus *b = c->bus;

	if (b == NULL)
		return;
	/*
	 * A holder that stops says so (lease_s 0), so that a standby takes
	 * over after its grace instead of the whole lease.
	 */
	if (b->bus != NULL && b->mine) {
		b->acting = false;
		lease_send(c, b->term, 0);
	}
	if (b->bus != NULL)
		ebb_bus_close(b->bus, 2000);
	b->bus = NULL;
	if (b->nout > 0)
		ebb_warn("bus: %d message(s) not delivered at exit; the "
		    "decisions among them are published again by the next "
		    "run", b->nout);
	while (b->nout > 0)
		out_drop(b, b->nout - 1);
	free(b->out);
	for (int i = 0; i < CMDS_KEPT; i++)
		json_decref(b->cmds[i].msg);
	while (b->nmir > 0)
		mirror_drop(b, b->nmir - 1);
	free(b->mir);
	free(b->peers);
	free(b->unpub);
	if (b->tfd >= 0)
		close(b->tfd);
	if (b->epfd >= 0)
		close(b->epfd);
	free(b);
	c->bus = NULL;
}

/* ---- views ------------------------------------------------------------------ */

json_t *
ctl_bus_json(const struct ctl *c)
{
	const struct ctl_bus *b = c->bus;
	struct ebb_bus_stats st = { 0 };
	json_t *o;

	if (b == NULL)
		return NULL;
	if (b->bus != NULL)
		ebb_bus_stats(b->bus, &st);
	o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:s, s:I, s:f, s:f, s:s}",
	    "kind", "kafka", "brokers", c->cfg.bus.brokers, "name", b->name,
	    "acting", ctl_bus_acting(c), "standby", c->cfg.standby,
	    "holder", b->holder, "term", (json_int_t)b->term,
	    "lease_s", c->cfg.lease_s, "lease_age_s",
	    ebb_monoclock() - b->seen, "state", b->bus ?
	    ebb_bus_state_name(st.state) : "failed");
	json_object_set_new(o, "messages", json_pack("{s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:i, s:i, s:I, s:I, s:I, s:I, s:I}",
	    "produced", (json_int_t)st.produced,
	    "delivered", (json_int_t)st.delivered,
	    "dropped_full", (json_int_t)st.dropped_full,
	    "dropped_failed", (json_int_t)st.dropped_failed,
	    "queued", (json_int_t)st.queued,
	    "consumed", (json_int_t)st.consumed,
	    "committed", (json_int_t)st.committed,
	    "outbox", b->nout, "unpublished", b->nunpub,
	    "resent", (json_int_t)b->kept,
	    "resent_expired", (json_int_t)b->resent_expired,
	    "stale", (json_int_t)b->stale,
	    "mirrored", (json_int_t)b->mirrored,
	    "bad", (json_int_t)b->bad));
	return o;
}

void
ctl_bus_metrics(const struct ctl *c, FILE *f)
{
	const struct ctl_bus *b = c->bus;
	struct ebb_bus_stats st = { 0 };

	if (b == NULL)
		return;
	if (b->bus != NULL)
		ebb_bus_stats(b->bus, &st);
	fprintf(f, "# HELP ebb_controller_acting 1 while this controller "
	    "holds the lease and acts.\n# TYPE ebb_controller_acting gauge\n"
	    "ebb_controller_acting %d\n", ctl_bus_acting(c));
	fprintf(f, "# HELP ebb_bus_lease_term The lease's term as last read.\n"
	    "# TYPE ebb_bus_lease_term gauge\nebb_bus_lease_term %" PRIu64
	    "\n", b->term);
	fprintf(f, "# HELP ebb_bus_messages_total The bus's messages by what "
	    "became of them.\n# TYPE ebb_bus_messages_total counter\n"
	    "ebb_bus_messages_total{what=\"produced\"} %" PRIu64 "\n"
	    "ebb_bus_messages_total{what=\"delivered\"} %" PRIu64 "\n"
	    "ebb_bus_messages_total{what=\"dropped_full\"} %" PRIu64 "\n"
	    "ebb_bus_messages_total{what=\"dropped_failed\"} %" PRIu64 "\n"
	    "ebb_bus_messages_total{what=\"consumed\"} %" PRIu64 "\n"
	    "ebb_bus_messages_total{what=\"resent\"} %" PRIu64 "\n"
	    "ebb_bus_messages_total{what=\"resent_expired\"} %" PRIu64 "\n",
	    st.produced, st.delivered, st.dropped_full, st.dropped_failed,
	    st.consumed, b->kept, b->resent_expired);
	fprintf(f, "# HELP ebb_bus_outbox Commands and decisions waiting to "
	    "be sent again.\n# TYPE ebb_bus_outbox gauge\nebb_bus_outbox %d\n",
	    b->nout);
}
