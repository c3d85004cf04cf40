/*
 * test_agent_e2e.c - ebb-agent as a real process, with this program
 * playing its controller.
 *
 * Each test listens on 127.0.0.1 (port 0), writes a configuration into a
 * private mkdtemp directory, fork+execs $EBB_BIN/ebb-agent -c FILE,
 * accepts its connection and reads its lines with ebb_linebuf, checking
 * every one with ebb_msg_parse.  Checked:
 *   - the first message is a valid hello, then reports with increasing
 *     seq about every interval_s, whose figures are in range and whose
 *     parked/unparked lists partition the online cpus, cpu0 unparked;
 *   - commands: ping, hypervisor ops without a driver, unknown ops (also
 *     one whose quoted name would be cut inside a UTF-8 character), a
 *     command for another host, replayed seqs, missing fields;
 *   - garbage (malformed JSON, non-objects, missing header fields, NULs,
 *     binary noise) is answered with error messages and changes nothing;
 *     a line of exactly the limit is served, a longer one drops the
 *     connection, and the agent reconnects with a fresh hello;
 *   - a controller that never reads is dropped once the agent's output
 *     queue is full, and the agent comes back;
 *   - the controller going away and coming back on the same port;
 *   - SIGHUP is ignored, SIGTERM and SIGINT stop it with status 0;
 *   - the command line: --help, --check-config good and bad;
 *   - GET /metrics on metrics_listen, and 404 elsewhere;
 *   - core parking follows load (actuator "none": decisions are only
 *     reported, the kernel is not touched).  That test measures the
 *     host's real load, so it runs on its own: EBB_E2E_TESTS=parking
 *     selects it (tests/agent/test-agent-parking.sh does), and the
 *     program then exits 77 when the host was too busy to watch a clean
 *     transition.  Without EBB_E2E_TESTS every other test runs.
 *
 * Every child (the agent, load generators) dies with this program
 * (PR_SET_PDEATHSIG) and is killed in each test's teardown and at exit.
 * After each test the agent must stop on SIGTERM with status 0, which in
 * a sanitizer build also means it leaked nothing.
 *
 * Needs EBB_BIN (ctest sets it); without it the program exits 77.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "ebb.h"
#include "ebb_net.h"
#include "ebb_rand.h"
#include "ebb_wire.h"
#include "pwr_actuate.h"
#include "pwr_park.h"

#define AGENT_HOST	"e2e-host"
#define INTERVAL_S	0.2
#define RECONNECT_MAX_S	1.0
#define MAX_SPIN	64

/* The parking test's parameters (written into its configuration). */
#define PARK_INC	0.6
#define PARK_DEC	0.3
#define PARK_DEC_TIME	0.6
#define PARK_HEADROOM	0.25

static struct e2e {
	const char	*bin;			/* $EBB_BIN */
	char		 agent_path[PATH_MAX];
	char		 dir[PATH_MAX];		/* this test's mkdtemp */
	char		 cfg[PATH_MAX + 32];
	char		 log[PATH_MAX + 32];
	pid_t		 agent;			/* -1: none */
	bool		 agent_reaped;		/* it ended, with ... */
	int		 agent_status;		/* ... this status */
	pid_t		 spin[MAX_SPIN];
	int		 nspin;
	int		 lfd;			/* our listener, or -1 */
	int		 port;
	int		 cfd;			/* the agent's connection */
	struct ebb_linebuf lb;
	uint64_t	 ctl_seq;		/* our next seq */
	bool		 agent_seq_seen;	/* on this connection */
	uint64_t	 agent_seq;
	struct pwr_mask	 online;
	int		 nonline;
	bool		 finished;		/* the test reached its end */
	bool		 skipped;		/* a test skipped itself */
} g = { .agent = -1, .lfd = -1, .cfd = -1 };

/* ---- children ---------------------------------------------------------- */

static bool
wait_exit(pid_t pid, int ms, int *status)
{
	double deadline = ebb_monoclock() + ms / 1000.0;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR)
			return true;	/* not ours any more */
		if (ebb_monoclock() > deadline)
			return false;
		usleep(10000);
	}
}

static void
stop_spinners(void)
{
	for (int i = 0; i < g.nspin; i++) {
		int st;

		kill(g.spin[i], SIGKILL);
		waitpid(g.spin[i], &st, 0);
	}
	g.nspin = 0;
}

/* The safety net: whatever happened, no child outlives us. */
static void
kill_children(void)
{
	stop_spinners();
	if (g.agent > 0 && !g.agent_reaped) {
		int st;

		kill(g.agent, SIGKILL);
		waitpid(g.agent, &st, 0);
	}
	g.agent = -1;
}

