/*
 * pwr_sensors.h - temperatures and power draw through libsensors, and an
 * estimate from the host's power model where nothing measures power.
 *
 * The agent reports the host's temperatures (°C) and its power draw (W).
 * Watts come from a hwmon power sensor (power*_input, else
 * power*_average: an ACPI power meter, a BMC or PSU driver) when the host
 * has one, and otherwise from the host's SPECpower-style curve
 * (pol_power_at() at the measured utilization); the reading says which,
 * so an estimate is never reported as a measurement.
 *
 * libsensors 3.6 keeps one global state (sensors_init .. sensors_cleanup),
 * so at most one handle is open at a time; opening a second gives -EBUSY.
 * A host without hwmon chips, or with chips but no power sensor, or where
 * libsensors cannot start at all, is not an error: the handle opens,
 * estimates, and logs the cause once.
 */
#ifndef PWR_SENSORS_H
#define PWR_SENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ebb.h"
#include "pol_fleet.h"

struct pwr_sensors;	/* one per process: the agent's handle */

struct pwr_sensors_opts {
	/*
	 * The libsensors configuration (labels, compute and ignore
	 * statements): an open stream, else a file by path, else none at
	 * all.  /etc/sensors3.conf is never read unless named here, so a
	 * distribution's file cannot change what the agent reports.
	 */
	FILE	*config;
	const char *config_path;
	/* The host's power model for estimates; copied.  NULL: none. */
	const struct pol_power_curve *curve;
	/*
	 * Which chip measures the host, as a libsensors chip name with
	 * wildcards ("power_meter-*", "ipmi_si-isa-*").  NULL: the first
	 * chip with a power sensor; a GPU or a single package's meter would
	 * be the wrong one, which is what this is for.
	 */
	const char *power_chip;
};

enum pwr_sensor_kind {
	PWR_SENSOR_TEMP,	/* °C, from temp*_input */
	PWR_SENSOR_POWER,	/* W, from power*_input or power*_average */
};

/* One sensor found at open, with its value at the last read. */
struct pwr_sensor {
	enum pwr_sensor_kind kind;
	char	chip[64];	/* "coretemp-isa-0000" */
	char	label[64];	/* "Package id 0", or the feature's name */
	char	attr[32];	/* the hwmon file: "power1_average" */
	double	value;		/* °C or W; NAN if the last read failed */
};

/* Why there is, or is not, a measured power draw. */
enum pwr_sensors_state {
	PWR_SENSORS_OK,		/* a power sensor measures the host */
	PWR_SENSORS_NO_POWER,	/* chips, but none measures power */
	PWR_SENSORS_NO_CHIPS,	/* libsensors found no hwmon chip */
	PWR_SENSORS_NO_LIB,	/* libsensors could not start (no sysfs) */
};

struct pwr_sensors_status {
	enum pwr_sensors_state state;
	int	nchips;		/* hwmon chips libsensors found */
	int	power;		/* index of the host's power sensor, or -1 */
	bool	estimate;	/* a power model is there to estimate with */
	char	why[192];	/* state != OK: the cause, as logged */
};

/* "ok", "no power sensor", "no hwmon chips", "libsensors unavailable". */
const char *pwr_sensors_state_name(enum pwr_sensors_state);

enum pwr_watts_source {
	PWR_WATTS_NONE,		/* no sensor and no model: watts is NAN */
	PWR_WATTS_SENSOR,	/* measured by the sensor `power` */
	PWR_WATTS_ESTIMATE,	/* the power model at `util`: an estimate */
};

/* One read of the host. */
struct pwr_sensors_reading {
	double	watts;		/* the host's power draw */
	enum pwr_watts_source source;	/* measured or estimated */
	int	power;		/* SENSOR: index of the sensor, else -1 */
	double	util;		/* ESTIMATE: the utilization used (0..1) */
	double	temp_max;	/* hottest temperature read, °C; NAN: none */
	int	ntemp;		/* temperatures read successfully */
};

/*
 * Starts libsensors with the configured file and lists its temperature
 * and power sensors.  Returns 0 (also on a host without sensors, which
 * then estimates), -EBUSY if a handle is open, or -errno with the reason
 * in err: a configuration that does not open (-errno) or does not parse
 * (-EINVAL, with file and line), or a power_chip that does not parse.
 */
int	pwr_sensors_open(struct pwr_sensors **, const struct pwr_sensors_opts *,
	    struct ebb_err *);

/* sensors_cleanup() and free; NULL is fine. */
void	pwr_sensors_close(struct pwr_sensors *);

const struct pwr_sensors_status *pwr_sensors_status(
	    const struct pwr_sensors *);

/* The sensors found at open, in libsensors' order; get: NULL past the end. */
size_t	pwr_sensors_count(const struct pwr_sensors *);
const struct pwr_sensor *pwr_sensors_get(const struct pwr_sensors *, size_t);

/*
 * Reads every sensor (their values are then in pwr_sensors_get()) and the
 * host's power: measured if the host's power sensor reads, else the
 * power model at util (the host's CPU utilization, 0..1; clipped to
 * that range), else none.  A sensor whose read fails is logged
 * once.  Returns 0, or -EINVAL if an estimate is needed and util is not a
 * number.
 */
int	pwr_sensors_read(struct pwr_sensors *, double util,
	    struct pwr_sensors_reading *, struct ebb_err *);

#endif /* PWR_SENSORS_H */
