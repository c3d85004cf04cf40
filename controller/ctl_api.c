/*
 * ctl_api.c - the controller's HTTP API (JSON), served on the controller's
 * own event loop through common/ebb_http.
 *
 *   GET  /api/hosts                      the fleet, one object per host
 *   GET  /api/vms
 *   GET  /api/decisions?since=&after=&host=&vm=&kind=&limit=
 *   GET  /api/plan                       what the policy would do now
 *   GET  /api/why/NAME                   a host's or VM's reasons
 *   GET  /api/policy                     the policy in force
 *   PUT  /api/policy                     replace it (validated)       [token]
 *   POST /api/hosts/NAME/maintenance     {"on": true|false}           [token]
 *   POST /api/hosts/NAME/clear           a failed host -> unknown, or  [token]
 *                                        a held one may power off again
 *   POST /api/migrate                    {"vm": ID, "to": HOST}       [token]
 *   GET  /api/bus                        kafka: the bus and the lease
 *   GET  /metrics                        Prometheus text
 *   GET  /, /web/NAME, /api/series, /api/events   the web view (ctl_web.c)
 *
 * Reading needs nothing; anything that changes state needs the API token
 * (Authorization: Bearer ...), and with no token configured nothing may.
 * On kafka, only the controller holding the lease changes anything: a
 * standby answers such requests with 503.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_bus.h"
#include "ctl_jnl.h"
#include "ctl_web.h"
#include "ebb_http.h"
#include "ebb_log.h"
#include "ebb_net.h"

static void
api_decisions(struct ctl *c, const struct ebb_http_req *rq,
    struct ebb_http_resp *rs)
{
	char since[32], after[32], limit[16], host[EBB_HOST_MAX + 1],
	    vm[128], kind[32];
	struct ctl_journal_filter f = { .limit = 100, .newest = true };
	json_t *out;

	if (ebb_http_query_get(rq, "since", since, sizeof(since)) >= 0)
		f.since_ts = strtod(since, NULL);
	if (ebb_http_query_get(rq, "after", after, sizeof(after)) >= 0) {
		f.after_id = strtoll(after, NULL, 10);
		f.newest = false;
	}
	if (ebb_http_query_get(rq, "limit", limit, sizeof(limit)) >= 0)
		f.limit = EBB_MAX(1, EBB_MIN(atoi(limit), 10000));
	if (ebb_http_query_get(rq, "host", host, sizeof(host)) >= 0)
		f.host = host;
	if (ebb_http_query_get(rq, "vm", vm, sizeof(vm)) >= 0)
		f.vm = vm;
	if (ebb_http_query_get(rq, "kind", kind, sizeof(kind)) >= 0)
		f.kind = kind;
	out = ctl_jnl_query_filter(c, &f);
	ebb_http_resp_json(rs, 200, out);
	json_decref(out);
}

static void
api_policy_put(struct ctl *c, const struct ebb_http_req *rq,
    struct ebb_http_resp *rs)
{
	struct pol_policy_error perr;
	struct pol_policy p;
	int64_t d;
	char *json;

	if (pol_policy_parse(rq->body, "policy", &p, &perr) != 0) {
		ebb_http_resp_error(rs, 400, "%s", perr.msg);
		return;
	}
	d = ctl_jnl_decide(c, "policy", p.name, NULL, NULL, json_pack(
	    "{s:s, s:s}", "old", c->policy.name, "new", p.name),
	    "policy replaced through the API");
	if (d < 0) {
		ebb_http_resp_error(rs, 503, "the journal refused the change");
		return;
	}
	c->policy = p;
	ctl_jnl_outcome(c, d, "done");
	json = pol_policy_to_json(&c->policy);
	ebb_http_resp_take(rs, 200, "application/json", json, strlen(json));
}

static void
api_host_post(struct ctl *c, const struct ebb_http_req *rq,
    struct ebb_http_resp *rs)
{
	int hi = ctl_host_find(c, rq->seg[2]);
	struct ctl_host *h;
	int64_t d;

	if (hi < 0) {
		ebb_http_resp_error(rs, 404, "no host %s", rq->seg[2]);
		return;
	}
	h = &c->hosts[hi];
	if (strcmp(rq->seg[3], "maintenance") == 0) {
		json_t *b = json_loadb(rq->body, rq->body_len, 0, NULL);
		json_t *on = json_object_get(b, "on");
		bool want;

		if (!json_is_boolean(on)) {
			json_decref(b);
			ebb_http_resp_error(rs, 400, "expected {\"on\": true} "
			    "or {\"on\": false}");
			return;
		}
		want = json_is_true(on);
		json_decref(b);
		d = ctl_jnl_decide(c, want ? "maintenance" : "release",
		    h->conf.name, h->conf.name, NULL, NULL, want ?
		    "operator put the host in maintenance" :
		    "operator released the host from maintenance");
		if (d < 0) {
			ebb_http_resp_error(rs, 503, "the journal refused it");
			return;
		}
		h->conf.maintenance = want;
		ctl_jnl_state(c, "host", h->conf.name,
		    pol_host_state_name(h->state), want ? "maintenance" :
		    (h->conn >= 0 ? "on" : "unknown"), "operator", d);
		h->state = want ? POL_HOST_MAINTENANCE : h->conn >= 0 ?
		    POL_HOST_ON : POL_HOST_UNKNOWN;
		ctl_jnl_outcome(c, d, "done");
	} else if (strcmp(rq->seg[3], "clear") == 0) {
		/* A failed host, or one that came back after failing and is
		 * held from power-off since. */
		if (h->state != POL_HOST_FAILED && !h->power_held) {
			ebb_http_resp_error(rs, 409, "%s is %s, not failed",
			    h->conf.name, pol_host_state_name(h->state));
			return;
		}
		d = ctl_jnl_decide(c, "clear", h->conf.name, h->conf.name,
		    NULL, NULL, h->state == POL_HOST_FAILED ?
		    "operator cleared a failed host" : "operator cleared a "
		    "host that had failed: it may be switched off again");
		if (d < 0) {
			ebb_http_resp_error(rs, 503, "the journal refused it");
			return;
		}
		if (h->state == POL_HOST_FAILED) {
			ctl_jnl_state(c, "host", h->conf.name, "failed",
			    "unknown", "operator cleared it", d);
			h->state = POL_HOST_UNKNOWN;
		}
		h->power_held = false;
		ctl_jnl_outcome(c, d, "done");
	} else {
		ebb_http_resp_error(rs, 404, "no such action");
		return;
	}
	{
		json_t *hosts = ctl_hosts_json(c);

		ebb_http_resp_json(rs, 200, json_array_get(hosts, hi));
		json_decref(hosts);
	}
}

