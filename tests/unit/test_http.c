/*
 * test_http.c - the HTTP server core and client over loopback.
 *
 * The server runs as a daemon would run it: a loop thread (an epoll set
 * holding the server's one fd and a control pipe) calls dispatch() when
 * that fd is readable, and every call into the server - pushing events,
 * counting connections - is shipped to that thread through the pipe, so
 * the server has one owner.  The tests talk to it with ebb_http_request()
 * and with raw sockets: well-formed requests, keep-alive, every refusal
 * (400, 401, 404, 405, 408, 411, 413, 414, 417, 431, 501, 503, 505),
 * slow clients, the connection cap, event streams, and 10,000 mutated
 * requests after which the server must still answer.  The client is also
 * run against canned replies (chunked, close-delimited, 1xx, broken).
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_http.h"
#include "ebb_net.h"
#include "ebb_rand.h"
#include "ebb_wire.h"

#define TOKEN	"s3cret"

/* ---- the server under test, in its own loop thread ---------------------- */

struct tsrv {
	struct ebb_http_server	*srv;
	pthread_t		 th;
	int			 ctl[2];	/* test -> loop: a call */
	int			 ack[2];	/* loop -> test: done */
	int			 port;
	/* Loop thread only (read by tests through call()). */
	uint64_t		 stream;	/* the last stream opened */
	int			 nstreams;
};

struct call {
	void	(*fn)(struct tsrv *, void *);
	void	*arg;
};

static void *
loop_main(void *p)
{
	struct tsrv *t = p;
	struct epoll_event ev = { .events = EPOLLIN }, evs[4];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, ebb_http_server_fd(t->srv), &ev);
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, t->ctl[0], &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 4, -1);

		for (int i = 0; i < n; i++) {
			struct call *c;

			if (evs[i].data.u32 == 1) {
				if (ebb_http_server_dispatch(t->srv) != 0)
					abort();
				continue;
			}
			if (read(t->ctl[0], &c, sizeof(c)) != sizeof(c))
				abort();
			if (c == NULL) {
				close(ep);
				return NULL;
			}
			c->fn(t, c->arg);
			if (write(t->ack[1], "", 1) != 1)
				abort();
		}
	}
}

/* Runs fn(t, arg) on the loop thread and waits for it. */
static void
call(struct tsrv *t, void (*fn)(struct tsrv *, void *), void *arg)
{
	struct call c = { fn, arg }, *cp = &c;
	char x;

	assert_int_equal(write(t->ctl[1], &cp, sizeof(cp)), sizeof(cp));
	assert_int_equal(read(t->ack[0], &x, 1), 1);
}

static void handler(void *, const struct ebb_http_req *,
    struct ebb_http_resp *);

static struct tsrv *
start(const struct ebb_http_config *base)
{
	struct tsrv *t = ebb_calloc(1, sizeof(*t));
	struct ebb_http_config cfg = { 0 };
	struct ebb_err err = { "" };

	if (base != NULL)
		cfg = *base;
	cfg.addr = "127.0.0.1";
	cfg.port = 0;
	cfg.handler = handler;
	cfg.arg = t;
	assert_int_equal(ebb_http_server_new(&cfg, &t->srv, &err), 0);
	t->port = ebb_http_server_port(t->srv);
	assert_true(t->port > 0);
	assert_int_equal(pipe(t->ctl), 0);
	assert_int_equal(pipe(t->ack), 0);
	assert_int_equal(pthread_create(&t->th, NULL, loop_main, t), 0);
	return t;
}

static void
stop(struct tsrv *t)
{
	struct call *none = NULL;

	assert_int_equal(write(t->ctl[1], &none, sizeof(none)),
	    sizeof(none));
	pthread_join(t->th, NULL);
	ebb_http_server_free(t->srv);
	close(t->ctl[0]);
	close(t->ctl[1]);
	close(t->ack[0]);
	close(t->ack[1]);
	free(t);
}

static void
get_nconns(struct tsrv *t, void *arg)
{
	*(int *)arg = ebb_http_server_nconns(t->srv);
}

static int
nconns(struct tsrv *t)
{
	int n;

	call(t, get_nconns, &n);
	return n;
}

/* Waits up to 3 s for the server to hold n connections. */
static void
wait_nconns(struct tsrv *t, int n)
{
	for (int i = 0; i < 300 && nconns(t) != n; i++)
		usleep(10000);
	assert_int_equal(nconns(t), n);
}

/* ---- the test application ------------------------------------------------ */

static void
echo_query(const struct ebb_http_req *req, struct ebb_http_resp *resp)
{
	static const char *const names[] = { "since", "x", "y" };
	json_t *o = json_object();

	for (size_t i = 0; i < EBB_NITEMS(names); i++) {
		char v[64];
		int rc = ebb_http_query_get(req, names[i], v, sizeof(v));

		if (rc == -ENOSPC || rc == -EINVAL) {
			ebb_http_resp_error(resp, 400, "bad %s", names[i]);
			json_decref(o);
			return;
		}
		json_object_set_new(o, names[i], rc >= 0 ? json_string(v) :
		    json_null());
	}
	ebb_http_resp_json(resp, 200, o);
	json_decref(o);
}

static void
handler(void *arg, const struct ebb_http_req *req,
    struct ebb_http_resp *resp)
{
	struct tsrv *t = arg;
	const char *s0 = req->nseg > 0 ? req->seg[0] : "";

