/*
 * test_journal.c - the controller's journal (controller/ctl_journal.c) on
 * real files in a temporary folder per test.
 *
 * Checked: the schema, pragmas and file mode at open, and that reopening
 * migrates nothing; round trips of every function and their refusals
 * (bad arguments, invalid steps, conflicts, unknown decisions); every
 * decision filter alone and combined; the hosts held from power-off
 * (failed and not cleared since); in-flight actions listed after a
 * close without ending them, after a child _exit()s without closing and
 * after a SIGKILL; damaged, foreign, newer and non-SQLite files refused
 * with a clear error; hostile and non-ASCII text round-trips and invalid
 * UTF-8 is refused; two processes on one file, one writing while the other
 * reads and writes, and the busy timeout both expiring and waiting.
 *
 * A child process never inherits an open journal: SQLite's locks are per
 * process, so every fork happens before the parent opens the file.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "ctl_journal.h"
#include "ebb.h"

/* ---- fixture: a temporary folder, and a journal in it ------------------- */

struct fx {
	char			 dir[256];
	char			 path[300];
	struct ctl_journal	*j;
	struct ebb_err		 err;
};

static int
fx_dir(void **state)
{
	struct fx *fx = ebb_calloc(1, sizeof(*fx));
	const char *base = getenv("TMPDIR");

	snprintf(fx->dir, sizeof(fx->dir), "%s/ebb-journal-XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/journal.db", fx->dir);
	*state = fx;
	return 0;
}

static int
fx_open(void **state)
{
	struct fx *fx;

	if (fx_dir(state) != 0)
		return -1;
	fx = *state;
	if (ctl_journal_open(fx->path, &fx->j, &fx->err) != 0) {
		print_error("open: %s\n", fx->err.msg);
		return -1;
	}
	return 0;
}

static int
rm_one(const char *p, const struct stat *sb EBB_UNUSED, int type EBB_UNUSED,
    struct FTW *ftw EBB_UNUSED)
{
	return remove(p);
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	ctl_journal_close(fx->j);
	nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Fails the test with the journal's words when rc is an error. */
static int64_t
ok_(int64_t rc, const struct ebb_err *err, int line)
{
	if (rc < 0)
		fail_msg("line %d: %lld (%s): %s", line, (long long)rc,
		    strerror((int)-rc), err->msg);
	return rc;
}
#define OK(x)	ok_((x), &fx->err, __LINE__)

/* rc must be the error `want`, with a message that mentions `words`. */
static void
refused_(int64_t rc, int want, const struct ebb_err *err, const char *words,
    int line)
{
	if (rc != -want)
		fail_msg("line %d: got %lld, want -%s (%s)", line,
		    (long long)rc, strerror(want), err->msg);
	if (words != NULL && strstr(err->msg, words) == NULL)
		fail_msg("line %d: \"%s\" does not say \"%s\"", line, err->msg,
		    words);
}
#define REFUSED(x, e, words) refused_((x), (e), &fx->err, (words), __LINE__)

static int64_t
decide(struct fx *fx, double ts, const char *kind, const char *subject,
    const char *host, const char *vm, int64_t round)
{
	struct ctl_journal_decision d = {
		.ts = ts, .kind = kind, .subject = subject, .host = host,
		.vm = vm, .reason = "test", .round = round,
	};

	return OK(ctl_journal_decide(fx->j, &d, &fx->err));
}

/* The ids of an array of objects, "1,3,4", for compact comparisons. */
static const char *
ids(json_t *a)
{
	static char buf[256];
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < json_array_size(a); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%lld",
		    i ? "," : "", (long long)json_integer_value(
		    json_object_get(json_array_get(a, i), "id")));
	return buf;
}

static int64_t
count_decisions(struct fx *fx)
{
	json_t *a;
	int64_t n;

	OK(ctl_journal_decisions(fx->j, NULL, &a, &fx->err));
	n = (int64_t)json_array_size(a);
	json_decref(a);
	return n;
}

static const char *
str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("%s is not a string", key);
	return json_string_value(v);
}

static double
num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		fail_msg("%s is not a number", key);
	return json_number_value(v);
}

