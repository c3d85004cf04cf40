/*
 * test_stats.c - pol_median, pol_iqr, pol_mad, pol_ols_line and
 * pol_r_squared against small cases worked by hand (the arithmetic is in
 * the comments), CloudSim's quartile positions and Java's rounding of
 * halves, and the edges: n = 0, 1, 2, all equal, collinear predictors,
 * too few observations.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ebb.h"
#include "pol_stats.h"

#define EPS	1e-12

/* |got - want| <= eps, reported at the caller's line. */
#define assert_near(got, want, eps) do {				\
	double _g = (got), _w = (want);					\
	if (!(fabs(_g - _w) <= (eps)))					\
		fail_msg("%s = %.17g, want %.17g (eps %g)", #got, _g,	\
		    _w, (double)(eps));					\
} while (0)

/* ---- median --------------------------------------------------------------- */

static void
test_median_edges(void **state EBB_UNUSED)
{
	double one[] = { 5 }, two[] = { 3, 1 }, same[] = { 7, 7, 7, 7 };

	/*
	 * Documented: 0.  (A real array: pol_median copies n values with
	 * memcpy before looking at n, and memcpy from NULL is undefined
	 * even for 0 bytes; pol_iqr and pol_mad check n first.)
	 */
	assert_near(pol_median(one, 0), 0, 0);
	assert_near(pol_median(one, 1), 5, 0);
	/* {1, 3}: mean of the two middles = 2. */
	assert_near(pol_median(two, 2), 2, 0);
	assert_near(pol_median(same, 4), 7, 0);
}

static void
test_median_small(void **state EBB_UNUSED)
{
	double odd[] = { 3, 1, 2 };		/* sorted 1 2 3 -> 2 */
	double even[] = { 4, 1, 3, 2 };		/* sorted 1 2 3 4 -> 2.5 */
	double neg[] = { -1, 10, -5, 0, 2 };	/* -5 -1 0 2 10 -> 0 */
	double copy[4];

	assert_near(pol_median(odd, 3), 2, 0);
	memcpy(copy, even, sizeof(even));
	assert_near(pol_median(even, 4), 2.5, 0);
	/* It sorts a copy: the caller's array is left as it was. */
	assert_memory_equal(copy, even, sizeof(even));
	assert_near(pol_median(neg, 5), 0, 0);
}

/* More values than the stack buffer holds: the heap path gives the same. */
static void
test_median_large(void **state EBB_UNUSED)
{
	double x[101];

	/* 0, 1, ..., 100 scrambled by a permutation (37 is prime to 101). */
	for (int i = 0; i < 101; i++)
		x[i] = (i * 37) % 101;
	assert_near(pol_median(x, 101), 50, 0);
	/* 0..99 scrambled (33 is prime to 100): (49 + 50) / 2 = 49.5. */
	for (int i = 0; i < 100; i++)
		x[i] = (i * 33) % 100;
	assert_near(pol_median(x, 100), 49.5, 0);
}

/* ---- IQR ------------------------------------------------------------------ */

static void
test_iqr_edges(void **state EBB_UNUSED)
{
	double one[] = { 4 }, two[] = { 5, 1 }, same[12];

	assert_near(pol_iqr(NULL, 0), 0, 0);
	/*
	 * n = 1: q1 = round(0.5) - 1 = 0, q3 = round(1.5) - 1 = 1, beyond
	 * the array (Java would throw); clamped to 0, so IQR = 0.
	 */
	assert_near(pol_iqr(one, 1), 0, 0);
	/* n = 2: q1 = round(0.75) - 1 = 0, q3 = round(2.25) - 1 = 1: 5 - 1. */
	assert_near(pol_iqr(two, 2), 4, 0);
	for (int i = 0; i < 12; i++)
		same[i] = 0.3;
	assert_near(pol_iqr(same, 12), 0, 0);
}

