/*
 * pol_policy.c - the policy file: one table of knobs, read from JSON,
 * validated, and written back as canonical JSON.
 *
 * Every knob is one row of pol_keys[]: its JSON path (which is also its
 * member path in struct pol_policy, the row macros stringify it), its type,
 * its range and its default.  Defaults, parsing, the texts of errors and
 * pol_policy_to_json() all walk that table, so a new knob is one member in
 * pol_policy.h and one row here.
 *
 * jansson keeps no positions of values, so when a value is wrong its line
 * and column are found again in the raw text (see "Positions" below).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ebb.h"
#include "pol_fleet.h"
#include "pol_policy.h"

/* Upper bound of every host count, far above any fleet ebb manages. */
#define POL_HOSTS_MAX	1000000

/* What a name may be made of: safe in file names, logs and shells. */
#define POL_NAME_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789._-"

enum pol_type {
	POL_T_NUMBER,	/* double */
	POL_T_INTEGER,	/* int or unsigned long long, told by the size */
	POL_T_BOOL,	/* bool */
	POL_T_STRING,	/* char[size], NUL-terminated */
	POL_T_ENUM,	/* an enum, stored as int, named by names[] */
};

struct pol_key {
	const char	*path;		/* "overload.safety" */
	size_t		 off;		/* into struct pol_policy */
	size_t		 size;
	enum pol_type	 type;
	double		 lo, hi;	/* NUMBER: range */
	bool		 lo_open;	/* NUMBER: lo itself is not allowed */
	long long	 ilo, ihi;	/* INTEGER: range */
	size_t		 minlen;	/* STRING; the longest is size - 1 */
	bool		 ident;		/* STRING: only POL_NAME_CHARS */
	const char *const *names;	/* ENUM, indexed by value */
	size_t		 nnames;
	double		 def;		/* NUMBER, INTEGER, BOOL, ENUM */
	const char	*sdef;		/* STRING */
};

/* Enums are written through an int; that needs them to be one. */
_Static_assert(sizeof(enum pol_detector) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pol_selection) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pol_host_order) == sizeof(int), "enum size");

static const char *const pol_detector_names[] = {
	[POL_DET_THR] = "thr",
	[POL_DET_IQR] = "iqr",
	[POL_DET_MAD] = "mad",
	[POL_DET_LR] = "lr",
	[POL_DET_LRR] = "lrr",
	[POL_DET_BAND] = "band",
};

static const char *const pol_selection_names[] = {
	[POL_SEL_MMT] = "mmt",
	[POL_SEL_MC] = "mc",
	[POL_SEL_RS] = "rs",
	[POL_SEL_MU] = "mu",
};

static const char *const pol_order_names[] = {
	[POL_ORDER_POWER] = "power",
	[POL_ORDER_EFFICIENCY] = "efficiency",
};

#define POL_FIELD(f)							\
	.path = #f, .off = offsetof(struct pol_policy, f),		\
	.size = sizeof(((struct pol_policy *)0)->f)

/* A number in [l, h]; POL_NUMBER_GT: in (l, h]. */
#define POL_NUMBER(f, l, h, d)						\
	{ POL_FIELD(f), .type = POL_T_NUMBER, .lo = (l), .hi = (h),	\
	  .def = (d) }
#define POL_NUMBER_GT(f, l, h, d)					\
	{ POL_FIELD(f), .type = POL_T_NUMBER, .lo = (l), .hi = (h),	\
	  .lo_open = true, .def = (d) }
#define POL_INTEGER(f, l, h, d)						\
	{ POL_FIELD(f), .type = POL_T_INTEGER, .ilo = (l), .ihi = (h),	\
	  .def = (d) }
#define POL_BOOL(f, d)							\
	{ POL_FIELD(f), .type = POL_T_BOOL, .def = (d) }
#define POL_ENUM(f, n, d)						\
	{ POL_FIELD(f), .type = POL_T_ENUM, .names = (n),		\
	  .nnames = EBB_NITEMS(n), .def = (d) }
