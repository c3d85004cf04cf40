/*
 * ebb_http.h - a small HTTP/1.1 server core for a daemon's event loop, and
 * a blocking client for the CLI.  No external HTTP library.
 *
 * The server never blocks and never starts a thread: the daemon's loop owns
 * all state (DESIGN.md), and request handlers run on that loop's thread, so
 * they read and change the daemon's state without locks.  The server keeps
 * an internal epoll set (its listener, its connections and a timerfd for its
 * deadlines) and shows the loop exactly one fd, readable whenever the
 * server has work:
 *
 *	struct ebb_http_config cfg = { .addr = "127.0.0.1", .port = 7401,
 *	    .handler = api, .arg = ctl };
 *	ebb_http_server_new(&cfg, &srv, &err);
 *	ev.events = EPOLLIN;
 *	epoll_ctl(loop, EPOLL_CTL_ADD, ebb_http_server_fd(srv), &ev);
 *	...
 *	when that fd is readable: ebb_http_server_dispatch(srv);
 *
 * dispatch() accepts, reads, parses, calls the handler once per complete
 * request, writes what it can, enforces timeouts and returns; it never
 * waits.  The fd works as well with poll() or select().
 *
 * Requests are parsed strictly: origin-form targets only, CRLF line ends,
 * no obs-fold, one Host, at most EBB_HTTP_MAX_LINE bytes of request line
 * (else 414), EBB_HTTP_MAX_HEAD bytes and EBB_HTTP_MAX_HEADERS lines of
 * header (else 431), bodies by Content-Length only (chunked: 411, other
 * codings: 501; POST/PUT/PATCH without a length: 411), at most max_body
 * bytes (else 413).  A malformed request is answered with its 4xx and a
 * JSON {"error": "..."} body, and the connection is closed.  HTTP/1.1
 * connections are kept alive; HTTP/1.0 ones close after one response.
 * Requests on one connection are handled one at a time, in order.
 */
#ifndef EBB_HTTP_H
#define EBB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ebb.h"

#define EBB_HTTP_MAX_LINE	(8 * 1024)	/* request line */
#define EBB_HTTP_MAX_HEAD	(16 * 1024)	/* header block */
#define EBB_HTTP_MAX_HEADERS	100
#define EBB_HTTP_MAX_SEGS	16		/* path segments (else 414) */

struct ebb_http_header {
	const char	*name;		/* as sent: compare ignoring case */
	const char	*value;		/* without surrounding blanks */
};

/*
 * One request, valid only during the handler call.  Strings are
 * NUL-terminated; the body is too (after body_len bytes, which may hold
 * NULs of their own).
 */
struct ebb_http_req {
	const char	*method;	/* "GET", "POST", ... */
	const char	*target;	/* raw, "/api/hosts/a%20b?since=1" */
	const char	*path;		/* decoded path, "/api/hosts/a b" */
	const char	*query;		/* raw text after '?', "" if none */
	/*
	 * The path's non-empty segments, each decoded on its own, so that
	 * "/vms/a%2Fb" is the two segments "vms" and "a/b".
	 */
	const char	*seg[EBB_HTTP_MAX_SEGS];
	int		 nseg;
	int		 minor;		/* HTTP/1.minor */
	const struct ebb_http_header *headers;
	int		 nheaders;
	const char	*body;
	size_t		 body_len;
	const char	*peer;		/* "127.0.0.1:40312" */
};

/* What a handler fills in; opaque, set through ebb_http_resp_*(). */
struct ebb_http_resp;

/*
 * Called once per request, on the loop's thread, inside dispatch().  It
 * must set a response before returning (else the client gets a 500).
 */
typedef void (*ebb_http_handler)(void *arg, const struct ebb_http_req *,
    struct ebb_http_resp *);

struct ebb_http_config {
	const char	*addr;		/* NULL: all; read by _new only */
	int		 port;		/* 0: any free port */
	ebb_http_handler handler;
	void		*arg;
	/* Zero means the default in brackets. */
	int		 max_conns;		/* [256], beyond: 503 */
	int		 idle_timeout_ms;	/* [30000] between requests */
	/*
	 * [10000] from a request's first byte to its last, so a client
	 * that trickles headers (slowloris) or a body is dropped (408).
	 */
	int		 request_timeout_ms;
	size_t		 max_body;		/* [1 MiB] */
	size_t		 max_stream_backlog;	/* [1 MiB] unsent SSE bytes */
};

struct ebb_http_server;

/* Listens on cfg->addr:port; 0 or -errno with err filled. */
int	ebb_http_server_new(const struct ebb_http_config *,
	    struct ebb_http_server **, struct ebb_err *);
/* Closes every connection and stream, then the listener. */
void	ebb_http_server_free(struct ebb_http_server *);
/* The one fd the caller's loop watches for readability. */
int	ebb_http_server_fd(const struct ebb_http_server *);
/* The TCP port listened on (useful with port 0). */
int	ebb_http_server_port(const struct ebb_http_server *);
/* Does whatever is ready, without waiting; 0 or -errno (a broken server). */
int	ebb_http_server_dispatch(struct ebb_http_server *);
/* Open connections, event streams included. */
int	ebb_http_server_nconns(const struct ebb_http_server *);

