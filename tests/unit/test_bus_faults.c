/*
 * test_bus_faults.c - the bus over Kafka when things go wrong, against
 * librdkafka's mock cluster in this process.
 *
 * Checked:
 *   - brokers down for a while: the bus says "down", buffers what the agent
 *     sends, says "up" again, and delivers all of it once, in order
 *   - a full buffer (buffer_messages 5, brokers down from the start):
 *     exactly the sends past 5 are refused with -ENOBUFS and counted in
 *     dropped_full; the next report taken carries "dropped": 3, the one
 *     after it none, and a hello never carries it
 *   - deliveries that time out (message.timeout.ms 1000, brokers down):
 *     each comes back through the failed callback with its tag and
 *     -ETIMEDOUT, is counted in dropped_failed, and the next report
 *     carries the count
 *   - a permanent broker error on a controller's decision reaches the
 *     failed callback with the tag, key and message; the producer stays
 *     usable and the next decision is delivered; a topic-wide refusal
 *     (authorization) reaches it as -EACCES
 *   - a fatal producer error (an out-of-order sequence under
 *     idempotence): the bus says "failed", each message in flight fails
 *     through the callback, ebb_bus_process() and ebb_bus_send() return
 *     -ENOTRECOVERABLE from then on
 *   - closing with messages still buffered fails each through the
 *     callback (-ECANCELED), none silently
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

#include "test_bus_harness.h"

static void
send_report(struct tb_side *s, const char *host, uint64_t seq, int want)
{
	int rc = ebb_bus_send(s->bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("report", host, seq), seq);

	if (rc != want)
		fail_msg("report %llu: ebb_bus_send gave %d, expected %d",
		    (unsigned long long)seq, rc, want);
}

static void
test_brokers_down(void **state)
{
	struct tb_cluster c;
	struct tb_side agent, ctl;

	(void)state;
	tb_cluster_new(&c, 2);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-down", 1000, "");
	ctl.apply = true;
	tb_open(&agent, &c, EBB_BUS_AGENT, "h1", "agent", 1000, "");
	for (uint64_t seq = 0; seq < 5; seq++)
		send_report(&agent, "h1", seq, 0);
	TB_WAIT(ctl.ngot == 5, TB_JOIN_S);
	TB_WAIT(agent.state == EBB_BUS_UP, 5);

	assert_int_equal(rd_kafka_mock_broker_set_down(c.mc, -1), 0);
	TB_WAIT(agent.state == EBB_BUS_DOWN, 10);
	for (uint64_t seq = 5; seq < 15; seq++)
		send_report(&agent, "h1", seq, 0);
	tb_run(1.5);
	assert_int_equal(agent.delivered, 5);
	assert_int_equal(TB_STAT(&agent, queued), 10);
	assert_int_equal(ebb_bus_state(agent.bus), EBB_BUS_DOWN);
	assert_int_equal(ctl.ngot, 5);

	assert_int_equal(rd_kafka_mock_broker_set_up(c.mc, -1), 0);
	TB_WAIT(ctl.ngot >= 15 && agent.delivered == 15, 20);
	TB_WAIT(agent.state == EBB_BUS_UP, 5);
	tb_run(0.3);
	assert_int_equal(ctl.ngot, 15);
	for (size_t i = 0; i < ctl.ngot; i++)
		assert_int_equal(ctl.got[i].seq, (int64_t)i);
	assert_int_equal(TB_STAT(&agent, dropped_full), 0);
	assert_int_equal(TB_STAT(&agent, dropped_failed), 0);
	assert_int_equal(TB_STAT(&agent, queued), 0);
	assert_int_equal(agent.nfailed, 0);
	assert_true(agent.saw_down);

	tb_close(&agent, 1000);
	tb_close(&ctl, 1000);
	tb_cluster_free(&c);
}

static void
test_buffer_full(void **state)
{
	struct tb_cluster c;
	struct tb_side agent, ctl;

	(void)state;
	tb_cluster_new(&c, 1);
	assert_int_equal(rd_kafka_mock_broker_set_down(c.mc, -1), 0);
	tb_open(&agent, &c, EBB_BUS_AGENT, "h1", "agent", 5, "");
	for (uint64_t seq = 0; seq < 5; seq++)
		send_report(&agent, "h1", seq, 0);
	for (uint64_t seq = 5; seq < 8; seq++)
		send_report(&agent, "h1", seq, -ENOBUFS);
	/* A hello is refused too, and counted, but carries nothing. */
	assert_int_equal(ebb_bus_send(agent.bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("hello", "h1", 8), 0), -ENOBUFS);
	assert_int_equal(TB_STAT(&agent, produced), 5);
	assert_int_equal(TB_STAT(&agent, dropped_full), 4);
	assert_int_equal(TB_STAT(&agent, queued), 5);
	TB_WAIT(agent.state == EBB_BUS_DOWN, 10);

	assert_int_equal(rd_kafka_mock_broker_set_up(c.mc, -1), 0);
	TB_WAIT(agent.delivered == 5, 20);
	assert_int_equal(ebb_bus_send(agent.bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("hello", "h1", 9), 0), 0);
	send_report(&agent, "h1", 10, 0);
	send_report(&agent, "h1", 11, 0);

	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-full", 1000, "");
	ctl.apply = true;
	TB_WAIT(ctl.ngot == 8, TB_JOIN_S);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(ctl.got[i].seq, (int64_t)i);
		assert_int_equal(ctl.got[i].dropped, -1);
	}
	assert_string_equal(ctl.got[5].type, "hello");
	assert_int_equal(ctl.got[5].dropped, -1);
	assert_int_equal(ctl.got[6].seq, 10);
	assert_int_equal(ctl.got[6].dropped, 4);
	assert_int_equal(ctl.got[7].seq, 11);
	assert_int_equal(ctl.got[7].dropped, -1);
	assert_int_equal(TB_STAT(&agent, dropped_full), 4);
	assert_int_equal(TB_STAT(&agent, dropped_failed), 0);

	tb_close(&agent, 1000);
	tb_close(&ctl, 1000);
	tb_cluster_free(&c);
}

