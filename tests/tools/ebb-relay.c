/*
 * ebb-relay - a TCP relay for tests: every connection accepted on a listen
 * address is joined to a new connection to that address's target, and
 * bytes go both ways until both sides are done.
 *
 *   ebb-relay [-v] LISTEN_ADDR:PORT CONNECT_ADDR:PORT [LISTEN CONNECT]...
 *
 * Why it exists: librdkafka's mock cluster (ebb-kafka-mock) binds and
 * advertises 127.0.0.1:PORT only, so a client in another network
 * namespace cannot reach it.  In examples/fleet-box.sh with
 * FLEET_BUS=kafka, a relay beside the mock listens on its host's bridge
 * address and forwards to 127.0.0.1:PORT, and a relay in each agent's
 * namespace listens on 127.0.0.1:PORT (what the brokers advertise) and
 * forwards across the bridge: the bus's traffic really crosses it.
 *
 * Once every listen address is bound it prints one line per pair,
 * "LISTEN -> CONNECT" (a port 0 shown as the one the kernel chose), then
 * "ready", on stdout.  Per connection:
 *   - what one side sends before it shuts its writing half is written to
 *     the other side, and then that side's writing half is shut too
 *     (half-close passes through, as it would on a direct connection);
 *   - when both halves are done, both sockets close normally;
 *   - an error on either side (a reset, a failed write), or a failed
 *     connect to the target, resets the other side (SO_LINGER 0), so a
 *     client sees what it would have seen talking to the target itself.
 * Errors are logged on stderr; -v logs every connection too.  One thread,
 * one poll(2) loop; it stops on SIGTERM or SIGINT and exits 0.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebb.h"
#include "ebb_net.h"

#define RELAY_BUF	65536

struct relay_pair {
	char	 lhost[EBB_ADDR_MAX];
	int	 lport;
	char	 chost[EBB_ADDR_MAX];
	int	 cport;
	int	 lfd;
};

/* One direction of a link: bytes read from one socket, for the other. */
struct relay_half {
	char	 buf[RELAY_BUF];
	size_t	 off;		/* written so far */
	size_t	 len;		/* read so far */
	bool	 eof;		/* the source shut its writing half */
	bool	 shut;		/* ... and so did we, on the destination */
	unsigned long long total;	/* bytes read, for -v */
};

/*
 * fd[0] is the accepted connection, fd[1] the one to the target; half[i]
 * carries what fd[i] sends to fd[1 - i].
 */
struct relay_link {
	int			 fd[2];
	bool			 connecting;
	bool			 dead;
	unsigned long		 id;
	const struct relay_pair	*pair;
	struct relay_half	 half[2];
};

static bool relay_verbose;

static void
relay_usage(void)
{
	fprintf(stderr, "usage: ebb-relay [-v] LISTEN_ADDR:PORT "
	    "CONNECT_ADDR:PORT [LISTEN_ADDR:PORT CONNECT_ADDR:PORT]...\n");
	exit(2);
}

/* Closes both sockets; with reset, so that both peers see a reset. */
static void
relay_close(struct relay_link *l, bool reset, const char *why)
{
	static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };

	if (why != NULL)
		fprintf(stderr, "ebb-relay: #%lu %s:%d -> %s:%d: %s\n", l->id,
		    l->pair->lhost, l->pair->lport, l->pair->chost,
		    l->pair->cport, why);
	else if (relay_verbose)
		fprintf(stderr, "ebb-relay: #%lu closed (%llu bytes from the "
		    "client, %llu from the target)\n", l->id, l->half[0].total,
		    l->half[1].total);
	for (int i = 0; i < 2; i++) {
		if (l->fd[i] < 0)
			continue;
		if (reset)
			setsockopt(l->fd[i], SOL_SOCKET, SO_LINGER, &rst,
			    sizeof(rst));
		close(l->fd[i]);
		l->fd[i] = -1;
	}
	l->dead = true;
}

/*
 * Writes what half i holds to the other socket, as much as it takes, and
 * passes the half-close on once all is written.  0, or -errno when the
 * link must be reset.
 */
