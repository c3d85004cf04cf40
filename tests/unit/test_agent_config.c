/*
 * test_agent_config.c - ebb-agent's configuration, agt_config_parse(),
 * against good and bad texts.
 *
 * Checked: the built-in defaults, and that "{}" keeps them; every key of
 * every section lands in its field; an unknown key at the top level and
 * in each section is refused with the section's path, the key and the
 * list of allowed keys; a value of the wrong type, out of range or not
 * one of the allowed words is refused with its key path; the cross-field
 * check of the parking parameters (pwr_park_params_check); HOST:PORT of
 * controller and metrics_listen; the cpuset actuator needs its cgroup;
 * malformed JSON and duplicate keys are reported at line:column; on any
 * error the caller's struct is left exactly as it was; the "tls" section
 * (ca, cert, key required, server_name optional) and
 * agt_config_check_tls(): with a controller, TLS or "insecure_plaintext",
 * never neither, never both; standalone, neither is needed; the "bus"
 * section and command_max_age_s, and the tcp link's keys refused on kafka.
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

#include "agt_config.h"
#include "ebb.h"
#include "pwr_park.h"

#define FILE_NAME	"cfg.json"

/*
 * A config a parse would visibly change: every field differs from what
 * any of the texts below sets, so "unchanged" cannot pass by chance.
 */
static void
sentinel(struct agt_config *c)
{
	agt_config_defaults(c);
	snprintf(c->host, sizeof(c->host), "sentinel-host");
	snprintf(c->controller, sizeof(c->controller), "10.9.8.7:1");
	c->interval_s = 77;
	c->reconnect_max_s = 7;
	snprintf(c->state_dir, sizeof(c->state_dir), "/sentinel");
	c->park.min_cores = 3;
	c->park.headroom = 0.33;
	c->actuator = AGT_ACT_HOTPLUG;
}

/* Parses text into a copy of the sentinel; asserts success. */
static void
parse_ok(const char *text, struct agt_config *out)
{
	struct ebb_err err = { "" };
	int rc;

	sentinel(out);
	rc = agt_config_parse(text, FILE_NAME, out, &err);
	if (rc != 0)
		fail_msg("parsing %s: rc %d: %s", text, rc, err.msg);
}

/*
 * Parses a bad text: -EINVAL, the struct untouched byte for byte, and a
 * message that starts with the file name and holds every one of the
 * NULL-terminated substrings.
 */
static void
expect_bad(const char *text, ...)
{
	struct agt_config c, before;
	struct ebb_err err = { "" };
	const char *want;
	va_list ap;
	int rc;

	sentinel(&c);
	memcpy(&before, &c, sizeof(c));
	rc = agt_config_parse(text, FILE_NAME, &c, &err);
	if (rc != -EINVAL)
		fail_msg("%s: rc %d, expected -EINVAL (msg \"%s\")", text, rc,
		    err.msg);
	if (memcmp(&c, &before, sizeof(c)) != 0)
		fail_msg("%s: the output struct changed on error", text);
	if (strncmp(err.msg, FILE_NAME ":", strlen(FILE_NAME ":")) != 0)
		fail_msg("%s: message does not start with the file name: "
		    "\"%s\"", text, err.msg);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(err.msg, want) == NULL) {
			va_end(ap);
			fail_msg("%s: message \"%s\" lacks \"%s\"", text,
			    err.msg, want);
		}
	}
	va_end(ap);
}

/* ---- the bus ----------------------------------------------------------- */

static void
test_bus(void **state)
{
	struct ebb_err err = { "" };
	struct agt_config c;

	(void)state;
	agt_config_defaults(&c);
	assert_int_equal(c.bus.kind, EBB_BUS_TCP);
	assert_true(c.command_max_age_s == 60);

	parse_ok("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k1:9092\", "
	    "\"buffer_messages\": 5}, \"command_max_age_s\": 12.5}", &c);
	assert_int_equal(c.bus.kind, EBB_BUS_KAFKA);
	assert_string_equal(c.bus.brokers, "k1:9092");
	assert_int_equal(c.bus.buffer_messages, 5);
	assert_true(c.command_max_age_s == 12.5);
	/* The brokers' TLS is librdkafka's: nothing of ours to require. */
	c.tls.ca[0] = '\0';
	c.insecure_plaintext = false;
	assert_int_equal(agt_config_check_tls(&c, FILE_NAME, &err), 0);

	/* What only the tcp link reads is refused on kafka, and back. */
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\"}, "
	    "\"controller\": \"ctl:7400\"}", "controller: only for the tcp "
	    "bus", "bus.properties", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\"}, "
	    "\"tls\": {\"ca\": \"/a\", \"cert\": \"/b\", \"key\": \"/c\"}}",
	    "tls: only for the tcp bus", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\"}, "
	    "\"reconnect_max_s\": 3}", "reconnect_max_s", NULL);
	expect_bad("{\"command_max_age_s\": 30}", "command_max_age_s: only "
	    "for", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\"}, "
	    "\"command_max_age_s\": 0}", "command_max_age_s", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\"}}", "bus.brokers", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\", "
	    "\"properties\": {\"group.id\": \"x\"}}}", "bus.properties.group.id",
	    "not allowed", NULL);
	expect_bad("{\"bus\": 3}", "bus", NULL);
}

