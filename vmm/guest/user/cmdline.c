/*
 * cmdline.c - parse the kernel command line (see cmdline.h).
 *
 * Multiboot loaders (QEMU, GRUB) put the image's own name first; ebb-vmm
 * should too.  So a first word that is not an option is skipped if it is a
 * path or has no '=', while an unknown word anywhere else (or a first
 * key=value that is not an option) is an error: the guest halts with an ERROR
 * line rather than run a workload nobody asked for (a benchmark of a
 * mistyped dirty= would otherwise measure an idle guest).
 */
#include "cmdline.h"
#include "ulib.h"

struct word {
	const char *s;
	size_t n;
};

static int
is(struct word w, const char *lit)
{
	size_t i;

	for (i = 0; i < w.n && lit[i] != '\0'; i++)
		if (w.s[i] != lit[i])
			return 0;
	return i == w.n && lit[i] == '\0';
}

/* A decimal integer <= max filling all of w. */
static int
num(struct word w, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (w.n == 0)
		return -1;
	for (size_t i = 0; i < w.n; i++) {
		if (w.s[i] < '0' || w.s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(w.s[i] - '0');
		if (x > max)
			return -1;
	}
	*v = x;
	return 0;
}

/* A decimal with up to 3 fraction digits, in thousandths: "1.5" = 1500. */
static int
milli(struct word w, uint64_t max, uint64_t *v)
{
	struct word ip = w, fp = {w.s + w.n, 0};
	uint64_t i, f = 0;

	for (size_t k = 0; k < w.n; k++) {
		if (w.s[k] == '.') {
			ip.n = k;
			fp.s = w.s + k + 1;
			fp.n = w.n - k - 1;
			break;
		}
	}
	if (fp.n > 3 || num(ip, max, &i) < 0 ||
	    (fp.n > 0 && num(fp, 999, &f) < 0))
		return -1;
	for (size_t k = fp.n; k < 3; k++)
		f *= 10;
	*v = i * 1000 + f;
	return 0;
}

static int
has(struct word w, char c)
{
	for (size_t i = 0; i < w.n; i++)
		if (w.s[i] == c)
			return 1;
	return 0;
}

/* Split w at the first comma. */
static int
pair(struct word w, struct word *a, struct word *b)
{
	for (size_t i = 0; i < w.n; i++) {
		if (w.s[i] == ',') {
			a->s = w.s;
			a->n = i;
			b->s = w.s + i + 1;
			b->n = w.n - i - 1;
			return 0;
		}
	}
	return -1;
}

struct text {
	char *s;
	size_t len, cap;
};

static void
add(struct text *t, const char *s, size_t n)
{
	for (size_t i = 0; i < n && t->len + 1 < t->cap; i++)
		t->s[t->len++] = s[i];
	t->s[t->len] = '\0';
}

/* Append "+label:value" (no "+" first) to the banner's work= field. */
static void
add_part(struct text *t, const char *label, struct word v)
{
	size_t n = 0;

	if (t->len > 0)
		add(t, "+", 1);
	while (label[n] != '\0')
		n++;
	add(t, label, n);
	add(t, ":", 1);
	add(t, v.s, v.n);
}

#define BAD_VALUE  -1
#define NOT_OPTION -2

/* One word of the command line: 0, BAD_VALUE or NOT_OPTION. */
static int
option(struct word w, struct wl_config *c, struct text *work)
{
	struct word key = w, val = {"", 0}, a, b;

	for (size_t i = 0; i < w.n; i++) {
		if (w.s[i] == '=') {
			key.n = i;
			val.s = w.s + i + 1;
			val.n = w.n - i - 1;
			break;
		}
	}

	if (is(w, "idle"))
		return 0;
	if (is(w, "selftest-corrupt")) {
		c->selftest_corrupt = 1;
		return 0;
	}
	if (is(key, "beat")) {
		if (num(val, 60000, &c->beat_ms) < 0 || c->beat_ms == 0)
			return BAD_VALUE;
		return 0;
	}
	if (is(key, "check"))
		return num(val, 1 << 20, &c->check_pages) < 0 ? BAD_VALUE : 0;
	if (is(key, "cpu")) {
		if (num(val, 100, &c->cpu_pct) < 0)
			return BAD_VALUE;
		add_part(work, "cpu", val);
		return 0;
	}
	if (is(key, "touch")) {
		if (num(val, 100, &c->touch_pct) < 0)
			return BAD_VALUE;
		add_part(work, "touch", val);
		return 0;
	}
	if (is(key, "dirty")) {
		if (pair(val, &a, &b) < 0 ||
		    num(a, 1 << 20, &c->dirty_mib) < 0 || c->dirty_mib == 0)
			return BAD_VALUE;
		if (is(b, "max"))
			c->dirty_pps = 0;
		else if (num(b, 100000000, &c->dirty_pps) < 0 ||
		         c->dirty_pps == 0)
			return BAD_VALUE;
		add_part(work, "dirty", a);
		add(work, ":", 1);
		add(work, b.s, b.n);
		return 0;
	}
	if (is(key, "trace")) {
		/* The trace is the first module; FILE names it in the banner.
		 */
		if (pair(val, &a, &b) < 0 || a.n == 0 ||
		    milli(b, 1000000, &c->trace_ms) < 0 || c->trace_ms == 0)
			return BAD_VALUE;
		add_part(work, "trace", a);
		add(work, ":", 1);
		add(work, b.s, b.n);
		return 0;
	}
	return NOT_OPTION;
}

int
cl_parse(const char *p, struct wl_config *c, const char **why, char *what,
         size_t whatlen)
{
	struct text work = {c->work, 0, sizeof(c->work)};
	int first = 1, r;

	c->beat_ms = 10;
	c->check_pages = 256;
	c->work[0] = '\0';

	for (;;) {
		struct word w;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		w.s = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		w.n = (size_t)(p - w.s);

		r = option(w, c, &work);
		/* The image's name: the first word, not an option, and a
		 * path or at least no key=value. */
		if (r == NOT_OPTION && first && (has(w, '/') || !has(w, '=')))
			r = 0;
		first = 0;
		if (r < 0) {
			size_t n = w.n < whatlen - 1 ? w.n : whatlen - 1;

			memcpy(what, w.s, n);
			what[n] = '\0';
			*why =
			    r == NOT_OPTION ? "unknown option" : "bad value in";
			return -1;
		}
	}
	if (c->cpu_pct > 0 && c->trace_ms > 0) {
		*why = "cpu= and trace= both set the CPU load";
		what[0] = '\0';
		return -1;
	}
	if (work.len == 0)
		add(&work, "idle", 4);
	return 0;
}
