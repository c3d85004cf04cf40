/*
 * ebb_bus_kafka.c - the bus over Kafka, through librdkafka.
 *
 * Each bus holds two librdkafka handles, a producer and a consumer (a
 * handle is one or the other).  Neither has a thread of ours: both queues
 * that carry callbacks (the producer's main queue, the consumer's queue)
 * write to one eventfd when they stop being empty, the daemon's loop
 * watches that eventfd, and ebb_bus_process() serves both queues.  So every
 * callback below runs on the daemon's thread.
 *
 * Producer: idempotent (no duplicates or reordering on retries), keyed
 * with murmur2 so a key always lands in the same partition (and Java
 * clients agree).  Consumer: a group member that never commits on its own;
 * an offset is committed once the application has applied every message
 * before it in its partition.  docs/bus.md has the reasons.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "ebb_bus_int.h"
#include "ebb_log.h"

/* Messages handled per ebb_bus_process(), so one busy topic cannot stall
 * the daemon's other work. */
#define KAFKA_BUDGET		1000
/* How often librdkafka tells us its brokers' states (see k_stats). */
#define KAFKA_STATS_MS		"1000"

/* A partition assigned to our consumer, and what we owe it. */
struct kpart {
	int		 topic;
	int32_t		 partition;
	int64_t		 next;		/* after the last offset received */
	int64_t		 asked;		/* last offset a commit asked for */
	int64_t		 acked;		/* last offset a commit confirmed */
	int64_t		*pending;	/* received, not applied; ascending */
	size_t		 npending, cpending;
	int64_t		*applied;	/* applied, not confirmed; ascending */
	size_t		 napplied, capplied;
};

/* What travels with a produced message to its delivery report. */
struct kmeta {
	uint64_t	 tag;
	uint64_t	 carried;
	int		 topic;
};

/* One librdkafka handle and what it last said of its brokers. */
struct khandle {
	rd_kafka_t	*rk;
	rd_kafka_queue_t *q;
	bool		 up;
	bool		 down;
};

struct kbus {
	struct ebb_bus	*bus;
	struct khandle	 prod, cons;
	int		 efd;
	char		 group[EBB_BUS_NAME_MAX + EBB_HOST_MAX + 2];
	char		 brokers[EBB_BUS_BROKERS_MAX];
	int		 buffer_messages;
	struct kpart	*parts;
	size_t		 nparts;
	uint32_t	 gen;		/* bumped on every assignment change */
	bool		 in_process;
	bool		 commit_due;
	bool		 failed;
	bool		 was_down;
	double		 down_since;
};

/* Properties the bus sets itself, and why the operator may not. */
static const struct {
	const char	*key;
	const char	*why;
} k_owned[] = {
	{ "bootstrap.servers", "set it with bus.brokers" },
	{ "metadata.broker.list", "set it with bus.brokers" },
	{ "group.id", "set it with bus.group" },
	{ "client.id", "set it with bus.client_id" },
	{ "enable.idempotence", "the bus's producer is always idempotent" },
	{ "acks", "an idempotent producer needs acks=all" },
	{ "request.required.acks", "an idempotent producer needs acks=all" },
	{ "enable.auto.commit", "the bus commits after the application "
	    "applied a message" },
	{ "auto.commit.enable", "the bus commits after the application "
	    "applied a message" },
	{ "enable.auto.offset.store", "the bus commits after the application "
	    "applied a message" },
	{ "partitioner", "agents find their commands' partition with "
	    "murmur2_random" },
	{ "partition.assignment.strategy", "the bus handles the eager "
	    "rebalance protocol only" },
	{ "queue.buffering.max.messages", "set it with bus.buffer_messages" },
	{ "queue.buffering.max.kbytes", "set it with bus.buffer_kbytes" },
	{ "log.queue", "the bus serves logs from the daemon's loop" },
	{ "statistics.interval.ms", "the bus reads broker states from the "
	    "statistics" },
	{ "transactional.id", "the bus does not use transactions" },
};

