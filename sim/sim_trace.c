/*
 * sim_trace.c - utilization traces: PlanetLab folders read and written, and
 * a synthetic generator calibrated on PlanetLab's published statistics.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebb_rand.h"
#include "sim_trace.h"

/* CloudSim's PlanetLab sampling period; the synthetic model is tuned at it. */
#define SIM_TRACE_INTERVAL_S	300.0

/* ---- reading and writing folders --------------------------------------- */

static char *
trace_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p = ebb_malloc(dl + nl + 2);

	memcpy(p, dir, dl);
	/* "dir/" and "dir" name the same file; keep messages free of "//". */
	if (dl > 0 && dir[dl - 1] != '/')
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	return p;
}

static int
trace_name_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

static void
trace_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * Lists the regular files of dir, dotfiles left out, in strcmp order: the
 * order CloudSim's runner sees on Linux, which decides each VM's type.
 */
static int
trace_list_dir(const char *dir, char ***namesp, int *np, struct ebb_err *err)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char **names = NULL;
	int n = 0, cap = 0, rc;

	if ((d = opendir(dir)) == NULL) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", dir, strerror(errno));
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		/* d_type may be DT_UNKNOWN, and a symlink to a file counts. */
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1) {
			if (errno == ENOENT)	/* dangling link, or gone */
				continue;
			rc = -errno;
			ebb_err_set(err, "%s/%s: %s", dir, de->d_name,
			    strerror(errno));
			goto fail;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = ebb_reallocarray(names, cap, sizeof(*names));
		}
		names[n++] = ebb_strdup(de->d_name);
	}
	if (errno != 0) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), trace_name_cmp);
	*namesp = names;
	*np = n;
	return 0;
fail:
	closedir(d);
	trace_names_free(names, n);
	return rc;
}

