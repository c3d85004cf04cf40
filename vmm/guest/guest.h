/*
 * guest.h - the contract between ebb-guest's ring 0 and its ring 3.
 *
 * Ring 0 (the .S and .c files of this folder) owns the hardware; ring 3
 * (user/) runs the workloads.  They share two things only: the system call
 * numbers and register convention below (also used by syscall.S, hence the
 * __ASSEMBLER__ fence), and struct boot_info, which ring 0 fills once
 * before it drops to ring 3.
 */
#ifndef EBB_GUEST_H
#define EBB_GUEST_H

/*
 * Segment selectors; the GDT in desc.c is laid out to match.
 */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA (0x18 | 3)
#define SEL_UCODE (0x20 | 3)
#define SEL_TSS   0x28 /* 16 bytes: the last two slots */
#define GDT_SIZE  (7 * 8)

/*
 * The system call is `ud2` with RAX = SYS_MAGIC << 32 | number.  Under
 * PVM, `int N` from ring 3 raises #UD anyway and `syscall` lands at LSTAR
 * without ring-0 rights, but a #UD from `ud2` reaches the IDT handler in
 * ring 0 everywhere.  The handler tells a call from a real fault by the
 * trapping ring, the two bytes 0f 0b at RIP and the magic in RAX.
 *
 *   RAX  in: SYS_MAGIC << 32 | number
 *   RDI  in: argument (a TSC deadline, a LAPIC count, an address)
 *   RSI  in: bytes to print first (SYS_PUTS and both waits)
 *   RCX  in: how many bytes (may be 0)
 *   RAX, RCX, RDX, RSI, RDI, R11: clobbered.  Everything else is kept.
 */
#define SYS_MAGIC      0xebb0
#define SYS_PUTS       0 /* print RCX bytes at RSI on COM1 */
#define SYS_WAIT_TSC   1 /* print, then sleep until TSC >= RDI */
#define SYS_WAIT_LAPIC 2 /* print, then sleep for RDI LAPIC ticks */
#define SYS_CORRUPT    3 /* invert the 64-bit word at RDI (self-test) */
#define SYS_HALT       4 /* stop for good (after an ERROR line) */
#define SYS_COUNT      5

#define COM1 0x3f8

/* The LAPIC must sit at its reset address: the .S files use constants. */
#define LAPIC_BASE       0xfee00000
#define LAPIC_EOI        (LAPIC_BASE + 0x0b0)
#define LAPIC_TMICT      (LAPIC_BASE + 0x380)
#define MSR_TSC_DEADLINE 0x6e0

#define VEC_TIMER    32
#define VEC_SPURIOUS 0xff

#ifndef __ASSEMBLER__
#include <stdint.h>

#define BI_MAX_FREE 8
#define BI_CMDLINE  1024

enum {
	TSC_FROM_CPUID15, /* CPUID leaf 0x15: crystal clock and ratio */
	TSC_FROM_HV,      /* hypervisor leaf 0x40000010 (KVM, VMware) */
	TSC_FROM_PIT,     /* measured against the 8254 PIT at boot */
};
struct mem_range {
	uint64_t start; /* first byte */
	uint64_t end;   /* one past the last byte */
};

/*
 * What ring 3 learns about the machine.  Ring 0 writes it once before
 * entering ring 3 and never again, so ring 3 may read it without care.
 */
struct boot_info {
	uint64_t tsc_boot;   /* TSC at kernel entry: guest time 0 */
	uint64_t tsc_hz;     /* calibrated TSC frequency */
	int tsc_from;        /* TSC_FROM_*: how tsc_hz was found */
	uint32_t tsc_ppm;    /* its uncertainty (0: as CPUID says) */
	int tsc_deadline;    /* 1: sleep with SYS_WAIT_TSC */
	uint64_t lapic_mult; /* else LAPIC ticks per TSC tick, 32.32 */
	uint64_t ram_bytes;  /* usable RAM the loader reported */
	/* RAM nobody uses: not the image, the modules, ring 0's page tables. */
	struct mem_range free[BI_MAX_FREE];
	int nfree;
	/* The first multiboot module (a trace), 0/0 if none. */
	uint64_t mod_start, mod_end;
	char
	    cmdline[BI_CMDLINE]; /* copied: ring 3 must not read ring-0 pages */
};

/* Defined in ring 3's data (user/umain.c), so both rings can reach it. */
extern struct boot_info boot_info;

/* Ring 3's entry point and stack, both in user pages. */
#define U_STACK_SIZE 16384
void u_main(void) __attribute__((noreturn));
extern char u_stack[U_STACK_SIZE];
#endif

#endif