static void
test_delivery_timeout(void **state)
{
	struct tb_cluster c;
	struct tb_side agent, ctl;

	(void)state;
	tb_cluster_new(&c, 1);
	assert_int_equal(rd_kafka_mock_broker_set_down(c.mc, -1), 0);
	tb_open(&agent, &c, EBB_BUS_AGENT, "h1", "agent", 100,
	    "\"message.timeout.ms\": 1000");
	for (uint64_t seq = 1; seq <= 3; seq++)
		send_report(&agent, "h1", seq, 0);
	TB_WAIT(agent.nfailed == 3, 10);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(agent.failed[i].error, -ETIMEDOUT);
		assert_int_equal(agent.failed[i].topic, EBB_BUS_REPORTS);
		assert_int_equal(agent.failed[i].tag, i + 1);
		assert_string_equal(agent.failed[i].key, "h1");
		assert_non_null(strstr(agent.failed[i].value, "\"report\""));
	}
	assert_int_equal(TB_STAT(&agent, dropped_failed), 3);
	assert_int_equal(TB_STAT(&agent, queued), 0);

	assert_int_equal(rd_kafka_mock_broker_set_up(c.mc, -1), 0);
	send_report(&agent, "h1", 4, 0);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-timeout", 1000, "");
	ctl.apply = true;
	TB_WAIT(ctl.ngot == 1, TB_JOIN_S);
	assert_int_equal(ctl.got[0].seq, 4);
	assert_int_equal(ctl.got[0].dropped, 3);
	TB_WAIT(agent.delivered == 1, 5);

	tb_close(&agent, 1000);
	tb_close(&ctl, 1000);
	tb_cluster_free(&c);
}

static void
test_permanent_error(void **state)
{
	struct tb_cluster c;
	struct tb_side ctl;
	json_t *m;

	(void)state;
	tb_cluster_new(&c, 1);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-perm", 1000, "");
	/* Let the producer get its id first: the error is for Produce. */
	m = tb_msg("decision", "h1", 0);
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, "vm7", m, 41),
	    0);
	TB_WAIT(ctl.delivered == 1, 10);

	rd_kafka_mock_push_request_errors(c.mc, 0 /* Produce */, 1,
	    RD_KAFKA_RESP_ERR_INVALID_RECORD);
	m = tb_msg("decision", "h1", 1);
	json_object_set_new(m, "action", json_string("power-off"));
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, "vm7", m, 42),
	    0);
	TB_WAIT(ctl.nfailed == 1, 10);
	assert_int_equal(ctl.failed[0].tag, 42);
	assert_int_equal(ctl.failed[0].topic, EBB_BUS_DECISIONS);
	assert_int_equal(ctl.failed[0].error, -EIO);
	assert_string_equal(ctl.failed[0].key, "vm7");
	assert_non_null(strstr(ctl.failed[0].value, "\"power-off\""));
	assert_int_equal(TB_STAT(&ctl, dropped_failed), 1);

	/* Not fatal: the next one goes through. */
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, "vm7",
	    tb_msg("decision", "h1", 2), 43), 0);
	TB_WAIT(ctl.delivered == 2, 10);
	assert_int_equal(ctl.delivered_tags, 41 + 43);
	assert_int_equal(ebb_bus_state(ctl.bus), EBB_BUS_UP);

	/*
	 * A topic-wide refusal: the message fails with -EACCES, and
	 * librdkafka holds the topic as refused until its next metadata.
	 */
	rd_kafka_mock_push_request_errors(c.mc, 0 /* Produce */, 1,
	    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_COMMANDS, NULL,
	    tb_msg("command", "h3", 3), 44), 0);
	TB_WAIT(ctl.nfailed == 2, 10);
	assert_int_equal(ctl.failed[1].tag, 44);
	assert_int_equal(ctl.failed[1].error, -EACCES);
	assert_string_equal(ctl.failed[1].key, "h3");
	assert_int_equal(TB_STAT(&ctl, dropped_failed), 2);

	tb_close(&ctl, 1000);
	tb_cluster_free(&c);
}

