/*
 * desc.c - the descriptor tables: GDT, TSS and IDT.
 *
 * In long mode segments are flat; the GDT exists for the code segments'
 * L bit and privilege level, and for the TSS, whose RSP0 is the stack the
 * CPU switches to when ring 3 traps or is interrupted.  All gates are
 * interrupt gates with DPL 0: IF is clear on entry (sys_wait_* relies on
 * it), and an `int N` from ring 3 is a #GP, not a way in.
 */
#include "kernel.h"

/* boot.S loads this table before the switch to 64-bit code. */
uint64_t gdt[GDT_SIZE / 8] __attribute__((aligned(16))) = {
    [SEL_KCODE / 8] = 0x00af9a000000ffff, /* 64-bit code, DPL 0 */
    [SEL_KDATA / 8] = 0x00cf92000000ffff,
    [SEL_UDATA / 8] = 0x00cff2000000ffff, /* DPL 3 */
    [SEL_UCODE / 8] = 0x00affa000000ffff, /* 64-bit code, DPL 3 */
    /* SEL_TSS: 16 bytes, filled in by desc_init() */
};

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base; /* past the limit: no I/O bitmap, no ports */
} __attribute__((packed));

struct gate {
	uint64_t lo, hi;
};

extern char kstack_top[];

static struct tss tss __attribute__((aligned(16)));
static struct gate idt[256] __attribute__((aligned(16)));
/* NMI, #DF and #MC get their own stack, so a broken RSP still reports. */
static char ist_stack[4096] __attribute__((aligned(16)));

#define IST_FATAL 1

static void
set_gate(int vec, const void *handler, int ist)
{
	uint64_t a = (uint64_t)(uintptr_t)handler;

	idt[vec].lo =
	    (a & 0xffff) | (uint64_t)SEL_KCODE << 16 | (uint64_t)ist << 32 |
	    (uint64_t)0x8e << 40 | /* present, DPL 0, interrupt gate */
	    (a >> 16 & 0xffff) << 48;
	idt[vec].hi = a >> 32;
}

void
desc_init(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss;
	uint64_t limit = sizeof(tss) - 1;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed))
	idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

	tss.rsp[0] = (uint64_t)(uintptr_t)kstack_top;
	tss.ist[IST_FATAL - 1] =
	    (uint64_t)(uintptr_t)(ist_stack + sizeof(ist_stack));
	tss.iomap_base = sizeof(tss);
	gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
	                   (uint64_t)0x89 << 40 | /* present, 64-bit TSS */
	                   (limit >> 16 & 0xf) << 48 |
	                   (base >> 24 & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));

	for (int v = 0; v < 32; v++)
		set_gate(v, exc_table[v],
		         v == 2 || v == 8 || v == 18 ? IST_FATAL : 0);
	set_gate(6, ud_entry, 0); /* the system call */
	set_gate(VEC_TIMER, timer_entry, 0);
	set_gate(VEC_SPURIOUS, spurious_entry, 0);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}
