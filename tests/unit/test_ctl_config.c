/*
 * test_ctl_config.c - ebb-controller's configuration, ctl_config_parse()
 * and ctl_config_in_window(), against good and bad texts.
 *
 * Checked: the built-in defaults, and that "{}" keeps them; every key of
 * every section (top level, window, limits, default_host, hosts[i],
 * hosts[i].power) lands in its field; hosts inherit default_host and may
 * override it; an unknown key at each level is refused with that level's
 * path, the key and the allowed keys; wrong types and out-of-range numbers
 * (both sides of every bound) are refused with the key path; HOST:PORT of
 * listen and http ("" turns the API off); window HH:MM, including a window
 * across midnight and ctl_config_in_window() at its edges; a host without
 * a name, an empty name, a name listed twice; each power driver's required
 * fields (ipmi: bmc, user, password_file; wol: a valid mac and broadcast;
 * command and demo: on and off); malformed JSON and duplicate keys; on any
 * error the caller's struct (and a host list from an earlier parse) is left
 * exactly as it was; the "tls" section (ca, cert, key, all required; no
 * server_name) and ctl_config_check_tls(): TLS or "insecure_plaintext",
 * never neither (the built-in defaults included), never both; the "bus"
 * section with "name", "standby" and "lease_s" (kafka only), and the tcp
 * keys refused on kafka; "unlisted_hosts" and its default, which follows
 * whether hosts are listed; and examples/controller.json ($EBB_SRC) parses,
 * with TLS.
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

#include "ctl_config.h"
#include "ctl_power.h"
#include "ebb.h"

#define FILE_NAME	"ctl.json"

/* Parses text over the defaults; asserts success.  Free with _free. */
static void
parse_ok(const char *text, struct ctl_config *out)
{
	struct ebb_err err = { "" };
	int rc;

	ctl_config_defaults(out);
	rc = ctl_config_parse(text, FILE_NAME, out, &err);
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
	struct ctl_config c, before;
	struct ebb_err err = { "" };
	const char *want;
	va_list ap;
	int rc;

	ctl_config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	rc = ctl_config_parse(text, FILE_NAME, &c, &err);
	if (rc != -EINVAL) {
		if (rc == 0)
			ctl_config_free(&c);
		fail_msg("%s: rc %d, expected -EINVAL (msg \"%s\")", text, rc,
		    err.msg);
	}
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

/* "{"hosts": [{"name": "h", "power": POWER}]}" */
static void
power_text(char *buf, size_t len, const char *power)
{
	snprintf(buf, len, "{\"hosts\": [{\"name\": \"h\", \"power\": %s}]}",
	    power);
}

static void
power_bad(const char *power, const char *want)
{
	char text[2048];

	power_text(text, sizeof(text), power);
	expect_bad(text, "hosts[0].power", want, NULL);
}

static void
power_ok(const char *power, struct ctl_config *c)
{
	char text[2048];

	power_text(text, sizeof(text), power);
	parse_ok(text, c);
	assert_int_equal(c->nhosts, 1);
}

/* ---- defaults and good texts ------------------------------------------- */

static void
test_defaults(void **state)
{
	static const double curve[11] = { 93.7, 97, 101, 105, 110, 116, 121,
		125, 129, 133, 135 };
	struct ctl_config c;

	(void)state;
	ctl_config_defaults(&c);
	assert_string_equal(c.listen, "0.0.0.0:7400");
	assert_string_equal(c.http, "127.0.0.1:7401");
	assert_string_equal(c.token_file, "");
	assert_string_equal(c.policy, "");
	assert_string_equal(c.journal, "/var/lib/ebb/journal.db");
	assert_true(c.interval_s == 10);
	assert_true(c.unknown_after_s == 30);
	assert_true(c.boot_timeout_s == 300);
	assert_false(c.dry_run);
	assert_int_equal(c.min_hosts_on, 1);
	assert_true(c.window_start == 0 && c.window_end == 0);
	assert_int_equal(c.mig_total, 8);
	assert_int_equal(c.mig_per_host, 2);
	assert_true(c.vm_cooldown_s == 600);
	assert_true(c.host_cooldown_s == 1800);
	for (int i = 0; i < 11; i++)
		assert_true(c.default_power_w.w[i] == curve[i]);
	assert_true(c.default_pe_mips == 2660);
	assert_int_equal(c.nhosts, 0);
	assert_null(c.hosts);
	/* No host listed: hosts are discovered by hello. */
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_ACCEPT);
	/* No window: power actions at any hour. */
	assert_true(ctl_config_in_window(&c, 0));
	assert_true(ctl_config_in_window(&c, 12.5));
	assert_true(ctl_config_in_window(&c, 23.99));
	ctl_config_free(&c);
	ctl_config_free(&c);	/* twice is harmless */
}

