/*
 * pwr_sensors.c - hwmon temperatures and power through libsensors 3.6,
 * with the power model standing in where no sensor measures power.
 *
 * libsensors scans /sys/class/hwmon once, in sensors_init(), and hands
 * out pointers into its own global tables that stay valid until
 * sensors_cleanup().  So the sensors are listed once at open, and a read
 * only asks libsensors for values.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sensors/error.h>
#include <sensors/sensors.h>

#include "ebb_log.h"
#include "pwr_sensors.h"

/* A sensor's handle in libsensors, beside the public struct pwr_sensor. */
struct sensor_ref {
	const sensors_chip_name *chip;	/* libsensors' own, till cleanup */
	int	nr;			/* subfeature number */
	bool	warned;			/* a failing read was logged */
};

struct pwr_sensors {
	struct pwr_sensors_status st;
	struct pol_power_curve curve;	/* valid if st.estimate */
	bool	inited;			/* sensors_init() succeeded */
	struct pwr_sensor *s;
	struct sensor_ref *ref;
	size_t	n;
	size_t	cap;
	void	(*old_fatal)(const char *, const char *);
};

/*
 * libsensors' state and its error hooks are process-wide, and the hooks
 * carry no user pointer: hence one handle at a time, and a file-static
 * buffer for the first parse error of the sensors_init() in progress.
 */
static bool	sensors_busy;
static char	parse_msg[256];

static void
on_parse_error(const char *what, const char *file, int line)
{
	if (parse_msg[0] != '\0')
		return;		/* the first error is the one to fix */
	/* Given a stream, libsensors knows no file name (file is NULL):
	 * open puts its own in front. */
	snprintf(parse_msg, sizeof(parse_msg), "%s%s%d: %s",
	    file != NULL ? file : "", file != NULL ? ":" : "", line, what);
}

/*
 * Out of memory inside libsensors.  Its default prints and calls exit(),
 * which would skip the agent's shutdown; ebb aborts on allocation failure
 * everywhere else (ebb_malloc), so do the same here.
 */
static void
on_fatal(const char *proc, const char *what)
{
	ebb_err_log("libsensors: %s: %s", proc, what);
	abort();
}

const char *
pwr_sensors_state_name(enum pwr_sensors_state s)
{
	switch (s) {
	case PWR_SENSORS_OK:
		return "ok";
	case PWR_SENSORS_NO_POWER:
		return "no power sensor";
	case PWR_SENSORS_NO_CHIPS:
		return "no hwmon chips";
	case PWR_SENSORS_NO_LIB:
		return "libsensors unavailable";
	}
	return "?";
}

static void
add_sensor(struct pwr_sensors *ss, enum pwr_sensor_kind kind,
    const sensors_chip_name *chip, const char *chipname,
    const sensors_feature *ft, const sensors_subfeature *sf)
{
	struct pwr_sensor *s;
	char *label;

	if (ss->n == ss->cap) {
		ss->cap = ss->cap ? ss->cap * 2 : 16;
		ss->s = ebb_reallocarray(ss->s, ss->cap, sizeof(*ss->s));
		ss->ref = ebb_reallocarray(ss->ref, ss->cap, sizeof(*ss->ref));
	}
	s = &ss->s[ss->n];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->value = NAN;
	snprintf(s->chip, sizeof(s->chip), "%s", chipname);
	/* The label comes from the config, else <feature>_label in sysfs,
	 * else the feature's name ("temp1"). */
	label = sensors_get_label(chip, ft);
	snprintf(s->label, sizeof(s->label), "%s",
	    label != NULL ? label : ft->name);
	free(label);
	snprintf(s->attr, sizeof(s->attr), "%s", sf->name);
	ss->ref[ss->n] = (struct sensor_ref){ .chip = chip, .nr = sf->number };
	ss->n++;
}

/* Lists the temperature and power sensors of every chip. */
static void
list_sensors(struct pwr_sensors *ss)
{
	const sensors_chip_name *chip;
	const sensors_feature *ft;
	const sensors_subfeature *sf;
	char name[64];
	int cnr = 0, fnr;

	while ((chip = sensors_get_detected_chips(NULL, &cnr)) != NULL) {
		ss->st.nchips++;
		if (sensors_snprintf_chip_name(name, sizeof(name), chip) < 0)
			snprintf(name, sizeof(name), "%s", chip->prefix);
		fnr = 0;
		while ((ft = sensors_get_features(chip, &fnr)) != NULL) {
			enum pwr_sensor_kind kind;

			switch (ft->type) {
			case SENSORS_FEATURE_TEMP:
				kind = PWR_SENSOR_TEMP;
				sf = sensors_get_subfeature(chip, ft,
				    SENSORS_SUBFEATURE_TEMP_INPUT);
				break;
			case SENSORS_FEATURE_POWER:
				/* The instant value if there is one, else
				 * the meter's average (ACPI power_meter
				 * has only that). */
				kind = PWR_SENSOR_POWER;
				sf = sensors_get_subfeature(chip, ft,
				    SENSORS_SUBFEATURE_POWER_INPUT);
				if (sf == NULL)
					sf = sensors_get_subfeature(chip, ft,
					    SENSORS_SUBFEATURE_POWER_AVERAGE);
				break;
			default:
				continue;
			}
			if (sf != NULL && (sf->flags & SENSORS_MODE_R))
				add_sensor(ss, kind, chip, name, ft, sf);
		}
	}
}

