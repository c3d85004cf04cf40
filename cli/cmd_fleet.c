/*
 * cmd_fleet.c - the verbs that talk to a running ebb-controller over its
 * HTTP API: hosts, vms, decisions, why, plan, drain, migrate.
 *
 * The controller is found with --controller URL, else $EBB_CONTROLLER,
 * else http://127.0.0.1:7401.  Verbs that change something need the API
 * token: --token-file FILE, else $EBB_TOKEN, else $EBB_TOKEN_FILE.
 *
 * Exit codes: 0 done; 1 the controller could not be reached or failed;
 * 2 bad usage; 3 the controller refused (not found, conflict, no token).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ebb.h"
#include "ebb_cli.h"
#include "ebb_http.h"

#define EBB_EXIT_REFUSED	3

struct fleet_opts {
	const char	*controller;
	const char	*token_file;
	bool		 json;
	bool		 follow;
	const char	*host;
	const char	*vm;
	const char	*kind;
	int		 limit;
};

static const char *
controller_url(const struct fleet_opts *o)
{
	if (o->controller != NULL)
		return o->controller;
	if (getenv("EBB_CONTROLLER") != NULL)
		return getenv("EBB_CONTROLLER");
	return "http://127.0.0.1:7401";
}

/* The API token from a file or the environment; NULL if none. */
static char *
token(const struct fleet_opts *o)
{
	const char *file = o->token_file ? o->token_file :
	    getenv("EBB_TOKEN_FILE");
	struct ebb_err err;
	char *t;
	size_t n;

	if (file == NULL)
		return getenv("EBB_TOKEN") ? ebb_strdup(getenv("EBB_TOKEN")) :
		    NULL;
	if (ebb_read_file(file, &t, &n, &err) != 0) {
		fprintf(stderr, "ebb: %s\n", err.msg);
		return NULL;
	}
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' ||
	    t[n - 1] == ' '))
		t[--n] = '\0';
	return t;
}

/*
 * One API call.  Returns the exit code; on success *out holds the parsed
 * JSON body (or NULL for a non-JSON one).
 */
static int
call(const struct fleet_opts *o, const char *method, const char *path,
    const char *body, bool auth, json_t **out)
{
	char url[1024], hdr[600], *resp = NULL, *tok = NULL;
	const char *headers[3] = { "Content-Type: application/json", NULL,
		NULL };
	struct ebb_err err;
	size_t len;
	int status, rc;

	*out = NULL;
	snprintf(url, sizeof(url), "%s%s", controller_url(o), path);
	if (auth) {
		if ((tok = token(o)) == NULL) {
			fprintf(stderr, "ebb: this needs the API token: "
			    "--token-file FILE, or EBB_TOKEN\n");
			return EBB_EXIT_USAGE;
		}
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
		headers[1] = hdr;
	}
	rc = ebb_http_request(method, url, headers, body, body ? strlen(body) :
	    0, 10000, &status, &resp, &len, &err);
	if (tok != NULL) {
		memset(tok, 0, strlen(tok));
		free(tok);
	}
	memset(hdr, 0, sizeof(hdr));
	if (rc != 0) {
		fprintf(stderr, "ebb: %s\n", err.msg);
		return EBB_EXIT_FAIL;
	}
	*out = json_loadb(resp ? resp : "", len, 0, NULL);
	if (status >= 400) {
		const char *e = json_string_value(json_object_get(*out,
		    "error"));

		fprintf(stderr, "ebb: the controller answered %d: %s\n", status,
		    e ? e : resp ? resp : "");
		free(resp);
		json_decref(*out);
		*out = NULL;
		return status >= 500 ? EBB_EXIT_FAIL : EBB_EXIT_REFUSED;
	}
	free(resp);
	return EBB_EXIT_OK;
}

static void
print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL)
		puts(s);
	free(s);
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static double
num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static void
print_hosts(const json_t *a)
{
	size_t i;
	json_t *h;

	printf("%-16s %-12s %4s %6s %8s %-10s %s\n", "HOST", "STATE", "VMS",
	    "BUSY", "WATTS", "UNPARKED", "NOTE");
	json_array_foreach(a, i, h)
		printf("%-16s %-12s %4lld %5.0f%% %8.1f %-10s %s\n",
		    str(h, "name"), str(h, "state"),
		    (long long)json_integer_value(json_object_get(h, "vms")),
		    num(h, "busy") * 100, num(h, "watts"),
		    *str(h, "unparked") ? str(h, "unparked") : "-",
		    str(h, "why"));
}

