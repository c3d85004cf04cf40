/*
 * ebb_tls.h - TLS 1.3 with mutual certificates for the agent <-> controller
 * link (OpenSSL 3), over a non-blocking socket the caller already polls.
 *
 * The caller keeps its fd, its epoll set and its buffers (ebb_linebuf and
 * ebb_outq take a session, see ebb_wire.h).  Nothing here blocks: a call
 * that cannot go on returns -EAGAIN, and ebb_tls_want_write() says whether
 * the session waits for the socket to become writable (a handshake step or
 * a read may have to send) rather than readable.
 *
 * Both sides present a certificate from the fleet's CA (scripts/ebb-ca).
 * The client checks the server's certificate against the name it dialled;
 * the server demands a client certificate, and what that certificate names
 * (ebb_tls_peer) is for the caller to bind to what the peer claims to be:
 * the controller refuses a hello for a host the certificate does not name.
 */
#ifndef EBB_TLS_H
#define EBB_TLS_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>

#include <jansson.h>

#include "ebb.h"
#include "ebb_jconf.h"
#include "ebb_wire.h"

/* The "tls" section of both daemons' configurations. */
struct ebb_tls_conf {
	char	ca[PATH_MAX];		/* the fleet's CA certificate, PEM;
					   "" = no TLS configured */
	char	cert[PATH_MAX];		/* our certificate (chain), PEM */
	char	key[PATH_MAX];		/* its private key, PEM */
	char	crl[PATH_MAX];		/* revocation lists, PEM, one from
					   each CA in `ca`; "" = none.  Read
					   again when the file changes. */
	char	server_name[EBB_HOST_MAX + 1];	/* client only: the name the
					   server's certificate must carry;
					   "" = the host part of the address */
};

/*
 * Reads a "tls" section (ca, cert and key, all required; crl optional;
 * server_name too when client).  Files are only named here; ebb_tls_ctx_new() opens them.
 * 0, or -EINVAL with x's error filled and the conf untouched.
 */
int	ebb_tls_conf_parse(struct ebb_jconf *x, json_t *section, bool client,
	    struct ebb_tls_conf *);
/*
 * The rule both daemons follow: TLS, unless plain TCP is asked for by
 * name with "insecure_plaintext": true, and never both.  `file` names the
 * configuration in the message, which says how to fix it.  0 or -EINVAL.
 */
int	ebb_tls_conf_require(const struct ebb_tls_conf *, bool insecure,
	    const char *file, struct ebb_err *);

enum ebb_tls_role {
	EBB_TLS_CLIENT,		/* the agent: checks the server's name */
	EBB_TLS_SERVER,		/* the controller: demands a client cert */
};

struct ebb_tls_ctx;
struct ebb_tls;

/*
 * Loads the CA, certificate and key (checked to match) for one role:
 * TLS 1.3 only, peer verification against that CA alone, no session
 * tickets.  With a CRL file, a peer whose certificate it lists is refused
 * at the handshake; the file must hold one current list, signed, from
 * each CA of the CA file.  0 or -errno with err naming the file and the
 * reason.
 *
 * The CRL file is looked at again (at most once a second, by the
 * sessions' calls) and read again when it has changed: new handshakes
 * use the new lists, and a session whose peer they revoke fails its next
 * read or write with -EACCES.  A new file that cannot be used (torn,
 * expired, from another CA) is refused with a warning and the lists in
 * force stay.
 */
int	ebb_tls_ctx_new(struct ebb_tls_ctx **, enum ebb_tls_role,
	    const struct ebb_tls_conf *, struct ebb_err *);
void	ebb_tls_ctx_free(struct ebb_tls_ctx *);

/*
 * A session on a connected non-blocking fd, which stays the caller's to
 * poll and close (after ebb_tls_free).  A client passes the name (DNS
 * name or IP address) the server's certificate must carry; a server
 * passes NULL.  0 or -errno with err filled.
 */
int	ebb_tls_new(struct ebb_tls **, struct ebb_tls_ctx *, int fd,
	    const char *peer_name, struct ebb_err *);
/*
 * Sends close_notify if the session is sound (once, without waiting) and
 * frees it; the fd is left open.  NULL is allowed.
 */
void	ebb_tls_free(struct ebb_tls *);

/*
 * One step of the handshake: 0 once it is complete (the peer's chain and,
 * on a client, its name verified), -EAGAIN to be called again when the
 * fd is ready, -EPROTO (TLS or certificate failure) or another -errno,
 * with err carrying OpenSSL's reason and, for a refused certificate, why.
 *
 * In TLS 1.3 a client finishes before the server has judged the client's
 * certificate: a refusal reaches the client as an alert on its first read.
 */
int	ebb_tls_handshake(struct ebb_tls *, struct ebb_err *);
bool	ebb_tls_done(const struct ebb_tls *);
/* The last call stopped because the session must write: poll for out. */
bool	ebb_tls_want_write(const struct ebb_tls *);

/*
 * Read and write like read(2)/send(2) on a non-blocking socket: bytes
 * moved, 0 for the peer's close (read), -EAGAIN when the socket is not
 * ready, or -errno (-EPROTO for TLS errors) with err filled.  A write
 * that returned -EAGAIN must be repeated with the same bytes first (more
 * may follow, and they may have moved: ebb_outq's buffer does).
 */
ssize_t	ebb_tls_read(struct ebb_tls *, void *, size_t, struct ebb_err *);
ssize_t	ebb_tls_write(struct ebb_tls *, const void *, size_t,
	    struct ebb_err *);

/* What the peer's certificate names. */
#define EBB_TLS_NAMES_MAX	16

struct ebb_tls_peer {
	char	cn[EBB_HOST_MAX + 1];	/* subject CN, "" if none */
	char	dns[EBB_TLS_NAMES_MAX][EBB_HOST_MAX + 1];	/* DNS SANs */
	int	ndns;
};

/*
 * The names of the peer's (verified) certificate: its first subject CN
 * and its DNS subjectAltNames.  Names holding a NUL, or too long, or past
 * EBB_TLS_NAMES_MAX, are left out, so they can never match.  0, or
 * -ENOENT when there is no peer certificate.
 */
int	ebb_tls_peer_get(const struct ebb_tls *, struct ebb_tls_peer *);
/*
 * Whether the certificate names `name`: the CN or a DNS SAN equal to it,
 * byte for byte (no wildcards: one certificate is one host).
 */
bool	ebb_tls_peer_is(const struct ebb_tls_peer *, const char *name);
/* "CN=h1 DNS:h1,h1.example" for messages; always NUL-terminated. */
void	ebb_tls_peer_format(const struct ebb_tls_peer *, char *, size_t);

#endif /* EBB_TLS_H */
