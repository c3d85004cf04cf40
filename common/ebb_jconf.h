/*
 * ebb_jconf.h - reading configuration files in JSON strictly: every key
 * known, every value of the right type and range, and an error that names
 * the file and the key path.  Shared by the daemons' configurations.
 */
#ifndef EBB_JCONF_H
#define EBB_JCONF_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ebb.h"

/* Where messages go and what they name. */
struct ebb_jconf {
	const char	*file;
	struct ebb_err	*err;
};

/* Fills err with "FILE: PATH: what" and returns -EINVAL. */
int	ebb_jconf_fail(struct ebb_jconf *, const char *path, const char *, ...)
	    EBB_PRINTF(3, 4);
/* "an object", "a string", ... for messages. */
const char *ebb_json_kind(const json_t *);
/* Loads text; malformed JSON or a non-object is an error with position. */
json_t	*ebb_jconf_load(struct ebb_jconf *, const char *text);
/* Rejects keys of obj not in the NULL-terminated list ok. */
int	ebb_jconf_keys(struct ebb_jconf *, const char *path, json_t *obj,
	    const char *const *ok);
/*
 * Each reads obj[key] into dst if present (absent: dst untouched) and
 * checks it; path names it in messages.
 */
int	ebb_jconf_string(struct ebb_jconf *, json_t *obj, const char *key,
	    const char *path, char *dst, size_t size, bool may_be_empty);
int	ebb_jconf_number(struct ebb_jconf *, json_t *obj, const char *key,
	    const char *path, double *dst, double lo, double hi);
int	ebb_jconf_int(struct ebb_jconf *, json_t *obj, const char *key,
	    const char *path, int *dst, int lo, int hi);
int	ebb_jconf_bool(struct ebb_jconf *, json_t *obj, const char *key,
	    const char *path, bool *dst);
/* obj[key] must be an object if present; *out is it or NULL. */
int	ebb_jconf_section(struct ebb_jconf *, json_t *obj, const char *key,
	    json_t **out);

#endif /* EBB_JCONF_H */
