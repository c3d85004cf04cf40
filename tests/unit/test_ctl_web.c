/*
 * test_ctl_web.c - the controller's web view (controller/ctl_web.c) over
 * real HTTP: the controller runs in a forked child of this program
 * (ctl_init() + ctl_run(), stopped with SIGTERM), and requests are written
 * by hand on sockets, so that headers and event streams can be read.
 *
 * Checked:
 *  - GET / and /index.html: the page, text/html, with a Content-Security-
 *    Policy and an ETag; If-None-Match with it -> 304 and no body; the
 *    assets under /web/ with their types; /web/nosuch -> 404; POST / ->
 *    405 with Allow; the API behind the hook still answers;
 *  - GET /api/series: columns of one length, a fake agent's host at its
 *    power curve (busy 0.5 -> 116 W) and a host switched off at idle in
 *    the baseline only (93.7 W); since= returns only later samples;
 *    today's energy grows and "saved" is between 0 and 100 %;
 *  - GET /api/events: text/event-stream, a "round" event per round with
 *    growing round numbers and the sample (silent hosts counted on, at
 *    idle power, as in the baseline); at most 32 streams (the 33rd
 *    -> 503), and closed streams make room again.
 *
 * The page in a browser is tests/web/test-web-chromium.sh.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctl.h"
#include "ctl_config.h"
#include "ebb.h"
#include "ebb_http.h"
#include "ebb_net.h"
#include "ebb_wire.h"

#define STREAMS_MAX	32	/* as WEB_STREAMS_MAX in ctl_web.c */

struct fx {
	char	dir[64];
	pid_t	ctl;
	int	agent_port;
	int	http_port;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void
dump_log(const struct fx *f)
{
	char path[128], buf[512];
	FILE *l;

	snprintf(path, sizeof(path), "%s/controller.log", f->dir);
	if ((l = fopen(path, "r")) == NULL)
		return;
	print_message("---- controller log\n");
	while (fgets(buf, sizeof(buf), l) != NULL)
		print_message("%s", buf);
	fclose(l);
}

/*
 * A controller with hosts A (no power driver) and B (a "command" driver
 * that does nothing), both on the default power curve; interval 0.1 s.
 */
static void
start_ctl(struct fx *f)
{
	char cfg[2048], path[128], log[128];
	int p[2], ports[2] = { 0, 0 };

	snprintf(path, sizeof(path), "%s/token", f->dir);
	write_file(path, "test-token-0123456789abcdef\n");
	snprintf(cfg, sizeof(cfg), "{\"listen\": \"127.0.0.1:0\", "
	    "\"insecure_plaintext\": true, \"http\": "
	    "\"127.0.0.1:0\", \"token_file\": \"%s/token\", \"journal\": "
	    "\"%s/journal.db\", \"interval_s\": 0.1, \"unknown_after_s\": 60, "
	    "\"min_hosts_on\": 0, \"limits\": {\"host_cooldown_s\": 0}, "
	    "\"hosts\": [{\"name\": \"A\"}, {\"name\": \"B\", \"power\": "
	    "{\"driver\": \"command\", \"on\": \"true\", \"off\": \"true\"}}]}",
	    f->dir, f->dir);
	snprintf(log, sizeof(log), "%s/controller.log", f->dir);
	assert_int_equal(pipe(p), 0);
	f->ctl = fork();
	assert_true(f->ctl >= 0);
	if (f->ctl == 0) {
		struct ctl_config c;
		struct ebb_err err;
		struct ctl ctl;
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600), rc;

		close(p[0]);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		ctl_config_defaults(&c);
		if (ctl_config_parse(cfg, "test.json", &c, &err) != 0 ||
		    ctl_init(&ctl, &c, &err) != 0) {
			fprintf(stderr, "controller: %s\n", err.msg);
			_exit(1);
		}
		ctl_config_free(&c);
		ports[0] = ebb_sock_port(ctl.lfd);
		ports[1] = ebb_http_server_port(ctl.http);
		if (write(p[1], ports, sizeof(ports)) != sizeof(ports))
			_exit(1);
		close(p[1]);
		rc = ctl_run(&ctl);
		ctl_fini(&ctl);
		_exit(rc);
	}
	close(p[1]);
	if (read(p[0], ports, sizeof(ports)) != sizeof(ports)) {
		close(p[0]);
		dump_log(f);
		fail_msg("the controller did not start");
	}
	close(p[0]);
	f->agent_port = ports[0];
	f->http_port = ports[1];
}

