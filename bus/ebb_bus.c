/*
 * ebb_bus.c - the transport-independent part of the bus: configuration,
 * what each role may send, the accounting of every message taken or
 * refused, and the drop count an agent's reports carry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebb_bus_int.h"
#include "ebb_module.h"
#include "ebb_log.h"


/*
 * The Kafka transport is a module (ebb-bus-kafka.so, common/ebb_module.h):
 * librdkafka and the libraries it brings are loaded only by a daemon
 * configured for Kafka.
 */
static int
kafka_open(struct ebb_bus *bus, const struct ebb_bus_config *c,
    struct ebb_err *err)
{
	int (*fn)(struct ebb_bus *, const struct ebb_bus_config *,
	    struct ebb_err *);

	if ((*(void **)&fn = ebb_module_sym("ebb-bus-kafka.so",
	    "ebb_bus_kafka_open", err)) == NULL)
		return -ENOTSUP;
	return fn(bus, c, err);
}

static int
kafka_check_prop(const char *key, const char *value, char *why,
    size_t size)
{
	int (*fn)(const char *, const char *, char *, size_t);
	struct ebb_err err;

	if ((*(void **)&fn = ebb_module_sym("ebb-bus-kafka.so",
	    "ebb_bus_kafka_check_prop", &err)) == NULL) {
		snprintf(why, size, "%s", err.msg);
		return -ENOTSUP;
	}
	return fn(key, value, why, size);
}

static const char *const topic_names[EBB_BUS_NTOPICS] = {
	[EBB_BUS_REPORTS] = "ebb.reports",
	[EBB_BUS_COMMANDS] = "ebb.commands",
	[EBB_BUS_DECISIONS] = "ebb.decisions",
};

const char *
ebb_bus_topic_name(enum ebb_bus_topic t)
{
	return (unsigned)t < EBB_BUS_NTOPICS ? topic_names[t] : "?";
}

int
ebb_bus_topic_find(const char *name)
{
	for (int t = 0; t < EBB_BUS_NTOPICS; t++)
		if (strcmp(name, topic_names[t]) == 0)
			return t;
	return -1;
}

const char *
ebb_bus_state_name(enum ebb_bus_state s)
{
	switch (s) {
	case EBB_BUS_CONNECTING:
		return "connecting";
	case EBB_BUS_UP:
		return "up";
	case EBB_BUS_DOWN:
		return "down";
	case EBB_BUS_FAILED:
		return "failed";
	}
	return "?";
}

const char *
ebb_bus_kind_name(enum ebb_bus_kind k)
{
	return k == EBB_BUS_KAFKA ? "kafka" : "tcp";
}

/* ---- configuration ----------------------------------------------------- */

void
ebb_bus_config_defaults(struct ebb_bus_config *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = EBB_BUS_TCP;
	/* A report is a few KiB; 10000 of them is hours of reports. */
	c->buffer_messages = 10000;
	c->buffer_kbytes = 64 * 1024;
}

/* Appends key and value to c->props; -ENOSPC when they do not fit. */
static int
props_add(struct ebb_bus_config *c, const char *key, const char *value)
{
	size_t kl = strlen(key) + 1, vl = strlen(value) + 1;

	/* One byte stays free for the terminating empty key. */
	if (c->props_len + kl + vl + 1 > sizeof(c->props))
		return -ENOSPC;
	memcpy(c->props + c->props_len, key, kl);
	memcpy(c->props + c->props_len + kl, value, vl);
	c->props_len += kl + vl;
	c->props[c->props_len] = '\0';
	return 0;
}