int
ebb_bus_kafka_check_prop(const char *key, const char *value, char *why,
    size_t size)
{
	rd_kafka_conf_t *conf;
	rd_kafka_conf_res_t res;

	for (size_t i = 0; i < EBB_NITEMS(k_owned); i++)
		if (strcmp(key, k_owned[i].key) == 0) {
			snprintf(why, size, "not allowed: %s", k_owned[i].why);
			return -EINVAL;
		}
	/* librdkafka knows its properties and their ranges best. */
	conf = rd_kafka_conf_new();
	res = rd_kafka_conf_set(conf, key, value, why, size);
	rd_kafka_conf_destroy(conf);
	return res == RD_KAFKA_CONF_OK ? 0 : -EINVAL;
}

/* ---- state -------------------------------------------------------------- */

static struct khandle *
k_handle(struct kbus *k, const rd_kafka_t *rk)
{
	return rk == k->prod.rk ? &k->prod : &k->cons;
}

/*
 * Derives the bus state from both handles and says when it changes.  Up
 * when either handle last heard from a broker: an idle producer does not
 * reconnect until it has something to send (librdkafka's sparse
 * connections), so its old "all brokers down" says nothing of now while
 * the consumer, which always fetches, is connected.
 */
static void
k_state(struct kbus *k)
{
	struct ebb_bus *bus = k->bus;
	enum ebb_bus_state s;

	if (k->failed)
		s = EBB_BUS_FAILED;
	else if (k->prod.up || k->cons.up)
		s = EBB_BUS_UP;
	else if (k->prod.down || k->cons.down)
		s = EBB_BUS_DOWN;
	else
		s = EBB_BUS_CONNECTING;
	if (s == bus->st.state)
		return;
	if (s == EBB_BUS_DOWN) {
		k->was_down = true;
		k->down_since = ebb_monoclock();
		ebb_warn("bus %s: Kafka brokers %s unreachable; buffering up to "
		    "%d messages", k->group, k->brokers, k->buffer_messages);
	} else if (s == EBB_BUS_UP && k->was_down) {
		ebb_info("bus %s: Kafka brokers reachable again after %.1f s; "
		    "%llu messages buffered", k->group, ebb_monoclock() -
		    k->down_since, (unsigned long long)ebb_bus_queued(bus));
	} else if (s == EBB_BUS_UP) {
		ebb_info("bus %s: connected to Kafka at %s", k->group,
		    k->brokers);
	}
	ebb_bus_note_state(bus, s);
}

/* A sign of life from h's brokers. */
static void
k_up(struct kbus *k, struct khandle *h)
{
	if (h->up && !h->down)
		return;
	h->up = true;
	h->down = false;
	k_state(k);
}

static void
k_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kbus *k = opaque;
	struct khandle *h = k_handle(k, rk);
	char why[512];

	switch (err) {
	case RD_KAFKA_RESP_ERR__FATAL:
		rd_kafka_fatal_error(rk, why, sizeof(why));
		ebb_err_log("bus %s: Kafka %s failed for good: %s", k->group,
		    rk == k->prod.rk ? "producer" : "consumer", why);
		k->failed = true;
		k_state(k);
		break;
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
		h->up = false;
		h->down = true;
		k_state(k);
		break;
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__RESOLVE:
		/* Per broker and frequent; the state change above is the news. */
		ebb_debug("bus %s: kafka: %s", k->group, reason);
		break;
	default:
		ebb_warn("bus %s: kafka: %s", k->group, reason);
		break;
	}
}

/*
 * librdkafka reports a broker coming back only in its statistics, so the
 * bus asks for them every second and looks for any broker that is "UP".
 * Losing all brokers comes as an error (k_error) and is not second-guessed
 * here.
 */
