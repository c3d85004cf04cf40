/*
 * agt_config.c - reading and checking ebb-agent's configuration.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agt_config.h"
#include "ebb_jconf.h"

void
agt_config_defaults(struct agt_config *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->host, sizeof(c->host) - 1) != 0 || !c->host[0])
		snprintf(c->host, sizeof(c->host), "localhost");
	c->interval_s = 5;
	c->reconnect_max_s = 30;
	ebb_bus_config_defaults(&c->bus);
	c->command_max_age_s = 60;
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/ebb-agent");
	snprintf(c->hypervisor, sizeof(c->hypervisor), "none");
	snprintf(c->hypervisor_conf, sizeof(c->hypervisor_conf),
	    "{\"driver\":\"none\"}");
	snprintf(c->vmm_path, sizeof(c->vmm_path), "ebb-vmm");
	c->park_enabled = true;
	c->actuator = AGT_ACT_AFFINITY;
	c->lower_max_freq = true;
	pwr_park_params_default(&c->park);
	snprintf(c->power_driver, sizeof(c->power_driver), "none");
}

const char *
agt_actuator_name(enum agt_actuator a)
{
	switch (a) {
	case AGT_ACT_NONE:
		return "none";
	case AGT_ACT_AFFINITY:
		return "affinity";
	case AGT_ACT_CPUSET:
		return "cpuset";
	case AGT_ACT_HOTPLUG:
		return "hotplug";
	}
	return "invalid";
}

/*
 * The hypervisor section names a driver and carries that driver's own keys,
 * which the driver checks for type and meaning when it opens; the key names
 * are checked here so that --check-config catches a typo without touching
 * a hypervisor.  The section is kept as JSON text for the driver.
 */
static int
parse_hypervisor(struct ebb_jconf *x, json_t *s, struct agt_config *c)
{
	static const char *const vmm_keys[] = { "driver", "vmm", NULL };
	static const char *const libvirt_keys[] = { "driver", "uri",
		"peer_uri", "migrate_addr", "downtime_ms", "bandwidth_mib",
		"auto_converge", NULL };
	const char *const *keys;
	char *text;
	int rc;

	if ((rc = ebb_jconf_string(x, s, "driver", "hypervisor.driver",
	    c->hypervisor, sizeof(c->hypervisor), false)) != 0)
		return rc;
	if (strcmp(c->hypervisor, "none") == 0 ||
	    strcmp(c->hypervisor, "ebb-vmm") == 0)
		keys = vmm_keys;
	else if (strcmp(c->hypervisor, "libvirt") == 0)
		keys = libvirt_keys;
	else
		return ebb_jconf_fail(x, "hypervisor.driver", "found \"%s\", "
		    "allowed one of libvirt, ebb-vmm, none", c->hypervisor);
	if ((rc = ebb_jconf_keys(x, "hypervisor", s, keys)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "vmm", "hypervisor.vmm", c->vmm_path,
	    sizeof(c->vmm_path), false)) != 0)
		return rc;
	if (strcmp(c->hypervisor, "none") == 0)
		return 0;	/* no driver, nothing to keep */
	text = json_dumps(s, JSON_COMPACT);
	if (text == NULL || strlen(text) >= sizeof(c->hypervisor_conf)) {
		free(text);
		return ebb_jconf_fail(x, "hypervisor", "longer than %zu bytes",
		    sizeof(c->hypervisor_conf) - 1);
	}
	snprintf(c->hypervisor_conf, sizeof(c->hypervisor_conf), "%s", text);
	free(text);
	return 0;
}

