/*
 * test_ctl_api.c - the controller run in-process (its library, in a
 * forked child of this program: ctl_init() + ctl_run(), stopped with
 * SIGTERM), driven through its HTTP API with ebb_http_request() and by
 * fake agents speaking docs/protocol.md over plain TCP on 127.0.0.1
 * ("insecure_plaintext": TLS has its own tests).
 *
 * A fake agent is what makes the power-on path testable at all on a
 * machine without VMs: the policy only wakes an off host as the target of
 * a migration, so an agent must report VMs on an overloaded host.
 *
 * Checked:
 *  - GET /metrics: Prometheus text, every sample with its HELP and TYPE,
 *    host counts by state, VMs, watts, rounds growing between scrapes;
 *    POST /metrics -> 405; unknown paths -> 404;
 *  - power-on then hello: an empty host B is switched off ("command"
 *    driver); A reports two busy VMs (THR 0.8 overloaded); B is switched
 *    on (its on command runs once), is "powering-on" until its agent says
 *    hello, then "on" with the power-on decision "done"; the migration
 *    waited for B and is then sent to A's agent, whose result ends the
 *    migrate decision; the counters in /metrics follow;
 *  - power-on then silence: B is "failed" once boot_timeout_s passes, the
 *    decision "failed: no hello within the boot timeout"; clearing needs
 *    the token, a cleared host is "unknown", clearing a host that is not
 *    failed is 409, and B's hello makes it "on";
 *  - a failed host back without a clear: "on", held from power-off
 *    (power_held) until a clear, then switched off;
 *  - the hold across a restart of the controller: still held, not
 *    switched off, until a clear; not held again after the clear;
 *  - a restart while B is powering-on: B stays powering-on, is not
 *    switched on twice, and its hello ends the power-on decision "done";
 *  - a host the configuration does not list: its hello refused with an
 *    error naming the fix and the connection closed, logged once however
 *    often it retries (hosts listed); added by hello when the
 *    configuration lists none, or lists some and says
 *    "unlisted_hosts": "accept";
 *  - a Wake-on-LAN host without an off command: refused by the
 *    configuration, or not decided for power-off over and over.
 *
 * The child's stderr (the controller's log) goes to DIR/controller.log and
 * is printed when a wait times out.
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

#define TOKEN	"test-token-0123456789abcdef"

struct fx {
	char	dir[64];
	pid_t	ctl;
	int	agent_port;
	int	http_port;
	char	url[64];
};

/* ---- helpers ----------------------------------------------------------- */

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

static int
count_lines(const char *path, const char *line)
{
	char buf[256];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, line) == 0)
			n++;
	}
	fclose(f);
	return n;
}

/* The controller's log, for a failure's message. */
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

#define WAIT_FOR(f, secs, cond, ...) do { \
	double _end = now_s() + (secs); \
	while (!(cond)) { \
		if (now_s() > _end) { \
			dump_log(f); \
			fail_msg(__VA_ARGS__); \
		} \
		usleep(20000); \
	} \
} while (0)

/* The configuration's text, with this hosts list (JSON) and boot timeout. */
static void
config_text(const struct fx *f, char *cfg, size_t len, const char *hosts,
    double boot_timeout_s)
{
	snprintf(cfg, len, "{\"listen\": \"127.0.0.1:0\", "
	    "\"insecure_plaintext\": true, \"http\": "
	    "\"127.0.0.1:0\", \"token_file\": \"%s/token\", \"policy\": "
	    "\"%s/policy.json\", \"journal\": \"%s/journal.db\", "
	    "\"interval_s\": 0.2, \"unknown_after_s\": 60, "
	    "\"boot_timeout_s\": %g, \"min_hosts_on\": 0, \"limits\": "
	    "{\"host_cooldown_s\": 0, \"vm_cooldown_s\": 0}, \"hosts\": %s}",
	    f->dir, f->dir, f->dir, boot_timeout_s, hosts);
}

