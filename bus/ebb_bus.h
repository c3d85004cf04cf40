/*
 * ebb_bus.h - the message bus between ebb-agent and ebb-controller.
 *
 * The daemons hand the bus JSON messages (common/ebb_wire.h) and get
 * complete messages back through a callback; which transport carries
 * them is configuration:
 *   tcp    the JSON-lines connection of docs/protocol.md (still inside
 *          the daemons; ebb_bus_open() refuses it until it moves here),
 *   kafka  topics ebb.reports, ebb.commands and ebb.decisions on a Kafka
 *          cluster, through librdkafka.
 *
 * The bus fits a daemon's single epoll loop: ebb_bus_fd() is one stable
 * descriptor to watch for reading, ebb_bus_process() does the pending
 * work when it is readable, and every callback runs inside that call (or
 * inside ebb_bus_close()), on the daemon's own thread.  Sending never
 * blocks: a message is queued in a bounded local buffer, and what the
 * buffer refuses or the brokers finally reject is counted and reported,
 * never lost in silence.  docs/bus.md has the design.
 */
#ifndef EBB_BUS_H
#define EBB_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ebb.h"
#include "ebb_jconf.h"

enum ebb_bus_kind {
	EBB_BUS_TCP,			/* the default */
	EBB_BUS_KAFKA,
};

/* Who uses the bus decides what it may send and what it receives. */
enum ebb_bus_role {
	EBB_BUS_AGENT,			/* sends reports, receives its commands */
	EBB_BUS_CONTROLLER,		/* sends commands and decisions,
					   receives every agent's reports */
};

enum ebb_bus_topic {
	EBB_BUS_REPORTS,		/* agent -> controller, key = host */
	EBB_BUS_COMMANDS,		/* controller -> agent, key = host */
	EBB_BUS_DECISIONS,		/* controller's decisions, key = subject */
	EBB_BUS_NTOPICS
};

enum ebb_bus_state {
	EBB_BUS_CONNECTING,		/* not yet reached the peer or brokers */
	EBB_BUS_UP,
	EBB_BUS_DOWN,			/* lost them; sends are buffered */
	EBB_BUS_FAILED,			/* unrecoverable: reopen the bus */
};

#define EBB_BUS_BROKERS_MAX	1024
#define EBB_BUS_NAME_MAX	256
#define EBB_BUS_PROPS_MAX	4096

/*
 * The "bus" section of a daemon's configuration.  Plain data (no
 * pointers), so a daemon's configuration struct stays copyable.
 */
struct ebb_bus_config {
	enum ebb_bus_kind kind;
	char	brokers[EBB_BUS_BROKERS_MAX];	/* bootstrap "h:p,h:p" */
	/*
	 * Controller: the consumer group ("" = "ebb-controller").  Agent: a
	 * prefix; the group is "GROUP.HOST" ("" = "ebb-agent"), because an
	 * agent must be alone in its group to see all of its commands.
	 */
	char	group[EBB_BUS_NAME_MAX];
	char	client_id[EBB_BUS_NAME_MAX];	/* "" = the group's name */
	int	buffer_messages;		/* local buffer bound */
	int	buffer_kbytes;
	/* Extra librdkafka properties: "key\0value\0" pairs, then "\0". */
	char	props[EBB_BUS_PROPS_MAX];
	size_t	props_len;
	/*
	 * Controller only, set by the daemon (not read from the section):
	 * consume ebb.decisions too, beside ebb.reports.  A controller that
	 * may stand by for another reads its leases and decisions there.
	 */
	bool	decisions;
};

/*
 * Says where a received message came from, so that the application can
 * say when it has applied it.  Copy it freely; it holds no pointers.
 */
struct ebb_bus_ref {
	int		topic;		/* enum ebb_bus_topic */
	int32_t		partition;
	int64_t		offset;
	uint32_t	gen;		/* the assignment it belongs to */
};

/* A received message; the pointers are valid during the callback only. */
struct ebb_bus_msg {
	enum ebb_bus_topic topic;
	const char	*key;
	size_t		 keylen;
	const char	*value;		/* one JSON object, no newline */
	size_t		 len;
	struct ebb_bus_ref ref;
};

/* A sent message the bus could not deliver and has given up on. */
struct ebb_bus_failure {
	enum ebb_bus_topic topic;
	const char	*key;
	size_t		 keylen;
	const char	*value;
	size_t		 len;
	uint64_t	 tag;		/* as given to ebb_bus_send() */
	int		 error;		/* a negative errno-like summary */
	const char	*reason;	/* the transport's words */
};

