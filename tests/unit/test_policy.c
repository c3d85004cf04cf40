/*
 * test_policy.c - pol_policy_parse() and pol_policy_to_json(): the
 * defaults, every enum, every range edge, types, unknown and duplicate
 * keys, malformed JSON, the position of each error, and the round trip
 * through canonical JSON.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "pol_policy.h"

#define ALLOWED_TOP	"name, description, overload, selection, placement, " \
			"underload, power"

static int
parse(const char *text, struct pol_policy *p, struct pol_policy_error *e)
{
	return pol_policy_parse(text, "t.json", p, e);
}

/* Parses {"sect": {"key": value}}, or {"key": value} when sect is NULL. */
static int
parse_one(const char *sect, const char *key, const char *value,
    struct pol_policy *p, struct pol_policy_error *e)
{
	char doc[1024];

	if (sect != NULL)
		snprintf(doc, sizeof(doc), "{\"%s\": {\"%s\": %s}}", sect, key,
		    value);
	else
		snprintf(doc, sizeof(doc), "{\"%s\": %s}", key, value);
	return parse(doc, p, e);
}

static void
assert_policy_equal(const struct pol_policy *a, const struct pol_policy *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->description, b->description);
	assert_int_equal(a->overload.detector, b->overload.detector);
	assert_true(a->overload.threshold == b->overload.threshold);
	assert_true(a->overload.safety == b->overload.safety);
	assert_true(a->overload.fallback_threshold ==
	    b->overload.fallback_threshold);
	assert_int_equal(a->overload.min_history, b->overload.min_history);
	assert_int_equal(a->overload.window, b->overload.window);
	assert_true(a->overload.band_high == b->overload.band_high);
	assert_true(a->overload.confidence == b->overload.confidence);
	assert_int_equal(a->selection.method, b->selection.method);
	assert_true(a->selection.seed == b->selection.seed);
	assert_int_equal(a->placement.order, b->placement.order);
	assert_true(a->placement.max_util == b->placement.max_util);
	assert_int_equal(a->underload.enabled, b->underload.enabled);
	assert_true(a->underload.max_util == b->underload.max_util);
	assert_int_equal(a->underload.exclude_targets,
	    b->underload.exclude_targets);
	assert_int_equal(a->underload.max_hosts, b->underload.max_hosts);
	assert_int_equal(a->power.switch_off_empty, b->power.switch_off_empty);
	assert_int_equal(a->power.reserve_hosts, b->power.reserve_hosts);
	assert_int_equal(a->power.min_hosts_on, b->power.min_hosts_on);
}

/* The error is at line:col and its message says `what` after "error: ". */
static void
assert_error(const struct pol_policy_error *e, int line, int col,
    const char *what)
{
	char want[1024];

	if (line > 0)
		snprintf(want, sizeof(want), "t.json:%d:%d: error: %s", line,
		    col, what);
	else
		snprintf(want, sizeof(want), "t.json: error: %s", what);
	assert_string_equal(e->msg, want);
	assert_int_equal(e->line, line);
	assert_int_equal(e->column, col);
	assert_string_equal(e->file, "t.json");
}

static void
test_defaults(void **state)
{
	struct pol_policy p;

	(void)state;
	memset(&p, 0xa5, sizeof(p));
	pol_policy_defaults(&p);
	assert_string_equal(p.name, "lr-mmt-1.2");
	assert_string_equal(p.description, "");
	assert_int_equal(p.overload.detector, POL_DET_LR);
	assert_true(p.overload.threshold == 0.8);
	assert_true(p.overload.safety == 1.2);
	assert_true(p.overload.fallback_threshold == 0.7);
	assert_int_equal(p.overload.min_history, 12);
	assert_int_equal(p.overload.window, 10);
	assert_true(p.overload.band_high == 0.8);
	assert_true(p.overload.confidence == 1.0);
	assert_int_equal(p.selection.method, POL_SEL_MMT);
	assert_true(p.selection.seed == 42);
	assert_int_equal(p.placement.order, POL_ORDER_POWER);
	assert_true(p.placement.max_util == 1.0);
	assert_true(p.underload.enabled);
	assert_true(p.underload.max_util == 1.0);
	assert_false(p.underload.exclude_targets);
	assert_int_equal(p.underload.max_hosts, 0);
	assert_true(p.power.switch_off_empty);
	assert_int_equal(p.power.reserve_hosts, 0);
	assert_int_equal(p.power.min_hosts_on, 0);
}

