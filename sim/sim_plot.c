/*
 * sim_plot.c - the fleet chart as SVG: active hosts (step line, left axis)
 * and fleet power with its no-consolidation baseline (lines, right axis, kW)
 * over the time of day.
 *
 * The controller's live web chart is meant to look the same, so the drawing
 * is one function per element (frame, grid, axes, series, legend) over a
 * small struct of scales, each easy to port to another output.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sim_plot.h"

#define PLOT_W		900
#define PLOT_H		420
#define PLOT_LEFT	64		/* host labels and axis title */
#define PLOT_RIGHT	(PLOT_W - 72)	/* kW labels and axis title */
#define PLOT_TOP	64		/* title and legend */
#define PLOT_BOTTOM	(PLOT_H - 56)	/* time labels and axis title */

#define PLOT_C_HOSTS	"#1f77b4"
#define PLOT_C_POWER	"#d62728"
#define PLOT_C_BASE	"#7f7f7f"
#define PLOT_C_GRID	"#e5e5e5"
#define PLOT_C_AXIS	"#444444"
#define PLOT_C_TEXT	"#222222"
#define PLOT_C_MUTED	"#666666"
#define PLOT_DASH	"6 4"

#define PLOT_DAY_S	86400.0

/* Where the chart goes; the first failed write is kept, later ones ignored. */
struct plot_out {
	FILE	*f;
	int	 error;		/* errno of the first failed write, or 0 */
};

/*
 * A linear map from data to pixels and the ticks drawn for it:
 * hi == lo + nticks * step, and lo lands on px_lo, hi on px_hi.
 */
struct plot_axis {
	double	lo, hi;
	double	step;
	int	nticks;		/* intervals between lo and hi, >= 1 */
	int	decimals;	/* for tick labels */
	double	px_lo, px_hi;
};

struct plot_scales {
	struct plot_axis t;	/* seconds */
	struct plot_axis hosts;	/* left */
	struct plot_axis kw;	/* right */
	bool	multiday;	/* time labels carry a day number */
};

/* One drawn series and its legend entry. */
struct plot_line {
	const char		*label;
	const char		*color;
	const char		*dash;	/* stroke-dasharray, or NULL */
	const double		*v;
	double			 unit;	/* v / unit is in y's units (W -> kW) */
	const struct plot_axis	*y;
	bool			 step;	/* each value holds until the next */
};

static void	plot_printf(struct plot_out *, const char *, ...)
		    EBB_PRINTF(2, 3);

static void
plot_printf(struct plot_out *o, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfprintf(o->f, fmt, ap);
	va_end(ap);
	if (rc < 0 && o->error == 0)
		o->error = errno != 0 ? errno : EIO;
}

/*
 * Length of the valid UTF-8 sequence at p, or 0 if it is not one.  An XML
 * parser refuses the whole file over one bad byte, and titles come from
 * file and folder names that may be in any encoding.
 */
static size_t
plot_utf8_len(const unsigned char *p)
{
	unsigned long cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	/* A NUL fails the continuation test, so this never reads past it. */
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Writes s as XML character data; bytes XML cannot carry become '?'. */
static void
plot_text(struct plot_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		n = plot_utf8_len(p);
		if (n == 0) {
			plot_printf(o, "?");
			p++;
			continue;
		}
		switch (*p) {
		case '&':
			plot_printf(o, "&amp;");
			break;
		case '<':
			plot_printf(o, "&lt;");
			break;
		case '>':
			plot_printf(o, "&gt;");
			break;
		case '"':
			plot_printf(o, "&quot;");
			break;
		default:
			/* XML 1.0 forbids C0 controls but tab, LF and CR. */
			if (*p < 0x20)
				plot_printf(o, " ");
			else
				plot_printf(o, "%.*s", (int)n, (const char *)p);
		}
		p += n;
	}
}

/*
 * The smallest of 1, 2, 2.5, 5 times a power of ten that is >= x (x > 0).
 * Integer steps (host counts) skip 2.5 and are at least 1.
 */
static double
plot_nice(double x, bool integer)
{
	static const double m[] = { 1, 2, 2.5, 5, 10 };
	double e;
	size_t i;

	if (integer && x <= 1)
		return 1;
	e = pow(10, floor(log10(x)));
	for (i = 0; i < EBB_NITEMS(m); i++) {
		if (integer && m[i] == 2.5)
			continue;
		/* Tolerance so that x == 5 does not become 10 by rounding. */
		if (m[i] * e >= x * (1 - 1e-9))
			return m[i] * e;
	}
	return 10 * e;
}

