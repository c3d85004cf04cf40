/*
 * test_tls.c - the TLS layer of the agent <-> controller link
 * (common/ebb_tls.c) and the buffers that ride on it (ebb_linebuf_recv,
 * ebb_outq_send).
 *
 * Certificates are made at start-up with OpenSSL's API into a mkdtemp
 * folder: two CAs (the fleet's "A" and a stranger "B"), a controller
 * certificate from A (CN and DNS ctl.test, IP 127.0.0.1), host
 * certificates from A for h1 and h2, an h1 from B, an expired h1 from A,
 * a server certificate for another name, one with a CN and no SAN, one
 * with a wildcard SAN.  Each handshake runs over a non-blocking
 * socketpair, both ends driven from this thread.
 *
 * Checked: a good pair completes, each side sees the other's names, and
 * lines of a few bytes and of exactly the 1 MiB limit go both ways through
 * ebb_outq/ebb_linebuf; close_notify reads as EOF.  Refused, with the
 * reason in the message: a client certificate from another CA, an
 * expired one, a client with no certificate, a TLS 1.2 client, a server
 * certificate from another CA or for another name or IP address, and
 * plain JSON sent to a TLS server.  ebb_tls_peer_is() matches the CN or a
 * DNS SAN exactly (no wildcard, no other host).  The "tls" section
 * parser and the TLS-or-insecure_plaintext rule, and context errors (a
 * missing file, a key that does not match its certificate, garbage)
 * that name the file.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ebb.h"
#include "ebb_jconf.h"
#include "ebb_tls.h"
#include "ebb_wire.h"

#define DAY	(24 * 3600L)

static char	dir[1024];		/* the certificates' mkdtemp */

/* ---- certificates ---------------------------------------------------------- */

struct issued {
	X509		*cert;
	EVP_PKEY	*key;
};

static void
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/*
 * A certificate for cn (and san, an openssl subjectAltName value, or
 * NULL), valid from `from` to `to` seconds from now, signed by ca (NULL:
 * self-signed, a CA).
 */
static struct issued
issue(const char *cn, const char *san, const struct issued *ca, long from,
    long to)
{
	static long serial = 1;
	struct issued r = { X509_new(), EVP_EC_gen("P-256") };
	X509_NAME *name;
	X509V3_CTX v3;

	assert_non_null(r.cert);
	assert_non_null(r.key);
	X509_set_version(r.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(r.cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(r.cert), from);
	X509_gmtime_adj(X509_getm_notAfter(r.cert), to);
	X509_set_pubkey(r.cert, r.key);
	name = X509_get_subject_name(r.cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(r.cert, ca ? X509_get_subject_name(ca->cert) :
	    name);
	X509V3_set_ctx(&v3, ca ? ca->cert : r.cert, r.cert, NULL, NULL, 0);
	add_ext(r.cert, &v3, NID_subject_key_identifier, "hash");
	add_ext(r.cert, &v3, NID_authority_key_identifier, "keyid:always");
	if (ca == NULL) {
		add_ext(r.cert, &v3, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(r.cert, &v3, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
	} else {
		add_ext(r.cert, &v3, NID_basic_constraints, "CA:FALSE");
		add_ext(r.cert, &v3, NID_key_usage,
		    "critical,digitalSignature");
		add_ext(r.cert, &v3, NID_ext_key_usage,
		    "serverAuth,clientAuth");
	}
	if (san != NULL)
		add_ext(r.cert, &v3, NID_subject_alt_name, san);
	assert_true(X509_sign(r.cert, ca ? ca->key : r.key, EVP_sha256()) > 0);
	return r;
}

/* Writes dir/NAME.crt and dir/NAME.key (0600). */
static void
save(const struct issued *r, const char *name)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, r->cert), 1);
	assert_int_equal(fclose(f), 0);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(f, r->key, NULL, NULL, 0, NULL,
	    NULL), 1);
	assert_int_equal(fclose(f), 0);
}

static void
drop(struct issued *r)
{
	X509_free(r->cert);
	EVP_PKEY_free(r->key);
}

static int
make_certs(void **state)
{
	struct issued a, b, c;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ebb-tls-test.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	signal(SIGPIPE, SIG_IGN);

	a = issue("ebb test CA A", NULL, NULL, -DAY, 30 * DAY);
	b = issue("ebb test CA B", NULL, NULL, -DAY, 30 * DAY);
	save(&a, "caA");
	save(&b, "caB");
	c = issue("ctl.test", "DNS:ctl.test,IP:127.0.0.1", &a, -DAY, DAY);
	save(&c, "ctl");
	drop(&c);
	c = issue("other.test", "DNS:other.test", &a, -DAY, DAY);
	save(&c, "other");
	drop(&c);
	c = issue("ctl.test", "DNS:ctl.test", &b, -DAY, DAY);
	save(&c, "ctl-b");
	drop(&c);
	c = issue("h1", "DNS:h1", &a, -DAY, DAY);
	save(&c, "h1");
	drop(&c);
	c = issue("h2", "DNS:h2,DNS:h2.example", &a, -DAY, DAY);
	save(&c, "h2");
	drop(&c);
	c = issue("h1", "DNS:h1", &b, -DAY, DAY);
	save(&c, "h1-b");
	drop(&c);
	c = issue("h1", "DNS:h1", &a, -3 * DAY, -DAY);
	save(&c, "h1-expired");
	drop(&c);
	c = issue("h3", NULL, &a, -DAY, DAY);
	save(&c, "h3-cn-only");
	drop(&c);
	c = issue("wild", "DNS:*.test", &a, -DAY, DAY);
	save(&c, "wild");
	drop(&c);
	drop(&a);
	drop(&b);
	return 0;
}

