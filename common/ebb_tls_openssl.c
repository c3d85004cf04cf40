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
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ebb_log.h"
#include "ebb_tls.h"
#include "ebb_tls_ops.h"

/* How often a session's call looks whether the CRL file has changed. */
#define CRL_CHECK_MS	1000

struct ebb_tls_ctx {
	SSL_CTX			*ssl;
	enum ebb_tls_role	 role;
	char			 ca[PATH_MAX];
	char			 crl[PATH_MAX];	/* "" = no revocation lists */
	STACK_OF(X509_CRL)	*crls;		/* the lists in force */
	struct stat		 crl_st;	/* the file last read (or
						   refused): changed when
						   this differs */
	uint64_t		 gen;		/* +1 at each new set of lists */
	int64_t			 crl_checked;	/* ms, monotonic */
};

struct ebb_tls {
	SSL			*ssl;
	struct ebb_tls_ctx	*ctx;
	uint64_t		 gen;		/* the lists the peer was last
						   checked against */
	bool			 want_write;	/* the last call waits for
						   POLLOUT */
	bool			 broken;	/* a fatal error: send no
						   close_notify */
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

/* ---- trust: the CA and the revocation lists ---------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
name_text(const X509_NAME *n, char *buf, size_t size)
{
	if (X509_NAME_oneline(n, buf, (int)size) == NULL)
		snprintf(buf, size, "?");
}

/*
 * Reads every CRL of the open file f (PEM).  A file that holds none, or
 * ends in a torn or foreign block, is refused: a list half written must
 * not pass for a short one.
 */
static int
crl_read(FILE *f, const char *path, STACK_OF(X509_CRL) **out,
    struct ebb_err *err)
{
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
	X509_CRL *crl;
	unsigned long e;

	if (sk == NULL) {
		ebb_err_set(err, "%s: out of memory", path);
		return -ENOMEM;
	}
	ERR_clear_error();
	while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL)) != NULL)
		sk_X509_CRL_push(sk, crl);
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		ERR_clear_error();	/* the end of the file */
	if (ERR_peek_error() != 0 || sk_X509_CRL_num(sk) == 0) {
		if (ERR_peek_error() != 0)
			tls_fail(err, NULL, path);
		else
			ebb_err_set(err, "%s: no CRL in it (PEM \"X509 "
			    "CRL\" blocks; scripts/ebb-ca crl makes one)",
			    path);
		sk_X509_CRL_pop_free(sk, X509_CRL_free);
		return -EINVAL;
	}
	*out = sk;
	return 0;
}

/*
 * Holds the lists of sk against the CAs of store: each list signed by
 * one of them and current, each CA with a list (OpenSSL would otherwise
 * refuse that CA's certificates as "unable to get certificate CRL").
 */
static int
crl_match(X509_STORE *store, STACK_OF(X509_CRL) *sk, const char *path,
    const char *ca, struct ebb_err *err)
{
	STACK_OF(X509) *cas = X509_STORE_get1_all_certs(store);
	char name[256];
	int rc = 0, i, j;

	for (i = 0; rc == 0 && i < sk_X509_CRL_num(sk); i++) {
		X509_CRL *crl = sk_X509_CRL_value(sk, i);
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		bool signer = false;

		for (j = 0; !signer && j < sk_X509_num(cas); j++) {
			X509 *x = sk_X509_value(cas, j);

			signer = X509_NAME_cmp(X509_CRL_get_issuer(crl),
			    X509_get_subject_name(x)) == 0 &&
			    X509_CRL_verify(crl, X509_get0_pubkey(x)) == 1;
		}
		name_text(X509_CRL_get_issuer(crl), name, sizeof(name));
		if (!signer) {
			ebb_err_set(err, "%s: the list from \"%s\" is not "
			    "signed by a CA of %s", path, name, ca);
			rc = -EINVAL;
		} else if (next != NULL && X509_cmp_current_time(next) < 0) {
			ebb_err_set(err, "%s: the list from \"%s\" has "
			    "expired (next update was due); every certificate "
			    "of that CA would be refused: write a fresh one "
			    "(scripts/ebb-ca crl)", path, name);
			rc = -EINVAL;
		}
	}
	for (j = 0; rc == 0 && j < sk_X509_num(cas); j++) {
		X509 *x = sk_X509_value(cas, j);
		bool listed = false;

		for (i = 0; !listed && i < sk_X509_CRL_num(sk); i++)
			listed = X509_NAME_cmp(X509_CRL_get_issuer(
			    sk_X509_CRL_value(sk, i)),
			    X509_get_subject_name(x)) == 0;
		if (!listed) {
			name_text(X509_get_subject_name(x), name,
			    sizeof(name));
			ebb_err_set(err, "%s: no list from \"%s\" (a CA of "
			    "%s): with tls.crl, each CA needs one", path,
			    name, ca);
			rc = -EINVAL;
		}
	}
	sk_X509_pop_free(cas, X509_free);
	ERR_clear_error();
	return rc;
}

/*
 * A trust store with the CA file and, when configured, the revocation
 * lists, checked for the peer's certificate (its CA is the root: the
 * chain is one link).  On success *storep, *crlsp (NULL without a CRL
 * file) and *st (the CRL file's) are the caller's.
 */
