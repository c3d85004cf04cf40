/*
 * met_io.c - open once, pread at 0, parse by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "met_io.h"

int
met_io_open(const char *root, const char *rel, int *fd, struct ebb_err *err)
{
	char path[PATH_MAX];
	size_t rl, ll;
	int rc;

	if (root == NULL)
		root = MET_PROC_ROOT;
	rl = strlen(root);
	ll = strlen(rel);
	if (rl + 1 + ll + 1 > sizeof(path)) {
		ebb_err_set(err, "%s/%s: path too long", root, rel);
		return -ENAMETOOLONG;
	}
	memcpy(path, root, rl);
	path[rl] = '/';
	memcpy(path + rl + 1, rel, ll + 1);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

int
met_io_pread(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n;

	/*
	 * One call is enough: a single_open seq_file (stat, meminfo, PID/stat
	 * ...) hands over everything it formatted that fits in the request,
	 * so a short read means end of file, as it does for a regular file.
	 */
	do
		n = pread(fd, buf, cap - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		*len = 0;
		buf[0] = '\0';
		return -errno;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

void
met_io_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

const char *
met_io_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

const char *
met_io_next_line(const char *p)
{
	while (*p != '\0' && *p != '\n')
		p++;
	return *p == '\n' ? p + 1 : NULL;
}

const char *
met_io_u64(const char *p, uint64_t *v)
{
	uint64_t x = 0;
	const char *s = p;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (x > (UINT64_MAX - d) / 10)
			return NULL;
		x = x * 10 + d;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

const char *
met_io_decimal(const char *p, double *v)
{
	/* Powers of ten up to 1e22 are exact doubles. */
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
		1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
	};
	uint64_t mant;
	unsigned frac = 0;

	if ((p = met_io_u64(p, &mant)) == NULL)
		return NULL;
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++) {
			/*
			 * Digits past what a u64 holds cannot change a
			 * double that has only 53 bits: drop them.
			 */
			if (frac + 1 < EBB_NITEMS(pow10) &&
			    mant <= (UINT64_MAX - 9) / 10) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				frac++;
			}
		}
	}
	/*
	 * Both operands are exact when mant < 2^53, so the one division
	 * rounds correctly: "0.15" gives the same double as strtod.
	 */
	*v = (double)mant / pow10[frac];
	return p;
}

const char *
met_io_field(const char *p)
{
	p = met_io_blank(p);
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
		p++;
	return p;
}

size_t
met_io_utoa(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}
