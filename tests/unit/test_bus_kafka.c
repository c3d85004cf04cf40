/*
 * test_bus_kafka.c - the bus over Kafka (bus/ebb_bus_kafka.c) against
 * librdkafka's mock cluster in this process: the paths that work.
 *
 * Checked:
 *   - round trip: an agent's hello and report reach a controller in
 *     order, keyed by the host, with a valid header; the stats count them
 *     produced, delivered, consumed and (once applied) committed; both
 *     buses say "up"
 *   - per-host order: two agents send 600 messages for 40 hosts over 4
 *     partitions; the controller gets every one, each host's in seq order,
 *     each host's from one partition, and more than one partition is used
 *   - commands reach only their host: over 2 partitions (so hosts share
 *     one) the controller sends commands to h1..h3 and to h4, which has
 *     no agent; each agent gets exactly its own, in order, and the agents
 *     that share a partition count each other's as filtered
 *   - commit after apply: a controller that applied only the second of
 *     two reports and restarts in its group sees both again; after it
 *     applied both and restarts, it sees only what came after; applying
 *     twice is -ENOENT
 *   - what a role may not send is refused, and so is a message over
 *     librdkafka's message.max.bytes
 *
 * Faults (brokers down, full buffer, failed deliveries) are in
 * test_bus_faults.c, so that ctest runs the two side by side.
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
test_round_trip(void **state)
{
	struct tb_cluster c;
	struct tb_side agent, ctl;
	json_t *m;

	(void)state;
	tb_cluster_new(&c, 4);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-rt", 1000, "");
	ctl.apply = true;
	tb_open(&agent, &c, EBB_BUS_AGENT, "h1", "agent", 1000, "");

	m = tb_msg("hello", "h1", 0);
	json_object_set_new(m, "agent", json_string("test"));
	assert_int_equal(ebb_bus_send(agent.bus, EBB_BUS_REPORTS, NULL, m, 1),
	    0);
	assert_int_equal(ebb_bus_send(agent.bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("report", "h1", 1), 2), 0);
	TB_WAIT(ctl.ngot == 2, TB_JOIN_S);
	assert_string_equal(ctl.got[0].key, "h1");
	assert_string_equal(ctl.got[0].type, "hello");
	assert_string_equal(ctl.got[1].type, "report");
	assert_int_equal(ctl.got[1].seq, 1);
	/* Nothing was dropped, so the report carries no count. */
	assert_int_equal(ctl.got[1].dropped, -1);
	assert_int_equal(ctl.got[0].ref.topic, EBB_BUS_REPORTS);
	assert_int_equal(ctl.got[0].ref.partition, ctl.got[1].ref.partition);
	assert_int_equal(ctl.got[1].ref.offset, ctl.got[0].ref.offset + 1);

	TB_WAIT(agent.delivered == 2, 5);
	assert_int_equal(agent.delivered_tags, 3);
	TB_WAIT(TB_STAT(&ctl, committed) == 2, 5);
	assert_int_equal(TB_STAT(&agent, produced), 2);
	assert_int_equal(TB_STAT(&agent, delivered), 2);
	assert_int_equal(TB_STAT(&agent, queued), 0);
	assert_int_equal(TB_STAT(&agent, dropped_full), 0);
	assert_int_equal(TB_STAT(&agent, dropped_failed), 0);
	assert_int_equal(TB_STAT(&ctl, consumed), 2);
	assert_int_equal(ebb_bus_state(agent.bus), EBB_BUS_UP);
	assert_int_equal(ebb_bus_state(ctl.bus), EBB_BUS_UP);
	assert_int_equal(agent.state, EBB_BUS_UP);
	assert_int_equal(ctl.state, EBB_BUS_UP);
	assert_int_equal(agent.nfailed, 0);

	tb_close(&agent, 1000);
	tb_close(&ctl, 1000);
	tb_cluster_free(&c);
}

#define ORD_HOSTS	40
#define ORD_PER_HOST	15

