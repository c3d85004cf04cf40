/*
 * test_agent_wire.c - the agent <-> controller wire format (common/
 * ebb_wire.c) and the socket helpers it rides on (common/ebb_net.c).
 *
 * Checked: ebb_msg_parse() applies every header rule of docs/protocol.md
 * (v, type, host with its length and no NUL, seq >= 0, ts finite and
 * >= 0), refuses what is not a JSON object, malformed JSON, duplicate
 * keys and lines of EBB_WIRE_MAX bytes or more, and leaves nothing to
 * free when it refuses; ebb_msg_new() + ebb_msg_encode() give one ASCII
 * line ending in '\n' that parses back to the same object, and refuse a
 * message over the limit; ebb_linebuf over a socketpair: nothing yet,
 * partial lines, several lines in one read, a line split across reads,
 * random chunking, a line of exactly the limit, a longer one
 * (-EMSGSIZE), EOF; ebb_hostport() on good and bad addresses; a message
 * over a real TCP connection made with ebb_tcp_listen/connect/accept.
 */
#include <sys/socket.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
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

/* ---- ebb_msg_parse ------------------------------------------------------ */

static int
parse(const char *s, struct ebb_msg *m, struct ebb_err *err)
{
	return ebb_msg_parse(s, strlen(s), m, err);
}

/* Parses s, which must be refused with a message holding `want`. */
static void
expect_refused(const char *s, const char *want)
{
	struct ebb_msg m;
	struct ebb_err err = { "" };
	int rc;

	memset(&m, 0xa5, sizeof(m));
	rc = parse(s, &m, &err);
	if (rc != -EINVAL)
		fail_msg("%s: rc %d, expected -EINVAL", s, rc);
	/* Nothing is left to free, and nothing points anywhere. */
	assert_null(m.obj);
	assert_null(m.type);
	assert_null(m.host);
	if (want != NULL && strstr(err.msg, want) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", s, err.msg, want);
	ebb_msg_free(&m);
}

static void
expect_accepted(const char *s, struct ebb_msg *m)
{
	struct ebb_err err = { "" };

	if (parse(s, m, &err) != 0)
		fail_msg("%s: refused: %s", s, err.msg);
	assert_non_null(m->obj);
}

static void
test_parse_good(void **state)
{
	struct ebb_msg m;

	(void)state;
	expect_accepted("{\"v\":1,\"type\":\"report\",\"host\":\"h1\","
	    "\"seq\":7,\"ts\":1764150000.25,\"extra\":[1,{\"a\":null}]}", &m);
	assert_string_equal(m.type, "report");
	assert_string_equal(m.host, "h1");
	assert_true(m.seq == 7);
	assert_true(m.ts == 1764150000.25);
	/* The pointers point into the object, which holds every field. */
	assert_ptr_equal(m.type, json_string_value(json_object_get(m.obj,
	    "type")));
	assert_ptr_equal(m.host, json_string_value(json_object_get(m.obj,
	    "host")));
	assert_true(json_is_array(json_object_get(m.obj, "extra")));
	ebb_msg_free(&m);
	assert_null(m.obj);
	/* Freeing twice is harmless: free zeroes. */
	ebb_msg_free(&m);

	/* Whitespace, any key order, an integer ts, seq 0, ts 0. */
	expect_accepted(" { \"ts\" : 0 , \"seq\" : 0 , \"host\" : \"h\" , "
	    "\"type\" : \"t\" , \"v\" : 1 } ", &m);
	assert_true(m.seq == 0);
	assert_true(m.ts == 0);
	ebb_msg_free(&m);
	expect_accepted("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,"
	    "\"ts\":17}", &m);
	assert_true(m.ts == 17);
	ebb_msg_free(&m);

	/* The largest seq JSON integers carry. */
	expect_accepted("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":"
	    "9223372036854775807,\"ts\":1}", &m);
	assert_true(m.seq == INT64_MAX);
	ebb_msg_free(&m);

	/* Non-ASCII in \u escapes arrives as UTF-8. */
	expect_accepted("{\"v\":1,\"type\":\"t\",\"host\":\"h\\u00e9\","
	    "\"seq\":1,\"ts\":1}", &m);
	assert_string_equal(m.host, "h\xc3\xa9");
	ebb_msg_free(&m);

	/* Only the given length is read: what follows does not matter. */
	{
		static const char two[] = "{\"v\":1,\"type\":\"t\",\"host\":"
		    "\"h\",\"seq\":1,\"ts\":1}{\"garbage\"";
		struct ebb_err err = { "" };

		assert_int_equal(ebb_msg_parse(two, strchr(two, '}') - two + 1,
		    &m, &err), 0);
		ebb_msg_free(&m);
	}
}

static void
test_parse_version(void **state)
{
	static const char *const bad[] = { "", "\"v\":2,", "\"v\":0,",
		"\"v\":-1,", "\"v\":\"1\",", "\"v\":1.0,", "\"v\":true,",
		"\"v\":null,", "\"v\":[1]," };
	char s[256];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		snprintf(s, sizeof(s), "{%s\"type\":\"t\",\"host\":\"h\","
		    "\"seq\":1,\"ts\":1}", bad[i]);
		expect_refused(s, "version");
	}
}