static void
test_iqr_positions(void **state EBB_UNUSED)
{
	double three[] = { 30, 10, 20 };
	double five[] = { 5, 3, 1, 4, 2 };
	double seven[] = { 7, 1, 6, 2, 5, 3, 4 };
	double nine[] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };
	double twelve[12], copy[5];

	/* n = 3: q1 = round(1) - 1 = 0 -> 10, q3 = round(3) - 1 = 2 -> 30. */
	assert_near(pol_iqr(three, 3), 20, 0);

	/*
	 * n = 5: 0.25 * 6 = 1.5 rounds up (Java) to 2 -> s[1] = 2;
	 * 0.75 * 6 = 4.5 rounds up to 5 -> s[4] = 5; IQR = 3.  Rounding
	 * halves to even would give s[3] = 4 for q3 and IQR 2.
	 */
	memcpy(copy, five, sizeof(five));
	assert_near(pol_iqr(five, 5), 3, 0);
	assert_memory_equal(copy, five, sizeof(five));

	/* n = 7: 0.25 * 8 = 2 -> s[1] = 2; 0.75 * 8 = 6 -> s[5] = 6; 4. */
	assert_near(pol_iqr(seven, 7), 4, 0);

	/*
	 * n = 9: 0.25 * 10 = 2.5 -> 3 -> s[2] = 3; 0.75 * 10 = 7.5 -> 8 ->
	 * s[7] = 8; IQR = 5 (half-to-even would give 2 and 8: 6).
	 */
	assert_near(pol_iqr(nine, 9), 5, 0);

	/*
	 * n = 12, CloudSim's usual history length: 0.25 * 13 = 3.25 -> 3 ->
	 * s[2]; 0.75 * 13 = 9.75 -> 10 -> s[9].  Values k/16, k = 12..1:
	 * s[2] = 3/16, s[9] = 10/16, IQR = 7/16 = 0.4375 exactly.
	 */
	for (int i = 0; i < 12; i++)
		twelve[i] = (12 - i) / 16.0;
	assert_near(pol_iqr(twelve, 12), 0.4375, 0);
}

static void
test_iqr_large(void **state EBB_UNUSED)
{
	double x[99];

	/*
	 * 1..99 scrambled: 0.25 * 100 = 25 -> s[24] = 25, 0.75 * 100 = 75 ->
	 * s[74] = 75: IQR = 50.
	 */
	for (int i = 0; i < 99; i++)
		x[i] = (i * 10) % 99 + 1;	/* 10 is prime to 99 */
	assert_near(pol_iqr(x, 99), 50, 0);
}

/* ---- MAD ------------------------------------------------------------------ */

static void
test_mad(void **state EBB_UNUSED)
{
	double outlier[] = { 1, 2, 3, 4, 100 };
	double seven[] = { 1, 1, 2, 2, 4, 6, 9 };
	double four[] = { 1, 2, 3, 4 };
	double twelve[12], same[] = { 2, 2, 2 }, one[] = { 8 };

	assert_near(pol_mad(NULL, 0), 0, 0);
	assert_near(pol_mad(one, 1), 0, 0);
	assert_near(pol_mad(same, 3), 0, 0);
	/* {1, 5}: median 3, deviations {2, 2}: 2. */
	assert_near(pol_mad((const double[]){ 1, 5 }, 2), 2, 0);

	/*
	 * Median 3; |x - 3| = {2, 1, 0, 1, 97}, sorted {0, 1, 1, 2, 97}:
	 * median 1.  The outlier does not move it.
	 */
	assert_near(pol_mad(outlier, 5), 1, 0);
	/* Median 2; deviations {1,1,0,0,2,4,7} -> {0,0,1,1,2,4,7}: 1. */
	assert_near(pol_mad(seven, 7), 1, 0);
	/* Median 2.5; deviations {1.5, .5, .5, 1.5}: (0.5 + 1.5) / 2 = 1. */
	assert_near(pol_mad(four, 4), 1, 0);

	/*
	 * k/16, k = 1..12: median (6 + 7) / 32 = 13/32; deviations
	 * |2k - 13| / 32 = 11 9 7 5 3 1 1 3 5 7 9 11 (/32), sorted
	 * 1 1 3 3 5 5 7 7 9 9 11 11: median (5 + 7) / 2 / 32 = 3/16.
	 */
	for (int i = 0; i < 12; i++)
		twelve[i] = (i + 1) / 16.0;
	assert_near(pol_mad(twelve, 12), 0.1875, 0);
}