/* Every key is optional: an empty object or empty sections are defaults. */
static void
test_empty_is_defaults(void **state)
{
	static const char *docs[] = {
		"{}",
		" \n\t{ }\r\n",
		("{\"overload\": {}, \"selection\": {}, \"placement\": {}, "
		    "\"underload\": {}, \"power\": {}}"),
	};
	struct pol_policy p, d;
	struct pol_policy_error e;

	(void)state;
	pol_policy_defaults(&d);
	for (size_t i = 0; i < EBB_NITEMS(docs); i++) {
		memset(&p, 0, sizeof(p));
		assert_int_equal(parse(docs[i], &p, &e), 0);
		assert_policy_equal(&p, &d);
	}
}

static void
test_enums(void **state)
{
	static const char *det[] = { "thr", "iqr", "mad", "lr", "lrr", "band" };
	static const char *sel[] = { "mmt", "mc", "rs", "mu" };
	static const char *ord[] = { "power", "efficiency" };
	struct pol_policy p;
	struct pol_policy_error e;
	char v[32];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(det); i++) {
		snprintf(v, sizeof(v), "\"%s\"", det[i]);
		assert_int_equal(parse_one("overload", "detector", v, &p, &e),
		    0);
		assert_int_equal(p.overload.detector, (int)i);
		assert_string_equal(pol_detector_name(p.overload.detector),
		    det[i]);
	}
	for (size_t i = 0; i < EBB_NITEMS(sel); i++) {
		snprintf(v, sizeof(v), "\"%s\"", sel[i]);
		assert_int_equal(parse_one("selection", "method", v, &p, &e),
		    0);
		assert_int_equal(p.selection.method, (int)i);
		assert_string_equal(pol_selection_name(p.selection.method),
		    sel[i]);
	}
	for (size_t i = 0; i < EBB_NITEMS(ord); i++) {
		snprintf(v, sizeof(v), "\"%s\"", ord[i]);
		assert_int_equal(parse_one("placement", "order", v, &p, &e), 0);
		assert_int_equal(p.placement.order, (int)i);
	}
	/* Names are case-sensitive, as JSON keys are. */
	assert_int_equal(parse_one("overload", "detector", "\"LR\"", &p, &e),
	    -EINVAL);
	assert_error(&e, 1, 27, "overload.detector: found \"LR\", allowed one "
	    "of thr, iqr, mad, lr, lrr, band");
	assert_string_equal(e.found, "\"LR\"");
	assert_string_equal(e.allowed, "one of thr, iqr, mad, lr, lrr, band");
	assert_int_equal(parse_one("selection", "method", "\"pabfd\"", &p,
	    &e), -EINVAL);
	assert_error(&e, 1, 26, "selection.method: found \"pabfd\", allowed "
	    "one of mmt, mc, rs, mu");
	assert_int_equal(parse_one("placement", "order", "\"\"", &p, &e),
	    -EINVAL);
	assert_error(&e, 1, 25, "placement.order: found \"\", allowed one of "
	    "power, efficiency");
	/* Out of the enum's range: a name, not a crash. */
	assert_string_equal(pol_detector_name((enum pol_detector)99), "?");
	assert_string_equal(pol_selection_name((enum pol_selection)-1), "?");
}

struct range_case {
	const char	*sect;		/* NULL: top level */
	const char	*key;
	const char	*value;		/* JSON text */
	bool		 ok;
	const char	*allowed;	/* when !ok */
};

#define UNIT	"a number greater than 0 and at most 1"
#define HOSTS	"an integer from 0 to 1000000"

