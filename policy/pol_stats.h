/*
 * pol_stats.h - the small statistics the detectors and selectors need,
 * defined exactly as CloudSim's MathUtil (and Apache Commons Math beneath
 * it) computes them, so that reference results carry over.
 */
#ifndef POL_STATS_H
#define POL_STATS_H

/* Median: mean of the two middle values for even n; 0 for n == 0. */
double	pol_median(const double *x, int n);
/*
 * Interquartile range with CloudSim's quartile positions:
 * q1 = x[round(0.25 (n+1)) - 1], q3 = x[round(0.75 (n+1)) - 1] after sorting.
 */
double	pol_iqr(const double *x, int n);
/* Median absolute deviation from the median. */
double	pol_mad(const double *x, int n);
/* Least-squares line through (1, y[0]) .. (n, y[n-1]): y = a + b x. */
void	pol_ols_line(const double *y, int n, double *a, double *b);
/*
 * R² of the least-squares fit of y (m observations) on k predictors
 * x[j][0..m-1] with an intercept.  Returns 0 and sets *r2, or -1 when the
 * fit is not defined (m < k + 1, or the predictors are collinear).
 */
int	pol_r_squared(const double *y, const double *const *x, int k, int m,
	    double *r2);

#endif /* POL_STATS_H */
