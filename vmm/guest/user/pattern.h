/*
 * pattern.h - self-checking memory: every page holds a value derived from
 * its page number and a generation, so the guest can tell, for any page
 * at any time, what it must hold.  A page that holds anything else (a
 * dirty page a migration lost, a page sent to the wrong place, a torn
 * page) prints CORRUPT <pfn> the moment the guest reads it back.
 *
 * No per-page bookkeeping: the window is rewritten in sweeps, so pages
 * below the sweep's position hold the current generation and the rest the
 * previous one; touch= pages hold generation 0 forever.
 */
#ifndef EBB_GUEST_PATTERN_H
#define EBB_GUEST_PATTERN_H

#include <stdint.h>

#include "../guest.h"

struct pat_region {
	uint64_t *base; /* page aligned */
	uint64_t npages;
};

struct pat {
	/* The dirtier's window: pages [0, pos) hold generation gen and
	 * [pos, npages) gen - 1, except in the first sweep (gen 1), when
	 * those still hold whatever RAM held and are not checked. */
	struct pat_region win;
	uint64_t pos, gen;
	/* touch=: filled once, in order, the first `touched` are checked. */
	struct pat_region touch[BI_MAX_FREE];
	int ntouch;
	uint64_t touch_pages, touched;
	uint64_t cursor;  /* the checker's, over window then touch pages */
	uint64_t dirtied; /* pages the dirtier wrote, since boot */
	uint64_t corrupt; /* CORRUPT lines printed */
};

/* Write the next n pages of the window, checking each first. */
void pat_dirty(struct pat *p, uint64_t n);
/* Fill up to n more touch pages; return how many remain. */
uint64_t pat_touch(struct pat *p, uint64_t n);
/* Verify the next n pages at the checker's cursor. */
void pat_check(struct pat *p, uint64_t n);
/* A word that holds a known value now (for the self-test), or NULL. */
uint64_t *pat_victim(struct pat *p);

#endif