/* Copies at most 24 bytes of s for an error message, unprintables as '?'. */
static void
trace_quote(char *dst, size_t size, const char *s, size_t len)
{
	size_t i, n = EBB_MIN(len, EBB_MIN(size - 1, (size_t)24));

	for (i = 0; i < n; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	dst[i] = '\0';
}

/*
 * Parses one line holding a number in 0..100, trailing blanks already cut.
 * Only plain decimals are taken: strtod alone would also accept "inf",
 * "nan" and hex floats, none of which a PlanetLab file holds.
 */
static int
trace_parse_value(const char *path, int lineno, const char *s, size_t len,
    double *v, struct ebb_err *err)
{
	char tok[64], q[32], *end;
	size_t i;
	bool digit = false;

	for (i = 0; i < len; i++) {
		if (isdigit((unsigned char)s[i]))
			digit = true;
		else if (strchr("+-.eE", s[i]) == NULL || s[i] == '\0')
			break;
	}
	if (i < len || !digit || len >= sizeof(tok))
		goto junk;
	memcpy(tok, s, len);
	tok[len] = '\0';
	*v = strtod(tok, &end);
	if (end != tok + len)
		goto junk;
	if (!isfinite(*v) || *v < 0.0 || *v > 100.0) {
		trace_quote(q, sizeof(q), s, len);
		ebb_err_set(err, "%s:%d: value %s is outside 0..100", path,
		    lineno, q);
		return -ERANGE;
	}
	if (*v == 0.0)
		*v = 0.0;	/* "-0" reads as -0.0; keep one zero */
	return 0;
junk:
	trace_quote(q, sizeof(q), s, len);
	ebb_err_set(err, "%s:%d: not a number: '%s'", path, lineno, q);
	return -EINVAL;
}

/*
 * Parses a file of one value per line into pct (samples long, zeroed by the
 * caller, so a short file is padded with 0 as CloudSim's arrays are).  Every
 * line is checked, even past `samples`, so that a damaged file never loads
 * by accident.  Blank lines are accepted only at the end.
 */
static int
trace_parse(const char *path, const char *buf, size_t len, int samples,
    double *pct, struct ebb_err *err)
{
	const char *line = buf, *bufend = buf + len, *nl;
	size_t ll;
	int lineno = 0, blank = 0, n = 0, rc;
	double v;

	while (line < bufend) {
		nl = memchr(line, '\n', bufend - line);
		ll = (nl != NULL ? nl : bufend) - line;
		lineno++;
		while (ll > 0 && strchr(" \t\r\v\f", line[ll - 1]) != NULL &&
		    line[ll - 1] != '\0')
			ll--;
		while (ll > 0 && (*line == ' ' || *line == '\t')) {
			line++;
			ll--;
		}
		if (ll == 0) {
			if (blank == 0)
				blank = lineno;
		} else {
			if (blank != 0) {
				ebb_err_set(err, "%s:%d: empty line", path,
				    blank);
				return -EINVAL;
			}
			if ((rc = trace_parse_value(path, lineno, line, ll,
			    &v, err)) != 0)
				return rc;
			if (n < samples)
				pct[n] = v;
			n++;
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return 0;
}

int
sim_workload_load_dir(const char *dir, int samples, struct sim_workload *w,
    struct ebb_err *err)
{
	struct sim_trace *t;
	char **names = NULL, *path, *buf;
	size_t len;
	int n = 0, i, rc;

	memset(w, 0, sizeof(*w));
	if (samples <= 0) {
		ebb_err_set(err, "%s: samples must be positive, not %d", dir,
		    samples);
		return -EINVAL;
	}
	if ((rc = trace_list_dir(dir, &names, &n, err)) != 0)
		return rc;
	if (n == 0) {
		ebb_err_set(err, "%s: no trace files", dir);
		free(names);
		return -ENOENT;
	}
	w->traces = ebb_calloc(n, sizeof(*w->traces));
	w->interval_s = SIM_TRACE_INTERVAL_S;
	for (i = 0; i < n; i++) {
		t = &w->traces[w->ntraces++];
		t->name = names[i];
		names[i] = NULL;
		t->n = samples;
		t->pct = ebb_calloc(samples, sizeof(*t->pct));
		path = trace_path(dir, t->name);
		rc = ebb_read_file(path, &buf, &len, err);
		if (rc == 0) {
			rc = trace_parse(path, buf, len, samples, t->pct, err);
			free(buf);
		}
		free(path);
		if (rc != 0)
			goto fail;
	}
	free(names);
	return 0;
fail:
	trace_names_free(names, n);
	sim_workload_free(w);
	return rc;
}

void
sim_workload_free(struct sim_workload *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < w->ntraces; i++) {
		free(w->traces[i].name);
		free(w->traces[i].pct);
	}
	free(w->traces);
	memset(w, 0, sizeof(*w));
}

/* mkdir -p: every missing component of dir is made. */
static int
trace_mkdir_p(const char *dir, struct ebb_err *err)
{
	char *p = ebb_strdup(dir), *s;
	struct stat st;
	int rc = 0;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		if (s[-1] != '/') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0777) == -1 && errno != EEXIST) {
				rc = -errno;
				ebb_err_set(err, "%s: %s", p, strerror(errno));
				goto out;
			}
			*s = c;
		}
		if (*s == '\0')
			break;
	}
	if (stat(dir, &st) == -1) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
		ebb_err_set(err, "%s: %s", dir, strerror(ENOTDIR));
	}
out:
	free(p);
	return rc;
}

static int
trace_write_file(const struct sim_trace *t, const char *path,
    struct ebb_err *err)
{
	FILE *f;
	double v;
	int i, rc;

