/*
 * ebb_wire.h - the agent <-> controller message format.
 *
 * One JSON object per line (UTF-8, '\n'-terminated, at most
 * EBB_WIRE_MAX bytes with the newline).  Every message carries:
 *   "v"    protocol version (EBB_WIRE_VERSION),
 *   "type" what it is ("hello", "report", "command", "result", ...),
 *   "host" the agent's host name (the subject, whoever sends),
 *   "seq"  the sender's message counter, strictly increasing per
 *          connection, so a receiver can tell a replay or a gap,
 *   "ts"   the sender's wall clock, seconds since the epoch.
 * A line that is too long, not an object, or lacks a valid header is
 * rejected with a reason; the receiver never acts on it.  docs/protocol.md
 * has the per-type fields.
 */
#ifndef EBB_WIRE_H
#define EBB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ebb.h"

struct ebb_tls;

#define EBB_WIRE_VERSION	1
#define EBB_WIRE_MAX		(1024 * 1024)
#define EBB_HOST_MAX		255

struct ebb_msg {
	json_t		*obj;		/* the whole message (owned) */
	const char	*type;		/* points into obj */
	const char	*host;		/* points into obj */
	uint64_t	 seq;
	double		 ts;
};

/*
 * Parses and validates one line (without its newline).  Returns 0 with
 * msg filled (free with ebb_msg_free), or -EINVAL with the reason in err.
 */
int	ebb_msg_parse(const char *line, size_t len, struct ebb_msg *,
	    struct ebb_err *);
void	ebb_msg_free(struct ebb_msg *);

/* A new message object with the header filled in (caller adds fields). */
json_t	*ebb_msg_new(const char *type, const char *host, uint64_t seq,
	    double ts);
/*
 * Encodes a message as one line with its newline (caller frees).  NULL if
 * it would exceed EBB_WIRE_MAX.
 */
char	*ebb_msg_encode(json_t *, size_t *len);

/*
 * A receive buffer that splits a byte stream into lines and refuses
 * lines longer than EBB_WIRE_MAX.
 */
struct ebb_linebuf {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 off;		/* start of the unread part */
};

void	ebb_linebuf_init(struct ebb_linebuf *);
void	ebb_linebuf_free(struct ebb_linebuf *);
/*
 * Reads what the fd has (non-blocking).  Returns bytes read, 0 on EOF,
 * -EAGAIN when nothing was there, or another -errno.
 */
ssize_t	ebb_linebuf_read(struct ebb_linebuf *, int fd);
/*
 * The same from a connection that may be TLS: through tls when it is not
 * NULL (ebb_tls.h), else from fd; err says why on another -errno.
 */
ssize_t	ebb_linebuf_recv(struct ebb_linebuf *, int fd, struct ebb_tls *tls,
	    struct ebb_err *);
/*
 * The next complete line: 1 with *line and *len set (valid until the next
 * call), 0 when none is complete yet, -EMSGSIZE when a line exceeds the
 * limit (the connection should be dropped).
 */
int	ebb_linebuf_next(struct ebb_linebuf *, const char **line,
	    size_t *len);

/*
 * The messages queued on a connection and not yet sent.  Both daemons
 * keep one per peer; what differs between them (which epoll interest to
 * update, what to do with a dead peer) stays with them.
 */
struct ebb_outq {
	char	*buf;
	size_t	 len;
	size_t	 cap;
};

/*
 * Encodes a message (consumed) and queues it.  0, -EMSGSIZE for a message
 * over the wire limit, or -ENOBUFS when the queue would pass max: the peer
 * is not reading and the connection should go.
 */
int	ebb_outq_push(struct ebb_outq *, json_t *msg, size_t max);
/*
 * Sends what the socket takes now.  0 (check len for what is left), or
 * -errno when the connection is dead.
 */
int	ebb_outq_flush(struct ebb_outq *, int fd);
/*
 * The same to a connection that may be TLS: through tls when it is not
 * NULL, else to fd.  With TLS, a session that stopped because the socket
 * was full (ebb_tls_want_write) needs the rest sent when it is writable.
 */
int	ebb_outq_send(struct ebb_outq *, int fd, struct ebb_tls *tls,
	    struct ebb_err *);
void	ebb_outq_free(struct ebb_outq *);

/* Wall clock in seconds, for "ts". */
double	ebb_wallclock(void);
/* Monotonic clock in seconds, for timers and intervals. */
double	ebb_monoclock(void);

#endif /* EBB_WIRE_H */
