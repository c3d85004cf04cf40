/*
 * bench_agent_sink.c - the helpers of tests/bench/bench-agent.sh: a
 * controller that only listens, a once-a-second scraper, and the parking
 * reaction measurement.  Not part of ctest.
 *
 *   bench_agent_sink sink PORTFILE COUNTFILE
 *	Listens on 127.0.0.1 (an ephemeral port, written to PORTFILE),
 *	accepts any number of connections and reads and discards their
 *	lines, writing the number of lines so far to COUNTFILE after each
 *	one.  Runs until SIGTERM or SIGINT.
 *
 *   bench_agent_sink scrape HOST:PORT COUNTFILE [INTERVAL_S]
 *	GET /metrics every INTERVAL_S (default 1) on a fixed schedule, a new
 *	connection each time (Connection: close), reading the whole answer;
 *	writes "OK FAILED BYTES" (scrapes answered 200, the others, the
 *	size of the last answer) to COUNTFILE after each.  Runs until
 *	SIGTERM or SIGINT.
 *
 *   bench_agent_sink react PORTFILE RUNS LOAD TIMEOUT_S
 *	Listens like sink and takes one agent's connection; RUNS times:
 *	waits (at most TIMEOUT_S) for a report whose "unparked" set has one
 *	core, waits (RUN - 0.5) / RUNS of the report's interval (so that the
 *	runs sample the phases of the interval evenly), starts LOAD busy
 *	processes (the load step), and reads reports
 *	until one's "unparked" set has more cores; then stops the load.
 *	Prints each run's step-to-report time in seconds on stdout, one a
 *	line ("-" for a run that never saw the parked state or the unpark),
 *	and what happened on stderr as "# " lines; with BENCH_SINK_DEBUG set
 *	in the environment, every report too.
 *
 * The times are CLOCK_MONOTONIC.  The load step's clock starts before the
 * first busy process is forked, so the fork is counted against the agent.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_CONNS	16
#define LINE_MAX_B	(1 << 20)
#define MAX_LOAD	64

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_agent_sink: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Listens on 127.0.0.1:0 and writes the port to portfile. */
static int
listen_any(const char *portfile)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, one = 1;
	FILE *f;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		die("listen on 127.0.0.1");
	/* Written to a temporary name first: the reader never sees half. */
	{
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if ((f = fopen(tmp, "w")) == NULL)
			die(tmp);
		fprintf(f, "%d\n", ntohs(sa.sin_port));
		if (fclose(f) != 0 || rename(tmp, portfile) != 0)
			die(portfile);
	}
	return fd;
}

/* Overwrites the status file with one short line (same width each time). */
static void
put_status(int fd, const char *line)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%-79s\n", line);

	if (pwrite(fd, buf, (size_t)n, 0) < 0)
		die("writing the count file");
}

static int
open_status(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die(path);
	put_status(fd, "0");
	return fd;
}

/* ---- sink ----------------------------------------------------------------- */

static int
do_sink(const char *portfile, const char *countfile)
{
	struct pollfd pf[1 + MAX_CONNS];
	unsigned long long lines = 0;
	char buf[65536], st[64];
	int lfd, cfd, n = 1;

	catch_signals();
	cfd = open_status(countfile);
	lfd = listen_any(portfile);
	pf[0].fd = lfd;
	pf[0].events = POLLIN;
	while (!quit) {
		if (poll(pf, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if ((pf[0].revents & POLLIN) && n < 1 + MAX_CONNS) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0) {
				pf[n].fd = fd;
				pf[n].events = POLLIN;
				pf[n].revents = 0;
				n++;
			}
		}
		for (int i = 1; i < n; i++) {
			ssize_t r;
			unsigned long long before = lines;

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				close(pf[i].fd);
				pf[i] = pf[--n];
				i--;
				continue;
			}
			for (ssize_t k = 0; k < r; k++)
				if (buf[k] == '\n')
					lines++;
			if (lines != before) {
				snprintf(st, sizeof(st), "%llu", lines);
				put_status(cfd, st);
			}
		}
	}
	return 0;
}

/* ---- scrape --------------------------------------------------------------- */

