/*
 * ctl.h - ebb-controller: the fleet picture, the control loop and the
 * orchestrator, in one event loop that owns all of it.
 *
 * Hosts follow docs/architecture.md's states.  Agents report over TCP
 * (docs/protocol.md); every interval the loop turns the reports into a
 * pol_fleet, asks policy/ for a plan, writes each decision to the journal
 * and only then acts on it: power drivers for hosts, commands to agents
 * for VMs, within the limits and cooldowns of the configuration.
 */
#ifndef CTL_H
#define CTL_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl_config.h"
#include "ebb_rand.h"
#include "ebb_wire.h"
#include "pol_plan.h"
#include "pol_policy.h"

struct ctl_bus;
struct ctl_journal;
struct ctl_web;
struct ebb_http_server;

#define CTL_VMS_MAX	1000000

/* Why a host is not being switched off, for `ebb why`. */
struct ctl_why {
	double		ts;
	char		text[256];
};

struct ctl_host {
	struct ctl_host_conf conf;
	enum pol_host_state state;
	int		conn;		/* agent connection index, or -1 */
	double		last_seen;	/* monotonic s of the last message */
	double		state_since;	/* monotonic s */
	double		boot_deadline;	/* powering-on: monotonic s */
	double		power_cooldown;	/* no power cycle before (monotonic) */
	bool		power_held;	/* it failed to come back once: never
					   switched off again until an
					   operator clears it */
	pid_t		power_pid;	/* a running power command, or 0 */
	double		power_started;	/* ... since (monotonic s) */
	bool		power_on;	/* ... switching on (else off) */
	int64_t		power_decision;	/* its journal decision */
	int64_t		power_action;	/* its journal power action */
	/* From hello. */
	bool		hello;
	int		cores;
	uint64_t	mem_kb;
	char		hypervisor[32];
	char		cpu_vendor[64];
	json_t		*cpu_flags;	/* array of strings, from hello */
	json_t		*migrate;	/* how a source reaches its hypervisor:
					   {"peer":…,"addr":…}, from hello */
	bool		reported;	/* a report since the last hello: its
					   VM list is known */
	uint64_t	dropped;	/* messages its agent's bus dropped,
					   as its reports told (kafka) */
	/* From the last report. */
	json_t		*report;	/* the whole message, for the API */
	double		busy;
	int		nvms;
	struct ctl_why	why;		/* last reason it was kept on */
};

struct ctl_vm {
	char		id[128];
	int		host;		/* where its agent says it runs */
	int		vcpus;
	double		mem_mb;
	double		util;		/* of its vCPUs, 0..1 */
	double		hist[POL_HIST_MAX];
	int		nhist;
	bool		migrating;
	double		last_move;	/* monotonic s */
	bool		seen;		/* in the latest report of its host */
};

struct ctl_conn {
	int			 fd;		/* -1: closed, or on the bus */
	bool			 bus;		/* an agent on the kafka bus:
						   sends go to ctl_bus.c */
	int			 host;		/* after hello, else -1 */
	struct ebb_tls		*tls;		/* NULL: plain TCP */
	double			 hello_by;	/* no hello by then (monotonic
						   s): dropped */
	char			 peer[64];	/* "addr:port", for logs */
	struct ebb_linebuf	 in;
	struct ebb_outq		 out;		/* lines not yet sent */
	uint64_t		 seq;		/* our next seq */
	uint64_t		 peer_seq;
	bool			 peer_seen;
};

/* A command sent to an agent whose result is awaited. */
struct ctl_pending {
	int		host;
	int64_t		cmd;		/* the command's seq */
	int64_t		decision;
	int64_t		mig;		/* journal migration id, or 0 */
	int		vm;		/* or -1 */
	int		to;		/* migration target, or -1 */
	bool		orphan;		/* the source's connection dropped: the
					   result will not come, reports tell */
};

struct ctl_stats {
	uint64_t	rounds;
	uint64_t	decisions;
	uint64_t	power_offs;
	uint64_t	power_ons;
	uint64_t	migrations;
	uint64_t	bad_messages;
	uint64_t	refused;	/* connections dropped before or at
					   hello: TLS, certificate, timeout,
					   a host not listed */
	double		last_round_ms;
};

/*
 * The fleet in numbers after each control round, for the web chart: hosts
 * not off, their estimated draw (each host's power curve at its
 * utilization; idle power for a host not reporting but not known to be
 * off) and the no-consolidation baseline (every host on: those reporting
 * at their utilization, the others at idle power).  A ring keeps the last
 * CTL_SERIES_MAX rounds; the energy of the local day is summed apart, so
 * that "saved today" does not depend on the ring.
 */
