/*
 * test_sensors.c - pwr_sensors over the real libsensors, reading the fake
 * sysfs tests/fixtures/sys/host4 (see its README.md) mounted over
 * /sys/devices, /sys/class and /sys/bus in a private mount namespace.
 * Needs root for the namespace; exits 77 (skipped) without it.
 *
 * Checked: the chips and sensors libsensors finds in the fixture, with
 * their exact temperatures and watts (power1_input and power1_average);
 * choosing the host's meter; the configuration is ours (a stream, a path,
 * none; never /etc/sensors3.conf) and its errors are reported; and where
 * nothing measures power (no hwmon, chips without power, a meter that
 * stops reading, no sysfs at all) the power model's estimate is used and
 * marked as such, with the cause logged once.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "pol_fleet.h"
#include "pwr_sensors.h"
#include "../fixtures/sys/fakesys.h"

#define HWMON0	"/sys/devices/platform/ebbfix.0/hwmon/hwmon0"

/* A host's curve, W at 0, 10, ..., 100 %: the estimate's model. */
static const struct pol_power_curve curve = { {
	86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117,
} };

static struct fakesys_capture capture = { .saved = -1 };

static int
setup(void **state EBB_UNUSED)
{
	char why[512];

	if (fakesys_mount(fakesys_fixture(__FILE__, "host4"), why,
	    sizeof(why)) != 0) {
		print_error("fakesys_mount: %s\n", why);
		return -1;
	}
	return 0;
}

static int
teardown(void **state EBB_UNUSED)
{
	if (capture.saved >= 0)
		free(fakesys_capture_end(&capture));
	fakesys_umount();
	return 0;
}

static struct pwr_sensors *
open_ok(const struct pwr_sensors_opts *o)
{
	struct pwr_sensors *ss;
	struct ebb_err err = { "" };
	int rc = pwr_sensors_open(&ss, o, &err);

	if (rc != 0)
		fail_msg("pwr_sensors_open: %d %s", rc, err.msg);
	return ss;
}

static void
read_ok(struct pwr_sensors *ss, double util, struct pwr_sensors_reading *r)
{
	struct ebb_err err = { "" };
	int rc = pwr_sensors_read(ss, util, r, &err);

	if (rc != 0)
		fail_msg("pwr_sensors_read: %d %s", rc, err.msg);
}

/* The sensor with this chip and attribute, or a failure. */
static const struct pwr_sensor *
find(const struct pwr_sensors *ss, const char *chip, const char *attr,
    size_t *index)
{
	for (size_t i = 0; i < pwr_sensors_count(ss); i++) {
		const struct pwr_sensor *s = pwr_sensors_get(ss, i);

		if (strcmp(s->chip, chip) == 0 && strcmp(s->attr, attr) == 0) {
			if (index != NULL)
				*index = i;
			return s;
		}
	}
	fail_msg("no sensor %s %s", chip, attr);
	return NULL;
}

/* ---- the fixture as measured -------------------------------------------- */

static void
test_enumerate_and_read(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .curve = &curve };
	const struct pwr_sensors_status *st;
	const struct pwr_sensor *s;
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss;
	char *log;

	fakesys_capture_start(&capture);
	ss = open_ok(&o);
	st = pwr_sensors_status(ss);
	assert_int_equal(st->state, PWR_SENSORS_OK);
	assert_string_equal(pwr_sensors_state_name(st->state), "ok");
	assert_int_equal(st->nchips, 2);
	assert_true(st->estimate);
	assert_string_equal(st->why, "");
	/* temp1, temp2, power1 of ebbfix; power1 of the meter; not in0. */
	assert_int_equal(pwr_sensors_count(ss), 4);
	assert_null(pwr_sensors_get(ss, 4));

	read_ok(ss, 0.5, &r);
	s = find(ss, "ebbfix-isa-0000", "temp1_input", NULL);
	assert_int_equal(s->kind, PWR_SENSOR_TEMP);
	assert_string_equal(s->label, "Package id 0");
	assert_true(s->value == 47.0);
	s = find(ss, "ebbfix-isa-0000", "temp2_input", NULL);
	assert_string_equal(s->label, "Core 0");
	assert_true(s->value == 45.5);
	s = find(ss, "ebbfix-isa-0000", "power1_input", NULL);
	assert_int_equal(s->kind, PWR_SENSOR_POWER);
	assert_string_equal(s->label, "Host");
	assert_true(s->value == 123.456);
	/* ACPI power_meter: only an average, and no label file. */
	s = find(ss, "power_meter-acpi-0", "power1_average", NULL);
	assert_int_equal(s->kind, PWR_SENSOR_POWER);
	assert_string_equal(s->label, "power1");
	assert_true(s->value == 182.5);

	assert_int_equal(r.ntemp, 2);
	assert_true(r.temp_max == 47.0);
	/* Measured, by whichever meter libsensors listed first (readdir
	 * order); which one is logged. */
	assert_int_equal(r.source, PWR_WATTS_SENSOR);
	assert_int_equal(r.power, st->power);
	assert_true(r.watts == pwr_sensors_get(ss, (size_t)st->power)->value);
	assert_true(isnan(r.util));
	pwr_sensors_close(ss);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "sensors: 2 power sensors; the "
	    "host's power is "), 1);
	free(log);
}

