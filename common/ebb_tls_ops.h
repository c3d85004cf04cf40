/*
 * ebb_tls_ops.h - between ebb_tls.c and the module that implements TLS
 * (ebb-tls.so, ebb_tls_openssl.c): the calls of ebb_tls.h that need the
 * TLS library, with the same meaning.  Internal to common/.
 */
#ifndef EBB_TLS_OPS_H
#define EBB_TLS_OPS_H

#include "ebb_tls.h"

struct ebb_tls_ops {
	int	(*ctx_new)(struct ebb_tls_ctx **, enum ebb_tls_role,
		    const struct ebb_tls_conf *, struct ebb_err *);
	void	(*ctx_free)(struct ebb_tls_ctx *);
	int	(*new)(struct ebb_tls **, struct ebb_tls_ctx *, int fd,
		    const char *peer_name, struct ebb_err *);
	void	(*free)(struct ebb_tls *);
	int	(*handshake)(struct ebb_tls *, struct ebb_err *);
	bool	(*done)(const struct ebb_tls *);
	bool	(*want_write)(const struct ebb_tls *);
	ssize_t	(*read)(struct ebb_tls *, void *, size_t, struct ebb_err *);
	ssize_t	(*write)(struct ebb_tls *, const void *, size_t,
		    struct ebb_err *);
	int	(*peer_get)(const struct ebb_tls *, struct ebb_tls_peer *);
};

/* The module's one exported symbol. */
extern const struct ebb_tls_ops ebb_tls_openssl;

#endif /* EBB_TLS_OPS_H */