static int
remove_certs(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- sessions ------------------------------------------------------------- */

static struct ebb_tls_conf
conf(const char *ca, const char *name)
{
	struct ebb_tls_conf c;

	memset(&c, 0, sizeof(c));
	snprintf(c.ca, sizeof(c.ca), "%s/%s.crt", dir, ca);
	snprintf(c.cert, sizeof(c.cert), "%s/%s.crt", dir, name);
	snprintf(c.key, sizeof(c.key), "%s/%s.key", dir, name);
	return c;
}

/* A context for `name`, trusting `ca`, with dir/CRL when not NULL. */
static struct ebb_tls_ctx *
ctx_crl(enum ebb_tls_role role, const char *ca, const char *name,
    const char *crl)
{
	struct ebb_tls_conf c = conf(ca, name);
	struct ebb_err err = { "" };
	struct ebb_tls_ctx *t;

	if (crl != NULL)
		snprintf(c.crl, sizeof(c.crl), "%s/%s", dir, crl);
	if (ebb_tls_ctx_new(&t, role, &c, &err) != 0)
		fail_msg("context for %s%s%s: %s", name, crl ? " with " : "",
		    crl ? crl : "", err.msg);
	return t;
}

static struct ebb_tls_ctx *
ctx(enum ebb_tls_role role, const char *ca, const char *name)
{
	return ctx_crl(role, ca, name, NULL);
}

/* A link: two ends of a socketpair, a TLS session on each. */
struct link {
	int		 fd[2];		/* 0: client, 1: server */
	struct ebb_tls	*t[2];
	struct ebb_err	 err[2];
	int		 rc[2];		/* handshake results */
};

static void
link_open(struct link *l, struct ebb_tls_ctx *cli, struct ebb_tls_ctx *srv,
    const char *server_name)
{
	struct ebb_err err = { "" };

	memset(l, 0, sizeof(*l));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, l->fd), 0);
	if (cli != NULL && ebb_tls_new(&l->t[0], cli, l->fd[0], server_name,
	    &err) != 0)
		fail_msg("client session: %s", err.msg);
	if (srv != NULL && ebb_tls_new(&l->t[1], srv, l->fd[1], NULL,
	    &err) != 0)
		fail_msg("server session: %s", err.msg);
}

static void
link_close(struct link *l)
{
	for (int i = 0; i < 2; i++) {
		ebb_tls_free(l->t[i]);
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	}
}

/* Steps both handshakes until neither waits (or nothing moves). */
static void
handshake(struct link *l)
{
	l->rc[0] = l->rc[1] = -EAGAIN;
	for (int i = 0; i < 200 && (l->rc[0] == -EAGAIN ||
	    l->rc[1] == -EAGAIN); i++)
		for (int k = 0; k < 2; k++)
			if (l->rc[k] == -EAGAIN)
				l->rc[k] = ebb_tls_handshake(l->t[k],
				    &l->err[k]);
}