static int
trust_load(const struct ebb_tls_ctx *t, X509_STORE **storep,
    STACK_OF(X509_CRL) **crlsp, struct stat *st, struct ebb_err *err)
{
	X509_STORE *store;
	STACK_OF(X509_CRL) *sk = NULL;
	FILE *f;
	int rc, i;

	*storep = NULL;
	*crlsp = NULL;
	ERR_clear_error();
	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(store, t->ca) != 1) {
		tls_fail(err, NULL, t->ca);
		X509_STORE_free(store);
		return -EINVAL;
	}
	if (t->crl[0] == '\0') {
		*storep = store;
		return 0;
	}
	/* One open file: what was read is what fstat() describes. */
	if ((f = fopen(t->crl, "r")) == NULL || fstat(fileno(f), st) != 0) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", t->crl, strerror(errno));
		if (f != NULL)
			fclose(f);
		X509_STORE_free(store);
		return rc;
	}
	rc = crl_read(f, t->crl, &sk, err);
	fclose(f);
	if (rc == 0)
		rc = crl_match(store, sk, t->crl, t->ca, err);
	for (i = 0; rc == 0 && i < sk_X509_CRL_num(sk); i++)
		if (X509_STORE_add_crl(store, sk_X509_CRL_value(sk, i)) != 1) {
			tls_fail(err, NULL, t->crl);
			rc = -EINVAL;
		}
	if (rc != 0) {
		sk_X509_CRL_pop_free(sk, X509_CRL_free);
		X509_STORE_free(store);
		return rc;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	*storep = store;
	*crlsp = sk;
	return 0;
}

static int
revoked_count(STACK_OF(X509_CRL) *sk)
{
	int n = 0;

	for (int i = 0; i < sk_X509_CRL_num(sk); i++)
		n += sk_X509_REVOKED_num(X509_CRL_get_REVOKED(
		    sk_X509_CRL_value(sk, i)));
	return n;
}

/*
 * Reads the CRL file again if it changed since it was last read, at most
 * once every CRL_CHECK_MS.  New lists replace the store the context's
 * handshakes verify with; a file that fails is warned of once and the
 * lists in force stay.
 */
static void
crl_refresh(struct ebb_tls_ctx *t)
{
	X509_STORE *store;
	STACK_OF(X509_CRL) *sk;
	struct ebb_err err;
	struct stat st;
	int64_t now;

	if (t->crl[0] == '\0' ||
	    (now = now_ms()) - t->crl_checked < CRL_CHECK_MS)
		return;
	t->crl_checked = now;
	if (stat(t->crl, &st) != 0) {
		if (t->crl_st.st_ino != 0)
			ebb_warn("tls: %s: %s; the revocation lists read "
			    "before stay in force", t->crl, strerror(errno));
		memset(&t->crl_st, 0, sizeof(t->crl_st));
		return;
	}
	if (same_file(&st, &t->crl_st))
		return;
	if (trust_load(t, &store, &sk, &st, &err) != 0) {
		ebb_warn("tls: %s changed but cannot be used, the revocation "
		    "lists read before stay in force: %s", t->crl, err.msg);
		t->crl_st = st;		/* not again until it changes */
		return;
	}
	SSL_CTX_set_cert_store(t->ssl, store);	/* frees the old one */
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	t->crls = sk;
	t->crl_st = st;
	t->gen++;
	ebb_info("tls: %s read again: %d revoked certificate(s)", t->crl,
	    revoked_count(sk));
}

/*
 * A session whose peer was verified against older lists is held to the
 * ones in force: a certificate revoked since ends it (-EACCES).
 */
static int
session_check(struct ebb_tls *t, struct ebb_err *err)
{
	X509_REVOKED *r;
	X509 *x;
	char name[256];

	crl_refresh(t->ctx);
	if (t->gen == t->ctx->gen || !SSL_is_init_finished(t->ssl))
		return 0;
	t->gen = t->ctx->gen;
	if ((x = SSL_get0_peer_certificate(t->ssl)) == NULL)
		return 0;
	for (int i = 0; i < sk_X509_CRL_num(t->ctx->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(t->ctx->crls, i);

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_issuer_name(x)) != 0 ||
		    X509_CRL_get0_by_cert(crl, &r, x) != 1)
			continue;
		t->broken = true;
		name_text(X509_get_subject_name(x), name, sizeof(name));
		ebb_err_set(err, "TLS: the peer's certificate (%s) has been "
		    "revoked (%s)", name, t->ctx->crl);
		return -EACCES;
	}
	ERR_clear_error();
	return 0;
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
	struct ebb_tls_ctx *t = ebb_calloc(1, sizeof(*t));
	X509_STORE *store;
	struct stat st;
	SSL_CTX *ssl;

	*out = NULL;
	snprintf(t->ca, sizeof(t->ca), "%s", c->ca);
	snprintf(t->crl, sizeof(t->crl), "%s", c->crl);
	t->role = role;
	ERR_clear_error();
	ssl = SSL_CTX_new(role == EBB_TLS_SERVER ? TLS_server_method() :
	    TLS_client_method());
	if (ssl == NULL) {
		tls_fail(err, NULL, "TLS context");
		free(t);
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
	memset(&st, 0, sizeof(st));
	if (trust_load(t, &store, &t->crls, &st, err) != 0)
		goto fail;
	SSL_CTX_set_cert_store(ssl, store);
	t->crl_st = st;
	t->crl_checked = now_ms();
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

	t->ssl = ssl;
	*out = t;
	return 0;
fail:
	SSL_CTX_free(ssl);
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	free(t);
	return -EINVAL;
}

static void
ossl_ctx_free(struct ebb_tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ssl);
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
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
	crl_refresh(ctx);
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
	t->ctx = ctx;
	t->gen = ctx->gen;
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

	if ((r = session_check(t, err)) != 0)
		return r;
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

	if ((rc = session_check(t, err)) != 0)
		return rc;
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
