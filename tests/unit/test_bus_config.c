/*
 * test_bus_config.c - the bus's "bus" configuration section and the checks
 * ebb_bus_open() makes before it connects anywhere.
 *
 * Checked: an empty section keeps the defaults (tcp, 10000 messages);
 * kind tcp refuses Kafka's keys; kind kafka needs brokers; unknown keys,
 * wrong types and out-of-range buffers are refused naming the key;
 * properties are checked by librdkafka (an unknown property, a bad value)
 * and those the bus sets itself are refused with the reason; numbers and
 * booleans are taken as librdkafka strings and kept in order; the
 * properties' total size is bounded; a refused section leaves the
 * configuration as it was.  ebb_bus_open() refuses tcp (-ENOTSUP) and a
 * missing host, and a Kafka bus with nothing listening opens, says
 * "connecting" and closes at once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_bus.h"
#include "ebb_jconf.h"
#include "ebb_log.h"
#include "ebb_wire.h"

static int
parse(const char *text, struct ebb_bus_config *c, struct ebb_err *err)
{
	struct ebb_jconf x = { "bus.json", err };
	json_t *root;
	int rc;

	if ((root = ebb_jconf_load(&x, text)) == NULL)
		fail_msg("not JSON: %s: %s", text, err->msg);
	rc = ebb_bus_config_parse(&x, root, c);
	json_decref(root);
	return rc;
}

/* text must be refused with a message holding want. */
static void
refused(const char *text, const char *want)
{
	struct ebb_bus_config c, before;
	struct ebb_err err = { "" };

	ebb_bus_config_defaults(&c);
	before = c;
	if (parse(text, &c, &err) != -EINVAL)
		fail_msg("accepted: %s", text);
	if (strstr(err.msg, want) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, err.msg, want);
	if (strncmp(err.msg, "bus.json: bus", 13) != 0)
		fail_msg("%s: message \"%s\" names no key", text, err.msg);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void
test_defaults_and_tcp(void **state)
{
	struct ebb_bus_config c;
	struct ebb_err err = { "" };

	(void)state;
	ebb_bus_config_defaults(&c);
	assert_int_equal(parse("{}", &c, &err), 0);
	assert_int_equal(c.kind, EBB_BUS_TCP);
	assert_int_equal(c.buffer_messages, 10000);
	assert_int_equal(c.buffer_kbytes, 65536);
	assert_int_equal(parse("{\"kind\": \"tcp\"}", &c, &err), 0);
	assert_int_equal(c.kind, EBB_BUS_TCP);
	refused("{\"kind\": \"udp\"}", "bus.kind: found \"udp\", allowed one of "
	    "tcp, kafka");
	refused("{\"kind\": 1}", "bus.kind: found a number");
	refused("{\"kind\": \"tcp\", \"brokers\": \"k:9092\"}", "\"brokers\" is "
	    "only for \"kind\": \"kafka\"");
	refused("{\"properties\": {}}", "\"properties\" is only for");
	refused("{\"colour\": \"blue\"}", "bus: unknown key \"colour\"");
}

static void
test_kafka(void **state)
{
	struct ebb_bus_config c;
	struct ebb_err err = { "" };

	(void)state;
	ebb_bus_config_defaults(&c);
	assert_int_equal(parse("{\"kind\": \"kafka\", \"brokers\": "
	    "\"k1:9092,k2:9092\", \"group\": \"ctl-a\", \"client_id\": \"c1\", "
	    "\"buffer_messages\": 50, \"buffer_kbytes\": 1024}", &c, &err), 0);
	assert_int_equal(c.kind, EBB_BUS_KAFKA);
	assert_string_equal(c.brokers, "k1:9092,k2:9092");
	assert_string_equal(c.group, "ctl-a");
	assert_string_equal(c.client_id, "c1");
	assert_int_equal(c.buffer_messages, 50);
	assert_int_equal(c.buffer_kbytes, 1024);
	assert_int_equal(c.props_len, 0);

	refused("{\"kind\": \"kafka\"}", "bus.brokers: kind kafka needs");
	refused("{\"kind\": \"kafka\", \"brokers\": \"\"}", "bus.brokers: must "
	    "not be empty");
	refused("{\"kind\": \"kafka\", \"brokers\": \"k:1\", \"group\": \"\"}",
	    "bus.group: must not be empty");
	refused("{\"kind\": \"kafka\", \"brokers\": \"k:1\", "
	    "\"buffer_messages\": 0}", "bus.buffer_messages: found an integer "
	    "out of range");
	refused("{\"kind\": \"kafka\", \"brokers\": \"k:1\", "
	    "\"buffer_kbytes\": \"lots\"}", "bus.buffer_kbytes: found a string");
	refused("{\"kind\": \"kafka\", \"brokers\": \"k:1\", \"topic\": \"x\"}",
	    "bus: unknown key \"topic\"; allowed: kind, brokers");
}

static void
test_properties(void **state)
{
	struct ebb_bus_config c;
	struct ebb_err err = { "" };
	static const char want[] = "session.timeout.ms\0" "6000\0"
	    "enable.partition.eof\0" "true\0" "debug\0" "broker,cgrp\0";
	char text[8192];
	int n;

	(void)state;
	ebb_bus_config_defaults(&c);
	assert_int_equal(parse("{\"kind\": \"kafka\", \"brokers\": \"k:1\", "
	    "\"properties\": {\"session.timeout.ms\": 6000, "
	    "\"enable.partition.eof\": true, \"debug\": \"broker,cgrp\"}}", &c,
	    &err), 0);
	assert_int_equal(c.props_len, sizeof(want) - 1);
	assert_memory_equal(c.props, want, sizeof(want));

#define K "{\"kind\": \"kafka\", \"brokers\": \"k:1\", \"properties\": "
	refused(K "[]}", "bus.properties: found an array");
	refused(K "{\"no.such.thing\": \"1\"}}",
	    "bus.properties.no.such.thing: No such configuration property");
	refused(K "{\"session.timeout.ms\": \"soon\"}}",
	    "bus.properties.session.timeout.ms: Invalid value");
	refused(K "{\"session.timeout.ms\": 1.5}}",
	    "bus.properties.session.timeout.ms: found a number, allowed a "
	    "string");
	refused(K "{\"enable.auto.commit\": true}}",
	    "not allowed: the bus commits after the application applied");
	refused(K "{\"enable.idempotence\": false}}",
	    "not allowed: the bus's producer is always idempotent");
	refused(K "{\"group.id\": \"x\"}}", "not allowed: set it with bus.group");
	refused(K "{\"bootstrap.servers\": \"x:1\"}}", "set it with bus.brokers");
	refused(K "{\"partitioner\": \"random\"}}", "murmur2_random");
	refused(K "{\"queue.buffering.max.messages\": 5}}",
	    "set it with bus.buffer_messages");

	/* Five strings of 999 bytes pass the bound of 4096 bytes in all. */
	n = snprintf(text, sizeof(text), K "{");
	for (int i = 0; i < 5; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    "%s\"%s\": \"%0999d\"", i ? ", " : "", (const char *[]){
		    "ssl.key.password", "sasl.password", "sasl.username",
		    "client.rack", "sasl.kerberos.principal" }[i], i);
	snprintf(text + n, sizeof(text) - (size_t)n, "}}");
	refused(text, "the properties exceed 4096 bytes");
#undef K
}

static void
test_open_checks(void **state)
{
	struct ebb_bus_config c;
	struct ebb_err err = { "" };
	struct ebb_bus *bus = (struct ebb_bus *)&c;
	struct ebb_bus_stats st;
	double t0;

	(void)state;
	ebb_bus_config_defaults(&c);
	assert_int_equal(ebb_bus_open(&bus, &c, EBB_BUS_AGENT, "h1", NULL,
	    &err), -ENOTSUP);
	assert_null(bus);
	assert_non_null(strstr(err.msg, "tcp"));

	assert_int_equal(parse("{\"kind\": \"kafka\", \"brokers\": "
	    "\"127.0.0.1:1\"}", &c, &err), 0);
	assert_int_equal(ebb_bus_open(&bus, &c, EBB_BUS_AGENT, "", NULL, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "host name"));

	/* Nothing listens on port 1: it opens, and closes without waiting. */
	assert_int_equal(ebb_bus_open(&bus, &c, EBB_BUS_CONTROLLER, "ctl", NULL,
	    &err), 0);
	assert_true(ebb_bus_fd(bus) >= 0);
	assert_int_equal(ebb_bus_process(bus), 0);
	ebb_bus_stats(bus, &st);
	assert_int_equal(st.produced, 0);
	assert_true(st.state == EBB_BUS_CONNECTING || st.state == EBB_BUS_DOWN);
	t0 = ebb_monoclock();
	ebb_bus_close(bus, 100);
	assert_true(ebb_monoclock() - t0 < 3);

	assert_string_equal(ebb_bus_topic_name(EBB_BUS_REPORTS), "ebb.reports");
	assert_string_equal(ebb_bus_topic_name(EBB_BUS_COMMANDS),
	    "ebb.commands");
	assert_string_equal(ebb_bus_topic_name(EBB_BUS_DECISIONS),
	    "ebb.decisions");
	assert_string_equal(ebb_bus_state_name(EBB_BUS_DOWN), "down");
	assert_string_equal(ebb_bus_kind_name(EBB_BUS_KAFKA), "kafka");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_tcp),
		cmocka_unit_test(test_kafka),
		cmocka_unit_test(test_properties),
		cmocka_unit_test(test_open_checks),
	};

	ebb_log_init("test_bus_config", EBB_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