static void
test_mad_large(void **state EBB_UNUSED)
{
	double x[101];

	/*
	 * 0..100: median 50, deviations 0, 1, 1, 2, 2, ..., 50, 50 (101
	 * values); the 51st smallest is 25.
	 */
	for (int i = 0; i < 101; i++)
		x[i] = (i * 37) % 101;
	assert_near(pol_mad(x, 101), 25, 0);
}

/* ---- least-squares line --------------------------------------------------- */

static void
test_ols_line(void **state EBB_UNUSED)
{
	double a, b;

	/* y = 2x exactly at x = 1, 2, 3: a = 0, b = 2. */
	pol_ols_line((const double[]){ 2, 4, 6 }, 3, &a, &b);
	assert_near(a, 0, EPS);
	assert_near(b, 2, EPS);

	/*
	 * y = {1, 3, 2, 5} at x = 1..4: mean x 2.5, mean y 2.75;
	 * dx = -1.5 -.5 .5 1.5, dy = -1.75 .25 -.75 2.25;
	 * Sxy = 2.625 - .125 - .375 + 3.375 = 5.5, Sxx = 5: b = 1.1,
	 * a = 2.75 - 1.1 * 2.5 = 0.
	 */
	pol_ols_line((const double[]){ 1, 3, 2, 5 }, 4, &a, &b);
	assert_near(b, 1.1, EPS);
	assert_near(a, 0, EPS);

	/* Two points fix the line: (1, 3), (2, 7): b = 4, a = -1. */
	pol_ols_line((const double[]){ 3, 7 }, 2, &a, &b);
	assert_near(b, 4, EPS);
	assert_near(a, -1, EPS);

	/* One point: no slope (Sxx = 0), the line is flat through it. */
	pol_ols_line((const double[]){ 0.42 }, 1, &a, &b);
	assert_near(b, 0, 0);
	assert_near(a, 0.42, 0);

	/* All equal: flat. */
	pol_ols_line((const double[]){ 0.5, 0.5, 0.5, 0.5, 0.5 }, 5, &a, &b);
	assert_near(b, 0, 0);
	assert_near(a, 0.5, 0);

	/*
	 * Nine 0.5 then 1.0 (x = 1..10): mean y 0.55, Sxx = 82.5,
	 * Sxy = -0.05 * (-4.5) + 4.5 * 0.45 = 2.25: b = 3/110,
	 * a = 0.55 - 5.5 * 3/110 = 0.4.
	 */
	pol_ols_line((const double[]){ .5, .5, .5, .5, .5, .5, .5, .5, .5, 1 },
	    10, &a, &b);
	assert_near(b, 3.0 / 110, EPS);
	assert_near(a, 0.4, EPS);
}

/* ---- R² ------------------------------------------------------------------- */

static void
test_r_squared_simple(void **state EBB_UNUSED)
{
	double x1[] = { 1, 2, 3 }, y[] = { 1, 3, 2 }, r2 = -7;
	const double *cols[] = { x1 };

	/*
	 * One predictor: R² = Sxy² / (Sxx Syy).  mean x = mean y = 2;
	 * Sxy = (-1)(-1) + 0 + (1)(0) = 1, Sxx = 2, Syy = 2: 1/4.
	 */
	assert_int_equal(pol_r_squared(y, cols, 1, 3, &r2), 0);
	assert_near(r2, 0.25, EPS);

	/* y = 3 x1 + 1 exactly: 1. */
	{
		double yy[] = { 4, 7, 10 };

		assert_int_equal(pol_r_squared(yy, cols, 1, 3, &r2), 0);
		assert_near(r2, 1, EPS);
	}
	/* y = -2 x1 + 9: a perfect fit whatever the sign. */
	{
		double yy[] = { 7, 5, 3 };

		assert_int_equal(pol_r_squared(yy, cols, 1, 3, &r2), 0);
		assert_near(r2, 1, EPS);
	}
}