#define POL_STRING(f, min, id, d)					\
	{ POL_FIELD(f), .type = POL_T_STRING, .minlen = (min),		\
	  .ident = (id), .sdef = (d) }

/*
 * The knobs, in the order of pol_policy.h, which is also the order
 * pol_policy_to_json() writes them in.  The defaults are CloudSim's
 * LR-MMT-1.2 (docs/cloudsim-model.md).
 */
static const struct pol_key pol_keys[] = {
	POL_STRING(name, 1, true, "lr-mmt-1.2"),
	POL_STRING(description, 0, false, ""),

	POL_ENUM(overload.detector, pol_detector_names, POL_DET_LR),
	POL_NUMBER_GT(overload.threshold, 0, 1, 0.8),
	POL_NUMBER(overload.safety, 0, 10, 1.2),
	POL_NUMBER_GT(overload.fallback_threshold, 0, 1, 0.7),
	/* A host's history is never longer than its VMs' histories. */
	POL_INTEGER(overload.min_history, 1, POL_HIST_MAX, 12),
	POL_INTEGER(overload.window, 2, POL_HIST_MAX, 10),
	POL_NUMBER_GT(overload.band_high, 0, 1, 0.8),
	POL_NUMBER(overload.confidence, 0, 10, 1.0),

	POL_ENUM(selection.method, pol_selection_names, POL_SEL_MMT),
	/* jansson reads integers as long long, so no seed beyond that. */
	POL_INTEGER(selection.seed, 0, LLONG_MAX, 42),

	POL_ENUM(placement.order, pol_order_names, POL_ORDER_POWER),
	POL_NUMBER_GT(placement.max_util, 0, 1, 1.0),

	POL_BOOL(underload.enabled, true),
	POL_NUMBER_GT(underload.max_util, 0, 1, 1.0),
	POL_BOOL(underload.exclude_targets, false),
	POL_INTEGER(underload.max_hosts, 0, POL_HOSTS_MAX, 0),

	POL_BOOL(power.switch_off_empty, true),
	POL_INTEGER(power.reserve_hosts, 0, POL_HOSTS_MAX, 0),
	POL_INTEGER(power.min_hosts_on, 0, POL_HOSTS_MAX, 0),
	POL_INTEGER(power.wake_after_samples, 1, POL_HIST_MAX, 1),
};

/* ---- the table --------------------------------------------------------- */

/* Length of the section part of a key's path ("overload"), 0 at the top. */
static size_t
key_section_len(const struct pol_key *k)
{
	const char *dot = strchr(k->path, '.');

	return dot != NULL ? (size_t)(dot - k->path) : 0;
}

/* The key's name within its section ("safety"). */
static const char *
key_name(const struct pol_key *k)
{
	size_t n = key_section_len(k);

	return n > 0 ? k->path + n + 1 : k->path;
}

static bool
key_in_section(const struct pol_key *k, const char *sect)
{
	size_t n = key_section_len(k);

	if (sect == NULL)
		return n == 0;
	return n > 0 && strlen(sect) == n && strncmp(k->path, sect, n) == 0;
}

static bool
pol_is_section(const char *name)
{
	for (size_t i = 0; i < EBB_NITEMS(pol_keys); i++)
		if (key_section_len(&pol_keys[i]) > 0 &&
		    key_in_section(&pol_keys[i], name))
			return true;
	return false;
}

/* The row of key `name` in section `sect` (NULL: top level), or NULL. */
static const struct pol_key *
pol_key_find(const char *sect, const char *name)
{
	for (size_t i = 0; i < EBB_NITEMS(pol_keys); i++)
		if (key_in_section(&pol_keys[i], sect) &&
		    strcmp(key_name(&pol_keys[i]), name) == 0)
			return &pol_keys[i];
	return NULL;
}

/*
 * The keys allowed in `sect` (NULL: top level, where sections count as
 * keys), comma-separated, in table order.
 */
