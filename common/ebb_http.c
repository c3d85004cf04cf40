/*
 * ebb_http.c - HTTP/1.1: a non-blocking server core that the caller's event
 * loop drives through one fd, and a blocking client.  ebb_http.h has the
 * contract; RFC 9110 and 9112 are the rules quoted below.
 *
 * A connection moves through these states:
 *
 *	IDLE ─first byte─► HEAD ─head in─► BODY ─body in─► handler ─► WRITE
 *	or STREAM; then
 *	WRITE ─sent─► IDLE			(keep-alive)
 *	WRITE ─sent─► LINGER ─client EOF or 2 s─► closed	(closing)
 *	STREAM ─client EOF, or sse_close() and sent─► closed	(a stream)
 *
 * Every state has a deadline (STREAM excepted) held in the connection;
 * one timerfd in the server's epoll set is armed for the earliest of them.
 * A closed connection is unlinked at once but freed only at the end of
 * dispatch(), because the batch of epoll events being handled may still
 * name it.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ebb_http.h"
#include "ebb_net.h"
#include "ebb_wire.h"		/* ebb_monoclock() */

#define DEF_MAX_CONNS		256
#define DEF_IDLE_MS		30000
#define DEF_REQUEST_MS		10000
#define DEF_MAX_BODY		(1024 * 1024)
#define DEF_BACKLOG		(1024 * 1024)
#define LINGER_S		2.0
#define ACCEPT_PAUSE_S		0.1
#define ACCEPT_BATCH		64
#define EVENT_BATCH		64
#define EXTRA_HDRS_MAX		4096
#define CLIENT_HEAD_MAX		(64 * 1024)
#define CLIENT_BODY_MAX		(64 * 1024 * 1024)

/* ---- a growable byte buffer --------------------------------------------- */

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* Room for more bytes plus a NUL the caller may write after them. */
static void
buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 1024;

	if (b->cap - b->len > more)
		return;
	while (cap - b->len <= more)
		cap *= 2;
	b->p = ebb_realloc(b->p, cap);
	b->cap = cap;
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void EBB_PRINTF(2, 3)
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(b, n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- character classes and small parsers -------------------------------- */

/* RFC 9110 5.6.2: tchar, the characters of a token (method, field name). */
static bool
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != 0 && strchr("!#$%&'*+-.^_`|~",
	    ch) != NULL);
}

static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* A field value: visible characters, blanks and obs-text, no CTL. */
static bool
is_field_value(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = *s;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

int
ebb_http_decode(const char *s, size_t n, bool plus, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (n > INT_MAX)
		return -EOVERFLOW;
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '%') {
			int hi, lo;

			if (n - i < 3)
				return -EINVAL;
			hi = ebb_hexval((unsigned char)s[i + 1]);
			lo = ebb_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			ch = hi << 4 | lo;
			i += 2;
		} else if (ch == '+' && plus) {
			ch = ' ';
		}
		/* A NUL would cut every C string made from the value. */
		if (ch == 0)
			return -EINVAL;
		if (o + 1 >= outlen)
			return -ENOSPC;
		out[o++] = (char)ch;
	}
	if (outlen == 0)
		return -ENOSPC;
	out[o] = '\0';
	return (int)o;
}

/* Does the comma-separated list (a Connection header) hold token? */
static bool
list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);

	while (*list) {
		size_t n;

		list += strspn(list, " \t,");
		n = strcspn(list, " \t,");
		if (n == tl && strncasecmp(list, token, n) == 0)
			return true;
		list += n;
	}
	return false;
}

static const char *
reason(int status)
{
	static const struct {
		int		 status;
		const char	*text;
	} tab[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 201, "Created" },
		{ 202, "Accepted" }, { 204, "No Content" },
		{ 301, "Moved Permanently" }, { 302, "Found" },
		{ 303, "See Other" }, { 304, "Not Modified" },
		{ 307, "Temporary Redirect" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 410, "Gone" },
		{ 411, "Length Required" }, { 412, "Precondition Failed" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 417, "Expectation Failed" }, { 422, "Unprocessable Content" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < EBB_NITEMS(tab); i++)
		if (tab[i].status == status)
			return tab[i].text;
	return "Unknown";
}

/* ---- the response a handler fills --------------------------------------- */

struct ebb_http_resp {
	struct ebb_http_server *srv;
	bool		 set;
	int		 status;
	char		 ctype[128];	/* "" = no Content-Type */
	char		*body;		/* malloc'd */
	size_t		 len;
	struct buf	 hdrs;		/* "Name: value\r\n"... */
	bool		 sse;
	uint64_t	 sse_id;
};

static void
resp_clear(struct ebb_http_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
	r->sse = false;
	r->set = true;
}

void
ebb_http_resp_take(struct ebb_http_resp *r, int status, const char *ctype,
    char *body, size_t len)
{
	resp_clear(r);
	r->body = body;
	r->len = body ? len : 0;
	r->status = status;
	r->ctype[0] = '\0';
	if (ctype == NULL)
		return;
	if (strlen(ctype) >= sizeof(r->ctype) || !is_field_value(ctype)) {
		ebb_http_resp_error(r, 500, "bad Content-Type from the "
		    "handler");
		return;
	}
	strcpy(r->ctype, ctype);
}

void
ebb_http_resp_set(struct ebb_http_resp *r, int status, const char *ctype,
    const void *body, size_t len)
{
	char *copy = ebb_malloc(len + 1);

	if (len > 0)
		memcpy(copy, body, len);
	copy[len] = '\0';
	ebb_http_resp_take(r, status, ctype, copy, len);
}

void
ebb_http_resp_printf(struct ebb_http_resp *r, int status, const char *ctype,
    const char *fmt, ...)
{
	struct buf b = { 0 };
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	buf_reserve(&b, n);
	va_start(ap, fmt);
	vsnprintf(b.p, n + 1, fmt, ap);
	va_end(ap);
	ebb_http_resp_take(r, status, ctype, b.p, n);
}

void
ebb_http_resp_json(struct ebb_http_resp *r, int status, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t n;

	if (s == NULL) {
		ebb_http_resp_error(r, 500, "cannot encode the JSON response");
		return;
	}
	/* A trailing newline is kinder to curl and shells. */
	n = strlen(s);
	s = ebb_realloc(s, n + 2);
	s[n++] = '\n';
	s[n] = '\0';
	ebb_http_resp_take(r, status, "application/json", s, n);
}

void
ebb_http_resp_error(struct ebb_http_resp *r, int status, const char *fmt, ...)
{
	char msg[512];
	json_t *o, *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/*
	 * jansson refuses invalid UTF-8, which a message quoting a client's
	 * bytes may hold: then those bytes become '?'.
	 */
	if ((s = json_string(msg)) == NULL) {
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		s = json_string(msg);
	}
	o = json_object();
	json_object_set_new(o, "error", s);
	ebb_http_resp_json(r, status, o);
	json_decref(o);
}