/* ---- defaults and good texts ------------------------------------------ */

static void
test_defaults(void **state)
{
	struct pwr_park_params pd;
	struct agt_config c;

	(void)state;
	agt_config_defaults(&c);
	pwr_park_params_default(&pd);
	assert_true(c.host[0] != '\0');
	assert_true(strlen(c.host) <= EBB_HOST_MAX);
	assert_string_equal(c.controller, "");
	assert_true(c.interval_s == 5);
	assert_true(c.reconnect_max_s == 30);
	assert_string_equal(c.state_dir, "/var/lib/ebb-agent");
	assert_string_equal(c.metrics_listen, "");
	assert_string_equal(c.hypervisor, "none");
	assert_string_equal(c.vmm_path, "ebb-vmm");
	assert_true(c.park_enabled);
	assert_int_equal(c.actuator, AGT_ACT_AFFINITY);
	assert_string_equal(c.cpuset_path, "");
	assert_true(c.lower_max_freq);
	assert_memory_equal(&c.park, &pd, sizeof(pd));
	assert_string_equal(c.power_driver, "none");
	assert_false(c.has_power_model);
	/* The defaults themselves pass the parking check. */
	assert_int_equal(pwr_park_params_check(&c.park, NULL), 0);
}

static void
test_empty_object_keeps_callers_values(void **state)
{
	struct agt_config c, before;
	struct ebb_err err = { "" };

	(void)state;
	/* agt_main fills the defaults, then parses over them. */
	agt_config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(agt_config_parse("{}", FILE_NAME, &c, &err), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	/* Whitespace around the object is fine. */
	assert_int_equal(agt_config_parse(" \n\t{ }\n\n", FILE_NAME, &c,
	    &err), 0);
	assert_memory_equal(&c, &before, sizeof(c));

	/* Keys not given keep whatever the caller had, not the defaults. */
	sentinel(&c);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(agt_config_parse("{\"parking\": {}, \"power\": {},"
	    " \"hypervisor\": {}}", FILE_NAME, &c, &err), 0);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void
test_every_key(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"host\": \"node-7.example.org\",\n"
	    "  \"controller\": \"[::1]:7400\",\n"
	    "  \"interval_s\": 2.5,\n"
	    "  \"reconnect_max_s\": 12,\n"
	    "  \"state_dir\": \"/tmp/ebb-state\",\n"
	    "  \"metrics_listen\": \"0.0.0.0:9464\",\n"
	    "  \"hypervisor\": { \"driver\": \"ebb-vmm\",\n"
	    "                  \"vmm\": \"/usr/libexec/ebb-vmm\" },\n"
	    "  \"parking\": {\n"
	    "    \"enabled\": false,\n"
	    "    \"actuator\": \"cpuset\",\n"
	    "    \"cpuset\": \"machine.slice/ebb\",\n"
	    "    \"lower_max_freq\": false,\n"
	    "    \"min_cores\": 2,\n"
	    "    \"max_cores\": 8,\n"
	    "    \"increase_threshold\": 0.7,\n"
	    "    \"decrease_threshold\": 0.1,\n"
	    "    \"increase_time\": 0,\n"
	    "    \"decrease_time\": 45.5,\n"
	    "    \"headroom\": 0.5\n"
	    "  },\n"
	    "  \"power\": {\n"
	    "    \"driver\": \"ipmi\",\n"
	    "    \"model_w\": [50, 60, 70, 80, 90, 100, 110, 120, 130, 140,"
	    " 150.5]\n"
	    "  }\n"
	    "}\n";
	struct agt_config c;

	(void)state;
	parse_ok(text, &c);
	assert_string_equal(c.host, "node-7.example.org");
	assert_string_equal(c.controller, "[::1]:7400");
	assert_true(c.interval_s == 2.5);
	assert_true(c.reconnect_max_s == 12);
	assert_string_equal(c.state_dir, "/tmp/ebb-state");
	assert_string_equal(c.metrics_listen, "0.0.0.0:9464");
	assert_string_equal(c.hypervisor, "ebb-vmm");
	assert_string_equal(c.vmm_path, "/usr/libexec/ebb-vmm");
	assert_false(c.park_enabled);
	assert_int_equal(c.actuator, AGT_ACT_CPUSET);
	assert_string_equal(agt_actuator_name(c.actuator), "cpuset");
	assert_string_equal(c.cpuset_path, "machine.slice/ebb");
	assert_false(c.lower_max_freq);
	assert_int_equal(c.park.min_cores, 2);
	assert_int_equal(c.park.max_cores, 8);
	assert_true(c.park.increase_threshold == 0.7);
	assert_true(c.park.decrease_threshold == 0.1);
	assert_true(c.park.increase_time == 0);
	assert_true(c.park.decrease_time == 45.5);
	assert_true(c.park.headroom == 0.5);
	assert_string_equal(c.power_driver, "ipmi");
	assert_true(c.has_power_model);
	for (int i = 0; i < 10; i++)
		assert_true(c.power_model.w[i] == 50 + 10 * i);
	assert_true(c.power_model.w[10] == 150.5);
}

static void
test_words(void **state)
{
	static const struct {
		const char		*act;
		enum agt_actuator	 want;
	} acts[] = {
		{ "affinity", AGT_ACT_AFFINITY },
		{ "hotplug", AGT_ACT_HOTPLUG },
		{ "none", AGT_ACT_NONE },
	};
	static const char *const drivers[] = { "none", "ipmi", "wol",
		"command", "demo" };
	struct agt_config c;
	char text[256];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(acts); i++) {
		snprintf(text, sizeof(text), "{\"parking\": {\"actuator\": "
		    "\"%s\"}}", acts[i].act);
		parse_ok(text, &c);
		assert_int_equal(c.actuator, acts[i].want);
		assert_string_equal(agt_actuator_name(c.actuator),
		    acts[i].act);
	}
	for (size_t i = 0; i < EBB_NITEMS(drivers); i++) {
		snprintf(text, sizeof(text), "{\"power\": {\"driver\": "
		    "\"%s\"}}", drivers[i]);
		parse_ok(text, &c);
		assert_string_equal(c.power_driver, drivers[i]);
		assert_false(c.has_power_model);
	}
	parse_ok("{\"hypervisor\": {\"driver\": \"none\"}}", &c);
	assert_string_equal(c.hypervisor, "none");
	/* "" means standalone / no metrics endpoint. */
	parse_ok("{\"controller\": \"\", \"metrics_listen\": \"\"}", &c);
	assert_string_equal(c.controller, "");
	assert_string_equal(c.metrics_listen, "");
	parse_ok("{\"controller\": \"ctl.example.org:7400\"}", &c);
	assert_string_equal(c.controller, "ctl.example.org:7400");
	parse_ok("{\"controller\": \"127.0.0.1:80\", \"metrics_listen\": "
	    "\"[::]:9464\"}", &c);
	assert_string_equal(c.metrics_listen, "[::]:9464");
	assert_string_equal(agt_actuator_name((enum agt_actuator)99),
	    "invalid");
}

static void
test_boundaries_accepted(void **state)
{
	struct agt_config c;
	char text[512], host[EBB_HOST_MAX + 1];

	(void)state;
	parse_ok("{\"interval_s\": 0.1, \"reconnect_max_s\": 3600}", &c);
	assert_true(c.interval_s == 0.1);
	assert_true(c.reconnect_max_s == 3600);
	parse_ok("{\"interval_s\": 3600, \"reconnect_max_s\": 0.1}", &c);
	assert_true(c.interval_s == 3600);
	/* An integer where a number is allowed. */
	parse_ok("{\"interval_s\": 1}", &c);
	assert_true(c.interval_s == 1);
	parse_ok("{\"parking\": {\"increase_threshold\": 1, "
	    "\"decrease_threshold\": 0, \"increase_time\": 0, "
	    "\"decrease_time\": 86400, \"headroom\": 10}}", &c);
	assert_true(c.park.increase_threshold == 1);
	assert_true(c.park.decrease_threshold == 0);
	assert_true(c.park.decrease_time == 86400);
	assert_true(c.park.headroom == 10);
	parse_ok("{\"parking\": {\"increase_time\": 3600, \"headroom\": 0}}",
	    &c);
	assert_true(c.park.increase_time == 3600);
	parse_ok("{\"parking\": {\"min_cores\": 1024, \"max_cores\": 0}}", &c);
	assert_int_equal(c.park.min_cores, 1024);
	assert_int_equal(c.park.max_cores, 0);
	parse_ok("{\"parking\": {\"min_cores\": 4, \"max_cores\": 4}}", &c);
	assert_int_equal(c.park.max_cores, 4);
	parse_ok("{\"power\": {\"model_w\": [0,0,0,0,0,0,0,0,0,0,1e6]}}", &c);
	assert_true(c.power_model.w[10] == 1e6);

	/* The longest host name: EBB_HOST_MAX bytes. */
	memset(host, 'h', EBB_HOST_MAX);
	host[EBB_HOST_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"host\": \"%s\"}", host);
	parse_ok(text, &c);
	assert_string_equal(c.host, host);
	/* Non-ASCII is UTF-8 bytes. */
	parse_ok("{\"host\": \"h\\u00e9\"}", &c);
	assert_string_equal(c.host, "h\xc3\xa9");
}

static void
test_example_file(void **state)
{
	const char *src = getenv("EBB_SRC");
	struct agt_config c;
	struct ebb_err err = { "" };
	char path[4096], *text;

	(void)state;
	if (src == NULL) {
		print_message("EBB_SRC is not set: examples/agent.json not "
		    "checked\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/examples/agent.json", src);
	if (ebb_read_file(path, &text, NULL, &err) != 0)
		fail_msg("%s", err.msg);
	agt_config_defaults(&c);
	if (agt_config_parse(text, path, &c, &err) != 0) {
		free(text);
		fail_msg("%s", err.msg);
	}
	free(text);
	assert_string_equal(c.host, "host1");
	assert_string_equal(c.controller, "127.0.0.1:7400");
	assert_string_equal(c.metrics_listen, "127.0.0.1:9464");
	assert_int_equal(c.actuator, AGT_ACT_AFFINITY);
	assert_true(c.park.headroom == 0.25);
	assert_true(c.has_power_model);
	assert_true(c.power_model.w[10] == 117);
	assert_string_equal(c.tls.ca, "/etc/ebb/ca.crt");
	assert_string_equal(c.tls.cert, "/etc/ebb/host1.crt");
	assert_string_equal(c.tls.key, "/etc/ebb/host1.key");
	assert_false(c.insecure_plaintext);
	assert_int_equal(agt_config_check_tls(&c, path, &err), 0);
}

/* ---- TLS to the controller ---------------------------------------------- */

static void
test_tls(void **state)
{
	struct agt_config c;
	struct ebb_err err = { "" };

	(void)state;
	/* Standalone (the built-in configuration) needs no TLS. */
	agt_config_defaults(&c);
	assert_string_equal(c.tls.ca, "");
	assert_int_equal(agt_config_check_tls(&c, FILE_NAME, &err), 0);

	/* A controller without TLS or insecure_plaintext: refused. */
	parse_ok("{\"controller\": \"ctl:7400\"}", &c);
	assert_int_equal(agt_config_check_tls(&c, FILE_NAME, &err), -EINVAL);
	assert_non_null(strstr(err.msg, FILE_NAME ": no \"tls\" section"));
	assert_non_null(strstr(err.msg, "\"insecure_plaintext\": true"));

	parse_ok("{\"controller\": \"ctl:7400\", \"tls\": {\"ca\": \"/e/ca\","
	    " \"cert\": \"/e/h.crt\", \"key\": \"/e/h.key\", "
	    "\"server_name\": \"ctl.example\"}}", &c);
	assert_string_equal(c.tls.ca, "/e/ca");
	assert_string_equal(c.tls.cert, "/e/h.crt");
	assert_string_equal(c.tls.key, "/e/h.key");
	assert_string_equal(c.tls.server_name, "ctl.example");
	assert_int_equal(agt_config_check_tls(&c, FILE_NAME, &err), 0);

	parse_ok("{\"controller\": \"ctl:7400\", \"insecure_plaintext\": "
	    "true}", &c);
	assert_true(c.insecure_plaintext);
	assert_int_equal(agt_config_check_tls(&c, FILE_NAME, &err), 0);

	parse_ok("{\"controller\": \"ctl:7400\", \"insecure_plaintext\": "
	    "true, \"tls\": {\"ca\": \"/a\", \"cert\": \"/b\", \"key\": "
	    "\"/c\"}}", &c);
	assert_int_equal(agt_config_check_tls(&c, FILE_NAME, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "exclude each other"));

	expect_bad("{\"tls\": {\"ca\": \"/a\", \"key\": \"/c\"}}", "tls",
	    "needs \"ca\", \"cert\" and \"key\"", NULL);
	expect_bad("{\"tls\": {\"ca\": \"/a\", \"cert\": \"/b\", \"key\": "
	    "\"/c\", \"sni\": \"x\"}}", "tls: unknown key \"sni\"",
	    "allowed: ca, cert, key, crl, server_name", NULL);
	expect_bad("{\"tls\": [1]}", "tls", NULL);
	expect_bad("{\"tls\": {\"ca\": \"/a\", \"cert\": \"/b\", \"key\": "
	    "\"/c\", \"server_name\": \"\"}}", "tls.server_name: must not "
	    "be empty", NULL);
	expect_bad("{\"insecure_plaintext\": \"yes\"}", "insecure_plaintext",
	    "found a string", NULL);
}

/* ---- bad texts ------------------------------------------------------------ */

static void
test_unknown_keys(void **state)
{
	(void)state;
	expect_bad("{\"hots\": \"x\"}", "(top level)", "unknown key \"hots\"",
	    "allowed: host, controller, interval_s, reconnect_max_s, "
	    "state_dir, metrics_listen, hypervisor, parking, power", NULL);
	/* Case matters. */
	expect_bad("{\"Host\": \"x\"}", "(top level)", "\"Host\"", NULL);
	expect_bad("{\"hypervisor\": {\"drvier\": \"none\"}}",
	    FILE_NAME ": hypervisor: unknown key \"drvier\"",
	    "allowed: driver, vmm", NULL);
	expect_bad("{\"parking\": {\"treshold\": 0.5}}",
	    FILE_NAME ": parking: unknown key \"treshold\"",
	    "allowed: enabled, actuator, cpuset, lower_max_freq, min_cores, "
	    "max_cores, increase_threshold, decrease_threshold, "
	    "increase_time, decrease_time, headroom", NULL);
	expect_bad("{\"power\": {\"model\": []}}",
	    FILE_NAME ": power: unknown key \"model\"",
	    "allowed: driver, model_w", NULL);
	/* An unknown key is refused even beside good ones. */
	expect_bad("{\"host\": \"a\", \"interval_s\": 1, \"extra\": 1}",
	    "\"extra\"", NULL);
}

static void
test_wrong_types(void **state)
{
	static const struct {
		const char *text, *path, *found;
	} cases[] = {
		{ "{\"host\": 1}", "host", "found a number, allowed a string" },
		{ "{\"controller\": true}", "controller", "found a boolean" },
		{ "{\"interval_s\": \"5\"}", "interval_s",
		    "found a string, allowed a number" },
		{ "{\"reconnect_max_s\": null}", "reconnect_max_s",
		    "found null" },
		{ "{\"state_dir\": []}", "state_dir", "found an array" },
		{ "{\"metrics_listen\": {}}", "metrics_listen",
		    "found an object" },
		{ "{\"hypervisor\": \"none\"}", "hypervisor",
		    "found a string, allowed an object" },
		{ "{\"hypervisor\": {\"driver\": 1}}", "hypervisor.driver",
		    "found a number" },
		{ "{\"hypervisor\": {\"vmm\": false}}", "hypervisor.vmm",
		    "found a boolean" },
		{ "{\"parking\": []}", "parking",
		    "found an array, allowed an object" },
		{ "{\"parking\": {\"enabled\": \"yes\"}}", "parking.enabled",
		    "found a string, allowed true or false" },
		{ "{\"parking\": {\"enabled\": 1}}", "parking.enabled",
		    "found a number, allowed true or false" },
		{ "{\"parking\": {\"actuator\": 1}}", "parking.actuator",
		    "found a number" },
		{ "{\"parking\": {\"cpuset\": 1}}", "parking.cpuset",
		    "found a number" },
		{ "{\"parking\": {\"lower_max_freq\": null}}",
		    "parking.lower_max_freq", "found null" },
		{ "{\"parking\": {\"min_cores\": 1.5}}", "parking.min_cores",
		    "allowed an integer" },
		{ "{\"parking\": {\"min_cores\": 2.0}}", "parking.min_cores",
		    "allowed an integer" },
		{ "{\"parking\": {\"max_cores\": \"4\"}}", "parking.max_cores",
		    "found a string, allowed an integer" },
		{ "{\"parking\": {\"increase_threshold\": \"0.6\"}}",
		    "parking.increase_threshold", "found a string" },
		{ "{\"parking\": {\"decrease_threshold\": true}}",
		    "parking.decrease_threshold", "found a boolean" },
		{ "{\"parking\": {\"increase_time\": null}}",
		    "parking.increase_time", "found null" },
		{ "{\"parking\": {\"decrease_time\": {}}}",
		    "parking.decrease_time", "found an object" },
		{ "{\"parking\": {\"headroom\": [0.7]}}", "parking.headroom",
		    "found an array" },
		{ "{\"power\": 1}", "power", "found a number, allowed an "
		    "object" },
		{ "{\"power\": {\"driver\": []}}", "power.driver",
		    "found an array" },
		{ "{\"power\": {\"model_w\": \"x\"}}", "power.model_w",
		    "array of 11 watts" },
		{ "{\"power\": {\"model_w\": [1,2,3]}}", "power.model_w",
		    "array of 11 watts" },
		{ "{\"power\": {\"model_w\": [1,2,3,4,5,6,7,8,9,10,11,12]}}",
		    "power.model_w", "array of 11 watts" },
		{ "{\"power\": {\"model_w\": [1,2,3,\"4\",5,6,7,8,9,10,11]}}",
		    "power.model_w", "element 3" },
		{ "{\"power\": {\"model_w\": [1,2,3,4,5,6,7,8,9,10,null]}}",
		    "power.model_w", "element 10" },
	};
	char path[128];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(cases); i++) {
		snprintf(path, sizeof(path), FILE_NAME ": %s: ", cases[i].path);
		expect_bad(cases[i].text, path, cases[i].found, NULL);
	}
}

static void
test_bad_words_and_strings(void **state)
{
	char text[512], host[EBB_HOST_MAX + 2];

	(void)state;
	expect_bad("{\"hypervisor\": {\"driver\": \"kvm\"}}",
	    FILE_NAME ": hypervisor.driver: found \"kvm\"",
	    "ebb-vmm, none", NULL);
	expect_bad("{\"parking\": {\"actuator\": \"taskset\"}}",
	    FILE_NAME ": parking.actuator: found \"taskset\"",
	    "affinity, cpuset, hotplug, none", NULL);
	/* Words are exact: no case folding. */
	expect_bad("{\"parking\": {\"actuator\": \"None\"}}",
	    "parking.actuator", NULL);
	expect_bad("{\"power\": {\"driver\": \"acpi\"}}",
	    FILE_NAME ": power.driver: found \"acpi\"",
	    "none, ipmi, wol, command, demo", NULL);

	/* Strings that must not be empty. */
	expect_bad("{\"host\": \"\"}", FILE_NAME ": host: must not be empty",
	    NULL);
	expect_bad("{\"state_dir\": \"\"}", "state_dir: must not be empty",
	    NULL);
	expect_bad("{\"hypervisor\": {\"driver\": \"\"}}",
	    "hypervisor.driver: must not be empty", NULL);
	expect_bad("{\"hypervisor\": {\"vmm\": \"\"}}",
	    "hypervisor.vmm: must not be empty", NULL);
	expect_bad("{\"parking\": {\"actuator\": \"\"}}",
	    "parking.actuator: must not be empty", NULL);
	expect_bad("{\"parking\": {\"actuator\": \"cpuset\", \"cpuset\": "
	    "\"\"}}", "parking.cpuset", NULL);
	expect_bad("{\"power\": {\"driver\": \"\"}}",
	    "power.driver: must not be empty", NULL);

	/* One byte over the longest host name. */
	memset(host, 'h', EBB_HOST_MAX + 1);
	host[EBB_HOST_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "{\"host\": \"%s\"}", host);
	expect_bad(text, FILE_NAME ": host: ", "at most 255 bytes", NULL);
	/* jansson refuses \u0000 itself: the string never gets cut. */
	expect_bad("{\"host\": \"a\\u0000b\"}", FILE_NAME ":1:",
	    "malformed JSON", NULL);
}

static void
test_out_of_range(void **state)
{
	static const struct {
		const char *text, *path, *why;
	} cases[] = {
		{ "{\"interval_s\": 0}", "interval_s",
		    "found 0, allowed a number from 0.1 to 3600" },
		{ "{\"interval_s\": 0.05}", "interval_s", "found 0.05" },
		{ "{\"interval_s\": -1}", "interval_s", "found -1" },
		{ "{\"interval_s\": 3600.5}", "interval_s", "found 3600.5" },
		{ "{\"reconnect_max_s\": 0}", "reconnect_max_s",
		    "allowed a number from 0.1 to 3600" },
		{ "{\"parking\": {\"min_cores\": 0}}", "parking.min_cores",
		    "out of range, allowed an integer from 1 to 1024" },
		{ "{\"parking\": {\"min_cores\": 1025}}", "parking.min_cores",
		    "from 1 to 1024" },
		{ "{\"parking\": {\"max_cores\": -1}}", "parking.max_cores",
		    "from 0 to 1024" },
		{ "{\"parking\": {\"max_cores\": 99999999999}}",
		    "parking.max_cores", "out of range" },
		{ "{\"parking\": {\"increase_threshold\": 1.5}}",
		    "parking.increase_threshold", "from 0 to 1" },
		{ "{\"parking\": {\"decrease_threshold\": -0.1}}",
		    "parking.decrease_threshold", "from 0 to 1" },
		{ "{\"parking\": {\"increase_time\": 3601}}",
		    "parking.increase_time", "from 0 to 3600" },
		{ "{\"parking\": {\"decrease_time\": -1}}",
		    "parking.decrease_time", "from 0 to 86400" },
		{ "{\"parking\": {\"headroom\": 11}}", "parking.headroom",
		    "from 0 to 10" },
		{ "{\"power\": {\"model_w\": [1,2,3,4,-5,6,7,8,9,10,11]}}",
		    "power.model_w", "element 4" },
		{ "{\"power\": {\"model_w\": [1,2,3,4,5,6,7,8,9,10,2e6]}}",
		    "power.model_w", "element 10" },
	};
	char path[128];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(cases); i++) {
		snprintf(path, sizeof(path), FILE_NAME ": %s: ", cases[i].path);
		expect_bad(cases[i].text, path, cases[i].why, NULL);
	}
}