/* One value read with a connection of the test's own. */
static double
raw_num(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	double v = NAN;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- open --------------------------------------------------------------- */

static void
test_open_schema(void **state)
{
	struct fx *fx = *state;
	struct stat sb;
	json_t *info;
	char mode[16] = "";
	sqlite3 *db;
	sqlite3_stmt *st;

	OK(ctl_journal_info(fx->j, &info, &fx->err));
	assert_string_equal(str(info, "journal_mode"), "wal");
	assert_string_equal(str(info, "synchronous"), "full");
	assert_true(json_is_true(json_object_get(info, "foreign_keys")));
	assert_int_equal(num(info, "schema"), CTL_JOURNAL_SCHEMA);
	assert_int_equal(num(info, "busy_timeout_ms"), CTL_JOURNAL_BUSY_MS);
	assert_string_equal(str(info, "path"), fx->path);
	json_decref(info);

	/* The file says so too, to any other reader. */
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(mode, sizeof(mode), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_string_equal(mode, "wal");
	assert_int_equal(raw_num(fx->path, "PRAGMA application_id"),
	    0x65626231);

	/* Reopening an up-to-date journal migrates nothing. */
	ctl_journal_close(fx->j);
	fx->j = NULL;
	OK(ctl_journal_open(fx->path, &fx->j, &fx->err));
	assert_int_equal(raw_num(fx->path, "SELECT count(*) FROM"
	    " schema_version"), 1);
	assert_int_equal(raw_num(fx->path, "SELECT max(version) FROM"
	    " schema_version"), CTL_JOURNAL_SCHEMA);

	ctl_journal_set_busy_timeout(fx->j, 250);
	OK(ctl_journal_info(fx->j, &info, &fx->err));
	assert_int_equal(num(info, "busy_timeout_ms"), 250);
	json_decref(info);
}

static void
test_open_memory(void **state)
{
	struct fx *fx = *state;
	struct ctl_journal *mem;
	json_t *info, *a;

	OK(ctl_journal_open(":memory:", &mem, &fx->err));
	OK(ctl_journal_info(mem, &info, &fx->err));
	assert_string_equal(str(info, "journal_mode"), "memory");
	json_decref(info);
	{
		struct ctl_journal_decision d = {
			.ts = 1, .kind = "policy", .subject = "fleet",
			.reason = "loaded",
		};
		assert_int_equal(OK(ctl_journal_decide(mem, &d, &fx->err)), 1);
	}
	OK(ctl_journal_decisions(mem, NULL, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	ctl_journal_close(mem);
	ctl_journal_close(NULL);
}

/* ---- decisions ---------------------------------------------------------- */

static void
test_decision_round_trip(void **state)
{
	struct fx *fx = *state;
	json_t *inputs, *a, *o;
	int64_t id, id2, id3;
	struct ctl_journal_decision d = {
		.ts = 1700000000.25, .kind = "migrate", .subject = "vm-7",
		.host = "h1", .vm = "vm-7", .reason = "h1 overloaded (MAD)",
		.round = 42,
	};

	inputs = json_pack("{s:f, s:i, s:[f,f], s:s}", "util", 0.93,
	    "hosts_on", 12, "hist", 0.5, 0.75, "detector", "mad");
	d.inputs = inputs;
	id = OK(ctl_journal_decide(fx->j, &d, &fx->err));
	assert_true(id > 0);

	OK(ctl_journal_decisions(fx->j, NULL, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	o = json_array_get(a, 0);
	assert_int_equal(num(o, "id"), id);
	assert_true(num(o, "ts") == 1700000000.25);
	assert_string_equal(str(o, "kind"), "migrate");
	assert_string_equal(str(o, "subject"), "vm-7");
	assert_string_equal(str(o, "host"), "h1");
	assert_string_equal(str(o, "vm"), "vm-7");
	assert_string_equal(str(o, "reason"), "h1 overloaded (MAD)");
	assert_string_equal(str(o, "outcome"), "pending");
	assert_int_equal(num(o, "round"), 42);
	assert_true(num(o, "updated_ts") == 1700000000.25);
	assert_true(json_equal(json_object_get(o, "inputs"), inputs));
	assert_int_equal(json_object_size(o), 11);
	json_decref(a);
	json_decref(inputs);

	/* Absent host, vm and inputs; an outcome given at once. */
	d = (struct ctl_journal_decision){
		.ts = 5, .kind = "policy", .subject = "fleet",
		.reason = "policy file reloaded", .outcome = "done",
	};
	id2 = OK(ctl_journal_decide(fx->j, &d, &fx->err));
	assert_true(id2 > id);
	OK(ctl_journal_decisions(fx->j, &(struct ctl_journal_filter){
	    .after_id = id }, &a, &fx->err));
	o = json_array_get(a, 0);
	assert_true(json_is_null(json_object_get(o, "host")));
	assert_true(json_is_null(json_object_get(o, "vm")));
	assert_int_equal(json_object_size(json_object_get(o, "inputs")), 0);
	assert_string_equal(str(o, "outcome"), "done");
	assert_int_equal(num(o, "round"), 0);
	json_decref(a);

	/* Outcomes: pending -> done once; repeating it is harmless. */
	OK(ctl_journal_set_outcome(fx->j, id, "done", 1700000100, &fx->err));
	OK(ctl_journal_set_outcome(fx->j, id, "done", 1700000200, &fx->err));
	REFUSED(ctl_journal_set_outcome(fx->j, id, "failed: agent gone", 1,
	    &fx->err), EALREADY, "already ended (done)");
	OK(ctl_journal_decisions(fx->j, &(struct ctl_journal_filter){
	    .limit = 1 }, &a, &fx->err));
	o = json_array_get(a, 0);
	assert_string_equal(str(o, "outcome"), "done");
	assert_true(num(o, "updated_ts") == 1700000100);
	json_decref(a);

	d.outcome = NULL;
	id3 = OK(ctl_journal_decide(fx->j, &d, &fx->err));
	OK(ctl_journal_set_outcome(fx->j, id3, "failed: ipmi: no route to host",
	    10, &fx->err));
	id3 = OK(ctl_journal_decide(fx->j, &d, &fx->err));
	OK(ctl_journal_set_outcome(fx->j, id3, "cancelled", 10, &fx->err));
	REFUSED(ctl_journal_set_outcome(fx->j, 9999, "done", 10, &fx->err),
	    ENOENT, "decision 9999: not in the journal");

	/* Refusals, and none of them writes anything. */
	id3 = OK(ctl_journal_decide(fx->j, &d, &fx->err));
	REFUSED(ctl_journal_set_outcome(fx->j, id3, "failed", 10, &fx->err),
	    EINVAL, "failed: why");
	REFUSED(ctl_journal_set_outcome(fx->j, id3, "failed: ", 10, &fx->err),
	    EINVAL, NULL);
	REFUSED(ctl_journal_set_outcome(fx->j, id3, "ok", 10, &fx->err),
	    EINVAL, NULL);
	REFUSED(ctl_journal_set_outcome(fx->j, id3, NULL, 10, &fx->err),
	    EINVAL, "outcome missing");
	REFUSED(ctl_journal_set_outcome(fx->j, id3, "done", NAN, &fx->err),
	    EINVAL, NULL);
	assert_int_equal(count_decisions(fx), 5);

	d = (struct ctl_journal_decision){
		.ts = 5, .kind = "policy", .subject = "fleet", .reason = "r",
	};
	d.kind = NULL;
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL,
	    "decision kind missing");
	d.kind = "policy";
	d.subject = "";
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL,
	    "decision subject is empty");
	d.subject = "fleet";
	d.reason = NULL;
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL, "reason");
	d.reason = "r";
	d.host = "";
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL, "host");
	d.host = NULL;
	d.ts = NAN;
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL, "time");
	d.ts = -1;
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL, "time");
	d.ts = 5;
	d.round = -1;
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL, "round");
	d.round = 0;
	d.outcome = "maybe";
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL, "maybe");
	d.outcome = NULL;
	inputs = json_array();
	d.inputs = inputs;
	REFUSED(ctl_journal_decide(fx->j, &d, &fx->err), EINVAL, "object");
	json_decref(inputs);
	assert_int_equal(count_decisions(fx), 5);
}

static void
check_ids(struct fx *fx, const struct ctl_journal_filter *f, const char *want)
{
	json_t *a;

	OK(ctl_journal_decisions(fx->j, f, &a, &fx->err));
	assert_string_equal(ids(a), want);
	json_decref(a);
}

