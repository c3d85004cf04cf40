/*
 * replay_main.c - runs a fuzz target over a corpus without libFuzzer.
 *
 *	replay_fuzz_x DIR|FILE ...
 *
 * Calls LLVMFuzzerTestOneInput once per regular file (dotfiles skipped),
 * so that every build, gcc's included, replays the corpora under ctest and
 * a crash found once stays a regression test.  Exits 1 if an argument
 * cannot be read; a crash is the sanitizer's (or the signal's) to report.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
replay_file(const char *path)
{
	char *buf;
	uint8_t *exact;
	size_t len;
	struct ebb_err err;
	int rc;

	if ((rc = ebb_read_file(path, &buf, &len, &err)) < 0) {
		fprintf(stderr, "replay: %s\n", err.msg);
		return rc;
	}
	/* An exact-size copy, so that ASan sees a read past the input. */
	exact = ebb_malloc(len ? len : 1);
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int
replay_dir(const char *dir, int *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) < 0)
			rc = -EIO;
		else
			(*count)++;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	int count = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			bad = 1;
		} else if (S_ISDIR(st.st_mode)) {
			bad |= replay_dir(argv[i], &count) < 0;
		} else {
			bad |= replay_file(argv[i]) < 0;
			count++;
		}
	}
	printf("replayed %d input%s\n", count, count == 1 ? "" : "s");
	return bad;
}