static int
relay_flush(struct relay_link *l, int i)
{
	struct relay_half *h = &l->half[i];
	int to = l->fd[1 - i];

	while (h->off < h->len) {
		ssize_t n = send(to, h->buf + h->off, h->len - h->off,
		    MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		h->off += (size_t)n;
	}
	h->off = h->len = 0;
	if (h->eof && !h->shut) {
		if (shutdown(to, SHUT_WR) < 0)
			return -errno;
		h->shut = true;
	}
	return 0;
}

/*
 * Reads what fd[i] has into half i (empty: see relay_events) and passes it
 * on at once.  0, or -errno when the link must be reset.
 */
static int
relay_read(struct relay_link *l, int i)
{
	struct relay_half *h = &l->half[i];
	ssize_t n;

	do
		n = recv(l->fd[i], h->buf, sizeof(h->buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		h->eof = true;
	h->off = 0;
	h->len = (size_t)n;
	h->total += (unsigned long long)n;
	return relay_flush(l, i);
}

/*
 * What to poll fd[i] of a live link for.  A side is read only when the
 * buffer toward the other side is empty: one buffer a direction, no
 * copying, and a slow reader slows its writer down, as TCP would.
 */
static short
relay_events(const struct relay_link *l, int i)
{
	short ev = 0;

	if (l->connecting)
		return i == 1 ? POLLOUT : 0;
	if (!l->half[i].eof && l->half[i].len == 0)
		ev |= POLLIN;
	if (l->half[1 - i].off < l->half[1 - i].len)
		ev |= POLLOUT;
	return ev;
}

static bool
relay_done(const struct relay_link *l)
{
	return l->half[0].shut && l->half[1].shut;
}

/*
 * Accepts every connection waiting on pair p's socket and starts its
 * connect to the target.
 */
static void
relay_accept(struct relay_pair *p, struct relay_link ***links, size_t *n,
    size_t *cap, unsigned long *next_id)
{
	struct relay_link *l;
	struct ebb_err err;
	int cfd, tfd, one = 1;

	for (;;) {
		if ((cfd = ebb_accept(p->lfd)) < 0) {
			if (cfd != -EAGAIN && cfd != -EINTR)
				fprintf(stderr, "ebb-relay: accept on %s:%d: "
				    "%s\n", p->lhost, p->lport,
				    strerror(-cfd));
			return;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		l = ebb_calloc(1, sizeof(*l));
		l->id = ++*next_id;
		l->pair = p;
		l->fd[0] = cfd;
		l->fd[1] = -1;
		if ((tfd = ebb_tcp_connect(p->chost, p->cport, &err)) < 0) {
			relay_close(l, true, err.msg);
			free(l);
			continue;
		}
		l->fd[1] = tfd;
		l->connecting = true;
		if (relay_verbose)
			fprintf(stderr, "ebb-relay: #%lu accepted on %s:%d, "
			    "connecting to %s:%d\n", l->id, p->lhost, p->lport,
			    p->chost, p->cport);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*links = ebb_reallocarray(*links, *cap,
			    sizeof(**links));
		}
		(*links)[(*n)++] = l;
	}
}

/* Acts on what poll said about fd[i] of link l. */
static void
relay_serve(struct relay_link *l, int i, short rev)
{
	char why[128];
	int rc;

	if (l->dead || rev == 0)
		return;
	if (l->connecting) {
		if ((rc = ebb_connect_result(l->fd[1])) != 0) {
			snprintf(why, sizeof(why), "connect: %s",
			    strerror(-rc));
			relay_close(l, true, why);
			return;
		}
		l->connecting = false;
		if (relay_verbose)
			fprintf(stderr, "ebb-relay: #%lu connected\n", l->id);
		return;
	}
	rc = 0;
	if (rev & POLLOUT)
		rc = relay_flush(l, 1 - i);
	if (rc == 0 && (rev & (POLLIN | POLLHUP | POLLERR)) &&
	    (relay_events(l, i) & POLLIN))
		rc = relay_read(l, i);
	else if (rc == 0 && (rev & POLLERR) &&
	    (rc = ebb_connect_result(l->fd[i])) == 0)
		rc = -ECONNRESET;
	if (rc != 0) {
		snprintf(why, sizeof(why), "%s side: %s",
		    i == 0 ? "client" : "target", strerror(-rc));
		relay_close(l, true, why);
	} else if (relay_done(l)) {
		relay_close(l, false, NULL);
	}
}

int
main(int argc, char **argv)
{
	struct relay_pair *pairs;
	struct relay_link **links = NULL;
	struct pollfd *pfd = NULL;
	size_t npairs, nlinks = 0, cap = 0, npfd = 0;
	unsigned long next_id = 0;
	struct ebb_err err;
	sigset_t sigs;
	int ch, sfd, rc = 0;

	while ((ch = getopt(argc, argv, "v")) != -1) {
		if (ch != 'v')
			relay_usage();
		relay_verbose = true;
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc % 2 != 0)
		relay_usage();
	npairs = (size_t)argc / 2;
	pairs = ebb_calloc(npairs, sizeof(*pairs));
	for (size_t k = 0; k < npairs; k++) {
		struct relay_pair *p = &pairs[k];

		if (ebb_hostport(argv[2 * k], p->lhost, sizeof(p->lhost),
		    &p->lport, &err) != 0 ||
		    ebb_hostport(argv[2 * k + 1], p->chost, sizeof(p->chost),
		    &p->cport, &err) != 0) {
			fprintf(stderr, "ebb-relay: %s\n", err.msg);
			return 2;
		}
		if ((p->lfd = ebb_tcp_listen(p->lhost, p->lport, &err)) < 0) {
			fprintf(stderr, "ebb-relay: %s\n", err.msg);
			return 1;
		}
		if (p->lport == 0)
			p->lport = ebb_sock_port(p->lfd);
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "ebb-relay: signalfd: %s\n", strerror(errno));
		return 1;
	}
	for (size_t k = 0; k < npairs; k++)
		printf("%s:%d -> %s:%d\n", pairs[k].lhost, pairs[k].lport,
		    pairs[k].chost, pairs[k].cport);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		size_t want = 1 + npairs + 2 * nlinks, base = 1 + npairs;

		if (want > npfd) {
			npfd = want * 2;
			pfd = ebb_reallocarray(pfd, npfd, sizeof(*pfd));
		}
		pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (size_t k = 0; k < npairs; k++)
			pfd[1 + k] = (struct pollfd){ .fd = pairs[k].lfd,
				.events = POLLIN };
		for (size_t j = 0; j < nlinks; j++)
			for (int i = 0; i < 2; i++) {
				short ev = relay_events(links[j], i);

				/*
				 * A socket we want nothing from is left out
				 * (fd -1): its peer may have shut both halves,
				 * and its POLLHUP would wake the loop until
				 * the other direction drains.
				 */
				pfd[base + 2 * j + i] = (struct pollfd){
					.fd = ev ? links[j]->fd[i] : -1,
					.events = ev };
			}
		if (poll(pfd, want, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ebb-relay: poll: %s\n",
			    strerror(errno));
			rc = 1;
			break;
		}
		if (pfd[0].revents != 0)
			break;
		/* Links first: accepting appends to the array. */
		for (size_t j = 0; j < nlinks; j++)
			for (int i = 0; i < 2; i++)
				relay_serve(links[j], i,
				    pfd[base + 2 * j + i].revents);
		for (size_t j = 0; j < nlinks;) {
			if (links[j]->dead) {
				free(links[j]);
				links[j] = links[--nlinks];
			} else {
				j++;
			}
		}
		for (size_t k = 0; k < npairs; k++)
			if (pfd[1 + k].revents != 0)
				relay_accept(&pairs[k], &links, &nlinks, &cap,
				    &next_id);
	}

	for (size_t j = 0; j < nlinks; j++) {
		relay_close(links[j], true, NULL);
		free(links[j]);
	}
	for (size_t k = 0; k < npairs; k++)
		close(pairs[k].lfd);
	close(sfd);
	free(links);
	free(pfd);
	free(pairs);
	return rc;
}