/* Values are read live: a change in the file shows in the next read. */
static void
test_reads_follow_the_files(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .power_chip = "ebbfix-*" };
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss = open_ok(&o);

	assert_int_equal(fakesys_write(HWMON0 "/temp2_input", "71250\n"), 0);
	assert_int_equal(fakesys_write(HWMON0 "/power1_input", "250000000\n"),
	    0);
	read_ok(ss, 0.5, &r);
	assert_true(r.temp_max == 71.25);
	assert_int_equal(r.source, PWR_WATTS_SENSOR);
	assert_true(r.watts == 250.0);
	pwr_sensors_close(ss);
}

/* power_chip picks the meter: an average-only ACPI meter, or the other. */
static void
test_power_chip(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .curve = &curve };
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss;
	size_t i;
	char *log;

	fakesys_capture_start(&capture);
	o.power_chip = "power_meter-*";
	ss = open_ok(&o);
	read_ok(ss, 0.3, &r);
	find(ss, "power_meter-acpi-0", "power1_average", &i);
	assert_int_equal(r.source, PWR_WATTS_SENSOR);
	assert_int_equal(r.power, (int)i);
	assert_true(r.watts == 182.5);
	pwr_sensors_close(ss);

	o.power_chip = "ebbfix-isa-*";
	ss = open_ok(&o);
	read_ok(ss, 0.3, &r);
	find(ss, "ebbfix-isa-0000", "power1_input", &i);
	assert_int_equal(r.power, (int)i);
	assert_true(r.watts == 123.456);
	pwr_sensors_close(ss);
	log = fakesys_capture_end(&capture);
	assert_string_equal(log, "");	/* chosen: nothing to say */
	free(log);
}

/* A pattern that matches no power sensor: estimate, and say so. */
static void
test_power_chip_without_power(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .curve = &curve,
	    .power_chip = "coretemp-*" };
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss;
	struct ebb_err err = { "" };
	char *log;

	fakesys_capture_start(&capture);
	ss = open_ok(&o);
	assert_int_equal(pwr_sensors_status(ss)->state, PWR_SENSORS_NO_POWER);
	read_ok(ss, 0.0, &r);
	assert_int_equal(r.source, PWR_WATTS_ESTIMATE);
	assert_true(r.watts == 86.0);
	pwr_sensors_close(ss);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "sensors: no power sensor on a "
	    "chip matching \"coretemp-*\" (2 chips); host power is estimated "
	    "from the power model"), 1);
	free(log);

	/* And one that is no chip name at all is the caller's error. */
	o.power_chip = "ebbfix-nosuchbus-1";
	assert_int_equal(pwr_sensors_open(&ss, &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "ebbfix-nosuchbus-1"));
	/* ... which left libsensors free for the next handle. */
	o.power_chip = NULL;
	pwr_sensors_close(open_ok(&o));
}

/* ---- estimates ---------------------------------------------------------- */

static void
test_no_hwmon_estimates(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .curve = &curve };
	const struct pwr_sensors_status *st;
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss;
	struct ebb_err err = { "" };
	char *log;

	assert_int_equal(fakesys_rm("/sys/class/hwmon"), 0);
	fakesys_capture_start(&capture);
	ss = open_ok(&o);
	st = pwr_sensors_status(ss);
	assert_int_equal(st->state, PWR_SENSORS_NO_CHIPS);
	assert_int_equal(st->nchips, 0);
	assert_int_equal(st->power, -1);
	assert_int_equal(pwr_sensors_count(ss), 0);

	for (int i = 0; i < 5; i++) {
		read_ok(ss, 0.55, &r);
		assert_int_equal(r.source, PWR_WATTS_ESTIMATE);
		assert_true(r.watts == pol_power_at(&curve, 0.55));
		assert_true(r.util == 0.55);
		assert_int_equal(r.power, -1);
		assert_int_equal(r.ntemp, 0);
		assert_true(isnan(r.temp_max));
	}
	/* Clipped to the curve's range; NaN is refused. */
	read_ok(ss, 1.2, &r);
	assert_true(r.util == 1.0);
	assert_true(r.watts == 117.0);
	read_ok(ss, -0.01, &r);
	assert_true(r.watts == 86.0);
	assert_int_equal(pwr_sensors_read(ss, NAN, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "NaN"));
	pwr_sensors_close(ss);

	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "sensors: no hwmon chips "
	    "(libsensors found none under /sys/class/hwmon); host power is "
	    "estimated from the power model"), 1);
	free(log);
}