/* Decimals needed to print multiples of step exactly. */
static int
plot_decimals(double step)
{
	double v;
	int d;

	for (d = 0; d < 6; d++) {
		v = step * pow(10, d);
		if (fabs(v - nearbyint(v)) < 1e-6 * v)
			break;
	}
	return d;
}

/*
 * Time ticks at a round number of minutes or hours, at most 8 intervals
 * (a day gets 4 h, half a day 2 h).  The range is widened to whole ticks
 * and to at least an hour, so that one sample still gets an axis.
 */
static void
plot_fit_time(struct plot_axis *a, double tmin, double tmax)
{
	static const double steps[] = {
		60, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200,
		PLOT_DAY_S,
	};
	double span = EBB_MAX(tmax - tmin, 3600.0);
	size_t i;

	a->step = ceil(span / PLOT_DAY_S / 8) * PLOT_DAY_S;
	for (i = 0; i < EBB_NITEMS(steps); i++)
		if (span / steps[i] <= 8) {
			a->step = steps[i];
			break;
		}
	/* A short series sits in the middle of its hour, not on the axis. */
	a->lo = floor(((tmin + tmax) / 2 - span / 2) / a->step) * a->step;
	a->nticks = (int)ceil((tmax - a->lo) / a->step - 1e-9);
	a->nticks = EBB_MAX(a->nticks, (int)ceil(span / a->step - 1e-9));
	a->nticks = EBB_MAX(a->nticks, 1);
	a->hi = a->lo + a->nticks * a->step;
	a->decimals = 0;
	a->px_lo = PLOT_LEFT;
	a->px_hi = PLOT_RIGHT;
}

/*
 * Both y axes from 0, with the same number of intervals so that their
 * ticks share one set of grid lines.  Of 3..7 intervals, take the one whose
 * nice steps leave the least empty space above the two series.
 */
static void
plot_fit_values(struct plot_axis *hosts, struct plot_axis *kw, double hmax,
    double kwmax)
{
	double hs, ks, fill, best = -1;
	int k;

	/* An all-zero series still needs a non-empty range. */
	if (!(hmax > 0))
		hmax = 1;
	if (!(kwmax > 0))
		kwmax = 1;
	for (k = 3; k <= 7; k++) {
		hs = plot_nice(hmax / k, true);
		ks = plot_nice(kwmax / k, false);
		fill = hmax / (hs * k) + kwmax / (ks * k);
		if (fill > best + 1e-9) {
			best = fill;
			hosts->step = hs;
			kw->step = ks;
			hosts->nticks = kw->nticks = k;
		}
	}
	hosts->lo = kw->lo = 0;
	hosts->hi = hosts->step * hosts->nticks;
	kw->hi = kw->step * kw->nticks;
	hosts->decimals = 0;
	kw->decimals = plot_decimals(kw->step);
	hosts->px_lo = kw->px_lo = PLOT_BOTTOM;
	hosts->px_hi = kw->px_hi = PLOT_TOP;
}

/*
 * Data to pixels.  Values outside the range (a negative power reading)
 * are drawn on the edge rather than over the labels.
 */
static double
plot_map(const struct plot_axis *a, double v)
{
	double px = a->px_lo + (v - a->lo) * (a->px_hi - a->px_lo) /
	    (a->hi - a->lo);

	return EBB_MAX(EBB_MIN(px, EBB_MAX(a->px_lo, a->px_hi)),
	    EBB_MIN(a->px_lo, a->px_hi));
}

/*
 * HH:MM of t's time of day (UTC when t is Unix time); past one day the
 * day number, counted from the axis' first day, goes in front.
 */
static void
plot_time_label(char *buf, size_t len, const struct plot_scales *sc,
    double t)
{
	double tod = fmod(t, PLOT_DAY_S);
	long min, day;

	if (tod < 0)
		tod += PLOT_DAY_S;
	min = lround(tod / 60) % (24 * 60);
	if (!sc->multiday) {
		snprintf(buf, len, "%02ld:%02ld", min / 60, min % 60);
		return;
	}
	day = lround(floor((t - floor(sc->t.lo / PLOT_DAY_S) * PLOT_DAY_S) /
	    PLOT_DAY_S)) + 1;
	snprintf(buf, len, "d%ld %02ld:%02ld", day, min / 60, min % 60);
}