static void
stop_ctl(struct fx *f)
{
	double end = now_s() + 10;
	int st;

	kill(f->ctl, SIGTERM);
	while (waitpid(f->ctl, &st, WNOHANG) == 0) {
		if (now_s() > end) {
			kill(f->ctl, SIGKILL);
			waitpid(f->ctl, &st, 0);
			f->ctl = 0;
			fail_msg("the controller did not stop on SIGTERM");
		}
		usleep(20000);
	}
	f->ctl = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		dump_log(f);
		fail_msg("the controller ended with status 0x%x", st);
	}
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_ctl_web.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->ctl > 0) {
		kill(f->ctl, SIGKILL);
		waitpid(f->ctl, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* ---- HTTP by hand ------------------------------------------------------- */

static int
tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void
send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/*
 * Reads into buf (NUL-terminated) until the connection ends, until stop
 * appears (if not NULL), or timeout_s; returns the length.
 */
static size_t
recv_until(int fd, char *buf, size_t cap, const char *stop, double timeout_s)
{
	double end = now_s() + timeout_s;
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < cap && now_s() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (stop != NULL && strstr(buf, stop) != NULL)
			break;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
	}
	return len;
}

struct resp {
	int	status;
	char	head[4096];
	char	*body;		/* into raw */
	size_t	body_len;
	char	raw[1 << 20];
};

/* One HTTP/1.0 request (the server closes after it); extra: header lines. */
static void
http(const struct fx *f, const char *method, const char *path,
    const char *extra, struct resp *r)
{
	int fd = tcp_connect(f->http_port);
	char req[1024], *sep;
	size_t n;

	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s"
	    "%s\r\n", method, path, extra ? extra : "",
	    strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
	send_all(fd, req);
	n = recv_until(fd, r->raw, sizeof(r->raw), NULL, 5);
	close(fd);
	assert_true(n > 12);
	assert_int_equal(sscanf(r->raw, "HTTP/1.%*d %d", &r->status), 1);
	sep = strstr(r->raw, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - r->raw),
	    r->raw);
	r->body = sep + 4;
	r->body_len = n - (size_t)(r->body - r->raw);
}

/* A header's value (static buffer), or NULL. */
static const char *
header(const struct resp *r, const char *name)
{
	static char out[1024];
	size_t n = strlen(name);

	for (const char *l = strstr(r->head, "\r\n"); l != NULL;
	    l = strstr(l + 2, "\r\n")) {
		const char *p = l + 2;

		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			p += strspn(p, " ");
			snprintf(out, sizeof(out), "%.*s",
			    (int)strcspn(p, "\r\n"), p);
			return out;
		}
	}
	return NULL;
}

static json_t *
get_json(const struct fx *f, const char *path)
{
	struct resp *r = malloc(sizeof(*r));
	json_t *j;

	assert_non_null(r);
	http(f, "GET", path, NULL, r);
	assert_int_equal(r->status, 200);
	j = json_loadb(r->body, r->body_len, 0, NULL);
	free(r);
	assert_non_null(j);
	return j;
}

/* ---- a fake agent: hello, then one report at busy ---------------------- */

