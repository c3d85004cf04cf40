/*
 * ebb_tls_openssl.c - the module ebb-tls.so: TLS 1.3 with mutual
 * certificates over a polled socket, with OpenSSL.
 *
 * OpenSSL does the protocol; this file pins the choices (1.3 only, one CA,
 * a client certificate required, names checked exactly) and turns
 * OpenSSL's SSL_ERROR_* into the -errno convention the daemons' buffers
 * already speak, with OpenSSL's own reason text in the message.  It is a
 * module (ebb_tls.c loads it with the first context) because libssl and
 * libcrypto are 1.7 MB of resident memory an agent on plain TCP, or on
 * the Kafka bus with librdkafka's own TLS, must not pay.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ebb_log.h"
#include "ebb_tls.h"
#include "ebb_tls_ops.h"

struct ebb_tls_ctx {
	SSL_CTX			*ssl;
	enum ebb_tls_role	 role;
};

struct ebb_tls {
	SSL	*ssl;
	bool	 want_write;	/* the last call waits for POLLOUT */
	bool	 broken;	/* a fatal error: send no close_notify */
};

/* ---- errors --------------------------------------------------------------- */

/*
 * Fills err with "what: REASON" from OpenSSL's error queue (its first
 * entry, the cause; the rest are drained) and, when a certificate was
 * refused, the verifier's reason.
 */
static void
tls_fail(struct ebb_err *err, const SSL *ssl, const char *what)
{
	char reason[256] = "", verify[160] = "";
	unsigned long e;
	long vr;

	while ((e = ERR_get_error()) != 0)
		if (reason[0] == '\0')
			ERR_error_string_n(e, reason, sizeof(reason));
	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK)
		snprintf(verify, sizeof(verify), " (certificate: %s)",
		    X509_verify_cert_error_string(vr));
	ebb_err_set(err, "%s: %s%s", what, reason[0] ? reason :
	    "unknown TLS error", verify);
}

/*
 * Maps an OpenSSL I/O result r (<= 0) to the convention of ebb_tls.h.
 * errno is taken before anything else can change it.
 */
static ssize_t
tls_result(struct ebb_tls *t, int r, const char *what, struct ebb_err *err)
{
	int saved = errno;

	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		t->want_write = false;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		t->broken = true;
		ERR_clear_error();
		if (saved == 0)
			return 0;	/* EOF without close_notify */
		ebb_err_set(err, "%s: %s", what, strerror(saved));
		return -saved;
	default:
		t->broken = true;
		tls_fail(err, t->ssl, what);
		return -EPROTO;
	}
}

/* ---- contexts --------------------------------------------------------------- */

/* A private key others can read is worth a warning, not a refusal. */
static void
check_key_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		ebb_warn("%s: the private key is readable by group or others "
		    "(mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
}

static int
ossl_ctx_new(struct ebb_tls_ctx **out, enum ebb_tls_role role,
    const struct ebb_tls_conf *c, struct ebb_err *err)
{
	struct ebb_tls_ctx *t;
	SSL_CTX *ssl;

	*out = NULL;
	ERR_clear_error();
	ssl = SSL_CTX_new(role == EBB_TLS_SERVER ? TLS_server_method() :
	    TLS_client_method());
	if (ssl == NULL) {
		tls_fail(err, NULL, "TLS context");
		return -ENOMEM;
	}
	/*
	 * 1.3 only: no legacy suites or renegotiation to reason about, and
	 * the certificates travel encrypted.
	 */
	if (SSL_CTX_set_min_proto_version(ssl, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ssl, TLS1_3_VERSION) != 1) {
		tls_fail(err, NULL, "TLS 1.3");
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ssl, c->ca, NULL) != 1) {
		tls_fail(err, NULL, c->ca);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ssl, c->cert) != 1) {
		tls_fail(err, NULL, c->cert);
		goto fail;
	}
	/* This also refuses a key that is not the certificate's. */
	if (SSL_CTX_use_PrivateKey_file(ssl, c->key, SSL_FILETYPE_PEM) != 1) {
		tls_fail(err, NULL, c->key);
		goto fail;
	}
	check_key_mode(c->key);
	if (role == EBB_TLS_SERVER) {
		STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(c->ca);

		SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		if (cas != NULL)
			SSL_CTX_set_client_CA_list(ssl, cas);
		/* No resumption: every connection shows its certificate. */
		SSL_CTX_set_num_tickets(ssl, 0);
		SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
	} else {
		SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	/*
	 * The output queue hands over what it holds and moves the rest
	 * down after a partial write: OpenSSL must accept both.  An idle
	 * agent connection need not keep 34 KiB of record buffers.  A peer
	 * that vanishes without close_notify is an EOF like TCP's: lines
	 * are framed, a cut one is never acted on.
	 */
	SSL_CTX_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);

	t = ebb_calloc(1, sizeof(*t));
	t->ssl = ssl;
	t->role = role;
	*out = t;
	return 0;
fail:
	SSL_CTX_free(ssl);
	return -EINVAL;
}

static void
ossl_ctx_free(struct ebb_tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ssl);
	free(t);
}

/* ---- sessions ------------------------------------------------------------- */

static bool
is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