static void
plot_begin(struct plot_out *o, const char *title)
{
	plot_printf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "font-family=\"sans-serif\" font-size=\"12\" fill=\"%s\">\n",
	    PLOT_W, PLOT_H, PLOT_W, PLOT_H, PLOT_C_TEXT);
	/* <title> is what screen readers and tooltips announce. */
	plot_printf(o, "<title>");
	plot_text(o, title);
	plot_printf(o, "</title>\n");
	plot_printf(o, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
	    PLOT_W, PLOT_H);
	plot_printf(o, "<text x=\"%d\" y=\"26\" font-size=\"16\" "
	    "font-weight=\"bold\">", PLOT_LEFT);
	plot_text(o, title);
	plot_printf(o, "</text>\n");
}

static void
plot_end(struct plot_out *o)
{
	plot_printf(o, "</svg>\n");
}

static void
plot_nodata(struct plot_out *o)
{
	plot_printf(o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"16\" "
	    "text-anchor=\"middle\" fill=\"%s\">no data</text>\n",
	    (PLOT_LEFT + PLOT_RIGHT) / 2.0, (PLOT_TOP + PLOT_BOTTOM) / 2.0,
	    PLOT_C_MUTED);
}

/* Grid lines at every tick; the two y axes share theirs. */
static void
plot_grid(struct plot_out *o, const struct plot_scales *sc)
{
	double px;
	int i;

	plot_printf(o, "<g stroke=\"%s\" stroke-width=\"1\" "
	    "shape-rendering=\"crispEdges\">\n", PLOT_C_GRID);
	for (i = 1; i < sc->t.nticks; i++) {
		px = plot_map(&sc->t, sc->t.lo + i * sc->t.step);
		plot_printf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
		    "y2=\"%d\"/>\n", px, PLOT_TOP, px, PLOT_BOTTOM);
	}
	for (i = 1; i <= sc->hosts.nticks; i++) {
		px = plot_map(&sc->hosts, sc->hosts.lo + i * sc->hosts.step);
		plot_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
		    "y2=\"%.1f\"/>\n", PLOT_LEFT, px, PLOT_RIGHT, px);
	}
	plot_printf(o, "</g>\n");
}

/* Axis lines, ticks, tick labels and the three axis titles. */
static void
plot_axes(struct plot_out *o, const struct plot_scales *sc)
{
	char label[32];
	double px, v;
	int i;

	plot_printf(o, "<g stroke=\"%s\" stroke-width=\"1\" "
	    "shape-rendering=\"crispEdges\">\n", PLOT_C_AXIS);
	plot_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
	    PLOT_LEFT, PLOT_BOTTOM, PLOT_RIGHT, PLOT_BOTTOM);
	plot_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
	    PLOT_LEFT, PLOT_TOP, PLOT_LEFT, PLOT_BOTTOM);
	plot_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
	    PLOT_RIGHT, PLOT_TOP, PLOT_RIGHT, PLOT_BOTTOM);
	for (i = 0; i <= sc->t.nticks; i++) {
		px = plot_map(&sc->t, sc->t.lo + i * sc->t.step);
		plot_printf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
		    "y2=\"%d\"/>\n", px, PLOT_BOTTOM, px, PLOT_BOTTOM + 5);
	}
	for (i = 0; i <= sc->hosts.nticks; i++) {
		px = plot_map(&sc->hosts, sc->hosts.lo + i * sc->hosts.step);
		plot_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
		    "y2=\"%.1f\"/>\n", PLOT_LEFT - 5, px, PLOT_LEFT, px);
		plot_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
		    "y2=\"%.1f\"/>\n", PLOT_RIGHT, px, PLOT_RIGHT + 5, px);
	}
	plot_printf(o, "</g>\n");

	plot_printf(o, "<g font-size=\"11\">\n");
	for (i = 0; i <= sc->t.nticks; i++) {
		v = sc->t.lo + i * sc->t.step;
		plot_time_label(label, sizeof(label), sc, v);
		plot_printf(o, "<text x=\"%.1f\" y=\"%d\" "
		    "text-anchor=\"middle\">%s</text>\n",
		    plot_map(&sc->t, v), PLOT_BOTTOM + 18, label);
	}
	for (i = 0; i <= sc->hosts.nticks; i++) {
		v = sc->hosts.lo + i * sc->hosts.step;
		plot_printf(o, "<text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%.*f</text>\n", PLOT_LEFT - 8,
		    plot_map(&sc->hosts, v) + 4, sc->hosts.decimals, v);
		v = sc->kw.lo + i * sc->kw.step;
		plot_printf(o, "<text x=\"%d\" y=\"%.1f\">%.*f</text>\n",
		    PLOT_RIGHT + 8, plot_map(&sc->kw, v) + 4,
		    sc->kw.decimals, v);
	}
	plot_printf(o, "</g>\n");

	/* Titles in their series' colour say which axis is whose. */
	plot_printf(o, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
	    "time of day</text>\n", (PLOT_LEFT + PLOT_RIGHT) / 2.0,
	    PLOT_H - 14);
	plot_printf(o, "<text transform=\"translate(18 %.1f) rotate(-90)\" "
	    "text-anchor=\"middle\" fill=\"%s\">active hosts</text>\n",
	    (PLOT_TOP + PLOT_BOTTOM) / 2.0, PLOT_C_HOSTS);
	plot_printf(o, "<text transform=\"translate(%d %.1f) rotate(90)\" "
	    "text-anchor=\"middle\" fill=\"%s\">fleet power (kW)</text>\n",
	    PLOT_W - 18, (PLOT_TOP + PLOT_BOTTOM) / 2.0, PLOT_C_POWER);
}