/* No sensor and no model: watts unknown, not made up. */
static void
test_no_hwmon_no_model(void **state EBB_UNUSED)
{
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss;
	char *log;

	assert_int_equal(fakesys_rm("/sys/class/hwmon"), 0);
	fakesys_capture_start(&capture);
	ss = open_ok(NULL);
	assert_false(pwr_sensors_status(ss)->estimate);
	read_ok(ss, NAN, &r);	/* util is not needed: no model */
	assert_int_equal(r.source, PWR_WATTS_NONE);
	assert_true(isnan(r.watts));
	pwr_sensors_close(ss);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "host power is unknown (no power "
	    "model either)"), 1);
	free(log);
}

/* Temperatures but no power input anywhere: temperatures + estimate. */
static void
test_chips_without_power(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .curve = &curve };
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss;
	char *log;

	assert_int_equal(fakesys_rm(HWMON0 "/power1_input"), 0);
	assert_int_equal(fakesys_rm(HWMON0 "/power1_label"), 0);
	assert_int_equal(fakesys_rm("/sys/class/hwmon/hwmon1"), 0);
	fakesys_capture_start(&capture);
	ss = open_ok(&o);
	assert_int_equal(pwr_sensors_status(ss)->state, PWR_SENSORS_NO_POWER);
	assert_int_equal(pwr_sensors_count(ss), 2);
	read_ok(ss, 0.25, &r);
	read_ok(ss, 0.25, &r);
	assert_int_equal(r.ntemp, 2);
	assert_true(r.temp_max == 47.0);
	assert_int_equal(r.source, PWR_WATTS_ESTIMATE);
	assert_true(r.watts == pol_power_at(&curve, 0.25));
	pwr_sensors_close(ss);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "sensors: none of the 1 hwmon "
	    "chips has a power sensor"), 1);
	free(log);
}

/* The meter stops reading: estimate meanwhile, logged once. */
static void
test_meter_fails(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .curve = &curve,
	    .power_chip = "ebbfix-*" };
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss = open_ok(&o);
	size_t i;
	char *log;

	find(ss, "ebbfix-isa-0000", "power1_input", &i);
	assert_int_equal(fakesys_rm(HWMON0 "/power1_input"), 0);
	fakesys_capture_start(&capture);
	for (int k = 0; k < 3; k++) {
		read_ok(ss, 0.9, &r);
		assert_int_equal(r.source, PWR_WATTS_ESTIMATE);
		assert_true(r.watts == pol_power_at(&curve, 0.9));
		assert_true(isnan(pwr_sensors_get(ss, i)->value));
		assert_int_equal(r.ntemp, 2);
	}
	/* Back: measured again. */
	assert_int_equal(fakesys_write(HWMON0 "/power1_input", "99000000\n"),
	    0);
	read_ok(ss, 0.9, &r);
	assert_int_equal(r.source, PWR_WATTS_SENSOR);
	assert_true(r.watts == 99.0);
	pwr_sensors_close(ss);
	log = fakesys_capture_end(&capture);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "sensors: ebbfix-isa-0000 Host "
	    "(power1_input): "), 1);
	assert_int_equal(fakesys_count(log, "the host's power is estimated "
	    "while it fails"), 1);
	free(log);
}

/*
 * /sys not a sysfs (a container without it): libsensors refuses to start;
 * the handle still opens and estimates.
 */
static void
test_no_sysfs(void **state EBB_UNUSED)
{
	struct pwr_sensors_opts o = { .curve = &curve };
	struct pwr_sensors_reading r;
	struct pwr_sensors *ss;
	char *log;

	assert_int_equal(mount("ebb-nosys", "/sys", "tmpfs", 0, "size=1m"), 0);
	fakesys_capture_start(&capture);
	ss = open_ok(&o);
	assert_int_equal(pwr_sensors_status(ss)->state, PWR_SENSORS_NO_LIB);
	read_ok(ss, 1.0, &r);
	assert_int_equal(r.source, PWR_WATTS_ESTIMATE);
	assert_true(r.watts == 117.0);
	pwr_sensors_close(ss);
	log = fakesys_capture_end(&capture);
	assert_int_equal(umount2("/sys", MNT_DETACH), 0);
	assert_int_equal(fakesys_count(log, "\n"), 1);
	assert_int_equal(fakesys_count(log, "sensors: libsensors did not "
	    "start: "), 1);
	free(log);
}