static void
test_parse_type(void **state)
{
	static const char *const bad[] = { "", "\"type\":\"\",",
		"\"type\":5,", "\"type\":null,", "\"type\":[\"t\"],",
		"\"type\":\"123456789012345678901234567890123\"," };
	struct ebb_msg m;
	char s[256];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		snprintf(s, sizeof(s), "{\"v\":1,%s\"host\":\"h\",\"seq\":1,"
		    "\"ts\":1}", bad[i]);
		expect_refused(s, "\"type\"");
	}
	/* 1 and 32 bytes are the limits. */
	expect_accepted("{\"v\":1,\"type\":\"12345678901234567890123456789012\""
	    ",\"host\":\"h\",\"seq\":1,\"ts\":1}", &m);
	assert_int_equal(strlen(m.type), 32);
	ebb_msg_free(&m);
	expect_accepted("{\"v\":1,\"type\":\"x\",\"host\":\"h\",\"seq\":1,"
	    "\"ts\":1}", &m);
	ebb_msg_free(&m);
	/* A NUL would make "command\0x" look like "command". */
	expect_refused("{\"v\":1,\"type\":\"command\\u0000x\",\"host\":\"h\","
	    "\"seq\":1,\"ts\":1}", NULL);
}

static void
test_parse_host(void **state)
{
	static const char *const bad[] = { "", "\"host\":\"\",",
		"\"host\":1,", "\"host\":null,", "\"host\":{},",
		"\"host\":true," };
	struct ebb_msg m;
	char s[1024], name[EBB_HOST_MAX + 2];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		snprintf(s, sizeof(s), "{\"v\":1,\"type\":\"t\",%s\"seq\":1,"
		    "\"ts\":1}", bad[i]);
		expect_refused(s, "\"host\"");
	}
	/* EBB_HOST_MAX bytes pass, one more does not. */
	memset(name, 'n', EBB_HOST_MAX);
	name[EBB_HOST_MAX] = '\0';
	snprintf(s, sizeof(s), "{\"v\":1,\"type\":\"t\",\"host\":\"%s\","
	    "\"seq\":1,\"ts\":1}", name);
	expect_accepted(s, &m);
	assert_int_equal(strlen(m.host), EBB_HOST_MAX);
	ebb_msg_free(&m);
	memset(name, 'n', EBB_HOST_MAX + 1);
	name[EBB_HOST_MAX + 1] = '\0';
	snprintf(s, sizeof(s), "{\"v\":1,\"type\":\"t\",\"host\":\"%s\","
	    "\"seq\":1,\"ts\":1}", name);
	expect_refused(s, "\"host\" must be a string of 1 to 255 bytes");
	/* 255 bytes of UTF-8 count as bytes: 128 two-byte letters = 256. */
	{
		char *p = s;

		p += sprintf(p, "{\"v\":1,\"type\":\"t\",\"host\":\"");
		for (int i = 0; i < 128; i++)
			p += sprintf(p, "\\u00e9");
		sprintf(p, "\",\"seq\":1,\"ts\":1}");
		expect_refused(s, "\"host\"");
	}
	/*
	 * An embedded NUL: "h1\0evil" must never compare equal to "h1".
	 * jansson refuses \u0000 before ebb's own check would.
	 */
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"h1\\u0000evil\","
	    "\"seq\":1,\"ts\":1}", NULL);
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"\\u0000\","
	    "\"seq\":1,\"ts\":1}", NULL);
}