/* In a child: die with the parent, even if it dies by SIGKILL. */
static void
child_tie(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

/* Whether the agent runs; if it ended, its status is kept for teardown. */
static bool
agent_alive(void)
{
	if (g.agent <= 0 || g.agent_reaped)
		return false;
	if (waitpid(g.agent, &g.agent_status, WNOHANG) == g.agent) {
		g.agent_reaped = true;
		return false;
	}
	return true;
}

static void
start_agent_args(const char *const *extra)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[16] = { "ebb-agent" };
		int fd, n = 1;

		child_tie(parent);
		fd = open(g.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		for (; extra != NULL && *extra != NULL && n < 15; extra++)
			argv[n++] = *extra;
		argv[n] = NULL;
		execv(g.agent_path, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	g.agent = pid;
	g.agent_reaped = false;
}

static void
start_agent(void)
{
	const char *const args[] = { "-v", "-c", g.cfg, NULL };

	start_agent_args(args);
}

/* Prints the agent's log, for a test that failed. */
static void
dump_log(void)
{
	char line[1024];
	FILE *f = fopen(g.log, "r");
	int n = 0;

	if (f == NULL)
		return;
	print_message("---- ebb-agent's log (%s) ----\n", g.log);
	while (fgets(line, sizeof(line), f) != NULL && n++ < 200)
		print_message("| %s", line);
	print_message("---- end of log ----\n");
	fclose(f);
}

/*
 * Waits until the agent's log holds `want`.  The agent logs its start-up
 * line after agt_init(), once signals are blocked and go to its signalfd:
 * a signal sent earlier would meet the default action.
 */
static void
wait_log(const char *want, int ms)
{
	double deadline = ebb_monoclock() + ms / 1000.0;
	char buf[65536];

	for (;;) {
		FILE *f = fopen(g.log, "r");
		size_t n = 0;

		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (strstr(buf, want) != NULL)
			return;
		if (ebb_monoclock() > deadline)
			fail_msg("the agent's log lacks \"%s\" after %d ms",
			    want, ms);
		usleep(20000);
	}
}

/* ---- configuration --------------------------------------------------- */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/*
 * The agent's configuration: this test as controller, over plain TCP
 * ("insecure_plaintext": the TLS layer has its own tests, test_tls and
 * security/test-tls), interval 0.2 s, reconnect at most 1 s, actuator
 * "none".  metrics: "" for none; parking: the parking object, NULL for
 * one that only reports.
 */
static void
write_config(const char *metrics, const char *parking)
{
	char text[PATH_MAX + 4096];

	snprintf(text, sizeof(text),
	    "{\n"
	    "  \"host\": \"" AGENT_HOST "\",\n"
	    "  \"controller\": \"127.0.0.1:%d\",\n"
	    "  \"insecure_plaintext\": true,\n"
	    "  \"interval_s\": %g,\n"
	    "  \"reconnect_max_s\": %g,\n"
	    "  \"state_dir\": \"%s\",\n"
	    "  \"metrics_listen\": \"%s\",\n"
	    "  \"hypervisor\": { \"driver\": \"none\" },\n"
	    "  \"parking\": %s,\n"
	    "  \"power\": { \"driver\": \"none\" }\n"
	    "}\n", g.port, INTERVAL_S, RECONNECT_MAX_S, g.dir,
	    metrics ? metrics : "",
	    parking ? parking : "{ \"enabled\": true, \"actuator\": \"none\","
	    " \"lower_max_freq\": false }");
	write_file(g.cfg, text);
}

/* ---- the controller's side --------------------------------------------- */

static void
accept_agent(int ms)
{
	double deadline = ebb_monoclock() + ms / 1000.0;
	int fd;

	for (;;) {
		struct pollfd pfd = { .fd = g.lfd, .events = POLLIN };
		int left = (int)((deadline - ebb_monoclock()) * 1000);

		fd = ebb_accept(g.lfd);
		if (fd >= 0)
			break;
		if (fd != -EAGAIN)
			fail_msg("accept: %s", strerror(-fd));
		if (left <= 0)
			fail_msg("the agent did not connect within %d ms "
			    "(alive: %d)", ms, agent_alive());
		poll(&pfd, 1, left);
	}
	if (g.cfd >= 0)
		close(g.cfd);
	g.cfd = fd;
	ebb_linebuf_free(&g.lb);
	ebb_linebuf_init(&g.lb);
	g.agent_seq_seen = false;
}

/* Closes our end of the agent's connection. */
static void
hang_up(void)
{
	if (g.cfd >= 0)
		close(g.cfd);
	g.cfd = -1;
	ebb_linebuf_free(&g.lb);
	ebb_linebuf_init(&g.lb);
}

/* Header rules every message from the agent obeys, beyond parsing. */
static void
check_header(const struct ebb_msg *m)
{
	double now = ebb_wallclock();

	assert_string_equal(m->host, AGENT_HOST);
	if (g.agent_seq_seen && m->seq <= g.agent_seq)
		fail_msg("the agent's seq went from %llu to %llu (%s)",
		    (unsigned long long)g.agent_seq,
		    (unsigned long long)m->seq, m->type);
	g.agent_seq_seen = true;
	g.agent_seq = m->seq;
	if (fabs(m->ts - now) > 300)
		fail_msg("ts %.3f is far from our clock %.3f", m->ts, now);
}

/*
 * The next message from the agent within ms: 1 with *m filled (free it),
 * 0 on timeout, -1 when the agent closed the connection.
 */
static int
read_msg(int ms, struct ebb_msg *m)
{
	double deadline = ebb_monoclock() + ms / 1000.0;

	for (;;) {
		struct pollfd pfd = { .fd = g.cfd, .events = POLLIN };
		struct ebb_err err = { "" };
		const char *line;
		size_t len;
		ssize_t n;
		int rc, left;

		rc = ebb_linebuf_next(&g.lb, &line, &len);
		if (rc == 1) {
			if (ebb_msg_parse(line, len, m, &err) != 0)
				fail_msg("the agent sent a bad message: %s: "
				    "%.*s", err.msg, (int)EBB_MIN(len, 300),
				    line);
			check_header(m);
			return 1;
		}
		if (rc < 0)
			fail_msg("the agent sent a line over the limit");
		left = (int)ceil((deadline - ebb_monoclock()) * 1000);
		if (left <= 0)
			return 0;
		poll(&pfd, 1, left);
		n = ebb_linebuf_read(&g.lb, g.cfd);
		if (n == 0 || n == -ECONNRESET)
			return -1;
		if (n < 0 && n != -EAGAIN)
			fail_msg("reading from the agent: %s",
			    strerror((int)-n));
	}
}

/* The next message that is not a report; fails on timeout or EOF. */
static void
next_answer(int ms, struct ebb_msg *m)
{
	double deadline = ebb_monoclock() + ms / 1000.0;

	for (;;) {
		int left = (int)ceil((deadline - ebb_monoclock()) * 1000);
		int rc = read_msg(EBB_MAX(left, 0), m);

		if (rc == 0)
			fail_msg("no answer from the agent within %d ms "
			    "(alive: %d)", ms, agent_alive());
		if (rc < 0)
			fail_msg("the agent closed the connection (alive: %d)",
			    agent_alive());
		if (strcmp(m->type, "report") != 0)
			return;
		ebb_msg_free(m);
	}
}

/* The next report; fails on timeout or EOF or any other message. */
static void
next_report(int ms, struct ebb_msg *m)
{
	int rc = read_msg(ms, m);

	if (rc <= 0)
		fail_msg("no report within %d ms (%s; alive: %d)", ms,
		    rc == 0 ? "timeout" : "connection closed", agent_alive());
	if (strcmp(m->type, "report") != 0)
		fail_msg("expected a report, got a %s", m->type);
}

static void
send_raw(const void *buf, size_t len)
{
	int rc = ebb_write_all(g.cfd, buf, len, 3000);

	if (rc != 0)
		fail_msg("sending %zu bytes to the agent: %s", len,
		    strerror(-rc));
}

static void
send_str(const char *s)
{
	send_raw(s, strlen(s));
}

static void
send_msg(json_t *o)
{
	size_t len;
	char *line = ebb_msg_encode(o, &len);

	json_decref(o);
	assert_non_null(line);
	send_raw(line, len);
	free(line);
}

/* A command with the given header; cmd = seq, as the controller does. */
static json_t *
command(const char *op, const char *host, uint64_t seq)
{
	json_t *o = ebb_msg_new("command", host, seq, ebb_wallclock());

	json_object_set_new(o, "cmd", json_integer((json_int_t)seq));
	if (op != NULL)
		json_object_set_new(o, "op", json_string(op));
	return o;
}

/* ---- reading fields ---------------------------------------------------- */

static double
num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		fail_msg("\"%s\" is not a number", key);
	return json_number_value(v);
}

static const char *
str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	return json_string_value(v);
}

static void
expect_result(const struct ebb_msg *m, uint64_t cmd, bool ok,
    const char *why)
{
	json_t *c = json_object_get(m->obj, "cmd");

	if (strcmp(m->type, "result") != 0)
		fail_msg("expected a result for command %llu, got a %s (%s)",
		    (unsigned long long)cmd, m->type,
		    json_string_value(json_object_get(m->obj, "error")) ?
		    json_string_value(json_object_get(m->obj, "error")) : "");
	assert_true(json_is_integer(c));
	assert_int_equal(json_integer_value(c), cmd);
	assert_true(json_is_boolean(json_object_get(m->obj, "ok")));
	assert_int_equal(json_is_true(json_object_get(m->obj, "ok")), ok);
	if (ok) {
		assert_null(json_object_get(m->obj, "error"));
	} else if (strstr(str(m->obj, "error"), why) == NULL) {
		fail_msg("result error \"%s\" lacks \"%s\"", str(m->obj,
		    "error"), why);
	}
}

/* An error message; ref is the refused seq, or -1 for null. */
static void
expect_error(const struct ebb_msg *m, long long ref, const char *why)
{
	json_t *r = json_object_get(m->obj, "ref");

	if (strcmp(m->type, "error") != 0)
		fail_msg("expected an error (%s), got a %s", why, m->type);
	if (strstr(str(m->obj, "error"), why) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", str(m->obj, "error"),
		    why);
	if (ref < 0)
		assert_true(json_is_null(r));
	else
		assert_int_equal(json_integer_value(r), ref);
}