static void
test_decision_filters(void **state)
{
	struct fx *fx = *state;
	json_t *a;
	int pass;

	decide(fx, 100, "migrate", "vm1", "h1", "vm1", 1);	/* 1 */
	decide(fx, 110, "power-off", "h2", "h2", NULL, 1);	/* 2 */
	decide(fx, 120, "keep-on", "h1", "h1", NULL, 2);	/* 3 */
	decide(fx, 130, "migrate", "vm2", "h2", "vm2", 2);	/* 4 */
	decide(fx, 140, "no-target", "vm1", NULL, "vm1", 3);	/* 5 */
	OK(ctl_journal_set_outcome(fx->j, 1, "done", 150, &fx->err));
	OK(ctl_journal_set_outcome(fx->j, 2, "failed: ipmi timeout", 150,
	    &fx->err));
	OK(ctl_journal_set_outcome(fx->j, 4, "cancelled", 150, &fx->err));

	/* Twice: the second pass runs the statements cached by the first. */
	for (pass = 0; pass < 2; pass++) {
		check_ids(fx, NULL, "1,2,3,4,5");
		check_ids(fx, &(struct ctl_journal_filter){ 0 }, "1,2,3,4,5");
		check_ids(fx, &(struct ctl_journal_filter){ .since_ts = 120 },
		    "3,4,5");
		check_ids(fx, &(struct ctl_journal_filter){ .host = "h1" },
		    "1,3");
		check_ids(fx, &(struct ctl_journal_filter){ .vm = "vm1" },
		    "1,5");
		check_ids(fx, &(struct ctl_journal_filter){ .kind = "migrate" },
		    "1,4");
		check_ids(fx, &(struct ctl_journal_filter){ .outcome =
		    "failed" }, "2");
		check_ids(fx, &(struct ctl_journal_filter){ .outcome =
		    "failed: ipmi timeout" }, "2");
		check_ids(fx, &(struct ctl_journal_filter){ .outcome =
		    "pending" }, "3,5");
		check_ids(fx, &(struct ctl_journal_filter){ .round = 2 },
		    "3,4");
		check_ids(fx, &(struct ctl_journal_filter){ .after_id = 3 },
		    "4,5");
		check_ids(fx, &(struct ctl_journal_filter){ .limit = 2 },
		    "1,2");
		check_ids(fx, &(struct ctl_journal_filter){ .limit = 2,
		    .newest = true }, "4,5");
		check_ids(fx, &(struct ctl_journal_filter){ .newest = true },
		    "1,2,3,4,5");
		check_ids(fx, &(struct ctl_journal_filter){ .host = "h1",
		    .kind = "keep-on" }, "3");
		check_ids(fx, &(struct ctl_journal_filter){ .since_ts = 105,
		    .kind = "migrate" }, "4");
		check_ids(fx, &(struct ctl_journal_filter){ .host = "h2",
		    .limit = 1, .newest = true }, "4");
		check_ids(fx, &(struct ctl_journal_filter){ .vm = "vm1",
		    .round = 3, .outcome = "pending", .since_ts = 1,
		    .after_id = 1, .kind = "no-target", .host = NULL },
		    "5");
		check_ids(fx, &(struct ctl_journal_filter){ .host = "h9" }, "");
		check_ids(fx, &(struct ctl_journal_filter){ .since_ts = 1e12 },
		    "");
	}
	REFUSED(ctl_journal_decisions(fx->j, &(struct ctl_journal_filter){
	    .limit = -1 }, &a, &fx->err), EINVAL, NULL);
	REFUSED(ctl_journal_decisions(fx->j, &(struct ctl_journal_filter){
	    .since_ts = NAN }, &a, &fx->err), EINVAL, NULL);
}

/* ---- state changes ------------------------------------------------------ */

static int64_t
change(struct fx *fx, enum ctl_journal_subject kind, const char *subject,
    const char *from, const char *to, int64_t decision)
{
	struct ctl_journal_change c = {
		.ts = 200, .kind = kind, .subject = subject, .from = from,
		.to = to, .why = "test", .decision = decision,
	};

	return ctl_journal_change(fx->j, &c, &fx->err);
}

