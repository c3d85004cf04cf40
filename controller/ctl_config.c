/*
 * ctl_config.c - reading and checking ebb-controller's configuration.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_config.h"
#include "ebb_jconf.h"

/* An HP ProLiant ML110 G5, as good a default as any. */
static const struct pol_power_curve default_curve = {
	{ 93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135 } };

void
ctl_config_defaults(struct ctl_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "0.0.0.0:7400");
	snprintf(c->http, sizeof(c->http), "127.0.0.1:7401");
	snprintf(c->journal, sizeof(c->journal), "/var/lib/ebb/journal.db");
	c->interval_s = 10;
	c->unknown_after_s = 30;
	c->boot_timeout_s = 300;
	c->min_hosts_on = 1;
	c->mig_total = 8;
	c->mig_per_host = 2;
	c->vm_cooldown_s = 600;
	c->host_cooldown_s = 1800;
	c->default_power_w = default_curve;
	c->default_pe_mips = 2660;
	ebb_bus_config_defaults(&c->bus);
	c->lease_s = 10;
}

void
ctl_config_free(struct ctl_config *c)
{
	free(c->hosts);
	c->hosts = NULL;
	c->nhosts = 0;
}

int
ctl_config_check_tls(const struct ctl_config *c, const char *file,
    struct ebb_err *err)
{
	/* On kafka there is no agent port: the brokers' TLS is theirs. */
	if (c->bus.kind == EBB_BUS_KAFKA)
		return 0;
	return ebb_tls_conf_require(&c->tls, c->insecure_plaintext, file, err);
}

bool
ctl_config_in_window(const struct ctl_config *c, double hour)
{
	if (c->window_start == c->window_end)
		return true;
	if (c->window_start < c->window_end)
		return hour >= c->window_start && hour < c->window_end;
	/* A window across midnight, e.g. 20..6. */
	return hour >= c->window_start || hour < c->window_end;
}

static int
parse_curve(struct ebb_jconf *x, json_t *v, const char *path,
    struct pol_power_curve *out)
{
	if (!json_is_array(v) || json_array_size(v) != 11)
		return ebb_jconf_fail(x, path, "allowed an array of 11 watts "
		    "(at 0, 10, ..., 100 %% load)");
	for (size_t i = 0; i < 11; i++) {
		json_t *w = json_array_get(v, i);

		if (!json_is_number(w) || !(json_number_value(w) >= 0) ||
		    json_number_value(w) > 1e6)
			return ebb_jconf_fail(x, path, "element %zu: allowed "
			    "watts from 0 to 1e6", i);
		out->w[i] = json_number_value(w);
		if (i > 0 && out->w[i] < out->w[i - 1])
			return ebb_jconf_fail(x, path, "watts must not fall as "
			    "load rises");
	}
	return 0;
}

static int
parse_power(struct ebb_jconf *x, json_t *s, const char *path,
    struct ctl_power *p)
{
	static const char *const keys[] = { "driver", "on", "off", "bmc",
		"user", "password_file", "mac", "broadcast", "port", NULL };
	char kind[16] = "none", sub[192];
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = ebb_jconf_keys(x, path, s, keys)) != 0)
		return rc;
#define STR(k, f) do { \
	snprintf(sub, sizeof(sub), "%s.%s", path, k); \
	if ((rc = ebb_jconf_string(x, s, k, sub, f, sizeof(f), false)) != 0) \
		return rc; \
} while (0)
	STR("driver", kind);
	STR("on", p->on);
	STR("off", p->off);
	STR("bmc", p->bmc);
	STR("user", p->user);
	STR("password_file", p->password_file);
	STR("mac", p->mac);
	STR("broadcast", p->broadcast);
#undef STR
	snprintf(sub, sizeof(sub), "%s.port", path);
	if ((rc = ebb_jconf_int(x, s, "port", sub, &p->port, 1, 65535)) != 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s.driver", path);
	if (ctl_power_kind_parse(kind, &p->kind) != 0)
		return ebb_jconf_fail(x, sub, "found \"%s\", allowed one of "
		    "none, ipmi, wol, command, demo", kind);
	switch (p->kind) {
	case CTL_POWER_IPMI:
		if (!p->bmc[0] || !p->user[0] || !p->password_file[0])
			return ebb_jconf_fail(x, sub, "ipmi needs bmc, user and "
			    "password_file");
		break;
	case CTL_POWER_WOL: {
		unsigned char mac[6];

		struct in_addr ia;

		if (ctl_mac_parse(p->mac, mac) != 0 ||
		    inet_pton(AF_INET, p->broadcast, &ia) != 1)
			return ebb_jconf_fail(x, sub, "wol needs mac "
			    "(aa:bb:cc:dd:ee:ff) and an IPv4 broadcast address");
		/* A magic packet only wakes a host; something must stop it. */
		if (!p->off[0])
			return ebb_jconf_fail(x, sub, "wol can only switch a "
			    "host on: give an off command too");
		break;
	}
	case CTL_POWER_COMMAND:
	case CTL_POWER_DEMO:
		if (!p->on[0] || !p->off[0])
			return ebb_jconf_fail(x, sub, "%s needs on and off "
			    "commands", kind);
		break;
	case CTL_POWER_NONE:
		break;
	}
	return 0;
}