/*
 * The host's power sensor: the first power sensor on a chip matching
 * power_chip, or on any chip.  -EINVAL if the pattern does not parse.
 */
static int
pick_power(struct pwr_sensors *ss, const char *power_chip,
    struct ebb_err *err)
{
	sensors_chip_name match;
	const sensors_chip_name *chip;
	int nr, npower = 0;

	ss->st.power = -1;
	if (power_chip != NULL &&
	    sensors_parse_chip_name(power_chip, &match) != 0) {
		ebb_err_set(err, "power_chip \"%s\": not a libsensors chip "
		    "name (e.g. \"power_meter-*\")", power_chip);
		return -EINVAL;
	}
	for (size_t i = 0; i < ss->n; i++) {
		bool ok = power_chip == NULL;

		if (ss->s[i].kind != PWR_SENSOR_POWER)
			continue;
		npower++;
		for (nr = 0; !ok &&
		    (chip = sensors_get_detected_chips(&match, &nr)) != NULL;)
			ok = chip == ss->ref[i].chip;
		if (ok && ss->st.power < 0)
			ss->st.power = (int)i;
	}
	if (power_chip != NULL)
		sensors_free_chip_name(&match);
	if (power_chip == NULL && npower > 1)
		ebb_info("sensors: %d power sensors; the host's power is "
		    "%s %s (power_chip chooses another)", npower,
		    ss->s[ss->st.power].chip, ss->s[ss->st.power].label);
	return 0;
}

/* Sets the state and logs, once, why power is not measured. */
static void
set_state(struct pwr_sensors *ss, const char *power_chip, int initrc)
{
	struct pwr_sensors_status *st = &ss->st;

	if (!ss->inited) {
		st->state = PWR_SENSORS_NO_LIB;
		snprintf(st->why, sizeof(st->why), "libsensors did not "
		    "start: %s", sensors_strerror(initrc));
	} else if (st->nchips == 0) {
		st->state = PWR_SENSORS_NO_CHIPS;
		snprintf(st->why, sizeof(st->why), "no hwmon chips "
		    "(libsensors found none under /sys/class/hwmon)");
	} else if (st->power < 0) {
		st->state = PWR_SENSORS_NO_POWER;
		if (power_chip != NULL)
			snprintf(st->why, sizeof(st->why), "no power sensor "
			    "on a chip matching \"%s\" (%d chips)",
			    power_chip, st->nchips);
		else
			snprintf(st->why, sizeof(st->why), "none of the %d "
			    "hwmon chips has a power sensor (power*_input, "
			    "power*_average)", st->nchips);
	} else {
		st->state = PWR_SENSORS_OK;
		return;
	}
	ebb_warn("sensors: %s; host power is %s", st->why, st->estimate ?
	    "estimated from the power model" :
	    "unknown (no power model either)");
}

int
pwr_sensors_open(struct pwr_sensors **out, const struct pwr_sensors_opts *o,
    struct ebb_err *err)
{
	static const struct pwr_sensors_opts none;
	/* What libsensors parses when no configuration is given. */
	char noconf[] = "# ebb: no libsensors configuration\n";
	struct pwr_sensors *ss;
	void (*old_parse)(const char *, const char *, int);
	const char *name;
	FILE *f;
	bool own = false;
	int rc;

	*out = NULL;
	if (o == NULL)
		o = &none;
	if (sensors_busy) {
		ebb_err_set(err, "sensors: libsensors is already in use by "
		    "another handle");
		return -EBUSY;
	}
	if ((f = o->config) != NULL)
		name = "(configuration stream)";
	else if ((name = o->config_path) != NULL) {
		if ((f = fopen(name, "r")) == NULL) {
			rc = -errno;
			ebb_err_set(err, "sensors: %s: %s", name,
			    strerror(errno));
			return rc;
		}
		own = true;
	} else {
		/*
		 * sensors_init(NULL) would read /etc/sensors3.conf and
		 * /etc/sensors.d: not ours to depend on.  An empty stream
		 * keeps the kernel's labels and scaling as they are.
		 */
		name = "(no configuration)";
		if ((f = fmemopen(noconf, strlen(noconf), "r")) == NULL) {
			rc = -errno;
			ebb_err_set(err, "sensors: fmemopen: %s",
			    strerror(errno));
			return rc;
		}
		own = true;
	}

