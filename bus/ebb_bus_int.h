/*
 * ebb_bus_int.h - between the bus's common part (ebb_bus.c: checks,
 * accounting, callbacks) and its transports (ebb_bus_kafka.c; the tcp
 * one to come).  Not for the daemons.
 */
#ifndef EBB_BUS_INT_H
#define EBB_BUS_INT_H

#include "ebb_bus.h"
#include "ebb_wire.h"

struct ebb_bus;

/*
 * A transport.  send takes one encoded message (no newline) and the
 * number of earlier drops it carries, so that a failure can give them
 * back; it returns 0 or -ENOBUFS/-EMSGSIZE/-ENOTRECOVERABLE.
 */
struct ebb_bus_ops {
	int	(*send)(struct ebb_bus *, enum ebb_bus_topic, const char *key,
		    size_t keylen, const char *value, size_t len, uint64_t tag,
		    uint64_t carried);
	int	(*process)(struct ebb_bus *);
	int	(*applied)(struct ebb_bus *, const struct ebb_bus_ref *);
	void	(*close)(struct ebb_bus *, int flush_ms);
};

struct ebb_bus {
	const struct ebb_bus_ops *ops;
	void			*be;		/* the transport's state */
	int			 fd;
	enum ebb_bus_role	 role;
	char			 host[EBB_HOST_MAX + 1];
	struct ebb_bus_cb	 cb;
	struct ebb_bus_stats	 st;
	/* Agent: drops no report has carried yet. */
	uint64_t		 untold;
	/* Taken, then failed: the part of dropped_failed once queued. */
	uint64_t		 lost;
};

/* What a transport tells the common part; each updates the stats. */
void	ebb_bus_note_delivered(struct ebb_bus *, enum ebb_bus_topic,
	    uint64_t tag);
void	ebb_bus_note_failed(struct ebb_bus *, const struct ebb_bus_failure *,
	    uint64_t carried);
void	ebb_bus_note_state(struct ebb_bus *, enum ebb_bus_state);
/* Messages in the transport's buffer now. */
uint64_t ebb_bus_queued(const struct ebb_bus *);

/* The topic called name, or -1. */
int	ebb_bus_topic_find(const char *name);

/* Kafka transport. */
int	ebb_bus_kafka_open(struct ebb_bus *, const struct ebb_bus_config *,
	    struct ebb_err *);
/*
 * Whether librdkafka takes key = value, and whether the bus leaves it to
 * the operator: 0, or -EINVAL with why filled.
 */
int	ebb_bus_kafka_check_prop(const char *key, const char *value,
	    char *why, size_t size);

#endif /* EBB_BUS_INT_H */
