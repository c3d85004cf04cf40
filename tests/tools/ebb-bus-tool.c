/*
 * ebb-bus-tool - the bus from a shell, for tests: send or receive a few
 * messages the way a daemon would, then print what happened.
 *
 *   ebb-bus-tool -c CONFIG -r ROLE -H HOST send [-t TOPIC] [-k KEY]
 *       [-T TYPE] [-s SEQ] [-n N] [-w SECONDS]
 *   ebb-bus-tool -c CONFIG -r ROLE -H HOST recv [-n N] [-w SECONDS] [-A]
 *
 * CONFIG is a JSON file with a "bus" section, read as the daemons will
 * read theirs; ROLE is agent or controller; HOST the agent's host (or the
 * controller's name).  send sends N messages (default 1) of TYPE (report,
 * command or decision after the topic: reports, commands, decisions) for
 * KEY (default HOST) with seq from SEQ, waits up to SECONDS (default 10)
 * for each to be delivered or failed, prints each failure and then
 * "taken T delivered D failed F dropped_full X", and exits 0 only if all
 * N were delivered.  recv prints "KEY VALUE" for each message, applies it
 * (not with -A), stops after N messages or SECONDS, and exits 0 only if
 * it got N.  State changes go to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"
#include "ebb_bus.h"
#include "ebb_jconf.h"
#include "ebb_log.h"
#include "ebb_wire.h"

struct tool {
	struct ebb_bus	*bus;
	bool		 apply;
	long		 got;
	long		 delivered;
	long		 failed;
};

static void
on_recv(void *arg, const struct ebb_bus_msg *m)
{
	struct tool *t = arg;

	printf("%.*s %.*s\n", (int)m->keylen, m->key, (int)m->len, m->value);
	fflush(stdout);
	t->got++;
	if (t->apply && ebb_bus_applied(t->bus, &m->ref) != 0)
		fprintf(stderr, "ebb-bus-tool: applied: refused\n");
}

static void
on_delivered(void *arg, enum ebb_bus_topic topic, uint64_t tag)
{
	struct tool *t = arg;

	(void)topic;
	(void)tag;
	t->delivered++;
}

static void
on_failed(void *arg, const struct ebb_bus_failure *f)
{
	struct tool *t = arg;

	printf("failed %llu %s %.*s: %s\n", (unsigned long long)f->tag,
	    ebb_bus_topic_name(f->topic), (int)f->keylen, f->key, f->reason);
	t->failed++;
}

static void
on_state(void *arg, enum ebb_bus_state s)
{
	(void)arg;
	fprintf(stderr, "ebb-bus-tool: state %s\n", ebb_bus_state_name(s));
}

static void
usage(void)
{
	fprintf(stderr, "usage: ebb-bus-tool -c config -r agent|controller "
	    "-H host send [-t topic] [-k key] [-T type] [-s seq] [-n n] "
	    "[-w seconds]\n"
	    "       ebb-bus-tool -c config -r agent|controller -H host recv "
	    "[-n n] [-w seconds] [-A]\n");
	exit(2);
}

static int
load_config(const char *path, struct ebb_bus_config *c, struct ebb_err *err)
{
	struct ebb_jconf x = { path, err };
	json_t *root, *s;
	char *text;
	size_t len;
	int rc;

	if ((rc = ebb_read_file(path, &text, &len, err)) != 0)
		return rc;
	root = ebb_jconf_load(&x, text);
	free(text);
	if (root == NULL)
		return -EINVAL;
	ebb_bus_config_defaults(c);
	if ((rc = ebb_jconf_section(&x, root, "bus", &s)) == 0 && s != NULL)
		rc = ebb_bus_config_parse(&x, s, c);
	json_decref(root);
	return rc;
}

/* Serves the bus until done says so or the deadline passes. */
static void
serve(struct tool *t, double deadline, bool (*done)(const struct tool *,
    long), long n)
{
	struct pollfd pfd = { .fd = ebb_bus_fd(t->bus), .events = POLLIN };

	while (!done(t, n) && ebb_monoclock() < deadline) {
		poll(&pfd, 1, 50);
		if (ebb_bus_process(t->bus) != 0)
			break;
	}
}

