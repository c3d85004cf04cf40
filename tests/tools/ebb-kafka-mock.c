/*
 * ebb-kafka-mock - a Kafka cluster for tests, librdkafka's mock cluster in
 * a process of its own.
 *
 *   ebb-kafka-mock [-b BROKERS] [-p PARTITIONS] [-t TOPIC]...
 *
 * Creates the cluster (BROKERS brokers, default 1) and the topics
 * ebb.reports, ebb.commands, ebb.decisions and any -t TOPIC, each with
 * PARTITIONS partitions (default 4), prints the bootstrap servers as one
 * line on stdout, and runs until SIGTERM, SIGINT, "quit" or the end of
 * stdin.  Faults come as lines on stdin, each answered on stdout with
 * "ok LINE" or "error LINE: why":
 *
 *   down ID|all            broker ID (from 1) drops its connections and
 *                          refuses new ones
 *   up ID|all              accepts connections again
 *   err API ERROR COUNT    the next COUNT requests of API (a name such as
 *                          Produce, Fetch, OffsetCommit, or its number) fail
 *                          with ERROR (a Kafka error name such as
 *                          NOT_LEADER_FOR_PARTITION, or its number)
 *   clear API              forgets errors queued for API
 *   rtt ID|all MS          delays broker ID's responses by MS
 *   topic NAME PARTITIONS  creates another topic
 *
 * Remember when using it: the mock broker keeps only about 5 MiB per
 * partition, a group's first join takes about 3 s, and a consumer that
 * dies without leaving blocks its group for its session.timeout.ms.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ebb.h"
#include "ebb_wire.h"

#define MOCK_LINE_MAX	512

static const struct {
	const char	*name;
	int16_t		 key;
} mock_apis[] = {
	{ "Produce", 0 }, { "Fetch", 1 }, { "ListOffsets", 2 },
	{ "Metadata", 3 }, { "OffsetCommit", 8 }, { "OffsetFetch", 9 },
	{ "FindCoordinator", 10 }, { "JoinGroup", 11 }, { "Heartbeat", 12 },
	{ "LeaveGroup", 13 }, { "SyncGroup", 14 }, { "ApiVersions", 18 },
	{ "InitProducerId", 22 }, { "AddPartitionsToTxn", 24 },
	{ "EndTxn", 26 },
};

static int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_api(const char *s, int16_t *key)
{
	long v;

	for (size_t i = 0; i < EBB_NITEMS(mock_apis); i++)
		if (strcasecmp(s, mock_apis[i].name) == 0) {
			*key = mock_apis[i].key;
			return 0;
		}
	if (parse_long(s, 0, 32767, &v) != 0)
		return -EINVAL;
	*key = (int16_t)v;
	return 0;
}

/* A Kafka error by librdkafka's name (MSG_SIZE_TOO_LARGE) or number. */
static int
parse_error(const char *s, rd_kafka_resp_err_t *err)
{
	const struct rd_kafka_err_desc *descs;
	size_t n;
	long v;

	rd_kafka_get_err_descs(&descs, &n);
	for (size_t i = 0; i < n; i++)
		if (descs[i].name != NULL && strcasecmp(s, descs[i].name) == 0) {
			*err = descs[i].code;
			return 0;
		}
	if (parse_long(s, -200, 200, &v) != 0)
		return -EINVAL;
	*err = (rd_kafka_resp_err_t)v;
	return 0;
}

static int
parse_broker(const char *s, int32_t *id)
{
	long v;

	if (strcmp(s, "all") == 0) {
		*id = -1;
		return 0;
	}
	if (parse_long(s, 1, 1000, &v) != 0)
		return -EINVAL;
	*id = (int32_t)v;
	return 0;
}

/*
 * Runs one control line.  0 when done, -EINVAL with why filled, or 1 for
 * "quit".
 */
