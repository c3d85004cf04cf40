/*
 * sim_plot.h - an SVG chart of a fleet over time: active hosts and fleet
 * power, with the no-consolidation baseline when known.  Self-contained
 * SVG (no scripts, no external fonts or links) so it opens anywhere.
 */
#ifndef SIM_PLOT_H
#define SIM_PLOT_H

#include "ebb.h"

struct sim_series {
	const char	*title;
	int		 n;		/* points */
	const double	*t_s;		/* time of each point, seconds */
	const double	*active_hosts;	/* hosts with load at that time */
	const double	*power_w;	/* fleet power, watts */
	const double	*baseline_w;	/* power without consolidation, or NULL */
};

/* Writes the chart to path; 0 or -errno with err filled. */
int	sim_plot_svg(const struct sim_series *, const char *path,
	    struct ebb_err *);

#endif /* SIM_PLOT_H */