static void
api_migrate(struct ctl *c, const struct ebb_http_req *rq,
    struct ebb_http_resp *rs)
{
	json_t *b = json_loadb(rq->body, rq->body_len, 0, NULL);
	const char *vm = json_string_value(json_object_get(b, "vm"));
	const char *to = json_string_value(json_object_get(b, "to"));
	int rc;

	if (vm == NULL || to == NULL) {
		json_decref(b);
		ebb_http_resp_error(rs, 400, "expected {\"vm\": ID, \"to\": "
		    "HOST}");
		return;
	}
	rc = ctl_migrate_manual(c, vm, to);
	if (rc == -ENOENT)
		ebb_http_resp_error(rs, 404, "no VM %s or host %s", vm, to);
	else if (rc == -EBUSY)
		ebb_http_resp_error(rs, 409, "%s is already migrating", vm);
	else if (rc == -EHOSTUNREACH)
		ebb_http_resp_error(rs, 409, "%s is not on and reporting", to);
	else if (rc == -EPROTOTYPE)
		ebb_http_resp_error(rs, 409, "%s's hypervisor cannot take a "
		    "migration from the one %s runs on", to, vm);
	else if (rc == -EXDEV)
		ebb_http_resp_error(rs, 409, "%s's CPU lacks features of the "
		    "CPU %s runs on", to, vm);
	else if (rc < 0)
		ebb_http_resp_error(rs, 503, "%s", strerror(-rc));
	else
		ebb_http_resp_printf(rs, 202, "application/json",
		    "{\"decision\": %d}\n", rc);
	json_decref(b);
}

