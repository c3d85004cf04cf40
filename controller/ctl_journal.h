/*
 * ctl_journal.h - the controller's journal: every decision, every state
 * change and every action in flight, in SQLite, written and synced before
 * the controller acts on it, so that a restarted controller resumes
 * instead of repeating or forgetting (docs/architecture.md).
 *
 * What it holds:
 *  - decisions: what the controller decided (or chose not to do), on which
 *    figures, why, and how it ended;
 *  - state changes of hosts and VMs, each optionally tied to a decision;
 *  - actions in flight: migrations and power actions, so that on restart
 *    the controller lists them and asks the agents how they ended;
 *  - a small key/value store for the controller's own state (the policy
 *    in force, the round counter, a standby's lease).
 *
 * Rules:
 *  - Every write is one transaction, committed with a full fsync before
 *    the function returns.  A negative return means nothing was written
 *    and the caller must not act: an action the journal refused to record
 *    is an action a restarted controller would not know about.
 *  - Functions return 0, a positive id (int64_t) or a negative errno, with
 *    err (which may be NULL) saying what went wrong and naming the file.
 *    Errors common to all: -EINVAL (bad argument), -EILSEQ (text that is
 *    not UTF-8: everything but key/value values ends up in JSON), -EBUSY
 *    (another process held the journal past the busy timeout), -EIO,
 *    -ENOSPC, -EBADMSG (the file is damaged or is not an ebb journal).
 *  - Timestamps are wall clock seconds (ctl_journal_now()), finite, >= 0.
 *    The caller passes them, so tests and replays choose their clock.
 *  - Lists come back as a jansson array of objects the caller decrefs,
 *    ordered by id; text columns are strings, absent values null.
 *  - A handle belongs to one thread at a time.  Other processes (a standby
 *    controller, a reader) open their own handle on the same file: readers
 *    never wait for the writer (WAL), writers wait for each other up to the
 *    busy timeout.  SQLite's wait is polling, not a queue: a process that
 *    writes without pause can starve another one.
 */
#ifndef CTL_JOURNAL_H
#define CTL_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ebb.h"

#define CTL_JOURNAL_SCHEMA	1	/* the schema this code writes */
#define CTL_JOURNAL_BUSY_MS	5000	/* default wait for another writer */

struct ctl_journal;

/*
 * Opens the journal at path (":memory:" for a private one), creating it
 * with mode 0600 (it holds migration tokens) and creating or upgrading the
 * schema.  A file that is not SQLite, is damaged, belongs to another
 * program or was written by a newer ebb is refused (-EBADMSG, -ENOTSUP).
 */
int	ctl_journal_open(const char *path, struct ctl_journal **,
	    struct ebb_err *);
/* Closes it; NULL is fine.  Nothing to report: every commit is durable. */
void	ctl_journal_close(struct ctl_journal *);
/* How long a write waits for another process's write (ms, >= 0). */
void	ctl_journal_set_busy_timeout(struct ctl_journal *, int ms);
/*
 * {"path", "schema", "journal_mode", "synchronous", "foreign_keys",
 *  "busy_timeout_ms"} as this handle's connection has them.
 */
int	ctl_journal_info(struct ctl_journal *, json_t **out, struct ebb_err *);
/* The wall clock, seconds since the epoch. */
double	ctl_journal_now(void);

/* ---- decisions ---------------------------------------------------------- */

struct ctl_journal_decision {
	double		 ts;
	const char	*kind;		/* "migrate", "power-off", "power-on",
					   "drain", "keep-on", "no-target",
					   "policy", ... */
	const char	*subject;	/* what it is about: host or VM name */
	const char	*host;		/* the host concerned, or NULL */
	const char	*vm;		/* the VM concerned, or NULL */
	const json_t	*inputs;	/* an object: the figures it was made
					   on (NULL: {}) */
	const char	*reason;	/* in words, not empty */
	const char	*outcome;	/* NULL: "pending" */
	int64_t		 round;		/* planning round; 0: none */
};

/*
 * Records a decision; returns its id (> 0) once it is on disk.  Outcomes
 * are "pending", "done", "cancelled" or "failed: why".
 */