static void
test_parking_cross_check(void **state)
{
	(void)state;
	/* The band between the thresholds must not be empty. */
	expect_bad("{\"parking\": {\"increase_threshold\": 0.6, "
	    "\"decrease_threshold\": 0.6}}", FILE_NAME ": parking: ",
	    "decrease_threshold 0.6 must be below increase_threshold 0.6",
	    NULL);
	expect_bad("{\"parking\": {\"increase_threshold\": 0.4, "
	    "\"decrease_threshold\": 0.5}}", FILE_NAME ": parking: ",
	    "decrease_threshold 0.5 must be below increase_threshold 0.4",
	    NULL);
	/* Against the default increase_threshold (0.6). */
	expect_bad("{\"parking\": {\"decrease_threshold\": 0.7}}",
	    FILE_NAME ": parking: ", "must be below increase_threshold",
	    NULL);
	expect_bad("{\"parking\": {\"increase_threshold\": 0.1}}",
	    FILE_NAME ": parking: ", "must be below increase_threshold",
	    NULL);
	expect_bad("{\"parking\": {\"min_cores\": 4, \"max_cores\": 2}}",
	    FILE_NAME ": parking: ", "max_cores 2 is below min_cores 4",
	    NULL);
	/* Even with parking off: the values are still nonsense. */
	expect_bad("{\"parking\": {\"enabled\": false, \"increase_threshold\":"
	    " 0.2, \"decrease_threshold\": 0.2}}", FILE_NAME ": parking: ",
	    NULL);
}