/* Sends a ping with the next seq and checks its result. */
static void
ping(void)
{
	struct ebb_msg m;
	uint64_t seq = g.ctl_seq++;

	send_msg(command("ping", AGENT_HOST, seq));
	next_answer(3000, &m);
	expect_result(&m, seq, true, NULL);
	ebb_msg_free(&m);
}

/* ---- what a report says ---------------------------------------------- */

struct report {
	double		t;		/* when we read it, monotonic s */
	double		ts;
	uint64_t	seq;
	double		interval;
	double		busy;
	double		cores[PWR_MAX_CPUS];	/* by cpu id */
	struct pwr_mask	unparked;
	int		count;
};

static double
fraction(json_t *v, const char *what)
{
	double x;

	if (!json_is_number(v))
		fail_msg("%s is not a number", what);
	x = json_number_value(v);
	if (!(x >= 0 && x <= 1))
		fail_msg("%s = %g is outside [0, 1]", what, x);
	return x;
}

/* Checks every figure of a report and fills r. */
static void
check_report(const struct ebb_msg *m, struct report *r)
{
	struct ebb_err err = { "" };
	struct pwr_mask parked, both;
	json_t *cpu, *cores, *load, *mem;
	int i = 0;

	memset(r, 0, sizeof(*r));
	assert_string_equal(m->type, "report");
	r->t = ebb_monoclock();
	r->ts = m->ts;
	r->seq = m->seq;
	r->interval = num(m->obj, "interval_s");
	if (!(r->interval > 0 && r->interval < 5))
		fail_msg("interval_s %g", r->interval);

	cpu = json_object_get(m->obj, "cpu");
	assert_true(json_is_object(cpu));
	r->busy = fraction(json_object_get(cpu, "busy"), "cpu.busy");
	fraction(json_object_get(cpu, "steal"), "cpu.steal");
	fraction(json_object_get(cpu, "iowait"), "cpu.iowait");
	cores = json_object_get(cpu, "cores");
	assert_true(json_is_array(cores));
	if ((int)json_array_size(cores) != g.nonline)
		fail_msg("cpu.cores has %zu entries for %d online cpus",
		    json_array_size(cores), g.nonline);
	/* cores[] lists the online cpus in order of their numbers. */
	for (int c = 0; c < PWR_MAX_CPUS; c++) {
		if (!pwr_mask_test(&g.online, c))
			continue;
		r->cores[c] = fraction(json_array_get(cores, i++),
		    "cpu.cores[]");
	}

	load = json_object_get(m->obj, "load");
	assert_true(json_is_array(load));
	assert_int_equal(json_array_size(load), 3);
	for (size_t k = 0; k < 3; k++)
		assert_true(json_number_value(json_array_get(load, k)) >= 0);
	mem = json_object_get(m->obj, "mem");
	assert_true(json_is_object(mem));
	assert_true(num(mem, "total_kb") > 0);
	assert_true(num(mem, "avail_kb") >= 0);
	assert_true(num(mem, "avail_kb") <= num(mem, "total_kb"));
	assert_true(json_is_array(json_object_get(m->obj, "vms")));

	/* unparked and parked partition the online cpus; cpu0 is awake. */
	if (pwr_cpulist_parse(str(m->obj, "unparked"), &r->unparked,
	    &err) != 0 || pwr_cpulist_parse(str(m->obj, "parked"), &parked,
	    &err) != 0)
		fail_msg("cpu list: %s", err.msg);
	if (!pwr_mask_test(&r->unparked, 0))
		fail_msg("cpu0 is not unparked: \"%s\"", str(m->obj,
		    "unparked"));
	pwr_mask_zero(&both);
	for (int c = 0; c < PWR_MAX_CPUS; c++) {
		bool u = pwr_mask_test(&r->unparked, c);
		bool p = pwr_mask_test(&parked, c);

		if (u && p)
			fail_msg("cpu%d is both parked and unparked", c);
		if (u || p)
			pwr_mask_set(&both, c);
	}
	if (!pwr_mask_equal(&both, &g.online))
		fail_msg("unparked \"%s\" + parked \"%s\" are not the online "
		    "cpus", str(m->obj, "unparked"), str(m->obj, "parked"));
	r->count = pwr_mask_count(&r->unparked);
}

/* ---- fixtures ----------------------------------------------------------- */

static int
setup(void **state)
{
	struct ebb_err err = { "" };
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(g.dir, sizeof(g.dir), "%s/ebb-agent-e2e.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(g.dir) == NULL) {
		print_error("mkdtemp %s: %s\n", g.dir, strerror(errno));
		return -1;
	}
	snprintf(g.cfg, sizeof(g.cfg), "%s/agent.json", g.dir);
	snprintf(g.log, sizeof(g.log), "%s/agent.log", g.dir);
	g.lfd = ebb_tcp_listen("127.0.0.1", 0, &err);
	if (g.lfd < 0) {
		print_error("%s\n", err.msg);
		return -1;
	}
	g.port = ebb_sock_port(g.lfd);
	g.cfd = -1;
	ebb_linebuf_init(&g.lb);
	g.ctl_seq = 1;
	g.agent_seq_seen = false;
	g.finished = false;
	return 0;
}

static void
remove_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[PATH_MAX + 300];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/*
 * Kills the load, then stops the agent as an operator would: SIGTERM must
 * end it with status 0 within 2 s (3 s in a slow sanitizer build).
 */
static int
teardown(void **state)
{
	int rc = 0, st = 0;

	(void)state;
	stop_spinners();
	if (g.agent > 0) {
		if (!agent_alive()) {
			print_error("ebb-agent had already ended (status "
			    "0x%x)\n", g.agent_status);
			rc = -1;
		} else {
			kill(g.agent, SIGTERM);
			if (!wait_exit(g.agent, 3000, &st)) {
				print_error("ebb-agent ignored SIGTERM\n");
				kill(g.agent, SIGKILL);
				waitpid(g.agent, &st, 0);
				rc = -1;
			} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				print_error("ebb-agent stopped with status "
				    "0x%x on SIGTERM\n", st);
				rc = -1;
			}
		}
		g.agent = -1;
	}
	if (rc != 0 || !g.finished)
		dump_log();
	hang_up();
	if (g.lfd >= 0)
		close(g.lfd);
	g.lfd = -1;
	remove_dir(g.dir);
	return rc;
}

/* ---- hello and reports --------------------------------------------------- */

static void
expect_hello(struct ebb_msg *m)
{
	int rc = read_msg(3000, m);

	if (rc <= 0)
		fail_msg("no hello within 3 s (%s)", rc ? "closed" : "timeout");
	assert_string_equal(m->type, "hello");
	assert_true(m->seq == 0);
	assert_string_equal(m->host, AGENT_HOST);
	assert_true(json_is_integer(json_object_get(m->obj, "cores")));
	assert_true(num(m->obj, "cores") >= 1);
	assert_int_equal((int)num(m->obj, "cores"), g.nonline);
	assert_true(json_is_integer(json_object_get(m->obj, "mem_kb")));
	assert_true(num(m->obj, "mem_kb") > 0);
	assert_string_equal(str(m->obj, "agent"), EBB_VERSION);
	assert_true(fabs(num(m->obj, "interval_s") - INTERVAL_S) < 1e-9);
	assert_string_equal(str(m->obj, "hypervisor"), "none");
	assert_string_equal(str(m->obj, "power_driver"), "none");
	assert_true(json_is_array(json_object_get(m->obj, "vms")));
}