static void
expect_msg(const char *msg, const char *want)
{
	if (strstr(msg, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msg, want);
}

/* After a refused handshake on the server, the client's next read. */
static void
expect_client_told(struct link *l, const char *alert)
{
	struct ebb_err err = { "" };
	char buf[64];
	ssize_t n = -EAGAIN;

	for (int i = 0; i < 100 && n == -EAGAIN; i++)
		n = ebb_tls_read(l->t[0], buf, sizeof(buf), &err);
	if (n != -EPROTO)
		fail_msg("client read after the refusal: %zd, expected "
		    "-EPROTO (%s)", n, err.msg);
	expect_msg(err.msg, alert);
}

/* ---- a good link ------------------------------------------------------------ */

static void
test_good_handshake(void **state)
{
	struct ebb_tls_ctx *cli = ctx(EBB_TLS_CLIENT, "caA", "h1");
	struct ebb_tls_ctx *srv = ctx(EBB_TLS_SERVER, "caA", "ctl");
	struct ebb_tls_peer p;
	struct link l;
	char text[512];

	(void)state;
	link_open(&l, cli, srv, "ctl.test");
	assert_false(ebb_tls_done(l.t[0]));
	handshake(&l);
	if (l.rc[0] != 0 || l.rc[1] != 0)
		fail_msg("client %d (%s), server %d (%s)", l.rc[0],
		    l.err[0].msg, l.rc[1], l.err[1].msg);
	assert_true(ebb_tls_done(l.t[0]));
	assert_true(ebb_tls_done(l.t[1]));

	/* What the server knows of the client. */
	assert_int_equal(ebb_tls_peer_get(l.t[1], &p), 0);
	assert_string_equal(p.cn, "h1");
	assert_int_equal(p.ndns, 1);
	assert_string_equal(p.dns[0], "h1");
	assert_true(ebb_tls_peer_is(&p, "h1"));
	assert_false(ebb_tls_peer_is(&p, "h2"));
	assert_false(ebb_tls_peer_is(&p, "H1"));
	assert_false(ebb_tls_peer_is(&p, "h"));
	assert_false(ebb_tls_peer_is(&p, ""));
	ebb_tls_peer_format(&p, text, sizeof(text));
	assert_string_equal(text, "CN=h1 DNS:h1");

	/* And the client of the server. */
	assert_int_equal(ebb_tls_peer_get(l.t[0], &p), 0);
	assert_string_equal(p.cn, "ctl.test");
	assert_true(ebb_tls_peer_is(&p, "ctl.test"));
	link_close(&l);

	/* The IP address in the server's certificate is a name too. */
	link_open(&l, cli, srv, "127.0.0.1");
	handshake(&l);
	if (l.rc[0] != 0 || l.rc[1] != 0)
		fail_msg("by IP: client %d (%s), server %d (%s)", l.rc[0],
		    l.err[0].msg, l.rc[1], l.err[1].msg);
	link_close(&l);
	ebb_tls_ctx_free(cli);
	ebb_tls_ctx_free(srv);
}

/* Every name of a certificate, and nothing like one. */
static void
test_peer_names(void **state)
{
	static const struct {
		const char	*cert;
		const char	*yes[3];
		const char	*no[3];
		const char	*text;
	} cases[] = {
		{ "h2", { "h2", "h2.example", NULL }, { "h1", "example",
		    "h2.example." }, "CN=h2 DNS:h2,h2.example" },
		{ "h3-cn-only", { "h3", NULL, NULL }, { "h1", "h33", NULL },
		    "CN=h3 (no DNS names)" },
		/* A wildcard is no host's name. */
		{ "wild", { "wild", "*.test", NULL }, { "h1.test", "a.test",
		    NULL }, "CN=wild DNS:*.test" },
	};
	struct ebb_tls_ctx *srv = ctx(EBB_TLS_SERVER, "caA", "ctl");

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(cases); i++) {
		struct ebb_tls_ctx *cli = ctx(EBB_TLS_CLIENT, "caA",
		    cases[i].cert);
		struct ebb_tls_peer p;
		struct link l;
		char text[512];

		link_open(&l, cli, srv, "ctl.test");
		handshake(&l);
		if (l.rc[0] != 0 || l.rc[1] != 0)
			fail_msg("%s: client %d (%s), server %d (%s)",
			    cases[i].cert, l.rc[0], l.err[0].msg, l.rc[1],
			    l.err[1].msg);
		assert_int_equal(ebb_tls_peer_get(l.t[1], &p), 0);
		for (int k = 0; k < 3; k++) {
			if (cases[i].yes[k] && !ebb_tls_peer_is(&p,
			    cases[i].yes[k]))
				fail_msg("%s does not name %s", cases[i].cert,
				    cases[i].yes[k]);
			if (cases[i].no[k] && ebb_tls_peer_is(&p,
			    cases[i].no[k]))
				fail_msg("%s names %s", cases[i].cert,
				    cases[i].no[k]);
		}
		ebb_tls_peer_format(&p, text, sizeof(text));
		assert_string_equal(text, cases[i].text);
		link_close(&l);
		ebb_tls_ctx_free(cli);
	}
	ebb_tls_ctx_free(srv);
}

/* ---- data --------------------------------------------------------------------- */

/* A message whose line is exactly `len` bytes with its newline. */
static json_t *
sized_msg(const char *host, uint64_t seq, size_t len)
{
	json_t *m = ebb_msg_new("report", host, seq, 1.5);
	char *line, *pad;
	size_t base;

	json_object_set_new(m, "pad", json_string(""));
	line = ebb_msg_encode(m, &base);
	assert_non_null(line);
	free(line);
	assert_true(len >= base);
	pad = ebb_malloc(len - base + 1);
	memset(pad, 'x', len - base);
	pad[len - base] = '\0';
	json_object_set_new(m, "pad", json_string(pad));
	free(pad);
	return m;
}

struct end {
	struct ebb_outq		out;
	struct ebb_linebuf	in;
	size_t			got[8];		/* line lengths received */
	int			ngot;
};