static int
agent(const struct fx *f, const char *host, double busy)
{
	int fd = tcp_connect(f->agent_port);
	json_t *m;
	size_t len;
	char *line;

	m = ebb_msg_new("hello", host, 1, ebb_wallclock());
	json_object_set_new(m, "agent", json_string("test"));
	json_object_set_new(m, "cores", json_integer(2));
	json_object_set_new(m, "mem_kb", json_integer(1024 * 1024));
	json_object_set_new(m, "hypervisor", json_string("none"));
	json_object_set_new(m, "interval_s", json_real(0.1));
	json_object_set_new(m, "vms", json_array());
	line = ebb_msg_encode(m, &len);
	json_decref(m);
	send_all(fd, line);
	free(line);
	m = ebb_msg_new("report", host, 2, ebb_wallclock());
	json_object_set_new(m, "cpu", json_pack("{s:f}", "busy", busy));
	json_object_set_new(m, "vms", json_array());
	line = ebb_msg_encode(m, &len);
	json_decref(m);
	send_all(fd, line);
	free(line);
	return fd;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_page(void **state)
{
	struct fx *f = *state;
	struct resp *r = malloc(sizeof(*r));
	const char *pages[] = { "/", "/index.html", "/web/" };
	char etag[128], inm[200];

	assert_non_null(r);
	start_ctl(f);
	for (size_t i = 0; i < EBB_NITEMS(pages); i++) {
		http(f, "GET", pages[i], NULL, r);
		assert_int_equal(r->status, 200);
		assert_string_equal(header(r, "Content-Type"),
		    "text/html; charset=utf-8");
		assert_non_null(strstr(r->body,
		    "<script src=\"/web/app.js\" defer></script>"));
		assert_non_null(header(r, "Content-Security-Policy"));
		assert_non_null(strstr(header(r, "Content-Security-Policy"),
		    "default-src 'none'"));
		assert_string_equal(header(r, "X-Content-Type-Options"),
		    "nosniff");
		assert_non_null(header(r, "ETag"));
	}
	snprintf(etag, sizeof(etag), "%s", header(r, "ETag"));
	assert_true(etag[0] == '"');

	snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", etag);
	http(f, "GET", "/", inm, r);
	assert_int_equal(r->status, 304);
	assert_int_equal(r->body_len, 0);
	http(f, "GET", "/", "If-None-Match: \"other\"\r\n", r);
	assert_int_equal(r->status, 200);

	http(f, "GET", "/web/app.js", NULL, r);
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type"),
	    "text/javascript; charset=utf-8");
	assert_null(header(r, "Content-Security-Policy"));
	assert_non_null(strstr(r->body, "new EventSource('/api/events')"));
	http(f, "GET", "/web/style.css", NULL, r);
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type"),
	    "text/css; charset=utf-8");
	http(f, "GET", "/web/favicon.svg", NULL, r);
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type"), "image/svg+xml");

	http(f, "GET", "/web/nosuch.js", NULL, r);
	assert_int_equal(r->status, 404);
	http(f, "GET", "/web/web.cmake", NULL, r);
	assert_int_equal(r->status, 404);
	http(f, "POST", "/", NULL, r);
	assert_int_equal(r->status, 405);
	assert_non_null(header(r, "Allow"));
	http(f, "POST", "/api/series", NULL, r);
	assert_int_equal(r->status, 405);
	http(f, "HEAD", "/web/app.js", NULL, r);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 0);

	/* Behind the hook, the API as before. */
	http(f, "GET", "/api/hosts", NULL, r);
	assert_int_equal(r->status, 200);
	http(f, "GET", "/nosuch", NULL, r);
	assert_int_equal(r->status, 404);
	free(r);
	stop_ctl(f);
}

/* The newest sample's value in a series column; NAN if none. */
static double
last(const json_t *s, const char *col)
{
	json_t *a = json_object_get(s, col);
	size_t n = json_array_size(a);

	return n ? json_number_value(json_array_get(a, n - 1)) : NAN;
}

static bool
series_ready(const struct fx *f, json_t **out)
{
	json_t *s = get_json(f, "/api/series");

	if (last(s, "hosts_on") == 1 && last(s, "watts") > 100 &&
	    json_array_size(json_object_get(s, "t")) >= 5) {
		*out = s;
		return true;
	}
	json_decref(s);
	return false;
}

static void
test_series(void **state)
{
	struct fx *f = *state;
	json_t *s = NULL, *s2, *today;
	const char *cols[] = { "t", "hosts_on", "watts", "baseline_w" };
	double end, t1, t0, saved;
	char path[128];
	size_t n;
	int a, b;

	start_ctl(f);
	a = agent(f, "A", 0.5);
	b = agent(f, "B", 0);
	end = now_s() + 5;
	while (!series_ready(f, &s)) {
		if (now_s() > end) {
			dump_log(f);
			fail_msg("no sample with A on");
		}
		usleep(50000);
	}
	n = json_array_size(json_object_get(s, "t"));
	for (size_t i = 0; i < EBB_NITEMS(cols); i++)
		assert_int_equal(json_array_size(json_object_get(s, cols[i])),
		    n);
	assert_int_equal(json_integer_value(json_object_get(s, "max")), 2880);
	assert_true(fabs(json_number_value(json_object_get(s,
	    "interval_s")) - 0.1) < 1e-9);
	/*
	 * ML110 G5 (the default curve): 116 W at 50 %, 93.7 W idle.  B, empty,
	 * was switched off: nothing drawn, idle in the baseline.
	 */
	assert_true(fabs(last(s, "watts") - 116) < 0.05);
	assert_true(fabs(last(s, "baseline_w") - (116 + 93.7)) < 0.05);
	today = json_object_get(s, "today");
	assert_true(json_number_value(json_object_get(today, "energy_kwh")) >
	    0);
	assert_true(json_number_value(json_object_get(today,
	    "baseline_kwh")) > json_number_value(json_object_get(today,
	    "energy_kwh")));
	saved = json_number_value(json_object_get(today, "saved_pct"));
	assert_true(saved > 0 && saved < 100);

	/* since=: only what came after. */
	t1 = last(s, "t");
	t0 = json_number_value(json_array_get(json_object_get(s, "t"), n - 2));
	snprintf(path, sizeof(path), "/api/series?since=%.3f", t0);
	s2 = get_json(f, path);
	assert_true(json_array_size(json_object_get(s2, "t")) >= 1);
	assert_true(json_number_value(json_array_get(json_object_get(s2, "t"),
	    0)) >= t1);
	json_decref(s2);
	snprintf(path, sizeof(path), "/api/series?since=%.3f", t1 + 3600);
	s2 = get_json(f, path);
	assert_int_equal(json_array_size(json_object_get(s2, "t")), 0);
	json_decref(s2);
	json_decref(s);
	close(a);
	close(b);
	stop_ctl(f);
}