static void
test_empty_object_keeps_defaults(void **state)
{
	struct ctl_config c, before;
	struct ebb_err err = { "" };

	(void)state;
	ctl_config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(ctl_config_parse("{}", FILE_NAME, &c, &err), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(ctl_config_parse("{\"hosts\": []}", FILE_NAME, &c,
	    &err), 0);
	assert_int_equal(c.nhosts, 0);
	ctl_config_free(&c);
}

static void
test_every_key(void **state)
{
	struct ctl_config c;
	const struct ctl_host_conf *h;

	(void)state;
	parse_ok("{"
	    "\"listen\": \"127.0.0.1:17400\","
	    "\"http\": \"[::1]:17401\","
	    "\"token_file\": \"/tmp/tok\","
	    "\"policy\": \"/tmp/pol.json\","
	    "\"journal\": \"/tmp/j.db\","
	    "\"interval_s\": 2.5,"
	    "\"unknown_after_s\": 7,"
	    "\"boot_timeout_s\": 99,"
	    "\"dry_run\": true,"
	    "\"min_hosts_on\": 3,"
	    "\"unlisted_hosts\": \"accept\","
	    "\"window\": {\"start\": \"09:15\", \"end\": \"17:45\"},"
	    "\"limits\": {\"migrations_total\": 5, \"migrations_per_host\": 4,"
	    "  \"vm_cooldown_s\": 12.5, \"host_cooldown_s\": 0},"
	    "\"default_host\": {\"pe_mips\": 1000,"
	    "  \"power_w\": [10,20,30,40,50,60,70,80,90,100,110]},"
	    "\"hosts\": ["
	    " {\"name\": \"a\", \"pe_mips\": 3000, \"reserve\": true,"
	    "  \"maintenance\": true,"
	    "  \"power_w\": [1,1,1,1,1,1,1,1,1,1,2],"
	    "  \"power\": {\"driver\": \"ipmi\", \"bmc\": \"10.0.0.1\","
	    "   \"user\": \"root\", \"password_file\": \"/etc/pw\"}},"
	    " {\"name\": \"b\", \"power\": {\"driver\": \"wol\","
	    "  \"mac\": \"52:54:00:AB:cd:0f\", \"broadcast\": \"10.0.0.255\","
	    "  \"port\": 7, \"off\": \"ssh b poweroff\"}},"
	    " {\"name\": \"c\", \"power\": {\"driver\": \"command\","
	    "  \"on\": \"on-c\", \"off\": \"off-c\"}},"
	    " {\"name\": \"d\", \"power\": {\"driver\": \"demo\","
	    "  \"on\": \"on-d\", \"off\": \"off-d\"}},"
	    " {\"name\": \"e\", \"power\": {\"driver\": \"none\"}},"
	    " {\"name\": \"f\", \"power\": {}}"
	    "]}", &c);
	assert_string_equal(c.listen, "127.0.0.1:17400");
	assert_string_equal(c.http, "[::1]:17401");
	assert_string_equal(c.token_file, "/tmp/tok");
	assert_string_equal(c.policy, "/tmp/pol.json");
	assert_string_equal(c.journal, "/tmp/j.db");
	assert_true(c.interval_s == 2.5);
	assert_true(c.unknown_after_s == 7);
	assert_true(c.boot_timeout_s == 99);
	assert_true(c.dry_run);
	assert_int_equal(c.min_hosts_on, 3);
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_ACCEPT);
	assert_true(c.window_start == 9.25);
	assert_true(c.window_end == 17.75);
	assert_int_equal(c.mig_total, 5);
	assert_int_equal(c.mig_per_host, 4);
	assert_true(c.vm_cooldown_s == 12.5);
	assert_true(c.host_cooldown_s == 0);
	assert_true(c.default_pe_mips == 1000);
	for (int i = 0; i < 11; i++)
		assert_true(c.default_power_w.w[i] == 10 * (i + 1));
	assert_int_equal(c.nhosts, 6);

	h = &c.hosts[0];
	assert_string_equal(h->name, "a");
	assert_true(h->pe_mips == 3000);
	assert_true(h->reserve);
	assert_true(h->maintenance);
	assert_true(h->power_w.w[0] == 1 && h->power_w.w[10] == 2);
	assert_int_equal(h->power.kind, CTL_POWER_IPMI);
	assert_string_equal(h->power.bmc, "10.0.0.1");
	assert_string_equal(h->power.user, "root");
	assert_string_equal(h->power.password_file, "/etc/pw");

	h = &c.hosts[1];
	assert_string_equal(h->name, "b");
	assert_false(h->reserve);
	assert_false(h->maintenance);
	/* Not given: inherited from default_host. */
	assert_true(h->pe_mips == 1000);
	assert_true(h->power_w.w[0] == 10 && h->power_w.w[10] == 110);
	assert_int_equal(h->power.kind, CTL_POWER_WOL);
	assert_string_equal(h->power.mac, "52:54:00:AB:cd:0f");
	assert_string_equal(h->power.broadcast, "10.0.0.255");
	assert_int_equal(h->power.port, 7);
	assert_string_equal(h->power.off, "ssh b poweroff");

	h = &c.hosts[2];
	assert_int_equal(h->power.kind, CTL_POWER_COMMAND);
	assert_string_equal(h->power.on, "on-c");
	assert_string_equal(h->power.off, "off-c");

	h = &c.hosts[3];
	assert_int_equal(h->power.kind, CTL_POWER_DEMO);
	assert_string_equal(h->power.on, "on-d");
	assert_string_equal(h->power.off, "off-d");

	assert_int_equal(c.hosts[4].power.kind, CTL_POWER_NONE);
	assert_int_equal(c.hosts[5].power.kind, CTL_POWER_NONE);
	assert_string_equal(c.hosts[5].name, "f");
	ctl_config_free(&c);
	assert_null(c.hosts);
	assert_int_equal(c.nhosts, 0);
}

static void
test_host_defaults_without_default_host(void **state)
{
	struct ctl_config c, d;

	(void)state;
	ctl_config_defaults(&d);
	parse_ok("{\"hosts\": [{\"name\": \"x\"}]}", &c);
	assert_int_equal(c.nhosts, 1);
	assert_true(c.hosts[0].pe_mips == d.default_pe_mips);
	assert_memory_equal(&c.hosts[0].power_w, &d.default_power_w,
	    sizeof(d.default_power_w));
	assert_int_equal(c.hosts[0].power.kind, CTL_POWER_NONE);
	assert_false(c.hosts[0].reserve);
	assert_false(c.hosts[0].maintenance);
	ctl_config_free(&c);
}