int64_t	ctl_journal_decide(struct ctl_journal *,
	    const struct ctl_journal_decision *, struct ebb_err *);
/*
 * Sets the outcome of decision id at ts.  Only a pending decision changes;
 * setting an ended decision's own outcome again is a no-op (a restarted
 * controller may repeat it), another one is -EALREADY.  -ENOENT: no such
 * decision.
 */
int	ctl_journal_set_outcome(struct ctl_journal *, int64_t id,
	    const char *outcome, double ts, struct ebb_err *);

/* Which decisions ctl_journal_decisions() returns; zeroed: all of them. */
struct ctl_journal_filter {
	double		 since_ts;	/* ts >= since_ts (0: any) */
	int64_t		 after_id;	/* id > after_id (0: any), for paging */
	const char	*host;		/* NULL: any */
	const char	*vm;		/* NULL: any */
	const char	*kind;		/* NULL: any */
	const char	*outcome;	/* exact, or "failed" for any failure */
	int64_t		 round;		/* 0: any */
	int		 limit;		/* at most this many (0: no limit) */
	bool		 newest;	/* with limit: the newest ones, not the
					   oldest (still returned by id) */
};

/*
 * The matching decisions as objects {"id", "ts", "kind", "subject",
 * "host", "vm", "inputs" (the object recorded), "reason", "outcome",
 * "round", "updated_ts"}, by id.  filter may be NULL.
 */
int	ctl_journal_decisions(struct ctl_journal *,
	    const struct ctl_journal_filter *, json_t **out, struct ebb_err *);

/* ---- state changes ------------------------------------------------------ */

enum ctl_journal_subject {
	CTL_JOURNAL_HOST,
	CTL_JOURNAL_VM,
};

struct ctl_journal_change {
	double			 ts;
	enum ctl_journal_subject kind;
	const char		*subject;	/* host or VM name */
	const char		*from;		/* NULL: not checked */
	const char		*to;
	const char		*why;		/* not empty */
	int64_t			 decision;	/* the cause; 0: none */
};

/*
 * Records a state change; returns its id.  A host's states are the names
 * of pol_host_state_name() ("on", "draining", ...); a VM's are the
 * controller's.  When from is given it must be the subject's latest
 * recorded state, if there is one, or the change is refused with -ESTALE:
 * two writers, or a controller whose picture went stale, cannot silently
 * overwrite each other.  -ENOENT: decision is not in the journal.
 */
int64_t	ctl_journal_change(struct ctl_journal *,
	    const struct ctl_journal_change *, struct ebb_err *);
/*
 * The latest recorded state of every host (or VM), by name, as objects
 * {"subject", "state", "since", "why", "decision", "change"}: where a
 * restarted controller starts from.
 */
int	ctl_journal_latest_states(struct ctl_journal *,
	    enum ctl_journal_subject, json_t **out, struct ebb_err *);
/*
 * The hosts held from power-off (docs/architecture.md, "Host states"):
 * each whose latest change to "failed" no operator has cleared since,
 * that is, no decision of kind "clear" about it (its host column) that
 * ended "done" is later by ts than that change.  A clear still pending
 * or failed does not count: the controller stopped before it took
 * effect.  Objects {"host", "since" (the failure's ts), "why", "change"},
 * by host name.
 */
int	ctl_journal_power_held(struct ctl_journal *, json_t **out,
	    struct ebb_err *);

/* ---- actions in flight -------------------------------------------------- */

/*
 * Write-ahead order for both kinds: add the action (planned) when about to
 * act; set it STARTED *before* sending the command, so that after a crash
 * "planned" means "certainly not sent" and "started" means "maybe sent:
 * ask the agents"; set how it ended once it is known.  Planned and
 * started actions are "in flight".
 */
enum ctl_journal_mig_state {
	CTL_JOURNAL_MIG_PLANNED,
	CTL_JOURNAL_MIG_STARTED,
	CTL_JOURNAL_MIG_COMMITTED,	/* the target runs it; source gone */
	CTL_JOURNAL_MIG_FAILED,		/* ended otherwise (or never began) */
	CTL_JOURNAL_MIG_ROLLED_BACK,	/* failed, and the source resumed */
};

