/*
 * fuzz_wire.c - the agent <-> controller line protocol as a receiver sees
 * it: bytes from a socket split into lines by ebb_linebuf, each line
 * checked by ebb_msg_parse().  The whole input is also parsed as a single
 * line, straight from the fuzzer's buffer, so that ASan sees any read past
 * the length given.  An accepted message must encode again.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "ebb_wire.h"
#include "fuzz.h"

static void
one_line(const char *line, size_t len)
{
	struct ebb_msg m;
	struct ebb_err err;
	char *enc;
	size_t elen;

	if (ebb_msg_parse(line, len, &m, &err) != 0)
		return;
	if (m.type == NULL || m.host == NULL)
		abort();		/* accepted without a header */
	enc = ebb_msg_encode(m.obj, &elen);
	free(enc);
	ebb_msg_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ebb_linebuf lb;
	const char *line;
	size_t len, off = 0;
	int sv[2], rc;
	bool done = false;

	one_line((const char *)data, size);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	ebb_linebuf_init(&lb);
	while (!done) {
		ssize_t n;

		/* Feed what the socket takes, then read what came. */
		if (off < size) {
			n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		} else if (size == 0) {
			shutdown(sv[1], SHUT_WR);
		}
		n = ebb_linebuf_read(&lb, sv[0]);
		if (n == 0 || (n < 0 && n != -EAGAIN))
			done = true;
		while ((rc = ebb_linebuf_next(&lb, &line, &len)) == 1)
			one_line(line, len);
		if (rc < 0)
			done = true;	/* too long: the peer is dropped */
	}
	ebb_linebuf_free(&lb);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