/* Headers that carry the framing are the server's own. */
int
ebb_http_resp_header(struct ebb_http_resp *r, const char *name,
    const char *value)
{
	static const char *const owned[] = { "Content-Length",
		"Transfer-Encoding", "Connection", "Date", "Content-Type" };

	if (!is_token(name) || !is_field_value(value))
		return -EINVAL;
	for (size_t i = 0; i < EBB_NITEMS(owned); i++)
		if (strcasecmp(name, owned[i]) == 0)
			return -EINVAL;
	if (r->hdrs.len + strlen(name) + strlen(value) + 4 > EXTRA_HDRS_MAX)
		return -E2BIG;
	buf_printf(&r->hdrs, "%s: %s\r\n", name, value);
	return 0;
}

/* ---- request helpers ----------------------------------------------------- */

const char *
ebb_http_header(const struct ebb_http_req *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

bool
ebb_http_allow(const struct ebb_http_req *req, struct ebb_http_resp *r,
    const char *allowed)
{
	size_t ml = strlen(req->method);
	const char *p = allowed;

	while (*p) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == ml && memcmp(p, req->method, n) == 0)
			return true;
		/* RFC 9110 9.3.2: HEAD is GET without the body. */
		if (n == 3 && memcmp(p, "GET", 3) == 0 &&
		    strcmp(req->method, "HEAD") == 0)
			return true;
		p += n;
	}
	ebb_http_resp_error(r, 405, "method %s not allowed on %s", req->method,
	    req->path);
	if (ebb_http_resp_header(r, "Allow", allowed) != 0)
		ebb_http_resp_error(r, 500, "bad Allow list from the handler");
	return false;
}

/*
 * Compares in time that depends on the lengths only, never on where the
 * first difference is, so a client cannot find the token byte by byte.
 */
static bool
ct_equal(const char *given, const char *want)
{
	size_t gl = strlen(given), wl = strlen(want);
	volatile unsigned char d = gl != wl;

	for (size_t i = 0; i < wl; i++)
		d |= (unsigned char)want[i] ^
		    (unsigned char)given[gl ? i % gl : 0];
	return d == 0;
}

bool
ebb_http_bearer(const struct ebb_http_req *req, struct ebb_http_resp *r,
    const char *token)
{
	const char *a = ebb_http_header(req, "Authorization");
	bool ok = false;

	/* RFC 9110 11.1: the scheme is case-insensitive. */
	if (token != NULL && token[0] != '\0' && a != NULL &&
	    strncasecmp(a, "Bearer ", 7) == 0) {
		a += 7;
		a += strspn(a, " ");
		ok = ct_equal(a, token);
	}
	if (!ok) {
		ebb_http_resp_error(r, 401, "missing or wrong bearer token");
		ebb_http_resp_header(r, "WWW-Authenticate",
		    "Bearer realm=\"ebb\"");
	}
	return ok;
}

int
ebb_http_query_get(const struct ebb_http_req *req, const char *name,
    char *buf, size_t len)
{
	const char *q = req->query;

	while (*q) {
		size_t n = strcspn(q, "&"), kl;
		const char *eq = memchr(q, '=', n);
		char key[256];

		kl = eq ? (size_t)(eq - q) : n;
		if (ebb_http_decode(q, kl, true, key, sizeof(key)) >= 0 &&
		    strcmp(key, name) == 0) {
			if (eq == NULL)
				return ebb_http_decode("", 0, true, buf, len);
			return ebb_http_decode(eq + 1, n - kl - 1, true, buf,
			    len);
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return -ENOENT;
}

/* ---- the server ---------------------------------------------------------- */

enum conn_state {
	C_IDLE,		/* between requests */
	C_HEAD,		/* reading the request line and headers */
	C_BODY,		/* reading the body */
	C_WRITE,	/* sending a response; not reading */
	C_STREAM,	/* an event stream */
	C_LINGER,	/* sent our last byte; draining the client's */
};

struct conn {
	struct conn		*prev, *next;
	struct ebb_http_server	*srv;
	int			 fd;
	enum conn_state		 st;
	uint32_t		 events;	/* epoll interest now */
	double			 deadline;	/* monotonic s */
	bool			 eof;		/* the client sent FIN */
	bool			 close_after;	/* once out is sent */
	bool			 continued;	/* sent 100 Continue */
	bool			 dead;
	uint64_t		 stream;	/* C_STREAM: its id */
	char			 peer[64];
	/* Input: the request being read, perhaps more after it. */
	struct buf		 in;
	size_t			 scan;		/* head search resumes here */
	size_t			 line;		/* request line + CRLF, once in */
	size_t			 head_len;	/* with its blank line */
	size_t			 body_len;
	/* The parsed request (C_BODY), pointing into head and scratch. */
	char			*head;
	char			*scratch;
	struct ebb_http_req	 req;
	struct ebb_http_header	 hdr[EBB_HTTP_MAX_HEADERS];
	/* Output: response head (or events), then a body of its own. */
	struct buf		 out;
	size_t			 out_off;
	char			*body;
	size_t			 blen, boff;
};

struct ebb_http_server {
	struct ebb_http_config	 cfg;
	int			 epfd;
	int			 lfd;
	int			 tfd;
	int			 port;
	struct conn		*live;
	struct conn		*graves;	/* closed, to free after dispatch */
	int			 nconns;
	uint64_t		 next_stream;
	bool			 accept_paused;
	double			 accept_resume;
	double			 armed;		/* timer expiry, or INFINITY */
};

static void	conn_run(struct conn *);

static double
ms(int v)
{
	return v / 1000.0;
}

static bool
pending(const struct conn *c)
{
	return c->out.len > c->out_off || c->blen > c->boff;
}

static size_t
pending_bytes(const struct conn *c)
{
	return (c->out.len - c->out_off) + (c->blen - c->boff);
}

static void
set_listener(struct ebb_http_server *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &s->lfd };

	epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
}

static void
request_free(struct conn *c)
{
	free(c->head);
	free(c->scratch);
	c->head = c->scratch = NULL;
	memset(&c->req, 0, sizeof(c->req));
}

static void
conn_close(struct conn *c)
{
	struct ebb_http_server *s = c->srv;

	if (c->dead)
		return;
	c->dead = true;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	request_free(c);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->body);
	c->body = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = s->graves;
	c->prev = NULL;
	s->graves = c;
	s->nconns--;
	/* A freed fd may be what accept() was short of. */
	if (s->accept_paused) {
		s->accept_paused = false;
		set_listener(s, EPOLLIN);
	}
}

