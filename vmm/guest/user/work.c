/*
 * work.c - ring 3's event loop (work.h).
 *
 * One thread, cooperative: every workload is a deadline on the TSC, and
 * the loop does whatever is due, then either keeps the CPU busy (cpu=,
 * dirty=..,max, touch=) while looking at the clock between small steps,
 * or sleeps until the nearest deadline with one system call.  So the
 * heartbeat needs no interrupt into ring 3: a busy loop simply notices the
 * beat is due, and an idle guest is woken for it by the LAPIC timer.
 *
 * Ring 0 is entered only to print and sleep (once per wake-up, about 30
 * emulated instructions under PVM), at most once a beat plus once a
 * millisecond for a rate-limited dirtier.
 */
#include "work.h"
#include "ulib.h"

#define PERIOD_MS   10   /* cpu=PCT is a share of every 10 ms */
#define BACKLOG_MS  10   /* a late dirtier catches up at most this much */
#define TICK_US     1000 /* a rate-limited dirtier wakes at most this often */
#define CHUNK       16   /* pages per step of the unbounded loops */
#define BURST       256  /* pages per step of a rate-limited dirtier */
#define SELFTEST_MS 1000
#define NEVER       UINT64_MAX

struct wl {
	const struct wl_config *c;
	struct pat *pat;
	struct trace *tr;
	uint64_t seq, beat, next_beat;
	uint64_t pct, period, period_end, busy_end;
	uint64_t page, next_page, dirty_wake, backlog, tick;
	uint64_t sample, next_sample;
	uint64_t selftest_at, touch_t0;
};

static uint64_t
min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * HB <seq> <guest_ns> <dirtied_pages>: seq counts lines, from 0, never
 * skipping.  Beats missed while the guest was not running (a migration's
 * pause) are not made up: the observer sees the gap in guest_ns and in
 * its own clock, which is the downtime it measures.
 */
static void
heartbeat(struct wl *w)
{
	uint64_t now;

	/* Check first, so that the line leaves right after its time stamp
	 * (it goes out with the next sleep or flush). */
	pat_check(w->pat, w->c->check_pages);
	now = rdtsc();
	out_str("HB ");
	out_u64(w->seq++);
	out_str(" ");
	out_u64(tsc_to_ns(now - boot_info.tsc_boot));
	out_str(" ");
	out_u64(w->pat->dirtied);
	out_str("\n");
	w->next_beat += w->beat;
	if (w->next_beat <= now)
		w->next_beat = now + w->beat;
}

static void
next_period(struct wl *w, uint64_t now)
{
	uint64_t start = w->period_end;

	if (now - start >= w->period)
		start = now; /* after a pause: a new grid, no catching up */
	w->busy_end = start + w->period * w->pct / 100;
	w->period_end = start + w->period;
}

static void
next_sample(struct wl *w, uint64_t now)
{
	w->pct = trace_next(w->tr);
	w->next_sample += w->sample;
	if (w->next_sample <= now)
		w->next_sample = now + w->sample;
}

/*
 * Write the pages due since the last run, PPS per second on average, at
 * most BURST at a time so that a beat is never held up for long; if more
 * are due, come back at once.
 */
static void
dirty_due(struct wl *w, uint64_t now)
{
	uint64_t n;

	if (now - w->next_page > w->backlog)
		w->next_page = now - w->backlog;
	n = (now - w->next_page) / w->page + 1;
	if (n > BURST)
		n = BURST;
	w->next_page += n * w->page;
	pat_dirty(w->pat, n);
	if (w->next_page <= now)
		w->dirty_wake = now;
	else
		w->dirty_wake =
		    w->next_page > now + w->tick ? w->next_page : now + w->tick;
}

static void
selftest(struct wl *w)
{
	uint64_t *v = pat_victim(w->pat);

	w->selftest_at = NEVER;
	if (v == NULL) {
		out_str("SELFTEST nothing written yet, nothing corrupted\n");
		return;
	}
	out_str("SELFTEST corrupting pfn ");
	out_u64((uint64_t)(uintptr_t)v >> 12);
	out_str("\n");
	out_flush();
	sys_call(SYS_CORRUPT, (uint64_t)(uintptr_t)v, NULL, 0);
}

static void
touched(struct wl *w, uint64_t now)
{
	out_str("TOUCHED mib=");
	out_u64(w->pat->touch_pages >> 8);
	out_str(" ms=");
	out_u64(tsc_to_ns(now - w->touch_t0) / 1000000);
	out_str("\n");
}

/* Keep the CPU busy in ring 3 until `until`. */
static void
burn(uint64_t until)
{
	static volatile uint64_t sink;
	uint64_t x = sink;

	do {
		for (int i = 0; i < 256; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	} while (rdtsc() < until);
	sink = x;
}

void
wl_run(const struct wl_config *c, struct pat *p, struct trace *t)
{
	uint64_t now = rdtsc();
	struct wl w = {
	    .c = c,
	    .pat = p,
	    .tr = t,
	    .beat = ms_to_tsc(c->beat_ms),
	    .next_beat = now,
	    .pct = c->cpu_pct,
	    .period = ms_to_tsc(PERIOD_MS),
	    .period_end = now,
	    .dirty_wake = NEVER,
	    .backlog = ms_to_tsc(BACKLOG_MS),
	    .tick = boot_info.tsc_hz / 1000000 * TICK_US,
	    .next_sample = NEVER,
	    .selftest_at = NEVER,
	    .touch_t0 = now,
	};

	if (c->dirty_mib > 0 && c->dirty_pps > 0) {
		w.page = boot_info.tsc_hz / c->dirty_pps;
		if (w.page == 0)
			w.page = 1;
		w.next_page = w.dirty_wake = now;
	}
	if (t != NULL) {
		w.sample = ms_to_tsc(c->trace_ms);
		w.next_sample = now;
	}
	if (c->selftest_corrupt)
		w.selftest_at = now + ms_to_tsc(SELFTEST_MS);

	for (;;) {
		uint64_t next;

		now = rdtsc();
		if (now >= w.next_beat)
			heartbeat(&w);
		if (now >= w.selftest_at)
			selftest(&w);
		if (now >= w.next_sample)
			next_sample(&w, now);
		if (w.pct > 0 && now >= w.period_end)
			next_period(&w, now);
		if (now >= w.dirty_wake)
			dirty_due(&w, now);

		if (p->touched < p->touch_pages) {
			out_flush();
			if (pat_touch(p, CHUNK) == 0)
				touched(&w, rdtsc());
			continue;
		}
		if (c->dirty_mib > 0 && c->dirty_pps == 0) {
			out_flush();
			pat_dirty(p, CHUNK);
			continue;
		}

		next = min(min(w.next_beat, w.dirty_wake),
		           min(w.next_sample, w.selftest_at));
		if (w.pct > 0)
			next = min(next, w.period_end);
		if (now < w.busy_end) {
			out_flush();
			burn(min(w.busy_end, next));
			continue;
		}
		sleep_until(next);
	}
}
