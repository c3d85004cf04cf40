/*
 * time.c - guest time from the TSC, and sleeping.
 *
 * Ring 0 measured the TSC rate once (boot_info.tsc_hz); here it becomes a
 * 32.32 fixed-point factor so that ticks turn into nanoseconds with one
 * multiply and no division (a 128-bit product never overflows).
 */
#include "ulib.h"

static uint64_t ns_mult; /* ns per tick, 32.32 */
static uint64_t spin;    /* shorter waits are spun, not slept */

void
time_init(void)
{
	/* 1e9 << 32 is 4.3e18: it fits in 64 bits. */
	ns_mult = (1000000000ULL << 32) / boot_info.tsc_hz;
	spin = boot_info.tsc_hz / 50000; /* 20 us: less than a trap costs */
}

uint64_t
tsc_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * ns_mult) >> 32);
}

uint64_t
ms_to_tsc(uint64_t ms)
{
	return boot_info.tsc_hz / 1000 * ms;
}

/*
 * Wake at `until` or a little after, never before: ring 3 loops around
 * this and looks at the clock again, so an early wake would only cost a
 * second trap.
 */
void
sleep_until(uint64_t until)
{
	uint64_t now = rdtsc();
	size_t n;
	const char *s;

	if (until <= now + spin) {
		out_flush();
		while (rdtsc() < until)
			__asm__ volatile("pause");
		return;
	}
	s = out_pending(&n);
	if (boot_info.tsc_deadline) {
		sys_call(SYS_WAIT_TSC, until, s, n);
	} else {
		/* One-shot LAPIC count, rounded up, at least 1 (0 stops the
		 * timer), at most 32 bits (the loop sleeps again). */
		unsigned __int128 t =
		    (unsigned __int128)(until - now) * boot_info.lapic_mult;
		uint64_t ticks = (uint64_t)(t >> 32) + 1;

		if (ticks > 0xffffffffULL)
			ticks = 0xffffffffULL;
		sys_call(SYS_WAIT_LAPIC, ticks, s, n);
	}
	out_sent();
}
