/*
 * trace.c - PlanetLab traces (trace.h).  Read in ring 3, where parsing
 * runs at native speed; ring 0 only tells us where the module is.
 */
#include "trace.h"
#include "ulib.h"

static int
space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parse one sample at *p; -1 at the end, -2 if the text is not a sample. */
static int
sample(const char **pp, const char *end, uint64_t *v)
{
	const char *p = *pp;
	uint64_t x = 0;
	int digits = 0;

	while (p < end && space(*p))
		p++;
	if (p == end)
		return -1;
	while (p < end && *p >= '0' && *p <= '9') {
		x = x * 10 + (uint64_t)(*p++ - '0');
		if (++digits > 3)
			return -2;
	}
	if (digits == 0 || x > 100 || (p < end && !space(*p)))
		return -2;
	*pp = p;
	*v = x;
	return 0;
}

int
trace_open(struct trace *t, const char *start, const char *end,
           const char **why)
{
	const char *p = start;
	uint64_t v;
	int r;

	t->start = t->pos = start;
	t->end = end;
	t->samples = 0;
	while ((r = sample(&p, end, &v)) == 0)
		t->samples++;
	if (r == -2) {
		*why = "trace: not one percentage (0-100) per line";
		return -1;
	}
	if (t->samples == 0) {
		*why = "trace: the module holds no samples";
		return -1;
	}
	return 0;
}

uint64_t
trace_next(struct trace *t)
{
	uint64_t v;

	if (sample(&t->pos, t->end, &v) < 0) {
		t->pos = t->start; /* at the end: start over */
		sample(&t->pos, t->end, &v);
	}
	return v;
}