static int
parse_parking(struct ebb_jconf *x, json_t *s, struct agt_config *c)
{
	static const char *const keys[] = { "enabled", "actuator", "cpuset",
		"lower_max_freq", "min_cores", "max_cores",
		"increase_threshold", "decrease_threshold", "increase_time",
		"decrease_time", "headroom", NULL };
	char act[16] = "";
	int rc;

	if ((rc = ebb_jconf_keys(x, "parking", s, keys)) != 0 ||
	    (rc = ebb_jconf_bool(x, s, "enabled", "parking.enabled",
	    &c->park_enabled)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "actuator", "parking.actuator", act,
	    sizeof(act), false)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "cpuset", "parking.cpuset", c->cpuset_path,
	    sizeof(c->cpuset_path), false)) != 0 ||
	    (rc = ebb_jconf_bool(x, s, "lower_max_freq", "parking.lower_max_freq",
	    &c->lower_max_freq)) != 0 ||
	    (rc = ebb_jconf_int(x, s, "min_cores", "parking.min_cores",
	    &c->park.min_cores, 1, PWR_MAX_CPUS)) != 0 ||
	    (rc = ebb_jconf_int(x, s, "max_cores", "parking.max_cores",
	    &c->park.max_cores, 0, PWR_MAX_CPUS)) != 0 ||
	    (rc = ebb_jconf_number(x, s, "increase_threshold",
	    "parking.increase_threshold", &c->park.increase_threshold, 0,
	    1)) != 0 ||
	    (rc = ebb_jconf_number(x, s, "decrease_threshold",
	    "parking.decrease_threshold", &c->park.decrease_threshold, 0,
	    1)) != 0 ||
	    (rc = ebb_jconf_number(x, s, "increase_time", "parking.increase_time",
	    &c->park.increase_time, 0, 3600)) != 0 ||
	    (rc = ebb_jconf_number(x, s, "decrease_time", "parking.decrease_time",
	    &c->park.decrease_time, 0, 86400)) != 0 ||
	    (rc = ebb_jconf_number(x, s, "headroom", "parking.headroom",
	    &c->park.headroom, 0, 10)) != 0)
		return rc;
	if (act[0] != '\0') {
		if (strcmp(act, "affinity") == 0)
			c->actuator = AGT_ACT_AFFINITY;
		else if (strcmp(act, "cpuset") == 0)
			c->actuator = AGT_ACT_CPUSET;
		else if (strcmp(act, "hotplug") == 0)
			c->actuator = AGT_ACT_HOTPLUG;
		else if (strcmp(act, "none") == 0)
			c->actuator = AGT_ACT_NONE;
		else
			return ebb_jconf_fail(x, "parking.actuator", "found \"%s\", "
			    "allowed one of affinity, cpuset, hotplug, none",
			    act);
	}
	if (c->actuator == AGT_ACT_CPUSET && c->cpuset_path[0] == '\0')
		return ebb_jconf_fail(x, "parking.cpuset", "the cpuset actuator needs "
		    "the path of the VMs' cgroup");
	return 0;
}

static int
parse_power(struct ebb_jconf *x, json_t *s, struct agt_config *c)
{
	static const char *const keys[] = { "driver", "model_w", NULL };
	json_t *m;
	int rc;

	if ((rc = ebb_jconf_keys(x, "power", s, keys)) != 0 ||
	    (rc = ebb_jconf_string(x, s, "driver", "power.driver", c->power_driver,
	    sizeof(c->power_driver), false)) != 0)
		return rc;
	if (strcmp(c->power_driver, "none") != 0 &&
	    strcmp(c->power_driver, "ipmi") != 0 &&
	    strcmp(c->power_driver, "wol") != 0 &&
	    strcmp(c->power_driver, "command") != 0 &&
	    strcmp(c->power_driver, "demo") != 0)
		return ebb_jconf_fail(x, "power.driver", "found \"%s\", allowed one of "
		    "none, ipmi, wol, command, demo", c->power_driver);
	m = json_object_get(s, "model_w");
	if (m == NULL)
		return 0;
	if (!json_is_array(m) || json_array_size(m) != 11)
		return ebb_jconf_fail(x, "power.model_w", "allowed an array of 11 watts "
		    "(at 0, 10, ..., 100 %% load)");
	for (size_t i = 0; i < 11; i++) {
		json_t *w = json_array_get(m, i);

		if (!json_is_number(w) || !(json_number_value(w) >= 0) ||
		    json_number_value(w) > 1e6)
			return ebb_jconf_fail(x, "power.model_w", "element %zu: allowed "
			    "a number of watts from 0 to 1e6", i);
		c->power_model.w[i] = json_number_value(w);
	}
	c->has_power_model = true;
	return 0;
}

/*
 * Where the host's busy fraction comes from: /proc/stat (a real host), or
 * the sum of its VMs' CPU time (hosts that share one kernel, as the
 * namespace hosts of a test fleet do: /proc/stat is the machine's).
 */
static int
parse_cpu_source(struct ebb_jconf *x, json_t *root, struct agt_config *c)
{
	char src[16] = "";
	int rc;

	if ((rc = ebb_jconf_string(x, root, "cpu_source", "cpu_source", src,
	    sizeof(src), false)) != 0 || src[0] == '\0')
		return rc;
	if (strcmp(src, "proc") != 0 && strcmp(src, "vms") != 0)
		return ebb_jconf_fail(x, "cpu_source", "found \"%s\", allowed "
		    "proc or vms", src);
	c->cpu_from_vms = strcmp(src, "vms") == 0;
	return 0;
}

/*
 * The bus section, and what goes with it.  On kafka the controller is
 * found through the brokers and the brokers' TLS is librdkafka's
 * (bus.properties), so "controller", "tls" and "insecure_plaintext" would
 * be read by no one: they are refused rather than silently ignored.
 */