/* ---- handler side --------------------------------------------------- */

/*
 * The response: status, Content-Type (NULL: none) and body.  The last
 * call wins (headers added with ebb_http_resp_header stay).  _set copies
 * the body, _take takes a malloc'd one and frees it when sent.  HEAD gets
 * the headers of the same response, no body.
 */
void	ebb_http_resp_set(struct ebb_http_resp *, int status,
	    const char *ctype, const void *body, size_t len);
void	ebb_http_resp_take(struct ebb_http_resp *, int status,
	    const char *ctype, char *body, size_t len);
void	ebb_http_resp_printf(struct ebb_http_resp *, int status,
	    const char *ctype, const char *fmt, ...) EBB_PRINTF(4, 5);
/* A JSON value as application/json (the value is not stolen). */
void	ebb_http_resp_json(struct ebb_http_resp *, int status, const json_t *);
/* An error: application/json {"error": "..."}. */
void	ebb_http_resp_error(struct ebb_http_resp *, int status,
	    const char *fmt, ...) EBB_PRINTF(3, 4);
/*
 * Adds a response header.  -EINVAL for a bad name or value (CR, LF, ...)
 * or one the server owns (Content-Length, Transfer-Encoding, Connection,
 * Date), -E2BIG past 4 KiB of extra headers.
 */
int	ebb_http_resp_header(struct ebb_http_resp *, const char *name,
	    const char *value);
/*
 * Turns the response into a Server-Sent Events stream (200,
 * text/event-stream) that stays open after the handler returns; *id
 * names it for ebb_http_sse_send/close.  Ids are never reused.
 */
void	ebb_http_resp_sse(struct ebb_http_resp *, uint64_t *id);

/* The first header of that name (case-insensitive), or NULL. */
const char *ebb_http_header(const struct ebb_http_req *, const char *name);
/*
 * True when the method is one of allowed ("GET, POST"; GET admits HEAD);
 * otherwise fills a 405 with an Allow header and returns false.
 */
bool	ebb_http_allow(const struct ebb_http_req *, struct ebb_http_resp *,
	    const char *allowed);
/*
 * True when the request carries "Authorization: Bearer <token>" (compared
 * in constant time); otherwise fills a 401 with WWW-Authenticate and
 * returns false.  A NULL or empty token refuses everyone.
 */
bool	ebb_http_bearer(const struct ebb_http_req *, struct ebb_http_resp *,
	    const char *token);
/*
 * The query parameter name ("since" in "?since=5&x"), percent- and
 * '+'-decoded into buf with a NUL.  Returns its length, -ENOENT if absent
 * ("x" above is present and empty), -ENOSPC if buf is too small, -EINVAL
 * for a bad escape or a NUL (%00).
 */
int	ebb_http_query_get(const struct ebb_http_req *, const char *name,
	    char *buf, size_t len);
/*
 * Percent-decodes s[0..n) into out (with a NUL); '+' becomes a space when
 * plus is set (query strings).  Length, -EINVAL (bad escape, %00) or
 * -ENOSPC.
 */
int	ebb_http_decode(const char *s, size_t n, bool plus, char *out,
	    size_t outlen);

/* ---- event streams (the caller's loop, outside or inside handlers) ---- */

/*
 * Queues one event: "event: <event>" (unless NULL) and one "data:" line
 * per line of data.  With both NULL, a ":" comment, a heartbeat that also
 * finds dead clients.  0; -EINVAL for an empty event name or one with CR
 * or LF;
 * -ENOENT when the stream is gone (its client left, or it was closed);
 * -ENOBUFS when its client is so slow that the backlog would pass
 * max_stream_backlog, and -EPIPE or similar when it fails: both close the
 * stream.  The caller forgets an id on any error but -EINVAL.
 */
int	ebb_http_sse_send(struct ebb_http_server *, uint64_t id,
	    const char *event, const char *data);
/* Sends what is queued, then closes the stream.  0 or -ENOENT. */
int	ebb_http_sse_close(struct ebb_http_server *, uint64_t id);

/* ---- client ----------------------------------------------------------- */

/*
 * One blocking request to url ("http://host:port/path?x=y", "[v6]" hosts
 * allowed, port 80 by default) with extra headers ("Name: value" each,
 * NULL-terminated array, or NULL) and a body (NULL: none), all within
 * timeout_ms.  Understands Content-Length, chunked and close-delimited
 * responses.  Returns 0 with *status and a NUL-terminated *body (caller
 * frees; body may be NULL to discard it) whatever the status, or -errno
 * with err saying what failed, e.g. "cannot connect to 127.0.0.1:7401:
 * Connection refused" (-ECONNREFUSED), -ETIMEDOUT, -EPROTO for a reply
 * that is not HTTP, -EMSGSIZE past 64 MiB.
 */
int	ebb_http_request(const char *method, const char *url,
	    const char *const *headers, const void *body, size_t body_len,
	    int timeout_ms, int *status, char **resp_body, size_t *resp_len,
	    struct ebb_err *);

#endif /* EBB_HTTP_H */