static void
test_boundaries_accepted(void **state)
{
	struct ctl_config c;
	char name[EBB_HOST_MAX + 1], text[1024];

	(void)state;
	parse_ok("{\"interval_s\": 0.1, \"unknown_after_s\": 0.1, "
	    "\"boot_timeout_s\": 1, \"min_hosts_on\": 0, \"limits\": "
	    "{\"migrations_total\": 1, \"migrations_per_host\": 1, "
	    "\"vm_cooldown_s\": 0, \"host_cooldown_s\": 0}, "
	    "\"default_host\": {\"pe_mips\": 1, \"power_w\": "
	    "[0,0,0,0,0,0,0,0,0,0,0]}}", &c);
	assert_true(c.interval_s == 0.1);
	assert_true(c.boot_timeout_s == 1);
	assert_int_equal(c.min_hosts_on, 0);
	assert_int_equal(c.mig_total, 1);
	ctl_config_free(&c);
	parse_ok("{\"interval_s\": 86400, \"unknown_after_s\": 86400, "
	    "\"boot_timeout_s\": 86400, \"min_hosts_on\": 100000, \"limits\": "
	    "{\"migrations_total\": 100000, \"migrations_per_host\": 1000, "
	    "\"vm_cooldown_s\": 1e7, \"host_cooldown_s\": 1e7}, "
	    "\"default_host\": {\"pe_mips\": 1e9, \"power_w\": "
	    "[1e6,1e6,1e6,1e6,1e6,1e6,1e6,1e6,1e6,1e6,1e6]}, "
	    "\"hosts\": [{\"name\": \"w\", \"power\": {\"driver\": \"wol\", "
	    "\"mac\": \"00:00:00:00:00:00\", \"broadcast\": \"127.0.0.1\", "
	    "\"port\": 65535, \"off\": \"off-w\"}}, {\"name\": \"v\", "
	    "\"power\": {\"driver\": \"wol\", \"mac\": \"ff:ff:ff:ff:ff:ff\", "
	    "\"broadcast\": \"127.0.0.1\", \"port\": 1, \"off\": \"off-v\"}}]}",
	    &c);
	assert_true(c.interval_s == 86400);
	assert_int_equal(c.min_hosts_on, 100000);
	assert_int_equal(c.mig_per_host, 1000);
	assert_true(c.vm_cooldown_s == 1e7);
	assert_true(c.default_pe_mips == 1e9);
	assert_int_equal(c.hosts[0].power.port, 65535);
	assert_int_equal(c.hosts[1].power.port, 1);
	ctl_config_free(&c);
	/* A flat curve is fine: watts must only not fall. */
	parse_ok("{\"default_host\": {\"power_w\": "
	    "[5,5,5,5,5,5,5,5,5,5,5]}}", &c);
	ctl_config_free(&c);
	/* A host name of EBB_HOST_MAX bytes fits. */
	memset(name, 'n', EBB_HOST_MAX);
	name[EBB_HOST_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"hosts\": [{\"name\": \"%s\"}]}", name);
	parse_ok(text, &c);
	assert_string_equal(c.hosts[0].name, name);
	ctl_config_free(&c);
	/* Empty strings where allowed: http off, no token, built-in policy. */
	parse_ok("{\"http\": \"\", \"token_file\": \"\", \"policy\": \"\"}",
	    &c);
	assert_string_equal(c.http, "");
	assert_string_equal(c.token_file, "");
	assert_string_equal(c.policy, "");
	ctl_config_free(&c);
}

