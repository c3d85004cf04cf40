/*
 * tsc.c - how fast the TSC ticks, found once at boot.
 *
 * Ring 3 keeps all time with `rdtsc` (native speed even under PVM), so
 * this one number turns ticks into the nanoseconds of every heartbeat.
 * Asking CPUID is free and exact when the answer is there: leaf 0x15
 * (crystal and ratio, recent Intel), or the hypervisor timing leaf
 * 0x40000010 (KVM/QEMU with a known TSC rate, VMware; ebb-vmm can fill it
 * in from KVM_GET_TSC_KHZ).  Otherwise we count TSC ticks across 20 ms
 * of the PIT's channel 2, whose 1.193182 MHz clock every PC and VMM has.
 * Leaf 0x16 (base MHz) is not trusted: it need not be the TSC rate.
 */
#include "kernel.h"

#define PIT_HZ   1193182
#define PIT_CH2  0x42
#define PIT_CMD  0x43
#define PIT_GATE 0x61 /* bit 0: ch2 gate, 1: speaker, 5: ch2 output */
/* 20 ms: under PVM one poll of the PIT is ~10 us of emulated ring 0,
 * which must stay well under the 1000 ppm we accept. */
#define PIT_MS    20
#define PIT_TRIES 25

/* The 12-byte hypervisor vendor in EBX, ECX, EDX of leaf 0x40000000. */
static int
signature(struct cpuid r, const char *sig)
{
	uint32_t w[3] = {r.b, r.c, r.d};
	const unsigned char *p = (const unsigned char *)w;

	for (int i = 0; i < 12; i++)
		if (p[i] != (unsigned char)sig[i])
			return 0;
	return 1;
}

static int
plausible(uint64_t hz)
{
	return hz >= 100000000ULL && hz <= 20000000000ULL;
}

/*
 * One measurement: TSC ticks across `latch` ticks of channel 2, with the
 * error bound in *err.  A VMM may stall us at any instruction (an exit,
 * QEMU's lock), so the start and the end are each bracketed by two TSC
 * reads and the answer is the middle of what the brackets allow.
 */
static uint64_t
pit_once(uint16_t latch, uint64_t *err)
{
	uint64_t a0, a1, s, low, lo, hi;

	/* Gate on, speaker off; ch2 mode 0 (output rises at terminal count). */
	outb(PIT_GATE, (inb(PIT_GATE) & ~0x02) | 0x01);
	outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(PIT_CH2, latch & 0xff);
	a0 = rdtsc();
	outb(PIT_CH2, latch >> 8); /* counting starts here */
	a1 = rdtsc();
	low = a1; /* the output was still low after this TSC value */
	for (;;) {
		s = rdtsc();
		if (inb(PIT_GATE) & 0x20)
			break;
		low = s;
	}
	lo = low - a1;
	hi = rdtsc() - a0;
	*err = hi - lo;
	return (lo + hi) / 2;
}

/*
 * Keep the tightest of up to PIT_TRIES measurements, and stop at the first
 * whose bracket is within 1000 ppm (so its middle is within 500 ppm).  A
 * quiet machine needs one; on a loaded host running TCG, QEMU stalls the
 * vCPU for milliseconds at a time and it can take a few.  A 1 ms run
 * first, thrown away, gets TCG's translation of this code (tens of us,
 * inside the first bracket) out of the way.
 */
static uint64_t
from_pit(uint32_t *ppm)
{
	uint16_t latch = PIT_HZ * PIT_MS / 1000;
	uint64_t best = 1, best_err = UINT64_MAX, warm;

	pit_once(PIT_HZ / 1000, &warm);
	for (int i = 0; i < PIT_TRIES && best_err * 1000 > best; i++) {
		uint64_t err, ticks = pit_once(latch, &err);

		if (err < best_err) {
			best = ticks;
			best_err = err;
		}
	}
	*ppm = (uint32_t)(best_err * 500000 / best);
	/* The output rises `latch` PIT ticks after the load (as in QEMU's
	 * and KVM's 8254), not exactly PIT_MS later. */
	return best * PIT_HZ / latch;
}

uint64_t
tsc_calibrate(int *from, uint32_t *ppm)
{
	struct cpuid r = cpuid(0, 0);
	uint64_t hz;

	if (r.a >= 0x15) {
		r = cpuid(0x15, 0);
		if (r.a != 0 && r.b != 0 && r.c != 0) {
			hz = (uint64_t)r.c * r.b / r.a;
			*from = TSC_FROM_CPUID15;
			if (plausible(hz))
				return hz;
		}
	}
	if (cpuid(1, 0).c & (1U << 31)) { /* running under a hypervisor */
		r = cpuid(0x40000000, 0);
		/* Only these two define leaf 0x40000010 as the TSC kHz;
		 * elsewhere (TCG) the leaf may echo unrelated data. */
		if ((signature(r, "KVMKVMKVM\0\0\0") ||
		     signature(r, "VMwareVMware")) &&
		    r.a >= 0x40000010) {
			hz = (uint64_t)cpuid(0x40000010, 0).a * 1000;
			*from = TSC_FROM_HV;
			if (plausible(hz))
				return hz;
		}
	}
	hz = from_pit(ppm);
	*from = TSC_FROM_PIT;
	if (!plausible(hz))
		panic("TSC calibration against the PIT failed");
	return hz;
}
