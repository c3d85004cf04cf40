/*
 * test_trace.c - trace folders (order, padding, errors, round trip) and the
 * synthetic generator (determinism, PlanetLab-like statistics).
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim_trace.h"

/* ---- helpers ------------------------------------------------------------ */

static char *
tmpdir_make(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	p = ebb_malloc(strlen(base) + 32);
	sprintf(p, "%s/ebb-trace-XXXXXX", base);
	assert_non_null(mkdtemp(p));
	return p;
}

static int
rm_one(const char *path, const struct stat *st EBB_UNUSED,
    int flag EBB_UNUSED, struct FTW *ftw EBB_UNUSED)
{
	return remove(path);
}

static void
tmpdir_remove(char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static void
file_put_n(const char *dir, const char *name, const char *text, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
file_put(const char *dir, const char *name, const char *text)
{
	file_put_n(dir, name, text, strlen(text));
}

struct trace_stats {
	double	mean, sd, median, p95;
	double	zero_frac;	/* of samples */
	double	run_frac;	/* of traces with 0 twice in a row */
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
stats_of(const struct sim_workload *w, struct trace_stats *s)
{
	double *all, sum = 0.0, sq = 0.0;
	long n = 0, zeros = 0, i;
	int k, j, runs = 0;

	for (k = 0; k < w->ntraces; k++)
		n += w->traces[k].n;
	all = ebb_calloc(n, sizeof(*all));
	n = 0;
	for (k = 0; k < w->ntraces; k++) {
		const struct sim_trace *t = &w->traces[k];
		int run = 0;

		for (j = 0; j < t->n; j++) {
			all[n++] = t->pct[j];
			sum += t->pct[j];
			zeros += t->pct[j] == 0.0;
			if (j > 0 && t->pct[j] == 0.0 && t->pct[j - 1] == 0.0)
				run = 1;
		}
		runs += run;
	}
	s->mean = sum / n;
	for (i = 0; i < n; i++)
		sq += (all[i] - s->mean) * (all[i] - s->mean);
	s->sd = sqrt(sq / n);
	qsort(all, n, sizeof(*all), cmp_double);
	s->median = all[n / 2];
	s->p95 = all[(95 * n + 99) / 100 - 1];
	s->zero_frac = (double)zeros / n;
	s->run_frac = (double)runs / w->ntraces;
	free(all);
}

/* ---- loading ------------------------------------------------------------ */

static void
test_load_sorted(void **state EBB_UNUSED)
{
	struct sim_workload w;
	struct ebb_err err;
	char *dir = tmpdir_make(), sub[1024];
	static const char *want[] = { "A", "a", "a_1", "b" };

	file_put(dir, "b", "4\n");
	file_put(dir, "a", "2\n");
	file_put(dir, "a_1", "3\n");
	file_put(dir, "A", "1\n");
	file_put(dir, ".hidden", "junk\n");	/* dotfiles are skipped */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0777), 0);	/* so are folders */

	assert_int_equal(sim_workload_load_dir(dir, 3, &w, &err), 0);
	assert_int_equal(w.ntraces, 4);
	assert_true(w.interval_s == 300.0);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(w.traces[i].name, want[i]);
		assert_int_equal(w.traces[i].n, 3);
		assert_true(w.traces[i].pct[0] == i + 1);
	}
	sim_workload_free(&w);
	assert_int_equal(w.ntraces, 0);
	assert_null(w.traces);
	tmpdir_remove(dir);
}

static void
test_load_pad_cut(void **state EBB_UNUSED)
{
	struct sim_workload w;
	struct ebb_err err;
	char *dir = tmpdir_make();
	static const double pad[] = { 5, 7, 9, 0, 0 };
	static const double cut[] = { 1, 2, 3, 4, 5 };
	static const double crlf[] = { 10, 20, 30.5, 0, 0 };

	file_put(dir, "c_crlf", "10\r\n 20 \t\r\n30.5\r\n\r\n\n");
	file_put(dir, "long", "1\n2\n3\n4\n5\n6\n7\n8\n");
	file_put(dir, "short", "5\n7\n9");	/* no final newline */
	file_put(dir, "z_empty", "");

	assert_int_equal(sim_workload_load_dir(dir, 5, &w, &err), 0);
	assert_int_equal(w.ntraces, 4);
	assert_string_equal(w.traces[0].name, "c_crlf");
	assert_string_equal(w.traces[1].name, "long");
	assert_string_equal(w.traces[2].name, "short");
	for (int i = 0; i < 5; i++) {
		assert_true(w.traces[0].pct[i] == crlf[i]);
		assert_true(w.traces[1].pct[i] == cut[i]);
		assert_true(w.traces[2].pct[i] == pad[i]);
		assert_true(w.traces[3].pct[i] == 0.0);
	}
	sim_workload_free(&w);
	tmpdir_remove(dir);
}