static const struct range_case range_cases[] = {
	{ "overload", "threshold", "1", true, NULL },
	{ "overload", "threshold", "1.0", true, NULL },
	{ "overload", "threshold", "1e-9", true, NULL },
	{ "overload", "threshold", "0", false, UNIT },
	{ "overload", "threshold", "0.0", false, UNIT },
	{ "overload", "threshold", "-0.0", false, UNIT },
	{ "overload", "threshold", "1.000001", false, UNIT },
	{ "overload", "fallback_threshold", "0.000001", true, NULL },
	{ "overload", "fallback_threshold", "1", true, NULL },
	{ "overload", "fallback_threshold", "0", false, UNIT },
	{ "overload", "fallback_threshold", "1.01", false, UNIT },
	{ "overload", "safety", "0", true, NULL },
	{ "overload", "safety", "10", true, NULL },
	{ "overload", "safety", "-0.000001", false,
	    "a number from 0 to 10" },
	{ "overload", "safety", "10.000001", false, "a number from 0 to 10" },
	{ "overload", "min_history", "1", true, NULL },
	{ "overload", "min_history", "30", true, NULL },
	{ "overload", "min_history", "0", false, "an integer from 1 to 30" },
	{ "overload", "min_history", "31", false, "an integer from 1 to 30" },
	{ "overload", "window", "2", true, NULL },
	{ "overload", "window", "30", true, NULL },
	{ "overload", "window", "1", false, "an integer from 2 to 30" },
	{ "overload", "window", "31", false, "an integer from 2 to 30" },
	{ "overload", "band_high", "1", true, NULL },
	{ "overload", "band_high", "0.01", true, NULL },
	{ "overload", "band_high", "0", false, UNIT },
	{ "overload", "band_high", "1.5", false, UNIT },
	{ "overload", "confidence", "0", true, NULL },
	{ "overload", "confidence", "10", true, NULL },
	{ "overload", "confidence", "-1", false, "a number from 0 to 10" },
	{ "overload", "confidence", "10.5", false, "a number from 0 to 10" },
	{ "selection", "seed", "0", true, NULL },
	{ "selection", "seed", "9223372036854775807", true, NULL },
	{ "selection", "seed", "-1", false,
	    "an integer from 0 to 9223372036854775807" },
	{ "placement", "max_util", "1", true, NULL },
	{ "placement", "max_util", "0.5", true, NULL },
	{ "placement", "max_util", "0", false, UNIT },
	{ "placement", "max_util", "1.1", false, UNIT },
	{ "underload", "max_util", "1", true, NULL },
	{ "underload", "max_util", "0.2", true, NULL },
	{ "underload", "max_util", "0", false, UNIT },
	{ "underload", "max_util", "2", false, UNIT },
	{ "underload", "max_hosts", "0", true, NULL },
	{ "underload", "max_hosts", "1000000", true, NULL },
	{ "underload", "max_hosts", "-1", false, HOSTS },
	{ "underload", "max_hosts", "1000001", false, HOSTS },
	{ "power", "reserve_hosts", "0", true, NULL },
	{ "power", "reserve_hosts", "1000000", true, NULL },
	{ "power", "reserve_hosts", "-1", false, HOSTS },
	{ "power", "reserve_hosts", "1000001", false, HOSTS },
	{ "power", "min_hosts_on", "0", true, NULL },
	{ "power", "min_hosts_on", "1000000", true, NULL },
	{ "power", "min_hosts_on", "-1", false, HOSTS },
	{ "power", "min_hosts_on", "1000001", false, HOSTS },
	{ NULL, "name", "\"a\"", true, NULL },
	{ NULL, "name", "\"lr-mmt_1.2.B\"", true, NULL },
	{ NULL, "name",
	    "\"123456789012345678901234567890123456789012345678901234567890123\"",
	    true, NULL },
	{ NULL, "name",
	    "\"1234567890123456789012345678901234567890123456789012345678901234\"",
	    false, "1 to 63 characters of A-Z a-z 0-9 . _ -" },
	{ NULL, "name", "\"\"", false,
	    "1 to 63 characters of A-Z a-z 0-9 . _ -" },
	{ NULL, "name", "\"a b\"", false,
	    "1 to 63 characters of A-Z a-z 0-9 . _ -" },
	{ NULL, "name", "\"a/b\"", false,
	    "1 to 63 characters of A-Z a-z 0-9 . _ -" },
	{ NULL, "name", "\"caf\\u00e9\"", false,
	    "1 to 63 characters of A-Z a-z 0-9 . _ -" },
	{ NULL, "description", "\"\"", true, NULL },
};

