/*
 * ebb_wire.c - framing and header validation of agent <-> controller
 * messages.
 */
#include <sys/socket.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ebb_tls.h"
#include "ebb_wire.h"

int
ebb_msg_parse(const char *line, size_t len, struct ebb_msg *m,
    struct ebb_err *err)
{
	json_error_t jerr;
	json_t *o, *v;

	memset(m, 0, sizeof(*m));
	if (len >= EBB_WIRE_MAX) {
		ebb_err_set(err, "message of %zu bytes exceeds the limit of %d",
		    len, EBB_WIRE_MAX);
		return -EINVAL;
	}
	/* A NUL inside the line is refused by jansson unless allowed. */
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		ebb_err_set(err, "malformed JSON at column %d: %s", jerr.column,
		    jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(o)) {
		ebb_err_set(err, "a message must be a JSON object");
		goto bad;
	}
	v = json_object_get(o, "v");
	if (!json_is_integer(v) || json_integer_value(v) != EBB_WIRE_VERSION) {
		ebb_err_set(err, "unsupported protocol version (want \"v\": %d)",
		    EBB_WIRE_VERSION);
		goto bad;
	}
	v = json_object_get(o, "type");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > 32) {
		ebb_err_set(err, "\"type\" must be a string of 1 to 32 bytes");
		goto bad;
	}
	m->type = json_string_value(v);
	v = json_object_get(o, "host");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > EBB_HOST_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		ebb_err_set(err, "\"host\" must be a string of 1 to %d bytes",
		    EBB_HOST_MAX);
		goto bad;
	}
	m->host = json_string_value(v);
	v = json_object_get(o, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		ebb_err_set(err, "\"seq\" must be an integer >= 0");
		goto bad;
	}
	m->seq = (uint64_t)json_integer_value(v);
	v = json_object_get(o, "ts");
	if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
	    json_number_value(v) < 0) {
		ebb_err_set(err, "\"ts\" must be a number of seconds >= 0");
		goto bad;
	}
	m->ts = json_number_value(v);
	m->obj = o;
	return 0;
bad:
	json_decref(o);
	memset(m, 0, sizeof(*m));
	return -EINVAL;
}

void
ebb_msg_free(struct ebb_msg *m)
{
	json_decref(m->obj);
	memset(m, 0, sizeof(*m));
}

json_t *
ebb_msg_new(const char *type, const char *host, uint64_t seq, double ts)
{
	return json_pack("{s:i, s:s, s:s, s:I, s:f}", "v", EBB_WIRE_VERSION,
	    "type", type, "host", host, "seq", (json_int_t)seq, "ts", ts);
}

char *
ebb_msg_encode(json_t *o, size_t *lenp)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t len;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (len + 1 > EBB_WIRE_MAX) {
		free(s);
		return NULL;
	}
	/* json_dumps never emits a raw newline, so this one frames it. */
	s = ebb_realloc(s, len + 2);
	s[len] = '\n';
	s[len + 1] = '\0';
	if (lenp != NULL)
		*lenp = len + 1;
	return s;
}

void
ebb_linebuf_init(struct ebb_linebuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
ebb_linebuf_free(struct ebb_linebuf *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

ssize_t
ebb_linebuf_recv(struct ebb_linebuf *b, int fd, struct ebb_tls *tls,
    struct ebb_err *err)
{
	ssize_t n;

	/* Drop what was consumed before growing. */
	if (b->off > 0) {
		memmove(b->buf, b->buf + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? b->cap * 2 : 16384;

		if (cap > EBB_WIRE_MAX + 4096)
			cap = EBB_WIRE_MAX + 4096;
		if (cap - b->len == 0)
			return -EMSGSIZE;
		b->buf = ebb_realloc(b->buf, cap);
		b->cap = cap;
	}
	if (tls != NULL)
		n = ebb_tls_read(tls, b->buf + b->len, b->cap - b->len, err);
	else if ((n = read(fd, b->buf + b->len, b->cap - b->len)) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		n = -errno;
		ebb_err_set(err, "%s", strerror(errno));
	}
	if (n > 0)
		b->len += n;
	return n;
}

ssize_t
ebb_linebuf_read(struct ebb_linebuf *b, int fd)
{
	return ebb_linebuf_recv(b, fd, NULL, NULL);
}

int
ebb_linebuf_next(struct ebb_linebuf *b, const char **line, size_t *len)
{
	char *start = b->buf + b->off, *nl;
	size_t avail = b->len - b->off;

	if (avail == 0)
		return 0;
	nl = memchr(start, '\n', avail);
	if (nl == NULL)
		return avail >= EBB_WIRE_MAX ? -EMSGSIZE : 0;
	if ((size_t)(nl - start) + 1 > EBB_WIRE_MAX)
		return -EMSGSIZE;
	*line = start;
	*len = nl - start;
	b->off += *len + 1;
	return 1;
}

int
ebb_outq_push(struct ebb_outq *q, json_t *m, size_t max)
{
	size_t len;
	char *line = ebb_msg_encode(m, &len);

	json_decref(m);
	if (line == NULL)
		return -EMSGSIZE;
	if (q->len + len > max) {
		free(line);
		return -ENOBUFS;
	}
	if (q->len + len > q->cap) {
		q->cap = EBB_MAX(q->cap * 2, q->len + len);
		q->buf = ebb_realloc(q->buf, q->cap);
	}
	memcpy(q->buf + q->len, line, len);
	q->len += len;
	free(line);
	return 0;
}

int
ebb_outq_send(struct ebb_outq *q, int fd, struct ebb_tls *tls,
    struct ebb_err *err)
{
	size_t off = 0;
	int rc = 0;

	/*
	 * TLS hands over a record (16 KiB) at a time: move what is left
	 * down once at the end, not after every piece of a 1 MiB line.
	 */
	while (off < q->len) {
		ssize_t n;

		if (tls != NULL) {
			n = ebb_tls_write(tls, q->buf + off, q->len - off, err);
		} else if ((n = send(fd, q->buf + off, q->len - off,
		    MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			n = errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN :
			    -errno;
			if (n != -EAGAIN)
				ebb_err_set(err, "%s", strerror(errno));
		}
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			rc = (int)n;
			break;
		}
		off += (size_t)n;
	}
	if (off > 0) {
		memmove(q->buf, q->buf + off, q->len - off);
		q->len -= off;
	}
	return rc;
}

int
ebb_outq_flush(struct ebb_outq *q, int fd)
{
	return ebb_outq_send(q, fd, NULL, NULL);
}

void
ebb_outq_free(struct ebb_outq *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

double
ebb_wallclock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
ebb_monoclock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
