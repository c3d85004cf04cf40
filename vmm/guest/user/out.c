/*
 * out.c - building output lines in ring 3.
 *
 * One buffer; a line is appended piece by piece and leaves either with
 * out_flush() (SYS_PUTS) or with the next sleep (SYS_WAIT_*), which
 * prints before it sleeps and so saves a trap per heartbeat.
 */
#include "ulib.h"

static char buf[512];
static size_t len;

static void
put(const char *s, size_t n)
{
	if (len + n > sizeof(buf))
		out_flush();
	for (size_t i = 0; i < n && len < sizeof(buf); i++)
		buf[len++] = s[i];
}

void
out_str(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	put(s, n);
}

void
out_u64(uint64_t v)
{
	char d[20];
	int i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(d + i, sizeof(d) - i);
}

void
out_hex(uint64_t v)
{
	char d[18];
	int i = sizeof(d);

	do {
		d[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	d[--i] = 'x';
	d[--i] = '0';
	put(d + i, sizeof(d) - i);
}

void
out_flush(void)
{
	if (len > 0)
		sys_call(SYS_PUTS, 0, buf, len);
	len = 0;
}

const char *
out_pending(size_t *n)
{
	*n = len;
	return buf;
}

void
out_sent(void)
{
	len = 0;
}

void
die(const char *why, const char *what)
{
	out_str("ERROR ");
	out_str(why);
	if (what != NULL) {
		out_str(" '");
		out_str(what);
		out_str("'");
	}
	out_str(" (halted)\n");
	out_flush();
	for (;;)
		sys_call(SYS_HALT, 0, NULL, 0);
}
