/*
 * trace.h - a PlanetLab utilization trace, read from a multiboot module.
 *
 * The format of the CoMon/PlanetLab files CloudSim uses: one integer CPU
 * percentage (0-100) per line, one line per 5-minute sample.  The guest
 * replays it time-compressed and starts over at the end.
 */
#ifndef EBB_GUEST_TRACE_H
#define EBB_GUEST_TRACE_H

#include <stdint.h>

struct trace {
	const char *start, *end, *pos;
	uint64_t samples;
};

/* Check the whole text once; 0, or -1 with the reason in *why. */
int trace_open(struct trace *t, const char *start, const char *end,
               const char **why);
/* The next sample, in percent. */
uint64_t trace_next(struct trace *t);

#endif