static int
parse_host(struct ebb_jconf *x, json_t *h, int i, struct ctl_config *c,
    struct ctl_host_conf *hc)
{
	static const char *const keys[] = { "name", "pe_mips", "power_w",
		"reserve", "maintenance", "power", NULL };
	char path[64], sub[96];
	json_t *v;
	int rc;

	snprintf(path, sizeof(path), "hosts[%d]", i);
	if (!json_is_object(h))
		return ebb_jconf_fail(x, path, "found %s, allowed an object",
		    ebb_json_kind(h));
	memset(hc, 0, sizeof(*hc));
	hc->pe_mips = c->default_pe_mips;
	hc->power_w = c->default_power_w;
	if ((rc = ebb_jconf_keys(x, path, h, keys)) != 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s.name", path);
	if (json_object_get(h, "name") == NULL)
		return ebb_jconf_fail(x, sub, "every host needs a name");
	if ((rc = ebb_jconf_string(x, h, "name", sub, hc->name,
	    sizeof(hc->name), false)) != 0)
		return rc;
	for (int j = 0; j < i; j++)
		if (strcmp(c->hosts[j].name, hc->name) == 0)
			return ebb_jconf_fail(x, sub, "\"%s\" is listed twice",
			    hc->name);
	snprintf(sub, sizeof(sub), "%s.pe_mips", path);
	if ((rc = ebb_jconf_number(x, h, "pe_mips", sub, &hc->pe_mips, 1,
	    1e9)) != 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s.reserve", path);
	if ((rc = ebb_jconf_bool(x, h, "reserve", sub, &hc->reserve)) != 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s.maintenance", path);
	if ((rc = ebb_jconf_bool(x, h, "maintenance", sub,
	    &hc->maintenance)) != 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s.power_w", path);
	if ((v = json_object_get(h, "power_w")) != NULL &&
	    (rc = parse_curve(x, v, sub, &hc->power_w)) != 0)
		return rc;
	snprintf(sub, sizeof(sub), "%s.power", path);
	if ((v = json_object_get(h, "power")) != NULL) {
		if (!json_is_object(v))
			return ebb_jconf_fail(x, sub, "allowed an object");
		if ((rc = parse_power(x, v, sub, &hc->power)) != 0)
			return rc;
	}
	return 0;
}

static int
parse_hhmm(struct ebb_jconf *x, json_t *s, const char *key, double *out)
{
	char buf[8] = "", path[32];
	unsigned h, m;
	char tail;
	int rc;

	snprintf(path, sizeof(path), "window.%s", key);
	if ((rc = ebb_jconf_string(x, s, key, path, buf, sizeof(buf),
	    false)) != 0)
		return rc;
	if (buf[0] == '\0')
		return 0;
	if (strlen(buf) != 5 || buf[2] != ':' || !isdigit((unsigned char)buf[0])
	    || !isdigit((unsigned char)buf[1]) || !isdigit((unsigned char)buf[3])
	    || !isdigit((unsigned char)buf[4]) ||
	    sscanf(buf, "%2u:%2u%c", &h, &m, &tail) != 2 || h > 24 || m > 59 ||
	    (h == 24 && m != 0))
		return ebb_jconf_fail(x, path, "found \"%s\", allowed HH:MM "
		    "from 00:00 to 24:00", buf);
	*out = h + m / 60.0;
	return 0;
}

/*
 * The bus section and the keys that go with its kind.  On kafka agents
 * come through the brokers, so "listen", "tls" and "insecure_plaintext"
 * would be read by no one; on tcp there is one controller and no lease.
 * Both are refused rather than silently ignored.
 */
static int
parse_bus(struct ebb_jconf *x, json_t *root, struct ctl_config *c)
{
	static const char *const tcp_only[] = { "listen", "tls",
		"insecure_plaintext", NULL };
	static const char *const kafka_only[] = { "standby", "lease_s", NULL };
	const char *const *other;
	json_t *s;
	int rc;

	if ((rc = ebb_jconf_section(x, root, "bus", &s)) != 0 ||
	    (s && (rc = ebb_bus_config_parse(x, s, &c->bus)) != 0) ||
	    (rc = ebb_jconf_string(x, root, "name", "name", c->name,
	    sizeof(c->name), false)) != 0 ||
	    (rc = ebb_jconf_bool(x, root, "standby", "standby",
	    &c->standby)) != 0 ||
	    (rc = ebb_jconf_number(x, root, "lease_s", "lease_s", &c->lease_s,
	    1, 3600)) != 0)
		return rc;
	other = c->bus.kind == EBB_BUS_KAFKA ? tcp_only : kafka_only;
	for (int i = 0; other[i] != NULL; i++)
		if (json_object_get(root, other[i]) != NULL)
			return ebb_jconf_fail(x, other[i], "%s",
			    c->bus.kind == EBB_BUS_KAFKA ? "only for the tcp "
			    "bus: on kafka agents reach the controller through "
			    "bus.brokers, and the brokers' TLS is set in "
			    "bus.properties (security.protocol, ssl.*)" :
			    "only for \"bus\": {\"kind\": \"kafka\"}");
	return 0;
}

/*
 * "unlisted_hosts", read once "hosts" is: whether a hello may add a host
 * the list lacks.  Absent, a fleet described host by host does not grow
 * by hello (with insecure_plaintext anyone could grow it), and one that
 * lists no host is discovered.  Refusing unlisted hosts with none listed
 * would refuse every agent, so that is an error here, not at run time.
 */
static int
parse_unlisted(struct ebb_jconf *x, json_t *root, struct ctl_config *c)
{
	char s[64] = "";
	int rc;

	if ((rc = ebb_jconf_string(x, root, "unlisted_hosts",
	    "unlisted_hosts", s, sizeof(s), false)) != 0)
		return rc;
	if (s[0] == '\0')
		c->unlisted_hosts = c->nhosts > 0 ? CTL_UNLISTED_REFUSE :
		    CTL_UNLISTED_ACCEPT;
	else if (strcmp(s, "accept") == 0)
		c->unlisted_hosts = CTL_UNLISTED_ACCEPT;
	else if (strcmp(s, "refuse") == 0)
		c->unlisted_hosts = CTL_UNLISTED_REFUSE;
	else
		return ebb_jconf_fail(x, "unlisted_hosts", "found \"%s\", "
		    "allowed \"accept\" or \"refuse\"", s);
	if (c->unlisted_hosts == CTL_UNLISTED_REFUSE && c->nhosts == 0)
		return ebb_jconf_fail(x, "unlisted_hosts", "\"refuse\" with "
		    "no host listed would refuse every agent: list them in "
		    "\"hosts\", or remove the key");
	return 0;
}

int
ctl_config_parse(const char *text, const char *file, struct ctl_config *out,
    struct ebb_err *err)
{
	static const char *const keys[] = { "listen", "http", "token_file",
		"policy", "journal", "interval_s", "unknown_after_s",
		"boot_timeout_s", "dry_run", "min_hosts_on", "window", "limits",
		"default_host", "hosts", "tls", "insecure_plaintext", "bus",
		"name", "standby", "lease_s", "unlisted_hosts", NULL };
	static const char *const lkeys[] = { "migrations_total",
		"migrations_per_host", "vm_cooldown_s", "host_cooldown_s",
		NULL };
	static const char *const wkeys[] = { "start", "end", NULL };
	static const char *const dkeys[] = { "pe_mips", "power_w", NULL };
	struct ebb_jconf x = { file, err };
	struct ctl_config c = *out;
	json_t *root, *s, *hosts;
	char host[EBB_ADDR_MAX];
	int port, rc;

	c.hosts = NULL;
	c.nhosts = 0;
	if ((root = ebb_jconf_load(&x, text)) == NULL)
		return -EINVAL;
	if ((rc = ebb_jconf_keys(&x, "(top level)", root, keys)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "listen", "listen", c.listen,
	    sizeof(c.listen), false)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "http", "http", c.http,
	    sizeof(c.http), true)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "token_file", "token_file",
	    c.token_file, sizeof(c.token_file), true)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "policy", "policy", c.policy,
	    sizeof(c.policy), true)) != 0 ||
	    (rc = ebb_jconf_string(&x, root, "journal", "journal", c.journal,
	    sizeof(c.journal), false)) != 0 ||
	    (rc = ebb_jconf_number(&x, root, "interval_s", "interval_s",
	    &c.interval_s, 0.1, 86400)) != 0 ||
	    (rc = ebb_jconf_number(&x, root, "unknown_after_s",
	    "unknown_after_s", &c.unknown_after_s, 0.1, 86400)) != 0 ||
	    (rc = ebb_jconf_number(&x, root, "boot_timeout_s",
	    "boot_timeout_s", &c.boot_timeout_s, 1, 86400)) != 0 ||
	    (rc = ebb_jconf_bool(&x, root, "dry_run", "dry_run",
	    &c.dry_run)) != 0 ||
	    (rc = ebb_jconf_int(&x, root, "min_hosts_on", "min_hosts_on",
	    &c.min_hosts_on, 0, CTL_HOSTS_MAX)) != 0)
		goto out;
	if (ebb_hostport(c.listen, host, sizeof(host), &port, NULL) != 0) {
		rc = ebb_jconf_fail(&x, "listen", "found \"%s\", allowed "
		    "HOST:PORT", c.listen);
		goto out;
	}
	if (c.http[0] && ebb_hostport(c.http, host, sizeof(host), &port,
	    NULL) != 0) {
		rc = ebb_jconf_fail(&x, "http", "found \"%s\", allowed "
		    "HOST:PORT or \"\" (off)", c.http);
		goto out;
	}
	if ((rc = ebb_jconf_bool(&x, root, "insecure_plaintext",
	    "insecure_plaintext", &c.insecure_plaintext)) != 0 ||
	    (rc = ebb_jconf_section(&x, root, "tls", &s)) != 0 ||
	    (s && (rc = ebb_tls_conf_parse(&x, s, false, &c.tls)) != 0) ||
	    (rc = parse_bus(&x, root, &c)) != 0)
		goto out;
	if ((rc = ebb_jconf_section(&x, root, "window", &s)) != 0 ||
	    (s && ((rc = ebb_jconf_keys(&x, "window", s, wkeys)) != 0 ||
	    (rc = parse_hhmm(&x, s, "start", &c.window_start)) != 0 ||
	    (rc = parse_hhmm(&x, s, "end", &c.window_end)) != 0)))
		goto out;
	if ((rc = ebb_jconf_section(&x, root, "limits", &s)) != 0 ||
	    (s && ((rc = ebb_jconf_keys(&x, "limits", s, lkeys)) != 0 ||
	    (rc = ebb_jconf_int(&x, s, "migrations_total",
	    "limits.migrations_total", &c.mig_total, 1, 100000)) != 0 ||
	    (rc = ebb_jconf_int(&x, s, "migrations_per_host",
	    "limits.migrations_per_host", &c.mig_per_host, 1, 1000)) != 0 ||
	    (rc = ebb_jconf_number(&x, s, "vm_cooldown_s",
	    "limits.vm_cooldown_s", &c.vm_cooldown_s, 0, 1e7)) != 0 ||
	    (rc = ebb_jconf_number(&x, s, "host_cooldown_s",
	    "limits.host_cooldown_s", &c.host_cooldown_s, 0, 1e7)) != 0)))
		goto out;
	if ((rc = ebb_jconf_section(&x, root, "default_host", &s)) != 0)
		goto out;
	if (s != NULL) {
		json_t *v = json_object_get(s, "power_w");

		if ((rc = ebb_jconf_keys(&x, "default_host", s, dkeys)) != 0 ||
		    (rc = ebb_jconf_number(&x, s, "pe_mips",
		    "default_host.pe_mips", &c.default_pe_mips, 1, 1e9)) != 0 ||
		    (v && (rc = parse_curve(&x, v, "default_host.power_w",
		    &c.default_power_w)) != 0))
			goto out;
	}
	hosts = json_object_get(root, "hosts");
	if (hosts != NULL) {
		if (!json_is_array(hosts) || json_array_size(hosts) >
		    CTL_HOSTS_MAX) {
			rc = ebb_jconf_fail(&x, "hosts", "allowed an array of at "
			    "most %d hosts", CTL_HOSTS_MAX);
			goto out;
		}
		c.nhosts = (int)json_array_size(hosts);
		c.hosts = ebb_calloc(EBB_MAX(c.nhosts, 1), sizeof(*c.hosts));
		for (int i = 0; i < c.nhosts; i++)
			if ((rc = parse_host(&x, json_array_get(hosts, i), i, &c,
			    &c.hosts[i])) != 0)
				goto out;
	}
	if ((rc = parse_unlisted(&x, root, &c)) != 0)
		goto out;
	ctl_config_free(out);
	*out = c;
	c.hosts = NULL;
out:
	free(c.hosts);
	json_decref(root);
	return rc;
}