/* Moves bytes both ways until each end has `want` lines or nothing moves. */
static void
pump(struct link *l, struct end *e, int want)
{
	for (int round = 0; round < 100000; round++) {
		bool moved = false;

		for (int k = 0; k < 2; k++) {
			struct ebb_err err = { "" };
			size_t before = e[k].out.len;
			const char *line;
			size_t len;
			ssize_t n;
			int rc;

			if (ebb_outq_send(&e[k].out, l->fd[k], l->t[k],
			    &err) != 0)
				fail_msg("end %d send: %s", k, err.msg);
			moved |= e[k].out.len != before;
			/* As the daemons do: every read, then its lines. */
			while ((n = ebb_linebuf_recv(&e[k].in, l->fd[k],
			    l->t[k], &err)) > 0) {
				moved = true;
				while ((rc = ebb_linebuf_next(&e[k].in, &line,
				    &len)) == 1) {
					struct ebb_msg m;

					if (ebb_msg_parse(line, len, &m,
					    &err) != 0)
						fail_msg("end %d: %s", k,
						    err.msg);
					ebb_msg_free(&m);
					assert_true(e[k].ngot < 8);
					e[k].got[e[k].ngot++] = len + 1;
				}
				assert_int_equal(rc, 0);
			}
			if (n != -EAGAIN)
				fail_msg("end %d read: %zd %s", k, n, err.msg);
		}
		if (e[0].ngot >= want && e[1].ngot >= want)
			return;
		if (!moved && round > 10)
			break;
	}
	fail_msg("lines stuck: client has %d, server %d of %d", e[0].ngot,
	    e[1].ngot, want);
}

static void
test_round_trip(void **state)
{
	static const size_t sizes[] = { 100, 4000, EBB_WIRE_MAX, 200,
		EBB_WIRE_MAX };
	struct ebb_tls_ctx *cli = ctx(EBB_TLS_CLIENT, "caA", "h1");
	struct ebb_tls_ctx *srv = ctx(EBB_TLS_SERVER, "caA", "ctl");
	struct end e[2];
	struct link l;
	char buf[16];
	ssize_t n;

	(void)state;
	memset(e, 0, sizeof(e));
	link_open(&l, cli, srv, "ctl.test");
	handshake(&l);
	assert_int_equal(l.rc[0], 0);
	assert_int_equal(l.rc[1], 0);
	for (int k = 0; k < 2; k++) {
		ebb_linebuf_init(&e[k].in);
		for (size_t i = 0; i < EBB_NITEMS(sizes); i++)
			assert_int_equal(ebb_outq_push(&e[k].out,
			    sized_msg("h1", i, sizes[i]), 8 << 20), 0);
	}
	pump(&l, e, (int)EBB_NITEMS(sizes));
	for (int k = 0; k < 2; k++) {
		assert_int_equal(e[k].ngot, EBB_NITEMS(sizes));
		for (size_t i = 0; i < EBB_NITEMS(sizes); i++)
			assert_int_equal(e[k].got[i], sizes[i]);
		assert_int_equal(e[k].out.len, 0);
	}

	/* close_notify from the client: the server reads an end. */
	ebb_tls_free(l.t[0]);
	l.t[0] = NULL;
	n = ebb_tls_read(l.t[1], buf, sizeof(buf), NULL);
	assert_int_equal(n, 0);
	for (int k = 0; k < 2; k++) {
		ebb_outq_free(&e[k].out);
		ebb_linebuf_free(&e[k].in);
	}
	link_close(&l);
	ebb_tls_ctx_free(cli);
	ebb_tls_ctx_free(srv);
}

/* ---- refusals ------------------------------------------------------------------ */

/* A client certificate the server must refuse, and what each side says. */
static void
expect_client_refused(const char *cert, const char *client_ca,
    const char *server_says, const char *client_hears)
{
	struct ebb_tls_ctx *cli = ctx(EBB_TLS_CLIENT, client_ca, cert);
	struct ebb_tls_ctx *srv = ctx(EBB_TLS_SERVER, "caA", "ctl");
	struct link l;

	link_open(&l, cli, srv, "ctl.test");
	handshake(&l);
	if (l.rc[1] != -EPROTO)
		fail_msg("%s: server handshake %d (%s), expected -EPROTO", cert,
		    l.rc[1], l.err[1].msg);
	expect_msg(l.err[1].msg, "TLS handshake: error:");
	expect_msg(l.err[1].msg, server_says);
	/* TLS 1.3: the client may have finished before the refusal. */
	if (l.rc[0] == 0)
		expect_client_told(&l, client_hears);
	else
		expect_msg(l.err[0].msg, client_hears);
	print_message("%s refused: server: %s; client: %s\n", cert,
	    l.err[1].msg, client_hears);
	link_close(&l);
	ebb_tls_ctx_free(cli);
	ebb_tls_ctx_free(srv);
}