static void
test_example_file(void **state)
{
	const char *src = getenv("EBB_SRC");
	struct ctl_config c;
	struct ebb_err err = { "" };
	char path[4096], *text;

	(void)state;
	if (src == NULL) {
		print_message("EBB_SRC is not set: examples/controller.json "
		    "not checked\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/examples/controller.json", src);
	if (ebb_read_file(path, &text, NULL, &err) != 0)
		fail_msg("%s", err.msg);
	ctl_config_defaults(&c);
	if (ctl_config_parse(text, path, &c, &err) != 0) {
		free(text);
		fail_msg("%s", err.msg);
	}
	free(text);
	assert_string_equal(c.listen, "0.0.0.0:7400");
	assert_string_equal(c.http, "127.0.0.1:7401");
	assert_string_equal(c.token_file, "/etc/ebb/api-token");
	assert_string_equal(c.policy, "examples/policies/default.json");
	assert_true(c.interval_s == 10);
	assert_int_equal(c.min_hosts_on, 2);
	assert_true(c.window_start == 20 && c.window_end == 7);
	assert_true(ctl_config_in_window(&c, 22));
	assert_true(ctl_config_in_window(&c, 3));
	assert_false(ctl_config_in_window(&c, 12));
	assert_int_equal(c.mig_total, 8);
	assert_int_equal(c.mig_per_host, 2);
	assert_true(c.host_cooldown_s == 1800);
	assert_int_equal(c.nhosts, 4);
	assert_string_equal(c.hosts[0].name, "rack1-h01");
	assert_int_equal(c.hosts[0].power.kind, CTL_POWER_IPMI);
	assert_string_equal(c.hosts[0].power.password_file,
	    "/etc/ebb/ipmi-password");
	assert_int_equal(c.hosts[1].power.kind, CTL_POWER_WOL);
	assert_string_equal(c.hosts[1].power.mac, "52:54:00:12:34:56");
	assert_true(c.hosts[1].power.off[0] != '\0');
	assert_true(c.hosts[2].reserve);
	assert_int_equal(c.hosts[2].power.kind, CTL_POWER_NONE);
	assert_true(c.hosts[3].maintenance);
	assert_int_equal(c.hosts[3].power.kind, CTL_POWER_COMMAND);
	assert_string_equal(c.tls.ca, "/etc/ebb/ca.crt");
	assert_string_equal(c.tls.cert, "/etc/ebb/controller.crt");
	assert_string_equal(c.tls.key, "/etc/ebb/controller.key");
	assert_false(c.insecure_plaintext);
	assert_int_equal(ctl_config_check_tls(&c, path, &err), 0);
	ctl_config_free(&c);
}

/* ---- TLS for agents ---------------------------------------------------- */

static void
test_tls(void **state)
{
	struct ctl_config c;
	struct ebb_err err = { "" };

	(void)state;
	/* The built-in configuration has no TLS: refused until it is set. */
	ctl_config_defaults(&c);
	assert_string_equal(c.tls.ca, "");
	assert_false(c.insecure_plaintext);
	assert_int_equal(ctl_config_check_tls(&c, FILE_NAME, &err), -EINVAL);
	assert_non_null(strstr(err.msg, FILE_NAME ": no \"tls\" section"));
	assert_non_null(strstr(err.msg, "\"insecure_plaintext\": true"));
	assert_non_null(strstr(err.msg, "scripts/ebb-ca"));

	parse_ok("{\"tls\": {\"ca\": \"/e/ca.crt\", \"cert\": \"/e/c.crt\", "
	    "\"key\": \"/e/c.key\"}}", &c);
	assert_string_equal(c.tls.ca, "/e/ca.crt");
	assert_string_equal(c.tls.cert, "/e/c.crt");
	assert_string_equal(c.tls.key, "/e/c.key");
	assert_int_equal(ctl_config_check_tls(&c, FILE_NAME, &err), 0);
	ctl_config_free(&c);

	parse_ok("{\"insecure_plaintext\": true}", &c);
	assert_true(c.insecure_plaintext);
	assert_int_equal(ctl_config_check_tls(&c, FILE_NAME, &err), 0);
	ctl_config_free(&c);

	parse_ok("{\"insecure_plaintext\": true, \"tls\": {\"ca\": \"/a\", "
	    "\"cert\": \"/b\", \"key\": \"/c\"}}", &c);
	assert_int_equal(ctl_config_check_tls(&c, FILE_NAME, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "exclude each other"));
	ctl_config_free(&c);

	expect_bad("{\"tls\": {\"ca\": \"/a\", \"cert\": \"/b\"}}", "tls",
	    "needs \"ca\", \"cert\" and \"key\"", NULL);
	/* The server checks no name: server_name is the agent's. */
	expect_bad("{\"tls\": {\"ca\": \"/a\", \"cert\": \"/b\", \"key\": "
	    "\"/c\", \"server_name\": \"x\"}}", "tls: unknown key "
	    "\"server_name\"", NULL);
	expect_bad("{\"tls\": \"/etc/ebb\"}", "tls", NULL);
	expect_bad("{\"tls\": {\"ca\": \"\", \"cert\": \"/b\", \"key\": "
	    "\"/c\"}}", "tls.ca: must not be empty", NULL);
	expect_bad("{\"insecure_plaintext\": 1}", "insecure_plaintext",
	    NULL);
}

/* ---- hosts the list lacks ------------------------------------------------ */

/*
 * "unlisted_hosts": absent, a fleet described host by host refuses the
 * hosts it does not list and one that lists none accepts them; either
 * may be said outright, but refusing with none listed is an error.
 */
static void
test_unlisted_hosts(void **state)
{
	struct ctl_config c;

	(void)state;
	parse_ok("{}", &c);
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_ACCEPT);
	ctl_config_free(&c);
	parse_ok("{\"hosts\": []}", &c);
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_ACCEPT);
	ctl_config_free(&c);
	parse_ok("{\"hosts\": [{\"name\": \"a\"}]}", &c);
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_REFUSE);
	ctl_config_free(&c);
	parse_ok("{\"unlisted_hosts\": \"accept\", \"hosts\": "
	    "[{\"name\": \"a\"}]}", &c);
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_ACCEPT);
	ctl_config_free(&c);
	parse_ok("{\"hosts\": [{\"name\": \"a\"}], \"unlisted_hosts\": "
	    "\"refuse\"}", &c);
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_REFUSE);
	ctl_config_free(&c);
	parse_ok("{\"unlisted_hosts\": \"accept\"}", &c);
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_ACCEPT);
	ctl_config_free(&c);
	/* The default follows the list of each parse, not an earlier one. */
	parse_ok("{\"hosts\": [{\"name\": \"a\"}]}", &c);
	{
		struct ebb_err err = { "" };

		assert_int_equal(ctl_config_parse("{}", FILE_NAME, &c, &err),
		    0);
	}
	assert_int_equal(c.unlisted_hosts, CTL_UNLISTED_ACCEPT);
	ctl_config_free(&c);

	expect_bad("{\"unlisted_hosts\": \"refuse\"}", "unlisted_hosts",
	    "would refuse every agent", "\"hosts\"", NULL);
	expect_bad("{\"unlisted_hosts\": \"refuse\", \"hosts\": []}",
	    "unlisted_hosts", "would refuse every agent", NULL);
	expect_bad("{\"unlisted_hosts\": \"deny\", \"hosts\": "
	    "[{\"name\": \"a\"}]}", "unlisted_hosts", "found \"deny\"",
	    "\"accept\" or \"refuse\"", NULL);
	expect_bad("{\"unlisted_hosts\": \"Accept\"}", "unlisted_hosts",
	    "found \"Accept\"", NULL);
	expect_bad("{\"unlisted_hosts\": true}", "unlisted_hosts",
	    "allowed a string", NULL);
	expect_bad("{\"unlisted_hosts\": \"\"}", "unlisted_hosts",
	    "must not be empty", NULL);
}

/* ---- the bus, standby controllers ---------------------------------------- */

