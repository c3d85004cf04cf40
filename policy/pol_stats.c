/*
 * pol_stats.c - median, IQR, MAD, least squares.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"
#include "pol_stats.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Histories are at most POL_HIST_MAX long; larger inputs use the heap. */
#define STATS_STACK	64

static double
median_sorted(const double *s, int n)
{
	if (n == 0)
		return 0;
	if (n % 2)
		return s[n / 2];
	return s[n / 2 - 1] + 0.5 * (s[n / 2] - s[n / 2 - 1]);
}

double
pol_median(const double *x, int n)
{
	double buf[STATS_STACK], *s = n <= STATS_STACK ? buf :
	    ebb_reallocarray(NULL, n, sizeof(*s));
	double m;

	if (n == 0)
		return 0;
	memcpy(s, x, n * sizeof(*x));
	qsort(s, n, sizeof(*s), cmp_double);
	m = median_sorted(s, n);
	if (s != buf)
		free(s);
	return m;
}

double
pol_iqr(const double *x, int n)
{
	double buf[STATS_STACK], *s = n <= STATS_STACK ? buf :
	    ebb_reallocarray(NULL, n, sizeof(*s));
	int q1, q3;
	double r;

	if (n == 0)
		return 0;
	memcpy(s, x, n * sizeof(*x));
	qsort(s, n, sizeof(*s), cmp_double);
	/* Java's Math.round rounds halves up, as floor(v + 0.5) does. */
	q1 = (int)floor(0.25 * (n + 1) + 0.5) - 1;
	q3 = (int)floor(0.75 * (n + 1) + 0.5) - 1;
	q1 = EBB_MAX(0, EBB_MIN(q1, n - 1));
	q3 = EBB_MAX(0, EBB_MIN(q3, n - 1));
	r = s[q3] - s[q1];
	if (s != buf)
		free(s);
	return r;
}

double
pol_mad(const double *x, int n)
{
	double buf[STATS_STACK], *d = n <= STATS_STACK ? buf :
	    ebb_reallocarray(NULL, n, sizeof(*d));
	double med, r;

	if (n == 0)
		return 0;
	med = pol_median(x, n);
	for (int i = 0; i < n; i++)
		d[i] = fabs(med - x[i]);
	r = pol_median(d, n);
	if (d != buf)
		free(d);
	return r;
}

void
pol_ols_line(const double *y, int n, double *a, double *b)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0;

	for (int i = 0; i < n; i++) {
		mx += i + 1;
		my += y[i];
	}
	mx /= n;
	my /= n;
	for (int i = 0; i < n; i++) {
		double dx = (i + 1) - mx;

		sxx += dx * dx;
		sxy += dx * (y[i] - my);
	}
	*b = sxx > 0 ? sxy / sxx : 0;
	*a = my - *b * mx;
}

int
pol_r_squared(const double *y, const double *const *x, int k, int m,
    double *r2)
{
	/*
	 * Householder QR of the m x (k+1) design matrix [1 x_1 .. x_k],
	 * applied to y as we go; the residual sum of squares is then the
	 * squared norm of the part of Q'y below row k+1.  Columns are few
	 * (VMs on one host), so the work is tiny.
	 */
	int p = k + 1;
	double *A, *z, ybar = 0, sst = 0, ssr = 0;
	int rc = 0;

	if (m < p || m <= 0)
		return -1;
	A = ebb_reallocarray(NULL, (size_t)m * p, sizeof(*A));
	z = ebb_reallocarray(NULL, m, sizeof(*z));
	for (int i = 0; i < m; i++) {
		A[i * p] = 1.0;
		for (int j = 0; j < k; j++)
			A[i * p + j + 1] = x[j][i];
		z[i] = y[i];
		ybar += y[i];
	}
	ybar /= m;
	for (int i = 0; i < m; i++)
		sst += (y[i] - ybar) * (y[i] - ybar);

	for (int c = 0; c < p; c++) {
		double norm = 0, alpha, vtv = 0, colmax = 0;

		for (int i = c; i < m; i++) {
			norm += A[i * p + c] * A[i * p + c];
			colmax = fmax(colmax, fabs(A[i * p + c]));
		}
		norm = sqrt(norm);
		/* A (numerically) zero pivot: the predictors are collinear. */
		if (norm <= 1e-12 * EBB_MAX(colmax, 1.0) || norm == 0) {
			rc = -1;
			goto out;
		}
		alpha = A[c * p + c] > 0 ? -norm : norm;
		A[c * p + c] -= alpha;	/* v = a - alpha e1, stored in place */
		for (int i = c; i < m; i++)
			vtv += A[i * p + c] * A[i * p + c];
		for (int j = c + 1; j < p; j++) {
			double s = 0;

			for (int i = c; i < m; i++)
				s += A[i * p + c] * A[i * p + j];
			s = 2 * s / vtv;
			for (int i = c; i < m; i++)
				A[i * p + j] -= s * A[i * p + c];
		}
		{
			double s = 0;

			for (int i = c; i < m; i++)
				s += A[i * p + c] * z[i];
			s = 2 * s / vtv;
			for (int i = c; i < m; i++)
				z[i] -= s * A[i * p + c];
		}
	}
	for (int i = p; i < m; i++)
		ssr += z[i] * z[i];
	*r2 = 1.0 - ssr / sst;	/* sst == 0 gives -inf or NaN, as in Java */
out:
	free(A);
	free(z);
	return rc;
}