/* A label value as Prometheus's text format escapes it. */
static void
prom_label(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
api_metrics(struct ctl *c, struct ebb_http_resp *rs)
{
	int count[POL_HOST_MAINTENANCE + 1] = { 0 };
	double watts = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		ebb_http_resp_error(rs, 500, "out of memory");
		return;
	}
	for (int hi = 0; hi < c->nhosts; hi++) {
		count[c->hosts[hi].state]++;
		if (c->hosts[hi].state == POL_HOST_ON)
			watts += pol_power_at(&c->hosts[hi].conf.power_w,
			    c->hosts[hi].busy);
	}
	fprintf(f, "# HELP ebb_hosts Hosts by state.\n# TYPE ebb_hosts gauge\n");
	for (int s = 0; s <= POL_HOST_MAINTENANCE; s++)
		fprintf(f, "ebb_hosts{state=\"%s\"} %d\n",
		    pol_host_state_name(s), count[s]);
	fprintf(f, "# HELP ebb_vms VMs the agents report.\n"
	    "# TYPE ebb_vms gauge\nebb_vms %d\n", c->nvms);
	fprintf(f, "# HELP ebb_fleet_watts Estimated draw of the hosts on.\n"
	    "# TYPE ebb_fleet_watts gauge\nebb_fleet_watts %.1f\n", watts);
	fprintf(f, "# HELP ebb_rounds_total Control rounds run.\n"
	    "# TYPE ebb_rounds_total counter\nebb_rounds_total %llu\n",
	    (unsigned long long)c->stats.rounds);
	fprintf(f, "# HELP ebb_decisions_total Decisions journalled.\n"
	    "# TYPE ebb_decisions_total counter\nebb_decisions_total %llu\n",
	    (unsigned long long)c->stats.decisions);
	fprintf(f, "# HELP ebb_power_actions_total Power actions started.\n"
	    "# TYPE ebb_power_actions_total counter\n"
	    "ebb_power_actions_total{action=\"off\"} %llu\n"
	    "ebb_power_actions_total{action=\"on\"} %llu\n",
	    (unsigned long long)c->stats.power_offs,
	    (unsigned long long)c->stats.power_ons);
	fprintf(f, "# HELP ebb_migrations_total Migrations started.\n"
	    "# TYPE ebb_migrations_total counter\nebb_migrations_total %llu\n",
	    (unsigned long long)c->stats.migrations);
	fprintf(f, "# HELP ebb_round_seconds Duration of the last round.\n"
	    "# TYPE ebb_round_seconds gauge\nebb_round_seconds %.6f\n",
	    c->stats.last_round_ms / 1e3);
	if (c->bus != NULL) {
		fprintf(f, "# HELP ebb_host_dropped_total Messages a host's "
		    "agent could not put on the bus, as its reports told.\n"
		    "# TYPE ebb_host_dropped_total counter\n");
		for (int hi = 0; hi < c->nhosts; hi++) {
			fputs("ebb_host_dropped_total{host=\"", f);
			prom_label(f, c->hosts[hi].conf.name);
			fprintf(f, "\"} %llu\n",
			    (unsigned long long)c->hosts[hi].dropped);
		}
		ctl_bus_metrics(c, f);
	}
	if (fclose(f) != 0) {
		free(buf);
		ebb_http_resp_error(rs, 500, "out of memory");
		return;
	}
	ebb_http_resp_take(rs, 200, "text/plain; version=0.0.4", buf, len);
}

/* A request that would change the fleet, refused by a standby. */
static bool
api_acting(struct ctl *c, struct ebb_http_resp *rs)
{
	json_t *b;

	if (ctl_bus_acting(c))
		return true;
	b = ctl_bus_json(c);
	ebb_http_resp_error(rs, 503, "this controller stands by: %s holds "
	    "the lease and acts; ask it", json_string_value(json_object_get(b,
	    "holder"))[0] ? json_string_value(json_object_get(b, "holder")) :
	    "no controller yet");
	json_decref(b);
	return false;
}

static void
api_handler(void *arg, const struct ebb_http_req *rq,
    struct ebb_http_resp *rs)
{
	struct ctl *c = arg;
	json_t *out;