static void
update_interest(struct conn *c)
{
	uint32_t want = 0;

	if (c->dead)
		return;
	/*
	 * While a response is being written the next request waits in the
	 * socket; after the client's FIN a level-triggered EPOLLIN would
	 * fire for ever.
	 */
	if (c->st != C_WRITE && !c->eof)
		want |= EPOLLIN;
	if (pending(c))
		want |= EPOLLOUT;
	if (want != c->events) {
		struct epoll_event ev = { .events = want, .data.ptr = c };

		if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			conn_close(c);
			return;
		}
		c->events = want;
	}
}

/* Sends what is queued: 1 when all is sent, 0 when it would block, -errno. */
static int
conn_flush(struct conn *c)
{
	while (pending(c)) {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov };
		size_t n;
		ssize_t w;

		if (c->out.len > c->out_off) {
			iov[mh.msg_iovlen].iov_base = c->out.p + c->out_off;
			iov[mh.msg_iovlen++].iov_len = c->out.len - c->out_off;
		}
		if (c->blen > c->boff) {
			iov[mh.msg_iovlen].iov_base = c->body + c->boff;
			iov[mh.msg_iovlen++].iov_len = c->blen - c->boff;
		}
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		n = (size_t)w;
		if (c->out.len > c->out_off) {
			size_t k = EBB_MIN(n, c->out.len - c->out_off);

			c->out_off += k;
			n -= k;
		}
		c->boff += n;
		/* A client that reads, however slowly, is not idle. */
		if (c->st == C_WRITE)
			c->deadline = ebb_monoclock() +
			    ms(c->srv->cfg.idle_timeout_ms);
	}
	c->out.len = c->out_off = 0;
	/* Idle connections should not keep a big response's memory. */
	if (c->out.cap > 65536)
		buf_free(&c->out);
	free(c->body);
	c->body = NULL;
	c->blen = c->boff = 0;
	return 1;
}

/*
 * After our last response, close only our side and read until the client
 * closes too: closing with its unread bytes in our socket would make the
 * kernel send a reset, which can destroy the response before the client
 * reads it (RFC 9112 9.6).
 */
