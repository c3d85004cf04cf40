/*
 * met_prom.c - Prometheus text format 0.0.4 into a fixed buffer.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_host.h"
#include "met_io.h"
#include "met_prom.h"

void
met_prom_init(struct met_prom *p, char *buf, size_t cap)
{
	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->cap = cap;
	if (cap > 0)
		buf[0] = '\0';
}

/*
 * Appends n bytes to the current line.  After the first error nothing is
 * written, but `need` keeps counting so the caller learns the full size.
 */
static void
put(struct met_prom *p, const char *s, size_t n)
{
	p->need += n;
	if (p->err != 0)
		return;
	if (p->cap == 0 || n > p->cap - 1 - p->len) {
		p->err = -ENOSPC;
		return;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
}

static void
put_str(struct met_prom *p, const char *s)
{
	put(p, s, strlen(s));
}

static void
line_begin(struct met_prom *p)
{
	p->line = p->len;
}

/* A line that failed anywhere is taken back whole. */
static void
line_end(struct met_prom *p)
{
	put(p, "\n", 1);
	if (p->err != 0)
		p->len = p->line;
	if (p->cap > 0)
		p->buf[p->len] = '\0';
}

/*
 * Escapes what the format requires: in HELP text backslash and newline, in
 * label values also the double quote.  Runs without specials are copied
 * in one piece.
 */
static void
put_escaped(struct met_prom *p, const char *s, bool quote)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quote)
			esc = "\\\"";
		else
			continue;
		put(p, run, (size_t)(s - run));
		put(p, esc, 2);
		run = s + 1;
	}
	put(p, run, (size_t)(s - run));
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names (colon false)
 * may not hold ':'. */
static bool
name_ok(const char *s, bool colon)
{
	const char *c = s;

	for (; *c != '\0'; c++) {
		bool alpha = (*c >= 'a' && *c <= 'z') ||
		    (*c >= 'A' && *c <= 'Z') || *c == '_' ||
		    (colon && *c == ':');

		if (!alpha && (c == s || *c < '0' || *c > '9'))
			return false;
	}
	return c != s;
}

/* Records -EINVAL (unless an error came first) when !ok. */
static bool
check(struct met_prom *p, bool ok)
{
	if (!ok && p->err == 0)
		p->err = -EINVAL;
	return ok;
}

int
met_prom_family(struct met_prom *p, const char *name, enum met_prom_type type,
    const char *help)
{
	if (!check(p, name_ok(name, true)))
		return p->err;
	line_begin(p);
	put_str(p, "# HELP ");
	put_str(p, name);
	put(p, " ", 1);
	put_escaped(p, help, false);
	line_end(p);
	line_begin(p);
	put_str(p, "# TYPE ");
	put_str(p, name);
	put_str(p, type == MET_PROM_COUNTER ? " counter" : " gauge");
	line_end(p);
	return p->err;
}

int
met_prom_sample(struct met_prom *p, const char *name,
    const struct met_prom_label *labels, size_t nlabel, double value)
{
	char num[MET_PROM_NUM_MAX];
	size_t i;

	if (!check(p, name_ok(name, true)))
		return p->err;
	/* Label names beginning with "__" are Prometheus' own. */
	for (i = 0; i < nlabel; i++) {
		if (!check(p, name_ok(labels[i].name, false) &&
		    strncmp(labels[i].name, "__", 2) != 0))
			return p->err;
	}
	line_begin(p);
	put_str(p, name);
	for (i = 0; i < nlabel; i++) {
		put(p, i == 0 ? "{" : ",", 1);
		put_str(p, labels[i].name);
		put(p, "=\"", 2);
		put_escaped(p, labels[i].value, true);
		put(p, "\"", 1);
	}
	if (nlabel > 0)
		put(p, "}", 1);
	put(p, " ", 1);
	put(p, num, met_prom_number(num, value));
	line_end(p);
	return p->err;
}

