/*
 * ebb_tls.c - the TLS section of the configurations, the rules on
 * certificate names, and the calls of ebb_tls.h, which go to the module
 * ebb-tls.so (ebb_tls_openssl.c), loaded with the first context: a daemon
 * that never makes one (plain TCP, or the Kafka bus) never maps OpenSSL.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ebb_log.h"
#include "ebb_module.h"
#include "ebb_tls.h"
#include "ebb_tls_ops.h"

#define TLS_MODULE	"ebb-tls.so"
#define TLS_SYMBOL	"ebb_tls_openssl"

/* Set by the first context made; every session comes from a context. */
static const struct ebb_tls_ops *ops;

/* ---- configuration ------------------------------------------------------ */

int
ebb_tls_conf_parse(struct ebb_jconf *x, json_t *s, bool client,
    struct ebb_tls_conf *out)
{
	static const char *const ckeys[] = { "ca", "cert", "key", "crl",
		"server_name", NULL };
	static const char *const skeys[] = { "ca", "cert", "key", "crl",
		NULL };
	struct ebb_tls_conf c;
	int rc;

	memset(&c, 0, sizeof(c));
	if ((rc = ebb_jconf_keys(x, "tls", s, client ? ckeys : skeys)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "ca", "tls.ca", c.ca,
	    sizeof(c.ca), false)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "cert", "tls.cert", c.cert,
	    sizeof(c.cert), false)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "key", "tls.key", c.key,
	    sizeof(c.key), false)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "crl", "tls.crl", c.crl,
	    sizeof(c.crl), false)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "server_name", "tls.server_name",
	    c.server_name, sizeof(c.server_name), false)) != 0)
		return rc;
	if (!c.ca[0] || !c.cert[0] || !c.key[0])
		return ebb_jconf_fail(x, "tls", "needs \"ca\", \"cert\" and "
		    "\"key\" (PEM files; scripts/ebb-ca makes them)");
	*out = c;
	return 0;
}

int
ebb_tls_conf_require(const struct ebb_tls_conf *c, bool insecure,
    const char *file, struct ebb_err *err)
{
	if (c->ca[0] && insecure) {
		ebb_err_set(err, "%s: \"tls\" and \"insecure_plaintext\": true "
		    "exclude each other; remove one", file);
		return -EINVAL;
	}
	if (!c->ca[0] && !insecure) {
		ebb_err_set(err, "%s: no \"tls\" section: agent and controller "
		    "talk over TLS with certificates from the fleet's CA; add "
		    "\"tls\": {\"ca\": \"/etc/ebb/ca.crt\", \"cert\": "
		    "\"/etc/ebb/NAME.crt\", \"key\": \"/etc/ebb/NAME.key\"} "
		    "(scripts/ebb-ca makes them), or set \"insecure_plaintext\": "
		    "true to run without authentication (tests only)", file);
		return -EINVAL;
	}
	return 0;
}

/* ---- the module ------------------------------------------------------------- */

int
ebb_tls_ctx_new(struct ebb_tls_ctx **out, enum ebb_tls_role role,
    const struct ebb_tls_conf *c, struct ebb_err *err)
{
	*out = NULL;
	if (ops == NULL &&
	    (ops = ebb_module_sym(TLS_MODULE, TLS_SYMBOL, err)) == NULL)
		return -ENOENT;
	return ops->ctx_new(out, role, c, err);
}

void
ebb_tls_ctx_free(struct ebb_tls_ctx *t)
{
	if (t != NULL)
		ops->ctx_free(t);
}

int
ebb_tls_new(struct ebb_tls **out, struct ebb_tls_ctx *ctx, int fd,
    const char *peer_name, struct ebb_err *err)
{
	return ops->new(out, ctx, fd, peer_name, err);
}

void
ebb_tls_free(struct ebb_tls *t)
{
	if (t != NULL)
		ops->free(t);
}

int
ebb_tls_handshake(struct ebb_tls *t, struct ebb_err *err)
{
	return ops->handshake(t, err);
}

bool
ebb_tls_done(const struct ebb_tls *t)
{
	return ops->done(t);
}

bool
ebb_tls_want_write(const struct ebb_tls *t)
{
	return ops->want_write(t);
}

ssize_t
ebb_tls_read(struct ebb_tls *t, void *buf, size_t len, struct ebb_err *err)
{
	return ops->read(t, buf, len, err);
}

ssize_t
ebb_tls_write(struct ebb_tls *t, const void *buf, size_t len,
    struct ebb_err *err)
{
	return ops->write(t, buf, len, err);
}

int
ebb_tls_peer_get(const struct ebb_tls *t, struct ebb_tls_peer *p)
{
	return ops->peer_get(t, p);
}

/* ---- names ------------------------------------------------------------------ */

bool
ebb_tls_peer_is(const struct ebb_tls_peer *p, const char *name)
{
	if (name == NULL || name[0] == '\0')
		return false;
	if (strcmp(p->cn, name) == 0)
		return true;
	for (int i = 0; i < p->ndns; i++)
		if (strcmp(p->dns[i], name) == 0)
			return true;
	return false;
}

void
ebb_tls_peer_format(const struct ebb_tls_peer *p, char *buf, size_t size)
{
	size_t len;

	if (size == 0)
		return;
	snprintf(buf, size, "CN=%s", p->cn[0] ? p->cn : "(none)");
	for (int i = 0; i < p->ndns; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", i ? "," : " DNS:",
		    p->dns[i]);
	}
	if (p->ndns == 0) {
		len = strlen(buf);
		snprintf(buf + len, size - len, " (no DNS names)");
	}
}
