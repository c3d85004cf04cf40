/*
 * sim_fleet.c - fleet descriptions for the simulator: how many hosts, of
 * which types, with their power curves and power-cycle costs.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "sim.h"

/* A number field of a host type, with its range. */
struct num_field {
	const char	*key;
	size_t		 off;
	double		 min;
	double		 max;
	bool		 integer;
};

#define F(k, lo, hi, in) \
	{ #k, offsetof(struct sim_host_type, k), lo, hi, in }

static const struct num_field type_fields[] = {
	F(pe_mips, 1, 1e9, false),
	F(ram_mb, 1, 1e9, false),
	F(bw, 1, 1e12, false),
	F(boot_s, 0, 86400, false),
	F(shutdown_s, 0, 86400, false),
	F(off_w, 0, 1e6, false),
	F(transition_w, 0, 1e6, false),
};

#undef F

static int
bad(struct ebb_err *err, const char *file, const char *fmt, const char *a,
    int i)
{
	char what[256];

	snprintf(what, sizeof(what), fmt, a, i);
	ebb_err_set(err, "%s: %s", file, what);
	return -EINVAL;
}

static int
parse_type(json_t *t, int i, const char *file, struct sim_fleet_spec *spec,
    struct ebb_err *err)
{
	struct sim_host_type *ty = &spec->types[i];
	const char *key;
	json_t *v;

	if (!json_is_object(t))
		return bad(err, file, "host_types[%s%d] is not an object", "", i);
	memset(ty, 0, sizeof(*ty));
	ty->boot_s = 120;
	ty->shutdown_s = 30;
	ty->off_w = 5;
	ty->transition_w = -1;

	json_object_foreach(t, key, v) {
		size_t k;

		if (strcmp(key, "name") == 0) {
			if (!json_is_string(v) ||
			    json_string_length(v) >= SIM_TYPE_NAME)
				return bad(err, file, "host_types[%2$d].%1$s: "
				    "expected a string of at most 63 bytes",
				    key, i);
			snprintf(spec->names[i], SIM_TYPE_NAME, "%s",
			    json_string_value(v));
			continue;
		}
		if (strcmp(key, "pes") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 4096)
				return bad(err, file, "host_types[%2$d].%1$s: "
				    "expected an integer from 1 to 4096", key, i);
			ty->pes = (int)json_integer_value(v);
			continue;
		}
		if (strcmp(key, "power_w") == 0) {
			if (!json_is_array(v) || json_array_size(v) != 11)
				return bad(err, file, "host_types[%2$d].%1$s: "
				    "expected 11 numbers (watts at 0, 10, ..., "
				    "100 %% load)", key, i);
			for (size_t j = 0; j < 11; j++) {
				json_t *w = json_array_get(v, j);

				if (!json_is_number(w) || json_number_value(w) < 0)
					return bad(err, file, "host_types[%2$d]."
					    "%1$s: watts must be numbers >= 0",
					    key, i);
				ty->power.w[j] = json_number_value(w);
				if (j > 0 && ty->power.w[j] < ty->power.w[j - 1])
					return bad(err, file, "host_types[%2$d]."
					    "%1$s: watts must not fall as load "
					    "rises", key, i);
			}
			continue;
		}
		for (k = 0; k < EBB_NITEMS(type_fields); k++)
			if (strcmp(key, type_fields[k].key) == 0)
				break;
		if (k == EBB_NITEMS(type_fields))
			return bad(err, file, "host_types[%2$d]: unknown key "
			    "\"%1$s\"; allowed: name, pes, pe_mips, ram_mb, bw, "
			    "power_w, boot_s, shutdown_s, off_w, transition_w",
			    key, i);
		if (!json_is_number(v) ||
		    json_number_value(v) < type_fields[k].min ||
		    json_number_value(v) > type_fields[k].max) {
			char msg[160];

			snprintf(msg, sizeof(msg), "host_types[%%2$d].%%1$s: "
			    "expected a number from %g to %g",
			    type_fields[k].min, type_fields[k].max);
			return bad(err, file, msg, key, i);
		}
		*(double *)((char *)ty + type_fields[k].off) =
		    json_number_value(v);
	}
	if (ty->pes == 0 || ty->pe_mips == 0 || ty->ram_mb == 0 ||
	    ty->bw == 0 || ty->power.w[10] == 0)
		return bad(err, file, "host_types[%2$d]: pes, pe_mips, ram_mb, "
		    "bw and power_w are required%1$s", "", i);
	if (ty->transition_w < 0)
		ty->transition_w = ty->power.w[10];
	if (spec->names[i][0] == '\0')
		snprintf(spec->names[i], SIM_TYPE_NAME, "type %d", i);
	ty->name = spec->names[i];
	return 0;
}

int
sim_fleet_parse(const char *text, const char *file,
    struct sim_fleet_spec *spec, struct ebb_err *err)
{
	json_error_t jerr;
	json_t *root, *types, *v;
	const char *key;
	int rc = 0;

	memset(spec, 0, sizeof(*spec));
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		ebb_err_set(err, "%s:%d:%d: malformed JSON: %s", file, jerr.line,
		    jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		rc = bad(err, file, "expected an object%s%.0d", "", 0);
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "hosts") != 0 && strcmp(key, "host_types") != 0 &&
		    strcmp(key, "description") != 0) {
			rc = bad(err, file, "unknown key \"%s\"%.0d; allowed: "
			    "hosts, host_types, description", key, 0);
			goto out;
		}
	}
	v = json_object_get(root, "hosts");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 10000000) {
		rc = bad(err, file, "hosts: expected an integer from 1 to "
		    "10000000%s%.0d", "", 0);
		goto out;
	}
	spec->nhosts = (int)json_integer_value(v);
	types = json_object_get(root, "host_types");
	if (!json_is_array(types) || json_array_size(types) == 0 ||
	    json_array_size(types) > SIM_TYPES_MAX) {
		rc = bad(err, file, "host_types: expected an array of 1 to "
		    "16 host types%s%.0d", "", 0);
		goto out;
	}
	spec->ntypes = (int)json_array_size(types);
	for (int i = 0; i < spec->ntypes; i++)
		if ((rc = parse_type(json_array_get(types, i), i, file, spec,
		    err)) != 0)
			goto out;
out:
	json_decref(root);
	return rc;
}
