/*
 * ebb_jconf.c - strict JSON configuration reading.
 *
 * Strict on purpose: a daemon that silently ignores a misspelt key would
 * run with a default its operator did not choose, on every host.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ebb_jconf.h"

int
ebb_jconf_fail(struct ebb_jconf *x, const char *path, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ebb_err_set(x->err, "%s: %s: %s", x->file, path, what);
	return -EINVAL;
}

const char *
ebb_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something";
}

int
ebb_jconf_keys(struct ebb_jconf *x, const char *path, json_t *obj, const char *const *ok)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		char allowed[256] = "";
		int i;

		for (i = 0; ok[i] != NULL; i++)
			if (strcmp(key, ok[i]) == 0)
				break;
		if (ok[i] != NULL)
			continue;
		for (i = 0; ok[i] != NULL; i++) {
			strncat(allowed, i ? ", " : "", sizeof(allowed) -
			    strlen(allowed) - 1);
			strncat(allowed, ok[i], sizeof(allowed) -
			    strlen(allowed) - 1);
		}
		return ebb_jconf_fail(x, path, "unknown key \"%s\"; allowed: %s", key,
		    allowed);
	}
	return 0;
}

int
ebb_jconf_string(struct ebb_jconf *x, json_t *obj, const char *key, const char *path,
    char *dst, size_t size, bool may_be_empty)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return ebb_jconf_fail(x, path, "found %s, allowed a string", ebb_json_kind(v));
	if (json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return ebb_jconf_fail(x, path, "a string of at most %zu bytes without "
		    "NUL is allowed", size - 1);
	if (!may_be_empty && json_string_length(v) == 0)
		return ebb_jconf_fail(x, path, "must not be empty");
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int
ebb_jconf_number(struct ebb_jconf *x, json_t *obj, const char *key, const char *path,
    double *dst, double lo, double hi)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return ebb_jconf_fail(x, path, "found %s, allowed a number from %g to %g",
		    ebb_json_kind(v), lo, hi);
	if (!(json_number_value(v) >= lo && json_number_value(v) <= hi))
		return ebb_jconf_fail(x, path, "found %g, allowed a number from %g to %g",
		    json_number_value(v), lo, hi);
	*dst = json_number_value(v);
	return 0;
}

int
ebb_jconf_int(struct ebb_jconf *x, json_t *obj, const char *key, const char *path,
    int *dst, int lo, int hi)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return ebb_jconf_fail(x, path, "found %s, allowed an integer from %d to "
		    "%d", json_is_integer(v) ? "an integer out of range" :
		    ebb_json_kind(v), lo, hi);
	*dst = (int)json_integer_value(v);
	return 0;
}

int
ebb_jconf_bool(struct ebb_jconf *x, json_t *obj, const char *key, const char *path,
    bool *dst)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return ebb_jconf_fail(x, path, "found %s, allowed true or false", ebb_json_kind(v));
	*dst = json_is_true(v);
	return 0;
}

int
ebb_jconf_section(struct ebb_jconf *x, json_t *root, const char *key, json_t **out)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return ebb_jconf_fail(x, key, "found %s, allowed an object", ebb_json_kind(v));
	*out = v;
	return 0;
}

json_t *
ebb_jconf_load(struct ebb_jconf *x, const char *text)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	if (root == NULL) {
		ebb_err_set(x->err, "%s:%d:%d: malformed JSON: %s", x->file,
		    jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		ebb_jconf_fail(x, "(top level)", "found %s, allowed an object",
		    ebb_json_kind(root));
		json_decref(root);
		return NULL;
	}
	return root;
}