static void
pol_keys_allowed(const char *sect, char *buf, size_t size)
{
	const struct pol_key *k;
	const char *item;
	size_t n = 0, len, j;
	int w;

	buf[0] = '\0';
	for (size_t i = 0; i < EBB_NITEMS(pol_keys); i++) {
		k = &pol_keys[i];
		if (sect == NULL) {
			item = k->path;
			if ((len = key_section_len(k)) == 0)
				len = strlen(item);
			/* A section is listed once, at its first key. */
			for (j = 0; j < i; j++)
				if (strncmp(pol_keys[j].path, item, len) == 0 &&
				    (pol_keys[j].path[len] == '\0' ||
				    pol_keys[j].path[len] == '.'))
					break;
			if (j < i)
				continue;
		} else {
			if (!key_in_section(k, sect))
				continue;
			item = key_name(k);
			len = strlen(item);
		}
		w = snprintf(buf + n, size - n, "%s%.*s", n > 0 ? ", " : "",
		    (int)len, item);
		if (w < 0 || (size_t)w >= size - n)
			return;
		n += (size_t)w;
	}
}

/* What a key accepts, in words, for error messages. */
static void
key_allowed(const struct pol_key *k, char *buf, size_t size)
{
	size_t n;

	switch (k->type) {
	case POL_T_NUMBER:
		snprintf(buf, size, k->lo_open ?
		    "a number greater than %g and at most %g" :
		    "a number from %g to %g", k->lo, k->hi);
		return;
	case POL_T_INTEGER:
		snprintf(buf, size, "an integer from %lld to %lld", k->ilo,
		    k->ihi);
		return;
	case POL_T_BOOL:
		snprintf(buf, size, "true or false");
		return;
	case POL_T_STRING:
		if (k->ident)
			snprintf(buf, size, "%zu to %zu characters of "
			    "A-Z a-z 0-9 . _ -", k->minlen, k->size - 1);
		else if (k->minlen > 0)
			snprintf(buf, size, "a string of %zu to %zu bytes",
			    k->minlen, k->size - 1);
		else
			snprintf(buf, size, "a string of at most %zu bytes",
			    k->size - 1);
		return;
	case POL_T_ENUM:
		n = (size_t)snprintf(buf, size, "one of");
		for (size_t i = 0; i < k->nnames && n < size; i++)
			n += (size_t)snprintf(buf + n, size - n, "%s %s",
			    i > 0 ? "," : "", k->names[i]);
		return;
	}
	snprintf(buf, size, "?");
}

static void
key_put_integer(const struct pol_key *k, void *dst, long long v)
{
	if (k->size == sizeof(int))
		*(int *)dst = (int)v;
	else
		*(unsigned long long *)dst = (unsigned long long)v;
}

/* The integer member of a key; false if it does not fit a long long. */
static bool
key_get_integer(const struct pol_key *k, const void *src, long long *v)
{
	unsigned long long u;

	if (k->size == sizeof(int)) {
		*v = *(const int *)src;
		return true;
	}
	u = *(const unsigned long long *)src;
	*v = (long long)u;
	return u <= LLONG_MAX;
}

void
pol_policy_defaults(struct pol_policy *p)
{
	const struct pol_key *k;
	char *dst;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < EBB_NITEMS(pol_keys); i++) {
		k = &pol_keys[i];
		dst = (char *)p + k->off;
		switch (k->type) {
		case POL_T_NUMBER:
			*(double *)dst = k->def;
			break;
		case POL_T_INTEGER:
			key_put_integer(k, dst, (long long)k->def);
			break;
		case POL_T_BOOL:
			*(bool *)dst = k->def != 0;
			break;
		case POL_T_STRING:
			snprintf(dst, k->size, "%s", k->sdef);
			break;
		case POL_T_ENUM:
			*(int *)dst = (int)k->def;
			break;
		}
	}
}

const char *
pol_detector_name(enum pol_detector d)
{
	if ((size_t)d >= EBB_NITEMS(pol_detector_names))
		return "?";
	return pol_detector_names[d];
}

const char *
pol_selection_name(enum pol_selection s)
{
	if ((size_t)s >= EBB_NITEMS(pol_selection_names))
		return "?";
	return pol_selection_names[s];
}

/* ---- positions ---------------------------------------------------------- */