static int
parse_bus(struct ebb_jconf *x, json_t *root, struct agt_config *c)
{
	static const char *const tcp_only[] = { "controller", "tls",
		"insecure_plaintext", "reconnect_max_s", NULL };
	json_t *s;
	int rc;

	if ((rc = ebb_jconf_section(x, root, "bus", &s)) != 0 ||
	    (s && (rc = ebb_bus_config_parse(x, s, &c->bus)) != 0) ||
	    (rc = ebb_jconf_number(x, root, "command_max_age_s",
	    "command_max_age_s", &c->command_max_age_s, 1, 86400)) != 0)
		return rc;
	if (c->bus.kind != EBB_BUS_KAFKA) {
		if (json_object_get(root, "command_max_age_s") != NULL)
			return ebb_jconf_fail(x, "command_max_age_s", "only for "
			    "\"bus\": {\"kind\": \"kafka\"}");
		return 0;
	}
	for (int i = 0; tcp_only[i] != NULL; i++)
		if (json_object_get(root, tcp_only[i]) != NULL)
			return ebb_jconf_fail(x, tcp_only[i], "only for the tcp "
			    "bus: on kafka the agent reaches the controller "
			    "through bus.brokers, and the brokers' TLS is set "
			    "in bus.properties (security.protocol, ssl.*)");
	return 0;
}

int
agt_config_parse(const char *text, const char *file, struct agt_config *out,
    struct ebb_err *err)
{
	static const char *const keys[] = { "host", "controller",
		"interval_s", "reconnect_max_s", "state_dir", "metrics_listen",
		"hypervisor", "parking", "power", "tls", "insecure_plaintext",
		"cpu_source", "bus", "command_max_age_s", NULL };
	struct ebb_jconf x = { file, err };
	struct agt_config c = *out;
	json_t *root, *s;
	char host[EBB_ADDR_MAX];
	int port, rc;

	if ((root = ebb_jconf_load(&x, text)) == NULL)
		return -EINVAL;
	if ((rc = ebb_jconf_keys(&x, "(top level)", root, keys)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "host", "host", c.host, sizeof(c.host),
	    false)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "controller", "controller",
	    c.controller, sizeof(c.controller), true)) != 0 ||
	    (rc = ebb_jconf_number(&x, root, "interval_s", "interval_s",
	    &c.interval_s, 0.1, 3600)) != 0 ||
	    (rc = ebb_jconf_number(&x, root, "reconnect_max_s", "reconnect_max_s",
	    &c.reconnect_max_s, 0.1, 3600)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "state_dir", "state_dir", c.state_dir,
	    sizeof(c.state_dir), false)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "metrics_listen", "metrics_listen",
	    c.metrics_listen, sizeof(c.metrics_listen), true)) != 0)
		goto out;
	if (c.controller[0] != '\0' && ebb_hostport(c.controller, host,
	    sizeof(host), &port, NULL) != 0) {
		rc = ebb_jconf_fail(&x, "controller", "found \"%s\", allowed HOST:PORT or "
		    "\"\" (standalone)", c.controller);
		goto out;
	}
	if (c.metrics_listen[0] != '\0' && ebb_hostport(c.metrics_listen,
	    host, sizeof(host), &port, NULL) != 0) {
		rc = ebb_jconf_fail(&x, "metrics_listen", "found \"%s\", allowed "
		    "HOST:PORT or \"\" (off)", c.metrics_listen);
		goto out;
	}
	if ((rc = parse_cpu_source(&x, root, &c)) != 0)
		goto out;
	if ((rc = ebb_jconf_bool(&x, root, "insecure_plaintext",
	    "insecure_plaintext", &c.insecure_plaintext)) != 0 ||
	    (rc = ebb_jconf_section(&x, root, "tls", &s)) != 0 ||
	    (s && (rc = ebb_tls_conf_parse(&x, s, true, &c.tls)) != 0))
		goto out;
	if ((rc = parse_bus(&x, root, &c)) != 0)
		goto out;
	if ((rc = ebb_jconf_section(&x, root, "hypervisor", &s)) != 0 ||
	    (s && (rc = parse_hypervisor(&x, s, &c)) != 0) ||
	    (rc = ebb_jconf_section(&x, root, "parking", &s)) != 0 ||
	    (s && (rc = parse_parking(&x, s, &c)) != 0) ||
	    (rc = ebb_jconf_section(&x, root, "power", &s)) != 0 ||
	    (s && (rc = parse_power(&x, s, &c)) != 0))
		goto out;
	if (pwr_park_params_check(&c.park, err) != 0) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		rc = ebb_jconf_fail(&x, "parking", "%s", why);
		goto out;
	}
	*out = c;
out:
	json_decref(root);
	return rc;
}

int
agt_config_check_tls(const struct agt_config *c, const char *file,
    struct ebb_err *err)
{
	/* Standalone, there is no link to protect; on kafka it is the
	 * brokers' (bus.properties). */
	if (c->controller[0] == '\0' || c->bus.kind == EBB_BUS_KAFKA)
		return 0;
	return ebb_tls_conf_require(&c->tls, c->insecure_plaintext, file, err);
}
