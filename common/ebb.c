/*
 * ebb.c - allocation, error text and file reading shared by all components.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"

void
ebb_err_set(struct ebb_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static void
ebb_oom(size_t n)
{
	fprintf(stderr, "ebb: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
ebb_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		ebb_oom(n);
	return p;
}

void *
ebb_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		ebb_oom(n * size);
	return p;
}

void *
ebb_realloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (p == NULL)
		ebb_oom(n);
	return p;
}

void *
ebb_reallocarray(void *old, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		ebb_oom(SIZE_MAX);
	return ebb_realloc(old, n * size);
}

char *
ebb_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(ebb_malloc(n), s, n);
}

int
ebb_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
ebb_read_file(const char *path, char **bufp, size_t *lenp, struct ebb_err *err)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int rc;

	if ((f = fopen(path, "r")) == NULL) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = ebb_realloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		ebb_err_set(err, "%s: read error", path);
		fclose(f);
		free(buf);
		return rc;
	}
	fclose(f);
	buf[len] = '\0';
	*bufp = buf;
	if (lenp != NULL)
		*lenp = len;
	return 0;
}