/*
 * A point with no neighbour to join is drawn as a small ring, inside the
 * same path so that each series stays one element.
 */
static void
plot_dot(struct plot_out *o)
{
	plot_printf(o, "m-3 0a3 3 0 1 0 6 0a3 3 0 1 0 -6 0");
}

/*
 * One <path> per series.  A point whose time or value is not finite is
 * skipped and leaves a gap, since joining across it would draw data that
 * was never measured; a point alone between gaps is drawn as a ring.
 * A step line holds each value
 * until the next sample, the last one for one more sample interval.
 */
static void
plot_series(struct plot_out *o, const struct plot_scales *sc,
    const struct sim_series *s, const struct plot_line *l)
{
	double x, y, prev_t = NAN, last_t = NAN;
	bool open = false, pen = false;
	int i, seg = 0;

	for (i = 0; i < s->n; i++) {
		if (!isfinite(s->t_s[i]))
			continue;
		prev_t = last_t;
		last_t = s->t_s[i];
		x = plot_map(&sc->t, s->t_s[i]);
		if (!isfinite(l->v[i])) {
			if (pen && l->step)
				plot_printf(o, "H%.1f", x);
			else if (pen && seg == 1)
				plot_dot(o);
			pen = false;
			continue;
		}
		y = plot_map(l->y, l->v[i] / l->unit);
		if (!open) {
			plot_printf(o, "<path fill=\"none\" stroke=\"%s\" "
			    "stroke-width=\"2\" stroke-linecap=\"round\" "
			    "stroke-linejoin=\"round\"", l->color);
			if (l->dash != NULL)
				plot_printf(o, " stroke-dasharray=\"%s\"",
				    l->dash);
			plot_printf(o, " d=\"");
			open = true;
		}
		if (!pen) {
			plot_printf(o, "M%.1f %.1f", x, y);
			seg = 1;
		} else if (l->step) {
			plot_printf(o, "H%.1f V%.1f", x, y);
			seg++;
		} else {
			plot_printf(o, "L%.1f %.1f", x, y);
			seg++;
		}
		pen = true;
	}
	if (!open)
		return;
	if (pen && l->step && last_t > prev_t)
		plot_printf(o, "H%.1f", plot_map(&sc->t,
		    EBB_MIN(2 * last_t - prev_t, sc->t.hi)));
	else if (pen && seg == 1)
		plot_dot(o);
	plot_printf(o, "\"/>\n");
}

/* One row above the plot; widths estimated, as SVG cannot measure text. */
static void
plot_legend(struct plot_out *o, const struct plot_line *lines, int nlines)
{
	const double char_w = 6.6, y = 46;
	double x = PLOT_LEFT;
	int i;

	for (i = 0; i < nlines; i++) {
		plot_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"", x, y,
		    x + 24, y, lines[i].color);
		if (lines[i].dash != NULL)
			plot_printf(o, " stroke-dasharray=\"%s\"",
			    lines[i].dash);
		plot_printf(o, "/>\n<text x=\"%.1f\" y=\"%.1f\">", x + 30,
		    y + 4);
		plot_text(o, lines[i].label);
		plot_printf(o, "</text>\n");
		x += 30 + char_w * strlen(lines[i].label) + 24;
	}
}

