/*
 * pattern.c - write and verify the self-checking pattern (pattern.h).
 *
 * Word w of the page at frame pfn, generation g, is
 *	(MAGIC ^ pfn << 20 ^ g) + w * STEP
 * so the 512 words of a page all differ, no two pages hold the same
 * thing, consecutive generations of a page differ in every word, and no
 * word is zero (with overwhelming odds): a page that went back to zero or
 * to an older generation, or came from another frame, never verifies.
 *
 * Whole pages are written and read (a store per word), so dirty=max is
 * bounded by memory bandwidth like a real dirtier, and a torn page is
 * caught as well as a lost one.
 */
#include "pattern.h"
#include "ulib.h"

#define WORDS 512
#define MAGIC 0x6562622d67756573ULL /* "ebb-gues" */
#define STEP  0x9e3779b97f4a7c15ULL /* odd: w * STEP differs for all w */

static uint64_t
pfn_of(const uint64_t *page)
{
	return (uint64_t)(uintptr_t)page >> 12;
}

static void
fill(uint64_t *page, uint64_t gen)
{
	uint64_t v = MAGIC ^ pfn_of(page) << 20 ^ gen;

	for (int w = 0; w < WORDS; w++, v += STEP)
		page[w] = v;
}

/*
 * Check a page; on the first bad word print one CORRUPT line and rewrite
 * the page, so each incident is reported once.
 */
static void
verify(struct pat *p, uint64_t *page, uint64_t gen)
{
	uint64_t v = MAGIC ^ pfn_of(page) << 20 ^ gen;

	for (int w = 0; w < WORDS; w++, v += STEP) {
		if (page[w] == v)
			continue;
		out_str("CORRUPT ");
		out_u64(pfn_of(page));
		out_str(" word=");
		out_u64((uint64_t)w);
		out_str(" got=");
		out_hex(page[w]);
		out_str(" want=");
		out_hex(v);
		out_str("\n");
		out_flush();
		p->corrupt++;
		fill(page, gen);
		return;
	}
}

void
pat_dirty(struct pat *p, uint64_t n)
{
	while (n-- > 0) {
		uint64_t *page = p->win.base + p->pos * WORDS;

		if (p->gen > 1)
			verify(p, page, p->gen - 1);
		fill(page, p->gen);
		p->dirtied++;
		if (++p->pos == p->win.npages) {
			p->pos = 0;
			p->gen++;
		}
	}
}

/* The i-th touch page, counting across the touch regions. */
static uint64_t *
touch_page(struct pat *p, uint64_t i)
{
	for (int r = 0; r < p->ntouch; r++) {
		if (i < p->touch[r].npages)
			return p->touch[r].base + i * WORDS;
		i -= p->touch[r].npages;
	}
	return NULL;
}

uint64_t
pat_touch(struct pat *p, uint64_t n)
{
	for (; n > 0 && p->touched < p->touch_pages; n--)
		fill(touch_page(p, p->touched++), 0);
	return p->touch_pages - p->touched;
}

void
pat_check(struct pat *p, uint64_t n)
{
	uint64_t total = p->win.npages + p->touch_pages;

	while (total > 0 && n-- > 0) {
		uint64_t c = p->cursor;

		p->cursor = c + 1 < total ? c + 1 : 0;
		if (c < p->pos)
			verify(p, p->win.base + c * WORDS, p->gen);
		else if (c < p->win.npages && p->gen > 1)
			verify(p, p->win.base + c * WORDS, p->gen - 1);
		else if (c >= p->win.npages && c - p->win.npages < p->touched)
			verify(p, touch_page(p, c - p->win.npages), 0);
		else if (c >= p->win.npages)
			p->cursor = 0; /* the rest is not touched yet */
	}
}

uint64_t *
pat_victim(struct pat *p)
{
	/* The page the dirtier wrote last: it stays put for a whole sweep. */
	if (p->pos > 0)
		return p->win.base + (p->pos - 1) * WORDS + 7;
	if (p->gen > 1)
		return p->win.base + (p->win.npages - 1) * WORDS + 7;
	if (p->touched > 0)
		return touch_page(p, p->touched - 1) + 7;
	return NULL;
}
