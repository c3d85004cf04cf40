/*
 * kernel.h - ring 0's internal interfaces and instruction wrappers.
 *
 * Ring 0 runs once at boot (kmain) and then only in syscall.S and
 * vectors.S; nothing here is on a per-event path except where noted.
 */
#ifndef EBB_GUEST_KERNEL_H
#define EBB_GUEST_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "guest.h"

static inline void
outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t
inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t
rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void
wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
	                 :
	                 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
	                 : "memory");
}

static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

struct cpuid {
	uint32_t a, b, c, d;
};

static inline struct cpuid
cpuid(uint32_t leaf, uint32_t sub)
{
	struct cpuid r;

	__asm__ volatile("cpuid"
	                 : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d)
	                 : "a"(leaf), "c"(sub));
	return r;
}

static inline uint32_t
mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void
mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

/* The registers trap_common (vectors.S) pushes, lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* serial.c: COM1, polled, output only. */
void ser_init(void);
void ser_write(const char *s, size_t n);
void ser_puts(const char *s);
void ser_hex(uint64_t v);
void ser_dec(uint64_t v);

/* kmain.c */
void kmain(uint32_t magic, uint32_t mbi);
void panic(const char *why) __attribute__((noreturn));

/* desc.c: GDT, TSS, IDT. */
void desc_init(void);

/* paging.c: the final page tables; *alloc is a bump pointer in free RAM
 * for the page directories RAM above 4 GiB needs. */
void pg_init(const struct mem_range *ram, int nram, uint64_t *alloc);

/* tsc.c: TSC frequency from CPUID or the PIT, and how sure we are (ppm). */
uint64_t tsc_calibrate(int *from, uint32_t *ppm);

/* lapic.c: LAPIC on, PIC off, timer in TSC-deadline or one-shot mode. */
void lapic_init(struct boot_info *bi);

/* trap.c */
void trap_fatal(struct trap_frame *f) __attribute__((noreturn));

/* syscall.S, vectors.S, boot.S */
void enter_user(void (*entry)(void), void *stack) __attribute__((noreturn));
extern char ud_entry[], timer_entry[], spurious_entry[];
extern void *exc_table[32];
extern uint64_t gdt[];
extern char __image_start[], __user_start[], __user_end[], __bss_end[];

#endif
