/*
 * agt_agent.h - the ebb-agent daemon: one event loop that samples the host
 * every interval, parks idle cores, reports to the controller and answers
 * its commands, and serves Prometheus metrics.
 *
 * The loop owns all state; signals arrive as events (signalfd), the clock
 * as a timerfd, so nothing runs in a signal handler and nothing races.
 */
#ifndef AGT_AGENT_H
#define AGT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "agt_config.h"
#include "agt_vms.h"
#include "ebb_bus.h"
#include "ebb_wire.h"
#include "met_host.h"
#include "pwr_actuate.h"
#include "pwr_park.h"
#include "pwr_sensors.h"

enum agt_conn_state {
	AGT_DOWN,		/* waiting to reconnect */
	AGT_CONNECTING,		/* non-blocking connect in flight */
	AGT_HANDSHAKE,		/* TLS handshake in flight */
	AGT_UP,			/* hello sent, reports flowing */
};

/* The connection to the controller, with its own buffers. */
struct agt_conn {
	int			 fd;
	enum agt_conn_state	 st;
	struct ebb_tls		*tls;		/* NULL: plain TCP */
	double			 deadline;	/* connecting or handshaking:
						   give up then (monotonic s) */
	struct ebb_linebuf	 in;
	struct ebb_outq		 out;		/* lines not yet sent */
	bool			 batching;	/* answering a batch of lines:
						   flush after it */
	double			 retry_at;	/* monotonic s */
	double			 backoff;	/* s, doubles up to the max */
	uint64_t		 seq;		/* next message's seq */
	uint64_t		 peer_seq;	/* last seq seen from the peer */
	bool			 peer_seen;
};

/*
 * A message to the controller that must not be lost on the kafka bus (a
 * hello, a result, an error): kept until the brokers have it, sent again
 * (with a new seq) when the bus refused or gave up on it.
 */
struct agt_kept {
	json_t		*msg;
	uint64_t	 tag;		/* as given to the bus; 0: not taken */
};

struct agt_stats {
	uint64_t	samples;
	uint64_t	commands_refused;	/* kafka: stale or replayed */
	uint64_t	reports_sent;
	uint64_t	reports_skipped;	/* no connection: not queued,
						   the next report supersedes */
	uint64_t	connects;
	uint64_t	disconnects;
	uint64_t	commands;
	uint64_t	bad_messages;
	uint64_t	park_changes;
};

struct agt {
	struct agt_config	 cfg;
	int			 epfd;
	int			 tfd;		/* sampling timer */
	int			 sfd;		/* signals */
	int			 mfd;		/* metrics listener, or -1 */
	struct agt_conn		 ctl;
	struct ebb_tls_ctx	*tls;		/* NULL: insecure_plaintext */
	char			 tls_name[EBB_ADDR_MAX];	/* the name the
						   controller's cert carries */
	/*
	 * The kafka bus, when "bus" says so; ctl above then only keeps the
	 * message counter and st (AGT_UP once the bus first came up).
	 */
	struct ebb_bus		*bus;
	bool			 cmd_seen;	/* a command was applied: */
	uint64_t		 cmd_seq;	/* ... the last one's seq */
	bool			 cmd_store_broken;	/* state_dir refused
						   it: kept in memory only */
	struct agt_kept		*kept;		/* oldest first */
	int			 nkept, ckept;
	uint64_t		 kept_tag;	/* the last tag given */
	char			 session[24];	/* this run, in hello: a new one
						   tells the controller that
						   what we were doing is gone */

	struct met_host		 host;
	bool			 have_sample;	/* an interval is known */
	double			 last_sample;	/* monotonic s */
	double			 last_interval;	/* s, of the last report */

	/* Core parking. */
	struct pwr_park_state	 park_st;
	struct pwr_mask		 managed;
	struct pwr_mask		 unparked;
	enum pwr_park_reason	 park_reason;
	struct pwr_cgroup	 cg;
	bool			 cg_open;
	bool			 park_broken;	/* actuator failed: logged once */

	/* VMs, through the hypervisor driver (none: no VMs). */
	struct agt_vms		 vms;

	/* Power and temperature (libsensors, else the power model). */
	struct pwr_sensors	*sensors;

	/* CPU facts for hello: what a migration target must match. */
	char			 cpu_vendor[64];
	char			 cpu_model[128];
	char			*cpu_flags;

	struct agt_stats	 stats;
	bool			 quit;
	int			 exit_code;
};

/* Sets up sockets, timers and samplers.  0 or -errno with err filled. */
int	agt_init(struct agt *, const struct agt_config *, struct ebb_err *);
/* Runs until SIGTERM or SIGINT (or agt->quit).  Returns the exit code. */
int	agt_run(struct agt *);
void	agt_fini(struct agt *);

/*
 * One sampling step (what the timer does): sample, decide parking, report.
 * Exposed so tests can drive the agent without waiting for the timer.
 */
void	agt_tick(struct agt *);

/*
 * For agt_vms.c: answers command `cmdseq` (extra, if not NULL, is merged
 * into the result and released), and reports at once, between ticks.
 */
void	agt_reply(struct agt *, json_t *cmdseq, bool ok, const char *error,
	    json_t *extra);
void	agt_report_now(struct agt *);

#endif /* AGT_AGENT_H */