static void
test_client_other_ca(void **state)
{
	(void)state;
	/* h1-b trusts A for the server, but its own cert is from B. */
	expect_client_refused("h1-b", "caA", "certificate verify failed",
	    "unknown ca");
}

static void
test_client_expired(void **state)
{
	(void)state;
	expect_client_refused("h1-expired", "caA", "certificate has expired",
	    "certificate expired");
}

/* Whether OpenSSL's error queue (drained) holds `want`. */
static bool
queue_has(const char *want)
{
	unsigned long e;
	bool found = false;

	while ((e = ERR_get_error()) != 0) {
		char s[256];

		ERR_error_string_n(e, s, sizeof(s));
		if (strstr(s, want) != NULL)
			found = true;
	}
	return found;
}

/*
 * A client with no certificate, and one that speaks at most TLS 1.2:
 * plain OpenSSL clients, as ebb's own contexts cannot be made so.
 */
static void
raw_client(int max_version, const char *server_says, const char *client_says)
{
	struct ebb_tls_ctx *srv = ctx(EBB_TLS_SERVER, "caA", "ctl");
	SSL_CTX *rc = SSL_CTX_new(TLS_client_method());
	char ca[PATH_MAX + 16], buf[64];
	struct link l;
	SSL *ssl;
	int r = -1, srv_rc = -EAGAIN;
	bool got = false;

	snprintf(ca, sizeof(ca), "%s/caA.crt", dir);
	assert_non_null(rc);
	assert_int_equal(SSL_CTX_load_verify_locations(rc, ca, NULL), 1);
	SSL_CTX_set_verify(rc, SSL_VERIFY_PEER, NULL);
	if (max_version != 0)
		SSL_CTX_set_max_proto_version(rc, max_version);
	link_open(&l, NULL, srv, NULL);
	assert_non_null(ssl = SSL_new(rc));
	SSL_set_fd(ssl, l.fd[0]);
	SSL_set_connect_state(ssl);
	for (int i = 0; i < 200 && (srv_rc == -EAGAIN || r != 0); i++) {
		if (srv_rc == -EAGAIN)
			srv_rc = ebb_tls_handshake(l.t[1], &l.err[1]);
		if (r != 0) {
			r = SSL_do_handshake(ssl) == 1 ? 0 : -1;
			if (r != 0 && SSL_get_error(ssl, -1) != SSL_ERROR_WANT_READ
			    && SSL_get_error(ssl, -1) != SSL_ERROR_WANT_WRITE)
				break;
		}
	}
	if (srv_rc != -EPROTO)
		fail_msg("server handshake %d (%s), expected -EPROTO", srv_rc,
		    l.err[1].msg);
	expect_msg(l.err[1].msg, server_says);
	/* The client learns it from its handshake or its first read. */
	if (r != 0)
		got = queue_has(client_says);
	for (int i = 0; i < 100 && !got; i++) {
		ERR_clear_error();
		if (SSL_read(ssl, buf, sizeof(buf)) > 0)
			continue;
		got = queue_has(client_says);
	}
	if (!got)
		fail_msg("the client was not told \"%s\"", client_says);
	print_message("refused: server: %s\n", l.err[1].msg);
	SSL_free(ssl);
	SSL_CTX_free(rc);
	link_close(&l);
	ebb_tls_ctx_free(srv);
}

static void
test_client_without_cert(void **state)
{
	(void)state;
	raw_client(0, "peer did not return a certificate",
	    "certificate required");
}

static void
test_client_tls12(void **state)
{
	(void)state;
	raw_client(TLS1_2_VERSION, "unsupported protocol", "protocol version");
}

/* The client refuses a server: another CA, another name, another IP. */
static void
expect_server_refused(const char *cert, const char *server_ca,
    const char *name, const char *verify_says)
{
	struct ebb_tls_ctx *cli = ctx(EBB_TLS_CLIENT, "caA", "h1");
	struct ebb_tls_ctx *srv = ctx(EBB_TLS_SERVER, server_ca, cert);
	struct link l;

	link_open(&l, cli, srv, name);
	handshake(&l);
	if (l.rc[0] != -EPROTO)
		fail_msg("%s as %s: client handshake %d (%s), expected "
		    "-EPROTO", cert, name, l.rc[0], l.err[0].msg);
	expect_msg(l.err[0].msg, "certificate verify failed");
	expect_msg(l.err[0].msg, verify_says);
	assert_int_not_equal(l.rc[1], 0);
	print_message("%s as %s refused: client: %s; server: %s\n", cert, name,
	    l.err[0].msg, l.err[1].msg);
	link_close(&l);
	ebb_tls_ctx_free(cli);
	ebb_tls_ctx_free(srv);
}

static void
test_server_refused(void **state)
{
	(void)state;
	expect_server_refused("ctl-b", "caA", "ctl.test",
	    "unable to get local issuer certificate");
	expect_server_refused("other", "caA", "ctl.test", "mismatch");
	expect_server_refused("ctl", "caA", "ctl.example", "mismatch");
	expect_server_refused("ctl", "caA", "127.0.0.2", "mismatch");
}