static int
ossl_new(struct ebb_tls **out, struct ebb_tls_ctx *ctx, int fd,
    const char *peer_name, struct ebb_err *err)
{
	struct ebb_tls *t;
	SSL *ssl;

	*out = NULL;
	ERR_clear_error();
	if ((ssl = SSL_new(ctx->ssl)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		tls_fail(err, NULL, "TLS session");
		SSL_free(ssl);
		return -ENOMEM;
	}
	if (ctx->role == EBB_TLS_CLIENT) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		int ok;

		if (peer_name == NULL || peer_name[0] == '\0') {
			ebb_err_set(err, "TLS: no name to check the server's "
			    "certificate against");
			SSL_free(ssl);
			return -EINVAL;
		}
		/*
		 * The chain is checked against the CA during the
		 * handshake; this makes the name part of that check, so a
		 * certificate for another name fails it.
		 */
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip(peer_name))
			ok = X509_VERIFY_PARAM_set1_ip_asc(vp, peer_name);
		else
			/* SSL_set_tlsext_host_name() without the macro's
			 * cast, which drops const (-Wcast-qual under clang);
			 * OpenSSL copies the name. */
			ok = SSL_set1_host(ssl, peer_name) == 1 &&
			    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
			    TLSEXT_NAMETYPE_host_name,
			    (void *)(uintptr_t)peer_name) == 1;
		if (ok != 1) {
			tls_fail(err, NULL, peer_name);
			SSL_free(ssl);
			return -EINVAL;
		}
		SSL_set_connect_state(ssl);
	} else {
		SSL_set_accept_state(ssl);
	}
	t = ebb_calloc(1, sizeof(*t));
	t->ssl = ssl;
	*out = t;
	return 0;
}

static void
ossl_free(struct ebb_tls *t)
{
	if (t == NULL)
		return;
	/*
	 * One try at close_notify, not waiting for the peer's: the socket
	 * is closed next, and a half-sent alert harms no one.  After a
	 * fatal error OpenSSL must not be asked for more.
	 */
	if (!t->broken && SSL_is_init_finished(t->ssl))
		SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
}

static int
ossl_handshake(struct ebb_tls *t, struct ebb_err *err)
{
	ssize_t r;
	int rc;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_do_handshake(t->ssl)) == 1) {
		t->want_write = false;
		return 0;
	}
	r = tls_result(t, rc, "TLS handshake", err);
	if (r == 0) {
		t->broken = true;
		ebb_err_set(err, "TLS handshake: the peer closed the "
		    "connection");
		return -ECONNRESET;
	}
	return (int)r;
}

static bool
ossl_done(const struct ebb_tls *t)
{
	return SSL_is_init_finished(t->ssl);
}

static bool
ossl_want_write(const struct ebb_tls *t)
{
	return t->want_write;
}

static ssize_t
ossl_read(struct ebb_tls *t, void *buf, size_t len, struct ebb_err *err)
{
	size_t n = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(t->ssl, buf, len, &n)) == 1) {
		t->want_write = false;
		return (ssize_t)n;
	}
	return tls_result(t, r, "TLS read", err);
}

/*
 * A peer that hung up may have said why first: in TLS 1.3 a server judges
 * the client's certificate after the client has finished its handshake,
 * so the refusal (an alert) can sit unread in the socket while the
 * client's next write meets the reset.  If it is there, it is the reason.
 */
static void
peer_reason(struct ebb_tls *t, struct ebb_err *err)
{
	unsigned char b[256];
	size_t n;

	ERR_clear_error();
	if (SSL_read_ex(t->ssl, b, sizeof(b), &n) != 1 &&
	    SSL_get_error(t->ssl, 0) == SSL_ERROR_SSL)
		tls_fail(err, t->ssl, "TLS: the peer hung up");
	ERR_clear_error();
}

static ssize_t
ossl_write(struct ebb_tls *t, const void *buf, size_t len,
    struct ebb_err *err)
{
	size_t n = 0;
	ssize_t r;
	int rc;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_write_ex(t->ssl, buf, len, &n)) == 1) {
		t->want_write = false;
		return (ssize_t)n;
	}
	r = tls_result(t, rc, "TLS write", err);
	if (r == 0) {
		/* A write cannot meet an end of stream. */
		ebb_err_set(err, "TLS write: the peer closed the connection");
		r = -EPIPE;
	}
	if (r == -EPIPE || r == -ECONNRESET)
		peer_reason(t, err);
	return r;
}

/* ---- the peer's names --------------------------------------------------------- */

/* Copies an ASN.1 string if it is a usable name: no NUL, fits. */
static bool
name_copy(char *dst, size_t size, const unsigned char *s, int len)
{
	if (len <= 0 || (size_t)len >= size || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

static int
ossl_peer_get(const struct ebb_tls *t, struct ebb_tls_peer *p)
{
	X509 *x = SSL_get0_peer_certificate(t->ssl);
	GENERAL_NAMES *gens;
	int i;

	memset(p, 0, sizeof(*p));
	if (x == NULL)
		return -ENOENT;
	i = X509_NAME_get_index_by_NID(X509_get_subject_name(x),
	    NID_commonName, -1);
	if (i >= 0) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(
		    X509_get_subject_name(x), i);
		unsigned char *u = NULL;
		int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));

		if (n > 0 && !name_copy(p->cn, sizeof(p->cn), u, n))
			p->cn[0] = '\0';
		OPENSSL_free(u);
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != GEN_DNS || p->ndns == EBB_TLS_NAMES_MAX)
			continue;
		if (name_copy(p->dns[p->ndns], sizeof(p->dns[0]),
		    ASN1_STRING_get0_data(g->d.dNSName),
		    ASN1_STRING_length(g->d.dNSName)))
			p->ndns++;
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return 0;
}

/* What ebb_tls.c looks up in this module. */
const struct ebb_tls_ops ebb_tls_openssl = {
	.ctx_new = ossl_ctx_new,
	.ctx_free = ossl_ctx_free,
	.new = ossl_new,
	.free = ossl_free,
	.handshake = ossl_handshake,
	.done = ossl_done,
	.want_write = ossl_want_write,
	.read = ossl_read,
	.write = ossl_write,
	.peer_get = ossl_peer_get,
};
