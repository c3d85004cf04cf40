/*
 * ebb_log.c - stderr logging with a level filter.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ebb_log.h"

/*
 * The log sink is process-wide by nature (one stderr); it is the one piece
 * of global state common/ keeps, and pure code never calls it.
 */
static const char		*log_prog = "ebb";
static enum ebb_log_level	 log_level = EBB_LOG_INFO;

void
ebb_log_init(const char *progname, enum ebb_log_level level)
{
	log_prog = progname;
	log_level = level;
}

void
ebb_log(enum ebb_log_level level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level > log_level)
		return;
	fprintf(stderr, "%s: %s: ", log_prog, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