static void
print_vms(const json_t *a)
{
	size_t i;
	json_t *v;

	printf("%-24s %-16s %5s %8s %6s %s\n", "VM", "HOST", "VCPUS", "MEM_MB",
	    "CPU", "");
	json_array_foreach(a, i, v)
		printf("%-24s %-16s %5lld %8.0f %5.0f%% %s\n", str(v, "id"),
		    str(v, "host"), (long long)json_integer_value(
		    json_object_get(v, "vcpus")), num(v, "mem_mb"),
		    num(v, "cpu") * 100, json_is_true(json_object_get(v,
		    "migrating")) ? "migrating" : "");
}

static void
print_decisions(const json_t *a, bool header)
{
	size_t i;
	json_t *d;

	if (header)
		printf("%-6s %-19s %-12s %-16s %-10s %s\n", "ID", "TIME", "KIND",
		    "SUBJECT", "OUTCOME", "REASON");
	json_array_foreach(a, i, d) {
		time_t t = (time_t)num(d, "ts");
		char when[32];
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-6lld %-19s %-12s %-16s %-10s %s\n",
		    (long long)json_integer_value(json_object_get(d, "id")),
		    when, str(d, "kind"), str(d, "subject"), str(d, "outcome"),
		    str(d, "reason"));
	}
	fflush(stdout);
}

static void
print_plan(const json_t *p)
{
	json_t *acts = json_object_get(p, "actions"), *a;
	json_t *notes = json_object_get(p, "notes");
	size_t i;

	printf("policy %s: %zu actions\n", str(p, "policy"),
	    json_array_size(acts));
	json_array_foreach(acts, i, a) {
		if (strcmp(str(a, "action"), "migrate") == 0)
			printf("  migrate %s from %s to %s (%s)\n", str(a, "vm"),
			    str(a, "from"), str(a, "to"), str(a, "why"));
		else
			printf("  %s %s (%s)\n", str(a, "action"), str(a, "host"),
			    str(a, "why"));
	}
	json_array_foreach(notes, i, a)
		printf("  note: %s %s%s%s\n", str(a, "note"), str(a, "host"),
		    *str(a, "vm") ? " vm " : "", str(a, "vm"));
}

static void
usage(FILE *f, const char *verb)
{
	fprintf(f,
	    "usage: ebb hosts [--json]\n"
	    "       ebb vms [--json]\n"
	    "       ebb decisions [--host H] [--vm V] [--kind K] [--limit N]\n"
	    "                     [--follow] [--json]\n"
	    "       ebb why HOST|VM [--json]\n"
	    "       ebb plan [--json]\n"
	    "       ebb drain HOST [--undo]      (maintenance: no placement,\n"
	    "                                     no power action)\n"
	    "       ebb migrate VM HOST\n"
	    "common: --controller URL (or EBB_CONTROLLER; default\n"
	    "        http://127.0.0.1:7401), --token-file FILE (or EBB_TOKEN)\n"
	    "exit: 0 done, 1 controller unreachable or failed, 2 usage,\n"
	    "      3 refused by the controller\n");
	(void)verb;
}

/* Percent-encodes s for a path segment or query value. */
static void
enc(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s && n + 4 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
			out[n++] = ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
}

static int
decisions(struct fleet_opts *o)
{
	char path[1024], a[300];
	long long last = 0;
	bool first = true;
	json_t *out;
	int rc;

	for (;;) {
		int n = snprintf(path, sizeof(path), "/api/decisions?limit=%d",
		    o->limit);

		if (last > 0)
			n += snprintf(path + n, sizeof(path) - n, "&after=%lld",
			    last);
		if (o->host) {
			enc(o->host, a, sizeof(a));
			n += snprintf(path + n, sizeof(path) - n, "&host=%s", a);
		}
		if (o->vm) {
			enc(o->vm, a, sizeof(a));
			n += snprintf(path + n, sizeof(path) - n, "&vm=%s", a);
		}
		if (o->kind) {
			enc(o->kind, a, sizeof(a));
			snprintf(path + n, sizeof(path) - n, "&kind=%s", a);
		}
		if ((rc = call(o, "GET", path, NULL, false, &out)) != 0)
			return rc;
		if (o->json) {
			if (!o->follow)
				print_json(out);
			else {
				size_t i;
				json_t *d;

				/* One decision per line, as they come. */
				json_array_foreach(out, i, d) {
					char *s = json_dumps(d, JSON_COMPACT);

					puts(s);
					free(s);
				}
				fflush(stdout);
			}
		} else
			print_decisions(out, first);
		if (json_array_size(out) > 0)
			last = json_integer_value(json_object_get(
			    json_array_get(out, json_array_size(out) - 1),
			    "id"));
		json_decref(out);
		first = false;
		if (!o->follow)
			return EBB_EXIT_OK;
		sleep(2);
	}
}