/* Hosts A (no power driver) and B ("command": on/off logged to B.power). */
static void
ab_hosts(const struct fx *f, char *hosts, size_t len)
{
	snprintf(hosts, len, "[{\"name\": \"A\"}, {\"name\": \"B\", "
	    "\"power\": {\"driver\": \"command\", "
	    "\"on\": \"echo on >> %s/B.power\", "
	    "\"off\": \"echo off >> %s/B.power\"}}]", f->dir, f->dir);
}

/*
 * Starts a controller on 127.0.0.1 (ports chosen by the kernel) with these
 * hosts, the THR 0.8 policy without underload, and this boot timeout.
 */
static void
start_ctl_hosts(struct fx *f, const char *hosts, double boot_timeout_s)
{
	char path[128], cfg[4096], pol[128], log[128];
	int p[2], ports[2] = { 0, 0 };

	snprintf(pol, sizeof(pol), "%s/policy.json", f->dir);
	write_file(pol, "{\"name\": \"test-thr\", \"overload\": {\"detector\": "
	    "\"thr\", \"threshold\": 0.8}, \"selection\": {\"method\": "
	    "\"mmt\"}, \"placement\": {\"order\": \"power\"}, \"underload\": "
	    "{\"enabled\": false}, \"power\": {\"switch_off_empty\": true, "
	    "\"reserve_hosts\": 0, \"min_hosts_on\": 0}}\n");
	snprintf(path, sizeof(path), "%s/token", f->dir);
	write_file(path, TOKEN "\n");
	config_text(f, cfg, sizeof(cfg), hosts, boot_timeout_s);
	snprintf(log, sizeof(log), "%s/controller.log", f->dir);
	assert_int_equal(pipe(p), 0);
	f->ctl = fork();
	assert_true(f->ctl >= 0);
	if (f->ctl == 0) {
		/* The controller; no cmocka here. */
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
	assert_true(f->agent_port > 0);
	assert_true(f->http_port > 0);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->http_port);
}

/* ... with hosts A and B (ab_hosts). */
static void
start_ctl(struct fx *f, double boot_timeout_s)
{
	char hosts[1024];

	ab_hosts(f, hosts, sizeof(hosts));
	start_ctl_hosts(f, hosts, boot_timeout_s);
}

/* SIGTERM; the controller must exit 0 within a few seconds. */
static void
stop_ctl(struct fx *f)
{
	double end = now_s() + 10;
	int st;

	if (f->ctl <= 0)
		return;
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
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_ctl_api.XXXXXX");
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

/* One API call; the body as text (caller frees). */
static char *
api_text(const struct fx *f, const char *method, const char *path,
    const char *body, bool auth, int *status)
{
	const char *hdrs[3] = { "Content-Type: application/json", NULL, NULL };
	struct ebb_err err;
	char url[512], *resp = NULL;
	size_t len;

	if (auth)
		hdrs[1] = "Authorization: Bearer " TOKEN;
	snprintf(url, sizeof(url), "%s%s", f->url, path);
	if (ebb_http_request(method, url, hdrs, body, body ? strlen(body) : 0,
	    5000, status, &resp, &len, &err) != 0)
		fail_msg("%s %s: %s", method, path, err.msg);
	return resp ? resp : ebb_strdup("");
}

static json_t *
api(const struct fx *f, const char *method, const char *path,
    const char *body, bool auth, int *status)
{
	char *text = api_text(f, method, path, body, auth, status);
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	return j;
}

/* A host's state (static buffer), "" if not listed. */
static const char *
host_state(const struct fx *f, const char *name)
{
	static char out[32];
	json_t *a, *h;
	size_t i;
	int st;

	out[0] = '\0';
	a = api(f, "GET", "/api/hosts", NULL, false, &st);
	json_array_foreach(a, i, h)
		if (strcmp(json_string_value(json_object_get(h, "name")),
		    name) == 0)
			snprintf(out, sizeof(out), "%s", json_string_value(
			    json_object_get(h, "state")));
	json_decref(a);
	return out;
}

static bool
state_is(const struct fx *f, const char *name, const char *want)
{
	return strcmp(host_state(f, name), want) == 0;
}

/* The outcome of the newest decision of this kind about host (static). */
static const char *
last_outcome(const struct fx *f, const char *host, const char *kind)
{
	static char out[256];
	char path[256];
	json_t *a;
	int st;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/api/decisions?host=%s&kind=%s", host,
	    kind);
	a = api(f, "GET", path, NULL, false, &st);
	if (json_array_size(a) > 0)
		snprintf(out, sizeof(out), "%s", json_string_value(
		    json_object_get(json_array_get(a, json_array_size(a) - 1),
		    "outcome")));
	json_decref(a);
	return out;
}

