/*
 * test_plot.c - sim_plot_svg(): the file is a complete, well-formed SVG for
 * a day of data, for no data, one point, zeros and gaps, and write errors
 * come back as -errno with a message.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebb.h"
#include "sim_plot.h"

#define DAY_N	288	/* a PlanetLab day: one sample every 300 s */

struct day {
	double	t[DAY_N];
	double	hosts[DAY_N];
	double	power[DAY_N];
	double	base[DAY_N];
};

static char	tmpdir[] = "/tmp/ebb-test-plot.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

/* The folder holds only the charts written here: no dotfiles, no folders. */
static int
teardown(void **state)
{
	char path[512];
	struct dirent *de;
	DIR *dir;

	(void)state;
	if ((dir = opendir(tmpdir)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(dir);
	return rmdir(tmpdir);
}

/* Diurnal load: few hosts at night, more by day; baseline all 40 hosts. */
static void
day_make(struct day *d)
{
	double x;
	int i;

	for (i = 0; i < DAY_N; i++) {
		x = sin(2 * M_PI * i / DAY_N - M_PI / 2);
		d->t[i] = i * 300.0;
		d->hosts[i] = round(18 + 10 * x);
		d->power[i] = d->hosts[i] * (150 + 20 * x);
		d->base[i] = 40 * (130 + 30 * x);
	}
}

static struct sim_series
day_series(struct day *d, const char *title, int n, bool baseline)
{
	struct sim_series s = {
		.title = title, .n = n, .t_s = d->t,
		.active_hosts = d->hosts, .power_w = d->power,
		.baseline_w = baseline ? d->base : NULL,
	};

	return s;
}

static char *
tmp_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* Writes s to name in the temporary folder and returns the file's text. */
static char *
plot(const struct sim_series *s, const char *name)
{
	struct ebb_err err = { "" };
	char *buf = NULL;

	assert_int_equal(sim_plot_svg(s, tmp_path(name), &err), 0);
	assert_int_equal(ebb_read_file(tmp_path(name), &buf, NULL, &err), 0);
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/*
 * The file is one <svg> element: "<svg" first after an optional XML
 * declaration, "</svg>\n" last, and no number printf could not format.
 * When xmllint is installed it checks well-formedness; when it is not,
 * that part is skipped and says so.
 */
static void
check_svg(const char *buf, const char *name)
{
	const char *p = buf;
	size_t len = strlen(buf);
	char cmd[512];
	int rc;

	if (strncmp(p, "<?xml", 5) == 0) {
		assert_non_null(p = strstr(p, "?>"));
		p += 2;
	}
	p += strspn(p, " \t\r\n");
	assert_int_equal(strncmp(p, "<svg", 4), 0);
	assert_true(len >= 7);
	assert_string_equal(buf + len - 7, "</svg>\n");
	assert_null(strstr(buf, "nan"));
	assert_null(strstr(buf, "inf"));

	rc = system("command -v xmllint >/dev/null 2>&1");
	if (rc != 0) {
		print_message("xmllint not found: well-formedness unchecked\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", tmp_path(name));
	assert_int_equal(system(cmd), 0);
}

/* Each series is exactly one <path> (the rest is lines and text). */
static int
nseries(const char *buf)
{
	return count(buf, "<path") + count(buf, "<polyline");
}

static void
test_day(void **state)
{
	static struct day d;
	struct sim_series s;
	char *buf;

	(void)state;
	day_make(&d);
	s = day_series(&d, "LR-MMT <&> \"day\"", DAY_N, true);
	buf = plot(&s, "day.svg");
	check_svg(buf, "day.svg");
	assert_non_null(strstr(buf,
	    "LR-MMT &lt;&amp;&gt; &quot;day&quot;"));
	assert_null(strstr(buf, "<&>"));
	assert_int_equal(nseries(buf), 3);
	assert_non_null(strstr(buf, "stroke-dasharray"));
	/* A day is labelled by time of day, every 4 hours. */
	assert_non_null(strstr(buf, ">00:00<"));
	assert_non_null(strstr(buf, ">04:00<"));
	assert_non_null(strstr(buf, ">12:00<"));
	assert_null(strstr(buf, ">02:00<"));
	/* Self-contained: nothing to fetch, nothing to run. */
	assert_null(strstr(buf, "<script"));
	assert_null(strstr(buf, "href"));
	assert_null(strstr(buf, "@import"));
	free(buf);
}

static void
test_no_baseline(void **state)
{
	static struct day d;
	struct sim_series s;
	char *buf;

	(void)state;
	day_make(&d);
	s = day_series(&d, "no baseline", DAY_N, false);
	buf = plot(&s, "nobase.svg");
	check_svg(buf, "nobase.svg");
	assert_int_equal(nseries(buf), 2);
	assert_null(strstr(buf, "stroke-dasharray"));
	free(buf);
}

static void
test_empty(void **state)
{
	struct sim_series s = { .title = "empty", .n = 0 };
	char *buf;

	(void)state;
	buf = plot(&s, "empty.svg");
	check_svg(buf, "empty.svg");
	assert_non_null(strstr(buf, "no data"));
	assert_int_equal(nseries(buf), 0);
	free(buf);
}

static void
test_one_point(void **state)
{
	static struct day d;
	struct sim_series s;
	char *buf;

	(void)state;
	day_make(&d);
	s = day_series(&d, "one", 1, true);
	buf = plot(&s, "one.svg");
	check_svg(buf, "one.svg");
	assert_int_equal(nseries(buf), 3);
	free(buf);
}

static void
test_zero(void **state)
{
	static struct day d;
	struct sim_series s;
	char *buf;
	int i;

	(void)state;
	day_make(&d);
	for (i = 0; i < DAY_N; i++)
		d.hosts[i] = d.power[i] = d.base[i] = 0;
	s = day_series(&d, "idle", DAY_N, true);
	buf = plot(&s, "zero.svg");
	check_svg(buf, "zero.svg");
	assert_int_equal(nseries(buf), 3);
	free(buf);
}

/* Missing samples are skipped, in values and in times. */
static void
test_nan(void **state)
{
	static struct day d;
	struct sim_series s;
	char *buf;

	(void)state;
	day_make(&d);
	d.hosts[0] = d.hosts[10] = d.hosts[DAY_N - 1] = NAN;
	d.power[20] = d.power[21] = INFINITY;
	d.base[100] = NAN;
	d.t[50] = NAN;
	s = day_series(&d, "gaps", DAY_N, true);
	buf = plot(&s, "nan.svg");
	check_svg(buf, "nan.svg");
	assert_int_equal(nseries(buf), 3);
	free(buf);
}

/* Nothing plottable at all is the same as no data. */
static void
test_all_nan(void **state)
{
	static struct day d;
	struct sim_series s;
	char *buf;
	int i;

	(void)state;
	day_make(&d);
	for (i = 0; i < DAY_N; i++)
		d.hosts[i] = d.power[i] = d.base[i] = NAN;
	s = day_series(&d, "all missing", DAY_N, true);
	buf = plot(&s, "allnan.svg");
	check_svg(buf, "allnan.svg");
	assert_non_null(strstr(buf, "no data"));
	free(buf);
}

/* Control characters and broken UTF-8 in a title still give valid XML. */
static void
test_title_bytes(void **state)
{
	static struct day d;
	struct sim_series s;
	char *buf;

	(void)state;
	day_make(&d);
	s = day_series(&d, "caf\xc3\xa9 \x01 bad\xff\xc3 end", DAY_N, false);
	buf = plot(&s, "bytes.svg");
	check_svg(buf, "bytes.svg");
	assert_non_null(strstr(buf, "caf\xc3\xa9   bad?? end"));
	free(buf);
}

static void
test_unwritable(void **state)
{
	static struct day d;
	struct sim_series s;
	struct ebb_err err = { "" };
	int rc;

	(void)state;
	day_make(&d);
	s = day_series(&d, "x", DAY_N, true);
	rc = sim_plot_svg(&s, "/nonexistent/dir/x.svg", &err);
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/x.svg"));
	assert_non_null(strstr(err.msg, strerror(ENOENT)));
}

/* A full disk shows only when the buffer is flushed, at fclose. */
static void
test_disk_full(void **state)
{
	static struct day d;
	struct sim_series s;
	struct ebb_err err = { "" };
	int rc;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	day_make(&d);
	s = day_series(&d, "full", DAY_N, true);
	rc = sim_plot_svg(&s, "/dev/full", &err);
	assert_int_equal(rc, -ENOSPC);
	assert_non_null(strstr(err.msg, "/dev/full: "));
}

static void
test_invalid(void **state)
{
	struct sim_series s = { .title = "bad", .n = 3 };
	struct ebb_err err = { "" };

	(void)state;
	assert_int_equal(sim_plot_svg(&s, tmp_path("bad.svg"), &err),
	    -EINVAL);
	assert_true(err.msg[0] != '\0');
	s.n = -1;
	assert_int_equal(sim_plot_svg(&s, tmp_path("bad.svg"), &err),
	    -EINVAL);
	assert_int_equal(sim_plot_svg(NULL, tmp_path("bad.svg"), &err),
	    -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_day),
		cmocka_unit_test(test_no_baseline),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_one_point),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_nan),
		cmocka_unit_test(test_all_nan),
		cmocka_unit_test(test_title_bytes),
		cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_disk_full),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