/*
 * jansson gives the line and column of a syntax error but keeps none for
 * values, so the position of a wrong value is found by walking the raw
 * text again with the small tokenizer below.  It only ever walks text that
 * jansson has read (for a duplicate key: up to where jansson stopped), so
 * it can be lenient: on anything it does not understand it gives up, and
 * the message goes out without a position rather than with a wrong one.
 *
 * Lines and columns are 1-based and a column counts characters, not bytes,
 * as jansson's do, so that both kinds of message agree.
 */
struct pol_tok {
	const char	*p;	/* first byte */
	size_t		 len;	/* bytes, to the end of a nested value */
	int		 line;
	int		 col;
};

/* One level of the path to what is being walked. */
struct pol_frame {
	const struct pol_frame *up;
	const char	*key;	/* raw key token, quotes included; NULL in
				   an array and at the top */
	size_t		 keylen;
	int		 index;	/* in an array */
	int		 depth;	/* 0 at the top */
	bool		 match;	/* the path so far is the wanted one's */
};

struct pol_scan {
	const char	*text;
	const char	*p;		/* next byte */
	int		 line, col;	/* of *p */

	/* What to look for: a path of keys, or the key ending at dup_end. */
	const char	*want[2];
	int		 nwant;
	size_t		 dup_end;

	/* What was found. */
	struct pol_tok	 key, val;
	char		 where[128];	/* path of the object holding key */
};

static void
scan_init(struct pol_scan *s, const char *text)
{
	memset(s, 0, sizeof(*s));
	s->text = s->p = text;
	s->line = s->col = 1;
}

/* Steps over one byte; the caller knows it is not the final NUL. */
static void
scan_next(struct pol_scan *s)
{
	if (*s->p++ == '\n') {
		s->line++;
		s->col = 1;
	} else if (((unsigned char)*s->p & 0xc0) != 0x80) {
		/* A continuation byte belongs to the character counted. */
		s->col++;
	}
}

static void
scan_ws(struct pol_scan *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
	    *s->p == '\r')
		scan_next(s);
}