static int
count_decisions(const struct fx *f, const char *host, const char *kind)
{
	char path[256];
	json_t *a;
	int st, n;

	snprintf(path, sizeof(path), "/api/decisions?host=%s&kind=%s", host,
	    kind);
	a = api(f, "GET", path, NULL, false, &st);
	n = (int)json_array_size(a);
	json_decref(a);
	return n;
}

/* A metric's value in a /metrics text; NAN if absent. */
static double
metric(const char *text, const char *sample)
{
	size_t n = strlen(sample);

	for (const char *l = text; l && *l; ) {
		if (strncmp(l, sample, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return NAN;
}

static double
scrape(const struct fx *f, const char *sample)
{
	int st;
	char *t = api_text(f, "GET", "/metrics", NULL, false, &st);
	double v = metric(t, sample);

	free(t);
	return v;
}

/* ---- fake agents ------------------------------------------------------- */

struct agent {
	int		fd;
	char		host[16];
	uint64_t	seq;
	char		buf[65536];
	size_t		len;
};

static void
agent_send(struct agent *a, json_t *m)
{
	size_t len;
	char *line = ebb_msg_encode(m, &len);

	json_decref(m);
	assert_non_null(line);
	assert_int_equal(send(a->fd, line, len, MSG_NOSIGNAL), (ssize_t)len);
	free(line);
}

static json_t *
agent_msg(struct agent *a, const char *type)
{
	return ebb_msg_new(type, a->host, a->seq++, ebb_wallclock());
}

static void
agent_connect(const struct fx *f, struct agent *a, const char *host)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	json_t *m;

	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(a->fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(f->agent_port);
	assert_int_equal(connect(a->fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	m = agent_msg(a, "hello");
	json_object_set_new(m, "agent", json_string("test"));
	json_object_set_new(m, "cores", json_integer(2));
	json_object_set_new(m, "mem_kb", json_integer(16 * 1024 * 1024));
	/* A hypervisor that can migrate, and how a source reaches it. */
	json_object_set_new(m, "hypervisor", json_string("test"));
	json_object_set_new(m, "migrate", json_pack("{s:s}", "peer",
	    "test:///fake"));
	/* Alike CPUs: the controller moves VMs only between compatible
	 * hosts. */
	json_object_set_new(m, "cpu", json_pack("{s:s, s:s, s:[s, s]}",
	    "vendor", "GenuineIntel", "model", "test", "flags", "sse2",
	    "avx2"));
	json_object_set_new(m, "interval_s", json_real(0.2));
	json_object_set_new(m, "vms", json_array());
	agent_send(a, m);
}

/* A report with n VMs "vm1".."vmN", 1 vCPU and 512 MB each, at util. */
static void
agent_report(struct agent *a, int n, double util)
{
	json_t *m = agent_msg(a, "report"), *vms = json_array();

	for (int i = 1; i <= n; i++) {
		char id[16];

		snprintf(id, sizeof(id), "vm%d", i);
		json_array_append_new(vms, json_pack("{s:s, s:s, s:f, s:i, "
		    "s:i}", "id", id, "state", "running", "cpu", util, "vcpus",
		    1, "mem_mb", 512));
	}
	json_object_set_new(m, "interval_s", json_real(0.2));
	json_object_set_new(m, "cpu", json_pack("{s:f}", "busy", n ? util *
	    n / 2 : 0.0));
	json_object_set_new(m, "vms", vms);
	agent_send(a, m);
}

/* The next message from the controller, within timeout_s; NULL if none. */
static json_t *
agent_recv(struct agent *a, double timeout_s)
{
	double end = now_s() + timeout_s;

	for (;;) {
		char *nl = memchr(a->buf, '\n', a->len);
		struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
		ssize_t n;

		if (nl != NULL) {
			json_t *j = json_loadb(a->buf, nl - a->buf, 0, NULL);

			a->len -= nl + 1 - a->buf;
			memmove(a->buf, nl + 1, a->len);
			return j;
		}
		if (now_s() > end)
			return NULL;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(a->fd, a->buf + a->len, sizeof(a->buf) - a->len, 0);
		if (n <= 0)
			return NULL;
		a->len += n;
	}
}

static void
agent_close(struct agent *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

/* ---- /metrics ---------------------------------------------------------- */

static void
test_metrics(void **state)
{
	struct fx *f = *state;
	struct agent a;
	char *t, *t2, *line, *save;
	double r1;
	json_t *j;
	int st;

	start_ctl(f, 60);
	agent_connect(f, &a, "A");
	agent_report(&a, 1, 0.5);
	WAIT_FOR(f, 10, state_is(f, "A", "on"), "A is not on");
	WAIT_FOR(f, 10, scrape(f, "ebb_vms") == 1, "ebb_vms is not 1");
	WAIT_FOR(f, 10, scrape(f, "ebb_rounds_total") >= 1, "no round ran");

	t = api_text(f, "GET", "/metrics", NULL, false, &st);
	assert_int_equal(st, 200);
	assert_true(metric(t, "ebb_hosts{state=\"on\"}") == 1);
	assert_true(metric(t, "ebb_hosts{state=\"unknown\"}") == 1);
	assert_true(metric(t, "ebb_hosts{state=\"off\"}") == 0);
	assert_true(metric(t, "ebb_hosts{state=\"maintenance\"}") == 0);
	assert_true(metric(t, "ebb_fleet_watts") > 0);
	assert_true(metric(t, "ebb_power_actions_total{action=\"on\"}") == 0);
	assert_true(metric(t, "ebb_migrations_total") == 0);
	assert_true(metric(t, "ebb_round_seconds") >= 0);
	r1 = metric(t, "ebb_rounds_total");
	if (!(r1 >= 1))
		fail_msg("ebb_rounds_total: %g in:\n%s", r1, t);
	/* Every sample's metric has its HELP and TYPE before it. */
	t2 = ebb_strdup(t);
	for (line = strtok_r(t2, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[128], help[160], type[160];

		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%127[a-z_]", name), 1);
		snprintf(help, sizeof(help), "# HELP %s ", name);
		snprintf(type, sizeof(type), "# TYPE %s ", name);
		if (strstr(t, help) == NULL || strstr(t, type) == NULL ||
		    strstr(t, type) > strstr(t, line))
			fail_msg("sample '%s' lacks HELP or TYPE before it",
			    line);
		/* NAME{labels} VALUE */
		assert_non_null(strchr(line, ' '));
	}
	free(t2);
	free(t);
	/* Rounds go on (interval 0.2 s). */
	WAIT_FOR(f, 10, scrape(f, "ebb_rounds_total") > r1,
	    "ebb_rounds_total stays at %g", r1);

	t = api_text(f, "POST", "/metrics", "", false, &st);
	assert_int_equal(st, 405);
	free(t);
	j = api(f, "GET", "/nowhere", NULL, false, &st);
	assert_int_equal(st, 404);
	json_decref(j);
	j = api(f, "GET", "/api/nowhere", NULL, false, &st);
	assert_int_equal(st, 404);
	json_decref(j);
	agent_close(&a);
	stop_ctl(f);
}

/* ---- power-on ---------------------------------------------------------- */

/*
 * A on with no VM, B says hello and, empty, is switched off; B's agent
 * goes away as its host would.  Then A reports two VMs at 100 %: A is
 * overloaded, the policy moves one VM to B and so wakes B.  Returns with
 * B powering-on.
 */
static void
to_powering_on(struct fx *f, struct agent *a, char *power_log,
    size_t len)
{
	struct agent b;

	snprintf(power_log, len, "%s/B.power", f->dir);
	agent_connect(f, a, "A");
	agent_report(a, 0, 0);
	agent_connect(f, &b, "B");
	agent_report(&b, 0, 0);
	WAIT_FOR(f, 10, state_is(f, "B", "off"), "B was not switched off "
	    "(state %s)", host_state(f, "B"));
	assert_int_equal(count_lines(power_log, "off"), 1);
	assert_string_equal(last_outcome(f, "B", "power-off"), "done");
	/* A has no power driver: kept on. */
	assert_true(state_is(f, "A", "on"));
	agent_close(&b);

	agent_report(a, 2, 1.0);
	WAIT_FOR(f, 10, count_lines(power_log, "on") == 1, "B's on command "
	    "did not run (B %s)", host_state(f, "B"));
	WAIT_FOR(f, 5, state_is(f, "B", "powering-on"), "B is %s, not "
	    "powering-on", host_state(f, "B"));
	assert_string_equal(last_outcome(f, "B", "power-on"), "pending");
	assert_true(scrape(f, "ebb_power_actions_total{action=\"on\"}") == 1);
	assert_true(scrape(f, "ebb_power_actions_total{action=\"off\"}") ==
	    1);
}

static void
test_power_on_then_hello(void **state)
{
	struct fx *f = *state;
	struct agent a, b;
	char power_log[128];
	json_t *m = NULL, *r;
	double end;

	start_ctl(f, 60);
	to_powering_on(f, &a, power_log, sizeof(power_log));
	/* Not before B says hello: no migration is sent to A. */
	m = agent_recv(&a, 0.6);
	if (m != NULL) {
		char *s = json_dumps(m, JSON_COMPACT);

		json_decref(m);
		fail_msg("A got a message while B boots: %s", s);
	}
	assert_int_equal(count_decisions(f, "A", "migrate"), 0);

	agent_connect(f, &b, "B");
	WAIT_FOR(f, 5, state_is(f, "B", "on"), "B is %s after its hello",
	    host_state(f, "B"));
	assert_string_equal(last_outcome(f, "B", "power-on"), "done");
	/* The power-on ran once, and nothing switched B off again. */
	assert_int_equal(count_lines(power_log, "on"), 1);

	/* The migration, now that B is on: a command to A's agent. */
	end = now_s() + 10;
	while ((m = agent_recv(&a, end - now_s())) != NULL) {
		if (strcmp(json_string_value(json_object_get(m, "type")),
		    "command") == 0)
			break;
		json_decref(m);
	}
	if (m == NULL) {
		dump_log(f);
		fail_msg("A got no migrate command");
	}
	assert_string_equal(json_string_value(json_object_get(m, "op")),
	    "migrate");
	assert_string_equal(json_string_value(json_object_get(m, "to")), "B");
	assert_string_equal(json_string_value(json_object_get(m, "host")), "A");
	assert_string_equal(last_outcome(f, "A", "migrate"), "pending");
	assert_true(scrape(f, "ebb_migrations_total") == 1);
	r = agent_msg(&a, "result");
	json_object_set(r, "cmd", json_object_get(m, "cmd"));
	json_object_set_new(r, "ok", json_true());
	agent_send(&a, r);
	json_decref(m);
	WAIT_FOR(f, 5, strcmp(last_outcome(f, "A", "migrate"), "done") == 0,
	    "the migrate decision is %s after the result",
	    last_outcome(f, "A", "migrate"));
	agent_close(&a);
	agent_close(&b);
	stop_ctl(f);
}

static void
test_power_on_boot_timeout(void **state)
{
	struct fx *f = *state;
	struct agent a, b;
	char power_log[128];
	json_t *j;
	int st;

	/* 2 s: time to see "powering-on" first on a loaded machine. */
	start_ctl(f, 2);
	to_powering_on(f, &a, power_log, sizeof(power_log));
	WAIT_FOR(f, 10, state_is(f, "B", "failed"), "B is %s, not failed after "
	    "the boot timeout", host_state(f, "B"));
	assert_string_equal(last_outcome(f, "B", "power-on"),
	    "failed: no hello within the boot timeout");
	j = api(f, "GET", "/api/why/B", NULL, false, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "failed");
	json_decref(j);
	/* A failed host is not woken again by itself. */
	usleep(600000);
	assert_true(state_is(f, "B", "failed"));
	assert_int_equal(count_lines(power_log, "on"), 1);

	/* Clearing needs the token; only a failed host can be cleared. */
	j = api(f, "POST", "/api/hosts/B/clear", "", false, &st);
	assert_int_equal(st, 401);
	json_decref(j);
	assert_true(state_is(f, "B", "failed"));
	j = api(f, "POST", "/api/hosts/A/clear", "", true, &st);
	assert_int_equal(st, 409);
	json_decref(j);
	j = api(f, "POST", "/api/hosts/nosuch/clear", "", true, &st);
	assert_int_equal(st, 404);
	json_decref(j);
	j = api(f, "POST", "/api/hosts/B/clear", "", true, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "unknown");
	json_decref(j);
	assert_true(state_is(f, "B", "unknown"));
	assert_string_equal(last_outcome(f, "B", "clear"), "done");

	/* Its agent's hello brings it back. */
	agent_connect(f, &b, "B");
	WAIT_FOR(f, 5, state_is(f, "B", "on"), "B is %s after hello",
	    host_state(f, "B"));
	agent_close(&a);
	agent_close(&b);
	stop_ctl(f);
}

/*
 * A failed host whose agent says hello without an operator's clear is used
 * again ("on") but held from power-off: empty, it is not switched off,
 * /api/hosts says power_held; a clear releases it, and it is switched off.
 */
static void
test_power_held_after_failure(void **state)
{
	struct fx *f = *state;
	struct agent a, b;
	char power_log[128];
	json_t *j, *h;
	size_t i;
	int st;

	start_ctl(f, 2);
	to_powering_on(f, &a, power_log, sizeof(power_log));
	WAIT_FOR(f, 10, state_is(f, "B", "failed"), "B is %s, not failed after "
	    "the boot timeout", host_state(f, "B"));
	/* A quiet again, then B comes back on its own. */
	agent_report(&a, 0, 0);
	agent_connect(f, &b, "B");
	agent_report(&b, 0, 0);
	WAIT_FOR(f, 5, state_is(f, "B", "on"), "B is %s after hello",
	    host_state(f, "B"));
	usleep(1500000);
	agent_report(&b, 0, 0);
	assert_true(state_is(f, "B", "on"));
	assert_int_equal(count_lines(power_log, "off"), 1);
	j = api(f, "GET", "/api/hosts", NULL, false, &st);
	assert_int_equal(st, 200);
	json_array_foreach(j, i, h)
		if (strcmp(json_string_value(json_object_get(h, "name")),
		    "B") == 0)
			assert_true(json_is_true(json_object_get(h,
			    "power_held")));
	json_decref(j);

	j = api(f, "POST", "/api/hosts/B/clear", "", true, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "on");
	assert_null(json_object_get(j, "power_held"));
	json_decref(j);
	agent_report(&b, 0, 0);
	WAIT_FOR(f, 10, count_lines(power_log, "off") == 2, "B was not "
	    "switched off once cleared (state %s)", host_state(f, "B"));
	agent_close(&a);
	agent_close(&b);
	stop_ctl(f);
}

/* Whether /api/hosts says host is power_held. */
static bool
held(const struct fx *f, const char *name)
{
	bool out = false;
	json_t *a, *h;
	size_t i;
	int st;

	a = api(f, "GET", "/api/hosts", NULL, false, &st);
	assert_int_equal(st, 200);
	json_array_foreach(a, i, h)
		if (strcmp(json_string_value(json_object_get(h, "name")),
		    name) == 0)
			out = json_is_true(json_object_get(h, "power_held"));
	json_decref(a);
	return out;
}

/*
 * The hold outlives the controller: B failed and came back, the
 * controller restarts on the same journal, and B, empty and on again, is
 * still not switched off; the clear releases it, and a restart after the
 * clear does not bring the hold back.
 */
static void
test_power_held_across_restart(void **state)
{
	struct fx *f = *state;
	struct agent a, b;
	char power_log[128];
	json_t *j;
	int st;

	start_ctl(f, 2);
	to_powering_on(f, &a, power_log, sizeof(power_log));
	WAIT_FOR(f, 10, state_is(f, "B", "failed"), "B is %s, not failed after "
	    "the boot timeout", host_state(f, "B"));
	agent_report(&a, 0, 0);
	agent_connect(f, &b, "B");
	WAIT_FOR(f, 5, state_is(f, "B", "on"), "B is %s after hello",
	    host_state(f, "B"));
	assert_true(held(f, "B"));
	agent_close(&a);
	agent_close(&b);
	stop_ctl(f);

	start_ctl(f, 2);
	if (!held(f, "B"))
		fail_msg("B failed and was never cleared, and after a restart "
		    "it is not held from power-off (state %s)",
		    host_state(f, "B"));
	agent_connect(f, &a, "A");
	agent_report(&a, 0, 0);
	agent_connect(f, &b, "B");
	agent_report(&b, 0, 0);
	WAIT_FOR(f, 5, state_is(f, "B", "on"), "B is %s after hello",
	    host_state(f, "B"));
	usleep(1500000);
	agent_report(&b, 0, 0);
	usleep(400000);
	assert_true(state_is(f, "B", "on"));
	assert_int_equal(count_lines(power_log, "off"), 1);
	assert_true(held(f, "B"));
	j = api(f, "POST", "/api/hosts/B/clear", "", true, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	assert_false(held(f, "B"));
	agent_close(&a);
	agent_close(&b);
	stop_ctl(f);

	start_ctl(f, 2);
	assert_false(held(f, "B"));
	stop_ctl(f);
}

/*
 * The controller stops while B is powering-on, and starts again on the
 * same journal: B is still powering-on (not switched on a second time),
 * and when B says hello the power-on decision ends "done": resume()
 * (controller/ctl_jnl.c) restores the host's power_decision and
 * power_action with its state, or the decision would stay "pending".
 */
static void
test_power_on_across_restart(void **state)
{
	struct fx *f = *state;
	struct agent a, b;
	char power_log[128];

	start_ctl(f, 60);
	to_powering_on(f, &a, power_log, sizeof(power_log));
	agent_close(&a);
	stop_ctl(f);
	start_ctl(f, 60);
	assert_true(state_is(f, "B", "powering-on"));
	usleep(600000);
	assert_int_equal(count_lines(power_log, "on"), 1);
	agent_connect(f, &b, "B");
	WAIT_FOR(f, 5, state_is(f, "B", "on"), "B is %s after its hello",
	    host_state(f, "B"));
	assert_int_equal(count_decisions(f, "B", "power-on"), 1);
	if (strcmp(last_outcome(f, "B", "power-on"), "done") != 0)
		fail_msg("B said hello after the restart, and its power-on "
		    "decision is still \"%s\"", last_outcome(f, "B",
		    "power-on"));
	agent_close(&b);
	stop_ctl(f);
}

/* ---- hosts the configuration does not list ------------------------------ */

/* Lines of the controller's log that hold text. */
static int
log_count(const struct fx *f, const char *text)
{
	char path[128], buf[1024];
	FILE *l;
	int n = 0;

	snprintf(path, sizeof(path), "%s/controller.log", f->dir);
	if ((l = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), l) != NULL)
		if (strstr(buf, text) != NULL)
			n++;
	fclose(l);
	return n;
}

/*
 * Host X says hello: refused with an error that names the way out, and
 * the connection closed; X is not listed.  Returns with x closed.
 */
static void
hello_refused(const struct fx *f, struct agent *x)
{
	json_t *m;

	agent_connect(f, x, "X");
	m = agent_recv(x, 5);
	if (m == NULL)
		fail_msg("no answer to an unlisted host's hello");
	assert_string_equal(json_string_value(json_object_get(m, "type")),
	    "error");
	assert_non_null(strstr(json_string_value(json_object_get(m, "error")),
	    "\"unlisted_hosts\": \"accept\""));
	json_decref(m);
	m = agent_recv(x, 5);
	if (m != NULL)
		fail_msg("the connection of a refused hello stays open");
	agent_close(x);
}

/*
 * The configuration lists A and B and says nothing of unlisted hosts: X's
 * hello is refused, every time, and logged once; X is never a host, and
 * the listed ones are served meanwhile.
 */
static void
test_unlisted_refused(void **state)
{
	struct fx *f = *state;
	struct agent a, x;

	start_ctl(f, 60);
	for (int i = 0; i < 3; i++)
		hello_refused(f, &x);
	assert_string_equal(host_state(f, "X"), "");
	assert_int_equal(log_count(f, "host \"X\" is not in"), 1);
	agent_connect(f, &a, "A");
	agent_report(&a, 0, 0);
	WAIT_FOR(f, 5, state_is(f, "A", "on"), "A is %s after hello",
	    host_state(f, "A"));
	agent_close(&a);
	stop_ctl(f);
}

/* A configuration that lists no host discovers them by hello. */
static void
test_unlisted_discovered(void **state)
{
	struct fx *f = *state;
	struct agent x;

	start_ctl_hosts(f, "[]", 60);
	agent_connect(f, &x, "X");
	agent_report(&x, 0, 0);
	WAIT_FOR(f, 5, state_is(f, "X", "on"), "X is \"%s\" after hello",
	    host_state(f, "X"));
	agent_close(&x);
	stop_ctl(f);
}

/* Hosts listed, and "unlisted_hosts": "accept": X is added by hello. */
static void
test_unlisted_accepted(void **state)
{
	struct fx *f = *state;
	struct agent x;
	char hosts[1024];

	ab_hosts(f, hosts, sizeof(hosts));
	/* config_text() closes the object after the hosts. */
	snprintf(hosts + strlen(hosts), sizeof(hosts) - strlen(hosts),
	    ", \"unlisted_hosts\": \"accept\"");
	start_ctl_hosts(f, hosts, 60);
	agent_connect(f, &x, "X");
	agent_report(&x, 0, 0);
	WAIT_FOR(f, 5, state_is(f, "X", "on"), "X is \"%s\" after hello",
	    host_state(f, "X"));
	assert_int_equal(log_count(f, "is not in"), 0);
	agent_close(&x);
	stop_ctl(f);
}

/* ---- a driver that cannot switch off ----------------------------------- */

/*
 * A Wake-on-LAN host without an off command cannot be switched off by the
 * controller.  Either the configuration refuses it, or the controller must
 * not decide (and journal, with an fsync) a power-off that fails every
 * round: at most one such decision in ten rounds.  (With host_cooldown_s
 * 0 here, but the same happens with any cooldown: a power action that
 * fails to start sets no cooldown.)
 */
static void
test_wol_without_off_not_retried(void **state)
{
	struct fx *f = *state;
	char hosts[512], cfg[4096];
	struct ctl_config c;
	struct ebb_err err = { "" };
	struct agent w;
	double r0;
	int n;

	/* Power-on is never asked here; 127.0.0.1 keeps it local anyway. */
	snprintf(hosts, sizeof(hosts), "[{\"name\": \"W\", \"power\": "
	    "{\"driver\": \"wol\", \"mac\": \"52:54:00:12:34:56\", "
	    "\"broadcast\": \"127.0.0.1\", \"port\": 9}}]");
	config_text(f, cfg, sizeof(cfg), hosts, 60);
	ctl_config_defaults(&c);
	if (ctl_config_parse(cfg, "test.json", &c, &err) != 0) {
		/* Refused up front: fine, if it says why. */
		assert_non_null(strstr(err.msg, "off"));
		return;
	}
	ctl_config_free(&c);
	start_ctl_hosts(f, hosts, 60);
	agent_connect(f, &w, "W");
	agent_report(&w, 0, 0);
	WAIT_FOR(f, 10, count_decisions(f, "W", "power-off") >= 1,
	    "no power-off was even considered for W");
	r0 = scrape(f, "ebb_rounds_total");
	WAIT_FOR(f, 20, scrape(f, "ebb_rounds_total") >= r0 + 10,
	    "rounds do not advance");
	n = count_decisions(f, "W", "power-off");
	if (n > 1)
		fail_msg("a power-off that cannot work was decided %d times in "
		    "10 rounds (last outcome: %s)", n,
		    last_outcome(f, "W", "power-off"));
	agent_close(&w);
	stop_ctl(f);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_on_then_hello,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_on_boot_timeout,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_held_after_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_power_held_across_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_on_across_restart,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_wol_without_off_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlisted_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unlisted_discovered,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlisted_accepted, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