/* One GET /metrics; the answer's length, or -1. */
static long
scrape_once(const struct sockaddr_in *sa, const char *hostport)
{
	static char buf[1 << 16];
	struct timeval tv = { .tv_sec = 5 };
	char req[512];
	long total = 0;
	int fd, len, ok = 0;
	size_t head = 0;
	char first[16] = "";

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	len = snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\n"
	    "Host: %s\r\nUser-Agent: bench_agent_sink\r\n"
	    "Accept: text/plain\r\nConnection: close\r\n\r\n", hostport);
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			total = -1;
			break;
		}
		if (r == 0)
			break;
		if (head < sizeof(first) - 1) {
			size_t k = sizeof(first) - 1 - head;

			if (k > (size_t)r)
				k = (size_t)r;

			memcpy(first + head, buf, k);
			head += k;
			first[head] = '\0';
		}
		total += r;
	}
	close(fd);
	/* "HTTP/1.x 200" */
	if (total > 0 && strncmp(first, "HTTP/1.", 7) == 0 &&
	    strncmp(first + 8, " 200", 4) == 0)
		ok = 1;
	return ok ? total : -1;
}

static int
do_scrape(const char *hostport, const char *countfile, double every)
{
	struct sockaddr_in sa;
	unsigned long long ok = 0, failed = 0;
	char host[256], st[96];
	const char *colon = strrchr(hostport, ':');
	struct timespec next;
	long last = 0;
	int cfd;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
		fprintf(stderr, "bench_agent_sink: scrape: HOST:PORT, not "
		    "\"%s\"\n", hostport);
		return 2;
	}
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "bench_agent_sink: scrape: %s is not an IPv4 "
		    "address\n", host);
		return 2;
	}
	catch_signals();
	cfd = open_status(countfile);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!quit) {
		long r = scrape_once(&sa, hostport);

		if (r >= 0) {
			ok++;
			last = r;
		} else {
			failed++;
		}
		snprintf(st, sizeof(st), "%llu %llu %ld", ok, failed, last);
		put_status(cfd, st);
		/* A fixed schedule: a slow scrape does not shift the next. */
		next.tv_sec += (time_t)every;
		next.tv_nsec += (long)((every - (double)(time_t)every) * 1e9);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (!quit && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
		    &next, NULL) == EINTR)
			;
	}
	return 0;
}

/* ---- react ---------------------------------------------------------------- */

/* The number of cpus in a cpulist such as "0-3,8"; -1 if malformed. */
static int
cpulist_count(const char *s)
{
	int n = 0;

	if (*s == '\0')
		return 0;
	for (;;) {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s || lo < 0)
			return -1;
		s = end;
		if (*s == '-') {
			s++;
			hi = strtol(s, &end, 10);
			if (end == s || hi < lo)
				return -1;
			s = end;
		}
		n += (int)(hi - lo + 1);
		if (*s == '\0')
			return n;
		if (*s != ',')
			return -1;
		s++;
	}
}

struct reader {
	int	 fd;
	char	*buf;
	size_t	 len;
};

/*
 * The next report's unparked set (copied into set) and its core count, the
 * time it was read in *t; 0 at the deadline, -1 on a closed connection.
 */
static int
next_report(struct reader *r, double deadline, char *set, size_t setsz,
    int *count, double *t, double *iv)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);

		if (nl != NULL) {
			json_t *o, *u, *ty, *ivl;
			size_t linelen = (size_t)(nl - r->buf);
			int got = 0;

			*t = mono();
			o = json_loadb(r->buf, linelen, 0, NULL);
			memmove(r->buf, nl + 1, r->len - linelen - 1);
			r->len -= linelen + 1;
			if (o == NULL)
				continue;
			ty = json_object_get(o, "type");
			u = json_object_get(o, "unparked");
			if (json_is_string(ty) && strcmp(json_string_value(ty),
			    "report") == 0 && json_is_string(u)) {
				if (getenv("BENCH_SINK_DEBUG") != NULL) {
					char *d = json_dumps(o, JSON_COMPACT);

					fprintf(stderr, "# %.3f %s\n", *t,
					    d ? d : "?");
					free(d);
				}
				snprintf(set, setsz, "%s", json_string_value(u));
				ivl = json_object_get(o, "interval_s");
				*iv = json_is_number(ivl) ?
				    json_number_value(ivl) : 0;
				*count = cpulist_count(set);
				got = 1;
			}
			json_decref(o);
			if (got)
				return 1;
			continue;
		}
		{
			struct pollfd pf = { .fd = r->fd, .events = POLLIN };
			double left = deadline - mono();
			ssize_t n;

			if (left <= 0 || quit)
				return 0;
			if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
				continue;
			if (r->len == LINE_MAX_B)
				r->len = 0;	/* a line too long: dropped */
			n = read(r->fd, r->buf + r->len, LINE_MAX_B - r->len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			r->len += (size_t)n;
		}
	}
}

