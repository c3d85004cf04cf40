/*
 * ctl_jnl.h - the controller's use of its journal (ctl_journal.h): every
 * decision, state change and action in flight is written before it is
 * acted on, and read back on restart.  Failures to write are logged where
 * they happen; a decision the journal refused returns -errno and the
 * caller must not act on it.
 */
#ifndef CTL_JNL_H
#define CTL_JNL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl.h"
#include "ctl_journal.h"

int	ctl_jnl_open(struct ctl *, struct ebb_err *);
void	ctl_jnl_close(struct ctl *);
/*
 * Sets each configured host's power_held from the journal: held when it
 * last went failed with no operator's clear done since.  At start, and
 * when a standby takes over (the journal holds the other controller's
 * failures and clears too).
 */
void	ctl_jnl_holds(struct ctl *);

/* A decision (inputs consumed); its id, or -errno: do not act. */
int64_t	ctl_jnl_decide(struct ctl *, const char *kind, const char *subject,
	    const char *host, const char *vm, json_t *inputs,
	    const char *reason);
void	ctl_jnl_outcome(struct ctl *, int64_t decision, const char *outcome);
void	ctl_jnl_state(struct ctl *, const char *kind, const char *subject,
	    const char *from, const char *to, const char *why,
	    int64_t decision);

/* A power action, recorded as started; its id or -errno. */
int64_t	ctl_jnl_power(struct ctl *, int64_t decision, const char *host,
	    bool on, const char *driver, double deadline_ts);
void	ctl_jnl_power_end(struct ctl *, int64_t action, bool ok);
/* A migration, recorded as started; its id or -errno. */
int64_t	ctl_jnl_migration(struct ctl *, int64_t decision, const char *vm,
	    const char *from, const char *to);
void	ctl_jnl_migration_end(struct ctl *, int64_t mig, bool ok);

void	ctl_jnl_round(struct ctl *, uint64_t round);
/* The newest decisions matching (NULL = any), oldest first. */
json_t	*ctl_jnl_query(struct ctl *, const char *kind, const char *host,
	    const char *vm, int limit);
json_t	*ctl_jnl_query_filter(struct ctl *, const struct ctl_journal_filter *);

#endif /* CTL_JNL_H */