static bool
all_answered(const struct tool *t, long n)
{
	return t->delivered + t->failed >= n;
}

static bool
all_got(const struct tool *t, long n)
{
	return t->got >= n;
}

int
main(int argc, char **argv)
{
	static const char *const types[] = { "report", "command", "decision" };
	struct tool t = { .apply = true };
	struct ebb_bus_cb cb = { on_recv, on_delivered, on_failed, on_state,
		&t };
	struct ebb_bus_config conf;
	struct ebb_bus_stats st;
	struct ebb_err err = { "" };
	enum ebb_bus_role role = EBB_BUS_AGENT;
	enum ebb_bus_topic topic = EBB_BUS_NTOPICS;
	const char *config = NULL, *host = NULL, *key = NULL, *type = NULL;
	const char *verb, *role_name = NULL;
	double wait_s = 10;
	long n = 1, seq = 0, taken = 0;
	int ch, rc = 0;

	while ((ch = getopt(argc, argv, "+c:r:H:")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'r':
			role_name = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		default:
			usage();
		}
	}
	if (config == NULL || role_name == NULL || host == NULL ||
	    optind >= argc)
		usage();
	if (strcmp(role_name, "agent") == 0)
		role = EBB_BUS_AGENT;
	else if (strcmp(role_name, "controller") == 0)
		role = EBB_BUS_CONTROLLER;
	else
		usage();
	verb = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	while ((ch = getopt(argc, argv, "t:k:T:s:n:w:A")) != -1) {
		switch (ch) {
		case 't':
			for (int i = 0; i < EBB_BUS_NTOPICS; i++)
				if (strcmp(optarg, ebb_bus_topic_name(i) + 4) ==
				    0)
					topic = i;
			if (topic == EBB_BUS_NTOPICS)
				usage();
			break;
		case 'k':
			key = optarg;
			break;
		case 'T':
			type = optarg;
			break;
		case 's':
			seq = strtol(optarg, NULL, 10);
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'w':
			wait_s = strtod(optarg, NULL);
			break;
		case 'A':
			t.apply = false;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || n < 0)
		usage();

	ebb_log_init("ebb-bus-tool", EBB_LOG_INFO);
	if (load_config(config, &conf, &err) != 0 ||
	    ebb_bus_open(&t.bus, &conf, role, host, &cb, &err) != 0) {
		fprintf(stderr, "ebb-bus-tool: %s\n", err.msg);
		return 1;
	}
	if (strcmp(verb, "send") == 0) {
		if (topic == EBB_BUS_NTOPICS)
			topic = role == EBB_BUS_AGENT ? EBB_BUS_REPORTS :
			    EBB_BUS_COMMANDS;
		if (type == NULL)
			type = types[topic];
		for (long i = 0; i < n; i++) {
			json_t *m = ebb_msg_new(type, key ? key : host,
			    (uint64_t)(seq + i), ebb_wallclock());
			int r = ebb_bus_send(t.bus, topic, NULL, m,
			    (uint64_t)(seq + i));

			if (r == 0)
				taken++;
			else
				printf("refused %ld: %s\n", seq + i,
				    strerror(-r));
		}
		serve(&t, ebb_monoclock() + wait_s, all_answered, taken);
		ebb_bus_stats(t.bus, &st);
		printf("taken %ld delivered %ld failed %ld dropped_full %llu\n",
		    taken, t.delivered, t.failed,
		    (unsigned long long)st.dropped_full);
		rc = t.delivered == n ? 0 : 1;
	} else if (strcmp(verb, "recv") == 0) {
		serve(&t, ebb_monoclock() + wait_s, all_got, n);
		rc = t.got >= n ? 0 : 1;
	} else {
		usage();
	}
	ebb_bus_close(t.bus, 1000);
	return rc;
}