	if ((f = fopen(path, "w")) == NULL) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		return rc;
	}
	for (i = 0; i < t->n; i++) {
		/* The format holds integer percents; NaN is written as 0. */
		v = t->pct[i];
		v = v > 0.0 ? (v < 100.0 ? v : 100.0) : 0.0;
		fprintf(f, "%d\n", (int)(v + 0.5));
	}
	if (ferror(f)) {
		fclose(f);
		ebb_err_set(err, "%s: write error", path);
		return -EIO;
	}
	if (fclose(f) == EOF) {
		rc = -errno;
		ebb_err_set(err, "%s: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

int
sim_workload_write_dir(const struct sim_workload *w, const char *dir,
    struct ebb_err *err)
{
	const char *name;
	char *path;
	int i, rc;

	/*
	 * Names are checked first so that a bad one leaves nothing half
	 * written: a dotfile would be skipped on reading, a '/' would escape
	 * the folder.
	 */
	for (i = 0; i < w->ntraces; i++) {
		name = w->traces[i].name;
		if (name == NULL || name[0] == '\0' || name[0] == '.' ||
		    strchr(name, '/') != NULL) {
			ebb_err_set(err, "trace %d: bad file name '%s'", i,
			    name != NULL ? name : "(null)");
			return -EINVAL;
		}
	}
	if ((rc = trace_mkdir_p(dir, err)) != 0)
		return rc;
	for (i = 0; i < w->ntraces; i++) {
		path = trace_path(dir, w->traces[i].name);
		rc = trace_write_file(&w->traces[i], path, err);
		free(path);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- synthetic traces --------------------------------------------------- */

/*
 * The model.  Each VM is drawn from its own stream (seeded from a master
 * stream), so VM k does not change when more VMs are asked for.  Its
 * unrounded utilization, in "nominal percent", is
 *
 *	level * diurnal(t) * exp(vol * x_t - vol^2 / 2) + burst(t)
 *
 * level	lognormal per VM: PlanetLab VMs differ from each other far
 *		more than one VM differs from itself over a day, and a few
 *		sit near 100 % all day.
 * x_t		AR(1) in log space, unit variance: load drifts over tens
 *		of minutes instead of flickering sample to sample.  The
 *		-vol^2/2 keeps the VM's mean at level.
 * diurnal	1 + a cos(2 pi (t - peak) / day).  PlanetLab nodes live in
 *		many time zones, so most peaks cluster and the rest spread:
 *		the fleet's cycle stays mild.
 * burst	episodes of a few samples adding tens of percent (a build, a
 *		crawl); rarely a batch job holding 70..100 % for hours.
 *
 * Then a rare idle run: the VM stops late in the day, its trace 0 from
 * there (or for a while).  The fleet is finally scaled by one factor so that
 * its mean, after rounding and clipping, is mean_pct; the nominal constants
 * are tuned so that this factor is about 1 at the default 12.3 %.
 *
 * The shape was calibrated on the published statistics of CloudSim's ten
 * PlanetLab days (Beloglazov & Buyya 2012: means 9.3-12.4 %, st.devs
 * 12.8-17.1 %).  At the defaults it gives mean 12.30, st.dev 16.7, median
 * 6, p95 48, lag-1 autocorrelation 0.86, and a 0 twice in a row in ~4 % of
 * the VMs; at mean_pct 9.26 the st.dev is 13.1 (PlanetLab: 12.78).
 */
#define SYN_LEVEL_MU		1.95	/* log of the median level */
#define SYN_LEVEL_SIGMA		1.00
#define SYN_VOL_MIN		0.30	/* log-space noise, per VM */
#define SYN_VOL_SPAN		0.50
#define SYN_PHI_MIN		0.80	/* AR(1) coefficient at 300 s */
#define SYN_PHI_SPAN		0.17
#define SYN_DIURNAL_MIN		0.10	/* amplitude, per VM */
#define SYN_DIURNAL_SPAN	0.30
#define SYN_PEAK_CLUSTER	0.70	/* share of VMs peaking near 14h */
#define SYN_BURST_RATE		0.006	/* median starts a sample */
#define SYN_BURST_RATE_SIGMA	0.80
#define SYN_BURST_LEN_MIN	3.0	/* mean length, samples at 300 s */
#define SYN_BURST_LEN_SPAN	9.0
#define SYN_BURST_MIN		10.0	/* height, nominal percent */
#define SYN_BURST_SPAN		60.0
#define SYN_BATCH_P		0.02	/* VMs with a long batch job */
#define SYN_IDLE_P		0.035	/* VMs that stop (a run of 0) */
#define SYN_IDLE_TO_END		0.70	/* of those, the ones staying off */

/* Marks a sample inside an idle run; never a utilization. */
#define SYN_IDLE		(-1.0)

static void
synth_vm(struct ebb_rand *r, const struct sim_synth_params *p,
    double interval, double *lat)
{
	int n = p->samples, i, j, start, len;
	double step = interval / SIM_TRACE_INTERVAL_S;
	double level, vol, phi, innov, amp, peak, rate, mlen, x, u, t, v;
	double height = 0.0;
	bool burst = false;

	level = exp(SYN_LEVEL_MU + SYN_LEVEL_SIGMA * ebb_rand_normal(r));
	vol = SYN_VOL_MIN + SYN_VOL_SPAN * ebb_rand_double(r);
	/* Rates and lengths are per 300 s; other intervals are rescaled. */
	phi = exp(log(SYN_PHI_MIN + SYN_PHI_SPAN * ebb_rand_double(r)) *
	    step);
	innov = sqrt(1.0 - phi * phi);
	amp = SYN_DIURNAL_MIN + SYN_DIURNAL_SPAN * ebb_rand_double(r);
	if (ebb_rand_double(r) < SYN_PEAK_CLUSTER)
		peak = (14.0 + 2.0 * ebb_rand_normal(r)) * 3600.0;
	else
		peak = 86400.0 * ebb_rand_double(r);
	rate = exp(log(SYN_BURST_RATE) + SYN_BURST_RATE_SIGMA *
	    ebb_rand_normal(r)) * step;
	rate = EBB_MIN(rate, 0.2);
	mlen = (SYN_BURST_LEN_MIN + SYN_BURST_LEN_SPAN * ebb_rand_double(r)) /
	    step;
	mlen = EBB_MAX(mlen, 1.0);

	x = ebb_rand_normal(r);		/* start in the stationary law */
	for (i = 0; i < n; i++) {
		t = i * interval;
		v = level * (1.0 + amp * cos(2.0 * M_PI * (t - peak) /
		    86400.0)) * exp(vol * x - 0.5 * vol * vol);
		if (!burst && ebb_rand_double(r) < rate) {
			u = ebb_rand_double(r);
			height = SYN_BURST_MIN + SYN_BURST_SPAN * u * u;
			burst = true;
		}
		if (burst) {
			v += height * (0.85 + 0.3 * ebb_rand_double(r));
			/* Ends with probability 1/mlen: geometric length. */
			if (ebb_rand_double(r) < 1.0 / mlen)
				burst = false;
		}
		lat[i] = v;
		x = phi * x + innov * ebb_rand_normal(r);
	}

	/* A batch job: 2 to 8 hours near full load. */
	if (ebb_rand_double(r) < SYN_BATCH_P && n > 0) {
		len = (int)((24 + 72 * ebb_rand_double(r)) / step) + 1;
		start = (int)(n * ebb_rand_double(r));
		height = 70.0 + 30.0 * ebb_rand_double(r);
		for (j = start; j < EBB_MIN(n, start + len); j++) {
			v = height * (0.9 + 0.1 * ebb_rand_double(r));
			lat[j] = EBB_MAX(lat[j], v);
		}
	}

	/*
	 * An idle run, started mostly late in the day (start = 1 - 0.7 u^2 of
	 * it): CloudSim removes a VM whose trace is 0 at two consecutive
	 * samples, so such runs stay rare, and always last two samples or
	 * more so that they do have that effect.
	 */
	if (ebb_rand_double(r) < SYN_IDLE_P && n >= 2) {
		u = ebb_rand_double(r);
		start = (int)(n * (1.0 - 0.7 * u * u));
		start = EBB_MIN(start, n - 2);
		if (ebb_rand_double(r) < SYN_IDLE_TO_END)
			len = n - start;
		else
			len = 2 + (int)(24 * ebb_rand_double(r) / step);
		for (j = start; j < EBB_MIN(n, start + len); j++)
			lat[j] = SYN_IDLE;
	}
}

/*
 * Rounds one VM's latent trace scaled by s to integer percents, into out
 * when it is not NULL, and returns the sum.  Outside idle runs, a 0 that
 * follows a 0 becomes 1, and so does a 0 in the last sample (CloudSim reads
 * the sample after the last as 0): a near-idle VM must not vanish from the
 * simulation by rounding alone.
 */
static long
synth_round(const double *lat, int n, double s, double *out)
{
	long sum = 0;
	int i, q, prev = -1;
	double v;

	for (i = 0; i < n; i++) {
		if (lat[i] == SYN_IDLE)
			q = 0;
		else {
			v = s * lat[i];
			q = v < 99.5 ? (int)(v + 0.5) : 100;
			if (q == 0 && (prev == 0 || i == n - 1))
				q = 1;
		}
		if (out != NULL)
			out[i] = q;
		sum += q;
		prev = q;
	}
	return sum;
}

static long
synth_fleet_sum(const struct sim_workload *w, double s)
{
	long sum = 0;

	for (int k = 0; k < w->ntraces; k++)
		sum += synth_round(w->traces[k].pct, w->traces[k].n, s, NULL);
	return sum;
}

/*
 * Finds the scale whose rounded fleet mean is closest to the target by
 * bisection.  Integer sums and a fixed number of steps keep the result the
 * same on every machine.
 */
static double
synth_calibrate(const struct sim_workload *w, double target_sum)
{
	double lo = 0.0, hi = 1.0, mid;
	int i;

	while ((double)synth_fleet_sum(w, hi) < target_sum && hi < 1e6)
		hi *= 2.0;
	for (i = 0; i < 50; i++) {
		mid = 0.5 * (lo + hi);
		if ((double)synth_fleet_sum(w, mid) < target_sum)
			lo = mid;
		else
			hi = mid;
	}
	if (fabs((double)synth_fleet_sum(w, lo) - target_sum) <
	    fabs((double)synth_fleet_sum(w, hi) - target_sum))
		return lo;
	return hi;
}

/* "vm" and k in `width` digits, zero-padded. */
static char *
synth_name(int k, int width)
{
	char *name = ebb_malloc(width + 3);

	name[0] = 'v';
	name[1] = 'm';
	for (int i = width - 1; i >= 0; i--, k /= 10)
		name[2 + i] = '0' + k % 10;
	name[width + 2] = '\0';
	return name;
}

void
sim_synth_defaults(struct sim_synth_params *p)
{
	p->seed = 1;
	p->nvms = 1052;		/* PlanetLab 20110303 */
	p->samples = 288;	/* a day at 300 s */
	p->interval_s = SIM_TRACE_INTERVAL_S;
	p->mean_pct = 12.3;	/* that day's 12.31 % */
}

void
sim_synth_generate(const struct sim_synth_params *p, struct sim_workload *w)
{
	struct ebb_rand master, r;
	struct sim_trace *t;
	double interval, s;
	long long i;
	int k, n, width;

	memset(w, 0, sizeof(*w));
	interval = p->interval_s > 0.0 ? p->interval_s : SIM_TRACE_INTERVAL_S;
	w->interval_s = interval;
	if (p->nvms <= 0)
		return;
	n = EBB_MAX(p->samples, 0);

	/* Wide enough that byte order of the names is index order. */
	for (width = 4, i = 10000; i < p->nvms && width < 10; i *= 10)
		width++;
	w->traces = ebb_calloc(p->nvms, sizeof(*w->traces));
	w->ntraces = p->nvms;
	ebb_rand_seed(&master, p->seed);
	for (k = 0; k < p->nvms; k++) {
		t = &w->traces[k];
		t->name = synth_name(k, width);
		t->n = n;
		t->pct = ebb_calloc(n, sizeof(*t->pct));
		ebb_rand_seed(&r, ebb_rand_next(&master));
		synth_vm(&r, p, interval, t->pct);
	}

	/* A fleet asked to be idle is idle, without synth_round's 1s. */
	if (!(p->mean_pct > 0.0)) {
		for (k = 0; k < w->ntraces; k++)
			memset(w->traces[k].pct, 0, n * sizeof(double));
		return;
	}
	s = synth_calibrate(w, p->mean_pct * (double)p->nvms * n);
	for (k = 0; k < w->ntraces; k++)
		synth_round(w->traces[k].pct, n, s, w->traces[k].pct);
}