static int
k_stats(rd_kafka_t *rk, char *text, size_t len, void *opaque)
{
	struct kbus *k = opaque;
	json_t *root, *brokers, *b;
	const char *name;
	bool up = false;

	if ((root = json_loadb(text, len, 0, NULL)) == NULL)
		return 0;
	brokers = json_object_get(root, "brokers");
	json_object_foreach(brokers, name, b) {
		const char *st = json_string_value(json_object_get(b, "state"));

		if (st != NULL && strcmp(st, "UP") == 0)
			up = true;
	}
	json_decref(root);
	if (up)
		k_up(k, k_handle(k, rk));
	return 0;	/* librdkafka frees text */
}

static void
k_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const struct kbus *k = rd_kafka_opaque(rk);
	enum ebb_log_level l;

	/*
	 * The operator's properties go to both handles, and librdkafka
	 * warns about each consumer property on the producer and back.
	 */
	if (strcmp(fac, "CONFWARN") == 0 &&
	    strstr(buf, "property and will be ignored by this") != NULL)
		level = 7;
	/*
	 * Each connection's failure is logged once for what it says (a TLS
	 * or address problem); once the bus has said the brokers are gone,
	 * every retry of every connection is noise.
	 */
	if (strcmp(fac, "FAIL") == 0 && k->bus->st.state == EBB_BUS_DOWN)
		level = 7;
	/* syslog levels */
	if (level <= 4)
		l = EBB_LOG_WARN;
	else if (level <= 6)
		l = EBB_LOG_INFO;
	else
		l = EBB_LOG_DEBUG;
	ebb_log(l, "bus %s: kafka %s: %s", k->group, fac, buf);
}

/* ---- producing ---------------------------------------------------------- */

static int
k_errno(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		return -ENOBUFS;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
		return -EMSGSIZE;
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
		return -ETIMEDOUT;
	case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
	case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
		return -ECANCELED;
	case RD_KAFKA_RESP_ERR__FATAL:
		return -ENOTRECOVERABLE;
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
		return -EACCES;
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
		return -ENOENT;
	default:
		return -EIO;
	}
}

static int
k_send(struct ebb_bus *bus, enum ebb_bus_topic t, const char *key,
    size_t keylen, const char *value, size_t len, uint64_t tag,
    uint64_t carried)
{
	struct kbus *k = bus->be;
	struct kmeta *meta;
	rd_kafka_resp_err_t err;

	if (k->failed)
		return -ENOTRECOVERABLE;
	meta = ebb_malloc(sizeof(*meta));
	meta->tag = tag;
	meta->carried = carried;
	meta->topic = t;
	/* F_COPY: the caller's buffer is freed on return. */
	err = rd_kafka_producev(k->prod.rk,
	    RD_KAFKA_V_TOPIC(ebb_bus_topic_name(t)),
	    RD_KAFKA_V_KEY(key, keylen),
	    RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE(meta),
	    RD_KAFKA_V_END);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		free(meta);
		if (err == RD_KAFKA_RESP_ERR__FATAL) {
			k->failed = true;
			k_state(k);
		}
		return k_errno(err);
	}
	return 0;
}

/*
 * A delivery report.  With the idempotent producer librdkafka retries
 * whatever can be retried until message.timeout.ms, so an error here is
 * final: the application hears of it with the message itself.
 */
static void
k_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kbus *k = opaque;
	struct kmeta *meta = m->_private;
	struct ebb_bus_failure f;

	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		k_up(k, k_handle(k, rk));
		ebb_bus_note_delivered(k->bus, meta->topic, meta->tag);
	} else {
		memset(&f, 0, sizeof(f));
		f.topic = meta->topic;
		f.key = m->key != NULL ? m->key : "";
		f.keylen = m->key_len;
		f.value = m->payload != NULL ? m->payload : "";
		f.len = m->len;
		f.tag = meta->tag;
		f.error = k_errno(m->err);
		f.reason = rd_kafka_err2str(m->err);
		ebb_debug("bus %s: %s message for %.*s failed: %s", k->group,
		    ebb_bus_topic_name(f.topic), (int)f.keylen, f.key, f.reason);
		ebb_bus_note_failed(k->bus, &f, meta->carried);
	}
	free(meta);
}

