/*
 * met_cpu.c - /proc/stat deltas per core.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "met_cpu.h"
#include "met_io.h"

/*
 * Linux's largest NR_CPUS is 8192 (x86 MAXSMP); anything far beyond is a
 * corrupt file, not a machine.
 */
#define CPU_ID_MAX	65536
/* Room for the "cpu" lines of ~40 CPUs; larger hosts grow it once. */
#define CPU_BUF_INIT	4096
#define CPU_BUF_MAX	(16u << 20)

static const char *const mode_names[MET_CPU_NMODES] = {
	[MET_CPU_USER] = "user",
	[MET_CPU_NICE] = "nice",
	[MET_CPU_SYSTEM] = "system",
	[MET_CPU_IDLE] = "idle",
	[MET_CPU_IOWAIT] = "iowait",
	[MET_CPU_IRQ] = "irq",
	[MET_CPU_SOFTIRQ] = "softirq",
	[MET_CPU_STEAL] = "steal",
};

const char *
met_cpu_mode_name(enum met_cpu_mode m)
{
	return (unsigned)m < MET_CPU_NMODES ? mode_names[m] : "?";
}

static void
core_unknown(struct met_cpu_core *core)
{
	core->valid = false;
	memset(core->delta, 0, sizeof(core->delta));
	core->delta_total = 0;
	core->busy = NAN;
}

static void
core_init(struct met_cpu_core *core, int id)
{
	memset(core, 0, sizeof(*core));
	core->id = id;
	core_unknown(core);
}

int
met_cpu_open(struct met_cpu *c, const char *proc_root, struct ebb_err *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	core_init(&c->all, -1);
	if ((rc = met_io_open(proc_root, "stat", &c->fd, err)) < 0)
		return rc;
	c->hz = sysconf(_SC_CLK_TCK);
	if (c->hz <= 0)
		c->hz = 100;	/* USER_HZ on every Linux architecture */
	c->cap = CPU_BUF_INIT;
	c->buf = ebb_malloc(c->cap);
	return 0;
}

void
met_cpu_close(struct met_cpu *c)
{
	met_io_close(&c->fd);
	free(c->buf);
	free(c->core);
	c->buf = NULL;
	c->core = NULL;
	c->cap = 0;
	c->ncore = 0;
}

/*
 * The "cpu" lines come first in /proc/stat, before the (on big hosts very
 * long) intr line we never need.  They are complete in buf[0..len) when a
 * line not starting with "cpu" follows them, or when the read reached the
 * end of the file; otherwise the buffer is too small.
 */
static bool
cpu_lines_complete(const char *buf, size_t len, bool full)
{
	const char *p = buf, *end = buf + len;

	if (!full)
		return true;
	while (end - p >= 3 && memcmp(p, "cpu", 3) == 0) {
		if ((p = met_io_next_line(p)) == NULL)
			return false;
	}
	/* Fewer than 3 bytes left: cannot tell what the next line is. */
	return end - p >= 3;
}

static struct met_cpu_core *
cpu_slot(struct met_cpu *c, int id)
{
	int n, i;

	if (id < c->ncore)
		return &c->core[id];
	/* A CPU id never seen before: the only growth after start-up. */
	n = EBB_MAX(id + 1, c->ncore * 2);
	c->core = ebb_reallocarray(c->core, (size_t)n, sizeof(*c->core));
	for (i = c->ncore; i < n; i++)
		core_init(&c->core[i], i);
	c->ncore = n;
	return &c->core[id];
}

static void
core_update(struct met_cpu_core *core, const uint64_t *v, bool baseline,
    uint64_t gen)
{
	uint64_t d[MET_CPU_NMODES], total = 0;
	bool ok = baseline;
	int m;

	for (m = 0; m < MET_CPU_NMODES && ok; m++) {
		/*
		 * A counter that went down is a reset or a wrap (or the
		 * iowait accounting of NO_HZ kernels, which is known to step
		 * back): the interval is unknown rather than negative.
		 */
		if (v[m] < core->ticks[m])
			ok = false;
		else {
			d[m] = v[m] - core->ticks[m];
			/* Only a corrupt file sums past 2^64 ticks. */
			ok = total + d[m] >= total;
			total += d[m];
		}
	}
	if (ok && total > 0) {
		core->valid = true;
		memcpy(core->delta, d, sizeof(d));
		core->delta_total = total;
		core->busy = (double)(total - d[MET_CPU_IDLE] -
		    d[MET_CPU_IOWAIT]) / (double)total;
	} else
		core_unknown(core);
	memcpy(core->ticks, v, sizeof(core->ticks));
	core->online = true;
	core->gen = gen;
}