/* Starts the agent with the current config and reads its hello. */
static void
start_and_hello(void)
{
	struct ebb_msg m;

	start_agent();
	accept_agent(5000);
	expect_hello(&m);
	ebb_msg_free(&m);
	/* Plain TCP is never quiet about itself. */
	wait_log("INSECURE: \"insecure_plaintext\": true", 2000);
}

static void
test_hello_and_reports(void **state)
{
	enum { N = 6 };
	struct report r[N];
	struct ebb_msg m;
	double mean = 0, span;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();
	for (int i = 0; i < N; i++) {
		next_report(3000, &m);
		check_report(&m, &r[i]);
		ebb_msg_free(&m);
		/* Nothing else was said: the seq goes up by one. */
		assert_true(r[i].seq == (uint64_t)i + 1);
		if (i > 0)
			assert_true(r[i].ts >= r[i - 1].ts);
		mean += r[i].interval / N;
	}
	/* About every 0.2 s, generously: the host may be busy. */
	if (!(mean > 0.12 && mean < 0.45))
		fail_msg("mean reported interval %.3f s, configured %g", mean,
		    INTERVAL_S);
	span = (r[N - 1].t - r[0].t) / (N - 1);
	if (!(span > 0.08 && span < 0.6))
		fail_msg("reports arrive every %.3f s, configured %g", span,
		    INTERVAL_S);
	span = (r[N - 1].ts - r[0].ts) / (N - 1);
	if (!(span > 0.08 && span < 0.6))
		fail_msg("report timestamps %.3f s apart, configured %g", span,
		    INTERVAL_S);
	g.finished = true;
}

/* ---- commands ------------------------------------------------------------ */

static void
test_commands(void **state)
{
	static const char *const vm_ops[] = { "start", "stop", "migrate",
		"accept" };
	struct ebb_msg m;
	uint64_t seq;
	json_t *o;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();

	ping();

	/* The VM operations need a hypervisor driver; there is none. */
	for (size_t i = 0; i < EBB_NITEMS(vm_ops); i++) {
		seq = g.ctl_seq++;
		o = command(vm_ops[i], AGENT_HOST, seq);
		if (strcmp(vm_ops[i], "migrate") == 0)
			json_object_set_new(o, "vm", json_string("vm1"));
		send_msg(o);
		next_answer(3000, &m);
		expect_result(&m, seq, false, "hypervisor driver");
		ebb_msg_free(&m);
	}

	seq = g.ctl_seq++;
	send_msg(command("frobnicate", AGENT_HOST, seq));
	next_answer(3000, &m);
	expect_result(&m, seq, false, "unknown op \"frobnicate\"");
	ebb_msg_free(&m);

	/* No op, or an op that is not a string. */
	seq = g.ctl_seq++;
	send_msg(command(NULL, AGENT_HOST, seq));
	next_answer(3000, &m);
	expect_result(&m, seq, false, "\"op\"");
	ebb_msg_free(&m);
	seq = g.ctl_seq++;
	o = command(NULL, AGENT_HOST, seq);
	json_object_set_new(o, "op", json_integer(3));
	send_msg(o);
	next_answer(3000, &m);
	expect_result(&m, seq, false, "\"op\"");
	ebb_msg_free(&m);

	/* No cmd: refused with an error about the message. */
	seq = g.ctl_seq++;
	o = command("ping", AGENT_HOST, seq);
	json_object_del(o, "cmd");
	send_msg(o);
	next_answer(3000, &m);
	expect_error(&m, (long long)seq, "\"cmd\"");
	ebb_msg_free(&m);
	seq = g.ctl_seq++;
	o = command("ping", AGENT_HOST, seq);
	json_object_set_new(o, "cmd", json_integer(-1));
	send_msg(o);
	next_answer(3000, &m);
	expect_error(&m, (long long)seq, "\"cmd\"");
	ebb_msg_free(&m);

	/* A command for another host is refused, not carried out. */
	seq = g.ctl_seq++;
	send_msg(command("ping", "some-other-host", seq));
	next_answer(3000, &m);
	expect_error(&m, (long long)seq, "another host");
	ebb_msg_free(&m);

	/* Replays: the same seq again, and an older one. */
	seq = g.ctl_seq++;
	send_msg(command("ping", AGENT_HOST, seq));
	next_answer(3000, &m);
	expect_result(&m, seq, true, NULL);
	ebb_msg_free(&m);
	send_msg(command("ping", AGENT_HOST, seq));
	next_answer(3000, &m);
	expect_error(&m, (long long)seq, "seq does not increase");
	ebb_msg_free(&m);
	send_msg(command("migrate", AGENT_HOST, seq - 1));
	next_answer(3000, &m);
	expect_error(&m, (long long)seq - 1, "seq does not increase");
	ebb_msg_free(&m);
	/* A gap is fine: seq only has to increase. */
	g.ctl_seq += 10;
	ping();

	/* A type the agent does not take from a controller. */
	seq = g.ctl_seq++;
	send_msg(ebb_msg_new("report", AGENT_HOST, seq, ebb_wallclock()));
	next_answer(3000, &m);
	expect_error(&m, (long long)seq, "unexpected type");
	ebb_msg_free(&m);

	/* The controller's own error is logged, not answered. */
	seq = g.ctl_seq++;
	o = ebb_msg_new("error", AGENT_HOST, seq, ebb_wallclock());
	json_object_set_new(o, "error", json_string("e2e: refused"));
	json_object_set_new(o, "ref", json_integer(3));
	send_msg(o);
	ping();		/* its answer is the next thing the agent says */

	assert_true(agent_alive());
	g.finished = true;
}

/*
 * An unknown op is quoted in the result's error, cut to 40 bytes.  The
 * cut must not split a UTF-8 character: jansson refuses to make a string
 * of invalid UTF-8, and the result would go out without its "error",
 * which docs/protocol.md requires with "ok": false.
 */
static void
test_unknown_op_utf8(void **state)
{
	char op[128] = "a";
	struct ebb_msg m;
	uint64_t seq;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();
	/* 'a' then 30 two-byte letters: byte 40 is half of one. */
	for (int i = 0; i < 30; i++)
		strcat(op, "\xc3\xa9");
	seq = g.ctl_seq++;
	send_msg(command(op, AGENT_HOST, seq));
	next_answer(3000, &m);
	if (json_object_get(m.obj, "error") == NULL) {
		ebb_msg_free(&m);
		fail_msg("a result with \"ok\": false has no \"error\" when "
		    "the unknown op's name is cut inside a UTF-8 character");
	}
	expect_result(&m, seq, false, "unknown op");
	ebb_msg_free(&m);
	g.finished = true;
}

/* ---- garbage ------------------------------------------------------------- */

/* Sends bad bytes (a line) and expects an error (ref null) naming why. */
static void
bad_bytes(const char *line, size_t len, const char *why)
{
	struct ebb_msg m;

	send_raw(line, len);
	next_answer(3000, &m);
	expect_error(&m, -1, why);
	ebb_msg_free(&m);
	if (!agent_alive())
		fail_msg("the agent died of: %.*s", (int)len, line);
}

static void
bad_line(const char *line, const char *why)
{
	bad_bytes(line, strlen(line), why);
}