static void
test_state_changes(void **state)
{
	struct fx *fx = *state;
	int64_t d, c1, c2;
	json_t *a, *o;

	d = decide(fx, 100, "drain", "h1", "h1", NULL, 1);
	c1 = OK(change(fx, CTL_JOURNAL_HOST, "h1", NULL, "on", 0));
	c2 = OK(change(fx, CTL_JOURNAL_HOST, "h1", "on", "draining", d));
	assert_true(c2 > c1);
	OK(change(fx, CTL_JOURNAL_HOST, "h2", "unknown", "off", 0));
	OK(change(fx, CTL_JOURNAL_VM, "vm1", NULL, "running", 0));
	OK(change(fx, CTL_JOURNAL_VM, "vm1", "running", "migrating", d));

	/* A stale picture is refused, and so are names the policy lacks. */
	REFUSED(change(fx, CTL_JOURNAL_HOST, "h1", "on", "empty", d), ESTALE,
	    "host h1 is \"draining\" in the journal, not \"on\"");
	REFUSED(change(fx, CTL_JOURNAL_HOST, "h1", "draining", "bogus", 0),
	    EINVAL, "\"bogus\" is not a host state");
	REFUSED(change(fx, CTL_JOURNAL_HOST, "h1", "sleepy", "off", 0),
	    EINVAL, "\"sleepy\" is not a host state");
	REFUSED(change(fx, CTL_JOURNAL_HOST, "h1", "draining", "empty", 9999),
	    ENOENT, "decision 9999 is not in the journal");
	REFUSED(change(fx, (enum ctl_journal_subject)7, "h1", NULL, "on", 0),
	    EINVAL, NULL);
	REFUSED(change(fx, CTL_JOURNAL_HOST, NULL, NULL, "on", 0), EINVAL,
	    "subject");
	{
		struct ctl_journal_change c = {
			.ts = 1, .kind = CTL_JOURNAL_VM, .subject = "vm1",
			.to = "x", .why = "",
		};
		REFUSED(ctl_journal_change(fx->j, &c, &fx->err), EINVAL,
		    "why");
	}
	/* Without `from`, nothing is compared (first sighting, operator). */
	OK(change(fx, CTL_JOURNAL_HOST, "h1", NULL, "maintenance", 0));
	OK(change(fx, CTL_JOURNAL_HOST, "h1", "maintenance", "draining", d));

	OK(ctl_journal_latest_states(fx->j, CTL_JOURNAL_HOST, &a, &fx->err));
	assert_int_equal(json_array_size(a), 2);
	o = json_array_get(a, 0);
	assert_string_equal(str(o, "subject"), "h1");
	assert_string_equal(str(o, "state"), "draining");
	assert_int_equal(num(o, "decision"), d);
	assert_true(num(o, "since") == 200);
	assert_string_equal(str(o, "why"), "test");
	assert_true(num(o, "change") > c2);
	o = json_array_get(a, 1);
	assert_string_equal(str(o, "subject"), "h2");
	assert_string_equal(str(o, "state"), "off");
	assert_true(json_is_null(json_object_get(o, "decision")));
	json_decref(a);

	OK(ctl_journal_latest_states(fx->j, CTL_JOURNAL_VM, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(str(json_array_get(a, 0), "state"), "migrating");
	json_decref(a);
	REFUSED(ctl_journal_latest_states(fx->j, (enum ctl_journal_subject)9,
	    &a, &fx->err), EINVAL, NULL);

	/* The log keeps every step, with its `from`. */
	assert_int_equal(raw_num(fx->path, "SELECT count(*) FROM"
	    " state_changes"), 7);
}

/* A host's change to `to` at ts, from anything. */
static void
host_at(struct fx *fx, double ts, const char *host, const char *to)
{
	struct ctl_journal_change c = {
		.ts = ts, .kind = CTL_JOURNAL_HOST, .subject = host, .to = to,
		.why = to,
	};

	OK(ctl_journal_change(fx->j, &c, &fx->err));
}

/* An operator's clear of host at ts, ended with outcome (NULL: pending). */
static void
clear_at(struct fx *fx, double ts, const char *host, const char *outcome)
{
	int64_t d = decide(fx, ts, "clear", host, host, NULL, 0);

	if (outcome != NULL)
		OK(ctl_journal_set_outcome(fx->j, d, outcome, ts, &fx->err));
}

/*
 * Hosts held from power-off: failed and not cleared since, whatever
 * state they reached after; a clear that did not end "done", or is not
 * later than the failure, does not release it.
 */
static void
test_power_held(void **state)
{
	struct fx *fx = *state;
	char names[256] = "";
	json_t *a, *o;
	size_t i;

	OK(ctl_journal_power_held(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);

	host_at(fx, 100, "back", "powering-on");
	host_at(fx, 200, "back", "failed");
	host_at(fx, 210, "back", "on");		/* hello, no clear */
	host_at(fx, 200, "cleared", "failed");
	host_at(fx, 210, "cleared", "on");
	clear_at(fx, 300, "cleared", "done");
	host_at(fx, 200, "again", "failed");
	clear_at(fx, 300, "again", "done");
	host_at(fx, 310, "again", "unknown");
	host_at(fx, 400, "again", "failed");	/* failed since the clear */
	host_at(fx, 200, "pending", "failed");
	clear_at(fx, 300, "pending", NULL);	/* stopped before acting */
	host_at(fx, 200, "refused", "failed");
	clear_at(fx, 300, "refused", "failed: stopped");
	host_at(fx, 200, "tie", "failed");
	clear_at(fx, 200, "tie", "done");
	clear_at(fx, 300, "never", "done");	/* a clear, no failure */
	host_at(fx, 300, "never", "on");
	clear_at(fx, 300, "other", "done");	/* not its own clear */
	host_at(fx, 200, "other-failed", "failed");
	OK(change(fx, CTL_JOURNAL_VM, "vm1", NULL, "failed", 0));

	OK(ctl_journal_power_held(fx->j, &a, &fx->err));
	json_array_foreach(a, i, o)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		    "%s%s", i ? "," : "", str(o, "host"));
	assert_string_equal(names, "again,back,other-failed,pending,refused,"
	    "tie");
	o = json_array_get(a, 0);
	assert_true(num(o, "since") == 400);
	assert_string_equal(str(o, "why"), "failed");
	assert_true(num(o, "change") > 0);
	json_decref(a);
}

/* ---- actions in flight -------------------------------------------------- */

static int64_t
migration(struct fx *fx, int64_t d, const char *vm, const char *from,
    const char *to)
{
	struct ctl_journal_migration m = {
		.ts = 300, .decision = d, .vm = vm, .from = from, .to = to,
		.token = "tok-123",
	};

	return ctl_journal_migration_add(fx->j, &m, &fx->err);
}

static int64_t
power(struct fx *fx, int64_t d, const char *host, bool on)
{
	struct ctl_journal_power p = {
		.ts = 400, .decision = d, .host = host, .on = on,
		.driver = "ipmi",
	};

	return ctl_journal_power_add(fx->j, &p, &fx->err);
}

static void
test_migrations(void **state)
{
	struct fx *fx = *state;
	int64_t d, m1, m2;
	json_t *a, *o;
	char sql[128];

	d = decide(fx, 100, "migrate", "vm1", "h1", "vm1", 1);
	m1 = OK(migration(fx, d, "vm1", "h1", "h2"));
	OK(ctl_journal_migrations_in_flight(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	o = json_array_get(a, 0);
	assert_int_equal(num(o, "id"), m1);
	assert_int_equal(num(o, "decision"), d);
	assert_string_equal(str(o, "vm"), "vm1");
	assert_string_equal(str(o, "from"), "h1");
	assert_string_equal(str(o, "to"), "h2");
	assert_string_equal(str(o, "token"), "tok-123");
	assert_string_equal(str(o, "state"), "planned");
	assert_true(num(o, "ts") == 300);
	assert_true(json_is_null(json_object_get(o, "started_ts")));
	assert_true(json_is_null(json_object_get(o, "ended_ts")));
	json_decref(a);

	/* One copy of a VM: one migration of it in flight at a time. */
	REFUSED(migration(fx, d, "vm1", "h1", "h3"), EEXIST,
	    "already has a migration in flight");
	REFUSED(migration(fx, 9999, "vm2", "h1", "h3"), ENOENT,
	    "decision 9999 is not in the journal");
	REFUSED(migration(fx, 0, "vm2", "h1", "h3"), EINVAL, "no decision");
	REFUSED(migration(fx, d, "vm2", "h1", "h1"), EINVAL, "same host");
	REFUSED(migration(fx, d, "vm2", NULL, "h1"), EINVAL, "source");

	REFUSED(ctl_journal_migration_set(fx->j, m1, CTL_JOURNAL_MIG_COMMITTED,
	    310, &fx->err), EINVAL, "planned -> committed is not a valid step");
	OK(ctl_journal_migration_set(fx->j, m1, CTL_JOURNAL_MIG_STARTED, 310,
	    &fx->err));
	OK(ctl_journal_migration_set(fx->j, m1, CTL_JOURNAL_MIG_STARTED, 315,
	    &fx->err));
	REFUSED(ctl_journal_migration_set(fx->j, m1, CTL_JOURNAL_MIG_PLANNED,
	    316, &fx->err), EINVAL, NULL);
	OK(ctl_journal_migrations_in_flight(fx->j, &a, &fx->err));
	o = json_array_get(a, 0);
	assert_string_equal(str(o, "state"), "started");
	assert_true(num(o, "started_ts") == 310);
	json_decref(a);

	OK(ctl_journal_migration_set(fx->j, m1, CTL_JOURNAL_MIG_COMMITTED, 320,
	    &fx->err));
	OK(ctl_journal_migrations_in_flight(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	REFUSED(ctl_journal_migration_set(fx->j, m1,
	    CTL_JOURNAL_MIG_ROLLED_BACK, 330, &fx->err), EINVAL,
	    "committed -> rolled-back");
	snprintf(sql, sizeof(sql), "SELECT ended_ts FROM migrations WHERE"
	    " id = %lld", (long long)m1);
	assert_true(raw_num(fx->path, sql) == 320);

	/* Ended, the VM may move again; a plan can fail before it starts. */
	m2 = OK(migration(fx, d, "vm1", "h2", "h3"));
	OK(ctl_journal_migration_set(fx->j, m2, CTL_JOURNAL_MIG_FAILED, 340,
	    &fx->err));
	snprintf(sql, sizeof(sql), "SELECT ended_ts + coalesce(started_ts,"
	    " 1000) FROM migrations WHERE id = %lld", (long long)m2);
	assert_true(raw_num(fx->path, sql) == 1340);
	m2 = OK(migration(fx, d, "vm1", "h2", "h3"));
	OK(ctl_journal_migration_set(fx->j, m2, CTL_JOURNAL_MIG_STARTED, 350,
	    &fx->err));
	OK(ctl_journal_migration_set(fx->j, m2, CTL_JOURNAL_MIG_ROLLED_BACK,
	    360, &fx->err));

	REFUSED(ctl_journal_migration_set(fx->j, 9999, CTL_JOURNAL_MIG_STARTED,
	    1, &fx->err), ENOENT, "migration 9999: not in the journal");
	REFUSED(ctl_journal_migration_set(fx->j, m2,
	    (enum ctl_journal_mig_state)99, 1, &fx->err), EINVAL, NULL);
	assert_string_equal(ctl_journal_mig_state_name(
	    CTL_JOURNAL_MIG_ROLLED_BACK), "rolled-back");
	assert_null(ctl_journal_mig_state_name((enum ctl_journal_mig_state)9));
}

static void
test_power_actions(void **state)
{
	struct fx *fx = *state;
	int64_t d, p1, p2, m;
	json_t *a, *o;

	d = decide(fx, 100, "power-off", "h3", "h3", NULL, 1);
	p1 = OK(power(fx, d, "h3", false));
	OK(ctl_journal_power_in_flight(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	o = json_array_get(a, 0);
	assert_int_equal(num(o, "id"), p1);
	assert_int_equal(num(o, "decision"), d);
	assert_string_equal(str(o, "host"), "h3");
	assert_string_equal(str(o, "action"), "off");
	assert_string_equal(str(o, "driver"), "ipmi");
	assert_string_equal(str(o, "state"), "planned");
	assert_true(num(o, "ts") == 400);
	assert_true(json_is_null(json_object_get(o, "deadline_ts")));
	json_decref(a);

	REFUSED(power(fx, d, "h3", true), EEXIST,
	    "already has a power action in flight");
	/* Nothing moves to or from a host being switched off. */
	REFUSED(migration(fx, d, "vm5", "h1", "h3"), EEXIST,
	    "a power-off of host h3 is in flight");
	REFUSED(migration(fx, d, "vm5", "h3", "h1"), EEXIST, "h3");

	OK(ctl_journal_power_set(fx->j, p1, CTL_JOURNAL_POWER_STARTED, 410,
	    440, &fx->err));
	OK(ctl_journal_power_in_flight(fx->j, &a, &fx->err));
	o = json_array_get(a, 0);
	assert_string_equal(str(o, "state"), "started");
	assert_true(num(o, "started_ts") == 410);
	assert_true(num(o, "deadline_ts") == 440);
	json_decref(a);
	/* Same state, a later deadline: only the deadline moves. */
	OK(ctl_journal_power_set(fx->j, p1, CTL_JOURNAL_POWER_STARTED, 420,
	    470, &fx->err));
	OK(ctl_journal_power_in_flight(fx->j, &a, &fx->err));
	o = json_array_get(a, 0);
	assert_true(num(o, "started_ts") == 410);
	assert_true(num(o, "deadline_ts") == 470);
	json_decref(a);
	REFUSED(ctl_journal_power_set(fx->j, p1, CTL_JOURNAL_POWER_DONE, 430,
	    -5, &fx->err), EINVAL, "deadline");
	OK(ctl_journal_power_set(fx->j, p1, CTL_JOURNAL_POWER_DONE, 430, 0,
	    &fx->err));
	REFUSED(ctl_journal_power_set(fx->j, p1, CTL_JOURNAL_POWER_STARTED, 431,
	    0, &fx->err), EINVAL, "done -> started");
	OK(ctl_journal_power_in_flight(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	assert_true(raw_num(fx->path, "SELECT ended_ts FROM power_actions") ==
	    430);

	/* A migration target may be woken, never switched off meanwhile. */
	m = OK(migration(fx, d, "vm9", "h4", "h5"));
	REFUSED(power(fx, d, "h5", false), EEXIST,
	    "a migration of VM vm9 is in flight");
	REFUSED(power(fx, d, "h4", false), EEXIST, "vm9");
	p2 = OK(power(fx, d, "h5", true));
	OK(ctl_journal_power_set(fx->j, p2, CTL_JOURNAL_POWER_FAILED, 500, 0,
	    &fx->err));
	OK(ctl_journal_migration_set(fx->j, m, CTL_JOURNAL_MIG_FAILED, 500,
	    &fx->err));
	OK(power(fx, d, "h5", false));

	{
		struct ctl_journal_power p = {
			.ts = 1, .decision = d, .host = "h7", .driver = NULL,
		};
		REFUSED(ctl_journal_power_add(fx->j, &p, &fx->err), EINVAL,
		    "driver");
		p.driver = "wol";
		p.deadline_ts = INFINITY;
		REFUSED(ctl_journal_power_add(fx->j, &p, &fx->err), EINVAL,
		    "deadline");
		p.deadline_ts = 0;
		p.decision = 0;
		REFUSED(ctl_journal_power_add(fx->j, &p, &fx->err), EINVAL,
		    "no decision");
	}
	REFUSED(ctl_journal_power_set(fx->j, 9999, CTL_JOURNAL_POWER_DONE, 1, 0,
	    &fx->err), ENOENT, "power action 9999");
	assert_string_equal(ctl_journal_power_state_name(
	    CTL_JOURNAL_POWER_DONE), "done");
	assert_null(ctl_journal_power_state_name(
	    (enum ctl_journal_power_state)-1));
}

/* ---- key/value ---------------------------------------------------------- */

static void
test_kv(void **state)
{
	struct fx *fx = *state;
	char bytes[256], *v;
	int i;

	REFUSED(ctl_journal_kv_get(fx->j, "policy", &v, &fx->err), ENOENT,
	    "key policy is not set");
	assert_null(v);
	OK(ctl_journal_kv_set(fx->j, "policy", "{\"detector\":\"mad\"}", 1,
	    &fx->err));
	OK(ctl_journal_kv_get(fx->j, "policy", &v, &fx->err));
	assert_string_equal(v, "{\"detector\":\"mad\"}");
	free(v);
	OK(ctl_journal_kv_set(fx->j, "policy", "{}", 2, &fx->err));
	OK(ctl_journal_kv_get(fx->j, "policy", &v, &fx->err));
	assert_string_equal(v, "{}");
	free(v);
	OK(ctl_journal_kv_set(fx->j, "policy", NULL, 3, &fx->err));
	REFUSED(ctl_journal_kv_get(fx->j, "policy", &v, &fx->err), ENOENT,
	    NULL);
	OK(ctl_journal_kv_set(fx->j, "policy", NULL, 3, &fx->err));
	OK(ctl_journal_kv_set(fx->j, "round", "", 3, &fx->err));
	OK(ctl_journal_kv_get(fx->j, "round", &v, &fx->err));
	assert_string_equal(v, "");
	free(v);

	/* Any bytes but NUL, UTF-8 or not. */
	for (i = 0; i < 255; i++)
		bytes[i] = (char)(i + 1);
	bytes[255] = '\0';
	OK(ctl_journal_kv_set(fx->j, "blob", bytes, 4, &fx->err));
	OK(ctl_journal_kv_get(fx->j, "blob", &v, &fx->err));
	assert_memory_equal(v, bytes, 256);
	free(v);

	/* A lease: taken only if free, renewed only by its holder. */
	OK(ctl_journal_kv_swap(fx->j, "lease", NULL, "ctl-a until 100", 5,
	    &fx->err));
	REFUSED(ctl_journal_kv_swap(fx->j, "lease", NULL, "ctl-b until 100", 6,
	    &fx->err), ESTALE, "key lease: has another value");
	REFUSED(ctl_journal_kv_swap(fx->j, "lease", "ctl-b until 90",
	    "ctl-b until 110", 6, &fx->err), ESTALE, NULL);
	OK(ctl_journal_kv_swap(fx->j, "lease", "ctl-a until 100",
	    "ctl-a until 130", 7, &fx->err));
	OK(ctl_journal_kv_get(fx->j, "lease", &v, &fx->err));
	assert_string_equal(v, "ctl-a until 130");
	free(v);
	OK(ctl_journal_kv_swap(fx->j, "lease", "ctl-a until 130", NULL, 8,
	    &fx->err));
	REFUSED(ctl_journal_kv_swap(fx->j, "lease", "ctl-a until 130", "x", 9,
	    &fx->err), ESTALE, "key lease: is not set");

	REFUSED(ctl_journal_kv_set(fx->j, NULL, "x", 1, &fx->err), EINVAL,
	    "key missing");
	REFUSED(ctl_journal_kv_set(fx->j, "", "x", 1, &fx->err), EINVAL,
	    "key is empty");
	REFUSED(ctl_journal_kv_get(fx->j, "", &v, &fx->err), EINVAL, NULL);
	REFUSED(ctl_journal_kv_set(fx->j, "k", "x", -1, &fx->err), EINVAL,
	    NULL);
}

/* ---- restart and crashes ------------------------------------------------ */

/*
 * What a controller leaves behind mid-round; returns the migration's
 * decision, or -errno.  No cmocka here: a forked child runs it too.
 */
static int64_t
leave_in_flight(struct ctl_journal *j, struct ebb_err *err)
{
	struct ctl_journal_decision d = {
		.ts = 100, .kind = "migrate", .subject = "vm1", .host = "h1",
		.vm = "vm1", .reason = "h1 overloaded", .round = 7,
	};
	struct ctl_journal_migration m = {
		.ts = 100, .vm = "vm1", .from = "h1", .to = "h2",
		.token = "tok-123",
	};
	struct ctl_journal_power p = {
		.ts = 102, .host = "h2", .on = true, .driver = "wol",
	};
	struct ctl_journal_change c = {
		.ts = 103, .kind = CTL_JOURNAL_HOST, .subject = "h2",
		.from = "off", .to = "powering-on", .why = "target for vm1",
	};
	int64_t md, mid, pid;

	if ((md = ctl_journal_decide(j, &d, err)) < 0)
		return md;
	m.decision = md;
	if ((mid = ctl_journal_migration_add(j, &m, err)) < 0)
		return mid;
	if ((mid = ctl_journal_migration_set(j, mid, CTL_JOURNAL_MIG_STARTED,
	    101, err)) < 0)
		return mid;
	d.kind = "power-on";
	d.subject = d.host = "h2";
	d.vm = NULL;
	if ((p.decision = ctl_journal_decide(j, &d, err)) < 0)
		return p.decision;
	if ((pid = ctl_journal_power_add(j, &p, err)) < 0)
		return pid;
	if ((pid = ctl_journal_power_set(j, pid, CTL_JOURNAL_POWER_STARTED,
	    103, 223, err)) < 0)
		return pid;
	c.decision = p.decision;
	if ((pid = ctl_journal_change(j, &c, err)) < 0)
		return pid;
	if ((pid = ctl_journal_kv_set(j, "round", "7", 104, err)) < 0)
		return pid;
	return md;
}

/* What a restarted controller must find. */
static void
check_in_flight(struct fx *fx, int64_t d)
{
	json_t *a, *o;
	char *v;

	OK(ctl_journal_migrations_in_flight(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	o = json_array_get(a, 0);
	assert_int_equal(num(o, "decision"), d);
	assert_string_equal(str(o, "state"), "started");
	assert_string_equal(str(o, "token"), "tok-123");
	assert_true(num(o, "started_ts") == 101);
	json_decref(a);
	OK(ctl_journal_power_in_flight(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	o = json_array_get(a, 0);
	assert_string_equal(str(o, "host"), "h2");
	assert_string_equal(str(o, "action"), "on");
	assert_true(num(o, "deadline_ts") == 223);
	json_decref(a);
	OK(ctl_journal_decisions(fx->j, &(struct ctl_journal_filter){
	    .outcome = "pending" }, &a, &fx->err));
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(num(json_array_get(a, 0), "id"), d);
	json_decref(a);
	OK(ctl_journal_latest_states(fx->j, CTL_JOURNAL_HOST, &a, &fx->err));
	assert_string_equal(str(json_array_get(a, 0), "state"), "powering-on");
	json_decref(a);
	OK(ctl_journal_kv_get(fx->j, "round", &v, &fx->err));
	assert_string_equal(v, "7");
	free(v);
}

static void
test_restart_lists_in_flight(void **state)
{
	struct fx *fx = *state;
	int64_t d;

	d = OK(leave_in_flight(fx->j, &fx->err));
	ctl_journal_close(fx->j);
	fx->j = NULL;
	OK(ctl_journal_open(fx->path, &fx->j, &fx->err));
	check_in_flight(fx, d);
}

/*
 * A child opens the journal, leaves actions in flight, tells the parent
 * the decision's id and then dies without closing: by _exit() when
 * `kill` is false, else by the parent's SIGKILL while it waits.
 */
static void
crash_child(struct fx *fx, bool kill_it)
{
	int fds[2], status;
	int64_t d = 0;
	struct stat sb;
	char wal[320];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (ctl_journal_open(fx->path, &fx->j, &fx->err) != 0 ||
		    (d = leave_in_flight(fx->j, &fx->err)) < 0) {
			fprintf(stderr, "child: %s\n", fx->err.msg);
			_exit(2);
		}
		if (write(fds[1], &d, sizeof(d)) != sizeof(d))
			_exit(3);
		if (kill_it)
			for (;;)
				pause();
		_exit(0);	/* no close, no checkpoint, no atexit */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &d, sizeof(d)), sizeof(d));
	close(fds[0]);
	if (kill_it)
		assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (kill_it)
		assert_true(WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL);
	else
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Nothing was checkpointed: the rows are only in the log. */
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);

	OK(ctl_journal_open(fx->path, &fx->j, &fx->err));
	check_in_flight(fx, d);
}

static void
test_crash_exit(void **state)
{
	crash_child(*state, false);
}

static void
test_crash_kill(void **state)
{
	crash_child(*state, true);
}

/* ---- files that are not journals ---------------------------------------- */

static void
write_file(const char *path, const void *buf, size_t len, off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, at), (ssize_t)len);
	close(fd);
}

static void
test_bad_files(void **state)
{
	struct fx *fx = *state;
	struct ctl_journal *j = NULL;
	char path[400], junk[8192];
	struct stat sb;
	int i;

	/* Text. */
	snprintf(path, sizeof(path), "%s/text.db", fx->dir);
	for (i = 0; i < (int)sizeof(junk); i++)
		junk[i] = "this is not a database\n"[i % 23];
	write_file(path, junk, sizeof(junk), 0);
	REFUSED(ctl_journal_open(path, &j, &fx->err), EBADMSG,
	    "file is not a database");
	assert_null(j);
	assert_non_null(strstr(fx->err.msg, path));

	/* Another program's SQLite database is left alone. */
	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	raw_exec(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
	REFUSED(ctl_journal_open(path, &j, &fx->err), EBADMSG,
	    "not an ebb journal");
	assert_int_equal(raw_num(path, "SELECT count(*) FROM sqlite_master"),
	    1);

	/* A journal written by a newer ebb. */
	snprintf(path, sizeof(path), "%s/newer.db", fx->dir);
	OK(ctl_journal_open(path, &j, &fx->err));
	ctl_journal_close(j);
	j = NULL;
	raw_exec(path, "INSERT INTO schema_version VALUES (99, 0)");
	REFUSED(ctl_journal_open(path, &j, &fx->err), ENOTSUP,
	    "schema version 99 is newer");

	/* An ebb journal that lost its version table. */
	snprintf(path, sizeof(path), "%s/noversion.db", fx->dir);
	OK(ctl_journal_open(path, &j, &fx->err));
	ctl_journal_close(j);
	j = NULL;
	raw_exec(path, "DROP TABLE schema_version");
	REFUSED(ctl_journal_open(path, &j, &fx->err), EBADMSG,
	    "without a schema version");

	/* A journal with garbage over some of its pages. */
	snprintf(path, sizeof(path), "%s/damaged.db", fx->dir);
	OK(ctl_journal_open(path, &j, &fx->err));
	for (i = 0; i < 300; i++) {
		struct ctl_journal_decision d = {
			.ts = i, .kind = "keep-on", .subject = "h1",
			.host = "h1", .reason = "a reason long enough to fill"
			" a few pages of the decisions table quickly, so that"
			" the damage lands on data pages",
		};
		OK(ctl_journal_decide(j, &d, &fx->err));
	}
	ctl_journal_close(j);	/* checkpoints: everything in the file */
	j = NULL;
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size >= 8 * 4096);
	memset(junk, 0xa5, sizeof(junk));
	write_file(path, junk, sizeof(junk), sb.st_size / 2 / 4096 * 4096);
	i = ctl_journal_open(path, &j, &fx->err);
	assert_null(j);
	REFUSED(i, EBADMSG, "damaged");

	/* A journal cut short. */
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
	REFUSED(ctl_journal_open(path, &j, &fx->err), EBADMSG,
	    "damaged");

	/* Paths that cannot be a journal at all. */
	REFUSED(ctl_journal_open(fx->dir, &j, &fx->err), EISDIR, fx->dir);
	snprintf(path, sizeof(path), "%s/no/such/dir/j.db", fx->dir);
	REFUSED(ctl_journal_open(path, &j, &fx->err), ENOENT, NULL);
	REFUSED(ctl_journal_open("", &j, &fx->err), EINVAL, NULL);
	REFUSED(ctl_journal_open(NULL, &j, &fx->err), EINVAL, NULL);

	/* An empty file is a new journal. */
	snprintf(path, sizeof(path), "%s/empty.db", fx->dir);
	write_file(path, "", 0, 0);
	OK(ctl_journal_open(path, &j, &fx->err));
	ctl_journal_close(j);
}

/* ---- text --------------------------------------------------------------- */

static void
test_strings(void **state)
{
	struct fx *fx = *state;
	static const char *const nasty[] = {
		"it's \"quoted\"; DROP TABLE decisions; --",
		"'); DELETE FROM kv; SELECT ('",
		"Ünïcödé ✓ 日本語 🚀 \xe2\x80\x8b(zero width)",
		"ctl\x01\x02\x1f\x7f tab\t nl\n cr\r bs\\ %s %n ?1 :a @b $c",
	};
	size_t i;
	json_t *a, *o, *inputs;
	int64_t d, n;
	char *v;

	for (i = 0; i < EBB_NITEMS(nasty); i++) {
		const char *s = nasty[i];
		struct ctl_journal_decision dd = {
			.ts = 1, .kind = s, .subject = s, .host = s, .vm = s,
			.reason = s,
		};
		struct ctl_journal_change c = {
			.ts = 1, .kind = CTL_JOURNAL_VM, .subject = s,
			.to = s, .why = s,
		};
		struct ctl_journal_migration m = {
			.ts = 1, .vm = s, .from = s, .to = "h-target",
			.token = s,
		};
		struct ctl_journal_power p = {
			.ts = 1, .host = s, .on = true, .driver = s,
		};

		inputs = json_pack("{s:s, s:s}", s, s, "k", s);
		dd.inputs = inputs;
		d = OK(ctl_journal_decide(fx->j, &dd, &fx->err));
		json_decref(inputs);
		inputs = json_pack("{s:s, s:s}", s, s, "k", s);
		OK(ctl_journal_decisions(fx->j, &(struct ctl_journal_filter){
		    .host = s, .vm = s, .kind = s }, &a, &fx->err));
		assert_int_equal(json_array_size(a), 1);
		o = json_array_get(a, 0);
		assert_int_equal(num(o, "id"), d);
		assert_string_equal(str(o, "kind"), s);
		assert_string_equal(str(o, "subject"), s);
		assert_string_equal(str(o, "host"), s);
		assert_string_equal(str(o, "vm"), s);
		assert_string_equal(str(o, "reason"), s);
		assert_true(json_equal(json_object_get(o, "inputs"), inputs));
		json_decref(inputs);
		json_decref(a);

		c.decision = d;
		OK(ctl_journal_change(fx->j, &c, &fx->err));
		c.from = s;
		OK(ctl_journal_change(fx->j, &c, &fx->err));

		m.decision = d;
		OK(ctl_journal_migration_add(fx->j, &m, &fx->err));
		p.decision = d;
		OK(ctl_journal_power_add(fx->j, &p, &fx->err));
		OK(ctl_journal_kv_set(fx->j, s, s, 1, &fx->err));
		OK(ctl_journal_kv_get(fx->j, s, &v, &fx->err));
		assert_string_equal(v, s);
		free(v);
	}
	OK(ctl_journal_latest_states(fx->j, CTL_JOURNAL_VM, &a, &fx->err));
	assert_int_equal(json_array_size(a), EBB_NITEMS(nasty));
	for (i = 0; i < json_array_size(a); i++) {
		o = json_array_get(a, i);
		assert_string_equal(str(o, "subject"), str(o, "state"));
	}
	json_decref(a);
	OK(ctl_journal_migrations_in_flight(fx->j, &a, &fx->err));
	assert_int_equal(json_array_size(a), EBB_NITEMS(nasty));
	for (i = 0; i < EBB_NITEMS(nasty); i++) {
		o = json_array_get(a, i);
		assert_string_equal(str(o, "vm"), nasty[i]);
		assert_string_equal(str(o, "from"), nasty[i]);
		assert_string_equal(str(o, "token"), nasty[i]);
	}
	json_decref(a);
	OK(ctl_journal_power_in_flight(fx->j, &a, &fx->err));
	for (i = 0; i < EBB_NITEMS(nasty); i++) {
		o = json_array_get(a, i);
		assert_string_equal(str(o, "host"), nasty[i]);
		assert_string_equal(str(o, "driver"), nasty[i]);
	}
	json_decref(a);

	/* Text that JSON could not carry is refused, not mangled. */
	n = count_decisions(fx);
	{
		struct ctl_journal_decision dd = {
			.ts = 1, .kind = "keep-on", .subject = "h1",
			.reason = "bad \xff\xfe byte",
		};
		struct ctl_journal_change c = {
			.ts = 1, .kind = CTL_JOURNAL_VM, .subject = "v\xc3",
			.to = "x", .why = "w",
		};
		REFUSED(ctl_journal_decide(fx->j, &dd, &fx->err), EILSEQ,
		    "decision reason is not valid UTF-8");
		dd.reason = "r";
		dd.subject = "\xc0\xaf";	/* overlong "/" */
		REFUSED(ctl_journal_decide(fx->j, &dd, &fx->err), EILSEQ,
		    "subject");
		REFUSED(ctl_journal_change(fx->j, &c, &fx->err), EILSEQ, NULL);
	}
	assert_int_equal(count_decisions(fx), n);
	/* And the tables named in the hostile strings are all still there. */
	assert_int_equal(raw_num(fx->path, "SELECT count(*) FROM sqlite_master"
	    " WHERE name IN ('decisions', 'kv')"), 2);
}

/* ---- two processes ------------------------------------------------------ */

#define WRITES	60

/*
 * A second process writes decisions, a few milliseconds apart as the
 * controller does, while this one reads them and writes a key of its own
 * in between: no call fails, and reads see the count grow in order.  The
 * writer stops once halfway until the reader has seen that state, so the
 * overlap does not depend on scheduling.
 */
static void
test_concurrent_handles(void **state)
{
	struct fx *fx = *state;
	int64_t n, last = 0;
	int to_child[2], to_parent[2], status, i;
	char val[32], c;
	pid_t pid;

	/* The schema first, so that both start from an existing journal. */
	OK(ctl_journal_open(fx->path, &fx->j, &fx->err));
	ctl_journal_close(fx->j);
	fx->j = NULL;

	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(to_parent), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ctl_journal *w;
		struct ebb_err err = { "" };

		close(to_child[1]);
		close(to_parent[0]);
		if (ctl_journal_open(fx->path, &w, &err) != 0)
			goto child_fail;
		for (i = 0; i < WRITES; i++) {
			struct ctl_journal_decision d = {
				.ts = i, .kind = "keep-on", .subject = "h1",
				.reason = "writer",
			};
			if (i == WRITES / 2 &&
			    (write(to_parent[1], "H", 1) != 1 ||
			    read(to_child[0], &c, 1) != 1))
				goto child_fail;
			if (ctl_journal_decide(w, &d, &err) < 0 ||
			    ctl_journal_kv_set(w, "writer", "busy", i,
			    &err) < 0)
				goto child_fail;
			usleep(2000);
		}
		_exit(0);
child_fail:
		fprintf(stderr, "writer: %s\n", err.msg);
		_exit(1);
	}
	close(to_child[0]);
	close(to_parent[1]);

	OK(ctl_journal_open(fx->path, &fx->j, &fx->err));
	assert_int_equal(read(to_parent[0], &c, 1), 1);
	assert_int_equal(count_decisions(fx), WRITES / 2);
	assert_int_equal(write(to_child[1], "C", 1), 1);
	for (i = 0;; i++) {
		n = count_decisions(fx);
		assert_true(n >= last);	/* a reader sees commits in order */
		last = n;
		snprintf(val, sizeof(val), "%d", i);
		OK(ctl_journal_kv_set(fx->j, "reader", val, i, &fx->err));
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		/*
		 * Not a tight loop: SQLite's busy wait polls and is not
		 * fair, so a writer that never pauses starves the other.
		 */
		usleep(5000);
	}
	close(to_child[1]);
	close(to_parent[0]);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(count_decisions(fx), WRITES);
}

/*
 * Another process holds the write lock: reads go on (WAL), a write gives
 * up after the busy timeout with -EBUSY, and with a longer timeout it
 * waits and succeeds once the lock is released.
 */
static void
test_busy_timeout(void **state)
{
	struct fx *fx = *state;
	int locked[2], go[2], status;
	double t0, dt;
	json_t *a;
	char c, *v;
	pid_t pid;

	OK(ctl_journal_open(fx->path, &fx->j, &fx->err));
	decide(fx, 1, "policy", "fleet", NULL, NULL, 0);
	ctl_journal_close(fx->j);
	fx->j = NULL;

	assert_int_equal(pipe(locked), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db;

		close(locked[0]);
		close(go[1]);
		if (sqlite3_open(fx->path, &db) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO kv VALUES"
		    " ('held', 'by the child', 0)", NULL, NULL, NULL) !=
		    SQLITE_OK)
			_exit(1);
		if (write(locked[1], "L", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		usleep(300 * 1000);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			_exit(3);
		sqlite3_close(db);
		_exit(0);
	}
	close(locked[1]);
	close(go[0]);
	assert_int_equal(read(locked[0], &c, 1), 1);

	/* Opening and reading do not wait for the writer. */
	t0 = mono();
	OK(ctl_journal_open(fx->path, &fx->j, &fx->err));
	OK(ctl_journal_decisions(fx->j, NULL, &a, &fx->err));
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	REFUSED(ctl_journal_kv_get(fx->j, "held", &v, &fx->err), ENOENT, NULL);
	assert_true(mono() - t0 < 1.0);

	ctl_journal_set_busy_timeout(fx->j, 100);
	t0 = mono();
	REFUSED(ctl_journal_kv_set(fx->j, "k", "v", 1, &fx->err), EBUSY,
	    "locked");
	dt = mono() - t0;
	assert_true(dt >= 0.09 && dt < 2.0);
	REFUSED(ctl_journal_decide(fx->j,
	    &(struct ctl_journal_decision){ .ts = 1, .kind = "k",
	    .subject = "s", .reason = "r" }, &fx->err), EBUSY, NULL);

	/* Now wait long enough: the child commits after 300 ms. */
	ctl_journal_set_busy_timeout(fx->j, 10000);
	assert_int_equal(write(go[1], "G", 1), 1);
	t0 = mono();
	OK(ctl_journal_kv_set(fx->j, "k", "v", 1, &fx->err));
	dt = mono() - t0;
	assert_true(dt >= 0.2 && dt < 5.0);
	OK(ctl_journal_kv_get(fx->j, "held", &v, &fx->err));
	assert_string_equal(v, "by the child");
	free(v);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(locked[0]);
	close(go[1]);
	assert_int_equal(count_decisions(fx), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_schema, fx_open,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_memory, fx_dir,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_decision_round_trip,
		    fx_open, fx_teardown),
		cmocka_unit_test_setup_teardown(test_decision_filters, fx_open,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_state_changes, fx_open,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_power_held, fx_open,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrations, fx_open,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_power_actions, fx_open,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_kv, fx_open, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restart_lists_in_flight,
		    fx_open, fx_teardown),
		cmocka_unit_test_setup_teardown(test_crash_exit, fx_dir,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_crash_kill, fx_dir,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, fx_dir,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_strings, fx_open,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_handles,
		    fx_dir, fx_teardown),
		cmocka_unit_test_setup_teardown(test_busy_timeout, fx_dir,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