/* A plain-TCP peer that sends a JSON hello to a TLS server. */
static void
test_plaintext_peer(void **state)
{
	static const char hello[] = "{\"v\":1,\"type\":\"hello\",\"host\":"
	    "\"h1\",\"seq\":0,\"ts\":1.0}\n";
	struct ebb_tls_ctx *srv = ctx(EBB_TLS_SERVER, "caA", "ctl");
	struct ebb_err err = { "" };
	struct link l;
	int rc;

	(void)state;
	link_open(&l, NULL, srv, NULL);
	assert_int_equal(write(l.fd[0], hello, sizeof(hello) - 1),
	    (ssize_t)sizeof(hello) - 1);
	rc = ebb_tls_handshake(l.t[1], &err);
	assert_int_equal(rc, -EPROTO);
	expect_msg(err.msg, "TLS handshake: error:");
	print_message("plain JSON: %s\n", err.msg);
	link_close(&l);

	/* A peer that goes away mid-handshake. */
	link_open(&l, NULL, srv, NULL);
	close(l.fd[0]);
	l.fd[0] = -1;
	assert_int_equal(ebb_tls_handshake(l.t[1], &err), -ECONNRESET);
	expect_msg(err.msg, "closed");
	link_close(&l);
	ebb_tls_ctx_free(srv);
}

/* ---- configuration and contexts ------------------------------------------------- */

static int
parse_section(const char *text, bool client, struct ebb_tls_conf *c,
    struct ebb_err *err)
{
	struct ebb_jconf x = { "t.json", err };
	json_t *s = ebb_jconf_load(&x, text);
	int rc;

	assert_non_null(s);
	rc = ebb_tls_conf_parse(&x, s, client, c);
	json_decref(s);
	return rc;
}

static void
expect_section_bad(const char *text, bool client, const char *want)
{
	struct ebb_tls_conf c;
	struct ebb_err err = { "" };

	if (parse_section(text, client, &c, &err) != -EINVAL)
		fail_msg("%s: accepted", text);
	expect_msg(err.msg, want);
	assert_string_equal(c.ca, "");
}

static void
test_conf(void **state)
{
	struct ebb_tls_conf c;
	struct ebb_err err = { "" };

	(void)state;
	assert_int_equal(parse_section("{\"ca\": \"/a\", \"cert\": \"/b\", "
	    "\"key\": \"/c\"}", false, &c, &err), 0);
	assert_string_equal(c.ca, "/a");
	assert_string_equal(c.cert, "/b");
	assert_string_equal(c.key, "/c");
	assert_string_equal(c.server_name, "");
	assert_int_equal(parse_section("{\"ca\": \"/a\", \"cert\": \"/b\", "
	    "\"key\": \"/c\", \"server_name\": \"ctl\"}", true, &c, &err), 0);
	assert_string_equal(c.server_name, "ctl");
	assert_string_equal(c.crl, "");
	assert_int_equal(parse_section("{\"ca\": \"/a\", \"cert\": \"/b\", "
	    "\"key\": \"/c\", \"crl\": \"/d\"}", false, &c, &err), 0);
	assert_string_equal(c.crl, "/d");

	expect_section_bad("{\"ca\": \"/a\", \"cert\": \"/b\"}", false,
	    "t.json: tls: needs \"ca\", \"cert\" and \"key\"");
	expect_section_bad("{}", true, "t.json: tls: needs");
	expect_section_bad("{\"ca\": \"/a\", \"cert\": \"/b\", \"key\": \"/c\","
	    " \"server_name\": \"x\"}", false,
	    "t.json: tls: unknown key \"server_name\"; allowed: ca, cert, key");
	expect_section_bad("{\"ca\": \"\", \"cert\": \"/b\", \"key\": \"/c\"}",
	    true, "t.json: tls.ca: must not be empty");
	expect_section_bad("{\"ca\": \"/a\", \"cert\": 1, \"key\": \"/c\"}",
	    true, "t.json: tls.cert: found a number");
	expect_section_bad("{\"ca\": \"/a\", \"cert\": \"/b\", \"key\": \"/c\","
	    " \"server_name\": \"\"}", true, "tls.server_name: must not be "
	    "empty");

	/* TLS, or plaintext by name, never neither, never both. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(ebb_tls_conf_require(&c, false, "x.json", &err),
	    -EINVAL);
	expect_msg(err.msg, "x.json: no \"tls\" section");
	expect_msg(err.msg, "\"insecure_plaintext\": true");
	expect_msg(err.msg, "scripts/ebb-ca");
	assert_int_equal(ebb_tls_conf_require(&c, true, "x.json", &err), 0);
	snprintf(c.ca, sizeof(c.ca), "/a");
	assert_int_equal(ebb_tls_conf_require(&c, false, "x.json", &err), 0);
	assert_int_equal(ebb_tls_conf_require(&c, true, "x.json", &err),
	    -EINVAL);
	expect_msg(err.msg, "exclude each other");
}

static void
expect_ctx_bad(struct ebb_tls_conf *c, const char *want1, const char *want2)
{
	struct ebb_err err = { "" };
	struct ebb_tls_ctx *t = (struct ebb_tls_ctx *)1;

	if (ebb_tls_ctx_new(&t, EBB_TLS_SERVER, c, &err) == 0)
		fail_msg("a context was made from %s, %s, %s", c->ca, c->cert,
		    c->key);
	assert_null(t);
	expect_msg(err.msg, want1);
	expect_msg(err.msg, want2);
	print_message("refused: %s\n", err.msg);
}

static void
test_ctx_errors(void **state)
{
	struct ebb_tls_conf c;
	char path[PATH_MAX + 32];
	FILE *f;

	(void)state;
	c = conf("nosuch-ca", "ctl");
	expect_ctx_bad(&c, "nosuch-ca.crt", "error:");
	c = conf("caA", "nosuch");
	expect_ctx_bad(&c, "nosuch.crt", "error:");
	/* ctl's certificate with h1's key. */
	c = conf("caA", "ctl");
	snprintf(c.key, sizeof(c.key), "%s/h1.key", dir);
	expect_ctx_bad(&c, "h1.key: error:", "key values mismatch");
	/* Garbage for a certificate. */
	snprintf(path, sizeof(path), "%s/garbage.crt", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
	    "-----END CERTIFICATE-----\n", f);
	fclose(f);
	c = conf("caA", "garbage");
	expect_ctx_bad(&c, "garbage.crt", "error:");
	/* A client needs a name to check. */
	{
		struct ebb_tls_ctx *cli = ctx(EBB_TLS_CLIENT, "caA", "h1");
		struct ebb_err err = { "" };
		struct ebb_tls *t;

		assert_int_equal(ebb_tls_new(&t, cli, 0, "", &err), -EINVAL);
		assert_null(t);
		expect_msg(err.msg, "no name");
		ebb_tls_ctx_free(cli);
	}
	ebb_tls_free(NULL);
	ebb_tls_ctx_free(NULL);
}