static void
test_fatal(void **state)
{
	struct tb_cluster c;
	struct tb_side ctl;
	double end;
	int rc = 0;

	(void)state;
	tb_cluster_new(&c, 1);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-fatal", 1000, "");
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, "vm1",
	    tb_msg("decision", "h1", 0), 1), 0);
	TB_WAIT(ctl.delivered == 1, 10);
	/* The idempotent producer cannot go on after this: librdkafka
	 * raises a fatal error. */
	rd_kafka_mock_push_request_errors(c.mc, 0 /* Produce */, 1,
	    RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, "vm1",
	    tb_msg("decision", "h1", 1), 2), 0);
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, "vm1",
	    tb_msg("decision", "h1", 2), 3), 0);
	/* tb_pump insists on 0 from ebb_bus_process: serve by hand. */
	for (size_t i = 0; i < TB_SIDES; i++)
		if (tb_sides[i] == &ctl)
			tb_sides[i] = NULL;
	end = ebb_monoclock() + 10;
	while ((ctl.nfailed < 2 || rc == 0) && ebb_monoclock() < end) {
		struct pollfd pfd = { ebb_bus_fd(ctl.bus), POLLIN, 0 };

		poll(&pfd, 1, 20);
		rc = ebb_bus_process(ctl.bus);
	}
	assert_int_equal(rc, -ENOTRECOVERABLE);
	assert_int_equal(ctl.nfailed, 2);
	assert_int_equal(ctl.failed[0].tag, 2);
	assert_int_equal(ctl.failed[1].tag, 3);
	assert_int_equal(ebb_bus_state(ctl.bus), EBB_BUS_FAILED);
	assert_int_equal(ctl.state, EBB_BUS_FAILED);
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, "vm1",
	    tb_msg("decision", "h1", 3), 4), -ENOTRECOVERABLE);
	assert_int_equal(TB_STAT(&ctl, dropped_failed), 3);
	/* Refused, never taken: not in the buffer. */
	assert_int_equal(TB_STAT(&ctl, queued), 0);
	assert_int_equal(TB_STAT(&ctl, produced), 3);
	assert_int_equal(TB_STAT(&ctl, delivered), 1);
	ebb_bus_close(ctl.bus, 100);
	for (size_t i = 0; i < ctl.nfailed; i++)
		free(ctl.failed[i].value);
	tb_cluster_free(&c);
}

static void
test_close_fails_the_rest(void **state)
{
	struct tb_cluster c;
	struct tb_side agent;

	(void)state;
	tb_cluster_new(&c, 1);
	assert_int_equal(rd_kafka_mock_broker_set_down(c.mc, -1), 0);
	tb_open(&agent, &c, EBB_BUS_AGENT, "h1", "agent", 100, "");
	for (uint64_t seq = 1; seq <= 3; seq++)
		send_report(&agent, "h1", seq, 0);
	/* tb_close would free what the callbacks saw: close by hand. */
	for (size_t i = 0; i < TB_SIDES; i++)
		if (tb_sides[i] == &agent)
			tb_sides[i] = NULL;
	ebb_bus_close(agent.bus, 200);
	assert_int_equal(agent.nfailed, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(agent.failed[i].error, -ECANCELED);
		assert_int_equal(agent.failed[i].tag, i + 1);
		free(agent.failed[i].value);
	}
	tb_cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brokers_down),
		cmocka_unit_test(test_buffer_full),
		cmocka_unit_test(test_delivery_timeout),
		cmocka_unit_test(test_permanent_error),
		cmocka_unit_test(test_fatal),
		cmocka_unit_test(test_close_fails_the_rest),
	};

	ebb_log_init("test_bus_faults", getenv("EBB_TEST_VERBOSE") ?
	    EBB_LOG_DEBUG : EBB_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
