/*
 * ctl_bus.h - ebb-controller on the kafka bus (docs/bus.md).
 *
 * Every agent is a virtual connection fed from ebb.reports: its messages
 * go through the same handling as a TCP connection's (ctl_conn_line), so
 * every rule of the controller holds unchanged, and what the controller
 * sends it goes out on ebb.commands.  Every decision and state change the
 * journal records goes out on ebb.decisions.  Commands and decisions the
 * brokers refuse or lose are kept and sent again until delivered.
 *
 * Several controllers may share a fleet: the one holding the lease (a
 * message on ebb.decisions, renewed every few seconds) acts; the others
 * stand by, rebuild the fleet from the reports and the decisions, and
 * take over when the lease runs out (docs/architecture.md, "Standby
 * controllers").  On tcp none of this exists: c->bus is NULL and every
 * function here is a no-op or says "acting".
 */
#ifndef CTL_BUS_H
#define CTL_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ebb.h"

struct ctl;

/* Opens the bus and registers it on the loop (CTL_TAG_BUS); 0 or -errno. */
int	ctl_bus_open(struct ctl *, struct ebb_err *);
/* Gives buffered messages a moment to leave, then closes. */
void	ctl_bus_close(struct ctl *);
/* The loop saw CTL_TAG_BUS: messages, deliveries, the lease's clock. */
void	ctl_bus_event(struct ctl *);

/*
 * Sends message m (consumed) to the agent of virtual connection ci.
 * 0, or -EPERM when this controller does not hold the lease (a standby
 * sends nothing to agents), or -EIO.
 */
int	ctl_bus_send(struct ctl *, int ci, json_t *m);
/* Whether this controller may act now: always on tcp. */
bool	ctl_bus_acting(const struct ctl *);

/*
 * The journal recorded decision id (new, or its outcome): published on
 * ebb.decisions, unless it is another controller's, mirrored.  A state
 * change: published while this controller acts.
 */
void	ctl_bus_decision(struct ctl *, int64_t id);
void	ctl_bus_state(struct ctl *, const char *kind, const char *subject,
	    const char *to, const char *why, int64_t decision);

/* For the API: the bus, the lease and the counters; NULL on tcp. */
json_t	*ctl_bus_json(const struct ctl *);
/* Prometheus lines for /metrics; nothing on tcp. */
void	ctl_bus_metrics(const struct ctl *, FILE *);

#endif /* CTL_BUS_H */