/* ---- revocation ---------------------------------------------------------------- */

static X509 *
load_cert(const char *name)
{
	char path[PATH_MAX + 64];
	X509 *x;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	return x;
}

/*
 * Writes dir/FILE: a CRL from CA `ca` (dir/CA.crt, .key) that revokes
 * the certificates dir/NAME.crt of `revoke` (NULL-terminated), issued
 * `last` seconds from now and due again `next` seconds from now.  It is
 * written beside and renamed over, as an operator's tools would.
 */
static void
write_crl(const char *file, const char *ca, const char *const *revoke,
    long last, long next)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	X509 *cax = load_cert(ca);
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	EVP_PKEY *key;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.key", dir, ca);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(cax)), 1);
	X509_gmtime_adj(t, last);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	X509_gmtime_adj(t, next);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	for (int i = 0; revoke != NULL && revoke[i] != NULL; i++) {
		X509 *x = load_cert(revoke[i]);
		X509_REVOKED *r = X509_REVOKED_new();

		X509_gmtime_adj(t, -60);
		X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(x));
		X509_REVOKED_set_revocationDate(r, t);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		X509_free(x);
	}
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	assert_non_null(f = fopen(tmp, "w"));
	assert_int_equal(PEM_write_X509_CRL(f, crl), 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
	ASN1_TIME_free(t);
	EVP_PKEY_free(key);
	X509_CRL_free(crl);
	X509_free(cax);
}