#define CTL_SERIES_MAX	2880

struct ctl_sample {
	double		ts;		/* wall clock, s */
	int		hosts_on;
	double		watts;
	double		baseline_w;
};

struct ctl_series {
	struct ctl_sample *ring;	/* CTL_SERIES_MAX, oldest at
					   (head - n) mod max */
	int		head;		/* next slot written */
	int		n;
	int		day;		/* local day the sums below are of */
	double		energy_j;	/* today, estimated */
	double		baseline_j;	/* today, without consolidation */
};

struct ctl {
	struct ctl_config	 cfg;
	struct pol_policy	 policy;
	struct ctl_journal	*journal;
	struct ebb_http_server	*http;
	char			 token[256];	/* API token, "" = none */
	struct ebb_rand		 rng;
	int			 epfd;
	int			 tfd;
	int			 sfd;
	int			 lfd;
	struct ebb_tls_ctx	*tls;		/* NULL: insecure_plaintext */
	int			 hfd;		/* timerfd: hello deadlines */
	bool			 hfd_armed;
	struct ctl_conn		*conns;
	int			 nconns;
	struct ctl_host		*hosts;
	int			 nhosts;
	struct ctl_vm		*vms;
	int			 nvms;
	int			 cvms;
	struct ctl_pending	*pending;
	int			 npending;
	int			 cpending;
	char			**unlisted;	/* hosts refused at hello, each
						   logged once (CTL_UNLISTED_MAX) */
	int			 nunlisted;
	struct ctl_stats	 stats;
	struct ctl_series	 series;
	struct ctl_web		*web;		/* ctl_web.c's, or NULL */
	struct ctl_bus		*bus;		/* ctl_bus.c's (kafka), or NULL */
	bool			 replaying;	/* the message handled is from
						   the past: facts, not news of
						   life (ctl_bus.c) */
	bool			 quit;
};

int	ctl_init(struct ctl *, const struct ctl_config *, struct ebb_err *);
/* Loads the configured policy file (or the built-in one) into out. */
int	ctl_policy_load(const struct ctl_config *, struct pol_policy *out,
	    struct ebb_err *);
int	ctl_run(struct ctl *);
void	ctl_fini(struct ctl *);

/* One control round (what the timer does). */
void	ctl_round(struct ctl *);
/*
 * The plan the policy would make now, without acting (dry run), as JSON:
 * actions with reasons, and notes.
 */
json_t	*ctl_plan_json(struct ctl *);
json_t	*ctl_hosts_json(const struct ctl *);
json_t	*ctl_vms_json(const struct ctl *);
/* Why a host or VM is where it is / was or was not powered down. */
json_t	*ctl_why_json(struct ctl *, const char *subject);
int	ctl_host_find(const struct ctl *, const char *name);
/*
 * An operator's migration: journalled, then sent to the source's agent.
 * Returns the decision id, or -ENOENT (no such VM or host), -EBUSY (the
 * VM is migrating), -EHOSTUNREACH (target not on), -EXDEV (the target's
 * CPU lacks features of the source's), -EIO (journal, agent).
 */
int	ctl_migrate_manual(struct ctl *, const char *vm, const char *to);

/*
 * For ctl_bus.c: one message of agent connection ci, handled as a line
 * from a TCP agent is; a new run of host hi's agent: what was pending
 * for it is settled by its reports, as when a connection drops; a
 * migration another controller started, carried on as one whose source
 * disconnected (its result was numbered by the other).
 */
void	ctl_conn_line(struct ctl *, int ci, const char *line, size_t len);
void	ctl_host_gap(struct ctl *, int hi);
void	ctl_migration_adopt(struct ctl *, int vi, int from, int to,
	    int64_t decision, int64_t mig);
/*
 * The index of VM id in c->vms, added (on no host yet) if it is not
 * known: for a restarted controller adopting the migrations its journal
 * had in flight before any agent reported (ctl_jnl.c).  -1: table full.
 */
int	ctl_vm_get(struct ctl *, const char *id);

/* The HTTP API (ctl_api.c), on the loop's epoll set with CTL_TAG_HTTP. */
#define CTL_TAG_HTTP	4
/* The kafka bus (ctl_bus.c): its own epoll set, nested. */
#define CTL_TAG_BUS	6
int	ctl_api_init(struct ctl *, struct ebb_err *);
void	ctl_api_event(struct ctl *);
void	ctl_api_fini(struct ctl *);

#endif /* CTL_H */
