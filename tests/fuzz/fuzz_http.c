/*
 * fuzz_http.c - the HTTP server's request parser (common/ebb_http.c), as
 * the controller's API and the agent's /metrics run it.
 *
 * The parser has no entry point of its own: find_head(), parse_head() and
 * parse_target() are static and work on a connection.  So this file
 * includes ebb_http.c, makes one server (listening on 127.0.0.1, port 0,
 * never connected to), and per input hands one end of a socketpair to
 * conn_new() as if accept() had returned it, writes the input to the other
 * end, closes it for writing and turns the server's crank until the
 * connection is gone.  Everything the server does with a real client runs:
 * pipelined requests, bodies, 100-continue, errors, keep-alive, linger.
 * Because this file defines every symbol of ebb_http.o, the linker never
 * takes that object from the library as well.
 */
#include "ebb_http.c"

#include "fuzz.h"

#define FUZZ_SPINS	64	/* dispatch rounds before giving up */

static struct ebb_http_server *fuzz_srv;

/* What a handler of ebb's would do with a request: look at everything. */
static void
fuzz_handler(void *arg, const struct ebb_http_req *req,
    struct ebb_http_resp *r)
{
	char buf[256];
	size_t sum = 0;

	(void)arg;
	for (int i = 0; i < req->nheaders; i++)
		sum += strlen(req->headers[i].name) +
		    strlen(req->headers[i].value);
	for (int i = 0; i < req->nseg; i++)
		sum += strlen(req->seg[i]);
	sum += strlen(req->path) + strlen(req->query) + strlen(req->target);
	for (size_t i = 0; i < req->body_len; i++)
		sum += (unsigned char)req->body[i];
	(void)ebb_http_query_get(req, "since", buf, sizeof(buf));
	(void)ebb_http_header(req, "Content-Type");
	if (!ebb_http_allow(req, r, "GET, POST, PUT, DELETE"))
		return;
	if (req->nseg > 0 && strcmp(req->seg[0], "api") == 0 &&
	    !ebb_http_bearer(req, r, "fuzz-token"))
		return;
	if (req->nseg > 0 && strcmp(req->seg[0], "hdr") == 0 &&
	    ebb_http_resp_header(r, "X-Fuzz", req->query) < 0) {
		ebb_http_resp_error(r, 400, "bad header value");
		return;
	}
	ebb_http_resp_printf(r, 200, "text/plain", "%zu %s\n", sum, req->path);
}

static void
fuzz_server(void)
{
	struct ebb_http_config cfg = { .addr = "127.0.0.1", .port = 0,
	    .handler = fuzz_handler, .max_body = 64 * 1024 };
	struct ebb_err err;

	if (ebb_http_server_new(&cfg, &fuzz_srv, &err) < 0) {
		fprintf(stderr, "fuzz_http: %s\n", err.msg);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ebb_http_server *s;
	size_t off = 0;
	int sv[2];

	if (fuzz_srv == NULL)
		fuzz_server();
	s = fuzz_srv;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		return 0;
	conn_new(s, sv[0]);	/* owns sv[0] now, closes it on failure */
	for (int spin = 0; spin < FUZZ_SPINS && s->live != NULL; spin++) {
		char junk[65536];

		if (off < size) {
			ssize_t n = send(sv[1], data + off, size - off,
			    MSG_NOSIGNAL);

			if (n > 0)
				off += (size_t)n;
		}
		if (off == size)
			shutdown(sv[1], SHUT_WR);
		(void)ebb_http_server_dispatch(s);
		/* Be a client that reads its responses. */
		while (recv(sv[1], junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
	}
	while (s->live != NULL)
		conn_close(s->live);
	reap(s);
	close(sv[1]);
	return 0;
}