static void
test_addresses(void **state)
{
	static const char *const bad[] = { "host:", ":80", "h:99999",
		"noport", "[::1]7400", "[::1", "h:-1", "h:80x", "h:0x50" };
	char text[256], want[128];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		snprintf(text, sizeof(text), "{\"controller\": \"%s\"}", bad[i]);
		snprintf(want, sizeof(want), FILE_NAME ": controller: found "
		    "\"%s\", allowed HOST:PORT", bad[i]);
		expect_bad(text, want, NULL);
		snprintf(text, sizeof(text), "{\"metrics_listen\": \"%s\"}",
		    bad[i]);
		snprintf(want, sizeof(want), FILE_NAME ": metrics_listen: "
		    "found \"%s\", allowed HOST:PORT", bad[i]);
		expect_bad(text, want, NULL);
	}
}

static void
test_cpuset_needs_cgroup(void **state)
{
	struct agt_config c;

	(void)state;
	expect_bad("{\"parking\": {\"actuator\": \"cpuset\"}}",
	    FILE_NAME ": parking.cpuset: ", "cpuset actuator needs", NULL);
	parse_ok("{\"parking\": {\"actuator\": \"cpuset\", \"cpuset\": "
	    "\"ebb\"}}", &c);
	assert_int_equal(c.actuator, AGT_ACT_CPUSET);
	assert_string_equal(c.cpuset_path, "ebb");
	/* A cgroup name alone does not switch the actuator. */
	parse_ok("{\"parking\": {\"cpuset\": \"ebb\"}}", &c);
	assert_int_equal(c.actuator, AGT_ACT_HOTPLUG);	/* the sentinel's */
	assert_string_equal(c.cpuset_path, "ebb");
}