static void
spin(void)
{
	volatile unsigned long x = 0;

	for (;;)
		x++;
}

static int
do_react(const char *portfile, int runs, int load, double timeout)
{
	struct reader r = { .fd = -1 };
	pid_t kids[MAX_LOAD];
	char set[4096], before[4096];
	int lfd, count, nok = 0;
	double t, iv = 0, phase;

	catch_signals();
	lfd = listen_any(portfile);
	{
		struct pollfd pf = { .fd = lfd, .events = POLLIN };

		if (poll(&pf, 1, (int)(timeout * 1000)) <= 0) {
			fprintf(stderr, "# react: the agent did not connect in "
			    "%g s\n", timeout);
			return 1;
		}
	}
	if ((r.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		die("accept");
	if ((r.buf = malloc(LINE_MAX_B)) == NULL)
		die("malloc");
	for (int run = 1; run <= runs && !quit; run++) {
		double deadline = mono() + timeout, t0;
		int rc, bcount = -1;

		/* The idle state: one core unparked. */
		while ((rc = next_report(&r, deadline, set, sizeof(set), &count,
		    &t, &iv)) == 1 && count != 1)
			;
		if (rc != 1) {
			fprintf(stderr, "# react run %d: %s\n", run, rc < 0 ?
			    "the agent closed the connection" :
			    "no report with one unparked core (is the machine "
			    "idle?)");
			printf("-\n");
			fflush(stdout);
			if (rc < 0)
				break;
			continue;
		}
		snprintf(before, sizeof(before), "%s", set);
		bcount = count;

		/*
		 * The step, at a phase of the sampling interval that differs
		 * from run to run ((run - 0.5) / runs of it after a report),
		 * as a real load step falls anywhere in the interval.
		 */
		phase = iv > 0 && iv < 60 ? iv * (run - 0.5) / runs : 0;
		{
			struct timespec ts = { .tv_sec = (time_t)phase,
				.tv_nsec = (long)((phase - (double)(time_t)phase) *
				    1e9) };

			nanosleep(&ts, NULL);
		}
		t0 = mono();
		for (int k = 0; k < load; k++) {
			kids[k] = fork();
			if (kids[k] == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				spin();
			}
			if (kids[k] < 0)
				die("fork");
		}
		deadline = t0 + timeout;
		while ((rc = next_report(&r, deadline, set, sizeof(set), &count,
		    &t, &iv)) == 1 && count <= bcount)
			;
		for (int k = 0; k < load; k++)
			kill(kids[k], SIGKILL);
		for (int k = 0; k < load; k++)
			waitpid(kids[k], NULL, 0);
		if (rc != 1) {
			fprintf(stderr, "# react run %d: %s\n", run, rc < 0 ?
			    "the agent closed the connection" :
			    "no unpark within the timeout");
			printf("-\n");
			fflush(stdout);
			if (rc < 0)
				break;
			continue;
		}
		nok++;
		fprintf(stderr, "# react run %d: %.3f s (step %.3f s after a "
		    "report; unparked %s -> %s)\n", run, t - t0, phase, before,
		    set);
		printf("%.6f\n", t - t0);
		fflush(stdout);
	}
	free(r.buf);
	close(r.fd);
	close(lfd);
	return nok > 0 ? 0 : 1;
}

/* ---- main ----------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: bench_agent_sink sink PORTFILE COUNTFILE\n"
	    "       bench_agent_sink scrape HOST:PORT COUNTFILE [INTERVAL_S]\n"
	    "       bench_agent_sink react PORTFILE RUNS LOAD TIMEOUT_S\n");
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "sink") == 0)
		return do_sink(argv[2], argv[3]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "scrape") == 0) {
		double every = argc == 5 ? atof(argv[4]) : 1.0;

		if (!(every >= 0.01)) {
			usage(stderr);
			return 2;
		}
		return do_scrape(argv[2], argv[3], every);
	}
	if (argc == 6 && strcmp(argv[1], "react") == 0) {
		int runs = atoi(argv[3]), load = atoi(argv[4]);
		double timeout = atof(argv[5]);

		if (runs < 1 || load < 1 || load > MAX_LOAD || !(timeout > 0)) {
			usage(stderr);
			return 2;
		}
		return do_react(argv[2], runs, load, timeout);
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