/* "planned", "started", "committed", "failed", "rolled-back"; NULL if bad. */
const char *ctl_journal_mig_state_name(enum ctl_journal_mig_state);

struct ctl_journal_migration {
	double		 ts;
	int64_t		 decision;	/* required: no action without one */
	const char	*vm;
	const char	*from;		/* source host */
	const char	*to;		/* target host */
	const char	*token;		/* per-migration token, or NULL */
};

/*
 * Records a planned migration; returns its id.  -EEXIST: the VM already
 * has a migration in flight, or either host has a power-off in flight.
 * -ENOENT: no such decision.
 */
int64_t	ctl_journal_migration_add(struct ctl_journal *,
	    const struct ctl_journal_migration *, struct ebb_err *);
/*
 * Moves migration id to state at ts: planned -> started | failed,
 * started -> committed | failed | rolled-back; started_ts and ended_ts
 * follow.  The state it is already in is a no-op; any other step is
 * -EINVAL.  -ENOENT: no such migration.
 */
int	ctl_journal_migration_set(struct ctl_journal *, int64_t id,
	    enum ctl_journal_mig_state, double ts, struct ebb_err *);
/*
 * Migrations in flight as objects {"id", "decision", "vm", "from", "to",
 * "token", "state", "ts", "started_ts", "ended_ts"}.
 */
int	ctl_journal_migrations_in_flight(struct ctl_journal *, json_t **out,
	    struct ebb_err *);

enum ctl_journal_power_state {
	CTL_JOURNAL_POWER_PLANNED,
	CTL_JOURNAL_POWER_STARTED,
	CTL_JOURNAL_POWER_DONE,		/* the host reached the state asked */
	CTL_JOURNAL_POWER_FAILED,
};

/* "planned", "started", "done", "failed"; NULL if bad. */
const char *ctl_journal_power_state_name(enum ctl_journal_power_state);

struct ctl_journal_power {
	double		 ts;
	int64_t		 decision;	/* required */
	const char	*host;
	bool		 on;		/* power on (true) or off (false) */
	const char	*driver;	/* "ipmi", "wol", "command", ... */
	double		 deadline_ts;	/* confirm by then; 0: none yet */
};

/*
 * Records a planned power action; returns its id.  -EEXIST: the host
 * already has one in flight, or (power off) a migration in flight from or
 * to it.  -ENOENT: no such decision.
 */
int64_t	ctl_journal_power_add(struct ctl_journal *,
	    const struct ctl_journal_power *, struct ebb_err *);
/*
 * Moves power action id to state at ts: planned -> started | failed,
 * started -> done | failed; deadline_ts > 0 replaces the deadline (as a
 * start usually does).  Same rules as ctl_journal_migration_set().
 */
int	ctl_journal_power_set(struct ctl_journal *, int64_t id,
	    enum ctl_journal_power_state, double ts, double deadline_ts,
	    struct ebb_err *);
/*
 * Power actions in flight as objects {"id", "decision", "host", "action"
 * ("on"/"off"), "driver", "state", "ts", "deadline_ts", "started_ts",
 * "ended_ts"}.
 */
int	ctl_journal_power_in_flight(struct ctl_journal *, json_t **out,
	    struct ebb_err *);

/* ---- key/value ---------------------------------------------------------- */

/*
 * Values are any NUL-terminated bytes (they never go through JSON here).
 * get: *value is a copy the caller frees; -ENOENT when the key is absent.
 * set: value NULL deletes the key.
 * swap: sets value only if the current value is expect (NULL: absent),
 * else -ESTALE and nothing changes; the test and the write are one
 * transaction, which is what a lease between two controllers needs.
 */
int	ctl_journal_kv_get(struct ctl_journal *, const char *key, char **value,
	    struct ebb_err *);
int	ctl_journal_kv_set(struct ctl_journal *, const char *key,
	    const char *value, double ts, struct ebb_err *);
int	ctl_journal_kv_swap(struct ctl_journal *, const char *key,
	    const char *expect, const char *value, double ts,
	    struct ebb_err *);

#endif /* CTL_JOURNAL_H */