static void
test_per_host_order(void **state)
{
	struct tb_cluster c;
	struct tb_side a[2], ctl;
	int64_t last[ORD_HOSTS];
	int32_t part[ORD_HOSTS];
	bool parts_used[4] = { false };
	int nparts = 0;
	char host[16];

	(void)state;
	tb_cluster_new(&c, 4);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-order", 1000, "");
	ctl.apply = true;
	tb_open(&a[0], &c, EBB_BUS_AGENT, "relay0", "agent", 10000, "");
	tb_open(&a[1], &c, EBB_BUS_AGENT, "relay1", "agent", 10000, "");
	/*
	 * Interleaved over hosts and the two producers, serving the buses
	 * now and then, so batches and retries mix the hosts up.
	 */
	for (int seq = 0; seq < ORD_PER_HOST; seq++) {
		for (int h = 0; h < ORD_HOSTS; h++) {
			snprintf(host, sizeof(host), "host%02d", h);
			assert_int_equal(ebb_bus_send(a[h % 2].bus,
			    EBB_BUS_REPORTS, NULL, tb_msg("report", host,
			    (uint64_t)seq), 0), 0);
		}
		tb_pump(0);
	}
	TB_WAIT(ctl.ngot == ORD_HOSTS * ORD_PER_HOST, TB_JOIN_S);
	for (int h = 0; h < ORD_HOSTS; h++) {
		last[h] = -1;
		part[h] = -1;
	}
	for (size_t i = 0; i < ctl.ngot; i++) {
		struct tb_got *g = &ctl.got[i];
		int h = atoi(g->host + 4);

		assert_string_equal(g->key, g->host);
		if (g->seq != last[h] + 1)
			fail_msg("%s: seq %lld after %lld", g->host,
			    (long long)g->seq, (long long)last[h]);
		last[h] = g->seq;
		if (part[h] == -1)
			part[h] = g->ref.partition;
		assert_int_equal(part[h], g->ref.partition);
		assert_true(g->ref.partition >= 0 && g->ref.partition < 4);
		if (!parts_used[g->ref.partition]) {
			parts_used[g->ref.partition] = true;
			nparts++;
		}
	}
	for (int h = 0; h < ORD_HOSTS; h++)
		assert_int_equal(last[h], ORD_PER_HOST - 1);
	assert_true(nparts > 1);
	TB_WAIT(a[0].delivered + a[1].delivered == ORD_HOSTS * ORD_PER_HOST, 5);

	tb_close(&a[0], 1000);
	tb_close(&a[1], 1000);
	tb_close(&ctl, 1000);
	tb_cluster_free(&c);
}

#define CMDS	8

static void
test_commands_to_their_host(void **state)
{
	static const char *const hosts[] = { "h1", "h2", "h3", "h4" };
	struct tb_cluster c;
	struct tb_side ctl, ag[3];
	uint64_t filtered = 0;

	(void)state;
	/* Two partitions for four hosts: some must share one. */
	tb_cluster_new(&c, 2);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-cmd", 1000, "");
	for (int i = 0; i < 3; i++) {
		tb_open(&ag[i], &c, EBB_BUS_AGENT, hosts[i], "agent", 1000, "");
		ag[i].apply = true;
	}
	for (int n = 0; n < CMDS; n++)
		for (size_t h = 0; h < EBB_NITEMS(hosts); h++) {
			json_t *m = tb_msg("command", hosts[h], (uint64_t)n);

			json_object_set_new(m, "cmd", json_integer(n));
			json_object_set_new(m, "op", json_string("drain"));
			assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_COMMANDS,
			    NULL, m, 0), 0);
		}
	TB_WAIT(ag[0].ngot == CMDS && ag[1].ngot == CMDS &&
	    ag[2].ngot == CMDS, TB_JOIN_S);
	/* Give strays the time to show up. */
	tb_run(0.5);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ag[i].ngot, CMDS);
		for (int n = 0; n < CMDS; n++) {
			assert_string_equal(ag[i].got[n].host, hosts[i]);
			assert_string_equal(ag[i].got[n].key, hosts[i]);
			assert_string_equal(ag[i].got[n].type, "command");
			assert_int_equal(ag[i].got[n].seq, n);
		}
		TB_WAIT(TB_STAT(&ag[i], committed) == CMDS, 5);
		filtered += TB_STAT(&ag[i], filtered);
	}
	assert_true(filtered > 0);
	/* An agent sends reports only; a controller never sends them. */
	assert_int_equal(ebb_bus_send(ag[0].bus, EBB_BUS_COMMANDS, NULL,
	    tb_msg("command", "h2", 0), 0), -EINVAL);
	assert_int_equal(ebb_bus_send(ag[0].bus, EBB_BUS_DECISIONS, NULL,
	    tb_msg("decision", "h1", 0), 0), -EINVAL);
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("report", "h1", 0), 0), -EINVAL);
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_NTOPICS, NULL,
	    tb_msg("report", "h1", 0), 0), -EINVAL);
	assert_int_equal(TB_STAT(&ctl, dropped_full), 0);

	for (int i = 0; i < 3; i++)
		tb_close(&ag[i], 1000);
	tb_close(&ctl, 1000);
	tb_cluster_free(&c);
}