static int
parse_props(struct ebb_jconf *x, json_t *obj, struct ebb_bus_config *c)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return ebb_jconf_fail(x, "bus.properties", "found %s, allowed an "
		    "object of librdkafka properties", ebb_json_kind(obj));
	c->props_len = 0;
	c->props[0] = '\0';
	json_object_foreach(obj, key, v) {
		char path[320], value[1024], why[512];

		snprintf(path, sizeof(path), "bus.properties.%s", key);
		/* librdkafka takes strings; numbers and booleans read as such. */
		if (json_is_string(v) && json_string_length(v) < sizeof(value) &&
		    strlen(json_string_value(v)) == json_string_length(v))
			snprintf(value, sizeof(value), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(value, sizeof(value), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
		else if (json_is_boolean(v))
			snprintf(value, sizeof(value), "%s", json_is_true(v) ?
			    "true" : "false");
		else
			return ebb_jconf_fail(x, path, "found %s, allowed a string "
			    "(of at most %zu bytes), an integer or a boolean",
			    ebb_json_kind(v), sizeof(value) - 1);
		if (kafka_check_prop(key, value, why, sizeof(why)) != 0)
			return ebb_jconf_fail(x, path, "%s", why);
		if (props_add(c, key, value) != 0)
			return ebb_jconf_fail(x, path, "the properties exceed %d "
			    "bytes in all", EBB_BUS_PROPS_MAX);
	}
	return 0;
}

int
ebb_bus_config_parse(struct ebb_jconf *x, json_t *s, struct ebb_bus_config *out)
{
	static const char *const keys[] = { "kind", "brokers", "group",
		"client_id", "buffer_messages", "buffer_kbytes", "properties",
		NULL };
	static const char *const kafka_only[] = { "brokers", "group",
		"client_id", "buffer_messages", "buffer_kbytes", "properties",
		NULL };
	struct ebb_bus_config c = *out;
	char kind[16] = "";
	json_t *p;
	int rc;

	if (!json_is_object(s))
		return ebb_jconf_fail(x, "bus", "found %s, allowed an object",
		    ebb_json_kind(s));
	if ((rc = ebb_jconf_keys(x, "bus", s, keys)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "kind", "bus.kind", kind, sizeof(kind),
	    false)) != 0)
		return rc;
	if (kind[0] != '\0') {
		if (strcmp(kind, "tcp") == 0)
			c.kind = EBB_BUS_TCP;
		else if (strcmp(kind, "kafka") == 0)
			c.kind = EBB_BUS_KAFKA;
		else
			return ebb_jconf_fail(x, "bus.kind", "found \"%s\", allowed "
			    "one of tcp, kafka", kind);
	}
	if (c.kind == EBB_BUS_TCP) {
		/* tcp takes its address from the daemon's own keys. */
		for (int i = 0; kafka_only[i] != NULL; i++)
			if (json_object_get(s, kafka_only[i]) != NULL)
				return ebb_jconf_fail(x, "bus", "\"%s\" is only for "
				    "\"kind\": \"kafka\"", kafka_only[i]);
		*out = c;
		return 0;
	}
	if ((rc = ebb_jconf_string(x, s, "brokers", "bus.brokers", c.brokers,
	    sizeof(c.brokers), false)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "group", "bus.group", c.group,
	    sizeof(c.group), false)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "client_id", "bus.client_id",
	    c.client_id, sizeof(c.client_id), false)) != 0 ||
	    (rc = ebb_jconf_int(x, s, "buffer_messages", "bus.buffer_messages",
	    &c.buffer_messages, 1, 10000000)) != 0 ||
	    (rc = ebb_jconf_int(x, s, "buffer_kbytes", "bus.buffer_kbytes",
	    &c.buffer_kbytes, 1, 2097151)) != 0)
		return rc;
	if (c.brokers[0] == '\0')
		return ebb_jconf_fail(x, "bus.brokers", "kind kafka needs the "
		    "bootstrap brokers, \"HOST:PORT[,HOST:PORT...]\"");
	if ((p = json_object_get(s, "properties")) != NULL &&
	    (rc = parse_props(x, p, &c)) != 0)
		return rc;
	*out = c;
	return 0;
}

/* ---- the bus ----------------------------------------------------------- */

int
ebb_bus_open(struct ebb_bus **out, const struct ebb_bus_config *c,
    enum ebb_bus_role role, const char *host, const struct ebb_bus_cb *cb,
    struct ebb_err *err)
{
	struct ebb_bus *bus;
	int rc;

	*out = NULL;
	if (host == NULL || host[0] == '\0' || strlen(host) > EBB_HOST_MAX) {
		ebb_err_set(err, "bus: a host name of 1 to %d bytes is needed",
		    EBB_HOST_MAX);
		return -EINVAL;
	}
	if (c->kind != EBB_BUS_KAFKA) {
		ebb_err_set(err, "bus: kind %s is not behind the bus interface "
		    "yet", ebb_bus_kind_name(c->kind));
		return -ENOTSUP;
	}
	bus = ebb_calloc(1, sizeof(*bus));
	bus->fd = -1;
	bus->role = role;
	snprintf(bus->host, sizeof(bus->host), "%s", host);
	if (cb != NULL)
		bus->cb = *cb;
	bus->st.state = EBB_BUS_CONNECTING;
	if ((rc = kafka_open(bus, c, err)) != 0) {
		free(bus);
		return rc;
	}
	*out = bus;
	return 0;
}

