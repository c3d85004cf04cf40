/*
 * ctl_journal.c - the controller's journal in SQLite.
 *
 * One handle is one SQLite connection with its statements prepared once at
 * open.  Every write runs in its own BEGIN IMMEDIATE ... COMMIT, and the
 * commit returns only once the write-ahead log is fsynced: when a function
 * here returns an id, the row survives a crash of the controller, of the
 * kernel, or of the power.  Values reach SQL only as bound parameters.
 *
 * The schema lives in jr_migrations[]: entry v takes a journal from
 * version v to v + 1, and schema_version records each step applied.  A
 * new schema is a new entry, never an edit of an old one, so a journal of
 * any age opens.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ctl_journal.h"
#include "pol_fleet.h"

/*
 * PRAGMA application_id marks the file as an ebb journal ("ebb1"), so
 * that a path pointing at some other program's SQLite database is refused
 * instead of having tables added to it.  Written in decimal for the SQL.
 */
#define JR_APP_ID	1700946481
#define JR_STR_(x)	#x
#define JR_STR(x)	JR_STR_(x)
_Static_assert(JR_APP_ID == 0x65626231, "application_id is \"ebb1\"");

/* Version 1: everything. */
static const char jr_schema_v1[] =
	"CREATE TABLE schema_version (\n"
	"	version		INTEGER PRIMARY KEY,\n"
	"	applied_ts	REAL NOT NULL\n"
	") STRICT;\n"
	/*
	 * AUTOINCREMENT: an id is never given twice, even after rows are
	 * pruned, because ids leave the journal (logs, the API, `ebb why`).
	 */
	"CREATE TABLE decisions (\n"
	"	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	ts		REAL NOT NULL,\n"
	"	kind		TEXT NOT NULL CHECK (kind <> ''),\n"
	"	subject		TEXT NOT NULL CHECK (subject <> ''),\n"
	"	host		TEXT,\n"
	"	vm		TEXT,\n"
	"	inputs		TEXT NOT NULL CHECK (json_valid(inputs)),\n"
	"	reason		TEXT NOT NULL CHECK (reason <> ''),\n"
	"	outcome		TEXT NOT NULL CONSTRAINT outcome_valid\n"
	"		CHECK (outcome IN ('pending', 'done', 'cancelled')\n"
	"		    OR (substr(outcome, 1, 8) = 'failed: '\n"
	"			AND length(outcome) > 8)),\n"
	"	round		INTEGER NOT NULL CHECK (round >= 0),\n"
	"	updated_ts	REAL NOT NULL\n"
	") STRICT;\n"
	"CREATE INDEX decisions_ts ON decisions (ts);\n"
	"CREATE INDEX decisions_host ON decisions (host);\n"
	"CREATE INDEX decisions_vm ON decisions (vm);\n"
	"CREATE INDEX decisions_kind ON decisions (kind);\n"
	"CREATE INDEX decisions_round ON decisions (round);\n"
	"CREATE TABLE state_changes (\n"
	"	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	ts		REAL NOT NULL,\n"
	"	kind		TEXT NOT NULL CHECK (kind IN ('host', 'vm')),\n"
	"	subject		TEXT NOT NULL CHECK (subject <> ''),\n"
	"	from_state	TEXT,\n"
	"	to_state	TEXT NOT NULL CHECK (to_state <> ''),\n"
	"	why		TEXT NOT NULL CHECK (why <> ''),\n"
	"	decision_id	INTEGER REFERENCES decisions (id)\n"
	") STRICT;\n"
	"CREATE INDEX state_changes_subject\n"
	"    ON state_changes (kind, subject, id);\n"
	"CREATE TABLE migrations (\n"
	"	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	decision_id	INTEGER NOT NULL REFERENCES decisions (id),\n"
	"	vm		TEXT NOT NULL CHECK (vm <> ''),\n"
	"	src		TEXT NOT NULL CHECK (src <> ''),\n"
	"	dst		TEXT NOT NULL CHECK (dst <> ''),\n"
	"	token		TEXT,\n"
	"	state		TEXT NOT NULL CHECK (state IN ('planned',\n"
	"			    'started', 'committed', 'failed',\n"
	"			    'rolled-back')),\n"
	"	ts		REAL NOT NULL,\n"
	"	started_ts	REAL,\n"
	"	ended_ts	REAL,\n"
	"	CHECK (dst <> src)\n"
	") STRICT;\n"
	/* A VM has one running copy: at most one migration of it in flight. */
	"CREATE UNIQUE INDEX migrations_in_flight ON migrations (vm)\n"
	"    WHERE state IN ('planned', 'started');\n"
	"CREATE TABLE power_actions (\n"
	"	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	decision_id	INTEGER NOT NULL REFERENCES decisions (id),\n"
	"	host		TEXT NOT NULL CHECK (host <> ''),\n"
	"	action		TEXT NOT NULL CHECK (action IN ('on','off')),\n"
	"	driver		TEXT NOT NULL CHECK (driver <> ''),\n"
	"	state		TEXT NOT NULL CHECK (state IN ('planned',\n"
	"			    'started', 'done', 'failed')),\n"
	"	ts		REAL NOT NULL,\n"
	"	deadline_ts	REAL,\n"
	"	started_ts	REAL,\n"
	"	ended_ts	REAL\n"
	") STRICT;\n"
	"CREATE UNIQUE INDEX power_in_flight ON power_actions (host)\n"
	"    WHERE state IN ('planned', 'started');\n"
	"CREATE TABLE kv (\n"
	"	key		TEXT PRIMARY KEY CHECK (key <> ''),\n"
	"	value		TEXT NOT NULL,\n"
	"	updated_ts	REAL NOT NULL\n"
	") STRICT, WITHOUT ROWID;\n";

static const char *const jr_migrations[CTL_JOURNAL_SCHEMA] = {
	jr_schema_v1,
};

/* The statements, prepared once at open. */
enum jr_stmt {
	JS_BEGIN,
	JS_COMMIT,
	JS_ROLLBACK,
	JS_DEC_ADD,
	JS_DEC_OUTCOME,
	JS_DEC_SET,
	JS_CHG_LAST,
	JS_CHG_ADD,
	JS_CHG_LATEST,
	JS_CHG_HELD,
	JS_MIG_ADD,
	JS_MIG_POWEROFF,
	JS_MIG_GET,
	JS_MIG_SET,
	JS_MIG_LIST,
	JS_PWR_ADD,
	JS_PWR_MIGRATION,
	JS_PWR_GET,
	JS_PWR_SET,
	JS_PWR_LIST,
	JS_KV_GET,
	JS_KV_SET,
	JS_KV_DEL,
	JS_COUNT
};