static int
command(rd_kafka_mock_cluster_t *mc, char *line, char *why, size_t size)
{
	char *argv[5], *save = NULL;
	rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR, code;
	int32_t id;
	int16_t api;
	long n;
	int argc = 0;

	for (char *t = strtok_r(line, " \t", &save); t != NULL;
	    t = strtok_r(NULL, " \t", &save)) {
		if (argc == (int)EBB_NITEMS(argv)) {
			snprintf(why, size, "too many words");
			return -EINVAL;
		}
		argv[argc++] = t;
	}
	if (argc == 0) {
		snprintf(why, size, "empty line");
		return -EINVAL;
	}
	if (strcmp(argv[0], "quit") == 0 && argc == 1)
		return 1;
	if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) &&
	    argc == 2) {
		if (parse_broker(argv[1], &id) != 0)
			goto usage;
		kerr = argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, id) :
		    rd_kafka_mock_broker_set_up(mc, id);
	} else if (strcmp(argv[0], "err") == 0 && argc == 4) {
		rd_kafka_resp_err_t *errs;

		if (parse_api(argv[1], &api) != 0 ||
		    parse_error(argv[2], &code) != 0 ||
		    parse_long(argv[3], 1, 100000, &n) != 0)
			goto usage;
		errs = ebb_calloc((size_t)n, sizeof(*errs));
		for (long i = 0; i < n; i++)
			errs[i] = code;
		rd_kafka_mock_push_request_errors_array(mc, api, (size_t)n,
		    errs);
		free(errs);
	} else if (strcmp(argv[0], "clear") == 0 && argc == 2) {
		if (parse_api(argv[1], &api) != 0)
			goto usage;
		rd_kafka_mock_clear_request_errors(mc, api);
	} else if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
		if (parse_broker(argv[1], &id) != 0 ||
		    parse_long(argv[2], 0, 3600000, &n) != 0)
			goto usage;
		kerr = rd_kafka_mock_broker_set_rtt(mc, id, (int)n);
	} else if (strcmp(argv[0], "topic") == 0 && argc == 3) {
		if (parse_long(argv[2], 1, 10000, &n) != 0)
			goto usage;
		kerr = rd_kafka_mock_topic_create(mc, argv[1], (int)n, 1);
	} else {
		goto usage;
	}
	if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(why, size, "%s", rd_kafka_err2str(kerr));
		return -EINVAL;
	}
	return 0;
usage:
	snprintf(why, size, "expected down ID|all, up ID|all, err API ERROR "
	    "COUNT, clear API, rtt ID|all MS, topic NAME PARTITIONS or quit");
	return -EINVAL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ebb-kafka-mock [-b brokers] [-p partitions] "
	    "[-t topic]...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const char *const base[] = { "ebb.reports", "ebb.commands",
		"ebb.decisions" };
	const char *topics[64];
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	struct ebb_linebuf in;
	struct pollfd pfd[2];
	sigset_t sigs;
	char why[512];
	long brokers = 1, parts = 4;
	int ntopics = 0, ch, rc = 0;
	bool done = false;

	for (size_t i = 0; i < EBB_NITEMS(base); i++)
		topics[ntopics++] = base[i];
	while ((ch = getopt(argc, argv, "b:p:t:")) != -1) {
		switch (ch) {
		case 'b':
			if (parse_long(optarg, 1, 16, &brokers) != 0)
				usage();
			break;
		case 'p':
			if (parse_long(optarg, 1, 1000, &parts) != 0)
				usage();
			break;
		case 't':
			if (ntopics == (int)EBB_NITEMS(topics))
				usage();
			topics[ntopics++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	if ((pfd[1].fd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "ebb-kafka-mock: signalfd: %s\n", strerror(errno));
		return 1;
	}
	pfd[1].events = POLLIN;

	/* The cluster needs a handle for its bookkeeping; it sends nothing. */
	conf = rd_kafka_conf_new();
	/* Quiet about having no bootstrap.servers: it needs none. */
	rd_kafka_conf_set(conf, "log_level", "4", why, sizeof(why));
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why,
	    sizeof(why))) == NULL) {
		rd_kafka_conf_destroy(conf);
		fprintf(stderr, "ebb-kafka-mock: %s\n", why);
		return 1;
	}
	if ((mc = rd_kafka_mock_cluster_new(rk, (int)brokers)) == NULL) {
		fprintf(stderr, "ebb-kafka-mock: cannot create the cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (int i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t kerr = rd_kafka_mock_topic_create(mc,
		    topics[i], (int)parts, 1);

		if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "ebb-kafka-mock: topic %s: %s\n",
			    topics[i], rd_kafka_err2str(kerr));
			rc = 1;
			goto out;
		}
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	ebb_linebuf_init(&in);
	while (!done) {
		const char *line;
		size_t len;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ebb-kafka-mock: poll: %s\n",
			    strerror(errno));
			rc = 1;
			break;
		}
		if (pfd[1].revents != 0)
			break;
		if (pfd[0].revents == 0)
			continue;
		if ((n = ebb_linebuf_read(&in, STDIN_FILENO)) == 0)
			break;
		if (n < 0 && n != -EAGAIN) {
			fprintf(stderr, "ebb-kafka-mock: stdin: %s\n",
			    strerror((int)-n));
			rc = 1;
			break;
		}
		while (!done && ebb_linebuf_next(&in, &line, &len) == 1) {
			char buf[MOCK_LINE_MAX], copy[MOCK_LINE_MAX];
			int r;

			if (len >= sizeof(buf)) {
				printf("error line too long\n");
				fflush(stdout);
				continue;
			}
			memcpy(buf, line, len);
			buf[len] = '\0';
			/* command() cuts buf into words; the answer quotes it. */
			memcpy(copy, buf, len + 1);
			r = command(mc, buf, why, sizeof(why));
			if (r == 1)
				done = true;
			else if (r == 0)
				printf("ok %s\n", copy);
			else
				printf("error %s: %s\n", copy, why);
			fflush(stdout);
		}
	}
	ebb_linebuf_free(&in);
out:
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	close(pfd[1].fd);
	return rc;
}