static void
test_bus(void **state)
{
	struct ctl_config c;
	struct ebb_err err = { "" };

	(void)state;
	ctl_config_defaults(&c);
	assert_int_equal(c.bus.kind, EBB_BUS_TCP);
	assert_string_equal(c.name, "");
	assert_false(c.standby);
	assert_true(c.lease_s == 10);

	parse_ok("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k1:9092\", "
	    "\"group\": \"fleet\"}, \"name\": \"ctl-b\", \"standby\": true, "
	    "\"lease_s\": 4.5}", &c);
	assert_int_equal(c.bus.kind, EBB_BUS_KAFKA);
	assert_string_equal(c.bus.brokers, "k1:9092");
	assert_string_equal(c.bus.group, "fleet");
	assert_string_equal(c.name, "ctl-b");
	assert_true(c.standby);
	assert_true(c.lease_s == 4.5);
	/* No agent port on kafka: no TLS of ours to require. */
	assert_int_equal(ctl_config_check_tls(&c, FILE_NAME, &err), 0);
	ctl_config_free(&c);

	/* What only one kind of bus reads is refused under the other. */
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\"}, "
	    "\"listen\": \"0.0.0.0:7400\"}", "listen: only for the tcp bus",
	    "bus.properties", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\"}, "
	    "\"insecure_plaintext\": true}", "insecure_plaintext: only for the "
	    "tcp bus", NULL);
	expect_bad("{\"standby\": true}", "standby: only for", "kafka", NULL);
	expect_bad("{\"lease_s\": 5}", "lease_s: only for", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\", \"brokers\": \"k:1\"}, "
	    "\"lease_s\": 0.5}", "lease_s", NULL);
	expect_bad("{\"bus\": {\"kind\": \"kafka\"}}", "bus.brokers", NULL);
	expect_bad("{\"bus\": {\"kind\": \"udp\"}}", "bus.kind", NULL);
	expect_bad("{\"name\": \"\"}", "name", NULL);
	/* The tcp bus takes its address from "listen". */
	expect_bad("{\"bus\": {\"brokers\": \"k:1\"}}", "only for", NULL);
	parse_ok("{\"bus\": {\"kind\": \"tcp\"}, \"name\": \"a\"}", &c);
	assert_int_equal(c.bus.kind, EBB_BUS_TCP);
	ctl_config_free(&c);
}

/* ---- the power window -------------------------------------------------- */

static void
test_window(void **state)
{
	struct ctl_config c;

	(void)state;
	/* Across midnight: 20:00 .. 06:30. */
	parse_ok("{\"window\": {\"start\": \"20:00\", \"end\": \"06:30\"}}",
	    &c);
	assert_true(c.window_start == 20 && c.window_end == 6.5);
	assert_false(ctl_config_in_window(&c, 19.99));
	assert_true(ctl_config_in_window(&c, 20));
	assert_true(ctl_config_in_window(&c, 23.99));
	assert_true(ctl_config_in_window(&c, 0));
	assert_true(ctl_config_in_window(&c, 6.49));
	assert_false(ctl_config_in_window(&c, 6.5));
	assert_false(ctl_config_in_window(&c, 12));
	ctl_config_free(&c);

	/* Within a day: 09:00 .. 17:00, end excluded. */
	parse_ok("{\"window\": {\"start\": \"09:00\", \"end\": \"17:00\"}}",
	    &c);
	assert_false(ctl_config_in_window(&c, 8.99));
	assert_true(ctl_config_in_window(&c, 9));
	assert_true(ctl_config_in_window(&c, 16.99));
	assert_false(ctl_config_in_window(&c, 17));
	assert_false(ctl_config_in_window(&c, 0));
	assert_false(ctl_config_in_window(&c, 23));
	ctl_config_free(&c);

	/* start == end: always. */
	parse_ok("{\"window\": {\"start\": \"08:00\", \"end\": \"08:00\"}}",
	    &c);
	assert_true(ctl_config_in_window(&c, 0));
	assert_true(ctl_config_in_window(&c, 8));
	assert_true(ctl_config_in_window(&c, 20));
	ctl_config_free(&c);

	/* 00:00 .. 24:00: the whole day. */
	parse_ok("{\"window\": {\"start\": \"00:00\", \"end\": \"24:00\"}}",
	    &c);
	assert_true(c.window_end == 24);
	assert_true(ctl_config_in_window(&c, 0));
	assert_true(ctl_config_in_window(&c, 23.99));
	ctl_config_free(&c);

	/* Minutes count: 22:45 .. 01:15. */
	parse_ok("{\"window\": {\"start\": \"22:45\", \"end\": \"01:15\"}}",
	    &c);
	assert_true(c.window_start == 22.75 && c.window_end == 1.25);
	assert_false(ctl_config_in_window(&c, 22.7));
	assert_true(ctl_config_in_window(&c, 22.75));
	assert_true(ctl_config_in_window(&c, 1.2));
	assert_false(ctl_config_in_window(&c, 1.25));
	ctl_config_free(&c);

	/* An empty window object keeps "always". */
	parse_ok("{\"window\": {}}", &c);
	assert_true(ctl_config_in_window(&c, 13));
	ctl_config_free(&c);

	expect_bad("{\"window\": {\"start\": \"24:01\"}}", "window.start",
	    "HH:MM", "24:01", NULL);
	expect_bad("{\"window\": {\"start\": \"25:00\"}}", "window.start",
	    "HH:MM", NULL);
	expect_bad("{\"window\": {\"end\": \"12:60\"}}", "window.end", "HH:MM",
	    NULL);
	expect_bad("{\"window\": {\"end\": \"12:00x\"}}", "window.end",
	    "HH:MM", NULL);
	expect_bad("{\"window\": {\"end\": \"noon\"}}", "window.end", "HH:MM",
	    NULL);
	expect_bad("{\"window\": {\"end\": \"1200\"}}", "window.end", "HH:MM",
	    NULL);
	expect_bad("{\"window\": {\"end\": \"12:00:00\"}}", "window.end",
	    NULL);
	expect_bad("{\"window\": {\"start\": \"\"}}", "window.start", NULL);
	expect_bad("{\"window\": {\"start\": 20}}", "window.start",
	    "allowed a string", NULL);
	expect_bad("{\"window\": \"20:00-06:00\"}", "window",
	    "allowed an object", NULL);
}

/* ---- refused texts ----------------------------------------------------- */

static void
test_unknown_keys(void **state)
{
	(void)state;
	expect_bad("{\"listne\": \"1.2.3.4:5\"}", "(top level)",
	    "unknown key \"listne\"", "allowed: listen, http", NULL);
	expect_bad("{\"window\": {\"begin\": \"20:00\"}}", "window",
	    "unknown key \"begin\"", "allowed: start, end", NULL);
	expect_bad("{\"limits\": {\"migrations\": 3}}", "limits",
	    "unknown key \"migrations\"", "migrations_total", NULL);
	expect_bad("{\"default_host\": {\"cores\": 3}}", "default_host",
	    "unknown key \"cores\"", "pe_mips, power_w", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\"}, {\"name\": \"b\", "
	    "\"ram\": 3}]}", "hosts[1]", "unknown key \"ram\"", "reserve",
	    NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\"}, {\"name\": \"b\"}, "
	    "{\"name\": \"c\", \"power\": {\"driver\": \"none\", "
	    "\"mca\": \"x\"}}]}", "hosts[2].power", "unknown key \"mca\"",
	    "password_file", NULL);
}