static void
test_r_squared_two_predictors(void **state EBB_UNUSED)
{
	/*
	 * Centred, x1 = (-1.5, -.5, .5, 1.5) and x2 = (.5, -.5, -.5, .5) are
	 * orthogonal, so R² is the sum of the two one-predictor parts:
	 * y = (2, 0, 3, 3), mean 2, dy = (0, -2, 1, 1), Syy = 6;
	 * Sx1y = 0 + 1 + .5 + 1.5 = 3, Sx1x1 = 5: 9/5 = 1.8;
	 * Sx2y = 0 + 1 - .5 + .5 = 1, Sx2x2 = 1: 1;
	 * R² = (1.8 + 1) / 6 = 7/15.
	 */
	double x1[] = { 1, 2, 3, 4 }, x2[] = { 1, 0, 0, 1 };
	double y[] = { 2, 0, 3, 3 }, r2 = -7;
	const double *cols[] = { x1, x2 }, *swapped[] = { x2, x1 };

	assert_int_equal(pol_r_squared(y, cols, 2, 4, &r2), 0);
	assert_near(r2, 7.0 / 15, 1e-12);
	/* The order of the predictors does not matter. */
	assert_int_equal(pol_r_squared(y, swapped, 2, 4, &r2), 0);
	assert_near(r2, 7.0 / 15, 1e-12);

	/* m = k + 1 observations: the fit is exact, R² = 1. */
	assert_int_equal(pol_r_squared(y, cols, 2, 3, &r2), 0);
	assert_near(r2, 1, 1e-12);
}

static void
test_r_squared_undefined(void **state EBB_UNUSED)
{
	double x1[] = { 1, 2, 3, 4, 5 }, x2[] = { 2, 4, 6, 8, 10 };
	double x3[] = { 3, 3, 3, 3, 3 }, x4[] = { 1, 0, 1, 0, 2 };
	double y[] = { 1, 4, 2, 5, 3 }, r2 = 123;
	const double *coll[] = { x1, x2 }, *constant[] = { x3 };
	const double *three[] = { x1, x4, x2 }, *cols[] = { x1, x4 };

	/* x2 = 2 x1: collinear. */
	assert_int_equal(pol_r_squared(y, coll, 2, 5, &r2), -1);
	/* A constant predictor is collinear with the intercept. */
	assert_int_equal(pol_r_squared(y, constant, 1, 5, &r2), -1);
	/* Collinear pair not adjacent in the list. */
	assert_int_equal(pol_r_squared(y, three, 3, 5, &r2), -1);
	/* m < k + 1: 2 predictors need 3 observations. */
	assert_int_equal(pol_r_squared(y, cols, 2, 2, &r2), -1);
	assert_int_equal(pol_r_squared(y, cols, 1, 1, &r2), -1);
	assert_int_equal(pol_r_squared(y, cols, 0, 0, &r2), -1);
	/* On failure *r2 is left alone. */
	assert_near(r2, 123, 0);
	/* But 3 observations for 2 predictors are enough. */
	assert_int_equal(pol_r_squared(y, cols, 2, 3, &r2), 0);
}

static void
test_r_squared_degenerate_y(void **state EBB_UNUSED)
{
	double x1[] = { 1, 2, 3, 4 }, y[] = { 0.5, 0.5, 0.5, 0.5 }, r2 = 0;
	double yy[] = { 1, 2, 4, 8 };
	const double *cols[] = { x1 };

	/*
	 * A constant y has no variance to explain: 1 - 0/0 or 1 - x/0, NaN
	 * or -inf as Java gives; never a value MC could prefer.
	 */
	assert_int_equal(pol_r_squared(y, cols, 1, 4, &r2), 0);
	assert_false(isfinite(r2));
	assert_false(r2 > 0);

	/* No predictor at all: the intercept explains nothing, R² = 0. */
	assert_int_equal(pol_r_squared(yy, cols, 0, 4, &r2), 0);
	assert_near(r2, 0, 1e-12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median_edges),
		cmocka_unit_test(test_median_small),
		cmocka_unit_test(test_median_large),
		cmocka_unit_test(test_iqr_edges),
		cmocka_unit_test(test_iqr_positions),
		cmocka_unit_test(test_iqr_large),
		cmocka_unit_test(test_mad),
		cmocka_unit_test(test_mad_large),
		cmocka_unit_test(test_ols_line),
		cmocka_unit_test(test_r_squared_simple),
		cmocka_unit_test(test_r_squared_two_predictors),
		cmocka_unit_test(test_r_squared_undefined),
		cmocka_unit_test(test_r_squared_degenerate_y),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