static const char *const jr_sql[JS_COUNT] = {
	/*
	 * IMMEDIATE takes the write lock at BEGIN, where the busy timeout
	 * applies.  A deferred transaction that reads first and then writes
	 * gets SQLITE_BUSY at once, without waiting, if another connection
	 * wrote in between (WAL cannot upgrade a stale read snapshot).
	 */
	[JS_BEGIN] = "BEGIN IMMEDIATE",
	[JS_COMMIT] = "COMMIT",
	[JS_ROLLBACK] = "ROLLBACK",
	[JS_DEC_ADD] =
	    "INSERT INTO decisions (ts, kind, subject, host, vm, inputs,"
	    " reason, outcome, round, updated_ts)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?1)",
	[JS_DEC_OUTCOME] = "SELECT outcome FROM decisions WHERE id = ?1",
	[JS_DEC_SET] =
	    "UPDATE decisions SET outcome = ?2, updated_ts = ?3 WHERE id = ?1",
	[JS_CHG_LAST] =
	    "SELECT to_state FROM state_changes WHERE kind = ?1"
	    " AND subject = ?2 ORDER BY id DESC LIMIT 1",
	[JS_CHG_ADD] =
	    "INSERT INTO state_changes (ts, kind, subject, from_state,"
	    " to_state, why, decision_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[JS_CHG_LATEST] =
	    "SELECT subject, to_state AS state, ts AS since, why,"
	    " decision_id AS decision, id AS change FROM state_changes"
	    " WHERE id IN (SELECT max(id) FROM state_changes WHERE kind = ?1"
	    " GROUP BY subject) ORDER BY subject",
	/*
	 * The hold is read from the facts it follows from, not kept as a
	 * record of its own: the host's entry into "failed" and the
	 * operator's "clear" are both journalled already, each where it
	 * happens, and a second record written beside them could disagree
	 * with them after a crash between the two writes.  It also holds
	 * for journals written before this query existed, and for a
	 * standby's, which mirrors both facts.  Each host's latest "failed"
	 * is found by id (its own table's order); a clear, in the other
	 * table, counts only if it is strictly later by ts, so a tie keeps
	 * the hold.  The two tables share no sequence: ts, the writer's
	 * wall clock, is their only common order, and a clock set back by
	 * more than the time between a clear and the next failure would
	 * hide that failure.
	 */
	[JS_CHG_HELD] =
	    "SELECT s.subject AS host, s.ts AS since, s.why, s.id AS change"
	    " FROM state_changes s WHERE s.id IN (SELECT max(id)"
	    " FROM state_changes WHERE kind = 'host' AND to_state = 'failed'"
	    " GROUP BY subject) AND NOT EXISTS (SELECT 1 FROM decisions d"
	    " WHERE d.host = s.subject AND d.kind = 'clear'"
	    " AND d.outcome = 'done' AND d.ts > s.ts) ORDER BY s.subject",
	[JS_MIG_ADD] =
	    "INSERT INTO migrations (decision_id, vm, src, dst, token, state,"
	    " ts) VALUES (?1, ?2, ?3, ?4, ?5, 'planned', ?6)",
	[JS_MIG_POWEROFF] =
	    "SELECT host FROM power_actions WHERE action = 'off'"
	    " AND state IN ('planned', 'started') AND host IN (?1, ?2)"
	    " LIMIT 1",
	[JS_MIG_GET] = "SELECT state FROM migrations WHERE id = ?1",
	[JS_MIG_SET] =
	    "UPDATE migrations SET state = ?2,"
	    " started_ts = coalesce(?3, started_ts),"
	    " ended_ts = coalesce(?4, ended_ts) WHERE id = ?1",
	[JS_MIG_LIST] =
	    "SELECT id, decision_id AS decision, vm, src AS \"from\","
	    " dst AS \"to\", token, state, ts, started_ts, ended_ts"
	    " FROM migrations WHERE state IN ('planned', 'started')"
	    " ORDER BY id",
	[JS_PWR_ADD] =
	    "INSERT INTO power_actions (decision_id, host, action, driver,"
	    " state, ts, deadline_ts)"
	    " VALUES (?1, ?2, ?3, ?4, 'planned', ?5, ?6)",
	[JS_PWR_MIGRATION] =
	    "SELECT vm FROM migrations WHERE state IN ('planned', 'started')"
	    " AND (src = ?1 OR dst = ?1) LIMIT 1",
	[JS_PWR_GET] = "SELECT state FROM power_actions WHERE id = ?1",
	[JS_PWR_SET] =
	    "UPDATE power_actions SET state = ?2,"
	    " started_ts = coalesce(?3, started_ts),"
	    " ended_ts = coalesce(?4, ended_ts),"
	    " deadline_ts = coalesce(?5, deadline_ts) WHERE id = ?1",
	[JS_PWR_LIST] =
	    "SELECT id, decision_id AS decision, host, action, driver, state,"
	    " ts, deadline_ts, started_ts, ended_ts FROM power_actions"
	    " WHERE state IN ('planned', 'started') ORDER BY id",
	[JS_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
	[JS_KV_SET] =
	    "INSERT INTO kv (key, value, updated_ts) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
	    " updated_ts = excluded.updated_ts",
	[JS_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
};

/*
 * The decision query's filters.  Each combination is its own statement,
 * built from these fixed fragments and cached on first use, so that each
 * can use its index; a single "(?3 IS NULL OR host = ?3)" statement would
 * scan the whole table every time.  Parameter n is filter n - 1; ?8 is the
 * limit.
 */
#define JR_NFILTERS	7
static const char *const jr_filter_sql[JR_NFILTERS] = {
	"ts >= ?1",
	"id > ?2",
	"host = ?3",
	"vm = ?4",
	"kind = ?5",
	("(outcome = ?6 OR (?6 = 'failed' AND substr(outcome, 1, 8) ="
	    " 'failed: '))"),
	"round = ?7",
};

struct ctl_journal {
	sqlite3		*db;
	char		*path;
	bool		 memory;
	int		 busy_ms;
	sqlite3_stmt	*st[JS_COUNT];
	sqlite3_stmt	*query[2][1 << JR_NFILTERS];	/* [newest][filters] */
};

/* The in-flight actions' state machines (see ctl_journal.h). */
struct jr_machine {
	const char		*what;		/* for messages */
	const char *const	*names;
	int			 nstates;
	const unsigned		*next;		/* allowed steps, a bit each */
	int			 started;	/* this state sets started_ts */
	int			 first_end;	/* from this one: ended_ts */
	enum jr_stmt		 get, set;
	bool			 deadline;	/* set takes ?5 deadline_ts */
};

static const char *const jr_mig_names[] = {
	[CTL_JOURNAL_MIG_PLANNED] = "planned",
	[CTL_JOURNAL_MIG_STARTED] = "started",
	[CTL_JOURNAL_MIG_COMMITTED] = "committed",
	[CTL_JOURNAL_MIG_FAILED] = "failed",
	[CTL_JOURNAL_MIG_ROLLED_BACK] = "rolled-back",
};

#define JR_BIT(s)	(1u << (s))
static const unsigned jr_mig_next[] = {
	[CTL_JOURNAL_MIG_PLANNED] =
	    JR_BIT(CTL_JOURNAL_MIG_STARTED) | JR_BIT(CTL_JOURNAL_MIG_FAILED),
	[CTL_JOURNAL_MIG_STARTED] = JR_BIT(CTL_JOURNAL_MIG_COMMITTED) |
	    JR_BIT(CTL_JOURNAL_MIG_FAILED) |
	    JR_BIT(CTL_JOURNAL_MIG_ROLLED_BACK),
};

static const struct jr_machine jr_mig = {
	"migration", jr_mig_names, EBB_NITEMS(jr_mig_names), jr_mig_next,
	CTL_JOURNAL_MIG_STARTED, CTL_JOURNAL_MIG_COMMITTED,
	JS_MIG_GET, JS_MIG_SET, false,
};

static const char *const jr_power_names[] = {
	[CTL_JOURNAL_POWER_PLANNED] = "planned",
	[CTL_JOURNAL_POWER_STARTED] = "started",
	[CTL_JOURNAL_POWER_DONE] = "done",
	[CTL_JOURNAL_POWER_FAILED] = "failed",
};

static const unsigned jr_power_next[] = {
	[CTL_JOURNAL_POWER_PLANNED] = JR_BIT(CTL_JOURNAL_POWER_STARTED) |
	    JR_BIT(CTL_JOURNAL_POWER_FAILED),
	[CTL_JOURNAL_POWER_STARTED] =
	    JR_BIT(CTL_JOURNAL_POWER_DONE) | JR_BIT(CTL_JOURNAL_POWER_FAILED),
};

static const struct jr_machine jr_power = {
	"power action", jr_power_names, EBB_NITEMS(jr_power_names),
	jr_power_next, CTL_JOURNAL_POWER_STARTED, CTL_JOURNAL_POWER_DONE,
	JS_PWR_GET, JS_PWR_SET, true,
};

/* ---- errors ------------------------------------------------------------- */

/* The errno for an SQLite result code (extended codes are on). */
static int
jr_errno(sqlite3 *db, int rc)
{
	int sys;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CONSTRAINT:
		switch (rc) {
		case SQLITE_CONSTRAINT_FOREIGNKEY:
			return -ENOENT;
		case SQLITE_CONSTRAINT_UNIQUE:
		case SQLITE_CONSTRAINT_PRIMARYKEY:
			return -EEXIST;
		default:
			return -EINVAL;
		}
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		sys = sqlite3_system_errno(db);
		return sys > 0 ? -sys : -EIO;
	default:
		return -EIO;
	}
}

/* Fills err with "journal PATH: ..." and returns code. */
static int EBB_PRINTF(4, 5)
jr_err(struct ctl_journal *j, struct ebb_err *err, int code,
    const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ebb_err_set(err, "journal %s: %s", j->path, buf);
	return code;
}

/* An SQLite failure (rc) while doing `what`: the errno, SQLite's words. */
static int
jr_fail(struct ctl_journal *j, int rc, const char *what, struct ebb_err *err)
{
	int code = jr_errno(j->db, rc);

	return jr_err(j, err, code, "%s: %s%s", what, sqlite3_errmsg(j->db),
	    code == -EBADMSG ? " (not a journal, or a damaged one)" : "");
}

/* ---- statements and transactions ---------------------------------------- */

/* Steps st: 1 for a row, 0 when done, or -errno with err filled. */
static int
jr_step(struct ctl_journal *j, sqlite3_stmt *st, const char *what,
    struct ebb_err *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return jr_fail(j, rc, what, err);
}

/*
 * Steps st unless binding its parameters failed (bound is the binders'
 * collected SQLite code): every statement here binds, then steps.
 */
static int
jr_bound_step(struct ctl_journal *j, sqlite3_stmt *st, int bound,
    const char *what, struct ebb_err *err)
{
	if (bound != SQLITE_OK)
		return jr_fail(j, bound, what, err);
	return jr_step(j, st, what, err);
}

/*
 * Every use of a cached statement ends here: a statement left unreset
 * keeps its read snapshot open, which stops checkpoints from shrinking
 * the WAL and would show this handle stale data.
 */
static void
jr_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void
jr_rollback(struct ctl_journal *j)
{
	/* A failed statement or commit may have rolled back already. */
	if (!sqlite3_get_autocommit(j->db)) {
		sqlite3_step(j->st[JS_ROLLBACK]);
		sqlite3_reset(j->st[JS_ROLLBACK]);
	}
}

static int
jr_begin(struct ctl_journal *j, const char *what, struct ebb_err *err)
{
	int rc = jr_step(j, j->st[JS_BEGIN], what, err);

	sqlite3_reset(j->st[JS_BEGIN]);
	return rc < 0 ? rc : 0;
}

/* Commits, or rolls back and reports why the commit failed. */
static int
jr_commit(struct ctl_journal *j, const char *what, struct ebb_err *err)
{
	int rc = jr_step(j, j->st[JS_COMMIT], what, err);

	sqlite3_reset(j->st[JS_COMMIT]);
	if (rc < 0) {
		jr_rollback(j);
		return rc;
	}
	return 0;
}

/* Runs the bound write st as a transaction of its own; its rowid in *id. */
static int
jr_write(struct ctl_journal *j, sqlite3_stmt *st, const char *what,
    int64_t *id, struct ebb_err *err)
{
	int rc;

	if ((rc = jr_begin(j, what, err)) < 0) {
		jr_reset(st);
		return rc;
	}
	rc = jr_step(j, st, what, err);
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(j->db);
	jr_reset(st);
	if (rc < 0) {
		jr_rollback(j);
		return rc;
	}
	return jr_commit(j, what, err);
}

/*
 * Binders that stop at the first failure, so a statement's bindings are
 * written in a row and checked once.  Text is SQLITE_STATIC: every
 * statement is reset, and its bindings cleared, before the function that
 * bound them returns.
 */
static void
jb_text(sqlite3_stmt *st, int i, const char *s, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
				: sqlite3_bind_null(st, i);
}

static void
jb_real(sqlite3_stmt *st, int i, double v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_double(st, i, v);
}

static void
jb_int(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_int64(st, i, v);
}

/* A real, or NULL when absent. */
static void
jb_opt_real(sqlite3_stmt *st, int i, bool present, double v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = present ? sqlite3_bind_double(st, i, v)
			      : sqlite3_bind_null(st, i);
}

/*
 * A one-off statement's single value: 1 with *out, 0 for none or NULL.
 * Errors name `what`.
 */
static int
jr_query_int(struct ctl_journal *j, const char *sql, int64_t *out,
    const char *what, struct ebb_err *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return jr_fail(j, rc, what, err);
	rc = jr_step(j, st, what, err);
	if (rc == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == 1)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

/* A one-off statement's single text value, into buf; as jr_query_int. */
static int
jr_query_text(struct ctl_journal *j, const char *sql, char *buf, size_t size,
    const char *what, struct ebb_err *err)
{
	sqlite3_stmt *st;
	const unsigned char *s;
	int rc;

	rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return jr_fail(j, rc, what, err);
	rc = jr_step(j, st, what, err);
	if (rc == 1 && (s = sqlite3_column_text(st, 0)) != NULL)
		snprintf(buf, size, "%s", (const char *)s);
	else if (rc == 1)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static int
jr_exec(struct ctl_journal *j, const char *sql, const char *what,
    struct ebb_err *err)
{
	int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : jr_fail(j, rc, what, err);
}

/* ---- arguments ---------------------------------------------------------- */

/* Valid UTF-8 exactly when jansson, which renders every list, accepts it. */
static bool
jr_utf8(const char *s)
{
	json_t *v = json_string(s);

	json_decref(v);
	return v != NULL;
}

/*
 * A text argument: when given, not empty and UTF-8 (it comes back in
 * JSON); when required, given.
 */
static int
jr_text(struct ctl_journal *j, const char *field, const char *s,
    bool required, struct ebb_err *err)
{
	if (s == NULL)
		return required ? jr_err(j, err, -EINVAL, "%s missing", field)
				: 0;
	if (*s == '\0')
		return jr_err(j, err, -EINVAL, "%s is empty", field);
	if (!jr_utf8(s))
		return jr_err(j, err, -EILSEQ, "%s is not valid UTF-8", field);
	return 0;
}

static int
jr_ts(struct ctl_journal *j, const char *field, double ts, struct ebb_err *err)
{
	if (!isfinite(ts) || ts < 0)
		return jr_err(j, err, -EINVAL, "%s %g is not a wall clock time",
		    field, ts);
	return 0;
}

static int
jr_outcome(struct ctl_journal *j, const char *o, struct ebb_err *err)
{
	int rc;

	if ((rc = jr_text(j, "outcome", o, true, err)) < 0)
		return rc;
	if (strcmp(o, "pending") == 0 || strcmp(o, "done") == 0 ||
	    strcmp(o, "cancelled") == 0 ||
	    (strncmp(o, "failed: ", 8) == 0 && o[8] != '\0'))
		return 0;
	return jr_err(j, err, -EINVAL, "outcome \"%s\" is not pending, done,"
	    " cancelled or \"failed: why\"", o);
}

/* Host states are the policy's names: a restarted controller parses them. */
static bool
jr_host_state(const char *s)
{
	const char *name;
	int i;

	for (i = 0; i < 64; i++) {
		name = pol_host_state_name((enum pol_host_state)i);
		if (strcmp(name, "invalid") == 0)
			break;
		if (strcmp(name, s) == 0)
			return true;
	}
	return false;
}

static const char *
jr_subject_name(enum ctl_journal_subject kind)
{
	switch (kind) {
	case CTL_JOURNAL_HOST:
		return "host";
	case CTL_JOURNAL_VM:
		return "vm";
	}
	return NULL;
}

/* ---- rows to JSON ------------------------------------------------------- */

/*
 * The current row as an object keyed by column name: integers, reals,
 * strings, null; the "inputs" column is parsed back into its object.
 */
static int
jr_row_json(struct ctl_journal *j, sqlite3_stmt *st, json_t **out,
    struct ebb_err *err)
{
	json_t *o = json_object(), *v;
	const char *name, *text;
	json_error_t jerr;
	int i, n = sqlite3_column_count(st);
	size_t len;

	for (i = 0; i < n; i++) {
		name = sqlite3_column_name(st, i);
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(st, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			text = (const char *)sqlite3_column_text(st, i);
			len = (size_t)sqlite3_column_bytes(st, i);
			if (text == NULL)
				v = NULL;
			else if (strcmp(name, "inputs") == 0)
				v = json_loadb(text, len, 0, &jerr);
			else
				v = json_stringn(text, len);
			break;
		}
		if (v == NULL || json_object_set_new(o, name, v) != 0) {
			json_decref(o);
			return jr_err(j, err, -EBADMSG, "row %lld: column %s"
			    " is not valid %s", (long long)
			    sqlite3_column_int64(st, 0), name,
			    strcmp(name, "inputs") == 0 ? "JSON" : "UTF-8");
		}
	}
	*out = o;
	return 0;
}

/* Every row of the bound statement st as a JSON array; st is reset. */
static int
jr_list(struct ctl_journal *j, sqlite3_stmt *st, const char *what,
    json_t **out, struct ebb_err *err)
{
	json_t *a = json_array(), *o;
	int rc;

	while ((rc = jr_step(j, st, what, err)) == 1) {
		if ((rc = jr_row_json(j, st, &o, err)) < 0)
			break;
		json_array_append_new(a, o);
	}
	jr_reset(st);
	if (rc < 0) {
		json_decref(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* ---- open and close ----------------------------------------------------- */

static int
jr_configure(struct ctl_journal *j, struct ebb_err *err)
{
	char mode[32] = "";
	int64_t on = 0;
	int rc;

	/*
	 * Per connection and off by default.  With them on, an action or a
	 * state change cannot name a decision that is not in the journal.
	 */
	if ((rc = jr_exec(j, "PRAGMA foreign_keys = ON", "enable foreign keys",
	    err)) < 0)
		return rc;
	if ((rc = jr_query_int(j, "PRAGMA foreign_keys", &on, "open",
	    err)) < 0)
		return rc;
	if (on != 1)
		return jr_err(j, err, -ENOTSUP, "this SQLite has no foreign"
		    " key support");
	/*
	 * WAL: a commit is one append to the log plus one fsync, and readers
	 * (the CLI, a standby controller, the web page) never block the
	 * controller's writes nor wait for them.  It is also the first
	 * statement that reads the file, so a file that is not SQLite fails
	 * here.
	 */
	if ((rc = jr_query_text(j, "PRAGMA journal_mode = WAL", mode,
	    sizeof(mode), "open", err)) < 0)
		return rc;
	if (strcmp(mode, "wal") != 0 &&
	    !(j->memory && strcmp(mode, "memory") == 0))
		return jr_err(j, err, -ENOTSUP, "cannot use WAL mode (the"
		    " journal stays in \"%s\" mode; is it on a network file"
		    " system?)", mode);
	/*
	 * synchronous = FULL: in WAL mode, NORMAL fsyncs the log only at
	 * checkpoints, so a commit survives a crash of the controller but
	 * not a crash of the kernel or a power cut, which can take the last
	 * commits with it.  The controller acts on a decision as soon as it
	 * is committed: a lost decision is a VM moved or a host switched off
	 * that the restarted controller knows nothing about.  FULL fsyncs
	 * the log at every commit; the controller commits a few rows per
	 * planning round, so the cost (one fsync each) does not matter.
	 * It applies to every write here, not only decisions, because state
	 * changes and in-flight actions are acted on in the same way.
	 */
	return jr_exec(j, "PRAGMA synchronous = FULL", "set synchronous", err);
}

/*
 * A damaged journal is found at start, before the controller trusts it,
 * rather than in the middle of a round.  quick_check reads every page
 * once (it skips integrity_check's index-against-table comparison): well
 * under a second for a journal of a year, once per start.
 */
static int
jr_check(struct ctl_journal *j, struct ebb_err *err)
{
	char res[256] = "", *p;
	int rc;

	rc = jr_query_text(j, "PRAGMA quick_check(1)", res, sizeof(res),
	    "check", err);
	if (rc < 0)
		return rc;
	if (strcmp(res, "ok") == 0)
		return 0;
	for (p = res; (p = strchr(p, '\n')) != NULL;)
		*p = ' ';
	return jr_err(j, err, -EBADMSG, "damaged: %s", res);
}

/*
 * The schema version of the open transaction's snapshot: 0 for an empty
 * file, or -EBADMSG / -ENOTSUP for a file this code must not touch.
 */
static int
jr_version(struct ctl_journal *j, int64_t *version, struct ebb_err *err)
{
	int64_t app = 0, nobj = 0;
	int rc;

	*version = 0;
	if ((rc = jr_query_int(j, "PRAGMA application_id", &app, "open",
	    err)) < 0 ||
	    (rc = jr_query_int(j, "SELECT count(*) FROM sqlite_master", &nobj,
	    "open", err)) < 0)
		return rc;
	if (app == 0 && nobj == 0)
		return 0;
	if (app != JR_APP_ID)
		return jr_err(j, err, -EBADMSG, "not an ebb journal (an SQLite"
		    " database with application_id %lld and %lld schema"
		    " objects)", (long long)app, (long long)nobj);
	rc = jr_query_int(j, "SELECT max(version) FROM schema_version",
	    version, "open", err);
	if (rc <= 0 || *version < 1)
		return jr_err(j, err, -EBADMSG, "damaged: an ebb journal"
		    " without a schema version");
	if (*version > CTL_JOURNAL_SCHEMA)
		return jr_err(j, err, -ENOTSUP, "schema version %lld is newer"
		    " than this ebb's (%d): use a newer ebb-controller",
		    (long long)*version, CTL_JOURNAL_SCHEMA);
	return 0;
}

/* Applies jr_migrations[v] and records it, inside the open transaction. */
static int
jr_upgrade(struct ctl_journal *j, int64_t v, struct ebb_err *err)
{
	sqlite3_stmt *st;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "schema version %lld", (long long)v + 1);
	if (v == 0 && (rc = jr_exec(j, "PRAGMA application_id = "
	    JR_STR(JR_APP_ID), what, err)) < 0)
		return rc;
	if ((rc = jr_exec(j, jr_migrations[v], what, err)) < 0)
		return rc;
	rc = sqlite3_prepare_v2(j->db, "INSERT INTO schema_version"
	    " (version, applied_ts) VALUES (?1, ?2)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return jr_fail(j, rc, what, err);
	jb_int(st, 1, v + 1, &rc);
	jb_real(st, 2, ctl_journal_now(), &rc);
	rc = jr_bound_step(j, st, rc, what, err);
	sqlite3_finalize(st);
	return rc < 0 ? rc : 0;
}

/*
 * Creates the schema, or brings it up to CTL_JOURNAL_SCHEMA.  The first
 * look is a read transaction, which never waits for a writer: opening an
 * up-to-date journal (a standby, a reader) must not stall behind the
 * controller's writes.  Only a journal to create or upgrade takes the
 * write lock, and looks again under it, since another process may have
 * done the work in between.
 */
static int
jr_migrate(struct ctl_journal *j, struct ebb_err *err)
{
	int64_t version, v;
	int pass, rc;

	for (pass = 0; pass < 2; pass++) {
		if ((rc = jr_exec(j, pass == 0 ? "BEGIN" : "BEGIN IMMEDIATE",
		    "open", err)) < 0)
			return rc;
		if ((rc = jr_version(j, &version, err)) < 0)
			goto fail;
		if (version == CTL_JOURNAL_SCHEMA)
			break;
		if (pass == 0) {
			sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
			continue;
		}
		for (v = version; v < CTL_JOURNAL_SCHEMA; v++)
			if ((rc = jr_upgrade(j, v, err)) < 0)
				goto fail;
	}
	if ((rc = jr_exec(j, "COMMIT", "open", err)) < 0)
		goto fail;
	return 0;
fail:
	if (!sqlite3_get_autocommit(j->db))
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int
jr_prepare(struct ctl_journal *j, struct ebb_err *err)
{
	size_t i;
	int rc;

	for (i = 0; i < JS_COUNT; i++) {
		rc = sqlite3_prepare_v3(j->db, jr_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &j->st[i], NULL);
		if (rc != SQLITE_OK)
			return jr_fail(j, rc, jr_sql[i], err);
	}
	return 0;
}

/*
 * Creates the file 0600 if it does not exist: SQLite would make it 0644,
 * and the journal holds migration tokens (the -wal and -shm files take
 * the database file's mode).  A new file's directory entry is synced,
 * which SQLite does for its log but not for the database file: without
 * it a power cut soon after the first start could lose the whole file,
 * decisions and all.
 */
static int
jr_create(struct ctl_journal *j, struct ebb_err *err)
{
	char *dir, *slash;
	int fd, rc = 0;

	fd = open(j->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return jr_err(j, err, -errno, "%s", strerror(errno));
	if (fd < 0) {
		/* It exists: a directory or an unreadable file fails here. */
		if ((fd = open(j->path, O_RDWR | O_CLOEXEC)) < 0)
			return jr_err(j, err, -errno, "%s", strerror(errno));
		close(fd);
		return 0;
	}
	close(fd);
	dir = ebb_strdup(j->path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, strlen(dir) + 1, ".");
	else
		slash[slash == dir] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) != 0)
		rc = jr_err(j, err, -errno, "sync %s: %s", dir,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int
ctl_journal_open(const char *path, struct ctl_journal **jp,
    struct ebb_err *err)
{
	struct ctl_journal *j;
	int rc;

	*jp = NULL;
	if (path == NULL || *path == '\0') {
		ebb_err_set(err, "journal: no path");
		return -EINVAL;
	}
	j = ebb_calloc(1, sizeof(*j));
	j->path = ebb_strdup(path);
	j->memory = strcmp(path, ":memory:") == 0;
	if (!j->memory && (rc = jr_create(j, err)) < 0)
		goto fail;
	rc = sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
	    NULL);
	if (rc != SQLITE_OK) {
		if (j->db == NULL)
			rc = jr_err(j, err, -ENOMEM, "open: out of memory");
		else
			rc = jr_fail(j, rc, "open", err);
		goto fail;
	}
	ctl_journal_set_busy_timeout(j, CTL_JOURNAL_BUSY_MS);
	if ((rc = jr_configure(j, err)) < 0 || (rc = jr_check(j, err)) < 0 ||
	    (rc = jr_migrate(j, err)) < 0 || (rc = jr_prepare(j, err)) < 0)
		goto fail;
	*jp = j;
	return 0;
fail:
	ctl_journal_close(j);
	return rc;
}

void
ctl_journal_close(struct ctl_journal *j)
{
	size_t i, k;

	if (j == NULL)
		return;
	for (i = 0; i < JS_COUNT; i++)
		sqlite3_finalize(j->st[i]);
	for (i = 0; i < 2; i++)
		for (k = 0; k < EBB_NITEMS(j->query[i]); k++)
			sqlite3_finalize(j->query[i][k]);
	/* The last connection to close checkpoints and removes the WAL. */
	sqlite3_close(j->db);
	free(j->path);
	free(j);
}

void
ctl_journal_set_busy_timeout(struct ctl_journal *j, int ms)
{
	j->busy_ms = ms < 0 ? 0 : ms;
	sqlite3_busy_timeout(j->db, j->busy_ms);
}

int
ctl_journal_info(struct ctl_journal *j, json_t **out, struct ebb_err *err)
{
	char mode[32] = "";
	int64_t sync = -1, fk = -1, schema = 0;
	int rc;

	if ((rc = jr_query_text(j, "PRAGMA journal_mode", mode, sizeof(mode),
	    "info", err)) < 0 ||
	    (rc = jr_query_int(j, "PRAGMA synchronous", &sync, "info",
	    err)) < 0 ||
	    (rc = jr_query_int(j, "PRAGMA foreign_keys", &fk, "info",
	    err)) < 0 ||
	    (rc = jr_query_int(j, "SELECT max(version) FROM schema_version",
	    &schema, "info", err)) < 0)
		return rc;
	/* PRAGMA synchronous reads back as a number: 2 is FULL. */
	*out = json_pack("{s:s, s:I, s:s, s:s, s:b, s:i}", "path", j->path,
	    "schema", (json_int_t)schema, "journal_mode", mode,
	    "synchronous", sync == 3 ? "extra" : sync == 2 ? "full" :
	    sync == 1 ? "normal" : "off", "foreign_keys", fk == 1,
	    "busy_timeout_ms", j->busy_ms);
	return 0;
}

double
ctl_journal_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- decisions ---------------------------------------------------------- */

int64_t
ctl_journal_decide(struct ctl_journal *j, const struct ctl_journal_decision *d,
    struct ebb_err *err)
{
	sqlite3_stmt *st = j->st[JS_DEC_ADD];
	const char *outcome = d->outcome != NULL ? d->outcome : "pending";
	char *inputs;
	int64_t id = 0;
	int rc;

	if ((rc = jr_ts(j, "decision time", d->ts, err)) < 0 ||
	    (rc = jr_text(j, "decision kind", d->kind, true, err)) < 0 ||
	    (rc = jr_text(j, "decision subject", d->subject, true, err)) < 0 ||
	    (rc = jr_text(j, "decision host", d->host, false, err)) < 0 ||
	    (rc = jr_text(j, "decision vm", d->vm, false, err)) < 0 ||
	    (rc = jr_text(j, "decision reason", d->reason, true, err)) < 0 ||
	    (rc = jr_outcome(j, outcome, err)) < 0)
		return rc;
	if (d->round < 0)
		return jr_err(j, err, -EINVAL, "decision round %lld < 0",
		    (long long)d->round);
	if (d->inputs != NULL && !json_is_object(d->inputs))
		return jr_err(j, err, -EINVAL, "decision inputs are not a JSON"
		    " object");
	/* Sorted keys: the same figures always read the same in the file. */
	inputs = d->inputs != NULL ? json_dumps(d->inputs, JSON_COMPACT |
	    JSON_SORT_KEYS) : ebb_strdup("{}");
	if (inputs == NULL)
		return jr_err(j, err, -EINVAL, "decision inputs cannot be"
		    " written as JSON");
	rc = SQLITE_OK;
	jb_real(st, 1, d->ts, &rc);
	jb_text(st, 2, d->kind, &rc);
	jb_text(st, 3, d->subject, &rc);
	jb_text(st, 4, d->host, &rc);
	jb_text(st, 5, d->vm, &rc);
	jb_text(st, 6, inputs, &rc);
	jb_text(st, 7, d->reason, &rc);
	jb_text(st, 8, outcome, &rc);
	jb_int(st, 9, d->round, &rc);
	if (rc != SQLITE_OK) {
		rc = jr_fail(j, rc, "record decision", err);
		jr_reset(st);
	} else
		rc = jr_write(j, st, "record decision", &id, err);
	free(inputs);
	return rc < 0 ? rc : id;
}

int
ctl_journal_set_outcome(struct ctl_journal *j, int64_t id, const char *outcome,
    double ts, struct ebb_err *err)
{
	sqlite3_stmt *get = j->st[JS_DEC_OUTCOME], *set = j->st[JS_DEC_SET];
	char what[64], cur[64] = "";
	bool same = false, pending = false;
	const char *s;
	int rc;

	snprintf(what, sizeof(what), "decision %lld", (long long)id);
	if ((rc = jr_outcome(j, outcome, err)) < 0 ||
	    (rc = jr_ts(j, "outcome time", ts, err)) < 0)
		return rc;
	if ((rc = jr_begin(j, what, err)) < 0)
		return rc;
	rc = SQLITE_OK;
	jb_int(get, 1, id, &rc);
	rc = jr_bound_step(j, get, rc, what, err);
	if (rc == 1 &&
	    (s = (const char *)sqlite3_column_text(get, 0)) != NULL) {
		same = strcmp(s, outcome) == 0;
		pending = strcmp(s, "pending") == 0;
		snprintf(cur, sizeof(cur), "%s", s);
	}
	jr_reset(get);
	if (rc == 0)
		rc = jr_err(j, err, -ENOENT, "%s: not in the journal", what);
	if (rc < 0)
		goto fail;
	if (same) {
		/* Said again, after a restart: nothing changes. */
		jr_rollback(j);
		return 0;
	}
	if (!pending) {
		rc = jr_err(j, err, -EALREADY, "%s: already ended (%s)", what,
		    cur);
		goto fail;
	}
	rc = SQLITE_OK;
	jb_int(set, 1, id, &rc);
	jb_text(set, 2, outcome, &rc);
	jb_real(set, 3, ts, &rc);
	rc = jr_bound_step(j, set, rc, what, err);
	jr_reset(set);
	if (rc < 0)
		goto fail;
	return jr_commit(j, what, err);
fail:
	jr_rollback(j);
	return rc;
}

/* The cached statement for one combination of filters, built on first use. */
static int
jr_query_stmt(struct ctl_journal *j, bool newest, unsigned mask,
    sqlite3_stmt **stp, struct ebb_err *err)
{
	char sql[1024];
	size_t n;
	unsigned i;
	int rc;

	if (j->query[newest][mask] != NULL) {
		*stp = j->query[newest][mask];
		return 0;
	}
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT id, ts, kind, subject,"
	    " host, vm, inputs, reason, outcome, round, updated_ts FROM"
	    " decisions");
	for (i = 0; i < JR_NFILTERS; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(sql + n, sizeof(sql) - n,
			    " %s %s", mask & ((1u << i) - 1) ? "AND" : "WHERE",
			    jr_filter_sql[i]);
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY id %s LIMIT ?8",
	    newest ? "DESC" : "ASC");
	rc = sqlite3_prepare_v3(j->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &j->query[newest][mask], NULL);
	if (rc != SQLITE_OK)
		return jr_fail(j, rc, "query decisions", err);
	*stp = j->query[newest][mask];
	return 0;
}

int
ctl_journal_decisions(struct ctl_journal *j, const struct ctl_journal_filter *f,
    json_t **out, struct ebb_err *err)
{
	static const struct ctl_journal_filter all;
	sqlite3_stmt *st;
	json_t *a, *rev;
	unsigned mask = 0;
	size_t i, n;
	int rc;

	if (f == NULL)
		f = &all;
	if (!isfinite(f->since_ts) || f->since_ts < 0 || f->after_id < 0 ||
	    f->round < 0 || f->limit < 0)
		return jr_err(j, err, -EINVAL, "query decisions: a negative"
		    " or infinite filter");
	mask |= f->since_ts > 0 ? 1u << 0 : 0;
	mask |= f->after_id > 0 ? 1u << 1 : 0;
	mask |= f->host != NULL ? 1u << 2 : 0;
	mask |= f->vm != NULL ? 1u << 3 : 0;
	mask |= f->kind != NULL ? 1u << 4 : 0;
	mask |= f->outcome != NULL ? 1u << 5 : 0;
	mask |= f->round > 0 ? 1u << 6 : 0;
	if ((rc = jr_query_stmt(j, f->newest, mask, &st, err)) < 0)
		return rc;
	rc = SQLITE_OK;
	if (mask & (1u << 0))
		jb_real(st, 1, f->since_ts, &rc);
	if (mask & (1u << 1))
		jb_int(st, 2, f->after_id, &rc);
	if (mask & (1u << 2))
		jb_text(st, 3, f->host, &rc);
	if (mask & (1u << 3))
		jb_text(st, 4, f->vm, &rc);
	if (mask & (1u << 4))
		jb_text(st, 5, f->kind, &rc);
	if (mask & (1u << 5))
		jb_text(st, 6, f->outcome, &rc);
	if (mask & (1u << 6))
		jb_int(st, 7, f->round, &rc);
	jb_int(st, 8, f->limit > 0 ? f->limit : -1, &rc);
	if (rc != SQLITE_OK) {
		rc = jr_fail(j, rc, "query decisions", err);
		jr_reset(st);
		return rc;
	}
	if ((rc = jr_list(j, st, "query decisions", &a, err)) < 0)
		return rc;
	if (f->newest) {
		/* Newest first from SQL; the caller gets them by id. */
		n = json_array_size(a);
		rev = json_array();
		for (i = n; i > 0; i--)
			json_array_append(rev, json_array_get(a, i - 1));
		json_decref(a);
		a = rev;
	}
	*out = a;
	return 0;
}

/* ---- state changes ------------------------------------------------------ */

int64_t
ctl_journal_change(struct ctl_journal *j, const struct ctl_journal_change *c,
    struct ebb_err *err)
{
	sqlite3_stmt *last = j->st[JS_CHG_LAST], *add = j->st[JS_CHG_ADD];
	const char *kind = jr_subject_name(c->kind), *s;
	char what[320];
	int64_t id = 0;
	int rc;

	if (kind == NULL)
		return jr_err(j, err, -EINVAL, "state change: subject kind %d"
		    " is neither host nor vm", (int)c->kind);
	if ((rc = jr_ts(j, "state change time", c->ts, err)) < 0 ||
	    (rc = jr_text(j, "state change subject", c->subject, true,
	    err)) < 0 ||
	    (rc = jr_text(j, "state change from", c->from, false, err)) < 0 ||
	    (rc = jr_text(j, "state change to", c->to, true, err)) < 0 ||
	    (rc = jr_text(j, "state change why", c->why, true, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "%s %.200s", kind, c->subject);
	if (c->kind == CTL_JOURNAL_HOST &&
	    ((c->from != NULL && !jr_host_state(c->from)) ||
	    !jr_host_state(c->to)))
		return jr_err(j, err, -EINVAL, "%s: \"%s\" is not a host state",
		    what, jr_host_state(c->to) ? c->from : c->to);
	if (c->decision < 0)
		return jr_err(j, err, -EINVAL, "%s: decision %lld", what,
		    (long long)c->decision);
	if ((rc = jr_begin(j, what, err)) < 0)
		return rc;
	if (c->from != NULL) {
		/* Compare and set, in one transaction: see ctl_journal.h. */
		rc = SQLITE_OK;
		jb_text(last, 1, kind, &rc);
		jb_text(last, 2, c->subject, &rc);
		rc = jr_bound_step(j, last, rc, what, err);
		if (rc == 1 && (s = (const char *)sqlite3_column_text(last,
		    0)) != NULL && strcmp(s, c->from) != 0)
			rc = jr_err(j, err, -ESTALE, "%s is \"%.60s\" in the"
			    " journal, not \"%.60s\"", what, s, c->from);
		jr_reset(last);
		if (rc < 0)
			goto fail;
	}
	rc = SQLITE_OK;
	jb_real(add, 1, c->ts, &rc);
	jb_text(add, 2, kind, &rc);
	jb_text(add, 3, c->subject, &rc);
	jb_text(add, 4, c->from, &rc);
	jb_text(add, 5, c->to, &rc);
	jb_text(add, 6, c->why, &rc);
	if (c->decision > 0)
		jb_int(add, 7, c->decision, &rc);
	rc = jr_bound_step(j, add, rc, what, err);
	id = sqlite3_last_insert_rowid(j->db);
	jr_reset(add);
	if (rc == -ENOENT)
		rc = jr_err(j, err, rc, "%s: decision %lld is not in the"
		    " journal", what, (long long)c->decision);
	if (rc < 0)
		goto fail;
	if ((rc = jr_commit(j, what, err)) < 0)
		return rc;
	return id;
fail:
	jr_rollback(j);
	return rc;
}

int
ctl_journal_latest_states(struct ctl_journal *j, enum ctl_journal_subject kind,
    json_t **out, struct ebb_err *err)
{
	sqlite3_stmt *st = j->st[JS_CHG_LATEST];
	const char *name = jr_subject_name(kind);
	int rc = SQLITE_OK;

	if (name == NULL)
		return jr_err(j, err, -EINVAL, "latest states: subject kind %d"
		    " is neither host nor vm", (int)kind);
	jb_text(st, 1, name, &rc);
	if (rc != SQLITE_OK) {
		rc = jr_fail(j, rc, "latest states", err);
		jr_reset(st);
		return rc;
	}
	return jr_list(j, st, "latest states", out, err);
}

int
ctl_journal_power_held(struct ctl_journal *j, json_t **out,
    struct ebb_err *err)
{
	return jr_list(j, j->st[JS_CHG_HELD], "hosts held", out, err);
}

/* ---- actions in flight -------------------------------------------------- */

const char *
ctl_journal_mig_state_name(enum ctl_journal_mig_state s)
{
	return (unsigned)s < EBB_NITEMS(jr_mig_names) ? jr_mig_names[s] : NULL;
}

const char *
ctl_journal_power_state_name(enum ctl_journal_power_state s)
{
	return (unsigned)s < EBB_NITEMS(jr_power_names) ? jr_power_names[s]
							: NULL;
}

/*
 * Runs the bound insert of an action with its conflict check: `check`,
 * bound, must find no row (the row it finds names the conflict for the
 * message), or NULL for none.
 */
static int64_t
jr_action_add(struct ctl_journal *j, sqlite3_stmt *check, const char *clash,
    sqlite3_stmt *add, const char *what, const char *dup, int64_t decision,
    struct ebb_err *err)
{
	int64_t id = 0;
	int rc;

	if ((rc = jr_begin(j, what, err)) < 0)
		goto out;
	if (check != NULL) {
		rc = jr_step(j, check, what, err);
		if (rc == 1)
			rc = jr_err(j, err, -EEXIST, "%s: %s %.100s is in"
			    " flight", what, clash,
			    (const char *)sqlite3_column_text(check, 0));
		if (rc < 0)
			goto out;
	}
	rc = jr_step(j, add, what, err);
	id = sqlite3_last_insert_rowid(j->db);
	if (rc == -EEXIST)
		rc = jr_err(j, err, rc, "%s: %s", what, dup);
	else if (rc == -ENOENT)
		rc = jr_err(j, err, rc, "%s: decision %lld is not in the"
		    " journal", what, (long long)decision);
out:
	if (check != NULL)
		jr_reset(check);
	jr_reset(add);
	if (rc < 0) {
		jr_rollback(j);
		return rc;
	}
	if ((rc = jr_commit(j, what, err)) < 0)
		return rc;
	return id;
}

int64_t
ctl_journal_migration_add(struct ctl_journal *j,
    const struct ctl_journal_migration *m, struct ebb_err *err)
{
	sqlite3_stmt *check = j->st[JS_MIG_POWEROFF], *add = j->st[JS_MIG_ADD];
	char what[320];
	int rc;

	if ((rc = jr_ts(j, "migration time", m->ts, err)) < 0 ||
	    (rc = jr_text(j, "migration vm", m->vm, true, err)) < 0 ||
	    (rc = jr_text(j, "migration source", m->from, true, err)) < 0 ||
	    (rc = jr_text(j, "migration target", m->to, true, err)) < 0 ||
	    (rc = jr_text(j, "migration token", m->token, false, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "migration of %.100s from %.80s to %.80s",
	    m->vm, m->from, m->to);
	if (strcmp(m->from, m->to) == 0)
		return jr_err(j, err, -EINVAL, "%s: source and target are the"
		    " same host", what);
	if (m->decision <= 0)
		return jr_err(j, err, -EINVAL, "%s: no decision", what);
	rc = SQLITE_OK;
	jb_text(check, 1, m->from, &rc);
	jb_text(check, 2, m->to, &rc);
	jb_int(add, 1, m->decision, &rc);
	jb_text(add, 2, m->vm, &rc);
	jb_text(add, 3, m->from, &rc);
	jb_text(add, 4, m->to, &rc);
	jb_text(add, 5, m->token, &rc);
	jb_real(add, 6, m->ts, &rc);
	if (rc != SQLITE_OK) {
		rc = jr_fail(j, rc, what, err);
		jr_reset(check);
		jr_reset(add);
		return rc;
	}
	return jr_action_add(j, check, "a power-off of host", add, what,
	    "the VM already has a migration in flight", m->decision, err);
}

int64_t
ctl_journal_power_add(struct ctl_journal *j, const struct ctl_journal_power *p,
    struct ebb_err *err)
{
	sqlite3_stmt *check = j->st[JS_PWR_MIGRATION], *add = j->st[JS_PWR_ADD];
	char what[160];
	int rc;

	if ((rc = jr_ts(j, "power action time", p->ts, err)) < 0 ||
	    (rc = jr_text(j, "power action host", p->host, true, err)) < 0 ||
	    (rc = jr_text(j, "power action driver", p->driver, true,
	    err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "power %s of %.100s", p->on ? "on" : "off",
	    p->host);
	if (p->deadline_ts != 0 &&
	    (rc = jr_ts(j, "power action deadline", p->deadline_ts, err)) < 0)
		return rc;
	if (p->decision <= 0)
		return jr_err(j, err, -EINVAL, "%s: no decision", what);
	rc = SQLITE_OK;
	/* A host with a VM coming or going is never switched off. */
	if (!p->on)
		jb_text(check, 1, p->host, &rc);
	jb_int(add, 1, p->decision, &rc);
	jb_text(add, 2, p->host, &rc);
	jb_text(add, 3, p->on ? "on" : "off", &rc);
	jb_text(add, 4, p->driver, &rc);
	jb_real(add, 5, p->ts, &rc);
	jb_opt_real(add, 6, p->deadline_ts > 0, p->deadline_ts, &rc);
	if (rc != SQLITE_OK) {
		rc = jr_fail(j, rc, what, err);
		jr_reset(check);
		jr_reset(add);
		return rc;
	}
	return jr_action_add(j, p->on ? NULL : check, "a migration of VM",
	    add, what, "the host already has a power action in flight",
	    p->decision, err);
}

/* One step of an action's state machine; see ctl_journal_migration_set(). */
static int
jr_advance(struct ctl_journal *j, const struct jr_machine *m, int64_t id,
    int state, double ts, double deadline, struct ebb_err *err)
{
	sqlite3_stmt *get = j->st[m->get], *set = j->st[m->set];
	char what[64];
	int rc, cur;

	snprintf(what, sizeof(what), "%s %lld", m->what, (long long)id);
	if (state < 0 || state >= m->nstates)
		return jr_err(j, err, -EINVAL, "%s: state %d", what, state);
	if ((rc = jr_ts(j, "time", ts, err)) < 0)
		return rc;
	if (deadline != 0 && (rc = jr_ts(j, "deadline", deadline, err)) < 0)
		return rc;
	if ((rc = jr_begin(j, what, err)) < 0)
		return rc;
	rc = SQLITE_OK;
	jb_int(get, 1, id, &rc);
	rc = jr_bound_step(j, get, rc, what, err);
	cur = -1;
	if (rc == 1) {
		const char *s = (const char *)sqlite3_column_text(get, 0);

		for (cur = m->nstates - 1; cur >= 0; cur--)
			if (s != NULL && strcmp(s, m->names[cur]) == 0)
				break;
	}
	jr_reset(get);
	if (rc == 0)
		rc = jr_err(j, err, -ENOENT, "%s: not in the journal", what);
	else if (rc == 1 && cur < 0)
		rc = jr_err(j, err, -EBADMSG, "%s: unknown state", what);
	if (rc < 0)
		goto fail;
	if (cur == state && (deadline <= 0 || cur >= m->first_end)) {
		/* Said again, after a restart: nothing changes. */
		jr_rollback(j);
		return 0;
	}
	if (cur != state && (cur >= m->first_end ||
	    !(m->next[cur] & JR_BIT(state)))) {
		rc = jr_err(j, err, -EINVAL, "%s: %s -> %s is not a valid step",
		    what, m->names[cur], m->names[state]);
		goto fail;
	}
	rc = SQLITE_OK;
	jb_int(set, 1, id, &rc);
	jb_text(set, 2, m->names[state], &rc);
	jb_opt_real(set, 3, cur != state && state == m->started, ts, &rc);
	jb_opt_real(set, 4, cur != state && state >= m->first_end, ts, &rc);
	if (m->deadline)
		jb_opt_real(set, 5, deadline > 0, deadline, &rc);
	rc = jr_bound_step(j, set, rc, what, err);
	jr_reset(set);
	if (rc < 0)
		goto fail;
	return jr_commit(j, what, err);
fail:
	jr_rollback(j);
	return rc;
}

int
ctl_journal_migration_set(struct ctl_journal *j, int64_t id,
    enum ctl_journal_mig_state state, double ts, struct ebb_err *err)
{
	return jr_advance(j, &jr_mig, id, (int)state, ts, 0, err);
}

int
ctl_journal_power_set(struct ctl_journal *j, int64_t id,
    enum ctl_journal_power_state state, double ts, double deadline_ts,
    struct ebb_err *err)
{
	return jr_advance(j, &jr_power, id, (int)state, ts, deadline_ts, err);
}

int
ctl_journal_migrations_in_flight(struct ctl_journal *j, json_t **out,
    struct ebb_err *err)
{
	return jr_list(j, j->st[JS_MIG_LIST], "migrations in flight", out, err);
}

int
ctl_journal_power_in_flight(struct ctl_journal *j, json_t **out,
    struct ebb_err *err)
{
	return jr_list(j, j->st[JS_PWR_LIST], "power actions in flight", out,
	    err);
}

/* ---- key/value ---------------------------------------------------------- */

int
ctl_journal_kv_get(struct ctl_journal *j, const char *key, char **value,
    struct ebb_err *err)
{
	sqlite3_stmt *st = j->st[JS_KV_GET];
	const char *v;
	size_t len;
	int rc;

	*value = NULL;
	if ((rc = jr_text(j, "key", key, true, err)) < 0)
		return rc;
	rc = SQLITE_OK;
	jb_text(st, 1, key, &rc);
	rc = jr_bound_step(j, st, rc, "get key", err);
	if (rc == 1) {
		v = (const char *)sqlite3_column_text(st, 0);
		len = (size_t)sqlite3_column_bytes(st, 0);
		if (v == NULL)
			rc = jr_err(j, err, -ENOMEM, "key %.100s: out of"
			    " memory", key);
		else {
			*value = ebb_malloc(len + 1);
			memcpy(*value, v, len + 1);
		}
	}
	jr_reset(st);
	if (rc == 0)
		rc = jr_err(j, err, -ENOENT, "key %.100s is not set", key);
	return rc < 0 ? rc : 0;
}

/* set (check false) and swap (check true: the value must be expect). */
static int
jr_kv_write(struct ctl_journal *j, const char *key, bool check,
    const char *expect, const char *value, double ts, struct ebb_err *err)
{
	sqlite3_stmt *get = j->st[JS_KV_GET];
	sqlite3_stmt *put = j->st[value != NULL ? JS_KV_SET : JS_KV_DEL];
	char what[128];
	const char *cur;
	bool same;
	int rc;

	if ((rc = jr_text(j, "key", key, true, err)) < 0 ||
	    (rc = jr_ts(j, "key time", ts, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "key %.100s", key);
	if ((rc = jr_begin(j, what, err)) < 0)
		return rc;
	if (check) {
		rc = SQLITE_OK;
		jb_text(get, 1, key, &rc);
		rc = jr_bound_step(j, get, rc, what, err);
		if (rc >= 0) {
			cur = rc == 1 ? (const char *)sqlite3_column_text(get,
			    0) : NULL;
			same = cur == NULL || expect == NULL
				   ? cur == expect
				   : strcmp(cur, expect) == 0;
			if (!same)
				rc = jr_err(j, err, -ESTALE, "%s: %s", what,
				    cur == NULL ? "is not set"
						: "has another value");
		}
		jr_reset(get);
		if (rc < 0)
			goto fail;
	}
	rc = SQLITE_OK;
	jb_text(put, 1, key, &rc);
	if (value != NULL) {
		jb_text(put, 2, value, &rc);
		jb_real(put, 3, ts, &rc);
	}
	rc = jr_bound_step(j, put, rc, what, err);
	jr_reset(put);
	if (rc < 0)
		goto fail;
	return jr_commit(j, what, err);
fail:
	jr_rollback(j);
	return rc;
}

int
ctl_journal_kv_set(struct ctl_journal *j, const char *key, const char *value,
    double ts, struct ebb_err *err)
{
	return jr_kv_write(j, key, false, NULL, value, ts, err);
}

int
ctl_journal_kv_swap(struct ctl_journal *j, const char *key, const char *expect,
    const char *value, double ts, struct ebb_err *err)
{
	return jr_kv_write(j, key, true, expect, value, ts, err);
}
