/*
 * met_host.c - load average, memory and uptime beside the CPU sampler.
 */
#include <errno.h>
#include <string.h>

#include "met_host.h"
#include "met_io.h"

int
met_host_open(struct met_host *h, const char *proc_root, struct ebb_err *err)
{
	int rc;

	memset(h, 0, sizeof(*h));
	h->fd_loadavg = h->fd_meminfo = h->fd_uptime = -1;
	if ((rc = met_cpu_open(&h->cpu, proc_root, err)) < 0)
		return rc;
	if ((rc = met_io_open(proc_root, "loadavg", &h->fd_loadavg, err)) < 0 ||
	    (rc = met_io_open(proc_root, "meminfo", &h->fd_meminfo, err)) < 0 ||
	    (rc = met_io_open(proc_root, "uptime", &h->fd_uptime, err)) < 0)
		goto fail;
	return 0;
fail:
	met_host_close(h);
	return rc;
}

void
met_host_close(struct met_host *h)
{
	met_cpu_close(&h->cpu);
	met_io_close(&h->fd_loadavg);
	met_io_close(&h->fd_meminfo);
	met_io_close(&h->fd_uptime);
}

static int
host_read(struct met_host *h, int fd, const char *name, size_t *len,
    struct ebb_err *err)
{
	int rc;

	if ((rc = met_io_pread(fd, h->buf, sizeof(h->buf), len)) < 0)
		ebb_err_set(err, "%s: %s", name, strerror(-rc));
	return rc;
}

/* "0.15 0.10 0.05 1/234 5678" */
static int
host_loadavg(struct met_host *h, struct ebb_err *err)
{
	const char *p = h->buf;
	uint64_t run, tasks;
	size_t len;
	int rc;

	if ((rc = host_read(h, h->fd_loadavg, "loadavg", &len, err)) < 0)
		return rc;
	if ((p = met_io_decimal(met_io_blank(p), &h->load1)) == NULL ||
	    (p = met_io_decimal(met_io_blank(p), &h->load5)) == NULL ||
	    (p = met_io_decimal(met_io_blank(p), &h->load15)) == NULL ||
	    (p = met_io_u64(met_io_blank(p), &run)) == NULL || *p++ != '/' ||
	    met_io_u64(p, &tasks) == NULL ||
	    run > UINT32_MAX || tasks > UINT32_MAX) {
		ebb_err_set(err, "loadavg: not \"l1 l5 l15 run/tasks pid\"");
		return -EBADMSG;
	}
	h->nr_running = (uint32_t)run;
	h->nr_tasks = (uint32_t)tasks;
	return 0;
}

/* The value of "Key:   123 kB" if line p is that key, else NULL. */
static const char *
meminfo_value(const char *p, const char *key, size_t klen, uint64_t *v)
{
	if (strncmp(p, key, klen) != 0 || p[klen] != ':')
		return NULL;
	return met_io_u64(met_io_blank(p + klen + 1), v);
}

static int
host_meminfo(struct met_host *h, struct ebb_err *err)
{
	enum { TOTAL, AVAIL, FREE, BUFFERS, CACHED, NKEYS };
	static const struct {
		const char	*name;
		size_t		 len;
	} keys[NKEYS] = {
		[TOTAL] = { "MemTotal", 8 },
		[AVAIL] = { "MemAvailable", 12 },
		[FREE] = { "MemFree", 7 },
		[BUFFERS] = { "Buffers", 7 },
		[CACHED] = { "Cached", 6 },
	};
	uint64_t v[NKEYS];
	unsigned found = 0, want = 1u << TOTAL | 1u << AVAIL;
	const char *p = h->buf;
	size_t len;
	int rc, k;

	if ((rc = host_read(h, h->fd_meminfo, "meminfo", &len, err)) < 0)
		return rc;
	/*
	 * The keys wanted are the first five lines on every kernel, so the
	 * scan stops after a few lines and a full buffer never matters.
	 */
	for (; p != NULL && *p != '\0' && (found & want) != want;
	    p = met_io_next_line(p)) {
		for (k = 0; k < NKEYS; k++) {
			if (!(found & 1u << k) &&
			    meminfo_value(p, keys[k].name, keys[k].len,
			    &v[k]) != NULL) {
				found |= 1u << k;
				break;
			}
		}
	}
	if (!(found & 1u << TOTAL)) {
		ebb_err_set(err, "meminfo: no MemTotal");
		return -EBADMSG;
	}
	h->mem_total_kb = v[TOTAL];
	h->mem_available_estimated = !(found & 1u << AVAIL);
	if (!h->mem_available_estimated)
		h->mem_available_kb = v[AVAIL];
	else if ((found & 7u << FREE) == 7u << FREE)
		/* What procps' free(1) did before the kernel had one. */
		h->mem_available_kb = v[FREE] + v[BUFFERS] + v[CACHED];
	else {
		ebb_err_set(err, "meminfo: no MemAvailable nor MemFree, "
		    "Buffers, Cached");
		return -EBADMSG;
	}
	return 0;
}

/* "1653.21 1899.61" */
static int
host_uptime(struct met_host *h, struct ebb_err *err)
{
	const char *p = h->buf;
	size_t len;
	int rc;

	if ((rc = host_read(h, h->fd_uptime, "uptime", &len, err)) < 0)
		return rc;
	if ((p = met_io_decimal(met_io_blank(p), &h->uptime_s)) == NULL ||
	    met_io_decimal(met_io_blank(p), &h->idle_s) == NULL) {
		ebb_err_set(err, "uptime: not \"uptime idle\"");
		return -EBADMSG;
	}
	return 0;
}

int
met_host_sample(struct met_host *h, struct ebb_err *err)
{
	int rc;

	if ((rc = met_cpu_sample(&h->cpu, err)) < 0 ||
	    (rc = host_loadavg(h, err)) < 0 ||
	    (rc = host_meminfo(h, err)) < 0 ||
	    (rc = host_uptime(h, err)) < 0)
		return rc;
	h->ncpu_online = h->cpu.nonline;
	return 0;
}