	if (strcmp(s0, "hello") == 0) {
		if (ebb_http_allow(req, resp, "GET"))
			ebb_http_resp_set(resp, 200, "text/plain", "hello\n",
			    6);
	} else if (strcmp(s0, "echo") == 0) {
		if (!ebb_http_allow(req, resp, "GET, POST"))
			return;
		if (strcmp(req->method, "GET") == 0) {
			echo_query(req, resp);
			return;
		}
		/*
		 * The body is NUL-terminated beyond its length.  (No cmocka
		 * asserts on the loop thread: a wrong answer is the signal.)
		 */
		if (req->body[req->body_len] != '\0') {
			ebb_http_resp_error(resp, 500, "body not terminated");
			return;
		}
		ebb_http_resp_set(resp, 200, ebb_http_header(req,
		    "content-type"), req->body, req->body_len);
	} else if (strcmp(s0, "path") == 0) {
		struct ebb_http_resp *r = resp;
		char out[512];
		int n = snprintf(out, sizeof(out), "%s", req->path);

		for (int i = 0; i < req->nseg; i++)
			n += snprintf(out + n, sizeof(out) - n, "|%s",
			    req->seg[i]);
		ebb_http_resp_set(r, 200, "text/plain", out, n);
	} else if (strcmp(s0, "secret") == 0) {
		if (ebb_http_bearer(req, resp, TOKEN))
			ebb_http_resp_printf(resp, 200, "text/plain", "ok %d",
			    42);
	} else if (strcmp(s0, "events") == 0) {
		if (!ebb_http_allow(req, resp, "GET"))
			return;
		ebb_http_resp_sse(resp, &t->stream);
		t->nstreams++;
	} else if (strcmp(s0, "big") == 0) {
		size_t n = 300000;
		char *b = ebb_malloc(n);

		for (size_t i = 0; i < n; i++)
			b[i] = 'a' + i % 26;
		ebb_http_resp_take(resp, 200, "text/plain", b, n);
	} else if (strcmp(s0, "silent") == 0) {
		/* No response: the server must answer 500 for us. */
	} else if (strcmp(s0, "created") == 0) {
		if (ebb_http_resp_header(resp, "Location", "/x") != 0 ||
		    ebb_http_resp_header(resp, "Content-Length", "5") !=
		    -EINVAL || ebb_http_resp_header(resp, "X-Bad",
		    "a\r\nInjected: 1") != -EINVAL ||
		    ebb_http_resp_header(resp, "Bad Name", "1") != -EINVAL)
			ebb_http_resp_error(resp, 500, "resp_header");
		else
			ebb_http_resp_set(resp, 201, NULL, NULL, 0);
	} else {
		ebb_http_resp_error(resp, 404, "no such thing: %s", req->path);
	}
}

/* ---- raw sockets --------------------------------------------------------- */

static int
raw_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends it all; false when the server has closed on us. */
static bool
raw_send(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

static bool
raw_sends(int fd, const char *s)
{
	return raw_send(fd, s, strlen(s));
}

/*
 * Reads until the server closes (true: EOF or reset) or 5 s pass (false).
 * Returns the bytes in *len, NUL-terminated.
 */
static bool
raw_drain(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	for (;;) {
		char junk[4096];
		char *to = n + 1 < cap ? buf + n : junk;
		size_t room = n + 1 < cap ? cap - n - 1 : sizeof(junk);
		ssize_t r = recv(fd, to, room, 0);

		if (r > 0 && to != junk)
			n += (size_t)r;
		if (r > 0)
			continue;
		buf[n] = '\0';
		*len = n;
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		return false;
	}
}

static int
status_of(const char *resp)
{
	int st;

	if (sscanf(resp, "HTTP/1.1 %3d ", &st) != 1)
		return -1;
	return st;
}

/*
 * Reads exactly one response with a Content-Length from a connection
 * that stays open; returns its length in buf (NUL-terminated).
 */
static size_t
raw_response(int fd, char *buf, size_t cap)
{
	size_t n = 0, want = 0;

	for (;;) {
		char *e;
		ssize_t r;

		buf[n] = '\0';
		if (want == 0 && (e = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "Content-Length: ");

			want = (size_t)(e - buf) + 4 +
			    (cl && cl < e ? strtoul(cl + 16, NULL, 10) : 0);
		}
		if (want > 0 && n >= want)
			return want;
		assert_true(n + 1 < cap);
		r = recv(fd, buf + n, want ? EBB_MIN(want - n, cap - n - 1) :
		    1, 0);
		assert_true(r > 0);
		n += (size_t)r;
	}
}

/* One request on a new connection the server must then close. */
static int
exchange(int port, const void *req, size_t n, char *buf, size_t cap)
{
	int fd = raw_connect(port);
	size_t len;

	raw_send(fd, req, n);
	assert_true(raw_drain(fd, buf, cap, &len));
	close(fd);
	return status_of(buf);
}

static int
exchanges(int port, const char *req)
{
	char buf[8192];
	int st = exchange(port, req, strlen(req), buf, sizeof(buf));

	/* Every refusal says it closes, and carries a JSON reason. */
	if (st >= 400) {
		assert_non_null(strstr(buf, "Connection: close\r\n"));
		assert_non_null(strstr(buf, "{\"error\":\""));
	}
	return st;
}

static double
since(double t0)
{
	return ebb_monoclock() - t0;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_decode(void **state EBB_UNUSED)
{
	char out[16];

	assert_int_equal(ebb_http_decode("a%20b+c", 7, false, out, 16), 5);
	assert_string_equal(out, "a b+c");
	assert_int_equal(ebb_http_decode("a%20b+c", 7, true, out, 16), 5);
	assert_string_equal(out, "a b c");
	assert_int_equal(ebb_http_decode("%41%6a%2F", 9, false, out, 16), 3);
	assert_string_equal(out, "Aj/");
	assert_int_equal(ebb_http_decode("", 0, false, out, 16), 0);
	assert_string_equal(out, "");
	assert_int_equal(ebb_http_decode("%00", 3, false, out, 16), -EINVAL);
	assert_int_equal(ebb_http_decode("a%0", 3, false, out, 16), -EINVAL);
	assert_int_equal(ebb_http_decode("a%", 2, false, out, 16), -EINVAL);
	assert_int_equal(ebb_http_decode("%zz", 3, false, out, 16), -EINVAL);
	assert_int_equal(ebb_http_decode("%4g", 3, false, out, 16), -EINVAL);
	/* A raw NUL inside the given length is refused too. */
	assert_int_equal(ebb_http_decode("a\0b", 3, false, out, 16), -EINVAL);
	assert_int_equal(ebb_http_decode("abcd", 4, false, out, 4), -ENOSPC);
	assert_int_equal(ebb_http_decode("abc", 3, false, out, 4), 3);
	assert_int_equal(ebb_http_decode("", 0, false, out, 0), -ENOSPC);
}

static void
test_get_query(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);
	struct ebb_err err = { "" };
	char url[256], *body = NULL, buf[4096];
	size_t len;
	int st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?since=2024-01-"
	    "01%%2010%%3A00&x=a+b%%26c&unused#frag", t->port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, &body, &len, &err), 0);
	assert_int_equal(st, 200);
	assert_string_equal(body, "{\"since\":\"2024-01-01 10:00\","
	    "\"x\":\"a b&c\",\"y\":null}\n");
	assert_int_equal(len, strlen(body));
	free(body);

	/* Present but empty, and a value too long for the handler's buffer. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?y&since=",
	    t->port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, &body, NULL, &err), 0);
	assert_string_equal(body, "{\"since\":\"\",\"x\":null,\"y\":\"\"}\n");
	free(body);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?x=%070d", t->port,
	    0);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, NULL, NULL, &err), 0);
	assert_int_equal(st, 400);

	/* %00 and broken escapes never reach a handler. */
	assert_int_equal(exchanges(t->port, "GET /echo?since=%00 HTTP/1.1\r\n"
	    "Host: x\r\n\r\n"), 400);
	assert_int_equal(exchanges(t->port, "GET /echo?since=%4 HTTP/1.1\r\n"
	    "Host: x\r\n\r\n"), 400);
	assert_int_equal(exchanges(t->port, "GET /echo?since=%g1 HTTP/1.1\r\n"
	    "Host: x\r\n\r\n"), 400);
	assert_int_equal(exchanges(t->port, "GET /ec%00ho HTTP/1.1\r\n"
	    "Host: x\r\n\r\n"), 400);
	assert_int_equal(exchanges(t->port, "GET /ec%zho HTTP/1.1\r\n"
	    "Host: x\r\n\r\n"), 400);

	/* Segments are split before decoding; empty ones are dropped. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/path/a%%2Fb//c%%20d/",
	    t->port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, &body, NULL, &err), 0);
	assert_int_equal(st, 200);
	assert_string_equal(body, "/path/a/b//c d/|path|a/b|c d");
	free(body);
	/* 16 segments are fine, 17 are not. */
	snprintf(buf, sizeof(buf), "GET /path%s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", "/1/2/3/4/5/6/7/8/9/a/b/c/d/e/f");
	assert_int_equal(exchanges(t->port, buf), 200);
	snprintf(buf, sizeof(buf), "GET /path%s HTTP/1.1\r\nHost: x\r\n\r\n",
	    "/1/2/3/4/5/6/7/8/9/a/b/c/d/e/f/g");
	assert_int_equal(exchanges(t->port, buf), 414);
	stop(t);
}

