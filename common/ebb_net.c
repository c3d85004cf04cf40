/*
 * ebb_net.c - small socket helpers every daemon shares.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ebb_net.h"

int
ebb_hostport(const char *s, char *host, size_t hostlen, int *port,
    struct ebb_err *err)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = s + 1;
		hl = rb - h;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			goto bad;
		hl = colon - s;
	}
	if (hl == 0 || hl >= hostlen)
		goto bad;
	/* Digits only: strtol alone would take " 80" and "+80". */
	if (colon[1] < '0' || colon[1] > '9')
		goto bad;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 0 || p > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
bad:
	ebb_err_set(err, "'%s': expected HOST:PORT", s);
	return -EINVAL;
}

int
ebb_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int
resolve(const char *addr, int port, struct addrinfo **res, bool passive,
    struct ebb_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM };
	char ps[16];
	int rc;

	if (passive)
		hints.ai_flags = AI_PASSIVE;
	snprintf(ps, sizeof(ps), "%d", port);
	rc = getaddrinfo(addr, ps, &hints, res);
	if (rc != 0) {
		ebb_err_set(err, "%s:%d: %s", addr ? addr : "*", port,
		    gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	return 0;
}

int
ebb_tcp_listen(const char *addr, int port, struct ebb_err *err)
{
	struct addrinfo *res, *ai;
	int fd = -1, rc = -EADDRNOTAVAIL, one = 1;

	if ((rc = resolve(addr, port, &res, true, err)) != 0)
		return rc;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		ebb_err_set(err, "listen on %s:%d: %s", addr ? addr : "*", port,
		    strerror(-rc));
		return rc;
	}
	return fd;
}

int
ebb_sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

void
ebb_sock_peer(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, size, "(unknown peer)");
		return;
	}
	snprintf(buf, size, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, serv);
}

int
ebb_tcp_connect(const char *addr, int port, struct ebb_err *err)
{
	struct addrinfo *res, *ai;
	int fd = -1, rc, one = 1;

	if ((rc = resolve(addr, port, &res, false, err)) != 0)
		return rc;
	rc = -EHOSTUNREACH;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		/* Messages are small and latency matters more than batching. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		ebb_err_set(err, "connect to %s:%d: %s", addr, port,
		    strerror(-rc));
		return rc;
	}
	return fd;
}

int
ebb_connect_result(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return -errno;
	return -e;
}

int
ebb_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int
unix_addr(const char *path, struct sockaddr_un *sun, struct ebb_err *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		ebb_err_set(err, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

int
ebb_unix_listen(const char *path, struct ebb_err *err)
{
	struct sockaddr_un sun;
	int fd, rc;

	if ((rc = unix_addr(path, &sun, err)) != 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 16) < 0) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int
ebb_unix_connect(const char *path, struct ebb_err *err)
{
	struct sockaddr_un sun;
	int fd, rc;

	if ((rc = unix_addr(path, &sun, err)) != 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int
ebb_write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *p = buf;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int left;

		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}