static void
test_ranges(void **state)
{
	const struct range_case *c;
	struct pol_policy p;
	struct pol_policy_error e;
	char what[512], path[64];
	int rc;

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(range_cases); i++) {
		c = &range_cases[i];
		rc = parse_one(c->sect, c->key, c->value, &p, &e);
		if (rc != (c->ok ? 0 : -EINVAL))
			fail_msg("%s %s = %s: got %d (%s)", c->sect ? c->sect :
			    "top level", c->key, c->value, rc, e.msg);
		if (c->ok)
			continue;
		if (c->sect != NULL)
			snprintf(path, sizeof(path), "%s.%s", c->sect, c->key);
		else
			snprintf(path, sizeof(path), "%s", c->key);
		snprintf(what, sizeof(what), "%s: found %s, allowed %s", path,
		    c->value, c->allowed);
		/* The value starts after {"sect": {"key": or {"key": */
		assert_error(&e, 1, (int)(c->sect ? strlen(c->sect) + 9 : 4) +
		    (int)strlen(c->key) + 2, what);
		assert_string_equal(e.found, c->value);
		assert_string_equal(e.allowed, c->allowed);
	}
}

/* The values stored are the ones written, at both ends of each range. */
static void
test_range_values(void **state)
{
	struct pol_policy p;
	struct pol_policy_error e;
	char desc[300];

	(void)state;
	assert_int_equal(parse_one("overload", "threshold", "1", &p, &e), 0);
	assert_true(p.overload.threshold == 1.0);
	assert_int_equal(parse_one("overload", "window", "30", &p, &e), 0);
	assert_int_equal(p.overload.window, 30);
	assert_int_equal(parse_one("selection", "seed", "9223372036854775807",
	    &p, &e), 0);
	assert_true(p.selection.seed == 9223372036854775807ULL);
	assert_int_equal(parse_one("underload", "max_hosts", "1000000", &p,
	    &e), 0);
	assert_int_equal(p.underload.max_hosts, 1000000);

	/* description: 255 bytes fit, 256 do not; UTF-8 counts in bytes. */
	memset(desc, 0, sizeof(desc));
	desc[0] = '"';
	memset(desc + 1, 'x', 255);
	desc[256] = '"';
	assert_int_equal(parse_one(NULL, "description", desc, &p, &e), 0);
	assert_int_equal(strlen(p.description), 255);
	desc[256] = 'x';
	desc[257] = '"';
	assert_int_equal(parse_one(NULL, "description", desc, &p, &e),
	    -EINVAL);
	assert_string_equal(e.allowed, "a string of at most 255 bytes");
	/* A long value is cut in the message, and says so. */
	assert_int_equal(strlen(e.found), sizeof(e.found) - 1);
	assert_string_equal(e.found + sizeof(e.found) - 4, "...");
	assert_int_equal(parse_one(NULL, "description",
	    "\"caf\\u00e9 \\\"quoted\\\"\\n\"", &p, &e), 0);
	assert_string_equal(p.description, "caf\xc3\xa9 \"quoted\"\n");
}

struct type_case {
	const char	*sect;
	const char	*key;
	const char	*value;
	const char	*found;
};

static const struct type_case type_cases[] = {
	{ "overload", "threshold", "\"0.8\"", "\"0.8\"" },
	{ "overload", "safety", "true", "true" },
	{ "overload", "safety", "null", "null" },
	{ "overload", "safety", "[1.2]", "an array" },
	{ "overload", "safety", "{\"v\": 1.2}", "an object" },
	{ "overload", "min_history", "12.5", "12.5" },
	/* An integer knob takes integers only, as it would in C. */
	{ "overload", "min_history", "12.0", "12.0" },
	{ "overload", "window", "\"10\"", "\"10\"" },
	{ "overload", "detector", "3", "3" },
	{ "overload", "detector", "[\"lr\"]", "an array" },
	{ "selection", "seed", "4.2e1", "4.2e1" },
	{ "underload", "enabled", "1", "1" },
	{ "underload", "enabled", "\"true\"", "\"true\"" },
	{ "underload", "exclude_targets", "0", "0" },
	{ "power", "switch_off_empty", "null", "null" },
	{ NULL, "name", "5", "5" },
	{ NULL, "name", "false", "false" },
	{ NULL, "description", "[]", "an array" },
};