static void
conn_linger(struct conn *c)
{
	double t = EBB_MIN(LINGER_S, ms(c->srv->cfg.idle_timeout_ms));

	if (c->eof) {
		conn_close(c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->st = C_LINGER;
	c->deadline = ebb_monoclock() + t;
}

static void
date_header(struct buf *b)
{
	char d[64];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	buf_printf(b, "Date: %s\r\n", d);
}

/* Queues the handler's response (r is consumed). */
static void
conn_queue(struct conn *c, struct ebb_http_resp *r, bool head_only)
{
	struct buf *o = &c->out;

	if (!r->set)
		ebb_http_resp_error(r, 500, "the handler gave no response");
	else if (!r->sse && (r->status < 200 || r->status > 599))
		ebb_http_resp_error(r, 500, "the handler gave status %d",
		    r->status);
	if (r->sse && !head_only) {
		buf_printf(o, "HTTP/1.1 200 OK\r\n");
		date_header(o);
		buf_printf(o, "Content-Type: text/event-stream\r\n"
		    "Cache-Control: no-cache\r\n%.*sConnection: close\r\n\r\n",
		    (int)r->hdrs.len, r->hdrs.p ? r->hdrs.p : "");
		c->st = C_STREAM;
		c->stream = r->sse_id;
		c->deadline = INFINITY;
		goto out;
	}
	if (r->sse) {
		r->status = 200;
		snprintf(r->ctype, sizeof(r->ctype), "text/event-stream");
	}
	buf_printf(o, "HTTP/1.1 %d %s\r\n", r->status, reason(r->status));
	date_header(o);
	if (r->ctype[0])
		buf_printf(o, "Content-Type: %s\r\n", r->ctype);
	/* RFC 9110 8.6: no Content-Length in a 204 or 304. */
	if (r->status == 204 || r->status == 304)
		r->len = 0;
	else
		buf_printf(o, "Content-Length: %zu\r\n", r->len);
	if (r->hdrs.len)
		buf_add(o, r->hdrs.p, r->hdrs.len);
	if (c->close_after)
		buf_printf(o, "Connection: close\r\n");
	buf_printf(o, "\r\n");
	if (!head_only && r->len > 0) {
		c->body = r->body;
		c->blen = r->len;
		c->boff = 0;
		r->body = NULL;
	}
	c->st = C_WRITE;
	c->deadline = ebb_monoclock() + ms(c->srv->cfg.idle_timeout_ms);
out:
	free(r->body);
	buf_free(&r->hdrs);
}

/* Answers a request the server itself refuses, and closes after. */
static void EBB_PRINTF(3, 4)
conn_error(struct conn *c, int status, const char *fmt, ...)
{
	struct ebb_http_resp r = { .srv = c->srv };
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ebb_http_resp_error(&r, status, "%s", msg);
	c->close_after = true;
	request_free(c);
	/* What the client sent after this is of no interest now. */
	c->in.len = 0;
	conn_queue(c, &r, false);
}

static bool
body_method(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0;
}

/*
 * Parses the request target into path, segments and query, in c->scratch.
 * 0, or an HTTP status with why filled.
 */
static int
parse_target(struct conn *c, const char *t, char *why, size_t whylen)
{
	struct ebb_http_req *req = &c->req;
	size_t tl = strlen(t), pl;
	const char *q, *p;
	char *seg;
	int n;

	/* RFC 9112 3.2: origin-form; ebb serves no proxy requests. */
	if (t[0] != '/') {
		snprintf(why, whylen, "the request target must be a path");
		return 400;
	}
	if (strchr(t, '#') != NULL) {
		snprintf(why, whylen, "a fragment (#) in the request target");
		return 400;
	}
	q = strchr(t, '?');
	pl = q ? (size_t)(q - t) : tl;
	req->query = q ? q + 1 : "";
	/* Checked here so that handlers only ever meet absent or valid. */
	for (p = req->query; (p = strchr(p, '%')) != NULL; p += 3)
		if (ebb_hexval((unsigned char)p[1]) < 0 ||
		    ebb_hexval((unsigned char)p[2]) < 0 ||
		    (p[1] == '0' && p[2] == '0')) {
			snprintf(why, whylen, "bad percent-encoding in the "
			    "query (%%00 is refused)");
			return 400;
		}
	c->scratch = ebb_malloc(2 * (tl + 1));
	if (ebb_http_decode(t, pl, false, c->scratch, tl + 1) < 0) {
		snprintf(why, whylen, "bad percent-encoding in the path "
		    "(%%00 is refused)");
		return 400;
	}
	req->path = c->scratch;
	/*
	 * Segments are split before they are decoded, so an encoded '/'
	 * stays inside its segment.  They fit: each takes at most its raw
	 * length plus a NUL where the raw text had a '/'.
	 */
	seg = c->scratch + tl + 1;
	for (p = t; p < t + pl;) {
		size_t sl = strcspn(p, "/?");

		if (sl > 0) {
			if (req->nseg == EBB_HTTP_MAX_SEGS) {
				snprintf(why, whylen, "more than %d path "
				    "segments", EBB_HTTP_MAX_SEGS);
				return 414;
			}
			n = ebb_http_decode(p, sl, false, seg, sl + 1);
			req->seg[req->nseg++] = seg;
			seg += n + 1;
		}
		p += sl;
		if (*p == '/')
			p++;
	}
	return 0;
}

/*
 * Parses the head in c->head (head_len bytes, the last four CRLF CRLF)
 * into c->req, c->body_len and the connection flags.  0, or an HTTP
 * status with why filled.
 */
static int
parse_head(struct conn *c, char *why, size_t whylen)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
		"DELETE", "PATCH", "OPTIONS" };
	struct ebb_http_req *req = &c->req;
	char *h = c->head, *end = h + c->head_len - 2, *p, *eol, *t, *v;
	const char *te = NULL, *conn = NULL;
	int nhost = 0, rc;
	bool has_cl = false, too_big = false, known = false;
	size_t cl = 0;

	memset(req, 0, sizeof(*req));
	req->peer = c->peer;
	req->headers = c->hdr;
	eol = memmem(h, c->head_len, "\r\n", 2);
	*eol = '\0';
	/* RFC 9112 3: method SP request-target SP HTTP-version, exactly. */
	for (p = h; p < eol && is_tchar((unsigned char)*p); p++)
		;
	if (p == h || *p != ' ')
		goto bad_line;
	*p++ = '\0';
	req->method = h;
	for (t = p; p < eol && *p > 0x20 && *p < 0x7f; p++)
		;
	if (p == t || *p != ' ')
		goto bad_line;
	*p++ = '\0';
	v = p;
	if ((size_t)(eol - v) != 8 || strncmp(v, "HTTP/", 5) != 0 ||
	    ebb_hexval((unsigned char)v[5]) < 0 || v[5] > '9' || v[6] != '.' ||
	    ebb_hexval((unsigned char)v[7]) < 0 || v[7] > '9')
		goto bad_line;
	if (v[5] != '1' || v[7] > '1') {
		snprintf(why, whylen, "HTTP version %s not supported", v + 5);
		return 505;
	}
	req->minor = v[7] - '0';
	for (size_t i = 0; i < EBB_NITEMS(methods); i++)
		known |= strcmp(req->method, methods[i]) == 0;
	if (!known) {
		snprintf(why, whylen, "method %.32s not implemented",
		    req->method);
		return 501;
	}
	req->target = t;

	/* RFC 9112 5: field-name ":" OWS field-value OWS, one per line. */
	for (p = eol + 2; p < end; p = eol + 2) {
		char *name = p, *val, *ve;

		eol = memmem(p, end + 2 - p, "\r\n", 2);
		*eol = '\0';
		if (*p == ' ' || *p == '\t') {
			snprintf(why, whylen, "obsolete line folding");
			return 400;
		}
		while (p < eol && is_tchar((unsigned char)*p))
			p++;
		/* 5.1: no whitespace between name and colon. */
		if (p == name || *p != ':') {
			snprintf(why, whylen, "malformed header line");
			return 400;
		}
		*p++ = '\0';
		p += strspn(p, " \t");
		val = p;
		for (; p < eol; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f) {
				snprintf(why, whylen, "control character in "
				    "header %.64s", name);
				return 400;
			}
		for (ve = eol; ve > val && (ve[-1] == ' ' || ve[-1] == '\t');)
			ve--;
		*ve = '\0';
		if (req->nheaders == EBB_HTTP_MAX_HEADERS) {
			snprintf(why, whylen, "more than %d header lines",
			    EBB_HTTP_MAX_HEADERS);
			return 431;
		}
		c->hdr[req->nheaders].name = name;
		c->hdr[req->nheaders++].value = val;

		if (strcasecmp(name, "Host") == 0) {
			nhost++;
		} else if (strcasecmp(name, "Content-Length") == 0) {
			/*
			 * 6.3: a repeated or non-numeric length is how
			 * request smuggling starts; refuse it.
			 */
			if (has_cl || val[0] == '\0' ||
			    strspn(val, "0123456789") != strlen(val)) {
				snprintf(why, whylen, "bad or repeated "
				    "Content-Length");
				return 400;
			}
			has_cl = true;
			for (const char *d = val; *d && !too_big; d++) {
				cl = cl * 10 + (*d - '0');
				too_big = cl > c->srv->cfg.max_body;
			}
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			te = val;
		} else if (strcasecmp(name, "Connection") == 0) {
			conn = val;
		} else if (strcasecmp(name, "Expect") == 0) {
			if (strcasecmp(val, "100-continue") != 0) {
				snprintf(why, whylen, "unsupported "
				    "expectation");
				return 417;
			}
		}
	}
	/* 3.2: exactly one Host in HTTP/1.1, at most one before. */
	if ((req->minor == 1 && nhost != 1) || nhost > 1) {
		snprintf(why, whylen, "a request needs exactly one Host "
		    "header");
		return 400;
	}
	if (te != NULL) {
		if (has_cl || req->minor == 0) {
			snprintf(why, whylen, "Transfer-Encoding with "
			    "Content-Length or in HTTP/1.0");
			return 400;
		}
		if (list_has(te, "chunked")) {
			snprintf(why, whylen, "chunked request bodies are not "
			    "supported: send Content-Length");
			return 411;
		}
		snprintf(why, whylen, "Transfer-Encoding not supported");
		return 501;
	}
	if (!has_cl && body_method(req->method)) {
		snprintf(why, whylen, "%s needs a Content-Length",
		    req->method);
		return 411;
	}
	if (too_big) {
		snprintf(why, whylen, "request body exceeds the limit of %zu "
		    "bytes", c->srv->cfg.max_body);
		return 413;
	}
	c->body_len = cl;
	/* HTTP/1.0 connections close: keep-alive there is not worth it. */
	if (req->minor == 0 || (conn != NULL && list_has(conn, "close")))
		c->close_after = true;
	if ((rc = parse_target(c, t, why, whylen)) != 0)
		return rc;
	return 0;
bad_line:
	snprintf(why, whylen, "malformed request line");
	return 400;
}

/*
 * Looks for the end of the head in c->in, resuming where the last call
 * stopped.  1 when found (head_len set), 0 when more is needed, or an HTTP
 * status: 414 or 431 past a limit, 400 for a line not ended by CRLF
 * (RFC 9112 2.2: a bare LF would let two parsers disagree).
 */