/*
 * Loads a folder holding `good` and one bad file; expects rc and
 * "name:line" in the message.  A macro passes the literal's length, so
 * that a NUL inside it is written too.
 */
#define LOAD_BAD(lit, rc, where) load_bad(lit, sizeof(lit) - 1, rc, where)

static void
load_bad(const char *text, size_t len, int want_rc, const char *want_where)
{
	struct sim_workload w;
	struct ebb_err err;
	char *dir = tmpdir_make();

	file_put(dir, "good", "1\n2\n3\n");
	file_put_n(dir, "vm7", text, len);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sim_workload_load_dir(dir, 288, &w, &err), want_rc);
	print_message("  error: %s\n", err.msg);
	assert_non_null(strstr(err.msg, want_where));
	assert_int_equal(w.ntraces, 0);
	assert_null(w.traces);
	tmpdir_remove(dir);
}

static void
test_load_junk(void **state EBB_UNUSED)
{
	LOAD_BAD("1\n2\nabc\n4\n", -EINVAL, "vm7:3: ");
	LOAD_BAD("1\n2 3\n", -EINVAL, "vm7:2: ");
	LOAD_BAD("12%\n", -EINVAL, "vm7:1: ");
	LOAD_BAD("nan\n", -EINVAL, "vm7:1: ");
	LOAD_BAD("0x10\n", -EINVAL, "vm7:1: ");
	LOAD_BAD("1\n\n2\n", -EINVAL, "vm7:2: empty line");
	LOAD_BAD("1\n2\0\n", -EINVAL, "vm7:2: ");
}

static void
test_load_range(void **state EBB_UNUSED)
{
	LOAD_BAD("1\n101\n", -ERANGE, "vm7:2: ");
	LOAD_BAD("-1\n", -ERANGE, "vm7:1: ");
	LOAD_BAD("1\n1\n1\n1e400\n", -ERANGE, "vm7:4: ");
}

