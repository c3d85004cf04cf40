/*
 * ctl_jnl.c - the controller's journal use, and what a restart reads back.
 */
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_bus.h"
#include "ctl_jnl.h"
#include "ebb_log.h"

/* Makes the journal's folder (one level) if it is missing. */
static void
make_parent(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	mkdir(dirname(buf), 0700);
}

static int
state_parse(const char *s, enum pol_host_state *out)
{
	for (int i = POL_HOST_ON; i <= POL_HOST_MAINTENANCE; i++)
		if (strcmp(s, pol_host_state_name(i)) == 0) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

/*
 * A migration the journal had in flight when the controller stopped.  One
 * only planned was certainly not sent (it is set started before the
 * command leaves): it failed.  One started may be running still, or have
 * ended either way while no controller listened; its result, numbered on
 * a connection that is gone, will not come, so it is carried on as an
 * orphan: the agents' reports say where the VM runs (resolve_orphans).
 * Meanwhile the VM is "migrating" and neither host is switched off.
 */
static void
resume_migration(struct ctl *c, json_t *v)
{
	const char *vm = json_string_value(json_object_get(v, "vm"));
	const char *from = json_string_value(json_object_get(v, "from"));
	const char *to = json_string_value(json_object_get(v, "to"));
	const char *st = json_string_value(json_object_get(v, "state"));
	int64_t id = json_integer_value(json_object_get(v, "id"));
	int64_t d = json_integer_value(json_object_get(v, "decision"));
	int fi = from ? ctl_host_find(c, from) : -1;
	int ti = to ? ctl_host_find(c, to) : -1;
	int vi;

	if (vm == NULL || from == NULL || to == NULL || st == NULL)
		return;
	if (strcmp(st, "planned") == 0) {
		ctl_jnl_migration_end(c, id, false);
		ctl_jnl_outcome(c, d, "failed: the controller stopped before "
		    "sending it");
		return;
	}
	if (fi < 0 || ti < 0 || (vi = ctl_vm_get(c, vm)) < 0) {
		ebb_warn("journal: migration of %s from %s to %s was in flight "
		    "when the controller stopped, between hosts not listed "
		    "here: left in flight", vm, from, to);
		return;
	}
	ctl_migration_adopt(c, vi, fi, ti, d, id);
	ebb_warn("journal: migration of %s from %s to %s was in flight when "
	    "the controller stopped; the agents' reports will say how it "
	    "ended", vm, from, to);
}

/* Whether decision d has an action this controller carries on. */
static bool
decision_open(const struct ctl *c, int64_t d)
{
	for (int i = 0; i < c->npending; i++)
		if (c->pending[i].decision == d)
			return true;
	for (int hi = 0; hi < c->nhosts; hi++)
		if (c->hosts[hi].power_decision == d &&
		    c->hosts[hi].state == POL_HOST_POWERING_ON)
			return true;
	return false;
}

/*
 * Decisions still pending with nothing carried on for them: the controller
 * stopped after deciding and before the action was recorded, so nothing
 * was done.  Not those mirrored from another controller (kafka: inputs
 * say their origin), which that one's messages end.
 */
static void
close_stale(struct ctl *c)
{
	struct ctl_journal_filter f = { .outcome = "pending" };
	struct ebb_err err;
	json_t *ds = NULL, *v;
	size_t i;

	if (ctl_journal_decisions(c->journal, &f, &ds, &err) != 0) {
		ebb_warn("journal: cannot read pending decisions: %s", err.msg);
		return;
	}
	json_array_foreach(ds, i, v) {
		int64_t id = json_integer_value(json_object_get(v, "id"));

		if (json_object_get(json_object_get(v, "inputs"),
		    "origin") != NULL || decision_open(c, id))
			continue;
		ctl_jnl_outcome(c, id, "failed: the controller stopped before "
		    "acting on it");
	}
	json_decref(ds);
}

/*
 * A host that failed to come back after a power-on is held from power-off
 * until an operator clears it (set_state(), ctl_api.c): the hold must
 * outlive the controller, or a restart would let the policy cycle a
 * power path that failed once.  Hosts not in the configuration are not
 * restored (they come back at hello, with no power driver, so they can
 * neither fail nor be switched off).
 */
void
ctl_jnl_holds(struct ctl *c)
{
	struct ebb_err err;
	json_t *held = NULL, *v;
	unsigned char *was;
	size_t i;
	int hi;

	if (ctl_journal_power_held(c->journal, &held, &err) != 0) {
		ebb_warn("journal: cannot read which hosts are held from "
		    "power-off: %s", err.msg);
		return;
	}
	was = ebb_calloc(EBB_MAX(c->nhosts, 1), 1);
	for (hi = 0; hi < c->nhosts; hi++) {
		was[hi] = c->hosts[hi].power_held;
		c->hosts[hi].power_held = false;
	}
	json_array_foreach(held, i, v) {
		const char *name = json_string_value(json_object_get(v,
		    "host"));

		if (name == NULL || (hi = ctl_host_find(c, name)) < 0)
			continue;
		c->hosts[hi].power_held = true;
		if (!was[hi])
			ebb_info("host %s: held from power-off since it failed "
			    "to come back (%s); POST /api/hosts/%s/clear "
			    "releases it", name, json_string_value(
			    json_object_get(v, "why")) ?: "?", name);
	}
	for (hi = 0; hi < c->nhosts; hi++)
		if (was[hi] && !c->hosts[hi].power_held)
			ebb_info("host %s: no longer held from power-off (the "
			    "journal has it cleared)", c->hosts[hi].conf.name);
	free(was);
	json_decref(held);
}

/*
 * A restarted controller starts from what the journal last recorded for
 * each host, made safe: a host that was on is unknown until its agent
 * says hello again (it may have gone down meanwhile), and one that was
 * being switched off is taken as off (if it is not, its agent will say
 * hello and it is on again).  A hold from power-off is kept.
 */
static void
resume(struct ctl *c)
{
	struct ebb_err err;
	json_t *states = NULL, *v, *inflight = NULL;
	size_t i;

	if (ctl_journal_latest_states(c->journal, CTL_JOURNAL_HOST, &states,
	    &err) != 0) {
		ebb_warn("journal: cannot read host states: %s", err.msg);
		return;
	}
	json_array_foreach(states, i, v) {
		const char *name = json_string_value(json_object_get(v,
		    "subject"));
		const char *st = json_string_value(json_object_get(v, "state"));
		enum pol_host_state s;
		int hi;

		if (name == NULL || st == NULL || state_parse(st, &s) != 0)
			continue;
		if ((hi = ctl_host_find(c, name)) < 0)
			continue;
		if (s == POL_HOST_ON || s == POL_HOST_DRAINING ||
		    s == POL_HOST_EMPTY)
			s = POL_HOST_UNKNOWN;
		else if (s == POL_HOST_POWERING_OFF)
			s = POL_HOST_OFF;
		if (c->hosts[hi].conf.maintenance)
			s = POL_HOST_MAINTENANCE;
		c->hosts[hi].state = s;
	}
	json_decref(states);
	ctl_jnl_holds(c);
	/*
	 * A power action in flight is picked up where it was: a hello (on)
	 * or the boot timeout closes it, as if the controller had not
	 * stopped.  An off that was in flight is closed now: the host is
	 * taken as off, and its agent's hello would say otherwise.
	 */
	if (ctl_journal_power_in_flight(c->journal, &inflight, &err) == 0) {
		json_array_foreach(inflight, i, v) {
			const char *name = json_string_value(json_object_get(v,
			    "host"));
			int hi = name ? ctl_host_find(c, name) : -1;
			bool on = strcmp(json_string_value(json_object_get(v,
			    "action")) ?: "", "on") == 0;

			if (hi < 0)
				continue;
			c->hosts[hi].power_decision = json_integer_value(
			    json_object_get(v, "decision"));
			c->hosts[hi].power_action = json_integer_value(
			    json_object_get(v, "id"));
			c->hosts[hi].power_on = on;
			if (!on) {
				ctl_jnl_power_end(c, c->hosts[hi].power_action,
				    true);
				ctl_jnl_outcome(c, c->hosts[hi].power_decision,
				    "done");
			} else if (!c->hosts[hi].conf.maintenance) {
				/*
				 * Switching on, whatever state the journal
				 * got to write before the stop.
				 */
				c->hosts[hi].state = POL_HOST_POWERING_ON;
			}
		}
		json_decref(inflight);
		inflight = NULL;
	}
	for (int hi = 0; hi < c->nhosts; hi++)
		if (c->hosts[hi].state == POL_HOST_POWERING_ON)
			c->hosts[hi].boot_deadline = ebb_monoclock() +
			    c->cfg.boot_timeout_s;
	if (ctl_journal_migrations_in_flight(c->journal, &inflight, &err) == 0)
		json_array_foreach(inflight, i, v)
			resume_migration(c, v);
	json_decref(inflight);
	close_stale(c);
}

int
ctl_jnl_open(struct ctl *c, struct ebb_err *err)
{
	int rc;

	make_parent(c->cfg.journal);
	if ((rc = ctl_journal_open(c->cfg.journal, &c->journal, err)) != 0)
		return rc;
	resume(c);
	return 0;
}

void
ctl_jnl_close(struct ctl *c)
{
	ctl_journal_close(c->journal);
	c->journal = NULL;
}

int64_t
ctl_jnl_decide(struct ctl *c, const char *kind, const char *subject,
    const char *host, const char *vm, json_t *inputs, const char *reason)
{
	struct ctl_journal_decision d = {
		.ts = ctl_journal_now(), .kind = kind, .subject = subject,
		.host = host, .vm = vm, .inputs = inputs, .reason = reason,
		.round = (int64_t)c->stats.rounds + 1,
	};
	struct ebb_err err;
	int64_t id = ctl_journal_decide(c->journal, &d, &err);

	json_decref(inputs);
	if (id < 0)
		ebb_err_log("journal: decision %s %s refused: %s", kind,
		    subject, err.msg);
	else
		ctl_bus_decision(c, id);	/* on kafka, made public */
	return id;
}

void
ctl_jnl_outcome(struct ctl *c, int64_t decision, const char *outcome)
{
	struct ebb_err err;
	char buf[512];

	if (decision <= 0)
		return;
	/* Outcomes are "done", "cancelled" or "failed: why". */
	if (strcmp(outcome, "done") != 0 && strcmp(outcome, "cancelled") != 0 &&
	    strncmp(outcome, "failed", 6) != 0) {
		snprintf(buf, sizeof(buf), "failed: %s", outcome);
		outcome = buf;
	}
	if (ctl_journal_set_outcome(c->journal, decision, outcome,
	    ctl_journal_now(), &err) != 0)
		ebb_err_log("journal: outcome of decision %lld: %s",
		    (long long)decision, err.msg);
	else
		ctl_bus_decision(c, decision);
}

void
ctl_jnl_state(struct ctl *c, const char *kind, const char *subject,
    const char *from, const char *to, const char *why, int64_t decision)
{
	struct ctl_journal_change ch = {
		.ts = ctl_journal_now(), .kind = strcmp(kind, "vm") == 0 ?
		    CTL_JOURNAL_VM : CTL_JOURNAL_HOST, .subject = subject,
		.from = NULL, .to = to, .why = why,
		.decision = decision > 0 ? decision : 0,
	};
	struct ebb_err err;

	/*
	 * `from` is not passed for checking: after a restart the controller
	 * deliberately starts hosts from a safer state than the one recorded
	 * (see resume()), which the next change recorded here supersedes.
	 */
	(void)from;
	if (ctl_journal_change(c->journal, &ch, &err) < 0)
		ebb_err_log("journal: state of %s -> %s: %s", subject, to,
		    err.msg);
	else
		ctl_bus_state(c, kind, subject, to, why, ch.decision);
}

int64_t
ctl_jnl_power(struct ctl *c, int64_t decision, const char *host, bool on,
    const char *driver, double deadline_ts)
{
	struct ctl_journal_power p = { .ts = ctl_journal_now(),
		.decision = decision, .host = host, .on = on, .driver = driver,
		.deadline_ts = deadline_ts };
	struct ebb_err err;
	int64_t id;

	if ((id = ctl_journal_power_add(c->journal, &p, &err)) < 0 ||
	    ctl_journal_power_set(c->journal, id, CTL_JOURNAL_POWER_STARTED,
	    ctl_journal_now(), deadline_ts, &err) != 0) {
		ebb_err_log("journal: power-%s of %s: %s", on ? "on" : "off",
		    host, err.msg);
		return id < 0 ? id : -EIO;
	}
	return id;
}

void
ctl_jnl_power_end(struct ctl *c, int64_t action, bool ok)
{
	struct ebb_err err;

	if (action > 0 && ctl_journal_power_set(c->journal, action, ok ?
	    CTL_JOURNAL_POWER_DONE : CTL_JOURNAL_POWER_FAILED,
	    ctl_journal_now(), 0, &err) != 0)
		ebb_err_log("journal: power action %lld: %s", (long long)action,
		    err.msg);
}

int64_t
ctl_jnl_migration(struct ctl *c, int64_t decision, const char *vm,
    const char *from, const char *to)
{
	struct ctl_journal_migration m = { .ts = ctl_journal_now(),
		.decision = decision, .vm = vm, .from = from, .to = to };
	struct ebb_err err;
	int64_t id;

	if ((id = ctl_journal_migration_add(c->journal, &m, &err)) < 0 ||
	    ctl_journal_migration_set(c->journal, id, CTL_JOURNAL_MIG_STARTED,
	    ctl_journal_now(), &err) != 0) {
		ebb_err_log("journal: migration of %s: %s", vm, err.msg);
		return id < 0 ? id : -EIO;
	}
	return id;
}

void
ctl_jnl_migration_end(struct ctl *c, int64_t mig, bool ok)
{
	struct ebb_err err;

	if (mig > 0 && ctl_journal_migration_set(c->journal, mig, ok ?
	    CTL_JOURNAL_MIG_COMMITTED : CTL_JOURNAL_MIG_FAILED,
	    ctl_journal_now(), &err) != 0)
		ebb_err_log("journal: migration %lld: %s", (long long)mig,
		    err.msg);
}

void
ctl_jnl_round(struct ctl *c, uint64_t round)
{
	struct ebb_err err;
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)round);
	if (ctl_journal_kv_set(c->journal, "round", buf, ctl_journal_now(),
	    &err) != 0)
		ebb_warn("journal: round counter: %s", err.msg);
}

json_t *
ctl_jnl_query_filter(struct ctl *c, const struct ctl_journal_filter *f)
{
	struct ebb_err err;
	json_t *out = NULL;

	if (ctl_journal_decisions(c->journal, f, &out, &err) != 0) {
		ebb_warn("journal: query: %s", err.msg);
		return json_array();
	}
	return out;
}

json_t *
ctl_jnl_query(struct ctl *c, const char *kind, const char *host,
    const char *vm, int limit)
{
	struct ctl_journal_filter f = { .kind = kind, .host = host, .vm = vm,
		.limit = limit, .newest = true };

	return ctl_jnl_query_filter(c, &f);
}