static void
test_malformed_json(void **state)
{
	(void)state;
	/* The second comma of line 3 is at column 21. */
	expect_bad("{\n  \"host\": \"h\",\n  \"interval_s\": 0.2,,\n}\n",
	    FILE_NAME ":3:21: malformed JSON", NULL);
	expect_bad("{\n  \"host\": \"h\"\n", FILE_NAME ":3:",
	    "malformed JSON", NULL);
	expect_bad("", FILE_NAME ":1:0: malformed JSON", NULL);
	expect_bad("   \n", FILE_NAME ":", "malformed JSON", NULL);
	expect_bad("{\"host\": 'h'}", FILE_NAME ":1:", "malformed JSON",
	    NULL);
	expect_bad("{} {}", FILE_NAME ":1:", "malformed JSON", NULL);
	expect_bad("{\"interval_s\": 1e999}", FILE_NAME ":1:",
	    "malformed JSON", NULL);
	/* Not an object at the top. */
	expect_bad("[]", FILE_NAME ": (top level): found an array, allowed "
	    "an object", NULL);
	expect_bad("[{\"host\": \"h\"}]", FILE_NAME ": (top level): found "
	    "an array", NULL);
	/* A bare scalar is not even a JSON text to jansson's decoder. */
	expect_bad("\"host\"", FILE_NAME ":1:", "malformed JSON", NULL);
	expect_bad("null", FILE_NAME ":1:", "malformed JSON", NULL);
}