	ss = ebb_calloc(1, sizeof(*ss));
	ss->st.power = -1;
	if (o->curve != NULL) {
		ss->curve = *o->curve;
		ss->st.estimate = true;
	}
	ss->old_fatal = sensors_fatal_error;
	sensors_fatal_error = on_fatal;
	parse_msg[0] = '\0';
	old_parse = sensors_parse_error_wfn;
	sensors_parse_error_wfn = on_parse_error;
	rc = sensors_init(f);
	sensors_parse_error_wfn = old_parse;
	if (own)
		fclose(f);

	/*
	 * libsensors 3.6 reports a syntax error, skips the statement and
	 * carries on: sensors_init() still returns 0.  A half-applied
	 * configuration (a compute that scales a power reading, say) gives
	 * wrong numbers quietly, so any parse error fails the open; the file
	 * is the operator's to fix.  (sensors_init() cleans up after itself
	 * when it does fail.)
	 */
	if (parse_msg[0] != '\0' || rc == -SENSORS_ERR_PARSE) {
		if (rc == 0)
			sensors_cleanup();
		if (parse_msg[0] == '\0')
			ebb_err_set(err, "sensors: %s: %s", name,
			    sensors_strerror(rc));
		else
			ebb_err_set(err, "sensors: %s:%s", name, parse_msg);
		sensors_fatal_error = ss->old_fatal;
		free(ss);
		return -EINVAL;
	}
	ss->inited = rc == 0;
	sensors_busy = true;
	if (ss->inited) {
		list_sensors(ss);
		if ((rc = pick_power(ss, o->power_chip, err)) != 0) {
			pwr_sensors_close(ss);
			return rc;
		}
	}
	set_state(ss, o->power_chip, rc);
	*out = ss;
	return 0;
}

void
pwr_sensors_close(struct pwr_sensors *ss)
{
	if (ss == NULL)
		return;
	if (ss->inited)
		sensors_cleanup();
	sensors_fatal_error = ss->old_fatal;
	sensors_busy = false;
	free(ss->s);
	free(ss->ref);
	free(ss);
}

const struct pwr_sensors_status *
pwr_sensors_status(const struct pwr_sensors *ss)
{
	return &ss->st;
}

size_t
pwr_sensors_count(const struct pwr_sensors *ss)
{
	return ss->n;
}

const struct pwr_sensor *
pwr_sensors_get(const struct pwr_sensors *ss, size_t i)
{
	return i < ss->n ? &ss->s[i] : NULL;
}

int
pwr_sensors_read(struct pwr_sensors *ss, double util,
    struct pwr_sensors_reading *r, struct ebb_err *err)
{
	*r = (struct pwr_sensors_reading){
		.watts = NAN, .source = PWR_WATTS_NONE, .power = -1,
		.util = NAN, .temp_max = NAN,
	};
	for (size_t i = 0; i < ss->n; i++) {
		struct pwr_sensor *s = &ss->s[i];
		struct sensor_ref *ref = &ss->ref[i];
		double v;
		int rc;

		if ((rc = sensors_get_value(ref->chip, ref->nr, &v)) < 0) {
			s->value = NAN;
			if (!ref->warned) {
				/* Once per sensor: reads come each interval. */
				ref->warned = true;
				ebb_warn("sensors: %s %s (%s): %s; %s", s->chip,
				    s->label, s->attr, sensors_strerror(rc),
				    (int)i != ss->st.power ?
				    "left out while it fails" :
				    ss->st.estimate ? "the host's power is "
				    "estimated while it fails" : "the host's "
				    "power is unknown while it fails");
			}
			continue;
		}
		s->value = v;
		if (s->kind == PWR_SENSOR_TEMP) {
			r->ntemp++;
			if (isnan(r->temp_max) || v > r->temp_max)
				r->temp_max = v;
		}
	}

	if (ss->st.power >= 0 && isfinite(ss->s[ss->st.power].value)) {
		r->watts = ss->s[ss->st.power].value;
		r->source = PWR_WATTS_SENSOR;
		r->power = ss->st.power;
		return 0;
	}
	if (!ss->st.estimate)
		return 0;
	if (isnan(util)) {
		ebb_err_set(err, "sensors: estimating power needs the "
		    "utilization, got NaN");
		return -EINVAL;
	}
	r->util = util < 0.0 ? 0.0 : util > 1.0 ? 1.0 : util;
	r->watts = pol_power_at(&ss->curve, r->util);
	r->source = PWR_WATTS_ESTIMATE;
	return 0;
}