static void
test_wrong_types(void **state)
{
	(void)state;
	expect_bad("{\"listen\": 7400}", "listen", "allowed a string", NULL);
	expect_bad("{\"http\": [\"a\"]}", "http", "allowed a string", NULL);
	expect_bad("{\"token_file\": null}", "token_file", NULL);
	expect_bad("{\"policy\": true}", "policy", NULL);
	expect_bad("{\"journal\": 1}", "journal", NULL);
	expect_bad("{\"interval_s\": \"1\"}", "interval_s", "a number", NULL);
	expect_bad("{\"unknown_after_s\": null}", "unknown_after_s", NULL);
	expect_bad("{\"boot_timeout_s\": [1]}", "boot_timeout_s", NULL);
	expect_bad("{\"dry_run\": \"yes\"}", "dry_run", "true or false",
	    NULL);
	expect_bad("{\"dry_run\": 1}", "dry_run", NULL);
	expect_bad("{\"min_hosts_on\": 1.5}", "min_hosts_on", "an integer",
	    NULL);
	expect_bad("{\"limits\": [1]}", "limits", "allowed an object", NULL);
	expect_bad("{\"limits\": {\"migrations_total\": \"3\"}}",
	    "limits.migrations_total", NULL);
	expect_bad("{\"limits\": {\"vm_cooldown_s\": false}}",
	    "limits.vm_cooldown_s", NULL);
	expect_bad("{\"default_host\": 3}", "default_host",
	    "allowed an object", NULL);
	expect_bad("{\"default_host\": {\"pe_mips\": \"fast\"}}",
	    "default_host.pe_mips", NULL);
	expect_bad("{\"default_host\": {\"power_w\": {}}}",
	    "default_host.power_w", "11 watts", NULL);
	expect_bad("{\"hosts\": {\"name\": \"a\"}}", "hosts", "an array",
	    NULL);
	expect_bad("{\"hosts\": null}", "hosts", "an array", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\"}, \"b\"]}", "hosts[1]",
	    "found a string, allowed an object", NULL);
	expect_bad("{\"hosts\": [{\"name\": 3}]}", "hosts[0].name",
	    "allowed a string", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\", \"reserve\": 1}]}",
	    "hosts[0].reserve", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\", \"maintenance\": "
	    "\"no\"}]}", "hosts[0].maintenance", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\", \"pe_mips\": null}]}",
	    "hosts[0].pe_mips", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\", \"power\": \"ipmi\"}]}",
	    "hosts[0].power", "allowed an object", NULL);
	power_bad("{\"driver\": 1}", "hosts[0].power.driver");
	power_bad("{\"driver\": \"command\", \"on\": [\"x\"], \"off\": \"y\"}",
	    "hosts[0].power.on");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\", "
	    "\"broadcast\": \"127.0.0.1\", \"port\": \"9\"}",
	    "hosts[0].power.port");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\", "
	    "\"broadcast\": \"127.0.0.1\", \"port\": 9.5}",
	    "hosts[0].power.port");
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_bad("{\"interval_s\": 0.09}", "interval_s", "0.1", NULL);
	expect_bad("{\"interval_s\": 0}", "interval_s", NULL);
	expect_bad("{\"interval_s\": 86401}", "interval_s", "86400", NULL);
	expect_bad("{\"unknown_after_s\": 0.05}", "unknown_after_s", NULL);
	expect_bad("{\"unknown_after_s\": 1e6}", "unknown_after_s", NULL);
	expect_bad("{\"boot_timeout_s\": 0.5}", "boot_timeout_s", NULL);
	expect_bad("{\"boot_timeout_s\": 86401}", "boot_timeout_s", NULL);
	expect_bad("{\"min_hosts_on\": -1}", "min_hosts_on", NULL);
	expect_bad("{\"min_hosts_on\": 100001}", "min_hosts_on", NULL);
	expect_bad("{\"limits\": {\"migrations_total\": 0}}",
	    "limits.migrations_total", NULL);
	expect_bad("{\"limits\": {\"migrations_total\": 100001}}",
	    "limits.migrations_total", NULL);
	expect_bad("{\"limits\": {\"migrations_per_host\": 0}}",
	    "limits.migrations_per_host", NULL);
	expect_bad("{\"limits\": {\"migrations_per_host\": 1001}}",
	    "limits.migrations_per_host", NULL);
	expect_bad("{\"limits\": {\"vm_cooldown_s\": -1}}",
	    "limits.vm_cooldown_s", NULL);
	expect_bad("{\"limits\": {\"vm_cooldown_s\": 1.1e7}}",
	    "limits.vm_cooldown_s", NULL);
	expect_bad("{\"limits\": {\"host_cooldown_s\": -0.5}}",
	    "limits.host_cooldown_s", NULL);
	expect_bad("{\"limits\": {\"host_cooldown_s\": 2e7}}",
	    "limits.host_cooldown_s", NULL);
	expect_bad("{\"default_host\": {\"pe_mips\": 0}}",
	    "default_host.pe_mips", NULL);
	expect_bad("{\"default_host\": {\"pe_mips\": 1.1e9}}",
	    "default_host.pe_mips", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\", \"pe_mips\": 0.5}]}",
	    "hosts[0].pe_mips", NULL);
	/* Power curves: 11 numbers from 0 to 1e6, never falling. */
	expect_bad("{\"default_host\": {\"power_w\": [1,2,3,4,5,6,7,8,9,10]}}",
	    "default_host.power_w", "11 watts", NULL);
	expect_bad("{\"default_host\": {\"power_w\": "
	    "[1,2,3,4,5,6,7,8,9,10,11,12]}}", "default_host.power_w", NULL);
	expect_bad("{\"default_host\": {\"power_w\": "
	    "[-1,2,3,4,5,6,7,8,9,10,11]}}", "default_host.power_w",
	    "element 0", NULL);
	expect_bad("{\"default_host\": {\"power_w\": "
	    "[1,2,3,4,5,6,7,8,9,10,1000001]}}", "default_host.power_w",
	    "element 10", NULL);
	expect_bad("{\"default_host\": {\"power_w\": "
	    "[1,2,3,4,5,\"6\",7,8,9,10,11]}}", "default_host.power_w",
	    "element 5", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\", \"power_w\": "
	    "[1,2,3,4,5,6,5,8,9,10,11]}]}", "hosts[0].power_w",
	    "must not fall", NULL);
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\", "
	    "\"broadcast\": \"127.0.0.1\", \"port\": 0}",
	    "hosts[0].power.port");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\", "
	    "\"broadcast\": \"127.0.0.1\", \"port\": 65536}",
	    "hosts[0].power.port");
}