static int
find_head(struct conn *c)
{
	const char *p = c->in.p;
	size_t n = c->in.len;

	for (size_t i = c->scan; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i == 0 || p[i - 1] != '\r')
			return 400;
		if (c->line == 0) {
			c->line = i + 1;
			if (i - 1 > EBB_HTTP_MAX_LINE)
				return 414;
		} else if (p[i - 2] == '\n') {
			/* An empty line: the header block ends here. */
			c->head_len = i + 1;
			return c->head_len - c->line > EBB_HTTP_MAX_HEAD ?
			    431 : 1;
		}
	}
	c->scan = n;
	if (c->line == 0)
		return n >= EBB_HTTP_MAX_LINE + 2 ? 414 : 0;
	return n - c->line > EBB_HTTP_MAX_HEAD ? 431 : 0;
}

static void
consume(struct conn *c, size_t n)
{
	if (n == 0)
		return;
	memmove(c->in.p, c->in.p + n, c->in.len - n);
	c->in.len -= n;
}

/* Runs the handler on the complete request at the start of c->in. */
static void
conn_call(struct conn *c)
{
	struct ebb_http_server *s = c->srv;
	struct ebb_http_resp r = { .srv = s };
	size_t total = c->head_len + c->body_len;
	char saved;

	c->req.body = c->in.p + c->head_len;
	c->req.body_len = c->body_len;
	/* buf_reserve always leaves room for this NUL. */
	saved = c->in.p[total];
	c->in.p[total] = '\0';
	s->cfg.handler(s->cfg.arg, &c->req, &r);
	c->in.p[total] = saved;
	conn_queue(c, &r, strcmp(c->req.method, "HEAD") == 0);
	request_free(c);
	if (c->st == C_STREAM)
		c->in.len = 0;
	else
		consume(c, total);
	/* Nor a big request's. */
	if (c->in.len == 0 && c->in.cap > 65536)
		buf_free(&c->in);
}

/*
 * Moves the request in c->in forward.  True when a response was queued
 * (or 100 Continue), so the caller should flush and go on; false when
 * more input is needed or the connection was closed.
 */
static bool
conn_step(struct conn *c)
{
	struct ebb_http_server *s = c->srv;
	char why[200];
	int rc;

	if (c->st == C_IDLE) {
		size_t skip = 0;

		/* RFC 9112 2.2: ignore empty lines before a request. */
		while (skip + 1 < c->in.len && c->in.p[skip] == '\r' &&
		    c->in.p[skip + 1] == '\n')
			skip += 2;
		consume(c, skip);
		if (c->in.len == 0 || (c->in.len == 1 && c->in.p[0] == '\r')) {
			if (c->eof)
				conn_close(c);
			return false;
		}
		c->st = C_HEAD;
		c->scan = c->line = 0;
		c->continued = false;
		c->close_after = false;
		c->deadline = ebb_monoclock() +
		    ms(s->cfg.request_timeout_ms);
	}
	if (c->st == C_HEAD) {
		rc = find_head(c);
		if (rc == 0) {
			if (c->eof)
				conn_close(c);
			return false;
		}
		if (rc == 400) {
			conn_error(c, rc, "a line not ended by CRLF");
			return true;
		}
		if (rc > 1) {
			conn_error(c, rc, rc == 414 ? "request line longer "
			    "than %d bytes" : "header block longer than %d "
			    "bytes", rc == 414 ? EBB_HTTP_MAX_LINE :
			    EBB_HTTP_MAX_HEAD);
			return true;
		}
		c->head = ebb_malloc(c->head_len + 1);
		memcpy(c->head, c->in.p, c->head_len);
		c->head[c->head_len] = '\0';
		if ((rc = parse_head(c, why, sizeof(why))) != 0) {
			conn_error(c, rc, "%s", why);
			return true;
		}
		c->st = C_BODY;
	}
	if (c->in.len < c->head_len + c->body_len) {
		if (c->eof) {
			conn_close(c);
			return false;
		}
		/* RFC 9110 10.1.1: tell a waiting client to send the body. */
		if (!c->continued && ebb_http_header(&c->req, "Expect")) {
			c->continued = true;
			buf_printf(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
			return true;
		}
		return false;
	}
	conn_call(c);
	return true;
}

/*
 * Drives a connection as far as it goes without waiting: sends what is
 * queued, then parses and answers the requests already read.
 */
static void
conn_run(struct conn *c)
{
	while (!c->dead) {
		if (pending(c)) {
			int rc = conn_flush(c);

			if (rc < 0) {
				conn_close(c);
				return;
			}
			if (rc == 0)
				break;
		}
		/* A stream's client that sent its FIN has left. */
		if (c->st == C_STREAM && c->eof) {
			conn_close(c);
			return;
		}
		if (c->st == C_WRITE) {
			if (c->close_after) {
				conn_linger(c);
				break;
			}
			c->st = C_IDLE;
			c->deadline = ebb_monoclock() +
			    ms(c->srv->cfg.idle_timeout_ms);
		}
		if (c->st > C_BODY || !conn_step(c))
			break;
	}
	update_interest(c);
}

/* Reads what the socket has; then drives the connection. */
static void
conn_read(struct conn *c)
{
	struct ebb_http_server *s = c->srv;
	size_t cap = EBB_HTTP_MAX_LINE + EBB_HTTP_MAX_HEAD + 4 +
	    s->cfg.max_body;

	for (;;) {
		char junk[4096], *to;
		size_t room;
		ssize_t n;

		if (c->st == C_STREAM || c->st == C_LINGER) {
			/* Nothing more is wanted from this client. */
			to = junk;
			room = sizeof(junk);
		} else {
			if (c->in.len >= cap)
				break;
			room = EBB_MIN(cap - c->in.len, 65536);
			buf_reserve(&c->in, room);
			to = c->in.p + c->in.len;
		}
		n = recv(c->fd, to, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 || (n == 0 && c->st >= C_STREAM)) {
			conn_close(c);
			return;
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		if (to != junk)
			c->in.len += (size_t)n;
	}
	conn_run(c);
}

static void
conn_event(struct conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (events & EPOLLERR) {
		conn_close(c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP)) && (c->events & EPOLLIN))
		conn_read(c);
	else if (events & EPOLLHUP)
		conn_close(c);
	if (!c->dead && (events & EPOLLOUT))
		conn_run(c);
}

static void
conn_new(struct ebb_http_server *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c = ebb_calloc(1, sizeof(*c));
	char a[INET6_ADDRSTRLEN] = "?";
	int port = 0, one = 1;

	/* Events are small and must not wait for the previous one's ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			port = ntohs(s6->sin6_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), strchr(a, ':') ? "[%s]:%d" :
	    "%s:%d", a, port);
	c->srv = s;
	c->fd = fd;
	c->st = C_IDLE;
	c->events = EPOLLIN;
	c->deadline = ebb_monoclock() + ms(s->cfg.idle_timeout_ms);
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->live;
	if (s->live)
		s->live->prev = c;
	s->live = c;
	s->nconns++;
}

static void
accept_some(struct ebb_http_server *s)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nContent-Length: 33\r\n"
	    "Retry-After: 1\r\nConnection: close\r\n\r\n"
	    "{\"error\":\"too many connections\"}\n";

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = ebb_accept(s->lfd);

		if (fd == -EAGAIN || fd == -EWOULDBLOCK)
			return;
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS ||
		    fd == -ENOMEM) {
			/*
			 * The pending connection stays queued and the listener
			 * readable: without a pause the loop would spin.
			 */
			s->accept_paused = true;
			s->accept_resume = ebb_monoclock() + ACCEPT_PAUSE_S;
			set_listener(s, 0);
			return;
		}
		if (fd < 0)
			continue;	/* ECONNABORTED and the like */
		if (s->nconns >= s->cfg.max_conns) {
			/* Best effort: a full socket buffer just closes. */
			send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
			shutdown(fd, SHUT_WR);
			close(fd);
			continue;
		}
		conn_new(s, fd);
	}
}

