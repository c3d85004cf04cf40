/*
 * fuzz_sim_trace.c - PlanetLab trace files as sim_workload_load_dir()
 * reads them (ebb simulate --traces DIR, ebb trace).
 *
 * The parser is static, so the input becomes a folder: byte 0 picks the
 * number of samples (1..256), the rest is cut at each 0xff byte into up
 * to 8 files t0..t7 (NULs stay inside a file, where a damaged trace
 * would have them).  The folder is made once with mkdtemp() under
 * $TMPDIR (or /tmp) and removed at exit; nothing is written elsewhere.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "sim_trace.h"

#define FUZZ_FILES	8

static char fuzz_dir[4096];

static void
fuzz_clean(void)
{
	char path[4200];

	for (int i = 0; i < FUZZ_FILES; i++) {
		snprintf(path, sizeof(path), "%s/t%d", fuzz_dir, i);
		unlink(path);
	}
}

static void
fuzz_rmdir(void)
{
	fuzz_clean();
	rmdir(fuzz_dir);
}

static void
fuzz_mkdir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/ebb-fuzz-trace.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("fuzz_sim_trace: mkdtemp");
		abort();
	}
	atexit(fuzz_rmdir);
}

static void
fuzz_write(int i, const uint8_t *p, size_t n)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/t%d", fuzz_dir, i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			abort();
		p += w;
		n -= (size_t)w;
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_workload w;
	struct ebb_err err;
	int samples, nfiles = 0;

	if (size == 0)
		return 0;
	if (fuzz_dir[0] == '\0')
		fuzz_mkdir();
	samples = data[0] + 1;
	data++;
	size--;
	while (nfiles < FUZZ_FILES) {
		const uint8_t *cut = memchr(data, 0xff, size);
		size_t n = cut != NULL ? (size_t)(cut - data) : size;

		fuzz_write(nfiles++, data, n);
		if (cut == NULL)
			break;
		data += n + 1;
		size -= n + 1;
	}
	if (sim_workload_load_dir(fuzz_dir, samples, &w, &err) == 0) {
		if (w.ntraces != nfiles)
			abort();
		for (int i = 0; i < w.ntraces; i++)
			for (int j = 0; j < w.traces[i].n; j++)
				if (!(w.traces[i].pct[j] >= 0 &&
				    w.traces[i].pct[j] <= 100))
					abort();
		sim_workload_free(&w);
	}
	fuzz_clean();
	return 0;
}