static void
tok_begin(const struct pol_scan *s, struct pol_tok *t)
{
	t->p = s->p;
	t->len = 0;
	t->line = s->line;
	t->col = s->col;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The four hex digits at p as a number, or -1; stops at a NUL. */
static long
hex4(const char *p)
{
	long v = 0;
	int d;

	for (int i = 0; i < 4; i++) {
		if ((d = hex_digit(p[i])) < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t
utf8_put(unsigned long cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes the next character of a JSON string body at *pp into UTF-8, as
 * jansson does, so that a key written with escapes ("over\u006coad")
 * matches the name jansson gave it.  Returns its bytes, 0 at the end.
 */
static size_t
str_next(const char **pp, unsigned char out[4])
{
	const char *p = *pp;
	long cp, lo;

	if (*p == '"' || *p == '\0')
		return 0;
	if (*p != '\\') {
		out[0] = (unsigned char)*p;
		*pp = p + 1;
		return 1;
	}
	p++;
	switch (*p) {
	case '\0':
		return 0;
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		if ((cp = hex4(p + 1)) < 0)
			return 0;
		p += 4;
		/* A character outside the BMP is a pair of escapes. */
		if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' &&
		    p[2] == 'u' && (lo = hex4(p + 3)) >= 0xdc00 &&
		    lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		*pp = p + 1;
		return utf8_put((unsigned long)cp, out);
	default:		/* \" \\ \/ */
		out[0] = (unsigned char)*p;
		break;
	}
	*pp = p + 1;
	return 1;
}

/* Whether the raw string token k spells `want` once decoded. */
static bool
tok_equals(const struct pol_tok *k, const char *want)
{
	const unsigned char *w = (const unsigned char *)want;
	const char *p = k->p + 1;
	unsigned char c[4];
	size_t n;

	while ((n = str_next(&p, c)) > 0)
		for (size_t i = 0; i < n; i++)
			if (*w == '\0' || *w++ != c[i])
				return false;
	return *w == '\0';
}

/* Writes the path of frame f ("overload.safety", "x[2]") into buf. */
static size_t
frame_path(const struct pol_frame *f, char *buf, size_t size)
{
	size_t n = 0;
	int w;

	buf[0] = '\0';
	if (f->depth == 0)
		return 0;
	if (f->up->depth > 0)
		n = frame_path(f->up, buf, size);
	if (n >= size)
		return n;
	if (f->key != NULL)
		w = snprintf(buf + n, size - n, "%s%.*s", n > 0 ? "." : "",
		    (int)(f->keylen - 2), f->key + 1);
	else
		w = snprintf(buf + n, size - n, "[%d]", f->index);
	return w < 0 ? size : n + (size_t)w;
}

/* Steps over a string token, escapes included. */
static int
scan_string(struct pol_scan *s)
{
	scan_next(s);
	while (*s->p != '"') {
		if (*s->p == '\0')
			return -EINVAL;
		if (*s->p == '\\') {
			scan_next(s);
			if (*s->p == '\0')
				return -EINVAL;
		}
		scan_next(s);
	}
	scan_next(s);
	return 0;
}

static bool
is_literal_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.';
}

/*
 * The walk: each returns 0 when it stepped over its value, 1 when it found
 * what s looks for (and stopped there), -EINVAL on text it cannot read.
 */
static int	scan_value(struct pol_scan *, const struct pol_frame *,
		    struct pol_tok *);

static int
scan_object(struct pol_scan *s, const struct pol_frame *f)
{
	struct pol_frame kf;
	struct pol_tok k, v;
	int rc;

	scan_next(s);
	scan_ws(s);
	if (*s->p == '}') {
		scan_next(s);
		return 0;
	}
	for (;;) {
		scan_ws(s);
		if (*s->p != '"')
			return -EINVAL;
		tok_begin(s, &k);
		if ((rc = scan_string(s)) < 0)
			return rc;
		k.len = (size_t)(s->p - k.p);
		if (s->dup_end > 0 && (size_t)(s->p - s->text) == s->dup_end) {
			s->key = k;
			frame_path(f, s->where, sizeof(s->where));
			return 1;
		}
		kf = (struct pol_frame){ .up = f, .key = k.p, .keylen = k.len,
		    .depth = f->depth + 1 };
		kf.match = f->match && kf.depth <= s->nwant &&
		    tok_equals(&k, s->want[kf.depth - 1]);
		scan_ws(s);
		if (*s->p != ':')
			return -EINVAL;
		scan_next(s);
		if ((rc = scan_value(s, &kf, &v)) != 0)
			return rc;
		if (kf.match && kf.depth == s->nwant) {
			s->key = k;
			s->val = v;
			return 1;
		}
		scan_ws(s);
		if (*s->p == ',') {
			scan_next(s);
			continue;
		}
		if (*s->p != '}')
			return -EINVAL;
		scan_next(s);
		return 0;
	}
}

static int
scan_array(struct pol_scan *s, const struct pol_frame *f)
{
	struct pol_frame ef = { .up = f, .depth = f->depth + 1 };
	struct pol_tok v;
	int rc;

	scan_next(s);
	scan_ws(s);
	if (*s->p == ']') {
		scan_next(s);
		return 0;
	}
	for (;; ef.index++) {
		if ((rc = scan_value(s, &ef, &v)) != 0)
			return rc;
		scan_ws(s);
		if (*s->p == ',') {
			scan_next(s);
			continue;
		}
		if (*s->p != ']')
			return -EINVAL;
		scan_next(s);
		return 0;
	}
}

static int
scan_value(struct pol_scan *s, const struct pol_frame *f, struct pol_tok *t)
{
	int rc;

	scan_ws(s);
	tok_begin(s, t);
	switch (*s->p) {
	case '{':
		rc = scan_object(s, f);
		break;
	case '[':
		rc = scan_array(s, f);
		break;
	case '"':
		rc = scan_string(s);
		break;
	default:
		/* true, false, null or a number */
		while (is_literal_char(*s->p))
			scan_next(s);
		rc = s->p > t->p ? 0 : -EINVAL;
		break;
	}
	t->len = (size_t)(s->p - t->p);
	return rc;
}

/*
 * Finds in `text` the key `key` of section `sect` (NULL: a top-level key)
 * and its value; with key NULL too, the top-level value.  Fills s->key and
 * s->val; returns false when it could not.
 */
static bool
pol_locate(struct pol_scan *s, const char *text, const char *sect,
    const char *key)
{
	struct pol_frame top = { .match = true };
	struct pol_tok t;

	scan_init(s, text);
	if (sect != NULL)
		s->want[s->nwant++] = sect;
	if (key != NULL)
		s->want[s->nwant++] = key;
	if (s->nwant == 0) {
		if (scan_value(s, &top, &t) != 0)
			return false;
		s->val = t;
		return true;
	}
	return scan_value(s, &top, &t) == 1;
}

/* ---- errors ------------------------------------------------------------- */

/*
 * What a token is, for "found ...": the text as written for a scalar (so
 * the user sees their own spelling), a word for a container, which could
 * be long.
 */
static void
tok_found(const struct pol_tok *t, char *buf, size_t size)
{
	size_t n = t->len;

	if (*t->p == '{') {
		snprintf(buf, size, "an object");
	} else if (*t->p == '[') {
		snprintf(buf, size, "an array");
	} else if (n < size) {
		snprintf(buf, size, "%.*s", (int)n, t->p);
	} else {
		/* Cut on a character boundary and say so. */
		n = size - 4;
		while (n > 0 && ((unsigned char)t->p[n] & 0xc0) == 0x80)
			n--;
		snprintf(buf, size, "%.*s...", (int)n, t->p);
	}
}

/* The same from jansson's value, when the text could not be walked. */
static void
json_found(const json_t *v, char *buf, size_t size)
{
	char *s;

	if (json_is_object(v)) {
		snprintf(buf, size, "an object");
	} else if (json_is_array(v)) {
		snprintf(buf, size, "an array");
	} else if ((s = json_dumps(v, JSON_ENCODE_ANY)) != NULL) {
		snprintf(buf, size, "%s", s);
		free(s);
	} else {
		snprintf(buf, size, "?");
	}
}

/*
 * Fills err and formats its message as FILE:LINE:COLUMN: error: ..., or
 * FILE: error: ... when the position is unknown (line 0).  Returns -EINVAL
 * so that callers can return what it returns.
 */
static int EBB_PRINTF(6, 7)
pol_error(struct pol_policy_error *err, int line, int col, const char *found,
    const char *allowed, const char *fmt, ...)
{
	va_list ap;
	int n;

	err->line = line;
	err->column = col;
	snprintf(err->found, sizeof(err->found), "%s", found);
	snprintf(err->allowed, sizeof(err->allowed), "%s", allowed);
	if (line > 0)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: error: ",
		    err->file, line, col);
	else
		n = snprintf(err->msg, sizeof(err->msg), "%s: error: ",
		    err->file);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * A value is wrong: `path` names it in the message ("overload.safety",
 * "top level"); sect and key find it in the text.
 */
static int
pol_bad_value(const char *text, const char *sect, const char *key,
    const char *path, const json_t *v, const char *allowed,
    struct pol_policy_error *err)
{
	struct pol_scan s;
	char found[sizeof(err->found)];

	if (pol_locate(&s, text, sect, key))
		tok_found(&s.val, found, sizeof(found));
	else
		json_found(v, found, sizeof(found));
	return pol_error(err, s.val.line, s.val.col, found, allowed,
	    "%s: found %s, allowed %s", path, found, allowed);
}

static int
pol_bad_key(const char *text, const char *sect, const char *key,
    struct pol_policy_error *err)
{
	struct pol_scan s;
	char found[sizeof(err->found)], allowed[sizeof(err->allowed)];
	json_t *js;

	pol_keys_allowed(sect, allowed, sizeof(allowed));
	if (pol_locate(&s, text, sect, key)) {
		tok_found(&s.key, found, sizeof(found));
	} else {
		js = json_string(key);
		json_found(js, found, sizeof(found));
		json_decref(js);
	}
	if (sect == NULL)
		return pol_error(err, s.key.line, s.key.col, found, allowed,
		    "unknown key %s at top level; allowed: %s", found, allowed);
	return pol_error(err, s.key.line, s.key.col, found, allowed,
	    "unknown key %s in %s; allowed: %s", found, sect, allowed);
}

static int
pol_malformed(const json_error_t *jerr, struct pol_policy_error *err)
{
	/*
	 * jansson's column is that of the last character it read, which is
	 * 0 when it ran into the end of the text right after a newline; the
	 * error is then at the start of that (empty) last line.
	 */
	int line = jerr->line > 0 ? jerr->line : 0;
	int col = line > 0 ? EBB_MAX(jerr->column, 1) : 0;

	return pol_error(err, line, col, "", "", "malformed JSON: %s",
	    jerr->text);
}

/*
 * jansson stops at the second of two equal keys in one object, with
 * jerr->position the byte just after it; point at where that key starts.
 */
static int
pol_duplicate(const char *text, const json_error_t *jerr,
    struct pol_policy_error *err)
{
	struct pol_frame top = { .depth = 0 };
	struct pol_scan s;
	struct pol_tok t;
	char found[sizeof(err->found)];

	scan_init(&s, text);
	s.dup_end = (size_t)jerr->position;
	if (s.dup_end == 0 || scan_value(&s, &top, &t) != 1)
		return pol_malformed(jerr, err);
	tok_found(&s.key, found, sizeof(found));
	if (s.where[0] == '\0')
		return pol_error(err, s.key.line, s.key.col, found,
		    "each key once", "duplicate key %s at top level", found);
	return pol_error(err, s.key.line, s.key.col, found, "each key once",
	    "duplicate key %s in %s", found, s.where);
}

/* ---- parsing ------------------------------------------------------------ */

/* Checks v against row k and stores it in p, or explains what is wrong. */
static int
pol_key_set(const char *text, const struct pol_key *k, const char *sect,
    const char *key, const json_t *v, struct pol_policy *p,
    struct pol_policy_error *err)
{
	char allowed[sizeof(err->allowed)];
	char *dst = (char *)p + k->off;
	const char *str;
	long long i;
	double d;
	size_t len;

	switch (k->type) {
	case POL_T_NUMBER:
		if (!json_is_number(v))
			break;
		d = json_number_value(v);
		if (d < k->lo || (k->lo_open && d <= k->lo) || d > k->hi)
			break;
		*(double *)dst = d;
		return 0;
	case POL_T_INTEGER:
		if (!json_is_integer(v))
			break;
		i = json_integer_value(v);
		if (i < k->ilo || i > k->ihi)
			break;
		key_put_integer(k, dst, i);
		return 0;
	case POL_T_BOOL:
		if (!json_is_boolean(v))
			break;
		*(bool *)dst = json_is_true(v);
		return 0;
	case POL_T_STRING:
		if (!json_is_string(v))
			break;
		str = json_string_value(v);
		len = json_string_length(v);
		if (len < k->minlen || len >= k->size)
			break;
		if (k->ident && strspn(str, POL_NAME_CHARS) != len)
			break;
		memcpy(dst, str, len);
		dst[len] = '\0';
		return 0;
	case POL_T_ENUM:
		if (!json_is_string(v))
			break;
		for (size_t n = 0; n < k->nnames; n++) {
			if (strcmp(json_string_value(v), k->names[n]) == 0) {
				*(int *)dst = (int)n;
				return 0;
			}
		}
		break;
	}
	key_allowed(k, allowed, sizeof(allowed));
	return pol_bad_value(text, sect, key, k->path, v, allowed, err);
}

/*
 * Applies the document to p key by key.  jansson keeps an object's keys in
 * the order of the text, so the error reported is the first in the file.
 */
static int
pol_apply(const char *text, json_t *root, struct pol_policy *p,
    struct pol_policy_error *err)
{
	const struct pol_key *k;
	const char *name, *kname;
	json_t *v, *kv;
	int rc;

	if (!json_is_object(root))
		return pol_bad_value(text, NULL, NULL, "top level", root,
		    "an object", err);
	json_object_foreach(root, name, v) {
		if (pol_is_section(name)) {
			if (!json_is_object(v))
				return pol_bad_value(text, NULL, name, name, v,
				    "an object", err);
			json_object_foreach(v, kname, kv) {
				if ((k = pol_key_find(name, kname)) == NULL)
					return pol_bad_key(text, name, kname,
					    err);
				rc = pol_key_set(text, k, name, kname, kv, p,
				    err);
				if (rc < 0)
					return rc;
			}
			continue;
		}
		if ((k = pol_key_find(NULL, name)) == NULL)
			return pol_bad_key(text, NULL, name, err);
		if ((rc = pol_key_set(text, k, NULL, name, v, p, err)) < 0)
			return rc;
	}
	return 0;
}

int
pol_policy_parse(const char *text, const char *file, struct pol_policy *out,
    struct pol_policy_error *err)
{
	struct pol_policy_error scratch;
	struct pol_policy p;
	json_error_t jerr;
	json_t *root;
	int rc;

	if (err == NULL)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s",
	    file != NULL ? file : "<policy>");
	if (text == NULL)
		return pol_error(err, 0, 0, "", "", "no policy text");

	/*
	 * JSON_DECODE_ANY: a document that is not an object gets the same
	 * "found ..., allowed an object" as a section that is not one.
	 * JSON_REJECT_DUPLICATES: without it jansson silently keeps the last
	 * of two equal keys, and an operator who tunes the first one would
	 * wonder why nothing changes.
	 */
	root = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_duplicate_key)
			return pol_duplicate(text, &jerr, err);
		return pol_malformed(&jerr, err);
	}
	pol_policy_defaults(&p);
	rc = pol_apply(text, root, &p, err);
	json_decref(root);
	if (rc == 0)
		*out = p;
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

/*
 * The fewest significant digits, 15 to 17, that print d so that it reads
 * back as the same double.  Seventeen always do, but they print 1.2 as
 * 1.1999999999999999; fifteen do for any value a person typed.
 */
static int
real_digits(double d)
{
	char buf[40];

	for (int prec = 15; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return prec;
	}
	return 17;
}

/* Row k's member of p as a JSON value, or NULL if JSON cannot hold it. */
static json_t *
key_to_json(const struct pol_key *k, const struct pol_policy *p, int *prec)
{
	const char *src = (const char *)p + k->off;
	long long i;
	int n;

	switch (k->type) {
	case POL_T_NUMBER:
		*prec = EBB_MAX(*prec, real_digits(*(const double *)src));
		return json_real(*(const double *)src);
	case POL_T_INTEGER:
		if (!key_get_integer(k, src, &i))
			return NULL;
		return json_integer(i);
	case POL_T_BOOL:
		return json_boolean(*(const bool *)src);
	case POL_T_STRING:
		return json_stringn(src, strnlen(src, k->size));
	case POL_T_ENUM:
		n = *(const int *)src;
		if (n < 0 || (size_t)n >= k->nnames)
			return NULL;
		return json_string(k->names[n]);
	}
	return NULL;
}

char *
pol_policy_to_json(const struct pol_policy *p)
{
	const struct pol_key *k;
	json_t *root, *obj, *v;
	char sect[32];
	size_t n;
	char *s = NULL;
	int prec = 15;

	if ((root = json_object()) == NULL)
		return NULL;
	for (size_t i = 0; i < EBB_NITEMS(pol_keys); i++) {
		k = &pol_keys[i];
		if ((v = key_to_json(k, p, &prec)) == NULL)
			goto out;
		obj = root;
		if ((n = key_section_len(k)) > 0) {
			snprintf(sect, sizeof(sect), "%.*s", (int)n, k->path);
			if ((obj = json_object_get(root, sect)) == NULL) {
				obj = json_object();
				/* set_new takes obj even when it fails. */
				if (json_object_set_new(root, sect, obj) < 0) {
					json_decref(v);
					goto out;
				}
			}
		}
		if (json_object_set_new(obj, key_name(k), v) < 0)
			goto out;
	}
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(prec));
out:
	json_decref(root);
	return s;
}