	if (ctl_web_handle(c, rq, rs))
		return;
	if (rq->nseg == 1 && strcmp(rq->seg[0], "metrics") == 0) {
		if (ebb_http_allow(rq, rs, "GET"))
			api_metrics(c, rs);
		return;
	}
	if (rq->nseg < 2 || strcmp(rq->seg[0], "api") != 0) {
		ebb_http_resp_error(rs, 404, "not found; the API is under /api");
		return;
	}
	if (rq->nseg == 2 && strcmp(rq->seg[1], "hosts") == 0) {
		if (!ebb_http_allow(rq, rs, "GET"))
			return;
		out = ctl_hosts_json(c);
	} else if (rq->nseg == 2 && strcmp(rq->seg[1], "vms") == 0) {
		if (!ebb_http_allow(rq, rs, "GET"))
			return;
		out = ctl_vms_json(c);
	} else if (rq->nseg == 2 && strcmp(rq->seg[1], "plan") == 0) {
		if (!ebb_http_allow(rq, rs, "GET"))
			return;
		out = ctl_plan_json(c);
	} else if (rq->nseg == 2 && strcmp(rq->seg[1], "decisions") == 0) {
		if (ebb_http_allow(rq, rs, "GET"))
			api_decisions(c, rq, rs);
		return;
	} else if (rq->nseg == 3 && strcmp(rq->seg[1], "why") == 0) {
		if (!ebb_http_allow(rq, rs, "GET"))
			return;
		out = ctl_why_json(c, rq->seg[2]);
	} else if (rq->nseg == 2 && strcmp(rq->seg[1], "policy") == 0) {
		if (!ebb_http_allow(rq, rs, "GET, PUT"))
			return;
		if (strcmp(rq->method, "PUT") == 0) {
			if (ebb_http_bearer(rq, rs, c->token) &&
			    api_acting(c, rs))
				api_policy_put(c, rq, rs);
			return;
		}
		{
			char *json = pol_policy_to_json(&c->policy);

			ebb_http_resp_take(rs, 200, "application/json", json,
			    strlen(json));
		}
		return;
	} else if (rq->nseg == 4 && strcmp(rq->seg[1], "hosts") == 0) {
		if (ebb_http_allow(rq, rs, "POST") &&
		    ebb_http_bearer(rq, rs, c->token) && api_acting(c, rs))
			api_host_post(c, rq, rs);
		return;
	} else if (rq->nseg == 2 && strcmp(rq->seg[1], "migrate") == 0) {
		if (ebb_http_allow(rq, rs, "POST") &&
		    ebb_http_bearer(rq, rs, c->token) && api_acting(c, rs))
			api_migrate(c, rq, rs);
		return;
	} else if (rq->nseg == 2 && strcmp(rq->seg[1], "bus") == 0) {
		if (!ebb_http_allow(rq, rs, "GET"))
			return;
		if ((out = ctl_bus_json(c)) == NULL) {
			ebb_http_resp_error(rs, 404, "no kafka bus: agents "
			    "connect over tcp");
			return;
		}
	} else {
		ebb_http_resp_error(rs, 404, "no such resource");
		return;
	}
	ebb_http_resp_json(rs, 200, out);
	json_decref(out);
}

static int
read_token(struct ctl *c, struct ebb_err *err)
{
	char *text;
	size_t n;
	int rc;

	c->token[0] = '\0';
	if (c->cfg.token_file[0] == '\0') {
		ebb_info("no API token configured: the API is read-only");
		return 0;
	}
	if ((rc = ebb_read_file(c->cfg.token_file, &text, &n, err)) != 0)
		return rc;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
	    text[n - 1] == ' '))
		text[--n] = '\0';
	if (n < 16 || n >= sizeof(c->token)) {
		ebb_err_set(err, "%s: the API token must be 16 to %zu bytes",
		    c->cfg.token_file, sizeof(c->token) - 1);
		free(text);
		return -EINVAL;
	}
	memcpy(c->token, text, n + 1);
	free(text);
	return 0;
}

int
ctl_api_init(struct ctl *c, struct ebb_err *err)
{
	struct ebb_http_config hc = { .handler = api_handler, .arg = c };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = CTL_TAG_HTTP };
	char host[EBB_ADDR_MAX];
	int rc;

	if ((rc = read_token(c, err)) != 0)
		return rc;
	if (c->cfg.http[0] == '\0')
		return 0;
	if ((rc = ebb_hostport(c->cfg.http, host, sizeof(host), &hc.port,
	    err)) != 0)
		return rc;
	hc.addr = host;
	if ((rc = ebb_http_server_new(&hc, &c->http, err)) != 0)
		return rc;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, ebb_http_server_fd(c->http),
	    &ev) < 0) {
		ebb_err_set(err, "epoll: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void
ctl_api_event(struct ctl *c)
{
	if (c->http != NULL && ebb_http_server_dispatch(c->http) != 0)
		ebb_warn("HTTP server: dispatch failed");
}

void
ctl_api_fini(struct ctl *c)
{
	ebb_http_server_free(c->http);
	c->http = NULL;
}