static void
test_garbage(void **state)
{
	static const char nul[] = "{\"v\":1,\"type\":\"command\",\"host\":\""
	    AGENT_HOST "\",\0\"seq\":1,\"ts\":1}\n";
	struct ebb_rand rng;
	struct ebb_msg m;
	char noise[8192];
	uint64_t seq;
	int errors = 0;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();

	bad_line("{\"v\":1,\"type\":\n", "malformed JSON");
	bad_line("\n", "malformed JSON");
	bad_line("[1,2,3]\n", "a message must be a JSON object");
	bad_line("{\"v\":1,\"type\":\"command\",\"host\":\"" AGENT_HOST "\","
	    "\"seq\":5}\n", "\"ts\"");
	bad_line("{\"v\":1,\"type\":\"command\",\"seq\":5,\"ts\":1}\n",
	    "\"host\"");
	bad_line("{\"type\":\"command\",\"host\":\"" AGENT_HOST "\","
	    "\"seq\":5,\"ts\":1}\n", "version");
	bad_line("{\"v\":1,\"host\":\"" AGENT_HOST "\",\"seq\":5,"
	    "\"ts\":1}\n", "\"type\"");
	bad_line("{\"v\":2,\"type\":\"command\",\"host\":\"h\",\"seq\":5,"
	    "\"ts\":1}\n", "version");
	bad_line("{\"v\":1,\"type\":\"command\",\"host\":\"h\",\"seq\":-5,"
	    "\"ts\":1}\n", "\"seq\"");
	bad_line("{\"v\":1,\"type\":\"command\",\"host\":\"h\",\"seq\":5,"
	    "\"ts\":-1}\n", "\"ts\"");
	bad_line("{\"v\":1,\"type\":\"command\",\"host\":\"h\",\"host\":\"h\","
	    "\"seq\":5,\"ts\":1}\n", "duplicate");
	bad_bytes(nul, sizeof(nul) - 1, "malformed JSON");
	ping();

	/* Binary noise, NULs and newlines included, then a newline. */
	ebb_rand_seed(&rng, 7);
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (char)ebb_rand_below(&rng, 256);
	send_raw(noise, sizeof(noise));
	send_str("\n");
	seq = g.ctl_seq++;
	send_msg(command("ping", AGENT_HOST, seq));
	for (;;) {
		next_answer(3000, &m);
		if (strcmp(m.type, "result") == 0)
			break;
		/* Each noisy line is refused on its own, never acted on. */
		expect_error(&m, -1, "");
		ebb_msg_free(&m);
		errors++;
	}
	expect_result(&m, seq, true, NULL);
	ebb_msg_free(&m);
	assert_true(errors >= 1);
	assert_true(agent_alive());

	/* Still the same connection, still reporting. */
	next_report(2000, &m);
	ebb_msg_free(&m);
	g.finished = true;
}

/*
 * A ping command padded to exactly `len` bytes, newline included.  Built
 * by hand: the line is meant to sit at or over the limit.
 */
static char *
padded_ping(uint64_t seq, size_t len)
{
	json_t *o = command("ping", AGENT_HOST, seq);
	size_t base;
	char *s, *line;

	json_object_set_new(o, "pad", json_string(""));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	base = strlen(s);	/* ends with "pad":""} */
	assert_true(len > base + 1);
	line = ebb_malloc(len + 1);
	memcpy(line, s, base - 2);
	memset(line + base - 2, 'p', len - 1 - base);
	memcpy(line + len - 3, "\"}\n", 3);
	line[len] = '\0';
	free(s);
	return line;
}

/* Reads until the agent closes the connection; fails after ms. */
static void
expect_hangup(int ms)
{
	double deadline = ebb_monoclock() + ms / 1000.0;
	struct ebb_msg m;
	int rc;

	for (;;) {
		int left = (int)ceil((deadline - ebb_monoclock()) * 1000);

		rc = read_msg(EBB_MAX(left, 0), &m);
		if (rc < 0)
			break;
		if (rc == 0)
			fail_msg("the agent kept the connection (alive: %d)",
			    agent_alive());
		ebb_msg_free(&m);
	}
	hang_up();
}

/* Sends an over-long line, however much of it the agent takes. */
static void
send_flood(const char *buf, size_t len)
{
	/* The agent hangs up mid-way: EPIPE or ECONNRESET are expected. */
	int rc = ebb_write_all(g.cfd, buf, len, 5000);

	if (rc == -ETIMEDOUT)
		fail_msg("the agent stopped reading an over-long line");
}

static void
test_line_limits(void **state)
{
	struct ebb_msg m;
	uint64_t seq;
	double t0;
	char *line;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();

	/* EBB_WIRE_MAX bytes with the newline: the largest valid line. */
	seq = g.ctl_seq++;
	line = padded_ping(seq, EBB_WIRE_MAX);
	send_raw(line, EBB_WIRE_MAX);
	free(line);
	next_answer(5000, &m);
	expect_result(&m, seq, true, NULL);
	ebb_msg_free(&m);

	/* One byte more: the agent drops the connection ... */
	seq = g.ctl_seq++;
	line = padded_ping(seq, EBB_WIRE_MAX + 1);
	send_flood(line, EBB_WIRE_MAX + 1);
	free(line);
	expect_hangup(5000);
	assert_true(agent_alive());
	/* ... and comes back with a fresh hello (seq 0) on its own. */
	t0 = ebb_monoclock();
	accept_agent(3000);
	expect_hello(&m);
	ebb_msg_free(&m);
	print_message("reconnected %.2f s after an over-long line\n",
	    ebb_monoclock() - t0);
	/* A new connection: our seq may start over. */
	g.ctl_seq = 1;
	ping();

	/* 2 MiB of one line, no newline anywhere. */
	line = ebb_malloc(2 * EBB_WIRE_MAX);
	memset(line, '{', 2 * EBB_WIRE_MAX);
	send_flood(line, 2 * EBB_WIRE_MAX);
	free(line);
	expect_hangup(5000);
	assert_true(agent_alive());
	accept_agent(3000);
	expect_hello(&m);
	ebb_msg_free(&m);
	g.ctl_seq = 1;
	ping();
	next_report(2000, &m);
	ebb_msg_free(&m);
	g.finished = true;
}

/*
 * A controller that sends but never reads: the agent's answers pile up.
 * It must drop the connection once its own output queue is full
 * (AGT_OUT_MAX), not grow without bound or stop, and come back.
 */
static void
test_stuck_controller(void **state)
{
	static char batch[4096];
	struct ebb_msg m;
	size_t sent = 0;
	double deadline;
	int rc = 0;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();

	/*
	 * Empty lines: each is answered with an error of some 160 bytes,
	 * the biggest answer for the least input.  About 9 MB of answers
	 * fill the kernel's buffers and the agent's 4 MiB queue.
	 */
	memset(batch, '\n', sizeof(batch));
	deadline = ebb_monoclock() + 15;
	while (rc == 0) {
		if (ebb_monoclock() > deadline || sent > 16u * 1024 * 1024)
			fail_msg("the agent took %zu empty lines without its "
			    "answers being read, and kept the connection",
			    sent);
		rc = ebb_write_all(g.cfd, batch, sizeof(batch), 5000);
		if (rc == 0)
			sent += sizeof(batch);
	}
	if (rc == -ETIMEDOUT)
		fail_msg("the agent stopped reading after %zu bytes", sent);
	print_message("dropped after %zu bytes of empty lines (%s)\n", sent,
	    strerror(-rc));
	hang_up();
	assert_true(agent_alive());
	accept_agent(3000);
	expect_hello(&m);
	ebb_msg_free(&m);
	ping();
	g.finished = true;
}

/* ---- the controller goes away and comes back ------------------------- */