/* ---- configuration ------------------------------------------------------ */

static const char config_text[] =
	"# ebb test\n"
	"chip \"ebbfix-*\"\n"
	"    label temp2 \"CPU core 0\"\n"
	"    ignore temp1\n"
	"    compute power1 @*2, @/2\n";

static void
check_configured(struct pwr_sensors *ss)
{
	struct pwr_sensors_reading r;
	const struct pwr_sensor *s;

	read_ok(ss, 0.5, &r);
	/* ignore temp1: only temp2 is left, relabelled. */
	assert_int_equal(r.ntemp, 1);
	s = find(ss, "ebbfix-isa-0000", "temp2_input", NULL);
	assert_string_equal(s->label, "CPU core 0");
	/* compute: the power reads doubled. */
	s = find(ss, "ebbfix-isa-0000", "power1_input", NULL);
	assert_true(s->value == 2 * 123.456);
	assert_int_equal(pwr_sensors_count(ss), 3);
}

static void
test_config_stream(void **state EBB_UNUSED)
{
	char text[sizeof(config_text)];
	struct pwr_sensors_opts o = { 0 };
	struct pwr_sensors *ss;

	memcpy(text, config_text, sizeof(text));
	o.config = fmemopen(text, strlen(text), "r");
	assert_non_null(o.config);
	ss = open_ok(&o);
	fclose(o.config);	/* the caller's stream: read at open only */
	check_configured(ss);
	pwr_sensors_close(ss);
}

static void
test_config_path(void **state EBB_UNUSED)
{
	char path[] = "/tmp/ebb-sensors-XXXXXX";
	struct pwr_sensors_opts o = { 0 };
	struct pwr_sensors *ss;
	struct ebb_err err = { "" };
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, config_text, strlen(config_text)),
	    (ssize_t)strlen(config_text));
	close(fd);
	o.config_path = path;
	ss = open_ok(&o);
	check_configured(ss);
	pwr_sensors_close(ss);
	unlink(path);

	/* Gone: the operator's mistake, reported, not degraded around. */
	assert_int_equal(pwr_sensors_open(&ss, &o, &err), -ENOENT);
	assert_non_null(strstr(err.msg, path));
	assert_null(ss);
}

static void
test_config_parse_error(void **state EBB_UNUSED)
{
	/* libsensors skips the bad line and returns success; we do not. */
	char text[] = "chip \"ebbfix-*\"\n    label temp1 \"ok\"\n"
	    "    label temp2\n";
	char path[] = "/tmp/ebb-sensors-XXXXXX";
	int fd;
	struct pwr_sensors_opts o = { 0 };
	struct pwr_sensors *ss;
	struct ebb_err err = { "" };
	char *log;

	o.config = fmemopen(text, strlen(text), "r");
	assert_non_null(o.config);
	fakesys_capture_start(&capture);
	assert_int_equal(pwr_sensors_open(&ss, &o, &err), -EINVAL);
	fclose(o.config);
	log = fakesys_capture_end(&capture);
	/*
	 * Into err, with the line; libsensors printed nothing itself.  The
	 * bad statement is on line 3, but libsensors notices at the newline
	 * that ends it and has counted that newline already: it says 4.
	 */
	assert_string_equal(err.msg, "sensors: (configuration stream):4: "
	    "syntax error");
	assert_string_equal(log, "");
	free(log);

	/* From a file: its name. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "bogus\n", 6), 6);
	close(fd);
	o.config = NULL;
	o.config_path = path;
	assert_int_equal(pwr_sensors_open(&ss, &o, &err), -EINVAL);
	unlink(path);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, ":1: Invalid keyword"));

	/* libsensors was cleaned up: the next open works. */
	pwr_sensors_close(open_ok(NULL));
}

/* libsensors' state is global: one handle at a time. */
static void
test_one_handle(void **state EBB_UNUSED)
{
	struct pwr_sensors *a = open_ok(NULL), *b;
	struct ebb_err err = { "" };

	assert_int_equal(pwr_sensors_open(&b, NULL, &err), -EBUSY);
	assert_null(b);
	pwr_sensors_close(a);
	b = open_ok(NULL);
	assert_int_equal(pwr_sensors_count(b), 4);
	pwr_sensors_close(b);
	pwr_sensors_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enumerate_and_read,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_follow_the_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_chip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_power_chip_without_power,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_hwmon_estimates,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_hwmon_no_model, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chips_without_power,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_meter_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_sysfs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_stream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_parse_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_handle, setup,
		    teardown),
	};
	char why[256];

	if (fakesys_enter(why, sizeof(why)) != 0) {
		printf("test_sensors: skipped: %s\n", why);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