/*
 * Scales from the finite data.  Returns false when no point has both a
 * time and a value, which is drawn as "no data".
 */
static bool
plot_fit(struct plot_scales *sc, const struct sim_series *s)
{
	double tmin = INFINITY, tmax = -INFINITY, hmax = 0, kwmax = 0;
	bool any = false, h, p, b;
	int i;

	for (i = 0; i < s->n; i++) {
		h = isfinite(s->active_hosts[i]);
		p = isfinite(s->power_w[i]);
		b = s->baseline_w != NULL && isfinite(s->baseline_w[i]);
		if (!isfinite(s->t_s[i]) || !(h || p || b))
			continue;
		if (h)
			hmax = EBB_MAX(hmax, s->active_hosts[i]);
		if (p)
			kwmax = EBB_MAX(kwmax, s->power_w[i] / 1000);
		if (b)
			kwmax = EBB_MAX(kwmax, s->baseline_w[i] / 1000);
		tmin = EBB_MIN(tmin, s->t_s[i]);
		tmax = EBB_MAX(tmax, s->t_s[i]);
		any = true;
	}
	if (!any)
		return false;
	plot_fit_time(&sc->t, tmin, tmax);
	sc->multiday = sc->t.hi - sc->t.lo > PLOT_DAY_S;
	plot_fit_values(&sc->hosts, &sc->kw, hmax, kwmax);
	return true;
}

static void
plot_chart(struct plot_out *o, const struct sim_series *s)
{
	struct plot_scales sc;
	struct plot_line lines[3];
	int i, nlines = 0;

	plot_begin(o, s->title != NULL ? s->title : "ebb fleet");
	if (s->n == 0 || !plot_fit(&sc, s)) {
		plot_nodata(o);
		plot_end(o);
		return;
	}
	lines[nlines++] = (struct plot_line){ .label = "active hosts",
	    .color = PLOT_C_HOSTS, .v = s->active_hosts, .unit = 1,
	    .y = &sc.hosts, .step = true };
	lines[nlines++] = (struct plot_line){ .label = "fleet power",
	    .color = PLOT_C_POWER, .v = s->power_w, .unit = 1000,
	    .y = &sc.kw };
	if (s->baseline_w != NULL)
		lines[nlines++] = (struct plot_line){
		    .label = "baseline, no consolidation",
		    .color = PLOT_C_BASE, .dash = PLOT_DASH,
		    .v = s->baseline_w, .unit = 1000, .y = &sc.kw };

	/*
	 * Back to front: series over the axes, so that a zero series stays
	 * visible on the bottom one, and the baseline under the measured.
	 */
	plot_grid(o, &sc);
	plot_axes(o, &sc);
	for (i = nlines - 1; i >= 0; i--)
		plot_series(o, &sc, s, &lines[i]);
	plot_legend(o, lines, nlines);
	plot_end(o);
}

int
sim_plot_svg(const struct sim_series *s, const char *path,
    struct ebb_err *err)
{
	struct plot_out o = { NULL, 0 };
	locale_t c_num, old;
	int rc;

	if (s == NULL || path == NULL || s->n < 0 || (s->n > 0 &&
	    (s->t_s == NULL || s->active_hosts == NULL ||
	    s->power_w == NULL))) {
		ebb_err_set(err, "%s: invalid series", path ? path : "plot");
		return -EINVAL;
	}
	/*
	 * SVG numbers need a '.' whatever LC_NUMERIC the program chose, so
	 * this thread prints in the C locale while it writes.
	 */
	if ((c_num = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0)) ==
	    (locale_t)0) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		return rc;
	}
	if ((o.f = fopen(path, "w")) == NULL) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		freelocale(c_num);
		return rc;
	}
	old = uselocale(c_num);
	plot_chart(&o, s);
	uselocale(old);
	freelocale(c_num);

	/* Most write errors (ENOSPC, EIO) only show when the buffer goes. */
	if (ferror(o.f) && o.error == 0)
		o.error = EIO;
	if (fclose(o.f) != 0 && o.error == 0)
		o.error = errno;
	if (o.error != 0) {
		ebb_err_set(err, "%s: %s", path, strerror(o.error));
		return -o.error;
	}
	return 0;
}