/* After a failed read no core has a baseline for the next interval. */
static void
cpu_forget(struct met_cpu *c)
{
	int i;

	c->last_ok = false;
	c->nonline = 0;
	c->all.online = false;
	core_unknown(&c->all);
	for (i = 0; i < c->ncore; i++) {
		c->core[i].online = false;
		core_unknown(&c->core[i]);
	}
}

static int
cpu_parse(struct met_cpu *c, struct ebb_err *err)
{
	const char *p = c->buf, *end = c->buf + strlen(c->buf);
	uint64_t gen = ++c->gen;
	int line, nonline = 0, i;
	bool have_all = false;

	for (line = 1; end - p >= 3 && memcmp(p, "cpu", 3) == 0; line++) {
		uint64_t v[MET_CPU_NMODES] = { 0 }, x, id = 0;
		struct met_cpu_core *core;
		int nf = 0;

		p += 3;
		if (*p == ' ')
			core = &c->all;
		else if ((p = met_io_u64(p, &id)) != NULL && id < CPU_ID_MAX)
			core = cpu_slot(c, (int)id);
		else
			goto bad;
		while (*(p = met_io_blank(p)) != '\n' && *p != '\0') {
			if ((p = met_io_u64(p, &x)) == NULL)
				goto bad;
			/* Columns past steal (guest, guest_nice, future
			 * ones) are not modes of their own. */
			if (nf < MET_CPU_NMODES)
				v[nf] = x;
			nf++;
		}
		/* user nice system idle: present since Linux 2.4. */
		if (nf < 4 || core->gen == gen)	/* or listed twice */
			goto bad;
		/* A baseline is the previous read, if it listed this core. */
		core_update(core, v, c->last_ok && core->gen == gen - 1, gen);
		if (core == &c->all)
			have_all = true;
		else
			nonline++;
		if (*p == '\n')
			p++;
	}
	if (!have_all) {
		ebb_err_set(err, "stat: no \"cpu\" line");
		return -EBADMSG;
	}
	/* Cores not listed this time are offline (hotplugged out). */
	for (i = 0; i < c->ncore; i++) {
		if (c->core[i].gen != gen) {
			c->core[i].online = false;
			core_unknown(&c->core[i]);
		}
	}
	c->nonline = nonline;
	return 0;
bad:
	ebb_err_set(err, "stat: line %d: not a cpu line I understand", line);
	return -EBADMSG;
}

int
met_cpu_sample(struct met_cpu *c, struct ebb_err *err)
{
	size_t len;
	int rc;

	for (;;) {
		if ((rc = met_io_pread(c->fd, c->buf, c->cap, &len)) < 0) {
			ebb_err_set(err, "stat: %s", strerror(-rc));
			cpu_forget(c);
			return rc;
		}
		if (cpu_lines_complete(c->buf, len, len == c->cap - 1))
			break;
		if (c->cap >= CPU_BUF_MAX) {
			ebb_err_set(err, "stat: cpu lines exceed %u bytes",
			    CPU_BUF_MAX);
			cpu_forget(c);
			return -EFBIG;
		}
		/* More CPUs than the buffer holds: grow it, once. */
		free(c->buf);
		c->cap *= 2;
		c->buf = ebb_malloc(c->cap);
	}
	if ((rc = cpu_parse(c, err)) < 0) {
		cpu_forget(c);
		return rc;
	}
	c->last_ok = true;
	c->nsample++;
	return 0;
}

double
met_cpu_frac(const struct met_cpu_core *core, enum met_cpu_mode m)
{
	if (!core->valid || (unsigned)m >= MET_CPU_NMODES)
		return NAN;
	return (double)core->delta[m] / (double)core->delta_total;
}

double
met_cpu_seconds(const struct met_cpu *c, const struct met_cpu_core *core,
    enum met_cpu_mode m)
{
	if ((unsigned)m >= MET_CPU_NMODES)
		return NAN;
	return (double)core->ticks[m] / (double)c->hz;
}