static void
test_types(void **state)
{
	const struct type_case *c;
	struct pol_policy p;
	struct pol_policy_error e;

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(type_cases); i++) {
		c = &type_cases[i];
		if (parse_one(c->sect, c->key, c->value, &p, &e) != -EINVAL)
			fail_msg("%s %s = %s: accepted", c->sect ? c->sect :
			    "top level", c->key, c->value);
		assert_string_equal(e.found, c->found);
		assert_int_equal(e.line, 1);
	}
	assert_int_equal(parse_one("underload", "enabled", "1", &p, &e),
	    -EINVAL);
	assert_string_equal(e.allowed, "true or false");
	assert_int_equal(parse_one("selection", "seed", "1.5", &p, &e),
	    -EINVAL);
	assert_string_equal(e.allowed,
	    "an integer from 0 to 9223372036854775807");
}

/* The top level and each section must be objects. */
static void
test_not_objects(void **state)
{
	static const char *sects[] = { "overload", "selection", "placement",
	    "underload", "power" };
	struct pol_policy p;
	struct pol_policy_error e;
	char what[256];

	(void)state;
	assert_int_equal(parse("[]", &p, &e), -EINVAL);
	assert_error(&e, 1, 1, "top level: found an array, allowed an object");
	assert_int_equal(parse("\n  3\n", &p, &e), -EINVAL);
	assert_error(&e, 2, 3, "top level: found 3, allowed an object");
	assert_int_equal(parse("\"lr\"", &p, &e), -EINVAL);
	assert_error(&e, 1, 1, "top level: found \"lr\", allowed an object");
	assert_int_equal(parse("null", &p, &e), -EINVAL);
	assert_error(&e, 1, 1, "top level: found null, allowed an object");

	for (size_t i = 0; i < EBB_NITEMS(sects); i++) {
		assert_int_equal(parse_one(NULL, sects[i], "[]", &p, &e),
		    -EINVAL);
		snprintf(what, sizeof(what), "%s: found an array, allowed an "
		    "object", sects[i]);
		assert_error(&e, 1, (int)strlen(sects[i]) + 6, what);
		assert_int_equal(parse_one(NULL, sects[i], "true", &p, &e),
		    -EINVAL);
		assert_string_equal(e.found, "true");
		assert_string_equal(e.allowed, "an object");
	}
}

static void
test_unknown_keys(void **state)
{
	static const struct {
		const char *sect, *allowed;
	} sects[] = {
		{ "overload", "detector, threshold, safety, fallback_threshold, "
		    "min_history, window, band_high, confidence" },
		{ "selection", "method, seed" },
		{ "placement", "order, max_util" },
		{ "underload", "enabled, max_util, exclude_targets, max_hosts" },
		{ "power", "switch_off_empty, reserve_hosts, min_hosts_on, "
		    "wake_after_samples" },
	};
	struct pol_policy p;
	struct pol_policy_error e;
	char what[512];

	(void)state;
	assert_int_equal(parse("{\"overlaod\": {}}", &p, &e), -EINVAL);
	assert_error(&e, 1, 2, "unknown key \"overlaod\" at top level; "
	    "allowed: " ALLOWED_TOP);
	assert_string_equal(e.found, "\"overlaod\"");
	assert_string_equal(e.allowed, ALLOWED_TOP);
	/* A knob is known only in its own section. */
	assert_int_equal(parse("{\"safety\": 1.2}", &p, &e), -EINVAL);
	assert_error(&e, 1, 2, "unknown key \"safety\" at top level; "
	    "allowed: " ALLOWED_TOP);
	assert_int_equal(parse("{\"overload.safety\": 1.2}", &p, &e),
	    -EINVAL);
	assert_error(&e, 1, 2, "unknown key \"overload.safety\" at top level; "
	    "allowed: " ALLOWED_TOP);
	assert_int_equal(parse("{\"Name\": \"x\"}", &p, &e), -EINVAL);
	assert_int_equal(parse("{\"\": 1}", &p, &e), -EINVAL);
	assert_error(&e, 1, 2, "unknown key \"\" at top level; allowed: "
	    ALLOWED_TOP);

	for (size_t i = 0; i < EBB_NITEMS(sects); i++) {
		assert_int_equal(parse_one(sects[i].sect, "nope", "1", &p, &e),
		    -EINVAL);
		snprintf(what, sizeof(what), "unknown key \"nope\" in %s; "
		    "allowed: %s", sects[i].sect, sects[i].allowed);
		assert_error(&e, 1, (int)strlen(sects[i].sect) + 7, what);
		assert_string_equal(e.allowed, sects[i].allowed);
		/* A section's name is no key inside another. */
		assert_int_equal(parse_one(sects[i].sect, "power", "{}", &p,
		    &e), -EINVAL);
	}
	/* The header's old spelling of the placement knob. */
	assert_int_equal(parse_one("placement", "method", "\"pabfd\"", &p, &e),
	    -EINVAL);
	assert_error(&e, 1, 16, "unknown key \"method\" in placement; "
	    "allowed: order, max_util");
}