int
ebb_bus_fd(const struct ebb_bus *bus)
{
	return bus->fd;
}

int
ebb_bus_process(struct ebb_bus *bus)
{
	return bus->ops->process(bus);
}

static bool
may_send(enum ebb_bus_role role, enum ebb_bus_topic t)
{
	if (role == EBB_BUS_AGENT)
		return t == EBB_BUS_REPORTS;
	return t == EBB_BUS_COMMANDS || t == EBB_BUS_DECISIONS;
}

/*
 * Counts a message the transport refused and returns rc.  -EMSGSIZE is
 * the caller's mistake; anything else is a drop the agent's next report
 * tells of.
 */
static int
refused(struct ebb_bus *bus, int rc)
{
	if (rc == -EMSGSIZE)
		return rc;
	if (rc == -ENOBUFS)
		bus->st.dropped_full++;
	else
		bus->st.dropped_failed++;
	if (bus->role == EBB_BUS_AGENT)
		bus->untold++;
	return rc;
}

int
ebb_bus_send(struct ebb_bus *bus, enum ebb_bus_topic t, const char *key,
    json_t *msg, uint64_t tag)
{
	const char *type;
	uint64_t carried = 0;
	size_t len;
	char *line;
	int rc;

	if ((unsigned)t >= EBB_BUS_NTOPICS || !may_send(bus->role, t)) {
		json_decref(msg);
		return -EINVAL;
	}
	if (bus->st.state == EBB_BUS_FAILED) {
		json_decref(msg);
		return refused(bus, -ENOTRECOVERABLE);
	}
	if (key == NULL)
		key = json_string_value(json_object_get(msg, "host"));
	if (key == NULL || key[0] == '\0') {
		json_decref(msg);
		return -EINVAL;
	}
	type = json_string_value(json_object_get(msg, "type"));
	if (bus->untold > 0 && type != NULL && strcmp(type, "report") == 0) {
		carried = bus->untold;
		json_object_set_new(msg, "dropped", json_integer((json_int_t)
		    carried));
	}
	/*
	 * key may point into msg, so msg lives until the transport has
	 * copied it.  The encoded newline is framing, for tcp only.
	 */
	if ((line = ebb_msg_encode(msg, &len)) == NULL) {
		json_decref(msg);
		return -EMSGSIZE;
	}
	rc = bus->ops->send(bus, t, key, strlen(key), line, len - 1, tag,
	    carried);
	free(line);
	json_decref(msg);
	if (rc == 0) {
		bus->st.produced++;
		bus->untold -= carried;
		return 0;
	}
	return refused(bus, rc);
}

int
ebb_bus_applied(struct ebb_bus *bus, const struct ebb_bus_ref *ref)
{
	return bus->ops->applied(bus, ref);
}

void
ebb_bus_stats(const struct ebb_bus *bus, struct ebb_bus_stats *st)
{
	*st = bus->st;
	st->queued = ebb_bus_queued(bus);
}

uint64_t
ebb_bus_queued(const struct ebb_bus *bus)
{
	return bus->st.produced - bus->st.delivered - bus->lost;
}

enum ebb_bus_state
ebb_bus_state(const struct ebb_bus *bus)
{
	return bus->st.state;
}

void
ebb_bus_close(struct ebb_bus *bus, int flush_ms)
{
	if (bus == NULL)
		return;
	bus->ops->close(bus, flush_ms);
	free(bus);
}

/* ---- what the transports report ---------------------------------------- */

void
ebb_bus_note_delivered(struct ebb_bus *bus, enum ebb_bus_topic t,
    uint64_t tag)
{
	bus->st.delivered++;
	if (bus->cb.delivered != NULL)
		bus->cb.delivered(bus->cb.arg, t, tag);
}

void
ebb_bus_note_failed(struct ebb_bus *bus, const struct ebb_bus_failure *f,
    uint64_t carried)
{
	bus->st.dropped_failed++;
	bus->lost++;
	/* The count the lost report carried is owed again, plus itself. */
	if (bus->role == EBB_BUS_AGENT)
		bus->untold += 1 + carried;
	if (bus->cb.failed != NULL)
		bus->cb.failed(bus->cb.arg, f);
}

void
ebb_bus_note_state(struct ebb_bus *bus, enum ebb_bus_state s)
{
	if (bus->st.state == s || bus->st.state == EBB_BUS_FAILED)
		return;
	bus->st.state = s;
	if (bus->cb.state != NULL)
		bus->cb.state(bus->cb.arg, s);
}