int
met_prom_finish(struct met_prom *p, size_t *len)
{
	if (p->err != 0) {
		if (p->cap > 0)
			p->buf[0] = '\0';
		*len = 0;
		return p->err;
	}
	*len = p->len;
	return 0;
}

size_t
met_prom_number(char buf[MET_PROM_NUM_MAX], double v)
{
	int prec, n = 0;

	/* Go's strconv.ParseFloat spellings, which Prometheus reads. */
	if (isnan(v))
		return (size_t)snprintf(buf, MET_PROM_NUM_MAX, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, MET_PROM_NUM_MAX, "%s",
		    v > 0 ? "+Inf" : "-Inf");
	/* Counts and byte sizes: exact integers print as integers. */
	if (fabs(v) < 1e15 && v == trunc(v)) {
		int64_t i = (int64_t)v;
		size_t k = 0;

		if (i < 0)
			buf[k++] = '-';
		k += met_io_utoa(buf + k,
		    i < 0 ? (uint64_t)-i : (uint64_t)i);
		buf[k] = '\0';
		return k;
	}
	/* The shortest precision that reads back as the same double. */
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, MET_PROM_NUM_MAX, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return (size_t)n;
}

/* ---- the host sample ----------------------------------------------------- */

static void
host_cpus(struct met_prom *p, const struct met_host *h)
{
	const struct met_cpu *c = &h->cpu;
	struct met_prom_label l[2] = {
		{ "cpu", NULL }, { "mode", NULL },
	};
	char id[24];
	int i, m;

	met_prom_family(p, "ebb_cpu_seconds_total", MET_PROM_COUNTER,
	    "Seconds the CPUs spent in each mode.");
	for (i = 0; i < c->ncore; i++) {
		if (!c->core[i].online)
			continue;
		id[met_io_utoa(id, (uint64_t)i)] = '\0';
		l[0].value = id;
		for (m = 0; m < MET_CPU_NMODES; m++) {
			l[1].value = met_cpu_mode_name(m);
			met_prom_sample(p, "ebb_cpu_seconds_total", l, 2,
			    met_cpu_seconds(c, &c->core[i], m));
		}
	}
	met_prom_family(p, "ebb_cpu_busy_ratio", MET_PROM_GAUGE,
	    "Busy fraction of each CPU over the last sampling interval, "
	    "1 - (idle + iowait) / total; NaN when unknown.");
	for (i = 0; i < c->ncore; i++) {
		if (!c->core[i].online)
			continue;
		id[met_io_utoa(id, (uint64_t)i)] = '\0';
		l[0].value = id;
		met_prom_sample(p, "ebb_cpu_busy_ratio", l, 1,
		    c->core[i].busy);
	}
}

static void
gauge(struct met_prom *p, const char *name, const char *help, double v)
{
	met_prom_family(p, name, MET_PROM_GAUGE, help);
	met_prom_sample(p, name, NULL, 0, v);
}

int
met_prom_host(struct met_prom *p, const struct met_host *h)
{
	host_cpus(p, h);
	gauge(p, "ebb_cpus_online", "Number of online CPUs.",
	    h->ncpu_online);
	gauge(p, "ebb_load1", "1m load average.", h->load1);
	gauge(p, "ebb_load5", "5m load average.", h->load5);
	gauge(p, "ebb_load15", "15m load average.", h->load15);
	/* The kernel's "kB" is 1024 bytes. */
	gauge(p, "ebb_memory_MemTotal_bytes",
	    "Memory information field MemTotal_bytes.",
	    (double)h->mem_total_kb * 1024);
	gauge(p, "ebb_memory_MemAvailable_bytes",
	    "Memory information field MemAvailable_bytes.",
	    (double)h->mem_available_kb * 1024);
	gauge(p, "ebb_uptime_seconds", "Seconds since the host booted.",
	    h->uptime_s);
	return p->err;
}
