/*
 * test_metrics_prom.c - the Prometheus text writer against exact text:
 * HELP/TYPE lines, labels, escaping (backslash, double quote, newline),
 * numbers (NaN, +Inf, -Inf, integers, shortest round-trip), invalid names,
 * and a buffer too small at every possible size: -ENOSPC, an empty
 * buffer, and the size the text needs - never a truncated text reported
 * as success.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "met_prom.h"

static const char *
num(double v)
{
	static char buf[MET_PROM_NUM_MAX];
	size_t n = met_prom_number(buf, v);

	assert_int_equal(n, strlen(buf));
	return buf;
}

static void
test_numbers(void **state EBB_UNUSED)
{
	assert_string_equal(num(NAN), "NaN");
	assert_string_equal(num(-NAN), "NaN");
	assert_string_equal(num(INFINITY), "+Inf");
	assert_string_equal(num(-INFINITY), "-Inf");
	assert_string_equal(num(0.0), "0");
	assert_string_equal(num(-0.0), "0");
	assert_string_equal(num(42), "42");
	assert_string_equal(num(-7), "-7");
	assert_string_equal(num(25276026880.0), "25276026880");
	assert_string_equal(num(999999999999999.0), "999999999999999");
	assert_string_equal(num(1e15), "1e+15");
	assert_string_equal(num(0.25), "0.25");
	assert_string_equal(num(-2.5), "-2.5");
	assert_string_equal(num(1653.21), "1653.21");
	assert_string_equal(num(0.1), "0.1");
	assert_string_equal(num(1e-7), "1e-07");
	/* 15 digits do not read back as these doubles; 16 and 17 do. */
	assert_string_equal(num(1.0 / 3), "0.3333333333333333");
	assert_string_equal(num(0.1 + 0.2), "0.30000000000000004");
	assert_string_equal(num(-1.7976931348623157e308),
	    "-1.7976931348623157e+308");
	/* Near the smallest denormal 15 digits already read back. */
	assert_string_equal(num(5e-324), "4.94065645841247e-324");
	/* Every output reads back as the same double. */
	for (int i = 1; i < 2000; i++) {
		double v = 1.0 / i * (i % 2 ? 1e-3 : 1e9);

		assert_true(strtod(num(v), NULL) == v);
	}
}

/* The calls every writer test makes, in order. */
static int
write_all(struct met_prom *p)
{
	struct met_prom_label two[] = {
		{ "cpu", "0" }, { "mode", "user" },
	};
	struct met_prom_label odd[] = {
		{ "path", "C:\\dir \"x\"\nend" },
	};

	met_prom_family(p, "ebb_demo_seconds_total", MET_PROM_COUNTER,
	    "Help with a \\ backslash,\na newline and \"quotes\".");
	met_prom_sample(p, "ebb_demo_seconds_total", two, 2, 12.5);
	met_prom_sample(p, "ebb_demo_seconds_total", odd, 1, 3);
	met_prom_family(p, "ebb_demo_ratio", MET_PROM_GAUGE, "Ratios.");
	met_prom_sample(p, "ebb_demo_ratio", NULL, 0, NAN);
	met_prom_sample(p, "ebb_demo_ratio", two, 1, INFINITY);
	met_prom_sample(p, "ebb_demo_ratio", two + 1, 1, -INFINITY);
	return met_prom_sample(p, "ebb:demo_rule:sum", NULL, 0, 0.5);
}

static const char want[] =
    "# HELP ebb_demo_seconds_total Help with a \\\\ backslash,\\na newline "
    "and \"quotes\".\n"
    "# TYPE ebb_demo_seconds_total counter\n"
    "ebb_demo_seconds_total{cpu=\"0\",mode=\"user\"} 12.5\n"
    "ebb_demo_seconds_total{path=\"C:\\\\dir \\\"x\\\"\\nend\"} 3\n"
    "# HELP ebb_demo_ratio Ratios.\n"
    "# TYPE ebb_demo_ratio gauge\n"
    "ebb_demo_ratio NaN\n"
    "ebb_demo_ratio{cpu=\"0\"} +Inf\n"
    "ebb_demo_ratio{mode=\"user\"} -Inf\n"
    "ebb:demo_rule:sum 0.5\n";