static void
test_post_body(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);
	const char *hdrs[] = { "Content-Type: application/x-test", NULL };
	struct ebb_err err = { "" };
	char url[128], *body, buf[4096];
	size_t len, n;
	int st, fd;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", t->port);
	assert_int_equal(ebb_http_request("POST", url, hdrs, "hello\0world",
	    11, 2000, &st, &body, &len, &err), 0);
	assert_int_equal(st, 200);
	assert_int_equal(len, 11);
	assert_memory_equal(body, "hello\0world", 11);
	free(body);

	/* An empty POST still says Content-Length: 0. */
	assert_int_equal(ebb_http_request("POST", url, NULL, NULL, 0, 2000,
	    &st, &body, &len, &err), 0);
	assert_int_equal(st, 200);
	assert_int_equal(len, 0);
	free(body);

	/* Expect: 100-continue gets its interim answer before the body. */
	fd = raw_connect(t->port);
	raw_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	    "Expect: 100-continue\r\n\r\n");
	n = (size_t)recv(fd, buf, 25, MSG_WAITALL);
	assert_int_equal(n, 25);
	assert_memory_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	raw_sends(fd, "abcde");
	n = raw_response(fd, buf, sizeof(buf));
	assert_int_equal(status_of(buf), 200);
	assert_memory_equal(buf + n - 5, "abcde", 5);
	close(fd);
	stop(t);
}

static void
test_keepalive(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);
	const char *get = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[8192], two[256];
	size_t n;
	int fd = raw_connect(t->port);

	/* Two requests, one after the other, on one connection. */
	for (int i = 0; i < 2; i++) {
		raw_sends(fd, get);
		n = raw_response(fd, buf, sizeof(buf));
		assert_int_equal(status_of(buf), 200);
		assert_null(strstr(buf, "Connection: close"));
		assert_memory_equal(buf + n - 6, "hello\n", 6);
	}
	assert_int_equal(nconns(t), 1);
	/* Two in one write are answered in order too. */
	snprintf(two, sizeof(two), "%s\r\n%s", get, get);
	raw_sends(fd, two);
	for (int i = 0; i < 2; i++) {
		n = raw_response(fd, buf, sizeof(buf));
		assert_int_equal(status_of(buf), 200);
	}
	/* Connection: close is honoured. */
	raw_sends(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n"
	    "Connection: keep-alive, close\r\n\r\n");
	assert_true(raw_drain(fd, buf, sizeof(buf), &n));
	assert_int_equal(status_of(buf), 200);
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	close(fd);
	/* HTTP/1.0 closes after one response. */
	assert_int_equal(exchanges(t->port, "GET /hello HTTP/1.0\r\n\r\n"),
	    200);
	/* A big body is written across many partial sends. */
	fd = raw_connect(t->port);
	raw_sends(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
	{
		char *big = ebb_malloc(400000);

		n = raw_response(fd, big, 400000);
		assert_non_null(strstr(big, "Content-Length: 300000\r\n"));
		assert_memory_equal(big + n - 26, "mnopqrstuvwxyzabcdefghijkl",
		    26);
		free(big);
	}
	close(fd);
	wait_nconns(t, 0);
	stop(t);
}