static void
test_duplicate_keys(void **state)
{
	struct pol_policy p;
	struct pol_policy_error e;

	(void)state;
	assert_int_equal(parse("{\"name\": \"a\",\n \"name\": \"b\"}", &p,
	    &e), -EINVAL);
	assert_error(&e, 2, 2, "duplicate key \"name\" at top level");
	assert_string_equal(e.found, "\"name\"");

	assert_int_equal(parse("{\n"
	    "  \"overload\": {\n"
	    "    \"safety\": 1.2,\n"
	    "    \"window\": 10,\n"
	    "    \"safety\": 1.3\n"
	    "  }\n"
	    "}\n", &p, &e), -EINVAL);
	assert_error(&e, 5, 5, "duplicate key \"safety\" in overload");

	/* Equal once decoded is equal: jansson compares decoded keys too. */
	assert_int_equal(parse("{\"name\": \"a\", \"n\\u0061me\": \"b\"}", &p,
	    &e), -EINVAL);
	assert_error(&e, 1, 15, "duplicate key \"n\\u0061me\" at top level");

	/*
	 * Anywhere in the document, before any other check: strings with
	 * brackets and escaped quotes in front must not confuse the walk.
	 */
	assert_int_equal(parse("{\"x\": [1, \"]}\\\"{\", {\"a\": [], \"b\": "
	    "{\"c\": 1, \"c\": 2}}]}", &p, &e), -EINVAL);
	assert_error(&e, 1, 44, "duplicate key \"c\" in x[2].b");

	/* The same key in two sections is no duplicate. */
	assert_int_equal(parse("{\"placement\": {\"max_util\": 0.9}, "
	    "\"underload\": {\"max_util\": 0.2}}", &p, &e), 0);
	assert_true(p.placement.max_util == 0.9);
	assert_true(p.underload.max_util == 0.2);
}

static void
test_malformed(void **state)
{
	struct pol_policy p;
	struct pol_policy_error e;

	(void)state;
	/* A trailing comma: jansson stops at the '}' after it. */
	assert_int_equal(parse("{\n  \"name\": \"x\",\n}\n", &p, &e),
	    -EINVAL);
	assert_error(&e, 3, 1, "malformed JSON: string or '}' expected near "
	    "'}'");
	assert_string_equal(e.found, "");

	/* Cut short after a newline: the position is the empty last line. */
	assert_int_equal(parse("{\n  \"name\": \"x\",\n", &p, &e), -EINVAL);
	assert_error(&e, 3, 1, "malformed JSON: string or '}' expected near "
	    "end of file");
	assert_int_equal(parse("{\"overload\": {\"safety\": 1.", &p, &e),
	    -EINVAL);
	assert_int_equal(e.line, 1);

	assert_int_equal(parse("", &p, &e), -EINVAL);
	assert_error(&e, 1, 1, "malformed JSON: unexpected token near end of "
	    "file");
	assert_int_equal(parse("{} {}", &p, &e), -EINVAL);
	assert_error(&e, 1, 4, "malformed JSON: end of file expected near "
	    "'{'");
	assert_int_equal(parse("{\"name\": 'x'}", &p, &e), -EINVAL);
	assert_int_equal(e.line, 1);
	assert_int_equal(parse("{\"overload\": {\"safety\": 1e999}}", &p, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "malformed JSON: "));

	assert_int_equal(pol_policy_parse(NULL, "t.json", &p, &e), -EINVAL);
	assert_error(&e, 0, 0, "no policy text");
}