/* Opens an event stream; its fd once the 200 head is read, or -status. */
static int
stream_open(const struct fx *f)
{
	int fd = tcp_connect(f->http_port), status = 0;
	char buf[2048];

	send_all(fd, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Accept: text/event-stream\r\n\r\n");
	recv_until(fd, buf, sizeof(buf), "\r\n\r\n", 5);
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || status != 200) {
		close(fd);
		return -(status ? status : 1);
	}
	assert_non_null(strstr(buf, "Content-Type: text/event-stream\r\n"));
	return fd;
}

/* The data of the next "round" event on fd, parsed; fails after 5 s. */
static json_t *
next_round(int fd)
{
	static char buf[65536];
	static size_t len;
	static int buf_fd = -1;
	double end = now_s() + 5;

	if (fd != buf_fd) {
		buf_fd = fd;
		len = 0;
		buf[0] = '\0';
	}
	for (;;) {
		char *ev = strstr(buf, "event: round\ndata: ");
		char *eol = ev ? strstr(ev, "\n\n") : NULL;

		if (eol != NULL) {
			char *data = ev + strlen("event: round\ndata: ");
			json_t *j = json_loadb(data, eol - data, 0, NULL);

			len -= (size_t)(eol + 2 - buf);
			memmove(buf, eol + 2, len + 1);
			assert_non_null(j);
			return j;
		}
		if (now_s() > end)
			fail_msg("no round event within 5 s");
		len += recv_until(fd, buf + len, sizeof(buf) - len, "\n\n",
		    0.2);
	}
}

static void
test_events(void **state)
{
	struct fx *f = *state;
	int fds[STREAMS_MAX], fd;
	json_t *e1, *e2;

	start_ctl(f);
	fds[0] = stream_open(f);
	assert_true(fds[0] >= 0);
	e1 = next_round(fds[0]);
	e2 = next_round(fds[0]);
	assert_true(json_integer_value(json_object_get(e2, "round")) >
	    json_integer_value(json_object_get(e1, "round")));
	assert_true(json_is_number(json_object_get(e2, "ts")));
	assert_true(json_is_integer(json_object_get(e2, "hosts_on")));
	assert_true(json_is_integer(json_object_get(e2, "decisions")));
	/*
	 * Both hosts silent (unknown): not known to be off, so counted on
	 * and at idle power, as in the baseline: no saving claimed.
	 */
	assert_int_equal(json_integer_value(json_object_get(e2, "hosts_on")),
	    2);
	assert_true(fabs(json_number_value(json_object_get(e2, "watts")) -
	    2 * 93.7) < 0.05);
	assert_true(fabs(json_number_value(json_object_get(e2, "baseline_w")) -
	    2 * 93.7) < 0.05);
	assert_true(json_is_object(json_object_get(e2, "today")));
	json_decref(e1);
	json_decref(e2);

	for (int i = 1; i < STREAMS_MAX; i++) {
		fds[i] = stream_open(f);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(stream_open(f), -503);
	/* Pages closed: their streams are found gone and make room. */
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	usleep(300000);
	fd = stream_open(f);
	assert_true(fd >= 0);
	json_decref(next_round(fd));
	close(fd);
	for (int i = 4; i < STREAMS_MAX; i++)
		close(fds[i]);
	stop_ctl(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
