/*
 * met_prom.h - Prometheus text exposition format 0.0.4, written into a
 * caller's buffer.
 *
 * A writer appends whole lines: "# HELP", "# TYPE" and samples
 * ("name{label="value",...} number").  It never allocates and never
 * leaves half a line: a line that does not fit is not written, the writer
 * records -ENOSPC and every later call only counts the bytes the text
 * would need (`need`), so a caller can retry once with a buffer of
 * need + 1 bytes.  met_prom_finish() reports the first error and, on
 * error, empties the buffer, so a truncated exposition can never be served
 * as if it were complete.
 *
 * Numbers print as Prometheus parses them: NaN, +Inf, -Inf, integers
 * without a fraction, other values in the shortest of %.15g / %.17g that
 * reads back as the same double.  (%g follows LC_NUMERIC; ebb's programs
 * never call setlocale(), so the decimal point is '.'.)
 */
#ifndef MET_PROM_H
#define MET_PROM_H

#include <stddef.h>

#include "ebb.h"

struct met_host;

enum met_prom_type {
	MET_PROM_GAUGE,
	MET_PROM_COUNTER,
};

struct met_prom_label {
	const char	*name;	/* [a-zA-Z_][a-zA-Z0-9_]*, no "__" */
	const char	*value;	/* any text: escaped on output */
};

struct met_prom {
	char	*buf;
	size_t	 cap;	/* bytes in buf, the final NUL included */
	size_t	 len;	/* bytes written: whole lines only */
	size_t	 need;	/* bytes the text needs, NUL excluded */
	int	 err;	/* first error: -ENOSPC or -EINVAL */
	size_t	 line;	/* private: where the current line began */
};

/* Longest met_prom_number() output, NUL included. */
#define MET_PROM_NUM_MAX	32

/* Starts a text in buf[0 .. cap). */
void	met_prom_init(struct met_prom *, char *buf, size_t cap);
/*
 * "# HELP name help" and "# TYPE name gauge|counter".  help is escaped
 * (backslash, newline).  Returns the writer's error so far: 0, -ENOSPC,
 * or -EINVAL for an invalid metric name.
 */
int	met_prom_family(struct met_prom *, const char *name,
	    enum met_prom_type, const char *help);
/*
 * One sample: name{l0="v0",...} value.  Values are escaped (backslash,
 * double quote, newline).  Returns the writer's error so far: 0, -ENOSPC,
 * or -EINVAL for an invalid metric or label name.
 */
int	met_prom_sample(struct met_prom *, const char *name,
	    const struct met_prom_label *labels, size_t nlabel, double value);
/*
 * Ends the text: 0 and *len = bytes written (buf is NUL-terminated), or
 * the first error with buf emptied and *len = 0.
 */
int	met_prom_finish(struct met_prom *, size_t *len);

/* Formats v as Prometheus parses it; returns the length (NUL excluded). */
size_t	met_prom_number(char buf[MET_PROM_NUM_MAX], double v);

/*
 * The host sample in node_exporter's terms with the ebb_ prefix:
 *   ebb_cpu_seconds_total{cpu,mode}  counter, seconds since boot
 *   ebb_cpu_busy_ratio{cpu}          gauge, last interval, NaN if unknown
 *   ebb_cpus_online                  gauge
 *   ebb_load1, ebb_load5, ebb_load15 gauges
 *   ebb_memory_MemTotal_bytes, ebb_memory_MemAvailable_bytes  gauges
 *   ebb_uptime_seconds               gauge
 * Only online CPUs are listed.  Returns the writer's error so far.
 */
int	met_prom_host(struct met_prom *, const struct met_host *);

#endif /* MET_PROM_H */