static void
test_load_missing(void **state EBB_UNUSED)
{
	struct sim_workload w;
	struct ebb_err err;
	char *dir = tmpdir_make(), gone[1024];

	/* An empty folder is an error: a simulation of nothing is a typo. */
	assert_int_equal(sim_workload_load_dir(dir, 288, &w, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no trace files"));
	snprintf(gone, sizeof(gone), "%s/nope", dir);
	assert_int_equal(sim_workload_load_dir(gone, 288, &w, &err), -ENOENT);
	assert_non_null(strstr(err.msg, gone));
	file_put(dir, "a", "1\n");
	assert_int_equal(sim_workload_load_dir(dir, 0, &w, &err), -EINVAL);
	tmpdir_remove(dir);
}

/* ---- the generator ------------------------------------------------------ */

static void
test_synth_deterministic(void **state EBB_UNUSED)
{
	struct sim_synth_params p;
	struct sim_workload a, b, c;
	int k, differ = 0;

	sim_synth_defaults(&p);
	p.nvms = 200;
	sim_synth_generate(&p, &a);
	sim_synth_generate(&p, &b);
	p.seed = 2;
	sim_synth_generate(&p, &c);
	assert_int_equal(a.ntraces, 200);
	assert_int_equal(b.ntraces, 200);
	for (k = 0; k < a.ntraces; k++) {
		assert_string_equal(a.traces[k].name, b.traces[k].name);
		assert_int_equal(a.traces[k].n, 288);
		assert_memory_equal(a.traces[k].pct, b.traces[k].pct,
		    288 * sizeof(double));
		differ += memcmp(a.traces[k].pct, c.traces[k].pct,
		    288 * sizeof(double)) != 0;
		for (int i = 0; i < 288; i++) {
			double v = a.traces[k].pct[i];

			assert_true(v >= 0.0 && v <= 100.0 && v == floor(v));
		}
	}
	assert_true(differ > 190);
	sim_workload_free(&a);
	sim_workload_free(&b);
	sim_workload_free(&c);
}

static void
test_synth_stats(void **state EBB_UNUSED)
{
	struct sim_synth_params p;
	struct sim_workload w;
	struct trace_stats s;

	sim_synth_defaults(&p);
	assert_true(p.seed == 1);
	assert_int_equal(p.nvms, 1052);
	assert_int_equal(p.samples, 288);
	assert_true(p.interval_s == 300.0);
	assert_true(p.mean_pct == 12.3);
	sim_synth_generate(&p, &w);
	assert_int_equal(w.ntraces, 1052);
	assert_true(w.interval_s == 300.0);
	stats_of(&w, &s);
	print_message("  synthetic default: mean %.2f sd %.2f median %.1f "
	    "p95 %.1f zero %.3f zero-run VMs %.3f\n", s.mean, s.sd, s.median,
	    s.p95, s.zero_frac, s.run_frac);
	assert_true(fabs(s.mean - 12.3) <= 1.0);
	assert_true(s.sd >= 12.0 && s.sd <= 20.0);
	assert_true(s.median < s.mean);
	assert_true(s.p95 > 2.5 * s.mean);	/* heavy tail */
	assert_true(s.run_frac >= 0.01 && s.run_frac <= 0.06);
	sim_workload_free(&w);

	/* mean_pct scales the level: PlanetLab's quietest day. */
	p.mean_pct = 9.26;
	sim_synth_generate(&p, &w);
	stats_of(&w, &s);
	assert_true(fabs(s.mean - 9.26) <= 1.0);
	assert_true(s.sd >= 10.0 && s.sd <= 18.0);
	sim_workload_free(&w);
}

static void
test_synth_names(void **state EBB_UNUSED)
{
	struct sim_synth_params p;
	struct sim_workload w;

	/* Past 10000 VMs the names widen, so byte order stays index order. */
	sim_synth_defaults(&p);
	p.nvms = 10001;
	p.samples = 2;
	sim_synth_generate(&p, &w);
	assert_string_equal(w.traces[0].name, "vm00000");
	assert_string_equal(w.traces[10000].name, "vm10000");
	for (int k = 1; k < w.ntraces; k++)
		assert_true(strcmp(w.traces[k - 1].name, w.traces[k].name) < 0);
	sim_workload_free(&w);

	p.nvms = 3;
	sim_synth_generate(&p, &w);
	assert_string_equal(w.traces[2].name, "vm0002");
	sim_workload_free(&w);
}

static void
test_round_trip(void **state EBB_UNUSED)
{
	struct sim_synth_params p;
	struct sim_workload a, b;
	struct ebb_err err;
	char *dir = tmpdir_make(), out[1024];

	sim_synth_defaults(&p);
	p.nvms = 50;
	sim_synth_generate(&p, &a);
	/* Parents are made as needed (mkdir -p). */
	snprintf(out, sizeof(out), "%s/x/y/", dir);
	assert_int_equal(sim_workload_write_dir(&a, out, &err), 0);
	assert_int_equal(sim_workload_load_dir(out, 288, &b, &err), 0);
	assert_int_equal(b.ntraces, 50);
	for (int k = 0; k < 50; k++) {
		assert_string_equal(a.traces[k].name, b.traces[k].name);
		assert_memory_equal(a.traces[k].pct, b.traces[k].pct,
		    288 * sizeof(double));
	}
	/* Writing again over the same folder is fine. */
	assert_int_equal(sim_workload_write_dir(&a, out, &err), 0);
	sim_workload_free(&b);

	/* A name that would not come back is refused before any write. */
	free(a.traces[3].name);
	a.traces[3].name = ebb_strdup(".vm3");
	snprintf(out, sizeof(out), "%s/z", dir);
	assert_int_equal(sim_workload_write_dir(&a, out, &err), -EINVAL);
	assert_int_equal(access(out, F_OK), -1);
	sim_workload_free(&a);
	tmpdir_remove(dir);
}

/* ---- the real data, when present ---------------------------------------- */

static void
test_planetlab_20110303(void **state EBB_UNUSED)
{
	const char *shared = getenv("EBB_SHARED_DIR");
	struct sim_workload w;
	struct trace_stats s;
	struct ebb_err err;
	struct stat st;
	char dir[1024];

	if (shared == NULL || *shared == '\0') {
		print_message("skipped: EBB_SHARED_DIR not set, PlanetLab "
		    "20110303 not present\n");
		skip();
	}
	snprintf(dir, sizeof(dir), "%s/data/planetlab/20110303", shared);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		print_message("skipped: %s not present\n", dir);
		skip();
	}
	if (sim_workload_load_dir(dir, 288, &w, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(w.ntraces, 1052);
	for (int k = 0; k < w.ntraces; k++)
		assert_int_equal(w.traces[k].n, 288);
	stats_of(&w, &s);
	print_message("  PlanetLab 20110303: mean %.2f sd %.2f median %.1f "
	    "p95 %.1f zero %.3f zero-run VMs %.3f\n", s.mean, s.sd, s.median,
	    s.p95, s.zero_frac, s.run_frac);
	assert_true(fabs(s.mean - 12.31) <= 0.5);
	sim_workload_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_sorted),
		cmocka_unit_test(test_load_pad_cut),
		cmocka_unit_test(test_load_junk),
		cmocka_unit_test(test_load_range),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_synth_deterministic),
		cmocka_unit_test(test_synth_stats),
		cmocka_unit_test(test_synth_names),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_planetlab_20110303),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