int
ebb_cmd_fleet(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "controller", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "host", required_argument, NULL, 'H' },
		{ "vm", required_argument, NULL, 'V' },
		{ "kind", required_argument, NULL, 'k' },
		{ "limit", required_argument, NULL, 'n' },
		{ "undo", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fleet_opts o = { .limit = 50 };
	const char *verb = argv[0];
	bool undo = false;
	char path[600], a[300], body[600];
	json_t *out;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.controller = optarg;
			break;
		case 't':
			o.token_file = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'f':
			o.follow = true;
			break;
		case 'H':
			o.host = optarg;
			break;
		case 'V':
			o.vm = optarg;
			break;
		case 'k':
			o.kind = optarg;
			break;
		case 'n':
			o.limit = atoi(optarg);
			if (o.limit < 1 || o.limit > 10000) {
				fprintf(stderr, "ebb: --limit: 1 to 10000\n");
				return EBB_EXIT_USAGE;
			}
			break;
		case 'u':
			undo = true;
			break;
		case 'h':
			usage(stdout, verb);
			return EBB_EXIT_OK;
		default:
			usage(stderr, verb);
			return EBB_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	if (strcmp(verb, "decisions") == 0 && argc == 0)
		return decisions(&o);
	if ((strcmp(verb, "hosts") == 0 || strcmp(verb, "vms") == 0 ||
	    strcmp(verb, "plan") == 0) && argc == 0) {
		snprintf(path, sizeof(path), "/api/%s", verb);
		if ((rc = call(&o, "GET", path, NULL, false, &out)) != 0)
			return rc;
		if (o.json)
			print_json(out);
		else if (strcmp(verb, "hosts") == 0)
			print_hosts(out);
		else if (strcmp(verb, "vms") == 0)
			print_vms(out);
		else
			print_plan(out);
		json_decref(out);
		return EBB_EXIT_OK;
	}
	if (strcmp(verb, "why") == 0 && argc == 1) {
		enc(argv[0], a, sizeof(a));
		snprintf(path, sizeof(path), "/api/why/%s", a);
		if ((rc = call(&o, "GET", path, NULL, false, &out)) != 0)
			return rc;
		if (o.json)
			print_json(out);
		else {
			if (json_object_get(out, "host"))
				printf("%s is %s: %s\n", str(out, "host"),
				    str(out, "state"), str(out, "why"));
			print_decisions(json_object_get(out, "decisions"), true);
		}
		json_decref(out);
		return EBB_EXIT_OK;
	}
	if (strcmp(verb, "drain") == 0 && argc == 1) {
		enc(argv[0], a, sizeof(a));
		snprintf(path, sizeof(path), "/api/hosts/%s/maintenance", a);
		snprintf(body, sizeof(body), "{\"on\": %s}", undo ? "false" :
		    "true");
		if ((rc = call(&o, "POST", path, body, true, &out)) != 0)
			return rc;
		if (o.json)
			print_json(out);
		else
			printf("%s: %s\n", argv[0], str(out, "state"));
		json_decref(out);
		return EBB_EXIT_OK;
	}
	if (strcmp(verb, "migrate") == 0 && argc == 2) {
		json_t *b = json_pack("{s:s, s:s}", "vm", argv[0], "to", argv[1]);
		char *s = json_dumps(b, JSON_COMPACT);

		json_decref(b);
		rc = call(&o, "POST", "/api/migrate", s, true, &out);
		free(s);
		if (rc != 0)
			return rc;
		printf("migration of %s to %s started (decision %lld)\n",
		    argv[0], argv[1], (long long)json_integer_value(
		    json_object_get(out, "decision")));
		json_decref(out);
		return EBB_EXIT_OK;
	}
	usage(stderr, verb);
	return EBB_EXIT_USAGE;
}