static void
test_strings_too_long(void **state)
{
	char text[8192], big[4096];

	(void)state;
	memset(big, 'x', EBB_ADDR_MAX);
	big[EBB_ADDR_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"listen\": \"%s\"}", big);
	expect_bad(text, "listen", "at most", NULL);
	memset(big, 'n', EBB_HOST_MAX + 1);
	big[EBB_HOST_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "{\"hosts\": [{\"name\": \"%s\"}]}", big);
	expect_bad(text, "hosts[0].name", "at most", NULL);
	memset(big, 'c', CTL_CMD_MAX);
	big[CTL_CMD_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"hosts\": [{\"name\": \"a\", "
	    "\"power\": {\"driver\": \"command\", \"on\": \"%s\", \"off\": "
	    "\"x\"}}]}", big);
	expect_bad(text, "hosts[0].power.on", "at most", NULL);
	/* An embedded NUL would cut a path or command short. */
	expect_bad("{\"journal\": \"/tmp/a\\u0000b\"}", "malformed JSON",
	    NULL);
	expect_bad("{\"listen\": \"\"}", "listen", "must not be empty", NULL);
	expect_bad("{\"journal\": \"\"}", "journal", "must not be empty",
	    NULL);
}

static void
test_addresses(void **state)
{
	struct ctl_config c;

	(void)state;
	parse_ok("{\"listen\": \"[::]:7400\", \"http\": \"localhost:80\"}", &c);
	assert_string_equal(c.listen, "[::]:7400");
	ctl_config_free(&c);
	expect_bad("{\"listen\": \"7400\"}", "listen", "HOST:PORT", "7400",
	    NULL);
	expect_bad("{\"listen\": \":7400\"}", "listen", "HOST:PORT", NULL);
	expect_bad("{\"listen\": \"host:\"}", "listen", "HOST:PORT", NULL);
	expect_bad("{\"listen\": \"host:port\"}", "listen", "HOST:PORT", NULL);
	expect_bad("{\"listen\": \"host:65536\"}", "listen", "HOST:PORT",
	    NULL);
	expect_bad("{\"listen\": \"host:-1\"}", "listen", "HOST:PORT", NULL);
	expect_bad("{\"listen\": \"[::1]7400\"}", "listen", "HOST:PORT", NULL);
	expect_bad("{\"http\": \"127.0.0.1\"}", "http", "HOST:PORT",
	    "\"\" (off)", NULL);
	expect_bad("{\"http\": \"127.0.0.1:7401x\"}", "http", "HOST:PORT",
	    NULL);
}

static void
test_host_names(void **state)
{
	(void)state;
	expect_bad("{\"hosts\": [{\"reserve\": true}]}", "hosts[0].name",
	    "needs a name", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"\"}]}", "hosts[0].name",
	    "must not be empty", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\"}, {\"name\": \"b\"}, "
	    "{\"name\": \"a\"}]}", "hosts[2].name",
	    "\"a\" is listed twice", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"h1\"}, {\"name\": \"h1\", "
	    "\"reserve\": true}]}", "hosts[1].name", "listed twice", NULL);
}