/* Closes what is past its deadline; answers a late request with 408. */
static void
sweep(struct ebb_http_server *s, double now)
{
	struct conn *c, *next;

	for (c = s->live; c != NULL; c = next) {
		next = c->next;
		if (c->deadline > now)
			continue;
		if (c->st == C_HEAD || c->st == C_BODY) {
			conn_error(c, 408, "request not complete within %d ms",
			    s->cfg.request_timeout_ms);
			conn_run(c);
		} else {
			conn_close(c);
		}
	}
}

static void
arm_timer(struct ebb_http_server *s)
{
	struct itimerspec its = { 0 };
	double t = INFINITY;

	for (struct conn *c = s->live; c != NULL; c = c->next)
		t = EBB_MIN(t, c->deadline);
	if (s->accept_paused)
		t = EBB_MIN(t, s->accept_resume);
	if (t == s->armed)
		return;
	if (isfinite(t)) {
		its.it_value.tv_sec = (time_t)t;
		its.it_value.tv_nsec = (long)((t - floor(t)) * 1e9);
		/* Zero would disarm: a deadline at 0 s is already due. */
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->armed = t;
}

static void
reap(struct ebb_http_server *s)
{
	while (s->graves != NULL) {
		struct conn *c = s->graves;

		s->graves = c->next;
		free(c);
	}
}

int
ebb_http_server_dispatch(struct ebb_http_server *s)
{
	struct epoll_event ev[EVENT_BATCH];
	double now;
	int n;

	n = epoll_wait(s->epfd, ev, EVENT_BATCH, 0);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		void *tag = ev[i].data.ptr;

		if (tag == &s->lfd) {
			accept_some(s);
		} else if (tag == &s->tfd) {
			uint64_t x;

			if (read(s->tfd, &x, sizeof(x)) < 0)
				(void)0;	/* EAGAIN: nothing expired */
			s->armed = INFINITY;
		} else {
			conn_event(tag, ev[i].events);
		}
	}
	now = ebb_monoclock();
	sweep(s, now);
	if (s->accept_paused && now >= s->accept_resume) {
		s->accept_paused = false;
		set_listener(s, EPOLLIN);
	}
	reap(s);
	arm_timer(s);
	return 0;
}

int
ebb_http_server_new(const struct ebb_http_config *cfg,
    struct ebb_http_server **sp, struct ebb_err *err)
{
	struct ebb_http_server *s;
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	*sp = NULL;
	if (cfg->handler == NULL || cfg->max_conns < 0 ||
	    cfg->idle_timeout_ms < 0 || cfg->request_timeout_ms < 0) {
		ebb_err_set(err, "http: bad server configuration");
		return -EINVAL;
	}
	s = ebb_calloc(1, sizeof(*s));
	s->cfg = *cfg;
	if (s->cfg.max_conns == 0)
		s->cfg.max_conns = DEF_MAX_CONNS;
	if (s->cfg.idle_timeout_ms == 0)
		s->cfg.idle_timeout_ms = DEF_IDLE_MS;
	if (s->cfg.request_timeout_ms == 0)
		s->cfg.request_timeout_ms = DEF_REQUEST_MS;
	if (s->cfg.max_body == 0)
		s->cfg.max_body = DEF_MAX_BODY;
	if (s->cfg.max_stream_backlog == 0)
		s->cfg.max_stream_backlog = DEF_BACKLOG;
	s->armed = INFINITY;
	s->next_stream = 1;
	s->epfd = s->tfd = -1;
	if ((s->lfd = ebb_tcp_listen(cfg->addr, cfg->port, err)) < 0) {
		rc = s->lfd;
		free(s);
		return rc;
	}
	/* The caller's address string need not outlive this call. */
	s->cfg.addr = NULL;
	s->port = ebb_sock_port(s->lfd);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->tfd < 0)
		goto fail;
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0)
		goto fail;
	ev.data.ptr = &s->tfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) < 0)
		goto fail;
	*sp = s;
	return 0;
fail:
	rc = -errno;
	ebb_err_set(err, "http: %s", strerror(errno));
	ebb_http_server_free(s);
	return rc;
}

void
ebb_http_server_free(struct ebb_http_server *s)
{
	if (s == NULL)
		return;
	while (s->live != NULL)
		conn_close(s->live);
	reap(s);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}

int
ebb_http_server_fd(const struct ebb_http_server *s)
{
	return s->epfd;
}

int
ebb_http_server_port(const struct ebb_http_server *s)
{
	return s->port;
}

int
ebb_http_server_nconns(const struct ebb_http_server *s)
{
	return s->nconns;
}

/* ---- event streams ------------------------------------------------------- */

void
ebb_http_resp_sse(struct ebb_http_resp *r, uint64_t *id)
{
	resp_clear(r);
	r->sse = true;
	r->status = 200;
	r->sse_id = r->srv->next_stream++;
	*id = r->sse_id;
}

static struct conn *
stream_find(struct ebb_http_server *s, uint64_t id)
{
	for (struct conn *c = s->live; c != NULL; c = c->next)
		if (c->st == C_STREAM && c->stream == id)
			return c;
	return NULL;
}

int
ebb_http_sse_send(struct ebb_http_server *s, uint64_t id, const char *event,
    const char *data)
{
	struct conn *c;
	struct buf b = { 0 };

	if (event != NULL && (strpbrk(event, "\r\n") != NULL ||
	    event[0] == '\0'))
		return -EINVAL;
	if ((c = stream_find(s, id)) == NULL)
		return -ENOENT;
	if (event == NULL && data == NULL) {
		buf_printf(&b, ":\n\n");
	} else {
		const char *p = data ? data : "";

		if (event != NULL)
			buf_printf(&b, "event: %s\n", event);
		/*
		 * The SSE grammar ends a line at CRLF, LF or CR; each line
		 * of data is its own "data:" field and the client joins them
		 * with LF.
		 */
		for (;;) {
			size_t n = strcspn(p, "\r\n");

			buf_printf(&b, "data: %.*s\n", (int)n, p);
			p += n;
			if (*p == '\0')
				break;
			p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
		}
		buf_printf(&b, "\n");
	}
	if (pending_bytes(c) + b.len > s->cfg.max_stream_backlog) {
		buf_free(&b);
		conn_close(c);
		return -ENOBUFS;
	}
	buf_add(&c->out, b.p, b.len);
	buf_free(&b);
	conn_run(c);
	return c->dead ? -EPIPE : 0;
}

