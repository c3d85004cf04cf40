/*
 * lapic.c - the one interrupt source: the local APIC timer.
 *
 * xAPIC through MMIO at its reset address (vectors.S writes EOI there as a
 * constant), because every VMM emulates it, while x2APIC is optional.  The
 * 8259 PICs are masked and LINT0 too, so the BIOS's PIT tick never
 * reaches us: each interrupt is a timer we armed, nothing else wakes hlt.
 *
 * TSC-deadline mode when CPUID.1:ECX[24] says so (KVM): ring 3 sleeps until
 * an absolute TSC value, one wrmsr.  Otherwise (QEMU's TCG) the one-shot
 * mode: ring 3 converts a TSC interval to LAPIC ticks with lapic_mult,
 * which we measure here against the already calibrated TSC.
 */
#include "kernel.h"

#define MSR_APIC_BASE 0x1b
#define APIC_X2APIC   (1 << 10)
#define APIC_ENABLE   (1 << 11)

#define LAPIC_SVR       0x0f0
#define LAPIC_LVT_TMR   0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_TMCCT     0x390
#define LAPIC_TDCR      0x3e0

#define LVT_MASKED   (1 << 16)
#define LVT_DEADLINE (2 << 17)

static void
lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

void
lapic_init(struct boot_info *bi)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint64_t t0, t1;
	uint32_t ticks;

	if ((base & ~0xfffULL) != LAPIC_BASE)
		panic("the LAPIC is not at 0xfee00000");
	if (base & APIC_X2APIC)
		panic(
		    "the LAPIC is in x2APIC mode; ebb-guest drives the xAPIC");
	if (!(base & APIC_ENABLE))
		wrmsr(MSR_APIC_BASE, base | APIC_ENABLE);

	outb(0x21, 0xff); /* mask every line of both 8259s */
	outb(0xa1, 0xff);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS); /* software enable */

	if (cpuid(1, 0).c & (1 << 24)) {
		lapic_write(LAPIC_LVT_TMR, VEC_TIMER | LVT_DEADLINE);
		/* The LVT write must land before the first TSC_DEADLINE
		 * wrmsr, which is not serializing (SDM 10.5.4.1). */
		__asm__ volatile("mfence" ::: "memory");
		bi->tsc_deadline = 1;
		return;
	}

	/* One-shot, divide by 16: 16 ns steps and over a minute of range
	 * at QEMU's and KVM's 1 GHz APIC bus.  Count for ~1 ms. */
	lapic_write(LAPIC_TDCR, 0x3);
	lapic_write(LAPIC_LVT_TMR, VEC_TIMER | LVT_MASKED);
	mmio_write32(LAPIC_TMICT, 0xffffffff);
	t0 = rdtsc();
	do
		t1 = rdtsc();
	while (t1 - t0 < bi->tsc_hz / 1000);
	ticks = 0xffffffff - mmio_read32(LAPIC_BASE + LAPIC_TMCCT);
	mmio_write32(LAPIC_TMICT, 0);
	if (ticks == 0)
		panic("the LAPIC timer does not count");
	bi->lapic_mult = ((uint64_t)ticks << 32) / (t1 - t0);
	lapic_write(LAPIC_LVT_TMR, VEC_TIMER); /* one-shot, unmasked */
}