static void
test_commit_after_apply(void **state)
{
	struct tb_cluster c;
	struct tb_side agent, ctl;
	struct ebb_bus_ref r0, r1;

	(void)state;
	tb_cluster_new(&c, 1);
	tb_open(&agent, &c, EBB_BUS_AGENT, "h1", "agent", 1000, "");
	assert_int_equal(ebb_bus_send(agent.bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("report", "h1", 0), 0), 0);
	assert_int_equal(ebb_bus_send(agent.bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("report", "h1", 1), 0), 0);

	/* First life: both arrive, only the second is applied. */
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-commit", 1000, "");
	TB_WAIT(ctl.ngot == 2, TB_JOIN_S);
	r0 = ctl.got[0].ref;
	r1 = ctl.got[1].ref;
	assert_int_equal(ebb_bus_applied(ctl.bus, &r1), 0);
	assert_int_equal(ebb_bus_applied(ctl.bus, &r1), -ENOENT);
	tb_run(0.3);
	/* The first one holds the partition's commit back. */
	assert_int_equal(TB_STAT(&ctl, committed), 0);
	tb_close(&ctl, 1000);

	/* Second life: both again, from the same offsets. */
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-commit", 1000, "");
	TB_WAIT(ctl.ngot == 2, TB_JOIN_S);
	assert_int_equal(ctl.got[0].ref.offset, r0.offset);
	assert_int_equal(ctl.got[1].ref.offset, r1.offset);
	assert_int_equal(ctl.got[0].seq, 0);
	assert_int_equal(ebb_bus_applied(ctl.bus, &ctl.got[1].ref), 0);
	assert_int_equal(ebb_bus_applied(ctl.bus, &ctl.got[0].ref), 0);
	TB_WAIT(TB_STAT(&ctl, committed) == 2, 5);
	tb_close(&ctl, 1000);

	/* Third life: only what came after. */
	assert_int_equal(ebb_bus_send(agent.bus, EBB_BUS_REPORTS, NULL,
	    tb_msg("report", "h1", 2), 0), 0);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-commit", 1000, "");
	ctl.apply = true;
	TB_WAIT(ctl.ngot >= 1, TB_JOIN_S);
	tb_run(0.5);
	assert_int_equal(ctl.ngot, 1);
	assert_int_equal(ctl.got[0].seq, 2);
	assert_int_equal(ctl.got[0].ref.offset, r1.offset + 1);
	tb_close(&ctl, 1000);

	tb_close(&agent, 1000);
	tb_cluster_free(&c);
}

static void
test_too_large(void **state)
{
	struct tb_cluster c;
	struct tb_side ctl;
	json_t *m;
	char *big;

	(void)state;
	tb_cluster_new(&c, 1);
	tb_open(&ctl, &c, EBB_BUS_CONTROLLER, "ctl", "ctl-big", 1000, "");
	/* Under EBB_WIRE_MAX but over librdkafka's message.max.bytes. */
	big = ebb_malloc(1000100);
	memset(big, 'x', 1000099);
	big[1000099] = '\0';
	m = tb_msg("decision", "h1", 0);
	json_object_set_new(m, "pad", json_string(big));
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, NULL, m, 0),
	    -EMSGSIZE);
	/* Over EBB_WIRE_MAX: the encoder refuses it. */
	big = ebb_realloc(big, EBB_WIRE_MAX + 1);
	memset(big, 'x', EBB_WIRE_MAX);
	big[EBB_WIRE_MAX] = '\0';
	m = tb_msg("decision", "h1", 0);
	json_object_set_new(m, "pad", json_string(big));
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, NULL, m, 0),
	    -EMSGSIZE);
	free(big);
	/* No key and no "host": nothing to key it with. */
	m = json_pack("{s:i, s:s}", "v", 1, "type", "decision");
	assert_int_equal(ebb_bus_send(ctl.bus, EBB_BUS_DECISIONS, NULL, m, 0),
	    -EINVAL);
	assert_int_equal(TB_STAT(&ctl, produced), 0);
	assert_int_equal(TB_STAT(&ctl, dropped_full), 0);
	tb_close(&ctl, 0);
	tb_cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_per_host_order),
		cmocka_unit_test(test_commands_to_their_host),
		cmocka_unit_test(test_commit_after_apply),
		cmocka_unit_test(test_too_large),
	};

	ebb_log_init("test_bus_kafka", getenv("EBB_TEST_VERBOSE") ?
	    EBB_LOG_DEBUG : EBB_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