struct ebb_bus_stats {
	uint64_t	produced;	/* taken into the local buffer */
	uint64_t	delivered;	/* acknowledged by the peer/brokers */
	uint64_t	dropped_full;	/* refused: the local buffer was full */
	uint64_t	dropped_failed;	/* taken, then given up on; or
					   refused for another reason */
	uint64_t	queued;		/* in the buffer now */
	uint64_t	consumed;	/* handed to the recv callback */
	uint64_t	filtered;	/* received for another host, skipped */
	uint64_t	committed;	/* applied and their offsets committed */
	enum ebb_bus_state state;
};

/*
 * What the bus calls, all from ebb_bus_process() or ebb_bus_close().  Any
 * may be NULL.  recv: a complete message; call ebb_bus_applied() with
 * m->ref once it has taken effect (now or later).  delivered: a message
 * sent with this tag is safe with the peer/brokers.  failed: a message
 * taken by ebb_bus_send() will never be delivered (a permanent broker
 * error, the delivery timeout, the bus closed first); whoever must not
 * lose it sends it again.  state: the connection changed state.
 */
struct ebb_bus_cb {
	void	(*recv)(void *arg, const struct ebb_bus_msg *);
	void	(*delivered)(void *arg, enum ebb_bus_topic, uint64_t tag);
	void	(*failed)(void *arg, const struct ebb_bus_failure *);
	void	(*state)(void *arg, enum ebb_bus_state);
	void	*arg;
};

struct ebb_bus;

void	ebb_bus_config_defaults(struct ebb_bus_config *);
/*
 * Reads a "bus" section strictly: every key known, values in range,
 * librdkafka properties checked by librdkafka itself, properties the bus
 * sets for its guarantees refused.  0, or -EINVAL with "FILE: bus.KEY:
 * why" in x->err.
 */
int	ebb_bus_config_parse(struct ebb_jconf *x, json_t *section,
	    struct ebb_bus_config *);

/*
 * Opens the bus for a role; host is the agent's own host name (its key
 * and its commands' filter) or the controller's name (for client ids).
 * Returns 0 with *out set, -ENOTSUP for kind "tcp" (not yet here), or
 * another -errno with err filled.  Connecting happens in the background.
 */
int	ebb_bus_open(struct ebb_bus **out, const struct ebb_bus_config *,
	    enum ebb_bus_role, const char *host, const struct ebb_bus_cb *,
	    struct ebb_err *err);
/* The descriptor to watch for reading; the same for the bus's life. */
int	ebb_bus_fd(const struct ebb_bus *);
/*
 * Does what is pending: delivery reports, received messages, commits,
 * state changes, each through the callbacks.  Call when ebb_bus_fd() is
 * readable; calling it at other times is harmless.  Returns 0, or
 * -ENOTRECOVERABLE once the bus has failed for good.
 */
int	ebb_bus_process(struct ebb_bus *);
/*
 * Queues msg (consumed, whatever happens) on topic, keyed by key (NULL:
 * the message's "host").  0: taken, and delivered or failed will follow.
 * Otherwise not taken, and no callback follows: -EINVAL (a topic this
 * role does not send, or no key) and -EMSGSIZE (over the transport's
 * message limit) are the caller's; -ENOBUFS (local buffer full; counted
 * in dropped_full), -EACCES or -ENOENT (the brokers refuse the topic, for
 * now), -ENOTRECOVERABLE (the bus has failed) or -EIO are counted in
 * dropped_failed.
 *
 * An agent's bus counts every report it drops, refused or failed, and
 * adds the count not yet told as "dropped" to the next message of type
 * "report" it takes, so the controller learns of every gap.
 */
int	ebb_bus_send(struct ebb_bus *, enum ebb_bus_topic, const char *key,
	    json_t *msg, uint64_t tag);
/*
 * The message of ref has taken effect: its offset may be committed once
 * every message before it in its partition has too, so a consumer that
 * restarts sees again exactly what it had not applied.  0, -ESTALE (its
 * partition has been reassigned since; the message will be seen again),
 * or -ENOENT (unknown or already applied).
 */
int	ebb_bus_applied(struct ebb_bus *, const struct ebb_bus_ref *);
void	ebb_bus_stats(const struct ebb_bus *, struct ebb_bus_stats *);
enum ebb_bus_state ebb_bus_state(const struct ebb_bus *);
/*
 * Commits what was applied, leaves the consumer group, gives queued
 * messages up to flush_ms to leave, then calls failed for each that did
 * not and frees everything.  Do not call it from a callback.
 */
void	ebb_bus_close(struct ebb_bus *, int flush_ms);

const char *ebb_bus_topic_name(enum ebb_bus_topic);
const char *ebb_bus_state_name(enum ebb_bus_state);
const char *ebb_bus_kind_name(enum ebb_bus_kind);

#endif /* EBB_BUS_H */