static void
test_exact_text(void **state EBB_UNUSED)
{
	char buf[1024];
	struct met_prom p;
	size_t len;

	met_prom_init(&p, buf, sizeof(buf));
	assert_int_equal(write_all(&p), 0);
	assert_int_equal(met_prom_finish(&p, &len), 0);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(p.need, strlen(want));
}

/*
 * Every buffer size below the text's: the writer holds whole lines only
 * while it writes, finishes with -ENOSPC and an empty buffer, and knows
 * the size it would have needed.  need + 1 bytes (the NUL) is enough.
 */
static void
test_too_small(void **state EBB_UNUSED)
{
	size_t full = strlen(want), cap, len;
	char *buf = ebb_malloc(full + 1);
	struct met_prom p;

	for (cap = 0; cap <= full; cap++) {
		memset(buf, 'Z', full + 1);
		met_prom_init(&p, buf, cap);
		assert_int_equal(write_all(&p), -ENOSPC);
		if (cap > 0) {
			/* Whole lines so far, and the NUL after them. */
			assert_int_equal(strlen(buf), p.len);
			assert_true(p.len == 0 || buf[p.len - 1] == '\n');
			assert_memory_equal(buf, want, p.len);
		}
		assert_true(p.len < cap || cap == 0);
		assert_int_equal(p.need, full);
		len = 12345;
		assert_int_equal(met_prom_finish(&p, &len), -ENOSPC);
		assert_int_equal(len, 0);
		if (cap > 0)
			assert_string_equal(buf, "");
		else
			assert_int_equal(buf[0], 'Z');	/* untouched */
	}
	met_prom_init(&p, buf, full + 1);
	assert_int_equal(write_all(&p), 0);
	assert_int_equal(met_prom_finish(&p, &len), 0);
	assert_string_equal(buf, want);
	free(buf);
}

static void
test_invalid_names(void **state EBB_UNUSED)
{
	static const char *bad_metric[] = { "", "1abc", "a-b", "a b", "é" };
	static const char *bad_label[] = { "", "__name__", "a:b", "9", "a.b" };
	struct met_prom_label l = { NULL, "v" };
	char buf[256];
	struct met_prom p;
	size_t i, len;

	for (i = 0; i < EBB_NITEMS(bad_metric); i++) {
		met_prom_init(&p, buf, sizeof(buf));
		assert_int_equal(met_prom_sample(&p, "ok_1", NULL, 0, 1), 0);
		assert_int_equal(met_prom_sample(&p, bad_metric[i], NULL, 0,
		    1), -EINVAL);
		assert_int_equal(met_prom_family(&p, bad_metric[i],
		    MET_PROM_GAUGE, "h"), -EINVAL);
		/* The first error sticks. */
		assert_int_equal(met_prom_sample(&p, "ok_2", NULL, 0, 1),
		    -EINVAL);
		assert_int_equal(met_prom_finish(&p, &len), -EINVAL);
		assert_int_equal(len, 0);
		assert_string_equal(buf, "");
	}
	for (i = 0; i < EBB_NITEMS(bad_label); i++) {
		met_prom_init(&p, buf, sizeof(buf));
		l.name = bad_label[i];
		assert_int_equal(met_prom_sample(&p, "ok", &l, 1, 1),
		    -EINVAL);
		assert_int_equal(met_prom_finish(&p, &len), -EINVAL);
	}
	/* Valid: underscores, digits after the first, ':' in metrics. */
	met_prom_init(&p, buf, sizeof(buf));
	l.name = "_a1";
	assert_int_equal(met_prom_sample(&p, "_x:y_2", &l, 1, 1), 0);
	assert_int_equal(met_prom_finish(&p, &len), 0);
	assert_string_equal(buf, "_x:y_2{_a1=\"v\"} 1\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_invalid_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