static void
test_duplicate_keys(void **state)
{
	(void)state;
	expect_bad("{\"host\": \"a\",\n \"host\": \"b\"}", FILE_NAME ":2:",
	    "malformed JSON", "duplicate", NULL);
	expect_bad("{\"parking\": {\"enabled\": true, \"enabled\": true}}",
	    FILE_NAME ":1:", "duplicate", NULL);
	expect_bad("{\"power\": {}, \"power\": {}}", "duplicate", NULL);
}

/*
 * Errors found late - after many keys were read, in the last section or
 * in the cross-field check - still leave the caller's struct alone.
 */
static void
test_error_leaves_struct_unchanged(void **state)
{
	(void)state;
	expect_bad("{\"host\": \"new\", \"controller\": \"127.0.0.1:1\", "
	    "\"interval_s\": 1, \"parking\": {\"actuator\": \"none\", "
	    "\"min_cores\": 1}, \"power\": {\"driver\": \"bogus\"}}",
	    "power.driver", NULL);
	expect_bad("{\"host\": \"new\", \"interval_s\": 1, \"parking\": "
	    "{\"headroom\": 1, \"decrease_threshold\": 0.9}}",
	    "parking: ", NULL);
	expect_bad("{\"host\": \"new\", \"power\": {\"model_w\": "
	    "[1,2,3,4,5,6,7,8,9,10,\"x\"]}}", "power.model_w", NULL);
	expect_bad("{\"host\": \"new\", \"hypervisor\": {\"driver\": "
	    "\"ebb-vmm\", \"vmm\": 3}}", "hypervisor.vmm", NULL);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_object_keeps_callers_values),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_boundaries_accepted),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_bus),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_words_and_strings),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_parking_cross_check),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_cpuset_needs_cgroup),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_error_leaves_struct_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