static void
test_parse_seq(void **state)
{
	static const char *const bad[] = { "", "\"seq\":-1,", "\"seq\":1.5,",
		"\"seq\":1.0,", "\"seq\":\"1\",", "\"seq\":null,",
		"\"seq\":true,", "\"seq\":-9223372036854775808," };

	char s[256];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		snprintf(s, sizeof(s), "{\"v\":1,\"type\":\"t\",\"host\":\"h\","
		    "%s\"ts\":1}", bad[i]);
		expect_refused(s, "\"seq\" must be an integer >= 0");
	}
	/* Beyond int64: jansson itself refuses it. */
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":"
	    "18446744073709551615,\"ts\":1}", "malformed JSON");
}

static void
test_parse_ts(void **state)
{
	static const char *const bad[] = { "", "\"ts\":-1", "\"ts\":-0.001",
		"\"ts\":\"1\"", "\"ts\":null", "\"ts\":false",
		"\"ts\":[1]", "\"ts\":-1e300" };
	char s[256];

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		snprintf(s, sizeof(s), "{\"v\":1,\"type\":\"t\",\"host\":\"h\","
		    "\"seq\":1%s%s}", bad[i][0] ? "," : "", bad[i]);
		expect_refused(s, "\"ts\" must be a number of seconds >= 0");
	}
	/* Infinity has no JSON spelling; an overflowing literal is refused. */
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,"
	    "\"ts\":1e999}", "malformed JSON");
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,"
	    "\"ts\":NaN}", "malformed JSON");
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,"
	    "\"ts\":Infinity}", "malformed JSON");
}

static void
test_parse_not_an_object(void **state)
{
	(void)state;
	expect_refused("[]", "a message must be a JSON object");
	expect_refused("[{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,"
	    "\"ts\":1}]", "a message must be a JSON object");
	/* Scalars are not JSON texts to jansson's decoder at all. */
	expect_refused("1", NULL);
	expect_refused("\"str\"", NULL);
	expect_refused("null", NULL);
}

static void
test_parse_malformed(void **state)
{
	static const char *const bad[] = { "", " ", "{", "}", "{\"v\":1,}",
		"{\"v\":1 \"type\":\"t\"}", "{'v':1}", "\xff\xfe{}",
		"{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,\"ts\":1} x",
		"{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,\"ts\":1}{}",
		"{\"v\":1,\"type\":\"t\",\"host\":\"h\xff\",\"seq\":1,\"ts\":1}",
	};
	struct ebb_msg m;
	struct ebb_err err = { "" };
	static const char nul[] = "{\"v\":1,\"type\":\"t\",\"host\":\"h\","
	    "\"seq\":1,\"ts\":1}\0 ";

	(void)state;
	for (size_t i = 0; i < EBB_NITEMS(bad); i++)
		expect_refused(bad[i], "malformed JSON at column");
	/* A duplicate key is refused: which value would count? */
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"host\":\"x\","
	    "\"seq\":1,\"ts\":1}", "duplicate");
	expect_refused("{\"v\":1,\"type\":\"t\",\"host\":\"h\",\"seq\":1,"
	    "\"seq\":2,\"ts\":1}", "duplicate");
	/* A raw NUL byte inside the line. */
	assert_int_equal(ebb_msg_parse(nul, sizeof(nul) - 1, &m, &err),
	    -EINVAL);
	assert_null(m.obj);
}

/*
 * A valid message padded (a "pad" string) to exactly `len` bytes; the
 * caller frees.  len must leave room for the header.
 */
static char *
padded_message(size_t len)
{
	static const char head[] = "{\"v\":1,\"type\":\"t\",\"host\":\"h\","
	    "\"seq\":1,\"ts\":1,\"pad\":\"";
	static const char tail[] = "\"}";
	char *s = ebb_malloc(len + 1);
	size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;

	assert_true(len > hl + tl);
	memcpy(s, head, hl);
	memset(s + hl, 'p', len - hl - tl);
	memcpy(s + len - tl, tail, tl);
	s[len] = '\0';
	return s;
}