static void
test_power_drivers(void **state)
{
	struct ctl_config c;

	(void)state;
	power_bad("{\"driver\": \"bogus\"}", "found \"bogus\", allowed one "
	    "of none, ipmi, wol, command, demo");
	power_bad("{\"driver\": \"IPMI\"}", "allowed one of");
	power_bad("{\"driver\": \"\"}", "must not be empty");

	/* ipmi: bmc, user and password_file, each. */
	power_ok("{\"driver\": \"ipmi\", \"bmc\": \"b\", \"user\": \"u\", "
	    "\"password_file\": \"/p\"}", &c);
	assert_int_equal(c.hosts[0].power.kind, CTL_POWER_IPMI);
	ctl_config_free(&c);
	power_bad("{\"driver\": \"ipmi\", \"user\": \"u\", "
	    "\"password_file\": \"/p\"}", "ipmi needs bmc, user and "
	    "password_file");
	power_bad("{\"driver\": \"ipmi\", \"bmc\": \"b\", "
	    "\"password_file\": \"/p\"}", "ipmi needs");
	power_bad("{\"driver\": \"ipmi\", \"bmc\": \"b\", \"user\": \"u\"}",
	    "ipmi needs");
	power_bad("{\"driver\": \"ipmi\"}", "hosts[0].power.driver");

	/* wol: a valid MAC, a broadcast address and an off command (a
	 * magic packet only wakes). */
	power_ok("{\"driver\": \"wol\", \"mac\": \"aa:BB:cc:00:11:22\", "
	    "\"broadcast\": \"192.168.1.255\", \"off\": \"off-x\"}", &c);
	assert_int_equal(c.hosts[0].power.kind, CTL_POWER_WOL);
	assert_int_equal(c.hosts[0].power.port, 0);	/* 9 when sent */
	ctl_config_free(&c);
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\", "
	    "\"broadcast\": \"10.0.0.255\"}", "give an off command");
	power_bad("{\"driver\": \"wol\", \"broadcast\": \"10.0.0.255\"}",
	    "wol needs mac");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\"}",
	    "broadcast address");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34\", "
	    "\"broadcast\": \"10.0.0.255\"}", "aa:bb:cc:dd:ee:ff");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56:78\", "
	    "\"broadcast\": \"10.0.0.255\"}", "hosts[0].power.mac");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52-54-00-12-34-56\", "
	    "\"broadcast\": \"10.0.0.255\"}", "wol needs mac");
	power_bad("{\"driver\": \"wol\", \"mac\": \"zz:54:00:12:34:56\", "
	    "\"broadcast\": \"10.0.0.255\"}", "wol needs mac");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:0:12:34:5g\", "
	    "\"broadcast\": \"10.0.0.255\"}", "wol needs mac");
	power_bad("{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\", "
	    "\"broadcast\": \"\"}", "hosts[0].power.broadcast");

	/* command and demo: on and off. */
	power_ok("{\"driver\": \"command\", \"on\": \"a\", \"off\": "
	    "\"b\"}", &c);
	ctl_config_free(&c);
	power_bad("{\"driver\": \"command\", \"on\": \"a\"}",
	    "command needs on and off commands");
	power_bad("{\"driver\": \"command\", \"off\": \"b\"}",
	    "command needs on and off");
	power_bad("{\"driver\": \"command\"}", "hosts[0].power.driver");
	power_bad("{\"driver\": \"command\", \"on\": \"a\", \"off\": \"\"}",
	    "hosts[0].power.off");
	power_ok("{\"driver\": \"demo\", \"on\": \"a\", \"off\": \"b\"}", &c);
	assert_int_equal(c.hosts[0].power.kind, CTL_POWER_DEMO);
	ctl_config_free(&c);
	power_bad("{\"driver\": \"demo\", \"on\": \"a\"}",
	    "demo needs on and off");
	power_bad("{\"driver\": \"demo\", \"off\": \"b\"}",
	    "demo needs on and off");

	/* Driver kind names round-trip. */
	for (int k = CTL_POWER_NONE; k <= CTL_POWER_DEMO; k++) {
		enum ctl_power_kind out = CTL_POWER_NONE;

		assert_int_equal(ctl_power_kind_parse(ctl_power_kind_name(k),
		    &out), 0);
		assert_int_equal(out, k);
	}
	{
		enum ctl_power_kind out = CTL_POWER_WOL;

		assert_int_equal(ctl_power_kind_parse("ipmitool", &out),
		    -EINVAL);
		assert_int_equal(out, CTL_POWER_WOL);
	}
}

static void
test_malformed_json(void **state)
{
	(void)state;
	expect_bad("{\"listen\": ", FILE_NAME ":1:", "malformed JSON", NULL);
	expect_bad("{\n\"listen\": \"a:1\",\n}", FILE_NAME ":3:",
	    "malformed JSON", NULL);
	expect_bad("", "malformed JSON", NULL);
	expect_bad("[]", "(top level)", "allowed an object", NULL);
	expect_bad("\"x\"", "malformed JSON", NULL);
	/* A key given twice is an error, not "the last one wins". */
	expect_bad("{\"interval_s\": 1, \"interval_s\": 2}", "malformed JSON",
	    "interval_s", NULL);
	expect_bad("{\"hosts\": [{\"name\": \"a\", \"name\": \"b\"}]}",
	    "malformed JSON", NULL);
}

/*
 * A bad text leaves everything as it was, including a host list from an
 * earlier successful parse (the caller's pointer is neither freed nor
 * replaced); a good one replaces the list (the old one freed: ASan would
 * see a leak otherwise).
 */
static void
test_error_leaves_struct_unchanged(void **state)
{
	struct ctl_config c, before;
	struct ebb_err err = { "" };
	struct ctl_host_conf *hosts;

	(void)state;
	parse_ok("{\"interval_s\": 3, \"hosts\": [{\"name\": \"keep1\"}, "
	    "{\"name\": \"keep2\", \"reserve\": true}]}", &c);
	hosts = c.hosts;
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(ctl_config_parse("{\"interval_s\": 5, \"hosts\": "
	    "[{\"name\": \"new\"}, {\"name\": \"new\"}]}", FILE_NAME, &c,
	    &err), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_ptr_equal(c.hosts, hosts);
	assert_string_equal(c.hosts[0].name, "keep1");
	assert_string_equal(c.hosts[1].name, "keep2");
	assert_true(c.hosts[1].reserve);
	assert_int_equal(ctl_config_parse("{\"min_hosts_on\": 4, \"window\": "
	    "{\"start\": \"01:00\", \"end\": \"99:00\"}}", FILE_NAME, &c,
	    &err), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(ctl_config_parse("{\"min_hosts_on\": 4, \"hosts\": "
	    "[{\"name\": \"a\", \"power\": {\"driver\": \"wol\"}}]}",
	    FILE_NAME, &c, &err), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));

	/* A good text replaces the list. */
	assert_int_equal(ctl_config_parse("{\"hosts\": [{\"name\": \"z\"}]}",
	    FILE_NAME, &c, &err), 0);
	assert_int_equal(c.nhosts, 1);
	assert_string_equal(c.hosts[0].name, "z");
	assert_true(c.interval_s == 3);	/* kept from the first parse */
	/* And a good text without hosts drops the list. */
	assert_int_equal(ctl_config_parse("{\"interval_s\": 4}", FILE_NAME, &c,
	    &err), 0);
	assert_int_equal(c.nhosts, 0);
	ctl_config_free(&c);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_object_keeps_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_host_defaults_without_default_host),
		cmocka_unit_test(test_boundaries_accepted),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_bus),
		cmocka_unit_test(test_unlisted_hosts),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_strings_too_long),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_power_drivers),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_error_leaves_struct_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