/* ---- consuming ---------------------------------------------------------- */

static struct kpart *
part_find(struct kbus *k, int topic, int32_t partition)
{
	for (size_t i = 0; i < k->nparts; i++)
		if (k->parts[i].topic == topic &&
		    k->parts[i].partition == partition)
			return &k->parts[i];
	return NULL;
}

static void
parts_clear(struct kbus *k)
{
	for (size_t i = 0; i < k->nparts; i++) {
		free(k->parts[i].pending);
		free(k->parts[i].applied);
	}
	free(k->parts);
	k->parts = NULL;
	k->nparts = 0;
}

static void
parts_set(struct kbus *k, const rd_kafka_topic_partition_list_t *l)
{
	parts_clear(k);
	k->parts = ebb_calloc((size_t)l->cnt + 1, sizeof(*k->parts));
	for (int i = 0; i < l->cnt; i++) {
		struct kpart *p = &k->parts[k->nparts];

		if ((p->topic = ebb_bus_topic_find(l->elems[i].topic)) < 0)
			continue;
		p->partition = l->elems[i].partition;
		p->next = p->asked = p->acked = -1;
		k->nparts++;
	}
}

/* Inserts off into the ascending array a. */
static void
offs_insert(int64_t **a, size_t *n, size_t *cap, int64_t off)
{
	size_t i = *n;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = ebb_reallocarray(*a, *cap, sizeof(**a));
	}
	/* Offsets mostly come in order: search from the end. */
	while (i > 0 && (*a)[i - 1] > off)
		i--;
	memmove(*a + i + 1, *a + i, (*n - i) * sizeof(**a));
	(*a)[i] = off;
	(*n)++;
}

/* Removes off from the ascending array a; false if it was not there. */
static bool
offs_remove(int64_t *a, size_t *n, int64_t off)
{
	size_t lo = 0, hi = *n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == *n || a[lo] != off)
		return false;
	memmove(a + lo, a + lo + 1, (*n - lo - 1) * sizeof(*a));
	(*n)--;
	return true;
}

/*
 * The offset a commit may name: Kafka's committed offset means "every
 * message before this one is done", so it stops at the oldest message
 * not yet applied.
 */
static int64_t
part_committable(const struct kpart *p)
{
	return p->npending > 0 ? p->pending[0] : p->next;
}

static void
k_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *l, void *opaque)
{
	struct kbus *k = opaque;

	(void)rk;
	for (int i = 0; l != NULL && i < l->cnt; i++) {
		rd_kafka_topic_partition_t *e = &l->elems[i];
		struct kpart *p = part_find(k, ebb_bus_topic_find(e->topic),
		    e->partition);
		size_t n = 0;

		/* Revoked meanwhile: its last commit was done then. */
		if (p == NULL)
			continue;
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    e->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ebb_warn("bus %s: commit of %s [%d] at %lld failed: %s; "
			    "retried with the next one", k->group, e->topic,
			    (int)e->partition, (long long)e->offset,
			    rd_kafka_err2str(err ? err : e->err));
			if (p->asked == e->offset)
				p->asked = p->acked;
			continue;
		}
		if (e->offset > p->acked)
			p->acked = e->offset;
		while (n < p->napplied && p->applied[n] < e->offset)
			n++;
		/* Nothing applied (only other hosts' commands passed):
		 * applied may still be NULL, which memmove must not get. */
		if (n > 0)
			memmove(p->applied, p->applied + n, (p->napplied - n) *
			    sizeof(*p->applied));
		p->napplied -= n;
		k->bus->st.committed += n;
	}
}

/*
 * Commits every partition whose committable offset moved: in the
 * background (the result comes back through the consumer queue), or,
 * when the partitions are about to go, waiting for it.  Waiting, it asks
 * again for what is not confirmed yet: a commit still in flight may not
 * be answered before the group is left.
 */
static void
k_commit(struct kbus *k, bool wait)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;

	k->commit_due = false;
	l = rd_kafka_topic_partition_list_new((int)k->nparts);
	for (size_t i = 0; i < k->nparts; i++) {
		struct kpart *p = &k->parts[i];
		int64_t off = part_committable(p);

		if (off < 0 || off <= (wait ? p->acked : p->asked))
			continue;
		rd_kafka_topic_partition_list_add(l,
		    ebb_bus_topic_name(p->topic), p->partition)->offset = off;
		p->asked = off;
	}
	if (l->cnt > 0) {
		err = rd_kafka_commit_queue(k->cons.rk, l, wait ? NULL :
		    k->cons.q, k_committed, k);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR && !wait)
			k_committed(k->cons.rk, err, l, k);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/*
 * An agent shares ebb.commands with every other host: commands are keyed
 * by host, so each host's land in partition murmur2(host) % N, with other
 * hosts' beside them.  Alone in its group, the agent is offered all N
 * partitions and takes only that one.  Offered anything else (another
 * member with the same group: a misconfiguration) it takes all it is
 * offered; the key filter in k_message keeps that correct.
 */
static rd_kafka_topic_partition_list_t *
k_agent_pick(struct kbus *k, rd_kafka_topic_partition_list_t *offered)
{
	rd_kafka_topic_partition_list_t *l;
	const char *host = k->bus->host;
	int32_t mine;
	int n = offered->cnt;

	for (int i = 0; i < n; i++) {
		if (strcmp(offered->elems[i].topic,
		    ebb_bus_topic_name(EBB_BUS_COMMANDS)) != 0 ||
		    rd_kafka_topic_partition_list_find(offered,
		    offered->elems[i].topic, i) == NULL)
			return rd_kafka_topic_partition_list_copy(offered);
	}
	if (n == 0)
		return rd_kafka_topic_partition_list_copy(offered);
	/* The very function the producer's partitioner uses; it reads only
	 * the key when there is one. */
	mine = rd_kafka_msg_partitioner_murmur2_random(NULL, host,
	    strlen(host), n, NULL, NULL);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l,
	    ebb_bus_topic_name(EBB_BUS_COMMANDS), mine);
	return l;
}

static void
k_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *offered, void *opaque)
{
	struct kbus *k = opaque;
	rd_kafka_topic_partition_list_t *l;

	k->gen++;
	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		l = k->bus->role == EBB_BUS_AGENT ? k_agent_pick(k, offered) :
		    rd_kafka_topic_partition_list_copy(offered);
		parts_set(k, l);
		rd_kafka_assign(rk, l);
		ebb_info("bus %s: %d of %d partitions assigned", k->group,
		    l->cnt, offered->cnt);
		rd_kafka_topic_partition_list_destroy(l);
		k_up(k, &k->cons);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		/* The next owner starts where this commit says. */
		k_commit(k, true);
		parts_clear(k);
		rd_kafka_assign(rk, NULL);
		break;
	default:
		ebb_warn("bus %s: rebalance failed: %s", k->group,
		    rd_kafka_err2str(err));
		parts_clear(k);
		rd_kafka_assign(rk, NULL);
		break;
	}
}

static void
k_message(struct kbus *k, rd_kafka_message_t *m)
{
	struct ebb_bus *bus = k->bus;
	struct ebb_bus_msg msg;
	struct kpart *p;
	int topic;

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			ebb_warn("bus %s: receive: %s", k->group,
			    rd_kafka_message_errstr(m));
		return;
	}
	topic = ebb_bus_topic_find(rd_kafka_topic_name(m->rkt));
	if (topic < 0 || (p = part_find(k, topic, m->partition)) == NULL)
		return;
	k_up(k, &k->cons);
	p->next = m->offset + 1;
	if (bus->role == EBB_BUS_AGENT && (m->key_len != strlen(bus->host) ||
	    memcmp(m->key, bus->host, m->key_len) != 0)) {
		/* Another host's command: nothing to apply, just pass it. */
		bus->st.filtered++;
		k->commit_due = true;
		return;
	}
	offs_insert(&p->pending, &p->npending, &p->cpending, m->offset);
	bus->st.consumed++;
	if (bus->cb.recv == NULL)
		return;
	memset(&msg, 0, sizeof(msg));
	msg.topic = topic;
	msg.key = m->key != NULL ? m->key : "";
	msg.keylen = m->key_len;
	msg.value = m->payload != NULL ? m->payload : "";
	msg.len = m->len;
	msg.ref.topic = topic;
	msg.ref.partition = m->partition;
	msg.ref.offset = m->offset;
	msg.ref.gen = k->gen;
	bus->cb.recv(bus->cb.arg, &msg);
}

static int
k_applied(struct ebb_bus *bus, const struct ebb_bus_ref *ref)
{
	struct kbus *k = bus->be;
	struct kpart *p;

	if (ref->gen != k->gen)
		return -ESTALE;
	if ((p = part_find(k, ref->topic, ref->partition)) == NULL ||
	    !offs_remove(p->pending, &p->npending, ref->offset))
		return -ENOENT;
	offs_insert(&p->applied, &p->napplied, &p->capplied, ref->offset);
	/* Inside ebb_bus_process() one commit at its end covers them all. */
	if (k->in_process)
		k->commit_due = true;
	else
		k_commit(k, false);
	return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static void
k_wake(struct kbus *k)
{
	uint64_t one = 1;

	if (write(k->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ebb_warn("bus %s: eventfd: %s", k->group, strerror(errno));
}

static int
k_process(struct ebb_bus *bus)
{
	struct kbus *k = bus->be;
	rd_kafka_message_t *m;
	uint64_t v;
	int n;

	/*
	 * Read the eventfd before serving the queues: librdkafka writes it
	 * when a queue stops being empty, so anything queued after this
	 * read wakes the loop again.
	 */
	if (read(k->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		ebb_warn("bus %s: eventfd: %s", k->group, strerror(errno));
	k->in_process = true;
	rd_kafka_poll(k->prod.rk, 0);
	for (n = 0; n < KAFKA_BUDGET; n++) {
		if ((m = rd_kafka_consumer_poll(k->cons.rk, 0)) == NULL)
			break;
		k_message(k, m);
		rd_kafka_message_destroy(m);
	}
	k->in_process = false;
	/* The queue is not empty, so librdkafka will not write: we do. */
	if (n == KAFKA_BUDGET)
		k_wake(k);
	if (k->commit_due)
		k_commit(k, false);
	return k->failed ? -ENOTRECOVERABLE : 0;
}

/* ---- opening and closing ------------------------------------------------ */

static int
conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
    struct ebb_err *err)
{
	char why[512];

	if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK) {
		ebb_err_set(err, "bus: kafka property %s=%s: %s", key, value,
		    why);
		return -EINVAL;
	}
	return 0;
}

/*
 * The configuration of one handle: the operator's properties first, then
 * what the bus's guarantees rest on (the parser has refused those keys,
 * but a configuration built in code could still carry them).
 */
static rd_kafka_conf_t *
k_conf(struct kbus *k, const struct ebb_bus_config *c, const char *client_id,
    bool consumer, struct ebb_err *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char num[32];
	const char *p;
	int rc = 0;

	/* A fresh group reads what it has not seen: the bus skips nothing. */
	if (consumer)
		rc = conf_set(conf, "auto.offset.reset", "earliest", err);
	for (p = c->props; rc == 0 && *p != '\0'; p += strlen(p) + 1) {
		const char *v = p + strlen(p) + 1;

		rc = conf_set(conf, p, v, err);
		p = v;
	}
	if (rc == 0)
		rc = conf_set(conf, "bootstrap.servers", c->brokers, err);
	if (rc == 0)
		rc = conf_set(conf, "client.id", client_id, err);
	if (rc == 0)
		rc = conf_set(conf, "log.queue", "true", err);
	if (rc == 0)
		rc = conf_set(conf, "statistics.interval.ms", KAFKA_STATS_MS,
		    err);
	if (consumer) {
		if (rc == 0)
			rc = conf_set(conf, "group.id", k->group, err);
		if (rc == 0)
			rc = conf_set(conf, "enable.auto.commit", "false", err);
		if (rc == 0)
			rc = conf_set(conf, "enable.auto.offset.store", "false",
			    err);
		if (rc == 0)
			rc = conf_set(conf, "partition.assignment.strategy",
			    "range", err);
		rd_kafka_conf_set_rebalance_cb(conf, k_rebalance);
	} else {
		if (rc == 0)
			rc = conf_set(conf, "enable.idempotence", "true", err);
		if (rc == 0)
			rc = conf_set(conf, "partitioner", "murmur2_random", err);
		snprintf(num, sizeof(num), "%d", c->buffer_messages);
		if (rc == 0)
			rc = conf_set(conf, "queue.buffering.max.messages", num,
			    err);
		snprintf(num, sizeof(num), "%d", c->buffer_kbytes);
		if (rc == 0)
			rc = conf_set(conf, "queue.buffering.max.kbytes", num,
			    err);
		rd_kafka_conf_set_dr_msg_cb(conf, k_dr);
	}
	if (rc != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_error_cb(conf, k_error);
	rd_kafka_conf_set_stats_cb(conf, k_stats);
	rd_kafka_conf_set_log_cb(conf, k_log);
	rd_kafka_conf_set_opaque(conf, k);
	return conf;
}

static int
k_handle_new(struct kbus *k, struct khandle *h, rd_kafka_type_t type,
    rd_kafka_conf_t *conf, struct ebb_err *err)
{
	static const uint64_t one = 1;
	char why[512];

	/* rd_kafka_new owns conf once it succeeds. */
	if ((h->rk = rd_kafka_new(type, conf, why, sizeof(why))) == NULL) {
		rd_kafka_conf_destroy(conf);
		ebb_err_set(err, "bus: kafka %s: %s", type == RD_KAFKA_PRODUCER ?
		    "producer" : "consumer", why);
		return -EINVAL;
	}
	if (type == RD_KAFKA_CONSUMER) {
		/* Everything (callbacks, logs) through the consumer queue. */
		rd_kafka_poll_set_consumer(h->rk);
		h->q = rd_kafka_queue_get_consumer(h->rk);
	} else {
		h->q = rd_kafka_queue_get_main(h->rk);
	}
	rd_kafka_set_log_queue(h->rk, h->q);
	/* Only on the final queue of a forwarding chain, says librdkafka. */
	rd_kafka_queue_io_event_enable(h->q, k->efd, &one, sizeof(one));
	return 0;
}

static void
k_free(struct kbus *k)
{
	struct khandle *hs[] = { &k->cons, &k->prod };

	for (size_t i = 0; i < EBB_NITEMS(hs); i++) {
		if (hs[i]->q != NULL) {
			rd_kafka_queue_io_event_enable(hs[i]->q, -1, NULL, 0);
			rd_kafka_queue_destroy(hs[i]->q);
		}
		if (hs[i]->rk != NULL)
			rd_kafka_destroy(hs[i]->rk);
	}
	parts_clear(k);
	if (k->efd >= 0)
		close(k->efd);
	free(k);
}

static void
k_close(struct ebb_bus *bus, int flush_ms)
{
	struct kbus *k = bus->be;
	int tries;

	k->in_process = true;
	if (k->cons.up && !k->cons.down && !k->failed) {
		/* Leaving the group revokes (k_rebalance commits) at once,
		 * instead of after session.timeout.ms. */
		rd_kafka_consumer_close(k->cons.rk);
	} else {
		/* No coordinator to tell; closing would only wait. */
		rd_kafka_queue_io_event_enable(k->cons.q, -1, NULL, 0);
		rd_kafka_queue_destroy(k->cons.q);
		k->cons.q = NULL;
		rd_kafka_destroy_flags(k->cons.rk,
		    RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
		k->cons.rk = NULL;
	}
	/* rd_kafka_flush serves the delivery reports itself. */
	rd_kafka_flush(k->prod.rk, flush_ms > 0 ? flush_ms : 0);
	/* What is left fails now, and the application hears of each. */
	rd_kafka_purge(k->prod.rk, RD_KAFKA_PURGE_F_QUEUE |
	    RD_KAFKA_PURGE_F_INFLIGHT);
	for (tries = 0; tries < 100 && rd_kafka_outq_len(k->prod.rk) > 0;
	    tries++)
		rd_kafka_poll(k->prod.rk, 10);
	k_free(k);
}

static const struct ebb_bus_ops kafka_ops = {
	.send = k_send,
	.process = k_process,
	.applied = k_applied,
	.close = k_close,
};

int
ebb_bus_kafka_open(struct ebb_bus *bus, const struct ebb_bus_config *c,
    struct ebb_err *err)
{
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t kerr;
	rd_kafka_conf_t *conf;
	struct kbus *k;
	const char *client_id;
	int rc;

	k = ebb_calloc(1, sizeof(*k));
	k->bus = bus;
	k->buffer_messages = c->buffer_messages;
	snprintf(k->brokers, sizeof(k->brokers), "%s", c->brokers);
	if (bus->role == EBB_BUS_AGENT)
		snprintf(k->group, sizeof(k->group), "%s.%s", c->group[0] ?
		    c->group : "ebb-agent", bus->host);
	else
		snprintf(k->group, sizeof(k->group), "%s", c->group[0] ?
		    c->group : "ebb-controller");
	client_id = c->client_id[0] ? c->client_id : k->group;
	if ((k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = -errno;
		ebb_err_set(err, "bus: eventfd: %s", strerror(errno));
		free(k);
		return rc;
	}
	if ((conf = k_conf(k, c, client_id, false, err)) == NULL) {
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = k_handle_new(k, &k->prod, RD_KAFKA_PRODUCER, conf, err)) != 0)
		goto fail;
	if ((conf = k_conf(k, c, client_id, true, err)) == NULL) {
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = k_handle_new(k, &k->cons, RD_KAFKA_CONSUMER, conf, err)) != 0)
		goto fail;
	sub = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(sub, ebb_bus_topic_name(
	    bus->role == EBB_BUS_AGENT ? EBB_BUS_COMMANDS : EBB_BUS_REPORTS),
	    RD_KAFKA_PARTITION_UA);
	if (bus->role == EBB_BUS_CONTROLLER && c->decisions)
		rd_kafka_topic_partition_list_add(sub,
		    ebb_bus_topic_name(EBB_BUS_DECISIONS), RD_KAFKA_PARTITION_UA);
	kerr = rd_kafka_subscribe(k->cons.rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ebb_err_set(err, "bus: subscribe: %s", rd_kafka_err2str(kerr));
		rc = -EINVAL;
		goto fail;
	}
	/*
	 * librdkafka writes the eventfd only when a queue stops being empty;
	 * whatever it queued before the eventfd was set (start-up logs)
	 * would never wake the loop.  Wake it once.
	 */
	k_wake(k);
	bus->be = k;
	bus->ops = &kafka_ops;
	bus->fd = k->efd;
	return 0;
fail:
	k_free(k);
	return rc;
}