int
ebb_http_sse_close(struct ebb_http_server *s, uint64_t id)
{
	struct conn *c = stream_find(s, id);

	if (c == NULL)
		return -ENOENT;
	c->st = C_WRITE;
	c->close_after = true;
	c->deadline = ebb_monoclock() + ms(s->cfg.idle_timeout_ms);
	conn_run(c);
	/* Outside dispatch() nobody else would arm the timer for it. */
	arm_timer(s);
	return 0;
}

/* ---- the client ---------------------------------------------------------- */

struct url {
	char		 host[EBB_ADDR_MAX];
	int		 port;
	char		 authority[EBB_ADDR_MAX + 8];
	const char	*target;	/* may lack its leading '/' */
	size_t		 tlen;		/* without a fragment */
};

static int
parse_url(const char *url, struct url *u, struct ebb_err *err)
{
	const char *a, *p;
	size_t alen;

	if (strncasecmp(url, "http://", 7) != 0) {
		if (strncasecmp(url, "https://", 8) == 0) {
			ebb_err_set(err, "%s: https is not supported", url);
			return -EPROTONOSUPPORT;
		}
		goto bad;
	}
	a = url + 7;
	alen = strcspn(a, "/?#");
	if (alen == 0 || alen >= sizeof(u->authority) ||
	    memchr(a, '@', alen) != NULL)
		goto bad;
	memcpy(u->authority, a, alen);
	u->authority[alen] = '\0';
	u->target = a + alen;
	u->tlen = strcspn(u->target, "#");
	for (p = u->target; p < u->target + u->tlen; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			goto bad;
	p = strrchr(u->authority, ':');
	if (p != NULL && strchr(p, ']') == NULL)
		return ebb_hostport(u->authority, u->host, sizeof(u->host),
		    &u->port, err);
	u->port = 80;
	if (u->authority[0] == '[') {
		if (alen < 3 || u->authority[alen - 1] != ']')
			goto bad;
		memcpy(u->host, u->authority + 1, alen - 2);
		u->host[alen - 2] = '\0';
	} else {
		memcpy(u->host, u->authority, alen + 1);
	}
	return 0;
bad:
	ebb_err_set(err, "'%s': expected http://HOST:PORT/PATH", url);
	return -EINVAL;
}

/* A response being read. */
struct reply {
	struct buf	 raw;
	size_t		 head_len;	/* 0 until the head is in */
	int		 status;
	bool		 chunked;
	bool		 has_cl;
	bool		 no_body;
	size_t		 cl;
	size_t		 cpos;		/* chunked: next chunk in raw */
	struct buf	 body;
};

/* Decodes the chunks in raw: 1 when the last is in, 0 for more, -errno. */
static int
unchunk(struct reply *y, const char **why)
{
	for (;;) {
		char *base = y->raw.p + y->cpos, *le, *q;
		size_t avail = y->raw.len - y->cpos, sz = 0, hl;

		le = memmem(base, avail, "\r\n", 2);
		if (le == NULL) {
			*why = "chunk size line too long";
			return avail > 1024 ? -EPROTO : 0;
		}
		for (q = base; ebb_hexval((unsigned char)*q) >= 0; q++) {
			if (sz > CLIENT_BODY_MAX) {
				*why = "body too large";
				return -EMSGSIZE;
			}
			sz = sz * 16 + ebb_hexval((unsigned char)*q);
		}
		if (q == base || (q != le && *q != ';' && *q != ' ' &&
		    *q != '\t')) {
			*why = "bad chunk size";
			return -EPROTO;
		}
		hl = (size_t)(le - base) + 2;
		if (sz == 0) {
			/* Trailer fields, if any, end with an empty line. */
			if (avail >= hl + 2 &&
			    memcmp(base + hl, "\r\n", 2) == 0)
				return 1;
			if (memmem(base + hl - 2, avail - hl + 2, "\r\n\r\n",
			    4) != NULL)
				return 1;
			*why = "trailer too long";
			return avail > CLIENT_HEAD_MAX ? -EPROTO : 0;
		}
		if (avail < hl + sz + 2)
			return 0;
		if (memcmp(base + hl + sz, "\r\n", 2) != 0) {
			*why = "chunk not followed by CRLF";
			return -EPROTO;
		}
		if (y->body.len + sz > CLIENT_BODY_MAX) {
			*why = "body too large";
			return -EMSGSIZE;
		}
		buf_add(&y->body, base + hl, sz);
		y->cpos += hl + sz + 2;
		/* Drop what is decoded so raw does not hold it twice. */
		if (y->cpos > 65536) {
			memmove(y->raw.p, y->raw.p + y->cpos,
			    y->raw.len - y->cpos);
			y->raw.len -= y->cpos;
			y->cpos = 0;
		}
	}
}

/* Parses the status line and headers of y->raw's complete head. */
static int
reply_head(struct reply *y, size_t hl, bool head_req, const char **why)
{
	char *h = y->raw.p, *p, *eol, *end = h + hl - 2;

	*why = "malformed status line";
	if (hl < 16 || strncmp(h, "HTTP/1.", 7) != 0 || h[7] < '0' ||
	    h[7] > '9' || h[8] != ' ' ||
	    strspn(h + 9, "0123456789") != 3 || (h[12] != ' ' &&
	    h[12] != '\r'))
		return -EPROTO;
	y->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	if (y->status < 100)
		return -EPROTO;
	eol = memmem(h, hl, "\r\n", 2);
	for (p = eol + 2; p < end; p = eol + 2) {
		char *colon, *v;

		eol = memmem(p, end + 2 - p, "\r\n", 2);
		colon = memchr(p, ':', eol - p);
		if (colon == NULL) {
			*why = "malformed header line";
			return -EPROTO;
		}
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (colon - p == 14 && strncasecmp(p, "Content-Length",
		    14) == 0) {
			size_t n = 0;
			char *d;

			for (d = v; d < eol && *d >= '0' && *d <= '9'; d++) {
				if (n > CLIENT_BODY_MAX) {
					*why = "body too large";
					return -EMSGSIZE;
				}
				n = n * 10 + (*d - '0');
			}
			if (d == v) {
				*why = "bad Content-Length";
				return -EPROTO;
			}
			y->has_cl = true;
			y->cl = n;
		} else if (colon - p == 17 && strncasecmp(p,
		    "Transfer-Encoding", 17) == 0) {
			char te[128];

			snprintf(te, sizeof(te), "%.*s", (int)(eol - v), v);
			y->chunked = list_has(te, "chunked");
		}
	}
	/* RFC 9112 6.3: which responses have no body, then how it ends. */
	y->no_body = head_req || y->status == 204 || y->status == 304;
	if (y->has_cl && y->cl > CLIENT_BODY_MAX) {
		*why = "body too large";
		return -EMSGSIZE;
	}
	return 0;
}

/* 1 when the whole response is in y, 0 when more is needed, or -errno. */
static int
reply_step(struct reply *y, bool eof, bool head_req, const char **why)
{
	int rc;

	while (y->head_len == 0) {
		char *e = y->raw.len ? memmem(y->raw.p, y->raw.len,
		    "\r\n\r\n", 4) : NULL;
		size_t hl;

		if (e == NULL) {
			*why = "response header too long";
			if (y->raw.len > CLIENT_HEAD_MAX)
				return -EPROTO;
			return 0;
		}
		hl = (size_t)(e - y->raw.p) + 4;
		if ((rc = reply_head(y, hl, head_req, why)) != 0)
			return rc;
		if (y->status >= 200) {
			y->head_len = y->cpos = hl;
			break;
		}
		/* An interim 1xx: the real response follows. */
		memmove(y->raw.p, y->raw.p + hl, y->raw.len - hl);
		y->raw.len -= hl;
		y->has_cl = y->chunked = false;
	}
	if (y->no_body)
		return 1;
	if (y->chunked)
		return unchunk(y, why);
	if (y->has_cl) {
		if (y->raw.len - y->head_len < y->cl)
			return 0;
		buf_add(&y->body, y->raw.p + y->head_len, y->cl);
		return 1;
	}
	/* No length: the body ends when the server closes. */
	if (y->raw.len - y->head_len > CLIENT_BODY_MAX) {
		*why = "body too large";
		return -EMSGSIZE;
	}
	if (!eof)
		return 0;
	buf_add(&y->body, y->raw.p + y->head_len, y->raw.len - y->head_len);
	return 1;
}

static int
left_ms(double deadline)
{
	double l = (deadline - ebb_monoclock()) * 1000;

	return l <= 0 ? 0 : (int)ceil(l);
}

int
ebb_http_request(const char *method, const char *url,
    const char *const *headers, const void *body, size_t body_len,
    int timeout_ms, int *status, char **resp_body, size_t *resp_len,
    struct ebb_err *err)
{
	double deadline = ebb_monoclock() + ms(timeout_ms);
	struct reply y = { 0 };
	struct buf rq = { 0 };
	struct pollfd pfd;
	struct ebb_err cerr;
	struct url u;
	bool eof = false, head_req;
	const char *why = NULL;
	char hp[EBB_ADDR_MAX + 8];
	int fd = -1, rc;

	if (resp_body != NULL)
		*resp_body = NULL;
	if (resp_len != NULL)
		*resp_len = 0;
	if (!is_token(method)) {
		ebb_err_set(err, "bad HTTP method '%s'", method);
		return -EINVAL;
	}
	if ((rc = parse_url(url, &u, err)) != 0)
		return rc;
	head_req = strcmp(method, "HEAD") == 0;
	buf_printf(&rq, "%s %s%.*s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: ebb/%s\r\nAccept: */*\r\nConnection: close\r\n",
	    method, u.target[0] == '/' ? "" : "/", (int)u.tlen, u.target,
	    u.authority, EBB_VERSION);
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		const char *colon = strchr(headers[i], ':');

		if (colon == NULL || colon == headers[i] ||
		    !is_field_value(headers[i])) {
			ebb_err_set(err, "bad request header '%s'",
			    headers[i]);
			rc = -EINVAL;
			goto out;
		}
		buf_printf(&rq, "%s\r\n", headers[i]);
	}
	if (body != NULL || body_method(method))
		buf_printf(&rq, "Content-Length: %zu\r\n", body ? body_len : 0);
	buf_printf(&rq, "\r\n");
	if (body != NULL && body_len > 0)
		buf_add(&rq, body, body_len);

	/* ebb_net names a peer "host:port" in its messages; so do we. */
	snprintf(hp, sizeof(hp), "%s:%d", u.host, u.port);
	if ((fd = ebb_tcp_connect(u.host, u.port, &cerr)) < 0) {
		const char *r = strstr(cerr.msg, hp);

		rc = fd;
		ebb_err_set(err, "cannot connect to %s: %s", hp, r ?
		    r + strlen(hp) + 2 : cerr.msg);
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	do
		rc = poll(&pfd, 1, left_ms(deadline));
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		rc = -ETIMEDOUT;
		ebb_err_set(err, "cannot connect to %s: no answer within %d ms",
		    hp, timeout_ms);
		goto out;
	}
	rc = rc < 0 ? -errno : ebb_connect_result(fd);
	if (rc != 0) {
		ebb_err_set(err, "cannot connect to %s: %s", hp, strerror(-rc));
		goto out;
	}
	if ((rc = ebb_write_all(fd, rq.p, rq.len, left_ms(deadline))) != 0) {
		ebb_err_set(err, "sending the request to %s: %s", hp,
		    rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
		goto out;
	}
	for (;;) {
		char tmp[65536];
		ssize_t n;

		if ((rc = reply_step(&y, eof, head_req, &why)) != 0)
			break;
		if (eof) {
			rc = -EPROTO;
			why = "connection closed before the response was "
			    "complete";
			break;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		rc = poll(&pfd, 1, left_ms(deadline));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			rc = -errno;
			ebb_err_set(err, "poll: %s", strerror(errno));
			goto out;
		}
		if (rc == 0) {
			rc = -ETIMEDOUT;
			ebb_err_set(err, "no complete answer from %s within "
			    "%d ms", hp, timeout_ms);
			goto out;
		}
		n = recv(fd, tmp, sizeof(tmp), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			rc = -errno;
			ebb_err_set(err, "reading from %s: %s", hp,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			eof = true;
		else
			buf_add(&y.raw, tmp, (size_t)n);
	}
	if (rc < 0) {
		ebb_err_set(err, "bad HTTP response from %s: %s", hp, why);
		goto out;
	}
	rc = 0;
	*status = y.status;
	buf_reserve(&y.body, 0);
	y.body.p[y.body.len] = '\0';
	if (resp_len != NULL)
		*resp_len = y.body.len;
	if (resp_body != NULL) {
		*resp_body = y.body.p;
		y.body.p = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	buf_free(&rq);
	buf_free(&y.raw);
	buf_free(&y.body);
	return rc;
}