static void
test_status_codes(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);
	struct ebb_err err = { "" };
	char url[128], *body, buf[4096];
	size_t n;
	int st, fd;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", t->port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, &body, NULL, &err), 0);
	assert_int_equal(st, 404);
	assert_string_equal(body, "{\"error\":\"no such thing: /nope\"}\n");
	free(body);

	/* 405 names what is allowed; the connection stays usable. */
	fd = raw_connect(t->port);
	raw_sends(fd, "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_response(fd, buf, sizeof(buf));
	assert_int_equal(status_of(buf), 405);
	assert_non_null(strstr(buf, "\r\nAllow: GET\r\n"));
	/* HEAD: GET's headers, no body. */
	raw_sends(fd, "HEAD /hello HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n");
	assert_true(raw_drain(fd, buf, sizeof(buf), &n));
	assert_int_equal(status_of(buf), 200);
	assert_non_null(strstr(buf, "Content-Length: 6\r\n"));
	assert_int_equal(n, strstr(buf, "\r\n\r\n") - buf + 4);
	close(fd);

	/* A handler that forgets to answer gives a 500, not a hang. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/silent", t->port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, NULL, NULL, &err), 0);
	assert_int_equal(st, 500);
	/* Extra headers, and no framing headers from the handler. */
	fd = raw_connect(t->port);
	raw_sends(fd, "GET /created HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_response(fd, buf, sizeof(buf));
	assert_int_equal(status_of(buf), 201);
	assert_non_null(strstr(buf, "\r\nLocation: /x\r\n"));
	assert_non_null(strstr(buf, "\r\nContent-Length: 0\r\n"));
	assert_null(strstr(buf, "Injected"));
	close(fd);
	stop(t);
}

static void
test_bad_requests(void **state EBB_UNUSED)
{
	static const struct {
		const char	*req;
		int		 status;
	} cases[] = {
		{ "GET\r\n\r\n", 400 },
		{ "GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400 },
		{ "GET / FOO/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
		{ "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505 },
		{ "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
		{ "GET hello HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET http://x/hello HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\nHost: x\n\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n", 400 },
		{ "GET /hello HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n",
		    417 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\n\r\nabc", 411 },
		{ "PUT /echo HTTP/1.1\r\nHost: x\r\n\r\n", 411 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 411 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
		    "gzip\r\n\r\n", 501 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
		    "chunked\r\nContent-Length: 3\r\n\r\nabc", 400 },
		{ "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		    400 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		    "Content-Length: 3\r\n\r\nabc", 400 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n"
		    "\r\n", 400 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n"
		    "\r\nabc", 400 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n"
		    "\r\na", 400 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n"
		    "\r\n", 400 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577"
		    "\r\n\r\n", 413 },
		{ "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
		    "99999999999999999999999999\r\n\r\n", 413 },
	};
	struct tsrv *t = start(NULL);
	char *buf = ebb_malloc(64 * 1024);
	int n;

	for (size_t i = 0; i < EBB_NITEMS(cases); i++) {
		int st = exchanges(t->port, cases[i].req);

		if (st != cases[i].status)
			print_error("case %zu: %s\n", i, cases[i].req);
		assert_int_equal(st, cases[i].status);
	}
	/* A NUL in a header value. */
	{
		static const char nul[] = "GET /hello HTTP/1.1\r\nHost: x\r\n"
		    "X: a\0b\r\n\r\n";

		assert_int_equal(exchange(t->port, nul, sizeof(nul) - 1, buf,
		    4096), 400);
	}

	/* Request line: 8 KiB of target pass, one byte more does not. */
	n = snprintf(buf, 64 * 1024, "GET /hello?%0*d HTTP/1.1", 8192 - 20,
	    0);
	assert_int_equal(n, 8192);
	strcat(buf, "\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(exchanges(t->port, buf), 200);
	n = snprintf(buf, 64 * 1024, "GET /hello?%0*d HTTP/1.1", 8192 - 19,
	    0);
	strcat(buf, "\r\nHost: x\r\n\r\n");
	assert_int_equal(exchanges(t->port, buf), 414);
	/* Also when the line never ends. */
	memset(buf, 'a', 20000);
	assert_int_equal(exchange(t->port, buf, 20000, buf, 4096), 414);

	/* Header block: 16 KiB pass, more does not (431). */
	n = snprintf(buf, 64 * 1024, "GET /hello HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\nX: %0*d\r\n\r\n", 16384 - 35, 0);
	assert_int_equal(n, 21 + 16384);
	assert_int_equal(exchanges(t->port, buf), 200);
	n = snprintf(buf, 64 * 1024, "GET /hello HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\nX: %0*d\r\n\r\n", 16384 - 34, 0);
	assert_int_equal(exchanges(t->port, buf), 431);
	/* 100 header lines pass, 101 do not. */
	for (int lines = 100; lines <= 101; lines++) {
		n = snprintf(buf, 64 * 1024, "GET /hello HTTP/1.1\r\n"
		    "Host: x\r\nConnection: close\r\n");
		for (int i = 2; i < lines; i++)
			n += snprintf(buf + n, 64 * 1024 - n, "X-%d: %d\r\n", i,
			    i);
		strcat(buf, "\r\n");
		assert_int_equal(exchanges(t->port, buf), lines == 100 ? 200 :
		    431);
	}
	free(buf);
	wait_nconns(t, 0);
	stop(t);
}

static void
test_body_limit(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);
	size_t big = 1024 * 1024, n;
	char *req = ebb_malloc(big + 2 * 4096), hdr[128];
	int fd, hl;

	/* Exactly 1 MiB is accepted and echoed. */
	hl = snprintf(hdr, sizeof(hdr), "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", big);
	memcpy(req, hdr, hl);
	memset(req + hl, 'z', big);
	fd = raw_connect(t->port);
	assert_true(raw_send(fd, req, hl + big));
	assert_true(raw_drain(fd, req, big + 2 * 4096, &n));
	assert_int_equal(status_of(req), 200);
	assert_true(n > big);
	close(fd);

	/*
	 * One byte more: 413 from the head alone, and the client that sends
	 * its body anyway still reads the answer (the server drains it
	 * rather than resetting).
	 */
	hl = snprintf(hdr, sizeof(hdr), "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %zu\r\n\r\n", big + 1);
	memcpy(req, hdr, hl);
	memset(req + hl, 'z', big + 1);
	fd = raw_connect(t->port);
	raw_send(fd, req, hl + big + 1);
	assert_true(raw_drain(fd, req, 4096, &n));
	assert_int_equal(status_of(req), 413);
	close(fd);
	free(req);
	stop(t);
}

static void
test_timeouts(void **state EBB_UNUSED)
{
	struct ebb_http_config cfg = { .request_timeout_ms = 300,
		.idle_timeout_ms = 600 };
	struct tsrv *t = start(&cfg);
	char buf[4096];
	double t0, dt;
	size_t n;
	int fd;

	/* Slowloris: a header line every 50 ms never finishes a request. */
	fd = raw_connect(t->port);
	t0 = ebb_monoclock();
	raw_sends(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 60; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 50) > 0)
			break;
		raw_sends(fd, "X-Slow: 1\r\n");
	}
	assert_true(raw_drain(fd, buf, sizeof(buf), &n));
	dt = since(t0);
	assert_int_equal(status_of(buf), 408);
	assert_true(dt >= 0.25 && dt < 1.5);
	close(fd);

	/* The same with a body that trickles. */
	fd = raw_connect(t->port);
	t0 = ebb_monoclock();
	raw_sends(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 100\r\n\r\n");
	for (int i = 0; i < 60; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 50) > 0)
			break;
		raw_sends(fd, "z");
	}
	assert_true(raw_drain(fd, buf, sizeof(buf), &n));
	assert_int_equal(status_of(buf), 408);
	assert_true(since(t0) < 1.5);
	close(fd);

	/* An idle connection is closed without a word. */
	fd = raw_connect(t->port);
	t0 = ebb_monoclock();
	assert_true(raw_drain(fd, buf, sizeof(buf), &n));
	dt = since(t0);
	assert_int_equal(n, 0);
	assert_true(dt >= 0.5 && dt < 2.0);
	close(fd);

	/* ... also after a first request on it. */
	fd = raw_connect(t->port);
	raw_sends(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_response(fd, buf, sizeof(buf));
	t0 = ebb_monoclock();
	assert_true(raw_drain(fd, buf, sizeof(buf), &n));
	assert_int_equal(n, 0);
	dt = since(t0);
	assert_true(dt >= 0.5 && dt < 2.0);
	close(fd);
	wait_nconns(t, 0);
	stop(t);
}

static void
test_conn_cap(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);	/* the default cap: 256 */
	struct ebb_err err = { "" };
	int fds[256], st;
	char buf[4096], url[128];
	size_t n;

	for (int i = 0; i < 256; i++)
		fds[i] = raw_connect(t->port);
	wait_nconns(t, 256);
	/* Beyond the cap: 503 and closed, at once. */
	for (int i = 0; i < 20; i++) {
		int fd = raw_connect(t->port);

		assert_true(raw_drain(fd, buf, sizeof(buf), &n));
		assert_int_equal(status_of(buf), 503);
		close(fd);
	}
	assert_int_equal(nconns(t), 256);
	/* The held connections still work. */
	raw_sends(fds[7], "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_response(fds[7], buf, sizeof(buf));
	assert_int_equal(status_of(buf), 200);
	for (int i = 0; i < 256; i++)
		close(fds[i]);
	wait_nconns(t, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", t->port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, NULL, NULL, &err), 0);
	assert_int_equal(st, 200);
	stop(t);
}

struct push {
	uint64_t	 id;
	const char	*event;
	const char	*data;
	int		 rc;
};

static void
do_push(struct tsrv *t, void *arg)
{
	struct push *p = arg;

	p->rc = ebb_http_sse_send(t->srv, p->id, p->event, p->data);
}

static void
do_close(struct tsrv *t, void *arg)
{
	struct push *p = arg;

	p->rc = ebb_http_sse_close(t->srv, p->id);
}

static void
get_stream(struct tsrv *t, void *arg)
{
	*(uint64_t *)arg = t->stream;
}

/* Pushes 64 KiB events at a client that never reads, until refused. */
static void
do_flood(struct tsrv *t, void *arg)
{
	struct push *p = arg;
	char *data = ebb_malloc(65536);

	memset(data, 'x', 65535);
	data[65535] = '\0';
	for (int i = 0; i < 2000; i++)
		if ((p->rc = ebb_http_sse_send(t->srv, p->id, "x", data)) != 0)
			break;
	free(data);
}

static int
push(struct tsrv *t, uint64_t id, const char *event, const char *data)
{
	struct push p = { id, event, data, 1 };

	call(t, do_push, &p);
	return p.rc;
}

/* Opens an event stream on a raw socket; returns the fd and its id. */
static int
open_stream(struct tsrv *t, uint64_t *id)
{
	char buf[1024] = "";
	size_t n = 0;
	int fd = raw_connect(t->port);

	raw_sends(fd, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
	while (strstr(buf, "\r\n\r\n") == NULL) {
		ssize_t r = recv(fd, buf + n, 1, 0);

		assert_int_equal(r, 1);
		buf[++n] = '\0';
	}
	assert_int_equal(status_of(buf), 200);
	assert_non_null(strstr(buf, "Content-Type: text/event-stream\r\n"));
	assert_null(strstr(buf, "Content-Length"));
	call(t, get_stream, id);
	return fd;
}

static void
expect_bytes(int fd, const char *want)
{
	size_t n = strlen(want);
	char buf[1024];

	assert_int_equal(recv(fd, buf, n, MSG_WAITALL), n);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
test_sse(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);
	struct push p;
	uint64_t a, b, c;
	char buf[64];
	size_t n;
	int fa, fb, fc, rc = 0;

	fa = open_stream(t, &a);
	fb = open_stream(t, &b);
	assert_true(a != 0 && b != 0 && a != b);
	assert_int_equal(push(t, a, "update", "one\ntwo\r\nthree"), 0);
	expect_bytes(fa, "event: update\ndata: one\ndata: two\n"
	    "data: three\n\n");
	assert_int_equal(push(t, a, NULL, "{\"x\":1}"), 0);
	expect_bytes(fa, "data: {\"x\":1}\n\n");
	assert_int_equal(push(t, a, NULL, NULL), 0);
	expect_bytes(fa, ":\n\n");
	assert_int_equal(push(t, a, "bad\nname", "x"), -EINVAL);
	assert_int_equal(push(t, b, "hi", ""), 0);
	expect_bytes(fb, "event: hi\ndata: \n\n");
	assert_int_equal(nconns(t), 2);

	/* The server closes b: its client sees the end. */
	p = (struct push){ .id = b };
	call(t, do_close, &p);
	assert_int_equal(p.rc, 0);
	assert_true(raw_drain(fb, buf, sizeof(buf), &n));
	assert_int_equal(n, 0);
	assert_int_equal(push(t, b, "hi", "x"), -ENOENT);
	call(t, do_close, &p);
	assert_int_equal(p.rc, -ENOENT);
	close(fb);

	/* a's client leaves: the stream is cleaned up without a push. */
	close(fa);
	wait_nconns(t, 0);
	assert_int_equal(push(t, a, "update", "x"), -ENOENT);

	/* A client that does not read is cut off once its backlog is full. */
	fc = open_stream(t, &c);
	p = (struct push){ .id = c };
	call(t, do_flood, &p);
	assert_int_equal(p.rc, -ENOBUFS);
	assert_int_equal(push(t, c, "x", "y"), -ENOENT);
	close(fc);
	wait_nconns(t, 0);

	/* Streams are per client; ids are never reused. */
	fa = open_stream(t, &a);
	assert_true(a > c);
	for (int i = 0; i < 3; i++)
		rc |= push(t, a, "n", "1");
	assert_int_equal(rc, 0);
	expect_bytes(fa, "event: n\ndata: 1\n\nevent: n\ndata: 1\n\n"
	    "event: n\ndata: 1\n\n");
	close(fa);
	stop(t);
}

static void
test_bearer(void **state EBB_UNUSED)
{
	static const struct {
		const char	*auth;
		int		 status;
	} cases[] = {
		{ NULL, 401 },
		{ "Authorization: Bearer " TOKEN, 200 },
		{ "Authorization: bearer " TOKEN, 200 },
		{ "Authorization: Bearer  " TOKEN "  ", 200 },
		{ "Authorization: Bearer s3cre", 401 },
		{ "Authorization: Bearer s3cretX", 401 },
		{ "Authorization: Bearer S3CRET", 401 },
		{ "Authorization: Bearer ", 401 },
		{ "Authorization: Basic czNjcmV0", 401 },
		{ "Authorization: " TOKEN, 401 },
	};
	struct tsrv *t = start(NULL);
	struct ebb_err err = { "" };
	char url[128], *body;
	int st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/secret", t->port);
	for (size_t i = 0; i < EBB_NITEMS(cases); i++) {
		const char *h[] = { cases[i].auth, NULL };

		assert_int_equal(ebb_http_request("GET", url, h, NULL, 0, 2000,
		    &st, &body, NULL, &err), 0);
		assert_int_equal(st, cases[i].status);
		if (st == 200)
			assert_string_equal(body, "ok 42");
		else
			assert_string_equal(body, "{\"error\":\"missing or "
			    "wrong bearer token\"}\n");
		free(body);
	}
	/* The 401 says how to authenticate. */
	{
		char buf[4096];

		assert_int_equal(exchanges(t->port, "GET /secret HTTP/1.1\r\n"
		    "Host: x\r\nConnection: close\r\n\r\n"), 401);
		const char *rq = "GET /secret HTTP/1.0\r\n\r\n";

		exchange(t->port, rq, strlen(rq), buf, sizeof(buf));
		assert_non_null(strstr(buf, "\r\nWWW-Authenticate: Bearer "
		    "realm=\"ebb\"\r\n"));
	}
	stop(t);
}

/* ---- the client against canned replies ----------------------------------- */

struct canned {
	int		 lfd;
	const char	*reply;
	size_t		 len;
	bool		 close_first;	/* close right after the reply */
	bool		 mute;		/* accept, read, never answer */
	pthread_t	 th;
};

static void *
canned_main(void *p)
{
	struct canned *c = p;
	char buf[4096];
	size_t n = 0;
	int fd = accept(c->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (n < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);

		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	if (!c->mute)
		raw_send(fd, c->reply, c->len);
	if (!c->close_first)
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
	close(fd);
	return NULL;
}

/* Serves one canned reply; returns ebb_http_request's result. */
static int
against(const char *reply, size_t len, bool close_first, int *status,
    char **body, size_t *blen, struct ebb_err *err)
{
	struct canned c = { .reply = reply, .len = len,
		.close_first = close_first, .mute = reply == NULL };
	char url[128];
	int rc;

	c.lfd = ebb_tcp_listen("127.0.0.1", 0, err);
	assert_true(c.lfd >= 0);
	/* The accept() in the thread must block. */
	assert_int_equal(fcntl(c.lfd, F_SETFL, 0), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x",
	    ebb_sock_port(c.lfd));
	assert_int_equal(pthread_create(&c.th, NULL, canned_main, &c), 0);
	rc = ebb_http_request("GET", url, NULL, NULL, 0, reply ? 3000 : 300,
	    status, body, blen, err);
	pthread_join(c.th, NULL);
	close(c.lfd);
	return rc;
}

#define CANNED(s)	s, sizeof(s) - 1

static void
test_client_framing(void **state EBB_UNUSED)
{
	struct ebb_err err = { "" };
	char *body, *big;
	size_t len, n;
	int st;

	assert_int_equal(against(CANNED("HTTP/1.1 200 OK\r\nTransfer-Encoding:"
	    " chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\n"
	    "X-Trailer: 1\r\n\r\n"), false, &st, &body, &len, &err), 0);
	assert_int_equal(st, 200);
	assert_string_equal(body, "hello, world");
	assert_int_equal(len, 12);
	free(body);
	assert_int_equal(against(CANNED("HTTP/1.1 201 Created\r\n"
	    "content-length: 3\r\n\r\nabc"), false, &st, &body, &len, &err), 0);
	assert_int_equal(st, 201);
	assert_string_equal(body, "abc");
	free(body);
	assert_int_equal(against(CANNED("HTTP/1.0 200 OK\r\n\r\nuntil close"),
	    true, &st, &body, &len, &err), 0);
	assert_string_equal(body, "until close");
	free(body);
	assert_int_equal(against(CANNED("HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), false, &st,
	    &body, &len, &err), 0);
	assert_int_equal(st, 200);
	assert_string_equal(body, "ok");
	free(body);
	assert_int_equal(against(CANNED("HTTP/1.1 204 No Content\r\n\r\n"),
	    false, &st, &body, &len, &err), 0);
	assert_int_equal(st, 204);
	assert_int_equal(len, 0);
	assert_string_equal(body, "");
	free(body);

	/* A big chunked body in many chunks. */
	big = ebb_malloc(2 * 1024 * 1024);
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(big + n, "3e8\r\n%01000d\r\n", i);
	n += (size_t)sprintf(big + n, "0\r\n\r\n");
	assert_int_equal(against(big, n, false, &st, &body, &len, &err), 0);
	assert_int_equal(len, 1000 * 1000);
	assert_true(body[999] == '0' && body[999999] == '9');
	free(body);
	free(big);

	/* Broken replies: clear errors, no body. */
	assert_int_equal(against(CANNED("SSH-2.0-OpenSSH_9.2\r\n\r\n"), false,
	    &st, &body, &len, &err), -EPROTO);
	assert_null(body);
	assert_non_null(strstr(err.msg, "bad HTTP response from 127.0.0.1:"));
	assert_int_equal(against(CANNED("HTTP/1.1 200 OK\r\nContent-Length: "
	    "10\r\n\r\nabc"), true, &st, &body, &len, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "closed before"));
	assert_int_equal(against(CANNED("HTTP/1.1 200 OK\r\nTransfer-Encoding:"
	    " chunked\r\n\r\nzz\r\n"), false, &st, &body, &len, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "chunk size"));
	assert_int_equal(against(CANNED("HTTP/1.1 200 OK\r\nTransfer-Encoding:"
	    " chunked\r\n\r\n3\r\nabcXY0\r\n\r\n"), false, &st, &body, &len,
	    &err), -EPROTO);
	assert_int_equal(against(CANNED("HTTP/1.1 200 OK\r\nContent-Length: "
	    "999999999999\r\n\r\n"), false, &st, &body, &len, &err), -EMSGSIZE);
	/* A server that never answers. */
	{
		double t0 = ebb_monoclock();

		assert_int_equal(against(NULL, 0, false, &st, &body, &len,
		    &err), -ETIMEDOUT);
		assert_true(since(t0) >= 0.25 && since(t0) < 2);
		assert_non_null(strstr(err.msg, "within 300 ms"));
	}
}

static void
test_client_errors(void **state EBB_UNUSED)
{
	struct ebb_err err = { "" };
	char url[128], want[128];
	int st, fd, port;

	/* A port nobody listens on: bind one, then let it go. */
	fd = ebb_tcp_listen("127.0.0.1", 0, &err);
	assert_true(fd >= 0);
	port = ebb_sock_port(fd);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/hosts", port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, NULL, NULL, &err), -ECONNREFUSED);
	snprintf(want, sizeof(want), "cannot connect to 127.0.0.1:%d: "
	    "Connection refused", port);
	assert_string_equal(err.msg, want);

	assert_int_equal(ebb_http_request("GET", "https://127.0.0.1:1/", NULL,
	    NULL, 0, 100, &st, NULL, NULL, &err), -EPROTONOSUPPORT);
	assert_int_equal(ebb_http_request("GET", "ftp://127.0.0.1:1/", NULL,
	    NULL, 0, 100, &st, NULL, NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "'ftp://127.0.0.1:1/': expected "
	    "http://HOST:PORT/PATH");
	assert_int_equal(ebb_http_request("GET", "http:///x", NULL, NULL, 0,
	    100, &st, NULL, NULL, &err), -EINVAL);
	assert_int_equal(ebb_http_request("GET", "http://u@h:1/", NULL, NULL,
	    0, 100, &st, NULL, NULL, &err), -EINVAL);
	assert_int_equal(ebb_http_request("GET", "http://h:99999/", NULL, NULL,
	    0, 100, &st, NULL, NULL, &err), -EINVAL);
	assert_int_equal(ebb_http_request("GET", "http://h:1/a b", NULL, NULL,
	    0, 100, &st, NULL, NULL, &err), -EINVAL);
	assert_int_equal(ebb_http_request("G T", "http://h:1/", NULL, NULL,
	    0, 100, &st, NULL, NULL, &err), -EINVAL);
	{
		const char *h[] = { "X-Evil: a\r\nHost: b", NULL };

		assert_int_equal(ebb_http_request("GET", "http://h:1/", h,
		    NULL, 0, 100, &st, NULL, NULL, &err), -EINVAL);
	}
}

/* ---- fuzz ---------------------------------------------------------------- */

static const char *const seeds[] = {
	"GET /echo?since=1&x=a%20b HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	    "Content-Type: text/plain\r\n\r\nhello",
	"GET /secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
	    "\r\n",
	"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
	"HEAD /hello HTTP/1.0\r\n\r\n",
	"GET /path/a%2Fb/c?q=%41 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    "\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
	"PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
	    "Content-Length: 3\r\n\r\nabc",
	"DELETE /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n0\r\n\r\n",
};

static const char *const tokens[] = {
	"\r\n", "\r\n\r\n", "\n", "\r", " ", ":", "%", "%00", "%2", "?", "&",
	"=", "/", "#", "\0", "\x7f", "\xff", "HTTP/1.1", "Content-Length: ",
	"Transfer-Encoding: chunked\r\n", "Host: y\r\n", "999999999999",
	"-1", "Expect: 100-continue\r\n", "GET / HTTP/1.1\r\n",
};

/* One mutated request into buf (at most cap bytes); its length. */
static size_t
mutate(struct ebb_rand *r, char *buf, size_t cap)
{
	const char *s = seeds[ebb_rand_below(r, EBB_NITEMS(seeds))];
	size_t n = strlen(s);
	int rounds = 1 + (int)ebb_rand_below(r, 6);

	memcpy(buf, s, n);
	for (int k = 0; k < rounds; k++) {
		size_t at = n ? ebb_rand_below(r, n + 1) : 0;

		switch (ebb_rand_below(r, 7)) {
		case 0:		/* flip a byte */
			if (at < n)
				buf[at] = (char)ebb_rand_below(r, 256);
			break;
		case 1:		/* cut */
			n = at;
			break;
		case 2: {	/* delete a run */
			/* EBB_MIN evaluates its arguments twice. */
			size_t d = ebb_rand_below(r, 16);

			d = EBB_MIN(n - at, d);

			memmove(buf + at, buf + at + d, n - at - d);
			n -= d;
			break;
		}
		case 3: {	/* insert a token */
			const char *t = tokens[ebb_rand_below(r,
			    EBB_NITEMS(tokens))];
			size_t tl = t[0] ? strlen(t) : 1;

			if (n + tl > cap)
				break;
			memmove(buf + at + tl, buf + at, n - at);
			memcpy(buf + at, t, tl);
			n += tl;
			break;
		}
		case 4: {	/* insert random bytes */
			size_t m = ebb_rand_below(r, 32);

			if (n + m > cap)
				break;
			memmove(buf + at + m, buf + at, n - at);
			for (size_t i = 0; i < m; i++)
				buf[at + i] = (char)ebb_rand_below(r, 256);
			n += m;
			break;
		}
		case 5: {	/* repeat a run */
			size_t m = ebb_rand_below(r, 64);
			int times = 1 + (int)ebb_rand_below(r, 40);

			m = EBB_MIN(n - at, m);

			for (int i = 0; i < times && n + m <= cap; i++) {
				memmove(buf + at + m, buf + at, n - at);
				n += m;
			}
			break;
		}
		default: {	/* a second seed appended (pipelining) */
			const char *t = seeds[ebb_rand_below(r,
			    EBB_NITEMS(seeds))];
			size_t tl = strlen(t);

			if (n + tl <= cap) {
				memcpy(buf + n, t, tl);
				n += tl;
			}
			break;
		}
		}
	}
	return n;
}

static void
test_fuzz(void **state EBB_UNUSED)
{
	struct tsrv *t = start(NULL);
	struct ebb_rand r;
	static char req[16384], resp[65536];
	int counts[600] = { 0 }, closed_silently = 0, st;
	struct ebb_err err = { "" };
	char url[128];

	ebb_rand_seed(&r, 20240611);
	for (int i = 0; i < 10000; i++) {
		size_t n = mutate(&r, req, sizeof(req)), got;
		int fd = raw_connect(t->port);

		raw_send(fd, req, n);
		/* Our FIN ends whatever the server was waiting for. */
		shutdown(fd, SHUT_WR);
		if (!raw_drain(fd, resp, sizeof(resp), &got)) {
			print_error("iteration %d: no close within 5 s:\n", i);
			for (size_t k = 0; k < n; k++)
				print_error(req[k] >= 32 && req[k] < 127 ?
				    "%c" : "\\x%02x", (unsigned char)req[k]);
			print_error("\n");
			fail();
		}
		close(fd);
		if (got == 0) {
			closed_silently++;
			continue;
		}
		st = status_of(resp);
		if (st < 100 || st > 599) {
			print_error("iteration %d: reply '%.40s'\n", i, resp);
			fail();
		}
		counts[st]++;
	}
	print_message("fuzz: 10000 requests, %d closed without a reply; "
	    "200:%d 400:%d 404:%d 405:%d 411:%d 413:%d 431:%d 501:%d "
	    "505:%d\n", closed_silently, counts[200], counts[400], counts[404],
	    counts[405], counts[411], counts[413], counts[431], counts[501],
	    counts[505]);
	/* It still serves, and holds nothing it should have let go. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", t->port);
	assert_int_equal(ebb_http_request("GET", url, NULL, NULL, 0, 2000,
	    &st, NULL, NULL, &err), 0);
	assert_int_equal(st, 200);
	wait_nconns(t, 0);
	stop(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_get_query),
		cmocka_unit_test(test_post_body),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_status_codes),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_conn_cap),
		cmocka_unit_test(test_sse),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_client_framing),
		cmocka_unit_test(test_client_errors),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
