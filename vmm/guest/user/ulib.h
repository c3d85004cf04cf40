/*
 * ulib.h - ring 3's little library: system calls, time, output lines.
 *
 * Everything here runs at CPL 3, which PVM runs natively: formatting,
 * arithmetic and `rdtsc` are free, a system call (`ud2`) is the expensive
 * thing.  So lines are built in a buffer and go out in one call, usually
 * the very call that also goes to sleep.
 */
#ifndef EBB_GUEST_ULIB_H
#define EBB_GUEST_ULIB_H

#include <stddef.h>
#include <stdint.h>

#include "../guest.h"

/* One ud2 system call; see guest.h for the register convention. */
static inline void
sys_call(uint64_t nr, uint64_t arg, const void *buf, uint64_t len)
{
	uint64_t rax = (uint64_t)SYS_MAGIC << 32 | nr;

	__asm__ volatile("ud2"
	                 : "+a"(rax), "+D"(arg), "+S"(buf), "+c"(len)
	                 :
	                 : "rdx", "r11", "memory");
}

/* Native in ring 3 even under PVM (CR4.TSD is clear). */
static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* time.c */
void time_init(void);
uint64_t tsc_to_ns(uint64_t ticks);
uint64_t ms_to_tsc(uint64_t ms);
/* Sleep until the TSC reaches `until`, sending the pending output first. */
void sleep_until(uint64_t until);

/* out.c: the output line buffer. */
void out_str(const char *s);
void out_u64(uint64_t v);
void out_hex(uint64_t v);
void out_flush(void);
/* Print "ERROR <why>" and stop the guest for good. */
void die(const char *why, const char *what) __attribute__((noreturn));
/* The bytes waiting to go out, handed to the next SYS_WAIT_*. */
const char *out_pending(size_t *len);
void out_sent(void);

/* mem.c: what the compiler may call even in freestanding code. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif
