/*
 * test_bus_harness.h - what the bus tests share: a librdkafka mock cluster
 * in the test process, buses opened on it whose callbacks record what
 * they see, and a loop that serves every open bus until a condition
 * holds or a deadline passes.
 *
 * Facts of the mock cluster the tests live with: a group's first join
 * takes about 3 s (so tests wait on conditions, never on sleeps, and give
 * a join 10 s), each partition keeps about 5 MiB, and every test makes its
 * own cluster so that no group or offset leaks from one test to another.
 */
#ifndef TEST_BUS_HARNESS_H
#define TEST_BUS_HARNESS_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ebb.h"
#include "ebb_bus.h"
#include "ebb_jconf.h"
#include "ebb_log.h"
#include "ebb_wire.h"

#define TB_SIDES	16
#define TB_FAILED	64
/* A group join on the mock takes 3 s; give it room on a loaded machine. */
#define TB_JOIN_S	15

struct tb_cluster {
	rd_kafka_t		*rk;
	rd_kafka_mock_cluster_t	*mc;
	char			 boot[256];
};

/* A received message, copied. */
struct tb_got {
	char			 key[EBB_HOST_MAX + 1];
	char			*value;
	struct ebb_bus_ref	 ref;
	char			 type[33];
	char			 host[EBB_HOST_MAX + 1];
	int64_t			 seq;
	int64_t			 dropped;	/* -1 when absent */
};

struct tb_failed {
	enum ebb_bus_topic	 topic;
	uint64_t		 tag;
	int			 error;
	char			*value;
	char			 key[EBB_HOST_MAX + 1];
};

/* One bus and what its callbacks have seen. */
struct tb_side {
	struct ebb_bus		*bus;
	bool			 apply;		/* ebb_bus_applied() on receipt */
	struct tb_got		*got;
	size_t			 ngot;
	uint64_t		 delivered;
	uint64_t		 delivered_tags;	/* their sum */
	struct tb_failed	 failed[TB_FAILED];
	size_t			 nfailed;
	enum ebb_bus_state	 state;
	int			 state_changes;
	bool			 saw_down;
};

static struct tb_side *tb_sides[TB_SIDES];

static inline void
tb_cluster_new(struct tb_cluster *c, int partitions)
{
	static const char *const topics[] = { "ebb.reports", "ebb.commands",
		"ebb.decisions" };
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[256];

	rd_kafka_conf_set(conf, "log_level", "4", why, sizeof(why));
	c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (c->rk == NULL)
		fail_msg("rd_kafka_new: %s", why);
	if ((c->mc = rd_kafka_mock_cluster_new(c->rk, 1)) == NULL)
		fail_msg("rd_kafka_mock_cluster_new failed");
	for (size_t i = 0; i < EBB_NITEMS(topics); i++)
		assert_int_equal(rd_kafka_mock_topic_create(c->mc, topics[i],
		    partitions, 1), 0);
	snprintf(c->boot, sizeof(c->boot), "%s",
	    rd_kafka_mock_cluster_bootstraps(c->mc));
}

static inline void
tb_cluster_free(struct tb_cluster *c)
{
	rd_kafka_mock_cluster_destroy(c->mc);
	rd_kafka_destroy(c->rk);
}

static inline void
tb_recv(void *arg, const struct ebb_bus_msg *m)
{
	struct tb_side *s = arg;
	struct tb_got *g;
	struct ebb_msg msg;
	struct ebb_err err;
	json_t *d;

	s->got = ebb_reallocarray(s->got, s->ngot + 1, sizeof(*s->got));
	g = &s->got[s->ngot++];
	memset(g, 0, sizeof(*g));
	snprintf(g->key, sizeof(g->key), "%.*s", (int)m->keylen, m->key);
	g->value = ebb_malloc(m->len + 1);
	memcpy(g->value, m->value, m->len);
	g->value[m->len] = '\0';
	g->ref = m->ref;
	g->seq = -1;
	g->dropped = -1;
	if (ebb_msg_parse(m->value, m->len, &msg, &err) != 0)
		fail_msg("received a message that does not parse: %s: %s",
		    err.msg, g->value);
	snprintf(g->type, sizeof(g->type), "%s", msg.type);
	snprintf(g->host, sizeof(g->host), "%s", msg.host);
	g->seq = (int64_t)msg.seq;
	if ((d = json_object_get(msg.obj, "dropped")) != NULL)
		g->dropped = json_integer_value(d);
	ebb_msg_free(&msg);
	if (s->apply)
		assert_int_equal(ebb_bus_applied(s->bus, &m->ref), 0);
}

static inline void
tb_delivered(void *arg, enum ebb_bus_topic t, uint64_t tag)
{
	struct tb_side *s = arg;

	(void)t;
	s->delivered++;
	s->delivered_tags += tag;
}

static inline void
tb_failed_cb(void *arg, const struct ebb_bus_failure *f)
{
	struct tb_side *s = arg;
	struct tb_failed *x;

	assert_true(s->nfailed < TB_FAILED);
	x = &s->failed[s->nfailed++];
	x->topic = f->topic;
	x->tag = f->tag;
	x->error = f->error;
	snprintf(x->key, sizeof(x->key), "%.*s", (int)f->keylen, f->key);
	x->value = ebb_malloc(f->len + 1);
	memcpy(x->value, f->value, f->len);
	x->value[f->len] = '\0';
}

static inline void
tb_state(void *arg, enum ebb_bus_state st)
{
	struct tb_side *s = arg;

	s->state = st;
	s->state_changes++;
	if (st == EBB_BUS_DOWN)
		s->saw_down = true;
}

/*
 * Opens a bus on the cluster.  props is more of the "properties" object
 * (without braces, "" for none); the defaults make everything quick:
 * short sessions, fast reconnects, short fetch waits.
 */
static inline void
tb_open(struct tb_side *s, const struct tb_cluster *c, enum ebb_bus_role role,
    const char *host, const char *group, int buffer_messages,
    const char *props)
{
	struct ebb_bus_cb cb = { tb_recv, tb_delivered, tb_failed_cb, tb_state,
		s };
	struct ebb_bus_config conf;
	struct ebb_err err = { "" };
	struct ebb_jconf x = { "test", &err };
	char text[2048];
	json_t *root;
	size_t i;

	memset(s, 0, sizeof(*s));
	snprintf(text, sizeof(text), "{\"kind\": \"kafka\", \"brokers\": \"%s\", "
	    "\"group\": \"%s\", \"buffer_messages\": %d, \"properties\": {"
	    "\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500, "
	    "\"reconnect.backoff.ms\": 50, \"reconnect.backoff.max.ms\": 500, "
	    "\"fetch.wait.max.ms\": 50, \"linger.ms\": 1%s%s}}", c->boot, group,
	    buffer_messages, props[0] ? ", " : "", props);
	if ((root = ebb_jconf_load(&x, text)) == NULL)
		fail_msg("%s", err.msg);
	ebb_bus_config_defaults(&conf);
	if (ebb_bus_config_parse(&x, root, &conf) != 0)
		fail_msg("%s", err.msg);
	json_decref(root);
	if (ebb_bus_open(&s->bus, &conf, role, host, &cb, &err) != 0)
		fail_msg("ebb_bus_open: %s", err.msg);
	s->state = ebb_bus_state(s->bus);
	for (i = 0; i < TB_SIDES && tb_sides[i] != NULL; i++)
		;
	assert_true(i < TB_SIDES);
	tb_sides[i] = s;
}

static inline void
tb_close(struct tb_side *s, int flush_ms)
{
	for (size_t i = 0; i < TB_SIDES; i++)
		if (tb_sides[i] == s)
			tb_sides[i] = NULL;
	ebb_bus_close(s->bus, flush_ms);
	s->bus = NULL;
	for (size_t i = 0; i < s->ngot; i++)
		free(s->got[i].value);
	free(s->got);
	s->got = NULL;
	s->ngot = 0;
	for (size_t i = 0; i < s->nfailed; i++)
		free(s->failed[i].value);
	s->nfailed = 0;
}

/* Waits up to ms for any bus's fd, then serves every open bus. */
static inline void
tb_pump(int ms)
{
	struct pollfd pfd[TB_SIDES];
	int n = 0;

	for (size_t i = 0; i < TB_SIDES; i++)
		if (tb_sides[i] != NULL) {
			pfd[n].fd = ebb_bus_fd(tb_sides[i]->bus);
			pfd[n].events = POLLIN;
			n++;
		}
	poll(pfd, (nfds_t)n, ms);
	for (size_t i = 0; i < TB_SIDES; i++)
		if (tb_sides[i] != NULL)
			assert_int_equal(ebb_bus_process(tb_sides[i]->bus), 0);
}

/* Serves the buses for s seconds, whatever happens. */
static inline void
tb_run(double s)
{
	double end = ebb_monoclock() + s;

	while (ebb_monoclock() < end)
		tb_pump(20);
}

#define TB_WAIT(cond, secs) do {					\
	double tb_end_ = ebb_monoclock() + (secs);			\
	while (!(cond)) {						\
		if (ebb_monoclock() > tb_end_)				\
			fail_msg("%s:%d: waited %g s in vain for %s",	\
			    __FILE__, __LINE__, (double)(secs), #cond);	\
		tb_pump(20);						\
	}								\
} while (0)

/* A message of type for host with seq; extra fields may follow. */
static inline json_t *
tb_msg(const char *type, const char *host, uint64_t seq)
{
	return ebb_msg_new(type, host, seq, ebb_wallclock());
}

static inline uint64_t
tb_stat(struct tb_side *s, size_t off)
{
	struct ebb_bus_stats st;

	ebb_bus_stats(s->bus, &st);
	return *(uint64_t *)(void *)((char *)&st + off);
}

/* A counter of ebb_bus_stats by name: TB_STAT(side, consumed). */
#define TB_STAT(s, field) tb_stat((s), offsetof(struct ebb_bus_stats, field))

#endif /* TEST_BUS_HARNESS_H */