static void
write_text(const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The contexts look at the CRL file at most once a second. */
static void
after_crl_check(void)
{
	usleep(1100 * 1000);
}

/* A server read on a link whose peer wrote nothing: what it says. */
static ssize_t
server_read(struct link *l)
{
	char buf[16];

	return ebb_tls_read(l->t[1], buf, sizeof(buf), &l->err[1]);
}

static void
expect_good(struct link *l)
{
	handshake(l);
	if (l->rc[0] != 0 || l->rc[1] != 0)
		fail_msg("handshake: client %d (%s), server %d (%s)", l->rc[0],
		    l->err[0].msg, l->rc[1], l->err[1].msg);
	assert_int_equal(server_read(l), -EAGAIN);
}

static void
test_crl_revoke(void **state)
{
	static const char *const h2[] = { "h2", NULL };
	static const char *const ctl[] = { "ctl", NULL };
	struct ebb_tls_ctx *srv, *cli1, *cli2, *agent;
	struct link l1, l2, l3;

	(void)state;
	write_crl("fleet.crl", "caA", NULL, -60, 30 * DAY);
	srv = ctx_crl(EBB_TLS_SERVER, "caA", "ctl", "fleet.crl");
	cli1 = ctx(EBB_TLS_CLIENT, "caA", "h1");
	cli2 = ctx(EBB_TLS_CLIENT, "caA", "h2");

	/* Nothing revoked yet: h1 and h2 are in. */
	link_open(&l1, cli1, srv, "ctl.test");
	expect_good(&l1);
	link_open(&l2, cli2, srv, "ctl.test");
	expect_good(&l2);

	/* h2 revoked: its live session ends at its next read, h1's not. */
	write_crl("fleet.crl", "caA", h2, -60, 30 * DAY);
	after_crl_check();
	assert_int_equal(server_read(&l2), -EACCES);
	expect_msg(l2.err[1].msg, "certificate (/CN=h2) has been revoked");
	expect_msg(l2.err[1].msg, "fleet.crl");
	assert_int_equal(server_read(&l1), -EAGAIN);
	link_close(&l2);

	/* And a new handshake by h2 is refused, told why. */
	link_open(&l3, cli2, srv, "ctl.test");
	handshake(&l3);
	assert_int_equal(l3.rc[1], -EPROTO);
	expect_msg(l3.err[1].msg, "certificate revoked");
	if (l3.rc[0] == 0)
		expect_client_told(&l3, "certificate revoked");
	link_close(&l3);

	/*
	 * A torn file does not lift the revocation: the lists in force
	 * stay (warned of), h2 stays out, h1 in.
	 */
	write_text("fleet.crl", "-----BEGIN X509 CRL-----\nMIIB\n");
	after_crl_check();
	assert_int_equal(server_read(&l1), -EAGAIN);
	link_open(&l3, cli2, srv, "ctl.test");
	handshake(&l3);
	assert_int_equal(l3.rc[1], -EPROTO);
	expect_msg(l3.err[1].msg, "certificate revoked");
	link_close(&l3);
	link_close(&l1);

	/* An agent with a list that revokes the controller refuses it. */
	write_crl("ctl.crl", "caA", ctl, -60, 30 * DAY);
	agent = ctx_crl(EBB_TLS_CLIENT, "caA", "h1", "ctl.crl");
	link_open(&l3, agent, srv, "ctl.test");
	handshake(&l3);
	assert_int_equal(l3.rc[0], -EPROTO);
	expect_msg(l3.err[0].msg, "certificate revoked");
	link_close(&l3);

	ebb_tls_ctx_free(agent);
	ebb_tls_ctx_free(cli2);
	ebb_tls_ctx_free(cli1);
	ebb_tls_ctx_free(srv);
}

static void
expect_crl_bad(const char *ca, const char *crl, const char *want1,
    const char *want2)
{
	struct ebb_tls_conf c = conf(ca, "ctl");

	snprintf(c.crl, sizeof(c.crl), "%s/%s", dir, crl);
	expect_ctx_bad(&c, want1, want2);
}

static void
test_crl_errors(void **state)
{
	char a[PATH_MAX + 64], b[PATH_MAX + 64], ab[PATH_MAX + 64];
	char cmd[3 * PATH_MAX + 256];

	(void)state;
	expect_crl_bad("caA", "nosuch.crl", "nosuch.crl",
	    "No such file or directory");
	write_text("empty.crl", "");
	expect_crl_bad("caA", "empty.crl", "empty.crl: no CRL in it", "");
	write_text("torn.crl", "-----BEGIN X509 CRL-----\nMIIB\n");
	expect_crl_bad("caA", "torn.crl", "torn.crl: error:", "");
	write_crl("b.crl", "caB", NULL, -60, 30 * DAY);
	expect_crl_bad("caA", "b.crl", "the list from \"/CN=ebb test CA B\"",
	    "is not signed by a CA of");
	write_crl("old.crl", "caA", NULL, -2 * DAY, -DAY);
	expect_crl_bad("caA", "old.crl", "old.crl: the list from", "has "
	    "expired");
	/* Two CAs trusted, a list from one: the other's would all fail. */
	snprintf(a, sizeof(a), "%s/caA.crt", dir);
	snprintf(b, sizeof(b), "%s/caB.crt", dir);
	snprintf(ab, sizeof(ab), "%s/caAB.crt", dir);
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s' > '%s'", a, b, ab);
	assert_int_equal(system(cmd), 0);
	write_crl("a.crl", "caA", NULL, -60, 30 * DAY);
	expect_crl_bad("caAB", "a.crl", "a.crl: no list from \"/CN=ebb test "
	    "CA B\"", "each CA needs one");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_handshake),
		cmocka_unit_test(test_peer_names),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_client_other_ca),
		cmocka_unit_test(test_client_expired),
		cmocka_unit_test(test_client_without_cert),
		cmocka_unit_test(test_client_tls12),
		cmocka_unit_test(test_server_refused),
		cmocka_unit_test(test_plaintext_peer),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_crl_revoke),
		cmocka_unit_test(test_crl_errors),
	};

	return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
