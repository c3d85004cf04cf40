/*
 * ebb_net.h - sockets: TCP listen and connect (non-blocking, close-on-exec),
 * unix sockets, "host:port" parsing.
 */
#ifndef EBB_NET_H
#define EBB_NET_H

#include "ebb.h"

#define EBB_ADDR_MAX	256

/*
 * Splits "host:port" or "[v6]:port" into host and port.  0 or -EINVAL with
 * err filled.
 */
int	ebb_hostport(const char *s, char *host, size_t hostlen, int *port,
	    struct ebb_err *);

/* A listening TCP socket on addr:port (port 0: any); returns fd or -errno. */
int	ebb_tcp_listen(const char *addr, int port, struct ebb_err *);
/* The port a socket is bound to, or -errno. */
int	ebb_sock_port(int fd);
/* "addr:port" ("[v6]:port") of a connected socket's peer, for logs. */
void	ebb_sock_peer(int fd, char *buf, size_t size);
/*
 * Starts a non-blocking connect to addr:port.  Returns the fd (connected
 * or in progress: wait for POLLOUT, then ebb_connect_result), or -errno.
 */
int	ebb_tcp_connect(const char *addr, int port, struct ebb_err *);
/* 0 when a non-blocking connect succeeded, or its -errno. */
int	ebb_connect_result(int fd);
/* Accepts one connection, non-blocking and close-on-exec; fd or -errno. */
int	ebb_accept(int lfd);

/* A listening / connected unix stream socket at path; fd or -errno. */
int	ebb_unix_listen(const char *path, struct ebb_err *);
int	ebb_unix_connect(const char *path, struct ebb_err *);

int	ebb_set_nonblock(int fd);
/*
 * Writes all of buf to a blocking or non-blocking fd, polling when it
 * would block, for at most timeout_ms in all.  0 or -errno (-ETIMEDOUT).
 */
int	ebb_write_all(int fd, const void *buf, size_t len, int timeout_ms);

#endif /* EBB_NET_H */