static void
test_parse_too_long(void **state)
{
	struct ebb_msg m;
	struct ebb_err err = { "" };
	char *s;

	(void)state;
	/* EBB_WIRE_MAX with the newline: EBB_WIRE_MAX - 1 without it. */
	s = padded_message(EBB_WIRE_MAX - 1);
	assert_int_equal(ebb_msg_parse(s, EBB_WIRE_MAX - 1, &m, &err), 0);
	ebb_msg_free(&m);
	free(s);

	s = padded_message(EBB_WIRE_MAX);
	assert_int_equal(ebb_msg_parse(s, EBB_WIRE_MAX, &m, &err), -EINVAL);
	assert_null(m.obj);
	assert_non_null(strstr(err.msg, "exceeds the limit"));
	free(s);

	/* The length is checked before the text is even looked at. */
	s = ebb_malloc(2 * EBB_WIRE_MAX);
	memset(s, '{', 2 * EBB_WIRE_MAX);
	assert_int_equal(ebb_msg_parse(s, 2 * EBB_WIRE_MAX, &m, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "exceeds the limit"));
	free(s);
}

/* ---- ebb_msg_new / ebb_msg_encode --------------------------------------- */

static void
check_line(const char *line, size_t len)
{
	assert_true(len >= 2);
	assert_int_equal(strlen(line), len);
	assert_int_equal(line[len - 1], '\n');
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		/* ASCII, printable: every control character is escaped. */
		if (ch < 0x20 || ch >= 0x7f)
			fail_msg("byte %zu of the line is 0x%02x", i, ch);
	}
}

static void
test_encode_round_trip(void **state)
{
	struct ebb_msg m;
	struct ebb_err err = { "" };
	json_t *o;
	size_t len = 0;
	char *line;

	(void)state;
	o = ebb_msg_new("report", "h\xc3\xa9-1", 42, 1764150000.123456789);
	assert_non_null(o);
	json_object_set_new(o, "text", json_string("line1\nline2\r\t\"q\" "
	    "\\ \x01 \xe6\x97\xa5\xe6\x9c\xac \xe2\x80\xa8 \xf0\x9f\x98\x80"));
	json_object_set_new(o, "cores", json_pack("[f, f, f]", 0.1, 1.0 / 3,
	    0.0));
	json_object_set_new(o, "nested", json_pack("{s:{s:[i,b,n]}}", "a",
	    "b", -5, 1));
	json_object_set_new(o, "big", json_integer(INT64_MAX));

	line = ebb_msg_encode(o, &len);
	assert_non_null(line);
	check_line(line, len);
	/* One line: the only newline is the last byte. */
	assert_ptr_equal(strchr(line, '\n'), line + len - 1);

	assert_int_equal(ebb_msg_parse(line, len - 1, &m, &err), 0);
	assert_string_equal(m.type, "report");
	assert_string_equal(m.host, "h\xc3\xa9-1");
	assert_true(m.seq == 42);
	/* Reals survive exactly (17 significant digits). */
	assert_true(m.ts == 1764150000.123456789);
	assert_true(json_equal(o, m.obj));
	assert_int_equal(json_integer_value(json_object_get(m.obj, "v")),
	    EBB_WIRE_VERSION);
	ebb_msg_free(&m);
	free(line);

	/* A NULL length pointer is allowed. */
	line = ebb_msg_encode(o, NULL);
	assert_non_null(line);
	free(line);
	json_decref(o);

	/* The header alone parses back, with ts a real even when whole. */
	o = ebb_msg_new("hello", "h", 0, 0);
	assert_true(json_is_real(json_object_get(o, "ts")));
	line = ebb_msg_encode(o, &len);
	assert_non_null(line);
	check_line(line, len);
	assert_int_equal(ebb_msg_parse(line, len - 1, &m, &err), 0);
	assert_true(m.seq == 0 && m.ts == 0);
	ebb_msg_free(&m);
	free(line);
	json_decref(o);
}

static void
test_encode_too_big(void **state)
{
	json_t *o = ebb_msg_new("t", "h", 1, 1);
	char *pad = ebb_malloc(EBB_WIRE_MAX + 1);

	(void)state;
	memset(pad, 'x', EBB_WIRE_MAX);
	pad[EBB_WIRE_MAX] = '\0';
	json_object_set_new(o, "pad", json_string(pad));
	assert_null(ebb_msg_encode(o, NULL));
	free(pad);
	json_decref(o);
}