static void
test_controller_restart(void **state)
{
	struct ebb_err err = { "" };
	struct ebb_msg m;
	double t;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();
	next_report(2000, &m);
	ebb_msg_free(&m);

	/* Gone: the connection and the listener. */
	hang_up();
	close(g.lfd);
	g.lfd = -1;
	usleep(1000 * 1000);
	assert_true(agent_alive());

	/* Back on the same port (ebb_tcp_listen sets SO_REUSEADDR). */
	g.lfd = ebb_tcp_listen("127.0.0.1", g.port, &err);
	if (g.lfd < 0)
		fail_msg("listening again on port %d: %s", g.port, err.msg);
	t = ebb_monoclock();
	/*
	 * The agent retries at most reconnect_max_s apart, with up to 25 %
	 * jitter (conn_schedule): 1.25 s, plus time for a busy host.
	 */
	accept_agent((int)(1000 * (1.25 * RECONNECT_MAX_S + 1.25)));
	t = ebb_monoclock() - t;
	print_message("reconnected %.2f s after the controller came back "
	    "(reconnect_max_s %g)\n", t, RECONNECT_MAX_S);
	expect_hello(&m);
	ebb_msg_free(&m);
	next_report(2000, &m);
	assert_true(m.seq == 1);
	ebb_msg_free(&m);
	g.ctl_seq = 1;
	ping();
	g.finished = true;
}

/* ---- signals --------------------------------------------------------------- */

static void
expect_exit_0(int ms, const char *why)
{
	double deadline = ebb_monoclock() + ms / 1000.0;
	int st;

	while (agent_alive()) {
		if (ebb_monoclock() > deadline)
			fail_msg("ebb-agent still runs %d ms after %s", ms,
			    why);
		usleep(5000);
	}
	st = g.agent_status;
	g.agent = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("ebb-agent ended with status 0x%x after %s", st, why);
}

static void
test_signals(void **state)
{
	struct ebb_msg m;
	double t;

	(void)state;
	write_config(NULL, NULL);
	start_and_hello();

	/* SIGHUP: nothing to reload, and nothing stops. */
	kill(g.agent, SIGHUP);
	usleep(300 * 1000);
	assert_true(agent_alive());
	next_report(2000, &m);
	ebb_msg_free(&m);

	t = ebb_monoclock();
	kill(g.agent, SIGTERM);
	expect_exit_0(2000, "SIGTERM");
	print_message("stopped %.3f s after SIGTERM\n", ebb_monoclock() - t);
	expect_hangup(1000);

	/* With no controller to talk to, SIGINT stops it as well. */
	close(g.lfd);
	g.lfd = -1;
	start_agent();
	wait_log("info: ebb-agent " EBB_VERSION " on " AGENT_HOST, 5000);
	usleep(300 * 1000);	/* a few failed connects */
	assert_true(agent_alive());
	kill(g.agent, SIGINT);
	expect_exit_0(2000, "SIGINT while disconnected");
	g.finished = true;
}

/* ---- the command line ---------------------------------------------------- */

/*
 * Runs ebb-agent with args, its stdout and stderr into files of the test
 * directory; returns the exit status (fails if it runs over 5 s).
 */
static int
run_agent(const char *const *args)
{
	char out[PATH_MAX + 32], errf[PATH_MAX + 32];
	pid_t parent = getpid(), pid;
	int st = 0;

	snprintf(out, sizeof(out), "%s/out", g.dir);
	snprintf(errf, sizeof(errf), "%s/err", g.dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[16] = { "ebb-agent" };
		int n = 1, fo, fe;

		child_tie(parent);
		fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		fe = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fo < 0 || fe < 0)
			_exit(126);
		dup2(fo, STDOUT_FILENO);
		dup2(fe, STDERR_FILENO);
		for (; *args != NULL && n < 15; args++)
			argv[n++] = *args;
		argv[n] = NULL;
		execv(g.agent_path, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	g.agent = pid;
	g.agent_reaped = false;
	if (!wait_exit(pid, 5000, &st))
		fail_msg("ebb-agent %s ran for over 5 s", args[0]);
	g.agent = -1;
	if (!WIFEXITED(st))
		fail_msg("ebb-agent %s died with status 0x%x", args[0], st);
	return WEXITSTATUS(st);
}

/* Reads the test directory's file `name` (out, err) into buf. */
static const char *
slurp(const char *name, char *buf, size_t size)
{
	char path[PATH_MAX + 32];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", g.dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
expect_in(const char *name, const char *want)
{
	char buf[8192];

	if (strstr(slurp(name, buf, sizeof(buf)), want) == NULL)
		fail_msg("%s lacks \"%s\":\n%s", name, want, buf);
}

static void
expect_empty(const char *name)
{
	char buf[8192];

	if (slurp(name, buf, sizeof(buf))[0] != '\0')
		fail_msg("%s is not empty:\n%s", name, buf);
}

static void
test_command_line(void **state)
{
	const char *src = getenv("EBB_SRC");
	char bad[PATH_MAX + 32], example[PATH_MAX];
	struct pollfd pfd;

	(void)state;
	snprintf(bad, sizeof(bad), "%s/bad.json", g.dir);

	{
		const char *const a[] = { "--help", NULL };

		assert_int_equal(run_agent(a), 0);
		expect_in("out", "usage: ebb-agent");
		expect_empty("err");
	}
	{
		const char *const a[] = { "-h", NULL };

		assert_int_equal(run_agent(a), 0);
		expect_in("out", "usage: ebb-agent");
	}
	if (src != NULL) {
		const char *const a[] = { "--check-config", "-c", example,
			NULL };

		snprintf(example, sizeof(example), "%s/examples/agent.json",
		    src);
		assert_int_equal(run_agent(a), 0);
		expect_in("out", "host            host1\n");
		expect_in("out", "controller      127.0.0.1:7400\n");
		expect_in("out", "metrics_listen  127.0.0.1:9464\n");
		expect_empty("err");
	} else {
		print_message("EBB_SRC is not set: examples/agent.json not "
		    "checked\n");
	}
	{
		/* No file: the built-in configuration. */
		const char *const a[] = { "--check-config", NULL };

		assert_int_equal(run_agent(a), 0);
		expect_in("out", "(standalone)");
		expect_in("out", "interval_s      5\n");
	}
	{
		/* Our own config: checked, and no connection is made. */
		const char *const a[] = { "--check-config", "-c", g.cfg,
			NULL };

		write_config(NULL, NULL);
		assert_int_equal(run_agent(a), 0);
		expect_in("out", "host            " AGENT_HOST "\n");
		expect_in("out", "actuator none");
		pfd = (struct pollfd){ .fd = g.lfd, .events = POLLIN };
		assert_int_equal(poll(&pfd, 1, 200), 0);
	}
	{
		const char *const a[] = { "--check-config", "-c", bad, NULL };

		write_file(bad, "{\"parking\": {\"headroom\": \"x\"}}\n");
		assert_int_equal(run_agent(a), 2);
		expect_in("err", "bad.json: parking.headroom: found a string");
		expect_empty("out");

		write_file(bad, "{\"power\": {\"drvier\": \"ipmi\"}}\n");
		assert_int_equal(run_agent(a), 2);
		expect_in("err", "bad.json: power: unknown key \"drvier\"");
		expect_empty("out");

		write_file(bad, "{\n  \"host\": \"h\",\n  \"interval_s\": 0\n}\n");
		assert_int_equal(run_agent(a), 2);
		expect_in("err", "bad.json: interval_s: found 0");

		write_file(bad, "{\n  \"host\": \"h\"\n  \"interval_s\": 1\n}\n");
		assert_int_equal(run_agent(a), 2);
		expect_in("err", "bad.json:3:");
		expect_in("err", "malformed JSON");
	}
	{
		/* A bad config stops the daemon too, before it starts. */
		const char *const a[] = { "-c", bad, NULL };

		assert_int_equal(run_agent(a), 2);
		expect_in("err", "malformed JSON");
	}
	{
		/*
		 * A controller but neither TLS nor insecure_plaintext: refused,
		 * with the way out in the message; both: refused too.
		 */
		const char *const a[] = { "--check-config", "-c", bad, NULL };

		write_file(bad, "{\"host\": \"h\", \"controller\": "
		    "\"127.0.0.1:1\"}\n");
		assert_int_equal(run_agent(a), 2);
		expect_in("err", "bad.json: no \"tls\" section");
		expect_in("err", "\"insecure_plaintext\": true");
		expect_empty("out");
		write_file(bad, "{\"host\": \"h\", \"controller\": "
		    "\"127.0.0.1:1\", \"insecure_plaintext\": true, \"tls\": "
		    "{\"ca\": \"/a\", \"cert\": \"/b\", \"key\": \"/c\"}}\n");
		assert_int_equal(run_agent(a), 2);
		expect_in("err", "exclude each other");
		/* Standalone needs neither. */
		write_file(bad, "{\"host\": \"h\"}\n");
		assert_int_equal(run_agent(a), 0);
	}
	{
		const char *const a[] = { "--check-config", "-c",
			"/nonexistent/agent.json", NULL };

		assert_int_equal(run_agent(a), 1);
		expect_in("err", "/nonexistent/agent.json");
	}
	{
		const char *const a[] = { "--frobnicate", NULL };

		assert_int_equal(run_agent(a), 2);
		expect_in("err", "usage: ebb-agent");
	}
	{
		const char *const a[] = { "--check-config", "extra", NULL };

		assert_int_equal(run_agent(a), 2);
		expect_in("err", "usage: ebb-agent");
	}
	g.finished = true;
}

/* ---- metrics ------------------------------------------------------------ */

/* A port nobody listens on right now. */
static int
free_port(void)
{
	struct ebb_err err = { "" };
	int fd = ebb_tcp_listen("127.0.0.1", 0, &err), port;

	if (fd < 0)
		fail_msg("%s", err.msg);
	port = ebb_sock_port(fd);
	close(fd);
	return port;
}

/* Sends a raw HTTP request; reads the whole answer into buf. */
static size_t
http(int port, const char *request, char *buf, size_t size)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 3 };
	size_t len = 0;
	ssize_t n;
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fail_msg("connect to the metrics port %d: %s", port,
		    strerror(errno));
	assert_int_equal(ebb_write_all(fd, request, strlen(request), 3000),
	    0);
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) >
	    0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return len;
}