/* The error names the file it was given, or a stand-in. */
static void
test_file_names(void **state)
{
	struct pol_policy p;
	struct pol_policy_error e;

	(void)state;
	assert_int_equal(pol_policy_parse("{\n  \"overload\": {\n"
	    "    \"detector\": \"lr\",\n    \"safety\":   -1\n  }\n}\n",
	    "policies/x.json", &p, &e), -EINVAL);
	assert_string_equal(e.msg, "policies/x.json:4:17: error: "
	    "overload.safety: found -1, allowed a number from 0 to 10");
	assert_int_equal(pol_policy_parse("[]", NULL, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "<policy>:1:1: error: top level: found "
	    "an array, allowed an object");
	/* No err: the result is all the caller gets. */
	assert_int_equal(pol_policy_parse("[]", "x", &p, NULL), -EINVAL);
}

/* Positions in a multi-line document with escapes and UTF-8 before them. */
static void
test_positions(void **state)
{
	struct pol_policy p, before;
	struct pol_policy_error e;

	(void)state;
	/* The messages of pol_policy.h, at their positions. */
	assert_int_equal(parse("{\n  \"name\": \"x\",\n    \"overlaod\": {}\n}",
	    &p, &e), -EINVAL);
	assert_error(&e, 3, 5, "unknown key \"overlaod\" at top level; "
	    "allowed: " ALLOWED_TOP);
	assert_int_equal(parse("{\"overload\":\n{\"detector\": \"foo\"}}", &p,
	    &e), -EINVAL);
	assert_error(&e, 2, 14, "overload.detector: found \"foo\", allowed "
	    "one of thr, iqr, mad, lr, lrr, band");

	/* Columns count characters: "é" is two bytes, one column. */
	assert_int_equal(parse("{\"description\": \"\xc3\xa9\", \"name\": 5}",
	    &p, &e), -EINVAL);
	assert_int_equal(e.column, 30);
	/* Escaped quotes and backslashes are inside their string. */
	assert_int_equal(parse("{\"description\": \"a\\\"b\\\\\", "
	    "\"name\": 5}", &p, &e), -EINVAL);
	assert_int_equal(e.column, 35);
	/* A key spelt with escapes is found by what it means. */
	assert_int_equal(parse("{\"n\\u0061me\": 5}", &p, &e), -EINVAL);
	assert_error(&e, 1, 15, "name: found 5, allowed 1 to 63 characters "
	    "of A-Z a-z 0-9 . _ -");
	assert_int_equal(parse("{\"\\ud83d\\ude00\": 1}", &p, &e), -EINVAL);
	assert_error(&e, 1, 2, "unknown key \"\\ud83d\\ude00\" at top level; "
	    "allowed: " ALLOWED_TOP);
	assert_int_equal(parse("{\"\xf0\x9f\x98\x80\": 1, \"x\": 1}", &p,
	    &e), -EINVAL);
	assert_int_equal(e.column, 2);

	/*
	 * A description that spells out a wrong value, then the wrong value
	 * itself: the position is the real one, on line 9.
	 */
	pol_policy_defaults(&before);
	p = before;
	assert_int_equal(parse(
	    "{\n"
	    "\t\"name\": \"lr-mmt-1.2\",\n"
	    "\t\"description\": \"\\\"overload\\\": {\\\"safety\\\": -1} "
	    "\xc3\xbcnic\xc3\xb6" "de {[\",\n"
	    "\t\"overload\": {\n"
	    "\t\t\"detector\": \"lr\",\n"
	    "\t\t\"window\": 10\n"
	    "\t},\n"
	    "\t\"selection\": { \"method\": \"mmt\", \"seed\": 7 },\n"
	    "\t\"placement\": { \"order\": \"power\", \"max_util\":  \"1\" }\n"
	    "}\n", &p, &e), -EINVAL);
	assert_error(&e, 9, 48, "placement.max_util: found \"1\", allowed a "
	    "number greater than 0 and at most 1");
	/* A failed parse leaves the caller's policy alone. */
	assert_policy_equal(&p, &before);
	assert_int_equal(p.selection.seed, 42);

	/* The first error in the text is the one reported. */
	assert_int_equal(parse("{\"power\": {\"reserve_hosts\": -1},\n"
	    "\"overload\": {\"safety\": -1}}", &p, &e), -EINVAL);
	assert_error(&e, 1, 29, "power.reserve_hosts: found -1, allowed an "
	    "integer from 0 to 1000000");
}

/* pol_policy_parse(pol_policy_to_json(p)) gives p back. */
static void
round_trip(const struct pol_policy *p)
{
	struct pol_policy q;
	struct pol_policy_error e;
	char *json, *json2;

	json = pol_policy_to_json(p);
	assert_non_null(json);
	memset(&q, 0, sizeof(q));
	if (parse(json, &q, &e) != 0)
		fail_msg("%s\n%s", e.msg, json);
	assert_policy_equal(&q, p);
	json2 = pol_policy_to_json(&q);
	assert_non_null(json2);
	assert_string_equal(json, json2);
	free(json);
	free(json2);
}

static void
test_round_trip(void **state)
{
	struct pol_policy p;
	char *json;
	const char *at, *prev;
	static const char *order[] = { "\"name\"", "\"description\"",
	    "\"overload\"", "\"detector\"", "\"threshold\"", "\"safety\"",
	    "\"fallback_threshold\"", "\"min_history\"", "\"window\"",
	    "\"band_high\"", "\"confidence\"", "\"selection\"", "\"method\"",
	    "\"seed\"", "\"placement\"", "\"order\"", "\"max_util\"",
	    "\"underload\"", "\"enabled\"", "\"max_util\"",
	    "\"exclude_targets\"", "\"max_hosts\"", "\"power\"",
	    "\"switch_off_empty\"", "\"reserve_hosts\"", "\"min_hosts_on\"" };

	(void)state;
	pol_policy_defaults(&p);
	round_trip(&p);

	/* Canonical: every key, in the header's order, short numbers. */
	json = pol_policy_to_json(&p);
	assert_non_null(json);
	prev = json;
	for (size_t i = 0; i < EBB_NITEMS(order); i++) {
		at = strstr(prev, order[i]);
		if (at == NULL)
			fail_msg("%s missing or out of order in\n%s", order[i],
			    json);
		prev = at + 1;
	}
	assert_non_null(strstr(json, "\"safety\": 1.2,"));
	assert_non_null(strstr(json, "\"threshold\": 0.8,"));
	assert_non_null(strstr(json, "\"seed\": 42\n"));
	assert_non_null(strstr(json, "\n  \"overload\": {\n    \"detector\": "
	    "\"lr\",\n"));
	free(json);

	/* Every knob away from its default. */
	snprintf(p.name, sizeof(p.name), "band-mu.x_2");
	snprintf(p.description, sizeof(p.description),
	    "tab\there, \"quotes\", caf\xc3\xa9, \\ and a newline\n");
	p.overload.detector = POL_DET_BAND;
	p.overload.threshold = 0.1 + 0.2;	/* needs 17 digits */
	p.overload.safety = 10;
	p.overload.fallback_threshold = 1.0 / 3;
	p.overload.min_history = 30;
	p.overload.window = 2;
	p.overload.band_high = 5e-324;		/* the smallest double */
	p.overload.confidence = 0;
	p.selection.method = POL_SEL_RS;
	p.selection.seed = 9223372036854775807ULL;
	p.placement.order = POL_ORDER_EFFICIENCY;
	p.placement.max_util = 0.95;
	p.underload.enabled = false;
	p.underload.max_util = 1e-9;
	p.underload.exclude_targets = true;
	p.underload.max_hosts = 1000000;
	p.power.switch_off_empty = false;
	p.power.reserve_hosts = 3;
	p.power.min_hosts_on = 1000000;
	round_trip(&p);

	for (int d = POL_DET_THR; d <= POL_DET_BAND; d++) {
		p.overload.detector = (enum pol_detector)d;
		round_trip(&p);
	}
	for (int s = POL_SEL_MMT; s <= POL_SEL_MU; s++) {
		p.selection.method = (enum pol_selection)s;
		round_trip(&p);
	}
}

/* What JSON cannot hold is refused, not written wrong. */
static void
test_to_json_refuses(void **state)
{
	struct pol_policy p;

	(void)state;
	pol_policy_defaults(&p);
	p.overload.detector = (enum pol_detector)99;
	assert_null(pol_policy_to_json(&p));
	pol_policy_defaults(&p);
	p.overload.safety = NAN;
	assert_null(pol_policy_to_json(&p));
	pol_policy_defaults(&p);
	p.selection.seed = ~0ULL;
	assert_null(pol_policy_to_json(&p));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_is_defaults),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_range_values),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_not_objects),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_file_names),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_to_json_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