/*
 * The sender's limit is the receiver's: a message whose line (with its
 * newline) is exactly EBB_WIRE_MAX bytes is valid for ebb_linebuf_next
 * and ebb_msg_parse (test_parse_too_long, test_linebuf_exact_limit), and
 * the header says encode returns NULL only "if it would exceed
 * EBB_WIRE_MAX", so encode must produce it; one byte more it must not.
 */
static void
test_encode_exact_limit(void **state)
{
	json_t *o = ebb_msg_new("t", "h", 1, 1);
	size_t base, len = 0;
	char *s, *pad, *line, *over;
	bool ok;

	(void)state;
	json_object_set_new(o, "pad", json_string(""));
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	base = strlen(s);
	free(s);

	/* Without its newline the dump is EBB_WIRE_MAX - 1 bytes. */
	pad = ebb_malloc(EBB_WIRE_MAX);
	memset(pad, 'x', EBB_WIRE_MAX - 1 - base);
	pad[EBB_WIRE_MAX - 1 - base] = '\0';
	json_object_set_new(o, "pad", json_string(pad));
	line = ebb_msg_encode(o, &len);

	/* One byte more is over the limit. */
	pad[EBB_WIRE_MAX - 1 - base] = 'x';
	pad[EBB_WIRE_MAX - base] = '\0';
	json_object_set_new(o, "pad", json_string(pad));
	over = ebb_msg_encode(o, NULL);
	free(pad);
	json_decref(o);

	/* Everything is freed before a failure can jump out. */
	if (line == NULL) {
		free(over);
		fail_msg("ebb_msg_encode refused a line of exactly "
		    "EBB_WIRE_MAX (%d) bytes with its newline, which "
		    "ebb_linebuf_next and ebb_msg_parse accept", EBB_WIRE_MAX);
	}
	ok = len == EBB_WIRE_MAX && line[len - 1] == '\n' &&
	    strlen(line) == len;
	free(line);
	if (over != NULL) {
		free(over);
		fail_msg("ebb_msg_encode gave a line of EBB_WIRE_MAX + 1 "
		    "bytes");
	}
	assert_true(ok);
}

/* ---- ebb_linebuf ------------------------------------------------------- */

struct pair {
	int			w;	/* the sender's end */
	int			r;	/* the receiver's end, non-blocking */
	struct ebb_linebuf	lb;
};

static int
pair_setup(void **state)
{
	struct pair *p = ebb_calloc(1, sizeof(*p));
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0) {
		free(p);
		return -1;
	}
	p->w = sv[0];
	p->r = sv[1];
	ebb_linebuf_init(&p->lb);
	*state = p;
	return 0;
}

static int
pair_teardown(void **state)
{
	struct pair *p = *state;

	if (p->w >= 0)
		close(p->w);
	close(p->r);
	ebb_linebuf_free(&p->lb);
	free(p);
	return 0;
}