static void
test_metrics(void **state)
{
	static const char *const not_found[] = {
		"GET / HTTP/1.0\r\n\r\n",
		"GET /other HTTP/1.0\r\n\r\n",
		"GET /metricsx HTTP/1.0\r\n\r\n",
		"POST /metrics HTTP/1.0\r\n\r\n",
		"\x01\x02garbage\r\n\r\n",
	};
	static char buf[256 * 1024];
	char listen[64];
	const char *body, *cl;
	struct ebb_msg m;
	size_t len;
	int mport;

	(void)state;
	mport = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", mport);
	write_config(listen, NULL);
	start_and_hello();
	next_report(2000, &m);
	ebb_msg_free(&m);

	len = http(mport, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n", buf,
	    sizeof(buf));
	if (strncmp(buf, "HTTP/1.0 200 ", 13) != 0)
		fail_msg("GET /metrics: %.200s", buf);
	body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	cl = strstr(buf, "Content-Length: ");
	assert_non_null(cl);
	assert_true(cl < body);
	assert_int_equal(strtoul(cl + 16, NULL, 10), len - (size_t)(body -
	    buf));
	assert_non_null(strstr(buf, "Content-Type: text/plain"));
	if (strstr(body, "\nebb_cpu_seconds_total{cpu=\"0\",mode=\"user\"} ") ==
	    NULL)
		fail_msg("no cpu0 user seconds in:\n%.2000s", body);
	assert_non_null(strstr(body, "# TYPE ebb_cpu_seconds_total counter"));

	len = http(mport, "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", buf,
	    sizeof(buf));
	assert_int_equal(strncmp(buf, "HTTP/1.0 200 ", 13), 0);

	for (size_t i = 0; i < EBB_NITEMS(not_found); i++) {
		len = http(mport, not_found[i], buf, sizeof(buf));
		if (strncmp(buf, "HTTP/1.0 404 ", 13) != 0)
			fail_msg("%.20s: %.200s", not_found[i], buf);
		body = strstr(buf, "\r\n\r\n");
		assert_non_null(body);
		assert_int_equal(strtoul(strstr(buf, "Content-Length: ") + 16,
		    NULL, 10), len - (size_t)(body + 4 - buf));
	}

	/* Scrapes do not disturb the controller connection. */
	assert_true(agent_alive());
	ping();
	next_report(2000, &m);
	ebb_msg_free(&m);
	g.finished = true;
}

/* ---- core parking follows load ------------------------------------------ */

/* Spins on every online cpu until killed (or `secs` at the latest). */
static void
start_spinners(int n, double secs)
{
	pid_t parent = getpid();

	for (int i = 0; i < n && g.nspin < MAX_SPIN; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			double end;
			volatile uint64_t x = 0;

			child_tie(parent);
			end = ebb_monoclock() + secs;
			while (ebb_monoclock() < end)
				for (int k = 0; k < 100000; k++)
					x += (uint64_t)k;
			_exit(0);
		}
		g.spin[g.nspin++] = pid;
	}
}

/*
 * What the agent's park_step saw in report r, replayed from its figures
 * and the set before it (pwr_park_decide with this test's parameters):
 * was the decrease condition met?
 */
static bool
replay_down(const struct report *r, const struct pwr_mask *before)
{
	double sum = 0, busy = 0, avg;
	int n = 0, needed;
	bool up;

	for (int c = 0; c < PWR_MAX_CPUS; c++) {
		if (!pwr_mask_test(&g.online, c))
			continue;
		busy += r->cores[c];
		if (pwr_mask_test(before, c) || c == 0) {
			sum += r->cores[c];
			n++;
		}
	}
	avg = sum / n;
	needed = (int)ceil(busy * (1 + PARK_HEADROOM) - 1e-9);
	needed = EBB_MAX(EBB_MIN(needed, g.nonline), 1);
	up = avg > PARK_INC || needed > n;
	return !up && avg < PARK_DEC;
}

/*
 * For a park in reports[k]: the seconds the decrease condition had held
 * without a break, by the agent's own figures (the sum of the intervals
 * of the unbroken run of "down" reports ending at k, since the last park).
 */
static double
down_run(const struct report *rs, int k, const struct pwr_mask *first)
{
	double held = 0;

	for (int j = k; j >= 0; j--) {
		const struct pwr_mask *before = j > 0 ? &rs[j - 1].unparked :
		    first;

		if (!replay_down(&rs[j], before))
			break;
		held += rs[j].interval;
		if (j > 0 && rs[j - 1].count < pwr_mask_count(j > 1 ?
		    &rs[j - 2].unparked : first))
			break;	/* a park before restarts the timer */
	}
	return held;
}

static void
skip_busy(const char *why)
{
	print_message("SKIPPED: the host is too busy to watch core parking: "
	    "%s\n", why);
	g.skipped = true;
	g.finished = true;
	skip();
}