static void
put(struct pair *p, const char *s)
{
	assert_int_equal(write(p->w, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads until the socket has nothing more; returns the bytes read. */
static size_t
drain(struct pair *p)
{
	size_t total = 0;
	ssize_t n;

	while ((n = ebb_linebuf_read(&p->lb, p->r)) > 0)
		total += (size_t)n;
	assert_int_equal(n, -EAGAIN);
	return total;
}

static void
expect_line(struct pair *p, const char *want)
{
	const char *line = NULL;
	size_t len = 0;

	assert_int_equal(ebb_linebuf_next(&p->lb, &line, &len), 1);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, len);
}

static void
expect_no_line(struct pair *p)
{
	const char *line;
	size_t len;

	assert_int_equal(ebb_linebuf_next(&p->lb, &line, &len), 0);
}

static void
test_linebuf_basics(void **state)
{
	struct pair *p = *state;

	/* Nothing there yet. */
	expect_no_line(p);
	assert_int_equal(ebb_linebuf_read(&p->lb, p->r), -EAGAIN);
	expect_no_line(p);

	/* A partial line waits for its end. */
	put(p, "abc");
	assert_int_equal(drain(p), 3);
	expect_no_line(p);
	put(p, "def\n");
	drain(p);
	expect_line(p, "abcdef");
	expect_no_line(p);

	/* Several lines in one read, an empty one among them. */
	put(p, "a\nbb\n\nccc\nrest");
	assert_int_equal(ebb_linebuf_read(&p->lb, p->r), 14);
	expect_line(p, "a");
	expect_line(p, "bb");
	expect_line(p, "");
	expect_line(p, "ccc");
	expect_no_line(p);

	/* A line split across reads, the earlier lines already consumed. */
	put(p, "-of-it");
	drain(p);
	expect_no_line(p);
	put(p, "\n{\"x\":");
	drain(p);
	expect_line(p, "rest-of-it");
	expect_no_line(p);
	put(p, "1}\n");
	drain(p);
	expect_line(p, "{\"x\":1}");
	expect_no_line(p);

	/* A '\r' is data, not an end of line. */
	put(p, "crlf\r\n");
	drain(p);
	expect_line(p, "crlf\r");

	/* EOF: read says 0; a partial line is never delivered. */
	put(p, "unterminated");
	close(p->w);
	p->w = -1;
	{
		ssize_t n;

		while ((n = ebb_linebuf_read(&p->lb, p->r)) > 0)
			;
		assert_int_equal(n, 0);
	}
	expect_no_line(p);
	assert_int_equal(ebb_linebuf_read(&p->lb, p->r), 0);
}

static void
test_linebuf_bad_fd(void **state)
{
	struct ebb_linebuf lb;

	(void)state;
	ebb_linebuf_init(&lb);
	assert_int_equal(ebb_linebuf_read(&lb, -1), -EBADF);
	ebb_linebuf_free(&lb);
	/* Free twice, and free of a never-used buffer, are fine. */
	ebb_linebuf_free(&lb);
}

/*
 * Many lines of random lengths (up to 40 KiB, so the buffer grows and
 * compacts) written in random chunks: every line comes back, in order,
 * byte for byte.
 */
static void
test_linebuf_random_chunks(void **state)
{
	struct pair *p = *state;
	enum { NLINES = 600 };
	struct ebb_rand rng;
	size_t total = 0, off = 0, sent = 0, got = 0, *lens;
	char *stream;

	ebb_rand_seed(&rng, 20240611);
	lens = ebb_calloc(NLINES, sizeof(*lens));
	for (int i = 0; i < NLINES; i++) {
		lens[i] = ebb_rand_below(&rng, 8) == 0 ?
		    ebb_rand_below(&rng, 40000) : ebb_rand_below(&rng, 200);
		total += lens[i] + 1;
	}
	stream = ebb_malloc(total);
	for (int i = 0; i < NLINES; i++) {
		for (size_t k = 0; k < lens[i]; k++)
			stream[off + k] = (char)('a' + (i + k) % 26);
		stream[off + lens[i]] = '\n';
		off += lens[i] + 1;
	}

	off = 0;
	while (got < NLINES) {
		const char *line;
		size_t len, chunk;
		ssize_t n;
		int rc;

		if (sent < total) {
			chunk = 1 + ebb_rand_below(&rng, 9000);
			chunk = EBB_MIN(chunk, total - sent);
			n = write(p->w, stream + sent, chunk);
			if (n > 0)
				sent += (size_t)n;
			else
				assert_int_equal(errno, EAGAIN);
		}
		n = ebb_linebuf_read(&p->lb, p->r);
		assert_true(n > 0 || n == -EAGAIN);
		while ((rc = ebb_linebuf_next(&p->lb, &line, &len)) == 1) {
			assert_int_equal(len, lens[got]);
			assert_memory_equal(line, stream + off, len);
			off += len + 1;
			got++;
		}
		assert_int_equal(rc, 0);
	}
	assert_int_equal(off, total);
	free(stream);
	free(lens);
}

/*
 * Pushes `len` bytes of 'x' followed by a newline through the pair,
 * reading as it goes.  Returns 1 when a line came out (its length in
 * *out), or -EMSGSIZE once the buffer refused it.
 */
static int
push_long_line(struct pair *p, size_t len, size_t *out)
{
	char chunk[65536];
	size_t sent = 0;

	memset(chunk, 'x', sizeof(chunk));
	for (;;) {
		const char *line;
		ssize_t n;
		int rc;

		if (sent < len + 1) {
			size_t c = EBB_MIN(sizeof(chunk), len + 1 - sent);

			if (sent + c == len + 1)
				chunk[c - 1] = '\n';
			n = write(p->w, chunk, c);
			chunk[c - 1] = 'x';
			if (n > 0)
				sent += (size_t)n;
			else
				assert_int_equal(errno, EAGAIN);
		}
		n = ebb_linebuf_read(&p->lb, p->r);
		if (n == -EMSGSIZE)
			return -EMSGSIZE;
		assert_true(n > 0 || n == -EAGAIN);
		rc = ebb_linebuf_next(&p->lb, &line, out);
		if (rc != 0)
			return rc;
		/* Never more buffered than a line and a read's worth. */
		assert_true(p->lb.len - p->lb.off <= EBB_WIRE_MAX + 65536);
	}
}

static void
test_linebuf_exact_limit(void **state)
{
	struct pair *p = *state;
	size_t len = 0;

	/* EBB_WIRE_MAX bytes with the newline is the largest line. */
	assert_int_equal(push_long_line(p, EBB_WIRE_MAX - 1, &len), 1);
	assert_int_equal(len, EBB_WIRE_MAX - 1);
	/* And the buffer goes on working after it. */
	put(p, "next\n");
	drain(p);
	expect_line(p, "next");
	expect_no_line(p);
}

static void
test_linebuf_too_long(void **state)
{
	struct pair *p = *state;
	size_t len = 0;

	assert_int_equal(push_long_line(p, EBB_WIRE_MAX, &len), -EMSGSIZE);
}

static void
test_linebuf_very_long(void **state)
{
	struct pair *p = *state;
	size_t len = 0;

	/* 2 MiB: refused long before its end arrives. */
	assert_int_equal(push_long_line(p, 2 * EBB_WIRE_MAX, &len),
	    -EMSGSIZE);
}

/* A good line, then a line over the limit in the same stream. */
static void
test_linebuf_good_then_too_long(void **state)
{
	struct pair *p = *state;
	size_t len = 0;

	put(p, "ok\n");
	drain(p);
	expect_line(p, "ok");
	assert_int_equal(push_long_line(p, EBB_WIRE_MAX + 10, &len),
	    -EMSGSIZE);
}

/* ---- ebb_hostport -------------------------------------------------------- */

static void
expect_hostport(const char *s, const char *host, int port)
{
	struct ebb_err err = { "" };
	char h[EBB_ADDR_MAX];
	int pt = -7;

	if (ebb_hostport(s, h, sizeof(h), &pt, &err) != 0)
		fail_msg("%s: refused: %s", s, err.msg);
	assert_string_equal(h, host);
	assert_int_equal(pt, port);
}

static void
expect_bad_hostport(const char *s)
{
	struct ebb_err err = { "" };
	char h[EBB_ADDR_MAX], want[EBB_ADDR_MAX + 8];
	int pt = -7;

	if (ebb_hostport(s, h, sizeof(h), &pt, &err) != -EINVAL)
		fail_msg("\"%s\" accepted as host \"%s\" port %d", s, h, pt);
	snprintf(want, sizeof(want), "'%s'", s);
	if (strstr(err.msg, want) == NULL || strstr(err.msg, "HOST:PORT") ==
	    NULL)
		fail_msg("\"%s\": message \"%s\"", s, err.msg);
	/* A NULL err is allowed. */
	assert_int_equal(ebb_hostport(s, h, sizeof(h), &pt, NULL), -EINVAL);
}

static void
test_hostport(void **state)
{
	static const char *const bad[] = { "host:", ":80", "h:99999",
		"noport", "", ":", "h:65536", "h:-1", "h:80x", "h:8 0",
		"[::1]7400", "[::1]", "[::1]:", "[]:80", "[::1", "::1]:80x" };
	char h[4];
	int pt;

	(void)state;
	expect_hostport("127.0.0.1:80", "127.0.0.1", 80);
	expect_hostport("[::1]:7400", "::1", 7400);
	expect_hostport("localhost:7400", "localhost", 7400);
	expect_hostport("h:0", "h", 0);
	expect_hostport("h:65535", "h", 65535);
	expect_hostport("[fe80::1%eth0]:9", "fe80::1%eth0", 9);
	for (size_t i = 0; i < EBB_NITEMS(bad); i++)
		expect_bad_hostport(bad[i]);

	/* The host must fit the caller's buffer, with its NUL. */
	assert_int_equal(ebb_hostport("abc:1", h, sizeof(h), &pt, NULL), 0);
	assert_string_equal(h, "abc");
	assert_int_equal(ebb_hostport("abcd:1", h, sizeof(h), &pt, NULL),
	    -EINVAL);
	assert_int_equal(ebb_hostport("[abcd]:1", h, sizeof(h), &pt, NULL),
	    -EINVAL);
}

/* ---- a message over real TCP ------------------------------------------- */

static int
wait_fd(int fd, short events, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	return poll(&pfd, 1, ms);
}

static void
test_tcp_round_trip(void **state)
{
	struct ebb_err err = { "" };
	struct ebb_linebuf lb;
	struct ebb_msg m;
	const char *line;
	json_t *o;
	size_t len;
	char *enc;
	int lfd, cfd, sfd = -1, port;

	(void)state;
	lfd = ebb_tcp_listen("127.0.0.1", 0, &err);
	if (lfd < 0)
		fail_msg("%s", err.msg);
	port = ebb_sock_port(lfd);
	assert_true(port > 0 && port <= 65535);

	cfd = ebb_tcp_connect("127.0.0.1", port, &err);
	if (cfd < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(wait_fd(cfd, POLLOUT, 5000), 1);
	assert_int_equal(ebb_connect_result(cfd), 0);
	for (int i = 0; i < 500 && sfd < 0; i++) {
		sfd = ebb_accept(lfd);
		if (sfd == -EAGAIN)
			wait_fd(lfd, POLLIN, 10);
	}
	assert_true(sfd >= 0);

	o = ebb_msg_new("hello", "tcp-host", 0, ebb_wallclock());
	json_object_set_new(o, "cores", json_integer(2));
	enc = ebb_msg_encode(o, &len);
	assert_non_null(enc);
	assert_int_equal(ebb_write_all(cfd, enc, len, 5000), 0);
	free(enc);

	ebb_linebuf_init(&lb);
	for (;;) {
		ssize_t n;
		int rc = ebb_linebuf_next(&lb, &line, &len);

		if (rc == 1)
			break;
		assert_int_equal(rc, 0);
		assert_int_equal(wait_fd(sfd, POLLIN, 5000), 1);
		n = ebb_linebuf_read(&lb, sfd);
		assert_true(n > 0 || n == -EAGAIN);
	}
	assert_int_equal(ebb_msg_parse(line, len, &m, &err), 0);
	assert_true(json_equal(o, m.obj));
	ebb_msg_free(&m);
	json_decref(o);

	/* The peer goes away: EOF. */
	close(cfd);
	assert_int_equal(wait_fd(sfd, POLLIN, 5000), 1);
	assert_int_equal(ebb_linebuf_read(&lb, sfd), 0);
	ebb_linebuf_free(&lb);
	close(sfd);
	close(lfd);

	/* Nobody listens there any more: refused, now or after POLLOUT. */
	cfd = ebb_tcp_connect("127.0.0.1", port, &err);
	if (cfd >= 0) {
		assert_true(wait_fd(cfd, POLLOUT, 5000) == 1);
		assert_int_equal(ebb_connect_result(cfd), -ECONNREFUSED);
		close(cfd);
	} else {
		assert_int_equal(cfd, -ECONNREFUSED);
	}
	assert_true(ebb_tcp_connect("no.such.host.invalid", port, &err) < 0);
}

static void
test_clocks(void **state)
{
	double w = ebb_wallclock(), m0 = ebb_monoclock(), m1;

	(void)state;
	assert_true(fabs(w - (double)time(NULL)) < 2);
	m1 = ebb_monoclock();
	assert_true(m1 >= m0);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_version),
		cmocka_unit_test(test_parse_type),
		cmocka_unit_test(test_parse_host),
		cmocka_unit_test(test_parse_seq),
		cmocka_unit_test(test_parse_ts),
		cmocka_unit_test(test_parse_not_an_object),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_too_long),
		cmocka_unit_test(test_encode_round_trip),
		cmocka_unit_test(test_encode_too_big),
		cmocka_unit_test(test_encode_exact_limit),
		cmocka_unit_test_setup_teardown(test_linebuf_basics,
		    pair_setup, pair_teardown),
		cmocka_unit_test(test_linebuf_bad_fd),
		cmocka_unit_test_setup_teardown(test_linebuf_random_chunks,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_linebuf_exact_limit,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_linebuf_too_long,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_linebuf_very_long,
		    pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_linebuf_good_then_too_long,
		    pair_setup, pair_teardown),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_tcp_round_trip),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