static double
mean_busy(const struct report *rs, int from, int to)
{
	double s = 0;

	for (int i = from; i < to; i++)
		s += rs[i].busy;
	return to > from ? s / (to - from) : NAN;
}

static void
test_parking_follows_load(void **state)
{
	enum { MAXR = 200 };
	static struct report rs[MAXR];
	char parking[512], why[256];
	struct ebb_msg m;
	double t_load, t_kill, deadline;
	int n = 0, k, first_full = -1, park = -1, from;

	(void)state;
	if (g.nonline < 2) {
		g.finished = true;
		print_message("SKIPPED: one cpu: nothing to park\n");
		g.skipped = true;
		skip();
	}
	snprintf(parking, sizeof(parking), "{ \"enabled\": true, "
	    "\"actuator\": \"none\", \"lower_max_freq\": false, "
	    "\"min_cores\": 1, \"max_cores\": 0, "
	    "\"increase_threshold\": %g, \"decrease_threshold\": %g, "
	    "\"increase_time\": 0, \"decrease_time\": %g, "
	    "\"headroom\": %g }", PARK_INC, PARK_DEC, PARK_DEC_TIME,
	    PARK_HEADROOM);
	write_config(NULL, parking);
	start_and_hello();

	/*
	 * Idle first: the agent starts with every cpu unparked and should
	 * park one after decrease_time of a quiet host.  If the host is not
	 * quiet (other builds), nothing can be learnt here.
	 */
	deadline = ebb_monoclock() + 3;
	while (ebb_monoclock() < deadline && n < MAXR) {
		next_report(2000, &m);
		check_report(&m, &rs[n]);
		ebb_msg_free(&m);
		if (rs[n++].count < g.nonline)
			break;
	}
	if (rs[n - 1].count == g.nonline) {
		snprintf(why, sizeof(why), "no cpu parked in 3 s before the "
		    "load (mean busy %.2f, parking needs < %g)",
		    mean_busy(rs, 0, n), PARK_DEC);
		skip_busy(why);
	}
	/* The first park came after decrease_time of low load. */
	if (down_run(rs, n - 1, &g.online) < PARK_DEC_TIME - 1e-3)
		fail_msg("parked after %.3f s of low load, decrease_time %g",
		    down_run(rs, n - 1, &g.online), PARK_DEC_TIME);
	assert_int_equal(rs[n - 1].count, g.nonline - 1);

	/* Load on every cpu: all unparked within about two reports. */
	t_load = ebb_wallclock();
	start_spinners(EBB_MIN(g.nonline, MAX_SPIN), 5);
	from = n;
	deadline = ebb_monoclock() + 1.5;
	while (ebb_monoclock() < deadline && n < MAXR) {
		next_report(2000, &m);
		check_report(&m, &rs[n]);
		ebb_msg_free(&m);
		if (first_full < 0 && rs[n].count == g.nonline)
			first_full = n;
		else if (first_full >= 0 && rs[n].count != g.nonline)
			fail_msg("a cpu was parked under full load (report "
			    "%d, busy %.2f)", n, rs[n].busy);
		n++;
	}
	if (first_full < 0)
		fail_msg("not every cpu unparked in 1.5 s of full load "
		    "(mean busy %.2f)", mean_busy(rs, from, n));
	/* The first report may mostly cover the time before the load. */
	k = 0;
	for (int i = from; i <= first_full; i++)
		if (rs[i].ts > t_load)
			k++;
	print_message("all %d cpus unparked in report %d after the load "
	    "started\n", g.nonline, k);
	if (k > 3)
		fail_msg("all cpus unparked only in report %d after the load "
		    "started (increase_time 0)", k);

	/* Load gone: one cpu parked again, and not before decrease_time. */
	t_kill = ebb_wallclock();
	stop_spinners();
	from = n;
	deadline = ebb_monoclock() + 4;
	while (ebb_monoclock() < deadline && n < MAXR) {
		next_report(2000, &m);
		check_report(&m, &rs[n]);
		ebb_msg_free(&m);
		if (rs[n++].count < g.nonline) {
			park = n - 1;
			break;
		}
	}
	if (park < 0) {
		/* Did the agent miss a park its own figures called for? */
		for (int i = from; i < n; i++)
			if (down_run(rs, i, &g.online) >=
			    PARK_DEC_TIME + 2 * INTERVAL_S)
				fail_msg("report %d: low load for %.2f s, yet "
				    "nothing was parked", i, down_run(rs, i,
				    &g.online));
		snprintf(why, sizeof(why), "no cpu parked in 4 s after the "
		    "load stopped (mean busy %.2f)", mean_busy(rs, from, n));
		skip_busy(why);
	}
	print_message("one cpu parked %.2f s after the load stopped "
	    "(decrease_time %g); host busy per report since:",
	    rs[park].ts - t_kill, PARK_DEC_TIME);
	for (int i = from; i <= park; i++)
		print_message(" %.2f", rs[i].busy);
	print_message("\n");
	assert_int_equal(rs[park].count, g.nonline - 1);
	if (rs[park].ts - t_kill < PARK_DEC_TIME - 0.1)
		fail_msg("parked %.3f s after the load stopped, before "
		    "decrease_time %g", rs[park].ts - t_kill, PARK_DEC_TIME);
	if (down_run(rs, park, &g.online) < PARK_DEC_TIME - 1e-3)
		fail_msg("parked after %.3f s of low load by its own figures, "
		    "decrease_time %g", down_run(rs, park, &g.online),
		    PARK_DEC_TIME);
	g.finished = true;
}

/* ---- main ----------------------------------------------------------------- */

int
main(void)
{
	static const struct CMUnitTest all[] = {
		cmocka_unit_test_setup_teardown(test_hello_and_reports, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_commands, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_op_utf8, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stuck_controller, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_controller_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parking_follows_load,
		    setup, teardown),
	};
	struct CMUnitTest sel[EBB_NITEMS(all)];
	const char *only = getenv("EBB_E2E_TESTS");
	struct ebb_err err = { "" };
	size_t nsel = 0;
	int rc;

	g.bin = getenv("EBB_BIN");
	if (g.bin == NULL || g.bin[0] == '\0') {
		printf("skipped: EBB_BIN is not set (the build tree with "
		    "ebb-agent)\n");
		return 77;
	}
	snprintf(g.agent_path, sizeof(g.agent_path), "%s/ebb-agent", g.bin);
	if (access(g.agent_path, X_OK) != 0) {
		fprintf(stderr, "FAIL: %s is not built\n", g.agent_path);
		return 1;
	}
	if (pwr_cpulist_read("/sys/devices/system/cpu/online", &g.online,
	    &err) != 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		pwr_mask_zero(&g.online);
		pwr_mask_set_range(&g.online, 0, (int)n - 1);
	}
	g.nonline = pwr_mask_count(&g.online);
	atexit(kill_children);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Without a selection, everything but the parking test, which
	 * depends on how busy the host is and runs on its own.
	 */
	for (size_t i = 0; i < EBB_NITEMS(all); i++) {
		bool park = strstr(all[i].name, "parking") != NULL;

		if (only == NULL ? !park : strstr(all[i].name, only) != NULL)
			sel[nsel++] = all[i];
	}
	if (nsel == 0) {
		fprintf(stderr, "FAIL: EBB_E2E_TESTS=%s selects no test\n",
		    only);
		return 1;
	}
	rc = _cmocka_run_group_tests("agent_e2e", sel, nsel, NULL, NULL);
	/* A selected run that only skipped tells ctest so. */
	if (rc == 0 && only != NULL && g.skipped)
		return 77;
	return rc;
}
